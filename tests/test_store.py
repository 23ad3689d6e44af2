"""The trial store: idempotent upserts, annotations, candidate selection, reading and search."""

import copy
import dataclasses
import gc
import io
import json
import multiprocessing
import os
import pickle
import re
import sqlite3
import zipfile

import pytest
from ctgov_fake import make_studies, make_study

from trialmatch.errors import InputError, NotFoundError, StoreError
from trialmatch.ingest.files import find_sources, ingest_paths
from trialmatch.ingest.store import TrialStore, UpsertCounts, _json, _requirements_json
from trialmatch.models import EligibilityCriterion, Requirement, TrialAnnotation, TrialText


def annotate_by_condition(text: TrialText) -> TrialAnnotation:
    """A tiny stand-in for nlp.criteria.annotate_trial: codes from condition words, one
    criterion per bullet or numbered line, an age requirement from the trial's minimum age."""
    words = " ".join(text.conditions).lower()
    codes = []
    if "lung" in words:
        codes.append("NSCLC")
    if "breast" in words:
        codes.append("BRCA")
    if "solid" in words:
        codes.append("_SOLID")
    kind = "inclusion"
    criteria = []
    for line in text.criteria_text.splitlines():
        if line.lower().startswith("exclusion"):
            kind = "exclusion"
        bullet = re.match(r"(\*|\d+\.) (.+)", line)
        if bullet:
            words = bullet.group(2)
            requirements = []
            if "age" in words.lower():
                requirements.append(Requirement("age", {"min": text.minimum_age, "max": None},
                                                words, 0, len(words)))
            criteria.append(EligibilityCriterion(kind, words, len(criteria),
                                                 requirements=requirements))
    return TrialAnnotation(oncotree_codes=codes, criteria=criteria, parser_version="t1")


@pytest.fixture
def store(tmp_path):
    with TrialStore.open(tmp_path / "trials.db") as opened:
        yield opened


def _table_count(store, table):
    return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_upsert_twice_changes_nothing(store):
    studies = make_studies(5)
    assert store.upsert_studies(studies) == UpsertCounts(added=5)
    assert store.upsert_studies(studies) == UpsertCounts(unchanged=5)
    assert store.count() == 5
    assert _table_count(store, "locations") == 5


def test_changed_study_is_updated_with_its_locations(store):
    store.upsert_studies([make_study("NCT90000001")])
    moved = make_study("NCT90000001", status="ACTIVE_NOT_RECRUITING", locations=[
        {"facility": "A", "city": "Lyon", "country": "France"},
        {"facility": "B", "city": "Paris", "country": "France"},
    ])
    assert store.upsert_studies([moved]) == UpsertCounts(updated=1)
    trial = store.get_trial("NCT90000001")
    assert trial.status == "ACTIVE_NOT_RECRUITING"
    assert [loc.city for loc in trial.locations] == ["Lyon", "Paris"]


def test_invalid_and_repeated_studies(store):
    counts = store.upsert_studies([make_study(None), make_study("NCT90000001"),
                                   make_study("NCT90000001", status="COMPLETED")])
    assert counts == UpsertCounts(added=1, unchanged=1, skipped=1)
    assert store.get_trial("NCT90000001").status == "COMPLETED"  # the last copy wins


def test_batches_commit_separately(store):
    counts = store.upsert_studies(make_studies(7), batch_size=3)
    assert counts == UpsertCounts(added=7)
    assert store.count() == 7


def test_annotations_are_stored_with_the_trial(store):
    store.upsert_studies([make_study("NCT90000001")], annotate_by_condition)
    trial = store.get_trial("NCT90000001")
    assert trial.oncotree_codes == ["NSCLC"]
    assert trial.parser_version == "t1"
    assert [(c.kind, c.text) for c in trial.criteria] == [
        ("inclusion", "Age 18 or older"), ("exclusion", "Pregnancy")]
    assert trial.criteria[0].requirements == [
        Requirement("age", {"min": 18.0, "max": None}, "Age 18 or older", 0, 15)]
    assert trial.criteria[1].is_other


