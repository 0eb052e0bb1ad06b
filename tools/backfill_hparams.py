"""Write the HParams session of finished runs from what they saved, without evaluating again.

    python tools/backfill_hparams.py runs/cpu/optimizer_bn [RUN_DIR_OR_FOLDER ...]

Every run dir at or below the arguments that holds config.yaml, DONE.json (train.py finished; its
`lfw` is the last in-training check) and eval/lfw_view2.json (eval_lfw.py over every fold of View
2, as experiments/run.py writes it) gets what train.py and eval_lfw.py write today
(training/summaries.py): the HParams sub-run tensorboard/hparams with the config's hparams,
lfw_check/accuracy and lfw_view2/*, and the View 2 point that ends the lfw/ curve. Meant for runs
trained before the sub-run existed (their old HParams summaries in the main run are removed, the
rest of their logs kept); running it again rewrites the same values.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.errors import entry_point  # noqa: E402
from common.run_layout import RunLayout  # noqa: E402
from common.tf_startup import import_tensorflow  # noqa: E402

import_tensorflow()  # before training.summaries imports it: without the CPU-only start-up notices

from training import summaries  # noqa: E402
from training.config import load_config  # noqa: E402

PROG = "tools/backfill_hparams.py"

VIEW2_JSON = RunLayout(Path(".")).lfw_view2
VIEW2_FOLDS = 10


def finished_runs(paths: list[Path]) -> list[Path]:
    """The run dirs at or below `paths` with a config, DONE.json and a View 2 JSON."""
    found = []
    for path in paths:
        for config in sorted([path / "config.yaml"] + list(path.glob("**/config.yaml"))):
            run_dir = config.parent
            if (run_dir / "DONE.json").is_file() and (run_dir / VIEW2_JSON).is_file() and run_dir not in found:
                found.append(run_dir)
    return found


def final_protocol(final: dict, source: Path) -> str:
    """The lfw/protocol text of the View 2 point, naming the JSON it was read from."""
    return (
        f"eval_lfw.py: all {final['num_folds']} folds ({final['num_pairs']} pairs) of "
        f"{Path(final['pairs']).name}, flip {final['flip']}, {final['similarity']} "
        f"(read from {source} by tools/backfill_hparams.py)"
    )


def backfill(run_dir: Path) -> str:
    """Write one run's HParams session; returns the line to print."""
    final = json.loads((run_dir / VIEW2_JSON).read_text())
    if final["num_folds"] != VIEW2_FOLDS:
        return f"{run_dir}: skipped, {VIEW2_JSON} used {final['num_folds']} folds, not all {VIEW2_FOLDS}"
    done = json.loads((run_dir / "DONE.json").read_text())
    config = load_config(run_dir / "config.yaml")
    summaries.write_hparams_from_results(
        config, run_dir, done["steps"], done.get("lfw"), final, final_protocol(final, VIEW2_JSON)
    )
    check = f"{done['lfw']['accuracy_mean']:.2%}" if done.get("lfw") else "none"
    return f"{run_dir}: step {done['steps']}, View 2 {final['accuracy_mean']:.2%}, last check {check}"


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="+", type=Path, help="run dirs or folders holding run dirs")
    args = parser.parse_args(argv)
    runs = finished_runs(args.paths)
    if not runs:
        parser.error(
            f"no finished, evaluated run (config.yaml, DONE.json, {VIEW2_JSON}) at or below "
            f"{', '.join(map(str, args.paths))}"
        )
    for run_dir in runs:
        print(backfill(run_dir), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
