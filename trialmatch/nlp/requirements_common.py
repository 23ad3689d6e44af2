"""Helpers shared by the per-kind requirement parsers: clauses, negation, numbers."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache

from trialmatch.models import Requirement
from trialmatch.nlp.requirements_rules import get_rules
from trialmatch.regex_cache import re_compile

# Characters that a case-insensitive pattern letter matches but that lower-casing does not
# turn into that letter ("ſ" matches "s", dotless "ı" matches "i"): texts holding them take
# the slow case-insensitive path.
_FOLD_EXCEPTIONS = ("ſ", "ı")


_last_folded: tuple[str, str | None] = ("", "")


def _foldable(text: str) -> str | None:
    """`text` lower-cased when that keeps every match of a folded pattern, else None. The
    parsers run many patterns over the same text in a row: the last answer is kept."""
    global _last_folded
    last_text, last_lower = _last_folded  # one tuple: consistent even across threads
    if text is last_text:
        return last_lower
    lower: str | None = text.lower()
    if len(lower) != len(text) or not lower.isascii() and any(
            c in text for c in _FOLD_EXCEPTIONS):
        lower = None
    _last_folded = (text, lower)
    return lower


def may_hold(text: str, words: tuple[str, ...]) -> bool:
    """Could a case-insensitive pattern, every match of which holds one of `words` (lower
    case), match `text`? Not when the lower-cased text holds none of them (and lower-casing
    is safe: see `_foldable`): a test that skips a costly scan."""
    lower = _foldable(text)
    return lower is None or any(map(lower.__contains__, words))


_WORDS = re_compile(r"[^\W_]+")
_last_words: tuple[str, list[str]] = ("", [])


def words_of(lower: str) -> list[str]:
    """The words (runs of letters and digits) of a lower-cased text, in order; callers must
    not change the list. The gates of several parsers ask for the words of the same
    criterion in a row: the last answer is kept."""
    global _last_words
    last_lower, last_words = _last_words  # one tuple: consistent even across threads
    if lower == last_lower:
        return last_words
    words = _WORDS.findall(lower)
    _last_words = (lower, words)
    return words


class Folded:
    """A case-insensitive pattern run as a case-sensitive one over the lower-cased text.

    Python's `re` scans two to four times slower with IGNORECASE; lower-casing a criterion
    costs next to nothing. Matches are the same (same offsets) whenever lower-casing keeps
    the length and the text has none of `_FOLD_EXCEPTIONS`; otherwise the original pattern
    runs. Match objects index the lower-cased text, so callers use their offsets and truth,
    never their text. The pattern may hold no upper-case letter outside escapes (checked).

    `required`, when given, lists lower-case strings of which every match contains one (the
    pattern's key words): a text with none of them is not scanned at all.
    """

    __slots__ = ("pattern", "folded", "required")

    def __init__(self, pattern: re.Pattern[str], required: tuple[str, ...] = ()) -> None:
        if not pattern.flags & re.IGNORECASE or any(
                c.isupper() for c in re.sub(r"\\.|\(\?P[<=]", "", pattern.pattern)):
            raise ValueError(f"cannot fold {pattern.pattern[:40]!r}: not a lower-case "
                             "case-insensitive pattern")
        self.pattern = pattern
        self.folded = re_compile(pattern.pattern, pattern.flags & ~re.IGNORECASE)
        if any(word != word.lower() or not word for word in required):
            raise ValueError("required words must be non-empty and lower-case")
        self.required = required

    def _target(self, text: str) -> tuple[re.Pattern[str] | None, str]:
        """The pattern to run and the text to run it on; no pattern when nothing can match."""
        lower = _foldable(text)
        if lower is not None:
            if self.required and not any(map(lower.__contains__, self.required)):
                return None, lower
            return self.folded, lower
        return self.pattern, text

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        """Like `re.Pattern.search` (the match indexes the lower-cased text)."""
        pattern, target = self._target(text)
        return None if pattern is None else pattern.search(target, pos)

    def match(self, text: str) -> re.Match[str] | None:
        """Like `re.Pattern.match` (the match indexes the lower-cased text)."""
        pattern, target = self._target(text)
        return None if pattern is None else pattern.match(target)

    def finditer(self, text: str):
        """Like `re.Pattern.finditer` (matches index the lower-cased text)."""
        pattern, target = self._target(text)
        return iter(()) if pattern is None else pattern.finditer(target)


NUMBER_WORDS = {
    "zero": 0, "no": 0, "one": 1, "a": 1, "an": 1, "single": 1, "two": 2, "three": 3,
    "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "twelve": 12,
}
NUMBER = r"(?:\d+(?:\.\d+)?|zero|one|two|three|four|five|six|seven|eight|nine|ten|twelve)"

# Clause boundaries: sentence ends (a period not inside a decimal number), semicolons, line
# breaks, and words that open an exception ("unless", "except") whose content must not be
# read as part of the main statement.
# The period comes first and the look-behinds that rule it out after it (each includes the
# period): the scan then jumps from one ".", ";" or newline to the next instead of trying the
# look-behinds at every character, ten times faster for the same matches.
_BOUNDARY = re_compile(
    r"\.(?<!\d\.)(?<!\be\.)(?<!\bi\.)(?<!\.g\.)(?<!\.e\.)(?<!\betc\.)(?<!\bvs\.)"
    r"(?<!\bapprox\.)(?!\d)|;|\n|"
    r"\bbut\b|\bhowever\b|\bunless\b|\bexcept\b|\bexcluding\b|"
    r"\bother than\b|\bwith the exception of\b|\bprovided\b|\bwhereas\b",
    re.IGNORECASE)
# Phrases built on a negation word that do not negate the fact ("no more than 2 lines").
NOT_NEGATION = re_compile(
    r"\b(?:no|not)\s+(?:more|less|greater|fewer|later|longer|earlier|sooner|older|younger)\s+"
    r"than\b|\bnot\s+(?:required|mandatory|necessary|needed)\b|\bnot\s+limited\s+to\b|"
    r"\bnot\s+applicable\b|\bwhether\s+or\s+not\b|\bif\s+not\b|\bno\s+longer\b",
    re.IGNORECASE)
# A denial by the verb after a mention: "distant metastases are not diagnosed
# preoperatively", "... were not present".
_VERB_DENIAL = (r"(?:is|are|was|were|have|has)\s+(?:been\s+)?not\s+(?:been\s+)?(?:diagnosed|"
                r"present|detected|found|identified|seen|documented|evident)")
_POST_NEGATION = re_compile(
    r"^[\s-]*(?:\(?[^()]{0,12}\)?\s*)?(?:negative|neg\b|not\s+detected|undetectable|absent|"
    r"ruled\s+out|excluded|wild[\s-]?type|wt\b|non-?reactive|seronegative|" + _VERB_DENIAL + ")",
    re.IGNORECASE)
# The verb's denial alone, read even where other post-negations are not (an extent's
# "metastatic disease negative" is rare).
DENIED_AFTER = re_compile(r"\s+" + _VERB_DENIAL + r"\b", re.IGNORECASE)


# A sentence end: a period that is not a decimal point nor part of "e.g.", "i.e.", "etc.", "vs."
# (Look-behinds after the period, as in _BOUNDARY.)
SENTENCE_END = re_compile(
    r"\.(?<!\d\.)(?<!\be\.)(?<!\bi\.)(?<!\.g\.)(?<!\.e\.)(?<!\betc\.)(?<!\bvs\.)(?!\d)|;|\n")


def blank(match: re.Match[str]) -> str:
    """A match replaced by as many spaces (for `re.sub`: spans still index the text)."""
    return " " * len(match.group(0))


def to_number(text: str) -> float:
    """'12' -> 12.0, 'two' -> 2.0, '1,500' -> 1500.0."""
    word = text.strip().lower()
    if word in NUMBER_WORDS:
        return float(NUMBER_WORDS[word])
    return float(word.replace(",", "").replace(" ", ""))


def clean_number(value: float) -> float | int:
    """12.0 -> 12 so JSON shows whole numbers as integers."""
    return int(value) if float(value).is_integer() else round(value, 3)


_BOUNDARY_FOLDED = Folded(_BOUNDARY)
_BOUNDARY_WORDS = ("but", "however", "unless", "except", "excluding", "other than",
                   "with the exception", "provided", "whereas")


@lru_cache(maxsize=256)
def _boundaries(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Start and end offsets of every clause boundary in `text` (parsers ask many times)."""
    lower = text.lower()
    pattern = _BOUNDARY_FOLDED if any(map(lower.__contains__, _BOUNDARY_WORDS)) else SENTENCE_END
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
    left, _ = clause_bounds(text, start, end)
    before = text[max(left, start - window):start]
    cues = folded_cues()
    # Lower-case once; NOT_NEGATION.sub keeps its replacements' offsets either way.
    pattern, target = cues.not_negation._target(before)
    if cues.negation.search(pattern.sub(" ", target)):
        return True
    return bool(look_after and _POST_NEGATION.match(text[end:end + 30]))


def is_allowance(text: str, start: int, end: int, own_asides: bool = False) -> bool:
    """True when the clause permits rather than requires ("... are allowed/eligible").
    With `own_asides`, an aside that permits something of its own is left out (see below)."""
    left, right = clause_bounds(text, start, end)
    # An allowance usually spans its own sentence; look to the end of the sentence.
    sentence_end = _ALLOWANCE_END.search(text[end:])
    right = max(right, end + sentence_end.start() if sentence_end else len(text))
    clause = text[left:right]
    if own_asides and "(" in clause and _OWN_ALLOWANCE.search(clause):
        # "Prior chemotherapy for advanced disease is not permitted (prior adjuvant
        # chemotherapy is permitted)": an aside with its own subject permits that, not the
        # mention outside it ("(allowed if completed 4 weeks before)" has none and stays).
        def outside(match: re.Match[str]) -> str:
            inside = match.start() + left <= start and end <= match.end() + left
            return match.group() if inside or not _OWN_ALLOWANCE.search(match.group()) \
                else " " * len(match.group())
        clause = PARENTHESIS.sub(outside, clause)
    return folded_cues().allowance.search(clause) is not None


_ALLOWANCE_END = re_compile(r"\.(?<!\d\.)(?!\d)|;|\n")
_OWN_ALLOWANCE = re_compile(r"\w+\s+(?:is|are|was|were|will\s+be|may\s+be)\s+(?:also\s+)?"
                            r"(?:allowed|permitted|eligible|acceptable)\b", re.IGNORECASE)
# A closed bracketed aside, innermost ("(prior adjuvant chemotherapy is permitted)").
PARENTHESIS = re_compile(r"\([^()]*\)")


@dataclass(frozen=True)
class FoldedCues:
    """The rules' cue patterns, folded (see `Folded`); the allowance cues as one alternation,
    which matches wherever any one of them does."""

    negation: Folded
    not_negation: Folded
    allowance: Folded


@lru_cache(maxsize=1)
def folded_cues() -> FoldedCues:
    """The criteria rules' negation and allowance cues, folded once."""
    rules = get_rules()
    allowance = re_compile("|".join(f"(?:{p.pattern})" for p in rules.allowance_cues),
                           re.IGNORECASE)
    return FoldedCues(Folded(rules.negation_cue), Folded(NOT_NEGATION),
                      Folded(allowance, rules.allowance_words))


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
