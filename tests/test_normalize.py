"""Normalisation of API v2 study objects: each field, ages, and invalid studies."""

import json
from pathlib import Path

import pytest
from ctgov_fake import make_study
from hypothesis import given, settings
from hypothesis import strategies as st

from trialmatch.errors import InputError
from trialmatch.ingest.normalize import (
    InvalidStudyError,
    decompress_study,
    normalize_study,
    parse_age,
)

FIXTURE_TRIALS = Path(__file__).resolve().parent.parent / "fixtures" / "trials"


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("18 Years", 18.0),
        ("1 Year", 1.0),
        ("6 Months", 0.5),
        ("1 Month", 0.0833),
        ("2 Weeks", 0.0383),
        ("30 Days", 0.0821),
        ("12 Hours", 0.0014),
        ("75 years", 75.0),
        ("  65 Years ", 65.0),
        ("N/A", None),
        ("", None),
        (None, None),
        ("eighteen years", None),
        ("18 Fortnights", None),
        (18, None),
    ],
)
def test_parse_age(text, years):
    assert parse_age(text) == years


def test_every_field_is_mapped():
    study = make_study(
        "nct90000001",
        title="  Osimertinib trial ",
        status="RECRUITING",
        phases=["PHASE2", "PHASE3"],
        conditions=["NSCLC", "EGFR Exon 19 Deletion"],
        minimum_age="18 Years",
        maximum_age="6 Months",
        sex="FEMALE",
        last_update="2026-09-30",
    )
    protocol = study["protocolSection"]
    protocol["identificationModule"]["officialTitle"] = "A Phase 2/3 Study of Osimertinib"
    protocol["conditionsModule"]["keywords"] = ["EGFR", " ", "TKI"]
    protocol["statusModule"]["completionDateStruct"] = {"date": "2029-12", "type": "ESTIMATED"}
    protocol["descriptionModule"] = {"briefSummary": "Tests osimertinib."}
    protocol["designModule"]["designInfo"] = {"primaryPurpose": "Treatment"}
    protocol["armsInterventionsModule"]["interventions"].append({"type": "DRUG"})  # no name
    protocol["armsInterventionsModule"]["armGroups"] = [
        {"label": "Arm A", "type": "EXPERIMENTAL", "interventionNames": ["Drug: Osimertinib"]}
    ]

    record = normalize_study(study)

    assert record.nct_id == "NCT90000001"
    assert record.brief_title == "Osimertinib trial"
    assert record.official_title == "A Phase 2/3 Study of Osimertinib"
    assert record.title == "Osimertinib trial"
    assert record.overall_status == "RECRUITING"
    assert record.phases == ["PHASE2", "PHASE3"]
    assert record.study_type == "INTERVENTIONAL"
    assert record.conditions == ["NSCLC", "EGFR Exon 19 Deletion"]
    assert record.keywords == ["EGFR", "TKI"]
    assert record.interventions == [{"type": "DRUG", "name": "Osimertinib"}]
    assert record.arms == [{"label": "Arm A", "type": "EXPERIMENTAL", "description": None,
                            "interventions": ["Drug: Osimertinib"]}]
    assert record.sponsor == "Test Oncology Group"
    assert record.start_date == "2025-01"
    assert record.completion_date == "2029-12"
    assert record.last_update_date == "2026-09-30"
    assert record.brief_summary == "Tests osimertinib."
    assert record.criteria_text.startswith("Inclusion Criteria:")
    assert record.minimum_age == 18.0
    assert record.maximum_age == 0.5
    assert record.sex == "FEMALE"
    assert record.healthy_volunteers is False
    assert record.primary_purpose == "TREATMENT"
    [site] = record.locations
    assert (site.facility, site.city, site.state, site.country, site.status) == (
        "Test Cancer Center", "Boston", "Massachusetts", "United States", "RECRUITING")
    assert (site.lat, site.lon) == (42.36, -71.06)
    assert decompress_study(record.raw_json) == study
    text = record.trial_text()
    assert (text.nct_id, text.title, text.minimum_age, text.sex) == (
        "NCT90000001", "Osimertinib trial", 18.0, "FEMALE")


def test_sparse_study_gets_empty_values_not_garbage():
    study = {"protocolSection": {"identificationModule": {"nctId": "NCT90000002"}}}
    record = normalize_study(study)
    assert record.title == "NCT90000002"
    assert (record.phases, record.conditions, record.keywords, record.interventions) == (
        [], [], [], [])
    assert record.criteria_text == ""
    assert (record.minimum_age, record.maximum_age, record.sex) == (None, None, None)
    assert record.healthy_volunteers is None
    assert record.locations == []


def test_wrongly_typed_fields_are_ignored():
    study = make_study("NCT90000003")
    protocol = study["protocolSection"]
    protocol["designModule"]["phases"] = "PHASE2"  # a string, not a list
    protocol["conditionsModule"]["conditions"] = [3, None, "Melanoma"]
    protocol["eligibilityModule"]["sex"] = "Both"
    protocol["contactsLocationsModule"]["locations"] = ["Boston", {"city": "Lyon",
                                                                   "geoPoint": "45,4"}]
    record = normalize_study(study)
    assert record.phases == []
    assert record.conditions == ["Melanoma"]
    assert record.sex is None
    assert [(loc.city, loc.lat) for loc in record.locations] == [("Lyon", None)]


@pytest.mark.parametrize(
    ("study", "message"),
    [
        (make_study(None), "without an NCT id"),
        (make_study("NCT123"), "malformed NCT id"),
        ({"protocolSection": "x"}, "without protocolSection"),
        ({"derivedSection": {}}, "without protocolSection"),
        (["NCT90000001"], "not an object"),
    ],
)
def test_invalid_studies_raise_a_clear_error(study, message):
    with pytest.raises(InvalidStudyError, match=message) as raised:
        normalize_study(study)
    assert isinstance(raised.value, InputError)


def test_content_hash_changes_only_with_content():
    first = normalize_study(make_study("NCT90000004"))
    again = normalize_study(make_study("NCT90000004"))
    changed = normalize_study(make_study("NCT90000004", status="COMPLETED"))
    assert first.content_hash == again.content_hash
    assert first.content_hash != changed.content_hash


def test_every_fixture_trial_normalises():
    paths = sorted(FIXTURE_TRIALS.glob("*.json"))
    assert paths, "fixtures/trials is empty"
    for path in paths:
        record = normalize_study(json.loads(path.read_text()))
        assert record.nct_id == path.stem
        assert record.title


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=12,
)
_MODULES = ["identificationModule", "statusModule", "designModule", "conditionsModule",
            "armsInterventionsModule", "eligibilityModule", "descriptionModule",
            "sponsorCollaboratorsModule", "contactsLocationsModule"]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(_MODULES), _json_values, max_size=6))
def test_any_shape_normalises_or_is_rejected_cleanly(modules):
    """Whatever the API sends inside a study, normalisation stores sane values or refuses."""
    modules.setdefault("identificationModule", {"nctId": "NCT90000001"})
    try:
        record = normalize_study({"protocolSection": modules})
    except InvalidStudyError:
        return
    assert all(isinstance(c, str) for c in record.conditions + record.keywords + record.phases)
    assert record.minimum_age is None or record.minimum_age >= 0
    assert record.sex in (None, "ALL", "FEMALE", "MALE")
    assert isinstance(record.criteria_text, str)
