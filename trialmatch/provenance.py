"""What every report, JSON document, summary.csv and index.html says about itself: which
trialmatch made it, when, and from which data.

`generated_at` is the current UTC time, or `$SOURCE_DATE_EPOCH` where set (the reproducible-
builds convention: the same inputs then give byte-identical files, as the tests need).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from trialmatch import __version__


def generated_at() -> str:
    """Now, in UTC, ISO 8601 to the second ('2026-12-07T09:30:00Z')."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def provenance(store: Any = None) -> dict[str, Any]:
    """Version, generation time, the store's data timestamp with its source, and a
    fingerprint of the store's content (None where the store cannot say)."""
    about: dict[str, Any] = {"trialmatch_version": __version__, "generated_at": generated_at(),
                             "data_timestamp": None, "data_timestamp_source": None,
                             "store_fingerprint": None}
    data_as_of = getattr(store, "data_as_of", None)
    if data_as_of is not None:
        about.update(data_as_of())
    fingerprint = getattr(store, "content_fingerprint", None)
    if fingerprint is not None:
        about["store_fingerprint"] = fingerprint()
    return about


SOURCE_WORDS = {"registry": "the registry's data timestamp at the last refresh",
                "last refresh": "when the last refresh finished; the registry gave no "
                                "data timestamp",
                "last ingest": "when trials were last ingested; never refreshed"}


def data_line(document: dict[str, Any]) -> str:
    """'trialmatch 0.2.0 · generated 2026-12-07T09:30:00Z · trial data as of 2026-11-20T08:00
    (the registry's data timestamp at the last refresh)'."""
    stamp = document.get("data_timestamp")
    source = SOURCE_WORDS.get(document.get("data_timestamp_source") or "", "")
    data = (f"trial data as of {stamp}" + (f" ({source})" if source else "")
            if stamp else "trial data time unknown")
    return (f"trialmatch {document.get('trialmatch_version') or '?'} · generated "
            f"{document.get('generated_at') or '?'} · {data}")
