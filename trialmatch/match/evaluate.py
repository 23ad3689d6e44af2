"""Evaluate a trial's parsed eligibility criteria against one patient: pure functions.

Three levels, each returning a small dataclass:
- `evaluate_requirement(req, patient)`: is the requirement's statement ("has EGFR exon 19
  deletion", "has received an immune checkpoint inhibitor") true, false or unknown for this
  patient? Unknown always names the fact that would decide it ("ECOG not documented").
- `evaluate_criterion(criterion, patient)`: the criterion's result from the eligibility point
  of view (SPEC `match --json`): `met`, `not_met` or `unknown`. An inclusion criterion is met
  when its statements hold; an exclusion criterion is met (the patient is not excluded) when
  its statements are false.
- `evaluate_trial(trial, patient)`: the verdict, `eligible`, `possibly_eligible` or
  `excluded`, with the criteria that decide it.

How statements combine inside one criterion (the parser gives a flat list of requirements):
- inclusion: requirements of the same disease-description kind (cancer type, histology,
  primary site, stage, extent) are alternatives ("stage III or IV", "locally advanced or
  metastatic"), and so are two kinds of one family (cancer type / histology / site; stage /
  extent) that the criterion joins with "or" ("recurrent disease ..., or stage IV"); every
  other requirement must hold, so "tested negative for EGFR and ALK"
  (two biomarker requirements) or "prior platinum and prior anti-PD-1" (two prior-therapy
  requirements) need both. Biomarker and drug alternatives ("EGFR exon 19 deletion or
  L858R", "crizotinib or entrectinib") live inside one requirement (`any_of`, `drugs`);
- exclusion: requirements of one kind are alternatives ("HIV, hepatitis B or C"); different
  kinds qualify each other and must all be true to exclude ("MSI-H tumours that have not
  received a checkpoint inhibitor"). Receptor statuses of one subtype ("triple-negative",
  "ER-negative, HER2-positive") must all hold too.
- `negated` statements are flipped; `allowed` ones (permissions) are left out and never fail:
  a criterion made only of permissions is met.

Which unknowns matter for the verdict: an unknown about the disease or the treatment history
(cancer type, histology, site, stage, extent, biomarkers, prior therapy and lines), about
age and sex, or about the condition a trial is for (chylous ascites, HIV infection, tobacco
smoking: kind `condition`, from its title and conditions) makes a trial `possibly_eligible`;
those facts come from the notes and the case and decide whether the trial is for this patient
at all. Unknowns that every trial's screening
settles (performance status, organ function, pregnancy, infections, brain metastases, other
cancers, measurable disease, free-text criteria) are shown as `unknown` but leave the trial
`eligible`, otherwise every trial would be `possibly_eligible` and the word would say nothing.
An exclusion about a biomarker the notes do not report ("known ROS1 or RET alteration") is
likewise shown as unknown without making the trial possibly_eligible: it excludes what is
known, and the notes document no such alteration.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal, Protocol

from trialmatch.match.knowledge import standard_lines_for, standard_option_for
from trialmatch.match.lines import NotesCourse, planned_in, read_course
from trialmatch.match.restage import (
    confined_to_its_organ,
    distant_stage_rules,
    marrow_disease,
    unstaged_disease,
)
from trialmatch.models import Biomarker, EligibilityCriterion, Profile, Requirement, Trial
from trialmatch.nlp.conditions import (
    condition_cancer_types,
    condition_named,
    is_grade_bound,
    load_conditions,
)
from trialmatch.nlp.course import drug_names, progressed_on, responding_on
from trialmatch.nlp.criteria import CONDITIONS_PREFIX, OFFICIAL_TITLE_PREFIX, TITLE_PREFIX
from trialmatch.nlp.drugs import classes_of as lexicon_classes_of
from trialmatch.nlp.drugs import find_drugs, get_lexicon
from trialmatch.nlp.grade import gleason_grade_group, gleason_score_groups
from trialmatch.nlp.requirements_basic import ELIGIBILITY_BOUND
from trialmatch.regex_cache import re_compile

Truth = bool | None
Result = Literal["met", "not_met", "unknown"]
Verdict = Literal["eligible", "possibly_eligible", "excluded"]

# Requirement kinds whose unknowns make a trial possibly_eligible (see the module docstring).
MATERIAL_KINDS = frozenset({
    "cancer_type", "histology", "primary_site", "stage", "extent", "biomarker",
    "prior_therapy", "prior_lines", "age", "sex", "condition", "regimen_option",
})
FREE_TEXT_REASON = "free-text criterion; needs review"
# An inclusion that names the diagnosis it asks for.
_DIAGNOSIS_NAMED = re_compile(r"(?i)\b(?:confirmed|documented|established|proven)\s+diagnosis\s+"
                              r"of\b|\bhistologically\s+(?:and/or\s+|or\s+)?(?:cytologically\s+)?"
                              r"(?:confirmed|documented|proven)\b")
# Kinds whose requirements in one inclusion criterion are alternatives (module docstring).
ALTERNATIVE_KINDS = frozenset({"cancer_type", "histology", "primary_site", "stage", "extent",
                               "t_category", "n_category"})


class Ontology(Protocol):
    """The part of the vocabulary that evaluation needs (trialmatch.nlp.vocab provides it)."""

    def is_a(self, code: str, ancestor: str) -> bool: ...

    def is_solid(self, code: str) -> bool: ...

    def is_heme(self, code: str) -> bool: ...


# --------------------------------------------------------------------------- the patient


@dataclass(frozen=True)
class PriorTherapy:
    """One entry of the case's prior therapies: a regimen, a surgery or a radiation course."""

    text: str
    drugs: frozenset[str]
    classes: frozenset[str]
    systemic: bool  # counts as a line of therapy (surgery and radiation do not)
    setting: str | None  # "adjuvant" (incl. neoadjuvant, perioperative), "advanced" or None
    combination: bool  # names several drugs: one entry is one regimen
    # Each drug's own classes, where the regimen has several drugs (else `classes`).
    drug_classes: tuple[tuple[str, frozenset[str]], ...] = ()
    # The line of therapy for advanced disease the notes number it ("2L capecitabine").
    line: int | None = None
    # The notes give its drugs in the curative setting too ("adjuvant letrozole x5y" and
    # "1L letrozole + ribociclib"): one entry, perhaps two courses.
    also_adjuvant: bool = False

    def classes_of(self, drug: str) -> frozenset[str]:
        """The classes of one drug of the regimen."""
        for name, classes in self.drug_classes:
            if name == drug:
                return classes
        return self.classes if len(self.drugs) <= 1 else frozenset()


# Classes of local treatment, and transplants: not lines of systemic therapy (drugs.json
# class names).
LOCAL_CLASSES = frozenset({"surgery", "radiation", "radioactive iodine", "locoregional procedure",
                           # a transplant consolidates the line before it (IMWG, Lugano)
                           "stem cell transplant", "autologous stem cell transplant",
                           "allogeneic stem cell transplant"})
_ADJUVANT_SETTING = re_compile(r"\b(?:neo)?adjuvant\b|\(neo\)adjuvant|\bperioperative\b",
                               re.IGNORECASE)
_ADVANCED_SETTING = re_compile(
    r"\b(?:metastatic|advanced|first[- ]line|second[- ]line|third[- ]line|[123]L|palliative|"
    r"maintenance|relapsed|refractory)\b", re.IGNORECASE)
_REGIMEN_SPLIT = re_compile(r"\s*(?:\+|/|,|;|\band\b|\bwith\b|\bplus\b)\s*", re.IGNORECASE)
_COMBINATION = re_compile(r"\+|/|,|;|\band\b|\bwith\b|\bplus\b", re.IGNORECASE)
TherapyReader = Callable[[str], tuple[set[str], set[str]]]


def simple_therapy_reader(
    normalise_drug: Callable[[str], str | None] | None = None,
    classes_of: Callable[[str], Iterable[str]] | None = None,
) -> TherapyReader:
    """A reader that splits an entry at "+", "/", "," or "and" and looks each part up."""

    def read(entry: str) -> tuple[set[str], set[str]]:
        drugs: set[str] = set()
        classes: set[str] = set()
        for part in _REGIMEN_SPLIT.split(_ADJUVANT_SETTING.sub(" ", entry)):
            part = part.strip().lower()
            if not part:
                continue
            drug = (normalise_drug(part) if normalise_drug else None) or part
            drugs.add(drug.lower())
            if classes_of:
                classes.update(c.lower() for c in classes_of(drug))
        return drugs, classes

    return read


def read_prior_therapy(entry: str, reader: TherapyReader) -> PriorTherapy:
    """Read one prior-therapy entry of a case file."""
    drugs, classes = reader(entry)
    drugs = {d.lower() for d in drugs}
    classes = {c.lower() for c in classes}
    systemic = bool(drugs) or not classes or bool(classes - LOCAL_CLASSES)
    if systemic and classes and classes <= get_lexicon().supportive_classes | LOCAL_CLASSES:
        systemic = False  # zoledronic acid, dexamethasone alone: supportive care, no line
    setting = ("adjuvant" if _ADJUVANT_SETTING.search(entry) else
               "advanced" if _ADVANCED_SETTING.search(entry) else None)
    combination = len(drugs) > 1 or bool(_COMBINATION.search(entry))
    drug_classes = tuple((drug, frozenset(c.lower() for c in reader(drug)[1]))
                         for drug in sorted(drugs)) if len(drugs) > 1 else ()
    return PriorTherapy(entry, frozenset(drugs), frozenset(classes), systemic, setting,
                        combination, drug_classes)


# Curative-intent courses as notes name them: around surgery, or with radiation for disease
# without distant spread ("concurrent CRT 60 Gy w/ weekly carboplatin/paclitaxel", "durvalumab
# (consolidation)", "definitive chemoradiation").
_CURATIVE_IN_NOTE = re_compile(
    r"\b(?:neo-?adjuvant|adjuvant|peri-?operative|consolidat\w*|concurrent|chemo-?radiat\w*|"
    r"chemo-?radiotherapy|CRT|definitive)\b", re.IGNORECASE)


# Where one statement of a note ends: a sentence end before a capital or digit, or a line
# break before a new item (a bullet, a date or number, a "Heading:"); a line break before a
# lower-case word is a wrapped sentence ("... neoadjuvant doxorubicin/cyclophosphamide then
# weekly\npaclitaxel ...").
_STATEMENT_END = re_compile(r"(?<=[.!?;])\s+(?=[A-Z0-9(])|\n(?=\s*(?:$|[-*•]|\d|"
                            r"[A-Z][\w /-]{0,30}:))", re.MULTILINE)


def _statements(text: str) -> list[str]:
    """A note's statements, wrapped lines joined."""
    return [part.replace("\n", " ") for part in _STATEMENT_END.split(text) if part.strip()]


def setting_from_notes(regimen: PriorTherapy, statements: list[str]) -> PriorTherapy:
    """A case-file entry without a setting ("carboplatin", "durvalumab") given the one the
    notes state where they name its drugs: adjuvant (curative intent) when every statement
    of the notes (`_statements`, split once for all regimens) naming them says neoadjuvant,
    adjuvant, perioperative, consolidation or concurrent chemoradiation and none says
    metastatic, advanced, palliative or a line. Solid tumours only: in leukaemia
    "consolidation" is part of the first line."""
    if regimen.setting is not None or not regimen.systemic or not regimen.drugs:
        return regimen
    named = drug_names(regimen.drugs)
    if named is None:
        return regimen
    # (a plan's statement, "Rec 1L gemcitabine + cisplatin", tells what is to come)
    lines = [line for line in statements if (found := named.search(line))
             and not planned_in(line, found.start())]
    # (a statement that names the drug and no setting, "SNHL (post-cisplatin)", says nothing
    # of it)
    if any(_CURATIVE_IN_NOTE.search(line) for line in lines) and not any(
            _ADVANCED_SETTING.search(line) for line in lines):
        return replace(regimen, setting="adjuvant")
    return regimen


def course_from_notes(regimen: PriorTherapy, course: NotesCourse) -> PriorTherapy:
    """A case-file entry given the line and setting the notes write beside its drugs
    (`lines.read_course`): a line number when every drug numbered has the same one ("1L
    letrozole + ribociclib"), then advanced; else a setting when every drug the notes set
    has the same one ("adjuvant ddAC x4 -> weekly paclitaxel x12"). A setting the entry
    states itself stands."""
    if not regimen.systemic or not regimen.drugs:
        return regimen
    numbers = {n for drug in regimen.drugs for n in course.lines.get(drug, ())}
    settings = {s for drug in regimen.drugs for s in course.settings.get(drug, ())}
    if len(numbers) == 1 and regimen.setting != "adjuvant":
        return replace(regimen, line=numbers.pop(), setting="advanced",
                       also_adjuvant="adjuvant" in settings)
    if regimen.setting is not None:
        return regimen
    if len(settings) == 1:
        return replace(regimen, setting=settings.pop())
    return regimen


def lines_of_therapy(regimens: list[PriorTherapy]) -> tuple[int, int]:
    """(fewest, most) lines of systemic therapy the entries can stand for.

    Entries written as regimens ("carboplatin + pemetrexed", "FOLFOX") are one line each; a
    flat list of single drugs could be one combination or one line per drug. (Neo)adjuvant
    and perioperative treatment is not a line for advanced disease: it counts only when the
    disease came back within months of it, which the entries do not say, so it raises the
    most and not the fewest (ESMO/ASCO line numbering; trials' "lines in the metastatic
    setting").
    """
    systemic = [r for r in regimens if r.systemic]
    if not systemic:
        return (0, 0)
    advanced = [r for r in systemic if r.setting != "adjuvant"]
    if any(r.combination for r in systemic):
        fewest, most = len(advanced), len(systemic)
    else:
        fewest, most = (1 if advanced else 0), len(systemic)
    # Lines the notes number ("1L letrozole + ribociclib ... 3L T-DXd"): the highest given
    # is at least that many lines.
    numbered = [r.line for r in advanced if r.line]
    if numbered:
        fewest = max(fewest, max(numbered))
    # A drug the notes give in both settings may be two courses of it.
    most += sum(r.also_adjuvant for r in systemic)
    return fewest, max(most, fewest)


@dataclass
class Patient:
    """Everything evaluation knows about the patient: case facts plus the notes' profile.

    `None` means not documented: `prior_regimens` is None when the case does not list prior
    therapies and [] when it says there were none.
    """

    ontology: Ontology = field(repr=False, compare=False)
    age: float | None = None
    sex: str | None = None
    ecog: int | None = None
    cancer_code: str | None = None
    cancer_name: str | None = None
    cancer_evidence: str = ""
    histology: str | None = None
    primary_site: str | None = None
    stage_group: str | None = None
    stage_m: str | None = None
    stage_prefix: str | None = None
    stage_t: str | None = None
    stage_n: str | None = None
    stage_evidence: str = ""
    # The stage group at diagnosis when the notes restaged the disease (restage.py): a
    # FIGO IIIB cervical cancer that recurred in the lungs is stage IV now, IIIB at diagnosis.
    diagnosis_stage_group: str | None = None
    # The tumour grade as the notes give it ("Gleason 4+5=9 (Grade Group 5)", "G3").
    grade_detail: str | None = None
    biomarkers: list[Biomarker] = field(default_factory=list)
    prior_regimens: list[PriorTherapy] | None = None
    newly_diagnosed: bool = False  # the notes call the disease newly diagnosed
    # Words of the notes saying the disease has relapsed, recurred or is refractory now.
    relapse_noted: str | None = None
    # The words saying the disease progressed on treatment or the treatment failed
    # ("PD on FOLFOX", "rising PSA on enzalutamide", "stopped for grade 3 colitis").
    progression_noted: str | None = None
    # Facts the notes state (trialmatch.nlp.clinical) where the case file does not:
    # distant spread and brain metastases (True, False = stated absent, None), and whether
    # the prior regimens are the whole history (a case file's list) or only what the notes
    # happen to mention (then a therapy not named is unknown, not absent).
    metastatic_noted: Truth = None
    brain_metastases: Truth = None
    prior_complete: bool = True
    # Drugs of regimens the notes say the disease responds to or is stable on, with no word
    # of progression on them ("docetaxel with SD after 2 cycles"): not failed (yet).
    responding_drugs: frozenset[str] = frozenset()
    # The words of a note planning treatment with curative intent now (`states_curative_plan`).
    curative_plan: str | None = None
    # The number of lines for advanced disease a note states ("3 prior lines in metastatic
    # setting"), a floor on the count; None when no note states one.
    stated_lines: int | None = None
    labs: dict[str, tuple[float, str, str]] = field(default_factory=dict)
    infections: dict[str, tuple[bool, str]] = field(default_factory=dict)
    pregnant: Truth = None
    past_cancers: list[tuple[str, int | None, str]] = field(default_factory=list)
    no_other_cancer: str | None = None
    # Population conditions the notes speak of (trialmatch.nlp.conditions): name -> (has it
    # now, words); a condition the notes never mention is absent from the map.
    conditions: dict[str, tuple[bool, str]] = field(default_factory=dict)
    # The grade now of graded conditions (CTCAE), None when the notes give none.
    condition_grades: dict[str, tuple[int | None, str]] = field(default_factory=dict)
    # The note sentence reporting a comprehensive tumour panel's results (trialmatch.nlp.ngs):
    # a solid tumour's gene alteration it does not name is not there.
    ngs_panel: str | None = None
    # The biomarker-directed therapies (FDA labels) that fit the patient now and that they
    # have not had (match/findings.py), as "therapy (biomarker)"; None when not computed.
    open_protocols: list[str] | None = None
    # Where a fact came from the notes: {"ecog": "ECOG PS 1", "metastatic": "liver metastases"}
    from_notes: dict[str, str] = field(default_factory=dict, compare=False)
    # Criterion results already computed for this patient (see `_criterion_result`).
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def prior_therapies(self) -> list[str] | None:
        """The prior-therapy entries as written in the case."""
        return None if self.prior_regimens is None else [r.text for r in self.prior_regimens]

    @property
    def prior_drugs(self) -> frozenset[str] | None:
        if self.prior_regimens is None:
            return None
        return frozenset(d for r in self.prior_regimens for d in r.drugs)

    @property
    def prior_classes(self) -> frozenset[str] | None:
        if self.prior_regimens is None:
            return None
        classes = frozenset(c for r in self.prior_regimens for c in r.classes)
        if "chemoradiotherapy" not in classes and "radiation" in classes and any(
                r.setting == "adjuvant" and "chemotherapy" in r.classes
                for r in self.prior_regimens):
            # Chemotherapy of a curative-intent course beside radiation, listed apart
            # ("carboplatin", "paclitaxel", "thoracic radiation 60 Gy"): chemoradiotherapy
            # (drugs.json's class whose parents are chemotherapy and radiation).
            classes |= {"chemoradiotherapy"}
        return classes

    @property
    def prior_lines(self) -> tuple[int, int] | None:
        if self.prior_regimens is None:
            return None
        fewest, most = lines_of_therapy(self.prior_regimens)
        if self.stated_lines:
            fewest = max(fewest, self.stated_lines)
            most = max(most, fewest)
        # Regimens the notes mention are a floor: more lines may have gone unmentioned.
        return (fewest, most) if self.prior_complete else (fewest, max(most, fewest + 10))

    def stage_extent(self) -> dict[str, Truth]:
        """What the stage alone says of extent (see `derive_extent`), for this cancer: a
        stage IV group that is no distant spread for it (head and neck IVA, cervix IVA:
        match/data/distant_stage.json) is locally advanced, or leaves spread open; a group
        that means unresectable disease for it (mesothelioma IIIB) is unresectable."""
        extent = derive_extent(self.stage_group, self.stage_m, self.stage_prefix, self.stage_t)
        if not self.cancer_code or not self.stage_group:
            return extent
        rules = distant_stage_rules()
        if extent["metastatic"] is not True and not extent["resected"] and \
                rules.means_unresectable(self.cancer_code, self.stage_group, self.ontology.is_a):
            # Mesothelioma IIIB (T4), pancreatic III, NSCLC IIIC: unresectable by definition.
            extent.update(unresectable=True, locally_advanced=True, advanced=True,
                          early_stage=False)
        if extent["metastatic"] is not True and extent["unresectable"] is not True:
            early = rules.early_stage(self.cancer_code, self.stage_group, self.ontology.is_a)
            if early != "default":
                extent["early_stage"] = early  # operable stage IIIA breast cancer is early
            if rules.means_curable(self.cancer_code, self.stage_group, self.ontology.is_a):
                # Stage III colorectal, gastric or kidney cancer is treated with curative
                # intent: locally advanced, but not "advanced" disease beyond cure.
                extent["advanced"] = False
        if self.stage_m and self.stage_m.upper().startswith(("M0", "M1")):
            return extent
        m = rules.stage_iv_m(self.cancer_code, self.stage_group, self.ontology.is_a)
        if m == "M0":
            extent.update(metastatic=False, locally_advanced=True, advanced=True,
                          early_stage=False)
        elif m == "either":
            extent.update(metastatic=None, locally_advanced=None, advanced=True,
                          early_stage=False)
        return extent

    @property
    def extent(self) -> dict[str, Truth]:
        """Disease extent derived from stage (see `derive_extent`), with the exceptions
        that stage groups alone do not show."""
        extent = self.stage_extent()
        code = self.cancer_code
        if code and self.stage_group and (self.stage_m is None or self.stage_m.upper() == "MX"):
            # Differentiated thyroid cancer before age 55 (AJCC 8th ed., ch. 73): stage I is
            # any T, any N, M0 and stage II is M1, so the group says nothing about size.
            if any(self.ontology.is_a(code, c) for c in ("WDTC", "THPA", "THFO", "THHC")) and \
                    (self.age is None or self.age < 55):
                parsed = parse_stage_group(self.stage_group)
                if parsed and parsed[0] in ("I", "II"):
                    metastatic = parsed[0] == "II"
                    extent.update(metastatic=metastatic, advanced=metastatic or None,
                                  early_stage=None, locally_advanced=None)
        if self.relapse_noted:
            # "first relapse of AML", "metastatic recurrence", "refractory to R-CHOP": the
            # state now, whatever the disease was at diagnosis.
            extent["recurrent"] = True
            if code and not marrow_disease(code, self.ontology) and \
                    extent["metastatic"] is not True:
                # A solid tumour that came back is no longer the stage it was diagnosed at
                # (a resected stage IB cholangiocarcinoma recurring in the liver and lungs):
                # not early-stage, and its spread is for the notes to say; treated with a
                # line for advanced disease, it is advanced.
                for key in ("metastatic", "advanced", "locally_advanced"):
                    if extent[key] is False:
                        extent[key] = None
                extent["early_stage"] = False
                if any(r.systemic and (r.setting == "advanced" or r.line)
                       for r in self.prior_regimens or []):
                    extent["advanced"] = True
        elif extent["recurrent"] is None and (self.newly_diagnosed or (
                self.prior_regimens == [] and self.prior_complete)):
            # Newly diagnosed, or never treated: disease that has had no treatment cannot have
            # relapsed after it or be refractory to it.
            extent["recurrent"] = False
        if self.metastatic_noted or (extent["metastatic"] is None and
                                     self.metastatic_noted is not None):
            # "multiple liver metastases" in a note (AJCC: distant metastasis is M1, stage IV):
            # metastatic, so advanced and not early, whatever stage the diagnosis had (a
            # stage IIB breast cancer with a biopsy-proven bone metastasis ten years later is
            # metastatic now); "no distant metastases" rules metastatic disease out and says
            # nothing more.
            extent["metastatic"] = self.metastatic_noted
            if self.metastatic_noted:
                extent.update(advanced=True, locally_advanced=False, early_stage=False)
        if extent["metastatic"] is None and self.metastatic_noted is None and \
                confined_to_its_organ(code, self.ontology):
            # A glioma is not "metastatic" or "locally advanced" (restage.py's data); it is
            # advanced when it has come back.
            extent.update(metastatic=False, locally_advanced=False,
                          advanced=extent["recurrent"])
        if marrow_disease(code, self.ontology):
            # A leukaemia, MDS or myeloma is a marrow disease: never locally advanced,
            # unresectable or metastatic in the TNM sense (restage.py's data).
            extent.update(metastatic=False, locally_advanced=False, unresectable=False)
        if _nothing_left(extent):
            # A pathological stage after resection with no spread or recurrence since: the
            # disease was removed, so it is not locally advanced or unresectable now (a
            # resected pT3a N1 kidney cancer is in the adjuvant setting, not a candidate for
            # "locally advanced or metastatic solid tumour" trials).
            extent.update(locally_advanced=False, advanced=False, unresectable=False)
        return extent


