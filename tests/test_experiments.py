"""Experiment sets, their configs, the runner's commands and the results table."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from experiments import run as runner
from experiments.experiment_sets import CONFIGS_DIR, SetError, load_set, set_names
from experiments.results_table import (
    BATCH_ACCURACY_TAG,
    CURVE_PANELS,
    DATA_LOSS_TAG,
    LFW_ACCURACY_TAG,
    RowResult,
    collect_row,
    curve_runs,
    mean_curve,
    write_curves,
    write_table,
)
from training.config import load_config

HEADER = "title: x\nclaims: []\nequivalence_margin: 1.0\n"  # the keys every set file has


def test_every_row_of_every_set_has_loadable_cpu_and_full_configs():
    assert set_names() == [
        "alignment",
        "backbones",
        "margin",
        "metric",
        "optimizer_bn",
        "precision",
        "regime",
        "scale_pilot",
        "sphereface_annealing",
    ]
    assert load_set("scale_pilot").scales == ("cpu_long",)  # it picks the cpu_long budget, nothing else
    assert load_set("sphereface_annealing").scales == ("cpu_long",)  # a diagnostic of set 2's converged row
    assert load_set("alignment").scales == ("cpu", "cpu_long")  # no centre-cropped VGGFace2
    for name in set_names():
        exp_set = load_set(name)
        for scale in exp_set.scales:
            for row in exp_set.rows:
                load_config(exp_set.config_path(row.name, scale))
        if "full" not in exp_set.scales:
            continue
        for row in exp_set.rows:
            cpu = load_config(exp_set.config_path(row.name, "cpu"))
            full = load_config(exp_set.config_path(row.name, "full"))
            assert full.train.batch_size in (255, 256) and full.model.width == 1.0
            assert cpu.train.max_steps < full.train.max_steps == 30000


def test_a_cpu_long_row_is_its_cpu_row_with_the_cpu_long_budget():
    from common.strict_yaml import load_unique

    budget = load_unique((CONFIGS_DIR / "scales" / "budget_6480.yaml").read_text())  # cpu_long.yaml's base
    for name in set_names():
        exp_set = load_set(name)
        if not {"cpu", "cpu_long"} <= set(exp_set.scales) or exp_set.compares_budgets:
            continue
        for row in exp_set.rows:
            cpu = dataclasses.asdict(load_config(exp_set.config_path(row.name, "cpu")))
            long = dataclasses.asdict(load_config(exp_set.config_path(row.name, "cpu_long")))
            for section, values in budget.items():
                for key, value in values.items():
                    assert long[section][key] == (
                        {**cpu[section][key], **value} if isinstance(value, dict) else value
                    ), (name, row.name, section, key)
                    long[section][key] = cpu[section][key]
            del cpu["name"], long["name"]
            # SphereFace's lambda annealing is stretched with the run (tested below).
            for config in (cpu, long):
                config["loss"]["hparams"].pop("lambda_gamma", None)
            assert long == cpu, (name, row.name)


def test_set_rows_differ_in_what_the_set_compares():
    opt = {
        r.name: load_config(load_set("optimizer_bn").config_path(r.name, "cpu")) for r in load_set("optimizer_bn").rows
    }
    assert (opt["momentum_wd_bn_switch"].optimizer.name, opt["momentum_wd_bn_switch"].model.bn_mode) == (
        "momentum",
        "switch",
    )
    assert opt["momentum_wd_no_bn"].optimizer.weight_decay == 5e-4 and opt["momentum_wd_no_bn"].model.bn_mode == "none"
    assert (
        opt["facenet_always_train_ema"].model.bn_mode == "always_train"
        and opt["facenet_always_train_ema"].train.ema_decay > 0
    )
    assert opt["adam_bn_switch"].optimizer.weight_decay == 0.0
    margin = load_set("margin")
    losses = {r.name: load_config(margin.config_path(r.name, "cpu")).loss for r in margin.rows}
    assert losses["am_softmax_m02"].hparams == {"scale": 30.0, "margin": 0.2}
    assert losses["arcface_easy_margin"].hparams["easy_margin"] is True
    assert losses["sphereface_m4"].hparams["margin"] == 4
    backbones = load_set("backbones")
    for row in backbones.rows:
        for scale in backbones.scales:
            assert load_config(backbones.config_path(row.name, scale)).model.name == row.name


def test_precision_rows_are_set_1s_reference_row_differing_only_in_precision():
    import dataclasses

    precision, optimizer_bn = load_set("precision"), load_set("optimizer_bn")
    for scale in precision.scales:
        reference = dataclasses.asdict(load_config(optimizer_bn.config_path("adam_bn_switch", scale)))
        del reference["train"]["precision"], reference["name"]
        for row in precision.rows:
            config = dataclasses.asdict(load_config(precision.config_path(row.name, scale)))
            assert config["train"].pop("precision") == row.name
            assert config.pop("name") == precision.config_path(row.name, scale).stem
            assert config == reference, (scale, row.name)


def test_alignment_rows_differ_only_in_the_crops_of_the_same_photos():
    alignment = load_set("alignment")
    for scale in alignment.scales:
        mtcnn, centre = (
            dataclasses.asdict(load_config(alignment.config_path(row, scale))) for row in ("mtcnn", "centre_crop")
        )
        assert alignment.config_path("mtcnn", scale) == load_set("optimizer_bn").config_path("adam_bn_switch", scale)
        for config in (mtcnn, centre):
            config["data"]["train_dirs"] = [
                path.replace("cache/aligned/", "cache/centre_crop/") for path in config["data"]["train_dirs"]
            ]
            config["eval"]["lfw_dir"] = config["eval"]["lfw_dir"].replace("cache/aligned/", "cache/centre_crop/")
            del config["name"]
        assert centre == mtcnn, scale
    assert alignment.lfw_dir("centre_crop", "cpu_long") == "cache/centre_crop/lfw_112x96"  # run.py evaluates on it
    assert alignment.lfw_dir("mtcnn", "cpu_long") == "cache/aligned/lfw_112x96"


def test_a_missing_crop_folder_stops_the_set_in_one_line_naming_the_aligner(tmp_path, monkeypatch, capsys):
    for folder in ("celeba299_112x96", "celeba841_112x96", "lfw_112x96"):
        (tmp_path / "cache" / "aligned" / folder).mkdir(parents=True)
    (tmp_path / "cache" / "centre_crop" / "celeba299_112x96").mkdir(parents=True)
    (tmp_path / "cache" / "centre_crop" / "celeba841_112x96").mkdir(parents=True)
    check = runner.check_row_folders
    monkeypatch.setattr(runner, "check_row_folders", lambda *args: check(*args, root=tmp_path))
    monkeypatch.setattr(runner, "run_row", lambda *args: pytest.fail("trained before the folders were checked"))
    assert runner.main(["alignment", "--scale", "cpu_long"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert "eval.lfw_dir cache/centre_crop/lfw_112x96 not found; make it with python align/align_dataset.py" in error
    (tmp_path / "cache" / "centre_crop" / "lfw_112x96").mkdir()
    check(load_set("alignment"), ["mtcnn", "centre_crop"], "cpu_long", 3, root=tmp_path)  # all there now


def test_regime_rows_train_the_article_network_at_its_learning_rate():
    from training.schedules import build_schedule

    regime = load_set("regime")
    configs = {r.name: load_config(regime.config_path(r.name, "cpu")) for r in regime.rows}
    for name, config in configs.items():
        assert (config.model.name, config.model.width, config.model.embedding_size) == ("resface20", 1.0, 512)
        schedule = build_schedule(config.optimizer.schedule)
        first, last = float(schedule(0)), float(schedule(config.train.max_steps - 1))
        adam = name == "adam_bn_switch"
        assert first == last == pytest.approx(1e-3 if adam else 0.1), name  # no warm-up, no drop
        assert config.optimizer.name == ("adam" if adam else "momentum")
        assert config.optimizer.weight_decay == (0.0 if adam else 5e-4)
    assert configs["momentum_wd_no_bn"].model.bn_mode == "none"
    assert {c.model.bn_mode for n, c in configs.items() if n != "momentum_wd_no_bn"} == {"switch"}
    assert configs["arcface_m05"].loss.hparams == {"scale": 64.0, "margin": 0.5, "easy_margin": False}
    assert configs["arcface_easy_margin"].loss.hparams["easy_margin"] is True
    assert configs["momentum_wd_bn_switch"].loss.name == "am_softmax"


def test_bad_set_file_is_a_clear_error(tmp_path, monkeypatch):
    from experiments import experiment_sets

    (tmp_path / "broken.yaml").write_text(HEADER + "rows:\n  - {name: a, label: b, extra: 1}\n")
    monkeypatch.setattr(experiment_sets, "SETS_DIR", tmp_path)
    with pytest.raises(SetError, match=r"rows\[0\] must have the keys \['label', 'name'\] and may have"):
        load_set("broken")
    (tmp_path / "typo.yaml").write_text("titel: x\nrows: []\n")
    with pytest.raises(SetError, match="unknown key.*titel"):
        load_set("typo")
    (tmp_path / "seeds.yaml").write_text(HEADER + "seeds: 0\nrows:\n  - {name: a, label: b}\n")
    with pytest.raises(SetError, match=r"seeds.yaml: seeds must be a whole number >= 1, got 0"):
        load_set("seeds")
    (tmp_path / "twice.yaml").write_text("title: x\nrows: []\ntitle: y\n")
    with pytest.raises(SetError, match=r"twice.yaml: line 3: key 'title' appears twice"):
        load_set("twice")
    (tmp_path / "prose.yaml").write_text("title: x\narticle: the claim restated\nrows: []\n")
    with pytest.raises(SetError, match=r"unknown key\(s\) \['article'\]"):  # claims live in claims.yaml
        load_set("prose")
    (tmp_path / "bare.yaml").write_text("title: x\nrows:\n  - {name: a, label: b}\n")
    with pytest.raises(SetError, match=r"missing key\(s\) \['claims', 'equivalence_margin'\]"):
        load_set("bare")
    (tmp_path / "margin0.yaml").write_text(HEADER.replace("1.0", "0") + "rows:\n  - {name: a, label: b}\n")
    with pytest.raises(SetError, match=r"equivalence_margin must be a number of accuracy points > 0, got 0"):
        load_set("margin0")


def test_a_same_as_row_is_the_other_sets_row_its_config_and_its_runs(capsys):
    from common.paths import REPO_ROOT

    metric, margin = load_set("metric"), load_set("margin")
    assert metric.reference == "am_softmax_m035"
    for scale in metric.scales:
        assert metric.config_path("am_softmax_m035", scale) == margin.config_path("am_softmax_m035", scale)
    assert metric.run_dir("am_softmax_m035", "cpu", 2) == REPO_ROOT / "runs/cpu/margin/am_softmax_m035/seed2"
    assert metric.run_dir("batch_hard", "cpu", 0) == REPO_ROOT / "runs/cpu/metric/batch_hard/seed0"
    assert runner.main(["metric", "--only", "am_softmax_m035", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (
        "train.py --config experiments/configs/margin/cpu_am_softmax_m035.yaml "
        "--set run_dir=runs/cpu/margin/am_softmax_m035/seed0" in out
    )
    assert "runs/cpu/metric/am_softmax_m035" not in out  # trained once, in set 2's folder


def test_a_same_as_at_one_scale_leaves_the_other_scale_to_the_row():
    from common.paths import REPO_ROOT

    precision, set1 = load_set("precision"), load_set("optimizer_bn")
    assert precision.config_path("bfloat16", "cpu") == set1.config_path("adam_bn_switch", "cpu")
    assert precision.run_dir("bfloat16", "cpu", 1) == REPO_ROOT / "runs/cpu/optimizer_bn/adam_bn_switch/seed1"
    assert precision.config_path("bfloat16", "full") == REPO_ROOT / "experiments/configs/precision/full_bfloat16.yaml"
    assert precision.run_dir("bfloat16", "full", 0) == REPO_ROOT / "runs/full/precision/bfloat16/seed0"


@pytest.mark.parametrize(
    "same_as, message",
    [
        ("{gpu: margin/softmax}", r"same_as scales must be among \['cpu', 'cpu_long', 'full'\], got \['gpu'\]"),
        ("{cpu: margin}", r"same_as must be '<other set>/<row>', got 'margin'"),
        ("margin", r"same_as must be '<other set>/<row>', got 'margin'"),
        ("mine/a", r"same_as must be '<other set>/<row>'"),
        ("margin/am_softmax_m99", r"margin.yaml has no row 'am_softmax_m99'; rows: \['am_softmax_m02'"),
        ("nowhere/a", r"nowhere.yaml: no such experiment set"),
        ("other/b", r"same_as 'other/b' is itself a same_as row"),
    ],
)
def test_a_bad_same_as_is_a_clear_error(tmp_path, monkeypatch, same_as, message):
    from experiments import experiment_sets

    monkeypatch.setattr(experiment_sets, "SETS_DIR", tmp_path)
    (tmp_path / "margin.yaml").write_text((experiment_sets.REPO_ROOT / "experiments/sets/margin.yaml").read_text())
    (tmp_path / "other.yaml").write_text(HEADER + "rows:\n  - {name: b, label: B, same_as: margin/softmax}\n")
    (tmp_path / "mine.yaml").write_text(HEADER + f"rows:\n  - {{name: a, label: A, same_as: {same_as}}}\n")
    with pytest.raises(SetError, match=message):
        load_set("mine")


def test_dry_run_prints_train_then_eval_per_row(capsys, tmp_path, monkeypatch):
    # Committed records skip their runs (tested with the records): keep them out of this one.
    monkeypatch.setattr(runner.run_records, "RECORDS_DIR", tmp_path / "records")
    assert runner.main(["metric", "--only", "batch_hard", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "train.py --config experiments/configs/metric/cpu_batch_hard.yaml" in out
    assert "--set run_dir=runs/cpu/metric/batch_hard/seed0 --set seed=0" in out
    assert "eval_lfw.py --model runs/cpu/metric/batch_hard/seed0" in out
    assert runner.main(["metric", "--only", "batch_hard", "--seeds", "2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "--set run_dir=runs/cpu/metric/batch_hard/seed1 --set seed=1" in out
    # Without --seeds: the set file's number, 3 unless it says otherwise.
    assert runner.main(["metric", "--only", "batch_hard", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "--set seed=2" in out and "--set seed=3" not in out
    monkeypatch.setattr(runner, "load_set", lambda name: dataclasses.replace(load_set(name), seeds=2))
    assert runner.main(["regime", "--only", "arcface_m05", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "--set seed=1" in out and "--set seed=2" not in out
    with pytest.raises(SystemExit):
        runner.main(["metric", "--only", "no_such_row", "--dry-run"])


def _finished_run(run_dir, fold_accuracies, minutes=12.5, session_steps=1800, steps=1800):
    (run_dir / "eval").mkdir(parents=True)
    (run_dir / "DONE.json").write_text(
        json.dumps({"steps": steps, "train_minutes": minutes, "steps_this_session": min(session_steps, steps)})
    )
    folds = np.array(fold_accuracies)
    (run_dir / "eval" / "lfw_view2.json").write_text(
        json.dumps(
            {
                "accuracy_mean": folds.mean(),
                "accuracy_std": folds.std(),
                "val_mean": 0.2,
                "val_std": 0.05,
                "auc": 0.9,
                "fold_accuracies": list(folds),
            }
        )
    )
    return run_dir


def test_curves_average_the_finished_seeds_not_one_still_going():
    finished = [
        RowResult("r", "r", "done", curves={"loss": ([10, 20, 30], [3.0, 2.0, 1.0])}),
        RowResult("r", "r", "done", curves={"loss": ([10, 20, 30], [5.0, 4.0, 3.0])}),
    ]
    going = RowResult("r", "r", "stopped", curves={"loss": ([10], [9.0])})
    runs = curve_runs([finished[0], going, finished[1]])
    assert runs == finished  # the run at step 10 would cut the curve there
    steps, mean, sd = mean_curve(runs, "loss")
    assert steps.tolist() == [10, 20, 30] and mean.tolist() == [4.0, 3.0, 2.0] and sd.tolist() == [1.0] * 3
    # Nothing finished yet: what has been logged is shown.
    assert curve_runs([going, RowResult("r", "r", "not run")]) == [going]


def test_the_curves_figure_draws_loss_batch_accuracy_and_lfw_of_every_row(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    assert [tag for tag, *_ in CURVE_PANELS] == [DATA_LOSS_TAG, BATCH_ACCURACY_TAG, LFW_ACCURACY_TAG]
    exp_set = load_set("precision")
    steps = [10, 20, 30]
    curves = {tag: (steps, [1.0, 0.5, 0.25]) for tag, *_ in CURVE_PANELS}
    results = {row.name: [RowResult(row.name, row.name, "done", curves=curves)] * 2 for row in exp_set.rows}
    drawn = []
    monkeypatch.setattr(plt, "close", drawn.append)  # keep the figure to look at it
    write_curves(exp_set, results, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    axes = drawn[0].axes
    assert [axis.get_title() for axis in axes] == [title for _, title, *_ in CURVE_PANELS]
    for axis in axes:
        assert [line.get_label() for line in axis.get_lines()] == [f"{row.name} (n=2)" for row in exp_set.rows]
        assert axis.get_lines()[0].get_ydata().tolist() == [1.0, 0.5, 0.25]


def test_results_table_shows_seed_means_comparison_and_stopped_runs(tmp_path):
    exp_set = load_set("optimizer_bn")
    rows = exp_set.rows
    base = np.linspace(0.80, 0.82, 10)
    reference_runs = [
        collect_row(rows[0], _finished_run(tmp_path / f"ref{k}", base + 0.001 * k), ["t"], ["e"]) for k in range(3)
    ]
    # Row 1: 5 points better on every fold and seed -> both tests significant.
    better_runs = [
        collect_row(rows[1], _finished_run(tmp_path / f"b{k}", base + 0.05 + 0.002 * k), ["t"], ["e"]) for k in range(3)
    ]
    stopped_dir = tmp_path / "stopped"
    stopped_dir.mkdir()
    (stopped_dir / "train.log").write_text("2026 INFO step 20\n")
    # What train.py writes when its guard stops a run (training.run_dir.mark_stopped): read, not the log.
    (stopped_dir / "STOPPED.json").write_text(
        json.dumps({"step": 37, "message": "non-finite loss (NaN/Inf) at step 37; training stopped"})
    )
    stopped = collect_row(rows[2], stopped_dir, ["t"], ["e"])
    results = {row.name: [collect_row(row, tmp_path / "absent", ["t"], ["e"])] for row in rows}
    results.update({rows[0].name: reference_runs, rows[1].name: better_runs, rows[2].name: [stopped]})
    results[rows[4].name] = [reference_runs[0], *(collect_row(rows[4], tmp_path / "absent", ["t"], ["e"]),) * 2]
    text = write_table(exp_set, "cpu", results, tmp_path / "t.md", "c.png", "python experiments/run.py x", [])
    lines = {
        row.name: next(line for line in text.splitlines() if line.startswith("| ") and f"(`{row.name}`)" in line)
        for row in rows
    }
    # Reference: mean of 81.0, 81.1, 81.2 = 81.10, sd 0.10.
    assert "| 3/3 | 81.10 +- 0.10% | 20.00 +- 0.00% | 0.9000 +- 0.0000 | reference |" in lines[rows[0].name]
    assert "| 3/3 | 86.20 +- 0.20% |" in lines[rows[1].name] and "| +5.10 (" in lines[rows[1].name]
    assert "**better**" in lines[rows[1].name] and "12.5 min" in lines[rows[1].name]
    assert "non-finite loss (NaN/Inf) at step 37" in lines[rows[2].name] and "| 0/1 |" in lines[rows[2].name]
    assert "| diverges @37 |" in lines[rows[2].name]
    assert lines[rows[3].name].endswith("| not run |")
    assert lines[rows[4].name].endswith("| not run (seeds 1, 2) |")  # which seeds, not the whole row
    header = next(line for line in text.splitlines() if line.startswith("| config |"))
    for line in lines.values():  # every row fills every column, the training verdict included
        assert line.count(" | ") == header.count(" | "), line


def test_an_extended_run_is_timed_for_all_its_steps_not_its_last_session(tmp_path):
    row = load_set("optimizer_bn").rows[0]
    whole = collect_row(row, _finished_run(tmp_path / "whole", [0.8] * 10, minutes=6.0), ["t"], ["e"])
    assert whole.train_minutes == 6.0 and whole.note == ""
    # 600 of its 1,800 steps ran in the last command (train.max_steps raised from 1,200).
    extended = collect_row(
        row, _finished_run(tmp_path / "extended", [0.8] * 10, minutes=6.0, session_steps=600), ["t"], ["e"]
    )
    assert extended.train_minutes == 18.0
    assert extended.note == "time scaled from the last session (600 of 1800 steps)"
    # A run with the checkpointed clock: its total over all sessions, not scaled.
    timed_dir = _finished_run(tmp_path / "timed", [0.8] * 10, minutes=6.0, session_steps=600)
    done = json.loads((timed_dir / "DONE.json").read_text())
    (timed_dir / "DONE.json").write_text(json.dumps({**done, "total_train_minutes": 21.5}))
    timed = collect_row(row, timed_dir, ["t"], ["e"])
    assert timed.train_minutes == 21.5 and timed.note == ""


def test_a_row_of_another_length_than_the_reference_is_not_compared(tmp_path):
    exp_set = load_set("optimizer_bn")
    rows = exp_set.rows
    base = np.linspace(0.80, 0.82, 10)
    results = {row.name: [collect_row(row, tmp_path / "absent", ["t"], ["e"])] for row in rows}
    results[rows[0].name] = [
        collect_row(rows[0], _finished_run(tmp_path / f"r{k}", base + 0.001 * k, steps=480), ["t"], ["e"])
        for k in range(2)
    ]
    results[rows[1].name] = [
        collect_row(rows[1], _finished_run(tmp_path / f"l{k}", base + 0.05, steps=steps), ["t"], ["e"])
        for k, steps in enumerate((480, 1440))
    ]
    results[rows[2].name] = [
        collect_row(rows[2], _finished_run(tmp_path / f"s{k}", base + 0.05, steps=480), ["t"], ["e"]) for k in range(2)
    ]
    text = write_table(exp_set, "cpu", results, tmp_path / "t.md", "c.png", "python experiments/run.py x", [])
    line = {row.name: next(line for line in text.splitlines() if f"(`{row.name}`)" in line) for row in rows}
    assert "| - | - | - | - | not comparable (480/1440 vs 480 steps) |" in line[rows[1].name]
    assert "| +4.95 (" in line[rows[2].name] and "not comparable" not in line[rows[2].name]  # 5 - 0.05


def test_sphereface_lambda_reaches_its_floor_at_the_same_fraction_of_the_run_at_both_scales():
    import losses

    margin = load_set("margin")
    fractions = {}
    for scale in margin.scales:
        config = load_config(margin.config_path("sphereface_m4", scale))
        head = losses.build("sphereface", num_classes=4, embedding_size=8, **config.loss.hparams)
        steps = np.arange(config.train.max_steps + 1)
        lambdas = head.lambda_at(steps).numpy()
        floor_step = int(np.argmax(lambdas <= head.lambda_min + 1e-6))
        assert lambdas[-1] == pytest.approx(5.0) and floor_step > 0
        fractions[scale] = floor_step / config.train.max_steps
    assert fractions["full"] == pytest.approx(1659 / 30000, abs=1e-4)
    for scale in margin.scales:
        assert fractions[scale] == pytest.approx(fractions["full"], abs=0.01), scale


def test_the_per_step_annealing_row_is_set_2s_sphereface_row_at_the_full_schedules_speed_per_step():
    import losses

    annealing = load_set("sphereface_annealing")
    scaled = load_config(annealing.config_path("scaled_to_run", "cpu_long"))
    per_step = load_config(annealing.config_path("per_step", "cpu_long"))
    full = load_config(load_set("margin").config_path("sphereface_m4", "full"))
    assert annealing.config_path("scaled_to_run", "cpu_long") == load_set("margin").config_path(
        "sphereface_m4", "cpu_long"
    )
    assert per_step.loss.hparams == full.loss.hparams != scaled.loss.hparams
    head = losses.build("sphereface", num_classes=4, embedding_size=8, **per_step.loss.hparams)
    lambdas = head.lambda_at(np.arange(per_step.train.max_steps + 1)).numpy()
    assert int(np.argmax(lambdas <= 5.0 + 1e-6)) == 1659  # 1000 / (1 + 0.12 s) = 5 at s = 1658.3
    differing = dataclasses.asdict(per_step), dataclasses.asdict(scaled)
    for config in differing:
        del config["name"], config["loss"]["hparams"]
    assert differing[0] == differing[1]


def test_table_note_says_when_sphereface_lambda_reached_its_floor(tmp_path):
    import yaml

    rows = load_set("margin").rows
    notes = {}
    for loss in (
        {"name": "sphereface", "hparams": {"margin": 4, "lambda_gamma": 5.0}},
        {"name": "lsoftmax", "hparams": {}},
        {"name": "am_softmax", "hparams": {}},
    ):
        run_dir = _finished_run(tmp_path / loss["name"], [0.8] * 10)
        (run_dir / "config.yaml").write_text(yaml.safe_dump({"loss": loss}))
        notes[loss["name"]] = collect_row(rows[0], run_dir, ["t"], ["e"]).note
    # 1000 / (1 + 5 s) <= 5 from s = 39.8; Caffe's gamma 0.12: from s = 1658.3
    assert notes == {
        "sphereface": "lambda at its floor 5 from step 40",
        "lsoftmax": "lambda at its floor 5 from step 1659",
        "am_softmax": "",
    }


def test_an_interrupted_run_gets_no_training_verdict(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "train.log").write_text("12:22:32 step 40/720 loss 18.3566 acc 0.016\n")
    row = load_set("margin").rows[0]
    interrupted = collect_row(row, run_dir, ["t"], ["e"])
    assert interrupted.note.startswith("interrupted") and interrupted.training is None


def test_rows_run_with_the_running_interpreter_not_the_first_python_on_path(monkeypatch, tmp_path):
    import subprocess
    import sys

    ran = []
    monkeypatch.setattr(
        subprocess, "run", lambda command, **kwargs: ran.append(command) or subprocess.CompletedProcess(command, 0)
    )
    exp_set = load_set("margin")
    runner.run_row(exp_set, "am_softmax_m035", "cpu", tmp_path, seed=9999, dry_run=False)
    assert ran and all(command[0] == sys.executable for command in ran)


def test_power_is_not_computed_from_seeds_that_do_not_vary():
    from types import SimpleNamespace

    from experiments.results_table import power_line

    exp_set = SimpleNamespace(seeds=2)
    judged = SimpleNamespace(
        detectable=None,
        pooled_sd=0.0,
        margin=1.0,
        detectable_at_reference=None,
        reference_sd=0.0,
        detectable_at_most=None,
    )
    assert power_line(exp_set, judged).startswith("Power: not computable yet: the evaluated seeds do not vary")
    judged = SimpleNamespace(
        detectable=4.03,
        pooled_sd=1.15,
        margin=1.0,
        detectable_at_reference=None,
        reference_sd=None,
        detectable_at_most=None,
    )
    assert "4.03 points at the rows' pooled seed sd of 1.15" in power_line(exp_set, judged)


def test_other_benchmarks_get_a_column_group_and_survive_the_record(tmp_path):
    from experiments import run_records

    exp_set = load_set("optimizer_bn")
    reference, other = exp_set.rows[0], exp_set.rows[1]
    runs = []
    for k, cfp in enumerate((0.80, 0.84)):
        run_dir = _finished_run(tmp_path / f"r{k}", [0.81] * 10)
        (run_dir / "eval" / "cfp_fp_final.json").write_text(
            json.dumps({"accuracy_mean": cfp, "accuracy_std": 0.01, "num_folds": 10, "fold_accuracies": [cfp] * 10})
        )
        runs.append(collect_row(reference, run_dir, ["t"], ["e"]))
    plain = collect_row(other, _finished_run(tmp_path / "plain", [0.80] * 10), ["t"], ["e"])
    results = {row.name: [collect_row(row, tmp_path / "absent", ["t"], ["e"])] for row in exp_set.rows}
    results.update({reference.name: runs, other.name: [plain]})
    text = write_table(exp_set, "cpu", results, tmp_path / "t.md", "c.png", "python experiments/run.py x", [])
    # mean of 80 and 84 = 82.00, sd (ddof 1) = 2.83; the row never evaluated there shows "-"
    assert f"| `{reference.name}` | 82.00 +- 2.83% (2) |" in text and f"| `{other.name}` | - |" in text
    assert "| config | cfp_fp |" in text
    run_records.save(runs[1], tmp_path / "r1", tmp_path / "seed1.json")
    loaded = run_records.load(tmp_path / "seed1.json", reference.name, reference.label, ("t", "e"))
    assert loaded.benchmarks["cfp_fp"]["accuracy_mean"] == pytest.approx(0.84)
