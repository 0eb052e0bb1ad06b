"""Is a row of an experiment set better than, worse than or equivalent to the set's reference row?

The unit is the seed: each row is trained with N seeds, each evaluated on LFW View 2, and a row's
observations are its seeds' `accuracy_mean`. What varies between two runs of one configuration is
the training (initial weights, data order, dropout, flips, bfloat16 arithmetic), so that is what a
verdict about configurations must measure. The 10 folds of View 2 are the same 6,000 pairs for
every run: a test over folds holds the trained networks fixed and sees only test-pair noise (two
seeds of one configuration differ "significantly" over the folds most of the time), so it takes no
part in the verdict.

For a row (a) against the reference (b), in accuracy points:

* Difference d = mean(a) - mean(b) with its Welch standard error se = sqrt(s_a^2/n_a + s_b^2/n_b)
  (sample variances, ddof=1) and the Welch-Satterthwaite degrees of freedom
  df = se^4 / ((s_a^2/n_a)^2/(n_a - 1) + (s_b^2/n_b)^2/(n_b - 1)).
  95% confidence interval d +- t_{0.975, df} se; two-sided p = 2 P(T_df > |d / se|)
  (= scipy.stats.ttest_ind(a, b, equal_var=False)).
* Holm's step-down adjustment over the set's comparisons: with the m p-values sorted,
  p_(1) <= ... <= p_(m), adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)). It keeps the
  chance of any false "better"/"worse" in the set at 5%.
* Equivalence (TOST) at the set's margin delta, fixed in its set file before the comparison: two
  one-sided Welch tests, H0: d <= -delta and H0: d >= +delta; p_TOST = the larger of their two
  p-values, i.e. equivalence at 5% exactly when the 90% CI lies inside (-delta, +delta). Not
  adjusted for the set's other rows (each equivalence needs both of its tests).
* Verdict: "better" / "worse" when the Holm-adjusted p < 0.05 (by the sign of d); else
  "equivalent" when p_TOST < 0.05; else "not distinguishable". A table always shows the CI: "not
  distinguishable" with a CI of -7 to +3 points says the data cannot tell, not that the rows agree.
* Counts (take-off, stall, collapse, divergence: experiments/convergence.py) are compared with
  Fisher's exact test on the 2x2 table [row: k_a of n_a, reference: k_b of n_b] (two-sided,
  scipy.stats.fisher_exact). With 3 seeds a side its smallest possible p is 0.1.
* Power: the smallest true difference that Welch's test (two-sided, alpha 0.05, before Holm) detects
  with probability 0.8 at given seeds and sds (normal seeds), by simulating the test: 200,000 seeded
  draws of both rows, each tested with its own sample sds and Welch df. The noncentral t at the
  Welch-Satterthwaite df of the true sds is optimistic at these sizes: at 3 seeds a side and equal
  sds it names 3.07 sd, where Welch's test has power 0.69 (the simulation: 0.8 needs 3.50 sd),
  because the df of each sample's own sds is mostly lower than that of the true sds.

Assumptions: seeds are independent draws of the training noise of one configuration; per-seed
accuracies are roughly normal (with 3 seeds this cannot be checked: Welch's test is then a rough
guide and its CI is wide); all runs of a comparison are evaluated on the same pairs.

Degenerate cases: fewer than 2 seeds on a side: no variance, verdict "too few seeds" and no CI. All
observations equal on both sides (se = 0): the difference is exact, p = 1 if it is 0 else 0, the CI
is the point, df is None; TOST then says equivalent iff |d| < delta.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

BETTER = "better"
WORSE = "worse"
EQUIVALENT = "equivalent"
NOT_DISTINGUISHABLE = "not distinguishable"
TOO_FEW_SEEDS = "too few seeds"
ALPHA = 0.05
POWER = 0.8
POWER_TRIALS = 200_000  # simulated power's standard error: about 0.001

SUMMARY_KEYS = ("accuracy_mean", "val_mean", "auc")


@dataclass(frozen=True)
class Welch:
    """Welch's comparison of a (row) with b (reference), in the units of the data."""

    difference: float
    se: float
    df: float | None  # None when se = 0
    p: float
    ci: tuple[float, float]  # 95%


@dataclass(frozen=True)
class Comparison:
    """A row against the reference, in accuracy points (row - reference)."""

    welch: Welch | None  # None with fewer than 2 seeds on a side
    difference: float
    p_holm: float | None = None
    p_tost: float | None = None
    verdict: str = TOO_FEW_SEEDS


def _exact_mean(values: np.ndarray) -> float:
    """Mean that returns x exactly when every value is x (np.mean of equal floats can be off in the
    last bit, and identical rows would then differ by 1e-16)."""
    return float(values[0] + np.mean(values - values[0]))


