"""Table-driven tests of `parse_criterion`: one criterion in, the requirements it states out,
for every requirement kind (params compared on the keys given)."""

import pytest

from trialmatch.nlp.requirements import merge_alternatives, parse_criterion, parse_in_context


def _matching(requirements, kind, expected):
    """The requirements of `kind` whose params contain every expected key/value."""
    return [r for r in requirements if r.kind == kind
            and all(r.params.get(k) == v for k, v in expected.items())]


CASES = [
    # (criterion kind, text, requirement kind, expected params subset)
    ("inclusion", "Histologically confirmed non-small cell lung cancer", "cancer_type",
     {"codes": ["NSCLC"], "scope": "codes"}),
    ("inclusion", "Advanced solid tumors except prostate cancer", "cancer_type",
     {"scope": "solid", "except": ["PROSTATE"]}),
    ("inclusion", "Any hematologic malignancy", "cancer_type", {"scope": "heme"}),
    # a plural must not make the phrase gate skip the scan
    ("inclusion", "Patients with melanomas", "cancer_type", {"codes": ["MEL"]}),
    ("exclusion", "Has diagnosed as thymomas", "cancer_type", {"codes": ["THYM"]}),
    ("inclusion", "Histologically confirmed invasive breast cancers", "cancer_type",
     {"codes": ["BRCA"]}),
    # nor a phrase holding punctuation ("Ph+", "t(9;22)")
    ("exclusion", "AML associated with t(9;22) or molecular evidence of such a translocation",
     "biomarker", {"any_of": [{"marker": "BCR-ABL1", "alterations": ["fusion"],
                               "status": "positive", "min_value": None, "max_value": None,
                               "unit": None, "germline": None}]}),
    ("inclusion", "Histologically confirmed squamous cell carcinoma", "histology",
     {"histologies": ["squamous cell carcinoma"]}),
    ("inclusion", "Non-squamous histology", "histology", {"histologies": ["non-squamous"]}),
    ("inclusion", "Stage IIIB-IV disease", "stage",
     {"groups": ["IIIB", "IIIC", "IIIC1", "IIIC2", "IV", "IVA", "IVB", "IVC"]}),
    ("inclusion", "AJCC stage III or IV", "stage",
     {"groups": ["III", "IIIA", "IIIB", "IIIC", "IIIC1", "IIIC2", "IV", "IVA", "IVB", "IVC"]}),
    ("inclusion", "Stage 4 disease", "stage", {"groups": ["IV", "IVA", "IVB", "IVC"]}),
    ("inclusion", "Metastatic disease", "extent", {"extent": "metastatic"}),
    ("inclusion", "Locally advanced disease not amenable to curative surgery", "extent",
     {"extent": "locally_advanced"}),
    ("inclusion", "Unresectable disease", "extent", {"extent": "unresectable"}),
    ("inclusion", "Recurrent glioblastoma", "extent", {"extent": "recurrent"}),
    ("inclusion", "Completely resected stage II-IIIA NSCLC", "extent", {"extent": "resected"}),
    ("inclusion", "Early-stage breast cancer", "extent", {"extent": "early_stage"}),
    ("inclusion", "Advanced cancer with no standard therapy", "extent", {"extent": "advanced"}),
    ("inclusion", "No distant metastases", "extent", {"extent": "metastatic", "negated": True}),
    ("inclusion", "Measurable disease per RECIST v1.1", "measurable_disease",
     {"standard": "RECIST 1.1"}),
    ("inclusion", "At least one measurable lesion", "measurable_disease", {"standard": None}),
    ("inclusion", "EGFR exon 19 deletion or L858R mutation", "biomarker",
     {"any_of": [{"marker": "EGFR", "alterations": ["exon 19 deletion", "L858R"],
                  "status": "positive", "min_value": None, "max_value": None, "unit": None,
                  "germline": None}]}),
    ("inclusion", "PD-L1 TPS ≥ 50%", "biomarker",
     {"any_of": [{"marker": "PD-L1", "alterations": [], "status": "positive",
                  "min_value": 50.0, "max_value": None, "unit": "TPS", "germline": None}]}),
    ("inclusion", "Wild-type KRAS", "biomarker",
     {"any_of": [{"marker": "KRAS", "alterations": [], "status": "negative", "min_value": None,
                  "max_value": None, "unit": None, "germline": None}]}),
    ("inclusion", "Age ≥ 18 years", "age", {"min": 18, "max": None}),
    ("inclusion", "Aged 18 to 75 years", "age", {"min": 18, "max": 75}),
    ("inclusion", "18 years of age or older", "age", {"min": 18, "max": None}),
    ("inclusion", "Age: 2-25", "age", {"min": 2, "max": 25}),
    ("exclusion", "Age less than 18 years old", "age", {"min": None, "max": 18}),
    ("inclusion", "Female patients aged 18 or older", "sex", {"sex": "female"}),
    ("inclusion", "Men with metastatic prostate cancer", "sex", {"sex": "male"}),
    ("inclusion", "ECOG performance status 0-1", "performance_status",
     {"scale": "ECOG", "min": 0, "max": 1}),
    ("inclusion", "ECOG ≤ 2", "performance_status", {"scale": "ECOG", "min": 0, "max": 2}),
    ("inclusion", "Karnofsky performance status ≥ 70", "performance_status",
     {"scale": "KPS", "min": 70, "max": None}),
    ("inclusion", "WHO performance status of 0 or 1", "performance_status",
     {"scale": "ECOG", "min": 0, "max": 1}),
    ("inclusion", "No prior immune checkpoint inhibitor", "prior_therapy",
     {"received": False, "classes": ["immune checkpoint inhibitor"]}),
    ("exclusion", "Prior treatment with a PD-1 inhibitor", "prior_therapy",
     {"received": True, "classes": ["PD-1 inhibitor"]}),
    ("inclusion", "Progression on prior osimertinib", "prior_therapy",
     {"received": True, "drugs": ["osimertinib"]}),
    ("inclusion", "At least one prior platinum-based regimen", "prior_therapy",
     {"received": True, "classes": ["platinum"]}),
    ("inclusion", "At least one prior platinum-based regimen", "prior_lines",
     {"min": 1, "max": None}),
    ("inclusion", "Treatment-naive", "prior_lines", {"min": None, "max": 0}),
    ("inclusion", "No prior systemic therapy for metastatic disease", "prior_lines",
     {"min": None, "max": 0}),
    ("inclusion", "No more than 2 prior lines of therapy", "prior_lines",
     {"min": None, "max": 2}),
    ("inclusion", "1-3 prior lines of systemic therapy", "prior_lines", {"min": 1, "max": 3}),
    ("inclusion", "Prior lines of therapy must not exceed 2", "prior_lines",
     {"min": None, "max": 2}),
    ("inclusion", "The number of prior regimens for metastatic disease should not exceed 3",
     "prior_lines", {"min": None, "max": 3}),
    ("exclusion", "More than 2 prior chemotherapy regimens", "prior_lines",
     {"min": 3, "max": None}),
    ("exclusion", "Active or untreated brain metastases", "cns_metastases",
     {"state": "active"}),
    ("exclusion", "Untreated CNS metastases", "cns_metastases", {"state": "untreated"}),
    ("exclusion", "Known brain metastases unless treated and stable", "cns_metastases",
     {"state": "active"}),
    ("inclusion", "Patients with treated, stable brain metastases are eligible",
     "cns_metastases", {"state": "stable", "allowed": True}),
    ("inclusion", "No prior or current CNS metastases", "cns_metastases",
     {"state": "any", "negated": True}),
    ("exclusion", "Leptomeningeal disease", "cns_metastases", {"state": "leptomeningeal"}),
    ("inclusion", "ANC ≥ 1.5 x 10^9/L", "organ_function",
     {"measure": "ANC", "op": ">=", "value": 1.5, "unit": "10^9/L"}),
    ("inclusion", "Absolute neutrophil count ≥ 1,500/mm3", "organ_function",
     {"measure": "ANC", "op": ">=", "value": 1.5, "unit": "10^9/L"}),
    ("inclusion", "Platelets ≥ 100,000/µL", "organ_function",
     {"measure": "platelets", "op": ">=", "value": 100, "unit": "10^9/L"}),
    ("inclusion", "Hemoglobin ≥ 9 g/dL", "organ_function",
     {"measure": "hemoglobin", "op": ">=", "value": 9, "unit": "g/dL"}),
    ("inclusion", "Hemoglobin ≥ 90 g/L", "organ_function",
     {"measure": "hemoglobin", "op": ">=", "value": 9, "unit": "g/dL"}),
    ("inclusion", "Serum creatinine ≤ 1.5 x ULN", "organ_function",
     {"measure": "creatinine", "op": "<=", "value": 1.5, "unit": "xULN"}),
    ("inclusion", "Creatinine clearance ≥ 60 mL/min", "organ_function",
     {"measure": "CrCl", "op": ">=", "value": 60, "unit": "mL/min"}),
    ("inclusion", "Total bilirubin ≤ 1.5 × ULN", "organ_function",
     {"measure": "bilirubin", "op": "<=", "value": 1.5, "unit": "xULN"}),
    ("inclusion", "AST and ALT ≤ 2.5 × ULN (≤ 5 × ULN with liver metastases)", "organ_function",
     {"measure": "ALT", "op": "<=", "value": 2.5, "unit": "xULN"}),
    ("inclusion", "Bilirubin within normal limits", "organ_function",
     {"measure": "bilirubin", "op": "<=", "value": 1, "unit": "xULN"}),
    ("exclusion", "Pregnant or breastfeeding women", "pregnancy", {}),
    ("inclusion", "Not pregnant or nursing", "pregnancy", {"negated": True}),
    ("inclusion", "Negative serum pregnancy test within 7 days", "pregnancy", {"negated": True}),
    ("exclusion", "Known HIV infection", "infection", {"agents": ["HIV"]}),
    ("exclusion", "Active hepatitis B or C", "infection", {"agents": ["HBV", "HCV"]}),
    ("inclusion", "HIV negative", "infection", {"agents": ["HIV"], "negated": True}),
    ("exclusion", "Other malignancy within the past 3 years", "other_malignancy",
     {"within_years": 3}),
    ("exclusion", "History of another primary malignancy within 5 years", "other_malignancy",
     {"within_years": 5}),
    ("inclusion", "No other malignancy within the past five years", "other_malignancy",
     {"within_years": 5, "negated": True}),
    ("exclusion", "Concurrent malignancy requiring treatment", "other_malignancy",
     {"within_years": None}),
    # non-standard wordings of metastatic disease
    ("exclusion", "Metastasis disease confirmed by pathology or imaging", "extent",
     {"extent": "metastatic"}),
    ("exclusion", "Any imaging evidence of distant spread of the cancer", "extent",
     {"extent": "metastatic"}),
]


