"""Population conditions (trialmatch.nlp.conditions): a trial for patients with chylous
ascites, HIV infection or another condition than the cancer, read from its title and first
condition, checked against what the notes say."""

from __future__ import annotations

import pytest

from trialmatch.errors import DataFileError
from trialmatch.match.evaluate import build_patient, evaluate_requirement
from trialmatch.models import Profile, Requirement, TrialText
from trialmatch.nlp.conditions import (
    _entry,
    conditions_in_notes,
    criteria_grade_bounds,
    load_conditions,
    trial_conditions,
)
from trialmatch.nlp.criteria import CONDITIONS_PREFIX, annotate_trial


def test_every_entry_has_a_source_and_a_unique_name():
    conditions = load_conditions()
    assert len(conditions) >= 30
    assert all(c.source.strip() for c in conditions)
    assert len({c.name for c in conditions}) == len(conditions)


@pytest.mark.parametrize("raw,message", [
    ({"name": "x", "terms": ["x"]}, "'source'"),
    ({"name": "x", "terms": ["x"], "source": "s", "colour": "red"}, "unknown key 'colour'"),
    ({"name": "x", "terms": [], "source": "s"}, "'terms' must not be empty"),
    ({"name": "x", "terms": ["x", 3], "source": "s"}, "'terms' must be a list of strings"),
    ({"name": "x", "terms": ["x"], "source": "s", "profile_fact": "mood"},
     "'profile_fact' must be one of"),
])
def test_a_bad_entry_is_named_with_what_is_wrong(raw, message):
    with pytest.raises(DataFileError, match=message) as error:
        _entry(raw, 7)
    assert "conditions[7]" in str(error.value)


@pytest.mark.parametrize("title,conditions,purpose,expected", [
    # The title names the condition the trial treats.
    ("Oral Iohexol in the Management of Chylous Ascites After Retroperitoneal Lymphadenectomy",
     ["Chylous Ascites", "Pelvic Neoplasms"], "TREATMENT", ["chylous ascites"]),
    # Two conditions, both required.
    ("Hybrid Trial of a Digital Therapeutic for Smoking Cessation Among Persons Living With HIV",
     ["Tobacco", "HIV"], "TREATMENT", ["HIV infection", "tobacco smoking"]),
    # The first listed condition counts without the title.
    ("Short Versus Long-term Levetiracetam in Brain Tumors", ["Seizures", "Brain Tumors"],
     "TREATMENT", ["seizures"]),
    # A later condition is often an outcome, not the population.
    ("Efficacy and Toxicity of Bicalutamide and Dutasteride vs. Standard Care",
     ["Prostate Cancer", "Erectile Dysfunction"], "TREATMENT", []),
    # Prevention is for people who do not have it yet.
    ("Tadalafil for Erectile Dysfunction After Radiotherapy", ["Erectile Dysfunction"],
     "PREVENTION", []),
    ("Insomnia Prevention in Children With Acute Lymphoblastic Leukemia", ["Leukemia"],
     "SUPPORTIVE_CARE", []),
    ("Nerve Grafting Technique to Preserve Erectile Function", ["Erectile Dysfunction"],
     "TREATMENT", []),
    # Offered as one alternative, not required.
    ("Pomalidomide for Kaposi Sarcoma in People With or Without HIV", ["Kaposi Sarcoma"],
     "TREATMENT", []),
    ("Attention Biases in Adults With Multiple Sclerosis, Breast or Lung Cancer",
     ["Multiple Sclerosis", "Lung Cancer"], "BASIC_SCIENCE", []),
    # Irradiation of extramedullary leukaemia is for patients who have it.
    ("Anti-Leukemia Immune Responses After Irradiation of Extramedullary Tumors",
     ["Acute Myeloid Leukemia"], "TREATMENT", ["extramedullary disease"]),
    # A cancer treatment trial names no such condition.
    ("Osimertinib in EGFR-Mutant NSCLC", ["Non-small Cell Lung Cancer"], "TREATMENT", []),
    # Letters that match a term's letter case-insensitively but do not lower-case to it.
    ("Oral Iohexol for Chylous Aſcites", ["Pelvic Neoplasms"], "TREATMENT",
     ["chylous ascites"]),
    ("Smoking Cessation Among Persons Living With HİV", ["Tobacco"], "TREATMENT",
     ["HIV infection", "tobacco smoking"]),
])
def test_trial_conditions_come_from_the_title_and_the_first_condition(
        title, conditions, purpose, expected):
    assert [name for name, _ in trial_conditions(title, conditions, purpose)] == expected


