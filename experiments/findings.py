"""Numbers written once: the result fragments that docs/findings.md (and the README) quote, rendered
from the committed run records and the claims registry into marked blocks

    <!-- generated:NAME -->
    ...
    <!-- /generated:NAME -->

NAME is `registry` (every claim with its source, tested or not), `power` (each set's power at each
scale with records), `converged_verdicts` (each claim's outcome in each set that judges it at a
converged scale, early training left out), `demo` (the demo's record), `<set>_<scale>` (the set's verdicts
in brief: the same numbers as experiments/results/<set>_<scale>.md) or `<set>_<scale>_claims` (each
claim the set tests: supports / contradicts / cannot tell, with its CI). Text outside the blocks is
prose: it quotes no result number (tests/test_experiments_findings.py checks that).

    python -m experiments.findings            # render the blocks in place
    python -m experiments.findings --check    # exit 1 when a block is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from common.atomic_files import atomic_write_text
from common.errors import UserValueError, entry_point
from common.paths import DEMO_RECORD, REPO_ROOT
from common.tf_startup import import_tensorflow

import_tensorflow()  # before the tables' code imports it (TensorBoard's tags): without the CPU-only notices

from experiments import run_records, verdicts  # noqa: E402
from experiments.claims import CLAIMS_FILE, Claim, claims_of_set  # noqa: E402
from experiments.experiment_sets import check_registry, load_set, set_names  # noqa: E402
from experiments.results_table import (
    EARLY_TRAINING_SCALES,
    claim_lines,
    headline_lines,
    more_seeds_lines,
    power_line,
    stage_line,
)  # noqa: E402

PROG = "python -m experiments.findings"
FINDINGS = REPO_ROOT / "docs" / "findings.md"
DOCUMENTS = (FINDINGS, REPO_ROOT / "experiments" / "README.md", REPO_ROOT / "README.md")
BLOCK = re.compile(r"(<!-- generated:([\w-]+) -->\n)(.*?)(<!-- /generated:\2 -->)", re.S)
NO_RECORDS = "No run records yet: this block fills in when they are committed."


def _registry_lines(claims: dict[str, Claim]) -> list[str]:
    lines = []
    for claim in claims.values():
        tested = sorted({test.set for test in claim.tests})
        where = f"tested in {', '.join(f'`{name}`' for name in tested)}" if tested else f"untested: {claim.untested}"
        lines.append(f"- `{claim.id}`: {claim.statement} Source: {claim.cite()}. ({where})")
    return lines


def _demo_lines() -> list[str]:
    """The demo's result and wall time from its committed record (`python demo.py --record`)."""
    if not DEMO_RECORD.is_file():
        return [NO_RECORDS]
    record = json.loads(DEMO_RECORD.read_text())
    lfw, stages, source = record["lfw_view2"], record["stage_minutes"], record["source"]
    return [
        f"LFW View 2: **{100 * lfw['accuracy_mean']:.2f} +- {100 * lfw['accuracy_std']:.2f}%** "
        f"(VAL@FAR=1e-3 {100 * lfw['val_mean']:.2f}%, AUC {lfw['auc']:.4f}) after {record['steps']} steps; "
        f"`{record['command']}` took {record['wall_minutes']:.1f} min in all (alignment {stages['align']:.1f}, "
        f"training {stages['train']:.1f}, evaluation {stages['evaluate']:.1f}) on {source['cpu']} "
        f"at {source['revision'][:7] if source['revision'] else 'an unrecorded revision'}."
    ]


def _judged_sets(claims: dict[str, Claim]):
    """(set, scale, its results, its verdicts) for every set and scale with records."""
    for set_name in set_names():
        exp_set = load_set(set_name)
        for scale in exp_set.scales:
            recorded = run_records.recorded_seeds(exp_set, scale)
            if recorded:
                results = run_records.load_recorded(exp_set, scale, max(recorded, exp_set.seeds))
                yield exp_set, scale, results, verdicts.judge_set(exp_set, results, claims_of_set(claims, set_name))


def _power_lines(claims: dict[str, Claim]) -> list[str]:
    lines = [
        f"- `{exp_set.name}` at `{scale}`: {power_line(exp_set, judged).removeprefix('Power: ')}"
        for exp_set, scale, _, judged in _judged_sets(claims)
    ]
    return lines or [NO_RECORDS]


def _converged_verdict_lines(claims: dict[str, Claim]) -> list[str]:
    """Each claim judged at a converged scale once every row its tests name has the set's seeds."""
    lines = [
        f"- **{result.outcome}** ({result.claim.who()}; set `{exp_set.name}`): {result.claim.statement}"
        for exp_set, scale, results, judged in _judged_sets(claims)
        if scale not in EARLY_TRAINING_SCALES
        for result in judged.claims
        if all(
            len(verdicts.evaluated(results[row])) >= exp_set.seeds
            for test in result.tests
            for row in (test.test.row, test.against)
        )
    ]
    return lines or [NO_RECORDS]


