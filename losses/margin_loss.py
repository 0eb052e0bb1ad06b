"""Margin loss with distance-weighted or uniform sampling (Wu et al., "Sampling Matters", ICCV 2017)."""

from __future__ import annotations

import keras
import tensorflow as tf

from losses.base import MetricLoss, l2_normalize
from losses.distances import label_masks, pairwise_distances
from losses.miners import check_sampling, distance_weighted_probabilities, sample_negatives, uniform_probabilities


class MarginLoss(MetricLoss):
    """[alpha + y (D - beta)]+ with y = +1 for positive and -1 for negative pairs, D the
    Euclidean distance between unit embeddings.

    Pairs as in the authors' code: every (anchor, positive) pair of the batch, and for each one
    negative of the anchor drawn by ``sampling``: ``distance_weighted`` (the paper's) or
    ``uniform`` (any negative of the anchor equally likely, the paper's baseline). The sum over pairs is divided by
    the number of pairs with non-zero loss (the authors' normalisation; 1 if there are none).
    ``learnable_beta``: beta becomes a trainable per-class vector (the paper's beta(class); a
    trainable scalar when ``num_classes`` is not given), read at the anchor's class, with the
    regulariser ``nu * sum(beta)`` added to the numerator. Batches of 5 images per identity.
    """

    def __init__(
        self,
        embedding_size: int,
        num_classes: int | None = None,
        alpha: float = 0.2,
        beta: float = 1.2,
        learnable_beta: bool = False,
        nu: float = 0.0,
        cutoff: float = 0.5,
        nonzero_loss_cutoff: float = 1.4,
        sampling: str = "distance_weighted",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_classes is not None and int(num_classes) < 1:
            raise ValueError(f"MarginLoss: num_classes must be positive, got {num_classes}")
        self.embedding_size = int(embedding_size)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.alpha, self.beta, self.nu = float(alpha), float(beta), float(nu)
        self.learnable_beta = bool(learnable_beta)
        self.cutoff, self.nonzero_loss_cutoff = float(cutoff), float(nonzero_loss_cutoff)
        self.sampling = check_sampling(sampling, type(self).__name__)
        self.seed = seed
        if self.learnable_beta:
            shape = (self.num_classes,) if self.num_classes else ()
            self.betas = self.add_weight(shape=shape, name="beta", initializer=keras.initializers.Constant(self.beta))

    def beta_for(self, labels: tf.Tensor, dtype) -> tf.Tensor:
        """beta per anchor, [B]."""
        if not self.learnable_beta:
            return tf.fill(tf.shape(labels), tf.constant(self.beta, dtype))
        betas = tf.cast(self.betas, dtype)
        if self.num_classes:
            return tf.gather(betas, labels)
        return tf.broadcast_to(betas, tf.shape(labels))

    def compute(self, embeddings, labels, step, training):
        d = pairwise_distances(l2_normalize(embeddings))
        if self.sampling == "uniform":
            probabilities = uniform_probabilities(labels, d.dtype)
        else:
            probabilities = distance_weighted_probabilities(
                tf.stop_gradient(d), labels, self.embedding_size, self.cutoff, self.nonzero_loss_cutoff
            )
        negative_index = sample_negatives(probabilities, seed=self.seed)
        return self.loss_for_negatives(d, labels, negative_index)

    def loss_for_negatives(self, d, labels, negative_index):
        """The loss from the [B, B] distances between unit embeddings once negatives are chosen:
        ``negative_index[a, p]`` is the negative paired with the (anchor a, positive p) pair
        (entries for non-positive pairs are ignored)."""
        positive, negative = label_masks(labels)
        pair_valid = tf.logical_and(positive, tf.reduce_any(negative, axis=-1, keepdims=True))
        beta = self.beta_for(labels, d.dtype)[:, None]  # [B, 1], the anchor's beta
        d_an = tf.gather(d, negative_index, axis=1, batch_dims=1)
        valid = tf.cast(pair_valid, d.dtype)
        positive_loss = tf.nn.relu(self.alpha + (d - beta)) * valid
        negative_loss = tf.nn.relu(self.alpha - (d_an - beta)) * valid
        active = tf.reduce_sum(tf.cast(positive_loss > 0, d.dtype) + tf.cast(negative_loss > 0, d.dtype))
        normaliser = tf.maximum(active, 1.0)
        regulariser = self.nu * tf.reduce_sum(beta * valid)
        numerator = tf.reduce_sum(positive_loss + negative_loss) + regulariser
        return {
            "loss": numerator / normaliser,
            "positive": tf.reduce_sum(positive_loss) / normaliser,
            "negative": tf.reduce_sum(negative_loss) / normaliser,
        }