def test_annotate_trial_adds_the_condition_as_a_synthetic_inclusion():
    trial = TrialText("NCT90000009", "Oral Iohexol in the Management of Chylous Ascites",
                      ["Chylous Ascites"], [], "Inclusion Criteria:\n* Age >= 18",
                      primary_purpose="TREATMENT")
    criteria = annotate_trial(trial).criteria
    synthetic = [c for c in criteria if c.text.startswith(CONDITIONS_PREFIX)]
    assert len(synthetic) == 1 and synthetic[0].kind == "inclusion"
    (requirement,) = synthetic[0].requirements
    assert requirement.kind == "condition"
    assert requirement.params == {"condition": "chylous ascites"}
    assert synthetic[0].text[requirement.start:requirement.end] == "Chylous Ascites"


@pytest.mark.parametrize("note,name,expected", [
    ("Post-op day 6: milky drain output, triglycerides 420: chylous ascites.",
     "chylous ascites", True),
    ("CT abdomen: no chylous ascites.", "chylous ascites", False),
    ("Former smoker, quit in 2010.", "tobacco smoking", False),
    ("Never smoker.", "tobacco smoking", False),
    ("Smokes 1 pack per day, 40 pack-years.", "tobacco smoking", True),
    ("HIV negative, HBV negative.", "HIV infection", False),
    ("Long-standing erectile dysfunction, IIEF-5 of 7.", "erectile dysfunction", True),
    ("History of depression, resolved.", "depression", None),
    ("Rule out radiation necrosis on the next MRI.", "radiation necrosis", None),
    ("Relapsed AML, marrow only, no extramedullary disease.", "extramedullary disease", False),
    ("AML with myeloid sarcoma of the skin.", "extramedullary disease", True),
])
def test_notes_say_whether_the_patient_has_the_condition(note, name, expected):
    found = conditions_in_notes([note]).get(name)
    assert (found[0] if found else None) is expected


def test_a_present_mention_in_a_later_note_wins():
    found = conditions_in_notes(["No chylous ascites.", "Now chylous ascites, 900 mL/day."])
    assert found["chylous ascites"][0] is True


class _Ontology:
    def is_a(self, code, ancestor):
        return code == ancestor

    def is_solid(self, code):
        return True

    def is_heme(self, code):
        return False


@pytest.mark.parametrize("name,conditions,truth", [
    # A symptom notes often leave out: silence is unknown.
    ("anxiety", {}, None),
    # A complication that is drained and treated: the record would name it.
    ("chylous ascites", {}, False),
    ("chylous ascites", {"chylous ascites": (True, "chylous ascites")}, True),
    ("chylous ascites", {"chylous ascites": (False, "no chylous ascites")}, False),
])
def test_the_condition_requirement_reads_the_notes(name, conditions, truth):
    patient = build_patient(Profile(), ontology=_Ontology(), conditions=conditions)
    result = evaluate_requirement(Requirement("condition", {"condition": name}, name), patient)
    assert result.truth is truth
    # Unknown, it keeps the trial possibly eligible: the trial may be for someone else.
    assert result.material is (truth is None)


def test_only_conditions_that_change_care_are_ruled_out_by_silence():
    recorded = {c.name for c in load_conditions() if c.recorded_if_present}
    assert {"chylous ascites", "malignant wounds", "HIV infection",
            "extramedullary disease"} <= recorded
    assert not recorded & {"anxiety", "cancer-related fatigue", "nausea and vomiting", "pain",
                           "erectile dysfunction", "liver metastases"}


def test_a_site_of_distant_spread_is_ruled_out_by_disease_without_distant_spread():
    trial = TrialText("NCT90000010", "AZD2171 in Advanced Solid Tumors and Liver Metastases",
                      ["Liver Metastases"], [], "Inclusion Criteria:\n* Age >= 18",
                      primary_purpose="TREATMENT")
    (criterion,) = [c for c in annotate_trial(trial).criteria
                    if c.text.startswith(CONDITIONS_PREFIX)]
    (requirement,) = criterion.requirements
    assert requirement.params == {"condition": "liver metastases", "distant_metastasis": True}
    localized = build_patient(Profile(), ontology=_Ontology(), metastatic=False)
    assert evaluate_requirement(requirement, localized).truth is False
    unknown = build_patient(Profile(), ontology=_Ontology())
    assert evaluate_requirement(requirement, unknown).truth is None


