"""Benchmark `trialmatch match`: latency per case, peak memory, whole-command time, and
ranking quality against a BM25 baseline on the gold cases.

    .venv/bin/python bench/match.py [--studies ../shared/ctgov/studies] [--replicate 10000]
                                    [--cases fixtures/cases] [--runs 5] [--work DIR]

1. Builds (once, cached in --work) a store of the fixture trials plus the real studies in
   --studies, replicated under new NCT ids (NCT8xxxxxxx) up to --replicate trials, parsed
   with the real criteria annotator. The fixture trials keep their ids, so the gold cases'
   trials are in it.
2. Loads the pipeline once, then matches every fixture case --runs times and prints p50 and
   p95 latency per case (extraction, candidate query, evaluation, findings), and peak RSS.
3. Runs the whole `trialmatch match CASE --json` command in a subprocess (start-up included).
4. Quality: for each gold case with trials that must be eligible, P@5 and NDCG@10 of
   trialmatch's ranking and of a BM25 baseline (rank-bm25 over each trial's title,
   conditions, keywords and criteria; the case's note text as the query), printed side by
   side, first on a store of the fixture trials only, then with the fixture trials among the
   real studies, each once (real trials the gold does not judge count as not relevant, so
   both systems score low when they rank real trials first). Also harm@5: the share of the
   first 5 that the gold rules out (must_be_excluded or must_not_appear).

Targets (issue 5): p50 <= 50 ms and p95 <= 200 ms per case on 10,000 trials; the whole
command under 2 s.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_STUDIES = REPO.parent / "shared" / "ctgov" / "studies"
DEFAULT_WORK = REPO / "bench" / "out" / "match"
FIXTURE_TRIALS = REPO / "fixtures" / "trials"
TOKEN = re.compile(r"[a-z0-9]+(?:[-+][a-z0-9]+)*")


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (ru_maxrss is KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_store(studies_dir: Path | None, total: int | None, db_path: Path) -> float:
    """Fixture trials plus real studies replicated up to `total` trials (each real study once
    when `total` is None); returns seconds taken (0 when cached and parsed by the current
    criteria parser)."""
    from trialmatch.ingest.store import TrialStore
    from trialmatch.nlp.criteria import annotate_trial

    if db_path.exists():
        # A store cached by an earlier run keeps its parse; trials parsed by another version
        # of the criteria parser are parsed again, or the figures would be of old rules.
        from trialmatch.nlp.criteria import PARSER_VERSION

        started = time.perf_counter()
        with TrialStore.open(db_path) as store:
            redone = store.reparse(annotate_trial, only_stale=PARSER_VERSION)
        return time.perf_counter() - started if redone else 0.0
    fixtures = [json.loads(p.read_text()) for p in sorted(FIXTURE_TRIALS.glob("*.json"))]
    real = ([json.loads(p.read_text()) for p in sorted(studies_dir.glob("*.json"))]
            if studies_dir else [])
    if studies_dir and not real:
        sys.exit(f"no study JSON files in {studies_dir}")

    def studies():
        yield from fixtures
        if not real:
            return
        count = len(real) if total is None else max(0, total - len(fixtures))
        for number in range(count):
            study = copy.deepcopy(real[number % len(real)])
            if number >= len(real):  # copy 0 keeps the real id; later copies get NCT8...
                study["protocolSection"]["identificationModule"]["nctId"] = \
                    f"NCT{80_000_000 + number:08d}"
            yield study

    partial = db_path.with_suffix(".building")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    with TrialStore.open(partial) as store:
        store.upsert_studies(studies(), annotate_trial)
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    partial.rename(db_path)
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def load_cases(case_dir: Path) -> list:
    from trialmatch.match.case import load_case

    paths = sorted(p for p in case_dir.glob("*") if p.suffix in (".yaml", ".yml", ".json"))
    return [load_case(p) for p in paths]


def time_cases(cases: list, db_path: Path, runs: int, *, view_cache: bool = True
               ) -> tuple[list[float], list[float], dict[str, float]]:
    """Latency of match_case per case: wall ms, CPU ms (this process only, so other load on
    the machine distorts it less) and each case's median wall ms; the pipeline loaded once
    before timing. Without `view_cache` the store keeps no screening views or trials between
    calls, so every case reads its candidates as a one-case command does."""
    from trialmatch.ingest.store import TrialStore
    from trialmatch.match.engine import match_case

    latencies: list[float] = []
    cpu: list[float] = []
    per_case: dict[str, float] = {}
    with TrialStore.open(db_path, readonly=True) as store:
        if not view_cache:
            store.view_cache_size = store.trial_cache_size = 0
        match_case(cases[0], store)  # warm-up: pipeline, vocabulary, SQLite page cache
        for case in cases:
            times = []
            for _ in range(runs):
                started, started_cpu = time.perf_counter(), time.process_time()
                match_case(case, store)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
            latencies += times
            per_case[case.id] = statistics.median(times)
    return latencies, cpu, per_case


def stage_breakdown(cases: list, db_path: Path) -> dict[str, float]:
    """Median ms per case of each stage of `match_case`, run piece by piece as the engine
    does (one snapshot, the collector paused, no view cache): candidates, screening views,
    screening, completing the views of the trials that pass, their evaluation and ranking,
    findings."""
    from trialmatch.ingest.store import TrialStore, gc_paused
    from trialmatch.match.engine import drug_therapy_reader
    from trialmatch.nlp.vocab import get_vocabulary

    vocabulary = get_vocabulary()
    reader = drug_therapy_reader()
    stages: dict[str, list[float]] = {name: [] for name in (
        "extract", "candidate query", "screening views", "screening", "read survivors",
        "evaluate+rank survivors", "findings")}
    with TrialStore.open(db_path, readonly=True) as store:
        store.view_cache_size = store.trial_cache_size = 0
        for case in cases:
            with gc_paused(), store.snapshot():
                stage_times(case, store, vocabulary, reader, stages)
    return {name: statistics.median(times) * 1000 for name, times in stages.items()}


def stage_times(case, store, vocabulary, reader, stages: dict[str, list[float]]) -> None:
    """One case through `match_case`'s stages, adding each stage's seconds to `stages`."""
    from trialmatch.config import OPEN_STATUSES
    from trialmatch.match import findings
    from trialmatch.match.engine import candidate_codes, plan_match
    from trialmatch.match.evaluate import ALWAYS_UNKNOWN_KINDS, build_patient, screen_trial
    from trialmatch.nlp.extract import extract

    clock = time.perf_counter()
    profile = extract(case.note_texts)
    stages["extract"].append(time.perf_counter() - clock)
    code = profile.cancer_type.code if profile.cancer_type else None
    clock = time.perf_counter()
    ids = store.candidate_ids(candidate_codes(code, vocabulary),
                              statuses=list(OPEN_STATUSES), age=case.age, sex=case.sex)
    stages["candidate query"].append(time.perf_counter() - clock)
    clock = time.perf_counter()
    views = store.screening_trials(ids, skip_kinds=ALWAYS_UNKNOWN_KINDS)
    stages["screening views"].append(time.perf_counter() - clock)
    patient = build_patient(
        profile, ontology=vocabulary, age=case.age, sex=case.sex, ecog=case.ecog,
        prior_therapies=case.prior_therapies, therapy_reader=reader,
        note_texts=case.note_texts)
    clock = time.perf_counter()
    passed = [view for view in views if not screen_trial(view, patient)]
    stages["screening"].append(time.perf_counter() - clock)
    clock = time.perf_counter()
    trials = store.complete_trials(passed, skip_kinds=ALWAYS_UNKNOWN_KINDS)
    stages["read survivors"].append(time.perf_counter() - clock)
    clock = time.perf_counter()
    plan_match(case, profile, trials, ontology=vocabulary, therapy_reader=reader)
    stages["evaluate+rank survivors"].append(time.perf_counter() - clock)
    clock = time.perf_counter()
    findings.find_protocols(profile, is_a=vocabulary.is_a, is_solid=vocabulary.is_solid,
                            plan_text=None)
    findings.find_testing_gaps(profile, is_a=vocabulary.is_a, stage_group=None)
    stages["findings"].append(time.perf_counter() - clock)


def command_seconds(case_path: Path, db_path: Path, repeats: int = 3) -> list[float]:
    """Wall time of the whole `trialmatch match --json` command, start-up included."""
    executable = Path(sys.executable).with_name("trialmatch")
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([str(executable), "match", str(case_path), "--db", str(db_path),
                        "--json"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


# --------------------------------------------------------------------------- quality


def precision_at(ranked: list[str], relevant: set[str], k: int) -> float:
    """Share of the first k that are relevant (k in the denominator, as is usual)."""
    return sum(1 for nct in ranked[:k] if nct in relevant) / k


def ndcg_at(ranked: list[str], relevant: set[str], k: int) -> float:
    """Binary-relevance NDCG@k."""
    gain = sum(1 / math.log2(i + 2) for i, nct in enumerate(ranked[:k]) if nct in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return gain / ideal if ideal else 0.0


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def quality(cases: list, gold_dir: Path, db_path: Path) -> list[dict]:
    """P@5 and NDCG@10 for trialmatch and BM25 on each gold case with eligible trials."""
    from rank_bm25 import BM25Okapi

    from trialmatch.ingest.store import TrialStore
    from trialmatch.match.engine import match_case

    rows = []
    with TrialStore.open(db_path, readonly=True) as store:
        ids = list(store.iter_ids())
        trials = store.get_trials(ids)
        corpus = [tokens(" ".join([t.title, *t.conditions, *t.keywords, t.criteria_text]))
                  for t in trials]
        bm25 = BM25Okapi(corpus)
        for case in cases:
            gold_path = gold_dir / f"{case.id}.json"
            if not gold_path.exists():
                continue
            gold = json.loads(gold_path.read_text())
            relevant = {str(n).upper() for n in gold.get("must_be_eligible") or []}
            harmful = {str(n).upper() for n in gold.get("must_be_excluded") or {}} | {
                str(n).upper() for n in gold.get("must_not_appear") or []}
            if not relevant:
                continue  # a benign case or one with no fitting trial: no ranking to score
            ours = [t.trial.nct_id for t in match_case(case, store).trials]
            scores = bm25.get_scores(tokens(" ".join(case.note_texts)))
            baseline = [trials[i].nct_id for i in sorted(range(len(trials)),
                                                         key=lambda i: -scores[i])]
            rows.append({
                "case": case.id, "relevant": len(relevant),
                "tm_p5": precision_at(ours, relevant, 5), "tm_ndcg": ndcg_at(ours, relevant, 10),
                "bm_p5": precision_at(baseline, relevant, 5),
                "bm_ndcg": ndcg_at(baseline, relevant, 10),
                "tm_harm": precision_at(ours, harmful, 5),
                "bm_harm": precision_at(baseline, harmful, 5),
            })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=Path, default=DEFAULT_STUDIES)
    parser.add_argument("--replicate", type=int, default=10_000,
                        help="total trials in the latency store (default 10000)")
    parser.add_argument("--cases", type=Path, default=REPO / "fixtures" / "cases")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--skip-quality", action="store_true",
                        help="only the speed figures (no P@5 / NDCG against BM25)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    big_db = args.work / f"trials-{args.replicate}.db"
    small_db = args.work / "fixtures.db"
    mixed_db = args.work / "fixtures-and-real.db"
    seconds = build_store(args.studies, args.replicate, big_db)
    if seconds:
        print(f"built or re-parsed {big_db.name} in {seconds:.0f} s")
    build_store(None, 0, small_db)
    build_store(args.studies, None, mixed_db)

    cases = load_cases(args.cases)
    if not cases:
        sys.exit(f"no case files in {args.cases}")
    from trialmatch.ingest.store import TrialStore

    with TrialStore.open(big_db, readonly=True) as store:
        stored = store.count()
    for label, view_cache in (("every case reads its candidates (as one `match` command)",
                               False),
                              ("the store keeps screening views and trials between cases "
                               "(batch, long-running process)", True)):
        latencies, cpu, per_case = time_cases(cases, big_db, args.runs, view_cache=view_cache)
        print(f"\nLatency per case ({len(cases)} cases x {args.runs} runs, {stored} trials, "
              f"pipeline loaded once): {label}")
        print(f"  p50 {percentile(latencies, 0.50):7.1f} ms   (target <= 50)    "
              f"CPU p50 {percentile(cpu, 0.50):.1f} ms")
        print(f"  p95 {percentile(latencies, 0.95):7.1f} ms   (target <= 200)   "
              f"CPU p95 {percentile(cpu, 0.95):.1f} ms")
        print(f"  max {max(latencies):7.1f} ms")
        slowest = sorted(per_case.items(), key=lambda item: -item[1])[:3]
        print("  slowest: " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in slowest))
        print(f"  peak RSS so far {peak_rss_mb():.0f} MB")
        print(f"  load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("  median per stage: " + ", ".join(
        f"{name} {ms:.1f} ms" for name, ms in stage_breakdown(cases, big_db).items()))

    case_files = sorted(p for p in args.cases.glob("*") if p.suffix in (".yaml", ".yml"))
    # The first case, and the one with the most candidates (a lung case: ~1,100).
    largest = max(case_files, key=lambda p: len(p.read_text()) if "nsclc" in p.name else 0)
    for case_file in dict.fromkeys([case_files[0], largest]):
        wall = command_seconds(case_file, big_db)
        print(f"\nWhole command `trialmatch match {case_file.name} --json` on {stored} trials: "
              f"median {statistics.median(wall):.2f} s, max {max(wall):.2f} s (target < 2 s); "
              f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.skip_quality:
        return

    with TrialStore.open(mixed_db, readonly=True) as store:
        mixed = store.count()
    # Quality is scored without replicas: copies of one real trial would fill a top 10.
    for label, db in (("fixture store", small_db),
                      (f"fixture trials among the real studies, {mixed} trials", mixed_db)):
        print_quality(quality(cases, args.cases / "gold", db), label)


def print_quality(rows: list[dict], label: str) -> None:
    """One table of P@5 and NDCG@10, trialmatch beside BM25, with the means."""
    if rows:
        print(f"\nRanking quality on {len(rows)} gold cases ({label}; relevant = "
              "must_be_eligible)")
        print("  harm@5 = share of the first 5 that the gold rules out (must_be_excluded or "
              "must_not_appear)")
        print(f"  {'case':<28} {'rel':>3}  {'tm P@5':>6} {'NDCG':>5} {'harm':>5}  "
              f"{'bm25 P@5':>8} {'NDCG':>5} {'harm':>5}")
        for r in rows:
            print(f"  {r['case']:<28} {r['relevant']:>3}  {r['tm_p5']:>6.2f} {r['tm_ndcg']:>5.2f}"
                  f" {r['tm_harm']:>5.2f}  {r['bm_p5']:>8.2f} {r['bm_ndcg']:>5.2f}"
                  f" {r['bm_harm']:>5.2f}")
        mean = {key: statistics.mean(r[key] for r in rows)
                for key in ("tm_p5", "tm_ndcg", "tm_harm", "bm_p5", "bm_ndcg", "bm_harm")}
        print(f"  {'MEAN':<28} {'':>3}  {mean['tm_p5']:>6.2f} {mean['tm_ndcg']:>5.2f}"
              f" {mean['tm_harm']:>5.2f}  {mean['bm_p5']:>8.2f} {mean['bm_ndcg']:>5.2f}"
              f" {mean['bm_harm']:>5.2f}")


if __name__ == "__main__":
    main()
