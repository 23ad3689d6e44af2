"""Report sections: find headers such as FINAL DIAGNOSIS or CLINICAL HISTORY and weigh them.

The headers and their weights are data (`data/sections.json`). A header counts when it
starts a line, or starts a sentence and is followed by a colon (OCR output often merges a
report's lines into one, "... received fresh. FINAL DIAGNOSIS: ..."). Text before the first
header is the "body" section with the default weight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from trialmatch.datafiles import read_data_file
from trialmatch.errors import DataFileError
from trialmatch.nlp.context import lowered_for_search, matches_at
from trialmatch.regex_cache import re_compile

SECTIONS_FILE = "sections.json"
HISTORY_MAX_CHARS = 400


@dataclass(frozen=True)
class Section:
    """One section of a note: its kind, the header as written and its character span.

    `start` is where the header begins (or 0 for the body before any header), `body_start`
    where the section's text begins after the header, `end` where the next section begins.
    """

    name: str
    header: str
    weight: float
    start: int
    body_start: int
    end: int


@dataclass(frozen=True)
class SectionRules:
    """The loaded, validated section header table."""

    header_kind: dict[str, tuple[str, float]]  # upper-case header -> (name, weight)
    default_name: str
    default_weight: float
    line_pattern: re.Pattern[str]
    inline_pattern: re.Pattern[str]
    title_pattern: re.Pattern[str]
    # Each header's first word in lower case ("" when a header is not ASCII: no filter).
    first_words: tuple[str, ...] = ("",)


def _validate(raw: Any) -> SectionRules:
    where = f"trialmatch/nlp/data/{SECTIONS_FILE}"
    if not isinstance(raw, dict) or not isinstance(raw.get("sections"), list):
        raise DataFileError(f"{where}: expected an object with a 'sections' list")
    default = raw.get("default") or {}
    header_kind: dict[str, tuple[str, float]] = {}
    for index, entry in enumerate(raw["sections"]):
        name, weight, headers = entry.get("name"), entry.get("weight"), entry.get("headers")
        if not isinstance(name, str) or not isinstance(weight, int | float):
            raise DataFileError(f"{where}: section #{index} needs a 'name' and a numeric 'weight'")
        if not isinstance(headers, list) or not all(isinstance(h, str) and h for h in headers):
            raise DataFileError(f"{where}: section '{name}' needs a list of header strings")
        for header in headers:
            if header[0].isspace():
                raise DataFileError(f"{where}: header '{header}' starts with a blank")
            key = header.upper()
            if key in header_kind:
                raise DataFileError(f"{where}: header '{header}' is listed twice")
            header_kind[key] = (name, float(weight))
    # Longest first so "FINAL DIAGNOSIS" wins over "DIAGNOSIS".
    alternatives = "|".join(
        re.escape(h).replace(r"\ ", r"\s+") for h in sorted(header_kind, key=len, reverse=True)
    )
    # At the start of a line, optionally numbered ("A. FINAL DIAGNOSIS"), followed by a colon,
    # a dash or the end of the line.
    line_pattern = re_compile(
        rf"(?im)^[ \t]*(?:[A-Z0-9]{{1,2}}[.)][ \t]*)?(?P<header>{alternatives})[ \t]*"
        # "ADDENDUM #1 (2025-10-20) - ...", "ORIGINAL DIAGNOSIS (10/14/2025):"
        rf"(?:(?:\#[ \t]*\d{{1,2}}|\([^()\n]{{1,30}}\))[ \t]*)*"
        # "ORIGINAL DIAGNOSIS (2025-09-26), retained for the record:"
        rf"(?:[:\-]|,[^:\n]{{1,40}}:|(?=\r?\n)|$)"
    )
    # Inside merged lines: after a sentence end, upper-case as written, and followed by a
    # colon or a full stop ("... fresh. DIAGNOSIS. Colon, sigmoid ...").
    inline_pattern = re_compile(
        rf"(?:(?<=[.;])[ \t]+|\A)(?P<header>{alternatives})[ \t]*(?::|\.(?=\s))")
    # Inside merged lines, a header of several words written in title case and followed by
    # a colon ("... received fresh. Gross Description: ...", "Pre-Op Diagnosis : ...").
    title_pattern = re_compile(
        rf"(?i)(?:(?<=[.;])[ \t]+|\A)(?P<header>{alternatives})[ \t]*:")
    return SectionRules(
        header_kind=header_kind,
        default_name=str(default.get("name", "body")),
        default_weight=float(default.get("weight", 1.0)),
        line_pattern=line_pattern,
        inline_pattern=inline_pattern,
        title_pattern=title_pattern,
        first_words=tuple(sorted({key.split(" ")[0].lower() for key in header_kind}))
        if all(key.isascii() for key in header_kind) else ("",),
    )


@lru_cache(maxsize=1)
def load_section_rules() -> SectionRules:
    """Load and validate `data/sections.json` (cached)."""
    return _validate(read_data_file("trialmatch.nlp", SECTIONS_FILE))


def _canonical(header: str) -> str:
    return re.sub(r"\s+", " ", header).upper()


# A field label after a sentence end: up to four words, the first capitalised, then a colon.
_FIELD_LABEL = re_compile(r"[.;]\s+([A-Z][\w/\-]*(?:\s+[\w/\-]+){0,3}\s*:)")


_MINOR_WORDS = frozenset(("and", "or", "of", "for", "the", "&"))
# Abbreviated history fields of clinic notes, one line each.
_ONE_LINE_HISTORIES = frozenset(("PMH", "PMHX", "PAST HISTORY", "FH", "FHX", "FAMILY HX",
                                 "SOCIAL HISTORY", "SH"))


def _title_case(header: str) -> bool:
    """"Gross Description", "Pre-Op Diagnosis", "Clinical Diagnosis and History": several
    words, each capitalised but for "and", "of" and the like. One word
    ("Diagnosis:") or a lower-case word ("Clinical history:") may be prose."""
    words = header.split()
    return len(words) >= 2 and all(word[0].isupper() or word.lower() in _MINOR_WORDS
                                   for word in words)


# Where a header inside merged lines can start: after a sentence end and blanks. The patterns
# begin "(?:(?<=[.;])[ \t]+|\A)" and no header begins with a blank (_validate).
# Every header begins with a letter that both patterns need in capitals (inline_pattern as
# written, title_pattern by _title_case; no header begins with a minor word).
# Its group is the blanks: they start where the patterns can, and end where the header would.
# (The stop first: the regex engine skips from stop to stop.)
_AFTER_STOP = re_compile(r"[.;]([ \t]+)(?=[A-Z])")


def _merged_line_starts(text: str, rules: SectionRules) -> list[int]:
    """Where the merged-line patterns can match: the text's start and each _AFTER_STOP,
    only where a header's first word follows (the patterns' alternation of every header is
    tried at a few places, not after every sentence). The header words are matched
    ignoring case, so they stand in the lowered text at the same offsets."""
    lowered = lowered_for_search(text)
    starts = [0] if lowered.startswith(rules.first_words) else []
    starts += [stop.start(1) for stop in _AFTER_STOP.finditer(text)
               if lowered.startswith(rules.first_words, stop.end(1))]
    return starts


def find_sections(text: str) -> list[Section]:
    """Split a note into sections by its headers; the list covers the whole text in order."""
    rules = load_section_rules()
    hits: dict[int, tuple[str, int]] = {}  # header start -> (header text, body start)
    header_starts: set[int] = set()
    for match in rules.line_pattern.finditer(text):
        hits[match.start()] = (match.group("header"), match.end())
        header_starts.add(match.start("header"))
    # Both merged-line patterns start at the text's start or after ". " / "; ": tried only
    # there (both find the same headers; scanning every character costs as much as the rest
    # of this function).
    candidates = _merged_line_starts(text, rules)
    for match in matches_at(rules.inline_pattern, text, candidates):
        header = match.group("header")
        # Inline headers must be written in capitals: "Diagnosis:" mid-sentence is prose.
        if header.upper() == header and match.start("header") not in header_starts:
            hits[match.start("header")] = (header, match.end())
            header_starts.add(match.start("header"))
    titled: set[int] = set()
    for match in matches_at(rules.title_pattern, text, candidates):
        header = match.group("header")
        if match.start("header") not in header_starts and _title_case(header):
            hits[match.start("header")] = (header, match.end())
            titled.add(match.start("header"))
    sections: list[Section] = []
    if not hits or min(hits) > 0:
        first = min(hits) if hits else len(text)
        sections.append(Section(rules.default_name, "", rules.default_weight, 0, 0, first))
    starts = sorted(hits)
    for index, start in enumerate(starts):
        header, body_start = hits[start]
        name, weight = rules.header_kind[_canonical(header)]
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        if weight == 0.0 and start in titled:
            # A history found inside merged lines ends where the next field label starts a
            # sentence ("Clinical History: invasive ductal carcinoma. HER2 IHC: ...").
            label = _FIELD_LABEL.search(text, body_start, min(end, body_start + HISTORY_MAX_CHARS))
            if label is not None:
                sections.append(Section(name, header.strip(), weight, start, body_start,
                                        label.start(1)))
                sections.append(Section(rules.default_name, "", rules.default_weight,
                                        label.start(1), label.start(1), end))
                continue
        if weight == 0.0 and header.strip().upper() in _ONE_LINE_HISTORIES:
            # "PMH: HTN, breast IDC 2015 ..." / "FH: mother with breast cancer": a clinic
            # note's history field is its line; the next line is the note again.
            line_end = text.find("\n", body_start, end)
            if line_end != -1:
                sections.append(Section(name, header.strip(), weight, start, body_start,
                                        line_end))
                sections.append(Section(rules.default_name, "", rules.default_weight,
                                        line_end, line_end, end))
                continue
        if weight == 0.0 and end - body_start > HISTORY_MAX_CHARS:
            # A history or indication is a few lines. Past a blank line, or past
            # HISTORY_MAX_CHARS when a report's lines were merged, the text is the report again.
            blank = text.find("\n\n", body_start, end)
            cut = blank if blank != -1 else body_start + HISTORY_MAX_CHARS
            sections.append(Section(name, header.strip(), weight, start, body_start, cut))
            sections.append(Section(rules.default_name, "", rules.default_weight, cut, cut, end))
            continue
        sections.append(Section(name, header.strip(), weight, start, body_start, end))
    return sections


def section_at(sections: list[Section], offset: int) -> Section | None:
    """The section that holds character `offset`, or None when the list is empty."""
    if not sections:
        return None
    # Sections are contiguous and in order: binary search on their starts.
    low, high = 0, len(sections) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if sections[middle].start <= offset:
            low = middle
        else:
            high = middle - 1
    return sections[low]
