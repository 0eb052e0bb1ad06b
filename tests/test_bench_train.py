"""benchmarks/bench_train.py's bfloat16 convolution check, on convolutions known to be right or
wrong (the real one is wrong on some AMX CPUs with TensorFlow 2.21, so it cannot be the fixture)."""
import math

import numpy as np
import tensorflow as tf

from benchmarks.bench_train import CONV_CHECK_TOLERANCE, bf16_conv_errors


def float32_conv(images, kernel, strides, padding):
    """Right in every precision: computes in float32 and returns the input's dtype."""
    out = tf.nn.conv2d(tf.cast(images, tf.float32), tf.cast(kernel, tf.float32), strides, padding)
    return tf.cast(out, tf.convert_to_tensor(images).dtype)


def test_a_right_convolution_shows_only_the_bfloat16_rounding():
    errors = bf16_conv_errors(trials=2, conv=float32_conv)
    # Inputs and kernel rounded to bfloat16 (8 bits of mantissa) and the output rounded again:
    # visible, but far inside the tolerance for outputs of sd ~1.
    assert len(errors) == 2 and all(0.0 < error < CONV_CHECK_TOLERANCE for error in errors)


def test_wrong_or_non_finite_convolutions_are_reported():
    def off_by_one(images, kernel, strides, padding):
        out = float32_conv(images, kernel, strides, padding)
        return out + tf.ones_like(out) if out.dtype == tf.bfloat16 else out

    def nan_in_bfloat16(images, kernel, strides, padding):
        out = float32_conv(images, kernel, strides, padding)
        return out * np.nan if out.dtype == tf.bfloat16 else out

    assert all(abs(error - 1.0) < CONV_CHECK_TOLERANCE for error in bf16_conv_errors(trials=2, conv=off_by_one))
    assert bf16_conv_errors(trials=2, conv=nan_in_bfloat16) == [math.inf, math.inf]
