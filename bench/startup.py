"""Benchmark: start-up of `trialmatch match` on one case beside `python -c "import spacy"`.

    .venv/bin/python bench/startup.py [--runs 5] [CASE]

Both run as fresh processes of this same interpreter, one after the other, `--runs` times;
the medians and the ratio are printed (issue 19 target: match < 1.5x the spaCy import).
Also printed for reference: `trialmatch --help` and importing the CLI alone, which show what
the command-line layer costs before any matching. The store is the bundled fixture trials,
built once in a temporary folder (not timed), with the start-up cache
(`$TRIALMATCH_CACHE_DIR`) in that folder too: the first `match` fills it (its time is printed
apart, as "cold cache"), the timed runs read it, as every run after the first does. Run it on
a quiet machine: it prints wall times, which other processes on the cores stretch.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CLI = "from trialmatch.cli import main; main()"


def timed(command: list[str], runs: int, env: dict[str, str] | None = None) -> list[float]:
    """Wall seconds of `runs` fresh runs of `command` (each must exit 0)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command[:4])} failed: {done.stderr.strip()[-300:]}")
    return times


def main() -> None:
    """Build the fixture store, time each command, print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", nargs="?", type=Path, default=REPO / "fixtures" / "cases" /
                        "demo.yaml")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    python = sys.executable
    # An installed package has its bytecode compiled (pip does it, as it did for spaCy); a
    # source checkout run with PYTHONDONTWRITEBYTECODE=1 would compile every module from
    # source on every start, which no installation does. Compiled once here (into the
    # ignored __pycache__ folders), so that both sides of the ratio start from bytecode.
    compileall.compile_dir(REPO / "trialmatch", quiet=1)
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "trials.db"
        env = {**os.environ, "TRIALMATCH_CACHE_DIR": str(Path(scratch) / "cache")}
        subprocess.run([python, "-c", CLI, "ingest", str(REPO / "fixtures" / "trials"),
                        "--db", str(db)], check=True, capture_output=True, env=env)
        (Path(scratch) / "cache").mkdir(exist_ok=True)
        for stale in (Path(scratch) / "cache").glob("*"):
            stale.unlink()  # the ingest filled it: the first match starts cold
        match_command = [python, "-c", CLI, "match", str(args.case), "--db", str(db), "--json"]
        cold = timed(match_command, 1, env)[0]
        commands = {
            'python -c "import spacy"': [python, "-c", "import spacy"],
            "trialmatch match CASE --json": match_command,
            "trialmatch --help": [python, "-c", CLI, "--help"],
            "import trialmatch.cli": [python, "-c", "import trialmatch.cli"],
            "python -c pass": [python, "-c", "pass"],
        }
        # Interleaved rounds, so a burst of load elsewhere hits every command alike.
        results: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                results[name] += timed(command, 1, env)
    medians = {name: statistics.median(times) for name, times in results.items()}
    print(f"interpreter: {python}; {args.runs} runs each, interleaved; case {args.case.name}")
    for name, median in medians.items():
        print(f"  {name:<32} median {median:6.2f} s   min {min(results[name]):6.2f} s")
    spacy = medians['python -c "import spacy"']
    ratio = medians["trialmatch match CASE --json"] / spacy
    print(f"match / spaCy import: {ratio:.2f}x (target < 1.5x); the first match, with the "
          f"start-up cache cold, took {cold:.2f} s")
    cli = medians["import trialmatch.cli"] - medians["python -c pass"]
    print(f"CLI layer before matching: {cli:.2f} s")


if __name__ == "__main__":
    main()
