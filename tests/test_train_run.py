"""Whole runs on a handful of real identities: run dir, resume after SIGKILL, NaN stop, EMA export."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import models
from common.paths import REPO_ROOT
from tests.helpers.train_support import BASE_CONFIG, tiny_config, tiny_overrides
from training import run_dir as run_dirs
from training.clock import CLOCK_KEY, CLOCK_NAME, UNKNOWN_TIME, checkpoint_has_clock
from training.config import load_config
from training.loop import NonFiniteLossError, Trainer, run_training


def train_command(train_dir, run_dir, **extra):
    overrides = tiny_overrides(train_dir, run_dir, **extra)
    return [sys.executable, "train.py", "--config", str(BASE_CONFIG)] + [
        arg for override in overrides for arg in ("--set", override)
    ]


def logged_steps(run_dir):
    """[(step, loss)] of every 'step N/M loss L' line of train.log, in order."""
    text = (run_dir / "train.log").read_text()
    return [(int(s), float(l)) for s, l in re.findall(r"step (\d+)/\d+ loss ([\d.]+)", text)]


@pytest.mark.integration
@pytest.mark.slow  # two train.py processes
def test_sigkill_then_rerun_resumes_from_last_checkpoint(standin_train_dir, tmp_path):
    run_dir = tmp_path / "run"
    command = train_command(
        standin_train_dir,
        run_dir,
        **{"train.max_steps": 60, "train.checkpoint_every_steps": 10, "train.ema_decay": 0.9},
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (run_dir / "checkpoints" / "ckpt-20.index").exists():
        assert process.poll() is None and time.time() < deadline, "first run died or stalled"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = max(step for step, _ in logged_steps(run_dir))
    assert killed_at < 60 and not (run_dir / "DONE.json").exists()

    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    log = (run_dir / "train.log").read_text()
    resumed_at = int(re.search(r"resumed from .*ckpt-(\d+) at step (\d+)", log).group(2))
    assert 20 <= resumed_at <= killed_at
    steps = [step for step, _ in logged_steps(run_dir)]
    after = steps[steps.index(killed_at) + 1 :]
    assert after == list(range(resumed_at + 5, 61, 5))  # continues, never restarts at step 5
    # Optimizer and EMA state came back: Adam's own counter equals the global step.
    reader = tf.train.load_checkpoint(str(run_dir / "checkpoints"))
    names = {name for name, _ in tf.train.list_variables(str(run_dir / "checkpoints"))}
    assert reader.get_tensor("state/step/.ATTRIBUTES/VARIABLE_VALUE") == 60
    assert reader.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 60
    assert any(name.startswith("ema/shadows") for name in names)
    summary = json.loads((run_dir / "DONE.json").read_text())
    assert summary["steps"] == 60
    # What the results tables read: this command's steps and minutes (the run was resumed).
    assert summary["steps_this_session"] == 60 - resumed_at and 0 < summary["train_minutes"] < 30
    for name in (
        "config.yaml",
        "labels.txt",
        "file_list.tsv",
        "git.txt",
        "git.diff",
        "export/embedder",
        "export/model_info.json",
        "tensorboard",
    ):
        assert (run_dir / name).exists(), name
    assert len(list((run_dir / "tensorboard").glob("events.out.tfevents.*"))) >= 2

    # The same config again: the finished run is left alone (checked in-process, no retraining).
    before = (run_dir / "DONE.json").read_text()
    config = load_config(
        BASE_CONFIG,
        tiny_overrides(
            standin_train_dir,
            run_dir,
            **{"train.max_steps": 60, "train.checkpoint_every_steps": 10, "train.ema_decay": 0.9},
        ),
    )
    assert run_training(config)["status"] == "finished"
    assert (run_dir / "DONE.json").read_text() == before


@pytest.mark.integration
def test_non_finite_loss_stops_naming_the_step_and_keeps_last_good_checkpoint(standin_train_dir, tmp_path):
    # A huge rate from step index 12 on: the 13th update makes the weights overflow, so the loss
    # of the 14th step (log numbering "step 14") is NaN.
    config = tiny_config(
        standin_train_dir,
        tmp_path / "run",
        **{
            "optimizer.name": "sgd",
            "model.bn_mode": "none",
            "train.max_steps": 40,
            "train.log_every_steps": 1,
            "train.checkpoint_every_steps": 5,
            "optimizer.schedule.boundaries": "[12]",
            "optimizer.schedule.values": "[0.001, 3.0e+38]",
        },
    )
    with pytest.raises(NonFiniteLossError, match=r"at step 14; .*ckpt-10") as stopped:
        run_training(config)
    assert "precision" not in str(stopped.value)  # a run that diverged later gets no bfloat16 hint
    written = json.loads((tmp_path / "run" / "STOPPED.json").read_text())
    assert (written["step"], written["message"]) == (14, str(stopped.value))  # what the tables read
    checkpoints = tmp_path / "run" / "checkpoints"
    assert tf.train.latest_checkpoint(str(checkpoints)).endswith("ckpt-10")
    for name, _ in tf.train.list_variables(str(checkpoints)):
        value = tf.train.load_checkpoint(str(checkpoints)).get_tensor(name)
        if isinstance(value, bytes):  # the object graph
            continue
        assert np.all(np.isfinite(value.astype(np.float64))), name
    assert not (tmp_path / "run" / "DONE.json").exists()


@pytest.mark.integration
def test_a_collapsed_run_warns_once_and_goes_on(standin_train_dir, tmp_path):
    # One step at LR 10 without BN leaves a network whose every cosine is 0 (collapsed in 6 seeds of
    # 6 tried): each batch's AM-softmax loss (s = 30, m = 0.35, 4 classes) is then
    # ln(3 + e^-10.5) + 10.5 = 11.5986, the regime set's no-BN collapse in miniature.
    config = tiny_config(
        standin_train_dir,
        tmp_path / "run",
        **{
            "optimizer.name": "sgd",
            "model.bn_mode": "none",
            "train.max_steps": 30,
            "train.log_every_steps": 1,
            "optimizer.schedule.boundaries": "[3, 4]",
            "optimizer.schedule.values": "[0.001, 10.0, 0.001]",
        },
    )
    assert (config.loss.hparams["scale"], config.loss.hparams["margin"]) == (30.0, 0.35)
    run_training(config)
    frozen = math.log(3 + math.exp(-10.5)) + 10.5
    losses = dict(logged_steps(tmp_path / "run"))
    assert losses[30] == pytest.approx(frozen, abs=1e-4)
    since = min(step for step in losses if all(abs(losses[s] - frozen) < 1e-4 for s in range(step, 31)))
    warnings = re.findall(
        r"step (\d+): the loss has been ([\d.]+) at every log since step (\d+)",
        (tmp_path / "run" / "train.log").read_text(),
    )
    assert warnings == [(str(since + 9), f"{frozen:.6g}", str(since))]
    assert (tmp_path / "run" / "DONE.json").exists()  # warned, not stopped


@pytest.mark.integration
def test_a_first_step_non_finite_in_bfloat16_on_cpu_points_at_float32(standin_train_dir, tmp_path):
    # An infinite AM-softmax scale makes the very first loss NaN, before any update: on a CPU in
    # bfloat16 that is what oneDNN's wrong convolutions look like, and the error says what to do.
    config = tiny_config(
        standin_train_dir,
        tmp_path / "run",
        **{"train.precision": "bfloat16", "loss.hparams.scale": ".inf", "train.log_every_steps": 1},
    )
    with pytest.raises(NonFiniteLossError, match=r"at step 1; .*none \(no checkpoint.*train\.precision=float32$"):
        run_training(config)


@pytest.mark.integration
def test_export_holds_the_ema_weights(standin_train_dir, tmp_path):
    config = tiny_config(standin_train_dir, tmp_path / "run", **{"train.ema_decay": 0.5, "model.bn_mode": "none"})
    (tmp_path / "run").mkdir()
    trainer = Trainer(config, tmp_path / "run", tmp_path, logging.getLogger("test"))
    iterator = iter(trainer.make_dataset(0))
    for _ in range(5):
        trainer.train_step(*next(iterator))
    images = np.random.default_rng(0).uniform(0, 255, (4, 112, 96, 3)).astype(np.float32)
    live = trainer.model(images, training=False).numpy()
    with trainer.ema.swapped_in():
        averaged = trainer.model(images, training=False).numpy()
    np.testing.assert_array_equal(trainer.model(images, training=False).numpy(), live)  # swapped back
    assert not np.allclose(live, averaged, atol=1e-4)
    exported = models.load_embedder(trainer.export())
    np.testing.assert_allclose(np.asarray(exported(images)), averaged, rtol=1e-4, atol=1e-5)


@pytest.mark.integration
def test_train_until_runs_the_real_loop_to_the_step_and_extends_it(standin_train_dir, tmp_path):
    """The public seam the benchmarks drive: train.py's loop, stopping at the step it is given and
    checkpointing there; a second call goes on from it."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    trainer = Trainer(tiny_config(standin_train_dir, run_dir), run_dir, tmp_path, logging.getLogger("test"))
    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))
    first = trainer.train_until(6, writer)
    assert trainer.state.current_step() == 6 and first["steps_this_session"] == 6
    assert trainer.manager.latest_checkpoint.endswith("ckpt-6")
    second = trainer.train_until(9, writer)
    assert trainer.state.current_step() == 9 and second["steps_this_session"] == 3
    assert trainer.manager.latest_checkpoint.endswith("ckpt-9")


