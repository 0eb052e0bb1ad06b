"""The real training step: weight decay reaches the head, BN modes, EMA, non-finite guard."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import losses
import models
from training.ema import WeightAverage
from training.optimizers import build_optimizer, decayed_variables, l2_penalty
from training.schedules import PiecewiseWithWarmup
from training.step import TrainState, make_replica_step, make_train_step

SIZE = (112, 96)
CLASSES = 4


def batch(seed=0):
    rng = np.random.default_rng(seed)
    images = tf.constant(rng.uniform(0, 255, (8, *SIZE, 3)), tf.float32)
    return images, tf.constant(np.repeat(np.arange(CLASSES), 2), tf.int32)


def setup(bn_mode="switch", weight_decay=0.0, optimizer="sgd", lr=0.1, ema_decay=0.0):
    tf.keras.utils.set_random_seed(1)
    model = models.build(
        "resface20", image_size=SIZE, embedding_size=16, bn_mode=bn_mode, width=0.0625, dropout_keep=1.0
    )
    head = losses.build("am_softmax", num_classes=CLASSES, embedding_size=16)
    opt = build_optimizer(optimizer)
    variables = model.trainable_variables + head.trainable_variables
    opt.build(variables)
    state = TrainState()
    ema = WeightAverage(variables, ema_decay) if ema_decay else None
    replica_step = make_replica_step(
        model,
        head,
        opt,
        state,
        decayed_variables=decayed_variables(variables, ["alpha"]),
        weight_decay=weight_decay,
        ema=ema,
    )
    step = make_train_step(tf.distribute.get_strategy(), replica_step, False, opt, PiecewiseWithWarmup([], [lr]), state)
    return model, head, variables, state, step, ema


def test_decayed_variables_are_all_kernels_including_the_head():
    model, head, variables, *_ = setup()
    decayed = decayed_variables(variables, ["alpha"])
    paths = [v.path for v in decayed]
    assert any(v is head.kernel for v in decayed)
    assert all("alpha" not in p and "gamma" not in p and "beta" not in p for p in paths)
    kernels = [v for v in model.trainable_variables if v.path.endswith("kernel")]
    assert len(decayed) == len(kernels) + 1


def test_l2_penalty_matches_numpy():
    weights = [
        tf.Variable(np.arange(6.0).reshape(2, 3), dtype=tf.float32),
        tf.Variable([[1.0, -2.0]], dtype=tf.float32),
    ]
    expected = 5e-4 * 0.5 * (np.sum(np.arange(6.0) ** 2) + 5.0)
    assert float(l2_penalty(weights, 5e-4)) == pytest.approx(expected, rel=1e-6)


def test_weight_decay_in_the_real_step_shrinks_every_kernel_by_lr_wd_w():
    """SGD: w1 = w0 - lr (g + wd w0), so the with/without-decay difference is -lr wd w0."""
    images, labels = batch()
    lr, wd = 0.1, 0.05
    runs = {}
    for decay in (0.0, wd):
        # No BN here: it keeps the traced graph small and decay does not depend on it.
        model, head, variables, state, step, _ = setup("none", weight_decay=decay, lr=lr)
        before = [v.numpy() for v in variables]
        stats = step(images, labels)
        runs[decay] = ([v.numpy() for v in variables], before, variables, stats)
    (plain, w0, variables, plain_stats), (decayed, _, _, decayed_stats) = runs[0.0], runs[wd]
    for v, a, b, w in zip(variables, plain, decayed, w0, strict=True):
        expected = -lr * wd * w if len(v.shape) >= 2 and "alpha" not in v.path else 0.0 * w
        np.testing.assert_allclose(b - a, expected, atol=2e-6, err_msg=v.path)
    assert float(decayed_stats["weight_decay_loss"]) > 0 == float(plain_stats["weight_decay_loss"])


def bn_layers(model):
    return [layer for layer in model.layers if isinstance(layer, models.FlagBatchNormalization)]


def test_bn_switch_updates_moving_stats_and_uses_them_in_test_mode():
    model, _, _, state, step, _ = setup("switch")
    images, labels = batch()
    moving = bn_layers(model)[0].moving_mean.numpy().copy()
    step(images, labels)
    assert int(state.step) == 1
    assert not np.allclose(bn_layers(model)[0].moving_mean.numpy(), moving)
    test, train = model(images, training=False).numpy(), model(images, training=True).numpy()
    assert not np.allclose(test, train, atol=1e-3)
    # Inside the model, the first BN layer normalises its input with the moving averages in test
    # mode and with the batch's own statistics in train mode (NumPy formula as the reference).
    bn = bn_layers(model)[0]
    probe = keras.Model(model.inputs, [bn.input, bn.output])
    x, y = (t.numpy().astype(np.float64) for t in probe(images, training=False))
    scale, offset = bn.gamma.numpy(), bn.beta.numpy()
    mean, variance = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(variance + bn.epsilon) * scale + offset, rtol=1e-4, atol=1e-4)
    x, y = (t.numpy().astype(np.float64) for t in probe(images, training=True))
    mean, variance = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(variance + bn.epsilon) * scale + offset, rtol=1e-3, atol=1e-3)


def test_bn_always_train_uses_batch_stats_in_test_mode_too():
    model, _, _, _, step, _ = setup("always_train")
    images, labels = batch()
    step(images, labels)
    np.testing.assert_allclose(
        model(images, training=False).numpy(), model(images, training=True).numpy(), rtol=1e-4, atol=1e-4
    )


def test_bn_none_has_no_batch_norm_and_trains():
    model, _, variables, state, step, _ = setup("none")
    assert not bn_layers(model)
    before = [v.numpy() for v in variables]
    stats = step(*batch())
    assert np.isfinite(float(stats["total_loss"])) and int(state.step) == 1
    assert any(not np.allclose(b, v.numpy()) for b, v in zip(before, variables, strict=True))


def test_ema_matches_hand_computed_average_and_swaps_back():
    variable = tf.Variable([1.0, 2.0])
    ema = WeightAverage([variable], decay=0.9)
    variable.assign([3.0, 6.0])
    ema.update(step=0)  # effective decay min(0.9, 1/10) = 0.1
    np.testing.assert_allclose(ema.shadows[0].numpy(), [0.1 * 1 + 0.9 * 3, 0.1 * 2 + 0.9 * 6], rtol=1e-6)
    variable.assign([5.0, 5.0])
    ema.update(step=1000)  # effective decay 0.9
    expected = 0.9 * np.array([2.8, 5.6]) + 0.1 * 5
    np.testing.assert_allclose(ema.shadows[0].numpy(), expected, rtol=1e-6)
    with ema.swapped_in():
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(variable.numpy(), [5.0, 5.0])


def test_non_finite_loss_skips_the_update_and_records_the_step():
    model, head, variables, state, step, ema = setup("none", ema_decay=0.9)
    images, labels = batch()
    step(images, labels)
    before = [v.numpy() for v in variables] + [s.numpy() for s in ema.shadows]
    poisoned = tf.tensor_scatter_nd_update(images, [[0, 0, 0, 0]], [np.nan])
    step(poisoned, labels)
    assert int(state.nonfinite_step) == 1 and int(state.step) == 1
    after = [v.numpy() for v in variables] + [s.numpy() for s in ema.shadows]
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


class HeadWithKernelNorm(losses.AMSoftmax):
    """A head reporting one more statistic of its own."""

    def diagnostics(self, embeddings, labels) -> dict:
        return {**super().diagnostics(embeddings, labels), "kernel_norm": tf.norm(self.kernel)}


def test_the_step_reports_what_the_loss_head_reports():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    head = HeadWithKernelNorm(num_classes=2, embedding_size=4)
    optimizer = build_optimizer("sgd")
    variables = model.trainable_variables + head.trainable_variables
    optimizer.build(variables)
    state = TrainState()
    replica_step = make_replica_step(model, head, optimizer, state, decayed_variables=[], weight_decay=0.0)
    step = make_train_step(
        tf.distribute.get_strategy(), replica_step, False, optimizer, PiecewiseWithWarmup([], [0.0]), state
    )
    images = tf.constant(np.random.default_rng(0).normal(size=(4, 3)), tf.float32)
    labels = tf.constant([0, 0, 1, 1], tf.int32)
    expected = head.diagnostics(model(images), labels)
    stats = step(images, labels)
    assert float(stats["kernel_norm"]) == pytest.approx(float(expected["kernel_norm"]), rel=1e-6)
    assert float(stats["centre_angle_deg"]) == pytest.approx(float(expected["centre_angle_deg"]), rel=1e-5)
