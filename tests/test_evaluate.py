"""Evaluation of each requirement kind, criteria and trial verdicts against hand-built patients.

The ontology here is a few OncoTree codes with their real parents, enough to check subtrees
without loading the vocabulary.
"""

import pytest

from trialmatch.match.evaluate import (
    FREE_TEXT_REASON,
    Patient,
    PriorTherapy,
    build_patient,
    derive_extent,
    evaluate_criterion,
    evaluate_requirement,
    evaluate_trial,
    screen_trial,
    stage_in,
)
from trialmatch.models import (
    Biomarker,
    CancerType,
    EligibilityCriterion,
    Profile,
    Requirement,
    Stage,
    Trial,
)

PARENTS = {
    "LUAD": "NSCLC", "LUSC": "NSCLC", "NSCLC": "LUNG", "LUNG": "TISSUE",
    "IDC": "BREAST", "BREAST": "TISSUE", "COAD": "BOWEL", "BOWEL": "TISSUE",
    "AML": "MNM", "MNM": "MYELOID", "MYELOID": "TISSUE",
    "THPA": "WDTC", "WDTC": "THYROID", "THYROID": "TISSUE",
}
HEME_ROOTS = {"MYELOID", "LYMPH"}


class TinyOntology:
    """OncoTree parent links for a handful of codes."""

    def ancestors(self, code):
        chain = []
        while code in PARENTS:
            code = PARENTS[code]
            chain.append(code)
        return chain

    def descendants(self, code):
        return {child for child in PARENTS if code in self.ancestors(child)}

    def is_a(self, code, ancestor):
        return code == ancestor or ancestor in self.ancestors(code)

    def is_heme(self, code):
        return bool(HEME_ROOTS & set(self.ancestors(code) + [code]))

    def is_solid(self, code):
        return not self.is_heme(code)


ONTOLOGY = TinyOntology()


def make_patient(**overrides) -> Patient:
    facts = dict(
        ontology=ONTOLOGY, age=64.0, sex="female", ecog=1, cancer_code="LUAD",
        cancer_name="Lung Adenocarcinoma", cancer_evidence="adenocarcinoma, right upper lobe",
        histology="adenocarcinoma", primary_site="lung", stage_group="IV", stage_m="M1a",
        stage_prefix="c", stage_evidence="cT2a N2 M1a",
        biomarkers=[
            Biomarker("EGFR", "exon 19 deletion", "positive", evidence="EGFR exon 19 deletion"),
            Biomarker("PD-L1", None, "positive", 60, "TPS", evidence="PD-L1 TPS 60%"),
            Biomarker("ALK", None, "negative", evidence="ALK negative"),
            Biomarker("ROS1", None, "unknown", evidence="ROS1 pending"),
        ],
        prior_regimens=[PriorTherapy("carboplatin + pemetrexed",
                                     frozenset({"carboplatin", "pemetrexed"}),
                                     frozenset({"platinum", "chemotherapy"}), True, None, True)],
    )
    facts.update(overrides)
    return Patient(**facts)


FLAT_LIST = [PriorTherapy(name, frozenset({name}), frozenset({"chemotherapy"}), True, None, False)
             for name in ("cisplatin", "etoposide")]


def req(kind, text="criterion words", **params):
    return Requirement(kind, params, text)


def marker(**item):
    return req("biomarker", any_of=[item])


REQUIREMENT_TABLE = [
    # cancer type
    (req("cancer_type", codes=["NSCLC"]), {}, True, "matches NSCLC"),
    (req("cancer_type", codes=["LUAD"]), {}, True, "matches"),
    (req("cancer_type", codes=["BREAST"]), {}, False, "is not BREAST"),
    (req("cancer_type", codes=["LUAD"]), {"cancer_code": "NSCLC"}, None, "subtype"),
    (req("cancer_type", scope="solid"), {}, True, "solid"),
    (req("cancer_type", scope="heme"), {}, False, "not a haematological"),
    (req("cancer_type", scope="any", **{"except": ["LUNG"]}), {}, False, "excluded"),
    (req("cancer_type", codes=["NSCLC"]), {"cancer_code": None}, None,
     "cancer type not documented"),
    # histology and site
    (req("histology", histologies=["non-squamous"]), {}, True, "matches"),
    (req("histology", histologies=["squamous"]), {}, False, "is not"),
    (req("histology", histologies=["adenocarcinoma"]), {"histology": None, "cancer_name": None},
     None, "histology not documented"),
    (req("primary_site", sites=["lung"]), {}, True, "matches"),
    (req("primary_site", sites=["breast"]), {"primary_site": None}, None,
     "primary site not documented"),
    # stage and extent
    (req("stage", groups=["IIIB", "IIIC", "IV", "IVA", "IVB"]), {}, True, "stage IV is among"),
    (req("stage", groups=["IIIB", "IIIC"]), {"stage_group": "IIIA", "stage_m": "M0"}, False,
     "is not among"),
    (req("stage", groups=["IIIB", "IIIC"]), {"stage_group": "III", "stage_m": None}, None,
     "substage not documented"),
    (req("stage", groups=["IV"]), {"stage_group": None, "stage_m": None}, None,
     "stage not documented"),
    (req("stage", groups=["IV"]), {"stage_group": None, "stage_m": "M1b"}, True, "M1b"),
    (req("extent", extent="metastatic"), {}, True, "means metastatic"),
    (req("extent", extent="locally_advanced"), {}, False, "rules out"),
    (req("extent", extent="early_stage"), {"stage_group": "IB", "stage_m": "M0"}, True, "means"),
    (req("extent", extent="recurrent"), {}, None, "recurrent disease not documented"),
    (req("extent", extent="metastatic"), {"stage_group": None, "stage_m": None}, None,
     "metastatic disease not documented"),
    (req("measurable_disease", standard="RECIST 1.1"), {}, None,
     "measurable disease (RECIST 1.1) not documented"),
    # biomarkers
    (marker(marker="EGFR", alterations=["exon 19 deletion", "L858R"], status="positive"), {},
     True, "EGFR exon 19 deletion"),
    (marker(marker="EGFR", alterations=["sensitizing mutation"]), {}, True, "EGFR"),
    (marker(marker="EGFR", alterations=["exon 20 insertion"], status="positive"), {}, False,
     "does not meet"),
    (marker(marker="EGFR", status="negative"), {}, False, "EGFR exon 19 deletion"),
    (marker(marker="ALK", alterations=["fusion"], status="positive"), {}, False, "ALK negative"),
    (marker(marker="ALK", status="negative"), {}, True, "ALK negative"),
    (marker(marker="KRAS", alterations=["G12C"], status="positive"), {}, None,
     "KRAS not documented"),
    (marker(marker="ROS1", alterations=["fusion"], status="positive"), {}, None,
     "ROS1 result unknown"),
    (marker(marker="PD-L1", min_value=50, unit="TPS"), {}, True, "PD-L1 TPS 60%"),
    (marker(marker="PD-L1", min_value=1, max_value=49, unit="TPS"), {}, False, "does not meet"),
    (marker(marker="PD-L1", min_value=10, unit="CPS"), {}, None, "CPS not documented"),
    (marker(marker="PD-L1", min_value=50, unit="TPS"),
     {"biomarkers": [Biomarker("PD-L1", None, "positive", evidence="PD-L1 positive")]}, None,
     "TPS not documented"),
    (marker(marker="BRAF", alterations=["V600"]),
     {"biomarkers": [Biomarker("BRAF", "V600E", "positive")]}, True, "BRAF V600E"),
    (marker(marker="MSI", status="positive"),
     {"biomarkers": [Biomarker("MMR", "deficient", "positive", evidence="loss of MLH1")]}, True,
     "MMR"),
    (marker(marker="BRCA2", alterations=["mutation"], germline=True),
     {"biomarkers": [Biomarker("BRCA2", "c.5946delT", "positive",
                               evidence="germline BRCA2 c.5946delT")]}, True, "BRCA2"),
    (marker(marker="BRCA2", alterations=["mutation"], germline=True),
     {"biomarkers": [Biomarker("BRCA2", "c.5946delT", "positive", evidence="BRCA2 c.5946delT")]},
     None, "germline origin not documented"),
    (marker(marker="EGFR", alterations=["exon 19 deletion"]),
     {"biomarkers": [Biomarker("EGFR", "T790M", "negative")]}, None,
     "result for the trial's alteration not documented"),
    (marker(marker="HER2", min_value=3, unit="IHC"),
     {"biomarkers": [Biomarker("HER2", None, "positive", 3, "IHC")]}, True, "HER2 IHC 3+"),
    (marker(marker="HER2", min_value=1, max_value=2, unit="IHC"),
     {"biomarkers": [Biomarker("HER2", None, "positive", 3, "IHC")]}, False, "does not meet"),
    # age, sex, performance status
    (req("age", min=18, max=None), {}, True, "age 64 within >= 18 years"),
    (req("age", min=18, max=60), {}, False, "outside"),
    (req("age", min=18), {"age": None}, None, "age not documented"),
    (req("sex", sex="male"), {}, False, "trial: male only"),
    (req("sex", sex="female"), {"sex": None}, None, "sex not documented"),
    (req("performance_status", scale="ECOG", min=0, max=1), {}, True, "ECOG 1 within"),
    (req("performance_status", scale="ECOG", min=0, max=0), {}, False, "outside"),
    (req("performance_status", scale="ECOG", max=1), {"ecog": None}, None,
     "ECOG not documented"),
    (req("performance_status", scale="KPS", min=70), {}, True, "KPS 70-80"),
    (req("performance_status", scale="KPS", min=80), {}, None, "Karnofsky score not documented"),
    (req("performance_status", scale="KPS", min=70), {"ecog": 3}, False, "outside"),
    # prior therapy and lines
    (req("prior_therapy", received=True, classes=["platinum"]), {}, True, "platinum"),
    (req("prior_therapy", received=False, classes=["immune checkpoint inhibitor"]), {}, True,
     "no prior immune checkpoint inhibitor"),
    (req("prior_therapy", received=True, drugs=["osimertinib"]), {}, False, "no prior"),
    (req("prior_therapy", received=False, drugs=[], classes=[]), {}, False, "received"),
    (req("prior_therapy", received=False), {"prior_regimens": []}, True,
     "no prior systemic therapy"),
    (req("prior_therapy", received=True, classes=["platinum"]), {"prior_regimens": None},
     None, "prior therapy not documented"),
    (req("prior_lines", min=1), {}, True, "1 prior line(s) within"),
    (req("prior_lines", max=0), {}, False, "outside"),
    (req("prior_lines", min=2), {"prior_regimens": FLAT_LIST}, None,
     "number of prior lines unclear"),
    (req("prior_lines", min=1), {"prior_regimens": None}, None,
     "number of prior lines not documented"),
    # what the notes never say
    (req("cns_metastases", state="active"), {}, None, "brain metastasis status not documented"),
    (req("organ_function", measure="ANC", op=">=", value=1500, unit="/uL"), {}, None,
     "ANC not documented"),
    (req("pregnancy"), {}, None, "pregnancy status not documented"),
    (req("pregnancy"), {"sex": "male"}, False, "male"),
    (req("infection", agents=["HIV", "HBV"]), {}, None, "HIV/HBV status not documented"),
    (req("other_malignancy", within_years=3), {}, None, "within 3 years not documented"),
    (req("telepathy"), {}, None, "unrecognised requirement"),
]


@pytest.mark.parametrize("requirement,overrides,truth,reason_part", REQUIREMENT_TABLE)
def test_evaluate_requirement(requirement, overrides, truth, reason_part):
    result = evaluate_requirement(requirement, make_patient(**overrides))
    assert result.truth is truth
    assert reason_part in result.reason
    assert result.result == {True: "met", False: "not_met", None: "unknown"}[truth]


def test_unknown_biomarker_is_material_and_unknown_lab_is_routine():
    patient = make_patient()
    assert evaluate_requirement(marker(marker="KRAS", alterations=["G12C"]), patient).material
    lab = evaluate_requirement(req("organ_function", measure="ANC"), patient)
    assert lab.truth is None and not lab.material


def criterion(kind, *requirements, text="criterion", cohort=None, position=0):
    return EligibilityCriterion(kind, text, position, cohort=cohort,
                                requirements=list(requirements))


CRITERION_TABLE = [
    # inclusion: different kinds must all hold, same kind are alternatives
    (criterion("inclusion", req("cancer_type", codes=["NSCLC"]),
               req("extent", extent="locally_advanced"), req("extent", extent="metastatic")),
     "met"),
    (criterion("inclusion", req("cancer_type", codes=["NSCLC"]),
               marker(marker="KRAS", alterations=["G12C"])), "unknown"),
    (criterion("inclusion", req("cancer_type", codes=["BREAST"]),
               marker(marker="KRAS", alterations=["G12C"])), "not_met"),
    # exclusion: alternatives within a kind, kinds combined
    (criterion("exclusion", req("prior_therapy", received=True, drugs=["osimertinib"])), "met"),
    (criterion("exclusion", req("prior_therapy", received=True, classes=["platinum"])),
     "not_met"),
    (criterion("exclusion", req("infection", agents=["HIV"]), req("pregnancy")), "unknown"),
    (criterion("exclusion", marker(marker="ROS1", alterations=["fusion"]),
               marker(marker="EGFR", alterations=["exon 19 deletion"])), "not_met"),
    (criterion("exclusion", marker(marker="ALK", alterations=["fusion"]),  # ALK+ and ICI-naive
               req("prior_therapy", received=False, classes=["immune checkpoint inhibitor"])),
     "met"),
    (criterion("exclusion", req("pregnancy"), req("prior_therapy", classes=["platinum"])),
     "unknown"),
    (criterion("inclusion"), "unknown"),
]


@pytest.mark.parametrize("item,expected", CRITERION_TABLE)
def test_evaluate_criterion(item, expected):
    assert evaluate_criterion(item, make_patient()).result == expected


def test_free_text_criterion_is_unknown_and_says_so():
    result = evaluate_criterion(criterion("exclusion", text="Any condition that..."),
                                make_patient())
    assert result.result == "unknown" and result.reason == FREE_TEXT_REASON
    assert not result.material


def test_excluding_criterion_reason_names_the_fact():
    result = evaluate_criterion(
        criterion("exclusion", req("prior_therapy", received=True, classes=["platinum"])),
        make_patient())
    assert result.reason.startswith("excluded: received")
    assert "carboplatin + pemetrexed" in result.evidence


def make_trial(criteria, codes=("NSCLC",), **fields):
    values = dict(
        nct_id="NCT99000001", title="A trial", official_title=None, status="RECRUITING",
        phases=["PHASE2"], study_type="INTERVENTIONAL", conditions=["Non-small cell lung cancer"],
        keywords=[], interventions=[], sponsor=None, minimum_age=18.0, maximum_age=None,
        sex="ALL", healthy_volunteers=False, last_update=None, criteria_text="",
        oncotree_codes=list(codes), criteria=criteria,
    )
    values.update(fields)
    return Trial(**values)


def test_trial_eligible_when_only_routine_unknowns():
    trial = make_trial([
        criterion("inclusion", marker(marker="EGFR", alterations=["exon 19 deletion"])),
        criterion("inclusion", req("organ_function", measure="ANC")),
        criterion("exclusion", req("cns_metastases", state="active")),
    ])
    verdict = evaluate_trial(trial, make_patient())
    assert verdict.verdict == "eligible"
    assert len(verdict.unknowns) == 2 and not verdict.material_unknowns


