"""Shared fixtures: the real data root (a missing one fails under CI, skips elsewhere), and two
logical CPU devices so the multi-replica tests run MirroredStrategy on a CPU-only machine."""
from __future__ import annotations

import os
from collections import Counter

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from common.paths import data_root

# Fixtures that several test modules use, kept in a module pytest does not collect as tests.
pytest_plugins = ["tests.recognition_fixtures"]

# Before any test touches TensorFlow: the CPU becomes 2 logical devices (the same cores and
# threads), the replicas of `train.strategy: mirrored` in tests/test_train_distributed.py. Ops
# not placed by a strategy run on the first one, as they do unsplit.
CPU_REPLICAS = 2


def _split_cpu() -> str | None:
    from training.strategy import split_cpu
    try:
        split_cpu(CPU_REPLICAS)
    except RuntimeError as error:  # TensorFlow was initialised before this conftest ran
        return str(error)
    return None


CPU_SPLIT_ERROR = _split_cpu()


def running_in_ci() -> bool:
    """CI systems set CI=true (GitHub Actions, GitLab, ...; .ci/run sets it too)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def real_data_missing() -> str | None:
    """None when the data root holds LFW, else a one-line reason."""
    root = data_root()
    if (root / "lfw").is_dir():
        return None
    return f"real data not found at {root} (expected lfw/, lfw_pairs.txt, celeba299/, ...; " \
           "set FACEREC_DATA or see README, Data)"


def pytest_sessionstart(session):
    """Under CI the README promises the data: a missing data root fails the session in one line
    instead of skipping every test that needs it. Checked once, in the main process, not in each
    pytest-xdist worker (a worker's pytest.exit is an INTERNALERROR)."""
    if not running_in_ci() or hasattr(session.config, "workerinput"):
        return
    reason = real_data_missing()
    if reason:
        pytest.exit(f"CI=true and {reason}", returncode=1)


def pytest_collection_modifyitems(items):
    """The files with the most slow tests first. pytest-xdist hands out whole files in this order
    (pytest.ini: --dist loadfile --no-loadscope-reorder), so the long files start at once while
    the many short ones fill the other worker, instead of a long file running alone at the end."""
    slow_functions = {(item.path, getattr(item, "originalname", item.name))
                      for item in items if item.get_closest_marker("slow")}
    slow_per_file = Counter(path for path, _ in slow_functions)  # a parametrized test counts once
    items.sort(key=lambda item: -slow_per_file[item.path])  # stable: collection order within a rank


def pytest_terminal_summary(terminalreporter):
    """On a clone without the data the skips stay; say once why, and how to run them."""
    skipped = [r for r in terminalreporter.stats.get("skipped", [])
               if "real data not found" in str(getattr(r, "longrepr", ""))]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} tests skipped: {real_data_missing()}", yellow=True)


@pytest.fixture(scope="session")
def data_dir():
    reason = real_data_missing()
    if reason:
        pytest.skip(reason)
    return data_root()
