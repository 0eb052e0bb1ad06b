"""Batch-norm modes and dropout driven by a bool or tensor flag, against a NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models.layers import BatchNormConfig, FlagBatchNormalization, FlagDropout

DECAY, EPS = 0.995, 1e-3


def numpy_batch_norm(x, mean, var, gamma, beta, eps=EPS):
    """Ioffe & Szegedy: y = gamma * (x - mean) / sqrt(var + eps) + beta, per channel."""
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


@pytest.fixture
def features():
    return np.random.default_rng(0).normal(3.0, 2.0, size=(6, 4, 5, 3)).astype(np.float32)


def make_bn(mode: str) -> FlagBatchNormalization:
    """A BN layer with distinct, known gamma/beta/moving statistics."""
    layer = BatchNormConfig(mode, decay=DECAY, epsilon=EPS).layer("bn")
    layer.build((None, 4, 5, 3))
    layer.gamma.assign([1.5, 0.5, 2.0])
    layer.beta.assign([0.1, -0.2, 0.3])
    layer.moving_mean.assign([1.0, 2.0, 3.0])
    layer.moving_variance.assign([4.0, 1.0, 0.25])
    return layer


def reference(layer, x, batch_stats: bool):
    axes = (0, 1, 2)
    mean, var = (
        (x.mean(axes), x.var(axes)) if batch_stats else (layer.moving_mean.numpy(), layer.moving_variance.numpy())
    )
    return numpy_batch_norm(x, mean, var, layer.gamma.numpy(), layer.beta.numpy())


@pytest.mark.parametrize("mode", ["switch", "always_train"])
def test_one_trace_serves_both_modes_with_the_right_statistics(mode, features):
    layer = make_bn(mode)
    traces = []

    @tf.function
    def step(x, flag):
        traces.append(1)
        return layer(x, training=flag)

    moving_before = (layer.moving_mean.numpy(), layer.moving_variance.numpy())
    expected_test = reference(layer, features, batch_stats=(mode == "always_train"))
    test_out = step(features, tf.constant(False)).numpy()
    np.testing.assert_allclose(test_out, expected_test, rtol=1e-4, atol=1e-4)
    # Test mode never touches the moving averages, in either mode.
    np.testing.assert_array_equal(layer.moving_mean.numpy(), moving_before[0])
    np.testing.assert_array_equal(layer.moving_variance.numpy(), moving_before[1])

    expected_train = reference(layer, features, batch_stats=True)
    train_out = step(features, tf.constant(True)).numpy()
    np.testing.assert_allclose(train_out, expected_train, rtol=1e-4, atol=1e-4)
    # Train mode: exponential moving average with decay 0.995 towards the batch statistics.
    batch_mean, batch_var = features.mean((0, 1, 2)), features.var((0, 1, 2))
    np.testing.assert_allclose(
        layer.moving_mean.numpy(), DECAY * moving_before[0] + (1 - DECAY) * batch_mean, rtol=1e-5
    )
    np.testing.assert_allclose(
        layer.moving_variance.numpy(), DECAY * moving_before[1] + (1 - DECAY) * batch_var, rtol=1e-4
    )

    assert len(traces) == 1
    assert step.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("flag", [False, None])
def test_python_bool_and_none_mean_test_mode(flag, features):
    layer = make_bn("switch")
    out = layer(features, training=flag).numpy()
    np.testing.assert_allclose(out, reference(layer, features, batch_stats=False), rtol=1e-4, atol=1e-4)


def test_config_round_trip_keeps_the_mode():
    layer = BatchNormConfig("always_train", decay=0.9, epsilon=1e-5).layer("bn")
    clone = FlagBatchNormalization.from_config(layer.get_config())
    assert clone.always_batch_stats and clone.momentum == 0.9 and clone.epsilon == 1e-5
    assert layer.scale and layer.center


def test_unknown_bn_mode_is_rejected():
    with pytest.raises(ValueError, match="unknown bn_mode 'batch'.*switch, always_train, none"):
        BatchNormConfig("batch")


def test_dropout_only_in_train_mode_from_one_trace():
    keep = 0.8
    layer = FlagDropout(rate=1 - keep, seed=1)
    x = tf.ones([200, 50])

    @tf.function
    def step(flag):
        return layer(x, training=flag)

    train = step(tf.constant(True)).numpy()
    test = step(tf.constant(False)).numpy()
    np.testing.assert_array_equal(test, np.ones_like(test))
    # Kept units are scaled by 1 / keep, the dropped fraction is close to 1 - keep.
    assert set(np.unique(train).round(5)) == {0.0, round(1 / keep, 5)}
    assert abs((train == 0).mean() - (1 - keep)) < 0.02
    assert step.experimental_get_tracing_count() == 1


def keras_twin(layer: FlagBatchNormalization, shape) -> tf.keras.layers.Layer:
    """Keras' own BatchNormalization with the same settings and variables' values."""
    import keras

    twin = keras.layers.BatchNormalization(momentum=layer.momentum, epsilon=layer.epsilon)
    twin.build(shape)
    for mine, theirs in zip(layer.weights, twin.weights, strict=True):
        theirs.assign(mine)
    return twin


@pytest.mark.parametrize("shape", [(6, 4, 5, 3), (16, 3)])
def test_fused_kernel_matches_keras_batch_norm_forward_backward_and_update(shape):
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, size=shape).astype(np.float32))
    layer = BatchNormConfig("switch", decay=DECAY, epsilon=EPS).layer("bn")
    layer.build(shape)
    layer.gamma.assign(np.linspace(0.5, 1.5, shape[-1]))
    layer.beta.assign(np.linspace(-0.2, 0.3, shape[-1]))
    twin = keras_twin(layer, shape)
    weights = np.random.default_rng(2).normal(size=shape).astype(np.float32)
    grads = []
    for bn in (layer, twin):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = bn(x, training=True)
            loss = tf.reduce_sum(y * weights)
        grads.append([y, *tape.gradient(loss, [x, bn.gamma, bn.beta])])
    for mine, theirs in zip(*grads, strict=True):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.moving_mean.numpy(), twin.moving_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), twin.moving_variance.numpy(), rtol=1e-6)
    np.testing.assert_allclose(layer(x, training=False).numpy(), twin(x, training=False).numpy(), rtol=1e-5, atol=1e-5)


def test_bfloat16_activations_keep_their_dtype_and_float32_statistics(features):
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer = make_bn("switch")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    expected = reference(layer, features, batch_stats=True)
    out = layer(tf.cast(features, tf.bfloat16), training=True)
    assert out.dtype == tf.bfloat16 and layer.moving_mean.dtype == "float32"
    # bfloat16 keeps 8 bits of mantissa: the inputs' own rounding bounds the difference.
    np.testing.assert_allclose(tf.cast(out, tf.float32).numpy(), expected, rtol=0.02, atol=0.05)
