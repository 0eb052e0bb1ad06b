"""The loss base classes: config from the constructor signature, diagnostics reported by the head."""

from __future__ import annotations

import math

import numpy as np
import pytest

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


def test_diagnostics_are_empty_by_default():
    assert _Scaled().diagnostics(np.ones((2, 3), np.float32), np.array([0, 1])) == {}


def _angles_deg(unit, centres):
    cosines = np.sum(unit * centres, axis=-1)
    return float(np.mean(np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))))


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_classification_head_reports_the_angle_to_its_class_weights():
    head = losses.build("am_softmax", num_classes=3, embedding_size=4)
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])
    stats = head.diagnostics(x, labels)
    expected = _angles_deg(_unit(x), _unit(head.kernel.numpy().T)[labels])
    assert set(stats) == {"centre_angle_deg"}
    assert float(stats["centre_angle_deg"]) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("name", ["triplet", "batch_hard", "soft_margin", "contrastive", "margin"])
def test_metric_loss_reports_the_angle_to_the_batch_class_means(name):
    layer = losses.build(name, num_classes=3, embedding_size=4)
    x = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    labels = np.array([2, 2, 0, 0, 5, 5])
    unit = _unit(x)
    centres = {c: _unit(unit[labels == c].mean(0)) for c in set(labels)}
    expected = _angles_deg(unit, np.stack([centres[c] for c in labels]))
    stats = layer.diagnostics(x, labels)
    assert set(stats) == {"centre_angle_deg"}
    assert float(stats["centre_angle_deg"]) == pytest.approx(expected, abs=1e-3)
    assert 0.0 < expected < 90.0 and math.isfinite(expected)
