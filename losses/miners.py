"""Which pairs and triplets a metric loss uses, from a distance matrix and the labels.

Pure functions of (distances, labels), so each choice can be checked on a hand-made matrix.
Selection is not differentiated: only the chosen distances carry gradient.
"""

from __future__ import annotations

import tensorflow as tf

from common.errors import UserValueError
from losses.distances import label_masks

# What semi_hard_negatives takes for an (anchor, positive) pair without a semi-hard negative.
FALLBACKS = ("easiest", "hardest")
# How the margin loss draws the negative of each (anchor, positive) pair: Wu et al.'s
# distance-weighted sampling, or uniformly among the anchor's negatives (their uniform baseline).
SAMPLINGS = ("distance_weighted", "uniform")


def check_fallback(fallback: str, owner: str = "semi_hard_negatives") -> str:
    """``fallback`` itself if it is one of FALLBACKS; the loss calls it in its constructor so a
    config typo fails when the loss is built, not at the first traced step."""
    if fallback not in FALLBACKS:
        raise UserValueError(f"{owner}: fallback must be one of {FALLBACKS}, got {fallback!r}")
    return fallback


def check_sampling(sampling: str, owner: str = "MarginLoss") -> str:
    """``sampling`` itself if it is one of SAMPLINGS (checked when the loss is built)."""
    if sampling not in SAMPLINGS:
        raise UserValueError(f"{owner}: sampling must be one of {SAMPLINGS}, got {sampling!r}")
    return sampling


def semi_hard_negatives(
    distances: tf.Tensor, labels: tf.Tensor, fallback: str = "easiest"
) -> tuple[tf.Tensor, tf.Tensor]:
    """FaceNet's online semi-hard negative for every (anchor a, positive p) pair.

    Returns ``negative`` [B, B] (index n for pair (a, p)) and ``valid`` [B, B] (p is a positive of
    a and a has at least one negative). The negative is the closest one farther than the positive,
    d(a, n) > d(a, p). Where none is, ``easiest`` takes a's farthest negative, as FaceNet's
    TensorFlow code does (tf.contrib / tf-addons ``triplet_semihard_loss``): such a pair gets a
    mild push instead of the hardest negative's large one, which FaceNet found can collapse the
    model early; ``hardest`` takes a's closest negative. Uses a [B, B, B] tensor.
    """
    check_fallback(fallback)
    positive, negative = label_masks(labels)
    big = tf.reduce_max(distances) + 1.0
    # d_an[a, p, n] = d(a, n), masked to negatives of a.
    d_an = tf.where(negative[:, None, :], distances[:, None, :], big)
    farther = tf.logical_and(negative[:, None, :], d_an > distances[:, :, None])
    semi_hard = tf.argmin(tf.where(farther, d_an, big), axis=-1, output_type=tf.int32)
    if fallback == "easiest":
        other = tf.argmax(tf.where(negative, distances, -1.0), axis=-1, output_type=tf.int32)
    else:
        other = tf.argmin(tf.where(negative, distances, big), axis=-1, output_type=tf.int32)
    chosen = tf.where(tf.reduce_any(farther, axis=-1), semi_hard, other[:, None])
    has_negative = tf.reduce_any(negative, axis=-1, keepdims=True)
    return chosen, tf.logical_and(positive, has_negative)


def batch_hard(distances: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Hermans et al.'s batch-hard choice per anchor: the farthest positive and closest negative.

    Returns (hardest_positive [B], hardest_negative [B], valid [B]); valid anchors have both.
    """
    positive, negative = label_masks(labels)
    big = tf.reduce_max(distances) + 1.0
    hardest_positive = tf.argmax(tf.where(positive, distances, -1.0), axis=-1, output_type=tf.int32)
    hardest_negative = tf.argmin(tf.where(negative, distances, big), axis=-1, output_type=tf.int32)
    valid = tf.logical_and(tf.reduce_any(positive, axis=-1), tf.reduce_any(negative, axis=-1))
    return hardest_positive, hardest_negative, valid


def distance_weighted_probabilities(
    distances: tf.Tensor, labels: tf.Tensor, embedding_size: int, cutoff: float = 0.5, nonzero_loss_cutoff: float = 1.4
) -> tf.Tensor:
    """Wu et al.'s sampling distribution over negatives, [B, B] rows summing to 1.

    For unit vectors in R^n the pairwise distance density is q(d) ~ d^(n-2) (1 - d^2/4)^((n-3)/2);
    weighting by 1/q(d) (with d clipped below at ``cutoff``) spreads the chosen negatives over all
    distances. Negatives at d >= ``nonzero_loss_cutoff`` get weight 0 (they contribute no loss).
    Where an anchor has no negative inside the cutoff, the row is uniform over its negatives;
    anchors without any negative get an all-zero row.
    """
    n = float(embedding_size)
    _, negative = label_masks(labels)
    # Clip into [cutoff, nonzero_loss_cutoff] so both logs stay finite (d -> 2 would give log 0).
    d = tf.clip_by_value(distances, cutoff, nonzero_loss_cutoff)
    log_weights = (2.0 - n) * tf.math.log(d) - (n - 3.0) / 2.0 * tf.math.log(1.0 - 0.25 * d * d)
    allowed = tf.logical_and(negative, distances < nonzero_loss_cutoff)
    excluded = tf.fill(tf.shape(log_weights), tf.constant(-1e30, log_weights.dtype))
    log_weights = tf.where(allowed, log_weights, excluded)
    weights = tf.exp(log_weights - tf.reduce_max(log_weights, axis=-1, keepdims=True))
    weights = tf.where(allowed, weights, tf.zeros_like(weights))
    uniform = tf.cast(negative, distances.dtype)
    weights = tf.where(tf.reduce_any(allowed, axis=-1, keepdims=True), weights, uniform)
    return tf.math.divide_no_nan(weights, tf.reduce_sum(weights, axis=-1, keepdims=True))


def uniform_probabilities(labels: tf.Tensor, dtype=tf.float32) -> tf.Tensor:
    """Every negative of an anchor equally likely, [B, B] rows summing to 1 (Wu et al.'s uniform
    baseline); anchors without any negative get an all-zero row."""
    _, negative = label_masks(labels)
    weights = tf.cast(negative, dtype)
    return tf.math.divide_no_nan(weights, tf.reduce_sum(weights, axis=-1, keepdims=True))


def sample_negatives(probabilities: tf.Tensor, seed=None) -> tf.Tensor:
    """For each (anchor a, positive p) pair one negative drawn from row a: [B, B] indices."""
    batch = tf.shape(probabilities)[0]
    # A zero row (no negative at all) gets uniform logits; such pairs are masked out by the caller.
    logits = tf.math.log(tf.where(probabilities > 0, probabilities, tf.zeros_like(probabilities) + 1e-30))
    return tf.random.categorical(tf.cast(logits, tf.float32), batch, dtype=tf.int32, seed=seed)
