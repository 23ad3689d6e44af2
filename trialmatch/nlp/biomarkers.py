"""Biomarker results in note text: marker, alteration, status and value, with the words.

Marker names and alterations come from the shared vocabulary (`vocab.get_vocabulary()`);
status words are data (`data/cues.json`). The reading, clause by clause:
- markers written as a list share one result ("EGFR, KRAS and BRAF: not detected",
  "negative for ER and PR");
- a result after the marker ("ER: positive (95%)") decides; else a cue before it ("negative
  for", "no", "loss of", "pending"); a negation before a presence word ("No EGFR mutation
  detected") makes it negative;
- numbers decide where no word does, by these published cut-offs:
  ER/PR: >= 1% of tumour nuclei positive, else negative (ASCO/CAP ER/PR guideline 2020);
  Allred score 0-2 negative, 3-8 positive (Harvey et al., J Clin Oncol 1999);
  HER2 IHC 0 or 1+ negative, 2+ equivocal, 3+ positive; ISH HER2/CEP17 ratio >= 2.0
  amplified (ASCO/CAP HER2 guideline 2018); PD-L1 TPS or CPS >= 1 positive (the lowest
  FDA-labelled cut-off, pembrolizumab NSCLC TPS >= 1%); TMB >= 10 mut/Mb high (FDA
  pembrolizumab TMB-H label, 2020).
- SPEC statuses: MSI positive = MSI-high, negative = MSS/MSI-low. MMR (decided here):
  positive = deficient (dMMR, loss of any of MLH1, MSH2, MSH6, PMS2), negative = proficient
  (all tested proteins retained). A Ki-67 index with a number is reported positive with the
  number as value.
HER2 gives up to two results: the IHC score (unit IHC) and the ISH result (alteration
"amplification", unit "ratio" when a ratio is written).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from trialmatch.models import Biomarker
from trialmatch.nlp.context import (
    clause_spans,
    join_broken_lines,
    load_cues,
    lowered_for_search,
    matches_at,
    phrase_matches,
    phrase_pattern,
    phrase_search,
    word_starts,
)
from trialmatch.regex_cache import re_compile

_STATUS_RANK = {"positive": 3, "negative": 3, "equivocal": 2, "unknown": 0}
_SEPARATOR = re_compile(r"(?i)^[\s,/&()]*(?:(?:and/or|and|or|nor|as\s+well\s+as)[\s,/&()]*)?$")
_PRESENCE_WORDS = {"detected", "identified", "present", "mutated", "mutant", "mutation detected",
                   "amplified", "rearranged", "expressed", "amplification detected",
                   "rearrangement detected", "fusion detected", "overexpression",
                   "overexpressed", "avid", "-avid"}  # "PSMA-avid": the tracer's target is there
# Expression words that mean "retained" for a mismatch-repair protein (flipped meaning).
_EXPRESSION_POSITIVE = {"positive", "pos", "expressed", "present", "reactive", "detected",
                        "identified", "strongly positive", "weakly positive", "focally positive",
                        "+", "(+)"}
_EXPRESSION_NEGATIVE = {"negative", "neg", "absent", "not expressed", "no expression",
                        "no staining", "not detected", "not identified", "not present",
                        "non reactive", "nonreactive", "-", "(-)"}
_LEVEL_MARKERS = {"MSI", "TMB", "PD-L1"}  # where "high"/"low" are results
# Markers read by whether a protein or a chromosome arm is kept ("1p/19q intact", "ATRX
# retained", "BAP1 expression preserved"): for them "retained" is a negative result; after a
# gene fusion ("FGFR2::BICC1 fusion, kinase domain retained") it describes the fusion.
_KEPT_WORDS = {"retained", "intact", "preserved"}
_KEPT_MARKERS = {"1p/19q", "ATRX", "BAP1", "SMARCB1", "SMARCA4", "PTEN", "RB1", "MTAP",
                 "CDKN2A", "p53", "TP53", "MMR"}
# OCR's zero for the letter o in "no" ("N0 rearrangement detected"), not TNM's N0.
_OCR_NO = re_compile(r"\b([Nn])0(?=\s+[a-z])")
# "MSI-H not detected": a status written in the marker's name, then denied.
_DENIED_AFTER = re_compile(r"(?i)^\s*[:=-]?\s*(?:was\s+|is\s+)?(?:not\s+(?:detected|identified|"
                           r"present|seen|found)|negative|absent)\b")
# Alteration words that name no finding on their own ("FGFR alteration testing").
_THERAPY_BEFORE = re_compile(r"(?i)\banti-?\s*$")
_THERAPY_AFTER = re_compile(
    r"(?i)^(?:\s*(?:or|and|/|,)\s*[A-Z][A-Za-z0-9]{1,7})?[\s-]*(?:inhibitors?|TKIs?|directed|"
    r"targeted|targeting|blockade|blockers?|CAR[\s-]?T|bispecifics?|antibody[\s-]+drug|"
    r"ADCs?|vaccines?)\b")
_MERGED_LINE_BEFORE = re_compile(r"(?i)\b(?:of|for|in|to|with|and|or|the|a|an)\.\s*$")
_CLASS_ONLY = {"mutation", "alteration", "germline"}
_NO_ALTERATION = {"ER", "PR", "PD-L1", "Ki-67", "MSI", "MMR", "TMB", "p16", "HPV"}
_HER2_ISH = re_compile(r"(?i)\b(?:FISH|ISH|SISH|CISH|DISH|in\s+situ\s+hybridi[sz]ation|"
                       r"ratio|copy\s+number|amplif\w*|non-?amplified|unamplified|CEP\s*-?17|"
                       r"D17Z1)")
_TPS = re_compile(r"(?i)(?:TPS|tumou?r\s+proportion\s+score)\s*(?:\(TPS\))?\s*[:=]?\s*(?:of\s*)?"
                  r"(?P<cmp>[<>≥≤]=?)?\s*(?P<v>\d{1,3}(?:\.\d+)?)\s*%?")
_CPS = re_compile(r"(?i)(?:CPS|combined\s+positive\s+score)\s*(?:\(CPS\))?\s*[:=]?\s*(?:of\s*)?"
                  r"(?P<cmp>[<>≥≤]=?)?\s*(?P<v>\d{1,3}(?:\.\d+)?)")
_TMB = re_compile(r"(?i)(?P<v>\d{1,4}(?:\.\d+)?)\s*(?:mut(?:ation)?s?\s*/\s*Mb|"
                  r"mutations?\s+per\s+mega\s*-?base)")
# "TMB 2.1", "TMB: 8", "TMB-low (4)": a bare number right after TMB is in mut/Mb, the unit
# every reporting panel uses (FDA TMB-high: >= 10 mut/Mb); not a percentile or a date.
_TMB_BARE = re_compile(r"(?i)^\s*(?:\(\s*)?[:=]?\s*(?P<v>\d{1,3}(?:\.\d+)?)(?!\.\d|[\d/%-])(?!\s*"
                       r"(?:%|percentile|th\b|st\b|nd\b|rd\b))")
_ALLRED = re_compile(r"(?i)Allred(?:\s+score)?\s*(?:\([^)]{0,20}\))?\s*[:=]?\s*(?:of\s*)?"
                     r"(?P<v>[0-8])(?:\s*/\s*8)?(?![\d.%])")
# (A bracket after the test word may date it or name the clone: "HER2 IHC (05/2026): 0".)
_IHC_SCORE = re_compile(r"(?i)(?:(?<![\d.])(?P<v>[0-3])\s*\+(?!\d)|(?:score|IHC)\s*"
                        r"(?:\([^()]{1,30}\)\s*)?[:=]?\s*(?P<v2>[0-3])(?![\d%+]|[.,]\d))")
# "HER2/NEU: 0.", "HER2 0 by IHC", "HER2 0." -- a bare 0-3 right after the marker is its IHC
# score: after a colon, or after a space when nothing that makes it another number follows
# (not "HER2 2 copies", "HER2 1.8").
_BARE_SCORE = re_compile(r"(?i)(?:\s*[:=]\s*(?P<v>[0-3])(?![\d.,%/+]\d|\d|%)|"
                         r"\s+(?P<v2>[0-3])(?=\s*(?:$|[.;(]|,(?:\s+[A-Za-z]|\s*$)|by\b|on\b|IHC\b|\((?:IHC|neg)"
                         r"|negative\b|positive\b|equivocal\b))(?![.,]\d))")
_RATIO = re_compile(r"(?i)ratio\s*(?:\([^)]{0,30}\))?\s*(?:of\s+HER-?2(?:/neu)?\s+(?:to|/)\s+"
                    r"(?:CEP\s*-?17|D17Z1|(?:the\s+)?chromosome\s+17(?:\s+centromere)?)\s*)?"
                    r"(?:of|=|:|is|was)?\s*(?P<v>\d{1,2}(?:\.\d+)?)")
# "ratio of HER2 to D17Z1 is 8.0" read from its HER2: the ratio to the chromosome 17
# centromere probe (CEP17, locus D17Z1) after the marker.
_PROBE_RATIO = re_compile(r"(?i)\s*(?:to|/)\s*(?:CEP\s*-?17|D17Z1)\s*(?:ratio)?\s*"
                          r"(?:of|=|:|is|was)?\s*(?P<v>\d{1,2}(?:\.\d+)?)")
# The average HER2 signals per cell of an ISH count ("average HER2 copy number 3.5
# signals/cell", "mean HER2 signals per nucleus: 6.2", "average count: HER2: 14.9").
_HER2_COPIES = re_compile(
    r"(?i)(?:(?:average|mean|avg\.?)\s+(?:count\s*[:=]?\s*)?(?:HER-?2(?:/neu)?\s*)?(?:gene\s+)?"
    r"(?:copy\s+(?:number|no\.?)|signals?|copies)?(?:\s*(?:per|/)\s*(?:cell|nucleus|nuclei))?"
    r"|HER-?2(?:/neu)?\s+(?:gene\s+)?copy\s+(?:number|no\.?)(?:\s*(?:per|/)\s*(?:cell|nucleus))?)"
    r"\s*(?:of|=|:|is|was)?\s*(?P<v>\d{1,2}(?:\.\d+)?)(?!\s*%)")
_PERCENT = re_compile(r"(?i)(?P<cmp>[<>≥≤]=?\s*|(?:less|fewer|greater|more)\s+than\s+)?"
                      # (not a signed change: "PR by 07/2025 (-45%)" is a partial response
                      # that shrank the tumour by 45%, not a receptor score)
                      r"(?<![\d.\-−+])(?P<v>\d{1,3}(?:\.\d+)?)\s*(?:-\s*\d{1,3}\s*)?%")
_MSI_HIGH = re_compile(r"(?i)MSI[\s-]*H\b|MSI[\s-]*high|instability[\s-]*high|"
                       r"high[\s-]+(?:level\s+)?microsatellite|microsatellite\s+unstable")
_MSI_STABLE = re_compile(r"(?i)\bMSS\b|microsatellite[\s-]+stable|MSI[\s-]*L\b|MSI[\s-]*low|"
                         r"instability[\s-]*low|\bstable\b")
_DMMR = re_compile(r"(?i)\bdMMR\b|MMR[\s-]*deficien|mismatch[\s-]+repair[\s-]+deficien|"
                   r"deficient\s+mismatch")
_PMMR = re_compile(r"(?i)\bpMMR\b|MMR[\s-]*proficien|mismatch[\s-]+repair[\s-]+proficien|"
                   r"proficient\s+mismatch|MMR[\s-]*intact")
# "ER+", "PR (-)"; a dash before a result word is punctuation ("ER - POSITIVE").
# A sign after a marker ("ER+", "HER2 -"); not a dash before its result ("MSH6 - intact",
# "MLH1, PMS2 - all retained", "ESR1 - pending").
_SIGN = re_compile(r"(?i)^\s*(?P<s>\(\s*[+-]\s*\)|[+-])(?=[,.;:)/]|$|\s*$|\s+(?!(?:pos|neg|"
                   r"equivocal|borderline|weak|strong|focal|not|no|wild|detected|intact|"
                   r"retained|preserved|lost|loss|absent|present|deficient|proficient|"
                   r"normal|abnormal|aberrant|expressed|all|each|both|\(?\d|"
                   # a result yet to come: "ESR1 - pending", "PD-L1 - sent", "MSI - failed"
                   r"pending|sent|ordered|awaited|awaiting|requested|failed|insufficient|"
                   r"indeterminate|unknown|tbd)))")


_JOINING_PLUS = re_compile(r"[ \t]+\+[ \t]+(?:[A-Za-z]|$)")


@dataclass(frozen=True)
class _Hit:
    marker: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _StatusTables:
    post: re.Pattern[str]
    post_status: dict[str, str]
    pre: re.Pattern[str]
    pre_status: dict[str, str]


def _norm(phrase: str) -> str:
    return re.sub(r"[\s\-]+", " ", phrase.lower()).strip()


@lru_cache(maxsize=1)
def _tables() -> _StatusTables:
    cues = load_cues()
    post_status = {_norm(p): s for s, phrases in cues.status_post.items() for p in phrases
                   if p not in ("+", "-", "(+)", "(-)")}
    pre_status = {_norm(p): s for s, phrases in cues.status_pre.items() for p in phrases}
    return _StatusTables(
        post=phrase_pattern(sorted(post_status)),
        post_status=post_status,
        pre=phrase_pattern(sorted(pre_status)),
        pre_status=pre_status,
    )


def _vocabulary() -> Any:
    from trialmatch.nlp.vocab import get_vocabulary

    return get_vocabulary()


_HEADING_AFTER = re_compile(r"\s*:")


def _post_status(marker: str, window: str, mmr_protein: bool) -> tuple[str, str, int] | None:
    """The first result word after a marker: (status, word, end offset in window)."""
    tables = _tables()
    window = _OCR_NO.sub(r"\1o", window)
    sign = _SIGN.match(window)
    if sign and marker not in _EXPRESSED_MARKERS and not mmr_protein and \
            _JOINING_PLUS.match(window):
        # "(DNA, 324 genes) + MSI + TMB": a "+" between names joins them (a receptor's
        # "ER + PR -" is signed)
        sign = None
    if sign:
        word = sign.group("s").replace(" ", "")
        status = "positive" if "+" in word else "negative"
        if mmr_protein:
            status = "negative" if status == "positive" else "positive"
        return status, word, sign.end()
    for match in phrase_matches(tables.post, window):
        word = _norm(match.group(0))
        status = tables.post_status[word]
        if _LEGEND_AFTER.match(window[match.end() :]):
            continue  # "Negative < 6.5, Positive >= 6.5": a reference range, not a result
        if _HEADING_AFTER.match(window, match.end()):
            break  # "... VAF 38%. NEGATIVE: FLT3, NPM1": the heading of a list that follows
        if word in ("low", "high") and marker not in _LEVEL_MARKERS:
            continue
        if word in ("none", "nd") and _BREAK_BEFORE.search(window, 0, match.start()):
            continue  # "DLL3 IHC not performed.\nirAEs on atezo: none": another line's answer
        if word == "intermediate" and marker not in _LEVEL_MARKERS:
            continue
        if word == "normal" and _SAMPLE_NORMAL.search(window, 0, match.start()):
            continue  # "(germline, matched normal)", "tumor-normal": the normal sample
        if word in _KEPT_WORDS and not mmr_protein and marker not in _KEPT_MARKERS:
            continue
        if word in ("loss", "lost") and marker in _EXPRESSED_MARKERS:
            status = "negative"  # "PR loss at recurrence": the receptor no longer expressed
        elif mmr_protein:
            if word in _EXPRESSION_POSITIVE:
                status = "negative"  # expression retained
            elif word in _EXPRESSION_NEGATIVE:
                status = "positive"  # expression lost
        elif status == "positive" and (
                _DENIED_JUST_BEFORE.search(window, 0, match.start()) or
                _DENIED_START.match(window, 0, match.start())):
            # "MET: no ex14 skipping, no amp", "MET  no exon 14 splice-site variant
            # detected": a presence word denied
            status = "negative"
        return status, word, match.end()
    return None


# An alteration written right after the marker and signed ("FLT3-ITD-", "FLT3 ITD+").
_SIGNED_ALTERATION = re_compile(r"^[\s-]?[A-Za-z][A-Za-z0-9]{1,8}\s?(?P<s>[+-])(?=[\s,;:/.)]|$)")
# "matched normal", "tumor-normal pair": the sample of normal tissue, no result.
_SAMPLE_NORMAL = re_compile(r"(?i)(?:\bmatched|\btumou?r|\bpaired)[\s/-]*$")
# A denial in the words right before a presence word, in the same clause ("no amp").
_DENIED_JUST_BEFORE = re_compile(r"(?i)\b(?:no|not|without)\s+(?:[\w-]+\s+){0,2}$")
# A result line that starts with a denial ("MET: no ex14 skipping"): the alteration it names
# is absent.
_DENIED_START = re_compile(r"(?i)^[\s|:=-]*(?:no|without)\s+\S")


def _pre_status(window: str, mmr_protein: bool) -> tuple[str, str, int] | None:
    """The last status cue in the words just before a marker: (status, word, start)."""
    tables = _tables()
    found = None
    for match in phrase_matches(tables.pre, window):
        found = match
    if found is None:
        return None
    word = _norm(found.group(0))
    if found.group(0) in ("+", "-") and window[found.start() - 1:found.start()].isspace() and \
            window[found.end():found.end() + 1].isspace():
        return None  # "(DNA, 324 genes) + MSI + TMB": a "+" between names joins them
    status = tables.pre_status[word]
    # "No mutations were detected in EGFR": a negation shortly before a presence word.
    if status == "positive" and re.search(r"(?i)\b(?:no|not|none|without)\b[^.;]{0,30}$",
                                          window[: found.start()]):
        status = "negative"
    if mmr_protein and word in ("positive for", "expression of", "presence of"):
        status = "negative"
    elif mmr_protein and word in ("negative for", "absence of", "no", "without", "absent"):
        status = "positive"
    return status, word, found.start()


_RANGE_AFTER = re_compile(r"\s*%?\s*(?:-|–|to)\s*\d")


def _values(marker: str, window: str) -> list[tuple[float, str, str | None, int]]:
    """Numbers in a marker's window as (value, unit, comparator, end offset); a PD-L1 range
    ("TPS 1-49%") comes with the comparator "range"."""
    found: list[tuple[float, str, str | None, int]] = []
    if marker == "PD-L1":
        for pattern, unit in ((_TPS, "TPS"), (_CPS, "CPS")):
            matches = list(pattern.finditer(window))
            # A measured score before a range category: "TPS: 20% ... (TPS 1-49%)".
            match = next((m for m in matches if not _RANGE_AFTER.match(window, m.end("v"))),
                         matches[0] if matches else None)
            if match:
                cmp = "range" if _RANGE_AFTER.match(window, match.end("v")) else match.group(
                    "cmp")
                found.append((float(match.group("v")), unit, cmp, match.end()))
        if not found:
            match = _PERCENT.search(window)
            if match:
                cmp = (match.group("cmp") or "").strip() or None
                if _RANGE_AFTER.match(window, match.end("v")):
                    cmp = "range"
                found.append((float(match.group("v")), "TPS", cmp, match.end()))
    elif marker == "TMB":
        match = _TMB.search(window) or _TMB_BARE.match(window)
        if match:
            found.append((float(match.group("v")), "mut/Mb", None, match.end()))
    elif marker in ("ER", "PR", "Ki-67"):
        match = _PERCENT.search(window)
        if match:
            cmp = (match.group("cmp") or "").strip() or None
            found.append((float(match.group("v")), "%", cmp, match.end()))
        elif marker != "Ki-67":
            # "ER 0, PR 0": a bare zero is none of the cells staining (0%).
            zero = _BARE_SCORE.match(window)
            if zero and (zero.group("v") or zero.group("v2")) == "0":
                found.append((0.0, "%", None, zero.end()))
        if marker != "Ki-67":
            allred = _ALLRED.search(window)
            if allred:
                found.append((float(allred.group("v")), "Allred", None, allred.end()))
    elif marker == "HER2":
        match = _IHC_SCORE.search(window) or _BARE_SCORE.match(window)
        if match:
            value = match.group("v") or match.group("v2")
            found.append((float(value), "IHC", None, match.end()))
        ratio = _RATIO.search(window) or _PROBE_RATIO.match(window)
        if ratio:
            found.append((float(ratio.group("v")), "ratio", None, ratio.end()))
    return found


def _status_from_value(marker: str, value: float, unit: str, cmp: str | None) -> str | None:
    below = cmp is not None and cmp.lower().startswith(("<", "≤", "less", "fewer"))
    if unit == "%" and marker in ("ER", "PR"):
        return "negative" if value < 1 or (below and value <= 1) else "positive"
    if unit == "Allred":
        return "negative" if value <= 2 else "positive"
    if unit == "IHC":
        return "positive" if value >= 3 else "equivocal" if value == 2 else "negative"
    if unit == "ratio":
        return "positive" if value >= 2.0 else "negative"
    if unit in ("TPS", "CPS"):
        return "negative" if value < 1 or (below and value <= 1) else "positive"
    if unit == "mut/Mb":
        return "positive" if value >= 10 else "negative"
    if unit == "%" and marker == "Ki-67":
        return "positive"
    return None


def _her2_ish_group(ratio: float, copies: float | None) -> str:
    """HER2 ISH status from the HER2/CEP17 ratio and the average HER2 copy number per cell,
    by the dual-probe groups of the ASCO/CAP HER2 guideline 2018 (Wolff et al., J Clin Oncol
    2018;36:2105): group 1 (ratio >= 2.0, copies >= 4.0) positive; group 2 (ratio >= 2.0,
    copies < 4.0) negative unless IHC is 3+; group 3 (ratio < 2.0, copies >= 6.0) decided by
    the IHC result, so equivocal on the ISH alone; groups 4 and 5 (ratio < 2.0, copies < 6.0)
    negative. Without a copy number the ratio alone decides (>= 2.0 amplified)."""
    if copies is None:
        return "positive" if ratio >= 2.0 else "negative"
    if ratio >= 2.0:
        return "positive" if copies >= 4.0 else "negative"
    return "equivocal" if copies >= 6.0 else "negative"


# Detail in brackets after a list item: "KRAS (codons 12, 13, 61), BRAF (including V600E)".
_DETAIL = re_compile(r"\([^()]{1,80}\)")
_RESULT_IN_DETAIL = re_compile(r"%|\+|\d\s*/\s*\d")


# The alteration a list item names after its gene: "EGFR, ALK, MET exon 14 and RET negative",
# "EGFR mutation, ALK rearrangement and ROS1 fusion: not detected" (one shared result).
_ITEM_ALTERATION = re_compile(
    r"(?i)^\s*(?:(?:exon\s*\d{1,2}(?:\s+(?:skipping|deletions?|insertions?))?|"
    r"(?:gene\s+)?(?:mutations?|fusions?|rearrangements?|amplifications?|alterations?|"
    r"variants?|translocations?))\s*)+")
# (A protein change in a list, "BRAF V600E, KRAS and NRAS wild-type", may be the finding
# itself: such a list is not joined.)


# (what may stand between a marker and its result word: "NTRK fusion: none detected")
_BREAK_BEFORE = re_compile(r"[.;\n]")
_BELONGS_BEFORE = re_compile(r"(?i)[\s:=-]*(?:(?-i:(?:p\.)?[A-Z]\d{1,4}(?:[A-Z*]|fs\w*|del\w*|"
                             r"ins\w*|dup)?|ITD|TKD)[\s:=-]*)?"
                             r"(?:\([^()]{0,40}\)[\s:=-]*)?(?:(?:fusions?|"
                             r"rearrangements?|mutations?|"
                             r"amplifications?|alterations?|variants?|none|no|not)[\s:=-]*)*$")
_ITEM_BREAK = re_compile(r"[,;|]|\s{2,}|\s-{2,}\s")
# A gene-like name the vocabulary does not hold ("EGFRvIII", "FGFR3-TACC3") right before a
# cue: the cue is its result ("EGFRvIII not detected  CDKN2A/B homozygous deletion").
_OTHER_NAME_BEFORE = re_compile(r"(?<![\w-])(?=[A-Za-z]{2})"
                                r"(?=[\w-]*[A-Z][\w-]*(?:\d|[a-z][\w-]*[A-Z]))"
                                r"[A-Za-z][\w-]{1,14}\s+(?:(?:not|no)\s+)?$")


_RESULT_CODES = frozenset({"WT", "MUT", "NEG", "POS", "ND", "NA", "NEGATIVE", "POSITIVE", "LOSS",
                           "LOST", "INTACT", "RETAINED", "DETECTED", "AMPLIFIED"})
_GENE_LIKE = re_compile(r"(?<![\w-])[A-Z]{2}[A-Z0-9]{0,8}(?:/[A-Z]{2}[A-Z0-9]{0,8})*(?![\w-])|"
                        r"-(?:class|family)\b")


def _separates(gap: str) -> bool:
    """Whether the words between two markers only join them into one list: punctuation and
    "and"/"or", an alteration naming the item ("MET exon 14", "ALK rearrangement"), and
    bracketed detail that states no result of its own ("(codons 12, 13)", "(including exon
    14 skipping)", but not "(95%)" or "(positive)"). The partners of a fusion written
    "ETV6::RUNX1" share its result."""
    if _SEPARATOR.match(gap) or gap.strip() == "::":
        return True
    named = _ITEM_ALTERATION.match(gap)
    if named and named.end() > 0 and _SEPARATOR.match(gap[named.end():]) and \
            re.search(r"[,/&]|\b(?:and|or|nor)\b", gap[named.end():]):
        return True
    for detail in _DETAIL.finditer(gap):
        inner = detail.group(0)
        if _RESULT_IN_DETAIL.search(inner) or _tables().post.search(inner):
            return False
    # A list item the vocabulary does not name ("no ABL-class, CRLF2, JAK/STAT or KMT2A
    # alterations"): a gene-like word between separators keeps the list together.
    return bool(_SEPARATOR.match(_GENE_LIKE.sub(_unnamed_item, _DETAIL.sub(" ", gap))))


def _unnamed_item(match: re.Match[str]) -> str:
    """A gene-like word in a list gap, blanked unless it is a result ("LOSS", "WT", "NEG")."""
    word = match.group(0)
    tables = _tables()
    if tables.post.fullmatch(word) or tables.pre.fullmatch(word) or word.upper() in _RESULT_CODES:
        return word
    return " "


def _groups(hits: list[_Hit], text: str) -> list[list[_Hit]]:
    groups: list[list[_Hit]] = []
    for hit in hits:
        if groups and _separates(text[groups[-1][-1].end : hit.start]):
            groups[-1].append(hit)
        else:
            groups.append([hit])
    return groups


_LIST_PIECE = re_compile(r"[A-Za-z0-9][A-Za-z0-9\-]*")


def _split_lists(hits: list[_Hit], vocab: Any) -> list[_Hit]:
    """A vocabulary phrase that names several genes ("KRAS and NRAS" -> RAS) becomes one
    hit per gene, so each gets its own result; one marker written in two parts
    ("HER2-NEU", "HER2 / neu") becomes one hit."""
    joined: list[_Hit] = []
    for hit in hits:
        if joined and joined[-1].marker == hit.marker and hit.start - joined[-1].end <= 3:
            previous = joined[-1]
            joined[-1] = _Hit(hit.marker, previous.start, hit.end,
                              previous.text + " " * (hit.start - previous.end) + hit.text)
            continue
        joined.append(hit)
    hits = joined
    result: list[_Hit] = []
    for hit in hits:
        pieces = []
        if re.search(r"[\s,/]", hit.text):
            for piece in _LIST_PIECE.finditer(hit.text):
                symbol = vocab.biomarker_symbol(piece.group(0))
                if symbol is not None and piece.group(0).lower() not in ("and", "or"):
                    pieces.append(_Hit(symbol, hit.start + piece.start(),
                                       hit.start + piece.end(), piece.group(0)))
        if len({piece.marker for piece in pieces}) >= 2:
            result.extend(pieces)
        else:
            result.append(hit)
    return result


_MORPHOLOGY_ONLY = re_compile(r"(?i)(?:features?|morpholog\w*|pattern)\s+(?:suggestive|"
                              r"characteristic|typical|reminiscent)\s+of\s*$")
LOOKAHEAD_CHARS = 250
_BARE_MUTATION = re_compile(
    r"(?i)^[\s-]*(?:gene\s+)?(?:mutations?|variant|pathogenic\s+variant)\b(?!\s*(?:analysis|testing|"
    r"tests?|status|panel|screen\w*|stud\w*|assay|results?|was|were|is|are|has|have|will|"
    r"\(|:|-))\s*(?:carrier)?\s*[,.;)]?\s*$"
)
# "Triple-negative" is ER, PR and HER2 negative by definition (ASCO/CAP: ER and PR < 1%,
# HER2 0-1+ or ISH non-amplified).
# HGVS sequence variant right after a gene (HGVS nomenclature, den Dunnen et al., Hum Mutat
# 2016): "c.68_69delAG", "c.5946delT (p.Ser1982Argfs*22)", "p.(Arg273His)".
_HGVS = re_compile(
    r"^[\s:,-]{0,12}(?:\(|(?:germline|somatic|pathogenic|variant|splice(?:\s+site)?|missense|"
    r"nonsense|frameshift|truncating)\s+){0,2}"
    r"(?:c\.[-*]?\d+(?:[+-]\d+)?(?:_[-*]?\d+(?:[+-]\d+)?)?(?:[ACGT]>[ACGT]|del[ACGT]*|dup[ACGT]*|"
    r"ins[ACGT]+|delins[ACGT]+)|p\.\(?[A-Z](?:[a-z]{2})?\d+)")
_TRIPLE_NEGATIVE = re_compile(r"(?i)\btriple[\s-]+negative\b")
_LEGEND_AFTER = re_compile(r"(?i)^\s*(?:=\s*\d|:?\s*(?:[<>≤≥]=?|less\s+than|greater\s+than|"
                           r"below|above|under|over)\s*\d)")
_RESULT_FIELD = re_compile(r"(?i)\b(?:interpretation|results?|status|score|intensity)\s*[:\-]\s*"
                           r"(?P<v>[^\s.;][^.;\n]{0,59})")
_SCORE_AHEAD = re_compile(r"^[\s.]{0,3}[0-3]\s*\+")
_ISH_METHOD = re_compile(r"(?i)\b(?:FISH|SISH|CISH|DISH|ISH|dual[\s-]+probe|"
                         r"in\s+situ\s+hybridi[sz]ation)\b")
_ISH_RESULT = re_compile(r"(?i)\b(not\s+amplified|non-?amplified|unamplified|negative|"
                         r"amplified|positive|equivocal)")
_ISH_START = re_compile(r"(?i)^\s*(?:HER2\s*)?(?:\(?\s*)?(?:FISH|SISH|CISH|DISH|ISH|"
                        r"dual[\s-]+probe|in\s+situ\s+hybridi[sz]ation)\b")


def _her2_ish_continuations(hits: list[_Hit], text: str,
                            spans: list[tuple[int, int]]) -> list[_Hit]:
    """"HER2: 2+. FISH: amplified, ratio 2.4" -- an ISH sentence right after a HER2 result
    that names no marker is about HER2: give it a HER2 hit of its own."""
    if not any(hit.marker == "HER2" for hit in hits):
        return hits
    starts = [hit.start for hit in hits]
    added: list[_Hit] = []
    for start, end in spans:
        if not _ISH_START.match(text[start:end]):
            continue
        index = bisect.bisect_left(starts, start)
        if index < len(starts) and starts[index] < end:
            continue  # the sentence names its own marker
        before = hits[index - 1] if index > 0 else None
        if before is not None and before.marker == "HER2" and start - before.end < 300:
            added.append(_Hit("HER2", start, start, ""))
    return sorted(hits + added, key=lambda hit: hit.start) if added else hits


_SCORING_VERB = re_compile(r"(?i)\b(?:are|is)\s+(?:considered|interpreted\s+as|defined\s+as|"
                           r"regarded\s+as)\s+(?:to\s+be\s+)?(?:positive|negative|equivocal|"
                           r"indeterminate)\b")
_SCORING_SUBJECT = re_compile(r"(?i)\b(?:scores?|tumou?rs|carcinomas|cases|results|specimens)\b")


def _blank_scoring_keys(text: str) -> str:
    """The text with each sentence of a report's scoring key blanked (same length)."""
    for verb in list(_SCORING_VERB.finditer(text)):
        start = max(text.rfind(".", 0, verb.start()), text.rfind("\n", 0, verb.start())) + 1
        if not _SCORING_SUBJECT.search(text, max(start, verb.start() - 90), verb.start()):
            continue
        stops = [i for i in (text.find(".", verb.end()), text.find("\n", verb.end())) if i >= 0]
        end = min(stops) if stops else len(text)
        text = text[:start] + " " * (end - start) + text[end:]
    return text