def test_the_engine_reads_brain_metastases_and_distant_spread_into_conditions():
    from trialmatch.match.case import Case
    from trialmatch.match.engine import _conditions

    case = Case(id="c1", notes=[])
    case.brain_metastases, case.metastatic = False, False
    case.from_notes = {"brain_metastases": "MRI brain: no metastases",
                       "metastatic": "no distant metastases"}
    found = _conditions(case)
    assert found["brain metastases"] == (False, "MRI brain: no metastases")
    assert found["liver metastases"] == (False, "no distant metastases")


def test_a_state_that_excludes_the_condition_rules_it_out():
    found = conditions_in_notes(["68M with mCRPC, progressed on enzalutamide after ADT."])
    assert found["castration-resistant prostate cancer"][0] is True
    assert found["castration-sensitive prostate cancer"][0] is False
    naive = conditions_in_notes(["Newly diagnosed hormone-naive metastatic prostate cancer."])
    assert naive["castration-sensitive prostate cancer"][0] is True
    assert naive["castration-resistant prostate cancer"][0] is False


def test_hormone_sensitive_breast_cancer_is_no_prostate_population():
    title = "Letrozole in Post-Menopausal Patients With Operable Hormone-Sensitive Breast Cancer"
    assert trial_conditions(title, ["Breast Cancer Female"], "TREATMENT") == []
    title = "Saruparib vs Placebo in Men With Metastatic Castration-Sensitive Prostate Cancer"
    assert [n for n, _ in trial_conditions(title, ["Prostate Cancer"], "TREATMENT")] == \
        ["castration-sensitive prostate cancer"]


def test_a_criterion_stating_castration_status_requires_it():
    from trialmatch.nlp.requirements import parse_criterion

    found = [r.params for r in parse_criterion(
        "Histologically documented prostate adenocarcinoma which is de novo or recurrent and "
        "castration-sensitive.", "inclusion") if r.kind == "condition"]
    assert found == [{"condition": "castration-sensitive prostate cancer"}]
    # one disease's alternative among others is no requirement for all
    assert not [r for r in parse_criterion(
        "Metastatic renal cell carcinoma or metastatic urothelial carcinoma, or for metastatic "
        "castration resistant prostate cancer (mCRPC) by PCWG3", "inclusion")
        if r.kind == "condition"]


def test_castration_status_does_not_apply_to_another_cancer():
    from tests.test_evaluate import make_patient
    from trialmatch.match.evaluate import evaluate_requirement
    from trialmatch.models import Requirement
    from trialmatch.nlp.vocab import get_vocabulary

    wanted = Requirement("condition", {"condition": "castration-resistant prostate cancer"},
                         "mCRPC")
    vocabulary = get_vocabulary()
    renal = make_patient(ontology=vocabulary, cancer_code="CCRCC")
    assert evaluate_requirement(wanted, renal).truth is True
    prostate = make_patient(ontology=vocabulary, cancer_code="PRAD")
    assert evaluate_requirement(wanted, prostate).truth is None


@pytest.mark.parametrize("text,kind,params", [
    ("Peripheral neuropathy greater than or equal to grade 2.", "exclusion", {"min_grade": 2}),
    ("Grade 2 or greater neuropathy.", "exclusion", {"min_grade": 2}),
    ("Peripheral neuropathy greater than (>) Grade 2", "exclusion", {"min_grade": 3}),
    ("Known polyneuropathy > or = grade 2", "exclusion", {"min_grade": 2}),
    ("Peripheral neuropathy Grade 0 or 1 by NCI CTCAE.", "inclusion", {"max_grade": 1}),
    ("No motor or sensory neuropathy ≥ grade 2", "inclusion",
     {"min_grade": 2, "negated": True}),
    # an exception to a toxicity rule, and an exclusion's upper bound, state no bound
    ("AEs from prior therapy not resolved to Grade ≤ 1, with the exception of alopecia or "
     "peripheral neuropathy", "exclusion", None),
    ("Peripheral neuropathy Grade 0 or 1", "exclusion", None),
])
def test_criteria_bound_the_grade_of_a_graded_condition(text, kind, params):
    from trialmatch.nlp.conditions import criteria_grade_bounds

    found = [p for _, p, _, _ in criteria_grade_bounds(text, kind)]
    assert found == ([] if params is None else
                     [{"condition": "peripheral neuropathy", **params}])


