"""The hand-written fixture trials, pages and cases are well-formed and never real records.

The fixtures stand in for ClinicalTrials.gov API v2 data in every other test, so a broken or
misnamed file would make those tests lie; these checks keep the fixtures honest.
"""

import functools
import json
import re
from pathlib import Path

import pytest
import yaml

from trialmatch.match.stated import STATED_FIELDS

REPO = Path(__file__).resolve().parent.parent
TRIALS_DIR = REPO / "fixtures" / "trials"
PAGES_DIR = REPO / "fixtures" / "pages"
REAL_CTGOV = Path("/work/shared/ctgov")

FIXTURE_ID = re.compile(r"^NCT990000\d\d$")
TRIAL_FILES = sorted(TRIALS_DIR.glob("NCT*.json"))
REQUIRED_MODULES = (
    "identificationModule",
    "statusModule",
    "sponsorCollaboratorsModule",
    "descriptionModule",
    "conditionsModule",
    "designModule",
    "armsInterventionsModule",
    "eligibilityModule",
    "contactsLocationsModule",
)
# The API's overallStatus enumeration (ClinicalTrials.gov data API v2, Status enum).
OVERALL_STATUSES = {
    "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
    "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "UNKNOWN",
}
PHASES = {"EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA"}
AGE = re.compile(r"^\d+ (Year|Years|Month|Months|Week|Weeks|Day|Days)$")


def load(path: Path) -> dict:
    """Parse one fixture file as JSON."""
    return json.loads(path.read_text(encoding="utf-8"))


def real_ids() -> set[str]:
    """NCT ids of the real records in the shared folder (file stems and page contents)."""
    ids = {p.stem for p in REAL_CTGOV.rglob("NCT*.json")}
    pages = REAL_CTGOV / "pages"
    if pages.is_dir():
        for page in pages.glob("*.json"):
            text = page.read_text(encoding="utf-8", errors="replace")
            ids.update(re.findall(r'"nctId"\s*:\s*"(NCT\d{8})"', text))
    return ids


def test_there_are_enough_fixture_trials():
    assert len(TRIAL_FILES) >= 45


@pytest.mark.parametrize("path", TRIAL_FILES, ids=lambda p: p.stem)
def test_trial_file_is_one_well_formed_study(path):
    study = load(path)
    protocol = study["protocolSection"]
    for module in REQUIRED_MODULES:
        assert module in protocol, f"{path.name} lacks {module}"
    assert "conditionBrowseModule" in study["derivedSection"]
    nct_id = protocol["identificationModule"]["nctId"]
    assert nct_id == path.stem
    assert FIXTURE_ID.match(nct_id), "fixture ids must be NCT990000NN, never real ids"
    status = protocol["statusModule"]
    assert status["overallStatus"] in OVERALL_STATUSES
    assert re.match(r"^\d{4}-\d{2}-\d{2}$", status["lastUpdatePostDateStruct"]["date"])
    assert re.match(r"^\d{4}-\d{2}-\d{2}$", status["lastUpdateSubmitDate"])
    assert protocol["conditionsModule"]["conditions"]
    assert set(protocol["designModule"].get("phases", [])) <= PHASES
    eligibility = protocol["eligibilityModule"]
    assert eligibility["sex"] in {"ALL", "FEMALE", "MALE"}
    for bound in ("minimumAge", "maximumAge"):
        if bound in eligibility:
            assert AGE.match(eligibility[bound]), f"{path.name} {bound}={eligibility[bound]!r}"
    for location in protocol["contactsLocationsModule"]["locations"]:
        assert location["facility"] and location["country"]
        if "geoPoint" in location:
            assert -90 <= location["geoPoint"]["lat"] <= 90
            assert -180 <= location["geoPoint"]["lon"] <= 180


def test_fixture_ids_are_unique():
    ids = [load(p)["protocolSection"]["identificationModule"]["nctId"] for p in TRIAL_FILES]
    assert len(ids) == len(set(ids))


def test_statuses_and_odd_cases_are_covered():
    studies = [load(p)["protocolSection"] for p in TRIAL_FILES]
    statuses = {s["statusModule"]["overallStatus"] for s in studies}
    assert {"RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION",
            "ACTIVE_NOT_RECRUITING", "COMPLETED", "TERMINATED"} <= statuses
    eligibility = [s["eligibilityModule"] for s in studies]
    assert any("eligibilityCriteria" not in e for e in eligibility)
    assert any("minimumAge" not in e for e in eligibility)
    assert {"FEMALE", "MALE"} <= {e["sex"] for e in eligibility}
    assert any(s["designModule"].get("phases") in (None, ["NA"]) for s in studies)


def test_no_fixture_id_is_a_real_record():
    if not REAL_CTGOV.is_dir():
        pytest.skip("shared ClinicalTrials.gov records not present")
    fixture_ids = {p.stem for p in TRIAL_FILES}
    assert not fixture_ids & real_ids()


PAGE_FILES = sorted(PAGES_DIR.glob("page-*.json"), key=lambda p: int(p.stem.split("-")[1]))


