"""The judged case set in bench/judged is well formed (../shared/EVAL.md): every case loads as
a case file, every expectation has the documented fields, every must-exclude quote is the
record's own words, and every judgment names a case and a valid label."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

from trialmatch.match.case import load_case

REPO = Path(__file__).resolve().parent.parent
JUDGED = REPO / "bench" / "judged"
STUDIES = REPO.parent / "shared" / "ctgov" / "studies"
ONCOTREE = REPO.parent / "shared" / "vocab" / "oncotree_2025_10_03.tsv"
NCT = re.compile(r"^NCT\d{8}$")
FAILS = re.compile(r'^Fails (inclusion|exclusion) "(.+)": .+', re.S)
STATUSES = {"positive", "negative", "equivocal", "unknown"}

EXPECTED = json.loads((JUDGED / "expected.json").read_text(encoding="utf-8"))
CASE_FILES = sorted(JUDGED.glob("*.yaml"))


def _half(case_id: str) -> str:
    return "held-out" if int(hashlib.sha1(case_id.encode()).hexdigest(), 16) % 2 else "dev"


def _jsonl(name: str) -> list[dict]:
    path = JUDGED / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def test_the_set_is_large_and_varied_enough_and_both_halves_are_used():
    assert len(EXPECTED) >= 60
    first_codes = {e["cancer_type"][0] for e in EXPECTED.values()}
    assert len(first_codes) >= 20
    halves = {_half(case_id) for case_id in EXPECTED}
    assert halves == {"dev", "held-out"}


def test_every_expectation_has_its_case_file_and_the_reverse():
    ids = {yaml.safe_load(path.read_text(encoding="utf-8"))["id"] for path in CASE_FILES}
    assert ids == set(EXPECTED)


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_every_case_loads_as_a_case_file(path):
    case = load_case(path)
    assert case.id == path.stem
    assert case.note_texts and all(text.strip() for text in case.note_texts)


@pytest.mark.parametrize("case_id", sorted(EXPECTED))
def test_every_expectation_has_the_documented_fields(case_id):
    expected = EXPECTED[case_id]
    assert expected["cancer_type"] and all(isinstance(c, str) for c in expected["cancer_type"])
    assert expected.get("stage_group") is None or re.match(r"^(IV|III|II|I|0)[A-C]?\d?$",
                                                           expected["stage_group"])
    assert set((expected.get("biomarkers") or {}).values()) <= STATUSES
    assert all(NCT.match(n) for n in expected["must_match"])
    assert not set(expected["must_match"]) & set(expected["must_exclude"])
    for nct_id, why in expected["must_exclude"].items():
        assert NCT.match(nct_id) and FAILS.match(why), (nct_id, why)
    assert set(expected.get("discrepancies") or []) <= {"stage", "biomarker", "diagnosis"}
    assert isinstance(expected.get("protocols", []), list)
    assert isinstance(expected.get("testing_gaps", []), list)


@pytest.mark.skipif(not ONCOTREE.exists(), reason="../shared/vocab is not beside the repo")
def test_cancer_types_are_oncotree_codes():
    codes = {line.split("\t")[0] for line in ONCOTREE.read_text(encoding="utf-8").splitlines()}
    unknown = {c for e in EXPECTED.values() for c in e["cancer_type"] if c not in codes}
    assert not unknown


@pytest.mark.skipif(not STUDIES.is_dir(), reason="../shared/ctgov is not beside the repo")
def test_trials_exist_and_must_exclude_quotes_are_the_records_words():
    def criteria(nct_id: str) -> str:
        study = json.loads((STUDIES / f"{nct_id}.json").read_text(encoding="utf-8"))
        return study["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]

    def squash(text: str) -> str:
        return " ".join(text.split())

    for case_id, expected in EXPECTED.items():
        for nct_id in expected["must_match"]:
            assert (STUDIES / f"{nct_id}.json").exists(), (case_id, nct_id)
        for nct_id, why in expected["must_exclude"].items():
            quote = FAILS.match(why).group(2)
            assert squash(quote) in squash(criteria(nct_id)), (case_id, nct_id, quote)


def test_judgments_name_known_cases_and_valid_labels():
    for row in _jsonl("judgments.jsonl"):
        assert row["case_id"] in EXPECTED and NCT.match(row["nct_id"])
        assert row["label"] in {"eligible", "plausible", "untested_biomarker", "ineligible"}
        assert row["reason"].strip()
    for row in _jsonl("criteria_judgments.jsonl"):
        assert row["case_id"] in EXPECTED and NCT.match(row["nct_id"])
        assert row["label"] in {"met", "not_met", "unknown"}
        assert row["kind"] in {"inclusion", "exclusion"} and row["criterion"].strip()
