"""Refresh paging and incremental refresh replayed from vcrpy cassettes (no network).

The cassettes are built from fixtures/trials by tools/make_cassettes.py; if the default query
changes, the replay fails with CannotOverwriteExistingCassetteException: run the tool again.
"""

import json
from pathlib import Path

import pytest
import vcr
import yaml

from trialmatch.config import DEFAULT_API_URL
from trialmatch.ingest.client import CtgovClient, RetryPolicy
from trialmatch.ingest.refresh import refresh
from trialmatch.ingest.store import TrialStore, UpsertCounts

CASSETTES = Path(__file__).resolve().parent / "cassettes"
REPLAY = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=["method", "scheme", "host", "port", "path", "query"],
)
FAST = RetryPolicy(timeout=5, max_retries=0, min_interval=0)


def served_studies(cassette: str) -> list[dict]:
    """Every study the cassette's /studies pages hold, in order."""
    document = yaml.safe_load((CASSETTES / cassette).read_text())
    studies = []
    for item in document["interactions"]:
        if item["request"]["uri"].split("?")[0].endswith("/studies"):
            studies += json.loads(item["response"]["body"]["string"])["studies"]
    return studies


def nct(study: dict) -> str:
    return study["protocolSection"]["identificationModule"]["nctId"]


@pytest.fixture
def store(tmp_path):
    with TrialStore.open(tmp_path / "trials.db") as opened:
        yield opened


def test_full_refresh_pages_through_every_study(store):
    served = served_studies("refresh_full.yaml")
    with REPLAY.use_cassette("refresh_full.yaml") as cassette:
        result = refresh(store, CtgovClient(DEFAULT_API_URL, policy=FAST))
        assert cassette.all_played
    assert result.mode == "full"
    assert result.pages == len(served) // 15 + (1 if len(served) % 15 else 0) >= 2
    assert result.counts == UpsertCounts(added=len(served))
    assert sorted(store.iter_ids()) == sorted(nct(s) for s in served)
    for study in served:
        assert store.raw_study(nct(study)) == study  # nothing lost
    run = store.last_refresh()
    assert (run["outcome"], run["data_timestamp"], run["added"]) == (
        "success", "2026-11-20T08:00:00", len(served))


def test_incremental_refresh_updates_status_changes(store):
    with REPLAY.use_cassette("refresh_full.yaml"):
        refresh(store, CtgovClient(DEFAULT_API_URL, policy=FAST))
    before = store.count()
    changed = served_studies("refresh_incremental.yaml")
    new = [s for s in changed if nct(s) not in set(store.iter_ids())]

    with REPLAY.use_cassette("refresh_incremental.yaml") as cassette:
        result = refresh(store, CtgovClient(DEFAULT_API_URL, policy=FAST))
        assert cassette.all_played
    assert (result.mode, result.since) == ("incremental", "2026-11-20")
    assert result.counts == UpsertCounts(added=len(new), updated=len(changed) - len(new))
    assert store.count() == before + len(new)
    for study in changed:
        trial = store.get_trial(nct(study))
        assert trial.status == study["protocolSection"]["statusModule"]["overallStatus"]
    statuses = {trial.status for trial in store.get_trials([nct(s) for s in changed])}
    assert "RECRUITING" not in statuses  # the trials that stopped recruiting are marked so
    assert store.last_refresh()["data_timestamp"] == "2026-11-24T08:00:00"
    assert [run["mode"] for run in store.runs()] == ["full", "incremental"]
