"""Thresholds from eval_lfw.py reports, as written by verification.protocol."""
import json

import numpy as np
import pytest

from recognition.thresholds import resolve_threshold, threshold_from_eval_json
from verification.protocol import evaluate_pairs


def write(tmp_path, report, name="eval.json"):
    path = tmp_path / name
    path.write_text(json.dumps(report))
    return path


def protocol_report(similarity):
    """A real protocol summary on random 2-fold pair features."""
    rng = np.random.default_rng(0)
    left = rng.normal(size=(40, 8))
    right = left + rng.normal(scale=1.0, size=(40, 8)) * np.repeat([0.3, 3.0], 20)[:, None]
    is_same = np.repeat([True, False], 20)
    folds = np.tile([0, 1], 20)
    return evaluate_pairs(left, right, is_same, folds, similarity).to_dict()


def test_mean_of_fold_thresholds_from_a_protocol_report(tmp_path):
    report = protocol_report("cosine")
    expected = np.mean(report["fold_thresholds"])
    assert threshold_from_eval_json(write(tmp_path, report)) == pytest.approx(expected)
    nested = dict(model="runs/x/export", lfw=report)  # one level of wrapping is accepted
    assert threshold_from_eval_json(write(tmp_path, nested, "n.json")) == pytest.approx(expected)


def test_euclidean_report_gives_the_same_cosine_threshold(tmp_path):
    cosine = threshold_from_eval_json(write(tmp_path, protocol_report("cosine"), "c.json"))
    euclidean = threshold_from_eval_json(write(tmp_path, protocol_report("euclidean"), "e.json"))
    assert euclidean == pytest.approx(cosine)  # d2 = 2 - 2 cos on unit vectors


def test_bad_reports_name_the_file(tmp_path):
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(ValueError, match="bad.json: not a JSON"):
        threshold_from_eval_json(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="none.json: no 'fold_thresholds'"):
        threshold_from_eval_json(write(tmp_path, {"accuracy_mean": 0.9}, "none.json"))
    with pytest.raises(ValueError, match="mean subtraction"):
        threshold_from_eval_json(write(tmp_path, dict(fold_thresholds=[0.3], subtract_mean=True)))
    with pytest.raises(FileNotFoundError, match="absent.json"):
        threshold_from_eval_json(tmp_path / "absent.json")


def test_flip_mismatch_warns(tmp_path):
    path = write(tmp_path, dict(fold_thresholds=[0.2, 0.4], flip="sum"))
    with pytest.warns(UserWarning, match="--flip sum"):
        assert threshold_from_eval_json(path, flip="concat") == pytest.approx(0.3)


def test_exactly_one_threshold_source(tmp_path):
    assert resolve_threshold(0.25, None) == 0.25
    with pytest.raises(ValueError, match="exactly one"):
        resolve_threshold(None, None)
    with pytest.raises(ValueError, match="exactly one"):
        resolve_threshold(0.2, str(tmp_path / "x.json"))
