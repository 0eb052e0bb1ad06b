"""Umeyama similarity: exact recovery, least-squares optimality, no reflections, bad inputs."""

import numpy as np
import pytest

from align.transform import apply_transform, similarity_transform


def make_similarity(scale, angle, tx, ty):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[scale * c, -scale * s, tx], [scale * s, scale * c, ty]])


@pytest.mark.parametrize(
    "scale,angle,tx,ty",
    [(1.0, 0.0, 0.0, 0.0), (0.37, 0.3, -12.5, 40.0), (2.5, -2.9, 100.0, -3.0), (1e-2, np.pi, 5.0, 5.0)],
)
def test_recovers_known_similarity_exactly(scale, angle, tx, ty):
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 250, size=(5, 2))
    truth = make_similarity(scale, angle, tx, ty)
    recovered = similarity_transform(src, apply_transform(truth, src))
    np.testing.assert_allclose(recovered, truth, atol=1e-6)


def linear_least_squares_similarity(src, dst):
    """Independent reference: x' = a x - b y + tx, y' = b x + a y + ty is linear in (a, b, tx, ty)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, -y, 1, 0])
        rhs.append(u)
        rows.append([y, x, 0, 1])
        rhs.append(v)
    a, b, tx, ty = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    return np.array([[a, -b, tx], [b, a, ty]])


def test_noisy_points_match_linear_least_squares_reference():
    rng = np.random.default_rng(1)
    src = rng.uniform(50, 200, size=(5, 2))
    dst = apply_transform(make_similarity(0.6, 0.4, -30, 12), src) + rng.normal(0, 2.0, size=(5, 2))
    np.testing.assert_allclose(similarity_transform(src, dst), linear_least_squares_similarity(src, dst), atol=1e-9)


def test_mirrored_points_give_a_rotation_not_a_reflection():
    rng = np.random.default_rng(2)
    src = rng.uniform(0, 100, size=(5, 2))
    mirrored = src * np.array([-1.0, 1.0])
    matrix = similarity_transform(src, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0


@pytest.mark.parametrize(
    "src,dst,message",
    [
        (np.zeros((5, 2)), np.ones((5, 2)), "identical"),
        (np.ones((5, 2)), np.ones((4, 2)), "equal shape"),
        (np.ones((5, 3)), np.ones((5, 3)), "equal shape"),
        (np.full((5, 2), np.nan), np.ones((5, 2)), "NaN"),
    ],
)
def test_bad_points_raise_clear_errors(src, dst, message):
    with pytest.raises(ValueError, match=message):
        similarity_transform(src, dst)
