"""Histologic grade in its many written forms, normalised to G1-G4 with a detail."""

import pytest

from trialmatch.nlp.grade import find_grades, parse_grade


@pytest.mark.parametrize(
    ("text", "grade", "detail"),
    [
        ("Histologic grade: G2", "G2", None),
        ("G3: poorly differentiated", "G3", None),
        ("Gleason score 4+3=7", "G2", "Gleason 4+3=7 (Grade Group 3)"),
        ("Gleason Score: 3 + 4 = 7/10", "G2", "Gleason 3+4=7 (Grade Group 2)"),
        ("Gleason score 4 + 5 = 9", "G3", "Gleason 4+5=9 (Grade Group 5)"),
        ("Gleason 3+3=6", "G1", "Gleason 3+3=6 (Grade Group 1)"),
        ("Grade Group 4", "G3", "Grade Group 4"),
        ("Nottingham grade 3 (tubules 3, nuclei 3, mitoses 3)", "G3", "Nottingham grade 3"),
        ("Total Nottingham score: 7", "G2", "Nottingham score 7/9 (grade 2)"),
        ("Nottingham histologic score 5/9", "G1", "Nottingham score 5/9 (grade 1)"),
        ("Modified Bloom-Richardson grade: II", "G2", "Nottingham grade 2"),
        ("WHO grade IV", "G4", "WHO grade 4"),
        ("CNS WHO grade 2", "G2", "WHO grade 2"),
        ("Fuhrman nuclear grade 3", "G3", "Fuhrman grade 3"),
        ("WHO/ISUP grade 2", "G2", "WHO/ISUP grade 2"),
        ("well-differentiated adenocarcinoma", "G1", "well-differentiated"),
        ("moderately differentiated", "G2", "moderately differentiated"),
        ("moderately to poorly differentiated", "G3", "moderately to poorly differentiated"),
        ("poorly-differentiated squamous cell carcinoma", "G3", "poorly-differentiated"),
        ("undifferentiated carcinoma", "G4", "undifferentiated"),
        ("high-grade urothelial carcinoma", "G3", "high grade"),
        ("Low grade papillary urothelial carcinoma", "G1", "low grade"),
        ("tumor grade 3/3", "G3", None),
        ("Grade: 2 of 3", "G2", None),
        ("HISTOLOGIC GRADE: 2-3/3", "G3", None),
    ],
)
def test_parse_grade(text, grade, detail):
    found = parse_grade(text)
    assert found is not None
    assert found.grade == grade
    assert found.detail == detail


@pytest.mark.parametrize(
    "text",
    [
        "high-grade dysplasia in a tubular adenoma",
        "DCIS, nuclear grade 2, solid type",
        "Ductal carcinoma in situ, grade 3",
        "low-grade squamous intraepithelial lesion (LSIL)",
        "G2 phase arrest",
        "no grade assigned",
    ],
)
def test_not_a_tumour_grade(text):
    found = parse_grade(text)
    assert found is None or found.grade is None


def test_explicit_grade_beats_differentiation_words():
    found = parse_grade("Moderately differentiated. Histologic grade: G3.")
    assert found is not None and found.grade == "G3"


def test_mentions_have_offsets():
    text = "Invasive carcinoma. Nottingham grade 2."
    [mention] = find_grades(text)
    assert text[mention.start : mention.end] == mention.evidence
