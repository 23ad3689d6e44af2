"""`trialmatch refresh`: page through the API into the store, atomically and resumably.

Each page is stored in one transaction together with the run's checkpoint (the next page
token), so a run killed at any moment leaves the database as it was after some whole page,
and the next run with the same query carries on from that page. A run is marked successful
only in the transaction that stores its last page. A lock file beside the database keeps two
refreshes from running at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from trialmatch.errors import ApiError, StoreError, UsageError, one_line
from trialmatch.ingest.normalize import InvalidStudyError, normalize_study
from trialmatch.ingest.store import (
    Annotate,
    ParsingPool,
    PreparedPage,
    TrialStore,
    UpsertCounts,
)

if TYPE_CHECKING:  # the client (and `requests`) is imported only when a refresh runs
    from trialmatch.ingest.client import CtgovClient

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # the API's maximum

# Default scope: cancer trials. query.cond searches conditions, titles, keywords and the
# condition MeSH terms, so these words catch the oncology trials (the registry's own
# "cancer" search expands synonyms too).
CANCER_CONDITION = (
    "cancer OR neoplasm OR tumor OR carcinoma OR lymphoma OR leukemia OR myeloma OR "
    "melanoma OR sarcoma OR glioma OR mesothelioma OR malignancy"
)


# The values of a study's overall status in the API (ClinicalTrials.gov API v2 data model,
# enum Status: https://clinicaltrials.gov/data-api/about-api/study-data-structure). The API
# answers an unknown `filter.overallStatus` with HTTP 400 or, worse, nothing: checked here
# before any request, so a typo in a cron line fails loudly at once.
OVERALL_STATUSES = (
    "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
    "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN",
)
# Endpoints a user may paste by mistake where the base URL is wanted.
_ENDPOINTS = ("studies", "version", "stats")
# The public registry's hosts, whose API base path is known.
_PUBLIC_HOSTS = ("clinicaltrials.gov", "www.clinicaltrials.gov")


@dataclass
class RefreshResult:
    """What a refresh did. `outcome` is "success", or "unchanged" when the registry's data
    timestamp had not moved since the last successful run and nothing was asked for."""

    run_id: int
    mode: str  # full | incremental
    resumed: bool
    since: str | None  # the LastUpdatePostDate lower bound of an incremental run
    data_timestamp: str | None
    pages: int
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    outcome: str = "success"
    removed: int = 0  # studies the registry no longer returns (full default-scope runs)


def check_statuses(statuses: Sequence[str] | None) -> list[str]:
    """`--status` values in the API's spelling (case and spaces forgiven); a UsageError
    listing the valid values for any other. Accepts "RECRUITING,COMPLETED" too."""
    checked: list[str] = []
    for value in statuses or ():
        for part in str(value).split(","):
            status = "_".join(part.strip().upper().replace("-", " ").split())
            if status not in OVERALL_STATUSES:
                shown = one_line(part, 40) or "(empty)"
                raise UsageError(
                    f"--status {shown!r} is not a study status",
                    hint=f"valid statuses: {', '.join(OVERALL_STATUSES)}",
                )
            if status not in checked:
                checked.append(status)
    return checked


def check_api_url(url: str) -> str:
    """The API base URL, checked before any request: http(s), a host, no query or fragment,
    and the base itself rather than one of its endpoints. A UsageError says what to fix."""
    example = "e.g. https://clinicaltrials.gov/api/v2"
    text = str(url).strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise UsageError(f"--api-url {one_line(text, 80)!r} is not a valid URL",
                         hint=example) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UsageError(f"--api-url {one_line(text, 80)!r} must start with https:// or "
                         "http://", hint=example)
    if not parts.hostname:
        raise UsageError(f"--api-url {one_line(text, 80)!r} has no host name", hint=example)
    if parts.query or parts.fragment:
        raise UsageError(f"--api-url {one_line(text, 80)!r} must not carry a query or a "
                         "fragment", hint=f"give the API's base URL only, {example}")
    path = parts.path.rstrip("/")
    last = path.rsplit("/", 1)[-1].lower()
    if last in _ENDPOINTS:
        raise UsageError(f"--api-url {one_line(text, 80)!r} names the /{last} endpoint, "
                         "not the API's base URL", hint=f"drop '/{last}', {example}")
    if parts.hostname.lower() in _PUBLIC_HOSTS and path.lower() != "/api/v2":
        raise UsageError(f"--api-url {one_line(text, 80)!r}: ClinicalTrials.gov serves the "
                         "API at /api/v2", hint="use https://clinicaltrials.gov/api/v2")
    return text.rstrip("/")


def is_default_scope(*, condition: str | None, statuses: Sequence[str] | None) -> bool:
    """Does a query ask for everything the store holds (the default cancer scope, every
    status)? Only a full run of that query can tell which studies the registry dropped."""
    return condition is None and not statuses


def build_query(
    *, condition: str | None, statuses: Sequence[str] | None, since: str | None
) -> dict[str, Any]:
    """The `/studies` query parameters (without the page token) for a refresh."""
    params: dict[str, Any] = {
        "format": "json",
        "pageSize": PAGE_SIZE,
        "query.cond": condition or CANCER_CONDITION,
    }
    if statuses:
        params["filter.overallStatus"] = ",".join(s.strip().upper() for s in statuses)
    if since:
        params["filter.advanced"] = f"AREA[LastUpdatePostDate]RANGE[{since},MAX]"
    return params


def incremental_since(last_success: dict[str, Any] | None) -> str | None:
    """The date an incremental run asks from: the data date of the last successful run.

    The range is inclusive, so studies posted on that day are asked for again; storing them
    twice is harmless (they count as unchanged).
    """
    if not last_success:
        return None
    stamp = last_success.get("data_timestamp") or last_success.get("started")
    return str(stamp)[:10] if stamp else None


@contextlib.contextmanager
def refresh_lock(db_path: Path, *, wait: float = 5.0) -> Iterator[None]:
    """Hold the refresh lock of a database, waiting up to `wait` seconds for it.

    The lock is an advisory lock on `<db>.refresh.lock` beside the resolved database file
    (two refreshes through a symlink, or a relative and an absolute path, share one lock);
    the operating system drops it when the holder dies, so a killed refresh never leaves a
    stale lock behind.
    """
    lock_path = Path(f"{Path(db_path).resolve()}.refresh.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+")  # noqa: SIM115 - held for the whole block
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"another refresh is already running on {db_path}",
                        hint="wait for it to finish, then run `trialmatch refresh` again",
                    ) from None
                time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


def lock_is_free(db_path: Path) -> bool:
    """Is no refresh holding the lock of this database right now? (Checked without waiting
    and without creating the lock file.)"""
    lock_path = Path(f"{db_path}.refresh.lock")
    try:
        handle = open(lock_path)  # noqa: SIM115 - closed below
    except OSError:
        return True  # no lock file: no refresh has ever held it
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        handle.close()


def settle_abandoned_runs(store: TrialStore) -> int:
    """Mark interrupted the runs left "running" by a process that died (the lock is free),
    with when they last stored a page and how far they got. Returns how many."""
    if not lock_is_free(store.path):
        return 0
    try:
        with refresh_lock(store.path, wait=0):
            return store.mark_abandoned_runs()
    except StoreError:
        return 0  # a refresh started meanwhile: its runs are alive


def refresh(
    store: TrialStore,
    client: CtgovClient,
    *,
    full: bool = False,
    condition: str | None = None,
    statuses: Sequence[str] | None = None,
    annotate: Annotate | None = None,
    lock_wait: float = 5.0,
    on_page: Callable[[int, int | None], None] | None = None,
    force: bool = False,
    jobs: int = 1,
) -> RefreshResult:
    """Bring the store up to date with the API.

    The first run (or `full=True`) loads everything in scope; later runs ask only for studies
    updated since the last successful run. A run that stopped part-way with the same query is
    resumed from its checkpoint. Before paging, the registry's data timestamp (`/version`)
    is read: when it equals the last successful run's and there is nothing to resume, the
    run is recorded as "unchanged" and nothing more is asked (unless `force` or `full`).
    A full run of the default scope marks as removed the stored studies it did not see.
    `on_page(studies_in_page, total_or_None)` reports progress; `jobs` parses criteria in
    that many processes. Raises ApiError when the API stays down (the run is then recorded
    as failed).
    """
    statuses = check_statuses(statuses)
    with refresh_lock(store.path, wait=lock_wait):
        store.mark_abandoned_runs()
        last_success = store.last_refresh()
        since = None if full or last_success is None else incremental_since(last_success)
        mode = "incremental" if since else "full"
        params = build_query(condition=condition, statuses=statuses, since=since)
        query = json.dumps(params, sort_keys=True)
        converge = mode == "full" and is_default_scope(condition=condition, statuses=statuses)

        previous = store.resumable_run(query)
        began = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            stamp = _data_timestamp(client)
        except Exception as error:
            run_id = previous["id"] if previous is not None else \
                store.start_run(mode=mode, query=query, data_timestamp=None, started=began)
            store.end_run(run_id, outcome="failed", error=one_line(str(error), 500))
            raise
        if (previous is None and not force and mode == "incremental" and stamp is not None
                and stamp == last_success.get("data_timestamp")
                and _same_scope(store.get_run(last_success["id"])["query"], params)):
            run_id = store.record_unchanged_run(mode=mode, query=query, data_timestamp=stamp)
            log.info("registry data unchanged since the last successful refresh (%s)", stamp)
            return RefreshResult(run_id=run_id, mode=mode, resumed=False, since=since,
                                 data_timestamp=stamp, pages=0, outcome="unchanged")

        if previous is not None:
            run_id, token, resumed = previous["id"], previous["resume_token"], True
            store.resume_run(run_id)
            log.info("resuming refresh run %s from its checkpoint", run_id)
        else:
            run_id = store.start_run(mode=mode, query=query, data_timestamp=None,
                                     started=began)
            token, resumed = None, False

        # A resumed run keeps the timestamp of the snapshot it started from: the next
        # incremental run then asks from the earlier date, which can only overlap.
        result = RefreshResult(run_id=run_id, mode=mode, resumed=resumed, since=since,
                               data_timestamp=store.set_run_timestamp(run_id, stamp), pages=0)
        with ParsingPool(annotate, jobs) as parser:
            _page_through(store, client, result, params, query, token, parser, converge,
                          on_page)
        result.removed = store.get_run(result.run_id).get("removed") or 0
        return result


def _page_through(
    store: TrialStore,
    client: CtgovClient,
    result: RefreshResult,
    params: dict[str, Any],
    query: str,
    token: str | None,
    parser: ParsingPool,
    converge: bool,
    on_page: Callable[[int, int | None], None] | None,
) -> None:
    """Ask for and store the pages of a run from `token` on, recording in `result`; the run
    is marked failed or interrupted when this stops early."""
    run_id, resumed, mode = result.run_id, result.resumed, result.mode
    total: int | None = None

    def ask(page_token: str | None) -> _PageFetch:
        page_params = dict(params)
        if page_token:
            page_params["pageToken"] = page_token
        else:
            page_params["countTotal"] = "true"
        return _PageFetch(client, page_params)

    def receive(fetch: _PageFetch, number: int) -> _ReceivedPage:
        """The fetched page, checked, normalised and with its parsing started."""
        nonlocal total
        page = fetch.result()
        if isinstance(page.get("totalCount"), int):
            total = page["totalCount"]
        next_token = page.get("nextPageToken") or None
        if next_token is not None and not isinstance(next_token, str):
            raise ApiError(f"the API sent a malformed nextPageToken: {next_token!r:.40}")
        records, skipped = _valid_records(page["studies"], number)
        return _ReceivedPage(len(page["studies"]), next_token, skipped,
                             store.prepare_page(records, parser))

    try:
        fetch = ask(token)
        current: _ReceivedPage | None = None
        while True:
            if current is None:
                try:
                    current = receive(fetch, result.pages)
                except _request_rejected() as error:
                    if not (resumed and result.pages == 0):
                        raise
                    # The API no longer accepts the saved page token (tokens expire): the
                    # stopped run cannot be finished, so start this query again from page 1.
                    log.warning("the saved checkpoint was refused (%s); starting over", error)
                    store.end_run(run_id, outcome="failed",
                                  error=one_line(f"checkpoint refused: {error}", 500),
                                  clear_checkpoint=True)
                    run_id = store.start_run(mode=mode, query=query,
                                             data_timestamp=result.data_timestamp)
                    result.run_id, result.resumed, resumed = run_id, False, False
                    fetch = ask(None)
                    continue
            # The next page travels while this one is parsed; if it has arrived by the time
            # this one is parsed, its parsing starts before this one is written. A page is
            # always stored before the network is waited for again.
            following = ask(current.next_token) if current.next_token else None
            current.prepared.wait()
            ahead = None
            if following is not None and following.done():
                with contextlib.suppress(Exception):  # raised again when it is its turn
                    ahead = receive(following, result.pages + 1)
            result.counts += store.apply_page(
                run_id, (), None, next_token=current.next_token, skipped=current.skipped,
                converge=converge, prepared=current.prepared,
            )
            result.pages += 1
            if on_page:
                on_page(current.studies, total)
            if following is None:
                break
            current, fetch = ahead, following
    except KeyboardInterrupt:
        store.end_run(run_id, outcome="interrupted",
                      error=f"interrupted by the user after {result.pages} pages of this run; "
                      "the next refresh resumes it")
        raise
    except Exception as error:
        store.end_run(run_id, outcome="failed", error=one_line(str(error), 500))
        raise


@dataclass
class _ReceivedPage:
    """A page the API sent, with its parsing under way."""

    studies: int
    next_token: str | None
    skipped: int
    prepared: PreparedPage


class _PageFetch:
    """One `/studies` request on a thread of its own, so that the next page travels while
    the current one is parsed and written (the requests themselves stay one at a time). A
    daemon thread: a run that stops early never waits for it."""

    def __init__(self, client: CtgovClient, params: dict[str, Any]):
        self._page: dict[str, Any] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._fetch, args=(client, params),
                                        name="trialmatch-page-fetch", daemon=True)
        self._thread.start()

    def _fetch(self, client: CtgovClient, params: dict[str, Any]) -> None:
        try:
            self._page = client.studies_page(params)
        except BaseException as error:  # noqa: BLE001 - handed to the caller by result()
            self._error = error

    def done(self) -> bool:
        """Has the answer (or the failure) arrived?"""
        return not self._thread.is_alive()

    def result(self) -> dict[str, Any]:
        """The page, or the request's exception raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._page is not None
        return self._page


