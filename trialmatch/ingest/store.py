"""The local trial store: a SQLite database of normalised ClinicalTrials.gov studies.

Writes are idempotent upserts keyed by NCT id and atomic per batch (trial row, locations and
parsed criteria go in together). The schema lives in `migrations.py`, applied on every open.
Criteria parsing is passed in by the caller as `annotate`, so this module never imports nlp.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import logging
import multiprocessing
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trialmatch.errors import NotFoundError, StoreError
from trialmatch.ingest.migrations import (
    NewerStoreError,
    check_not_newer,
    migrate,
    pending_migrations,
    rollback_quietly,
)
from trialmatch.ingest.normalize import (
    NCT_ID,
    InvalidStudyError,
    StudyRecord,
    decompress_study,
    normalize_study,
)
from trialmatch.models import (
    EligibilityCriterion,
    Location,
    Requirement,
    Trial,
    TrialAnnotation,
    TrialText,
)
from trialmatch.regex_cache import re_compile

log = logging.getLogger(__name__)

Annotate = Callable[[TrialText], TrialAnnotation]
Progress = Callable[[int], None]

_TRIAL_COLUMNS = (
    "nct_id", "brief_title", "official_title", "overall_status", "phases", "study_type",
    "conditions", "keywords", "interventions", "intervention_names", "arms", "sponsor",
    "start_date", "completion_date", "last_update_date", "brief_summary", "criteria_text",
    "minimum_age", "maximum_age", "sex", "healthy_volunteers", "raw_json", "content_hash",
    "stored_at", "primary_purpose", "contact",
)
_UPSERT_TRIAL = (
    f"INSERT INTO trials ({', '.join(_TRIAL_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _TRIAL_COLUMNS)}) "
    "ON CONFLICT(nct_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _TRIAL_COLUMNS if c != "nct_id")
)
_IDS = "SELECT value FROM json_each(?)"  # a list of ids passed as one JSON parameter
_NCT_ID = re_compile(r"NCT\d{8}")
# Screening views a store keeps between calls: the candidates of several cancer types on a
# 10,000-trial store (a lung case has ~1,100, mostly basket trials). ~19 KB a view (measured
# with tracemalloc on that store), so ~75 MB when full.
VIEW_CACHE_SIZE = 4000
# Full trials kept between calls: those that pass screening, ~250 per case on 10,000 trials.
# ~78 KB a trial, so ~115 MB when full.
TRIAL_CACHE_SIZE = 1500


@dataclass
class UpsertCounts:
    """What a load did: trials added, updated (content changed), unchanged, and skipped."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.skipped += other.skipped
        return self

    @property
    def seen(self) -> int:
        """Every study looked at, stored or not."""
        return self.added + self.updated + self.unchanged + self.skipped

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


# Characters that cannot travel to SQLite as text (NUL ends an FTS5 string early; a lone
# surrogate, which argv can carry from undecodable bytes, cannot be encoded as UTF-8) or that
# mean nothing in a search (other control characters).
_UNSAFE_TEXT = re_compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def sql_text(value: str) -> str:
    """User text made safe to bind as an SQLite parameter: control characters and lone
    surrogates become spaces. Binding (never formatting) keeps it out of the SQL itself."""
    return _UNSAFE_TEXT.sub(" ", value)


# FTS5 evaluates N ANDed phrases in time that grows with N squared (4,000 copies of one word
# took 12 s); a search needs a few words. Repeats are dropped, and words past this many are
# left out, so a search costs at most a fixed amount past reading the query once.
MAX_SEARCH_WORDS = 32


def search_words(query: str) -> list[str]:
    """The distinct words of a search (case-insensitive, first spelling kept), at most
    MAX_SEARCH_WORDS of them; control characters and quotes are blanks."""
    seen: set[str] = set()
    words: list[str] = []
    for word in sql_text(query).replace('"', " ").split():
        if word.casefold() not in seen:
            seen.add(word.casefold())
            words.append(word)
            if len(words) == MAX_SEARCH_WORDS:
                break
    return words


def _shown(value: str, limit: int = 40) -> str:
    # For messages: an id the user typed, printable and short.
    cleaned = sql_text(value)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _json(value: Any) -> str:
    return _ENCODER.encode(value)


def _jsonable(value: Any) -> Any:
    # Parsers may hand back sets or tuples inside requirement params; store them as lists
    # rather than failing the whole batch.
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, tuple):
        return list(value)
    return str(value)


# What json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_jsonable) uses,
# built once: json.dumps builds an encoder per call with these arguments, and a load writes
# one JSON value per criterion.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_jsonable)