def in_adjuvant_setting(patient: Patient) -> bool:
    """Resected, with no distant spread or recurrence stated since (see `_nothing_left`)."""
    return _nothing_left(patient.extent)


def _nothing_left(extent: dict[str, bool | None]) -> bool:
    """Resected, with no distant spread or recurrence stated since (the adjuvant setting)."""
    return bool(extent["resected"]) and not extent["metastatic"] and not extent["recurrent"]


_NEWLY_DIAGNOSED = re_compile(r"\b(?:newly|recently|new) diagnos[ei]s|\bnewly[- ]diagnosed\b|"
                              r"\b(?:newly|new)\s+dx\b|"
                              r"\bnew diagnosis\b|\bde novo\b|\btreatment[- ]na[iï]ve\b",
                              re.IGNORECASE)


# Relapse, recurrence or refractoriness of the disease now (NCI Dictionary: relapse, "the
# return of a disease after a period of improvement"; refractory, "does not respond to
# treatment"). Not a risk, a score, a plan or a negation.
_RELAPSE = re_compile(
    r"\b(?:relapsed|relapsing|relapses?|recurrences?|refractory|r/r)\b|"
    r"\brecurrent(?=[\s/-]+(?:[\w/-]+\s+){0,3}?(?:disease|cancer|carcinoma|tumou?r|metasta\w*|"
    r"\w*oma|leuk\w*|glioma|astrocytoma|glioblastoma|lesions?)\b)|\blocally\s+recurrent\b",
    re.IGNORECASE)
_NOT_A_RELAPSE_AFTER = re_compile(
    r"^[\s-]*(?:score|risk|free|rate|prevention|prophylaxis|anemia|anaemia|cytopenia|"
    r"hypertension|ascites|pain|seizures?|infections?|utis?|laryngeal|episodes?|"
    r"thrombocytopenia|to\s+(?:iron|oral|medical|conservative))\b", re.IGNORECASE)
_NOT_A_RELAPSE_BEFORE = re_compile(
    r"(?:\b(?:no|not|without|denies|free\s+of|no\s+evidence\s+of|no\s+sign\w*\s+of|risk\s+of|"
    r"reduce\w*|prevent\w*|if|at|upon|in\s+case\s+of|should|would|for|surveillance|"
    r"monitor\w*|concern\w*|suspicio\w*|possible|probable|rule\s+out|r/o|low|high|until|"
    r"before|prior\s+to|lower|time\s+to|odds\s+of|chance\s+of)\s+(?:\w+(?:\s+|\s*/\s*)){0,2}$)",
    re.IGNORECASE)  # ("no residual/recurrent disease": one denial for both)


def states_relapse(texts: Iterable[str]) -> str | None:
    """The words of the notes saying the disease has relapsed, recurred or is refractory
    ("first relapse of IDH1-mutated AML", "metastatic recurrence", "primary refractory"),
    or None. Risks, scores ("Recurrence Score 18"), plans ("alloHCT at relapse"), negations
    ("no evidence of recurrence") and other diseases ("refractory anemia", "recurrent UTIs")
    do not count."""
    return _first_statement(texts, _RELAPSE, _NOT_A_RELAPSE_AFTER, 30)


def _first_statement(texts: Iterable[str], pattern: re.Pattern[str],
                     not_after: re.Pattern[str], reach: int) -> str | None:
    """The words around the first match of `pattern` in the notes that no negation, hedge
    or plan before it (`_NOT_A_RELAPSE_BEFORE`) and no word after it (`not_after`, within
    `reach` characters) takes back: its line, from 40 characters before it, at most 120."""
    for text in texts:
        for match in pattern.finditer(text):
            line_start = text.rfind("\n", 0, match.start()) + 1
            before = text[max(line_start, match.start() - 60):match.start()]
            before = re.split(r"[.;:]", before)[-1]
            if _NOT_A_RELAPSE_BEFORE.search(before) or \
                    not_after.match(text[match.end():match.end() + reach]):
                continue
            line_end = text.find("\n", match.end())
            return text[max(line_start, match.start() - 40):
                        line_end if line_end != -1 else len(text)][:120].strip()
    return None


# Progression on treatment, or a treatment stopped for failure or toxicity: what makes a
# line "failed" (RECIST progression, PCWG3 PSA progression, intolerance).
_PROGRESSION = re_compile(
    r"\b(?:progress(?:ed|ing|ion|ive\s+disease)|(?-i:PD|POD)\b(?!-)|failed|failure\s+(?:of|on)|"
    r"rising\s+(?:PSA|CA[\s-]?125|CEA|markers?)|biochemical\s+recurrence|"
    r"intoleran\w*|(?:stopped|discontinued|held)\s+(?:\w+\s+){0,3}?(?:for|due\s+to|"
    r"because\s+of)\s+(?:\w+\s+){0,3}?(?:toxicit\w*|grade\s*[34]|g[34]\b|colitis|"
    r"pneumonitis|hepatitis|neuropathy))", re.IGNORECASE)
_NOT_PROGRESSION_AFTER = re_compile(r"^[\s-]*(?:free|risk|rate)\b|^\s*-\s*free\b",
                                    re.IGNORECASE)


# A treatment with curative intent planned now ("Plan: salvage chemotherapy with curative
# intent - TIP x4", "proceed to allo-HCT in CR2 with curative intent"): the patient is a
# candidate for potentially curative therapy. A past course ("~8 yrs after curative-intent
# tx", "completed curative chemoradiation") is not one.
_CURATIVE_PLAN = re_compile(r"\bcurative[\s-]+intent|\bwith\s+curative\b|\bintent\s+to\s+cure\b|"
                            r"\bfor\s+cure\b|\bcurative\s+(?:salvage|resection|surgery|"
                            r"transplant|allo\w*)", re.IGNORECASE)
_PLAN_WORDS = re_compile(r"\b(?:plan\w*|will|recommend\w*|proceed\w*|schedul\w*|to\s+start|"
                         r"starting|start\s+\d|begin\w*|rec)\b", re.IGNORECASE)
_PAST_WORDS = re_compile(r"\b(?:after|following|completed?|s/p|status\s+post|prior|"
                         r"previous(?:ly)?|history|hx|was|were|had|received|underwent|\d+\s+"
                         r"(?:yrs?|years?|mo|months?)\s+(?:after|since|ago))\b", re.IGNORECASE)

# "Not a candidate for curative salvage": no such plan.
_CURATIVE_DENIED = re_compile(r"\b(?:not|no|never|non|nor|unlikely|beyond)\b", re.IGNORECASE)


def states_curative_plan(texts: Iterable[str]) -> str | None:
    """The words of a note planning treatment with curative intent now, or None."""
    for text in texts:
        for match in _CURATIVE_PLAN.finditer(text):
            line_start = text.rfind("\n", 0, match.start()) + 1
            line_end = text.find("\n", match.end())
            line = text[line_start:line_end if line_end != -1 else len(text)]
            before = text[max(line_start, match.start() - 40):match.start()]
            if _PLAN_WORDS.search(line) and not _PAST_WORDS.search(before) and \
                    not _CURATIVE_DENIED.search(before):
                return line.strip()[:120]
    return None


def states_progression(texts: Iterable[str]) -> str | None:
    """The words of the notes saying the disease progressed on a treatment or a treatment
    failed or was stopped for toxicity, or None. Negations ("no progression", "without
    evidence of progression"), plans and endpoints ("progression-free survival") do not
    count."""
    return _first_statement(texts, _PROGRESSION, _NOT_PROGRESSION_AFTER, 20)


def states_newly_diagnosed(texts: Iterable[str]) -> bool:
    """Do the notes call the disease newly diagnosed (so not relapsed or refractory)?

    A narrow cue the note profile does not carry yet; "de novo stage IV" counts too (the
    caller sets it aside once the notes state progression or relapse: "de novo mHSPC" two
    lines ago is not newly diagnosed now).
    """
    return any(_NEWLY_DIAGNOSED.search(text) for text in texts)


def build_patient(
    profile: Profile,
    *,
    ontology: Ontology,
    age: float | None = None,
    sex: str | None = None,
    ecog: int | None = None,
    prior_therapies: list[str] | None = None,
    normalise_drug: Callable[[str], str | None] | None = None,
    classes_of: Callable[[str], Iterable[str]] | None = None,
    therapy_reader: TherapyReader | None = None,
    note_texts: Iterable[str] = (),
    metastatic: Truth = None,
    brain_metastases: Truth = None,
    prior_complete: bool = True,
    from_notes: dict[str, str] | None = None,
    labs: dict[str, tuple[float, str, str]] | None = None,
    infections: dict[str, tuple[bool, str]] | None = None,
    pregnant: Truth = None,
    past_cancers: list[tuple[str, int | None, str]] | None = None,
    no_other_cancer: str | None = None,
    conditions: dict[str, tuple[bool, str]] | None = None,
) -> Patient:
    """Combine case facts and an extracted profile into a `Patient`.

    Prior-therapy entries are read with `therapy_reader` (the engine passes one built on
    trialmatch.nlp.drugs), else by splitting at "+", "/", "," or "and" and looking each part
    up with `normalise_drug` and `classes_of`.
    """
    stage = profile.stage
    cancer = profile.cancer_type
    regimens = None
    stated_lines = None
    note_texts = list(note_texts)
    if prior_therapies is not None:
        reader = therapy_reader or simple_therapy_reader(normalise_drug, classes_of)
        regimens = [read_prior_therapy(entry, reader) for entry in prior_therapies]
        if cancer is not None and cancer.code and ontology.is_solid(cancer.code):
            statements = [line for text in note_texts for line in _statements(text)]
            course = read_course(statements)
            stated_lines = course.stated_lines
            regimens = [course_from_notes(setting_from_notes(r, statements), course)
                        for r in regimens]
    relapse_noted = states_relapse(note_texts)
    progression_noted = states_progression(note_texts)
    # "De novo mHSPC" in the history of a cancer that has since progressed on two lines, or
    # "newly diagnosed" in an old note of one that relapsed: not newly diagnosed now.
    newly_diagnosed = states_newly_diagnosed(note_texts) and not relapse_noted and \
        not progression_noted
    from_notes = dict(from_notes or {})
    if regimens is None and newly_diagnosed and not relapse_noted and not progression_noted:
        # A newly diagnosed cancer whose notes name no treatment given has had none yet (a
        # treatment started would be in them): an empty history, not an unknown one.
        regimens = []
        from_notes.setdefault("prior_therapies", "newly diagnosed; no treatment given yet")
    return Patient(
        ontology=ontology,
        age=age,
        sex=sex,
        ecog=ecog,
        cancer_code=cancer.code if cancer else None,
        cancer_name=cancer.name if cancer else None,
        cancer_evidence=cancer.evidence if cancer else "",
        histology=profile.histology,
        primary_site=profile.primary_site,
        stage_group=stage.group if stage else None,
        stage_m=stage.m if stage else None,
        stage_prefix=stage.prefix if stage else None,
        stage_t=stage.t if stage else None,
        stage_n=stage.n if stage else None,
        stage_evidence=stage.evidence if stage else "",
        diagnosis_stage_group=profile.stage_at_diagnosis.group
        if profile.stage_at_diagnosis is not None else None,
        grade_detail=profile.grade_detail,
        biomarkers=list(profile.biomarkers),
        prior_regimens=regimens,
        newly_diagnosed=newly_diagnosed,
        relapse_noted=relapse_noted,
        progression_noted=progression_noted,
        metastatic_noted=metastatic,
        brain_metastases=brain_metastases,
        prior_complete=prior_complete,
        responding_drugs=_responding_drugs(regimens, note_texts),
        curative_plan=states_curative_plan(note_texts),
        stated_lines=stated_lines,
        from_notes=from_notes,
        labs=dict(labs or {}),
        infections=dict(infections or {}),
        pregnant=pregnant,
        past_cancers=list(past_cancers or []),
        no_other_cancer=no_other_cancer,
        conditions=dict(conditions or {}),
    )


# Disease extent from AJCC stage (AJCC Cancer Staging Manual, 8th ed.: stage IV = distant
# metastasis M1; stage III = regional/locally advanced disease; stages 0-II = early disease;
# the "p" prefix = pathological classification, which needs resection of the primary tumour).
# "Advanced" follows common trial usage (IIIB-IV); IIIA is left undecided.
def derive_extent(
    group: str | None, m: str | None, prefix: str | None, t: str | None = None
) -> dict[str, Truth]:
    """What the stage says about extent: metastatic, locally_advanced, advanced, early_stage,
    resected, unresectable and recurrent, each True, False or None (not decided by stage)."""
    extent: dict[str, Truth] = dict.fromkeys(
        ("metastatic", "locally_advanced", "advanced", "early_stage", "resected",
         "unresectable", "recurrent"))
    parsed = parse_stage_group(group) if group else None
    stated_m0 = bool(m and m.upper().startswith("M0"))
    metastatic = bool(m and m.upper().startswith("M1")) or bool(
        parsed and parsed[0] == "IV" and not stated_m0)
    if metastatic:
        extent.update(metastatic=True, advanced=True, locally_advanced=False, early_stage=False)
    elif parsed and parsed[0] == "IV":
        # A stage IV group with M0 stated (head and neck IVA, T4b N0 M0): locoregionally
        # advanced disease, not distant spread.
        extent.update(metastatic=False, locally_advanced=True, advanced=True, early_stage=False)
    elif parsed:
        roman, suffix = parsed
        if roman == "III":
            extent.update(metastatic=False, locally_advanced=True, early_stage=False,
                          advanced=None if suffix.startswith("A") or not suffix else True)
        elif roman in ("0", "I", "II"):
            extent.update(metastatic=False, locally_advanced=False, advanced=False,
                          early_stage=True)
    elif m and m.upper().startswith("M0"):
        extent.update(metastatic=False)
    if prefix and prefix.lower() in ("p", "yp") and t and t.upper() not in ("TX", "T0"):
        extent["resected"] = True
    return extent


_STAGE_GROUP = re_compile(r"^(0|IV|III|II|I)([A-C]?[0-9]?)$")


def parse_stage_group(group: str) -> tuple[str, str] | None:
    """'IIIA' -> ('III', 'A'); 'IV' -> ('IV', ''); anything else -> None."""
    text = group.strip().upper().removeprefix("STAGE").strip()
    match = _STAGE_GROUP.match(text)
    return (match.group(1), match.group(2)) if match else None


def stage_in(group: str, allowed: Iterable[str]) -> Truth:
    """Is the patient's stage group among the allowed ones? None when the patient's group is
    less precise than the trial's list ("III" against ["IIIB", "IIIC"])."""
    patient = parse_stage_group(group)
    if patient is None:
        return None
    undecided = False
    for item in allowed:
        wanted = parse_stage_group(str(item))
        if wanted is None or wanted[0] != patient[0]:
            continue
        if not wanted[1] or patient[1].startswith(wanted[1]):
            return True  # "IV" allows IVA and IVB; "IIIC" allows IIIC1
        if not patient[1] or wanted[1].startswith(patient[1]):
            undecided = True  # "III" could be IIIB; "IIIC" could be IIIC1
    return None if undecided else False


# --------------------------------------------------------------------------- requirement


@dataclass
class RequirementResult:
    """Whether a requirement's statement is true for the patient (None: unknown)."""

    kind: str
    truth: Truth
    reason: str
    evidence: str = ""
    text: str = ""
    params: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def result(self) -> Result:
        """The truth of the statement in the met/not_met/unknown vocabulary."""
        return "unknown" if self.truth is None else ("met" if self.truth else "not_met")

    @property
    def material(self) -> bool:
        """An unknown that matters for the verdict (see the module docstring). A bound on a
        graded adverse event ("neuropathy grade 0 or 1") is screening, like a laboratory
        value, not the population."""
        return self.truth is None and self.kind in MATERIAL_KINDS and not is_grade_bound(
            self.params or {})

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "truth": self.truth, "reason": self.reason,
                "evidence": self.evidence, "text": self.text}


def evaluate_requirement(req: Requirement, patient: Patient) -> RequirementResult:
    """Decide one requirement's statement for the patient, with a plain-words reason."""
    check = _CHECKS.get(req.kind)
    params = req.params or {}
    if req.kind == "extent" and params.get("planned") and in_adjuvant_setting(patient):
        # "Scheduled for elective breast cancer surgery", "eligible for primary surgery": a
        # treatment of the primary still ahead, where the primary was already resected with
        # nothing left since.
        return RequirementResult(req.kind, False, "the primary tumour was already resected "
                                 "(trial: its treatment still planned)", patient.stage_evidence,
                                 req.text, params)
    if check is None:
        truth, reason, evidence = None, f"unrecognised requirement '{req.kind}'; needs review", ""
    else:
        if params.get("except") and req.kind in ("prior_therapy", "prior_lines"):
            patient = _excepting(patient, params["except"])
        if params.get("classes") and req.kind == "prior_lines":
            patient = _lines_of_classes(patient, params["classes"])
        truth, reason, evidence = check(params, patient)
    if params.get("negated"):
        # "No distant metastases", "not pregnant": the criterion states the opposite fact.
        truth = None if truth is None else not truth
        reason = f"{reason} (criterion asks for the opposite)" if truth is False else reason
    return RequirementResult(req.kind, truth, reason, evidence, req.text, params)


Check = tuple[Truth, str, str]


def _excepting(patient: Patient, exception: dict) -> Patient:
    """The patient as a requirement with exceptions sees them: without the regimens it
    excepts ("other than EGFR-TKI", "except adjuvant chemotherapy"). A regimen is excepted
    when it was given in an excepted setting or when every drug in it is excepted by name
    or class."""
    if not patient.prior_regimens:
        return patient
    drugs = {str(d).lower() for d in exception.get("drugs") or []}
    classes = {str(c).lower() for c in exception.get("classes") or []}

    def excepted(regimen: PriorTherapy) -> bool:
        if exception.get("adjuvant") and regimen.setting == "adjuvant":
            return True
        if not regimen.drugs or not (drugs or classes):
            return False
        return all(drug in drugs or bool(regimen.classes_of(drug) & classes)
                   for drug in regimen.drugs)

    kept = [r for r in patient.prior_regimens if not excepted(r)]
    if len(kept) == len(patient.prior_regimens):
        return patient
    # A count the notes state covers every line: not one less what a drug exception leaves out.
    stated = patient.stated_lines if not (drugs or classes) else None
    return replace(patient, prior_regimens=kept, stated_lines=stated, memo={})


