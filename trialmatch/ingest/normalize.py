"""Turn one ClinicalTrials.gov API v2 study object into the record the store keeps.

Pure functions: no database, no network. Every source (API pages, single files, the bulk
export zip) goes through `normalize_study`, so a trial looks the same whichever way it came in.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from trialmatch.errors import InputError
from trialmatch.models import Location, TrialText
from trialmatch.regex_cache import re_compile

# Bumped when the mapping below changes, so that a re-ingest rewrites rows stored by an older
# mapping even when the study itself did not change (the version is part of content_hash).
NORMALIZER_VERSION = "1"

NCT_ID = re_compile(r"^NCT\d{8}$")

# Unit lengths in years. The API writes ages as "<number> <Unit>" with Years, Months, Weeks,
# Days, Hours or Minutes (singular or plural); "N/A" or absence means no limit.
# Source: ClinicalTrials.gov data element definitions, "Minimum Age" / "Maximum Age".
_YEARS_PER_UNIT = {
    "year": 1.0,
    "month": 1.0 / 12.0,
    "week": 7.0 / 365.25,
    "day": 1.0 / 365.25,
    "hour": 1.0 / (365.25 * 24),
    "minute": 1.0 / (365.25 * 24 * 60),
}
_AGE = re_compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+?)s?\s*$")

_SEXES = {"ALL", "FEMALE", "MALE"}


class InvalidStudyError(InputError):
    """A study object that cannot be stored: not an object, or without a valid NCT id."""


@dataclass
class StudyRecord:
    """One normalised study: the columns of `trials`, its locations and the original JSON."""

    nct_id: str
    brief_title: str | None
    official_title: str | None
    overall_status: str | None
    phases: list[str]
    study_type: str | None
    conditions: list[str]
    keywords: list[str]
    interventions: list[dict[str, str]]
    arms: list[dict[str, Any]]
    sponsor: str | None
    start_date: str | None
    completion_date: str | None
    last_update_date: str | None
    brief_summary: str | None
    criteria_text: str
    minimum_age: float | None
    maximum_age: float | None
    sex: str | None
    healthy_volunteers: bool | None
    locations: list[Location] = field(default_factory=list)
    # designModule.designInfo.primaryPurpose: TREATMENT, SUPPORTIVE_CARE, DIAGNOSTIC, ...
    primary_purpose: str | None = None
    contact: dict[str, str] | None = None  # whom to ask: see `study_contact`
    raw_json: bytes = b""  # zlib-compressed original study JSON
    content_hash: str = ""

    @property
    def title(self) -> str:
        """The brief title, else the official title, else the NCT id."""
        return self.brief_title or self.official_title or self.nct_id

    def trial_text(self) -> TrialText:
        """The parts of this study that criteria parsing reads."""
        return TrialText(
            nct_id=self.nct_id,
            title=self.title,
            conditions=list(self.conditions),
            keywords=list(self.keywords),
            criteria_text=self.criteria_text,
            minimum_age=self.minimum_age,
            maximum_age=self.maximum_age,
            sex=self.sex,
            primary_purpose=self.primary_purpose,
            official_title=self.official_title,
            phases=tuple(self.phases),
            brief_summary=self.brief_summary,
        )


def parse_age(value: Any) -> float | None:
    """An API age such as "18 Years", "6 Months" or "N/A" in years; None when no limit.

    An unreadable value is treated as no limit rather than guessed at.
    """
    if value is None or not isinstance(value, str):
        return None
    match = _AGE.match(value)
    if not match:
        return None
    unit = _YEARS_PER_UNIT.get(match.group(2).lower())
    if unit is None:
        return None
    return round(float(match.group(1)) * unit, 4)


def study_nct_id(study: Any) -> str:
    """The study's NCT id, or InvalidStudyError naming what is missing."""
    if not isinstance(study, dict):
        raise InvalidStudyError(f"study is a JSON {type(study).__name__}, not an object")
    protocol = study.get("protocolSection")
    if not isinstance(protocol, dict):
        raise InvalidStudyError("study without protocolSection")
    ident = protocol.get("identificationModule")
    nct_id = ident.get("nctId") if isinstance(ident, dict) else None
    if not isinstance(nct_id, str) or not nct_id.strip():
        raise InvalidStudyError(
            "study without an NCT id (protocolSection.identificationModule.nctId)"
        )
    nct_id = nct_id.strip().upper()
    if not NCT_ID.match(nct_id):
        raise InvalidStudyError(f"study with a malformed NCT id {nct_id[:20]!r}")
    return nct_id