_CONTROL_ASIDE = re_compile(r"(?i)\([^()]{0,40}\bcontrols?\b[^()]{0,40}\)")


def find_biomarker_mentions(text: str, *, vocabulary: Any = None,
                            clauses: list[tuple[int, int]] | None = None) -> list[Biomarker]:
    """Every biomarker result in `text`, one per mention (not merged), in order.

    Mismatch-repair proteins (MLH1, MSH2, MSH6, PMS2) are read one by one and then summed up
    into one MMR result for the text.
    """
    vocab = vocabulary if vocabulary is not None else _vocabulary()
    mmr_proteins = vocab.mmr_proteins()
    if "ontrol" in text:
        # "ER 0% (internal control positive)": the control's staining is no result of the
        # tumour's (blanked, same length, so offsets hold).
        text = _CONTROL_ASIDE.sub(lambda m: " " * len(m.group(0)), text)
    if "considered" in text or "interpreted" in text or "defined" in text:
        # "Carcinomas with staining intensity scores of 3 are considered positive for
        # over-expression of HER2/neu": a report's scoring key, no result.
        text = _blank_scoring_keys(text)
    # Same lookup text as the cancer finder: the vocabulary tokenizes it once per note.
    raw_hits = _split_lists([_Hit(m.key, m.start, m.end, text[m.start : m.end])
                             for m in vocab.find_biomarkers(join_broken_lines(text))], vocab)
    if not raw_hits:
        return _triple_negative(text, clauses if clauses is not None else clause_spans(text))
    # "Histologic features suggestive of microsatellite instability: not identified" is
    # morphology (CAP colon protocol), not an MSI test: it gives no MSI result.
    raw_hits = [hit for hit in raw_hits
                if not _MORPHOLOGY_ONLY.search(text[max(0, hit.start - 45) : hit.start])]
    # "anti-EGFR antibody", "BRAF or MEK inhibitor", "BCMA-directed therapy": a drug's
    # target, named in a treatment history, is no test result.
    raw_hits = [hit for hit in raw_hits
                if not _THERAPY_BEFORE.search(text[max(0, hit.start - 6) : hit.start])
                and not _THERAPY_AFTER.match(text[hit.end : hit.end + 40])]
    spans = clauses if clauses is not None else clause_spans(text)
    raw_hits = _her2_ish_continuations(raw_hits, text, spans)
    hit_starts = [hit.start for hit in raw_hits]
    results: list[Biomarker] = []
    protein_calls: list[tuple[str, str, int, int]] = []  # protein, status, start, end
    index = 0
    for clause_start, clause_end in spans:
        hits = []
        while index < len(raw_hits) and raw_hits[index].start < clause_end:
            if raw_hits[index].start >= clause_start:
                hits.append(raw_hits[index])
            index += 1
        if not hits:
            continue
        groups = _groups(hits, text)
        # Where each group's own window ends: at the next group's leading cue, if it has one.
        pre_calls: list[tuple[str, str, int] | None] = []
        window_ends: list[int] = []
        previous_end = clause_start
        if _MERGED_LINE_BEFORE.search(text[max(0, clause_start - 20) : clause_start]):
            # "METHOD FOR ASSESSMENT OF. HER2 PROTEIN OVEREXPRESSION": OCR joined two lines
            # with a full stop where no sentence can end; the cue before it still acts.
            previous_end = max(0, clause_start - 50)
        for position, group in enumerate(groups):
            first = group[0]
            pre_from = max(previous_end, first.start - 50)
            mmr = first.marker in mmr_proteins
            call = _pre_status(text[pre_from : first.start], mmr)
            window_end = first.start
            if call is not None and "|" in text[pre_from + call[2] + len(call[1]):first.start]:
                # "FLT3-ITD detected, AR 0.71 | FLT3-TKD ...": a table cell's result is its
                # own, not a cue before the next cell's marker
                call = None
            if call is not None:
                call = (call[0], call[1], pre_from + call[2])
                window_end = call[2]
                other = _OTHER_NAME_BEFORE.search(text, pre_from, call[2])
                if (position > 0 and _BELONGS_BEFORE.match(text[previous_end:call[2]]) or
                        other) and _ITEM_BREAK.search(text[call[2] + len(call[1]):first.start]):
                    # "IDH1 wild-type, IDH2 wt", "NRAS no variant | BRAF no variant": the
                    # words right after the previous marker, then a break, are its result,
                    # not a cue before this one; after a name the vocabulary does not hold
                    # ("EGFRvIII not detected"), the previous marker's words end at it.
                    call = None
                    window_end = other.start() if other else first.start
            pre_calls.append(call)
            previous_end = group[-1].end
            if position > 0:
                window_ends.append(window_end)
        window_ends.append(min(clause_end, groups[-1][-1].end + 160))
        for position, group in enumerate(groups):
            last = group[-1]
            window_end = max(window_ends[position], last.end)
            window_start = last.end
            window = text[last.end : window_end][:120]
            mmr = last.marker in mmr_proteins
            post = _post_status(last.marker, window, mmr)
            if post is not None and post[0] in ("positive", "negative") and \
                    _NOT_BEFORE_MARKER.search(text[max(clause_start, group[0].start - 16):
                                                   group[0].start]):
                # "NOT HER2-positive -> anti-HER2 therapy not indicated": the result the
                # sentence denies.
                post = ("negative" if post[0] == "positive" else "positive", post[1], post[2])
            pre = pre_calls[position]
            if position == len(groups) - 1:
                after = bisect.bisect_left(hit_starts, clause_end)
                following = hit_starts[after : after + 1]
                limit = min([clause_end + LOOKAHEAD_CHARS, *following])
                ahead = text[clause_end:limit]
                if post is None and pre is None and not _values(last.marker, window):
                    # The result on the next line ("HER2. Negative (1+)."), or a heading and
                    # its result fields ("KRAS MUTATION ANALYSIS. Specimen: slides. RESULTS:
                    # Wild-type." / "HER2 RESULTS. Interpretation: EQUIVOCAL.").
                    next_line = _post_status(last.marker, ahead[:60], mmr)
                    field = _RESULT_FIELD.search(ahead)
                    if next_line is not None and not ahead[: next_line[2] - len(next_line[1])
                                                            ].strip(" .:-"):
                        window_start = clause_end
                        window = text[clause_end : clause_end + 120]
                        post = next_line
                    elif field:
                        window_start = clause_end + field.start("v")
                        window = text[window_start : window_start + 120]
                        post = _post_status(last.marker, window, mmr)
                    elif _values(last.marker, ahead[:120]):
                        # A heading and its measurement lines: "PD-L1 IHC (22C3):" then
                        # "- Tumor Proportion Score (TPS): 20%".
                        window_start = clause_end
                        window = ahead[:120]
                elif last.marker == "HER2" and not _IHC_SCORE.search(window):
                    # "HER2/NEU: positive. 2+." -- the score after a line break.
                    score = _SCORE_AHEAD.match(ahead)
                    if score:
                        window = text[window_start : clause_end + score.end()]
            for number, member in enumerate(group):
                # A list item's own words run to the next item: "BRAF (including V600E),".
                own = text[member.end : group[number + 1].start] if member is not last else None
                biomarkers = _read_one(member, window_start, window, post, pre, text, vocab,
                                       mmr_proteins, is_last=member is last, own=own)
                for marker_result in biomarkers:
                    if member.marker in mmr_proteins:
                        protein_calls.append((member.marker, marker_result.status,
                                              marker_result.start, marker_result.end))
                    else:
                        results.append(marker_result)
    if protein_calls:
        results.append(_mmr_summary(protein_calls, text))
    results.extend(_triple_negative(text, spans))
    results = _with_origin_heading(_paired_results(results, raw_hits, text), text, spans)
    results = _one_result_lists(results, raw_hits, text)
    results = _untested_or_conditional(results, text)
    results = _the_patients_own(results, text, spans)
    results.sort(key=lambda b: b.start)
    return results