def _lines_of_classes(patient: Patient, classes: list[str]) -> Patient:
    """The patient as a count of one class's lines sees them ("no more than 2 prior lines of
    chemotherapy"): only regimens with a drug of the class, numbered among themselves (the
    notes' "2L capecitabine" after "1L letrozole + ribociclib" is the first chemotherapy
    line), and no stated count of all lines."""
    if not patient.prior_regimens:
        return patient
    wanted = {c.lower() for c in classes}
    kept = [r for r in patient.prior_regimens if r.classes & wanted]
    numbers = sorted({r.line for r in kept if r.line})
    kept = [replace(r, line=numbers.index(r.line) + 1) if r.line else r for r in kept]
    return replace(patient, prior_regimens=kept, stated_lines=None, memo={})


def _check_cancer_type(params: dict, patient: Patient) -> Check:
    code = patient.cancer_code
    if code is None:
        return None, "cancer type not documented", ""
    onto = patient.ontology
    label = f"{patient.cancer_name or code} ({code})"
    evidence = patient.cancer_evidence
    excepted = [c for c in params.get("except") or [] if onto.is_a(code, c)]
    if excepted:
        return False, f"{label} is excluded by the trial ({', '.join(excepted)})", evidence
    scope = params.get("scope") or "codes"
    if scope == "any":
        return True, f"{label}: any cancer accepted", evidence
    if scope == "solid":
        solid = onto.is_solid(code)
        return solid, f"{label} is {'a' if solid else 'not a'} solid tumour", evidence
    if scope == "heme":
        heme = onto.is_heme(code)
        return heme, f"{label} is {'a' if heme else 'not a'} haematological cancer", evidence
    codes = [str(c) for c in params.get("codes") or []]
    if not codes:
        return None, "trial's cancer type not recognised; needs review", ""
    if any(onto.is_a(code, wanted) for wanted in codes):
        return True, f"{label} matches {', '.join(codes)}", evidence
    narrower = [wanted for wanted in codes if onto.is_a(wanted, code)]
    if narrower:
        return (None, f"cancer subtype not documented ({label}; trial requires "
                f"{', '.join(narrower)})", evidence)
    return False, f"{label} is not {', '.join(codes)}", evidence


def _broader_terms(term: str, patient: Patient, fact: str) -> list[str]:
    """The term and the broader terms above it in the vocabulary ("ductal carcinoma" ->
    adenocarcinoma -> carcinoma; "colon" -> colorectum)."""
    lookup = getattr(patient.ontology, "histology" if fact == "histology" else "site", None)
    chain = [term.lower().strip()]
    while lookup is not None and len(chain) < 10:
        entry = lookup(chain[-1])
        broader = getattr(entry, "broader" if fact == "histology" else "parent", None)
        if not broader or broader.lower() in chain:
            break
        chain.append(broader.lower())
    return chain


def _words_match(wanted: str, have: list[str]) -> Truth:
    """Histology/site words against the patient's term and its broader terms:
    'adenocarcinoma' accepts ductal carcinoma; 'non-squamous' accepts adenocarcinoma."""
    wanted = wanted.lower().strip()
    negated = re.match(r"^non[- ]?(.+)$", wanted)
    if negated:
        return not any(negated.group(1) in term for term in have)
    return any(wanted in term or term in wanted for term in have[:1]) or wanted in have[1:]


def _check_words(params: dict, patient: Patient, key: str, fact: str) -> Check:
    wanted = [str(w) for w in params.get(key) or []]
    have = getattr(patient, fact) or (patient.cancer_name if fact == "histology" else None)
    label = fact.replace("_", " ")
    if not wanted:
        return None, f"trial's {label} not recognised; needs review", ""
    if not have:
        return None, f"{label} not documented", ""
    terms = _broader_terms(have, patient, fact)
    if any(_words_match(w, terms) for w in wanted):
        return True, f"{label} {have} matches {' or '.join(wanted)}", patient.cancer_evidence
    return False, f"{label} {have} is not {' or '.join(wanted)}", patient.cancer_evidence


def _check_histology(params: dict, patient: Patient) -> Check:
    return _check_words(params, patient, "histologies", "histology")


def _check_primary_site(params: dict, patient: Patient) -> Check:
    return _check_words(params, patient, "sites", "primary_site")


def _check_stage(params: dict, patient: Patient) -> Check:
    groups = [str(g) for g in params.get("groups") or []]
    wanted = ", ".join(groups)
    if not groups:
        return None, "trial's stage not recognised; needs review", ""
    if not patient.stage_group:
        if unstaged_disease(patient.cancer_code, patient.ontology) and all(
                g.upper().startswith("I") for g in groups):
            # "Stage I-III cancer": a leukaemia or MDS has no stage group (restage.py's data).
            return False, f"{patient.cancer_code} has no stage group (trial: {wanted})", ""
        if patient.stage_m and patient.stage_m.upper().startswith("M1"):
            return stage_in("IV", groups), f"{patient.stage_m} (stage IV); trial: {wanted}", \
                patient.stage_evidence
        return None, f"stage not documented (trial: {wanted})", ""
    truth = stage_in(patient.stage_group, groups)
    if truth is None:
        return (None, f"stage substage not documented (stage {patient.stage_group}; trial: "
                f"{wanted})", patient.stage_evidence)
    verb = "is" if truth else "is not"
    return truth, f"stage {patient.stage_group} {verb} among {wanted}", patient.stage_evidence


_EXTENT_WORDS = {
    "metastatic": "metastatic disease",
    "locally_advanced": "locally advanced disease",
    "advanced": "advanced disease",
    "early_stage": "early-stage disease",
    "resected": "resected disease",
    "unresectable": "unresectable disease",
    "recurrent": "recurrent disease",
}


def _check_extent(params: dict, patient: Patient) -> Check:
    if params.get("beyond_cure"):
        curable = _curable_now(patient)
        if curable is not None:
            return curable
    if params.get("defined") and not params.get("negated"):
        # The criterion defines the term itself ("locally advanced breast cancer defined as
        # any of the following": T2 N1 among them); the stage's reading is not its own.
        truth, reason, evidence = _extent_truth(params, patient)
        if truth is False:
            return None, f"{reason}; the criterion defines the term its own way: check", \
                evidence
        return truth, reason, evidence
    return _extent_truth(params, patient)


def _extent_truth(params: dict, patient: Patient) -> Check:
    wanted = str(params.get("extent") or "")
    words = _EXTENT_WORDS.get(wanted, wanted.replace("_", " "))
    if params.get("recurrent") and patient.extent["recurrent"] is False:
        # "recurrent locally advanced (unresectable)": a local recurrence
        return False, f"recurrent {words} wanted; the disease has not recurred (newly " \
            "diagnosed or untreated)", patient.stage_evidence
    truth = patient.extent.get(wanted)
    stage = patient.stage_group or patient.stage_m
    if truth is None:
        known = f" (stage {stage} does not say)" if stage else ""
        return None, f"{words} not documented{known}", patient.stage_evidence
    if wanted == "recurrent" and patient.relapse_noted:
        return True, "the notes describe relapsed, recurrent or refractory disease", \
            f"notes: {patient.relapse_noted}"
    if wanted == "recurrent" and patient.newly_diagnosed and truth is False:
        return False, "the notes describe newly diagnosed disease, not recurrent", ""
    if wanted == "recurrent" and truth is False and patient.prior_regimens == []:
        return False, "no prior treatment: the disease cannot have relapsed or be refractory", \
            _prior_evidence(patient)
    if truth is False and wanted in ("metastatic", "locally_advanced", "unresectable") and \
            marrow_disease(patient.cancer_code, patient.ontology):
        return False, f"{patient.cancer_code} is a marrow disease: never {words} in the TNM " \
            "sense", ""
    noted = patient.from_notes.get("metastatic")
    by_stage = patient.stage_extent().get(wanted)
    if by_stage is None or by_stage != truth:
        # Decided by the course the notes describe (a metastatic recurrence after a stage
        # IIIB diagnosis), not by the stage: say so.
        at = f" (stage {stage} at diagnosis)" if stage and by_stage is not None else ""
        return truth, f"the notes {'mean' if truth else 'rule out'} {words}{at}", \
            f"notes: {noted}" if noted else patient.stage_evidence
    return truth, f"stage {stage} {'means' if truth else 'rules out'} {words}", \
        patient.stage_evidence


def _curable_now(patient: Patient) -> Check | None:
    """Whether "not a candidate for potentially curative therapy" is false for a solid
    tumour that has not spread, not recurred and is not unresectable: such disease is
    treated with curative intent (surgery, definitive chemoradiation; NCCN, ESMO). None when
    that does not settle it (haematological cancers, recurrence, unresectable or metastatic
    disease: the extent check decides)."""
    if patient.curative_plan:
        return False, "the notes plan treatment with curative intent (trial: not a candidate " \
            "for potentially curative therapy)", f"notes: {patient.curative_plan}"
    extent = patient.extent
    if is_heme(patient) or extent["metastatic"] is not False or extent["recurrent"] or \
            extent["unresectable"]:
        return None
    return False, "no distant spread, recurrence or unresectability: disease treated with " \
        "curative intent (trial: disease beyond curative therapy)", patient.stage_evidence


def _check_measurable_disease(params: dict, patient: Patient) -> Check:
    standard = params.get("standard") or "RECIST 1.1"
    if "RECIST" in str(params.get("standard") or "").upper() and \
            marrow_disease(patient.cancer_code, patient.ontology):
        # (Only a RECIST the criterion names: "measurable disease" alone is also M-protein
        # or marrow blasts.)
        return False, f"{patient.cancer_code} is a marrow disease, which {standard} (solid " \
            "tumours) does not measure", ""
    if _nothing_left(patient.extent):
        # Resected with no spread or recurrence since: nothing left to measure.
        return False, f"no measurable disease ({standard}): resected, no recurrence stated", \
            patient.stage_evidence
    return None, f"measurable disease ({standard}) not documented", ""


def _check_age(params: dict, patient: Patient) -> Check:
    low, high = params.get("min"), params.get("max")
    bounds = _bounds_text(low, high, "years")
    if patient.age is None:
        return None, f"age not documented (trial: {bounds})", ""
    truth = (low is None or patient.age >= low) and (high is None or patient.age <= high)
    return truth, f"age {patient.age:g} {'within' if truth else 'outside'} {bounds}", \
        f"case: age {patient.age:g}"


def _check_sex(params: dict, patient: Patient) -> Check:
    wanted = str(params.get("sex") or "").lower()
    if wanted not in ("female", "male"):
        return True, "trial open to all sexes", ""
    if patient.sex is None:
        return None, f"sex not documented (trial: {wanted} only)", ""
    truth = patient.sex == wanted
    return truth, f"patient is {patient.sex}; trial: {wanted} only", f"case: sex {patient.sex}"


# ECOG to Karnofsky (Oken MM et al., Am J Clin Oncol 1982; the usual correspondence
# 0 = 90-100, 1 = 70-80, 2 = 50-60, 3 = 30-40, 4 = 10-20).
_ECOG_TO_KPS = {0: (90, 100), 1: (70, 80), 2: (50, 60), 3: (30, 40), 4: (10, 20), 5: (0, 0)}


def _check_performance_status(params: dict, patient: Patient) -> Check:
    scale = str(params.get("scale") or "ECOG").upper()
    low, high = params.get("min"), params.get("max")
    bounds = _bounds_text(low, high, "", prefix=f"{scale} ")
    if patient.ecog is None:
        return None, f"{'ECOG' if scale == 'ECOG' else 'performance status'} not documented " \
            f"(trial: {bounds})", ""
    noted = patient.from_notes.get("ecog")
    evidence = f"notes: {noted}" if noted else f"case: ECOG {patient.ecog}"
    if scale == "ECOG":
        truth = (low is None or patient.ecog >= low) and (high is None or patient.ecog <= high)
        return truth, f"ECOG {patient.ecog} {'within' if truth else 'outside'} {bounds}", evidence
    kps_low, kps_high = _ECOG_TO_KPS.get(patient.ecog, (0, 100))
    fits_all = (low is None or kps_low >= low) and (high is None or kps_high <= high)
    fits_none = (low is not None and kps_high < low) or (high is not None and kps_low > high)
    if fits_all:
        return True, f"ECOG {patient.ecog} (KPS {kps_low}-{kps_high}) within {bounds}", evidence
    if fits_none:
        return False, f"ECOG {patient.ecog} (KPS {kps_low}-{kps_high}) outside {bounds}", evidence
    return None, f"Karnofsky score not documented (ECOG {patient.ecog}; trial: {bounds})", \
        evidence


def _check_prior_therapy(params: dict, patient: Patient) -> Check:
    received = params.get("received", True) is not False
    drugs = [str(d).lower() for d in params.get("drugs") or []]
    classes = [str(c).lower() for c in params.get("classes") or []]
    named = " or ".join(drugs + classes) or "systemic therapy"
    if patient.prior_drugs is None:
        return None, f"prior therapy not documented (trial: {'prior' if received else 'no prior'}" \
            f" {named})", ""
    evidence = _prior_evidence(patient)
    if drugs or classes:
        found = sorted((patient.prior_drugs & set(drugs)) | (
            (patient.prior_classes or frozenset()) & set(classes)))
    else:
        found = sorted(patient.prior_drugs)
    if not found and "surgery" in classes and patient.extent.get("resected") is True:
        # A tumour the notes call resected ("ypT1c ypN1a", "s/p lumpectomy") was operated
        # on, whatever the list of therapies leaves out.
        found = ["surgery (the tumour was resected)"]
    had = bool(found)
    if not had and not patient.prior_complete:
        # The notes name some therapies; one they do not name may still have been given.
        return None, f"prior {named} not documented (the notes name " \
            f"{', '.join(patient.prior_therapies or []) or 'none'})", evidence
    what = f"received {', '.join(found)}" if had else f"no prior {named}"
    if had and received and params.get("progressed") and _not_failed(found, params, patient):
        # "Progression to previous treatment with docetaxel" for a patient on docetaxel
        # with stable disease: given, but not (yet) failed.
        return None, f"{what}, but the notes describe a response or stable disease on it " \
            "(trial: progressed on it)", evidence
    if had and received and params.get("dose_above"):
        # A cumulative-dose bound ("doxorubicin 450 mg/m2 or more"): standard courses stay
        # under it, and the notes rarely total the dose.
        return None, f"{what}; whether the cumulative dose reached the trial's bound is not " \
            "documented", evidence
    return had == received, what, evidence


def _responding_drugs(regimens: list[PriorTherapy] | None, texts: list[str]) -> frozenset[str]:
    """The drugs of regimens the notes say respond or are stable, with no progression on
    them stated (`course.responding_on`, `course.progressed_on`)."""
    found: set[str] = set()
    for regimen in regimens or []:
        if regimen.drugs and responding_on(regimen.drugs, texts) and \
                not progressed_on(regimen.drugs, texts):
            found |= regimen.drugs
    return frozenset(found)


def _not_failed(found: list[str], params: dict, patient: Patient) -> bool:
    """Is every regimen giving the therapies found one the disease still responds to?"""
    drugs = {str(d).lower() for d in params.get("drugs") or []}
    classes = {str(c).lower() for c in params.get("classes") or []}
    given = [r for r in patient.prior_regimens or []
             if r.drugs & drugs or r.classes & classes]
    return bool(given) and all(r.drugs and r.drugs <= patient.responding_drugs for r in given)


def _prior_evidence(patient: Patient) -> str:
    noted = patient.from_notes.get("prior_therapies")
    if noted:
        return f"notes: {noted}"
    return f"case: prior therapies {', '.join(patient.prior_therapies or []) or 'none'}"


def _check_prior_lines(params: dict, patient: Patient) -> Check:
    truth, reason, evidence = _prior_lines_result(params, patient)
    if truth is False and params.get("or_regimen") and not _nothing_left(patient.extent):
        # "... or for whom regimens containing gemcitabine ... might be considered": the
        # trial's other door, open where guidelines list one of them for this cancer.
        door = _regimen_door(str(params["or_regimen"]), patient)
        if door is False:
            return False, f"{reason}; none of {params['or_regimen']} is a standard option " \
                f"for {patient.cancer_name or patient.cancer_code}", evidence
        return None, f"{reason}; but the trial also takes patients for whom " \
            f"{params['or_regimen']} might be considered: check", evidence
    return truth, reason, evidence


def _regimen_door(regimens: str, patient: Patient) -> Truth:
    """Whether guidelines list one of the agents named for the patient's cancer in advanced
    disease (match/data/standard_options.json): False when none is, None when the table
    does not cover them or the cancer is unknown."""
    if not patient.cancer_code:
        return None
    listed = _standard_for(patient, [m.key for m in find_drugs(regimens)])
    if any(v is True for v in listed):
        return True
    return False if listed and all(v is False for v in listed) else None


def _standard_for(patient: Patient, drugs: list[str]) -> list[Truth]:
    """For each drug, whether guidelines list it for the patient's (known) cancer in advanced
    disease; None where the table does not cover the drug."""
    code, is_a = patient.cancer_code, patient.ontology.is_a
    return [standard_option_for(drug, str(code), is_a) for drug in drugs]


def _check_regimen_option(params: dict, patient: Patient) -> Check:
    """A regimen the trial asks to suit the patient's cancer ("for which gemcitabine plus
    cisplatin treatment is considered a clinically appropriate option"): met when guidelines
    list every drug named for the cancer in advanced disease (match/data/standard_options.json),
    not met when they leave one out, unknown when the table does not cover a drug."""
    drugs = [str(d) for d in params.get("drugs") or []]
    if not patient.cancer_code or not drugs:
        return None, "whether the regimen suits this cancer: cancer type not documented", ""
    name = patient.cancer_name or patient.cancer_code
    listed = _standard_for(patient, drugs)
    missing = [d for d, v in zip(drugs, listed, strict=True) if v is False]
    if missing:
        return False, f"{', '.join(missing)} is not a standard option for {name} " \
            f"(trial: {' + '.join(drugs)} must be appropriate)", patient.cancer_evidence
    if all(v is True for v in listed):
        return True, f"guidelines list {' + '.join(drugs)} for {name}", patient.cancer_evidence
    return None, f"whether {' + '.join(drugs)} suits {name}: check", patient.cancer_evidence


def _prior_lines_result(params: dict, patient: Patient) -> Check:
    low, high = params.get("min"), params.get("max")
    bounds = _bounds_text(low, high, "prior lines")
    if params.get("beyond_standard"):
        bounds = "disease refractory to, relapsed after or without standard therapy: >= 1 " \
            "prior line"
        settled = _within_standard_therapy(patient)
        if settled:
            return False, f"{settled} (trial: {bounds})", patient.stage_evidence or \
                _prior_evidence(patient)
        if params.get("exhausted") and patient.open_protocols:
            # "No standard therapy proven to provide clinical benefit is available",
            # "exhausted all effective therapies": a labelled biomarker-directed therapy the
            # patient has not had is such a therapy (BRAF V600E thyroid cancer after
            # lenvatinib still has dabrafenib + trametinib).
            return False, f"a standard option remains: {'; '.join(patient.open_protocols[:3])}" \
                " (trial: no standard therapy left)", _prior_evidence(patient)
        first = _first_course_only(patient)
        if first is not None and params.get("any_prior") and first[0] is False:
            # "Progressed following prior treatment": the curative-intent course the disease
            # came back after is prior treatment.
            given = ", ".join(patient.prior_therapies or [])
            return True, f"recurred after prior treatment ({given}) (trial: progressed " \
                "following prior treatment)", patient.relapse_noted or _prior_evidence(patient)
        if first is not None:
            return first[0], f"{first[1]} (trial: {bounds})", patient.relapse_noted or \
                _prior_evidence(patient)
        left = _standard_lines_left(patient, bool(params.get("exhausted")))
        if left:
            return False, f"{left} (trial: {bounds})", _prior_evidence(patient)
        if patient.prior_lines == (1, 1) and not patient.relapse_noted and \
                not patient.progression_noted:
            # One line and no word of progression on it or of its failure: the disease may
            # still be responding to its first standard therapy (a castration-sensitive
            # cancer twelve days into ADT is not refractory to it).
            return None, f"1 prior line ({', '.join(patient.prior_therapies or [])}); " \
                f"progression on it is not stated (trial: {bounds})", _prior_evidence(patient)
        if params.get("exhausted") and patient.prior_lines is not None and \
                patient.prior_lines[0] >= 1:
            # "No standard therapy exists", "exhausted all effective therapies": whether the
            # standard options for this cancer are used up, the notes must say.
            return None, f"{patient.prior_lines[0]} prior line(s); whether standard options " \
                "remain is not stated (trial: no standard therapy left)", _prior_evidence(patient)
        local_only = _local_treatment_only(patient)
        if local_only:
            return False, f"{local_only} (trial: {bounds})", patient.relapse_noted or \
                patient.stage_evidence or _prior_evidence(patient)
        if patient.prior_lines is not None and patient.prior_lines[1] == 0 and \
                patient.prior_regimens:
            # Only local or radioiodine treatment so far: the disease may be refractory to
            # it (radioiodine-refractory thyroid cancer), or standard systemic therapy may
            # lie ahead; the notes must say which.
            return None, f"no prior systemic line; whether the disease is beyond standard " \
                f"therapy after {', '.join(patient.prior_therapies or [])} is not stated", \
                _prior_evidence(patient)
    lines, inferred = lines_now(patient)
    if lines is None:
        return None, f"number of prior lines not documented (trial: {bounds})", ""
    fewest, most = lines
    evidence = f"notes: {patient.relapse_noted}" if inferred else _prior_evidence(patient)
    have = "at least 1 (relapsed or refractory disease)" if inferred else \
        f"{fewest}" if fewest == most else f"{fewest}-{most}"
    fits = [(low is None or n >= low) and (high is None or n <= high)
            for n in range(fewest, most + 1)]
    if all(fits):
        return True, f"{have} prior line(s) within {bounds}", evidence
    if not any(fits):
        return False, f"{have} prior line(s) outside {bounds}", evidence
    return None, f"number of prior lines unclear ({have}; trial: {bounds}); write regimens " \
        "as 'drug + drug' in the case", evidence


