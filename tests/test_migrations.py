"""The schema: an empty database gets every table; an older schema is upgraded on open."""

import sqlite3

from ctgov_fake import make_studies

from trialmatch.ingest.migrations import MIGRATIONS, applied_migrations, migrate
from trialmatch.ingest.store import TrialStore

EXPECTED_TABLES = {
    "_migrations", "trials", "locations", "trials_fts", "trial_codes", "criteria",
    "trial_parse", "refresh_runs", "removed_trials", "watched_cases",
}


def _tables(path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    finally:
        conn.close()


def _columns(path, table) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    finally:
        conn.close()


def test_empty_database_gets_every_table(tmp_path):
    path = tmp_path / "trials.db"
    TrialStore.open(path).close()
    assert EXPECTED_TABLES <= _tables(path)
    assert {"nct_id", "brief_title", "official_title", "overall_status", "phases",
            "study_type", "conditions", "keywords", "interventions", "arms", "sponsor",
            "start_date", "completion_date", "last_update_date", "brief_summary",
            "criteria_text", "minimum_age", "maximum_age", "sex", "healthy_volunteers",
            "raw_json", "content_hash"} <= _columns(path, "trials")
    assert {"id", "started", "finished", "data_timestamp", "mode", "query", "added",
            "updated", "unchanged", "outcome", "error", "resume_token"} <= _columns(
        path, "refresh_runs")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master "
                                              "WHERE type = 'index'")}
    assert {"idx_trials_overall_status", "idx_locations_nct_id", "idx_trial_codes_code"} <= \
        indexes
    assert applied_migrations(conn) == [m.__name__ for m in MIGRATIONS]


def test_opening_twice_applies_nothing_new(tmp_path):
    path = tmp_path / "trials.db"
    TrialStore.open(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn) == []


def test_older_schema_is_upgraded_and_keeps_its_trials(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, upto="m001_trials") == ["m001_trials"]
    conn.execute("INSERT INTO trials (nct_id, brief_title, criteria_text) "
                 "VALUES ('NCT90000077', 'Old lymphoma trial', 'Age over 18')")
    conn.close()
    assert "refresh_runs" not in _tables(path)

    with TrialStore.open(path) as store:
        assert EXPECTED_TABLES <= _tables(path)
        # The FTS migration indexed the row that was already there.
        assert [nct for nct, _ in store.search_text("lymphoma")] == ["NCT90000077"]
        store.upsert_studies(make_studies(2))
        assert store.count() == 3


def test_readonly_open_upgrades_an_older_schema_first(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, upto="m002_refresh_runs")
    conn.close()
    with TrialStore.open(path, readonly=True) as store:
        assert store.stats()["trials"] == 0
    assert EXPECTED_TABLES <= _tables(path)


def test_criteria_kinds_are_filled_for_criteria_stored_before(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, upto="m004_annotations")
    conn.execute("INSERT INTO trials (nct_id, brief_title) VALUES ('NCT90000077', 'Old')")
    conn.executemany(
        "INSERT INTO criteria (nct_id, position, kind, text, requirements) "
        "VALUES ('NCT90000077', ?, 'inclusion', 'x', ?)",
        [(0, '[{"kind": "sex", "params": {}, "text": "x"}, '
             '{"kind": "age", "params": {}, "text": "x"}, '
             '{"kind": "age", "params": {}, "text": "x"}]'),
         (1, "[]"),
         (2, '[{"kind": "organ_function", "params": {}, "text": "x"}]')])
    conn.close()
    with TrialStore.open(path, readonly=True) as store:
        views = store.screening_trials(["NCT90000077"], skip_kinds={"organ_function"})
    conn = sqlite3.connect(path)
    assert [row[0] for row in conn.execute("SELECT kinds FROM criteria ORDER BY position")] \
        == [" age sex ", " ", " organ_function "]
    assert [c.position for c in views[0].criteria] == [0]


def test_candidate_selection_has_its_covering_index(tmp_path):
    from trialmatch.ingest.store import TrialStore

    with TrialStore.open(tmp_path / "trials.db") as store:
        indexes = {row[1] for row in store.conn.execute("PRAGMA index_list('trials')")}
    assert "trials_screening" in indexes


def test_primary_purpose_is_filled_from_the_stored_records(tmp_path):
    import json
    import zlib

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, upto="m006_trial_screening_index")
    study = {"protocolSection": {"identificationModule": {"nctId": "NCT90000078"},
                                 "designModule": {"designInfo": {"primaryPurpose":
                                                                 "SUPPORTIVE_CARE"}}}}
    conn.execute("INSERT INTO trials (nct_id, brief_title, raw_json) VALUES (?, 'Old', ?)",
                 ("NCT90000078", zlib.compress(json.dumps(study).encode())))
    conn.execute("INSERT INTO trials (nct_id, brief_title) VALUES ('NCT90000079', 'No raw')")
    conn.close()
    with TrialStore.open(path, readonly=True) as store:
        trials = {t.nct_id: t for t in store.get_trials(["NCT90000078", "NCT90000079"])}
    assert trials["NCT90000078"].primary_purpose == "SUPPORTIVE_CARE"
    assert trials["NCT90000079"].primary_purpose is None


def test_refresh_progress_removals_and_watch_list_upgrade_a_stored_run(tmp_path):
    path = tmp_path / "trials.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, upto="m007_primary_purpose")
    conn.execute("INSERT INTO refresh_runs (started, mode, query, outcome, pages) "
                 "VALUES ('2026-11-01T02:30:00+00:00', 'full', '{}', 'success', 3)")
    conn.close()
    with TrialStore.open(path) as store:
        [run] = store.runs()
        assert (run["outcome"], run["pages"], run["removed"], run["progress_at"]) == (
            "success", 3, 0, None)
    assert {"removed_trials", "watched_cases"} <= _tables(path)
    assert "last_seen_run" in _columns(path, "trials")
    assert {"case_id", "path", "fingerprint", "document", "last_state"} <= _columns(
        path, "watched_cases")


def test_contact_is_filled_from_the_stored_records_and_kept_on_upsert(tmp_path):
    import json
    import zlib

    from ctgov_fake import make_study

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, upto="m007_primary_purpose")
    study = make_study("NCT90000080")
    study["protocolSection"]["contactsLocationsModule"]["centralContacts"] = [
        {"name": "Trial Desk", "phone": "555-0199", "email": "desk@example.org"}]
    conn.execute("INSERT INTO trials (nct_id, brief_title, raw_json) VALUES (?, 'Old', ?)",
                 ("NCT90000080", zlib.compress(json.dumps(study).encode())))
    conn.close()
    with TrialStore.open(path) as store:
        assert store.contacts(["NCT90000080"]) == {"NCT90000080": {
            "name": "Trial Desk", "phone": "555-0199", "email": "desk@example.org"}}
        official = make_study("NCT90000081")
        official["protocolSection"]["contactsLocationsModule"]["overallOfficials"] = [
            {"name": "Dr. Principal", "role": "PRINCIPAL_INVESTIGATOR"}]
        store.upsert_studies([official, make_study("NCT90000082")])
        assert store.contacts(["NCT90000081", "NCT90000082"]) == {
            "NCT90000081": {"name": "Dr. Principal"}}
        plan = store.conn.execute(
            "EXPLAIN QUERY PLAN SELECT nct_id, contact FROM trials WHERE nct_id IN "
            "(SELECT value FROM json_each(?)) AND contact IS NOT NULL", ('["x"]',)).fetchall()
        assert "COVERING INDEX trials_contact" in " ".join(str(row) for row in plan)
