"""Table-driven tests of the parser fixes found with the gold cases: each row is a phrasing
seen in real trials, and the prior-therapy (or other) requirements it must give."""

import pytest

from trialmatch.models import TrialText
from trialmatch.nlp.criteria import annotate_trial
from trialmatch.nlp.requirements import parse_criterion


def _therapies(text, kind):
    return [(r.params["received"], sorted(r.params["drugs"] + r.params["classes"]))
            for r in parse_criterion(text, kind) if r.kind == "prior_therapy"]


@pytest.mark.parametrize("kind,text,expected", [
    # "and" joins requirements that must all hold; "or" keeps alternatives in one
    ("inclusion", "Prior treatment with trastuzumab and a taxane in any setting",
     [(True, ["trastuzumab"]), (True, ["taxane"])]),
    ("inclusion", "At least 2 prior lines, including fluoropyrimidine, oxaliplatin and "
                  "irinotecan", [(True, ["fluoropyrimidine"]), (True, ["oxaliplatin"]),
                                 (True, ["irinotecan"])]),
    ("inclusion", "Prior treatment with at least one androgen receptor pathway inhibitor, at "
                  "least one taxane (unless ineligible), and 2 cycles of radioligand therapy",
     [(True, ["androgen receptor pathway inhibitor"]), (True, ["taxane"])]),
    ("inclusion", "Progression on alectinib, brigatinib, or lorlatinib",
     [(True, ["alectinib", "brigatinib", "lorlatinib"])]),
    ("inclusion", "Progressed after platinum-based chemotherapy and an anti-PD-(L)1 antibody "
                  "(e.g., pembrolizumab, nivolumab, or atezolizumab)",
     [(True, ["platinum"]),
      (True, ["PD-(L)1 inhibitor", "atezolizumab", "nivolumab", "pembrolizumab"])]),
    # "progressed after X" in an inclusion: X was received
    ("inclusion", "Disease progression after osimertinib", [(True, ["osimertinib"])]),
    # exclusions: alternatives whatever the conjunction
    ("exclusion", "Prior PARP inhibitor or platinum-based chemotherapy",
     [(True, ["PARP inhibitor", "platinum"])]),
    # side mentions: a condition, an event on a therapy, an option
    ("inclusion", "If prior (neo)adjuvant endocrine therapy was given, disease recurrence "
                  "more than 12 months after completion", []),
    ("exclusion", "Clinically significant cardiac disease, including LVEF drop to <40% on prior "
                  "HER2-directed therapy", []),
    ("exclusion", "Persistent grade 2 hematologic toxicity from prior chemotherapy", []),
    ("inclusion", "Completed first-line platinum-based chemotherapy with or without interval "
                  "debulking surgery", [(True, ["platinum"])]),
    ("inclusion", "At least 2 prior lines, including oxaliplatin (and an anti-EGFR antibody if "
                  "RAS wild-type)", [(True, ["oxaliplatin"])]),
    # exclusions stating more than receipt cannot exclude on receipt alone
    ("exclusion", "Prior treatment with any investigational fourth-generation ALK inhibitor", []),
    ("exclusion", "Prior treatment with a next-generation TRK inhibitor (selitrectinib, "
                  "repotrectinib)", [(True, ["repotrectinib"])]),
    ("exclusion", "Prior treatment with 4th-generation EGFR-TKIs(TKI for 3rd-generation "
                  "resistance).", []),
    ("exclusion", "Progression during first-line platinum chemotherapy", []),
    ("exclusion", "Prior treatment with a PD-1 inhibitor", [(True, ["PD-1 inhibitor"])]),
    # permissions
    ("inclusion", "Prior TRK inhibitor (larotrectinib, entrectinib) allowed in the pretreated "
                  "cohort", []),
])
def test_prior_therapy_phrasings(kind, text, expected):
    assert _therapies(text, kind) == expected


def test_toxicity_grade_is_not_a_line_count():
    found = parse_criterion("Persistent grade ≥ 2 hematologic toxicity from prior chemotherapy",
                            "exclusion")
    assert not [r for r in found if r.kind == "prior_lines"]


def _kind(text, criterion_kind, kind):
    return [r.params for r in parse_criterion(text, criterion_kind) if r.kind == kind]


@pytest.mark.parametrize("criterion_kind,text,kind,expected", [
    # ages that pick a scale are no age limit; months are fractions of a year
    ("inclusion", "Karnofsky ≥ 50% for patients > 16 years of age; Lansky ≥ 50 for patients "
                  "≤ 16 years of age", "age", []),
    ("inclusion", "Age ≥ 12 months and ≤ 21 years at enrollment", "age",
     [{"min": 1, "max": None}]),
    ("inclusion", "Age ≥ 18 years", "age", [{"min": 18, "max": None}]),
    # disease beyond standard therapy: the alternatives come together (an untreated patient
    # with a standard option is not in the population), unless surgery is another door
    ("inclusion", "Solid tumor relapsed or refractory to standard therapy, or for which no "
                  "standard therapy exists", "prior_lines",
     [{"min": 1, "max": None, "beyond_standard": True}]),
    ("inclusion", "No satisfactory standard therapy, or disease not amenable to surgery that "
                  "would cause unacceptable morbidity", "prior_lines", []),
    ("inclusion", "For ATLL, must not have failed standard combination chemotherapy",
     "prior_lines", []),
    ("inclusion", "Relapse on standard adjuvant endocrine therapy", "prior_lines", []),
    ("inclusion", "Progression on at least one prior systemic therapy", "prior_lines",
     [{"min": 1, "max": None}]),
    # a line named by its number is that many lines at least ("beyond" it, one more)
    ("inclusion", "Disease progression after standard second-line therapy", "prior_lines",
     [{"min": 2, "max": None}]),
    ("inclusion", "Metastatic colorectal cancer refractory to second-line and above standard "
                  "treatment", "prior_lines", [{"min": 2, "max": None}]),
    ("inclusion", "Patients who failed first-line platinum-based chemotherapy", "prior_lines",
     [{"min": 1, "max": None, "classes": ["chemotherapy"]}]),
    ("exclusion", "Received treatment beyond the second line", "prior_lines",
     [{"min": 3, "max": None}]),
    ("inclusion", "Candidates for first-line therapy of advanced disease", "prior_lines", []),
    ("inclusion", "No satisfactory standard therapy available", "prior_lines",
     [{"min": 1, "max": None, "beyond_standard": True, "exhausted": True}]),
    # "does not exist or is no longer effective": first-in-human wording for options used up
    ("inclusion", "Advanced solid tumor for which standard therapy proven to provide clinical "
                  "benefit does not exist or is no longer effective", "prior_lines",
     [{"min": 1, "max": None, "beyond_standard": True, "exhausted": True}]),
    # a floor count beside "exhausted all effective therapies": both apply
    ("inclusion", "Standard curative measures do not exist, and the patient must have exhausted "
                  "all effective therapies available locally. At a minimum, the patients must "
                  "have relapsed or refractory disease to at least 2 prior lines of systemic "
                  "therapies.", "prior_lines",
     [{"min": 1, "max": None, "beyond_standard": True, "exhausted": True},
      {"min": 2, "max": None}]),
    # "refractory" alone before the tumour is refractory to its standard therapy; "and for
    # whom no standard therapy exists" asks for both, so one line does not show it
    # "no prior therapy" filed under exclusions: having had it is what excludes
    ("exclusion", "Prior systemic therapy directed at advanced RCC is not allowed for patients "
                  "enrolled to Cohort B (treatment-naive group).", "prior_lines",
     [{"min": 1, "max": None}]),
    ("exclusion", "Patients must have had no prior systemic therapy for the current cancer "
                  "diagnosis", "prior_lines", [{"min": 1, "max": None}]),
    ("inclusion", "Histologically confirmed solid tumors that are advanced", "extent",
     [{"extent": "advanced"}]),
    ("inclusion", "Patients who are advanced in age", "extent", []),
    # blood cancers by their acronyms; "resistant" as "refractory"
    ("inclusion", "Relapsed AML with < 25% blasts in bone marrow", "extent",
     [{"extent": "recurrent"}]),
    ("inclusion", "Relapsed or resistant MDS/AML or ALL.", "extent", [{"extent": "recurrent"}]),
    ("inclusion", "Patients with refractory AML", "extent", [{"extent": "recurrent"}]),
    ("inclusion", "refractory anemia with excess blasts", "extent", []),
    # "prior to surgery" says when; "after surgical resection" says it was done
    ("exclusion", "History of receiving radiotherapy or chemotherapy prior to surgery",
     "prior_therapy", [{"received": True, "drugs": [], "classes": ["radiation", "chemotherapy"]}]),
    ("inclusion", "Patient is after surgical resection of the tumor", "prior_therapy",
     [{"received": True, "drugs": [], "classes": ["surgery"]}]),
    ("inclusion", "High-risk patients will be considered for metastatic workup (PET-CT).",
     "extent", []),
    # refractoriness denied is not receipt denied
    ("inclusion", "Patients must not have bortezomib refractory disease.", "prior_therapy", []),
    # a threshold no g/dL value can have is g/L ("HB >= 90 g/dL" in a trial's criteria)
    ("inclusion", "HB ≥ 90 g/dL, ANC ≥ 1.5 × 10⁹/L", "organ_function",
     [{"measure": "hemoglobin", "op": ">=", "value": 9.0, "unit": "g/dL"},
      {"measure": "ANC", "op": ">=", "value": 1.5, "unit": "10^9/L"}]),
    ("inclusion", "Solid tumors for which gemcitabine-based treatment is considered a "
                  "clinically appropriate option", "prior_therapy", []),
    # an event on a drug excludes under an exclusion, not the drug's receipt; in an
    # inclusion intolerance says the drug was given
    ("exclusion", "History of dasatinib intolerance", "prior_therapy", []),
    ("exclusion", "≥Level 3 AE related to anti-PD-1/PD-L1", "prior_therapy", []),
    ("exclusion", "Documented evidence of prior ribociclib dose reduction due to safety "
                  "reasons either in adjuvant setting or for advanced disease.", "extent", []),
    ("inclusion", "Resistant or intolerant to prior imatinib", "prior_therapy",
     [{"received": True, "drugs": ["imatinib"], "classes": []}]),
    ("inclusion", "Refractory advanced solid tumor", "prior_lines",
     [{"min": 1, "max": None, "beyond_standard": True}]),
    ("inclusion", "Tumors must be refractory to or not a candidate for current standard "
                  "treatment(s) and for whom no standard therapy exists.", "prior_lines",
     [{"min": 1, "max": None, "beyond_standard": True, "exhausted": True}]),
    # a histology left out is not asked for; a site in a conditional aside is no requirement
    ("inclusion", "Adenocarcinoma of the prostate without predominant small cell or "
                  "neuroendocrine features", "histology", []),
    ("inclusion", "Measurable disease per RECIST 1.1 (RANO for primary CNS tumors)",
     "primary_site", []),
    ("inclusion", "Histologically confirmed small cell carcinoma", "histology",
     [{"histologies": ["small cell carcinoma"]}]),
])
def test_asides_and_alternatives_state_no_requirement(criterion_kind, text, kind, expected):
    assert _kind(text, criterion_kind, kind) == expected