def test_different_config_into_existing_run_dir_is_refused_unless_overwrite(standin_train_dir, tmp_path):
    run_dir = tmp_path / "run"
    first = tiny_config(standin_train_dir, run_dir)
    assert run_dirs.prepare(first, run_dir) == "new"
    assert run_dirs.prepare(first, run_dir) == "new"  # no checkpoint yet: starts afresh
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-10"\n')
    assert run_dirs.prepare(first, run_dir) == "resume"
    fewer_steps = tiny_config(standin_train_dir, run_dir, **{"train.max_steps": 10})
    with pytest.raises(run_dirs.RunDirError, match=r"train.max_steps: 20 -> 10"):
        run_dirs.prepare(fewer_steps, run_dir)
    other = tiny_config(standin_train_dir, run_dir, **{"train.max_steps": 99, "seed": 7})
    with pytest.raises(run_dirs.RunDirError, match=r"seed: 0 -> 7"):
        run_dirs.prepare(other, run_dir)
    assert run_dirs.prepare(other, run_dir, overwrite=True) == "new"
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("run.replaced-")]
    assert len(aside) == 1 and (aside[0] / "config.yaml").exists()  # the old run is kept


@pytest.mark.integration
def test_finished_run_is_extended_by_raising_max_steps(standin_train_dir, tmp_path):
    run_dir = tmp_path / "run"
    run_training(tiny_config(standin_train_dir, run_dir, **{"train.max_steps": 10}))
    first_done = json.loads((run_dir / "DONE.json").read_text())
    run_training(tiny_config(standin_train_dir, run_dir, **{"train.max_steps": 15}))
    assert json.loads((run_dir / "DONE.step10.json").read_text()) == first_done  # kept
    assert (run_dir / "export.step10" / "embedder" / "saved_model.pb").is_file()
    assert (run_dir / "export" / "embedder" / "saved_model.pb").is_file()
    assert load_config(run_dir / "config.yaml").train.max_steps == 15
    steps = [step for step, _ in logged_steps(run_dir)]
    assert steps == [5, 10, 15]  # went on from step 10, did not start again
    assert tf.train.latest_checkpoint(str(run_dir / "checkpoints")).endswith("ckpt-15")


