"""Match one case against the trial store: the `trialmatch match` pipeline.

    case -> profile (extractor) -> candidate trials (one store query) -> verdicts and scores
         -> ranked trials, excluded trials, protocols, testing gaps, discrepancies

`match_case` does the I/O (extraction, the store); `plan_match` is the pure part that turns a
profile and candidate trials into a `MatchResult`; rendering is elsewhere (the CLI and
`trialmatch.match.report`). `MatchResult.to_dict()` is the SPEC's `match --json` document.

Which ruled-out trials are listed in `excluded` (SPEC: "the relevant trials ruled out (same
cancer, a failing criterion)"):
- a trial for the patient's cancer: its OncoTree codes meet the patient's cancer family (the
  code, its ancestors and descendants, and siblings below the tissue level; see
  `cancer_family`), whatever criterion rules it out;
- a basket trial (reached only through "_SOLID", "_ANY" or "_HEME") when a failing criterion
  decides a biomarker against the patient, which happens only for a marker the notes report
  a result for ("KRAS G12C required", the patient has KRAS G12D): that tells the reader why a
  biomarker-directed trial is not theirs.
Every other basket trial that fails a criterion (another tumour type, a stage or a prior
therapy of a basket's own) is left out: for a lung case that is ~150 entries that say
nothing about this patient's disease.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from trialmatch.config import OPEN_STATUSES
from trialmatch.errors import InputError
from trialmatch.ingest.store import gc_paused
from trialmatch.match.case import Case
from trialmatch.match.evaluate import (
    ALWAYS_UNKNOWN_KINDS,
    Patient,
    TherapyReader,
    TrialVerdict,
    build_patient,
    evaluate_trial,
    in_adjuvant_setting,
    screen_trial,
)
from trialmatch.match.filters import TrialFilters
from trialmatch.match.geo import CITY_LEVEL_NOTE, Place, SiteDistance, nearest_site_of
from trialmatch.match.now import PatientNow, patient_now
from trialmatch.match.restage import restage
from trialmatch.match.score import Score, rank_key, score_trial
from trialmatch.match.stated import BRAIN_STATES, SITE_CONDITIONS, STATED, apply_to_profile
from trialmatch.models import Profile, Trial
from trialmatch.nlp.conditions import (
    condition_grades,
    conditions_in_notes,
    distant_metastasis_sites,
    profile_facts,
)
from trialmatch.nlp.ngs import comprehensive_panel, germline_test
from trialmatch.nlp.stage_groups import group_from_tnm
from trialmatch.regex_cache import re_compile

DISCLAIMER = (
    "Decision support for clinicians, not a treatment recommendation: every eligibility "
    "verdict, protocol and testing gap must be checked against the full record and the "
    "trial's current protocol by the treating team."
)
BASKETS = ("_ANY", "_SOLID", "_HEME")

Extractor = Callable[[list[str]], Profile]


@dataclass
class TrialMatch:
    """A trial the patient may join: its verdict, score and whether the first opinion named it."""

    trial: Trial
    verdict: TrialVerdict
    score: Score
    missed: bool
    nearest_site: SiteDistance | None = None  # the closest recruiting site, with a place
    contact: dict[str, str] | None = None  # from the record: central contact or official

    @property
    def distance_key(self) -> float:
        """The nearest recruiting site's distance, for breaking ties (none: last)."""
        return self.nearest_site.distance_km if self.nearest_site else float("inf")

    def to_dict(self) -> dict[str, Any]:
        """The SPEC's trial fields, then extras: score parts, cohort, key reasons, the
        nearest recruiting site, a contact and the record's address."""
        return {
            "nct_id": self.trial.nct_id,
            "title": self.trial.title,
            "status": self.trial.status,
            "phases": list(self.trial.phases),
            "score": self.score.total,
            "verdict": self.verdict.verdict,
            "missed": self.missed,
            "criteria": [c.to_dict() for c in self.verdict.criteria],
            "score_parts": self.score.parts,
            "score_basis": self.score.basis,
            "purpose": self.trial.primary_purpose,
            "cohort": self.verdict.cohort,
            "unknown_facts": [c.reason for c in self.verdict.material_unknowns],
            "nearest_site": self.nearest_site.to_dict() if self.nearest_site else None,
            "contact": self.contact,
            "url": trial_url(self.trial.nct_id),
        }


