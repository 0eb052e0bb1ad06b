"""Experiment sets: experiments/sets/<name>.yaml lists the rows of one comparison.

A set file holds a `title`, the ids of the claims it tests (`claims`, stated once in
experiments/claims.yaml), the `equivalence_margin` in accuracy points that its TOST uses (fixed
before the runs are compared; experiments/significance.py), `rows`, each with a `name` and a
`label`, and optionally the `reference` row the others are compared with (default: the first row),
`seeds`, the runs per row that `experiments/run.py` makes unless told (default 3), and
`compares_budgets: true` for a set whose rows differ in their training length on purpose (the
scale pilot); elsewhere rows of other lengths are not compared.
A set is trained at the scales for which its rows have configs (all rows or none). Row `r` at scale `s` with seed `k`
is trained from experiments/configs/<set>/<s>_<r>.yaml into runs/<s>/<set>/<r>/seed<k>/. A row with
`same_as: <other set>/<row>` is that set's row: its config and its runs, trained once for both sets
(e.g. the metric-learning losses compared with set 2's AM-softmax runs). `same_as: {cpu: <set>/<row>}`
does so at the named scales only, where the two configs are the same there and not at the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from common.errors import UserValueError
from common.paths import REPO_ROOT, RUNS_DIR
from common.strict_yaml import DuplicateKeyError, load_unique
from experiments.claims import Claim, check_sets, load_claims

SETS_DIR = REPO_ROOT / "experiments" / "sets"
CONFIGS_DIR = REPO_ROOT / "experiments" / "configs"
SET_KEYS = {"title", "claims", "equivalence_margin", "rows", "reference", "seeds", "compares_budgets"}
REQUIRED_SET_KEYS = {"title", "claims", "equivalence_margin", "rows"}
DEFAULT_SEEDS = 3  # the fewest that give a seed sd and a test
ROW_KEYS = {"name", "label"}
OPTIONAL_ROW_KEYS = {"same_as"}
SCALES = ("cpu", "cpu_long", "full")


class SetError(UserValueError):
    """A set file that does not fit the format (the message names the file and key)."""


@dataclass(frozen=True)
class Row:
    name: str
    label: str
    same_as: dict[str, str] = field(default_factory=dict)  # scale -> "<set>/<row>" whose config and runs it shares

    def same_as_parts(self, scale: str) -> tuple[str, str] | None:
        """(set, row) that this row is at `scale`, or None; row is "" when the text has no '/'."""
        if scale not in self.same_as:
            return None
        other_set, _, other_row = self.same_as[scale].partition("/")
        return other_set, other_row


@dataclass(frozen=True)
class ExperimentSet:
    name: str
    title: str
    claims: tuple[str, ...]
    equivalence_margin: float  # accuracy points
    rows: tuple[Row, ...]
    reference: str
    seeds: int = DEFAULT_SEEDS
    scales: tuple[str, ...] = SCALES  # the scales its rows have configs for
    compares_budgets: bool = False  # rows of different training lengths are compared (the scale pilot)

    def row_names(self) -> list[str]:
        return [row.name for row in self.rows]

    def home(self, row_name: str, scale: str) -> tuple[str, str]:
        """(set, row) that owns the row's config and runs at `scale`: itself, or the row it is the
        same as there."""
        row = next(row for row in self.rows if row.name == row_name)
        return row.same_as_parts(scale) or (self.name, row_name)

    def config_path(self, row_name: str, scale: str) -> Path:
        set_name, name = self.home(row_name, scale)
        return CONFIGS_DIR / set_name / f"{scale}_{name}.yaml"

    def run_dir(self, row_name: str, scale: str, seed: int) -> Path:
        set_name, name = self.home(row_name, scale)
        return RUNS_DIR / scale / set_name / name / f"seed{seed}"

    def lfw_dir(self, row_name: str, scale: str) -> str:
        """The aligned LFW folder the row's config evaluates on (as written in the config)."""
        from training.config import load_config  # imports TF-free code only

        return load_config(self.config_path(row_name, scale)).eval.lfw_dir


def set_names() -> list[str]:
    return sorted(path.stem for path in SETS_DIR.glob("*.yaml"))


def _read_set_file(name: str) -> tuple[Path, dict]:
    path = SETS_DIR / f"{name}.yaml"
    if not path.exists():
        raise SetError(f"{path}: no such experiment set; sets: {set_names()}")
    try:
        raw = load_unique(path.read_text()) or {}
    except DuplicateKeyError as error:
        raise SetError(f"{path}: {error}") from None
    return path, raw


def _parse_same_as(path: Path, name: str, value) -> dict[str, str]:
    """`same_as: <set>/<row>` (every scale) or `{<scale>: <set>/<row>, ...}` -> scale -> target."""
    if isinstance(value, dict):
        unknown = set(value) - set(SCALES)
        if unknown or not value:
            raise SetError(f"{path}: row {name!r}: same_as scales must be among {list(SCALES)}, got {sorted(value)}")
        return {str(scale): str(target) for scale, target in value.items()}
    return {scale: str(value) for scale in SCALES}


