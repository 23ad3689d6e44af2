"""The trial commands through CliRunner: refresh, ingest, stats, show, reparse.

Exit codes: 0 success, 1 one-line error on stderr, 2 usage error.
"""

import json
from pathlib import Path

import pytest
import vcr
from ctgov_fake import FakeCtgov, make_studies, make_study
from test_store import annotate_by_condition
from typer.testing import CliRunner

import trialmatch.cli.trials as trials_cli
from trialmatch.cli import app
from trialmatch.ingest.client import CtgovClient, RetryPolicy
from trialmatch.ingest.refresh import refresh_lock

runner = CliRunner()
CASSETTES = Path(__file__).resolve().parent / "cassettes"
FAST = RetryPolicy(timeout=2, max_retries=1, backoff=0.01, max_backoff=0.02, min_interval=0)


@pytest.fixture(autouse=True)
def fast_client_without_parser(monkeypatch):
    """No real waits, and criteria parsing replaced by the small test parser."""
    monkeypatch.setattr("trialmatch.ingest.client.CtgovClient",
                        lambda url: CtgovClient(url, policy=FAST))
    monkeypatch.setattr(trials_cli, "_annotator", lambda: (annotate_by_condition, "t1"))


@pytest.fixture
def db(tmp_path):
    return tmp_path / "trials.db"


