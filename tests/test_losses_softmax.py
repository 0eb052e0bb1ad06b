"""Softmax head: value and gradients against a NumPy cross-entropy of x W + b."""

import numpy as np
import pytest

from losses import SoftmaxLoss
from tests.helpers.loss_reference import cross_entropy, numerical_gradient, tf_loss_and_gradients


def test_softmax_value_and_gradients_match_numpy():
    rng = np.random.default_rng(0)
    layer = SoftmaxLoss(num_classes=4, embedding_size=5, dtype="float64")
    layer.bias.assign(rng.normal(size=4))
    x, labels = rng.normal(size=(6, 5)), np.array([0, 1, 2, 3, 1, 0])
    w, b = layer.kernel.numpy(), layer.bias.numpy()

    loss, (gx, gw, gb) = tf_loss_and_gradients(layer, x, labels, layer.kernel, layer.bias)
    assert loss == pytest.approx(cross_entropy(x @ w + b, labels), rel=1e-10)
    np.testing.assert_allclose(
        gx, numerical_gradient(lambda v: cross_entropy(v @ w + b, labels), x), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(
        gw, numerical_gradient(lambda v: cross_entropy(x @ v + b, labels), w), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(
        gb, numerical_gradient(lambda v: cross_entropy(x @ w + v, labels), b), rtol=1e-6, atol=1e-9
    )


def test_softmax_exposes_logits_for_accuracy():
    layer = SoftmaxLoss(num_classes=3, embedding_size=2, dtype="float64")
    x = np.array([[1.0, -2.0]])
    out = layer(x, np.array([2]))
    np.testing.assert_allclose(out["logits"].numpy(), x @ layer.kernel.numpy() + layer.bias.numpy())


def test_softmax_rejects_bad_sizes():
    with pytest.raises(ValueError, match="num_classes"):
        SoftmaxLoss(num_classes=1, embedding_size=4)