@pytest.mark.parametrize("criterion_kind,text,kind,expected", CASES)
def test_requirement_kinds(criterion_kind, text, kind, expected):
    requirements = parse_criterion(text, criterion_kind)
    assert _matching(requirements, kind, expected), [(r.kind, r.params) for r in requirements]


BIOMARKERS = [
    # (criterion kind, text, list of requirements, each a list of (marker, status, extra))
    ("inclusion", "No known EGFR/ALK alteration",
     [[("EGFR", "negative", {})], [("ALK", "negative", {})]]),
    ("inclusion", "MSI-H or dMMR", [[("MSI", "positive", {}), ("MMR", "positive", {})]]),
    ("inclusion", "MSS colorectal cancer", [[("MSI", "negative", {})]]),
    ("inclusion", "HER2-positive (IHC 3+ or ISH amplified)",
     [[("HER2", "positive", {"min_value": 3.0, "unit": "IHC"}),
       ("HER2", "positive", {"alterations": ["amplification"]})]]),
    ("inclusion", "HER2-low breast cancer",
     [[("HER2", "negative", {"min_value": 1, "max_value": 2, "unit": "IHC"})]]),
    ("inclusion", "BRCA1/2 germline mutation",
     [[("BRCA1", "positive", {"germline": True}), ("BRCA2", "positive", {"germline": True})]]),
    ("inclusion", "KRAS G12C mutation", [[("KRAS", "positive", {"alterations": ["G12C"]})]]),
    ("inclusion", "PD-L1 CPS ≥ 10", [[("PD-L1", "positive", {"min_value": 10.0,
                                                           "unit": "CPS"})]]),
    ("inclusion", "TMB ≥ 10 mut/Mb", [[("TMB", "positive", {"min_value": 10.0,
                                                          "unit": "mut/Mb"})]]),
    ("inclusion", "Hormone receptor-positive, HER2-negative",
     [[("ER", "positive", {}), ("PR", "positive", {})], [("HER2", "negative", {})]]),
    ("inclusion", "Triple-negative breast cancer",
     [[("ER", "negative", {})], [("PR", "negative", {})], [("HER2", "negative", {})]]),
    ("inclusion", "Documented EGFR mutation or ALK rearrangement",
     [[("EGFR", "positive", {}), ("ALK", "positive", {"alterations": ["fusion"]})]]),
    ("inclusion", "RAS wild-type", [[("KRAS", "negative", {})], [("NRAS", "negative", {})]]),
    ("inclusion", "NTRK1/2/3 gene fusion",
     [[("NTRK1", "positive", {}), ("NTRK2", "positive", {}), ("NTRK3", "positive", {})]]),
    ("exclusion", "Prior anti-HER2 therapy", []),
    ("exclusion", "Prior EGFR TKI", []),
    ("exclusion", "Relapse within 12 months of adjuvant CDK4/6i", []),
    # a marker's full name and acronym are one mention: the status after the acronym is its own
    ("inclusion", "Human epidermal growth factor receptor 2 (HER2)-negative disease",
     [[("HER2", "negative", {})]]),
    ("inclusion", "Oestrogen receptor (ER), progesterone receptor (PgR) and human epidermal "
                  "growth factor receptor 2 (HER2) negative",
     [[("ER", "negative", {})], [("PR", "negative", {})], [("HER2", "negative", {})]]),
    ("exclusion", "Known human epidermal growth factor receptor 2 (HER2)- positive tumour",
     [[("HER2", "positive", {})]]),
    ("exclusion", "Driver alterations in epidermal growth factor receptor (EGFR), BRAF (V600E)",
     [[("EGFR", "positive", {"alterations": []}), ("BRAF", "positive",
                                                   {"alterations": ["V600E"]})]]),
    ("inclusion", "Documented estrogen receptor (ER) and progesterone receptor (PR) testing", []),
    # the result after the method's name; the full name's acronym carrying the result
    ("inclusion", "Documented HER2 immunohistochemistry (IHC) negative as per ASCO-CAP 2018",
     [[("HER2", "negative", {})]]),
    ("inclusion", "Human Epidermal Growth Factor Receptor 2 (HER2)-low or HER2-ultralow breast "
                  "cancer",
     [[("HER2", "negative", {"min_value": 1, "max_value": 2, "unit": "IHC"}),
       ("HER2", "negative", {"max_value": 1, "unit": "IHC"})]]),
    # a marker named with no result is no requirement where the criterion states one
    ("inclusion", "HER2-low is defined as HER2 (1+) or HER2 (2+) by IHC with a negative ISH",
     [[("HER2", "negative", {"min_value": 1, "max_value": 2, "unit": "IHC"})]]),
    # A list of IHC scores is read whole: HER2-expressing accepts HER2-low and HER2-positive.
    ("inclusion", "HER2-expressing tumour (IHC 1+, 2+ or 3+) by central testing",
     [[("HER2", "positive", {"min_value": 2.0, "unit": "IHC"}),
       ("HER2", "negative", {"min_value": 1.0, "max_value": 2.0, "unit": "IHC"})]]),
    ("inclusion", "Gastric cancer with HER2 IHC 2+ or 1+",
     [[("HER2", "positive", {"min_value": 2.0, "unit": "IHC"}),
       ("HER2", "negative", {"min_value": 1.0, "max_value": 2.0, "unit": "IHC"})]]),
    ("inclusion", "HER2-low disease (IHC 1+ or IHC 2+/ISH-)",
     [[("HER2", "negative", {"min_value": 1, "max_value": 2, "unit": "IHC"})]]),
    ("inclusion", "Tumour with HER2 IHC 0, 1+, or 2+ and a negative in situ hybridisation",
     [[("HER2", "negative", {"min_value": 0.0, "max_value": 2.0, "unit": "IHC"})]]),
    ("exclusion", "HER2-positive disease defined as IHC 3+ or IHC 2+/ISH+",
     [[("HER2", "positive", {"min_value": 3.0, "unit": "IHC"}),
       ("HER2", "positive", {"alterations": ["amplification"]})]]),
    # "sensitising" before the marker narrows a negative to the sensitising alterations, and
    # the negation covers the markers listed after it, past an aside.
    ("inclusion", "No sensitising EGFR mutation and no ALK or ROS1 rearrangement",
     [[("EGFR", "negative", {"alterations": ["sensitizing mutation"]})],
      [("ALK", "negative", {})], [("ROS1", "negative", {})]]),
    ("inclusion", "Absence of sensitizing EGFR mutations (for example L858R) and ALK "
                  "rearrangements",
     [[("EGFR", "negative", {"alterations": ["sensitizing mutation", "L858R"]})],
      [("ALK", "negative", {})]]),
    # "estrogen and/or progesterone receptors" is ER or PR; a status word before it is its own
    ("inclusion", "Tumour with positive oestrogen and/or progesterone receptors, and HER2 "
                  "negative",
     [[("ER", "positive", {}), ("PR", "positive", {})], [("HER2", "negative", {})]]),
    ("inclusion", "HER2 is negative when every test performed shows it",
     [[("HER2", "negative", {})]]),
    # a copy number or ratio below the cut-off is a negative ISH value, not HER2-positive
    ("inclusion", "ISH negative (mean HER2 copy number < 4.0 signals per cell)", []),
    ("inclusion", "No amplification: HER2/CEP17 ratio < 2.0", [[("HER2", "negative", {})]]),
    # A bare "exon 21" is its sensitising point mutations; a marker's "status" is a test.
    ("inclusion", "Tumour EGFR activating mutations (exon 19 deletion or exon 21) and T790M "
                  "mutation status",
     [[("EGFR", "positive", {"alterations": ["exon 19 deletion", "L858R", "L861Q"]})]]),
    ("inclusion", "Blood sample for central EGFR T790M testing", []),
    # An alteration list running past the window is read whole.
    ("inclusion", "Tumour carries an EGFR mutation associated with response to EGFR TKIs "
                  "(including G719X, exon 19 deletion, L858R, L861Q)",
     [[("EGFR", "positive", {"alterations": ["G719X", "exon 19 deletion", "L858R",
                                             "L861Q"]})]]),
    ("inclusion", "HER2-low or HER2-ultralow breast cancer",
     [[("HER2", "negative", {"min_value": 1, "max_value": 2}),
       ("HER2", "negative", {"min_value": None, "max_value": 1})]]),
]


@pytest.mark.parametrize("criterion_kind,text,expected", BIOMARKERS)
def test_biomarker_requirements(criterion_kind, text, expected):
    found = [r for r in parse_criterion(text, criterion_kind) if r.kind == "biomarker"]
    assert len(found) == len(expected), [r.params for r in found]
    for requirement, alternatives in zip(found, expected, strict=True):
        items = requirement.params["any_of"]
        assert len(items) == len(alternatives), items
        for item, (marker, status, extra) in zip(items, alternatives, strict=True):
            assert item["marker"] == marker
            assert item["status"] == status
            for key, value in extra.items():
                assert item[key] == value, item


@pytest.mark.parametrize("text", [
    "Serious heart disease or cerebral vessel disease",
    "An autoimmune disorder with CNS involvement",
])
def test_other_diseases_of_the_brain_are_no_cns_metastases(text):
    assert not [r for r in parse_criterion(text, "exclusion") if r.kind == "cns_metastases"]


