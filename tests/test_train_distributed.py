"""Several replicas and several workers on one CPU machine.

Replicas: MirroredStrategy over the 2 logical CPU devices that tests/helpers/cpu_devices.py splits the CPU
into (the code path of several GPUs). Workers: two train.py processes on localhost with TF_CONFIG
(MultiWorkerMirroredStrategy), as on two machines sharing the run dir's file system.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.gpu_check import make_lfw_like
from common.paths import REPO_ROOT
from tests.helpers.cpu_devices import CPU_REPLICAS, CPU_SPLIT_ERROR
from tests.helpers.train_support import BASE_CONFIG, tiny_config, tiny_overrides
from training import run_dir as run_dirs
from training.loop import Trainer, build_model, run_training
from training.strategy import broadcast_from_chief

REPLICAS = CPU_REPLICAS
pytestmark = pytest.mark.skipif(
    CPU_SPLIT_ERROR is not None or bool(tf.config.list_physical_devices("GPU")),
    reason=f"needs the CPU split in {REPLICAS} logical devices and no GPU ({CPU_SPLIT_ERROR or 'a GPU is visible'})",
)

# Deterministic steps: no dropout, plain momentum SGD with a visible rate, weight decay on.
EXACT = {
    "model.dropout_keep": 1.0,
    "data.cache": "none",
    "optimizer.name": "momentum",
    "optimizer.weight_decay": 5e-4,
    "optimizer.schedule.values": "[0.1]",
}


def make_trainer(train_dir, run_dir, strategy, **overrides) -> Trainer:
    config = tiny_config(train_dir, run_dir, **{"train.strategy": strategy, **EXACT, **overrides})
    run_dir.mkdir(parents=True, exist_ok=True)
    return Trainer(config, run_dir, run_dir, logging.getLogger("test"))


def replica_copies(variable) -> list[np.ndarray]:
    """Every replica's copy of a (Keras or tf) variable; one entry off a strategy."""
    import keras

    value = variable.value if isinstance(variable, keras.Variable) else variable
    return [np.asarray(v) for v in getattr(value, "values", (value,))]


def same_batch_for(trainer: Trainer, images, labels):
    """The global batch (images, labels) as `trainer`'s strategy hands it to its replicas."""
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(int(images.shape[0]))
    return next(iter(trainer.strategy.experimental_distribute_dataset(dataset)))


def one_and_two_replicas(train_dir, tmp_path, **overrides):
    """(one-device trainer, two-replica trainer with the same weights, the global batch)."""
    one = make_trainer(train_dir, tmp_path / "one", "default", **overrides)
    two = make_trainer(train_dir, tmp_path / "two", "mirrored", **overrides)
    assert two.strategy.num_replicas_in_sync == REPLICAS
    two.model.set_weights(one.model.get_weights())
    two.loss_layer.set_weights(one.loss_layer.get_weights())
    images, labels = next(iter(one.make_dataset(0)))
    return one, two, (images, labels)