class TrialStore:
    """A trial database. Open with `TrialStore.open(path)`; use as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool):
        self.conn = conn
        self.path = path
        self.readonly = readonly
        # Screening views and full trials kept between calls (see `screening_trials` and
        # `get_trials`); a size of 0 turns a cache off.
        self.view_cache_size = VIEW_CACHE_SIZE
        self.trial_cache_size = TRIAL_CACHE_SIZE
        self._views: OrderedDict[str, tuple[tuple[Any, ...], Trial]] = OrderedDict()
        self._trials: OrderedDict[str, tuple[tuple[Any, ...], Trial]] = OrderedDict()
        self._cache_lock = threading.Lock()
        # Decoded requirement lists by their stored JSON, shared within one snapshot (see
        # `_requirements_of`); None outside a snapshot.
        self._interned: dict[str, list[Requirement]] | None = None

    # ------------------------------------------------------------------ opening and closing

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False,
             check: bool = False) -> TrialStore:
        """Open (creating and migrating when writable) the database at `path`.

        A read-only open of a missing file is a StoreError telling the user how to make one.
        A reader that cannot write the store or its folder (a store owned by the cron user, a
        read-only filesystem) still reads it (`_connect_readonly`). A store migrated by a
        newer trialmatch is refused, naming the version it needs. With `check`, `PRAGMA
        quick_check` runs first and a damaged store is refused.
        """
        path = Path(path)
        if readonly and not path.exists():
            raise StoreError(
                f"no trial database at {path}; run `trialmatch ingest` or "
                "`trialmatch refresh` first"
            )
        conn = None
        try:
            if readonly:
                conn = _connect_readonly(path)
                check_not_newer(conn)
                if pending_migrations(conn):
                    # An older schema: upgrade it once through a writable connection.
                    conn.close()
                    conn = None
                    try:
                        cls.open(path).close()
                    except StoreError as error:
                        raise StoreError(
                            f"the trial database at {path} has an older schema and this user "
                            "cannot upgrade it", hint="run `trialmatch stats --db ...` once "
                            f"as its owner ({error.message})") from None
                    conn = _connect_readonly(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    path, isolation_level=None, timeout=30, check_same_thread=False
                )
                check_not_newer(conn)
                if check:
                    _quick_check(conn, path)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                migrate(conn)
            if check and readonly:
                _quick_check(conn, path)
            conn.execute("SELECT count(*) FROM trials").fetchone()
        except NewerStoreError as error:
            _close(conn)
            from trialmatch import __version__

            needs = (f"trialmatch {error.requires} or newer" if error.requires
                     else "a newer trialmatch")
            raise StoreError(
                f"the trial database at {path} was written by a newer trialmatch (schema "
                f"{error.unknown[-1]}); it needs {needs}, this is {__version__}",
                hint="upgrade trialmatch, or point --db at another store") from None
        except StoreError:
            _close(conn)
            raise
        except sqlite3.DatabaseError as error:
            _close(conn)
            explained = explain_sqlite_error(error, path)
            if explained is not None:
                raise explained from None
            raise StoreError(
                f"{path} is not a usable trial database ({error})",
                hint="point --db at a trialmatch database or a new file name",
            ) from None
        except OSError as error:
            _close(conn)
            raise StoreError(f"cannot open the trial database at {path}: "
                             f"{error.strerror or error}") from None
        return cls(conn, path, readonly=readonly)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> TrialStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside sees the same state of the database.

        The connection is in autocommit mode, so each statement is otherwise its own read
        transaction, and a refresh or ingest committing between two of them (a trial row and
        its criteria, candidates and their trials) would show a mix of before and after.
        WAL mode lets the writer go on meanwhile; nothing waits. Nested use joins the outer
        snapshot.
        """
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN")
        self._interned = {}
        try:
            yield
        except BaseException:
            rollback_quietly(self.conn)
            raise
        finally:
            self._interned = None
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")

    # ------------------------------------------------------------------ writing trials

    def upsert_studies(
        self,
        studies: Iterable[dict[str, Any] | StudyRecord],
        annotate: Annotate | None = None,
        *,
        batch_size: int = 500,
        progress: Progress | None = None,
        jobs: int = 1,
    ) -> UpsertCounts:
        """Store study objects (or already normalised records), one transaction per batch.

        A study whose content is unchanged is left alone; a study without an NCT id is
        skipped with a warning. `annotate` parses each new or changed trial and its codes,
        criteria and parser version are written in the same transaction as the trial.
        `progress` is called with the number of studies handled after each batch. With
        `jobs` > 1, parsing runs in that many processes (`annotate` must be picklable: a
        module-level function).
        """
        with ParsingPool(annotate, jobs) as parser:
            return self._upsert(studies, parser, batch_size, progress)

    def _upsert(
        self,
        studies: Iterable[dict[str, Any] | StudyRecord],
        parser: ParsingPool,
        batch_size: int,
        progress: Progress | None,
    ) -> UpsertCounts:
        # With worker processes, a batch is parsed while the one before it is written (and
        # the next is read and normalised): parsing and writing each wait for the other
        # otherwise, and together they were slower than either alone.
        counts = UpsertCounts()
        batch: list[StudyRecord] = []
        in_flight: _PreparedBatch | None = None

        def write(prepared: _PreparedBatch) -> None:
            nonlocal counts
            counts += self._commit_batch(prepared, parser)
            if progress:
                progress(len(prepared.records))

        for study in studies:
            if isinstance(study, StudyRecord):
                batch.append(study)
            else:
                try:
                    batch.append(normalize_study(study))
                except InvalidStudyError as error:
                    log.warning("skipped a study: %s", error)
                    counts.skipped += 1
                    if progress:
                        progress(1)
            if len(batch) >= batch_size:
                prepared = self._prepare_batch(batch, parser)
                if in_flight is not None:
                    write(in_flight)
                in_flight, batch = prepared, []
        if batch:
            prepared = self._prepare_batch(batch, parser)
            if in_flight is not None:
                write(in_flight)
            in_flight = prepared
        if in_flight is not None:
            write(in_flight)
        return counts

    def _write_batch(
        self,
        records: Sequence[StudyRecord],
        parser: ParsingPool,
        checkpoint: Callable[[UpsertCounts], None] | None = None,
    ) -> UpsertCounts:
        """Write one batch in one transaction; `checkpoint` runs inside it before COMMIT."""
        return self._commit_batch(self._prepare_batch(records, parser), parser, checkpoint)

    def _prepare_batch(self, records: Sequence[StudyRecord],
                       parser: ParsingPool) -> _PreparedBatch:
        """Start parsing the new or changed trials of a batch (in the workers when there
        are any, so the caller can write another batch meanwhile)."""
        self._require_writable()
        unique = list({record.nct_id: record for record in records}.values())
        ids = _json([record.nct_id for record in unique])
        texts: list[TrialText] = []
        if parser:
            stored = self._stored_hashes(ids)
            parsed = self._parsed_ids(ids)
            texts = [
                record.trial_text() for record in unique
                if stored.get(record.nct_id) != record.content_hash
                or record.nct_id not in parsed
            ]
        return _PreparedBatch(records, unique, ids, [t.nct_id for t in texts],
                              parser.start(texts) if texts else iter(()))

    def _commit_batch(
        self,
        prepared: _PreparedBatch,
        parser: ParsingPool,
        checkpoint: Callable[[UpsertCounts], None] | None = None,
    ) -> UpsertCounts:
        """Write a prepared batch in one transaction; `checkpoint` runs inside it before
        COMMIT."""
        records, unique, ids = prepared.records, prepared.unique, prepared.ids
        # Parse outside the write transaction so the write lock is held only for writing.
        annotations: dict[str, TrialAnnotation | None] = dict(
            zip(prepared.parsing_ids, prepared.parsing, strict=True))
        if parser:
            # A batch written since this one was prepared may have changed a trial that
            # looked unchanged then (the same study twice in one load): parse it now.
            stored, parsed = self._stored_hashes(ids), self._parsed_ids(ids)
            late = [record.trial_text() for record in unique
                    if record.nct_id not in annotations
                    and (stored.get(record.nct_id) != record.content_hash
                         or record.nct_id not in parsed)]
            annotations.update(zip([t.nct_id for t in late], parser.run(late), strict=True))

        # A study repeated within one batch is stored once (the last copy wins); the earlier
        # copies count as unchanged so that every study looked at is counted once.
        counts = UpsertCounts(unchanged=len(records) - len(unique))
        stamp = _now()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            stored = self._stored_hashes(ids)  # again, under the lock: exact counts
            changed = []
            for record in unique:
                previous = stored.get(record.nct_id)
                if previous == record.content_hash:
                    counts.unchanged += 1
                    continue
                if previous is None:
                    counts.added += 1
                else:
                    counts.updated += 1
                changed.append(record)
            self.conn.executemany(_UPSERT_TRIAL, [_trial_row(r, stamp) for r in changed])
            changed_ids = _json([record.nct_id for record in changed])
            self.conn.execute(f"DELETE FROM locations WHERE nct_id IN ({_IDS})", (changed_ids,))
            self.conn.executemany(
                "INSERT INTO locations (nct_id, facility, city, state, country, status, lat, "
                "lon) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (r.nct_id, loc.facility, loc.city, loc.state, loc.country, loc.status,
                     loc.lat, loc.lon)
                    for r in changed
                    for loc in r.locations
                ],
            )
            # A changed trial's old parse no longer describes it: drop it unless replaced.
            stale = [r.nct_id for r in changed if annotations.get(r.nct_id) is None]
            self._delete_annotations(_json(stale))
            self._write_annotations(
                {k: v for k, v in annotations.items() if v is not None}, stamp
            )
            if checkpoint is not None:
                checkpoint(counts)
            self.conn.execute("COMMIT")
        except BaseException:
            rollback_quietly(self.conn)
            raise
        return counts

    def _stored_hashes(self, ids_json: str) -> dict[str, str]:
        return dict(
            self.conn.execute(
                f"SELECT nct_id, content_hash FROM trials WHERE nct_id IN ({_IDS})", (ids_json,)
            )
        )

    def _parsed_ids(self, ids_json: str) -> set[str]:
        return {
            row[0]
            for row in self.conn.execute(
                f"SELECT nct_id FROM trial_parse WHERE nct_id IN ({_IDS})", (ids_json,)
            )
        }

    def _delete_annotations(self, ids_json: str) -> None:
        # Every write of trials or parses passes here: kept views and trials of this store
        # may be stale now, even where the stamp (to the second) looks the same.
        with self._cache_lock:
            self._views.clear()
            self._trials.clear()
        for table in ("trial_codes", "criteria", "trial_parse"):
            self.conn.execute(f"DELETE FROM {table} WHERE nct_id IN ({_IDS})", (ids_json,))

    def _write_annotations(self, annotations: dict[str, TrialAnnotation], stamp: str) -> None:
        if not annotations:
            return
        self._delete_annotations(_json(list(annotations)))
        self.conn.executemany(
            "INSERT OR IGNORE INTO trial_codes (nct_id, code) VALUES (?, ?)",
            [(nct_id, code) for nct_id, a in annotations.items() for code in a.oncotree_codes],
        )
        self.conn.executemany(
            'INSERT OR REPLACE INTO criteria (nct_id, position, kind, text, start, "end", '
            "cohort, requirements, kinds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (nct_id, c.position, c.kind, c.text, c.start, c.end, c.cohort,
                 _requirements_json(c.requirements), _kinds(c.requirements))
                for nct_id, a in annotations.items()
                for c in a.criteria
            ],
        )
        self.conn.executemany(
            "INSERT INTO trial_parse (nct_id, parser_version, parsed_at) VALUES (?, ?, ?)",
            [(nct_id, a.parser_version, stamp) for nct_id, a in annotations.items()],
        )

    def reparse(
        self,
        annotate: Annotate,
        *,
        only_stale: str | None = None,
        batch_size: int = 200,
        progress: Progress | None = None,
        jobs: int = 1,
    ) -> int:
        """Re-run criteria parsing over stored trials from their stored fields (no network).

        With `only_stale` (the current parser version) only trials never parsed or parsed by
        another version are redone. `jobs` as in `upsert_studies`. Returns the number of
        trials parsed.
        """
        self._require_writable()
        with ParsingPool(annotate, jobs) as parser:
            return self._reparse(parser, only_stale, batch_size, progress)

    def _reparse(
        self,
        parser: ParsingPool,
        only_stale: str | None,
        batch_size: int,
        progress: Progress | None,
    ) -> int:
        ids = self.reparse_ids(only_stale=only_stale)
        done = 0
        for start in range(0, len(ids), batch_size):
            chunk = ids[start:start + batch_size]
            texts = self._trial_texts(chunk)
            annotations = dict(zip([t.nct_id for t in texts], parser.run(texts), strict=True))
            stamp = _now()
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self._delete_annotations(_json(chunk))
                self._write_annotations(
                    {k: v for k, v in annotations.items() if v is not None}, stamp
                )
                self.conn.execute("COMMIT")
            except BaseException:
                rollback_quietly(self.conn)
                raise
            done += len(texts)
            if progress:
                progress(len(texts))
        return done

    def reparse_ids(self, *, only_stale: str | None = None) -> list[str]:
        """NCT ids `reparse` would redo: all, or those not parsed with version `only_stale`."""
        if only_stale is None:
            sql, params = "SELECT nct_id FROM trials ORDER BY nct_id", ()
        else:
            sql = (
                "SELECT t.nct_id FROM trials t LEFT JOIN trial_parse p USING (nct_id) "
                "WHERE p.parser_version IS NULL OR p.parser_version != ? ORDER BY t.nct_id"
            )
            params = (only_stale,)
        return [row[0] for row in self.conn.execute(sql, params)]

    def _trial_texts(self, nct_ids: Sequence[str]) -> list[TrialText]:
        rows = self.conn.execute(
            "SELECT nct_id, brief_title, official_title, conditions, keywords, criteria_text, "
            f"minimum_age, maximum_age, sex, primary_purpose, phases, brief_summary FROM trials "
            f"WHERE nct_id IN ({_IDS}) "
            "ORDER BY nct_id",
            (_json(list(nct_ids)),),
        )
        return [
            TrialText(
                nct_id=row[0],
                title=row[1] or row[2] or row[0],
                conditions=json.loads(row[3]),
                keywords=json.loads(row[4]),
                criteria_text=row[5] or "",
                minimum_age=row[6],
                maximum_age=row[7],
                sex=row[8],
                primary_purpose=row[9],
                official_title=row[2],
                phases=tuple(json.loads(row[10] or "[]")),
                brief_summary=row[11],
            )
            for row in rows
        ]

    # ------------------------------------------------------------------ reading trials

    def candidate_ids(
        self,
        codes: Iterable[str],
        *,
        statuses: Sequence[str] | None,
        age: float | None,
        sex: str | None,
        phases: Iterable[str] = (),
        purposes: Iterable[str] = (),
    ) -> list[str]:
        """NCT ids of trials tagged with any of `codes` that the age, sex and status allow.

        `statuses` None means every status. A missing age bound passes; `age` None passes.
        `sex` "female"/"male" keeps trials open to that sex or to all (or unstated).
        `phases` (API values; "NA" also takes a record without phases) and `purposes` keep
        trials of any of them; a record without a purpose counts as TREATMENT.
        """
        sql = [
            "SELECT DISTINCT t.nct_id FROM trial_codes c JOIN trials t USING (nct_id)",
            f"WHERE c.code IN ({_IDS})",
        ]
        params: list[Any] = [_json([sql_text(str(code)) for code in codes])]
        # Studies the registry no longer returns are kept (for `show`) but never matched.
        sql.append("AND c.nct_id NOT IN (SELECT nct_id FROM removed_trials)")
        if statuses is not None:
            sql.append(f"AND t.overall_status IN ({_IDS})")
            params.append(_json([sql_text(s).upper() for s in statuses]))
        if age is not None:
            sql.append("AND (t.minimum_age IS NULL OR t.minimum_age <= ?)")
            sql.append("AND (t.maximum_age IS NULL OR t.maximum_age >= ?)")
            params += [age, age]
        if sex:
            sql.append("AND (t.sex IS NULL OR t.sex = 'ALL' OR t.sex = ?)")
            params.append(sql_text(sex).upper())
        phases = [sql_text(str(phase)).upper() for phase in phases]
        if phases:
            sql.append(f"AND (EXISTS (SELECT 1 FROM json_each(t.phases) p WHERE p.value IN "
                       f"({_IDS})) OR (? AND t.phases = '[]'))")
            params += [_json(phases), "NA" in phases]
        purposes = [sql_text(str(purpose)).upper() for purpose in purposes]
        if purposes:
            sql.append(f"AND coalesce(t.primary_purpose, 'TREATMENT') IN ({_IDS})")
            params.append(_json(purposes))
        sql.append("ORDER BY t.nct_id")
        return [row[0] for row in self.conn.execute(" ".join(sql), params)]

    def get_trial(self, nct_id: str) -> Trial:
        """A stored trial with its locations, codes and parsed criteria; NotFoundError if absent
        or if `nct_id` is not an NCT id at all."""
        key = _nct_key(nct_id)
        trials = self.get_trials([key])
        if not trials:
            raise NotFoundError(
                f"{key} is not in the trial database at {self.path}",
                hint="check the NCT id, or run `trialmatch refresh` / `trialmatch ingest`",
            )
        return trials[0]

    def get_trials(self, nct_ids: Sequence[str]) -> list[Trial]:
        """Stored trials in the order asked for (unknown ids are left out), read from one
        snapshot (see `snapshot`).

        Up to `trial_cache_size` trials are kept between calls, checked on every call as
        `screening_trials` checks its views; trials are shared between calls, so callers
        must not modify them.
        """
        nct_ids = [sql_text(str(nct_id)) for nct_id in nct_ids]
        with self.snapshot():
            return self._cached(self._trials, self.trial_cache_size, nct_ids, (),
                                lambda missing: {t.nct_id: t for t in self._get_trials(missing)})

    def iter_trials(self, nct_ids: Sequence[str], *, chunk: int = 500) -> Iterator[Trial]:
        """Stored trials in the order asked for, read `chunk` at a time from one snapshot.

        For callers that can let go of each trial once it is evaluated: memory then stays
        bounded by the chunk, where `get_trials` on the 10,000 candidates of a 100,000-trial
        store holds them all at once (about 1 GB, see bench/limits.py).
        """
        ids = [sql_text(str(nct_id)) for nct_id in nct_ids]
        with self.snapshot():
            for start in range(0, len(ids), max(1, chunk)):
                yield from self._get_trials(ids[start:start + max(1, chunk)])

    def complete_trials(
        self, views: Sequence[Trial], *, skip_kinds: Iterable[str] = ()
    ) -> list[Trial]:
        """The full trials of screening views, in their order: what `get_trials` returns for
        their ids, read from one snapshot, but reading only the criteria the views leave
        out (free text and those of `skip_kinds`, which must be the kinds the views were read
        with) and sharing the views' criteria. Kept between calls as `get_trials` keeps
        trials."""
        by_id = {view.nct_id: view for view in views}
        skip = tuple(sorted({str(kind) for kind in skip_kinds}))
        with self.snapshot():
            return self._cached(self._trials, self.trial_cache_size, list(by_id), (),
                                lambda missing: {t.nct_id: t for t in self._get_trials(
                                    missing, views=by_id, skip=skip)})

    def _get_trials(self, nct_ids: list[str], views: dict[str, Trial] | None = None,
                    skip: Sequence[str] = ()) -> list[Trial]:
        # Plain tuples and only the columns a Trial holds (never the compressed raw_json):
        # building sqlite3.Row dicts and fetching the blob were most of a match's time.
        # With `views`, only the criteria they leave out are read (see `complete_trials`).
        ids = _json(nct_ids)
        rows = {
            row[0]: row
            for row in self.conn.execute(
                f"SELECT {_FULL_COLUMNS} FROM trials t LEFT JOIN trial_parse p "
                f"USING (nct_id) WHERE t.nct_id IN ({_IDS})",
                (ids,),
            )
        }
        locations: dict[str, list[Location]] = {}
        for nct_id, *fields in self.conn.execute(
            "SELECT nct_id, facility, city, state, country, status, lat, lon FROM locations "
            # Index order (rows of one trial in rowid order, as written): no sort.
            f"WHERE nct_id IN ({_IDS}) ORDER BY nct_id, rowid",
            (ids,),
        ):
            locations.setdefault(nct_id, []).append(Location(*fields))
        codes = self._codes(ids)
        if views is None:
            criteria = self._criteria(ids, only_structured=False)
        else:
            criteria = self._criteria(ids, left_out=True, skip_kinds=skip)
            for nct_id, view in views.items():
                if nct_id in rows and view.criteria:
                    criteria[nct_id] = sorted([*view.criteria, *criteria.get(nct_id, [])],
                                              key=lambda c: c.position)
        return [
            _trial(rows[n], locations.get(n, []), codes.get(n, []), criteria.get(n, []))
            for n in nct_ids
            if n in rows
        ]

    def screening_trials(
        self, nct_ids: Sequence[str], *, skip_kinds: Iterable[str] = ()
    ) -> list[Trial]:
        """Partial views of stored trials, enough to rule a patient out, in the order asked
        for (unknown ids are left out), read from one snapshot.

        Each view has the trial's id, titles, status, conditions, age and sex fields, codes,
        parser version and the criteria with at least one requirement, except those whose
        requirements are all of `skip_kinds` (kinds that can never decide anything). Free-text
        criteria, locations, interventions, phases and the criteria text are left out (empty):
        a trial that passes screening must be read in full with `get_trials`.

        Views are kept between calls, up to `view_cache_size` trials (least recently used
        go first), each with the stamp it was read under: the trial's content hash, parser
        version and parse time, and `skip_kinds`. Every call reads the stamps of the trials
        asked for (one small query) and reads again any trial whose stamp changed, so a
        refresh or reparse is never hidden. Views are shared between calls: callers must
        not modify them.
        """
        nct_ids = [sql_text(str(nct_id)) for nct_id in nct_ids]
        skip = tuple(sorted({str(kind) for kind in skip_kinds}))
        with self.snapshot():
            return self._cached(self._views, self.view_cache_size, nct_ids, skip,
                                lambda missing: self._read_views(missing, skip))

    def _cached(
        self,
        cache: OrderedDict[str, tuple[tuple[Any, ...], Trial]],
        size: int,
        nct_ids: list[str],
        variant: tuple[str, ...],
        read: Callable[[list[str]], dict[str, Trial]],
    ) -> list[Trial]:
        """`nct_ids` through `cache`, within the caller's snapshot: each kept entry is used
        only while the trial's stamp (content hash, parser version, parse time, `variant`)
        is the one it was read under; the others are read with `read`."""
        if size <= 0 and not cache:
            # Nothing kept and nothing to keep (a one-shot caller turned the cache off): the
            # stamps would only cost a pass over the trial rows.
            found = read(nct_ids)
            return [found[n] for n in nct_ids if n in found]
        stamps = {
            nct_id: (variant, content_hash, parser_version, parsed_at)
            for nct_id, content_hash, parser_version, parsed_at in self.conn.execute(
                "SELECT t.nct_id, t.content_hash, p.parser_version, p.parsed_at "
                "FROM trials t LEFT JOIN trial_parse p USING (nct_id) "
                f"WHERE t.nct_id IN ({_IDS})",
                (_json(nct_ids),),
            )
        }
        found: dict[str, Trial] = {}
        with self._cache_lock:
            for nct_id, stamp in stamps.items():
                kept = cache.get(nct_id)
                if kept is not None and kept[0] == stamp:
                    found[nct_id] = kept[1]
                    cache.move_to_end(nct_id)
        missing = [nct_id for nct_id in stamps if nct_id not in found]
        if missing:
            fresh = read(missing)
            found.update(fresh)
            if size > 0:
                with self._cache_lock:
                    for nct_id, trial in fresh.items():
                        cache[nct_id] = (stamps[nct_id], trial)
                        cache.move_to_end(nct_id)
                    while len(cache) > size:
                        cache.popitem(last=False)
        return [found[n] for n in nct_ids if n in found]

    def _read_views(self, nct_ids: list[str], skip: Sequence[str]) -> dict[str, Trial]:
        ids = _json(nct_ids)
        rows = self.conn.execute(
            "SELECT t.nct_id, t.brief_title, t.official_title, t.overall_status, "
            "t.conditions, t.minimum_age, t.maximum_age, t.sex, p.parser_version "
            "FROM trials t LEFT JOIN trial_parse p USING (nct_id) "
            f"WHERE t.nct_id IN ({_IDS})",
            (ids,),
        ).fetchall()
        codes = self._codes(ids)
        criteria = self._criteria(ids, only_structured=True, skip_kinds=skip)
        return {
            row[0]: _screening_trial(row, codes.get(row[0], []), criteria.get(row[0], []))
            for row in rows
        }

    def _codes(self, ids_json: str) -> dict[str, list[str]]:
        codes: dict[str, list[str]] = {}
        for nct_id, code in self.conn.execute(
            f"SELECT nct_id, code FROM trial_codes WHERE nct_id IN ({_IDS}) ORDER BY code",
            (ids_json,),
        ):
            codes.setdefault(nct_id, []).append(code)
        return codes

    def _criteria(
        self, ids_json: str, *, only_structured: bool = False, skip_kinds: Sequence[str] = (),
        left_out: bool = False,
    ) -> dict[str, list[EligibilityCriterion]]:
        """Criteria by trial: all; or with `only_structured` those with requirements, less
        those made only of `skip_kinds` (a screening view's); or with `left_out` exactly the
        ones such a view leaves out."""
        sql = ('SELECT nct_id, kind, text, position, start, "end", cohort, requirements '
               f"FROM criteria WHERE nct_id IN ({_IDS})")
        params: list[Any] = [ids_json]
        # Keep a criterion when a kind is left once every skipped kind is taken out of
        # its " kind1 kind2 " list (see migration m005).
        left = "' ' || kinds || ' '"
        for kind in skip_kinds:
            left = f"replace({left}, ?, ' ')"
            params.append(f" {kind} ")
        if left_out:
            sql += (f" AND (requirements = '[]' OR trim({left}) = '')" if skip_kinds else
                    " AND requirements = '[]'")
        elif only_structured:
            sql += " AND requirements != '[]'"
            if skip_kinds:
                sql += f" AND trim({left}) != ''"
        else:
            del params[1:]
        sql += " ORDER BY nct_id, position"
        criteria: dict[str, list[EligibilityCriterion]] = {}
        # Trials repeat criteria word for word ("Pregnant or breastfeeding", a sponsor's
        # boilerplate), and a trial read in full repeats its screening view's: one decoded
        # list per distinct JSON text within a snapshot. The shared list also lets evaluation
        # remember a criterion's result by the list's identity (see
        # trialmatch.match.evaluate._criterion_result), so callers must not modify it.
        interned = self._interned if self._interned is not None else {}
        with gc_paused():
            for nct_id, kind, text, position, start, end, cohort, requirements in \
                    self.conn.execute(sql, params):
                decoded = interned.get(requirements)
                if decoded is None:
                    decoded = interned[requirements] = _requirements(json.loads(requirements))
                criteria.setdefault(nct_id, []).append(EligibilityCriterion(
                    kind, text, position, start, end, cohort, decoded))
        return criteria

    def raw_study(self, nct_id: str) -> dict[str, Any]:
        """The original study JSON as it was ingested."""
        row = self.conn.execute(
            "SELECT raw_json FROM trials WHERE nct_id = ?", (_nct_key(nct_id),)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"{_shown(nct_id)} is not in the trial database at {self.path}")
        return decompress_study(row[0])

    def search_text(self, query: str, *, limit: int = 50) -> list[tuple[str, float]]:
        """Trials whose text holds every word of `query`, best first, as (nct_id, score).

        The score is the negated FTS5 bm25 rank (higher is better). The query is user text:
        each word is quoted, so FTS syntax in it is matched literally, never interpreted.
        """
        words = search_words(query)
        if not words:
            return []
        match = " ".join('"' + word + '"' for word in words)
        rows = self.conn.execute(
            "SELECT t.nct_id, bm25(trials_fts) AS rank FROM trials_fts "
            "JOIN trials t ON t.rowid = trials_fts.rowid "
            "WHERE trials_fts MATCH ? ORDER BY rank LIMIT ?",
            (match, limit),
        )
        return [(nct_id, -rank) for nct_id, rank in rows]

    def search(
        self,
        text: str = "",
        *,
        condition: str = "",
        intervention: str = "",
        statuses: Sequence[str] = (),
        phases: Sequence[str] = (),
        limit: int = 20,
    ) -> list[dict[str, Any]]:
        """Trials by their words, best first: every word of `text` anywhere in the indexed
        text, every word of `condition` in the conditions and keywords, every word of
        `intervention` in the interventions; then of any of `statuses` and `phases` (API
        values). An NCT id in `text` finds that trial. Each hit: nct_id, title, status,
        phases, conditions, interventions, primary_purpose, score (higher is better; null
        for a trial found by its NCT id) and snippet (where the words occur, between « and »).

        User text is quoted word by word, so FTS syntax in it is matched literally.
        """
        def quoted(value: str) -> list[str]:
            return ['"' + word + '"' for word in sql_text(value).replace('"', " ").split()]

        nct_ids = [word.upper() for word in sql_text(text).split()
                   if _NCT_ID.fullmatch(word.upper())]
        words = quoted(" ".join(word for word in sql_text(text).split()
                                if not _NCT_ID.fullmatch(word.upper())))
        clauses = [" ".join(words)] if words else []
        if condition.strip():
            clauses.append("{conditions keywords} : (" + " ".join(quoted(condition)) + ")")
        if intervention.strip():
            clauses.append("intervention_names : (" + " ".join(quoted(intervention)) + ")")
        filters, params = [], []
        if statuses:
            filters.append(f"AND t.overall_status IN ({_IDS})")
            params.append(_json([sql_text(s).upper() for s in statuses]))
        if phases:
            filters.append(f"AND EXISTS (SELECT 1 FROM json_each(t.phases) p WHERE p.value IN "
                           f"({_IDS}))")
            params.append(_json([sql_text(p).upper() for p in phases]))
        columns = ("t.nct_id, coalesce(t.brief_title, t.official_title, t.nct_id), "
                   "t.overall_status, t.phases, t.conditions, t.interventions, "
                   "t.primary_purpose")
        rows: list[tuple[Any, ...]] = []
        with self.snapshot():
            if nct_ids:
                rows += [(*row, None, "") for row in self.conn.execute(
                    f"SELECT {columns} FROM trials t WHERE t.nct_id IN ({_IDS}) "
                    + " ".join(filters) + " ORDER BY t.nct_id", (_json(nct_ids), *params))]
            if clauses:
                rows += self.conn.execute(
                    f"SELECT {columns}, bm25(trials_fts) AS rank, "
                    "snippet(trials_fts, -1, '«', '»', '…', 16) FROM trials_fts "
                    "JOIN trials t ON t.rowid = trials_fts.rowid WHERE trials_fts MATCH ? "
                    + " ".join(filters) + " ORDER BY rank, t.nct_id LIMIT ?",
                    (" AND ".join(clauses), *params, limit)).fetchall()
        hits: list[dict[str, Any]] = []
        seen: set[str] = set()
        for (nct_id, title, status, phase_list, conditions, interventions, purpose, rank,
             snippet) in rows:
            if nct_id in seen:
                continue
            seen.add(nct_id)
            hits.append({"nct_id": nct_id, "title": title, "status": status,
                         "phases": json.loads(phase_list), "conditions": json.loads(conditions),
                         "interventions": [i.get("name") for i in json.loads(interventions)],
                         "primary_purpose": purpose,
                         "score": None if rank is None else round(-rank, 3),
                         "snippet": _plain_snippet(snippet)})
        return hits[:limit]

    def contacts(self, nct_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Whom to ask about each trial ({name, phone, email} as the record gives them), for
        the trials that name someone."""
        ids = _json([sql_text(str(nct_id)) for nct_id in nct_ids])
        return {nct_id: json.loads(contact) for nct_id, contact in self.conn.execute(
            f"SELECT nct_id, contact FROM trials WHERE nct_id IN ({_IDS}) "
            "AND contact IS NOT NULL", (ids,))}

    def site_place(self, city: str, state: str | None,
                   country: str) -> tuple[float, float] | None:
        """Where the registry places trial sites in `city` (in `state`, where given) of
        `country` (names as ClinicalTrials.gov writes them, any case): the most common
        geoPoint of its sites, or None when no site there has one."""
        sql = ("SELECT lat, lon FROM locations INDEXED BY idx_locations_place "
               "WHERE country = ? COLLATE NOCASE AND city = ? COLLATE NOCASE "
               "AND lat IS NOT NULL AND lon IS NOT NULL")
        params: list[Any] = [sql_text(country), sql_text(city)]
        if state:
            sql += " AND state = ? COLLATE NOCASE"
            params.append(sql_text(state))
        row = self.conn.execute(
            f"{sql} GROUP BY lat, lon ORDER BY count(*) DESC, lat, lon LIMIT 1",
            params).fetchone()
        return (row[0], row[1]) if row else None

    def data_as_of(self) -> dict[str, str | None]:
        """How current the stored trials are, and where that time comes from:
        `data_timestamp` and `data_timestamp_source`, one of "registry" (the registry's own
        data timestamp, from the last successful refresh), "last refresh" (when that refresh
        finished: the registry gave no timestamp), "last ingest" (when a trial was last
        stored: the store was never refreshed) or None for an empty store. Kept until the
        database changes, as `content_fingerprint` is."""
        version = (self.conn.execute("PRAGMA data_version").fetchone()[0],
                   self.conn.total_changes)
        cached = getattr(self, "_data_as_of", None)
        if cached is not None and cached[0] == version:
            return dict(cached[1])
        found = self._read_data_as_of()
        self._data_as_of = (version, found)
        return dict(found)

    def _read_data_as_of(self) -> dict[str, str | None]:
        with self.snapshot():
            refresh = self.last_refresh()
            if refresh and refresh.get("data_timestamp"):
                return {"data_timestamp": refresh["data_timestamp"],
                        "data_timestamp_source": "registry"}
            if refresh and refresh.get("finished"):
                return {"data_timestamp": refresh["finished"],
                        "data_timestamp_source": "last refresh"}
            stored = self.conn.execute("SELECT max(stored_at) FROM trials").fetchone()[0]
        if stored:
            return {"data_timestamp": stored, "data_timestamp_source": "last ingest"}
        return {"data_timestamp": None, "data_timestamp_source": None}

    def content_fingerprint(self) -> str:
        """A digest of what matching reads: every trial's content hash and parser version.
        Equal fingerprints mean the same trials, parsed the same way (`batch --resume`);
        a refresh that changed nothing leaves it as it was. Kept until another connection
        commits (`PRAGMA data_version`), so a batch computes it about once."""
        # data_version moves with other connections' commits, total_changes with this one's.
        version = (self.conn.execute("PRAGMA data_version").fetchone()[0],
                   self.conn.total_changes)
        cached = getattr(self, "_fingerprint", None)
        if cached is not None and cached[0] == version:
            return cached[1]
        digest = hashlib.sha1()
        with self.snapshot():
            # The covering index holds the hash: the rows' text and blobs are never read.
            for nct_id, content, parser in self.conn.execute(
                    "SELECT t.nct_id, t.content_hash, p.parser_version FROM trials t "
                    "INDEXED BY trials_screening LEFT JOIN trial_parse p USING (nct_id) "
                    "ORDER BY t.nct_id"):
                digest.update(f"{nct_id}\t{content}\t{parser}\n".encode())
        self._fingerprint = (version, digest.hexdigest())
        return self._fingerprint[1]

    def count(self) -> int:
        """Number of stored trials."""
        return self.conn.execute("SELECT count(*) FROM trials").fetchone()[0]

    def stats(self) -> dict[str, Any]:
        """Counts by status and phase, top conditions, and the latest refresh run (one
        snapshot)."""
        with self.snapshot():
            return self._stats()

    def _stats(self) -> dict[str, Any]:
        by_status = {
            (status or "NONE"): n
            for status, n in self.conn.execute(
                "SELECT overall_status, count(*) FROM trials GROUP BY overall_status "
                "ORDER BY count(*) DESC, overall_status"
            )
        }
        by_phase = dict(
            self.conn.execute(
                "SELECT coalesce(p.value, 'NONE') AS phase, count(*) FROM trials t "
                "LEFT JOIN json_each(t.phases) p GROUP BY phase ORDER BY count(*) DESC, phase"
            )
        )
        top_conditions = [
            [name, n]
            for name, n in self.conn.execute(
                "SELECT c.value, count(*) FROM trials t, json_each(t.conditions) c "
                "GROUP BY c.value ORDER BY count(*) DESC, c.value LIMIT 10"
            )
        ]
        latest = self._rows("SELECT * FROM refresh_runs ORDER BY id DESC LIMIT 1", ())
        return {
            "trials": self.count(),
            "by_status": by_status,
            "by_phase": by_phase,
            "top_conditions": top_conditions,
            "parsed": self.conn.execute("SELECT count(*) FROM trial_parse").fetchone()[0],
            "removed": self.conn.execute("SELECT count(*) FROM removed_trials").fetchone()[0],
            "last_refresh": _run_summary(latest[0]) if latest else None,
            "last_successful_refresh": self.last_refresh(),
        }

    def last_refresh(self) -> dict[str, Any] | None:
        """The last successful refresh run, or None."""
        rows = self._rows(
            "SELECT * FROM refresh_runs WHERE outcome = 'success' ORDER BY id DESC LIMIT 1", ()
        )
        return _run_summary(rows[0]) if rows else None

    # ------------------------------------------------------------------ refresh runs

    def start_run(self, *, mode: str, query: str, data_timestamp: str | None,
                  started: str | None = None) -> int:
        """Record a new refresh run as running (started now, or at `started`); returns its
        id."""
        self._require_writable()
        cursor = self.conn.execute(
            "INSERT INTO refresh_runs (started, data_timestamp, mode, query, outcome) "
            "VALUES (?, ?, ?, ?, 'running')",
            (started or _now(), data_timestamp, mode, query),
        )
        return cursor.lastrowid

    def mark_abandoned_runs(self) -> int:
        """Runs left 'running' by a process that died become 'interrupted', saying how far
        they got and when they last stored a page (that time is also their `finished`).

        Only call this while holding the refresh lock: then no live run can be 'running'.
        """
        self._require_writable()
        rows = self._rows("SELECT * FROM refresh_runs WHERE outcome = 'running'", ())
        for run in rows:
            last = run["progress_at"] or run["started"]
            stored = run["added"] + run["updated"] + run["unchanged"]
            how_far = (f"after {run['pages']} pages ({stored} studies stored), last page at "
                       f"{last}" if run["pages"] else f"before its first page (started {last})")
            self.conn.execute(
                "UPDATE refresh_runs SET outcome = 'interrupted', finished = ?, error = ? "
                "WHERE id = ? AND outcome = 'running'",
                (last, f"the refresh process ended {how_far}; the next refresh resumes it"
                 if run["resume_token"] else f"the refresh process ended {how_far}",
                 run["id"]),
            )
        return len(rows)

    def record_unchanged_run(self, *, mode: str, query: str, data_timestamp: str) -> int:
        """Record a run that asked for nothing: the registry's data timestamp had not moved
        since the last successful run. Returns its id."""
        self._require_writable()
        stamp = _now()
        cursor = self.conn.execute(
            "INSERT INTO refresh_runs (started, finished, data_timestamp, mode, query, "
            "outcome, error) VALUES (?, ?, ?, ?, ?, 'unchanged', ?)",
            (stamp, stamp, data_timestamp, mode, query,
             f"registry data unchanged since the last successful refresh (data timestamp "
             f"{data_timestamp})"),
        )
        return cursor.lastrowid

    def resumable_run(self, query: str) -> dict[str, Any] | None:
        """The latest run if it stopped part-way through the same query with a checkpoint."""
        rows = self._rows("SELECT * FROM refresh_runs ORDER BY id DESC LIMIT 1", ())
        if not rows:
            return None
        run = dict(rows[0])
        if run["outcome"] == "success" or not run["resume_token"] or run["query"] != query:
            return None
        return run

    def resume_run(self, run_id: int) -> None:
        """Set a stopped run running again (it continues from its resume token)."""
        self._require_writable()
        self.conn.execute(
            "UPDATE refresh_runs SET outcome = 'running', error = NULL, finished = NULL "
            "WHERE id = ?",
            (run_id,),
        )

    def set_run_timestamp(self, run_id: int, data_timestamp: str | None) -> str | None:
        """Record the source's data timestamp unless the run already has one; return the
        run's timestamp."""
        self._require_writable()
        self.conn.execute(
            "UPDATE refresh_runs SET data_timestamp = coalesce(data_timestamp, ?) WHERE id = ?",
            (data_timestamp, run_id),
        )
        return self.conn.execute(
            "SELECT data_timestamp FROM refresh_runs WHERE id = ?", (run_id,)
        ).fetchone()[0]

    def apply_page(
        self,
        run_id: int,
        studies: Sequence[dict[str, Any] | StudyRecord],
        annotate: Annotate | None,
        *,
        next_token: str | None,
        skipped: int = 0,
        converge: bool = False,
        parser: ParsingPool | None = None,
        prepared: PreparedPage | None = None,
    ) -> UpsertCounts:
        """Store one API page and advance the run's checkpoint in the same transaction.

        Every study of the page is marked as seen by the run (and no longer removed). The
        last page (no `next_token`) also marks the run successful in that transaction, so a
        run is successful exactly when all its pages are stored; with `converge` (a full run
        of the default scope) it also marks as removed every stored study the run did not
        see. `parser` (a `ParsingPool` kept for the whole run) parses criteria in worker
        processes; without it `annotate` runs here. `prepared` is the page as
        `prepare_page` started it (then `studies` is not read again).
        """
        if prepared is None:
            if parser is None:
                with ParsingPool(annotate, 1) as own_parser:
                    return self.apply_page(
                        run_id, studies, annotate, next_token=next_token, skipped=skipped,
                        converge=converge, parser=own_parser)
            prepared = self.prepare_page(studies, parser)
        seen = _json(sorted({record.nct_id for record in prepared.batch.records}))

        def checkpoint(counts: UpsertCounts) -> None:
            counts.skipped += skipped
            stamp = _now()
            self.conn.execute(
                f"UPDATE trials SET last_seen_run = ? WHERE nct_id IN ({_IDS})", (run_id, seen))
            self.conn.execute(f"DELETE FROM removed_trials WHERE nct_id IN ({_IDS})", (seen,))
            self.conn.execute(
                "UPDATE refresh_runs SET added = added + ?, updated = updated + ?, "
                "unchanged = unchanged + ?, skipped = skipped + ?, pages = pages + 1, "
                "resume_token = ?, progress_at = ? WHERE id = ?",
                (counts.added, counts.updated, counts.unchanged, counts.skipped, next_token,
                 stamp, run_id),
            )
            if next_token is None:
                removed = self._mark_unseen_removed(run_id, stamp) if converge else 0
                self.conn.execute(
                    "UPDATE refresh_runs SET outcome = 'success', finished = ?, error = NULL, "
                    "removed = ? WHERE id = ?",
                    (stamp, removed, run_id),
                )

        return self._commit_batch(prepared.batch, prepared.parser, checkpoint)

    def prepare_page(self, studies: Sequence[dict[str, Any] | StudyRecord],
                     parser: ParsingPool) -> PreparedPage:
        """Normalise an API page and start parsing what is new in it (in `parser`'s workers
        while the caller goes on); `apply_page(..., prepared=)` stores it."""
        records = [study if isinstance(study, StudyRecord) else normalize_study(study)
                   for study in studies]
        return PreparedPage(self._prepare_batch(records, parser), parser)

    def _mark_unseen_removed(self, run_id: int, stamp: str) -> int:
        """Within the last page's transaction: every stored study that an earlier refresh
        returned and this run did not is one the registry no longer returns. Returns how
        many were newly marked. Studies only ever loaded by `ingest` are left alone: a bulk
        export or a folder of files may hold studies outside the refresh's scope."""
        return self.conn.execute(
            "INSERT INTO removed_trials (nct_id, removed_at, run_id) "
            "SELECT nct_id, ?, ? FROM trials WHERE last_seen_run IS NOT NULL "
            "AND last_seen_run != ? AND nct_id NOT IN (SELECT nct_id FROM removed_trials)",
            (stamp, run_id, run_id),
        ).rowcount

    def removal(self, nct_id: str) -> dict[str, Any] | None:
        """When and by which refresh run a stored study was found removed from the registry,
        or None while the registry still returns it."""
        rows = self._rows("SELECT removed_at, run_id FROM removed_trials WHERE nct_id = ?",
                          (_nct_key(nct_id),))
        return dict(rows[0]) if rows else None

    def end_run(
        self, run_id: int, *, outcome: str, error: str | None = None,
        clear_checkpoint: bool = False,
    ) -> None:
        """Mark a run failed or interrupted; its checkpoint stays for the next run unless
        `clear_checkpoint`."""
        self._require_writable()
        self.conn.execute(
            "UPDATE refresh_runs SET outcome = ?, error = ?, finished = ?, "
            "resume_token = CASE WHEN ? THEN NULL ELSE resume_token END WHERE id = ?",
            (outcome, error, _now(), clear_checkpoint, run_id),
        )

    def get_run(self, run_id: int) -> dict[str, Any]:
        """One refresh run as a dict (every column)."""
        rows = self._rows("SELECT * FROM refresh_runs WHERE id = ?", (run_id,))
        if not rows:
            raise NotFoundError(f"no refresh run {run_id}")
        return dict(rows[0])

    def runs(self) -> list[dict[str, Any]]:
        """Every refresh run, oldest first."""
        return [dict(row) for row in self._rows("SELECT * FROM refresh_runs ORDER BY id", ())]

    # ------------------------------------------------------------------ helpers

    def _rows(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        cursor = self.conn.cursor()
        cursor.row_factory = sqlite3.Row
        return cursor.execute(sql, params).fetchall()

    def _require_writable(self) -> None:
        if self.readonly:
            raise StoreError(f"the trial database at {self.path} was opened read-only")

    def iter_ids(self) -> Iterator[str]:
        """Every stored NCT id, in order."""
        for (nct_id,) in self.conn.execute("SELECT nct_id FROM trials ORDER BY nct_id"):
            yield nct_id


def _plain_snippet(snippet: str | None) -> str:
    # The conditions, keywords and interventions columns are JSON lists: show them as words.
    text = re.sub(r'"\s*,\s*"', "; ", snippet or "")
    text = re.sub(r'\[\s*"|"\s*\]', "", text)
    return " ".join(text.split())


def _nct_key(nct_id: str) -> str:
    """An NCT id as stored (upper case); NotFoundError naming the format when it is not one."""
    key = sql_text(str(nct_id)).strip().upper()
    if not NCT_ID.match(key):
        raise NotFoundError(
            f"{_shown(str(nct_id))!r} is not an NCT id",
            hint="an NCT id is NCT followed by 8 digits, e.g. NCT01234567",
        )
    return key


def _close(conn: sqlite3.Connection | None) -> None:
    if conn is not None:
        with contextlib.suppress(sqlite3.Error):
            conn.close()


def _cannot_write(error: sqlite3.Error) -> bool:
    text = str(error).lower()
    return "readonly database" in text or "unable to open database file" in text


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection, also for a user who cannot write the store or its folder.

    `mode=ro` first: it shares the writer's WAL index, so it sees a refresh's commits as
    they happen. In WAL mode that needs the -shm file, which a reader who cannot write the
    folder (a store owned by the cron user, a read-only filesystem) can neither create nor
    lock when no writer holds it open. Then, when no write-ahead log is pending, the file is
    opened `immutable=1`: read as it stands, with no lock and no -shm. A refresh that starts
    meanwhile writes its log beside it and folds it in at its end; that one late read may
    then fail as "malformed" and the command is simply run again. With a pending log this
    user cannot share, the open is refused: its newest commits are not in the file yet.
    """
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(uri + "?mode=ro", uri=True, isolation_level=None, timeout=30,
                           check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as error:
        conn.close()
        if not _cannot_write(error):
            raise
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreError(
            f"a refresh or ingest is writing the trial database at {path}, and this user "
            "cannot share its lock file (no write permission on the folder)",
            hint="run the command again when it has finished")
    conn = sqlite3.connect(uri + "?immutable=1", uri=True, isolation_level=None,
                           check_same_thread=False)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn


def _quick_check(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a damaged store (`PRAGMA quick_check`: structure and page checks, linear)."""
    try:
        rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.DatabaseError:
        rows = [("unreadable",)]
    if rows != [("ok",)]:
        raise StoreError(
            f"the trial database at {path} is damaged (SQLite quick_check failed)",
            hint="restore it from a backup, or move it aside and run `trialmatch refresh "
                 "--full`")


def explain_sqlite_error(error: sqlite3.Error, path: Path | None = None) -> StoreError | None:
    """A one-line StoreError for a failure the user can fix (a full disk, a store this user
    cannot write), or None for anything else."""
    text = str(error).lower()
    where = f" at {path}" if path is not None else ""
    if "database or disk is full" in text:
        return StoreError(f"the disk holding the trial database{where} is full; the "
                          "transaction in progress was rolled back, nothing is half-written",
                          hint="free some space and run the command again")
    if _cannot_write(error):
        return StoreError(f"the trial database{where} is read-only for this user (or on a "
                          "read-only filesystem)",
                          hint="run refresh, ingest and reparse as the store's owner; "
                               "stats, show, match and batch only read it")
    return None


class ParsingPool:
    """Runs `annotate` over trial texts, in this process or in `jobs` worker processes.

    False when there is no parser, so callers can write `if parser:`. The worker processes
    start when there is first something to parse, and each builds the parser's vocabularies
    and patterns once (see `_start_worker`), never per trial.
    """

    def __init__(self, annotate: Annotate | None, jobs: int = 1):
        self.annotate = annotate
        self.jobs = max(1, jobs)
        self._pool: ProcessPoolExecutor | None = None
        self._froze = False

    def __bool__(self) -> bool:
        return self.annotate is not None

    def __enter__(self) -> ParsingPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        if self._froze:
            gc.unfreeze()
            self._froze = False

    def run(self, texts: Sequence[TrialText]) -> list[TrialAnnotation | None]:
        """One annotation per text (None where parsing failed), in order."""
        return list(self.start(texts))

    def start(self, texts: Sequence[TrialText]) -> Iterator[TrialAnnotation | None]:
        """Start parsing `texts`; the annotations come, in order, as the iterator is read.
        With worker processes the work is under way at once (the caller may do other work
        meanwhile); without, it is done here, now."""
        if self.annotate is None:
            return iter([None] * len(texts))
        task = functools.partial(_safe_annotate, self.annotate)
        if self.jobs == 1 or len(texts) < 2:
            return iter([task(text) for text in texts])
        chunk = max(1, len(texts) // (self.jobs * 4))
        return self._workers().map(task, texts, chunksize=chunk)

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            assert self.annotate is not None
            if multiprocessing.get_start_method() == "fork":
                # Forked workers inherit what this process has built: parse once here and
                # the vocabularies, rules and compiled patterns are built once for the run
                # instead of once per worker (~0.5 s of CPU each). Frozen, they are skipped
                # by the cyclic collector of every process, which otherwise walks them over
                # and over while trials are parsed (~5% of parsing time). Objects someone
                # else froze are left as they are (unfreezing would release theirs too).
                _warm_up(self.annotate)
                if gc.get_freeze_count() == 0:
                    gc.freeze()
                    self._froze = True
            self._pool = ProcessPoolExecutor(self.jobs, initializer=_start_worker,
                                             initargs=(self.annotate,))
        return self._pool


# A small trial touching most requirement kinds: parsing it loads what parsing any trial
# needs (rules, vocabularies, the drug lexicon, the phrase gates, compiled patterns).
_WARM_UP_TRIAL = TrialText(
    nct_id="NCT00000000",
    title="Drug X After Prior Osimertinib in Metastatic EGFR-Mutant Non-Small Cell Lung Cancer",
    conditions=["Non-small Cell Lung Cancer", "Breast Cancer"],
    keywords=["EGFR"],
    criteria_text=(
        "Inclusion Criteria:\n"
        "- Age >= 18 years\n"
        "- Histologically confirmed stage IV or recurrent HER2-positive breast cancer\n"
        "- Measurable disease per RECIST 1.1\n"
        "- Disease progression after at least one prior line of chemotherapy\n"
        "- ECOG performance status 0-1\n"
        "- ANC >= 1.5 x 10^9/L and platelets >= 100,000/mm3\n"
        "- Must have one of the following:\n"
        "  - EGFR exon 19 deletion\n"
        "  - EGFR L858R mutation\n"
        "- Signed informed consent\n"
        "Exclusion Criteria:\n"
        "- Active brain metastases\n"
        "- Pregnant or breastfeeding women\n"
        "- Known HIV or hepatitis B infection\n"
        "- Other malignancy within 3 years\n"
        "- Prior treatment with trastuzumab deruxtecan"),
    minimum_age=18.0,
    sex="ALL",
    primary_purpose="TREATMENT",
)


def _warm_up(annotate: Annotate) -> None:
    """Parse a small trial so that what parsing builds lazily is built now."""
    try:
        annotate(_WARM_UP_TRIAL)
    except Exception:  # noqa: BLE001 - a failure here shows again on the first real trial
        return


def _start_worker(annotate: Annotate) -> None:
    """Start-up of a parsing worker: build the parser once (nothing left to build when the
    worker was forked from a warmed process) and freeze what it built (see `_workers`)."""
    _warm_up(annotate)
    gc.freeze()


@dataclass
class _PreparedBatch:
    """A batch whose parsing has started: its records (unique by id, and as given) and the
    annotations to come, in the order of `parsing_ids`."""

    records: Sequence[StudyRecord]
    unique: list[StudyRecord]
    ids: str
    parsing_ids: list[str]
    parsing: Iterator[TrialAnnotation | None]

    def wait(self) -> None:
        """Block until the batch is parsed (the workers are then free for another)."""
        self.parsing = iter(list(self.parsing))


@dataclass
class PreparedPage:
    """An API page whose parsing has started (see `TrialStore.prepare_page`)."""

    batch: _PreparedBatch
    parser: ParsingPool

    def wait(self) -> None:
        """Block until the page is parsed."""
        self.batch.wait()


def _safe_annotate(annotate: Annotate, text: TrialText) -> TrialAnnotation | None:
    # A parser bug on one trial must not stop a nightly load; the trial is stored unparsed
    # (reparse picks it up) and the failure is logged without any patient data involved.
    try:
        return annotate(text)
    except Exception as error:  # noqa: BLE001
        log.warning("criteria parsing failed for %s: %s: %s", text.nct_id,
                    type(error).__name__, error)
        return None


def _trial_row(record: StudyRecord, stamp: str) -> tuple[Any, ...]:
    return (
        record.nct_id, record.brief_title, record.official_title, record.overall_status,
        _json(record.phases), record.study_type, _json(record.conditions),
        _json(record.keywords), _json(record.interventions),
        "; ".join(item["name"] for item in record.interventions) or None,
        _json(record.arms), record.sponsor, record.start_date, record.completion_date,
        record.last_update_date, record.brief_summary, record.criteria_text,
        record.minimum_age, record.maximum_age, record.sex,
        None if record.healthy_volunteers is None else int(record.healthy_volunteers),
        record.raw_json, record.content_hash, stamp, record.primary_purpose,
        _json(record.contact) if record.contact else None,
    )


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many acyclic objects are built.

    Reading a thousand trials allocates ~100,000 dicts and dataclasses; each allocation burst
    sets off collections that walk every live object (the vocabulary, the spaCy pipeline),
    which doubled the time of a read. Nothing built here forms a cycle, so pausing loses
    nothing; the collector is switched back on only if it was on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _requirements_json(requirements: Sequence[Requirement]) -> str:
    """A criterion's requirements as stored in `criteria.requirements`: the JSON of
    `[r.to_dict() for r in requirements]`, written without `to_dict`'s deep copy of every
    params dict (dataclasses.asdict), which the JSON encoder does not need."""
    return _json([{"kind": r.kind, "params": r.params, "text": r.text, "start": r.start,
                   "end": r.end} for r in requirements])


def _kinds(requirements: Sequence[Requirement]) -> str:
    """A criterion's requirement kinds as stored in `criteria.kinds`: " age sex "."""
    return " " + "".join(f"{kind} " for kind in sorted({r.kind for r in requirements}))


def _requirements(items: list[dict[str, Any]]) -> list[Requirement]:
    return [
        Requirement(item["kind"], item["params"], item["text"], item.get("start", 0),
                    item.get("end", 0))
        for item in items
    ]


# The columns `_trial` reads, in its order (t. = trials, p. = trial_parse).
_FULL_COLUMNS = (
    "t.nct_id, t.brief_title, t.official_title, t.overall_status, t.phases, t.study_type, "
    "t.conditions, t.keywords, t.interventions, t.sponsor, t.minimum_age, t.maximum_age, "
    "t.sex, t.healthy_volunteers, t.last_update_date, t.criteria_text, p.parser_version, "
    "t.primary_purpose"
)


def _trial(
    row: tuple[Any, ...],
    locations: list[Location],
    codes: list[str],
    criteria: list[EligibilityCriterion],
) -> Trial:
    (nct_id, brief_title, official_title, status, phases, study_type, conditions, keywords,
     interventions, sponsor, minimum_age, maximum_age, sex, healthy, last_update,
     criteria_text, parser_version, purpose) = row
    return Trial(
        nct_id=nct_id,
        title=brief_title or official_title or nct_id,
        official_title=official_title,
        status=status,
        phases=json.loads(phases),
        study_type=study_type,
        conditions=json.loads(conditions),
        keywords=json.loads(keywords),
        interventions=json.loads(interventions),
        sponsor=sponsor,
        minimum_age=minimum_age,
        maximum_age=maximum_age,
        sex=sex,
        healthy_volunteers=None if healthy is None else bool(healthy),
        last_update=last_update,
        criteria_text=criteria_text or "",
        locations=locations,
        oncotree_codes=codes,
        criteria=criteria,
        parser_version=parser_version,
        primary_purpose=purpose,
    )


def _screening_trial(
    row: tuple[Any, ...], codes: list[str], criteria: list[EligibilityCriterion]
) -> Trial:
    (nct_id, brief_title, official_title, status, conditions, minimum_age, maximum_age, sex,
     parser_version) = row
    return Trial(
        nct_id=nct_id,
        title=brief_title or official_title or nct_id,
        official_title=official_title,
        status=status,
        phases=[],
        study_type=None,
        conditions=json.loads(conditions),
        keywords=[],
        interventions=[],
        sponsor=None,
        minimum_age=minimum_age,
        maximum_age=maximum_age,
        sex=sex,
        healthy_volunteers=None,
        last_update=None,
        criteria_text="",
        oncotree_codes=codes,
        criteria=criteria,
        parser_version=parser_version,
    )


def _run_summary(row: sqlite3.Row) -> dict[str, Any]:
    keys = ("id", "started", "finished", "data_timestamp", "mode", "outcome", "added",
            "updated", "unchanged", "skipped", "pages", "removed", "progress_at", "error")
    summary = {key: row[key] for key in keys}
    # Why the run ended as it did (a failure's message, an interruption's extent, an
    # unchanged registry), under the name a reader of `stats --json` looks for.
    summary["reason"] = row["error"]
    return summary
