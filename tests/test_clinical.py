"""Clinical facts read from notes (trialmatch.nlp.clinical) and how matching uses them."""

import pytest

from trialmatch.match.case import load_case
from trialmatch.match.engine import drug_therapy_reader
from trialmatch.match.evaluate import build_patient, evaluate_requirement
from trialmatch.models import Profile, Requirement
from trialmatch.nlp.clinical import find_clinical_facts, merge_clinical_facts
from trialmatch.nlp.vocab import get_vocabulary


@pytest.mark.parametrize("text, ecog", [
    ("ECOG performance status 1.", 1),
    ("ECOG PS: 2", 2),
    ("Performance status (ECOG) of 0", 0),
    ("WHO performance status 1", 1),
    ("KPS 70%", 1),  # Karnofsky 70-80 is ECOG 1 (Oken 1982)
    ("Karnofsky performance status 90", 0),
    ("ECOG 0-1", None),  # a range is no single value
    ("ECOG 1 -> 2 over the last month", None),
    ("WHO grade 2 astrocytoma", None),  # a tumour grade, not a performance status
    ("Trial requires ECOG; not recorded.", None),
    ("PSA 12, PS 2", 2),  # "PS" in capitals, as oncology notes write it
    ("a ps 2 cm lesion", None),
])
def test_performance_status(text, ecog):
    assert find_clinical_facts(text).ecog == ecog


@pytest.mark.parametrize("text, prior", [
    ("He previously received carboplatin and pemetrexed plus pembrolizumab with progression.",
     ["carboplatin + pemetrexed + pembrolizumab"]),
    ("Started on FOLFOX in 2021; switched to FOLFIRI plus bevacizumab after progression.",
     ["fluorouracil + leucovorin + oxaliplatin",
      "fluorouracil + leucovorin + irinotecan + bevacizumab"]),
    ("She completed adjuvant AC followed by paclitaxel in 2019.",
     ["doxorubicin + cyclophosphamide + paclitaxel (adjuvant)"]),
    ("Progressed on osimertinib after 14 months.", ["osimertinib"]),
    ("He received carboplatin, pemetrexed and pembrolizumab followed by pemetrexed and "
     "pembrolizumab maintenance.", ["carboplatin + pemetrexed + pembrolizumab"]),
    ("He is currently on osimertinib with stable disease.", ["osimertinib"]),
    ("We will continue her on letrozole.", None),
    ("Treatment-naive.", []),
    ("No prior systemic therapy.", []),
    ("No prior cancer treatment.", []),
    ("No prior cancer, no chemo/RT ever. Hx cholecystectomy.", []),
    ("She has never received chemotherapy or radiation.", []),
    ("He has never received chemotherapy.", None),  # hormones or surgery may have been
    # plans, recommendations and negated therapies are no history
    ("Plan: start osimertinib next week.", None),
    ("We recommend FOLFOX.", None),
    ("He has never received immunotherapy.", None),
    ("Progressed on docetaxel. No prior tucatinib, lapatinib, neratinib or trastuzumab "
     "deruxtecan.", ["docetaxel"]),
    # a negated receipt reaches across list items the lexicon does not know
    ("EPO x 6 mo, failed. Never received luspatercept, HMA, lenalidomide or imetelstat.", None),
    ("Not a candidate for surgery, received FOLFOX x 6.",
     ["fluorouracil + leucovorin + oxaliplatin"]),
    # a pathology report's specimen and local treatment alone tell no systemic history
    ("Received fresh is a 606 gram left nephrectomy.", None),
    ("Status post lobectomy.", None),
    # a sentence opening with a condition names what is yet to be given
    ("Plan: mFOLFIRINOX. If no PD after >=16 wks of platinum -> olaparib maintenance.", None),
    ("Once recovered from surgery, she will start capecitabine.", None),
    # the options discussed are to come; a therapy "not pursued" or "declined" was not given
    ("Received blinatumomab, then CR.\nOptions d/w pt: inotuzumab vs venetoclax salvage -> "
     "allo-HCT in CR2; vs brexucabtagene autoleucel.", ["blinatumomab"]),
    ("Received blinatumomab with CR; allo-HCT not pursued in CR1.", ["blinatumomab"]),
    ("Options: cabozantinib; gemcitabine/docetaxel; SBRT to the dominant lesion. Previously "
     "received regorafenib.", ["regorafenib"]),
])
def test_prior_therapies(text, prior):
    assert find_clinical_facts(text).prior_therapies == prior


