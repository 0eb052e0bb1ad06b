"""The small CNN whose last layer is the 2-D (or 3-D) feature being visualised."""

from __future__ import annotations

from collections.abc import Sequence

import keras


def build_feature_net(
    feature_dim: int, widths: Sequence[int] = (32, 64, 128), convs_per_stage: int = 2, seed: int = 0
) -> keras.Model:
    """Stages of `convs_per_stage` 3x3 conv + PReLU then 2x2 max-pool; flatten; FC to features.

    The shape of the MNIST network in the SphereFace paper's visualisation (conv/PReLU stages, a
    linear FC to a tiny feature layer). The features are left un-normalised and without an
    activation: each loss normalises them as its paper does, and their norm is what we measure.
    """
    if feature_dim < 1:
        raise ValueError(f"feature_dim must be >= 1, got {feature_dim}")
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((28, 28, 1), name="digits")
    x = inputs
    layer_seed = seed
    for stage, width in enumerate(widths):
        for conv in range(convs_per_stage):
            layer_seed += 1
            x = keras.layers.Conv2D(
                width, 3, padding="same", kernel_initializer=init(layer_seed), name=f"conv{stage + 1}_{conv + 1}"
            )(x)
            # One slope per channel, shared over space, as in Caffe's PReLU.
            x = keras.layers.PReLU(
                alpha_initializer=keras.initializers.Constant(0.25),
                shared_axes=[1, 2],
                name=f"prelu{stage + 1}_{conv + 1}",
            )(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{stage + 1}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    features = keras.layers.Dense(feature_dim, kernel_initializer=init(layer_seed + 1), name="features")(x)
    return keras.Model(inputs, features, name=f"mnist_feature_net_{feature_dim}d")