def trial_url(nct_id: str) -> str:
    """The trial's page on ClinicalTrials.gov."""
    return f"https://clinicaltrials.gov/study/{nct_id}"


@dataclass
class ExcludedTrial:
    """A relevant trial the patient cannot join, with the criteria that rule it out."""

    trial: Trial
    verdict: TrialVerdict
    same_cancer: bool  # False for a basket trial reached through "_SOLID"/"_ANY"/"_HEME"

    @property
    def reasons(self) -> list[str]:
        """One line per failing criterion: its words, then why it fails."""
        return [f"{c.text} — {c.reason}" for c in self.verdict.failing]

    def to_dict(self) -> dict[str, Any]:
        return {
            "nct_id": self.trial.nct_id,
            "title": self.trial.title,
            "reasons": self.reasons,
            "status": self.trial.status,
            "url": trial_url(self.trial.nct_id),
            "same_cancer": self.same_cancer,
            "criteria": [{"kind": c.kind, "text": c.text, "reason": c.reason,
                          "evidence": c.evidence} for c in self.verdict.failing],
        }


@dataclass
class MatchResult:
    """Everything `trialmatch match` reports for one case."""

    case: Case
    profile: Profile
    trials: list[TrialMatch]
    excluded: list[ExcludedTrial]
    protocols: list[Any] = field(default_factory=list)
    testing_gaps: list[Any] = field(default_factory=list)
    discrepancies: list[Any] = field(default_factory=list)
    candidates: int = 0
    any_status: bool = False
    warnings: list[str] = field(default_factory=list)
    place: Place | None = None  # the patient's place, where the case gives one
    filters: TrialFilters = field(default_factory=TrialFilters)
    provenance: dict[str, Any] = field(default_factory=dict)
    # What the matcher concludes about the patient now (trialmatch.match.now).
    now: PatientNow | None = None

    def profile_dict(self) -> dict[str, Any]:
        """SPEC `profile`: age and sex, then the extract fields, then the other case facts."""
        case = self.case
        return {
            "age": _plain_number(case.age),
            "sex": case.sex,
            **self.profile.to_dict(),
            "ecog": case.ecog,
            "location": case.location,
            # Where distances are measured from (project addition), or null.
            "place": ({**self.place.to_dict(), "note": CITY_LEVEL_NOTE}
                      if self.place else None),
            "prior_therapies": case.prior_therapies,
            # Which facts the notes supplied, with their words (project addition).
            "from_notes": dict(case.from_notes),
            # Which values the case file stated, as read; they win over the notes (project
            # addition, issue 13).
            "from_case": case.stated.to_dict(),
            # The patient now as the matcher reads them, each value with its words
            # (project addition, issue 13).
            "now": self.now.to_dict() if self.now else None,
        }

    def to_dict(self) -> dict[str, Any]:
        """The SPEC's `match --json` document (its fields exactly, plus a few extras)."""
        return {
            "case_id": self.case.id,
            # Which version made this, when, and from which data (project addition).
            "trialmatch_version": self.provenance.get("trialmatch_version"),
            "generated_at": self.provenance.get("generated_at"),
            "data_timestamp": self.provenance.get("data_timestamp"),
            "data_timestamp_source": self.provenance.get("data_timestamp_source"),
            "store_fingerprint": self.provenance.get("store_fingerprint"),
            "filters": self.filters.describe(),
            "profile": self.profile_dict(),
            "trials": [t.to_dict() for t in self.trials],
            "excluded": [e.to_dict() for e in self.excluded],
            "protocols": [_as_dict(p) for p in self.protocols],
            "testing_gaps": [_as_dict(g) for g in self.testing_gaps],
            "discrepancies": [_as_dict(d) for d in self.discrepancies],
            "first_opinion": (self.case.first_opinion.to_dict()
                              if self.case.first_opinion else None),
            "candidates": self.candidates,
            "statuses": "any" if self.any_status else list(OPEN_STATUSES),
            "warnings": list(self.warnings),
            "disclaimer": DISCLAIMER,
        }