@pytest.mark.parametrize("notes,grade", [
    (["EV dose reduced for G2 neuropathy (now G1).", "PMH: DM2, G1 neuropathy (EV)."], 1),
    (["Tolerated chemo ok; G1 neuropathy during oxali, now resolved."], 0),
    (["No neuropathy, hearing intact."], 0),
    (["Persistent G2 EV-related sensory neuropathy."], 2),
    (["Mild neuropathy in the feet."], None),
])
def test_the_notes_latest_grade_decides(notes, grade):
    from trialmatch.nlp.conditions import condition_grades

    assert condition_grades(notes)["peripheral neuropathy"][0] == grade


def test_a_grade_bound_is_decided_by_the_grade_now():
    from tests.test_evaluate import make_patient
    from trialmatch.match.evaluate import evaluate_requirement
    from trialmatch.models import Requirement

    bound = Requirement("condition", {"condition": "peripheral neuropathy", "min_grade": 2},
                        "neuropathy >= grade 2")
    grade_2 = make_patient(condition_grades={"peripheral neuropathy": (2, "G2 neuropathy")})
    assert evaluate_requirement(bound, grade_2).truth is True
    none = make_patient(conditions={"peripheral neuropathy": (False, "No neuropathy")})
    assert evaluate_requirement(bound, none).truth is False
    assert evaluate_requirement(bound, make_patient()).truth is None


@pytest.mark.parametrize("text,kind,expected", [
    ("Adverse reactions of previous anti-tumor treatment have not recovered to Grade ≤ 1 per "
     "NCI-CTCAE v5.0.", "exclusion", {"min_grade": 2}),
    ("Persistent toxicities (CTCAE Grade > 2) caused by previous anticancer therapy",
     "exclusion", {"min_grade": 3}),
    ("Have not recovered to ≤ Grade 1 or tolerable Grade 2 adverse events (AEs) due to "
     "agents administered ≥ 28 days earlier", "exclusion", {"min_grade": 3}),
    ("has not recovered (i.e., = < grade 1 or at baseline) from adverse events due to prior "
     "chemotherapy", "exclusion", {"min_grade": 2}),
    ("All toxicities of prior therapy must have resolved to grade 1 or less", "inclusion",
     {"max_grade": 1}),
    # Neuropathy named, as an exception: no generic bound on it.
    ("AEs from prior anticancer therapy that have not resolved to Grade ≤ 1 except for "
     "alopecia or Grade ≤ 2 peripheral neuropathy.", "exclusion", None),
    ("Adverse drug reactions of previous antitumor treatment have not recovered to grade ≤ 1 "
     "(except alopecia, grade 2 peripheral neurotoxicity)", "exclusion", None),
    # Events of an operation or of radiotherapy only, or no grade written.
    ("Has had surgery within 4 weeks and has not recovered from AEs (ongoing surgery-related "
     "events ≥ Grade 1)", "exclusion", None),
    ("Patients must have recovered to baseline from any effects of any major surgery.",
     "exclusion", None),
])
def test_unresolved_toxicity_of_earlier_treatment_bounds_the_graded_conditions(text, kind,
                                                                              expected):
    found = [params for name, params, _, _ in criteria_grade_bounds(text, kind)
             if name == "peripheral neuropathy"]
    if expected is None:
        assert not any(p.get("unresolved_toxicity") for p in found)
    else:
        assert found == [{"condition": "peripheral neuropathy", **expected,
                          "unresolved_toxicity": True}]


def test_persistent_grade_2_neuropathy_fails_an_unresolved_toxicity_exclusion():
    from tests.test_evaluate import make_patient

    patient = make_patient(condition_grades={"peripheral neuropathy": (2, "G2 neuropathy")})
    requirement = Requirement("condition", {"condition": "peripheral neuropathy",
                                            "min_grade": 2, "unresolved_toxicity": True},
                              "AEs not resolved to grade <= 1")
    result = evaluate_requirement(requirement, patient)
    assert result.truth is True  # the exclusion applies
    assert "unresolved toxicity" in result.reason


def test_a_condition_a_title_includes_is_allowed_not_required():
    title = ("ZN-1150 With Tucatinib in Previously Treated HER2-Positive Metastatic Breast "
             "Cancer, Including Brain Metastases")
    assert trial_conditions(title, ["HER2-positive Metastatic Breast Cancer"], "TREATMENT") == []


