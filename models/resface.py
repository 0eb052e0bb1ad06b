"""Resface20 / Resface36 (SphereFace-20/36, Liu et al. 2017), optionally with batch norm as in the
author's TensorFlow code (the article uses BN; its settings come from that code).

Four stages of 64, 128, 256, 512 channels. Each stage opens with a 3x3 stride-2 conv + PReLU and
continues with residual units (conv3x3 -> PReLU -> conv3x3 -> PReLU, added to the unit input).
No pooling: the final 7x6x512 map (7x7x512 at 112x112) is flattened into an FC embedding.
"""

from __future__ import annotations

import keras

from models.layers import BatchNormConfig, conv_bn, embedding_head, pixel_normalization, scaled_channels

STAGE_CHANNELS = (64, 128, 256, 512)
UNITS_PER_STAGE = {20: (1, 2, 4, 1), 36: (2, 4, 8, 2)}

RESIDUAL_INIT_STDDEV = 0.01

# One initializer per layer, made while the model is built: a Keras initializer draws its seed
# once, when it is made, so an instance shared by two layers gives same-shaped kernels the same
# values, and one made at import time ignores the run's seed (keras.utils.set_random_seed).


def caffe_xavier() -> keras.initializers.Initializer:
    """Caffe's "xavier" filler (SphereFace's stage convs and FC): uniform with variance 1 / fan_in,
    i.e. Keras' LeCun uniform, not Glorot's fan-average."""
    return keras.initializers.VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform")


def residual_init() -> keras.initializers.Initializer:
    """The residual units' convs: N(0, 0.01^2), as in the original."""
    return keras.initializers.RandomNormal(stddev=RESIDUAL_INIT_STDDEV)


def resface(
    depth: int,
    image_size=(112, 96),
    embedding_size: int = 512,
    bn: BatchNormConfig = BatchNormConfig(),
    width: float = 1.0,
    dropout_keep: float = 0.8,
) -> keras.Model:
    """Build Resface-`depth` (20 or 36) as a functional Keras model: pixels -> embeddings."""
    if depth not in UNITS_PER_STAGE:
        raise ValueError(f"Resface depth must be one of {sorted(UNITS_PER_STAGE)}, got {depth}")
    images = keras.Input(shape=(*image_size, 3), name="images")
    x = pixel_normalization()(images)
    for stage, (channels, units) in enumerate(zip(STAGE_CHANNELS, UNITS_PER_STAGE[depth], strict=True), start=1):
        filters = scaled_channels(channels, width)
        # Stage convs keep their bias in the original; it is dropped only when BN follows.
        x = conv_bn(
            x,
            filters,
            3,
            bn,
            name=f"stage{stage}_conv",
            strides=2,
            kernel_initializer=caffe_xavier(),
            activation="prelu",
        )
        for unit in range(1, units + 1):
            x = _residual_unit(x, filters, bn, name=f"stage{stage}_unit{unit}")
    x = keras.layers.Flatten(name="flatten")(x)
    embeddings = embedding_head(x, embedding_size, bn, dropout_keep, kernel_initializer=caffe_xavier())
    return keras.Model(images, embeddings, name=f"resface{depth}")


def _residual_unit(x, filters: int, bn: BatchNormConfig, name: str):
    """conv3x3 -> PReLU -> conv3x3 -> PReLU, plus the input; the original's convs have no bias."""
    shortcut = x
    for i in (1, 2):
        x = conv_bn(
            x,
            filters,
            3,
            bn,
            name=f"{name}_conv{i}",
            kernel_initializer=residual_init(),
            bias=False,
            activation="prelu",
        )
    return keras.layers.Add(name=f"{name}_add")([shortcut, x])
