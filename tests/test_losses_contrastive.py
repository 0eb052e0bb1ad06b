"""Contrastive (DeepID2) loss over all in-batch pairs against a NumPy pair loop."""

import numpy as np
import pytest

from losses import ContrastiveLoss
from tests.helpers.loss_reference import contrastive, numerical_gradient, tf_loss_and_gradients, unit


@pytest.mark.parametrize("normalize", [False, True])
def test_value_and_gradient_match_numpy(normalize):
    rng = np.random.default_rng(3)
    x, labels = rng.normal(size=(8, 4)) * 0.6, np.array([0, 0, 1, 1, 2, 2, 3, 3])
    layer = ContrastiveLoss(margin=1.5, normalize=normalize, dtype="float64")
    prep = unit if normalize else (lambda v: v)
    reference = lambda v: contrastive(prep(v), labels, 1.5)
    loss, (gx,) = tf_loss_and_gradients(layer, x, labels)
    assert loss == pytest.approx(reference(x), rel=1e-10)
    np.testing.assert_allclose(gx, numerical_gradient(reference, x), rtol=1e-6, atol=1e-9)


def test_hand_worked_pairs_and_parts():
    # 1-D points: 0 and 1 same identity (d = 1), 2 different (d = 0.5 and 1.5 from them).
    x = np.array([[0.0], [1.0], [0.5]])
    out = ContrastiveLoss(margin=1.0, dtype="float64")(x, np.array([0, 0, 1]))
    # pairs: (0,1) 0.5*1 = 0.5; (0,2) 0.5*(1-0.5)^2 = 0.125; (1,2) 0.5*(1-0.5)^2 = 0.125.
    assert float(out["loss"]) == pytest.approx((0.5 + 0.125 + 0.125) / 3)
    assert float(out["positive"]) == pytest.approx(0.5)
    assert float(out["negative"]) == pytest.approx(0.125)
    assert ContrastiveLoss.needs_pk_batches
