"""Write the one-row-per-trial index that case writers shortlist from (made from the records
alone: id, status, phases, title, conditions, keywords, ages, sex).

    python bench/judged/trial_index.py [--studies ../shared/ctgov/studies] > trial_index.tsv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COLUMNS = ("nct_id", "status", "phases", "brief_title", "conditions", "keywords", "min_age",
           "max_age", "sex")


def index_row(study: dict) -> list[str]:
    """One study's row."""
    protocol = study["protocolSection"]
    ident = protocol["identificationModule"]
    conditions = protocol.get("conditionsModule", {})
    eligibility = protocol.get("eligibilityModule", {})
    return [ident["nctId"], protocol["statusModule"]["overallStatus"],
            ",".join(protocol.get("designModule", {}).get("phases") or []),
            ident.get("briefTitle", ""), "; ".join(conditions.get("conditions", [])),
            "; ".join(conditions.get("keywords", [])), eligibility.get("minimumAge", ""),
            eligibility.get("maximumAge", ""), eligibility.get("sex", "")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=Path,
                        default=Path(__file__).resolve().parents[3] / "shared" / "ctgov" /
                        "studies")
    args = parser.parse_args()
    print("\t".join(COLUMNS))
    for path in sorted(args.studies.glob("*.json")):
        row = index_row(json.loads(path.read_text(encoding="utf-8")))
        print("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
