"""Several training roots as one label space, and the in-RAM decoded cache, on real images."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tensorflow as tf

from input_pipeline.datasets import cached_pk_dataset, cached_single_image_dataset, pk_dataset, single_image_dataset
from input_pipeline.file_list import scan_identity_folders
from input_pipeline.memory_cache import decode_all, decoded_bytes, use_memory_cache

SIZE = (112, 96)


@pytest.fixture()
def two_roots(standin_train_dir, tmp_path):
    """The 4 stand-in identities split over two roots, 2 + 2."""
    identities = sorted(p for p in standin_train_dir.iterdir() if p.is_dir())
    roots = [tmp_path / "first", tmp_path / "second"]
    for index, folder in enumerate(identities):
        shutil.copytree(folder, roots[index // 2] / folder.name)
    return roots


def test_several_roots_form_one_sorted_label_space(two_roots):
    file_list = scan_identity_folders(two_roots, min_images=2)
    names = sorted(p.name for root in two_roots for p in root.iterdir())
    assert file_list.identities == names and file_list.num_classes == 4
    for path, label in zip(file_list.absolute_paths(), file_list.labels, strict=True):
        path = path.decode()
        identity = file_list.identities[label]
        root = two_roots[names.index(identity) // 2]
        assert path.startswith(f"{root}/{identity}/") and tf.io.gfile.exists(path)


def test_identity_in_two_roots_is_an_error_naming_both_unless_namespaced(two_roots):
    duplicate = next(p for p in two_roots[0].iterdir())
    shutil.copytree(duplicate, two_roots[1] / duplicate.name)
    with pytest.raises(ValueError) as error:
        scan_identity_folders(two_roots, min_images=2)
    assert str(two_roots[0] / duplicate.name) in str(error.value)
    assert str(two_roots[1] / duplicate.name) in str(error.value)
    file_list = scan_identity_folders(two_roots, min_images=2, namespace_by_root=True)
    assert f"first/{duplicate.name}" in file_list.identities
    assert f"second/{duplicate.name}" in file_list.identities and file_list.num_classes == 5


def test_auto_cache_decision_follows_the_ram_fraction():
    one_image = 112 * 96 * 3
    assert decoded_bytes(1000, SIZE) == 1000 * one_image
    ram = 4 * 1000 * one_image  # 1000 images are exactly 25% of it
    assert use_memory_cache("auto", 1000, SIZE, memory_bytes=ram)
    assert not use_memory_cache("auto", 1001, SIZE, memory_bytes=ram)
    assert use_memory_cache("memory", 10**9, SIZE, memory_bytes=ram)
    assert not use_memory_cache("none", 1, SIZE, memory_bytes=ram)
    with pytest.raises(ValueError, match="cache mode"):
        use_memory_cache("disk", 1, SIZE)


def _batches(dataset, count):
    return [(images.numpy(), labels.numpy()) for images, labels in dataset.take(count)]


def _unflipped(images, decoded_pixels):
    """How many images of a batch are one of the decoded originals as they are (not mirrored)."""
    originals = {image.astype(np.float32).tobytes() for image in decoded_pixels}
    return sum(image.tobytes() in originals for image in images)


def test_cached_route_yields_the_same_batches_as_reading_from_disk(two_roots):
    file_list = scan_identity_folders(two_roots, min_images=2)
    decoded = decode_all(file_list, SIZE)
    assert decoded.images.dtype == tf.uint8 and not decoded.skipped
    # 24 images, batch 8: 6 batches span two epochs (two different permutations).
    disk = _batches(single_image_dataset(file_list, SIZE, 8, seed=5, random_flip=False), 6)
    memory = _batches(cached_single_image_dataset(decoded, 8, seed=5, random_flip=False), 6)
    for (disk_images, disk_labels), (memory_images, memory_labels) in zip(disk, memory, strict=True):
        np.testing.assert_array_equal(disk_labels, memory_labels)
        np.testing.assert_array_equal(disk_images, memory_images)
    # The P x K routes draw the flips of batch n alike (_flip_batch_statelessly): equal flips included.
    disk = _batches(pk_dataset(file_list, SIZE, 2, 3, seed=2), 4)
    memory = _batches(cached_pk_dataset(decoded, 2, 3, seed=2), 4)
    for (disk_images, disk_labels), (memory_images, memory_labels) in zip(disk, memory, strict=True):
        np.testing.assert_array_equal(disk_labels, memory_labels)
        np.testing.assert_array_equal(disk_images, memory_images)
    assert 0 < sum(_unflipped(images, decoded.images.numpy()) for images, _ in disk) < 24


def test_the_seed_repeats_the_folder_routes_flips_under_a_parallel_map(two_roots):
    """A stateful flip in a parallel map draws in the order its calls arrive: the same seed flipped
    other images in every process. The stateless flips repeat."""
    file_list = scan_identity_folders(two_roots, min_images=2)

    decoded = decode_all(file_list, SIZE).images.numpy()

    def batches():
        return _batches(single_image_dataset(file_list, SIZE, 8, seed=7, parallel_calls=8), 6)

    first = batches()
    for (images_a, labels_a), (images_b, labels_b) in zip(first, batches(), strict=True):
        np.testing.assert_array_equal(labels_a, labels_b)
        np.testing.assert_array_equal(images_a, images_b)
    assert 0 < sum(_unflipped(images, decoded) for images, _ in first) < 48  # some mirrored, some not


def test_cached_route_reshuffles_and_reflips_every_epoch(two_roots):
    file_list = scan_identity_folders(two_roots, min_images=2)
    decoded = decode_all(file_list, SIZE)
    originals = {image.tobytes(): index for index, image in enumerate(decoded.images.numpy().astype(np.float32))}
    mirrors = {image[:, ::-1].tobytes(): index for index, image in enumerate(decoded.images.numpy().astype(np.float32))}
    epochs = []
    for first, second in zip(*[iter(_batches(cached_single_image_dataset(decoded, 12, seed=1), 4))] * 2, strict=True):
        order, flipped = [], []
        for images, labels in (first, second):
            for image, label in zip(images, labels, strict=True):
                key = image.tobytes()
                assert key in originals or key in mirrors  # only the flip changes a cached image
                index = originals.get(key, mirrors.get(key))
                assert decoded.file_list.labels[index] == label
                order.append(index)
                flipped.append(key not in originals)
        assert sorted(order) == list(range(24))  # one epoch = every image once
        epochs.append((order, flipped))
    (order_a, flips_a), (order_b, flips_b) = epochs
    assert order_a != order_b
    by_image_a = dict(zip(order_a, flips_a, strict=True))
    assert any(by_image_a[i] != flip for i, flip in zip(order_b, flips_b, strict=True))
    assert 0 < sum(flips_a) < 24


def test_unreadable_files_are_dropped_and_counted_once_when_cached(two_roots):
    first_identity = next(p for p in sorted(two_roots[0].iterdir()))
    (first_identity / "broken.jpg").write_bytes(b"garbage")
    (first_identity / "empty.png").write_bytes(b"")
    truncated = two_roots[1] / sorted(p.name for p in two_roots[1].iterdir())[0] / "truncated.png"
    truncated.write_bytes(next(truncated.parent.glob("*.png")).read_bytes()[:100])
    file_list = scan_identity_folders(two_roots, min_images=2)
    decoded = decode_all(file_list, SIZE)
    assert sorted(path.rsplit("/", 1)[1] for path in decoded.skipped) == ["broken.jpg", "empty.png", "truncated.png"]
    assert len(decoded.file_list.paths) == len(decoded.images) == 24
    for images, _ in cached_single_image_dataset(decoded, 8, seed=0).take(6):
        assert float(tf.reduce_min(tf.reduce_max(images, [1, 2, 3]))) > 0


def test_all_unreadable_folder_is_one_clear_error_when_cached(tmp_path):
    for person in ("a", "b"):
        (tmp_path / person).mkdir()
        for index in range(2):
            (tmp_path / person / f"{index}.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="no readable training image among 4 files"):
        decode_all(scan_identity_folders(tmp_path, 2), SIZE)