@pytest.mark.parametrize("text, metastatic, brain", [
    ("CT showed multiple liver metastases.", True, None),
    ("Metastatic NSCLC to bone.", True, None),
    ("She has metastatic breast cancer.", True, None),
    ("No evidence of distant metastasis.", False, None),
    ("Brain MRI: no brain metastases.", None, False),
    ("History of brain metastases treated with radiosurgery.", True, True),
    # regional nodes are not distant spread
    ("Metastatic carcinoma in 3 of 12 lymph nodes.", None, None),
    # synoptic labels, unassessed fields and hedges state nothing
    ("Distant metastasis (pM): not applicable.", None, None),
    ("pMX: Distant metastasis cannot be assessed.", None, None),
    ("It is not possible to determine if the lung tumor represents metastatic disease.",
     None, None),
    ("Closer evaluation for metastatic disease will be prudent.", None, None),
    # clinicians' shorthand (issue 13: the patient as they are now)
    ("CT C/A/P: 3 new bilateral pulmonary nodules (largest 1.4 cm) c/w mets.", True, None),
    ("CT-guided lung bx 03/2025: metastatic LMS, c/w uterine primary.", True, None),
    ("63M metastatic papillary RCC, here to review restaging.", True, None),
    ("Plan: 2nd-line for metastatic dz.", True, None),
    ("high-volume mHSPC on ADT", True, None),
    ("03/2021 bone scan: >10 lesions (spine, pelvis, ribs)", True, None),
    ("PET 9/2026: new osseous lesions", True, None),
    ("68F, RAI-refractory PTC, metastatic to lungs/mediastinum/bone.", True, None),
    ("Adenocarcinoma metastatic to regional lymph nodes.", None, None),
    ("Metastatic work-up negative.", None, None),
    ("No liver/bone mets.", None, None),
    # the course reaching distant sites, even beside nodes
    ("Dx: SCC cervix, FIGO IIIB (03/2024) -> now metastatic recurrence.", True, None),
    ("Distant relapse in the supraclavicular LN and lungs 2026.", True, None),
    ("Low risk of distant recurrence.", None, None),
    ("Staging CT + bone scan 04/2026 neg for distant mets. cT2 cN1 M0.", False, None),
    ("PET/CT w/o distant mets.", False, None),
    # "recurrent/metastatic" names the advanced setting; a slash between two guesses hedges
    ("DX: Recurrent/metastatic squamous cell carcinoma of the supraglottic larynx.", True,
     None),
    ("Neck mass bx: ?lymphoma/metastatic SCC, await IHC.", None, None),
    # a multi-part report: part C's specimen, listed above, is an axillary node
    ("SPECIMENS: A. R breast, core bx   B. R breast skin, punch bx   C. R axilla LN, FNA\n"
     "FINAL DIAGNOSIS:\nA. Invasive ductal carcinoma, grade 3.\n"
     "C. POSITIVE for metastatic carcinoma, c/w breast primary.", None, None),
    ("SPECIMENS: A. R breast, core bx   B. Liver, segment 7, core bx\n"
     "B. POSITIVE for metastatic carcinoma, c/w breast primary.", True, None),
])
def test_spread_of_disease(text, metastatic, brain):
    facts = find_clinical_facts(text)
    assert (facts.metastatic, facts.brain_metastases) == (metastatic, brain)


def test_merge_pools_regimens_and_keeps_a_positive_finding():
    facts = merge_clinical_facts([
        find_clinical_facts("ECOG 1. No evidence of distant metastasis."),
        find_clinical_facts("Progressed on osimertinib. CT: new liver metastases. ECOG 2."),
    ])
    assert facts.ecog == 1  # the first note that states it
    assert facts.prior_therapies == ["osimertinib"]
    assert facts.metastatic is True


