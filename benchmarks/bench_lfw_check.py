"""What train.py's in-training LFW checks cost, as a share of a run's training time.

One check is training.loop's real code path (`Trainer.run_check`: embed the check's LFW images with the
training model, run the protocol, write the lfw/ summaries), timed against the training step of
the same Trainer in the same process, rounds interleaved so that machine load hits both alike.
For each width and check variant (folds x flip) it prints the check's seconds, the same in
training steps, and the share of training time that N checks add to runs of the given lengths:

    share = N * check_seconds / (run_steps * step_seconds)

in wall-clock seconds and in the process's CPU seconds (user + system): on a shared machine the
CPU seconds are the steadier measure of the work, as other jobs stretch the wall clock unevenly.

    python benchmarks/bench_lfw_check.py [--config experiments/configs/cpu_sets.yaml]
        [--widths 0.25 0.5] [--folds 4 2] [--flips concat none] [--checks 10]
        [--run-steps 720 2000] [--steps 10] [--rounds 3]

The first check of a Trainer also traces the embedding function; it is printed apart, and the
medians come from the later rounds.

`--agreement RUNS_DIR` instead asks what a cheaper check loses: for every finished run below
RUNS_DIR it evaluates each check variant on the embeddings that eval_lfw.py saved for the run's
final View 2 (eval/lfw_embeddings_*.npz, no model call) and prints how far the variant's accuracy
lies from the run's View 2 accuracy (mean and sd over runs) and the correlation across runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from common.errors import entry_point  # noqa: E402
from common.paths import REPO_ROOT, data_root  # noqa: E402
from common.tf_startup import import_tensorflow  # noqa: E402

tf = import_tensorflow()  # before training/ and verification/ import it: without the CPU-only notices

from training.config import load_config  # noqa: E402
from training.loop import Trainer, build_evaluator  # noqa: E402
from verification import protocol  # noqa: E402
from verification.embeddings_file import load_embedding_table  # noqa: E402
from verification.pairs import parse_pairs  # noqa: E402

PROG = "benchmarks/bench_lfw_check.py"


def make_trainer(config_path: str, width: float, work: Path) -> Trainer:
    """The config's Trainer at `width`, with an LFW evaluator (summaries into `work`)."""
    run_dir = work / f"width{width:g}"
    run_dir.mkdir()
    config = load_config(config_path, [f"model.width={width}", f"run_dir={run_dir}", "eval.lfw_every_steps=1"])
    logger = logging.getLogger(f"bench.{width}")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return Trainer(config, run_dir, data_root(), logger)


def clocks() -> np.ndarray:
    """(wall, CPU) seconds now; CPU counts every thread of this process."""
    return np.array([time.perf_counter(), time.process_time()])


def step_seconds(trainer: Trainer, batches, steps: int) -> np.ndarray:
    """(wall, CPU) seconds per training step (input pipeline included), over `steps` steps."""
    start = clocks()
    for _ in range(steps):
        stats = trainer.train_step(*next(batches))
    float(stats["total_loss"])  # wait for the last step
    return (clocks() - start) / steps


def use_variant(trainer: Trainer, folds: int, flip: str, evaluators: dict) -> None:
    """Point the trainer's check at `folds` folds with `flip` (evaluators loaded once each)."""
    if folds not in evaluators:
        trainer.config.eval.folds = folds
        evaluators[folds] = build_evaluator(trainer.config, data_root(), "lfw")
    trainer.checks["lfw"] = evaluators[folds]
    trainer.config.eval.folds = folds
    trainer.config.eval.flip = flip


def check_seconds(trainer: Trainer, writer, step: int) -> np.ndarray:
    """(wall, CPU) seconds of one in-training check."""
    start = clocks()
    with writer.as_default():
        trainer.run_check("lfw", step)
    return clocks() - start


def measure_width(args, width: float, work: Path) -> dict:
    """{"batch": n, "step": s, "first_check": s, (folds, flip): check s} at one width, each
    (wall, CPU) seconds, medians over the rounds."""
    trainer = make_trainer(args.config, width, work)
    writer = tf.summary.create_file_writer(str(trainer.run_dir / "tensorboard"))
    batches = iter(trainer.make_dataset(0))
    step_seconds(trainer, batches, 3)  # warm-up: tracing, pipeline start
    variants = [(folds, flip) for folds in args.folds for flip in args.flips]
    evaluators: dict = {}
    use_variant(trainer, *variants[0], evaluators)
    first_check = check_seconds(trainer, writer, 0)
    times = {"step": [], **{variant: [] for variant in variants}}
    for round_index in range(args.rounds):
        times["step"].append(step_seconds(trainer, batches, args.steps))
        for variant in variants:
            use_variant(trainer, *variant, evaluators)
            times[variant].append(check_seconds(trainer, writer, round_index + 1))
    return {
        "batch": trainer.config.train.batch_size,
        "first_check": first_check,
        **{key: np.median(values, axis=0) for key, values in times.items()},
    }


