"""Backbones: shapes, preprocessing, initialisers, BN modes in whole models, sizes vs the papers.

Expected parameter and multiply-add counts are re-derived here from the architecture
descriptions (REFERENCE.md, MobileFaceNet's Table 1), independently of models/complexity.py.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
from models.complexity import count_macs, count_parameters
from models.layers import FlagBatchNormalization

TINY = 0.125  # width multiplier that keeps forward passes fast on 2 CPU cores
SIZES = [(112, 96), (112, 112)]


def random_pixels(batch, image_size, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (batch, *image_size, 3)).astype(np.float32)


@pytest.mark.parametrize("image_size", SIZES, ids=["112x96", "112x112"])
@pytest.mark.parametrize("name", ["resface20", "resface36", "inception_resnet_v1", "mobilefacenet"])
def test_output_shape_for_both_templates(name, image_size):
    model = models.build(name, image_size=image_size, embedding_size=24, width=TINY)
    out = model(random_pixels(2, image_size), training=False)
    assert out.shape == (2, 24) and out.dtype == tf.float32
    assert np.all(np.isfinite(out.numpy()))
    # Embeddings are returned un-normalised: losses normalise them as their papers do.
    assert not np.allclose(np.linalg.norm(out.numpy(), axis=1), 1.0)


def test_pixels_are_normalised_inside_the_model():
    model = models.build("resface20", width=TINY)
    first = model.layers[1]
    out = first(tf.constant([[0.0, 127.5, 255.0]])).numpy()
    np.testing.assert_allclose(out, [[-127.5 / 128, 0.0, 127.5 / 128]], rtol=1e-6)
    assert model.get_layer("stage1_conv").input is first.output


def test_resface_initialisers_and_prelu():
    model = models.build("resface20", width=0.25, bn_mode="none")
    stage = model.get_layer("stage2_conv").kernel.numpy()  # 3x3x16x32
    fan_in = 3 * 3 * 16
    # Caffe's xavier filler: uniform on +-sqrt(3 / fan_in), so variance 1 / fan_in.
    assert np.abs(stage).max() <= np.sqrt(3 / fan_in) + 1e-6
    assert stage.std() == pytest.approx(np.sqrt(1 / fan_in), rel=0.05)
    residual = model.get_layer("stage3_unit2_conv1").kernel.numpy()
    assert residual.std() == pytest.approx(0.01, rel=0.05)
    assert abs(residual.mean()) < 1e-3
    slopes = model.get_layer("stage3_unit2_conv1_prelu").alpha.numpy()
    assert slopes.shape == (1, 1, 64)  # one slope per channel
    np.testing.assert_array_equal(slopes, 0.25)


@pytest.mark.parametrize("name", ["resface20", "inception_resnet_v1", "mobilefacenet"])
def test_every_kernel_draws_its_own_initial_values(name):
    # A Keras initializer holds one seed: shared by two same-shaped layers (Resface's two convs of
    # a residual unit once were), it gives both the same kernel.
    keras.utils.set_random_seed(0)
    model = models.build(name, width=TINY)
    kernels = {}
    for weight in model.weights:
        values = weight.numpy()
        if weight.path.endswith("kernel") and np.unique(values).size > 1:  # random, not constant
            kernels.setdefault(values.tobytes(), []).append(weight.path)
    assert [paths for paths in kernels.values() if len(paths) > 1] == []
    assert len(kernels) > 10


def test_the_seed_set_after_import_decides_the_initial_weights():
    # train.py imports the backbones (its config check) before it seeds the run: an initializer
    # made at import time would keep its unseeded draw whatever the run's seed.
    built = []
    for seed in (0, 1, 0):
        keras.utils.set_random_seed(seed)
        built.append({w.path: w.numpy() for w in models.build("resface20", width=TINY).weights})
    for path, values in built[0].items():
        np.testing.assert_array_equal(values, built[2][path], err_msg=path)
    differ = {path for path, values in built[0].items() if not np.array_equal(values, built[1][path])}
    assert {"stage1_conv/kernel", "stage3_unit2_conv1/kernel", "embedding/kernel"} <= differ


def test_switch_model_one_trace_train_updates_test_freezes():
    model = models.build("resface20", width=TINY, dropout_keep=1.0, bn_mode="switch")
    traces = []

    @tf.function
    def forward(images, flag):
        traces.append(1)
        return model(images, training=flag)

    images = random_pixels(8, (112, 96))
    snapshot = [w.numpy().copy() for w in model.weights]
    test_before = forward(images, tf.constant(False)).numpy()
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(snapshot, model.weights, strict=True))
    np.testing.assert_allclose(test_before, model(images, training=False).numpy(), rtol=1e-4, atol=1e-5)

    train = forward(images, tf.constant(True)).numpy()
    moving = [w for w in model.non_trainable_weights if "moving" in w.path]
    changed = [
        not np.array_equal(a, w.numpy()) for a, w in zip(snapshot, model.weights, strict=True) if "moving" in w.path
    ]
    assert len(changed) == len(moving) > 0 and all(changed)
    # The last op is BN on the FC embedding: in train mode it normalises with the batch's
    # statistics (which the moving averages do not affect, so a second train pass agrees).
    pre_bn = keras.Model(model.input, model.get_layer("embedding").output)(images, training=True).numpy()
    bn = model.get_layer("embedding_bn")
    expected = bn.gamma.numpy() * (pre_bn - pre_bn.mean(0)) / np.sqrt(pre_bn.var(0) + 1e-3) + bn.beta.numpy()
    np.testing.assert_allclose(train, expected, rtol=1e-3, atol=1e-3)

    test_after = forward(images, tf.constant(False)).numpy()
    assert not np.allclose(test_after, test_before)  # the moving averages moved
    assert len(traces) == 1 and forward.experimental_get_tracing_count() == 1


def test_always_train_uses_batch_statistics_at_test_time():
    switch = models.build("resface20", width=TINY, dropout_keep=1.0, bn_mode="switch")
    always = models.build("resface20", width=TINY, dropout_keep=1.0, bn_mode="always_train")
    always.set_weights(switch.get_weights())
    images = random_pixels(8, (112, 96), seed=1)
    snapshot = [w.numpy().copy() for w in always.weights]
    always_test = always(images, training=tf.constant(False)).numpy()
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(snapshot, always.weights, strict=True))
    assert not np.allclose(always_test, switch(images, training=False).numpy(), atol=1e-2)
    np.testing.assert_allclose(always_test, switch(images, training=True).numpy(), rtol=1e-3, atol=1e-3)


def test_none_mode_has_no_bn_and_keeps_the_original_biases():
    model = models.build("resface20", width=TINY, bn_mode="none")
    assert not any(isinstance(layer, FlagBatchNormalization) for layer in model.layers)
    assert model.non_trainable_weights == []
    assert model.get_layer("stage1_conv").use_bias and model.get_layer("embedding").use_bias
    assert not model.get_layer("stage1_unit1_conv1").use_bias  # residual convs: no bias
    with_bn = models.build("resface20", width=TINY, bn_mode="switch")
    assert not with_bn.get_layer("stage1_conv").use_bias
    assert not with_bn.get_layer("embedding").use_bias
    assert isinstance(with_bn.get_layer("embedding_bn"), FlagBatchNormalization)


def test_dropout_before_the_embedding_follows_the_flag():
    model = models.build("resface20", width=TINY, bn_mode="none", dropout_keep=0.5)
    assert model.get_layer("embedding").input is model.get_layer("embedding_dropout").output
    images = random_pixels(2, (112, 96))
    test_a, test_b = (model(images, training=tf.constant(False)).numpy() for _ in range(2))
    np.testing.assert_array_equal(test_a, test_b)
    assert not np.allclose(model(images, training=tf.constant(True)).numpy(), test_a)


def resface_expected(units, image_size, embedding_size=512, bn=True):
    """Parameters and MACs of Resface from the description, channels 64-128-256-512."""
    height, width = image_size
    params = macs = 0
    cin = 3
    for channels, n_units in zip((64, 128, 256, 512), units, strict=True):
        height, width = (height + 1) // 2, (width + 1) // 2  # 3x3 stride-2, pad 1
        convs = [(cin, channels, True)] + [(channels, channels, False)] * (2 * n_units)
        for conv_in, conv_out, has_bias in convs:
            kernel = 9 * conv_in * conv_out
            params += kernel + conv_out  # + PReLU slopes
            params += 4 * conv_out if bn else conv_out * has_bias  # gamma, beta, moving mean/var
            macs += kernel * height * width
        cin = channels
    flat = height * width * 512
    params += flat * embedding_size + (4 * embedding_size if bn else embedding_size)
    macs += flat * embedding_size
    return params, macs


@pytest.mark.parametrize("name,units", [("resface20", (1, 2, 4, 1)), ("resface36", (2, 4, 8, 2))])
@pytest.mark.parametrize("image_size", SIZES, ids=["112x96", "112x112"])
@pytest.mark.parametrize("bn_mode", ["switch", "none"])
def test_resface_full_width_counts(name, units, image_size, bn_mode):
    model = models.build(name, image_size=image_size, bn_mode=bn_mode)
    params, macs = resface_expected(units, image_size, bn=bn_mode != "none")
    assert count_parameters(model)["total"] == params
    assert count_macs(model) == macs


def test_resface20_matches_the_papers_figures():
    model = models.build("resface20", image_size=(112, 96))
    assert round(count_parameters(model)["total"] / 1e6, 1) == 22.7
    assert round(count_macs(model) / 1e9, 2) == 1.75
    assert model.get_layer("flatten").output.shape[-1] == 21504  # 7 x 6 x 512


def mobilefacenet_expected(image_size, embedding_size):
    """Parameters (no BN: biases instead) and MACs from MobileFaceNet's Table 1, with PReLU."""
    height, width = image_size
    params = macs = 0

    def conv(k_h, k_w, cin, cout, stride, prelu, depthwise=False):
        nonlocal params, macs, height, width
        height, width = (height + stride - 1) // stride, (width + stride - 1) // stride
        kernel = k_h * k_w * cin * (1 if depthwise else cout)
        params += kernel + cout + (cout if prelu else 0)
        macs += kernel * height * width

    conv(3, 3, 3, 64, 2, True)
    conv(3, 3, 64, 64, 1, True, depthwise=True)
    cin = 64
    for t, c, n, s in [(2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1)]:
        for i in range(n):
            conv(1, 1, cin, cin * t, 1, True)
            conv(3, 3, cin * t, cin * t, s if i == 0 else 1, True, depthwise=True)
            conv(1, 1, cin * t, c, 1, False)
            cin = c
    conv(1, 1, cin, 512, 1, True)
    k_h, k_w = height, width
    height = width = 1
    conv(k_h, k_w, 512, 512, 1, False, depthwise=True)  # linear GDConv
    conv(1, 1, 512, embedding_size, 1, False)  # linear 1x1 embedding
    return params, macs