def test_trial_possibly_eligible_on_material_unknown():
    trial = make_trial([criterion("inclusion", marker(marker="KRAS", alterations=["G12C"]))])
    verdict = evaluate_trial(trial, make_patient())
    assert verdict.verdict == "possibly_eligible"
    assert "KRAS not documented" in verdict.material_unknowns[0].reason


def test_trial_excluded_names_failing_criterion():
    trial = make_trial([
        criterion("inclusion", req("stage", groups=["I", "II"]), text="Stage I-II"),
        criterion("exclusion", req("prior_therapy", classes=["platinum"]), text="Prior platinum"),
    ])
    verdict = evaluate_trial(trial, make_patient())
    assert verdict.verdict == "excluded"
    assert [c.text for c in verdict.failing] == ["Stage I-II", "Prior platinum"]


def test_record_age_and_sex_checked_when_criteria_do_not_state_them():
    trial = make_trial([], minimum_age=70.0, sex="MALE")
    verdict = evaluate_trial(trial, make_patient())
    assert verdict.verdict == "excluded"
    assert {c.text for c in verdict.failing} == {"Age >= 70 years (record)", "Sex: male (record)"}


def test_record_conditions_narrower_than_patient_is_material_unknown():
    trial = make_trial([], codes=("LUAD",))
    verdict = evaluate_trial(trial, make_patient(cancer_code="NSCLC", cancer_name="NSCLC"))
    assert verdict.verdict == "possibly_eligible"
    assert "subtype not documented" in verdict.material_unknowns[0].reason


def test_basket_trial_accepts_solid_tumour():
    trial = make_trial([], codes=("_SOLID",))
    assert evaluate_trial(trial, make_patient()).verdict == "eligible"
    assert evaluate_trial(trial, make_patient(cancer_code="AML")).verdict == "excluded"


def test_patient_joins_the_cohort_that_fits():
    trial = make_trial([
        criterion("inclusion", req("cancer_type", codes=["NSCLC"])),
        criterion("inclusion", marker(marker="KRAS", alterations=["G12C"]), cohort="Cohort A"),
        criterion("inclusion", marker(marker="EGFR", alterations=["exon 19 deletion"]),
                  cohort="Cohort B"),
    ])
    verdict = evaluate_trial(trial, make_patient())
    assert verdict.cohort == "Cohort B"
    assert verdict.verdict == "eligible"


def test_trial_excluded_when_no_cohort_fits():
    trial = make_trial([
        criterion("inclusion", marker(marker="ALK", alterations=["fusion"]), cohort="Cohort A"),
        criterion("inclusion", marker(marker="EGFR", alterations=["exon 20 insertion"]),
                  cohort="Cohort B"),
    ])
    assert evaluate_trial(trial, make_patient()).verdict == "excluded"


def _grouped_trial(stage_groups):
    return make_trial([
        criterion("inclusion", req("cancer_type", codes=["AML"]), cohort="Group 1",
                  position=0),
        criterion("inclusion", req("stage", groups=stage_groups), text="Stage",
                  cohort="Group 2", position=1),
        criterion("inclusion", req("cancer_type", codes=["NSCLC"]), cohort="Part 1",
                  position=2),
        criterion("inclusion", req("cancer_type", codes=["BREAST"]), cohort="Part 2",
                  position=3),
        criterion("inclusion", req("sex", sex="female"), cohort="Group 2", position=4),
    ])


def test_a_part_inside_a_groups_block_carries_the_groups_criteria():
    # "Group 2: ...; Part 1 - pancreatic ...; Part 2 - ...; <more Group 2 criteria>": a
    # patient in Part 1 is in Group 2 and must meet its criteria too.
    fits = evaluate_trial(_grouped_trial(["IV"]), make_patient())  # stage IV NSCLC
    assert (fits.verdict, fits.cohort) == ("eligible", "Part 1")
    fails = evaluate_trial(_grouped_trial(["I"]), make_patient())
    assert fails.verdict == "excluded"


def test_another_cohorts_cancer_is_no_misreading_when_a_cohort_names_the_patients():
    # The trial's conditions list both cancers; Group 1 names the patient's (AML) and
    # needs a prior regimen; Group 2 names breast cancer only.
    trial = make_trial([
        criterion("inclusion", req("cancer_type", codes=["AML"]), cohort="Group 1",
                  position=0),
        criterion("inclusion", req("prior_lines", min=1), cohort="Group 1", position=1),
        criterion("inclusion", req("cancer_type", codes=["BREAST"]), cohort="Group 2",
                  position=2),
    ], codes=("AML", "BREAST"))
    patient = make_patient(cancer_code="AML", cancer_name="AML", prior_regimens=[],
                           prior_complete=True)
    verdict = evaluate_trial(trial, patient)
    assert verdict.verdict == "excluded"
    # Without a cohort naming it, the conditions still make a narrower reading unknown.
    alone = make_trial([criterion("inclusion", req("cancer_type", codes=["BREAST"]))],
                       codes=("AML", "BREAST"))
    assert evaluate_trial(alone, patient).verdict != "excluded"


STAGE_TABLE = [
    ("IV", ["IV"], True),
    ("IVB", ["IV"], True),
    ("IV", ["IVA", "IVB"], None),
    ("IIIA", ["IIIB", "IIIC"], False),
    ("III", ["IIIB", "IIIC"], None),
    ("IIIC1", ["IIIC"], True),
    ("I", ["II", "III"], False),
    ("IA2", ["I"], True),
    ("bogus", ["I"], None),
]


@pytest.mark.parametrize("group,allowed,expected", STAGE_TABLE)
def test_stage_in(group, allowed, expected):
    assert stage_in(group, allowed) is expected


EXTENT_TABLE = [
    ("IV", None, "c", {"metastatic": True, "locally_advanced": False, "early_stage": False}),
    (None, "M1c", None, {"metastatic": True, "advanced": True}),
    ("IIIB", "M0", None, {"metastatic": False, "locally_advanced": True, "advanced": True}),
    ("IIIA", "M0", None, {"advanced": None}),
    ("IB", "M0", "p", {"early_stage": True, "metastatic": False, "resected": True}),
    (None, None, None, {"metastatic": None, "recurrent": None}),
]


@pytest.mark.parametrize("group,m,prefix,expected", EXTENT_TABLE)
def test_derive_extent(group, m, prefix, expected):
    extent = derive_extent(group, m, prefix, t="T2a")
    assert {key: extent[key] for key in expected} == expected


def test_build_patient_maps_drugs_to_classes_and_counts_lines():
    classes = {"carboplatin": ["platinum", "chemotherapy"], "pembrolizumab": ["anti-pd-1"]}
    profile = Profile(
        cancer_type=CancerType("LUAD", "Lung Adenocarcinoma", "adenocarcinoma", 0, 14),
        stage=Stage(prefix="p", t="T2a", n="N1", m="M0", group="IIB", evidence="pT2a pN1"),
        biomarkers=[Biomarker("EGFR", "L858R", "positive")],
    )
    patient = build_patient(
        profile, ontology=ONTOLOGY, age=70, sex="male", ecog=0,
        prior_therapies=["Carboplatin + pemetrexed", "pembrolizumab"],
        normalise_drug=lambda name: name.lower(), classes_of=lambda d: classes.get(d, []),
    )
    assert patient.prior_lines == (2, 2)
    assert patient.prior_classes == {"platinum", "chemotherapy", "anti-pd-1"}
    assert patient.extent["resected"] is True and patient.extent["early_stage"] is True
    flat = build_patient(profile, ontology=ONTOLOGY, prior_therapies=["cisplatin", "etoposide"])
    assert flat.prior_lines == (1, 2)
    unknown = build_patient(profile, ontology=ONTOLOGY)
    assert unknown.prior_drugs is None and unknown.prior_lines is None


def test_exclusion_on_undocumented_biomarker_is_not_material():
    trial = make_trial([criterion("exclusion", marker(marker="ROS1", alterations=["fusion"]),
                                  text="Known ROS1 rearrangement")])
    verdict = evaluate_trial(trial, make_patient(biomarkers=[]))
    assert verdict.criteria[-1].result == "unknown"
    assert verdict.verdict == "eligible"


@pytest.mark.parametrize("requirements,expected", [
    ((marker(marker="EGFR", status="negative"), marker(marker="ALK", status="negative")),
     "not_met"),
    ((marker(marker="ALK", status="negative"), marker(marker="PD-L1", min_value=50, unit="TPS")),
     "met"),
    ((req("prior_therapy", classes=["platinum"]), req("prior_therapy", drugs=["osimertinib"])),
     "not_met"),
    ((req("stage", groups=["IIIB"]), req("stage", groups=["IV"])), "met"),
])
def test_only_disease_description_kinds_are_alternatives(requirements, expected):
    assert evaluate_criterion(criterion("inclusion", *requirements), make_patient()).result \
        == expected


def test_negated_requirement_states_the_opposite():
    no_metastases = criterion("inclusion", req("extent", extent="metastatic", negated=True))
    assert evaluate_criterion(no_metastases, make_patient()).result == "not_met"
    early = make_patient(stage_group="IB", stage_m="M0")
    assert evaluate_criterion(no_metastases, early).result == "met"


def test_permission_rules_nobody_out():
    allowed = criterion("exclusion", req("cns_metastases", state="stable", allowed=True))
    assert evaluate_criterion(allowed, make_patient()).result == "met"


def test_exclusion_naming_the_trials_own_cancer_is_left_to_the_subtype():
    own = criterion("exclusion", req("cancer_type", codes=["NSCLC"]), text="Sarcomatoid NSCLC")
    result = evaluate_criterion(own, make_patient(), trial_codes=["NSCLC", "_SOLID"])
    assert result.result == "unknown" and "subtype" in result.reason
    other = criterion("exclusion", req("cancer_type", codes=["BREAST", "NSCLC"]))
    assert evaluate_criterion(other, make_patient(), trial_codes=["NSCLC"]).result == "met"


ADJUVANT = [PriorTherapy("cisplatin + pemetrexed (adjuvant)", frozenset({"cisplatin"}),
                         frozenset({"platinum", "chemotherapy"}), True, "adjuvant", True)]


@pytest.mark.parametrize("regimens,expected", [
    (ADJUVANT, "met"),
    (FLAT_LIST, "unknown"),
    ([], "met"),
])
def test_adjuvant_therapy_does_not_count_where_the_criterion_allows_it(regimens, expected):
    naive = criterion("inclusion", req("prior_therapy", received=False, classes=["chemotherapy"]),
                      text="No prior chemotherapy for metastatic disease; adjuvant allowed")
    assert evaluate_criterion(naive, make_patient(prior_regimens=regimens)).result == expected


@pytest.mark.parametrize("kind, text", [
    ("inclusion", "No prior chemotherapy for metastatic breast cancer"),
    ("exclusion", "Previous chemotherapy for MBC"),
    ("exclusion", "Prior chemotherapy in the metastatic setting"),
])
def test_a_criterion_about_advanced_disease_leaves_adjuvant_therapy_out(kind, text):
    received = kind == "exclusion"
    statement = criterion(kind, req("prior_therapy", received=received,
                                    classes=["chemotherapy"]), text=text)
    assert evaluate_criterion(statement, make_patient(prior_regimens=ADJUVANT)).result == "met"


def test_generic_negative_result_rules_out_specific_alteration():
    patient = make_patient(biomarkers=[Biomarker("EGFR", "mutation", "negative")])
    wanted = marker(marker="EGFR", alterations=["exon 19 deletion", "L858R"])
    assert evaluate_requirement(wanted, patient).truth is False
    fusion = marker(marker="EGFR", alterations=["fusion"])
    assert evaluate_requirement(fusion, patient).truth is None


@pytest.mark.parametrize("entries,lines", [
    (["FOLFOX", "FOLFIRI + bevacizumab"], (2, 2)),
    (["subtotal resection"], (0, 0)),
    (["cisplatin", "etoposide", "radiotherapy"], (1, 2)),
    # Adjuvant treatment is a line for advanced disease only if the disease came back soon
    # after it, which the entries do not say.
    (["cisplatin + vinorelbine (adjuvant)"], (0, 1)),
    (["carboplatin + paclitaxel (adjuvant)", "FOLFOX"], (1, 2)),
])
def test_lines_of_therapy_count_systemic_regimens(entries, lines):
    names = {"folfox": ({"fluorouracil", "oxaliplatin"}, {"platinum"}),
             "subtotal resection": (set(), {"surgery"}),
             "radiotherapy": (set(), {"radiation"})}

    def reader(entry):
        return names.get(entry.lower(), ({entry.lower()}, {"chemotherapy"}))

    profile = Profile()
    patient = build_patient(profile, ontology=ONTOLOGY, prior_therapies=entries,
                            therapy_reader=reader)
    assert patient.prior_lines == lines


NO_STANDARD_LEFT = req("prior_lines", text="solid tumor for which no standard therapy exists",
                       min=1, max=None, beyond_standard=True, exhausted=True)


def test_resected_disease_with_nothing_since_is_not_beyond_standard_therapy():
    adjuvant = [PriorTherapy("cisplatin + vinorelbine (adjuvant)",
                             frozenset({"cisplatin", "vinorelbine"}),
                             frozenset({"platinum", "chemotherapy"}), True, "adjuvant", True)]
    patient = make_patient(stage_group="IIB", stage_m="M0", stage_prefix="p", stage_t="T3",
                           prior_regimens=adjuvant)
    result = evaluate_requirement(NO_STANDARD_LEFT, patient)
    assert result.truth is False
    assert "adjuvant setting" in result.reason


def test_newly_diagnosed_untreated_disease_is_not_beyond_standard_therapy():
    surgery = [PriorTherapy("gross total resection", frozenset(), frozenset({"surgery"}), False,
                            None, False)]
    patient = make_patient(cancer_code="GB", stage_group=None, stage_m=None, stage_prefix=None,
                           prior_regimens=surgery, newly_diagnosed=True)
    assert evaluate_requirement(NO_STANDARD_LEFT, patient).truth is False
    # After the lines the guidelines list for the cancer, whether options remain is for the
    # notes to say.
    treated = make_patient(prior_regimens=make_patient().prior_regimens + [DOCETAXEL])
    assert evaluate_requirement(NO_STANDARD_LEFT, treated).truth is None


def test_newly_diagnosed_disease_is_not_recurrent():
    profile = Profile(cancer_type=CancerType("AML", "Acute Myeloid Leukemia", "AML", 0, 3))
    patient = build_patient(profile, ontology=ONTOLOGY,
                            note_texts=["52-year-old man with newly diagnosed AML"])
    assert evaluate_requirement(req("extent", extent="recurrent"), patient).truth is False


def test_young_patient_with_stage_ii_papillary_thyroid_cancer_is_metastatic():
    patient = make_patient(cancer_code="THPA", age=15, stage_group="II", stage_m=None)
    assert patient.extent["metastatic"] is True


def test_stray_negation_between_stage_alternatives_is_dropped():
    text = "Stage IIIB/IIIC not eligible for chemoradiation, or Stage IV"
    item = criterion("inclusion", Requirement("stage", {"groups": ["IIIB", "IIIC"]},
                                              "Stage IIIB/IIIC", 0, 15),
                     Requirement("stage", {"groups": ["IV"], "negated": True}, "Stage IV",
                                 text.index("Stage IV"), len(text)), text=text)
    assert evaluate_criterion(item, make_patient()).result == "met"


