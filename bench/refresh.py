"""Benchmark: a first `refresh` of the real studies from the local stand-in API.

    .venv/bin/python bench/refresh.py [FOLDER] [--page-size 100]

Serves the folder's studies (default: the 755 real records in ../shared) from the test
suite's stand-in ClinicalTrials.gov API on 127.0.0.1, in pages of `--page-size`, and loads
them into a fresh store three ways: no parsing, parsing in 1 process and in 2 processes.
Prints studies/s for each. The network here is a local socket, so the figures show what
parsing and writing cost when pages arrive at once; on the real API a page also travels
(the next page is asked for while the current one is parsed and written). The stand-in
server is a thread of this process: its JSON encoding competes with the load for the
interpreter, so "no parsing" reads lower than `bench/ingest.py`'s (and its CPU time counts
in the main process's). Each load starts with an empty parse cache, so that workers forked
from this process do not find the trials parsed by the load before them.
Beside the wall-clock rate each load prints its CPU time and the rate from it, as
`bench/ingest.py` does (the machine is shared: the wall clock moves with other work).
Issue 19's target for a first load of ~100,000 studies: < 10 min, i.e. > 167 studies/s.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from ctgov_fake import FakeCtgov  # noqa: E402
from ingest import cpu_rate, cpu_seconds  # noqa: E402  (bench/ingest.py, beside this file)

from trialmatch.ingest.client import CtgovClient, RetryPolicy  # noqa: E402
from trialmatch.ingest.files import find_sources  # noqa: E402
from trialmatch.ingest.refresh import refresh  # noqa: E402
from trialmatch.ingest.store import TrialStore  # noqa: E402

DEFAULT_FOLDER = REPO.parent / "shared" / "ctgov" / "studies"


def main() -> None:
    """Serve the studies, refresh three ways, print the rates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args()
    from trialmatch.nlp.criteria import annotate_trial
    from trialmatch.nlp.requirements import clear_parse_cache

    studies = [json.loads(source.read()) for source in find_sources([args.folder])]
    policy = RetryPolicy(timeout=60, min_interval=0)
    print(f"{len(studies)} studies from {args.folder}, pages of {args.page_size}")
    for label, annotate, jobs in (("no parsing", None, 1), ("parsing, 1 process",
                                                             annotate_trial, 1),
                                  ("parsing, 2 processes", annotate_trial, 2)):
        with tempfile.TemporaryDirectory() as scratch, \
                FakeCtgov(studies, page_size=args.page_size) as api, \
                TrialStore.open(Path(scratch) / "trials.db") as store:
            clear_parse_cache()
            start = time.perf_counter()
            main_start = cpu_seconds(resource.RUSAGE_SELF)
            workers_start = cpu_seconds(resource.RUSAGE_CHILDREN)
            result = refresh(store, CtgovClient(api.url, policy=policy), annotate=annotate,
                             jobs=jobs)
            wall = time.perf_counter() - start
            main_cpu = cpu_seconds(resource.RUSAGE_SELF) - main_start
            worker_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - workers_start
        seen = result.counts.seen
        print(f"  {label:<22} {seen / wall:6.0f} studies/s  ({wall:.1f} s, {result.pages} "
              f"pages); from CPU time {cpu_rate(seen, main_cpu, worker_cpu, jobs):.0f} "
              f"studies/s (main {main_cpu:.1f} s, workers {worker_cpu:.1f} s)")
    print("target (issue 19): 100,000 studies in < 10 min, > 167 studies/s")


if __name__ == "__main__":
    main()