# "NO FGFR3 testing", "No NGS/HER2 testing sent", "no HER2 IHC ever done": a test that was
# never done, named with a denial -- no result at all (not a negative one).
_DENIAL_BEFORE = re_compile(r"(?i)\bno\s+(?:[\w+-]+/)?$")
_DENIAL_START = re_compile(r"(?i)^no\s+(?:[\w+-]+/)?\S+(?:\s\S+){0,2}$")
_TEST_AFTER = re_compile(
    r"(?i)\s*(?:(?:gene|mutation(?:al)?|fusion|status|molecular|biomarker|IHC|FISH)\s+)?"
    r"(?:testing|tests?|IHC|FISH|ISH|NGS|sequencing|assays?|analysis|profiling|results?)\b")
# "if HER2+ would consider trastuzumab", "T-DXd if HER2 IHC 3+", "switch if CLDN18.2 comes
# back positive": a result inside a condition is what a plan waits for, not a finding.
_CONDITION_BEFORE = re_compile(r"(?i)\b(?:if|whether|unless|should)\s+(?:[^\s.;:]+\s+){0,3}$")


def _quoted(text: str, start: int, end: int) -> bool:
    """Words quoted from another document (see `context.quoted_on_line`)."""
    from trialmatch.nlp.context import quoted_on_line

    return quoted_on_line(text, start, end)