def _markers(text, kind="inclusion"):
    return [[(i["marker"], i["status"], i["alterations"], i.get("except_alterations", []))
             for i in r.params["any_of"]] for r in parse_criterion(text, kind)
            if r.kind == "biomarker"]


@pytest.mark.parametrize("criterion_kind,text,expected", [
    ("exclusion", "NTRK1 point mutation or amplification without a fusion",
     [[("NTRK1", "positive", ["mutation", "amplification"], ["fusion"])]]),
    ("inclusion", "KRAS mutation other than G12C", [[("KRAS", "positive", [], ["G12C"])]]),
    # a variant left out written onto the marker, inside a list of alternatives
    ("inclusion", "NSCLC with KRAS non-G12C, NRAS or BRAF mutations",
     [[("KRAS", "positive", [], ["G12C"]), ("NRAS", "positive", [], []),
       ("BRAF", "positive", [], [])]]),
    ("inclusion", "EGFR mutation or amplification",
     [[("EGFR", "positive", ["mutation", "amplification"], [])]]),
    ("inclusion", "ALK fusion", [[("ALK", "positive", ["fusion"], [])]]),
    ("inclusion", "KRAS mutation", [[("KRAS", "positive", [], [])]]),
    # a marker inside a condition on another statement
    ("inclusion", "At least 2 prior lines, and an anti-EGFR antibody if RAS wild-type", []),
    ("inclusion", "RAS wild-type",
     [[("KRAS", "negative", [], [])], [("NRAS", "negative", [], [])]]),
    # same-kind biomarkers joined by "and" stay separate (all required)
    ("inclusion", "ER-positive and HER2-negative",
     [[("ER", "positive", [], [])], [("HER2", "negative", [], [])]]),
])
def test_biomarker_phrasings(criterion_kind, text, expected):
    assert _markers(text, criterion_kind) == expected


@pytest.mark.parametrize("criterion_kind,text,expected", [
    # a stage or extent that says which therapy counts is no demand on today's disease
    ("inclusion", "No more than one prior line of chemotherapy for recurrent locally advanced "
                  "or metastatic disease", []),
    ("inclusion", "No prior systemic therapy for metastatic disease", []),
    ("inclusion", "Progression on endocrine therapy in locally advanced unresectable or "
                  "metastatic breast cancer", []),
    ("inclusion", "Locally advanced or metastatic NSCLC after at least one prior platinum "
                  "regimen", ["locally_advanced", "metastatic"]),
    ("inclusion", "Metastatic disease", ["metastatic"]),
    # an exclusion about the course on a therapy does not exclude on its disease words
    ("exclusion", "Locally advanced (Stage III) unresectable NSCLC that progressed during "
                  "platinum-based chemoradiation", []),
    # ...nor does a therapy's setting when the therapy itself is not read
    ("exclusion", "No earlier chemotherapy for metastatic disease was allowed", []),
    ("exclusion", "Epirubicin was permitted as prior adjuvant therapy but not for metastatic "
                  "disease", []),
    ("exclusion", "Received systemic treatment for advanced disease", []),
    ("exclusion", "Received sequential chemoradiation for locally advanced (Stage III) "
                  "unresectable disease", []),
    # ...but disease words listed as another item before the course are an exclusion
    ("exclusion", "Distant metastases (stage IV) and/or relapse after curative surgery",
     ["metastatic", "IV"]),
    ("exclusion", "Stage IV disease", ["IV"]),
])
def test_stage_and_extent_that_qualify_a_therapy(criterion_kind, text, expected):
    found = [r.params.get("extent") or r.params["groups"][0]
             for r in parse_criterion(text, criterion_kind) if r.kind in ("stage", "extent")]
    assert found == expected


@pytest.mark.parametrize("text,expected", [
    ("Responded to one of the following: fulvestrant or fulvestrant plus a CDK4/6 inhibitor",
     1),
    ("Prior platinum chemotherapy with radiotherapy (cCRT); or prior platinum chemotherapy "
     "before radiotherapy (sCRT)", 1),
    ("Prior anthracycline and taxane", 2),
])
def test_one_of_and_or_sentences_keep_alternatives_together(text, expected):
    assert len([r for r in parse_criterion(text, "inclusion") if r.kind == "prior_therapy"]) \
        == expected


@pytest.mark.parametrize("text,expected", [
    ("De novo or recurrent stage IV disease", ["stage"]),
    ("Recurrent or newly diagnosed metastatic disease", ["extent"]),
    ("Recurrent disease", ["extent"]),
])
def test_de_novo_or_recurrent_asks_for_neither(text, expected):
    found = [r for r in parse_criterion(text, "inclusion") if r.kind in ("stage", "extent")]
    assert [r.kind for r in found] == expected
    assert not any(r.params.get("negated") for r in found)


@pytest.mark.parametrize("text,expected", [
    # an example restating the marker is no second requirement
    ("PD-L1 TPS below 50% (any validated assay), including PD-L1 negative (< 1%)",
     [[("PD-L1", "positive", [], [])]]),
    # the assay's name is no requirement
    ("PD-L1 TPS ≥ 50% by the PD-L1 IHC 22C3 pharmDx assay", [[("PD-L1", "positive", [], [])]]),
    # alterations listed as examples are kept as the acceptable ones ("rare EGFR mutations,
    # including G719X, S768I": any EGFR mutation would admit exon 19 deletions)
    ("Rare EGFR mutations, including exon 18 G719X, S768I",
     [[("EGFR", "positive", ["G719X", "S768I"], [])]]),
    ("EGFR exon 19 deletion or L858R mutation",
     [[("EGFR", "positive", ["exon 19 deletion", "L858R"], [])]]),
])
def test_examples_and_assays_state_no_extra_marker(text, expected):
    assert _markers(text) == expected


@pytest.mark.parametrize("kind,text,expected", [
    # examples of words the lexicon does not know stay one requirement
    ("inclusion", "Completed all standard-of-care treatment (e.g., surgery, chemotherapy, "
                  "radiation therapy, and HER2-targeted therapy)",
     [(True, ["anti-HER2", "chemotherapy", "radiation", "surgery"])]),
    # a generic prior therapy inside an "if" clause is no history
    ("exclusion", "History of ductal carcinoma in situ if they have received any systemic "
                  "therapy for treatment", []),
])
def test_examples_and_conditions_of_therapies(kind, text, expected):
    assert _therapies(text, kind) == expected
    assert not [r for r in parse_criterion(text, kind) if r.kind == "prior_lines"]


def test_with_or_without_other_mutations_leaves_nothing_out():
    assert _markers("EGFR 19Del or L858R mutations, with or without other EGFR mutations") == \
        [[("EGFR", "positive", ["exon 19 deletion", "L858R"], [])]]


def test_a_definition_of_what_counts_as_a_line_demands_nothing():
    text = ("Patients have received a maximum of one line of chemotherapy for metastatic "
            "disease. Progression within 6 months after completion of adjuvant chemotherapy is "
            "counted as one line of therapy.")
    assert _therapies(text, "inclusion") == []


def _disease(text, criterion_kind="exclusion"):
    return sorted((r.kind, tuple(r.params.get("codes") or r.params.get("histologies")
                                 or r.params.get("groups") or [r.params.get("extent")]))
                  for r in parse_criterion(text, criterion_kind)
                  if r.kind in ("cancer_type", "histology", "primary_site", "stage", "extent"))


@pytest.mark.parametrize("text,expected", [
    # separate diseases of a list are each excluded, not only the "narrowest" kind
    ("Ampullary cancer, neuroendocrine neoplasms and nonepithelial tumors",
     [("cancer_type", ("AMPCA",)), ("histology", ("neuroendocrine tumor",))]),
    ("Lung squamous cell carcinoma, or adenosquamous carcinoma",
     [("cancer_type", ("LUSC",)), ("histology", ("adenosquamous carcinoma",))]),
    # words that qualify each other are one item: the stage is what is excluded
    ("Stage IV breast cancer", [("stage", ("IV", "IVA", "IVB", "IVC"))]),
    ("NSCLC, stage IIIB", [("stage", ("IIIB",))]),
    # examples in a parenthesis qualify the item before them
    ("Mucinous adenocarcinoma or low-grade adenocarcinoma (including low grade serous and "
     "grade 1 endometrioid adenocarcinoma of the ovary)",
     [("histology", ("mucinous adenocarcinoma", "adenocarcinoma",
                     "low-grade serous carcinoma"))]),
    # "non-melanoma skin cancer" names no melanoma
    ("Adequately treated non-melanoma skin cancer", [("cancer_type", ("SKIN",))]),
    ("Adequately treated non- melanoma skin cancer", [("cancer_type", ("SKIN",))]),
])
def test_exclusion_keeps_each_listed_disease(text, expected):
    assert _disease(text) == expected


@pytest.mark.parametrize("text", [
    "Patients with the following cancers are eligible even if treated within 5 years: ductal "
    "carcinoma in situ of the breast; non-metastatic, non-melanoma skin cancers",
    "Prior adjuvant treatment for non-metastatic disease is permitted if completed 6 months "
    "before randomization",
    "Prior surgery of the disease in stage IV is allowed",
])
def test_an_exclusion_that_permits_names_no_disease_to_exclude(text):
    assert _disease(text) == []


def test_a_permitting_aside_leaves_the_exclusion():
    text = "Patients with metastatic breast cancer (spread to axillary nodes is permitted (cN1);"
    assert _disease(text) == [("extent", ("metastatic",))]


