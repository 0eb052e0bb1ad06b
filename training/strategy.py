"""Distribution strategy by name; the same config runs on one CPU, several GPUs or machines.

`multi_worker` reads the cluster from the TF_CONFIG environment variable (see
experiments/configs/README.md). `mixed_precision` applies only where a GPU is present.
"""
from __future__ import annotations

import keras
import tensorflow as tf


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}: expected default, mirrored or multi_worker")


def set_precision(mixed_precision: bool) -> None:
    """mixed_float16 compute on GPU; an error on CPU (no speed-up there, only lost precision)."""
    if mixed_precision:
        if not tf.config.list_physical_devices("GPU"):
            raise RuntimeError("train.mixed_precision: true needs a GPU; none is visible")
        keras.mixed_precision.set_global_policy("mixed_float16")
    else:
        keras.mixed_precision.set_global_policy("float32")