# A protein variant right after the marker ("PIK3CA H1047R", "KRAS p.G12D").
_VARIANT_AFTER = re_compile(r"\s*(?:p\.)?[A-Z]\d{1,4}(?:[A-Z*]|fs|del|ins|dup)")
_CLAUSE_BREAK = re_compile(r"--|—|;|\s-\s")
# "a KRAS-mutant tumor is unlikely to carry an NRG1/NTRK fusion": a finding supposed.
_UNLIKELY_BEFORE = re_compile(r"(?i)\b(?:unlikely|likely|expected|not\s+expected)\s+to\s+"
                              r"(?:carry|have|harbou?r|show)\s+(?:an?\s+)?$")
_UNLIKELY = re_compile(r"(?i)\b(?:unlikely|not\s+expected)\s+to\s+(?:carry|have|harbou?r)\b")
# "PDGFRA D842V would predict imatinib resistance": a finding supposed, not found.
_WOULD_AFTER = re_compile(r"(?i)(?:\s+(?:p\.)?[A-Z]\d{1,4}[A-Z*]?)?\s+(?:would|could|might)\s+"
                          r"(?:predict|indicate|suggest|mean|confer|make|be)\b")


# "a 'not detected' result ... does not exclude alterations in EGFR, ALK, ROS1": a test that
# could not see them; the markers it names have no result.
_NOT_EXCLUDED = re_compile(r"(?i)\b(?:(?:does|do|did|can|could|would)\s*not|cannot|can't)\s+"
                           r"(?:exclude|rule\s+out)\b|\bnon-?informative\b|"
                           # "It does not assess TP53, SF3B1 or NOTCH1": not tested
                           r"\b(?:does|do|did)\s*not\s+(?:assess|cover|include|evaluate|test)\b")


