"""Shared fixtures: the real data root (a missing one fails under CI, skips elsewhere), and two
logical CPU devices so the multi-replica tests run MirroredStrategy on a CPU-only machine."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from common.paths import data_root

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


@pytest.fixture(scope="session")
def data_dir():
    root = data_root()
    if not (root / "lfw").is_dir():
        pytest.skip(f"real data not found at {root} (set FACEREC_DATA)")
    return root
