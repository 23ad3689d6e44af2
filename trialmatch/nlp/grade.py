"""Histologic grade as written in pathology notes, normalised to G1-G4 with its detail.

Sources of the mappings:
- G1-G4 and "well / moderately / poorly differentiated / undifferentiated": AJCC 8th edition,
  chapter 1, histologic grade (G1 well, G2 moderately, G3 poorly, G4 undifferentiated); "X to
  Y differentiated" takes the higher grade, as pathologists grade by the worst area.
- Two-tier systems: AJCC 8th edition pairs low grade with G1 and high grade with G3 for sites
  that use two tiers (e.g. urinary bladder), so "low grade" -> G1, "high grade" -> G3, with
  the words kept in grade_detail.
- Nottingham (Elston-Ellis modification of Scarff-Bloom-Richardson; Elston & Ellis,
  Histopathology 1991): total score 3-5 grade 1, 6-7 grade 2, 8-9 grade 3.
- Gleason: AJCC 7th edition prostate histologic grade (G1 Gleason score <= 6, G2 = 7,
  G3 8-10); ISUP 2014 grade groups (Epstein et al., Am J Surg Pathol 2016): <=6 -> 1,
  3+4 -> 2, 4+3 -> 3, 8 -> 4, 9-10 -> 5.
- WHO grade (CNS tumours) and Fuhrman / WHO-ISUP nuclear grade (renal cell carcinoma,
  which AJCC uses as the histologic grade for kidney) are carried over as the same number.
Nuclear grade of an in-situ component (DCIS) is not the tumour's grade and is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trialmatch.nlp.context import lowered_for_search, matches_at, word_starts
from trialmatch.regex_cache import re_compile

_NUMBER = {"1": 1, "2": 2, "3": 3, "4": 4, "I": 1, "II": 2, "III": 3, "IV": 4}
_NUM = r"(?:IV|III|II|I|[1-4])"


@dataclass(frozen=True)
class GradeMention:
    """One grade statement: G1-G4 (or None where only a detail is known), its detail,
    how explicit the statement is (`rank`, 0 most explicit) and where it is."""

    grade: str | None
    detail: str | None
    rank: int
    start: int
    end: int
    evidence: str


_GLEASON = re_compile(
    r"(?i)gleason(?:'s)?\s*(?:score|grade|sum|pattern)?\s*(?:\([^)]{0,20}\))?\s*[:=]?\s*"
    r"(?:(?P<p>[1-5])\s*\+\s*(?P<s>[1-5])(?:\s*=\s*(?P<t>\d{1,2}))?|(?P<total>(?:10|[2-9]))"
    r"(?:\s*/\s*10)?)(?![\d+])"
)
_GRADE_GROUP = re_compile(r"(?i)grade\s+group\s*[:=]?\s*(?P<g>[1-5])(?!\d)")
_NOTTINGHAM = re_compile(
    r"(?i)(?:nottingham|elston(?:[\s-]+ellis)?|(?:modified\s+)?(?:scarff[\s-]+)?bloom[\s-]+"
    r"richardson|SBR)(?:\s+(?:histologic|combined|overall|total))*\s*"
    r"(?P<kind>grade|score)?\s*(?:\([^)]{0,15}\))?\s*[:=]?\s*(?:grade\s*)?"
    r"(?P<v>\d|III|II|I)(?:\s*/\s*(?P<of>\d))?(?![\d+])"
)
_TOTAL_SCORE = re_compile(
    r"(?i)total\s+(?:nottingham\s+)?score\s*[:=]?\s*(?P<v>[3-9])(?:\s*/\s*9)?(?![\d+])"
)
_WHO = re_compile(rf"(?i)WHO\s*(?:CNS\s*)?grade\s*[:=]?\s*(?P<v>{_NUM})(?![A-Za-z0-9])")
_FUHRMAN = re_compile(
    rf"(?i)(?:fuhrman(?:'?s)?|WHO\s*/\s*ISUP|ISUP(?:\s*/\s*WHO)?)\s*(?:nuclear\s*)?grade\s*"
    rf"(?:\([^)]{{0,15}}\))?\s*[:=\-]?\s*(?P<v>{_NUM})(?![A-Za-z0-9])"
)
# (The G first, what stands before it checked after: the engine skips from G to G.)
_G_CODE = re_compile(r"G(?<![A-Za-z0-9]G)(?P<v>[1-4X])(?![A-Za-z0-9])")
_GRADE_N = re_compile(
    rf"(?i)(?<![A-Za-z])(?P<lead>(?:nuclear|histologic(?:al)?|tumou?r|overall|combined|"
    rf"architectural)\s+)?grade\s*(?:\((?:1-3|1,\s*2,\s*3|I-III)\))?\s*[:=\-]?\s*"
    rf"(?P<v>{_NUM})(?:\s*[-–]\s*(?P<v2>{_NUM}))?(?:\s*(?:/|of|out\s+of)\s*(?P<of>3|4|III|IV))?"
    rf"(?![A-Za-z0-9+])"
)
_DIFFERENTIATED = re_compile(
    r"(?i)(?<![A-Za-z])(?P<a>well|moderately|moderate|poorly|un)(?:[\s-]+(?:to|and|-)[\s-]*"
    r"(?P<b>well|moderately|moderate|poorly))?[\s-]*differentiated"
)
_TWO_TIER = re_compile(r"(?i)(?<![A-Za-z])(?P<v>low|intermediate|high)[\s-]+grade(?![A-Za-z])")
_NOT_TUMOUR_GRADE = re_compile(
    r"(?i)^[\s,(]*(?:nuclear\b|dysplasia|intraepithelial|squamous\s+intraepithelial|SIL\b|"
    r"[LH]SIL\b|P\.?I\.?N\b|prostatic\s+intraepithelial|DCIS|ductal\s+carcinoma\s+in\s+situ|"
    r"in\s+situ|glandular\s+dysplasia|adenoma|tubular\s+adenoma)"
)
_IN_SITU_BEFORE = re_compile(r"(?i)(?:DCIS|in\s+situ|LCIS|intraepithelial)[^.;\n]{0,40}$")
_DIFFERENTIATION = {"well": 1, "moderately": 2, "moderate": 2, "poorly": 3, "un": 4}
# The words every match of each pattern starts with: a pattern opening with a
# case-insensitive alternation is tried only where one starts (context.matches_at).
_NOTTINGHAM_STARTS = ("nottingham", "elston", "modified", "scarff", "bloom", "sbr")
_GRADE_N_STARTS = ("nuclear", "histologic", "tumo", "overall", "combined", "architectural",
                   "grade")
_DIFFERENTIATED_STARTS = ("well", "moderate", "poorly", "un")
_TWO_TIER_STARTS = ("low", "intermediate", "high")


def _g(value: int) -> str:
    return f"G{min(max(value, 1), 4)}"


def _gleason_grade(total: int) -> str:
    return "G1" if total <= 6 else "G2" if total == 7 else "G3"


def gleason_grade_group(primary: int, secondary: int) -> int:
    """ISUP 2014 grade group of a Gleason pattern pair (Epstein JI et al., Am J Surg Pathol
    2016): 3+3 or less 1, 3+4 2, 4+3 3, 8 4, 9-10 5."""
    total = primary + secondary
    if total <= 6:
        return 1
    if total == 7:
        return 2 if primary <= 3 else 3
    return 4 if total == 8 else 5


def gleason_score_groups(score: int) -> tuple[int, int]:
    """The grade groups (fewest, most) a Gleason score spans without its patterns: 7 is 3+4
    (2) or 4+3 (3)."""
    if score <= 6:
        return 1, 1
    if score == 7:
        return 2, 3
    return (4, 4) if score == 8 else (5, 5)


def _grade_group(primary: int | None, secondary: int | None, total: int) -> int:
    if total <= 6:
        return 1
    if total == 7:
        return 3 if primary == 4 else 2
    return 4 if total == 8 else 5


def _in_situ_context(text: str, start: int) -> bool:
    return bool(_IN_SITU_BEFORE.search(text[max(0, start - 60) : start]))


def find_grades(text: str) -> list[GradeMention]:
    """Every grade statement in `text` with its offsets, in order."""
    mentions: list[GradeMention] = []
    taken: list[tuple[int, int]] = []
    low = text.lower()
    # Cheap word checks first: most patterns cannot match a note without their key word.
    has = {word: word in low for word in ("gleason", "group", "nottingham", "bloom", "elston",
                                          "sbr", "score", "who", "fuhrman", "isup", "grade",
                                          "differentiated")}
    folded = lowered_for_search(text)  # same offsets as the text (not always so for `low`)

    def anchored(pattern: re.Pattern[str], starts: tuple[str, ...]) -> list[re.Match[str]]:
        return list(matches_at(pattern, text, word_starts(folded, starts)))

    def add(grade: str | None, detail: str | None, rank: int, match: re.Match[str]) -> None:
        start, end = match.span()
        if any(s < end and start < e for s, e in taken):
            return
        taken.append((start, end))
        mentions.append(GradeMention(grade, detail, rank, start, end, match.group(0).strip()))

    for match in _GLEASON.finditer(text) if has["gleason"] else ():
        primary = int(match.group("p")) if match.group("p") else None
        secondary = int(match.group("s")) if match.group("s") else None
        if primary is not None and secondary is not None:
            total = primary + secondary
            detail = f"Gleason {primary}+{secondary}={total}"
        else:
            total = int(match.group("total"))
            detail = f"Gleason {total}"
        group = _grade_group(primary, secondary, total)
        add(_gleason_grade(total), f"{detail} (Grade Group {group})", 0, match)
    for match in _GRADE_GROUP.finditer(text) if has["group"] else ():
        group = int(match.group("g"))
        # Grade groups 1 / 2-3 / 4-5 are Gleason <=6 / 7 / 8-10 (ISUP 2014).
        add("G1" if group == 1 else "G2" if group <= 3 else "G3", f"Grade Group {group}", 0,
            match)
    nottingham = has["nottingham"] or has["bloom"] or has["elston"] or has["sbr"]
    for match in anchored(_NOTTINGHAM, _NOTTINGHAM_STARTS) if nottingham else ():
        value = _NUMBER.get(match.group("v").upper()) or int(match.group("v"))
        is_score = (match.group("kind") or "").lower() == "score" or value > 3 or (
            match.group("of") == "9")
        if is_score:
            if not 3 <= value <= 9:
                continue
            grade = 1 if value <= 5 else 2 if value <= 7 else 3
            add(_g(grade), f"Nottingham score {value}/9 (grade {grade})", 0, match)
        else:
            add(_g(value), f"Nottingham grade {value}", 0, match)
    for match in _TOTAL_SCORE.finditer(text) if has["score"] else ():
        value = int(match.group("v"))
        grade = 1 if value <= 5 else 2 if value <= 7 else 3
        add(_g(grade), f"Nottingham score {value}/9 (grade {grade})", 0, match)
    for match in _WHO.finditer(text) if has["who"] else ():
        value = _NUMBER[match.group("v").upper()]
        add(_g(value), f"WHO grade {value}", 0, match)
    for match in _FUHRMAN.finditer(text) if has["fuhrman"] or has["isup"] else ():
        value = _NUMBER[match.group("v").upper()]
        name = "Fuhrman" if "fuhrman" in match.group(0).lower() else "WHO/ISUP"
        add(_g(value), f"{name} grade {value}", 1, match)
    for match in _G_CODE.finditer(text):
        # "of G4" is the scale, not the grade.
        if re.search(r"(?i)(?:of|/)\s*$", text[max(0, match.start() - 4) : match.start()]):
            continue
        # A bare "G2" is a grade next to the word grade, a differentiation statement or the
        # tumour's name, in brackets "(G3)", or in a TNM line "G1, pT2".
        window = text[max(0, match.start() - 40) : match.end() + 40].lower()
        bracketed = text[max(0, match.start() - 1) : match.start()] == "(" and (
            text[match.end() : match.end() + 1] == ")")
        if not (bracketed or re.search(r"grade|differentiated|carcinoma|\bp?t[0-4x]\b",
                                       window)):
            continue
        value = match.group("v")
        if value == "X":
            add(None, "GX (grade cannot be assessed)", 1, match)
        else:
            add(f"G{value}", None, 1, match)
    for match in anchored(_GRADE_N, _GRADE_N_STARTS) if has["grade"] else ():
        lead = (match.group("lead") or "").strip().lower()
        before = text[max(0, match.start() - 12) : match.start()].lower()
        if "group" in text[match.start():match.end()].lower():
            continue
        if re.search(r"(?:fuhrman|isup|who|gleason|nottingham|tumor\s+budding)\W*$", before):
            continue
        if _in_situ_context(text, match.start()):
            continue
        value = _NUMBER[match.group("v").upper()]
        if match.group("v2"):
            # "grade 2-3/3": a tumour is graded by its worst area.
            value = max(value, _NUMBER[match.group("v2").upper()])
        if match.group("of") in ("4", "IV") or value == 4:
            detail = f"grade {value} of 4"
        else:
            detail = None
        if lead == "nuclear":
            # A nuclear grade is the grade only where nothing better is written (renal
            # tumours report Fuhrman nuclear grade; breast nuclear grade is one component).
            add(_g(value), f"nuclear grade {value}", 3, match)
            continue
        add(_g(value), detail, 2, match)
    for match in anchored(_DIFFERENTIATED, _DIFFERENTIATED_STARTS) if (
            has["differentiated"]) else ():
        values = [_DIFFERENTIATION[match.group("a").lower()]]
        if match.group("b"):
            values.append(_DIFFERENTIATION[match.group("b").lower()])
        add(_g(max(values)), match.group(0).strip().lower(), 3, match)
    two_tier = has["grade"] and ("low" in folded or "intermediate" in folded or
                                 "high" in folded)
    for match in anchored(_TWO_TIER, _TWO_TIER_STARTS) if two_tier else ():
        if _NOT_TUMOUR_GRADE.match(text[match.end() : match.end() + 40]):
            continue
        if _in_situ_context(text, match.start()):
            continue
        word = match.group("v").lower()
        grade = {"low": "G1", "intermediate": "G2", "high": "G3"}[word]
        add(grade, f"{word} grade", 4, match)
    mentions.sort(key=lambda mention: mention.start)
    return mentions


def best_grade(mentions: list[GradeMention]) -> GradeMention | None:
    """The statement that decides: the most explicit kind, and within it the highest grade
    (a tumour is graded by its worst area)."""
    graded = [m for m in mentions if m.grade is not None] or mentions
    if not graded:
        return None
    return min(graded, key=lambda m: (m.rank, -(int(m.grade[1]) if m.grade else 0), m.start))


def parse_grade(text: str) -> GradeMention | None:
    """The grade of the tumour described in `text`, or None when none is written."""
    return best_grade(find_grades(text))
