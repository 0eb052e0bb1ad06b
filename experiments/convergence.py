"""Did a run train? A verdict on its training-loss curve: converges, stalls or diverges, and at
which step.

The curve is the loss without the weight-decay term (TensorBoard `train/loss`), logged every
`train.log_every_steps` steps. With start = the first logged value and end = the median of the
last SMOOTHING values (the smoothed curve: a running median of SMOOTHING points):

- diverges at step s: the first logged loss that is not finite, or that exceeds
  BLOW_UP x start; a run stopped by train.py's non-finite guard diverges at the step it names;
- converges: end is at least MIN_DROP x start below start; s = the first step where the smoothed
  curve covers half of the total drop (start - end);
- stalls: the loss ends less than MIN_DROP x start below start; s = the last step at which the
  smoothed curve's running minimum still fell by PLATEAU x start or more (the plateau begins).

The thresholds are judgement calls written down once here: a classification loss over 1,140
identities that falls by less than a tenth of its start value in hundreds of steps has not
learnt the task, and one that grows by half has left it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

CONVERGES, STALLS, DIVERGES = "converges", "stalls", "diverges"
SMOOTHING = 5
MIN_DROP = 0.10
BLOW_UP = 1.5
PLATEAU = 0.01
NONFINITE_STEP = re.compile(r"non-finite loss \(NaN/Inf\) at step (\d+)")


@dataclass(frozen=True)
class Verdict:
    kind: str          # converges / stalls / diverges
    step: int | None   # see the module docstring for what the step means per kind
    drop: float | None = None   # (start - end) / start

    def __str__(self) -> str:
        text = self.kind if self.step is None else f"{self.kind} @{self.step}"
        if self.drop is not None and self.kind != DIVERGES:
            text += f" ({-100 * self.drop:+.0f}% loss)"
        return text


def running_median(values: np.ndarray, window: int = SMOOTHING) -> np.ndarray:
    """Median of the last `window` values at each point (fewer at the start)."""
    return np.array([np.median(values[max(0, i - window + 1):i + 1]) for i in range(len(values))])


def judge(steps, losses, stop_message: str = "") -> Verdict | None:
    """The verdict on one run's loss curve, or None when it logged nothing. `stop_message` is the
    line train.py logged when it stopped early (e.g. its non-finite-loss error)."""
    stopped = NONFINITE_STEP.search(stop_message)
    if stopped:
        return Verdict(DIVERGES, int(stopped.group(1)))
    if len(losses) == 0:
        return None
    steps, losses = np.asarray(steps), np.asarray(losses, dtype=float)
    start = losses[0]
    bad = ~np.isfinite(losses) | (losses > BLOW_UP * start)
    if bad.any():
        return Verdict(DIVERGES, int(steps[np.argmax(bad)]))
    smooth = running_median(losses)
    end = float(np.median(losses[-SMOOTHING:]))
    drop = (start - end) / start
    if drop >= MIN_DROP:
        halfway = start - 0.5 * (start - end)
        return Verdict(CONVERGES, int(steps[np.argmax(smooth <= halfway)]), drop)
    best = np.minimum.accumulate(smooth)
    gains = np.flatnonzero(best[:-1] - best[1:] >= PLATEAU * start)
    return Verdict(STALLS, int(steps[gains[-1] + 1] if gains.size else steps[0]), drop)


def summarise(verdicts: list[Verdict | None]) -> str:
    """One table cell for a row's seeds: the verdict of a single run, else per kind the number
    of seeds and the range of their steps (e.g. "converges @120-160 (3/3)")."""
    judged = [v for v in verdicts if v is not None]
    if len(judged) == 1:
        return str(judged[0])
    parts = []
    for kind in (CONVERGES, STALLS, DIVERGES):
        steps = sorted(v.step for v in judged if v.kind == kind)
        if steps:
            where = f"@{steps[0]}" if steps[0] == steps[-1] else f"@{steps[0]}-{steps[-1]}"
            parts.append(f"{kind} {where} ({len(steps)}/{len(verdicts)})")
    return "; ".join(parts) or "-"