def test_plain_text_case_takes_clinical_facts_from_its_note(tmp_path):
    note = tmp_path / "patient.txt"
    note.write_text("62-year-old man with lung adenocarcinoma and multiple liver metastases. "
                    "He previously received carboplatin and pemetrexed. ECOG PS 1. "
                    "No brain metastases on MRI.", encoding="utf-8")
    case = load_case(note)
    assert (case.age, case.sex, case.ecog) == (62, "male", 1)
    assert case.prior_therapies == ["carboplatin + pemetrexed"]
    assert (case.metastatic, case.brain_metastases) == (True, False)


def test_case_file_fields_win_over_the_notes(tmp_path):
    (tmp_path / "note.txt").write_text("ECOG 2. Progressed on osimertinib.", encoding="utf-8")
    case_file = tmp_path / "case.yaml"
    case_file.write_text("id: c1\necog: 0\nprior_therapies: []\nnotes:\n  - path: note.txt\n",
                         encoding="utf-8")
    case = load_case(case_file)
    assert case.ecog == 0
    assert case.prior_therapies == []


def _patient(**facts):
    return build_patient(Profile(), ontology=get_vocabulary(),
                         therapy_reader=drug_therapy_reader(), **facts)


def test_a_history_from_notes_decides_only_what_it_names():
    patient = _patient(prior_therapies=["carboplatin + pemetrexed"], prior_complete=False)
    had = Requirement("prior_therapy", {"received": True, "drugs": [], "classes": ["platinum"]},
                      "prior platinum", 0, 14)
    other = Requirement("prior_therapy", {"received": True, "drugs": ["osimertinib"],
                                          "classes": []}, "osimertinib", 0, 11)
    at_most_one = Requirement("prior_lines", {"min": None, "max": 1}, "1 line", 0, 6)
    naive = Requirement("prior_lines", {"min": None, "max": 0}, "treatment-naive", 0, 15)
    assert evaluate_requirement(had, patient).truth is True
    assert evaluate_requirement(other, patient).truth is None  # not named: unknown
    assert evaluate_requirement(at_most_one, patient).truth is None  # more lines may exist
    assert evaluate_requirement(naive, patient).truth is False  # one line is documented


def test_spread_from_notes_decides_extent_and_brain_metastases():
    patient = _patient(metastatic=True, brain_metastases=False,
                       from_notes={"metastatic": "liver metastases",
                                   "brain_metastases": "brain metastases"})
    metastatic = Requirement("extent", {"extent": "metastatic"}, "metastatic", 0, 10)
    early = Requirement("extent", {"extent": "early_stage"}, "early stage", 0, 11)
    brain = Requirement("cns_metastases", {"state": "untreated"}, "brain metastases", 0, 16)
    assert evaluate_requirement(metastatic, patient).truth is True
    assert evaluate_requirement(early, patient).truth is False
    assert evaluate_requirement(brain, patient).truth is False


@pytest.mark.parametrize("text, labs", [
    ("Labs: platelets 85,000/uL, ANC 1.2 x 10^9/L, hemoglobin 8.9 g/dL, creatinine 1.1 mg/dL.",
     {"platelets": 85.0, "ANC": 1.2, "hemoglobin": 8.9, "creatinine": 1.1}),
    ("ANC 2,900, platelets 175,000, Hgb 10.4, CrCl 52 mL/min.",
     {"ANC": 2.9, "platelets": 175.0, "hemoglobin": 10.4, "CrCl": 52.0}),
    ("AST 35 U/L, ALT 40 U/L.", {}),  # trials bound these in x ULN: the lab's range decides
    ("CBC ordered for tomorrow; platelets pending.", {}),
    # Indian notation (1 lakh = 100,000/µL) and OCR's letter O inside numbers
    ("Labs 11/28: plt 3.1 lakh, bili 0.4.", {"platelets": 310.0, "bilirubin": 0.4}),
    ("Labs: Hgb 11.O, plt 2O5, alb 3.6.", {"hemoglobin": 11.0, "platelets": 205.0}),
])
def test_lab_values(text, labs):
    assert {k: v[0] for k, v in find_clinical_facts(text).labs.items()} == labs


