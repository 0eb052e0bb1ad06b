"""Checks, before a bfloat16 run on a CPU, that this CPU computes every convolution, dense and
pooling layer shape of the model right in bfloat16.

Measured with TensorFlow 2.21 on an AMX CPU (Xeon with amx_bf16): oneDNN's bfloat16 Conv2D, 3x3
stride 2 'valid' from 5x4 to 2x1 at batch 64 (Inception-ResNet-v1's reduction B at 112x96),
returns garbage (errors of 1e37 or inf, different on every call) while the same convolution at
batch 8, or in float32, is right. Which shapes fail depends on the CPU, the oneDNN version and the
batch, so each shape the model really runs is computed once in both precisions, at the
per-replica batch, and compared. ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 (set before TensorFlow
starts) keeps oneDNN off AMX and was right there, at a cost in speed.

Only layers that combine a window of positions are checked (their kernels are shape-specific).
Batch normalization is not: Keras 3 computes it in float32 under a bfloat16 policy; elementwise
layers (add, PReLU, activations) do not depend on the layer's shape that way.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

# bfloat16 keeps 8 bits of mantissa: rounding inputs, kernel and output gives errors of ~1-2% of
# the output's sd (0.012 measured at sd 1); the wrong kernels were off by orders of magnitude.
TOLERANCE = 0.1

WEIGHTED = ("conv", "depthwise", "dense")
WINDOW_NAMES = {"conv": "", "depthwise": "depthwise ", "max_pool": "max pool ", "avg_pool": "average pool "}


@dataclass(frozen=True)
class LayerShape:
    """One convolution, dense or pooling layer as the model runs it; layers with equal shapes are
    checked once."""

    kind: str  # "conv", "depthwise", "dense", "max_pool", "avg_pool" or "mean"
    input_shape: tuple  # (batch, height, width, channels); (batch, features) for dense
    kernel_shape: tuple  # (k_h, k_w, c_in, c_out), (k_h, k_w, c, multiplier), (in, out) or the
    # pool's (k_h, k_w); () for the global mean
    strides: tuple = ()
    padding: str = ""  # "SAME" / "VALID"
    dilation: tuple = ()

    def describe(self) -> str:
        batch = self.input_shape[0]
        if self.kind == "dense":
            return f"dense {self.kernel_shape[0]} -> {self.kernel_shape[1]} at batch {batch}"
        height, width, channels = self.input_shape[1:]
        if self.kind == "mean":
            return f"global mean over {height}x{width}x{channels} at batch {batch}"
        return (
            f"{WINDOW_NAMES[self.kind]}{self.kernel_shape[0]}x{self.kernel_shape[1]} stride "
            f"{'x'.join(map(str, self.strides))} {self.padding.lower()} on {height}x{width}x{channels} "
            f"at batch {batch}"
        )


def layer_shapes(model: keras.Model, batch_size: int) -> dict[LayerShape, str]:
    """Every distinct convolution, dense and pooling shape of a functional model at `batch_size`, with the
    name of the first layer that has it."""
    shapes: dict[LayerShape, str] = {}
    for layer in model.layers:
        shape = _shape_of(layer, batch_size)
        if shape is not None:
            shapes.setdefault(shape, layer.name)
    return shapes


def _shape_of(layer, batch_size: int) -> LayerShape | None:
    if isinstance(layer, keras.layers.Dense):
        if len(layer.input.shape) != 2:
            raise ValueError(f"{layer.name}: only dense layers on (batch, features) inputs are checked")
        return LayerShape("dense", (batch_size, layer.input.shape[1]), tuple(layer.kernel.shape))
    if isinstance(layer, keras.layers.GlobalAveragePooling2D):
        _require_channels_last(layer)
        return LayerShape("mean", (batch_size, *layer.input.shape[1:]), ())
    if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        _require_channels_last(layer)
        kind = "max_pool" if isinstance(layer, keras.layers.MaxPooling2D) else "avg_pool"
        return LayerShape(
            kind,
            (batch_size, *layer.input.shape[1:]),
            tuple(layer.pool_size),
            tuple(layer.strides),
            layer.padding.upper(),
        )
    if not isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
        return None
    if getattr(layer, "groups", 1) != 1 or layer.data_format != "channels_last":
        raise ValueError(f"{layer.name}: only ungrouped channels_last convolutions are checked")
    kind = "depthwise" if isinstance(layer, keras.layers.DepthwiseConv2D) else "conv"
    return LayerShape(
        kind,
        (batch_size, *layer.input.shape[1:]),
        tuple(layer.kernel.shape),
        tuple(layer.strides),
        layer.padding.upper(),
        tuple(layer.dilation_rate),
    )


def _require_channels_last(layer) -> None:
    if layer.data_format != "channels_last":
        raise ValueError(f"{layer.name}: only channels_last pooling is checked")


def compute(shape: LayerShape, inputs, kernel):
    """The layer's output, without bias or activation (those are elementwise); `kernel` is None for
    the pools."""
    if shape.kind == "mean":
        return tf.reduce_mean(inputs, axis=(1, 2))
    if shape.kind == "max_pool":
        return tf.nn.max_pool2d(inputs, shape.kernel_shape, shape.strides, shape.padding)
    if shape.kind == "avg_pool":
        return tf.nn.avg_pool2d(inputs, shape.kernel_shape, shape.strides, shape.padding)
    if shape.kind == "dense":
        return tf.matmul(inputs, kernel)
    if shape.kind == "depthwise":
        return tf.nn.depthwise_conv2d(inputs, kernel, (1, *shape.strides, 1), shape.padding, dilations=shape.dilation)
    return tf.nn.conv2d(inputs, kernel, shape.strides, shape.padding, dilations=shape.dilation)


def relative_bf16_error(shape: LayerShape, product=compute, seed: int = 0) -> float:
    """Largest |bfloat16 - float32| output difference over the float32 output's sd, on normal
    inputs and a He-scaled normal kernel (none for the pools); inf where the bfloat16 output is not
    finite."""
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=shape.input_shape).astype(np.float32)
    kernel = _he_kernel(shape, rng) if shape.kind in WEIGHTED else None
    reference = np.asarray(product(shape, inputs, kernel))
    kernel_bf16 = None if kernel is None else tf.cast(kernel, tf.bfloat16)
    out = np.asarray(tf.cast(product(shape, tf.cast(inputs, tf.bfloat16), kernel_bf16), tf.float32))
    if not np.isfinite(out).all():
        return math.inf
    return float(np.abs(out - reference).max() / max(float(reference.std()), 1e-12))


def _he_kernel(shape: LayerShape, rng) -> np.ndarray:
    fan_in = math.prod(shape.kernel_shape[: 2 if shape.kind == "depthwise" else -1])
    return (rng.normal(size=shape.kernel_shape) / math.sqrt(fan_in)).astype(np.float32)


@dataclass(frozen=True)
class CheckResult:
    checked: int  # distinct shapes
    wrong: list  # (layer name, shape, relative error), worst first
    seconds: float


def check_model(model: keras.Model, batch_size: int, product=compute) -> CheckResult:
    """Each distinct convolution, dense and pooling shape of `model` computed in bfloat16 and float32,
    compared."""
    start = time.perf_counter()
    shapes = layer_shapes(model, batch_size)
    wrong = []
    for shape, layer in shapes.items():
        error = relative_bf16_error(shape, product)
        if not error <= TOLERANCE:
            wrong.append((layer, shape, error))
    wrong.sort(key=lambda item: -item[2])
    return CheckResult(len(shapes), wrong, time.perf_counter() - start)


def verdict(result: CheckResult, model_name: str) -> str | None:
    """None when every shape was right, else one line that says what to do."""
    if not result.wrong:
        return None
    layer, shape, error = result.wrong[0]
    return (
        f"this CPU computes {len(result.wrong)} of {model_name}'s {result.checked} convolution, dense "
        f"and pooling shapes wrong in bfloat16 (worst: layer {layer}, {shape.describe()}, error {error:.3g} x the "
        f"output's sd); train with train.precision=float32, or start with "
        f"ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 in the environment (oneDNN without AMX: right, but slower)"
    )
