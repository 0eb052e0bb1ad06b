"""Center loss (Wen et al., ECCV 2016): softmax plus a pull of each feature towards its class centre."""

from __future__ import annotations

import tensorflow as tf

from losses.base import sparse_cross_entropy
from losses.softmax import SoftmaxLoss


class CenterLoss(SoftmaxLoss):
    """L = L_softmax + center_weight * L_center, L_center = mean_i 1/2 ||x_i - c_{y_i}||^2.

    The paper sums 1/2 ||x - c||^2 over the mini-batch; we average it so ``center_weight``
    (the paper's lambda) does not depend on the batch size. Centres are non-trainable state,
    updated after the loss is computed with the paper's rule (eq. 4):
    c_j <- c_j - alpha * sum_{i: y_i = j} (c_j - x_i) / (1 + n_j), only when called with
    ``training=True`` (the training step does; the default call is inference).
    Features are used raw, as in the paper. Parts reported: ``softmax`` and ``center``.
    """

    def __init__(
        self, num_classes: int, embedding_size: int, center_weight: float = 0.003, alpha: float = 0.5, **kwargs
    ):
        super().__init__(num_classes, embedding_size, **kwargs)
        self.center_weight = float(center_weight)
        self.alpha = float(alpha)
        self.centers = self.add_weight(
            shape=(self.num_classes, self.embedding_size),
            initializer="zeros",
            trainable=False,
            name="centers",
            # Under a multi-replica strategy, average the replicas' updates.
            aggregation="mean",
        )

    def compute(self, embeddings, labels, step, training):
        logits = self.logits_of(embeddings)
        softmax_part = sparse_cross_entropy(labels, logits)
        # Centres are state, not parameters: no gradient reaches them through the loss.
        own_centers = tf.stop_gradient(tf.gather(self.centers, labels))
        center_part = 0.5 * tf.reduce_mean(tf.reduce_sum(tf.square(embeddings - own_centers), axis=-1))
        loss = softmax_part + self.center_weight * center_part
        with tf.control_dependencies([loss]):
            self._update_centers(embeddings, labels, own_centers, training)
        return {"loss": loss, "logits": logits, "softmax": softmax_part, "center": center_part}

    def _update_centers(self, embeddings, labels, own_centers, training):
        """Paper eq. 4; ``training`` may be a Python bool or a scalar tf.bool tensor. None counts
        as inference: only an explicit training call may move the centres."""
        if training is None or training is False:
            return
        diffs = tf.stop_gradient(own_centers - embeddings)
        count = tf.math.unsorted_segment_sum(tf.ones_like(labels, dtype=diffs.dtype), labels, self.num_classes)
        summed = tf.math.unsorted_segment_sum(diffs, labels, self.num_classes)
        delta = summed / (1.0 + count)[:, None]
        gate = 1.0 if training is True else tf.cast(training, delta.dtype)
        self.centers.assign_sub(gate * self.alpha * delta)
