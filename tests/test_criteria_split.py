"""Splitting eligibility text into criteria: headers, lists, nesting, cohorts, offsets."""

import pytest

from trialmatch.nlp.criteria import normalise_criteria_text, split_criteria

MODERN = """Inclusion Criteria:

* Age ≥ 18 years
* Histologically confirmed NSCLC
* Adequate organ function, defined as:

  * ANC ≥ 1.5 x 10^9/L
  * Platelets ≥ 100 x 10^9/L

Exclusion Criteria:

* Active brain metastases
* Prior treatment with a PD-1 inhibitor
"""

PDQ = """DISEASE CHARACTERISTICS:

Histologically proven Ewing's sarcoma

No prior or current CNS metastases.

PRIOR/CONCURRENT THERAPY:

No prior docetaxel

PATIENT CHARACTERISTICS:

Age: 18 and over

Hematopoietic:

ANC greater than 1,500/mm3

Other:

Not pregnant or nursing
"""


def test_modern_layout_kinds_and_order():
    criteria = split_criteria(MODERN)
    assert [c.kind for c in criteria] == ["inclusion"] * 5 + ["exclusion"] * 2
    assert [c.position for c in criteria] == list(range(7))
    assert criteria[0].text == "Age ≥ 18 years"
    assert criteria[3].text == "ANC ≥ 1.5 x 10^9/L"


def test_offsets_point_into_the_text():
    for text in (MODERN, PDQ):
        clean = normalise_criteria_text(text)
        for criterion in split_criteria(text):
            assert clean[criterion.start:criterion.end] == criterion.text


def test_markdown_escapes_keep_length():
    text = "Inclusion Criteria:\n\n* Age \\>18 years\n* ANC \\>= 1500/mm3"
    assert len(normalise_criteria_text(text)) == len(text)
    assert split_criteria(text)[0].text == "Age  >18 years"


def test_pdq_sections_are_inclusion_with_labels():
    criteria = split_criteria(PDQ)
    texts = [c.text for c in criteria]
    assert "No prior docetaxel" in texts
    assert all(c.kind == "inclusion" for c in criteria)
    assert "Not pregnant or nursing" in texts


@pytest.mark.parametrize("header,kind", [
    ("Inclusion Criteria:", "inclusion"),
    ("INCLUSION CRITERIA", "inclusion"),
    ("Key Inclusion Criteria:", "inclusion"),
    ("Eligibility:", "inclusion"),
    ("Exclusion criteria:", "exclusion"),
    ("KEY EXCLUSION CRITERIA:", "exclusion"),
    ("Patients must not have any of the following:", "exclusion"),
    ("DISEASE CHARACTERISTICS:", "inclusion"),
    ("PATIENT CHARACTERISTICS:", "inclusion"),
    ("PRIOR CONCURRENT THERAPY:", "inclusion"),
])
def test_header_forms(header, kind):
    text = f"Exclusion Criteria:\n\n* placeholder line one\n\n{header}\n\n* Measurable disease"
    criteria = split_criteria(text)
    assert criteria[-1].text == "Measurable disease"
    assert criteria[-1].kind == kind


def test_text_without_headers_is_inclusion():
    criteria = split_criteria("Age 18 or older\nECOG 0-1\nMeasurable disease")
    assert [c.kind for c in criteria] == ["inclusion"] * 3
    assert len(criteria) == 3


@pytest.mark.parametrize("bullet", ["* ", "- ", "• ", "1. ", "1) ", "(1) ", "a. ", "i. "])
def test_bullet_styles_are_stripped(bullet):
    criteria = split_criteria(f"Inclusion Criteria:\n{bullet}ECOG 0-1\n{bullet}Age over 18")
    assert [c.text for c in criteria] == ["ECOG 0-1", "Age over 18"]


