"""training/bf16_check.py: the model's convolution, dense and pooling shapes, the bfloat16-vs-float32 error, and the
refusal before a run dir is written. The real convolutions are right or wrong depending on the
CPU (wrong on some AMX CPUs with TensorFlow 2.21), so the wrong ones here are stand-ins."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.paths import REPO_ROOT
from tests.helpers.train_support import tiny_config
from training import bf16_check
from training.config import ConfigError
from training.loop import run_training
from training.preflight import check_before_run


def three_kinds_of_layer() -> keras.Model:
    images = keras.Input((8, 6, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="a")(images)
    x = keras.layers.Conv2D(4, 3, padding="same", name="b")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="c")(x)  # b's shape again
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="valid", name="d")(x)
    return keras.Model(images, keras.layers.Dense(2, name="e")(keras.layers.Flatten()(x)))


def test_each_distinct_convolution_and_dense_shape_is_listed_once_at_the_given_batch():
    shapes = bf16_check.layer_shapes(three_kinds_of_layer(), batch_size=5)
    assert {
        name: (shape.kind, shape.input_shape, shape.kernel_shape, shape.strides, shape.padding)
        for shape, name in shapes.items()
    } == {
        "a": ("conv", (5, 8, 6, 3), (3, 3, 3, 4), (1, 1), "SAME"),
        "b": ("conv", (5, 8, 6, 4), (3, 3, 4, 4), (1, 1), "SAME"),
        "d": ("depthwise", (5, 8, 6, 4), (3, 3, 4, 1), (2, 2), "VALID"),
        "e": ("dense", (5, 24), (24, 2), (), ""),  # after Flatten: 3x2x4
    }
    described = {name: shape.describe() for shape, name in shapes.items()}
    assert described["d"] == "depthwise 3x3 stride 2x2 valid on 8x6x4 at batch 5"
    assert described["e"] == "dense 24 -> 2 at batch 5"


def pooling_layers() -> keras.Model:
    images = keras.Input((9, 7, 2))
    x = keras.layers.MaxPooling2D(3, strides=2, padding="valid", name="max")(images)
    x = keras.layers.AveragePooling2D(2, padding="same", name="avg")(x)
    return keras.Model(images, keras.layers.GlobalAveragePooling2D(name="mean")(x))


def test_pooling_layers_are_listed_with_their_window():
    shapes = {name: shape for shape, name in bf16_check.layer_shapes(pooling_layers(), batch_size=3).items()}
    assert {
        name: (shape.kind, shape.input_shape, shape.kernel_shape, shape.strides, shape.padding)
        for name, shape in shapes.items()
    } == {
        "max": ("max_pool", (3, 9, 7, 2), (3, 3), (2, 2), "VALID"),
        "avg": ("avg_pool", (3, 4, 3, 2), (2, 2), (2, 2), "SAME"),  # (9-3)/2+1 = 4, (7-3)/2+1 = 3
        "mean": ("mean", (3, 2, 2, 2), (), (), ""),  # ceil(4/2), ceil(3/2)
    }
    assert shapes["max"].describe() == "max pool 3x3 stride 2x2 valid on 9x7x2 at batch 3"
    assert shapes["mean"].describe() == "global mean over 2x2x2 at batch 3"


@pytest.mark.parametrize(
    "layer, message",
    [
        (keras.layers.MaxPooling2D(2, data_format="channels_first", name="p"), "p: only channels_last pooling"),
        (keras.layers.Conv2D(4, 3, groups=2, name="g"), "g: only ungrouped channels_last convolutions"),
    ],
)
def test_a_layer_the_check_cannot_compute_is_named_not_skipped(layer, message):
    images = keras.Input((6, 6, 4))
    with pytest.raises(ValueError, match=f"^{message}"):
        bf16_check.layer_shapes(keras.Model(images, layer(images)), batch_size=2)


def test_the_pools_compute_what_numpy_computes():
    shapes = {name: shape for shape, name in bf16_check.layer_shapes(pooling_layers(), batch_size=2).items()}
    x = np.random.default_rng(1).normal(size=(2, 9, 7, 2)).astype(np.float32)
    windows = np.stack([x[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3] for i in range(4) for j in range(3)], axis=1)
    expected_max = windows.max(axis=(2, 3)).reshape(2, 4, 3, 2)
    np.testing.assert_allclose(bf16_check.compute(shapes["max"], x, None), expected_max, rtol=1e-6)
    y = np.random.default_rng(2).normal(size=(2, 4, 3, 2)).astype(np.float32)
    # 'same' average pooling divides by the window's part inside the image: the last column is alone.
    expected_avg = np.stack(
        [
            np.stack([y[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean(axis=(1, 2)) for j in range(2)], axis=1)
            for i in range(2)
        ],
        axis=1,
    )
    np.testing.assert_allclose(bf16_check.compute(shapes["avg"], y, None), expected_avg, rtol=1e-5)
    z = y[:, :2, :2]
    np.testing.assert_allclose(bf16_check.compute(shapes["mean"], z, None), z.mean(axis=(1, 2)), rtol=1e-6)


def float32_product(shape, images, kernel):
    """Right in every precision: computes in float32, returns the input's dtype."""
    dtype = tf.convert_to_tensor(images).dtype
    kernel = None if kernel is None else tf.cast(kernel, tf.float32)
    return tf.cast(bf16_check.compute(shape, tf.cast(images, tf.float32), kernel), dtype)


