"""Rank the trials a patient may join, with a score whose parts are shown.

    score = sum(weight * part) / sum(weights of the parts that apply)
    order: trials whose population needs a finding the notes never report last, treatment
    trials first, then `eligible` before `possibly_eligible`, then by score (`rank_key`)

Parts, each from 0 to 1, in the order they weigh (fit first: an oncologist looks for the
trial written for this patient before one that merely admits them):
- `specificity`: how closely the trial targets this patient. A trial that requires the
  patient's own biomarker (1.0) ranks above one for the patient's exact subtype (0.8), which
  ranks above one that accepts the cancer type (0.6), a trial for a narrower subtype than the
  notes establish (0.4) and a broad basket ("solid tumours", any cancer: 0.2). A trial whose
  population needs a finding the notes never report (a required alteration never tested,
  HIV infection, brain metastases) keeps a third of it: it is for someone else unless a test
  or a look says otherwise.
- `certainty`: 1 minus the share of criteria left unknown, counting an unknown that matters
  (disease, biomarker, treatment history) fully and a routine screening unknown (labs,
  performance status, free text) a quarter.
- `status`: recruiting now (1.0) above not yet recruiting (0.7) and enrolling by invitation
  (0.4); a tie-breaker, as is
- `location`: only when the case gives a location: a site in the patient's state (1.0), in
  the country (0.6), none listed (0.3), only elsewhere (0.0).
The record's primary purpose is shown (`purpose`): studies whose purpose is not treatment
(supportive care, diagnosis, screening, prevention, health services, basic science) come
after the treatment trials, whatever their score. Within each, a trial whose every
population-defining requirement is met (`eligible`) ranks above one where such a requirement
is unknown (`possibly_eligible`), whatever their scores: an oncologist reads the trials the
patient is known to fit before those that need a fact checked first. On the judged
development cases, 56% of eligible treatment trials returned were judged right for the
patient against 29% of possibly eligible ones (bench/accuracy.py).

A trial whose population needs a finding the notes never report (an alteration never
tested, chylous ascites, HIV infection, anxiety: `unreported_population`) comes after all
of these, treatment or not: it is for someone else unless a test or a question says
otherwise, and the testing gaps already name the test. On the judged development cases,
16 of 91 such trials in the top 10 were right for the patient (42 of the 49 with a
condition or infection unmentioned were not); ranking them last raised precision@10 from
49.5% to 53.4% and recall@10 from 45.3% to 47.4%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trialmatch.match.evaluate import Patient, TrialVerdict
from trialmatch.models import Trial
from trialmatch.nlp.conditions import is_grade_bound

WEIGHTS = {"specificity": 0.55, "certainty": 0.30, "status": 0.08, "location": 0.07}
STATUS_PART = {"RECRUITING": 1.0, "NOT_YET_RECRUITING": 0.7, "ENROLLING_BY_INVITATION": 0.4}
SPECIFICITY = {"biomarker": 1.0, "subtype": 0.8, "cancer_type": 0.6, "narrower": 0.4,
               "basket": 0.2, "none": 0.0}
ROUTINE_UNKNOWN_WEIGHT = 0.25
# The share of specificity kept by a trial whose population needs an unreported finding.
UNREPORTED_POPULATION_FACTOR = 1 / 3
# Requirement kinds that, required in an inclusion and unknown, name a population the notes
# give no sign of: a tested-for alteration, an infection, brain metastases.
POPULATION_KINDS = frozenset({"biomarker", "infection", "cns_metastases", "condition"})
# ClinicalTrials.gov primaryPurpose values that are treatment (a missing one counts too).
TREATMENT_PURPOSES = frozenset({"TREATMENT"})

# Spellings of the same country in case files and ClinicalTrials.gov records.
_COUNTRY_ALIASES = {
    "us": "united states", "usa": "united states", "u.s.": "united states",
    "u.s.a.": "united states", "united states of america": "united states",
    "uk": "united kingdom", "great britain": "united kingdom", "england": "united kingdom",
    "korea": "korea, republic of", "south korea": "korea, republic of",
}


@dataclass
class Score:
    """A trial's score and the parts it is made of (`basis` says why specificity is what
    it is)."""

    total: float
    parts: dict[str, float | None]
    basis: str
    # What the trial's population needs that the notes never report (see
    # `unreported_population`): such a trial ranks after every other (`rank_key`).
    needs: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "parts": dict(self.parts), "basis": self.basis}


def specificity(trial: Trial, verdict: TrialVerdict, patient: Patient,
                missing: list[str] | None = None) -> tuple[float, str]:
    """How closely the trial targets the patient, and a few words saying why; a third of it
    when the trial's population needs a finding the notes never report (`missing`, the
    reasons `unreported_population` gives, when the caller has them already)."""
    level, basis = _target_level(trial, verdict, patient)
    if missing is None:
        missing = unreported_population(verdict)
    if missing:
        return round(level * UNREPORTED_POPULATION_FACTOR, 3), \
            f"{basis}; needs what the notes do not report: {missing[0]}"
    return level, basis


def unreported_population(verdict: TrialVerdict) -> list[str]:
    """Why the trial's population may not include the patient: the reasons of the inclusion
    requirements that name a finding (an alteration, an infection, brain metastases) the
    notes never report, such as "TP53 R175H not tested"."""
    return [r.reason for c in verdict.deciding if c.kind == "inclusion" and
            c.result == "unknown" for r in c.requirements
            if r.truth is None and r.kind in POPULATION_KINDS and not r.params.get("negated")
            and _names_a_finding(r)]


def _names_a_finding(requirement) -> bool:
    """A requirement for a present finding, not for its absence ("EGFR wild-type") nor a
    bound on a graded condition ("neuropathy grade 0 or 1")."""
    if is_grade_bound(requirement.params or {}):
        return False
    if requirement.kind != "biomarker":
        return True
    items = [item for item in requirement.params.get("any_of") or [] if isinstance(item, dict)]
    return any(_targets(item) for item in items)


def is_treatment(trial: Trial) -> bool:
    """Is the study a treatment study (a record without a purpose counts as one)?"""
    return trial.primary_purpose is None or trial.primary_purpose in TREATMENT_PURPOSES


def rank_key(trial: Trial, score: Score, verdict: str) -> tuple[bool, bool, bool, float]:
    """Sort key: trials whose population needs a finding the notes never report last, then
    treatment studies first, then eligible before possibly eligible, then the higher
    score."""
    return (bool(score.needs), not is_treatment(trial), verdict != "eligible", -score.total)


def _target_level(trial: Trial, verdict: TrialVerdict, patient: Patient) -> tuple[float, str]:
    for req in verdict.met_requirements():
        if req.kind == "biomarker" and any(
            _targets(item) for item in req.params.get("any_of") or [] if isinstance(item, dict)
        ):
            return SPECIFICITY["biomarker"], f"requires the patient's biomarker: {req.reason}"
    code = patient.cancer_code
    if code is None:
        return SPECIFICITY["none"], "no cancer type documented"
    onto = patient.ontology
    trial_codes = [c for c in trial.oncotree_codes if not c.startswith("_")]
    for req in verdict.met_requirements():
        if req.kind == "cancer_type" and code in (req.params.get("codes") or []):
            trial_codes.append(code)
    if code in trial_codes:
        return SPECIFICITY["subtype"], f"for the patient's exact cancer type ({code})"
    broader = [c for c in trial_codes if onto.is_a(code, c)]
    if broader:
        return SPECIFICITY["cancer_type"], f"accepts the cancer type ({', '.join(broader)})"
    narrower = [c for c in trial_codes if onto.is_a(c, code)]
    if narrower:
        return SPECIFICITY["narrower"], f"for a narrower subtype ({', '.join(narrower)})"
    baskets = [c for c in trial.oncotree_codes if c.startswith("_")]
    if baskets:
        kinds = ", ".join(b.strip("_").lower() for b in baskets)
        return SPECIFICITY["basket"], f"basket trial ({kinds})"
    return SPECIFICITY["none"], "cancer type not among the trial's conditions"


# Markers reported for nearly everyone: only a threshold makes them a selection ("PD-L1 TPS
# >= 50%" selects, "PD-L1 result available, any level" does not).
_EXPRESSION_MARKERS = frozenset({"PD-L1", "KI-67"})


def _targets(item: dict) -> bool:
    """Does a biomarker requirement select patients by a finding (not its absence)?"""
    if (item.get("status") or "positive") == "negative":
        return False
    if str(item.get("marker") or "").upper() in _EXPRESSION_MARKERS:
        return bool(item.get("min_value"))
    return True


def certainty(verdict: TrialVerdict) -> float:
    """1 minus the weighted share of unknown criteria among those that count."""
    counted = verdict.deciding
    if not counted:
        return 1.0
    material = len(verdict.material_unknowns)
    routine = len(verdict.unknowns) - material
    return max(0.0, 1.0 - (material + ROUTINE_UNKNOWN_WEIGHT * routine) / len(counted))


def location_part(trial: Trial, location: dict[str, str] | None) -> float | None:
    """Site nearness from the case location; None when the case gives none."""
    if not location or not location.get("country"):
        return None
    if not trial.locations:
        return 0.3
    country = _country(location["country"])
    state = (location.get("state") or "").strip().lower()
    in_country = [loc for loc in trial.locations if _country(loc.country or "") == country]
    if state and any((loc.state or "").strip().lower() == state for loc in in_country):
        return 1.0
    return 0.6 if in_country else 0.0


def _country(name: str) -> str:
    name = name.strip().lower()
    return _COUNTRY_ALIASES.get(name, name)


def score_trial(trial: Trial, verdict: TrialVerdict, patient: Patient,
                location: dict[str, str] | None = None) -> Score:
    """Combine the parts into one score (rounded to 3 places) and keep the parts."""
    needs = unreported_population(verdict)
    spec, basis = specificity(trial, verdict, patient, needs)
    parts: dict[str, float | None] = {
        "specificity": spec,
        "certainty": round(certainty(verdict), 3),
        "status": STATUS_PART.get((trial.status or "").upper(), 0.1),
        "location": location_part(trial, location),
    }
    applied = {name: value for name, value in parts.items() if value is not None}
    weight = sum(WEIGHTS[name] for name in applied)
    total = sum(WEIGHTS[name] * value for name, value in applied.items()) / weight
    return Score(round(total, 3), parts, basis, tuple(needs))
