"""The figure: one panel per loss, test features coloured by digit."""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # files only; no display on the training machines
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments.mnist.metrics import unit_rows  # noqa: E402


@dataclass(frozen=True)
class Panel:
    title: str
    features: np.ndarray  # [N, 2] or [N, 3]
    labels: np.ndarray  # [N]


TITLE_WIDTH = 44  # characters per title line, so long hyperparameter lists stay in their panel


def _title(text: str) -> str:
    return textwrap.fill(text, TITLE_WIDTH)


def _grid(count: int, columns: int) -> tuple[int, int]:
    columns = min(columns, count)
    return math.ceil(count / columns), columns


def _legend(fig, axes_with_points) -> None:
    handles, names = axes_with_points.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=10, markerscale=3, frameon=False)


def plot_2d(panels: Sequence[Panel], path: str | os.PathLike, columns: int = 3) -> None:
    """Raw (un-normalised) 2-D features, so radial spread is visible, equal axis scales."""
    rows, cols = _grid(len(panels), columns)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.2 * rows + 0.6), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=True):
        if panel.features.shape[1] != 2:
            raise ValueError(f"{panel.title}: 2-D plot given features of shape {panel.features.shape}")
        for digit in range(10):
            points = panel.features[panel.labels == digit]
            ax.scatter(
                points[:, 0], points[:, 1], s=3, alpha=0.7, color=plt.cm.tab10(digit), label=str(digit), rasterized=True
            )
        ax.set_title(_title(panel.title), fontsize=9)
        ax.set_aspect("equal", adjustable="datalim")
        ax.axhline(0, color="0.8", lw=0.5, zorder=0)
        ax.axvline(0, color="0.8", lw=0.5, zorder=0)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    _legend(fig, axes.flat[0])
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sphere(panels: Sequence[Panel], path: str | os.PathLike, columns: int = 3) -> None:
    """3-D features normalised onto the unit sphere, drawn over a wireframe sphere."""
    rows, cols = _grid(len(panels), columns)
    fig = plt.figure(figsize=(4.2 * cols, 4.2 * rows + 0.6))
    u, v = np.mgrid[0 : 2 * np.pi : 24j, 0 : np.pi : 12j]
    sphere = (np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v))
    first_ax = None
    for index, panel in enumerate(panels):
        if panel.features.shape[1] != 3:
            raise ValueError(f"{panel.title}: sphere plot given features of shape {panel.features.shape}")
        ax = fig.add_subplot(rows, cols, index + 1, projection="3d")
        first_ax = first_ax or ax
        ax.plot_wireframe(*sphere, color="0.85", linewidth=0.3)
        directions = unit_rows(panel.features)
        for digit in range(10):
            points = directions[panel.labels == digit]
            ax.scatter(
                points[:, 0],
                points[:, 1],
                points[:, 2],
                s=3,
                alpha=0.8,
                color=plt.cm.tab10(digit),
                label=str(digit),
                depthshade=False,
            )
        ax.set_title(_title(panel.title), fontsize=9)
        ax.set_box_aspect((1, 1, 1))
        ax.set_axis_off()
    _legend(fig, first_ax)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
