"""Exponential moving average of weights (facenet's setting), used for evaluation and export.

Shadow copies live in a tf.Module so the checkpoint saves and restores them with the model.
Like tf.train.ExponentialMovingAverage with `num_updates`, the effective decay is
`min(decay, (1 + step) / (10 + step))`, so early averages are not dominated by the random init.
"""

from __future__ import annotations

import contextlib

import tensorflow as tf


class WeightAverage(tf.Module):
    """Moving averages of `variables`; `swapped_in()` evaluates with the averages."""

    def __init__(self, variables, decay: float, name: str = "ema"):
        super().__init__(name=name)
        self.decay = float(decay)
        # A tuple inside a lambda is not tracked, so the checkpoint holds the live weights once
        # (under the model) and only the shadows here.
        live = tuple(variables)
        self._live = lambda: live
        self.shadows = [
            tf.Variable(
                tf.convert_to_tensor(v),
                trainable=False,
                name=f"shadow_{i}",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            for i, v in enumerate(self._live())
        ]

    def update(self, step) -> None:
        step = tf.cast(step, tf.float32)
        decay = tf.minimum(self.decay, (1.0 + step) / (10.0 + step))
        for shadow, variable in zip(self.shadows, self._live(), strict=True):
            shadow.assign(decay * shadow + (1.0 - decay) * tf.cast(variable, shadow.dtype))

    @contextlib.contextmanager
    def swapped_in(self):
        """Within the block the variables hold the averages; the live values come back after."""
        backup = [tf.identity(v) for v in self._live()]
        for shadow, variable in zip(self.shadows, self._live(), strict=True):
            variable.assign(shadow)
        try:
            yield
        finally:
            for saved, variable in zip(backup, self._live(), strict=True):
                variable.assign(saved)