# "does not meet criteria for DLBCL/HGBL with MYC and BCL2 rearrangements": a diagnostic
# category's definition, which names markers without giving their results.
_CRITERIA_FOR = re_compile(r"(?i)\b(?:meets?|met|fulfil+s?|fulfil+ed|satisf(?:y|ies|ied))\s+"
                           r"(?:the\s+)?(?:\w+\s+)?criteria\s+(?:for|of)\b[^.;:\n]{0,80}$")


def _not_excluded(text: str, start: int, end: int) -> bool:
    """Is the result's span, or its sentence before it, a disclaimer (`_NOT_EXCLUDED`)?"""
    cut = max(text.rfind(". ", 0, start), text.rfind(";", 0, start), text.rfind("\n\n", 0, start))
    return bool(_NOT_EXCLUDED.search(text, max(cut + 1, start - 150), end))


def _untested_or_conditional(results: list[Biomarker], text: str) -> list[Biomarker]:
    """Drop a marker named as never tested; a result inside an 'if' clause or quoted from
    another document becomes a mention without a result (status unknown)."""
    out: list[Biomarker] = []
    for result in results:
        before = text[max(0, result.start - 30) : result.start]
        # (The result's span may begin at its cue: "No NGS/HER2" is the evidence.)
        if (_DENIAL_BEFORE.search(before) or _DENIAL_START.match(result.evidence)) and \
                _TEST_AFTER.match(text, result.end):
            continue
        if _CRITERIA_FOR.search(text, max(0, result.start - 120), result.start) or \
                _CRITERIA_FOR.search(result.evidence):
            continue
        if result.status != "unknown" and (_CONDITION_BEFORE.search(before) or
                                           _UNLIKELY_BEFORE.search(before) or
                                           _UNLIKELY.search(text, result.start, result.end) or
                                           _quoted(text, result.start, result.end) or
                                           _not_excluded(text, result.start, result.end) or
                                           _WOULD_AFTER.match(text, result.end)):
            result = replace(result, status="unknown", value=None, unit=None,  # type: ignore[arg-type]
                             alteration=None)
        out.append(result)
    return out


# One result for a whole list of genes, written before it ("NEGATIVE: FLT3-ITD / FLT3-TKD,
# NPM1, IDH2", "neg: FLT3-ITD, NPM1", "Not detected: EGFR, KRAS, ... MET amplification",
# "No pathogenic variants in: ...") or after it ("BRCA1/2, RAD51C/D, BRIP1, PALB2 -
# negative"): every gene of the list is negative, whatever the words between items suggest
# ("ITD" names what was looked for, not what was found).
# "pathogenic or likely pathogenic", "reportable", "clinically significant" before "variants"
_VARIANT_KIND = (r"(?:(?:other|pathogenic|likely\s+pathogenic|reportable|clinically\s+significant|"
                 r"deleterious|actionable|harmful|p/lp|lp/p|plp)(?:\s+|/)(?:(?:or|and|and/or)\s+|"
                 r"/\s*)?)*")
_NEGATIVE_HEADING = re_compile(
    r"(?i)(?<![\w-])(?:neg(?:ative)?\.?(?:\s+for)?|not\s+detected|none\s+detected|"
    r"pertinent\s+negatives?|"
    r"no\s+" + _VARIANT_KIND + r"(?:variants?|"
    r"alterations?|mutations?)(?:\s+(?:were\s+|was\s+)?(?:detected|identified|found))?"
    r"(?:\s+(?:in|includes?|including))?|"
    r"wild[\s-]?type(?:\s+for)?)\s*:\s*|"
    # "No pathogenic or likely pathogenic variants were identified in\nBRCA1, TP53, ..."
    r"(?<![\w-])no\s+" + _VARIANT_KIND + r"(?:variants?|alterations?|mutations?)\s+"
    r"(?:were\s+|was\s+)?(?:detected|identified|found)\s+in\b\s*|"
    # a table's heading row over its gene row: "| Genes analyzed with NO clinically
    # significant variants detected |" then "| ATM, BRCA1, CHEK2, ... |"
    r"(?<![\w-])no\s+" + _VARIANT_KIND + r"(?:variants?|alterations?|mutations?)\s+"
    r"(?:were\s+|was\s+)?(?:detected|identified|found)[ \t]*\|[ \t]*\n[ \t]*\|[ \t]*"
    r"(?=[^|\n:]*,)|"
    # "Germline panel: NEGATIVE (BRCA1, BRCA2, PALB2, TP53, ...)": a list in brackets
    r"(?<![\w-])(?:negative|neg|not\s+detected)\s*\(\s*(?=(?-i:[A-Z]{2,}[A-Z0-9]*\b))|"
    # "Also negative for BRAF V600E,\n KRAS,\n NRAS": a list after "negative for"
    r"(?<![\w-])negative\s+for\s+(?=(?-i:[A-Z]{2,}[A-Z0-9]*\b))|"
    # "FUSIONS: none detected (RNA) incl. NTRK1/2/3, RET, ALK"
    r"(?<![\w-])(?:(?:none|not)\s+detected|negative,?)\s*(?:\([^()]{0,20}\)\s*)?"
    r"(?:incl\.?|including)\s+|"
    # "no pathogenic/likely pathogenic variants in 36 genes incl.\n BRCA1, BRCA2, ...", "no
    # harmful changes were found in the other inherited cancer genes checked, including ATM"
    r"(?<![\w-])no\s+" + _VARIANT_KIND + r"(?:variants?|alterations?|mutations?|changes?)\s+"
    r"(?:(?:were|was)\s+)?(?:(?:detected|identified|found)\s+)?in\s+(?:the\s+)?(?:\d+\s+)?"
    r"(?:[\w-]+\s+){0,3}?genes?(?:\s+(?:checked|tested|analy[sz]ed))?\s*,?\s*"
    r"(?:incl\.?|including)\s*|"
    # "Germline panel (9/2019): no pathogenic variants (BRCA1/2, PALB2, ..."
    r"(?<![\w-])no\s+" + _VARIANT_KIND + r"(?:variants?|alterations?|mutations?)"
    r"(?:\s+(?:detected|identified|found))?\s*\(\s*")
# Every match of _NEGATIVE_HEADING starts with one of these ("no" also starts "not", "none").
_NEGATIVE_HEADING_STARTS = ("neg", "no", "wild", "pertinent")
_OTHER_RESULT = re_compile(r"(?i)\b(?:positive|indeterminate|equivocal|amplified|detected\s*:|"
                           r"overexpress\w*)\b")