def test_cohort_blocks_set_cohort_until_next_block():
    text = ("Inclusion Criteria:\n\n* ECOG 0-1\n\nCohort A:\n\n* EGFR exon 19 deletion\n\n"
            "Cohort B:\n\n* KRAS G12C mutation\n\nExclusion Criteria:\n\n* Pregnancy")
    criteria = split_criteria(text)
    cohorts = {c.text: c.cohort for c in criteria}
    assert cohorts == {"ECOG 0-1": None, "EGFR exon 19 deletion": "Cohort A",
                       "KRAS G12C mutation": "Cohort B", "Pregnancy": None}


def test_cohort_label_with_text_on_the_line():
    text = "Inclusion Criteria:\n* Part 1: Advanced solid tumors\n* Part 2: NSCLC"
    criteria = split_criteria(text)
    assert [c.cohort for c in criteria] == ["Part 1", "Part 2"]


def test_a_parts_heading_line_scopes_the_list_below_it():
    # "Part A1: Monotherapy Dose Escalation Inclusion Criteria" heads the numbered items that
    # follow; a criterion that merely ends in "RECIST criteria" heads nothing.
    text = ("Inclusion Criteria:\n\n1. Age > 18 years old\n\n"
            "Part A1: Monotherapy Dose Escalation Inclusion Criteria\n\n"
            "1\\. Advanced solid malignancy for whom no standard therapy is available.\n\n"
            "Part B2: CFI-402411 in Combination with Pembrolizumab Expansion Inclusion Criteria"
            "\n\n1. NSCLC\n2. urothelial cancer\n")
    cohorts = {c.text: c.cohort for c in split_criteria(text)}
    assert cohorts == {"Age > 18 years old": None,
                       "Advanced solid malignancy for whom no standard therapy is available.":
                       "Part A1", "NSCLC": "Part B2", "urothelial cancer": "Part B2"}
    line = ("* Parts A and B/B2: Histologically confirmed advanced solid tumor, with measurable "
            "disease according to RECIST criteria")
    [criterion] = split_criteria("Inclusion Criteria:\n" + line)
    assert criterion.cohort == "Parts A and B/B2" and "RECIST" in criterion.text


def test_a_heading_of_cohort_names_scopes_the_lines_below_it():
    # "Part 1 and Part 2 (Cohorts A to C)" and "Part 2 (Cohorts D to G)" head the bullets
    # below them; "Part 2 (Cohort H): confirmed diagnosis of WM" is a heading with its first
    # criterion on the line.
    text = ("Inclusion Criteria:\n\n* ECOG 0-2\n\nPart 1 and Part 2 (Cohorts A to C)\n\n"
            "* Has a confirmed diagnosis of CLL/SLL\n\nPart 2 (Cohorts D to G)\n\n"
            "* Participants with pathologically confirmed MCL\n\n"
            "Part 2 (Cohort H): confirmed diagnosis of WM\n\n* Has active disease\n")
    cohorts = {c.text: c.cohort for c in split_criteria(text)}
    assert cohorts == {"ECOG 0-2": None,
                       "Has a confirmed diagnosis of CLL/SLL": "Part 1 and Part 2 (Cohorts A to C)",
                       "Participants with pathologically confirmed MCL": "Part 2 (Cohorts D to G)",
                       "confirmed diagnosis of WM": "Part 2 (Cohort H)",
                       "Has active disease": "Part 2 (Cohort H)"}


def test_one_of_the_following_is_one_criterion():
    text = ("Inclusion Criteria:\n* Patients must have one of the following:\n"
            "  * EGFR exon 19 deletion\n  * EGFR L858R\n* ECOG 0-1")
    criteria = split_criteria(text)
    assert len(criteria) == 2
    assert criteria[0].text.startswith("Patients must have one of the following:")
    assert criteria[0].text.endswith("EGFR L858R")