def _annotated_exclusions(text, conditions):
    trial = TrialText("NCT00000000", "A trial", conditions, [], "Exclusion Criteria:\n* " + text,
                      None, None, None)
    return [sorted((r.kind, tuple(r.params.get("codes") or [r.params.get("extent")]))
                   for r in c.requirements)
            for c in annotate_trial(trial).criteria if c.kind == "exclusion"][0]


@pytest.mark.parametrize("text,conditions,expected", [
    # another cancer qualified by its extent excludes that cancer, not every metastatic patient
    ("Metastatic uveal melanoma", ["Metastatic Cutaneous Melanoma"],
     [("cancer_type", ("UM",))]),
    # the trial's own cancer (or a narrower code of it): the extent is what is excluded
    ("Metastatic breast carcinoma at diagnosis (M1)", ["Breast Cancer"],
     [("extent", ("metastatic",))]),
    ("Stage III NSCLC that progressed during chemoradiation", ["Non-small Cell Lung Cancer"],
     []),
])
def test_exclusion_of_a_qualified_disease_in_a_trial(text, conditions, expected):
    assert _annotated_exclusions(text, conditions) == expected


@pytest.mark.parametrize("text,kind,expected", [
    # "must not have X" under the exclusion header restates the exclusion: X excludes
    ("Patient must not have any evidence of distant metastasis on imaging", "extent",
     {"extent": "metastatic"}),
    ("Patient must not have undergone prior mastectomy", "prior_therapy",
     {"received": True, "drugs": [], "classes": ["surgery"]}),
    ("Participants must not have had prior treatment with an anti-PD-1 or anti-CTLA-4 antibody",
     "prior_therapy", {"received": True, "drugs": [],
                       "classes": ["PD-1 inhibitor", "CTLA-4 inhibitor"]}),
    ("Participants must not be pregnant or breastfeeding", "pregnancy", {}),
    ("Must not have an EGFR mutation", "biomarker",
     {"any_of": [{"marker": "EGFR", "alterations": [], "status": "positive", "min_value": None,
                  "max_value": None, "unit": None, "germline": None}]}),
    # a bound keeps its sense: more than two lines exclude
    ("Patients must not have had more than 2 prior lines", "prior_lines",
     {"min": 3, "max": None}),
])
def test_must_not_in_an_exclusion_is_no_negation(text, kind, expected):
    assert _kind(text, "exclusion", kind) == [expected]


@pytest.mark.parametrize("text,expected", [
    # "+" written onto a marker is its status, not a list joining it to the next marker
    ("ER+HER2- breast cancer", [[("ER", "positive", [], [])], [("HER2", "negative", [], [])]]),
    ("Confirmed ER+, HER2- invasive breast carcinoma",
     [[("ER", "positive", [], [])], [("HER2", "negative", [], [])]]),
    ("ER+, PR+, HER2 - by current guidelines",
     [[("ER", "positive", [], [])], [("PR", "positive", [], [])],
      [("HER2", "negative", [], [])]]),
    # "positivity"/"negativity" are results
    ("HER2 negativity is defined as IHC 0, 1+ or 2+ with a negative ISH",
     [[("HER2", "negative", [], [])]]),
    ("ER and/or PR positivity defined as more than 1% of cells",
     [[("ER", "positive", [], []), ("PR", "positive", [], [])]]),
    # a marker the criterion leaves open is no requirement
    ("ER-positive (more than 10%) invasive breast cancer, regardless of PR expression",
     [[("ER", "positive", [], [])]]),
    ("Tumour must be ER+ with or without progesterone receptor positivity",
     [[("ER", "positive", [], [])]]),
    ("Any tumour ER/PgR status, any HER-2/neu status as measured locally", []),
    ("Estrogen receptor status known", []),
    # markers listed with a test's status are tested too
    ("Known hormone receptor (oestrogen receptor and progesterone receptor) status", []),
    ("Blood samples for a ctDNA test stratified by PIK3CA/AKT1/PTEN status", []),
    ("Tumour tissue adequate for HER2 and PD-L1 testing", []),
    ("ER-positive and PR status known", [[("ER", "positive", [], [])]]),
    ("Provide a tumour sample to determine PD-L1 status, TROP2 status and other biomarkers", []),
    ("HER2-negative status, as assessed locally", [[("HER2", "negative", [], [])]]),
    # subtype names and tumour kinds are no results
    ("Non-luminal subtype by PAM50 (HER2-enriched or basal-like)", []),
    ("Enriched for tumours commonly associated with p53 mutation", []),
    # a marker describing a drug is no result
    ("Prior poziotinib or any other EGFR or HER2 exon 20 insertion mutation-selective tyrosine "
     "kinase inhibitor", []),
    ("Not previously exposed to TKIs that demonstrated activity in ROS1-positive NSCLC", []),
    ("EGFR, ALK or ROS1 mutations that are sensitive to available targeted inhibitor therapy",
     [[("EGFR", "positive", [], []), ("ALK", "positive", [], []), ("ROS1", "positive", [], [])]]),
])
def test_biomarker_statuses_and_qualifiers(text, expected):
    assert _markers(text) == expected


@pytest.mark.parametrize("text,expected", [
    # where a tumour sample comes from is no requirement of the disease
    ("Provide a paraffin-embedded tissue sample of either the primary or metastatic or "
     "recurrent site for staining", []),
    ("Availability of an FFPE tumour block collected during advanced/metastatic disease", []),
    ("Provide an FFPE tumour sample collected from a locally recurrent inoperable or "
     "metastatic tumour", []),
    ("Willing to undergo a biopsy of a metastatic site for central ER testing", []),
    # a sample that confirms the disease does state it
    ("Tissue confirmation of metastatic disease is required", ["metastatic"]),
    ("Biopsy-proven metastatic breast cancer", ["metastatic"]),
])
def test_the_disease_a_sample_comes_from_is_no_requirement(text, expected):
    assert [r.params["extent"] for r in parse_criterion(text, "inclusion")
            if r.kind == "extent"] == expected


@pytest.mark.parametrize("kind,text,expected", [
    # naive to one therapy is no bound on lines
    ("inclusion", "Tyrosine kinase inhibitor (TKI) treatment naive",
     [(False, ["tyrosine kinase inhibitor"])]),
    ("inclusion", "Osimertinib treatment-naive for NSCLC", [(False, ["osimertinib"])]),
    # a treatment-free interval is no naivety
    ("exclusion", "Prior CDK4/6 inhibitors in the metastatic setting (allowed in the adjuvant "
     "setting with a CDK4/6i treatment free interval of 12 months)",
     [(True, ["CDK4/6 inhibitor"])]),
    # "<target>-targeted" is that target's class, or none the lexicon knows: never every
    # targeted therapy
    ("exclusion", "Prior treatment with a HER2-targeted agent", [(True, ["anti-HER2"])]),
    ("exclusion", "Prior exposure to BCMA-targeted therapy", [(True, ["anti-BCMA"])]),
    ("exclusion", "Previous receipt of TROP2-targeted therapy", [(True, ["anti-TROP2"])]),
    ("exclusion", "Prior exposure to CD70-targeted therapy", []),  # a class the lexicon lacks
    # "<class> with <member>" and "<member>-based <class>" name the member only
    ("exclusion", "Prior chemotherapy with gemcitabine at any stage", [(True, ["gemcitabine"])]),
    ("inclusion", "No previous chemotherapy with a taxane or an anthracycline",
     [(False, ["anthracycline", "taxane"])]),
    ("exclusion", "Previous platinum-containing chemotherapy", [(True, ["platinum"])]),
    ("inclusion", "Relapse within a year of adjuvant endocrine therapy with tamoxifen",
     [(True, ["tamoxifen"])]),
    # ...but not a class joined with a drug of another class, nor a list with an unknown item
    ("exclusion", "Prior chemotherapy with bevacizumab",
     [(True, ["bevacizumab", "chemotherapy"])]),
    ("inclusion", "Prior nitrosourea or temozolomide chemotherapy",
     [(True, ["chemotherapy", "temozolomide"])]),
    # an ADC with a named payload is narrower than the lexicon can check: neither every ADC
    # nor every topoisomerase inhibitor; the drugs named beside it stay
    ("exclusion", "Earlier treatment with an ADC carrying a topoisomerase I inhibitor payload",
     []),
    ("exclusion", "Prior sacituzumab govitecan or any antibody-drug conjugate (ADC) with a "
                  "topoisomerase inhibitor", [(True, ["sacituzumab govitecan"])]),
    # node staging and minor operations are no cancer surgery
    ("exclusion", "Previous sentinel lymph node surgery on the affected side", []),
    ("exclusion", "Prior axillary surgery", []),
])
def test_naive_and_targeted_phrasings(kind, text, expected):
    assert _therapies(text, kind) == expected


@pytest.mark.parametrize("kind,text,expected", [
    # a long list under one "No" shares the negation to its last item
    ("inclusion", "No prior anticancer therapy for breast cancer, including chemotherapy, "
     "endocrine therapy, or targeted therapy",
     [(False, ["chemotherapy", "endocrine therapy", "targeted therapy"])]),
    ("inclusion", "No previous treatment of the disease by chemotherapy, hormone therapy, "
     "surgery or radiotherapy",
     [(False, ["chemotherapy", "endocrine therapy", "radiation", "surgery"])]),
    # a new clause is no item of the list
    ("inclusion", "No prior chemotherapy, but prior endocrine therapy is required",
     [(False, ["chemotherapy"]), (True, ["endocrine therapy"])]),
])
def test_list_items_share_a_negation(kind, text, expected):
    assert _therapies(text, kind) == expected


@pytest.mark.parametrize("text,expected", [
    # a permission up to a cap is the cap
    ("Up to 1 prior line of systemic treatment for NSCLC is permitted", [{"min": None, "max": 1}]),
    ("Patients may have received up to 2 prior lines of therapy", [{"min": None, "max": 2}]),
    ("Prior adjuvant chemotherapy is permitted", []),
])
def test_a_permitted_number_of_lines_is_a_cap(text, expected):
    assert _kind(text, "inclusion", "prior_lines") == expected


@pytest.mark.parametrize("text", [
    # a therapy permitted in a setting names the setting of the therapy, not the disease now
    "Prior radiation therapy for metastatic disease is permitted",
    "Previous chemotherapy with a taxane for early breast cancer is permitted",
    "Prior endocrine therapy in the advanced setting allowed, including fulvestrant",
])
def test_the_setting_of_a_permitted_therapy_is_no_extent(text):
    assert [r for r in parse_criterion(text, "inclusion") if r.kind in ("stage", "extent")] == []


