"""The words a reader sees: OncoTree codes named, baskets in words, score parts, one-line
reasons, stage and biomarkers (trialmatch.match.wording)."""

import pytest

from trialmatch.match import wording


@pytest.mark.parametrize(("reason", "expected"), [
    ("Lung Adenocarcinoma (LUAD) matches LUNG, NSCLC",
     "Lung Adenocarcinoma (LUAD) matches Lung (LUNG), Non-Small Cell Lung Cancer (NSCLC)"),
    ("accepts the cancer type (LUNG, NSCLC)",
     "accepts the cancer type: Lung (LUNG), Non-Small Cell Lung Cancer (NSCLC)"),
    ("Lung Adenocarcinoma (LUAD) is not BRAIN", "Lung Adenocarcinoma (LUAD) is not CNS/Brain "
     "(BRAIN)"),
    ("cancer subtype not documented (X; trial requires LUAD, LUSC)",
     "cancer subtype not documented (X; trial requires Lung Adenocarcinoma (LUAD), "
     "Lung Squamous Cell Carcinoma (LUSC))"),
    # A gene that is also a code, outside a list of codes, stays a gene.
    ("requires ATM mutation", "requires ATM mutation"),
    ("KRAS negative (trial: KRAS G12C)", "KRAS negative (trial: KRAS G12C)"),
    ("stage IV matches IV or IVA", "stage IV matches IV or IVA"),
    ("reached through _ANY and _SOLID.", "reached through any cancer and any solid tumour."),
    ("", ""),
])
def test_codes_are_named_and_baskets_in_words(reason, expected):
    assert wording.name_codes(reason) == expected


def test_score_parts_and_verdict_lines_in_words():
    trial = {"verdict": "possibly_eligible", "score_parts": {
        "specificity": 0.2, "certainty": 0.5, "status": 1.0, "location": None},
        "score_basis": "basket trial (any, solid); needs what the notes do not report: NTRK1 "
                       "not documented", "unknown_facts": ["NTRK1 not documented",
                                                           "ECOG not documented"]}
    assert wording.score_words(trial) == ("fit to the patient 0.20, criteria settled 0.50, "
                                          "recruitment 1.00")
    assert wording.verdict_line(trial) == ("Possibly eligible: basket trial (any, solid); to "
                                           "check: NTRK1 not documented and 1 more.")
    eligible = {"verdict": "eligible", "score_basis": "for the patient's exact cancer type "
                                                      "(LUAD)"}
    assert wording.verdict_line(eligible) == ("Eligible: for the patient's exact cancer type: "
                                              "Lung Adenocarcinoma (LUAD).")


@pytest.mark.parametrize(("phases", "text"), [
    (["PHASE1", "PHASE2"], "phase 1/2"), (["PHASE3"], "phase 3"), ([], "phase not stated"),
    (["NA"], "no phase"), (["EARLY_PHASE1"], "early phase 1"),
])
def test_phases(phases, text):
    assert wording.phases_text(phases) == text


def test_patient_now():
    profile = {"cancer_type": {"code": "LUAD", "name": "Lung Adenocarcinoma"},
               "stage": {"prefix": "c", "t": "T2b", "n": "N2", "m": "M1b", "group": "IVA"},
               "biomarkers": [
                   {"marker": "EGFR", "alteration": "exon 19 deletion", "status": "positive"},
                   {"marker": "PD-L1", "value": 20.0, "unit": "TPS", "status": "positive"},
                   {"marker": "HER2", "value": 2, "unit": "IHC", "status": "equivocal"},
                   {"marker": "ALK", "status": "negative"}]}
    assert wording.cancer_text(profile) == "Lung Adenocarcinoma (LUAD)"
    assert wording.stage_text(profile) == "stage IVA (cT2b N2 M1b)"
    assert wording.key_biomarkers(profile) == ("EGFR exon 19 deletion; PD-L1 TPS 20%; "
                                               "HER2 IHC 2+ (equivocal); negative: ALK")
    assert wording.stage_text({}) == "stage not reported"
    assert wording.key_biomarkers({}) == "no biomarker result in the notes"
    assert wording.discrepancy_field("biomarker:EGFR") == "EGFR result"
