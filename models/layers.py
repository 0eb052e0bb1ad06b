"""Building blocks shared by every backbone: the train/test flag, batch norm modes, conv blocks.

The contract (docs/design.md): `model(images, training=flag)` where `flag` is a Python bool or a
scalar tf.bool tensor, so one traced tf.function serves both modes (the TF2 form of the article's
`is_training` placeholder). Keras 3 passes a tensor `training` down to every layer, but its
BatchNormalization and Dropout branch on it with a Python `if`; the two subclasses below branch
with tf.cond instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from common.choices import BN_DECAY, BN_EPSILON, BN_MODES


def _branch_on_flag(training, train_fn, test_fn):
    """Run `train_fn` or `test_fn` by `training`: Python bool, None (= test) or tf.bool tensor."""
    if training is None:
        return test_fn()
    if isinstance(training, bool):
        return train_fn() if training else test_fn()
    return tf.cond(tf.cast(training, tf.bool), train_fn, test_fn)


@keras.saving.register_keras_serializable(package="facerec")
class FlagBatchNormalization(keras.layers.BatchNormalization):
    """Batch norm driven by a bool or tensor flag.

    Train mode: batch statistics, moving averages updated. Test mode: moving averages, nothing
    updated; or, with `always_batch_stats` (facenet's setting), batch statistics again but still
    nothing updated, because in the TF1 references the update ops only ran with the train op.
    """

    def __init__(self, always_batch_stats: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.always_batch_stats = always_batch_stats

    def call(self, inputs, training=None, mask=None):
        return _branch_on_flag(
            training, lambda: self._normalize(inputs, train=True), lambda: self._normalize(inputs, train=False)
        )

    def _normalize(self, inputs, train: bool):
        if train:
            outputs, mean, variance = self._fused(inputs, training=True)
            self._update_moving_statistics(mean, variance)
            return outputs
        if self.always_batch_stats:
            return self._fused(inputs, training=True)[0]
        return self._fused(inputs, training=False)[0]

    def _fused(self, inputs, training: bool):
        """(outputs, batch mean, biased batch variance) by TensorFlow's fused kernel, one op for
        what Keras 3 does in several (moments, then normalize, each in float32): the fused kernel
        reads bfloat16/float16 activations directly and keeps its statistics in float32. Channels
        last; a 2-D input (the embedding) runs as N x 1 x 1 x C."""
        rank = inputs.shape.rank
        if self.axis not in (-1, rank - 1) or rank not in (2, 4):
            raise ValueError(
                f"{self.name}: batch norm supports channels-last 2-D or 4-D inputs, got rank {rank}, axis {self.axis}"
            )
        x = inputs if rank == 4 else inputs[:, tf.newaxis, tf.newaxis, :]
        if training:
            mean, variance = tf.zeros([0]), tf.zeros([0])
        else:
            mean, variance = self.moving_mean, self.moving_variance
        channels = x.shape[-1]
        scale = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels])
        offset = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels])
        outputs, batch_mean, batch_variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x,
            scale=scale,
            offset=offset,
            mean=tf.cast(mean, tf.float32),
            variance=tf.cast(variance, tf.float32),
            epsilon=self.epsilon,
            exponential_avg_factor=1.0,
            data_format="NHWC",
            is_training=training,
        )
        if rank == 2:
            outputs = outputs[:, 0, 0, :]
        if training:
            # The kernel returns the unbiased variance (n - 1); Keras' moving average uses the biased.
            count = tf.cast(tf.size(x) // tf.shape(x)[-1], tf.float32)
            batch_variance = batch_variance * (count - 1.0) / count
        return outputs, batch_mean, batch_variance

    def _update_moving_statistics(self, mean, variance):
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))

    def get_config(self):
        return {**super().get_config(), "always_batch_stats": self.always_batch_stats}


@keras.saving.register_keras_serializable(package="facerec")
class FlagDropout(keras.layers.Dropout):
    """Dropout that is active only in train mode, for a bool or tensor flag."""

    def call(self, inputs, training=None):
        return _branch_on_flag(
            training, lambda: super(FlagDropout, self).call(inputs, training=True), lambda: tf.identity(inputs)
        )


@dataclass(frozen=True)
class BatchNormConfig:
    """How every backbone normalises: mode plus the settings of the article author's TF code (decay
    0.995, eps 1e-3; the article itself gives none).

    `none` means the original Caffe networks: no BN layers, biases on the convolutions instead.
    """

    mode: str = "switch"
    decay: float = BN_DECAY
    epsilon: float = BN_EPSILON

    def __post_init__(self):
        if self.mode not in BN_MODES:
            raise ValueError(f"unknown bn_mode {self.mode!r}; valid: {', '.join(BN_MODES)}")
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f"bn_decay must be in [0, 1), got {self.decay}")
        if not self.epsilon > 0.0:
            raise ValueError(f"bn_epsilon must be > 0, got {self.epsilon}")

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    def layer(self, name: str) -> FlagBatchNormalization:
        """A BN layer with scale (gamma) and offset (beta), as in the article author's TF code."""
        return FlagBatchNormalization(
            always_batch_stats=self.mode == "always_train",
            momentum=self.decay,
            epsilon=self.epsilon,
            scale=True,
            center=True,
            name=name,
        )


