"""Score the clinical facts read from notes (trialmatch.nlp.clinical) against gold files.

    python bench/clinical.py [--gold fixtures/clinical/notes.jsonl] [--reports FILE]
    python bench/clinical.py --written FILE [--half dev|held-out|both] [--errors]

Prints precision and recall per fact (ECOG, prior therapies, distant spread, brain
metastases, each lab value, each infection, pregnancy) over the gold notes, then how often
each fact is asserted on real pathology reports (default /work/shared/pathology/
tcga_dev.jsonl: they seldom state any of these, so a high rate there means false readings),
the speed, and peak RSS. The gold notes were written for development: the figures show
regressions, not blind accuracy.

With `--written`, scores instead the patient now (the profile's `now` section, SPEC
`profile.now`) on notes written apart from the rules, one JSON object a line: {"id", "text",
"gold": {"extent_now", "recurrence", "metastatic_sites", "brain_metastases", "heme_status",
"treatments": [{"drugs", "modality", "setting", "progressed_on"}], "advanced_lines",
"treatment_naive", "platinum_status", "castration_status", "menopausal", "ecog",
"karnofsky", "pregnant", "labs": {"creatinine_mg_dl", ...}}} (null: not scored). Each note
is read as a one-note case (age and sex only as it states them) through `trialmatch
match`'s own path (`case_from_note`, `read_patient`, `patient_now`). The dev and held-out
halves are split by the SHA-1 of the note id as bench/extract_written.py splits
(`bench/extract.py`'s `half_of`). Prints precision and recall per fact; precision counts the
notes whose gold states the fact, and "said where gold null" counts values given where the
gold has none. `--errors` lists the misses by note id and fact (values only; no note text
is printed or logged).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract import half_of  # noqa: E402  (bench/extract_written.py's split)

from trialmatch.nlp.clinical import ClinicalFacts, find_clinical_facts  # noqa: E402

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


# ------------------------------------------------------------------ --written: the patient now

# The `now` values in the gold file's words.
_EXTENT = {"metastatic": "metastatic", "locally advanced": "locally_advanced",
           "localized": "localized", "NED": "ned"}
_BRAIN = {"none": "none", "untreated": "untreated", "treated, stable": "treated_stable",
          "progressing": "progressing", "leptomeningeal": "leptomeningeal",
          "treated": "treated", "present": "present"}
_HEME = {"newly diagnosed": "newly_diagnosed", "remission": "remission",
         "relapsed": "relapsed", "refractory": "refractory"}
_YES_NO = {"yes": True, "no": False}
# Gold settings as the matcher holds them (PriorTherapy.setting in the profile's words):
# curative intent is no line for advanced disease. In a blood cancer induction and
# consolidation are the first line.
_CURATIVE = {"neoadjuvant", "adjuvant", "perioperative", "definitive"}
_ADVANCED = {"advanced", "maintenance", "salvage"}
# Gold lab keys -> the profile's measure and unit.
_LABS = {"creatinine_mg_dl": ("creatinine", "mg/dL"), "bilirubin_mg_dl": ("bilirubin", "mg/dL"),
         "hemoglobin_g_dl": ("hemoglobin", "g/dL"), "platelets_10e9_l": ("platelets", "10^9/L"),
         "anc_10e9_l": ("ANC", "10^9/L"), "ast_u_l": ("AST", "U/L"), "alt_u_l": ("ALT", "U/L"),
         "lvef_pct": ("LVEF", "%")}
WRITTEN_FACTS = ("extent_now", "recurrence", "metastatic_sites", "brain_metastases",
                 "brain present", "heme_status", "treatments found", "setting",
                 "progressed_on", "advanced_lines exact", "advanced_lines range",
                 "treatment_naive", "platinum_status", "castration_status", "menopausal",
                 "ecog", "karnofsky", "pregnant")


class Tally:
    """Per fact: values right, values given (where the gold states the fact), gold values,
    and values given where the gold has none."""

    def __init__(self) -> None:
        self.right: Counter[str] = Counter()
        self.given: Counter[str] = Counter()
        self.gold: Counter[str] = Counter()
        self.unasked: Counter[str] = Counter()
        self.misses: list[str] = []

    def one(self, note_id: str, fact: str, read: Any, gold: Any, right: bool | None = None):
        """One scored value: `read` None when the reader gives none, `gold` None when the
        gold has none."""
        if gold is None:
            if read is not None:
                self.unasked[fact] += 1
            return
        self.gold[fact] += 1
        if read is None:
            self.misses.append(f"{note_id} {fact}: not read, gold {gold!r}")
            return
        self.given[fact] += 1
        if right if right is not None else read == gold:
            self.right[fact] += 1
        else:
            self.misses.append(f"{note_id} {fact}: read {read!r}, gold {gold!r}")

    def items(self, note_id: str, fact: str, read: set[str], gold: set[str]) -> None:
        """A set of values (sites): each read value right or wrong, each gold value found or
        not."""
        self.right[fact] += len(read & gold)
        self.given[fact] += len(read)
        self.gold[fact] += len(gold)
        if read != gold:
            self.misses.append(f"{note_id} {fact}: read {sorted(read)}, gold {sorted(gold)}")


def _known(fact: dict[str, Any], table: dict[str, Any] | None = None) -> Any:
    value = fact.get("value")
    if value in ("unknown", "not applicable", None):
        return None
    return table.get(value, value) if table is not None else value


def score_note(note_id: str, now: dict[str, Any], gold: dict[str, Any], heme: bool,
               tally: Tally) -> None:
    """Score one note's `now` section against its gold labels."""
    tally.one(note_id, "extent_now", _known(now["extent_now"], _EXTENT), gold.get("extent_now"))
    recurrence = _known(now["recurrence"])
    tally.one(note_id, "recurrence", recurrence, gold.get("recurrence"),
              right=recurrence == gold.get("recurrence") or (
                  recurrence == "local or regional" and
                  gold.get("recurrence") in ("local", "regional")))
    if gold.get("metastatic_sites") is not None:
        sites = now["metastatic_sites"]["value"]
        tally.items(note_id, "metastatic_sites", set(sites) if isinstance(sites, list) else
                    set(), set(gold["metastatic_sites"]))
    brain = _known(now["brain_metastases"], _BRAIN)
    tally.one(note_id, "brain_metastases", brain, gold.get("brain_metastases"))
    tally.one(note_id, "brain present", None if brain is None else brain != "none",
              None if gold.get("brain_metastases") is None else
              gold["brain_metastases"] != "none")
    tally.one(note_id, "heme_status", _known(now["heme_status"], _HEME), gold.get("heme_status"))
    _score_treatments(note_id, now, gold, heme, tally)
    lines = now["advanced_lines"]
    exact = lines["value"] if isinstance(lines["value"], int) else None
    tally.one(note_id, "advanced_lines exact", exact, gold.get("advanced_lines"))
    bounds = (lines["fewest"], lines["most"]) if "fewest" in lines else None
    tally.one(note_id, "advanced_lines range", bounds, gold.get("advanced_lines"),
              right=bounds is not None and gold.get("advanced_lines") is not None and
              bounds[0] <= gold["advanced_lines"] <= bounds[1])
    tally.one(note_id, "treatment_naive", _known(now["treatment_naive"], _YES_NO),
              gold.get("treatment_naive"))
    for fact in ("platinum_status", "castration_status", "menopausal", "ecog", "karnofsky"):
        tally.one(note_id, fact, _known(now[fact]), gold.get(fact))
    tally.one(note_id, "pregnant", _known(now["pregnant"], _YES_NO), gold.get("pregnant"))
    for key, value in (gold.get("labs") or {}).items():
        measure, _ = _LABS.get(key, (key, None))
        lab = (now.get("labs") or {}).get(measure)
        read = lab["value"] if lab else None
        tally.one(note_id, f"lab {measure}", read, value,
                  right=read is not None and abs(read - value) <= 0.05 * abs(value))
    for measure in now.get("labs") or {}:
        if not any(_LABS.get(key, (key,))[0] == measure for key in gold.get("labs") or {}):
            tally.unasked[f"lab {measure}"] += 1


