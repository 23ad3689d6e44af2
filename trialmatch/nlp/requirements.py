"""Per-criterion requirement parsing: the facts about the patient a criterion states.

`parse_criterion(text, kind)` runs every per-kind parser (requirements_basic, _biomarker,
_therapy, _cancer) over one criterion and returns the requirements in text order, each with
its span. Facts are stated positively; the criterion's kind says whether they must hold
(inclusion) or must not (exclusion). Explicit negation inside a criterion is carried in the
params: `received: false` (prior therapy), biomarker `status: "negative"`, prior_lines
`max: 0`, and for kinds without a polarity field `"negated": true` ("No CNS metastases"
under inclusion). `"allowed": true` marks a permission ("stable brain metastases are
allowed"), which rules nobody out. See docs/requirements.md.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from trialmatch.models import Requirement
from trialmatch.nlp import vocab as vocab_module
from trialmatch.nlp.conditions import (
    condition_cancer_types,
    criteria_conditions,
    criteria_grade_bounds,
)
from trialmatch.nlp.requirements_basic import (
    find_age,
    find_cns_metastases,
    find_extent,
    find_gleason,
    find_infection,
    find_measurable_disease,
    find_organ_function,
    find_other_malignancy,
    find_performance_status,
    find_pregnancy,
    find_procedural,
    find_sex,
    find_stage,
    names_new_diagnosis,
)
from trialmatch.nlp.requirements_biomarker import find_biomarker_requirements
from trialmatch.nlp.requirements_cancer import find_cancer_requirements, restrict_for_exclusion
from trialmatch.nlp.requirements_common import PARENTHESIS, Folded, blank, is_allowance, words_of
from trialmatch.nlp.requirements_therapy import (
    find_prior_therapy,
    find_regimen_option,
    names_therapy,
)
from trialmatch.nlp.requirements_tnm import find_tnm_categories, find_tnm_extent
from trialmatch.nlp.vocab import get_vocabulary
from trialmatch.regex_cache import re_compile

REQUIREMENT_KINDS = (
    "cancer_type", "histology", "primary_site", "stage", "extent", "measurable_disease",
    "biomarker", "age", "sex", "performance_status", "prior_therapy", "prior_lines",
    "cns_metastases", "organ_function", "pregnancy", "infection", "other_malignancy",
    "procedural", "condition", "regimen_option", "gleason", "t_category", "n_category",
)

# Kinds whose alternatives can be pooled when a lead-in asks for "one of the following".
_CONTEXT_SEPARATOR = "\n"


# Cheap gates: a parser runs only when one of its trigger words is present, which keeps the
# parse rate in the hundreds of trials per second (most criteria trigger few kinds). Each kind
# has substrings (found anywhere: "therap" in "chemotherapy") and whole words ("hb", "ps").
_TRIGGERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "stage": (("stage",), ()),
    "gleason": (("gleason", "grade group", "isup", "low-grade", "low grade"), ()),
    "extent": (("metasta", "advanced", "resect", "operable", "recurr", "relaps", "early",
                "newly", "recently", "new diag", "curative", "incurable", "locali", "confined",
                "amenable", "candidate", "distant", "refractory", "surgery", "ectomy",
                "whipple", "definitive", "mucosal", "muscle", "brachy", "local therap"), ()),
    "measurable": (("measurable",), ()),
    "age": (("year", "adult"), ("age", "aged", "ages", "old")),
    "sex": (("female", "women", "woman"), ("male", "males", "men", "man")),
    "performance": (("ecog", "performance", "karnofsky", "lansky", "zubrod"),
                    ("kps", "lps", "ps", "who")),
    "organ": (("neutrophil", "granulocyte", "platelet", "thrombocyte", "globin",
               "white blood", "leukocyte", "leucocyte", "creatinine", "glomerular",
               "bilirubin", "transaminase", "aminotransferase", "liver enzymes", "aspartate",
               "alanine"),
              ("anc", "agc", "plt", "hgb", "hb", "wbc", "ast", "alt", "sgot", "sgpt", "crcl",
               "clcr", "gfr", "egfr", "tbil", "tbili")),
    "infection": (("hiv", "immunodeficiency", "hepatitis", "hbv", "hcv", "hbsag"),
                  ("aids", "hep")),
    "pregnancy": (("pregnan", "breast", "lactat", "nursing"), ()),
    "cns": (("brain", "central nervous", "cranial", "cerebr", "mening", "spinal"), ("cns",)),
    "malignancy": (("malignan", "cancer", "neoplas", "tumor", "tumour", "primar"), ()),
    "therapy": (("prior", "previous", "receiv", "treat", "therap", "expos", "refractory",
                 "resistant", "progress", "fail", "relaps", "recurren", "intoleran", "history",
                 "underw", "undergone", "complet", "after", "following", "naive", "naïve",
                 "experienced", "administ", "use of", "given", "regimen", "respon",
                 "sensitive"),
                ("had", "line", "lines")),
    "biomarker": (("msi", "mmr", "her2", "her-2", "hormone", "triple", "tnbc", "brca", "ntrk",
                   "microsatellite", "mismatch", "mutation", "wild", "positive", "negative",
                   "express", "amplif", "fusion", "rearrang", "alteration"),
                  ("mss", "tmb", "hr", "ras")),
    "cancer": (("solid", "hematolog", "haematolog", "blood", "lymphoid", "myeloid", "squamous"),
               ("any", "all")),
}
_WORD = re_compile(r"[^\W_]+")
_MENOPAUSE = re_compile(r"(?i)menopaus")
# Where a T or N category or a nodal status may be written.
_TN_GATE = re_compile(r"(?<![A-Za-z])[cpy]{0,2}[TN](?:is|[0-4+])|(?i:\bnod(?:e|al))")
# "NOTE: ..." lines explain or qualify the criterion above them (which histologies were left
# out and why, what counts as a line); read as requirements they state the opposite.
_NOTE = re_compile(r"\W*notes?\s*[:\-]", re.IGNORECASE)
_DIGIT = re_compile(r"\d")
# "either in the adjuvant setting or for advanced disease": settings of a therapy, listed.
_SETTING_LIST = re_compile(r"\b(?:neo-?)?adjuvant(?:\s+setting)?\s*(?:,|or|and|and/or)\s+"
                           r"(?:for|in)\s+(?:the\s+)?$", re.IGNORECASE)
_THERAPY_SETTING = re_compile(
    r"\b(?:therap(?:y|ies)|treatments?|regimens?|lines?|chemotherap(?:y|ies)|chemoradiation|"
    r"chemoradiotherapy|radiotherapy|radiation|surgery|resection|agents?|inhibitors?|"
    r"antibod(?:y|ies)|TKIs?|\w+mab|\w+nib|na[iï]ve|untreated)\)?\s+"
    r"(?:(?:with|of)\s+(?:an?\s+|the\s+)?[\w/-]+\s+)?(?:(?:given|received|"
    r"administered|approved)\s+)?(?:(?:but|and)\s+)?(?:not\s+)?(?:for|in)\s+(?:the\s+)?(?:treatment\s+of\s+)?(?:(?:their|"
    r"his|her|the)\s+)?(?:(?:[\w-]+,?\s+){1,4}(?:or|and|and/or)\s+)?(?:[\w-]+\s+)?$",
    re.IGNORECASE)


def _trie_pattern(parts: list[str]) -> str:
    """A regular expression matching any of `parts`, written as a trie ("recurr(?:en)?"), so
    that each position is tried against the few parts starting with its letter; greedy, so
    the longest part wins where several start at the same place."""
    trie: dict[str, dict] = {}
    for part in parts:
        node = trie
        for char in part:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict[str, dict]) -> str:
        ends = "" in node
        branches = [re.escape(char) + pattern(child)
                    for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 and not ends else f"(?:{'|'.join(branches)})"
        return body + ("?" if ends else "")

    return pattern(trie)


def _trigger_index() -> tuple[re.Pattern[str], dict[str, frozenset[str]]]:
    """One pattern finding every trigger substring at every position (a look-ahead, so that
    overlapping ones are all seen), and the kinds each found substring triggers: those of
    itself and of every trigger substring it starts with ("recurren" also holds "recurr")."""
    kinds_of_part: dict[str, set[str]] = {}
    for kind, (parts, _) in _TRIGGERS.items():
        for part in parts:
            kinds_of_part.setdefault(part, set()).add(kind)
    kinds = {part: frozenset().union(*(k for other, k in kinds_of_part.items()
                                       if part.startswith(other)))
             for part in kinds_of_part}
    return re_compile(f"(?=({_trie_pattern(sorted(kinds_of_part))}))"), kinds


_TRIGGER_PATTERN, _TRIGGER_KINDS = _trigger_index()
_TRIGGER_WHOLE = {kind: frozenset(whole) for kind, (_, whole) in _TRIGGERS.items()}
# Substrings that are not all letters and digits ("white blood", "her-2"): the others can
# only occur inside one word of the criterion, and are looked for word by word.
_TRIGGER_SPANNING: dict[str, frozenset[str]] = {}
for _kind, (_parts, _) in _TRIGGERS.items():
    for _part in _parts:
        if not _WORD.fullmatch(_part):
            _TRIGGER_SPANNING[_part] = _TRIGGER_SPANNING.get(_part, frozenset()) | {_kind}


@lru_cache(maxsize=65536)
def _kinds_in_word(word: str) -> frozenset[str]:
    """The kinds whose substrings occur in one word (criteria share most of their words:
    each is searched once, where searching every criterion whole took twice as long)."""
    found: frozenset[str] = frozenset()
    for part in _TRIGGER_PATTERN.findall(word):
        found |= _TRIGGER_KINDS[part]
    return found


def _trigger_test(lower: str, words: set[str]):
    """A test `triggered(kind)` for one criterion: one of the kind's substrings occurs in
    `lower`, or one of its whole words is among `words` (the words of `lower`)."""
    found: set[str] = set()
    for word in words:
        kinds = _kinds_in_word(word)
        if kinds:
            found |= kinds
    for part, kinds in _TRIGGER_SPANNING.items():
        if part in lower:
            found |= kinds
    # The kinds a whole word triggers, all at once (13 set tests, where each kind asked for
    # its own made a call and a test, ~15 times a criterion).
    found.update(kind for kind, whole in _TRIGGER_WHOLE.items() if not words.isdisjoint(whole))
    return found.__contains__


# Words too common in criteria to file a phrase under (any word of a phrase would do; a
# common one only makes more phrases to check).
_COMMON_WORDS = frozenset((
    "and", "with", "the", "for", "from", "that", "other", "than", "type", "disease", "cancer",
    "carcinoma", "tumor", "tumors", "therapy", "status", "during", "prior", "patients",
    "malignant", "malignancy", "cell", "cells", "stage", "primary", "metastatic", "advanced",
    "breast", "lung", "upper", "lower", "left", "right", "high", "low", "grade", "blood", "oral",
    "skin", "history", "treatment", "positive", "negative", "known", "must", "have", "been"))


class _PhraseGate:
    """One index's phrases, each as the set of words that must all occur for it to match
    (its words and the first word it is filed under). A phrase is filed under its rarest
    word, so a criterion is checked against few phrases ("malignant", "carcinoma" and
    "cancer" start hundreds of phrases each, but are the rarest word of few)."""

    def __init__(self, by_first: dict[str, list[frozenset[str]]]) -> None:
        needed = {phrase | ({first} if _WORD.fullmatch(first) else set())
                  for first, bucket in by_first.items() for phrase in bucket}
        frequency: dict[str, int] = {}
        for words in needed:
            for word in words:
                frequency[word] = frequency.get(word, 0) + 1
        self.singles = frozenset(next(iter(words)) for words in needed if len(words) == 1)
        self.by_rarest: dict[str, list[frozenset[str]]] = {}
        for words in sorted(needed, key=sorted):
            if len(words) > 1:
                rarest = min(sorted(words), key=lambda w: (w in _COMMON_WORDS or len(w) <= 3,
                                                           frequency[w]))
                self.by_rarest.setdefault(rarest, []).append(words)
        self.rarest = frozenset(self.by_rarest)

    def may_match(self, tokens: set[str]) -> bool:
        """Could some phrase occur in a text with these tokens?"""
        if not self.singles.isdisjoint(tokens):
            return True
        by_rarest = self.by_rarest
        for word in self.rarest.intersection(tokens):
            for words in by_rarest[word]:
                if words <= tokens:
                    return True
        return False


class _Gates:
    """The vocabulary's phrases as token sets, to skip phrase scans that cannot match: a scan
    runs only when every word of some phrase occurs in the criterion (in any order)."""

    def __init__(self) -> None:
        vocabulary = get_vocabulary()
        self.normalise = getattr(vocab_module, "_normalise_word", str.lower)

        def phrases(index_names: tuple[str, ...]) -> _PhraseGate | None:
            out: dict[str, list[frozenset[str]]] = {}
            for name in index_names:
                buckets = getattr(getattr(vocabulary, name, None), "by_first", None)
                if buckets is None:
                    return None  # a vocabulary without the index: never skip
                try:
                    for first, bucket in buckets.items():
                        for entry in bucket:
                            # Punctuation tokens ("Ph+", "t(9;22)") are no words of a text:
                            # the phrase needs its other words only.
                            words = frozenset(self.normalise(t) for t in _phrase_words(entry)
                                              if _WORD.fullmatch(t))
                            if not words:
                                return None  # a phrase of punctuation alone: never skip
                            out.setdefault(first, []).append(words)
                except (TypeError, ValueError, IndexError, StopIteration):
                    return None  # the index changed shape: never skip rather than guess
            return _PhraseGate(out)

        self.cancer_types = phrases(("_cancer_index",))
        self.histologies = phrases(("_histology_index",))
        self.sites = phrases(("_site_index",))
        self.markers = phrases(("_marker_index",))

    def tokens(self, lower: str, words: set[str] | None = None) -> set[str]:
        words = set(words_of(lower)) if words is None else words
        # The scans fold plurals onto the singular ("melanomas", "carcinomas"): so must the
        # gate, or it skips a scan that would have matched.
        singulars = {w[:-1] for w in words if len(w) >= 5 and w[-1] == "s"}
        # Only British spellings ("tumour", "oesophageal") need the vocabulary's normaliser.
        if "ae" not in lower and "oe" not in lower and "our" not in lower:
            return words | singulars if singulars else words  # (callers never change it)
        return {self.normalise(w) if ("ae" in w or "oe" in w or "our" in w) else w
                for w in words | singulars}

    @staticmethod
    def may_match(gate: _PhraseGate | None, tokens: set[str]) -> bool:
        return True if gate is None else gate.may_match(tokens)


def _phrase_words(entry: object) -> list[str]:
    """The words of an index entry: its first field that is a sequence of strings."""
    if isinstance(entry, (list, tuple)) and entry and all(isinstance(t, str) for t in entry):
        return list(entry)
    return next(list(field) for field in entry  # type: ignore[attr-defined]
                if isinstance(field, (list, tuple)) and field
                and all(isinstance(t, str) for t in field))


@lru_cache(maxsize=1)
def _gates() -> _Gates:
    return _Gates()


def parse_criterion(text: str, kind: str) -> list[Requirement]:
    """The requirements one criterion states, in text order, spans within `text`.

    `kind` is "inclusion" or "exclusion" (it changes how a few phrasings read, e.g. what an
    exclusion of "brain metastases unless stable" rules out). A criterion stating none of
    the known kinds gives an empty list (shown as "other" by callers).
    """
    if not text or not text.strip() or _NOTE.match(text):
        return []
    # Boilerplate criteria repeat across trials: parse each (text, kind) once per process.
    return [Requirement(r.kind, _copy(r.params), r.text, r.start, r.end)
            for r in _parse_cached(text, kind)]


def _copy(value):
    """A deep copy of JSON-like params (dicts, lists, scalars), faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


