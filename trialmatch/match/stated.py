"""What the case file states about the disease (issue 13, "The case file can state and
correct"): a clinician's diagnosis, stage, disease status, sites of spread, brain metastases,
biomarker results, treatments, menopausal status and laboratory values.

Each field is read with the reader the notes are read with (the packaged vocabulary for the
diagnosis, the stage grammar, the biomarker and lab readers), so a stated value and a value
found in a note mean the same thing. A stated field wins over what the notes say
(`apply_to_profile` for the tumour facts, `apply_to_case` for the facts the case carries), and
`CaseStatements.to_dict()` is the profile's `from_case`: which values the case file stated.

Errors are `InputError`s of one line naming the case file and the field (and the entry's
number in a list), never a value: a value is text of the case.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trialmatch.errors import InputError
from trialmatch.models import Biomarker, CancerType, Profile, Stage
from trialmatch.regex_cache import re_compile

STATED_FIELDS = frozenset({
    "diagnosis", "stage", "disease_status", "metastatic_sites", "brain_metastases",
    "biomarkers", "treatments", "menopausal", "labs",
})
STATED = "stated in the case file"

# disease_status words, with the spellings accepted for each.
DISEASE_STATUSES = {
    "metastatic": "metastatic", "locally_advanced": "locally_advanced",
    "recurrent": "recurrent", "relapsed": "recurrent", "refractory": "refractory",
    "newly_diagnosed": "newly_diagnosed", "resected": "resected", "ned": "resected",
    "in_remission": "in_remission", "remission": "in_remission",
}
BRAIN_STATES = {"yes": True, "no": False, "treated": True, "untreated": True,
                "leptomeningeal": True}
MENOPAUSAL = {"pre": "pre", "premenopausal": "pre", "peri": "peri", "perimenopausal": "peri",
              "post": "post", "postmenopausal": "post"}
# Treatment settings, and the setting the evaluator gives each (`PriorTherapy.setting`:
# "adjuvant" for curative-intent treatment, around surgery or definitive chemoradiation,
# "advanced" for treatment of advanced disease; ESMO/ASCO line numbering counts only the
# latter). None leaves the setting to the evaluator: induction and consolidation are the
# first line in leukaemia but curative-intent courses in solid tumours.
TREATMENT_SETTINGS = {
    "adjuvant": "adjuvant", "neoadjuvant": "adjuvant", "perioperative": "adjuvant",
    "definitive": "adjuvant",
    "metastatic": "advanced", "advanced": "advanced", "maintenance": "advanced",
    "palliative": "advanced", "salvage": "advanced", "relapsed": "advanced",
    "induction": None, "consolidation": None, "transplant": None,
}
RESPONSES = {
    "cr": "complete_response", "complete_response": "complete_response",
    "pr": "partial_response", "partial_response": "partial_response",
    "sd": "stable_disease", "stable_disease": "stable_disease",
    "pd": "progression", "progressive_disease": "progression", "progression": "progression",
    "unknown": "unknown",
}
BIOMARKER_FIELDS = frozenset({"marker", "alteration", "status", "value", "unit", "date"})
BIOMARKER_STATUSES = {"positive": "positive", "detected": "positive", "negative": "negative",
                      "not_detected": "negative", "wild_type": "negative",
                      "equivocal": "equivocal", "unknown": "unknown"}
BIOMARKER_UNITS = ("TPS", "CPS", "%", "mut/Mb", "IHC", "Allred", "ratio")
TREATMENT_FIELDS = frozenset({"drugs", "regimen", "setting", "start", "end", "response"})
# Site words -> the population condition of distant spread it names (nlp/conditions data).
SITE_CONDITIONS = {
    "liver": "liver metastases", "hepatic": "liver metastases",
    "bone": "bone metastases", "bones": "bone metastases", "osseous": "bone metastases",
    "skeletal": "bone metastases", "brain": "brain metastases",
    "peritoneum": "peritoneal metastases", "peritoneal": "peritoneal metastases",
}
_DATE = re_compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")


@dataclass
class StatedBiomarker:
    """A biomarker result the case file states, with the date of the test where given."""

    biomarker: Biomarker
    date: str | None = None

    def to_dict(self) -> dict[str, Any]:
        b = self.biomarker
        return {"marker": b.marker, "alteration": b.alteration, "status": b.status,
                "value": b.value, "unit": b.unit, "date": self.date}


@dataclass
class Treatment:
    """One regimen the case file states: its drugs or regimen name, setting, dates and
    best response. `entry` is how it reads as a prior-therapy entry."""

    text: str
    setting: str | None = None
    start: str | None = None
    end: str | None = None
    response: str | None = None

    @property
    def entry(self) -> str:
        """The prior-therapy entry: 'carboplatin + pemetrexed (metastatic)'."""
        return f"{self.text} ({self.setting.replace('_', ' ')})" if self.setting else self.text

    @property
    def evaluator_setting(self) -> str | None:
        """The setting as `PriorTherapy.setting` holds it."""
        return TREATMENT_SETTINGS.get(self.setting) if self.setting else None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class CaseStatements:
    """The disease facts the case file states; empty when it states none."""

    diagnosis: CancerType | None = None
    stage: Stage | None = None
    disease_status: tuple[str, ...] = ()
    metastatic_sites: tuple[str, ...] = ()
    brain_metastases: str | None = None
    biomarkers: list[StatedBiomarker] = field(default_factory=list)
    treatments: list[Treatment] | None = None
    menopausal: str | None = None
    labs: dict[str, tuple[float, str, str]] = field(default_factory=dict)

    @property
    def metastatic(self) -> bool | None:
        """Distant spread as stated: a metastatic status or a site of spread says yes; a
        locally advanced or resected status without either says no; else not stated."""
        if "metastatic" in self.disease_status or self.metastatic_sites:
            return True
        if {"locally_advanced", "resected"} & set(self.disease_status):
            return False
        return None

    @property
    def relapsed(self) -> bool | None:
        """Relapsed, recurrent or refractory now (True); newly diagnosed (False)."""
        if {"recurrent", "refractory"} & set(self.disease_status):
            return True
        if "newly_diagnosed" in self.disease_status:
            return False
        return None

    def to_dict(self) -> dict[str, Any]:
        """The profile's `from_case`: each stated field with its value, as read."""
        stated: dict[str, Any] = {}
        if self.diagnosis:
            stated["diagnosis"] = {"code": self.diagnosis.code, "name": self.diagnosis.name}
        if self.stage:
            stated["stage"] = {k: v for k, v in self.stage.to_dict().items()
                               if k in ("prefix", "t", "n", "m", "group", "figo") and v}
        if self.disease_status:
            stated["disease_status"] = list(self.disease_status)
        if self.metastatic_sites:
            stated["metastatic_sites"] = list(self.metastatic_sites)
        if self.brain_metastases:
            stated["brain_metastases"] = self.brain_metastases
        if self.biomarkers:
            stated["biomarkers"] = [b.to_dict() for b in self.biomarkers]
        if self.treatments is not None:
            stated["treatments"] = [t.to_dict() for t in self.treatments]
        if self.menopausal:
            stated["menopausal"] = self.menopausal
        if self.labs:
            stated["labs"] = {name: {"value": value, "unit": unit}
                              for name, (value, unit, _) in self.labs.items()}
        return stated


