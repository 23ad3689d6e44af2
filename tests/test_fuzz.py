"""Property tests for every parser that reads untrusted text.

No exception escapes but the documented one (InputError and its children), and the
round-trips that should hold do: a normalised stage group normalises to itself, every span a
parser reports is the text at its offsets, an age written "N Unit" reads back as N in years,
a valid case written as YAML or JSON loads back unchanged.

The normal suite runs each property on 100 examples; `make fuzz` (HYPOTHESIS_PROFILE=fuzz,
`pytest -m fuzz`) runs 1,000.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialmatch.errors import InputError
from trialmatch.ingest.normalize import InvalidStudyError, normalize_study, parse_age
from trialmatch.match.case import load_case
from trialmatch.nlp.biomarkers import find_biomarkers
from trialmatch.nlp.criteria import normalise_criteria_text, split_criteria
from trialmatch.nlp.notes import decode_note
from trialmatch.nlp.requirements import REQUIREMENT_KINDS, parse_criterion
from trialmatch.nlp.tnm import find_stage_groups, find_tnm, normalise_stage_group, parse_tnm

settings.register_profile("fuzz", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz":
    settings.load_profile("fuzz")
EXAMPLES = 1000 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 100
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

pytestmark = pytest.mark.fuzz

# Text that looks like what each parser reads, mixed with anything at all: pure random text
# rarely reaches the interesting branches.
STAGE_PIECES = ["p", "c", "yp", "r", "a", "T", "N", "M", "is", "X", "x", "0", "1", "2", "3", "4",
                "mi", "a", "b", "c", "d", "(i+)", "(sn)", "(m)", "(2/14)", "I", "l", "O", "IV",
                "III", "II", "A", "B", "C", "stage ", "Stage ", "STAGE ", "FIGO ", "AJCC ",
                "group ", "clinical ", "pathologic ", " ", ", ", "; ", "/", "-", ".", ":",
                "\n", "Regional lymph nodes ", "Primary tumor ", "Distant metastasis "]
MARKER_PIECES = ["EGFR", "KRAS", "BRAF", "ALK", "ROS1", "HER2", "ERBB2", "ER", "PR", "PD-L1",
                 "Ki-67", "MSI", "MMR", "TMB", "p16", "HPV", "BRCA2", "NTRK1", "MET", " ",
                 "exon 19 deletion", "L858R", "G12C", "V600E", "fusion", "amplification",
                 "positive", "negative", "not detected", "detected", "equivocal", "pending",
                 "wild-type", "high", "low", "stable", "(+)", "(-)", "+", "-", "TPS", "CPS",
                 "50%", "<1%", "2+", "3+", "12 mut/Mb", "Allred 8", ":", ",", ".", "/",
                 "and", "or", "no", "without", "\n", "IHC", "FISH", "ratio 2.3", "intact",
                 "loss of MLH1", "MLH1", "PMS2", "deficient", "proficient"]
CRITERIA_PIECES = ["Inclusion Criteria:", "Exclusion Criteria:", "INCLUSION", "Key exclusion",
                   "DISEASE CHARACTERISTICS:", "Cohort A:", "Part 1", "\n", "\n\n", "* ",
                   "- ", "1. ", "2) ", "a. ", "   ", "\t", "Age >= 18", "ECOG 0-1",
                   "Patients must not have:", "One of the following:", "Pregnant",
                   "EGFR mutation", "Stage IV", "No prior chemotherapy", "Brain metastases",
                   "\\-", "\\*", "e.g.", "i.e.", "(", ")", ":", ";", "or", "and", "not",
                   "histologically confirmed adenocarcinoma", "ANC >= 1.5 x 10^9/L",
                   "at least 2 prior lines", "HIV", "hepatitis B"]


def pieces(alphabet: list[str], max_size: int = 30) -> st.SearchStrategy[str]:
    """Text built from domain pieces, sometimes with arbitrary text spliced in."""
    return st.lists(st.one_of(st.sampled_from(alphabet), st.text(max_size=6)),
                    max_size=max_size).map("".join)


# ----------------------------------------------------------------------- stage


@FUZZ
@given(st.one_of(pieces(STAGE_PIECES), st.text(max_size=80)))
def test_parse_tnm_never_raises_and_reports_spans(text):
    stage = parse_tnm(text)
    for mention in find_tnm(text):
        assert text[mention.start:mention.end] == mention.evidence
    for group in find_stage_groups(text):
        assert text[group.start:group.end] == group.evidence
        assert normalise_stage_group(group.group) == group.group
    if stage is not None:
        if stage.group is not None:
            assert normalise_stage_group(stage.group) == stage.group
        for axis, value in (("T", stage.t), ("N", stage.n), ("M", stage.m)):
            assert value is None or value.startswith(axis)
        assert stage.prefix in (None, "p", "c", "yp", "yc", "r", "rp", "rc", "a", "ap")


GROUP = re.compile(r"(0|IV|I{1,3})([ABC][1-3]?)?")


@FUZZ
@given(st.one_of(pieces(STAGE_PIECES, 8), st.text(max_size=20)))
def test_normalise_stage_group_is_idempotent(text):
    group = normalise_stage_group(text)
    if group is not None:
        assert GROUP.fullmatch(group), group
        assert normalise_stage_group(group) == group
        assert normalise_stage_group(f"Stage {group}") == group


@FUZZ
@given(st.sampled_from(["I", "II", "III", "IV"]), st.sampled_from(["", "A", "B", "C"]),
       st.sampled_from(["", "1", "2", "3"]), st.sampled_from(["stage ", "Stage ", "STAGE ", ""]),
       st.sampled_from(["", "-", " "]))
def test_written_stage_groups_read_back(roman, letter, digit, lead, joint):
    suffix = letter + (digit if letter else "")
    expected = roman + suffix
    assert normalise_stage_group(f"{lead}{roman}{joint if suffix else ''}{suffix}") == expected
    arabic = {"I": "1", "II": "2", "III": "3", "IV": "4"}[roman]
    assert normalise_stage_group(f"{lead}{arabic}{suffix.lower()}") == expected


# ----------------------------------------------------------------------- biomarkers

STATUSES = {"positive", "negative", "equivocal", "unknown"}


@FUZZ
@given(st.one_of(pieces(MARKER_PIECES, 20), st.text(max_size=80)))
def test_find_biomarkers_never_raises_and_points_into_the_text(text):
    for biomarker in find_biomarkers(text):
        assert 0 <= biomarker.start <= biomarker.end <= len(text)
        assert biomarker.status in STATUSES
        assert biomarker.marker and isinstance(biomarker.marker, str)
        assert biomarker.evidence == text[biomarker.start:biomarker.end]
        assert biomarker.value is None or math.isfinite(float(biomarker.value))


# ----------------------------------------------------------------------- criteria


@FUZZ
@given(st.one_of(pieces(CRITERIA_PIECES, 40), st.text(max_size=200)))
def test_split_criteria_pieces_are_the_text_at_their_offsets(text):
    clean = normalise_criteria_text(text)
    assert len(clean) == len(text)
    criteria = split_criteria(text)
    assert [c.position for c in criteria] == list(range(len(criteria)))
    for criterion in criteria:
        assert criterion.kind in ("inclusion", "exclusion")
        assert clean[criterion.start:criterion.end] == criterion.text
        for requirement in parse_criterion(criterion.text, criterion.kind):
            assert requirement.kind in REQUIREMENT_KINDS
            assert 0 <= requirement.start <= requirement.end <= len(criterion.text)


@pytest.mark.parametrize("text", ["Inclusion Criteria:\n\xa0\xa0* Age >= 18 years",
                                  "\u2003ECOG 0-1", "\x1f0", "\x85Pregnant"])
def test_criteria_indented_with_unusual_spaces_keep_their_offsets(text):
    # Found by the property above: NBSP-indented lines (common in registry text) once got
    # offsets shifted by one per NBSP.
    clean = normalise_criteria_text(text)
    criteria = split_criteria(text)
    assert criteria
    for criterion in criteria:
        assert clean[criterion.start:criterion.end] == criterion.text


@FUZZ
@given(st.one_of(pieces(CRITERIA_PIECES, 12), st.text(max_size=120)),
       st.sampled_from(["inclusion", "exclusion"]))
def test_parse_criterion_never_raises(text, kind):
    for requirement in parse_criterion(text, kind):
        assert requirement.kind in REQUIREMENT_KINDS
        assert isinstance(requirement.params, dict)
        json.dumps(requirement.params, default=list)  # storable


# ----------------------------------------------------------------------- ages and studies

UNITS = {"Year": 1.0, "Month": 1 / 12, "Week": 7 / 365.25, "Day": 1 / 365.25,
         "Hour": 1 / (365.25 * 24), "Minute": 1 / (365.25 * 24 * 60)}


@FUZZ
@given(st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=30),
                 st.builds(lambda n, u, s: f"{n} {u}{s}", st.integers(-5, 10**6),
                           st.sampled_from([*UNITS, "year", "YEARS", "Decade", ""]),
                           st.sampled_from(["", "s"]))))
def test_parse_age_gives_none_or_a_finite_age(value):
    age = parse_age(value)
    assert age is None or (math.isfinite(age) and age >= 0)


@FUZZ
@given(st.integers(0, 150), st.sampled_from(list(UNITS)), st.sampled_from(["", "s"]),
       st.sampled_from(["", " ", "  "]))
def test_written_ages_read_back_in_years(number, unit, plural, space):
    assert parse_age(f"{space}{number} {unit}{plural}{space}") == round(number * UNITS[unit], 4)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


@FUZZ
@given(JSON_VALUES, st.dictionaries(
    st.sampled_from(["identificationModule", "statusModule", "eligibilityModule",
                     "conditionsModule", "designModule", "contactsLocationsModule",
                     "armsInterventionsModule"]), JSON_VALUES, max_size=5),
    st.one_of(st.none(), st.text(max_size=12), st.from_regex(r"NCT\d{8}", fullmatch=True)))
def test_normalize_study_raises_only_invalid_study(anything, modules, nct_id):
    for study in (anything, {"protocolSection": anything},
                  {"protocolSection": {**modules, "identificationModule": {"nctId": nct_id}}}):
        try:
            record = normalize_study(study)
        except InvalidStudyError:
            continue
        assert re.fullmatch(r"NCT\d{8}", record.nct_id)
        assert record.minimum_age is None or record.minimum_age >= 0


# ----------------------------------------------------------------------- notes and cases


@FUZZ
@given(st.binary(max_size=200))
def test_decode_note_accepts_text_or_raises_input_error(data):
    try:
        text = decode_note(data, "fuzz")
    except InputError as error:
        assert str(error).startswith("fuzz: ")
        return
    assert text.strip()


@pytest.fixture(scope="module")
def case_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz-cases")
    (folder / "note.txt").write_text("Lung, biopsy: adenocarcinoma.\n")
    return folder


CASE_KEYS = ["id", "age", "sex", "ecog", "location", "notes", "prior_therapies",
             "first_opinion", "diagnosis", "stage", "plan", "text", "path", "country"]
CASE_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10, 200), st.floats(allow_nan=False),
              st.text(max_size=10), st.sampled_from(["female", "male", "note.txt", "IIIA"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(CASE_KEYS), st.text(max_size=6)), inner,
                        max_size=4)),
    max_leaves=15,
)


def _load(folder: Path, name: str, content: str):
    path = folder / name
    path.write_text(content, encoding="utf-8")
    try:
        return load_case(path)
    except InputError as error:
        assert "\n" not in str(error).strip()
        return None


@FUZZ
@given(st.dictionaries(st.sampled_from(CASE_KEYS), CASE_VALUES, max_size=8),
       st.sampled_from(["case.yaml", "case.json"]))
def test_load_case_on_generated_documents_raises_only_input_error(case_folder, document, name):
    text = json.dumps(document) if name.endswith(".json") else yaml.safe_dump(document)
    _load(case_folder, name, text)


@FUZZ
@given(st.text(max_size=200), st.sampled_from(["case.yaml", "case.json", "case.txt"]))
def test_load_case_on_any_text_raises_only_input_error(case_folder, text, name):
    _load(case_folder, name, text)


@FUZZ
@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
       st.one_of(st.none(), st.integers(0, 130)), st.sampled_from([None, "female", "male"]),
       st.one_of(st.none(), st.integers(0, 5)),
       # Control and format characters (zero-width, bidi) are removed from notes on reading.
       st.lists(st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs")), min_size=1,
                        max_size=40).filter(str.strip), min_size=1, max_size=3),
       st.sampled_from(["case.yaml", "case.json"]))
def test_a_valid_case_loads_back_unchanged(case_folder, case_id, age, sex, ecog, texts, name):
    document = {"id": case_id, "age": age, "sex": sex, "ecog": ecog,
                "notes": [{"path": "note.txt"}] + [{"text": t} for t in texts]}
    content = json.dumps(document) if name.endswith(".json") else yaml.safe_dump(document)
    case = _load(case_folder, name, content)
    assert case is not None
    assert (case.id, case.age, case.sex, case.ecog) == (
        case_id, None if age is None else float(age), sex, ecog)
    assert case.note_texts[1:] == texts
    assert case.note_texts[0] == "Lung, biopsy: adenocarcinoma.\n"
