"""Run records (experiments/run_records.py) and how experiments/run.py uses them."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from common.errors import USER_ERROR, UserError
from experiments import experiment_sets, run_records
from experiments import run as runner
from experiments.experiment_sets import load_set
from experiments.results_table import (BATCH_ACCURACY_TAG, DATA_LOSS_TAG, INTERRUPTED, LOSS_TAG, RowResult,
                                       check_keeps_runs, evaluated_runs_listed, judge_training, write_table)

# A copy of the regime table as committed before run records existed (ten runs, no records): the
# committed one changes as runs land.
TABLE_BEFORE_RECORDS = Path(__file__).parent / "fixtures" / "regime_cpu_before_records.md"


def _lfw(fold_accuracies):
    folds = np.asarray(fold_accuracies, dtype=float)
    return {"accuracy_mean": float(folds.mean()), "accuracy_std": float(folds.std()), "val_mean": 0.3,
            "val_std": 0.05, "auc": 0.93, "fold_accuracies": folds.tolist()}


def _finished(name="r", fold_accuracies=(0.86,) * 10, take_off_step=40):
    """A run whose batch accuracy passes the take-off level at `take_off_step` (steps every 10)."""
    steps = list(range(10, 210, 10))
    accuracy = [0.0 if step < take_off_step else 0.6 for step in steps]
    return RowResult(name, name, "done", note="", lfw=_lfw(fold_accuracies), steps=200, train_minutes=7.25,
                     images_per_sec=31.0, commands=("t", "e"),
                     curves={DATA_LOSS_TAG: (steps, [20.0 - 0.05 * s for s in steps]),
                             LOSS_TAG: (steps, [21.0 - 0.05 * s for s in steps]),
                             BATCH_ACCURACY_TAG: (steps, accuracy)})


@pytest.fixture
def homes(tmp_path, monkeypatch):
    """runs/ and the records in tmp: (runs dir, records dir)."""
    runs, records = tmp_path / "runs", tmp_path / "records"
    monkeypatch.setattr(experiment_sets, "RUNS_DIR", runs)
    monkeypatch.setattr(runner, "RECORDS_DIR", records)
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


def test_only_finished_or_diverged_runs_are_recorded():
    assert run_records.is_recordable(_finished())
    assert not run_records.is_recordable(RowResult("r", "r", "done"))           # not evaluated yet
    interrupted = RowResult("r", "r", "stopped", note=INTERRUPTED)
    assert not run_records.is_recordable(interrupted)
    assert not run_records.is_recordable(RowResult("r", "r", "not run"))
    assert run_records.is_recordable(RowResult("r", "r", "stopped", note="non-finite loss (NaN/Inf) at step 37"))


def test_a_diverged_run_keeps_its_verdict_through_its_record(tmp_path):
    diverged = RowResult("r", "r", "stopped", note="non-finite loss (NaN/Inf) at step 37",
                         curves={DATA_LOSS_TAG: ([10, 20, 30], [9.0, 8.0, 7.0])})
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
    assert '"recorded": "earlier ' in path.read_text()                                      # left untouched
    message = run_records.save(_finished(fold_accuracies=[0.80] * 10), tmp_path, path)
    assert message.startswith(f"record {path} replaced: 86.00% at step 200") and "-> 80.00% at step 200" in message


def test_a_record_of_another_format_is_refused(tmp_path):
    path = tmp_path / "seed0.json"
    run_records.save(_finished(), tmp_path, path)
    path.write_text(json.dumps({**json.loads(path.read_text()), "format": 99}))
    with pytest.raises(ValueError, match="format 99"):
        run_records.load(path, "r", "r", ("t", "e"))


def test_cpu_model_is_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14\nflags\t: fpu\n")
    assert run_records.cpu_model(str(cpuinfo)) == "AMD EPYC 9R14"
    assert run_records.cpu_model(str(tmp_path / "missing"))   # falls back, never empty


def _finished_run_dir(run_dir, fold_accuracies):
    (run_dir / "eval").mkdir(parents=True)
    (run_dir / "DONE.json").write_text(json.dumps({"steps": 480, "train_minutes": 6.0, "steps_this_session": 480,
                                                   "total_train_minutes": 6.0}))
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
    shutil.rmtree(runs)                                          # the machine is gone, the record stays
    assert runner.record_of(exp_set, reference, "cpu", 0).is_file()
    _finished_run_dir(exp_set.run_dir(reference, "cpu", 1), [0.88] * 10)
    row = next(row for row in exp_set.rows if row.name == reference)
    seeds = [runner.collect_seed(exp_set, row, "cpu", data, seed) for seed in (0, 1)]
    assert [run.lfw["accuracy_mean"] for run in seeds] == pytest.approx([0.86, 0.88])
    assert seeds[0].commands == elsewhere.commands and "seed=0" in seeds[0].commands[0]
    assert runner.record_of(exp_set, reference, "cpu", 1).is_file()
    assert not runner.record_of(exp_set, reference, "cpu", 2).exists()


def test_a_recorded_run_is_not_trained_again(homes, monkeypatch, capsys):
    runs, records = homes
    exp_set = load_set("regime")
    record = runner.record_of(exp_set, "adam_bn_switch", "cpu", 0)
    run_records.save(_finished(), runs, record)

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"ran {args}")

    monkeypatch.setattr(runner.subprocess, "run", no_subprocess)
    runner.run_row(exp_set, "adam_bn_switch", "cpu", runner.data_root(None), 0, dry_run=False)
    assert "trained again; delete the record to rerun it" in capsys.readouterr().out


def test_a_same_as_row_shares_the_other_rows_record():
    exp_set = next(load_set(name) for name in runner.set_names()
                   if any(row.same_as for row in load_set(name).rows))
    row = next(row for row in exp_set.rows if row.same_as)
    scale = next(iter(row.same_as))
    home_set, home_row = exp_set.home(row.name, scale)
    assert runner.record_of(exp_set, row.name, scale, 2) == runner.record_of(load_set(home_set), home_row, scale, 2)
    assert home_set != exp_set.name


def test_the_per_seed_lines_of_a_written_table_are_counted(tmp_path):
    exp_set = load_set("regime")
    results = {row.name: [RowResult(row.name, row.label, "not run")] * 2 for row in exp_set.rows}
    results[exp_set.reference] = [_finished(exp_set.reference), RowResult(exp_set.reference, "x", "not run")]
    results["adam_bn_switch"] = [_finished("adam_bn_switch"), _finished("adam_bn_switch")]
    text = write_table(exp_set, "cpu", results, tmp_path / "t.md", "c.png", "cmd")
    listed = evaluated_runs_listed(text)
    assert listed[exp_set.reference] == {0} and listed["adam_bn_switch"] == {0, 1} and listed["arcface_m05"] == set()
    # The table from before records lists ten runs: two of no BN, seed 0 of every other row.
    assert evaluated_runs_listed(TABLE_BEFORE_RECORDS.read_text()) == {
        "momentum_wd_no_bn": {0, 1}, "momentum_wd_bn_switch": {0}, "adam_bn_switch": {0}, "arcface_m05": {0},
        "arcface_easy_margin": {0}}


def test_a_table_is_not_rebuilt_when_it_would_drop_runs(tmp_path):
    table = tmp_path / "regime_cpu.md"
    shutil.copy(TABLE_BEFORE_RECORDS, table)
    exp_set = load_set("regime")
    results = {row.name: [_finished(row.name), _finished(row.name)] for row in exp_set.rows}
    check_keeps_runs(table, results)                              # every listed run is still there
    results["momentum_wd_no_bn"] = [_finished("momentum_wd_no_bn"), RowResult("momentum_wd_no_bn", "x", "not run")]
    with pytest.raises(UserError, match=r"momentum_wd_no_bn \(seed 1\).*move the table away"):
        check_keeps_runs(table, results)
    # As many evaluated runs, but not the listed one: seed 1 of the reference does not stand in for seed 0.
    results["momentum_wd_no_bn"] = [_finished("momentum_wd_no_bn")] * 2
    results["momentum_wd_bn_switch"] = [RowResult("momentum_wd_bn_switch", "x", "not run"), _finished("r")]
    with pytest.raises(UserError, match=r"momentum_wd_bn_switch \(seed 0\)"):
        check_keeps_runs(table, results)
    results["adam_bn_switch"] = [_finished("adam_bn_switch")]     # --seeds 1 would drop nothing listed here
    results["momentum_wd_bn_switch"] = [_finished("r")]
    check_keeps_runs(table, results)
    check_keeps_runs(tmp_path / "absent.md", {})                   # no table yet: nothing to keep


def test_report_only_on_a_machine_without_the_runs_leaves_the_committed_table(homes, capsys):
    runs, records = homes
    results_dir = runner.RESULTS_DIR
    results_dir.mkdir()
    shutil.copy(TABLE_BEFORE_RECORDS, results_dir / "regime_cpu.md")
    before = (results_dir / "regime_cpu.md").read_text()
    assert runner.main(["regime", "--report-only"]) == USER_ERROR
    assert "neither in runs/ nor recorded" in capsys.readouterr().err
    assert (results_dir / "regime_cpu.md").read_text() == before
    assert not (results_dir / "regime_cpu_curves.png").exists()

