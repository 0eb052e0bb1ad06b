"""Run records: what a results table reads of one run, committed to git so that it outlives the
machine that trained.

runs/ (checkpoints, event files) stays on the machine that trained it and is lost when work moves
to another. A record keeps, for one finished run (trained and evaluated, or stopped by a diverged
loss, which is a result too), what experiments/results_table.py reads of it: the eval_lfw.py JSON
(with the per-fold accuracies the paired test needs), steps, training time, images/s, the note,
the curves the convergence verdict and the figure are drawn from, and where it came from (code
revision, CPU). experiments/run.py writes a record for every such run it finds and reads the
record where the run directory is missing, so seeds trained on different machines add up to one
table, and a recorded run is not trained again.

    experiments/results/records/<set>_<scale>/<row>/seed<k>.json
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from common.atomic_files import atomic_write_text
from common.machine import cpu_description
from common.paths import REPO_ROOT
from common.run_layout import read_revision
from experiments.results_table import INTERRUPTED, RowResult, by_machine, judge_training
from training.collapse import at_logged_digits

RECORDS_DIR = REPO_ROOT / "experiments" / "results" / "records"

FORMAT = 1
NOT_RECORDED_NOTES = (INTERRUPTED, "not run yet")


def record_path(records_dir: Path, set_name: str, scale: str, row: str, seed: int) -> Path:
    return records_dir / f"{set_name}_{scale}" / row / f"seed{seed}.json"


def record_of(exp_set, row_name: str, scale: str, seed: int) -> Path:
    """A set's run's record in RECORDS_DIR, beside its run directory's home: a `same_as` row shares
    the other row's."""
    set_name, name = exp_set.home(row_name, scale)
    return record_path(RECORDS_DIR, set_name, scale, name, seed)


def recorded_seeds(exp_set, scale: str) -> int:
    """1 + the highest seed recorded for any row of the set at the scale; 0 when none is."""
    seeds = [
        int(path.stem.removeprefix("seed"))
        for row in exp_set.row_names()
        for path in record_of(exp_set, row, scale, 0).parent.glob("seed*.json")
    ]
    return 1 + max(seeds) if seeds else 0


def load_recorded(exp_set, scale: str, seeds: int) -> dict[str, list[RowResult]]:
    """row -> one RowResult per seed 0..seeds-1 from the committed records ("not run" where a seed has
    none): a set's results without its run directories."""
    results = {}
    for row in exp_set.rows:
        results[row.name] = []
        for seed in range(seeds):
            path = record_of(exp_set, row.name, scale, seed)
            results[row.name].append(
                load(path, row.name, row.label, ("", ""))
                if path.exists()
                else RowResult(row.name, row.label, "not run")
            )
    return results


def training_time_line(recorded: dict[str, list[RowResult]]) -> str:
    """What a set's recorded runs (load_recorded) took to train, per machine that trained them (its
    CPU as the record names it), e.g. 'Training: 2.4 h over 9 runs on AMD EPYC (family 26), 2 CPUs,
    AVX-512 BF16.'; "" when no run is recorded. A `same_as` row's runs count in each set that
    shows them."""
    minutes_per_machine = by_machine([run for runs in recorded.values() for run in runs], "train_minutes")
    parts = [
        f"{sum(minutes) / 60:.1f} h over {len(minutes)} run{'' if len(minutes) == 1 else 's'} on {cpu}"
        for cpu, minutes in sorted(minutes_per_machine.items())
    ]
    return f"Training: {'; '.join(parts)}." if parts else ""


def is_recordable(result: RowResult) -> bool:
    """A finished and evaluated run, or one that stopped for a reason other than an interruption."""
    if result.status == "done":
        return result.lfw is not None
    return result.status == "stopped" and result.note not in NOT_RECORDED_NOTES


def to_record(result: RowResult, run_dir: Path) -> dict:
    return {
        "format": FORMAT,
        "status": result.status,
        "note": result.note,
        "stopped_at": result.stopped_at,
        "steps": result.steps,
        "train_minutes": result.train_minutes,
        "images_per_sec": result.images_per_sec,
        "lfw": result.lfw,
        "benchmarks": result.benchmarks,
        "curves": {
            tag: [list(map(int, steps)), at_logged_digits(values).tolist()]
            for tag, (steps, values) in sorted(result.curves.items())
        },
        "source": {
            "revision": read_revision(run_dir),
            "cpu": result.cpu or cpu_description(),
            "recorded": datetime.date.today().isoformat(),
        },
    }


def from_record(record: dict, name: str, label: str, commands: tuple[str, str]) -> RowResult:
    if record.get("format") != FORMAT:
        raise ValueError(f"run record format {record.get('format')!r}, this code reads {FORMAT}")
    result = RowResult(
        name,
        label,
        record["status"],
        record["note"],
        record["lfw"],
        record["steps"],
        record["train_minutes"],
        record["images_per_sec"],
        commands,
        {tag: tuple(curve) for tag, curve in record["curves"].items()},
        stopped_at=record.get("stopped_at"),
        benchmarks=record.get("benchmarks", {}),
    )
    result.training = judge_training(result)
    result.cpu = record["source"]["cpu"]
    return result


def save(result: RowResult, run_dir: Path, path: Path) -> str | None:
    """Write the run's record unless it holds these numbers already (rebuilding a table leaves the
    committed records untouched); returns a line saying what changed when it replaces a record
    with other numbers (the old one stays in git's history), else None."""
    record = to_record(result, run_dir)
    old = json.loads(path.read_text()) if path.exists() else None
    if old is not None and _numbers(old) == _numbers(record):
        return None
    atomic_write_text(path, json.dumps(record, indent=1) + "\n")
    return None if old is None else f"record {path} replaced: {_describe(old)} -> {_describe(record)}"


def load(path: Path, name: str, label: str, commands: tuple[str, str]) -> RowResult:
    return from_record(json.loads(path.read_text()), name, label, commands)


def _numbers(record: dict) -> tuple:
    lfw = record.get("lfw") or {}
    return record["status"], record["steps"], lfw.get("fold_accuracies")


def _describe(record: dict) -> str:
    lfw = record.get("lfw")
    accuracy = f"{100 * lfw['accuracy_mean']:.2f}%" if lfw else record["status"]
    return f"{accuracy} at step {record['steps']} ({record['source']['revision']})"
