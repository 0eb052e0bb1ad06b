"""Shared fixtures: the real data root, skipped cleanly where it is absent."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from common.paths import data_root


@pytest.fixture(scope="session")
def data_dir():
    root = data_root()
    if not (root / "lfw").is_dir():
        pytest.skip(f"real data not found at {root} (set FACEREC_DATA)")
    return root
