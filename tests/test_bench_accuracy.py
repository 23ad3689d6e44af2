"""bench/accuracy.py's measures (../shared/EVAL.md), on small hand-made inputs."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_accuracy", REPO / "bench" / "accuracy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


accuracy = _load_bench()


@pytest.mark.parametrize("case_id", ["gyn-ovary-01", "thx-sclc-07", "lym-cll-01", "x"])
def test_half_follows_eval_md(case_id):
    odd = int(hashlib.sha1(case_id.encode()).hexdigest(), 16) % 2
    assert accuracy.half_of(case_id) == ("held-out" if odd else "dev")


@pytest.mark.parametrize("expected, found, hit", [
    ("IV", "IVB", True),
    ("IV", "IV", True),
    ("IV", "IIIC", False),
    ("I", "IA2", True),
    ("I", "II", False),       # Roman numerals compare whole, not as text prefixes
    ("I", "IV", False),
    ("IIIC", "IIIC1", True),
    ("IIIC", "IIIB", False),
    ("II", None, False),
    ("0", "0", True),
])
def test_stage_hit(expected, found, hit):
    assert accuracy.stage_hit(expected, found) is hit


def test_biomarker_status_takes_a_result_over_a_mention_and_aliases():
    found = [{"marker": "ERBB2", "status": "unknown"}, {"marker": "HER2", "status": "negative"},
             {"marker": "EGFR", "status": "unknown"}]
    assert accuracy.biomarker_status(found, "HER2") == "negative"
    assert accuracy.biomarker_status(found, "EGFR") == "unknown"
    assert accuracy.biomarker_status(found, "KRAS") == "unknown"
    both = found + [{"marker": "HER2", "status": "positive"}]
    assert accuracy.biomarker_status(both, "her2") == "positive"
    # HER2 status is IHC or ISH (ASCO/CAP); an ERBB2 exon 20 insertion is another finding
    mutant = [{"marker": "HER2", "status": "negative", "unit": "IHC", "value": 1},
              {"marker": "HER2", "alteration": "exon 20 insertion", "status": "positive"}]
    assert accuracy.biomarker_status(mutant, "HER2") == "negative"


def test_protocol_alternatives_and_gap_markers():
    protocols = [{"therapy": "olaparib + bevacizumab"}, {"therapy": "Pembrolizumab"}]
    assert accuracy.protocol_hit("niraparib|olaparib", protocols)
    assert accuracy.protocol_hit("pembrolizumab", protocols)
    assert not accuracy.protocol_hit("niraparib", protocols)
    assert accuracy.protocol_hit("bevacizumab+olaparib", protocols)
    assert not accuracy.protocol_hit("olaparib+cetuximab", protocols)
    assert accuracy.gap_markers([{"marker": "MSI/MMR"}, {"marker": "ERBB2"}]) >= \
        {"MSI", "MMR", "HER2"}
    assert accuracy.gap_markers([{"marker": "germline HRR genes (BRCA1/2, ATM)"}]) >= \
        {"BRCA1", "BRCA2", "ATM"}
    assert accuracy.discrepancy_fields([{"field": "biomarker:EGFR"}, {"field": "stage"}]) == \
        {"biomarker", "stage"}


def test_a_judge_overrides_the_case_writer_and_unjudged_trials_are_counted_apart():
    expected = {"must_match": ["NCT1", "NCT2"], "must_exclude": {"NCT3": "Fails ..."}}
    judgments = {("c", "NCT2"): {"label": "ineligible"},
                 ("c", "NCT4"): {"label": "untested_biomarker"}}
    assert accuracy.trial_label("c", "NCT1", expected, judgments) == "plausible"
    assert accuracy.trial_label("c", "NCT2", expected, judgments) == "ineligible"
    assert accuracy.trial_label("c", "NCT3", expected, judgments) == "ineligible"
    assert accuracy.trial_label("c", "NCT5", expected, judgments) is None
    counts = accuracy.judged_precision(["NCT1", "NCT2", "NCT3", "NCT4", "NCT5", "NCT6"], "c",
                                       expected, judgments, 5)
    assert counts == Counter(shown=5, good=1, ineligible=2, untested=1, unjudged=1)


def _study(nct_id: str, title: str, criteria: str) -> dict:
    return {"protocolSection": {
        "identificationModule": {"nctId": nct_id, "briefTitle": title},
        "conditionsModule": {"conditions": [title]},
        "eligibilityModule": {"eligibilityCriteria": criteria}}}


def test_bm25_baseline_ranks_the_trial_sharing_the_notes_words_first():
    studies = {"NCT1": _study("NCT1", "Ovarian cancer", "Platinum-resistant ovarian cancer"),
               "NCT2": _study("NCT2", "Prostate cancer", "Castration-resistant prostate cancer")}
    ranked = accuracy.bm25_rankings(studies, {"a": "Recurrent ovarian carcinoma, platinum "
                                                   "resistant, \"quoted\" words' OR NOT",
                                              "b": "!!!"})
    assert ranked["a"][0] == "NCT1"
    assert ranked["b"] == []


def test_score_case_counts_recall_exclusions_and_profile_hits():
    expected = {"cancer_type": ["HGSOC", "OVARY"], "stage_group": "IV",
                "biomarkers": {"BRCA1": "positive", "HER2": "negative"},
                "must_match": ["NCT1", "NCT2", "NCT3"], "must_exclude": {"NCT9": "Fails ..."},
                "protocols": ["olaparib|niraparib"], "testing_gaps": ["MMR"],
                "discrepancies": ["stage"]}
    document = {
        "trials": [{"nct_id": "NCT1"}, {"nct_id": "NCT9"}],
        "excluded": [{"nct_id": "NCT2"}],
        "profile": {"cancer_type": {"code": "HGSOC"}, "stage": {"group": "IVA"},
                    "biomarkers": [{"marker": "BRCA1", "status": "positive"},
                                   {"marker": "HER2", "status": "positive"}]},
        "protocols": [{"therapy": "niraparib"}],
        "testing_gaps": [{"marker": "MSI/MMR"}],
        "discrepancies": [{"field": "biomarker:HER2"}],
    }
    counts = accuracy.score_case("c", expected, document, ["NCT3", "NCT1"], {},
                                 lambda code, ancestor: code == ancestor)
    assert counts["tm_r10_hit"] == 1 and counts["bm25_r10_hit"] == 2
    assert counts["tm_r10_cap"] == 3 and counts["must"] == 3
    assert counts["tm_wrongly_excluded"] == 1 and counts["tm_must_missing"] == 1
    assert counts["tm_mx_listed"] == 1 and counts["tm_mx_anywhere"] == 1
    assert counts["tm_p10_good"] == 1 and counts["tm_p10_ineligible"] == 1
    assert counts["type_hit"] == 1 and counts["stage_hit"] == 1
    assert counts["bio_hit"] == 1 and counts["bio_reversed"] == 1
    assert counts["proto_hit"] == 1 and counts["gap_hit"] == 1
    assert counts["disc_hit"] == 0 and counts["disc_false"] == 1


def test_a_judged_set_needs_a_case_file_for_every_expectation(tmp_path):
    (tmp_path / "expected.json").write_text(json.dumps({"a": {}, "b": {}}))
    (tmp_path / "a.yaml").write_text("id: a\nnotes:\n  - text: x\n")
    with pytest.raises(SystemExit, match="no case file"):
        accuracy.load_judged_set(tmp_path)
    (tmp_path / "b.yaml").write_text("id: b\nnotes:\n  - text: x\n")
    (tmp_path / "judgments.jsonl").write_text(
        '{"case_id": "a", "nct_id": "NCT1", "label": "maybe"}\n')
    with pytest.raises(SystemExit, match="not one of"):
        accuracy.load_judged_set(tmp_path)
    (tmp_path / "judgments.jsonl").write_text(
        '{"case_id": "a", "nct_id": "NCT1", "label": "plausible"}\n')
    judged = accuracy.load_judged_set(tmp_path)
    assert set(judged.case_paths) == {"a", "b"}
    assert judged.judgments[("a", "NCT1")]["label"] == "plausible"
