"""A fake ClinicalTrials.gov API v2 on 127.0.0.1 that can misbehave on purpose, and a builder
of small study objects in the real API v2 shape.

The server pages its studies like the real API (`pageToken` / `nextPageToken`, `countTotal`,
`filter.overallStatus`, `filter.advanced=AREA[LastUpdatePostDate]RANGE[date,MAX]`) and plays
a script of faults, one per `/studies` request: 429 with Retry-After, 500, a slow answer past
the client's timeout, truncated JSON, a page without `studies`, a dropped connection, or a
hang that a test ends by killing the client.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

DEFAULT_CRITERIA = (
    "Inclusion Criteria:\n\n* Age 18 or older\n\nExclusion Criteria:\n\n* Pregnancy"
)
_RANGE = re.compile(r"AREA\[LastUpdatePostDate\]RANGE\[(\d{4}-\d{2}-\d{2}),MAX\]")


def make_study(
    nct_id: str | None = "NCT90000001",
    *,
    title: str = "Osimertinib in EGFR-mutant lung cancer",
    status: str = "RECRUITING",
    phases: list[str] | None = None,
    conditions: list[str] | None = None,
    criteria: str = DEFAULT_CRITERIA,
    minimum_age: str | None = "18 Years",
    maximum_age: str | None = None,
    sex: str = "ALL",
    last_update: str = "2026-10-01",
    locations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A small study object in the API v2 shape (only the modules trialmatch reads)."""
    eligibility: dict[str, Any] = {
        "eligibilityCriteria": criteria,
        "healthyVolunteers": False,
        "sex": sex,
    }
    if minimum_age is not None:
        eligibility["minimumAge"] = minimum_age
    if maximum_age is not None:
        eligibility["maximumAge"] = maximum_age
    identification: dict[str, Any] = {"briefTitle": title}
    if nct_id is not None:
        identification = {"nctId": nct_id, **identification}
    return {
        "protocolSection": {
            "identificationModule": identification,
            "statusModule": {
                "overallStatus": status,
                "startDateStruct": {"date": "2025-01", "type": "ACTUAL"},
                "lastUpdatePostDateStruct": {"date": last_update, "type": "ACTUAL"},
            },
            "sponsorCollaboratorsModule": {"leadSponsor": {"name": "Test Oncology Group"}},
            "conditionsModule": {"conditions": conditions or ["Non-small Cell Lung Cancer"]},
            "designModule": {"studyType": "INTERVENTIONAL", "phases": phases or ["PHASE2"]},
            "armsInterventionsModule": {
                "interventions": [{"type": "DRUG", "name": "Osimertinib"}]
            },
            "eligibilityModule": eligibility,
            "contactsLocationsModule": {
                "locations": locations
                if locations is not None
                else [{"facility": "Test Cancer Center", "city": "Boston", "state":
                       "Massachusetts", "country": "United States", "status": "RECRUITING",
                       "geoPoint": {"lat": 42.36, "lon": -71.06}}]
            },
        },
        "hasResults": False,
    }


def make_studies(count: int, *, start: int = 1, **fields: Any) -> list[dict[str, Any]]:
    """`count` distinct studies NCT9000000{start}..., each a `make_study`."""
    return [make_study(f"NCT{90000000 + start + i:08d}", **fields) for i in range(count)]


def study_last_update(study: dict[str, Any]) -> str:
    return study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]


class FakeCtgov:
    """The fake API. Use as a context manager; `url` is the base URL to give the client.

    `faults` is consumed one entry per `/studies` request; None (or an exhausted list) means
    answer normally. Entries: ("status", code[, headers]), ("slow", seconds), "truncate",
    "no_studies", "drop", "hang" (blocks until `release()`; `hanging` is set meanwhile).
    """

    def __init__(
        self,
        studies: Iterable[dict[str, Any]],
        *,
        page_size: int = 15,
        data_timestamp: str = "2026-11-20T08:00:00",
    ):
        self.studies = [copy.deepcopy(s) for s in studies]
        self.page_size = page_size
        self.data_timestamp = data_timestamp
        self.faults: list[Any] = []
        self.version_faults: list[Any] = []  # same entries, for /version ("status" only)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.hanging = threading.Event()
        self.hang_limit = 30.0  # seconds a "hang" lasts at most when nobody releases it
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/v2"

    def __enter__(self) -> FakeCtgov:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def release(self) -> None:
        """End a "hang" fault."""
        self._release.set()

    def studies_requests(self) -> list[dict[str, str]]:
        """The query parameters of every `/studies` request, in order."""
        return [params for path, params in self.requests if path.endswith("/studies")]

    # ------------------------------------------------------------------ paging

    def page(self, params: dict[str, str]) -> dict[str, Any]:
        """The answer to `/studies` with these parameters, as the real API pages it."""
        selected = self.studies
        statuses = params.get("filter.overallStatus")
        if statuses:
            wanted = set(re.split(r"[,|]", statuses))
            selected = [s for s in selected
                        if s["protocolSection"]["statusModule"]["overallStatus"] in wanted]
        advanced = params.get("filter.advanced")
        if advanced:
            match = _RANGE.fullmatch(advanced)
            if not match:
                raise ValueError(f"unsupported filter.advanced {advanced}")
            selected = [s for s in selected if study_last_update(s) >= match.group(1)]
        size = min(int(params.get("pageSize", 10)), self.page_size)
        offset = int(params["pageToken"].split("-")[1]) if "pageToken" in params else 0
        document: dict[str, Any] = {"studies": selected[offset:offset + size]}
        if params.get("countTotal") == "true":
            document = {"totalCount": len(selected), **document}
        if offset + size < len(selected):
            document["nextPageToken"] = f"tok-{offset + size}-x"
        return document

    # ------------------------------------------------------------------ HTTP

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parsed = urlparse(self.path)
                params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
                fake.requests.append((parsed.path, params))
                if parsed.path.endswith("/version"):
                    fault = fake.version_faults.pop(0) if fake.version_faults else None
                    if fault is not None:
                        self._send(fault[1], json.dumps({"message": "fault"}))
                        return
                    self._send(200, json.dumps({"apiVersion": "2.0.5",
                                                "dataTimestamp": fake.data_timestamp}))
                    return
                if not parsed.path.endswith("/studies"):
                    self._send(404, json.dumps({"message": "not found"}))
                    return
                fault = fake.faults.pop(0) if fake.faults else None
                body = json.dumps(fake.page(params))
                if fault is None:
                    self._send(200, body)
                elif fault == "truncate":
                    self._send(200, body[: len(body) // 2])
                elif fault == "no_studies":
                    self._send(200, json.dumps({"totalCount": 3}))
                elif fault == "drop":
                    self.close_connection = True
                    self.connection.close()
                elif fault == "hang":
                    fake.hanging.set()
                    fake._release.wait(fake.hang_limit)
                    self._send(200, body)
                elif fault[0] == "slow":
                    time.sleep(fault[1])
                    self._send(200, body)
                elif fault[0] == "status":
                    headers = fault[2] if len(fault) > 2 else {}
                    self._send(fault[1], json.dumps({"message": "fault"}), headers)
                else:
                    raise ValueError(f"unknown fault {fault!r}")

            def _send(self, code: int, body: str, headers: dict[str, str] | None = None):
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler
