"""The converges / stalls / collapses / diverges verdict on hand-made loss curves (experiments/convergence.py)."""

import math

import numpy as np
import pytest

from experiments import convergence
from experiments.convergence import COLLAPSES, CONVERGES, DIVERGES, STALLS, Verdict, judge, summarise

STEPS = list(range(20, 420, 20))  # 20 logged points


def plateau(value: float, length: int) -> np.ndarray:
    """A flat stretch of loss as real batches log it: wobbling around `value`, whose running median
    of 5 it keeps exactly (any 5 consecutive points of 0, +1, 0, -1 have median 0). A loss logged
    at one value throughout is a collapse, not a plateau."""
    return value + 0.001 * np.resize([0.0, 1.0, 0.0, -1.0], length)


def test_falling_curve_converges_at_the_step_of_half_its_drop():
    # 20 -> 10 linearly over 20 points: start 20, end = median of the last 5 points = 11.05
    losses = np.linspace(20.0, 10.0, 20)
    verdict = judge(STEPS, losses)
    end = np.median(losses[-5:])
    halfway = 20.0 - 0.5 * (20.0 - end)  # 15.53
    smooth = convergence.running_median(losses)
    expected_step = STEPS[int(np.argmax(smooth <= halfway))]
    assert verdict.kind == CONVERGES
    assert verdict.step == expected_step
    # smoothed value at index i is losses[i-2] (median of a falling window of 5): first <= 15.53
    # at i - 2 = 9 (losses[9] = 15.26), so step 20 * 12 = 240
    assert expected_step == 240
    assert verdict.drop == pytest.approx((20.0 - end) / 20.0)


def test_flat_curve_stalls_from_the_last_real_improvement():
    # Falls 20 -> 19 in the first 5 points (a 5% drop), then flat: less than the 10% needed.
    losses = np.r_[np.linspace(20.0, 19.0, 5), plateau(19.0, 15)]
    verdict = judge(STEPS, losses)
    assert verdict.kind == STALLS
    # smoothed (running median of 5): 20, 19.875, 19.75, 19.625, 19.5, 19.25, 19.001, 19.0, ...
    # falls of >= 0.2 (1% of 20) only into index 5 (step 120) and index 6 (step 140): the last
    # real improvement is at step 140.
    assert verdict.step == 140
    assert verdict.drop == pytest.approx(0.05)


def test_nan_in_the_curve_diverges_at_its_step():
    losses = [20.0, 18.0, 17.0, math.nan, 16.0]
    assert judge([10, 20, 30, 40, 50], losses) == Verdict(DIVERGES, 40)


def test_loss_blowing_up_without_nan_diverges():
    losses = [20.0, 25.0, 29.0, 31.0, 40.0]  # 31 > 1.5 * 20
    assert judge([10, 20, 30, 40, 50], losses).kind == DIVERGES
    assert judge([10, 20, 30, 40, 50], losses).step == 40


def test_train_py_non_finite_stop_wins_over_the_curve():
    assert judge([20], [20.0], stopped_at=37) == Verdict(DIVERGES, 37)


def test_no_curve_no_verdict():
    assert judge([], []) is None


def test_with_a_batch_accuracy_a_falling_loss_alone_is_a_stall():
    # The loss falls by 27% but the batch accuracy never leaves ~0: the network tells no identity
    # apart (AM-softmax can lower its loss by shrinking every logit).
    losses = np.linspace(24.0, 16.8, 20)
    flat_accuracy = np.full(20, 0.002)
    verdict = judge(STEPS, losses, accuracy=flat_accuracy)
    assert (verdict.kind, verdict.step) == (STALLS, STEPS[-1])
    assert verdict.accuracy == pytest.approx(0.002)
    # loss end = median of the last 5 points = 24 - 7.2 * 17 / 19 = 17.56: -27%
    assert str(verdict) == f"stalls, no take-off by {STEPS[-1]} (loss -27%, batch acc 0.00)"
    assert judge(STEPS, losses).kind == CONVERGES  # the same loss without an accuracy curve


