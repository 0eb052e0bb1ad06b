"""The lint settings of pyproject.toml hold for the whole tree (CI runs this with the test command)."""

import subprocess
import sys

import pytest

from common.paths import REPO_ROOT


@pytest.mark.integration
def test_ruff_finds_nothing():
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.integration
def test_ruff_format_changes_nothing():
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_test_module_holds_tests_and_helpers_are_not_named_test():
    """pytest collects tests/test_*.py: a helper module named so is collected for nothing, and a
    module's tests are found by its name (tests/test_<package>_<module>.py)."""
    modules = sorted((REPO_ROOT / "tests").glob("test_*.py"))
    assert modules
    empty = [path.name for path in modules if "\ndef test_" not in path.read_text()]
    assert not empty, f"helper modules named test_*: {empty}"
