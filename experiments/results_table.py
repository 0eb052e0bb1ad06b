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
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.atomic_files import atomic_output, atomic_write_text
from common.machine import cpu_description
from common.run_layout import RunLayout
from experiments import convergence, significance, verdicts
from training.collapse import at_logged_digits
from training.summaries import LFW_ACCURACY_TAG

LOSS_TAG = "train/total_loss"
DATA_LOSS_TAG = "train/loss"  # without the weight-decay term: what the convergence verdict reads
BATCH_ACCURACY_TAG = "train/batch_accuracy"
SPEED_TAG = "train/images_per_sec"
INTERRUPTED = "interrupted (rerun the command to resume)"
PER_SEED_HEADING = "Per seed (LFW View 2 accuracy, steps):"
EARLY_TRAINING_SCALES = ("cpu",)  # fixed short budgets; cpu_long trains until the reference plateaus


@dataclass
class RowResult:
    """One run (one seed) of a row."""

    name: str
    label: str
    status: str  # done / stopped / not run
    note: str = ""
    lfw: dict | None = None  # eval_lfw.py JSON
    steps: int | None = None
    train_minutes: float | None = None
    images_per_sec: float | None = None
    commands: tuple[str, str] = ("", "")
    curves: dict = field(default_factory=dict)  # tag -> (steps, values)
    stopped_at: int | None = None  # the step of the non-finite loss that stopped training, if one did
    benchmarks: dict = field(default_factory=dict)  # other benchmark -> its eval_lfw.py final summary
    training: convergence.Verdict | None = None
    cpu: str = ""  # the machine that trained it (common.machine.cpu_description), "" if unknown


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


def _stop_of(run_dir: Path) -> tuple[str, int | None]:
    """(why a run without DONE.json stopped, the step of its non-finite loss or None): train.py's
    STOPPED.json, else "not run yet" (no log) or INTERRUPTED."""
    layout = RunLayout(run_dir)
    if layout.stopped.exists():
        stopped = json.loads(layout.stopped.read_text())
        return stopped["message"], stopped["step"]
    return ("not run yet" if not layout.log.exists() else INTERRUPTED), None


def _schedule_note(run_dir: Path) -> str:
    """What the run's loss says of its own schedule (e.g. SphereFace's lambda annealing reaching its
    floor), from the run's config; "" for a loss without one."""
    import yaml

    from losses.registry import LOSSES

    config_file = RunLayout(run_dir).config
    if not config_file.exists():
        return ""
    loss = yaml.safe_load(config_file.read_text()).get("loss", {})
    entry = LOSSES.get(loss.get("name"))
    if entry is None:
        return ""
    return entry.cls.describe_schedule({**entry.defaults, **(loss.get("hparams") or {})})


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
    """The convergence verdict from the run's curves and, for a run stopped by a non-finite loss,
    its step. A run stopped half-way (not diverged) has none yet: its curve ends where it was stopped."""
    if result.note == INTERRUPTED:
        return None
    accuracy = result.curves.get(BATCH_ACCURACY_TAG, (None, None))[1]
    return convergence.judge(
        *result.curves.get(DATA_LOSS_TAG, ([], [])), result.stopped_at, accuracy, result.curves.get(LFW_ACCURACY_TAG)
    )


def collect_row(row, run_dir: Path, train_cmd: list, eval_cmd: list) -> RowResult:
    result = RowResult(row.name, row.label, "not run", commands=(shlex.join(train_cmd), shlex.join(eval_cmd)))
    if not run_dir.exists():
        return result
    scalars = read_scalars(run_dir)
    for tag in (LOSS_TAG, DATA_LOSS_TAG, BATCH_ACCURACY_TAG, LFW_ACCURACY_TAG):
        if tag in scalars:
            # At the digits its record keeps, so the run directory and the record judge alike.
            result.curves[tag] = (scalars[tag][0], at_logged_digits(scalars[tag][1]).tolist())
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
        result.status = "stopped"
        result.note, result.stopped_at = _stop_of(run_dir)
    result.training = judge_training(result)
    result.cpu = cpu_description()
    result.benchmarks = _other_benchmarks(layout)
    if eval_file.exists():
        result.lfw = json.loads(eval_file.read_text())
    elif result.status == "done":
        result.note = "not evaluated yet (rerun the command)"
    result.note = "; ".join(filter(None, (result.note, _schedule_note(run_dir))))
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