def test_negative_lead_in_makes_sub_bullets_exclusion():
    text = ("Inclusion Criteria:\n* ECOG 0-1\n* Patients must not have:\n"
            "  * active hepatitis B\n  * HIV infection")
    criteria = split_criteria(text)
    kinds = {c.text: c.kind for c in criteria}
    assert kinds["active hepatitis B"] == "exclusion"
    assert kinds["HIV infection"] == "exclusion"
    assert kinds["ECOG 0-1"] == "inclusion"


def test_header_with_criterion_on_same_line():
    criteria = split_criteria("Inclusion criteria: age 18 or older\nExclusion criteria: HIV")
    assert [(c.kind, c.text) for c in criteria] == [("inclusion", "age 18 or older"),
                                                   ("exclusion", "HIV")]


def test_empty_text_gives_no_criteria():
    assert split_criteria("") == []
    assert split_criteria("   \n\n  ") == []


@pytest.mark.parametrize("text", ["Inclusion Criteria:\n\xa0\xa0* Age >= 18 years",
                                  "\u2003ECOG 0-1", "Exclusion Criteria:\r\n* Pregnancy\r\n"])
def test_unusual_whitespace_keeps_offsets(text):
    clean = normalise_criteria_text(text)
    assert len(clean) == len(text)
    criteria = split_criteria(text)
    assert criteria
    for criterion in criteria:
        assert clean[criterion.start:criterion.end] == criterion.text


def test_the_title_states_the_population_its_criteria_leave_out():
    from trialmatch.models import TrialText
    from trialmatch.nlp.criteria import TITLE_PREFIX, annotate_trial

    def title_requirements(title):
        trial = TrialText("NCT90000001", title, [], [], "Inclusion Criteria:\n* Age >= 18")
        found = [c for c in annotate_trial(trial).criteria if c.text.startswith(TITLE_PREFIX)]
        return [(r.kind, r.params) for c in found for r in c.requirements]

    egfr = title_requirements("Lazertinib for NSCLC Harboring Activating EGFR Mutations in TKI "
                              "naive Patients")
    assert any(k == "biomarker" and p["any_of"][0]["marker"] == "EGFR" and
               p["any_of"][0]["status"] == "positive" for k, p in egfr)
    assert any(k == "prior_therapy" and p["received"] is False for k, p in egfr)
    # the study's own drugs are no history; "progressing after" makes one
    assert title_requirements("A Phase I Trial of 5-Fluorouracil Given With Leucovorin") == []
    after = title_requirements("Cabazitaxel in Metastatic NSCLC Progressing After Docetaxel")
    assert any(k == "prior_therapy" and p["received"] and p["drugs"] == ["docetaxel"]
               for k, p in after)
    assert all(k != "prior_therapy" for k, _ in title_requirements(
        "A Chemotherapy-Free Induction Regimen for Ph+ ALL"))
    # MMR-p is mismatch-repair proficient: a proficient (negative) requirement, never dMMR
    mmr = [p["any_of"] for k, p in title_requirements(
        "Vaccine for Patients With Stage IV MMR-p Colorectal Cancer") if k == "biomarker"]
    assert mmr == [[{"marker": "MMR", "alterations": [], "status": "negative", "min_value": None,
                     "max_value": None, "unit": None, "germline": None}]]
    # the course a title's population words name is read even beside the study treatment
    course = title_requirements("Iberdomide Maintenance Following Autologous Stem Cell "
                                "Transplant in Participants With Newly Diagnosed Myeloma")
    assert ("extent", {"extent": "recurrent", "negated": True}) in course
    # "With/Without <drug>" names the arms: it negates nothing after it
    arms = title_requirements("RC108 With Furmonertinib With/Without Toripalimab in Patients "
                              "With EGFR-mutated NSCLC")
    assert [p["any_of"][0]["status"] for k, p in arms if k == "biomarker"] == ["positive"]
    # a marker named for two cohorts is no requirement
    assert all(k != "biomarker" for k, _ in title_requirements(
        "Asciminib in Patients With CML-CP Without T315I Mutation and in Patients With CML-CP "
        "With T315I Mutation"))