def clock_seconds(checkpoint) -> float:
    return float(tf.train.load_checkpoint(str(checkpoint)).get_tensor(CLOCK_KEY))


@pytest.mark.integration
def test_an_extended_run_is_timed_over_all_its_sessions(standin_train_dir, tmp_path):
    run_dir = tmp_path / "run"
    first = run_training(tiny_config(standin_train_dir, run_dir, **{"train.max_steps": 10}))
    assert first["total_train_minutes"] == first["train_minutes"]  # one session: the same count
    before = clock_seconds(run_dir / "checkpoints" / "ckpt-10")
    assert 0 < before <= first["train_minutes"] * 60 + 0.6  # saved before the final export
    second = run_training(tiny_config(standin_train_dir, run_dir, **{"train.max_steps": 15}))
    assert second["steps_this_session"] == 5
    assert second["total_train_minutes"] == pytest.approx(before / 60 + second["train_minutes"], abs=0.011)
    assert clock_seconds(run_dir / "checkpoints" / "ckpt-15") > before


@pytest.mark.integration
def test_a_run_resumed_from_a_checkpoint_without_clock_has_no_total_time(standin_train_dir, tmp_path):
    run_dir = tmp_path / "run"
    run_training(tiny_config(standin_train_dir, run_dir, **{"train.max_steps": 10}))
    # Rewrite step 10 as a run from before the clock wrote it: everything but the clock.
    trainer = Trainer(
        tiny_config(standin_train_dir, run_dir, **{"train.max_steps": 10}), run_dir, tmp_path, logging.getLogger("test")
    )
    trainer.restore()
    untimed = {name: value for name, value in trainer.tracked.items() if name != CLOCK_NAME}
    tf.train.CheckpointManager(tf.train.Checkpoint(**untimed), str(run_dir / "checkpoints"), max_to_keep=1).save(
        checkpoint_number=10
    )
    assert not checkpoint_has_clock(str(run_dir / "checkpoints" / "ckpt-10"))

    second = run_training(tiny_config(standin_train_dir, run_dir, **{"train.max_steps": 15}))
    assert second["steps"] == 15 and second["total_train_minutes"] is None  # resumed, time unknown
    assert clock_seconds(run_dir / "checkpoints" / "ckpt-15") == UNKNOWN_TIME  # and stays unknown


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("overrides", [{"train.strategy": "mirrored"}, {"train.jit_compile": "true"}])
def test_mirrored_strategy_and_xla_steps_run(standin_train_dir, tmp_path, overrides):
    """The distributed (MirroredStrategy, two replicas on the CPU split by conftest) and XLA paths."""
    config = tiny_config(standin_train_dir, tmp_path / "run", **{"model.bn_mode": "none", **overrides})
    (tmp_path / "run").mkdir()
    trainer = Trainer(config, tmp_path / "run", tmp_path, logging.getLogger("test"))
    iterator = iter(trainer.make_dataset(0))
    losses = [float(trainer.train_step(*next(iterator))["total_loss"]) for _ in range(3)]
    assert trainer.state.current_step() == 3 and np.all(np.isfinite(losses))