def _comparison_cells(pair, judged: verdicts.SetVerdicts) -> list[str]:
    """vs ref. (95% CI) | p | p Holm | p TOST | verdict | take-off (Fisher)."""
    counts = str(judged.counts[pair]) if pair in judged.counts else "-"
    if pair in judged.not_comparable:
        return ["-", "-", "-", "-", judged.not_comparable[pair], counts]
    comparison = judged.comparisons.get(pair)
    if comparison is None:
        return ["-", "-", "-", "-", "-", counts]
    if comparison.welch is None:
        return [f"{comparison.difference:+.2f}", "-", "-", "-", f"**{comparison.verdict}**", counts]
    low, high = comparison.welch.ci
    return [
        f"{comparison.difference:+.2f} ({low:+.2f} to {high:+.2f})",
        significance.format_p(comparison.welch.p),
        significance.format_p(comparison.p_holm),
        significance.format_p(comparison.p_tost),
        f"**{comparison.verdict}**",
        counts,
    ]


def _machines(results: dict[str, list[RowResult]]) -> set[str]:
    """The CPUs that trained the set's timed runs."""
    return set(by_machine([run for runs in results.values() for run in runs], "train_minutes"))


def by_machine(runs: list[RowResult], attribute: str) -> dict[str, list[float]]:
    """The runs' values of `attribute` (those that have one), grouped by the CPU that trained them."""
    values: dict[str, list[float]] = {}
    for run in runs:
        if getattr(run, attribute) is not None:
            values.setdefault(run.cpu, []).append(getattr(run, attribute))
    return values


def _per_machine_cell(runs: list[RowResult], attribute: str, form: str, average, name_machine: bool) -> str:
    """The runs' `average` of `attribute`, one per machine that trained them, each named (the CPU up
    to its first comma) when the set's runs come from more than one machine: CPU generations differ
    up to 2x."""
    values = by_machine(runs, attribute)
    if not values:
        return "-"
    return "; ".join(
        form.format(float(average(numbers))) + (f" ({cpu.split(',')[0] or 'CPU not recorded'})" * name_machine)
        for cpu, numbers in sorted(values.items())
    )


def _row_line(exp_set, row, runs: list[RowResult], judged: verdicts.SetVerdicts, name_machine: bool = False) -> str:
    evaluated = verdicts.evaluated(runs)
    cells = [f"{row.label} (`{row.name}`)", f"{len(evaluated)}/{len(runs)}"]
    if evaluated:
        summary = significance.summarise(evaluated)
        cells += [_mean_sd(summary, key) for key in significance.SUMMARY_KEYS]
    else:
        cells += ["-"] * 3
    if row.name == exp_set.reference:
        converged, judged_runs = verdicts.take_off(runs)
        cells += ["reference", "", "", "", "", f"{converged}/{judged_runs}"]
    else:
        cells += _comparison_cells((row.name, exp_set.reference), judged)
    cells.append(convergence.summarise([run.training for run in runs]))
    cells.append(_last_quarter_cell(runs))
    cells += [
        _per_machine_cell(runs, "train_minutes", "{:.1f} min", np.mean, name_machine),
        _per_machine_cell(runs, "images_per_sec", "{:.0f}", np.median, name_machine),
        _notes_cell(runs),
    ]
    return "| " + " | ".join(cells) + " |"


def _notes_cell(runs: list[RowResult]) -> str:
    """Each note once, with the seeds it applies to where that is not all of them (a row with
    fewer seeds than the table says which ones are not run, not that the row is not run)."""
    seeds_of: dict[str, list[int]] = {}
    for seed, run in enumerate(runs):
        if run.status != "done" or run.note:
            seeds_of.setdefault(run.note or run.status, []).append(seed)
    return "; ".join(
        note if len(seeds) == len(runs) else f"{note} (seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))})"
        for note, seeds in sorted(seeds_of.items())
    )


