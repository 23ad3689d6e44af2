"""Benchmark trialmatch at its documented limits: time and peak RSS of each scenario.

    .venv/bin/python bench/limits.py [--scenario NAME ...] [--trials 100000]
                                     [--studies ../shared/ctgov/studies] [--work DIR]

Scenarios (each runs in a fresh process, so its peak RSS is its own):
  note-5mb        a note just under MAX_NOTE_BYTES (5 MiB): read_note + extract
  note-over-5mb   a note just over the limit: read_note refuses it before reading
  case-1000-notes a case naming 1,000 note files: load_case + match_case (fixture store)
  criteria-200kb  200 KB of real eligibility text: split_criteria + annotate_trial
  extract-per-mb  notes of 10 KB, 100 KB, 1 MB and 5 MB: read + extract time per MB (flat is
                  linear; the ratio is the slowest rate over the fastest)
  punctuation-runs  the issue-17 notes, "(" x n + text + ")" x n for n up to 40,000, and 1 MB
                  of punctuation junk: time per MB, and as a ratio to a plain note's rate
  batch-hostile   a batch of 100 note cases (2 jobs) with and without one hostile note among
                  them (40 KB of brackets): seconds of each and their ratio
  store-100k      a store of --trials trials (the real studies replicated under new ids,
                  built once and cached in --work): open, stats, search_text, candidate_ids,
                  every candidate read chunk by chunk (iter_trials), one `match_case` of the
                  demo case; and the longest read while another process holds a write
                  transaction open (WAL: no wait)

Peak RSS is resource.getrusage(RUSAGE_SELF).ru_maxrss in the scenario's process, taken after
the Python start-up and imports (reported as "baseline") and at the end.
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from replicate import load_studies, replicated

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
DEFAULT_STUDIES = REPO.parent / "shared" / "ctgov" / "studies"
DEFAULT_WORK = REPO / "bench" / "out" / "limits"
SCENARIOS = ("note-5mb", "note-over-5mb", "case-1000-notes", "criteria-200kb",
             "extract-per-mb", "punctuation-runs", "batch-hostile", "store-100k")
LUAD = "Lung, right upper lobe, biopsy: invasive adenocarcinoma. EGFR exon 19 deletion.\n"


def peak_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fixture_notes() -> list[str]:
    """The hand-written fixture notes (no real patient data)."""
    return [p.read_text() for p in sorted((FIXTURES / "cases" / "notes").glob("*.txt"))]


def note_of_size(size: int) -> str:
    """A plausible long note (fixture notes one after another) of exactly `size` bytes."""
    notes = fixture_notes()
    parts, total, index = [], 0, 0
    while total < size:
        part = notes[index % len(notes)] + "\n"
        parts.append(part)
        total += len(part.encode())
        index += 1
    return "".join(parts).encode()[:size].decode("utf-8", "ignore")


# ----------------------------------------------------------------------- scenarios


def scenario_note_5mb(work: Path, args) -> dict:
    from trialmatch.nlp.extract import extract
    from trialmatch.nlp.notes import MAX_NOTE_BYTES, read_note

    path = work / "note-5mb.txt"
    path.write_text(note_of_size(MAX_NOTE_BYTES - 16))
    baseline = peak_mb()
    started = time.perf_counter()
    text = read_note(path)
    read_seconds = time.perf_counter() - started
    profile = extract([text])
    return {"bytes": path.stat().st_size, "read_s": read_seconds,
            "extract_s": time.perf_counter() - started,
            "biomarkers": len(profile.biomarkers),
            "cancer_type": profile.cancer_type.code if profile.cancer_type else None,
            "baseline_mb": baseline}


def scenario_note_over_5mb(work: Path, args) -> dict:
    from trialmatch.errors import InputError
    from trialmatch.nlp.notes import MAX_NOTE_BYTES, read_note

    path = work / "note-over.txt"
    with open(path, "wb") as handle:  # sparse: 50 MB on disk costs nothing
        handle.truncate(MAX_NOTE_BYTES * 10)
    baseline = peak_mb()
    started = time.perf_counter()
    try:
        read_note(path)
        message = "accepted (unexpected)"
    except InputError as error:
        message = str(error).replace(str(path), "<note>")
    return {"bytes": path.stat().st_size, "seconds": time.perf_counter() - started,
            "message": message, "baseline_mb": baseline}


def _fixture_store(work: Path) -> Path:
    from trialmatch.ingest.store import TrialStore
    from trialmatch.nlp.criteria import annotate_trial

    path = work / "fixture-trials.db"
    if not path.exists():
        studies = [json.loads(p.read_text()) for p in sorted((FIXTURES / "trials").glob("*.json"))]
        with TrialStore.open(path) as store:
            store.upsert_studies(studies, annotate_trial)
    return path


def scenario_case_1000_notes(work: Path, args) -> dict:
    import yaml

    from trialmatch.ingest.store import TrialStore
    from trialmatch.match.case import load_case
    from trialmatch.match.engine import match_case

    db = _fixture_store(work)
    folder = work / "case-1000"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "notes").mkdir(parents=True)
    notes = fixture_notes()
    entries = []
    for number in range(1000):
        name = f"notes/note-{number:04d}.txt"
        (folder / name).write_text(notes[number % len(notes)])
        entries.append({"path": name})
    case_path = folder / "case.yaml"
    case_path.write_text(yaml.safe_dump({"id": "many-notes", "age": 60, "sex": "female",
                                         "notes": entries}))
    baseline = peak_mb()
    started = time.perf_counter()
    case = load_case(case_path)
    loaded = time.perf_counter() - started
    with TrialStore.open(db, readonly=True) as store:
        result = match_case(case, store).to_dict()
    return {"notes": len(case.notes), "note_bytes": sum(len(n.text.encode()) for n in case.notes),
            "load_s": loaded, "match_s": time.perf_counter() - started,
            "trials": len(result["trials"]), "baseline_mb": baseline}


def real_criteria(studies_dir: Path, size: int) -> str:
    """Real eligibility texts one after another, cut to `size` characters."""
    parts, total = [], 0
    for path in sorted(studies_dir.glob("*.json")):
        study = json.loads(path.read_text())
        text = (study.get("protocolSection", {}).get("eligibilityModule", {})
                .get("eligibilityCriteria") or "")
        parts.append(text)
        total += len(text) + 1
        if total >= size:
            break
    return "\n".join(parts)[:size]


def scenario_criteria_200kb(work: Path, args) -> dict:
    from trialmatch.models import TrialText
    from trialmatch.nlp.criteria import annotate_trial, split_criteria

    text = real_criteria(args.studies, 200_000)
    baseline = peak_mb()
    started = time.perf_counter()
    pieces = split_criteria(text)
    split_seconds = time.perf_counter() - started
    annotation = annotate_trial(TrialText("NCT00000000", "Limits", ["Lung Cancer"], [], text,
                                          18.0, None, "ALL"))
    return {"chars": len(text), "criteria": len(pieces), "split_s": split_seconds,
            "annotate_s": time.perf_counter() - started,
            "requirements": sum(len(c.requirements) for c in annotation.criteria),
            "baseline_mb": baseline}


@functools.lru_cache(maxsize=4096)
def _annotate_content(key: str):
    from trialmatch.models import TrialText
    from trialmatch.nlp.criteria import annotate_trial

    return annotate_trial(TrialText(**json.loads(key)))


def annotate_replica(text):
    """annotate_trial, parsed once per distinct content: replicas differ only in NCT id."""
    fields = {k: getattr(text, k) for k in ("title", "conditions", "keywords", "criteria_text",
                                            "minimum_age", "maximum_age", "sex")}
    return _annotate_content(json.dumps({"nct_id": "NCT00000000", **fields}, sort_keys=True))


def build_big_store(studies_dir: Path, trials: int, db_path: Path) -> dict:
    """A store of `trials` trials: the real studies replicated under new NCT ids."""
    from trialmatch.ingest.store import TrialStore

    studies = load_studies(studies_dir)

    def replicas():
        # Copy 0 keeps the real id; later copies get ids no real trial uses.
        return replicated(studies, trials, 70_000_000)

    partial = db_path.with_suffix(".building")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    with TrialStore.open(partial) as store:
        counts = store.upsert_studies(replicas(), annotate_replica, batch_size=1000)
    partial.replace(db_path)
    return {"build_s": time.perf_counter() - started, "counts": counts.to_dict(),
            "build_peak_mb": peak_mb()}


def scenario_store_100k(work: Path, args) -> dict:
    from trialmatch.ingest.store import TrialStore
    from trialmatch.match.case import load_case
    from trialmatch.match.engine import match_case

    db = work / f"store-{args.trials}.db"
    figures: dict = {}
    if not db.exists():
        figures["build"] = build_big_store(args.studies, args.trials, db)
        return figures | {"note": "built; run again for the read figures in a fresh process"}
    figures["db_mb"] = db.stat().st_size / 2**20
    baseline = peak_mb()
    started = time.perf_counter()
    with TrialStore.open(db, readonly=True) as store:
        figures["open_s"] = time.perf_counter() - started
        figures["trials"] = store.count()
        timer = time.perf_counter()
        store.stats()
        figures["stats_s"] = time.perf_counter() - timer
        timer = time.perf_counter()
        hits = store.search_text('EGFR "exon 19" OR NEAR(osimertinib) *', limit=50)
        figures["hostile_search_s"] = time.perf_counter() - timer
        figures["hostile_search_hits"] = len(hits)
        timer = time.perf_counter()
        hits = store.search_text("EGFR exon 19 deletion osimertinib", limit=50)
        figures["search_s"], figures["search_hits"] = time.perf_counter() - timer, len(hits)
        timer = time.perf_counter()
        candidates = store.candidate_ids(["LUAD", "NSCLC", "_SOLID", "_ANY"],
                                         statuses=["RECRUITING", "NOT_YET_RECRUITING"],
                                         age=62, sex="female")
        figures["candidates_s"] = time.perf_counter() - timer
        figures["candidates"] = len(candidates)
        # Reading every candidate a chunk at a time (what a streaming matcher would do).
        timer = time.perf_counter()
        criteria = sum(len(trial.criteria) for trial in store.iter_trials(candidates))
        figures["iter_candidates_s"] = time.perf_counter() - timer
        figures["iter_candidate_criteria"] = criteria
        figures["after_iter_mb"] = peak_mb()
        case = load_case(FIXTURES / "cases" / "demo.yaml")
        timer = time.perf_counter()
        result = match_case(case, store).to_dict()
        figures["match_s"] = time.perf_counter() - timer
        figures["match_trials"] = len(result["trials"])
        figures["after_match_mb"] = peak_mb()
        figures["reader_wait_s"] = _reader_wait_during_write(db, store)
    figures["baseline_mb"] = baseline
    return figures


def _reader_wait_during_write(db: Path, reader) -> float:
    """The longest a read waits while another process holds a write transaction open."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time\n"
         "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
         "c.execute('BEGIN IMMEDIATE')\n"
         "c.execute(\"UPDATE trials SET stored_at = stored_at WHERE rowid <= 1000\")\n"
         "print('held', flush=True)\n"
         "time.sleep(3)\n"
         "c.execute('COMMIT')\n", str(db)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    worst = 0.0
    for _ in range(20):
        started = time.perf_counter()
        reader.get_trials(reader.candidate_ids(["LUAD"], statuses=None, age=None, sex=None)[:50])
        worst = max(worst, time.perf_counter() - started)
    holder.wait(timeout=30)
    return worst