def _as_dict(item: Any) -> Any:
    return item.to_dict() if hasattr(item, "to_dict") else item


def _plain_number(value: float | None) -> float | int | None:
    return int(value) if value is not None and float(value).is_integer() else value


# --------------------------------------------------------------------------- planning


def cancer_family(code: str, ontology: Any) -> set[str]:
    """The OncoTree codes whose trials concern a patient with `code`: the code, its ancestors
    and descendants, and its siblings under a parent below the tissue level (an IDH-mutant
    astrocytoma patient should see why a glioblastoma trial is not for them)."""
    ancestors = list(ontology.ancestors(code))
    family = {code, *ancestors, *ontology.descendants(code)}
    if len(ancestors) > 1:  # the parent is not the tissue node (the chain's last)
        family |= set(ontology.descendants(ancestors[0]))
    members = getattr(ontology, "broader_members", lambda _: ())
    for broader in {b for below in (code, *ancestors) for b in members(below)}:
        # Filed beside a code whose population it belongs to (inflammatory breast cancer,
        # an invasive breast carcinoma): that code's trials concern the patient too.
        family |= {broader, *ontology.descendants(broader)}
    return family


def candidate_codes(code: str | None, ontology: Any) -> list[str]:
    """The trial codes that can concern a patient with `code`: the cancer family (see
    `cancer_family`) and the baskets it falls in. Empty without a cancer type."""
    if not code:
        return []
    codes = cancer_family(code, ontology) | {"_ANY"}
    codes.add("_HEME" if ontology.is_heme(code) else "_SOLID")
    return sorted(codes)


def ruled_out_by_biomarker(verdict: TrialVerdict) -> bool:
    """Does a failing criterion decide a biomarker against the patient? (An inclusion's
    biomarker statement false, an exclusion's true.) A biomarker is decided only from a
    result in the notes, so the trial names a marker the patient was tested for."""
    return any(r.kind == "biomarker" and r.truth is (c.kind == "exclusion")
               for c in verdict.failing for r in c.requirements)


def first_opinion_text(case: Case) -> str:
    """The first opinion's diagnosis, stage and biomarkers written as a short note, so the
    extractor reads them with the same vocabulary as the notes."""
    opinion = case.first_opinion
    if opinion is None:
        return ""
    lines = []
    if opinion.diagnosis:
        lines.append(f"DIAGNOSIS: {opinion.diagnosis}.")
    if opinion.stage:
        stage = opinion.stage
        lines.append(stage if "stage" in stage.lower() else f"Stage {stage}.")
    lines += [f"{marker}." for marker in opinion.biomarkers]
    return "\n".join(lines)


def case_patient(case: Case, profile: Profile, *, ontology: Any,
                 therapy_reader: TherapyReader | None = None) -> Patient:
    """The patient the evaluator sees: the case file's facts with the notes' profile.

    What the case file states wins: a stated relapsed, refractory or newly diagnosed status
    replaces what the notes' words say of it, and a stated treatment keeps its setting.
    """
    patient = build_patient(
        profile, ontology=ontology, age=case.age, sex=case.sex, ecog=case.ecog,
        prior_therapies=case.prior_therapies, therapy_reader=therapy_reader,
        note_texts=case.note_texts, metastatic=case.metastatic,
        brain_metastases=case.brain_metastases,
        # A history read from notes is complete only when they say there was none.
        prior_complete="prior_therapies" not in case.from_notes or not case.prior_therapies,
        from_notes=case.from_notes,
        labs=case.labs, infections=case.infections, pregnant=case.pregnant,
        past_cancers=case.past_cancers, no_other_cancer=case.no_other_cancer,
        conditions=_conditions(case),
    )
    patient.condition_grades = condition_grades(case.note_texts)
    patient.ngs_panel = comprehensive_panel(case.note_texts)
    stated = case.stated
    if stated.relapsed is not None:
        patient.relapse_noted = (f"{STATED}: disease_status "
                                 f"{', '.join(stated.disease_status)}"
                                 if stated.relapsed else None)
        patient.newly_diagnosed = not stated.relapsed
    if stated.treatments and patient.prior_regimens is not None:
        settings = {t.entry: t.evaluator_setting for t in stated.treatments
                    if t.evaluator_setting is not None}
        patient.prior_regimens = [
            dataclasses.replace(r, setting=settings[r.text]) if r.text in settings else r
            for r in patient.prior_regimens]
    return patient