@pytest.mark.parametrize("text,expected", [
    # a negation describing one alternative does not reach the next one after ", or"
    ("Locally advanced disease not amenable to curative treatment, or metastatic disease",
     [("locally_advanced", False), ("metastatic", False)]),
    # "locally recurrent inoperable": a recurrence that is inoperable, both at once
    ("Locally recurrent inoperable disease, which cannot be treated with curative intent, or "
     "metastatic TNBC", [("unresectable", False), ("metastatic", False)]),
    # ... while a list under one "No" stays negated
    ("No evidence of distant metastases, or locally advanced inoperable disease",
     [("metastatic", True), ("locally_advanced", True), ("unresectable", True)]),
    ("No locally advanced or metastatic disease",
     [("locally_advanced", True), ("metastatic", True)]),
    # "centrally confirmed" is no central nervous system
    # ("unresectable" stacked on "locally advanced" narrows it)
    ("Unresectable locally advanced or metastatic centrally-confirmed HR+ breast cancer",
     [("unresectable", False), ("metastatic", False)]),
])
def test_negation_and_alternatives_of_extent(text, expected):
    assert [(r.params["extent"], r.params.get("negated", False))
            for r in parse_criterion(text, "inclusion") if r.kind == "extent"] == expected


def test_who_will_be_enrolled_is_the_inclusion_not_a_permission():
    # "Participants with ... HR-positive, HER2-negative breast cancer will be enrolled" states
    # the population; "may be enrolled" would permit.
    text = ("Participants with histologically documented hormone receptor positive and HER2-"
            "negative breast cancer will be enrolled in this study")
    assert _markers(text) == [[("ER", "positive", [], []), ("PR", "positive", [], [])],
                              [("HER2", "negative", [], [])]]
    assert _markers(text.replace("will be", "may be")) == []


@pytest.mark.parametrize("kind,text", [
    # conditions of absorption and live vaccines are no cancer-treatment history
    ("exclusion", "Dysphagia, or previous significant bowel resection that may affect absorption"),
    ("exclusion", "Has received a live vaccine within 30 days. Examples of live vaccines "
     "include measles, yellow fever and Bacillus Calmette-Guerin (BCG)"),
    # what a line count leaves out is no demand either way
    ("inclusion", "No more than 2 previous chemotherapy regimens (postoperative adjuvant "
     "chemotherapy ending more than 6 months before recurrence is not counted as a regimen)"),
])
def test_sentences_that_are_no_treatment_history(kind, text):
    assert _therapies(text, kind) == []


def test_a_recurring_symptom_is_no_recurrence():
    text = ("Abnormal gastrointestinal function, such as uncured recurrent diarrhea or "
            "gastric disease")
    assert _kind(text, "exclusion", "extent") == []


@pytest.mark.parametrize("text,expected", [
    # "postoperative" naming a therapy's setting is no resected disease
    ("Postoperative adjuvant chemotherapy is not counted as a previous regimen", []),
    ("Postoperative radiotherapy completed", []),
    ("Patients must be postoperative, with R0 resection", ["resected"]),
])
def test_postoperative_therapy_is_no_resection(text, expected):
    assert [p["extent"] for p in _kind(text, "inclusion", "extent")] == expected


@pytest.mark.parametrize("text,last", [
    # the serial comma before the last alternative ("I, II, or III") keeps it
    ("Clinical stage I, II, or III disease", "IIIC2"),
    ("Stage I, II, IIIA, and IIIC (T1-3, N3a only)", "IIIC2"),
    ("Clinical stage: Stage IIB, IIIA, IIIB, or IIIC", "IIIC2"),
])
def test_a_serial_comma_keeps_the_last_stage(text, last):
    groups = _kind(text, "inclusion", "stage")[0]["groups"]
    assert groups[-1] == last and "I" not in groups[1:]


@pytest.mark.parametrize("text", [
    # a bracketed aside between the groups of a list keeps the list whole
    "Stage IIIB (non amenable to curative-intent multimodal treatment) or IV NSCLC",
    "stage IIIB (locally-advanced) or IV (metastatic) adenocarcinoma of the lung",
])
def test_an_aside_between_stage_groups(text):
    groups = [g for r in _kind(text, "inclusion", "stage") for g in r["groups"]]
    assert "IIIB" in groups and "IVA" in groups


@pytest.mark.parametrize("text,kept", [
    # a sentence of an inclusion saying whom it rules out demands none of its facts
    ("ER-positive breast cancer. Those with PR-positive but ER-negative tumours are not "
     "eligible.", [("biomarker", "ER", "positive"), ("cancer_type", None, None)]),
    ("HER2-negative disease; if any lesion is HR-negative, the patient is ineligible",
     [("biomarker", "HER2", "negative")]),
    ("Prostate adenocarcinoma. Participants with small cell features are not eligible.",
     [("cancer_type", None, None)]),
    ("Measurable disease. Not eligible: patients whose only lesion was resected.",
     [("measurable_disease", None, None)]),
    ("Stage T1-T4 (if operable, inflammatory breast cancer is excluded)", []),
    # "not eligible for <a therapy>" describes the patient: it is kept
    ("Relapsed or refractory AML in patients who are not eligible for intensive chemotherapy",
     [("extent", None, None), ("cancer_type", None, None)]),
])
def test_sentences_saying_who_is_not_eligible_demand_nothing(text, kept):
    found = []
    for r in parse_criterion(text, "inclusion"):
        item = (r.params.get("any_of") or [{}])[0]
        found.append((r.kind, item.get("marker"), item.get("status")))
    assert sorted(found, key=str) == sorted(kept, key=str)


@pytest.mark.parametrize("text,expected", [
    # a conditional or additional permission rules nobody out
    ("Patients with recurrent disease will be eligible if 12 months have passed since surgery",
     [{"extent": "recurrent", "allowed": True}]),
    ("Locally recurrent tumours after resection may also be included",
     [{"extent": "recurrent", "allowed": True}, {"extent": "resected", "allowed": True}]),
    # ...but a plain "are eligible", or a permission in an aside, leaves the demand
    ("Patients with metastatic disease are eligible", [{"extent": "metastatic"}]),
    ("Up to 5 sites of metastatic disease (3 lesions in one organ will be eligible)",
     [{"extent": "metastatic"}]),
    # "not amenable to ..." denies a therapy, not the alternative after "or"
    ("Locally advanced disease not amenable to curative treatment or metastatic disease",
     [{"extent": "locally_advanced"}, {"extent": "metastatic"}]),
    # nodes involved by cancer are regional disease, not distant metastases
    ("At least one axillary node is involved by metastatic carcinoma", []),
    ("No suspicious metastatic lymph nodes on neck CT", []),
])
def test_permitted_and_regional_extents(text, expected):
    assert [r.params for r in parse_criterion(text, "inclusion") if r.kind == "extent"] == \
        expected


def _course(text, kind="inclusion"):
    return [r.params.get("negated", False) for r in parse_criterion(text, kind)
            if r.kind == "extent" and r.params.get("extent") == "recurrent"]


@pytest.mark.parametrize("kind,text,expected", [
    # "Newly diagnosed" asks for disease that has not relapsed (recurrent, negated).
    ("inclusion", "Patients with confirmation of newly diagnosed AML by 2022 WHO criteria",
     [True]),
    ("inclusion", "new diagnosis of APL", [True]),
    ("inclusion", "Relapsed/Refractory Multiple Myeloma", [False]),
    # Either course, or another condition's diagnosis: nothing.
    ("inclusion", "newly diagnosed or recurrent glioblastoma", []),
    ("inclusion", "advanced NSCLC with brain metastasis (including relapsed or newly diagnosed "
                  "advanced patients after previous surgical treatment)", []),
    ("inclusion", "Patients must not have newly diagnosed brain metastases", []),
    ("exclusion", "Patients with newly diagnosed angina pectoris or myocardial infarction "
                  "within 3 months", []),
    ("exclusion", "Diarrhea is the main symptom of the important or newly diagnosed acute "
                  "gastrointestinal diseases, such as Crohn's disease", []),
])
def test_newly_diagnosed_is_a_course_of_the_cancer(kind, text, expected):
    assert _course(text, kind) == expected


@pytest.mark.parametrize("title,expected", [
    ("Study of ISB 2001 in Relapsed/Refractory Multiple Myeloma", [False]),
    ("Azacytidine Combined With HAG Regimen for Elderly Patients With Newly Diagnosed Myeloid "
     "Malignancy", [True]),
    # "Recurrent" in a title is a setting among others, read from the criteria.
    ("Nivolumab + Relatlimab as First-line Treatment for Stage IV or Recurrent Non-small Cell "
     "Lung Cancer", []),
    ("ADXS11-001 in Persistent or Recurrent Squamous Cell Carcinoma of the Cervix", []),
])
def test_the_course_a_title_names_is_required(title, expected):
    trial = TrialText("NCT90000011", title, [], [],
                      "Inclusion Criteria:\n* Age >= 18\n* Measurable metastatic disease")
    from_title = [c for c in annotate_trial(trial).criteria
                  if c.text.startswith("From the title: ")]
    found = [r.params.get("negated", False) for c in from_title for r in c.requirements
             if r.kind == "extent"]
    assert found == expected


@pytest.mark.parametrize("title,expected", [
    ("Sequential Sunitinib and Sorafenib in Advanced Renal Cell Carcinoma",
     [("extent", "advanced")]),
    # the population words, not a therapy's setting
    ("Nivolumab as First-line Treatment for Stage IV or Recurrent NSCLC",
     [("stage", ["IV", "IVA", "IVB", "IVC"]), ("extent", "recurrent")]),
    ("Chemotherapy Plus Anti-PD-1 With or Without PARP Inhibitor Maintenance in Advanced or "
     "Recurrent Endometrial Cancer", [("extent", "advanced"), ("extent", "recurrent")]),
    ("ADXS11-001 in Persistent or Recurrent Squamous Cell Carcinoma of the Cervix", []),
    # a resection the trial is for is planned
    ("Pre- Vs Postoperative Thromboprophylaxis for Liver Resection", []),
    ("Adjuvant Osimertinib in Resected EGFR-mutant NSCLC", [("extent", "resected")]),
])
def test_the_title_says_the_extent_when_the_criteria_do_not(title, expected):
    trial = TrialText("NCT90000012", title, [], [], "Inclusion Criteria:\n* Age >= 18")
    found = [(r.kind, r.params.get("extent") or r.params.get("groups"))
             for c in annotate_trial(trial).criteria if c.text.startswith("From the title: ")
             for r in c.requirements if r.kind in ("extent", "stage")]
    assert found == expected