def test_a_negation_beside_plain_extents_without_an_or_is_required():
    # "early-stage, resected ... breast cancer without evidence of distant metastasis"
    text = "Early-stage, resected invasive breast cancer without evidence of distant metastasis"
    item = criterion("inclusion",
                     Requirement("extent", {"extent": "early_stage"}, "Early-stage", 0, 11),
                     Requirement("extent", {"extent": "resected"}, "resected", 13, 21),
                     Requirement("extent", {"extent": "metastatic", "negated": True},
                                 "distant metastasis", text.index("distant"), len(text)),
                     text=text)
    resected_then_metastatic = make_patient(stage_group="IV", stage_prefix="p",
                                            metastatic_noted=True)
    assert evaluate_criterion(item, resected_then_metastatic).result == "not_met"
    # an "or" inside the negated list joins nothing to the plain ones
    text = "Early-stage resected breast cancer without evidence of recurrence or distant " \
           "metastases"
    item = criterion("inclusion",
                     Requirement("extent", {"extent": "early_stage"}, "Early-stage", 0, 11),
                     Requirement("extent", {"extent": "resected"}, "resected", 12, 20),
                     Requirement("extent", {"extent": "metastatic", "negated": True},
                                 "distant metastases", text.index("distant"), len(text)),
                     text=text)
    assert evaluate_criterion(item, resected_then_metastatic).result == "not_met"


HER2_LOW = {"marker": "HER2", "status": "negative", "min_value": 1, "max_value": 2,
            "unit": "IHC"}


@pytest.mark.parametrize("results,expected", [
    ([Biomarker("HER2", None, "negative", 1, "IHC")], True),
    ([Biomarker("HER2", None, "negative", 2, "IHC"),
      Biomarker("HER2", "amplification", "negative")], True),
    ([Biomarker("HER2", None, "negative", 0, "IHC")], False),  # HER2-zero is not HER2-low
    ([Biomarker("HER2", None, "negative")], None),  # negative, score not given
    ([Biomarker("HER2", None, "positive", 3, "IHC")], False),
])
def test_her2_low_checks_the_ihc_score_of_a_negative_result(results, expected):
    patient = make_patient(biomarkers=results)
    assert evaluate_requirement(req("biomarker", any_of=[HER2_LOW]), patient).truth is expected


def test_her2_negative_without_a_range_accepts_any_negative_score():
    patient = make_patient(biomarkers=[Biomarker("HER2", None, "negative", 0, "IHC")])
    assert evaluate_requirement(marker(marker="HER2", status="negative"), patient).truth is True


def spanned(kind, text, words, **params):
    start = text.index(words)
    return Requirement(kind, params, words, start, start + len(words))


HGSOC = "High-grade serous or high-grade endometrioid carcinoma of the ovary"
DE_NOVO = "Locoregionally recurrent disease not amenable to curative therapy, or de novo stage IV"
UNRESECTABLE_III = "Unresectable stage III disease"
NONSQ = "Non-squamous NSCLC"


@pytest.mark.parametrize("text,requirements,patient,expected", [
    # an "or" between a histology and a cancer type: either one will do
    (HGSOC, [spanned("histology", HGSOC, "High-grade serous",
                     histologies=["high-grade serous carcinoma"]),
             spanned("cancer_type", HGSOC, "endometrioid carcinoma of the ovary",
                     codes=["BREAST"])],
     {"histology": "high-grade serous carcinoma"}, "met"),
    # an "or" between an extent and a stage: newly diagnosed stage IV qualifies
    (DE_NOVO, [spanned("extent", DE_NOVO, "recurrent", extent="recurrent"),
               spanned("stage", DE_NOVO, "stage IV", groups=["IV", "IVA", "IVB"])],
     {"newly_diagnosed": True}, "met"),
    # no "or": both must hold
    (UNRESECTABLE_III, [spanned("extent", UNRESECTABLE_III, "Unresectable",
                                extent="unresectable"),
                        spanned("stage", UNRESECTABLE_III, "stage III", groups=["III"])],
     {}, "not_met"),
    (NONSQ, [spanned("histology", NONSQ, "Non-squamous", histologies=["squamous"]),
             spanned("cancer_type", NONSQ, "NSCLC", codes=["NSCLC"])], {}, "not_met"),
])
def test_or_joins_disease_description_kinds(text, requirements, patient, expected):
    item = EligibilityCriterion("inclusion", text, 0, requirements=requirements)
    assert evaluate_criterion(item, make_patient(**patient)).result == expected


@pytest.mark.parametrize("kind,requirements,patient,expected", [
    # same-kind biomarkers in one inclusion all hold ("ER-positive and HER2-negative")
    ("inclusion", (marker(marker="EGFR", alterations=["exon 19 deletion"]),
                   marker(marker="PD-L1", min_value=50, unit="TPS")), {}, "met"),
    ("inclusion", (marker(marker="EGFR", status="negative"),
                   marker(marker="ALK", status="negative")), {}, "not_met"),  # no EGFR/ALK
    ("inclusion", (marker(marker="MYC", alterations=["fusion"]),
                   marker(marker="BCL2", alterations=["fusion"])),
     {"biomarkers": [Biomarker("MYC", "rearrangement", "positive")]}, "unknown"),  # double hit
    # negated statements flip ("No distant metastases", "no CNS metastases")
    ("inclusion", (req("extent", extent="metastatic", negated=True),), {}, "not_met"),
    ("inclusion", (req("stage", groups=["IV"], negated=True),),
     {"stage_group": "IIIA", "stage_m": "M0"}, "met"),
    ("inclusion", (req("cns_metastases", state="any", negated=True),), {}, "unknown"),
    ("exclusion", (req("extent", extent="metastatic", negated=True),),
     {"stage_group": "IIIA", "stage_m": "M0"}, "not_met"),
    # permissions never fail: met when they are all the criterion says
    ("inclusion", (req("cns_metastases", state="stable", allowed=True),), {}, "met"),
    ("inclusion", (req("prior_therapy", received=True, classes=["TRK inhibitor"],
                       allowed=True),), {}, "met"),
    ("exclusion", (req("cns_metastases", state="stable", allowed=True),
                   req("cns_metastases", state="active")), {}, "unknown"),
])
def test_biomarkers_combine_negations_flip_permissions_never_fail(kind, requirements, patient,
                                                                   expected):
    result = evaluate_criterion(criterion(kind, *requirements), make_patient(**patient))
    assert result.result == expected


@pytest.mark.parametrize("item,result,expected", [
    ({"marker": "KRAS", "except_alterations": ["G12C"]},
     Biomarker("KRAS", "G12C", "positive"), False),
    ({"marker": "KRAS", "except_alterations": ["G12C"]},
     Biomarker("KRAS", "G12D", "positive"), True),
    ({"marker": "KRAS", "except_alterations": ["G12C"]},
     Biomarker("KRAS", None, "positive"), None),
    ({"marker": "NTRK3", "alterations": ["mutation", "amplification"],
      "except_alterations": ["fusion"]}, Biomarker("NTRK3", "ETV6::NTRK3 fusion", "positive"),
     False),
    ({"marker": "NTRK3", "alterations": ["mutation", "amplification"],
      "except_alterations": ["fusion"]}, Biomarker("NTRK3", "G623R", "positive"), True),
])
def test_alterations_left_out_do_not_qualify(item, result, expected):
    patient = make_patient(biomarkers=[result])
    assert evaluate_requirement(req("biomarker", any_of=[item]), patient).truth is expected


def test_a_measured_score_decides_a_threshold_over_a_bare_positive():
    patient = make_patient(biomarkers=[
        Biomarker("PD-L1", None, "positive", 20, "TPS"),
        Biomarker("PD-L1", None, "positive", evidence="PD-L1 expression detected")])
    result = evaluate_requirement(marker(marker="PD-L1", min_value=50, unit="TPS"), patient)
    assert result.truth is False and "20" in result.reason


@pytest.mark.parametrize("statuses, expected", [
    ({"ER": "negative", "PR": "negative", "HER2": "positive"}, "met"),  # HER2+: not excluded
    ({"ER": "negative", "PR": "negative", "HER2": "negative"}, "not_met"),
    ({"ER": "positive", "PR": "negative", "HER2": "negative"}, "met"),
])
def test_an_excluded_receptor_subtype_needs_all_its_statuses(statuses, expected):
    # "Triple-negative breast cancer" gives ER, PR and HER2 negative on one span; as three
    # alternatives they excluded every ER-negative patient.
    same_span = [Requirement("biomarker", {"any_of": [{"marker": m, "status": "negative"}]},
                             "Triple-negative", 0, 15) for m in ("ER", "PR", "HER2")]
    triple = criterion("exclusion", *same_span, text="Triple-negative breast cancer")
    patient = make_patient(biomarkers=[Biomarker(m, None, s) for m, s in statuses.items()])
    assert evaluate_criterion(triple, patient).result == expected


def test_driver_alterations_listed_in_an_exclusion_stay_alternatives():
    text = "Known EGFR mutation, ALK rearrangement, ROS1 fusion"
    reqs = [Requirement("biomarker", {"any_of": [{"marker": m, "status": "positive"}]},
                        m, start, start + 4) for m, start in (("EGFR", 6), ("ALK", 21),
                                                              ("ROS1", 40))]
    patient = make_patient(biomarkers=[Biomarker("EGFR", "mutation", "positive")])
    assert evaluate_criterion(criterion("exclusion", *reqs, text=text), patient).result == \
        "not_met"


# --------------------------------------------------------------------------- beyond standard

BEYOND_STANDARD = req("prior_lines", min=1, max=None, beyond_standard=True)
RAI = PriorTherapy("radioactive iodine", frozenset({"radioactive iodine"}),
                   frozenset({"radiation"}), False, None, False)


@pytest.mark.parametrize("regimens,truth", [
    ([], False),           # untreated: standard therapy lies ahead
    (None, None),          # history not documented
    ([RAI], None),         # only local or radioiodine therapy: the notes must say
    (FLAT_LIST, True),     # a systemic line given
])
def test_disease_beyond_standard_therapy_needs_a_prior_line(regimens, truth):
    result = evaluate_requirement(BEYOND_STANDARD, make_patient(prior_regimens=regimens))
    assert result.truth is truth
    assert "standard therapy" in result.reason


def test_standard_options_used_up_is_not_shown_by_one_line():
    exhausted = req("prior_lines", min=1, max=None, beyond_standard=True, exhausted=True)
    assert evaluate_requirement(exhausted, make_patient(prior_regimens=FLAT_LIST)).truth is None
    assert evaluate_requirement(exhausted, make_patient(prior_regimens=[])).truth is False


SURGERY = PriorTherapy("hysterectomy", frozenset(), frozenset({"surgery"}), False, None, False)
OSIMERTINIB = PriorTherapy("osimertinib", frozenset({"osimertinib"}),
                           frozenset({"targeted therapy"}), True, None, False)
DOCETAXEL = PriorTherapy("docetaxel", frozenset({"docetaxel"}), frozenset({"chemotherapy"}),
                         True, None, False)


@pytest.mark.parametrize("regimens,truth", [
    ([SURGERY], False),        # recurrent after surgery alone: first systemic line ahead
    ([SURGERY, RAI], None),    # radioiodine is advanced thyroid cancer's standard: notes say
])
def test_disease_after_local_treatment_alone_is_not_beyond_standard_therapy(regimens, truth):
    result = evaluate_requirement(BEYOND_STANDARD, make_patient(prior_regimens=regimens))
    assert result.truth is truth
    if truth is False:
        assert "only local treatment so far (hysterectomy)" in result.reason
    # a history read from the notes alone may have missed a systemic line
    unsure = make_patient(prior_regimens=regimens, prior_complete=False)
    assert evaluate_requirement(BEYOND_STANDARD, unsure).truth is not False


def test_no_standard_therapy_left_counts_the_guideline_lines_for_the_cancer():
    exhausted = req("prior_lines", min=1, max=None, beyond_standard=True, exhausted=True)
    # Lung adenocarcinoma after one line (osimertinib): NSCLC has two standard lines listed
    # (match/data/standard_lines.json), so docetaxel-based therapy remains.
    one = evaluate_requirement(exhausted, make_patient(prior_regimens=[OSIMERTINIB]))
    assert one.truth is False
    assert "1 prior line for advanced disease" in one.reason
    assert "lists 2 or more standard lines" in one.reason
    # After two lines the table no longer settles it; nor for a cancer it leaves out.
    two = make_patient(prior_regimens=[OSIMERTINIB, DOCETAXEL])
    assert evaluate_requirement(exhausted, two).truth is None
    prostate = make_patient(prior_regimens=[OSIMERTINIB], cancer_code="PRAD",
                            cancer_name="Prostate Adenocarcinoma")
    assert evaluate_requirement(exhausted, prostate).truth is None
    # "Refractory to standard therapy" is met once a standard line has failed.
    failed = make_patient(prior_regimens=[OSIMERTINIB],
                          progression_noted="progression on osimertinib")
    assert evaluate_requirement(BEYOND_STANDARD, failed).truth is True


def test_a_labelled_targeted_therapy_not_yet_given_is_a_standard_option_left():
    # BRAF V600E thyroid cancer after lenvatinib: dabrafenib + trametinib remains, so a trial
    # for patients who have "exhausted all effective therapies" is not for her.
    exhausted = req("prior_lines", min=1, max=None, beyond_standard=True, exhausted=True)
    left = make_patient(prior_regimens=FLAT_LIST,
                        open_protocols=["dabrafenib + trametinib (BRAF V600E)"])
    result = evaluate_requirement(exhausted, left)
    assert result.truth is False and "dabrafenib + trametinib" in result.reason
    # "Refractory to standard therapy" alone asks for no such thing.
    refractory = req("prior_lines", min=1, max=None, beyond_standard=True)
    assert evaluate_requirement(refractory, left).truth is not False


def test_a_cohorts_own_disease_list_is_a_list_of_alternatives():
    # "Part B2: ... NSCLC / urothelial cancer / any histology if MSI-H": a lung cancer fits
    # the part by its NSCLC line; the other lines of the list are other patients'.
    trial = make_trial([
        criterion("inclusion", req("cancer_type", codes=["NSCLC"]), text="NSCLC",
                  cohort="Part B2", position=1),
        criterion("inclusion", req("cancer_type", codes=["BREAST"]),
                  text="triple negative breast cancer", cohort="Part B2", position=2),
        criterion("inclusion", req("cancer_type", codes=["AML"]), text="acute myeloid leukemia",
                  cohort="Part A1", position=4),
    ], codes=("_SOLID",))
    verdict = evaluate_trial(trial, make_patient())
    assert verdict.verdict != "excluded" and verdict.cohort == "Part B2"


