"""Requirement parsers that need no terminology: age, sex, performance status, stage,
extent, measurable disease, organ function, infections, pregnancy, CNS metastases and
other malignancies. Each takes a criterion's text and returns Requirements with spans.
"""

from __future__ import annotations

import re

from trialmatch.models import Requirement
from trialmatch.nlp.grade import gleason_grade_group, gleason_score_groups
from trialmatch.nlp.requirements_common import (
    DENIED_AFTER,
    NUMBER,
    Folded,
    blank,
    clause_bounds,
    clean_number,
    in_conditional,
    is_allowance,
    is_negated,
    requirement,
    to_number,
)
from trialmatch.regex_cache import re_compile

_I = re.IGNORECASE
_GE = (r"(?:≥|>\s*/\s*=|>=|=>|=\s+>|>\s+=(?!\s*<)|≧|>|greater\s+than\s+or\s+equal\s+to|"
       r"equal\s+to\s+or\s+(?:greater|older|more)\s+than|greater\s+than|more\s+than|older\s+than|over|above|at\s+least|minimum(?:\s+of)?|"
       r"(?:of\s+)?at\s+least)")
_LE = (r"(?:≤|<\s*/\s*=|<=|=<|=\s+<|<\s+=(?!\s*>)|≦|<|less\s+than\s+or\s+equal\s+to|"
       r"equal\s+to\s+or\s+(?:less|younger)\s+than|"
       r"less\s+than|younger\s+than|under|below|up\s+to|at\s+most|maximum(?:\s+of)?|"
       r"no\s+(?:older|more|greater)\s+than|not\s+(?:older|more|greater)\s+than)")
_AGE_NUM = r"(\d{1,3})"
_YEARS = r"(?:years?|yrs?|y/?o|y)\b"

# ---------------------------------------------------------------------------------- age

_AGE_RANGE = re_compile(
    rf"(?:\bage[ds]?\b|\baged\b)[^\d;.]{{0,25}}?{_AGE_NUM}\s*(?:-|–|to|and|through)\s*"
    rf"{_AGE_NUM}(?:\s*{_YEARS})?|\bbetween\s+(?:the\s+ages?\s+of\s+)?{_AGE_NUM}\s*(?:{_YEARS}"
    rf"\s*)?(?:and|-|to)\s*{_AGE_NUM}\s*{_YEARS}|\b{_AGE_NUM}\s*(?:-|–|to)\s*{_AGE_NUM}\s*"
    rf"{_YEARS}\s*(?:old|of\s+age)",
    _I)
_AGE_MIN = re_compile(
    rf"(?:\bage[ds]?\b|\baged\b)\s*(?:of|:|is|must\s+be|=)?\s*{_GE}\s*{_AGE_NUM}|"
    rf"\b{_AGE_NUM}\s*(?:{_YEARS})?\s*(?:of\s+age\s+|old\s+)?(?:or|and)\s+(?:older|over|above|"
    rf"more|greater)|"
    rf"{_GE}\s*{_AGE_NUM}\s*{_YEARS}\s*(?:of\s+age|old|of\s+older|at\s+the\s+time)|"
    rf"\b(?:be|are|is|adults?|patients?|participants?|subjects?|men|women|males?|females?)\s+"
    rf"(?:aged\s+)?{_GE}\s*{_AGE_NUM}\s*{_YEARS}|"
    rf"\b{_AGE_NUM}\s*\+\s*{_YEARS}|\bage\s*:\s*{_AGE_NUM}\s*(?:{_YEARS}\s*)?and\s+(?:over|older)",
    _I)
_AGE_MAX = re_compile(
    rf"(?:\bage[ds]?\b|\baged\b)\s*(?:of|:|is|must\s+be|=)?\s*{_LE}\s*{_AGE_NUM}|"
    rf"\b{_AGE_NUM}\s*(?:{_YEARS})?\s*(?:of\s+age\s+|old\s+)?or\s+(?:younger|less|under|below)|"
    rf"{_LE}\s*{_AGE_NUM}\s*{_YEARS}\s*(?:of\s+age|old)",
    _I)
_AGE_QUALIFIER = re_compile(
    r"\(\s*(?:for\s+)?(?:patients\s+)?age[ds]?\s*[<>≤≥=]+\s*\d+[^)]{0,15}\)|"
    # "Karnofsky >= 50 for patients > 16 years of age": the age picks the scale.
    r"\b(?:for|in)\s+(?:patients|participants|subjects|children|adolescents|adults|those)\s+"
    r"(?:(?:who\s+are|aged?)\s+)?(?:[<>≤≥=]+|(?:older|younger)\s+than|under|over|below|above)"
    r"\s*\d+\s*(?:years?|yrs?|months?)?(?:\s+of\s+age|\s+old)?", _I)
# Ages that say to whom another rule applies, not who may enrol (issue 14: conditional
# clauses are conditions, not ranges): "Karnofsky 80-100% for 16 years and older",
# "0 to 3 for participants >= 60 to 74 years of age", "Patients under 6 years old must weigh
# at least 7 kg", "aged 1-18 years at the time of first diagnosis", "(or children 18-21
# years old)".
_AGE_NUMBER = (r"(?:[<>≤≥=]+\s*|(?:older|younger)\s+than\s+|under\s+|over\s+|below\s+|"
               r"above\s+)?\d+(?:\s*(?:-|–|to|and)\s*(?:[<>≤≥=]+\s*)?\d+)?\s*"
               r"(?:years?|yrs?|months?)?(?:\s+(?:and|or)\s+(?:older|over|above|younger|"
               r"under))?(?:\s+of\s+age|\s+old)?")
_AGE_CONDITION = re_compile(
    r"\b(?:for|in|among|if)\s+(?:(?:the\s+)?(?:patients?|participants?|subjects?|children|"
    r"adolescents|adults|those|persons|individuals|women|men)\s+)?(?:(?:who\s+are|aged?|of)\s+)?"
    + _AGE_NUMBER + r"|"
    r"\b(?:patients?|participants?|subjects?|children|those)\s+(?:aged?\s+)?"
    r"(?:under|over|below|above|younger\s+than|older\s+than|[<>≤≥]=?)\s*\d+\s*"
    r"(?:years?|yrs?|months?)?(?:\s+old|\s+of\s+age)?(?=\s+(?:must|should|will|need|"
    r"require|may|who\b[^.;]{0,80}\bmay\b))|"
    # "Patients 60 years of age or older are required to have LVEF evaluation": whom a
    # test or procedure is for, not who may enrol
    r"\b(?:patients?|participants?|subjects?|those|women|men)\s+(?:aged?\s+)?\d+\s*"
    r"(?:years?|yrs?)?(?:\s+of\s+age|\s+old)?\s+(?:or|and)\s+(?:older|over|above|younger|"
    r"under)(?=\s+(?:must|should|need|require|(?:are|is)\s+required|will\s+(?:need|require|"
    r"have|undergo)))|"
    r"\d+\s*(?:years?|yrs?)?(?:\s+of\s+age)?\s+at\s+(?:the\s+time\s+of\s+)?"
    r"(?:(?:first|initial|original)\s+)?diagnosis|"
    r"\(\s*or\s+[^()]{0,60}\)", _I)
# Criteria whose ages are someone else's (parents, donors) or say to whom a reproductive
# rule applies ("women of childbearing potential, defined as women <= 50 years"), or define
# menopause ("age < 60 and amenorrhea for 12 or more months").
_AGE_NOT_PATIENT = re_compile(
    r"\b(?:parents?|caregivers?|care\s+givers?|guardians?|partners?|spouses?|family\s+members?|"
    r"siblings?|donors?)\b|child[\s-]?bearing|pregnan|contracept|\bhcg\b|amenorrh|\bfsh\b|"
    r"estradiol", _I)
_MONTHS_AFTER = re_compile(r"^\s*(?:months?|mos?)\b", _I)
_PERSON_START = re_compile(r"(?:be|are|is|adults?|patients?|participants?|subjects?|men|women|"
                           r"males?|females?)\b", _I)
_AGE_WORD = re_compile(r"\bage[ds]?\b|\bold(?:er)?\b|\badults?\b|\bpaediatric|\bpediatric", _I)


def _first_int(match: re.Match[str]) -> float:
    """The match's number in years ("12 months" is 1 year: bounds are whole years)."""
    index = next(i for i, g in enumerate(match.groups(), 1) if g is not None)
    value = float(match.group(index))
    if _MONTHS_AFTER.match(match.string[match.end(index):match.end(index) + 10]):
        return float(round(value / 12, 1))
    return value


def find_age(text: str) -> list[Requirement]:
    """Age bounds written in the criterion ("≥ 18 years", "aged 18 to 75")."""
    # "(age < 16)" qualifies another statement (which scale applies), it is no age limit:
    # blank it out (same length, so spans still index the original text).
    if _AGE_NOT_PATIENT.search(text):
        return []
    original, text = text, _AGE_CONDITION.sub(blank, text)
    text = _AGE_QUALIFIER.sub(blank, text)
    out: list[Requirement] = []
    for match in _AGE_RANGE.finditer(text):
        low, high = (float(g) for g in match.groups() if g is not None)
        if low < high <= 120:
            out.append(requirement("age", {"min": clean_number(low), "max": clean_number(high)},
                                   original, match.start(), match.end()))
    if out:
        return out
    has_age_word = bool(_AGE_WORD.search(text))
    low_match = next((m for m in _AGE_MIN.finditer(text)
                      if (has_age_word or _PERSON_START.match(m.group(0)))
                      and _first_int(m) <= 120), None)
    high_match = next((m for m in _AGE_MAX.finditer(text)
                       if has_age_word and _first_int(m) <= 120), None)
    if low_match and high_match and low_match.start() != high_match.start():
        start = min(low_match.start(), high_match.start())
        end = max(low_match.end(), high_match.end())
        return [requirement("age", {"min": clean_number(_first_int(low_match)),
                                    "max": clean_number(_first_int(high_match))},
                            original, start, end)]
    if low_match:
        return [requirement("age", {"min": clean_number(_first_int(low_match)), "max": None},
                            original, low_match.start(), low_match.end())]
    if high_match:
        return [requirement("age", {"min": None, "max": clean_number(_first_int(high_match))},
                            original, high_match.start(), high_match.end())]
    return []


# ---------------------------------------------------------------------------------- sex

_SEX = re_compile(
    r"^\W*(?:(?:patients?|participants?|subjects?)\s+(?:must\s+be\s+)?)?(?:(?:post|pre|peri)"
    r"[\s-]?menopausal\s+)?(?P<sex>female|females|women|woman|male|males|men|man)\b"
    r"(?:\s+(?:patients?|participants?|subjects?|only|sex|gender))*\s*(?:only)?"
    r"(?=\s*(?:$|[.,;:]|aged?\b|\d|≥|>|with\b|who\b|of\s+age|over\b|older\b|at\s+least|"
    r"between\b|\()|\s+(?:≥|>=|>|\d))|"
    r"\b(?:must\s+be|are|be)\s+(?:a\s+)?(?:(?:post|pre)[\s-]?menopausal\s+)?"
    r"(?P<sex2>female|women|woman|male|men|man)\b(?!\s+or\b)",
    _I)
_SEX_CONDITIONAL = re_compile(
    r"child[\s-]?bearing|reproductive|contracept|pregnan|potential|fertile|partner|sexual|"
    r"breast[\s-]?feed|lactat|nursing|sperm|vasectom|abstinen|\bmale\s+or\s+female\b|"
    r"\bmen\s+(?:and|or)\s+women\b|\bwomen\s+(?:and|or)\s+men\b|\bboth\s+(?:sexes|genders)\b",
    _I)


_HEADING_ONLY = re_compile(r"^\W*(?:[\w-]+\s+){0,3}[\w-]+\s*:\s*$")


