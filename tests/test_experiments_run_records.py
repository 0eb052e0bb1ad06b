"""Run records (experiments/run_records.py) and how experiments/run.py uses them."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from experiments import experiment_sets, run_records
from experiments import run as runner
from experiments.experiment_sets import load_set
from experiments.results_table import (
    BATCH_ACCURACY_TAG,
    DATA_LOSS_TAG,
    INTERRUPTED,
    LOSS_TAG,
    RowResult,
    collect_row,
    judge_training,
)


def _lfw(fold_accuracies):
    folds = np.asarray(fold_accuracies, dtype=float)
    return {
        "accuracy_mean": float(folds.mean()),
        "accuracy_std": float(folds.std()),
        "val_mean": 0.3,
        "val_std": 0.05,
        "auc": 0.93,
        "fold_accuracies": folds.tolist(),
    }


def _finished(name="r", fold_accuracies=(0.86,) * 10, take_off_step=40):
    """A run whose batch accuracy passes the take-off level at `take_off_step` (steps every 10)."""
    steps = list(range(10, 210, 10))
    accuracy = [0.0 if step < take_off_step else 0.6 for step in steps]
    return RowResult(
        name,
        name,
        "done",
        note="",
        lfw=_lfw(fold_accuracies),
        steps=200,
        train_minutes=7.25,
        images_per_sec=31.0,
        commands=("t", "e"),
        curves={
            DATA_LOSS_TAG: (steps, [20.0 - 0.05 * s for s in steps]),
            LOSS_TAG: (steps, [21.0 - 0.05 * s for s in steps]),
            BATCH_ACCURACY_TAG: (steps, accuracy),
        },
    )


@pytest.fixture
def homes(tmp_path, monkeypatch):
    """runs/ and the records in tmp: (runs dir, records dir)."""
    runs, records = tmp_path / "runs", tmp_path / "records"
    monkeypatch.setattr(experiment_sets, "RUNS_DIR", runs)
    monkeypatch.setattr(run_records, "RECORDS_DIR", records)
    monkeypatch.setattr(runner, "RESULTS_DIR", tmp_path / "results")
    return runs, records


def test_a_record_gives_back_the_run_its_verdict_and_its_source(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "git.txt").write_text("revision: 0123abc\nstatus:\n M train.py\n")
    original = _finished(fold_accuracies=np.linspace(0.84, 0.88, 10), take_off_step=60)
    original.training = judge_training(original)
    path = run_records.record_path(tmp_path / "records", "regime", "cpu", "r", 1)
    assert path == tmp_path / "records" / "regime_cpu" / "r" / "seed1.json"
    assert run_records.save(original, run_dir, path) is None
    record = json.loads(path.read_text())
    assert record["source"]["revision"] == "0123abc" and record["source"]["cpu"]
    loaded = run_records.load(path, "r", "R", ("train cmd", "eval cmd"))
    assert (loaded.status, loaded.steps, loaded.train_minutes, loaded.images_per_sec) == ("done", 200, 7.25, 31.0)
    assert loaded.lfw["fold_accuracies"] == pytest.approx(np.linspace(0.84, 0.88, 10).tolist(), abs=0)
    assert loaded.curves[BATCH_ACCURACY_TAG][1] == original.curves[BATCH_ACCURACY_TAG][1]
    assert loaded.commands == ("train cmd", "eval cmd") and loaded.label == "R"
    # The verdict is judged again from the recorded curves, and it is the run directory's.
    assert loaded.training.kind == "converges" and loaded.training == original.training
    stalled = _finished(take_off_step=10_000)
    run_records.save(stalled, run_dir, path)
    assert run_records.load(path, "r", "R", ("t", "e")).training.kind == "stalls"


def test_a_run_directory_and_its_record_judge_alike(tmp_path):
    """Event files whose float32 losses straddle a 6th-digit rounding step (a collapsed run's tail,
    as set 2's SphereFace seed 2 logged it): the table reads them at the digits the record keeps,
    so the run directory and its record give one curve and one verdict."""
    import tensorflow as tf

    from common.run_layout import RunLayout

    run_dir = tmp_path / "run"
    steps = list(range(20, 420, 20))
    tail = [7.0202003, 7.0202022, 7.0202065, 7.0202017, 7.0202079, 7.0202017]
    losses = [7.3 - 0.02 * k for k in range(8)] + tail * 2
    with tf.summary.create_file_writer(str(RunLayout(run_dir).tensorboard / "train")).as_default():
        for step, loss in zip(steps, losses, strict=True):
            tf.summary.scalar(DATA_LOSS_TAG, loss, step=step)
            tf.summary.scalar(BATCH_ACCURACY_TAG, 0.0, step=step)
    (run_dir / "DONE.json").write_text(json.dumps({"steps": 400, "total_train_minutes": 1.0}))
    row = load_set("regime").rows[0]
    from_dir = collect_row(row, run_dir, ["t"], ["e"])
    path = tmp_path / "record.json"
    from_dir.lfw = _lfw([0.6] * 10)
    run_records.save(from_dir, run_dir, path)
    from_record = run_records.load(path, row.name, row.label, ("t", "e"))
    assert from_dir.curves[DATA_LOSS_TAG] == from_record.curves[DATA_LOSS_TAG]
    assert from_dir.training == from_record.training
    assert from_dir.training.kind == "collapses"


def test_only_finished_or_diverged_runs_are_recorded():
    assert run_records.is_recordable(_finished())
    assert not run_records.is_recordable(RowResult("r", "r", "done"))  # not evaluated yet
    interrupted = RowResult("r", "r", "stopped", note=INTERRUPTED)
    assert not run_records.is_recordable(interrupted)
    assert not run_records.is_recordable(RowResult("r", "r", "not run"))
    assert run_records.is_recordable(RowResult("r", "r", "stopped", note="non-finite loss (NaN/Inf) at step 37"))


def test_a_diverged_run_keeps_its_verdict_through_its_record(tmp_path):
    diverged = RowResult(
        "r",
        "r",
        "stopped",
        note="non-finite loss (NaN/Inf) at step 37",
        curves={DATA_LOSS_TAG: ([10, 20, 30], [9.0, 8.0, 7.0])},
        stopped_at=37,
    )
    path = tmp_path / "seed0.json"
    run_records.save(diverged, tmp_path, path)
    loaded = run_records.load(path, "r", "r", ("t", "e"))
    assert loaded.status == "stopped" and loaded.lfw is None
    assert (loaded.training.kind, loaded.training.step) == ("diverges", 37)


def test_replacing_a_record_with_other_numbers_says_so(tmp_path):
    path = tmp_path / "seed0.json"
    assert run_records.save(_finished(fold_accuracies=[0.86] * 10), tmp_path, path) is None
    path.write_text(path.read_text().replace('"recorded": "', '"recorded": "earlier '))
    assert run_records.save(_finished(fold_accuracies=[0.86] * 10), tmp_path, path) is None  # same numbers
    assert '"recorded": "earlier ' in path.read_text()  # left untouched
    message = run_records.save(_finished(fold_accuracies=[0.80] * 10), tmp_path, path)
    assert message.startswith(f"record {path} replaced: 86.00% at step 200") and "-> 80.00% at step 200" in message


def test_a_record_of_another_format_is_refused(tmp_path):
    path = tmp_path / "seed0.json"
    run_records.save(_finished(), tmp_path, path)
    path.write_text(json.dumps({**json.loads(path.read_text()), "format": 99}))
    with pytest.raises(ValueError, match="format 99"):
        run_records.load(path, "r", "r", ("t", "e"))


def _finished_run_dir(run_dir, fold_accuracies):
    (run_dir / "eval").mkdir(parents=True)
    (run_dir / "DONE.json").write_text(
        json.dumps({"steps": 480, "train_minutes": 6.0, "steps_this_session": 480, "total_train_minutes": 6.0})
    )
    (run_dir / "eval" / "lfw_view2.json").write_text(json.dumps(_lfw(fold_accuracies)))


def test_seeds_from_two_machines_make_one_table(homes):
    """Seed 0 ran on another machine (only its record is here), seed 1 here: the table has both,
    and seed 1 is recorded in turn."""
    runs, records = homes
    exp_set = load_set("regime")
    reference = exp_set.reference
    data = runner.data_root(None)
    _finished_run_dir(exp_set.run_dir(reference, "cpu", 0), [0.86] * 10)
    elsewhere = runner.collect_seed(exp_set, exp_set.rows[1], "cpu", data, 0)
    shutil.rmtree(runs)  # the machine is gone, the record stays
    assert run_records.record_of(exp_set, reference, "cpu", 0).is_file()
    _finished_run_dir(exp_set.run_dir(reference, "cpu", 1), [0.88] * 10)
    row = next(row for row in exp_set.rows if row.name == reference)
    seeds = [runner.collect_seed(exp_set, row, "cpu", data, seed) for seed in (0, 1)]
    assert [run.lfw["accuracy_mean"] for run in seeds] == pytest.approx([0.86, 0.88])
    assert seeds[0].commands == elsewhere.commands and "seed=0" in seeds[0].commands[0]
    assert run_records.record_of(exp_set, reference, "cpu", 1).is_file()
    assert not run_records.record_of(exp_set, reference, "cpu", 2).exists()


def test_a_recorded_run_is_not_trained_again(homes, monkeypatch, capsys):
    runs, records = homes
    exp_set = load_set("regime")
    record = run_records.record_of(exp_set, "adam_bn_switch", "cpu", 0)
    run_records.save(_finished(), runs, record)

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"ran {args}")

    monkeypatch.setattr(runner.subprocess, "run", no_subprocess)
    runner.run_row(exp_set, "adam_bn_switch", "cpu", runner.data_root(None), 0, dry_run=False)
    assert "trained again; delete the record to rerun it" in capsys.readouterr().out


def test_a_runs_record_is_written_before_the_next_run_trains(homes, monkeypatch):
    """A set stopped during its second run keeps the first run's record."""
    runs, records = homes
    exp_set = load_set("regime")
    trained = []

    def train_or_stop(command, **kwargs):
        if "seed1" in " ".join(command):
            raise KeyboardInterrupt
        trained.append(command)
        return runner.subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(runner.subprocess, "run", train_or_stop)
    monkeypatch.setattr(runner, "check_row_folders", lambda *args: None)
    monkeypatch.setattr(runner, "collect_row", lambda row, *args: _finished(row.name))
    with pytest.raises(KeyboardInterrupt):
        runner.main(["regime", "--scale", "cpu", "--only", "adam_bn_switch", "--seeds", "2"])
    assert len(trained) == 2  # seed 0: train, evaluate
    assert run_records.record_of(exp_set, "adam_bn_switch", "cpu", 0).exists()
    assert not run_records.record_of(exp_set, "adam_bn_switch", "cpu", 1).exists()


def test_a_same_as_row_shares_the_other_rows_record():
    exp_set = next(load_set(name) for name in runner.set_names() if any(row.same_as for row in load_set(name).rows))
    row = next(row for row in exp_set.rows if row.same_as)
    scale = next(iter(row.same_as))
    home_set, home_row = exp_set.home(row.name, scale)
    assert run_records.record_of(exp_set, row.name, scale, 2) == run_records.record_of(
        load_set(home_set), home_row, scale, 2
    )
    assert home_set != exp_set.name


def test_recorded_seeds_and_a_set_loaded_from_its_records(homes):
    """Records alone give a set's results: seeds 0..k-1 with k one past the highest recorded seed;
    a seed without a record is 'not run'."""
    runs, records = homes
    exp_set = load_set("regime")
    assert run_records.recorded_seeds(exp_set, "cpu") == 0
    run_records.save(
        _finished("adam_bn_switch", [0.80] * 10), runs, run_records.record_of(exp_set, "adam_bn_switch", "cpu", 0)
    )
    run_records.save(
        _finished("arcface_m05", [0.70] * 10), runs, run_records.record_of(exp_set, "arcface_m05", "cpu", 3)
    )
    assert run_records.recorded_seeds(exp_set, "cpu") == 4
    results = run_records.load_recorded(exp_set, "cpu", 4)
    assert [run.status for run in results["arcface_m05"]] == ["not run"] * 3 + ["done"]
    assert results["adam_bn_switch"][0].lfw["accuracy_mean"] == pytest.approx(0.80)
    assert results["adam_bn_switch"][0].training.kind == "converges"
    assert [run.status for run in results["momentum_wd_no_bn"]] == ["not run"] * 4


def test_training_time_adds_each_machines_recorded_minutes(homes):
    """Three runs on two machines (by hand: 45 + 63 = 108 min = 1.8 h; 18 min = 0.3 h); a seed
    past the table's seeds does not count."""
    runs, records = homes
    exp_set = load_set("regime")
    assert run_records.training_time_line(run_records.load_recorded(exp_set, "cpu", 3)) == ""
    for row, seed, minutes, cpu in [
        ("adam_bn_switch", 0, 45.0, "CPU A"),
        ("arcface_m05", 1, 63.0, "CPU A"),
        ("arcface_m05", 2, 18.0, "CPU B"),
        ("arcface_m05", 3, 600.0, "CPU B"),
    ]:
        path = run_records.record_of(exp_set, row, "cpu", seed)
        run_records.save(_finished(row), runs, path)
        record = json.loads(path.read_text())
        record["train_minutes"], record["source"]["cpu"] = minutes, cpu
        path.write_text(json.dumps(record))
    assert run_records.training_time_line(run_records.load_recorded(exp_set, "cpu", 3)) == (
        "Training: 1.8 h over 2 runs on CPU A; 0.3 h over 1 run on CPU B."
    )


def test_a_record_names_the_cpu_family_and_cores(homes):
    runs, records = homes
    path = records / "r.json"
    run_records.save(_finished(), runs, path)
    assert f"{os.cpu_count()} CPUs" in json.loads(path.read_text())["source"]["cpu"]


def test_report_only_all_rebuilds_every_table_with_records_and_only_those(homes, monkeypatch, capsys):
    runs, records = homes
    monkeypatch.setattr(runner.findings, "render_file", lambda **kwargs: "docs/findings.md")
    exp_set = load_set("precision")
    for seed in range(2):
        for row, accuracy in (("bfloat16", 0.74), ("float32", 0.72)):
            run_records.save(
                _finished(row, [accuracy + 0.01 * seed] * 10), runs, run_records.record_of(exp_set, row, "cpu", seed)
            )
    set1 = load_set("optimizer_bn")
    for seed in range(2):  # the converged scale's pilot: the reference row alone so far
        run_records.save(
            _finished("adam_bn_switch", [0.86 + 0.01 * seed] * 10),
            runs,
            run_records.record_of(set1, "adam_bn_switch", "cpu_long", seed),
        )
    assert runner.main(["--all", "--report-only"]) == 0
    written = sorted(path.name for path in runner.RESULTS_DIR.iterdir())
    # precision's bfloat16 row is set 1's reference row: its records make set 1's table too; set
    # 1's reference row at cpu_long is the scale pilot's 4,320-step row: the pilot's table too; and
    # the alignment set's mtcnn row at both scales, beside its centre-crop row not run yet
    assert written == [
        "alignment_cpu.md",
        "alignment_cpu_curves.png",
        "alignment_cpu_long.md",
        "alignment_cpu_long_curves.png",
        "optimizer_bn_cpu.md",
        "optimizer_bn_cpu_curves.png",
        "optimizer_bn_cpu_long.md",
        "optimizer_bn_cpu_long_curves.png",
        "precision_cpu.md",
        "precision_cpu_curves.png",
        "scale_pilot_cpu_long.md",
        "scale_pilot_cpu_long_curves.png",
    ]
    alignment = (runner.RESULTS_DIR / "alignment_cpu_long.md").read_text()
    assert "not run" in next(line for line in alignment.splitlines() if "(`centre_crop`)" in line)
    converged = (runner.RESULTS_DIR / "optimizer_bn_cpu_long.md").read_text()
    assert "| 2/3 | 86.50 +- 0.71% |" in converged and "**Early training**" not in converged
    table = (runner.RESULTS_DIR / "precision_cpu.md").read_text()
    assert "| float32 (`float32`) | 2/3 | 72.50 +- 0.71% |" in table
    assert "`this_repo_bfloat16`" in table and "**Early training**" in table
    assert "--all --report-only` without a set" in _usage_error(["regime", "--all", "--report-only"], capsys)


def _usage_error(argv, capsys) -> str:
    with pytest.raises(SystemExit):
        runner.main(argv)
    return capsys.readouterr().err


def test_training_time_is_given_per_machine_once_a_set_mixes_machines(tmp_path):
    """A record keeps the CPU that trained the run; a table whose runs come from two CPUs names the
    CPU in each time and speed cell (one machine can be twice as fast), a table from one does not."""
    from experiments.results_table import write_table

    exp_set = load_set("regime")
    fast, slow = "AMD EPYC (family 26), 2 CPUs, AVX-512 BF16", "AMD EPYC (family 25), 2 CPUs, AVX-512 BF16"
    reference = []
    for seed, (cpu, minutes, speed) in enumerate(((fast, 10.0, 40.0), (slow, 20.0, 20.0), (fast, 12.0, 44.0))):
        run = _finished(exp_set.reference)
        run.cpu, run.train_minutes, run.images_per_sec = cpu, minutes, speed
        run_records.save(run, tmp_path, tmp_path / f"seed{seed}.json")
        reference.append(run_records.load(tmp_path / f"seed{seed}.json", exp_set.reference, "ref", ("t", "e")))
    assert [run.cpu for run in reference] == [fast, slow, fast]
    results = {row: [RowResult(row, row, "not run")] for row in exp_set.row_names()}

    mixed = write_table(exp_set, "cpu", {**results, exp_set.reference: reference}, tmp_path / "t.md", "c.png", "x", [])
    # family 25: 20.0 min at 20 img/s; family 26: the mean of 10 and 12 min, the median of 40 and 44 img/s
    assert (
        "| 20.0 min (AMD EPYC (family 25)); 11.0 min (AMD EPYC (family 26)) | 20 (AMD EPYC (family 25)); 42 (AMD EPYC (family 26)) |"
        in mixed
    )

    one = write_table(
        exp_set, "cpu", {**results, exp_set.reference: reference[::2]}, tmp_path / "t.md", "c.png", "x", []
    )
    assert "| 11.0 min | 42 |" in one and "(family 26))" not in one