_PROGRESSED_BEFORE = re_compile(
    r"\b(?:progress\w*|PD|fail\w*|refractory|resistant|relaps\w*|recurr\w*)\s+(?:on|after|"
    r"through|despite|while\s+(?:on|receiving)|during|to|following)\s+"
    r"(?:[\w/+()-]+\s+){0,6}?$", re.IGNORECASE)
_PROGRESSION_DENIED = re_compile(r"\b(?:no|not|without|never)\b[^.;:]{0,25}$", re.IGNORECASE)


def _progressed_before(text: str, start: int) -> bool:
    """Do the words before a therapy say the disease progressed on it ("progression to
    previous treatment with docetaxel"), not that it did not ("without progression on")?"""
    found = _PROGRESSED_BEFORE.search(text, max(0, start - 80), start)
    return found is not None and not _PROGRESSION_DENIED.search(
        text, max(0, found.start() - 30), found.start() + 1)


@lru_cache(maxsize=20000)
def _parse_cached(text: str, kind: str) -> tuple[Requirement, ...]:
    if "(" in text and _GLOSS.search(text):
        # "M0 (M describes distant metastasis)": a gloss defines a word and requires
        # nothing (blanked, same length, so spans hold)
        blank = _GLOSS.sub(lambda m: " " * len(m.group(0)), text)
        return tuple(Requirement(r.kind, r.params, text[r.start:r.end], r.start, r.end)
                     for r in _parse(blank, kind))
    return tuple(_parse(text, kind))


