"""TNM categories written in criteria ("T1c-2N0M0", "any T, any N, M0", "cT1-3 cN0-1 M0",
"M1 disease", "pN1-3", "node-positive"): M0 states the disease is not metastatic, M1 that it
is; T and N categories are `t_category` and `n_category` requirements with the numbers
allowed (Tis and T0 are 0).

AJCC Cancer Staging Manual, 8th ed.: M0 = no distant metastasis, M1 = distant metastasis;
N0 = no regional lymph node metastasis, N1-N3 = regional nodes involved ("node-positive").
"""

from __future__ import annotations

import re

from trialmatch.models import Requirement
from trialmatch.nlp.requirements_common import requirement
from trialmatch.regex_cache import re_compile

# An M category counts only inside a TNM string (after an N category, "N0M0", "N0-1 M0",
# "N+ M0", "any N, M0") or as "M0/M1 disease": a lone "M1" is also a block label, a
# macrophage or a muscarinic receptor.
_M_CATEGORY = re_compile(
    r"(?:(?:(?<![A-Za-z])|(?<=T))[cpy]{0,2}N(?:[0-3Xx][abc]?(?:\s*[-–]\s*[cpy]{0,2}N?[0-3][abc]?)?|\+|\s*any)"
    r"|(?i:\bany\s+N))[\s,;/*]*(?:(?i:and|or)\s+)?(?:(?i:any)\s+)?[cpy]{0,2}M(?P<m>0|1[abc]?)"
    r"(?![\w+]|-\w)"
    r"|\b[cpy]{0,2}M(?P<m2>0|1[abc]?)\s+(?i:disease|stage|status|patients?|cancer|"
    r"carcinoma|tumou?rs?)\b"
    # "Any T, M0", "(all M0)" after a list of T and N categories, "metastasis stage M0"
    r"|(?i:\bany\s+T\b|\(\s*all|\bmetastas[ie]s\s+stage)[\s,;/]*[cpy]{0,2}M(?P<m3>0|1[abc]?)"
    r"(?![\w+]|-\w)")


_EITHER_M = re_compile(r"\bM0\s*(?:,|/|or|and/or)\s*[cpy]{0,2}M1|\bM1[abc]?\s*(?:,|/|or|and/or)"
                       r"\s*[cpy]{0,2}M0\b|(?i:\bany\s+M\b)")


def find_tnm_extent(text: str, criterion_kind: str = "inclusion") -> list[Requirement]:
    """Extent requirements stated by M categories: M0 -> not metastatic, M1 -> metastatic
    (one requirement per value, at the first place it is written). "M0 or M1", "any M" state
    no requirement. In an exclusion an M0 only completes T and N categories ("T0-3a N1b M0"),
    which are not read: alone it would exclude every patient without metastases."""
    if _EITHER_M.search(text):
        return []
    out: list[Requirement] = []
    seen: set[bool] = set()
    for match in _M_CATEGORY.finditer(text):
        group = next(g for g in ("m", "m2", "m3") if match.group(g))
        value = match.group(group)
        metastatic = value.startswith("1")
        if metastatic in seen or (criterion_kind == "exclusion" and not metastatic):
            continue
        seen.add(metastatic)
        start = match.start(group) - 1
        while start > match.start() and text[start - 1] in "cpyCPY":
            start -= 1
        params = {"extent": "metastatic"} if metastatic else {"extent": "metastatic",
                                                              "negated": True}
        out.append(requirement("extent", params, text, start, match.end()))
    return out


# A T category of a TNM string: followed by an N category, or by a word for the tumour
# ("T1-2 N0", "pT3-4 pN2-3", "T1 or T2 tumours"); not "T1-weighted" or a free T4 level.
_T_CATEGORY = re_compile(
    r"(?<![A-Za-z0-9/])(?P<p>(?:[cpy]/)?[cpy]{0,2})T(?P<v>is|[0-4])[a-d]?(?:mi)?(?![a-z])"
    r"(?P<more>(?:(?:\s*(?:-|–|to|or|and|/|,)\s*|\s+(?=[cpy]{0,2}T))(?:[cpy]{0,2}T)?"
    r"(?:is|[0-4])[a-d]?)*)"
    r"(?=\s*[,;/]?\s*(?:(?:and|or)\s+)?(?:any\s+N\b|[cpy]{0,2}N(?:[0-3xX+]|\s*any)|"
    r"(?i:(?:stage\s+)?(?:[a-z]+\s+)?(?:disease|tumou?rs?|lesions?|cancers?|carcinomas?|"
    r"primary)\b)))")
