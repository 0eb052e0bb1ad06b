"""Quality gate: pose from landmarks vs hand-worked geometry, blur vs a NumPy Laplacian."""

import math
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from recognition.quality import QualityGate, QualityThresholds, roll_degrees, sharpness, yaw_degrees


@dataclass
class FakeFace:
    box: tuple
    confidence: float
    landmarks: np.ndarray


def frontal_landmarks(nose_shift=0.0):
    """Eyes 40 px apart on a horizontal line, nose `nose_shift` px right of their midpoint."""
    return np.array([[30.0, 50.0], [70.0, 50.0], [50.0 + nose_shift, 70.0], [35.0, 90.0], [65.0, 90.0]])


def rotate(points, degrees, centre=(50.0, 60.0)):
    angle = math.radians(degrees)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return (points - centre) @ rotation.T + centre


def test_frontal_face_has_zero_yaw_and_roll():
    assert yaw_degrees(frontal_landmarks()) == pytest.approx(0.0, abs=1e-9)
    assert roll_degrees(frontal_landmarks()) == pytest.approx(0.0, abs=1e-9)


def test_yaw_is_atan_of_nose_offset_over_half_eye_distance():
    # Nose at a quarter/half/full half-eye-distance (20 px) to the right: atan(0.25), 45, atan(1)...
    assert yaw_degrees(frontal_landmarks(5.0)) == pytest.approx(math.degrees(math.atan(0.25)))
    assert yaw_degrees(frontal_landmarks(20.0)) == pytest.approx(45.0)
    assert yaw_degrees(frontal_landmarks(-20.0)) == pytest.approx(-45.0)


def test_roll_is_eye_line_angle_and_yaw_ignores_roll():
    tilted = rotate(frontal_landmarks(10.0), 30.0)
    assert roll_degrees(tilted) == pytest.approx(30.0)
    assert yaw_degrees(tilted) == pytest.approx(math.degrees(math.atan(0.5)))
    assert roll_degrees(rotate(frontal_landmarks(), -15.0)) == pytest.approx(-15.0)


def test_degenerate_landmarks_count_as_profile():
    points = frontal_landmarks()
    points[1] = points[0]
    assert yaw_degrees(points) == 90.0


def numpy_laplacian_variance(gray):
    """4-neighbour Laplacian with OpenCV's default border (reflect without repeating the edge)."""
    padded = np.pad(gray.astype(np.float64), 1, mode="reflect")
    laplacian = padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:] - 4 * padded[1:-1, 1:-1]
    return laplacian.var()


def test_sharpness_matches_numpy_laplacian_variance():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, size=(112, 96), dtype=np.uint8)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)  # equal channels: grey conversion is exact
    assert sharpness(rgb) == pytest.approx(numpy_laplacian_variance(gray), rel=1e-9)
    assert sharpness(np.full((112, 96, 3), 128, np.uint8)) == 0.0


def test_gate_rejects_blurred_real_photo(data_dir):
    photo = next(iter(sorted((data_dir / "lfw").glob("*/*.jpg"))))
    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)[69:181, 77:173]  # 112x96
    blurred = cv2.GaussianBlur(image, (0, 0), 3.0)
    face = FakeFace((70, 60, 110, 120), 0.99, frontal_landmarks())
    gate = QualityGate(QualityThresholds(min_sharpness=20.0))
    sharp_report, blurred_report = gate.assess(face, image), gate.assess(face, blurred)
    assert sharp_report.passed, sharp_report.reasons
    assert blurred_report.sharpness < sharp_report.sharpness / 5
    assert gate.rejects(blurred_report)
    assert "blur" in blurred_report.reasons[0]


def test_every_failing_check_is_reported_and_flag_mode_keeps_the_face():
    face = FakeFace((0, 0, 15, 40), 0.5, rotate(frontal_landmarks(30.0), 60.0) * 0.2)
    crop = np.full((112, 96, 3), 100, np.uint8)
    thresholds = QualityThresholds(
        min_confidence=0.9, min_eye_distance=10, min_box_size=20, max_yaw=30, max_roll=30, min_sharpness=1
    )
    report = QualityGate(thresholds, "reject").assess(face, crop)
    words = ["confidence", "eye distance", "face box", "yaw", "roll", "blur"]
    assert len(report.reasons) == len(words)
    for word, reason in zip(words, report.reasons, strict=True):
        assert word in reason
    assert not QualityGate(thresholds, "flag").rejects(report)


def test_disabled_checks_and_bad_action():
    face = FakeFace((0, 0, 5, 5), 0.1, frontal_landmarks(40.0))
    off = QualityThresholds(None, None, None, None, None, None)
    assert QualityGate(off).assess(face, np.zeros((112, 96, 3), np.uint8)).passed
    with pytest.raises(ValueError, match="quality action"):
        QualityGate(action="drop")