@pytest.mark.parametrize("text,expected", [
    ("The subject must not be a candidate for potentially curative therapy, including "
     "transplant.", ["advanced"]),
    ("Stage IV breast cancer for which no curative therapy exists", ["advanced"]),
    # With extents named, the words about cure only qualify them.
    ("Metastatic or locally advanced disease not amenable to curative therapy",
     ["locally_advanced", "metastatic"]),
    # Curable by an operation: not advanced, and not metastatic (see below).
    ("Patients eligible for curative surgery", ["not metastatic"]),
])
def test_disease_beyond_cure_is_advanced(text, expected):
    found = [("not " if r.params.get("negated") else "") + r.params["extent"]
             for r in parse_criterion(text, "inclusion") if r.kind == "extent"]
    assert sorted(found) == sorted(expected)


@pytest.mark.parametrize("text,kind,expected", [
    ("Patients scheduled for elective breast cancer surgery (Mastectomy with or without "
     "axillary clearance)", "inclusion", ["not metastatic"]),
    ("Planned nerve-sparing robotic radical prostatectomy", "inclusion", ["not metastatic"]),
    ("Breast cancer eligible for primary surgery.", "inclusion", ["not metastatic"]),
    ("Patient scheduled for colorectal cancer surgery", "inclusion", ["not metastatic"]),
    # Definitive radiotherapy of the primary, or curative treatment as such, too.
    ("Patients undergoing definitive external beam radiotherapy;", "inclusion",
     ["not metastatic"]),
    ("All men undergoing robot assisted laparoscopic radical prostatectomy (RALP).",
     "inclusion", ["not metastatic"]),
    ("Patients eligible for definitive curative intent treatment after discussion in "
     "multidisciplinary tumour board", "inclusion", ["not metastatic"]),
    # An exclusion of a planned operation says nothing of spread.
    ("Patient scheduled for bilateral mastectomy", "exclusion", []),
    # Liver resections and nephrectomies are done for metastases too.
    ("All patients undergoing liver resection", "inclusion", []),
    ("Not eligible for curative resection", "inclusion", ["unresectable"]),
    ("Patients with stage III NSCLC who are not suitable for surgery at a multidisciplinary "
     "discussion", "inclusion", ["unresectable"]),
    # A finding after an operation, excluded, is no demand that the patient had none.
    ("Post-surgery residual disease more than 1.5cm2 on post-operative imaging.", "exclusion",
     []),
    ("Have had major surgery within 28 days to allow for post-operative healing", "inclusion",
     []),
])
def test_an_operation_on_the_primary_planned_is_disease_that_has_not_spread(text, kind,
                                                                             expected):
    found = [("not " if r.params.get("negated") else "") + r.params["extent"]
             for r in parse_criterion(text, kind) if r.kind == "extent"]
    assert found == expected


@pytest.mark.parametrize("text,planned", [
    ("Patients scheduled for elective breast cancer surgery (Mastectomy)", True),
    # "Undergoing" an operation is an operation ahead ...
    ("Patients undergoing elective breast cancer surgery under general anesthesia", True),
    ("All men undergoing robot assisted laparoscopic radical prostatectomy (RALP).", True),
    # ... unless the treatment after it is named too: a course under way.
    ("Patients undergoing breast conserving surgery and whole breast irradiation", False),
])
def test_a_treatment_of_the_primary_ahead_is_marked_planned(text, planned):
    (extent,) = [r.params for r in parse_criterion(text, "inclusion") if r.kind == "extent"]
    assert bool(extent.get("planned")) is planned


@pytest.mark.parametrize("text,expected", [
    ("Have progressed after ≥ 1, but no more than 3 regimens of systemic therapies for "
     "recurrent / metastatic disease.", (1, 3)),
    ("Participants must have received at least 2 but no more than 5 previous systemic regimens",
     (2, 5)),
    ("At least 1 and up to 3 prior lines of endocrine therapy in the metastatic setting.",
     (1, 3)),
    ("1-3 prior lines", (1, 3)),
])
def test_a_floor_and_a_ceiling_of_lines_are_both_kept(text, expected):
    (lines,) = [r.params for r in parse_criterion(text, "inclusion") if r.kind == "prior_lines"]
    assert (lines["min"], lines["max"]) == expected



@pytest.mark.parametrize("text,expected", [
    # Words describing one disease at once: the narrower decides.
    ("Histologically confirmed unresectable metastatic colorectal cancer", ["metastatic"]),
    ("metastatic unresectable pancreatic adenocarcinoma", ["metastatic"]),
    # Alternatives stay alternatives.
    ("locally advanced, unresectable or metastatic", ["locally_advanced", "unresectable",
                                                      "metastatic"]),
    ("advanced or metastatic solid tumor", ["advanced", "metastatic"]),
])
def test_stacked_extent_words_are_one_disease(text, expected):
    found = [r.params["extent"] for r in parse_criterion(text, "inclusion") if r.kind == "extent"]
    assert found == expected


@pytest.mark.parametrize("title,conditions,any_cancer", [
    # A bare index term beside a title naming the population: the title decides.
    ("Intraoperative Imaging of Pituitary Adenomas by OTL", ["Neoplasms", "Pituitary Neoplasms"],
     False),
    ("Alpelisib in Combination With Fulvestrant for Breast Cancer", ["Breast Cancer", "Cancer"],
     False),
    # A title for cancer in general, or naming a type only to exclude it, keeps it.
    ("A Digital Therapeutic Solution for Cancer Patients", ["Cancer", "Prostate Cancer"], True),
    ("SUV on PSMA PET/CT in Non-Prostate Tumors", ["Cancer"], True),
])
def test_a_registry_index_term_does_not_open_a_specific_trial_to_any_cancer(
        title, conditions, any_cancer):
    from trialmatch.nlp.requirements_cancer import trial_oncotree_codes

    assert ("_ANY" in trial_oncotree_codes(title, conditions, [])) is any_cancer


def test_gene_modified_cells_are_a_cell_therapy():
    text = ("The individual must have received an infusion of gene-modified cells in a "
            "completed Kite-sponsored parent study")
    assert _therapies(text, "inclusion") == [(True, ["cellular therapy"])]


@pytest.mark.parametrize("text,expected", [
    # A cancer type that is an item of its own in a list of exclusions still excludes.
    ("Primary central nervous system (CNS) malignancy, untreated CNS metastases requiring any "
     "anti-tumor treatment, or active CNS metastases", ["BRAIN"]),
    ("primary CNS tumors or symptomatic brain metastases", ["BRAIN"]),
    # A cancer type that qualifies another statement does not.
    ("Known EGFR mutation in NSCLC", []),
    ("Brain metastases from melanoma", []),
    ("NSCLC, EGFR mutation", []),
])
def test_a_cancer_listed_beside_other_exclusions_is_excluded_on_its_own(text, expected):
    found = [code for r in parse_criterion(text, "exclusion") if r.kind == "cancer_type"
             for code in r.params["codes"]]
    assert found == expected


def test_a_secondary_metastatic_brain_tumour_is_no_extent():
    text = ("Patients must be diagnosed with new or recurrent primary brain tumor, a secondary "
            "(metastatic) brain tumor or leptomeningeal disease")
    assert [r for r in parse_criterion(text, "inclusion") if r.kind == "extent"] == []


def test_a_title_line_gives_way_to_the_criteria_bound_on_prior_therapy():
    # "First Line Therapy" where the criteria say "No prior chemotherapy for metastatic
    # breast cancer": endocrine therapy before first-line chemotherapy is allowed.
    def title_lines(criteria):
        trial = TrialText("NCT90000014", "First Line Therapy for Patients With Metastatic "
                          "Breast Cancer", [], [], criteria)
        return [r.params for c in annotate_trial(trial).criteria
                if c.text.startswith("From the title: ") for r in c.requirements
                if r.kind == "prior_lines"]

    assert title_lines("Inclusion Criteria:\n* No prior chemotherapy for metastatic breast "
                       "cancer") == []
    assert title_lines("Inclusion Criteria:\n* Age >= 18") == [{"min": None, "max": 0}]
    # a bar on one class is no bound on lines
    assert title_lines("Exclusion Criteria:\n* Prior anti-PD-1 therapy") == [
        {"min": None, "max": 0}]


@pytest.mark.parametrize("title,expected", [
    ("A Phase II Study of SSGJ-707 Monotherapy in First-line PD-L1 Positive Advanced NSCLC",
     (None, 0)),
    ("Iparomlimab Plus Paclitaxel in Second-line Treatment of Advanced Gastric Cancer", (1, 1)),
    ("Drug X in Third-line or Later Metastatic Colorectal Cancer", (2, None)),
    # A line the disease progressed on is that many lines at least; maintenance and
    # adjuvant lines say nothing of the line now.
    ("Drug X After Progression on First-line Chemotherapy", (1, None)),
    ("Drug X as First-line Maintenance in Ovarian Cancer", None),
    ("ctDNA-guided Second Line Adjuvant Therapy for ER+ Breast Cancer", None),
    # the first line of chemotherapy: endocrine or targeted lines may come before it
    ("A Taxane and Bevacizumab as First Line Chemotherapy in Metastatic Breast Cancer", None),
])
def test_the_line_a_title_names_is_required(title, expected):
    trial = TrialText("NCT90000013", title, [], [], "Inclusion Criteria:\n* Age >= 18")
    lines = [(r.params["min"], r.params["max"]) for c in annotate_trial(trial).criteria
             if c.text.startswith("From the title: ") for r in c.requirements
             if r.kind == "prior_lines"]
    assert lines == ([expected] if expected else [])


@pytest.mark.parametrize("text", [
    "No clinical, radiographic, or pathologic evidence of nodal or distant metastatic disease",
    "No clinical or radiographic evidence of recurrent or metastatic disease",
])
def test_no_evidence_of_reaches_every_alternative_after_it(text):
    found = [r.params for r in parse_criterion(text, "inclusion") if r.kind == "extent"]
    assert found and all(p.get("negated") for p in found)