def normalize_study(study: Any) -> StudyRecord:
    """Map one API v2 study object to a StudyRecord; InvalidStudyError if it has no NCT id."""
    nct_id = study_nct_id(study)
    protocol = study["protocolSection"]

    def module(name: str) -> dict[str, Any]:
        return _module(protocol, name)

    ident = module("identificationModule")
    status = module("statusModule")
    design = module("designModule")
    conditions_module = module("conditionsModule")
    arms_module = module("armsInterventionsModule")
    eligibility = module("eligibilityModule")
    description = module("descriptionModule")
    sponsors = module("sponsorCollaboratorsModule")
    contacts = module("contactsLocationsModule")

    # Parsed JSON holds no cycles: the encoder's check for them is time spent for nothing.
    raw = json.dumps(study, ensure_ascii=False, separators=(",", ":"),
                     check_circular=False).encode("utf-8")
    digest = hashlib.sha1(NORMALIZER_VERSION.encode() + b"\0" + raw).hexdigest()

    sex = _text(eligibility.get("sex"))
    sex = sex.upper() if sex and sex.upper() in _SEXES else None
    healthy = eligibility.get("healthyVolunteers")

    return StudyRecord(
        nct_id=nct_id,
        brief_title=_text(ident.get("briefTitle")),
        official_title=_text(ident.get("officialTitle")),
        overall_status=_text(status.get("overallStatus")),
        phases=_strings(design.get("phases")),
        study_type=_text(design.get("studyType")),
        conditions=_strings(conditions_module.get("conditions")),
        keywords=_strings(conditions_module.get("keywords")),
        interventions=[
            {"type": _text(item.get("type")) or "OTHER", "name": _text(item.get("name")) or ""}
            for item in _objects(arms_module.get("interventions"))
            if _text(item.get("name"))
        ],
        arms=[
            {
                "label": _text(arm.get("label")),
                "type": _text(arm.get("type")),
                "description": _text(arm.get("description")),
                "interventions": _strings(arm.get("interventionNames")),
            }
            for arm in _objects(arms_module.get("armGroups"))
        ],
        sponsor=_text(_module(sponsors, "leadSponsor").get("name")),
        start_date=_date(status.get("startDateStruct")),
        completion_date=_date(status.get("completionDateStruct")),
        last_update_date=_date(status.get("lastUpdatePostDateStruct"))
        or _text(status.get("lastUpdateSubmitDate")),
        brief_summary=_text(description.get("briefSummary")),
        criteria_text=_text(eligibility.get("eligibilityCriteria")) or "",
        minimum_age=parse_age(eligibility.get("minimumAge")),
        maximum_age=parse_age(eligibility.get("maximumAge")),
        sex=sex,
        healthy_volunteers=healthy if isinstance(healthy, bool) else None,
        locations=[_location(item) for item in _objects(contacts.get("locations"))],
        primary_purpose=primary_purpose(study),
        contact=study_contact(study),
        # Level 1 compresses a study in half the time of the default 6 for ~14% more bytes
        # (8.8 vs 7.7 KB of a 35 KB study: a parsed store of the 755 real studies grows from
        # 24 to 25 MB); the main process of a first load compresses every study it stores.
        raw_json=zlib.compress(raw, 1),
        content_hash=digest,
    )


def primary_purpose(study: dict[str, Any]) -> str | None:
    """The study's primary purpose as the API states it (upper case), or None."""
    protocol = _module(study, "protocolSection")
    info = _module(_module(protocol, "designModule"), "designInfo")
    purpose = _text(info.get("primaryPurpose"))
    return purpose.upper() if purpose else None


def decompress_study(raw_json: bytes) -> dict[str, Any]:
    """The original study object from a stored `raw_json` value."""
    return json.loads(zlib.decompress(raw_json))


def _module(parent: dict[str, Any], name: str) -> dict[str, Any]:
    value = parent.get(name)
    return value if isinstance(value, dict) else {}


def _location(item: dict[str, Any]) -> Location:
    geo = item.get("geoPoint") if isinstance(item.get("geoPoint"), dict) else {}
    return Location(
        facility=_text(item.get("facility")),
        city=_text(item.get("city")),
        state=_text(item.get("state")),
        country=_text(item.get("country")),
        status=_text(item.get("status")),
        lat=_number(geo.get("lat")),
        lon=_number(geo.get("lon")),
    )


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [text for text in (_text(item) for item in value) if text]


def _objects(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _date(struct: Any) -> str | None:
    # Dates come as {"date": "2021-03" | "2021-03-15", "type": "ACTUAL"|"ESTIMATED"}.
    if isinstance(struct, dict):
        return _text(struct.get("date"))
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def study_contact(study: dict[str, Any]) -> dict[str, str] | None:
    """Whom to ask about the study: its first central contact, else its first overall
    official, as {name, phone, email} (only what the record gives), or None."""
    protocol = _module(study, "protocolSection")
    contacts = _module(protocol, "contactsLocationsModule")
    for item in _objects(contacts.get("centralContacts")) + _objects(
            contacts.get("overallOfficials")):
        found = {key: _text(item.get(key)) for key in ("name", "phone", "email")}
        found = {key: value for key, value in found.items() if value}
        if found:
            return found
    return None
