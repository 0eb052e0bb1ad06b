"""The loss base classes: config from the constructor signature."""
from __future__ import annotations

import losses
from losses.base import LossLayer


class _Scaled(LossLayer):
    """A loss written as the recipe says: hyperparameters are constructor arguments, nothing else."""

    def __init__(self, factor: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)

    def compute(self, embeddings, labels, step, training):
        return {"loss": self.factor * (embeddings[0, 0] * 0.0 + 1.0)}


def test_get_config_follows_the_constructor_signature():
    layer = _Scaled(factor=3.0)
    assert layer.get_config()["factor"] == 3.0
    assert _Scaled.from_config(layer.get_config()).factor == 3.0


def test_no_loss_keeps_a_hand_written_hparam_list():
    assert not any(hasattr(cls, "hparam_names") for cls in (LossLayer, *[e.cls for e in losses.LOSSES.values()]))