@pytest.mark.parametrize("text, infections, pregnant", [
    ("HIV positive on antiretroviral therapy.", {"HIV": True}, None),
    ("She denies HIV.", {"HIV": False}, None),
    ("HCV antibody negative.", {"HCV": False}, None),
    ("Hepatitis B core and surface antigen stains are negative.", {"HBV": False}, None),
    ("Screening for HIV was ordered.", {}, None),
    ("She is 12 weeks pregnant.", {}, True),
    ("Pregnancy test negative.", {}, False),
    ("Differential includes fatty liver of pregnancy.", {}, None),
])
def test_infections_and_pregnancy(text, infections, pregnant):
    facts = find_clinical_facts(text)
    assert {k: v[0] for k, v in facts.infections.items()} == infections
    assert facts.pregnant is pregnant


def test_results_from_notes_decide_lab_infection_and_pregnancy_criteria():
    patient = _patient(sex="female", labs={"platelets": (85.0, "10^9/L", "platelets 85,000")},
                       infections={"HIV": (True, "HIV positive")}, pregnant=False)
    platelets = Requirement("organ_function", {"measure": "platelets", "op": ">=",
                                               "value": 100, "unit": "10^9/L"}, "plt", 0, 3)
    creatinine = Requirement("organ_function", {"measure": "creatinine", "op": "<=",
                                                "value": 1.5, "unit": "xULN"}, "cr", 0, 2)
    hiv_or_hbv = Requirement("infection", {"agents": ["HIV", "HBV"]}, "HIV or HBV", 0, 10)
    hbv = Requirement("infection", {"agents": ["HBV"]}, "HBV", 0, 3)
    pregnancy = Requirement("pregnancy", {}, "pregnant", 0, 8)
    assert evaluate_requirement(platelets, patient).truth is False
    assert evaluate_requirement(creatinine, patient).truth is None
    assert evaluate_requirement(hiv_or_hbv, patient).truth is True
    assert evaluate_requirement(hbv, patient).truth is None
    assert evaluate_requirement(pregnancy, patient).truth is False


def test_report_names_the_notes_as_the_source_of_what_they_supplied():
    from trialmatch.match.report import profile_rows

    rows = profile_rows({"age": 62, "sex": "male", "ecog": 1, "cancer_type": None,
                         "prior_therapies": ["osimertinib"],
                         "from_notes": {"ecog": "ECOG PS 1", "prior_therapies": "progressed on "
                                        "osimertinib", "brain_metastases": "brain metastases"}})
    sources = {fact: evidence for fact, _, evidence in rows}
    assert sources["Age"] == "case file"
    assert sources["ECOG"] == "notes: ECOG PS 1"
    assert sources["Prior therapies"].startswith("notes: progressed")
    assert sources["Brain metastases"] == "notes: brain metastases"


def _gold_notes():
    import json
    from pathlib import Path

    path = Path(__file__).parent.parent / "fixtures" / "clinical" / "notes.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.parametrize("row", _gold_notes(), ids=lambda row: row["id"])
def test_gold_notes(row):
    facts, gold = find_clinical_facts(row["text"]), row["gold"]
    assert facts.ecog == gold["ecog"]
    assert facts.prior_therapies == gold["prior_therapies"]
    assert (facts.metastatic, facts.brain_metastases) == (gold["metastatic"],
                                                         gold["brain_metastases"])
    assert {k: v[0] for k, v in facts.labs.items()} == gold["labs"]
    assert {k: v[0] for k, v in facts.infections.items()} == gold["infections"]
    assert facts.pregnant is gold["pregnant"]