def test_saved_pages_hold_every_fixture_trial_once_and_chain_by_token():
    assert len(PAGE_FILES) >= 2
    pages = [load(p) for p in PAGE_FILES]
    for page in pages[:-1]:
        assert page["nextPageToken"], "every page but the last carries a token"
    assert "nextPageToken" not in pages[-1]
    paged = [s for page in pages for s in page["studies"]]
    assert paged == [load(p) for p in TRIAL_FILES], "pages are stale: run fixtures/make_pages.py"
    assert pages[0]["totalCount"] == len(TRIAL_FILES)


# --------------------------------------------------------------------------- cases and gold

CASES_DIR = REPO / "fixtures" / "cases"
GOLD_DIR = CASES_DIR / "gold"
CASE_FILES = sorted(
    p for p in CASES_DIR.iterdir() if p.is_file() and p.suffix in {".yaml", ".json", ".txt"}
)
GOLD_FILES = sorted(GOLD_DIR.glob("*.json"))
GOLD_KEYS = {
    "case_id", "cancer_type", "cancer_type_accept", "stage_group", "must_be_eligible",
    "must_be_excluded", "must_not_appear", "protocols", "testing_gaps", "discrepancies",
}
# The statuses matching considers by default (SPEC: "matching considers open trials").
OPEN_STATUSES = {"RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION"}
STAGE_GROUP = re.compile(r"^(0|I|II|III|IV)([ABC]\d?)?$")


def read_case(path: Path) -> dict:
    """A case file as a dict; a plain-text case has only its id (the file's stem)."""
    if path.suffix == ".txt":
        return {"id": path.stem}
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


@functools.cache
def trial_index() -> dict[str, dict]:
    """Fixture trials by NCT id."""
    return {p.stem: load(p)["protocolSection"] for p in TRIAL_FILES}


@functools.cache
def cases_by_id() -> dict[str, dict]:
    """Every case file, read once, by case id."""
    return {case["id"]: case for case in map(read_case, CASE_FILES)}


def age_in_years(text: str | None) -> float | None:
    """'18 Years' -> 18.0; '12 Months' -> 1.0; None stays None."""
    if text is None:
        return None
    number, unit = text.split()
    return float(number) / (12 if unit.startswith("Month") else 1)


def test_there_are_enough_cases_in_every_format():
    assert len(CASE_FILES) >= 26
    assert {p.suffix for p in CASE_FILES} == {".yaml", ".json", ".txt"}
    assert (CASES_DIR / "demo.yaml").is_file()


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_case_file_follows_the_spec_shape_and_its_notes_exist(path):
    case = read_case(path)
    assert set(case) <= {"id", "age", "sex", "ecog", "location", "notes", "prior_therapies",
                         "first_opinion"} | STATED_FIELDS
    if path.suffix == ".txt":
        assert path.read_text(encoding="utf-8").strip()
        return
    assert case["id"] and case["notes"]
    assert case.get("sex") in {None, "female", "male"}
    for note in case["notes"]:
        assert set(note) in ({"path"}, {"text"})
        if "path" in note:
            assert (path.parent / note["path"]).is_file(), note["path"]
    opinion = case.get("first_opinion") or {}
    assert set(opinion) <= {"diagnosis", "stage", "biomarkers", "plan", "trials_considered"}


def test_case_ids_are_unique_and_each_case_has_exactly_one_gold_file():
    ids = [read_case(p)["id"] for p in CASE_FILES]  # not cases_by_id(): duplicates must show
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(p.stem for p in GOLD_FILES)


@pytest.mark.parametrize("path", GOLD_FILES, ids=lambda p: p.stem)
def test_gold_is_consistent_with_the_fixture_trials_and_the_case(path):
    gold = load(path)
    assert set(gold) == GOLD_KEYS
    assert gold["case_id"] == path.stem
    if gold["stage_group"] is not None:
        assert STAGE_GROUP.match(gold["stage_group"])
    if gold["cancer_type"] is not None:
        assert gold["cancer_type"] in gold["cancer_type_accept"]
    trials = trial_index()
    named = [*gold["must_be_eligible"], *gold["must_be_excluded"], *gold["must_not_appear"]]
    assert set(named) <= set(trials), "gold names a trial that is not a fixture"
    eligible = set(gold["must_be_eligible"])
    assert not eligible & (set(gold["must_be_excluded"]) | set(gold["must_not_appear"]))
    assert all(reason.strip() for reason in gold["must_be_excluded"].values())
    case = cases_by_id()[gold["case_id"]]
    for nct_id in eligible:
        # An eligible trial must be open and allow the patient's sex and (known) age.
        trial = trials[nct_id]
        assert trial["statusModule"]["overallStatus"] in OPEN_STATUSES, nct_id
        eligibility = trial["eligibilityModule"]
        if case.get("sex"):
            assert eligibility["sex"] in {"ALL", case["sex"].upper()}, nct_id
        if case.get("age") is not None:
            low = age_in_years(eligibility.get("minimumAge"))
            high = age_in_years(eligibility.get("maximumAge"))
            assert low is None or case["age"] >= low, nct_id
            assert high is None or case["age"] <= high, nct_id
