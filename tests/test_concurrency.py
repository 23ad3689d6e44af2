"""Readers and writers at once, in real processes: WAL mode, consistent snapshots, no waiting.

- The store is in WAL mode, so a reader never waits for a writer and a writer never waits
  for readers.
- A reader sees whole transactions only: `get_trials` reads a trial row, its criteria, codes
  and locations from one snapshot, while another process rewrites them in a loop.
- `get_trials` keeps its snapshot when another connection commits between two of its
  queries (the commit is made to land there, deterministically).
- `match` completes while the test itself holds a write transaction open on the store, and
  does not see its uncommitted change.
- `match` runs while `refresh` (against the local fake API on 127.0.0.1, held on its second
  page until the match is done) and `ingest` write to the same database: all three succeed,
  and every trial `match` reports has the verdict it has once the writers are done (no
  half-written trial was read).

Overlap is shown by holding a writer in place, never by a clock: no test here asserts how
long anything takes (speed is for bench/limits.py). Process timeouts are generous limits
that only stop a hung test.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from ctgov_fake import FakeCtgov, make_studies
from fixture_store import build_fixture_store

from trialmatch.ingest.store import TrialStore

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
TRIALMATCH = Path(sys.executable).parent / "trialmatch"


@pytest.fixture
def fixture_db(tmp_path) -> Path:
    """The fixture trials, parsed, in a store of this test's own (writers change it)."""
    path = tmp_path / "trials.db"
    build_fixture_store(path)
    return path


def test_store_is_in_wal_mode_for_writers_and_readers(tmp_path):
    path = tmp_path / "t.db"
    with TrialStore.open(path) as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with TrialStore.open(path, readonly=True) as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# A writer process: rewrites the same 30 trials again and again, each round in one
# transaction, alternating between version A and version B of title, criteria, codes and
# locations. A reader must never see two versions at once.
WRITER = textwrap.dedent('''
    import sys, time
    sys.path.insert(0, sys.argv[3])
    from ctgov_fake import make_study
    from trialmatch.ingest.store import TrialStore
    from trialmatch.models import EligibilityCriterion, TrialAnnotation

    def annotate(text):
        version = text.title.split()[-1]
        criteria = [EligibilityCriterion("inclusion", f"version {version} item {i}", i)
                    for i in range(3)]
        return TrialAnnotation([f"CODE{version}"], criteria, "t")

    def studies(version):
        city = {"A": "Boston", "B": "Denver"}[version]
        location = [{"facility": f"Site {version}", "city": city, "country": "United States"}]
        return [make_study(f"NCT{91000000 + i:08d}", title=f"Trial {i} version {version}",
                           criteria=f"Inclusion Criteria:\\n* version {version}",
                           locations=location) for i in range(30)]

    rounds = int(sys.argv[2])
    with TrialStore.open(sys.argv[1]) as store:
        for done in range(rounds):
            store.upsert_studies(studies("AB"[done % 2]), annotate, batch_size=100)
    print(rounds)
''')


def test_readers_see_whole_transactions_while_another_process_writes(tmp_path):
    path = tmp_path / "toggle.db"
    TrialStore.open(path).close()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "40", str(Path(__file__).parent)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ids = [f"NCT{91000000 + i:08d}" for i in range(30)]
    reads = 0
    with TrialStore.open(path, readonly=True) as store:
        while writer.poll() is None:
            trials = store.get_trials(ids)
            if not trials:
                continue
            reads += 1
            versions = _versions(trials)
            assert len(trials) == 30 and len(versions) == 1, f"torn read: {versions}"
    out, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err
    assert int(out) == 40
    # How many reads fell inside the writer's run depends on the machine's load; that they
    # were whole does not. The deterministic interleaving is the next test.


def _toggle_studies(version: str) -> list[dict]:
    from ctgov_fake import make_study

    city = {"A": "Boston", "B": "Denver"}[version]
    location = [{"facility": f"Site {version}", "city": city, "country": "United States"}]
    return [make_study(f"NCT{91000000 + i:08d}", title=f"Trial {i} version {version}",
                       criteria=f"Inclusion Criteria:\n* version {version}",
                       locations=location) for i in range(5)]


def _toggle_annotate(text):
    from trialmatch.models import EligibilityCriterion, TrialAnnotation

    version = text.title.split()[-1]
    return TrialAnnotation([f"CODE{version}"], [EligibilityCriterion(
        "inclusion", f"version {version} item 0", 0)], "t")


def _versions(trials) -> set[str]:
    versions = set()
    for trial in trials:
        versions.add(trial.title.split()[-1])
        versions.update(c.text.split()[1] for c in trial.criteria)
        versions.update(code[4:] for code in trial.oncotree_codes)
        versions.update(loc.facility.split()[-1] for loc in trial.locations)
    return versions


def test_a_commit_between_two_reads_of_get_trials_is_not_seen(tmp_path, monkeypatch):
    path = tmp_path / "toggle.db"
    ids = [f"NCT{91000000 + i:08d}" for i in range(5)]
    with TrialStore.open(path) as writer:
        writer.upsert_studies(_toggle_studies("A"), _toggle_annotate)
    reader = TrialStore.open(path, readonly=True)
    writer = TrialStore.open(path)
    original_codes = reader._codes
    landed = []

    def codes_after_a_commit(ids_json):
        # The trial rows and locations are read; version B commits before codes and criteria.
        if not landed:
            writer.upsert_studies(_toggle_studies("B"), _toggle_annotate)
            landed.append(True)
        return original_codes(ids_json)

    monkeypatch.setattr(reader, "_codes", codes_after_a_commit)
    try:
        during = reader.get_trials(ids)
        after = reader.get_trials(ids)
    finally:
        reader.close()
        writer.close()
    assert landed, "the commit was not made between the reads"
    assert len(during) == 5 and _versions(during) == {"A"}
    assert _versions(after) == {"B"}