def welch(a, b, confidence: float = 0.95) -> Welch:
    """Welch's two-sided test and CI of mean(a) - mean(b) (method in the module docstring)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size < 2 or b.size < 2:
        raise ValueError(f"Welch's test needs at least 2 values per side, got {a.size} and {b.size}")
    difference = _exact_mean(a) - _exact_mean(b)
    if np.all(a == a[0]) and np.all(b == b[0]):
        return Welch(difference, 0.0, None, 1.0 if difference == 0 else 0.0, (difference, difference))
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    p = float(2 * stats.t.sf(abs(difference) / se, df))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return Welch(difference, se, float(df), p, (difference - half, difference + half))


def tost_p(result: Welch, margin: float) -> float:
    """p of the two one-sided tests that |true difference| < margin (the larger of the two)."""
    if result.df is None:
        return 0.0 if abs(result.difference) < margin else 1.0
    p_lower = stats.t.sf((result.difference + margin) / result.se, result.df)  # H0: d <= -margin
    p_upper = stats.t.cdf((result.difference - margin) / result.se, result.df)  # H0: d >= +margin
    return float(max(p_lower, p_upper))


def holm(p_values) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    m = p.size
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def fisher_counts(k_row: int, n_row: int, k_ref: int, n_ref: int) -> float:
    """Two-sided Fisher exact p for k_row of n_row vs k_ref of n_ref."""
    return float(stats.fisher_exact([[k_row, n_row - k_row], [k_ref, n_ref - k_ref]])[1])


def welch_power(
    difference: float,
    sd_a: float,
    n_a: int,
    sd_b: float,
    n_b: int,
    alpha: float = ALPHA,
    trials: int = POWER_TRIALS,
    seed: int = 0,
) -> float:
    """Power of Welch's two-sided test at a true difference, sds and seed counts, by simulating the
    test (seeded: the same inputs give the same number)."""
    return float(np.mean(_welch_draws(sd_a, n_a, sd_b, n_b, alpha, trials, seed).rejects(difference)))


@functools.lru_cache(maxsize=256)  # a set's tables and docs ask for the same numbers
def detectable_difference(
    sd_a: float,
    n_a: int,
    sd_b: float,
    n_b: int,
    target: float = POWER,
    alpha: float = ALPHA,
    trials: int = POWER_TRIALS,
    seed: int = 0,
) -> float | None:
    """The smallest true difference Welch's test detects with probability `target` (simulated, common
    random numbers for every difference); None without spread or with fewer than 2 seeds a side."""
    if n_a < 2 or n_b < 2 or sd_a + sd_b <= 0:
        return None
    draws = _welch_draws(sd_a, n_a, sd_b, n_b, alpha, trials, seed)
    low, high = 0.0, 1.0
    while np.mean(draws.rejects(high)) < target:
        high *= 2
    for _ in range(60):  # bisection to far below the simulation's own error
        middle = (low + high) / 2
        low, high = (middle, high) if np.mean(draws.rejects(middle)) < target else (low, middle)
    return high


@dataclass(frozen=True)
class _WelchDraws:
    """Simulated samples at difference 0: Welch rejects at difference d where |d + noise| > threshold
    (the sample sds, hence se and df, do not depend on d)."""

    noise: np.ndarray  # mean(a) - mean(b) per trial
    threshold: np.ndarray  # t_{1 - alpha/2, df} x se per trial

    def rejects(self, difference: float) -> np.ndarray:
        return np.abs(difference + self.noise) > self.threshold


def _welch_draws(sd_a, n_a, sd_b, n_b, alpha, trials, seed) -> _WelchDraws:
    rng = np.random.default_rng(seed)
    a = rng.normal(0.0, sd_a, size=(trials, n_a))
    b = rng.normal(0.0, sd_b, size=(trials, n_b))
    va, vb = a.var(axis=1, ddof=1) / n_a, b.var(axis=1, ddof=1) / n_b
    df = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    return _WelchDraws(a.mean(axis=1) - b.mean(axis=1), stats.t.ppf(1 - alpha / 2, df) * np.sqrt(va + vb))


def summarise(runs) -> dict:
    """Mean and sample sd (ddof=1; None for one run) over seeds of accuracy, VAL and AUC.

    Returns {"n": seeds, key: {"mean": ..., "sd": ...}} for each key of SUMMARY_KEYS.
    """
    if not runs:
        raise ValueError("summarise needs at least one run")
    summary: dict = {"n": len(runs)}
    for key in SUMMARY_KEYS:
        values = np.array([run[key] for run in runs], dtype=float)
        sd = float(values.std(ddof=1)) if values.size > 1 else None
        summary[key] = {"mean": float(values.mean()), "sd": sd}
    return summary


def accuracy_points(runs) -> np.ndarray:
    """The seeds' LFW View 2 accuracies in points."""
    return 100 * np.array([run["accuracy_mean"] for run in runs], dtype=float)


def compare_set(pairs: dict, margin: float, alpha: float = ALPHA) -> dict:
    """Each (row runs, reference runs) of `pairs` (key -> pair) compared in accuracy points, Holm
    over the pairs that have a test; key -> Comparison."""
    tested = {}
    result = {}
    for key, (row_runs, reference_runs) in pairs.items():
        a, b = accuracy_points(row_runs), accuracy_points(reference_runs)
        if a.size < 2 or b.size < 2:
            result[key] = Comparison(None, _exact_mean(a) - _exact_mean(b))
        else:
            tested[key] = welch(a, b)
    for (key, test), p_holm in zip(tested.items(), holm([test.p for test in tested.values()]), strict=True):
        p_tost = tost_p(test, margin)
        if p_holm < alpha and test.difference != 0:
            verdict = BETTER if test.difference > 0 else WORSE
        elif p_tost < alpha:
            verdict = EQUIVALENT
        else:
            verdict = NOT_DISTINGUISHABLE
        result[key] = Comparison(test, test.difference, p_holm, p_tost, verdict)
    return {key: result[key] for key in pairs}


def format_p(p: float | None) -> str:
    """A p-value for a results table: "-" for None, "<0.001", else two significant digits.

    Two significant digits rather than two decimals so that 0.049 is not shown as 0.05; the
    verdict is always taken on the unrounded value.
    """
    if p is None:
        return "-"
    if p < 0.001:
        return "<0.001"
    return f"{p:.2g}"
