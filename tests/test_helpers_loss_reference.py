"""The NumPy loss references of tests/helpers/loss_reference.py on hand-worked values."""

from __future__ import annotations

import math

import numpy as np

from tests.helpers.loss_reference import arcface_target, cross_entropy, sphereface_lambda, sphereface_psi


def test_reference_psi_is_continuous_and_hits_hand_values():
    assert sphereface_psi(0.0, 4) == 1.0
    assert math.isclose(sphereface_psi(math.pi / 3, 4), 0.5 - 2)  # k = 1: -cos(240 deg) - 2
    assert math.isclose(sphereface_psi(math.pi, 4), -7.0)  # k = 3: -cos(4 pi) - 6
    for k in range(1, 4):  # continuous at every interval boundary k pi / m
        edge = k * math.pi / 4
        assert math.isclose(sphereface_psi(edge - 1e-9, 4), sphereface_psi(edge + 1e-9, 4), abs_tol=1e-6)


def test_reference_arcface_and_lambda_hand_values():
    assert math.isclose(arcface_target(math.pi / 3, 0.5), math.cos(math.pi / 3 + 0.5))
    assert math.isclose(arcface_target(math.pi, 0.5), -1 - 0.5 * math.sin(0.5))
    assert math.isclose(arcface_target(2.0, 0.5, easy_margin=True), math.cos(2.0))
    assert sphereface_lambda(0) == 1000.0
    assert math.isclose(sphereface_lambda(10), 1000 / 2.2)
    assert sphereface_lambda(10**6) == 5.0


def test_reference_cross_entropy_hand_value():
    assert math.isclose(cross_entropy(np.array([[0.0, 0.0]]), np.array([1])), math.log(2))
