"""Helpers shared by the per-kind requirement parsers: clauses, negation, numbers."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from functools import lru_cache

from trialmatch.models import Requirement
from trialmatch.nlp.requirements_rules import get_rules

NUMBER_WORDS = {
    "zero": 0, "no": 0, "one": 1, "a": 1, "an": 1, "single": 1, "two": 2, "three": 3,
    "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "twelve": 12,
}
NUMBER = r"(?:\d+(?:\.\d+)?|zero|one|two|three|four|five|six|seven|eight|nine|ten|twelve)"

# Clause boundaries: sentence ends (a period not inside a decimal number), semicolons, line
# breaks, and words that open an exception ("unless", "except") whose content must not be
# read as part of the main statement.
_BOUNDARY = re.compile(
    r"(?<!\d)(?<!\be)(?<!\bi)(?<!\.g)(?<!\.e)(?<!\betc)(?<!\bvs)(?<!\bapprox)\.(?!\d)|;|\n|"
    r"\bbut\b|\bhowever\b|\bunless\b|\bexcept\b|\bexcluding\b|"
    r"\bother than\b|\bwith the exception of\b|\bprovided\b|\bwhereas\b",
    re.IGNORECASE)
# Phrases built on a negation word that do not negate the fact ("no more than 2 lines").
_NOT_NEGATION = re.compile(
    r"\b(?:no|not)\s+(?:more|less|greater|fewer|later|longer|earlier|sooner|older|younger)\s+"
    r"than\b|\bnot\s+(?:required|mandatory|necessary|needed)\b|\bnot\s+limited\s+to\b|"
    r"\bnot\s+applicable\b|\bwhether\s+or\s+not\b|\bif\s+not\b|\bno\s+longer\b",
    re.IGNORECASE)
_POST_NEGATION = re.compile(
    r"^[\s-]*(?:\(?[^()]{0,12}\)?\s*)?(?:negative|neg\b|not\s+detected|undetectable|absent|"
    r"ruled\s+out|excluded|wild[\s-]?type|wt\b|non-?reactive|seronegative)",
    re.IGNORECASE)


# A sentence end: a period that is not a decimal point nor part of "e.g.", "i.e.", "etc.", "vs."
SENTENCE_END = re.compile(
    r"(?<!\d)(?<!\be)(?<!\bi)(?<!\.g)(?<!\.e)(?<!\betc)(?<!\bvs)\.(?!\d)|;|\n")


def to_number(text: str) -> float:
    """'12' -> 12.0, 'two' -> 2.0, '1,500' -> 1500.0."""
    word = text.strip().lower()
    if word in NUMBER_WORDS:
        return float(NUMBER_WORDS[word])
    return float(word.replace(",", "").replace(" ", ""))


def clean_number(value: float) -> float | int:
    """12.0 -> 12 so JSON shows whole numbers as integers."""
    return int(value) if float(value).is_integer() else round(value, 3)


_BOUNDARY_WORDS = ("but", "however", "unless", "except", "excluding", "other than",
                   "with the exception", "provided", "whereas")


@lru_cache(maxsize=256)
def _boundaries(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Start and end offsets of every clause boundary in `text` (parsers ask many times)."""
    lower = text.lower()
    pattern = _BOUNDARY if any(w in lower for w in _BOUNDARY_WORDS) else SENTENCE_END
    found = [(m.start(), m.end()) for m in pattern.finditer(text)]
    return tuple(s for s, _ in found), tuple(e for _, e in found)


def clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause around text[start:end]: from the last boundary before to the next after."""
    starts, ends = _boundaries(text)
    # The last boundary that ends at or before `start` (boundaries do not overlap).
    i = bisect_right(ends, start) - 1
    while i >= 0 and starts[i] >= start:
        i -= 1
    left = ends[i] if i >= 0 else 0
    j = bisect_left(starts, end)
    right = starts[j] if j < len(starts) else len(text)
    return left, right


def is_negated(text: str, start: int, end: int, window: int = 70,
               look_after: bool = True) -> bool:
    """True when the words before the mention in its clause negate it ("no prior X",
    "without X", "not pregnant"), or words right after do ("HIV negative")."""
    rules = get_rules()
    left, _ = clause_bounds(text, start, end)
    before = text[max(left, start - window):start]
    cleaned = _NOT_NEGATION.sub(" ", before)
    if rules.negation_cue.search(cleaned):
        return True
    return bool(look_after and _POST_NEGATION.match(text[end:end + 30]))


def is_allowance(text: str, start: int, end: int) -> bool:
    """True when the clause permits rather than requires ("... are allowed/eligible")."""
    left, right = clause_bounds(text, start, end)
    # An allowance usually spans its own sentence; look to the end of the sentence.
    sentence_end = re.search(r"(?<!\d)\.(?!\d)|;|\n", text[end:])
    right = max(right, end + sentence_end.start() if sentence_end else len(text))
    clause = text[left:right]
    return any(p.search(clause) for p in get_rules().allowance_cues)


def in_conditional(text: str, start: int, window: int = 45) -> bool:
    """True when the mention sits in a conditional aside ("if liver metastases", "unless due
    to"), which qualifies another statement rather than stating a fact of its own."""
    before = text[max(0, start - window):start]
    cut = max(before.rfind(";"), before.rfind("\n"), before.rfind(". "))
    return bool(get_rules().conditional_cue.search(before[cut + 1:]))


def requirement(kind: str, params: dict, text: str, start: int, end: int) -> Requirement:
    """A Requirement carrying the words text[start:end] it came from (spaces trimmed)."""
    while end > start and text[end - 1].isspace():
        end -= 1
    while start < end and text[start].isspace():
        start += 1
    return Requirement(kind=kind, params=params, text=text[start:end], start=start, end=end)
