"""The run's training time, kept in its checkpoints: a resumed or extended run is timed over all its
sessions, not only the last command."""

from __future__ import annotations

import time

import tensorflow as tf

CLOCK_NAME = "clock"  # its name among the objects a checkpoint tracks
CLOCK_KEY = f"{CLOCK_NAME}/seconds/.ATTRIBUTES/VARIABLE_VALUE"  # the clock's name in a checkpoint file
UNKNOWN_TIME = -1.0  # the time before a resume from a checkpoint written before the clock existed


class TrainClock(tf.Module):
    """Seconds of training so far, over every session of the run. Time between the last checkpoint
    and a kill is lost, and the steps redone after the resume are counted instead."""

    def __init__(self):
        super().__init__(name="train_clock")
        self.seconds = tf.Variable(
            0.0,
            dtype=tf.float64,
            trainable=False,
            name="seconds",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )
        self._before = 0.0
        self._started = time.time()

    def start(self) -> None:
        """Start this session's count on top of what the (restored) checkpoint holds."""
        self._before = float(self.seconds.numpy())
        self._started = time.time()

    def session_seconds(self) -> float:
        return time.time() - self._started

    def total_seconds(self) -> float | None:
        """All sessions together; None when a session before this one was not timed."""
        return None if self._before < 0 else self._before + self.session_seconds()

    def record(self) -> None:
        """Write the total into the variable, before a checkpoint is saved."""
        total = self.total_seconds()
        self.seconds.assign(UNKNOWN_TIME if total is None else total)


def checkpoint_has_clock(path: str) -> bool:
    """Whether the checkpoint at `path` holds a clock (checkpoints of older runs do not)."""
    return tf.train.load_checkpoint(path).has_tensor(CLOCK_KEY)
