"""LfwEvaluator and the batched embedding path on small image folders (synthetic and real)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.helpers.synthetic_pairs import pairs_lines
from verification.embedding import embed_paths
from verification.lfw import LfwEvaluator

SIZE = (8, 6)


def make_lfw_like(tmp_path, folds=2, per_class=3, ext=".png"):
    """A pairs file plus images: person p's photos share a random texture (plus slight noise),
    so centred pixels separate identities perfectly; a left-right gradient makes mirrors differ."""
    rng = np.random.default_rng(0)
    lines, person = pairs_lines(folds, per_class)
    root = tmp_path / "aligned"
    gradient = np.linspace(0, 60, SIZE[1])[None, :, None]
    for p in range(person):
        texture = rng.uniform(0, 190, size=(*SIZE, 3))
        for i in (1, 2):
            image = np.clip(texture + gradient + rng.uniform(0, 3, (*SIZE, 3)), 0, 255)
            (root / f"P{p}").mkdir(parents=True, exist_ok=True)
            Image.fromarray(image.astype(np.uint8)).save(root / f"P{p}" / f"P{p}_{i:04d}{ext}")
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("\n".join(lines) + "\n")
    return root, pairs


def centred_pixels(images):
    images = np.asarray(images)
    return images.reshape(len(images), -1) - 125.0


def mean_colour(images):
    return np.asarray(images).mean(axis=(1, 2))


def left_half_mean(images):
    images = np.asarray(images)
    return images[:, :, : images.shape[2] // 2].mean(axis=(1, 2))


def test_separable_identities_give_perfect_accuracy(tmp_path):
    root, pairs = make_lfw_like(tmp_path)
    evaluator = LfwEvaluator(root, pairs, SIZE, batch_size=4)
    assert evaluator.images.shape == (24, *SIZE, 3) and evaluator.images.dtype == np.uint8
    for flip in ("none", "concat", "sum"):
        summary = evaluator.evaluate(centred_pixels, flip=flip)
        assert summary["accuracy_mean"] == 1.0 and summary["auc"] == 1.0, flip
        assert summary["num_folds"] == 2 and len(summary["fold_thresholds"]) == 2


def test_mirror_embeddings_come_from_flipped_images(tmp_path):
    root, pairs = make_lfw_like(tmp_path, ext=".jpg")
    evaluator = LfwEvaluator(root, pairs, SIZE, batch_size=5)
    calls = []

    def recording(images):
        calls.append(int(np.asarray(images).shape[0]))
        return left_half_mean(images)

    plain, flipped = evaluator.embed(recording, with_flip=True)
    images = evaluator.images.astype(np.float32)
    np.testing.assert_allclose(plain, left_half_mean(images), rtol=1e-6)
    np.testing.assert_allclose(flipped, left_half_mean(images[:, :, ::-1]), rtol=1e-6)
    assert not np.allclose(plain, flipped)  # the gradient makes mirrors differ
    assert calls == [10, 10, 10, 10, 8]  # originals and mirrors share one call per batch


def test_first_folds_and_too_few_folds(tmp_path):
    root, pairs = make_lfw_like(tmp_path, folds=3)
    assert LfwEvaluator(root, pairs, SIZE, folds=2).evaluate(centred_pixels)["num_pairs"] == 12
    with pytest.raises(ValueError, match="at least 2 folds"):
        LfwEvaluator(root, pairs, SIZE, folds=1)


def test_bad_embed_fn_output_is_reported(tmp_path):
    root, pairs = make_lfw_like(tmp_path)
    evaluator = LfwEvaluator(root, pairs, SIZE)
    with pytest.raises(ValueError, match="embed_fn returned shape"):
        evaluator.evaluate(lambda images: mean_colour(images)[:1])
    with pytest.raises(ValueError, match="flip mode must be one of"):
        evaluator.evaluate(mean_colour, flip="mirror")


def test_embed_paths_keeps_order_on_real_images(data_dir):
    paths = (
        sorted((data_dir / "lfw" / "Aaron_Eckhart").glob("*.jpg"))
        + sorted((data_dir / "lfw" / "Abel_Pacheco").glob("*.jpg"))[:3]
    )
    plain, flipped = embed_paths(mean_colour, paths, (250, 250), batch_size=2, with_flip=False, progress=False)
    expected = [np.asarray(Image.open(p).convert("RGB"), np.float32).mean(axis=(0, 1)) for p in paths]
    assert flipped is None
    np.testing.assert_allclose(plain, expected, atol=2.0)  # JPEG decoders differ slightly


def test_wrong_image_size_names_the_file(data_dir):
    with pytest.raises(ValueError, match=r"^image has the wrong size .*112x96\): .*/[A-Za-z_]+_\d{4}\.jpg$"):
        LfwEvaluator(data_dir / "lfw", data_dir / "lfw_pairsDevTest.txt", (112, 96))
