"""Decision thresholds: given on the command line or taken from an eval_lfw.py JSON report."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from common.errors import UserFileNotFoundError, UserValueError
from recognition.decision import check_threshold


def threshold_from_eval_json(path: str | Path, flip: str | None = None, far: float | None = None) -> float:
    """Cosine threshold from an eval_lfw.py report: the mean of the per-fold accuracy thresholds
    (`fold_thresholds`), or with `far` the mean of the per-fold thresholds at that false-accept
    rate (`fold_val_thresholds`, chosen for the report's `far_target`). The accuracy threshold
    balances errors on LFW's half-same pairs; open-set 1:N search compares a stranger with every
    enrolled person, so it needs the much stricter FAR threshold. Euclidean reports (squared
    distance d2 of normalised features) are turned into cosine with cos = 1 - d2 / 2; reports
    with mean subtraction are refused, since a raw photo has no training folds to subtract."""
    path = Path(path)
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserFileNotFoundError(f"{path}: eval JSON not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserValueError(f"{path}: not a JSON file ({error})") from None
    summary = _find_summary(report)
    if summary is None:
        raise UserValueError(f"{path}: no 'fold_thresholds' key (expected eval_lfw.py's JSON)")
    if summary.get("subtract_mean"):
        raise UserValueError(
            f"{path}: thresholds were chosen with mean subtraction, which a single "
            "photo cannot reproduce; evaluate without it or pass --threshold"
        )
    report_flip = summary.get("flip", report.get("flip") if isinstance(report, dict) else None)
    if flip is not None and report_flip is not None and report_flip != flip:
        warnings.warn(
            f"{path}: thresholds were chosen with --flip {report_flip}, this run uses --flip {flip}", stacklevel=2
        )
    key = "fold_thresholds" if far is None else _far_key(path, summary, far)
    thresholds = np.asarray(summary[key], dtype=np.float64)
    if thresholds.size == 0 or not np.all(np.isfinite(thresholds)):
        raise UserValueError(f"{path}: {key!r} is empty or not finite")
    mean = float(thresholds.mean())
    similarity = summary.get("similarity", "cosine")
    if similarity == "euclidean":
        return check_threshold(1.0 - mean / 2.0, f"{path} ({key})")
    if similarity != "cosine":
        raise UserValueError(f"{path}: unknown similarity {similarity!r}")
    return check_threshold(mean, f"{path} ({key})")


def _far_key(path: Path, summary: dict, far: float) -> str:
    """`fold_val_thresholds` if the report chose them for `far`: a report holds one FAR only."""
    if "fold_val_thresholds" not in summary or "far_target" not in summary:
        raise UserValueError(f"{path}: no 'fold_val_thresholds' / 'far_target' (expected eval_lfw.py's JSON)")
    report_far = float(summary["far_target"])
    if not np.isclose(report_far, far, rtol=1e-6, atol=0.0):
        raise UserValueError(
            f"{path}: has thresholds for FAR {report_far:g} only, not {far:g}; "
            f"rerun eval_lfw.py with --far-target {far:g} --json ..."
        )
    return "fold_val_thresholds"


def _find_summary(report) -> dict | None:
    """The dict holding `fold_thresholds`: the report itself or one of its top-level values."""
    if not isinstance(report, dict):
        return None
    if "fold_thresholds" in report:
        return report
    for value in report.values():
        if isinstance(value, dict) and "fold_thresholds" in value:
            return value
    return None


def resolve_threshold(
    threshold: float | None, threshold_from: str | None, flip: str | None = None, far: float | None = None
) -> float:
    """Exactly one source: an explicit cosine value or an eval JSON (whose FAR threshold `far`
    picks; it has no meaning for an explicit value)."""
    if (threshold is None) == (threshold_from is None):
        raise UserValueError("give exactly one of --threshold or --threshold-from EVAL.json")
    if threshold is not None:
        if far is not None:
            raise UserValueError(
                "--far picks a threshold from --threshold-from EVAL.json; it cannot be combined with --threshold"
            )
        return check_threshold(threshold, "--threshold")
    return threshold_from_eval_json(threshold_from, flip, far)