# (not the stop of an abbreviation: "NOT DETECTED: BTK (incl. C481), PLCG2, NOTCH1")
_LIST_END = re_compile(r"(?<!\bincl)(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)(?<!\betc)(?<!\bapprox)"
                       r"\.(?!\d)(?:\s|$)|;|\n|\s(?:--|\|)\s|$")  # ("... -- TMB 1.6")
# The alteration written after a marker of such a list ("BRAF V600E, ERBB2, MET ex14
# skipping - not detected", "EGFR (ex18-21), ..."): part of the item, not a result. (With
# the result after a dash or colon only: "BRAF V600E, KRAS and NRAS wild-type" found V600E.)
_LISTED_ALTERATION = (r"(?:\s*\(?\s*(?:p\.)?[A-Z]\d{1,4}(?:[A-Z*]|fs|del|ins)?\b\)?|"
                    r"\s*\(?\s*ex(?:on)?s?\s*\d{1,2}(?:\s*(?:[-–,/]|and|or)\s*\d{1,2})*\)?|"
                    r"\s+(?:skipping|amplification|fusions?|rearrangements?|mutations?|"
                    r"insertions?|deletions?|variants?|alterations?|transcripts?|region)\b)")
_NEGATIVE_AFTER_LIST = re_compile(
    _LISTED_ALTERATION + r"{0,3}"
    r"\s*(?:[-–:=]|\.{2,}|…)\s*(?:negative|not\s+(?:detected|deleted|amplified|rearranged)|"
    r"wild[\s-]?type|no\s+"
    + _VARIANT_KIND + r"(?:variants?|mutations?|alterations?)(?:\s+(?:detected|identified|"
    r"found))?)\b", re.I)
_LIST_GAP = re_compile(_LISTED_ALTERATION + r"{0,3}"
                       r"[\s,/&()]*(?:[0-9A-Z]{1,2}(?=[\s,/&()]))?[\s,/&()]*"
                       r"(?:(?:and|or)\s+)?")
# A line break with no list word or mark before it ends a list: in "TP53 R175H\n PIK3CA
# E545K\n ERBB2 amplification - not detected" each line is a finding of its own.
_LINE_PER_ITEM = re_compile(r"[^,/&\n]*\n[^,/&]*", re.I)
# Words saying the list is a gene test (germline or tumour sequencing), not an IHC panel:
# "MLH1/MSH2/MSH6/PMS2 - negative" there means no variant, not lost staining.
_GENE_TEST = re_compile(r"(?i)\b(?:germline|NGS|sequencing|panel|variants?|mutations?|"
                        r"genetic|hereditary|Lynch|genes)\b")


# "Genes analysed:", "Genes / regions analysed (DNA):", "Genes tested:": the list of what
# a panel covered.
_ANALYSED_HEADING = re_compile(
    r"(?i)\b(?:genes?|regions?)(?:\s*/\s*regions?)?\s+(?:analy[sz]ed|tested|examined|"
    r"evaluated|sequenced|assessed|included|covered)(?:\s*\([^()\n]{0,30}\))?\s*:\s*")
# A report's overall result that nothing was found ("No clinically relevant sequence variants
# were detected", "RESULT: NEGATIVE - NO PATHOGENIC OR LIKELY PATHOGENIC VARIANTS IDENTIFIED").
_OVERALL_NEGATIVE = re_compile(
    r"(?i)\b(?:no\s+(?:clinically\s+(?:relevant|significant)\s+)?(?:sequence\s+)?"
    + _VARIANT_KIND + r"(?:variants?|mutations?|alterations?)\s+(?:were\s+|was\s+)?"
    r"(?:detected|identified|found)|result\s*:\s*negative)\b")
# A heading of findings ("VARIANTS DETECTED", "Alterations identified:"): some gene of the
# panel has a variant, so the list of genes analysed is no list of negatives.
_FINDINGS_HEADING = re_compile(
    r"(?i)\b(?:variants?|alterations?|mutations?)\s+(?:detected|identified|found)\s*(?::|\n)|"
    r"\bdetected\s+alterations?\b")


# Words of a finding or a result: a segment holding one is no bare item of a list.
_FINDING_WORDS = re_compile(r"(?i)\b(?:detected|identified|positive|negative|mutated|"
                            r"amplified|vaf|tier)\b|%|\d\s*copies|:")


def _list_end(text: str, heading: re.Match[str], hits: list[_Hit]) -> int:
    """Where the list after a negative heading ends: at its first stop, or further while
    the next piece holds only more names. "ASXL1, BCOR, ...,\nFLT3, IDH1, ...": a line ending
    in a comma goes on; "KRAS; BRAF; MET exon 14 skipping;\nERBB2 amplification": items
    separated by semicolons, over lines ending in one; "not detected:\n<list>": a list that
    starts on a line of its own runs over its lines."""
    end = _LIST_END.search(text, heading.end()).start()
    block = "\n" in heading.group()
    while end < len(text) and text[end] in ";\n":
        if text[end] == "\n" and not block and not \
                text[heading.end():end].rstrip().endswith((",", ";")):
            break
        start = end + 1
        if text[end] == ";" and text.startswith("\n", start):
            start += 1  # ";" at the end of a line: one stop
        following = _LIST_END.search(text, start).start()
        piece = text[start:following]
        if text[end - 1:end] != "," and (not piece.strip() or _FINDING_WORDS.search(piece) or
                                         not any(start <= h.start < following for h in hits)):
            break
        end = following
    return end


def _one_result_lists(results: list[Biomarker], hits: list[_Hit],
                      text: str) -> list[Biomarker]:
    """Results of markers inside a list with one negative result for all (see
    `_NEGATIVE_HEADING`) set to negative; an MMR summary read from such a list in a gene
    test dropped (a germline or sequencing result is no protein staining)."""
    spans: list[tuple[int, int, bool]] = []  # start, end, is a gene test

    def add_span(start: int, end: int) -> None:
        spans.append((start, end, bool(_GENE_TEST.search(text[max(0, start - 80):end]))))

    # Tried only where a heading's first word starts (context.matches_at).
    for heading in matches_at(_NEGATIVE_HEADING, text, word_starts(
            lowered_for_search(text), _NEGATIVE_HEADING_STARTS)):
        end = _list_end(text, heading, hits)
        other = _OTHER_RESULT.search(text, heading.end(), end)
        if other:
            # "Negative for ALK rearrangement, positive for EGFR exon 19 deletion": the list
            # stops where another result begins
            end = other.start()
        opened = text.count("(", heading.end(), end) - text.count(")", heading.end(), end)
        if opened > 0:
            # a line break inside brackets does not end the list ("FGFR3 (incl.\n FGFR3
            # S249C/Y373C and FGFR3-TACC3 fusions not detected), PIK3CA, ...")
            close = text.find(")", end)
            if 0 <= close < end + 300:
                end = _LIST_END.search(text, close + 1).start()
        if any(heading.end() <= hit.start < end for hit in hits):
            add_span(heading.start(), end)
    denials = [m.span() for m in _OVERALL_NEGATIVE.finditer(text)]
    if denials and not any(not any(a <= m.start() < b for a, b in denials)
                           for m in _FINDINGS_HEADING.finditer(text)):
        # "Genes analysed: EGFR (exons 18-21), KRAS, ... MET (exon 14 and flanking splice
        # sites)" in a report whose result is "no pathogenic variants identified": each
        # gene analysed has no variant (the words in brackets say what was covered).
        for heading in _ANALYSED_HEADING.finditer(text):
            end = _list_end(text, heading, hits)
            if any(heading.end() <= hit.start < end for hit in hits):
                spans.append((heading.start(), end, True))
    for index, hit in enumerate(hits):
        after = _NEGATIVE_AFTER_LIST.match(text, hit.end)
        if after is None:
            continue
        first = index
        while first > 0 and _LIST_GAP.fullmatch(text, hits[first - 1].end, hits[first].start) \
                and not _LINE_PER_ITEM.fullmatch(text, hits[first - 1].end, hits[first].start):
            first -= 1
        if first < index:  # a list of two or more markers
            add_span(hits[first].start, after.end())
    if not spans:
        return results
    out: list[Biomarker] = []
    for result in results:
        inside = next((span for span in spans if span[0] <= result.start < span[1]), None)
        if inside is None:
            out.append(result)
        elif result.marker == "MMR":
            if not inside[2]:
                out.append(result)
            else:
                # A germline or sequencing list's MLH1, MSH2, MSH6, PMS2 are genes with no
                # variant, not proteins retained on staining.
                out.extend(replace(result, marker=gene, alteration=None,  # type: ignore[arg-type]
                                   status="negative")
                           for gene in _MMR_GENE.findall(text, result.start, result.end))
        elif result.status != "negative" and result.marker not in ("PD-L1", "Ki-67", "TMB"):
            out.append(replace(result, status="negative"))  # type: ignore[arg-type]
        else:
            out.append(result)
    return out


_MMR_GENE = re_compile(r"(?<![\w-])(MLH1|MSH2|MSH6|PMS2|EPCAM)(?![\w-])")


# A denial right before a marker and its result: "not HER2-positive", "is not ER-negative".
_NOT_BEFORE_MARKER = re.compile(r"(?i)\b(?:not|isn't|aren't|wasn't)\s+(?:an?\s+)?$")
_DENIED = {"positive": "negative", "negative": "positive"}
# Markers whose result is the protein's expression (positive = expressed).
_EXPRESSED_MARKERS = frozenset({"PD-L1", "ER", "PR", "HER2", "AR", "CLDN18", "Ki-67"})


# "ER/PR: positive/negative", "ER/PR (+/-)": two markers and two results, each to its own.
_PAIRED_STATUS = re_compile(r"(?i)\s*(?:[:=]\s*|\(\s*)?(?P<a>positive|negative|pos|neg|\+|-)"
                            r"\s*/\s*(?P<b>positive|negative|pos|neg|\+|-)(?![\w/])")


