"""The watch list's storage: watched cases and the state of their last `watch run`, kept in
the trial store (table `watched_cases`, migration m013).

This module stores and returns plain JSON documents; what a case or a state means is the
matcher's business (`trialmatch.match.watch`). A watched case is patient data: the store's
files are made readable by their owner only when a case is first written, and nothing here
logs a document.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trialmatch.errors import InputError, NotFoundError
from trialmatch.ingest.store import TrialStore

# The store file and SQLite's companions: all hold pages of the watched cases.
_STORE_FILES = ("", "-wal", "-shm")


@dataclass
class WatchedCase:
    """One watched case: where its file is, a fingerprint of what was read, the case
    document with its notes inline, and the state its last run left (None before the first)."""

    case_id: str
    path: str
    fingerprint: str
    document: dict[str, Any]
    added_at: str
    read_at: str
    last_run_at: str | None = None
    last_state: dict[str, Any] | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def restrict_store_files(db_path: Path) -> None:
    """Make the store's files owner-only (0600): once it holds watched cases it holds
    protected health information, whatever the umask made it."""
    for suffix in _STORE_FILES:
        path = Path(f"{db_path}{suffix}")
        if path.exists():
            os.chmod(path, 0o600)


class WatchList:
    """The watched cases of one (writable) trial store."""

    def __init__(self, store: TrialStore):
        self.store = store
        self.conn = store.conn

    def cases(self) -> list[WatchedCase]:
        """Every watched case, by case id."""
        rows = self.conn.execute(
            "SELECT case_id, path, fingerprint, document, added_at, read_at, last_run_at, "
            "last_state FROM watched_cases ORDER BY case_id"
        ).fetchall()
        return [_watched(row) for row in rows]

    def get(self, case_id: str) -> WatchedCase:
        """One watched case; NotFoundError naming the command that lists them."""
        row = self.conn.execute(
            "SELECT case_id, path, fingerprint, document, added_at, read_at, last_run_at, "
            "last_state FROM watched_cases WHERE case_id = ?", (str(case_id),)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no watched case {case_id!r:.60}",
                                hint="`trialmatch watch list` shows the watched cases")
        return _watched(row)

    def add(self, case_id: str, path: Path, fingerprint: str,
            document: dict[str, Any]) -> bool:
        """Watch a case, or re-read one already watched from the same file. Returns True
        when it is new. A second file with a case id already watched is an InputError."""
        self.store._require_writable()
        path_text = str(Path(path).resolve())
        stamp = _now()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            row = self.conn.execute("SELECT path FROM watched_cases WHERE case_id = ?",
                                    (case_id,)).fetchone()
            if row is not None and row[0] != path_text:
                raise InputError(
                    f"case id {case_id!r:.60} is already watched from {row[0]}",
                    hint=f"`trialmatch watch remove {case_id:.60}` first, or give the case "
                    "another id")
            if row is None:
                self.conn.execute(
                    "INSERT INTO watched_cases (case_id, path, fingerprint, document, "
                    "added_at, read_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (case_id, path_text, fingerprint, _dump(document), stamp, stamp))
            else:
                self.conn.execute(
                    "UPDATE watched_cases SET fingerprint = ?, document = ?, read_at = ? "
                    "WHERE case_id = ?", (fingerprint, _dump(document), stamp, case_id))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        restrict_store_files(self.store.path)
        return row is None

    def remove(self, case_id: str) -> None:
        """Stop watching a case; its stored content and state go with it."""
        self.store._require_writable()
        deleted = self.conn.execute("DELETE FROM watched_cases WHERE case_id = ?",
                                    (str(case_id),)).rowcount
        if not deleted:
            raise NotFoundError(f"no watched case {case_id!r:.60}",
                                hint="`trialmatch watch list` shows the watched cases")

    def save_run(self, outcomes: list[tuple[WatchedCase, dict[str, Any]]]) -> None:
        """After a run: each case's new state (and its re-read document), in one
        transaction, so a run either moves every case on or none."""
        self.store._require_writable()
        stamp = _now()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for watched, state in outcomes:
                self.conn.execute(
                    "UPDATE watched_cases SET fingerprint = ?, document = ?, read_at = ?, "
                    "last_run_at = ?, last_state = ? WHERE case_id = ?",
                    (watched.fingerprint, _dump(watched.document), watched.read_at, stamp,
                     _dump(state), watched.case_id))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _watched(row: tuple[Any, ...]) -> WatchedCase:
    case_id, path, fingerprint, document, added_at, read_at, last_run_at, last_state = row
    return WatchedCase(case_id, path, fingerprint, json.loads(document), added_at, read_at,
                       last_run_at, json.loads(last_state) if last_state else None)
