"""Experiment sets: experiments/sets/<name>.yaml lists the rows of one comparison of the article.

A set file holds a `title`, the article's `claim` being tested (`article`), `rows`, each with a
`name` and a `label`, and optionally the `reference` row the others are compared with (default:
the first row). Row `r` at scale `s` with seed `k` is trained from
experiments/configs/<set>/<s>_<r>.yaml into runs/<s>/<set>/<r>/seed<k>/.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.errors import UserValueError
from common.paths import REPO_ROOT, RUNS_DIR
from common.strict_yaml import DuplicateKeyError, load_unique

SETS_DIR = REPO_ROOT / "experiments" / "sets"
CONFIGS_DIR = REPO_ROOT / "experiments" / "configs"
SET_KEYS = {"title", "article", "rows", "reference"}
ROW_KEYS = {"name", "label"}


class SetError(UserValueError):
    """A set file that does not fit the format (the message names the file and key)."""


@dataclass(frozen=True)
class Row:
    name: str
    label: str


@dataclass(frozen=True)
class ExperimentSet:
    name: str
    title: str
    article: str
    rows: tuple[Row, ...]
    reference: str

    def row_names(self) -> list[str]:
        return [row.name for row in self.rows]

    def config_path(self, row_name: str, scale: str) -> Path:
        return CONFIGS_DIR / self.name / f"{scale}_{row_name}.yaml"

    def run_dir(self, row_name: str, scale: str, seed: int) -> Path:
        return RUNS_DIR / scale / self.name / row_name / f"seed{seed}"

    def lfw_dir(self, row_name: str, scale: str) -> str:
        """The aligned LFW folder the row's config evaluates on (as written in the config)."""
        from training.config import load_config  # imports TF-free code only

        return load_config(self.config_path(row_name, scale)).eval.lfw_dir


def set_names() -> list[str]:
    return sorted(path.stem for path in SETS_DIR.glob("*.yaml"))


def load_set(name: str) -> ExperimentSet:
    path = SETS_DIR / f"{name}.yaml"
    if not path.exists():
        raise SetError(f"{path}: no such experiment set; sets: {set_names()}")
    try:
        raw = load_unique(path.read_text()) or {}
    except DuplicateKeyError as error:
        raise SetError(f"{path}: {error}") from None
    unknown = set(raw) - SET_KEYS
    if unknown:
        raise SetError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(SET_KEYS)}")
    rows = []
    for index, entry in enumerate(raw.get("rows") or []):
        if not isinstance(entry, dict) or set(entry) != ROW_KEYS:
            raise SetError(f"{path}: rows[{index}] must have exactly the keys {sorted(ROW_KEYS)}")
        rows.append(Row(name=str(entry["name"]), label=str(entry["label"])))
    if not rows:
        raise SetError(f"{path}: no rows")
    reference = str(raw.get("reference", rows[0].name))
    if reference not in [row.name for row in rows]:
        raise SetError(f"{path}: reference {reference!r} is not a row; rows: {[row.name for row in rows]}")
    exp_set = ExperimentSet(name, str(raw.get("title", name)), str(raw.get("article", "")).strip(), tuple(rows),
                            reference)
    for row in rows:
        for scale in ("cpu", "full"):
            if not exp_set.config_path(row.name, scale).exists():
                raise SetError(f"{path}: row {row.name!r} has no config "
                               f"{exp_set.config_path(row.name, scale).relative_to(REPO_ROOT)}")
    return exp_set