def test_the_official_title_adds_what_the_brief_title_leaves_out():
    from trialmatch.models import TrialText
    from trialmatch.nlp.criteria import OFFICIAL_TITLE_PREFIX, TITLE_PREFIX, annotate_trial

    trial = TrialText(
        "NCT90000002", "Talquetamab Combinations in Participants With Relapsed or Refractory "
        "Myeloma", [], [], "Inclusion Criteria:\n* Age >= 18",
        official_title="A Phase 3 Study of Talquetamab in Participants With Relapsed or "
        "Refractory Myeloma Who Have Received 1 to 4 Prior Lines of Therapy Including an "
        "Anti-CD38 Antibody")
    criteria = annotate_trial(trial).criteria
    brief = [r for c in criteria if c.text.startswith(TITLE_PREFIX) for r in c.requirements]
    official = [r for c in criteria if c.text.startswith(OFFICIAL_TITLE_PREFIX)
                for r in c.requirements]
    assert [(r.kind, r.params) for r in brief] == [("extent", {"extent": "recurrent"})]
    assert ("prior_lines", {"min": 1, "max": 4}) in [(r.kind, r.params) for r in official]
    assert any(r.kind == "prior_therapy" and r.params["classes"] == ["anti-CD38"]
               for r in official)
    # nothing the brief title already states is read twice
    assert all(r.kind != "extent" for r in official)
    # a history in the title ends where the study's comparison begins
    compared = TrialText("NCT90000003", "Exemestane Versus Tamoxifen in Early Breast Cancer",
                         [], [], "Inclusion Criteria:\n* Age >= 18",
                         official_title="A Trial in Women Who Have Received Adjuvant "
                         "Tamoxifen, Comparing Exemestane With Further Tamoxifen")
    assert not [c for c in annotate_trial(compared).criteria
                if c.text.startswith(OFFICIAL_TITLE_PREFIX)]


def test_a_criterion_naming_its_own_cohort_belongs_to_it():
    criteria = split_criteria(
        "Inclusion Criteria:\n"
        "- At least 2 lines of prior therapy (Part 1 only)\n"
        "- No prior chemotherapy (for phase II part)\n"
        "- ER-positive (Group 1) or triple-negative (Group 2) breast cancer\n"
        "Exclusion Criteria:\n"
        "- Prior systemic therapy for advanced RCC is not allowed for patients enrolled to "
        "Cohort B (treatment-naive group).\n")
    assert [c.cohort for c in criteria] == ["Part 1", "Phase II", None, "Cohort B"]


def test_items_in_another_kind_of_bullet_under_a_lead_in_are_its_sub_bullets():
    criteria = split_criteria(
        "Inclusion Criteria:\n"
        "9. Age >= 18 years\n"
        "10. Patients must have one of the following:\n\n"
        "* Creatinine >= 2 mg/dL\n"
        "* Total bilirubin >= 2 mg/dL\n"
        "* ECOG Performance Status equal to 3 or 4\n"
        "11. Signed informed consent\n")
    texts = [c.text for c in criteria]
    assert any(t.startswith("Patients must have one of the following:") and "Creatinine" in t
               and "ECOG" in t for t in texts)
    assert "Creatinine >= 2 mg/dL" not in texts
    assert "Signed informed consent" in texts


def test_an_inclusion_saying_the_patient_has_a_condition_is_a_condition_requirement():
    from trialmatch.models import TrialText
    from trialmatch.nlp.criteria import annotate_trial

    def conditions(line):
        trial = TrialText("NCT90000015", "A Digital Therapeutic for Cancer Patients", [], [],
                          f"Inclusion Criteria:\n* {line}")
        return [r.params["condition"] for c in annotate_trial(trial).criteria
                for r in c.requirements if r.kind == "condition"]

    assert conditions("Are experiencing at least moderate anxiety") == ["anxiety"]
    # negated, historical, excepted or resolved: not had
    assert conditions("Patient must have no peripheral neuropathy precluding a nerve graft") == []
    assert conditions("Patients with a history of seizures must be well controlled") == []
    assert conditions("Resolution of toxic effects of prior therapy (except alopecia)") == []


