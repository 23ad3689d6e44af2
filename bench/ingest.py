"""Benchmark: load study JSON files into a fresh trial store; print speed and memory.

    .venv/bin/python bench/ingest.py                      # the 755 real studies
    .venv/bin/python bench/ingest.py --replicate 100000   # a 100,000-trial database
    .venv/bin/python bench/ingest.py --annotate           # with eligibility parsing
    .venv/bin/python bench/ingest.py --compare            # parsing on 1 and 2 cores vs a bound

Prints studies per second, wall time, CPU time, peak RSS and database size. `--replicate N`
builds an N-trial database by cycling through the folder's studies with new NCT ids
(NCT8xxxxxxx), so every study goes through JSON parsing, normalisation, compression and the
FTS index (with --annotate, the copies' criteria are found in the parse cache: use the real
folder for parsing figures).
Targets (issue "Foundation"): >= 300 studies/s; 100,000 trials in < 10 min under 1 GB RSS.

`--compare` (issue 19) loads the same studies four ways, each into a fresh database: a plain
bound (read each file, `json.loads`, insert the id and the text into a bare table, one
transaction per 500: what any loader must at least do), trialmatch without parsing, and
trialmatch with criteria parsing in 1 and in 2 processes; it prints studies/s for each and
the ratio to the bound. Target (issue 19): >= 300 studies/s with parsing.

The machine is shared, so wall-clock rates move with whatever else runs. Beside them every
load prints its CPU time (this process, and its parsing workers once they have exited) and a
rate from it: the studies/s the load would reach with its cores to itself, i.e. the studies
over the CPU seconds of its busiest part (the main process, which reads, normalises and
writes, or the parsing shared by the workers) and never more than the CPU time allows on
min(jobs, cores) cores. `--compare` prints both rates and a 100,000-study estimate from each.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from trialmatch.ingest.files import find_sources, ingest_paths  # noqa: E402
from trialmatch.ingest.store import TrialStore  # noqa: E402

DEFAULT_FOLDER = REPO.parent / "shared" / "ctgov" / "studies"


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (ru_maxrss is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(who: int) -> float:
    """User + system CPU seconds of this process (RUSAGE_SELF) or of its waited-for children
    (RUSAGE_CHILDREN: parsing workers count once the pool has shut down)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def cpu_rate(studies: int, main_cpu: float, worker_cpu: float, jobs: int) -> float:
    """Studies/s the load would reach on cores of its own, from CPU time. In one process that
    is studies over its CPU time. With workers, parsing (worker CPU) is shared by `jobs`
    processes while the main process reads and writes: the slower of the two sets the pace,
    and all of it cannot go faster than the CPU time spread over min(jobs, cores) cores."""
    if jobs <= 1 or worker_cpu == 0:
        return studies / max(main_cpu + worker_cpu, 1e-9)
    cores = max(1, min(jobs, os.cpu_count() or 1))
    busiest = max(main_cpu, worker_cpu / jobs, (main_cpu + worker_cpu) / cores)
    return studies / max(busiest, 1e-9)


def load_annotate():
    """`trialmatch.nlp.criteria.annotate_trial`, or None (with a note) if not available."""
    try:
        from trialmatch.nlp.criteria import annotate_trial
    except ImportError as error:
        print(f"note: eligibility parsing unavailable ({error}); loading without it")
        return None
    return annotate_trial


def replicated(texts: list[str], count: int) -> Iterator[dict]:
    """`count` studies: the folder's studies over and over, each copy with a new NCT id."""
    for index in range(count):
        study = json.loads(texts[index % len(texts)])
        study["protocolSection"]["identificationModule"]["nctId"] = f"NCT{80000000 + index:08d}"
        yield study