@pytest.mark.parametrize("text", [
    "Life expectancy of at least 12 weeks",
    "Able to swallow oral medication",
])
def test_criteria_stating_no_known_kind_give_nothing(text):
    assert parse_criterion(text, "inclusion") == []


@pytest.mark.parametrize("text", [
    "Chemotherapy within 4 weeks prior to enrollment",
    "Known hypersensitivity to pembrolizumab",
    "Concurrent treatment with other anticancer therapy",
    "≥ 2 weeks from prior chemotherapy, radiation therapy or major surgery",
    "Presence of any acute toxic effects from prior anti-cancer therapy to Grade <= 1",
])
def test_washout_allergy_and_concurrent_use_are_not_prior_therapy(text):
    kinds = {r.kind for r in parse_criterion(text, "exclusion")}
    assert "prior_therapy" not in kinds


def test_a_washout_after_a_bracket_is_still_a_washout():
    # The clause ends at the bracket; the time window follows it.
    text = ("Patients who have received the last administration of an anti-cancer therapy "
            "including chemotherapy, immunotherapy, hormonal therapy and monoclonal antibodies "
            "(but excluding nitrosourea, mitomycin-C, targeted therapy and radiation) = < 4 "
            "weeks prior to starting study drug")
    kinds = {r.kind for r in parse_criterion(text, "exclusion")}
    assert not kinds & {"prior_lines", "prior_therapy"}


@pytest.mark.parametrize("text", [
    "Receipt of radiotherapy to >25 % of bone marrow.",
    "Prior bone marrow transplant or extensive radiotherapy to greater than 15% of bone marrow",
    "Radiation to > 25% of bone marrow prior to registration",
])
def test_radiation_bounded_by_its_extent_is_not_any_radiation(text):
    # A neck or breast field is not a quarter of the marrow: the rule is about how much was
    # irradiated, which the notes rarely say, so it stays unread.
    assert not [r for r in parse_criterion(text, "exclusion") if r.kind == "prior_therapy"
                and "radiation" in r.params.get("classes", [])]


def test_radiation_extent_stays_in_its_own_clause():
    text = "Prior whole brain radiotherapy (WBRT); Received >30% bone marrow irradiation"
    therapy = [r for r in parse_criterion(text, "exclusion") if r.kind == "prior_therapy"]
    assert therapy and therapy[0].params["classes"] == ["radiation"]


def test_platelets_in_lakh():
    (platelets,) = parse_criterion("Platelet: >1.5Lakh per cumm", "inclusion")
    assert platelets.params == {"measure": "platelets", "op": ">", "value": 150,
                                "unit": "10^9/L"}


def test_spans_quote_the_criterion():
    text = "Histologically confirmed stage IV NSCLC with EGFR exon 19 deletion, ECOG 0-1"
    requirements = parse_criterion(text, "inclusion")
    assert {r.kind for r in requirements} >= {"stage", "cancer_type", "biomarker",
                                              "performance_status"}
    for requirement in requirements:
        assert text[requirement.start:requirement.end] == requirement.text


@pytest.mark.parametrize("text", [
    "Measurable disease per RECIST 1.1 (RANO for primary CNS tumors).",
    "Evidence of measurable disease per RECIST, v1.1 for solid tumors and per Lugano Criteria "
    "for Lymphoma",
])
def test_whom_an_assessment_rule_is_for_is_no_cancer_type(text):
    # In a lymphoma or glioma trial these would otherwise require a solid or a CNS tumour.
    kinds = [r.kind for r in parse_criterion(text, "inclusion")]
    assert kinds == ["measurable_disease"]


def test_exclusion_keeps_diagnosis_words_only_when_alone():
    qualified = parse_criterion("Known EGFR mutation in NSCLC", "exclusion")
    assert {r.kind for r in qualified} == {"biomarker"}
    alone = parse_criterion("Small cell lung cancer", "exclusion")
    assert {r.kind for r in alone} == {"cancer_type"}


def test_context_supplies_the_marker_for_a_sub_bullet():
    found = parse_in_context("exon 20 insertion", "inclusion",
                             "Documented EGFR mutation of the following type:", 0)
    biomarkers = [r for r in found if r.kind == "biomarker"]
    assert biomarkers and biomarkers[0].params["any_of"][0]["marker"] == "EGFR"
    assert biomarkers[0].start >= 0


def test_a_bare_score_is_the_score_of_the_marker_the_lead_in_names():
    lead = "HER2 expression scored using current ASCO/CAP guidelines for gastric cancer."
    found = parse_in_context("Part 1: IHC 3+ or IHC 2+ by local or central assessment",
                             "inclusion", lead, 10)
    assert [r.kind for r in found] == ["biomarker"] and found[0].start == 10
    items = found[0].params["any_of"]
    assert {i["marker"] for i in items} == {"HER2"} and {i["min_value"] for i in items} == {2.0}
    # no score, no reading: "IHC and ISH results ... as pre-defined for each cohort"
    assert parse_in_context("Part 2: IHC and ISH results by central assessment as pre-defined "
                            "for each cohort", "inclusion", lead, 0) == []
    # a lead-in naming two markers gives a bare score to neither
    assert parse_in_context("IHC 3+", "inclusion", "ER and HER2 status:", 0) == []


@pytest.mark.parametrize("item, kind", [
    ("Lapatinib ditosylate", "prior_therapy"),
    ("Neoadjuvant chemotherapy", "prior_therapy"),
])
def test_context_supplies_the_reading_of_a_therapy_sub_bullet(item, kind):
    lead_in = "Prior neoadjuvant or adjuvant therapy including any of the following:"
    assert kind in {r.kind for r in parse_in_context(item, "inclusion", lead_in, 0)}


def test_alternatives_keep_common_kinds_and_pool_biomarkers():
    text = "one of: EGFR L858R; ALK fusion"
    first = parse_criterion("EGFR L858R", "inclusion")
    second = parse_criterion("ALK fusion", "inclusion")
    merged = merge_alternatives([first, second], text)
    assert [r.kind for r in merged] == ["biomarker"]
    assert [i["marker"] for i in merged[0].params["any_of"]] == ["EGFR", "ALK"]
    assert merge_alternatives([first, []], text) == []


def test_a_word_ending_in_line_is_no_line_of_therapy():
    # "Alkaline phosphatase <= 5.0 x ULN" under a lab-values lead-in read as "line ... <= 5"
    lead_in = "Adequate organ function including the following laboratory values:"
    found = parse_in_context("Alkaline phosphatase ≤5.0 x ULN", "inclusion", lead_in, 0)
    assert [r for r in found if r.kind == "prior_lines"] == []


def test_note_lines_state_no_requirements():
    assert parse_criterion("NOTE: patients may have received any number of prior regimens",
                           "inclusion") == []


def test_stage_in_exclusion_is_a_qualifier_when_other_facts_are_stated():
    text = ("Participants with locally advanced (Stage III) NSCLC who progressed on prior "
            "osimertinib")
    kinds = {r.kind for r in parse_criterion(text, "exclusion")}
    assert "stage" not in kinds and "prior_therapy" in kinds
    assert {r.kind for r in parse_criterion("Stage IV breast cancer", "exclusion")} == {"stage"}


def test_markers_inside_a_list_of_diagnoses_qualify_one_of_them():
    text = ("Large B-cell lymphoma: DLBCL NOS, high-grade B-cell lymphoma with MYC and BCL2 "
            "rearrangements, primary mediastinal large B-cell lymphoma, or transformed "
            "follicular lymphoma")
    kinds = [r.kind for r in parse_criterion(text, "inclusion")]
    assert "cancer_type" in kinds and "biomarker" not in kinds


def test_double_hit_needs_both_markers():
    found = [r for r in parse_criterion("MYC and BCL2 rearrangements", "inclusion")
             if r.kind == "biomarker"]
    assert [[i["marker"] for i in r.params["any_of"]] for r in found] == [["MYC"], ["BCL2"]]


@pytest.mark.parametrize("text,kind,expected", [
    ("Age >/= 18 years", "age", {"min": 18}),
    ("ANC >/= 1500/mcL", "organ_function", {"measure": "ANC", "op": ">=", "value": 1.5}),
    ("ECOG </= 1", "performance_status", {"scale": "ECOG", "max": 1}),
])
def test_nci_style_comparators(text, kind, expected):
    assert _matching(parse_criterion(text, "inclusion"), kind, expected)


def test_above_normal_limits_is_a_threshold_at_the_upper_limit():
    found = parse_criterion("Creatinine or bilirubin above normal limits", "exclusion")
    assert {(r.params["measure"], r.params["op"], r.params["value"], r.params["unit"])
            for r in found} == {("creatinine", ">", 1, "xULN"), ("bilirubin", ">", 1, "xULN")}


# --- speed helpers must not change what is found -------------------------------------------

FOLD_TEXTS = [
    "No PRIOR therapy; Treatment-NAÏVE patients",
    "prior therapy with pembrolizumab, e.g. 2 lines. Other than that",
    "SOLID TUMOURS except Prostate",
    "naïve İnhibitor ſolid ı tumour",  # length-changing and fold-exception characters
    "KELVIN \u212a and nothing else",
    "",
]


@pytest.mark.parametrize("text", FOLD_TEXTS)
@pytest.mark.parametrize("pattern, required", [
    (r"\bprior\s+therap\w*|na[iï]ve|\bsolid\s+tumou?rs?\b", ()),
    (r"\bsolid\s+tumou?rs?\b|\bexcept\b", ("solid", "except")),
    (r"\.(?<!\d\.)(?!\d)|;|\bother\s+than\b", ("other", ".", ";")),
    (r"k\w+|\bi\w*", ()),
])
def test_folded_pattern_finds_what_the_case_insensitive_one_does(text, pattern, required):
    import re

    from trialmatch.nlp.requirements_common import Folded

    original = re.compile(pattern, re.IGNORECASE)
    folded = Folded(original, required)
    assert [m.span() for m in folded.finditer(text)] == [m.span() for m in original.finditer(text)]
    assert bool(folded.search(text)) == bool(original.search(text))
    assert bool(folded.match(text)) == bool(original.match(text))