# --------------------------------------------------------------------------- reading


def read_statements(document: dict[str, Any], path: Path) -> CaseStatements:
    """Validate the stated fields of a parsed case document (see the module docstring)."""
    return CaseStatements(
        diagnosis=_diagnosis(document.get("diagnosis"), path),
        stage=_stage(document.get("stage"), path),
        disease_status=_choices(document.get("disease_status"), "disease_status",
                                DISEASE_STATUSES, path),
        metastatic_sites=_sites(document.get("metastatic_sites"), path),
        brain_metastases=_one_of(document.get("brain_metastases"), "brain_metastases",
                                 {k: k for k in BRAIN_STATES}, path),
        biomarkers=_biomarkers(document.get("biomarkers"), path),
        treatments=_treatments(document.get("treatments"), path),
        menopausal=_one_of(document.get("menopausal"), "menopausal", MENOPAUSAL, path),
        labs=_labs(document.get("labs"), path),
    )


def _word(value: Any) -> str:
    """'Newly diagnosed' and 'newly-diagnosed' as 'newly_diagnosed'; YAML's yes/no stay."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return re.sub(r"[\s/-]+", "_", str(value).strip().lower())


def _allowed(choices: dict[str, Any]) -> str:
    return ", ".join(dict.fromkeys(choices))


def _one_of(value: Any, name: str, choices: dict[str, str], path: Path) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, dict)) or _word(value) not in choices:
        raise InputError(f"{path}: field '{name}' must be one of {_allowed(choices)}")
    return choices[_word(value)]


def _choices(value: Any, name: str, choices: dict[str, str], path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    values = value if isinstance(value, list) else [value]
    if not values or any(isinstance(v, (list, dict)) or _word(v) not in choices
                         for v in values):
        raise InputError(f"{path}: field '{name}' must be one or a list of "
                         f"{_allowed(choices)}")
    return tuple(dict.fromkeys(choices[_word(v)] for v in values))


def _text(value: Any, name: str, path: Path) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or \
            not str(value).strip():
        raise InputError(f"{path}: field '{name}' must be text")
    return str(value).strip()


def _diagnosis(value: Any, path: Path) -> CancerType | None:
    """An OncoTree code ('LUAD') or a cancer-type name the vocabulary knows."""
    if value is None:
        return None
    text = _text(value, "diagnosis", path)
    from trialmatch.nlp.vocab import get_vocabulary

    vocabulary = get_vocabulary()
    entry = vocabulary.entry(text.upper())
    if entry is not None:
        return CancerType(entry.code, entry.name, f"{STATED}: diagnosis {text}", 0, 0)
    whole = [m for m in vocabulary.find_cancer_types(text)
             if m.start == 0 and m.end >= len(text.rstrip(". "))]
    codes = sorted({code for m in whole for code in vocabulary.cancer_codes(m)})
    if len(codes) > 1:
        raise InputError(f"{path}: field 'diagnosis' names {len(codes)} cancer types",
                         hint="write the OncoTree code, e.g. diagnosis: LUAD")
    if not codes:
        raise InputError(f"{path}: field 'diagnosis' is not an OncoTree code or a cancer-type "
                         "name trialmatch knows",
                         hint="write the OncoTree code, e.g. diagnosis: LUAD")
    code = codes[0]
    return CancerType(code, vocabulary.name(code), f"{STATED}: diagnosis {text}", 0, 0)


def _stage(value: Any, path: Path) -> Stage | None:
    """A stage group ('IIIB', 'IV', 'FIGO IIIC1') and/or TNM ('pT2 N1 M0')."""
    if value is None:
        return None
    text = _text(value, "stage", path)
    from trialmatch.nlp.tnm import parse_tnm

    # A bare group ('IIB', 'IIB pT2 N1') is read as a note's "Stage IIB" is.
    written = text if re.match(r"(?i)(?:stage|figo|ajcc)\b", text) else f"Stage {text}"
    stage = parse_tnm(written)
    if stage is None or not (stage.group or stage.t or stage.n or stage.m or stage.figo):
        raise InputError(f"{path}: field 'stage' is not a stage group or TNM stage",
                         hint="e.g. stage: IIIB, stage: FIGO IIIC1 or stage: pT2 N1 M0")
    return dataclasses.replace(stage, evidence=f"{STATED}: stage {text}")


def _sites(value: Any, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and re.fullmatch(r"[A-Za-z][\w\s/-]{0,40}",
                                                                  v.strip()) for v in values):
        raise InputError(f"{path}: field 'metastatic_sites' must be a list of words, "
                         "e.g. [liver, bone]")
    return tuple(dict.fromkeys(v.strip().lower() for v in values))


def _biomarkers(value: Any, path: Path) -> list[StatedBiomarker]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{path}: field 'biomarkers' must be a list")
    return [stated for number, entry in enumerate(value, start=1)
            for stated in _biomarker(entry, f"biomarkers entry {number}", path)]


def _biomarker(entry: Any, label: str, path: Path) -> list[StatedBiomarker]:
    """'EGFR exon 19 deletion positive' or 'ER/PR positive' (read as a note would be), or
    {marker, alteration, status, value, unit, date}."""
    from trialmatch.nlp.biomarkers import find_biomarkers

    if isinstance(entry, str):
        found = find_biomarkers(entry)
        if not found:
            raise InputError(f"{path}: {label} states no biomarker result",
                             hint="e.g. 'EGFR exon 19 deletion positive' or "
                                  "{marker: EGFR, status: negative}")
        return [StatedBiomarker(_as_stated(biomarker, entry)) for biomarker in found]
    if not isinstance(entry, dict):
        raise InputError(f"{path}: {label} must be text or a mapping")
    unknown = [key for key in entry if key not in BIOMARKER_FIELDS]
    if unknown:
        raise InputError(unknown_fields_message(path, label, list(entry), BIOMARKER_FIELDS))
    marker = _text(entry.get("marker"), f"{label}.marker", path) if entry.get("marker") \
        is not None else None
    if marker is None or entry.get("status") is None:
        raise InputError(f"{path}: {label} needs 'marker' and 'status'")
    if isinstance(entry["status"], (list, dict)) or \
            _word(entry["status"]) not in BIOMARKER_STATUSES:
        raise InputError(f"{path}: {label}.status must be one of "
                         f"{_allowed(BIOMARKER_STATUSES)}")
    status = BIOMARKER_STATUSES[_word(entry["status"])]
    alteration = entry.get("alteration")
    if alteration is not None:
        alteration = _text(alteration, f"{label}.alteration", path)
    # The marker (and alteration) read as a note would be: 'ERBB2' is HER2, 'exon 19 del'
    # is 'exon 19 deletion'.
    read = find_biomarkers(" ".join(filter(None, (marker, alteration, "positive"))))
    if len(read) != 1:
        raise InputError(f"{path}: {label}.marker is not a biomarker trialmatch knows",
                         hint="use the HGNC symbol or ER, PR, HER2, PD-L1, Ki-67, MSI, MMR, "
                              "TMB, p16, HPV")
    number = entry.get("value")
    if number is not None and (isinstance(number, bool) or not isinstance(number, (int, float))):
        raise InputError(f"{path}: {label}.value must be a number")
    unit = entry.get("unit")
    if unit is not None and str(unit).strip() not in BIOMARKER_UNITS:
        raise InputError(f"{path}: {label}.unit must be one of {', '.join(BIOMARKER_UNITS)}")
    words = " ".join(str(part) for part in (marker, alteration, number, unit, status)
                     if part is not None)
    biomarker = Biomarker(read[0].marker, read[0].alteration or alteration, status,
                          float(number) if number is not None else None,
                          str(unit).strip() if unit is not None else None)
    return [StatedBiomarker(_as_stated(biomarker, words),
                            _date(entry.get("date"), f"{label}.date", path))]


def _as_stated(biomarker: Biomarker, words: str) -> Biomarker:
    return dataclasses.replace(biomarker, evidence=f"{STATED}: {words}", start=0, end=0)


def _date(value: Any, name: str, path: Path) -> str | None:
    if value is None:
        return None
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()[:10]
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        raise InputError(f"{path}: field '{name}' must be a date: YYYY-MM-DD, YYYY-MM or YYYY")
    return value.strip()


def _treatments(value: Any, path: Path) -> list[Treatment] | None:
    if value is None:
        return None  # not said: unknown, unlike [] which says "none"
    if not isinstance(value, list):
        raise InputError(f"{path}: field 'treatments' must be a list")
    return [_treatment(entry, f"treatments entry {number}", path)
            for number, entry in enumerate(value, start=1)]


def _treatment(entry: Any, label: str, path: Path) -> Treatment:
    if not isinstance(entry, dict):
        raise InputError(f"{path}: {label} must be a mapping: {{drugs, setting, start, end, "
                         "response}")
    unknown = [key for key in entry if key not in TREATMENT_FIELDS]
    if unknown:
        raise InputError(unknown_fields_message(path, label, list(entry), TREATMENT_FIELDS))
    drugs = entry.get("drugs")
    if isinstance(drugs, str):
        drugs = [drugs]
    if drugs is not None and (not isinstance(drugs, list) or not drugs or not all(
            isinstance(d, str) and d.strip() for d in drugs)):
        raise InputError(f"{path}: {label}.drugs must be a list of drug names")
    regimen = _text(entry["regimen"], f"{label}.regimen", path) \
        if entry.get("regimen") is not None else None
    if not drugs and not regimen:
        raise InputError(f"{path}: {label} needs 'drugs' or 'regimen'")
    named = " + ".join(d.strip() for d in drugs or [])
    text = f"{regimen} ({named})" if regimen and named else regimen or named
    setting = _one_of(entry.get("setting"), f"{label}.setting",
                      {k: k for k in TREATMENT_SETTINGS}, path)
    response = _one_of(entry.get("response"), f"{label}.response", RESPONSES, path)
    return Treatment(text, setting, _date(entry.get("start"), f"{label}.start", path),
                     _date(entry.get("end"), f"{label}.end", path), response)


def _labs(value: Any, path: Path) -> dict[str, tuple[float, str, str]]:
    """{name: "value unit"}, read with the notes' lab reader (units converted as there)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not value:
        raise InputError(f"{path}: field 'labs' must be a mapping such as "
                         "{platelets: \"85 x10^9/L\"}")
    from trialmatch.nlp.clinical import find_clinical_facts

    labs: dict[str, tuple[float, str, str]] = {}
    for number, (name, amount) in enumerate(value.items(), start=1):
        label = (f"labs.{name}" if isinstance(name, str) and FIELD_NAME.match(name)
                 else f"labs entry {number}")
        if isinstance(amount, bool) or not isinstance(amount, (str, int, float)):
            raise InputError(f"{path}: field '{label}' must be a value with its unit")
        words = f"{name} {amount}"
        read = find_clinical_facts(f"{words}.").labs
        if len(read) != 1:
            raise InputError(f"{path}: field '{label}' is not a lab value trialmatch reads",
                             hint="ANC, platelets, WBC, hemoglobin, creatinine, bilirubin or "
                                  "CrCl, with a unit: platelets: \"85 x10^9/L\"")
        measure, (number_read, unit, _) = next(iter(read.items()))
        labs[measure] = (number_read, unit, f"{STATED}: {words}")
    return labs