def lines_now(patient: Patient) -> tuple[tuple[int, int] | None, bool]:
    """(fewest, most) prior lines of therapy for advanced disease, or None when not
    documented, and whether the count is inferred from a relapse alone (the profile's
    `now` shows the same figures the prior-lines check reads)."""
    lines = patient.prior_lines
    if lines is None and patient.relapse_noted and is_heme(patient):
        # A leukaemia, lymphoma or myeloma that relapsed after a remission or is refractory
        # was treated: at least one line, however many the notes do not list.
        return (1, 11), True
    return lines, False


def _within_standard_therapy(patient: Patient) -> str | None:
    """Why the disease is not (yet) beyond standard therapy, or None when it may be.

    Resected with nothing since (the adjuvant setting), or newly diagnosed with no
    treatment for advanced disease yet: standard treatment lies ahead or has just removed
    the disease, so "refractory to", "relapsed after" or "no standard therapy available"
    does not describe it.
    """
    if _nothing_left(patient.extent):
        return "resected with no recurrence or distant spread stated since: the adjuvant " \
            "setting, not disease beyond standard therapy"
    if patient.curative_plan:
        # "Plan: salvage chemotherapy with curative intent": a standard treatment that may
        # cure lies ahead.
        return f"treatment with curative intent planned ({patient.curative_plan[:60]})"
    lines = patient.prior_lines
    if patient.newly_diagnosed and not patient.extent["recurrent"] and lines is not None \
            and lines[0] == 0:
        return "newly diagnosed, with no treatment for advanced disease yet"
    for condition in load_conditions():
        # A state of the disease that standard therapy still works on (population_
        # conditions.json: castration-sensitive prostate cancer)
        if condition.standard_therapy_ahead and \
                patient.conditions.get(condition.name, (False, ""))[0]:
            return condition.standard_therapy_ahead
    return None


def _standard_lines_left(patient: Patient, exhausted: bool) -> str | None:
    """Why the disease still has a standard line of therapy ahead, by the count of standard
    lines for advanced disease that guidelines list for its cancer
    (match/data/standard_lines.json), or None when the table or the history leaves it open.

    "No standard therapy exists", "has exhausted standard options" (`exhausted`): a
    metastatic colorectal cancer after FOLFOX alone still has FOLFIRI,
    trifluridine-tipiracil and regorafenib ahead. "Refractory to standard therapy" alone is
    met once a standard line has failed, and disease with no line yet is settled by the
    rules before this one.
    """
    lines = patient.prior_lines
    if not exhausted or not patient.cancer_code or lines is None or \
            not patient.prior_complete or lines[1] < 1:
        return None
    found = standard_lines_for(str(patient.cancer_code), patient.ontology.is_a)
    if found is None or lines[1] >= found[0]:
        return None
    standard, code, source = found
    had = f"{lines[1]} prior line" if lines[0] == lines[1] else \
        f"{lines[0]}-{lines[1]} prior lines"
    if lines[1] != 1:
        had += "s" if lines[0] == lines[1] else ""
    guideline = source.split(":", 1)[0]
    return f"{had} for advanced disease; {guideline} lists {standard} or more standard " \
        f"lines for {patient.cancer_name or code}: a standard option remains"


def _local_treatment_only(patient: Patient) -> str | None:
    """Why a solid tumour that has spread or come back after local treatment alone is not
    beyond standard therapy, or None when that does not settle it.

    Recurrent or metastatic disease that has had surgery or radiotherapy and no systemic
    therapy at all has its standard first systemic treatment ahead (NCCN, ESMO: systemic
    therapy is the first treatment of recurrent or metastatic disease not amenable to local
    therapy). Radioactive iodine is the exception: it is the standard treatment of advanced
    differentiated thyroid cancer, and the disease may be refractory to it.
    """
    regimens = patient.prior_regimens
    extent = patient.extent
    if is_heme(patient) or not regimens or not patient.prior_complete or \
            any(r.systemic for r in regimens) or not (extent["recurrent"] or extent["metastatic"]):
        return None
    if any("radioactive iodine" in r.classes | r.drugs for r in regimens):
        return None
    given = ", ".join(r.text for r in regimens)
    return f"only local treatment so far ({given}) and no systemic therapy: standard " \
        "systemic treatment of the recurrent or metastatic disease lies ahead"


def is_heme(patient: Patient) -> bool:
    """Is the patient's cancer a haematological one (leukaemia, lymphoma, myeloma, MDS)?"""
    return bool(patient.cancer_code) and patient.ontology.is_heme(patient.cancer_code)


def _first_course_only(patient: Patient) -> tuple[Truth, str] | None:
    """Whether a solid tumour that came back after curative-intent treatment has had any
    treatment for the recurrence: (False, why) when it has not, (None, why) when the case
    does not say, None when the question does not arise.

    A cancer staged without distant spread at diagnosis is treated with curative intent
    ((neo)adjuvant therapy, chemoradiation, primary chemotherapy after debulking); when it
    recurs, a standard first treatment for recurrent disease follows (NCCN, ESMO), so the
    disease is not yet refractory to, or beyond, standard therapy. Entries marked adjuvant,
    or a single systemic course, are that curative-intent treatment; a flat list of drugs
    that may be one course or several leaves it open.
    """
    if is_heme(patient) or not patient.extent["recurrent"] or not patient.prior_regimens:
        return None
    systemic = [r for r in patient.prior_regimens if r.systemic]
    if not systemic or any(r.setting == "advanced" or r.line for r in systemic) or \
            patient.stated_lines:
        # (A line the notes number or count, "after 1 line of multikinase TKI", was given
        # for the advanced disease.)
        # Local treatment only (surgery, radioiodine) is left to the notes: a thyroid cancer
        # may be refractory to radioiodine, which is its standard therapy.
        return None
    # The stage group is the diagnosis's; an M read with it may be the recurrence's
    # ("rM1a"). Read as the stage alone says (with its per-cancer exceptions: a stage II
    # thyroid cancer before 55 is M1).
    group = patient.diagnosis_stage_group or patient.stage_group
    at_diagnosis = replace(patient, stage_group=group, stage_m=None, stage_prefix=None,
                           metastatic_noted=None, relapse_noted=None, newly_diagnosed=False,
                           memo={}).extent
    parsed = parse_stage_group(group) if group else None
    staged_local = bool(parsed and parsed[0] in ("I", "II", "III"))
    if at_diagnosis["metastatic"] is True or (
            at_diagnosis["metastatic"] is None and not staged_local):
        # Staged without distant spread (stage I-III: an ovarian IIIC is treated with
        # curative intent by debulking and chemotherapy) or the question does not arise.
        return None
    fewest, most = lines_of_therapy(systemic)
    given = ", ".join(r.text for r in systemic)
    if most <= 1 or all(r.setting == "adjuvant" for r in systemic):
        return False, f"recurrence after curative-intent treatment ({given}) with none yet " \
            "for the recurrence: standard treatment for recurrent disease lies ahead"
    if fewest <= 1 or not patient.prior_complete:
        return None, f"recurrence after curative-intent treatment; whether any of " \
            f"{given} treated the recurrence is not stated"
    return None


def _check_condition(params: dict, patient: Patient) -> Check:
    name = str(params.get("condition") or "the condition")
    only_for = condition_cancer_types(name)
    if only_for and patient.cancer_code and not any(
            patient.ontology.is_a(patient.cancer_code, code) for code in only_for):
        # "Metastatic RCC or UC, or mCRPC": castration status describes prostate cancer only.
        return True, f"{name}: applies to {', '.join(only_for)} only", ""
    if is_grade_bound(params):
        return _check_grade(name, params, patient)
    stated = patient.conditions.get(name)
    if stated is None and patient.extent["metastatic"] is False and \
            params.get("distant_metastasis"):
        return False, f"{name}: no distant metastases", patient.stage_evidence
    if stated is None:
        entry = condition_named(name)
        if entry is not None and entry.recorded_if_present:
            return False, f"{name}: the trial is for patients with it; the notes, which " \
                "would record it, do not mention it", ""
        return None, f"{name}: the trial is for patients with it; the notes do not mention " \
            "it", ""
    has, words = stated
    return has, f"the notes {'state' if has else 'rule out'} {name}", f"notes: {words}"


def _check_grade(name: str, params: dict, patient: Patient) -> Check:
    """A graded condition's bound ("peripheral neuropathy >= grade 2", "grade 0 or 1"): the
    grade now from the notes, 0 where they say the patient has none."""
    low, high = params.get("min_grade"), params.get("max_grade")
    wanted = f"grade >= {low}" if low is not None else f"grade <= {high}"
    if params.get("unresolved_toxicity"):
        # "AEs of prior therapy not resolved to grade <= 1": the graded conditions it covers
        wanted += " as an unresolved toxicity of earlier treatment"
    grade, words = patient.condition_grades.get(name, (None, ""))
    stated = patient.conditions.get(name)
    if grade is None and stated is not None and stated[0] is False:
        grade, words = 0, stated[1]
    if grade is None:
        known = "graded" if stated is None else "noted without a grade"
        return None, f"{name} not {known} in the notes (trial: {wanted})", \
            f"notes: {words}" if words else ""
    truth = (low is None or grade >= low) and (high is None or grade <= high)
    return truth, f"{name} grade {grade} {'meets' if truth else 'does not meet'} {wanted}", \
        f"notes: {words}"


def brain_metastases_now(patient: Patient) -> tuple[Truth, str, str]:
    """Brain metastases now (True, False or None), why, and the words that show it: as the
    notes or the case file state them, else none for a solid tumour without distant spread
    (AJCC: brain metastases are M1)."""
    noted = patient.from_notes.get("brain_metastases", "")
    if patient.brain_metastases is not None:
        state = "state" if patient.brain_metastases else "state no"
        return patient.brain_metastases, f"the notes {state} brain metastases", \
            f"notes: {noted}"
    if patient.extent["metastatic"] is False and patient.cancer_code and \
            patient.ontology.is_solid(patient.cancer_code):
        return False, "no distant metastases, so no brain metastases", patient.stage_evidence
    return None, "brain metastasis status not documented", ""


_LEPTOMENINGEAL_NOTED = re_compile(r"lepto|meningeal|carcinomatous\s+meningitis", re.IGNORECASE)


def _check_cns(params: dict, patient: Patient) -> Check:
    state = params.get("state") or "any"
    words = "brain metastases" if state == "any" else f"{state} brain metastases"
    present, why, evidence = brain_metastases_now(patient)
    if state == "leptomeningeal":
        words = "leptomeningeal disease"
        noted = patient.from_notes.get("brain_metastases", "")
        if present and _LEPTOMENINGEAL_NOTED.search(noted):
            return True, f"the notes state {words}", f"notes: {noted}"
    if present and state != "any":
        return None, f"{words}: the notes state brain metastases but not whether they are " \
            f"{state}", evidence
    if present is None:
        return None, f"{words}: {why}", evidence
    return present, why, evidence


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda have, bound: have >= bound, ">": lambda have, bound: have > bound,
    "<=": lambda have, bound: have <= bound, "<": lambda have, bound: have < bound,
}


def _check_organ_function(params: dict, patient: Patient) -> Check:
    measure = str(params.get("measure") or "laboratory value")
    op, bound, unit = params.get("op"), params.get("value"), params.get("unit")
    have = patient.labs.get(measure)
    compare = _COMPARE.get(str(op))
    if have is None or compare is None or not isinstance(bound, (int, float)):
        return None, f"{measure} not documented", ""
    value, have_unit, words = have
    if have_unit != unit:
        # "Creatinine <= 1.5 x ULN" against a value in mg/dL: the lab's normal range decides.
        return None, f"{measure} {value:g} {have_unit} documented, trial limit in {unit}", \
            f"notes: {words}"
    truth = compare(value, float(bound))
    return truth, f"{measure} {value:g} {have_unit} {'meets' if truth else 'fails'} " \
        f"{op} {bound:g} {unit}", f"notes: {words}"


def _check_pregnancy(params: dict, patient: Patient) -> Check:
    if patient.sex == "male":
        return False, "patient is male", "case: sex male"
    if patient.pregnant is not None:
        noted = patient.from_notes.get("pregnancy", "")
        return patient.pregnant, f"the notes state the patient is " \
            f"{'' if patient.pregnant else 'not '}pregnant", f"notes: {noted}"
    return None, "pregnancy status not documented", ""


def _check_infection(params: dict, patient: Patient) -> Check:
    wanted = [str(a) for a in params.get("agents") or []]
    agents = "/".join(wanted) or "infection"
    known = {a: patient.infections[a] for a in wanted if a in patient.infections}
    positive = [f"{a} positive" for a, (yes, _) in known.items() if yes]
    evidence = "; ".join(f"notes: {words}" for _, words in known.values())
    if positive:
        return True, ", ".join(positive), evidence
    if wanted and len(known) == len(wanted):
        return False, f"{agents} negative", evidence
    return None, f"{agents} status not documented", evidence


def _check_other_malignancy(params: dict, patient: Patient) -> Check:
    years = params.get("within_years")
    window = f" within {years:g} years" if isinstance(years, (int, float)) else ""
    primary = patient.cancer_code
    others = [(code, year, words) for code, year, words in patient.past_cancers
              if primary and code != primary and not patient.ontology.is_a(code, primary)
              and not patient.ontology.is_a(primary, code)]
    if others:
        evidence = "; ".join(f"notes: {words}" + (f" ({year})" if year else "")
                             for _, year, words in others)
        named = ", ".join(words for _, _, words in others)
        if not isinstance(years, (int, float)):
            return True, f"history of {named}", evidence
        this_year = date.today().year
        if any(year is not None and this_year - year <= years for _, year, _ in others):
            return True, f"{named} within {years:g} years", evidence
        if all(year is not None for _, year, _ in others):
            return False, f"{named} more than {years:g} years ago", evidence
        return None, f"history of {named}; when is not documented (trial:{window})", evidence
    if patient.no_other_cancer:
        return False, "the notes state no other cancer", f"notes: {patient.no_other_cancer}"
    return None, f"history of another cancer{window} not documented", ""


def _bounds_text(low: Any, high: Any, unit: str, prefix: str = "") -> str:
    unit = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f"{prefix}{low:g}-{high:g}{unit}"
    if low is not None:
        return f"{prefix}>= {low:g}{unit}"
    if high is not None:
        return f"{prefix}<= {high:g}{unit}"
    return f"{prefix}any{unit}".strip()


# --------------------------------------------------------------------------- biomarkers

# Generic alteration words in criteria and the alteration classes they accept.
_GENERIC_ALTERATIONS = {
    "mutation": "mutation", "mutations": "mutation", "mutated": "mutation",
    "activating mutation": "mutation", "variant": "mutation", "pathogenic variant": "mutation",
    "deleterious mutation": "mutation", "alteration": "any", "alterations": "any",
    "positive": "any", "fusion": "fusion", "fusions": "fusion", "rearrangement": "fusion",
    "rearranged": "fusion", "translocation": "fusion", "amplification": "amplification",
    "amplified": "amplification", "overexpression": "any",
    "sensitizing mutation": "sensitizing", "sensitising mutation": "sensitizing",
}
# EGFR sensitising mutations (FDA osimertinib and erlotinib labels; NCCN NSCLC): exon 19
# deletions, L858R and the uncommon G719X, L861Q, S768I. Exon 20 insertions and T790M are not.
_EGFR_SENSITIZING = ("exon 19 deletion", "exon 19 del", "l858r", "g719", "l861q", "s768i")
# MSI-high and mismatch-repair deficiency are one biomarker for trials and labels (FDA
# pembrolizumab tissue-agnostic approval, 2017: "MSI-H or dMMR"); MMR "positive" means
# deficient in the extractor's vocabulary, like MSI "positive" means MSI-high.
_EQUIVALENT_MARKERS = {"MSI": ("MSI", "MMR"), "MMR": ("MMR", "MSI")}


def _norm_alteration(text: str) -> str:
    text = text.lower().strip().removeprefix("p.")
    text = re.sub(r"\s+", " ", text)
    return text.replace("deletions", "deletion").replace("insertions", "insertion")


# Markers whose positive or negative status is their protein or its gene's amplification
# (ASCO/CAP HER2 testing guideline, 2018 and 2023), not a point mutation of the gene.
_STATUS_BY_PROTEIN = frozenset({"HER2", "ERBB2"})
# Genes whose protein on IHC is a biomarker apart from their DNA alterations
# (nlp/requirements_biomarker.py reads "MET (IHC) expression" as "overexpression").
_PROTEIN_TESTED_GENES = frozenset({"MET", "EGFR"})


def _alteration_class(alteration: str) -> str:
    text = _norm_alteration(alteration)
    if any(w in text for w in ("fusion", "rearrang", "translocation", "::", "-")) and not \
            re.search(r"exon|del|ins", text):
        return "fusion"
    if "amplif" in text:
        return "amplification"
    return "mutation"


def _alteration_matches(wanted: str, marker: str, have: str | None) -> Truth:
    """Does the patient's alteration satisfy the wanted one? None when the patient's result
    does not name its alteration."""
    wanted_n = _norm_alteration(wanted)
    generic = _GENERIC_ALTERATIONS.get(wanted_n)
    if wanted_n == "overexpression" and marker.upper() in _PROTEIN_TESTED_GENES:
        # c-Met or EGFR protein on IHC: a DNA result (amplification, mutation) does not say.
        return True if have and re.search(r"express|ihc", _norm_alteration(have)) else None
    if generic == "any":
        return True
    if have is None:
        return None
    have_n = _norm_alteration(have)
    if generic == "sensitizing":
        if marker.upper() != "EGFR":
            return _alteration_class(have_n) == "mutation"
        return any(token in have_n for token in _EGFR_SENSITIZING)
    if generic:
        return _alteration_class(have_n) == generic
    if have_n == wanted_n or wanted_n in have_n:
        return True
    # "V600" accepts V600E and V600K; "exon 19 deletion" accepts "exon 19 del".
    if re.fullmatch(r"[a-z]\d+", wanted_n) and have_n.startswith(wanted_n):
        return True
    return have_n.replace("deletion", "del") == wanted_n.replace("deletion", "del")


def _negative_covers(negative: str, wanted: str, marker: str) -> bool:
    """Does a negative result for a kind of alteration ("EGFR mutation not detected", "no
    rearrangement") rule out the wanted specific one ("exon 19 deletion", "fusion")?"""
    tested = _GENERIC_ALTERATIONS.get(_norm_alteration(negative))
    if tested is None:
        return False
    if tested == "any":
        return True
    wanted_generic = _GENERIC_ALTERATIONS.get(_norm_alteration(wanted))
    if wanted_generic == "any":
        return False  # "no mutation" does not rule out a fusion or an amplification
    wanted_class = ("mutation" if wanted_generic == "sensitizing" else
                    wanted_generic or _alteration_class(wanted))
    if tested == "sensitizing":
        return wanted_generic == "sensitizing" or any(
            token in _norm_alteration(wanted) for token in _EGFR_SENSITIZING)
    return tested == wanted_class


def _value_fits(item: dict, result: Biomarker) -> Truth:
    low, high = item.get("min_value"), item.get("max_value")
    if low is None and high is None:
        return True
    if result.value is None:
        return None
    unit, have_unit = item.get("unit"), result.unit
    if unit and have_unit and str(unit).upper() != str(have_unit).upper() and not (
        {str(unit).upper(), str(have_unit).upper()} <= {"%", "TPS"}
    ):
        return None
    return (low is None or result.value >= low) and (high is None or result.value <= high)


def _wanted_text(item: dict) -> str:
    marker = item.get("marker") or "biomarker"
    parts = [marker]
    if item.get("alterations"):
        parts.append(" or ".join(item["alterations"]))
    if item.get("except_alterations"):
        parts.append("other than " + " or ".join(item["except_alterations"]))
    low, high = item.get("min_value"), item.get("max_value")
    if low is not None or high is not None:
        parts.append(_bounds_text(low, high, item.get("unit") or ""))
    status = item.get("status") or "positive"
    if status != "positive" or len(parts) == 1:
        parts.append(status)
    if item.get("germline"):
        parts.insert(0, "germline")
    return " ".join(parts)


