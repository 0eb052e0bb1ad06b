"""Hardest-error selection, the stdout table and the ROC PNG, on a hand-worked 2-fold case."""

from __future__ import annotations

import numpy as np

from verification import report
from verification.protocol import evaluate_pairs


def two_fold_result():
    # Same layout as the protocol's hand-worked case: fold thresholds 0.15 and 0.5.
    scores = np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.3, 0.55, 0.0])
    labels = np.array([True, True, False, False, True, True, False, False])
    left = np.tile([1.0, 0.0], (8, 1))
    right = np.stack([scores, np.sqrt(1 - scores**2)], axis=1)
    return evaluate_pairs(left, right, labels, np.repeat([0, 1], 4))


def test_hardest_errors_are_ranked_by_margin_to_their_fold_threshold():
    result = two_fold_result()
    false_accepts, false_rejects = report.hardest_errors(result, count=5)
    # Pair 3 (0.2 vs threshold 0.15, margin 0.05) and pair 6 (0.55 vs 0.5, margin 0.05) are
    # accepted different pairs; pair 5 (0.3 vs 0.5) is the only rejected same pair.
    assert sorted(false_accepts.tolist()) == [3, 6]
    assert false_rejects.tolist() == [5]
    assert report.hardest_errors(result, count=1)[0].size == 1


def test_table_lists_folds_and_summary():
    summary = two_fold_result().to_dict()
    table = report.format_table(summary, "toy")
    assert table.splitlines()[0] == "toy"
    assert "   0    0.7500     0.1500" in table and "   1    0.5000     0.5000" in table
    assert "accuracy      0.6250 +- 0.1250" in table


def test_roc_png_is_written(tmp_path):
    path = tmp_path / "roc.png"
    report.save_roc_png(two_fold_result(), path, "toy")
    assert path.read_bytes()[:4] == b"\x89PNG"
