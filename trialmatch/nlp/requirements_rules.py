"""Loader for `data/criteria_rules.json`: section headers, lead-ins, cue words and the
per-kind terminology the criteria parser uses, compiled and validated once.

A broken rule names the file and the entry at fault (DataFileError), never a bare re.error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from trialmatch.datafiles import read_data_file
from trialmatch.errors import DataFileError
from trialmatch.regex_cache import re_compile

RULES_FILE = "criteria_rules.json"


@dataclass(frozen=True)
class SectionHeader:
    """A header line that opens an inclusion or exclusion section."""

    kind: str
    pattern: re.Pattern[str]
    bulleted: bool = True  # False: only an unbulleted line is a header (else a lead-in)


@dataclass(frozen=True)
class CriteriaRules:
    """The compiled rules of `criteria_rules.json`."""

    source: str
    section_headers: tuple[SectionHeader, ...]
    header_words: tuple[str, ...]  # every header contains one of these (a cheap pre-check)
    negative_lead_ins: tuple[re.Pattern[str], ...]
    alternative_lead_ins: tuple[re.Pattern[str], ...]
    cohort_label: re.Pattern[str]
    cohort_all: re.Pattern[str]
    negation_cue: re.Pattern[str]  # one alternation of every cue, matched as whole words
    allowance_cues: tuple[re.Pattern[str], ...]
    allowance_words: tuple[str, ...]  # every allowance match contains one ((): no pre-check)
    conditional_cue: re.Pattern[str]
    raw: dict[str, Any]


def _compile(pattern: Any, where: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise DataFileError(f"{RULES_FILE}: {where} must be a non-empty regular expression")
    try:
        return re_compile(pattern, flags)
    except re.error as exc:
        raise DataFileError(f"{RULES_FILE}: {where} is not a valid regular expression: {exc}") \
            from None


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        raise DataFileError(f"{RULES_FILE}: '{key}' must be a non-empty list")
    return value


def _words(data: dict[str, Any], key: str) -> list[str]:
    words = _list(data, key)
    for i, word in enumerate(words):
        if not isinstance(word, str) or not word.strip() or word != word.lower():
            raise DataFileError(f"{RULES_FILE}: {key}[{i}] must be a non-empty lower-case string")
    return words


def build_rules(data: dict[str, Any]) -> CriteriaRules:
    """Validate and compile a rules document (the parsed JSON of `criteria_rules.json`)."""
    if not isinstance(data, dict):
        raise DataFileError(f"{RULES_FILE}: top level must be an object")
    if not isinstance(data.get("source"), str) or not data["source"].strip():
        raise DataFileError(f"{RULES_FILE}: 'source' must say where the rules come from")
    headers = []
    for i, entry in enumerate(_list(data, "section_headers")):
        if not isinstance(entry, dict) or entry.get("kind") not in ("inclusion", "exclusion"):
            raise DataFileError(
                f"{RULES_FILE}: section_headers[{i}] needs kind 'inclusion' or 'exclusion'")
        if not isinstance(entry.get("bulleted", True), bool):
            raise DataFileError(f"{RULES_FILE}: section_headers[{i}].bulleted must be true/false")
        headers.append(SectionHeader(entry["kind"],
                                     _compile(entry.get("pattern"), f"section_headers[{i}]"),
                                     entry.get("bulleted", True)))
    cues = _list(data, "negation_cues")
    for i, cue in enumerate(cues):
        if not isinstance(cue, str) or not cue.strip():
            raise DataFileError(f"{RULES_FILE}: negation_cues[{i}] must be a non-empty string")
    cue_alternation = "|".join(
        re.escape(c).replace(r"\ ", r"\s+") for c in sorted(cues, key=len, reverse=True))
    return CriteriaRules(
        source=data["source"],
        section_headers=tuple(headers),
        header_words=tuple(_words(data, "header_words")),
        negative_lead_ins=tuple(
            _compile(p, f"negative_lead_ins[{i}]")
            for i, p in enumerate(_list(data, "negative_lead_ins"))),
        alternative_lead_ins=tuple(
            _compile(p, f"alternative_lead_ins[{i}]")
            for i, p in enumerate(_list(data, "alternative_lead_ins"))),
        cohort_label=_compile(data.get("cohort_label"), "cohort_label"),
        cohort_all=_compile(data.get("cohort_all"), "cohort_all"),
        negation_cue=_compile(rf"(?<![\w-])(?:{cue_alternation})(?![\w])", "negation_cues"),
        allowance_cues=tuple(
            _compile(p, f"allowance_cues[{i}]")
            for i, p in enumerate(_list(data, "allowance_cues"))),
        allowance_words=tuple(_words(data, "allowance_words")) if "allowance_words" in data
        else (),
        conditional_cue=_compile(data.get("conditional_cues"), "conditional_cues"),
        raw=data,
    )


@lru_cache(maxsize=1)
def get_rules() -> CriteriaRules:
    """The packaged criteria rules, loaded once."""
    return build_rules(read_data_file("trialmatch.nlp", RULES_FILE))