def pixel_normalization(name: str = "pixel_normalization") -> keras.layers.Layer:
    """(x - 127.5) / 128, the first op of every model: pixels arrive as float32 in [0, 255]."""
    return keras.layers.Rescaling(scale=1.0 / 128.0, offset=-127.5 / 128.0, name=name)


def prelu(name: str, initial_slope: float = 0.25) -> keras.layers.PReLU:
    """PReLU with one slope per channel (shared over height and width), 0.25 at start."""
    return keras.layers.PReLU(
        alpha_initializer=keras.initializers.Constant(initial_slope), shared_axes=[1, 2], name=name
    )


def scaled_channels(channels: int, width: float) -> int:
    """round(channels * width), at least 1: the width multiplier for CPU-scale experiments."""
    return max(1, int(round(channels * width)))


def conv_bn(
    x,
    filters: int,
    kernel_size,
    bn: BatchNormConfig,
    name: str,
    strides=1,
    padding: str = "same",
    kernel_initializer="glorot_uniform",
    bias: bool | None = None,
    activation=None,
):
    """Conv -> BN (if on) -> activation.

    `bias=None` means "bias only where there is no BN" (a BN offset makes a bias redundant);
    `activation` is None, "prelu", or a Keras activation name.
    """
    use_bias = (not bn.enabled) if bias is None else bias
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        name=name,
    )(x)
    if bn.enabled:
        x = bn.layer(f"{name}_bn")(x)
    return _activate(x, activation, name)


def depthwise_bn(x, kernel_size, bn: BatchNormConfig, name: str, strides=1, padding: str = "same", activation=None):
    """Depthwise conv -> BN (if on) -> activation (MobileFaceNet)."""
    x = keras.layers.DepthwiseConv2D(kernel_size, strides=strides, padding=padding, use_bias=not bn.enabled, name=name)(
        x
    )
    if bn.enabled:
        x = bn.layer(f"{name}_bn")(x)
    return _activate(x, activation, name)


def embedding_head(
    x,
    embedding_size: int,
    bn: BatchNormConfig,
    dropout_keep: float,
    kernel_initializer="glorot_uniform",
    name: str = "embedding",
):
    """Dropout (train mode only) -> FC -> BN (if on): the un-normalised embedding.

    The article author's TF code puts BN on the FC embedding too, without an FC bias.
    """
    if not 0.0 < dropout_keep <= 1.0:
        raise ValueError(f"dropout_keep must be in (0, 1], got {dropout_keep}")
    if dropout_keep < 1.0:
        x = FlagDropout(rate=1.0 - dropout_keep, name=f"{name}_dropout")(x)
    x = keras.layers.Dense(embedding_size, use_bias=not bn.enabled, kernel_initializer=kernel_initializer, name=name)(x)
    if bn.enabled:
        x = bn.layer(f"{name}_bn")(x)
    # Embeddings leave the model in float32 even under a mixed-precision policy (losses need it).
    return keras.layers.Activation("linear", dtype="float32", name=f"{name}_float32")(x)


def _activate(x, activation, name: str):
    if activation is None:
        return x
    if activation == "prelu":
        return prelu(f"{name}_prelu")(x)
    return keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