def test_match_completes_while_a_write_transaction_is_held(fixture_db, tmp_path):
    case = _demo_case(tmp_path)
    holder = sqlite3.connect(fixture_db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE trials SET brief_title = 'UNCOMMITTED TITLE'")
        matching = subprocess.run(
            [str(TRIALMATCH), "match", str(case), "--db", str(fixture_db), "--json"],
            capture_output=True, text=True, timeout=600)
        # The write lock was held the whole time: it is still held now that match is done.
        assert holder.in_transaction
        other = sqlite3.connect(fixture_db, isolation_level=None, timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert matching.returncode == 0, matching.stderr
    document = json.loads(matching.stdout)
    assert document["trials"], "the demo case matched no trial"
    titles = [t["title"] for t in document["trials"] + document["excluded"]]
    assert "UNCOMMITTED TITLE" not in titles


def _demo_case(tmp_path: Path) -> Path:
    case = tmp_path / "cases" / "demo.yaml"
    (case.parent / "notes").mkdir(parents=True)
    shutil.copy(FIXTURES / "cases" / "demo.yaml", case)
    for note in ("demo-pathology.txt", "demo-ngs.txt", "demo-staging.txt"):
        shutil.copy(FIXTURES / "cases" / "notes" / note, case.parent / "notes" / note)
    return case


def test_match_runs_while_refresh_and_ingest_write(fixture_db, tmp_path):
    from trialmatch.match.case import load_case
    from trialmatch.match.engine import match_case

    case = _demo_case(tmp_path)

    # Lung cancer trials that the refresh brings in (candidates for the demo case), and
    # studies for ingest from files.
    refreshed = make_studies(40, start=5000, conditions=["Non-small Cell Lung Cancer"])
    ingest_dir = tmp_path / "ingest"
    ingest_dir.mkdir()
    for study in make_studies(300, start=7000, conditions=["Lung Adenocarcinoma"]):
        nct_id = study["protocolSection"]["identificationModule"]["nctId"]
        (ingest_dir / f"{nct_id}.json").write_text(json.dumps(study))

    with FakeCtgov(refreshed, page_size=10) as api:
        # The second page is held until the match is done, so the refresh is mid-run (one
        # page committed, a resume point stored) for the whole match, however slow the
        # machine. A client that gives up waiting (its 60 s timeout) retries into another
        # hang, so the refresh cannot move on before the release either.
        api.hang_limit = 900
        api.faults = [None] + ["hang"] * 6
        refresh = subprocess.Popen(
            [str(TRIALMATCH), "refresh", "--api-url", api.url, "--db", str(fixture_db)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ingest = subprocess.Popen(
            [str(TRIALMATCH), "ingest", str(ingest_dir), "--db", str(fixture_db)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_first_page(fixture_db, refresh)
        assert api.hanging.wait(300), "the refresh never asked for its second page"
        matching = subprocess.run(
            [str(TRIALMATCH), "match", str(case), "--db", str(fixture_db), "--json"],
            capture_output=True, text=True, timeout=600)
        with TrialStore.open(fixture_db, readonly=True) as store:
            run_during = store.runs()[-1]
        api.release()
        refresh_out, refresh_err = refresh.communicate(timeout=600)
        ingest_out, ingest_err = ingest.communicate(timeout=600)

    assert matching.returncode == 0, matching.stderr
    assert refresh.returncode == 0, refresh_err
    assert ingest.returncode == 0, ingest_err
    assert "4 pages, 40 added" in refresh_out
    assert "300 added" in ingest_out
    # The overlap is read from the refresh's own state, never from a clock: when the match
    # had finished, the refresh was still running with one page of four stored.
    assert run_during["outcome"] == "running" and run_during["pages"] == 1, run_during

    during = json.loads(matching.stdout)
    with TrialStore.open(fixture_db, readonly=True) as store:
        assert store.count() == 56 + 40 + 300
        after = match_case(load_case(case), store).to_dict()
    final = {t["nct_id"]: t["verdict"] for t in after["trials"]}
    final.update({t["nct_id"]: "excluded" for t in after["excluded"]})
    # Whatever subset of the new trials the match saw, it saw each one whole: every trial it
    # reports has the verdict that trial has in the finished store.
    # (The check compares a real process with this one: both must run the same code, so a
    # source file edited while the test runs can fail it.)
    for trial in during["trials"]:
        nct_id, verdict = trial["nct_id"], trial["verdict"]
        assert final.get(nct_id) == verdict, f"{nct_id}: {verdict} during, {final.get(nct_id)}"
    for trial in during["excluded"]:
        nct_id = trial["nct_id"]
        assert final.get(nct_id) == "excluded", f"{nct_id}: excluded during, {final.get(nct_id)}"


def _wait_for_first_page(db: Path, refresh: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert refresh.poll() is None, refresh.communicate()[1]
        with TrialStore.open(db, readonly=True) as store:
            runs = store.runs()
        if runs and runs[-1]["pages"] >= 1:
            return
        time.sleep(0.05)
    raise AssertionError("the refresh stored no page in time")
