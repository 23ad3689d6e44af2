"""Build the vcrpy cassettes that replay a ClinicalTrials.gov refresh from fixtures/trials.

    .venv/bin/python tools/make_cassettes.py

Writes tests/cassettes/refresh_full.yaml (a first, full refresh: /version, then the fixture
trials in pages of 15 linked by nextPageToken) and tests/cassettes/refresh_incremental.yaml (the
next day's incremental refresh: two trials whose status changed and one new trial). The
requests are exactly those `trialmatch refresh` sends, built with the same `build_query`, so
run this again whenever the default query or the fixtures change.
"""

from __future__ import annotations

import base64
import copy
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from trialmatch.config import DEFAULT_API_URL  # noqa: E402
from trialmatch.ingest.refresh import build_query  # noqa: E402

FIXTURES = REPO / "fixtures" / "trials"
OUT = REPO / "tests" / "cassettes"
PAGE = 15
FULL_TIMESTAMP = "2026-11-20T08:00:00"
INCREMENTAL_TIMESTAMP = "2026-11-24T08:00:00"
NEW_TRIAL_ID = "NCT99000900"


def interaction(url: str, document: dict[str, Any]) -> dict[str, Any]:
    """One recorded GET answered with a JSON document, in vcrpy's cassette format."""
    return {
        "request": {"body": None, "headers": {"Accept": ["application/json"]},
                    "method": "GET", "uri": url},
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"Content-Type": ["application/json"]},
            "body": {"string": json.dumps(document, ensure_ascii=False)},
        },
    }


def token(offset: int) -> str:
    """An opaque page token, like the API's."""
    return base64.urlsafe_b64encode(f"fixture-page-{offset}".encode()).decode().rstrip("=")


def paged(studies: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    """The `/studies` interactions that page through `studies` as the API would."""
    interactions = []
    for offset in range(0, max(len(studies), 1), PAGE):
        query = dict(params)
        if offset:
            query["pageToken"] = token(offset)
        else:
            query["countTotal"] = "true"
        document: dict[str, Any] = {"studies": studies[offset:offset + PAGE]}
        if not offset:
            document = {"totalCount": len(studies), **document}
        if offset + PAGE < len(studies):
            document["nextPageToken"] = token(offset + PAGE)
        interactions.append(interaction(f"{DEFAULT_API_URL}/studies?{urlencode(query)}",
                                        document))
    return interactions


def with_update(study: dict[str, Any], *, status: str, date: str) -> dict[str, Any]:
    """A copy of `study` as the registry would show it after a status change on `date`."""
    changed = copy.deepcopy(study)
    module = changed["protocolSection"]["statusModule"]
    module["overallStatus"] = status
    module["lastUpdatePostDateStruct"] = {"date": date, "type": "ACTUAL"}
    return changed


def write(name: str, interactions: list[dict[str, Any]]) -> None:
    path = OUT / name
    path.write_text(yaml.safe_dump({"interactions": interactions, "version": 1},
                                   allow_unicode=True, sort_keys=False, width=100))
    print(f"wrote {path.relative_to(REPO)} ({len(interactions)} interactions)")


def main() -> None:
    """Write both cassettes from the fixture trials."""
    studies = [json.loads(path.read_text()) for path in sorted(FIXTURES.glob("NCT*.json"))]
    if len(studies) < PAGE + 1:
        raise SystemExit(f"need more than {PAGE} fixture trials to page, found {len(studies)}")
    OUT.mkdir(parents=True, exist_ok=True)

    version = interaction(f"{DEFAULT_API_URL}/version",
                          {"apiVersion": "2.0.5", "dataTimestamp": FULL_TIMESTAMP})
    full = build_query(condition=None, statuses=None, since=None)
    write("refresh_full.yaml", [version, *paged(studies, full)])

    recruiting = [s for s in studies
                  if s["protocolSection"]["statusModule"]["overallStatus"] == "RECRUITING"]
    stopped = with_update(recruiting[0], status="ACTIVE_NOT_RECRUITING", date="2026-11-21")
    closed = with_update(recruiting[1], status="COMPLETED", date="2026-11-22")
    new = with_update(recruiting[2], status="NOT_YET_RECRUITING", date="2026-11-23")
    new["protocolSection"]["identificationModule"]["nctId"] = NEW_TRIAL_ID
    version = interaction(f"{DEFAULT_API_URL}/version",
                          {"apiVersion": "2.0.5", "dataTimestamp": INCREMENTAL_TIMESTAMP})
    since = FULL_TIMESTAMP[:10]
    incremental = build_query(condition=None, statuses=None, since=since)
    write("refresh_incremental.yaml", [version, *paged([stopped, closed, new], incremental)])


if __name__ == "__main__":
    main()
