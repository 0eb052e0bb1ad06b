"""Pairwise distances and label masks shared by the metric losses and miners."""

from __future__ import annotations

import tensorflow as tf

from losses.base import safe_sqrt


def pairwise_squared_distances(x: tf.Tensor) -> tf.Tensor:
    """[B, B] squared Euclidean distances, exactly 0 on the diagonal and never negative."""
    squared_norms = tf.reduce_sum(tf.square(x), axis=-1)
    d2 = squared_norms[:, None] - 2.0 * tf.matmul(x, x, transpose_b=True) + squared_norms[None, :]
    # Round-off can make d2 slightly negative; the diagonal is zero by definition.
    d2 = tf.maximum(d2, 0.0)
    return d2 * (1.0 - tf.eye(tf.shape(x)[0], dtype=x.dtype))


def pairwise_distances(x: tf.Tensor) -> tf.Tensor:
    """[B, B] Euclidean distances with a finite (zero) gradient where two points coincide."""
    return safe_sqrt(pairwise_squared_distances(x))


def label_masks(labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(positive, negative) [B, B] bool masks: same label excluding i = j, and different label."""
    same = tf.equal(labels[:, None], labels[None, :])
    not_self = tf.logical_not(tf.eye(tf.shape(labels)[0], dtype=tf.bool))
    return tf.logical_and(same, not_self), tf.logical_not(same)


def masked_mean(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean of ``values`` where ``mask`` holds; 0 (with zero gradient) when nothing does."""
    weights = tf.cast(mask, values.dtype)
    total = tf.reduce_sum(tf.where(mask, values, tf.zeros_like(values)))
    return total / tf.maximum(tf.reduce_sum(weights), 1.0)