def _read_and_extract(path: Path) -> float:
    from trialmatch.nlp.extract import extract
    from trialmatch.nlp.notes import read_note_text

    started = time.perf_counter()
    extract([read_note_text(path).text])
    return time.perf_counter() - started


def _warm() -> None:
    from trialmatch.nlp.extract import extract

    extract(["Warm-up: invasive adenocarcinoma."])


def scenario_extract_per_mb(work: Path, args) -> dict:
    """Read + extract time per MB across note sizes: flat from 10 KB to 5 MB is linear. A
    call's fixed cost (a one-line note) is measured apart, and the rates are also given with
    it taken off, since it dominates a 10 KB note."""
    from trialmatch.nlp.notes import MAX_NOTE_BYTES

    _warm()
    tiny = work / "per-mb-tiny.txt"
    tiny.write_text(LUAD)
    fixed = min(_read_and_extract(tiny) for _ in range(3))
    figures: dict = {"fixed_cost_s": fixed}
    rates = []
    for label, size in (("10KB", 10_000), ("100KB", 100_000), ("1MB", 1_000_000),
                        ("5MB", MAX_NOTE_BYTES - 16)):
        path = work / f"per-mb-{label}.txt"
        path.write_text(note_of_size(size))
        seconds = _read_and_extract(path)
        figures[f"s_per_mb_{label}"] = seconds / (size / 1e6)
        rates.append(max(seconds - fixed, 1e-9) / (size / 1e6))
        figures[f"s_per_mb_{label}_less_fixed"] = rates[-1]
    figures["slowest_over_fastest_less_fixed"] = max(rates) / min(rates)
    return figures


