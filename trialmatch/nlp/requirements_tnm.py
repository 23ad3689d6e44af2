"""Distant-metastasis categories written as TNM in criteria ("T1c-2N0M0", "any T, any N, M0",
"cT1-3 cN0-1 M0", "M1 disease"): M0 states the disease is not metastatic, M1 that it is.

AJCC Cancer Staging Manual, 8th ed.: M0 = no distant metastasis, M1 = distant metastasis.
T and N ranges are not read: the note profile rarely holds what they would need.
"""

from __future__ import annotations

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