@pytest.mark.parametrize("name", ["a", "d", "e", "max", "avg", "mean"])
def test_a_right_product_shows_only_the_bfloat16_rounding(name):
    layers = (three_kinds_of_layer(), pooling_layers())
    shapes = {layer: shape for model in layers for shape, layer in bf16_check.layer_shapes(model, 16).items()}
    error = bf16_check.relative_bf16_error(shapes[name], float32_product)
    # Inputs and kernel rounded to 8 bits of mantissa (relative 2^-9) and the output rounded
    # again: visible, and far inside the tolerance.
    assert 1e-4 < error < bf16_check.TOLERANCE / 3


def plus_minus_one(bf16_change):
    """A fake convolution: +-1 alternating in float32 (sd exactly 1); in bfloat16, the same
    changed by `bf16_change`."""

    def conv(shape, images, kernel):
        out = np.where(np.arange(24).reshape(1, 4, 3, 2) % 2 == 0, 1.0, -1.0).astype(np.float32)
        if tf.convert_to_tensor(images).dtype == tf.bfloat16:
            out = bf16_change(out)
        return tf.constant(out, dtype=tf.convert_to_tensor(images).dtype)

    return conv


def test_the_error_is_the_largest_difference_over_the_float32_outputs_sd():
    shape = next(iter(bf16_check.layer_shapes(three_kinds_of_layer(), 2)))

    def half_off_at_one_place(out):
        out[0, 1, 2, 1] += 0.5
        return out

    def nan_at_one_place(out):
        out[0, 3, 0, 0] = np.nan
        return out

    assert bf16_check.relative_bf16_error(shape, plus_minus_one(lambda out: out)) == 0.0
    assert bf16_check.relative_bf16_error(shape, plus_minus_one(half_off_at_one_place)) == 0.5
    assert bf16_check.relative_bf16_error(shape, plus_minus_one(nan_at_one_place)) == math.inf


def errors_by_stride(stride_2_error):
    return lambda shape, conv=None: stride_2_error if shape.strides == (2, 2) else 0.01


def test_wrong_shapes_are_named_worst_first_with_what_to_do(monkeypatch):
    monkeypatch.setattr(bf16_check, "relative_bf16_error", errors_by_stride(math.inf))
    result = bf16_check.check_model(three_kinds_of_layer(), 64)
    assert result.checked == 4 and [layer for layer, _, _ in result.wrong] == ["d"]
    line = bf16_check.verdict(result, "tiny")
    assert line.startswith(
        "this CPU computes 1 of tiny's 4 convolution, dense and pooling shapes wrong in "
        "bfloat16 "
        "(worst: layer d, depthwise 3x3 stride 2x2 valid on 8x6x4 at batch 64, error inf"
    )
    assert "train.precision=float32" in line and "ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16" in line
    monkeypatch.setattr(bf16_check, "relative_bf16_error", errors_by_stride(bf16_check.TOLERANCE / 2))
    assert bf16_check.verdict(bf16_check.check_model(three_kinds_of_layer(), 64), "tiny") is None


def test_a_wrong_bfloat16_convolution_stops_the_run_before_its_run_dir(standin_train_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(bf16_check, "relative_bf16_error", errors_by_stride(1e37))
    run_dir = tmp_path / "run"
    config = tiny_config(standin_train_dir, run_dir, **{"train.precision": "bfloat16"})
    expected = (
        r"^train.precision: this CPU computes \d+ of resface20's \d+ convolution, dense and pooling shapes "
        r"wrong in bfloat16 \(worst: layer \w+, 3x3 stride 2x2"
    )
    with pytest.raises(ConfigError, match=expected):
        run_training(config)
    assert not run_dir.exists()


def test_the_check_runs_at_the_per_replica_batch_and_only_in_bfloat16(standin_train_dir, tmp_path, monkeypatch):
    batches = []
    monkeypatch.setattr(
        bf16_check, "relative_bf16_error", lambda shape, conv=None: batches.append(shape.input_shape[0]) or 0.0
    )
    check_before_run(
        tiny_config(standin_train_dir, tmp_path / "run", **{"train.precision": "bfloat16"}), REPO_ROOT, replicas=2
    )
    assert batches and set(batches) == {4}  # tiny_config's batch of 8 over 2 replicas
    batches.clear()
    check_before_run(tiny_config(standin_train_dir, tmp_path / "run"), REPO_ROOT)
    assert batches == []
