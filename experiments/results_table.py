"""Results of an experiment set, read back from its run directories (one per row and seed).

Every number in a results table comes from files the runs wrote: DONE.json and the TensorBoard
events of train.py (steps, training time, images/s, the curves) and the JSON of eval_lfw.py on
LFW View 2 (accuracy, VAL@FAR=1e-3, AUC, per-fold accuracies), read from the run directory or
from the run's committed record (experiments/run_records.py). A row shows mean +- sd over its
seeds and its comparison with the set's reference row (experiments/significance.py). A run that
stopped (diverged, interrupted) is shown with the reason found in its log instead of numbers.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.errors import UserError
from common.run_layout import RunLayout
from experiments import convergence, significance
from training.summaries import LFW_ACCURACY_TAG

LOSS_TAG = "train/total_loss"
DATA_LOSS_TAG = "train/loss"        # without the weight-decay term: what the convergence verdict reads
BATCH_ACCURACY_TAG = "train/batch_accuracy"
SPEED_TAG = "train/images_per_sec"
INTERRUPTED = "interrupted (rerun the command to resume)"
PER_SEED_HEADING = "Per seed (LFW View 2 accuracy, steps):"
PER_SEED_LINE = re.compile(r"^- `([^`]+)`: (.*)$")


@dataclass
class RowResult:
    """One run (one seed) of a row."""
    name: str
    label: str
    status: str                         # done / stopped / not run
    note: str = ""
    lfw: dict | None = None             # eval_lfw.py JSON
    steps: int | None = None
    train_minutes: float | None = None
    images_per_sec: float | None = None
    commands: tuple[str, str] = ("", "")
    curves: dict = field(default_factory=dict)   # tag -> (steps, values)
    training: convergence.Verdict | None = None


def read_scalars(run_dir: Path) -> dict:
    """tag -> (steps, values, wall_times) from the run's TensorBoard event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars: dict = {}
    for events_dir in sorted({p.parent for p in RunLayout(run_dir).tensorboard.glob("**/events.out.tfevents.*")}):
        accumulator = EventAccumulator(str(events_dir), size_guidance={"scalars": 0, "tensors": 0})
        accumulator.Reload()
        tags = accumulator.Tags()
        for tag in tags.get("scalars", []):
            events = accumulator.Scalars(tag)
            scalars[tag] = ([e.step for e in events], [e.value for e in events], [e.wall_time for e in events])
        for tag in tags.get("tensors", []):
            events = accumulator.Tensors(tag)
            try:
                values = [float(np.asarray(_tensor_value(e.tensor_proto))) for e in events]
            except (TypeError, ValueError):
                continue  # hparams and other non-scalar summaries
            scalars[tag] = ([e.step for e in events], values, [e.wall_time for e in events])
    return scalars


def _tensor_value(proto):
    import tensorflow as tf

    return tf.make_ndarray(proto)


def _stop_reason(run_dir: Path) -> str:
    log = RunLayout(run_dir).log
    if not log.exists():
        return "not run yet"
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if re.search(r"non-finite|NaN|Inf|Error|error", line):
            return line.split(" ", 2)[-1][:160]
    return INTERRUPTED


def _annealing_note(run_dir: Path) -> str:
    """'lambda at its floor 5 from step 40' for a loss that anneals lambda (SphereFace, L-softmax),
    from the run's config: the table says whether the blend reached the paper's loss in the budget."""
    import yaml

    from losses.registry import LOSSES
    from losses.sphereface import SphereFace

    config_file = RunLayout(run_dir).config
    if not config_file.exists():
        return ""
    loss = yaml.safe_load(config_file.read_text()).get("loss", {})
    entry = LOSSES.get(loss.get("name"))
    if entry is None or not issubclass(entry.cls, SphereFace):
        return ""
    floor, step = entry.cls.lambda_floor({**entry.defaults, **(loss.get("hparams") or {})})
    return f"lambda at its floor {floor:g} from step {step}"


def _scaled_session_minutes(done: dict, scalars: dict, result: RowResult) -> float | None:
    """A run from before the checkpointed clock: DONE.json times its last command only, so a
    resumed or extended (train.max_steps raised) run's minutes are scaled to all its steps."""
    minutes = done.get("train_minutes")
    if minutes is None and SPEED_TAG in scalars:
        walls = scalars[SPEED_TAG][2]
        minutes = (walls[-1] - walls[0]) / 60.0
    session_steps = done.get("steps_this_session")
    if minutes is not None and session_steps and result.steps and session_steps < result.steps:
        minutes *= result.steps / session_steps
        result.note = f"time scaled from the last session ({session_steps} of {result.steps} steps)"
    return minutes


def judge_training(result: RowResult) -> convergence.Verdict | None:
    """The convergence verdict from the run's curves; `result.note` carries a stopped run's reason.
    A run stopped half-way (not diverged) has none yet: its curve ends where it was stopped."""
    if result.note == INTERRUPTED:
        return None
    accuracy = result.curves.get(BATCH_ACCURACY_TAG, (None, None))[1]
    return convergence.judge(*result.curves.get(DATA_LOSS_TAG, ([], [])), result.note, accuracy,
                             result.curves.get(LFW_ACCURACY_TAG))


