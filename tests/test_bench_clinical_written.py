"""bench/clinical.py --written: the patient now scored on notes written apart from the rules."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "clinical" / "written_now.jsonl"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_clinical", REPO / "bench" / "clinical.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_halves_are_extract_writtens_split():
    bench = _bench()
    # The same function bench/extract_written.py splits with, not a copy of it.
    assert bench.half_of is sys.modules["extract"].half_of
    for note_id in ("fx-now-01", "fx-now-02", "fx-now-03"):
        held_out = int(hashlib.sha1(note_id.encode()).hexdigest(), 16) >> 1 & 1
        assert bench.half_of(note_id) == ("held-out" if held_out else "dev")


def test_the_scorer_counts_values_not_presence(capsys):
    bench = _bench()
    bench.run_written(FIXTURE, "both", errors=True)
    out = capsys.readouterr().out
    dev, held_out = out.split("== held-out half")
    assert "== dev half: 1 notes" in dev
    assert ": 2 notes" in held_out
    rows = {fact: line for line in held_out.splitlines() for fact in bench.WRITTEN_FACTS
            if line.startswith(f"  {fact:22s}")}
    # The AML's induction is the first line; the matcher leaves its setting open.
    assert "66.7%     2/3" in rows["setting"]
    assert "100.0%     3/3" in rows["treatments found"]
    assert "100.0%     1/1" in rows["heme_status"]
    assert "0.0%     0/2" in rows["advanced_lines exact"]
    assert "100.0%     2/2" in rows["advanced_lines range"]
    assert "miss fx-now-03 setting: not read, gold 'advanced'" in out
    # Only values are printed, never a note's text.
    assert "biopsy-proven" not in out and "Leukemia clinic" not in out


def test_one_note_scored_by_hand():
    bench = _bench()
    tally = bench.Tally()
    now = {"extent_now": {"value": "metastatic"}, "recurrence": {"value": "local or regional"},
           "metastatic_sites": {"value": ["bone", "liver"]},
           "brain_metastases": {"value": "treated, stable"},
           "heme_status": {"value": "not applicable"},
           "treatments": {"value": [{"text": "FOLFOX", "drugs": ["oxaliplatin", "fluorouracil"],
                                     "setting": "advanced", "systemic": True,
                                     "progressed": "yes"}]},
           "advanced_lines": {"value": "1-2", "fewest": 1, "most": 2},
           "treatment_naive": {"value": "no"}, "platinum_status": {"value": "unknown"},
           "castration_status": {"value": "not applicable"}, "menopausal": {"value": "post"},
           "ecog": {"value": 1}, "karnofsky": {"value": "unknown"},
           "pregnant": {"value": "unknown"},
           "labs": {"creatinine": {"value": 1.04, "unit": "mg/dL"},
                    "platelets": {"value": 150.0, "unit": "10^9/L"}}}
    gold = {"extent_now": "metastatic", "recurrence": "regional",
            "metastatic_sites": ["liver", "lung"], "brain_metastases": "treated_stable",
            "heme_status": None,
            "treatments": [{"drugs": ["oxaliplatin"], "setting": "adjuvant",
                            "progressed_on": True}],
            "advanced_lines": 2, "treatment_naive": False, "platinum_status": "resistant",
            "menopausal": None, "ecog": 1, "labs": {"creatinine_mg_dl": 1.0,
                                                    "platelets_10e9_l": 100}}
    bench.score_note("n1", now, gold, heme=False, tally=tally)
    assert tally.right["recurrence"] == 1  # "local or regional" holds regional
    assert (tally.right["metastatic_sites"], tally.given["metastatic_sites"],
            tally.gold["metastatic_sites"]) == (1, 2, 2)
    assert tally.right["brain_metastases"] == 1
    assert (tally.right["setting"], tally.given["setting"]) == (0, 1)  # adjuvant, read advanced
    assert tally.right["progressed_on"] == 1
    assert tally.right["advanced_lines range"] == 1 and tally.gold["advanced_lines exact"] == 1
    assert tally.given["advanced_lines exact"] == 0
    assert tally.gold["platinum_status"] == 1 and tally.given["platinum_status"] == 0
    assert tally.unasked["menopausal"] == 1
    assert tally.right["lab creatinine"] == 1  # within 5%
    assert tally.right["lab platelets"] == 0
