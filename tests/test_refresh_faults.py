"""Refresh against a misbehaving local API: 429s, 500s, timeouts, truncated and malformed
pages, dropped connections, a killed process, an interrupt and a second refresh at once.

After each failure the database is checked: no half-written trial, no run marked successful,
and the next run completes the work from its checkpoint.
"""

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from ctgov_fake import FakeCtgov, make_studies, make_study

from trialmatch.errors import ApiError, StoreError
from trialmatch.ingest.client import CtgovClient, RetryPolicy
from trialmatch.ingest.refresh import (
    CANCER_CONDITION,
    refresh,
    refresh_lock,
    settle_abandoned_runs,
)
from trialmatch.ingest.store import TrialStore, UpsertCounts

REPO = Path(__file__).resolve().parent.parent
FAST = RetryPolicy(timeout=0.3, max_retries=2, backoff=0.01, max_backoff=0.02, min_interval=0)


class SleepRecorder:
    """Records the client's waits without waiting (retry delays are not what is tested)."""

    def __init__(self):
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def store(tmp_path):
    with TrialStore.open(tmp_path / "trials.db") as opened:
        yield opened


@pytest.fixture
def api():
    with FakeCtgov(make_studies(40), page_size=15) as fake:
        yield fake


def client_for(fake, policy=FAST, sleep=None):
    return CtgovClient(fake.url, policy=policy, sleep=sleep or SleepRecorder())


def assert_consistent(store, *, trials):
    """Whole pages only: every stored trial has its location row, and the file is sound."""
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.count() == trials
    assert conn.execute("SELECT count(*) FROM locations").fetchone()[0] == trials
    fts = conn.execute("SELECT count(*) FROM trials_fts WHERE trials_fts MATCH 'osimertinib'")
    assert fts.fetchone()[0] == trials


# ---------------------------------------------------------------------- normal runs


