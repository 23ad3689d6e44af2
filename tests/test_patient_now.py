"""The profile's `now` section: the patient now as the matcher reads them (issue 13)."""

from pathlib import Path

import pytest

from trialmatch.match.case import case_from_note, load_case
from trialmatch.match.engine import default_extractor, drug_therapy_reader, read_patient
from trialmatch.match.evaluate import lines_now
from trialmatch.match.now import patient_now
from trialmatch.match.report import now_rows, render_markdown
from trialmatch.nlp import course
from trialmatch.nlp.vocab import get_vocabulary

CASES = Path(__file__).resolve().parent.parent / "fixtures" / "cases"


def _now(case):
    profile, patient = read_patient(case, extractor=default_extractor(),
                                    vocabulary=get_vocabulary(),
                                    therapy_reader=drug_therapy_reader())
    return patient_now(case, patient).to_dict(), patient


def _values(now: dict) -> dict:
    return {name: fact["value"] for name, fact in now.items() if name != "labs"}


def test_a_stated_bone_recurrence_of_an_adjuvant_treated_breast_cancer():
    now, patient = _now(load_case(CASES / "case-breast-stated-recurrence.yaml"))
    values = _values(now)
    assert values["extent_now"] == "metastatic"
    assert values["recurrence"] == "distant"
    assert values["metastatic_sites"] == ["bone"]
    assert now["metastatic_sites"]["absent"] == ["brain"]
    assert values["brain_metastases"] == "none"
    assert values["heme_status"] == "not applicable"
    assert [(t["text"], t["setting"]) for t in values["treatments"]] == [
        ("doxorubicin + cyclophosphamide + paclitaxel (adjuvant)", "curative intent"),
        ("anastrozole (adjuvant)", "curative intent")]
    # Adjuvant courses are no line for advanced disease; they may count only when the
    # disease came back within months, which the case does not say (the matcher's range).
    assert values["advanced_lines"] == "0-2"
    assert (now["advanced_lines"]["fewest"], now["advanced_lines"]["most"]) == \
        lines_now(patient)[0]
    assert values["treatment_naive"] == "no"
    assert values["platinum_status"] == "not applicable"
    assert values["menopausal"] == "post"
    assert now["menopausal"]["evidence"].startswith("stated in the case file")
    assert values["ecog"] == 1
    assert now["labs"]["platelets"]["value"] == 210.0
    assert now["labs"]["platelets"]["unit"] == "10^9/L"
    assert now["labs"]["creatinine"] == {"value": 0.9, "unit": "mg/dL",
                                         "evidence": "stated in the case file: labs creatinine"}


def test_a_castration_resistant_prostate_cancer_with_de_novo_bone_metastases():
    now, _ = _now(load_case(CASES / "case-prostate-brca2.yaml"))
    values = _values(now)
    assert values["extent_now"] == "metastatic"
    assert values["metastatic_sites"] == ["bone"]
    assert values["castration_status"] == "resistant"
    assert "castration-resistant" in now["castration_status"]["evidence"]
    assert values["menopausal"] == "not applicable"
    assert values["treatment_naive"] == "no"
    assert now["labs"]["hemoglobin"]["value"] == 11.9


def test_an_untreated_metastatic_lung_cancer_read_from_one_note():
    now, _ = _now(load_case(CASES / "case-nsclc-ros1.txt"))
    values = _values(now)
    assert values["extent_now"] == "metastatic"
    assert values["recurrence"] == "none"
    assert values["brain_metastases"] == "none"
    assert values["treatments"] == []
    assert values["advanced_lines"] == 0
    assert values["treatment_naive"] == "yes"
    assert values["ecog"] == 1
    assert now["ecog"]["evidence"] == "notes: ECOG performance status 1"


def test_blood_cancers_relapsed_refractory_and_newly_diagnosed():
    dlbcl, _ = _now(load_case(CASES / "case-dlbcl.yaml"))
    # A complete metabolic response, then a relapse: relapsed now, not in remission.
    assert dlbcl["heme_status"]["value"] == "relapsed"
    assert dlbcl["recurrence"]["value"] == "not applicable"
    assert dlbcl["labs"]["CrCl"] == {"value": 56.0, "unit": "mL/min",
                                     "evidence": "notes: CrCl 56 mL/min"}
    myeloma, _ = _now(load_case(CASES / "case-myeloma.yaml"))
    assert myeloma["heme_status"]["value"] == "refractory"
    aml, _ = _now(load_case(CASES / "case-aml-flt3.yaml"))
    assert aml["heme_status"]["value"] == "newly diagnosed"
    assert aml["castration_status"]["value"] == "not applicable"


def test_an_ovarian_cancer_after_primary_treatment():
    now, _ = _now(load_case(CASES / "case-ovarian-brca.yaml"))
    values = _values(now)
    assert values["extent_now"] == "locally advanced"  # FIGO IIIC
    assert values["metastatic_sites"] == []
    assert values["brain_metastases"] == "none"  # no distant spread, so none in the brain
    assert {t["setting"] for t in values["treatments"]} == {"curative intent"}


@pytest.mark.parametrize("text, expected", [
    ("Relapsed AML, now in CR2 after FLAG-Ida; MRD negative.", "remission"),
    ("AML in CR1 after 7+3 in 2024. Relapse 10/2026 with 30% blasts.", "relapsed"),
    ("Primary refractory AML after 7+3 and HiDAC.", "refractory"),
    ("Newly diagnosed AML with NPM1 mutation.", "newly diagnosed"),
])
def test_heme_status_from_one_note(text, expected):
    now, _ = _now(case_from_note(text, "note"))
    assert now["heme_status"]["value"] == expected


