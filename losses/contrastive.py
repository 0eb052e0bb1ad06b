"""Contrastive verification loss (DeepID2, Sun et al. 2014) over all pairs formed in the batch."""

from __future__ import annotations

import tensorflow as tf

from losses.base import MetricLoss, l2_normalize
from losses.distances import label_masks, masked_mean, pairwise_distances


class ContrastiveLoss(MetricLoss):
    """Every pair i < j of the batch: 1/2 d^2 if same identity, 1/2 max(0, m - d)^2 otherwise,
    d the Euclidean distance; the loss is the mean over pairs. DeepID2 uses raw features
    (``normalize=False``); ``margin`` = 1.0 is our default (the paper gives no value).
    Parts: ``positive`` and ``negative`` (mean over their pairs)."""

    def __init__(self, margin: float = 1.0, normalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.margin = float(margin)
        self.normalize = bool(normalize)

    def compute(self, embeddings, labels, step, training):
        x = l2_normalize(embeddings) if self.normalize else embeddings
        d = pairwise_distances(x)
        positive, negative = label_masks(labels)
        # Each unordered pair once: the upper triangle.
        index = tf.range(tf.shape(labels)[0])
        upper = index[:, None] < index[None, :]
        positive, negative = tf.logical_and(positive, upper), tf.logical_and(negative, upper)
        pull = 0.5 * tf.square(d)
        push = 0.5 * tf.square(tf.nn.relu(self.margin - d))
        per_pair = tf.where(positive, pull, push)
        loss = masked_mean(per_pair, tf.logical_or(positive, negative))
        return {"loss": loss, "positive": masked_mean(pull, positive), "negative": masked_mean(push, negative)}