def test_full_then_incremental_refresh(store, api):
    first = refresh(store, client_for(api))
    assert (first.mode, first.pages, first.resumed) == ("full", 3, False)
    assert first.counts == UpsertCounts(added=40)
    assert_consistent(store, trials=40)
    requests = api.studies_requests()
    assert requests[0] == {"format": "json", "pageSize": "1000", "query.cond": CANCER_CONDITION,
                           "countTotal": "true"}
    assert [r.get("pageToken") for r in requests] == [None, "tok-15-x", "tok-30-x"]
    run = store.last_refresh()
    assert (run["outcome"], run["added"], run["data_timestamp"]) == (
        "success", 40, "2026-11-20T08:00:00")

    # The registry changes: one trial stops recruiting, one is new, one is posted again as is.
    api.studies[3] = make_study("NCT90000004", status="ACTIVE_NOT_RECRUITING",
                                last_update="2026-11-21")
    api.studies.append(make_study("NCT90000041", last_update="2026-11-22"))
    api.studies[5]["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = \
        "2026-11-20"
    api.data_timestamp = "2026-11-23T08:00:00"
    api.requests.clear()

    second = refresh(store, client_for(api))
    assert (second.mode, second.since, second.pages) == ("incremental", "2026-11-20", 1)
    assert api.studies_requests()[0]["filter.advanced"] == \
        "AREA[LastUpdatePostDate]RANGE[2026-11-20,MAX]"
    assert second.counts == UpsertCounts(added=1, updated=2)
    assert store.get_trial("NCT90000004").status == "ACTIVE_NOT_RECRUITING"
    assert store.count() == 41
    assert store.last_refresh()["data_timestamp"] == "2026-11-23T08:00:00"

    third = refresh(store, client_for(api), full=True)
    assert third.mode == "full"
    assert "filter.advanced" not in api.studies_requests()[-1]
    assert third.counts == UpsertCounts(unchanged=41)


def test_condition_and_status_filters(store, api):
    api.studies[0] = make_study("NCT90000001", status="COMPLETED")
    result = refresh(store, client_for(api), condition="melanoma",
                     statuses=["recruiting", "NOT_YET_RECRUITING"])
    params = api.studies_requests()[0]
    assert params["query.cond"] == "melanoma"
    assert params["filter.overallStatus"] == "RECRUITING,NOT_YET_RECRUITING"
    assert result.counts.added == 39


def test_unchanged_data_timestamp_stops_before_paging(store, api):
    refresh(store, client_for(api))
    api.requests.clear()
    result = refresh(store, client_for(api))
    assert (result.outcome, result.pages, result.counts) == ("unchanged", 0, UpsertCounts())
    assert [path for path, _ in api.requests] == ["/api/v2/version"]
    skipped = store.runs()[-1]
    assert (skipped["outcome"], skipped["data_timestamp"]) == ("unchanged",
                                                               "2026-11-20T08:00:00")
    assert "unchanged since the last successful refresh" in skipped["error"]
    assert store.stats()["last_refresh"]["reason"] == skipped["error"]
    # The incremental date still comes from the last run that paged.
    assert store.last_refresh()["id"] == 1


def test_another_scope_pages_although_the_data_timestamp_is_unchanged(store, api):
    refresh(store, client_for(api))
    result = refresh(store, client_for(api), statuses=["RECRUITING"])
    assert (result.outcome, result.pages) == ("success", 1)


def test_force_pages_although_the_data_timestamp_is_unchanged(store, api):
    refresh(store, client_for(api))
    result = refresh(store, client_for(api), force=True)
    assert (result.outcome, result.mode, result.pages, result.counts) == (
        "success", "incremental", 1, UpsertCounts())
    assert [run["outcome"] for run in store.runs()] == ["success", "success"]


def test_a_new_data_timestamp_pages_again(store, api):
    refresh(store, client_for(api))
    api.data_timestamp = "2026-11-21T08:00:00"
    result = refresh(store, client_for(api))
    assert (result.outcome, result.pages) == ("success", 1)
    assert store.last_refresh()["data_timestamp"] == "2026-11-21T08:00:00"


# ---------------------------------------------------------------------- transient faults


@pytest.mark.parametrize(
    "fault",
    [
        ("status", 500),
        ("status", 503),
        ("status", 429, {"Retry-After": "0"}),
        ("slow", 0.6),  # past the 0.3 s client timeout
        "truncate",
        "drop",
    ],
)
def test_transient_fault_is_retried(store, api, fault):
    api.faults = [None, fault, fault]  # page 2 fails twice, then answers
    result = refresh(store, client_for(api))
    assert result.counts == UpsertCounts(added=40)
    assert store.last_refresh()["outcome"] == "success"
    assert len(api.studies_requests()) == 5


def test_retry_after_is_honoured_and_backoff_grows(store, api):
    sleep = SleepRecorder()
    api.faults = [("status", 429, {"Retry-After": "7"}), ("status", 500)]
    policy = RetryPolicy(timeout=0.5, max_retries=3, backoff=0.5, max_backoff=10,
                         min_interval=0)
    refresh(store, client_for(api, policy, sleep))
    first, second = sleep.delays
    assert first >= 7  # Retry-After wins over the shorter backoff
    assert 1.0 <= second <= 2.0  # second retry: 0.5 * 2, plus up to as much jitter


def test_the_next_page_is_asked_for_while_this_one_is_stored(store, api):
    seen_during_first_page = []

    def on_page(studies, total):
        if not seen_during_first_page:
            for _ in range(200):  # the next request arrives while page 1 is being handled
                if len(api.studies_requests()) >= 2:
                    break
                threading.Event().wait(0.025)
            seen_during_first_page.append(len(api.studies_requests()))

    result = refresh(store, client_for(api), on_page=on_page)
    assert seen_during_first_page == [2]
    assert result.counts == UpsertCounts(added=40)
    assert [r.get("pageToken") for r in api.studies_requests()] == [None, "tok-15-x",
                                                                    "tok-30-x"]


def test_requests_are_spaced_by_min_interval(store, api):
    sleep = SleepRecorder()
    refresh(store, client_for(api, RetryPolicy(min_interval=5.0), sleep))
    assert len(sleep.delays) == 3  # version, then three pages: each waits for the last
    assert all(0 < delay <= 5.0 for delay in sleep.delays)


def test_overlong_retry_after_fails_at_once(store, api):
    api.faults = [("status", 429, {"Retry-After": "3600"})]
    with pytest.raises(ApiError, match="rate-limited for 3600 s"):
        refresh(store, client_for(api))
    assert len(api.studies_requests()) == 1


# ---------------------------------------------------------------------- failures and resume


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (("status", 500), r"failed after 3 attempts over \d+ s: server error \(HTTP 500\)"),
        (("slow", 0.6), r"failed after 3 attempts over \d+ s: no answer within 0.3s"),
        ("truncate", r"failed after 3 attempts over \d+ s: the answer is not valid JSON"),
        ("drop", r"failed after 3 attempts over \d+ s: 127.0.0.1:\d+ closed the connection"),
    ],
)
def test_persistent_fault_fails_cleanly_and_next_run_resumes(store, api, fault, message):
    api.faults = [None] + [fault] * 3  # page 2 never comes
    with pytest.raises(ApiError, match=message) as raised:
        refresh(store, client_for(api))
    assert "\n" not in str(raised.value)
    assert_consistent(store, trials=15)
    [run] = store.runs()
    assert (run["outcome"], run["resume_token"], run["added"]) == ("failed", "tok-15-x", 15)
    assert store.last_refresh() is None

    api.requests.clear()
    result = refresh(store, client_for(api))
    assert result.resumed and result.run_id == run["id"]
    assert api.studies_requests()[0]["pageToken"] == "tok-15-x"
    assert result.counts == UpsertCounts(added=25)
    assert_consistent(store, trials=40)
    run = store.get_run(run["id"])
    assert (run["outcome"], run["added"], run["resume_token"]) == ("success", 40, None)