def _conditions(case: Case) -> dict[str, tuple[bool, str]]:
    """The population conditions the notes speak of, with distant spread from the notes'
    reading of it: brain metastases as the profile reads them from imaging, and no site of
    distant spread where the notes say there is none (AJCC: M0). What the case file states
    (sites of spread, brain metastases, no distant spread) wins."""
    found = conditions_in_notes(case.note_texts)
    for name, fact in profile_facts().items():
        value = getattr(case, fact)
        if value is not None:
            found[name] = (value, case.from_notes.get(fact, ""))
    if case.metastatic is False:
        for site in distant_metastasis_sites():
            found.setdefault(site, (False, case.from_notes.get("metastatic") or
                                    case.stated_evidence.get("metastatic", "")))
    if case.stated.metastatic is False:
        for site in distant_metastasis_sites():
            found[site] = (False, case.stated_evidence.get("metastatic", STATED))
    for site in case.stated.metastatic_sites:
        condition = SITE_CONDITIONS.get(site)
        if condition in distant_metastasis_sites():
            found[condition] = (True, f"{STATED}: metastatic_sites {site}")
    if case.stated.brain_metastases:
        found["brain metastases"] = (BRAIN_STATES[case.stated.brain_metastases],
                                     case.stated_evidence.get("brain_metastases", STATED))
    return found


def plan_match(
    case: Case,
    profile: Profile,
    trials: Sequence[Trial],
    *,
    ontology: Any,
    therapy_reader: TherapyReader | None = None,
    top: int | None = None,
    load_full: Callable[[list[str]], Sequence[Trial]] | None = None,
    place: Place | None = None,
    filters: TrialFilters | None = None,
    patient: Patient | None = None,
) -> tuple[list[TrialMatch], list[ExcludedTrial]]:
    """Evaluate and rank candidate trials for the case (pure: no store, no extractor).

    Ruled-out trials are returned only when relevant (see the module docstring).

    `ontology` is the vocabulary (is_a, is_solid, is_heme, ancestors, descendants).
    With `load_full`, `trials` may be screening views (`TrialStore.screening_trials`): every
    trial is screened as given, and only those that pass are read in full through
    `load_full(nct_ids)` for the whole evaluation. Ruled-out trials stay views; the excluded
    list reads only their id, title, status, codes and failing criteria.

    With `place`, each trial's nearest recruiting site is found, and it breaks ties (equal
    rank and verdict: the nearer first). With a distance in `filters`, only trials with a
    recruiting site that close are kept (phases and purposes are chosen with the candidates,
    `TrialStore.candidate_ids`); filters never change a verdict or a score.

    `patient` is the case's patient when the caller has built it (`read_patient`).
    """
    filters = filters or TrialFilters()
    if patient is None:
        patient = case_patient(case, profile, ontology=ontology, therapy_reader=therapy_reader)
    considered = set(case.first_opinion.trials_considered) if case.first_opinion else None
    lineage = set()
    if patient.cancer_code:
        code = patient.cancer_code
        lineage = cancer_family(code, ontology)
    matches: list[TrialMatch] = []
    excluded: list[ExcludedTrial] = []
    screened = [(trial, screen_trial(trial, patient)) for trial in trials]
    full: dict[str, Trial] = {}
    if load_full is not None:
        passed = [trial.nct_id for trial, failing in screened if not failing]
        full = {trial.nct_id: trial for trial in load_full(passed)} if passed else {}
    for trial, failing in screened:
        trial = full.get(trial.nct_id, trial)
        if failing:
            # Ruled out: the failing criteria say why; the others need not be read.
            verdict = TrialVerdict(trial.nct_id, "excluded", failing, failing)
        else:
            verdict = evaluate_trial(trial, patient)
        if verdict.verdict == "excluded":
            same = bool(lineage & set(trial.oncotree_codes))
            if same or ruled_out_by_biomarker(verdict):
                excluded.append(ExcludedTrial(trial, verdict, same))
            continue
        nearest = nearest_site_of(trial, place) if place is not None else None
        if filters.within_km is not None and (
                nearest is None or nearest.distance_km > filters.within_km):
            continue
        score = score_trial(trial, verdict, patient, case.location)
        # SPEC: missed = not mentioned by the first opinion; with no first opinion, nothing
        # was (the protocols finder reads it the same way).
        missed = considered is None or trial.nct_id.upper() not in considered
        matches.append(TrialMatch(trial, verdict, score, missed, nearest))
    # The nearest recruiting site breaks ties only: equal rank key, the nearer first.
    matches.sort(key=lambda m: (*rank_key(m.trial, m.score, m.verdict.verdict), m.distance_key,
                                m.trial.nct_id))
    excluded.sort(key=lambda e: (not e.same_cancer, e.trial.nct_id))
    if top is not None:
        matches = matches[:top]
    return matches, excluded