def test_a_cohort_of_other_cancers_only_is_not_the_patients():
    # "Part 1: NSCLC, KRAS G12C ...; Part 2A: AML or MDS": a lung cancer with KRAS
    # untested joins Part 1 (possibly eligible), not Part 2A, whose lines are all other
    # cancers' and so set aside (met, for another disease), leaving it nothing to fail.
    trial = make_trial([
        criterion("inclusion", req("cancer_type", codes=["NSCLC"]), text="NSCLC",
                  cohort="Part 1", position=1),
        criterion("inclusion", marker(marker="KRAS", alterations=["G12C"]), text="KRAS G12C",
                  cohort="Part 1", position=2),
        criterion("inclusion", req("cancer_type", codes=["AML", "MDS"]),
                  text="Patients with AML or MDS are eligible", cohort="Part 2A", position=3),
    ], codes=("_SOLID", "AML", "MDS"))
    verdict = evaluate_trial(trial, make_patient())
    assert (verdict.verdict, verdict.cohort) == ("possibly_eligible", "Part 1")


CISPLATIN_WITH_RT = [PriorTherapy("cisplatin", frozenset({"cisplatin"}),
                                  frozenset({"platinum", "chemotherapy"}), True, None, False),
                     PriorTherapy("external beam radiation", frozenset(),
                                  frozenset({"radiation"}), False, None, False)]


@pytest.mark.parametrize("regimens,truth", [
    (CISPLATIN_WITH_RT, False),  # one curative-intent course: first-line for recurrence ahead
    (FLAT_LIST, None),           # cisplatin, etoposide: one course or two, the case won't say
    ([PriorTherapy("carboplatin + paclitaxel (adjuvant)", frozenset({"carboplatin"}),
                   frozenset({"chemotherapy"}), True, "adjuvant", True),
      PriorTherapy("gemcitabine (adjuvant)", frozenset({"gemcitabine"}),
                   frozenset({"chemotherapy"}), True, "adjuvant", False)], False),
    (CISPLATIN_WITH_RT + [PriorTherapy("pembrolizumab (metastatic)", frozenset({"pembrolizumab"}),
                                       frozenset({"immunotherapy"}), True, "advanced", False)],
     True),                      # treated for the recurrence and progressed
])
def test_recurrence_after_curative_treatment_is_not_yet_beyond_standard_therapy(regimens,
                                                                                 truth):
    # FIGO IIIB cervical cancer given chemoradiation, now a distant recurrence.
    # (rM1a: the recurrence's M, read beside the diagnosis's stage group)
    patient = make_patient(cancer_code="CESC", stage_group="IIIB", stage_m="M1a",
                           stage_prefix="r", prior_regimens=regimens, metastatic_noted=True,
                           relapse_noted="now metastatic recurrence")
    result = evaluate_requirement(BEYOND_STANDARD, patient)
    assert result.truth is truth
    if truth is False:
        assert "recurrence after curative-intent treatment" in result.reason
    # Stage IV at diagnosis: the first course was for advanced disease.
    de_novo = make_patient(prior_regimens=CISPLATIN_WITH_RT, relapse_noted="progression")
    assert evaluate_requirement(BEYOND_STANDARD, de_novo).truth is True


def test_regimens_a_requirement_excepts_do_not_count():
    # "systemic anti-tumor treatment other than EGFR-TKI" (exclusion)
    osimertinib = PriorTherapy("osimertinib", frozenset({"osimertinib"}),
                               frozenset({"egfr tki", "tyrosine kinase inhibitor"}), True, None,
                               False)
    other_than_tki = Requirement("prior_lines", {"min": 1, "max": None, "except": {
        "drugs": [], "classes": ["EGFR TKI"], "adjuvant": False}}, "criterion words")
    assert evaluate_requirement(other_than_tki, make_patient(
        prior_regimens=[osimertinib])).truth is False
    assert evaluate_requirement(other_than_tki, make_patient(
        prior_regimens=[osimertinib] + FLAT_LIST)).truth is True
    # "chemotherapy (except adjuvant chemotherapy)"
    adjuvant = PriorTherapy("carboplatin + paclitaxel (adjuvant)",
                            frozenset({"carboplatin", "paclitaxel"}),
                            frozenset({"chemotherapy"}), True, "adjuvant", True)
    chemo = Requirement("prior_therapy", {"received": True, "drugs": [],
                                          "classes": ["chemotherapy"], "except": {
                                              "drugs": [], "classes": [], "adjuvant": True}},
                        "criterion words")
    assert evaluate_requirement(chemo, make_patient(prior_regimens=[adjuvant])).truth is False


# --------------------------------------------------------------------------- extent now


def test_metastases_in_the_notes_outrank_the_stage_at_diagnosis():
    # Stage IIB breast cancer ten years ago, a biopsy-proven bone metastasis now.
    patient = make_patient(cancer_code="IDC", stage_group="IIB", stage_m=None,
                           metastatic_noted=True)
    assert patient.extent["metastatic"] is True
    assert patient.extent["early_stage"] is False
    stated_absent = make_patient(stage_group="IV", stage_m="M1a", metastatic_noted=False)
    assert stated_absent.extent["metastatic"] is True  # the stage IV stands


def test_a_solid_tumour_without_distant_spread_has_no_brain_metastases():
    cns = req("cns_metastases", state="any")
    local = make_patient(stage_group="IIB", stage_m="M0", brain_metastases=None)
    assert evaluate_requirement(cns, local).truth is False
    unknown = make_patient(stage_group=None, stage_m=None, brain_metastases=None)
    assert evaluate_requirement(cns, unknown).truth is None


# --------------------------------------------------------------------------- disease lines


def _disease_line(codes, position, text="disease line", **extra):
    requirements = [req("cancer_type", codes=codes)] + list(extra.pop("more", []))
    return criterion("inclusion", *requirements, text=text, position=position)


def test_lines_of_a_multi_disease_trial_are_alternatives():
    trial = make_trial([_disease_line(["NSCLC"], 1, "NSCLC"),
                        _disease_line(["BREAST"], 2, "triple negative breast cancer"),
                        _disease_line(["BLADDER"], 3, "urothelial cancer")],
                       codes=("_SOLID",))
    verdict = evaluate_trial(trial, make_patient())
    assert verdict.verdict != "excluded"
    set_aside = [c for c in verdict.criteria if c.reason.startswith("for another disease")]
    assert [c.text for c in set_aside] == ["triple negative breast cancer", "urothelial cancer"]
    assert screen_trial(trial, make_patient()) == []


def test_no_disease_line_fitting_still_excludes():
    trial = make_trial([_disease_line(["BREAST"], 1), _disease_line(["BLADDER"], 2)],
                       codes=("_SOLID",))
    assert evaluate_trial(trial, make_patient()).verdict == "excluded"


def test_a_line_for_one_disease_applies_to_that_disease_only():
    line = _disease_line(["COADREAD"], 1, "For subjects with colorectal cancer, evidence of "
                         "lack of mutation in KRAS and BRAF",
                         more=[marker(marker="KRAS", status="negative")])
    trial = make_trial([line], codes=("_SOLID",))
    verdict = evaluate_trial(trial, make_patient())
    assert verdict.verdict != "excluded"
    # A single-disease trial's plain requirement still rules out another cancer.
    plain = make_trial([_disease_line(["COADREAD"], 1, "Histologically confirmed colorectal "
                                                        "adenocarcinoma")], codes=("_SOLID",))
    assert evaluate_trial(plain, make_patient()).verdict == "excluded"


def test_a_rule_for_the_patients_a_line_names_admits_no_other_disease():
    # A screening study filed under "Solid Tumors" whose every disease line is NSCLC, one of
    # them worded "for participants with ... NSCLC": a breast cancer fits none of them.
    trial = make_trial([
        _disease_line(["NSCLC"], 1, "Unresectable stage III NSCLC of squamous histology",
                      more=[req("histology", histologies=["squamous cell carcinoma"])]),
        _disease_line(["NSCLC"], 2, "for Participants with Stage II, IIIA NSCLC Requiring "
                                    "Adjuvant Treatment"),
        _disease_line(["NSCLC"], 3, "Stage II, IIIA NSCLC based on the 8th edition")],
        codes=("_SOLID",))
    assert evaluate_trial(trial, make_patient(cancer_code="IDC")).verdict == "excluded"


@pytest.mark.parametrize("kind,negated", [("inclusion", False), ("inclusion", True),
                                          ("exclusion", False), ("exclusion", True)])
def test_pregnancy_only_ever_screens_out_a_pregnant_patient(kind, negated):
    # "Persons able to become pregnant must use contraception" (inclusion, not negated);
    # "Have a negative pregnancy test" filed under exclusions (exclusion, negated).
    params = {"negated": True} if negated else {}
    c = criterion(kind, req("pregnancy", **params))
    assert evaluate_criterion(c, make_patient(sex="male")).result == "met"
    assert evaluate_criterion(c, make_patient(sex="female", pregnant=False)).result == "met"
    assert evaluate_criterion(c, make_patient(sex="female", pregnant=True)).result == "not_met"


def test_a_heading_naming_several_cohorts_is_no_cohort_to_join():
    # "Exclusion criteria for Group 1 and 2" holds only exclusions every group shares; the
    # patient must still fit one group's inclusions.
    trial = make_trial([
        criterion("inclusion", req("prior_lines", min=1, max=None), text="≥ 1 prior regimen",
                  cohort="Group 1", position=1),
        criterion("inclusion", req("cancer_type", codes=["PAAD"]), text="pancreatic",
                  cohort="Group 2", position=2),
        criterion("exclusion", req("performance_status", scale="ECOG", min=2, max=None),
                  text="ECOG >= 2", cohort="Group 1 and 2", position=3),
    ], codes=("_SOLID",))
    verdict = evaluate_trial(trial, make_patient(prior_regimens=[]))
    assert verdict.verdict == "excluded"
    assert verdict.cohort in ("Group 1", "Group 2")
    assert any(c.text == "ECOG >= 2" for c in verdict.deciding)


def test_labels_naming_themselves_are_one_cohort_however_written():
    from trialmatch.match.evaluate import cohort_scope
    assert cohort_scope("Dose-escalation part") == cohort_scope("Dose Escalation")
    assert cohort_scope("Esophageal Cohort Expansion") == \
        cohort_scope("Esophageal Expansion Cohort")
    assert cohort_scope("Cohorts A and B") == ("cohort", frozenset({"A", "B"}))


def _escalation_and_expansion_trial():
    # "For the Dose-escalation and MTD Expansion Cohorts: solid tumour ...", "Dose
    # Escalation and MTD Expansion: i. must have progressed after 1 standard therapy"
    # (labelled "Dose Escalation"), "MTD Expansion Cohort only: colorectal cancer",
    # "Esophageal Cohort Expansion" criteria written in turn with the others.
    return make_trial([
        criterion("inclusion", req("cancer_type", codes=[], scope="solid"), text="solid",
                  cohort="Dose-escalation and MTD Expansion Cohorts", position=1),
        criterion("inclusion", req("cancer_type", codes=["COADREAD"]), text="CRC",
                  cohort="MTD Expansion Cohort", position=2),
        criterion("inclusion", req("cancer_type", codes=["ESCC"]), text="ESCC",
                  cohort="Esophageal Cohort Expansion", position=3),
        criterion("inclusion", req("prior_lines", min=1, max=None), text="progressed after 1",
                  cohort="Dose Escalation", position=4),
        criterion("inclusion", req("cancer_type", codes=["ESCC"]), text="ESCC measurable",
                  cohort="Esophageal Cohort Expansion", position=5),
    ], codes=("_SOLID",))


def test_a_label_covering_two_cohorts_is_no_cohort_to_join():
    # Its criteria apply to the dose escalation and to the MTD expansion; one joins either,
    # and the dose escalation's own rule (a prior line) still applies.
    treated = evaluate_trial(_escalation_and_expansion_trial(), make_patient())
    assert treated.verdict == "eligible"
    assert treated.cohort == "Dose Escalation"
    untreated = evaluate_trial(_escalation_and_expansion_trial(),
                               make_patient(prior_regimens=[]))
    assert untreated.verdict == "excluded"


def test_a_label_naming_several_cohorts_applies_to_each_of_them():
    # "Cohorts A and B: advanced RCC" beside "Cohort C: well-differentiated NET": a patient
    # with clear-cell RCC joins A (or B), and Cohort C's NET criterion does not fail her;
    # "Cohort B only" exclusions apply to B alone.
    trial = make_trial([
        criterion("inclusion", req("cancer_type", codes=["LUAD"]), text="advanced LUAD",
                  cohort="Cohorts A and B", position=1),
        criterion("inclusion", req("prior_lines", min=None, max=0), text="treatment-naive",
                  cohort="Cohort B", position=2),
        criterion("inclusion", req("histology", histologies=["neuroendocrine tumor"]),
                  text="well-differentiated NET", cohort="Cohort C", position=3),
        criterion("exclusion", req("prior_lines", min=1, max=None), text="prior therapy",
                  cohort="Cohort B only", position=4),
    ], codes=("_SOLID",))
    verdict = evaluate_trial(trial, make_patient())
    assert verdict.verdict != "excluded"
    assert verdict.cohort == "Cohort A"
    assert [c.text for c in verdict.deciding if c.cohort] == ["advanced LUAD"]
    assert not verdict.failing


def test_an_exclusion_never_rules_out_the_absence_of_brain_metastases():
    # "Patients must have no history of CNS metastasis" filed under exclusions
    c = criterion("exclusion", req("cns_metastases", state="any", negated=True))
    assert evaluate_criterion(c, make_patient(brain_metastases=False)).result == "met"
    assert evaluate_criterion(c, make_patient(brain_metastases=True)).result == "not_met"


def test_a_resected_tumour_is_not_locally_advanced_now():
    resected = make_patient(stage_group="III", stage_m="M0", stage_prefix="p", stage_t="T3a")
    assert resected.extent["locally_advanced"] is False
    assert resected.extent["advanced"] is False
    relapsed = make_patient(stage_group="III", stage_m="M0", stage_prefix="p", stage_t="T3a",
                            metastatic_noted=True)
    assert relapsed.extent["metastatic"] is True


def test_a_known_condition_the_notes_never_mention_excludes_no_one():
    known = criterion("exclusion", req("infection", agents=["HIV"]), text="Known HIV infection")
    plain = criterion("exclusion", req("infection", agents=["HIV"]), text="HIV infection")
    patient = make_patient()
    assert evaluate_criterion(known, patient).result == "met"
    assert "not known" in evaluate_criterion(known, patient).reason
    assert evaluate_criterion(plain, patient).result == "unknown"
    hiv = make_patient(infections={"HIV": (True, "HIV on ART")})
    assert evaluate_criterion(known, hiv).result == "not_met"


def test_a_part_open_to_all_solid_tumours_sets_the_expansion_lines_aside():
    # "Parts A and B: histologically confirmed advanced solid tumor" beside "Part C2: ...
    # breast cancer", "Part C3: ... SCLC": a colorectal patient is for the escalation parts.
    solid = criterion("inclusion", req("cancer_type", codes=[], scope="solid"),
                      text="Parts A and B: Histologically confirmed advanced solid tumor",
                      position=1)
    trial = make_trial([solid, _disease_line(["BREAST"], 2, "Part C2: TNBC"),
                        _disease_line(["SCLC"], 3, "Part C3: platinum-resistant SCLC")],
                       codes=("_SOLID",))
    verdict = evaluate_trial(trial, make_patient())
    assert verdict.verdict != "excluded"
    assert screen_trial(trial, make_patient()) == []
    # The open part may be a cohort block of its own ("Parts A and B/B2:").
    in_block = criterion("inclusion", req("cancer_type", codes=[], scope="solid"),
                         text="Histologically confirmed advanced solid tumor",
                         cohort="Parts A and B/B2", position=1)
    trial = make_trial([in_block, _disease_line(["BREAST"], 2, "Part C2: TNBC"),
                        _disease_line(["SCLC"], 3, "Part C3: platinum-resistant SCLC")],
                       codes=("_SOLID",))
    assert evaluate_trial(trial, make_patient()).verdict != "excluded"
    # A line mentioning cancers in passing is no such part: the breast line still stands.
    passing = criterion("inclusion", req("cancer_type", codes=[], scope="solid"),
                        text="Measurable per RECIST (Solid Tumor Evaluation Criteria)",
                        position=1)
    trial = make_trial([passing, _disease_line(["BREAST"], 2, "HR+ breast cancer")],
                       codes=("_SOLID",))
    assert evaluate_trial(trial, make_patient()).verdict == "excluded"