@pytest.mark.parametrize("text, past", [
    ("History of prostate cancer treated with radical prostatectomy in 2012.",
     [("PROSTATE", 2012)]),
    ("She has a history of colon cancer (2023), now with new lung adenocarcinoma.",
     [("COAD", 2023)]),
    ("History of basal cell carcinoma of the skin.", []),  # a usual exception of trials
    ("Possible history of lymphoma.", []),
    ("Patient with a history of smoking presents with lung adenocarcinoma.", []),
])
def test_past_cancers(text, past):
    assert [(code, year) for code, year, _ in find_clinical_facts(text).past_cancers] == past


def test_another_cancer_in_the_history_decides_other_malignancy_criteria():
    from trialmatch.models import CancerType

    profile = Profile(cancer_type=CancerType("LUAD", "Lung Adenocarcinoma", "", 0, 0))
    recent = build_patient(profile, ontology=get_vocabulary(),
                           past_cancers=[("PROSTATE", 2012, "prostate cancer"),
                                         ("LUNG", None, "lung cancer")])
    within_5 = Requirement("other_malignancy", {"within_years": 5}, "other", 0, 5)
    any_time = Requirement("other_malignancy", {"within_years": None}, "other", 0, 5)
    assert evaluate_requirement(within_5, recent).truth is False  # 2012 is long ago
    assert evaluate_requirement(any_time, recent).truth is True
    only_own = build_patient(profile, ontology=get_vocabulary(),
                             past_cancers=[("LUNG", None, "lung cancer")])
    assert evaluate_requirement(any_time, only_own).truth is None  # the disease itself
    none = build_patient(profile, ontology=get_vocabulary(), no_other_cancer="no other cancer")
    assert evaluate_requirement(within_5, none).truth is False


def test_an_operation_the_lexicon_does_not_list_is_no_systemic_line():
    reader = drug_therapy_reader()
    assert reader("radical orchiectomy") == (set(), {"surgery"})
    assert reader("RPLND") == (set(), {"surgery"})
    patient = build_patient(Profile(), ontology=get_vocabulary(),
                            prior_therapies=["radical orchiectomy", "BEP x3"],
                            therapy_reader=reader)
    assert [r.systemic for r in patient.prior_regimens] == [False, True]


def test_a_gene_family_result_answers_for_its_genes_and_back():
    # biomarkers.json `members`: "NTRK1-3 fusions negative" answers "NTRK1 fusion"; one
    # BRCA gene negative leaves "BRCA1/2 mutation" open; a family found positive leaves a
    # gene open (which one?).
    from trialmatch.models import Biomarker

    vocabulary = get_vocabulary()

    def truth(marker, *results):
        patient = build_patient(Profile(biomarkers=list(results)), ontology=vocabulary)
        requirement = Requirement("biomarker", {"any_of": [
            {"marker": marker, "status": "positive", "alterations": []}]}, "criterion")
        return evaluate_requirement(requirement, patient).truth

    assert truth("NTRK1", Biomarker("NTRK", "fusion", "negative")) is False
    assert truth("NTRK", Biomarker("NTRK3", "fusion", "positive")) is True
    assert truth("BRCA", Biomarker("BRCA1", "mutation", "negative")) is None
    assert truth("BRCA", Biomarker("BRCA1", "mutation", "negative"),
                 Biomarker("BRCA2", "mutation", "negative")) is False
    assert truth("BRCA2", Biomarker("BRCA", "mutation", "positive")) is None
    # "RAS or RAF mutations", "RAS/MAPK mutation-positive": BRAF V600E is a RAF gene's.
    assert truth("RAF", Biomarker("BRAF", "V600E", "positive")) is True
    assert truth("MAPK", Biomarker("BRAF", "V600E", "positive")) is True