# An N category: after a T category, with a c/p/y prefix, or before a word for the disease
# or the nodes ("T2N0", "pN1-3", "cN1 disease"); "N+" likewise.
_N_CATEGORY = re_compile(
    r"(?<![A-Za-z/])(?P<p>(?:[cpy]/)?[cpy]{0,2})N(?P<v>[0-3+])(?![0-9])[a-c]?(?:mi|\(i[+-]\))?"
    r"(?P<more>(?:\s*(?:-|–|to|or|/|,)\s*(?:[cpy]{0,2}N)?[0-3](?![0-9])[a-c]?)*)")
_N_CONTEXT_AFTER = re_compile(r"\s*(?i:(?:disease|nodes?|nodal|status|stage|cancer|"
                              r"carcinoma|tumou?rs?|patients?|breast)\b)|\s*[cpy]{0,2}M[01]|"
                              r"\s*,?\s*[cpy]{0,2}T(?:is|[0-4])\b")
_T_BEFORE = re_compile(r"(?:[cpy]{0,2}T(?:is|[0-4x])[a-d]?(?:mi)?(?:\s*[-–/]\s*[0-4][a-d]?)?"
                       r"|(?i:any\s+T))[\s,;]*(?:(?:or|and)\s+)?$")
# "Fixed axillary lymph node metastases (N2)": the category the words are written with.
_NODES_BEFORE = re_compile(r"(?i)(?:nodes?|nodal|metastas[ie]s)\s*\($")
# "residual supraclavicular nodal metastases", "internal mammary lymph node": one region's
# nodes, a category of its own (N3c, N2b) the words do not settle.
_NODE_REGION_BEFORE = re_compile(r"(?i)\b(?:supraclavicular|infraclavicular|internal\s+mammary|"
                                 r"mediastinal|contralateral|para-?aortic|retroperitoneal|"
                                 r"inguinal|hilar)\s+(?:\w+\s+)?$")
# "the tumor node metastasis (TNM) classification": a staging system's name.
_SYSTEM_BEFORE = re_compile(r"(?i)tumou?r[\s-]+(?:lymph[\s-]+)?$")
_NUMBER = re_compile(r"is|[0-4+]")
# Nodal status in words: "node-positive", "lymph node positive", "positive axillary lymph
# nodes", "nodal involvement"; and "node-negative".
_NODES_WORDS = re_compile(
    r"(?i)\b(?:(?:lymph\s+)?node[\s-]+(?P<pos>positive|negative)\b|"
    r"(?P<pos2>positive|involved)\s+(?:axillary\s+|regional\s+|pelvic\s+)?(?:lymph\s+)?nodes?\b|"
    r"nodal\s+(?:involvement|metastas[ie]s|disease|positivity)\b|"
    r"(?:lymph\s+)?node\s+metastas[ie]s\b)(?!\s+(?:classification|staging|system|"
    r"categor))")
_DENIED_BEFORE = re_compile(r"(?i)\b(?:no|without|absence\s+of|free\s+of|not)\s+(?:\w+\s+){0,2}$")
_ALL_N = frozenset({0, 1, 2, 3})
_ALL_T = frozenset({0, 1, 2, 3, 4})


def _values(first: str, more: str) -> list[int]:
    """The categories a match names: a range ("1-3", "T1-T3", "1 to 3") is every number in
    it; a list ("T1, T2 or T3") each one."""
    if first == "+":
        return [1, 2, 3]
    tokens = [first, *_RANGE_TOKEN.findall(more)]
    values: set[int] = set()
    previous: int | None = None
    ranged = False
    for token in tokens:
        if token in ("-", "–") or token.lower() == "to":
            ranged = True
            continue
        value = 0 if token == "is" else 1 if token == "+" else int(token)
        if ranged and previous is not None:
            values |= set(range(min(previous, value), max(previous, value) + 1))
        values.add(value)
        previous, ranged = value, False
    return sorted(values)


_RANGE_TOKEN = re_compile(r"[-–]|\bto\b|is|[0-4+]")


# A category set aside: "stage II (except T2N0)", "(T1N0M0 patients are excluded)".
_SET_ASIDE_BEFORE = re_compile(r"(?i)\b(?:except|excluding|other\s+than|but\s+not|not\s+"
                               r"including)\b[^.;:()]{0,20}$")
_SET_ASIDE_AFTER = re_compile(r"(?i)[^.;()]{0,25}?\b(?:(?:are|is)\s+)?(?:excluded|not\s+"
                              r"(?:eligible|allowed|permitted))\b")