def find_sex(text: str) -> list[Requirement]:
    """A sex requirement where the criterion restricts sex ("Female patients ≥ 18 years",
    "Postmenopausal women"); not contraception or pregnancy rules for one sex."""
    if _SEX_CONDITIONAL.search(text) or _HEADING_ONLY.match(text):
        return []  # "Male patients :" heads the rules for men (contraception), no limit
    match = _SEX.search(text)
    if not match:
        return []
    word = (match.group("sex") or match.group("sex2")).lower()
    sex = "female" if word.startswith(("fem", "wom")) else "male"
    return [requirement("sex", {"sex": sex}, text, match.start(), match.end())]


# --------------------------------------------------------------------- performance status

_ECOG_CUE = re_compile(
    r"\b(?:ecog|eastern\s+cooperative\s+oncology\s+group|zubrod|who|world\s+health\s+"
    r"organi[sz]ation)(?:\s*/\s*(?:ecog|who|zubrod))?\b(?:\s*\(?(?:ecog|who)\)?)?"
    r"(?:[\s:=(),-]*(?:performance|ps|p\.s\.|status|score|scale|grade|of|is|must\s+be|"
    r"level|between|range|rating|\(ps\)))*|"
    r"\bperformance\s+status\b(?:[\s:=(),-]*(?:\(?ps\)?|score|scale|grade|of|is|must\s+be|"
    r"by\s+ecog|ecog|\(ecog\)|between))*|\bps\b(?:[\s:=(),-]*(?:of|is|score))*",
    _I)
_KPS_CUE = re_compile(
    r"\b(?:karnofsky|kps|lansky|lps)\b(?:[\s:=(),-]*(?:performance|ps|status|score|scale|index|"
    r"of|is|must\s+be|\(kps\)|\(lps\)|\(?kps\)?))*",
    _I)
_PS_VALUE = re_compile(
    rf"\s*(?:(?P<op>{_GE}|{_LE}|=)\s*)?(?P<a>\d{{1,3}})\s*%?"
    r"(?P<list>(?:\s*(?:,|or|and|/|-|–|to|through)\s*(?:or\s+)?\d{1,3}\s*%?)*)"
    r"(?:\s*(?P<post>or\s+(?:less|lower|below|better|fewer|greater|higher|more|above|"
    r"worse)|and\s+(?:above|below|higher|lower|over|under)))?",
    _I)


_PS_SKIP = re_compile(r"(?:\s*(?:\([^)]{0,30}\)|or|and|/|karnofsky|lansky|kps|lps|ecog|"
                      r"performance|status|score|scale|of|is|:|,))*", _I)


def _ps_range(match: re.Match[str], scale: str) -> tuple[int | None, int | None] | None:
    values = [int(v) for v in re.findall(r"\d{1,3}", match.group("a") + match.group("list"))]
    top = 5 if scale == "ECOG" else 100
    if not values or any(v > top for v in values):
        return None
    op = (match.group("op") or "").lower()
    post = (match.group("post") or "").lower()
    step = 1 if scale == "ECOG" else 10
    if len(values) > 1:
        return min(values), max(values)
    value = values[0]
    strict = op in (">", "<") or op.startswith(("greater than", "more than", "less than",
                                                "above", "over", "under", "below"))
    strict = strict and "equal" not in op
    if op and re.match(_LE, op, _I):
        return None, value - step if strict else value
    if op and re.match(_GE, op, _I):
        return (value + step if strict else value), None
    if any(w in post for w in ("less", "lower", "below", "better", "fewer", "under")):
        return None, value
    if any(w in post for w in ("greater", "higher", "more", "above", "worse", "over")):
        return value, None
    return value, value


def find_performance_status(text: str) -> list[Requirement]:
    """ECOG/WHO/Zubrod (scale "ECOG") and Karnofsky/Lansky (scale "KPS") bounds."""
    out: list[Requirement] = []
    taken: list[tuple[int, int]] = []
    for scale, cue in (("KPS", _KPS_CUE), ("ECOG", _ECOG_CUE)):
        for match in cue.finditer(text):
            if any(s <= match.start() < e for s, e in taken):
                continue
            word = match.group(0).lower()
            if word.startswith("who") and not re.search(r"performance|ps\b|who\s*\d|who\s*[≤<]",
                                                         text[match.start():match.end() + 4],
                                                         _I):
                continue  # "patients who ..." is not the WHO scale
            value = _PS_VALUE.match(text, match.end())
            if not value or not re.match(r"\s*(?:[(:=≥≤<>]|of|is|\d)", text[match.end():], _I):
                # "Lansky (age < 16) or Karnofsky (age ≥ 16) score ≥ 50": skip the asides.
                skip = _PS_SKIP.match(text, match.end())
                value = _PS_VALUE.match(text, skip.end()) if skip else None
                if value and not re.match(_GE + "|" + _LE, value.group(0).strip(), _I):
                    value = None
            if not value:
                continue
            bounds = _ps_range(value, scale)
            if bounds is None:
                continue
            low, high = bounds
            if scale == "ECOG" and low is None:
                low = 0  # the ECOG scale starts at 0: "ECOG ≤ 1" is 0-1
            out.append(requirement("performance_status",
                                   {"scale": scale, "min": low, "max": high},
                                   text, match.start(), value.end()))
            taken.append((match.start(), value.end()))
    out.sort(key=lambda r: r.start)
    return _widen_by_allowances(out, text)


def _widen_by_allowances(found: list[Requirement], text: str) -> list[Requirement]:
    """"ECOG 0 or 1 (patients with disease-related ECOG 2 are allowed)": a second bound of
    the same scale in a permission widens the first instead of adding a second limit."""
    if len(found) < 2:
        return found
    out: list[Requirement] = []
    for req in found:
        first = next((r for r in out if r.params["scale"] == req.params["scale"]), None)
        if first is not None and is_allowance(text, req.start, req.end):
            lows = [v for v in (first.params["min"], req.params["min"]) if v is not None]
            highs = [v for v in (first.params["max"], req.params["max"]) if v is not None]
            first.params["min"] = min(lows) if lows else None
            first.params["max"] = max(highs) if len(highs) == 2 else None
            continue
        out.append(req)
    return out


# ---------------------------------------------------------------------------------- stage

# Stage groups in order, as AJCC (8th ed.) and FIGO (2018/2023) write them; a range
# "IIIB-IV" covers everything between, and a bare group ("III") covers its subgroups.
STAGE_GROUPS = ["0", "I", "IA", "IA1", "IA2", "IA3", "IB", "IB1", "IB2", "IB3", "IC", "II",
                "IIA", "IIA1", "IIA2", "IIB", "IIC", "III", "IIIA", "IIIB", "IIIC", "IIIC1",
                "IIIC2", "IV", "IVA", "IVB", "IVC"]
_ARABIC = {"0": "0", "1": "I", "2": "II", "3": "III", "4": "IV"}
_GROUP = r"(?:IV|I{1,3}|0|[0-4])(?:[ABCabc][123]?)?(?![A-Za-z0-9])"
# A list whose comma was left out ("stage IIA, IIB IIIA or IIIB"): a space before another
# Roman group written in capitals.
_BARE_SPACE = r"(?<=[IVABC123])(?=\s+(?-i:(?:IV|I{1,3})[A-C]?[123]?)(?![A-Za-z0-9]))"
_STAGE = re_compile(
    rf"\b(?:(?:ajcc|uicc|figo|tnm|clinical|pathologic(?:al)?|c|p|ann\s+arbor|"
    rf"\(?\d{{1,2}}(?:st|nd|rd|th)\s+ed(?:ition)?\.?\)?|(?:ajcc|uicc)\s+v?\d+)\s+)*"
    rf"stages?\s*(?:group(?:ing)?\s*)?(?:of\s+|is\s+|:\s*)?"
    rf"(?P<op>{_GE}|{_LE})?\s*"
    rf"(?P<expr>{_GROUP}(?:\s*(?:-|–|to|through|,\s*(?:or|and/or|and)|or|and/or|and|,|/|\+|"
    rf"{_BARE_SPACE})\s*(?:stage\s+)?{_GROUP})*)"
    rf"(?:\s*(?P<post>or\s+(?:higher|greater|above|more|worse|later|beyond|less|lower|earlier)|"
    rf"and\s+(?:above|higher|beyond|below|lower)|\+))?",
    _I)


# A bracketed aside right after a stage group, naming no stage itself.
_STAGE_ASIDE = re_compile(r"(?<=[IV0-4ABC])\s*\((?![^()]*\b(?:stages?|I{1,3}V?[A-C]?\d?|"
                          r"IV[A-C]?|[0-4][A-C]?)\b)[^()]{1,100}\)(?=\s*(?:,|or\b|and\b|-|–|to\b))",
                          _I)


# (Not a first-line therapy's: "Study treatment must be first-line therapy for Stage IV or
# recurrent disease" is the stage the study treats.)
_STAGE_HISTORY = re_compile(
    r"\b(?:(?<!first[\s-]line\s)(?<!front[\s-]line\s)(?<!frontline\s)(?<!1st[\s-]line\s)"
    r"(?:treatment|therapy|surgery|resection)\s+for|treated\s+for|history\s+of|"
    r"previously(?!\s+untreated)|prior|initial(?:ly)?)\s+(?:\w+\s+)?$", _I)


def _canon_group(token: str) -> str | None:
    token = token.strip().upper()
    numeral = re.match(r"(IV|I{1,3}|0|[0-4])(.*)", token)
    if not numeral:
        return None
    base = _ARABIC.get(numeral.group(1), numeral.group(1))
    group = base + numeral.group(2)
    return group if group in STAGE_GROUPS else None


def _with_subgroups(group: str) -> list[str]:
    return [g for g in STAGE_GROUPS if g == group or (g.startswith(group) and group != "I"
                                                       and not g.startswith(group + "I")
                                                       and not g.startswith(group + "V"))
            or (group == "I" and g in ("IA", "IA1", "IA2", "IA3", "IB", "IB1", "IB2", "IB3",
                                       "IC"))]


def expand_stage_range(low: str, high: str) -> list[str]:
    """All groups from `low` to `high` inclusive, with the subgroups of `high`."""
    first = STAGE_GROUPS.index(low)
    last = max(STAGE_GROUPS.index(g) for g in _with_subgroups(high))
    return STAGE_GROUPS[first:last + 1]


_SHARED_NUMERAL = re_compile(r"(?:\b|(?<=[Ss]tage))(IV|I{1,3})([A-C])/([A-C])\b")


# A study's stages as a criterion's label ("Stage 1:", "Stages 1 and 2:"): Arabic numerals,
# then a colon, at the start of the criterion.
_STUDY_STAGE_LABEL = re_compile(r"\s*stages?\s+\d(?:\s*(?:,|and|&|/|or)\s*\d)*\s*:", _I)


# A stage in brackets restating what was just denied: "must not have metastatic breast cancer
# (stage IV disease)", "no distant metastases (M1 or stage IV)".
_RESTATING_OPEN = re_compile(r"\(\s*(?:(?:i\.?e\.?,?|M1[a-c]?\s+or|AJCC)\s+)?$", _I)
_RESTATING_CLOSE = re_compile(r"\s*(?:disease)?\s*\)", _I)


_OTHER_ITEM = re_compile(r".*(?:[),;]|\bor\b|\band\b)", _I | re.S)


def _restated_negation(text: str, start: int, end: int) -> bool:
    opening = _RESTATING_OPEN.search(text, max(0, start - 14), start)
    if not opening or not _RESTATING_CLOSE.match(text, end):
        return False
    # the denial must be of the words right before the bracket, not of another item of
    # the list ("(Stage IIIB not amenable ...) or metastatic (Stage IV)")
    before = text[max(0, opening.start() - 60):opening.start()]
    item = _OTHER_ITEM.match(before)
    words = before[item.end():] if item else before
    return is_negated(words + "(", len(words), len(words) + 1, look_after=False)


