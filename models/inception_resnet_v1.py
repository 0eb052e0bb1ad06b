"""Inception-ResNet-v1, facenet's backbone (Szegedy et al. 2016, as in davidsandberg/facenet).

Stem -> 5 x block35 (scale 0.17) -> reduction A -> 10 x block17 (0.10) -> reduction B ->
5 x block8 (0.20) -> block8 without activation -> global average pool -> dropout -> FC bottleneck
with BN. Every conv is conv -> BN -> ReLU except each block's 1x1 "up" projection, which is linear
with a bias before being scaled and added to the block input.
"""

from __future__ import annotations

import keras

from models.layers import BatchNormConfig, conv_bn, embedding_head, pixel_normalization, scaled_channels

BLOCK_REPEATS = {"block35": 5, "block17": 10, "block8": 5}
RESIDUAL_SCALES = {"block35": 0.17, "block17": 0.10, "block8": 0.20}

# Branches of each residual block: one list of (filters, kernel) per branch, convs in sequence.
BLOCK_BRANCHES = {
    "block35": [[(32, 1)], [(32, 1), (32, 3)], [(32, 1), (32, 3), (32, 3)]],
    "block17": [[(128, 1)], [(128, 1), (128, (1, 7)), (128, (7, 1))]],
    "block8": [[(192, 1)], [(192, 1), (192, (1, 3)), (192, (3, 1))]],
}
# Strided branches of the reductions; the last conv of each has stride 2, 'valid' padding.
REDUCTION_BRANCHES = {
    "reduction_a": [[(384, 3)], [(192, 1), (192, 3), (256, 3)]],
    "reduction_b": [[(256, 1), (384, 3)], [(256, 1), (256, 3)], [(256, 1), (256, 3), (256, 3)]],
}
# Stem: (filters, kernel, stride, padding); "maxpool" is a 3x3 stride-2 valid max pool.
STEM = [
    (32, 3, 2, "valid"),
    (32, 3, 1, "valid"),
    (64, 3, 1, "same"),
    "maxpool",
    (80, 1, 1, "valid"),
    (192, 3, 1, "valid"),
    (256, 3, 2, "valid"),
]


def inception_resnet_v1(
    image_size=(112, 96),
    embedding_size: int = 512,
    bn: BatchNormConfig = BatchNormConfig(),
    width: float = 1.0,
    dropout_keep: float = 0.8,
) -> keras.Model:
    """Build Inception-ResNet-v1 as a functional Keras model: pixels -> embeddings."""
    images = keras.Input(shape=(*image_size, 3), name="images")
    x = pixel_normalization()(images)
    for i, layer in enumerate(STEM, start=1):
        if layer == "maxpool":
            x = keras.layers.MaxPooling2D(3, strides=2, padding="valid", name=f"stem{i}_maxpool")(x)
        else:
            filters, kernel, strides, padding = layer
            x = conv_bn(
                x,
                scaled_channels(filters, width),
                kernel,
                bn,
                name=f"stem{i}_conv",
                strides=strides,
                padding=padding,
                activation="relu",
            )
    x = _repeat_block(x, "block35", bn, width)
    x = _reduction(x, "reduction_a", bn, width)
    x = _repeat_block(x, "block17", bn, width)
    x = _reduction(x, "reduction_b", bn, width)
    x = _repeat_block(x, "block8", bn, width)
    x = _residual_block(x, "block8", bn, width, scale=1.0, activation=None, name="block8_final")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    embeddings = embedding_head(x, embedding_size, bn, dropout_keep)
    return keras.Model(images, embeddings, name="inception_resnet_v1")


def _conv_sequence(x, convs, bn, width, name, last_strides=1, last_padding="same"):
    for i, (filters, kernel) in enumerate(convs, start=1):
        last = i == len(convs)
        x = conv_bn(
            x,
            scaled_channels(filters, width),
            kernel,
            bn,
            name=f"{name}_conv{i}",
            strides=last_strides if last else 1,
            padding=last_padding if last else "same",
            activation="relu",
        )
    return x


def _repeat_block(x, kind, bn, width):
    for i in range(1, BLOCK_REPEATS[kind] + 1):
        x = _residual_block(x, kind, bn, width, scale=RESIDUAL_SCALES[kind], activation="relu", name=f"{kind}_{i}")
    return x


def _residual_block(x, kind, bn, width, scale, activation, name):
    """Inception branches -> concat -> linear 1x1 up-projection, scaled and added to the input."""
    branches = [
        _conv_sequence(x, convs, bn, width, name=f"{name}_branch{b}") for b, convs in enumerate(BLOCK_BRANCHES[kind])
    ]
    mixed = keras.layers.Concatenate(name=f"{name}_concat")(branches)
    up = keras.layers.Conv2D(x.shape[-1], 1, use_bias=True, name=f"{name}_up")(mixed)
    up = keras.layers.Rescaling(scale, name=f"{name}_scale")(up)
    x = keras.layers.Add(name=f"{name}_add")([x, up])
    if activation:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def _reduction(x, kind, bn, width):
    branches = [
        _conv_sequence(x, convs, bn, width, name=f"{kind}_branch{b}", last_strides=2, last_padding="valid")
        for b, convs in enumerate(REDUCTION_BRANCHES[kind])
    ]
    branches.append(keras.layers.MaxPooling2D(3, strides=2, padding="valid", name=f"{kind}_maxpool")(x))
    return keras.layers.Concatenate(name=f"{kind}_concat")(branches)