def test_requirement_params_with_sets_are_stored_as_lists(store):
    def with_set(text):
        annotation = annotate_by_condition(text)
        annotation.criteria[0].requirements = [
            Requirement("biomarker", {"any_of": [{"marker": "EGFR",
                                                  "alterations": {"L858R", "T790M"}}]}, "EGFR")]
        return annotation

    store.upsert_studies([make_study("NCT90000001")], with_set)
    [requirement] = store.get_trial("NCT90000001").criteria[0].requirements
    assert requirement.params["any_of"][0]["alterations"] == ["L858R", "T790M"]


def test_unchanged_unparsed_trial_is_parsed_on_the_next_load(store):
    store.upsert_studies([make_study("NCT90000001")])
    assert store.get_trial("NCT90000001").parser_version is None
    counts = store.upsert_studies([make_study("NCT90000001")], annotate_by_condition)
    assert counts == UpsertCounts(unchanged=1)
    assert store.get_trial("NCT90000001").oncotree_codes == ["NSCLC"]


def test_changed_trial_loses_its_stale_parse_without_annotate(store):
    store.upsert_studies([make_study("NCT90000001")], annotate_by_condition)
    store.upsert_studies([make_study("NCT90000001", criteria="* Only adults")])
    trial = store.get_trial("NCT90000001")
    assert (trial.parser_version, trial.oncotree_codes, trial.criteria) == (None, [], [])


def test_a_failing_parser_does_not_stop_the_load(store, caplog):
    def broken(text):
        if text.nct_id == "NCT90000002":
            raise ValueError("parser bug")
        return annotate_by_condition(text)

    assert store.upsert_studies(make_studies(3), broken) == UpsertCounts(added=3)
    assert store.get_trial("NCT90000002").parser_version is None
    assert store.get_trial("NCT90000003").parser_version == "t1"
    assert "criteria parsing failed for NCT90000002" in caplog.text


def test_reparse_all_and_only_stale(store):
    store.upsert_studies(make_studies(3))
    assert store.reparse(annotate_by_condition) == 3
    assert store.reparse(annotate_by_condition, only_stale="t1") == 0
    assert store.reparse(annotate_by_condition, only_stale="t2") == 3
    assert _table_count(store, "trial_codes") == 3
    assert _table_count(store, "criteria") == 6  # replaced, not duplicated


@pytest.mark.parametrize(
    ("codes", "statuses", "age", "sex", "expected"),
    [
        (["NSCLC"], None, None, None, ["NCT90000001", "NCT90000002", "NCT90000003",
                                       "NCT90000005"]),
        (["NSCLC", "_SOLID"], None, None, None, ["NCT90000001", "NCT90000002",
                                                 "NCT90000003", "NCT90000004",
                                                 "NCT90000005"]),
        (["BRCA"], None, None, None, []),
        (["NSCLC"], ["RECRUITING"], None, None, ["NCT90000001", "NCT90000002",
                                                  "NCT90000005"]),
        (["NSCLC"], ["recruiting"], 12, None, ["NCT90000005"]),  # only no-minimum trial
        (["NSCLC"], None, 70, None, ["NCT90000001", "NCT90000003", "NCT90000005"]),
        (["NSCLC"], None, 40, "male", ["NCT90000001", "NCT90000002", "NCT90000003"]),
        (["NSCLC"], None, 40, "female", ["NCT90000001", "NCT90000003", "NCT90000005"]),
    ],
)
def test_candidate_ids(store, codes, statuses, age, sex, expected):
    store.upsert_studies([
        make_study("NCT90000001"),
        make_study("NCT90000002", maximum_age="65 Years", sex="MALE"),
        make_study("NCT90000003", status="COMPLETED"),
        make_study("NCT90000004", conditions=["Advanced Solid Tumor"]),
        make_study("NCT90000005", minimum_age=None, sex="FEMALE"),
    ], annotate_by_condition)
    assert store.candidate_ids(codes, statuses=statuses, age=age, sex=sex) == expected