def find_stage(text: str) -> list[Requirement]:
    """Allowed stage groups ("stage IIIB-IV", "stage III or IV", "stage II or higher")."""
    out: list[Requirement] = []
    # "Stage IIIB/C or IV" is IIIB, IIIC or IV: spell out the shared numeral (same length
    # would not hold, so spans are taken from the text as written).
    text_for_groups = _SHARED_NUMERAL.sub(lambda m: f"{m.group(1)}{m.group(2)}/"
                                          f"{m.group(1)}{m.group(3)}", text)
    if text_for_groups != text:
        return [requirement("stage", r.params, text, 0, len(text))
                for r in find_stage(text_for_groups)]
    # "Stage IIIB (non amenable to curative-intent multimodal treatment) or IV": an aside in
    # brackets between two groups of the list (blanked to its length: spans still index
    # the text).
    scan = _STAGE_ASIDE.sub(lambda m: " " * len(m.group(0)), text) if "(" in text else text
    for match in _STAGE.finditer(scan):
        if match.start() == len(text) - len(text.lstrip()) and _STUDY_STAGE_LABEL.match(text):
            continue  # "Stages 1 and 2: Measurable disease ...": the study's stages
        expr = match.group("expr")
        parts = re.split(r"\s*(-|–|to|through|,\s*(?:or|and/or|and)|or|and/or|and|,|/|\+|"
                         + _BARE_SPACE + r")\s*(?:stage\s+)?", expr, flags=_I)
        tokens, seps = parts[0::2], parts[1::2]
        groups: list[str] = []
        canon = [_canon_group(t) for t in tokens]
        if any(c is None for c in canon):
            continue
        i = 0
        while i < len(canon):
            if i < len(seps) and seps[i].lower() in ("-", "–", "to", "through"):
                low, high = canon[i], canon[i + 1]
                if STAGE_GROUPS.index(low) > STAGE_GROUPS.index(high):
                    break
                groups += expand_stage_range(low, high)
                i += 2
            else:
                groups += _with_subgroups(canon[i])
                i += 1
        op = (match.group("op") or "").lower()
        post = (match.group("post") or "").lower()
        if len(canon) == 1 and (re.match(_GE, op, _I) and op or any(
                w in post for w in ("higher", "greater", "above", "more", "worse", "later",
                                    "beyond", "+"))):
            groups = STAGE_GROUPS[STAGE_GROUPS.index(canon[0]):]
        elif len(canon) == 1 and (op and re.match(_LE, op, _I) or any(
                w in post for w in ("less", "lower", "earlier", "below"))):
            groups = STAGE_GROUPS[:max(STAGE_GROUPS.index(g) for g in groups) + 1]
        groups = list(dict.fromkeys(groups))
        if not groups:
            continue
        if _STAGE_HISTORY.search(text[max(0, match.start() - 40):match.start()]):
            continue  # "completed treatment for stage I-III breast cancer": a past stage
        params: dict = {"groups": groups}
        # Only a negation right before counts ("no stage IV"): "not amenable to surgery ...
        # or stage IV" negates something else.
        if is_negated(text, match.start(), match.end(), window=12, look_after=False) or \
                _restated_negation(text, match.start(), match.end()):
            params["negated"] = True
        out.append(requirement("stage", params, text, match.start(), match.end()))
    return out


# ------------------------------------------------------------------------------- gleason

_G_OP = (r"(?P<op>≤|<=|=<|<|≥|>=|=>|>|less\s+than\s+or\s+equal\s+to|less\s+than|"
         r"greater\s+than\s+or\s+equal\s+to|greater\s+than|at\s+least|at\s+most|of|=|is)?")
_GLEASON_BOUND = re_compile(
    r"\b(?:gleason(?:\s+(?:score|sum|grade))?|(?P<gg>(?:isup\s+)?grade\s+group|isup\s+grade))"
    r"\s*(?:\(\s*gs\s*\)\s*)?" + _G_OP + r"\s*"
    r"(?:(?P<a>[1-5])\s*\+\s*(?P<b>[1-5])(?:\s*=\s*\d+)?|(?P<n>10|[1-9])(?![\d.+]))"
    r"(?P<post>\s*(?:or|and)\s+(?:less|lower|below|under|higher|greater|above|more|"
    r"worse))?",
    re.IGNORECASE)
_NO_PATTERN_4 = re_compile(r"\bno\s+(?:biopsy\s+)?gleason\s+(?:grade|pattern)s?\s+4\s+"
                           r"(?:or|and|/)\s+5\b", re.IGNORECASE)
_GROUP_RANGE_AFTER = re_compile(r"\s*(?:or|-|–|to|and|,)\s*([1-5])\b", re.IGNORECASE)
_GLEASON_IF = re_compile(r"\b(?:if|when|unless|where|defined\s+as)\b[^.;]{0,45}$", re.IGNORECASE)


def _group_bounds(op: str, post: str, score: int | None, pattern: tuple[int, int] | None,
                  grade_group: bool) -> tuple[int | None, int | None]:
    """(min, max) ISUP grade group a Gleason bound allows (`grade.gleason_grade_group`)."""
    op = " ".join(op.lower().split())
    below = op in ("≤", "<=", "=<", "less than or equal to", "at most") or any(
        w in post for w in ("less", "lower", "below", "under"))
    above = op in ("≥", ">=", "=>", "greater than or equal to", "at least") or any(
        w in post for w in ("higher", "greater", "above", "more", "worse"))
    strict_below, strict_above = op in ("<", "less than"), op in (">", "greater than")
    if grade_group:
        group = score or 0
        low_group = high_group = group
    elif pattern is not None:
        low_group = high_group = gleason_grade_group(*pattern)
    else:
        low_group, high_group = gleason_score_groups(score or 0)
    if strict_below:
        return None, low_group - 1
    if strict_above:
        return high_group + 1, None
    if below:
        return None, high_group
    if above:
        return low_group, None
    return low_group, high_group


_GRADE_NAMED = re_compile(r"\blow[\s-]+grade(?:\s+(?:or|and/or|and|to)\s+intermediate[\s-]+grade)?"
                          r"(?=\s+(?:localized\s+)?prostate\s+(?:cancer|adenocarcinoma|carcinoma)"
                          r"|\s+(?:\w+\s+)?\(pc\))", _I)


def find_gleason(text: str) -> list[Requirement]:
    """Bounds on a prostate cancer's Gleason grade, as ISUP grade groups (Epstein JI et al.,
    2016): "Gleason score <= 7" (<= 3), "Gleason 3+4 or less" (<= 2), "Gleason >= 8" (>= 4),
    "Grade Group 1-2", "No biopsy Gleason grade 4 or 5" (1); one requirement per criterion.
    A list without a bound ("Gleason 3+3 or 3+4", "Gleason 4+4 or 4+5") spans what it names:
    up to its highest group when all are below 4, from its lowest when one is 4 or 5. Not a
    rule for a subgroup or a definition of another finding ("If Gleason score is 7(3+4)
    patient must have ...", "discordance ... defined as biopsy cores with Gleason >= 4+3")."""
    no_four = _NO_PATTERN_4.search(text)
    if no_four:
        return [requirement("gleason", {"max_group": 1}, text, no_four.start(), no_four.end())]
    named = _GRADE_NAMED.search(text)
    if named:
        # "low-grade or intermediate-grade prostate cancer": ISUP grade group 1 is low grade,
        # 2-3 intermediate, 4-5 high (Epstein JI et al., Am J Surg Pathol 2016)
        words = named.group(0).lower()
        high = 3 if "intermediate" in words else 1
        return [requirement("gleason", {"max_group": high}, text, named.start(), named.end())]
    bounded: list[tuple[int | None, int | None]] = []
    listed: list[int] = []
    patterns: list[str] = []  # "5+4": the primary and secondary patterns a list names
    only_patterns = True
    spans: list[tuple[int, int]] = []
    for match in _GLEASON_BOUND.finditer(text):
        if _GLEASON_IF.search(text, max(0, match.start() - 60), match.start()):
            continue
        pattern = (int(match.group("a")), int(match.group("b"))) if match.group("a") else None
        score = int(match.group("n")) if match.group("n") else None
        if match.group("gg") and (score is None or score > 5):
            continue
        if not match.group("gg") and pattern is None and score is not None and score <= 5:
            continue  # "any Gleason 5": a pattern, not a score
        op = (match.group("op") or "").strip().lower()
        post = (match.group("post") or "").lower()
        low, high = _group_bounds(op, post, score, pattern, bool(match.group("gg")))
        more = _GROUP_RANGE_AFTER.match(text, match.end()) if match.group("gg") else None
        if more and high is not None:
            high = max(high, int(more.group(1)))  # "Grade Group 1 or 2", "grade group 1-3"
        spans.append((match.start(), match.end()))
        if (op and op not in ("of", "=", "is")) or post or more:
            bounded.append((low, high))
        else:
            listed += [g for g in (low, high) if g is not None]
        if pattern is None:
            only_patterns = False
        else:
            patterns.append(f"{pattern[0]}+{pattern[1]}")
    if not spans:
        return []
    # "Gleason score of 6 or less or 7 (3+4)", "Gleason >= 7 (3+4 and/or 4+3)": the patterns
    # the list goes on to name
    for extra in re.finditer(r"\b([1-5])\s*\+\s*([1-5])\b",
                             text[spans[0][1]:spans[-1][1] + 40]):
        listed.append(gleason_grade_group(int(extra.group(1)), int(extra.group(2))))
        patterns.append(f"{extra.group(1)}+{extra.group(2)}")
    params: dict = {}
    if bounded:
        lows = [low for low, _ in bounded] + (listed if all(low is not None for low, _ in
                                                             bounded) else [])
        highs = [high for _, high in bounded] + (listed if all(high is not None for _, high in
                                                               bounded) else [])
        if lows and all(low is not None for low in lows) and min(lows) > 1:  # type: ignore
            params["min_group"] = min(lows)  # type: ignore[type-var]
        if highs and all(high is not None for high in highs) and max(highs) < 5:  # type: ignore
            params["max_group"] = max(highs)  # type: ignore[type-var]
    elif listed:
        if max(listed) < 4:
            params["max_group"] = max(listed)
            if min(listed) > 1:
                params["min_group"] = min(listed)
        else:
            params["min_group"] = min(listed)
    if not params:
        return []
    if not bounded and only_patterns and patterns:
        # "Primary Gleason pattern 5 (Gleason score 5+4 or 5+5)": the patterns themselves
        # decide where the patient's are known (4+5 is grade group 5, but not these)
        params["patterns"] = list(dict.fromkeys(patterns))
    if _OR_WORD.search(text) and _OTHER_RISK_FACTOR.search(text):
        # "T3a or Gleason score 8-10 or PSA > 20": one of several risk factors, the others
        # (T category, PSA) not read here
        params["or_other"] = True
    return [requirement("gleason", params, text, spans[0][0], spans[-1][1])]


_OR_WORD = re_compile(r"\bor\b", re.IGNORECASE)
_OTHER_RISK_FACTOR = re_compile(r"\bPSA\b|\b[cp]?T[1-4][abc]?\b|\bclinical\s+stage\b")

# --------------------------------------------------------------------------------- extent

_TUMOUR_WORD = (r"(?:cancers?|carcinomas?|disease|tumou?rs?|malignan\w*|neoplasms?|nsclc|sclc|"
                r"crc|hcc|rcc|mcrpc|crpc|\w+omas?|leuka?emia|solid|setting|stage|"
                # blood cancers by their acronyms ("relapsed AML", "R/R MM")
                r"aml|apl|cll|cml|mds|mm|nhl|dlbcl|mcl|fl|hl|mpal|"
                r"(?:\w+\s+)?(?:breast|lung|prostate|colorectal|gastric|pancreatic|ovarian|"
                r"bladder|urothelial|renal|head|cervical|endometrial|esophageal|hepatocellular|"
                r"biliary|thyroid|skin))")
# ("all" alone is the word more often than the leukaemia: only "B-ALL", "T-ALL")
_HEME_ACRONYM = (r"aml|apl|cll|cml|mds|mm|nhl|dlbcl|mcl|fl|hl|mpal|b-all|t-all|leuka?emias?|"
                 r"lymphomas?|myelomas?")
