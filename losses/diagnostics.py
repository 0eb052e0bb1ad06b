"""Scalar statistics a loss head reports about a batch for TensorBoard (`train/*`); they watch the
training, no loss uses them."""

from __future__ import annotations

import math

import tensorflow as tf

CENTRE_ANGLE = "centre_angle_deg"


def angle_to_class_weights(embeddings, labels, kernel) -> tf.Tensor:
    """Mean angle in degrees between each embedding and its class's weight vector (a column of
    `kernel`, [E, C]): how far the features still are from the centres the head pulls them to."""
    unit = tf.math.l2_normalize(embeddings, axis=-1)
    centres = tf.math.l2_normalize(tf.transpose(tf.cast(kernel, unit.dtype)), axis=-1)
    return _mean_angle_deg(unit, tf.gather(centres, labels))


def angle_to_batch_centres(embeddings, labels) -> tf.Tensor:
    """Mean angle in degrees between each embedding and the mean direction of its class in the
    batch (metric losses have no class weights)."""
    unit = tf.math.l2_normalize(embeddings, axis=-1)
    same_class = tf.cast(tf.equal(labels[:, None], labels[None, :]), unit.dtype)
    # The sum of a class's unit vectors points where their mean does; a [B, B] product instead of
    # a segment mean needs no class count, which XLA would want as a constant.
    centres = tf.math.l2_normalize(tf.matmul(same_class, unit), axis=-1)
    return _mean_angle_deg(unit, centres)


def _mean_angle_deg(unit, centres) -> tf.Tensor:
    cosines = tf.reduce_sum(unit * centres, axis=-1)
    return tf.reduce_mean(tf.acos(tf.clip_by_value(cosines, -1.0, 1.0))) * (180.0 / math.pi)
