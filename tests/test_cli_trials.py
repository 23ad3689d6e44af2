"""The trial commands through CliRunner: refresh, ingest, stats, show, reparse.

Exit codes: 0 success, 1 one-line error on stderr, 2 usage error.
"""

import json
import re
import socket
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


STAMP = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z "


def stamped_error(result, text, *, code=1):
    """A cron-log failure: every stderr line starts with an ISO-8601 UTC time and the last
    one is the whole error, on one line."""
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert lines and all(re.match(STAMP, line) for line in lines), result.stderr
    assert re.match(STAMP + "trialmatch: error: ", lines[-1]), result.stderr
    assert text in lines[-1], lines[-1]
    return lines[-1]


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
    assert re.match(STAMP + "refresh full: ", result.stdout), result.stdout
    assert "data timestamp 2026-11-20T08:00:00" in result.stdout
    # Log-friendly when not a terminal: one time-stamped line per page.
    assert re.search(STAMP + r"trialmatch: page 1 stored, 15 studies \(15 of 56\)",
                     result.stderr)
    assert re.search(STAMP + r"trialmatch: page 4 stored, 11 studies \(56 of 56\)",
                     result.stderr)
    assert all(re.match(STAMP, line) for line in result.stderr.splitlines())
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
    assert result.stdout == ""
    line = stamped_error(result, "failed after 2 attempts over 0 s: server error (HTTP 500)")
    assert line.endswith("(the API is failing; try again later)")
    # The retry was logged, with its time, on its own line.
    assert re.search(STAMP + "trialmatch: warning: GET .*/studies: server error "
                     r"\(HTTP 500\); attempt 2 of 2", result.stderr)


def test_refresh_refused_connection_is_one_complete_line(db):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = runner.invoke(app, ["refresh", "--db", str(db), "--api-url",
                                 f"http://127.0.0.1:{port}/api/v2"])
    line = stamped_error(result, f"GET http://127.0.0.1:{port}/api/v2/version failed after 2 "
                         f"attempts over 0 s: connection refused by 127.0.0.1:{port}")
    assert line.endswith("(check --api-url (host and port) and that the server is running)")
    stats = runner.invoke(app, ["stats", "--db", str(db)], terminal_width=400)
    assert re.search(r"Last refresh: failed \(full\), .*reason: GET .* connection refused by "
                     f"127.0.0.1:{port}", stats.stdout), stats.stdout
    document = json.loads(runner.invoke(app, ["stats", "--db", str(db), "--json"]).stdout)
    assert document["last_refresh"]["outcome"] == "failed"
    assert "connection refused" in document["last_refresh"]["reason"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--status", "RECRUTING"], "--status 'RECRUTING' is not a study status (valid "
         "statuses: ACTIVE_NOT_RECRUITING, COMPLETED, ENROLLING_BY_INVITATION, "
         "NOT_YET_RECRUITING, RECRUITING,"),
        (["--status", "RECRUITING", "--status", ""], "--status '(empty)' is not a study status"),
        (["--api-url", "clinicaltrials.gov/api/v2"], "must start with https:// or http://"),
        (["--api-url", "ftp://example.org/api/v2"], "must start with https:// or http://"),
        (["--api-url", "https:///api/v2"], "has no host name"),
        (["--api-url", "https://clinicaltrials.gov/api/v2/studies"],
         "names the /studies endpoint, not the API's base URL (drop '/studies'"),
        (["--api-url", "https://clinicaltrials.gov/api/v2?format=json"],
         "must not carry a query"),
        (["--api-url", "http://localhost:http/api/v2"], "is not a valid URL"),
        (["--api-url", "https://clinicaltrials.gov"], "ClinicalTrials.gov serves the API at "
         "/api/v2 (use https://clinicaltrials.gov/api/v2)"),
        (["--api-url", "https://www.clinicaltrials.gov/api/v1"], "serves the API at /api/v2"),
    ],
)
def test_refresh_options_are_checked_before_any_request(db, arguments, message):
    with FakeCtgov(make_studies(3)) as api:
        if "--api-url" not in arguments:
            arguments = [*arguments, "--api-url", api.url]
        result = runner.invoke(app, ["refresh", "--db", str(db), *arguments])
        assert api.requests == []
    stamped_error(result, message, code=2)
    assert not db.exists()  # nothing opened, nothing written


def test_refresh_status_spelling_is_forgiven(db):
    with FakeCtgov(make_studies(3)) as api:
        result = runner.invoke(app, ["refresh", "--db", str(db), "--api-url", api.url,
                                     "--status", "recruiting,not yet recruiting"])
        params = api.studies_requests()[0]
    assert result.exit_code == 0, result.output
    assert params["filter.overallStatus"] == "RECRUITING,NOT_YET_RECRUITING"


