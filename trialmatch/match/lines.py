"""Lines of therapy as the notes tell them (issue 13).

A case lists what was given ("letrozole, ribociclib, capecitabine, trastuzumab deruxtecan");
its notes say when and why: "1L letrozole + ribociclib ... 2L capecitabine ... 3L T-DXd",
"adjuvant ddAC x4 -> weekly paclitaxel x12", "3 prior lines in the metastatic setting". A
flat list of single drugs could be one combination or one line per drug; the notes settle it.

Read here, per drug: the line number a note gives it ("2L", "second-line") and the setting
("adjuvant", "metastatic") written nearest before it in its statement; and the number of
lines a note states outright. Planned treatment ("Plan: 2L docetaxel", "consider") is not
given. Line numbering follows ESMO/ASCO: lines counted in the advanced setting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from trialmatch.nlp.drugs import find_drugs
from trialmatch.regex_cache import re_compile

_ORDINAL = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
            "4th": 4, "fifth": 5, "5th": 5, "sixth": 6, "6th": 6}
_COUNT = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8}
# "1L", "2L:", "(3L)", "second-line", "2nd line" (not "2L O2", "1 L of fluid": a line label
# stands next to a drug, see `_label_for`).
_LINE_LABEL = re_compile(
    r"(?<![\w/.-])(?:(?P<n>[1-6])L(?![\w/.-])|(?P<w>first|second|third|fourth|fifth|sixth|1st|"
    r"2nd|3rd|4th|5th|6th)[\s-]+line\b)", re.IGNORECASE)
# Setting words: curative intent (around surgery, with radiation), or advanced disease.
_CURATIVE = re_compile(r"\b(?:neo-?adjuvant|adjuvant|peri-?operative|definitive|curative)\b|"
                       r"\(neo\)adjuvant", re.IGNORECASE)
_ADVANCED = re_compile(r"\b(?:metastatic|palliative|recurren(?:t|ce)|relapsed?|advanced|"
                       r"maintenance)\b", re.IGNORECASE)
# Words that make what follows a plan, not a treatment given.
_PLANNED = re_compile(r"\b(?:plan(?:ned|ning)?|will\s+(?:start|begin|receive|get)|to\s+start|"
                      r"recs?(?!['\u2019]d)|"
                      r"recommend\w*|consider\w*|options?|candidate|discuss\w*|next|"
                      r"proposed?|would|could|eligible\s+for|offered?)\b", re.IGNORECASE)
# "3 prior lines in metastatic setting", "two lines of therapy for metastatic disease",
# "s/p 4 lines", "after 2 prior lines of systemic therapy".
_N = r"(?P<n>[1-8]|one|two|three|four|five|six|seven|eight)"
_STATED_LINES = [re_compile(pattern, re.IGNORECASE) for pattern in (
    rf"\b(?:s/p|after|following|received|failed|progressed\s+(?:on|after|through))\s+{_N}\s+"
    r"(?:prior\s+|previous\s+)?(?:lines?|regimens?)\b",
    rf"\b{_N}\s+(?:prior\s+|previous\s+)?lines?\s+(?:of\s+(?:\w+\s+){{0,2}}?(?:therapy|treatment|"
    r"chemotherapy)\s+)?(?:in|for)\s+(?:the\s+)?(?:metastatic|advanced|recurrent|relapsed)\b",
    rf"\b{_N}\s+(?:prior|previous)\s+(?:lines?|regimens?)\b")]
_NEAR = 70  # how far before a drug its line label or setting word may stand (characters)


@dataclass(frozen=True)
class NotesCourse:
    """What the notes say of the treatment given: each drug's line numbers and settings
    ("adjuvant" or "advanced"), and the number of lines a note states outright (the
    largest, None when no note states one)."""

    lines: dict[str, frozenset[int]]
    settings: dict[str, frozenset[str]]
    stated_lines: int | None


def read_course(statements: Iterable[str]) -> NotesCourse:
    """Line labels, settings and stated line counts of the notes' statements (one
    statement each: a sentence, or one dated line of a history)."""
    lines: dict[str, set[int]] = {}
    settings: dict[str, set[str]] = {}
    stated: int | None = None
    for statement in statements:
        lower = statement.lower()
        if "line" in lower or "regimen" in lower:
            for found in (m for pattern in _STATED_LINES for m in pattern.finditer(statement)):
                if _PLANNED.search(statement[max(0, found.start() - 40):found.start()]):
                    continue
                word = found.group("n").lower()
                n = _COUNT.get(word) or int(word)
                stated = max(stated or 0, n)
        mentions = find_drugs(statement)
        if not mentions:
            continue
        labels = list(_LINE_LABEL.finditer(statement))
        cues = [(m.start(), "adjuvant") for m in _CURATIVE.finditer(statement)] + \
               [(m.start(), "advanced") for m in _ADVANCED.finditer(statement)] + \
               [(m.start(), "advanced") for m in labels]
        for mention in mentions:
            before = statement[max(0, mention.start - _NEAR):mention.start]
            if _PLANNED.search(before):
                continue
            label = _label_for(labels, mention.start, statement)
            if label is not None:
                lines.setdefault(mention.key, set()).add(label)
            near = [(at, what) for at, what in cues if mention.start - _NEAR <= at < mention.start]
            if near:
                settings.setdefault(mention.key, set()).add(max(near)[1])
    return NotesCourse({k: frozenset(v) for k, v in lines.items()},
                       {k: frozenset(v) for k, v in settings.items()}, stated)


def _label_for(labels: list[re.Match[str]], at: int, statement: str) -> int | None:
    """The line number of the label nearest before the drug at `at` in its statement, with
    no sentence break between ("1L letrozole + ribociclib", "2L: capecitabine"); else one
    just after it ("capecitabine (2L)")."""
    before = [m for m in labels if m.end() <= at and at - m.end() <= _NEAR
              and not re.search(r"[.;]\s", statement[m.end():at])]
    if before:
        return _number(before[-1])
    after = [m for m in labels if at < m.start() <= at + 40
             and not re.search(r"[.;]\s|\d{1,2}/\d{2,4}", statement[at:m.start()])]
    return _number(after[0]) if after else None


def _number(label: re.Match[str]) -> int:
    return int(label.group("n")) if label.group("n") else _ORDINAL[label.group("w").lower()]


def planned_in(statement: str, at: int) -> bool:
    """Does a plan word stand just before position `at` of a statement ("Rec 1L gemcitabine +
    cisplatin", "plan to start olaparib")? What follows it is to come, not history."""
    return bool(_PLANNED.search(statement[max(0, at - 40):at]))
