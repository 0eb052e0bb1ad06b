"""The registry: every name builds a working layer; unknown names and hyperparameters fail clearly."""

import numpy as np
import pytest

import losses

CLASSIFICATION = {
    "softmax",
    "center",
    "lsoftmax",
    "sphereface",
    "normface",
    "am_softmax",
    "cosface",
    "arcface",
    "combined",
}


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_every_loss_builds_runs_and_round_trips_its_config(name):
    layer = losses.build(name, num_classes=3, embedding_size=4)
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    out = layer(x, np.array([0, 0, 1, 1, 2, 2]), step=10)
    assert out["loss"].shape == ()
    assert np.isfinite(float(out["loss"]))
    if name in CLASSIFICATION:
        assert out["logits"].shape == (6, 3)
        assert not layer.needs_pk_batches
    else:
        assert "logits" not in out
        assert layer.needs_pk_batches
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_paper_defaults():
    assert losses.build("arcface", num_classes=2, embedding_size=2).margin == 0.5
    assert float(losses.build("arcface", num_classes=2, embedding_size=2).scale) == 64.0
    am = losses.build("am_softmax", num_classes=2, embedding_size=2)
    assert (float(am.scale), am.margin) == (30.0, 0.35)
    assert float(losses.build("cosface", num_classes=2, embedding_size=2).scale) == 64.0
    sphere = losses.build("sphereface", num_classes=2, embedding_size=2)
    assert (sphere.margin, sphere.lambda_base, sphere.lambda_gamma, sphere.lambda_min) == (4, 1000, 0.12, 5)
    assert losses.build("triplet").margin == 0.2
    margin = losses.build("margin", embedding_size=8)
    assert (margin.alpha, margin.beta, margin.nonzero_loss_cutoff) == (0.2, 1.2, 1.4)


def test_hyperparameters_are_passed_through():
    layer = losses.build("arcface", num_classes=2, embedding_size=2, scale=32, margin=0.3, easy_margin=True)
    assert (float(layer.scale), layer.margin, layer.easy_margin) == (32.0, 0.3, True)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown loss 'arcfce'.*arcface.*triplet"):
        losses.build("arcfce", num_classes=2, embedding_size=2)


def test_unknown_hyperparameter_lists_valid_ones():
    with pytest.raises(ValueError, match=r"'arcface'.*unknown hyperparameter\(s\) s;.*scale, margin"):
        losses.build("arcface", num_classes=2, embedding_size=2, s=64)


def test_missing_sizes_are_reported():
    with pytest.raises(ValueError, match="needs num_classes"):
        losses.build("softmax", embedding_size=4)
    with pytest.raises(ValueError, match="needs embedding_size"):
        losses.build("margin")


def test_losses_compute_in_float32_under_a_mixed_precision_policy():
    import keras

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = losses.build("arcface", num_classes=3, embedding_size=4)
        out = layer(np.zeros((2, 4), np.float16), np.array([0, 1]))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert out["loss"].dtype == "float32" and np.isfinite(float(out["loss"]))