def _junk(size: int) -> str:
    """Punctuation junk with a few words and long blank runs, `size` characters."""
    import random

    chance = random.Random(17)
    parts, total = [], 0
    while total < size:
        kind = chance.random()
        if kind < 0.6:
            part = chance.choice("()[]{}-=_*#.,;:!?/\\|<>~^") * chance.randint(50, 5000)
        elif kind < 0.8:
            part = " " * chance.randint(50, 5000)
        else:
            part = "".join(chance.choice("(-)") for _ in range(chance.randint(50, 5000)))
        parts.append(part + (" adenocarcinoma " if kind > 0.9 else ""))
        total += len(parts[-1])
    return "".join(parts)[:size]


def scenario_punctuation_runs(work: Path, args) -> dict:
    """The issue's hostile notes: before the cut, 5,000 brackets a side took 16 s, 10,000
    62 s, 20,000 (40 KB) 242 s. Now time per MB, and the ratio to a plain note's rate."""
    _warm()
    plain = work / "plain-1mb.txt"
    plain.write_text(note_of_size(1_000_000))
    plain_rate = _read_and_extract(plain) / 1.0
    figures: dict = {"plain_s_per_mb": plain_rate}
    for n in (5_000, 10_000, 20_000, 40_000):
        path = work / f"brackets-{n}.txt"
        path.write_text("(" * n + LUAD + ")" * n)
        seconds = _read_and_extract(path)
        figures[f"brackets_{n}_s"] = seconds
        figures[f"brackets_{n}_x_plain_rate"] = seconds / (path.stat().st_size / 1e6) / plain_rate
    junk = work / "junk-1mb.txt"
    junk.write_text(_junk(1_000_000))
    junk_rate = _read_and_extract(junk) / (junk.stat().st_size / 1e6)
    figures["junk_s_per_mb"] = junk_rate
    figures["junk_x_plain_rate"] = junk_rate / plain_rate
    return figures


