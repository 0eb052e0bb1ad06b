"""The article's MNIST feature figure: how each loss shapes 2-D and 3-D features.

Trains a small CNN with a 2-D (and a 3-D) feature layer on a seeded 4,000 / 1,000 split of
mnist_5k.npz under softmax, SphereFace (m = 1 and m = 4), NormFace, AM-softmax and ArcFace, then
writes scatter plots of the test features, a results table (README.md) and results.json.

    python -m experiments.mnist_features [--data-root DIR] [--out-dir DIR] [--overwrite]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.errors import UserFileExistsError, entry_point  # noqa: E402
from common.paths import REPO_ROOT  # noqa: E402
from common.tf_startup import import_tensorflow  # noqa: E402

import_tensorflow()  # before experiments.mnist imports it: without the CPU-only start-up notices

from experiments.mnist import figure, plots, report, specs  # noqa: E402
from experiments.mnist.data import load_split  # noqa: E402
from experiments.mnist.train import TrainConfig  # noqa: E402

PROG = "python -m experiments.mnist_features"

DEFAULT_OUT_DIR = REPO_ROOT / "experiments" / "results" / "mnist"
IMAGE_NAMES = {2: "features_2d.png", 3: "features_3d_sphere.png"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", help="folder holding mnist_5k.npz (default: $FACEREC_DATA, else ../shared/data)")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--overwrite", action="store_true", help="replace results already in --out-dir")
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 3], choices=[2, 3])
    parser.add_argument(
        "--losses", nargs="+", metavar="KEY", help=f"subset of: {' '.join(s.key for s in specs.FIGURE_LOSSES)}"
    )
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--learning-rate", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--max-steps", type=int, help="stop each loss after this many steps")
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64], help="conv channels per stage")
    parser.add_argument("--num-train", type=int, default=4000)
    parser.add_argument("--num-test", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="split, initial weights, batch order")
    return parser.parse_args(argv)


@entry_point(PROG)
def main(argv=None) -> int:
    args = parse_args(argv)
    chosen = specs.select(args.losses)
    outputs = [args.out_dir / IMAGE_NAMES[d] for d in args.dims]
    outputs += [args.out_dir / "README.md", args.out_dir / "results.json"]
    existing = [str(p) for p in outputs if p.exists()]
    if existing and not args.overwrite:
        raise UserFileExistsError(f"{', '.join(existing)} already exist; pass --overwrite to replace them")
    args.out_dir.mkdir(parents=True, exist_ok=True)

    split = load_split(args.data_root, args.num_train, args.num_test, args.seed)
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        max_steps=args.max_steps,
    )
    runs_by_dim = {}
    for dim in args.dims:
        runs = figure.run_losses(chosen, dim, split, config, args.widths)
        panels = [plots.Panel(run.title, run.result.features, run.result.labels) for run in runs]
        draw = plots.plot_2d if dim == 2 else plots.plot_sphere
        draw(panels, args.out_dir / IMAGE_NAMES[dim])
        runs_by_dim[dim] = runs

    command = "python -m experiments.mnist_features " + shlex.join(argv if argv is not None else sys.argv[1:])
    settings = (
        f"Split: {len(split.y_train)} train / {len(split.y_test)} test, stratified, "
        f"seed {args.seed}. Network: conv stages {args.widths} (2 x conv3x3 + PReLU, "
        f"max-pool), FC to the feature layer. Adam, constant lr "
        f"{args.learning_rate}, batch {args.batch_size}, {args.epochs} epochs"
        + (f" capped at {args.max_steps} steps" if args.max_steps else "")
        + ", no weight decay."
    )
    report.write_text(
        args.out_dir / "README.md",
        report.markdown(runs_by_dim, command.strip(), settings, {d: IMAGE_NAMES[d] for d in args.dims}),
    )
    report.write_text(args.out_dir / "results.json", report.to_json(runs_by_dim, command.strip()))
    print(f"wrote {', '.join(str(p) for p in outputs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