@pytest.mark.parametrize("text, creatinine, bilirubin", [
    # notes' shorthand, without units: read by the value's size
    ("Labs today: glucose 142, Cr 1.4 (baseline 1.3-1.4), Hb 12.9, AST/ALT 20/18, T bili 0.5.",
     1.4, 0.5),
    ("LABS (12/01/2026): Cr 0.7 | T bili 0.4 | AST/ALT 41/52 | Hb 12.0 | plt 205", 0.7, 0.4),
    # SI units converted to mg/dL
    ("Labs: T bili 22 umol/L, Hb 124 g/L, creatinine 88 umol/L.", 1.0, 1.29),
    # multiples of the upper limit, clearances and sizes that fit neither unit are not values
    ("Hb 11: Cr 1.5 x ULN; CrCl 60 mL/min; T bili 9", None, None),
])
def test_creatinine_and_bilirubin_as_notes_write_them(text, creatinine, bilirubin):
    labs = find_clinical_facts(text).labs
    assert (labs["creatinine"][0] if "creatinine" in labs else None) == creatinine
    assert (labs["bilirubin"][0] if "bilirubin" in labs else None) == bilirubin
    assert all(labs[m][1] == "mg/dL" for m in ("creatinine", "bilirubin") if m in labs)


@pytest.mark.parametrize("text,metastatic", [
    # a list broken across lines keeps its negation
    # (no site named means no distant spread at all, so the answer is open, not yes)
    ("PET/CT: avid pelvic nodes. No para-aortic uptake. No lung, liver, or\nosseous mets.\n",
     None),
    ("No lung, liver or osseous mets.", None),
    ("New liver, lung and osseous mets.", True),
])
def test_negated_lists_of_metastatic_sites(text, metastatic):
    assert find_clinical_facts(text).metastatic is metastatic


def test_a_plan_sections_items_are_no_history():
    note = ("Assessment: de novo stage IV HER2+ breast cancer. Treatment-naive.\n"
            "Plan:\n"
            "- 1L docetaxel + trastuzumab + pertuzumab x6, then maintenance HP.\n"
            "- Port placement next week.\n\n"
            "Hx: s/p letrozole x5y adjuvant.\n")
    facts = find_clinical_facts(note)
    assert facts.prior_therapies == ["letrozole (adjuvant)"]
    # ... unless an item tells what was given
    given = find_clinical_facts("Plan:\n- s/p C1 carboplatin on 11/20; continue q3w.\n")
    assert given.prior_therapies == ["carboplatin"]
    # an assessment and plan retells the history
    told = find_clinical_facts("A/P: PD on 1L letrozole + ribociclib after 31 mo.\n")
    assert told.prior_therapies == ["letrozole + ribociclib"]
    assert find_clinical_facts("Plan: 1L docetaxel + trastuzumab + pertuzumab.\n"
                               ).prior_therapies is None


@pytest.mark.parametrize("note", [
    "MRI brain w/wo 11/17/2026: no\n      intracranial metastases.",
    "CT chest/abdomen/pelvis: there is no evidence of\n    distant metastatic disease.",
])
def test_a_denial_reaches_across_a_wrapped_line(note):
    facts = find_clinical_facts(note)
    assert facts.metastatic is not True and facts.brain_metastases is not True


@pytest.mark.parametrize("sentence", [
    "A/P: PD on 1L chemo-IO. Recommend HER2-directed 2L: trastuzumab deruxtecan vs zongertinib.",
    "- Rec 1L gemcitabine + cisplatin + toripalimab q3w x6, then maintenance.",
    "- Outside plan of FOLFOX/nivo superseded: HER2+ -> 1L trastuzumab + pembrolizumab + CAPOX.",
])
def test_a_line_label_beside_a_plan_word_is_a_plan(sentence):
    # "1L"/"2L" tells history beside a past verb ("PD on 1L ..."), a plan beside a plan word
    facts = find_clinical_facts(sentence)
    assert not any("trastuzumab deruxtecan" in t or "toripalimab" in t or
                   "pembrolizumab" in t for t in facts.prior_therapies or [])


def test_tx_with_is_treated_with():
    facts = find_clinical_facts(
        "52M w/ hx NPC stage III dx 03/2021, tx w/ IMRT 70 Gy + concurrent cisplatin x2 "
        "(completed 07/2021) -> CR.\n")
    assert any("cisplatin" in t for t in facts.prior_therapies or [])
