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
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trialmatch.errors import ApiError, StoreError
from trialmatch.ingest.client import CtgovClient, RequestRejected
from trialmatch.ingest.normalize import InvalidStudyError, normalize_study
from trialmatch.ingest.store import Annotate, TrialStore, UpsertCounts

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # the API's maximum

# Default scope: cancer trials. query.cond searches conditions, titles, keywords and the
# condition MeSH terms, so these words catch the oncology trials (the registry's own
# "cancer" search expands synonyms too).
CANCER_CONDITION = (
    "cancer OR neoplasm OR tumor OR carcinoma OR lymphoma OR leukemia OR myeloma OR "
    "melanoma OR sarcoma OR glioma OR mesothelioma OR malignancy"
)


@dataclass
class RefreshResult:
    """What a refresh did."""

    run_id: int
    mode: str  # full | incremental
    resumed: bool
    since: str | None  # the LastUpdatePostDate lower bound of an incremental run
    data_timestamp: str | None
    pages: int
    counts: UpsertCounts = field(default_factory=UpsertCounts)


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
) -> RefreshResult:
    """Bring the store up to date with the API.

    The first run (or `full=True`) loads everything in scope; later runs ask only for studies
    updated since the last successful run. A run that stopped part-way with the same query is
    resumed from its checkpoint. `on_page(studies_in_page, total_or_None)` reports progress.
    Raises ApiError when the API stays down (the run is then recorded as failed).
    """
    with refresh_lock(store.path, wait=lock_wait):
        store.mark_abandoned_runs()
        last_success = store.last_refresh()
        since = None if full or last_success is None else incremental_since(last_success)
        mode = "incremental" if since else "full"
        params = build_query(condition=condition, statuses=statuses, since=since)
        query = json.dumps(params, sort_keys=True)

        previous = store.resumable_run(query)
        if previous is not None:
            run_id, token, resumed = previous["id"], previous["resume_token"], True
            store.resume_run(run_id)
            log.info("resuming refresh run %s from its checkpoint", run_id)
        else:
            run_id = store.start_run(mode=mode, query=query, data_timestamp=None)
            token, resumed = None, False

        result = RefreshResult(run_id=run_id, mode=mode, resumed=resumed, since=since,
                               data_timestamp=None, pages=0)
        try:
            # A resumed run keeps the timestamp of the snapshot it started from: the next
            # incremental run then asks from the earlier date, which can only overlap.
            result.data_timestamp = store.set_run_timestamp(run_id, _data_timestamp(client))
            total: int | None = None
            while True:
                page_params = dict(params)
                if token:
                    page_params["pageToken"] = token
                else:
                    page_params["countTotal"] = "true"
                try:
                    page = client.studies_page(page_params)
                except RequestRejected as error:
                    if not (resumed and result.pages == 0):
                        raise
                    # The API no longer accepts the saved page token (tokens expire): the
                    # stopped run cannot be finished, so start this query again from page one.
                    log.warning("the saved checkpoint was refused (%s); starting over", error)
                    store.end_run(run_id, outcome="failed", error=f"checkpoint refused: {error}",
                                  clear_checkpoint=True)
                    run_id = store.start_run(mode=mode, query=query,
                                             data_timestamp=result.data_timestamp)
                    result.run_id, result.resumed, token = run_id, False, None
                    continue
                if isinstance(page.get("totalCount"), int):
                    total = page["totalCount"]
                next_token = page.get("nextPageToken") or None
                if next_token is not None and not isinstance(next_token, str):
                    raise ApiError(f"the API sent a malformed nextPageToken: {next_token!r:.40}")
                records, skipped = _valid_records(page["studies"], result.pages)
                result.counts += store.apply_page(
                    run_id, records, annotate, next_token=next_token, skipped=skipped
                )
                result.pages += 1
                if on_page:
                    on_page(len(page["studies"]), total)
                if next_token is None:
                    break
                token = next_token
        except KeyboardInterrupt:
            store.end_run(run_id, outcome="interrupted", error="interrupted by the user")
            raise
        except Exception as error:
            store.end_run(run_id, outcome="failed", error=str(error)[:500])
            raise
        return result


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
