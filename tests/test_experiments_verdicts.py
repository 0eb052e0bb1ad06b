"""experiments/verdicts.py: a set's comparisons, take-off counts and per-claim outcomes."""

from __future__ import annotations

import dataclasses

import pytest
from scipy import optimize, stats

from experiments import convergence, verdicts
from experiments.claims import Claim, ClaimTest
from experiments.experiment_sets import load_set
from experiments.results_table import RowResult, more_seeds_lines, power_line

SET = dataclasses.replace(load_set("regime"), equivalence_margin=1.0)  # reference: momentum_wd_bn_switch


def run(points: float, took_off: bool = True, steps: int = 1440) -> RowResult:
    kind = convergence.CONVERGES if took_off else convergence.STALLS
    result = RowResult("r", "r", "done", lfw={"accuracy_mean": points / 100, "val_mean": 0.1, "auc": 0.9}, steps=steps)
    result.training = convergence.Verdict(kind, 100)
    return result


def results(**rows) -> dict:
    """Each row of the set: the given runs, else three 'not run' seeds."""
    return {name: rows.get(name, [RowResult(name, name, "not run")] * 3) for name in SET.row_names()}


def claim(*tests: ClaimTest) -> Claim:
    return Claim("c", "A claim.", {"kind": "paper", "reference": "x"}, tests)


def check(row, expect, measure="accuracy", against=None) -> ClaimTest:
    return ClaimTest("regime", row, against, measure, expect)


REFERENCE = [run(86.0), run(86.5), run(87.0)]


def test_a_clear_gap_supports_the_expected_direction_and_contradicts_the_other():
    data = results(momentum_wd_bn_switch=REFERENCE, arcface_m05=[run(71.0), run(72.0), run(72.5)])
    for expect, outcome in (
        ("worse", verdicts.SUPPORTS),
        ("better", verdicts.CONTRADICTS),
        ("not_worse", verdicts.CONTRADICTS),
        ("equivalent", verdicts.CONTRADICTS),
        ("open", verdicts.OPEN),
    ):
        judged = verdicts.judge_set(SET, data, [claim(check("arcface_m05", expect))])
        assert judged.claims[0].outcome == outcome, expect
    evidence = judged.claims[0].tests[0].evidence
    welch = stats.ttest_ind([71.0, 72.0, 72.5], [86.0, 86.5, 87.0], equal_var=False)
    assert evidence.startswith("-14.67 points (95% CI ") and evidence.endswith(": worse")
    assert judged.comparisons[("arcface_m05", "momentum_wd_bn_switch")].welch.p == pytest.approx(welch.pvalue)


def test_a_wide_interval_cannot_tell_and_a_tight_one_inside_the_margin_is_equivalent():
    data = results(
        momentum_wd_bn_switch=REFERENCE,
        adam_bn_switch=[run(80.0), run(88.0), run(93.0)],
        arcface_easy_margin=[run(86.1), run(86.6), run(87.1)],
    )
    judged = verdicts.judge_set(
        SET, data, [claim(check("adam_bn_switch", "better")), claim(check("arcface_easy_margin", "equivalent"))]
    )
    assert [result.outcome for result in judged.claims] == [verdicts.CANNOT_TELL, verdicts.SUPPORTS]


def test_take_off_counts_go_through_fisher():
    three = results(momentum_wd_bn_switch=REFERENCE, arcface_m05=[run(70.0, took_off=False)] * 3)
    judged = verdicts.judge_set(SET, three, [claim(check("arcface_m05", "fewer", "take_off"))])
    assert str(judged.counts[("arcface_m05", "momentum_wd_bn_switch")]) == "0/3 vs 3/3, Fisher p = 0.1"
    assert judged.claims[0].outcome == verdicts.CANNOT_TELL  # 3 seeds a side never reach p < 0.05
    five = dataclasses.replace(SET, seeds=5)
    data = {
        **three,
        "momentum_wd_bn_switch": REFERENCE + [run(86.2), run(86.7)],
        "arcface_m05": [run(70.0, took_off=False)] * 5,
    }
    judged = verdicts.judge_set(
        five, data, [claim(check("arcface_m05", "fewer", "take_off")), claim(check("arcface_m05", "more", "take_off"))]
    )
    assert [result.outcome for result in judged.claims] == [verdicts.SUPPORTS, verdicts.CONTRADICTS]
    assert judged.counts[("arcface_m05", "momentum_wd_bn_switch")].p == pytest.approx(2 / 252)


def test_a_claim_with_tests_that_disagree_or_cannot_tell_says_so():
    data = results(
        momentum_wd_bn_switch=REFERENCE,
        arcface_m05=[run(71.0), run(72.0), run(72.5)],
        adam_bn_switch=[run(95.0), run(95.5), run(96.0)],
        arcface_easy_margin=[run(80.0), run(88.0), run(93.0)],
    )
    mixed = claim(check("arcface_m05", "worse"), check("adam_bn_switch", "worse"))
    part = claim(check("arcface_m05", "worse"), check("arcface_easy_margin", "worse"))
    judged = verdicts.judge_set(SET, data, [mixed, part])
    assert [result.outcome for result in judged.claims] == [verdicts.MIXED, "supports in part"]