def test_get_trials_keeps_order_and_drops_unknown(store):
    store.upsert_studies(make_studies(3), annotate_by_condition)
    trials = store.get_trials(["NCT90000003", "NCT99999999", "NCT90000001"])
    assert [t.nct_id for t in trials] == ["NCT90000003", "NCT90000001"]
    assert all(t.criteria and t.locations and t.oncotree_codes for t in trials)


def annotate_with_kinds(text: TrialText) -> TrialAnnotation:
    """Four criteria of known kinds: age, free text, organ function only, and a cohort's
    biomarker, so that the screening views' selection can be checked."""
    criteria = [
        EligibilityCriterion("inclusion", "Age 18 or older", 0, requirements=[
            Requirement("age", {"min": 18.0, "max": None}, "Age 18 or older")]),
        EligibilityCriterion("inclusion", "Willing to comply", 1),
        EligibilityCriterion("inclusion", "ANC >= 1500/uL", 2, requirements=[
            Requirement("organ_function", {"measure": "ANC", "op": ">=", "value": 1500},
                        "ANC >= 1500/uL")]),
        EligibilityCriterion("inclusion", "Cohort B: KRAS G12C", 3, cohort="Cohort B",
                             requirements=[
                                 Requirement("organ_function", {"measure": "ANC"}, "x"),
                                 Requirement("biomarker", {"any_of": [{"marker": "KRAS"}]},
                                             "KRAS G12C")]),
    ]
    return TrialAnnotation(["NSCLC", "_SOLID"], criteria, "t2")


def test_screening_trials_hold_what_can_rule_a_patient_out(store):
    store.upsert_studies(make_studies(3), annotate_with_kinds)
    views = store.screening_trials(["NCT90000003", "NCT99999999", "NCT90000001"],
                                   skip_kinds={"organ_function"})
    assert [v.nct_id for v in views] == ["NCT90000003", "NCT90000001"]
    full = store.get_trial("NCT90000003")
    view = views[0]
    # Everything screening reads is as in the full trial...
    assert (view.title, view.status, view.conditions, view.minimum_age, view.maximum_age,
            view.sex, view.oncotree_codes, view.parser_version) == (
        full.title, full.status, full.conditions, full.minimum_age, full.maximum_age,
        full.sex, full.oncotree_codes, full.parser_version)
    # ...criteria without requirements or with only skipped kinds are left out (a criterion
    # with a skipped kind beside another kind stays), and the rest is not read at all.
    assert [c.position for c in view.criteria] == [0, 3]
    assert view.criteria == [full.criteria[0], full.criteria[3]]
    assert (view.locations, view.interventions, view.criteria_text) == ([], [], "")
    assert [c.position for c in store.screening_trials(["NCT90000003"])[0].criteria] == \
        [0, 2, 3]


@pytest.mark.parametrize("skip", [set(), {"organ_function"}, {"organ_function", "age"}])
def test_complete_trials_are_the_full_trials(store, skip):
    """A screening view completed with what it leaves out is the trial `get_trials` reads,
    and shares the view's criteria."""
    store.upsert_studies(make_studies(3), annotate_with_kinds)
    ids = ["NCT90000002", "NCT90000003"]
    store.trial_cache_size = 0  # read both ways, not from the kept trials
    views = store.screening_trials(ids, skip_kinds=skip)
    completed = store.complete_trials(views, skip_kinds=skip)
    assert completed == store.get_trials(ids)
    assert [c.position for c in completed[1].criteria] == [0, 1, 2, 3]
    assert all(any(c is kept for c in completed[1].criteria) for kept in views[1].criteria)


def test_stored_kinds_follow_reparse(store):
    store.upsert_studies(make_studies(1), annotate_with_kinds)
    kinds = [row[0] for row in store.conn.execute(
        "SELECT kinds FROM criteria ORDER BY position")]
    assert kinds == [" age ", " ", " organ_function ", " biomarker organ_function "]
    store.reparse(annotate_by_condition)
    assert store.screening_trials(["NCT90000001"], skip_kinds={"organ_function"})[0] \
        .criteria == store.get_trial("NCT90000001").criteria[:1]