_NEAR_TUMOUR = rf"(?=(?:[\s,/()-]+(?:and/or|or|and|[\w-]+)){{0,5}}?[\s,/()-]+{_TUMOUR_WORD}\b)"
# "uncured recurrent diarrhea, ... gastric diseases": a recurring symptom is no recurrence.
_NOT_A_SYMPTOM = (r"(?![\s-]+(?:diarrh\w*|infections?|pneumon\w*|thrombo\w*|bleed\w*|effusions?|"
                  r"ascites|nausea|vomit\w*|seizures?|urinary|pancreatitis|colitis|episodes?|"
                  r"falls?|fractures?|pericardial|pleural|hypoglyc\w*|syncope|angina)\b)")
_EXTENT_PATTERNS = [
    ("locally_advanced", r"\b(?:locally|loco-?regionally|regionally)[\s-]+advanced\b"),
    # "metastatic lymph nodes" are regional disease, not distant
    # ("metastatic workup": a procedure, not the disease)
    ("metastatic", r"\b(?:non-?|not\s+)?metastatic\b(?![\s-]+(?:work-?\s*up|evaluation|survey|"
                   r"screening|assessment)\b)(?!\)?[\s-]+(?:to\s+)?(?:the\s+)?(?:brain|cns|"
                   r"central\b|spinal|leptomening|lesions?\s+in\s+the\s+brain|(?:(?:axillary|"
                   r"regional|cervical|lymph|ipsilateral)\s+)*(?:lymph\s+)?nodes?\b))|"
                   r"\bdistant\s+metasta\w*|\bmetastatic\s+disease\b|\bstage\s+iv\b(?=.{0,3}\()|"
                   # "Metastasis disease", "distant spread of the disease": other wordings
                   r"\bmetasta(?:sis|ses)\s+disease\b|\bdistant\s+(?:spread|disease)\b"),
    ("unresectable", r"\b(?:unresectable|un-resectable|non-?resectable|inoperable|"
                     r"not\s+(?:surgically\s+)?resectable|not\s+(?:amenable|suitable|eligible|"
                     r"a\s+candidate|candidates?)\s+(?:to|for)\s+(?:curative(?:-intent)?\s+|"
                     r"complete\s+|radical\s+)?(?:surgical\s+)?(?:resection|surgery))\b"),
    ("recurrent", rf"\b(?:recurrent|relapsed|recurred|relapsing)\b{_NOT_A_SYMPTOM}{_NEAR_TUMOUR}|"
                  # "Ipsilateral recurrence", "local recurrence of the breast cancer"
                  r"\b(?:ipsilateral|local|locoregional|loco-regional|in-breast)\s+(?:breast\s+)?"
                  r"(?:tumou?r\s+)?recurrences?\b|"
                  # "refractory AML" (not "refractory anemia", an old MDS name; solid tumours
                  # refractory to standard therapy are read as lines of therapy)
                  rf"\brefractory\b(?=\s+(?:{_HEME_ACRONYM})\b)|"
                  r"\b(?:recurrent|relapsed)\s*(?:/|or|and/or)\s*(?:refractory|resistant|metastatic)\b|"
                  r"\b(?:relapsed|recurrent)\s+(?:or\s+)?(?:refractory|resistant)\b"),
    ("resected", r"\b(?:completely|surgically|radically|curatively|fully|macroscopically)?\s*"
                 r"(?<!un)resected\b|\bafter\s+(?:complete\s+)?(?:surgical\s+)?resection\b|"
                 r"\br0\s+resection\b|\bpost-?operative(?:ly)?\b(?![\s-]+(?:adjuvant\s+)?(?:chemo\w*|radio\w*|"
                 r"radiation|therap\w*|treatments?|care|complications?|period|recovery|pain|"
                 r"bleeding|infections?|healing|wounds?))|\bunderwent\s+(?:complete\s+|"
                 r"curative\s+)?(?:surgical\s+)?resection\b|"
                 # "cervical cancer post hysterectomy", "prostate cancer after radical
                 # prostatectomy" (the diagnosis with its operation)
                 r"(?:(?<=cancer\s)|(?<=tumor\s)|(?<=tumour\s))(?:post|after|following)[\s-]+"
                 r"(?:(?:a|an|the|"
                 r"radical|total|simple|"
                 r"complete|definitive|primary|curative)\s+)*(?:hysterectomy|mastectomy|"
                 r"prostatectomy|nephrectomy|cystectomy|lobectomy|pneumonectomy|colectomy|"
                 r"gastrectomy|esophagectomy|oesophagectomy|lumpectomy|pancreatectomy)\b"),
    ("early_stage", r"\bearly[\s-]+stage\b|\bearly\s+(?:breast|lung|\w+)?\s*cancer\b"),
    # "Newly diagnosed AML": not relapsed or refractory (read as recurrent, negated).
    # "Clinically localized prostate cancer", "organ-confined disease": not metastatic
    # (read as metastatic, negated).
    # Not "non-organ confined" (beyond the organ), nor an exception for another cancer
    # ("except localized basal cell skin cancer"), read in `find_extent`.
    ("localized", rf"(?<!non-)(?<!non )\b(?:clinically\s+)?(?:locali[sz]ed|organ[- ]confined)"
                  rf"\b{_NEAR_TUMOUR}|"
                  # "intramucosal gastric cancer", "non-muscle-invasive bladder cancer": disease
                  # confined to the mucosa (T1a) or above the muscle (Ta/Tis/T1), not metastatic
                  rf"\b(?:intra-?mucosal|non[\s-]?muscle[\s-]?invasive)\b{_NEAR_TUMOUR}|"
                  # "Operable breast cancer", "resectable NSCLC": curable by surgery, so not
                  # metastatic ("resectable liver metastases" and "resectable or unresectable"
                  # say no such thing)
                  r"(?<![\w-])(?:(?:surgically|potentially|primarily)\s+)?(?:operable|resectable)\b"
                  r"(?!\s*(?:or|and/or|/|,)\s*(?:(?:un|non-?|in|not\s+)(?:resectable|operable)|"
                  r"borderline|metasta))(?![^.;:()]{0,60}metasta)"
                  rf"{_NEAR_TUMOUR}"),
    # "Scheduled for elective breast cancer surgery", "planned nerve-sparing radical
    # prostatectomy", "eligible for primary surgery", "undergoing definitive external beam
    # radiotherapy", "eligible for definitive curative intent treatment": an operation on
    # the primary tumour or a definitive (curative) treatment, planned, treats disease that
    # has not spread (not a liver or lung resection, nor a
    # nephrectomy: those are done for metastases too). Inclusions only: an exclusion of a
    # planned operation ("scheduled for bilateral mastectomy") says nothing of spread.
    ("planned_surgery", r"(?<!\bnot\s)(?<!\bnot\sbe\s)(?<!\bnon-)\b(?:scheduled|planned|planning|"
                  r"candidates?|eligible|undergoing|(?:will|to)\s+undergo)\s+(?:for\s+|to\s+"
                  r"undergo\s+|to\s+have\s+)?(?:an?\s+|the\s+)?(?:(?:elective|curative(?:[\s-]+"
                  r"intent)?|radical|primary|upfront|up-front|definitive|open|robot(?:ic)?(?:[\s-]+"
                  r"assisted)?|laparoscopic|bilateral|unilateral|(?:bilateral\s+)?nerve[\s-]+"
                  r"sparing)[\s,-]+)*(?:(?:breast[\s-]+(?:cancer\s+)?(?:conserving\s+|conservative"
                  r"\s+)?|(?:colorectal|rectal|colon|gastric|lung|pancreatic|esophageal|"
                  r"oesophageal)\s+cancer\s+)surgery|mastectomy|lumpectomy|prostatectomy|"
                  r"cystectomy|esophagectomy|oesophagectomy|gastrectomy|colectomy|lobectomy|"
                  r"pneumonectomy|pancreat(?:ico)?duodenectomy|whipple|(?<=curative\s)(?:surgery|"
                  r"resection)|(?<=curative-intent\s)(?:surgery|resection)|(?<=radical\s)surgery|"
                  r"(?<=primary\s)surgery|(?<=upfront\s)surgery|"
                  # definitive radiotherapy of the primary, or curative treatment as such
                  r"(?<=definitive\s)(?:external[\s-]+beam\s+)?(?:radiotherapy|radiation(?:\s+"
                  r"therapy)?|chemo-?radiation|chemo-?radiotherapy|brachytherapy)|"
                  r"(?<=curative\s)(?:treatment|therapy)|(?<=curative[\s-]intent\s)(?:treatment|"
                  r"therapy)|"
                  # "Scheduled to undergo targeted local therapy (HDR brachytherapy)": the
                  # primary treated where it is
                  r"(?:targeted\s+)?local\s+therap(?:y|ies)|(?:(?:hdr|ldr|high[\s-]+dose[\s-]+"
                  r"rate|low[\s-]+dose[\s-]+rate)\s+)?brachytherapy)\b"),
    # Not "newly diagnosed brain metastases" or another condition's diagnosis.
    ("newly_diagnosed", r"(?:\b(?:newly|recently)[\s-]+diagnos(?:ed|is)\b|\bnew\s+diagnosis\b)"
                        r"(?!(?:[\s,-]+(?:of|with|and|[\w-]+)){0,3}?[\s,-]+(?:brain|cns|central|"
                        r"metasta\w*|leptomening\w*|spinal|hypertension|diabetes|infection|"
                        r"thrombo\w*|embol\w*|seizures?|heart|cardiac|hiv|hepatitis)\b)"),
    ("advanced", rf"(?<!locally )(?<!locally-)(?<!regionally )\badvanced\b{_NEAR_TUMOUR}"),
    # "solid tumors that are advanced", "the disease is advanced"
    ("advanced", r"(?<=\bare\s)advanced\b(?![\s-]+(?:in|age|years?)\b)|"
                 r"(?<=\bis\s)advanced\b(?![\s-]+(?:in|age|years?)\b)|"
                 # "that is metastatic/advanced, and ...": the alternative after metastatic
                 r"(?<=metastatic/)advanced\b|(?<=metastatic\sor\s)advanced\b|"
                 r"(?<=metastatic\sand/or\s)advanced\b"),
    # "Must not be a candidate for potentially curative therapy", "no curative treatment
    # options", "incurable": disease beyond cure, read as advanced (resected disease with
    # nothing since, and early-stage disease, are curable).
    ("incurable", r"\bnot\s+(?:be\s+)?(?:an?\s+)?(?:candidates?|eligible|amenable|suitable)\s+"
                  r"(?:to|for)\s+(?:any\s+)?(?:potentially\s+)?curative(?:[\s-]+intent)?\s+"
                  r"(?:therap\w*|treatments?|options?|approach\w*|modalit\w*|local\s+\w+)|"
                  r"\bno\s+(?:potentially\s+)?curative(?:[\s-]+intent)?\s+(?:therap\w*|"
                  r"treatments?|options?)\b|\bincurable\b"),
]
# Words of which every match of a name's patterns holds one (in lower case): a criterion
# with none of them is not scanned for that name (most criteria name one or two extents).
_EXTENT_WORDS = {
    "locally_advanced": ("advanced",),
    "metastatic": ("metasta", "stage", "distant"),
    "unresectable": ("resect", "inoperable", "surgery"),
    "recurrent": ("recurr", "relaps", "refractory"),
    "resected": ("resect", "operative", "ectomy"),
    "early_stage": ("early",),
    "localized": ("locali", "confined", "operable", "resectable", "mucosal", "muscle"),
    "planned_surgery": ("surgery", "ectomy", "whipple", "resection", "definitive", "curative",
                        "local", "brachy"),
    "newly_diagnosed": ("diagnos",),
    "advanced": ("advanced",),
    "incurable": ("curative", "incurable"),
}
# Folded (see `Folded`): only the offsets of these matches are read.
_EXTENT = [(name, Folded(re_compile(p, _I), _EXTENT_WORDS[name]))
           for name, p in _EXTENT_PATTERNS]
_CURE_WORDS = re_compile(r"curative|incurable", _I)
_OTHER_CANCER_BEFORE = re_compile(r"\b(?:except|other\s+than|other\s+(?:\w+\s+){0,2}?malignan|"
                                  r"other\s+(?:\w+\s+){0,2}?(?:cancer|tumou?r)|prior\s+malignan|"
                                  r"history\s+of\s+(?:another|other))", _I)