# --------------------------------------------------------------------------- running


def drug_therapy_reader() -> TherapyReader:
    """Read a prior-therapy entry with the drug lexicon: the drugs it names (a brand, a code
    name or a regimen such as FOLFOX), their classes, and classes named outright ("subtotal
    resection" is surgery). An entry the lexicon does not know is kept as written."""
    from trialmatch.nlp import drugs

    lexicon = drugs.get_lexicon()

    def read(entry: str) -> tuple[set[str], set[str]]:
        names = {mention.key for mention in drugs.find_drugs(entry)}
        whole = drugs.normalise_drug(entry)
        if whole:
            names.add(whole)
        classes: set[str] = set()
        for name in names:
            classes |= drugs.classes_of(name)
        for mention in drugs.find_drug_classes(entry):
            classes |= lexicon.ancestors(mention.key)
        if not names and not classes:
            if _OPERATION.search(entry):
                # "radical orchiectomy", "RPLND", "wide local excision": an operation the
                # lexicon does not list is local treatment, not a drug of unknown kind.
                return set(), {"surgery"}
            names = {entry.strip().lower()}
        return names, classes

    return read


# Surgical procedures by their word forms (Dorland's: -ectomy, excision; -otomy, incision;
# -plasty, repair; lymph node dissection), for prior-therapy entries the lexicon does not know.
_OPERATION = re_compile(r"\w(?:ectom(?:y|ies)|otom(?:y|ies)|plast(?:y|ies))\b|\b(?:excision|"
                        r"resection|dissection|amputation|enucleation|exenteration|RPLND|"
                        r"TURBT|TURP|LEEP)\b", re.IGNORECASE)


def default_extractor(model: str | None = None) -> Extractor:
    """The note extractor (trialmatch.nlp.extract), with an optional scispaCy model."""
    from trialmatch.nlp.extract import extract

    def run(notes: list[str]) -> Profile:
        return extract(notes, model=model)

    return run


