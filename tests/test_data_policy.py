"""tests/conftest.py's data policy: under CI a missing data root fails the session in one line;
on a user's clone the tests that need the data skip, and the summary says why once."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from common.paths import DATA_ENV_VAR, REPO_ROOT

pytestmark = pytest.mark.integration

NEEDS_DATA = "tests/test_align_image_io.py"  # small; most of its tests read a real LFW photo


def pytest_without_data(tmp_path, ci: bool):
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env.update({DATA_ENV_VAR: str(tmp_path / "no_data"), "TF_CPP_MIN_LOG_LEVEL": "2"})
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", NEEDS_DATA, "-q"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_missing_data_under_ci_fails_the_session_in_one_line(tmp_path):
    done = pytest_without_data(tmp_path, ci=True)
    assert done.returncode == 1, done.stdout[-2000:]
    lines = [line for line in done.stdout.splitlines() if "real data not found" in line]
    assert len(lines) == 1 and "CI=true" in lines[0] and str(tmp_path / "no_data") in lines[0]
    assert " passed" not in done.stdout and " skipped" not in done.stdout  # nothing ran


def test_missing_data_on_a_clone_skips_with_one_summary_line(tmp_path):
    done = pytest_without_data(tmp_path, ci=False)
    assert done.returncode == 0, done.stdout[-2000:]
    summary = [
        line
        for line in done.stdout.splitlines()
        if line.startswith(tuple("0123456789")) and "tests skipped: real data not found" in line
    ]
    assert len(summary) == 1 and str(tmp_path / "no_data") in summary[0]
    assert " skipped" in done.stdout.splitlines()[-1] and " passed" in done.stdout.splitlines()[-1]