def _paired_results(results: list[Biomarker], hits: list[_Hit], text: str) -> list[Biomarker]:
    """Give each of two slash-joined markers the result in the same place of a slash-joined
    pair of results after them."""
    pairs: dict[int, str] = {}
    for first, second in zip(hits, hits[1:], strict=False):
        if not re.fullmatch(r"\s*/\s*", text[first.end : second.start]):
            continue
        statuses = _PAIRED_STATUS.match(text, second.end)
        if statuses:
            for hit, word in ((first, statuses.group("a")), (second, statuses.group("b"))):
                pairs[hit.start] = "positive" if word.lower() in ("positive", "pos", "+") \
                    else "negative"
    if not pairs:
        return results
    return [replace(result, status=pairs[result.start])  # type: ignore[arg-type]
            if result.start in pairs and result.unit is None else result
            for result in results]


_ORIGIN = re_compile(r"(?i)\b(?:germline|somatic)\b")


def _with_origin_heading(results: list[Biomarker], text: str,
                         spans: list[tuple[int, int]]) -> list[Biomarker]:
    """A gene result listed under a heading that states the origin ("Germline multigene
    panel (blood): PATHOGENIC VARIANT DETECTED" then "BRCA1 c.68_69delAG") carries that
    heading in its evidence, so that a germline requirement can see it."""
    from trialmatch.nlp.context import clause_of

    starts = [span[0] for span in spans]
    # A clause that names markers itself is their result, not a heading over the next line:
    # "Germline (2021): BRCA1/2, PALB2 ... - negative." then "FoundationOne CDx: TP53 R175H".
    with_markers = {bisect.bisect_right(starts, r.start) - 1 for r in results}
    updated: list[Biomarker] = []
    for result in results:
        if result.marker in _NO_ALTERATION or result.status == "unknown":
            updated.append(result)
            continue
        clause = clause_of(spans, result.start)
        index = bisect.bisect_right(starts, clause[0]) - 1
        if index > 0 and index - 1 not in with_markers and \
                not _ORIGIN.search(text[clause[0] : clause[1]]):
            previous = spans[index - 1]
            heading = text[previous[0] : previous[1]]
            if (":" in heading and _ORIGIN.search(heading) and len(heading) <= 160
                    and not text[previous[1] : clause[0]].strip()):
                result = replace(result, start=previous[0],
                                 evidence=text[previous[0] : result.end].strip())
        updated.append(result)
    return updated


def _the_patients_own(results: list[Biomarker], text: str,
                      spans: list[tuple[int, int]]) -> list[Biomarker]:
    """Results without those of a relative ("her sister is a BRCA2 carrier", "BRCA1
    mutation in her maternal aunt")."""
    from trialmatch.nlp.context import clause_of, other_person

    if not results or phrase_search(load_cues().other_person_pre, text) is None:
        return results
    return [r for r in results
            if not other_person(text, r.start, r.end, clause_of(spans, r.start))]


def _triple_negative(text: str, spans: list[tuple[int, int]]) -> list[Biomarker]:
    """ER, PR and HER2 negative from an asserted "triple-negative" (not negated)."""
    from trialmatch.nlp.context import clause_of, mention_context

    found: list[Biomarker] = []
    if "triple" not in lowered_for_search(text):
        return found
    for match in _TRIPLE_NEGATIVE.finditer(text):
        context = mention_context(text, match.start(), match.end(),
                                  clause_of(spans, match.start()))
        if context.negated or context.hypothetical:
            continue
        for marker in ("ER", "PR", "HER2"):
            found.append(Biomarker(marker=marker, alteration=None, status="negative",
                                   evidence=match.group(0), start=match.start(),
                                   end=match.end()))
    return found


def _read_one(hit: _Hit, window_start: int, group_window: str,
              post: tuple[str, str, int] | None, pre: tuple[str, str, int] | None, text: str,
              vocab: Any, mmr_proteins: set[str], is_last: bool,
              own: str | None = None) -> list[Biomarker]:
    """The result(s) for one marker mention of a list (`is_last` for the one whose window
    follows it), given the window after the list and the cues around it. `own` holds the
    words between a list item and the next item (None for the last item)."""
    marker = hit.marker
    if post is not None and post[1] == "-" and text[window_start + post[2]:
                                                    window_start + post[2] + 1].isalpha():
        # "IDH-mutant and 1p/19q-codeleted": a hyphen joining a word (the window stops where
        # the next marker's cue begins) is no minus sign; read on in the text.
        post = _post_status(marker, text[window_start:window_start + 60], marker in mmr_proteins)
    start = pre[2] if pre else hit.start
    end = window_start + post[2] if post else hit.end
    named = vocab.status_of_alias(hit.text) if not is_last else None
    if named is not None:
        # A list item carrying its result in its name ("ER-low, PR loss"): the words after
        # the list are the last item's, not this one's.
        post, pre, end = (named, hit.text, len(hit.text)), None, hit.end
    # Status written in the marker's own name ("MSI-H", "dMMR", "MSS", "TMB-high").
    if marker in ("TMB", "PD-L1") and post is None:
        level = re.search(r"(?i)(?<![a-z])(high|low)\b", hit.text)
        if level:
            post = ("positive" if level.group(1).lower() == "high" else "negative",
                    level.group(1).lower(), 0)
    if marker == "MSI":
        probe = hit.text + " " + group_window[:40]
        if _MSI_HIGH.search(hit.text) and _DENIED_AFTER.match(group_window):
            post = ("negative", "not detected", 0)
        elif _MSI_HIGH.search(hit.text) or (not post and _MSI_HIGH.search(probe)):
            post = ("positive", "high", 0)
        elif _MSI_STABLE.search(hit.text) or (not post and _MSI_STABLE.search(probe)):
            post = ("negative", "stable", 0)
    if marker == "MMR":
        probe = text[max(0, hit.start - 15) : hit.end] + " " + group_window[:40]
        if _DMMR.search(probe):
            post = ("positive", "deficient", 0)
        elif _PMMR.search(probe):
            post = ("negative", "proficient", 0)
    # "negative for ER and PR, and indeterminate for HER2": a result after a comma or "and"
    # belongs to what follows it, not to a list that already has its result before it.
    if (pre is not None and pre[0] in ("positive", "negative") and post is not None
            and post[0] in ("unknown", "equivocal")
            and re.search(r",|\band\b", group_window[: max(0, post[2] - len(post[1]))])):
        post = None
    broken = _CLAUSE_BREAK.search(group_window, 0, max(0, post[2] - len(post[1]))) \
        if post is not None and post[0] == "negative" and _VARIANT_AFTER.match(group_window) \
        else None
    if broken is not None and len(re.findall(r"[A-Za-z]{2,}", group_window[
            broken.end():max(0, post[2] - len(post[1]))])) >= 2:  # type: ignore[index]
        # "PIK3CA H1047R on NGS -- no approved PI3K/AKT agent in HR-neg disease": a variant
        # named is a finding; a result word past a break is another clause's.
        post = None
    values = _values(marker, group_window) if is_last else []
    status: str | None = None
    if post is not None and post[2] == 0 and post[0] in _DENIED and pre is not None and (
            _NOT_BEFORE_MARKER.search(text[max(0, hit.start - 16):hit.start]) or (
                post[0] == "positive" and pre[0] == "negative" and
                not text[pre[2] + len(pre[1]):hit.start].strip())):
        # "not MSI-high", "is not dMMR", "negative for MMR deficiency": a denial before a
        # marker whose name carries its result.
        post = (_DENIED[post[0]], post[1], 0)
        pre = None
    if post is not None:
        status = post[0]
        # "No EGFR mutation detected", "indeterminate for HER2 overexpression": the cue
        # before decides what a bare presence word after means.
        if pre is not None and pre[0] in ("negative", "unknown") and post[1] in _PRESENCE_WORDS:
            status = pre[0]
    value: float | None = None
    unit: str | None = None
    her2_ish: Biomarker | None = None
    for number, number_unit, cmp, number_end in values:
        if marker == "HER2" and number_unit == "ratio":
            continue
        if cmp == "range":
            # "TPS 1-49%" names a reporting category, not a measured value: it decides the
            # status (by its lower bound) only where no word does, and a score written
            # elsewhere keeps the value.
            if status is None:
                status = _status_from_value(marker, number, number_unit, None)
            continue
        if value is None:
            value, unit = number, number_unit
            end = max(end, window_start + number_end)
            # A measured value decides over a word that only says the test was ordered or
            # is pending ("PD-L1 (22C3) ordered: TPS 15%").
            # A tumour mutational burden in mut/Mb decides over a level word, which may be
            # denied ("5.8 mut/Mb (not high)") or another marker's ("18 mut/Mb, MS-stable").
            if status is None or status == "unknown" or (
                    marker == "HER2" and number_unit == "IHC") or number_unit == "mut/Mb":
                status = _status_from_value(marker, number, number_unit, cmp) or status
    before = text[pre[2] : hit.start] if pre else ""
    if marker == "HER2" and _HER2_ISH.search(before + " " + group_window[:100]):
        ratio = next((v for v in values if v[1] == "ratio"), None)
        ish_status = post[0] if post is not None and post[1] not in ("equivocal",) else (
            pre[0] if pre is not None and _HER2_ISH.search(before) else None)
        # "HER2 equivocal (2+), FISH amplified": the ISH result is the word after the ISH
        # method, not the IHC word before it.
        method = _ISH_METHOD.search(group_window, 0, 120)
        ish_words = _ISH_RESULT.search(group_window, method.end() if method else 0, 120)
        if ish_words:
            word = ish_words.group(1).lower().replace(" ", "")
            ish_status = ("negative" if word in ("notamplified", "nonamplified",
                                                 "non-amplified", "unamplified", "negative")
                          else "equivocal" if word == "equivocal" else "positive")
        elif ratio is not None:
            # The count is often written after the next "HER2" ("ratio 2.3, average HER2
            # copy number 3.5"), past this hit's window: read on in the text.
            copies = _HER2_COPIES.search(text, window_start, window_start + 200)
            ish_status = _her2_ish_group(ratio[0],
                                         float(copies.group("v")) if copies else None)
        if ish_status is not None:
            ish_end = window_start + max(ish_words.end() if ish_words else 0,
                                         ratio[3] if ratio else 0)
            her2_ish = Biomarker(
                marker="HER2", alteration="amplification", status=ish_status,  # type: ignore[arg-type]
                value=ratio[0] if ratio else None, unit="ratio" if ratio else None,
                evidence=text[start:ish_end].strip(), start=start, end=ish_end)
            if unit != "IHC":
                return [her2_ish]
    if status is None and pre is not None:
        status = pre[0]
        if status == "positive" and marker in _EXPRESSED_MARKERS and \
                pre[1].lower().startswith("loss"):
            # "loss of PD-L1 expression", "loss of ER": a protein read by its expression is
            # no longer expressed (for a tumour suppressor or an MMR protein loss is the
            # finding).
            status = "negative"
    if status is None:
        # "HR-deficient", "HRD positive", "Ph+": the result is in the name (status_aliases)
        status = vocab.status_of_alias(hit.text)
    alteration = None
    if marker not in _NO_ALTERATION and marker not in mmr_proteins:
        # The most specific alteration written: "p.L858R ... mutation" is L858R.
        if own is None:
            found = [m.key for m in vocab.find_alterations(hit.text + group_window[:80])]
        else:
            # Bracketed detail belongs to the item right before it ("MET (including exon 14
            # skipping)"); only a class word after the list ("fusions") is shared by all.
            found = [m.key for m in vocab.find_alterations(hit.text + own)] or [
                m.key for m in vocab.find_alterations(_DETAIL.sub(" ", group_window[:80]))
                if not any(ch.isdigit() for ch in m.key)]
        specific = [key for key in found if key not in _CLASS_ONLY]
        alteration = specific[0] if specific else (found[0] if found else None)
        variant = _HGVS.match(own if own is not None else group_window)
        if (alteration is None or alteration in _CLASS_ONLY) and variant:
            # A sequence variant in HGVS notation ("BRCA1 c.68_69delAG") is a mutation found,
            # unless a cue says otherwise ("no ...", "variant of uncertain significance");
            # "BRCA2 c.5946del ... (germline, matched normal)" one of germline origin.
            alteration = alteration or "mutation"
            specific = [alteration]
            end = max(end, (window_start if own is None else hit.end) + variant.end())
        if marker == "HER2" and unit == "IHC":
            alteration = None
        # A named variant with no result word is a finding ("EGFR exon 19 deletion"), and
        # so is a bare "BRCA2 mutation" -- but not "EGFR mutation analysis".
        signed = _SIGNED_ALTERATION.match(own if own is not None else group_window)
        if status is None and specific and signed:
            # "FLT3-ITD-; FLT3-TKD-", "FLT3-ITD+": the sign after the alteration's name
            status = "positive" if signed.group("s") == "+" else "negative"
        if status is None and is_last and (specific or _BARE_MUTATION.match(group_window)):
            status = "negative" if _DENIED_START.match(group_window) else "positive"
    if status is None:
        status = "unknown"
    evidence = text[start:end].strip()
    result = Biomarker(marker=marker, alteration=alteration, status=status,  # type: ignore[arg-type]
                       value=value, unit=unit, evidence=evidence, start=start, end=end)
    return [result, her2_ish] if her2_ish is not None else [result]


