"""Score `trialmatch extract` on pathology reports written apart from the rules.

    python bench/extract_written.py [--data PATH] [--errors]

Data: bench/pathology/written.jsonl, 412 reports written for this bench by pathologist
helpers who never saw trialmatch's code or output (styles: synoptic CAP resections, short
biopsies, cytology, haematopathology with flow cytometry, outside consultations, UK RCPath
datasets, OCR damage; traps: negated neuroendocrine words, incidental second tumours,
metastases and direct extension, near-twin types, hedges, benign reports). Each line:
{"id", "style", "text", "labels": {"cancer_type": [acceptable OncoTree codes, most specific
first], "primary_tissue", "t", "n", "m", "stage_group", "benign", "why"}}.

Measures, for the dev and held-out halves (bit 1 of the SHA-1 of the id, as bench/extract.py):
- organ: the OncoTree tissue of the extracted type is the primary's tissue;
- type: the extracted code is one of the acceptable codes or below the most specific one;
- T, N, M and stage group where the report states them (labels not null);
- benign: a cancer type asserted on a benign report (target: never).
Prints figures only; `--errors` lists the dev half's misses by id (development only).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from extract import half_of  # noqa: E402

from trialmatch.nlp.extract import extract  # noqa: E402
from trialmatch.nlp.tnm import normalise_stage_group  # noqa: E402
from trialmatch.nlp.vocab import get_vocabulary  # noqa: E402

DEFAULT_DATA = REPO / "bench" / "pathology" / "written.jsonl"


def _tissue(vocab, code: str | None) -> str | None:
    tissue = vocab.tissue_code(code) if code else None
    return vocab.name(tissue).lower() if tissue else None


def _strip(value: str | None) -> str:
    """A category as the labels write it (the writers' brief: "pT3a" -> "T3a", "pN0(i-)" ->
    "N0"): no prefix, no suffix in brackets ((i+), (mol-), (sn), (m), (f))."""
    value = (value or "").strip()
    while value[:1] in ("y", "p", "c", "r") and value[1:2] in ("T", "N", "M", "y", "p"):
        value = value[1:]
    value = re.sub(r"\s*\((?:i[+-]|mol[+-]|sn|m|f|\d+)\)$", "", value)
    return value.lower()


def score(rows: list[dict], profiles: list[dict], vocab) -> dict[str, list]:
    """{measure: [(id, expected, extracted, right)]} for one half."""
    out: dict[str, list] = {name: [] for name in ("organ", "type", "T", "N", "M",
                                                  "stage group", "benign")}
    for row, profile in zip(rows, profiles, strict=True):
        labels = row["labels"]
        code = profile["cancer_type"]["code"] if profile["cancer_type"] else None
        if labels.get("benign"):
            out["benign"].append((row["id"], None, code, code is None))
            continue
        codes = labels["cancer_type"]
        right_type = code is not None and (code in codes or vocab.is_a(code, codes[0]))
        out["type"].append((row["id"], codes[0], code, right_type))
        expected_tissue = (labels.get("primary_tissue") or "").lower()
        out["organ"].append((row["id"], expected_tissue, _tissue(vocab, code),
                             right_type or _tissue(vocab, code) == expected_tissue))
        stage = profile["stage"] or {}
        for axis in ("t", "n", "m"):
            if labels.get(axis):
                out[axis.upper()].append((row["id"], labels[axis], stage.get(axis),
                                          _strip(stage.get(axis)) == _strip(labels[axis])))
        if labels.get("stage_group"):
            expected = normalise_stage_group(labels["stage_group"]) or labels["stage_group"]
            out["stage group"].append((row["id"], expected, stage.get("group"),
                                       stage.get("group") == expected))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--errors", action="store_true", help="list the dev half's misses")
    parser.add_argument("--half", choices=("dev", "held-out", "both"), default="both",
                        help="which half to print (tune on dev; run held-out before resolving)")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"bench/extract_written.py: no data at {args.data} (use --data)")
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    vocab = get_vocabulary()
    profiles = [extract([row["text"]]).to_dict() for row in rows]
    print(f"reports: {len(rows)} ({args.data.name})")
    for half in ("dev", "held-out") if args.half == "both" else (args.half,):
        chosen = [(r, p) for r, p in zip(rows, profiles, strict=True) if half_of(r["id"]) == half]
        scores = score([r for r, _ in chosen], [p for _, p in chosen], vocab)
        print(f"\n== {half} half: {len(chosen)} reports")
        for name, items in scores.items():
            right = sum(item[3] for item in items)
            share = f"{100 * right / len(items):5.1f}%" if items else "   n/a"
            what = "no type asserted" if name == "benign" else "right"
            print(f"  {name:<12} {what} {share} ({right}/{len(items)})")
        if args.errors and half == "dev":
            for name, items in scores.items():
                for report_id, expected, extracted, right in items:
                    if not right:
                        print(f"    miss {name}: {report_id} expected {expected!r} "
                              f"extracted {extracted!r}")


if __name__ == "__main__":
    main()
