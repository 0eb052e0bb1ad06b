"""Run a set of the article's experiments and regenerate its results table and curves.

    python experiments/run.py SET [--seeds N] [--scale cpu|cpu_long|full] [--only ROW ...] [--report-only] [--dry-run]
    python experiments/run.py --all --report-only      # every table with records, and docs/findings.md

SET is a file stem of experiments/sets/ (the choices below). Each row of a set is one config,
experiments/configs/<SET>/<scale>_<row>.yaml, trained by train.py with seeds 0..N-1 (N: --seeds,
else the set file's `seeds` (3 unless it says otherwise) or, when more seeds are recorded, as many
as are; the seed sets the initial weights, the data order, dropout and the flips) into runs/<scale>/<SET>/<row>/seed<k>/
and evaluated on LFW View 2 by eval_lfw.py. Seeds run
round-robin (seed 0 of every row, then seed 1, ...), so a stopped set already holds comparable
rows. Finished runs are not retrained (train.py leaves a run with DONE.json alone) and
interrupted ones resume, so rerunning the command after a stop only does what is left. The table
(mean +- sd over seeds, significance against the reference row) and the figure in
experiments/results/ are rebuilt every time from the run directories and, for runs whose
directory is on another machine, from their committed records (experiments/results/records/,
written here as soon as each run finishes; a recorded run is not trained again). `--all --report-only`
rebuilds every table that has records, from the records alone where the runs are elsewhere, and
renders the generated blocks of docs/findings.md and experiments/README.md
(experiments/findings.py). Each table judges the claims its set tests (experiments/claims.yaml)
with the verdicts of experiments/verdicts.py.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.errors import UserFileNotFoundError, entry_point  # noqa: E402
from common.paths import REPO_ROOT, data_root  # noqa: E402
from common.run_layout import RunLayout  # noqa: E402
from common.tf_startup import import_tensorflow  # noqa: E402

import_tensorflow()  # before results_table (TensorBoard's event files) imports it: without the CPU-only notices

from experiments import findings, run_records  # noqa: E402
from experiments.claims import claims_of_set  # noqa: E402
from experiments.experiment_sets import SCALES, ExperimentSet, check_registry, load_set, set_names  # noqa: E402
from experiments.results_table import RowResult, collect_row, write_curves, write_table  # noqa: E402

PROG = "experiments/run.py"

RESULTS_DIR = REPO_ROOT / "experiments" / "results"


def row_commands(exp_set: ExperimentSet, row_name: str, scale: str, data: Path, seed: int) -> tuple[list, list]:
    """The train.py and eval_lfw.py command lines of one row and seed (relative paths, as a user
    types them)."""
    config = exp_set.config_path(row_name, scale).relative_to(REPO_ROOT)
    run_dir = Path(os.path.relpath(exp_set.run_dir(row_name, scale, seed), REPO_ROOT))
    train = ["python", "train.py", "--config", str(config), "--set", f"run_dir={run_dir}", "--set", f"seed={seed}"]
    lfw_dir = exp_set.lfw_dir(row_name, scale)
    pairs = os.path.relpath(data / "lfw_pairs.txt", REPO_ROOT)
    evaluate = [
        "python",
        "eval_lfw.py",
        "--model",
        str(run_dir),
        "--lfw-dir",
        str(lfw_dir),
        "--pairs",
        pairs,
        "--json",
        str(RunLayout(run_dir).lfw_view2),
    ]
    return train, evaluate


def with_this_python(command: list) -> list:
    """`command` (as printed: `python ...`) run by sys.executable."""
    return [sys.executable, *command[1:]] if command[0] == "python" else list(command)


def recorded_elsewhere(exp_set: ExperimentSet, row_name: str, scale: str, seed: int) -> bool:
    """The run has a record and no run directory here: it was trained on another machine."""
    record = run_records.record_of(exp_set, row_name, scale, seed)
    return record.exists() and not exp_set.run_dir(row_name, scale, seed).exists()


def check_row_folders(
    exp_set: ExperimentSet, row_names: list[str], scale: str, seeds: int, root: Path = REPO_ROOT
) -> None:
    """One line before anything trains when a row still to train reads a folder that is not under
    `root` (a set not aligned or centre-cropped yet), instead of a failed run per seed."""
    from training.config import load_config

    for row_name in row_names:
        if all(recorded_elsewhere(exp_set, row_name, scale, seed) for seed in range(seeds)):
            continue
        path = exp_set.config_path(row_name, scale)
        config = load_config(path)
        folders = [("data.train_dirs", folder) for folder in config.data.train_dirs if config.data.format == "folders"]
        for key, folder in [*folders, ("eval.lfw_dir", config.eval.lfw_dir)]:
            if not (root / folder).is_dir():
                raise UserFileNotFoundError(
                    f"{path.relative_to(REPO_ROOT)}: {key} {folder} not found; make it with "
                    "python align/align_dataset.py (the commands: docs/data.md)"
                )


def run_row(exp_set: ExperimentSet, row_name: str, scale: str, data: Path, seed: int, dry_run: bool) -> None:
    record = run_records.record_of(exp_set, row_name, scale, seed)
    if recorded_elsewhere(exp_set, row_name, scale, seed):
        print(
            f"  recorded in {os.path.relpath(record, REPO_ROOT)} (its run directory is not here): not "
            "trained again; delete the record to rerun it"
        )
        return
    train, evaluate = row_commands(exp_set, row_name, scale, data, seed)
    train += ["--data-root", os.path.relpath(data, REPO_ROOT)]
    for command in (train, evaluate):
        print("$ " + shlex.join(command), flush=True)
        if dry_run:
            continue
        if command is evaluate and (REPO_ROOT / command[command.index("--json") + 1]).exists():
            print("  (evaluation already done)")
            continue
        # The interpreter running this script, not whichever `python` is first on PATH.
        result = subprocess.run(with_this_python(command), cwd=REPO_ROOT)
        if result.returncode != 0:
            # A diverged row (e.g. ArcFace used directly) is a result, not a reason to stop the set.
            print(
                f"  row {row_name!r} seed {seed}: {command[1]} exited with code {result.returncode} (its message "
                "is above); going on with the next run (a run stopped by a diverged loss goes in the table)"
            )
            return


def collect_seed(exp_set: ExperimentSet, row, scale: str, data: Path, seed: int) -> RowResult:
    """One run's results: from its run directory, whose finished run is (re)recorded, else from its
    record, else 'not run'."""
    run_dir = exp_set.run_dir(row.name, scale, seed)
    record = run_records.record_of(exp_set, row.name, scale, seed)
    result = collect_row(row, run_dir, *row_commands(exp_set, row.name, scale, data, seed))
    if run_records.is_recordable(result):
        change = run_records.save(result, run_dir, record)
        if change:
            print(change)
        return result
    if record.exists():
        return run_records.load(record, row.name, row.label, result.commands)
    return result


def record_finished_run(exp_set: ExperimentSet, row_name: str, scale: str, data: Path, seed: int) -> None:
    """The run's record as soon as it is finished, not at the end of the set: a set stopped part-way,
    or a machine given back, keeps the record of every run done so far."""
    row = next(row for row in exp_set.rows if row.name == row_name)
    collect_seed(exp_set, row, scale, data, seed)


def report(exp_set: ExperimentSet, scale: str, seeds: int, data: Path, claims: dict) -> str:
    """Rebuild the set's table and figure at the scale (run directories here, else records)."""
    results = {
        row.name: [collect_seed(exp_set, row, scale, data, seed) for seed in range(seeds)] for row in exp_set.rows
    }
    stem = f"{exp_set.name}_{scale}"
    command = f"python experiments/run.py {exp_set.name} --scale {scale} --seeds {seeds} --report-only"
    table = write_table(
        exp_set,
        scale,
        results,
        RESULTS_DIR / f"{stem}.md",
        f"{stem}_curves.png",
        command,
        claims_of_set(claims, exp_set.name),
        # Records only: `results` may hold a run still training here.
        run_records.training_time_line(run_records.load_recorded(exp_set, scale, seeds)),
    )
    write_curves(exp_set, results, RESULTS_DIR / f"{stem}_curves.png")
    return table


