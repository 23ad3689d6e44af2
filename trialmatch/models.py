"""Plain dataclasses that cross the borders between ingest, nlp and match.

No spaCy object ever appears here. Every `to_dict()` gives the JSON shape fixed by SPEC.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from functools import cache
from typing import Any, Literal

BiomarkerStatus = Literal["positive", "negative", "equivocal", "unknown"]
CriterionKind = Literal["inclusion", "exclusion"]


# --------------------------------------------------------------------------- patient side


@dataclass
class CancerType:
    """An OncoTree code asserted by the note, with the words that show it."""

    code: str
    name: str
    evidence: str
    start: int
    end: int
    derived: bool = False  # true when combined from separate site and histology mentions

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Stage:
    """AJCC TNM and stage group. Values are null where unknown.

    `derived` lists the fields that were inferred rather than written (e.g. `["group"]` when
    an M1 implies stage IV).
    """

    prefix: str | None = None  # c, p, yp, r, yc
    t: str | None = None  # Tis, T1mi, T2a, TX
    n: str | None = None  # N0, N2b, N0(i+), N1mi
    m: str | None = None  # M0, M1c
    group: str | None = None  # 0, I, IA2, IIB, IIIC, IV, IVB
    figo: str | None = None  # FIGO stage where written, e.g. IIIC1
    evidence: str = ""
    derived: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Biomarker:
    """One biomarker result. `marker` uses the names fixed in SPEC.md (HGNC symbol, or ER, PR,
    HER2, PD-L1, Ki-67, MSI, MMR, TMB, p16, HPV)."""

    marker: str
    alteration: str | None
    status: BiomarkerStatus
    value: float | None = None
    unit: str | None = None  # TPS, CPS, %, mut/Mb, IHC, Allred, ratio
    evidence: str = ""
    start: int = 0
    end: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def label(self) -> str:
        """Human-readable one-liner, e.g. 'EGFR exon 19 deletion' or 'PD-L1 TPS 60%'."""
        parts = [self.marker]
        if self.alteration:
            parts.append(self.alteration)
        if self.value is not None:
            number = f"{self.value:g}"
            if self.unit in ("TPS", "CPS"):
                parts.append(f"{self.unit} {number}{'%' if self.unit == 'TPS' else ''}")
            elif self.unit == "IHC":
                parts.append(f"IHC {number}+")
            elif self.unit:
                parts.append(f"{number} {self.unit}" if self.unit != "%" else f"{number}%")
            else:
                parts.append(number)
        elif self.status != "positive" or not self.alteration:
            parts.append(self.status)
        return " ".join(parts)


@dataclass
class Profile:
    """What the notes say about the tumour: the `extract --json` document."""

    cancer_type: CancerType | None = None
    histology: str | None = None
    primary_site: str | None = None
    grade: str | None = None  # G1-G4; details such as Gleason in grade_detail
    grade_detail: str | None = None  # e.g. "Gleason 4+3=7", "Nottingham 8/9", "WHO grade 4"
    stage: Stage | None = None
    biomarkers: list[Biomarker] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # The stage at diagnosis when a later spread restaged the disease (`stage` is now's).
    stage_at_diagnosis: Stage | None = None

    def to_dict(self) -> dict[str, Any]:
        document = {
            "cancer_type": self.cancer_type.to_dict() if self.cancer_type else None,
            "histology": self.histology,
            "primary_site": self.primary_site,
            "grade": self.grade,
            "grade_detail": self.grade_detail,
            "stage": self.stage.to_dict() if self.stage else None,
            "biomarkers": [b.to_dict() for b in self.biomarkers],
            "warnings": list(self.warnings),
        }
        if self.stage_at_diagnosis is not None:
            document["stage_at_diagnosis"] = self.stage_at_diagnosis.to_dict()
        return document


# --------------------------------------------------------------------------- trial side


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _reduce_by_fields(self: Any) -> tuple[type, tuple[Any, ...]]:
    """Pickle a dataclass as its class and field values, so that unpickling calls the
    constructor: six times faster to load than the default (which rebuilds every instance's
    __dict__), and the main process of a parallel ingest unpickles every criterion and
    requirement the workers parsed. Every field must be an __init__ argument (tested)."""
    cls = type(self)
    return cls, tuple(getattr(self, name) for name in _field_names(cls))


@dataclass
class Requirement:
    """One checkable statement made by a criterion, as data.

    A requirement states a fact about the patient ("has EGFR exon 19 deletion", "has received
    an immune checkpoint inhibitor"). The criterion's kind decides what the fact means for
    eligibility: an inclusion criterion is met when its statements are true, an exclusion
    criterion is met (the patient is not excluded) when they are false.

    `kind` and its `params` (see docs/requirements.md for the full table):
      cancer_type        {"codes": [...], "scope": "codes"|"solid"|"heme"|"any", "except": [...]}
      histology          {"histologies": [...]}
      primary_site       {"sites": [...]}
      stage              {"groups": ["IIIB", "IIIC", "IV"]}          allowed groups, expanded
      extent             {"extent": "metastatic"|"locally_advanced"|"unresectable"|"recurrent"|
                                    "resected"|"early_stage"|"advanced"}
      measurable_disease {"standard": "RECIST 1.1"|None}
      biomarker          {"any_of": [{"marker", "alterations": [...], "status",
                                      "min_value", "max_value", "unit", "germline"}]}
      age                {"min": years|None, "max": years|None}
      sex                {"sex": "female"|"male"}
      performance_status {"scale": "ECOG"|"KPS", "min": n|None, "max": n|None}
      prior_therapy      {"received": bool, "drugs": [...], "classes": [...], "dose_above":
                          true (optional: only a cumulative dose above a bound counts),
                          "progressed": true (optional: the disease must have progressed
                          on it, not merely received it)}
      prior_lines        {"min": n|None, "max": n|None, "beyond_standard": true (optional:
                          disease refractory to or without standard therapy, >= 1 line)}
      cns_metastases     {"state": "any"|"active"|"untreated"|"stable"}
      organ_function     {"measure": "ANC"|"platelets"|..., "op": ">=", "value": x, "unit": u}
      pregnancy          {}
      infection          {"agents": ["HIV", "HBV", "HCV"]}
      other_malignancy   {"within_years": n|None}
      t_category         {"values": [1, 2]}  T categories allowed (Tis and T0 are 0), and
      n_category         {"values": [1, 2, 3]}  N categories ("node-positive" is 1-3);
                          "or_other": true when another condition may stand for it
      procedural         {"assumed": bool}  (consent, willingness, headings, investigator's
                          judgement: settled at screening)
      condition          {"condition": name}  a population condition other than the cancer
                          (chylous ascites, HIV infection, tobacco smoking; from the title and
                          conditions, trialmatch.nlp.conditions)
    """

    kind: str
    params: dict[str, Any]
    text: str  # the words of the criterion this requirement came from
    start: int = 0  # offsets within the criterion's text
    end: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    __reduce__ = _reduce_by_fields


@dataclass
class EligibilityCriterion:
    """One criterion as written, with its position and the requirements it states.

    A criterion with no requirements is free text ("other") and is never silently ignored.
    """

    kind: CriterionKind
    text: str
    position: int  # 0-based order within the trial's criteria
    start: int = 0  # offsets within the trial's whole criteria text
    end: int = 0
    cohort: str | None = None  # "Cohort A" where the criterion belongs to a cohort block
    requirements: list[Requirement] = field(default_factory=list)

    @property
    def is_other(self) -> bool:
        return not self.requirements

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "position": self.position,
            "start": self.start,
            "end": self.end,
            "cohort": self.cohort,
            "requirements": [r.to_dict() for r in self.requirements],
        }

    __reduce__ = _reduce_by_fields


@dataclass
class Location:
    facility: str | None
    city: str | None
    state: str | None
    country: str | None
    status: str | None = None
    lat: float | None = None
    lon: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrialText:
    """The parts of a trial record that text parsing reads (built by ingest, read by nlp)."""

    nct_id: str
    title: str
    conditions: list[str]
    keywords: list[str]
    criteria_text: str
    minimum_age: float | None = None  # years
    maximum_age: float | None = None
    sex: str | None = None  # ALL | FEMALE | MALE as in the API
    primary_purpose: str | None = None  # designInfo.primaryPurpose: TREATMENT, PREVENTION, ...
    official_title: str | None = None
    phases: tuple[str, ...] = ()  # designModule.phases: PHASE1, PHASE2, EARLY_PHASE1, ...
    brief_summary: str | None = None  # descriptionModule.briefSummary


@dataclass
class TrialAnnotation:
    """What parsing adds to a stored trial; computed at ingest, stored, redone by `reparse`.

    `oncotree_codes` holds the OncoTree codes the trial's conditions map to, plus the basket
    markers "_SOLID", "_HEME" and "_ANY" for solid-tumour, haematological and any-cancer trials.
    """

    oncotree_codes: list[str]
    criteria: list[EligibilityCriterion]
    parser_version: str


@dataclass
class Trial:
    """A stored trial as matching and `show` read it."""

    nct_id: str
    title: str
    official_title: str | None
    status: str | None
    phases: list[str]
    study_type: str | None
    conditions: list[str]
    keywords: list[str]
    interventions: list[dict[str, str]]  # {"type": "DRUG", "name": "osimertinib"}
    sponsor: str | None
    minimum_age: float | None  # years
    maximum_age: float | None
    sex: str | None  # ALL | FEMALE | MALE
    healthy_volunteers: bool | None
    last_update: str | None
    criteria_text: str
    locations: list[Location] = field(default_factory=list)
    oncotree_codes: list[str] = field(default_factory=list)
    criteria: list[EligibilityCriterion] = field(default_factory=list)
    parser_version: str | None = None
    primary_purpose: str | None = None  # TREATMENT, SUPPORTIVE_CARE, DIAGNOSTIC, ...