def test_with_a_batch_accuracy_converges_where_the_smoothed_accuracy_reaches_five_percent():
    accuracy = np.r_[np.zeros(8), np.linspace(0.02, 0.5, 12)]  # index 8: 0.02, 9: 0.0636, ...
    losses = np.linspace(20.0, 12.0, 20)
    verdict = judge(STEPS, losses, accuracy=accuracy)
    # running median of 5 at index i >= 4 is the middle value accuracy[i - 2] (rising curve):
    # first >= 0.05 at i - 2 = 9, i = 11 -> step 240
    assert (verdict.kind, verdict.step) == (CONVERGES, 240)
    assert verdict.accuracy == pytest.approx(accuracy[-3])
    assert str(verdict) == f"converges @240 (loss -{100 * verdict.drop:.0f}%, batch acc {accuracy[-3]:.2f})"


def test_summary_of_seeds_merges_kinds_and_step_ranges():
    verdicts = [Verdict(CONVERGES, 120, 0.4), Verdict(CONVERGES, 160, 0.5), Verdict(DIVERGES, 30)]
    assert summarise(verdicts) == "converges @120-160 (2/3); diverges @30 (1/3)"
    assert summarise([Verdict(STALLS, 40, 0.02)]) == "stalls @40 (loss -2%)"
    assert summarise([None]) == "-"


def test_without_a_batch_accuracy_a_rising_lfw_check_is_convergence_though_the_loss_falls_little():
    # A bounded loss falling 5% (below MIN_DROP) while the in-training LFW checks rise 0.69 -> 0.82
    # (set 3's soft-margin seed 0): the first check 5 points above the first one is 0.7408 at 270.
    losses = np.r_[np.linspace(0.82, 0.779, 5), plateau(0.779, 15)]
    lfw = ([90, 180, 270, 360, 450, 540, 630, 720], [0.6875, 0.6983, 0.7408, 0.7542, 0.7625, 0.7958, 0.8125, 0.82])
    verdict = judge(STEPS, losses, lfw=lfw)
    assert (verdict.kind, verdict.step) == (CONVERGES, 270)
    assert verdict.lfw_rise == pytest.approx(0.82 - 0.6875)
    assert str(verdict) == "converges @270 (loss -5%, LFW check +13 pts)"
    assert judge(STEPS, losses).kind == STALLS  # the same loss without the checks


def test_without_a_batch_accuracy_lfw_checks_that_end_less_than_five_points_up_are_a_stall():
    losses = plateau(0.8, 20)
    # Up 6 points in the middle, back to +4.9 at the end: the rule reads the last check.
    verdict = judge(STEPS, losses, lfw=([100, 200, 300], [0.60, 0.66, 0.649]))
    assert verdict.kind == STALLS and verdict.lfw_rise == pytest.approx(0.049)
    assert judge(STEPS, losses, lfw=([100], [0.9])).lfw_rise is None  # one check: no rise to read


def test_the_lfw_checks_do_not_overrule_the_batch_accuracy():
    losses = np.linspace(24.0, 16.8, 20)
    lfw = ([100, 200], [0.55, 0.70])
    verdict = judge(STEPS, losses, accuracy=np.full(20, 0.002), lfw=lfw)
    assert verdict.kind == STALLS and verdict.lfw_rise is None


def test_a_loss_frozen_at_the_all_cosines_zero_value_collapses_where_it_froze():
    # The all-cosines-zero AM-softmax loss over 1,119 classes, worked in tests/test_train_collapse.py
    # (regime set, no BN, seed 1, from step 250).
    frozen = 17.5193
    losses = np.r_[np.linspace(22.0, 18.7, 8), np.full(12, frozen)]
    accuracy = np.r_[np.zeros(8), np.full(12, 1 / 64)]  # a tie broken the same way, one face in 64
    verdict = judge(STEPS, losses, accuracy=accuracy)
    assert verdict == Verdict(COLLAPSES, STEPS[8])
    assert str(verdict) == f"collapses @{STEPS[8]}"


