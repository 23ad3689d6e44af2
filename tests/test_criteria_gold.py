"""Gold fixtures: whole eligibility texts in the styles real trials use, with the expected
split and, for selected criteria, the expected requirements (fixtures/criteria/*.gold.json).

Gold format: {"count": n criteria from split_criteria, "kinds": {"inclusion": a,
"exclusion": b}, "cohorts": {text fragment: cohort}, "criteria": [{"contains": fragment,
"kind", "requirements": [{"kind", "params": subset} | {"kind": "biomarker", "markers":
[[marker, status, {extra keys}]...]}], "absent": [kinds]}]}.
"""

import json
from pathlib import Path

import pytest

from trialmatch.models import TrialText
from trialmatch.nlp.criteria import annotate_trial, split_criteria

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "criteria"
GOLD_FILES = sorted(FIXTURES.glob("*.gold.json"))


def _load(gold_path):
    gold = json.loads(gold_path.read_text(encoding="utf-8"))
    text_path = gold_path.with_name(gold_path.name.replace(".gold.json", ".txt"))
    return text_path.read_text(encoding="utf-8"), gold


def _find(criteria, fragment):
    found = [c for c in criteria if fragment in c.text]
    assert found, f"no criterion contains {fragment!r}"
    return found[0]


def _satisfied(expected, requirements):
    candidates = [r for r in requirements if r.kind == expected["kind"]]
    if "markers" in expected:
        for requirement in candidates:
            items = requirement.params["any_of"]
            if len(items) != len(expected["markers"]):
                continue
            if all(item["marker"] == marker and item["status"] == status
                   and all(item.get(k) == v for k, v in extra.items())
                   for item, (marker, status, extra) in zip(items, expected["markers"],
                                                            strict=True)):
                return True
        return False
    return any(all(r.params.get(k) == v for k, v in expected.get("params", {}).items())
               for r in candidates)


def test_there_are_at_least_forty_gold_texts():
    assert len(GOLD_FILES) >= 40


@pytest.mark.parametrize("gold_path", GOLD_FILES, ids=lambda p: p.name.split(".")[0])
def test_split_matches_gold(gold_path):
    text, gold = _load(gold_path)
    criteria = split_criteria(text)
    assert len(criteria) == gold["count"], [c.text for c in criteria]
    kinds = {"inclusion": 0, "exclusion": 0}
    for criterion in criteria:
        kinds[criterion.kind] += 1
    assert kinds == gold["kinds"]
    for fragment, cohort in gold.get("cohorts", {}).items():
        assert _find(criteria, fragment).cohort == cohort, fragment


@pytest.mark.parametrize("gold_path", GOLD_FILES, ids=lambda p: p.name.split(".")[0])
def test_requirements_match_gold(gold_path):
    text, gold = _load(gold_path)
    annotation = annotate_trial(TrialText("NCT00000000", "", [], [], text))
    for expected in gold["criteria"]:
        criterion = _find(annotation.criteria, expected["contains"])
        assert criterion.kind == expected["kind"], expected["contains"]
        for requirement in expected.get("requirements", []):
            assert _satisfied(requirement, criterion.requirements), (
                expected["contains"], requirement,
                [(r.kind, r.params) for r in criterion.requirements])
        present = {r.kind for r in criterion.requirements}
        for kind in expected.get("absent", []):
            assert kind not in present, (expected["contains"], kind)


def test_annotate_adds_structured_age_and_sex_and_drops_own_disease_exclusions():
    text = ("Inclusion Criteria:\n* Relapsed diffuse large B-cell lymphoma\n"
            "Exclusion Criteria:\n* Richter's transformation of CLL\n* Adequate organ function:\n")
    trial = TrialText("NCT00000001", "DLBCL study", ["Diffuse Large B-Cell Lymphoma"], [], text,
                      minimum_age=18, maximum_age=None, sex="FEMALE")
    annotation = annotate_trial(trial)
    assert annotation.parser_version
    assert "DLBCLNOS" in annotation.oncotree_codes
    last = annotation.criteria[-1]
    assert (last.kind, last.start, last.end) == ("inclusion", -1, -1)
    assert {r.kind: r.params for r in last.requirements} == {
        "age": {"min": 18, "max": None}, "sex": {"sex": "female"}}
    for requirement in last.requirements:
        assert last.text[requirement.start:requirement.end] == requirement.text
    richter = _find(annotation.criteria, "Richter")
    codes = [c for r in richter.requirements if r.kind == "cancer_type"
             for c in r.params["codes"]]
    assert "DLBCLNOS" not in codes
    assert [c.position for c in annotation.criteria] == list(range(len(annotation.criteria)))