_GLOSS = re_compile(r"\([^()]{0,30}\b(?:describes?|denotes?|refers?\s+to|stands\s+for)\b[^()]*\)",
                    re.IGNORECASE)


def clear_parse_cache() -> None:
    """Forget the criteria parsed so far in this process (for benchmarks that time a parse
    more than once)."""
    _parse_cached.cache_clear()
    _kinds_in_word.cache_clear()


_CONDITIONAL_ASIDE = re_compile(
    r"\([^()]{0,120}?\b(?:in|for|if)\s+(?:[\w/+-]+\s+){0,4}?(?:patients|participants|subjects|"
    r"cases|disease|tumou?rs|cancers?)\b[^()]{0,60}\)|"
    # "... in patients to receive trastuzumab with eribulin (HER2-positive)"
    r"\bin\s+(?:patients|participants|subjects)\s+(?:who\s+(?:are|will)\s+)?(?:be\s+)?(?:to\s+)?"
    r"(?:receiv\w*|treated|getting|scheduled)\b[^.;()]{0,60}\([^()]{1,40}\)", re.IGNORECASE)


_MAY_BE = re_compile(r"\b(?:may|can)\s+(?:[^.;]{0,120}?\s)?be\s+(?:treated|enrolled|included|"
                     r"eligible|allowed|permitted|considered)\b", re.IGNORECASE)
# The subgroup a rule is for, written after the rule: "... for patients with triple
# negative breast cancer", "... in case of ER+ and/or PgR positive tumors", "... in
# HER2-positive patients".
_SUBGROUP_AFTER = re_compile(
    r"(?<=[\w%)])\s+(?:for\s+(?:patients?|participants?|subjects?|those|women|men)\s+(?:with|who\s+"
    r"have)|in\s+(?:the\s+)?case\s+of)\s+[^,;.()]{1,60}", re.IGNORECASE)
# A bracket defining a result: "(Positive = 3+ by IHC or ...)", "(HER2-negative: IHC 0 or
# 1+ ...)", "(positivity defined as ...)".
_DEFINITION_ASIDE = re_compile(
    r"\(\s*(?:[\w/-]{1,12}[\s-]+)?(?:positive|negative|positivity|negativity)\s*(?:=|:|is\s+"
    r"defined\s+as|defined\s+as|means)[^()]*(?:\([^()]*\)[^()]*)*(?:\)|$)", re.IGNORECASE)


_CANCER_WORD = re_compile(r"cancer|carcinom|malignan|tumou?r|neoplas|metasta|sarcom|"
                          r"lymphom|leuk|myelom|melanom", re.IGNORECASE)
_QUALIFIED_AFTER = re_compile(r"(?:\s*\([^()]{0,30}\))?\s+(?:with|who|whose|having|that|"
                             r"diagnosed|undergoing|receiving|on)\b", re.IGNORECASE)
# An exclusion heading over its items: "Prior anti-cancer therapy:", "Cardiac disease:".
_TOPIC_HEADING = re_compile(r"^\s*(?:[\w/()-]+\s+){0,4}[\w/()-]+\s*:\s*$")


def _parse(text: str, kind: str) -> list[Requirement]:
    if kind == "exclusion" and _TOPIC_HEADING.match(text):
        # The items below it are the exclusions; the topic excludes nobody by itself.
        return []
    if kind == "exclusion" and _NO_PRIOR_LEAD.match(text):
        # "No prior chemotherapy or radiotherapy", "No prior PARP inhibitor for any
        # indication" under exclusions: an inclusion restated; what it names excludes.
        return [Requirement(r.kind, {**r.params, "received": True}, r.text, r.start, r.end)
                if r.kind == "prior_therapy" and r.params.get("received") is False else r
                for r in _parse_body(text, kind)]
    return _parse_body(text, kind)


# An exclusion that opens by denying a treatment: "No prior ...", "No patients who have been
# treated ...", "Patients must have had no prior ...".
_NO_PRIOR_LEAD = re_compile(r"^\s*(?:no\s+(?:prior|previous|patients?\s+who)|patients?\s+(?:must|"
                            r"should)\s+have\s+(?:had\s+)?no\s+(?:prior|previous))\b",
                            re.IGNORECASE)


def _parse_body(text: str, kind: str) -> list[Requirement]:
    if kind == "exclusion" and ("not " in text or "NOT " in text or "Not " in text):
        restated = _EXCLUSION_MODAL.sub(lambda m: m.group(1) + " " * len(m.group(2)), text)
        if restated != text:
            # "Patient must not have any evidence of distant metastasis" under exclusion
            # criteria restates the exclusion: what it names excludes (the modal's "not" is
            # no negation of it). Same length, so every span stays valid for `text`.
            return [Requirement(r.kind, r.params, text[r.start:r.end], r.start, r.end)
                    for r in _parse_words(restated, kind)]
    return _parse_words(text, kind)


# "must not have", "should not be", "may not have received": the wording of an exclusion,
# not a negation inside it ("must not exceed", "must not be eligible for" keep their sense).
_EXCLUSION_MODAL = re_compile(
    r"\b((?:must|should|shall|may)\s+)(not)\b(?=\s+(?:have|has|had|be|been|"
    r"show|present|carry|harbou?r|demonstrate)\b)(?!\s+be\s+(?:eligible|allowed|permitted|"
    r"candidates?|able|willing|amenable|suitable)\b)", re.IGNORECASE)


