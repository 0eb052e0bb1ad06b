"""MobileFaceNet (Chen et al. 2018): MobileNetV2 bottlenecks with PReLU and a global depthwise conv.

Table 1 of the paper, input 112x112: conv3x3/2 (64) -> depthwise 3x3 (64) -> bottlenecks ->
conv1x1 (512) -> linear GDConv (depthwise, kernel = the whole 7x7 map) -> linear 1x1 to the
embedding. BN after every conv; 0.99 M parameters and 221 M multiply-adds with a 128-d embedding.
"""

from __future__ import annotations

import keras

from models.layers import BatchNormConfig, conv_bn, depthwise_bn, embedding_head, pixel_normalization, scaled_channels

# (expansion t, output channels c, repeats n, first stride s), as in the paper's Table 1.
BOTTLENECKS = [(2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1)]
STEM_CHANNELS = 64
FINAL_CHANNELS = 512


def mobilefacenet(
    image_size=(112, 112),
    embedding_size: int = 512,
    bn: BatchNormConfig = BatchNormConfig(),
    width: float = 1.0,
    dropout_keep: float = 0.8,
) -> keras.Model:
    """Build MobileFaceNet as a functional Keras model: pixels -> embeddings."""
    images = keras.Input(shape=(*image_size, 3), name="images")
    x = pixel_normalization()(images)
    stem = scaled_channels(STEM_CHANNELS, width)
    x = conv_bn(x, stem, 3, bn, name="stem_conv", strides=2, activation="prelu")
    x = depthwise_bn(x, 3, bn, name="stem_dwconv", activation="prelu")
    for group, (expansion, channels, repeats, stride) in enumerate(BOTTLENECKS, start=1):
        for i in range(1, repeats + 1):
            x = _bottleneck(
                x,
                scaled_channels(channels, width),
                expansion,
                stride if i == 1 else 1,
                bn,
                name=f"bottleneck{group}_{i}",
            )
    x = conv_bn(x, scaled_channels(FINAL_CHANNELS, width), 1, bn, name="final_conv", activation="prelu")
    # GDConv: a linear depthwise conv over the whole final map, weighting each position.
    x = depthwise_bn(x, tuple(x.shape[1:3]), bn, name="gdconv", padding="valid")
    x = keras.layers.Flatten(name="flatten")(x)
    embeddings = embedding_head(x, embedding_size, bn, dropout_keep)
    return keras.Model(images, embeddings, name="mobilefacenet")


def _bottleneck(x, channels: int, expansion: int, stride: int, bn: BatchNormConfig, name: str):
    """1x1 expand + PReLU -> depthwise 3x3 + PReLU -> linear 1x1 project (+ input if same shape)."""
    shortcut = x
    x = conv_bn(x, x.shape[-1] * expansion, 1, bn, name=f"{name}_expand", activation="prelu")
    x = depthwise_bn(x, 3, bn, name=f"{name}_dwconv", strides=stride, activation="prelu")
    x = conv_bn(x, channels, 1, bn, name=f"{name}_project")
    if stride == 1 and shortcut.shape[-1] == channels:
        x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return x