@pytest.mark.parametrize("text,expected", [
    ("Localized prostate cancer", [("metastatic", True)]),
    ("Clinically organ confined disease (cT1-cT2),", [("metastatic", True)]),
    # Beyond the organ, another cancer's exception, or not about the disease: nothing.
    ("Non-organ confined disease", []),
    ("No other concurrent or prior malignancy within past 5 years except localized basal cell "
     "or squamous cell skin cancer", []),
    ("Tumor must be localized by exam or ultrasound to allow tumor injection", []),
])
def test_localized_disease_is_not_metastatic(text, expected):
    found = [(r.params["extent"], r.params.get("negated", False))
             for r in parse_criterion(text, "inclusion") if r.kind == "extent"]
    assert found == expected


@pytest.mark.parametrize("text, exception", [
    ("Have previously received systemic anti-tumor treatment other than EGFR-TKI for "
     "advanced non-squamous NSCLC.", {"drugs": [], "classes": ["EGFR TKI"], "adjuvant": True}),
    ("Prior treatment with checkpoint inhibitors, other than durvalumab or pembrolizumab",
     {"drugs": ["durvalumab", "pembrolizumab"], "classes": [], "adjuvant": False}),
    # the setting is the exception, not the class named again with it; what follows the
    # parenthesis is no exception
    ("Prior treatment with chemotherapy (except for (neo)adjuvant chemotherapy), fulvestrant.",
     {"drugs": [], "classes": [], "adjuvant": True}),
])
def test_what_a_therapy_exclusion_excepts(text, exception):
    found = [r for r in parse_criterion(text, "exclusion")
             if r.kind in ("prior_therapy", "prior_lines")]
    assert found and found[0].params["except"] == exception


@pytest.mark.parametrize("text", [
    "Previous treatment with a minimum of 4 cycles of neoadjuvant anthracycline and/or taxane "
    "containing chemotherapy (+trastuzumab in HER2-positive patients).",
    "Normal LVEF as measured by echocardiography or MUGA scan in patients to receive "
    "trastuzumab with eribulin (HER2-positive).",
])
def test_a_biomarker_in_a_rule_for_some_patients_is_no_requirement(text):
    assert not [r for r in parse_criterion(text, "inclusion") if r.kind == "biomarker"]


@pytest.mark.parametrize("text, expected", [
    # HER2-expressing: HER2-positive or IHC 1+/2+ (HER2-low), not HER2-positive only
    ("Rare tumors: patients with tumors that express HER2",
     [("positive", None, None), ("negative", 1, 2)]),
    ("Metastatic HER2-expressing biliary tract cancer", [("positive", None, None),
                                                         ("negative", 1, 2)]),
    ("HER2 overexpression", [("positive", None, None)]),
    ("HER2 expression is negative.", None),  # not read as expressing
])
def test_her2_expressing_is_ihc_1_plus_or_more(text, expected):
    found = [r for r in parse_criterion(text, "inclusion") if r.kind == "biomarker"]
    items = [(i["status"], i.get("min_value"), i.get("max_value"))
             for r in found for i in r.params["any_of"]]
    if expected is None:
        assert ("negative", 1, 2) not in items
    else:
        assert items == expected


@pytest.mark.parametrize("title, expected", [
    # a title's negative results are requirements too ("HR+/HER2-", "pMMR/MSS", TNBC)
    ("Palbociclib Plus Fulvestrant for Pretreated Patients With ER+/HER2- Metastatic Breast "
     "Cancer", {("ER", "positive"), ("HER2", "negative")}),
    # "With or Without <drug>" negates nothing after it
    ("Osimertinib With or Without HRZ-4410 in Untreated EGFR-Mutant Advanced NSCLC",
     {("EGFR", "positive")}),
    # a marker named both ways is the study's question, not a requirement
    ("Trastuzumab to Induce ER Expression in ER-Negative/Low, HER2 Positive Breast Cancer",
     {("HER2", "positive")}),
])
def test_the_title_states_its_biomarker_population(title, expected):
    trial = TrialText("NCT90000013", title, [], [], "Inclusion Criteria:\n* Age >= 18")
    found = {(i["marker"], i["status"]) for c in annotate_trial(trial).criteria
             if c.text.startswith("From the title: ") for r in c.requirements
             if r.kind == "biomarker" for i in r.params["any_of"]}
    assert found == expected


@pytest.mark.parametrize("title,expected", [
    # a study treatment before the operation: disease surgery can still remove, not yet
    # operated on (planned: a resected primary is past it)
    ("Carboplatin+Nab-paclitaxel, Plus Trastuzumab (HER2+) or Bevacizumab (HER2-) in the "
     "Neoadjuvant Setting", [{"extent": "metastatic", "negated": True, "planned": True}]),
    ("Pre Operative Trastuzumab in Operable Breast Cancer",
     [{"extent": "metastatic", "negated": True, "planned": True}]),
    # ... unless the title names spread, or the operation is any operation
    ("Neoadjuvant Chemotherapy for Resectable Colorectal Liver Metastases", []),
    ("CARINAE for Stress Relief in Perioperative Care", []),
])
def test_a_treatment_before_surgery_is_for_disease_not_yet_spread(title, expected):
    trial = TrialText("NCT90000013", title, [], [], "Inclusion Criteria:\n* Age >= 18")
    found = [r.params for c in annotate_trial(trial).criteria
             if c.text.startswith("From the title: ") for r in c.requirements
             if r.kind == "extent"]
    assert found == expected


def test_the_official_titles_neoadjuvant_counts_when_the_brief_title_is_silent():
    trial = TrialText("NCT90000014", "Goserelin and Letrozole in Premenopausal Patients With "
                      "Stage II-III Breast Cancer", [], [],
                      "Inclusion Criteria:\n* Patient must have T2-T4c, any N, M0 breast cancer",
                      official_title="A Phase 2 Study of Neoadjuvant Goserelin and a "
                      "Non-steroidal Aromatase Inhibitor for Premenopausal Women")
    found = [r.params for c in annotate_trial(trial).criteria
             if c.text.startswith("From the official title: ") for r in c.requirements
             if r.kind == "extent"]
    assert found == [{"extent": "metastatic", "negated": True, "planned": True}]


@pytest.mark.parametrize("text,metastatic", [
    ("Histologically confirmed operable primary breast cancer", [True]),
    ("Previously untreated resectable stage IB-IIIA NSCLC", [True]),
    # not where resection is of the metastases, or either way
    ("Resectable colorectal liver metastases", []),
    ("Resectable or unresectable NSCLC", []),
])
def test_operable_disease_is_not_metastatic(text, metastatic):
    from trialmatch.nlp.requirements import parse_criterion

    found = [r.params.get("negated", False) for r in parse_criterion(text, "inclusion")
             if r.kind == "extent" and r.params.get("extent") == "metastatic"]
    assert found == metastatic


def test_an_exclusion_lead_in_to_a_list_of_therapies_excludes_nobody_itself():
    # The items under it say which therapy excludes; "have received anti-tumor therapy"
    # alone would exclude every treated patient.
    text = ("Exclusion Criteria:\n"
            "* Patients who have received anti-tumor therapy before infusion should be "
            "excluded if any of the following conditions are met:\n"
            "  * Systemic chemotherapy within 1 week;\n"
            "  * Received donor lymphocyte infusion within 6 weeks;\n")
    trial = TrialText("NCT90000014", "CAR-T for Relapsed AML", [], [], text)
    kinds = [r.kind for c in annotate_trial(trial).criteria if c.kind == "exclusion"
             for r in c.requirements]
    assert "prior_lines" not in kinds


@pytest.mark.parametrize("phases,beyond_cure", [(("PHASE1",), True), (("PHASE2",), None),
                                                (("PHASE1", "PHASE2"), None)])
def test_a_phase_one_trial_s_locally_advanced_disease_is_beyond_cure(phases, beyond_cure):
    trial = TrialText("NCT90000015", "ROSE12 in Solid Tumors", ["Solid Tumor"], [],
                      "Inclusion Criteria:\n* Locally advanced or metastatic solid tumor",
                      phases=phases)
    found = [r.params for c in annotate_trial(trial).criteria for r in c.requirements
             if r.kind == "extent" and r.params.get("extent") == "locally_advanced"]
    assert [p.get("beyond_cure") for p in found] == [beyond_cure]


@pytest.mark.parametrize("text,expected", [
    # Cancers outside a scope are further alternatives ...
    ("Histologically confirmed solid tumor, Hodgkin's lymphoma, aggressive or indolent "
     "non-Hodgkin's lymphoma.", [("solid", []), ("codes", ["HL", "NHL"])]),
    ("Advanced solid tumor or lymphoma", [("solid", []), ("codes", ["LNM"])]),
    # ... inside it, examples of it; in a note in brackets, not the population.
    ("Advanced solid tumors, including breast and lung cancer", [("solid", [])]),
    ("Solid tumor (patients with lymphoma or myeloma are excluded)", [("solid", [])]),
    # A gene named after a disease names no disease.
    ("NSCLC that demonstrates anaplastic lymphoma kinase (ALK) positivity",
     [("codes", ["NSCLC"])]),
    ("Myeloma-protein (M-protein) >= 0.5 g/dL by serum protein electrophoresis", []),
    ("CLL/SLL relapsed after a B-cell lymphoma 2 inhibitor (BCL2i)", [("codes", ["CLLSLL"])]),
    ("Relapsed B-cell lymphoma 2 years after transplant", [("codes", ["MBN"])]),
])
def test_cancer_types_beside_a_scope_and_inside_gene_names(text, expected):
    found = [(r.params["scope"], r.params["codes"]) for r in parse_criterion(text, "inclusion")
             if r.kind == "cancer_type"]
    assert found == expected


@pytest.mark.parametrize("text", [
    "There is no restriction on the number of prior non-myelosuppressive targeted therapies "
    "or hormonal agents",
    "There is no restriction on prior immunotherapy or targeted therapy unless combined "
    "together with a cytotoxic agent",
    "No limitations to prior MDS/AML therapy including HMA (azacitidine or decitabine).",
])
def test_no_restriction_on_prior_therapy_requires_nothing(text):
    assert not [r for r in parse_criterion(text, "inclusion") if r.kind == "prior_therapy"]


