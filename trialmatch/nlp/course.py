"""Words of the notes about the course of the disease that the matcher does not read yet:
platinum status, menopausal status, the state of brain metastases, remission of a blood
cancer, where a recurrence is, and progression on a named regimen.

Each reader is a pure function of note texts returning the value and the words that show it,
or None when the notes do not say (never a guess). Negated and hypothetical mentions ("no
evidence of recurrence", "if platinum-resistant") are left out with the note reader's cues
(`trialmatch.nlp.context`). Used by the profile's `now` section (trialmatch.match.now).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from trialmatch.nlp.context import clause_of, clause_spans, mention_context

_I = re.IGNORECASE


def _affirmed(text: str, match: re.Match[str], spans: list[tuple[int, int]] | None = None,
              *, historical_ok: bool = True) -> bool:
    """Is the mention neither negated nor hypothetical (nor historical, unless allowed)?"""
    spans = spans if spans is not None else clause_spans(text)
    clause = clause_of(spans, match.start())
    context = mention_context(text, match.start(), match.end(), clause)
    if _HEDGE_BEFORE.search(text[max(clause[0], match.start() - 80):match.start()]):
        return False
    return not (context.negated or context.hypothetical or
                (context.historical and not historical_ok))


# Conditions, plans and hedges before a mention in its clause (beyond the cue file's, which
# is written for pathology reports).
_HEDGE_BEFORE = re.compile(r"\b(?:if|whether|should|would|unless|rule\s+out|r/o|concern\w*"
                           r"\s+for|possible|possibly|suspect\w*|cannot\s+exclude|"
                           r"consider\w*|plan\w*|to\s+assess|not)\b[^.;]*$", _I)


def _line_at(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text[start:end if end != -1 else len(text)].strip()


# ------------------------------------------------------------------------ platinum status

# GCIG (Wilson MK et al., Ann Oncol 2017; Friedlander M et al., Int J Gynecol Cancer 2011):
# platinum-refractory, progression during platinum or within 4 weeks of the last dose;
# platinum-resistant, recurrence within 6 months of the last platinum; platinum-sensitive,
# 6 months or more (the "6-month rule" of the platinum-free interval).
_PLATINUM_STATED = re.compile(
    r"\b(?:platinum|plat|carboplatin|cisplatin|Pt)[\s-]*(?P<status>sensitive|resistant|"
    r"refractory)\b", _I)
_PLATINUM_DRUG = r"(?:carboplatin|cisplatin|oxaliplatin|platinum|carbo|cis)"
_INTERVAL = re.compile(
    r"\b(?:platinum[\s-]*free\s+interval|PFI|TFIp)\b(?:\s*\((?:PFI|TFIp)\))?\s*(?:of|was|is|"
    r"=|:|~|approx\w*\.?|about)?\s*(?P<n>\d{1,3}(?:\.\d)?)\s*(?P<unit>months?|mo|mos|weeks?|"
    r"wks?|days?)\b", _I)
_AFTER_PLATINUM = re.compile(
    r"\b(?:recurr\w*|relaps\w*|progress\w*|PD)\b[^.;\n]{0,40}?\b(?P<n>\d{1,3})\s*"
    r"(?P<unit>months?|mo|mos|weeks?|wks?)\s+(?:after|from|following|post)\s+(?:\w+\s+){0,3}?"
    rf"{_PLATINUM_DRUG}", _I)
_MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
           "sep": 9, "oct": 10, "nov": 11, "dec": 12}
_DATE = re.compile(
    r"\b(?P<m1>0?[1-9]|1[0-2])/(?:(?:0?[1-9]|[12]\d|3[01])/)?(?P<y1>(?:19|20)\d\d)\b|"
    r"\b(?P<y2>(?:19|20)\d\d)-(?P<m2>0[1-9]|1[0-2])\b|"
    r"\b(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?P<y3>(?:19|20)"
    r"\d\d)\b", _I)
_LAST_PLATINUM = re.compile(
    rf"\b(?:last|final|completed?|finish\w*|end\w*)\b[^.;\n]{{0,50}}?{_PLATINUM_DRUG}|"
    rf"{_PLATINUM_DRUG}\w*\b[^.;\n]{{0,60}}?\b(?:completed|finished|ended|last\s+dose|"
    r"through|until|[x×]\s*\d+\s*(?:cycles|c)\b)", _I)
_PROGRESSION_WORDS = re.compile(
    r"\b(?:recurr\w*|relaps\w*|progress\w*|new\s+(?:\w+\s+){0,3}?(?:nodules?|lesions?|"
    r"implants?|mets|metastas[ie]s|masses?|ascites)|rising\s+CA-?125|PD)\b", _I)


def _months(match: re.Match[str]) -> int | None:
    """A date as a month count (year * 12 + month)."""
    if match.group("y1"):
        return int(match.group("y1")) * 12 + int(match.group("m1"))
    if match.group("y2"):
        return int(match.group("y2")) * 12 + int(match.group("m2"))
    return int(match.group("y3")) * 12 + _MONTHS[match.group("mon")[:3].lower()]


def _status_from_months(months: float) -> str:
    return "sensitive" if months >= 6 else "resistant" if months >= 1 else "refractory"


def find_platinum_status(texts: Iterable[str]) -> tuple[str, str] | None:
    """("sensitive" | "resistant" | "refractory", words): stated outright
    ("platinum-resistant recurrence"), from a stated platinum-free interval ("PFI 4 months"),
    from "recurrence 14 months after carboplatin", or from dated lines ("last carboplatin
    02/2026" ... "CT 06/2026: new peritoneal nodules"), by the 6-month rule."""
    texts = list(texts)
    for text in texts:
        spans = clause_spans(text)
        for match in _PLATINUM_STATED.finditer(text):
            if _affirmed(text, match, spans):
                return match.group("status").lower(), match.group(0)
        for pattern in (_INTERVAL, _AFTER_PLATINUM):
            for match in pattern.finditer(text):
                if not _affirmed(text, match, spans):
                    continue
                n = float(match.group("n"))
                unit = match.group("unit").lower()
                months = n / 4.35 if unit.startswith("w") else n / 30.4 if \
                    unit.startswith("d") else n
                return _status_from_months(months), match.group(0)
    return _platinum_by_dates(texts)


def _platinum_by_dates(texts: list[str]) -> tuple[str, str] | None:
    """The interval from the last dated platinum to the first dated recurrence after it."""
    last: tuple[int, str] | None = None
    events: list[tuple[int, str]] = []
    for text in texts:
        for line in re.split(r"[\n;]|(?<=[\w)])\.\s", text):
            dates = [_months(m) for m in _DATE.finditer(line)]
            if not dates:
                continue
            if _LAST_PLATINUM.search(line):
                when = max(d for d in dates if d is not None)
                if last is None or when > last[0]:
                    last = (when, line.strip())
            elif _PROGRESSION_WORDS.search(line) and not re.search(
                    r"\bno\s+(?:evidence\s+of\s+)?(?:\w+\s+)?(?:recurr|progress|new)", line, _I):
                events += [(d, line.strip()) for d in dates if d is not None]
    if last is None:
        return None
    after = sorted(e for e in events if e[0] > last[0])
    if not after:
        return None
    months = after[0][0] - last[0]
    return _status_from_months(months), f"{last[1]} ... {after[0][1]}"[:200]


# --------------------------------------------------------------------- menopausal status

# NCCN Breast Cancer guidelines, "Definition of menopause": prior bilateral oophorectomy;
# age >= 60; or age < 60 and amenorrhoeic for 12 months or more without chemotherapy,
# tamoxifen, toremifene or ovarian suppression.
_MENOPAUSE_STATED = re.compile(
    r"\b(?P<state>pre|peri|post)[\s-]?menopaus(?:al|e)\b", _I)
_OOPHORECTOMY = re.compile(
    r"\b(?:s/p|status\s+post|after|underwent|had|history\s+of|prior|previous)\s+(?:\w+\s+){0,4}?"
    r"(?:BSO|bilateral\s+(?:salpingo-?\s?)?oophorectom\w+|TAH[\s/-]*BSO)\b", _I)
_AMENORRHOEA = re.compile(
    r"\b(?:LMP|last\s+menstrual\s+period|menopause|amenorrh\w*)\b[^.;\n]{0,30}?\b"
    r"(?P<n>\d{1,2})\s*(?P<unit>years?|yrs?|months?|mo)\b", _I)
_MENSTRUATING = re.compile(r"\b(?:regular|monthly|ongoing)\s+(?:menses|menstrua\w*|periods?|"
                           r"cycles?)\b|\bstill\s+menstruat\w*|\bmenses\s+(?:are\s+)?regular\b",
                           _I)


def find_menopausal_status(texts: Iterable[str]) -> tuple[str, str] | None:
    """("pre" | "peri" | "post", words) as the notes state it, or from a bilateral
    oophorectomy, a last period 12 months or more ago, or regular menses (NCCN's
    definition; age is for the caller, which knows it)."""
    for text in texts:
        spans = clause_spans(text)
        for match in _MENOPAUSE_STATED.finditer(text):
            if _affirmed(text, match, spans):
                return match.group("state").lower(), match.group(0)
        for match in _OOPHORECTOMY.finditer(text):
            if _affirmed(text, match, spans):
                return "post", match.group(0)
        for match in _AMENORRHOEA.finditer(text):
            months = int(match.group("n")) * (12 if match.group("unit").lower().startswith("y")
                                               else 1)
            if months >= 12 and _affirmed(text, match, spans):
                return "post", match.group(0)
        for match in _MENSTRUATING.finditer(text):
            if _affirmed(text, match, spans):
                return "pre", match.group(0)
    return None


# ----------------------------------------------------------- brain metastases, remission

_BRAIN_LINE = re.compile(r"\b(?:brain|cerebral|intracranial|CNS|cerebell\w*|supratentorial|"
                         r"infratentorial|frontal|parietal|temporal|occipital|leptomening\w*)\b",
                         _I)
_LEPTOMENINGEAL = re.compile(r"\bleptomening\w*\s+(?:disease|metastas[ie]s|carcinomatosis|"
                             r"spread|enhancement|involvement)\b|\bLMD\b", _I)
_BRAIN_PROGRESSING = re.compile(r"\b(?:progress\w*|enlarg\w*|increas\w*|grow\w*|new)\b", _I)
_BRAIN_TREATED = re.compile(r"\b(?:SRS|radiosurgery|WBRT|whole[\s-]brain|gamma\s+knife|"
                            r"cyberknife|craniotomy|resect\w*|treated|radiat\w*|s/p)\b", _I)
_BRAIN_STABLE = re.compile(r"\b(?:stable|unchanged|no\s+new|resolved|decreas\w*|"
                           r"improv\w*)\b", _I)
_BRAIN_UNTREATED = re.compile(r"\buntreated\b", _I)


def brain_metastasis_state(texts: Iterable[str], evidence: str) -> tuple[str, str] | None:
    """The state of brain metastases the notes report present: "leptomeningeal",
    "progressing", "treated, stable", "treated" or "untreated", with the line that says
    so; None when the lines do not say. The last line about the brain decides (notes run
    in time order)."""
    state: tuple[str, str] | None = None
    for text in texts:
        for line in text.splitlines():
            if not _BRAIN_LINE.search(line) or not re.search(r"\bmet\w*|lesion|leptomening|"
                                                              r"LMD\b", line, _I):
                continue
            if re.search(r"\bno\s+(?:\w+\s+){0,3}?(?:brain|intracranial|CNS)", line, _I):
                continue
            words = line.strip()[:160]
            if _LEPTOMENINGEAL.search(line):
                state = ("leptomeningeal", words)
            elif _BRAIN_UNTREATED.search(line):
                state = ("untreated", words)
            elif _BRAIN_TREATED.search(line) and _BRAIN_STABLE.search(line):
                state = ("treated, stable", words)
            elif _BRAIN_PROGRESSING.search(line) and not _BRAIN_TREATED.search(line):
                state = ("untreated" if re.search(r"\bnew\b", line, _I) else "progressing",
                         words)
            elif _BRAIN_PROGRESSING.search(line):
                state = ("progressing", words)
            elif _BRAIN_TREATED.search(line):
                state = ("treated", words)
    if state is None and evidence and _LEPTOMENINGEAL.search(evidence):
        return "leptomeningeal", evidence
    return state


# NCCN AML / ELN 2022 response categories: complete remission (CR), CR with incomplete
# haematological recovery (CRi), measurable residual disease negative (MRD-negative).
_REMISSION = re.compile(r"\b(?:in\s+(?:a\s+)?(?:complete\s+|continued\s+|first\s+|second\s+|"
                        r"hematologic\w*\s+|haematologic\w*\s+|molecular\s+|stringent\s+)?"
                        r"remission|complete\s+(?:remission|response|metabolic\s+response)|"
                        r"(?-i:sCR|CR[i12]?|CRh|VGPR|MRD)(?:\s*[/,]\s*(?-i:CRi|MRD))*(?:[\s-]+"
                        r"neg\w*)?)\b", _I)


_LOST_REMISSION = re.compile(r"\b(?:relaps\w*|recurr\w*|refractory|progress\w*|"
                             r"loss\s+of\s+remission|(?-i:R/R|PD))\b", _I)


def states_remission(texts: Iterable[str]) -> str | None:
    """Words saying the blood cancer is in remission now ("in CR1", "CRi, MRD-negative"),
    or None. Negated and planned remissions do not count, nor one that a relapse or
    progression follows in the notes (they run in time order: "CR after R-CHOP; relapse
    06/2025" is relapsed now, "relapsed AML, now in CR2" is in remission)."""
    found = None
    texts = list(texts)
    for index, text in enumerate(texts):
        spans = clause_spans(text)
        for match in _REMISSION.finditer(text):
            if match.group(0).upper() == "MRD":
                continue  # "MRD" alone is a test, not a result
            if not _affirmed(text, match, spans):
                continue
            # What follows the sentence of the remission ("CR 09/2024. Relapse 06/2025").
            end = re.compile(r"\n|[.;]\s").search(text, match.end())
            rest = [text[end.start():] if end else ""] + texts[index + 1:]
            if any(_LOST_REMISSION.search(later) for later in rest):
                found = None
                continue
            found = _line_at(text, match.start())[:160]
    return found


# ------------------------------------------------------------------- recurrence, regimens

_LOCAL = re.compile(r"\b(?:local(?:ly)?|in[\s-]breast|chest\s+wall|anastomo\w*|vaginal\s+cuff|"
                    r"surgical\s+bed|tumou?r\s+bed|operative\s+bed|scar|stump|"
                    r"ipsilateral\s+breast|pelvic\s+side\s*wall)\b", _I)
_REGIONAL = re.compile(r"\b(?:regional|locoregional|nodal|lymph\s+nodes?|axillary|"
                       r"supraclavicular|mediastinal|cervical\s+nodes?|retroperitoneal|"
                       r"para-?aortic|LNs?)\b", _I)


def recurrence_site(words: str) -> str | None:
    """Where a recurrence is, from the words that state it: "regional" (nodes), "local",
    or None when they do not say."""
    if _REGIONAL.search(words):
        return "regional"
    if _LOCAL.search(words):
        return "local"
    return None


_PROGRESSED_BEFORE = re.compile(r"\b(?:progress\w*|PD|fail\w*|refractory|resistant|"
                                r"recurr\w*|relaps\w*)\s+(?:on|after|through|despite|while\s+"
                                r"on|during|to)\s+(?:[\w/+-]+\s+){0,4}?$", _I)
_PROGRESSED_AFTER = re.compile(r"^[^.;\n]{0,60}?\b(?:progress\w*|PD\b|failure|failed|"
                               r"refractory|resistan\w*)", _I)


# A response or stable disease on a regimen: "docetaxel with SD after 2 cycles", "PR on
# osimertinib", "responding to FOLFOX".
_RESPONDING_AFTER = re.compile(r"^[^.;\n]{0,40}?\b(?:SD|stable\s+disease|PR|partial\s+response|"
                               r"responding|good\s+response|ongoing\s+response)\b", _I)
_RESPONDING_BEFORE = re.compile(r"\b(?:SD|stable|PR|responding|response)\s+(?:on|to|with)\s+"
                                r"(?:[\w/+-]+\s+){0,3}?$", _I)


def drug_names(drugs: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern finding any of `drugs` as whole words (names of four letters or more: a short
    one is an abbreviation too); None when there is none. (re.compile, not the cached
    re_compile: the names come from a case.)"""
    names = [re.escape(d) for d in drugs if len(d) > 3]
    return re.compile(r"\b(?:" + "|".join(names) + r")\b", _I) if names else None


def _drug_mentions(drugs: Iterable[str], texts: Iterable[str]
                   ) -> Iterator[tuple[str, re.Match[str]]]:
    """Each mention of one of `drugs` in the texts, with its text."""
    named = drug_names(drugs)
    if named is None:
        return
    for text in texts:
        for match in named.finditer(text):
            yield text, match


def responding_on(drugs: Iterable[str], texts: Iterable[str]) -> str | None:
    """The words saying the disease responds to or is stable on a regimen naming one of
    `drugs` ("docetaxel with SD after 2 cycles"), or None."""
    for text, match in _drug_mentions(drugs, texts):
        if _RESPONDING_AFTER.match(text[match.end():match.end() + 60]) or \
                _RESPONDING_BEFORE.search(text[max(0, match.start() - 40):match.start()]):
            return _line_at(text, match.start())[:160]
    return None


def progressed_on(drugs: Iterable[str], texts: Iterable[str]) -> str | None:
    """The words saying the disease progressed on (or after) a regimen naming one of
    `drugs` ("progressed on osimertinib", "FOLFOX until progression"), or None."""
    for text, match in _drug_mentions(drugs, texts):
        before = text[max(0, match.start() - 60):match.start()]
        after = text[match.end():match.end() + 60]
        if _PROGRESSED_BEFORE.search(before) or _PROGRESSED_AFTER.match(after):
            if re.search(r"\b(?:no|without|not)\s+(?:\w+\s+){0,2}?progress", before + after,
                         _I):
                continue
            return _line_at(text, match.start())[:160]
    return None