@pytest.mark.parametrize("text", [
    "If there is a history of brain metastases treated with radiation therapy, the radiation "
    "therapy must have occurred at least 6 weeks prior to enrolment",
    "NON-SMALL CELL LUNG CANCER SPECIFIC: For patients who have received neoadjuvant anti-PD-1 "
    "for stage II or III disease, ...",
    "For one part of the study, participants must have received at least one prior regimen",
    "For participants without measurable disease in sPEP or uPEP: serum free light chain ...",
])
def test_a_rule_for_some_patients_fails_no_one_else(text):
    c = criterion("inclusion", req("cns_metastases", state="any"), text=text)
    result = evaluate_criterion(c, make_patient(brain_metastases=False))
    assert result.result == "met"
    assert result.reason.startswith("applies only to the patients it names")


def test_a_trial_made_only_of_other_diseases_lines_still_excludes():
    # "MELANOMA SPECIFIC: ...", "BREAST CANCER SPECIFIC: ...": a lung patient is in neither
    trial = make_trial([
        criterion("inclusion", req("histology", histologies=["melanoma"]),
                  text="MELANOMA SPECIFIC: Tissue confirmation of melanoma", position=1),
        criterion("inclusion", req("cancer_type", codes=["BREAST"]),
                  text="BREAST CANCER SPECIFIC: HR+ breast cancer", position=2),
    ], codes=("_SOLID",))
    assert evaluate_trial(trial, make_patient()).verdict == "excluded"


def test_a_line_for_another_disease_of_the_trials_conditions_fails_no_one_else():
    # A lung patient in a melanoma + NSCLC trial: "MELANOMA SPECIFIC: ... progressed on a
    # PD-1 inhibitor" is the melanoma patients' line, not a doubt about the lung cancer.
    trial = make_trial([
        criterion("inclusion", req("cancer_type", codes=["MEL"]),
                  req("prior_therapy", received=True, drugs=["ipilimumab"]),
                  text="MELANOMA SPECIFIC: History of progression on ipilimumab", position=1),
        criterion("inclusion", req("cancer_type", codes=["NSCLC"]),
                  text="NON-SMALL CELL LUNG CANCER SPECIFIC: Stage IV NSCLC", position=2),
    ], codes=("MEL", "NSCLC"))
    verdict = evaluate_trial(trial, make_patient())
    assert verdict.verdict != "excluded"
    (line,) = [r for r in verdict.criteria if r.text.startswith("MELANOMA")]
    assert line.result == "met" and line.reason.startswith("for another disease")


def test_a_resected_tumour_has_nothing_to_measure():
    resected = make_patient(stage_group="III", stage_m="M0", stage_prefix="p", stage_t="T3a")
    assert evaluate_requirement(req("measurable_disease"), resected).truth is False
    assert evaluate_requirement(req("measurable_disease"), make_patient()).truth is None


@pytest.mark.parametrize("note,relapsed", [
    ("IMPRESSION: first relapse of IDH1-mutated AML ~10 mo post-MUD alloHCT.", True),
    ("Stage IIIB cervical SCC in 2018 -> now metastatic recurrence.", True),
    ("63M with recurrent/metastatic squamous cell carcinoma of the oral tongue.", True),
    ("PD 06/2021 on lenalidomide (len-refractory).", True),
    ("Oncotype DX Recurrence Score 18.", False),
    ("CT chest/abdomen: no evidence of recurrence.", False),
    ("Plan: alloHCT in CR1 to lower the risk of relapse.", False),
    ("MDS with refractory anemia with ring sideroblasts.", False),
    ("History of recurrent UTIs.", False),
    ("Surveillance for recurrence every 3 months.", False),
])
def test_the_notes_say_when_the_disease_has_relapsed(note, relapsed):
    from trialmatch.match.evaluate import states_relapse

    assert (states_relapse([note]) is not None) is relapsed


def test_relapse_in_the_notes_makes_the_disease_recurrent_now():
    profile = Profile(cancer_type=CancerType("AML", "Acute Myeloid Leukemia", "AML", 0, 3))
    patient = build_patient(profile, ontology=ONTOLOGY, note_texts=[
        "09/2024 newly diagnosed AML, 7+3 then HiDAC.", "12/2026: first relapse of AML."])
    result = evaluate_requirement(req("extent", extent="recurrent"), patient)
    assert result.truth is True and "first relapse" in result.evidence


def test_untreated_disease_is_neither_relapsed_nor_refractory():
    profile = Profile(cancer_type=CancerType("PCM", "Plasma Cell Myeloma", "myeloma", 0, 7))
    patient = build_patient(profile, ontology=ONTOLOGY, prior_therapies=[],
                            note_texts=["Newly dx IgG-kappa multiple myeloma, CRAB+."])
    assert patient.newly_diagnosed
    assert evaluate_requirement(req("extent", extent="recurrent"), patient).truth is False
    silent = build_patient(profile, ontology=ONTOLOGY, prior_therapies=[],
                           note_texts=["IgG-kappa multiple myeloma, CRAB+."])
    result = evaluate_requirement(req("extent", extent="recurrent"), silent)
    assert result.truth is False and "no prior treatment" in result.reason


def test_relapsed_leukaemia_had_at_least_one_line_though_the_notes_list_none():
    profile = Profile(cancer_type=CancerType("AML", "Acute Myeloid Leukemia", "AML", 0, 3))
    patient = build_patient(profile, ontology=ONTOLOGY,
                            note_texts=["IMPRESSION: first relapse of AML post alloHCT."])
    assert patient.prior_lines is None
    untreated_only = evaluate_requirement(req("prior_lines", min=None, max=0), patient)
    assert untreated_only.truth is False and "relapsed" in untreated_only.reason
    assert evaluate_requirement(req("prior_lines", min=1, max=None), patient).truth is True
    assert evaluate_requirement(req("prior_lines", min=2, max=None), patient).truth is None


def test_a_marker_line_open_to_any_histology_is_one_population_of_a_disease_list():
    from trialmatch.models import TrialText
    from trialmatch.nlp.criteria import annotate_trial

    text = ("Inclusion Criteria:\n* Histological confirmation of one of the cancers listed "
            "below;\n  * NSCLC\n  * cutaneous melanoma\n  * urothelial cancer\n  * any "
            "histology if known to be microsatellite-instability high (MSI-H)\n"
            "* Age >= 18")
    annotation = annotate_trial(TrialText("NCT90000012", "A basket", ["Solid Tumor"], [], text))
    trial = make_trial(annotation.criteria, codes=annotation.oncotree_codes)
    mss = [Biomarker("MSI", None, "negative", evidence="MSS")]
    melanoma = make_patient(cancer_code="SKCM", cancer_name="Cutaneous Melanoma",
                            histology="melanoma", primary_site="skin", biomarkers=mss)
    assert evaluate_trial(trial, melanoma).verdict != "excluded"
    assert not screen_trial(trial, melanoma)
    # No disease line admits colon cancer: then the marker line stands, and MSS fails it.
    colon = make_patient(cancer_code="COAD", cancer_name="Colon Adenocarcinoma",
                         histology="adenocarcinoma", primary_site="colon", biomarkers=mss)
    assert evaluate_trial(trial, colon).verdict == "excluded"


def test_a_stage_and_an_extent_joined_by_or_across_other_words_are_alternatives():
    text = ("stage IIIB/IIIC NSCLC that is unresectable and not fit for radical concurrent "
            "chemoradiotherapy, or metastatic non-squamous NSCLC (IV)")
    stage = Requirement("stage", {"groups": ["IIIB", "IIIC"]}, "stage IIIB/IIIC", 0, 15)
    unresectable = Requirement("extent", {"extent": "unresectable"}, "unresectable", 30, 42)
    metastatic = Requirement("extent", {"extent": "metastatic"}, "metastatic", 100, 110)
    c = criterion("inclusion", stage, unresectable, metastatic, text=text)
    assert evaluate_criterion(c, make_patient()).result == "met"  # stage IV, M1a
    # A lead-in and its list: the list's "or" joins its items only.
    listed = ("after surgical resection, and belongs to one of the following:\n"
              "  * Stage III, or\n  * Stage IIB")
    resected = Requirement("extent", {"extent": "resected"}, "after surgical resection", 0, 24)
    groups = [Requirement("stage", {"groups": ["III"]}, "Stage III", 68, 77),
              Requirement("stage", {"groups": ["IIB"]}, "Stage IIB", 86, 95)]
    c = criterion("inclusion", resected, *groups, text=listed)
    unresected = make_patient(stage_group="IIIA", stage_m="M0", stage_prefix="c")
    assert evaluate_criterion(c, unresected).result != "met"


def test_an_extent_the_notes_decide_against_the_stage_says_so():
    # FIGO IIIB at diagnosis, a distant recurrence now: not "stage IIIB means metastatic".
    patient = make_patient(cancer_code="CESC", stage_group="IIIB", stage_m=None,
                           metastatic_noted=True)
    result = evaluate_requirement(req("extent", extent="metastatic"), patient)
    assert result.truth is True
    assert result.reason == "the notes mean metastatic disease (stage IIIB at diagnosis)"


def test_the_notes_say_in_which_setting_a_listed_drug_was_given():
    # "concurrent CRT 60 Gy w/ weekly carboplatin/paclitaxel", "durvalumab (consolidation)":
    # curative-intent courses, no line for metastatic disease; a line named so stays one.
    notes = ["- 11/2025 concurrent CRT 60 Gy/30 fx w/ weekly carboplatin/paclitaxel x6. PR.\n"
             "- 02/2026 C1 durvalumab 1500 mg q4wk (consolidation).\n"
             "- 10/2026 docetaxel for metastatic progression.\n"]
    profile = Profile(cancer_type=CancerType("LUAD", "Lung Adenocarcinoma", "LUAD", 0, 3))
    patient = build_patient(profile, ontology=ONTOLOGY, note_texts=notes,
                            prior_therapies=["carboplatin", "paclitaxel", "durvalumab",
                                             "docetaxel"],
                            therapy_reader=lambda e: ({e}, {"chemotherapy"}))
    assert [r.setting for r in patient.prior_regimens] == ["adjuvant", "adjuvant", "adjuvant",
                                                          None]
    assert patient.prior_lines == (1, 4)


def test_chemotherapy_of_a_curative_course_beside_radiation_is_chemoradiotherapy():
    chemo = PriorTherapy("carboplatin", frozenset({"carboplatin"}),
                         frozenset({"platinum", "chemotherapy"}), True, "adjuvant", False)
    radiation = PriorTherapy("thoracic radiation 60 Gy", frozenset(), frozenset({"radiation"}),
                             False, None, False)
    crt = req("prior_therapy", received=True, drugs=[], classes=["chemoradiotherapy"])
    assert evaluate_requirement(crt, make_patient(prior_regimens=[chemo, radiation])).truth
    palliative = PriorTherapy("carboplatin", chemo.drugs, chemo.classes, True, None, False)
    assert evaluate_requirement(crt, make_patient(
        prior_regimens=[palliative, radiation])).truth is not True


def test_at_least_one_of_the_following_makes_alternatives_of_any_kind():
    text = ("pT2N0 and at least one of the following tumour characteristics: histologic grade "
            "3, negative estrogen receptor, HER2 positive, Ki-67 >= 20%")
    er_negative = Requirement("biomarker", {"any_of": [{"marker": "ER", "status": "negative"}]},
                              "negative estrogen receptor", 90, 116)
    her2 = Requirement("biomarker", {"any_of": [{"marker": "HER2", "status": "positive"}]},
                       "HER2 positive", 118, 131)
    c = criterion("inclusion", er_negative, her2, text=text)
    patient = make_patient(biomarkers=[Biomarker("ER", None, "negative"),
                                       Biomarker("HER2", None, "negative")])
    assert evaluate_criterion(c, patient).result == "met"


def test_one_of_the_following_regimens_makes_alternatives():
    # "Refractory AML ... after 1 of the following regimens: i. two courses of intensive
    # induction ... ii. ... hypomethylating agent": one regimen given is enough
    text = ("Refractory AML is defined as failure to achieve a CR after 1 of the following "
            "regimens: i. Two courses of intensive induction with cytarabine ii. A "
            "hypomethylating agent")
    start = text.index("cytarabine")
    cytarabine = Requirement("prior_therapy", {"received": True, "drugs": ["cytarabine"],
                                               "classes": []}, "cytarabine", start, start + 10)
    start = text.index("hypomethylating")
    hma = Requirement("prior_therapy", {"received": True, "drugs": [],
                                        "classes": ["hypomethylating agent"]},
                      "hypomethylating agent", start, start + 21)
    c = criterion("inclusion", cytarabine, hma, text=text)
    given = PriorTherapy("cytarabine + daunorubicin", frozenset({"cytarabine", "daunorubicin"}),
                         frozenset({"chemotherapy"}), True, None, True)
    assert evaluate_criterion(c, make_patient(prior_regimens=[given])).result == "met"


def test_a_scored_threshold_reads_the_score_whatever_word_came_with_it():
    # HER2 IHC 2+ is "equivocal" until ISH; a trial for HER2 IHC 1+ or 2+ takes it.
    low = marker(marker="HER2", status="negative", min_value=1, max_value=2, unit="IHC")
    patient = make_patient(biomarkers=[
        Biomarker("HER2", None, "equivocal", 2.0, "IHC", evidence="HER2 (4B5) 2+"),
        Biomarker("HER2", "amplification", "negative", 1.3, "ratio",
                  evidence="ISH not amplified, ratio 1.3")])
    assert evaluate_requirement(low, patient).truth is True


def test_lines_for_advanced_disease_leave_curative_courses_out_even_when_unclear():
    # Chemoradiation + durvalumab consolidation for stage III, now stage IV: "at least 1
    # prior line of systemic therapy for Stage IV NSCLC" is not met (it was left unknown).
    courses = [PriorTherapy(name, frozenset({name}), frozenset({"chemotherapy"}), True,
                            "adjuvant", False) for name in ("carboplatin", "paclitaxel")]
    c = criterion("inclusion", req("prior_lines", min=1, max=None),
                  text="Patient has received at least 1 prior line of systemic therapy for "
                       "Stage IV NSCLC")
    assert evaluate_criterion(c, make_patient(prior_regimens=courses)).result == "not_met"