@pytest.mark.parametrize("text, expected", [
    ("Stage IIB breast cancer 2014, lumpectomy and adjuvant AC-T. 2026: biopsy-proven "
     "bone metastasis; metastatic recurrence.", ("metastatic", "distant")),
    ("Colon adenocarcinoma pT3 N1 M0, stage IIIB, resected 2025; on surveillance.",
     ("NED", "unknown")),
    ("Stage IA lung adenocarcinoma, newly diagnosed.", ("localized", "none")),
])
def test_extent_and_recurrence_from_one_note(text, expected):
    now, _ = _now(case_from_note(text, "note"))
    assert (now["extent_now"]["value"], now["recurrence"]["value"]) == expected


def test_platinum_status_and_lines_from_one_note():
    text = ("High-grade serous ovarian carcinoma, FIGO IIIC. She received carboplatin and "
            "paclitaxel x6, completed 02/2026. CT 06/2026: new peritoneal nodules, recurrence.")
    now, _ = _now(case_from_note(text, "note"))
    assert now["platinum_status"]["value"] == "resistant"  # 4 months: under six
    assert now["treatment_naive"]["value"] == "no"


@pytest.mark.parametrize("text, expected", [
    ("Platinum-sensitive recurrence of HGSOC.", "sensitive"),
    ("She has platinum-resistant disease.", "resistant"),
    ("Platinum-free interval of 14 months.", "sensitive"),
    ("PFI 3 months.", "resistant"),
    ("Recurrence 4 months after completing carboplatin.", "resistant"),
    ("Last carboplatin 02/2026. CT 10/2026: new peritoneal nodules.", "sensitive"),
    ("Last carboplatin 02/2026. CT 06/2026: new peritoneal nodules.", "resistant"),
    ("If platinum-resistant, consider weekly paclitaxel.", None),
    ("Carboplatin 02/2026. CT 06/2026: no evidence of recurrence.", None),
])
def test_platinum_status(text, expected):
    found = course.find_platinum_status([text])
    assert (found[0] if found else None) == expected


@pytest.mark.parametrize("text, expected", [
    ("She is postmenopausal.", "post"),
    ("Premenopausal woman, regular menses.", "pre"),
    ("S/p TAH-BSO in 2010.", "post"),
    ("LMP 2 years ago.", "post"),
    ("38-year-old with regular menses.", "pre"),
    ("Not postmenopausal.", None),
    ("Family history: mother with breast cancer.", None),
])
def test_menopausal_status(text, expected):
    found = course.find_menopausal_status([text])
    assert (found[0] if found else None) == expected


@pytest.mark.parametrize("text, expected", [
    ("MRI brain 10/2026: two supratentorial mets s/p SRS, stable.", "treated, stable"),
    ("MRI brain: leptomeningeal enhancement along the cerebellar folia, c/w leptomeningeal "
     "metastases.", "leptomeningeal"),
    ("MRI brain: three new untreated brain metastases.", "untreated"),
    ("MRI brain: no intracranial metastases.", None),
])
def test_brain_metastasis_state(text, expected):
    found = course.brain_metastasis_state([text], "")
    assert (found[0] if found else None) == expected


@pytest.mark.parametrize("text, drugs, progressed", [
    ("Progressed on osimertinib after 14 months.", ["osimertinib"], True),
    ("FOLFOX until progression in 2025.", ["oxaliplatin"], False),  # "FOLFOX" names no drug
    ("Carboplatin and pemetrexed with partial response, no progression.", ["pemetrexed"],
     False),
])
def test_progressed_on(text, drugs, progressed):
    assert bool(course.progressed_on(drugs, [text])) is progressed


def test_the_reports_show_the_patient_now():
    document = {"case_id": "c", "profile": {"now": {
        "extent_now": {"value": "metastatic", "evidence": "notes: bone metastasis"},
        "metastatic_sites": {"value": ["bone"], "absent": ["brain"], "evidence": ""},
        "heme_status": {"value": "not applicable", "evidence": ""},
        "treatments": {"value": [{"text": "FOLFOX", "setting": "advanced", "line": 1,
                                  "progressed": "yes", "evidence": "notes: ..."}],
                       "evidence": ""},
        "platinum_status": {"value": "unknown", "evidence": ""},
        "labs": {"creatinine": {"value": 1.1, "unit": "mg/dL", "evidence": "Cr 1.1"}}}},
        "trials": [], "excluded": [], "protocols": [], "testing_gaps": [],
        "discrepancies": [], "first_opinion": None, "disclaimer": "d"}
    rows = now_rows(document["profile"])
    assert ("Extent now", "metastatic", "notes: bone metastasis") in rows
    assert ("Metastatic sites", "bone (not brain)", "") in rows
    assert ("Treatment", "FOLFOX (setting advanced, line 1, progressed on it)", "notes: ...") \
        in rows
    assert ("Labs", "creatinine 1.1 mg/dL", "Cr 1.1") in rows
    assert not any(fact in ("Blood cancer status", "Platinum status") for fact, _, _ in rows)
    assert "- **Extent now:** metastatic" in render_markdown(document)
