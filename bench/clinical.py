"""Score the clinical facts read from notes (trialmatch.nlp.clinical) against gold files.

    python bench/clinical.py [--gold fixtures/clinical/notes.jsonl] [--reports FILE]

Prints precision and recall per fact (ECOG, prior therapies, distant spread, brain
metastases, each lab value, each infection, pregnancy) over the gold notes, then how often
each fact is asserted on real pathology reports (default /work/shared/pathology/
tcga_dev.jsonl: they seldom state any of these, so a high rate there means false readings),
the speed, and peak RSS. The gold notes were written for development: the figures show
regressions, not blind accuracy.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections import Counter
from pathlib import Path

from trialmatch.nlp.clinical import ClinicalFacts, find_clinical_facts

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GOLD = ROOT / "fixtures" / "clinical" / "notes.jsonl"
DEFAULT_REPORTS = Path("/work/shared/pathology/tcga_dev.jsonl")


def facts_as_items(facts: ClinicalFacts) -> dict[str, object]:
    """Each stated fact as (name -> value), the shape of the gold files."""
    items: dict[str, object] = {}
    for name in ("ecog", "metastatic", "brain_metastases", "pregnant"):
        value = getattr(facts, name)
        if value is not None:
            items[name] = value
    if facts.prior_therapies is not None:
        items["prior_therapies"] = tuple(facts.prior_therapies)
    for measure, (value, _, _) in facts.labs.items():
        items[f"lab {measure}"] = value
    for agent, (positive, _) in facts.infections.items():
        items[f"infection {agent}"] = positive
    if facts.past_cancers:
        items["past_cancers"] = tuple(sorted({code for code, _, _ in facts.past_cancers}))
    return items


def gold_as_items(gold: dict) -> dict[str, object]:
    items: dict[str, object] = {}
    for name in ("ecog", "metastatic", "brain_metastases", "pregnant"):
        if gold.get(name) is not None:
            items[name] = gold[name]
    if gold.get("prior_therapies") is not None:
        items["prior_therapies"] = tuple(gold["prior_therapies"])
    for measure, value in (gold.get("labs") or {}).items():
        items[f"lab {measure}"] = value
    for agent, positive in (gold.get("infections") or {}).items():
        items[f"infection {agent}"] = positive
    if gold.get("past_cancers"):
        items["past_cancers"] = tuple(sorted(gold["past_cancers"]))
    return items


def _field(name: str) -> str:
    return name.split(" ")[0] if name.startswith(("lab ", "infection ")) else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    true_pos: Counter[str] = Counter()
    stated: Counter[str] = Counter()
    expected: Counter[str] = Counter()
    misses: list[str] = []
    for row in rows:
        got = facts_as_items(find_clinical_facts(row["text"]))
        want = gold_as_items(row["gold"])
        for name, value in got.items():
            stated[_field(name)] += 1
            if want.get(name) == value:
                true_pos[_field(name)] += 1
            else:
                misses.append(f"{row['id']} {name}: read {value!r}, gold {want.get(name)!r}")
        for name, value in want.items():
            expected[_field(name)] += 1
            if name not in got:
                misses.append(f"{row['id']} {name}: not read, gold {value!r}")
    print(f"gold notes: {len(rows)} ({args.gold})")
    print(f"{'fact':18s} {'precision':>16s} {'recall':>16s}")
    for name in sorted(set(stated) | set(expected)):
        precision = f"{true_pos[name]}/{stated[name]}"
        recall = f"{true_pos[name]}/{expected[name]}"
        p = 100 * true_pos[name] / stated[name] if stated[name] else 100.0
        r = 100 * true_pos[name] / expected[name] if expected[name] else 100.0
        print(f"{name:18s} {p:6.1f}% {precision:>8s} {r:6.1f}% {recall:>8s}")
    for line in misses:
        print(f"  miss: {line}")
    if args.reports.exists():
        reports = [json.loads(line)["text"] for line in
                   args.reports.read_text(encoding="utf-8").splitlines() if line.strip()]
        asserted: Counter[str] = Counter()
        started, cpu = time.perf_counter(), time.process_time()
        for text in reports:
            for name in facts_as_items(find_clinical_facts(text)):
                asserted[_field(name)] += 1
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"pathology reports: {len(reports)} ({args.reports}); facts asserted:")
        for name, count in sorted(asserted.items()):
            print(f"  {name:18s} {count:4d} ({100 * count / len(reports):.1f}%)")
        print(f"speed: {len(reports) / elapsed:.0f} reports/s wall, "
              f"{len(reports) / cpu:.0f} per CPU second")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()