def collect_row(row, run_dir: Path, train_cmd: list, eval_cmd: list) -> RowResult:
    result = RowResult(row.name, row.label, "not run", commands=(shlex.join(train_cmd), shlex.join(eval_cmd)))
    if not run_dir.exists():
        return result
    scalars = read_scalars(run_dir)
    for tag in (LOSS_TAG, DATA_LOSS_TAG, BATCH_ACCURACY_TAG, LFW_ACCURACY_TAG):
        if tag in scalars:
            result.curves[tag] = scalars[tag][:2]
    if SPEED_TAG in scalars:
        steps, speeds, walls = scalars[SPEED_TAG]
        result.images_per_sec = float(np.median(speeds))
    layout = RunLayout(run_dir)
    done_file, eval_file = layout.done, layout.lfw_view2
    if done_file.exists():
        done = json.loads(done_file.read_text())
        result.status, result.steps = "done", done.get("steps")
        minutes = done.get("total_train_minutes")
        if minutes is None:
            minutes = _scaled_session_minutes(done, scalars, result)
        result.train_minutes = minutes
    else:
        result.status, result.note = "stopped", _stop_reason(run_dir)
    result.training = judge_training(result)
    if eval_file.exists():
        result.lfw = json.loads(eval_file.read_text())
    elif result.status == "done":
        result.note = "not evaluated yet (rerun the command)"
    result.note = "; ".join(filter(None, (result.note, _annealing_note(run_dir))))
    return result


