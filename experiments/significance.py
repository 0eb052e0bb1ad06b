"""Is a row of an experiment set really better or worse than the set's reference row?

Each row is trained with N seeds (N >= 2, typically 3) and every seed is evaluated on the same
6,000 official LFW View 2 pairs, split into the same 10 folds in the same order. A difference in
accuracy between two rows can come from two sources of noise, and the comparison tests both:

* Seed level (training noise). Welch's two-sided t-test on the per-seed `accuracy_mean` of the
  row against those of the reference (unequal variances):
  t = (mean_row - mean_ref) / sqrt(s_row^2 / n_row + s_ref^2 / n_ref), with sample variances
  (ddof=1) and the Welch-Satterthwaite degrees of freedom
  df = (s_row^2/n_row + s_ref^2/n_ref)^2
       / ((s_row^2/n_row)^2 / (n_row - 1) + (s_ref^2/n_ref)^2 / (n_ref - 1)),
  p = 2 * P(T_df > |t|).
* Fold level (test-set sampling). Each fold's accuracy is averaged over the seeds of each row;
  a paired two-sided t-test over the folds then tests the differences d_k = row_k - ref_k:
  t = mean(d) / (sd(d) / sqrt(K)), df = K - 1 for K folds (K = 10 on View 2).
  Runs evaluated on different numbers of folds cannot be paired: that is an error.

Verdict at level alpha (default 0.05): "better" when both p-values are below alpha and the
difference of the mean accuracies (row - reference) is positive, "worse" when both are below
alpha and it is negative, "not distinguishable" otherwise. Requiring both tests guards against
a gain that is consistent over the folds but within the spread between seeds, and against one
that is beyond the seed spread but carried by a few folds.

Edge cases:
* Fewer than 2 seeds on either side: no variance can be estimated; the verdict is
  "too few seeds" and both p-values are None.
* Zero variance in a test (all per-seed accuracies equal on both sides for the seed test, all
  fold differences equal for the fold test): the t statistic is 0/0 or x/0. If the difference
  is exactly zero, p = 1 (nothing separates the rows); if it is nonzero, p = 0 (every
  observation differs by the same amount, there is no noise to explain it). The Welch df is
  then undefined and reported as None.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

BETTER = "better"
WORSE = "worse"
NOT_DISTINGUISHABLE = "not distinguishable"
TOO_FEW_SEEDS = "too few seeds"

SUMMARY_KEYS = ("accuracy_mean", "val_mean", "auc")


@dataclass(frozen=True)
class Comparison:
    """A row against the reference: difference of mean accuracies (row - reference)."""
    difference: float
    p_seeds: float | None
    p_folds: float | None
    df_seeds: float | None
    verdict: str


def _degenerate(difference: float) -> tuple[float, float]:
    """(t, p) of a test whose observations have zero variance; see the module docstring."""
    if difference == 0:
        return 0.0, 1.0
    return math.copysign(math.inf, difference), 0.0


def _exact_mean(values: np.ndarray) -> np.ndarray:
    """Mean over seeds (axis 0) that returns x exactly when every value is x.

    np.mean of equal floats can be off in the last bit, and then identical rows would differ
    by 1e-16 and escape the zero-variance rules; offsetting by the first value avoids that.
    """
    return values[0] + np.mean(values - values[0], axis=0)


def welch_test(row, reference) -> tuple[float, float | None, float]:
    """Welch's two-sided t-test of row vs reference: (t, df, p); df is None at zero variance."""
    a = np.asarray(row, dtype=float)
    b = np.asarray(reference, dtype=float)
    if a.size < 2 or b.size < 2:
        raise ValueError(f"Welch's test needs at least 2 values per side, got {a.size} and {b.size}")
    # Checked on the values, not the variance: the mean of equal floats is not always exact.
    if np.all(a == a[0]) and np.all(b == b[0]):
        t, p = _degenerate(float(a[0] - b[0]))
        return t, None, p
    va = a.var(ddof=1) / a.size
    vb = b.var(ddof=1) / b.size
    t = float((a.mean() - b.mean()) / math.sqrt(va + vb))
    df = float((va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1)))
    return t, df, float(2 * stats.t.sf(abs(t), df))


def paired_test(row, reference) -> tuple[float, int, float]:
    """Paired two-sided t-test of row - reference over matched observations: (t, df, p)."""
    d = np.asarray(row, dtype=float) - np.asarray(reference, dtype=float)
    if d.size < 2:
        raise ValueError(f"the paired test needs at least 2 pairs, got {d.size}")
    df = d.size - 1
    if np.all(d == d[0]):
        t, p = _degenerate(float(d[0]))
        return t, df, p
    t = float(d.mean() / (d.std(ddof=1) / math.sqrt(d.size)))
    return t, df, float(2 * stats.t.sf(abs(t), df))


def _fold_matrix(runs, what: str) -> np.ndarray:
    """Per-seed fold accuracies as a (seeds, folds) array; every run must have as many folds."""
    lengths = {len(run["fold_accuracies"]) for run in runs}
    if len(lengths) > 1:
        raise ValueError(f"{what} runs have different numbers of folds {sorted(lengths)}: "
                         "runs evaluated on different folds cannot be paired")
    return np.array([run["fold_accuracies"] for run in runs], dtype=float)


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


def compare(row_runs, reference_runs, alpha: float = 0.05) -> Comparison:
    """Compare a row's seeds with the reference row's seeds (method in the module docstring)."""
    if not row_runs or not reference_runs:
        raise ValueError("compare needs at least one run on each side")
    row_folds = _fold_matrix(row_runs, "row")
    reference_folds = _fold_matrix(reference_runs, "reference")
    if row_folds.shape[1] != reference_folds.shape[1]:
        raise ValueError(f"row runs have {row_folds.shape[1]} folds and reference runs "
                         f"{reference_folds.shape[1]}: runs evaluated on different folds "
                         "cannot be paired")
    row_acc = np.array([run["accuracy_mean"] for run in row_runs], dtype=float)
    reference_acc = np.array([run["accuracy_mean"] for run in reference_runs], dtype=float)
    difference = float(_exact_mean(row_acc) - _exact_mean(reference_acc))
    if len(row_acc) < 2 or len(reference_acc) < 2:
        return Comparison(difference, None, None, None, TOO_FEW_SEEDS)
    _, df_seeds, p_seeds = welch_test(row_acc, reference_acc)
    _, _, p_folds = paired_test(_exact_mean(row_folds), _exact_mean(reference_folds))
    if p_seeds < alpha and p_folds < alpha and difference != 0:
        verdict = BETTER if difference > 0 else WORSE
    else:
        verdict = NOT_DISTINGUISHABLE
    return Comparison(difference, p_seeds, p_folds, df_seeds, verdict)


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
