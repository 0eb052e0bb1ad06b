"""Optimizers and weight decay.

Weight decay is an explicit L2 term added to the loss, `wd * sum(w^2) / 2` over every kernel of
the backbone AND the loss head (class weight matrices). This is what the author's TensorFlow code
does (L2 regularisation losses summed into the total loss) and what Caffe's `weight_decay` does to
the gradient (`+ wd * w`), so it is coupled with the learning rate, unlike AdamW-style decay.
The article's TensorFlow setting is Adam without weight decay; the config still allows combining them.

The learning rate is set by the training step from `schedule(step)`, so the schedule follows the
checkpointed global step rather than the optimizer's own counter.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def build_optimizer(name: str, momentum: float = 0.9) -> keras.optimizers.Optimizer:
    """Adam, Momentum (SGD with heavy-ball momentum) or plain SGD; the rate is set per step."""
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=0.0)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate=0.0, momentum=momentum)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=0.0)
    raise ValueError(f"unknown optimizer {name!r}: expected adam, momentum or sgd")


def variable_path(variable) -> str:
    """A variable's full name: Keras 3 `path` (e.g. 'dense/kernel'), else the TF name."""
    return getattr(variable, "path", None) or variable.name


def decayed_variables(variables, exclude: list[str]) -> list:
    """The kernels to decay: rank >= 2 weights whose path contains none of `exclude`.

    Rank >= 2 keeps conv/dense kernels and class weight matrices and leaves out biases and BN
    scales; `exclude` removes other rank >= 2 weights such as PReLU slopes ("alpha").
    """
    return [v for v in variables if len(v.shape) >= 2 and not any(token in variable_path(v) for token in exclude)]


def l2_penalty(variables, weight_decay: float) -> tf.Tensor:
    """`weight_decay * sum(w^2) / 2` over `variables` (tf.nn.l2_loss convention)."""
    if weight_decay == 0.0 or not variables:
        return tf.constant(0.0)
    return weight_decay * tf.add_n([tf.nn.l2_loss(tf.cast(v, tf.float32)) for v in variables])