def _last_quarter_cell(runs: list[RowResult]) -> str:
    return convergence.summarise_gains(
        [convergence.last_quarter_gain(run.curves.get(LFW_ACCURACY_TAG)) for run in runs]
    )


def headline_lines(exp_set, results: dict[str, list[RowResult]], judged: verdicts.SetVerdicts) -> list[str]:
    """The set's verdicts in brief (for docs/findings.md): accuracy, difference with CI, Holm p,
    verdict, take-off and the checks' last-quarter gain per row, the same numbers as the full table."""
    lines = [
        "| config | seeds | LFW accuracy | vs ref. (95% CI) | p Holm | verdict | take-off | last quarter |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in exp_set.rows:
        evaluated = verdicts.evaluated(results[row.name])
        accuracy = _mean_sd(significance.summarise(evaluated), "accuracy_mean") if evaluated else "-"
        if row.name == exp_set.reference:
            converged, judged_runs = verdicts.take_off(results[row.name])
            comparison = ["reference", "", "", f"{converged}/{judged_runs}"]
        else:
            cells = _comparison_cells((row.name, exp_set.reference), judged)
            comparison = [cells[0], cells[2], cells[4], cells[5]]
        lines.append(
            "| "
            + " | ".join(
                [
                    f"{row.label} (`{row.name}`)",
                    f"{len(evaluated)}/{len(results[row.name])}",
                    accuracy,
                    *comparison,
                    _last_quarter_cell(results[row.name]),
                ]
            )
            + " |"
        )
    return lines


def claim_lines(judged: verdicts.SetVerdicts) -> list[str]:
    """Per claim: its statement and source (the registry's), the outcome, each test's evidence."""
    lines = []
    for result in judged.claims:
        claim = result.claim
        lines.append(f"- **{result.outcome}** `{claim.id}`: {claim.statement} ({claim.cite()})")
        for test in result.tests:
            measure = test.test.measure.replace("_", "-")
            lines.append(
                f"  - {measure} of `{test.test.row}` vs `{test.against}`, expected "
                f"{test.test.expect.replace('_', ' ')}: {test.outcome}; {test.evidence}"
            )
    return lines


def more_seeds_lines(exp_set, scale: str, results: dict, judged: verdicts.SetVerdicts) -> list[str]:
    """The command that adds the seeds the rule of verdicts.CLOSE_GAP asks of the rows whose claim
    rests on a close gap (verdicts.rows_wanting_seeds), as a paragraph; [] when no row wants more or the scale
    is early training (its rows are still learning: more seeds would not decide the claim)."""
    wanting = verdicts.rows_wanting_seeds(exp_set, results, judged)
    if not wanting or scale in EARLY_TRAINING_SCALES:
        return []
    rows = [row for row in exp_set.row_names() if row in wanting]
    return [
        f"More seeds: a claim here rests on a gap under {verdicts.CLOSE_GAP:g} points, decided at "
        f"{verdicts.CLOSE_GAP_SEEDS} seeds a row ({', '.join(f'`{row}` has {wanting[row]}' for row in rows)}): "
        f"`python experiments/run.py {exp_set.name} --scale {scale} --only {' '.join(rows)} "
        f"--seeds {verdicts.CLOSE_GAP_SEEDS}`.",
        "",
    ]


def power_line(exp_set, judged: verdicts.SetVerdicts) -> str:
    if judged.pooled_sd is None:
        return "Power: no row has two evaluated seeds yet."
    if judged.detectable is None:
        return (
            "Power: not computable yet: the evaluated seeds do not vary (a seed sd of zero). "
            f"Equivalence margin (TOST): +-{judged.margin:g} points."
        )
    at_reference = (
        ""
        if judged.detectable_at_reference is None
        else f"; at the reference row's sd of {judged.reference_sd:.2f}, {judged.detectable_at_reference:.2f} points"
    )
    at_most = (
        ""
        if judged.detectable_at_most is None
        else f"; at {judged.most_seeds} seeds a row (the most any row has), {judged.detectable_at_most:.2f} points"
    )
    return (
        f"Power: at {exp_set.seeds} seeds a row, Welch's test (two-sided, 5%, before Holm) detects with "
        f"probability 0.8 a true difference of {judged.detectable:.2f} points at the rows' pooled seed sd "
        f"of {judged.pooled_sd:.2f}{at_reference}{at_most} (simulated, normal seeds); smaller gaps are mostly "
        f'"not distinguishable". Equivalence margin (TOST): +-{judged.margin:g} points.'
    )


def stage_line(scale: str, results: dict[str, list[RowResult]]) -> str:
    """What the scale measures: a short budget is early training, not a converged comparison."""
    steps = "/".join(sorted({verdicts.lengths(runs) for runs in results.values()} - {""})) or "-"
    if scale in EARLY_TRAINING_SCALES:
        return (
            f"**Early training**: {steps} steps, runs still learning when stopped: the table ranks how "
            "far each configuration gets in that budget, not where it ends. The converged comparison "
            "is the `cpu_long` scale."
        )
    return f"Scale `{scale}`: {steps} steps per run."


BENCHMARK_KEYS = ("accuracy_mean", "accuracy_std", "num_folds", "fold_accuracies")


def _other_benchmarks(layout: RunLayout) -> dict:
    """{benchmark: its final evaluation's summary} of every benchmark but LFW View 2 that the run
    was evaluated on (eval/<name>_final.json, verification.benchmarks.final_name)."""
    found = {}
    for path in sorted(layout.eval.glob("*_final.json")):
        summary = json.loads(path.read_text())
        found[path.stem.removesuffix("_final")] = {key: summary.get(key) for key in BENCHMARK_KEYS}
    return found


def benchmark_lines(exp_set, results: dict[str, list[RowResult]]) -> list[str]:
    """A column group per other benchmark the set's runs were evaluated on (CFP-FP, AgeDB-30, ...):
    final accuracy, mean +- sd over the seeds evaluated there; none when no run has one."""
    names = sorted({name for runs in results.values() for run in runs for name in run.benchmarks})
    if not names:
        return []
    lines = [
        "Other benchmarks (final evaluation, 10 folds; mean +- sd over the seeds evaluated on each, n):",
        "",
        "| config | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for row in exp_set.rows:
        cells = []
        for name in names:
            values = [
                100 * run.benchmarks[name]["accuracy_mean"] for run in results[row.name] if name in run.benchmarks
            ]
            if not values:
                cells.append("-")
                continue
            spread = f" +- {np.std(values, ddof=1):.2f}" if len(values) > 1 else ""
            cells.append(f"{np.mean(values):.2f}{spread}% ({len(values)})")
        lines.append(f"| `{row.name}` | " + " | ".join(cells) + " |")
    return lines + [""]


def write_table(
    exp_set,
    scale: str,
    results: dict[str, list[RowResult]],
    path: Path,
    curves_name: str,
    command: str,
    claims: list,
    training_time: str = "",
) -> str:
    """The markdown table of a set: one line per row (mean +- sd over seeds, comparison with the
    reference row), the verdict per claim, the set's power, then each run's accuracy and the
    commands. `training_time`: what the runs took (run_records.training_time_line). Returns its
    text."""
    reference = exp_set.reference
    judged = verdicts.judge_set(exp_set, results, claims)
    lines = [
        f"# {exp_set.title} ({scale} scale)",
        "",
        " ".join(filter(None, (stage_line(scale, results), training_time))),
        "",
        "LFW View 2, 10 folds, cosine similarity, flipped features concatenated; mean +- sd over "
        f"seeds (the seed is the unit). Each row against the reference row (`{reference}`): "
        "difference of mean accuracy in points with its 95% CI (Welch), Welch's p, Holm's p over "
        f"the set's comparisons, the TOST p at +-{exp_set.equivalence_margin:g} points; better/worse "
        "at Holm p < 0.05, equivalent at TOST p < 0.05, else not distinguishable "
        "(experiments/significance.py, experiments/README.md). Take-off: seeds whose training "
        "converged, row vs reference, Fisher's exact p. Training: the loss curve's verdict "
        "(experiments/convergence.py). Last quarter: points the in-training LFW check gained "
        "over the run's last quarter, per seed (still learning where it is 0.5 or more). "
        f"Regenerated by `{command}` from the committed run records (experiments/results/records/) "
        "and any run directories here; configs in "
        f"`experiments/configs/{exp_set.name}/{scale}_*.yaml`.",
        "",
        "| config | seeds | LFW accuracy | VAL@FAR=1e-3 | AUC | vs ref. (95% CI) | p | p Holm | p TOST "
        "| verdict | take-off | training | last quarter | training time / run | images/s | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    name_machine = len(_machines(results)) > 1
    for row in exp_set.rows:
        lines.append(_row_line(exp_set, row, results[row.name], judged, name_machine))
    lines += [
        "",
        *benchmark_lines(exp_set, results),
        "Claims (experiments/claims.yaml):",
        "",
        *claim_lines(judged),
        "",
        power_line(exp_set, judged),
        "",
        *more_seeds_lines(exp_set, scale, results, judged),
        f"![curves]({curves_name})",
        "",
        PER_SEED_HEADING,
        "",
    ]
    for row in exp_set.rows:
        runs = ", ".join(
            f"{_fmt(100 * run.lfw['accuracy_mean'] if run.lfw else None, '{:.2f}%')} ({_fmt(run.steps, '{}')})"
            for run in results[row.name]
        )
        lines.append(f"- `{row.name}`: {runs}")
    lines += ["", "Commands, per row and seed:", ""]
    for row in exp_set.rows:
        for run in results[row.name]:
            lines.append(f"- `{run.commands[0]}` then `{run.commands[1]}`")
    text = "\n".join(lines) + "\n"
    atomic_write_text(path, text)
    return text


def mean_curve(runs: list[RowResult], tag: str):
    """(steps, mean, sd) over the runs at the steps all of them logged, or None."""
    curves = [dict(zip(*run.curves[tag], strict=True)) for run in runs if tag in run.curves]
    if not curves:
        return None
    steps = sorted(set.intersection(*(set(curve) for curve in curves)))
    values = np.array([[curve[step] for step in steps] for curve in curves])
    return np.array(steps), values.mean(axis=0), values.std(axis=0)


def curve_runs(runs: list[RowResult]) -> list[RowResult]:
    """The runs a row's curves average: the finished ones, else (none finished yet) every run that
    logged. A run still going would cut the finished runs' curves at its last step."""
    return [run for run in runs if run.status == "done"] or [run for run in runs if run.curves]


# The panels of a set's figure: (tag, title, y label, log scale).
CURVE_PANELS = (
    # The data term: rows with and without weight decay compare on the same quantity.
    (DATA_LOSS_TAG, "training loss without the weight-decay term (mean +- sd over seeds)", "loss", True),
    (BATCH_ACCURACY_TAG, "training batch accuracy", "accuracy", False),
    (LFW_ACCURACY_TAG, "LFW accuracy: in-training checks (first folds), then View 2", "accuracy", False),
)


def write_curves(exp_set, results: dict[str, list[RowResult]], path: Path) -> None:
    """Training loss (data term), batch accuracy and in-training LFW accuracy vs step (CURVE_PANELS): mean over
    seeds, band = +- sd; n in the legend is the number of runs averaged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(CURVE_PANELS), figsize=(6.2 * len(CURVE_PANELS), 4.8))
    for row in exp_set.rows:
        runs = curve_runs(results[row.name])
        for axis, (tag, *_) in zip(axes, CURVE_PANELS, strict=True):
            curve = mean_curve(runs, tag)
            if curve is None:
                continue
            steps, mean, sd = curve
            (line,) = axis.plot(
                steps,
                mean,
                marker="o" if tag == LFW_ACCURACY_TAG else None,
                markersize=3,
                label=f"{row.name} (n={len(runs)})",
            )
            axis.fill_between(steps, mean - sd, mean + sd, color=line.get_color(), alpha=0.2)
    for axis, (_, title, ylabel, log_scale) in zip(axes, CURVE_PANELS, strict=True):
        axis.set(title=title, xlabel="step", ylabel=ylabel)
        if log_scale:
            axis.set_yscale("log")
        axis.grid(alpha=0.3)
    axes[-1].legend(fontsize=8, loc="lower right")
    figure.suptitle(exp_set.title)
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    plt.close(figure)