def _fmt(value, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def _mean_sd(summary: dict, key: str) -> str:
    """'81.23 +- 0.52%' over seeds (sd with ddof 1; only the mean for one seed)."""
    entry = summary[key]
    scale, unit = (1, "") if key == "auc" else (100, "%")
    digits = "{:.4f}" if key == "auc" else "{:.2f}"
    text = digits.format(scale * entry["mean"])
    if entry["sd"] is not None:
        text += " +- " + digits.format(scale * entry["sd"])
    return text + unit


def _evaluated(runs: list[RowResult]) -> list[dict]:
    return [run.lfw for run in runs if run.status == "done" and run.lfw and "fold_accuracies" in run.lfw]


def _lengths(runs: list[RowResult]) -> str:
    """The finished runs' step counts, '480' or '480/1440'."""
    return "/".join(str(steps) for steps in sorted({run.steps for run in runs if run.status == "done"}))


def _row_line(label: str, name: str, runs: list[RowResult], reference: list[RowResult] | None,
              alpha: float) -> str:
    evaluated = _evaluated(runs)
    notes = sorted({run.note or run.status for run in runs if run.status != "done" or run.note})
    minutes = [run.train_minutes for run in runs if run.train_minutes is not None]
    speeds = [run.images_per_sec for run in runs if run.images_per_sec is not None]
    cells = [f"{label} (`{name}`)", f"{len(evaluated)}/{len(runs)}"]
    if evaluated:
        summary = significance.summarise(evaluated)
        cells += [_mean_sd(summary, key) for key in significance.SUMMARY_KEYS]
    else:
        cells += ["-"] * 3
    lengths, reference_lengths = _lengths(runs), _lengths(reference or [])
    if reference is None:
        cells += ["reference", "", "", ""]
    elif evaluated and _evaluated(reference) and lengths != reference_lengths:
        # A row trained longer (or shorter) than the reference says nothing about the config.
        cells += ["-", "-", "-", f"not comparable ({lengths} vs {reference_lengths} steps)"]
    elif evaluated and _evaluated(reference):
        comparison = significance.compare(evaluated, _evaluated(reference), alpha)
        cells += [f"{100 * comparison.difference:+.2f}", significance.format_p(comparison.p_seeds),
                  significance.format_p(comparison.p_folds), f"**{comparison.verdict}**"]
    else:
        cells += ["-", "-", "-", "-"]
    cells.append(convergence.summarise([run.training for run in runs]))
    cells += [_fmt(float(np.mean(minutes)) if minutes else None, "{:.1f} min"),
              _fmt(float(np.median(speeds)) if speeds else None, "{:.0f}"), "; ".join(notes)]
    return "| " + " | ".join(cells) + " |"


def write_table(exp_set, scale: str, results: dict[str, list[RowResult]], path: Path, curves_name: str,
                command: str, alpha: float = 0.05) -> str:
    """The markdown table of a set: one line per row (mean +- sd over seeds, comparison with the
    reference row), then each run's accuracy and the commands."""
    reference = exp_set.reference
    lines = [f"# {exp_set.title} ({scale} scale)", "",
             f"The article: {exp_set.article}", "",
             "LFW View 2, 10 folds, cosine similarity, flipped features concatenated; mean +- sd over "
             "seeds. Each row is compared with the reference row "
             f"(`{reference}`): difference of mean accuracy in points, Welch's t-test over the per-seed "
             "accuracies (p seeds) and a paired t-test over the 10 folds of the seed-averaged accuracies "
             f"(p folds); better/worse only when both p < {alpha} (method: experiments/README.md). "
             "Training: the loss curve's verdict, converges / stalls / collapses / diverges at a step "
             "(experiments/convergence.py). "
             f"Regenerated by `{command}` from the run directories and the committed run records "
             "(experiments/results/records/); configs in "
             f"`experiments/configs/{exp_set.name}/{scale}_*.yaml`.", "",
             "| config | seeds | LFW accuracy | VAL@FAR=1e-3 | AUC | vs ref. | p seeds | p folds | verdict "
             "| training | training time / run | images/s | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in exp_set.rows:
        lines.append(_row_line(row.label, row.name, results[row.name],
                               None if row.name == reference else results[reference], alpha))
    lines += ["", f"![curves]({curves_name})", "", PER_SEED_HEADING, ""]
    for row in exp_set.rows:
        runs = ", ".join(f"{_fmt(100 * run.lfw['accuracy_mean'] if run.lfw else None, '{:.2f}%')} "
                         f"({_fmt(run.steps, '{}')})" for run in results[row.name])
        lines.append(f"- `{row.name}`: {runs}")
    lines += ["", "Commands, per row and seed:", ""]
    for row in exp_set.rows:
        for run in results[row.name]:
            lines.append(f"- `{run.commands[0]}` then `{run.commands[1]}`")
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


def evaluated_runs_listed(text: str) -> dict[str, set[int]]:
    """Per row, the seeds a written table lists with an LFW accuracy (its per-seed lines, one entry
    per seed in order: '- `row`: 86.08% (1440), - (-)' lists seed 0)."""
    listed = {}
    for line in text.partition(PER_SEED_HEADING)[2].splitlines():
        match = PER_SEED_LINE.match(line)
        if match:
            entries = match.group(2).split(", ")
            listed[match.group(1)] = {seed for seed, entry in enumerate(entries) if "%" in entry}
    return listed


def check_keeps_runs(path: Path, results: dict[str, list[RowResult]]) -> None:
    """Refuse to rebuild a table that lists evaluated runs the new one would not have: their run
    directories are on another machine and they were never recorded (tables from before records)."""
    if not path.exists():
        return
    lost = {}
    for row, seeds in evaluated_runs_listed(path.read_text()).items():
        runs = results.get(row, [])
        missing = sorted(seed for seed in seeds if seed >= len(runs) or runs[seed].lfw is None)
        if missing:
            lost[row] = "seed " + ", ".join(map(str, missing))
    if lost:
        rows = ", ".join(f"{row} ({seeds})" for row, seeds in lost.items())
        raise UserError(f"{path} lists evaluated runs that are neither in runs/ nor recorded: {rows}; "
                        "rebuilding it would drop them: train them again (the same command) or move "
                        "the table away first")


def _mean_curve(runs: list[RowResult], tag: str):
    """(steps, mean, sd) over the runs at the steps all of them logged, or None."""
    curves = [dict(zip(*run.curves[tag])) for run in runs if tag in run.curves]
    if not curves:
        return None
    steps = sorted(set.intersection(*(set(curve) for curve in curves)))
    values = np.array([[curve[step] for step in steps] for curve in curves])
    return np.array(steps), values.mean(axis=0), values.std(axis=0)


def _curve_runs(runs: list[RowResult]) -> list[RowResult]:
    """The runs a row's curves average: the finished ones, else (none finished yet) every run that
    logged. A run still going would cut the finished runs' curves at its last step."""
    return [run for run in runs if run.status == "done"] or [run for run in runs if run.curves]


def write_curves(exp_set, results: dict[str, list[RowResult]], path: Path) -> None:
    """Training loss and in-training LFW accuracy vs step: mean over seeds, band = +- sd; n in the
    legend is the number of runs averaged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    for row in exp_set.rows:
        runs = _curve_runs(results[row.name])
        for axis, tag in zip(axes, (LOSS_TAG, LFW_ACCURACY_TAG)):
            curve = _mean_curve(runs, tag)
            if curve is None:
                continue
            steps, mean, sd = curve
            line, = axis.plot(steps, mean, marker="o" if tag == LFW_ACCURACY_TAG else None, markersize=3,
                              label=f"{row.name} (n={len(runs)})")
            axis.fill_between(steps, mean - sd, mean + sd, color=line.get_color(), alpha=0.2)
    axes[0].set(title="training loss (mean +- sd over seeds)", xlabel="step", ylabel="loss")
    axes[0].set_yscale("log")
    axes[1].set(title="LFW accuracy: in-training checks (first folds), then View 2", xlabel="step",
                ylabel="accuracy")
    for axis in axes:
        axis.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    figure.suptitle(exp_set.title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
