"""verify.py end to end on real LFW photos, against the evaluation's own alignment and scoring."""

import json

import numpy as np
import pytest

from tests.helpers.recognition import run_cli


def eval_style_similarity(model_dir, photos):
    """Score as eval_lfw.py would: align/ pipeline crops, verification embedding and protocol."""
    from align.detector import FaceDetector
    from align.image_io import load_rgb
    from align.pipeline import DETECTED, align_image
    from models import load_embedder
    from verification import embedding, protocol

    embedder = load_embedder(model_dir)
    detector = FaceDetector()
    crops = []
    for photo in photos:
        result = align_image(load_rgb(photo), detector, embedder.image_size)
        assert result.status == DETECTED
        crops.append(result.crop)
    plain, flipped = embedding.embed_array(embedder, np.stack(crops), with_flip=True)
    features = protocol.combine_flip(plain, flipped, "concat")
    return float(protocol.pair_scores(features[:1], features[1:])[0])


@pytest.mark.integration
def test_verify_pair_matches_evaluation_score_and_fold_threshold(data_dir, tiny_model, tmp_path):
    photos = [
        data_dir / "lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg",
        data_dir / "lfw/Aaron_Peirsol/Aaron_Peirsol_0002.jpg",
    ]
    eval_json = tmp_path / "eval.json"
    eval_json.write_text(
        json.dumps(dict(fold_thresholds=[0.2, 0.3, 0.4], flip="concat", similarity="cosine", subtract_mean=False))
    )
    run = run_cli("verify.py", *photos, "--model", tiny_model, "--threshold-from", eval_json, "--json")
    assert run.returncode == 0, run.stderr
    verdict = json.loads(run.stdout)
    assert verdict["threshold"] == pytest.approx(0.3)
    assert verdict["same"] == (verdict["similarity"] >= 0.3)
    assert verdict["similarity"] == pytest.approx(eval_style_similarity(tiny_model, photos), abs=1e-4)
    for photo in verdict["photos"]:
        assert photo["error"] is None and photo["faces"][0]["status"] == "ok"
        assert photo["faces"][0]["quality"]["eye_distance"] > 20  # 250 px LFW photos


@pytest.mark.integration
def test_verify_refuses_with_per_file_reasons(data_dir, tiny_model, odd_photos):
    broken, no_face = odd_photos
    run = run_cli("verify.py", broken, no_face, "--model", tiny_model, "--threshold", "0.3")
    assert run.returncode == 3, run.stderr
    refusal = run.stdout.strip().splitlines()[-1]
    assert refusal.startswith("refused:")
    assert f"{broken}: unreadable" in refusal and f"{no_face}: no face detected" in refusal


@pytest.mark.integration
def test_verify_reports_the_quality_gate_reason(data_dir, tiny_model, odd_photos):
    photo = data_dir / "lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg"
    # An eye distance limit no LFW face meets: the gate must refuse and say why.
    run = run_cli(
        "verify.py",
        photo,
        photo,
        "--model",
        tiny_model,
        "--threshold",
        "0.3",
        "--min-eye-distance",
        "500",
        "--min-sharpness",
        "off",
    )
    assert run.returncode == 3, run.stderr
    assert "rejected by the quality gate (eye distance" in run.stdout
    assert "blur" not in run.stdout  # a check switched off is not applied


@pytest.mark.integration
def test_verify_needs_a_threshold_source(tiny_model):
    run = run_cli("verify.py", "a.jpg", "b.jpg", "--model", tiny_model)
    assert run.returncode == 2 and "--threshold" in run.stderr


@pytest.mark.integration
def test_verify_far_needs_an_eval_report(tiny_model):
    run = run_cli("verify.py", "a.jpg", "b.jpg", "--model", tiny_model, "--threshold", "0.3", "--far", "1e-3")
    assert run.returncode == 2 and "cannot be combined with --threshold" in run.stderr


@pytest.mark.integration
def test_verify_runs_the_tflite_export_with_the_same_score(data_dir, tiny_model):
    """The deployed artefact is the tested one: verify.py on the .tflite of the tiny export
    scores the pair as the evaluation scores it with the SavedModel."""
    from models.tflite import export_tflite

    photos = [
        data_dir / "lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg",
        data_dir / "lfw/Aaron_Peirsol/Aaron_Peirsol_0002.jpg",
    ]
    lite = export_tflite(tiny_model, "none", overwrite=True)
    run = run_cli("verify.py", *photos, "--model", lite, "--threshold", "0.3", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["similarity"] == pytest.approx(eval_style_similarity(tiny_model, photos), abs=1e-4)


@pytest.mark.integration
def test_verify_refuses_a_batch_dependent_bn_model_in_one_line(data_dir, tmp_path):
    """BN always_train embeds with the statistics of the batch: each photo alone (a batch of the
    face and its mirror) would get an embedding no other call reproduces. Before the fix verify.py
    printed a similarity; now it refuses."""
    import models
    from tests.helpers.recognition import TINY_MODEL

    export = models.export_embedder(
        models.build(**dict(TINY_MODEL, bn_mode="always_train")), tmp_path / "export", TINY_MODEL["image_size"]
    )
    photo = data_dir / "lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg"
    run = run_cli("verify.py", photo, photo, "--model", export, "--threshold", "0.3")
    assert run.returncode == 2 and run.stdout == ""
    error = run.stderr.strip().splitlines()[-1]  # (TensorFlow's start-up log lines come first)
    assert error.startswith("verify.py: error: ") and "Traceback" not in run.stderr
    assert "BN mode always_train" in error and "one embedding per face" in error


def test_fixture_photos_are_what_they_claim(odd_photos):
    from align.image_io import ImageReadError, load_rgb

    broken, no_face = odd_photos
    with pytest.raises(ImageReadError):
        load_rgb(broken)
    assert load_rgb(no_face).shape == (120, 160, 3)


def test_verify_refuses_a_model_that_touches_files_before_it_runs(data_dir, hostile_model, capsys):
    """A SavedModel whose serving function copies a file: exit 2, one line naming the ops, and no
    file copied."""
    import verify

    export, stolen = hostile_model
    photo = data_dir / "lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg"
    assert verify.main([str(photo), str(photo), "--model", str(export), "--threshold", "0.5"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("verify.py: error: ") and len(error.splitlines()) == 1
    assert "op ReadFile, WriteFile" in error and "--trust-model" in error
    assert not stolen.exists()