@pytest.mark.parametrize("image_size", SIZES, ids=["112x96", "112x112"])
def test_mobilefacenet_counts(image_size):
    model = models.build("mobilefacenet", image_size=image_size, embedding_size=128, bn_mode="none")
    params, macs = mobilefacenet_expected(image_size, 128)
    assert count_parameters(model)["total"] == params
    assert count_macs(model) == macs
    if image_size == (112, 112):  # the paper: 0.99 M parameters, 221 M multiply-adds
        assert round(params / 1e6, 2) == 0.99
        assert round(macs / 1e6) == 221
    assert model.get_layer("gdconv").kernel.shape[:2] == (7, image_size[1] // 16)


def test_inception_resnet_v1_structure():
    model = models.build("inception_resnet_v1", image_size=(112, 112), embedding_size=128, width=TINY)
    blocks = {
        kind: sum(1 for layer in model.layers if layer.name.startswith(kind) and layer.name.endswith("_add"))
        for kind in ("block35", "block17", "block8")
    }
    assert blocks == {"block35": 5, "block17": 10, "block8": 6}  # 5 + the final linear block8
    assert model.get_layer("block17_3_scale").scale == pytest.approx(0.10)
    # Full width, facenet's valid-padded stem on 112x112: 256 channels at 11x11 before block35
    # (17x17 at facenet's 160x160), 1792 after reduction B.
    full = models.build("inception_resnet_v1", image_size=(112, 112))
    assert tuple(full.get_layer("block35_1_add").output.shape[1:]) == (11, 11, 256)
    assert full.get_layer("avgpool").output.shape[-1] == 1792


def test_width_multiplier_rounds_channels():
    model = models.build("resface20", width=0.3, bn_mode="none")
    assert [model.get_layer(f"stage{i}_conv").filters for i in range(1, 5)] == [19, 38, 77, 154]


def test_gradients_reach_every_weight_through_the_tensor_flag():
    model = models.build("mobilefacenet", image_size=(112, 112), width=TINY, embedding_size=8)

    # A random target, so no gradient vanishes by symmetry (e.g. the last BN's beta).
    target = tf.constant(np.random.default_rng(2).normal(size=(4, 8)).astype(np.float32))

    @tf.function
    def grads(images, flag):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(images, training=flag) - target))
        return tape.gradient(loss, model.trainable_weights)

    gradients = grads(random_pixels(4, (112, 112)), tf.constant(True))
    assert len(gradients) == len(model.trainable_weights)
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in gradients)
    assert sum(float(tf.reduce_sum(tf.abs(g))) > 0 for g in gradients) == len(gradients)


@pytest.mark.parametrize("bn_mode", ["switch", "always_train", "none"])
def test_mixed_precision_gives_float32_embeddings(bn_mode):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = models.build("resface20", width=TINY, bn_mode=bn_mode, embedding_size=8)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("stage1_conv").compute_dtype == "float16"
    images = random_pixels(4, (112, 96))
    for flag in (True, False):
        out = model(images, training=tf.constant(flag))
        assert out.dtype == tf.float32 and np.all(np.isfinite(out.numpy()))
