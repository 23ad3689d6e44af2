"""The context of a mention: negated, hypothetical or historical, and its clause.

Cue phrases are data (`data/cues.json`, NegEx/ConText triggers adapted to pathology). A cue
acts within its clause: a sentence, a line, or the part of a sentence up to a scope
terminator ("but", "however", "consistent with").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from trialmatch.datafiles import read_data_file
from trialmatch.errors import DataFileError
from trialmatch.regex_cache import re_compile

CUES_FILE = "cues.json"
_STATUSES = ("positive", "negative", "equivocal", "unknown")

# Sentence ends: ". " before a capital, digit or bracket (not "2.5" or "approx. 3"), "; ",
# and line breaks. OCR output that merged lines keeps the ". " between them.
# A line break ends a clause unless the next line carries on in lower case (a wrapped
# sentence: "(ER positive, HER2\nnegative)"), or the line stops where a sentence cannot:
# after a comma, a slash or a word that needs what follows ("no PML::RARA, no\nBCR::ABL1",
# "KRAS (codons 12, 13), BRAF,\nMET").
_CLAUSE_END = re_compile(
    # (";" between digits is a translocation's, "t(11;14)", not a clause break)
    r"(?<=[.!?])\s+(?=[A-Z0-9(\[\"'-])|(?<!\d);\s*|;(?!\d)\s*|"
    r"(?=[ \t]*\r?\n)(?<![,/&\s])(?<!(?<!:)\sno)(?<!(?<!:)\snot)(?<!\band)(?<!\bor)"
    r"(?<!\bnor)(?<!\bof)(?<!\bfor)(?<!\bwith)(?<!\bwithout)(?<!\bthe)"
    r"[ \t]*\r?\n(?![ \t]*[a-z])")


@dataclass(frozen=True)
class Cues:
    """Compiled cue patterns from `data/cues.json`."""

    negation_pre: re.Pattern[str]
    negation_post: re.Pattern[str]
    hypothetical_pre: re.Pattern[str]
    hypothetical_post: re.Pattern[str]
    name_post: re.Pattern[str]
    historical_pre: re.Pattern[str]
    incidental_pre: re.Pattern[str]
    terminators: re.Pattern[str]
    status_post: dict[str, tuple[str, ...]]
    status_pre: dict[str, tuple[str, ...]]
    benign: re.Pattern[str]
    # Relatives (ConText's experiencer "other"): the phrases before a mention, and the same
    # relatives after it ("breast cancer in her mother").
    other_person_pre: re.Pattern[str] = re.compile(r"(?!)")
    other_person_post: re.Pattern[str] = re.compile(r"(?!)")
    # Every word of the cue phrases: OCR split words are rejoined to them too ("NOT
    # identif ied" -> "NOT identified").
    words: frozenset[str] = frozenset()


def _phrases(raw: dict[str, Any], name: str) -> list[str]:
    value = raw.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise DataFileError(f"trialmatch/nlp/data/{CUES_FILE}: '{name}' must be a list of "
                            "non-empty strings")
    return value


# Python's re, under IGNORECASE, also matches "i" to "ı" and "İ", "s" to "ſ" and "k" to the
# Kelvin sign: these become their ASCII letters before lower-casing.
_FOLDED_TO_ASCII = (("İ", "i"), ("ı", "i"), ("ſ", "s"), ("\u212a", "k"))


def lowered_for_search(text: str) -> str:
    """`text` in lower case, for a cheap test before a case-insensitive regex pass: when
    the pattern cannot match without an ASCII word ("figo", "staged"), a text whose lowered
    form lacks the word has no match, and the pass is skipped. Same length as `text` (the
    one letter whose lower case is two characters, "İ", is folded first), so an offset in
    one is the same offset in the other."""
    if text.isascii():
        return text.lower()
    # The four letters are rare: replaced only where present (str.translate looks every
    # character of a long note up in its table, ten times slower than lower()).
    for letter, ascii_letter in _FOLDED_TO_ASCII:
        if letter in text:
            text = text.replace(letter, ascii_letter)
    return text.lower()


def word_starts(lowered: str, words: Iterable[str]) -> list[int]:
    """Every offset where one of `words` (lower case) starts in `lowered`, the text's
    `lowered_for_search` form (same offsets as the text), in order, overlaps included."""
    starts: set[int] = set()
    for word in words:
        at = lowered.find(word)
        while at != -1:
            starts.add(at)
            at = lowered.find(word, at + 1)
    return sorted(starts)


def _finder_starts(finder: re.Pattern[str], lowered: str) -> Iterator[int]:
    """Every offset where `finder`, an alternation of words, matches in `lowered`, in order,
    overlaps included; computed as they are read. In a short window one regex pass costs
    less than a str.find per word (`word_starts`, the better choice on a whole note)."""
    found = finder.search(lowered)
    while found is not None:
        yield found.start()
        found = finder.search(lowered, found.start() + 1)


def matches_at(pattern: re.Pattern[str], text: str, starts: Iterable[int]
               ) -> Iterator[re.Match[str]]:
    """What `pattern.finditer(text)` yields, for a pattern that can only match at `starts`
    (in order; more starts than needed do no harm): the match at each start, skipping starts
    inside the previous match. The regex engine tries a pattern that opens with a
    case-insensitive alternation ("(?i)(?:stage|ajcc|...)") at every character of the
    text; `word_starts` finds its few possible starts with str.find, many times faster.
    (A look-behind still sees the text before a start.) The pattern must match no empty
    string."""
    end = 0
    for start in starts:
        if start < end:
            continue
        match = pattern.match(text, start)
        if match is not None:
            yield match
            end = match.end()


def phrase_pattern(phrases: list[str] | tuple[str, ...], *, flags: int = re.IGNORECASE,
                   anchor: str = "") -> re.Pattern[str]:
    """One regex for a list of phrases: longest first, word-bounded where the phrase starts or
    ends with a word character, flexible about spaces and hyphens."""
    parts = []
    first_words: set[str] | None = set()
    # Ties in text order: the same pattern in every run (regex_cache finds it by its text).
    for phrase in sorted(sorted(set(phrases)), key=len, reverse=True):
        plain = [word for word in re.split(r"[\s\-]+", phrase) if word]
        words = [re.escape(word) for word in plain]
        body = r"[\s\-]+".join(words) if words else re.escape(phrase)
        left = r"(?<![A-Za-z0-9])" if phrase[0].isalnum() else ""
        right = r"(?![A-Za-z0-9])" if phrase[-1].isalnum() else ""
        parts.append(f"{left}{body}{right}")
        if first_words is not None and plain and plain[0].isascii():
            first_words.add(plain[0].lower())
        else:
            first_words = None  # no word every match of this phrase must hold
    pattern = re_compile(f"(?:{'|'.join(parts)}){anchor}", flags)
    if first_words:
        # A first word that begins with another ("notable", "not") adds no text to look for.
        kept = tuple(sorted(word for word in first_words if not any(
            other != word and word.startswith(other) for other in first_words)))
        finder = re_compile("|".join(map(re.escape, kept)))
        _FIRST_WORDS[id(pattern)] = (pattern, kept, finder)
    return pattern


# Each phrase pattern's first words in lower case: a text that holds none of them (lower-cased
# by lowered_for_search) has no match, so the search is skipped. Keyed by id (a Pattern
# hashes its whole source on every lookup), the pattern kept alive beside its words and the
# regex that finds them (phrase_matches).
_FIRST_WORDS: dict[int, tuple[re.Pattern[str], tuple[str, ...], re.Pattern[str]]] = {}


def may_match(pattern: re.Pattern[str], lowered: str) -> bool:
    """False when `pattern`, made by `phrase_pattern`, cannot match the text whose
    `lowered_for_search` form is `lowered`; True otherwise (or for another pattern)."""
    entry = _FIRST_WORDS.get(id(pattern))
    if entry is None or entry[0] is not pattern:
        return True
    return any(word in lowered for word in entry[1])


def phrase_matches(pattern: re.Pattern[str], text: str, lowered: str | None = None
                   ) -> Iterator[re.Match[str]]:
    """What `pattern.finditer(text)` yields, for a pattern made by `phrase_pattern`: tried
    only where the first word of one of its phrases starts (every match starts with one; a
    cue list is an alternation of hundreds of phrases, which the regex engine tries at every
    character). `lowered`: the text's `lowered_for_search` form, when at hand. Any other
    pattern runs as finditer."""
    entry = _FIRST_WORDS.get(id(pattern))
    if entry is None or entry[0] is not pattern:
        return pattern.finditer(text)
    if lowered is None:
        lowered = lowered_for_search(text)
    return matches_at(pattern, text, _finder_starts(entry[2], lowered))


def phrase_search(pattern: re.Pattern[str], text: str, lowered: str | None = None
                  ) -> re.Match[str] | None:
    """`pattern.search(text)` for a pattern made by `phrase_pattern` (see phrase_matches)."""
    return next(iter(phrase_matches(pattern, text, lowered)), None)


def _status_table(raw: dict[str, Any], name: str) -> dict[str, tuple[str, ...]]:
    table = raw.get(name)
    where = f"trialmatch/nlp/data/{CUES_FILE}"
    if not isinstance(table, dict):
        raise DataFileError(f"{where}: '{name}' must map statuses to phrase lists")
    result: dict[str, tuple[str, ...]] = {}
    for status in table:
        if status not in _STATUSES:
            raise DataFileError(f"{where}: '{name}' has unknown status '{status}'")
        result[status] = tuple(_phrases(table, status))
    return result


@lru_cache(maxsize=1)
def load_cues() -> Cues:
    """Load and validate `data/cues.json` (cached)."""
    raw = read_data_file("trialmatch.nlp", CUES_FILE)
    if not isinstance(raw, dict):
        raise DataFileError(f"trialmatch/nlp/data/{CUES_FILE}: expected an object")
    return Cues(
        negation_pre=phrase_pattern(_phrases(raw, "negation_pre")),
        negation_post=phrase_pattern(_phrases(raw, "negation_post")),
        hypothetical_pre=phrase_pattern(_phrases(raw, "hypothetical_pre")),
        hypothetical_post=phrase_pattern(_phrases(raw, "hypothetical_post")),
        name_post=phrase_pattern(_phrases(raw, "name_post")),
        historical_pre=phrase_pattern(_phrases(raw, "historical_pre")),
        incidental_pre=phrase_pattern(_phrases(raw, "incidental_pre")),
        terminators=phrase_pattern(_phrases(raw, "scope_terminators")),
        status_post=_status_table(raw, "biomarker_status"),
        status_pre=_status_table(raw, "biomarker_status_pre"),
        benign=phrase_pattern(_phrases(raw, "benign_statements")),
        other_person_pre=phrase_pattern(_phrases(raw, "other_person_pre")),
        other_person_post=re.compile(
            r"(?i)(?:[\s,]+[\w.-]+){0,3}?[\s,]*\b(?:in|of|for)\s+(?:(?:her|his|their|the\s+"
            r"patient'?s|patient'?s|a|an|one)"
            r"\s+)?(?:(?:maternal|paternal|older|younger|late)\s+)?(?:"
            + "|".join(re.escape(p) for p in sorted(_phrases(raw, "other_person_pre"), key=len,
                                                   reverse=True) if " " not in p)
            + r")\b"),
        words=frozenset(word for name, value in raw.items() if name != "source"
                        for phrases in (value.values() if isinstance(value, dict) else [value])
                        if isinstance(phrases, list) for phrase in phrases
                        if isinstance(phrase, str)
                        for word in re.findall(r"[a-z]+", phrase.lower())),
    )


def clause_spans(text: str) -> list[tuple[int, int]]:
    """Split `text` into clauses (sentences, lines, semicolon parts) as (start, end) spans."""
    return _spans_of(text, _clause_ends(text))


# A stop ends a clause only before a capital, digit, bracket or quote (_CLAUSE_END's first
# branch); before a line break the break's own start is tried.
_SENTENCE_STOP = re_compile(r"[.!?](?=\s+[A-Z0-9(\[\"'-])")


def _clause_ends(text: str) -> list[re.Match[str]]:
    """What `_CLAUSE_END.finditer(text)` yields, tried only where a clause end can start:
    after a full stop (!, ?) before a blank, at a semicolon, or where the blanks before a
    line break begin. The regex engine would otherwise try every character."""
    starts = [stop.end() for stop in _SENTENCE_STOP.finditer(text)]
    find = text.find
    at = find(";")
    while at != -1:
        starts.append(at)
        at = find(";", at + 1)
    at = find("\n")
    while at != -1:
        start = at - 1 if at > 0 and text[at - 1] == "\r" else at
        while start > 0 and text[start - 1] in " \t":
            start -= 1
        starts.append(start)
        at = find("\n", at + 1)
    found: list[re.Match[str]] = []
    end = 0
    for start in sorted(set(starts)):
        if start < end:
            continue
        match = _CLAUSE_END.match(text, start)
        if match is not None:
            found.append(match)
            end = match.end()
    return found


def spans_between(text: str, boundary: re.Pattern[str]) -> list[tuple[int, int]]:
    """The non-empty (start, end) spans of `text` between matches of `boundary`."""
    return _spans_of(text, boundary.finditer(text))


def _spans_of(text: str, boundaries: Iterable[re.Match[str]]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for match in boundaries:
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def clause_of(spans: list[tuple[int, int]], offset: int) -> tuple[int, int]:
    """The clause span that holds `offset` (spans from `clause_spans`, binary search)."""
    low, high = 0, len(spans) - 1
    while low <= high:
        middle = (low + high) // 2
        start, end = spans[middle]
        if offset < start:
            high = middle - 1
        elif offset >= end:
            low = middle + 1
        else:
            return spans[middle]
    return (offset, offset)


_ASIDE = re_compile(r"\([^()]{0,200}\)")
# The rest of the bracket a mention stands in ("... or pancreatic ductal adenocarcinoma)"), or
# a bracket right after it (" (cholangiocarcinoma or ...)"), with what follows.
_BRACKET_THEN = re_compile(r"[^()]{0,120}\)|\s*\([^()]{0,160}\)")
# "?lymphoma", "? recurrence": a query written right before the term.
_QUERY = re_compile(r"\?\s*$")


@dataclass(frozen=True)
class MentionContext:
    """What the words around a mention say about it."""

    negated: bool
    hypothetical: bool
    historical: bool
    incidental: bool = False  # "incidental focus of prostatic adenocarcinoma"
    other_person: bool = False  # "Father with colon cancer": a relative's, not the patient's


# A relative the patient is with, not one the words are about: "discussed with the patient and
# her daughter", "accompanied by her husband".
_COMPANION_BEFORE = re_compile(r"(?i)\b(?:and|with|by|to|from)\s+(?:(?:her|his|their|the)\s+)?$")


def other_person(text: str, start: int, end: int, clause: tuple[int, int]) -> bool:
    """Is the mention at text[start:end] about a relative ("Father with colon cancer",
    "her sister is a BRCA2 carrier", "breast cancer in her mother")? The cue stands within 40
    characters before the mention in its clause, or right after it."""
    cues = load_cues()
    window_start = max(clause[0], start - 40)
    before = text[window_start:start]
    for cue in phrase_matches(cues.other_person_pre, before):
        if ":" in before[cue.end():] or _COMPANION_BEFORE.search(
                text[max(clause[0], window_start + cue.start() - 25):window_start + cue.start()]):
            continue
        return True
    return bool(cues.other_person_post.match(text, end, min(clause[1], end + 60)))


def mention_context(text: str, start: int, end: int, clause: tuple[int, int]) -> MentionContext:
    """Negation, hypothesis and history cues acting on text[start:end] within its clause.

    A cue before the mention acts when no scope terminator ("consistent with", "but") stands
    between it and the mention; a post cue ("... not identified") acts up to the clause end.
    """
    cues = load_cues()
    before = text[clause[0] : start]
    lowered = lowered_for_search(before)
    terminators = list(phrase_matches(cues.terminators, before, lowered))
    if terminators:
        if "not" in before.lower():
            # A terminator inside a negation cue ends nothing: "not diagnostic of".
            cues_at = [m.span() for m in phrase_matches(cues.negation_pre, before, lowered)]
            terminators = [t for t in terminators if not any(
                a <= t.start() and t.end() <= b for a, b in cues_at)]
        if terminators:
            before = before[terminators[-1].end() :]
    # A parenthetical aside does not end a cue's reach: "no support for follicular lymphoma
    # (BCL2-negative germinal centres, polytypic CD10+ B cells) or for Hodgkin lymphoma".
    before = _ASIDE.sub(" ", before)[-80:]
    after = text[end : clause[1]][:60]
    after_terms = phrase_search(cues.terminators, after)
    if after_terms:
        after = after[: after_terms.start()]
    lowered = lowered_for_search(before)

    def before_has(pattern: re.Pattern[str]) -> bool:
        return phrase_search(pattern, before, lowered) is not None

    # A post cue after the words that finish the mention's name ("Carcinoma ex pleomorphic
    # adenoma NOT identified", "carcinoma in situ is not seen") acts on it too.
    qualified = _QUALIFIER_AFTER.match(after)
    rest = after[qualified.end():] if qualified else after
    negated = before_has(cues.negation_pre) or bool(
        cues.negation_post.match(rest.lstrip(" ,:-\"'”’)")) or _NOT_FOUND_AFTER.match(rest))
    if not negated and (coordinated := _COORDINATED_AFTER.match(rest)):
        # "Plasma cell myeloma and lymphoma are excluded", "(lymphoma and lymphoblastic
        # lymphoma excluded)": a post cue after the last item of a coordinated list acts on
        # each item.
        position = coordinated.end()
        for _ in range(4):
            word = _NEXT_WORD.match(rest, position)
            if word is None:
                break
            position = word.end()
            if _LIST_RULED_OUT.match(rest, position):
                negated = True
                break
    hypothetical = before_has(cues.hypothetical_pre) or bool(_QUERY.search(before)) or bool(
        cues.hypothetical_post.match(after.lstrip(" ,:-\"'”’)"))) or bool(
        cues.name_post.match(after.lstrip()))
    if not (negated or hypothetical) and ("(" in text[end : end + 3] or ")" in after):
        # A post cue after the bracket the mention stands in or before: "a well-differentiated
        # adenocarcinoma (cholangiocarcinoma or pancreatic ductal adenocarcinoma) cannot be
        # entirely excluded" doubts each of them.
        bracket = _BRACKET_THEN.match(text, end, min(clause[1], end + 200))
        if bracket:
            rest_after = text[bracket.end() : clause[1]][:60].lstrip(" ,:-\"'”’")
            hypothetical = bool(cues.hypothetical_post.match(rest_after))
            negated = bool(cues.negation_post.match(rest_after))
    return MentionContext(
        negated=negated,
        # "adenocarcinoma cannot be excluded": a post cue right after the mention (ConText's
        # post-triggers), up to the clause end.
        # A cancer term that is part of a programme's name ("Bowel Cancer Screening
        # Programme") asserts no diagnosis either.
        hypothetical=hypothetical,
        historical=before_has(cues.historical_pre),
        incidental=before_has(cues.incidental_pre),
        other_person=other_person(text, start, end, clause),
    )


_QUALIFIER_AFTER = re_compile(r"(?i)\s+(?:ex|of|in|within|involving|arising\s+in)"
                              r"(?:\s+[a-z][\w-]*){1,3}?(?=\s+(?:not|is|are|was|were|none|"
                              r"absent|negative)\b)")
# The other items of a list after a mention, up to its verb: ", CD20 and lymphoma " before
# "are excluded".
_COORDINATED_AFTER = re_compile(r"(?i)(?:\s*,\s*[\w-]+(?:\s+[\w-]+){0,2})*\s*(?:,\s*)?"
                                r"\b(?:and|or|and/or|nor)\b")
_NEXT_WORD = re_compile(r"\s*[\w-]+")
# What a list's verb says of every item: diagnoses set aside, not a stain's result ("CDX2 and
# CK20 negative" says nothing of the adenocarcinoma before them).
_LIST_RULED_OUT = re_compile(r"(?i)\s*(?:(?:is|are|was|were|have\s+been|has\s+been)\s+)?"
                             r"(?:excluded|ruled\s+out|unlikely|not\s+favou?red|not\s+"
                             r"(?:identified|seen|present))\b")
_NOT_FOUND_AFTER = re_compile(r"(?i)^[\s,:\-]*(?:is|are|was|were)?\s*(?:not\s+"
                              r"(?:identified|seen|present)|absent|negative)")


# (The full stop first, the letters before it checked after: the engine skips from stop to
# stop.)
_BROKEN_LINE = re_compile(r"\.(?:(?<=[a-z]\.)\s(?=[a-z])|(?<=[A-Z]{2}\.)\s(?=[A-Z]{2}))")


@lru_cache(maxsize=4)  # the cancer and the biomarker finders both look terms up in a note
def join_broken_lines(text: str) -> str:
    """OCR output joins a report's lines with ". ", splitting terms ("renal cell. carcinoma",
    "HEPATOCELLULAR. CARCINOMA", "ESTROGEN. RECEPTOR"): for term lookup only, a full stop
    between two words in the same case becomes a space. The length is kept, so offsets into
    the joined text are offsets into the note; clauses are still cut on the note itself."""
    return _BROKEN_LINE.sub("  ", text)


def quoted_on_line(text: str, start: int, end: int) -> bool:
    """Is text[start:end] inside double quotes on its line: words quoted from another
    document ('referral letter lists "EGFR exon 20 insertion" - NGS shows ERBB2', 'outside
    consult: "cT2 cN0, stage IIA"'), which the note reports rather than asserts?"""
    line_start = max(text.rfind("\n", 0, start) + 1, start - 80)
    line_end = text.find("\n", end)
    line_end = min(len(text) if line_end < 0 else line_end, end + 80)
    before, after = text[line_start:start], text[end:line_end]
    opened = before.count('"') % 2 == 1 or before.count("\u201c") > before.count("\u201d")
    return opened and ('"' in after or "\u201d" in after)