def _markers_of_some_alternatives(text: str, disease: Requirement,
                                  markers: list[Requirement]) -> list[Requirement]:
    """The biomarker requirements inside a list of alternative diagnoses written each with
    its own markers ("grade 2 astrocytoma, IDH-mutant, or grade 2 oligodendroglioma,
    IDH-mutant and 1p/19q-codeleted") that follow some diagnoses but not all. Only where the
    first diagnosis is itself followed by a marker ("astrocytoma, IDH-mutant"): markers that
    come after the whole list ("IDC or ILC, with positive estrogen receptors") or before a
    diagnosis ("triple-negative breast cancer") qualify every alternative."""
    if not markers:
        return []
    vocabulary = get_vocabulary()
    sentence_end = re.search(r"[.;](?:\s|$)", text[disease.start:])
    last = disease.start + sentence_end.start() if sentence_end else disease.end
    found = sorted((m.start, m.end) for m in vocabulary.find_cancer_types(text)
                   if disease.start <= m.start < min(disease.end, last))
    if len(found) < 2:
        return []
    first_end = found[0][1]
    if not any(re.fullmatch(r"[\s,]*", text[first_end:req.start]) for req in markers):
        return []
    owners: dict[str, set[int]] = {}
    for req in markers:
        owner = max((i for i, (start, _) in enumerate(found) if start < req.start),
                    default=None)
        if owner is None:
            continue
        # A requirement reaching past later diagnoses ("IDH-mutant, or ... oligodendroglioma,
        # IDH-mutant", merged into one) belongs to each of them too.
        spanned = {i for i, (start, _) in enumerate(found) if owner <= i and start < req.end}
        for item in req.params.get("any_of") or []:
            if isinstance(item, dict):
                owners.setdefault(str(item.get("marker")), set()).update(spanned)
    every = set(range(len(found)))
    return [req for req in markers
            if any(owners.get(str(item.get("marker")), every) != every
                   for item in req.params.get("any_of") or [] if isinstance(item, dict))]


_CUMULATIVE_DOSE = re_compile(
    r"\bcumulative\s+(?:\w+\s+)?(?:doses?|exposure)\b|mg\s*/\s*m\s*\^?\s*(?:2|²)\s+or\s+more|"
    r"(?:≥|>=|>|\bexceed\w*|\breaching)\s*\d{3,4}\s*mg\s*/\s*m", re.IGNORECASE)


