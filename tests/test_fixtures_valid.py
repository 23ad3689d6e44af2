"""The hand-written fixture trials, pages and cases are well-formed and never real records.

The fixtures stand in for ClinicalTrials.gov API v2 data in every other test, so a broken or
misnamed file would make those tests lie; these checks keep the fixtures honest.
"""

import json
import re
from pathlib import Path

import pytest

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