def test_screening_views_are_kept_until_their_trial_changes(tmp_path):
    path = tmp_path / "trials.db"
    with TrialStore.open(path) as writer, TrialStore.open(path, readonly=True) as reader:
        writer.upsert_studies(make_studies(3), annotate_with_kinds)
        first = reader.screening_trials(["NCT90000001", "NCT90000002"])
        again = reader.screening_trials(["NCT90000002", "NCT90000001"])
        assert [id(v) for v in again] == [id(v) for v in reversed(first)]
        # Another skip set is another view.
        assert reader.screening_trials(["NCT90000001"], skip_kinds={"age"})[0] is not first[0]
        # A change written by another connection (another process) is seen at once.
        writer.upsert_studies([make_study("NCT90000001", conditions=["Breast Cancer"])],
                              annotate_with_kinds)
        changed = reader.screening_trials(["NCT90000001", "NCT90000002"])
        assert changed[0].conditions == ["Breast Cancer"]
        assert changed[1] is first[1]
        # A reparse with another parser is seen too.
        writer.reparse(annotate_by_condition)
        assert reader.screening_trials(["NCT90000002"])[0].parser_version == "t1"


def test_full_trials_are_kept_until_their_trial_changes(tmp_path):
    path = tmp_path / "trials.db"
    with TrialStore.open(path) as writer, TrialStore.open(path, readonly=True) as reader:
        writer.upsert_studies(make_studies(2), annotate_with_kinds)
        first = reader.get_trials(["NCT90000001", "NCT90000002"])
        assert reader.get_trials(["NCT90000002"])[0] is first[1]
        writer.upsert_studies([make_study("NCT90000002", status="COMPLETED")],
                              annotate_with_kinds)
        changed = reader.get_trials(["NCT90000001", "NCT90000002"])
        assert (changed[0] is first[0], changed[1].status) == (True, "COMPLETED")
        reader.trial_cache_size = 0
        writer.reparse(annotate_by_condition)
        assert reader.get_trial("NCT90000001") is not reader.get_trial("NCT90000001")
        assert reader.get_trial("NCT90000001").parser_version == "t1"


def test_screening_view_cache_is_bounded_and_can_be_off(store):
    store.upsert_studies(make_studies(3), annotate_with_kinds)
    store.view_cache_size = 2
    views = store.screening_trials(["NCT90000001", "NCT90000002", "NCT90000003"])
    assert store.screening_trials(["NCT90000003"])[0] is views[2]
    assert store.screening_trials(["NCT90000001"])[0] is not views[0]  # the oldest went
    store.view_cache_size = 0
    store.upsert_studies(make_studies(4), annotate_with_kinds)  # a write empties the cache
    assert store.screening_trials(["NCT90000004"])[0] is not \
        store.screening_trials(["NCT90000004"])[0]


def test_get_trial_unknown_id_is_not_found(store):
    with pytest.raises(NotFoundError, match="NCT99999999 is not in the trial database"):
        store.get_trial("nct99999999")


def test_raw_study_round_trips(store):
    study = make_study("NCT90000001")
    store.upsert_studies([study])
    assert store.raw_study("NCT90000001") == study


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("melanoma", ["NCT90000002"]),
        ("osimertinib lung", ["NCT90000001"]),
        ("Pembrolizumab", ["NCT90000002"]),
        ('melanoma" OR "lung', []),  # FTS syntax in user text is matched literally
        ("lung)", ["NCT90000001"]),
        ("NEAR(lung osimertinib)", []),  # the phrase "near lung" is not in the text
        ("lung*", ["NCT90000001"]),
        ("  ", []),
        ("AND", []),
    ],
)
def test_search_text_escapes_user_text(store, query, expected):
    store.upsert_studies([
        make_study("NCT90000001"),
        make_study("NCT90000002", title="Pembrolizumab in melanoma", conditions=["Melanoma"]),
    ])
    assert [nct for nct, _ in store.search_text(query)] == expected


