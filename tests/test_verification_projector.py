"""The TensorBoard projector view of evaluated faces, on real aligned LFW crops: the subset rule,
the files' consistency (rows, order, sprite cells), TensorBoard's own reader, eval_lfw.py wiring."""

from __future__ import annotations

import math
import os
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.paths import CACHE_DIR, REPO_ROOT
from verification import projector
from verification.pairs import parse_pairs

ALIGNED_LFW = CACHE_DIR / "aligned" / "lfw_112x96"


PEOPLE = ["Aaron_Peirsol", "Abdullah_Gul", "Adrien_Brody"]


@pytest.fixture(scope="module")
def aligned_lfw(data_dir, tmp_path_factory):
    """The aligned LFW cache where it exists, else these people's raw LFW photos aligned here (a
    fresh clone, as in CI, has no cache)."""
    if all((ALIGNED_LFW / name).is_dir() for name in PEOPLE):
        return ALIGNED_LFW
    from align.align_dataset import AlignConfig, align_dataset

    raw = data_dir / "lfw"
    listing = tmp_path_factory.mktemp("lfw_list") / "people.txt"
    listing.write_text(
        "".join(f"{p.relative_to(raw)}\n" for name in PEOPLE for p in sorted((raw / name).glob("*.jpg")))
    )
    output = tmp_path_factory.mktemp("aligned") / "lfw_112x96"
    align_dataset(AlignConfig(input_dir=str(raw)), output, workers=0, progress=False, only_list=str(listing))
    return output


def test_default_subset_is_every_image_of_the_people_with_five_view2_images(data_dir):
    stems = parse_pairs(data_dir / "lfw_pairs.txt").unique_stems()
    paths = [s + ".jpg" for s in stems]
    rows = projector.select_rows(paths)
    counts = Counter(s.split("/")[0] for s in stems)
    expected = sorted(p for p in paths if counts[p.split("/")[0]] >= 5)
    assert [paths[i] for i in rows] == expected  # grouped by person, in path order
    assert len(rows) == 1715 and len({p.split("/")[0] for p in expected}) == 260


def test_the_cap_keeps_whole_people_most_photographed_first():
    paths = [f"A/A_{i}.jpg" for i in range(3)] + [f"B/B_{i}.jpg" for i in range(5)] + [f"C/C_{i}.jpg" for i in range(4)]
    rows = projector.select_rows(paths, min_images=3, max_points=9)
    assert [paths[i] for i in rows] == paths[3:]  # B (5) and C (4); A would pass the cap


def test_projector_files_are_consistent_on_real_aligned_faces(aligned_lfw, tmp_path):
    from google.protobuf import text_format
    from tensorboard.plugins.projector import ProjectorConfig
    from tensorboard.plugins.projector.projector_plugin import _read_tensor_tsv_file, _rel_to_abs_asset_path

    paths = sorted(str(p.relative_to(aligned_lfw)) for name in PEOPLE for p in (aligned_lfw / name).glob("*.jpg"))
    features = np.random.default_rng(0).normal(size=(len(paths), 8)).astype(np.float32) * 3
    config_path = projector.write_projector(tmp_path, features, paths, aligned_lfw)

    config = text_format.Parse(config_path.read_text(), ProjectorConfig())
    (embedding,) = config.embeddings
    tensor = _read_tensor_tsv_file(_rel_to_abs_asset_path(embedding.tensor_path, str(config_path)))
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    np.testing.assert_allclose(tensor, unit, atol=1e-6)
    assert list(embedding.tensor_shape) == [len(paths), 8]

    metadata = (tmp_path / embedding.metadata_path).read_text().splitlines()
    assert metadata[0] == "person\timage"
    assert metadata[1:] == [f"{p.split('/')[0]}\t{p.split('/')[1][:-4]}" for p in paths]

    width, height = embedding.sprite.single_image_dim
    assert (height, width) == (56, 48)  # half of the 112x96 crop
    sprite = np.asarray(Image.open(tmp_path / embedding.sprite.image_path))
    grid = math.ceil(math.sqrt(len(paths)))
    assert sprite.shape == (grid * height, grid * width, 3)
    for i in (0, len(paths) - 1):  # the first and last face sit in their row-major cells
        row, col = divmod(i, grid)
        cell = sprite[row * height : (row + 1) * height, col * width : (col + 1) * width]
        expected = Image.open(aligned_lfw / paths[i]).convert("RGB").resize((width, height), Image.BILINEAR)
        np.testing.assert_array_equal(cell, np.asarray(expected))
    assert not sprite[-height:, -width:].any()  # cells after the last face stay black
    # Face crops, names and embeddings: the owner's alone.
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in tmp_path.iterdir()} == {0o600}


def test_thumbnails_shrink_to_keep_the_sprite_within_tensorboards_limit():
    height, width = projector.thumbnail_size(13233, (112, 112))  # every LFW image
    assert math.ceil(math.sqrt(13233)) * max(height, width) <= projector.MAX_SPRITE_SIDE
    assert projector.thumbnail_size(100, (112, 96)) == (56, 48)


@pytest.fixture(scope="module")
def aligned_view2_folds():
    """eval_lfw.py needs every image of the folds it reads: only the aligned cache has them."""
    if not (ALIGNED_LFW / "Aaron_Peirsol").is_dir():
        pytest.skip(f"{ALIGNED_LFW} not aligned yet (docs/data.md: how to align)")
    return ALIGNED_LFW


@pytest.mark.integration
def test_eval_lfw_writes_the_projector_into_the_runs_tensorboard(aligned_view2_folds, data_dir, tmp_path):
    pairs = parse_pairs(data_dir / "lfw_pairs.txt").first_folds(2)
    stems = pairs.unique_stems()
    embeddings = np.random.default_rng(1).normal(size=(len(stems), 4)).astype(np.float32)
    npz = tmp_path / "emb.npz"
    np.savez(npz, paths=np.array([s + ".jpg" for s in stems]), embeddings=embeddings)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    run = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "eval_lfw.py"),
            "--embeddings",
            npz,
            "--lfw-dir",
            aligned_view2_folds,
            "--pairs",
            data_dir / "lfw_pairs.txt",
            "--folds",
            "2",
            "--out-dir",
            tmp_path / "out",
            "--gallery-size",
            "0",
            "--run-dir",
            tmp_path / "run",
            "--step",
            "3",
            "--projector-min-images",
            "3",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    # TensorBoard's projector finds the run's config where it looks for plugin assets.
    from tensorboard.plugins.projector.projector_plugin import ProjectorPlugin

    plugin = ProjectorPlugin.__new__(ProjectorPlugin)  # only its file-reading half
    log_dir = str(tmp_path / "run" / "tensorboard")
    plugin._run_paths = {"lfw": log_dir}
    pairs = [("lfw", log_dir)]
    plugin._append_plugin_asset_directories(pairs)
    configs, config_paths = plugin._read_latest_config_files(pairs)
    assert configs["lfw"].embeddings[0].tensor_name == projector.TENSOR_NAME
    folder = Path(config_paths["lfw"]).parent
    metadata = (folder / projector.METADATA_FILE).read_text().splitlines()[1:]
    counts = Counter(s.split("/")[0] for s in stems)
    assert sorted(m.split("\t")[0] for m in metadata) == sorted(
        s.split("/")[0] for s in stems if counts[s.split("/")[0]] >= 3
    )
    assert f"projector: {len(metadata)} faces" in run.stdout
