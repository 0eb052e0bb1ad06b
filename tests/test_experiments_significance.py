"""experiments/significance.py: Welch CI, Holm, TOST, Fisher and power against scipy and hand-worked
numbers; the verdicts of a set."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from experiments.significance import (
    BETTER,
    EQUIVALENT,
    NOT_DISTINGUISHABLE,
    TOO_FEW_SEEDS,
    WORSE,
    compare_set,
    detectable_difference,
    fisher_counts,
    format_p,
    holm,
    summarise,
    tost_p,
    welch,
    welch_power,
)


def runs(*accuracies_in_points, val_mean=0.5, auc=0.9):
    """eval_lfw.py-like records, one per seed."""
    return [{"accuracy_mean": points / 100, "val_mean": val_mean, "auc": auc} for points in accuracies_in_points]


def test_welch_hand_worked_example():
    # a = [80, 82, 81]: mean 81, variance 1; b = [84, 85, 86]: mean 85, variance 1.
    # se = sqrt(1/3 + 1/3) = sqrt(2/3); df = (2/3)^2 / (2 (1/3)^2 / 2) = 4; t = -4 / sqrt(2/3) = -sqrt(24).
    # With 4 df, P(T <= t) = 1/2 + (3/4) s (1 - s^2/3), s = t / sqrt(4 + t^2): s^2 = 24/28 = 6/7 and
    # p = 1 - (15/14) sqrt(6/7) = 0.0080499. CI: -4 +- t_{0.975, 4} sqrt(2/3) = -4 +- 2.776445 x 0.816497.
    result = welch([80, 82, 81], [84, 85, 86])
    assert result.difference == -4.0
    assert result.se == pytest.approx(math.sqrt(2 / 3), rel=1e-12)
    assert result.df == pytest.approx(4.0, rel=1e-12)
    assert result.p == pytest.approx(1 - 15 / 14 * math.sqrt(6 / 7), rel=1e-9)
    assert result.ci == pytest.approx((-4 - 2.776445 * 0.816497, -4 + 2.776445 * 0.816497), abs=1e-5)


@pytest.mark.parametrize("seed", range(6))
def test_welch_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(85, rng.uniform(0.1, 3), size=rng.integers(2, 7))
    b = rng.normal(84, rng.uniform(0.1, 3), size=rng.integers(2, 7))
    expected = stats.ttest_ind(a, b, equal_var=False)
    result = welch(a, b)
    assert result.difference / result.se == pytest.approx(expected.statistic, rel=1e-10)
    assert result.df == pytest.approx(expected.df, rel=1e-10)
    assert result.p == pytest.approx(expected.pvalue, rel=1e-8)
    interval = expected.confidence_interval(0.95)
    assert result.ci == pytest.approx((interval.low, interval.high), rel=1e-8)


def test_welch_zero_variance_cases():
    exact = welch([75.0, 75.0], [50.0, 50.0, 50.0])
    assert (exact.difference, exact.p, exact.df, exact.ci) == (25.0, 0.0, None, (25.0, 25.0))
    same = welch([60.0, 60.0], [60.0, 60.0])
    assert same.p == 1.0 and same.df is None
    # Only one side varies: an ordinary Welch test with df = n - 1 of that side.
    one_side = welch([84, 85, 86], [75, 75])
    assert one_side.df == pytest.approx(2.0) and one_side.p == pytest.approx(2 * stats.t.sf(math.sqrt(300), 2))
    with pytest.raises(ValueError, match="at least 2 values per side"):
        welch([80], [81, 82])


def test_holm_hand_worked():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == [1.0, 1.0]  # capped at 1, and never below an earlier step
    assert holm([0.02]) == [0.02]


def test_tost_hand_worked():
    result = welch([80, 82, 81], [84, 85, 86])  # d = -4, se = sqrt(2/3), df = 4
    # margin 5: the tighter one-sided test is H0: d <= -5, t = 1 / sqrt(2/3) = sqrt(1.5);
    # s^2 = 1.5 / 5.5 = 3/11, P(T > t) = 1/2 - (3/4) s (1 - s^2/3) = 1/2 - (15/22) sqrt(3/11)
    assert tost_p(result, 5.0) == pytest.approx(0.5 - 15 / 22 * math.sqrt(3 / 11), rel=1e-9)
    # margin 8: t = 4 / sqrt(2/3) = sqrt(24): half the two-sided p of the hand-worked Welch example
    assert tost_p(result, 8.0) == pytest.approx((1 - 15 / 14 * math.sqrt(6 / 7)) / 2, rel=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_tost_is_the_90_percent_interval_inside_the_margin(seed):
    rng = np.random.default_rng(50 + seed)
    a, b = rng.normal(80, 1.0, size=4), rng.normal(80 + rng.uniform(-1, 1), 1.0, size=3)
    margin = rng.uniform(0.5, 4)
    result = welch(a, b)
    low, high = welch(a, b, confidence=0.90).ci
    assert (tost_p(result, margin) < 0.05) == (-margin < low and high < margin)
    # and each one-sided p is scipy's one-sided Welch test of the shifted sample
    shifted_low = stats.ttest_ind(a + margin, b, equal_var=False, alternative="greater").pvalue
    shifted_high = stats.ttest_ind(a - margin, b, equal_var=False, alternative="less").pvalue
    assert tost_p(result, margin) == pytest.approx(max(shifted_low, shifted_high), rel=1e-8)


def test_tost_zero_variance():
    exact = welch([80.5, 80.5], [80.0, 80.0])
    assert tost_p(exact, 1.0) == 0.0 and tost_p(exact, 0.4) == 1.0


def test_fisher_hand_worked_and_scipy():
    # 0/3 vs 3/3: only the observed table and its mirror are as extreme: 2 / C(6, 3) = 0.1
    assert fisher_counts(0, 3, 3, 3) == pytest.approx(0.1)
    # 1/3 vs 3/3: P(row has k of the 4 successes) = 4/20, 12/20, 4/20 for k = 1, 2, 3: p = 0.2 + 0.2
    assert fisher_counts(1, 3, 3, 3) == pytest.approx(0.4)
    assert fisher_counts(0, 5, 5, 5) == pytest.approx(2 / 252)
    assert fisher_counts(2, 5, 4, 6) == pytest.approx(stats.fisher_exact([[2, 3], [4, 2]])[1])


def test_welch_power_at_no_difference_is_the_tests_size_and_rises_with_the_difference():
    # Welch's test is conservative at 3 seeds a side (its df from the samples' own sds): scipy's test
    # on fresh draws rejects as often
    rng = np.random.default_rng(7)
    size = np.mean(
        stats.ttest_ind(rng.normal(size=(40000, 3)), rng.normal(size=(40000, 3)), axis=1, equal_var=False).pvalue < 0.05
    )
    assert welch_power(0.0, 1.0, 3, 1.0, 3) == pytest.approx(size, abs=0.004) and size < 0.045
    assert welch_power(1.0, 1.0, 3, 1.0, 3) < welch_power(2.0, 1.0, 3, 1.0, 3) < welch_power(4.0, 1.0, 3, 1.0, 3)


@pytest.mark.parametrize("sd_a, n_a, sd_b, n_b", [(1.0, 3, 1.0, 3), (2.0, 5, 1.0, 3), (1.15, 3, 4.72, 3)])
def test_detectable_difference_is_detected_80_percent_of_the_time(sd_a, n_a, sd_b, n_b):
    """An independent check: scipy's Welch test on fresh draws at that difference rejects 80% of them."""
    difference = detectable_difference(sd_a, n_a, sd_b, n_b)
    rng = np.random.default_rng(12345)
    trials = 40000
    a = rng.normal(difference, sd_a, size=(trials, n_a))
    b = rng.normal(0.0, sd_b, size=(trials, n_b))
    rejected = stats.ttest_ind(a, b, axis=1, equal_var=False).pvalue < 0.05
    assert rejected.mean() == pytest.approx(0.8, abs=0.01)  # binomial sd of the mean: 0.002


