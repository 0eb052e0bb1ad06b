"""Fetch LFW (deep-funneled images + official pairs files) into a data root, verified by MD5.

Used by `demo.py --download` when the data root lacks LFW. Every file is checked against the MD5
published for the official archive before anything is unpacked, and files are written to a
temporary name first, so an interrupted or corrupted download never leaves a half-written data set.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from common.errors import UserError

OFFICIAL_BASE_URL = "http://vis-www.cs.umass.edu/lfw/"


@dataclass(frozen=True)
class LfwFile:
    remote_name: str
    local_name: str
    md5: str


# MD5s of the official files (the three pairs files match the copies in ../shared/data).
LFW_FILES = (
    LfwFile("lfw-deepfunneled.tgz", "lfw-deepfunneled.tgz", "68331da3eb755a505a502b5aacb3c201"),
    LfwFile("pairs.txt", "lfw_pairs.txt", "9f1ba174e4e1c508ff7cdf10ac338a7d"),
    LfwFile("pairsDevTest.txt", "lfw_pairsDevTest.txt", "5132f7440eb68cf58910c8a45a2ac10b"),
    LfwFile("pairsDevTrain.txt", "lfw_pairsDevTrain.txt", "4f27cbf15b2da4a85c1907eb4181ad21"),
)

GET_LFW_HELP = (
    "LFW not found under {root}. Get it with `python demo.py --download` (fetches the official "
    "deep-funneled archive and pairs files from " + OFFICIAL_BASE_URL + ", checked by MD5), or "
    "download lfw-deepfunneled.tgz and pairs.txt yourself, unpack the archive so that "
    "{root}/lfw/<Person>/<Person>_0001.jpg exists, save pairs.txt as {root}/lfw_pairs.txt, and/or "
    "point --data-root / $FACEREC_DATA at that folder."
)


class ChecksumError(UserError, RuntimeError):
    """A download that is not the official file (a retry or another mirror may fix it)."""


def md5_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_verified(url: str, dest: Path, md5: str) -> Path:
    """Download `url` to `dest` (skipped if `dest` already has the right MD5)."""
    if dest.exists() and md5_of(dest) == md5:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, out)
        actual = md5_of(Path(tmp_name))
        if actual != md5:
            raise ChecksumError(f"{url}: MD5 {actual} does not match the official {md5}; not used")
        os.replace(tmp_name, dest)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
    return dest


def _extract_lfw_archive(archive: Path, root: Path) -> None:
    """Unpack lfw-deepfunneled/<Person>/... as root/lfw/<Person>/..., atomically."""
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".lfw-unpack-"))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(staging, filter="data")
        top = staging / "lfw-deepfunneled"
        if not top.is_dir():
            raise ChecksumError(f"{archive}: no lfw-deepfunneled/ folder inside")
        os.replace(top, root / "lfw")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def download_lfw(root: Path, base_url: str = OFFICIAL_BASE_URL, files=LFW_FILES) -> None:
    """Make `root` hold lfw/ and the pairs files; anything already present is kept."""
    root.mkdir(parents=True, exist_ok=True)
    for item in files:
        dest = root / item.local_name
        if item.local_name.endswith(".tgz"):
            if (root / "lfw").is_dir():
                continue
            fetch_verified(base_url + item.remote_name, dest, item.md5)
            _extract_lfw_archive(dest, root)
            dest.unlink()
        elif not dest.exists():
            fetch_verified(base_url + item.remote_name, dest, item.md5)
