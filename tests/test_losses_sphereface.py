"""SphereFace (A-softmax) and L-softmax against NumPy from psi(theta) written with angles."""

import math

import numpy as np
import pytest
import tensorflow as tf

from losses import LSoftmax, SphereFace
from tests.helpers.loss_reference import (
    margin_head_loss,
    numerical_gradient,
    sphereface_lambda,
    sphereface_psi,
    sphereface_target,
    tf_loss_and_gradients,
)

B, D, C = 6, 5, 4


def feature_norm_scale(x, w):
    return np.repeat(np.linalg.norm(x, axis=1, keepdims=True), w.shape[1], axis=1)


def weight_and_feature_norm_scale(x, w):
    return np.linalg.norm(x, axis=1, keepdims=True) * np.linalg.norm(w, axis=0, keepdims=True)


@pytest.mark.parametrize("cls, scale_fn", [(SphereFace, feature_norm_scale), (LSoftmax, weight_and_feature_norm_scale)])
@pytest.mark.parametrize("step", [0, 200, 100000])
def test_value_and_gradients_match_numpy(cls, scale_fn, step):
    rng = np.random.default_rng(step)
    layer = cls(num_classes=C, embedding_size=D, dtype="float64")
    # Spread the target angles over all four psi intervals.
    x, labels = rng.normal(size=(B, D)) * 2.0, rng.integers(0, C, size=B)
    w = layer.kernel.numpy()
    lam = sphereface_lambda(step)

    def reference(xv, wv):
        return margin_head_loss(xv, wv, labels, lambda t: sphereface_target(t, 4, lam), scale_fn)

    loss, (gx, gw) = tf_loss_and_gradients(layer, x, labels, layer.kernel, step=step)
    assert loss == pytest.approx(reference(x, w), rel=1e-9)
    np.testing.assert_allclose(gx, numerical_gradient(lambda v: reference(v, w), x), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(gw, numerical_gradient(lambda v: reference(x, v), w), rtol=1e-5, atol=1e-8)


def test_psi_matches_angle_formula_in_every_interval():
    layer = SphereFace(num_classes=2, embedding_size=2, lambda_base=0.0, lambda_min=0.0, dtype="float64")
    thetas = np.linspace(0.0, math.pi, 37)
    values = layer.target_logit(tf.constant(np.cos(thetas)), step=0).numpy()
    np.testing.assert_allclose(values, [sphereface_psi(t, 4) for t in thetas], atol=1e-9)


def test_lambda_schedule_and_missing_step():
    layer = SphereFace(num_classes=2, embedding_size=2)
    for step in (0, 10, 1000, 10**6):
        assert float(layer.lambda_at(step)) == pytest.approx(sphereface_lambda(step), rel=1e-6)
    assert float(layer.lambda_at(tf.constant(10))) == pytest.approx(1000 / 2.2, rel=1e-6)
    with pytest.raises(ValueError, match="step"):
        layer(np.ones((1, 2), np.float32), np.array([0]))


def test_margin_must_be_a_positive_integer():
    with pytest.raises(ValueError, match="margin"):
        SphereFace(num_classes=2, embedding_size=2, margin=2.5)


def test_logits_are_feature_norm_times_cos():
    layer = SphereFace(num_classes=C, embedding_size=D, dtype="float64")
    x = np.random.default_rng(5).normal(size=(3, D))
    w = layer.kernel.numpy()
    expected = np.linalg.norm(x, axis=1, keepdims=True) * (
        (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (w / np.linalg.norm(w, axis=0))
    )
    np.testing.assert_allclose(layer(x, np.array([0, 1, 2]), step=0)["logits"], expected, rtol=1e-10)


@pytest.mark.parametrize(
    "hparams",
    [
        {},
        {"lambda_gamma": 5.0},
        {"lambda_base": 100.0, "lambda_power": 2.0},
        {"lambda_base": 5.0},
        {"lambda_min": 2.5, "lambda_gamma": 0.5},
    ],
)
def test_lambda_floor_is_the_first_step_of_the_numpy_schedule_at_its_floor(hparams):
    floor, step = SphereFace.lambda_floor(hparams)
    names = {"lambda_base": "base", "lambda_gamma": "gamma", "lambda_power": "power", "lambda_min": "lambda_min"}
    schedule = [sphereface_lambda(s, **{names[k]: v for k, v in hparams.items()}) for s in range(5000)]
    first = next(s for s, value in enumerate(schedule) if value <= schedule[-1])
    assert (floor, step) == (pytest.approx(schedule[-1]), first)
    assert SphereFace.lambda_floor({}) == (5.0, 1659)  # Caffe's defaults: 1000 / (1 + 0.12 s) <= 5


def test_lambda_is_reported_beside_the_loss():
    layer = SphereFace(num_classes=C, embedding_size=D)
    x, labels = tf.random.normal((B, D), seed=1), tf.constant([0, 1, 2, 3, 0, 1])
    outputs = layer(x, labels, step=tf.constant(30))
    assert float(outputs["lambda"]) == pytest.approx(sphereface_lambda(30))
