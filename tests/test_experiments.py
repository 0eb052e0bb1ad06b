"""Experiment sets, their configs, the runner's commands and the results table."""
from __future__ import annotations

import json

import pytest

from experiments import run as runner
from experiments.experiment_sets import SetError, load_set, set_names
from experiments.results_table import collect_row, write_table
from training.config import load_config


def test_every_row_of_every_set_has_loadable_cpu_and_full_configs():
    assert set_names() == ["backbones", "margin", "metric", "optimizer_bn"]
    for name in set_names():
        exp_set = load_set(name)
        for row in exp_set.rows:
            cpu = load_config(exp_set.config_path(row.name, "cpu"))
            full = load_config(exp_set.config_path(row.name, "full"))
            assert full.train.batch_size in (255, 256) and full.model.width == 1.0
            assert cpu.train.max_steps < full.train.max_steps == 30000


def test_set_rows_differ_in_what_the_set_compares():
    opt = {r.name: load_config(load_set("optimizer_bn").config_path(r.name, "cpu"))
           for r in load_set("optimizer_bn").rows}
    assert (opt["momentum_wd_bn_switch"].optimizer.name, opt["momentum_wd_bn_switch"].model.bn_mode) == ("momentum", "switch")
    assert opt["momentum_wd_no_bn"].optimizer.weight_decay == 5e-4 and opt["momentum_wd_no_bn"].model.bn_mode == "none"
    assert opt["facenet_always_train_ema"].model.bn_mode == "always_train" and opt["facenet_always_train_ema"].train.ema_decay > 0
    assert opt["adam_bn_switch"].optimizer.weight_decay == 0.0
    margin = load_set("margin")
    losses = {r.name: load_config(margin.config_path(r.name, "cpu")).loss for r in margin.rows}
    assert losses["am_softmax_m02"].hparams == {"scale": 30.0, "margin": 0.2}
    assert losses["arcface_easy_margin"].hparams["easy_margin"] is True
    assert losses["sphereface_m4"].hparams["margin"] == 4
    backbones = load_set("backbones")
    for row in backbones.rows:
        for scale in ("cpu", "full"):
            assert load_config(backbones.config_path(row.name, scale)).model.name == row.name


def test_bad_set_file_is_a_clear_error(tmp_path, monkeypatch):
    from experiments import experiment_sets

    (tmp_path / "broken.yaml").write_text("title: x\nrows:\n  - {name: a, label: b, extra: 1}\n")
    monkeypatch.setattr(experiment_sets, "SETS_DIR", tmp_path)
    with pytest.raises(SetError, match=r"rows\[0\] must have exactly the keys"):
        load_set("broken")
    (tmp_path / "typo.yaml").write_text("titel: x\nrows: []\n")
    with pytest.raises(SetError, match="unknown key.*titel"):
        load_set("typo")
    (tmp_path / "twice.yaml").write_text("title: x\nrows: []\ntitle: y\n")
    with pytest.raises(SetError, match=r"twice.yaml: line 3: key 'title' appears twice"):
        load_set("twice")


def test_dry_run_prints_train_then_eval_per_row(capsys):
    assert runner.main(["metric", "--only", "batch_hard", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "train.py --config experiments/configs/metric/cpu_batch_hard.yaml" in out
    assert "--set run_dir=runs/cpu/metric/batch_hard" in out
    assert "eval_lfw.py --model runs/cpu/metric/batch_hard" in out
    with pytest.raises(SystemExit):
        runner.main(["metric", "--only", "no_such_row", "--dry-run"])


def test_results_table_reads_done_and_eval_json(tmp_path):
    exp_set = load_set("optimizer_bn")
    done_dir, stopped_dir = tmp_path / "done", tmp_path / "stopped"
    (done_dir / "eval").mkdir(parents=True)
    (done_dir / "DONE.json").write_text(json.dumps({"steps": 1800, "train_minutes": 12.5}))
    (done_dir / "eval" / "lfw_view2.json").write_text(json.dumps(
        {"accuracy_mean": 0.8123, "accuracy_std": 0.0151, "val_mean": 0.2, "val_std": 0.05, "auc": 0.9}))
    stopped_dir.mkdir()
    (stopped_dir / "train.log").write_text("2026 INFO step 20\n2026 ERROR non-finite loss at step 37\n")
    rows = exp_set.rows
    results = [collect_row(rows[0], done_dir, ["python", "train.py"], ["python", "eval_lfw.py"]),
               collect_row(rows[1], stopped_dir, ["t"], ["e"]),
               collect_row(rows[2], tmp_path / "absent", ["t"], ["e"])]
    text = write_table(exp_set, "cpu", results, tmp_path / "t.md", "c.png")
    assert "| 81.23 +- 1.51% | 20.00 +- 5.00% | 0.9000 | 1800 | 12.5 min |" in text
    assert "non-finite loss at step 37" in text
    absent_row = next(line for line in text.splitlines() if f"(`{rows[2].name}`)" in line)
    assert absent_row.endswith("| not run |")