@pytest.mark.parametrize("text,markers", [
    ("metastatic solid tumors with documented RAS or RAF mutations or alterations",
     {"KRAS", "NRAS", "RAF"}),
    ("MAPK mutant (presence of RAS/RAF/MEK/ERK mutations) solid tumors",
     {"MAPK", "KRAS", "NRAS", "RAF", "MEK"}),
    ("Cancer that has a known MEK1/2 mutation", {"MEK"}),
])
def test_gene_families_of_the_mapk_pathway(text, markers):
    found = {item["marker"] for r in parse_criterion(text, "inclusion") if r.kind == "biomarker"
             for item in r.params["any_of"]}
    assert found == markers


@pytest.mark.parametrize("text,kind", [
    ("Must be fit for anthracycline/taxane-containing chemotherapy", "inclusion"),
    ("Any disease burden that made the patient ineligible for endocrine therapy per the "
     "investigator's best judgment.", "exclusion"),
    ("Patients for whom endocrine therapy is recommended and treatment with cytotoxic "
     "chemotherapy is not indicated", "inclusion"),
    ("AML ineligible for treatment with a standard chemotherapy due to age", "inclusion"),
])
def test_a_treatment_planned_or_fit_for_is_no_treatment_history(text, kind):
    assert not [r for r in parse_criterion(text, kind) if r.kind == "prior_therapy"]


def test_a_treatment_intolerance_or_progression_is_still_history():
    found = [r.params for r in parse_criterion(
        "Must have progressed or been intolerant to prior gemcitabine-based chemotherapy",
        "inclusion") if r.kind == "prior_therapy"]
    assert found and all(p["received"] for p in found)


@pytest.mark.parametrize("text,expected", [
    ("Stages 1 and 2: Measurable disease (at least one target lesion) according to RECIST",
     []),
    ("Stage 2: Adequate hematologic and end-organ function", []),
    ("Stage IV breast cancer", ["IV"]),
    ("Patients with stage 4 disease", ["IV"]),
])
def test_a_studys_stage_label_is_no_disease_stage(text, expected):
    found = [g for r in parse_criterion(text, "inclusion") if r.kind == "stage"
             for g in r.params["groups"] if g in ("I", "II", "III", "IV")]
    assert found == expected


@pytest.mark.parametrize("text,markers", [
    ("Genetic testing must have been performed for targetable driver mutations, including "
     "EGFR, ROS1, Alk, KRAS, BRAF", []),
    ("Tissue for centralized confirmation of HR status, HER2 status, Ki-67", []),
    ("Tissue for determination of HER2 status, and ER positive", ["ER"]),
])
def test_genes_listed_as_tested_require_no_result(text, markers):
    assert [i["marker"] for r in parse_criterion(text, "inclusion") if r.kind == "biomarker"
            for i in r.params["any_of"]] == markers


def test_a_regimen_that_might_be_considered_is_another_door_than_failed_standard_therapy():
    text = ("Advanced solid tumor for which standard curative or palliative measures do not "
            "exist or are no longer effective, or for whom regimens containing gemcitabine, "
            "cisplatin, etoposide, and/or irinotecan might be considered")
    (lines,) = [r for r in parse_criterion(text, "inclusion") if r.kind == "prior_lines"]
    assert lines.params["or_regimen"] == "gemcitabine, cisplatin, etoposide, and/or irinotecan"


def test_a_drug_the_tumour_may_respond_to_is_another_door_than_failed_standard_therapy():
    text = ("Histologically confirmed advanced solid tumor that is potentially responsive to "
            "erlotinib or for which no effective standard therapy is available")
    (lines,) = [r for r in parse_criterion(text, "inclusion") if r.kind == "prior_lines"]
    assert lines.params["or_regimen"] == "erlotinib"


@pytest.mark.parametrize("text, codes", [
    # an example of a therapy names no population
    ("Prior targeted therapies (e.g., EGFR-targeted therapy for lung cancer) are allowed in "
     "metastatic colorectal cancer", ["COADREAD"]),
    # an example of the tumours named before it does
    ("Advanced GI tumors (e.g., pancreatic cancer, colorectal cancer)", ["PANCREAS", "COADREAD"]),
])
def test_a_cancer_named_as_a_therapys_example_is_not_the_population(text, codes):
    found = [c.upper() for r in parse_criterion(text, "inclusion") if r.kind == "cancer_type"
             for c in r.params["codes"]]
    assert found == codes


@pytest.mark.parametrize("lead, items", [
    ("Patient is postmenopausal. Postmenopausal status is defined either by:",
     ["Prior bilateral oophorectomy", "Age ≥60", "Age <60 and amenorrhea for 12 months"]),
    ("Women are considered non-childbearing (by other than medical reasons) if they:",
     ["are ≥45 years of age and without menses for >1 year"]),
])
def test_the_items_defining_a_reproductive_status_ask_nothing_of_every_patient(lead, items):
    text = "Inclusion Criteria:\n\n* " + lead + "\n\n" + "".join(f"  * {i}\n" for i in items)
    trial = TrialText("NCT00000000", "A trial", [], [], text, None, None, None)
    found = {c.text: [r.kind for r in c.requirements] for c in annotate_trial(trial).criteria}
    assert all(found[i] == [] for i in items)


def test_a_reproductive_lead_in_that_defines_nothing_keeps_its_items():
    text = ("Inclusion Criteria:\n\n* Women of childbearing potential must:\n\n"
            "  * Have a negative serum pregnancy test within 7 days before treatment\n")
    trial = TrialText("NCT00000000", "A trial", [], [], text, None, None, None)
    (item,) = [c for c in annotate_trial(trial).criteria if c.text.startswith("Have")]
    assert [r.kind for r in item.requirements] == ["pregnancy"]


@pytest.mark.parametrize("text", [
    "Solid tumor from the following list, that is metastatic/advanced, and for which no "
    "curative therapy exists",
    "Metastatic or advanced disease",
])
def test_advanced_after_metastatic_is_its_alternative(text):
    extents = [r.params["extent"] for r in parse_criterion(text, "inclusion")
               if r.kind == "extent"]
    assert extents == ["metastatic", "advanced"]


@pytest.mark.parametrize("text, ages", [
    # whom a test is for, not who may enrol
    ("Patients 60 years of age or older are required to have left ventricular ejection "
     "fraction (LVEF) evaluation performed within 60 days prior to enrollment.", []),
    ("Patients 70 years or older must have a geriatric assessment", []),
    ("Patients 18 years of age or older are eligible", [18]),
])
def test_an_age_naming_whom_a_test_is_for_is_no_age_limit(text, ages):
    assert [r.params["min"] for r in parse_criterion(text, "inclusion") if r.kind == "age"] == ages


@pytest.mark.parametrize("text, kept", [
    # either result of one marker: no result required
    ("Breast cancer determined to be hormone receptor-positive or hormone receptor-negative",
     []),
    ("HER2-positive or HER2-negative breast cancer", []),
    ("KRAS mutant or wild-type colorectal cancer", []),
    ("FLT3 mutation and/or wild-type", []),
    ("PR positive or negative tumors", []),
    ("Tumour cells can be ER-positive and/or PgR-positive or ER-negative/PgR-negative", []),
    # different markers, or one result, still required
    ("ER-positive, HER2-negative breast cancer", [["ER"], ["HER2"]]),
    ("EGFR mutation or ALK rearrangement", [["EGFR", "ALK"]]),
])
def test_a_marker_taken_with_either_result_requires_none(text, kept):
    found = [[i["marker"] for i in r.params["any_of"]]
             for r in parse_criterion(text, "inclusion") if r.kind == "biomarker"]
    assert found == kept


def test_the_items_defining_each_result_a_trial_takes_require_none():
    text = ("Inclusion Criteria:\n\n* Breast cancer determined to be hormone receptor-positive "
            "or hormone receptor-negative defined as follows:\n\n"
            "  * Hormone receptor-positive: >= 10% staining by IHC for either ER or PgR\n"
            "  * Hormone receptor-negative: < 10% staining by IHC for both ER and PgR\n")
    trial = TrialText("NCT00000000", "A trial", [], [], text, None, None, None)
    assert not [r for c in annotate_trial(trial).criteria for r in c.requirements
                if r.kind == "biomarker"]


def test_a_marker_naming_a_guideline_restates_the_result():
    text = ("Breast cancer determined to be HER2-negative per current ASCO/CAP human epidermal "
            "growth factor receptor 2 (HER2) Guidelines (If IHC was performed, IHC 0 or 1+; if "
            "FISH, ratio < 2.0)")
    found = [i for r in parse_criterion(text, "inclusion") if r.kind == "biomarker"
             for i in r.params["any_of"]]
    assert [(i["marker"], i["status"], i["unit"]) for i in found] == [("HER2", "negative", None)]


@pytest.mark.parametrize("text, drugs", [
    ("Arm 1: solid tumors that are advanced that gemcitabine-based treatment is considered a "
     "clinically appropriate option", ["gemcitabine"]),
    ("Arm 3: solid tumors that are advanced that gemcitabine plus cisplatin treatment is "
     "considered a clinically appropriate option", ["cisplatin", "gemcitabine"]),
    ("Gemcitabine-based treatment is not considered appropriate", None),
])
def test_a_regimen_that_must_suit_the_cancer(text, drugs):
    found = [r.params["drugs"] for r in parse_criterion(text, "inclusion")
             if r.kind == "regimen_option"]
    assert found == ([drugs] if drugs else [])
    assert not [r for r in parse_criterion(text, "exclusion") if r.kind == "regimen_option"]


def _screening_trial(title, criteria_text, purpose="SCREENING"):
    return TrialText("NCT00000000", title, ["Colorectal Cancer"], [], criteria_text, None, None,
                     None, primary_purpose=purpose)


def test_a_screening_study_of_a_cancer_is_for_people_without_it():
    trial = _screening_trial("A Multi-Channel Intervention to Promote Colorectal Cancer Screening",
                             "Inclusion Criteria:\n* Age 45-75\n")
    found = [r.params for c in annotate_trial(trial).criteria if c.kind == "inclusion"
             for r in c.requirements if r.kind == "cancer_type"]
    assert found == [{"codes": ["COADREAD"], "scope": "codes", "except": [], "negated": True}]


