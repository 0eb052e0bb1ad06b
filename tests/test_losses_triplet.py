"""Semi-hard (FaceNet), batch-hard and soft-margin (Hermans et al.) triplet losses vs NumPy."""

import numpy as np
import pytest

from losses import BatchHardTripletLoss, SemiHardTripletLoss, SoftMarginTripletLoss
from tests.helpers.loss_reference import (
    batch_hard_triplet,
    numerical_gradient,
    semi_hard_triplet,
    tf_loss_and_gradients,
)

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


@pytest.mark.parametrize(
    "layer, soft",
    [
        (BatchHardTripletLoss(margin=0.3, dtype="float64"), False),
        (SoftMarginTripletLoss(dtype="float64"), True),
    ],
    ids=["batch_hard", "soft_margin"],
)
def test_batch_hard_value_and_gradient_match_numpy(layer, soft):
    x = random_batch(2, scale=0.4)
    reference = lambda v: batch_hard_triplet(v, LABELS, 0.3, soft=soft)
    loss, (gx,) = tf_loss_and_gradients(layer, x, LABELS)
    assert loss > 0
    assert loss == pytest.approx(reference(x), rel=1e-10)
    np.testing.assert_allclose(gx, numerical_gradient(reference, x), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("soft", [False, True], ids=["batch_hard", "soft_margin"])
def test_batch_hard_on_squared_distances_matches_numpy(soft):
    layer = (SoftMarginTripletLoss if soft else BatchHardTripletLoss)(squared=True, dtype="float64")
    x = random_batch(5, scale=0.4)
    reference = lambda v: batch_hard_triplet(v, LABELS, 0.2, soft=soft, squared=True)
    loss, (gx,) = tf_loss_and_gradients(layer, x, LABELS)
    assert loss > 0
    assert loss == pytest.approx(reference(x), rel=1e-10)
    assert loss != pytest.approx(batch_hard_triplet(x, LABELS, 0.2, soft=soft), rel=1e-3)
    np.testing.assert_allclose(gx, numerical_gradient(reference, x), rtol=1e-5, atol=1e-8)


def test_batch_hard_squared_hand_worked():
    # Raw embeddings on a line and above it; labels 0, 0, 1, 1.
    # d(0,1) = 1, d(0,2) = 2, d(0,3) = 3, d(1,2) = 1, d(1,3) = sqrt(10), d(2,3) = sqrt(13).
    # (p*, n*) per anchor: 0: (1, 2), 1: (0, 2), 2: (3, 1), 3: (2, 0).
    x = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    labels = np.array([0, 0, 1, 1])
    squared = BatchHardTripletLoss(margin=0.2, squared=True, dtype="float64")(x, labels)
    # gaps d^2(a, p*) - d^2(a, n*): 1 - 4, 1 - 1, 13 - 1, 13 - 9
    assert float(squared["loss"]) == pytest.approx((0 + 0.2 + 12.2 + 4.2) / 4)
    plain = BatchHardTripletLoss(margin=0.2, dtype="float64")(x, labels)
    assert float(plain["loss"]) == pytest.approx((0 + 0.2 + (np.sqrt(13) - 0.8) + (np.sqrt(13) - 2.8)) / 4)
    soft = SoftMarginTripletLoss(squared=True, dtype="float64")(x, labels)
    assert float(soft["loss"]) == pytest.approx(np.mean(np.log1p(np.exp([-3.0, 0.0, 12.0, 4.0]))))


def test_squared_is_a_hyperparameter_of_both_batch_hard_losses():
    import losses

    for name in ("batch_hard", "soft_margin"):
        assert "squared" in losses.hyperparameters(name)
        assert losses.build(name, squared=True).get_config()["squared"] is True
        assert losses.build(name).squared is False


def test_triplet_hand_worked_on_the_unit_circle():
    # a = (1, 0), p at 90 deg (d^2 = 2), negatives at 60 deg (d^2 = 1) and 180 deg (d^2 = 4).
    x = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, np.sqrt(3) / 2], [-1.0, 0.0]])
    labels = np.array([0, 0, 1, 2])
    out = SemiHardTripletLoss(margin=0.2, dtype="float64")(x * 3.0, labels)  # scale is normalised
    # (a=0, p=1): d^2 = 2, semi-hard negative is 3 (d^2 = 4): [2 - 4 + .2]+ = 0.
    # (a=1, p=0): d^2 = 2; d^2(1, 2) = 2 - sqrt(3) ~ 0.268, d^2(1, 3) = 2: none farther than 2,
    # so the farthest negative, 3: 2 - 2 + 0.2.
    assert float(out["loss"]) == pytest.approx((0 + 0.2) / 2)
    assert float(out["fraction_positive"]) == pytest.approx(0.5)
    # fallback="hardest" takes the closest negative, 2, instead: 2 - 0.268 + 0.2.
    out = SemiHardTripletLoss(margin=0.2, fallback="hardest", dtype="float64")(x * 3.0, labels)
    assert float(out["loss"]) == pytest.approx((0 + 2 - (2 - np.sqrt(3)) + 0.2) / 2)


