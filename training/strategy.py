"""Distribution strategy by name; the same config runs on one CPU, several GPUs or machines.

`mirrored` puts one replica on every local GPU, or, without GPUs, on every logical CPU device
(one unless the CPU was split with `split_cpu`, as the tests do to run several replicas in CI).
`mirrored` + `train.jit_compile` fails on a split CPU (XLA runs every replica's step on the first
logical device, which cannot reach the other replicas' variables); on GPUs it is the path Keras
itself takes, but it is untested here. `multi_worker` reads the cluster from the TF_CONFIG
environment variable (docs/distributed.md); worker 0 (or the task of type `chief`) is the
chief, the only one that writes the run dir.

`train.precision` sets the Keras compute policy: bfloat16 runs natively on GPUs and on CPUs with
AVX-512 BF16 / AMX (elsewhere it is emulated and slower, so a warning says so); float16 is for
GPUs and trains with a loss-scale optimizer.
"""

from __future__ import annotations

import itertools
import warnings

import keras
import tensorflow as tf


def split_cpu(devices: int) -> None:
    """Split the CPU into `devices` logical devices, so MirroredStrategy can put one replica on
    each. They share the same cores and threads: this is for testing the multi-replica path, not
    for speed. Must run before TensorFlow initialises its devices (RuntimeError otherwise)."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(devices)])


def local_replica_devices() -> list[str]:
    """Where `mirrored` puts its replicas: every local GPU, else every logical CPU device."""
    gpus = tf.config.list_logical_devices("GPU")
    return [device.name for device in (gpus or tf.config.list_logical_devices("CPU"))]


# Each MirroredStrategy numbers its collective groups from `_collective_key_base` + 1, and the
# collective runtime remembers a group's instances for the whole process: a second strategy over
# the same devices (tests, benchmarks) would reuse the first one's keys and fail with "Shape
# mismatch in the collective instance". So every strategy made here gets its own range.
_COLLECTIVE_KEY_RANGES = itertools.count()


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        tf.distribute.MirroredStrategy._collective_key_base = 10_000 * next(_COLLECTIVE_KEY_RANGES)
        return tf.distribute.MirroredStrategy(local_replica_devices())
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}: expected default, mirrored or multi_worker")


def worker_role(strategy: tf.distribute.Strategy) -> tuple[bool, int, int]:
    """(is_chief, worker index, number of workers) of this process under `strategy`.

    Without a cluster (default or mirrored strategy) the one process is the chief. In a cluster
    the task of type `chief` is the chief, else worker 0; the index follows MultiWorkerMirrored's
    order (chief first), so the chief holds replica 0.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
    if not cluster:
        return True, 0, 1
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    has_chief = "chief" in cluster
    workers = len(cluster.get("worker", [])) + (1 if has_chief else 0)
    if task_type == "chief":
        return True, 0, workers
    index = task_id + (1 if has_chief else 0)
    return (task_type == "worker" and index == 0), index, workers


def _from_replica_zero(strategy: tf.distribute.Strategy, read, write, returned: bool):
    """In one compiled step: every replica all-reduces replica 0's values (the others add zeros)
    and `write`s the result; returns them (as numpy, replica 0's) when `returned`."""

    @tf.function
    def step():
        def replica_fn():
            context = tf.distribute.get_replica_context()
            first = tf.equal(context.replica_id_in_sync_group, 0)
            values = [tf.where(first, value, tf.zeros_like(value)) for value in read()]
            summed = [None] * len(values)
            for dtype in {value.dtype for value in values}:  # one batched all-reduce per dtype
                rows = [i for i, value in enumerate(values) if value.dtype == dtype]
                for i, value in zip(rows, context.all_reduce("sum", [values[i] for i in rows]), strict=True):
                    summed[i] = value
            write(summed)
            return summed if returned else []

        return strategy.run(replica_fn)

    return [strategy.experimental_local_results(value)[0].numpy() for value in step()]


def chief_value(strategy: tf.distribute.Strategy, value: int) -> int:
    """The chief's `value` on every worker (what the others pass is ignored); one all-reduce.
    Without a cluster, `value` itself."""
    if worker_role(strategy)[2] == 1:
        return value
    return int(_from_replica_zero(strategy, lambda: [tf.constant(value, tf.int64)], lambda _: None, returned=True)[0])


def broadcast_from_chief(strategy: tf.distribute.Strategy, variables) -> None:
    """Set `variables` (Keras or tf variables created under `strategy`) on every worker and
    replica to the chief's values, e.g. after only the chief restored a checkpoint."""
    variables = list(variables)
    summed = [v for v in variables if str(getattr(v, "aggregation", "none")).lower().endswith("sum")]
    if summed:
        raise ValueError(f"cannot broadcast SUM-aggregated variables: {[v.name for v in summed]}")

    def write(values):
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)

    _from_replica_zero(strategy, lambda: [tf.convert_to_tensor(v) for v in variables], write, returned=False)


# The Keras policy of each of common.choices.PRECISIONS (mixed: float32 weights).
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
        warnings.warn(
            "train.precision bfloat16: this CPU has no native bfloat16 (no avx512_bf16 / "
            "amx_bf16 flag); it is emulated and usually slower than float32",
            stacklevel=2,
        )
    if precision == "float16" and not on_gpu:
        warnings.warn("train.precision float16 on CPU is emulated and slow; bfloat16 is the CPU choice", stacklevel=2)
    keras.mixed_precision.set_global_policy(POLICIES[precision])