def test_detectable_difference_with_many_seeds_is_the_noncentral_t_value():
    """With 30 seeds a side Welch's df hardly varies, and the noncentral t (df 58) gives the answer."""

    def nct_power(difference):
        se = math.sqrt(2 / 30)
        critical = stats.t.ppf(0.975, 58)
        return stats.nct.sf(critical, 58, difference / se) + stats.nct.cdf(-critical, 58, difference / se)

    expected = optimize.brentq(lambda d: nct_power(d) - 0.8, 0.1, 3.0)  # 0.735 sd
    assert detectable_difference(1.0, 30, 1.0, 30) == pytest.approx(expected, rel=0.01)
    assert detectable_difference(1.0, 1, 1.0, 3) is None and detectable_difference(0.0, 3, 0.0, 3) is None


def test_compare_set_verdicts():
    reference = runs(80.0, 80.1, 80.2)
    result = compare_set(
        {
            "better": (runs(85.0, 85.5, 86.0), reference),
            "worse": (runs(70.0, 71.0, 72.0), reference),
            "equivalent": (runs(80.05, 80.15, 80.25), reference),
            "wide": (runs(75.0, 80.0, 86.0), reference),
            "single": (runs(90.0), reference),
        },
        margin=1.0,
    )
    assert [result[key].verdict for key in result] == [BETTER, WORSE, EQUIVALENT, NOT_DISTINGUISHABLE, TOO_FEW_SEEDS]
    assert result["single"].welch is None and result["single"].difference == pytest.approx(9.9)
    tested = ["better", "worse", "equivalent", "wide"]
    raw = [
        stats.ttest_ind(
            100 * np.array([r["accuracy_mean"] for r in pair[0]]),
            100 * np.array([r["accuracy_mean"] for r in pair[1]]),
            equal_var=False,
        ).pvalue
        for pair in [
            (runs(85.0, 85.5, 86.0), reference),
            (runs(70.0, 71.0, 72.0), reference),
            (runs(80.05, 80.15, 80.25), reference),
            (runs(75.0, 80.0, 86.0), reference),
        ]
    ]
    assert [result[key].p_holm for key in tested] == pytest.approx(holm(raw), rel=1e-8)