def test_refresh_unchanged_registry_says_so_and_force_pages(db):
    with FakeCtgov(make_studies(3)) as api:
        arguments = ["refresh", "--db", str(db), "--api-url", api.url]
        assert runner.invoke(app, arguments).exit_code == 0
        api.requests.clear()
        second = runner.invoke(app, arguments)
        assert api.studies_requests() == []
        forced = runner.invoke(app, [*arguments, "--force"])
        assert len(api.studies_requests()) == 1
    assert second.exit_code == 0, second.output
    assert re.match(STAMP + r"refresh: registry data unchanged since the last successful "
                    r"refresh \(data timestamp 2026-11-20T08:00:00\); nothing asked for",
                    second.stdout)
    assert forced.exit_code == 0 and "refresh incremental since 2026-11-20" in forced.stdout
    runs = runner.invoke(app, ["stats", "--db", str(db)], terminal_width=400).stdout
    assert "Last refresh: success (incremental)" in runs


def test_stats_finds_a_refresh_whose_process_died(db):
    from trialmatch.ingest.store import TrialStore

    with TrialStore.open(db) as store:  # a run that stored one page, then its process died
        run_id = store.start_run(mode="full", query="{}", data_timestamp=None)
        store.apply_page(run_id, make_studies(15), None, next_token="tok-15-x")
    document = json.loads(runner.invoke(app, ["stats", "--db", str(db), "--json"]).stdout)
    run = document["last_refresh"]
    assert run["outcome"] == "interrupted"
    assert run["finished"] == run["progress_at"]
    assert run["reason"] == (f"the refresh process ended after 1 pages (15 studies stored), "
                             f"last page at {run['progress_at']}; the next refresh resumes it")
    human = runner.invoke(app, ["stats", "--db", str(db)], terminal_width=400).stdout
    assert "Last refresh: interrupted (full)" in human and "the next refresh resumes it" in human


def test_stats_on_a_read_only_store_still_says_the_refresh_died(db, monkeypatch):
    from trialmatch.ingest.store import TrialStore

    with TrialStore.open(db) as store:
        run_id = store.start_run(mode="full", query="{}", data_timestamp=None)
        store.apply_page(run_id, make_studies(15), None, next_token="tok-15-x")
    writable = TrialStore.open

    def read_only(path, *, readonly=False, **options):
        if not readonly:
            from trialmatch.errors import StoreError
            raise StoreError("read-only file system")
        return writable(path, readonly=True, **options)

    monkeypatch.setattr(TrialStore, "open", read_only)
    document = json.loads(runner.invoke(app, ["stats", "--db", str(db), "--json"]).stdout)
    assert document["last_refresh"]["outcome"] == "interrupted"
    assert "after 1 pages (not recorded" in document["last_refresh"]["reason"]


def test_stats_leaves_a_live_refresh_running(db):
    from trialmatch.ingest.store import TrialStore

    with TrialStore.open(db) as store:
        store.start_run(mode="full", query="{}", data_timestamp=None)
    with refresh_lock(db, wait=0):
        document = json.loads(runner.invoke(app, ["stats", "--db", str(db), "--json"]).stdout)
    assert document["last_refresh"]["outcome"] == "running"


def test_removed_study_is_kept_shown_as_removed_and_not_matched(db):
    with FakeCtgov(make_studies(3)) as api:
        arguments = ["refresh", "--db", str(db), "--api-url", api.url]
        assert runner.invoke(app, arguments).exit_code == 0
        del api.studies[1]  # NCT90000002 withdrawn from the registry
        api.data_timestamp = "2026-11-21T08:00:00"
        result = runner.invoke(app, [*arguments, "--full"])
    assert result.exit_code == 0, result.output
    assert "1 removed from the registry" in result.stdout
    shown = json.loads(runner.invoke(app, ["show", "NCT90000002", "--db", str(db),
                                           "--json"]).stdout)
    assert shown["status"] == "RECRUITING" and shown["removed"]["removed_at"]
    human = runner.invoke(app, ["show", "NCT90000002", "--db", str(db)], terminal_width=200)
    assert "REMOVED: the registry no longer returns this study" in human.stdout
    assert json.loads(runner.invoke(app, ["show", "NCT90000001", "--db", str(db),
                                          "--json"]).stdout)["removed"] is None
    stats = json.loads(runner.invoke(app, ["stats", "--db", str(db), "--json"]).stdout)
    assert (stats["trials"], stats["removed"], stats["last_refresh"]["removed"]) == (3, 1, 1)


def test_refresh_while_another_runs(db, monkeypatch):
    monkeypatch.setattr(trials_cli, "REFRESH_LOCK_WAIT", 0.2)
    with FakeCtgov(make_studies(5)) as api, refresh_lock(db, wait=0):
        result = runner.invoke(app, ["refresh", "--db", str(db), "--api-url", api.url])
        assert api.requests == []
    stamped_error(result, "another refresh is already running")


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
