"""benchmarks/bench_scan.py end to end on a scaled-down synthetic VGGFace2 tree."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.paths import REPO_ROOT

pytestmark = pytest.mark.integration


def test_scan_bench_builds_a_tree_of_vggface2_counts_and_times_every_training_stage(tmp_path):
    tree = tmp_path / "tree"
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_scan.py", "--tree", str(tree), "--identities", "3", "--repeats", "1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    folders = sorted(path for path in tree.iterdir() if path.is_dir())
    files = sum(len(list(folder.iterdir())) for folder in folders)
    assert len(folders) == 3 and all(folder.name.startswith("n") for folder in folders)
    assert f"3 identities, {files} empty files (scaled down: 3 of 9131 identities)" in result.stdout
    for stage in (
        "bare os.scandir walk",
        "scan_identity_folders",
        "check_image_size",
        "FileList.save",
        "FileList.absolute_paths",
    ):
        assert any(line.startswith(stage) for line in result.stdout.splitlines()), stage