# "No clinical, radiographic, or pathologic evidence of nodal or distant metastatic disease":
# the negation reaches every alternative after "evidence of", however far it stands.
_NO_EVIDENCE_BEFORE = re_compile(r"\b(?:no|without)\s+(?:[\w,/-]+\s+){0,6}?evidence\s+(?:of|for)"
                                 r"\s+(?:[\w/-]+\s+){0,4}$", _I)
_WIDER_THAN = frozenset({("unresectable", "metastatic"), ("advanced", "metastatic"),
                         ("locally_advanced", "unresectable"),
                         ("advanced", "locally_advanced"), ("advanced", "unresectable")})
_STACKED_BETWEEN = re_compile(r"[\s(-]*(?:and\s+)?[\s-]*$", _I)  # "locally advanced (unresectable)"
_RELAPSE_WORD = re_compile(r"\b(?:relaps\w*|recurr\w*|refractory)\b", _I)
_NEWLY_WORDS = re_compile(r"(?:newly|recently)\b|new\s+diagnosis\b", _I)
# Patterns read as another extent: (the extent, whether the reading negates it).
_READ_AS = {"newly_diagnosed": ("recurrent", True), "localized": ("metastatic", True),
            "planned_surgery": ("metastatic", True), "incurable": ("advanced", False)}


def names_new_diagnosis(words: str) -> bool:
    """Are these a requirement's words "newly diagnosed" (read as not recurrent)?"""
    return _NEWLY_WORDS.match(words) is not None


def _adjacent_pairs(found: list[Requirement], text: str):
    """Pairs of extents written next to each other with nothing but a space, a hyphen or
    "and" between them ("unresectable metastatic", "metastatic and unresectable"), each
    pair as (one, other) both ways round."""
    for first, second in zip(found, found[1:], strict=False):
        if first.end <= second.start and _STACKED_BETWEEN.match(text[first.end:second.start]):
            yield first, second
            yield second, first


_THERAPY_SETTING = re_compile(r"\b(?:(?:mono|chemo|immuno)?therap(?:y|ies)|treatments?|"
                              r"treated|regimens?|lines?|agents?)\s+(?:\w+\s+){0,2}?(?:for|in|of)"
                              r"\s+(?:the\s+)?(?:\w+,?\s+){0,2}?$", _I)
# "... in the metastatic setting", "... in the adjuvant, locally advanced, or metastatic
# setting": the extents listed before "setting" are a treatment's settings.
_SETTING_AFTER = re_compile(
    r"(?:\s*[,/]?\s*(?:\bor\b|\band\b|\band/or\b)?\s*(?:the\s+)?(?:locally[\s-]+advanced|"
    r"metastatic|advanced|adjuvant|neo-?adjuvant|recurrent|perioperative|unresectable|"
    r"first[\s-]line|curative|palliative)\b){0,4}\s+settings?\b", _I)
_ASIDE_IN_LOOKBACK = re_compile(r"\s*\([^()]*\)")
_CNS_NEAR = re_compile(r"brain|cns|central\s+nervous|leptomening|spinal", _I)
# "locally advanced disease not amenable to curative therapy or metastatic": the "not"
# denies a therapy option; the extent after "or" is a new alternative.
_NOT_AMENABLE_OR = re_compile(r"\bnot\s+(?:be\s+)?(?:amenable|suitable|eligible|candidates?|"
                              r"a\s+candidate|appropriate|fit)\b[^.;,]*?\bor\s+(?:[\w-]+\s+){0,2}$",
                              _I)
_NEW_ALTERNATIVE = re_compile(r",\s*(?:or|and/or)\s+(?:[\w-]+\s+){0,2}$", _I)


_NODES_INVOLVED_BY = re_compile(r"\bnodes?\s+(?:(?:are|is|were|was)\s+)?(?:involved|infiltrated|"
                                r"positive|affected)\s+(?:by|with|for)\s+(?:\w+\s+)?$", _I)
# A permission after the extent in its sentence: "will be eligible if", "are also eligible",
# "may be included" (a plain "are eligible" is how many criteria state their demand).
_PERMISSION_AFTER = re_compile(
    r"\b(?:(?:will|may|can)\s+(?:also\s+)?be|(?:are|is)\s+also)\s+(?:eligible|allowed|permitted|"
    r"included|enrolled)\b|\b(?:are|is)\s+(?:eligible|allowed|permitted)\s+(?:if|provided|"
    r"as\s+long\s+as|only\s+if|when)\b", _I)
_SENTENCE_STOP = re_compile(r"(?<!\d)\.(?!\d)|;|\n")
_ASIDE_AFTER = re_compile(r"\([^()]*(?:\)|$)")  # an aside permits something else


_OF_THE_CNS = re_compile(
    r"^\s*(?:disease\s+|lesions?\s+|tumou?rs?\s+)?(?:of|to|in|involving)\s+(?:the\s+)?"
    r"(?:cns|brain|central\s+nervous|leptomening\w*|spinal\s+cord|meninges)\b", _I)


# After "undergoing <operation>": a treatment that follows the operation makes the phrase a
# course under way ("undergoing breast conserving surgery and whole breast irradiation").
_COURSE_AFTER = re_compile(r"[^.;]{0,80}?\b(?:irradiation|radiotherapy|radiation|adjuvant|"
                           r"chemotherapy|systemic\s+therapy)\b", re.IGNORECASE)

# The extent term a criterion defines itself ("... defined as any of the following").
_DEFINED_AFTER = re_compile(r"(?:[\s-]+[\w-]+){0,4}?[\s,]+(?:(?:is|are)\s+)?defined\s+"
                            r"(?:as|either)\b", re.IGNORECASE)


def find_extent(text: str, kind: str = "inclusion") -> list[Requirement]:
    """Disease extent, one requirement per term: "locally advanced or metastatic" gives two,
    which the matcher reads as alternatives (same kind in one criterion)."""
    found: list[tuple[int, int, str, bool, bool]] = []
    for name, pattern in _EXTENT:
        if name == "planned_surgery" and kind != "inclusion":
            continue
        for match in pattern.finditer(text):
            start, end = match.start(), match.end()
            while start < end and text[start].isspace():
                start += 1
            if any(s < end and start < e for s, e, _, _, _ in found):
                continue
            if in_conditional(text, start):
                continue
            if name == "metastatic" and _NODES_INVOLVED_BY.search(text[max(0, start - 50):start]):
                continue  # "axillary nodes are involved by metastatic breast cancer": regional
            if name == "metastatic" and _OF_THE_CNS.match(text[end:end + 60]):
                continue  # "metastatic disease of the CNS" is about brain metastases

            clause_left, clause_right = clause_bounds(text, start, end)
            if name == "resected" and _CNS_NEAR.search(text[clause_left:clause_right]):
                continue
            if name == "resected" and kind != "inclusion" and text[start:end].lower(
                    ).startswith("post"):
                continue  # "post-surgery residual disease on post-operative imaging": a finding
            if name in ("localized", "planned_surgery") and _OTHER_CANCER_BEFORE.search(
                    text[max(0, start - 250):start]):
                continue  # "except ... localized prostate cancer treated surgically"
            word = text[start:end].lower()
            negated = word.startswith(("non", "not ")) and name == "metastatic"
            # "No prior therapy for metastatic disease": the negation is the therapy's.
            # (past an aside: "Anthracycline treatment (doxorubicin, epirubicin) in
            # metastatic setting")
            setting = _THERAPY_SETTING.search(
                _ASIDE_IN_LOOKBACK.sub("", text[max(0, start - 160):start])[-60:])
            if setting and _SETTING_AFTER.match(text, end):
                continue  # "anthracycline treatment in the metastatic setting": a therapy's
            # "Locally advanced disease not amenable to curative treatment, or metastatic
            # disease": a new alternative after ", or" is out of reach of the negation before.
            alternative = _NEW_ALTERNATIVE.search(text[max(0, start - 40):start]) or (
                "not " in text and _NOT_AMENABLE_OR.search(text[max(0, start - 80):start]))
            negated = negated or (not setting and not alternative and is_negated(
                text, start, end, window=40, look_after=False)) or bool(
                _NO_EVIDENCE_BEFORE.search(text[max(0, start - 120):start])) or bool(
                DENIED_AFTER.match(text, end))
            found.append((start, end, name, negated, bool(alternative)))
    found.sort()
    out: list[Requirement] = []
    previous_negated = False
    for start, end, name, negated, alternative in found:
        # ... unless the alternative before it was negated too ("No evidence of distant
        # metastases, or locally advanced inoperable disease").
        negated = negated or (alternative and previous_negated)
        previous_negated = negated
        extent, flips = _READ_AS.get(name, (name, False))
        params: dict = {"extent": extent}
        if name == "planned_surgery" and not negated and (
                not text[start:end].lower().startswith("undergoing") or
                not _COURSE_AFTER.match(text, end)):
            # (the treatment lies ahead: a primary already removed cannot be operated on.
            # "Undergoing elective breast cancer surgery" is an operation ahead;
            # "undergoing breast conserving surgery and whole breast irradiation" in an
            # adjuvant trial names the course under way, not one ahead)
            params["planned"] = True
        if name == "incurable":
            params["beyond_cure"] = True  # advanced, and no curative treatment left
        if name in ("locally_advanced", "advanced") and _DEFINED_AFTER.match(text, end):
            # "Locally advanced breast cancer defined as any of the following per AJCC" (T2
            # N1 among them): the trial's own term, defined by what follows, not by stage
            params["defined"] = True
        negated = negated != flips
        if negated:
            params["negated"] = True
        elif "ligib" in text or "llow" in text or "ermit" in text or "nclud" in text:
            sentence_end = _SENTENCE_STOP.search(text, end)
            after = text[end:sentence_end.start() if sentence_end else len(text)]
            if _PERMISSION_AFTER.search(_ASIDE_AFTER.sub(" ", after)):
                # "Patients with recurrent disease will be eligible if ...", "are also
                # eligible": a permission, which rules nobody out.
                params["allowed"] = True
        out.append(requirement("extent", params, text, start, end))
    out.sort(key=lambda r: r.start)
    pairs = [(wider, narrower) for wider, narrower in _adjacent_pairs(out, text)
             if (wider.params["extent"], narrower.params["extent"]) in _WIDER_THAN
             and not wider.params.get("negated") and not narrower.params.get("negated")]
    stacked = {id(wider) for wider, _ in pairs}
    for wider, narrower in pairs:
        # The narrower one speaks for both words ("locally advanced unresectable").
        narrower.start, narrower.end = min(wider.start, narrower.start), \
            max(wider.end, narrower.end)
        narrower.text = text[narrower.start:narrower.end]
    if stacked:
        # "Unresectable metastatic colorectal cancer", "locally advanced unresectable": one
        # disease described twice, both at once (not alternatives); the narrower word
        # decides (unresectable narrows locally advanced; metastatic narrows unresectable).
        out = [r for r in out if id(r) not in stacked]
    for first, second in zip(out, out[1:], strict=False):
        if first.params == {"extent": "recurrent"} and second.params.get("extent") in (
                "locally_advanced", "unresectable") and not second.params.get("negated") and \
                first.end <= second.start and _STACKED_BETWEEN.match(text[first.end:second.start]):
            # "recurrent locally advanced (unresectable) or metastatic": a local recurrence,
            # both at once (a newly diagnosed unresectable tumour is not one)
            second.params["recurrent"] = True
            second.start = first.start
            second.text = text[second.start:second.end]
            first.params = {}
    out = [r for r in out if r.params]
    beyond_cure = [r for r in out
                   if r.params["extent"] == "advanced" and _CURE_WORDS.search(r.text)]
    if len(beyond_cure) < len(out):
        # "Locally advanced or metastatic, not amenable to curative therapy": the words about
        # cure qualify the extents named, they add none.
        out = [r for r in out if r not in beyond_cure]
    recurrence = [r for r in out if r.params["extent"] == "recurrent"]
    if any(names_new_diagnosis(r.text) for r in recurrence) and _RELAPSE_WORD.search(text):
        # "Newly diagnosed or recurrent glioblastoma", "relapsed or newly diagnosed advanced
        # patients", "newly diagnosed advanced breast cancer, then relapsed": either course.
        out = [r for r in out if r not in recurrence]
    out.sort(key=lambda r: r.start)
    return out