@pytest.mark.integration
def test_global_batch_is_split_across_replicas(standin_train_dir, tmp_path):
    trainer = make_trainer(standin_train_dir, tmp_path / "run", "mirrored", **{"model.bn_mode": "none"})
    images, labels = next(iter(trainer.make_dataset(0)))
    shards = trainer.strategy.experimental_local_results(images)
    batch = trainer.config.train.batch_size
    assert [int(shard.shape[0]) for shard in shards] == [batch // REPLICAS] * REPLICAS
    assert [shard.device.split(":")[-1] for shard in shards] == [str(i) for i in range(REPLICAS)]
    assert [int(t.shape[0]) for t in trainer.strategy.experimental_local_results(labels)] == [
        batch // REPLICAS
    ] * REPLICAS
    stats = trainer.train_step(images, labels)
    assert trainer.state.current_step() == 1 and np.isfinite(float(stats["total_loss"]))


@pytest.mark.integration
def test_one_step_on_two_replicas_equals_one_step_on_one(standin_train_dir, tmp_path):
    """BN off: the same global batch gives the same loss and the same updated weights, so the
    per-replica losses and gradients are scaled right and weight decay is counted once."""
    one, two, (images, labels) = one_and_two_replicas(standin_train_dir, tmp_path, **{"model.bn_mode": "none"})
    before = one.model.get_weights()
    stats_one = one.train_step(images, labels)
    stats_two = two.train_step(*same_batch_for(two, images, labels))
    for name in ("total_loss", "loss", "weight_decay_loss", "batch_accuracy"):
        np.testing.assert_allclose(float(stats_two[name]), float(stats_one[name]), rtol=1e-5, err_msg=name)
    moved = 0
    for old, new_one, variable in zip(before, one.model.get_weights(), two.model.weights, strict=True):
        # Compare the updates, not only the weights: a wrong scale of the gradient shows here. An
        # element's gradient is a sum of cancelling terms summed in another order on two replicas,
        # so its round-off scales with the variable's updates, not with its own (seen: 2.5e-7 on an
        # update of 1.4e-5); hence an absolute tolerance of 1e-3 of the variable's largest update.
        atol = 1e-3 * float(np.abs(new_one - old).max()) + 1e-9
        for copy in replica_copies(variable):
            np.testing.assert_allclose(copy - old, new_one - old, rtol=1e-3, atol=atol, err_msg=variable.path)
        moved += int(np.abs(new_one - old).max() > 1e-6)
    assert moved > len(before) // 2  # the step did move the weights
    for a, b in zip(one.loss_layer.get_weights(), two.loss_layer.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
    assert one.state.current_step() == two.state.current_step() == 1


@pytest.mark.integration
def test_batch_norm_normalises_per_replica_and_moving_statistics_stay_in_sync(standin_train_dir, tmp_path):
    """BN switch on 2 replicas: each replica normalises with the statistics of its half of the
    batch (the loss is the mean of the two halves' losses, each half run alone), and the moving
    mean/variance are the average of what each replica alone would have, equal on both copies."""
    one, two, (images, labels) = one_and_two_replicas(standin_train_dir, tmp_path, **{"model.bn_mode": "switch"})
    shards = two.strategy.experimental_local_results(same_batch_for(two, images, labels)[0])
    half = int(images.shape[0]) // REPLICAS
    np.testing.assert_array_equal(shards[1].numpy(), images[half : 2 * half].numpy())
    # Each replica alone: a probe model with the same weights, one half batch in train mode.
    probes, half_losses = [], []
    for r in range(REPLICAS):
        probe = build_model(two.config)
        probe.set_weights(one.model.get_weights())
        rows = slice(r * half, (r + 1) * half)
        embeddings = probe(images[rows], training=True)
        half_losses.append(float(one.loss_layer(embeddings, labels[rows], step=0)["loss"]))
        probes.append(probe)
    stats_two = two.train_step(*same_batch_for(two, images, labels))
    stats_one = one.train_step(images, labels)
    np.testing.assert_allclose(float(stats_two["loss"]), np.mean(half_losses), rtol=1e-5)
    assert abs(float(stats_two["loss"]) - float(stats_one["loss"])) > 1e-3  # not the global-batch BN
    statistics = [v for v in two.model.non_trainable_variables if "moving" in v.path]
    assert len(statistics) > 10
    alone = [{v.path: np.asarray(v.value) for v in probe.non_trainable_variables} for probe in probes]
    for variable in statistics:
        copies = replica_copies(variable)
        np.testing.assert_array_equal(copies[0], copies[1], err_msg=variable.path)
        expected = np.mean([values[variable.path] for values in alone], axis=0)
        np.testing.assert_allclose(copies[0], expected, rtol=1e-4, atol=1e-6, err_msg=variable.path)
    # The first BN layer sees the same input on one device: equal moving mean (the mean of the
    # halves' means), a moving variance no larger (the mean of the halves' variances).
    first_mean, first_var = statistics[0], statistics[1]
    assert first_mean.name == "moving_mean" and first_var.name == "moving_variance"
    single = {v.path: np.asarray(v.value) for v in one.model.non_trainable_variables}
    np.testing.assert_allclose(replica_copies(first_mean)[0], single[first_mean.path], rtol=1e-4, atol=1e-6)
    assert np.all(replica_copies(first_var)[0] <= single[first_var.path] + 1e-6)


def checkpoint_values(path) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(str(path))
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if name != "_CHECKPOINTABLE_OBJECT_GRAPH"
    }


@pytest.mark.integration
@pytest.mark.slow  # trains, exports and restores on both strategies
def test_checkpoints_move_between_two_replicas_and_one(standin_train_dir, tmp_path):
    """A run trained on 2 replicas (run_training, LFW check and export included) resumes on 1,
    then on 2 again:
    the run dir accepts the changed train.strategy, each restore brings back every saved value
    (weights, BN statistics, optimizer slots, step) on every replica, and training goes on."""
    run_dir = tmp_path / "run"
    lfw_dir, pairs = make_lfw_like(tmp_path)  # a generated 2-fold LFW for the in-training check

    def config(strategy, steps):
        return tiny_config(
            standin_train_dir,
            run_dir,
            **{
                **EXACT,
                "model.bn_mode": "switch",
                "train.strategy": strategy,
                "train.max_steps": steps,
                "eval.lfw_every_steps": 2,
                "eval.lfw_dir": str(lfw_dir),
                "eval.pairs": str(pairs),
                "eval.folds": 2,
            },
        )

    summary = run_training(config("mirrored", 2))
    assert summary["steps"] == 2 and (run_dir / "export" / "embedder").is_dir()
    assert summary["lfw"]["num_folds"] == 2 and 0.0 <= summary["lfw"]["accuracy_mean"] <= 1.0
    saved_config = (run_dir / "config.yaml").read_text()
    other = config("default", 2)
    other.seed = 5
    with pytest.raises(run_dirs.RunDirError, match="seed: 0 -> 5"):  # only the strategy may change
        run_dirs.prepare(other, run_dir)
    assert (run_dir / "config.yaml").read_text() == saved_config
    for strategy, steps in (("default", 3), ("mirrored", 4)):
        assert run_dirs.prepare(config(strategy, steps), run_dir) == "resume"
        assert f"strategy: {strategy}" in (run_dir / "config.yaml").read_text()
        saved = checkpoint_values(tf.train.latest_checkpoint(str(run_dir / "checkpoints")))
        trainer = Trainer(config(strategy, steps), run_dir, run_dir, logging.getLogger("test"))
        assert trainer.restore() == steps - 1
        assert trainer.strategy.num_replicas_in_sync == (REPLICAS if strategy == "mirrored" else 1)
        # Written back out, the restored state is the saved one, name by name.
        rewritten = checkpoint_values(trainer.checkpoint.write(str(tmp_path / f"check_{strategy}")))
        assert rewritten.keys() == saved.keys() and len(saved) > 100
        for name, value in saved.items():
            np.testing.assert_array_equal(rewritten[name], value, err_msg=name)
        for variable in trainer.model.variables:  # and every replica holds it
            copies = replica_copies(variable)
            assert all(np.array_equal(copy, copies[0]) for copy in copies), variable.path
        stats = trainer.train_step(*next(iter(trainer.make_dataset(steps - 1))))
        assert np.isfinite(float(stats["total_loss"])) and trainer.state.current_step() == steps
        trainer.save()
    assert tf.train.latest_checkpoint(str(run_dir / "checkpoints")).endswith("ckpt-4")


def test_broadcast_from_chief_gives_every_replica_replica_0s_values(tmp_path):
    """What a restarted multi-worker run relies on (only the chief restores the checkpoint)."""
    import keras

    from training.strategy import make_strategy

    strategy = make_strategy("mirrored")
    with strategy.scope():
        weight = keras.Variable(np.zeros((3,), np.float32))  # aggregation none: per-copy updates
        counter = tf.Variable(0, dtype=tf.int64, aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    @tf.function
    def diverge():
        def replica_fn():
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            weight.assign(tf.fill([3], tf.cast(replica, tf.float32) + 1.0))

        strategy.run(replica_fn)

    diverge()
    counter.assign(7)
    assert [c.tolist() for c in replica_copies(weight)] == [[1, 1, 1], [2, 2, 2]]
    broadcast_from_chief(strategy, [weight, counter])
    assert [c.tolist() for c in replica_copies(weight)] == [[1, 1, 1], [1, 1, 1]]
    assert [int(c) for c in replica_copies(counter)] == [7, 7]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("localhost", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def launch_workers(command, log_dir: Path, tag: str, workers: int = 2) -> list[subprocess.Popen]:
    """`workers` train.py processes of one cluster on localhost; output to log_dir/<tag><i>.log."""
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(workers)]}
    processes = []
    for index in range(workers):
        env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        }
        with open(log_dir / f"{tag}{index}.log", "w") as out:
            processes.append(subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
    return processes


@pytest.mark.integration
@pytest.mark.slow  # four train.py processes
def test_two_workers_only_the_chief_writes_and_a_killed_run_resumes(standin_train_dir, tmp_path):
    """Two train.py workers, one run dir: worker 1 writes into a scratch dir of its own (removed
    at the end), never into the run dir. SIGKILL worker 1 after the first checkpoint: the chief
    stops with a one-line error; both restarted with the same command resume from the chief's
    last checkpoint (worker 1 takes the chief's state) and finish."""
    run_dir = tmp_path / "run"
    overrides = tiny_overrides(
        standin_train_dir,
        run_dir,
        **{
            "train.strategy": "multi_worker",
            "train.max_steps": 30,
            "train.checkpoint_every_steps": 10,
            "data.cache": "none",
        },
    )
    command = [sys.executable, "train.py", "--config", str(BASE_CONFIG)] + [
        arg for override in overrides for arg in ("--set", override)
    ]

    first = launch_workers(command, tmp_path, "first")
    deadline = time.time() + 240
    while not (run_dir / "checkpoints" / "ckpt-10.index").exists():
        assert all(p.poll() is None for p in first) and time.time() < deadline, "workers died or stalled"
        time.sleep(0.2)
    first[1].send_signal(signal.SIGKILL)
    first[1].wait()
    try:
        assert first[0].wait(timeout=120) == 2  # the chief notices and stops by itself (WorkerLostError)
    finally:
        first[0].kill()
    chief_output = (tmp_path / "first0.log").read_text()
    assert re.search(r"^train\.py: error: worker 0 of 2 lost the others .*restart every worker", chief_output, re.M)
    assert not (run_dir / "DONE.json").exists()

    second = launch_workers(command, tmp_path, "second")
    for process in second:
        process.wait(timeout=300)
    outputs = [(tmp_path / f"second{i}.log").read_text() for i in range(2)]
    assert [p.returncode for p in second] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    log = (run_dir / "train.log").read_text()
    resumed = int(re.findall(r"resumed from .*ckpt-(\d+) at step \1", log)[-1])
    assert resumed >= 10
    assert f"worker 1: took the chief's state at step {resumed}" in outputs[1]
    # Each step logged once in the run dir (worker 1 never wrote there), continuing the run.
    steps = [int(s) for s in re.findall(r"step (\d+)/30 loss", log.split("resumed from")[-1])]
    assert steps == list(range(resumed + 5, 31, 5))
    assert json.loads((run_dir / "DONE.json").read_text())["steps"] == 30
    scratch = [
        Path(line.split("files go to ")[1].split(" (removed")[0])
        for line in (tmp_path / "first1.log").read_text().splitlines() + outputs[1].splitlines()
        if "this worker's files go to" in line
    ]
    assert len(scratch) == 2 and not scratch[1].exists()  # the finished run's scratch is gone
    shutil.rmtree(scratch[0], ignore_errors=True)  # the killed worker could not remove its own
    assert all(run_dir not in path.parents for path in scratch)
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(
        [
            "DONE.json",
            "checkpoints",
            "config.yaml",
            "export",
            "file_list.tsv",
            "git.diff",
            "git.txt",
            "labels.txt",
            "tensorboard",
            "train.log",
        ]
    )