def test_one_line_without_progression_is_not_yet_refractory():
    # Twelve days into ADT for newly diagnosed metastatic castration-sensitive prostate cancer.
    adt = [PriorTherapy("degarelix", frozenset({"degarelix"}),
                        frozenset({"androgen deprivation therapy"}), True, None, False)]
    responding = make_patient(cancer_code="PRAD", stage_group="IVB", prior_regimens=adt)
    result = evaluate_requirement(BEYOND_STANDARD, responding)
    assert result.truth is None
    assert "progression on it is not stated" in result.reason
    progressed = make_patient(cancer_code="PRAD", stage_group="IVB", prior_regimens=adt,
                              progression_noted="rising PSA on degarelix")
    assert evaluate_requirement(BEYOND_STANDARD, progressed).truth is True


@pytest.mark.parametrize("text,found", [
    ("CT 11/2026: PD in liver on FOLFOX", True),
    ("progressed on osimertinib 10/2026", True),
    ("rising PSA on enzalutamide", True),
    ("pembrolizumab stopped due to grade 3 colitis", True),
    ("PD-L1 TPS 80%; plan pembrolizumab", False),
    ("no evidence of progression on restaging", False),
    ("aim: improve progression-free survival", False),
])
def test_progression_on_treatment_is_read_from_the_notes(text, found):
    from trialmatch.match.evaluate import states_progression
    assert (states_progression([text]) is not None) is found


def test_the_stage_at_diagnosis_decides_whether_the_first_course_was_curative():
    # FIGO IIIB cervical cancer given chemoradiation, restaged IV by a lung recurrence: the
    # stage group now is IV, the one at diagnosis IIIB.
    patient = make_patient(cancer_code="CESC", stage_group="IV", diagnosis_stage_group="IIIB",
                           prior_regimens=CISPLATIN_WITH_RT, metastatic_noted=True,
                           relapse_noted="first recurrence, distant")
    result = evaluate_requirement(BEYOND_STANDARD, patient)
    assert result.truth is False
    assert "recurrence after curative-intent treatment" in result.reason
    # Ovarian IIIC (peritoneal, not M1) debulked and given carboplatin/paclitaxel, now recurred.
    ovary = make_patient(cancer_code="HGSOC", stage_group="IIIC", prior_regimens=[
        PriorTherapy("carboplatin + paclitaxel", frozenset({"carboplatin", "paclitaxel"}),
                     frozenset({"chemotherapy", "platinum"}), True, None, True)],
        relapse_noted="platinum-sensitive recurrence")
    assert evaluate_requirement(BEYOND_STANDARD, ovary).truth is False


def test_a_population_a_later_sentence_also_admits_is_not_ruled_out():
    # "Patients must have stage I-II disease. Patients with NSCLC [i.e. any stage] are also
    # eligible.": a stage IV lung cancer belongs to the population the second sentence adds.
    text = ("Patients must have stage I-II disease. Patients with NSCLC [i.e. any stage] are "
            "also eligible.")
    stage, nsclc = text.index("stage I-II"), text.index("NSCLC")
    item = criterion(
        "inclusion",
        Requirement("stage", {"groups": ["I", "II"]}, "stage I-II", stage, stage + 10),
        Requirement("cancer_type", {"codes": ["NSCLC"], "scope": "codes"}, "NSCLC", nsclc,
                    nsclc + 5),
        text=text)
    result = evaluate_criterion(item, make_patient())
    assert result.result == "unknown" and result.material
    assert "also eligible" in result.reason
    # a patient of neither population still fails
    breast = make_patient(cancer_code="IDC", cancer_name="Invasive Ductal Carcinoma")
    assert evaluate_criterion(item, breast).result == "not_met"


def test_an_exclusions_marker_narrowed_by_without_needs_both():
    # "Known somatic mutation of HER2 without tumoral HER2 protein expression": a HER2-low
    # tumour with no HER2 mutation is not excluded (an "or" would exclude every HER2-negative).
    text = "Known Somatic DNA mutation of HER2 (ERBB2) without tumoral HER2 protein expression."
    mutation, negative = text.index("HER2 (ERBB2)"), text.rindex("HER2")
    item = criterion(
        "exclusion",
        Requirement("biomarker", {"any_of": [{"marker": "HER2", "alterations": ["mutation"],
                                              "status": "positive"}]},
                    "HER2 (ERBB2)", mutation, mutation + 12),
        Requirement("biomarker", {"any_of": [{"marker": "HER2", "status": "negative"}]},
                    "HER2", negative, negative + 4),
        text=text)
    her2_low = make_patient(biomarkers=[Biomarker("HER2", None, "negative", 1, "IHC")])
    assert evaluate_criterion(item, her2_low).result == "met"
    mutant_null = make_patient(biomarkers=[Biomarker("HER2", "L755S", "positive", None, None),
                                           Biomarker("HER2", None, "negative", 0, "IHC")])
    assert evaluate_criterion(item, mutant_null).result == "not_met"
    # "including but not limited to ALK" lists alternatives
    listed = "alterations to EGFR (or other targetable mutations including but not limited to ALK"
    egfr, alk = listed.index("EGFR"), listed.index("ALK")
    alternatives = criterion(
        "exclusion",
        Requirement("biomarker", {"any_of": [{"marker": "EGFR", "status": "positive"}]},
                    "EGFR", egfr, egfr + 4),
        Requirement("biomarker", {"any_of": [{"marker": "ALK", "status": "positive"}]},
                    "ALK", alk, alk + 3),
        text=listed)
    alk_positive = make_patient(biomarkers=[Biomarker("ALK", "fusion", "positive", None, None)])
    assert evaluate_criterion(alternatives, alk_positive).result == "not_met"


def test_biomarker_subtypes_an_or_sets_side_by_side_are_alternatives():
    text = "ER+/HER2- or triple-negative breast cancer"
    er, her2 = text.index("ER+"), text.index("HER2-")
    tn = text.index("triple-negative")
    item = criterion(
        "inclusion",
        Requirement("biomarker", {"any_of": [{"marker": "ER", "status": "positive"}]}, "ER+",
                    er, er + 3),
        Requirement("biomarker", {"any_of": [{"marker": "HER2", "status": "negative"}]},
                    "HER2-", her2, her2 + 5),
        *[Requirement("biomarker", {"any_of": [{"marker": m, "status": "negative"}]},
                      "triple-negative", tn, tn + 15) for m in ("ER", "PR", "HER2")],
        text=text)
    hr_positive = make_patient(biomarkers=[Biomarker("ER", None, "positive", 90, "%"),
                                           Biomarker("PR", None, "positive", 10, "%"),
                                           Biomarker("HER2", None, "negative", 1, "IHC")])
    assert evaluate_criterion(item, hr_positive).result == "met"
    triple_negative = make_patient(biomarkers=[Biomarker("ER", None, "negative", 0, "%"),
                                               Biomarker("PR", None, "negative", 0, "%"),
                                               Biomarker("HER2", None, "negative", 0, "IHC")])
    assert evaluate_criterion(item, triple_negative).result == "met"
    her2_positive = make_patient(biomarkers=[Biomarker("ER", None, "positive", 90, "%"),
                                             Biomarker("PR", None, "negative", 0, "%"),
                                             Biomarker("HER2", None, "positive", 3, "IHC")])
    assert evaluate_criterion(item, her2_positive).result == "not_met"


def test_disease_without_spread_is_a_candidate_for_curative_therapy():
    # "Must not be a candidate for potentially curative therapy": a newly diagnosed stage
    # III cancer (definitive chemoradiation or surgery ahead) is one; a stage IV is not.
    beyond_cure = req("extent", extent="advanced", beyond_cure=True)
    local = make_patient(stage_group="IIIB", stage_m="M0")
    assert evaluate_requirement(beyond_cure, local).truth is False
    spread = make_patient(stage_group="IV", stage_m="M1b")
    assert evaluate_requirement(beyond_cure, spread).truth is True
    # plain "advanced" still admits a stage III (locally advanced) patient
    assert evaluate_requirement(req("extent", extent="advanced"), local).truth is True


def test_a_negative_result_for_one_alteration_leaves_the_gene_open():
    # "MET amplification: not detected" says nothing of MET protein by IHC or of exon 14
    # skipping; "ALK fusion: negative" is not ALK-positive.
    met = make_patient(biomarkers=[Biomarker("MET", "amplification", "negative")])
    assert evaluate_requirement(marker(marker="MET"), met).truth is None
    alk = make_patient(biomarkers=[Biomarker("ALK", "fusion", "negative")])
    assert evaluate_requirement(marker(marker="ALK"), alk).truth is False
    plain = make_patient(biomarkers=[Biomarker("MET", None, "negative")])
    assert evaluate_requirement(marker(marker="MET"), plain).truth is False


def test_an_untreated_patient_is_not_beyond_standard_therapy():
    # "no chemo/RT ever": no standard therapy has failed yet
    beyond = req("prior_lines", min=1, max=None, beyond_standard=True)
    naive = make_patient(prior_regimens=[], prior_complete=True, newly_diagnosed=False,
                         relapse_noted=None)
    assert evaluate_requirement(beyond, naive).truth is False


def test_an_exclusion_of_the_extent_the_inclusions_require_is_a_qualified_form_of_it():
    # "Metastatic disease confined to bone only" in a trial for metastatic disease: not
    # every metastatic patient is excluded.
    trial = make_trial([
        criterion("inclusion", req("extent", extent="metastatic"), position=0),
        criterion("exclusion", req("extent", extent="metastatic"),
                  text="Metastatic disease confined to bone only", position=1),
    ])
    verdict = evaluate_trial(trial, make_patient())
    assert verdict.verdict != "excluded"
    assert any("qualified form" in r.reason for r in verdict.criteria)
    # Without such an inclusion the exclusion stands.
    alone = make_trial([criterion("exclusion", req("extent", extent="metastatic"))])
    assert evaluate_trial(alone, make_patient()).verdict == "excluded"


def test_an_exclusion_list_naming_the_trials_own_histology_still_excludes_the_others():
    from trialmatch.nlp.vocab import get_vocabulary

    vocabulary = get_vocabulary()
    exclusion = criterion("exclusion", req(
        "histology", histologies=["squamous cell carcinoma", "small cell carcinoma",
                                  "non-small cell carcinoma"]),
        text="Squamous cell carcinoma; small cell carcinoma (including small cell and "
             "non-small cell mixed lung carcinoma)")
    adenocarcinoma = make_patient(ontology=vocabulary)
    assert evaluate_criterion(exclusion, adenocarcinoma, ("NSCLC",)).result == "met"
    squamous = make_patient(ontology=vocabulary, cancer_code="LUSC",
                            histology="squamous cell carcinoma")
    assert evaluate_criterion(exclusion, squamous, ("NSCLC",)).result == "not_met"


def test_failing_the_only_labelled_cohort_leaves_the_trials_other_part_open():
    # "Expansion cohort: ... mutation in a DNA repair gene" beside criteria for everyone:
    # dose escalation takes patients without it.
    trial = make_trial([
        criterion("inclusion", req("cancer_type", codes=["NSCLC"]), position=0),
        criterion("inclusion", marker(marker="ATM", alterations=[]), cohort="Expansion cohort",
                  position=1),
    ])
    patient = make_patient(biomarkers=[Biomarker("ATM", None, "negative", evidence="ATM wt")])
    verdict = evaluate_trial(trial, patient)
    assert verdict.verdict == "possibly_eligible"
    assert "other part" in verdict.material_unknowns[0].reason


def test_an_untreated_patient_may_come_in_by_the_regimen_door():
    requirement = req("prior_lines", min=1, max=None, beyond_standard=True,
                      or_regimen="gemcitabine or cisplatin")
    untreated = make_patient(prior_regimens=[], newly_diagnosed=True)
    result = evaluate_requirement(requirement, untreated)
    assert result.truth is None and "might be considered" in result.reason
    plain = req("prior_lines", min=1, max=None, beyond_standard=True)
    assert evaluate_requirement(plain, untreated).truth is False


def test_leptomeningeal_disease_is_not_read_from_parenchymal_brain_metastases():
    requirement = req("cns_metastases", state="leptomeningeal")
    treated_brain = make_patient(brain_metastases=True,
                                 from_notes={"brain_metastases": "2 brain mets s/p SRS"})
    assert evaluate_requirement(requirement, treated_brain).truth is None
    lmd = make_patient(brain_metastases=True,
                       from_notes={"brain_metastases": "leptomeningeal enhancement, CSF +"})
    assert evaluate_requirement(requirement, lmd).truth is True


def test_the_regimen_door_is_open_only_where_guidelines_list_one_of_the_regimens():
    from trialmatch.nlp.vocab import get_vocabulary

    requirement = req("prior_lines", min=1, max=None, beyond_standard=True,
                      or_regimen="gemcitabine, cisplatin, etoposide, and/or irinotecan")
    vocabulary = get_vocabulary()
    untreated_rcc = make_patient(ontology=vocabulary, cancer_code="CCRCC",
                                 cancer_name="Clear Cell Renal Cell Carcinoma",
                                 prior_regimens=[], newly_diagnosed=True)
    result = evaluate_requirement(requirement, untreated_rcc)
    assert result.truth is False and "standard option" in result.reason
    untreated_escc = make_patient(ontology=vocabulary, cancer_code="ESCC",
                                  cancer_name="Esophageal Squamous Cell Carcinoma",
                                  prior_regimens=[], newly_diagnosed=True)
    assert evaluate_requirement(requirement, untreated_escc).truth is None


def test_the_standard_lines_table_is_checked_and_the_most_specific_entry_decides():
    from trialmatch.errors import DataFileError
    from trialmatch.match.knowledge import build_standard_lines, standard_lines_for

    good = {"cancers": {"NSCLC": {"lines": 2, "source": "NCCN NSCLC (2025): docetaxel"}}}
    assert build_standard_lines(good) == {"NSCLC": (2, "NCCN NSCLC (2025): docetaxel")}
    for bad in ({"cancers": {"nsclc": {"lines": 2, "source": "x"}}},
                {"cancers": {"NSCLC": {"lines": 0, "source": "x"}}},
                {"cancers": {"NSCLC": {"lines": True, "source": "x"}}},
                {"cancers": {"NSCLC": {"lines": 2}}},
                {"cancers": {"NSCLC": {"lines": 2, "source": "x", "note": "y"}}},
                {"cancers": {}}):
        with pytest.raises(DataFileError):
            build_standard_lines(bad)
    # The packaged table: colorectal cancer's own entry, not a broader one.
    from trialmatch.nlp.vocab import get_vocabulary
    is_a = get_vocabulary().is_a
    assert standard_lines_for("COAD", is_a)[:2] == (3, "COADREAD")
    assert standard_lines_for("PRAD", is_a) is None


def test_the_standard_option_table_names_drugs_and_codes_it_knows():
    import pytest as _pytest

    from trialmatch.errors import DataFileError
    from trialmatch.match.knowledge import build_standard_options

    good = {"options": {"gemcitabine": {"cancer_types": ["PANCREAS"], "source": "NCCN"}}}
    assert build_standard_options(good) == {"gemcitabine": ("PANCREAS",)}
    for bad in ({"options": {"gemzar": {"cancer_types": ["PANCREAS"], "source": "x"}}},
                {"options": {"gemcitabine": {"cancer_types": ["pancreas"], "source": "x"}}},
                {"options": {"gemcitabine": {"cancer_types": ["PANCREAS"]}}}):
        with _pytest.raises(DataFileError):
            build_standard_options(bad)


