"""Input pipeline on real images: file list, decoding, bad files, P x K batches, TFRecords."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from common.paths import REPO_ROOT
from input_pipeline.datasets import (
    pk_dataset,
    pk_index_batches,
    read_file_batches,
    shuffled_indices,
    single_image_dataset,
)
from input_pipeline.decode import decode_contents
from input_pipeline.file_list import check_image_size, scan_identity_folders
from input_pipeline.tfrecords import CorruptShardError, check_shard_sizes, read_identities, tfrecord_dataset
from input_pipeline.train_data import TrainSource
from tests.helpers.train_support import BASE_CONFIG, tiny_overrides

SIZE = (112, 96)


@pytest.fixture()
def train_dir(standin_train_dir, tmp_path):
    """A writable copy of the stand-in folders (tests add bad files to it)."""
    return shutil.copytree(standin_train_dir, tmp_path / "train")


def identity(root, index: int):
    return sorted(p for p in root.iterdir() if p.is_dir())[index]


def test_file_list_labels_sorted_identities_and_min_images(train_dir, tmp_path):
    (train_dir / "zz_single").mkdir()
    shutil.copy(next((identity(train_dir, 0)).glob("*.png")), train_dir / "zz_single" / "a.png")
    (identity(train_dir, 0) / "notes.txt").write_text("not an image")
    file_list = scan_identity_folders(train_dir, min_images=2)
    assert file_list.identities == sorted(p.name for p in train_dir.iterdir() if p.name != "zz_single")
    assert len(file_list.paths) == 4 * 6 and np.all(np.diff(file_list.labels) >= 0)
    for path, label in zip(file_list.paths, file_list.labels, strict=True):
        assert path.decode().split("/")[0] == file_list.identities[label]
    assert scan_identity_folders(train_dir, min_images=1).num_classes == 5
    (tmp_path / "run").mkdir()
    file_list.save(tmp_path / "run" / "file_list.tsv")
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["file_list.tsv"]  # labels.txt: training writes it
    header, first = (tmp_path / "run" / "file_list.tsv").read_text().splitlines()[:2]
    assert header == f"# roots: 0 {train_dir.name}"
    assert first == f"0\t0\t{file_list.paths[0].decode()}"  # relative: no home folder in a run dir
    assert str(tmp_path) not in (tmp_path / "run" / "file_list.tsv").read_text()
    with pytest.raises(ValueError, match=">= 99 images"):
        scan_identity_folders(train_dir, min_images=99)


def test_decode_real_png_and_jpeg_equal_pil(data_dir, train_dir):
    png = next((identity(train_dir, 0)).glob("*.png"))
    image, ok = decode_contents(tf.constant(png.read_bytes()), SIZE)
    assert bool(ok) and image.dtype == tf.float32
    np.testing.assert_array_equal(image.numpy(), np.asarray(Image.open(png), np.float32))
    jpeg = next((data_dir / "lfw").rglob("*.jpg"))
    image, ok = decode_contents(tf.constant(jpeg.read_bytes()), (250, 250))
    assert bool(ok) and image.shape == (250, 250, 3)
    # Two JPEG decoders (TF's and PIL's libjpeg builds) differ by a few levels on some pixels.
    difference = np.abs(image.numpy() - np.asarray(Image.open(jpeg).convert("RGB"), np.float32))
    assert difference.mean() < 1.0 and difference.max() <= 16


def test_image_of_another_size_is_refused_not_squashed(data_dir, train_dir):
    """An unaligned 250x250 LFW photo under a 112x96 config: skipped (ok false), never resized; a
    whole folder of another size stops training before it starts, naming folder and sizes."""
    jpeg = next((data_dir / "lfw").rglob("*.jpg"))
    image, ok = decode_contents(tf.constant(jpeg.read_bytes()), SIZE)
    assert not bool(ok) and float(tf.reduce_max(image)) == 0
    square = train_dir.parent / "square"
    for path in sorted(train_dir.rglob("*.png"))[:4]:
        (square / path.parent.name).mkdir(parents=True, exist_ok=True)
        Image.open(path).resize((112, 112)).save(square / path.parent.name / path.name)
    check_image_size(scan_identity_folders(train_dir), SIZE)  # the right size passes
    with pytest.raises(ValueError, match=r"square: training images are 112x112 .* data.image_size is 112x96"):
        check_image_size(scan_identity_folders([train_dir, square], namespace_by_root=True), SIZE)


@pytest.mark.parametrize("contents", [b"", b"not an image at all", b"\x00\x01\x02\x03" * 10])
def test_decode_flags_invalid_bytes(contents):
    image, ok = decode_contents(tf.constant(contents), SIZE)
    assert not bool(ok) and image.shape == (*SIZE, 3)


def add_bad_files(train_dir) -> set[str]:
    """Three bad files of three kinds: not an image, empty, and a truncated PNG whose valid
    signature lets it reach the decoder, which raises (the kind `ignore_errors` drops)."""
    (identity(train_dir, 0) / "broken.jpg").write_bytes(b"garbage")
    (identity(train_dir, 0) / "empty.png").write_bytes(b"")
    truncated = identity(train_dir, 1) / "truncated.png"
    truncated.write_bytes(next((identity(train_dir, 1)).glob("*.png")).read_bytes()[:100])
    return {str(identity(train_dir, 0) / "broken.jpg"), str(identity(train_dir, 0) / "empty.png"), str(truncated)}


def test_every_unreadable_image_is_skipped_and_counted_exactly(train_dir):
    """One epoch of index batches: the 24 good files come back with their labels, and each of the
    3 bad ones is counted once, the truncated one (dropped by the decoder's error) included."""
    bad = add_bad_files(train_dir)
    file_list = scan_identity_folders(train_dir, 2)
    counter = tf.Variable(0, dtype=tf.int64)
    epoch = tf.data.Dataset.range(len(file_list.paths)).batch(5)
    batches = list(read_file_batches(epoch, file_list, SIZE, -1, counter))
    labels = np.concatenate([batch_labels.numpy() for _, batch_labels, _ in batches])
    good = [
        label
        for path, label in zip(file_list.absolute_paths(), file_list.labels, strict=True)
        if path.decode() not in bad
    ]
    assert sorted(labels) == sorted(good) and len(good) == 24
    assert int(counter) == 3 == sum(int(skipped) for _, _, skipped in batches)
    for images, _, _ in batches:
        assert images.shape[0] == 0 or float(tf.reduce_min(tf.reduce_max(images, [1, 2, 3]))) > 0


def test_endless_routes_count_every_bad_file_they_draw(train_dir):
    """The endless single-image route: the batches hold only good images, and the counter never
    falls behind the bad draws the index stream made to fill them (prefetch may read ahead)."""
    bad = add_bad_files(train_dir)
    file_list = scan_identity_folders(train_dir, 2)
    counter = tf.Variable(0, dtype=tf.int64)
    steps, batch = 6, 9
    for images, _ in single_image_dataset(
        file_list, SIZE, batch, seed=0, random_flip=False, skipped_counter=counter
    ).take(steps):
        assert float(tf.reduce_min(tf.reduce_max(images, [1, 2, 3]))) > 0
    # The same index stream, walked by hand: bad draws before `steps` batches of good images.
    is_bad = [path.decode() in bad for path in file_list.absolute_paths()]
    good, drawn_bad = 0, 0
    for index_batch in shuffled_indices(len(file_list.paths), 0).batch(batch):
        drawn_bad += sum(is_bad[i] for i in index_batch.numpy())
        good += sum(not is_bad[i] for i in index_batch.numpy())
        if good >= steps * batch:
            break
    assert drawn_bad >= 3 and int(counter) >= drawn_bad


def test_pk_batches_have_p_identities_times_k_distinct_images(train_dir):
    file_list = scan_identity_folders(train_dir, 2)
    for images, labels in pk_dataset(file_list, SIZE, identities=3, images=2, seed=3, random_flip=False).take(8):
        labels = labels.numpy()
        assert images.shape == (6, *SIZE, 3)
        groups = labels.reshape(3, 2)
        assert np.all(groups == groups[:, :1]) and len(set(groups[:, 0])) == 3
        flat = images.numpy().reshape(3, 2, -1)
        assert all(not np.array_equal(flat[g, 0], flat[g, 1]) for g in range(3))


def test_pk_indices_distinct_and_repeats_only_when_needed():
    labels = np.array([0, 0, 0, 1, 1, 2], np.int32)  # identity 2 has one image only
    for indices in pk_index_batches(labels, 3, identities=3, images=2, seed=1).take(20):
        groups = indices.numpy().reshape(3, 2)
        for group in groups:
            label = labels[group[0]]
            assert np.all(labels[group] == label)
            assert group[0] != group[1] or label == 2
    with pytest.raises(ValueError, match="P <= number of identities"):
        pk_index_batches(labels, 3, identities=4, images=2, seed=0)


def test_pk_batch_with_unreadable_file_is_dropped_whole(train_dir):
    (identity(train_dir, 0) / "broken.png").write_bytes(b"garbage")
    file_list = scan_identity_folders(train_dir, 2)
    counter = tf.Variable(0, dtype=tf.int64)
    for images, labels in pk_dataset(file_list, SIZE, identities=2, images=3, seed=0, skipped_counter=counter).take(30):
        assert images.shape[0] == 6 and float(tf.reduce_min(tf.reduce_max(images, [1, 2, 3]))) > 0
        groups = labels.numpy().reshape(2, 3)
        assert np.all(groups == groups[:, :1])
    assert int(counter) >= 1  # some of the 30 + dropped batches drew the broken file


@pytest.mark.parametrize("kind", ["single", "pk"])
def test_folder_of_non_images_stops_with_a_clear_error(kind, tmp_path, monkeypatch):
    """Every file unreadable: the filter would wait forever for a valid image or batch."""
    from input_pipeline import datasets

    monkeypatch.setattr(datasets, "MAX_CONSECUTIVE_INVALID", 40)
    for person in ("a", "b", "c"):
        for index in range(3):
            (tmp_path / person).mkdir(exist_ok=True)
            (tmp_path / person / f"{index}.jpg").write_bytes(b"not an image")
    file_list = scan_identity_folders(tmp_path, 2)
    dataset = (
        single_image_dataset(file_list, SIZE, 4, seed=0)
        if kind == "single"
        else pk_dataset(file_list, SIZE, identities=2, images=2, seed=0)
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=datasets.NO_VALID_IMAGES):
        next(iter(dataset))
    from input_pipeline.train_data import next_batch  # train.py prints this ValueError as one line

    with pytest.raises(
        ValueError,
        match=r"^training data: 10 batches in a row had unreadable images: "
        r"does the training folder hold images\?$",
    ):
        next_batch(iter(dataset), TrainSource(file_list=file_list))


@pytest.mark.integration
def test_write_tfrecords_cli_and_reader_round_trip(train_dir, tmp_path):
    out = tmp_path / "shards"
    command = [
        sys.executable,
        "-m",
        "input_pipeline.write_tfrecords",
        "--input-dir",
        str(train_dir),
        "--output-dir",
        str(out),
        "--shards",
        "3",
    ]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "wrote 24 images of 4 identities into 3 shards" in done.stdout
    assert len(list(out.glob("*.tfrecord"))) == 3
    file_list = scan_identity_folders(train_dir)
    assert read_identities(out) == file_list.identities
    # Every image decoded from the shards equals the file it came from, with the right label.
    by_pixels = {
        np.asarray(Image.open(train_dir / p.decode()), np.float32).tobytes(): label
        for p, label in zip(file_list.paths, file_list.labels, strict=True)
    }
    images, labels = next(iter(tfrecord_dataset(out, SIZE, 24, seed=0, shuffle_buffer=24, random_flip=False)))
    for image, label in zip(images.numpy(), labels.numpy(), strict=True):
        assert by_pixels[image.tobytes()] == label
    again = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "this run: 0 shards" in again.stdout  # finished: nothing redone


def write_records(folder, items) -> None:
    """A one-shard TFRecord folder holding (encoded bytes, label, path) items."""
    folder.mkdir()
    with tf.io.TFRecordWriter(str(folder / "train-00000-of-00001.tfrecord")) as writer:
        for contents, label, path in items:
            feature = {
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[contents])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                "path": tf.train.Feature(bytes_list=tf.train.BytesList(value=[path.encode()])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def test_tfrecord_route_counts_every_bad_record(train_dir, tmp_path):
    """4 good records and 2 bad ones (garbage bytes; a truncated PNG the decoder raises on): the
    batches hold only good images, and both bad records are counted each time they are drawn."""
    pngs = sorted(train_dir.rglob("*.png"))[:4]
    good = [(p.read_bytes(), i % 2, p.name) for i, p in enumerate(pngs)]
    bad = [(b"garbage", 0, "garbage.png"), (pngs[0].read_bytes()[:100], 1, "truncated.png")]
    write_records(tmp_path / "shards", good + bad)
    counter = tf.Variable(0, dtype=tf.int64)
    dataset = tfrecord_dataset(
        tmp_path / "shards", SIZE, 6, seed=0, shuffle_buffer=6, random_flip=False, skipped_counter=counter
    )
    for images, _ in dataset.take(4):  # 24 good images: at least 6 passes over the 6 records
        assert float(tf.reduce_min(tf.reduce_max(images, [1, 2, 3]))) > 0
    assert int(counter) >= 2 * 6


def test_tfrecords_without_a_valid_image_stop_with_one_line(tmp_path, monkeypatch):
    """Every record unreadable: the input used to filter forever; now it stops, and training
    prints one line."""
    from input_pipeline import datasets
    from input_pipeline.train_data import next_batch

    monkeypatch.setattr(datasets, "MAX_CONSECUTIVE_INVALID", 40)
    write_records(tmp_path / "shards", [(b"not an image", i % 3, f"{i}.jpg") for i in range(9)])
    dataset = tfrecord_dataset(tmp_path / "shards", SIZE, 4, seed=0, shuffle_buffer=9)
    with pytest.raises(
        ValueError,
        match=r"^training data: 10 batches in a row had unreadable images: "
        r"do the TFRecord shards in .*shards hold images of 112x96\?$",
    ):
        next_batch(iter(dataset), TrainSource(tfrecord_dir=tmp_path / "shards"))


def write_shards_cli(train_dir, out, shards: int) -> list:
    """`python -m input_pipeline.write_tfrecords` into `out`; the shard paths, sorted."""
    command = [
        sys.executable,
        "-m",
        "input_pipeline.write_tfrecords",
        "--input-dir",
        str(train_dir),
        "--output-dir",
        str(out),
        "--shards",
        str(shards),
    ]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return sorted(out.glob("*.tfrecord"))


@pytest.mark.integration
def test_truncated_shard_stops_train_py_in_one_line_naming_it(train_dir, tmp_path):
    """A shard cut short (a copy that did not finish): TensorFlow's reader may even take it for a
    complete one when the cut falls on a record boundary; its size against the writer's report
    stops the run in one line before training."""
    shards = tmp_path / "shards"
    shard = write_shards_cli(train_dir, shards, 3)[1]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    overrides = tiny_overrides(
        train_dir, tmp_path / "run", **{"data.format": "tfrecord", "data.tfrecord_dir": str(shards)}
    )
    done = subprocess.run(
        [sys.executable, "train.py", "--config", str(BASE_CONFIG)]
        + [arg for override in overrides for arg in ("--set", override)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert (
        last.startswith(f"train.py: error: training data: TFRecord shard {shard} has ")
        and "(truncated?); delete it and rerun the python -m input_pipeline.write_tfrecords command" in last
    )


def test_damaged_shard_is_named_when_tf_data_fails_on_it(train_dir, tmp_path):
    """Damage that keeps the size (garbage over the middle of a shard) shows only when tf.data
    reads it: training's next batch then names the shard instead of raising a DataLossError."""
    from input_pipeline.train_data import next_batch
    from input_pipeline.write_tfrecords import write_tfrecords

    shards = tmp_path / "shards"
    write_tfrecords(scan_identity_folders(train_dir), shards, 3, show_progress=False)
    shard = sorted(shards.glob("*.tfrecord"))[1]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    shard.write_bytes(bytes(data))
    check_shard_sizes(shards)  # the size is right
    iterator = iter(tfrecord_dataset(shards, SIZE, 8, seed=0, shuffle_buffer=24))
    with pytest.raises(
        CorruptShardError,
        match=rf"^training data: TFRecord shard {re.escape(str(shard))} is "
        r"damaged \((corrupted|truncated) record at \d+\); delete it ",
    ):
        for _ in range(20):  # 24 records: every shard is read within 3 batches
            next_batch(iterator, TrainSource(tfrecord_dir=shards))
