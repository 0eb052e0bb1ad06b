"""Fail closed: one match rule for verify and identify, NaN never matches, thresholds and quality
limits checked when parsed, non-finite embeddings refused at every entry point."""

from __future__ import annotations

import math
import stat

import numpy as np
import pytest

from common.errors import UserValueError
from recognition.compare import verify_photos
from recognition.decision import check_threshold, is_match, require_finite
from recognition.gallery import UNKNOWN, Gallery, IdentitySearcher, Match, decide
from recognition.photos import FaceResult, PhotoEmbedder, PhotoResult
from recognition.quality import QualityReport
from recognition.thresholds import resolve_threshold, threshold_from_eval_json

NAN = float("nan")


@pytest.mark.parametrize(
    "score, threshold, expected",
    [
        (0.5, 0.5, True),
        (0.6, 0.5, True),
        (0.4, 0.5, False),
        (NAN, 0.5, False),
        (0.5, NAN, False),
        (NAN, NAN, False),
        (math.inf, 0.5, False),
    ],
)
def test_is_match_is_score_at_least_threshold_and_never_nan(score, threshold, expected):
    assert is_match(score, threshold) is expected


@pytest.mark.parametrize("threshold", [0.99, NAN])
def test_identify_and_verify_agree_a_nan_or_strict_threshold_never_identifies(threshold):
    """The probe: a stranger at 0.7956 was 'unknown' at 0.99 but identified at NaN (score <
    threshold is False for NaN). Now both tools answer no."""
    assert decide([Match("07201", 0.7956)], threshold) == UNKNOWN
    face = _face(np.array([1.0, 0.0]))
    other = _face(np.array([0.7956, math.sqrt(1 - 0.7956**2)]))
    verdict = verify_photos(PhotoResult("a.jpg", [face]), PhotoResult("b.jpg", [other]), threshold)
    assert verdict.same is False


def test_decide_identifies_at_the_threshold():
    assert decide([Match("amy", 0.5)], 0.5) == "amy"


@pytest.mark.parametrize("value", [NAN, math.inf, 1.5, -1.01])
def test_threshold_outside_cosine_range_is_refused(value):
    with pytest.raises(UserValueError, match="not a cosine similarity"):
        check_threshold(value, "--threshold")
    with pytest.raises(UserValueError):
        resolve_threshold(value, None)


@pytest.mark.parametrize("folds", [[NAN, 0.3], [5.0, 6.0]])
def test_eval_json_thresholds_must_be_finite_cosines(folds, tmp_path):
    report = tmp_path / "eval.json"
    values = ", ".join("NaN" if math.isnan(v) else str(v) for v in folds)
    report.write_text(f'{{"fold_thresholds": [{values}], "similarity": "cosine"}}')
    with pytest.raises(UserValueError):
        threshold_from_eval_json(report)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--threshold", "nan"], "a cosine similarity in [-1, 1]"),
        (["--threshold", "2"], "a cosine similarity in [-1, 1]"),
        (["--threshold", "0.3", "--min-confidence", "nan"], "in [0, 1]"),
        (["--threshold", "0.3", "--max-yaw", "-5"], "in [0, 90]"),
        (["--threshold", "0.3", "--min-sharpness", "inf"], "finite"),
        (["--threshold", "0.3", "--min-eye-distance", "nan"], "in [0, inf]"),
    ],
)
def test_verify_parser_refuses_nan_and_out_of_range_values(argv, message, capsys):
    import verify

    with pytest.raises(SystemExit) as exit_info:
        verify.build_parser().parse_args(["a.jpg", "b.jpg", "--model", "m", *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_quality_limit_off_still_disables_a_check():
    import verify

    args = verify.build_parser().parse_args(
        ["a.jpg", "b.jpg", "--model", "m", "--threshold", "0.3", "--max-yaw", "off"]
    )
    assert args.max_yaw is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["search", "p.jpg", "--top-k", "0"], "at least 1"),
        (["search", "p.jpg", "--hnsw-neighbours", "0"], "at least 2"),
        (["search", "p.jpg", "--hnsw-ef-search", "-3"], "at least 1"),
        (["search", "p.jpg", "--threshold", "nan"], "cosine similarity"),
        (["search", "p.jpg", "--min-confidence", "nan"], "in [0, 1]"),
        (["enroll", "--out", "o.npz", "--max-photos", "0"], "at least 1"),
    ],
)
def test_identify_parser_refuses_out_of_range_values(argv, message, capsys):
    import identify

    command, *rest = argv
    base = [command, *rest, "--gallery", "g", "--model", "m"] + (
        ["--threshold", "0.3"] if command == "search" and "--threshold" not in rest else []
    )
    with pytest.raises(SystemExit) as exit_info:
        identify.build_parser().parse_args(base)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_search_needs_an_explicit_model(capsys):
    import identify

    with pytest.raises(SystemExit):
        identify.build_parser().parse_args(["search", "p.jpg", "--gallery", "g", "--threshold", "0.3"])
    assert "--model" in capsys.readouterr().err


def test_a_nan_gallery_is_refused_when_built_and_when_loaded(tmp_path):
    with pytest.raises(UserValueError, match="NaN"):
        Gallery(np.full((2, 4), NAN), [0, 1], ["a", "b"], ["x", "y"])
    path = tmp_path / "nan.npz"
    np.savez(
        path,
        embeddings=np.full((1, 4), NAN, np.float32),
        labels=np.array([0]),
        identities=np.array(["a"]),
        sources=np.array(["x"]),
        meta=np.array("{}"),
    )
    with pytest.raises(UserValueError, match="NaN"):
        Gallery.load(path)


def test_a_nan_query_is_an_error_not_an_identity():
    gallery = Gallery(np.eye(3, dtype=np.float32), [0, 1, 2], ["a", "b", "c"], ["", "", ""])
    for kind in ("brute", "hnsw"):
        with pytest.raises(UserValueError, match="NaN"):
            IdentitySearcher(gallery, kind).search(np.full((1, 3), NAN), 1)


def test_a_model_that_outputs_nan_is_an_error():
    class Broken:
        image_size = (4, 4)
        path = "broken_model"

        def __call__(self, pixels):
            return np.full((len(pixels), 3), NAN, np.float32)

    for flip in ("none", "concat"):
        embedder = PhotoEmbedder(Broken(), detector=None, flip=flip)
        with pytest.raises(UserValueError, match="broken_model.*NaN"):
            embedder.embed_crops(np.zeros((1, 4, 4, 3), np.uint8))


def test_require_finite_passes_finite_vectors_through():
    vectors = np.ones((2, 3))
    assert require_finite(vectors, "x") is not None


def _face(feature):
    report = QualityReport(0.99, 30.0, 60.0, 0.0, 0.0, 100.0)
    return FaceResult(face=None, quality=report, feature=np.asarray(feature, np.float32))


def test_gallery_is_private_and_a_failed_save_keeps_the_old_one(tmp_path, monkeypatch):
    gallery = Gallery(np.eye(2, dtype=np.float32), [0, 1], ["a", "b"], ["a/1.jpg", "b/1.jpg"])
    path = tmp_path / "new_dir" / "g.npz"
    gallery.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError, match="disk full"):
        gallery.save(path, overwrite=True)
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == ["g.npz"]


def test_a_truncated_gallery_is_one_line(tmp_path):
    path = tmp_path / "g.npz"
    Gallery(np.eye(2, dtype=np.float32), [0, 1], ["a", "b"], ["", ""]).save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(UserValueError, match="not a gallery"):
        Gallery.load(path)
