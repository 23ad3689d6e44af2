"""Acronyms a trial record defines for itself: "follicular lymphoma (FL)" in the summary,
then "Participants with FL who are relapsed" in the criteria.

The pairs are found with the Schwartz–Hearst rule (Schwartz & Hearst, "A simple algorithm
for identifying abbreviation definitions in biomedical text", PSB 2003; the rule scispaCy's
abbreviation detector implements for notes): a short form in brackets after its long form,
whose characters occur in the long form in order, the first at the start of a word. Only
definitions the record makes count, so "FL" is follicular lymphoma in a trial that says so
and nothing in a note that says "Tampa, FL".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from trialmatch.regex_cache import re_compile

# "(FL)", "(R/R DLBCL)" is not one: a short form is one token of 2-10 characters, starts with
# a letter or digit and has a capital letter.
_SHORT_IN_BRACKETS = re_compile(r"\(\s*([A-Za-z0-9][A-Za-z0-9\-]{1,9})\s*\)")
_WORD = re_compile(r"[A-Za-z0-9]+")


def _long_form(short: str, before: str) -> str | None:
    """The shortest end of `before` whose characters spell `short` in order (Schwartz–Hearst):
    scanned from the right, each character of the short form is found in the long form, the
    first one at the start of a word. At most min(|short| + 5, 2 * |short|) words."""
    words = _WORD.findall(before)
    if not words:
        return None
    limit = min(len(short) + 5, 2 * len(short))
    candidate = " ".join(words[-limit:])
    short_i = len(short) - 1
    long_i = len(candidate) - 1
    letters = short.lower()
    lower = candidate.lower()
    while short_i >= 0:
        char = letters[short_i]
        if not char.isalnum():
            short_i -= 1
            continue
        while long_i >= 0 and (lower[long_i] != char or (
                short_i == 0 and long_i > 0 and lower[long_i - 1].isalnum())):
            long_i -= 1
        if long_i < 0:
            return None
        long_i -= 1
        short_i -= 1
    start = candidate.rfind(" ", 0, long_i + 1) + 1
    return candidate[start:]


def defined_acronyms(texts: Iterable[str | None]) -> dict[str, str]:
    """{short form: long form} for every acronym the texts define in brackets, first
    definition kept. The short form must have a capital letter and not be the long form's
    own last word."""
    found: dict[str, str] = {}
    for text in texts:
        if not text or "(" not in text:
            continue
        for match in _SHORT_IN_BRACKETS.finditer(text):
            short = match.group(1)
            if short in found or not any(c.isupper() for c in short) or \
                    not any(c.isalpha() for c in short):
                continue
            before = text[max(0, match.start() - 120):match.start()]
            before = re.split(r"[.;:()\[\]\n]", before)[-1]
            long_form = _long_form(short, before)
            if long_form and long_form.split()[-1].lower() != short.lower():
                found[short] = long_form
    return found


_CAPITAL_WORD_BEFORE = re_compile(r"\b[A-Z]{3,}\W*$")
_CAPITAL_WORD_AFTER = re_compile(r"^\W*[A-Z]{3,}\b")


def uses_of(short: str, text: str) -> list[tuple[int, int]]:
    """Where `short` stands as a word of `text` (case as defined, not inside a word or a
    hyphenated term, not the definition's own brackets, not a word of a line written in
    capitals: "PATIENTS WITH ALL PRIOR THERAPY")."""
    pattern = re_compile(r"(?<![\w\-/(])" + re.escape(short) + r"(?![\w\-/)])")
    return [(m.start(), m.end()) for m in pattern.finditer(text)
            if not (_CAPITAL_WORD_BEFORE.search(text, max(0, m.start() - 20), m.start())
                    and _CAPITAL_WORD_AFTER.match(text[m.end():m.end() + 20]))]