def _biomarker_item(item: dict, patient: Patient) -> Check:
    marker = str(item.get("marker") or "")
    wanted = _wanted_text(item)
    names = _EQUIVALENT_MARKERS.get(marker.upper(), (marker.upper(),))
    results = [b for b in patient.biomarkers if b.marker.upper() in names]
    if not results:
        results, why = _family_results(marker, patient)
        if why:
            if _panel_rules_out(item, marker, patient):
                return False, f"{why}; not reported by the comprehensive tumour panel " \
                    f"(trial: {wanted})", patient.ngs_panel or ""
            return None, f"{why} (trial: {wanted})", results[0].evidence if results else ""
    if not results:
        if _panel_rules_out(item, marker, patient):
            return False, f"{marker} not among the alterations the comprehensive tumour " \
                f"panel reported (trial: {wanted})", patient.ngs_panel or ""
        return None, f"{marker} not documented (trial: {wanted})", ""
    status = str(item.get("status") or "positive")
    alterations = [str(a) for a in item.get("alterations") or []]
    if marker.upper() in _STATUS_BY_PROTEIN and not alterations:
        # "HER2-positive", "HER2-negative" (ASCO/CAP): protein on IHC or gene amplification.
        # An ERBB2 mutation (exon 20 insertion, S310F) is another biomarker and says neither.
        kept = [b for b in results if b.alteration is None or b.unit == "IHC" or
                _alteration_class(b.alteration) == "amplification" or
                "express" in b.alteration.lower()]
        if not kept:
            b = results[0]
            return None, f"{marker} {b.alteration} {b.status}: a gene mutation, not the " \
                f"{marker} status by IHC or ISH (trial: {wanted})", b.evidence
        results = kept
    if item.get("unit") and not alterations and (
            item.get("min_value") is not None or item.get("max_value") is not None):
        # A scored threshold ("HER2 IHC 2+ or 1+", "PD-L1 TPS >= 50%"): the score decides,
        # whatever word came with it (HER2 IHC 2+ is "equivocal" until ISH).
        same_unit = [b for b in results if b.value is not None and b.unit and
                     str(b.unit).upper() == str(item["unit"]).upper()]
        if same_unit:
            b = same_unit[-1]
            fits = _value_fits(item, b)
            if fits is not None and not any(r.status in ("positive", "negative")
                                            for r in same_unit):
                return fits, f"{marker} {b.unit} {b.value:g} ({b.status}) " \
                    f"{'meets' if fits else 'does not meet'} {wanted}", b.evidence
            if fits is False:
                # "HER2 IHC 2+" asked, IHC 1+ found: the score rules it out, whatever
                # another test of the marker (ERBB2 amplification on NGS) leaves open.
                return False, f"{marker} {b.unit} {b.value:g} does not meet {wanted}", \
                    b.evidence
    decided = [b for b in results if b.status in ("positive", "negative")]
    if not decided:
        b = results[0]
        return None, f"{marker} result {b.status} (trial: {wanted})", b.evidence
    if status == "negative":
        return _negative_item(item, marker, wanted, alterations, decided)
    return _positive_item(item, marker, wanted, alterations, decided)


def _panel_rules_out(item: dict, marker: str, patient: Patient) -> bool:
    """Whether a comprehensive tumour panel in the notes answers "no" for a solid tumour's
    gene alteration it did not report: a positive, somatic demand on a gene or gene family
    (not a protein, a signature or a germline variant, which such a report does not
    settle)."""
    if not patient.ngs_panel or item.get("germline") or (
            str(item.get("status") or "positive") != "positive") or not patient.cancer_code:
        return False
    onto = patient.ontology
    if not getattr(onto, "is_solid", lambda _: False)(patient.cancer_code):
        return False
    entry = getattr(onto, "biomarker", lambda _: None)(marker)
    return entry is not None and entry.kind in ("gene", "gene_family")


def _family_results(marker: str, patient: Patient) -> tuple[list[Biomarker], str]:
    """Results for a gene read from its family's, or for a family from its genes' (biomarkers
    .json `members`): "NTRK1-3 fusions negative" answers "NTRK1 fusion"; "BRCA2 mutation"
    answers "BRCA1/2 mutation". A family found positive leaves a gene open (which one?), and
    genes found negative answer for the family only when every gene was tested. Returns the
    results to use and, when the answer stays open, why."""
    onto = patient.ontology
    members = getattr(onto, "marker_members", lambda _: ())(marker)
    families = getattr(onto, "marker_families", lambda _: ())(marker)
    if members:
        found = [b for b in patient.biomarkers if b.marker in members and
                 b.status in ("positive", "negative")]
        positive = [b for b in found if b.status == "positive"]
        if positive or {b.marker for b in found} >= set(members):
            return positive or found, ""
        if found:
            return found, f"{', '.join(sorted({b.marker for b in found}))} negative; the " \
                f"other {marker} genes not documented"
        return [], ""
    family = [b for b in patient.biomarkers if b.marker in families and
              b.status in ("positive", "negative")]
    if any(b.status == "positive" for b in family):
        return family, f"{family[0].marker} positive without naming {marker}"
    return family, ""


def _positive_item(item: dict, marker: str, wanted: str, alterations: list[str],
                   decided: list[Biomarker]) -> Check:
    undecided: tuple[str, str] | None = None
    left_out = [str(a) for a in item.get("except_alterations") or []]
    positives = [b for b in decided if b.status == "positive"]
    if (item.get("min_value") is not None or item.get("max_value") is not None) and any(
            b.value is not None for b in positives):
        # A measured score ("PD-L1 TPS 20%") decides a threshold; a bare "PD-L1 expression
        # detected" in another part of the notes does not leave it open.
        positives = [b for b in positives if b.value is not None]
    for b in positives:
        fits_alteration = (
            True if not alterations else
            _any_truth(_alteration_matches(a, marker, b.alteration) for a in alterations))
        if left_out and fits_alteration is not False:
            # "KRAS mutation other than G12C", "NTRK mutation without a fusion".
            excluded = _any_truth(_alteration_matches(a, marker, b.alteration)
                                  for a in left_out)
            fits_alteration = False if excluded else (
                None if excluded is None else fits_alteration)
        fits_value = _value_fits(item, b)
        fits_germline = _germline_fits(item, b)
        truth = _all_truth((fits_alteration, fits_value, fits_germline))
        if truth:
            return True, f"{b.label()} (trial: {wanted})", b.evidence
        if truth is None and undecided is None:
            missing = ("alteration not specified" if fits_alteration is None else
                       "germline origin not documented" if fits_germline is None else
                       f"{item.get('unit') or 'value'} not documented")
            undecided = (f"{marker} {missing} ({b.label()}; trial: {wanted})", b.evidence)
    if undecided:
        return None, undecided[0], undecided[1]
    # Every result is either positive for something else or negative. A negative result
    # that names one alteration ("T790M not detected", "MET amplification: not detected")
    # says nothing about the others, nor about a gene asked for as a whole ("MET IHC 1+ or
    # more", "KRAS mutation of any kind"); a fusion not found answers for a gene whose
    # alteration of interest is its fusion ("ALK fusion negative": not ALK-positive).
    blanket_negative = [b for b in decided if b.status == "negative" and (
        not b.alteration or (not alterations and _answers_for_the_gene(b.alteration))
        or any(
            _alteration_matches(a, marker, b.alteration) or
            _negative_covers(b.alteration, a, marker) for a in alterations))]
    if positives:
        b = positives[0]
        return False, f"{b.label()} does not meet {wanted}", b.evidence
    if blanket_negative:
        b = blanket_negative[0]
        return False, f"{b.label()} (trial: {wanted})", b.evidence
    b = decided[0]
    return None, f"{marker} result for the trial's alteration not documented ({b.label()}; " \
        f"trial: {wanted})", b.evidence


def _answers_for_the_gene(alteration: str) -> bool:
    """Does a negative result for this alteration answer for the gene as a whole? A fusion
    (the alteration of interest of ALK, ROS1, RET, NTRK) and a generic mutation or
    alteration word ("BRCA1 mutation: negative") do; one named variant or an amplification
    does not."""
    generic = _GENERIC_ALTERATIONS.get(_norm_alteration(alteration))
    return generic in ("mutation", "any", "fusion") or _alteration_class(alteration) == "fusion"


def _negative_item(item: dict, marker: str, wanted: str, alterations: list[str],
                   decided: list[Biomarker]) -> Check:
    """A negative finding is wanted ("HER2-negative", "no EGFR mutation", "HER2-low").

    A range on a negative item narrows it: HER2-low is HER2 negative with IHC 1+ or 2+
    (ASCO/CAP 2018; DESTINY-Breast04), so IHC 0 does not qualify and a negative result
    without its score leaves it open."""
    for b in decided:
        if b.status != "positive":
            continue
        hit = True if not alterations else _any_truth(
            _alteration_matches(a, marker, b.alteration) for a in alterations)
        if hit:
            return False, f"{b.label()} (trial: {wanted})", b.evidence
        if hit is None:
            return None, f"{marker} alteration not specified ({b.label()}; trial: {wanted})", \
                b.evidence
    if item.get("min_value") is not None or item.get("max_value") is not None:
        negatives = [b for b in decided if b.status == "negative"]
        fits = [(_value_fits(item, b), b) for b in negatives]
        for truth, b in fits:
            if truth:
                return True, f"{b.label()} (trial: {wanted})", b.evidence
        undecided = [b for truth, b in fits if truth is None]
        if undecided:
            b = undecided[0]
            return None, f"{marker} {item.get('unit') or 'value'} not documented " \
                f"({b.label()}; trial: {wanted})", b.evidence
        b = negatives[0] if negatives else decided[0]
        return False, f"{b.label()} does not meet {wanted}", b.evidence
    b = decided[0]
    return True, f"{b.label()} (trial: {wanted})", b.evidence


def _germline_fits(item: dict, result: Biomarker) -> Truth:
    if not item.get("germline"):
        return True
    words = result.evidence.lower()
    if "germline" in words:
        return True
    if "somatic" in words:
        return False
    return None


def _check_biomarker(params: dict, patient: Patient) -> Check:
    items = [item for item in params.get("any_of") or [] if isinstance(item, dict)]
    if not items:
        return None, "trial's biomarker not recognised; needs review", ""
    checks = [_biomarker_item(item, patient) for item in items]
    for truth, reason, evidence in checks:
        if truth:
            return True, reason, evidence
    unknown = [c for c in checks if c[0] is None]
    if unknown:
        return None, "; ".join(dict.fromkeys(c[1] for c in unknown)), unknown[0][2]
    return False, "; ".join(dict.fromkeys(c[1] for c in checks)), checks[0][2]


def _any_truth(values: Iterable[Truth]) -> Truth:
    values = list(values)
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def _all_truth(values: Iterable[Truth]) -> Truth:
    values = list(values)
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


_GRADE_GROUP = re_compile(r"(?i)\b(?:grade\s+group|ISUP(?:\s+grade)?(?:\s+group)?|GG)\s*"
                          r"(?P<g>[1-5])\b")
_GLEASON_SUM = re_compile(r"(?i)\bgleason\b[^0-9]{0,12}(?P<a>[1-5])\s*\+\s*(?P<b>[1-5])|"
                          r"\bgleason\b(?:\s+(?:score|sum))?\s*(?:of\s+)?(?P<s>[2-9]|10)\b")


def grade_groups_of(detail: str | None) -> tuple[int, int] | None:
    """The ISUP grade groups (fewest, most) a prostate grade states: "Grade Group 5" (5, 5),
    "Gleason 4+3=7" (3, 3), "Gleason score 6" (1, 1), "Gleason score 7" without its patterns
    (2, 3); None when it states none."""
    if not detail:
        return None
    group = _GRADE_GROUP.search(detail)
    if group:
        return int(group.group("g")), int(group.group("g"))
    gleason = _GLEASON_SUM.search(detail)
    if gleason is None:
        return None
    if gleason.group("a"):
        found = gleason_grade_group(int(gleason.group("a")), int(gleason.group("b")))
        return found, found
    return gleason_score_groups(int(gleason.group("s")))


def _check_gleason(params: dict, patient: Patient) -> Check:
    low, high = params.get("min_group"), params.get("max_group")
    wanted = _bounds_text(low, high, "", prefix="grade group ").strip()
    if patient.cancer_code and not patient.ontology.is_a(patient.cancer_code, "PROSTATE"):
        return None, "Gleason grade: a prostate cancer's; check what the criterion means " \
            "for this cancer", ""
    pair = _GLEASON_SUM.search(patient.grade_detail or "")
    if params.get("patterns") and pair and pair.group("a"):
        # "5+4 or 5+5": the patient's own patterns decide
        have = f"{pair.group('a')}+{pair.group('b')}"
        listed = [str(p) for p in params["patterns"]]
        truth = have in listed
        return truth, f"Gleason {have} {'is' if truth else 'is not'} among " \
            f"{', '.join(listed)}", f"notes: {patient.grade_detail}"
    groups = grade_groups_of(patient.grade_detail)
    if groups is None:
        return None, f"Gleason grade group not documented (trial: {wanted})", \
            patient.grade_detail or ""
    fits = [(low is None or g >= low) and (high is None or g <= high)
            for g in range(groups[0], groups[1] + 1)]
    group = f"{groups[0]}" if groups[0] == groups[1] else f"{groups[0]}-{groups[1]}"
    if any(fits) and not all(fits):
        return None, f"grade group {group} (Gleason 7 without its patterns; trial: " \
            f"{wanted})", f"notes: {patient.grade_detail}"
    truth = all(fits)
    if not truth and params.get("or_other"):
        # "T3a or Gleason 8-10 or PSA > 20": another risk factor the criterion names may hold
        return None, f"grade group {group} outside {wanted}; the criterion's other risk " \
            "factors (T category, PSA) may hold: check", f"notes: {patient.grade_detail}"
    return truth, f"grade group {group} {'within' if truth else 'outside'} {wanted}", \
        f"notes: {patient.grade_detail}"


_CATEGORY_LEVEL = re_compile(r"^(?:[cpyra]{0,3})?[TN](is|\d)")


def _check_tnm_category(axis: str) -> Callable[[dict, Patient], Check]:
    """A T or N category requirement ("T1-2", "pN1-3", "node-positive") read against the
    patient's category of that axis (AJCC 8th ed.: Tis and T0 count as 0; N0(i+) is N0,
    N1mi is N1). Unknown when the notes give none (TX, NX), or when the trial asks for the
    clinical category at presentation and the patient's is the one after neoadjuvant
    therapy (ypN0 says nothing of cN1 before it)."""

    def check(params: dict, patient: Patient) -> Check:
        wanted = sorted(int(v) for v in params.get("values") or [])
        letter = axis.upper()
        shown = ", ".join("is" if (letter == "T" and v == 0) else str(v) for v in wanted)
        have = patient.stage_t if axis == "t" else patient.stage_n
        level = _CATEGORY_LEVEL.match(have or "")
        if not wanted or level is None:
            return None, f"{letter} category not documented (trial: {letter}{shown})", \
                patient.stage_evidence
        value = 0 if level.group(1) == "is" else int(level.group(1))
        truth = value in wanted
        if not truth and params.get("or_other"):
            # "more than 1 cm and or lymph node positive", a line of alternatives ending in
            # "OR": another condition may hold
            return None, f"{have} outside {letter}{shown}; the criterion's other " \
                "condition may hold: check", patient.stage_evidence
        prefix = (patient.stage_prefix or "").lower()
        if not truth and "y" in prefix:
            return None, f"{have} after neoadjuvant therapy; the category at presentation " \
                f"is not documented (trial: {letter}{shown})", patient.stage_evidence
        return truth, f"{have} {'within' if truth else 'outside'} {letter}{shown}", \
            patient.stage_evidence

    return check


def _check_procedural(params: dict, patient: Patient) -> Check:
    # Consent, willingness, headings, the investigator's judgement: settled at screening.
    assumed = bool(params.get("assumed"))
    return assumed, ("procedural: consent, willingness or the investigator's judgement, "
                     "settled at screening"), ""


_CHECKS: dict[str, Callable[[dict, Patient], Check]] = {
    "cancer_type": _check_cancer_type,
    "histology": _check_histology,
    "primary_site": _check_primary_site,
    "stage": _check_stage,
    "extent": _check_extent,
    "measurable_disease": _check_measurable_disease,
    "biomarker": _check_biomarker,
    "age": _check_age,
    "sex": _check_sex,
    "performance_status": _check_performance_status,
    "prior_therapy": _check_prior_therapy,
    "prior_lines": _check_prior_lines,
    "cns_metastases": _check_cns,
    "condition": _check_condition,
    "procedural": _check_procedural,
    "organ_function": _check_organ_function,
    "pregnancy": _check_pregnancy,
    "infection": _check_infection,
    "other_malignancy": _check_other_malignancy,
    "regimen_option": _check_regimen_option,
    "gleason": _check_gleason,
    "t_category": _check_tnm_category("t"),
    "n_category": _check_tnm_category("n"),
}


# --------------------------------------------------------------------------- criterion