def _parse_words(text: str, kind: str) -> list[Requirement]:
    lower = text.lower()
    gates = _gates()
    words = set(words_of(lower))
    tokens = gates.tokens(lower, words)
    requirements: list[Requirement] = []
    triggered = _trigger_test(lower, words)

    other_malignancy = find_other_malignancy(text) if triggered("malignancy") else []
    requirements += other_malignancy
    if not other_malignancy:
        # Each vocabulary scan runs only when its gate lets it; a scope word ("solid",
        # "any", "hematologic") needs the finder even with no scan at all.
        scans = {name for name, index in (("cancer", gates.cancer_types),
                                          ("histology", gates.histologies),
                                          ("site", gates.sites))
                 if gates.may_match(index, tokens)}
        if scans or triggered("cancer"):
            requirements += find_cancer_requirements(text, kind, scans=scans)
    if triggered("stage"):
        # (not a stage that an "other malignancy" rule lets in after it: "... or stage I
        # malignancies are allowed" is the other cancer's)
        first_other = min((r.start for r in other_malignancy), default=len(text))
        requirements += [r for r in find_stage(text) if r.start < first_other]
    if triggered("gleason") and not other_malignancy:
        # (not a low-risk prostate cancer an "other malignancy" rule lets in)
        requirements += find_gleason(text)
    if triggered("extent"):
        requirements += find_extent(text, kind)
    if "M0" in text or "M1" in text:
        requirements += find_tnm_extent(text, kind)  # "T1-2N0M0", "cT1-3 cN0-1 M0 disease"
    if _TN_GATE.search(text):
        # "T1-2 N0", "pN1-3", "node-positive" (not an other malignancy's "T1a N0")
        first_other = min((r.start for r in other_malignancy), default=len(text))
        requirements += [r for r in find_tnm_categories(text, kind) if r.start < first_other
                         and not is_allowance(text, r.start, r.end)]
    if triggered("measurable"):
        requirements += find_measurable_disease(text)
    if triggered("biomarker") or gates.may_match(gates.markers, tokens):
        requirements += find_biomarker_requirements(text, kind)
    has_digit = _DIGIT.search(text) is not None
    if has_digit and triggered("age"):
        requirements += find_age(text)
    if triggered("sex"):
        sexes = find_sex(text)
        if kind == "exclusion":
            # "Men with a history of Peyronie's disease": whom the excluded condition is
            # about; being a man excludes nobody.
            # ("Male patients with breast cancer" keeps it: the cancer is the trial's.)
            sexes = [r for r in sexes if (not _QUALIFIED_AFTER.match(text, r.end) or
                     _CANCER_WORD.search(text, r.end)) and not _MENOPAUSE.search(r.text)]
            # ("Postmenopausal women" excludes a menopausal state, not women.)
        requirements += sexes
    if has_digit and triggered("performance"):
        requirements += find_performance_status(text)
    if triggered("therapy"):
        requirements += find_prior_therapy(text, kind)
        if "appropriate" in lower or "suitable" in lower or "reasonable" in lower:
            requirements += find_regimen_option(text, kind)
    if triggered("cns"):
        requirements += find_cns_metastases(text, kind)
    if (has_digit or "normal" in lower) and triggered("organ"):
        requirements += find_organ_function(text)
    if triggered("pregnancy"):
        requirements += find_pregnancy(text)
    if triggered("infection"):
        requirements += find_infection(text)
    # "Peripheral neuropathy >= grade 2", "Grade 0 or 1": a graded condition's bound
    requirements += [Requirement("condition", params, text[start:end], start, end)
                     for _, params, start, end in criteria_grade_bounds(text, kind)]
    if kind == "exclusion":
        # "Patients who have undergone neoadjuvant systemic therapy": a condition read in
        # exclusions (population_conditions.json, 'in_exclusions'); it stands for the therapy
        # words it spans ("systemic therapy" is no history of any line here).
        for name, start, end in criteria_conditions(text, kind):
            requirements = [r for r in requirements if not (
                r.kind in ("prior_lines", "prior_therapy") and start <= r.start < end + 5)]
            requirements.append(Requirement("condition", {"condition": name},
                                            text[start:end], start, end))
    if kind == "inclusion":
        # "... de novo or recurrent and castration-sensitive": a population condition stated
        # in a criterion (population_conditions.json, 'in_criteria'); not where the criterion
        # names other cancers beside the condition's ("metastatic RCC or UC, or for mCRPC":
        # one disease's alternative).
        stated = criteria_conditions(text)
        if stated:
            named = [code for r in requirements if r.kind == "cancer_type"
                     for code in r.params.get("codes") or []]
            is_a = get_vocabulary().is_a
            for name, start, end in stated:
                only_for = condition_cancer_types(name)
                if only_for and any(not any(is_a(code, c) for c in only_for)
                                    for code in named):
                    continue
                requirements.append(Requirement("condition", {"condition": name},
                                                text[start:end], start, end))
    if not requirements:
        # Consent, willingness, headings, the investigator's judgement: only where the
        # criterion states nothing about the patient's disease or health.
        requirements += find_procedural(text, kind)
    for disease in [r for r in requirements if r.kind == "cancer_type"
                    and len(r.params.get("codes") or []) > 1]:
        # "DLBCL NOS, high-grade B-cell lymphoma with MYC and BCL2 rearrangements, PMBCL, FL",
        # "grade 2 astrocytoma, IDH-mutant, or oligodendroglioma, IDH-mutant and
        # 1p/19q-codeleted": markers inside a list of alternative diagnoses qualify only the
        # diagnoses they follow. A marker stays when every alternative has it ("MTC with a RET
        # mutation or RET fusion-positive thyroid cancer").
        inside = [r for r in requirements if r.kind == "biomarker"
                  and disease.start <= r.start and r.end <= disease.end]
        if len(disease.params["codes"]) > 2 and len(inside) < len(disease.params["codes"]):
            partial = inside
        else:
            partial = _markers_of_some_alternatives(text, disease, inside)
        requirements = [r for r in requirements if r not in partial]
    # "de novo or recurrent stage IV", "recurrent or newly diagnosed": either will do, so
    # recurrence is no requirement.
    requirements = [r for r in requirements if not (
        r.kind == "extent" and r.params.get("extent") == "recurrent"
        and (_NEW_OR_BEFORE.search(text[max(0, r.start - 30):r.start])
             or _OR_NEW_AFTER.match(text[r.end:r.end + 30])))]
    if any(r.kind in ("stage", "extent") for r in requirements) and _SAMPLE_GATE.search(lower):
        # "a tissue sample of the primary or metastatic site", "FFPE block collected during
        # advanced/metastatic disease": the disease words say where the sample comes from.
        requirements = [r for r in requirements if r.kind not in ("stage", "extent")
                        or not _from_a_sample(text, r.start)]
    has_therapy = any(r.kind in ("prior_therapy", "prior_lines") for r in requirements)
    if has_therapy or (any(r.kind in ("stage", "extent") for r in requirements)
                       and triggered("therapy") and _PERMITTED_F.search(text)):
        # "one line of chemotherapy for recurrent or metastatic disease", "after adjuvant
        # chemotherapy for stage III disease": the stage or extent says which treatment
        # counts; it is not a fact demanded of the patient's disease now.
        requirements = _drop_therapy_settings(requirements, text)
    elif kind == "exclusion" and triggered("therapy") and _COURSE_WORDS_F.search(text) \
            and names_therapy(text) and find_prior_therapy(text, "inclusion"):
        # "Progression during platinum-based chemoradiation for stage III disease": the
        # criterion is about the course on a therapy (which the notes do not tell), so its
        # disease words must not exclude on their own. Disease words listed before it as
        # another item ("distant metastases (stage IV) and/or recurrence after curative
        # surgery") are an exclusion of their own and stay.
        course = _COURSE_WORDS_F.search(text)
        settings = [r for r in requirements if r.kind in ("stage", "extent")]
        before = [r for r in settings if course and r.end <= course.start()]
        separate = bool(before) and bool(_ITEM_SEPARATOR.search(PARENTHESIS.sub(
            blank, text[max(r.end for r in before):course.start()])))
        requirements = [r for r in requirements if r.kind not in ("stage", "extent")
                        or (separate and r in before)]
    elif kind == "exclusion" and any(r.kind in ("stage", "extent") for r in requirements) \
            and triggered("therapy"):
        # The same holds when the therapy itself is not read ("Previous chemotherapy for
        # metastatic disease, concurrent immunotherapy"): excluding the setting would
        # exclude every patient with that disease.
        requirements = _drop_therapy_settings(requirements, text)
    if kind == "inclusion" and any(r.kind == "prior_therapy" for r in requirements):
        # "Documented disease progression to previous treatment with docetaxel", "refractory
        # to CDK4/6 inhibitors": the therapy must have failed, not merely been given.
        requirements = [replace(r, params={**r.params, "progressed": True})
                        if r.kind == "prior_therapy" and r.params.get("received") is True
                        and _progressed_before(text, r.start) else r for r in requirements]
    if _CUMULATIVE_DOSE.search(text):
        # "anthracyclines at cumulative doses of 450 mg/m² or more for doxorubicin": a dose
        # bound, which standard courses stay under; having had the drug is not enough.
        requirements = [replace(r, params={**r.params, "dose_above": True})
                        if r.kind == "prior_therapy" and r.params.get("received") is not False
                        else r for r in requirements]
    if other_malignancy:
        # "Other malignancy ... unless treated with surgery": the treatment is the other
        # cancer's, not a fact about this one.
        requirements = [r for r in requirements if r.kind not in ("prior_therapy",
                                                                  "prior_lines")]
    if kind == "exclusion" and any(r.kind in _DISEASE_KINDS for r in requirements) \
            and _ALLOWANCE_GATE.search(lower):
        # "Patients with the following cancers are eligible: ductal carcinoma in situ, ...":
        # an exclusion that tells whom it lets in names no disease to exclude.
        requirements = [r for r in requirements if r.kind not in _DISEASE_KINDS
                        or not _allows(text, r.start, r.end)]
    if kind == "exclusion":
        requirements = restrict_for_exclusion(requirements, text)
        # "Newly diagnosed angina pectoris", "newly diagnosed acute gastrointestinal
        # diseases": in an exclusion, a new diagnosis is another condition's, not the course
        # of the cancer.
        requirements = [r for r in requirements if not (
            r.kind == "extent" and r.params.get("extent") == "recurrent"
            and r.params.get("negated") and names_new_diagnosis(r.text))]
    elif requirements and ("ligib" in lower or "exclud" in lower or "prohibit" in lower or (
            "not " in lower and ("allow" in lower or "permit" in lower or "includ" in lower
                                 or "enrol" in lower))):
        # "ER+ ... Patients with PR-positive but ER-negative disease are not eligible": a
        # sentence of an inclusion that says whom it rules out demands none of its facts.
        ruled_out = _ruled_out_spans(text)
        if ruled_out:
            requirements = _without_ruled_out(requirements, ruled_out, text)
    if kind == "inclusion" and "may" in text and any(
            r.kind in ("prior_lines", "prior_therapy") for r in requirements):
        # "Treatment naive patients may be treated in Cohort A if deemed not candidates for
        # nivolumab": a permission for some patients, which demands no history of anyone.
        allowed = [(m.start(), m.end()) for m in _SENTENCE.finditer(text)
                   if _MAY_BE.search(m.group(0))]
        if allowed:
            requirements = [r for r in requirements if not (
                r.kind in ("prior_lines", "prior_therapy") and any(
                    left <= r.start and r.end <= right for left, right in allowed))]
    if "(" in text and any(r.kind == "biomarker" for r in requirements):
        # "HER2 status must be known. (Positive = 3+ over-expression by IHC ... OR HER2 gene
        # amplification ...)": a result defined in brackets is no demand.
        defined = [m.span() for m in _DEFINITION_ASIDE.finditer(text)]
        if defined:
            requirements = [r for r in requirements if not (r.kind == "biomarker" and any(
                left <= r.start and r.end <= right for left, right in defined))]
    if kind == "inclusion" and "(" in text and any(r.kind == "biomarker" for r in requirements):
        # "(+trastuzumab in HER2-positive patients)": a rule for some patients, in brackets;
        # the biomarker it names is no requirement of everyone.
        asides = [m.span() for m in _CONDITIONAL_ASIDE.finditer(text)]
        if asides:
            requirements = [r for r in requirements if not (r.kind == "biomarker" and any(
                left <= r.start and r.end <= right for left, right in asides))]
    if not text.startswith("From the ") and any(r.kind == "biomarker" for r in requirements):
        # "LVEF >= 55% for patients with triple negative breast cancer; >= ULN for patients
        # with HR+ breast cancer", "Previous treatment with AI is required in case of ER+
        # tumors": the subgroup a rule is for, after the rule, is no requirement of everyone.
        subgroups = [m.span() for m in _SUBGROUP_AFTER.finditer(text) if m.start() > 0]
        if subgroups:
            requirements = [r for r in requirements if not (r.kind == "biomarker" and any(
                left <= r.start and r.end <= right for left, right in subgroups))]
    if any(r.kind in ("prior_therapy", "prior_lines") for r in requirements) and \
            _ADVANCED_SETTING_GATE.search(text):
        requirements = [_for_advanced_disease(r, requirements, text) for r in requirements]
    if "(" in text and any(r.kind == "cancer_type" for r in requirements):
        # "Documentation of mammogram and ultrasound (including ductal carcinoma in situ
        # (DCIS) and invasive cancer)": cancers given as examples in a bracket name no
        # population of their own.
        examples = [m.span() for m in _EXAMPLES_BRACKET.finditer(text)
                    if not _TUMOUR_BEFORE.search(text, 0, m.start())]  # "GI tumors (e.g., ..."
        requirements = [r for r in requirements if not (r.kind == "cancer_type" and any(
            left <= r.start and r.end <= right for left, right in examples))]
    if any(r.kind == "measurable_disease" for r in requirements):
        # "Measurable disease per RECIST 1.1 for solid tumors and per Lugano for lymphoma.
        # For malignant lymphomas, measurable disease is defined as ...": the cancers say
        # which measuring rules apply, not who may enter.
        requirements = [r for r in requirements if not (
            r.kind == "cancer_type" and _RULE_FOR_BEFORE.search(text[max(0, r.start - 12):
                                                                     r.start]))]
    # A criterion that restates a fact ("HER2-negative ... HER2-negative status is defined as")
    # states it once.
    unique: dict[tuple[str, str], Requirement] = {}
    for requirement in requirements:
        unique.setdefault((requirement.kind, repr(requirement.params)), requirement)
    requirements = list(unique.values())
    requirements.sort(key=lambda r: (r.start, REQUIREMENT_KINDS.index(r.kind)))
    return requirements


