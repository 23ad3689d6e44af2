"""What the reader asked to see: `--phase`, `--purpose` and `--within` on `match` and `batch`.

Filters choose which trials are shown (phases and purposes with the candidates, in SQL: see
`TrialStore.candidate_ids`; the distance once the nearest site is known, in `plan_match`);
they never change a verdict or a score.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from trialmatch.match.wording import PHASE_WORDS

# ClinicalTrials.gov designModule.phases values.
PHASES = ("EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA")
# ClinicalTrials.gov designInfo.primaryPurpose values.
PURPOSES = ("TREATMENT", "PREVENTION", "DIAGNOSTIC", "ECT", "SUPPORTIVE_CARE", "SCREENING",
            "HEALTH_SERVICES_RESEARCH", "BASIC_SCIENCE", "DEVICE_FEASIBILITY", "OTHER")
_PHASE_ALIASES = {"0": "EARLY_PHASE1", "EARLY1": "EARLY_PHASE1", "EARLY_1": "EARLY_PHASE1",
                  "1": "PHASE1", "2": "PHASE2", "3": "PHASE3", "4": "PHASE4", "I": "PHASE1",
                  "II": "PHASE2", "III": "PHASE3", "IV": "PHASE4", "N/A": "NA", "NONE": "NA"}


def parse_phases(values: Iterable[str]) -> frozenset[str]:
    """'2', 'phase 3', 'PHASE1', '1/2', 'early1', 'NA' -> API phase values. ValueError names
    the value at fault and the accepted forms."""
    found: set[str] = set()
    for value in values:
        for part in re.split(r"[/,|]", value):
            key = re.sub(r"^PHASE[\s_-]*", "", part.strip().upper())
            key = key.replace(" ", "_")
            phase = _PHASE_ALIASES.get(key) or (f"PHASE{key}" if f"PHASE{key}" in PHASES else
                                                key if key in PHASES else None)
            if phase is None:
                raise ValueError(f"'{value}' is not a phase: use 1, 2, 3, 4, early1, NA or "
                                 "a pair such as 1/2")
            found.add(phase)
    return frozenset(found)


def parse_purposes(values: Iterable[str]) -> frozenset[str]:
    """'treatment', 'supportive-care', 'SUPPORTIVE_CARE' -> API purpose values."""
    found: set[str] = set()
    for value in values:
        key = re.sub(r"[\s-]+", "_", value.strip().upper())
        if key not in PURPOSES:
            accepted = ", ".join(p.lower() for p in PURPOSES)
            raise ValueError(f"'{value}' is not a primary purpose: use one of {accepted}")
        found.add(key)
    return frozenset(found)


@dataclass(frozen=True)
class TrialFilters:
    """Which trials to show: any of `phases`, any of `purposes`, a recruiting site within
    `within_km` of the patient. Empty sets and None mean no filter."""

    phases: frozenset[str] = frozenset()
    purposes: frozenset[str] = frozenset()
    within_km: float | None = None

    def __bool__(self) -> bool:
        return bool(self.phases or self.purposes or self.within_km is not None)

    def describe(self) -> list[str]:
        """The filters in words, for reports ('phase 2 or phase 3', 'within 161 km')."""
        words = []
        if self.phases:
            words.append(" or ".join(PHASE_WORDS[p] for p in PHASES if p in self.phases))
        if self.purposes:
            words.append("purpose " + " or ".join(
                p.lower().replace("_", " ") for p in PURPOSES if p in self.purposes))
        if self.within_km is not None:
            words.append(f"a recruiting site within {self.within_km:,.0f} km "
                         f"({self.within_km / 1.609344:,.0f} mi)")
        return words
