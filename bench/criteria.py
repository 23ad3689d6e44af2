"""Benchmark the criteria parser over a folder of ClinicalTrials.gov v2 study records.

    python bench/criteria.py [FOLDER ...] [--seed N] [--others 20] [--dump FILE] [--passes 3]

Prints criteria and trials parsed per second, peak RSS, the share of criteria with at least
one requirement of each kind, the share left "other" (no requirement), the share of trials
with a cancer type (OncoTree code or basket marker), crashes, and random "other" criteria
for reading. Default folder: /work/shared/ctgov/studies.

The parse runs `--passes` times over the whole folder (the per-process cache of parsed
criteria emptied before each): the first pass and the best one are reported, the best being
the usual way to read a timing on a machine shared with other work (timeit does the same).

`--dump FILE` also writes every trial's annotation as one JSON line (sorted keys), so that a
speed change can be checked for identical output with `cmp` against a dump made before it.
The annotation's parser_version is left out: it ends with a digest of the parser's source
(nlp/parser_version.py), so any edit to the parser changes it, the parse or not.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
import traceback
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from trialmatch.ingest.normalize import normalize_study
from trialmatch.models import TrialAnnotation, TrialText
from trialmatch.nlp.criteria import annotate_trial
from trialmatch.nlp.requirements import REQUIREMENT_KINDS, clear_parse_cache

DEFAULT_FOLDER = Path("/work/shared/ctgov/studies")


def _years(value: str | None) -> float | None:
    """'18 Years' -> 18.0, '6 Months' -> 0.5; None when absent or unreadable."""
    if not value:
        return None
    parts = value.split()
    try:
        number = float(parts[0])
    except (ValueError, IndexError):
        return None
    unit = parts[1].lower() if len(parts) > 1 else "years"
    divisor = {"month": 12, "week": 52, "day": 365, "hour": 8760, "minute": 525600}
    for prefix, div in divisor.items():
        if unit.startswith(prefix):
            return number / div
    return number


def trial_text(record: dict) -> TrialText:
    """The parts of a v2 study record that the parser reads, as ingest builds them (brief
    and official title, conditions, keywords, criteria, ages, sex, purpose)."""
    return normalize_study(record).trial_text()


def _timed_passes(trials: list[TrialText], passes: int, crashes: list[str]
                  ) -> tuple[list[TrialAnnotation | None], list[tuple[float, float]]]:
    """Parse every trial `passes` times; the first pass's annotations (None for a crash,
    recorded in `crashes`) and (wall, CPU) seconds of each pass."""
    annotations: list[TrialAnnotation | None] = []
    timings = []
    for number in range(passes):
        clear_parse_cache()  # a later pass must parse, not look up, what the first parsed
        started, cpu_started = time.perf_counter(), time.process_time()
        for trial in trials:
            try:
                annotation: TrialAnnotation | None = annotate_trial(trial)
            except Exception:  # noqa: BLE001 - a benchmark reports every crash and goes on
                annotation = None
                if number == 0:
                    line = traceback.format_exc(limit=2).splitlines()[-1]
                    crashes.append(f"{trial.nct_id}: {line}")
            if number == 0:
                annotations.append(annotation)
        timings.append((time.perf_counter() - started, time.process_time() - cpu_started))
    return annotations, timings


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[DEFAULT_FOLDER])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--others", type=int, default=20, help="random 'other' criteria shown")
    parser.add_argument("--dump", type=Path, help="write each annotation as a JSON line here")
    parser.add_argument("--passes", type=int, default=3, help="timed passes over the folder")
    args = parser.parse_args(argv)
    files = sorted(f for folder in args.folders for f in folder.glob("*.json"))
    trials = []
    for path in files:
        try:
            trials.append(trial_text(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"unreadable: {path.name}: {exc.__class__.__name__}")
    annotate_trial(trials[0]) if trials else None  # load vocabularies outside the timing
    kinds: Counter[str] = Counter()
    criteria_total = others_total = with_cancer = 0
    others: list[str] = []
    crashes: list[str] = []
    dumped: list[tuple[str, object]] = []
    annotations, timings = _timed_passes(trials, max(1, args.passes), crashes)
    (elapsed, cpu), (best_elapsed, best_cpu) = timings[0], min(timings)
    for trial, annotation in zip(trials, annotations, strict=True):
        if annotation is None:
            continue
        if args.dump:
            dumped.append((trial.nct_id, annotation))
        if annotation.oncotree_codes:
            with_cancer += 1
        for criterion in annotation.criteria:
            if criterion.start < 0:
                continue  # the synthetic criterion from the structured age/sex fields
            criteria_total += 1
            if not criterion.requirements:
                others_total += 1
                others.append(f"{trial.nct_id} [{criterion.kind}] {criterion.text[:160]}")
            for kind in {r.kind for r in criterion.requirements}:
                kinds[kind] += 1
    if args.dump:
        # Serialised after the timing, so the dump does not slow the figures.
        with args.dump.open("w", encoding="utf-8") as out:
            for nct_id, annotation in dumped:
                line = {"nct_id": nct_id, **asdict(annotation)}
                del line["parser_version"]  # a digest of the source: see the docstring
                out.write(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = len(trials)
    print(f"folders: {', '.join(str(f) for f in args.folders)}")
    print(f"trials: {n}   criteria: {criteria_total}   time: {elapsed:.2f} s   "
          f"peak RSS: {peak_mb:.0f} MB")
    if elapsed > 0 and cpu > 0 and best_elapsed > 0 and best_cpu > 0:
        print(f"rate (first pass, wall clock): {n / elapsed:.0f} trials/s, "
              f"{criteria_total / elapsed:.0f} criteria/s")
        # CPU time is the fairer figure on a shared machine (other processes steal the cores).
        print(f"rate (first pass, CPU time {cpu:.2f} s): {n / cpu:.0f} trials/s, "
              f"{criteria_total / cpu:.0f} criteria/s")
        print(f"rate (best of {len(timings)} passes, wall clock {best_elapsed:.2f} s, CPU "
              f"{best_cpu:.2f} s): {n / best_elapsed:.0f} trials/s, "
              f"{criteria_total / best_elapsed:.0f} criteria/s")
    print(f"trials with a cancer type: {with_cancer}/{n} ({100 * with_cancer / max(n, 1):.1f}%)")
    print(f"crashes: {len(crashes)}")
    for line in crashes[:20]:
        print(f"  {line}")
    print("share of criteria with at least one requirement, per kind:")
    for kind in REQUIREMENT_KINDS:
        print(f"  {kind:20s} {100 * kinds[kind] / max(criteria_total, 1):5.1f}%")
    print(f"  {'other (none)':20s} {100 * others_total / max(criteria_total, 1):5.1f}%")
    rng = random.Random(args.seed)
    print(f"{min(args.others, len(others))} random 'other' criteria:")
    for line in rng.sample(others, min(args.others, len(others))):
        print(f"  {line}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