_TUMOUR_BEFORE = re_compile(r"(?i)\b(?:tumou?rs?|cancers?|carcinomas?|malignanc\w+|neoplasms?|"
                            r"neoplasias?)\s*$")
_EXAMPLES_BRACKET = re_compile(r"(?i)\(\s*(?:including|incl\.?|e\.g\.?,?|such\s+as)\s"
                               r"(?:[^()]|\([^()]*\))*\)")
# "for lymphoma", "For malignant lymphomas,", "per ... for solid tumors": the disease a
# measuring rule is for.
_RULE_FOR_BEFORE = re_compile(r"(?i)\b(?:for|in)\s+(?:(?:malignant|patients\s+with)\s+)?$")


# An item that defines a marker result: "HER-2/neu positive tumor is defined as ...", "HER2
# negativity is defined as ..." (up to six words, no aside, before "is defined").
_DEFINING_SENTENCE = re_compile(r"\W*(?:[\w/+-]+\s+){0,5}?[\w/+-]+\s+(?:is|are)\s+defined\s+"
                                r"(?:as|by)\b", re.IGNORECASE)


# "Prior radiation to the whole pelvis is not allowed": the therapy of one site only.
_SITE_AFTER = re_compile(r"\s+(?:to|of)\s+(?:the\s+)?(?!a\b|an\b)\w", re.IGNORECASE)


def _without_ruled_out(requirements: list[Requirement], spans: list[tuple[int, int]],
                       text: str) -> list[Requirement]:
    """An inclusion less the facts of its sentences that say whom they rule out: such a
    sentence demands none of its facts ("Patients with PR-positive but ER-negative disease
    are not eligible"), except the one therapy it names, whose absence it demands ("Prior
    endocrine therapy in the metastatic setting is not permitted", "Patients who received a
    PARP inhibitor are not eligible"): the therapy not received, or no more lines than it
    names."""
    def within(r: Requirement, span: tuple[int, int]) -> bool:
        return span[0] <= r.start and r.end <= span[1]

    asides = [m.span() for m in PARENTHESIS.finditer(text)] if "(" in text else []
    # Therapies in an aside ("(unless tamoxifen was initiated within 4 weeks)") are its
    # exceptions, not what the sentence rules out.
    requirements = [r for r in requirements if not (
        r.kind in ("prior_therapy", "prior_lines") and any(within(r, a) for a in asides)
        and any(within(r, span) for span in spans))]
    out = []
    for r in requirements:
        span = next((span for span in spans if within(r, span)), None)
        if span is None:
            out.append(r)
            continue
        alone = sum(other.kind in ("prior_therapy", "prior_lines") and within(other, span)
                    for other in requirements) == 1 and not _SITE_AFTER.match(text, r.end)
        if alone and r.kind == "prior_therapy" and r.params.get("received"):
            out.append(replace(r, params={**r.params, "received": False}))
        elif alone and r.kind == "prior_lines" and r.params.get("min") and \
                r.params.get("max") is None and not r.params.get("beyond_standard"):
            out.append(replace(r, params={**r.params, "min": None,
                                          "max": r.params["min"] - 1}))
    return out


# "... are not eligible (for this study).", "the patient is ineligible", "is excluded", and
# "Not eligible: ..." ("who are not eligible for chemotherapy" names a therapy: not read).
_RULED_OUT_END = re_compile(
    r"\b(?:are|is|will\s+be|shall\s+be|would\s+be)\s+(?:not\s+(?:be\s+)?(?:eligible|included|"
    r"allowed|permitted|enrolled)|ineligible|excluded|prohibited)(?:\s+(?:for|from|in)\s+"
    r"(?:this\s+|the\s+)?"
    r"(?:study|trial|protocol|enrol\w*|participation))?\W*$", re.IGNORECASE)
_RULED_OUT_START = re_compile(r"\W*(?:not\s+eligible|ineligible|excluded)\s*:", re.IGNORECASE)
_SENTENCE = re_compile(r"[^.;\n]+(?:(?<=\d)\.(?=\d)[^.;\n]*)*")


def _ruled_out_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences (or asides) of a criterion that say who is not eligible."""
    blanked = PARENTHESIS.sub(blank, text)
    spans = [(m.start(), m.end()) for m in _SENTENCE.finditer(blanked)
             if _RULED_OUT_END.search(m.group()) or _RULED_OUT_START.match(m.group())]
    spans += [(m.start(), m.end()) for m in PARENTHESIS.finditer(text)
              if _RULED_OUT_END.search(m.group()[1:-1])]
    return spans


_DISEASE_KINDS = frozenset(("cancer_type", "histology", "primary_site", "stage", "extent"))
_SAMPLE_GATE = re_compile(r"sampl|specimen|tissue|block|biops|slide")
_SAMPLE_BEFORE = re_compile(
    r"\b(?:samples?|specimens?|tissues?|blocks?|biops(?:y|ies)|slides?)\b[^.;]{0,50}?"
    r"\b(?:from|of|collected|obtained|taken|during)\s+(?:(?:the|a|an|either|any|their)\s+)?"
    r"(?:[\w-]+(?:\s+(?:or|and|and/or)\s+|\s*/\s*|\s+)){0,3}$", re.IGNORECASE)
# ... unless the sample confirms the disease ("tissue confirmation of metastatic disease").
_SAMPLE_CONFIRMS = re_compile(r"confirm|diagnos|prov[ei]|evidence|document", re.IGNORECASE)


def _from_a_sample(text: str, start: int) -> bool:
    """Is the stage or extent at `start` the disease a tumour sample comes from?"""
    found = _SAMPLE_BEFORE.search(text[max(0, start - 90):start])
    return bool(found) and not _SAMPLE_CONFIRMS.search(found.group())
_ASIDE = re_compile(r"\([^()]*\)|\[[^\[\]]*\]|\([^()]*$")


def _allows(text: str, start: int, end: int) -> bool:
    """Does the clause around text[start:end] permit rather than exclude? An aside that
    permits something else ("Metastatic breast cancer (spread to axillary nodes is
    permitted)") leaves the mention an exclusion: parentheses not holding it are left out."""
    def blank(match: re.Match[str]) -> str:
        inside = match.start() <= start and end <= match.end()
        return match.group() if inside else " " * len(match.group())
    colon = text.find(":")
    if 0 <= colon < start and is_allowance(text, 0, colon):
        return True  # "Patients with the following cancers are eligible: DCIS, ..."
    previous = None
    while previous != text:  # nested asides, innermost first
        previous, text = text, _ASIDE.sub(blank, text)
    return is_allowance(text, start, end)
