"""The main job, end to end on the default data: align -> train -> evaluate LFW View 2.

    python demo.py [--data-root DIR] [--download] [--config experiments/configs/demo.yaml]

1. aligns the training sets (celeba299 + celeba841: 1,140 identities, disjoint from LFW) and the
   LFW images that the View 2 pairs need, into cache/aligned/ (reruns reuse what is there);
2. trains the CPU-scale demo config into runs/<name>/ (a rerun resumes or, once finished, skips);
3. evaluates the exported model on LFW View 2 with eval_lfw.py and prints the table, and where
   the TensorBoard logs and figures are; every other registered benchmark whose file is under
   the data root (insightface's cfp_fp.bin, agedb_30.bin, ...: docs/benchmarks_eval.md) is
   evaluated too, and the demo says which it found.

Each stage is the same command a user would type; they are printed before they run. A stage that
fails has printed its own error; the demo names the stage and exits with that stage's exit code.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from align.inputs import alignment_commands
from common.atomic_files import atomic_write_json
from common.errors import UserFileNotFoundError, entry_point
from common.lfw_download import GET_LFW_HELP, download_lfw
from common.machine import cpu_description
from common.paths import CACHE_DIR, DEMO_RECORD, REPO_ROOT, RUNS_DIR, data_root
from common.run_layout import RunLayout, read_revision, run_dir_of
from training.config import load_config
from verification import benchmarks

PROG = "demo.py"

DEFAULT_CONFIG = "experiments/configs/demo.yaml"


def run(command: list[str]) -> None:
    print("\n$ " + shlex.join(command), flush=True)
    result = subprocess.run(command, cwd=REPO_ROOT)
    if result.returncode != 0:
        print(f"demo.py: error: step failed (exit code {result.returncode}): {shlex.join(command)}", file=sys.stderr)
        sys.exit(result.returncode)


def check_data(root: Path, download: bool) -> None:
    if not (root / "lfw").is_dir() or not (root / "lfw_pairs.txt").is_file():
        if not download:
            raise UserFileNotFoundError(GET_LFW_HELP.format(root=root))
        print(f"downloading LFW into {root} ...", flush=True)
        download_lfw(root)


def evaluate_other_benchmarks(root: Path, run_dir: Path, to_run_dir: list[str]) -> dict[str, dict]:
    """eval_lfw.py on every registered benchmark besides LFW whose file is under the data root;
    {name: result}. Says what it found, and that the others are skipped."""
    found = {
        name: root / b.file
        for name, b in benchmarks.BENCHMARKS.items()
        if name != benchmarks.LFW and (root / b.file).is_file()
    }
    print(
        f"\nother benchmarks under {root}: "
        f"{', '.join(f'{name} ({path.name})' for name, path in found.items()) or 'none'}"
        " (docs/benchmarks_eval.md: where to get insightface's .bin files)",
        flush=True,
    )
    results = {}
    for name in found:
        result_json = RunLayout(run_dir).eval_json(benchmarks.final_name(name))
        run(
            [
                sys.executable,
                "eval_lfw.py",
                "--model",
                str(run_dir),
                "--benchmark",
                name,
                "--data-root",
                str(root),
                "--json",
                str(result_json),
                *to_run_dir,
            ]
        )
        results[name] = json.loads(result_json.read_text())
    return results


def demo_summary(config_path: str, config, run_dir: Path, minutes: float, stage_minutes: dict, result: dict) -> dict:
    """What the README's demo line is rendered from: wall time per stage, LFW View 2, where it ran."""
    return {
        "command": "python demo.py",
        "config": config_path,
        "steps": config.train.max_steps,
        "wall_minutes": round(minutes, 2),
        "stage_minutes": {stage: round(value, 2) for stage, value in stage_minutes.items()},
        "lfw_view2": {key: result[key] for key in ("accuracy_mean", "accuracy_std", "val_mean", "auc")},
        "source": {
            "revision": read_revision(run_dir),
            "cpu": cpu_description(),
            "recorded": time.strftime("%Y-%m-%d", time.gmtime()),
        },
    }


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-root",
        help="folder with lfw/, lfw_pairs.txt, celeba299/, celeba841/ (default $FACEREC_DATA or ../shared/data)",
    )
    parser.add_argument("--download", action="store_true", help="fetch LFW from the official site if missing")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="training config (CPU-scale demo by default)")
    parser.add_argument("--workers", type=int, default=2, help="alignment worker processes")
    parser.add_argument(
        "--record",
        action="store_true",
        help=f"also write the summary to {DEMO_RECORD.relative_to(REPO_ROOT)}, the committed "
        "record that the README's demo result is rendered from",
    )
    return parser.parse_args(argv)