@pytest.mark.integration
def test_bfloat16_step_is_close_to_float32_and_exports_in_float32(standin_train_dir, tmp_path):
    """Same weights, same batch: the bf16 loss is within bf16 rounding of the fp32 loss; the export of
    a bf16 run computes in float32 (it equals the float32 model on the same weights)."""
    import keras

    losses = {}
    trainers = {}
    for precision in ("float32", "bfloat16"):
        run_dir = tmp_path / precision
        run_dir.mkdir()
        config = tiny_config(
            standin_train_dir,
            run_dir,
            **{"train.precision": precision, "model.bn_mode": "none", "data.cache": "none", "model.dropout_keep": 1.0},
        )
        trainer = Trainer(config, run_dir, tmp_path, logging.getLogger("test"))
        trainers[precision] = trainer
    keras.mixed_precision.set_global_policy("float32")
    reference, mixed = trainers["float32"], trainers["bfloat16"]
    assert mixed.model.layers[-1].dtype_policy.name == "float32"
    mixed.model.set_weights(reference.model.get_weights())
    mixed.loss_layer.set_weights(reference.loss_layer.get_weights())
    images, labels = next(iter(reference.make_dataset(0)))
    for precision, trainer in trainers.items():
        losses[precision] = float(trainer.train_step(images, labels)["total_loss"])
    assert np.isfinite(losses["bfloat16"])
    np.testing.assert_allclose(losses["bfloat16"], losses["float32"], rtol=0.05)
    exported = models.load_embedder(mixed.export())
    batch = np.random.default_rng(1).uniform(0, 255, (4, 112, 96, 3)).astype(np.float32)
    reference.model.set_weights(mixed.model.get_weights())
    np.testing.assert_allclose(
        np.asarray(exported(batch)), reference.model(batch, training=False).numpy(), rtol=1e-4, atol=1e-5
    )