def report_all(data: Path, claims: dict) -> None:
    """Every set and scale with records: its table and figure; then docs/findings.md's blocks."""
    for name in set_names():
        exp_set = load_set(name)
        for scale in exp_set.scales:
            seeds = run_records.recorded_seeds(exp_set, scale)
            if seeds:
                print(f"== {name} ({scale}): {max(seeds, exp_set.seeds)} seeds", flush=True)
                report(exp_set, scale, max(seeds, exp_set.seeds), data, claims)
    print(f"{findings.render_file(claims=claims)}: generated blocks rendered", flush=True)


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("set", nargs="?", choices=set_names(), help="experiment set (a file of experiments/sets/)")
    parser.add_argument(
        "--all",
        action="store_true",
        help="with --report-only: rebuild every table that has records, and the generated blocks of docs/findings.md",
    )
    parser.add_argument("--scale", choices=SCALES, default="cpu")
    parser.add_argument(
        "--seeds",
        type=int,
        help="runs per row, seeds 0..N-1 (default: the set file's "
        "`seeds`, 3 unless it says otherwise; significance needs >= 2)",
    )
    parser.add_argument("--only", nargs="+", metavar="ROW", help="run only these rows (the table keeps all)")
    parser.add_argument("--report-only", action="store_true", help="rebuild table and figure, train nothing")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--data-root", help="data root (default $FACEREC_DATA or ../shared/data)")
    args = parser.parse_args(argv)

    claims = check_registry()
    data = data_root(args.data_root)
    if args.all:
        if args.set or not args.report_only:
            parser.error("--all rebuilds reports only: use `--all --report-only` without a set")
        report_all(data, claims)
        return 0
    if args.set is None:
        parser.error("name a set, or use --all --report-only")
    exp_set = load_set(args.set)
    if args.scale not in exp_set.scales:
        parser.error(f"set {args.set!r} has configs at the scales {list(exp_set.scales)}, not {args.scale!r}")
    rows = exp_set.row_names()
    unknown = sorted(set(args.only or ()) - set(rows))
    if unknown:
        parser.error(f"unknown row(s) {unknown} in set {args.set!r}; rows: {rows}")
    if args.seeds is None:
        args.seeds = max(exp_set.seeds, run_records.recorded_seeds(exp_set, args.scale))
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    if not args.report_only:
        if not args.dry_run:
            check_row_folders(exp_set, args.only or rows, args.scale, args.seeds)
        for seed in range(args.seeds):
            for row_name in args.only or rows:
                print(f"== {args.set} / {row_name} / seed {seed} ({args.scale})", flush=True)
                run_row(exp_set, row_name, args.scale, data, seed, args.dry_run)
                if not args.dry_run:
                    record_finished_run(exp_set, row_name, args.scale, data, seed)
    if args.dry_run:
        return 0
    print(report(exp_set, args.scale, args.seeds, data, claims))
    return 0


if __name__ == "__main__":
    sys.exit(main())
