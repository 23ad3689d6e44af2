"""Readers and writers at once, in real processes: WAL mode, consistent snapshots, no waiting.

- The store is in WAL mode, so a reader never waits for a writer and a writer never waits
  for readers.
- A reader sees whole transactions only: `get_trials` reads a trial row, its criteria, codes
  and locations from one snapshot, while another process rewrites them in a loop.
- `match` runs while `refresh` (against the local fake API on 127.0.0.1) and `ingest` write
  to the same database: all three succeed, and every trial `match` reports has the verdict it
  has once the writers are done (no half-written trial was read).

Time limits here are generous process timeouts, not speed assertions; bench/limits.py
measures how long a read waits.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from ctgov_fake import FakeCtgov, make_studies

from trialmatch.ingest.store import TrialStore

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
TRIALMATCH = Path(sys.executable).parent / "trialmatch"


@pytest.fixture
def fixture_db(tmp_path) -> Path:
    """The fixture trials, parsed, in a store of this test's own (writers change it)."""
    from trialmatch.nlp.criteria import annotate_trial

    path = tmp_path / "trials.db"
    studies = [json.loads(p.read_text()) for p in sorted((FIXTURES / "trials").glob("*.json"))]
    with TrialStore.open(path) as store:
        store.upsert_studies(studies, annotate_trial)
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

    rounds = 0
    deadline = time.monotonic() + float(sys.argv[2])
    with TrialStore.open(sys.argv[1]) as store:
        while time.monotonic() < deadline:
            store.upsert_studies(studies("AB"[rounds % 2]), annotate, batch_size=100)
            rounds += 1
    print(rounds)
''')


def test_readers_see_whole_transactions_while_another_process_writes(tmp_path):
    path = tmp_path / "toggle.db"
    TrialStore.open(path).close()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "2.5", str(Path(__file__).parent)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ids = [f"NCT{91000000 + i:08d}" for i in range(30)]
    reads = seen_changes = 0
    last = None
    with TrialStore.open(path, readonly=True) as store:
        while writer.poll() is None:
            trials = store.get_trials(ids)
            if not trials:
                continue
            reads += 1
            versions = set()
            for trial in trials:
                versions.add(trial.title.split()[-1])
                versions.update(c.text.split()[1] for c in trial.criteria)
                versions.update(code[4:] for code in trial.oncotree_codes)
                versions.update(loc.facility.split()[-1] for loc in trial.locations)
            assert len(trials) == 30 and len(versions) == 1, f"torn read: {versions}"
            if last is not None and versions != last:
                seen_changes += 1
            last = versions
    out, err = writer.communicate(timeout=30)
    assert writer.returncode == 0, err
    assert int(out) >= 4, "the writer must have rewritten the trials several times"
    assert reads >= 20 and seen_changes >= 1, (reads, seen_changes)


def test_match_runs_while_refresh_and_ingest_write(fixture_db, tmp_path):
    from trialmatch.match.case import load_case
    from trialmatch.match.engine import match_case

    case = tmp_path / "cases" / "demo.yaml"
    (case.parent / "notes").mkdir(parents=True)
    shutil.copy(FIXTURES / "cases" / "demo.yaml", case)
    for note in ("demo-pathology.txt", "demo-ngs.txt", "demo-staging.txt"):
        shutil.copy(FIXTURES / "cases" / "notes" / note, case.parent / "notes" / note)

    # Lung cancer trials that the refresh brings in (candidates for the demo case), and
    # studies for ingest from files.
    refreshed = make_studies(40, start=5000, conditions=["Non-small Cell Lung Cancer"])
    ingest_dir = tmp_path / "ingest"
    ingest_dir.mkdir()
    for study in make_studies(300, start=7000, conditions=["Lung Adenocarcinoma"]):
        nct_id = study["protocolSection"]["identificationModule"]["nctId"]
        (ingest_dir / f"{nct_id}.json").write_text(json.dumps(study))

    with FakeCtgov(refreshed, page_size=10) as api:
        # The real client spaces requests 1.3 s apart: the refresh writes a page at a time
        # over several seconds, so the match below runs in the middle of it.
        refresh = subprocess.Popen(
            [str(TRIALMATCH), "refresh", "--api-url", api.url, "--db", str(fixture_db)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ingest = subprocess.Popen(
            [str(TRIALMATCH), "ingest", str(ingest_dir), "--db", str(fixture_db)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_first_page(fixture_db, refresh)
        with TrialStore.open(fixture_db, readonly=True) as store:
            running_before = store.runs()[-1]["outcome"] == "running"
        matching = subprocess.run(
            [str(TRIALMATCH), "match", str(case), "--db", str(fixture_db), "--json"],
            capture_output=True, text=True, timeout=120)
        with TrialStore.open(fixture_db, readonly=True) as store:
            running_after = store.runs()[-1]["outcome"] == "running"
        refresh_out, refresh_err = refresh.communicate(timeout=120)
        ingest_out, ingest_err = ingest.communicate(timeout=120)

    assert matching.returncode == 0, matching.stderr
    assert refresh.returncode == 0, refresh_err
    assert ingest.returncode == 0, ingest_err
    assert "4 pages, 40 added" in refresh_out
    assert "300 added" in ingest_out
    # The overlap is read from the refresh's own state, never from a clock: the refresh was
    # still writing when the match started or when it ended.
    assert running_before or running_after, "match did not overlap the refresh"

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


def _wait_for_first_page(db: Path, refresh: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert refresh.poll() is None, refresh.communicate()[1]
        with TrialStore.open(db, readonly=True) as store:
            runs = store.runs()
        if runs and runs[-1]["pages"] >= 1:
            return
        time.sleep(0.05)
    raise AssertionError("the refresh stored no page in time")