@pytest.mark.integration
@pytest.mark.slow  # two train.py processes
def test_the_same_seed_repeats_a_run_in_a_new_process(standin_train_dir, tmp_path):
    # Each run of `experiments/run.py --seeds` is its own process: what the seed decides must not
    # depend on anything drawn before it is set (the config check imports the backbones first).
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    losses = []
    for name in ("a", "b"):
        command = train_command(
            standin_train_dir, tmp_path / name, **{"seed": 3, "train.max_steps": 4, "train.log_every_steps": 1}
        )
        done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        losses.append(logged_steps(tmp_path / name))
    assert len(losses[0]) == 4 and losses[0] == losses[1]


@pytest.mark.integration
def test_seed_changes_initial_weights_data_order_and_flips(standin_train_dir, tmp_path):
    """What `experiments/run.py --seeds` relies on: the same seed repeats a run's randomness, another
    seed changes the initial weights, the batch order and which images are flipped."""
    from input_pipeline.datasets import cached_single_image_dataset

    built = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        run_dir = tmp_path / name
        run_dir.mkdir()
        config = tiny_config(standin_train_dir, run_dir, **{"seed": seed, "data.cache": "memory"})
        trainer = Trainer(config, run_dir, tmp_path, logging.getLogger("test"))
        images, labels = next(iter(trainer.make_dataset(0)))
        built[name] = (trainer, images.numpy(), labels.numpy())
    weights = {
        name: np.concatenate([w.ravel() for w in trainer.model.get_weights()])
        for name, (trainer, _, _) in built.items()
    }
    np.testing.assert_array_equal(weights["a"], weights["b"])
    assert not np.allclose(weights["a"], weights["c"])
    np.testing.assert_array_equal(built["a"][1], built["b"][1])
    np.testing.assert_array_equal(built["a"][2], built["b"][2])
    assert not np.array_equal(built["a"][2], built["c"][2])
    decoded = built["a"][0].source.decoded
    originals = {image.astype(np.float32).tobytes(): i for i, image in enumerate(decoded.images.numpy())}

    def flipped_by_index(seed):
        images, _ = next(iter(cached_single_image_dataset(decoded, len(decoded.images), seed=seed)))
        flips = {}
        for image in images.numpy():
            index = originals.get(image.tobytes())
            if index is None:
                index = originals[image[:, ::-1].tobytes()]
            flips[index] = image.tobytes() not in originals
        return [flips[i] for i in range(len(decoded.images))]

    assert flipped_by_index(0) == flipped_by_index(0)
    assert flipped_by_index(0) != flipped_by_index(1)


@pytest.mark.integration  # trains
def test_a_run_stopped_before_its_first_checkpoint_restarts_cleanly(standin_train_dir, tmp_path):
    """Issue 39's probe: a start that wrote config.yaml but died before labels.txt (data not
    aligned yet, or SIGTERM during start-up) made every rerun fail on the missing labels.txt."""
    run_dir = tmp_path / "run"
    config = tiny_config(standin_train_dir, run_dir, **{"train.max_steps": 5})
    assert run_dirs.prepare(config, run_dir) == "new"  # ... and then the process died
    summary = run_training(config)
    assert summary["status"] == "done" and summary["steps"] == 5
    assert (run_dir / "labels.txt").read_text().splitlines() == sorted(
        p.name for p in standin_train_dir.iterdir() if p.is_dir()
    )


@pytest.mark.integration  # a second process holds the lock
def test_a_second_writer_on_a_run_dir_is_refused_naming_the_holder(standin_train_dir, tmp_path):
    from common.dir_lock import FolderInUseError

    run_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from common.dir_lock import exclusive_folder\n"
            f"with exclusive_folder({str(run_dir)!r}, 'x'):\n print('held', flush=True); time.sleep(60)",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderInUseError, match=rf"in use by process {holder.pid}\b"):
            run_training(tiny_config(standin_train_dir, run_dir))
        assert not run_dir.exists()  # refused before anything was written
    finally:
        holder.kill()
        holder.wait()


