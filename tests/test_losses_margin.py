"""NormFace, AM-softmax/CosFace, ArcFace and the combined margin against NumPy from the papers."""

import math

import numpy as np
import pytest
import tensorflow as tf

from losses import AMSoftmax, ArcFace, CombinedMargin, NormFace
from tests.helpers.loss_reference import (
    arcface_target,
    cosines,
    margin_head_loss,
    numerical_gradient,
    tf_loss_and_gradients,
)

B, D, C = 6, 5, 4
CASES = [
    (NormFace, dict(scale=10.0), lambda t: math.cos(t)),
    (AMSoftmax, dict(scale=30.0, margin=0.35), lambda t: math.cos(t) - 0.35),
    (ArcFace, dict(scale=64.0, margin=0.5), lambda t: arcface_target(t, 0.5)),
    (ArcFace, dict(scale=64.0, margin=0.5, easy_margin=True), lambda t: arcface_target(t, 0.5, easy_margin=True)),
    (CombinedMargin, dict(scale=64.0, m1=0.9, m2=0.4, m3=0.15), lambda t: math.cos(0.9 * t + 0.4) - 0.15),
]


def inputs(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, D)) * 3.0, rng.integers(0, C, size=B)


@pytest.mark.parametrize("cls, hparams, target", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_value_and_gradients_match_numpy(cls, hparams, target):
    layer = cls(num_classes=C, embedding_size=D, dtype="float64", **hparams)
    x, labels = inputs(2)
    w, s = layer.kernel.numpy(), hparams["scale"]

    def reference(xv, wv):
        return margin_head_loss(xv, wv, labels, target, lambda *_: np.full((B, C), s))

    loss, (gx, gw) = tf_loss_and_gradients(layer, x, labels, layer.kernel)
    assert loss == pytest.approx(reference(x, w), rel=1e-9)
    np.testing.assert_allclose(gx, numerical_gradient(lambda v: reference(v, w), x), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(gw, numerical_gradient(lambda v: reference(x, v), w), rtol=1e-5, atol=1e-8)


def test_arcface_covers_the_region_past_pi_minus_m():
    """Angles beyond pi - m use cos - m sin m; check values and gradient there."""
    layer = ArcFace(num_classes=2, embedding_size=2, margin=0.5, dtype="float64")
    for theta in (2.0, 2.9, 3.1):  # pi - 0.5 = 2.64
        cos = tf.constant([math.cos(theta)], tf.float64)
        assert float(layer.target_logit(cos)[0]) == pytest.approx(arcface_target(theta, 0.5))
    # A batch with the target angle at 2.9 rad: gradient matches the reference's.
    layer.kernel.assign(np.eye(2))
    x, labels = np.array([[math.cos(2.9), math.sin(2.9)]]), np.array([0])
    w = layer.kernel.numpy()
    reference = lambda v: margin_head_loss(
        v, w, labels, lambda t: arcface_target(t, 0.5), lambda *_: np.full((1, 2), 64.0)
    )
    loss, (gx,) = tf_loss_and_gradients(layer, x, labels)
    assert loss == pytest.approx(reference(x), rel=1e-9)
    np.testing.assert_allclose(gx, numerical_gradient(reference, x), rtol=1e-5, atol=1e-8)


def test_logits_are_scaled_cosines_without_margin():
    layer = AMSoftmax(num_classes=C, embedding_size=D, scale=30.0, margin=0.35, dtype="float64")
    x, labels = inputs(3)
    logits = layer(x, labels)["logits"].numpy()
    np.testing.assert_allclose(logits, 30.0 * cosines(x, layer.kernel.numpy()), rtol=1e-10)


def test_normface_scale_learns_and_fixed_scale_does_not():
    learnable = NormFace(num_classes=C, embedding_size=D, scale=10.0, learnable_scale=True)
    fixed = NormFace(num_classes=C, embedding_size=D, scale=10.0, learnable_scale=False)
    assert any(v is learnable.scale for v in learnable.trainable_weights)
    assert not any(v is fixed.scale for v in fixed.trainable_weights)
    x, labels = inputs(4)
    with tf.GradientTape() as tape:
        loss = learnable(tf.constant(x, tf.float32), labels)["loss"]
    assert float(tape.gradient(loss, learnable.scale)) != 0.0


def test_combined_margin_reduces_to_arcface_and_am_softmax():
    cos = tf.constant(np.linspace(-0.5, 0.99, 7))
    arc = ArcFace(num_classes=2, embedding_size=2, margin=0.3, dtype="float64")
    am = AMSoftmax(num_classes=2, embedding_size=2, margin=0.35, dtype="float64")
    as_arc = CombinedMargin(num_classes=2, embedding_size=2, m1=1.0, m2=0.3, m3=0.0, dtype="float64")
    as_am = CombinedMargin(num_classes=2, embedding_size=2, m1=1.0, m2=0.0, m3=0.35, dtype="float64")
    np.testing.assert_allclose(as_arc.target_logit(cos), arc.target_logit(cos), atol=1e-6)
    np.testing.assert_allclose(as_am.target_logit(cos), am.target_logit(cos), atol=1e-6)


def test_config_round_trip_keeps_hyperparameters():
    layer = CombinedMargin(num_classes=3, embedding_size=4, scale=32.0, m1=0.9, m2=0.4, m3=0.15)
    clone = CombinedMargin.from_config(layer.get_config())
    assert (clone.m1, clone.m2, clone.m3, float(clone.scale)) == (0.9, 0.4, 0.15, 32.0)


def test_target_logits_are_exact_at_cos_plus_minus_one():
    """The gradient guards must not bend the values at the ends of the curve."""
    cos = tf.constant([1.0, -1.0], tf.float64)
    arc = ArcFace(num_classes=2, embedding_size=2, margin=0.5, dtype="float64")
    combined = CombinedMargin(num_classes=2, embedding_size=2, dtype="float64")
    np.testing.assert_allclose(arc.target_logit(cos), [math.cos(0.5), -1 - 0.5 * math.sin(0.5)], atol=1e-12)
    np.testing.assert_allclose(
        combined.target_logit(cos), [math.cos(0.3) - 0.2, math.cos(math.pi + 0.3) - 0.2], atol=1e-12
    )
