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


def test_far_threshold_hand_made_reports(tmp_path):
    report = dict(
        fold_thresholds=[0.2, 0.4],
        fold_val_thresholds=[0.5, 0.7],
        far_target=1e-3,
        similarity="cosine",
        subtract_mean=False,
    )
    path = write(tmp_path, report)
    assert threshold_from_eval_json(path) == pytest.approx(0.3)  # accuracy threshold
    assert threshold_from_eval_json(path, far=1e-3) == pytest.approx(0.6)  # FAR threshold
    # Euclidean: squared distances 0.6 and 1.0, mean 0.8 -> cos = 1 - 0.8 / 2 = 0.6.
    euclidean = dict(report, similarity="euclidean", fold_val_thresholds=[0.6, 1.0])
    assert threshold_from_eval_json(write(tmp_path, euclidean, "e.json"), far=0.001) == pytest.approx(0.6)
    assert resolve_threshold(None, str(path), far=1e-3) == pytest.approx(0.6)


def test_far_threshold_of_a_protocol_report_is_the_other_folds_top_impostor_score(tmp_path):
    """20 different-person pairs per training fold: FAR 1e-3 < 1/20 sits at the highest one."""
    report = protocol_report("cosine")
    threshold = threshold_from_eval_json(write(tmp_path, report), far=1e-3)
    rng = np.random.default_rng(0)  # protocol_report's features, rebuilt
    left = rng.normal(size=(40, 8))
    right = left + rng.normal(scale=1.0, size=(40, 8)) * np.repeat([0.3, 3.0], 20)[:, None]
    cosine = np.sum(left * right, 1) / np.linalg.norm(left, axis=1) / np.linalg.norm(right, axis=1)
    folds, different = np.tile([0, 1], 20), np.repeat([False, True], 20)
    top_impostor = [cosine[different & (folds != fold)].max() for fold in (0, 1)]
    assert threshold == pytest.approx(np.mean(top_impostor), abs=1e-9)


def test_far_the_report_was_not_computed_for_is_one_clear_error(tmp_path):
    path = write(tmp_path, dict(fold_thresholds=[0.3], fold_val_thresholds=[0.6], far_target=1e-3))
    with pytest.raises(
        ValueError,
        match=r"eval.json: has thresholds for FAR 0.001 only, not "
        r"0.0001; rerun eval_lfw.py with --far-target 0.0001",
    ):
        threshold_from_eval_json(path, far=1e-4)
    old = write(tmp_path, dict(fold_thresholds=[0.3]), "old.json")
    with pytest.raises(ValueError, match="old.json: no 'fold_val_thresholds'"):
        threshold_from_eval_json(old, far=1e-3)
    with pytest.raises(ValueError, match="cannot be combined with --threshold"):
        resolve_threshold(0.3, None, far=1e-3)
