"""TFLite export (`python -m models export-tflite`) against the SavedModel it comes from, the
loader's .tflite route, eval's .tflite source, and the refusal of batch-dependent BN models."""

from __future__ import annotations

import numpy as np
import pytest

import models
from models.__main__ import main
from models.tflite import TfliteEmbedder, calibration_images, tflite_path

IMAGE_SIZE = (112, 96)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def exported(folder, bn_mode: str = "switch"):
    """A tiny Resface20 whose BN moving averages have left their initial values, exported."""
    model = models.build("resface20", image_size=IMAGE_SIZE, embedding_size=16, width=0.125, bn_mode=bn_mode)
    pixels = np.random.default_rng(0).uniform(0, 255, (8, *IMAGE_SIZE, 3)).astype(np.float32)
    for _ in range(3):
        model(pixels, training=True)
    return models.export_embedder(model, folder / "export", IMAGE_SIZE, {"note": "test"})


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return exported(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def faces(data_dir):
    """Real LFW photos cropped and resized to the model's input: real pixel statistics."""
    from PIL import Image

    photos = sorted((data_dir / "lfw").glob("A*/*_0001.jpg"))[:12]
    crops = [Image.open(p).convert("RGB").crop((75, 60, 175, 190)).resize(IMAGE_SIZE[::-1]) for p in photos]
    return np.stack([np.asarray(c) for c in crops]).astype(np.float32)


@pytest.mark.parametrize("quantize, min_cosine", [("none", 0.99999), ("float16", 0.999)])
def test_float_variants_agree_with_the_saved_model(export_dir, faces, quantize, min_cosine):
    assert main(["export-tflite", str(export_dir), "--quantize", quantize]) == 0
    path = tflite_path(export_dir, quantize)
    assert path.parent == export_dir and path.is_file()
    lite = models.load_embedder(path)
    assert isinstance(lite, TfliteEmbedder) and lite.image_size == IMAGE_SIZE
    reference = models.load_embedder(export_dir)(faces)
    assert cosine(lite(faces), reference).min() > min_cosine
    # One face at a time gives the same embeddings as a batch (no batch statistics inside).
    np.testing.assert_allclose(lite(faces[:1]), lite(faces)[:1], rtol=1e-4, atol=1e-5)


def test_int8_calibrates_on_aligned_faces_and_stays_close(export_dir, faces, tmp_path):
    from PIL import Image

    for i, face in enumerate(faces):  # an identity-folder layout of "aligned" crops
        (tmp_path / f"id{i % 3}").mkdir(exist_ok=True)
        Image.fromarray(face.astype(np.uint8)).save(tmp_path / f"id{i % 3}" / f"{i}.png")
    assert calibration_images([tmp_path], 5, IMAGE_SIZE).shape == (5, *IMAGE_SIZE, 3)
    assert (
        main(
            [
                "export-tflite",
                str(export_dir),
                "--quantize",
                "int8",
                "--calibration-dir",
                str(tmp_path),
                "--calibration-images",
                "12",
            ]
        )
        == 0
    )
    lite = models.load_embedder(tflite_path(export_dir, "int8"))
    reference = models.load_embedder(export_dir)(faces)
    assert cosine(lite(faces), reference).min() > 0.95
    assert tflite_path(export_dir, "int8").stat().st_size < 0.5 * tflite_path(export_dir, "none").stat().st_size


def test_export_refuses_to_overwrite_and_names_the_file(export_dir, capsys):
    main(["export-tflite", str(export_dir)])
    assert main(["export-tflite", str(export_dir)]) == 2
    assert "embedder.tflite already exists" in capsys.readouterr().err


def test_always_train_bn_is_refused_in_one_line(tmp_path, capsys):
    export = exported(tmp_path, bn_mode="always_train")
    assert main(["export-tflite", str(export)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "BN mode always_train" in error
    assert not tflite_path(export, "none").exists()


def test_eval_source_of_a_tflite_file_reports_beside_its_run(export_dir):
    from verification.model_source import resolve_model

    main(["export-tflite", str(export_dir)])
    path = tflite_path(export_dir, "none")
    source = resolve_model(str(path))
    assert source.image_size == IMAGE_SIZE and not source.batch_dependent
    assert source.out_dir == export_dir.parent / "eval" / "embedder"
    assert source.label.endswith("/embedder.tflite")
    assert isinstance(source.load(), TfliteEmbedder)