def test_fts_follows_updates(store):
    store.upsert_studies([make_study("NCT90000001", title="Sotorasib study")])
    store.upsert_studies([make_study("NCT90000001", title="Adagrasib study")])
    assert store.search_text("sotorasib") == []
    assert [n for n, _ in store.search_text("adagrasib")] == ["NCT90000001"]


def test_stats(store):
    store.upsert_studies([make_study("NCT90000001"), make_study("NCT90000002", phases=["PHASE3"]),
                          make_study("NCT90000003", status="COMPLETED")])
    stats = store.stats()
    assert stats["trials"] == 3
    assert stats["by_status"] == {"RECRUITING": 2, "COMPLETED": 1}
    assert stats["by_phase"] == {"PHASE2": 2, "PHASE3": 1}
    assert stats["top_conditions"] == [["Non-small Cell Lung Cancer", 3]]
    assert stats["last_refresh"] is None
    json.dumps(stats)


def test_readonly_store(tmp_path):
    path = tmp_path / "trials.db"
    with pytest.raises(StoreError, match="no trial database at .*run `trialmatch ingest`"):
        TrialStore.open(path, readonly=True)
    TrialStore.open(path).close()
    with TrialStore.open(path, readonly=True) as store:
        with pytest.raises(StoreError, match="read-only"):
            store.upsert_studies(make_studies(1))


def test_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(StoreError, match="not a usable trial database"):
        TrialStore.open(path)


# ---------------------------------------------------------------------- ingest from files


