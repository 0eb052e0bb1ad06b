"""write_tfrecords on real images: parallel workers, kill -9 and resume, refusals, bad images."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.paths import REPO_ROOT
from input_pipeline import write_tfrecords
from input_pipeline.file_list import scan_identity_folders


def shard_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.tfrecord"))}


def write(input_dir: Path, output_dir: Path, shards: int, workers: int = 1) -> dict:
    return write_tfrecords.write_tfrecords(
        scan_identity_folders(input_dir), output_dir, shards, workers=workers, show_progress=False
    )


@pytest.fixture()
def celeba_subset(data_dir, tmp_path) -> Path:
    """150 real CelebA identity folders (~3,100 photos), linked, not copied."""
    subset = tmp_path / "celeba_subset"
    subset.mkdir()
    for folder in sorted(p for p in (data_dir / "celeba299").iterdir() if p.is_dir())[:150]:
        (subset / folder.name).symlink_to(folder, target_is_directory=True)
    return subset


@pytest.mark.integration
def test_two_workers_write_the_same_shards_as_one(standin_train_dir, tmp_path):
    one = write(standin_train_dir, tmp_path / "one", shards=3, workers=1)
    two = write(standin_train_dir, tmp_path / "two", shards=3, workers=2)
    assert one["written"] == two["written"] == 24 and not one["bad"]
    assert shard_bytes(tmp_path / "one") == shard_bytes(tmp_path / "two")
    assert (tmp_path / "two" / "labels.txt").read_text() == (tmp_path / "one" / "labels.txt").read_text()


@pytest.mark.integration
def test_killed_run_resumes_to_the_shards_of_an_uninterrupted_run(celeba_subset, tmp_path, capsys):
    write(celeba_subset, tmp_path / "reference", shards=50)
    killed = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "input_pipeline.write_tfrecords",
        "--input-dir",
        str(celeba_subset),
        "--output-dir",
        str(killed),
        "--shards",
        "50",
    ]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(killed.glob("*.tfrecord")) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    finished = list(killed.glob("*.tfrecord"))
    assert 0 < len(finished) < 50, "the kill should land between the first and the last shard"
    assert not (killed / "labels.txt").exists()  # an unfinished folder cannot be trained on
    before = {path.name: path.stat().st_mtime_ns for path in finished}

    assert write_tfrecords.main(["--input-dir", str(celeba_subset), "--output-dir", str(killed), "--shards", "50"]) == 0
    captured = capsys.readouterr()
    assert f"this run: {50 - len(finished)} shards" in captured.out and "img/s" in captured.err
    assert shard_bytes(killed) == shard_bytes(tmp_path / "reference")
    assert {name: (killed / name).stat().st_mtime_ns for name in before} == before  # not rewritten
    assert not list(killed.glob("*.partial"))


def test_half_written_shard_and_lost_report_are_rewritten(standin_train_dir, tmp_path):
    out = tmp_path / "shards"
    write(standin_train_dir, out, shards=4)
    reference = shard_bytes(out)
    shard_1, shard_2 = sorted(out.glob("*.tfrecord"))[1:3]
    # A kill while writing shard 1 leaves a .partial; a kill between the report's rename and the
    # shard's leaves shard 2's report without the shard.
    shard_1.rename(shard_1.with_name(shard_1.name + ".partial"))
    shard_1.with_name(shard_1.name + ".partial").write_bytes(reference[shard_1.name][:100])
    shard_2.unlink()
    result = write(standin_train_dir, out, shards=4)
    assert result["resumed_shards"] == 2 and result["written"] == 24
    assert shard_bytes(out) == reference and not list(out.glob("*.partial"))


def test_other_options_or_foreign_files_are_refused_not_overwritten(standin_train_dir, tmp_path, capsys):
    train = shutil.copytree(standin_train_dir, tmp_path / "train")
    out = tmp_path / "shards"
    write(train, out, shards=3)
    reference = shard_bytes(out)
    assert write_tfrecords.main(["--input-dir", str(train), "--output-dir", str(out), "--shards", "2"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("python -m input_pipeline.write_tfrecords: error: ") and "shards 3 -> 2" in error
    assert "\n" not in error
    folder = sorted(p for p in train.iterdir() if p.is_dir())[0]
    shutil.copy(next(folder.glob("*.png")), folder / "added.png")  # the input changed since the first run
    with pytest.raises(FileExistsError, match="images 24 -> 25"):
        write(train, out, shards=3)
    assert shard_bytes(out) == reference
    (folder / "added.png").unlink()
    next(out.glob("shard_reports/*.json")).unlink()  # a shard whose report is gone is not redone silently
    with pytest.raises(FileExistsError, match="without its report"):
        write(train, out, shards=3)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        write(train, other, shards=3)


def test_bad_images_are_left_out_counted_and_listed(standin_train_dir, tmp_path, capsys):
    train = shutil.copytree(standin_train_dir, tmp_path / "train")
    folder = sorted(p for p in train.iterdir() if p.is_dir())[0]
    real = next(folder.glob("*.png")).read_bytes()
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("not an image")
    (folder / "truncated.png").write_bytes(real[: len(real) // 2])
    assert (
        write_tfrecords.main(["--input-dir", str(train), "--output-dir", str(tmp_path / "shards"), "--shards", "2"])
        == 0
    )
    captured = capsys.readouterr()
    assert "wrote 24 images of 4 identities into 2 shards" in captured.out
    assert "(3 bad images skipped)" in captured.out
    skipped = sorted(line for line in captured.err.splitlines() if line.startswith("skipped: "))
    assert skipped[:2] == [
        f"skipped: {folder.name}/empty.jpg: empty file",
        f"skipped: {folder.name}/text.jpg: not a JPEG or PNG",
    ]
    assert skipped[2].startswith(f"skipped: {folder.name}/truncated.png: cannot decode (") and len(skipped) == 3


def test_non_utf8_names_are_written_and_reported_not_fatal(data_dir, tmp_path):
    """An identity folder b'caf\\xe9' and a broken file b'bad\\xe9.jpg' (Latin-1 names) stopped the
    writer with UnicodeEncodeError / UnicodeDecodeError; now the shards, labels.txt and the report
    keep the original bytes."""
    import os

    from common.run_layout import read_labels

    source = sorted((data_dir / "celeba299").iterdir())[0]
    root = tmp_path / "in"
    root.mkdir()
    odd = os.path.join(os.fsencode(root), b"caf\xe9")
    os.mkdir(odd)
    for photo in sorted(source.glob("*.jpg"))[:3]:
        with open(os.path.join(odd, os.fsencode(photo.name)), "wb") as handle:
            handle.write(photo.read_bytes())
    with open(os.path.join(odd, b"bad\xe9.jpg"), "wb") as handle:
        handle.write(b"not an image")
    totals = write(root, tmp_path / "out", shards=1)
    assert totals["written"] == 3 and len(totals["bad"]) == 1
    assert os.fsencode(totals["bad"][0]).startswith(b"caf\xe9/bad\xe9.jpg: not a JPEG or PNG")
    assert (tmp_path / "out" / "labels.txt").read_bytes() == b"caf\xe9\n"
    assert read_labels(tmp_path / "out" / "labels.txt") == [os.fsdecode(b"caf\xe9")]
