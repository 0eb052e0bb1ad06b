"""experiments/significance.py: the seed and fold tests against hand values and scipy, the verdicts."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from experiments.significance import (BETTER, NOT_DISTINGUISHABLE, TOO_FEW_SEEDS, WORSE,
                                      Comparison, compare, format_p, paired_test, summarise,
                                      welch_test)

FOLDS = 10


def make_run(folds, val_mean=0.5, auc=0.9):
    """An eval_lfw.py-like record whose accuracy_mean is the mean of its folds."""
    folds = [float(f) for f in folds]
    return {"accuracy_mean": float(np.mean(folds)), "fold_accuracies": folds,
            "val_mean": val_mean, "auc": auc}


def make_row(base, shift, seed_offsets):
    """One run per seed: the base fold accuracies + a row shift + a per-seed offset."""
    return [make_run(np.asarray(base) + shift + offset) for offset in seed_offsets]


BASE = 0.80 + 0.01 * np.array([0.3, -0.5, 0.9, -0.2, 0.1, -0.8, 0.6, -0.1, 0.4, -0.7])


def test_welch_hand_worked_example():
    # row [0.80, 0.82, 0.81]: mean 0.81, sample variance (0.01^2 + 0.01^2 + 0) / 2 = 1e-4
    # ref [0.84, 0.85, 0.86]: mean 0.85, sample variance 1e-4
    # se^2 = 1e-4/3 + 1e-4/3 = 2e-4/3, t = (0.81 - 0.85) / sqrt(2e-4/3) = -0.04 * sqrt(15000)
    #      = -4.898979
    # df = (2e-4/3)^2 / ((1e-4/3)^2 / 2 + (1e-4/3)^2 / 2) = 4 (equal variances and sizes)
    # With 4 df, P(T <= t) = 1/2 + (3/4) s (1 - s^2/3), s = t / sqrt(4 + t^2); t^2 = 24 gives
    # s = sqrt(6/7) and p = 2 (1 - P(T <= |t|)) = 1 - (15/14) sqrt(6/7) = 0.0080499
    t, df, p = welch_test([0.80, 0.82, 0.81], [0.84, 0.85, 0.86])
    assert t == pytest.approx(-4.8990, abs=1e-4)
    assert df == pytest.approx(4.0, abs=1e-4)
    assert p == pytest.approx(0.0080, abs=1e-4)
    assert p == pytest.approx(1 - 15 / 14 * math.sqrt(6 / 7), rel=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_welch_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    row = rng.normal(0.85, rng.uniform(0.001, 0.02), size=rng.integers(2, 7))
    reference = rng.normal(0.85, rng.uniform(0.001, 0.02), size=rng.integers(2, 7))
    expected = stats.ttest_ind(row, reference, equal_var=False)
    t, df, p = welch_test(row, reference)
    assert t == pytest.approx(expected.statistic, rel=1e-10)
    assert df == pytest.approx(expected.df, rel=1e-10)
    assert p == pytest.approx(expected.pvalue, rel=1e-8)


@pytest.mark.parametrize("seed", range(6))
def test_paired_matches_scipy(seed):
    rng = np.random.default_rng(100 + seed)
    reference = rng.uniform(0.8, 0.9, size=FOLDS)
    row = reference + rng.normal(rng.uniform(-0.01, 0.01), 0.01, size=FOLDS)
    expected = stats.ttest_rel(row, reference)
    t, df, p = paired_test(row, reference)
    assert df == FOLDS - 1
    assert t == pytest.approx(expected.statistic, rel=1e-10)
    assert p == pytest.approx(expected.pvalue, rel=1e-8)


def test_compare_fold_test_is_paired_on_seed_averaged_folds():
    rng = np.random.default_rng(7)
    row = [make_run(rng.uniform(0.8, 0.9, FOLDS)) for _ in range(3)]
    reference = [make_run(rng.uniform(0.8, 0.9, FOLDS)) for _ in range(2)]
    row_folds = np.mean([r["fold_accuracies"] for r in row], axis=0)
    reference_folds = np.mean([r["fold_accuracies"] for r in reference], axis=0)
    welch = stats.ttest_ind([r["accuracy_mean"] for r in row],
                            [r["accuracy_mean"] for r in reference], equal_var=False)
    result = compare(row, reference)
    assert result.p_folds == pytest.approx(stats.ttest_rel(row_folds, reference_folds).pvalue,
                                           rel=1e-8)
    assert result.p_seeds == pytest.approx(welch.pvalue, rel=1e-8)
    assert result.df_seeds == pytest.approx(welch.df, rel=1e-10)
    assert result.difference == pytest.approx(
        np.mean([r["accuracy_mean"] for r in row]) - np.mean([r["accuracy_mean"] for r in reference]))


def test_verdict_better_and_worse():
    reference = make_row(BASE, 0.0, [-0.004, 0.0, 0.004])
    improved = make_row(BASE, 0.03, [-0.003, 0.001, 0.005])
    better = compare(improved, reference)
    assert better.verdict == BETTER
    assert better.difference == pytest.approx(0.03 + 0.001)
    assert better.p_seeds < 0.05 and better.p_folds < 0.05
    worse = compare(reference, improved)
    assert worse.verdict == WORSE
    assert worse.difference == pytest.approx(-0.031)


def test_verdict_not_distinguishable_needs_both_tests():
    # A small shift on every fold (plus fold noise) is clear to the paired fold test but lost in
    # the spread between seeds: one significant test is not enough.
    reference = make_row(BASE, 0.0, [-0.02, 0.0, 0.02])
    noise = 0.0005 * np.array([1, -1, 2, 0, -2, 1, 0, -1, 2, -2])
    shifted = make_row(BASE + noise, 0.003, [-0.02, 0.0, 0.02])
    result = compare(shifted, reference)
    assert result.p_folds < 0.05
    assert result.p_seeds > 0.05
    assert result.verdict == NOT_DISTINGUISHABLE
    # The same numbers pass a looser level: the verdict follows alpha.
    assert compare(shifted, reference, alpha=0.9).verdict == BETTER


def test_verdict_not_distinguishable_for_overlapping_rows():
    reference = make_row(BASE, 0.0, [-0.01, 0.0, 0.01])
    other = make_row(BASE[::-1], 0.0, [-0.008, 0.003, 0.009])
    result = compare(other, reference)
    assert result.p_seeds > 0.05 and result.p_folds > 0.05
    assert result.verdict == NOT_DISTINGUISHABLE


@pytest.mark.parametrize("n_row, n_reference", [(1, 3), (3, 1), (1, 1)])
def test_too_few_seeds(n_row, n_reference):
    row = make_row(BASE, 0.05, [0.001 * i for i in range(n_row)])
    reference = make_row(BASE, 0.0, [0.001 * i for i in range(n_reference)])
    result = compare(row, reference)
    assert result == Comparison(result.difference, None, None, None, TOO_FEW_SEEDS)
    assert result.difference == pytest.approx(0.05 + 0.001 * ((n_row - 1) - (n_reference - 1)) / 2)


def test_zero_variance_identical_rows_give_p_one():
    reference = [make_run(BASE), make_run(BASE), make_run(BASE)]
    result = compare([make_run(BASE), make_run(BASE)], reference)
    assert result.difference == 0.0
    assert result.p_seeds == 1.0 and result.p_folds == 1.0
    assert result.df_seeds is None
    assert result.verdict == NOT_DISTINGUISHABLE


def test_zero_variance_constant_difference_gives_p_zero():
    # Binary-exact accuracies so that every difference is exactly 0.25.
    low = [make_run([0.5] * FOLDS)] * 3
    high = [make_run([0.75] * FOLDS)] * 2
    result = compare(high, low)
    assert result.p_seeds == 0.0 and result.p_folds == 0.0
    assert result.df_seeds is None
    assert result.verdict == BETTER
    assert compare(low, high).verdict == WORSE


def test_zero_variance_on_one_side_only_is_an_ordinary_welch_test():
    # Only the row varies: se^2 = 1e-4/3, t = 0.10 / sqrt(1e-4/3) = sqrt(300), df = 3 - 1.
    t, df, p = welch_test([0.84, 0.85, 0.86], [0.75, 0.75])
    assert t == pytest.approx(math.sqrt(300), rel=1e-9)
    assert df == pytest.approx(2.0)
    assert p == pytest.approx(2 * stats.t.sf(math.sqrt(300), 2), rel=1e-8)


def test_mismatched_fold_counts_raise():
    reference = make_row(BASE, 0.0, [0.0, 0.01])
    short = make_row(BASE[:9], 0.0, [0.0, 0.01])
    with pytest.raises(ValueError, match="different folds cannot be paired"):
        compare(short, reference)
    mixed = [make_run(BASE), make_run(BASE[:9])]
    with pytest.raises(ValueError, match="different folds cannot be paired"):
        compare(mixed, reference)


def test_summarise_matches_numpy():
    runs = [make_run(BASE + o, val_mean=v, auc=a)
            for o, v, a in [(0.0, 0.41, 0.93), (0.01, 0.47, 0.95), (-0.004, 0.38, 0.94)]]
    summary = summarise(runs)
    assert summary["n"] == 3
    for key in ("accuracy_mean", "val_mean", "auc"):
        values = np.array([r[key] for r in runs])
        assert summary[key]["mean"] == pytest.approx(values.mean())
        assert summary[key]["sd"] == pytest.approx(values.std(ddof=1))
    single = summarise(runs[:1])
    assert single["n"] == 1
    assert single["auc"] == {"mean": 0.93, "sd": None}


@pytest.mark.parametrize("p, text", [(None, "-"), (0.0, "<0.001"), (0.00099, "<0.001"),
                                     (0.001, "0.001"), (0.03, "0.03"), (0.0312, "0.031"),
                                     (0.049, "0.049"), (0.5, "0.5"), (1.0, "1")])
def test_format_p(p, text):
    assert format_p(p) == text