def test_a_collapse_dates_from_where_the_loss_came_within_a_thousandth_of_its_frozen_value():
    # set 2's SphereFace m = 4 at cpu_long, seed 0: near ln(1140) in the 4th digit from step 2000,
    # frozen only once the learning rate dropped to 1e-5.
    frozen = 7.0202
    wobble = frozen + 6e-4 * (-1.0) ** np.arange(6)  # within 1e-3 relative (7.0e-3)
    losses = np.r_[np.linspace(7.6, 7.1, 4), wobble, np.full(10, frozen)]
    assert judge(STEPS, losses, accuracy=np.zeros(20)) == Verdict(COLLAPSES, STEPS[4])
    drifting = np.r_[np.linspace(7.6, 7.1, 4), frozen + 0.01 * (-1.0) ** np.arange(6), np.full(10, frozen)]
    assert judge(STEPS, drifting, accuracy=np.zeros(20)) == Verdict(COLLAPSES, STEPS[10])


def test_a_constant_stretch_shorter_than_ten_logs_or_at_zero_is_not_a_collapse():
    # The rule itself: tests/test_train_collapse.py; here, what the verdict makes of its answer.
    nine_frozen = np.r_[np.linspace(22.0, 18.7, 11), np.full(9, 17.5193)]
    assert judge(STEPS, nine_frozen, accuracy=np.zeros(20)).kind == STALLS
    # Frozen for twelve logs but then moving again: the run is not dead at its end.
    thawed = np.r_[np.full(12, 17.5193), np.linspace(17.0, 12.0, 8)]
    assert judge(STEPS, thawed, accuracy=np.zeros(20)).kind == STALLS
    # A metric loss at exactly 0 over the last logs has solved its batches: the loss fell 100%.
    solved = np.r_[np.linspace(0.5, 0.1, 8), np.zeros(12)]
    assert judge(STEPS, solved).kind == CONVERGES


def test_summary_counts_collapsed_seeds_apart_from_stalled_ones():
    verdicts = [Verdict(STALLS, 1440, 0.3, 0.0), Verdict(COLLAPSES, 250), Verdict(CONVERGES, 1260, 0.5, 0.06)]
    assert summarise(verdicts) == "converges @1260 (1/3); stalls @1440 (1/3); collapses @250 (1/3)"


def test_last_quarter_gain_reads_the_checks_not_the_final_evaluation():
    # Checks every 360 steps of a 4,320-step run, then the final View 2 evaluation at 4,320.
    steps = [360 * k for k in range(1, 13)] + [4320]
    checks = [0.60, 0.70, 0.75, 0.80, 0.83, 0.85, 0.87, 0.88, 0.9054, 0.9075, 0.9050, 0.9088, 0.9132]
    # 3/4 of 4,320 is 3,240, the 9th check: 0.9088 - 0.9054.
    assert convergence.last_quarter_gain((steps, checks)) == pytest.approx(0.0034)
    assert convergence.last_quarter_gain((steps[:-1], checks[:-1])) == pytest.approx(0.0034)
    assert convergence.last_quarter_gain(([4320, 4320], [0.9, 0.91])) is None
    assert convergence.last_quarter_gain(None) is None
    # Without a check at or before 3/4 of the run there is nothing to compare with.
    assert convergence.last_quarter_gain(([3600, 4320], [0.8, 0.9])) is None


def test_gains_are_summarised_per_seed_with_the_count_under_half_a_point():
    assert convergence.summarise_gains([0.0034, 0.006, None]) == "+0.34, +0.60 (1/2 under 0.5)"
    assert convergence.summarise_gains([None]) == "-"