@pytest.fixture
def loaded_db(db, fixtures_dir):
    result = runner.invoke(app, ["ingest", str(fixtures_dir / "trials"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    return db


def one_line_error(result, text):
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trialmatch: error:"), result.stderr
    assert text in lines[0]


def test_ingest_twice_changes_nothing(db, fixtures_dir):
    count = len(list((fixtures_dir / "trials").glob("*.json")))
    first = runner.invoke(app, ["ingest", str(fixtures_dir / "trials"), "--db", str(db)])
    assert first.exit_code == 0
    assert f"ingest: {count} files, {count} added, 0 updated, 0 unchanged" in first.stdout
    second = runner.invoke(app, ["ingest", str(fixtures_dir / "trials"), "--db", str(db)])
    assert f"0 added, 0 updated, {count} unchanged, 0 skipped" in second.stdout


def test_ingest_uses_the_default_db_from_the_environment(tmp_path, fixtures_dir):
    result = runner.invoke(app, ["ingest", str(fixtures_dir / "trials" / "NCT99000001.json")])
    assert result.exit_code == 0
    assert (tmp_path / "default-trials.db").exists()


def test_ingest_warns_about_bad_files_and_goes_on(tmp_path, db):
    (tmp_path / "good.json").write_text(json.dumps(make_study("NCT90000001")))
    (tmp_path / "bad.json").write_text("{not json")
    result = runner.invoke(app, ["ingest", str(tmp_path / "good.json"),
                                 str(tmp_path / "bad.json"), "--db", str(db)])
    assert result.exit_code == 0
    assert "1 added" in result.stdout and "1 skipped" in result.stdout
    assert "bad.json: not valid JSON" in result.stderr


def test_ingest_missing_path_is_an_error(tmp_path, db):
    one_line_error(runner.invoke(app, ["ingest", str(tmp_path / "nope.json"), "--db", str(db)]),
                   "nope.json does not exist")


def test_stats_json(loaded_db, fixtures_dir):
    result = runner.invoke(app, ["stats", "--db", str(loaded_db), "--json"])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["trials"] == len(list((fixtures_dir / "trials").glob("*.json")))
    assert sum(document["by_status"].values()) == document["trials"]
    assert document["last_refresh"] is None
    assert document["parsed"] == document["trials"]


def test_stats_human(loaded_db):
    result = runner.invoke(app, ["stats", "--db", str(loaded_db)])
    assert result.exit_code == 0
    assert "trials" in result.stdout and "RECRUITING" in result.stdout
    assert "Last refresh: never" in result.stdout


def test_stats_without_a_database_says_how_to_make_one(db):
    one_line_error(runner.invoke(app, ["stats", "--db", str(db)]),
                   "run `trialmatch ingest` or `trialmatch refresh` first")
    assert not db.exists()


def test_show_json_has_the_spec_fields(loaded_db):
    result = runner.invoke(app, ["show", "NCT99000001", "--db", str(loaded_db), "--json"])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    for key in ("nct_id", "title", "status", "phases", "conditions", "oncotree_codes",
                "minimum_age", "maximum_age", "sex", "criteria"):
        assert key in document
    assert document["nct_id"] == "NCT99000001"
    assert document["oncotree_codes"] == ["NSCLC"]
    assert document["criteria"], "the fixture trial has bullet criteria"
    for criterion in document["criteria"]:
        assert criterion["kind"] in ("inclusion", "exclusion")
        assert isinstance(criterion["text"], str)
        assert isinstance(criterion["requirements"], list)


def test_show_human_prints_criteria_with_requirements(db):
    runner.invoke(app, ["ingest", "--db", str(db), str(_study_file(db.parent))])
    result = runner.invoke(app, ["show", "nct90000001", "--db", str(db)], terminal_width=200)
    assert result.exit_code == 0
    assert "NCT90000001" in result.stdout and "RECRUITING" in result.stdout
    assert "Age 18 or older" in result.stdout
    assert "age: min=18" in result.stdout
    assert "other (free text)" in result.stdout  # "Pregnancy" has no parsed requirement


def test_show_unknown_trial_exits_1(loaded_db):
    one_line_error(runner.invoke(app, ["show", "NCT00000000", "--db", str(loaded_db)]),
                   "NCT00000000 is not in the trial database")


def test_reparse_only_stale_then_all(db, monkeypatch):
    monkeypatch.setattr(trials_cli, "_annotator", lambda: (None, None))
    runner.invoke(app, ["ingest", "--db", str(db), str(_study_file(db.parent))])
    assert json.loads(runner.invoke(app, ["stats", "--db", str(db), "--json"]).stdout)[
        "parsed"] == 0
    one_line_error(runner.invoke(app, ["reparse", "--db", str(db)]),
                   "criteria parsing is not available")

    monkeypatch.setattr(trials_cli, "_annotator", lambda: (annotate_by_condition, "t1"))
    assert "reparse: 1 trials parsed" in runner.invoke(app, ["reparse", "--db", str(db)]).stdout
    assert "reparse: 0 trials parsed" in runner.invoke(app, ["reparse", "--db", str(db)]).stdout
    result = runner.invoke(app, ["reparse", "--db", str(db), "--all", "--jobs", "2"])
    assert "reparse: 1 trials parsed" in result.stdout


def test_refresh_from_cassette_then_stats(db):
    replay = vcr.VCR(cassette_library_dir=str(CASSETTES), record_mode="none",
                     match_on=["method", "scheme", "host", "port", "path", "query"])
    with replay.use_cassette("refresh_full.yaml"):
        result = runner.invoke(app, ["refresh", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("refresh full: ")
    assert "data timestamp 2026-11-20T08:00:00" in result.stdout
    assert "page of 15 studies stored" in result.stderr  # log-friendly when not a terminal
    stats = json.loads(runner.invoke(app, ["stats", "--db", str(db), "--json"]).stdout)
    assert stats["last_refresh"]["outcome"] == "success"
    assert stats["last_refresh"]["data_timestamp"] == "2026-11-20T08:00:00"


def test_refresh_against_a_local_api_with_filters(db):
    with FakeCtgov(make_studies(20)) as api:
        result = runner.invoke(app, ["refresh", "--db", str(db), "--api-url", api.url,
                                     "--condition", "lung cancer", "--status", "RECRUITING",
                                     "--status", "NOT_YET_RECRUITING"])
        params = api.studies_requests()[0]
    assert result.exit_code == 0, result.output
    assert "20 added" in result.stdout
    assert params["query.cond"] == "lung cancer"
    assert params["filter.overallStatus"] == "RECRUITING,NOT_YET_RECRUITING"


def test_refresh_api_down_is_a_one_line_error(db, monkeypatch):
    with FakeCtgov(make_studies(5)) as api:
        monkeypatch.setenv("TRIALMATCH_API_URL", api.url)
        api.faults = [("status", 500)] * 5
        result = runner.invoke(app, ["refresh", "--db", str(db)])
    one_line_error(result, "failed after 2 attempts: server error (HTTP 500)")


def test_refresh_while_another_runs(db, monkeypatch):
    monkeypatch.setattr(trials_cli, "REFRESH_LOCK_WAIT", 0.2)
    with FakeCtgov(make_studies(5)) as api, refresh_lock(db, wait=0):
        result = runner.invoke(app, ["refresh", "--db", str(db), "--api-url", api.url])
        assert api.requests == []
    one_line_error(result, "another refresh is already running")


@pytest.mark.parametrize(
    "arguments",
    [["show"], ["refresh", "--bogus"], ["stats", "--json", "extra"], ["ingest"]],
)
def test_usage_errors_exit_2(arguments):
    assert runner.invoke(app, arguments).exit_code == 2


def _study_file(folder: Path) -> Path:
    path = folder / "NCT90000001.json"
    path.write_text(json.dumps(make_study("NCT90000001")))
    return path
