"""Benchmark: load study JSON files into a fresh trial store; print speed and memory.

    .venv/bin/python bench/ingest.py                      # the 755 real studies
    .venv/bin/python bench/ingest.py --replicate 100000   # a 100,000-trial database
    .venv/bin/python bench/ingest.py --annotate           # with eligibility parsing
    .venv/bin/python bench/ingest.py --compare            # parsing on 1 and 2 cores vs a bound

Prints studies per second, wall time, peak RSS and database size. `--replicate N` builds an
N-trial database by cycling through the folder's studies with new NCT ids (NCT8xxxxxxx), so
every study goes through JSON parsing, normalisation, compression and the FTS index.
Targets (issue "Foundation"): >= 300 studies/s; 100,000 trials in < 10 min under 1 GB RSS.

`--compare` (issue 19) loads the same studies four ways, each into a fresh database: a plain
bound (read each file, `json.loads`, insert the id and the text into a bare table, one
transaction per 500: what any loader must at least do), trialmatch without parsing, and
trialmatch with criteria parsing in 1 and in 2 processes; it prints studies/s for each and
the ratio to the bound. Target (issue 19): >= 300 studies/s with parsing.
"""

from __future__ import annotations

import argparse
import json
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


def plain_bound(texts: list[bytes], db_path: Path) -> float:
    """Studies/s of the simplest loader: json.loads each study and insert id and text."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE studies (nct_id TEXT PRIMARY KEY, study TEXT)")
    start = time.perf_counter()
    for first in range(0, len(texts), 500):
        rows = []
        for text in texts[first:first + 500]:
            study = json.loads(text)
            nct_id = study["protocolSection"]["identificationModule"]["nctId"]
            rows.append((nct_id, text.decode("utf-8")))
        conn.execute("BEGIN")
        conn.executemany("INSERT OR REPLACE INTO studies VALUES (?, ?)", rows)
        conn.execute("COMMIT")
    wall = time.perf_counter() - start
    conn.close()
    return len(texts) / wall


def compare(folder: Path) -> None:
    """The --compare table: each trialmatch load in its own process (fresh caches)."""
    sources = find_sources([folder])
    texts = [source.read() for source in sources]
    with tempfile.TemporaryDirectory() as scratch:
        bound = plain_bound(texts, Path(scratch) / "bound.db")
    rows = [("plain JSON parse + insert (bound)", bound)]
    for label, extra in (("trialmatch ingest, no parsing", []),
                         ("trialmatch ingest, parsing, 1 process", ["--annotate", "--jobs",
                                                                    "1"]),
                         ("trialmatch ingest, parsing, 2 processes", ["--annotate", "--jobs",
                                                                     "2"])):
        done = subprocess.run([sys.executable, __file__, str(folder), *extra],
                              capture_output=True, text=True, check=True)
        rate = next(float(line.split()[1]) for line in done.stdout.splitlines()
                    if line.startswith("studies/s:"))
        rows.append((label, rate))
    print(f"folder: {folder} ({len(texts)} studies)")
    for label, rate in rows:
        print(f"  {label:<42} {rate:8.0f} studies/s   {rate / bound:6.3f} of the bound")
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
        start = time.perf_counter()
        if texts is not None:
            counts = store.upsert_studies(replicated(texts, args.replicate), annotate,
                                          jobs=args.jobs)
        else:
            counts = ingest_paths(store, [args.folder], annotate, sources=sources,
                                  jobs=args.jobs).counts
        wall = time.perf_counter() - start
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
    print(f"peak RSS:      {peak_rss_mb():.0f} MB")
    if annotate and args.jobs > 1:
        worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"worker RSS:    {worker:.0f} MB (largest parsing process)")
    print(f"database size: {size_mb:.0f} MB")


if __name__ == "__main__":
    main()
