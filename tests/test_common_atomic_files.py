import json
import os
import stat

import pytest

from common.atomic_files import atomic_output, atomic_write_json, atomic_write_text, private_dir


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_private_file_is_0600_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        atomic_write_text(tmp_path / "gallery.json", "x", private=True)
    finally:
        os.umask(old)
    assert mode(tmp_path / "gallery.json") == 0o600


def test_shared_file_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "table.md", "x")
    finally:
        os.umask(old)
    assert mode(tmp_path / "table.md") == 0o644


def test_private_dir_is_0700(tmp_path):
    assert mode(private_dir(tmp_path / "a" / "b")) == 0o700


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "eval.json"
    atomic_write_json(target, {"accuracy": 0.9})
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temporary:
            temporary.write_text("{trunc")
            raise RuntimeError("disk full")
    assert json.loads(target.read_text()) == {"accuracy": 0.9}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval.json"]


def test_replaces_the_old_content_whole(tmp_path):
    target = tmp_path / "labels.txt"
    atomic_write_text(target, "a\nb\n")
    atomic_write_text(target, "c\n")
    assert target.read_text() == "c\n"
