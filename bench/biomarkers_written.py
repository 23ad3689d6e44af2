"""Score the biomarker results `trialmatch extract` reads from notes written apart from the
rules.

    python bench/biomarkers_written.py [--data PATH] [--half dev|held-out|both] [--errors]

Data: bench/biomarkers/written.jsonl, notes written for this bench by molecular-pathology
helpers who never saw trialmatch's code or output (pasted NGS tables, run-together lines,
negative lists in every layout, IHC panels with HER2 ISH, MMR panels, PD-L1 with clones, TMB,
germline reports, haematology FISH and karyotypes, OCR damage, results that change over
time, hedges). Each line: {"id", "style", "text", "biomarkers": {marker: status}, "notes"},
markers and statuses as SPEC.md names them.

Measures, for the dev and held-out halves (bit 1 of the SHA-1 of the id, as bench/extract.py):
- status right: the profile's status of each keyed marker (positive when any result of the
  marker is, then negative, then equivocal, else unknown: bench/accuracy.py's rule) equals
  the key's;
- polarity reversed: positive read as negative or the reverse (the worst error: it sends a
  patient to the wrong trial);
- missed: a stated result read as unknown or not at all;
- extra positives: a positive the key does not hold (a marker the note does not report as
  present).
Prints figures only; `--errors` lists the dev half's misses by id (development only).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from accuracy import biomarker_status, marker_key  # noqa: E402
from extract import half_of  # noqa: E402

from trialmatch.nlp.extract import extract  # noqa: E402

DEFAULT_DATA = REPO / "bench" / "biomarkers" / "written.jsonl"
_STATED = ("positive", "negative", "equivocal")


def score(rows: list[dict], profiles: list) -> tuple[Counter, list[tuple[str, str, str, str]]]:
    """Tallies and the misses (id, marker, expected, found) of one half."""
    tally: Counter = Counter()
    misses = []
    for row, profile in zip(rows, profiles, strict=True):
        found = [b.to_dict() for b in profile.biomarkers]
        keyed = {marker_key(m) for m in row["biomarkers"]}
        for marker, expected in row["biomarkers"].items():
            got = biomarker_status(found, marker)
            tally["keyed"] += 1
            if got == expected:
                tally["right"] += 1
                continue
            misses.append((row["id"], marker, expected, got))
            if {got, expected} == {"positive", "negative"}:
                tally["reversed"] += 1
            elif expected in _STATED and got == "unknown":
                tally["missed"] += 1
            else:
                tally["other"] += 1
        for result in found:
            if result["status"] == "positive" and marker_key(result["marker"]) not in keyed:
                tally["extra_positive"] += 1
                misses.append((row["id"], result["marker"], "(not keyed)", "positive"))
    return tally, misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--half", choices=("dev", "held-out", "both"), default="both",
                        help="which half to print (tune on dev; run held-out before resolving)")
    parser.add_argument("--errors", action="store_true", help="list the dev half's misses")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    profiles = [extract([row["text"]]) for row in rows]
    print(f"notes: {len(rows)} ({args.data.name})")
    for half in ("dev", "held-out") if args.half == "both" else (args.half,):
        chosen = [(r, p) for r, p in zip(rows, profiles, strict=True) if half_of(r["id"]) == half]
        tally, misses = score([r for r, _ in chosen], [p for _, p in chosen])
        keyed = tally["keyed"] or 1
        print(f"\n== {half} half: {len(chosen)} notes, {tally['keyed']} keyed results")
        print(f"  status right       {100 * tally['right'] / keyed:5.1f}% "
              f"({tally['right']}/{tally['keyed']})")
        print(f"  polarity reversed  {tally['reversed']}")
        print(f"  missed (unknown)   {tally['missed']}")
        print(f"  other wrong        {tally['other']}")
        print(f"  extra positives    {tally['extra_positive']}")
        if args.errors and half == "dev":
            for note_id, marker, expected, got in misses:
                print(f"    {note_id:10} {marker:10} expected {expected:12} read {got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
