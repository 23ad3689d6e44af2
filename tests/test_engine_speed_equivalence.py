"""The fast matching path (screening views, survivors read in full) gives exactly the results
of the plain path (every candidate read in full, then screened and evaluated).

The plain path is `match_case` on a store that offers only `candidate_ids` and `get_trials`,
which is how the engine read the store before screening views existed. Every fixture case
is matched both ways, with open statuses and with `--any-status`, and the whole `match
--json` documents must be equal.
"""

import json
from pathlib import Path

import pytest
from fixture_store import build_fixture_store

from trialmatch.ingest.store import TrialStore
from trialmatch.match.case import load_case
from trialmatch.match.engine import match_case, ruled_out_by_biomarker
from trialmatch.nlp.extract import extract

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CASE_FILES = sorted(p for p in (FIXTURES / "cases").glob("*")
                    if p.suffix in (".yaml", ".yml", ".json"))


class PlainStore:
    """The store as the engine read it before: candidates, then every candidate in full.
    Records which ids were read in full."""

    def __init__(self, store: TrialStore):
        self._store = store
        self.read: list[str] = []

    def candidate_ids(self, *args, **kwargs):
        return self._store.candidate_ids(*args, **kwargs)

    def get_trials(self, nct_ids):
        self.read += list(nct_ids)
        return self._store.get_trials(nct_ids)


class SpyStore(PlainStore):
    """The real store's fast path, recording which ids were read in full."""

    def screening_trials(self, nct_ids, **kwargs):
        return self._store.screening_trials(nct_ids, **kwargs)

    def snapshot(self):
        return self._store.snapshot()

    def complete_trials(self, views, **kwargs):
        self.read += [view.nct_id for view in views]
        return self._store.complete_trials(views, **kwargs)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("speed") / "trials.db"
    build_fixture_store(path)
    with TrialStore.open(path, readonly=True) as readonly:
        yield readonly


@pytest.fixture(scope="module")
def profiles():
    """Each case's profile, extracted once and shared by both paths (the extractor is not
    what is compared here)."""
    cache: dict[tuple[str, ...], object] = {}

    def extractor(notes):
        key = tuple(notes)
        if key not in cache:
            cache[key] = extract(notes)
        return cache[key]

    return extractor


def _document(result) -> str:
    return json.dumps(result.to_dict(), sort_keys=True, ensure_ascii=False)


@pytest.mark.parametrize("any_status", [False, True])
@pytest.mark.parametrize("case_file", CASE_FILES, ids=lambda p: p.stem)
def test_fast_path_gives_the_plain_path_results(store, profiles, case_file, any_status):
    case = load_case(case_file)
    plain_store = PlainStore(store)
    plain = match_case(case, plain_store, any_status=any_status, extractor=profiles)
    spy = SpyStore(store)
    fast = match_case(case, spy, any_status=any_status, extractor=profiles)

    assert _document(fast) == _document(plain)
    # Ranked trials are full records, so reports can show their details.
    assert [t.trial for t in fast.trials] == [t.trial for t in plain.trials]
    # Only the trials that passed screening were read in full, and every ranked trial and
    # every trial excluded after a full evaluation is among them.
    survivors = set(spy.read)
    assert {t.trial.nct_id for t in fast.trials} <= survivors
    assert len(spy.read) <= len(plain_store.read)
    assert all(e.trial.nct_id in survivors for e in fast.excluded if e.trial.locations)
    # Both paths list only the relevant ruled-out trials (see trialmatch.match.engine).
    assert all(e.same_cancer or ruled_out_by_biomarker(e.verdict) for e in fast.excluded)


def test_the_fast_path_reads_fewer_trials_in_full(store, profiles):
    """On the fixture store, screening rules out some candidates of a lung case, which are
    then never read in full (the point of the fast path)."""
    case = load_case(FIXTURES / "cases" / "case-nsclc-kras.yaml")
    plain_store, spy = PlainStore(store), SpyStore(store)
    match_case(case, plain_store, any_status=True, extractor=profiles)
    result = match_case(case, spy, any_status=True, extractor=profiles)
    assert result.excluded
    assert len(spy.read) < len(plain_store.read)
    assert set(spy.read) < set(plain_store.read)
