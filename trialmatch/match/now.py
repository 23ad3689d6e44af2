"""The patient as they are now, as the matcher reads them: the profile's `now` section.

Every value here comes from the `Patient` the evaluator judges trials with, through the
same functions its checks call (`Patient.extent`, `lines_now`, `brain_metastases_now`,
`in_adjuvant_setting`, the population conditions for sites of spread and castration
status), so what the profile shows is what decided the verdicts. A few facts no criterion
reads yet (platinum and menopausal status, the state of brain metastases, remission of a
blood cancer, where a recurrence is, progression on a regimen) come from the readers in
`trialmatch.nlp.course`. Each value carries the words that show it; "unknown" when neither
the notes nor the case file say, "not applicable" when the question does not arise (heme
status of a solid tumour, castration status outside prostate cancer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from trialmatch.match.case import Case
from trialmatch.match.evaluate import (
    Patient,
    PriorTherapy,
    brain_metastases_now,
    in_adjuvant_setting,
    is_heme,
    lines_now,
)
from trialmatch.match.stated import STATED
from trialmatch.nlp import course
from trialmatch.nlp.conditions import distant_metastasis_sites

UNKNOWN = "unknown"
NOT_APPLICABLE = "not applicable"
# The profile's word for a site of spread whose condition name is not "<site> metastases".
_SITE_WORD = {"peritoneal metastases": "peritoneum"}
# PriorTherapy.setting in words: curative intent is (neo)adjuvant, perioperative or
# definitive treatment (ESMO/ASCO: not a line for advanced disease).
SETTING_WORDS = {"adjuvant": "curative intent", "advanced": "advanced", None: UNKNOWN}
# Labs read from notes, each with its unit (trialmatch.nlp.clinical); AST, ALT and LVEF
# are not read yet.
LABS_READ = ("ANC", "platelets", "WBC", "hemoglobin", "creatinine", "bilirubin", "CrCl")
# NCCN Breast Cancer guidelines, "Definition of menopause": 60 years or older.
POSTMENOPAUSAL_AGE = 60


@dataclass(frozen=True)
class Fact:
    """One value about the patient now, with the words that show it."""

    value: Any
    evidence: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return self.value not in (UNKNOWN, NOT_APPLICABLE)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, **self.extra, "evidence": self.evidence}


@dataclass(frozen=True)
class TreatmentNow:
    """One regimen of the history as the matcher counts it."""

    text: str
    drugs: tuple[str, ...]
    classes: tuple[str, ...]
    setting: str  # curative intent | advanced | unknown
    systemic: bool
    progressed: str  # yes | unknown
    evidence: str = ""
    line: int | None = None  # the line for advanced disease the notes number it

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "drugs": list(self.drugs), "classes": list(self.classes),
                "setting": self.setting, "line": self.line, "systemic": self.systemic,
                "progressed": self.progressed, "evidence": self.evidence}


@dataclass(frozen=True)
class PatientNow:
    """The `now` section of the profile (SPEC `match --json`, `profile.now`)."""

    extent_now: Fact
    recurrence: Fact
    metastatic_sites: Fact
    brain_metastases: Fact
    heme_status: Fact
    treatments: list[TreatmentNow] | None
    treatments_evidence: str
    advanced_lines: Fact
    treatment_naive: Fact
    platinum_status: Fact
    castration_status: Fact
    menopausal: Fact
    pregnant: Fact
    ecog: Fact
    karnofsky: Fact
    labs: dict[str, Fact]

    def to_dict(self) -> dict[str, Any]:
        facts = {name: getattr(self, name).to_dict() for name in (
            "extent_now", "recurrence", "metastatic_sites", "brain_metastases", "heme_status")}
        return {
            **facts,
            "treatments": {"value": (UNKNOWN if self.treatments is None else
                                     [t.to_dict() for t in self.treatments]),
                           "evidence": self.treatments_evidence},
            **{name: getattr(self, name).to_dict() for name in (
                "advanced_lines", "treatment_naive", "platinum_status", "castration_status",
                "menopausal", "pregnant", "ecog", "karnofsky")},
            "labs": {name: fact.to_dict() for name, fact in self.labs.items()},
        }


def patient_now(case: Case, patient: Patient) -> PatientNow:
    """What the matcher concludes about the patient now (see the module docstring)."""
    texts = case.note_texts
    treatments = _treatments(case, patient, texts)
    return PatientNow(
        extent_now=_extent_now(case, patient),
        recurrence=_recurrence(case, patient),
        metastatic_sites=_sites(patient),
        brain_metastases=_brain(case, patient, texts),
        heme_status=_heme_status(case, patient, texts),
        treatments=treatments,
        treatments_evidence=_prior_words(case),
        advanced_lines=_advanced_lines(case, patient),
        treatment_naive=_treatment_naive(case, patient),
        platinum_status=_platinum(patient, texts),
        castration_status=_castration(patient),
        menopausal=_menopausal(case, patient, texts),
        pregnant=_yes_no(patient.pregnant, case.from_notes.get("pregnancy", "")),
        ecog=(Fact(patient.ecog, _notes_or_case(case, "ecog", f"ECOG {patient.ecog}"))
              if patient.ecog is not None else Fact(UNKNOWN)),
        karnofsky=(Fact(case.karnofsky, f"notes: Karnofsky {case.karnofsky}")
                   if case.karnofsky is not None else Fact(UNKNOWN)),
        labs={name: Fact(value, _lab_words(case, name, words), {"unit": unit})
              for name, (value, unit, words) in patient.labs.items()},
    )


# --------------------------------------------------------------------------- the disease


def _notes_or_case(case: Case, name: str, value: str) -> str:
    if name in case.from_notes:
        return f"notes: {case.from_notes[name]}"
    if name in case.stated_evidence:
        return case.stated_evidence[name]
    return f"case: {value}"


def _stage_words(patient: Patient) -> str:
    stage = patient.stage_group or patient.stage_m
    return f"stage {stage}: {patient.stage_evidence}" if stage else ""


def _spread_words(case: Case, patient: Patient) -> str:
    if case.stated_evidence.get("metastatic"):
        return case.stated_evidence["metastatic"]
    if case.from_notes.get("metastatic"):
        return f"notes: {case.from_notes['metastatic']}"
    return _stage_words(patient)


def _extent_now(case: Case, patient: Patient) -> Fact:
    extent = patient.extent
    if extent["metastatic"]:
        return Fact("metastatic", _spread_words(case, patient))
    if in_adjuvant_setting(patient):
        return Fact("NED", f"resected, no recurrence or distant spread stated since; "
                           f"{_stage_words(patient)}")
    if extent["locally_advanced"]:
        return Fact("locally advanced", _stage_words(patient))
    if extent["early_stage"]:
        return Fact("localized", _stage_words(patient))
    if extent["metastatic"] is False:
        return Fact(UNKNOWN, f"no distant spread ({_spread_words(case, patient)}); local "
                             "extent not stated")
    return Fact(UNKNOWN)


def _relapse_words(patient: Patient) -> str:
    words = patient.relapse_noted or ""
    return words if words.startswith(STATED) else f"notes: {words}" if words else ""


def _recurrence(case: Case, patient: Patient) -> Fact:
    if is_heme(patient):
        return Fact(NOT_APPLICABLE, "a blood cancer: see heme_status")
    extent = patient.extent
    if extent["recurrent"] is False:
        why = ("newly diagnosed" if patient.newly_diagnosed else
               "no prior treatment" if patient.prior_regimens == [] else "")
        return Fact("none", why)
    if not extent["recurrent"]:
        return Fact(UNKNOWN)
    words = _relapse_words(patient)
    if extent["metastatic"]:
        spread = _spread_words(case, patient)
        return Fact("distant", words if spread.startswith(STATED) and words else
                    f"{words}; {spread}".strip("; "))
    site = course.recurrence_site(patient.relapse_noted or "")
    if site:
        return Fact(site, words)
    if extent["metastatic"] is False:
        return Fact("local or regional", words)
    return Fact(UNKNOWN, f"recurrent, site not stated: {words}")


@lru_cache(maxsize=1)
def site_words() -> dict[str, str]:
    """Sites of distant spread the matcher reads (the population conditions marked
    distant_metastasis), in the words of the profile: "liver metastases" -> "liver"."""
    return {name: _SITE_WORD.get(name, name.removesuffix(" metastases"))
            for name in sorted(distant_metastasis_sites())}


def _sites(patient: Patient) -> Fact:
    sites = site_words()
    present = {sites[name]: words for name, (has, words) in patient.conditions.items()
               if name in sites and has}
    absent = sorted(sites[name] for name, (has, _) in patient.conditions.items()
                    if name in sites and not has)
    evidence = "; ".join(f"{site}: {words}" for site, words in present.items())
    if present:
        return Fact(sorted(present), evidence, {"absent": absent})
    if patient.extent["metastatic"] is False:
        return Fact([], "no distant spread", {"absent": absent})
    return Fact(UNKNOWN, "", {"absent": absent})


def _brain(case: Case, patient: Patient, texts: list[str]) -> Fact:
    present, why, evidence = brain_metastases_now(patient)
    if present is None:
        return Fact(UNKNOWN)
    evidence = case.stated_evidence.get("brain_metastases") or evidence
    if not present:
        return Fact("none", evidence if evidence.strip() not in ("", "notes:") else why)
    stated = case.stated.brain_metastases
    if stated in ("treated", "untreated", "leptomeningeal"):
        return Fact(stated, evidence)
    state = course.brain_metastasis_state(texts, case.from_notes.get("brain_metastases", ""))
    if state is not None:
        return Fact(state[0], f"notes: {state[1]}")
    return Fact("present", evidence)


def _heme_status(case: Case, patient: Patient, texts: list[str]) -> Fact:
    if not patient.cancer_code:
        return Fact(UNKNOWN)
    if not is_heme(patient):
        return Fact(NOT_APPLICABLE, "a solid tumour")
    stated = set(case.stated.disease_status)
    for status, value in (("in_remission", "remission"), ("refractory", "refractory"),
                          ("recurrent", "relapsed"), ("newly_diagnosed", "newly diagnosed")):
        if status in stated:
            return Fact(value, f"{STATED}: disease_status {status}")
    remission = course.states_remission(texts)
    relapse = patient.relapse_noted
    if relapse and not remission:
        refractory = "refractory" in relapse.lower() and "relaps" not in relapse.lower()
        return Fact("refractory" if refractory else "relapsed", _relapse_words(patient))
    if remission:
        return Fact("remission", f"notes: {remission}")
    if patient.extent["recurrent"] is False:
        return Fact("newly diagnosed", "newly diagnosed" if patient.newly_diagnosed else
                    "no prior treatment")
    return Fact(UNKNOWN)


# --------------------------------------------------------------------------- treatment


def _prior_words(case: Case) -> str:
    if "prior_therapies" in case.stated_evidence:
        return case.stated_evidence["prior_therapies"]
    if "prior_therapies" in case.from_notes:
        return f"notes: {case.from_notes['prior_therapies']}"
    return "case: prior_therapies" if case.prior_therapies is not None else ""


def _treatments(case: Case, patient: Patient, texts: list[str]) -> list[TreatmentNow] | None:
    if patient.prior_regimens is None:
        return None
    responses = {t.entry: t.response for t in case.stated.treatments or []}
    return [_treatment(regimen, responses.get(regimen.text), texts)
            for regimen in patient.prior_regimens]


def _treatment(regimen: PriorTherapy, response: str | None, texts: list[str]) -> TreatmentNow:
    if response == "progression":
        progressed, words = "yes", f"{STATED}: response progression"
    else:
        found = course.progressed_on(regimen.drugs, texts)
        progressed, words = ("yes", f"notes: {found}") if found else (UNKNOWN, "")
    return TreatmentNow(regimen.text, tuple(sorted(regimen.drugs)),
                        tuple(sorted(regimen.classes)), SETTING_WORDS[regimen.setting],
                        regimen.systemic, progressed, words, regimen.line)


def _advanced_lines(case: Case, patient: Patient) -> Fact:
    lines, inferred = lines_now(patient)
    if lines is None:
        return Fact(UNKNOWN)
    fewest, most = lines
    evidence = _relapse_words(patient) if inferred else _prior_words(case)
    extra = {"fewest": fewest, "most": most}
    if inferred or most >= fewest + 10:
        return Fact(f"at least {fewest}", evidence, extra)
    return Fact(fewest if fewest == most else f"{fewest}-{most}", evidence, extra)


def _treatment_naive(case: Case, patient: Patient) -> Fact:
    regimens = patient.prior_regimens
    if regimens is not None and any(r.systemic for r in regimens):
        return Fact("no", _prior_words(case))
    if regimens is not None and patient.prior_complete:
        return Fact("yes", _prior_words(case))
    if lines_now(patient)[1]:
        return Fact("no", _relapse_words(patient))
    return Fact(UNKNOWN)


def _platinum(patient: Patient, texts: list[str]) -> Fact:
    found = course.find_platinum_status(texts)
    if found:
        return Fact(found[0], f"notes: {found[1]}")
    classes = patient.prior_classes
    if classes is not None and "platinum" not in classes and patient.prior_complete:
        return Fact(NOT_APPLICABLE, "no platinum in the history")
    return Fact(UNKNOWN)


def _castration(patient: Patient) -> Fact:
    code = patient.cancer_code
    if patient.sex == "female" or (code and not patient.ontology.is_a(code, "PROSTATE")):
        return Fact(NOT_APPLICABLE)
    for name, value in (("castration-resistant prostate cancer", "resistant"),
                        ("castration-sensitive prostate cancer", "sensitive")):
        has, words = patient.conditions.get(name, (False, ""))
        if has:
            return Fact(value, f"notes: {words}")
    return Fact(UNKNOWN)


# --------------------------------------------------------------------------- the person


def _menopausal(case: Case, patient: Patient, texts: list[str]) -> Fact:
    if case.stated.menopausal:
        return Fact(case.stated.menopausal, f"{STATED}: menopausal {case.stated.menopausal}")
    if patient.sex == "male":
        return Fact(NOT_APPLICABLE)
    found = course.find_menopausal_status(texts)
    if found:
        return Fact(found[0], f"notes: {found[1]}")
    if patient.sex == "female" and patient.age is not None and \
            patient.age >= POSTMENOPAUSAL_AGE:
        return Fact("post", f"age {patient.age:g} (NCCN: {POSTMENOPAUSAL_AGE} or older)")
    return Fact(UNKNOWN)


def _yes_no(value: bool | None, words: str) -> Fact:
    if value is None:
        return Fact(UNKNOWN)
    return Fact("yes" if value else "no", f"notes: {words}" if words else "")


def _lab_words(case: Case, name: str, words: str) -> str:
    if name in case.stated.labs:
        return f"{STATED}: labs {name}"
    return f"notes: {words}"