def _mmr_summary(calls: list[tuple[str, str, int, int]], text: str) -> Biomarker:
    """One MMR result from the protein-by-protein calls (positive = deficient)."""
    lost = sorted({protein for protein, status, _, _ in calls if status == "positive"})
    retained = sorted({protein for protein, status, _, _ in calls if status == "negative"})
    start = min(call[2] for call in calls)
    end = max(call[3] for call in calls)
    if lost:
        status, alteration = "positive", "loss of " + "/".join(lost)
    elif retained:
        status, alteration = "negative", None
    else:
        status, alteration = "unknown", None
    evidence = text[start:end].strip()
    if len(evidence) > 240:
        evidence = evidence[:237] + "..."
    return Biomarker(marker="MMR", alteration=alteration, status=status,  # type: ignore[arg-type]
                     value=None, unit=None, evidence=evidence, start=start, end=end)


def biomarker_key(biomarker: Biomarker) -> tuple[str, str | None, str | None]:
    """What makes two results the same finding: marker, alteration, and for HER2 the method."""
    method = None
    if biomarker.marker == "HER2":
        # HER2 by IHC (a score) and by ISH (amplification) are kept apart from the overall
        # statement: a report may give all three (ASCO/CAP 2018 reflex testing).
        if biomarker.alteration == "amplification":
            method = "ISH"
        elif biomarker.unit == "IHC":
            method = "IHC"
    elif biomarker.marker == "PD-L1" and biomarker.unit in ("TPS", "CPS"):
        method = biomarker.unit  # a report may give both scores
    alteration = biomarker.alteration
    if alteration in (None, "mutation") or biomarker.marker == "MMR":
        alteration = None  # one MMR result per note: the protein summary or the statement
    return biomarker.marker, alteration, method


# The test a result names: a result, not a passing mention of one.
_TEST_NAMED = re_compile(r"\b(?:IHC|immunohisto\w*|immunostain\w*|FISH|[CS]?ISH|NGS|PCR|"
                         r"sequencing|panel|assay|Foundation\w*|Tempus|Guardant|stain\w*|"
                         r"flow\s+cytometry)\b", re.IGNORECASE)


def merge_biomarkers(mentions: list[Biomarker],
                     weights: list[float] | None = None) -> list[Biomarker]:
    """One result per finding: the best-supported mention of each (marker, alteration).

    Preference: a stated result over "unknown", then the higher section weight, then a
    mention with a number, then one naming the test that gave it ("p16 IHC strong diffuse
    positive" over "p16-negative nomenclature" in a staging remark), then the later mention
    (an addendum corrects the report).
    Unknown "mentioned" results are dropped for a marker that has a stated result.
    """
    weights = weights if weights is not None else [1.0] * len(mentions)
    best: dict[tuple[str, str | None, str | None], tuple[tuple[Any, ...], Biomarker]] = {}
    for order, (mention, weight) in enumerate(zip(mentions, weights, strict=True)):
        score = (_STATUS_RANK[mention.status] > 0, weight, mention.value is not None,
                 mention.alteration is not None, bool(_TEST_NAMED.search(mention.evidence)),
                 order)
        key = biomarker_key(mention)
        if key not in best or score > best[key][0]:
            best[key] = (score, mention)
    chosen = [item[1] for item in best.values()]
    stated_markers = {b.marker for b in chosen if b.status != "unknown"}
    chosen = [b for b in chosen if b.status != "unknown" or b.marker not in stated_markers]
    # "PD-L1 expression detected" beside "TPS 20%" says nothing more: the scored result
    # stands for it (an unscored result that disagrees is kept for review).
    scored = {(b.marker, b.status) for b in chosen if b.marker == "PD-L1" and b.unit}
    chosen = [b for b in chosen
              if not (b.marker == "PD-L1" and b.unit is None and (b.marker, b.status) in scored)]
    # A generic "EGFR mutation: not detected" and a specific positive finding can coexist;
    # a generic unknown next to any specific finding of the marker adds nothing.
    chosen.sort(key=lambda b: b.start)
    return _latest_receptor_status(chosen)


# Receptor statuses a new specimen redefines (ASCO/CAP: ER, PR and HER2 are retested on a
# recurrence and the latest decides); HER2 here as protein or amplification, not an ERBB2
# mutation. PD-L1 too, score by score (a new specimen's TPS replaces the old TPS).
_RESTATED_MARKERS = frozenset({"ER", "PR", "HER2"})
_STATUS_ALTERATIONS = (None, "amplification", "overexpression")


def _latest_receptor_status(results: list[Biomarker]) -> list[Biomarker]:
    """Results in text order, with an earlier ER, PR or HER2 status that the latest stated
    one contradicts left out ("2019: ER 5% ... 2024 liver biopsy: ER 0%" is ER-negative
    now). Only a positive or negative result supersedes: an equivocal one (HER2 IHC 2+)
    waits for its ISH."""
    dropped: set[int] = set()
    groups: dict[tuple[str, str | None], list[Biomarker]] = {}
    for b in results:
        if b.status in ("positive", "negative") and (
                (b.marker in _RESTATED_MARKERS and b.alteration in _STATUS_ALTERATIONS) or
                (b.marker == "PD-L1" and b.unit is not None)):
            # PD-L1 by its score: a TPS below 1% and a CPS of 8 are one result, not two.
            groups.setdefault((b.marker, b.unit if b.marker == "PD-L1" else None), []).append(b)
    for stated in groups.values():
        if len({b.status for b in stated}) < 2:
            continue
        last = max(stated, key=lambda b: b.start)
        dropped |= {id(b) for b in stated if b.status != last.status and b.start < last.start}
    return [b for b in results if id(b) not in dropped] if dropped else results


def with_family_members(results: list[Biomarker], vocabulary: Any = None) -> list[Biomarker]:
    """A gene family found negative stands for each of its genes ("NTRK1/2/3 fusions: not
    detected", "RAS wild-type", "no NTRK fusion": NTRK1, NTRK2 and NTRK3 negative), added for
    the genes the results do not report themselves; a positive family result names no gene."""
    vocab = vocabulary or _vocabulary()
    reported = {b.marker for b in results}
    added: list[Biomarker] = []
    for result in results:
        if result.status != "negative":
            continue
        entry = vocab.biomarker(result.marker)
        for member in (entry.members if entry is not None else ()):
            if member not in reported:
                reported.add(member)
                added.append(replace(result, marker=member))  # type: ignore[arg-type]
    return results + added if added else results


def find_biomarkers(text: str, *, vocabulary: Any = None) -> list[Biomarker]:
    """Biomarker results stated in `text`, one per finding, in order of appearance.

    Works on a whole note or a short phrase such as a first opinion's "PD-L1 TPS 10%" or
    "HER2-negative". Offsets refer to `text`.
    """
    return merge_biomarkers(find_biomarker_mentions(text, vocabulary=vocabulary))


def with_offset(biomarker: Biomarker, offset: int) -> Biomarker:
    """The same result with its offsets shifted (for notes joined into one text)."""
    return replace(biomarker, start=biomarker.start + offset, end=biomarker.end + offset)