# Words every allowance cue holds (data: criteria_rules.json, allowance_cues).
_ALLOWANCE_GATE = re_compile(r"eligib|allow|permit|accept|includ|enrol|may\s|can\s")
_NEW_OR_BEFORE = re_compile(r"\b(?:de\s+novo|newly\s+diagnosed|new|primary|initial(?:ly)?)"
                            r"\s*(?:,\s*)?(?:or|and/or|/)\s*$", re.IGNORECASE)
_OR_NEW_AFTER = re_compile(r"\s*(?:,\s*)?(?:or|and/or|/)\s*(?:de\s+novo|newly\s+diagnosed)\b",
                           re.IGNORECASE)
# "Prior radiation therapy for metastatic disease is permitted": a therapy allowed in a
# setting (so no prior-therapy requirement) still names only the setting of that therapy.
_PERMITTED_F = Folded(re_compile(r"\b(?:permitted|allowed|acceptable|eligible)\b", re.IGNORECASE),
                      ("permitted", "allowed", "acceptable", "eligible"))
_COURSE_WORDS = re_compile(r"\b(?:progress\w*|relaps\w*|refractory|resistan\w*|recurr\w*|"
                           r"intoleran\w*|failed|failure)\b", re.IGNORECASE)
_COURSE_WORDS_F = Folded(_COURSE_WORDS, ("progress", "relaps", "refractory", "resistan", "recurr",
                                         "intoleran", "fail"))
# A list of settings may restate one in parentheses: "locally advanced (Stage III) unresectable".
_ITEM_SEPARATOR = re_compile(r"\band/or\b|\bor\b|;", re.IGNORECASE)
_LIST_GAP = re_compile(r"[\s,/()]*(?:(?:or|and|and/or|[\w-]+)[\s,/()]+){0,3}", re.IGNORECASE)


def _drop_therapy_settings(requirements: list[Requirement], text: str) -> list[Requirement]:
    """Stage and extent requirements that say which therapy counts ("for locally advanced
    unresectable or metastatic disease"), with the rest of their list."""
    settings = sorted((r for r in requirements if r.kind in ("stage", "extent")),
                      key=lambda r: r.start)
    dropped: list[Requirement] = []
    for r in settings:
        chained = bool(dropped) and dropped[-1].end <= r.start and bool(
            _LIST_GAP.fullmatch(text[dropped[-1].end:r.start]))
        if chained or _THERAPY_SETTING.search(text[max(0, r.start - 60):r.start]) or \
                _SETTING_LIST.search(text[max(0, r.start - 60):r.start]):
            dropped.append(r)
    return [r for r in requirements if not any(r is d for d in dropped)]


# The setting a therapy was given in, named after it: "endocrine therapy in the metastatic
# setting", "chemotherapy for recurrent or metastatic disease", "treatment in the
# advanced/metastatic setting", "systemic therapy for locally advanced unresectable or stage
# IV NSCLC".
_ADVANCED_SETTING_AFTER = re_compile(
    r"[^.;:]{0,45}?\b(?:for|in)\s+(?:the\s+)?(?:treatment\s+of\s+)?(?:(?:their|his|her|an?)\s+)?"
    r"(?:first[\s-]line\s+)?(?P<setting>(?:(?:locally|loco-?regionally|locoregionally)[\s-]+)?"
    r"(?:advanced|metastatic|recurrent|relapsed|unresectable|incurable|stage\s+(?:IV|4)\b)"
    r"(?:[\s,/-]+(?:(?:or|and|and/or|locally|loco-?regionally|advanced|metastatic|recurrent|"
    r"relapsed|unresectable|inoperable|incurable|stage|IV|IIIB|IIIC|4)\b))*)"
    r"[\s,/-]*(?P<what>[\w-]+)?", re.IGNORECASE)
_ADVANCED_SETTING_GATE = re_compile(r"advanced|metasta|recurr|relaps|unresect|incurable|stage",
                                    re.IGNORECASE)
_ADJUVANT_WORD = re_compile(r"adjuvant|perioperative|curative|early", re.IGNORECASE)
_ASIDE_AFTER = re_compile(r"\s*(?:\([^()]*\)|\[[^\[\]]*\])")
_COURSE_BETWEEN = re_compile(r"\b(?:progress\w*|relaps\w*|recurr\w*|refractory|resistan\w*|"
                             r"fail\w*|after|following|within|since)\b", re.IGNORECASE)
_PERMITS = re_compile(r"\b(?:allowed|permitted|eligible|acceptable|except\w*|not\s+count\w*)\b",
                      re.IGNORECASE)


def _for_advanced_disease(requirement: Requirement, requirements: list[Requirement],
                          text: str) -> Requirement:
    """A therapy named for advanced disease ("endocrine therapy in the metastatic setting",
    "chemotherapy for recurrent or metastatic disease") counts only as given for it: the
    requirement excepts (neo)adjuvant treatment. Not where a curative setting is named with
    it ("in the adjuvant or metastatic setting"), nor where another therapy stands between
    them (the setting is that one's)."""
    if requirement.kind not in ("prior_therapy", "prior_lines") or (
            requirement.params.get("except") or {}).get("adjuvant"):
        return requirement
    found = _ADVANCED_SETTING_AFTER.match(text, requirement.end)
    if found is None or _ADJUVANT_WORD.search(found.group(0)):
        return requirement
    aside = _ASIDE_AFTER.match(text, found.end())
    if aside is not None:
        # "(adjuvant chemotherapy is allowed if ...)" says it outright; "(including
        # adjuvant ...)" counts it in.
        if _ADJUVANT_WORD.search(aside.group()) and not _PERMITS.search(aside.group()):
            return requirement
    elif _ADJUVANT_WORD.search(text, found.end(), found.end() + 25):
        return requirement
    setting_at = found.start("setting")
    if any(r is not requirement and r.kind in ("prior_therapy", "prior_lines")
           and requirement.end <= r.start < setting_at for r in requirements):
        return requirement
    if _COURSE_BETWEEN.search(text[requirement.end:setting_at]):
        # "chemotherapy with progression within 6 months for recurrent disease": the words
        # between tell of the course, not the setting of the therapy.
        return requirement
    exception = dict(requirement.params.get("except") or {"drugs": [], "classes": []})
    exception["adjuvant"] = True
    return replace(requirement, params={**requirement.params, "except": exception})


