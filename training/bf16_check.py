"""Checks, before a bfloat16 run on a CPU, that this CPU computes every convolution shape of the
model right in bfloat16.

Measured with TensorFlow 2.21 on an AMX CPU (Xeon with amx_bf16): oneDNN's bfloat16 Conv2D, 3x3
stride 2 'valid' from 5x4 to 2x1 at batch 64 (Inception-ResNet-v1's reduction B at 112x96),
returns garbage (errors of 1e37 or inf, different on every call) while the same convolution at
batch 8, or in float32, is right. Which shapes fail depends on the CPU, the oneDNN version and the
batch, so each shape the model really runs is computed once in both precisions, at the
per-replica batch, and compared. ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 (set before TensorFlow
starts) keeps oneDNN off AMX and was right there, at a cost in speed.
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


@dataclass(frozen=True)
class ConvShape:
    """One convolution as the model runs it; layers with equal shapes are checked once."""
    depthwise: bool
    input_shape: tuple       # (batch, height, width, channels)
    kernel_shape: tuple      # (k_h, k_w, c_in, c_out) or (k_h, k_w, c, multiplier)
    strides: tuple
    padding: str             # "SAME" / "VALID"
    dilation: tuple

    def describe(self) -> str:
        depthwise = "depthwise " if self.depthwise else ""
        batch, height, width, channels = self.input_shape
        return (f"{depthwise}{self.kernel_shape[0]}x{self.kernel_shape[1]} stride "
                f"{'x'.join(map(str, self.strides))} {self.padding.lower()} on {height}x{width}x{channels} "
                f"at batch {batch}")


def conv_shapes(model: keras.Model, batch_size: int) -> dict[ConvShape, str]:
    """Every distinct convolution shape of a functional model at `batch_size`, with the name of
    the first layer that has it."""
    shapes: dict[ConvShape, str] = {}
    for layer in model.layers:
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            continue
        if getattr(layer, "groups", 1) != 1 or layer.data_format != "channels_last":
            raise ValueError(f"{layer.name}: only ungrouped channels_last convolutions are checked")
        shape = ConvShape(isinstance(layer, keras.layers.DepthwiseConv2D),
                          (batch_size, *layer.input.shape[1:]), tuple(layer.kernel.shape),
                          tuple(layer.strides), layer.padding.upper(), tuple(layer.dilation_rate))
        shapes.setdefault(shape, layer.name)
    return shapes


def convolve(shape: ConvShape, images, kernel):
    if shape.depthwise:
        return tf.nn.depthwise_conv2d(images, kernel, (1, *shape.strides, 1), shape.padding,
                                      dilations=shape.dilation)
    return tf.nn.conv2d(images, kernel, shape.strides, shape.padding, dilations=shape.dilation)


def relative_bf16_error(shape: ConvShape, conv=convolve, seed: int = 0) -> float:
    """Largest |bfloat16 - float32| output difference over the float32 output's sd, on normal
    inputs and a He-scaled normal kernel; inf where the bfloat16 output is not finite."""
    rng = np.random.default_rng(seed)
    images = rng.normal(size=shape.input_shape).astype(np.float32)
    fan_in = math.prod(shape.kernel_shape[:3]) if not shape.depthwise else math.prod(shape.kernel_shape[:2])
    kernel = (rng.normal(size=shape.kernel_shape) / math.sqrt(fan_in)).astype(np.float32)
    reference = np.asarray(conv(shape, images, kernel))
    out = np.asarray(tf.cast(conv(shape, tf.cast(images, tf.bfloat16), tf.cast(kernel, tf.bfloat16)),
                             tf.float32))
    if not np.isfinite(out).all():
        return math.inf
    return float(np.abs(out - reference).max() / max(float(reference.std()), 1e-12))


@dataclass(frozen=True)
class CheckResult:
    checked: int                          # distinct shapes
    wrong: list                           # (layer name, shape, relative error), worst first
    seconds: float


def check_model(model: keras.Model, batch_size: int, conv=convolve) -> CheckResult:
    """Each distinct convolution shape of `model` computed in bfloat16 and float32, compared."""
    start = time.perf_counter()
    shapes = conv_shapes(model, batch_size)
    wrong = []
    for shape, layer in shapes.items():
        error = relative_bf16_error(shape, conv)
        if not error <= TOLERANCE:
            wrong.append((layer, shape, error))
    wrong.sort(key=lambda item: -item[2])
    return CheckResult(len(shapes), wrong, time.perf_counter() - start)


def verdict(result: CheckResult, model_name: str) -> str | None:
    """None when every shape was right, else one line that says what to do."""
    if not result.wrong:
        return None
    layer, shape, error = result.wrong[0]
    return (f"this CPU computes {len(result.wrong)} of {model_name}'s {result.checked} convolution shapes wrong in "
            f"bfloat16 (worst: layer {layer}, {shape.describe()}, error {error:.3g} x the output's sd); train "
            f"with train.precision=float32, or start with ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 in the "
            f"environment (oneDNN without AMX: right, but slower)")
