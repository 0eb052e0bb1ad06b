"""The verdicts of one set at one scale, from its runs: each row against the reference (accuracy:
Welch CI, Holm, TOST; take-off counts: Fisher), each claim the set tests (supports / contradicts /
cannot tell), and the set's power. Method: experiments/significance.py; rendering:
experiments/results_table.py and experiments/findings.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments import convergence, significance
from experiments.claims import ACCURACY, Claim, ClaimTest

SUPPORTS, CONTRADICTS, CANNOT_TELL, MIXED, OPEN = "supports", "contradicts", "cannot tell", "mixed", "open"
NO_DATA = "no records"
IN_PART = " in part"
# accuracy expectation -> (verdicts that support it, verdicts that contradict it)
ACCURACY_OUTCOMES = {
    "better": ({significance.BETTER}, {significance.WORSE, significance.EQUIVALENT}),
    "worse": ({significance.WORSE}, {significance.BETTER, significance.EQUIVALENT}),
    "not_worse": ({significance.BETTER, significance.EQUIVALENT}, {significance.WORSE}),
    "equivalent": ({significance.EQUIVALENT}, {significance.BETTER, significance.WORSE}),
}


@dataclass(frozen=True)
class Counts:
    """Seeds whose training converged (took off), row vs the row it is compared with."""

    row: tuple[int, int]  # (converged, judged)
    against: tuple[int, int]
    p: float | None  # Fisher's two-sided p; None when a side has no judged run

    def __str__(self) -> str:
        text = f"{self.row[0]}/{self.row[1]} vs {self.against[0]}/{self.against[1]}"
        return text if self.p is None else f"{text}, Fisher p = {significance.format_p(self.p)}"


@dataclass(frozen=True)
class TestResult:
    test: ClaimTest
    against: str
    outcome: str  # supports / contradicts / cannot tell / open / no records
    evidence: str  # the numbers the outcome rests on


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    outcome: str
    tests: tuple[TestResult, ...]


@dataclass(frozen=True)
class SetVerdicts:
    comparisons: dict  # (row, against) -> significance.Comparison
    counts: dict  # (row, against) -> Counts
    not_comparable: dict  # (row, against) -> why (e.g. different step counts)
    claims: tuple[ClaimResult, ...]
    margin: float
    detectable: float | None  # the set's smallest difference detected with 80% power (points)
    pooled_sd: float | None
    reference_sd: float | None = None
    detectable_at_reference: float | None = None  # the same at the reference row's seed sd
    most_seeds: int = 0  # the most evaluated seeds any row has
    detectable_at_most: float | None = None  # at the pooled sd, with most_seeds a row (when above the set's)


def evaluated(runs) -> list[dict]:
    """The eval JSONs of a row's finished and evaluated runs."""
    return [run.lfw for run in runs if run.status == "done" and run.lfw and "accuracy_mean" in run.lfw]


def lengths(runs) -> str:
    """The finished runs' step counts, '480' or '480/1440'."""
    return "/".join(str(steps) for steps in sorted({run.steps for run in runs if run.status == "done"}))


def take_off(runs) -> tuple[int, int]:
    """(seeds that converged, seeds with a training verdict)."""
    judged = [run.training for run in runs if run.training is not None]
    return sum(verdict.kind == convergence.CONVERGES for verdict in judged), len(judged)


def _pairs(exp_set, claims: list[Claim], measure: str | None = None) -> list[tuple[str, str]]:
    """Every row against the reference, then the claims' other pairs (of `measure`, or all), each once."""
    pairs = [(row, exp_set.reference) for row in exp_set.row_names() if row != exp_set.reference]
    for claim in claims:
        for test in claim.tests:
            pair = (test.row, test.against or exp_set.reference)
            if test.set == exp_set.name and pair not in pairs and measure in (None, test.measure):
                pairs.append(pair)
    return pairs


def _counts(row_runs, against_runs) -> Counts:
    row, against = take_off(row_runs), take_off(against_runs)
    p = None if not row[1] or not against[1] else significance.fisher_counts(*row, *against)
    return Counts(row, against, p)


def _pooled_sd(results: dict) -> float | None:
    """sqrt of the mean seed variance (points^2) over the rows with 2 or more evaluated seeds."""
    variances = [
        np.var(significance.accuracy_points(runs), ddof=1)
        for runs in map(evaluated, results.values())
        if len(runs) >= 2
    ]
    return float(np.sqrt(np.mean(variances))) if variances else None


def judge_set(exp_set, results: dict, claims: list[Claim]) -> SetVerdicts:
    """`results`: row -> its RowResults (one per seed); `claims`: the claims the set tests."""
    testable, not_comparable = {}, {}
    for row, against in _pairs(exp_set, claims, ACCURACY):
        row_runs, against_runs = evaluated(results[row]), evaluated(results[against])
        if not row_runs or not against_runs:
            continue
        if lengths(results[row]) != lengths(results[against]) and not exp_set.compares_budgets:
            # A row trained longer (or shorter) than the other says nothing about the config.
            not_comparable[(row, against)] = (
                f"not comparable ({lengths(results[row])} vs {lengths(results[against])} steps)"
            )
            continue
        testable[(row, against)] = (row_runs, against_runs)
    comparisons = significance.compare_set(testable, exp_set.equivalence_margin)
    counts = {pair: _counts(results[pair[0]], results[pair[1]]) for pair in _pairs(exp_set, claims)}
    claim_results = tuple(_judge_claim(claim, exp_set, comparisons, counts) for claim in claims)
    pooled = _pooled_sd(results)
    reference_sd = _pooled_sd({exp_set.reference: results[exp_set.reference]})
    most_seeds = max((len(evaluated(runs)) for runs in results.values()), default=0)
    return SetVerdicts(
        comparisons,
        counts,
        not_comparable,
        claim_results,
        exp_set.equivalence_margin,
        _detectable(pooled, exp_set.seeds),
        pooled,
        reference_sd,
        _detectable(reference_sd, exp_set.seeds),
        most_seeds,
        _detectable(pooled, most_seeds) if most_seeds > exp_set.seeds else None,
    )


