"""The LFW download path, exercised against local files (no network)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from common import lfw_download as dl


def _make_archive(folder: Path) -> Path:
    archive = folder / "lfw-deepfunneled.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        payload = b"\xff\xd8fake-jpeg"
        info = tarfile.TarInfo("lfw-deepfunneled/Ann_Doe/Ann_Doe_0001.jpg")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return archive


def _files_for(server: Path):
    (server / "pairs.txt").write_text("10\t300\n")
    return (
        dl.LfwFile(
            "lfw-deepfunneled.tgz",
            "lfw-deepfunneled.tgz",
            hashlib.md5((server / "lfw-deepfunneled.tgz").read_bytes()).hexdigest(),
        ),
        dl.LfwFile("pairs.txt", "lfw_pairs.txt", hashlib.md5(b"10\t300\n").hexdigest()),
    )


def test_download_from_local_server_unpacks_and_verifies(tmp_path):
    server = tmp_path / "server"
    server.mkdir()
    _make_archive(server)
    files = _files_for(server)
    root = tmp_path / "data"
    dl.download_lfw(root, base_url=server.as_uri() + "/", files=files)
    assert (root / "lfw" / "Ann_Doe" / "Ann_Doe_0001.jpg").read_bytes() == b"\xff\xd8fake-jpeg"
    assert (root / "lfw_pairs.txt").read_text() == "10\t300\n"
    assert not list(root.glob("*.part")) and not (root / "lfw-deepfunneled.tgz").exists()


def test_bad_checksum_is_refused_and_leaves_nothing(tmp_path):
    server = tmp_path / "server"
    server.mkdir()
    _make_archive(server)
    bad = (dl.LfwFile("lfw-deepfunneled.tgz", "lfw-deepfunneled.tgz", "0" * 32),)
    root = tmp_path / "data"
    with pytest.raises(dl.ChecksumError, match="does not match"):
        dl.download_lfw(root, base_url=server.as_uri() + "/", files=bad)
    assert not (root / "lfw").exists() and list(root.iterdir()) == []


def test_official_pairs_checksums_match_shared_copies(data_dir):
    for item in dl.LFW_FILES:
        if item.local_name.endswith(".txt"):
            assert dl.md5_of(data_dir / item.local_name) == item.md5, item.local_name