def scenario_batch_hostile(work: Path, args) -> dict:
    """100 note cases in a batch of 2 jobs, then the same with one of them hostile."""
    from trialmatch.match.batch import run_batch, store_matcher

    db = _fixture_store(work)
    notes = fixture_notes()
    figures: dict = {}
    for label, hostile in (("plain", False), ("one_hostile", True)):
        folder = work / f"batch-{label}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for number in range(100):
            text = notes[number % len(notes)]
            if hostile and number == 50:
                text = "(" * 20_000 + text + ")" * 20_000
            (folder / f"case-{number:03d}.txt").write_text(text)
        started = time.perf_counter()
        result = run_batch(folder, work / f"batch-{label}-out", jobs=2, case_timeout=600,
                           matcher_factory=functools.partial(store_matcher, db))
        figures[f"{label}_s"] = time.perf_counter() - started
        figures[f"{label}_failed"] = len(result.failed)
        slowest = max(result.outcomes, key=lambda outcome: outcome.seconds)
        figures[f"{label}_slowest_case_s"] = slowest.seconds
    figures["hostile_over_plain"] = figures["one_hostile_s"] / figures["plain_s"]
    return figures


RUNNERS = {
    "extract-per-mb": scenario_extract_per_mb,
    "punctuation-runs": scenario_punctuation_runs,
    "batch-hostile": scenario_batch_hostile,
    "note-5mb": scenario_note_5mb,
    "note-over-5mb": scenario_note_over_5mb,
    "case-1000-notes": scenario_case_1000_notes,
    "criteria-200kb": scenario_criteria_200kb,
    "store-100k": scenario_store_100k,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--studies", type=Path, default=DEFAULT_STUDIES)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    if args.child:  # one scenario, measured in this fresh process; JSON on stdout
        [name] = args.scenario
        started = time.perf_counter()
        figures = RUNNERS[name](args.work, args)
        figures["total_s"] = time.perf_counter() - started
        figures["peak_rss_mb"] = peak_mb()
        print(json.dumps(figures, default=str))
        return

    for name in args.scenario:
        command = [sys.executable, __file__, "--child", "--scenario", name, "--trials",
                   str(args.trials), "--studies", str(args.studies), "--work", str(args.work)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{name}: FAILED\n{done.stderr[-2000:]}")
            continue
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        shown = ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in figures.items())
        print(f"{name}: {shown}", flush=True)


if __name__ == "__main__":
    main()
