"""Semi-hard (FaceNet), batch-hard and soft-margin (Hermans et al.) triplet losses vs NumPy."""
import numpy as np
import pytest

from losses import BatchHardTripletLoss, SemiHardTripletLoss, SoftMarginTripletLoss
from tests.test_losses_reference import (batch_hard_triplet, numerical_gradient,
                                         semi_hard_triplet, tf_loss_and_gradients)

LABELS = np.array([0, 0, 0, 1, 1, 1, 2, 2])


def random_batch(seed, scale=1.0):
    return np.random.default_rng(seed).normal(size=(len(LABELS), 6)) * scale


@pytest.mark.parametrize("seed", [0, 1])
def test_semi_hard_value_and_gradient_match_numpy(seed):
    layer = SemiHardTripletLoss(margin=0.2, dtype="float64")
    x = random_batch(seed)
    reference = lambda v: semi_hard_triplet(v, LABELS, 0.2)
    loss, (gx,) = tf_loss_and_gradients(layer, x, LABELS)
    assert loss == pytest.approx(reference(x), rel=1e-10)
    np.testing.assert_allclose(gx, numerical_gradient(reference, x), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("layer, soft", [
    (BatchHardTripletLoss(margin=0.3, dtype="float64"), False),
    (SoftMarginTripletLoss(dtype="float64"), True),
], ids=["batch_hard", "soft_margin"])
def test_batch_hard_value_and_gradient_match_numpy(layer, soft):
    x = random_batch(2, scale=0.4)
    reference = lambda v: batch_hard_triplet(v, LABELS, 0.3, soft=soft)
    loss, (gx,) = tf_loss_and_gradients(layer, x, LABELS)
    assert loss > 0
    assert loss == pytest.approx(reference(x), rel=1e-10)
    np.testing.assert_allclose(gx, numerical_gradient(reference, x), rtol=1e-5, atol=1e-8)


def test_triplet_hand_worked_on_the_unit_circle():
    # a = (1, 0), p at 90 deg (d^2 = 2), negatives at 60 deg (d^2 = 1) and 180 deg (d^2 = 4).
    x = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, np.sqrt(3) / 2], [-1.0, 0.0]])
    labels = np.array([0, 0, 1, 2])
    out = SemiHardTripletLoss(margin=0.2, dtype="float64")(x * 3.0, labels)  # scale is normalised
    # (a=0, p=1): d^2 = 2, semi-hard negative is 3 (d^2 = 4): [2 - 4 + .2]+ = 0.
    # (a=1, p=0): d^2 = 2; d^2(1, 2) = 2 - sqrt(3) ~ 0.268, d^2(1, 3) = 2: none farther than 2,
    # so the hardest, 2: 2 - 0.268 + 0.2.
    assert float(out["loss"]) == pytest.approx((0 + 2 - (2 - np.sqrt(3)) + 0.2) / 2)
    assert float(out["fraction_positive"]) == pytest.approx(0.5)


def test_batch_without_positives_gives_zero_loss_not_nan():
    x = random_batch(3)[:3]
    for layer in (SemiHardTripletLoss(), BatchHardTripletLoss(), SoftMarginTripletLoss()):
        assert float(layer(x.astype(np.float32), np.array([0, 1, 2]))["loss"]) == 0.0
