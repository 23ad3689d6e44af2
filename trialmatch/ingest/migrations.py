"""The trial store's schema: an append-only list of migrations applied on every open.

This is the only place where tables are created. Never edit a migration that has shipped;
add a new `mNNN_...` function at the end instead (the order of `MIGRATIONS` is the order of
application, and each name is recorded in `_migrations` once applied).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

from trialmatch.ingest.normalize import decompress_study, primary_purpose, study_contact

Migration = Callable[[sqlite3.Connection], None]


def rollback_quietly(conn: sqlite3.Connection) -> None:
    """Roll back after a failure without hiding it: when the disk is full, ROLLBACK itself may
    fail ("cannot rollback - no transaction is active"), and that must not replace the
    "database or disk is full" the user needs to see. SQLite rolls back on its own then."""
    with contextlib.suppress(sqlite3.Error):
        if conn.in_transaction:
            conn.execute("ROLLBACK")
MIGRATIONS: list[Migration] = []


def migration(function: Migration) -> Migration:
    """Register a migration; registration order is application order."""
    MIGRATIONS.append(function)
    return function


@migration
def m001_trials(conn: sqlite3.Connection) -> None:
    """Trials and their locations."""
    conn.execute(
        """
        CREATE TABLE trials (
            nct_id TEXT PRIMARY KEY,
            brief_title TEXT,
            official_title TEXT,
            overall_status TEXT,
            phases TEXT NOT NULL DEFAULT '[]',
            study_type TEXT,
            conditions TEXT NOT NULL DEFAULT '[]',
            keywords TEXT NOT NULL DEFAULT '[]',
            interventions TEXT NOT NULL DEFAULT '[]',
            intervention_names TEXT,
            arms TEXT NOT NULL DEFAULT '[]',
            sponsor TEXT,
            start_date TEXT,
            completion_date TEXT,
            last_update_date TEXT,
            brief_summary TEXT,
            criteria_text TEXT NOT NULL DEFAULT '',
            minimum_age REAL,
            maximum_age REAL,
            sex TEXT,
            healthy_volunteers INTEGER,
            raw_json BLOB,
            content_hash TEXT,
            stored_at TEXT
        )
        """
    )
    conn.execute("CREATE INDEX idx_trials_overall_status ON trials(overall_status)")
    conn.execute(
        """
        CREATE TABLE locations (
            nct_id TEXT NOT NULL REFERENCES trials(nct_id),
            facility TEXT,
            city TEXT,
            state TEXT,
            country TEXT,
            status TEXT,
            lat REAL,
            lon REAL
        )
        """
    )
    conn.execute("CREATE INDEX idx_locations_nct_id ON locations(nct_id)")


@migration
def m002_refresh_runs(conn: sqlite3.Connection) -> None:
    """One row per refresh; `resume_token` is the checkpoint a killed run restarts from."""
    conn.execute(
        """
        CREATE TABLE refresh_runs (
            id INTEGER PRIMARY KEY,
            started TEXT NOT NULL,
            finished TEXT,
            data_timestamp TEXT,
            mode TEXT NOT NULL,
            query TEXT NOT NULL,
            added INTEGER NOT NULL DEFAULT 0,
            updated INTEGER NOT NULL DEFAULT 0,
            unchanged INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            pages INTEGER NOT NULL DEFAULT 0,
            outcome TEXT NOT NULL,
            error TEXT,
            resume_token TEXT
        )
        """
    )


_FTS_COLUMNS = (
    "brief_title, official_title, conditions, keywords, intervention_names, "
    "brief_summary, criteria_text"
)


@migration
def m003_trials_fts(conn: sqlite3.Connection) -> None:
    """Full-text index over the trial text, an external-content FTS5 table kept by triggers."""
    conn.execute(
        f"CREATE VIRTUAL TABLE trials_fts USING fts5({_FTS_COLUMNS}, "
        "content='trials', content_rowid='rowid', tokenize='porter unicode61')"
    )
    new = ", ".join(f"new.{c.strip()}" for c in _FTS_COLUMNS.split(","))
    old = ", ".join(f"old.{c.strip()}" for c in _FTS_COLUMNS.split(","))
    conn.execute(
        f"""CREATE TRIGGER trials_fts_ai AFTER INSERT ON trials BEGIN
            INSERT INTO trials_fts(rowid, {_FTS_COLUMNS}) VALUES (new.rowid, {new});
        END"""
    )
    conn.execute(
        f"""CREATE TRIGGER trials_fts_ad AFTER DELETE ON trials BEGIN
            INSERT INTO trials_fts(trials_fts, rowid, {_FTS_COLUMNS})
            VALUES ('delete', old.rowid, {old});
        END"""
    )
    # Only a change to indexed text re-indexes; raw_json or status updates leave FTS alone.
    conn.execute(
        f"""CREATE TRIGGER trials_fts_au AFTER UPDATE OF {_FTS_COLUMNS} ON trials BEGIN
            INSERT INTO trials_fts(trials_fts, rowid, {_FTS_COLUMNS})
            VALUES ('delete', old.rowid, {old});
            INSERT INTO trials_fts(rowid, {_FTS_COLUMNS}) VALUES (new.rowid, {new});
        END"""
    )
    # Index whatever an older schema already holds.
    conn.execute("INSERT INTO trials_fts(trials_fts) VALUES ('rebuild')")


@migration
def m004_annotations(conn: sqlite3.Connection) -> None:
    """What criteria parsing adds: OncoTree codes, criteria with requirements, parser version."""
    conn.execute(
        """
        CREATE TABLE trial_codes (
            nct_id TEXT NOT NULL REFERENCES trials(nct_id),
            code TEXT NOT NULL,
            PRIMARY KEY (nct_id, code)
        ) WITHOUT ROWID
        """
    )
    conn.execute("CREATE INDEX idx_trial_codes_code ON trial_codes(code)")
    conn.execute(
        """
        CREATE TABLE criteria (
            nct_id TEXT NOT NULL REFERENCES trials(nct_id),
            position INTEGER NOT NULL,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            start INTEGER NOT NULL DEFAULT 0,
            "end" INTEGER NOT NULL DEFAULT 0,
            cohort TEXT,
            requirements TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (nct_id, position)
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE trial_parse (
            nct_id TEXT PRIMARY KEY REFERENCES trials(nct_id),
            parser_version TEXT NOT NULL,
            parsed_at TEXT NOT NULL
        )
        """
    )


@migration
def m005_criteria_kinds(conn: sqlite3.Connection) -> None:
    """The requirement kinds each criterion states, as " kind1 kind2 " (sorted, distinct,
    space-delimited), so that matching can leave out in SQL the criteria that can never rule
    a patient out instead of decoding their requirements. Filled for the criteria already
    stored; the store writes it with every new parse."""
    conn.execute("ALTER TABLE criteria ADD COLUMN kinds TEXT NOT NULL DEFAULT ' '")
    conn.execute(
        """
        UPDATE criteria SET kinds = ' ' || coalesce((
            SELECT group_concat(kind, ' ') FROM (
                SELECT DISTINCT json_extract(r.value, '$.kind') AS kind
                FROM json_each(criteria.requirements) r
                WHERE json_extract(r.value, '$.kind') IS NOT NULL
                ORDER BY kind
            )
        ) || ' ', '') WHERE requirements != '[]'
        """
    )


@migration
def m006_trial_screening_index(conn: sqlite3.Connection) -> None:
    """A covering index for candidate selection: status, age and sex bounds and the content
    hash sit after the large text and blob columns of `trials`, so without it SQLite reads
    past them for every candidate (9 ms -> 3 ms for a lung case on 10,000 trials)."""
    conn.execute(
        "CREATE INDEX IF NOT EXISTS trials_screening ON trials "
        "(nct_id, overall_status, minimum_age, maximum_age, sex, content_hash)"
    )


@migration
def m007_primary_purpose(conn: sqlite3.Connection) -> None:
    """The study's primary purpose (treatment, supportive care, diagnostic, ...), which ranks
    treatment trials before the others; filled from the stored records."""
    conn.execute("ALTER TABLE trials ADD COLUMN primary_purpose TEXT")
    rows = conn.execute("SELECT nct_id, raw_json FROM trials WHERE raw_json IS NOT NULL")
    conn.executemany(
        "UPDATE trials SET primary_purpose = ? WHERE nct_id = ?",
        [(primary_purpose(decompress_study(raw)), nct_id) for nct_id, raw in rows.fetchall()])


@migration
def m008_store_info(conn: sqlite3.Connection) -> None:
    """Facts about the store itself; `requires_trialmatch` names the trialmatch version that
    applied its latest migration, so an older trialmatch can say which version it needs."""
    conn.execute("CREATE TABLE store_info (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migration
def m012_refresh_progress_and_removals(conn: sqlite3.Connection) -> None:
    """What a refresh leaves behind for the next one and for `stats`: when a run last
    stored a page (`progress_at`, so a run whose process died can say how far it got and
    when) and how many studies it found removed; which run last saw each trial
    (`last_seen_run`); and the studies the registry no longer returns (`removed_trials`:
    kept in the store, left out of matching)."""
    conn.execute("ALTER TABLE refresh_runs ADD COLUMN progress_at TEXT")
    conn.execute("ALTER TABLE refresh_runs ADD COLUMN removed INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE trials ADD COLUMN last_seen_run INTEGER")
    conn.execute(
        """
        CREATE TABLE removed_trials (
            nct_id TEXT PRIMARY KEY REFERENCES trials(nct_id),
            removed_at TEXT NOT NULL,
            run_id INTEGER NOT NULL
        ) WITHOUT ROWID
        """
    )


@migration
def m013_watch_list(conn: sqlite3.Connection) -> None:
    """Watched cases: the case as read (its file's path, a fingerprint of the file and its
    notes, and the case document with the notes' text inline, so a run can go on when the
    file is gone) and the state of its last `watch run` (what the digest compares with).
    Patient data: the store file is made owner-only when a case is first watched."""
    conn.execute(
        """
        CREATE TABLE watched_cases (
            case_id TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            document TEXT NOT NULL,
            added_at TEXT NOT NULL,
            read_at TEXT NOT NULL,
            last_run_at TEXT,
            last_state TEXT
        )
        """
    )


@migration
def m010_trial_contact(conn: sqlite3.Connection) -> None:
    """Whom to ask about a trial (its central contact, else its overall official) as JSON,
    so reports show it without decompressing each record; filled from the stored records.
    The column sits after raw_json: a covering index lets a read skip the record's blob."""
    conn.execute("ALTER TABLE trials ADD COLUMN contact TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS trials_contact ON trials (nct_id, contact)")
    rows = conn.execute("SELECT nct_id, raw_json FROM trials WHERE raw_json IS NOT NULL")
    updates = []
    for nct_id, raw in rows.fetchall():
        contact = study_contact(decompress_study(raw))
        if contact:
            updates.append((json.dumps(contact, ensure_ascii=False), nct_id))
    conn.executemany("UPDATE trials SET contact = ? WHERE nct_id = ?", updates)


@migration
def m011_place_indexes(conn: sqlite3.Connection) -> None:
    """Two look-ups of the report's header and distances made cheap: the trial sites of a
    city (`TrialStore.site_place`, where a case's city is placed) and the latest time a trial
    was stored (the data timestamp of a store never refreshed). Both columns sit after the
    record blob, so without an index each read walks every record."""
    conn.execute("CREATE INDEX IF NOT EXISTS idx_locations_place ON locations "
                 "(country COLLATE NOCASE, city COLLATE NOCASE, state COLLATE NOCASE, lat, lon)")
    conn.execute("CREATE INDEX IF NOT EXISTS idx_trials_stored_at ON trials (stored_at)")


class NewerStoreError(Exception):
    """The store holds migrations this trialmatch does not know: a newer one wrote it."""

    def __init__(self, unknown: list[str], requires: str | None):
        super().__init__(unknown[0])
        self.unknown = unknown
        self.requires = requires


def check_not_newer(conn: sqlite3.Connection) -> None:
    """Raise NewerStoreError when a newer trialmatch has migrated this store: this version
    would misread it, and writing would corrupt it for the version that owns it."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    if "_migrations" not in tables:
        return
    known = {function.__name__ for function in MIGRATIONS}
    unknown = [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY rowid")
               if row[0] not in known]
    if not unknown:
        return
    requires = None
    if "store_info" in tables:
        row = conn.execute(
            "SELECT value FROM store_info WHERE key = 'requires_trialmatch'").fetchone()
        requires = row[0] if row else None
    raise NewerStoreError(unknown, requires)


def pending_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations not yet applied (read only: creates nothing)."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    done = (set() if "_migrations" not in tables
            else {row[0] for row in conn.execute("SELECT name FROM _migrations")})
    return [function.__name__ for function in MIGRATIONS if function.__name__ not in done]


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations already applied to this database, in order."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    return [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(conn: sqlite3.Connection, *, upto: str | None = None) -> list[str]:
    """Apply every migration not yet applied, each in its own transaction; return their names.

    `upto` stops after the named migration (tests use it to build an older schema).
    The connection must be in autocommit mode (isolation_level=None).
    """
    check_not_newer(conn)
    done = set(applied_migrations(conn))
    applied: list[str] = []
    for function in MIGRATIONS:
        name = function.__name__
        if name not in done:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-check under the write lock: another process may have just migrated.
                already = conn.execute(
                    "SELECT 1 FROM _migrations WHERE name = ?", (name,)
                ).fetchone()
                if not already:
                    function(conn)
                    conn.execute(
                        "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                        (name, datetime.now(UTC).isoformat(timespec="seconds")),
                    )
                    applied.append(name)
                    if "store_info" in {row[0] for row in conn.execute(
                            "SELECT name FROM sqlite_master WHERE type = 'table'")}:
                        from trialmatch import __version__

                        conn.execute("INSERT OR REPLACE INTO store_info (key, value) "
                                     "VALUES ('requires_trialmatch', ?)", (__version__,))
                conn.execute("COMMIT")
            except BaseException:
                rollback_quietly(conn)
                raise
        if upto is not None and name == upto:
            break
    return applied