@pytest.mark.parametrize("title, text, purpose", [
    # survivors: the criteria ask for the diagnosis
    ("Letrozole in Preventing Colorectal Cancer Recurrence",
     "Inclusion Criteria:\n* Resected colorectal cancer\n", "PREVENTION"),
    # a treatment study says nothing of the sort
    ("FOLFOX to Prevent Progression of Colorectal Cancer", "Inclusion Criteria:\n* Age 18\n",
     "TREATMENT"),
])
def test_a_study_of_the_diagnosed_is_not_read_as_screening(title, text, purpose):
    found = [r.params for c in annotate_trial(_screening_trial(title, text, purpose)).criteria
             for r in c.requirements if r.kind == "cancer_type" and r.params.get("negated")]
    assert found == []


def test_a_cancer_named_by_a_scoring_method_is_not_the_population():
    text = ("HER2 expression scored using current ASCO/CAP guidelines for scoring HER2 for "
            "gastric cancer.")
    assert not [r for r in parse_criterion(text, "inclusion")
                if r.kind in ("cancer_type", "primary_site", "histology")]


@pytest.mark.parametrize("text, any_prior", [
    ("Progressed following prior treatment or who have no satisfactory alternative treatment "
     "option.", True),
    ("Progressed on or after standard therapy or for which no standard therapy exists", None),
])
def test_progression_after_any_prior_treatment_is_not_only_standard_therapys(text, any_prior):
    (lines,) = [r for r in parse_criterion(text, "inclusion") if r.kind == "prior_lines"]
    assert lines.params.get("beyond_standard") is True
    assert lines.params.get("any_prior") is any_prior


@pytest.mark.parametrize("text, kind, classes", [
    # a therapy the patient "did not" have: the same history as "has not received"
    ("Patients did not undergo surgery as initial treatment;", "exclusion", ["surgery"]),
    ("Patients who did not receive prior chemotherapy", "inclusion", ["chemotherapy"]),
])
def test_a_therapy_the_patient_did_not_have_is_history(text, kind, classes):
    found = [(r.params["received"], r.params["classes"]) for r in parse_criterion(text, kind)
             if r.kind == "prior_therapy"]
    assert found == [(False, classes)]


def test_recists_kinds_of_lesion_are_no_requirement():
    # "Lesions that are considered non-measurable include the following:" + "Leptomeningeal
    # disease": a definition, not a trial for patients with leptomeningeal disease.
    from trialmatch.nlp.requirements import parse_in_context

    lead = ("Patients must have measurable or non-measurable disease\n"
            "Lesions that are considered non-measurable include the following:")
    assert parse_in_context("Leptomeningeal disease", "inclusion", lead, 0) == []


@pytest.mark.parametrize("text", [
    "Any malignancy within 5 years prior to randomization, with the exception of adequately "
    "treated in-situ carcinoma of the cervix uteri, basal or squamous cell carcinoma",
    "Diagnosis of any malignancy within 5 years prior to randomization, except cured cervical "
    "carcinoma in situ, basal cell carcinoma, or squamous cell carcinoma of the skin;",
])
def test_any_malignancy_within_years_is_another_malignancy(text):
    # Not "any cancer" (which excluded every patient, the study's own cancer included).
    found = [(r.kind, r.params) for r in parse_criterion(text, "exclusion")
             if r.kind in ("other_malignancy", "cancer_type")]
    assert found == [("other_malignancy", {"within_years": 5})]


@pytest.mark.parametrize("text,kind,codes", [
    # an exclusion of the trial's own disease when bilateral says how many tumours, not which
    ("Synchronous bilateral invasive breast cancer", "exclusion", []),
    ("Bilateral invasive breast cancer or synchronous DCIS in contralateral breast",
     "exclusion", []),
    ("Patients with bilateral breast cancer or inflammatory breast cancer.", "exclusion",
     ["IBC"]),
    # an inclusion keeps its disease
    ("Histologically confirmed unilateral or bilateral primary invasive breast cancer",
     "inclusion", ["BRCA"]),
])
def test_laterality_in_an_exclusion_is_no_cancer_type(text, kind, codes):
    found = [c for r in parse_criterion(text, kind) if r.kind == "cancer_type"
             for c in r.params["codes"]]
    assert found == codes


def test_an_extent_the_criterion_defines_itself_is_marked():
    text = ("Locally advanced breast cancer defined as any of the following per American Joint "
            "Committee on Cancer (AJCC) Staging Criteria:")
    assert [p.get("defined") for p in _kind(text, "inclusion", "extent")] == [True]
    assert [p.get("defined") for p in _kind("Locally advanced breast cancer", "inclusion",
                                            "extent")] == [None]


def test_a_title_treatment_before_surgery_is_for_a_primary_still_in_place():
    from trialmatch.models import TrialText
    from trialmatch.nlp.criteria import annotate_trial

    def title_extents(title):
        trial = TrialText(nct_id="NCT00000001", title=title, conditions=["Breast Cancer"],
                          keywords=[],
                          criteria_text="Inclusion Criteria:\n* Non-metastatic disease")
        return [r.params for c in annotate_trial(trial).criteria
                if c.text.startswith("From the title") for r in c.requirements
                if r.kind == "extent"]
    # the criteria state an extent; the title still says the surgery lies ahead
    assert {"extent": "metastatic", "negated": True, "planned": True} in title_extents(
        "Carboplatin Plus Trastuzumab in the Neoadjuvant Setting")
    # not a study for patients after it
    assert title_extents("Eribulin in Patients Without pCR Following Neoadjuvant "
                         "Chemotherapy") == []


@pytest.mark.parametrize("text,kind,params", [
    ("Gleason score ≤ 7", "inclusion", {"max_group": 3}),
    ("Gleason score of 6 or less or 7 (3+4) *", "inclusion", {"max_group": 2}),
    ("Gleason grade of 3+4 or 3+3", "inclusion", {"max_group": 2, "patterns": ["3+4", "3+3"]}),
    ("Gleason score ≥ 7 (3+4 and/or 4+3) and/or", "inclusion", {"min_group": 2}),
    ("No biopsy Gleason grade 4 or 5", "inclusion", {"max_group": 1}),
    ("Grade Group 1 or 2", "inclusion", {"max_group": 2}),
    ("Primary Gleason pattern 5 (Gleason score 5+4 or 5+5)", "exclusion",
     {"min_group": 5, "patterns": ["5+4", "5+5"]}),
    # one of several risk factors: the others may hold
    ("High-risk prostate cancer (T3a or Gleason score 8-10 or PSA >20 µg/L)", "inclusion",
     {"min_group": 4, "or_other": True}),
    # a subgroup's rule, and a finding a definition qualifies, are no bound
    ("If Gleason score is 7(3+4) patient must have less than 30% of biopsied tissue positive",
     "inclusion", None),
    ("Discordance between MRI and biopsy, defined as biopsy cores with Gleason ≥ 4+3 with no "
     "corresponding tumour focus seen on MRI", "exclusion", None),
])
def test_gleason_bounds_as_grade_groups(text, kind, params):
    found = [r.params for r in parse_criterion(text, kind) if r.kind == "gleason"]
    assert found == ([params] if params else [])


def test_a_recurrent_locally_advanced_disease_is_both():
    found = [r.params for r in parse_criterion(
        "Histologically confirmed recurrent locally advanced (unresectable) or metastatic solid "
        "tumors with documented RAS or RAF mutations.", "inclusion") if r.kind == "extent"]
    assert found == [{"extent": "unresectable", "recurrent": True}, {"extent": "metastatic"}]


def test_the_cancers_a_measuring_rule_is_for_are_no_population():
    kinds = {r.kind for r in parse_criterion(
        "Evidence of measurable disease per RECIST, v1.1 for solid tumors and per Lugano "
        "Criteria for Lymphoma. For malignant lymphomas, measurable disease is defined as a "
        "lesion of at least 15 mm. AML/MDS patients are per WHO 2016 criterion.", "inclusion")}
    assert kinds == {"measurable_disease"}


@pytest.mark.parametrize("criterion_kind,text,expected", [
    ("exclusion", "PR  > 220 msec", []),  # the ECG's PR interval
    ("inclusion", "Known hormone receptor status (estrogen receptor and/or progesterone "
                  "receptor)", []),
    ("inclusion", "Confirmed HR+ or HR- status.", []),
    ("inclusion", "Patients with HER2-enriched, estrogen and/or progesterone receptor-positive "
                  "or -negative breast cancer", []),
    ("inclusion", "Her-2 non-over expressing tumor confirmed by IHC/FISH",
     [[("HER2", "negative", [], [])]]),
    ("exclusion", "Patients with multicentric breast cancer, unless all tumors are "
                  "HER2-positive", []),
    ("inclusion", "Patients with known HR-ve status (ER-negative and PR-negative)",
     [[("ER", "negative", [], [])], [("PR", "negative", [], [])]]),
])
def test_marker_words_that_ask_no_result(criterion_kind, text, expected):
    assert _markers(text, criterion_kind) == expected


def test_a_menopausal_state_excluded_is_not_a_sex():
    assert not [r for r in parse_criterion("Postmenopausal women", "exclusion")
                if r.kind == "sex"]


def test_therapy_aimed_at_one_variant_is_narrower_than_its_class():
    assert not [r for r in parse_criterion("Prior treatment with KRAS G12D targeted therapy.",
                                           "exclusion") if r.kind == "prior_therapy"]


def test_hgvs_protein_notation_names_the_variant():
    found = _markers("Patients with the KRAS p.G12C mutation confirmed through testing")
    assert found == [[("KRAS", "positive", ["G12C"], [])]]


def test_prior_to_enrolment_names_no_other_cancer():
    kinds = {r.kind: r.params for r in parse_criterion(
        "Histologically confirmed invasive lobular breast cancer, clinical stages I-III. "
        "Invasive lobular histology will be confirmed by central pathology review, but this "
        "central review will not be required prior to patient enrollment.", "inclusion")}
    assert "other_malignancy" not in kinds and kinds["cancer_type"]["codes"] == ["ILC"]


def test_cancers_given_as_examples_of_an_imaging_record_are_no_population():
    kinds = {r.kind for r in parse_criterion(
        "Documentation of mammogram and ultrasound (including ductal carcinoma in situ (DCIS) "
        "and invasive cancer) of the diseased breast performed within 56 days", "inclusion")}
    assert "cancer_type" not in kinds


def test_a_local_recurrence_named_as_a_noun_is_recurrent_disease():
    found = [r.params for r in parse_criterion("Ipsilateral recurrence, unifocal < 3 cm with "
                                               "negative margins", "inclusion")
             if r.kind == "extent"]
    assert found == [{"extent": "recurrent"}]