@pytest.mark.parametrize("pattern, flags, required", [
    (r"PD-L1", 2, ()),     # an upper-case letter would never match the lower-cased text
    (r"pd-l1", 0, ()),     # not case-insensitive: nothing to fold
    (r"pd-l1", 2, ("PD",)),
])
def test_folded_pattern_refuses_what_it_cannot_fold(pattern, flags, required):
    import re

    from trialmatch.nlp.requirements_common import Folded

    with pytest.raises(ValueError):
        Folded(re.compile(pattern, flags), required)


@pytest.mark.parametrize("text", [
    "Prior treatment with FOLFOX or carboplatin/paclitaxel and an anti-PD-1 antibody",
    "No prior EGFR TKI (erlotinib, gefitinib, Osimertinib); platinum-based chemotherapy allowed",
    "Received CAR-T or ADC therapy; prior 5-FU; TRASTUZUMAB DERUXTECAN",
    "no drug named here at all",
])
def test_fast_drug_finders_find_what_drugs_module_finds(text):
    from trialmatch.nlp.drugs import find_drug_classes, find_drugs
    from trialmatch.nlp.requirements_therapy import _find_drug_classes, _find_drugs

    assert _find_drugs(text) == find_drugs(text)
    assert _find_drug_classes(text) == find_drug_classes(text)


def test_phrase_gate_agrees_with_subset_test():
    from trialmatch.nlp.requirements import _PhraseGate

    by_first = {"non": [frozenset({"non", "small", "cell"})], "nsclc": [frozenset({"nsclc"})],
                "lung": [frozenset({"cancer"})]}  # filed under a word it does not contain
    gate = _PhraseGate(by_first)
    for tokens, expected in [({"small", "cell", "non"}, True), ({"nsclc"}, True),
                             ({"small", "cell"}, False), ({"cancer"}, False),
                             ({"cancer", "lung"}, True), (set(), False)]:
        assert gate.may_match(tokens) is expected


@pytest.mark.parametrize("text", [
    "Recurrent or relapsed disease after prior chemotherapy",
    "ECOG performance status 0-1; adequate white blood cell count",
    "women who are breastfeeding; HIV; hepatitis B; brain metastases",
    "ANC >= 1.5; KRAS wild-type; MSI-H",
    "nothing to see",
])
def test_trigger_test_equals_substring_and_word_tests(text):
    from trialmatch.nlp.requirements import _TRIGGERS, _WORD, _trigger_test

    lower = text.lower()
    words = set(_WORD.findall(lower))
    triggered = _trigger_test(lower, words)
    for kind, (parts, whole) in _TRIGGERS.items():
        expected = any(part in lower for part in parts) or not words.isdisjoint(whole)
        assert triggered(kind) is expected, kind


def test_every_folded_pattern_finds_what_its_pattern_finds_on_the_fixture_criteria():
    # The key words given to a Folded pattern must be in every match: a wrong one would
    # silently skip texts. Checked for every Folded pattern of the parser modules over all
    # fixture criteria texts.
    import importlib
    from pathlib import Path

    from trialmatch.nlp.requirements_common import Folded

    folder = Path(__file__).parent.parent / "fixtures" / "criteria"
    texts = [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))]
    lines = [line for text in texts for line in text.splitlines() if line.strip()]
    assert len(lines) > 300
    checked = 0
    for name in ("requirements", "requirements_basic", "requirements_biomarker",
                 "requirements_cancer", "requirements_common", "requirements_therapy"):
        module = importlib.import_module(f"trialmatch.nlp.{name}")
        for value in vars(module).values():
            candidates = value if isinstance(value, list) else [value]
            for folded in candidates:
                folded = folded[1] if isinstance(folded, tuple) and len(folded) == 2 else folded
                if not isinstance(folded, Folded) or not folded.required:
                    continue
                checked += 1
                for line in lines:
                    assert [m.span() for m in folded.finditer(line)] == \
                        [m.span() for m in folded.pattern.finditer(line)], (name, line)
    assert checked >= 10


@pytest.mark.parametrize("item, lead_in", [
    # what an exclusion lets in is not what it excludes
    ("Intermittent use of inhaled steroids",
     "NOTE: Exceptions are allowed for the following conditions:"),
    ("Adequately treated squamous cell skin cancer",
     "History of another malignancy, with the following exceptions:"),
])
def test_sub_bullets_of_an_exception_lead_in_exclude_nothing(item, lead_in):
    assert parse_in_context(item, "exclusion", lead_in, 0) == []


@pytest.mark.parametrize("item", ["Chemotherapy", "Radiation therapy",
                                  "Targeted therapies (e.g., dabrafenib)"])
def test_therapies_that_caused_an_event_are_no_treatment_history(item):
    lead_in = "Failure to recover from adverse events related to any of the following therapies:"
    found = parse_in_context(item, "exclusion", lead_in, 0)
    assert [r for r in found if r.kind in ("prior_therapy", "prior_lines")] == []


def test_a_lead_in_about_intolerance_keeps_the_arms_therapy_history():
    lead_in = "Solid tumours that progressed after or are intolerant to prior standard therapy."
    found = parse_in_context("Arm A: progressed on one prior line of checkpoint inhibitor therapy",
                             "inclusion", lead_in, 0)
    assert "prior_therapy" in {r.kind for r in found}