def _same_scope(stored_query: str, params: dict[str, Any]) -> bool:
    """Did a stored run ask for the same studies (condition and statuses) as `params`?
    Only then does an unchanged data timestamp mean there is nothing new for this query."""
    try:
        stored = json.loads(stored_query)
    except ValueError:
        return False
    keys = ("query.cond", "filter.overallStatus")
    return isinstance(stored, dict) and all(stored.get(k) == params.get(k) for k in keys)


def _request_rejected() -> type[Exception]:
    """The client's error for a request the API refused (imported with the client, which
    only a refresh loads: `requests` binds a socket as it loads)."""
    from trialmatch.ingest.client import RequestRejected

    return RequestRejected


def _data_timestamp(client: CtgovClient) -> str | None:
    version = client.version()
    stamp = version.get("dataTimestamp")
    return stamp if isinstance(stamp, str) else None


def _valid_records(studies: list[Any], page_number: int) -> tuple[list[Any], int]:
    """Normalised studies of a page; a study that cannot be stored is skipped with a warning."""
    records = []
    skipped = 0
    for index, study in enumerate(studies):
        try:
            records.append(normalize_study(study))
        except InvalidStudyError as error:
            skipped += 1
            log.warning("page %d, study %d skipped: %s", page_number + 1, index + 1, error)
    return records, skipped