@pytest.mark.parametrize(("text", "kind", "params"), [
    # A graded condition named without a grade, denied or "any": at any grade; "symptomatic"
    # from the first grade CTCAE defines with symptoms (neuropathy grade 1 is asymptomatic).
    ("No symptomatic pre-existing peripheral neuropathy.", "inclusion",
     {"condition": "peripheral neuropathy", "min_grade": 2, "negated": True}),
    ("No pre-existing peripheral neuropathy.", "inclusion",
     {"condition": "peripheral neuropathy", "min_grade": 1, "negated": True}),
    ("Any sensory or motor peripheral neuropathy.", "exclusion",
     {"condition": "peripheral neuropathy", "min_grade": 1}),
])
def test_a_graded_condition_at_any_grade(text, kind, params):
    from trialmatch.nlp.requirements import parse_criterion

    assert [r.params for r in parse_criterion(text, kind) if r.kind == "condition"] == [params]


@pytest.mark.parametrize("text", [
    "History of peripheral neuropathy.",  # the past, not a grade now
    "Subjects with ongoing chronic toxicities such as fatigue or neuropathy may be allowed",
])
def test_no_grade_read_where_none_is_meant(text):
    from trialmatch.nlp.requirements import parse_criterion

    assert not [r for r in parse_criterion(text, "exclusion") if r.kind == "condition"]


@pytest.mark.parametrize(("text", "found"), [
    # exclusions of patients who had (or are having) treatment before surgery
    ("Patients who have undergone neoadjuvant systemic therapy.", True),
    ("Patients undergoing chemotherapy before surgery", True),
    ("Patients receiving entire chemotherapy prior to surgery (neoadjuvant setting)", True),
    # curative-intent therapy in general, a permission, a subgroup's rule, or the therapy
    # only dating something else
    ("Prior adjuvant or neoadjuvant chemotherapy", False),
    ("Neoadjuvant chemotherapy is allowed if completed more than 12 months ago", False),
    ("Patients with pathological complete response (pCR) after neoadjuvant treatment.", False),
    ("Axillary lymph node dissection prior to initiation of neoadjuvant therapy", False),
])
def test_neoadjuvant_therapy_is_read_in_exclusions(text, found):
    from trialmatch.nlp.requirements import parse_criterion

    conditions = [r.params["condition"] for r in parse_criterion(text, "exclusion")
                  if r.kind == "condition"]
    assert (conditions == ["neoadjuvant therapy"]) is found
    # never a requirement of an inclusion or a title: a neoadjuvant trial gives it
    assert not [r for r in parse_criterion(text, "inclusion") if r.kind == "condition"]


def test_neoadjuvant_therapy_in_the_notes_is_history_too():
    notes = conditions_in_notes(["Clinical hx: 44F, L breast TNBC, cT2N1, s/p neoadjuvant "
                                 "chemo-immunotherapy."])
    assert notes["neoadjuvant therapy"][0] is True
    planned = conditions_in_notes(["Recommend neoadjuvant pembrolizumab + carboplatin/"
                                   "paclitaxel -> surgery."])
    assert planned["neoadjuvant therapy"][0] is True


def test_a_denied_symptom_is_absent():
    """NegEx's "denies": "Mood: fine; denies anxiety or low mood (PHQ-2 = 0)" rules anxiety
    and depression out, where a note saying the patient reports them rules them in."""
    found = conditions_in_notes(["Mood: fine; denies anxiety or low mood (PHQ-2 = 0)."])
    assert found["anxiety"][0] is False and found["depression"][0] is False
    assert conditions_in_notes(["Reports anxiety about scans."])["anxiety"][0] is True


def test_castration_resistance_ends_castration_sensitivity():
    """Notes telling the course "de novo mHSPC ... => mCRPC": castration-sensitive is past."""
    found = conditions_in_notes(["De novo high-volume mHSPC (CHAARTED), cT3a N0 M1b. "
                                 "2024: PSA rising => mCRPC."])
    assert found["castration-resistant prostate cancer"][0] is True
    assert found["castration-sensitive prostate cancer"][0] is False
    found = conditions_in_notes(["Metastatic hormone-sensitive prostate cancer on ADT."])
    assert found["castration-sensitive prostate cancer"][0] is True
