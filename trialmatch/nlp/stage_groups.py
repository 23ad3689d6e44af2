"""The stage group of T, N and M categories, by cancer site (AJCC 8th edition).

Notes often give the categories ("cT2 cN0 M0", "pT3b pN1b") without the group a trial asks
for ("stage II-III"). The groups are data (`data/stage_groups.json`, one system per site with
its source); this module reads them and finds the group for a stage, a cancer type, the age
at diagnosis (differentiated thyroid cancer) and the biomarkers (HPV-associated
oropharyngeal cancer is staged apart).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from trialmatch.datafiles import read_data_file, string_list
from trialmatch.errors import DataFileError
from trialmatch.models import Biomarker, Stage

STAGE_GROUPS_FILE = "stage_groups.json"
_SYSTEM_KEYS = frozenset({"name", "codes", "source", "rules", "marker", "marker_codes",
                          "prefixes", "min_age", "below_age"})
_PATHOLOGICAL = frozenset({"p", "yp"})


@dataclass(frozen=True)
class StagingSystem:
    """One site's stage groups: for which cancer types, under which conditions, and the
    rules (T patterns, N patterns, M patterns, group), first match wins."""

    name: str
    codes: tuple[str, ...]
    source: str
    rules: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str], ...]
    marker: tuple[str, str] | None = None
    marker_codes: tuple[str, ...] = ()
    prefixes: tuple[str | None, ...] | None = None
    min_age: float | None = None
    below_age: float | None = None


def _strings(value: Any, where: str) -> tuple[str, ...]:
    return string_list(value, f"{STAGE_GROUPS_FILE}: {where}")


def build_systems(data: Any) -> tuple[StagingSystem, ...]:
    """Validate the parsed file and build its systems (DataFileError names the entry)."""
    if not isinstance(data, dict) or not isinstance(data.get("source"), str) or \
            not isinstance(data.get("systems"), list):
        raise DataFileError(f"{STAGE_GROUPS_FILE}: needs 'source' and a list of 'systems'")
    systems = []
    for index, raw in enumerate(data["systems"]):
        where = f"system #{index}"
        if not isinstance(raw, dict) or set(raw) - _SYSTEM_KEYS:
            raise DataFileError(f"{STAGE_GROUPS_FILE}: {where}: keys must be among "
                                f"{', '.join(sorted(_SYSTEM_KEYS))}")
        name = raw.get("name")
        source = raw.get("source")
        if not isinstance(name, str) or not isinstance(source, str) or not source.strip():
            raise DataFileError(f"{STAGE_GROUPS_FILE}: {where}: needs a 'name' and a 'source'")
        where = f"system {name!r}"
        rules = []
        for number, rule in enumerate(raw.get("rules") or []):
            if not isinstance(rule, list) or len(rule) != 4 or not isinstance(rule[3], str):
                raise DataFileError(f"{STAGE_GROUPS_FILE}: {where}: rule #{number} must be "
                                    "[T patterns, N patterns, M patterns, group]")
            rules.append((_strings(rule[0], f"{where} rule #{number} T"),
                          _strings(rule[1], f"{where} rule #{number} N"),
                          _strings(rule[2], f"{where} rule #{number} M"), rule[3]))
        if not rules:
            raise DataFileError(f"{STAGE_GROUPS_FILE}: {where}: no rules")
        marker = raw.get("marker")
        if marker is not None and (not isinstance(marker, list) or len(marker) != 2 or
                                   marker[1] not in ("positive", "negative")):
            raise DataFileError(f"{STAGE_GROUPS_FILE}: {where}: 'marker' must be "
                                "[marker, positive|negative]")
        prefixes = raw.get("prefixes")
        if prefixes is not None and (not isinstance(prefixes, list) or not all(
                p is None or isinstance(p, str) for p in prefixes)):
            raise DataFileError(f"{STAGE_GROUPS_FILE}: {where}: 'prefixes' must list c, p, "
                                "yp or null")
        ages = {key: raw.get(key) for key in ("min_age", "below_age")}
        if any(value is not None and not isinstance(value, (int, float))
               for value in ages.values()):
            raise DataFileError(f"{STAGE_GROUPS_FILE}: {where}: ages must be numbers")
        systems.append(StagingSystem(
            name=name, codes=_strings(raw.get("codes"), f"{where} codes"), source=source,
            rules=tuple(rules), marker=tuple(marker) if marker else None,  # type: ignore[arg-type]
            marker_codes=tuple(raw.get("marker_codes") or ()),
            prefixes=tuple(prefixes) if prefixes is not None else None,
            min_age=ages["min_age"], below_age=ages["below_age"]))
    return tuple(systems)


@lru_cache(maxsize=1)
def staging_systems() -> tuple[StagingSystem, ...]:
    """The packaged systems (read once)."""
    return build_systems(read_data_file("trialmatch.nlp", STAGE_GROUPS_FILE))


def _fits(category: str | None, patterns: tuple[str, ...], missing: str | None) -> bool:
    value = category or missing
    if value is None:
        return False
    value = value.strip()
    for pattern in patterns:
        if pattern == "*":
            return True
        if pattern in ("TX", "NX"):
            if value.upper() == pattern:
                return True
            continue
        if value.startswith(pattern) and value.upper() not in ("TX", "NX"):
            return True
    return False


def _marker_status(biomarkers: Iterable[Biomarker], marker: str) -> str | None:
    """p16 status, or HPV's (an HPV-mediated tumour is p16-positive for staging)."""
    wanted = {"p16", "HPV"} if marker == "p16" else {marker}
    found = [b.status for b in biomarkers if b.marker in wanted and
             b.status in ("positive", "negative")]
    return "positive" if "positive" in found else (found[0] if found else None)


def _applies(system: StagingSystem, code: str, stage: Stage, age: float | None,
             biomarkers: list[Biomarker], is_a: Any) -> bool:
    if not any(is_a(code, c) for c in system.codes):
        return False
    if system.prefixes is not None:
        prefix = (stage.prefix or "").lower() or None
        if prefix not in system.prefixes and not (
                prefix in _PATHOLOGICAL and any(p in _PATHOLOGICAL for p in system.prefixes
                                                if p)):
            return False
    if system.marker is not None and (not system.marker_codes or any(
            is_a(code, c) for c in system.marker_codes)):
        if _marker_status(biomarkers, system.marker[0]) != system.marker[1]:
            return False
    if system.min_age is not None and (age is None or age < system.min_age):
        return False
    if system.below_age is not None and (age is None or age >= system.below_age):
        return False
    return True


def group_from_tnm(stage: Stage | None, code: str | None, ontology: Any,
                   age: float | None = None,
                   biomarkers: Iterable[Biomarker] = ()) -> Stage | None:
    """`stage` with its group derived from T, N and M when it has none (marked derived, the
    system named in the evidence); unchanged when it has a group, lacks T or N, or no
    system of the cancer type gives one."""
    if stage is None or stage.group or not code or not stage.t or not stage.n:
        return stage
    markers = list(biomarkers)
    for system in staging_systems():
        if not _applies(system, code, stage, age, markers, ontology.is_a):
            continue
        for t, n, m, group in system.rules:
            if _fits(stage.t, t, None) and _fits(stage.n, n, None) and \
                    _fits(stage.m, m, "M0"):
                return replace(stage, group=group,
                               derived=sorted(set(stage.derived or []) | {"group"}),
                               evidence=f"{stage.evidence} (stage group from "
                               f"{system.source})".strip())
        return stage  # the first system that applies decides, even with no group
    return stage