def test_a_newly_diagnosed_cancer_with_no_treatment_named_has_an_empty_history():
    from trialmatch.match.evaluate import build_patient

    notes = ["Newly diagnosed FIGO IIIC1r cervical SCC. Plan: definitive chemoradiation."]
    patient = build_patient(Profile(), ontology=ONTOLOGY, note_texts=notes)
    assert patient.prior_lines == (0, 0)
    relapsed = ["Newly diagnosed in 2019, treated with surgery; relapsed 2024."]
    assert build_patient(Profile(), ontology=ONTOLOGY, note_texts=relapsed).prior_lines is None


@pytest.mark.parametrize("code, drugs, truth", [
    ("IDC", ["gemcitabine"], True),       # gemcitabine is standard in breast cancer
    ("COAD", ["gemcitabine"], False),     # not in colon cancer
    ("LUAD", ["cisplatin", "gemcitabine"], True),
    ("THPA", ["cisplatin", "gemcitabine"], False),  # nor in thyroid cancer
    ("LUAD", ["unlisteddrug"], None),
])
def test_a_regimen_suits_the_cancers_for_which_guidelines_list_it(code, drugs, truth):
    patient = make_patient(cancer_code=code, cancer_name=code)
    assert evaluate_requirement(req("regimen_option", drugs=drugs), patient).truth is truth


def test_progression_after_any_prior_treatment_takes_a_recurrence_after_curative_treatment():
    # "Progressed following prior treatment or ... no satisfactory alternative": the
    # curative-intent course the disease came back after is prior treatment; an untreated
    # patient still has not progressed on anything.
    any_prior = req("prior_lines", min=1, max=None, beyond_standard=True, any_prior=True)
    recurred = make_patient(cancer_code="CESC", stage_group="IIIB", stage_m="M1a",
                            stage_prefix="r", prior_regimens=CISPLATIN_WITH_RT,
                            metastatic_noted=True, relapse_noted="now metastatic recurrence")
    assert evaluate_requirement(any_prior, recurred).truth is True
    assert evaluate_requirement(BEYOND_STANDARD, recurred).truth is False
    untreated = make_patient(prior_regimens=[], newly_diagnosed=True, prior_complete=True)
    assert evaluate_requirement(any_prior, untreated).truth is False


def test_a_line_that_names_the_patients_cancer_among_others_fails_on_its_own_account():
    # "advanced solid tumor or malignant lymphoma for which standard therapy ... does not
    # exist or is no longer effective": a colon cancer is one of its cancers (a solid
    # tumour), so a newly diagnosed, curable one fails the line itself; it is not the
    # lymphoma patients' line of a multi-disease trial (even though a colorectal line of the
    # trial fits the patient).
    from trialmatch.nlp.requirements import parse_criterion

    text = ("Pathologically confirmed advanced solid tumor or malignant lymphoma for which "
            "standard therapy proven to provide clinical benefit does not exist or is no "
            "longer effective")
    colorectal = "For subjects with colorectal cancer, tumour tissue for central review"
    liver = ("Patients with primary liver cancer or hepatic metastasis are eligible to enroll, "
             "provided that, at screening, the following criteria are met")
    trial = make_trial([criterion("inclusion", *parse_criterion(line, "inclusion"), text=line,
                                  position=position) for position, line in ((1, text), (11, liver))]
                       + [criterion("inclusion", req("cancer_type", codes=["BOWEL"]),
                                    text=colorectal, position=21)],
                       codes=("_SOLID",), conditions=["Malignancies"])
    curable = make_patient(cancer_code="COAD", cancer_name="Colon Adenocarcinoma",
                           histology="adenocarcinoma", primary_site="colon",
                           stage_group="IIIB", stage_m="M0", stage_prefix="c",
                           biomarkers=[], prior_regimens=[], newly_diagnosed=True)
    verdict = evaluate_trial(trial, curable)
    (line,) = [r for r in verdict.criteria if r.text == text]
    assert line.result == "not_met" and not line.reason.startswith("for another disease")
    assert verdict.verdict == "excluded"


def test_a_drainage_or_ablation_is_no_line_of_systemic_therapy():
    # "talc pleurodesis", "TACE": local procedures; an untreated mesothelioma after a talc
    # pleurodesis has had no line.
    from trialmatch.match.engine import drug_therapy_reader
    from trialmatch.match.evaluate import build_patient
    from trialmatch.models import Profile

    patient = build_patient(Profile(), ontology=ONTOLOGY, therapy_reader=drug_therapy_reader(),
                            prior_therapies=["talc pleurodesis", "TACE"])
    assert patient.prior_lines == (0, 0)


def test_a_dna_result_does_not_answer_a_protein_on_ihc():
    # "MET (IHC) expression 1+ to 3+" for a patient whose NGS found no MET amplification:
    # unknown (test c-Met IHC), not failed.
    wanted = marker(marker="MET", alterations=["overexpression"])
    no_amp = make_patient(biomarkers=[Biomarker("MET", "amplification", "negative",
                                                evidence="no MET amp")])
    assert evaluate_requirement(wanted, no_amp).truth is None
    her2 = marker(marker="HER2", alterations=["overexpression"])
    amplified = make_patient(biomarkers=[Biomarker("HER2", "amplification", "positive",
                                                   evidence="HER2 amplified")])
    assert evaluate_requirement(her2, amplified).truth is True


def test_a_planned_operation_is_not_for_a_primary_already_removed():
    from trialmatch.nlp.requirements import parse_criterion

    [planned] = [r for r in parse_criterion(
        "Patients scheduled for elective breast cancer surgery (Mastectomy)", "inclusion")
        if r.kind == "extent"]
    resected = make_patient(stage_group="IIB", stage_m="M0", stage_prefix="yp", stage_t="T1b")
    assert evaluate_requirement(planned, resected).truth is False
    assert evaluate_requirement(planned, make_patient(stage_group="IIA", stage_m="M0",
                                                      stage_prefix="c")).truth is True
    # "undergoing breast conserving surgery and whole breast irradiation" (an adjuvant trial's
    # course under way) is no operation ahead.
    [course] = [r for r in parse_criterion(
        "T1-2 tumours undergoing breast conserving surgery and tangential whole breast "
        "irradiation", "inclusion") if r.kind == "extent"]
    assert evaluate_requirement(course, resected).truth is True


def test_an_erbb2_mutation_is_not_the_her2_status():
    # ASCO/CAP: HER2-positive and -negative are IHC and ISH results; an exon 20 insertion in
    # a lung adenocarcinoma with HER2 IHC 1+ is HER2-negative and HER2-mutant.
    mutant = Biomarker("HER2", "exon 20 insertion", "positive", evidence="ERBB2 ex20ins")
    ihc = Biomarker("HER2", None, "negative", 1, "IHC", evidence="HER2 IHC 1+")
    negative = marker(marker="HER2", status="negative")
    assert evaluate_requirement(negative, make_patient(biomarkers=[mutant, ihc])).truth is True
    only = evaluate_requirement(negative, make_patient(biomarkers=[mutant]))
    assert only.truth is None and "not the HER2 status" in only.reason
    # A trial for the mutation still reads it.
    wanted = marker(marker="HER2", alterations=["exon 20 insertion"])
    assert evaluate_requirement(wanted, make_patient(biomarkers=[mutant, ihc])).truth is True


def test_a_term_the_criterion_defines_is_not_ruled_out_by_the_stage():
    # "Locally advanced breast cancer defined as any of the following": T2 N1 (stage IIB) is
    # among them, though the stage groups would not call it locally advanced.
    early = make_patient(cancer_code="IDC", stage_group="IIB", stage_m="M0")
    own = evaluate_requirement(req("extent", extent="locally_advanced", defined=True), early)
    assert own.truth is None and "defines the term" in own.reason
    assert evaluate_requirement(req("extent", extent="locally_advanced"), early).truth is False


def test_one_denial_covers_a_slashed_pair_and_de_novo_is_history_once_it_progressed():
    from trialmatch.match.evaluate import states_relapse

    assert states_relapse(["CT 11/2026: post-surgical changes, no residual/recurrent "
                           "disease, no pelvic or para-aortic adenopathy."]) is None
    profile = Profile(cancer_type=CancerType("PRAD", "Prostate Adenocarcinoma", "PRAD", 0, 4))
    untreated = build_patient(profile, ontology=ONTOLOGY,
                              note_texts=["De novo mHSPC, starting ADT + darolutamide."])
    assert untreated.newly_diagnosed
    later = build_patient(profile, ontology=ONTOLOGY, note_texts=[
        "De novo mHSPC 2023. A/P: mCRPC, progressing (PSA + radiographic) after enzalutamide "
        "and docetaxel."])
    assert not later.newly_diagnosed


@pytest.mark.parametrize("detail,params,truth", [
    ("Gleason 4+5=9 (Grade Group 5)", {"max_group": 3}, False),
    ("Gleason 3+4=7", {"max_group": 3}, True),
    ("Gleason score 7", {"max_group": 3}, True),      # 7 is grade group 2 or 3
    ("Gleason score 7", {"max_group": 2}, None),
    ("Grade Group 1", {"min_group": 2}, False),
    # the patterns decide where the criterion names them: 4+5 is no primary pattern 5
    ("Gleason 4+5=9", {"min_group": 5, "patterns": ["5+4", "5+5"]}, False),
    # another risk factor of the criterion may hold
    ("Gleason 3+4=7", {"min_group": 4, "or_other": True}, None),
    (None, {"max_group": 3}, None),
])
def test_a_gleason_bound_reads_the_grade_group(detail, params, truth):
    from trialmatch.nlp.vocab import get_vocabulary

    patient = make_patient(ontology=get_vocabulary(), cancer_code="PRAD",
                           cancer_name="Prostate Adenocarcinoma", grade_detail=detail)
    assert evaluate_requirement(req("gleason", **params), patient).truth is truth


def test_an_unread_inclusion_naming_the_diagnosis_leaves_the_trial_possible_only():
    trial = make_trial([
        criterion("inclusion", text="Has a confirmed diagnosis of and response to previous "
                                    "treatment of one of the following:"),
        criterion("inclusion", text="Able to swallow tablets"),
    ])
    verdict = evaluate_trial(trial, make_patient())
    assert verdict.verdict == "possibly_eligible"
    assert any(c.material and "diagnosis" in c.reason for c in verdict.criteria)


def test_a_transplant_consolidates_its_line_and_is_no_line_of_its_own():
    from trialmatch.match.engine import drug_therapy_reader
    from trialmatch.match.evaluate import read_prior_therapy

    reader = drug_therapy_reader()
    asct = read_prior_therapy("autologous stem cell transplant", reader)
    assert not asct.systemic and "autologous stem cell transplant" in asct.classes
    patient = make_patient(prior_regimens=[asct])
    excluded = req("prior_therapy", received=True, drugs=[],
                   classes=["autologous stem cell transplant"])
    assert evaluate_requirement(excluded, patient).truth is True


AML_PATIENT = dict(cancer_code="AML", cancer_name="Acute Myeloid Leukemia", histology=None,
                   primary_site=None, stage_group=None, stage_m=None, stage_prefix=None,
                   stage_evidence=None, prior_regimens=[])


def test_a_marrow_disease_has_no_tnm_extent_recist_or_stage_group():
    patient = make_patient(**AML_PATIENT)
    for extent in ("metastatic", "locally_advanced", "unresectable"):
        result = evaluate_requirement(req("extent", extent=extent), patient)
        assert result.truth is False and "marrow disease" in result.reason
    recist = evaluate_requirement(req("measurable_disease", standard="RECIST 1.1"), patient)
    assert recist.truth is False
    # "measurable disease" alone may be marrow blasts or M-protein
    assert evaluate_requirement(req("measurable_disease"), patient).truth is None
    stage = evaluate_requirement(req("stage", groups=["I", "II", "III"]), patient)
    assert stage.truth is False and "no stage group" in stage.reason


def test_a_solid_tumour_line_of_a_trial_that_also_takes_the_marrow_disease_does_not_fail_it():
    line = criterion("inclusion", req("cancer_type", codes=[], scope="solid"),
                     req("extent", extent="locally_advanced"), req("extent", extent="metastatic"),
                     text="Dose escalation: locally advanced or metastatic solid tumor")
    trial = make_trial([line], codes=("AML", "NSCLC"))
    result = evaluate_criterion(line, make_patient(**AML_PATIENT), trial_codes=("AML", "NSCLC"))
    assert result.result != "not_met"
    assert evaluate_trial(trial, make_patient(**AML_PATIENT)).verdict != "excluded"


def test_an_and_binds_within_a_side_of_an_or():
    text = "ER- or PR-positive tumor OR ER- and PR-negative tumor"
    line = criterion(
        "inclusion",
        Requirement("biomarker", {"any_of": [
            {"marker": "ER", "alterations": [], "status": "positive"},
            {"marker": "PR", "alterations": [], "status": "positive"}]}, "ER- or PR-positive",
            0, 18),
        Requirement("biomarker", {"any_of": [{"marker": "ER", "alterations": [],
                                              "status": "negative"}]}, "ER-", 28, 31),
        Requirement("biomarker", {"any_of": [{"marker": "PR", "alterations": [],
                                              "status": "negative"}]}, "PR-negative", 36, 47),
        text=text)
    triple_negative = make_patient(cancer_code="IDC", biomarkers=[
        Biomarker("ER", None, "negative"), Biomarker("PR", None, "negative"),
        Biomarker("HER2", None, "negative")])
    assert evaluate_criterion(line, triple_negative).result == "met"
    # ... but ", and" joins what follows to the whole "or" before it
    unclear = "ER-negative or PR-negative, and HER2-positive"
    joined = criterion(
        "inclusion",
        Requirement("biomarker", {"any_of": [{"marker": "ER", "alterations": [],
                                              "status": "negative"}]}, "ER-negative", 0, 11),
        Requirement("biomarker", {"any_of": [{"marker": "PR", "alterations": [],
                                              "status": "negative"}]}, "PR-negative", 15, 26),
        Requirement("biomarker", {"any_of": [{"marker": "HER2", "alterations": [],
                                              "status": "positive"}]}, "HER2-positive", 32, 45),
        text=unclear)
    assert evaluate_criterion(joined, triple_negative).result == "not_met"


def test_an_organ_injury_marker_bounded_from_below_in_an_inclusion_is_no_rule_out():
    typo = criterion("inclusion", req("organ_function", measure="creatinine", op=">=",
                                      value=1.5, unit="mg/dL"), text="Creatinine ≥1.5 mg/dL.")
    patient = make_patient(labs={"creatinine": (0.7, "mg/dL", "Cr 0.7")})
    result = evaluate_criterion(typo, patient)
    assert result.result == "unknown" and "typo" in result.reason
    # ... while a count bounded from above stands ("WBC < 25 x 10^9/L" in leukaemia)
    wbc = criterion("inclusion", req("organ_function", measure="WBC", op="<", value=25,
                                     unit="10^9/L"), text="Peripheral WBC < 25 x 10^9/L")
    high = make_patient(labs={"WBC": (40.0, "10^9/L", "WBC 40")})
    assert evaluate_criterion(wbc, high).result == "not_met"