def test_api_down_from_the_start_records_a_failed_run(store, api):
    api.version_faults = [("status", 502)] * 3
    with pytest.raises(ApiError, match=r"/version failed after 3 attempts"):
        # The retries take over a second: the run's start is when it began asking.
        refresh(store, client_for(api, sleep=lambda seconds: time.sleep(0.6)))
    assert api.studies_requests() == []
    [run] = store.runs()
    assert (run["outcome"], run["resume_token"]) == ("failed", None)
    assert "HTTP 502" in run["error"]
    assert run["started"] < run["finished"]
    result = refresh(store, client_for(api))
    assert (result.resumed, result.mode, result.counts) == (False, "full", UpsertCounts(added=40))
    assert_consistent(store, trials=40)


def test_resumed_run_keeps_the_timestamp_it_started_from(store, api):
    api.faults = [None] + [("status", 500)] * 3
    with pytest.raises(ApiError):
        refresh(store, client_for(api))
    api.data_timestamp = "2026-11-22T08:00:00"
    result = refresh(store, client_for(api))
    assert result.resumed
    assert result.data_timestamp == store.last_refresh()["data_timestamp"] == \
        "2026-11-20T08:00:00"


def test_page_without_studies_fails_without_retrying(store, api):
    api.faults = [None, "no_studies"]
    with pytest.raises(ApiError, match="without a 'studies' list"):
        refresh(store, client_for(api))
    assert len(api.studies_requests()) == 2
    assert_consistent(store, trials=15)
    assert store.runs()[0]["outcome"] == "failed"


def test_study_without_nct_id_is_skipped_with_a_warning(store, api, caplog):
    api.studies[20] = make_study(None)
    result = refresh(store, client_for(api))
    assert result.counts == UpsertCounts(added=39, skipped=1)
    assert "page 2, study 6 skipped: study without an NCT id" in caplog.text
    assert store.last_refresh()["skipped"] == 1


def test_refused_checkpoint_starts_the_query_over(store, api):
    api.faults = [None, ("status", 500), ("status", 500), ("status", 500)]
    with pytest.raises(ApiError):
        refresh(store, client_for(api))
    api.faults = [("status", 400)]  # the saved page token has expired
    result = refresh(store, client_for(api))
    assert not result.resumed
    assert result.counts == UpsertCounts(added=25, unchanged=15)
    first, second = store.runs()
    assert (first["outcome"], first["resume_token"]) == ("failed", None)
    assert "checkpoint refused" in first["error"]
    assert second["outcome"] == "success"


