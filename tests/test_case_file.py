"""Case files (SPEC "Case file"): YAML, JSON, plain notes, and every validation error."""

import json

import pytest

from trialmatch.errors import InputError
from trialmatch.match.case import load_case

NOTE = "FINAL DIAGNOSIS: Lung, right upper lobe, biopsy: adenocarcinoma.\n"

FULL_CASE = """\
id: case-017
age: 64
sex: female
ecog: 1
location: {country: United States, state: Ohio}
notes:
  - path: notes/case-017-pathology.txt
  - text: "Addendum: EGFR exon 19 deletion detected by NGS."
prior_therapies: [carboplatin, pemetrexed]
first_opinion:
  diagnosis: lung adenocarcinoma
  stage: IIIA
  biomarkers: [PD-L1 TPS 10%]
  plan: concurrent chemoradiation, then durvalumab
  trials_considered: [nct01234567]
"""


@pytest.fixture
def case_dir(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "case-017-pathology.txt").write_text(NOTE)
    return tmp_path


def test_load_full_yaml_case(case_dir):
    path = case_dir / "case.yaml"
    path.write_text(FULL_CASE)
    case = load_case(path)
    assert (case.id, case.age, case.sex, case.ecog) == ("case-017", 64.0, "female", 1)
    assert case.location == {"country": "United States", "state": "Ohio"}
    assert case.note_texts == [NOTE, "Addendum: EGFR exon 19 deletion detected by NGS."]
    assert case.notes[0].source.endswith("notes/case-017-pathology.txt")
    assert case.prior_therapies == ["carboplatin", "pemetrexed"]
    assert case.first_opinion.stage == "IIIA"
    assert case.first_opinion.trials_considered == ["NCT01234567"]


def test_load_json_case_with_minimal_fields(case_dir):
    path = case_dir / "case.json"
    path.write_text(json.dumps({"id": "j1", "notes": [{"text": NOTE}]}))
    case = load_case(path)
    assert case.id == "j1" and case.age is None and case.first_opinion is None
    assert case.prior_therapies is None  # not said is unknown


def test_empty_prior_therapies_means_none(case_dir):
    path = case_dir / "case.yaml"
    path.write_text(f"id: n\nprior_therapies: []\nnotes:\n  - text: {json.dumps(NOTE)}\n")
    assert load_case(path).prior_therapies == []


def test_plain_text_file_is_one_note(case_dir):
    path = case_dir / "patient-a.txt"
    path.write_text(NOTE)
    case = load_case(path)
    assert case.id == "patient-a" and case.note_texts == [NOTE]
    assert case.age is None and case.sex is None and case.first_opinion is None


BAD_CASES = [
    ("notes:\n  - text: x\n", "field 'id' is required"),
    ("id: a\nnotes:\n  - text: x\nweight: 70\n",
     "1 unknown field in the case: 'weight' (no field is close)"),
    ("id: a\nnotes:\n  - text: x\nfirst_opinion: {doctor: X}\n",
     "1 unknown field in field 'first_opinion': 'doctor'"),
    ("id: a\nage: sixty\nnotes:\n  - text: x\n", "field 'age' must be a number"),
    ("id: a\nsex: other\nnotes:\n  - text: x\n", "field 'sex' must be female or male"),
    ("id: a\necog: 7\nnotes:\n  - text: x\n", "field 'ecog'"),
    ("id: a\n", "field 'notes' is required"),
    ("id: a\nnotes: []\n", "at least one note"),
    ("id: a\nnotes:\n  - text: '   '\n", "note 1 (text) is empty"),
    ("id: a\nnotes:\n  - {path: x, text: y}\n", "note 1 must be"),
    ("id: a\nnotes:\n  - path: missing.txt\n", "note 1 (path): no such file"),
    ("id: a\nnotes: [\n", "invalid YAML at line"),
    ("- just\n- a list\n", "must be a mapping"),
]


@pytest.mark.parametrize("text,message", BAD_CASES)
def test_bad_case_is_one_line_input_error(case_dir, text, message):
    path = case_dir / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_case(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert str(path) in str(caught.value)


def test_bad_json_names_line(case_dir):
    path = case_dir / "bad.json"
    path.write_text('{"id": "a",\n "notes": [}')
    with pytest.raises(InputError, match=r"invalid JSON at line 2"):
        load_case(path)


def test_unreadable_note_names_case_and_path_not_content(case_dir):
    (case_dir / "notes" / "binary.txt").write_bytes(b"SECRET\x00\x01")
    path = case_dir / "case.yaml"
    path.write_text("id: c9\nnotes:\n  - path: notes/binary.txt\n")
    with pytest.raises(InputError) as caught:
        load_case(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: note 1 (path): looks like a binary file")
    assert "SECRET" not in message and "binary.txt" not in message


def test_missing_case_file(tmp_path):
    with pytest.raises(InputError, match="case file not found"):
        load_case(tmp_path / "nope.yaml")


def test_a_transplant_the_notes_name_joins_the_case_drug_list(tmp_path):
    """The case lists drugs; the notes' "VRd x4 -> Mel200 ASCT 08/2018" adds the transplant,
    which a trial excluding prior ASCT asks about (no drug is added twice)."""
    path = tmp_path / "case.yaml"
    path.write_text(
        "id: mm-1\nnotes:\n  - text: |\n      Prior lines:\n      L1 03/2018 VRd x4 -> Mel200 ASCT "
        "08/2018 -> len maint 10mg. VGPR. PD 06/2021 on len.\nprior_therapies: [bortezomib, "
        "lenalidomide, "
        "dexamethasone, melphalan]\n")
    case = load_case(path)
    assert case.prior_therapies == ["bortezomib", "lenalidomide", "dexamethasone", "melphalan",
                                    "autologous stem cell transplant"]
    assert load_case(path).from_notes["procedures"] == "autologous stem cell transplant"