# --------------------------------------------------------------------- measurable disease

_MEASURABLE = re_compile(r"\b(?:bi-?dimensionally\s+|uni-?dimensionally\s+|radiologically\s+|"
                         r"radiographically\s+)?measurable\b", _I)
_NOT_ONLY_MEASURABLE = re_compile(
    r"measurable\s+(?:and/or|or)\s+(?:non-?measurable|evaluable|assessable)|"
    r"(?:non-?measurable|evaluable|assessable)\s+(?:and/or|or)\s+measurable|"
    r"measurable\s+or\s+non-?measurable|non-?measurable|(?:not|no)\s+(?:required|necessary)",
    _I)
_STANDARDS = [
    ("iRECIST", r"\bi-?recist\b"), ("mRECIST", r"\bm-?recist\b"),
    ("RECIST 1.1", r"\brecist(?:\s*(?:version|v\.?|criteria)?\s*)?1\.1\b|"
                   r"response\s+evaluation\s+criteria\s+in\s+solid\s+tumou?rs?(?:\s*\(recist\))?"
                   r"\s*(?:version|v\.?)?\s*1\.1"),
    ("RECIST", r"\brecist\b|response\s+evaluation\s+criteria\s+in\s+solid\s+tumou?rs?"),
    ("RANO", r"\brano\b"), ("Lugano", r"\blugano\b"), ("IMWG", r"\bimwg\b"),
    ("PCWG3", r"\bpcwg\s*-?3\b"), ("Cheson", r"\bcheson\b"), ("iwCLL", r"\biwcll\b"),
    ("GCIG", r"\bgcig\b"), ("irRC", r"\birrc\b"), ("mSWOG", r"\bmswog\b"),
]
_STANDARD = [(name, re_compile(p, _I)) for name, p in _STANDARDS]


def find_measurable_disease(text: str) -> list[Requirement]:
    """Measurable disease, with the response standard named ("per RECIST 1.1")."""
    match = _MEASURABLE.search(text)
    if not match or _NOT_ONLY_MEASURABLE.search(text):
        return []
    standard = next((name for name, p in _STANDARD if p.search(text)), None)
    params: dict = {"standard": standard}
    if is_negated(text, match.start(), match.end(), window=30, look_after=False):
        params["negated"] = True
    elif is_allowance(text, match.start(), match.end()):
        return []
    return [requirement("measurable_disease", params, text, match.start(), match.end())]


# ------------------------------------------------------------------------ organ function

_MEASURES = [
    ("ANC", r"\babsolute\s+(?:neutrophil|granulocyte)\s+(?:count|counts)\b(?:\s*\((?:anc|agc)\))?|"
            r"\b(?:anc|agc)\b|\bneutrophils?(?:\s+counts?)?\b|\bgranulocytes?(?:\s+counts?)?\b"),
    ("platelets", r"\bplatelets?(?:\s+counts?)?\b(?:\s*\(plt\))?|\bplt\b|\bthrombocytes?\b"),
    # not glycated haemoglobin (HbA1c, a diabetes measure)
    ("hemoglobin", r"(?<!glycosylated )(?<!glycated )\bha?emoglobin\b(?!\s*\(?a1c)"
                   r"(?:\s*\((?:hgb|hb)\))?|\bhgb\b(?!\s*a1c)|\bhb\b(?!\s*a1c)"),
    ("WBC", r"\b(?:white\s+blood\s+cells?|leukocytes?|leucocytes?)(?:\s+counts?)?\b"
            r"(?:\s*\(wbc\))?|\bwbc\b"),
    ("CrCl", r"\b(?:calculated\s+|measured\s+|estimated\s+)?creatinine\s+clearance\b"
             r"(?:\s*\((?:crcl|clcr)\))?|\bcrcl\b|\bclcr\b|\b(?:estimated\s+)?glomerular\s+"
             r"filtration\s+rate\b(?:\s*\(e?gfr\))?|(?-i:\beGFR\b|\bGFR\b)"),
    ("creatinine", r"\b(?:serum\s+)?creatinine\b(?!\s+clearance)(?:\s*\((?:scr|cr)\))?"),
    ("bilirubin", r"\b(?:total\s+|serum\s+|direct\s+|conjugated\s+)?bilirubin\b(?:\s*\(t?bili?\))?|"
                  r"\btbili?\b"),
    ("AST", r"\b(?:aspartate\s+(?:amino)?transferase|aspartate\s+aminotransaminase)\b"
            r"(?:\s*\((?:ast|sgot)(?:\s*/\s*(?:ast|sgot))?\))?|\bsgot\b|(?-i:\bAST\b)"),
    ("ALT", r"\b(?:alanine\s+(?:amino)?transferase|alanine\s+aminotransaminase)\b"
            r"(?:\s*\((?:alt|sgpt)(?:\s*/\s*(?:alt|sgpt))?\))?|\bsgpt\b|(?-i:\bALT\b)"),
    ("AST+ALT", r"\b(?:serum\s+)?transaminases?\b|\baminotransferases?\b|\bliver\s+enzymes\b"),
]
_MEASURE = re_compile("|".join(f"(?P<{name.replace('+', '_')}>{p})" for name, p in _MEASURES),
                      _I)
_ORGAN_VALUE = re_compile(
    rf"(?P<op>(?:above|greater\s+than|more\s+than|over|exceed\w*)\s+(?:the\s+)?(?:institutional\s+)?"
    rf"(?:upper\s+limits?\s+of\s+normal|normal(?:\s+limits?|\s+range)?|uln)|"
    rf"{_GE}|{_LE}|=|within\s+(?:the\s+)?(?:institutional\s+)?(?:normal|reference)\s+"
    r"(?:limits?|range)|(?:within|in)\s+normal\s+range|normal)?\s*(?:of\s+|:\s*)?"
    r"(?P<num>\d{1,3}(?:[,\s]\d{3})+|\d+(?:\.\d+)?)?\s*"
    r"(?P<unit>(?:x|×|\*|times)\s*(?:the\s+)?(?:institutional\s+|local\s+)?(?:upper\s+limits?\s+of\s+"
    r"(?:the\s+)?normal(?:\s+range)?|uln|upper\s+normal\s+limit|normal\s+upper\s+limit|"
    r"the\s+upper\s+limit|normal)|x?\s*uln\b|(?:x|×|\*)\s*10\s*(?:\^|\*|e|exp)?\s*(?:9|3)\s*/\s*"
    r"(?:l|µl|ul|mcl|mm3)|(?:x|×)\s*10\s*(?:9|3)\s*/\s*(?:l|µl|ul)|x?\s*109\s*/\s*l|"
    r"(?:cells?\s*)?/\s*(?:mm\s*\^?\(?3\)?|mm³|µl|ul|mcl|microliter|cu\s*mm|mm\s*3)|"
    r"(?:g|gm|gr)\s*/\s*dl|g\s*/\s*l|gi?ga\s*/\s*l|mmol\s*/\s*l|mg\s*/\s*dl|"
    r"(?:µ|u|micro|μ)mol\s*/\s*l|ml\s*/\s*min(?:\s*/\s*1\.73\s*m\s*\^?2|/1\.73m2)?|"
    r"k\s*/\s*(?:µl|ul|mm3)|(?:lakhs?|lacs?)\b(?:\s*(?:/|per)\s*(?:cu\s*mm|cumm|mm\s*3|µl|ul|mcl))?|"
    r"g/l|/l)?"
    r"(?:\s*(?P<post>or\s+(?:more|greater|higher|above|less|lower|below)))?",
    _I)
_LATER_THRESHOLD = re_compile(r"(?<=\s)(?:≥|>=|≤|<=|<|>)\s*\d", _I)
# The direction of each measure's eligibility bound (counts and clearance from below, organ
# injury markers from above): the operator a bound without one takes.
ELIGIBILITY_BOUND = {"ANC": ">=", "platelets": ">=", "hemoglobin": ">=", "WBC": ">=",
                     "CrCl": ">=", "creatinine": "<=", "bilirubin": "<=", "AST": "<=",
                     "ALT": "<=", "AST+ALT": "<="}


def _op(word: str, post: str) -> str | None:
    word = re.sub(r"\s*/\s*=", "=", " ".join(word.lower().split()))  # ">/=" is ">="
    word = re.sub(r"^=\s+([<>])$", r"=\1", re.sub(r"^([<>])\s+=$", r"\1=", word))  # "= <"
    if word.startswith(("within", "in normal", "normal")):
        return "<="
    if word in (">", "greater than", "more than", "above", "over", "older than"):
        return ">"
    if word in ("<", "less than", "below", "under", "younger than"):
        return "<"
    if word and re.fullmatch(_GE, word, _I):
        return ">="
    if word and re.fullmatch(_LE, word, _I):
        return "<="
    if post:
        return ">=" if re.search(r"more|greater|higher|above", post, _I) else "<="
    return None


def _organ_value(measure: str, match: re.Match[str]) -> tuple[str, float, str] | None:
    op_word = match.group("op") or ""
    op = _op(op_word, match.group("post") or "")
    unit_text = " ".join((match.group("unit") or "").lower().split())
    number = match.group("num")
    if re.match(r"(?:above|greater\s+than|more\s+than|over|exceed\w*)\s+(?:the\s+)?"
                r"(?:institutional\s+)?(?:upper\s+limit|normal|uln)", op_word, _I) and not number:
        if measure in ("creatinine", "bilirubin", "AST", "ALT", "AST+ALT"):
            return ">", 1.0, "xULN"
        return None
    if op_word.lower().strip().startswith(("within", "in normal", "normal")) and not number:
        if measure in ("creatinine", "bilirubin", "AST", "ALT", "AST+ALT"):
            return "<=", 1.0, "xULN"
        return None
    if number is None:
        return None
    value = float(re.sub(r"[,\s]", "", number))
    if op is None:
        op = ELIGIBILITY_BOUND[measure]
    if "uln" in unit_text or "upper" in unit_text or "normal" in unit_text or (
            unit_text.startswith(("x", "×", "times")) and "10" not in unit_text):
        return op, value, "xULN"
    if measure in ("ANC", "platelets", "WBC"):
        if unit_text.startswith("la"):  # Indian notation: 1 lakh = 100,000 per µL
            return op, round(value * 100, 3), "10^9/L"
        per_litre = re.search(r"10\s*(?:\^|\*|e|exp)?\s*9|109|gi?ga|g/l", unit_text)
        per_micro = re.search(r"mm|µl|ul|mcl|micro|cu", unit_text) and "10" not in unit_text
        if per_micro or (not per_litre and "10" not in unit_text and value >= 100
                         and measure != "platelets") or (measure == "platelets" and value >= 1000):
            value = value / 1000.0
        elif per_litre and value >= (5000 if measure == "platelets" else 100):
            # "ANC >= 1500 x 10^9/L": a count per µL under a per-litre unit (no bound of a
            # hundred billion neutrophils per litre exists)
            value = value / 1000.0
        return op, value, "10^9/L"
    if measure == "hemoglobin":
        if "mmol" in unit_text:
            return op, round(value * 1.611, 1), "g/dL"  # 1 mmol/L Hb(Fe) = 1.611 g/dL
        # g/L written, or a value no g/dL threshold can have ("HB >= 90 g/dL" is 90 g/L)
        if re.search(r"g\s*/\s*l", unit_text) and "dl" not in unit_text or value > 30:
            return op, value / 10.0, "g/dL"
        return op, value, "g/dL"
    if measure == "CrCl":
        return op, value, "mL/min"
    if measure in ("creatinine", "bilirubin"):
        if re.search(r"(?:µ|u|micro|μ)mol", unit_text):
            factor = 88.4 if measure == "creatinine" else 17.1  # µmol/L per mg/dL
            return op, round(value / factor, 2), "mg/dL"
        return op, value, "mg/dL"
    if measure in ("AST", "ALT", "AST+ALT"):
        return op, value, "U/L" if not unit_text else unit_text
    return None


