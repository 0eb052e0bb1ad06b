"""Did a run train? A verdict on its training curves: converges, stalls, collapses or diverges,
and at which step.

The curves are the loss without the weight-decay term (TensorBoard `train/loss`) and, for the
classification losses, the batch accuracy on the (margin-penalised) logits
(`train/batch_accuracy`), logged every `train.log_every_steps` steps. "Smoothed" is a running
median of SMOOTHING logged points; start = the first logged loss.

- diverges @s: the first logged loss that is not finite or exceeds BLOW_UP x start; a run
  stopped by train.py's non-finite guard diverges at the step it names.
- collapses @s: the loss holds one value over the last COLLAPSE_LOGS or more logged points
  (training/collapse.py, which train.py also reads to warn while the run goes on); s the first
  logged point from which it stays within COLLAPSE_ONSET of that value (a network whose outputs
  shrink towards one value wobbles in the 4th digit until its learning rate drops, then freezes).
- With a batch accuracy: converges @s when the smoothed accuracy reaches TAKE_OFF_ACCURACY, s
  the first step it does; else stalls. A falling loss alone does not count: a margin loss can
  fall a long way (e.g. by shrinking every logit) while the network still tells no identity apart,
  which is how the tables read the article's "fails to fit" (无法拟合).
- Without one (the metric-learning losses): converges when the loss ends (median of the last
  SMOOTHING values) at least MIN_DROP x start below start, s the first step where the smoothed
  loss covers half of that drop. A loss can learn while falling little (the soft-margin triplet
  loss, log(1 + e^(d_ap - d_an)), fell 4% in 720 steps of set 3 while LFW rose 13 points), so
  the in-training LFW checks count too: converges when the last check is at least LFW_RISE above
  the first, s the first check that is; else stalls.
- stalls: with a batch accuracy, "no take-off by s", s the last logged step; without one, "@s"
  where the plateau begins, the last step at which the smoothed loss's running minimum still
  fell by PLATEAU x start or more.

The thresholds are judgement calls written down once here: 5% of a batch right among 1,140
identities is 57 times chance, a loss that grows by half has left the task, and 5 points on a
2-fold check (1,200 pairs, sd of a proportion near 0.75: 1.25 points) is four standard deviations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.collapse import frozen_since

CONVERGES, STALLS, COLLAPSES, DIVERGES = "converges", "stalls", "collapses", "diverges"
SMOOTHING = 5
TAKE_OFF_ACCURACY = 0.05
MIN_DROP = 0.10
BLOW_UP = 1.5
PLATEAU = 0.01
LFW_RISE = 0.05
LAST_QUARTER_GAIN = 0.005
COLLAPSE_ONSET = 1e-3  # relative to the frozen value


@dataclass(frozen=True)
class Verdict:
    kind: str  # converges / stalls / collapses / diverges
    step: int | None  # see the module docstring for what the step means per kind
    drop: float | None = None  # (start - end) / start of the loss
    accuracy: float | None = None  # smoothed batch accuracy at the end
    lfw_rise: float | None = None  # last minus first in-training LFW check (losses without accuracy)

    def __str__(self) -> str:
        text = self.kind if self.step is None else f"{self.kind} @{self.step}"
        if self.kind == STALLS and self.accuracy is not None:
            text = f"{self.kind}, no take-off by {self.step}"
        if self.kind in (DIVERGES, COLLAPSES):
            return text
        facts = [] if self.drop is None else [f"loss {-100 * self.drop:+.0f}%"]
        facts += [] if self.accuracy is None else [f"batch acc {self.accuracy:.2f}"]
        facts += [] if self.lfw_rise is None else [f"LFW check {100 * self.lfw_rise:+.0f} pts"]
        return f"{text} ({', '.join(facts)})" if facts else text


def running_median(values, window: int = SMOOTHING) -> np.ndarray:
    """Median of the last `window` values at each point (fewer at the start)."""
    values = np.asarray(values, dtype=float)
    return np.array([np.median(values[max(0, i - window + 1) : i + 1]) for i in range(len(values))])


def _plateau_start(steps: np.ndarray, smooth_loss: np.ndarray, start: float) -> int:
    best = np.minimum.accumulate(smooth_loss)
    gains = np.flatnonzero(best[:-1] - best[1:] >= PLATEAU * start)
    return int(steps[gains[-1] + 1] if gains.size else steps[0])


def _collapse_onset(steps: np.ndarray, losses: np.ndarray) -> int:
    """The first step of the tail that stays within COLLAPSE_ONSET of the frozen (last) value."""
    near = np.abs(losses - losses[-1]) <= COLLAPSE_ONSET * abs(losses[-1])
    return int(steps[len(steps) - int(np.argmin(near[::-1]))] if not near.all() else steps[0])


def judge(steps, losses, stopped_at: int | None = None, accuracy=None, lfw=None) -> Verdict | None:
    """The verdict on one run, or None when it logged nothing. `stopped_at` is the step train.py
    stopped at on a non-finite loss (the run's STOPPED.json), if it did; `accuracy` the batch accuracy
    logged at the same steps as the loss, or None for losses without logits; `lfw` the in-training
    LFW checks as (steps, accuracies), read only when there is no batch accuracy."""
    if stopped_at is not None:
        return Verdict(DIVERGES, stopped_at)
    if len(losses) == 0:
        return None
    steps, losses = np.asarray(steps), np.asarray(losses, dtype=float)
    start = losses[0]
    bad = ~np.isfinite(losses) | (losses > BLOW_UP * start)
    if bad.any():
        return Verdict(DIVERGES, int(steps[np.argmax(bad)]))
    if frozen_since(steps, losses) is not None:
        return Verdict(COLLAPSES, _collapse_onset(steps, losses))
    smooth = running_median(losses)
    end = float(np.median(losses[-SMOOTHING:]))
    drop = (start - end) / start
    if accuracy is not None and len(accuracy) == len(losses):
        smooth_accuracy = running_median(accuracy)
        final_accuracy = float(smooth_accuracy[-1])
        took_off = smooth_accuracy >= TAKE_OFF_ACCURACY
        if took_off.any():
            return Verdict(CONVERGES, int(steps[np.argmax(took_off)]), drop, final_accuracy)
        return Verdict(STALLS, int(steps[-1]), drop, final_accuracy)
    if drop >= MIN_DROP:
        halfway = start - 0.5 * (start - end)
        return Verdict(CONVERGES, int(steps[np.argmax(smooth <= halfway)]), drop)
    rise = _lfw_rise(lfw)
    if rise is not None and rise[0] >= LFW_RISE:
        return Verdict(CONVERGES, rise[1], drop, lfw_rise=rise[0])
    return Verdict(STALLS, _plateau_start(steps, smooth, start), drop, lfw_rise=None if rise is None else rise[0])


def _lfw_rise(lfw) -> tuple[float, int] | None:
    """(last minus first check, the first step whose check is LFW_RISE above the first), or None
    with fewer than two checks."""
    if lfw is None or len(lfw[1]) < 2:
        return None
    steps, accuracies = np.asarray(lfw[0]), np.asarray(lfw[1], dtype=float)
    risen = accuracies - accuracies[0] >= LFW_RISE
    return float(accuracies[-1] - accuracies[0]), int(steps[np.argmax(risen)])


def in_training_checks(lfw) -> tuple[np.ndarray, np.ndarray]:
    """(steps, accuracies) of the in-training checks: the LFW chart ends with the final View 2
    evaluation at the last check's step, which is left out (another protocol: 10 folds, flips)."""
    steps, accuracies = np.asarray(lfw[0]), np.asarray(lfw[1], dtype=float)
    if len(steps) >= 2 and steps[-1] == steps[-2]:
        steps, accuracies = steps[:-1], accuracies[:-1]
    return steps, accuracies


def last_quarter_gain(lfw) -> float | None:
    """What the in-training check gained over the last quarter of the run: the last check minus
    the last check at or before 3/4 of its step (a fraction, 0.01 = one point); None without a
    check in both places. The converged scale's criterion: under LAST_QUARTER_GAIN on the
    reference row's seeds (experiments/README.md, "Scales")."""
    if lfw is None:
        return None
    steps, accuracies = in_training_checks(lfw)
    if len(steps) < 2:
        return None
    before = np.flatnonzero(steps <= 0.75 * steps[-1])
    if len(before) == 0:
        return None
    return float(accuracies[-1] - accuracies[before[-1]])


def summarise_gains(gains: list[float | None]) -> str:
    """One table cell: each seed's last-quarter gain in points, and how many stayed under the
    criterion, e.g. "+0.34, +0.60 (1/2 under 0.5)"."""
    known = [gain for gain in gains if gain is not None]
    if not known:
        return "-"
    flat = sum(gain < LAST_QUARTER_GAIN for gain in known)
    return (
        ", ".join(f"{100 * gain:+.2f}" for gain in known) + f" ({flat}/{len(known)} under {100 * LAST_QUARTER_GAIN:g})"
    )


def summarise(verdicts: list[Verdict | None]) -> str:
    """One table cell for a row's seeds: the verdict of a single run, else per kind the number
    of seeds and the range of their steps (e.g. "converges @120-160 (3/3)")."""
    judged = [v for v in verdicts if v is not None]
    if len(judged) == 1:
        return str(judged[0])
    parts = []
    for kind in (CONVERGES, STALLS, COLLAPSES, DIVERGES):
        steps = sorted(v.step for v in judged if v.kind == kind)
        if steps:
            where = f"@{steps[0]}" if steps[0] == steps[-1] else f"@{steps[0]}-{steps[-1]}"
            parts.append(f"{kind} {where} ({len(steps)}/{len(verdicts)})")
    return "; ".join(parts) or "-"
