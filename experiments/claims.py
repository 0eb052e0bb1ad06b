"""The claims registry (experiments/claims.yaml): what each claim says, who says it, which
comparisons test it.

`load_claims()` reads and checks the file's own structure (ids unique, sources of a known kind
with the fields that kind needs, tests well formed, untested claims say why); `check_sets(claims,
sets)` checks that every test names a set and rows that exist (experiment_sets.check_registry
calls it with the set files). The file's format is described in its header.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.errors import UserValueError
from common.paths import REPO_ROOT
from common.strict_yaml import DuplicateKeyError, load_unique

CLAIMS_FILE = REPO_ROOT / "experiments" / "claims.yaml"

# source kind -> the fields it must have
SOURCE_FIELDS = {
    "article": ("section", "quote"),
    "author_readme": ("date",),
    "paper": ("reference",),
    "code": ("reference",),
    "this_repository": ("reference",),
}
ACCURACY, TAKE_OFF = "accuracy", "take_off"
EXPECTATIONS = {ACCURACY: ("better", "worse", "not_worse", "equivalent", "open"), TAKE_OFF: ("more", "fewer", "open")}
TEST_KEYS = {"set", "row", "against", "measure", "expect"}
CLAIM_KEYS = {"id", "statement", "source", "tests", "untested"}


class ClaimsError(UserValueError):
    """The registry does not fit its format (the message names the claim and the key)."""


@dataclass(frozen=True)
class ClaimTest:
    set: str
    row: str
    against: str | None  # None: the set's reference row
    measure: str
    expect: str


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    source: dict
    tests: tuple[ClaimTest, ...]
    untested: str = ""

    def who(self) -> str:
        """Who makes the claim, in a few words: 'the article', "the author's README, 2018-08-29"."""
        kind = self.source["kind"]
        if kind == "article":
            return "the article"
        if kind == "author_readme":
            return f"the author's README, {self.source['date']}"
        return kind.replace("_", " ")

    def cite(self) -> str:
        """Who makes the claim, in one phrase (the article's section, the README's date, ...)."""
        kind = self.source["kind"]
        if kind == "article":
            return f"the article, {self.source['section']}: “{self.source['quote']}”"
        if kind == "author_readme":
            return f"the author's repository README, {self.source['date']}"
        if kind == "this_repository":
            return f"this repository ({self.source['reference']})"
        return f"{kind}: {self.source['reference']}"


def _test(claim_id: str, index: int, entry) -> ClaimTest:
    where = f"claim {claim_id!r}: tests[{index}]"
    if not isinstance(entry, dict) or not {"set", "row", "expect"} <= set(entry) <= TEST_KEYS:
        raise ClaimsError(f"{CLAIMS_FILE}: {where} needs set, row, expect and may have against, measure")
    measure = str(entry.get("measure", ACCURACY))
    if measure not in EXPECTATIONS:
        raise ClaimsError(f"{CLAIMS_FILE}: {where}: measure must be one of {sorted(EXPECTATIONS)}, got {measure!r}")
    expect = str(entry["expect"])
    if expect not in EXPECTATIONS[measure]:
        raise ClaimsError(
            f"{CLAIMS_FILE}: {where}: expect for {measure} must be one of {list(EXPECTATIONS[measure])}, got {expect!r}"
        )
    against = entry.get("against")
    return ClaimTest(str(entry["set"]), str(entry["row"]), None if against is None else str(against), measure, expect)


def _source(claim_id: str, source) -> dict:
    if not isinstance(source, dict) or source.get("kind") not in SOURCE_FIELDS:
        raise ClaimsError(f"{CLAIMS_FILE}: claim {claim_id!r}: source.kind must be one of {sorted(SOURCE_FIELDS)}")
    missing = [name for name in SOURCE_FIELDS[source["kind"]] if not str(source.get(name, "")).strip()]
    if missing:
        raise ClaimsError(f"{CLAIMS_FILE}: claim {claim_id!r}: a {source['kind']} source needs {missing}")
    return {key: str(value) for key, value in source.items()}


def _claim(index: int, entry) -> Claim:
    if not isinstance(entry, dict) or not {"id", "statement", "source"} <= set(entry) <= CLAIM_KEYS:
        raise ClaimsError(f"{CLAIMS_FILE}: claims[{index}] needs id, statement, source and tests or untested")
    claim_id = str(entry["id"])
    tests = tuple(_test(claim_id, i, test) for i, test in enumerate(entry.get("tests") or []))
    untested = str(entry.get("untested") or "").strip()
    if bool(tests) == bool(untested):
        raise ClaimsError(f"{CLAIMS_FILE}: claim {claim_id!r} must have either tests or `untested: <why>`")
    return Claim(
        claim_id, " ".join(str(entry["statement"]).split()), _source(claim_id, entry["source"]), tests, untested
    )


def load_claims(path: Path = CLAIMS_FILE) -> dict[str, Claim]:
    """id -> Claim, in the file's order."""
    try:
        raw = load_unique(Path(path).read_text()) or {}
    except DuplicateKeyError as error:
        raise ClaimsError(f"{path}: {error}") from None
    claims: dict[str, Claim] = {}
    for index, entry in enumerate(raw.get("claims") or []):
        claim = _claim(index, entry)
        if claim.id in claims:
            raise ClaimsError(f"{path}: claim id {claim.id!r} appears twice")
        claims[claim.id] = claim
    if not claims:
        raise ClaimsError(f"{path}: no claims")
    return claims


def check_sets(claims: dict[str, Claim], sets: dict[str, tuple[list[str], list[str]]]) -> None:
    """`sets`: set name -> (its row names, the claim ids its file names). Every test names an
    existing set and rows; a set names exactly the claims that test it."""
    named_by_tests: dict[str, set[str]] = {name: set() for name in sets}
    for claim in claims.values():
        for test in claim.tests:
            if test.set not in sets:
                raise ClaimsError(f"claim {claim.id!r}: no set {test.set!r}; sets: {sorted(sets)}")
            rows = sets[test.set][0]
            for row in filter(None, (test.row, test.against)):
                if row not in rows:
                    raise ClaimsError(f"claim {claim.id!r}: set {test.set!r} has no row {row!r}; rows: {rows}")
            named_by_tests[test.set].add(claim.id)
    for name, (_, named) in sets.items():
        unknown = sorted(set(named) - set(claims))
        if unknown:
            raise ClaimsError(f"set {name!r} names unknown claim(s) {unknown}")
        if set(named) != named_by_tests[name]:
            raise ClaimsError(
                f"set {name!r} names claims {sorted(named)} but the registry tests {sorted(named_by_tests[name])} in it"
            )


def claims_of_set(claims: dict[str, Claim], set_name: str) -> list[Claim]:
    """The claims with a test in the set, in registry order."""
    return [claim for claim in claims.values() if any(test.set == set_name for test in claim.tests)]
