"""experiments/findings.py: the generated blocks of the docs are fresh, and their prose quotes no
result number that no generated table holds."""

from __future__ import annotations

import json

import pytest

from common.errors import UserValueError
from common.paths import REPO_ROOT
from experiments import findings, run_records
from experiments.experiment_sets import check_registry, load_set

README = REPO_ROOT / "README.md"


@pytest.fixture(scope="module")
def claims():
    return check_registry()


@pytest.fixture(scope="module")
def sources(claims):
    return findings.number_sources(claims)


@pytest.mark.parametrize("document", findings.DOCUMENTS[:2], ids=lambda path: path.name)
def test_the_generated_blocks_are_fresh(document, claims):
    text = document.read_text()
    assert findings.BLOCK.search(text), f"{document} has no generated block"
    assert findings.stale_blocks(text, claims) == [], "run `python -m experiments.findings`"


def test_findings_quote_no_number_that_no_generated_table_holds(sources):
    assert findings.unsourced_numbers(findings.FINDINGS.read_text(), sources) == []


def test_the_readme_quotes_no_number_that_no_generated_table_holds(claims, sources):
    text = README.read_text()
    if not findings.BLOCK.search(text):
        pytest.skip("README.md embeds no generated block yet (its rewrite adds them)")
    assert findings.stale_blocks(text, claims) == []
    assert findings.unsourced_numbers(text, sources) == []


def test_findings_render_the_committed_records(claims, monkeypatch):
    block = findings.render_block("optimizer_bn_cpu", claims)
    table = (REPO_ROOT / "experiments" / "results" / "optimizer_bn_cpu.md").read_text()
    for line in block.splitlines():
        if line.startswith("| ") and "(`" in line:
            name = line.split("(`")[1].split("`)")[0]
            accuracy = line.split(" | ")[2]
            full = next(row for row in table.splitlines() if row.startswith("| ") and f"(`{name}`)" in row)
            assert f" | {accuracy} | " in full  # the same number as the full table
    assert "**Early training**" in block
    assert "Full table: experiments/results/margin_cpu_long.md" in findings.render_block("margin_cpu_long", claims)
    monkeypatch.setattr(run_records, "recorded_seeds", lambda exp_set, scale: 0)
    assert findings.render_block("margin_cpu_long", claims) == findings.NO_RECORDS + "\n"
    with pytest.raises(UserValueError, match="no generated block 'nonsense'"):
        findings.render_block("nonsense", claims)


def test_a_stale_block_and_a_retyped_number_are_caught(claims, sources):
    fresh = findings.render(
        "x\n<!-- generated:precision_cpu_claims -->\n<!-- /generated:precision_cpu_claims -->\n", claims
    )
    assert findings.stale_blocks(fresh, claims) == []
    stale = fresh.replace("-2.45", "-0.73")
    assert stale != fresh and findings.stale_blocks(stale, claims) == ["precision_cpu_claims"]
    # A number inside a block is the block's; the same number typed in the prose must be in a table.
    assert findings.unsourced_numbers(fresh, sources) == []
    assert findings.unsourced_numbers(fresh + "\nfloat32 lost 0.73% (p = 0.034).\n", sources) == ["0.73", "0.034"]
    assert findings.unsourced_numbers(fresh + "\nfloat32 reached 71.98% here.\n", sources) == []


def test_quoted_numbers_reads_percentages_and_p_values():
    text = "74.43 +- 1.15% and 95% CI; p = 0.053, p < 0.001, Holm p=0.16; step 720; 5e-4"
    assert findings.quoted_numbers(text) == ["74.43", "1.15", "95", "0.053", "0.001", "0.16"]


def test_the_demo_block_renders_the_demo_record(tmp_path, monkeypatch, claims):
    record = tmp_path / "demo.json"
    monkeypatch.setattr(findings, "DEMO_RECORD", record)
    assert findings.render_block("demo", claims) == findings.NO_RECORDS + "\n"
    record.write_text(
        json.dumps(
            {
                "command": "python demo.py",
                "steps": 4320,
                "wall_minutes": 13.96,
                "stage_minutes": {"align": 2.04, "train": 11.0, "evaluate": 0.92},
                "lfw_view2": {
                    "accuracy_mean": 0.913167,
                    "accuracy_std": 0.016807,
                    "val_mean": 0.454667,
                    "auc": 0.972532,
                },
                "source": {"revision": "0123456789abcdef", "cpu": "AMD EPYC (family 26), 2 CPUs, AVX-512 BF16"},
            }
        )
    )
    assert findings.render_block("demo", claims) == (
        "LFW View 2: **91.32 +- 1.68%** (VAL@FAR=1e-3 45.47%, AUC 0.9725) after 4320 steps; `python demo.py` "
        "took 14.0 min in all (alignment 2.0, training 11.0, evaluation 0.9) on AMD EPYC (family 26), 2 CPUs, "
        "AVX-512 BF16 at 0123456.\n"
    )


def test_the_converged_verdicts_list_a_claim_once_its_rows_have_the_sets_seeds(claims, tmp_path, monkeypatch):
    from tests.test_experiments_run_records import _finished

    monkeypatch.setattr(run_records, "RECORDS_DIR", tmp_path)
    set1 = load_set("optimizer_bn")

    def record(row, scale, seeds, accuracy):
        for seed in range(seeds):
            path = run_records.record_of(set1, row, scale, seed)
            run_records.save(_finished(row, [accuracy + 0.002 * seed] * 10), tmp_path, path)

    record("adam_bn_switch", "cpu", 3, 0.80)  # early training: never listed
    record("momentum_wd_bn_switch", "cpu", 3, 0.70)
    record("adam_bn_switch", "cpu_long", 3, 0.90)
    record("momentum_wd_bn_switch", "cpu_long", 2, 0.80)
    assert findings.render_block("converged_verdicts", claims) == findings.NO_RECORDS + "\n"
    record("momentum_wd_bn_switch", "cpu_long", 3, 0.80)
    lines = findings.render_block("converged_verdicts", claims).splitlines()
    # The claims on Momentum + wd + BN switch vs Adam + BN switch, 10 points below: the article's
    # "only Adam works" and the README of 2018-02 are supported, the README's withdrawal contradicted.
    assert lines == [
        "- **supports** (the article; set `optimizer_bn`): " + claims["article_only_adam"].statement,
        "- **supports** (the author's README, 2018-02-28; set `optimizer_bn`): "
        + claims["readme_adam_only_2018_02"].statement,
        "- **contradicts** (the author's README, 2018-08-29; set `optimizer_bn`): "
        + claims["readme_momentum_corrected"].statement,
    ]