def test_batch_without_positives_gives_zero_loss_not_nan():
    x = random_batch(3)[:3]
    for layer in (SemiHardTripletLoss(), BatchHardTripletLoss(), SoftMarginTripletLoss()):
        assert float(layer(x.astype(np.float32), np.array([0, 1, 2]))["loss"]) == 0.0


def tf_addons_semihard(x, labels, margin):
    """The rule of tf-addons' triplet_semihard_loss (FaceNet's TF code), written with masked
    matrices: squared distances of the unit embeddings; per (a, p) the smallest d(a, n) above
    d(a, p), else the largest d(a, n) of the anchor; mean of [m + d(a, p) - d(a, n)]+ over the
    positive pairs. Returns the loss and, per positive pair, whether it had a semi-hard negative."""
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    d2 = np.sum((u[:, None, :] - u[None, :, :]) ** 2, axis=-1)
    same = labels[:, None] == labels[None, :]
    positives = same & ~np.eye(len(x), dtype=bool)
    negatives_of = np.where(~same, d2, np.nan)  # [a, n]
    farther = ~same[:, None, :] & (d2[:, None, :] > d2[:, :, None])  # [a, p, n]
    outside = np.where(farther, d2[:, None, :], np.inf).min(axis=-1)
    inside = np.nanmax(negatives_of, axis=1)[:, None]
    chosen = np.where(farther.any(axis=-1), outside, inside)
    per_pair = np.maximum(margin + d2 - chosen, 0.0)
    return per_pair[positives].mean(), farther.any(axis=-1)[positives]


@pytest.mark.parametrize("seed", [0, 2, 4])
def test_semi_hard_default_matches_the_tf_addons_rule_where_no_negative_is_semi_hard(seed):
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 3])
    x = np.random.default_rng(seed).normal(size=(len(labels), 3))
    expected, has_semi_hard = tf_addons_semihard(x, labels, 0.5)
    assert (~has_semi_hard).sum() >= 3 and has_semi_hard.any()  # both branches are exercised
    # The old rule (closest negative) gives another value on this batch: the test can fail.
    assert semi_hard_triplet(x, labels, 0.5, "hardest") != pytest.approx(expected, rel=1e-6)
    out = SemiHardTripletLoss(margin=0.5, dtype="float64")(x, labels)
    assert float(out["loss"]) == pytest.approx(expected, rel=1e-10)
    assert float(out["loss"]) == pytest.approx(semi_hard_triplet(x, labels, 0.5), rel=1e-10)
    hardest = SemiHardTripletLoss(margin=0.5, fallback="hardest", dtype="float64")(x, labels)
    assert float(hardest["loss"]) == pytest.approx(semi_hard_triplet(x, labels, 0.5, "hardest"), rel=1e-10)


def test_unknown_fallback_is_refused_at_build_time():
    import losses

    with pytest.raises(ValueError, match=r"fallback must be one of \('easiest', 'hardest'\)"):
        losses.build("triplet", fallback="closest")
    assert losses.build("triplet").fallback == "easiest"
    assert "fallback" in losses.hyperparameters("triplet")
