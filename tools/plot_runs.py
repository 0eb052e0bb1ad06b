"""Render loss, batch accuracy and each benchmark's accuracy vs step of several runs into one PNG.

    python tools/plot_runs.py runs/NAME_A runs/NAME_B ... --out curves.png

Reads the TensorBoard event files under each run dir (tf.compat.v1.train.summary_iterator), with
the tags TensorBoard shows (training/summaries.py): one panel per benchmark found in the runs (LFW
first: the lfw/accuracy curve, then cfp_fp/accuracy, ...), the in-training checks and, at the last
step, the final evaluation once eval_lfw.py has run on the run dir; a point that used more folds
than the checks (the final View 2) is drawn as a star.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.errors import UserFileNotFoundError, entry_point  # noqa: E402
from common.tf_startup import import_tensorflow  # noqa: E402

tf = import_tensorflow()  # before training.summaries imports it: without the CPU-only notices

from training.summaries import LFW_ACCURACY_TAG, accuracy_tag, folds_tag  # noqa: E402

PROG = "tools/plot_runs.py"

TRAINING_PANELS = (("train/total_loss", "training loss"), ("train/batch_accuracy", "batch accuracy"))
FOLDS_SUFFIX = folds_tag("")  # "/folds": only a benchmark's curve has it


def panels(all_scalars: list[dict]) -> list[tuple[str, str, str | None]]:
    """(tag, title, folds tag or None): the training panels, then one per benchmark, LFW first."""
    names = sorted(
        {tag[: -len(FOLDS_SUFFIX)] for scalars in all_scalars for tag in scalars if tag.endswith(FOLDS_SUFFIX)},
        key=lambda name: (accuracy_tag(name) != LFW_ACCURACY_TAG, name),
    )
    return [(tag, title, None) for tag, title in TRAINING_PANELS] + [
        (
            accuracy_tag(name),
            f"{'LFW' if accuracy_tag(name) == LFW_ACCURACY_TAG else name} accuracy "
            "(checks on the first folds; * all folds)",
            folds_tag(name),
        )
        for name in names
    ]


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} from every event file under `run_dir` (resumed runs have several).
    A step written twice keeps its newest value, as TensorBoard shows it (the final evaluation
    replaces the last in-training check at the run's last step)."""
    series: dict[str, dict[int, tuple[float, float]]] = {}
    plugins: dict[tuple, str] = {}
    for path in sorted(run_dir.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                # TF2 writes a tag's plugin metadata with its first value only.
                plugin = value.metadata.plugin_data.plugin_name or plugins.get((path, value.tag), "")
                plugins[(path, value.tag)] = plugin
                number = np.asarray(tf.make_ndarray(value.tensor) if value.HasField("tensor") else value.simple_value)
                if plugin in ("scalars", "") and number.ndim == 0 and number.dtype.kind in "biuf":
                    points = series.setdefault(value.tag, {})
                    if event.step not in points or points[event.step][0] <= event.wall_time:
                        points[event.step] = (event.wall_time, float(number))
    return {tag: sorted((step, value) for step, (_, value) in points.items()) for tag, points in series.items()}


def _mark_final(axis, points, folds: dict, color) -> None:
    """A star on a benchmark's last point when it used more folds than the first (the final evaluation)."""
    (first, _), (last, value) = points[0], points[-1]
    if last in folds and first in folds and folds[last] > folds[first]:
        axis.plot([last], [value], marker="*", markersize=14, color=color, linestyle="none")
        axis.annotate(
            f"{folds[last]:g} folds", (last, value), textcoords="offset points", xytext=(-8, 8), ha="right", fontsize=8
        )


def plot(run_dirs: list[Path], out: Path) -> None:
    runs = []
    for run_dir in run_dirs:
        runs.append(read_scalars(run_dir))
        if not runs[-1]:
            raise UserFileNotFoundError(f"{run_dir}: no TensorBoard scalars found")
    shown = panels(runs)
    figure, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 4))
    for run_dir, scalars in zip(run_dirs, runs, strict=True):
        for axis, (tag, _, folds) in zip(axes, shown, strict=True):
            points = scalars.get(tag, [])
            if points:
                steps, values = zip(*points, strict=True)
                (line,) = axis.plot(steps, values, marker="o" if len(points) < 10 else None, label=run_dir.name)
                if folds is not None:
                    _mark_final(axis, points, dict(scalars.get(folds, [])), line.get_color())
    for axis, (_, title, _) in zip(axes, shown, strict=True):
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out, dpi=100)


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dirs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("curves.png"))
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.run_dirs if not p.is_dir()]
    if missing:
        raise UserFileNotFoundError(f"run dir not found: {', '.join(missing)}")
    plot(args.run_dirs, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
