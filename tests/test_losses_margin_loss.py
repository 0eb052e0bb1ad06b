"""Margin loss (Wu et al.) with fixed negatives against NumPy; learnable beta; both samplings in use."""

import numpy as np
import pytest
import tensorflow as tf

from losses import MarginLoss
from losses.base import l2_normalize
from losses.distances import pairwise_distances
from losses.miners import SAMPLINGS
from tests.helpers.loss_reference import margin_loss, numerical_gradient

LABELS = np.array([0, 0, 0, 1, 1, 2, 2, 2])


def random_negatives(seed):
    """An arbitrary negative for every (anchor, positive) pair."""
    rng = np.random.default_rng(seed)
    return np.array([[rng.choice(np.flatnonzero(LABELS != LABELS[a])) for _ in LABELS] for a in range(len(LABELS))])


def tf_loss_for_negatives(layer, x, negatives, *variables):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = layer.loss_for_negatives(
            pairwise_distances(l2_normalize(x)), tf.constant(LABELS), tf.constant(negatives, tf.int32)
        )
    grads = tape.gradient(out["loss"], [x, *variables])
    return float(out["loss"]), [tf.convert_to_tensor(g).numpy() for g in grads]


def test_value_and_gradient_match_numpy_for_chosen_negatives():
    x, negatives = np.random.default_rng(0).normal(size=(8, 4)), random_negatives(0)
    layer = MarginLoss(embedding_size=4, alpha=0.2, beta=1.2, dtype="float64")
    reference = lambda v: margin_loss(v, LABELS, negatives, 0.2, [1.2] * 8)
    loss, (gx,) = tf_loss_for_negatives(layer, x, negatives)
    assert loss > 0
    assert loss == pytest.approx(reference(x), rel=1e-10)
    np.testing.assert_allclose(gx, numerical_gradient(reference, x), rtol=1e-5, atol=1e-8)


def test_learnable_per_class_beta_and_its_regulariser():
    x, negatives = np.random.default_rng(1).normal(size=(8, 4)), random_negatives(1)
    layer = MarginLoss(embedding_size=4, num_classes=3, learnable_beta=True, nu=0.1, dtype="float64")
    betas = np.array([1.0, 1.2, 1.4])
    layer.betas.assign(betas)
    reference = lambda b: margin_loss(x, LABELS, negatives, 0.2, b[LABELS], nu=0.1)
    loss, (_, gb) = tf_loss_for_negatives(layer, x, negatives, layer.betas)
    assert loss == pytest.approx(reference(betas), rel=1e-10)
    np.testing.assert_allclose(gb, numerical_gradient(reference, betas), rtol=1e-5, atol=1e-8)
    assert any(v is layer.betas for v in layer.trainable_weights)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_sampled_call_only_uses_negatives_and_equals_the_reference(monkeypatch, sampling):
    """The negatives the call samples are recorded: each (anchor, positive) pair got a negative of
    another identity, and the loss is the NumPy reference's for exactly those negatives."""
    from losses import margin_loss as module

    drawn = []
    sample = module.sample_negatives
    monkeypatch.setattr(
        module,
        "sample_negatives",
        lambda *args, **kwargs: drawn.append(sample(*args, **kwargs)) or drawn[-1],
    )
    x = np.random.default_rng(2).normal(size=(8, 16))
    layer = MarginLoss(embedding_size=16, sampling=sampling, seed=3, dtype="float64")
    with tf.GradientTape() as tape:
        xt = tf.constant(x)
        tape.watch(xt)
        out = layer(xt, LABELS)
    negatives = drawn[0].numpy()
    positive_pairs = (LABELS[:, None] == LABELS[None, :]) & ~np.eye(8, dtype=bool)
    anchor_labels = np.broadcast_to(LABELS[:, None], (8, 8))
    assert np.all(LABELS[negatives][positive_pairs] != anchor_labels[positive_pairs])
    assert float(out["loss"]) == pytest.approx(margin_loss(x, LABELS, negatives, 0.2, [1.2] * 8), rel=1e-8)
    assert np.isfinite(tape.gradient(out["loss"], xt).numpy()).all()
    assert MarginLoss.needs_pk_batches


def test_uniform_sampling_ignores_the_distances(monkeypatch):
    """With sampling="uniform" the probabilities handed to the sampler are 1 / (number of the
    anchor's negatives), whatever the embeddings; the default is the paper's distance weighting."""
    from losses import margin_loss as module

    seen = []
    sample = module.sample_negatives
    monkeypatch.setattr(module, "sample_negatives", lambda p, **kw: seen.append(p.numpy()) or sample(p, **kw))
    x = np.random.default_rng(4).normal(size=(8, 16))
    MarginLoss(embedding_size=16, sampling="uniform", dtype="float64")(x, LABELS)
    negatives = LABELS[:, None] != LABELS[None, :]
    np.testing.assert_allclose(seen[0], negatives / negatives.sum(axis=1, keepdims=True))
    MarginLoss(embedding_size=16, dtype="float64")(x, LABELS)
    assert not np.allclose(seen[1], seen[0])
    assert MarginLoss(embedding_size=4).sampling == "distance_weighted"


def test_unknown_sampling_is_refused_at_build_time():
    import losses

    with pytest.raises(ValueError, match=r"sampling must be one of \('distance_weighted', 'uniform'\), got 'random'"):
        losses.build("margin", embedding_size=4, sampling="random")
    assert "sampling" in losses.hyperparameters("margin")
    assert losses.build("margin", embedding_size=4, sampling="uniform").get_config()["sampling"] == "uniform"
