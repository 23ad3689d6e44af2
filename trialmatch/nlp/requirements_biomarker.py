"""Biomarker requirements: markers required or excluded, with alterations, thresholds and
germline origin, as {"any_of": [{"marker", "alterations", "status", "min_value",
"max_value", "unit", "germline"}]}.

Marker names and alterations come from the shared vocabulary (so the trial's "HER2/neu" and
the note's "ERBB2" meet); composite forms that name a status inside the marker word
("MSI-H", "dMMR", "HER2-low", "HR+", "triple-negative", "BRCA1/2") are read here, with
their sources in comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trialmatch.models import Requirement
from trialmatch.nlp.drugs import find_drugs
from trialmatch.nlp.requirements_common import (
    PARENTHESIS,
    Folded,
    clause_bounds,
    is_allowance,
    is_negated,
    may_hold,
)
from trialmatch.nlp.vocab import get_vocabulary
from trialmatch.regex_cache import re_compile

_I = re.IGNORECASE


@dataclass
class _Mention:
    """One marker (or several, for "BRCA1/2") at a span, with any status it carries itself."""

    markers: list[str]
    start: int
    end: int
    status: str | None = None  # set by composite forms ("MSI-H" -> positive)
    items: list[dict] = field(default_factory=list)  # preset alternatives ("HR+" -> ER/PR)
    all_of: bool = False  # the markers are joined by "and": separate requirements


def _item(marker: str, status: str = "positive", alterations: list[str] | None = None,
          min_value: float | None = None, max_value: float | None = None,
          unit: str | None = None, germline: bool | None = None) -> dict:
    return {"marker": marker, "alterations": alterations or [], "status": status,
            "min_value": min_value, "max_value": max_value, "unit": unit, "germline": germline}


# Composite forms, tried before the vocabulary. Each: (regex, markers, status, note).
# MSI-H/dMMR: FDA pembrolizumab tissue-agnostic approval (2017); MMR "positive" means
# deficient in SPEC's vocabulary. HR+ means ER+ and/or PR+ (ASCO/CAP ER/PR guideline 2020).
# HER2-low: IHC 1+ or IHC 2+/ISH-negative (DESTINY-Breast04; FDA trastuzumab deruxtecan
# label 2022); HER2-ultralow: IHC 0 with faint staining (DESTINY-Breast06).
# Triple-negative: ER-, PR-, HER2- (ASCO/CAP).
_COMPOSITES: list[tuple[str, str]] = [
    ("MSI+", r"\bMSI[\s-]*(?:H\b|high\b)|\bmicrosatellite[\s-]+instab\w*[\s-]*(?:\(MSI\)\s*)?"
             r"(?:-\s*)?(?:high|\(MSI-?H\))|\bhigh(?:[\s-]+level)?\s+microsatellite[\s-]+"
             r"instab\w*|\bMSI\b(?=\s*(?:/|or)\s*dMMR)"),
    ("MSI-", r"\bMSS\b|\bmicrosatellite[\s-]+stable\b|\bMSI[\s-]*(?:L\b|low\b)|\bMSI[\s-]*stable"),
    ("MMR+", r"\bdMMR\b|\bMMR-d\b|\b(?:mismatch[\s-]+repair|MMR)[\s-]+(?:\(MMR\)\s*)?deficien\w*|"
             r"\bdeficient\s+(?:DNA\s+)?(?:mismatch[\s-]+repair|MMR)\b(?:\s*\(d?MMR\))?"),
    ("MMR-", r"\bpMMR\b|\bMMR-p\b|\b(?:mismatch[\s-]+repair|MMR)[\s-]+(?:\(MMR\)\s*)?"
             r"proficien\w*|"
             r"\bproficient\s+(?:mismatch[\s-]+repair|MMR)\b(?:\s*\(p?MMR\))?"),
    ("TMB+", r"\bTMB[\s-]*(?:H\b|high\b)|\bhigh\s+tumou?r\s+mutation(?:al)?\s+burden\b|"
             r"\btumou?r\s+mutation(?:al)?\s+burden[\s-]*(?:\(TMB\)\s*)?[\s-]*high\b"),
    ("HER2low", r"\bHER-?2\)?[\s-]*(?:/neu)?[\s-]*low\b"),
    ("HER2ultralow", r"\bHER-?2\)?[\s-]*(?:/neu)?[\s-]*ultra[\s-]*low\b"),
    # "(positive) estrogen and/or progesterone receptor(s)": the vocabulary knows "estrogen"
    # only with its "receptor"
    ("ERPR", r"(?:\bpositive\s+)?\b(?:o?estrogen|ER)\s*(?:and/or|or|and|/)\s*progesterone\s+"
             r"receptors?(?:\s*\((?:ER|PR|PgR)\))?"),
    ("HR+", r"\b(?:hormone[\s-]+receptor|HR)[\s-]*(?:\(HR\))?[\s-]*(?:\+|positive\b|\(\+\))"),
    ("HR-", r"\b(?:hormone[\s-]+receptor|HR)[\s-]*(?:\(HR\))?[\s-]*(?:negative\b|\(-\))"),
    ("TN", r"\btriple[\s-]+negative\b|\bTNBC\b|\bER\s*-\s*/\s*PR\s*-\s*/\s*HER2\s*-"),
    ("BRCA", r"\bBRCA\s*1\s*/\s*2\b|\bBRCA1\s*(?:/|or|and/or)\s*BRCA2\b|\bBRCA(?![\d\w])"
             r"(?:\s*1/2)?|\bg?BRCAm?\b(?![\d\w])"),
    ("NTRK", r"\bNTRK\s*1?\s*/\s*2\s*/\s*3\b|\bNTRK(?![\d\w])"),
    ("RAS", r"(?<![KNH])\bRAS\b(?!\w)"),
]
_COMPOSITE = [(name, re_compile(p, _I if name not in ("RAS",) else 0)) for name, p in
              _COMPOSITES]

# A marker name used as part of a drug or drug-class name ("anti-HER2 therapy", "EGFR TKI",
# "PD-L1 inhibitor") is not a biomarker requirement.
_THERAPY_AFTER = re_compile(
    r"^(?:\s*\([^()]{1,15}\))?\)?[\s/-]*(?:(?:and|or|/|,)?[\s/-]*(?:PD-?1|PD-?L1|CTLA-?4|HER2|EGFR|VEGF\w*)[\s/-]*)*"
    r"(?:(?!(?:mutation|mutant|mutated|positive|negative|amplif|fusion|rearrang|alteration|"
    r"express|status|wild)\w*)[\w-]+[\s/-]+){0,2}?"
    r"(?:directed|targeted|targeting|inhibitors?|tkis?|antibod\w+|therap(?:y|ies)|agents?|"
    r"blockers?|blockade|drugs?|treatment|antagonists?|vaccines?|car[\s-]?t|adc|modulators?|"
    r"bispecific|conjugates?|degraders?|pathways?|signal\w*)\b",
    _I)
# "CDK4/6i", "PARPi": an inhibitor written short.
_SHORT_INHIBITOR_AFTER = re_compile(r"(?:\s*/\s*\d+)?-?i(?:s)?\b")
_INHIBITOR_OF_BEFORE = re_compile(
    r"\b(?:inhibitors?|antagonists?|blockers?|antibod\w+|targeting|directed\s+against)\s+"
    r"(?:of|against|to)\b[^.;]{0,40}$|\b(?:inhibitors?|antagonists?|agonists?|antibod\w+|"
    r"blockers?|blockade|therap\w+)\b[^.;()]{0,40}\(\s*(?:including|e\.g\.|such\s+as|i\.e\.)"
    r"[^()]{0,60}$", _I)
_TESTING_BEFORE = re_compile(r"\b(?:determination|testing|test|assessment|analysis|evaluation|"
                             r"measurement|screening|detection)\s+(?:of|for)\s+(?:the\s+)?"
                             r"(?:\w+\s+)?$|"
                             # "tissue block for central confirmation of HER2 ... status"
                             r"\bfor\s+(?:(?:central|local|retrospective)\s+)?confirmation\s+of"
                             r"\s+(?:the\s+)?$|"
                             r"\b(?:to\s+)?(?:confirm|determine|assess|evaluate|test|measure|check)"
                             r"\s+(?:the\s+)?$|"
                             r"\bavailable\s+for\s+(?:\w+\s+)?$", _I)
_RESULT_AFTER = re_compile(r"[\s:-]*(?:positiv|negativ|\+|-|pos\b|neg\b|wild|mut|amplif|"
                          r"high|low|express|overexpress|fusion|rearrang)", _I)
# "Genetic testing must have been performed for targetable driver mutations, including EGFR,
# ROS1, ALK": the genes tested, whatever the result.
_TESTED_FOR_BEFORE = re_compile(
    r"\b(?:tested|testing|genotyp\w*|profil\w*|sequenc\w*)(?:\s+(?:must|should|has|have|had|"
    r"was|were|be|been|performed|done|completed|available)){0,4}\s+(?:for|of)\s+(?:[\w-]+\s+)"
    r"{0,3}?(?:mutations?|alterations?|drivers?|genes?|biomarkers?|markers?)[\s,:]*(?:(?:including|"
    r"such\s+as|e\.g\.,?|i\.e\.,?|like)\s*)?$", _I)
# (after the marker's acronym, if any: "progesterone receptor (PR) testing")
_TESTING_AFTER = re_compile(r"(?:\s*\([A-Za-z0-9-]{1,8}\))?\)?[\s-]*(?:status\s+)?"
                            # "PD-L1 expression testing", "EGFR T790M detection", "PIK3CA
                            # sequencing", "ESR1 mutation status determination": what a sample
                            # is for, not a result required
                            r"(?:(?:expression|mutations?|mutational|gene|[A-Z]\d{2,4}[A-Z])\s+)?"
                            r"(?:status\s+)?"
                            r"(?:testing|test|assessment|analysis|detection|sequencing|"
                            r"determination)\b|"
                            # an assay's name: "by the PD-L1 IHC 22C3 pharmDx assay"
                            r"[\s-]*(?:IHC\s+)?(?:22C3|SP263|SP142|28-8|73-10|pharmDx|assays?\b|"
                            r"antibod(?:y|ies)\s+clone)|[\s)-]*(?:\([^)]{0,60}\)\s*)?"
                            r"(?:(?!(?:positive|negative|pos|neg|high|low|wild)\b)\w+\s+)?status\s*"
                            r"(?:$|[.;,)]|(?:must|needs?|has|have|should)\s+(?:to\s+)?be\s+"
                            r"(?:known|available|determined|assessed|identified|tested)|"
                            # "Known HER-2/neu status by core biopsy"
                            r"(?:by|on|from|using|per|via)\s+(?!(?:positive|negative)\b))", _I)
_DEFINITION_BEFORE = re_compile(r"\b(?:defined\s+(?:as|by)|definition|i\.e\.|is\s+defined)\b"
                                r"[^.;]{0,60}$", _I)
# A guideline's name just before a marker ("ASCO/CAP human epidermal growth factor receptor 2
# (HER2) Guidelines"): the marker names the guideline.
_GUIDELINE_BEFORE = re_compile(r"\b(?:ASCO\s*/\s*CAP|CAP\s*/\s*ASCO)\b\)?\s*$", _I)
_THERAPY_BEFORE = re_compile(r"(?:\banti[\s-]?|\bpan-|\banti[\s-]?[\w-]+\s*/\s*|"
                             # a radioligand's target: "177Lu-PSMA", "68Ga-DOTATATE"
                             r"(?:\b(?:177|68|18|225|99m?|131|64|89|90)\s*(?:Lu|Ga|F|Ac|Tc|I|Cu|"
                             r"Zr|Y)|\b(?:Lu|Ga|Ac|Tc|Cu|Zr)[\s-]?(?:177|68|225|99m?|64|89))"
                             r"[\s-]*|"
                             r"(?:\b(?:that|which|to|agents?|drugs?|therap\w+|medications?|"
                             r"treatments?)\s+target(?:s|ing)?|\btargeting)\s+(?:the\s+)?"
                             r"(?:[\w-]+\s*/\s*)*|"
                             # "agents that target epidermal growth factor receptor (EGFR) or
                             # mesenchymal epithelial transition (MET)": names and acronyms
                             r"\b(?:that|which|agents?|drugs?)\s+target(?:s|ing)?\s+(?:the\s+)?"
                             r"[\w\s,()/-]{0,90}?(?:\(|\bor\s+|\band\s+|,\s*))$", _I)
# "KRAS G12C small molecule inhibitor", "the KRAS/BRAF/MEK/ERK pathway": a target named by
# a drug or pathway a few words on.
_INHIBITOR_AFTER = re_compile(r"^(?:[\s/,-]*[\w-]+){0,4}?[\s/-]+(?:inhibitors?|pathway)\b", _I)


def _inhibitor_after(after: str) -> bool:
    """Does `after` start with a few words and "inhibitor(s)" or "pathway" ("EGFR tyrosine
    kinase inhibitor")? The pattern tries many splits of each word before it fails: it runs
    only where one of its words occurs."""
    return may_hold(after, ("inhibitor", "pathway")) and bool(_INHIBITOR_AFTER.match(after))
# ER and PR are also words in other criteria ("CR or PR" responses, "ER visit"): they are
# markers only with a status or a receptor word nearby.
_RECEPTOR_CONTEXT = re_compile(
    r"^\)?[\s:-]*(?:\(?[+-]\)?|positiv|negativ|pos\b|neg\b|status|expression|receptor|"
    r"≥|>|<|≤|\d|allred|and\s+(?:PR|ER)|/\s*(?:PR|ER)|or\s+(?:PR|ER)|and/or\s+(?:PR|ER)|"
    r"low|high)", _I)
_SEPARATOR = re_compile(r"^\s*(?:,|/|\bor\b|\band\b|\band/or\b|\bnor\b|&|\s\+\s)?\s*(?:,|\bor\b|"
                        r"\band\b)?\s*$", _I)

_NEGATIVE_AFTER = re_compile(
    r"^[\s:-]*(?:(?:by\s+)?(?:immunohistochemistry|IHC|ISH|FISH|in\s+situ\s+hybridi[sz]ation)"
    r"(?:\s*\((?:IHC|ISH|FISH)\))?\s+(?=neg))?"
    r"(?:genes?\s+|status\s+(?=wild))?(?:(?:is|are)\s+(?=negative\b))?(?:\(?(?:-|−)\)?(?![\w\d])(?!\s*(?:positive|pos\b|\+|amplif|overexpress))|negative\b|negativity\b|neg\b|wild[\s-]?type\b|wt\b|non-?mutated\b|"
    r"non-?amplified\b|non-?\s*over[\s-]?express\w*|"
    r"not\s+(?:amplified|mutated|detected|overexpressed|expressed|rearranged)|"
    r"no\s+(?:detectable\s+|known\s+)?(?:mutation|alteration|amplification|rearrangement|"
    r"fusion|expression)|status\s+(?:negative|wild)|(?:mutation|alteration|rearrangement|"
    r"fusion|amplification)s?\s*[\s-]*(?:negative|not\s+detected|absent))",
    _I)
# A suspended hyphen: "ER- or PR-positive", "ER- and/or PgR-positive" is ER-positive or
# PR-positive; the hyphen waits for the word after the second marker.
_SUSPENDED_POSITIVE = re_compile(r"\s*-\s+(?:and/or|or|and|&)\s+[\w/]{1,12}-(?:positive|pos\b|\+|"
                                 r"expressing|high)", _I)
_POSITIVE_AFTER = re_compile(
    r"^[\s:-]*(?:\(?\+\)?|positive\b|positivity\b|pos\b|overexpress\w*|amplif\w*|mutat\w*|mutant\b|"
    r"fusion|rearrang\w*|alteration|altered|activating|high\b|expression|expressing|"
    r"translocation|deletion|insertion|variant|\d)",
    _I)
_WILD_BEFORE = re_compile(r"(?:wild[\s-]?type|\bwt|non-?mutated|unmutated)[\s-]*$", _I)
# "negative oncogene driver mutations (EGFR/ALK/ROS1)", "negative for EGFR"
_NEGATIVE_BEFORE = re_compile(r"\bnegative\s+(?:for\s+)?(?:[\w-]+\s+){0,3}?\(?$", _I)
_UNKNOWN_AFTER = re_compile(r"^[\s:-]*(?:status\s+)?(?:unknown|pending|not\s+(?:known|tested|"
                            r"available|assessed)|untested)", _I)
# Words that make a marker no requirement: "regardless of PR expression", "with or without
# PR positivity", "tumours commonly associated with p53 mutation" (a kind of tumour, not a
# result), "any HER2 status".
_QUALIFIER_BEFORE = re_compile(
    r"\b(?:regardless|irrespective|independent(?:ly)?)\s+of\s+(?:[\w-]+\s+){0,3}?(?:\(\s*)?$|"
    r"\bwith\s+or\s+without\s+(?:[\w-]+\s+){0,2}?(?:\(\s*)?$|"
    r"\b(?:commonly|frequently|often|typically|usually)\s+(?:associated|linked)\s+with\s+"
    r"(?:[\w-]+\s+){0,2}?$", _I)
# A marker describing a drug: "EGFR or HER2 exon 20 insertion mutation-selective TKI", "TKIs
# that demonstrated activity in ROS1-positive NSCLC".
_SELECTIVE_AFTER = re_compile(
    r"^[\w\s/]{0,40}?-(?:selective|targeted|targeting|directed|specific)\s+(?:[\w-]+\s+){0,3}?"
    r"(?:inhibitors?|tkis?|therap\w*|agents?|drugs?|antibod\w+|compounds?)\b", _I)
_ACTIVE_IN_BEFORE = re_compile(
    r"\b(?:tkis?|inhibitors?|therap\w+|agents?|drugs?|treatments?)\b[^.;]{0,30}?\b(?:activit(?:y|ies)|"
    r"active|efficacy|approved|indicated)\s+(?:in|for|against)\s+(?:[\w-]+\s+){0,2}?$", _I)
# Every match of the qualifier patterns below holds one of these words: a criterion without
# any is not scanned group by group.
_QUALIFIER_WORDS = ("regardless", "irrespective", "independent", "without", "associated",
                    "linked", "status", "enriched", "like", "ness", "selective", "target",
                    "directed", "specific", "activ", "efficacy", "approved", "indicated",
                    "subtype", "intrinsic", "(")


def _drugs_arm(text: str, start: int) -> bool:
    """A marker in brackets right after a drug: whom that drug is given to, one arm of the
    trial ("Plus Trastuzumab (HER2+) or Bevacizumab (HER2-)"), not a demand on everyone."""
    bracket = re.search(r"\(\s*$", text[max(0, start - 3):start])
    if bracket is None:
        return False
    head = text[max(0, start - 60):start].rstrip()[:-1].rstrip()
    found = find_drugs(head)
    return bool(found) and found[-1].end >= len(head) - 1


def _qualified(text: str, first: _Mention, last: _Mention, window: str,
               preset_status: bool) -> bool:
    """Is the marker group first..last no result the criterion asks for: left open ("regardless
    of PR expression", "any HER2 status", "ER status known", "TROP2 status and other
    biomarkers"), a subtype name ("HER2-enriched") or a drug's description ("HER2 exon 20
    insertion-selective TKI", "TKIs active in ROS1-positive NSCLC")?"""
    before = text[max(0, first.start - 45):first.start]
    return bool(
        _KNOWN_AFTER.match(window)
        or (not preset_status and _BARE_STATUS_AFTER.match(window))
        or _QUALIFIER_BEFORE.search(before) or _SUBTYPE_AFTER.match(window)
        or _drugs_arm(text, first.start)
        or (_ANY_BEFORE.search(before) and _STATUS_AFTER.match(window))
        or _SELECTIVE_AFTER.match(text[last.end:last.end + 90])
        or _ACTIVE_IN_BEFORE.search(text[max(0, first.start - 80):first.start]))


_ANY_BEFORE = re_compile(r"\b(?:any|all|every|either)\s+(?:[\w-]+\s+){0,2}?$", _I)
_TESTED_ALTERATION = re_compile(r"\s*[A-Z]\w{2,6}\s+(?:mutations?\s+)?(?:status|tests?|testing)\b")
_LIST_ON = re_compile(r"\s*(?:[,/]|or\b|and\b)", re.I)
_LIST_STOP = re_compile(r"\b(?:alone|in\s+combination|as\s+well\s+as|co-?occur\w*|"
                        r"concomitant|coexist\w*)\b", re.I)
_GENERIC_NAMES = ("sensitizing mutation", "fusion", "amplification", "mutation")
_BELOW_A_COUNT = re_compile(r"\s*(?:/\s*CEP\s*-?(?:17)?\s*)?(?:gene\s+)?(?:copy\s+number|"
                           r"ratio\w*)\s*(?:of\s*|is\s*)?(?:<|≤|less\s+than|below)", _I)
_NEGATED_LIST_GAP = re_compile(r"[\s,]*(?:\w+[\s,]+){0,2}(?:and|or|nor|and/or)\s*", re.I)
_STATUS_AFTER = re_compile(r"^[\s/\w-]{0,12}?\bstatus\b", _I)
# "ER status known", "HER2 status available": a result must exist, any result will do.
_KNOWN_AFTER = re_compile(r"^[\s:-]*status\s+(?:is\s+|must\s+be\s+|should\s+be\s+)?"
                          r"(?:known|available|documented|determined)\b", _I)
# Subtype names, not results: "HER2-enriched" (PAM50), "BRCA-like", "BRCAness".
_SUBTYPE_AFTER = re_compile(r"^[\s-]*(?:enriched|like)\b|^ness\b|"
                            r"^[\s-]*(?-i:E)\b(?=\s+(?:subtype|intrinsic))", _I)
# A bare status with no result after it ("PD-L1 status, TROP2 status and other biomarkers").
_BARE_STATUS_AFTER = re_compile(r"^[\s-]*status\s*(?:and|or)\b", _I)
_GERMLINE = re_compile(r"\bgermline\b|\bgBRCA|\binherited\b|\bhereditary\b", _I)
_SOMATIC = re_compile(r"\bsomatic\b|\btumou?r\s+(?:tissue\s+)?(?:only|tested)\b", _I)

_GE = (r"(?:≥|>\s*/\s*=|>=|=>|>|greater\s+than\s+or\s+equal\s+to|greater\s+than|more\s+than|"
       r"at\s+least|above|over)")
_LE = r"(?:≤|<\s*/\s*=|<=|=<|<|less\s+than\s+or\s+equal\s+to|less\s+than|below|under|up\s+to)"
_VALUE = re_compile(
    rf"(?P<uname>tumou?r\s+proportion\s+score|combined\s+positive\s+score|TPS|CPS|TC|IC|"
    rf"H-?score|Allred(?:\s+score)?)?\s*(?:\((?:TPS|CPS)\)\s*)?(?:score\s+)?(?:of\s+)?"
    rf"(?P<op>{_GE}|{_LE}|=)?\s*(?P<num>\d{{1,3}}(?:\.\d+)?)\s*(?P<pct>%)?"
    rf"(?:\s*(?:-|–|to)\s*(?P<num2>\d{{1,3}}(?:\.\d+)?)\s*%?)?\s*"
    rf"(?P<unit>mut(?:ations)?\s*/\s*mb|mutations\s+per\s+megabase|muts?/mb|TPS|CPS)?"
    rf"(?P<post>\s+or\s+(?:more|higher|greater|above|less|lower))?",
    _I)
_IHC = re_compile(r"\bIHC\s*(?:score\s*)?(?:of\s*)?(?P<op>≥|>=|=)?\s*(?P<v>[0-3])\s*\+|"
                  r"\b(?P<v2>[0-3])\s*\+\s*(?:by\s+)?(?:on\s+)?IHC\b|\bIHC\s*(?P<v3>[0-3])\b", _I)
_ISH = re_compile(r"\b(?:F|S|C|D)?ISH\b(?!\s*(?:-(?!\w)|negative|non\b|non-|not\b))"
                  r"[^.;]{0,25}?(?:amplif\w*|positive|\+|ratio\s*(?:≥|>=)\s*2)|"
                  r"\bamplif\w*\s+(?:by|on)\s+(?:F|S|C|D)?ISH\b|\bISH[\s-]*(?:positive|\+)", _I)
# Further scores of a list after the first IHC score: ", 2+ or 3+", " or IHC 2+/ISH-".
_IHC_MORE = re_compile(r"(?:(?:\s*/\s*(?:F|S|C|D)?ISH\s*(?:-|negative|\+|positive))?"
                       r"(?:\s*(?:,|or\b|and\b|&|/))+\s*(?:IHC\s*)?[0-3]\s*\+(?!\s*\d))*", _I)
_HER2_POSITIVE_WORDS = re_compile(r"positiv|over[\s-]*express|amplif|\+", _I)
_HER2_NEGATIVE_WORDS = re_compile(r"negativ|\blow\b|\bnon[\s-]*(?:over|amplif)", _I)
_ISH_NEGATIVE = re_compile(r"\bISH\)?\s*(?:-(?!\w)|negative|non[\s-]*amplified)|"
                           r"\b(?:negative|non[\s-]*amplified)\s+(?:\w+\s+){0,3}(?:F|S|C|D)?"
                           r"(?:ISH\b|in[\s-]+situ)", _I)
_GENERIC_ALTERATIONS = [
    ("sensitizing mutation", r"\b(?:sensiti[sz]ing|tki[\s-]sensiti[sz]ing)\s+(?:\(?\w+\)?\s+)?"
                             r"mutations?\b"),
    ("fusion", r"\b(?:fusions?|rearrange(?:ment|ments|d)|translocations?|re-arrange\w*)\b"),
    ("amplification", r"\bamplifi(?:cation|ed)s?\b"),
    ("mutation", r"\b(?:mutations?|mutated|mutant|variants?|alterations?)\b"),
]
_GENERIC = [(name, re_compile(p, _I)) for name, p in _GENERIC_ALTERATIONS]
# Genes whose protein, on IHC, is a biomarker of its own (c-Met for MET ADCs and antibodies,
# EGFR for anti-EGFR antibodies): read as "overexpression", not as a gene alteration.
_PROTEIN_TESTED_GENES = frozenset({"MET", "EGFR"})
_PROTEIN_TEST = re_compile(r"\b(?:over-?expressi\w+|(?:protein\s+)?expression|IHC|"
                           r"immunohisto\w*)\b", _I)
_GENERIC_KEYS = {"germline", "somatic", "mutation", "fusion", "amplification", "alteration",
                 "rearrangement",
                 "deletion", "insertion", "overexpression", "loss", "positive", "mutant",
                 "variant"}


_COMPOSITE_GATE = Folded(re_compile(r"msi|mss|mmr|microsat|mismatch|tmb|burden|her-?2|hormone|"
                                    r"\bhr\b|progesterone|"
                                    r"triple|tnbc|brca|ntrk|\bras\b", _I))


# Substrings one of which every match of a composite pattern holds (a cheap test before it).
_COMPOSITE_WORDS: dict[str, tuple[str, ...]] = {
    "MSI+": ("msi", "microsat"), "MSI-": ("mss", "msi", "microsat"),
    "MMR+": ("mmr", "mismatch"), "MMR-": ("mmr", "mismatch"),
    "TMB+": ("tmb", "mutation"), "HER2low": ("her",), "HER2ultralow": ("her",),
    "ERPR": ("progesterone",), "HR+": ("hormone", "hr"), "HR-": ("hormone", "hr"),
    "TN": ("triple", "tnbc", "er"), "BRCA": ("brca",), "NTRK": ("ntrk",), "RAS": ("ras",),
}


def _composite_mentions(text: str) -> list[_Mention]:
    out: list[_Mention] = []
    if not _COMPOSITE_GATE.search(text):
        return out
    lower = text.lower()
    for name, pattern in _COMPOSITE:
        if not any(word in lower for word in _COMPOSITE_WORDS[name]):
            continue  # every match of the pattern holds one of these words
        for m in pattern.finditer(text):
            if any(o.start < m.end() and m.start() < o.end for o in out):
                continue
            s, e = m.start(), m.end()
            if name == "MSI+":
                out.append(_Mention(["MSI"], s, e, "positive"))
            elif name == "MSI-":
                out.append(_Mention(["MSI"], s, e, "negative"))
            elif name == "MMR+":
                out.append(_Mention(["MMR"], s, e, "positive"))
            elif name == "MMR-":
                out.append(_Mention(["MMR"], s, e, "negative"))
            elif name == "TMB+":
                out.append(_Mention(["TMB"], s, e, "positive"))
            elif name == "HER2ultralow":
                # HER2-ultralow: IHC 0 with faint staining in <= 10% of cells (DESTINY-Breast06);
                # notes record it as IHC 0, so IHC 0 or 1+ fits.
                out.append(_Mention(["HER2"], s, e, "negative",
                                    [_item("HER2", "negative", max_value=1, unit="IHC")]))
            elif name == "HER2low":
                out.append(_Mention(["HER2"], s, e, "negative",
                                    [_item("HER2", "negative", min_value=1, max_value=2,
                                           unit="IHC")]))
            elif name == "ERPR":
                if m.group().lower().startswith("positive"):
                    out.append(_Mention(["ER", "PR"], s, e, "positive", [_item("ER"), _item("PR")]))
                else:
                    out.append(_Mention(["ER", "PR"], s, e))
            elif name == "HR+":
                out.append(_Mention(["ER", "PR"], s, e, "positive",
                                    [_item("ER"), _item("PR")]))
            elif name == "HR-":
                out.append(_Mention(["ER", "PR"], s, e, "negative", all_of=True))
            elif name == "TN":
                out.append(_Mention(["ER", "PR", "HER2"], s, e, "negative", all_of=True))
            elif name == "BRCA":
                out.append(_Mention(["BRCA1", "BRCA2"], s, e))
            elif name == "NTRK":
                out.append(_Mention(["NTRK1", "NTRK2", "NTRK3"], s, e))
            elif name == "RAS":
                out.append(_Mention(["KRAS", "NRAS"], s, e))
    return out


def _marker_mentions(text: str) -> list[_Mention]:
    mentions = _composite_mentions(text)
    vocabulary = get_vocabulary()
    for match in vocabulary.find_biomarkers(text):
        if any(o.start < match.end and match.start < o.end for o in mentions):
            continue
        if match.key in ("ER", "PR") and len(match.text) <= 3 and not _RECEPTOR_CONTEXT.match(
                text[match.end:]) and not re.search(r"receptors?\s*\($",
                                                    text[max(0, match.start - 14):match.start], _I):
            continue  # ("oestrogen receptor (ER)": the acronym of the name before it is kept)
        mentions.append(_Mention([match.key], match.start, match.end))
    kept: list[_Mention] = []
    seen: set[str] = set()
    tested_end = -1  # the end of the last marker of a list of genes tested
    for mention in sorted(mentions, key=lambda m: m.start):
        if mention.status is None and tested_end >= 0 and _SEPARATOR.match(
                text[tested_end:mention.start]) and not _RESULT_AFTER.match(
                text, mention.end):
            tested_end = mention.end  # "... including EGFR, ROS1, ALK": tested too
            continue
        if mention.status is None and (_THERAPY_AFTER.match(text[mention.end:mention.end + 60])
                                       or _inhibitor_after(text[mention.end:mention.end + 60])
                                       or _SHORT_INHIBITOR_AFTER.match(text, mention.end)
                                       or _THERAPY_BEFORE.search(
                                           text[max(0, mention.start - 200):mention.start])
                                       or _INHIBITOR_OF_BEFORE.search(
                                           text[max(0, mention.start - 60):mention.start])):
            continue
        if (mention.status is None and text[mention.start:mention.end].lower().endswith(
                "status") and not re.match(r"[\s:]*(?:positive|negative|\+|-|pos|neg|wild|mut)",
                                           text[mention.end:], _I)) or _TESTING_BEFORE.search(
                text[max(0, mention.start - 40):mention.start]) or (
                mention.status is None
                and _TESTING_AFTER.match(text[mention.end:mention.end + 40])) or (
                mention.status is None and _TESTED_FOR_BEFORE.search(
                    text[max(0, mention.start - 110):mention.start])):
            # "to confirm HER2 status", "tissue for determination of FGFR2 status": a test,
            # not a result; so are the markers listed with it ("(ER and PR) status").
            if mention.status is None:
                tested_end = mention.end
            anchor = mention.start
            while kept and kept[-1].status is None and (
                    _SEPARATOR.match(text[kept[-1].end:anchor]) or (
                        kept[-1].markers == mention.markers
                        and re.fullmatch(r"\s*[(/]?\s*", text[kept[-1].end:anchor]))):
                # ... and "progesterone receptor (PR) testing" is one marker written twice
                anchor = kept.pop().start
            continue
        if kept and kept[-1].markers == mention.markers and re.fullmatch(
                r"\s*[(/]?\s*", text[kept[-1].end:mention.start]):
            # "HER2 (ERBB2)", "PD-L1/CD274": one marker written twice.
            close = re.match(r"\s*\)", text[mention.end:])
            kept[-1].end = mention.end + (close.end() if close else 0)
            if kept[-1].status is None and mention.status is not None:
                # "Human Epidermal Growth Factor Receptor 2 (HER2)-low": the second writing
                # carries the result.
                kept[-1].status, kept[-1].items = mention.status, mention.items
                kept[-1].all_of = mention.all_of
            continue
        if seen.intersection(mention.markers) and (
                text[:mention.start].count("(") > text[:mention.start].count(")")
                or _DEFINITION_BEFORE.search(text[max(0, mention.start - 40):mention.start])
                or _GUIDELINE_BEFORE.search(text[max(0, mention.start - 20):mention.start])):
            # "HER2 negative (defined as HER2 IHC 2+ or less ...)", "HER2-negative per
            # ASCO/CAP human epidermal growth factor receptor 2 (HER2) Guidelines (If IHC was
            # performed, IHC 0 or 1+; ...)" restate it
            continue
        seen.update(mention.markers)
        if mention.status is None and _BELOW_A_COUNT.match(text, mention.end) and not re.search(
                r"\b(?:lack|absence|no|without)\b",
                text[max(0, mention.start - 40):mention.start], _I):
            continue  # "average HER2 copy number < 4.0 signals per cell": a negative ISH value
        if re.search(r"\bother\s+$", text[max(0, mention.start - 8):mention.start], _I):
            continue  # "alone or with other EGFR mutations" names no requirement
        if text[max(0, mention.start - 1):mention.start] == "(":
            # "ROS oncogene 1 (ROS1) negative": the symbol in brackets after a name the
            # vocabulary does not know; its result follows the bracket.
            close = _CLOSING_BRACKET.match(text, mention.end)
            if close:
                mention.end = close.end()
        kept.append(mention)
    return kept


_CLOSING_BRACKET = re_compile(r"\s*\)(?!\s*-\s)")  # not "(ER)- and/or PR-positive"


def _group(mentions: list[_Mention], text: str) -> list[list[_Mention]]:
    """Markers written as a list ("EGFR, ALK or ROS1", "EGFR/ALK") share what follows."""
    groups: list[list[_Mention]] = []
    for mention in mentions:
        if groups and _SEPARATOR.match(text[groups[-1][-1].end:mention.start]) and \
                mention.status is None and groups[-1][-1].status is None:
            groups[-1].append(mention)
        else:
            groups.append([mention])
    return groups


def _joined_by_and(group: list[_Mention], text: str) -> bool:
    """True when the markers of a list are joined by "and" only ("ER and PR", not "ER and/or
    PR", "EGFR/ALK" or "EGFR, ALK or ROS1")."""
    gaps = " ".join(text[a.end:b.start] for a, b in zip(group, group[1:], strict=False))
    return bool(re.search(r"\band\b(?!/)|&", gaps, _I)) and not re.search(r"\bor\b|/", gaps,
                                                                          _I)


# Words after which alterations are left out, not asked for ("NTRK point mutation or
# amplification without a fusion", "KRAS mutation other than G12C", "KRAS non-G12C").
_LEFT_OUT = re_compile(r"\b(?:(?<!\bor\s)without|other\s+than|but\s+not|excluding|"
                       r"except(?:\s+for)?|non-?(?=[a-z]\d{1,4}[a-z]?\b)|"
                       r"apart\s+from|not\s+(?:a|an|including))\b", _I)
# "... if RAS wild-type", "when HER2-positive": a marker inside a condition on another
# statement applies to some patients only.
_CONDITION_BEFORE = re_compile(r"\b(?:if|when|unless|in\s+case\s+of)\s+(?:[\w-]+\s+){0,2}$", _I)


_EXAMPLE_BEFORE = re_compile(r"\b(?:including|incl\.|e\.g\.?|such\s+as|i\.e\.?)\W*$", _I)


_STATUS_AFTER = re_compile(r"\s*(?:mutations?\s+)?(?:status|test(?:s|ing)?)\b", _I)
# A bare "exon 21" among EGFR mutations: its sensitising point mutations L858R and L861Q
# (NCCN NSCLC; Sharma et al., Nat Rev Cancer 2007).
_EXON21 = re_compile(r"\bexon[\s-]*21\b(?![\s-]*(?:point\s+mutations?\s+)?\(?\s*L8)", _I)
# "sensitising EGFR mutations": the class of alterations is written before the marker.
_SENSITISING_BEFORE = re_compile(r"\bsensiti[sz]\w*\s+(?:\w+\s+)?$", _I)


# HGVS protein notation's prefix before a variant ("p.G12C", "p.V600E").
_PROTEIN_PREFIX = re_compile(r"\bp\.(?=[A-Z][a-z]{0,2}\d)")


def _alterations(window: str, marker: str | None = None,
                 tail: str = "") -> tuple[list[str], int]:
    """Specific alterations in the words after a marker, else the generic classes ("fusion",
    "amplification"; "mutation" only for HER2 or beside another class, where it differs from
    any alteration), with the offset where the last one ends. Words after "without" or
    "other than" name alterations left out (see `_left_out`)."""
    cut = _LEFT_OUT.search(window)
    if cut:
        window = window[:cut.start()]
    # An alteration named for its test ("and T790M mutation status") is no requirement.
    specific = [m for m in get_vocabulary().find_alterations(window)
                if m.key.lower() not in _GENERIC_KEYS
                and not _STATUS_AFTER.match(window + tail[:30], m.end)]
    if marker == "EGFR" and "exon" in window.lower():
        exon21 = _EXON21.search(window)
        if exon21 and not any(m.key in ("L858R", "L861Q") for m in specific):
            return list(dict.fromkeys([m.key for m in specific] + ["L858R", "L861Q"])), max(
                [exon21.end()] + [m.end for m in specific])
    if specific:
        return list(dict.fromkeys(m.key for m in specific)), max(m.end for m in specific)
    if marker in _PROTEIN_TESTED_GENES:
        protein = _PROTEIN_TEST.search(window, 0, 30)
        if protein and not re.search(r",|;|\bor\b|\band\b", window[:protein.start()], _I):
            # "MET (IHC) expression of 1+, 2+ or 3+", "c-Met overexpression": the protein on
            # IHC, which a DNA test's "no MET amplification" does not answer.
            return ["overexpression"], protein.end()
    found = sorted((m.start(), m.end(), name) for name, pattern in _GENERIC
                   for m in [pattern.search(window)] if m)
    if not found:
        return [], 0
    names = list(dict.fromkeys(name for _, _, name in found))
    end = max(e for _, e, _ in found)
    if names == ["mutation"] and marker != "HER2":
        return [], end
    if len(names) > 1 and not re.search(r"\bor\b|/|,", window[found[0][1]:found[-1][0]], _I):
        names = names[:1]  # "fusion gene amplification": one finding, not alternatives
    return names, end


def _left_out(window: str) -> tuple[list[str], int]:
    """Alterations named after "without", "other than", "excluding" in the words after a
    marker: the requirement accepts every alteration but these. With the offset where a
    left-out variant written onto the marker ends ("KRAS non-G12C"), else 0."""
    cut = _LEFT_OUT.search(window)
    if not cut:
        return [], 0
    rest = window[cut.end():cut.end() + 40]
    specific = [m for m in get_vocabulary().find_alterations(rest)
                if m.key.lower() not in _GENERIC_KEYS]
    if specific:
        # "non-G12C" is part of the marker's name; "other than G12C" a clause of its own.
        attached = cut.group().lower().startswith("non") and specific[0].start == 0
        return list(dict.fromkeys(m.key for m in specific)), \
            cut.end() + specific[0].end if attached else 0
    generic = [name for name, pattern in _GENERIC if pattern.search(rest)]
    return generic[:1], 0


def _values(marker: str, window: str) -> tuple[list[dict], int]:
    """Thresholds after a marker: PD-L1 TPS/CPS, TMB mut/Mb, ER/PR %, HER2 IHC/ISH, with the
    offset where the last one ends."""
    items: list[dict] = []
    if marker == "HER2":
        ihc = _IHC.search(window)
        ish = _ISH.search(window)
        more = _IHC_MORE.match(window, ihc.end()) if ihc else None
        if ihc and more and more.group(0).strip():
            # A list of scores ("IHC 1+, 2+ or 3+", "IHC 3+ or IHC 2+"): read as a whole, not
            # as the first score. IHC 0-1+, and 2+ without amplification, are HER2-negative;
            # 3+, or 2+ with ISH amplification, HER2-positive (ASCO/CAP 2018). Unqualified
            # ("HER2-expressing") it accepts either side of that line.
            scores = sorted({float(ihc.group("v") or ihc.group("v2") or ihc.group("v3"))} | {
                float(v) for v in re.findall(r"([0-3])\s*\+", more.group(0))})
            before = window[:ihc.start()]
            positive = (ish is not None and not _ISH_NEGATIVE.search(window)) or bool(
                _HER2_POSITIVE_WORDS.search(before))
            negative = bool(_HER2_NEGATIVE_WORDS.search(before)) or (
                bool(_ISH_NEGATIVE.search(window)) and scores[-1] < 3)
            end = max(more.end(), ish.end() if ish else 0)
            if positive and not negative:
                top = [v for v in scores if v >= 3] or scores[-1:]
                items.append(_item("HER2", "positive", min_value=top[0], unit="IHC"))
                if ish:
                    items.append(_item("HER2", "positive", alterations=["amplification"]))
                return items, end
            low = [v for v in scores if v <= 2]
            if not negative and scores[-1] >= 2:
                items.append(_item("HER2", "positive", min_value=max(2.0, scores[0]),
                                   unit="IHC"))
            if low:
                items.append(_item("HER2", "negative", min_value=low[0], max_value=low[-1],
                                   unit="IHC"))
            return items, end
        if ihc:
            value = float(ihc.group("v") or ihc.group("v2") or ihc.group("v3"))
            items.append(_item("HER2", "positive" if value >= 3 else "negative"
                               if value < 2 else "equivocal", min_value=value, unit="IHC"))
        if ish:
            items.append(_item("HER2", "positive", alterations=["amplification"]))
        return items, max([m.end() for m in (ihc, ish) if m] or [0])
    for match in _VALUE.finditer(window):
        if not match.group("num"):
            continue
        uname = (match.group("uname") or "").lower()
        unit_word = (match.group("unit") or "").lower()
        pct = bool(match.group("pct"))
        if "combined" in uname or uname == "cps" or unit_word == "cps":
            unit = "CPS"
        elif "proportion" in uname or uname in ("tps", "tc") or unit_word == "tps":
            unit = "TPS"
        elif "mb" in unit_word or "megabase" in unit_word:
            unit = "mut/Mb"
        elif uname.startswith("allred"):
            unit = "Allred"
        elif pct and marker == "PD-L1":
            unit = "TPS"
        elif pct:
            unit = "%"
        elif marker == "TMB":
            unit = "mut/Mb"
        else:
            continue
        low = float(match.group("num"))
        high = float(match.group("num2")) if match.group("num2") else None
        op = (match.group("op") or "").lower()
        post = (match.group("post") or "").lower()
        status = "positive"
        if high is not None:
            items.append(_item(marker, status, min_value=low, max_value=high, unit=unit))
        elif re.match(_LE, op, _I) or any(w in post for w in ("less", "lower")):
            if low <= 1:
                status = "negative"
            items.append(_item(marker, status, max_value=low, unit=unit))
        elif op or post or unit in ("TPS", "CPS", "mut/Mb", "%"):
            items.append(_item(marker, status, min_value=low, unit=unit))
        else:
            continue
        return items, match.end()
    return items, 0


_EXPRESSING = re_compile(r"HER-?2(?:/neu)?[\s-]+express(?:ing|ion)\b|\bexpress(?:es|ing)?\s+"
                         r"(?:of\s+)?HER-?2\b", _I)
_NOT_EXPRESSING = re_compile(r"\bnon\b|\bnot\b|\bno\b|negative|over[\s-]*express|\b0\b", _I)


_ECG_INTERVAL = re_compile(r"\s*(?:interval\b|(?:[<>≥≤=]|&[lg]t;)+\s*\d+\s*(?:ms|msec|"
                          r"milliseconds?)\b)", _I)
# Either result of a marker: "estrogen and/or progesterone receptor-positive or -negative",
# "HR+ or HR- status"; a status known or confirmed, whichever it is.
_EITHER_STATUS = re_compile(r"[\s-]*(?:positive|\+)\s*(?:or|and/or|/)\s*(?:[\w-]*\s*)?"
                            r"-?\s*(?:negative\b|-)", _I)
_STATUS_KNOWN = re_compile(r"\b(?:known|confirmed|documented|available)\s+"
                           r"(?:(?!positive|negative)[a-z]+\s+){0,3}status\s*\(?\s*$", _I)
_UNLESS_BEFORE = re_compile(r"\bunless\b[^.;]{0,40}$", _I)


def find_biomarker_requirements(text: str, criterion_kind: str) -> list[Requirement]:
    """Biomarker requirements in one criterion; see the module docstring for the shape."""
    # "the KRAS p.G12C mutation": the full stop of HGVS's "p." ends no clause (same offsets)
    text = _PROTEIN_PREFIX.sub("p ", text)
    mentions = _marker_mentions(text)
    if not mentions:
        return []
    out: list[tuple[int, int, list[dict], bool]] = []  # start, end, items, negative
    groups = _group(mentions, text)
    lower = text.lower()
    qualified = any(word in lower for word in _QUALIFIER_WORDS)
    negated_group = -2  # the index of the last group negated by words before it
    # Markers named with no result, alteration or value ("defined as HER2 (0 with staining)"):
    # read as positive only when the criterion says nothing else of them.
    bare: set[tuple[int, str]] = set()
    for index, group in enumerate(groups):
        first, last = group[0], group[-1]
        next_start = groups[index + 1][0].start if index + 1 < len(groups) else len(text)
        _, clause_end = clause_bounds(text, last.start, last.end)
        if text[last.end:clause_end].rstrip().endswith(":") and text[clause_end:clause_end + 1] \
                == "\n":
            # A lead-in ("EGFR mutation of the following type:") continues on the next line.
            _, clause_end = clause_bounds(text, clause_end + 1, clause_end + 1)
        window_end = min(next_start, clause_end, last.end + 80)
        window = text[last.end:window_end]
        preset_status = any(m.status is not None for m in group)
        if _UNKNOWN_AFTER.match(window) or (
                not preset_status and _TESTING_AFTER.match(window)):
            continue  # "... status unknown", "(ER and PR) status": no result is required
        if any("PR" in m.markers for m in group) and _ECG_INTERVAL.match(window):
            continue  # "PR > 220 msec", "PR interval": the ECG's, not progesterone receptor
        if _EITHER_STATUS.match(window) or _STATUS_KNOWN.search(text[max(0, first.start - 40):
                                                                   first.start]):
            continue  # "receptor-positive or -negative", "Known hormone receptor status (ER"
        name = re.sub(r"[\s+-]+$", "", text[last.start:last.end])
        if preset_status and name and re.match(
                rf"\s*(?:or|and/or|/)\s*{re.escape(name)}\s*(?:-|negative\b)", window, _I):
            continue  # "Confirmed HR+ or HR- status": either result
        if _UNLESS_BEFORE.search(text[max(0, first.start - 40):first.start]):
            continue  # "multicentric breast cancer, unless all tumors are HER2-positive"
        if qualified and _qualified(text, first, last, window, preset_status):
            continue  # "regardless of PR expression", "HER2-enriched", "any HER2 status"
        if is_allowance(text, first.start, last.end) and criterion_kind == "inclusion":
            continue
        if _CONDITION_BEFORE.search(text[max(0, first.start - 30):first.start]):
            continue
        if _EXAMPLE_BEFORE.search(text[max(0, first.start - 25):first.start]) and any(
                item["marker"] in {m for mention in group for m in mention.markers}
                for _, _, items, _ in out for item in items):
            continue  # "TPS below 50%, including PD-L1 negative (< 1%)": an example
        negated_before = is_negated(text, first.start, first.end, window=60, look_after=False)
        if not negated_before and index and negated_group == index - 1 and (
                _NEGATED_LIST_GAP.fullmatch(
                    PARENTHESIS.sub("", text[groups[index - 1][-1].end:first.start]))):
            # "Absence of sensitising EGFR mutations (including ...) and ALK and ROS1
            # rearrangements": the negation covers the list even past an aside.
            negated_before = True
        if negated_before:
            negated_group = index
        negative_after = bool(_NEGATIVE_AFTER.match(window)) and not \
            _SUSPENDED_POSITIVE.match(text, last.end)
        wild_before = bool(_WILD_BEFORE.search(text[max(0, first.start - 20):first.start])) or \
            bool(_NEGATIVE_BEFORE.search(text[max(0, first.start - 45):first.start]))
        germline = True if (_GERMLINE.search(window[:40]) or _GERMLINE.search(
            text[max(0, first.start - 40):first.start])) else (
            False if _SOMATIC.search(window[:40]) else None)
        for mention in group:
            for item in mention.items:
                item["germline"] = germline if item["germline"] is None else item["germline"]
        status_after = _NEGATIVE_AFTER.match(window) or _POSITIVE_AFTER.match(window)
        status_end = status_after.end() if status_after else 0
        preset = [m for m in group if m.status is not None]
        if preset:
            mention = preset[0]
            values, value_end = _values(mention.markers[0], window)
            end = last.end + value_end
            if mention.items:
                items = [dict(i) for i in mention.items]
            elif values and mention.status == "positive":
                items = values
            else:
                items = [_item(m, mention.status or "positive", germline=germline)
                         for m in mention.markers]
            # A negative with a score range ("HER2-low", "HER2-ultralow") is one narrow
            # finding: "HER2-low or HER2-ultralow" are alternatives, not both required.
            ranged = bool(mention.items) and not mention.all_of and not negated_before and all(
                i["min_value"] is not None or i["max_value"] is not None for i in mention.items)
            negative = (mention.status == "negative" or negated_before) and not ranged
            if negated_before and mention.status != "negative":
                for item in items:
                    item["status"] = "negative"
            if mention.all_of or negative:
                for item in items:
                    out.append((first.start, max(end, mention.end), [item], True))
            else:
                out.append((first.start, max(end, mention.end), items, False))
            continue
        negative = negated_before or negative_after or wild_before
        markers = [m for mention in group for m in mention.markers]
        if _TESTED_ALTERATION.match(window):
            continue  # "EGFR T790M test by the central laboratory": a test, no result
        # "ALK rearrangement negative and ... MET exon 14": the alterations of a negative
        # come before its status word.
        short = window[:status_end] if negative_after else window[:70]
        alterations, alteration_end = _alterations(short, markers[-1], window[len(short):])
        if alterations and alterations[0] not in _GENERIC_NAMES and _LIST_ON.match(
                text, last.end + alteration_end) and last.end + alteration_end + 25 >= min(
                    window_end, last.end + len(short)):
            # A list of alterations running past the window ("including G719X, exon 19
            # deletion, L858R"): read it whole, not its first items only.
            longer = text[last.end:min(next_start, clause_end, last.end + 200)]
            stop = _LIST_STOP.search(longer)  # "..., either alone or with other mutations"
            longer = longer[:stop.start()] if stop else longer
            alterations, alteration_end = _alterations(longer, markers[-1])
        if not alterations and not negative:
            alterations, _ = _alterations(text[max(0, first.start - 40):first.start],
                                          markers[-1])
        if ("ensiti" in text and "sensitizing mutation" not in alterations
                and (negative or not alterations or alterations == ["mutation"])
                and _SENSITISING_BEFORE.search(text[max(0, first.start - 30):first.start])):
            # "absence of sensitising EGFR mutations": a negative for those alone, not for
            # every EGFR alteration; the examples listed after it belong to the class.
            alterations = ["sensitizing mutation"] + [
                a for a in alterations if a not in ("mutation", "fusion", "amplification")]
        if negative:
            specific = [a for a in alterations if a not in ("fusion", "amplification",
                                                           "mutation")]
            span_end = last.end + max(status_end, alteration_end if specific else 0)
            for marker in markers:
                out.append((first.start, span_end,
                            [_item(marker, "negative", alterations=specific,
                                   germline=germline)], True))
            continue
        values, value_end = _values(markers[-1], window) if len(markers) == 1 else ([], 0)
        if values:
            for item in values:
                item["germline"] = germline
                if alterations and not item["alterations"] and markers[-1] != "HER2":
                    item["alterations"] = alterations
            items = values
        else:
            # "EGFR, ALK, BRAF (V600E)": an alteration in parentheses after the last marker
            # is that marker's own; the others of the list stay any alteration.
            own = len(markers) > 1 and window.lstrip().startswith("(") and any(
                a not in _GENERIC_NAMES for a in alterations)
            items = [_item(m, "positive", alterations=[] if own and m != markers[-1]
                           else alterations, germline=germline)
                     for m in markers]
            if not alterations and not status_after:
                bare.update((first.start, m) for m in markers)
            if criterion_kind == "inclusion" and markers == ["HER2"] and not alterations and \
                    _EXPRESSING.search(text[max(0, first.start - 25):last.end + 20]) and \
                    not _NOT_EXPRESSING.search(text[max(0, first.start - 12):last.end + 30]):
                # "tumors that express HER2", "HER2-expressing": IHC 1+ or more (HER2-positive
                # or HER2-low), as the HER2 scores written out read ("IHC 1+, 2+ or 3+").
                items = [_item("HER2", "positive", germline=germline),
                         _item("HER2", "negative", min_value=1, max_value=2, unit="IHC")]
        # The clause ends at "other than"/"except", so the words after it are read here.
        after = text[last.end:min(next_start, last.end + 70)]
        left_out, attached_end = _left_out(re.split(r"[.;\n]", after, maxsplit=1)[0])
        if left_out:
            for item in items:
                item["except_alterations"] = left_out
        span_end = last.end + max(status_end, alteration_end, value_end, attached_end)
        if len(items) > 1 and _joined_by_and(group, text):
            # "MYC and BCL2 rearrangements" (double-hit): every marker is required.
            for item in items:
                out.append((first.start, span_end, [item], True))
            continue
        out.append((first.start, span_end, items, False))
    stated = {item["marker"] for start, _, items, _ in out for item in items
              if (start, item["marker"]) not in bare}
    out = [entry for entry in out if not (
        all((entry[0], item["marker"]) in bare and item["marker"] in stated
            for item in entry[2]))]
    found = _either_status(_combine(out, text), text)
    if criterion_kind == "exclusion" and _CANNOT_CONFIRM.search(text):
        # "Inability to confirm ... that documents one of the protocol-defined PIK3CA
        # mutations": excluded when the finding is not there, so the finding is required.
        found = [_flipped(r) for r in found]
    return found


# An exclusion of patients whose required finding cannot be shown.
_CANNOT_CONFIRM = re_compile(r"^\W*(?:[\w\s-]{0,40}:\s*)?(?:inability|unable|failure)\s+to\s+"
                             r"(?:confirm|determine|document|demonstrate|establish|provide)", _I)


def _flipped(req: Requirement) -> Requirement:
    items = [{**item, "status": "negative" if item.get("status") == "positive" else item.get(
        "status")} if isinstance(item, dict) else item for item in req.params.get("any_of") or []]
    return Requirement(req.kind, {**req.params, "any_of": items}, req.text, req.start, req.end)


# "... or wild-type", "... or negative" right after a positive requirement (and the reverse):
# the criterion takes either result.
_OTHER_STATUS_AFTER = {
    "positive": re_compile(r"[\s,]*(?:or|and/or|/)\s*(?:negative|wild[\s-]?type|wt|"
                           r"non-?mutated|unmutated|not\s+(?:mutated|amplified))\b", _I),
    "negative": re_compile(r"[\s,]*(?:or|and/or|/)\s*(?:positive|mutated|mutant|mutation|"
                           r"amplified)\b", _I)}
_EITHER_GAP = re_compile(r"[\s,]*(?:or|and/or)\s+(?:[\w-]+\s+){0,2}?", _I)


def _statuses(req: Requirement) -> set[tuple[str, str]]:
    return {(item["marker"], item["status"]) for item in req.params["any_of"]}


def _either_status(found: list[Requirement], text: str) -> list[Requirement]:
    """Drop the markers a criterion takes with either result: "hormone receptor-positive or
    hormone receptor-negative", "HER2-positive or HER2-negative", "KRAS mutant or wild-type",
    "PD-L1 positive or negative" require no result (the status may still be asked to be
    known, which other words say)."""
    either: set[str] = set()
    for req in found:
        statuses = {status for _, status in _statuses(req)}
        if len(statuses) == 1:
            (status,) = statuses
            pattern = _OTHER_STATUS_AFTER.get(status)
            if pattern is not None and pattern.match(text, req.end):
                either.update(marker for marker, _ in _statuses(req))
    for first, second in zip(found, found[1:], strict=False):
        one, other = _statuses(first), _statuses(second)
        opposite = {m for m, st in one for m2, st2 in other if m == m2 and st != st2}
        if opposite and second.start >= first.end and _EITHER_GAP.fullmatch(
                text, first.end, second.start):
            either.update(m for m, _ in one | other)
    if not either:
        return found
    kept: list[Requirement] = []
    dropped: Requirement | None = None
    for req in found:
        if all(item["marker"] in either for item in req.params["any_of"]) or (
                dropped is not None and req.start >= dropped.end and _SLASH_GAP.fullmatch(
                    text, dropped.end, req.start)
                and {st for _, st in _statuses(req)} == {st for _, st in _statuses(dropped)}):
            dropped = req  # ... and "ER-negative/PgR-negative" goes with its "/" partner
            continue
        dropped = None
        kept.append(req)
    return kept


_SLASH_GAP = re_compile(r"\s*/\s*")


_ALTERNATIVE_WORDS = re_compile(r"\bone\s+of\b|\bany\s+of\b|\bat\s+least\s+one\b|\beither\b|"
                                r"\bor\b", _I)
# The gap between two markers of a list: separators, and possibly gene symbols the vocabulary
# does not know ("ATM, FANCD2, FANCE, CHEK2").
_LIST_GAP = re_compile(r"[\s,;()\[\]]*(?:(?:or|and/or)\s+)?(?:(?-i:[A-Z][A-Z0-9-]{1,9})"
                       r"[\s,;()\[\]]*)*(?:or|and/or)?[\s,;()\[\]]*", _I)
# Between two positive findings "/" means "and" ("HER2-positive/ER-positive", "HR+/HER2-");
# inside a list of markers ("EGFR/ALK") it is handled by the grouping instead.
_OR_JOIN = re_compile(r"[\s,;]*(?:or|and/or|,\s*or)\s*", _I)


def _combine(found: list[tuple[int, int, list[dict], bool]], text: str) -> list[Requirement]:
    """Positive requirements joined by "or" ("EGFR mutation or ALK rearrangement") become one
    requirement with every alternative in any_of; negatives and "and" stay separate."""
    out: list[Requirement] = []
    previous_positive: Requirement | None = None
    # "at least one mutation in the following genes: ATR, ATM, CHEK1, ...": a comma list of
    # positives is a list of alternatives when the criterion asks for one of them.
    alternatives = bool(_ALTERNATIVE_WORDS.search(text))
    for start, end, items, negative in sorted(found, key=lambda f: f[0]):
        end = max(end, start)
        joined = False
        if previous_positive is not None and not negative and start >= previous_positive.end:
            between = text[previous_positive.end:start]
            joined = bool(_OR_JOIN.fullmatch(between)) or (
                alternatives and bool(_LIST_GAP.fullmatch(between)) and len(between) < 60) or (
                len(between) < 40 and bool(re.search(r"\bor\b", between))
                and not re.search(r"\band\b(?!/)|[.;]", between, _I))
        if joined and previous_positive is not None:
            previous_positive.params["any_of"].extend(items)
            previous_positive.end = end
            previous_positive.text = text[previous_positive.start:end]
            continue
        req = Requirement("biomarker", {"any_of": items}, text[start:end], start, end)
        out.append(req)
        previous_positive = None if negative else req
    return out