def _panel_covers(patient: Patient, vocabulary: Any) -> Callable[[str], bool] | None:
    """For testing gaps: which markers the comprehensive tumour panel in the notes answers
    (the genes and gene families of a solid tumour; not proteins or signatures, which need
    their own tests), or None without such a panel."""
    if not patient.ngs_panel or not patient.cancer_code or \
            not vocabulary.is_solid(patient.cancer_code):
        return None

    def covers(marker: str) -> bool:
        entry = vocabulary.biomarker(marker)
        return entry is not None and entry.kind in ("gene", "gene_family")
    return covers


def _chosen(filters: TrialFilters) -> dict[str, Any]:
    # Only the filters asked for reach the store, so a store without them still works.
    chosen = {"phases": filters.phases, "purposes": filters.purposes}
    return {name: value for name, value in chosen.items() if value}


def match_case(
    case: Case,
    store: Any,
    *,
    any_status: bool = False,
    top: int | None = None,
    extractor: Extractor | None = None,
    model: str | None = None,
    vocabulary: Any = None,
    filters: TrialFilters | None = None,
) -> MatchResult:
    """Match one case against the store (a `TrialStore`, opened read-only is enough).

    InputError when `filters` ask for a distance and the case gives no usable location.
    """
    from trialmatch.match import findings
    from trialmatch.match.geo import resolve_place
    from trialmatch.provenance import provenance

    filters = filters or TrialFilters()
    try:
        place = resolve_place(case.location, getattr(store, "site_place", None))
    except InputError as error:
        if filters.within_km is not None:
            raise
        place = None
        location_warning = f"{error}: no distances shown"
    else:
        location_warning = None
    if filters.within_km is not None and place is None:
        raise InputError(f"case {case.id}: --within needs the case's location",
                         hint="add location: {postal_code, country}, {city, country} or "
                              "{lat, lon} to the case file")

    if vocabulary is None:
        from trialmatch.nlp.vocab import get_vocabulary

        vocabulary = get_vocabulary()
    extractor = extractor or default_extractor(model)
    reader = drug_therapy_reader()
    profile, patient = read_patient(case, extractor=extractor, vocabulary=vocabulary,
                                    therapy_reader=reader)
    warnings: list[str] = [location_warning] if location_warning else []
    opinion = case.first_opinion
    plan_text = opinion.plan if opinion else None
    protocols = findings.find_protocols(
        profile, is_a=vocabulary.is_a, is_solid=vocabulary.is_solid, plan_text=plan_text)
    # Not what was already given or failed (issue 15): re-offering it is no second look.
    protocols, given = findings.fits_treatment_history(
        protocols, patient.prior_drugs, patient.prior_classes)
    if in_adjuvant_setting(patient):
        # Resected with nothing left: a label for advanced disease does not fit now.
        protocols, later = findings.fits_adjuvant_setting(protocols)
        given += later
    warnings.extend(f"protocol {p.therapy} ({p.biomarker}) not listed: {why}"
                    for p, why in given)
    # A biomarker-directed therapy the patient can still have is a standard option left: a
    # trial for patients who have "exhausted all effective therapies" is not for them.
    patient.open_protocols = [f"{p.therapy} ({p.biomarker})" for p in protocols]
    code = profile.cancer_type.code if profile.cancer_type else None
    codes = candidate_codes(code, vocabulary)
    if not codes:
        warnings.append("no cancer type found in the notes: no trials were searched")
    # Candidates, their screening views and the survivors' full records come from one
    # snapshot, so a refresh committing meanwhile cannot show a mix of before and after.
    snapshot = getattr(store, "snapshot", None)
    # Reading and evaluating a thousand trials builds ~10^5 acyclic objects; with the
    # collector on, each burst walks every live object (the vocabulary, the spaCy pipeline),
    # which was a third of a match's time.
    with gc_paused(), snapshot() if snapshot is not None else contextlib.nullcontext():
        ids = store.candidate_ids(
            codes, statuses=None if any_status else list(OPEN_STATUSES), age=case.age,
            sex=case.sex, **_chosen(filters)) if codes else []
        # Most candidates are basket trials that one criterion rules out: screening reads
        # only what can rule a patient out, and the few that pass are read in full. A store
        # without screening views (a test double) is read in full up front.
        screening = getattr(store, "screening_trials", None)
        if screening is not None and ids:
            trials = screening(ids, skip_kinds=ALWAYS_UNKNOWN_KINDS)
            load_full = store.get_trials
            complete = getattr(store, "complete_trials", None)
            if complete is not None:
                # The survivors' views already hold most of their criteria.
                views = {view.nct_id: view for view in trials}

                def load_full(nct_ids: list[str]) -> Sequence[Trial]:
                    return complete([views[n] for n in nct_ids],
                                    skip_kinds=ALWAYS_UNKNOWN_KINDS)
        else:
            trials = store.get_trials(ids) if ids else []
            load_full = None
        matches, excluded = plan_match(
            case, profile, trials, ontology=vocabulary, therapy_reader=reader,
            top=top, load_full=load_full, place=place, filters=filters, patient=patient)
        contacts = getattr(store, "contacts", None)
        if contacts is not None and matches:
            found = contacts([m.trial.nct_id for m in matches])
            for trial_match in matches:
                trial_match.contact = found.get(trial_match.trial.nct_id)
        about = provenance(store)

    # The notes' stage decides; the first opinion's stands in when the notes have none.
    stage_group = (profile.stage.group if profile.stage and profile.stage.group else
                   opinion.stage if opinion else None)
    gaps = findings.find_testing_gaps(profile, is_a=vocabulary.is_a, stage_group=stage_group,
                                      is_solid=vocabulary.is_solid, age=patient.age,
                                      sex=patient.sex, metastatic=patient.extent["metastatic"],
                                      germline_tested=germline_test(case.note_texts) is not None,
                                      panel_covers=_panel_covers(patient, vocabulary))
    discrepancies: list[Any] = []
    if opinion is not None:
        text = first_opinion_text(case)
        opinion_profile = extractor([text]) if text else Profile()
        discrepancies = findings.find_discrepancies(
            profile, opinion_profile, opinion.to_dict(), is_a=vocabulary.is_a)
    return MatchResult(
        case=case, profile=profile, trials=matches, excluded=excluded, protocols=protocols,
        testing_gaps=gaps, discrepancies=discrepancies, candidates=len(trials),
        any_status=any_status,
        warnings=list(getattr(case, "warnings", [])) + warnings + list(profile.warnings),
        place=place, filters=filters, provenance=about, now=patient_now(case, patient),
    )