def _set_block(set_name: str, scale: str, claims: dict[str, Claim], with_claims: bool) -> list[str]:
    exp_set = load_set(set_name)
    recorded = run_records.recorded_seeds(exp_set, scale)
    if not recorded:
        return [NO_RECORDS]
    seeds = max(recorded, exp_set.seeds)
    results = run_records.load_recorded(exp_set, scale, seeds)
    judged = verdicts.judge_set(exp_set, results, claims_of_set(claims, set_name))
    if with_claims:
        return claim_lines(judged)
    return [
        " ".join(filter(None, (stage_line(scale, results), run_records.training_time_line(results)))),
        "",
        *headline_lines(exp_set, results, judged),
        "",
        power_line(exp_set, judged),
        "",
        *more_seeds_lines(exp_set, scale, results, judged),
        f"Full table: experiments/results/{set_name}_{scale}.md",
    ]


def block_names() -> list[str]:
    """Every name a block may have."""
    names = ["registry", "power", "demo", "converged_verdicts"]
    for set_name in set_names():
        for scale in load_set(set_name).scales:
            names += [f"{set_name}_{scale}", f"{set_name}_{scale}_claims"]
    return names


def render_block(name: str, claims: dict[str, Claim]) -> str:
    """The text between a block's markers."""
    if name == "registry":
        return "\n".join(_registry_lines(claims)) + "\n"
    if name == "power":
        return "\n".join(_power_lines(claims)) + "\n"
    if name == "demo":
        return "\n".join(_demo_lines()) + "\n"
    if name == "converged_verdicts":
        return "\n".join(_converged_verdict_lines(claims)) + "\n"
    with_claims = name.endswith("_claims")
    stem = name.removesuffix("_claims")
    for set_name in set_names():
        for scale in load_set(set_name).scales:
            if stem == f"{set_name}_{scale}":
                return "\n".join(_set_block(set_name, scale, claims, with_claims)) + "\n"
    raise UserValueError(f"no generated block {name!r}; names: {block_names()}")


def render(text: str, claims: dict[str, Claim]) -> str:
    """`text` with every generated block's content rendered afresh."""
    return BLOCK.sub(lambda match: match.group(1) + render_block(match.group(2), claims) + match.group(4), text)


def stale_blocks(text: str, claims: dict[str, Claim]) -> list[str]:
    """Names of the blocks whose content differs from a fresh rendering."""
    return [match.group(2) for match in BLOCK.finditer(text) if match.group(3) != render_block(match.group(2), claims)]


PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*%")
MEAN_SD = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:\+-|±)\s*\d+(?:\.\d+)?\s*%")  # the mean of '74.43 +- 1.15%'
P_VALUE = re.compile(r"\bp\s*(?:=|<|>|<=|>=)\s*(\d*\.\d+|\d+)\b")


def quoted_numbers(text: str) -> list[str]:
    """The percentages and p-values a text quotes, as written ('74.43', '0.05')."""
    return MEAN_SD.findall(text) + PERCENT.findall(text) + P_VALUE.findall(text)


def unsourced_numbers(text: str, sources: str) -> list[str]:
    """The percentages and p-values in the prose of `text` (outside its generated blocks) that
    `sources` (generated tables and blocks, the claims registry) does not contain as a number."""
    return [
        number
        for number in quoted_numbers(outside_blocks(text))
        if not re.search(rf"(?<![\d.]){re.escape(number)}(?!\d)", sources)
    ]


def number_sources(claims: dict[str, Claim]) -> str:
    """Where a quoted result number may come from: every generated table, every block, the registry."""
    tables = "\n".join(path.read_text() for path in sorted((REPO_ROOT / "experiments" / "results").glob("*.md")))
    blocks = "\n".join(render_block(name, claims) for name in block_names())
    return "\n".join((tables, blocks, CLAIMS_FILE.read_text()))


def outside_blocks(text: str) -> str:
    """The text with every generated block's content removed (the prose)."""
    return BLOCK.sub(lambda match: match.group(1) + match.group(4), text)


def render_file(paths=DOCUMENTS, claims: dict[str, Claim] | None = None) -> str:
    """Render the blocks of each existing document that has any; returns the paths rendered."""
    claims = claims if claims is not None else check_registry()
    rendered = []
    for path in paths:
        if not path.exists():
            continue
        text = path.read_text()
        if not BLOCK.search(text):
            continue
        new = render(text, claims)
        if new != text:
            atomic_write_text(path, new)
        rendered.append(str(path.relative_to(REPO_ROOT)))
    return ", ".join(rendered) or "no document with generated blocks"


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only report stale blocks (exit 1 if any)")
    args = parser.parse_args(argv)
    claims = check_registry()
    if args.check:
        stale = {
            str(path.relative_to(REPO_ROOT)): stale_blocks(path.read_text(), claims)
            for path in DOCUMENTS
            if path.exists()
        }
        stale = {path: names for path, names in stale.items() if names}
        for path, names in stale.items():
            print(f"{path}: stale generated blocks {names}; run `python -m experiments.findings`")
        return 1 if stale else 0
    print(render_file(claims=claims))
    return 0


if __name__ == "__main__":
    sys.exit(main())
