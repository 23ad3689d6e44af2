"""One vocabulary for notes and trials: OncoTree cancer types, primary sites, histologies,
biomarker names and alteration patterns.

The terminology lives in JSON data files under `trialmatch/nlp/data/` (loaded with
`importlib.resources` and validated here); this module only indexes and searches it. The note
extractor, the criteria parser and the matcher all call `get_vocabulary()`, so that a note's
"NSCLC" and a trial's "non-small cell lung cancer" become the same OncoTree code.

Phrase search is a token scan over a dict keyed by the first token of every phrase (no loop
over synonyms per text), so it stays fast on long notes and on hundreds of trials a second;
the tokens of the last texts are cached, since callers run several finders on one text.
Alterations are regular expressions (they describe shapes such as `p.V600E`, not phrases),
one alternation per data entry, skipped at the cost of a substring test when none of the
entry's trigger strings occurs in the text. OCR-tolerant matching (`fuzzy=True`) repairs
damaged words before the scan and marks what it repaired (`TermMatch.exact` False).

When `$TRIALMATCH_ONCOTREE` points at the official OncoTree JSON (a nested tree as published
by cBioPortal/oncotree), its nodes are merged in for the complete tree: official names,
parents, main types and tissues win; the synonyms, sites and histologies from the package
data are kept.
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from trialmatch.datafiles import optional_bool
from trialmatch.errors import DataFileError
from trialmatch.regex_cache import re_compile

ROOT = "TISSUE"  # OncoTree's root node; ancestors() stops below it
HEME_TISSUES = frozenset({"Myeloid", "Lymphoid"})
_HEME_WORDS = re_compile(r"\b(?:lymphomas?|leuka?emias?)\b", re.IGNORECASE)
ONCOTREE_ENV = "TRIALMATCH_ONCOTREE"

_CODE_RE = re_compile(r"^[A-Z0-9_/\-]+$")
_KEY_RE = re_compile(r"^[a-z0-9][a-z0-9 /\-]*$")

# Tokens are runs of letters/digits (an English possessive "'s" stays attached and is dropped
# on normalisation) or single punctuation marks. Hyphens, apostrophes and whitespace only
# separate tokens, so "non-small", "non small" and "non‐small" are the same phrase.
# (captured, so that one split gives the tokens and what lies between them)
_TOKEN_SPLIT = re_compile(r"([^\W_]+(?:['’]s(?![^\W_]))?|[^\w\s\-‐‑‒–—'’])")

# British and American spellings meet on the American form (both sides are normalised).
_SPELLING = (
    ("tumour", "tumor"),
    ("oesophag", "esophag"),
    ("oestrogen", "estrogen"),
    ("leukaem", "leukem"),
    ("haemat", "hemat"),
    ("haemangi", "hemangi"),
    ("paediatric", "pediatric"),
    ("anaem", "anem"),
    ("oedema", "edema"),
    ("centre", "center"),
)

# OCR confusions tried before a fuzzy comparison ("adenocarcinorna" -> "adenocarcinoma").
_OCR_SUBSTITUTIONS = (
    ("rn", "m"), ("0", "o"), ("1", "l"), ("5", "s"), ("vv", "w"), ("cl", "d"), ("lll", "ll"),
    ("ii", "u"), ("l", "i"),
)
OCR_MIN_LENGTH = 4  # OCR substitutions are tried on tokens of 4+ characters
# Fuzzy matching only between words of 8+ letters: shorter ones have real-word neighbours one
# edit away ("adenoma"/"adenoca", "mental"/"omental", "varies"/"ovaries", "lingual"/"lingula"
# were all seen turning benign report words into findings on real TCGA reports).
FUZZY_MIN_LENGTH = 8
FUZZY_SCORE = 90  # rapidfuzz ratio (0-100) a damaged word must reach
FUZZY_EDIT_LENGTH = 8  # from this length one edit or swap (OSA distance 1) is also damage
# Two runs of letters one space apart, the second read ahead (see `rejoin_split_words`).
_SPACED_PAIR = re_compile(r"(?<![A-Za-z])([A-Za-z]+) (?=([A-Za-z]{3,})(?![A-Za-z]))")
# English words a split word's first half must not be ("test is" is no "testis").
_COMMON_WORDS = frozenset(("the", "and", "for", "with", "not", "was", "are", "has", "had",
                           "this", "that", "test", "left", "right", "per", "all", "any", "one",
                           "two", "new", "see", "non", "pre", "post", "sub", "mid"))
JOIN_MIN_LENGTH = 8  # a word split in two is only rejoined when the result is this long


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class CancerTypeEntry:
    """One OncoTree node with the phrases that name it and, where it is a combination of a
    primary site and a histology, the site and histology keys."""

    code: str
    name: str
    main_type: str
    tissue: str
    parent: str | None
    synonyms: tuple[str, ...]
    site: str | None
    histology: str | None


# The words after a site adjective that make it the site ("cervical SCC", "cervical primary").
_TUMOUR_AFTER = re.compile(
    r"(?i)[\s-]+(?:primary|origin|cancers?|carcinomas?|scc|adenocarcinomas?|squamous|"
    r"adenosquamous|tumou?rs?|neoplasms?|masse?s?|lesions?|malignancy|ca\b|cin\b|"
    r"intraepithelial|dysplasia|biops(?:y|ies)|cytology|smear|stump|cone)")


@dataclass(frozen=True)
class TermMatch:
    """A vocabulary term found in text. `key` is an OncoTree code, a site key, a histology
    key, a marker name or a canonical alteration; `exact` is False for OCR-tolerant matches."""

    key: str
    start: int
    end: int
    text: str
    exact: bool = True


@dataclass(frozen=True)
class SiteEntry:
    """A primary site: its key, display name, OncoTree tissue and the phrases that name it."""

    key: str
    name: str
    tissue: str | None
    parent: str | None  # a broader site ("colon" -> "colorectum")
    synonyms: tuple[str, ...]
    subsites: tuple[str, ...]
    default_code: str | None  # code for a generic carcinoma/cancer of this site
    case_sensitive: tuple[str, ...] = ()  # phrases matched with their case ("RUL")
    linings: tuple[str, ...] = ()  # sites lining this organ where its carcinomas arise
    # ("uterus" -> "endometrium"; "kidney" -> "upper urinary tract" for urothelial carcinoma)
    # A site other cancers spread to (lymph nodes): named in a criterion it is nodes to
    # count, measure or dissect, not the primary site the trial asks for.
    spread_only: bool = False
    # Adjectives that name the site only right before a tumour word or "primary" ("cervical
    # SCC", "cervical primary"; not "cervical lymph node" or "cervical spine").
    before_tumour: tuple[str, ...] = ()


@dataclass(frozen=True)
class HistologyEntry:
    """A histology key, its broader histology and the phrases that name it."""

    key: str
    name: str
    broader: str | None
    synonyms: tuple[str, ...]
    default_code: str | None  # code when the histology decides the type without a site
    case_sensitive: tuple[str, ...] = ()  # phrases matched with their case ("NET")


@dataclass(frozen=True)
class BiomarkerEntry:
    """A marker as named in SPEC (HGNC symbol for genes) with its aliases."""

    symbol: str
    name: str
    kind: str  # gene | protein | signature | virus | fusion | region
    aliases: tuple[str, ...]
    mmr_protein: bool = False
    members: tuple[str, ...] = ()  # a gene family's genes (NTRK -> NTRK1, NTRK2, NTRK3)


@dataclass(frozen=True)
class AlterationEntry:
    """A canonical alteration name and the regular expressions that find it."""

    name: str
    kind: str
    patterns: tuple[str, ...]


# --------------------------------------------------------------------------- tokens


class _Tokens:
    """Tokens of a text as parallel lists (cheaper to build than one object per token).

    `raws` are the tokens as written (possessive removed), `norms` in lower case and American
    spelling, `starts` and `ends` their character offsets.
    """

    __slots__ = ("text", "raws", "norms", "starts", "ends", "_starting")

    def __init__(self, text: str, raws: list[str], norms: list[str], starts: list[int],
                 ends: list[int]) -> None:
        self.text, self.raws, self.norms = text, raws, norms
        self.starts, self.ends = starts, ends
        self._starting: tuple[frozenset[str], list[int]] | None = None

    def starting(self, words: frozenset[str]) -> list[int]:
        """The positions of the tokens whose norm is one of `words`, in order; kept for the
        last set asked about (the cancer, site, histology and marker indexes all ask about
        `_ALL_STARTERS` for the same note's tokens)."""
        if self._starting is None or self._starting[0] is not words:
            self._starting = (words, [i for i, norm in enumerate(self.norms) if norm in words])
        return self._starting[1]


# Every token that starts a phrase of any phrase index (built or rebuilt so far): a scan
# reads the note's tokens once for all the indexes, then each index keeps its own starters
# among these few (about one token in seven, where each index alone walked every token).
# Only grows, and is replaced rather than changed, so a _Tokens' cached positions belong to
# the set they were computed for; a word no longer a starter is merely one more candidate.
_ALL_STARTERS: frozenset[str] = frozenset()


def _add_starters(words: Iterable[str]) -> None:
    global _ALL_STARTERS
    if not _ALL_STARTERS.issuperset(words):
        _ALL_STARTERS = _ALL_STARTERS.union(words)


@functools.lru_cache(maxsize=65536)
def _normalise_word(word: str) -> str:
    """Lower-case a token and map British spellings to American ones."""
    low = word.lower()
    if "oe" in low or "ae" in low or "our" in low or "centre" in low:
        for british, american in _SPELLING:
            if british in low:
                low = low.replace(british, american)
    return low


def _strip_possessive(raw: str) -> str:
    if len(raw) > 2 and raw[-2] in "'’" and raw[-1] in "sS":
        return raw[:-2]
    return raw


def _tokenize(text: str) -> _Tokens:
    """Split text into tokens with their character offsets. Cached for ordinary texts: the
    finders are usually called one after another on the same text (the token lists are never
    modified); very long texts are not kept, so a huge input cannot pin memory."""
    if len(text) > _CACHE_MAX_CHARS:
        return _tokenize_text(text)
    return _tokenize_cached(text)


_CACHE_MAX_CHARS = 200_000


@functools.lru_cache(maxsize=64)
def _tokenize_cached(text: str) -> _Tokens:
    return _tokenize_text(text)


def _tokenize_text(text: str) -> _Tokens:
    # One split gives the tokens and the blanks between them; the offsets are the running
    # sums of their lengths (no per-token search).
    parts = _TOKEN_SPLIT.split(text)
    raws = parts[1::2]
    if "'" in text or "’" in text:
        raws = [_strip_possessive(r) for r in raws]
    ends = list(itertools.accumulate(map(len, parts)))
    # (map with the cached normaliser: no bytecode per token)
    return _Tokens(text, raws, list(map(_normalise_word, raws)), ends[0:-1:2], ends[1::2])


_REJOINED_MIN = 7  # letters of a word rejoin_split_words makes from a split pair


@functools.lru_cache(maxsize=8)
def _long_words(words: frozenset[str], extra_words: frozenset[str]) -> frozenset[str]:
    """The words of either set that a split pair can rejoin into (`rejoin_split_words`)."""
    return frozenset(word for word in words | extra_words if len(word) >= _REJOINED_MIN)


def _phrase_tokens(phrase: str) -> tuple[str, ...]:
    return tuple(_tokenize(phrase).norms)


def _phrase_raw_tokens(phrase: str) -> tuple[str, ...]:
    return tuple(_tokenize(phrase).raws)


# --------------------------------------------------------------------------- phrase index


@dataclass
class _PhraseIndex:
    """Phrases indexed by their first token; a scan tries only the phrases that can start at
    each token, longest first, and keeps the leftmost-longest non-overlapping matches."""

    by_first: dict[str, list[tuple[int, list[str], list[str], str, bool]]] = field(
        default_factory=dict
    )
    keys_by_phrase: dict[tuple[str, ...], str] = field(default_factory=dict)
    words: set[str] = field(default_factory=set)
    fuzzy_words: list[str] = field(default_factory=list)
    fuzzy_cache: dict[str, str | None] = field(default_factory=dict)
    plurals: dict[str, str] = field(default_factory=dict)
    protected: frozenset[str] = frozenset()  # real words one edit from a term: never repaired
    # The phrases as a token trie per first token, built from `by_first` on the first scan
    # (`_starters`); any change to the index drops it.
    _trie: dict[str, tuple[dict, list]] | None = field(default=None, repr=False)

    def add(self, phrase: str, key: str, case_sensitive: bool = False) -> str | None:
        """Index a phrase; return the key that already owns it, if another does."""
        norm = _phrase_tokens(phrase)
        if not norm:
            return None
        self._trie = None
        tokens = _phrase_raw_tokens(phrase) if case_sensitive else norm
        owner = self.keys_by_phrase.get(norm) if not case_sensitive else None
        if owner is not None and owner != key:
            return owner
        if not case_sensitive:
            self.keys_by_phrase[norm] = key
        bucket = self.by_first.setdefault(norm[0], [])
        whole = list(tokens)
        if not any(w == whole and k == key for _, w, _, k, _ in bucket):
            # (size, all tokens, tokens after the first, key, case-sensitive), as lists so
            # that a scan compares list slices without converting
            bucket.append((len(whole), whole, whole[1:], key, case_sensitive))
        self.words.update(norm)
        return None

    def remove_phrase(self, phrase: str) -> None:
        """Drop a case-insensitive phrase (used when an official name turns out ambiguous)."""
        norm = _phrase_tokens(phrase)
        if not norm:
            return
        self._trie = None
        self.keys_by_phrase.pop(norm, None)
        bucket = self.by_first.get(norm[0], [])
        self.by_first[norm[0]] = [b for b in bucket if not (b[1] == list(norm) and not b[4])]

    def freeze(self) -> None:
        """Fold plurals, sort candidates longest first and prepare the fuzzy word list."""
        # "tumors" -> "tumor"; short words are left alone ("mets" is not "met"). Phrases are
        # folded the same way as texts, so that "non-small cell lung carcinomas" meets the
        # phrase "... carcinoma" even though "carcinomas" is itself a word of some phrase.
        words = self.words
        plurals = self.plurals = {w + "s": w for w in words if len(w) >= 4 and w.isalpha()}
        by_first: dict[str, list[tuple[int, list[str], list[str], str, bool]]] = {}
        for first, bucket in self.by_first.items():
            folded_bucket = by_first.setdefault(plurals.get(first, first), [])
            for size, whole, _tail, key, case_sensitive in bucket:
                if not case_sensitive:  # case-sensitive phrases compare the raw tokens
                    whole = [plurals.get(token, token) for token in whole]
                if not any(w == whole and cs == case_sensitive
                           for _, w, _, _, cs in folded_bucket):
                    folded_bucket.append((size, whole, whole[1:], key, case_sensitive))
        for bucket in by_first.values():
            bucket.sort(key=lambda item: -item[0])
        self.by_first = by_first
        self._trie = None
        self.fuzzy_words = sorted(
            w for w in self.words if len(w) >= FUZZY_MIN_LENGTH and w.isalpha()
        )

    def _starters(self) -> dict[str, tuple[dict, list]]:
        """Token as written (lower case, before plural folding) -> the phrases that can start
        there: a trie of the case-insensitive phrases' folded tokens, whose nodes hold
        (bucket position, key) under None where a phrase ends, and the case-sensitive
        phrases as (bucket position, size, raw tokens, key). Built once from `by_first`."""
        if self._trie is None:
            compiled: dict[str, tuple[dict, list]] = {}
            for first, bucket in self.by_first.items():
                root: dict = {}
                sensitive = []
                for position, (size, whole, tail, key, case_sensitive) in enumerate(bucket):
                    if case_sensitive:
                        sensitive.append((position, size, whole, key))
                        continue
                    node = root
                    for token in tail:
                        node = node.setdefault(token, {})
                    node.setdefault(None, (position, key))
                compiled[first] = (root, sensitive)
            plurals = self.plurals
            # A token starts phrases when its folded form is a first token.
            starters = {token: compiled[folded] for token, folded in plurals.items()
                        if folded in compiled}
            for first, entry in compiled.items():
                if first not in plurals:
                    starters[first] = entry
            self._trie = starters
            _add_starters(starters)
        return self._trie

    def scan(
        self, text: str, tokens: _Tokens, fuzzy_marks: set[int] | None = None
    ) -> list[TermMatch]:
        """Leftmost-longest non-overlapping matches of indexed phrases over `tokens`.

        At each token that starts phrases, the longest phrase that matches wins, and among
        phrases of that length the first in its `by_first` bucket: the trie walks the
        following tokens once instead of comparing every phrase of the bucket."""
        matches: list[TermMatch] = []
        starters = self._starters()
        norms = tokens.norms
        # One pass over the tokens for every index (cheaper than a shared norm -> positions
        # map, which must list every token's position for the few that start phrases), then
        # this index's starters among the candidates.
        hits = [i for i in tokens.starting(_ALL_STARTERS) if norms[i] in starters]
        # Plurals ("adenocarcinomas", "tumors") fold onto the indexed singular.
        plurals = self.plurals
        raws = tokens.raws
        n = len(norms)
        after = 0  # the first token not inside an earlier match
        for i in hits:
            if i < after:
                continue
            root, sensitive = starters[norms[i]]
            best = None  # (size, bucket position, key)
            ending = root.get(None)
            if ending is not None:
                best = (1, ending[0], ending[1])
            node, j = root, i + 1
            while j < n:
                norm = norms[j]
                node = node.get(plurals.get(norm, norm))
                if node is None:
                    break
                j += 1
                ending = node.get(None)
                if ending is not None:
                    best = (j - i, ending[0], ending[1])
            for position, size, whole, key in sensitive:
                if (best is None or size > best[0] or (size == best[0] and position < best[1])
                        ) and i + size <= n and raws[i:i + size] == whole:
                    best = (size, position, key)
            if best is None:
                continue
            size, _, key = best
            start, end = tokens.starts[i], tokens.ends[i + size - 1]
            exact = not fuzzy_marks or not any(j in fuzzy_marks for j in range(i, i + size))
            matches.append(TermMatch(key, start, end, text[start:end], exact))
            after = i + size
        return matches

    def find(self, text: str, fuzzy: bool = False) -> list[TermMatch]:
        """All matches in `text`; with `fuzzy`, OCR-damaged words are repaired first and the
        matches that needed a repair are marked `exact=False`."""
        tokens = _tokenize(text)
        if not fuzzy:
            return self.scan(text, tokens)
        repaired, marks = self._repair(tokens)
        if not marks:
            return self.scan(text, tokens)
        return self.scan(text, repaired, marks)

    def _repair(self, tokens: _Tokens) -> tuple[_Tokens, set[int]]:
        """Replace unknown tokens by the vocabulary word they were meant to be: a word split
        by a stray space ("adenocarcin oma"), a classic OCR confusion ("rn" read for "m"),
        or a close fuzzy match (rapidfuzz ratio >= FUZZY_SCORE on words of 6+ letters)."""
        words, plurals = self.words, self.plurals
        starts: list[int] = []
        ends: list[int] = []
        raws: list[str] = []
        norms: list[str] = []
        marks: set[int] = set()
        i, n = 0, len(tokens.norms)
        while i < n:
            norm = tokens.norms[i]
            replacement = None
            end = tokens.ends[i]
            step = 1
            if norm not in words and norm not in plurals and sum(c.isalpha() for c in norm) >= 2:
                # A word broken in two by OCR: both halves alphabetic and adjacent.
                if i + 1 < n:
                    nxt = tokens.norms[i + 1]
                    joined = norm + nxt
                    adjacent = tokens.starts[i + 1] - end <= 2
                    # "test is" must not become "testis": only long words are rejoined
                    long_enough = len(joined) >= JOIN_MIN_LENGTH
                    if (norm.isalpha() and nxt.isalpha() and adjacent and long_enough
                            and joined in words):
                        replacement, end, step = joined, tokens.ends[i + 1], 2
                if replacement is None:
                    replacement = self._fuzzy_word(norm)
            if replacement is not None:
                marks.add(len(norms))
            starts.append(tokens.starts[i])
            ends.append(end)
            raws.append(replacement or tokens.raws[i])
            norms.append(replacement or norm)
            i += step
        return _Tokens(tokens.text, raws, norms, starts, ends), marks

    def _fuzzy_word(self, norm: str) -> str | None:
        if norm in self.protected:
            return None
        # Ordinary words recur from note to note; remember the verdict for each.
        if norm in self.fuzzy_cache:
            return self.fuzzy_cache[norm]
        fixed = self._fuzzy_lookup(norm)
        if len(self.fuzzy_cache) < 100_000:
            self.fuzzy_cache[norm] = fixed
        return fixed

    def _fuzzy_lookup(self, norm: str) -> str | None:
        if len(norm) < OCR_MIN_LENGTH or not self.fuzzy_words:
            return None
        # Classic OCR confusions first: deterministic, and only accepted when they give a
        # vocabulary word ("ce11" -> "cell", "celll" -> "cell", "carcinorna" -> "carcinoma").
        candidate = norm
        for damaged, meant in _OCR_SUBSTITUTIONS:
            if damaged in norm:
                single = norm.replace(damaged, meant)
                if single in self.words:
                    return single
                candidate = candidate.replace(damaged, meant)
        if candidate != norm and candidate in self.words:
            return candidate
        if len(norm) < FUZZY_MIN_LENGTH or not norm.isalpha():
            return None
        best = process.extractOne(
            norm, self.fuzzy_words, scorer=fuzz.ratio, score_cutoff=FUZZY_SCORE
        )
        if best is None and len(norm) >= FUZZY_EDIT_LENGTH:
            # One wrong or swapped letter in a long word ("equamous", "sqaumous") scores below
            # the ratio cut-off; optimal string alignment distance 1 accepts it.
            best = process.extractOne(
                norm, self.fuzzy_words, scorer=OSA.distance, score_cutoff=1
            )
        if best is None:
            return None
        word = best[0]
        # A different length by more than two letters is a different word, not damage.
        return word if abs(len(word) - len(norm)) <= 2 else None


# --------------------------------------------------------------------------- loading


def _read_json(path: Path | Any, label: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataFileError(f"{label}: file not found") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(f"{label}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise DataFileError(f"{label}: expected a JSON object at the top level")
    if not isinstance(data.get("source"), str) or not data["source"].strip():
        raise DataFileError(f"{label}: missing the 'source' field")
    return data


def _entries(data: dict[str, Any], field_name: str, label: str) -> list[dict[str, Any]]:
    items = data.get(field_name)
    if not isinstance(items, list) or not items:
        raise DataFileError(f"{label}: expected a non-empty list '{field_name}'")
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise DataFileError(f"{label}: entry #{position} is not an object")
    return items


def _keyed_entries(
    data: dict[str, Any], field_name: str, label: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, entry) for each entry of a keyed list, each key well-formed and unique."""
    seen: set[str] = set()
    for position, item in enumerate(_entries(data, field_name, label)):
        key = item.get("key")
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise DataFileError(f"{label}: entry #{position}: bad or missing 'key'")
        if key in seen:
            raise DataFileError(f"{label}: entry {key!r}: duplicate key")
        seen.add(key)
        yield key, item


def _strings(item: dict[str, Any], name: str, label: str, entry: str) -> tuple[str, ...]:
    value = item.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DataFileError(f"{label}: entry {entry!r}: '{name}' must be a list of strings")
    return tuple(value)


def _phrases(item: dict[str, Any], name: str, label: str, entry: str) -> tuple[str, ...]:
    """Like _strings, for phrases matched in text: each needs a letter, so that a broken
    entry such as "9)" (a synonym cut at a semicolon) cannot match every list numbering."""
    value = _strings(item, name, label, entry)
    for phrase in value:
        if not any(c.isalpha() for c in phrase):
            raise DataFileError(f"{label}: entry {entry!r}: phrase {phrase!r} has no letter")
    return value


def _optional_str(item: dict[str, Any], name: str, label: str, entry: str) -> str | None:
    value = item.get(name)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise DataFileError(f"{label}: entry {entry!r}: '{name}' must be a string or null")
    return value


def _required_str(item: dict[str, Any], name: str, label: str, entry: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value.strip():
        raise DataFileError(f"{label}: entry {entry!r}: missing '{name}'")
    return value


@dataclass
class _CancerTypeData:
    entries: dict[str, CancerTypeEntry]
    case_sensitive: dict[str, tuple[str, ...]]
    unmatched_codes: frozenset[str]
    fuzzy_protected: frozenset[str] = frozenset()
    # phrase tokens -> every code the unqualified phrase names ("acute lymphoblastic
    # leukemia" is B- or T-lymphoblastic: OncoTree splits ALL by lineage)
    lineage_neutral: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    # code -> the broader codes it is not a member of for trial populations ("plasma cell
    # myeloma" lies under OncoTree's non-Hodgkin lymphoma, but no lymphoma trial enrols it)
    not_members: dict[str, frozenset[str]] = field(default_factory=dict)
    # code -> broader codes it belongs to for trial populations though OncoTree files it
    # beside them (inflammatory breast cancer is an invasive breast carcinoma)
    also_members: dict[str, frozenset[str]] = field(default_factory=dict)


def load_cancer_types(path: Path | Any) -> _CancerTypeData:
    """Read and validate a cancer_types.json file (duplicate codes, unknown parents, missing
    fields raise DataFileError naming the file and the entry)."""
    label = getattr(path, "name", str(path))
    data = _read_json(path, label)
    unmatched = data.get("unmatched_codes", [])
    if not isinstance(unmatched, list) or not all(isinstance(c, str) for c in unmatched):
        raise DataFileError(f"{label}: 'unmatched_codes' must be a list of codes")
    protected = data.get("fuzzy_protected_words", [])
    if not isinstance(protected, list) or not all(isinstance(w, str) for w in protected):
        raise DataFileError(f"{label}: 'fuzzy_protected_words' must be a list of words")
    entries: dict[str, CancerTypeEntry] = {}
    case_sensitive: dict[str, tuple[str, ...]] = {}
    for position, item in enumerate(_entries(data, "cancer_types", label)):
        code = item.get("code")
        if not isinstance(code, str) or not _CODE_RE.match(code):
            raise DataFileError(f"{label}: entry #{position}: bad or missing 'code'")
        if code in entries:
            raise DataFileError(f"{label}: entry {code!r}: duplicate code")
        synonyms = _phrases(item, "synonyms", label, code)
        exact_case = _strings(item, "case_sensitive", label, code)
        for phrase in exact_case:
            if phrase not in synonyms:
                raise DataFileError(
                    f"{label}: entry {code!r}: case-sensitive phrase {phrase!r} is not a synonym"
                )
        entries[code] = CancerTypeEntry(
            code=code,
            name=_required_str(item, "name", label, code),
            main_type=_optional_str(item, "main_type", label, code) or "",
            tissue=_optional_str(item, "tissue", label, code) or "",
            parent=_optional_str(item, "parent", label, code),
            synonyms=synonyms,
            site=_optional_str(item, "site", label, code),
            histology=_optional_str(item, "histology", label, code),
        )
        if exact_case:
            case_sensitive[code] = exact_case
    for code, entry in entries.items():
        if entry.parent is not None and entry.parent != ROOT and entry.parent not in entries:
            raise DataFileError(f"{label}: entry {code!r}: unknown parent {entry.parent!r}")
    _check_cycles(entries, label)
    return _CancerTypeData(
        entries, case_sensitive, frozenset(unmatched),
        frozenset(_normalise_word(w) for w in protected),
        _lineage_neutral(data, entries, label),
        _not_members(data, entries, label),
        _not_members(data, entries, label, key="also_members"),
    )


def _check_group(group: Any, keys: tuple[str, ...], where: str) -> None:
    """A knowledge-table entry: an object with only `keys` and a non-empty 'source'."""
    if not isinstance(group, dict) or set(group) - set(keys):
        raise DataFileError(f"{where}: keys must be {', '.join(keys)}")
    if not isinstance(group.get("source"), str) or not group["source"].strip():
        raise DataFileError(f"{where}: missing 'source'")


def _not_members(data: dict, entries: dict[str, CancerTypeEntry],
                 label: str, key: str = "not_members") -> dict[str, frozenset[str]]:
    """The 'not_members' groups: codes that OncoTree files under a broader code whose name,
    used for a trial population, does not take them in; with `key` "also_members", codes
    it files beside a broader code whose population does take them in."""
    out: dict[str, frozenset[str]] = {}
    for position, group in enumerate(data.get(key, [])):
        where = f"{label}: {key} #{position}"
        _check_group(group, ("codes", "of", "source"), where)
        codes, broader = group.get("codes"), group.get("of")
        for name, value in (("codes", codes), ("of", broader)):
            if not isinstance(value, list) or not value or any(c not in entries for c in value):
                raise DataFileError(f"{where}: {name!r} must list known codes")
        for code in codes:
            out[code] = out.get(code, frozenset()) | frozenset(broader)
    return out


def _lineage_neutral(data: dict, entries: dict[str, CancerTypeEntry],
                     label: str) -> dict[tuple[str, ...], tuple[str, ...]]:
    """The 'lineage_neutral' groups: phrases that, unqualified, name every code of a group."""
    out: dict[tuple[str, ...], tuple[str, ...]] = {}
    for position, group in enumerate(data.get("lineage_neutral", [])):
        where = f"{label}: lineage_neutral #{position}"
        _check_group(group, ("codes", "phrases", "source", "broader"), where)
        codes, phrases = group.get("codes"), group.get("phrases")
        if not isinstance(codes, list) or len(codes) < 2 or any(c not in entries for c in codes):
            raise DataFileError(f"{where}: 'codes' must list two or more known codes")
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            raise DataFileError(f"{where}: 'phrases' must be a list of phrases")
        # 'broader': the code whose synonyms the phrases are, above every code of the group
        # ("esophageal cancer", a synonym of the Esophagus/Stomach tissue, names only its
        # esophageal types); the notes keep reading the phrase as that code.
        broader = group.get("broader")
        if broader is not None and (broader not in entries or not all(
                _is_below(c, broader, entries) for c in codes)):
            raise DataFileError(f"{where}: 'broader' must be a code above every code of the group")
        namers = list(codes) + ([broader] if broader else [])
        for phrase in phrases:
            if not any(phrase in entries[c].synonyms for c in namers):
                raise DataFileError(f"{where}: {phrase!r} is no synonym of {namers}")
            out[_phrase_tokens(phrase)] = tuple(codes)
    return out


def _is_below(code: str, ancestor: str, entries: dict[str, CancerTypeEntry]) -> bool:
    parent = entries[code].parent
    for _ in range(20):
        if parent is None or parent == ROOT or parent not in entries:
            return False
        if parent == ancestor:
            return True
        parent = entries[parent].parent
    return False


def _check_cycles(entries: dict[str, CancerTypeEntry], label: str) -> None:
    for code in entries:
        seen = {code}
        parent = entries[code].parent
        while parent is not None and parent != ROOT and parent in entries:
            if parent in seen:
                raise DataFileError(f"{label}: entry {code!r}: parent chain loops at {parent!r}")
            seen.add(parent)
            parent = entries[parent].parent


def _case_sensitive(
    item: dict[str, Any], label: str, key: str, fields: tuple[str, ...]
) -> tuple[str, ...]:
    phrases = _strings(item, "case_sensitive", label, key)
    known = {item.get("name")} | {p for f in fields for p in _strings(item, f, label, key)}
    for phrase in phrases:
        if phrase not in known:
            raise DataFileError(
                f"{label}: entry {key!r}: case-sensitive phrase {phrase!r} is not a synonym"
            )
    return phrases


def _site_keys(item: dict[str, Any], field: str, label: str, key: str) -> tuple[str, ...]:
    """An optional list of site keys (checked against the file once all are read)."""
    value = item.get(field, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise DataFileError(f"{label}: entry {key!r}: {field!r} must be a list of site keys")
    return tuple(value)


def load_sites(path: Path | Any) -> dict[str, SiteEntry]:
    """Read and validate a sites.json file."""
    label = getattr(path, "name", str(path))
    data = _read_json(path, label)
    sites: dict[str, SiteEntry] = {}
    for key, item in _keyed_entries(data, "sites", label):
        sites[key] = SiteEntry(
            key=key,
            name=_required_str(item, "name", label, key),
            tissue=_optional_str(item, "tissue", label, key),
            parent=_optional_str(item, "parent", label, key),
            synonyms=_phrases(item, "synonyms", label, key),
            subsites=_phrases(item, "subsites", label, key),
            default_code=_optional_str(item, "default_code", label, key),
            case_sensitive=_case_sensitive(item, label, key, ("synonyms", "subsites")),
            linings=_site_keys(item, "linings", label, key),
            spread_only=optional_bool(item, "spread_only", f"{label}: entry {key!r}"),
            before_tumour=_phrases(item, "before_tumour", label, key),
        )
    for key, site in sites.items():
        if site.parent is not None and site.parent not in sites:
            raise DataFileError(f"{label}: entry {key!r}: unknown parent site {site.parent!r}")
        for lining in site.linings:
            if lining not in sites:
                raise DataFileError(f"{label}: entry {key!r}: unknown lining site {lining!r}")
    return sites


def load_histologies(path: Path | Any) -> dict[str, HistologyEntry]:
    """Read and validate a histologies.json file."""
    label = getattr(path, "name", str(path))
    data = _read_json(path, label)
    histologies: dict[str, HistologyEntry] = {}
    for key, item in _keyed_entries(data, "histologies", label):
        histologies[key] = HistologyEntry(
            key=key,
            name=_required_str(item, "name", label, key),
            broader=_optional_str(item, "broader", label, key),
            synonyms=_phrases(item, "synonyms", label, key),
            default_code=_optional_str(item, "default_code", label, key),
            case_sensitive=_case_sensitive(item, label, key, ("synonyms",)),
        )
    for key, histology in histologies.items():
        if histology.broader is not None and histology.broader not in histologies:
            raise DataFileError(
                f"{label}: entry {key!r}: unknown broader histology {histology.broader!r}"
            )
        seen, current = {key}, histology.broader
        while current is not None:
            if current in seen:
                raise DataFileError(f"{label}: entry {key!r}: broader chain loops")
            seen.add(current)
            current = histologies[current].broader
    return histologies


@dataclass
class _BiomarkerData:
    markers: dict[str, BiomarkerEntry]
    exact_case: dict[str, set[str]]
    status_aliases: dict[tuple[str, ...], str]
    not_markers: tuple[str, ...] = ()
    # alias -> (pattern before, pattern after): where the alias is another word (a response)
    ambiguous: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = field(default_factory=dict)


_NOT_A_TERM = ""  # key of blocking phrases


def load_biomarkers(path: Path | Any) -> _BiomarkerData:
    """Read and validate a biomarkers.json file: the entries, per symbol the aliases that must
    match with their exact case (e.g. "MET", never the verb "met"), and the aliases that carry
    a result ("MSS" -> negative, "dMMR" -> positive)."""
    label = getattr(path, "name", str(path))
    data = _read_json(path, label)
    markers: dict[str, BiomarkerEntry] = {}
    exact_case: dict[str, set[str]] = {}
    for position, item in enumerate(_entries(data, "biomarkers", label)):
        symbol = item.get("symbol")
        if not isinstance(symbol, str) or not symbol.strip():
            raise DataFileError(f"{label}: entry #{position}: bad or missing 'symbol'")
        if symbol in markers:
            raise DataFileError(f"{label}: entry {symbol!r}: duplicate symbol")
        kind = _required_str(item, "kind", label, symbol)
        aliases = _phrases(item, "aliases", label, symbol)
        cs = _strings(item, "case_sensitive", label, symbol)
        for phrase in cs:
            if phrase != symbol and phrase not in aliases:
                raise DataFileError(
                    f"{label}: entry {symbol!r}: case-sensitive phrase {phrase!r} is not an alias"
                )
        mmr = item.get("mmr_protein", False)
        if not isinstance(mmr, bool):
            raise DataFileError(f"{label}: entry {symbol!r}: 'mmr_protein' must be true/false")
        markers[symbol] = BiomarkerEntry(
            symbol=symbol,
            name=_required_str(item, "name", label, symbol),
            kind=kind,
            aliases=aliases,
            mmr_protein=mmr,
            members=tuple(_strings(item, "members", label, symbol)),
        )
        exact_case[symbol] = set(cs)
    for entry in markers.values():
        for member in entry.members:
            if member not in markers:
                raise DataFileError(f"{label}: entry {entry.symbol!r}: member {member!r} is "
                                    "not a marker symbol")
    aliases_all = {p for m in markers.values() for p in (m.symbol, *m.aliases)}
    raw_status = data.get("status_aliases", {})
    if not isinstance(raw_status, dict):
        raise DataFileError(f"{label}: 'status_aliases' must map aliases to a status")
    status_aliases: dict[tuple[str, ...], str] = {}
    for alias, status in raw_status.items():
        if alias not in aliases_all:
            raise DataFileError(f"{label}: status alias {alias!r} is not a marker alias")
        if status not in ("positive", "negative", "equivocal", "unknown"):
            raise DataFileError(f"{label}: status alias {alias!r}: bad status {status!r}")
        status_aliases[_phrase_tokens(alias)] = status
    not_markers = _phrases(data, "not_markers", label, "not_markers")
    return _BiomarkerData(markers, exact_case, status_aliases, not_markers,
                          _ambiguous_aliases(data, aliases_all, label))


def _ambiguous_aliases(data: dict, aliases: set[str], label: str
                       ) -> dict[str, tuple[re.Pattern[str], re.Pattern[str]]]:
    """The 'ambiguous_aliases' entries: an alias and the contexts (a pattern the text before
    it ends with, one the text after it starts with) where it is not the marker."""
    out = {}
    for position, item in enumerate(data.get("ambiguous_aliases", [])):
        where = f"{label}: ambiguous_aliases #{position}"
        _check_group(item, ("alias", "before", "after", "source"), where)
        if item.get("alias") not in aliases:
            raise DataFileError(f"{where}: {item.get('alias')!r} is not a marker alias")
        try:
            before = re_compile(f"(?:{item.get('before') or '(?!)'})$", re.IGNORECASE)
            after = re_compile(f"^(?:{item.get('after') or '(?!)'})", re.IGNORECASE)
        except re.error as error:
            raise DataFileError(f"{where}: bad pattern: {error}") from None
        out[item["alias"]] = (before, after)
    return out


@dataclass(frozen=True)
class _PatternGroup:
    """Compiled patterns of one entry. `triggers` are lower-case strings of which at least one
    occurs in any text the patterns can match: a cheap `in` test skips the regex otherwise."""

    name: str  # canonical alteration; "" for protein changes (named from the match)
    regex: re.Pattern[str]
    triggers: tuple[str, ...]


@dataclass
class _AlterationData:
    entries: list[AlterationEntry]
    amino_acids: dict[str, str]
    groups: list[_PatternGroup]
    protein_groups: list[_PatternGroup]


def _pattern_group(
    item: dict[str, Any], label: str, entry: str, name: str, protein: bool
) -> _PatternGroup:
    patterns = _strings(item, "patterns", label, entry)
    if not patterns:
        raise DataFileError(f"{label}: entry {entry!r}: no patterns")
    triggers = _strings(item, "triggers", label, entry)
    if any(t != t.lower() for t in triggers):
        raise DataFileError(f"{label}: entry {entry!r}: triggers must be lower case")
    exact_case = item.get("case_sensitive", False)
    if not isinstance(exact_case, bool):
        raise DataFileError(f"{label}: entry {entry!r}: 'case_sensitive' must be true/false")
    flags = 0 if exact_case else re.IGNORECASE
    for pattern in patterns:
        compiled = _compile(pattern, label, entry, flags)
        groups = set(compiled.groupindex)
        if protein and not {"ref", "pos", "alt"} <= groups:
            raise DataFileError(f"{label}: entry {entry!r}: pattern needs groups ref, pos, alt")
        if not protein and groups:
            raise DataFileError(f"{label}: entry {entry!r}: named groups are reserved")
    if protein and len(patterns) > 1:
        raise DataFileError(f"{label}: entry {entry!r}: one pattern per protein-change entry")
    regex = _compile("|".join(f"(?:{p})" for p in patterns), label, entry, flags)
    return _PatternGroup(name, regex, triggers)


def load_alterations(path: Path | Any) -> _AlterationData:
    """Read and validate an alterations.json file; every pattern must compile. An alteration
    may have several entries (e.g. words and gene-pair patterns for "fusion")."""
    label = getattr(path, "name", str(path))
    data = _read_json(path, label)
    entries: dict[str, AlterationEntry] = {}
    groups: list[_PatternGroup] = []
    for position, item in enumerate(_entries(data, "alterations", label)):
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise DataFileError(f"{label}: entry #{position}: bad or missing 'name'")
        kind = _required_str(item, "kind", label, name)
        group = _pattern_group(item, label, name, name, protein=False)
        groups.append(group)
        known = entries.get(name)
        patterns = _strings(item, "patterns", label, name)
        entries[name] = AlterationEntry(
            name, kind, (known.patterns if known else ()) + patterns
        )
    amino_acids = data.get("amino_acids")
    if not isinstance(amino_acids, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) == 1 for k, v in amino_acids.items()
    ):
        raise DataFileError(f"{label}: 'amino_acids' must map three-letter codes to one letter")
    protein = data.get("protein_change")
    if not isinstance(protein, list) or not protein:
        raise DataFileError(f"{label}: 'protein_change' must be a non-empty list")
    protein_groups = []
    for position, item in enumerate(protein):
        if not isinstance(item, dict):
            raise DataFileError(f"{label}: protein_change #{position} is not an object")
        protein_groups.append(
            _pattern_group(item, label, f"protein_change #{position}", "", protein=True)
        )
    return _AlterationData(
        list(entries.values()),
        {k.lower(): v for k, v in amino_acids.items()},
        groups,
        protein_groups,
    )


def _compile(pattern: str, label: str, entry: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    try:
        return re_compile(pattern, flags)
    except re.error as exc:
        raise DataFileError(f"{label}: entry {entry!r}: bad pattern ({exc})") from exc


def load_oncotree_json(path: Path | str) -> dict[str, dict[str, Any]]:
    """Flatten the official OncoTree JSON (nested `children`) to {code: node}."""
    label = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataFileError(f"{label}: OncoTree file not found", f"check ${ONCOTREE_ENV}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(f"{label}: not valid JSON ({exc})", f"check ${ONCOTREE_ENV}") from exc
    nodes: dict[str, dict[str, Any]] = {}
    stack: list[Any] = list(data.values()) if isinstance(data, dict) else list(data)
    while stack:
        node = stack.pop()
        if not isinstance(node, dict) or not isinstance(node.get("code"), str):
            raise DataFileError(f"{label}: a node without a code", "is this the OncoTree JSON?")
        nodes[node["code"]] = node
        children = node.get("children") or {}
        stack.extend(children.values() if isinstance(children, dict) else children)
    if ROOT not in nodes and not nodes:
        raise DataFileError(f"{label}: no OncoTree nodes found")
    return nodes


def _merge_oncotree(
    entries: dict[str, CancerTypeEntry], nodes: dict[str, dict[str, Any]]
) -> dict[str, CancerTypeEntry]:
    """Official names, parents, main types and tissues win; package synonyms, sites and
    histologies are kept; nodes unknown to the package are added."""
    merged: dict[str, CancerTypeEntry] = {}
    for code, node in nodes.items():
        if code == ROOT:
            continue
        ours = entries.get(code)
        merged[code] = CancerTypeEntry(
            code=code,
            name=node.get("name") or (ours.name if ours else code),
            main_type=node.get("mainType") or (ours.main_type if ours else ""),
            tissue=node.get("tissue") or (ours.tissue if ours else ""),
            parent=node.get("parent") or None,
            synonyms=ours.synonyms if ours else (),
            site=ours.site if ours else None,
            histology=ours.histology if ours else None,
        )
    for code, ours in entries.items():
        if code not in merged:  # a package code retired from the official tree: keep it
            parent = ours.parent if ours.parent in merged or ours.parent == ROOT else None
            merged[code] = replace(ours, parent=parent)
    return merged


# --------------------------------------------------------------------------- the vocabulary


class Vocabulary:
    """The loaded terminology with its search indexes. Build with `get_vocabulary()`."""

    def __init__(
        self,
        cancer_types: _CancerTypeData,
        sites: dict[str, SiteEntry],
        histologies: dict[str, HistologyEntry],
        biomarkers: _BiomarkerData,
        alterations: _AlterationData,
        oncotree_nodes: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        entries = cancer_types.entries
        if oncotree_nodes:
            entries = _merge_oncotree(entries, oncotree_nodes)
        self._entries = entries
        self._sites = sites
        self._histologies = histologies
        self._markers, marker_case = biomarkers.markers, biomarkers.exact_case
        self._status_aliases = biomarkers.status_aliases
        self._ambiguous = biomarkers.ambiguous
        self._check_references(entries, sites, histologies)

        self._children: dict[str, set[str]] = {}
        for code, entry in entries.items():
            if entry.parent and entry.parent != ROOT:
                self._children.setdefault(entry.parent, set()).add(code)

        self._cancer_index = self._build_cancer_index(
            entries, cancer_types.case_sensitive, cancer_types.unmatched_codes
        )
        protected = cancer_types.fuzzy_protected
        self._cancer_index.protected = protected
        self._lineage_neutral = cancer_types.lineage_neutral
        self._not_members = cancer_types.not_members
        self._also_members = cancer_types.also_members
        self._site_index = _PhraseIndex(protected=protected)
        self._site_adjectives = frozenset(phrase.lower() for site in sites.values()
                                          for phrase in site.before_tumour)
        for site in sites.values():
            for phrase in (site.name, *site.synonyms, *site.subsites, *site.before_tumour):
                exact = phrase in site.case_sensitive
                owner = self._site_index.add(phrase, site.key, case_sensitive=exact)
                if owner is not None:
                    raise DataFileError(
                        f"sites.json: entry {site.key!r}: phrase {phrase!r} also names {owner!r}"
                    )
        self._site_index.freeze()
        self._histology_index = _PhraseIndex(protected=protected)
        for histology in histologies.values():
            for phrase in (histology.name, *histology.synonyms):
                exact = phrase in histology.case_sensitive
                owner = self._histology_index.add(phrase, histology.key, case_sensitive=exact)
                if owner is not None:
                    raise DataFileError(
                        f"histologies.json: entry {histology.key!r}: phrase {phrase!r} "
                        f"also names {owner!r}"
                    )
        self._histology_index.freeze()

        self._marker_index = _PhraseIndex()
        self._marker_lookup: dict[tuple[str, ...], str] = {}
        for marker in self._markers.values():
            for phrase in (marker.symbol, *marker.aliases):
                exact = phrase in marker_case.get(marker.symbol, set())
                owner = self._marker_index.add(phrase, marker.symbol, case_sensitive=exact)
                if owner is not None:
                    raise DataFileError(
                        f"biomarkers.json: entry {marker.symbol!r}: alias {phrase!r} "
                        f"also names {owner!r}"
                    )
                self._marker_lookup.setdefault(_phrase_tokens(phrase), marker.symbol)
        # Phrases that contain a marker alias but are not the marker ("middle pole", "CR or
        # PR"): indexed under a blank key, they win the leftmost-longest scan and are dropped.
        for phrase in biomarkers.not_markers:
            self._marker_index.add(phrase, _NOT_A_TERM)
        self._marker_index.freeze()

        self._combos: dict[tuple[str, str], str] = {}
        for code, entry in entries.items():
            if entry.site and entry.histology:
                pair = (entry.site, entry.histology)
                if pair in self._combos:
                    raise DataFileError(
                        f"cancer_types.json: entry {code!r}: site+histology {pair} already "
                        f"resolves to {self._combos[pair]!r}"
                    )
                self._combos[pair] = code
        # Codes sharing their histology with a code of another site (BLCA and UTUC).
        by_histology: dict[str, set[str]] = {}
        for (_site, histology), code in self._combos.items():
            by_histology.setdefault(histology, set()).add(code)
        self._twins = frozenset(code for codes in by_histology.values() if len(codes) > 1
                                for code in codes)

        # One alternation per data entry; find_alterations keeps the longest hit at each
        # start, so the order of entries and patterns in the data file does not matter.
        self._alterations = alterations

    # ----------------------------------------------------------------- construction helpers

    @staticmethod
    def _check_references(
        entries: dict[str, CancerTypeEntry],
        sites: dict[str, SiteEntry],
        histologies: dict[str, HistologyEntry],
    ) -> None:
        for code, entry in entries.items():
            if entry.site is not None and entry.site not in sites:
                raise DataFileError(
                    f"cancer_types.json: entry {code!r}: unknown site {entry.site!r}"
                )
            if entry.histology is not None and entry.histology not in histologies:
                raise DataFileError(
                    f"cancer_types.json: entry {code!r}: unknown histology {entry.histology!r}"
                )
        for key, site in sites.items():
            if site.default_code is not None and site.default_code not in entries:
                raise DataFileError(
                    f"sites.json: entry {key!r}: unknown default code {site.default_code!r}"
                )
        for key, histology in histologies.items():
            if histology.default_code is not None and histology.default_code not in entries:
                raise DataFileError(
                    f"histologies.json: entry {key!r}: unknown default code "
                    f"{histology.default_code!r}"
                )

    @staticmethod
    def _build_cancer_index(
        entries: dict[str, CancerTypeEntry],
        case_sensitive: dict[str, tuple[str, ...]],
        unmatched: frozenset[str],
    ) -> _PhraseIndex:
        index = _PhraseIndex()
        # Curated synonyms first: a clash between two of them is a data error.
        for code, entry in entries.items():
            exact = set(case_sensitive.get(code, ()))
            for phrase in entry.synonyms:
                owner = index.add(phrase, code, case_sensitive=phrase in exact)
                if owner is not None:
                    raise DataFileError(
                        f"cancer_types.json: entry {code!r}: synonym {phrase!r} also names "
                        f"{owner!r}"
                    )
        # Then official names. Tissue-level names ("Lung") are sites, not cancers, and some
        # names mean nothing alone ("IgG", "Adenocarcinoma, NOS" under unknown primary).
        # An official name shared by two nodes ("Yolk Sac Tumor") is ambiguous and dropped,
        # unless a curated synonym already decides it.
        curated = set(index.keys_by_phrase)
        claimed: dict[tuple[str, ...], str] = {}
        ambiguous: set[tuple[str, ...]] = set()
        for code, entry in entries.items():
            if code in unmatched or entry.parent in (None, ROOT) or len(entry.name) < 4:
                continue
            norm = _phrase_tokens(entry.name)
            if norm in curated:
                continue
            if norm in claimed and claimed[norm] != code:
                ambiguous.add(norm)
                continue
            claimed[norm] = code
        for norm, code in claimed.items():
            if norm not in ambiguous:
                index.add(entries[code].name, code)
        index.freeze()
        return index

    # ----------------------------------------------------------------- hierarchy

    def entry(self, code: str) -> CancerTypeEntry | None:
        """The entry for an OncoTree code, or None if the code is unknown."""
        return self._entries.get(code)

    def name(self, code: str) -> str:
        """The OncoTree name of a code (the code itself when unknown)."""
        entry = self._entries.get(code)
        return entry.name if entry else code

    def all_codes(self) -> set[str]:
        """Every known OncoTree code (tissue-level nodes included, the root excluded)."""
        return set(self._entries)

    def ancestors(self, code: str) -> list[str]:
        """Parent first, up to and including the tissue-level node, excluding TISSUE."""
        chain: list[str] = []
        entry = self._entries.get(code)
        while entry is not None and entry.parent and entry.parent != ROOT:
            chain.append(entry.parent)
            entry = self._entries.get(entry.parent)
        return chain

    def descendants(self, code: str) -> set[str]:
        """Every code below `code` (not including it)."""
        found: set[str] = set()
        stack = list(self._children.get(code, ()))
        while stack:
            child = stack.pop()
            if child not in found:
                found.add(child)
                stack.extend(self._children.get(child, ()))
        return found

    def is_a(self, code: str, ancestor: str) -> bool:
        """True when `code` is `ancestor` or lies below it, unless the data file says the
        broader code's population leaves it out (plasma cell myeloma is no non-Hodgkin
        lymphoma to a trial, though OncoTree files it there)."""
        if code == ancestor:
            return True
        chain = self.ancestors(code)
        if ancestor not in chain:
            # Filed beside the broader code but one of its population (inflammatory breast
            # cancer is an invasive breast carcinoma): the broader code and what is above it.
            return any(broader == ancestor or ancestor in self.ancestors(broader)
                       for below in (code, *chain)
                       for broader in self._also_members.get(below, ()))
        if self._not_members:
            for below in [code, *chain[:chain.index(ancestor)]]:
                if ancestor in self._not_members.get(below, ()):
                    return False
        return True

    def broader_members(self, code: str) -> frozenset[str]:
        """The broader codes `code` belongs to for trial populations though OncoTree files it
        beside them (cancer_types.json 'also_members')."""
        return self._also_members.get(code, frozenset())

    def is_heme(self, code: str) -> bool:
        """Haematological: OncoTree tissue Myeloid or Lymphoid, or a lymphoma/leukaemia filed
        under an organ (TLYM, Testicular Lymphoma, under Testis; MLYM under CNS/Brain)."""
        entry = self._entries.get(code)
        if entry is None:
            return False
        if entry.tissue in HEME_TISSUES:
            return True
        return bool(_HEME_WORDS.search(entry.main_type) or _HEME_WORDS.search(entry.name))

    def is_solid(self, code: str) -> bool:
        """A known code that is not haematological."""
        return code in self._entries and not self.is_heme(code)

    def tissue_code(self, code: str) -> str | None:
        """The tissue-level ancestor (LUNG for LUAD), or the code itself at that level."""
        if code not in self._entries:
            return None
        chain = [code, *self.ancestors(code)]
        return chain[-1]

    # ----------------------------------------------------------------- sites and histology

    def site(self, key: str) -> SiteEntry | None:
        """The site entry for a site key."""
        return self._sites.get(key)

    def histology(self, key: str) -> HistologyEntry | None:
        """The histology entry for a histology key."""
        return self._histologies.get(key)

    def site_of(self, code: str) -> str | None:
        """The primary-site key of a code: its own, else its nearest ancestor's, else the site
        whose default code is its tissue-level node."""
        for candidate in (code, *self.ancestors(code)):
            entry = self._entries.get(candidate)
            if entry is not None and entry.site:
                return entry.site
        return None

    def histology_of(self, code: str) -> str | None:
        """The histology key of a code or of its nearest ancestor that has one."""
        for candidate in (code, *self.ancestors(code)):
            entry = self._entries.get(candidate)
            if entry is not None and entry.histology:
                return entry.histology
        return None

    def has_site_twin(self, code: str) -> bool:
        """Whether another code has the same histology at another site ("urothelial
        carcinoma": BLCA of the bladder, UTUC of the upper tract)."""
        return code in self._twins

    def resolve(self, site: str | None, histology: str | None) -> str | None:
        """The most specific OncoTree code that a primary site and a histology support.

        Tries the pair, then broader histologies ("mucinous adenocarcinoma" -> "adenocarcinoma"
        -> "carcinoma") at each broader site ("sigmoid colon" -> "colon" -> "colorectum").
        A histology that decides the type alone ("melanoma", "glioblastoma") gives its default
        code; an unqualified "carcinoma" gives the site's default code. Anything else gives
        None: a site without a histology (an organ named in a report is not a cancer), or a
        histology the site has no type for ("adenocarcinoma" of the liver is a metastasis).
        """
        if histology is None or histology not in self._histologies:
            return None
        hist_chain = self._histology_chain(histology)
        if site is not None and site in self._sites:
            site_chain = self._site_chain(site)
            # The most specific histology wins over the most specific site: "mucinous
            # adenocarcinoma" of the sigmoid colon is MACR (colorectum), not COAD.
            # A carcinoma written for an organ whose carcinomas arise in one lining is read
            # at that lining too ("endometrioid adenocarcinoma" of the uterus -> UEC), for
            # the histology as written and the named ones it falls back to ("high-grade
            # serous carcinoma" -> "serous carcinoma": USC), never for a bare "carcinoma".
            lining = [other for key in site_chain for other in self._sites[key].linings]
            epithelial = bool(lining) and "carcinoma" in hist_chain
            for hist_key in hist_chain:
                sites_here = site_chain + lining if (
                    epithelial and (hist_key == histology or hist_key != "carcinoma")) \
                    else site_chain
                for site_key in sites_here:
                    code = self._combos.get((site_key, hist_key))
                    if code is not None:
                        return code
        for hist_key in hist_chain:
            default = self._histologies[hist_key].default_code
            if default is not None:
                return default
        # Only an unqualified carcinoma takes the site's default: a specific histology the
        # site has no type for ("adenocarcinoma" in a liver biopsy) is usually a metastasis.
        if site is not None and site in self._sites and histology == "carcinoma":
            for site_key in self._site_chain(site):
                default = self._sites[site_key].default_code
                if default is not None:
                    return default
        return None

    def _histology_chain(self, key: str) -> list[str]:
        chain = [key]
        while (broader := self._histologies[chain[-1]].broader) is not None:
            chain.append(broader)
        return chain

    def _site_chain(self, key: str) -> list[str]:
        chain = [key]
        while (parent := self._sites[chain[-1]].parent) is not None:
            chain.append(parent)
        return chain

    # ----------------------------------------------------------------- finding terms

    def find_cancer_types(self, text: str, *, fuzzy: bool = False) -> list[TermMatch]:
        """Cancer-type phrases in `text` (key = OncoTree code), case-insensitive except for
        acronyms that are also words ("ALL"), word-bounded, leftmost-longest, not
        overlapping. `fuzzy=True` also repairs OCR-damaged words (exact=False)."""
        return self._cancer_index.find(text, fuzzy)

    def cancer_codes(self, match: TermMatch) -> list[str]:
        """The codes a found cancer-type phrase names: its own, and for a lineage-neutral
        phrase ("acute lymphoblastic leukemia", no B- or T-) every lineage's."""
        return list(self._lineage_neutral.get(_phrase_tokens(match.text), (match.key,)))

    def cancer_type_phrases(self) -> Iterator[tuple[str, str]]:
        """(normalised phrase, code) for every case-insensitive cancer-type phrase; for
        coverage reports and benchmarks."""
        for norm, key in self._cancer_index.keys_by_phrase.items():
            yield " ".join(norm), key

    def rejoin_split_words(self, text: str, extra_words: frozenset[str] = frozenset()) -> str:
        """The text with words OCR split by one space rejoined where the halves are no
        vocabulary word and the whole is one ("uter ine primary" -> "uterine  primary"), or
        one of `extra_words` (the words of the context cues: "NOT identif ied"): the space
        moves to the end of the word, so the length and every offset stay the same."""
        if " " not in text:
            return text
        words = self._join_words
        if not self._may_rejoin(text, words, extra_words):
            return text
        out = None
        # Each candidate pair: a word, one space, a word of 3 letters or more (the second
        # read ahead, so that it can be the first of the next pair). The cheap tests come
        # first: most pairs fail on the joined word, which few texts hold.
        for pair in _SPACED_PAIR.finditer(text):
            head, tail = pair.group(1), pair.group(2)
            if len(head) + len(tail) < _REJOINED_MIN:
                continue
            joined = (head + tail).lower()
            if joined not in words and joined not in extra_words:
                continue
            lower_head = head.lower()
            if lower_head in words or lower_head in _COMMON_WORDS or lower_head in extra_words:
                continue
            if out is None:
                out = list(text)
            start = pair.start(1)
            out[start:start + len(joined) + 1] = list(head + tail + " ")
        return "".join(out) if out is not None else text

    @staticmethod
    def _may_rejoin(text: str, words: frozenset[str], extra_words: frozenset[str]) -> bool:
        """Whether a pair of `rejoin_split_words` joins into a word, by the pairs' words
        alone (the first two tests of rejoin_split_words): most notes hold no such pair.
        findall makes no match object per pair, and on an ASCII note (lowered first: the
        pattern reads ASCII letters of either case) no Python step runs per pair."""
        if text.isascii():
            joined: Iterator[str] = itertools.starmap(operator.add,
                                                      _SPACED_PAIR.findall(text.lower()))
        else:
            joined = ((head + tail).lower() for head, tail in _SPACED_PAIR.findall(text))
        return any(map(_long_words(words, extra_words).__contains__, joined))

    @functools.cached_property
    def _join_words(self) -> frozenset[str]:
        return frozenset(w for index in (self._cancer_index, self._site_index,
                                         self._histology_index) for w in index.words
                         if w.isalpha())

    def find_sites(self, text: str, *, fuzzy: bool = False) -> list[TermMatch]:
        """Primary-site phrases, sub-sites included ("right upper lobe" -> "lung")."""
        found = self._site_index.find(text, fuzzy)
        if not self._site_adjectives:
            return found
        return [m for m in found if m.text.lower() not in self._site_adjectives or
                _TUMOUR_AFTER.match(text, m.end)]

    def find_histologies(self, text: str, *, fuzzy: bool = False) -> list[TermMatch]:
        """Histology phrases ("SCC" -> "squamous cell carcinoma")."""
        return self._histology_index.find(text, fuzzy)

    # ----------------------------------------------------------------- biomarkers

    def biomarker(self, symbol: str) -> BiomarkerEntry | None:
        """The biomarker entry for a marker name as fixed in SPEC."""
        return self._markers.get(symbol)

    def marker_members(self, symbol: str) -> tuple[str, ...]:
        """The genes of a gene family ("NTRK" -> NTRK1, NTRK2, NTRK3); empty for a gene."""
        entry = self._markers.get(symbol)
        return entry.members if entry else ()

    def marker_families(self, symbol: str) -> tuple[str, ...]:
        """The gene families a gene belongs to ("NTRK1" -> NTRK)."""
        return tuple(m.symbol for m in self._markers.values() if symbol in m.members)

    def biomarker_symbol(self, alias: str) -> str | None:
        """The SPEC marker name for an alias ("HER2/neu" -> "HER2", "CD274" -> "PD-L1");
        None when unknown. Case does not matter here: the caller asks about a marker."""
        return self._marker_lookup.get(_phrase_tokens(alias))

    def mmr_proteins(self) -> set[str]:
        """The mismatch-repair proteins (MLH1, MSH2, MSH6, PMS2)."""
        return set(self._mmr_proteins)

    @functools.cached_property
    def _mmr_proteins(self) -> frozenset[str]:
        # Read once: every note asks, and the marker table has over a thousand entries.
        return frozenset(m.symbol for m in self._markers.values() if m.mmr_protein)

    def find_biomarkers(self, text: str) -> list[TermMatch]:
        """Marker-name mentions (key = SPEC marker name); not an ambiguous alias where its
        context makes it another word ("CT 12/2025 PR (-48%)" is a partial response)."""
        found = [m for m in self._marker_index.find(text) if m.key != _NOT_A_TERM]
        if not self._ambiguous:
            return found
        return [m for m in found if not self._another_word(text, m)]

    def _another_word(self, text: str, match: TermMatch) -> bool:
        rule = self._ambiguous.get(match.text)
        if rule is None:
            return False
        before, after = rule
        return bool(before.search(text[max(0, match.start - 40):match.start]) or
                    after.search(text[match.end:match.end + 40]))

    def status_of_alias(self, alias: str) -> str | None:
        """The result an alias itself states ("MSS" -> "negative", "MSI-H" and "dMMR" ->
        "positive"; for MSI and MMR positive means MSI-high / mismatch-repair deficient), or
        None for a plain marker name."""
        return self._status_aliases.get(_phrase_tokens(alias))

    # ----------------------------------------------------------------- alterations

    def find_alterations(self, text: str) -> list[TermMatch]:
        """Alteration mentions (key = canonical alteration, e.g. "V600E", "exon 19 deletion",
        "fusion", "amplification"), leftmost-longest and not overlapping."""
        low = text.lower()
        candidates: list[tuple[int, int, int, str]] = []
        order = 0
        for group in self._alterations.groups:
            order += 1
            if group.triggers and not any(t in low for t in group.triggers):
                continue
            for m in group.regex.finditer(text):
                if m.end() > m.start():
                    candidates.append((m.start(), m.start() - m.end(), order, group.name))
        for group in self._alterations.protein_groups:
            order += 1
            if group.triggers and not any(t in low for t in group.triggers):
                continue
            for m in group.regex.finditer(text):
                name = self._protein_change(m)
                if name is not None:
                    candidates.append((m.start(), m.start() - m.end(), order, name))
        candidates.sort()
        matches: list[TermMatch] = []
        last_end = -1
        for start, negative_length, _order, name in candidates:
            end = start - negative_length
            if start < last_end:
                continue
            matches.append(TermMatch(name, start, end, text[start:end], True))
            last_end = end
        return matches

    def _protein_change(self, m: re.Match[str]) -> str | None:
        ref, pos, alt = m.group("ref"), m.group("pos"), m.group("alt")
        ref_one = self._amino_acid(ref)
        alt_one = self._amino_acid(alt) if alt else None
        if ref_one is None or alt_one is None:
            return None
        return f"{ref_one}{pos}{alt_one}"

    def _amino_acid(self, text: str) -> str | None:
        low = text.lower()
        if low in ("*", "ter"):
            return "*"
        if low == "x":  # "any residue" in G719X (also old stop notation): kept as written
            return "X"
        if low == "fs":
            return "fs"
        if len(text) == 1:
            return text.upper() if text.isalpha() else None
        return self._alterations.amino_acids.get(low)

    def normalise_alteration(self, text: str) -> str | None:
        """The canonical alteration named in `text` ("p.Val600Glu" -> "V600E", "amplified"
        -> "amplification", "EML4-ALK" -> "fusion"); the first one when several, None when
        there is none."""
        matches = self.find_alterations(text)
        return matches[0].key if matches else None


# --------------------------------------------------------------------------- entry points

DATA_FILES = ("cancer_types.json", "sites.json", "histologies.json", "biomarkers.json",
              "alterations.json")


def load_vocabulary(
    data_dir: Path | str | None = None, oncotree_json: Path | str | None = None
) -> Vocabulary:
    """Load the vocabulary from `data_dir` (default: the package data) and, when given, merge
    the official OncoTree JSON."""
    if data_dir is None:
        base: Any = resources.files("trialmatch.nlp") / "data"
    else:
        base = Path(data_dir)
    nodes = load_oncotree_json(oncotree_json) if oncotree_json else None
    return Vocabulary(
        load_cancer_types(base / "cancer_types.json"),
        load_sites(base / "sites.json"),
        load_histologies(base / "histologies.json"),
        load_biomarkers(base / "biomarkers.json"),
        load_alterations(base / "alterations.json"),
        nodes,
    )


@functools.cache
def get_vocabulary() -> Vocabulary:
    """The package vocabulary, loaded once per process; merged with the official OncoTree
    JSON when `$TRIALMATCH_ONCOTREE` names one. Built indexes are kept in the user cache
    (`trialmatch.cache`), keyed by the data files and this module's source."""
    from trialmatch.cache import load_or_build

    oncotree = os.environ.get(ONCOTREE_ENV) or None
    try:
        sources = [Path(__file__).read_bytes()]
        base = resources.files("trialmatch.nlp") / "data"
        sources += [(base / name).read_bytes() for name in DATA_FILES]
        if oncotree:
            sources += [os.fsencode(oncotree), Path(oncotree).read_bytes()]
    except OSError:
        return load_vocabulary(oncotree_json=oncotree)  # which names the file at fault
    return load_or_build("vocabulary", sources,
                         lambda: load_vocabulary(oncotree_json=oncotree), Vocabulary)