@pytest.mark.parametrize("heading,cohort", [
    # a heading that limits a kind of criteria to a phase, cohort or arm scopes them ...
    ("Key exclusion criteria for the phase III only:", "Phase III"),
    ("Additional inclusion criteria for Arm C", "Arm C"),
    # ... and a cohort named by what it holds is a cohort
    ("Esophageal Cohort Expansion:", "Esophageal Cohort Expansion"),
    ("PIK3CA mutant cohort:", "PIK3CA mutant cohort"),
])
def test_a_heading_naming_a_cohort_scopes_the_criteria_below_it(heading, cohort):
    text = (f"Inclusion Criteria:\n\n* ECOG 0-1\n\n{heading}\n\n* Prior CDK4/6 inhibitor\n\n"
            "Exclusion Criteria:\n\n* Pregnancy")
    cohorts = {c.text: c.cohort for c in split_criteria(text)}
    assert cohorts == {"ECOG 0-1": None, "Prior CDK4/6 inhibitor": cohort, "Pregnancy": None}


def test_patients_who_may_be_either_of_the_following_meet_any_of_them():
    text = ("Inclusion Criteria:\n* Patients may be either:\n  * ER-positive\n"
            "  * HER2-positive\n* ECOG 0-1")
    criteria = split_criteria(text)
    assert [c.text.split("\n")[0] for c in criteria] == ["Patients may be either:", "ECOG 0-1"]


@pytest.mark.parametrize("text,expected", [
    # a lead-in naming the phase its patients enrol in scopes its sub-bullets
    ("Inclusion Criteria:\n\n1. Advanced solid tumor or malignant lymphoma.\n"
     "2. In addition, subjects enrolled in the Dose Confirmation Phase must meet the "
     "following criteria:\n\n   * Tissue block confirmation of PI3K alpha mutation.\n"
     "   * Measurable disease per RECIST v1.1;\n\nExclusion Criteria:\n\n1. Pregnancy",
     {"Advanced solid tumor or malignant lymphoma.": None,
      "Tissue block confirmation of PI3K alpha mutation.": "Dose Confirmation Phase",
      "Measurable disease per RECIST v1.1;": "Dose Confirmation Phase", "Pregnancy": None}),
    # a label line nested in an item heads the lines below it
    ("Inclusion Criteria:\n\n1. Consent.\n2. Patients have to meet the following "
     "criteria for each part:\n\n   Part 1:\n\n   Pathological diagnosis of a solid "
     "tumor.\n\n   Part 2A and 2B:\n\n   Diagnosis of AML.\n3. ECOG 0-1\n",
     {"Pathological diagnosis of a solid tumor.": "Part 1", "Diagnosis of AML.": "Part 2A and 2B",
      "ECOG 0-1": None, "Consent.": None}),
])
def test_a_cohort_named_inside_an_item_scopes_the_lines_below_it(text, expected):
    cohorts = {c.text: c.cohort for c in split_criteria(text)}
    assert {line: cohorts[line] for line in expected} == expected


def test_a_lead_in_saying_what_was_not_received_makes_its_items_exclusions():
    text = ("Inclusion Criteria:\n\n* Participants should have not yet received treatment for "
            "their breast cancer, including:\n\n  * chemotherapy,\n  * trastuzumab.\n"
            "* Patients who have not undergone HER2 testing must provide tissue:\n\n"
            "  * archival block\n")
    kinds = {c.text: c.kind for c in split_criteria(text)}
    assert kinds["chemotherapy,"] == "exclusion" and kinds["trastuzumab."] == "exclusion"
    # a relative clause is no lead-in of exclusions
    assert kinds["archival block"] == "inclusion"