def test_ingest_files_folders_pages_lists_and_zips(tmp_path, store):
    folder = tmp_path / "in" / "nested"
    folder.mkdir(parents=True)
    (folder / "NCT90000001.json").write_text(json.dumps(make_study("NCT90000001")))
    (tmp_path / "in" / "page.json").write_text(json.dumps(
        {"studies": make_studies(2, start=2), "nextPageToken": "abc"}))
    (tmp_path / "list.json").write_text(json.dumps(make_studies(1, start=4)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for study in make_studies(3, start=5):
            nct = study["protocolSection"]["identificationModule"]["nctId"]
            archive.writestr(f"ctg-studies/{nct}.json", json.dumps(study))
        archive.writestr("README.txt", "not json")
    (tmp_path / "in" / "ctg-studies.json.zip").write_bytes(buffer.getvalue())

    paths = [tmp_path / "in", tmp_path / "list.json"]
    assert len(find_sources(paths)) == 6
    result = ingest_paths(store, paths)
    assert result.counts == UpsertCounts(added=7)
    assert result.warnings == []
    assert ingest_paths(store, paths).counts == UpsertCounts(unchanged=7)


def test_ingest_reports_and_skips_bad_files(tmp_path, store):
    (tmp_path / "good.json").write_text(json.dumps(make_study("NCT90000001")))
    (tmp_path / "truncated.json").write_text(json.dumps(make_study("NCT90000002"))[:100])
    (tmp_path / "other.json").write_text(json.dumps({"hello": "world"}))
    (tmp_path / "page.json").write_text(json.dumps({"studies": [make_study(None),
                                                                make_study("NCT90000003")]}))
    result = ingest_paths(store, [tmp_path])
    assert result.counts == UpsertCounts(added=2, skipped=3)
    assert len(result.warnings) == 3
    assert any("truncated.json: not valid JSON" in w for w in result.warnings)
    assert any("page.json study 1: study without an NCT id" in w for w in result.warnings)
    assert sorted(store.iter_ids()) == ["NCT90000001", "NCT90000003"]


@pytest.mark.parametrize("name", ["missing.json", "empty-folder"])
def test_ingest_missing_or_empty_path_is_an_input_error(tmp_path, store, name):
    (tmp_path / "empty-folder").mkdir()
    with pytest.raises(InputError):
        ingest_paths(store, [tmp_path / name])


def test_ingest_bad_zip_is_one_skipped_item(tmp_path, store):
    (tmp_path / "bulk.zip").write_bytes(b"PK not really")
    result = ingest_paths(store, [tmp_path / "bulk.zip"])
    assert result.warnings == [f"{tmp_path / 'bulk.zip'}: not a readable zip archive; skipped"]
    assert result.counts.skipped == 1 and result.usable == 0


def test_ingest_fixture_trials_twice(fixtures_dir, store):
    first = ingest_paths(store, [fixtures_dir / "trials"])
    assert first.counts.added == first.sources > 0
    assert ingest_paths(store, [fixtures_dir / "trials"]).counts.unchanged == first.sources
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_saved_pages_hold_the_same_trials_as_the_study_files(fixtures_dir, store):
    pages = fixtures_dir / "pages"
    if not any(pages.glob("*.json")):
        pytest.skip("fixtures/pages not built")
    files = ingest_paths(store, [fixtures_dir / "trials"]).counts
    again = ingest_paths(store, [pages]).counts
    assert again == UpsertCounts(unchanged=files.added)


def test_parsing_in_worker_processes_gives_the_same_rows(tmp_path):
    studies = make_studies(12)
    with TrialStore.open(tmp_path / "one.db") as serial, \
            TrialStore.open(tmp_path / "two.db") as parallel:
        serial.upsert_studies(studies, annotate_by_condition)
        parallel.upsert_studies(studies, annotate_by_condition, jobs=2, batch_size=5)
        ids = list(serial.iter_ids())
        assert [t.criteria for t in parallel.get_trials(ids)] == \
            [t.criteria for t in serial.get_trials(ids)]
        assert parallel.reparse(annotate_by_condition, jobs=2) == 12
        assert _table_count(parallel, "criteria") == _table_count(serial, "criteria") == 24


def annotate_with_pid(text: TrialText) -> TrialAnnotation:
    """A parser that says which process ran it (as a code)."""
    return TrialAnnotation(oncotree_codes=[f"PID{os.getpid()}"], criteria=[],
                           parser_version="pid")


PARSED_HERE: list[str] = []


def annotate_and_tell(text: TrialText) -> TrialAnnotation:
    """The test parser, noting the trials parsed in this process and whether the cyclic
    collector's permanent generation holds the objects built before parsing began."""
    PARSED_HERE.append(text.nct_id)
    annotation = annotate_by_condition(text)
    annotation.oncotree_codes.append(f"FROZEN{gc.get_freeze_count() > 0}")
    return annotation


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="fork only")
def test_forked_workers_start_from_a_parser_built_once_and_frozen(tmp_path):
    PARSED_HERE.clear()
    frozen_before = gc.get_freeze_count()
    with TrialStore.open(tmp_path / "trials.db") as store:
        store.upsert_studies(make_studies(12), annotate_and_tell, jobs=2, batch_size=6)
        codes = {row[0] for row in store.conn.execute("SELECT DISTINCT code FROM trial_codes")}
    # Built once, here, by parsing the warm-up trial; every study was parsed by a worker.
    assert PARSED_HERE == ["NCT00000000"]
    assert "FROZENTrue" in codes and "FROZENFalse" not in codes
    assert gc.get_freeze_count() == frozen_before  # this process's collector as it was


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="fork only")
def test_objects_frozen_by_the_caller_stay_frozen(tmp_path):
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with TrialStore.open(tmp_path / "trials.db") as store:
            store.upsert_studies(make_studies(4), annotate_and_tell, jobs=2, batch_size=4)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_a_study_changed_by_the_batch_before_is_still_parsed(tmp_path):
    # Batches are parsed while the one before is written: the second copy of NCT90000001
    # looked unchanged when its batch was prepared, then the first copy changed it.
    first = make_study("NCT90000001", criteria="Inclusion Criteria:\n\n* Age 18 or older")
    second = make_study("NCT90000001", criteria="Inclusion Criteria:\n\n* Age 21 or older\n"
                        "* ECOG 0-1")
    with TrialStore.open(tmp_path / "trials.db") as store:
        store.upsert_studies([second], annotate_by_condition)
        store.upsert_studies([first, make_study("NCT90000002"), second,
                              make_study("NCT90000003")], annotate_by_condition, jobs=2,
                             batch_size=2)
        trial = store.get_trial("NCT90000001")
        assert [c.text for c in trial.criteria] == ["Age 21 or older", "ECOG 0-1"]
        assert trial.parser_version == "t1"