def test_every_composite_marker_match_holds_one_of_its_gate_words():
    # `_COMPOSITE_WORDS` lets a composite pattern be skipped when none of its words is in the
    # text: every match over the fixture criteria (and these spellings) must hold one.
    from pathlib import Path

    from trialmatch.nlp.requirements_biomarker import _COMPOSITE, _COMPOSITE_WORDS

    folder = Path(__file__).parent.parent / "fixtures" / "criteria"
    lines = [line for p in sorted(folder.glob("*.txt"))
             for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines += ["MSI-H or dMMR", "MSS", "high tumour mutational burden", "HER2-ultralow",
              "ER-/PR-/HER2-", "gBRCAm", "RAS wild-type", "positive estrogen or progesterone "
              "receptors", "deficient mismatch repair", "hormone receptor (HR) positive"]
    assert {name for name, _ in _COMPOSITE} == set(_COMPOSITE_WORDS)
    for name, pattern in _COMPOSITE:
        for line in lines:
            for match in pattern.finditer(line):
                assert any(w in match.group().lower() for w in _COMPOSITE_WORDS[name]), (
                    name, match.group())


# Conditional clauses are conditions, not the trial's age range (issue 14): an age that says
# to whom another rule applies, someone else's age, or the age at diagnosis is no limit.
CONDITIONAL_AGES = [
    ("Karnofsky performance status of 80-100% for 16 years and older or Lansky Play Score of "
     "80-100 for ≥12 and  < 16 years of age", []),
    ("ECOG 0-2 (0 to 3 for participants  >= 60 to 74 years of age who are evaluated as "
     "ineligible)", []),
    ("Age  >/= 60 years. Patients aged  < 60 years who are unsuitable for standard induction "
     "therapy may be eligible after discussion with PI", [{"min": 60, "max": None}]),
    ("Children between 4 years and 18 years of age at the time of first diagnosis", []),
    ("Patients under 6 years old must weigh at least 7 kg at the time of enrollment", []),
    ("Parents will be eligible if they are over 18 years old", []),
    ("Availability of a haploidentical donor aged between 18 and 50", []),
    ("Negative serum beta-hCG test in women of childbearing potential (defined as women "
     "≤50 years of age)", []),
    ("Age < 60 years and amenorrhea for 12 or more months", []),
    ("are adults (or children 18-21 years old),", []),
    ("Breast cancer patients ≥ 18 years old who are willing to consent", [{"min": 18,
                                                                          "max": None}]),
    ("Pre/peri- or post-menopausal women 18 years and older (or local legal age, whichever "
     "is higher)", [{"min": 18, "max": None}]),
    ("Age 18-75 years", [{"min": 18, "max": 75}]),
]


@pytest.mark.parametrize("text,expected", CONDITIONAL_AGES)
def test_conditional_ages_are_no_age_limit(text, expected):
    from trialmatch.nlp.requirements_basic import find_age

    assert [r.params for r in find_age(text)] == expected


# Kinds of criteria misread in the real records (each checked on all 755 trials).
MISREAD_KINDS = [
    # brain metastases named as "metastatic disease of the CNS" are no extent requirement
    ("inclusion", "No primary malignancies or metastatic disease of the CNS.", "extent", []),
    # a heading for one sex's contraception rules sets no sex
    ("inclusion", "Male patients :", "sex", []),
    # glycated haemoglobin is a diabetes measure
    ("exclusion", "Uncontrolled diabetes defined as glycated haemoglobin , HbA1c  >7%",
     "organ_function", []),
    # "no limit" bounds nothing; an aside's "no limit" leaves the bound before it
    ("inclusion", "There is no limit to the number of prior lines of treatment a patient has "
                  "received", "prior_lines", []),
    ("inclusion", "No more than 3 prior chemotherapy-inclusive regimens for metastatic "
                  "disease (no limit on prior hormonal therapies)", "prior_lines",
     [{"min": None, "max": 3, "classes": ["chemotherapy"],
       "except": {"drugs": [], "classes": [], "adjuvant": True}}]),
    ("inclusion", "on a 2, 3 or 4 week treatment cycle", "prior_lines", []),
    # a permission widens a performance-status bound instead of adding a second one
    ("inclusion", "Performance status of 0 or 1 (Patients with disease related ECOG 2 are "
                  "allowed, in addition to ECOG 0-1)", "performance_status",
     [{"scale": "ECOG", "min": 0, "max": 2}]),
    # an amount of a therapy is not its receipt
    ("exclusion", "Greater than 6 cycles of prior treatment with cisplatin and/or carboplatin.",
     "prior_therapy", []),
    # the disease as a treatment's object is no population
    ("exclusion", "Patients receiving any other standard or investigational treatment for "
                  "their hematologic malignancy", "cancer_type", []),
]


@pytest.mark.parametrize("kind,text,requirement_kind,expected", MISREAD_KINDS)
def test_misread_kinds(kind, text, requirement_kind, expected):
    from trialmatch.nlp.requirements import parse_criterion

    found = [r.params for r in parse_criterion(text, kind) if r.kind == requirement_kind]
    assert found == expected


@pytest.mark.parametrize("kind,text,assumed", [
    ("inclusion", "Ability to understand and the willingness to sign a written informed "
                  "consent document", True),
    ("inclusion", "Each participant must meet all of the following inclusion criteria:", True),
    ("exclusion", "Any medical condition that could compromise subject safety, as determined "
                  "by the PIs and/or study team", False),
    ("exclusion", "Other protocol-defined Inclusion/Exclusion criteria apply.", False),
    ("exclusion", "Inability to comply with study and follow-up procedures", False),
])
def test_procedural_criteria_are_settled_at_screening(kind, text, assumed):
    from trialmatch.nlp.requirements import parse_criterion

    assert [(r.kind, r.params) for r in parse_criterion(text, kind)] == \
        [("procedural", {"assumed": assumed})]


@pytest.mark.parametrize("kind,text", [
    ("exclusion", "HIV infection, as determined by the investigator"),  # a real condition
    ("inclusion", "Patients must have one of the following:"),  # a lead-in for alternatives
])
def test_procedural_never_hides_a_fact_about_the_patient(kind, text):
    from trialmatch.nlp.requirements import parse_criterion

    assert "procedural" not in [r.kind for r in parse_criterion(text, kind)]


@pytest.mark.parametrize("text,markers", [
    # each diagnosis with its own markers: 1p/19q is the oligodendroglioma's only
    ("Histologically confirmed WHO CNS5 grade 2 astrocytoma, IDH-mutant, or grade 2 "
     "oligodendroglioma, IDH-mutant and 1p/19q-codeleted.", ["IDH"]),
    # markers after the whole list qualify every alternative
    ("Pathologically confirmed invasive ductal carcinoma or invasive lobular carcinoma of "
     "the breast, with positive estrogen and/or progesterone receptors, and Her-2-neu "
     "negative.", ["ER", "HER2"]),
])
def test_markers_of_one_alternative_diagnosis(text, markers):
    from trialmatch.nlp.requirements import parse_criterion

    found = [r.params["any_of"][0]["marker"] for r in parse_criterion(text, "inclusion")
             if r.kind == "biomarker"]
    assert found == markers


@pytest.mark.parametrize("kind,text,requirement_kind,expected", [
    ("inclusion", "EGFR, ALK gene wild type", "biomarker",
     [[("EGFR", "negative")], [("ALK", "negative")]]),
    ("exclusion", "Primary central nervous system (CNS) malignancy", "cancer_type",
     [["BRAIN"]]),
    ("inclusion", "No CNS tumor involvement.", "cancer_type", []),
    ("inclusion", "No CNS tumor involvement.", "primary_site", []),
])
def test_more_misread_kinds(kind, text, requirement_kind, expected):
    from trialmatch.nlp.requirements import parse_criterion

    found = parse_criterion(text, kind)
    if requirement_kind == "biomarker":
        got = [[(i["marker"], i["status"]) for i in r.params["any_of"]] for r in found
               if r.kind == "biomarker"]
    else:
        got = [r.params.get("codes") or r.params.get("sites") for r in found
               if r.kind == requirement_kind]
    assert got == expected


@pytest.mark.parametrize("kind,text,requirement_kind,expected", [
    ("inclusion", "Have histologically- or cytologically-confirmed diagnosis of Stage IIIB/C or "
                  "IV NSCLC.", "stage",
     [["IIIB", "IIIC", "IIIC1", "IIIC2", "IV", "IVA", "IVB", "IVC"]]),
    # drugs and pathways named by their target are no biomarker
    ("exclusion", "Prior use of experimental agents that target the KRAS/BRAF/MEK/ERK pathway.",
     "biomarker", []),
    ("exclusion", "Have received prior treatment with any KRAS G12C small molecule inhibitor",
     "biomarker", []),
    ("exclusion", "Untolerable toxicity in previous anti-PD-1/PD-L1 treatments", "biomarker", []),
    # contraindications and washouts are no treatment history
    ("exclusion", "Any contra-indication, to use of any of the combination chemotherapy",
     "prior_therapy", []),
    ("exclusion", "Treatment with any of the following anti-cancer therapies prior to the first "
                  "dose within the stated timeframes.", "prior_lines", []),
    ("exclusion", "Chemotherapy and targeted therapy received prior to the start of study "
                  "dosing less than 4 weeks or less than 5 half-lives", "prior_therapy", []),
])
def test_kinds_read_on_the_dev_half(kind, text, requirement_kind, expected):
    from trialmatch.nlp.requirements import parse_criterion

    found = [r for r in parse_criterion(text, kind) if r.kind == requirement_kind]
    assert [r.params.get("groups") or r.params for r in found] == expected


def test_recist_names_a_rule_not_a_population():
    # "Response Evaluation Criteria in Solid Tumors" admits lymphoma patients as well
    requirements = parse_criterion(
        "Measurable disease per Response Evaluation Criteria in Solid Tumors (RECIST) 1.1",
        "inclusion")
    assert [r.kind for r in requirements] == ["measurable_disease"]


def test_a_site_with_a_size_is_a_lesion_not_a_primary_site():
    assert parse_criterion("Lymph nodes must be >= 15 mm in short axis when measured by CT",
                           "inclusion") == []


@pytest.mark.parametrize("text", [
    "Subjects with known, suspected, or documented parenchymal brain metastases, unless treated "
    "with surgery and/or radiation, with the subject neurologically stable",
    "Patients with brain metastasis were only enrolled if the metastases were stable.",
    "At least one measurable lesion (brain metastasis must not be the only measurable lesion)",
])
def test_an_inclusion_about_patients_with_brain_metastases_demands_none(text):
    (cns,) = [r for r in parse_criterion(text, "inclusion") if r.kind == "cns_metastases"]
    assert cns.params.get("allowed") is True


def test_brain_metastases_as_an_example():
    # of what is denied: no brain metastases either
    (cns,) = [r for r in parse_criterion(
        "No evidence of distant metastatic disease (i.e., lung, liver, bone, or brain "
        "metastases)", "inclusion") if r.kind == "cns_metastases"]
    assert cns.params.get("negated") is True
    # of an evaluable lesion: no rule about the brain
    assert not [r for r in parse_criterion(
        "Otherwise evaluable lesion (e.g. brain lesion with at least 5 mm of longest diameter)",
        "inclusion") if r.kind == "cns_metastases"]
    # of an excluded history: still excluded
    assert [r for r in parse_criterion(
        "history of central nervous system (e.g., brain metastases, seizure disorder)",
        "exclusion") if r.kind == "cns_metastases"]


@pytest.mark.parametrize("text", [
    "No more than three prior systemic therapies of any kind for RCC including: 1) Immunotherapy "
    "(Adjuvant vaccines, Interleukin-2) 2) Chemotherapy",
    "No previous systemic treatment for the current disease, including surgical treatment, "
    "antitumor chemoradiotherapy/immunotherapy, etc.;",
    "Patient has received at least 1 prior line of systemic therapy for Stage IV NSCLC (including "
    "but not limited to targeted therapy)",
])
def test_what_a_count_of_lines_includes_is_no_demand(text):
    requirements = parse_criterion(text, "inclusion")
    assert [r for r in requirements if r.kind == "prior_lines"]
    assert not [r for r in requirements if r.kind == "prior_therapy" and r.params["received"]]


def test_examples_end_with_their_parenthesis():
    text = ("At least 2 prior lines of therapy (for example targeted therapy), including a "
            "platinum-based chemotherapy")
    therapy = [r for r in parse_criterion(text, "inclusion") if r.kind == "prior_therapy"]
    assert [r.params["classes"] for r in therapy] == [["platinum"]]


def test_an_acute_leukemia_trial_takes_every_acute_leukemia_and_nothing_else():
    from trialmatch.nlp.requirements_cancer import trial_oncotree_codes

    # "Acute Leukemia" in the title is broader than the AML keyword: a T-ALL patient is in
    # the population, a lymphoma or myeloma patient is not
    codes = trial_oncotree_codes("Venetoclax With CPX-351 for Relapsed or Refractory Acute "
                                 "Leukemia", ["Leukemia"], ["acute myeloid leukemia"])
    assert set(codes) == {"AML", "BLL", "TLL", "ALAL"}
    assert "_HEME" not in codes


@pytest.mark.parametrize("title, conditions, expected", [
    # a cancer named as a risk, or as what is prevented or screened for: nobody has it
    ("Topical Minoxidil in Breast Reconstruction", ["High Risk for Breast Cancer",
                                                    "Genetic Predisposition"], []),
    ("Quitting Matters HIV Hybrid Trial", ["Smoking Cessation", "Cancer Prevention"], []),
    ("Promote Colorectal Cancer Screening", ["CRC Screening"], []),
    # a high-risk cancer is a cancer; screening people who have one keeps it
    ("Adjuvant X", ["High-risk Breast Cancer"], ["BREAST"]),
    ("Molecular screening of patients with lung cancer", [], ["LUNG"]),
])
def test_a_cancer_named_as_a_risk_or_screened_for_is_no_population(title, conditions,
                                                                   expected):
    from trialmatch.nlp.requirements_cancer import trial_oncotree_codes

    assert trial_oncotree_codes(title, conditions, []) == expected


@pytest.mark.parametrize("text", [
    "TNM stage: IA. Tumor Size: <= 2 cm; Lymph Node Status: Clinically & radiologically negative",
    "T0-T2 tumor with 0 - 3 axillary lymph nodes with a Cambridge Score of 3 or more.",
    "A malignant lymph node is considered measurable if its short axis is >= 1.5 cm",
])
def test_lymph_nodes_in_a_criterion_are_no_primary_site(text):
    # Nodes are where a tumour spreads (the N of its stage), not where it arises.
    assert "primary_site" not in {r.kind for r in parse_criterion(text, "inclusion")}


def test_an_organ_beside_the_nodes_is_still_the_primary_site():
    found = [r.params for r in parse_criterion(
        "Clips within the biopsy-proven axillary lymph node and breast primary tumor are "
        "required.", "inclusion") if r.kind == "primary_site"]
    assert found == [{"sites": ["breast"]}]


@pytest.mark.parametrize("text, kinds", [
    ("Concurrent receipt of any other anti-cancer therapy.", []),
    ("Any concurrent chemotherapy, immunotherapy, or biologic therapy.", []),
    # the history is asked too
    ("Any prior or concurrent systemic anticancer therapy for TNBC", ["prior_lines"]),
])
def test_an_exclusion_of_concurrent_therapy_is_no_history(text, kinds):
    found = [r.kind for r in parse_criterion(text, "exclusion")
             if r.kind in ("prior_lines", "prior_therapy")]
    assert found == kinds


@pytest.mark.parametrize("text", [
    "Must provide the most recent tumor tissue sample for PD-L1 expression testing",
    "Willingness to provide biologic samples for PIK3CA sequencing and correlative studies",
    "Availability of FFPE tumor tissue block for central confirmation of HER2 and hormone "
    "receptor status",
    "Must agree to provide tumor tissue for EGFR T790M detection",
])
def test_a_sample_for_testing_requires_no_result(text):
    assert "biomarker" not in {r.kind for r in parse_criterion(text, "inclusion")}


def test_a_cdk_inhibitor_is_the_cdk4_6_class():
    found = [r.params for r in parse_criterion("Prior use of fulvestrant or any CDK inhibitor.",
                                               "exclusion") if r.kind == "prior_therapy"]
    assert found == [{"received": True, "drugs": ["fulvestrant"],
                      "classes": ["CDK4/6 inhibitor"]}]


def test_drugs_given_as_examples_of_any_therapy_do_not_narrow_it():
    found = [(r.kind, r.params) for r in parse_criterion(
        "Prior treatment with any anticancer therapy including cytokine therapy such as "
        "interferon-alpha and interleukin-2", "exclusion")]
    assert found == [("prior_lines", {"min": 1, "max": None})]
    # broad classes as the examples already say it
    kinds = [r.kind for r in parse_criterion(
        "Prior receipt of any anticancer therapy, including chemotherapy, radiotherapy, "
        "targeted therapy, or endocrine therapy.", "exclusion")]
    assert kinds == ["prior_therapy"]


@pytest.mark.parametrize(("text", "expected"), [
    # NCI templates write "less than or equal to" as "= <" (with a space).
    ("Total bilirubin = < 1.5 x upper limit of normal (ULN)",
     [("organ_function", {"measure": "bilirubin", "op": "<=", "value": 1.5, "unit": "xULN"})]),
    ("Serum creatinine = < 1.5 x ULN OR measured creatinine clearance >= 60 mL/min for subject "
     "with creatinine levels > 1.5 x institutional ULN",
     [("organ_function", {"measure": "creatinine", "op": "<=", "value": 1.5, "unit": "xULN"}),
      ("organ_function", {"measure": "CrCl", "op": ">=", "value": 60, "unit": "mL/min"})]),
    ("Eastern Cooperative Oncology Group (ECOG) performance status of = < 2",
     [("performance_status", {"scale": "ECOG", "min": 0, "max": 2})]),
])
def test_spaced_comparison_signs(text, expected):
    found = [(r.kind, r.params) for r in parse_criterion(text, "inclusion")
             if r.kind in ("organ_function", "performance_status")]
    assert found == expected


def test_a_result_defined_in_brackets_is_no_demand():
    text = ("HER2 status must be known. (Positive = 3+ over-expression by IHC in > 30% of "
            "invasive tumour cells OR HER2 gene amplification by FISH/CISH > 6 HER2 gene copies "
            "per nucleus. All other results will be considered negative).")
    # Neither a HER2-positive demand nor "another invasive tumour" ("tumour cells").
    assert parse_criterion(text, "inclusion") == []
    negative = parse_criterion("HER2-negative breast cancer (HER2-negative: IHC 0 or 1+)",
                               "inclusion")
    assert [r.params["any_of"][0]["status"] for r in negative if r.kind == "biomarker"] == [
        "negative"]


@pytest.mark.parametrize(("text", "kind"), [
    ("Left ventricular ejection fraction >= 55% for patients with triple negative breast "
     "cancer; >= upper limit of institutional normal for patient with HR+ breast cancer",
     "inclusion"),
    ("Previous treatment with AI is required in case of ER+ and/or PgR positive tumors",
     "exclusion"),
    ("Prior treatment with fulvestrant in the metastatic setting is required, except for "
     "patients with a history of ER-negative metastatic breast cancer", "inclusion"),
])
def test_the_subgroup_a_rule_is_for_is_no_requirement(text, kind):
    assert not [r for r in parse_criterion(text, kind) if r.kind == "biomarker"]


def test_a_population_stated_with_its_marker_still_requires_it():
    found = parse_criterion("Patients with HER2-positive breast cancer", "inclusion")
    assert [r.kind for r in found] == ["cancer_type", "biomarker"]


def test_the_registrys_all_adult_condition_names_both_lineages():
    # A trial's condition "ALL, Adult" (ClinicalTrials.gov's MeSH-style term) is acute
    # lymphoblastic leukaemia, B or T; "all, adult patients" is no disease.
    from trialmatch.nlp.vocab import get_vocabulary

    vocab = get_vocabulary()
    [found] = vocab.find_cancer_types("ALL, Adult")
    assert vocab.cancer_codes(found) == ["BLL", "TLL"]
    assert vocab.find_cancer_types("all, adult patients") == []


@pytest.mark.parametrize("text", [
    "Treatment naïve patients may be treated in Cohort A if deemed not candidates for nivolumab",
    "Participants with platinum-resistant disease may receive a second-line non-platinum-based "
    "chemotherapy and subsequently be enrolled to this study.",
])
def test_a_permission_demands_no_treatment_history(text):
    assert not [r for r in parse_criterion(text, "inclusion")
                if r.kind in ("prior_lines", "prior_therapy")]


def test_a_genes_protein_on_ihc_is_not_its_dna_alteration():
    text = ("Must provide a tumor tissue sample that has MET (IHC) expression of 1+, 2+, or 3+ "
            "as determined by the central laboratory.")
    [found] = [r for r in parse_criterion(text, "inclusion") if r.kind == "biomarker"]
    assert found.params["any_of"][0]["alterations"] == ["overexpression"]
    # ... but a list's "expression of PD-L1" is PD-L1's, not the genes' before it.
    listed = parse_criterion("targeted therapy as indicated by abnormalities in ALK, EGFR, or "
                             "expression of PDL-1", "inclusion")
    assert all(item["alterations"] != ["overexpression"] for r in listed
               if r.kind == "biomarker" for item in r.params["any_of"]
               if item["marker"] in ("ALK", "EGFR"))


@pytest.mark.parametrize("text,classes", [
    ("Previous Autologous Stem Cell Transplant procedure", ["autologous stem cell transplant"]),
    ("Prior history of allogeneic hematopoietic stem cell transplantation",
     ["allogeneic stem cell transplant"]),
    ("Previous allogeneic bone marrow transplant.", ["allogeneic stem cell transplant"]),
    # a permission in brackets, a transplant that only dates another treatment, a heading
    ("Prior Allogeneic bone marrow transplant (prior autologous transplant allowed)",
     ["allogeneic stem cell transplant"]),
    ("Received immunosuppression post allogenic HSCT within one month of study entry.", None),
    ("HEMATOPOIETIC STEM CELL TRANSPLANTATION (HSCT):", None),
])
def test_stem_cell_transplants_are_read_as_history(text, classes):
    found = [r.params["classes"] for r in parse_criterion(text, "exclusion")
             if r.kind == "prior_therapy"]
    assert found == ([classes] if classes else [])


def _history(text, kind):
    return [(r.kind, {k: v for k, v in r.params.items() if k != "drugs" or v})
            for r in parse_criterion(text, kind) if r.kind in ("prior_lines", "prior_therapy")]


NO_ADJUVANT = {"drugs": [], "classes": [], "adjuvant": True}


@pytest.mark.parametrize("text,expected", [
    # An inclusion sentence that rules out a therapy demands its absence ...
    ("Prior treatment with a PARP inhibitor is not permitted.",
     [("prior_therapy", {"received": False, "classes": ["PARP inhibitor"]})]),
    ("Patients who have received a PARP inhibitor are not eligible.",
     [("prior_therapy", {"received": False, "classes": ["PARP inhibitor"]})]),
    ("Patients must have received at least one prior line of systemic therapy; prior treatment "
     "with docetaxel is not permitted.",
     [("prior_lines", {"min": 1, "max": None}),
      ("prior_therapy", {"received": False, "drugs": ["docetaxel"], "classes": []})]),
    # ... or no more lines than it rules out
    ("Patients who received more than 2 prior lines of therapy are not eligible.",
     [("prior_lines", {"min": None, "max": 2})]),
    # ... but radiation to one site is not all radiation
    ("Prior radiation to the whole pelvis is not allowed.", []),
    # an aside that permits something of its own leaves the exclusion of the rest
    ("Prior chemotherapy for advanced disease is not permitted (prior adjuvant chemotherapy is "
     "permitted)",
     [("prior_therapy", {"received": False, "classes": ["chemotherapy"],
                         "except": NO_ADJUVANT})]),
])
def test_an_inclusion_that_rules_a_therapy_out_demands_its_absence(text, expected):
    assert _history(text, "inclusion") == expected


@pytest.mark.parametrize("kind,text,expected", [
    # A therapy named for advanced disease excepts the (neo)adjuvant courses ...
    ("exclusion", "Prior treatment with a CDK4/6 inhibitor in the metastatic setting",
     [("prior_therapy", {"received": True, "classes": ["CDK4/6 inhibitor"],
                         "except": NO_ADJUVANT})]),
    ("exclusion", "Prior chemotherapy for advanced disease (adjuvant chemotherapy is allowed if "
                  "completed more than 12 months ago)",
     [("prior_therapy", {"received": True, "classes": ["chemotherapy"],
                         "except": NO_ADJUVANT})]),
    ("inclusion", "Must have received treatment for advanced disease",
     [("prior_lines", {"min": 1, "max": None, "except": NO_ADJUVANT})]),
    # ... not where the curative setting is named with it, or the words between tell the course
    ("exclusion", "Prior CDK4/6 inhibitor in the metastatic or adjuvant setting",
     [("prior_therapy", {"received": True, "classes": ["CDK4/6 inhibitor"]})]),
    ("exclusion", "Patient has received chemotherapy with progression within 6 months for "
                  "recurrent disease",
     [("prior_therapy", {"received": True, "classes": ["chemotherapy"]})]),
    # a count of one class's lines says which
    ("inclusion", "Up to 2 prior lines of chemotherapy for metastatic disease",
     [("prior_lines", {"min": None, "max": 2, "classes": ["chemotherapy"],
                       "except": NO_ADJUVANT})]),
    ("inclusion", "No more than 1 prior line of endocrine therapy in the advanced setting",
     [("prior_lines", {"min": None, "max": 1, "classes": ["endocrine therapy"],
                       "except": NO_ADJUVANT})]),
    # a class in the plural is the class
    ("exclusion", "Prior treatment with antibody-drug conjugates",
     [("prior_therapy", {"received": True, "classes": ["antibody-drug conjugate"]})]),
    ("exclusion", "Prior treatment with proteasome inhibitors",
     [("prior_therapy", {"received": True, "classes": ["proteasome inhibitor"]})]),
    ("inclusion", "Patients must not have received prior treatment with an mTOR inhibitor",
     [("prior_therapy", {"received": False, "classes": ["mTOR inhibitor"]})]),
])
def test_the_setting_and_class_of_prior_therapy(kind, text, expected):
    assert _history(text, kind) == expected


def test_a_target_in_brackets_before_inhibitors_is_a_therapy_not_a_marker():
    text = "Prior treatment with mammalian target of rapamycin (mTOR) inhibitors"
    assert not [r for r in parse_criterion(text, "exclusion") if r.kind == "biomarker"]


@pytest.mark.parametrize("text", [
    "Patients who have had major surgery should not receive the first dose until 28 days "
    "after major surgery",
    "History of hormonal treatment including LHRH agonists, antiandrogens during the year "
    "before study entry",
    "Patients who need to use anticoagulants, which may affect the intramuscular injection of "
    "fulvestrant or the use of LHRH agonists.",
])
def test_a_washout_or_a_need_now_is_no_treatment_history(text):
    assert _history(text, "exclusion") == []


@pytest.mark.parametrize("text", [
    # which lesions count is no history of the patient's
    "Of note: A bone lesion that has been treated by radiation is excluded from the lesions "
    "counted in the criterion of >= 3 lesions.",
    "Patients with 3 or fewer brain metastases are eligible. Lesions that have been treated "
    "with stereotactic radiosurgery must be stable.",
    # a treatment decided on is to come
    "A decision has been made to administer single or multiple agent first or second line "
    "chemotherapy that includes one of the following agents: anthracycline, taxane, platinum, "
    "capecitabine.",
])
def test_a_lesions_treatment_or_one_to_come_is_no_history(text):
    assert _history(text, "inclusion") == []


def test_a_bracketed_narrower_extent_describes_the_same_disease():
    text = ("Histologically or cytologically confirmed recurrent locally advanced (unresectable) "
            "or metastatic solid tumors")
    found = [r.params["extent"] for r in parse_criterion(text, "inclusion") if r.kind == "extent"]
    assert found == ["unresectable", "metastatic"]


def test_a_suspended_hyphen_takes_the_result_after_the_second_marker():
    [either] = [r for r in parse_criterion("ER- and/or PR-positive breast cancer", "inclusion")
                if r.kind == "biomarker"]
    assert [(i["marker"], i["status"]) for i in either.params["any_of"]] == \
        [("ER", "positive"), ("PR", "positive")]
    both = [r.params["any_of"][0]["status"] for r in parse_criterion(
        "ER- and PR-negative tumor", "inclusion") if r.kind == "biomarker"]
    assert both == ["negative", "negative"]


def test_a_known_status_or_an_items_definition_requires_no_result():
    assert not [r for r in parse_criterion("Known HER-2/neu status by core biopsy", "inclusion")
                if r.kind == "biomarker"]
    item = ("HER-2/neu positive tumor is defined as +3 by immunohistochemistry OR positive by "
            "fluorescence in situ hybridization (FISH)")
    assert not [r for r in parse_in_context(item, "inclusion", "Known HER-2/neu status", 0)
                if r.kind == "biomarker"]


@pytest.mark.parametrize("text,received", [
    # an operation an inclusion says was done, whatever its timing
    ("total mastectomy carried out 12 months prior to recruitment", True),
    ("Participants must have undergone definitive surgery of the primary breast tumor(s) "
     "within 16 months of study entry.", True),
    # a washout, or an operation not done, demands none
    ("No major surgery within 4 weeks prior to enrollment", None),
    ("Prior surgery must have been completed at least 4 weeks before enrollment", None),
    ("Liver resection not performed", None),
])
def test_an_operation_done_at_a_time_is_demanded(text, received):
    found = [r.params["received"] for r in parse_criterion(text, "inclusion")
             if r.kind == "prior_therapy"]
    assert found == ([received] if received is not None else [])


@pytest.mark.parametrize("text,codes", [
    # a list leaves its head noun to the last item
    ("Lung or breast cancer.", ["LUNG", "BREAST"]),
    ("Breast, colorectal, lung or prostate cancer patients", ["BREAST", "COADREAD", "LUNG",
                                                             "PROSTATE"]),
    # a group of cancers names each of them
    ("Gastrointestinal or gynecological cancer.",
     ["STOMACH", "BOWEL", "PANCREAS", "LIVER", "BILIARY_TRACT", "AMPULLA_OF_VATER", "OVARY",
      "UTERUS", "CERVIX", "VULVA"]),
    # ... not a place a phrase ends in
    ("Tumors that are metastatic carcinoma to breast, sarcoma, or Phyllodes tumor",
     ["SARCNOS", "PT"]),
])
def test_listed_cancers_share_their_head_noun(text, codes):
    found = [c for r in parse_criterion(text, "inclusion") if r.kind == "cancer_type"
             for c in r.params["codes"]]
    assert found == codes


def test_a_response_methods_name_is_no_population():
    text = ("According to RECIST v1.1 (Solid Tumor Efficacy Evaluation Criteria), there is at "
            "least one CT scan measurable lesion present;")
    assert not [r for r in parse_criterion(text, "inclusion") if r.kind == "cancer_type"]


def test_a_narrowed_class_stays_narrowed_in_its_bracketed_acronym():
    text = ("Participant has had previous treatment with poziotinib or any other EGFR or HER2 "
            "exon 20 insertion mutation-selective tyrosine kinase inhibitor (TKI).")
    assert _history(text, "exclusion") == [
        ("prior_therapy", {"received": True, "drugs": ["poziotinib"], "classes": []})]
    assert _history("Prior treatment with a tyrosine kinase inhibitor (TKI)", "exclusion") == [
        ("prior_therapy", {"received": True, "classes": ["tyrosine kinase inhibitor"]})]


@pytest.mark.parametrize("kind,text,expected", [
    # "not limited to" negates nothing, and an item "including" lists shares its head's sense
    ("exclusion", "Prior immunotherapy including but not limited to anti-CTLA-4 antibody",
     [("prior_therapy", {"received": True, "classes": ["immunotherapy", "CTLA-4 inhibitor"]})]),
    ("inclusion", "No prior immunotherapy, including but not limited to anti-PD-1 antibody",
     [("prior_therapy", {"received": False, "classes": ["immunotherapy", "PD-1 inhibitor"]})]),
    # examples of a condition demand no history
    ("inclusion", "No known GI disease or GI procedures that could interfere with absorption; "
                  "examples include, but are not limited to partial gastrectomy", []),
])
def test_examples_share_the_sense_of_what_they_exemplify(kind, text, expected):
    assert _history(text, kind) == expected


def _statuses(text, kind="inclusion"):
    return [(item["marker"], item["status"]) for r in parse_criterion(text, kind)
            if r.kind == "biomarker" for item in r.params["any_of"]]


@pytest.mark.parametrize("text,expected", [
    # A symbol in brackets after a gene name the vocabulary does not know: the result
    # follows the bracket.
    ("EGFR gene mutation negative, ROS oncogene 1 (ROS1) negative, and anaplastic lymphoma "
     "kinase (ALK) negative, stage IV NSCLC",
     [("EGFR", "negative"), ("ROS1", "negative"), ("ALK", "negative")]),
    ("human epidermal growth factor receptor type 2 (HER2)-negative metastatic breast cancer",
     [("HER2", "negative")]),
    # ... but a suspended hyphen after the bracket waits for the next marker's word
    ("positive estrogen (ER)- and/or progesterone-receptor (PR) status",
     [("ER", "positive")]),
])
def test_a_bracketed_symbol_takes_the_result_after_the_bracket(text, expected):
    assert _statuses(text) == expected


@pytest.mark.parametrize("text", [
    "NSCLC that cannot be operated on or treated with radiotherapy",
    "disease that cannot be treated with curative surgery or radiation",
    "patients unable to be treated with cisplatin",
])
def test_a_therapy_the_patient_cannot_have_is_no_history(text):
    assert _history(text, "inclusion") == []


@pytest.mark.parametrize("text,expected", [
    ("Study in Participants With Early-Stage Human Epidermal Growth Factor Receptor (HER) "
     "2-Positive Breast Cancer", [("HER2", "positive")]),
    ("estrogen receptor (ER) positive (ER+) and human epidermal growth factor receptor (HER) 2 "
     "negative (HER2-) localized breast cancer", [("ER", "positive"), ("HER2", "negative")]),
    ("human epidermal growth factor receptor type 2 (HER2)-negative breast cancer",
     [("HER2", "negative")]),
])
def test_her2_spelt_out_is_not_egfr(text, expected):
    assert _statuses(text) == expected


def test_the_stage_a_first_line_therapy_is_for_is_the_population():
    found = parse_criterion("Study treatment must be first-line therapy for Stage IV or "
                            "recurrent disease.", "inclusion")
    assert [(r.kind, r.params.get("groups", r.params.get("extent"))) for r in found] == [
        ("stage", ["IV", "IVA", "IVB", "IVC"]), ("extent", "recurrent")]
    # a past therapy's stage stays history
    assert not [r for r in parse_criterion("Completed treatment for stage I-III breast cancer",
                                           "inclusion") if r.kind == "stage"]


def test_a_score_before_therapy_is_no_line_count():
    assert _history("Baseline IIEF-EF (1-30) domain score of <17 pre-therapy", "exclusion") == []
    assert _history("No more than 2 prior therapies", "inclusion") == [
        ("prior_lines", {"min": None, "max": 2})]


def _kinds(text, kind="inclusion"):
    return {r.kind: r.params for r in parse_criterion(text, kind)}


def test_a_list_of_agents_goes_on_under_its_no():
    found = _kinds("No known hepatitis C virus (defined as HCV ribonucleic acid [RNA] "
                   "[qualitative] is detected) infection or known history of hepatitis B "
                   "(defined as hepatitis B surface antigen [HBsAg] reactive)")
    assert found["infection"] == {"agents": ["HCV", "HBV"], "negated": True}


def test_a_stage_list_without_its_comma():
    found = _kinds("Completely resected stage IIA, IIB IIIA or IIIB (T3-4N2) non-small cell "
                   "lung cancer")
    assert found["stage"]["groups"] == ["IIA", "IIA1", "IIA2", "IIB", "IIIA", "IIIB"]
    # a number after a stage is no group
    assert _kinds("stage IV 2 prior lines")["stage"]["groups"] == ["IV", "IVA", "IVB", "IVC"]


def test_a_stage_another_malignancy_rule_lets_in_is_not_the_population():
    found = _kinds('No patients with a "currently active" second malignancy that is '
                   "progressing or has required active treatment within the last 3 years. "
                   "Participants with non-melanoma skin cancers, low grade or low-risk cancers, "
                   "or stage I malignancies are allowed")
    assert "stage" not in found and found["other_malignancy"]["within_years"] == 3


@pytest.mark.parametrize("text,negated", [
    ("Patients must not have metastatic breast cancer (stage IV disease)", True),
    ("No distant metastases (M1 or stage IV)", True),
    # a denial of another item of the list does not reach the bracket
    ("advanced or recurrent (Stage IIIB not amenable for multimodality treatment) or "
     "metastatic (Stage IV) NSCLC", False),
])
def test_a_stage_in_brackets_restates_the_denial_before_it(text, negated):
    stage_iv = [r for r in parse_criterion(text, "inclusion")
                if r.kind == "stage" and "IV" in r.params["groups"]]
    assert [bool(r.params.get("negated")) for r in stage_iv] == [negated]


def test_a_cumulative_dose_bound_is_no_plain_history():
    found = [r.params for r in parse_criterion(
        "Patient has received prior treatment with anthracyclines at cumulative doses of "
        "450 mg/m² or more for doxorubicin, or 900 mg/m² or more for epirubicin", "exclusion")
        if r.kind == "prior_therapy"]
    assert found and all(p.get("dose_above") for p in found)
    assert not any(r.params.get("dose_above") for r in parse_criterion(
        "Prior anthracycline therapy", "exclusion"))


@pytest.mark.parametrize("text,value", [
    ("Absolute neutrophil count (ANC) ≥ 1500 x 10 ^9/L", 1.5),  # per µL under a per-litre unit
    ("ANC ≥ 1.5 x 10^9/L", 1.5),
    ("Platelets ≥ 100,000 x 10^9/L", 100),
    ("Platelets ≥ 100 x 10^9/L", 100),
])
def test_a_count_written_per_microlitre_under_a_per_litre_unit(text, value):
    found = [r.params for r in parse_criterion(text, "inclusion") if r.kind == "organ_function"]
    assert [p["value"] for p in found] == [value]


@pytest.mark.parametrize("text,kind", [
    ("Subjects receive at least one systemic antineoplastic treatment within 12 weeks since "
     "trial enrollment", "inclusion"),
    ("Patients who will receive at least one systemic treatment after enrollment", "inclusion"),
    ("Curatively treated malignant disease which requires no further antineoplastic treatment",
     "exclusion"),
])
def test_treatment_to_come_is_no_count_of_past_lines(text, kind):
    assert _history(text, kind) == []


def test_an_exclusion_for_a_finding_that_cannot_be_confirmed_requires_it():
    """"Inability to confirm ... one of the protocol-defined PIK3CA mutations" excludes the
    patients without it: PIK3CA-negative is what excludes."""
    assert _statuses("Inability to confirm biomarker eligibility based on valid results that "
                     "documents one of the protocol-defined PIK3CA mutations",
                     "exclusion") == [("PIK3CA", "negative")]
    assert _statuses("EGFR mutation positive", "exclusion") == [("EGFR", "positive")]


def test_a_sample_for_a_gene_test_and_estrogen_receptor_1():
    # a sample to test is no result; "Estrogen Receptor 1" is the ESR1 gene, not ER
    assert _statuses("Ability to provide a blood sample for ctDNA Estrogen Receptor 1 (ESR1) "
                     "mutation status determination by central testing") == []
    assert _statuses("Estrogen Receptor 1 (ESR1) mutation detected") == [("ESR1", "positive")]


@pytest.mark.parametrize("text,kind,state", [
    ("Patients with central nervous system metastasis (CNS) and/or cancerous meningitis and "
     "obvious symptoms;", "exclusion", "active"),
    ("Brain metastases with neurological symptoms", "exclusion", "active"),
    ("CNS metastases without clinical symptoms or with clinical symptoms controlled and "
     "stabilized for >=4 weeks after treatment", "inclusion", "stable"),
])
def test_brain_metastases_with_symptoms_are_active(text, kind, state):
    assert [r.params["state"] for r in parse_criterion(text, kind)
            if r.kind == "cns_metastases"] == [state]


@pytest.mark.parametrize("text", [
    "Patients with a differentiated-type intramucosal gastric cancer (<=2 cm in size)",
    "BCG-unresponsive non-muscle-invasive bladder cancer (NMIBC)",
])
def test_disease_confined_to_the_mucosa_is_not_metastatic(text):
    assert {"extent": "metastatic", "negated": True} in [
        r.params for r in parse_criterion(text, "inclusion") if r.kind == "extent"]


def test_a_denial_by_the_verb_after_the_mention():
    assert {"extent": "metastatic", "negated": True} in [
        r.params for r in parse_criterion("distant metastases are not diagnosed preoperatively",
                                          "inclusion") if r.kind == "extent"]
    assert {"extent": "metastatic"} in [
        r.params for r in parse_criterion("distant metastases are present", "inclusion")
        if r.kind == "extent"]


def test_named_prostate_grades_and_planned_brachytherapy():
    found = _kinds("Histologically proven low-grade or intermediate-grade prostate cancer (PC)")
    assert found["gleason"] == {"max_group": 3}
    assert _kinds("low-grade prostate cancer on active surveillance")["gleason"] == {
        "max_group": 1}
    assert "gleason" not in _kinds("low grade glioma")
    assert _kinds("Scheduled to undergo targeted local therapy (HDR brachytherapy).")[
        "extent"] == {"extent": "metastatic", "negated": True, "planned": True}


def test_a_diagnosis_after_its_operation_is_resected():
    assert _kinds("Histologically confirmed cervical cancer post hysterectomy with "
                  "intermediate-risk features")["extent"] == {"extent": "resected"}
    # an operation in passing is no extent of this disease
    assert "extent" not in _kinds("Patients with persistent post prostatectomy erectile "
                                  "dysfunction")


def test_a_gloss_defines_a_word_and_requires_nothing():
    text = ("Histologically confirmed non-metastatic invasive adenocarcinoma of the breast. "
            "Stage: T1-4, N0-3, M0 (M describes distant metastasis)")
    extents = [r.params for r in parse_criterion(text, "inclusion") if r.kind == "extent"]
    assert extents == [{"extent": "metastatic", "negated": True}]


@pytest.mark.parametrize(("text", "progressed"), [
    ("Documented disease progression to previous treatment with docetaxel regimen", True),
    ("Disease refractory to CDK4/6 inhibitors", True),
    ("Prior treatment with docetaxel", False),
    ("No disease progression during or following platinum-based chemotherapy", False),
])
def test_progression_on_a_therapy_is_marked(text, progressed):
    [therapy] = [r for r in parse_criterion(text, "inclusion") if r.kind == "prior_therapy"]
    assert bool(therapy.params.get("progressed")) is progressed


def test_a_generic_therapy_listed_beside_a_named_one_excludes_too():
    found = parse_criterion("Previous anti-cancer therapy or radiotherapy for any malignancy",
                            "exclusion")
    assert [r.params["classes"] for r in found] == [[], ["radiation"]]
    # a generic word qualifying the drug named is no list: only the drug
    only = parse_criterion("Prior anticancer therapy with pembrolizumab", "exclusion")
    assert [r.kind for r in only] == ["prior_therapy"]


def test_an_inclusion_saying_a_therapy_will_be_prohibited_demands_its_absence():
    found = parse_criterion("Prior treatment with pazopanib or any mTOR inhibitors will be "
                            "prohibited", "inclusion")
    assert [(r.kind, r.params["received"]) for r in found] == [("prior_therapy", False)]