def test_holm_turns_a_lone_better_into_not_distinguishable_beside_a_second_row():
    # d = 2.5, se = sqrt(2/3), df 4: p = 0.038 alone; two such rows: Holm 2 x 0.034 > 0.05
    reference = runs(80.0, 81.0, 82.0)
    alone = compare_set({"a": (runs(82.5, 83.5, 84.5), reference)}, margin=1.0)
    assert alone["a"].welch.p < 0.05 and alone["a"].verdict == BETTER
    both = compare_set({"a": (runs(82.5, 83.5, 84.5), reference), "b": (runs(82.6, 83.6, 84.6), reference)}, margin=1.0)
    assert both["a"].welch.p < 0.05 and both["a"].p_holm > 0.05
    assert both["a"].verdict == both["b"].verdict == NOT_DISTINGUISHABLE


def test_two_identical_seeds_sets_are_equivalent_not_better():
    reference = runs(74.0, 75.0, 76.0)
    result = compare_set({"same": (runs(74.0, 75.0, 76.0), reference)}, margin=3.0)["same"]
    assert result.difference == 0.0 and result.p_holm == pytest.approx(1.0)
    assert result.verdict == EQUIVALENT
    assert (
        compare_set({"same": (runs(74.0, 75.0, 76.0), reference)}, margin=0.5)["same"].verdict == NOT_DISTINGUISHABLE
    )  # the data cannot show |d| < 0.5 with these spreads


def test_summarise_matches_numpy():
    records = [
        {"accuracy_mean": a, "val_mean": v, "auc": u}
        for a, v, u in [(0.80, 0.41, 0.93), (0.81, 0.47, 0.95), (0.796, 0.38, 0.94)]
    ]
    summary = summarise(records)
    assert summary["n"] == 3
    for key in ("accuracy_mean", "val_mean", "auc"):
        values = np.array([r[key] for r in records])
        assert summary[key]["mean"] == pytest.approx(values.mean())
        assert summary[key]["sd"] == pytest.approx(values.std(ddof=1))
    assert summarise(records[:1])["auc"] == {"mean": 0.93, "sd": None}


@pytest.mark.parametrize(
    "p, text",
    [
        (None, "-"),
        (0.0, "<0.001"),
        (0.00099, "<0.001"),
        (0.001, "0.001"),
        (0.03, "0.03"),
        (0.0312, "0.031"),
        (0.049, "0.049"),
        (0.5, "0.5"),
        (1.0, "1"),
    ],
)
def test_format_p(p, text):
    assert format_p(p) == text
