"""Metrics and the k-fold protocol against hand-worked cases and an independent loop reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from verification import metrics
from verification.protocol import combine_flip, evaluate_pairs, pair_scores

# ---- An independent, deliberately plain implementation of the protocol (loops only). ----------


def ref_accuracy(scores, labels, t):
    return sum(1 for s, y in zip(scores, labels, strict=True) if (s >= t) == y) / len(scores)


def ref_best_threshold(scores, labels):
    values = sorted(set(float(s) for s in scores))
    candidates = [values[0] - 1.0]
    for a, b in zip(values, values[1:], strict=False):
        candidates.append((a + b) / 2)
    candidates.append(values[-1] + 1.0)
    best_t, best_acc = None, -1.0
    for t in candidates:  # first maximum = smallest threshold
        acc = ref_accuracy(scores, labels, t)
        if acc > best_acc:
            best_t, best_acc = t, acc
    return best_t


def ref_threshold_at_far(scores, labels, target):
    negatives = [float(s) for s, y in zip(scores, labels, strict=True) if not y]
    points = [(0.0, math.nextafter(max(negatives), math.inf))]
    for v in sorted(set(negatives), reverse=True):
        points.append((sum(1 for n in negatives if n >= v) / len(negatives), v))
    for (f0, t0), (f1, t1) in zip(points, points[1:], strict=False):
        if f0 <= target <= f1:
            return t0 + (target - f0) / (f1 - f0) * (t1 - t0)
    raise AssertionError("target outside [0, 1]")


def ref_auc(scores, labels):
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def ref_eer(scores, labels):
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    previous = (0.0, 1.0)  # (FAR, FRR) with nothing accepted
    for t in sorted(set(scores), reverse=True):
        far = sum(1 for n in neg if n >= t) / len(neg)
        frr = sum(1 for p in pos if p < t) / len(pos)
        if far >= frr:
            gap0, gap1 = previous[0] - previous[1], far - frr
            if gap1 == 0:
                return far
            share = -gap0 / (gap1 - gap0)
            return previous[0] + share * (far - previous[0])
        previous = (far, frr)
    raise AssertionError("no crossing")


def ref_protocol(left, right, labels, folds, euclidean=False, subtract_mean=False, far=1e-3):
    accs, vals, fars = [], [], []
    for k in sorted(set(folds)):
        if subtract_mean:
            train_rows = [left[i] for i in range(len(labels)) if folds[i] != k] + [
                right[i] for i in range(len(labels)) if folds[i] != k
            ]
            mean = np.sum(train_rows, axis=0) / len(train_rows)
        else:
            mean = 0.0
        scores = []
        for a, b in zip(left, right, strict=True):
            a = (a - mean) / np.sqrt(np.dot(a - mean, a - mean))
            b = (b - mean) / np.sqrt(np.dot(b - mean, b - mean))
            scores.append(-float(np.dot(a - b, a - b)) if euclidean else float(np.dot(a, b)))
        train = [i for i in range(len(labels)) if folds[i] != k]
        test = [i for i in range(len(labels)) if folds[i] == k]
        t = ref_best_threshold([scores[i] for i in train], [labels[i] for i in train])
        accs.append(ref_accuracy([scores[i] for i in test], [labels[i] for i in test], t))
        tv = ref_threshold_at_far([scores[i] for i in train], [labels[i] for i in train], far)
        same = [i for i in test if labels[i]]
        diff = [i for i in test if not labels[i]]
        vals.append(sum(1 for i in same if scores[i] >= tv) / len(same))
        fars.append(sum(1 for i in diff if scores[i] >= tv) / len(diff))
    return accs, vals, fars


def toy_problem(seed, pairs_per_fold=40, folds=4, dim=6, noise=1.0):
    """Fold-structured pairs: same pairs share an identity vector; half same, half different."""
    rng = np.random.default_rng(seed)
    n = pairs_per_fold * folds
    labels = np.tile(np.repeat([True, False], pairs_per_fold // 2), folds)
    fold_ids = np.repeat(np.arange(folds), pairs_per_fold)
    left = rng.normal(size=(n, dim)) + 0.7  # an offset so mean subtraction matters
    right = np.where(labels[:, None], left + noise * rng.normal(size=(n, dim)), rng.normal(size=(n, dim)) + 0.7)
    return left, right, labels, fold_ids


# ---- Hand-worked cases. ----------------------------------------------------------------------


def test_best_threshold_hand_worked_with_tie():
    # Candidates -0.8, 0.3, 0.5, 0.65, 0.8, 1.9 give 3, 4, 3, 4, 3, 2 correct of 5:
    # the tie between 0.3 and 0.65 goes to the smaller threshold.
    scores = [0.9, 0.7, 0.6, 0.4, 0.2]
    labels = [True, True, False, True, False]
    threshold, acc = metrics.best_threshold(scores, labels)
    assert threshold == pytest.approx(0.3) and acc == pytest.approx(0.8)


def test_separable_scores_give_perfect_metrics():
    scores = np.r_[np.linspace(0.5, 0.9, 50), np.linspace(-0.2, 0.3, 50)]
    labels = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    threshold, acc = metrics.best_threshold(scores, labels)
    assert acc == 1.0 and 0.3 < threshold < 0.5
    assert metrics.roc_auc(scores, labels) == 1.0
    assert metrics.equal_error_rate(scores, labels) == 0.0


def test_threshold_at_far_hand_worked_with_duplicate_far_values():
    # Negatives 0.9, 0.5, 0.5, 0.1: FAR corners (0, 0.9+), (0.25, 0.9), (0.75, 0.5), (1, 0.1).
    scores = [0.9, 0.5, 0.5, 0.1, 0.95]
    labels = [False, False, False, False, True]
    assert metrics.threshold_at_far(scores, labels, 0.25) == pytest.approx(0.9)
    assert metrics.threshold_at_far(scores, labels, 0.5) == pytest.approx(0.7)
    assert metrics.threshold_at_far(scores, labels, 1.0) == pytest.approx(0.1)
    assert metrics.threshold_at_far(scores, labels, 0.0) > 0.9


def test_val_with_all_tied_negatives_does_not_crash_or_fall_back_to_zero():
    scores = np.r_[np.full(300, 0.8), np.full(2700, 0.2)]
    labels = np.r_[np.ones(300, bool), np.zeros(2700, bool)]
    threshold = metrics.threshold_at_far(scores, labels, 1e-3)
    assert 0.2 < threshold <= 0.2 + 1e-6  # just above the tied negatives, not 0
    assert metrics.val_far(scores, labels, threshold) == (1.0, 0.0)


def test_perfect_model_keeps_val_one_on_full_protocol():
    left, right, labels, folds = toy_problem(0, pairs_per_fold=600, folds=10, noise=0.0)
    summary = evaluate_pairs(left, right, labels, folds).to_dict()
    assert summary["accuracy_mean"] == 1.0 and summary["val_mean"] == 1.0
    assert summary["far_mean"] <= 1e-3 and summary["auc"] == 1.0 and summary["eer"] == 0.0


def test_two_fold_protocol_hand_worked():
    # Unit 2-d features at angle arccos(score) from (1, 0): pair scores are exactly these.
    fold0 = [(0.9, True), (0.8, True), (0.1, False), (0.2, False)]
    fold1 = [(0.7, True), (0.3, True), (0.55, False), (0.0, False)]
    scores = np.array([s for s, _ in fold0 + fold1])
    labels = np.array([y for _, y in fold0 + fold1])
    left = np.tile([1.0, 0.0], (8, 1))
    right = np.stack([scores, np.sqrt(1 - scores**2)], axis=1)
    result = evaluate_pairs(left, right, labels, np.repeat([0, 1], 4))
    # Fold 0 uses fold 1's best threshold 0.15 (3/4 there; 0.625 ties, smaller wins): 0.2 is
    # accepted wrongly -> 3/4. Fold 1 uses fold 0's threshold 0.5 -> 0.3 rejected, 0.55 accepted.
    assert result.fold_thresholds == pytest.approx([0.15, 0.5])
    assert result.fold_accuracies == pytest.approx([0.75, 0.5])


def test_random_embeddings_are_near_chance():
    rng = np.random.default_rng(3)
    labels = np.tile(np.repeat([True, False], 300), 10)
    summary = evaluate_pairs(
        rng.normal(size=(6000, 64)), rng.normal(size=(6000, 64)), labels, np.repeat(np.arange(10), 600)
    ).to_dict()
    assert 0.46 < summary["accuracy_mean"] < 0.54
    assert abs(summary["auc"] - 0.5) < 0.03 and abs(summary["eer"] - 0.5) < 0.03
    assert summary["val_mean"] < 0.01


# ---- Agreement with the independent reference. -------------------------------------------------


@pytest.mark.parametrize("euclidean", [False, True])
@pytest.mark.parametrize("subtract_mean", [False, True])
def test_protocol_matches_loop_reference(euclidean, subtract_mean):
    left, right, labels, folds = toy_problem(7, noise=1.2)
    result = evaluate_pairs(
        left, right, labels, folds, "euclidean" if euclidean else "cosine", subtract_mean, far_target=0.05
    )
    accs, vals, fars = ref_protocol(left, right, list(labels), list(folds), euclidean, subtract_mean, far=0.05)
    assert result.fold_accuracies == pytest.approx(accs)
    assert result.fold_vals == pytest.approx(vals)
    assert result.fold_fars == pytest.approx(fars)
    assert 0.6 < np.mean(accs) < 0.98  # a case where thresholds actually matter


def test_auc_eer_threshold_match_loop_reference_with_ties():
    rng = np.random.default_rng(11)
    scores = np.round(rng.normal(size=300), 1)  # many ties on purpose
    labels = rng.random(300) < 0.4
    scores[labels] += 0.8
    assert metrics.roc_auc(scores, labels) == pytest.approx(ref_auc(scores, labels))
    assert metrics.equal_error_rate(scores, labels) == pytest.approx(ref_eer(list(scores), labels))
    assert metrics.best_threshold(scores, labels)[0] == pytest.approx(ref_best_threshold(scores, labels))
    for target in (1e-3, 0.01, 0.3):
        assert metrics.threshold_at_far(scores, labels, target) == pytest.approx(
            ref_threshold_at_far(scores, labels, target)
        )


# ---- Options: mean subtraction, similarity, flips. ---------------------------------------------


def test_mean_subtraction_ignores_a_shared_offset_and_plain_cosine_does_not():
    left, right, labels, folds = toy_problem(5, noise=1.2)
    offset = np.full(left.shape[1], 4.0)
    base = evaluate_pairs(left, right, labels, folds, subtract_mean=True).fold_accuracies
    shifted = evaluate_pairs(left + offset, right + offset, labels, folds, subtract_mean=True).fold_accuracies
    plain = evaluate_pairs(left + offset, right + offset, labels, folds).fold_accuracies
    assert shifted == pytest.approx(base)
    assert plain != pytest.approx(base)


def test_mean_comes_from_training_folds_only():
    # Fold 1's features sit far from fold 0's: with the held-out fold's own mean included, fold 0
    # would see a different centring. Compare with the mean of fold 1 alone (2 folds).
    left, right, labels, folds = toy_problem(2, folds=2)
    left[folds == 1] += 3.0
    right[folds == 1] += 3.0
    result = evaluate_pairs(left, right, labels, folds, subtract_mean=True)
    mean_fold1 = np.concatenate([left[folds == 1], right[folds == 1]]).mean(axis=0)
    expected = pair_scores(left[folds == 0] - mean_fold1, right[folds == 0] - mean_fold1)
    np.testing.assert_allclose(result.scores[folds == 0], expected)


def test_euclidean_thresholds_are_reported_as_squared_distances():
    left, right, labels, folds = toy_problem(4)
    cosine = evaluate_pairs(left, right, labels, folds).to_dict()
    euclid = evaluate_pairs(left, right, labels, folds, "euclidean").to_dict()
    assert euclid["fold_accuracies"] == pytest.approx(cosine["fold_accuracies"])
    # ||a - b||^2 = 2 - 2 cos on unit vectors.
    np.testing.assert_allclose(euclid["fold_thresholds"], 2 - 2 * np.array(cosine["fold_thresholds"]), atol=1e-9)


def test_flip_modes_combine_features():
    emb = np.array([[1.0, 0.0], [0.0, 2.0]])
    flipped = np.array([[0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(combine_flip(emb, flipped, "none"), emb)
    np.testing.assert_array_equal(combine_flip(emb, flipped, "concat"), [[1, 0, 0, 1], [0, 2, 1, 1]])
    np.testing.assert_array_equal(combine_flip(emb, flipped, "sum"), [[1, 1], [1, 3]])
    with pytest.raises(ValueError, match="needs the flipped-image embeddings"):
        combine_flip(emb, None, "concat")
    with pytest.raises(ValueError, match="flip mode must be one of"):
        combine_flip(emb, flipped, "max")


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        metrics.best_threshold([0.1, np.nan], [True, False])
    with pytest.raises(ValueError, match="at least 2 folds"):
        evaluate_pairs(np.ones((4, 2)), np.ones((4, 2)), [1, 1, 0, 0], [0, 0, 0, 0])
    with pytest.raises(ValueError, match="similarity must be one of"):
        evaluate_pairs(np.ones((4, 2)), np.ones((4, 2)), [1, 0, 1, 0], [0, 0, 1, 1], "l1")
    with pytest.raises(ValueError, match="do not match"):
        evaluate_pairs(np.ones((4, 2)), np.ones((3, 2)), [1, 0, 1, 0], [0, 0, 1, 1])