def read_patient(case: Case, *, extractor: Extractor, vocabulary: Any,
                 therapy_reader: TherapyReader | None = None) -> tuple[Profile, Patient]:
    """The profile (restaged to the disease now) and the patient the evaluator sees, read
    from the case's notes and what the case file states: the first half of `match_case`,
    and all a note reader's bench needs (bench/clinical.py --written)."""
    # What the case file states (diagnosis, stage, biomarkers) wins over the notes.
    profile = apply_to_profile(extractor(case.note_texts), case.stated, vocabulary)
    code = profile.cancer_type.code if profile.cancer_type else None
    # The disease now: distant metastases the notes state outrank the stage at diagnosis.
    # T and N without a group: the group of the site's AJCC table, with the age at diagnosis
    # the case gives (differentiated thyroid cancer is staged by age).
    stage = group_from_tnm(profile.stage, code, vocabulary, case.age, profile.biomarkers)
    if stage is not profile.stage:
        profile = dataclasses.replace(profile, stage=stage)
    written_m1 = bool(stage and stage.m and stage.m.upper().startswith("M1"))
    now, at_diagnosis = restage(stage, code, case.age, case.metastatic or written_m1,
                                case.from_notes.get("metastatic") or
                                case.stated_evidence.get("metastatic") or
                                (stage.evidence if stage else ""), vocabulary)
    if now is not profile.stage:
        profile = dataclasses.replace(profile, stage=now, stage_at_diagnosis=at_diagnosis)
    patient = case_patient(case, profile, ontology=vocabulary, therapy_reader=therapy_reader)
    return profile, patient
