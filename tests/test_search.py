"""`trialmatch search`: trials by words in the store's full-text index, with filters."""

import json
from pathlib import Path

import pytest
from fixture_store import build_fixture_store
from typer.testing import CliRunner

from trialmatch.cli import app

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("search") / "trials.db"
    build_fixture_store(path, annotate=False)
    return path


def search(db, *args):
    result = runner.invoke(app, ["search", *args, "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_drug_finds_its_trials_best_first(db):
    hits = search(db, "osimertinib")["trials"]
    assert {hit["nct_id"] for hit in hits} == {"NCT99000001", "NCT99000010"}
    assert hits[0]["score"] >= hits[1]["score"]
    assert all("«osimertinib»" in hit["snippet"].lower() for hit in hits)
    assert {"title", "status", "phases", "conditions", "interventions"} <= set(hits[0])


def test_condition_intervention_status_and_phase_narrow_the_search(db):
    melanoma = search(db, "--condition", "melanoma")["trials"]
    assert melanoma and all(any("melanoma" in c.lower() for c in hit["conditions"])
                            for hit in melanoma)
    assert "[" not in melanoma[0]["snippet"]  # JSON lists shown as words
    drug = search(db, "lung", "--intervention", "pembrolizumab", "--status", "recruiting")
    assert drug["trials"] and all(hit["status"] == "RECRUITING" for hit in drug["trials"])
    assert all(any("pembrolizumab" in i.lower() for i in hit["interventions"])
               for hit in drug["trials"])
    phase3 = search(db, "lung", "--phase", "3")["trials"]
    assert phase3 and all("PHASE3" in hit["phases"] for hit in phase3)
    everything = {hit["nct_id"] for hit in search(db, "lung", "--limit", "100")["trials"]}
    assert {hit["nct_id"] for hit in phase3} < everything


def test_an_nct_id_finds_that_trial(db):
    hits = search(db, "nct99000047")["trials"]
    assert [hit["nct_id"] for hit in hits] == ["NCT99000047"] and hits[0]["score"] is None


@pytest.mark.parametrize("text", ['"unbalanced', "lung OR zzqqxnotaword", "NEAR(zzqqx",
                                  "{title}:x", "zzqqx*", "lung\x00zzqqx"])
def test_fts_syntax_is_matched_literally(db, text):
    assert search(db, text)["trials"] == []


def test_terminal_output_and_usage_errors(db):
    shown = runner.invoke(app, ["search", "osimertinib", "--db", str(db)])
    assert shown.exit_code == 0 and "NCT99000001" in shown.stdout and "phase 3" in shown.stdout
    none = runner.invoke(app, ["search", "zzqqx", "--db", str(db)])
    assert none.exit_code == 0 and "No trial in the store matches" in none.stdout
    for args in ([], ["x", "--status", "open"], ["x", "--phase", "9"]):
        bad = runner.invoke(app, ["search", *args, "--db", str(db)])
        assert bad.exit_code == 2, args
    missing = runner.invoke(app, ["search", "x", "--db", str(db.parent / "none.db")])
    assert missing.exit_code == 1 and len(missing.stderr.strip().splitlines()) == 1
