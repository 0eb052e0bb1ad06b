"""experiments/claims.py: the claims registry, its validation and its agreement with the set files."""

from __future__ import annotations

import re

import pytest

from common.paths import REPO_ROOT
from experiments.claims import ClaimsError, check_sets, claims_of_set, load_claims
from experiments.experiment_sets import check_registry, load_set, set_names
from training.config import load_config

ARTICLE = REPO_ROOT.parent / "shared" / "docs" / "article.md"

GOOD = """claims:
  - id: a
    statement: A claim.
    source: {kind: author_readme, date: "2018-08-29"}
    tests:
      - {set: s, row: r2, expect: better}
"""


def write(tmp_path, text):
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    return path


def test_the_registry_loads_and_agrees_with_every_set_file():
    claims = check_registry()
    assert len(claims) == len(set(claims))
    named = {name: set(load_set(name).claims) for name in set_names()}
    for name in set_names():
        assert named[name] == {claim.id for claim in claims_of_set(claims, name)}


def test_the_only_adam_claim_and_its_withdrawal_test_the_same_comparison_with_their_own_sources():
    claims = load_claims()
    article, readme = claims["article_only_adam"], claims["readme_momentum_corrected"]
    assert (
        article.source["kind"] == "article"
        and "除了 Adam 以外的任何一个 optimizer 都达不到理想效果" in article.source["quote"]
    )
    assert readme.source == {"kind": "author_readme", "date": "2018-08-29"}
    pair = ("optimizer_bn", "momentum_wd_bn_switch", None)
    assert {(t.set, t.row, t.against): t.expect for t in article.tests}[pair] == "worse"
    assert {(t.set, t.row, t.against): t.expect for t in readme.tests}[pair] == "not_worse"


def test_alignment_sampling_and_distance_claims_are_tested_by_the_rows_that_isolate_them():
    claims = load_claims()
    tests = {claim_id: [(t.set, t.row, t.against, t.expect) for t in claims[claim_id].tests] for claim_id in claims}
    assert tests["article_distance_weighted_no_gain"] == [
        ("metric", "margin_uniform", "margin_distance_weighted", "not_worse")
    ]
    assert tests["hermans_non_squared_distance"] == [("metric", "batch_hard", "batch_hard_squared", "better")]
    assert tests["article_alignment_matters"] == [("alignment", "centre_crop", None, "worse")]  # against mtcnn
    assert load_set("alignment").reference == "mtcnn"
    metric = load_set("metric")
    hparams = {row: load_config(metric.config_path(row, "cpu")).loss.hparams for row in metric.row_names()}
    assert hparams["margin_uniform"] == {**hparams["margin_distance_weighted"], "sampling": "uniform"}
    assert hparams["batch_hard_squared"] == {**hparams["batch_hard"], "squared": True}


@pytest.mark.skipif(not ARTICLE.exists(), reason="the article is in ../shared/docs")
def test_every_article_quote_is_in_the_article():
    def bare(text):  # the article breaks lines inside some quotes: compare without whitespace
        return re.sub(r"\s", "", text)

    article = bare(ARTICLE.read_text())
    quoted = [claim for claim in load_claims().values() if claim.source["kind"] == "article"]
    assert len(quoted) >= 8
    for claim in quoted:
        assert bare(claim.source["quote"]) in article, claim.id


def test_a_good_registry_loads(tmp_path):
    claims = load_claims(write(tmp_path, GOOD))
    assert list(claims) == ["a"] and claims["a"].tests[0].measure == "accuracy"
    assert claims["a"].cite() == "the author's repository README, 2018-08-29"
    check_sets(claims, {"s": (["r1", "r2"], ["a"])})


@pytest.mark.parametrize(
    "text, message",
    [
        (GOOD + GOOD.removeprefix("claims:\n"), r"claim id 'a' appears twice"),
        (GOOD.replace("author_readme, date", "blog, date"), r"source.kind must be one of"),
        (
            GOOD.replace('{kind: author_readme, date: "2018-08-29"}', "{kind: article, section: ch3}"),
            r"an article source needs \['quote'\]|a article source needs \['quote'\]",
        ),
        (GOOD.replace("expect: better", "expect: faster"), r"expect for accuracy must be one of"),
        (GOOD.replace("expect: better", "measure: speed, expect: better"), r"measure must be one of"),
        (
            GOOD.replace("    tests:\n      - {set: s, row: r2, expect: better}\n", ""),
            r"either tests or `untested: <why>`",
        ),
        (GOOD.replace("    tests:", "    untested: no row yet\n    tests:"), r"either tests or `untested: <why>`"),
        ("claims: []\n", r"no claims"),
    ],
)
def test_a_bad_registry_is_a_clear_error(tmp_path, text, message):
    with pytest.raises(ClaimsError, match=message):
        load_claims(write(tmp_path, text))


@pytest.mark.parametrize(
    "sets, message",
    [
        ({"t": (["r2"], [])}, r"claim 'a': no set 's'"),
        ({"s": (["r1"], ["a"])}, r"set 's' has no row 'r2'"),
        ({"s": (["r2"], [])}, r"set 's' names claims \[\] but the registry tests \['a'\] in it"),
        ({"s": (["r2"], ["a", "b"])}, r"set 's' names unknown claim\(s\) \['b'\]"),
    ],
)
def test_tests_must_name_existing_sets_and_rows_and_sets_their_claims(tmp_path, sets, message):
    with pytest.raises(ClaimsError, match=message):
        check_sets(load_claims(write(tmp_path, GOOD)), sets)
