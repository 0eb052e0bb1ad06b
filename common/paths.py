"""Where the data and generated files live.

Data root resolution order: an explicit path (a command-line option), the environment variable
FACEREC_DATA, then `../shared/data` next to the repository. Generated files (aligned images,
runs) go under ignored folders of the repository unless told otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

from common.errors import UserFileNotFoundError

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ENV_VAR = "FACEREC_DATA"
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
CACHE_DIR = REPO_ROOT / "cache"
RUNS_DIR = REPO_ROOT / "runs"
# The demo's committed summary (`python demo.py --record`), which the README's demo line renders.
DEMO_RECORD = REPO_ROOT / "experiments" / "results" / "records" / "demo.json"


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """The data root: `explicit`, else $FACEREC_DATA, else ../shared/data beside the repo."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return DEFAULT_DATA_ROOT


def require_data(relative: str, explicit: str | os.PathLike | None = None) -> Path:
    """Path of `relative` under the data root, or a one-line error saying how to provide it."""
    path = data_root(explicit) / relative
    if not path.exists():
        raise UserFileNotFoundError(
            f"{path} not found: set --data-root or ${DATA_ENV_VAR} to a folder holding {relative!r} (see docs/data.md)"
        )
    return path