_NO_BEFORE = re_compile(r"(?i)\b(?:no|without|non-)\s*$")
_ANY = {"t": re_compile(r"(?i)\bany\s+T\b"), "n": re_compile(r"(?i)\bany\s+N\b")}


# "stage IIIB (T3-4N2)", "Stage IIIA (TNM stage T3a N0 M0)": categories restating a group.
_GROUP_BRACKET_BEFORE = re_compile(r"\b(?:I{1,3}|IV)[A-C]?[12]?\s*\([^()]{0,30}$")
# "more than 1 cm and or lymph node positive": nodal status beside another condition the
# criterion names, which is not read.
_OR_BEFORE = re_compile(r"(?i)\bor\s+(?:\w+\s+){0,2}$")
# A line that is one alternative of a list ("Subjects with pT3, pN0 OR", "or 1-3 positive
# lymph nodes (pN1a, b, c)").
_ALTERNATIVE_LINE = re_compile(r"(?i)^\W*or\b|\bor\W*$")


def _categories(text: str, axis: str, matches: list[re.Match[str]], every: frozenset[int]
                ) -> tuple[set[int], tuple[int, int] | None]:
    """The categories the matches of one axis allow, and where the first is written: a
    category set aside ("except T2N0") allows nothing, a denied one ("No T4 tumors") the
    others; "any T" allows all."""
    values: set[int] = set()
    span: tuple[int, int] | None = None
    for match in matches:
        before = text[max(0, match.start() - 40):match.start()]
        if _SET_ASIDE_BEFORE.search(before) or _SET_ASIDE_AFTER.match(text, match.end()) or \
                _GROUP_BRACKET_BEFORE.search(before):
            continue
        found = set(_values(match.group("v"), match.group("more")))
        values |= every - found if _NO_BEFORE.search(before[-12:]) else found
        span = span or (match.start(), match.end())
    if _ANY[axis].search(text):
        values |= every
    return values, span


def find_tnm_categories(text: str, criterion_kind: str = "inclusion") -> list[Requirement]:
    """T and N category requirements ("T1-2 N0", "pN1-3", "node-positive", "N+"): one per
    axis, with every category the criterion allows; none when it allows all of them. An
    exclusion writing several TNM strings ("T1-4 N1 M0-1 or T1-4 N0 M1") excludes their
    combinations, which one range per axis cannot hold: no requirement."""
    out: list[Requirement] = []
    t_matches = list(_T_CATEGORY.finditer(text))
    if criterion_kind == "exclusion" and len(t_matches) > 1:
        return out
    t_values, t_span = _categories(text, "t", t_matches, _ALL_T)
    n_matches = [match for match in _N_CATEGORY.finditer(text)
                 if match.group("p") or _T_BEFORE.search(text[max(0, match.start() - 18):
                                                              match.start()])
                 or _NODES_BEFORE.search(text[max(0, match.start() - 14):match.start()])
                 or _N_CONTEXT_AFTER.match(text, match.end())]
    if criterion_kind == "exclusion" and len(n_matches) > 1:
        return out
    n_values, n_span = _categories(text, "n", n_matches, _ALL_N)
    # Words for nodal status, unless N categories say it more precisely ("contralateral
    # mediastinal lymph node metastasis, N3 stage").
    other = bool(_ALTERNATIVE_LINE.search(text))
    for match in _NODES_WORDS.finditer(text) if not n_values else ():
        if _SYSTEM_BEFORE.search(text[max(0, match.start() - 14):match.start()]) or \
                _NODE_REGION_BEFORE.search(text[max(0, match.start() - 30):match.start()]):
            continue
        other = other or bool(_OR_BEFORE.search(text[max(0, match.start() - 30):
                                                     match.start()]))
        word = (match.group("pos") or match.group("pos2") or "positive").lower()
        positive = word in ("positive", "involved") and not _DENIED_BEFORE.search(
            text[max(0, match.start() - 30):match.start()])
        # ("4 or more positive lymph nodes": a count of involved nodes, node-positive too)
        n_values |= {1, 2, 3} if positive else {0}
        n_span = n_span or (match.start(), match.end())
    extra = {"or_other": True} if other else {}
    if t_values and t_span and not t_values >= _ALL_T - {0}:  # (T0: no primary found)
        out.append(requirement("t_category", {"values": sorted(t_values), **extra}, text,
                               *t_span))
    if n_values and n_span and not n_values >= _ALL_N:
        out.append(requirement("n_category", {"values": sorted(n_values), **extra}, text,
                               *n_span))
    return out