def parse_in_context(text: str, kind: str, context: str, offset: int) -> list[Requirement]:
    """Parse a sub-bullet with its lead-in lines before it ("Patients must have one of the
    following:" + "EGFR exon 19 deletion"), keeping only what touches the sub-bullet itself.
    Spans are shifted to be relative to the sub-bullet, plus `offset`."""
    if _NOTE.match(text):
        return []
    lead = context.rsplit("\n", 1)[-1] if context else ""
    last_sentence = _LAST_SENTENCE.split(lead)[-1]
    if lead and kind == "exclusion" and _EXCEPTION_LEAD_IN.search(last_sentence):
        # "NOTE: Exceptions are allowed for the following conditions:" + "Vitiligo", "Inhaled
        # steroids": the items are what the exclusion lets in, not what it excludes.
        return []
    if lead.rstrip().endswith(":") and (_REPRODUCTIVE_DEFINITION.search(last_sentence)
                                        or _EITHER_RESULT_DEFINITION.search(last_sentence)
                                        or _LESION_DEFINITION.search(last_sentence)):
        # "Postmenopausal is defined as:" + "Age >= 60 years", "Women are considered
        # non-childbearing if they:" + "are >= 45 years of age and without menses": the items
        # define a reproductive status (any one suffices); none is asked of every patient.
        # "Hormone receptor-positive or hormone receptor-negative defined as follows:" +
        # "Hormone receptor-positive: >= 10% ...": the items define each result the trial
        # takes. "Lesions that are considered non-measurable include the following:" +
        # "Bone lesions", "Leptomeningeal disease", "Ascites": RECIST's kinds of lesion,
        # not conditions every patient must have.
        return []
    alone = [_shift(r, offset) for r in parse_criterion(text, kind)]
    if context and "defined" in text and _DEFINING_SENTENCE.match(text):
        # "Known HER-2/neu status by core biopsy" + "HER-2/neu positive tumor is defined as
        # +3 by IHC OR positive by FISH": the item defines a result; the line above says
        # whether one is required.
        return [r for r in alone if r.kind != "biomarker"]
    if lead.rstrip().endswith(":") and _EVENT_LEAD_IN.search(lead):
        # "Failure to recover from adverse events related to any of the following therapies:"
        # + "Chemotherapy": the therapy is the source of an event, not treatment history.
        return [r for r in alone if r.kind not in ("prior_therapy", "prior_lines")]
    if not context or alone or not _context_helps(context) or not _names_an_item(text):
        # Most sub-bullets read on their own ("ANC ≥ 1.5 x 10^9/L"); the lead-in is needed
        # only when they state nothing by themselves ("exon 19 deletion", "pembrolizumab").
        return alone
    bare = _BARE_SCORE.match(text)
    if bare:
        # "HER2 expression scored using ASCO/CAP guidelines" + "Part 1: IHC 3+ or IHC 2+":
        # a score without its marker is the score of the one marker the lead-in names.
        markers = {item.get("marker") for r in parse_criterion(lead, kind)
                   if r.kind == "biomarker" for item in r.params.get("any_of") or []}
        if len(markers) == 1:
            named = f"{markers.pop()} {text[bare.end():]}"
            return [Requirement(r.kind, r.params, text, offset, offset + len(text))
                    for r in parse_criterion(named, kind) if r.kind == "biomarker"]
    prefix = context + _CONTEXT_SEPARATOR
    combined = prefix + text
    out = []
    for req in parse_criterion(combined, kind):
        if req.end <= len(prefix):
            continue  # stated by the lead-in alone; the lead-in criterion carries it
        start = max(req.start, len(prefix)) - len(prefix)
        end = req.end - len(prefix)
        out.append(Requirement(req.kind, req.params, text[start:end], start + offset,
                               end + offset))
    return out


# A sub-bullet opening with a bare score ("Part 1: IHC 3+ or IHC 2+", "IHC 2+/ISH+"), its
# label before it.
_BARE_SCORE = re_compile(r"^\W*(?:[\w ]{1,20}:\s*)?(?=IHC\s*[0-3](?![\d.])|(?:F?ISH)\s*[+-])",
                         re.IGNORECASE)
# A lead-in listing what an exclusion lets in ("with the following exceptions:", "the
# following are allowed:", "patients with ... are eligible:").
_EXCEPTION_LEAD_IN = re_compile(
    r"\bexceptions?\b|\bexcept\s+(?:for\s+)?(?:the\s+following|as\s+follows)\b|"
    r"\b(?:are|is)\s+(?:also\s+)?(?:allowed|permitted|eligible|acceptable)\b|"
    r"\bnot\s+(?:be\s+)?excluded\b|\bmay\s+(?:participate|be\s+included|enrol)", re.IGNORECASE)
_LAST_SENTENCE = re_compile(r"(?<=[.;])\s+(?=\S)")
# A lead-in defining kinds of lesion (RECIST) by the items under it.
_LESION_DEFINITION = re_compile(
    r"\b(?:non-?measurable|measurable|evaluable|non-?target|target)\b[^:]{0,60}?\b(?:include|"
    r"includes|including|defined|definitions?|considered|as\s+follows|following)\b[^:]*:\s*$",
    re.IGNORECASE)
# A lead-in taking either result of a marker and defining each below it.
_EITHER_RESULT_DEFINITION = re_compile(
    r"\b(?:positive\s+(?:and/)?or\s+(?:[\w-]+\s+){0,3}?(?:\w+-)?negative|"
    r"negative\s+(?:and/)?or\s+(?:[\w-]+\s+){0,3}?(?:\w+-)?positive)\b"
    r"[^:]*?\b(?:defined|definitions?|as\s+follows|following)\b", re.IGNORECASE)
# A lead-in defining a reproductive status by the items under it.
_REPRODUCTIVE_DEFINITION = re_compile(
    r"\b(?:(?:post|pre|peri)?-?menopaus\w*|(?:non-?)?child[\s-]?bearing|"
    r"(?:reproductive|reproduction|fertility)\s+potential|fertile|sterile)\b[^:]*?"
    r"\b(?:defined|definition|considered|means?|if\s+(?:she|they|he|one\s+of)|"
    r"(?:one|any)\s+of\s+the\s+following)\b", re.IGNORECASE)
# A lead-in about events caused by the therapies listed under it.
_EVENT_LEAD_IN = re_compile(
    r"\b(?:adverse\s+events?|toxicit(?:y|ies)|side[\s-]effects?|recover\w*|hypersensitivit\w*|"
    r"allerg\w*)\b", re.IGNORECASE)
_CONTEXT_CUES = ("prior", "previous", "receiv", "treat", "therap", "following", "mutation",
                 "alteration", "positive", "negative", "express", "stage", "metasta", "cancer",
                 "carcinoma", "tumor", "tumour", "malignan")


# Words of the items a lead-in gives a reading to: therapies, alterations, results, numbers.
_ITEM_WORDS = re_compile(r"therap|treatment|regimen|\bline|na[iï]ve|untreated|exon|delet|"
                         r"insert|mutat|fusion|rearrang|amplif|positiv|negativ|wild|express|\d",
                         re.IGNORECASE)


def _names_an_item(text: str) -> bool:
    """Can a lead-in give this sub-bullet a reading? It must name an item of the lead-in's
    list: a therapy ("Trastuzumab (Herceptin)"), a marker or alteration ("exon 19
    deletion"), or a value ("2.5 x ULN"). "Osteogenesis imperfecta" under "Any of the
    following:" names none, and is not parsed again with the lead-in."""
    if _ITEM_WORDS.search(text) or names_therapy(text):
        return True
    gates = _gates()
    return gates.may_match(gates.markers, gates.tokens(text.lower()))


def _context_helps(context: str) -> bool:
    """Whether a lead-in can add to a sub-bullet: it names a marker, a therapy or a disease."""
    lower = context.lower()
    gates = _gates()
    return any(cue in lower for cue in _CONTEXT_CUES) or gates.may_match(
        gates.markers, gates.tokens(lower))


def _shift(req: Requirement, offset: int) -> Requirement:
    return Requirement(req.kind, req.params, req.text, req.start + offset, req.end + offset)


def merge_alternatives(alternatives: list[list[Requirement]], text: str) -> list[Requirement]:
    """Requirements of a "one of the following" group, whose sub-bullets are alternatives.

    The matcher reads requirements of one kind in an inclusion criterion as alternatives and
    different kinds as all required, so only kinds stated by every sub-bullet are kept
    (biomarker alternatives become one requirement with all of them in `any_of`). A sub-bullet
    with nothing parsed could be the one the patient meets: then nothing is kept.
    """
    if not alternatives or any(not alt for alt in alternatives):
        return []
    common = set.intersection(*({r.kind for r in alt} for alt in alternatives))
    kept = [r for alt in alternatives for r in alt if r.kind in common]
    biomarkers = [r for r in kept if r.kind == "biomarker"]
    if len(biomarkers) > 1:
        any_of = [item for r in biomarkers for item in r.params.get("any_of", [])]
        start = min(r.start for r in biomarkers)
        end = max(r.end for r in biomarkers)
        merged = Requirement("biomarker", {"any_of": any_of}, text[start:end], start, end)
        kept = [r for r in kept if r.kind != "biomarker"] + [merged]
    kept.sort(key=lambda r: r.start)
    return kept