def find_organ_function(text: str) -> list[Requirement]:
    """Laboratory thresholds: ANC, platelets, hemoglobin, WBC, creatinine, CrCl, bilirubin,
    AST, ALT. Counts in 10^9/L, hemoglobin g/dL, creatinine/bilirubin mg/dL or xULN,
    CrCl mL/min; the first threshold after each measure (later ones are usually
    conditional: "≤ 5 × ULN if liver metastases")."""
    out: list[Requirement] = []
    mentions = list(_MEASURE.finditer(text))
    seen: set[str] = set()
    for i, mention in enumerate(mentions):
        measure = mention.lastgroup or ""  # the one named group that matched
        measure = measure.replace("_", "+")
        names = [measure]
        end = mention.end()
        # "AST/ALT ≤ 2.5 x ULN", "AST and ALT": both measures share the threshold.
        if i + 1 < len(mentions) and re.fullmatch(r"\s*(?:/|and|or|,|&|and/or)\s*",
                                                  text[end:mentions[i + 1].start()], _I):
            continue
        if i > 0 and re.fullmatch(r"\s*(?:/|and|or|,|&|and/or)\s*",
                                  text[mentions[i - 1].end():mention.start()], _I):
            j = i - 1
            while j >= 0:
                names.insert(0, mentions[j].lastgroup or "")
                if j > 0 and re.fullmatch(r"\s*(?:/|and|or|,|&|and/or)\s*",
                                          text[mentions[j - 1].end():mentions[j].start()], _I):
                    j -= 1
                else:
                    break
            start = mentions[j].start()
        else:
            start = mention.start()
        limit = mentions[i + 1].start() if i + 1 < len(mentions) else len(text)
        window = text[end:min(limit, end + 70)]
        skip = re.match(r"[\s:,(]*(?:count|level|levels|value|values|concentration|"
                        r"must\s+be|should\s+be|is|of|:|\(|\)|\s|to\s+be|ratio)*", window, _I)
        pos = end + (skip.end() if skip else 0)
        value_match = _ORGAN_VALUE.match(text, pos, min(limit, end + 70))
        if not value_match or not (value_match.group("num") or value_match.group("op")):
            # "AST, ALT, and alkaline phosphatase ≤ 2.5 × ULN": the threshold comes a few
            # words later, after measures this parser does not read.
            later = _LATER_THRESHOLD.search(text, end, min(limit, end + 45))
            value_match = _ORGAN_VALUE.match(text, later.start(), min(limit, end + 70)) \
                if later else None
            if not value_match or not value_match.group("num"):
                continue
        parsed = None
        for name in names:
            name = name.replace("_", "+")
            parsed = _organ_value(name, value_match)
        if parsed is None:
            continue
        op, value, unit = parsed
        expanded = []
        for name in names:
            name = name.replace("_", "+")
            expanded += ["AST", "ALT"] if name == "AST+ALT" else [name]
        for name in dict.fromkeys(expanded):
            if name in seen:
                continue
            seen.add(name)
            value_out = _organ_value(name, value_match) or (op, value, unit)
            out.append(requirement("organ_function",
                                   {"measure": name, "op": value_out[0],
                                    "value": clean_number(value_out[1]), "unit": value_out[2]},
                                   text, start, value_match.end()))
    return out


# ------------------------------------------------------------------------------ infection

_AGENTS = [
    ("HIV", r"\bhiv(?:-?[12])?\b|human\s+immunodeficiency\s+virus|(?-i:\bAIDS\b)"),
    ("HBV", r"\bhepatitis\s+b\b|\bhbv\b|\bhbsag\b|hepatitis\s+b\s+surface\s+antigen|\bhep\s+b\b"),
    ("HCV", r"\bhepatitis\s+c\b|\bhcv\b|\bhep\s+c\b"),
]
_AGENT = re_compile("|".join(f"(?P<{name}>{p})" for name, p in _AGENTS), _I)
_HEP_BC = re_compile(r"\bhepatitis\s*\(?\s*b\s*(?:,|/|or|and|and/or)\s*c\b\)?", _I)
_INFECTION_SKIP = re_compile(r"vaccin|immuni[sz]ation|test(?:ing)?\s+(?:is\s+)?not\s+(?:required|"
                             r"mandatory)|not\s+required|screening\s+is\s+not", _I)


_BRACKETED = re_compile(r"\([^()]*\)|\[[^\[\]]*\]")
_NEXT_AGENT = re_compile(r"[\s\])]*(?:virus\s+)?(?:infections?\s*)?(?:,|/|\bor\b|\band\b|"
                         r"\band/or\b|\bnor\b)\s*(?:(?:known|active|chronic|history|of|"
                         r"a|with)\s+){0,4}", _I)


def find_infection(text: str) -> list[Requirement]:
    """HIV / hepatitis B / hepatitis C infection (one requirement listing the agents)."""
    mentions: list[tuple[int, int, list[str]]] = []
    for match in _HEP_BC.finditer(text):
        mentions.append((match.start(), match.end(), ["HBV", "HCV"]))
    for match in _AGENT.finditer(text):
        if any(s <= match.start() < e for s, e, _ in mentions):
            continue
        agent = match.lastgroup or ""  # the one named group that matched
        mentions.append((match.start(), match.end(), [agent]))
    if not mentions:
        return []
    mentions.sort()
    kept = []
    for start, end, agents in mentions:
        if text.count("(", 0, start) > text.count(")", 0, start) and any(
                set(agents) <= set(k[2]) for k in kept):
            continue  # "hepatitis C virus (defined as HCV RNA detected)": the same, defined
        left, right = clause_bounds(text, start, end)
        if _INFECTION_SKIP.search(text[left:right]) and not re.search(
                r"known|active|history|positive|infection", text[left:start], _I):
            continue
        negated = is_negated(text, start, end)
        if not negated and kept and kept[-1][3] and _NEXT_AGENT.fullmatch(
                _BRACKETED.sub(" ", text[kept[-1][1]:start])):
            # "No known hepatitis C virus (defined as ...) infection or known history of
            # hepatitis B": the list goes on under the same "no".
            negated = True
        kept.append((start, end, agents, negated, is_allowance(text, start, end)))
    if not kept:
        return []
    agents = list(dict.fromkeys(a for _, _, names, _, _ in kept for a in names))
    params: dict = {"agents": agents}
    if all(k[3] for k in kept):
        params["negated"] = True
    elif all(k[4] for k in kept):
        params["allowed"] = True
    return [requirement("infection", params, text, kept[0][0], kept[-1][1])]


# ------------------------------------------------------------------------------ pregnancy

_PREGNANCY = re_compile(
    r"\b(?:pregnant|pregnancy|breast[\s-]?feeding|lactating|lactation|nursing(?!\s+home)|"
    r"breastfeed(?:ing)?)\b",
    _I)
_PREGNANCY_SKIP = re_compile(
    r"(?:avoid|prevent|prevention\s+of|to\s+not\s+become|use\s+of|contracept\w*|"
    r"potential\s+for|risk\s+of|during|throughout|after)\s+(?:\w+\s+){0,3}$", _I)
_PREGNANCY_TEST = re_compile(
    r"(?P<neg>negative|non-?positive)\s+(?:\w+\s+){0,3}?pregnancy\s+test|"
    r"pregnancy\s+test\s+(?:\w+\s+){0,3}?(?:must\s+be\s+|is\s+)?(?P<neg2>negative)|"
    r"(?P<pos>positive)\s+(?:\w+\s+){0,3}?pregnancy\s+test",
    _I)


def find_pregnancy(text: str) -> list[Requirement]:
    """Pregnancy or breastfeeding as a state of the patient (not contraception rules)."""
    test = _PREGNANCY_TEST.search(text)
    if test:
        params: dict = {} if test.group("pos") else {"negated": True}
        return [requirement("pregnancy", params, text, test.start(), test.end())]
    for match in _PREGNANCY.finditer(text):
        before = text[max(0, match.start() - 40):match.start()]
        if _PREGNANCY_SKIP.search(before):
            continue
        after = text[match.end():match.end() + 12].lower()
        if match.group(0).lower() == "pregnancy" and after.lstrip().startswith("test"):
            continue
        params = {}
        if is_negated(text, match.start(), match.end(), window=30, look_after=False) or \
                re.search(r"\bnon-?$", before, _I):
            params["negated"] = True
        end = match.end()
        follow = re.match(r"\s*(?:,|or|and|and/or|/)\s*(?:\w+\s+)?(?:breast[\s-]?feeding|"
                          r"lactating|nursing|breastfeeding|lactation)\b", text[end:], _I)
        if follow:
            end += follow.end()
        return [requirement("pregnancy", params, text, match.start(), end)]
    return []


# ------------------------------------------------------------------------ CNS metastases

# "Leptomeningeal ..." alone: not "leptomeningeal and brain metastases" (both).
_LEPTOMENINGEAL = re_compile(r"(?:lepto)?meningeal\b(?!\s+(?:and|or|/)\s)", _I)
_BRAIN_WORD = re_compile(r"\b(?:brain|cerebral|cns|central\s+nervous|intra-?cranial|"
                         r"parenchymal)\b", _I)
_CNS = re_compile(
    r"\b(?:brain|cns|central\s+nervous\s+system|cerebral|intracranial|intra-cranial|"
    r"leptomeningeal|meningeal|spinal\s+cord|parenchymal\s+brain)\s+(?:\(\w+\)\s+)?"
    r"(?:and/or\s+|or\s+|/\s*)?"
    # "cerebral vessel disease", "brain inflammatory lesions" are no metastases
    r"(?:(?!(?:vessels?|vascular|small|ischa?emic|degenerative|demyelinating|inflammatory|"
    r"infectious|autoimmune|traumatic|white)\b)\w+\s+)?"
    r"(?:metasta\w*|mets|involvement|disease|lesions?|carcinomatosis|spread)\b|"
    r"\bmetasta\w*\s+(?:\w+\s+){0,2}(?:to|in|of|involving)\s+(?:the\s+)?(?:brain|cns|"
    r"central\s+nervous\s+system|leptomeninges)\b|\bleptomeningeal\s+(?:carcinomatosis|"
    r"disease|metasta\w*)|\bcarcinomatous\s+meningitis\b",
    _I)
_CNS_PRIMARY = re_compile(r"primary\s+(?:brain|cns|central)|cns\s+lymphoma|lymphoma\s+of\s+the\s+"
                          r"cns|cns\s+(?:disease|involvement)\s+(?:by|of|from)\s+"
                          r"(?:leuka?emia|lymphoma)", _I)
_CNS_OF_ANOTHER_DISEASE = re_compile(r"\b(?:autoimmune|inflammatory|infectious|vascular|"
                                     r"neurologic\w*)\s+(?:diseases?|disorders?|conditions?)"
                                     r"\s+(?:with|involving|affecting)\s+(?:the\s+)?$", _I)
_CNS_ACTIVE = re_compile(r"\b(?:active|symptomatic|progressive|progressing|uncontrolled|"
                         r"unstable|growing|new|clinically\s+significant|neurologically\s+"
                         r"unstable|requiring\s+(?:steroids|corticosteroids|treatment)|"
                         # "... and obvious symptoms", "with neurological symptoms"
                         r"(?:with|and|causing)\s+(?:\w+\s+)?symptoms\b(?!\s+(?:\w+\s+)?"
                         r"(?:controlled|stabili[sz]ed|stable|resolved)))\b", _I)
_CNS_UNTREATED = re_compile(r"\b(?:untreated|un-treated|unirradiated|"
                            r"not\s+(?:been\s+|previously\s+)?"
                            r"(?:treated|irradiated)|previously\s+untreated|require\s+"
                            r"(?:local\s+)?(?:treatment|therapy))\b", _I)
_CNS_STABLE = re_compile(r"\b(?:stable|treated|controlled|asymptomatic|inactive|"
                         r"previously\s+treated|radiologically\s+stable)\b", _I)
