"""The target-logit curves of the ArcFace paper: how each margin bends cos(theta) (without s).

Every value comes from the loss classes' own ``target_logit`` (cos of the target class -> margin-
modified value, no scale), evaluated at theta = 0..180 degrees in 1-degree steps. The combined
margin uses insightface's typical setting m1 = 1.0, m2 = 0.3, m3 = 0.2 (the ArcFace paper's CM1).
ArcFace switches to the references' cos - m sin m past theta = 180 - 28.6 degrees (a small step).
Writes target_logit.csv (``theta_deg`` then one column per curve) and target_logit.png.

    python experiments/target_logit_curve.py [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from common.errors import entry_point  # noqa: E402
from common.paths import REPO_ROOT  # noqa: E402
from common.tf_startup import import_tensorflow  # noqa: E402

tf = import_tensorflow()  # before losses/ imports it: without the CPU-only start-up notices

from losses import AMSoftmax, ArcFace, CombinedMargin, NormFace, SphereFace  # noqa: E402

PROG = "experiments/target_logit_curve.py"

DEFAULT_OUT_DIR = REPO_ROOT / "experiments" / "results" / "target_logit"
CSV_NAME, PNG_NAME = "target_logit.csv", "target_logit.png"


def curve_layers() -> dict:
    """Column name -> loss layer whose target_logit draws that curve (sizes are irrelevant)."""
    sizes = dict(num_classes=2, embedding_size=2, dtype="float64")
    return {
        "softmax_normface": NormFace(**sizes),
        # A fixed lambda is an annealing schedule whose base equals its floor.
        "sphereface_m4_lambda5": SphereFace(margin=4, lambda_base=5.0, lambda_min=5.0, **sizes),
        "sphereface_m4": SphereFace(margin=4, lambda_base=0.0, lambda_min=0.0, **sizes),
        "am_softmax_m0.35": AMSoftmax(margin=0.35, **sizes),
        "arcface_m0.5": ArcFace(margin=0.5, **sizes),
        "combined_1.0_0.3_0.2": CombinedMargin(m1=1.0, m2=0.3, m3=0.2, **sizes),
    }


def target_logit_table(step_deg: float = 1.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """theta in degrees and, per curve, the target logit without s."""
    theta_deg = np.arange(0.0, 180.0 + step_deg / 2, step_deg)
    cos = tf.constant(np.cos(np.deg2rad(theta_deg)), tf.float64)
    curves = {name: layer.target_logit(cos, step=0).numpy() for name, layer in curve_layers().items()}
    return theta_deg, curves


def write_csv(path: Path, theta_deg: np.ndarray, curves: dict[str, np.ndarray]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["theta_deg", *curves])
        for i, theta in enumerate(theta_deg):
            writer.writerow([f"{theta:g}", *(f"{values[i]:.6f}" for values in curves.values())])


def write_png(path: Path, theta_deg: np.ndarray, curves: dict[str, np.ndarray]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for name, values in curves.items():
        ax.plot(theta_deg, values, label=name)
    ax.set_xlabel("angle between feature and target class weight, theta (degrees)")
    ax.set_ylabel("target logit (without s)")
    ax.set_xlim(0, 180)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Target logit curves")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    theta_deg, curves = target_logit_table()
    # Deterministic output: rewriting the same two files loses nothing.
    write_csv(args.out_dir / CSV_NAME, theta_deg, curves)
    write_png(args.out_dir / PNG_NAME, theta_deg, curves)
    print(f"wrote {args.out_dir / CSV_NAME} and {args.out_dir / PNG_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
