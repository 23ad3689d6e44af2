"""TNM categories and stage groups as written in pathology notes.

Source of the notation: AJCC Cancer Staging Manual, 8th edition (2017), chapter 1 —
prefixes c (clinical), p (pathological), yp/yc (after neoadjuvant therapy), r (recurrence),
a (autopsy); subcategories such as T1mi, T2a, N1mi, N0(i+), M1c; TX/NX for "cannot be
assessed". FIGO stages (FIGO 2009 cervix/uterus, FIGO 2014 ovary) are kept apart in
`Stage.figo`; AJCC 8th edition adopts the FIGO groups for gynaecologic sites, so a FIGO stage
fills a missing `group` (marked derived). Any M1 category means stage group IV in every AJCC
chapter, so an M1 with no written group gives group IV (marked derived).

Everything here is a pure function of the text; `find_tnm` and `find_stage_groups` return
every mention with its offsets so that callers can weigh them by report section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from trialmatch.models import Stage
from trialmatch.nlp.context import lowered_for_search, matches_at, word_starts
from trialmatch.regex_cache import re_compile

_ROMAN = {"0": "0", "1": "I", "2": "II", "3": "III", "4": "IV"}
_ROMAN_VALUES = ("IV", "III", "II", "I", "0")

# One T, N or M category, with an optional prefix. OCR variants (O for 0, l or I for 1,
# capitals) are accepted only where a prefix or a neighbouring category makes the reading
# unambiguous (checked in `_accept`).
_TOKEN = re_compile(
    r"(?P<pre>(?:yp|yc|rp|rc|ap|YP|YC|RP|[pcrya]|P|C|R)|(?:yp|p)\s(?=T))?"
    r"(?P<axis>[TNM])"
    # OCR's stray blank after the axis ("pT 2"): kept only after a y/p prefix (find_tnm)
    r"(?P<gap> (?=[1-4X0]))?"
    r"(?P<cat>is|IS|Is|[Xx]|[1-4lIO0](?:mi|MI|[a-dA-D][1-4]?)?|(?<=T)a|(?<=T)A)"
    r"(?P<suf>\s?\((?:i[+-]|mol[+-]|I[+-]|MOL[+-]|sn|SN|f|m|M|\d{1,2}|is|DCIS|LCIS|Paget'?s?)\))?"
    r"(?=$|[^A-Za-z0-9]|(?:yp|[pcy])?[NM][0-3XxO])"
)
_SEPARATOR = re_compile(r"[\s,;/.\-]*(?:\(\s*\d{1,3}\s*/\s*\d{1,3}\s*\)[\s,;/.\-]*)?")
_CONTEXT = re_compile(
    r"(?i)(?:stage|staging|tnm|ajcc|uicc|classification|category|categories|"
    r"primary\s+tumou?r|regional\s+lymph\s+nodes?|lymph\s+nodes?|distant\s+metastas[ie]s|"
    r"(?:patholog\w*|clinical)\s+[tnm]\b|\b[tnm]\s+(?:stage|category)|tumou?r\s+extent|"
    r"distant\s+(?:tissues?|sites?|spread)|extent\s+of\s+invasion|extension|any\s+[tn]|"
    r"\((?:y?p|c)?[tnm]\))(?:[^.\n]|\.\s){0,30}$"
)
_STAGE_GROUP = re_compile(
    r"(?i)(?<![A-Za-z])(?:(?:ajcc|tnm|uicc|pathologic(?:al)?|clinical|overall|anatomic(?:al)?|"
    r"prognostic|final)\s+)*stage(?:\s+group(?:ing)?)?\s*(?:\([^)]{0,50}\))?"
    r"\s*[:\-=]?\s*(?:is\s+|of\s+)?(?:ajcc\s+)?"
    r"(?P<g>IV|I{1,3}|0|[1-4])(?P<s>\s?-?\s?[ABCabc][1-3]?)?(?![A-Za-z0-9])"
    # "AJCC IIIC", "AJCC 8th ed. IIB": the staging system named, the word "stage" left out
    # (Roman numerals only: "AJCC 8" is an edition).
    r"|(?<![A-Za-z])AJCC\s*(?:\(?\d{1,2}(?:st|nd|rd|th)?\s*(?:ed\.?|edition)\)?\s*)?[:\-=]?\s*"
    r"(?P<g3>IV|I{1,3})(?P<s3>[ABC][1-3]?)?(?![A-Za-z0-9])"
)
# Every match of _STAGE_GROUP starts with one of these words (a qualifier, "stage" or AJCC).
_STAGE_GROUP_STARTS = ("ajcc", "tnm", "uicc", "pathologic", "clinical", "overall", "anatomic",
                       "prognostic", "final", "stage")
_LABEL_KIND = re_compile(r"(?i)\b(?:patholog\w*|clinical)\b(?=[^.;\n]*$|\.\s*$)")
# The TNM edition a run of categories is given in, written just before it: "TNM 7 T3 N1",
# "AJCC 7th edition: pT2", "(UICC 8th ed.) pT1c", "TNM6: T3".
_EDITION = re_compile(
    r"(?i)(?:\b(?:TNM|AJCC|UICC)\s*[-:]?\s*(?:v(?:ersion)?\.?\s*)?(?P<a>[4-9])(?:th)?"
    r"(?:\s*ed(?:ition|\.)?)?|\b(?P<b>[4-9])th\s+ed(?:ition|\.)?(?:\s+(?:TNM|AJCC|UICC))?)"
    r"\s*[):,\-]?\s*(?:(?:patholog\w*|clinical)\s+(?:stag\w*\s*)?[:\-]?\s*)?$")
# A stage the text places in the past: the disease has moved on since (a recurrence or
# progression is restaged; AJCC 8th ed. ch. 1, "rTNM").
_HISTORICAL_AFTER = re_compile(
    r"(?i)^[^.;\n]{0,25}?\b(?:at\s+(?:that\s+time|the\s+time\s+of\s+(?:initial\s+|original\s+)?"
    r"diagnosis|(?:initial\s+|original\s+)?diagnosis|presentation)|initially|originally|"
    r"previously|in\s+(?:19|20)\d\d)\b")
_HISTORICAL_BEFORE = re_compile(
    r"(?i)\b(?:initially|originally|previously|formerly|history\s+of|h/o|prior)\s+"
    r"(?:an?\s+|the\s+)?(?:\w+\s+){0,3}$")
_CLINICAL = re_compile(r"(?i)clinical|\bcTNM|clinician|pre-?operative|radiolog")
_FIGO = re_compile(
    r"(?i)(?<![A-Za-z])FIGO\s*(?:\(?\d{4}\)?)?\s*(?:stage)?\s*(?:\(\d{4}\))?\s*[:\-=]?\s*"
    # "IIIC1r", "IIIC2p": FIGO 2018 marks how nodes were found (radiology, pathology)
    r"(?:stage\s*)?(?P<g>IV|I{1,3}|[1-4])(?P<s>\s?-?\s?[ABCabc][1-3]?)?(?:(?<=[1-3])[rp])?"
    r"(?![A-Za-z0-9])"
    r"|(?<![A-Za-z])stage\s+(?P<g2>IV|I{1,3}|[1-4])(?P<s2>\s?-?\s?[ABCabc][1-3]?)?\s*\(FIGO"
)


@dataclass(frozen=True)
class TnmMention:
    """A run of T/N/M categories written together ("pT2 pN0 (0/12) pMX"), with offsets."""

    prefix: str | None
    t: str | None
    n: str | None
    m: str | None
    start: int
    end: int
    evidence: str
    prefix_inferred: bool = False  # from a label ("pathologic stage: T3 N1"), not written
    edition: int | None = None  # the AJCC/UICC TNM edition written just before ("TNM 7 T3")


@dataclass(frozen=True)
class StageGroupMention:
    """A stage group as written ("stage IIIA", "FIGO IB1"), normalised, with offsets."""

    group: str
    kind: str  # "ajcc" or "figo"
    start: int
    end: int
    evidence: str
    clinical: bool = False  # "clinical stage", "cTNM": the pre-treatment estimate
    historical: bool = False  # "stage IIIC at that time", "initially stage II": not current
    final: bool = False  # "Final stage FIGO 2018 IIIC1r", "upstaged to IIIC": the settled one


@dataclass
class _Token:
    axis: str
    prefix: str | None
    value: str
    start: int
    end: int
    ocr: bool = False


def _normalise_category(axis: str, cat: str, suffix: str | None) -> tuple[str, bool]:
    """'T' + '2A' -> 'T2a'; OCR letters O/l/I read as digits (second value says so)."""
    ocr = False
    if cat.lower() == "is":
        return f"{axis}is", False
    if cat in ("X", "x"):
        return f"{axis}X", False
    if cat in ("a", "A"):
        return f"{axis}a", False
    head, rest = cat[0], cat[1:]
    if head in "lIO":
        head = "0" if head == "O" else "1"
        ocr = True
    value = f"{axis}{head}{rest.lower()}"
    if suffix and axis in "NM":
        inner = suffix.strip()[1:-1].lower()
        if inner in ("i+", "i-", "mol+", "mol-"):
            value += f"({inner})"
    return value, ocr


def _accept(group: list[_Token], text: str) -> bool:
    """Keep a run of categories only where it is plainly TNM, not 'T2-weighted' or 'M1 road'."""
    if any(token.axis == "T" and token.value == "Ta" for token in group) and len(group) == 1:
        if not group[0].prefix:
            return False
    if len(group) >= 2 and len({token.axis for token in group}) == len(group):
        return True
    if len(group) == 1 and group[0].ocr and group[0].axis == "N" and \
            text[group[0].start:group[0].end].upper() == "PNI":
        # "PNI" (perineural invasion), "LVI, PNI present": an abbreviation, not "pN1".
        return False
    if any(token.prefix for token in group):
        return not any(token.ocr and not token.prefix for token in group)
    if any(token.ocr for token in group):
        return False
    before = text[max(0, group[0].start - 60) : group[0].start]
    return bool(_CONTEXT.search(before))


# The letter after the axis starts a category (_TOKEN's "cat"): an all-capitals report
# has a T, N or M in most words, and few of them are followed by one.
_AXIS = re_compile(r"[TNM](?=[iIXx1-4lO0aA]| [1-4X0])")
_PREFIX_MAX = 3  # "yp " is the longest prefix _TOKEN reads before the axis letter
# The characters a prefix of _TOKEN ends with, but for a blank ("yp T2"): after another
# letter or digit ("STAT3", "ITEM1", most words of an all-capitals report) no prefix ends
# before the axis letter.
_PREFIX_LAST = frozenset("pcryaPCR")


def _token_matches(text: str) -> list[re.Match[str]]:
    """What `_TOKEN.finditer(text)` yields, tried only up to three characters before each
    T, N or M: a category starts there or nowhere (no prefix letter is T, N or M), and the
    regex engine jumps from letter to letter instead of trying every character."""
    found: list[re.Match[str]] = []
    tried = 0  # positions before this were tried or cannot start a category
    for axis in _AXIS.finditer(text):
        letter = axis.start()
        first = max(letter - _PREFIX_MAX, tried)
        if first < letter and text[letter - 1].isalnum() and (
                text[letter - 1] not in _PREFIX_LAST):
            first = letter
        for start in range(first, letter + 1):
            match = _TOKEN.match(text, start)
            if match is not None:
                found.append(match)
                tried = match.end()
                break
        else:
            tried = letter + 1
        tried = max(tried, letter + 1)
    return found


def find_tnm(text: str) -> list[TnmMention]:
    """Every TNM mention in `text`, in order; runs of adjacent categories form one mention."""
    tokens: list[_Token] = []
    for match in _token_matches(text):
        start = match.start()
        # A category must not continue a word ("STAT3", "ITEM1") unless it continues a
        # category run written without spaces ("pT3N1aM0").
        if start > 0 and text[start - 1].isalnum() and not (tokens and tokens[-1].end == start):
            continue
        # "RNA", "CTA", "MTA": a capitalised word is not a category ("Ta" is written so).
        if match.group("cat") == "A" and (match.group("pre") or "").isupper():
            continue
        if match.group("gap") and (match.group("pre") or "").strip().lower() not in (
                "p", "yp"):
            continue  # "T 2" alone may be anything; "pT 2" is OCR's blank in "pT2"
        axis = match.group("axis")
        # "Tumor thickness (pT1 and pT2 tumors)": a list of categories of one axis is a
        # template's wording, not a finding.
        after = text[match.end() : match.end() + 14]
        before = text[max(0, start - 14) : start]
        if re.match(rf"\s*(?:and|or|to|through|vs\.?)\s+(?:y?p|c)?{axis}[0-4]", after) or \
                re.search(rf"(?:y?p|c)?{axis}[0-4][a-d]?\s+(?:and|or|to|through|vs\.?)\s+$",
                          before):
            continue
        value, ocr = _normalise_category(axis, match.group("cat"), match.group("suf"))
        prefix = match.group("pre")
        prefix = prefix.strip() if prefix else None
        tokens.append(_Token(match.group("axis"), prefix.lower() if prefix else None, value,
                             start, match.end(), ocr))
    groups: list[list[_Token]] = []
    for token in tokens:
        if groups:
            last = groups[-1][-1]
            gap = text[last.end : token.start]
            order = "TNM"
            if (_SEPARATOR.fullmatch(gap) and order.index(token.axis) > order.index(last.axis)
                    and len(gap) <= 20):
                groups[-1].append(token)
                continue
        groups.append([token])
    mentions: list[TnmMention] = []
    for group in groups:
        if not _accept(group, text):
            continue
        by_axis = {token.axis: token for token in group}
        prefix = next((token.prefix for token in group if token.prefix), None)
        start, end = group[0].start, group[-1].end
        inferred = False
        if prefix is None:
            # "TNM pathologic stage: T3b, N1" / "Pathological T. T2a": the label says which.
            label = _LABEL_KIND.search(text[max(0, start - 45) : start])
            if label:
                prefix = "p" if label.group(0).lower().startswith("path") else "c"
                inferred = True
        edition_label = _EDITION.search(text[max(0, start - 40) : start])
        edition = int(edition_label.group("a") or edition_label.group("b")) if (
            edition_label) else None
        if prefix is None and edition is not None and mentions and mentions[-1].edition and (
                start - mentions[-1].end < 40):
            # "Pathological staging: TNM 6 T3 N1 Mx. TNM 7 T3 N3 Mx": the same staging in
            # two editions, one label for both.
            prefix, inferred = mentions[-1].prefix, mentions[-1].prefix_inferred
        mentions.append(TnmMention(
            prefix=prefix, prefix_inferred=inferred, edition=edition,
            t=by_axis["T"].value if "T" in by_axis else None,
            n=by_axis["N"].value if "N" in by_axis else None,
            m=by_axis["M"].value if "M" in by_axis else None,
            start=start, end=end, evidence=text[start:end],
        ))
    return mentions


def normalise_stage_group(text: str) -> str | None:
    """A written stage group as SPEC's Roman form: '4' -> 'IV', 'IIIa' -> 'IIIA',
    'Stage IV-B' -> 'IVB', 'stage 1a2' -> 'IA2'; None when it is not a stage group."""
    cleaned = re.sub(r"(?i)^\s*(?:figo\s+|ajcc\s+)?(?:stage\s*(?:group\s*)?)?[:\s]*", "", text)
    cleaned = re.sub(r"[\s\-]", "", cleaned).upper()
    match = re.fullmatch(r"(IV|I{1,3}|0|[0-4])([ABC][1-3]?)?", cleaned)
    if not match:
        return None
    roman = _ROMAN.get(match.group(1), match.group(1))
    suffix = match.group(2) or ""
    if roman == "0" and suffix:
        return None
    return roman + suffix


def _split_group(group: str) -> tuple[str, str]:
    for roman in _ROMAN_VALUES:
        if group.startswith(roman):
            return roman, group[len(roman):]
    return group, ""


def stage_group_in(group: str, allowed: list[str]) -> bool:
    """Whether `group` falls within any of `allowed`: 'IVA' is within 'IV', 'IIIB' within
    'III', 'IA2' within 'IA'; 'III' is not within 'IIIB' (a broader group is not narrower)."""
    normal = normalise_stage_group(group)
    if normal is None:
        return False
    roman, suffix = _split_group(normal)
    for candidate in allowed:
        wanted = normalise_stage_group(candidate)
        if wanted is None:
            continue
        wanted_roman, wanted_suffix = _split_group(wanted)
        if roman == wanted_roman and suffix.startswith(wanted_suffix):
            return True
    return False


def _historical(text: str, start: int, end: int) -> bool:
    before = re.split(r"[.;\n]", text[max(0, start - 50) : start])[-1]
    return bool(_HISTORICAL_AFTER.match(text[end : end + 40])
                or _HISTORICAL_BEFORE.search(before))


# A stage the text denies ("this is not stage IA", "rather than stage II").
_NOT_THIS_STAGE = re_compile(r"(?i)\b(?:not|no\s+longer|rather\s+than|instead\s+of)\s+"
                             r"(?:an?\s+|the\s+)?(?:FIGO\s+|AJCC\s+)?$")


def find_stage_groups(text: str) -> list[StageGroupMention]:
    """Every written stage group ("stage IIIA", "Stage 4", "FIGO stage IB1"), in order."""
    mentions: list[StageGroupMention] = []
    figo_spans: list[tuple[int, int]] = []
    lowered = lowered_for_search(text)
    for match in _FIGO.finditer(text) if "figo" in lowered else ():
        if _NOT_THIS_STAGE.search(text[max(0, match.start() - 30):match.start()]):
            continue
        roman = match.group("g") or match.group("g2")
        suffix = match.group("s") or match.group("s2") or ""
        group = normalise_stage_group(roman + suffix)
        if group:
            figo_spans.append(match.span())
            mentions.append(StageGroupMention(group, "figo", match.start(), match.end(),
                                              match.group(0),
                                              historical=_historical(text, *match.span())))
    # Every stage group is written with "stage" or "AJCC".
    written = "stage" in lowered or "ajcc" in lowered
    for match in matches_at(_STAGE_GROUP, text, word_starts(
            lowered, _STAGE_GROUP_STARTS)) if written else ():
        if any(s <= match.start() < e or match.start() <= s < match.end() for s, e in figo_spans):
            continue
        if _NOT_THIS_STAGE.search(text[max(0, match.start() - 30):match.start()]):
            continue  # "so this is not stage IA despite small size"
        group = normalise_stage_group((match.group("g") or match.group("g3")) +
                                      (match.group("s") or match.group("s3") or ""))
        if group:
            before = re.split(r"[.;\n]", text[max(0, match.start() - 25) : match.start()])[-1]
            context = before + match.group(0)
            mentions.append(StageGroupMention(group, "ajcc", match.start(), match.end(),
                                              match.group(0), bool(_CLINICAL.search(context)),
                                              _historical(text, *match.span())))
    mentions = mark_superseded(mentions, superseded_groups(text, lowered))
    if any(word in lowered for word in ("final", "staged", "revised", "corrected", "updated",
                                        "definitive", "amended")):
        # "Final stage FIGO 2018 IIIC1r (...)" after "the referral staged this as FIGO IIB":
        # the settled stage outranks the earlier ones, wherever they are written.
        mentions = [replace(m, final=True) if _FINAL_BEFORE.search(
            text[max(0, m.start - 40):m.start]) else m for m in mentions]
    mentions.sort(key=lambda mention: mention.start)
    return mentions


def superseded_groups(text: str, lowered: str | None = None) -> set[str]:
    """The groups a text says the disease moved from ("Upstaged from IIB", "re-staged from
    stage II"): the past, wherever else they are written. `lowered` is
    `notes.lowered_for_search(text)` when the caller has it."""
    if "staged" not in (lowered if lowered is not None else lowered_for_search(text)):
        return set()
    return {group for m in _SUPERSEDED.finditer(text)
            if (group := normalise_stage_group(m.group(1) + (m.group(2) or "")))}


def mark_superseded(mentions: list[StageGroupMention],
                    superseded: set[str]) -> list[StageGroupMention]:
    """The mentions, with those of a superseded group marked historical."""
    if not superseded:
        return mentions
    return [replace(m, historical=True) if m.group in superseded else m for m in mentions]


_FINAL_BEFORE = re_compile(
    r"(?i)\b(?:(?:final|revised|corrected|updated|definitive)\s+(?:[\w()]+\s+){0,3}?stag\w*|"
    r"(?:up|down|re)-?staged\s+(?:to|as)|now)\s+(?:[\w()]+\s+){0,3}?(?:[:\-]\s*)?$|"
    # "REVISED STAGE GROUP (patient age 61 years): II": the word right before the "stage"
    # that the group's match begins with.
    r"\b(?:final|revised|corrected|updated|definitive|amended)\s+(?:patholog\w*\s+)?$")
_SUPERSEDED = re_compile(r"(?i)\b(?:up|down|re)-?staged\s+from\s+(?:(?:FIGO|AJCC)\s+)?"
                         r"(?:stage\s+)?(IV|I{1,3})([ABC][1-3]?)?(?![A-Za-z0-9])")


_PREFIX_RANK = {"yp": 4, "p": 4, "rp": 3, "r": 3, "c": 2, "yc": 2, "a": 1, None: 0}


def _completeness(mention: TnmMention) -> int:
    return sum(value is not None for value in (mention.t, mention.n, mention.m))


def build_stage(tnm: list[TnmMention], groups: list[StageGroupMention]) -> Stage | None:
    """Combine mentions, best first, into one Stage.

    The first mention in `tnm` anchors T, N and M (callers order mentions by preference);
    categories it lacks are filled from the others. A written AJCC group wins; else a FIGO
    stage; else M1 implies group IV. Derived fields are listed in `Stage.derived`.
    """
    if not tnm and not groups:
        return None
    stage = Stage()
    evidence: list[str] = []
    for mention in tnm:
        used = False
        for axis in ("t", "n", "m"):
            value = getattr(mention, axis)
            if value is not None and getattr(stage, axis) is None:
                setattr(stage, axis, value)
                used = True
        if used:
            if stage.prefix is None and mention.prefix:
                stage.prefix = mention.prefix
                if mention.prefix_inferred:
                    stage.derived.append("prefix")
            evidence.append(mention.evidence)
    # "pT4, N2c" and, elsewhere, "pT4a": the same category written more precisely.
    for axis in ("t", "n", "m"):
        value = getattr(stage, axis)
        if value is None:
            continue
        finer = [getattr(m, axis) for m in tnm if getattr(m, axis)
                 and getattr(m, axis) != value and getattr(m, axis).startswith(value)
                 and m.prefix in (stage.prefix, None)]
        if finer:
            setattr(stage, axis, max(finer, key=len))
    # A current group outranks one the text places in the past; with distant metastasis
    # (M1) a stage IV group outranks the others (AJCC 8th ed.: M1 is stage IV except in the
    # few chapters, such as differentiated thyroid cancer under 55, that say otherwise --
    # which is why a written non-IV group is kept when no IV group is written). A
    # pathological group outranks the clinical estimate, wherever each is written.
    metastatic = bool(stage.m and stage.m.startswith("M1"))

    def rank(group: StageGroupMention) -> tuple[bool, bool, bool]:
        return (group.historical, metastatic and not group.group.startswith("IV"),
                group.clinical)

    ajcc = sorted((g for g in groups if g.kind == "ajcc"), key=rank)
    figo = sorted((g for g in groups if g.kind == "figo"), key=rank)
    if figo:
        stage.figo = figo[0].group
        evidence.append(figo[0].evidence)
    if ajcc and not (figo and rank(figo[0]) < rank(ajcc[0])):
        stage.group = ajcc[0].group
        evidence.append(ajcc[0].evidence)
    elif figo:
        # No AJCC group, or only one that ranks lower ("clinical stage IB2" in the history
        # beside the surgical "FIGO Stage (2018): IIIC1p"): the FIGO stage is the group.
        stage.group = figo[0].group
        stage.derived.append("group")
    elif stage.m and stage.m.startswith("M1"):
        stage.group = "IV"
        stage.derived.append("group")
    stage.evidence = "; ".join(dict.fromkeys(evidence))
    return stage


def order_tnm(mentions: list[TnmMention]) -> list[TnmMention]:
    """Mentions best first: pathological before clinical, complete before partial, then in
    reading order (the synoptic summary usually comes first in the diagnosis)."""
    return sorted(mentions, key=lambda m: (-_PREFIX_RANK.get(m.prefix, 0), -_completeness(m),
                                           m.start))


def parse_tnm(text: str) -> Stage | None:
    """The stage written in `text` (TNM categories, stage group, FIGO), or None.

    Examples: 'pT3N1aM0' -> T3/N1a/M0 prefix p; 'pathologic stage T3 N1' -> T3/N1;
    'stage 4' -> group IV; 'cT2 cN0 cM1b' -> group IV (derived).
    """
    return build_stage(order_tnm(find_tnm(text)), find_stage_groups(text))