_EXCEPTION = re_compile(r"\b(?:unless|except|other\s+than|with\s+the\s+exception|provided|"
                        r"if\s+(?:they|it|the\s+metastases)\s+(?:are|have|were)|who\s+have|"
                        r"that\s+(?:are|have))\b", _I)


_EXAMPLE_OPEN = re_compile(r"\(\s*(?:i\.\s?e\.?|e\.\s?g\.?|such\s+as|including|for\s+example)",
                           _I)
_DENIED_HEAD = re_compile(r"\b(?:no|not|without|free\s+of|absence\s+of)\b", _I)
# An inclusion about brain metastases that says what patients who have them need.
_CNS_CONDITION = re_compile(
    r"\b(?:unless|only\s+if|(?:enrolled|eligible|included)\s+(?:only\s+)?if|provided|"
    r"as\s+long\s+as|cannot\s+be\s+used|must\s+not\s+be\s+the\s+only|maximum\s+size)\b", _I)


def find_cns_metastases(text: str, criterion_kind: str) -> list[Requirement]:
    """Brain/leptomeningeal metastases and their state: "active" (symptomatic, progressive),
    "untreated", "stable" (treated, stable: usually allowed) or "any"."""
    for match in _CNS.finditer(text):
        if _CNS_PRIMARY.search(text[max(0, match.start() - 20):match.end() + 30]):
            continue
        if _CNS_OF_ANOTHER_DISEASE.search(text[max(0, match.start() - 40):match.start()]):
            continue  # "autoimmune disease with CNS involvement": not the cancer's
        found = _cns_requirement(text, match, criterion_kind)
        if found:
            return found
    return []


def _cns_requirement(text: str, match: re.Match[str], criterion_kind: str) -> list[Requirement]:
    """The requirement stated by one CNS mention (empty for a permission in an exclusion)."""
    start, end = match.start(), match.end()
    sentence_start = max(text.rfind(".", 0, start), text.rfind(";", 0, start),
                         text.rfind("\n", 0, start)) + 1
    sentence_end_match = re.search(r"(?<!\d)\.(?!\d)|;|\n", text[end:])
    sentence_end = end + sentence_end_match.start() if sentence_end_match else len(text)
    before = text[max(sentence_start, start - 60):start]
    after = text[end:sentence_end]
    exception = _EXCEPTION.search(after)
    main_after = after[:exception.start()] if exception else after
    qualifier = before + " " + main_after
    params: dict
    negated = is_negated(text, start, end, look_after=False)
    paren = text.rfind("(", max(0, start - 80), start)
    if paren >= 0 and ")" not in text[paren:start] and _EXAMPLE_OPEN.match(text, paren):
        # "No evidence of distant metastatic disease (i.e., lung, liver, bone, or brain
        # metastases)": an example of what the words before the parenthesis say.
        head = text[max(text.rfind(";", 0, paren), text.rfind("\n", 0, paren),
                        text.rfind(". ", 0, paren)) + 1:paren]
        if _DENIED_HEAD.search(head):
            negated = True
        elif criterion_kind == "inclusion":
            return []  # "evaluable lesion (e.g. brain lesion >= 5 mm)": no CNS rule
    allowed = is_allowance(text, start, end) and not negated
    if criterion_kind == "inclusion" and not negated and not allowed and \
            _CNS_CONDITION.search(text[sentence_start:sentence_end]):
        # "Subjects with known brain metastases, unless treated ...", "Patients with brain
        # metastasis were only enrolled if stable": what patients with them need, not a
        # demand that everyone have them.
        allowed = True
    if _LEPTOMENINGEAL.match(match.group(0)) and not _BRAIN_WORD.search(
            text[sentence_start:sentence_end]):
        # "Known leptomeningeal disease": spread to the meninges, not parenchymal brain
        # metastases, which a patient may have without it.
        state = "leptomeningeal"
    elif _CNS_ACTIVE.search(qualifier):
        state = "active"
    elif _CNS_UNTREATED.search(qualifier):
        state = "untreated"
    elif _CNS_STABLE.search(qualifier) and not exception:
        state = "stable"
    elif exception and _CNS_STABLE.search(after[exception.start():]) and not allowed:
        # "Brain metastases unless treated and stable": what is ruled out is active disease.
        state = "active"
    elif allowed and _CNS_STABLE.search(after):
        state = "stable"
    else:
        state = "any"
    params = {"state": state}
    if negated:
        params["negated"] = True
    elif allowed and criterion_kind == "inclusion":
        params["allowed"] = True
    elif allowed and criterion_kind == "exclusion" and state == "stable":
        return []  # exclusion text that only tells what is allowed rules nothing out
    return [requirement("cns_metastases", params, text, start, end)]


# ----------------------------------------------------------------------- other malignancy

# Folded (see `Folded`): the match's offsets and lower-cased words are read.
_OTHER_MALIGNANCY = Folded(re_compile(
    r"\b(?:other|another|second|prior|previous|concurrent|concomitant|additional|synchronous|"
    r"secondary|co-?existing|separate|different|active|invasive|known)\s+(?:\w+\s+){0,2}?"
    r"(?:primary\s+)?(?:malignanc\w*|cancers?|neoplasms?|tumou?rs?|primar(?:y|ies))\b"
    r"(?!\s+(?:therapy|treatment|drug|regimen|surgery|directed|medication|agent|type|site|"
    r"cells?|tissue|bed|samples?|specimens?|blocks?))|"
    r"\bhistory\s+of\s+(?:\w+\s+){0,2}?(?:malignanc\w*|cancer)\b"
    r"(?!\s+(?:therapy|treatment))|\bmalignanc(?:y|ies)\s+(?:with)?in\s+(?:the\s+)?"
    r"(?:past|last|previous|preceding)|"
    # "Any malignancy within 5 years prior to randomization, with the exception of ...": a
    # malignancy with a look-back window, or with the usual exceptions, is another one.
    r"\b(?:any\s+)?malignanc(?:y|ies)\s+(?:diagnosed\s+)?(?:with)?in\s+(?:the\s+)?"
    r"(?:\d+|one|two|three|four|five|ten)\b|"
    r"\bany\s+malignanc(?:y|ies)\b(?=[^.;]{0,80}\b(?:except|exception)\b)",
    _I))
_SAME_CANCER = re_compile(r"other\s+than\s+(?:the\s+)?(?:disease|cancer)\s+(?:under|being)\s+"
                          r"stud|active\s+(?:cancer|malignancy)\s+(?:that|which)\s+requires", _I)
_WITHIN = re_compile(
    rf"\b(?:within|in|during|for)\s+(?:the\s+)?(?:past|last|previous|preceding|prior)?\s*"
    rf"(?P<n>{NUMBER})\s*(?:\(\d+\)\s*)?(?P<unit>years?|yrs?|months?)\b|"
    rf"(?P<n2>{NUMBER})\s*(?:\(\d+\)\s*)?(?P<unit2>years?|months?)\s+(?:prior|before|preceding)|"
    rf"(?:≤|<|<=)\s*(?P<n3>\d+)\s*(?P<unit3>years?|months?)|"
    rf"(?:free|disease-free|without\s+evidence\s+of\s+disease)\s+(?:\w+\s+){{0,3}}?"
    rf"(?:for\s+)?(?:at\s+least\s+|≥\s*|>\s*)?(?P<n4>{NUMBER})\s*(?P<unit4>years?|months?)",
    _I)


def find_other_malignancy(text: str) -> list[Requirement]:
    """Another (prior or concurrent) malignancy, with the look-back window in years."""
    match = _OTHER_MALIGNANCY.search(text)
    if not match or _SAME_CANCER.search(text):
        return []
    word = match.group(0).lower()
    if word.startswith(("active", "invasive", "known")) and not re.search(
            r"other|another|second|additional|concurrent|prior(?!\s+to\b)|history", text, _I):
        return []  # ("prior to enrollment" dates something; it names no earlier cancer)
    within = None
    window = _WITHIN.search(text, match.start())
    if window and window.start() - match.end() < 120:
        n = next(window.group(k) for k in ("n", "n2", "n3", "n4") if window.group(k))
        unit = next(window.group(k) for k in ("unit", "unit2", "unit3", "unit4")
                    if window.group(k))
        value = to_number(n)
        within = clean_number(value / 12.0 if unit.lower().startswith("month") else value)
    params: dict = {"within_years": within}
    if is_negated(text, match.start(), match.end(), look_after=False):
        params["negated"] = True
    return [requirement("other_malignancy", params, text, match.start(), match.end())]


# ------------------------------------------------------------------------------ procedural

# Criteria about the enrolment itself, not the patient's disease or health: consent, the
# will and ability to take part, list headings, "other protocol-defined criteria apply", and
# conditions left to the investigator's judgement. Screening settles them for every patient,
# so an inclusion of this kind is taken as met and an exclusion as not applying (the
# physicians who judged trial criteria for this project, and published matchers' annotators,
# read them the same way).
_PROCEDURAL_PARTS = (
    # consent
    (r"\binformed\s+consent\b|\bconsent\s+(?:form|document|process)\b|\bsign(?:ed|s|ing)?\s+"
     r"(?:an?\s+|the\s+)?(?:written\s+)?(?:informed\s+)?(?:consent|icf|assent)\b|\bicf\b|"
     r"\bwritten\s+consent\b|\bvoluntar(?:y|ily)\s+(?:written\s+)?consent",
     ("consent", "icf", "assent")),
    # the will and ability to take part
    (r"^\W*(?:(?:the\s+)?(?:patients?|participants?|subjects?|individuals?)\s+(?:must\s+be\s+|"
     r"is\s+|are\s+)?)?(?:willing(?:ness)?|able|ability|capable|agree\w*)\s+(?:and\s+(?:able|"
     r"willing|ability)\s+)?to\s+(?:comply|understand|follow|complete|adhere|attend|participate|"
     r"give|provide\s+(?:written\s+)?(?:informed\s+)?consent|sign|undergo\s+study)\b",
     ("willing", "able to", "able and", "abilit", "agree")),
    # list headings
    (r"^\W*(?:each|all)\s+(?:participants?|patients?|subjects?)\s+must\s+meet\b|"
     r"\b(?:meet|fulfil+|satisfy)\s+(?:all|each)\s+of\s+the\s+following\b|"
     r"\bif\s+(?:they|he|she)\s+meet\s+any\s+of\s+the\s+following\b|"
     r"\bif\s+any\s+of\s+the\s+following\b", ("meet", "following")),
    (r"\bother\s+protocol[- ]defined\s+(?:inclusion|exclusion)?\W*(?:exclusion\s+)?criteria\b",
     ("protocol",)),
    # the investigator's judgement
    (r"\b(?:in\s+the\s+(?:opinion|judge?ment)\s+of\s+the\s+(?:investigator|physician|pi)|"
     r"(?:as\s+)?(?:determined|judged|assessed|deemed)\s+by\s+the\s+(?:investigator|treating|"
     r"physician|pi|research|study)|investigator'?s?\s+(?:opinion|judge?ment|discretion)|"
     r"\b(?:physician|investigator|doctor)s?\s+judges?\b)",
     ("opinion", "judg", "determined", "assessed", "deemed", "discretion")),
    (r"^\W*(?:inability|unable|unwilling(?:ness)?|not\s+able)\s+to\s+(?:comply|understand|"
     r"follow|give|provide|sign|complete|adhere)\b", ("abilit", "able to", "willing")),
)
# One folded pattern per group, each scanned only where its key words occur (most criteria
# hold none): the earliest match of the groups, in their order, is the alternation's match.
_PROCEDURAL = tuple(Folded(re_compile(pattern, _I | re.MULTILINE), words)
                    for pattern, words in _PROCEDURAL_PARTS)


def find_procedural(text: str, criterion_kind: str) -> list[Requirement]:
    """A procedural criterion (see `_PROCEDURAL`): met when it is an inclusion, not applying
    when it is an exclusion; `assumed` is the truth of its statement."""
    found = [m for m in (part.search(text) for part in _PROCEDURAL) if m is not None]
    if not found:
        return []
    match = min(found, key=lambda m: m.start())
    return [requirement("procedural", {"assumed": criterion_kind == "inclusion"}, text,
                        match.start(), match.end())]