def lfw_stand_in(monkeypatch, evaluate):
    """The in-training LFW check replaced by `evaluate(trainer)` (the evaluator itself is not
    built), so a test decides what the check does."""
    import training.loop as loop

    monkeypatch.setattr(loop, "build_check_evaluators", lambda config, data_dir: {"lfw": object()})
    monkeypatch.setattr(loop.Trainer, "evaluate", lambda trainer, name: evaluate(trainer))


@pytest.mark.integration  # trains
def test_a_failing_lfw_check_is_logged_and_training_goes_on(standin_train_dir, tmp_path, monkeypatch):
    def broken(trainer):
        raise RuntimeError("pairs file vanished")

    lfw_stand_in(monkeypatch, broken)
    run_dir = tmp_path / "run"
    summary = run_training(
        tiny_config(
            standin_train_dir,
            run_dir,
            **{"train.max_steps": 10, "eval.lfw_every_steps": 5, "train.checkpoint_every_steps": 5},
        )
    )
    assert summary["status"] == "done" and summary["steps"] == 10 and summary["lfw"] is None
    log = (run_dir / "train.log").read_text()
    assert "step 5 lfw check failed; training goes on" in log and "pairs file vanished" in log
    assert (run_dir / "checkpoints" / "ckpt-5.index").is_file()  # the checkpoint due at step 5


@pytest.mark.integration  # trains
def test_a_stop_signal_abandons_a_long_lfw_check_at_once(standin_train_dir, tmp_path, monkeypatch):
    def slow(trainer):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(600):  # a minute-long check, in short native waits
            time.sleep(0.1)
        raise AssertionError("the check was not interrupted")

    lfw_stand_in(monkeypatch, slow)
    run_dir = tmp_path / "run"
    started = time.time()
    with pytest.raises(SystemExit) as stopped:
        run_training(tiny_config(standin_train_dir, run_dir, **{"train.max_steps": 20, "eval.lfw_every_steps": 5}))
    assert stopped.value.code == 128 + signal.SIGTERM and time.time() - started < 45
    assert "step 5 checks abandoned" in (run_dir / "train.log").read_text()
    assert tf.train.latest_checkpoint(str(run_dir / "checkpoints")).endswith("ckpt-5")


def test_a_second_signal_raises_and_the_state_is_saved_before_exit():
    from training.loop import CheckInterrupted, StopSignals, saved_on_second_signal

    signals = StopSignals()
    saved = []

    class Trainer:
        log = logging.getLogger("test")

        def save(self):
            saved.append(True)

    with signals.installed():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        assert signals.received == signal.SIGINT  # the first: a flag only
        with pytest.raises(CheckInterrupted):
            with signals.interrupting():  # a check after the first signal does not start
                pass
        with pytest.raises(SystemExit) as stopped:
            with saved_on_second_signal(Trainer(), signals):
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(100):
                    time.sleep(0.01)
                raise AssertionError("the second signal did not stop the loop")
    assert stopped.value.code == 128 + signal.SIGINT and saved == [True]


@pytest.mark.parametrize(
    "override, key",
    [
        ({"train.log_every_steps": 0}, "train.log_every_steps"),
        ({"train.max_steps": -5}, "train.max_steps"),
        ({"train.checkpoint_every_steps": 0}, "train.checkpoint_every_steps"),
        ({"eval.folds": 11}, "eval.folds"),
        ({"summaries.max_images": -1}, "summaries.max_images"),
        ({"optimizer.schedule.values": "[.nan]"}, "optimizer.schedule.values"),
    ],
)
def test_numeric_config_keys_out_of_range_are_refused_naming_the_key(override, key, tmp_path):
    from training.config import ConfigError

    with pytest.raises(ConfigError, match=re.escape(repr(key)) if "." in key else key):
        tiny_config(tmp_path, tmp_path / "run", **override)
