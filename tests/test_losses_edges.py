"""Every loss driven to its numerical edges: cos = +-1, zero-norm embeddings, coincident points,
huge scales. Values and gradients (embeddings and trainable weights) must stay finite."""

import numpy as np
import pytest
import tensorflow as tf

import losses

D, C = 4, 3
LABELS = np.array([0, 0, 1, 1, 2, 2])


def edge_batches(kernel):
    """Embeddings that hit the edges for a head whose class weights are ``kernel`` columns."""
    w = kernel.T  # [C, D]
    on_target = w[LABELS] * 5.0  # cos = +1 with the own class
    opposite = -w[LABELS] * 5.0  # cos = -1 with the own class
    zeros = np.zeros((len(LABELS), D))
    huge = w[LABELS] * 1e6
    mixed = np.concatenate([on_target[:2], opposite[2:4], zeros[4:]])
    return {"cos=+1": on_target, "cos=-1": opposite, "zero": zeros, "huge": huge, "mixed": mixed}


def assert_finite_everywhere(layer, x, step=1):
    x = tf.constant(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer(x, tf.constant(LABELS), step=step)
    grads = tape.gradient(out["loss"], [x, *layer.trainable_weights])
    for key, value in out.items():
        assert np.isfinite(value.numpy()).all(), f"{key} not finite"
    for g in grads:
        if g is not None:
            assert np.isfinite(tf.convert_to_tensor(g).numpy()).all(), "gradient not finite"


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_finite_at_the_edges(name):
    layer = losses.build(name, num_classes=C, embedding_size=D)
    kernel = layer.kernel.numpy() if hasattr(layer, "kernel") else np.eye(D, C)
    for x in edge_batches(kernel).values():
        for step in (0, 10**7):
            assert_finite_everywhere(layer, x, step=step)


@pytest.mark.parametrize("name", ["normface", "am_softmax", "arcface", "combined"])
def test_finite_with_a_very_large_scale(name):
    layer = losses.build(name, num_classes=C, embedding_size=D, scale=1e4)
    for x in edge_batches(layer.kernel.numpy()).values():
        assert_finite_everywhere(layer, x)


def test_zero_class_weight_column_is_safe():
    for name in ("sphereface", "lsoftmax", "arcface"):
        layer = losses.build(name, num_classes=C, embedding_size=D)
        layer.kernel.assign(np.zeros((D, C), np.float32))
        assert_finite_everywhere(layer, np.random.default_rng(0).normal(size=(6, D)))
