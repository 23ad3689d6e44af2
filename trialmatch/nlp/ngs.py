"""Sequencing tests reported in the notes: comprehensive tumour panels, read from
`data/ngs_panels.json`, and germline (inherited-variant) tests, from `data/germline_tests.json`.

A comprehensive DNA panel (FoundationOne CDx, MSK-IMPACT, Tempus xT, ...) reports every
alteration it finds in the genes it covers, so for a solid tumour a gene such a report does
not name is not altered. `comprehensive_panel` finds a note sentence that names such a panel
with its results (not "pending" or "sent", not a plasma assay); the matcher then reads a
required gene alteration the notes never mention as absent rather than untested. Hotspot
panels and plasma assays are not listed: their negatives rule nothing out.

`germline_test` finds a note sentence reporting a germline test's result (or that it is
pending): testing-gap rules for inherited variants are then answered, whichever genes the
sentence names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from trialmatch.datafiles import read_data_file, string_list
from trialmatch.errors import DataFileError
from trialmatch.regex_cache import re_compile

PANELS_FILE = "ngs_panels.json"
GERMLINE_FILE = "germline_tests.json"
_GERMLINE_KEYS = frozenset({"source", "note", "test_terms", "result_words", "pending_words",
                            "not_done_words"})
_ENTRY_KEYS = frozenset({"name", "terms", "source"})
_SENTENCE = re_compile(r"[^.\n;]*")


@dataclass(frozen=True)
class Panels:
    pattern: re.Pattern[str]
    pending: re.Pattern[str]  # results not back yet
    plasma: re.Pattern[str]  # a plasma assay, not the tumour


def _words(phrases: Iterable[str]) -> re.Pattern[str]:
    ordered = sorted(sorted(set(phrases)), key=len, reverse=True)
    return re_compile(rf"(?<![\w-])(?:{'|'.join(re.escape(p) for p in ordered)})(?![\w-])",
                      re.IGNORECASE)


@lru_cache(maxsize=1)
def load_panels() -> Panels:
    """Load and validate `data/ngs_panels.json` (cached)."""
    where = f"trialmatch/nlp/data/{PANELS_FILE}"
    raw = read_data_file("trialmatch.nlp", PANELS_FILE)
    if not isinstance(raw, dict) or not isinstance(raw.get("panels"), list):
        raise DataFileError(f"{where}: expected an object with a 'panels' list")
    terms: list[str] = []
    for index, entry in enumerate(raw["panels"]):
        here = f"{where}: panels[{index}]"
        if not isinstance(entry, dict) or set(entry) - _ENTRY_KEYS:
            raise DataFileError(f"{here}: allowed keys are {', '.join(sorted(_ENTRY_KEYS))}")
        if not isinstance(entry.get("name"), str) or not isinstance(entry.get("source"), str):
            raise DataFileError(f"{here}: 'name' and 'source' must be strings")
        terms += string_list(entry.get("terms"), f"{here} terms")
    return Panels(_words(terms),
                  _words(string_list(raw.get("pending_words"), f"{where}: pending_words")),
                  _words(string_list(raw.get("plasma_words"), f"{where}: plasma_words")))


def comprehensive_panel(texts: Iterable[str]) -> str | None:
    """The sentence of the latest note that reports a comprehensive panel's results, if
    any ("Tumor NGS (FoundationOne CDx, RLL wedge bx 09/2026): BRAF V600E ...")."""
    panels = load_panels()
    found = None
    for text in texts:
        for match in panels.pattern.finditer(text):
            start = text.rfind("\n", 0, match.start()) + 1
            sentence = text[start:match.end()] + _SENTENCE.match(text, match.end()).group(0)
            if panels.pending.search(sentence) or panels.plasma.search(sentence):
                continue
            found = " ".join(sentence.split())
    return found


# A result stated outright, which a "sent"/"pending" elsewhere in the sentence leaves standing.
_RESULT_NAMED = re_compile(r"(?i)\b(?:negative|positive|no\s+(?:pathogenic|deleterious)|"
                           r"pathogenic\s+variant|VUS|variants?\s+of\s+uncertain)")
_IF = re_compile(r"(?i)\b(?:if|whether|unless)\b")
_DENIED_BEFORE = re_compile(r"(?i)\b(?:no|never|without)\s+(?:prior\s+)?$")


@dataclass(frozen=True)
class GermlineWords:
    test: re.Pattern[str]  # names a germline test
    result: re.Pattern[str]  # gives its result
    pending: re.Pattern[str]  # says it is on its way
    not_done: re.Pattern[str]  # recommends, offers or refers, without a test done


@lru_cache(maxsize=1)
def load_germline_words() -> GermlineWords:
    """Load and validate `data/germline_tests.json` (cached)."""
    where = f"trialmatch/nlp/data/{GERMLINE_FILE}"
    raw = read_data_file("trialmatch.nlp", GERMLINE_FILE)
    if not isinstance(raw, dict) or set(raw) - _GERMLINE_KEYS:
        raise DataFileError(f"{where}: allowed keys are {', '.join(sorted(_GERMLINE_KEYS))}")
    if not isinstance(raw.get("source"), str):
        raise DataFileError(f"{where}: 'source' must be a string")
    lists = {key: _words(string_list(raw.get(key), f"{where}: {key}"))
             for key in ("test_terms", "result_words", "pending_words", "not_done_words")}
    return GermlineWords(lists["test_terms"], lists["result_words"], lists["pending_words"],
                         lists["not_done_words"])


def germline_test(texts: Iterable[str]) -> str | None:
    """The sentence of the latest note that reports a germline test's result ("Germline
    panel (Invitae, 84 genes): no pathogenic variants"); not one that says it is pending or
    sent, or only recommends or refers for testing ("refer to genetics for germline
    testing")."""
    words = load_germline_words()
    found = None
    for text in texts:
        for match in words.test.finditer(text):
            # The sentence around the test's name: from the last stop or line start before it.
            start = max(text.rfind(stop, 0, match.start()) for stop in ("\n", ". ", "; ")) + 1
            if _DENIED_BEFORE.search(text, max(start, match.start() - 12), match.start()):
                continue  # "No genetic testing has been done"
            sentence = text[start:match.end()] + _SENTENCE.match(text, match.end()).group(0)
            result = words.result.search(sentence)
            named = _RESULT_NAMED.search(sentence)
            if not result or ((words.pending.search(sentence) or words.not_done.search(
                    sentence)) and (not named or _IF.search(sentence, 0, named.start()))):
                # No result; or sent, pending, recommended or declined, with no result stated
                # outright ("recommended; if negative, ...").
                continue
            found = " ".join(sentence.split())
    return found