@dataclass
class CriterionResult:
    """One criterion's result from the eligibility point of view, with its reasons."""

    kind: str
    text: str
    result: Result
    reason: str
    evidence: str
    position: int = 0
    cohort: str | None = None
    material: bool = False  # an unknown that keeps the trial possibly_eligible
    requirements: list[RequirementResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The SPEC's criterion fields, then the extras (cohort, material, requirements)."""
        return {
            "kind": self.kind,
            "text": self.text,
            "result": self.result,
            "reason": self.reason,
            "evidence": self.evidence,
            "cohort": self.cohort,
            "material": self.material,
            "requirements": [r.to_dict() for r in self.requirements],
        }


def evaluate_criterion(
    criterion: EligibilityCriterion, patient: Patient, trial_codes: Iterable[str] = ()
) -> CriterionResult:
    """The criterion's result: inclusion met when its statements hold, exclusion met when
    they do not (see the module docstring for how statements combine).

    `trial_codes` are the OncoTree codes of the trial's own conditions: an exclusion cannot
    rule out the trial's own population, so an excluded cancer type that is one of them (or
    above them) stands for a subtype the parse could not name, and is left out; with the
    extents the trial's common inclusions require (`trial_context`), an excluded extent that
    is one of them is a qualified form of it ("metastatic disease confined to bone only"),
    unknown.
    """
    base = {"kind": criterion.kind, "text": criterion.text, "position": criterion.position,
            "cohort": criterion.cohort}
    # A permission ("stable brain metastases are allowed") rules nobody out.
    requirements = [r for r in criterion.requirements if not (r.params or {}).get("allowed")]
    if criterion.kind == "inclusion":
        requirements = _drop_stray_negations(requirements, criterion.text)
    if not criterion.requirements:
        if criterion.kind == "inclusion" and _DIAGNOSIS_NAMED.search(criterion.text):
            # "Has a confirmed diagnosis of ... one of the following" whose diseases were not
            # read: the population, unevaluated (possibly eligible, never eligible)
            return CriterionResult(result="unknown", reason="free-text criterion naming the "
                                   "diagnosis the trial is for; needs review", evidence="",
                                   material=True, **base)
        return CriterionResult(result="unknown", reason=FREE_TEXT_REASON, evidence="", **base)
    if not requirements:
        return CriterionResult(result="met", reason="a permission; rules nobody out",
                               evidence="", **base)
    exclusion = criterion.kind == "exclusion"
    requirements = [_pregnancy_screen(req, exclusion) for req in requirements]
    results = []
    for req in requirements:
        own = _own_population(req, patient, trial_codes) if exclusion else None
        result = own or evaluate_requirement(req, patient)
        if not exclusion and not _FOR_A_DISEASE.search(criterion.text):
            # (A line saying whom it is for, "MELANOMA SPECIFIC: ...", names its disease
            # on purpose: the trial's other conditions are other lines' diseases.)
            result = _conditions_disagree(result, req, patient, trial_codes)
        if not exclusion and req.kind == "organ_function" and result.truth is False:
            result = _reversed_lab_bound(result, req)
        results.append(_setting_aware(result, req, criterion, patient))
    if not exclusion and any(r.kind == "extent" and r.truth is False for r in results):
        results = _solid_extents_aside(results, patient)
    if not exclusion:
        results = _another_diseases_markers(requirements, results, patient)
        results = _untreated_primary(requirements, results, patient)
    # Exclusions list alternatives of one kind ("EGFR, ALK or ROS1"; "HIV, HBV or HCV") and
    # combine kinds ("MSI-H tumours that have not received a checkpoint inhibitor").
    keys = _exclusion_groups(requirements, criterion.text) if exclusion else \
        _alternative_groups(requirements, criterion.text)
    groups: dict[str, list[RequirementResult]] = {}
    for key, r in zip(keys, results, strict=True):
        groups.setdefault(key, []).append(r)
    group_truths = {key: _any_truth(r.truth for r in group) for key, group in groups.items()}
    if not exclusion:
        group_truths = _side_truths(group_truths)
    truth = _all_truth(group_truths.values())
    if truth is False:
        deciding = [r for key, group in groups.items() if group_truths[key] is False
                    for r in group if not (key.startswith(SIDE_PREFIX) and r.truth)]
    elif truth is None:
        deciding = [r for key, group in groups.items() if group_truths[key] is None
                    for r in group if r.truth is None]
    else:
        deciding = [r for r in results if r.truth]
    if exclusion and truth is None and _KNOWN.search(criterion.text) and all(
            r.kind in _KNOWN_KINDS for r in deciding):
        # "Known HIV infection", "known active CNS metastases": a condition the notes never
        # mention is not known, so it excludes no one (screening will look).
        truth = False
        deciding = [RequirementResult(r.kind, False, f"not known: {r.reason}", r.evidence,
                                      r.text, r.params) for r in deciding]
    if exclusion:
        result: Result = "not_met" if truth else ("unknown" if truth is None else "met")
    else:
        result = "met" if truth else ("unknown" if truth is None else "not_met")
    if result == "not_met" and not exclusion and _CONDITIONAL_START.match(criterion.text):
        # "If there is a history of brain metastases treated with radiation, ...", "For
        # patients who have received neoadjuvant anti-PD-1, ...": a rule for the patients
        # it names, which fails no one else.
        return CriterionResult(result="met", reason="applies only to the patients it names: "
                               + "; ".join(dict.fromkeys(r.reason for r in deciding)),
                               evidence="", material=False, requirements=results, **base)
    if result == "not_met" and not exclusion and _ALTERNATIVE_LINE.search(criterion.text):
        # "age >= 60, or", "Subjects with pT3, pN0 OR", "or 1-3 positive lymph nodes ...":
        # one line of a list of alternatives, which the other lines may meet.
        return CriterionResult(
            result="unknown", reason="one of a list of alternatives (the line is joined to "
            "the next or previous by 'or'): " + "; ".join(dict.fromkeys(
                r.reason for r in deciding)), evidence="", material=True, requirements=results,
            **base)
    if result == "not_met" and not exclusion:
        also = _also_eligible(requirements, results, criterion.text)
        if also is not None:
            # "Patients must have relapsed/refractory leukemias ... Patients with poor-risk
            # MDS and CMML are also candidates": the patient is of the population the later
            # sentence adds, whose other terms the parse may not hold (unknown, not met).
            return CriterionResult(
                result="unknown", reason=f"of another population the criterion also admits "
                f"({also}); the rest fails: " + "; ".join(dict.fromkeys(
                    r.reason for r in deciding)), evidence="", material=True,
                requirements=results, **base)
    reason = "; ".join(dict.fromkeys(r.reason for r in deciding))
    if exclusion and result == "not_met":
        reason = f"excluded: {reason}"
    evidence = " | ".join(dict.fromkeys(r.evidence for r in deciding if r.evidence))
    # Exclusions worded "known EGFR, ALK or ROS1 alteration" exclude what is documented; an
    # untested marker is for screening to settle, not a reason to doubt the match.
    material = result == "unknown" and any(
        r.material and not (exclusion and r.kind == "biomarker") for r in deciding)
    return CriterionResult(result=result, reason=reason, evidence=evidence, material=material,
                           requirements=results, **base)


# A sentence adding a population to an inclusion ("Patients with poor-risk MDS ... are also
# candidates for this protocol", "Patients who decline surgery for stage III NSCLC are also
# eligible"), and where a sentence ends.
_ALSO_ELIGIBLE = re_compile(
    r"\b(?:are|is)\s+also\s+(?:eligible|candidates?|allowed)\b|"
    r"\bmay\s+also\s+be\s+(?:eligible|enrol\w*|included)\b", re.IGNORECASE)
_SENTENCE_STOP = re_compile(r"(?<!\d)(?<!\b[A-Za-z])\.(?!\d)|;|\n")  # not "i.e.", "e.g."


def _also_eligible(requirements: list[Requirement], results: list[RequirementResult],
                   text: str) -> str | None:
    """The words of a later sentence adding a population that the patient belongs to, where
    the sentences before it fail: every requirement that starts in that sentence holds, and
    some requirement starts before it. None otherwise."""
    for also in _ALSO_ELIGIBLE.finditer(text):
        stops = [m.end() for m in _SENTENCE_STOP.finditer(text, 0, also.start())]
        start = stops[-1] if stops else 0
        if start == 0:
            continue  # the criterion's only sentence: no population before it
        own = [r for q, r in zip(requirements, results, strict=True)
               if start <= q.start < also.end()]
        if own and all(r.truth for r in own) and any(
                q.start < start for q in requirements):
            return " ".join(text[start:also.end()].split())
    return None


# A line of a list of alternatives: it starts or ends with "or" ("age >= 60, or",
# "Subjects with pT3, pN0 OR", "OR node-negative disease defined as ...").
_ALTERNATIVE_LINE = re_compile(r"(?i)^\W*or\b|[\s,;]or\W*$")


# An inclusion written as a rule for some patients only.
_CONDITIONAL_START = re_compile(
    r"^\W*(?:[A-Z][A-Z /-]{2,40}\bSPECIFIC\s*:\s*)?(?:if|when|whenever|in\s+case|where|"
    r"for\s+(?:the\s+)?(?:patients?|participants?|subjects?|those|women|men|individuals?|"
    r"females?|males?)\s+(?:who|with|without|that|whose|of|in|enrolled|aged|receiving)|"
    r"in\s+(?:patients?|participants?|subjects?)\s+(?:who|with|without|whose)|"
    # "For one part of the study, participants must have received ...": one arm's rule
    r"for\s+(?:one|some|certain|each)\s+(?:of\s+the\s+)?(?:parts?|arms?|cohorts?))\b",
    re.IGNORECASE)
# An exclusion of a *known* condition (RequirementResult kinds the notes would state).
_KNOWN = re_compile(r"\bknown\b", re.IGNORECASE)
_KNOWN_KINDS = frozenset({"infection", "cns_metastases", "other_malignancy"})


def _pregnancy_screen(req: Requirement, exclusion: bool) -> Requirement:
    """Pregnancy in eligibility only ever screens out a pregnant patient: an inclusion asks
    for "not pregnant" and an exclusion rules out "pregnant", whatever the wording ("negative
    pregnancy test" filed under exclusions, "persons able to become pregnant must use
    contraception"), so neither a man nor a woman who is not pregnant fails on it. Likewise
    an exclusion never rules out the absence of brain metastases: "Patients must have no
    history of CNS metastasis" filed under exclusions is an inclusion's words."""
    if req.kind == "cns_metastases" and exclusion and (req.params or {}).get("negated"):
        return replace(req, params={k: v for k, v in req.params.items() if k != "negated"})
    if req.kind != "pregnancy" or bool((req.params or {}).get("negated")) is not exclusion:
        return req
    params = {k: v for k, v in (req.params or {}).items() if k != "negated"}
    if not exclusion:
        params["negated"] = True
    return replace(req, params=params)


# Receptor statuses that together describe one breast-cancer subtype ("triple-negative",
# "ER-negative, HER2-positive", "HR+/HER2-"): in an exclusion they hold together, never one
# by one (ASCO/CAP ER/PR 2020 and HER2 2018 define the subtypes by the combination).
_PHENOTYPE_MARKERS = frozenset({"ER", "PR", "HER2"})
_OR_OR_BREAK = re_compile(r"\bor\b|;|\n", re.IGNORECASE)


def _exclusion_groups(requirements: list[Requirement], text: str) -> list[str]:
    """The group of each requirement of an exclusion criterion: one group per kind (its
    requirements are alternatives, "HIV, HBV or HCV"), except receptor statuses of one
    subtype ("triple-negative" gives ER, PR and HER2 negative on one span), which must all
    hold to exclude and so each get a group of their own."""
    keys: list[str] = []
    previous: Requirement | None = None
    for number, req in enumerate(requirements):
        key = req.kind
        if req.kind == "biomarker" and previous is not None and (
                _one_phenotype(previous, req, text) or _qualified_by(previous, req, text)):
            key = keys[-1] + f"+{number}"  # a group of its own: all of them must hold
        keys.append(key)
        previous = req if req.kind == "biomarker" else previous
    return keys


def _markers(req: Requirement) -> set[str]:
    return {str(item.get("marker")) for item in req.params.get("any_of") or []}


# "HER2 mutation without HER2 protein expression", "KRAS mutation lacking ...": the second
# marker narrows the first (both must hold), it is no alternative to it.
_WITHOUT_GAP = re_compile(r"^[^;\n]{0,40}\b(?:without|lacking|but\s+(?:no|not(?!\s+limited)))\b"
                          r"[^;\n]{0,20}$", re.IGNORECASE)


def _qualified_by(first: Requirement, second: Requirement, text: str) -> bool:
    """Does the second biomarker of an exclusion narrow the first ("Known somatic mutation of
    HER2 without tumoral HER2 protein expression")?"""
    if first.end > second.start:
        return False
    return bool(_WITHOUT_GAP.match(text[first.end:second.start]))


def _one_phenotype(first: Requirement, second: Requirement, text: str) -> bool:
    if not (_markers(first) | _markers(second)) <= _PHENOTYPE_MARKERS:
        return False
    if (first.start, first.end) == (second.start, second.end):
        return True
    gap = text[first.end:second.start] if first.end <= second.start else ""
    return len(gap) <= 12 and not _OR_OR_BREAK.search(gap)


# Disease-description kinds that can stand for one another when a criterion joins them with
# "or": the disease itself ("high-grade serous or endometrioid carcinoma of the ovary") and its
# extent ("locoregionally recurrent disease ..., or stage IV disease").
_ALTERNATIVE_FAMILIES = ({"cancer_type", "histology", "primary_site"},
                         {"stage", "extent", "t_category", "n_category"})
_OR = re_compile(r"\bor\b|/", re.IGNORECASE)
_NEGATION_CUE = re_compile(r"\b(?:without|no|absence\s+of|free\s+of)\b", re.IGNORECASE)
# A lead-in and its list ("after resection ..., one of the following:\n * Stage III, or"):
# the list's "or" joins its items, not the lead-in's words with them.
_LIST_BELOW = re_compile(r":\s*\n|\n\s*[*•-]")


_ONE_OF_THE_FOLLOWING = re_compile(
    r"\b(?:at\s+least\s+(?:one|1)|any\s+one|one\s+or\s+more|any|(?<!\bonly\s)(?:one|1)|"
    r"either)\s+of\s+the\s+following\b",
    re.IGNORECASE)


# "NSCLC of either squamous or non-squamous histology": the "or" is inside the qualifier
# of the first member, not between the two.
_QUALIFYING_GAP = re_compile(r"\s*(?:of|with)\s+(?:either\s+)?(?:\w+\s+)?(?:or|and/or)\s+",
                             re.IGNORECASE)


def _alternative_groups(requirements: list[Requirement], text: str) -> list[str]:
    """The alternative group of each requirement of an inclusion criterion.

    Requirements of one disease-description kind are alternatives ("stage III or IV"); two
    kinds of one family are too when the criterion puts an "or" between them (a histology
    and a cancer type, a stage and an extent). Everything else must hold on its own, so
    biomarkers ("ER-positive and HER2-negative", "no EGFR or ALK alteration") are all
    required: their alternatives live inside one requirement's `any_of`.
    """
    # A negated statement beside plain ones of its kind ("early-stage, resected breast
    # cancer without evidence of distant metastasis") is required on its own; negations an
    # "or" joins to them were dropped before (`_drop_stray_negations`).
    # Denials are all required, whatever joins them: "No evidence of distant metastases, or
    # locally advanced inoperable disease" rules out both (neither A nor B), and
    # "non-metastatic, newly diagnosed" needs both.
    keys = [r.kind if r.kind in ALTERNATIVE_KINDS and not (
                (r.params or {}).get("negated") and (r.kind in ("extent", "stage") or any(
                    o.kind == r.kind and not (o.params or {}).get("negated")
                    for o in requirements))) else f"{r.kind}#{number}"
            for number, r in enumerate(requirements)]
    choice = _ONE_OF_THE_FOLLOWING.search(text)
    if choice is not None:
        # "pT2N0 and at least one of the following: grade 3, LVI, ER/PR negative, HER2
        # positive, Ki-67 >= 20%": what follows the lead-in are alternatives, whatever kind.
        # (Laboratory values "as demonstrated by any of the following" are all required.)
        keys = ["one-of" if 0 <= choice.end() <= r.start and r.kind != "organ_function"
                else key for key, r in zip(keys, requirements, strict=True)]
    keys = _biomarker_sides(requirements, text, keys)
    for family in _ALTERNATIVE_FAMILIES:
        members = sorted((r.start, r.end, r.kind) for r in requirements if r.kind in family)
        joined: set[str] = set()
        for index, (start, _, other) in enumerate(members):
            # The nearest earlier member of another kind: "stage IIIB/IIIC NSCLC that is
            # unresectable ..., or metastatic NSCLC" joins the stage and "metastatic" across
            # the "unresectable" between them.
            before = [(end, kind) for _, end, kind in members[:index] if kind != other]
            if not before:
                continue
            end, kind = before[-1]
            if 0 <= end <= start <= len(text) and _OR.search(text[end:start]) and \
                    not _LIST_BELOW.search(text[end:start]) and \
                    not _QUALIFYING_GAP.match(text, end, start):
                joined |= {kind, other}
        if len(joined) > 1:
            name = "+".join(sorted(joined))
            keys = [name if key in joined else key for key in keys]
    return keys


SIDE_PREFIX = "biomarker-side"
# (not "ER and/or PR", nor "1% or more")
_SIDE_OR = re_compile(r"(?<!and/)\bor\b(?!\s+(?:more|less|greater|higher|above|below|lower|"
                      r"fewer|equal)\b)", re.IGNORECASE)
# An "and" after a comma joins what follows to the whole "or" before it ("ER-negative or
# PR-negative, and HER2-positive"), and "and either" what precedes to both sides
# ("HER2-negative and either HR-positive or HR-negative"); a bare "and" binds within its
# side ("ER- or PR-positive OR ER- and PR-negative").
_SIDE_AND = re_compile(r",\s*and\b(?!\s*/)|\band\s+(?:either|both)\b", re.IGNORECASE)


def _biomarker_sides(requirements: list[Requirement], text: str, keys: list[str]) -> list[str]:
    """Biomarker subtypes an "or" sets side by side ("ER+/HER2- or triple-negative breast
    cancer", "ER positive, HER2 negative (Group 1) or triple-negative (Group 2)", "ER- or
    PR-positive OR ER- and PR-negative"): each side must hold whole, and one side will do.
    Their keys become `SIDE_PREFIX<n>#<i>`, which `evaluate_criterion` combines. Where a
    ", and" joins them ("ER-negative or PR-negative, and HER2-positive") the reading is
    unclear, and all stay required."""
    markers = sorted((r.start, r.end, index) for index, r in enumerate(requirements)
                     if r.kind == "biomarker" and 0 <= r.start < r.end <= len(text))
    if len(markers) < 2:
        return keys
    gaps = [text[end:start] for (_, end, _), (start, _, _) in zip(markers, markers[1:],
                                                                   strict=False)]
    if not any(_SIDE_OR.search(gap) for gap in gaps) or any(_SIDE_AND.search(gap)
                                                            for gap in gaps):
        return keys
    keys = list(keys)
    side = 0
    for position, (_, _, index) in enumerate(markers):
        if position and _SIDE_OR.search(gaps[position - 1]):
            side += 1
        keys[index] = f"{SIDE_PREFIX}{side}#{index}"
    return keys


def _side_truths(group_truths: dict[str, Truth]) -> dict[str, Truth]:
    """The group truths with biomarker sides (`_biomarker_sides`) combined: each side holds
    when all its groups do, and one side will do."""
    sides: dict[str, list[Truth]] = {}
    for key, truth in group_truths.items():
        if key.startswith(SIDE_PREFIX):
            sides.setdefault(key.split("#", 1)[0], []).append(truth)
    if not sides:
        return group_truths
    combined = _any_truth(_all_truth(truths) for truths in sides.values())
    return {key: (combined if key.startswith(SIDE_PREFIX) else truth)
            for key, truth in group_truths.items()}


def _drop_stray_negations(requirements: list[Requirement], text: str) -> list[Requirement]:
    """In an inclusion, alternatives of one kind where some are negated and some are not
    ("stage IIIB/IIIC not eligible for chemoradiation, or stage IV"): the negation belongs to
    a clause between them ("not eligible for ..."), not to an alternative, so it is dropped.
    Only alternatives an "or" joins: "early-stage, resected breast cancer without evidence
    of distant metastasis" asks for all three, the last one negated."""
    def joined_by_or(negated: Requirement) -> bool:
        # (an "or" after the negation's own cue is inside the negated list: "without
        # evidence of recurrence or distant metastases")
        return any(r.kind == negated.kind and not (r.params or {}).get("negated") and
                   _OR.search(gap := text[min(r.end, negated.end):max(r.start, negated.start)])
                   and not _NEGATION_CUE.search(gap)
                   for r in requirements if 0 <= r.start and 0 <= negated.start)

    plain = {r.kind for r in requirements
             if r.kind in ALTERNATIVE_KINDS and not (r.params or {}).get("negated")}
    return [Requirement(r.kind, {k: v for k, v in r.params.items() if k != "negated"}, r.text,
                        r.start, r.end)
            if r.kind in plain and (r.params or {}).get("negated") and joined_by_or(r) else r
            for r in requirements]


def _without_required_therapy(req: Requirement, patient: Patient,
                              trial_codes: Iterable[str]) -> RequirementResult | None:
    """An exclusion of prior therapy read without the therapies the trial's inclusions
    require ("Previously received ... other immunotherapy" in a trial for NSCLC that
    progressed after a PD-1 antibody): what every patient must have had cannot rule one out.
    None when the inclusions require none of what the exclusion names."""
    drugs = [c[len(_OWN_DRUG):] for c in trial_codes if c.startswith(_OWN_DRUG)]
    classes = [c[len(_OWN_CLASS):] for c in trial_codes if c.startswith(_OWN_CLASS)]
    if not drugs and not classes:
        return None
    named = {str(c).lower() for c in req.params.get("classes") or []} | \
        {str(d).lower() for d in req.params.get("drugs") or []}

    def broader(own: set[str]) -> bool:
        return bool(named & {name.lower() for name in own})

    lexicon = get_lexicon()
    own_classes = [c for c in classes if broader(lexicon.ancestors(c))]
    own_drugs = [d for d in drugs if broader({d} | lexicon_classes_of(d))]
    if not own_classes and not own_drugs:
        return None
    overlapping = own_classes + own_drugs
    exception = dict(req.params.get("except") or {"drugs": [], "classes": []})
    exception["drugs"] = sorted({*exception.get("drugs", []), *own_drugs})
    exception["classes"] = sorted({*exception.get("classes", []), *own_classes})
    result = evaluate_requirement(replace(req, params={**req.params, "except": exception}),
                                  patient)
    if result.truth is not False:
        return result
    return replace(result, reason=f"{result.reason} (the therapy the trial's inclusions "
                   f"require, {', '.join(overlapping)}, left out)")


def _own_population(req: Requirement, patient: Patient,
                    trial_codes: Iterable[str]) -> RequirementResult | None:
    """An exclusion's cancer type, histology or extent that names the trial's own population
    ("primary CNS lymphoma" read as lymphoma in a lymphoma trial), evaluated without it."""
    if req.kind == "extent" and not req.params.get("negated") and \
            _OWN_EXTENT + str(req.params.get("extent")) in trial_codes:
        # "Has symptomatic metastatic visceral spread at risk of life-threatening
        # complications", "metastatic disease confined to bone only" in a trial whose
        # inclusions require metastatic disease: a qualified form of its own population.
        return RequirementResult(
            req.kind, None, f"names the extent the trial's inclusions require "
            f"({req.params.get('extent')}); a qualified form of it: check", "", req.text,
            req.params)
    if req.kind == "prior_therapy" and req.params.get("received"):
        return _without_required_therapy(req, patient, trial_codes)
    onto = patient.ontology
    own = [c for c in trial_codes if not c.startswith("_")]
    if not own:
        return None
    if req.kind == "cancer_type" and (req.params.get("scope") or "codes") == "codes":
        codes = [str(c) for c in req.params.get("codes") or []]
        kept = [c for c in codes if not any(onto.is_a(t, c) for t in own)]
        if kept == codes:
            return None
        if kept:
            return evaluate_requirement(
                Requirement(req.kind, {**req.params, "codes": kept}, req.text), patient)
        return RequirementResult(
            req.kind, None, f"excludes a subtype of the trial's own cancer type "
            f"({', '.join(codes)}) that the notes do not settle; check the subtype", "",
            req.text, req.params)
    if req.kind == "histology":
        histology_of = getattr(onto, "histology_of", None)
        own_words = {str(histology_of(c)).lower() for c in own} if histology_of else set()
        wanted = [str(h).lower() for h in req.params.get("histologies") or []]
        if wanted and all(w in own_words for w in wanted):
            return RequirementResult(
                req.kind, None, f"excludes a subtype of the trial's own histology "
                f"({', '.join(wanted)}); check the subtype", "", req.text, req.params)
        kept = [h for h in req.params.get("histologies") or [] if str(h).lower() not in
                own_words]
        if wanted and len(kept) < len(wanted):
            # "Squamous cell carcinoma; small cell carcinoma (including ... non-small cell
            # mixed lung carcinoma)" in an NSCLC trial: the trial's own histology, named
            # inside another's description, excludes nobody; the others still do.
            return evaluate_requirement(
                Requirement(req.kind, {**req.params, "histologies": kept}, req.text), patient)
    return None


def _reversed_lab_bound(result: RequirementResult, req: Requirement) -> RequirementResult:
    """An inclusion whose laboratory bound points the wrong way for eligibility ("Patient had
    the following baseline blood chemistry levels: ... Creatinine >= 1.5 mg/dL", "AST >= 2.5x
    ULN": a record's typo for <=, as no trial of a drug enrols only those with failing
    organs): it is not read as a rule-out (unknown, saying so). Only markers of organ injury
    (creatinine, bilirubin, transaminases), bounded from above (`requirements_basic.
    ELIGIBILITY_BOUND`)."""
    usual = ELIGIBILITY_BOUND.get(str(req.params.get("measure")))
    op = str(req.params.get("op") or "")
    if usual != "<=" or op[:1] == usual[:1]:
        # (Counts bounded from above are real: "WBC < 25 x 10^9/L" in leukaemia, "platelets
        # < 50,000" in a thrombocytopenia study, "Hb <= 9.5 g/dL" in an anaemia one.)
        return result
    return replace(result, truth=None, reason=f"{result.reason}; a {op} bound on "
                   f"{req.params.get('measure')} in an inclusion is likely the record's typo "
                   f"for {usual}: check")


def _solid_extents_aside(results: list[RequirementResult],
                         patient: Patient) -> list[RequirementResult]:
    """An inclusion for solid tumours ("locally advanced or metastatic solid tumor" in a
    trial whose conditions also name myeloma) read for a marrow disease: its extents, which
    a marrow disease never has, describe the solid tumours and do not fail it; whether the
    line is the patient's is for its cancer type to say."""
    if not marrow_disease(patient.cancer_code, patient.ontology) or not any(
            r.kind == "cancer_type" and r.truth is not True for r in results):
        return results
    return [replace(r, truth=None, reason=f"{r.reason} (the line is for solid tumours)")
            if r.kind == "extent" and r.truth is False else r for r in results]


_UNTREATED_WORDS = re_compile(r"\buntreated\b|\btreatment[\s-]+na[iï]ve\b|"
                              r"\bna[iï]ve\s+to\s+(?:all\s+|any\s+)?(?:prior\s+)?treatment", re.I)


def _untreated_primary(requirements: list[Requirement], results: list[RequirementResult],
                       patient: Patient) -> list[RequirementResult]:
    """"Previously untreated stage II-III NSCLC", "untreated, non-metastatic breast cancer":
    for disease still confined, an operation on the primary is its treatment, so a patient
    whose tumour was resected is no longer untreated (a trial before surgery), whatever the
    count of systemic lines."""
    if patient.extent.get("resected") is not True or patient.extent.get("recurrent"):
        return results
    confined = any((req.kind == "stage" and not (req.params or {}).get("negated") and not any(
        str(g).startswith("IV") for g in req.params.get("groups") or [])) or (
        req.kind == "extent" and req.params.get("extent") == "metastatic"
        and req.params.get("negated")) for req in requirements)
    if not confined:
        return results
    out = []
    for req, r in zip(requirements, results, strict=True):
        if req.kind == "prior_lines" and req.params.get("max") == 0 and r.truth is not False \
                and _UNTREATED_WORDS.search(req.text or ""):
            r = replace(r, truth=False, reason="the primary tumour was resected, which treated "
                        "it (trial: previously untreated disease)",
                        evidence=patient.stage_evidence or r.evidence)
        out.append(r)
    return out


def _another_diseases_markers(requirements: list[Requirement], results: list[RequirementResult],
                              patient: Patient) -> list[RequirementResult]:
    """A line of a basket naming another cancer with its markers ("Breast cancer (triple
    negative type)" among "Urothelial cancer", "Pancreatic cancer" ...): its markers describe
    that cancer, so for a patient without it they rule nothing out. Only where the line's
    cancer type is left open (the trial's conditions include the patient's cancer, see
    `_conditions_disagree`); a line whose cancer type fails fails anyway."""
    code = patient.cancer_code
    if not code or not any(r.kind == "biomarker" and r.truth is False for r in results):
        return results
    onto = patient.ontology
    named = [req for req in requirements if req.kind == "cancer_type"
             and (req.params or {}).get("scope", "codes") == "codes"]
    if not named or any(r.kind == "cancer_type" and r.truth is not None for r in results) or \
            any(onto.is_a(code, str(c)) for req in named for c in req.params.get("codes") or []):
        return results
    others = ", ".join(str(c) for req in named for c in req.params.get("codes") or [])
    out = []
    for r in results:
        if r.kind == "biomarker" and r.truth is False:
            r = replace(r, truth=None, reason=f"{r.reason}; a marker of the line for {others}, "
                        "not the patient's cancer")
        out.append(r)
    return out


def _conditions_disagree(result: RequirementResult, req: Requirement, patient: Patient,
                         trial_codes: Iterable[str]) -> RequirementResult:
    """An inclusion naming cancer types that leave out the patient's, in a trial whose own
    conditions name it ("adenocarcinoma of the stomach or GEJ" read as stomach only, in a
    trial listing GEJ adenocarcinoma): the two sources disagree, so the answer is unknown."""
    if req.kind != "cancer_type" or result.truth is not False or not patient.cancer_code:
        return result
    onto = patient.ontology
    codes = [str(c) for c in req.params.get("codes") or []]
    listed = [t for t in trial_codes if not t.startswith("_")
              and onto.is_a(patient.cancer_code, t)
              and not any(onto.is_a(c, t) for c in codes)]  # not merely a broader heading
    if not listed or req.params.get("except") and any(
            onto.is_a(patient.cancer_code, c) for c in req.params["except"]):
        return result
    result.truth = None
    result.reason += f"; but the trial's conditions include {', '.join(listed)}: check"
    return result


_ADJUVANT_ALLOWANCE = re_compile(
    r"\b(?:neo)?adjuvant\b|\(neo\)adjuvant|\bperioperative\b|\bcurative[- ]intent\b",
    re.IGNORECASE)
# "No prior chemotherapy for metastatic breast cancer", "previous chemotherapy for MBC", "in
# the advanced setting": only treatment of advanced disease counts, so regimens marked
# adjuvant are left out (regimens of unstated setting still count: for a patient with
# advanced disease they usually were given for it).
_ADVANCED_SETTING_ONLY = re_compile(
    r"\b(?:for|in|of)\s+(?:the\s+)?(?:treatment\s+of\s+)?(?:their\s+|his\s+|her\s+)?"
    r"(?:[\w-]+\s+){0,3}?(?:metastatic|advanced|recurrent|unresectable|stage\s+IV|"
    r"MBC|mBC|mCRC|mCRPC|mHSPC)\b|\b(?:metastatic|advanced)\s+setting\b",
    re.IGNORECASE)


# A setting that takes in locally advanced disease ("in the advanced stage IIIB/IV setting"):
# definitive chemoradiation for stage III is treatment in it.
_LOCALLY_ADVANCED_SETTING = re_compile(r"\bstage\s+III|\bIIIB\b|\blocally\s+advanced\b|"
                                       r"\bunresectable\b", re.IGNORECASE)


def _setting_aware(result: RequirementResult, req: Requirement, criterion: EligibilityCriterion,
                   patient: Patient) -> RequirementResult:
    """A prior-therapy statement in a criterion that speaks of (neo)adjuvant therapy ("no
    prior chemotherapy for metastatic disease; adjuvant allowed") counts only treatment for
    advanced disease. Entries marked adjuvant are left out; entries whose setting the case
    does not say leave an unfavourable answer unknown."""
    if req.kind not in ("prior_therapy", "prior_lines") or patient.prior_regimens is None:
        return result
    names_adjuvant = bool(_ADJUVANT_ALLOWANCE.search(criterion.text))
    if not names_adjuvant and not _ADVANCED_SETTING_ONLY.search(criterion.text):
        return result
    unfavourable = result.truth is (criterion.kind == "exclusion")
    advanced = [r for r in patient.prior_regimens if r.setting != "adjuvant"]
    if result.truth is None and len(advanced) != len(patient.prior_regimens) and \
            _ADVANCED_SETTING_ONLY.search(criterion.text) and \
            not _LOCALLY_ADVANCED_SETTING.search(criterion.text):
        # "at least 1 prior line for stage IV NSCLC" with curative-intent courses among the
        # regimens: only the others are lines for advanced disease, and they may decide it.
        again = evaluate_requirement(req, replace(patient, prior_regimens=advanced))
        if again.truth is not None:
            again.reason += " (curative-intent therapy left out: the criterion counts " \
                "treatment for advanced disease)"
            return again
    if not unfavourable:
        return result
    if len(advanced) != len(patient.prior_regimens):
        again = evaluate_requirement(req, replace(patient, prior_regimens=advanced))
        if again.truth is not (criterion.kind == "exclusion"):
            again.reason += " (adjuvant therapy left out, as the criterion allows)"
            return again
    if names_adjuvant and any(r.setting is None for r in advanced):
        known = [r for r in advanced if r.setting == "advanced"]
        if known and evaluate_requirement(req, replace(
                patient, prior_regimens=known, memo={})).truth is result.truth:
            # What the notes place in the advanced setting ("1L letrozole + ribociclib ...
            # 3L T-DXd") decides it alone: the entries of unknown setting cannot undo it.
            return result
        result.truth = None
        result.reason += ("; the setting of prior therapy (adjuvant or for advanced disease) is "
                          "not documented")
    return result


# --------------------------------------------------------------------------- trial


@dataclass
class TrialVerdict:
    """A trial's verdict for one patient, with every criterion's result.

    `criteria` lists the structured facts checked first (conditions, age and sex from the
    record) and then the trial's own criteria in order. `failing` holds the criteria that rule
    the patient out; `cohort` the cohort that fits best where the trial has cohort blocks.
    """

    nct_id: str
    verdict: Verdict
    criteria: list[CriterionResult]
    failing: list[CriterionResult] = field(default_factory=list)
    cohort: str | None = None
    # The chosen cohort as (kind, name), which the labels of its criteria name.
    cohort_key: tuple[str, str] | None = None

    @property
    def deciding(self) -> list[CriterionResult]:
        """The criteria that count: common ones plus the chosen cohort's."""
        return [c for c in self.criteria if _in_cohort(c.cohort, self.cohort_key)]

    @property
    def material_unknowns(self) -> list[CriterionResult]:
        return [c for c in self.deciding if c.result == "unknown" and c.material]

    @property
    def unknowns(self) -> list[CriterionResult]:
        return [c for c in self.deciding if c.result == "unknown"]

    def met_requirements(self) -> list[RequirementResult]:
        """Inclusion requirements that hold, in deciding criteria (used for specificity)."""
        return [r for c in self.deciding if c.kind == "inclusion" and c.result == "met"
                for r in c.requirements if r.truth]


def record_criteria(trial: Trial, patient: Patient) -> list[CriterionResult]:
    """The record's structured eligibility (conditions, age and sex fields) as criteria.

    Conditions are checked because a trial reaches a patient through its conditions' codes,
    which may be narrower than the patient's (a LUAD trial for a patient with NSCLC, not
    otherwise specified). Age and sex are checked only when no criterion states them.
    """
    has_age = trial.minimum_age is not None or trial.maximum_age is not None
    has_sex = (trial.sex or "ALL").upper() in ("FEMALE", "MALE")
    stated: set[str] = set()
    if has_age or has_sex:
        memo = patient.memo
        for c in trial.criteria:
            stated |= _requirements_facts(c.requirements, memo)[3]
    # Trials (and copies of one trial) share conditions and record fields: remembered for
    # the patient by everything the checks read.
    key = ("record", tuple(trial.oncotree_codes), tuple(trial.conditions),
           trial.minimum_age if has_age and "age" not in stated else None,
           trial.maximum_age if has_age and "age" not in stated else None,
           trial.sex if has_sex and "sex" not in stated else None)
    cached = patient.memo.get(key)
    if cached is None:
        cached = patient.memo[key] = _record_criteria(trial, patient, stated)
    return list(cached)


def _record_criteria(trial: Trial, patient: Patient, stated: set[str]) -> list[CriterionResult]:
    checks = []
    codes = [c for c in trial.oncotree_codes if not c.startswith("_")]
    baskets = [c for c in trial.oncotree_codes if c.startswith("_")]
    if codes or baskets:
        scope_req = _conditions_requirement(trial, codes, baskets, patient)
        checks.append(EligibilityCriterion("inclusion", scope_req.text, -3,
                                           requirements=[scope_req]))
    if "age" not in stated and (trial.minimum_age is not None or trial.maximum_age is not None):
        text = "Age " + _bounds_text(trial.minimum_age, trial.maximum_age, "years") + \
            " (record)"
        checks.append(EligibilityCriterion(
            "inclusion", text, -2, requirements=[Requirement(
                "age", {"min": trial.minimum_age, "max": trial.maximum_age}, text)]))
    if "sex" not in stated and (trial.sex or "ALL").upper() in ("FEMALE", "MALE"):
        text = f"Sex: {trial.sex.lower()} (record)"
        checks.append(EligibilityCriterion(
            "inclusion", text, -1, requirements=[Requirement(
                "sex", {"sex": trial.sex.lower()}, text)]))
    return [evaluate_criterion(c, patient) for c in checks]


def _conditions_requirement(trial: Trial, codes: list[str], baskets: list[str],
                            patient: Patient) -> Requirement:
    text = "Conditions: " + "; ".join(trial.conditions or codes or baskets)
    onto = patient.ontology
    code = patient.cancer_code
    codes_req = Requirement("cancer_type", {"codes": codes, "scope": "codes"}, text)
    if not baskets or (code and codes and any(onto.is_a(code, c) for c in codes)):
        return codes_req
    scopes = ["any" if "_ANY" in baskets else None,
              "solid" if "_SOLID" in baskets else None, "heme" if "_HEME" in baskets else None]
    scopes = [s for s in scopes if s]
    fitting = [s for s in scopes if code and (
        s == "any" or (s == "solid" and onto.is_solid(code))
        or (s == "heme" and onto.is_heme(code)))]
    if fitting or not codes:
        return Requirement("cancer_type", {"scope": (fitting or scopes)[0]}, text)
    return codes_req


# Requirement kinds whose check never decides anything from the notes: a criterion made only
# of these is unknown (or a permission) and can never rule a patient out.
ALWAYS_UNKNOWN_KINDS = frozenset({
    "measurable_disease", "cns_metastases", "organ_function", "infection", "other_malignancy",
    "procedural",
})
_TRIAL_CONTEXT_KINDS = frozenset({"cancer_type", "histology", "extent"})


# What a requirements list says whatever the patient (see `_requirements_facts`): the list
# itself (kept alive, see `_criterion_result`), whether its evaluation reads the trial's
# codes, whether it can never rule anyone out, and the record fields it states.
_Facts = tuple[list[Requirement], bool, bool, frozenset[str]]
_RECORD_KINDS = frozenset({"age", "sex"})


def _requirements_facts(requirements: list[Requirement], memo: dict[Any, Any]) -> _Facts:
    """Facts about a requirements list, worked out once per list for the patient."""
    facts = memo.get(id(requirements))
    if facts is None or facts[0] is not requirements:
        kinds = {r.kind for r in requirements}
        facts = (requirements, bool(kinds & _TRIAL_CONTEXT_KINDS),
                 not requirements or kinds <= ALWAYS_UNKNOWN_KINDS,
                 frozenset(kinds & _RECORD_KINDS))
        memo[id(requirements)] = facts
    return facts


def _criterion_result(criterion: EligibilityCriterion, patient: Patient,
                      trial_codes: tuple[str, ...],
                      facts: _Facts | None = None) -> CriterionResult:
    """`evaluate_criterion`, remembered for the patient: trials repeat the same criteria
    ("ANC >= 1,500/uL", "Pregnant or breastfeeding") word for word.

    The same words can be parsed differently in context (a lead-in's sub-bullets), so the
    requirements are part of the key: by the identity of the requirements list, which the
    store shares between criteria with the same stored requirements (building a key from
    the params of every requirement cost more than most evaluations). The memo keeps the
    list alive, so its identity cannot pass to another list while the patient is in use.
    """
    memo = patient.memo
    if facts is None:
        facts = _requirements_facts(criterion.requirements, memo)
    key = (criterion.kind, criterion.text, id(facts[0]), trial_codes if facts[1] else None)
    cached = memo.get(key)
    if cached is None:
        cached = evaluate_criterion(criterion, patient, trial_codes)
        memo[key] = cached
    if cached.position == criterion.position and cached.cohort == criterion.cohort:
        return cached
    # The same result at this criterion's place (built directly: dataclasses.replace reads
    # the fields' metadata on every call).
    return CriterionResult(cached.kind, cached.text, cached.result, cached.reason,
                           cached.evidence, criterion.position, criterion.cohort,
                           cached.material, cached.requirements)


# A criterion written for one disease of a multi-disease trial: "For subjects with colorectal
# cancer, evidence of KRAS wild-type", "For ATLL, must not have failed ...", "Lymphomas with
# minimal marrow involvement are also eligible", "Patients with primary liver cancer are
# eligible provided that ...".
_FOR_A_DISEASE = re_compile(
    r"^\W*(?:for|in)\s+(?:(?:the\s+)?(?:subjects?|patients?|participants?|those|cohorts?|"
    r"individuals?)\s+)?(?:with|having|of)\b|^\W*for\s+[^,:;.]{2,60}[,:]|"
    r"\b(?:are|is)\s+(?:also\s+)?eligible\b|"
    r"\bmay\s+(?:also\s+)?(?:be\s+)?(?:eligible|enrol\w*|included)\b|"
    r"\bwith\s+a\s+focus\s+on\b|^\W*[A-Z][A-Z /-]{2,40}\bSPECIFIC\s*:", re.IGNORECASE)


def _names_another_cancer(result: CriterionResult) -> bool:
    """Does an inclusion fail because it names cancers other than the patient's (by type,
    histology or primary site)? Not when one of the cancers it names is the patient's: "an
    advanced solid tumour or lymphoma for which no standard therapy exists" admits a rectal
    cancer as a solid tumour, so if it fails, it fails for the patient (the disease treated
    with curative intent), not as another disease's line."""
    return result.result == "not_met" and _denies_the_disease(result)


def _denies_the_disease(result: CriterionResult) -> bool:
    """Does a line name cancers none of which is the patient's, whatever its result?"""
    return any(r.kind in ("cancer_type", "histology", "primary_site") and r.truth is False
               for r in result.requirements) and not any(
        r.kind in ("cancer_type", "histology", "primary_site") and r.truth
        for r in result.requirements)


# A line open to any tumour that carries a marker: "any histology if known to be MSI-H",
# "other solid tumors harboring NTRK fusions", "regardless of tumor type".
_ANY_HISTOLOGY = re_compile(
    r"\b(?:any|all|other)\s+(?:other\s+)?(?:histolog\w*|tumou?r(?:\s+types?)?s?|solid\s+"
    r"tumou?rs?|cancers?|malignanc\w*|primary)\b|\bregardless\s+of\s+(?:histolog\w*|tumou?r|"
    r"primary|cancer)|\btumou?r[- ]agnostic\b|\bhistology[- ]agnostic\b", re.IGNORECASE)


def _fails_as_marker_line(result: CriterionResult) -> bool:
    """Does an inclusion open to any histology fail only by its marker ("any histology if
    known to be MSI-H")? Read from the result alone, before the trial's lines are counted."""
    return result.kind == "inclusion" and result.result == "not_met" and bool(
        _ANY_HISTOLOGY.search(result.text)) and all(
        r.kind == "biomarker" or (r.kind == "cancer_type" and
                                  (r.params or {}).get("scope") == "any")
        for r in result.requirements) and any(
        r.kind == "biomarker" and r.truth is False for r in result.requirements)


def _another_population_of_the_list(result: CriterionResult, lines: set[int]) -> bool:
    """Does such a marker line stand in a list of disease lines ("NSCLC", "cervical cancer",
    ..., "any histology if known to be MSI-H")? Then it is one more population of the list,
    an alternative to the disease lines, not a requirement of all."""
    near = {result.position - 2, result.position - 1, result.position + 1}
    return _fails_as_marker_line(result) and bool(near & lines)


def disease_lines(trial: Trial, *, cohorts: bool = False) -> list[int]:
    """Positions of the common inclusion criteria that each name cancer types, when the trial
    has at least two naming different ones: a multi-disease trial listing its diseases line
    by line ("NSCLC", "cervical cancer", "urothelial cancer"), each line one population.

    A line open to every solid tumour (or every cancer, or every blood cancer) is one of
    them: "Parts A and B: advanced solid tumor ..." beside "Part C2: ... breast cancer" is a
    dose-escalation part open to all and expansion cohorts for some, not a trial for breast
    cancer alone. With `cohorts`, the inclusions of cohort blocks count as lines too
    ("Parts A and B/B2:" heading a solid-tumour line)."""
    named: dict[int, frozenset[str]] = {}
    for criterion in trial.criteria:
        if criterion.kind != "inclusion" or (criterion.cohort is not None and not cohorts):
            continue
        codes = frozenset(code for r in criterion.requirements
                          if r.kind in ("cancer_type", "histology", "primary_site")
                          and not (r.params or {}).get("allowed")
                          for code in ((r.params or {}).get("codes") or
                                       (r.params or {}).get("histologies") or
                                       (r.params or {}).get("sites") or
                                       _scope_names(r, criterion.text)))
        if codes:
            named[criterion.position] = codes
    return list(named) if len(set(named.values())) > 1 else []


# A line stating the diagnosis it admits ("Histologically proven solid tumor ...") rather
# than mentioning cancers in passing ("no prior chemotherapy for any malignancy"), and not a
# lead-in to a narrower list ("hematological malignancy, including:").
_DIAGNOSIS_LINE = re_compile(r"\b(?:histolog\w*|cytolog\w*|patholog\w*|confirm\w*|diagnos\w*|"
                             r"proven|documented)\b", re.IGNORECASE)
_NARROWING_LIST = re_compile(r"\b(?:includ\w*|following|as\s+follows)\b", re.IGNORECASE)


def _scope_names(requirement: Requirement, text: str) -> tuple[str, ...]:
    """A broad cancer-type requirement ("solid tumor", "hematologic malignancy") of a line
    stating the diagnosis, as one name of its own."""
    scope = (requirement.params or {}).get("scope") or "codes"
    if requirement.kind != "cancer_type" or scope not in ("solid", "heme") or \
            (requirement.params or {}).get("except") or not _DIAGNOSIS_LINE.search(text) or \
            _NARROWING_LIST.search(text):
        return ()
    return (f"scope:{scope}",)


_ANOTHER_DISEASE = "for another disease: "


def for_another_disease(results: list[CriterionResult], trial: Trial,
                        ontology: Ontology | None = None) -> list[CriterionResult]:
    """The results with the lines written for other diseases set aside (met, saying so).

    A line that fails only because it names other cancers is one disease's line of a
    multi-disease trial when another disease line fits the patient (or may: unknown), or
    when it says it is for that disease ("For subjects with colorectal cancer, ...", "...
    are also eligible"). When no disease line fits, they all stand: the patient's cancer is
    none of the trial's.
    """
    if not any(r.kind == "inclusion" and _names_another_cancer(r) for r in results):
        return results  # nothing to set aside (most trials)
    lines = set(disease_lines(trial))
    # A disease line fits when it does not fail by naming other cancers (it may still fail
    # for something else, which it then does on its own account); a cohort's line may fit.
    any_lines = set(disease_lines(trial, cohorts=True)) | lines
    # (Read from the requirements, not the result: "For participants with NSCLC ..." is
    # met for everyone else as a rule for the patients it names, yet admits no other
    # disease.)
    fitting = [r for r in results if r.position in any_lines and r.kind == "inclusion"
               and not _names_another_cancer(r) and not _denies_the_disease(r)]
    fits = bool(fitting)
    # A cohort's own list of diseases, one per line ("Part B2: ... NSCLC / SCLC / urothelial
    # cancer / ..."): its lines are alternatives when one of them fits.
    cohort_fits = {r.cohort for r in fitting if r.cohort is not None}
    fitting_codes = {str(code) for r in fitting for q in r.requirements
                     if q.kind == "cancer_type" and q.truth
                     for code in (q.params or {}).get("codes") or []}
    out = []
    for r in results:
        if ontology is not None and fitting_codes and r.kind == "inclusion" and \
                _narrows(r, fitting_codes, ontology):
            # "Breast tumor" in a biopsy line fits a ductal carcinoma; "invasive lobular
            # breast cancer" narrows it, and is no other disease's line.
            out.append(r)
            continue
        # A line saying whom it is for ("For subjects with colorectal cancer, ...") fails no
        # other disease, unless the trial is a list of such lines none of which fits (then
        # the patient's disease is not among the trial's).
        if r.kind == "inclusion" and _names_another_cancer(r) and (
                (fits and r.position in lines) or (r.cohort in cohort_fits and r.position in
                                                   any_lines) or (
                    _FOR_A_DISEASE.search(r.text) and (fits or len(lines) < 2))):
            r = replace(r, result="met", reason=f"{_ANOTHER_DISEASE}{r.reason}",
                        material=False)
        elif fits and _another_population_of_the_list(r, any_lines):
            # (a cohort's own list counts: "Part B2: ... NSCLC, SCLC, ..., any histology if
            # known to be MSI-H")
            r = replace(r, result="met", material=False,
                        reason=f"another population of the list, which the patient's "
                        f"disease line admits: {r.reason}")
        out.append(r)
    return out


def _narrows(result: CriterionResult, codes: set[str], ontology: Ontology) -> bool:
    """Do the cancer types a failing line names all lie below those of the lines that fit?"""
    named = [str(code) for q in result.requirements if q.kind == "cancer_type" and
             q.truth is False for code in (q.params or {}).get("codes") or []]
    return bool(named) and all(any(ontology.is_a(code, broader) and code != broader
                                   for broader in codes) for code in named)


def screen_trial(trial: Trial, patient: Patient) -> list[CriterionResult]:
    """The criteria that rule the patient out, found without reading the rest.

    A fast first pass over many candidates: criteria that cannot fail (free text, laboratory
    values, infections...) are skipped. Criteria of a cohort are left to `evaluate_trial`,
    since failing one cohort rules nobody out. Empty when nothing common fails.
    """
    failing = [r for r in record_criteria(trial, patient) if r.result == "not_met"]
    codes = trial_context(trial, patient)
    memo = patient.memo
    for criterion in trial.criteria:
        if criterion.cohort is not None:
            continue
        facts = _requirements_facts(criterion.requirements, memo)
        if facts[2]:
            continue
        result = _criterion_result(criterion, patient, codes, facts)
        if result.result == "not_met":
            failing.append(result)
    leads = [c.position for c in trial.criteria
             if c.kind == "inclusion" and _LEAD_IN.search(c.text)]
    if leads:
        # An item of a list under a lead-in may be one alternative of several
        # (`_listed_alternatives`, which needs the record's text): the whole evaluation
        # decides.
        failing = [r for r in failing if not any(
            lead < r.position <= lead + LIST_ITEMS_SCREENED for lead in leads)]
    other_disease = any(r.kind == "inclusion" and _names_another_cancer(r) for r in failing)
    if other_disease or any(_fails_as_marker_line(r) for r in failing):
        # A line for another disease of a multi-disease trial, or a marker line of its list
        # ("any histology if known to be MSI-H"), fails nobody when another line may fit:
        # the whole evaluation decides. (The lines are counted only for such trials: this
        # runs on every candidate.)
        lines = set(disease_lines(trial))
        failing = [r for r in failing if not (
            r.kind == "inclusion" and _names_another_cancer(r) and
            (r.position in lines or _FOR_A_DISEASE.search(r.text))) and
            not _another_population_of_the_list(r, lines)]
    return failing


_SEVERAL_COHORTS = re_compile(r"\b(?:and|both|all|every)\b|&|,|\d\s*[-–]\s*\d", re.IGNORECASE)
# A cohort label: its kind ("Cohorts A and B" -> cohort) and the names it lists ("A", "B";
# "Phase II" -> 2; "Part A/B" -> A, B).
_COHORT_KIND = re_compile(r"\b(cohort|arm|part|group|phase|stage|module|sub-?stud)", re.IGNORECASE)
_COHORT_NAME = re_compile(r"(?<![\w-])(?:I{1,3}V?|IV)(?:[ab])?(?![\w-])|"
                          r"(?<![\w-])(?:[A-Z]{1,2}\d{0,2}|\d{1,2}[A-Za-z]?)(?![\w-])")
_ROMAN = {"I": "1", "II": "2", "III": "3", "IV": "4"}


def cohort_scope(label: str) -> tuple[str, frozenset[str]]:
    """The kind of a cohort label and the cohorts it names: ("cohort", {"A", "B"}) for
    "Cohorts A and B", ("phase", {"2"}) for "PHASE II"; a label naming none ("Dose
    escalation", "Expansion cohort") names itself."""
    kind = _COHORT_KIND.search(label)
    names = set()
    for name in _COHORT_NAME.findall(label[kind.end():]) if kind else ():
        roman = re.fullmatch(r"(I{1,3}V?|IV)([ab]?)", name)
        names.add(_ROMAN[roman.group(1)] + roman.group(2).upper() if roman else name.upper())
    if kind is None or not names:
        own = _own_name(label)
        return own, frozenset({own})
    return kind.group(1).lower().replace("-", ""), frozenset(names)


_LABEL_FILLER = frozenset({"for", "the", "only", "and", "in", "of", "cohort", "cohorts", "part",
                           "parts"})


def _own_name(label: str) -> str:
    """A label that names itself, written one way: "Dose-escalation part", "Dose Escalation"
    -> "dose escalation"; "Esophageal Cohort Expansion" and "Esophageal Expansion Cohort"
    -> "esophageal expansion" (its words, in order, without filler words)."""
    words = re.findall(r"[a-z0-9]+", label.lower().replace("-", " "))
    kept = [w for w in words if w not in _LABEL_FILLER]
    return " ".join(sorted(dict.fromkeys(kept), key=kept.index)) or label.lower()


def _covers(label_key: tuple[str, str], choice: tuple[str, str]) -> bool:
    """Whether a label naming itself covers another such cohort: "Dose-escalation and MTD
    Expansion Cohorts" covers "Dose Escalation" (its criteria apply to that cohort)."""
    if label_key[0] != label_key[1] or choice[0] != choice[1]:
        return False
    words = set(label_key[0].split())
    return set(choice[0].split()) < words


def _in_cohort(label: str | None, choice: tuple[str, str] | None) -> bool:
    """Whether criteria under `label` apply to a patient in cohort `choice` (common
    criteria, label None, apply to all)."""
    if label is None:
        return True
    if choice is None:
        return False
    family, names = cohort_scope(label)
    return (family == choice[0] and choice[1] in names) or \
        any(_covers((family, name), choice) for name in names)


_SYNTHETIC_PREFIXES = (TITLE_PREFIX, OFFICIAL_TITLE_PREFIX, CONDITIONS_PREFIX)
_OWN_EXTENT = "_EXTENT:"
_OWN_DRUG = "_RECEIVED_DRUG:"
_OWN_CLASS = "_RECEIVED_CLASS:"


def trial_context(trial: Trial, patient: Patient) -> tuple[str, ...]:
    """What an exclusion is read against: the trial's own OncoTree codes, and as
    "_EXTENT:<extent>" each extent of disease its common inclusions require (worked out once
    per trial for the patient)."""
    key = ("trial_context", id(trial.criteria))
    found = patient.memo.get(key)
    if found is None or found[0] is not trial.criteria:
        extents = sorted({str(r.params.get("extent")) for c in trial.criteria
                          if c.kind == "inclusion" and c.cohort is None
                          for r in c.requirements if r.kind == "extent" and
                          not r.params.get("negated") and not r.params.get("allowed")})
        # The therapies every patient must have had ("progressed after receiving PD-1
        # antibody treatment"): an exclusion of a broader class leaves them out.
        required = sorted({(_OWN_DRUG if drug else _OWN_CLASS) + str(name)
                           for c in trial.criteria
                           if c.kind == "inclusion" and c.cohort is None and c.start >= 0
                           for r in c.requirements if r.kind == "prior_therapy" and
                           r.params.get("received") and not r.params.get("allowed")
                           for drug, names in ((True, r.params.get("drugs") or []),
                                               (False, r.params.get("classes") or []))
                           for name in names})
        found = (trial.criteria, tuple(trial.oncotree_codes) +
                 tuple(_OWN_EXTENT + extent for extent in extents) + tuple(required))
        patient.memo[key] = found
    return found[1]


def _criteria_naming_the_cancer(trial: Trial, patient: Patient) -> dict[int, str | None]:
    """Position -> cohort of the trial's own inclusion criteria (not those read from its
    title or conditions) whose cancer types take in the patient's cancer."""
    code = patient.cancer_code
    if not code:
        return {}
    is_a = patient.ontology.is_a
    return {c.position: c.cohort for c in trial.criteria if c.kind == "inclusion" and
            not c.text.startswith(_SYNTHETIC_PREFIXES) and
            any(r.kind == "cancer_type" and (r.params.get("scope") or "codes") == "codes" and
                not r.params.get("negated") and
                any(is_a(code, str(t)) for t in r.params.get("codes") or [])
                for r in c.requirements)}


LIST_ITEMS_SCREENED = 8  # criteria after a lead-in that screening leaves to the evaluation
# A lead-in of a list whose items are alternatives ("Adjuvant subjects with the following pT
# pN combinations are eligible:", "... one of the following:") or permissions ("Sentinel
# lymph node biopsy alone is allowed in the following instances:").
_LEAD_IN = re_compile(r"(?i)(?:\b(?:(?:at\s+least\s+)?one|any|either)\s+of\s+the\s+following|"
                      r"\bfollowing\s+(?:[\w-]+\s+){0,3}(?:instances|combinations|situations|"
                      r"scenarios|categories|groups)\b|\bfollowing\b[^.:]{0,60}\b(?:are|is)\s+"
                      r"(?:eligible|allowed|permitted|acceptable)\b)[^.]{0,60}:\s*$")
_PERMISSION_LEAD = re_compile(r"(?i)\b(?:allowed|permitted|acceptable)\b")
# The bullet or number an item of a list starts with, just before the criterion's words.
_BULLET_BEFORE = re_compile(r"(?:^|\n)[ \t]*(?:[*•\-–]|\d{1,2}[.)]|[a-z][.)])[ \t\\]*$")


def _listed_alternatives(results: list[CriterionResult], trial: Trial) -> list[CriterionResult]:
    """The items of a list under a lead-in, read together: permissions ("... allowed in the
    following instances:") rule nobody out, and alternatives ("the following pT pN
    combinations are eligible:") are met when one item is; a failing item is then no
    reason to exclude (when none is met, the failing ones stay)."""
    text = trial.criteria_text or ""
    if ":" not in text:
        return results
    where = {r.position: i for i, r in enumerate(results) if r.position >= 0}
    ordered = sorted(trial.criteria, key=lambda c: c.position)
    out = list(results)
    for index, lead in enumerate(ordered):
        if lead.kind != "inclusion" or not _LEAD_IN.search(lead.text):
            continue
        items = []
        for item in ordered[index + 1:]:
            if item.kind != lead.kind or item.cohort != lead.cohort or \
                    not _BULLET_BEFORE.search(text, max(0, item.start - 12), item.start):
                break
            items.append(item)
        found = [where[c.position] for c in items if c.position in where]
        if len(found) < 2:
            continue
        permission = bool(_PERMISSION_LEAD.search(lead.text))
        met = next((out[k] for k in found if out[k].result == "met"), None)
        for k in found:
            if out[k].result != "not_met" or not (permission or met is not None):
                continue
            why = "a permission of the list under \"" + lead.text.strip()[:60] + "\"" \
                if permission else f"another item of the list is met: {met.text[:60]}"
            out[k] = replace(out[k], result="met", material=False,
                             reason=f"{why} (this item: {out[k].reason})")
    return out


def _nested_cohorts(results: list[CriterionResult]) -> dict[str, set[str]]:
    """Cohort label -> the labels of another kind nested in its block: "Group 2: ...;
    Part 1 - pancreatic ...; Part 2 - ...; <more Group 2 criteria>" puts Parts 1 and 2 inside
    Group 2, so a patient in Part 1 meets Group 2's criteria too (choosing Part 1 alone
    would pass over them)."""
    spans: dict[str, tuple[int, int]] = {}
    for r in results:
        if r.cohort is not None and r.kind == "inclusion":
            low, high = spans.get(r.cohort, (r.position, r.position))
            spans[r.cohort] = (min(low, r.position), max(high, r.position))
    within: dict[str, set[str]] = {}
    # Only labels of a kind with names ("Group 2", "Part 1") nest: labels naming themselves
    # ("Esophageal Cohort Expansion", "Dose Escalation") written in turn are parallel
    # cohorts, each criterion labelled with its own.
    named = {label: cohort_scope(label) for label in spans}
    named = {label: family for label, (family, names) in named.items() if family not in names}
    for outer, (start, end) in spans.items():
        family = named.get(outer)
        for inner, (inner_start, inner_end) in spans.items():
            if family is not None and named.get(inner, family) != family and \
                    start < inner_start and inner_end < end:
                within.setdefault(outer, set()).add(inner)
    return within


def evaluate_trial(trial: Trial, patient: Patient) -> TrialVerdict:
    """Evaluate every criterion and decide the verdict (see the module docstring)."""
    results = record_criteria(trial, patient)
    codes = trial_context(trial, patient)
    naming = _criteria_naming_the_cancer(trial, patient)
    if naming and None not in naming.values():
        # A cohort's criterion names the patient's cancer (Group 1: "... non-Hodgkin's
        # lymphoma"): another cohort's naming other cancers (Group 2: pancreatic, TNBC) is
        # that cohort's population, not a misreading that the trial's conditions would
        # correct.
        others = tuple(t for t in codes if t.startswith("_") or
                       not patient.ontology.is_a(patient.cancer_code, t))
        cohorts = set(naming.values())
        results += for_another_disease([
            _criterion_result(c, patient, others if c.kind == "inclusion" and
                              c.cohort is not None and c.cohort not in cohorts else codes)
            for c in trial.criteria], trial, patient.ontology)
    else:
        results += for_another_disease([_criterion_result(c, patient, codes)
                                        for c in trial.criteria], trial, patient.ontology)
    results = _listed_alternatives(results, trial)
    # A patient joins one cohort, through its inclusion criteria (a block of exclusions
    # alone is no cohort to join: it applies to the cohorts it names, if one is chosen).
    # A label may name several ("Cohorts A and B:"): its criteria apply to each of them.
    choices: dict[tuple[str, str], str] = {}
    for r in results:
        if r.cohort is not None and r.kind == "inclusion":
            family, names = cohort_scope(r.cohort)
            for name in sorted(names):
                single = len(names) == 1
                shown = choices.get((family, name))
                if shown is None or (single and cohort_scope(shown)[1] != {name}):
                    choices[(family, name)] = r.cohort if single else \
                        f"{family.capitalize()} {name}"
    if not choices:
        # A heading that names several cohorts ("Exclusion criteria for Group 1 and 2",
        # "All parts") of a trial with no cohort to join speaks to everyone.
        results = [replace(r, cohort=None) if r.cohort is not None and
                   _SEVERAL_COHORTS.search(r.cohort) else r for r in results]
    failing = [r for r in results if r.cohort is None and r.result == "not_met"]
    chosen = None
    if choices:
        within = _nested_cohorts(results)

        def applies(r: CriterionResult, choice: tuple[str, str]) -> bool:
            return r.cohort is not None and (_in_cohort(r.cohort, choice) or any(
                _in_cohort(inner, choice) for inner in within.get(r.cohort, ())))

        # The trial fits when one cohort's criteria do: the one with fewest failing, then
        # fewest material unknowns, then fewest unknowns.
        def cost(choice: tuple[str, str]) -> tuple[int, int, int]:
            rs = [r for r in results if applies(r, choice)]
            return (sum(r.result == "not_met" for r in rs), sum(r.material for r in rs),
                    sum(r.result == "unknown" for r in rs))

        # One joins a Part of Group 2, not Group 2 alone, where Group 2 holds Parts; one
        # joins the dose escalation or the MTD expansion, not "Dose-escalation and MTD
        # Expansion Cohorts", whose criteria apply to both.
        joinable = [k for k in choices if choices[k] not in within and
                    not any(_covers(k, other) for other in choices)] or list(choices)
        # A cohort whose disease lines are all other cancers' (each set aside as that
        # disease's line) is no cohort for this patient; one whose list still holds a line
        # the patient's cancer meets, or may meet ("cutaneous melanoma" for a melanoma of
        # unstated site), is.
        def foreign(choice: tuple[str, str]) -> bool:
            rs = [r for r in results if applies(r, choice)]
            return any(r.reason.startswith(_ANOTHER_DISEASE) for r in rs) and not any(
                r.result != "not_met" and not r.reason.startswith(_ANOTHER_DISEASE) and any(
                    q.kind == "cancer_type" for q in r.requirements) for r in rs)

        joinable = [k for k in joinable if not foreign(k)] or joinable
        key = min(joinable, key=cost)
        chosen = choices[key]
        cohort_failing = [r for r in results if r.result == "not_met" and applies(r, key)]
        if len(choices) == 1 and cohort_failing and len(cohort_scope(chosen)[1]) == 1:
            # One labelled cohort ("Expansion cohort:", "Phase II:") beside criteria for
            # all: the trial's other part (dose escalation, phase I) is open to whoever
            # meets the common criteria, so failing the cohort leaves the fit open. (A label
            # naming several parts, "Parts A and B/B2:", leaves the rest to other criteria.)
            results = [replace(r, result="unknown", material=True,
                               reason=f"{chosen} only: {r.reason}; the trial's other part "
                                      f"may take the patient") if r in cohort_failing else r
                       for r in results]
        else:
            failing += cohort_failing
    verdict_obj = TrialVerdict(trial.nct_id, "eligible", results, failing, chosen,
                               key if choices else None)
    if failing:
        verdict_obj.verdict = "excluded"
    elif verdict_obj.material_unknowns:
        verdict_obj.verdict = "possibly_eligible"
    return verdict_obj