def _score_treatments(note_id: str, now: dict[str, Any], gold: dict[str, Any], heme: bool,
                      tally: Tally) -> None:
    read = now["treatments"]["value"]
    read = [t for t in read if t["systemic"]] if isinstance(read, list) else []
    wanted = [t for t in gold.get("treatments") or [] if t.get("drugs")]
    for treatment in wanted:
        drugs = {d.lower() for d in treatment["drugs"]}
        match = next((t for t in read if drugs & set(t["drugs"])), None)
        tally.one(note_id, "treatments found", bool(match) or None, True)
        setting = treatment.get("setting")
        expected = ("curative intent" if setting in _CURATIVE or (
            setting in ("induction", "consolidation") and not heme) else "advanced"
            if setting in _ADVANCED or setting in ("induction", "consolidation") else None)
        got = match["setting"] if match and match["setting"] != "unknown" else None
        tally.one(note_id, "setting", got, expected)
        tally.one(note_id, "progressed_on",
                  True if match and match["progressed"] == "yes" else None,
                  treatment.get("progressed_on"))
    for treatment in read:
        if not any({d.lower() for d in t["drugs"]} & set(treatment["drugs"]) for t in wanted):
            tally.given["treatments found"] += 1
            tally.misses.append(f"{note_id} treatments found: read {treatment['text']!r}, "
                                "no such gold treatment")


