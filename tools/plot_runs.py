"""Render loss, batch accuracy and LFW accuracy vs step of several runs into one PNG.

    python tools/plot_runs.py runs/NAME_A runs/NAME_B ... --out curves.png

Reads the TensorBoard event files under each run dir (tf.compat.v1.train.summary_iterator).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import tensorflow as tf  # noqa: E402

PANELS = (("train/total_loss", "training loss"), ("train/batch_accuracy", "batch accuracy"),
          ("lfw/accuracy", "LFW accuracy"))


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} from every event file under `run_dir` (resumed runs have several)."""
    series: dict[str, dict[int, float]] = {}
    for path in sorted(run_dir.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                number = tf.make_ndarray(value.tensor) if value.HasField("tensor") else value.simple_value
                if getattr(number, "ndim", 0) == 0 and value.metadata.plugin_data.plugin_name in ("scalars", ""):
                    series.setdefault(value.tag, {})[event.step] = float(number)
    return {tag: sorted(points.items()) for tag, points in series.items()}


def plot(run_dirs: list[Path], out: Path) -> None:
    figure, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 4))
    for run_dir in run_dirs:
        scalars = read_scalars(run_dir)
        if not scalars:
            raise FileNotFoundError(f"{run_dir}: no TensorBoard scalars found")
        for axis, (tag, _) in zip(axes, PANELS):
            points = scalars.get(tag, [])
            if points:
                steps, values = zip(*points)
                axis.plot(steps, values, marker="o" if len(points) < 10 else None, label=run_dir.name)
    for axis, (_, title) in zip(axes, PANELS):
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out, dpi=100)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("curves.png"))
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.run_dirs if not p.is_dir()]
    if missing:
        print(f"error: run dir not found: {', '.join(missing)}", file=sys.stderr)
        return 1
    try:
        plot(args.run_dirs, args.out)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
