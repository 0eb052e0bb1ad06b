"""One writer per folder: the second holder is refused, naming the first one's pid."""

from __future__ import annotations

import os

import pytest

from common.dir_lock import FolderInUseError, exclusive_folder, lock_path


def test_a_second_holder_is_refused_and_the_lock_is_freed_after(tmp_path):
    folder = tmp_path / "out"
    with exclusive_folder(folder, "the output dir"):
        assert lock_path(folder).read_text().strip() == str(os.getpid())
        with pytest.raises(
            FolderInUseError,
            match=rf"out: the output dir is in use by process "
            rf"{os.getpid()} ",
        ):
            with exclusive_folder(folder, "the output dir"):
                pass
    with exclusive_folder(folder, "the output dir"):  # released when the first block ended
        pass
    assert not folder.exists()  # the lock lives beside the folder, not in it


def test_the_lock_is_private_and_survives_the_folder_being_moved(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    with exclusive_folder(folder, "the run dir"):
        folder.rename(tmp_path / "run.replaced")
        folder.mkdir()
        with pytest.raises(FolderInUseError):
            with exclusive_folder(folder, "the run dir"):
                pass
    assert oct(lock_path(folder).stat().st_mode & 0o777) == "0o600"
