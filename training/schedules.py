"""Learning-rate schedules: `epoch: lr` files (facenet's format) and piecewise steps, with warm-up.

File format (facenet / the author's repository): one `epoch: lr` per line, `#` starts a comment,
epochs increasing from 0. The rate of a line holds from its epoch until the next line's epoch;
the last line's rate holds until the end of training (facenet's files end with a sentinel such
as `1000: 0.0001`, which this reading handles the same way).
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from common.errors import UserValueError, require_file


class ScheduleError(UserValueError):
    """A schedule file or setting that cannot be used (the message names the file and line)."""


def parse_schedule_file(path: str | Path) -> list[tuple[int, float]]:
    """[(epoch, lr), ...] from an `epoch: lr` file; errors name the file and line."""
    entries: list[tuple[int, float]] = []
    with open(require_file(path, "schedule file")) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                epoch_text, lr_text = text.split(":")
                epoch, lr = int(epoch_text), float(lr_text)
            except ValueError:
                raise ScheduleError(f"{path}:{number}: expected 'epoch: lr', got {line.strip()!r}") from None
            if entries and epoch <= entries[-1][0]:
                raise ScheduleError(f"{path}:{number}: epochs must increase ({epoch} after {entries[-1][0]})")
            if not entries and epoch != 0:
                raise ScheduleError(f"{path}:{number}: the first line must be epoch 0")
            if lr < 0:
                raise ScheduleError(f"{path}:{number}: negative learning rate {lr}")
            entries.append((epoch, lr))
    if not entries:
        raise ScheduleError(f"{path}: no 'epoch: lr' lines")
    return entries


@keras.saving.register_keras_serializable(package="facerec")
class PiecewiseWithWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """values[i] for boundaries[i-1] <= step < boundaries[i]; linear ramp over the first steps.

    During warm-up the rate is `scheduled(step) * (step + 1) / warmup_steps`.
    """

    def __init__(self, boundaries: list[int], values: list[float], warmup_steps: int = 0):
        if len(values) != len(boundaries) + 1:
            raise ScheduleError(f"need len(boundaries) + 1 values, got {len(boundaries)} and {len(values)}")
        if any(b2 <= b1 for b1, b2 in zip(boundaries, boundaries[1:], strict=False)):
            raise ScheduleError(f"boundaries must increase: {boundaries}")
        self.boundaries = [int(b) for b in boundaries]
        self.values = [float(v) for v in values]
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.int64)
        values = tf.constant(self.values, tf.float32)
        index = (
            tf.searchsorted(tf.constant(self.boundaries, tf.int64), step[None], side="right")[0]
            if self.boundaries
            else tf.constant(0, tf.int32)
        )
        lr = tf.gather(values, index)
        if self.warmup_steps > 0:
            ramp = tf.minimum(1.0, tf.cast(step + 1, tf.float32) / float(self.warmup_steps))
            lr = lr * ramp
        return lr

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "warmup_steps": self.warmup_steps}


def from_epoch_file(path: str | Path, steps_per_epoch: int, warmup_steps: int = 0) -> PiecewiseWithWarmup:
    """The schedule of an `epoch: lr` file with `steps_per_epoch` optimizer steps per epoch."""
    if steps_per_epoch <= 0:
        raise ScheduleError(f"{path}: steps_per_epoch must be positive, got {steps_per_epoch}")
    entries = parse_schedule_file(path)
    boundaries = [epoch * steps_per_epoch for epoch, _ in entries[1:]]
    return PiecewiseWithWarmup(boundaries, [lr for _, lr in entries], warmup_steps)


def build_schedule(schedule_config, repo_root: Path | None = None) -> PiecewiseWithWarmup:
    """From `optimizer.schedule` in the config: the file if set, else piecewise steps."""
    if schedule_config.file:
        path = Path(schedule_config.file)
        if not path.is_absolute() and repo_root is not None:
            path = repo_root / path
        return from_epoch_file(path, schedule_config.steps_per_epoch, schedule_config.warmup_steps)
    return PiecewiseWithWarmup(schedule_config.boundaries, schedule_config.values, schedule_config.warmup_steps)
