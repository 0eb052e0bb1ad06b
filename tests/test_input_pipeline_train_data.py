"""input_pipeline.train_data owns the route: scan, RAM cache and batches from plain values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from common.paths import REPO_ROOT
from input_pipeline.train_data import build_train_dataset, cache_in_memory, check_source, open_train_source


def _folders(root: Path, identities=2, images=2, size=(112, 96)) -> Path:
    rng = np.random.default_rng(0)
    for i in range(identities):
        (root / f"id{i}").mkdir(parents=True)
        for j in range(images):
            pixels = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
            tf.io.write_file(str(root / f"id{i}" / f"{j}.png"), tf.io.encode_png(pixels))
    return root


def test_folders_route_scans_caches_and_batches(tmp_path):
    identities, source = open_train_source(
        "folders", [112, 96], train_dirs=[_folders(tmp_path / "a")], min_images_per_identity=2
    )
    assert identities == ["id0", "id1"] and source.decoded is None
    messages = []
    cached = cache_in_memory(source, "memory", (112, 96), log=messages.append)
    assert cached.decoded is not None and messages and "decoded 4 training images" in messages[0]
    assert cache_in_memory(source, "none", (112, 96)) is source
    images, labels = next(iter(build_train_dataset(cached, (112, 96), 4, seed=0)))
    assert images.shape == (4, 112, 96, 3) and sorted(labels.numpy()) == [0, 0, 1, 1]


def test_a_folder_of_another_image_size_stops_at_the_scan(tmp_path):
    with pytest.raises(ValueError, match="112x112"):
        open_train_source(
            "folders", (112, 96), train_dirs=[_folders(tmp_path / "b", size=(112, 112))], min_images_per_identity=2
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"data_format": "lmdb"}, "data.format must be one of folders, tfrecord, got 'lmdb'"),
        ({"data_format": "folders"}, "data.train_dirs must name at least one folder"),
        ({"data_format": "tfrecord"}, "data.tfrecord_dir is required when data.format is tfrecord"),
    ],
)
def test_check_source_names_what_the_format_needs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_source(**kwargs)


def test_input_pipeline_never_imports_training():
    for path in (REPO_ROOT / "input_pipeline").glob("*.py"):
        lines = [line.strip() for line in path.read_text().splitlines()]
        assert not [line for line in lines if line.startswith(("from training", "import training"))], path