def test_refresh_parses_in_worker_processes_with_jobs(tmp_path):
    from ctgov_fake import FakeCtgov

    from trialmatch.ingest.client import CtgovClient, RetryPolicy
    from trialmatch.ingest.refresh import refresh

    with FakeCtgov(make_studies(30), page_size=15) as api, \
            TrialStore.open(tmp_path / "trials.db") as store:
        refresh(store, CtgovClient(api.url, policy=RetryPolicy(min_interval=0)),
                annotate=annotate_with_pid, jobs=2)
        codes = {row[0] for row in store.conn.execute("SELECT DISTINCT code FROM trial_codes")}
    assert codes and f"PID{os.getpid()}" not in codes  # every page parsed by the workers


def annotate_slowly(text: TrialText) -> TrialAnnotation:
    """The test parser, slow enough that the next API page arrives while a page is parsed."""
    import time

    time.sleep(0.01)
    return annotate_by_condition(text)


def test_refresh_parses_the_next_page_while_writing_this_one(tmp_path):
    from ctgov_fake import FakeCtgov

    from trialmatch.ingest.client import CtgovClient, RetryPolicy
    from trialmatch.ingest.refresh import refresh

    studies = make_studies(40)
    studies[20] = make_study(None)  # page 2's sixth study cannot be stored
    with FakeCtgov(studies, page_size=15) as api, \
            TrialStore.open(tmp_path / "trials.db") as store:
        result = refresh(store, CtgovClient(api.url, policy=RetryPolicy(min_interval=0)),
                         annotate=annotate_slowly, jobs=2)
        assert (result.pages, result.counts) == (3, UpsertCounts(added=39, skipped=1))
        assert _table_count(store, "trial_parse") == 39
        run = store.get_run(result.run_id)
        assert (run["outcome"], run["pages"], run["resume_token"]) == ("success", 3, None)


def test_stored_requirements_are_the_json_of_their_to_dict():
    requirements = [
        Requirement("biomarker", {"any_of": [{"marker": "EGFR", "alterations": ("L858R",),
                                              "status": "positive"}]}, "EGFR L858R", 3, 13),
        Requirement("prior_therapy", {"received": False, "drugs": {"osimertinib"},
                                      "classes": []}, "no prior osimertinib"),
        Requirement("pregnancy", {}, "pregnant", 0, 8),
    ]
    assert _requirements_json(requirements) == _json([r.to_dict() for r in requirements])
    assert _requirements_json([]) == "[]"


def test_parsed_criteria_cross_to_the_writing_process_through_their_constructor():
    requirement = Requirement("biomarker", {"any_of": [{"marker": "EGFR", "alterations":
                                                       ["L858R"], "status": "positive"}]},
                              "EGFR L858R", 4, 14)
    criterion = EligibilityCriterion("inclusion", "Has EGFR L858R", 2, 100, 114, "Cohort A",
                                     [requirement])
    for cls in (Requirement, EligibilityCriterion):
        assert all(f.init for f in dataclasses.fields(cls))  # all are constructor arguments
    for value in (requirement, criterion):
        assert value.__reduce__()[0] is type(value)  # rebuilt by the constructor
        assert pickle.loads(pickle.dumps(value)) == value
        deep = copy.deepcopy(value)
        assert deep == value
    assert copy.deepcopy(criterion).requirements[0].params is not requirement.params