# A claim resting on a gap under CLOSE_GAP points once both rows have the set's seeds is decided at
# CLOSE_GAP_SEEDS seeds a row: 3 seeds a row see a 2-3 point gap with low power at the spreads seen.
CLOSE_GAP = 5.0
CLOSE_GAP_SEEDS = 5


def rows_wanting_seeds(exp_set, results: dict, judged: SetVerdicts) -> dict[str, int]:
    """row -> its evaluated seeds, for each row of a claim's accuracy test whose gap is under
    CLOSE_GAP points with both rows at the set's seeds or more but a row under CLOSE_GAP_SEEDS."""
    wanting = {}
    for claim_result in judged.claims:
        for test_result in claim_result.tests:
            pair = (test_result.test.row, test_result.against)
            comparison = judged.comparisons.get(pair)
            if test_result.test.measure != ACCURACY or comparison is None or abs(comparison.difference) >= CLOSE_GAP:
                continue
            seeds = {row: len(evaluated(results[row])) for row in pair}
            if min(seeds.values()) >= exp_set.seeds:
                wanting.update({row: n for row, n in seeds.items() if n < CLOSE_GAP_SEEDS})
    return wanting


# Points: a seed sd below this is seeds that agree exactly, up to float rounding of their means.
ZERO_SD = 1e-9


def _detectable(sd: float | None, seeds: int) -> float | None:
    """The difference detectable at this seed sd; None without an sd or with seeds that agree
    exactly (a zero sd says nothing about the seed noise)."""
    if sd is None or sd < ZERO_SD:
        return None
    return significance.detectable_difference(sd, seeds, sd, seeds)


def describe(comparison: significance.Comparison) -> str:
    """'+3.91 points (95% CI -0.11 to +7.93), Holm p = 0.21: not distinguishable'."""
    if comparison.welch is None:
        return f"{comparison.difference:+.2f} points: {comparison.verdict}"
    low, high = comparison.welch.ci
    p_holm = significance.format_p(comparison.p_holm)
    return (
        f"{comparison.difference:+.2f} points (95% CI {low:+.2f} to {high:+.2f}), Holm p "
        f"{p_holm if p_holm.startswith('<') else '= ' + p_holm}: {comparison.verdict}"
    )


def _judge_test(test: ClaimTest, exp_set, comparisons: dict, counts: dict) -> TestResult:
    against = test.against or exp_set.reference
    pair = (test.row, against)
    if test.measure == ACCURACY:
        comparison = comparisons.get(pair)
        if comparison is None or comparison.welch is None:
            return TestResult(
                test,
                against,
                NO_DATA if comparison is None else CANNOT_TELL,
                "no comparable records" if comparison is None else describe(comparison),
            )
        if test.expect == "open":
            return TestResult(test, against, OPEN, describe(comparison))
        supports, contradicts = ACCURACY_OUTCOMES[test.expect]
        outcome = (
            SUPPORTS
            if comparison.verdict in supports
            else CONTRADICTS
            if comparison.verdict in contradicts
            else CANNOT_TELL
        )
        return TestResult(test, against, outcome, describe(comparison))
    count = counts[pair]
    if count.p is None:
        return TestResult(test, against, NO_DATA, "no judged runs")
    if test.expect == "open":
        return TestResult(test, against, OPEN, f"took off {count}")
    row_rate, against_rate = count.row[0] / count.row[1], count.against[0] / count.against[1]
    fewer = row_rate < against_rate
    if count.p >= significance.ALPHA or row_rate == against_rate:
        outcome = CANNOT_TELL
    else:
        outcome = SUPPORTS if fewer == (test.expect == "fewer") else CONTRADICTS
    return TestResult(test, against, outcome, f"took off {count}")


def _judge_claim(claim: Claim, exp_set, comparisons: dict, counts: dict) -> ClaimResult:
    tests = tuple(_judge_test(test, exp_set, comparisons, counts) for test in claim.tests if test.set == exp_set.name)
    outcomes = {result.outcome for result in tests}
    if SUPPORTS in outcomes and CONTRADICTS in outcomes:
        outcome = MIXED
    elif SUPPORTS in outcomes or CONTRADICTS in outcomes:
        outcome = SUPPORTS if SUPPORTS in outcomes else CONTRADICTS
        if outcomes - {outcome, OPEN}:
            outcome += IN_PART  # the other tests cannot tell or have no records
    elif outcomes <= {OPEN}:
        outcome = OPEN
    elif outcomes <= {NO_DATA}:
        outcome = NO_DATA
    else:
        outcome = CANNOT_TELL
    return ClaimResult(claim, outcome, tests)