def read_now(note_id: str, text: str) -> dict[str, Any]:
    """The `now` section for one note read as a one-note case, as `trialmatch match` reads
    a plain-text case."""
    from trialmatch.match.case import case_from_note
    from trialmatch.match.engine import default_extractor, drug_therapy_reader, read_patient
    from trialmatch.match.now import patient_now
    from trialmatch.nlp.notes import clean_note_text
    from trialmatch.nlp.vocab import get_vocabulary

    case = case_from_note(clean_note_text(text, f"note {note_id}").text, note_id)
    _, patient = read_patient(case, extractor=default_extractor(),
                              vocabulary=get_vocabulary(), therapy_reader=drug_therapy_reader())
    return patient_now(case, patient).to_dict()


def _share(right: int, total: int) -> str:
    return f"{100 * right / total:5.1f}% {f'{right}/{total}':>7s}" if total else \
        f"{'n/a':>6s} {'0/0':>7s}"


def print_tally(tally: Tally) -> None:
    print(f"  {'fact':22s} {'precision':>14s} {'recall':>14s} {'said, gold null':>16s}")
    labs = sorted({f for f in (*tally.gold, *tally.unasked) if f.startswith("lab ")})
    for fact in (*WRITTEN_FACTS, *labs):
        print(f"  {fact:22s} {_share(tally.right[fact], tally.given[fact]):>14s} "
              f"{_share(tally.right[fact], tally.gold[fact]):>14s} {tally.unasked[fact]:16d}")


def run_written(path: Path, half: str, errors: bool) -> None:
    """Score the patient now on written notes, per half (see the module docstring)."""
    from trialmatch.nlp.vocab import get_vocabulary

    vocabulary = get_vocabulary()
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    print(f"written notes: {len(rows)} ({path.name})")
    for name in ("dev", "held-out") if half == "both" else (half,):
        chosen = [row for row in rows if half_of(str(row["id"])) == name]
        tally = Tally()
        for row in chosen:
            gold = row["gold"]
            codes = gold.get("cancer_type") or []
            heme = bool(codes) and vocabulary.is_heme(codes[0])
            score_note(str(row["id"]), read_now(str(row["id"]), row["text"]), gold, heme,
                       tally)
        print(f"\n== {name} half: {len(chosen)} notes")
        print_tally(tally)
        if errors:
            for line in tally.misses:
                print(f"    miss {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS)
    parser.add_argument("--written", type=Path, help="score the patient now on these notes")
    parser.add_argument("--half", choices=("dev", "held-out", "both"), default="both",
                        help="with --written: which half to score")
    parser.add_argument("--errors", action="store_true",
                        help="with --written: list the misses by note id")
    args = parser.parse_args()
    if args.written is not None:
        if not args.written.exists():
            sys.exit(f"bench/clinical.py: no notes at {args.written}")
        run_written(args.written, args.half, args.errors)
        return
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
