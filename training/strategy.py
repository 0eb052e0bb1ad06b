"""Distribution strategy by name; the same config runs on one CPU, several GPUs or machines.

`multi_worker` reads the cluster from the TF_CONFIG environment variable (see
experiments/configs/README.md). `train.precision` sets the Keras compute policy: bfloat16 runs
natively on GPUs and on CPUs with AVX-512 BF16 / AMX (elsewhere it is emulated and slower, so a
warning says so); float16 is for GPUs and trains with a loss-scale optimizer.
"""
from __future__ import annotations

import warnings

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


POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
# /proc/cpuinfo flags of native bfloat16 matrix arithmetic on x86.
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_native_bf16(cpuinfo_path: str = "/proc/cpuinfo") -> bool:
    try:
        with open(cpuinfo_path) as handle:
            flags = next((line for line in handle if line.startswith("flags")), "").split()
    except OSError:
        return False
    return any(flag in flags for flag in NATIVE_BF16_CPU_FLAGS)


def set_precision(precision: str) -> None:
    """The global Keras policy for `precision`; warns where the hardware only emulates it."""
    if precision not in POLICIES:
        raise ValueError(f"unknown precision {precision!r}: expected one of {tuple(POLICIES)}")
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    if precision == "bfloat16" and not on_gpu and not cpu_has_native_bf16():
        warnings.warn("train.precision bfloat16: this CPU has no native bfloat16 (no avx512_bf16 / "
                      "amx_bf16 flag); it is emulated and usually slower than float32", stacklevel=2)
    if precision == "float16" and not on_gpu:
        warnings.warn("train.precision float16 on CPU is emulated and slow; bfloat16 is the CPU choice",
                      stacklevel=2)
    keras.mixed_precision.set_global_policy(POLICIES[precision])
