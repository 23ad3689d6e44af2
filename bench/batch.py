"""Benchmark `trialmatch batch`: cases per second with 1 and 2 jobs, peak RSS per worker.

    .venv/bin/python bench/batch.py [--cases 500] [--trials 10000] [--jobs 1 2]
                                    [--studies ../shared/ctgov/studies] [--work DIR]

1. Builds (once, cached in --work) a store of --trials trials by replicating the studies in
   --studies under new NCT ids (NCT8xxxxxxx), parsed with the real criteria annotator.
2. Writes --cases cases by varying the fixture cases (fixtures/cases/*.yaml): each copy gets a
   new id, an age shifted by a few years, and its notes copied beside it, so the folder looks
   like a real week's batch (YAML case files plus notes/ they reference).
3. For each --jobs value, runs the batch in a fresh process (so start-up, pipeline loading and
   memory are measured as a user would see them) and prints cases/s, the workers' CPU seconds
   per case (independent of other load on the machine) and each worker's peak RSS
   (resource.getrusage ru_maxrss, reported by the workers themselves).

Targets (issue 6): 500 cases in under 60 s with 2 jobs; under 400 MB per worker.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml
from replicate import load_studies, replicated

REPO = Path(__file__).resolve().parent.parent
DEFAULT_STUDIES = REPO.parent / "shared" / "ctgov" / "studies"
DEFAULT_WORK = REPO / "bench" / "out" / "batch"


def build_store(studies_dir: Path, trials: int, db_path: Path) -> None:
    """A store of `trials` trials: the real studies, replicated under new NCT ids."""
    from trialmatch.ingest.store import TrialStore
    from trialmatch.nlp.criteria import annotate_trial

    studies = load_studies(studies_dir)

    def replicas():
        # Copy 0 keeps the real id; later copies get ids no real trial uses.
        return replicated(studies, trials, 80_000_000)

    partial = db_path.with_suffix(".building")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    with TrialStore.open(partial) as store:
        counts = store.upsert_studies(replicas(), annotate_trial)
        stored = store.count()
    partial.replace(db_path)
    print(f"store: {stored} trials from {len(studies)} studies "
          f"({counts.to_dict()}) in {time.perf_counter() - started:.1f} s -> {db_path}")


def write_cases(fixture_dir: Path, count: int, case_dir: Path) -> int:
    """`count` variants of the fixture cases under `case_dir`; returns how many bases."""
    from trialmatch.match.case import load_case

    bases = []
    for path in sorted(fixture_dir.glob("*.yaml")) + sorted(fixture_dir.glob("*.json")):
        try:
            bases.append(load_case(path))
        except Exception as error:  # a broken fixture is skipped, and said
            print(f"skipped fixture {path.name}: {error}", file=sys.stderr)
    if not bases:
        sys.exit(f"no usable fixture cases in {fixture_dir}")
    shutil.rmtree(case_dir, ignore_errors=True)
    (case_dir / "notes").mkdir(parents=True)
    for number in range(count):
        base = bases[number % len(bases)]
        case_id = f"{base.id}-v{number:04d}"
        note_entries = []
        for position, note in enumerate(base.notes, start=1):
            note_name = f"notes/{case_id}-{position}.txt"
            (case_dir / note_name).write_text(note.text, encoding="utf-8")
            note_entries.append({"path": note_name})
        document = {"id": case_id, "notes": note_entries}
        if base.age is not None:
            # Vary age within adult bounds so cases differ without changing the cancer.
            document["age"] = max(18, min(90, int(base.age) + (number % 7) - 3))
        for field in ("sex", "ecog", "location", "prior_therapies"):
            if getattr(base, field) is not None:
                document[field] = getattr(base, field)
        if base.first_opinion is not None:
            document["first_opinion"] = base.first_opinion.to_dict()
        (case_dir / f"{case_id}.yaml").write_text(yaml.safe_dump(document, sort_keys=False),
                                                  encoding="utf-8")
    return len(bases)


def run_once(case_dir: Path, out_dir: Path, db_path: Path, jobs: int) -> dict:
    """Run the batch here (called in a fresh process) and return its figures."""
    from trialmatch.ingest.store import TrialStore
    from trialmatch.match.batch import run_batch, store_changed_at, store_matcher

    started = time.perf_counter()
    with TrialStore.open(db_path, readonly=True) as store:
        changed_at = store_changed_at(store, db_path)
    shutil.rmtree(out_dir, ignore_errors=True)
    result = run_batch(case_dir, out_dir, jobs=jobs, store_changed_at=changed_at,
                       matcher_factory=functools.partial(store_matcher, db_path, False, None))
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "jobs": jobs,
        # With one job the matching ran in this process too; with more, this is the
        # coordinating parent alone (loading cases, writing files).
        "parent_cpu_seconds": own.ru_utime + own.ru_stime,
        "cases": len(result.outcomes),
        "failed": len(result.failed),
        "seconds": time.perf_counter() - started,
        "worker_peak_rss_mb": sorted(kb / 1024 for kb in result.worker_peak_rss_kb.values()),
        "worker_cpu_seconds": sum(result.worker_cpu_seconds.values()),
        "counts": result.counts(),
        "first_errors": sorted({o.error for o in result.failed if o.error})[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--studies", type=Path, default=DEFAULT_STUDIES)
    parser.add_argument("--fixtures", type=Path, default=REPO / "fixtures" / "cases")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--run-once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    db_path = args.work / f"store-{args.trials}.db"
    case_dir = args.work / f"cases-{args.cases}"
    if args.run_once:  # the child process: one measured run, figures as JSON on stdout
        figures = run_once(case_dir, args.work / f"out-jobs{args.jobs[0]}", db_path,
                           args.jobs[0])
        print(json.dumps(figures))
        return

    args.work.mkdir(parents=True, exist_ok=True)
    if not db_path.exists():
        build_store(args.studies, args.trials, db_path)
    bases = write_cases(args.fixtures, args.cases, case_dir)
    print(f"cases: {args.cases} variants of {bases} fixture cases -> {case_dir}")

    # CPU seconds per case (all workers, start-up included) do not depend on what else the
    # machine is running; wall-clock cases/s does.
    print(f"{'jobs':>4} {'cases':>6} {'failed':>6} {'seconds':>8} {'cases/s':>8} "
          f"{'CPU s/case':>10} {'parent CPU s':>12}  peak RSS per worker (MB)")
    for jobs in args.jobs:
        child = subprocess.run(
            [sys.executable, __file__, "--run-once", "--jobs", str(jobs), "--cases",
             str(args.cases), "--trials", str(args.trials), "--work", str(args.work)],
            capture_output=True, text=True, check=False,
        )
        if child.returncode != 0:
            sys.exit(f"--jobs {jobs} run failed:\n{child.stderr[-2000:]}")
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        rss = ", ".join(f"{mb:.0f}" for mb in figures["worker_peak_rss_mb"])
        cpu_per_case = figures["worker_cpu_seconds"] / max(figures["cases"], 1)
        print(f"{jobs:>4} {figures['cases']:>6} {figures['failed']:>6} "
              f"{figures['seconds']:>8.1f} {figures['cases'] / figures['seconds']:>8.1f} "
              f"{cpu_per_case:>10.3f} {figures['parent_cpu_seconds']:>12.1f}  {rss}")
        if figures["first_errors"]:
            print(f"     errors, e.g.: {figures['first_errors']}")
    print("targets: 500 cases < 60 s with 2 jobs; < 400 MB per worker")


if __name__ == "__main__":
    main()
