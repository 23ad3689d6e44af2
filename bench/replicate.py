"""Shared by the benchmarks: a large store made of the real studies under new NCT ids.

Replicas differ from their originals only in the NCT id, so each benchmark picks an id range
no real trial uses (NCT7..., NCT8...) and loads as many trials as it needs.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path


def load_studies(studies_dir: Path) -> list[dict]:
    """Every study JSON file in `studies_dir`, sorted by name; exits when there is none."""
    studies = [json.loads(path.read_text()) for path in sorted(studies_dir.glob("*.json"))]
    if not studies:
        sys.exit(f"no study JSON files in {studies_dir}")
    return studies


def replicated(studies: list[dict], count: int, id_base: int) -> Iterator[dict]:
    """`count` studies cycling through `studies`; the first pass keeps the real ids, later
    copies get `NCT{id_base + n:08d}`."""
    for number in range(count):
        study = copy.deepcopy(studies[number % len(studies)])
        if number >= len(studies):
            study["protocolSection"]["identificationModule"]["nctId"] = (
                f"NCT{id_base + number:08d}")
        yield study