def test_interrupt_marks_the_run_and_next_run_resumes(store, api):
    def interrupt_after_first_page(studies, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        refresh(store, client_for(api), on_page=interrupt_after_first_page)
    assert store.runs()[0]["outcome"] == "interrupted"
    assert store.runs()[0]["error"] == ("interrupted by the user after 1 pages of this run; "
                                        "the next refresh resumes it")
    assert_consistent(store, trials=15)
    result = refresh(store, client_for(api))
    assert result.resumed and result.counts.added == 25


_CHILD = """
import sys
from trialmatch.ingest.client import CtgovClient, RetryPolicy
from trialmatch.ingest.refresh import refresh
from trialmatch.ingest.store import TrialStore
store = TrialStore.open(sys.argv[1])
refresh(store, CtgovClient(sys.argv[2], policy=RetryPolicy(timeout=30, min_interval=0)))
"""


def test_killed_refresh_leaves_a_consistent_db_and_the_next_run_finishes(store, api):
    # The third page never answers; once the second is stored (it is written while the
    # third is asked for), the process is killed.
    api.faults = [None, None, "hang"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(store.path), api.url], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert api.hanging.wait(20), child.communicate(timeout=5)
        for _ in range(400):  # at most 20 s; a loaded machine writes slowly
            if store.count() == 30:
                break
            threading.Event().wait(0.05)
    finally:
        child.kill()
        child.wait(10)
    api.release()

    assert_consistent(store, trials=30)
    [run] = store.runs()
    assert (run["outcome"], run["resume_token"]) == ("running", "tok-30-x")
    assert store.last_refresh() is None
    # Its lock is free: the run is found and marked interrupted, with how far it got.
    assert settle_abandoned_runs(store) == 1
    [run] = store.runs()
    assert run["outcome"] == "interrupted" and run["finished"] == run["progress_at"]
    assert run["error"].startswith("the refresh process ended after 2 pages (30 studies "
                                   "stored), last page at ")

    result = refresh(store, client_for(api))
    assert result.resumed and result.counts == UpsertCounts(added=10)
    assert_consistent(store, trials=40)
    assert [r["outcome"] for r in store.runs()] == ["success"]


# ---------------------------------------------------------------------- two at once


def test_second_refresh_waits_then_exits_with_a_clear_message(store, api):
    with refresh_lock(store.path):
        with pytest.raises(StoreError, match="another refresh is already running"):
            refresh(store, client_for(api), lock_wait=0.2)
    assert store.runs() == []
    assert api.requests == []


def test_second_refresh_runs_once_the_first_is_done(store, api):
    api.faults = [("slow", 0.3)]
    policy = RetryPolicy(timeout=5, max_retries=0, min_interval=0)
    errors = []

    def first_refresh():
        with TrialStore.open(store.path) as own_store:
            try:
                refresh(own_store, client_for(api, policy))
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

    thread = threading.Thread(target=first_refresh)
    thread.start()
    while not api.requests:
        threading.Event().wait(0.01)
    result = refresh(store, client_for(api, policy), lock_wait=10)
    thread.join()
    assert errors == []
    assert result.mode == "incremental"  # it ran after the first one finished
    # ... and saw the registry's data as the first left it.
    assert [r["outcome"] for r in store.runs()] == ["success", "unchanged"]


# ---------------------------------------------------------------------- removals


def removed_ids(store):
    return {row[0] for row in store.conn.execute("SELECT nct_id FROM removed_trials")}


def test_full_refresh_marks_studies_the_registry_dropped(store, api):
    refresh(store, client_for(api))
    gone = api.studies.pop(7)["protocolSection"]["identificationModule"]["nctId"]
    api.data_timestamp = "2026-11-21T08:00:00"
    incremental = refresh(store, client_for(api))
    assert (incremental.mode, incremental.removed, removed_ids(store)) == ("incremental", 0,
                                                                            set())
    filtered = refresh(store, client_for(api), full=True, statuses=["RECRUITING"])
    assert (filtered.mode, filtered.removed) == ("full", 0)  # a partial scope proves nothing
    result = refresh(store, client_for(api), full=True)
    assert (result.removed, removed_ids(store)) == (1, {gone})
    assert store.count() == 40  # kept
    assert store.removal(gone)["run_id"] == result.run_id
    assert store.get_run(result.run_id)["removed"] == 1
    # Back in the registry: no longer removed, from the page that returns it.
    api.studies.append(make_study(gone, last_update="2026-11-25"))
    again = refresh(store, client_for(api), full=True)
    assert (again.removed, removed_ids(store)) == (0, set())


def test_removed_studies_are_never_matching_candidates(tmp_path):
    from test_store import annotate_by_condition

    with TrialStore.open(tmp_path / "trials.db") as own, \
            FakeCtgov(make_studies(3), page_size=15) as fake:
        refresh(own, client_for(fake), annotate=annotate_by_condition)
        ids = own.candidate_ids(["NSCLC"], statuses=None, age=None, sex=None)
        assert ids == ["NCT90000001", "NCT90000002", "NCT90000003"]
        del fake.studies[0]
        refresh(own, client_for(fake), annotate=annotate_by_condition, full=True)
        assert own.candidate_ids(["NSCLC"], statuses=None, age=None, sex=None) == [
            "NCT90000002", "NCT90000003"]


def test_full_refresh_leaves_studies_only_ingested_from_files(store, api):
    store.upsert_studies([make_study("NCT99999999")])
    refresh(store, client_for(api))
    assert refresh(store, client_for(api), full=True).removed == 0
    assert removed_ids(store) == set()


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short message", 40, "short message"),
        ("line one\nline two", 40, "line one line two"),
        ("the server said: connection refused by the upstream gateway", 40,
         "the server said: connection refused by…"),
        ("x" * 50, 20, "x" * 19 + "…"),  # one long word: cut, but only then
    ],
)
def test_messages_are_cut_between_words(text, limit, expected):
    from trialmatch.errors import one_line

    assert one_line(text, limit) == expected
    assert len(one_line(text, limit)) <= limit


def test_refused_request_names_what_to_check(store, api):
    api.version_faults = [("status", 404)]
    with pytest.raises(ApiError) as raised:
        refresh(store, client_for(api))
    assert str(raised.value).endswith("(check that --api-url is the API's base URL, e.g. "
                                      "https://clinicaltrials.gov/api/v2)")
    assert "/version was refused (HTTP 404): fault" in str(raised.value)
