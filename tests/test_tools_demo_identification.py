"""tools/demo_identification.py: the open-set rates and the threshold trade-off, hand-worked."""

import json

import pytest

from tools.demo_identification import open_set_rates, threshold_tradeoff

# (true identity, top-1 identity, score): a right and confident match, a wrong one, a right but
# unsure one; two never-enrolled people, one close to someone enrolled.
KNOWN = [("a", "a", 0.9), ("b", "a", 0.8), ("c", "c", 0.4)]
STRANGERS = [("x", "a", 0.65), ("y", "b", 0.3)]


def test_open_set_rates_count_right_and_accepted_and_rejected_strangers():
    assert open_set_rates(KNOWN, STRANGERS, 0.5) == {
        "threshold": 0.5,
        "open_set_identification_rate": pytest.approx(1 / 3),
        "unknown_rejection_rate": 0.5,
    }
    assert open_set_rates(KNOWN, STRANGERS, 0.35)["open_set_identification_rate"] == pytest.approx(2 / 3)
    assert open_set_rates(KNOWN, [], 0.5)["unknown_rejection_rate"] is None


def test_tradeoff_at_the_reports_accuracy_and_far_thresholds(tmp_path):
    report = tmp_path / "eval.json"
    report.write_text(
        json.dumps(
            dict(
                fold_thresholds=[0.3, 0.4],
                fold_val_thresholds=[0.6, 0.8],
                far_target=1e-3,
                similarity="cosine",
                subtract_mean=False,
            )
        )
    )
    tradeoff = threshold_tradeoff(KNOWN, STRANGERS, str(report), None)
    assert list(tradeoff) == ["accuracy", "far 0.001"]
    # Accuracy threshold 0.35: 2 of 3 known identified, 1 of 2 strangers rejected; FAR threshold
    # 0.7: only the 0.9 match stays, and both strangers are rejected.
    assert tradeoff["accuracy"]["threshold"] == pytest.approx(0.35)
    assert tradeoff["accuracy"]["open_set_identification_rate"] == pytest.approx(2 / 3)
    assert tradeoff["accuracy"]["unknown_rejection_rate"] == 0.5
    assert tradeoff["far 0.001"]["threshold"] == pytest.approx(0.7)
    assert tradeoff["far 0.001"]["open_set_identification_rate"] == pytest.approx(1 / 3)
    assert tradeoff["far 0.001"]["unknown_rejection_rate"] == 1.0