def test_an_exclusion_does_not_rule_out_the_therapy_the_inclusions_require():
    required = criterion("inclusion", req("prior_therapy", received=True, drugs=[],
                                          classes=["PD-1 inhibitor"]),
                         text="progressed after receiving PD-1 antibody treatment")
    required.start = 0
    broad = criterion("exclusion", req("prior_therapy", received=True, drugs=[],
                                       classes=["immunotherapy"]),
                      text="Previously received other immunotherapy", position=1)
    trial = make_trial([required, broad])
    pembrolizumab = PriorTherapy("pembrolizumab", frozenset({"pembrolizumab"}),
                                 frozenset({"pd-1 inhibitor", "immune checkpoint inhibitor",
                                            "immunotherapy"}), True, "advanced", False)
    verdict = evaluate_trial(trial, make_patient(prior_regimens=[pembrolizumab]))
    assert verdict.verdict != "excluded"


@pytest.mark.parametrize("code,group,early", [
    ("IDC", "IIIA", True),     # operable stage IIIA breast cancer is early breast cancer (ESMO)
    ("IDC", "IIIC", None),     # N3: locally advanced, though adjuvant trials take it
    ("IDC", "IIA", True),
    ("LUAD", "IIIA", False),   # elsewhere stage III is not early disease
])
def test_early_stage_follows_the_cancers_own_guidelines(code, group, early):
    patient = make_patient(cancer_code=code, stage_group=group, stage_m="M0", stage_prefix="p")
    assert patient.extent["early_stage"] is early


@pytest.mark.parametrize("code,group,advanced", [
    ("READ", "IIIB", False),   # stage III rectal cancer: total neoadjuvant therapy, curative
    ("COAD", "IIIC", False),
    ("STAD", "IIIA", False),   # perioperative chemotherapy and gastrectomy
    ("CCRCC", "III", False),   # radical nephrectomy
    ("LUAD", "IIIB", True),    # stage IIIB lung cancer is mostly unresectable
    ("HGSOC", "IIIC", True),   # FIGO III ovarian cancer is "advanced ovarian cancer"
])
def test_a_stage_treated_with_curative_intent_is_not_advanced(code, group, advanced):
    from trialmatch.nlp.vocab import get_vocabulary

    patient = make_patient(cancer_code=code, stage_group=group, stage_m="M0", stage_prefix="c",
                           ontology=get_vocabulary())
    assert patient.extent["advanced"] is advanced
    assert patient.extent["locally_advanced"] is True
    if not advanced:
        # Once it has come back, its extent is for the notes to say.
        relapsed = make_patient(cancer_code=code, stage_group=group, stage_m="M0",
                                stage_prefix="c", relapse_noted="recurrence in the liver",
                                ontology=get_vocabulary())
        assert relapsed.extent["advanced"] is not False


def test_a_cumulative_dose_bound_leaves_a_standard_course_unknown():
    patient = make_patient()  # carboplatin + pemetrexed
    bound = req("prior_therapy", received=True, drugs=["pemetrexed"], classes=[],
                dose_above=True)
    assert evaluate_requirement(bound, patient).truth is None
    other = req("prior_therapy", received=True, drugs=["doxorubicin"], classes=[],
                dose_above=True)
    assert evaluate_requirement(other, patient).truth is False


def test_a_basket_line_for_another_cancer_does_not_fail_on_its_markers():
    """"Breast cancer (triple negative type)" in a basket whose conditions include the
    patient's lung cancer: the markers are the breast cancer's, so an EGFR-positive lung
    cancer patient with HER2 3+ is not ruled out by "HER2 negative"."""
    line = criterion("inclusion", req("cancer_type", codes=["BREAST"]),
                     marker(marker="HER2", status="negative"),
                     text="Breast cancer (triple negative type)")
    her2_positive = make_patient(biomarkers=[Biomarker("HER2", None, "positive", 3, "IHC",
                                                       evidence="HER2 IHC 3+")])
    result = evaluate_criterion(line, her2_positive, trial_codes=("NSCLC", "BREAST"))
    assert result.result == "unknown"
    # in a breast-only trial the line is the population, and it fails
    assert evaluate_criterion(line, her2_positive, trial_codes=("BREAST",)).result == "not_met"


def test_a_recurred_solid_tumour_is_not_its_diagnosis_stage():
    """A resected stage IB cancer that came back: not early-stage any more, its spread left
    to the notes, and advanced once a line for advanced disease was given."""
    untreated = make_patient(stage_group="IB", stage_m="M0", stage_prefix="p", prior_regimens=[],
                             relapse_noted="recurrent cholangiocarcinoma")
    assert untreated.extent["early_stage"] is False
    assert untreated.extent["advanced"] is None and untreated.extent["metastatic"] is None
    first_line = PriorTherapy("gemcitabine + cisplatin", frozenset({"gemcitabine", "cisplatin"}),
                              frozenset({"chemotherapy"}), True, "advanced", True, line=1)
    treated = make_patient(stage_group="IB", stage_m="M0", stage_prefix="p",
                           prior_regimens=[first_line], relapse_noted="recurrent disease")
    assert treated.extent["advanced"] is True


def test_a_resected_primary_is_not_previously_untreated():
    """"Previously untreated stage II-III NSCLC" is before any treatment, surgery included."""
    line = criterion("inclusion", req("prior_lines", text="previously untreated", min=None,
                                      max=0),
                     req("stage", text="stage II-III", groups=["II", "IIA", "IIB", "III",
                                                               "IIIA", "IIIB"]),
                     text="Previously untreated stage II-III NSCLC")
    resected = make_patient(stage_group="IIIA", stage_m="M0", stage_prefix="p", stage_t="T2a",
                            prior_regimens=[])
    assert evaluate_criterion(line, resected).result == "not_met"
    clinical = make_patient(stage_group="IIIA", stage_m="M0", stage_prefix="c", prior_regimens=[])
    assert evaluate_criterion(line, clinical).result == "met"


def test_an_or_inside_a_qualifier_joins_no_alternatives():
    """"Stage III NSCLC of either squamous or non-squamous histology": the cancer type and
    the histology must both hold; the "or" is the histology's."""
    text = "Locally advanced Stage III NSCLC of either squamous or non-squamous histology"
    line = criterion("inclusion",
                     Requirement("cancer_type", {"codes": ["NSCLC"], "scope": "codes"},
                                 "NSCLC", 27, 32),
                     Requirement("histology", {"histologies": ["non-squamous"]},
                                 "non-squamous", 55, 67),
                     text=text)
    colon = make_patient(cancer_code="COAD", cancer_name="Colon Adenocarcinoma")
    assert evaluate_criterion(line, colon).result == "not_met"


def test_t_and_n_categories_read_against_the_patient():
    n_positive = req("n_category", values=[1, 2, 3])
    assert evaluate_requirement(n_positive, make_patient(stage_n="N1a")).truth is True
    assert evaluate_requirement(n_positive, make_patient(stage_n="N0(i+)")).truth is False
    assert evaluate_requirement(n_positive, make_patient(stage_n=None)).truth is None
    # after neoadjuvant therapy the category at presentation may have fitted
    assert evaluate_requirement(n_positive, make_patient(stage_n="N0", stage_prefix="yp")
                                ).truth is None
    early = req("t_category", values=[1, 2])
    assert evaluate_requirement(early, make_patient(stage_t="T2a")).truth is True
    assert evaluate_requirement(early, make_patient(stage_t="T3")).truth is False
    assert evaluate_requirement(req("t_category", values=[0, 1]),
                                make_patient(stage_t="Tis")).truth is True


def test_stage_or_node_positive_is_one_or_the_other():
    # "Clinical stage III disease or pathological node positive if they have received
    # neo-adjuvant chemotherapy": a stage IIB patient with ypN1a meets it.
    text = ("Clinical stage III disease or pathological node positive if they have received "
            "neo-adjuvant chemotherapy.")
    c = criterion("inclusion", Requirement("stage", {"groups": ["III", "IIIA", "IIIB", "IIIC"]},
                                           "Clinical stage III", 0, 18),
                  Requirement("n_category", {"values": [1, 2, 3]}, "node positive", 45, 58),
                  text=text)
    patient = make_patient(cancer_code="IDC", stage_group="IIB", stage_m="M0",
                           stage_prefix="yp", stage_t="T1b", stage_n="N1a")
    assert evaluate_criterion(c, patient).result == "met"


def test_a_recurrent_unresectable_disease_is_not_a_new_diagnosis():
    wanted = req("extent", extent="unresectable", recurrent=True)
    new = make_patient(cancer_code="READ", stage_group="IIIB", stage_m="M0", prior_regimens=[],
                       newly_diagnosed=True)
    assert evaluate_requirement(wanted, new).truth is False


def test_castration_sensitive_disease_is_not_beyond_standard_therapy():
    from trialmatch.nlp.vocab import get_vocabulary
    beyond = req("prior_lines", min=1, max=None, beyond_standard=True)
    degarelix = PriorTherapy("degarelix", frozenset({"degarelix"}), frozenset({"adt"}), True,
                             "advanced", False)
    patient = make_patient(cancer_code="PRAD", ontology=get_vocabulary(),
                           prior_regimens=[degarelix],
                           conditions={"castration-sensitive prostate cancer": (True, "mCSPC")})
    assert evaluate_requirement(beyond, patient).truth is False


def test_a_line_of_alternatives_that_fails_leaves_the_others_open():
    # "age >= 60, or" / "c/pN0, RS <= 25 ...": one of several lines joined by "or"
    line = criterion("inclusion", req("age", min=60, max=None), text="age ≥ 60, or")
    assert evaluate_criterion(line, make_patient(age=44.0)).result == "unknown"
    alone = criterion("inclusion", req("age", min=60, max=None), text="age ≥ 60")
    assert evaluate_criterion(alone, make_patient(age=44.0)).result == "not_met"


def _listed_trial(lead, items_text):
    text = lead + "\n\n" + "\n".join(f"* {item}" for item, _ in items_text)
    criteria = [EligibilityCriterion("inclusion", lead, 0, start=0, end=len(lead))]
    offset = len(lead) + 2
    for position, (item, requirement) in enumerate(items_text, start=1):
        start = offset + 2
        criteria.append(EligibilityCriterion("inclusion", item, position, start=start,
                                             end=start + len(item),
                                             requirements=[requirement]))
        offset = start + len(item) + 1
    return make_trial(criteria, criteria_text=text)


def test_the_items_of_a_list_of_alternatives_are_read_together():
    patient = make_patient(age=44.0)
    alternatives = _listed_trial(
        "Adjuvant subjects with the following combinations are eligible:",
        [("age >= 60", req("age", min=60, max=None)), ("age <= 50", req("age", min=None,
                                                                        max=50))])
    assert evaluate_trial(alternatives, patient).verdict != "excluded"
    none_met = _listed_trial(
        "Adjuvant subjects with the following combinations are eligible:",
        [("age >= 60", req("age", min=60, max=None)), ("age >= 70", req("age", min=70,
                                                                        max=None))])
    assert evaluate_trial(none_met, patient).verdict == "excluded"
    # "all of the following" is no list of alternatives
    required = _listed_trial(
        "Patients must meet all of the following:",
        [("age >= 60", req("age", min=60, max=None)), ("age <= 50", req("age", min=None,
                                                                        max=50))])
    assert evaluate_trial(required, patient).verdict == "excluded"


def test_a_narrower_type_of_the_trials_own_cancer_is_no_other_diseases_line():
    from trialmatch.nlp.vocab import get_vocabulary
    trial = make_trial([
        criterion("inclusion", req("cancer_type", codes=["ILC"]),
                  text="Histologically confirmed invasive lobular breast cancer", position=0),
        criterion("inclusion", req("cancer_type", codes=["BREAST"]),
                  text="a baseline research core biopsy of their breast tumor", position=1),
    ], codes=("BREAST", "ILC"))
    patient = make_patient(cancer_code="IDC", ontology=get_vocabulary())
    assert evaluate_trial(trial, patient).verdict == "excluded"


def test_a_resected_tumour_was_operated_on_whatever_the_therapy_list_says():
    surgery = Requirement("prior_therapy", {"received": True, "drugs": [],
                                            "classes": ["surgery"]}, "curative surgery")
    chemo = PriorTherapy("docetaxel", frozenset({"docetaxel"}), frozenset({"chemotherapy"}),
                         True, "adjuvant", False)
    resected = make_patient(prior_regimens=[chemo], stage_group="IIA", stage_m="M0",
                            stage_prefix="yp", stage_t="T1c", stage_evidence="ypT1c ypN1a")
    assert resected.extent["resected"] is True
    assert evaluate_requirement(surgery, resected).truth is True


def test_progression_on_a_therapy_is_more_than_receiving_it():
    failed = Requirement("prior_therapy", {"received": True, "drugs": ["docetaxel"],
                                           "classes": [], "progressed": True},
                         "progression to previous treatment with docetaxel")
    on_it = PriorTherapy("docetaxel", frozenset({"docetaxel"}), frozenset({"chemotherapy"}),
                         True, "advanced", False)
    stable = make_patient(prior_regimens=[on_it], responding_drugs=frozenset({"docetaxel"}))
    assert evaluate_requirement(failed, stable).truth is None
    progressed = make_patient(prior_regimens=[on_it])
    assert evaluate_requirement(failed, progressed).truth is True
    # the notes' words set the drugs that respond
    from trialmatch.nlp.course import progressed_on, responding_on
    notes = ["10/26/2026 C1D1 docetaxel 75 mg/m2 (2L). CT: docetaxel with SD after 2 cycles."]
    assert responding_on({"docetaxel"}, notes) and not progressed_on({"docetaxel"}, notes)
    assert not responding_on({"docetaxel"}, ["Progressed on docetaxel after 4 cycles."])


def test_a_curative_plan_now_is_no_disease_beyond_cure():
    from trialmatch.match.evaluate import states_curative_plan
    assert states_curative_plan(["Plan: salvage chemotherapy with curative intent - TIP x4."])
    assert not states_curative_plan(["Recurrent SCC ~5.5 yrs after curative surgery + PORT."])
    assert not states_curative_plan(["Plan: systemic tx. Not a candidate for curative salvage."])
    beyond = Requirement("extent", {"extent": "advanced", "beyond_cure": True},
                         "not a candidate for potentially curative therapy")
    salvage = make_patient(curative_plan="Plan: salvage chemotherapy with curative intent")
    assert evaluate_requirement(beyond, salvage).truth is False
    refractory = Requirement("prior_lines", {"min": 1, "max": None, "beyond_standard": True},
                             "refractory to standard therapy")
    assert evaluate_requirement(refractory, salvage).truth is False


def test_denials_joined_by_or_are_all_required():
    text = "No evidence of distant metastases, or locally advanced inoperable disease"
    distant = Requirement("extent", {"extent": "metastatic", "negated": True},
                          "distant metastases", 15, 33)
    local = Requirement("extent", {"extent": "locally_advanced", "negated": True},
                        "locally advanced", 38, 54)
    c = criterion("inclusion", distant, local, text=text)
    # stage IV (metastatic, not locally advanced) fails the first denial: not met
    assert evaluate_criterion(c, make_patient()).result == "not_met"


def test_a_score_below_the_bound_rules_out_whatever_another_test_leaves_open():
    wanted = marker(marker="HER2", status="positive", min_value=2, unit="IHC")
    patient = make_patient(biomarkers=[
        Biomarker("HER2", "amplification", "negative", evidence="ERBB2 amp: not detected"),
        Biomarker("HER2", None, "negative", 1.0, "IHC", evidence="HER2 (4B5) score 1+")])
    assert evaluate_requirement(wanted, patient).truth is False