def plain_bound(texts: list[bytes], db_path: Path) -> tuple[float, float]:
    """Studies/s (wall clock, CPU time) of the simplest loader: json.loads each study and
    insert id and text."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE studies (nct_id TEXT PRIMARY KEY, study TEXT)")
    start, cpu_start = time.perf_counter(), time.process_time()
    for first in range(0, len(texts), 500):
        rows = []
        for text in texts[first:first + 500]:
            study = json.loads(text)
            nct_id = study["protocolSection"]["identificationModule"]["nctId"]
            rows.append((nct_id, text.decode("utf-8")))
        conn.execute("BEGIN")
        conn.executemany("INSERT OR REPLACE INTO studies VALUES (?, ?)", rows)
        conn.execute("COMMIT")
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    conn.close()
    return len(texts) / wall, len(texts) / max(cpu, 1e-9)


def compare(folder: Path) -> None:
    """The --compare table: each trialmatch load in its own process (fresh caches)."""
    sources = find_sources([folder])
    texts = [source.read() for source in sources]
    with tempfile.TemporaryDirectory() as scratch:
        bound, bound_cpu = plain_bound(texts, Path(scratch) / "bound.db")
    rows = [("plain JSON parse + insert (bound)", bound, bound_cpu)]
    for label, extra in (("trialmatch ingest, no parsing", []),
                         ("trialmatch ingest, parsing, 1 process", ["--annotate", "--jobs",
                                                                    "1"]),
                         ("trialmatch ingest, parsing, 2 processes", ["--annotate", "--jobs",
                                                                     "2"])):
        done = subprocess.run([sys.executable, __file__, str(folder), *extra],
                              capture_output=True, text=True, check=True)
        figures = {line.split(":", 1)[0]: line.split(":", 1)[1].split()
                   for line in done.stdout.splitlines() if ":" in line}
        rows.append((label, float(figures["studies/s"][0]),
                     float(figures["studies/s (CPU)"][0])))
    print(f"folder: {folder} ({len(texts)} studies)")
    print(f"  {'':<42} {'wall clock':>20}   {'from CPU time':>20}")
    for label, rate, rate_cpu in rows:
        print(f"  {label:<42} {rate:7.0f} studies/s {rate / bound:5.3f}   "
              f"{rate_cpu:7.0f} studies/s {rate_cpu / bound_cpu:5.3f}")
    for label, rate, rate_cpu in rows[2:]:
        print(f"  100,000 studies, {label.split(', ', 1)[1]}: {100_000 / rate / 60:.1f} min "
              f"(wall clock), {100_000 / rate_cpu / 60:.1f} min (from CPU time)")
    print("(ratios are to the bound's rate in the same column; 'from CPU time' is the rate "
          "with the cores to itself)")
    print("target (issue 19): >= 300 studies/s with parsing")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--replicate", type=int, metavar="N",
                        help="build an N-trial database from copies of the folder's studies")
    parser.add_argument("--annotate", action="store_true", help="include eligibility parsing")
    parser.add_argument("--jobs", type=int, default=1,
                        help="parse eligibility in this many processes (with --annotate)")
    parser.add_argument("--db", type=Path, help="database file [default: a temporary file]")
    parser.add_argument("--compare", action="store_true",
                        help="parsing on 1 and 2 processes beside a plain load bound")
    args = parser.parse_args()
    if args.compare:
        compare(args.folder)
        return

    annotate = load_annotate() if args.annotate else None
    with tempfile.TemporaryDirectory() as scratch:
        db_path = args.db or Path(scratch) / "bench.db"
        if db_path.exists():
            raise SystemExit(f"{db_path} exists; the benchmark needs a fresh database")
        sources = find_sources([args.folder])
        texts = None
        if args.replicate:
            texts = [source.read().decode("utf-8") for source in sources]
        store = TrialStore.open(db_path)
        start, cpu_start = time.perf_counter(), cpu_seconds(resource.RUSAGE_SELF)
        if texts is not None:
            counts = store.upsert_studies(replicated(texts, args.replicate), annotate,
                                          jobs=args.jobs)
        else:
            counts = ingest_paths(store, [args.folder], annotate, sources=sources,
                                  jobs=args.jobs).counts
        wall = time.perf_counter() - start
        main_cpu = cpu_seconds(resource.RUSAGE_SELF) - cpu_start
        worker_cpu = cpu_seconds(resource.RUSAGE_CHILDREN)  # the pool has shut down
        stored = store.count()
        store.close()
        size_mb = sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*")) / 2**20

    studies = counts.seen
    print(f"folder:        {args.folder} ({len(sources)} files)")
    print(f"parsing:       {f'on, {args.jobs} process(es)' if annotate else 'off'}")
    print(f"studies:       {studies} ({counts.added} added, {counts.skipped} skipped); "
          f"{stored} trials stored")
    print(f"wall time:     {wall:.1f} s")
    print(f"studies/s:     {studies / wall:.0f}")
    print(f"cpu time:      {main_cpu + worker_cpu:.1f} s (main process {main_cpu:.1f} s, "
          f"parsing workers {worker_cpu:.1f} s)")
    jobs = args.jobs if annotate else 1
    print(f"studies/s (CPU): {cpu_rate(studies, main_cpu, worker_cpu, jobs):.0f} "
          f"(from CPU time, on {min(jobs, os.cpu_count() or 1)} core(s) of its own)")
    print(f"peak RSS:      {peak_rss_mb():.0f} MB")
    if annotate and args.jobs > 1:
        worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"worker RSS:    {worker:.0f} MB (largest parsing process)")
    print(f"database size: {size_mb:.0f} MB")


if __name__ == "__main__":
    main()
