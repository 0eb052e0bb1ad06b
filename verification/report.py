"""Human-readable outputs of a verification run: table, ROC PNG, hardest-errors gallery.

(TensorBoard output: `training.summaries.write_lfw_final`, called by eval_lfw.py.)
"""

from __future__ import annotations

import os
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers
import matplotlib.pyplot as plt
import numpy as np

from verification import metrics
from verification.protocol import VerificationResult, threshold_in_units


def format_table(summary: dict, title: str) -> str:
    """Per-fold lines and the summary, as printed on stdout."""
    lines = [title, f"{'fold':>4}  {'accuracy':>8}  {'threshold':>9}  {'VAL':>6}  {'FAR':>7}"]
    for k, (acc, thr, val, far) in enumerate(
        zip(
            summary["fold_accuracies"],
            summary["fold_thresholds"],
            summary["fold_vals"],
            summary["fold_fars"],
            strict=True,
        )
    ):
        lines.append(f"{k:>4}  {acc:8.4f}  {thr:9.4f}  {val:6.4f}  {far:7.5f}")
    lines += [
        f"accuracy      {summary['accuracy_mean']:.4f} +- {summary['accuracy_std']:.4f}",
        f"VAL@FAR={summary['far_target']:g}  {summary['val_mean']:.4f} +- {summary['val_std']:.4f}"
        f"  (FAR {summary['far_mean']:.5f})",
        f"AUC           {summary['auc']:.4f}",
        f"EER           {summary['eer']:.4f}",
        f"({summary['num_pairs']} pairs, {summary['num_folds']} folds, {summary['similarity']}"
        f"{', mean subtracted' if summary['subtract_mean'] else ''}; {summary['threshold_rule']})",
    ]
    return "\n".join(lines)


def save_roc_png(result: VerificationResult, path: str | os.PathLike, title: str) -> None:
    """ROC of the held-out scores (log-scale FAR so the low-FAR region is readable)."""
    fpr, tpr, _ = metrics.roc_curve(result.scores, result.is_same)
    summary = result.to_dict()
    figure, axis = plt.subplots(figsize=(5, 4.5))
    axis.plot(fpr, tpr, label=f"AUC {summary['auc']:.4f}, EER {summary['eer']:.4f}")
    axis.set_xscale("symlog", linthresh=1e-3)
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.01)
    axis.set_xlabel("false accept rate")
    axis.set_ylabel("true accept rate")
    axis.set_title(title, fontsize=9)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def hardest_errors(result: VerificationResult, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the `count` worst false accepts (highest-scoring different pairs accepted)
    and false rejects (lowest-scoring same pairs rejected), by each pair's fold threshold."""
    thresholds = np.array([result.fold_threshold_of(i) for i in range(result.scores.size)])
    accepted = result.scores >= thresholds
    margin = result.scores - thresholds
    false_accepts = np.flatnonzero(accepted & ~result.is_same)
    false_rejects = np.flatnonzero(~accepted & result.is_same)
    return (
        false_accepts[np.argsort(-margin[false_accepts])][:count],
        false_rejects[np.argsort(margin[false_rejects])][:count],
    )


def save_error_gallery(
    result: VerificationResult,
    left_names: list[str],
    right_names: list[str],
    load_image: Callable[[str], np.ndarray],
    path: str | os.PathLike,
    count: int = 8,
) -> tuple[int, int]:
    """PNG of the hardest false accepts (left columns) and false rejects (right columns),
    each pair side by side with its score and threshold. Returns the numbers shown."""
    false_accepts, false_rejects = hardest_errors(result, count)
    rows = max(len(false_accepts), len(false_rejects), 1)
    figure, axes = plt.subplots(rows, 4, figsize=(8, 2.4 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for column, (kind, indices) in enumerate((("false accept", false_accepts), ("false reject", false_rejects))):
        for row, index in enumerate(indices):
            threshold = threshold_in_units(result.fold_threshold_of(index), result.similarity)
            score = threshold_in_units(result.scores[index], result.similarity)
            for side, names in enumerate((left_names, right_names)):
                axis = axes[row, 2 * column + side]
                axis.imshow(load_image(names[index]))
                axis.set_title(names[index].split("/")[-1], fontsize=6)
            axes[row, 2 * column].text(
                1.0,
                -0.08,
                f"{kind}: {score:.3f} (thr {threshold:.3f})",
                fontsize=7,
                ha="center",
                va="top",
                transform=axes[row, 2 * column].transAxes,
            )
    figure.suptitle("hardest false accepts (left) and false rejects (right)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return len(false_accepts), len(false_rejects)