def print_summary(minutes: float, result: dict, others: dict[str, dict], run_dir: Path, result_json: Path) -> None:
    print(f"\nDemo finished in {minutes:.1f} min.")
    print(
        f"  LFW View 2 accuracy: {100 * result['accuracy_mean']:.2f} +- {100 * result['accuracy_std']:.2f}%"
        f"   VAL@FAR=1e-3: {100 * result['val_mean']:.2f}%   AUC: {result['auc']:.4f}"
    )
    for name, other in others.items():
        print(
            f"  {name}: {100 * other['accuracy_mean']:.2f} +- {100 * other['accuracy_std']:.2f}%"
            f"   ({benchmarks.BENCHMARKS[name].measures})"
        )
    print(f"  run directory:   {run_dir.relative_to(REPO_ROOT)}/ (config, log, checkpoints, export/)")
    print(f"  evaluation:      {result_json.parent.relative_to(REPO_ROOT)}/ (JSON, ROC and error-gallery PNGs)")
    print(f"  TensorBoard:     tensorboard --logdir {RUNS_DIR.relative_to(REPO_ROOT)}")
    print(f"  curves as PNG:   python tools/plot_runs.py {run_dir.relative_to(REPO_ROOT)} --out curves.png")


@entry_point(PROG)
def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.time()
    root = data_root(args.data_root)
    check_data(root, args.download)
    config = load_config(args.config)
    python = sys.executable

    stage_minutes = {}
    for _, command in alignment_commands(
        python,
        root,
        config.data.train_dirs,
        config.eval.lfw_dir,
        config.data.image_size,
        args.workers,
        CACHE_DIR / "lfw_pairs_images.txt",
    ):
        run(command)
    stage_minutes["align"] = (time.time() - started) / 60
    run_dir = run_dir_of(config.name, config.run_dir)
    run([python, "train.py", "--config", args.config, "--data-root", str(root)])
    stage_minutes["train"] = (time.time() - started) / 60 - sum(stage_minutes.values())

    # A rerun of the demo evaluates its run again: --overwrite replaces the JSONs on purpose.
    to_run_dir = ["--run-dir", str(run_dir), "--step", str(config.train.max_steps), "--overwrite"]
    result_json = RunLayout(run_dir).lfw_view2
    run(
        [
            python,
            "eval_lfw.py",
            "--model",
            str(run_dir),
            "--lfw-dir",
            config.eval.lfw_dir,
            "--pairs",
            str(root / "lfw_pairs.txt"),
            "--json",
            str(result_json),
            *to_run_dir,
        ]
    )
    others = evaluate_other_benchmarks(root, run_dir, to_run_dir)

    result = json.loads(result_json.read_text())
    minutes = (time.time() - started) / 60
    stage_minutes["evaluate"] = minutes - sum(stage_minutes.values())
    summary = demo_summary(args.config, config, run_dir, minutes, stage_minutes, result)
    for path in [RunLayout(run_dir).root / "demo.json"] + ([DEMO_RECORD] if args.record else []):
        atomic_write_json(path, summary)
    print_summary(minutes, result, others, run_dir, result_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
