"""User text never reaches SQL or FTS5 unescaped.

Every value from a user (a search, an NCT id, a case's fields, a refresh condition) is bound
as a parameter, and full-text searches quote each word, so FTS5 syntax (quotes, NEAR, *, OR,
NOT, column filters, parentheses) is matched literally and SQL in it does nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ctgov_fake import FakeCtgov, make_studies, make_study
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import trialmatch.cli.trials as trials_cli
from trialmatch.cli import app
from trialmatch.errors import NotFoundError
from trialmatch.ingest.client import CtgovClient, RetryPolicy
from trialmatch.ingest.store import TrialStore, sql_text

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
runner = CliRunner()

HOSTILE = [
    '"', '""', "'", "''''", 'lung"', '"lung', "lung*", "*", "^lung", "-lung", "+lung",
    "lung OR breast", "lung AND NOT breast", "NEAR(lung breast)", "NEAR(lung breast, 2)",
    "NOT", "OR", "AND", "(", ")", "(lung", "lung)", "{brief_title criteria_text}: lung",
    "brief_title:lung", "col:lung", "; DROP TABLE trials; --", "'; DELETE FROM trials; --",
    "1=1", "lung' OR '1'='1", "%", "_", "\\", "lung\x00adenocarcinoma", "lung\x01", "\x7f",
    "\ud800lung", "lung\udcff", "肺癌 非小細胞", "ЛЕГКОЕ", "\u200b", "lung\u2028breast",
    "é" * 3, "a" * 10_000, " ".join(["lung"] * 2_000), "\t\n\r ",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The fixture trials (unparsed: search and lookup need no criteria) plus one trial whose
    title is itself FTS5 and SQL syntax."""
    path = tmp_path_factory.mktemp("sql") / "trials.db"
    studies = [json.loads(p.read_text()) for p in sorted((FIXTURES / "trials").glob("*.json"))]
    studies.append(make_study("NCT90000777", title='Quoted "NEAR(x y)" OR * trial; DROP',
                              conditions=["Zebrafishoma"]))
    with TrialStore.open(path) as writable:
        writable.upsert_studies(studies)
    with TrialStore.open(path, readonly=True) as readonly:
        yield readonly


def _schema(store: TrialStore) -> list[tuple]:
    return store.conn.execute("SELECT type, name FROM sqlite_master ORDER BY name").fetchall()


@pytest.mark.parametrize("query", HOSTILE, ids=[repr(q[:20]) for q in HOSTILE])
def test_hostile_search_is_no_error_and_changes_nothing(store, query):
    before = (store.count(), _schema(store))
    hits = store.search_text(query)
    assert isinstance(hits, list)
    assert all(isinstance(nct, str) and isinstance(score, float) for nct, score in hits)
    assert (store.count(), _schema(store)) == before


def test_fts_syntax_is_searched_literally(store):
    lung = {nct for nct, _ in store.search_text("lung")}
    assert lung
    # A prefix query would find "lung" from "lun*"; literally there is no word "lun".
    assert store.search_text("lun*") == []
    # OR as an operator would give every lung trial; literally it is one more word required.
    assert store.search_text("lung OR zzqqxnotaword") == []
    # "-" and "^" are not operators either: the word is the same word.
    assert {nct for nct, _ in store.search_text("-lung")} == lung
    assert {nct for nct, _ in store.search_text("^lung")} == lung
    # A column filter would restrict to titles; literally "brief" and "title" are words.
    assert store.search_text("brief_title:lung") == []
    assert store.search_text("NEAR(lung cancer)") == []


def test_a_title_made_of_syntax_is_found_by_its_words(store):
    assert [nct for nct, _ in store.search_text('"NEAR(x y)" OR * trial; DROP')] == [
        "NCT90000777"]
    assert [nct for nct, _ in store.search_text("Zebrafishoma")] == ["NCT90000777"]


def test_a_nul_inside_a_word_splits_it_instead_of_ending_the_query(store):
    assert store.search_text("lung\x00adenocarcinoma") == store.search_text("lung adenocarcinoma")


@pytest.mark.parametrize("nct_id", ["NCT0' OR 1=1 --", "NCT%", "NCT________", "\ud800",
                                    "NCT99000001'; DROP TABLE trials; --", "", "x" * 5000,
                                    "NCT9900000\x00"])
def test_hostile_nct_ids_are_not_found(store, nct_id):
    with pytest.raises(NotFoundError) as caught:
        store.get_trial(nct_id)
    assert len(str(caught.value)) < 200  # a huge id is not echoed whole
    with pytest.raises(NotFoundError):
        store.raw_study(nct_id)


def test_a_real_id_still_works_in_any_case(store):
    assert store.get_trial(" nct90000777 ").nct_id == "NCT90000777"


def test_candidate_selection_binds_case_values(store):
    hostile = "LUAD') OR 1=1 --"
    assert store.candidate_ids([hostile, "\ud800"], statuses=["RECRUITING' OR '1'='1"],
                               age=60.0, sex="female' OR 1=1 --") == []
    assert store.get_trials(["NCT90000777' OR 1=1", "\udcff"]) == []


@pytest.mark.parametrize("nct_id", ["NCT0' OR 1=1 --", "NCT\udcff", "'; DROP TABLE trials"])
def test_show_with_a_hostile_id_is_a_one_line_error(store, nct_id):
    result = runner.invoke(app, ["show", nct_id, "--db", str(store.path), "--json"])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trialmatch: error:")
    assert "not an NCT id" in lines[0]


def test_sql_text_keeps_ordinary_text_and_blanks_the_rest():
    assert sql_text("EGFR exon 19 — négatif, 肺") == "EGFR exon 19 — négatif, 肺"
    assert sql_text("a\x00b\udcffc\x1fd") == "a b c d"


# `make fuzz` (HYPOTHESIS_PROFILE=fuzz) runs 1,000 examples; the normal suite 100.
FUZZ_EXAMPLES = 1000 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 100


@pytest.mark.fuzz
@settings(max_examples=FUZZ_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_any_text_is_a_valid_search(store, query):
    assert isinstance(store.search_text(query), list)


# ----------------------------------------------------------------------- refresh conditions

FAST = RetryPolicy(timeout=5, max_retries=0, backoff=0.01, max_backoff=0.02, min_interval=0)


def test_refresh_condition_travels_as_one_url_encoded_value(tmp_path, monkeypatch):
    monkeypatch.setattr("trialmatch.ingest.client.CtgovClient",
                        lambda url: CtgovClient(url, policy=FAST))
    monkeypatch.setattr(trials_cli, "_annotator", lambda: (None, None))
    condition = 'lung "cancer" OR NEAR(x) * & pageSize=1&format=csv; DROP #frag'
    with FakeCtgov(make_studies(3)) as api:
        result = runner.invoke(app, ["refresh", "--api-url", api.url, "--db",
                                     str(tmp_path / "t.db"), "--condition", condition])
        assert result.exit_code == 0, result.output
        [params] = api.studies_requests()
    assert params["query.cond"] == condition
    assert params["pageSize"] == "1000" and params["format"] == "json"
