"""Warp quality on real LFW photos: re-detecting on the aligned crop finds the landmarks close to
the template, and batched detection agrees with one-at-a-time detection."""

import numpy as np
import pytest

from align.detector import FaceDetector
from align.image_io import load_rgb
from align.pipeline import DETECTED, align_image, align_images
from align.templates import template

NUM_PEOPLE = 12


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


@pytest.fixture(scope="module")
def lfw_images(data_dir):
    people = sorted((data_dir / "lfw").iterdir())[::400][:NUM_PEOPLE]
    return [load_rgb(sorted(person.iterdir())[0]) for person in people]


@pytest.mark.parametrize("image_size", [(112, 96), (112, 112)])
def test_redetected_landmarks_land_on_template(detector, lfw_images, image_size):
    errors = []
    for image in lfw_images:
        result = align_image(image, detector, image_size)
        assert result.status == DETECTED and result.crop.shape == image_size + (3,)
        faces = detector.detect(result.crop)
        assert faces, "no face found again in the aligned crop"
        best = max(faces, key=lambda face: face.confidence)
        errors.append(np.linalg.norm(best.landmarks - template(image_size), axis=1))
    errors = np.concatenate(errors)
    assert np.median(errors) < 3.0, f"median landmark error {np.median(errors):.2f} px"
    assert np.percentile(errors, 90) < 6.0


def test_batched_detection_matches_single_images(detector, lfw_images):
    """Same faces either way. Batched convolutions round differently, which can flip a borderline
    candidate-box decision inside MTCNN (measured: 1 of these 12 photos moves by ~1.3 px), so
    most must agree exactly and all within 2 px."""
    batched = align_images(lfw_images, detector)
    differences = []
    for image, result in zip(lfw_images, batched, strict=True):
        single = align_image(image, detector)
        assert result.status == single.status and result.num_faces == single.num_faces
        differences.append(np.abs(result.face.landmarks - single.face.landmarks).max())
    differences = np.array(differences)
    assert (differences < 0.05).sum() >= len(lfw_images) - 2, differences
    assert differences.max() < 2.0, differences


def test_mixed_sizes_in_one_batch_keep_their_own_coordinates(detector, lfw_images):
    """Different-size photos share a padded batch; a faceless one first must not shift the
    others' landmarks (mtcnn's own un-padding would)."""
    blank = np.full((240, 250, 3), 128, np.uint8)
    face_crop = lfw_images[0][10:240, :]  # 230 x 250, same size bucket as the blank
    faces_blank, faces_crop = detector.detect_batch([blank, face_crop])
    assert faces_blank == []
    single = detector.detect(face_crop)
    assert len(faces_crop) == len(single) >= 1
    best_batched = max(faces_crop, key=lambda face: face.confidence)
    best_single = max(single, key=lambda face: face.confidence)
    np.testing.assert_allclose(best_batched.landmarks, best_single.landmarks, atol=2.0)


def test_traced_stages_match_the_packages_eager_detector(detector, lfw_images):
    """FaceDetector runs mtcnn's models as traced graphs for speed; the plain package (eager
    models) must find the same faces and landmarks on the same photos."""
    import tensorflow as tf
    from mtcnn import MTCNN

    assert all(isinstance(stage._model, tf.types.experimental.PolymorphicFunction) for stage in detector._mtcnn.stages)
    eager = MTCNN(device="CPU:0")
    for image in lfw_images[:4]:
        ours = detector.detect(image)
        theirs = eager.detect_faces(image, threshold_onet=0.7)
        assert len(ours) == len(theirs)
        for face, reference in zip(
            sorted(ours, key=lambda f: -f.confidence), sorted(theirs, key=lambda f: -f["confidence"]), strict=True
        ):
            points = np.array(
                [reference["keypoints"][k] for k in ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")],
                float,
            )
            np.testing.assert_allclose(face.landmarks, points, atol=0.5)
            assert face.confidence == pytest.approx(reference["confidence"], abs=1e-4)
