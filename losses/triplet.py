"""Triplet losses: FaceNet's semi-hard mining and Hermans et al.'s batch-hard / soft margin."""

from __future__ import annotations

import tensorflow as tf

from losses.base import MetricLoss, l2_normalize
from losses.distances import masked_mean, pairwise_distances, pairwise_squared_distances
from losses.miners import batch_hard, check_fallback, semi_hard_negatives


class SemiHardTripletLoss(MetricLoss):
    """FaceNet (Schroff et al., 2015): [d(a,p)^2 - d(a,n)^2 + margin]+ on unit embeddings, for
    every (anchor, positive) pair of the batch with its online semi-hard negative
    (``miners.semi_hard_negatives``), averaged over those pairs. ``fallback`` is the negative of
    a pair that has no semi-hard one: ``easiest`` (the farthest, FaceNet's TensorFlow code) or
    ``hardest`` (the closest). Part: ``fraction_positive`` (share of triplets with non-zero
    loss)."""

    def __init__(self, margin: float = 0.2, fallback: str = "easiest", **kwargs):
        super().__init__(**kwargs)
        self.margin = float(margin)
        self.fallback = check_fallback(fallback, type(self).__name__)

    def compute(self, embeddings, labels, step, training):
        d2 = pairwise_squared_distances(l2_normalize(embeddings))
        negative, valid = semi_hard_negatives(tf.stop_gradient(d2), labels, self.fallback)
        d2_an = tf.gather(d2, negative, axis=1, batch_dims=1)  # [a, p] -> d(a, n(a, p))^2
        per_triplet = tf.nn.relu(d2 - d2_an + self.margin)
        return {
            "loss": masked_mean(per_triplet, valid),
            "fraction_positive": masked_mean(tf.cast(per_triplet > 0, d2.dtype), valid),
        }


class BatchHardTripletLoss(MetricLoss):
    """Batch hard (Hermans et al., 2017): per anchor [m + d(a, p*) - d(a, n*)]+ with p* the
    farthest positive and n* the closest negative, non-squared Euclidean distances on the raw
    embeddings (the paper does not normalise), averaged over anchors. ``soft_margin`` replaces
    [x + m]+ by softplus(x) (the paper's soft-margin variant; ``margin`` is then unused).
    ``squared`` uses squared distances instead, which the paper found to train worse; the chosen
    p* and n* are the same either way."""

    def __init__(
        self, margin: float = 0.2, soft_margin: bool = False, normalize: bool = False, squared: bool = False, **kwargs
    ):
        super().__init__(**kwargs)
        self.margin = float(margin)
        self.soft_margin = bool(soft_margin)
        self.normalize = bool(normalize)
        self.squared = bool(squared)

    def compute(self, embeddings, labels, step, training):
        x = l2_normalize(embeddings) if self.normalize else embeddings
        d = pairwise_squared_distances(x) if self.squared else pairwise_distances(x)
        hardest_positive, hardest_negative, valid = batch_hard(tf.stop_gradient(d), labels)
        gap = tf.gather(d, hardest_positive, axis=1, batch_dims=1) - tf.gather(
            d, hardest_negative, axis=1, batch_dims=1
        )
        per_anchor = tf.nn.softplus(gap) if self.soft_margin else tf.nn.relu(gap + self.margin)
        return {"loss": masked_mean(per_anchor, valid)}


class SoftMarginTripletLoss(BatchHardTripletLoss):
    """Batch hard with the soft margin softplus(d(a, p*) - d(a, n*)) (Hermans et al., 2017)."""

    def __init__(self, normalize: bool = False, squared: bool = False, **kwargs):
        super().__init__(soft_margin=True, normalize=normalize, squared=squared, **kwargs)