# --------------------------------------------------------------------------- unknown keys

# A key is shown only when it looks like a field name: a note pasted into YAML without
# indentation turns its lines into keys, and those are text of the case (issue 17).
FIELD_NAME = re_compile(r"^[a-z_]{2,30}$")


def unknown_fields_message(path: Path, where: str, keys: list[Any],
                           allowed: frozenset[str]) -> str:
    """One line naming every unknown key of `keys` (by name when it looks like a field name,
    else by position) with the closest allowed field for each."""
    import difflib

    parts: list[str] = []
    hidden: list[int] = []  # shown by position, with no field close: one part for them all
    for position, key in enumerate(keys, start=1):
        if key in allowed:
            continue
        text = str(key)
        visible = isinstance(key, str) and FIELD_NAME.match(text) is not None
        near = difflib.get_close_matches(text.lower(), sorted(allowed), n=1, cutoff=0.5)
        closest = f"did you mean '{near[0]}'?" if near else "no field is close"
        if visible:
            parts.append(f"'{text}' ({closest})")
        elif near:
            parts.append(f"key {position} (not shown: it may be note text; {closest})")
        else:
            hidden.append(position)
    if hidden:
        # A note pasted without indentation makes many such keys (its lines).
        parts.append(f"key{'s' if len(hidden) > 1 else ''} "
                     f"{', '.join(map(str, hidden))} (not shown: "
                     f"{'they' if len(hidden) > 1 else 'it'} may be note text; no field is "
                     "close)")
    count = len([key for key in keys if key not in allowed])
    return (f"{path}: {count} unknown field{'s' if count > 1 else ''} in {where}: "
            + ", ".join(parts))


# --------------------------------------------------------------------------- applying


def apply_to_profile(profile: Profile, stated: CaseStatements, ontology: Any) -> Profile:
    """The notes' profile with the stated diagnosis, stage and biomarkers in place: a stated
    diagnosis replaces the cancer type (and the histology and site read for another type), a
    stated stage replaces the stage, and stated biomarkers replace the notes' results for the
    same marker (the others stay)."""
    changes: dict[str, Any] = {}
    if stated.diagnosis is not None:
        changes["cancer_type"] = stated.diagnosis
        read = profile.cancer_type.code if profile.cancer_type else None
        code = stated.diagnosis.code
        if read is None or not (ontology.is_a(code, read) or ontology.is_a(read, code)):
            changes.update(histology=None, primary_site=None)
    if stated.stage is not None:
        changes.update(stage=stated.stage, stage_at_diagnosis=None)
    if stated.biomarkers:
        markers = {b.biomarker.marker for b in stated.biomarkers}
        changes["biomarkers"] = [b for b in profile.biomarkers if b.marker not in markers] + \
            [b.biomarker for b in stated.biomarkers]
    return dataclasses.replace(profile, **changes) if changes else profile
