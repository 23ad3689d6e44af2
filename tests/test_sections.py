"""Report sections and their weights (data/sections.json)."""

import pytest

from trialmatch.nlp.sections import find_sections, load_section_rules, section_at

NOTE = """CLINICAL HISTORY:
History of breast cancer; rule out metastasis.

GROSS DESCRIPTION:
Received in formalin, a core biopsy.

FINAL DIAGNOSIS:
Lung, right upper lobe, biopsy: adenocarcinoma.

Comment: see addendum.
"""


def test_sections_cover_the_note_in_order():
    sections = find_sections(NOTE)
    names = [s.name for s in sections]
    assert names == ["clinical_history", "gross", "final_diagnosis", "comment"]
    assert sections[0].start == 0
    assert all(a.end == b.start for a, b in zip(sections, sections[1:], strict=False))
    assert sections[-1].end == len(NOTE)


def test_weights_rank_diagnosis_over_history():
    sections = {s.name: s for s in find_sections(NOTE)}
    assert sections["final_diagnosis"].weight > sections["gross"].weight
    assert sections["clinical_history"].weight == 0.0


def test_section_at_finds_the_holder():
    sections = find_sections(NOTE)
    offset = NOTE.index("adenocarcinoma")
    held = section_at(sections, offset)
    assert held is not None and held.name == "final_diagnosis"
    assert NOTE[held.body_start :].lstrip().startswith("Lung")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Diagnosis: invasive carcinoma", ["final_diagnosis"]),
        ("A. FINAL DIAGNOSIS\nskin, excision", ["final_diagnosis"]),
        ("Sex: F. Received fresh. FINAL DIAGNOSIS: carcinoma. COMMENT: none.",
         ["body", "final_diagnosis", "comment"]),
        ("SYNOPTIC REPORT - invasive carcinoma", ["synoptic"]),
        ("Molecular Results:\nEGFR exon 19 deletion detected", ["molecular"]),
        ("ADDENDUM: KRAS G12C", ["addendum"]),
        ("Pre-operative diagnosis: lung mass", ["clinical_history"]),
        ("The diagnosis: was discussed", ["body"]),  # mid-sentence lower case is prose
        ("plain text without headers", ["body"]),
        # Title-case headers of several words inside merged lines, colon after them.
        ("Specimen: colon. Pre-Op Diagnosis : colon cancer. Gross Description: a segment.",
         ["body", "clinical_history", "gross"]),
        ("Received fresh. Clinical diagnosis: tumor.", ["body"]),  # sentence case is prose
        ("Service: urology. Clinical Diagnosis and History: bladder mass.",
         ["body", "clinical_history"]),
        # A history found inside merged lines ends at the next field label.
        ("Source: breast. Clinical History: ductal carcinoma;. HER2 IHC: not available. "
         "FISH result: amplified.", ["body", "clinical_history", "body"]),
    ],
)
def test_headers_as_written(text, expected):
    assert [s.name for s in find_sections(text)] == expected


def test_rules_file_loads_and_is_consistent():
    rules = load_section_rules()
    assert rules.header_kind["FINAL DIAGNOSIS"][0] == "final_diagnosis"
    assert rules.header_kind["CLINICAL HISTORY"][1] == 0.0
