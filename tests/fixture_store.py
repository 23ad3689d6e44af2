"""The hand-written fixture trials (fixtures/trials/) loaded into a store, as most tests
need them."""

from __future__ import annotations

import json
from pathlib import Path

from trialmatch.ingest.store import TrialStore
from trialmatch.nlp.criteria import annotate_trial

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_studies() -> list[dict]:
    """The fixture trials as API v2 study objects, in file-name order."""
    return [json.loads(p.read_text()) for p in sorted((FIXTURES / "trials").glob("*.json"))]


def build_fixture_store(path: Path, *, annotate: bool = True) -> Path:
    """A store at `path` holding the fixture trials, their criteria parsed unless
    `annotate` is False; returns `path`."""
    with TrialStore.open(path) as store:
        if annotate:
            store.upsert_studies(fixture_studies(), annotate_trial)
        else:
            store.upsert_studies(fixture_studies())
    return path