def report(args, width: float, measured: dict) -> None:
    step, batch = measured["step"], measured["batch"]
    print(
        f"\nResface20 x{width:g}: training step {step[0]:.3f} s wall, {step[1]:.3f} s CPU "
        f"({batch / step[0]:.0f} img/s at batch {batch}); first check of the run "
        f"{measured['first_check'][0]:.1f} s wall (tracing included)"
    )
    lengths = "  ".join(f"{steps:>5} steps" for steps in args.run_steps)
    print(
        f"  {'check':<16} {'wall s':>7} {'CPU s':>7} {'in steps':>9}   "
        f"share of training for {args.checks} checks (wall / CPU): {lengths}"
    )
    for folds in args.folds:
        for flip in args.flips:
            seconds = measured[(folds, flip)]
            shares = "  ".join(
                " / ".join(f"{share:.1%}" for share in args.checks * seconds / (steps * step))
                for steps in args.run_steps
            )
            print(
                f"  {folds} folds, {flip:<6}  {seconds[0]:>7.2f} {seconds[1]:>7.2f} {seconds[0] / step[0]:>9.1f}   "
                f"{shares}"
            )


def variant_accuracy(table, pairs, folds: int | None, flip: str) -> float:
    """Accuracy of the protocol on `folds` first folds (None = all) with `flip`, from saved
    embeddings."""
    subset = pairs if folds is None else pairs.first_folds(folds)
    features = protocol.combine_flip(table.embeddings, table.embeddings_flip, flip)
    left, right = table.rows_for(list(subset.left)), table.rows_for(list(subset.right))
    result = protocol.evaluate_pairs(features[left], features[right], subset.is_same, subset.fold_ids)
    return float(np.mean(result.fold_accuracies))


def agreement(args) -> None:
    """Each check variant's accuracy against View 2 over the finished runs below args.agreement."""
    pairs = parse_pairs(data_root() / "lfw_pairs.txt")
    tables = [load_embedding_table(path) for path in sorted(Path(args.agreement).glob("**/eval/lfw_embeddings_*.npz"))]
    view2 = np.array([variant_accuracy(table, pairs, None, "concat") for table in tables])
    print(
        f"{len(tables)} runs below {args.agreement}: View 2 (10 folds, concat) "
        f"{view2.mean():.2%} mean, {view2.min():.2%} .. {view2.max():.2%}"
    )
    print(f"  {'check':<16} {'minus View 2: mean':>19} {'sd':>7} {'correlation':>12}")
    for folds in args.folds:
        for flip in args.flips:
            check = np.array([variant_accuracy(table, pairs, folds, flip) for table in tables])
            difference = (check - view2) * 100
            print(
                f"  {folds} folds, {flip:<6}  {difference.mean():>+15.2f} pts {difference.std(ddof=1):>7.2f} "
                f"{np.corrcoef(check, view2)[0, 1]:>12.3f}"
            )


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=str(REPO_ROOT / "experiments/configs/cpu_sets.yaml"))
    parser.add_argument("--widths", nargs="+", type=float, default=[0.25, 0.5])
    parser.add_argument("--folds", nargs="+", type=int, default=[4, 2])
    parser.add_argument("--flips", nargs="+", default=["concat", "none"])
    parser.add_argument("--checks", type=int, default=10, help="checks per run")
    parser.add_argument(
        "--run-steps", nargs="+", type=int, default=[720, 2000], help="run lengths to print the share for"
    )
    parser.add_argument("--steps", type=int, default=10, help="training steps timed per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds")
    parser.add_argument(
        "--agreement",
        metavar="RUNS_DIR",
        help="instead of timing: each variant's accuracy vs View 2 on saved embeddings",
    )
    args = parser.parse_args(argv)
    if args.agreement:
        agreement(args)
        return 0

    work = Path(tempfile.mkdtemp(prefix="bench_lfw_check_"))
    print(
        f"config {args.config}, {os.cpu_count()} CPUs, {args.rounds} rounds of {args.steps} "
        f"training steps and one check per variant, medians"
    )
    for width in args.widths:
        report(args, width, measure_width(args, width, work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