def _check_same_as(path: Path, set_name: str, row: Row) -> None:
    """`same_as` names a row of another set that is itself trained there (one level, no cycles)."""
    for scale, target in row.same_as.items():
        other_set, other_row = row.same_as_parts(scale)
        if not other_row or other_set == set_name:
            raise SetError(f"{path}: row {row.name!r}: same_as must be '<other set>/<row>', got {target!r}")
        other_path, other_raw = _read_set_file(other_set)
        entries = {str(entry.get("name")): entry for entry in other_raw.get("rows") or [] if isinstance(entry, dict)}
        if other_row not in entries:
            raise SetError(
                f"{path}: row {row.name!r}: same_as {target!r}: {other_path.name} has no row "
                f"{other_row!r}; rows: {sorted(entries)}"
            )
        if "same_as" in entries[other_row]:
            raise SetError(
                f"{path}: row {row.name!r}: same_as {target!r} is itself a same_as row; name the row it is the same as"
            )


def load_set(name: str) -> ExperimentSet:
    path, raw = _read_set_file(name)
    unknown = set(raw) - SET_KEYS
    if unknown:
        raise SetError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(SET_KEYS)}")
    missing = REQUIRED_SET_KEYS - set(raw)
    if missing:
        raise SetError(f"{path}: missing key(s) {sorted(missing)}")
    rows = []
    for index, entry in enumerate(raw.get("rows") or []):
        if not isinstance(entry, dict) or not ROW_KEYS <= set(entry) <= ROW_KEYS | OPTIONAL_ROW_KEYS:
            raise SetError(
                f"{path}: rows[{index}] must have the keys {sorted(ROW_KEYS)} and may have {sorted(OPTIONAL_ROW_KEYS)}"
            )
        same_as = _parse_same_as(path, str(entry["name"]), entry["same_as"]) if "same_as" in entry else {}
        rows.append(Row(name=str(entry["name"]), label=str(entry["label"]), same_as=same_as))
        _check_same_as(path, name, rows[-1])
    if not rows:
        raise SetError(f"{path}: no rows")
    reference = str(raw.get("reference", rows[0].name))
    if reference not in [row.name for row in rows]:
        raise SetError(f"{path}: reference {reference!r} is not a row; rows: {[row.name for row in rows]}")
    seeds = raw.get("seeds", DEFAULT_SEEDS)
    if type(seeds) is not int or seeds < 1:
        raise SetError(f"{path}: seeds must be a whole number >= 1, got {seeds!r}")
    compares_budgets = raw.get("compares_budgets", False)
    if type(compares_budgets) is not bool:
        raise SetError(f"{path}: compares_budgets must be true or false, got {compares_budgets!r}")
    exp_set = ExperimentSet(
        name,
        str(raw["title"]),
        _claim_ids(path, raw["claims"]),
        _margin(path, raw["equivalence_margin"]),
        tuple(rows),
        reference,
        seeds,
        compares_budgets=compares_budgets,
    )
    return replace(exp_set, scales=_scales(path, exp_set))


def _claim_ids(path: Path, value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SetError(f"{path}: claims must be a list of claim ids (experiments/claims.yaml)")
    return tuple(value)


def _margin(path: Path, value) -> float:
    if type(value) not in (int, float) or not value > 0:
        raise SetError(f"{path}: equivalence_margin must be a number of accuracy points > 0, got {value!r}")
    return float(value)


def _scales(path: Path, exp_set: ExperimentSet) -> tuple[str, ...]:
    """The scales at which every row has its config (a `same_as` row: the other set's); a scale where
    some of the set's own rows have one and others not is an error."""
    scales = []
    for scale in SCALES:
        missing = [row.name for row in exp_set.rows if not exp_set.config_path(row.name, scale).exists()]
        own = [row.name for row in exp_set.rows if row.same_as_parts(scale) is None]
        if set(own) <= set(missing):
            continue
        if missing:
            raise SetError(
                f"{path}: row {missing[0]!r} has no config "
                f"{exp_set.config_path(missing[0], scale).relative_to(REPO_ROOT)}"
            )
        scales.append(scale)
    if not scales:
        raise SetError(f"{path}: no row has a config at any scale {list(SCALES)}")
    return tuple(scales)


def check_registry() -> dict[str, Claim]:
    """The claims registry, checked against every set file (tests name existing sets and rows; each
    set names exactly the claims that test it)."""
    claims = load_claims()
    sets = {name: load_set(name) for name in set_names()}
    check_sets(claims, {name: (exp_set.row_names(), list(exp_set.claims)) for name, exp_set in sets.items()})
    return claims
