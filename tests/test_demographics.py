import pytest

from trialmatch.match.case import load_case
from trialmatch.nlp.demographics import find_demographics


@pytest.mark.parametrize(
    ("text", "age", "sex"),
    [
        ("A 52-year-old woman presents with a lung mass.", 52, "female"),
        ("67-year-old postmenopausal woman, screening mammogram", 67, "female"),
        ("34-year-old right-handed man with seizures", 34, "male"),
        ("Patient: 72 yo M, former smoker", 72, "male"),
        ("Age: 64\nSex: F\nSpecimen: left breast", 64, "female"),
        ("Gender: Male. Age: 58.", 58, "male"),
        ("5-year-old boy with an abdominal mass", 5, "male"),
        # No explicit statement: nothing is guessed.
        ("Tumor size: 3 cm; Ki-67: 30%; 5-year survival is discussed.", None, None),
        ("Stage IV lung adenocarcinoma, ECOG 1.", None, None),
        # Implausible numbers are misreads, not ages.
        ("Age: 450", None, None),
    ],
)
def test_find_demographics(text, age, sex):
    stated = find_demographics(text)
    assert (stated.age, stated.sex) == (age, sex)


def test_plain_text_case_takes_age_and_sex_from_its_note(tmp_path):
    note = tmp_path / "referral.txt"
    note.write_text("52-year-old woman. FINAL DIAGNOSIS: lung adenocarcinoma, stage IV.\n")
    case = load_case(note)
    assert case.age == 52 and case.sex == "female"
    assert case.from_notes == {"age": "52-year-old woman", "sex": "52-year-old woman"}


def test_case_file_values_win_over_the_notes(tmp_path):
    (tmp_path / "n.txt").write_text("61-year-old man with colon adenocarcinoma.\n")
    case_file = tmp_path / "case.yaml"
    case_file.write_text("id: c1\nage: 60\nnotes:\n  - path: n.txt\n")
    case = load_case(case_file)
    assert case.age == 60  # the case file's value
    assert case.sex == "male"  # the case file left it out
    assert case.from_notes == {"sex": "61-year-old man"}