def test_claim_pairs_beyond_the_reference_join_the_holm_family_and_rows_of_other_lengths_are_not_compared():
    data = results(
        momentum_wd_bn_switch=REFERENCE,
        arcface_m05=[run(71.0), run(72.0), run(72.5)],
        arcface_easy_margin=[run(80.0), run(81.0), run(81.5)],
        adam_bn_switch=[run(88.0, steps=720)] * 3,
    )
    judged = verdicts.judge_set(
        SET,
        data,
        [
            claim(check("arcface_easy_margin", "better", against="arcface_m05")),
            claim(check("arcface_easy_margin", "more", "take_off", "arcface_m05")),
        ],
    )
    assert set(judged.comparisons) == {
        ("arcface_m05", "momentum_wd_bn_switch"),
        ("arcface_easy_margin", "momentum_wd_bn_switch"),
        ("arcface_easy_margin", "arcface_m05"),
    }  # one pair, not one per measure
    assert judged.not_comparable[("adam_bn_switch", "momentum_wd_bn_switch")] == "not comparable (720 vs 1440 steps)"
    p_values = [judged.comparisons[pair].welch.p for pair in judged.comparisons]
    assert max(judged.comparisons[pair].p_holm for pair in judged.comparisons) == pytest.approx(
        min(1.0, max(p * (3 - rank) for rank, p in enumerate(sorted(p_values)))), rel=1e-9
    )


def test_no_records_and_the_sets_power():
    judged = verdicts.judge_set(SET, results(), [claim(check("arcface_m05", "worse"))])
    assert judged.claims[0].outcome == verdicts.NO_DATA and judged.detectable is None
    data = results(momentum_wd_bn_switch=REFERENCE, arcface_m05=[run(71.0), run(72.0), run(72.5)])
    judged = verdicts.judge_set(SET, data, [])
    # pooled sd: sqrt of the mean of the two seed variances (0.25 and 0.58333)
    assert judged.pooled_sd == pytest.approx(((0.25 + 0.583333333) / 2) ** 0.5, rel=1e-6)
    assert judged.detectable == pytest.approx(3.50 * judged.pooled_sd, rel=0.01)  # 3.50 sd at 3 seeds a side


def test_power_is_also_stated_at_the_most_seeds_a_row_has():
    five = [run(86.0), run(86.5), run(87.0), run(85.5), run(86.2)]
    data = results(momentum_wd_bn_switch=five, arcface_m05=[run(71.0), run(72.0), run(72.5)])
    judged = verdicts.judge_set(SET, data, [])
    # Independent bounds: with equal n and sd, Welch's test is a t test whose df (estimated from the
    # samples) lies between n - 1 and 2n - 2; at df the power at a standardized difference d is the
    # noncentral t's tail beyond the critical value, so the 80%-power d lies between the two df's.
    n = 5

    def d_80(df: int) -> float:
        critical = stats.t.ppf(0.975, df)
        return optimize.brentq(lambda d: stats.nct.sf(critical, df, d * (n / 2) ** 0.5) - 0.8, 0.5, 5.0)

    assert judged.most_seeds == 5
    assert d_80(2 * n - 2) * judged.pooled_sd < judged.detectable_at_most < d_80(n - 1) * judged.pooled_sd
    assert judged.detectable_at_most < judged.detectable  # 5 seeds a row see a smaller gap than 3
    assert f"at 5 seeds a row (the most any row has), {judged.detectable_at_most:.2f} points" in power_line(SET, judged)
    three = verdicts.judge_set(SET, results(momentum_wd_bn_switch=REFERENCE, arcface_m05=five[:3]), [])
    assert three.detectable_at_most is None and "the most any row has" not in power_line(SET, three)


def test_a_reference_whose_seeds_agree_exactly_gives_no_power_at_its_sd():
    # Equal means up to float rounding (as two real seeds had: 0.9131666666666666 and ...668).
    reference = [run(86.0), run(86.0 + 2e-14), run(86.0)]
    data = results(momentum_wd_bn_switch=reference, arcface_m05=[run(71.0), run(72.0), run(72.5)])
    judged = verdicts.judge_set(SET, data, [])
    assert judged.reference_sd < 1e-9 and judged.detectable_at_reference is None
    assert judged.detectable == pytest.approx(3.50 * judged.pooled_sd, rel=0.01)
    assert "reference row's sd" not in power_line(SET, judged)


def test_a_claim_on_a_gap_under_five_points_asks_for_five_seeds_once_both_rows_have_three():
    close = [run(84.0), run(85.0), run(86.0)]  # 2 points below the reference
    far = [run(71.0), run(72.0), run(72.5)]  # 14.67 below
    claims = [claim(check("adam_bn_switch", "better"), check("arcface_m05", "worse"))]
    data = results(momentum_wd_bn_switch=REFERENCE, adam_bn_switch=close, arcface_m05=far)
    judged = verdicts.judge_set(SET, data, claims)
    assert verdicts.rows_wanting_seeds(SET, data, judged) == {"momentum_wd_bn_switch": 3, "adam_bn_switch": 3}
    line = more_seeds_lines(SET, "cpu_long", data, judged)[0]
    assert line.endswith(
        "`python experiments/run.py regime --scale cpu_long --only momentum_wd_bn_switch adam_bn_switch --seeds 5`."
    )
    assert more_seeds_lines(SET, "cpu", data, judged) == []  # early training: still learning
    two_seeds = results(momentum_wd_bn_switch=REFERENCE, adam_bn_switch=close[:2], arcface_m05=far)
    assert verdicts.rows_wanting_seeds(SET, two_seeds, verdicts.judge_set(SET, two_seeds, claims)) == {}
    five = [*REFERENCE, run(86.2), run(86.8)]
    done = results(momentum_wd_bn_switch=five, adam_bn_switch=[*close, run(84.5), run(85.5)], arcface_m05=far)
    assert more_seeds_lines(SET, "cpu_long", done, verdicts.judge_set(SET, done, claims)) == []
