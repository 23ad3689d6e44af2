"""Clinical facts a note states beyond the pathology profile: performance status, prior
treatment, distant spread and brain metastases ("ECOG 1", "progressed on osimertinib",
"multiple liver metastases", "no brain metastases on MRI").

Used only where the case file does not give them: a plain-text note given as the case, or a
case file that leaves them out. The case file's own values always win. Only explicit
statements count; a fact the notes do not state stays None (unknown), never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from trialmatch.nlp.context import spans_between
from trialmatch.nlp.drugs import (
    DrugMention,
    classes_of,
    find_drug_classes,
    find_drugs,
    get_lexicon,
)
from trialmatch.nlp.notes import repair_ocr, repair_ocr_zeros
from trialmatch.nlp.requirements_basic import find_infection, find_organ_function, find_pregnancy
from trialmatch.nlp.vocab import get_vocabulary
from trialmatch.regex_cache import re_compile

_I = re.IGNORECASE

# --------------------------------------------------------------------- performance status

# ECOG 0-5 (Oken MM et al., Am J Clin Oncol 1982); WHO and Zubrod are the same scale. A range
# ("ECOG 0-1") or a changing score ("ECOG 1 -> 2") is no single value and is not read.
_ECOG = re_compile(
    r"\b(?:ECOG|Eastern\s+Cooperative\s+Oncology\s+Group|Zubrod|WHO\s+(?:performance|PS)|"
    r"(?<!karnofsky\s)performance\s+status|(?-i:\bPS\b))"
    r"(?:\s+(?:performance\s+)?(?:status|score|PS|grade))*"
    r"\s*(?:\(\s*(?:ECOG|PS)\s*\)\s*)?(?:score\s*)?(?:of|is|was|=|:|-)?\s*"
    r"(?P<value>[0-5])\b(?!\s*(?:%|-\s*\d|–\s*\d|/\s*\d|to\s+\d|or\s+\d|\.\d|->|→))", _I)
# Karnofsky (and Lansky for children) 0-100 in steps of ten.
_KPS = re_compile(
    r"\b(?:KPS|Karnofsky|Lansky)(?:\s+(?:performance\s+)?(?:status|score|PS|index|scale))*"
    r"\s*(?:score\s*)?(?:of|is|was|=|:|-)?\s*(?P<value>100|[1-9]0)\s*%?(?!\s*(?:-|–|/|to)\s*\d)",
    _I)


def _ecog_from_kps(kps: int) -> int:
    """The ECOG grade a Karnofsky score corresponds to (Oken 1982: 90-100 = 0, 70-80 = 1,
    50-60 = 2, 30-40 = 3, 10-20 = 4, 0 = 5)."""
    if kps >= 90:
        return 0
    if kps >= 70:
        return 1
    if kps >= 50:
        return 2
    if kps >= 30:
        return 3
    return 4 if kps >= 10 else 5


# ---------------------------------------------------------------------------- prior therapy

# Words saying a therapy was given before (history: "tx w/" is "treated with"), and words
# saying it is only planned, offered or discussed (no history yet: "Rec 1L ..." recommends).
_HISTORY_CUE = re_compile(
    r"\b(?:received|receiving|treated|treatment\s+with|therapy\s+with|s/p|status\s+post|"
    r"post[\s-](?:op|operative)|after|following|progress(?:ed|ion|ing)?|completed|underwent|"
    r"undergone|had\s+(?:been\s+)?(?:on|given)|was\s+(?:on|given|started)|were\s+given|"
    r"started|initiated|previously|prior|previous|history\s+of|refractory|resistant|failed|"
    r"failure|cycles?\s+of|courses?\s+of|doses?\s+of|exposure|exposed|intoleran\w*|"
    r"discontinued|stopped|switched|relapsed|recurred|responded|"
    r"(?:first|second|third)[\s-]+line|1L|2L|3L|salvage|been\s+on|been\s+taking|"
    r"on\s+treatment\s+with|(?:is|are|remains|currently|still)\s+on|taking|takes)\b|"
    r"\b(?:tx|rx)(?:'?d|ed)?\s+(?:w/|with\b)",
    _I)
# A line label: history beside a past verb, a plan beside a plan word.
_LINE_LABEL_CUE = re_compile(r"(?:first|second|third)[\s-]+line|[123]L", _I)
# A condition opening the sentence: what its clause names is yet to happen.
_CONDITIONAL_LEAD = re_compile(r"\s*(?:if|once|unless|should\s+(?:she|he|the\s+patient))\b", _I)
_PLAN_CUE = re_compile(
    r"\b(?:recommend\w*|recs?(?!['\u2019]d)|plan(?:s|ned|ning)?|will|would|should|could|may|might|consider\w*|"
    r"candidate|eligible|offer\w*|discuss\w*|schedul\w*|propos\w*|referr\w*|refer|"
    r"to\s+(?:start|begin|receive|undergo)|option\w*|pending|awaiting|if|versus|vs)\b", _I)
# A specific therapy negated ("never received immunotherapy", "no prior EGFR TKI").
_NEGATED_BEFORE = re_compile(
    r"\b(?:no|not|never|without|denies|naive\s+to)\b(?:\s+[\w/-]+){0,5}\s*$", _I)
_NAIVE_AFTER = re_compile(r"^[\s-]*(?:na[iï]ve|free)\b", _I)
# A therapy the words after it say was not given ("allo-HCT not pursued in CR1",
# "chemotherapy declined").
_NOT_GIVEN_AFTER = re_compile(
    r"^[^.;:,()]{0,25}?\b(?:(?:was|were)\s+)?(?:not\s+(?:pursued|performed|done|given|offered|"
    r"undertaken|started|recommended|indicated)|declined|refused)\b", _I)
# A sentence opening with the options discussed ("Options d/w pt: inotuzumab vs
# blinatumomab salvage -> allo-HCT in CR2"): what it lists is to come, as in a plan section.
_OPTIONS_LEAD = re_compile(
    r"^\W*(?:(?:treatment|therapeutic|management|salvage|systemic|further)\s+)?options?\b", _I)
# A negated receipt reaches to the end of its clause, across list items the lexicon does not
# know ("Never received luspatercept, HMA, lenalidomide or imetelstat").
_NEGATED_RECEIPT = re_compile(
    r"\b(?:never|not|no\s+prior|without\s+prior)\s+(?:\w+\s+){0,2}?(?:received|had|given|"
    r"treated\s+with|been\s+(?:on|treated\s+with|given|exposed\s+to))\b[^.;:]*$", _I)
# The notes saying there was no treatment at all: a treatment-naive patient.
_NO_TREATMENT = re_compile(
    r"\b(?:treatment|therapy|chemotherapy|systemic\s+therapy)[\s-]+na[iï]ve\b|"
    r"\bpreviously\s+untreated\b|\buntreated\s+(?:\w+\s+){0,3}?(?:cancer|carcinoma|disease)\b|"
    r"\bno\s+(?:prior|previous)\s+(?:systemic\s+|anti-?cancer\s+|anti-?neoplastic\s+|"
    r"oncologic(?:al)?\s+|cancer(?:-directed)?\s+)?(?:therapy|therapies|treatments?)\b|\bhas\s+not\s+(?:yet\s+)?(?:received|had)\s+any\s+"
    r"(?:systemic\s+|anti-?cancer\s+)?(?:therapy|treatment)\b|"
    # "no chemo/RT ever", "never received chemotherapy or radiation", "never had any cancer
    # treatment" (not "never received chemotherapy" alone: hormones or surgery may have been)
    r"\bno\s+(?:prior\s+)?chemo(?:therapy)?\s*(?:/|or|and|,)\s*(?:RT|XRT|radiation|"
    r"radiotherapy)\s+ever\b|\bnever\s+(?:received|had|been\s+treated\s+with)\s+(?:any\s+)?"
    r"(?:chemo(?:therapy)?\s*(?:/|or|and)\s*(?:RT|XRT|radiation|radiotherapy)|systemic\s+"
    r"therapy|anti-?cancer\s+(?:therapy|treatment)|cancer\s+treatment)\b", _I)
# Where one regimen ends and the next begins inside a sentence.
_REGIMEN_BREAK = re_compile(
    r";|\bthen\b|\bfollowed\s+by\b|\bsubsequently\b|\blater\b|\bswitched\s+to\b|"
    r"\bsalvage\b|\b(?:second|third|fourth)[\s-]+line\b|"
    r"\bchanged\s+to\b|\btransitioned\s+to\b|\b(?:after|upon|at|on)\s+(?:disease\s+)?"
    r"progression\b|\bprogress(?:ed|ion)\s+(?:on|after|through|despite)\b", _I)
# A pathology report's gross description: "Received fresh is a 606 gram nephrectomy" names
# the specimen being examined, not a treatment history.
_SPECIMEN_RECEIVED = re_compile(r"\breceived\s*:|\breceived\s+(?:fresh|unfixed|in\s+"
                                r"(?:formalin|a\s+container|saline)|labeled|labelled|is|are|"
                                r"within|from|for|as|at|with\s+the\s+label)\b", _I)
# Local treatments (the drug lexicon's classes): they are no line of systemic therapy, and a
# note naming only them says nothing about systemic treatment.
_LOCAL_CLASSES = frozenset({"surgery", "radiation", "radioactive iodine"})
# Maintenance with drugs of the regimen before it continues that line (it is no new one).
_MAINTENANCE = re_compile(r"\bmaintenance\b|\bcontinu(?:ed|ation)\b", _I)
_SETTING = re_compile(r"\b(?:neo)?adjuvant\b|\bperioperative\b", _I)
_SENTENCE_END = re_compile(r"(?<!\d)\.(?!\d)|\n\s*\n|\n(?=\s*[-*•\d])|[!?]")
# A plan section ("Plan:", "Recommendations:", "Next steps:") lists what is to come: its
# items are no history, even when they name a line ("- 1L docetaxel + trastuzumab +
# pertuzumab x6"). It runs to a blank line or the next heading; "A/P:" and "Assessment and
# plan:" are not such sections (their assessment retells the history).
_PLAN_HEADING = re_compile(
    r"^[ \t]*(?:[-*•][ \t]*)?(?:(?:treatment|therapeutic|management|proposed)\s+)?(?:plan|"
    r"recommendations?|recs|next\s+steps?)(?:\s+(?:and|&)\s+\w+)?[ \t]*:", _I | re.MULTILINE)
_SECTION_END = re_compile(r"\n[ \t]*\n|\n(?=[ \t]*[A-Za-z][\w /&()-]{0,40}:)")
# A past-tense word that makes a plan item history after all ("s/p C1 on 11/20").
_PAST_IN_PLAN = re_compile(r"\b(?:received|completed|s/p|status\s+post|underwent|previously|"
                           r"(?:was|were)\s+(?:given|started|on)|had\s+been|progressed\s+on|"
                           r"failed)\b", _I)


def _plan_sections(text: str) -> list[tuple[int, int]]:
    """Spans of the note's plan sections (see `_PLAN_HEADING`)."""
    spans = []
    for heading in _PLAN_HEADING.finditer(text):
        end = _SECTION_END.search(text, heading.end())
        spans.append((heading.start(), end.start() if end else len(text)))
    return spans

# ----------------------------------------------------------------------- spread of disease

# Distant sites (AJCC 8th ed.: distant metastasis M1 is spread beyond the regional nodes).
_DISTANT_SITE = (r"(?:liver|hepatic|lungs?|pulmonary|bones?|osseous|skeletal|brain|cerebral|"
                 r"intracranial|adrenal|peritone\w*|pleura\w*|omentum|omental|distant|"
                 r"contralateral\s+lung|spine|spinal|vertebra\w*|leptomening\w*)")
_METASTASIS = (r"(?:metastas[ie]s|metastatic\s+(?:disease|lesions?|deposits?|foci|spread)|"
               r"mets|metastatic\s+(?:\w+\s+){0,3}?(?:cancer|carcinoma|melanoma|sarcoma|"
               r"adenocarcinoma|tumou?r|disease|nsclc|crc))")
_DISTANT = re_compile(
    rf"\b{_DISTANT_SITE}\s+(?:and\s+\w+\s+)?(?:{_METASTASIS}|lesions?\s+(?:consistent|"
    rf"compatible)\s+with\s+metasta\w*)|\b{_METASTASIS}\s+(?:to|in|involving|within)\s+"
    rf"(?:the\s+)?(?:\w+\s+(?:and|,)\s+)?{_DISTANT_SITE}|"
    rf"\b(?:widely|diffusely)\s+metastatic\b|\bdistant\s+(?:spread|disease)\b|"
    # "PTC, metastatic to lungs/mediastinum/bone", "metastatic to the liver"
    rf"\bmetastatic\s+to\s+(?:the\s+)?(?:[\w-]+\s*(?:,|/|and)\s*){{0,3}}?{_DISTANT_SITE}\b|"
    # "now metastatic recurrence", "distant relapse": the course has reached distant sites
    rf"\b(?:metastatic|distant)\s+(?:recurrence|relapse|progression)\b|"
    rf"\bmetastatic\s+(?:[\w,/+-]+\s+){{0,4}}?(?:cancer|\w*carcinoma|melanoma|\w*sarcoma|"
    rf"nsclc|crc|disease|adenocarcinoma)\b|"
    # "pulmonary nodules (largest 1.4 cm) c/w mets", "metastatic dz", "metastatic LMS",
    # "mCRPC", "bone scan: >10 lesions", "new osseous lesions" (imaging in a cancer course)
    rf"\b{_DISTANT_SITE}\s+(?:[\w()./,-]+\s+){{0,6}}?(?:c/w|consistent\s+with|compatible\s+"
    rf"with|suspicious\s+for|concerning\s+for|representing)\s+(?:\w+\s+)?(?:mets|metasta\w*)|"
    rf"\bmetastatic\s+dz\b|(?-i:\b[Mm]etastatic\s+(?:[a-z][\w-]*\s+){{0,3}}?[A-Z][A-Z]"
    rf"[A-Za-z]{{0,4}}\b)|"
    rf"(?-i:\bm(?:CRPC|HSPC|CSPC|CRC|BC|UC|RCC|NSCLC|PDAC|GC|PC|TNBC)\b|\bMBC\b)|"
    rf"\bbone\s+scan\W+(?:[\w()/,-]+\s+){{0,3}}?(?:>\s*)?(?:new|multiple|innumerable|"
    rf"numerous|diffuse|\d+)\s+(?:\w+\s+)?(?:lesions?|foci|mets)\b|"
    rf"\b(?:new|multiple|innumerable|numerous|diffuse)\s+(?:\w+\s+)?(?:osseous|bony|bone|"
    rf"skeletal|adrenal)\s+(?:lesions?|mets|deposits?|foci)\b", _I)
# (Stage IV and M1 are read with the stage, by trialmatch.nlp.tnm.)
_REGIONAL = re_compile(r"\b(?:lymph|nodes?|nodal|LN|LNs|N[1-3][abc]?)\b", _I)
# A synoptic report's field label ("Distant metastasis (pM): pMX", "Distant Metastasis: Not
# applicable"): the label states nothing, its value may (read by the M1 pattern).
_FIELD_LABEL_AFTER = re_compile(r"^\s*(?:\([cp]?M\)\s*)?(?:[:(?]|\.\s*[cp]?M[0-9OXx])", _I)
# "Distant metastasis cannot be assessed": the report does not know either way.
_UNASSESSED_AFTER = re_compile(r"^[\s,:]*(?:(?:is|are|was|were)\s+)?(?:cannot\s+be\s+"
                               r"(?:assessed|evaluated|determined)|not\s+(?:assessed|"
                               r"applicable|evaluated)|unknown)\b", _I)
_BRAIN = re_compile(
    r"\b(?:brain|cerebral|intracranial|CNS|cerebellar)\s+(?:metastas[ie]s|mets|lesions?\s+"
    r"(?:consistent|compatible)\s+with\s+metasta\w*|metastatic\s+(?:disease|lesions?))|"
    r"\bmetastas[ie]s\s+(?:to|in)\s+(?:the\s+)?(?:brain|cerebellum|CNS)\b|"
    r"\bleptomeningeal\s+(?:disease|metastas[ie]s|carcinomatosis|spread)\b", _I)
_NEGATION_BEFORE = re_compile(
    # ("neg for distant mets", "w/o mets": clinicians' shorthand)
    r"\b(?:no|not|without|w/o|neg(?:ative)?\.?\s+for|free\s+of|absence\s+of|denies|ruled?\s+out|"
    r"no\s+(?:evidence|sign|signs)\s+of|no\s+(?:radiographic|radiologic|clinical)\s+"
    # ... and the items of a list before the one at hand: "No lung, liver, or osseous mets"
    r"evidence\s+of)\b(?:\s+[\w/-]+){0,4}(?:\s*,\s*[\w/-]+(?:\s+[\w/-]+)?){0,4}"
    r"(?:\s*,)?(?:\s+(?:or|and|nor|and/or))?\s*$", _I)
_NEGATION_AFTER = re_compile(r"^[\s,:]*(?:(?:was|were|is|are)\s+)?(?:not\s+(?:seen|identified|"
                             r"present|detected|demonstrated)|(?:\w+\s+){0,2}absent|"
                             r"excluded|ruled\s+out)\b",
                             _I)
_HEDGE_BEFORE = re_compile(r"\b(?:possible|possibly|suspicious\s+for|suspected|concern\s+for|"
                           r"cannot\s+(?:be\s+)?(?:exclude|rule\s+out)|rule\s+out|r/o|"
                           r"questionable|equivocal|indeterminate|likely|probable|probably|"
                           r"risk|development|evaluation\s+for|work-?up\s+for|determine|"
                           r"whether|if|represents?|favou?r|differential|versus|vs|possibilit\w*|\?)"
                           r"[\s,]*(?:[\w./\[-]+[\s,]+){0,6}$|"
                           # "?lymphoma/metastatic SCC" is one of two; "recurrent/metastatic"
                           # the name of the advanced setting
                           r"(?<!recurrent)/\s*$|\[\s*$", _I)
_HEDGE_AFTER = re_compile(r"^[\s,.]*(?:(?:is|are)\s+)?(?:likely|possible|probable|"
                          r"favou?red|considered|contenders?|suspected)\b", _I)


@dataclass(frozen=True)
class ClinicalFacts:
    """What the notes state about the patient beyond the pathology profile.

    `prior_therapies` holds one entry per regimen ("carboplatin + pemetrexed + pembrolizumab"),
    `[]` when the notes say there was no treatment, None when they say nothing. `metastatic`
    is about distant spread (stage IV, M1, liver or bone metastases), never nodes alone.
    """

    ecog: int | None = None
    ecog_evidence: str | None = None
    kps: int | None = None
    prior_therapies: list[str] | None = None
    prior_evidence: list[str] = field(default_factory=list)
    metastatic: bool | None = None
    metastatic_evidence: str | None = None
    brain_metastases: bool | None = None
    brain_evidence: str | None = None
    # Laboratory values: measure -> (value, unit, words), units as the criteria parser
    # normalises them (counts 10^9/L, hemoglobin g/dL, creatinine and bilirubin mg/dL).
    labs: dict[str, tuple[float, str, str]] = field(default_factory=dict)
    infections: dict[str, tuple[bool, str]] = field(default_factory=dict)  # "HIV": (True, ..)
    pregnant: bool | None = None
    pregnancy_evidence: str | None = None
    # Past cancers the notes name as history ("history of prostate cancer treated in 2015"):
    # (OncoTree code, year diagnosed or treated if stated, words). Which of them is another
    # malignancy than the one being matched is for the matcher to say.
    past_cancers: list[tuple[str, int | None, str]] = field(default_factory=list)
    no_other_cancer: str | None = None  # words saying there was no other cancer


# A sentence that only plans, orders or awaits a test states no result.
_NO_RESULT = re_compile(r"\b(?:screen\w*|order\w*|pending|unknown|awaited|awaiting|to\s+be\s+"
                        r"(?:tested|checked|drawn)|check\w*|rule\s+out|r/o|if|should|will|"
                        r"would|recommend\w*|consider\w*)\b", _I)
_DENIES = re_compile(r"\b(?:denies|denied|deny)\b", _I)
# Lab measures read from notes, and the units a note value must carry to be compared.
_LAB_UNITS = {"ANC": "10^9/L", "platelets": "10^9/L", "WBC": "10^9/L", "hemoglobin": "g/dL",
              "creatinine": "mg/dL", "bilirubin": "mg/dL", "CrCl": "mL/min"}


# Words without which a sentence holds no lab value, infection result or pregnancy (a cheap
# test before the parsers run).
_LAB_WORDS = ("anc", "neutrophil", "platelet", "plt", "hemoglobin", "haemoglobin", "hgb", "hb ",
              "wbc", "white", "creatinine", "bilirubin", "crcl", "clearance", "leukocyte",
              "cr ", "cr:", "bili", "creat")
# Creatinine and bilirubin as notes write them: "Cr 1.4", "T bili 0.5", "creatinine 88
# umol/L", "Cr 0.9 mg/dL". A value without a unit is read by its size (creatinine 0.2-15
# mg/dL, 30-1500 umol/L; bilirubin 0.1-5 mg/dL, 17-600 umol/L); sizes between are left
# unread. SI units are converted (creatinine 88.4, bilirubin 17.1 umol/L per mg/dL).
_CHEMISTRY = re.compile(
    r"(?<![\w/])(?P<name>creat(?:inine)?|cr|s\.?\s*cr|scr|(?:t(?:otal)?\.?\s*)?bili(?:rubin)?|"
    r"tbili)\b\.?\s*(?:\([^)]{0,12}\)\s*)?(?:[:=]|\bof\b|\bis\b|\bwas\b)?\s*"
    r"(?P<value>\d+(?:\.\d+)?)(?!\.?\d)(?!\s*(?:/|[x×]\s*ULN|%|mg\b(?!/)|ml/min))\s*"
    r"(?P<unit>mg/dl|[uµμ]mol/l|micromol/l)?", _I)
_CHEMISTRY_RANGES = {"creatinine": ((0.2, 15.0), (30.0, 1500.0), 88.4),
                     "bilirubin": ((0.1, 5.0), (17.0, 600.0), 17.1)}


def _chemistry(sentence: str) -> dict[str, tuple[float, str, str]]:
    """Creatinine and bilirubin in mg/dL from a note's sentence (see `_CHEMISTRY`)."""
    found: dict[str, tuple[float, str, str]] = {}
    for match in _CHEMISTRY.finditer(sentence):
        name = "bilirubin" if "bili" in match.group("name").lower() else "creatinine"
        if name == "creatinine" and re.match(r"\s*cl\b|\s*clearance", sentence[match.end(
                "name"):], _I):
            continue  # creatinine clearance is another measure
        value = float(match.group("value"))
        unit = (match.group("unit") or "").lower()
        conventional, si, factor = _CHEMISTRY_RANGES[name]
        if unit == "mg/dl" or (not unit and conventional[0] <= value <= conventional[1]):
            mg_dl = value
        elif unit or si[0] <= value <= si[1]:
            mg_dl = round(value / factor, 2)
        else:
            continue
        found[name] = (mg_dl, "mg/dL", match.group(0).strip())
    return found
_AGENT_WORDS = ("hiv", "hepatitis", "hbv", "hcv", "hbsag", "aids", "immunodeficiency")
_RESULT_WORDS = _LAB_WORDS + _AGENT_WORDS + ("pregnan",)


# "hepatitis C virus antibody negative", "surface antigen stains are negative".
_RESULT_NEGATIVE_AFTER = re_compile(r"^[\w\s-]{0,45}?\b(?:negative|non-?reactive|not\s+"
                                    r"detected|undetectable)\b", _I)
_RESULT_POSITIVE = re_compile(r"\b(?:positive|reactive|detected|infection|infected|chronic|"
                              r"history\s+of|etiology|associated)\b", _I)
_TITRE = re_compile(r"\b(?:titer|titre|level|load|iu/ml)\b", _I)
_PREGNANT = re_compile(r"\bpregnant\b|\bpositive\s+pregnancy|\bpregnancy\s+test\s+"
                       r"(?:is\s+|was\s+)?positive|\b\d+\s+weeks?\s+(?:of\s+)?gestation", _I)


def _results(text: str) -> tuple[dict[str, tuple[float, str, str]], dict[str, tuple[bool, str]],
                                 tuple[bool | None, str | None]]:
    """Laboratory values, infection results and pregnancy, sentence by sentence, with the
    criteria parser's readers (trialmatch.nlp.requirements_basic). A later value of a lab
    replaces an earlier one (notes run in time order)."""
    labs: dict[str, tuple[float, str, str]] = {}
    infections: dict[str, tuple[bool, str]] = {}
    pregnant: tuple[bool | None, str | None] = (None, None)
    for start, end in _sentences(text):
        sentence = text[start:end]
        lower = sentence.lower()
        if not any(word in lower for word in _RESULT_WORDS) or _NO_RESULT.search(sentence):
            continue
        labs_named = any(c.isdigit() for c in sentence) and any(w in lower for w in _LAB_WORDS)
        read: dict[str, tuple[float, str, str]] = {}
        for req in find_organ_function(sentence) if labs_named else []:
            measure, value, unit = (req.params.get(k) for k in ("measure", "value", "unit"))
            if _LAB_UNITS.get(str(measure)) == unit and isinstance(value, (int, float)):
                read[str(measure)] = (float(value), str(unit), req.text)
        if labs_named:
            for measure, found in _chemistry(sentence).items():
                read.setdefault(measure, found)
        labs.update(read)
        for req in find_infection(sentence) if any(w in lower for w in _AGENT_WORDS) else []:
            after = sentence[req.end:req.end + 45]
            positive = not req.params.get("negated") and not _DENIES.search(sentence) \
                and not _RESULT_NEGATIVE_AFTER.match(after)
            if positive and not _RESULT_POSITIVE.search(sentence) and _TITRE.search(after):
                continue  # "testing for hepatitis B gave a titre of <300": no verdict
            for agent in req.params.get("agents") or []:
                infections[str(agent)] = (positive, req.text)
        for req in find_pregnancy(sentence) if "pregnan" in lower else []:
            if req.params.get("negated"):
                pregnant = (False, req.text)
            elif _PREGNANT.search(sentence):
                pregnant = (True, req.text)  # not "fatty liver of pregnancy", a disease name
    return labs, infections, pregnant


# A cancer named as past history, not the disease now being treated.
_PAST_CUE = re_compile(r"\b(?:history\s+of|h/o|hx\s+of|prior|previous|previously\s+treated|"
                       r"treated\s+for|remote|survivor|in\s+remission|cured|resected\s+in|"
                       r"diagnosed\s+(?:with\s+)?(?:\w+\s+){0,3}in\s+(?:19|20)\d\d)\b", _I)
_CURRENT_BETWEEN = re_compile(r"[,;]|\b(?:now|new|newly|current(?:ly)?|presents?|presenting|"
                              r"with|who)\b", _I)
_YEAR = re_compile(r"\b(19[5-9]\d|20[0-4]\d)\b")
_YEARS_AGO = re_compile(r"\b(\d{1,2})\s+years?\s+ago\b", _I)
_NO_OTHER_CANCER = re_compile(
    r"\bno\s+(?:(?:personal\s+)?history\s+of\s+)?(?:other|another|prior|previous|second)\s+"
    r"(?:primary\s+)?(?:cancers?|malignanc(?:y|ies)|tumou?rs?)\b", _I)
# Other cancers that trials usually let in ("except basal cell carcinoma of the skin or
# carcinoma in situ"): not counted, so that a common exception never excludes.
_USUAL_EXCEPTIONS = frozenset({"BCC", "CSCC", "SKIN", "DCIS", "LCIS", "CIS"})


def _past_cancers(text: str, this_year: int) -> tuple[list[tuple[str, int | None, str]],
                                                     str | None]:
    vocabulary = get_vocabulary()
    found: list[tuple[str, int | None, str]] = []
    for start, end in _sentences(text):
        sentence = text[start:end]
        if not _PAST_CUE.search(sentence):
            continue
        for match in vocabulary.find_cancer_types(sentence):
            before = sentence[:match.start][-60:]
            cues = list(_PAST_CUE.finditer(before))
            if not cues or _CURRENT_BETWEEN.search(before[cues[-1].end():]) or \
                    _NEGATED_BEFORE.search(before) or _HEDGE_BEFORE.search(before) or \
                    match.key in _USUAL_EXCEPTIONS:
                continue  # "history of colon cancer, now with lung adenocarcinoma": current
            year_match = _YEAR.search(sentence[match.end:match.end + 60]) or _YEAR.search(
                before[-40:])
            ago = _YEARS_AGO.search(sentence)
            year = int(year_match.group(1)) if year_match else (
                this_year - int(ago.group(1)) if ago else None)
            found.append((match.key, year, match.text))
    none = _NO_OTHER_CANCER.search(text)
    return found, (none.group(0) if none else None)


def find_clinical_facts(text: str) -> ClinicalFacts:
    """The performance status, prior treatment and spread of disease a note states."""
    # "plt 2O5", "METASTATIC SER0US CARCIN0MA": same length, so evidence still lines up
    text = repair_ocr(repair_ocr_zeros(text))
    ecog, ecog_evidence, kps = _performance_status(text)
    prior, prior_evidence = _prior_therapies(text)
    # Only "no distant metastases" rules out spread: "no brain metastases" or "liver
    # negative for metastatic disease" speak of one organ.
    metastatic, metastatic_evidence = _stated(text, _DISTANT, regional_guard=True,
                                              negation_words=_ANY_DISTANT)
    brain, brain_evidence = _stated(text, _BRAIN, regional_guard=False)
    if brain and metastatic is not True:
        metastatic, metastatic_evidence = True, brain_evidence  # brain metastases are distant
    labs, infections, (pregnant, pregnancy_evidence) = _results(text)
    past, no_other = _past_cancers(text, date.today().year)
    return ClinicalFacts(ecog, ecog_evidence, kps, prior, prior_evidence, metastatic,
                         metastatic_evidence, brain, brain_evidence, labs, infections,
                         pregnant, pregnancy_evidence, past, no_other)


def merge_clinical_facts(facts: list[ClinicalFacts]) -> ClinicalFacts:
    """One set of facts from several notes: the first stated value of each; prior therapies
    pooled (a regimen named in two notes counts once); a positive finding of spread wins
    over a note that found none (a later scan may show what an earlier one did not)."""
    ecog = next(((f.ecog, f.ecog_evidence, f.kps) for f in facts if f.ecog is not None),
                (None, None, None))
    prior: list[str] | None = None
    evidence: list[str] = []
    for f in facts:
        if f.prior_therapies is None:
            continue
        prior = prior if prior is not None else []
        prior += [entry for entry in f.prior_therapies if entry not in prior]
        evidence += f.prior_evidence
    metastatic = _merge_truth([(f.metastatic, f.metastatic_evidence) for f in facts])
    brain = _merge_truth([(f.brain_metastases, f.brain_evidence) for f in facts])
    labs: dict[str, tuple[float, str, str]] = {}
    infections: dict[str, tuple[bool, str]] = {}
    for f in facts:
        labs.update(f.labs)  # the later note's value
        for agent, (positive, words) in f.infections.items():
            if positive or agent not in infections:
                infections[agent] = (positive, words)  # a positive result stands
    pregnant = _merge_truth([(f.pregnant, f.pregnancy_evidence) for f in facts])
    past = [cancer for f in facts for cancer in f.past_cancers]
    no_other = next((f.no_other_cancer for f in facts if f.no_other_cancer), None)
    return ClinicalFacts(ecog[0], ecog[1], ecog[2], prior, evidence, metastatic[0],
                         metastatic[1], brain[0], brain[1], labs, infections, pregnant[0],
                         pregnant[1], past, no_other)


def _merge_truth(values: list[tuple[bool | None, str | None]]) -> tuple[bool | None, str | None]:
    for wanted in (True, False):
        for value, evidence in values:
            if value is wanted:
                return value, evidence
    return None, None


def _performance_status(text: str) -> tuple[int | None, str | None, int | None]:
    """(ECOG, its evidence, Karnofsky): the first ECOG stated, else the ECOG grade of the first
    Karnofsky score."""
    kps_match = _KPS.search(text)
    kps = int(kps_match.group("value")) if kps_match else None
    for match in _ECOG.finditer(text):
        if _negated_or_hedged(text, match.start(), match.end()):
            continue
        return int(match.group("value")), match.group(0), kps
    if kps is not None and kps_match is not None:
        return _ecog_from_kps(kps), kps_match.group(0), kps
    return None, None, None


def _sentences(text: str) -> list[tuple[int, int]]:
    return spans_between(text, _SENTENCE_END)


def _mentions(text: str) -> list[DrugMention]:
    """Drug and class mentions, longest first where they overlap ("carboplatin" inside
    "carboplatin-based chemotherapy" is one mention)."""
    found = sorted(find_drugs(text) + find_drug_classes(text), key=lambda m: (m.start, -m.end))
    kept: list[DrugMention] = []
    for mention in found:
        if kept and mention.start < kept[-1].end and (mention.start, mention.end) != (
                kept[-1].start, kept[-1].end):
            continue  # (a regimen, "AC followed by paclitaxel", gives its drugs on one span)
        kept.append(mention)
    return kept


def _prior_therapies(text: str) -> tuple[list[str] | None, list[str]]:
    """Regimens the note says were given, one entry each; [] when it says none were."""
    entries: list[str] = []
    evidence: list[str] = []
    systemic = False
    plans = _plan_sections(text) if "lan" in text or "ecs" in text or "tep" in text else []
    for start, end in _sentences(text):
        sentence = text[start:end]
        mentions = _mentions(sentence)
        if not mentions:
            continue
        if (any(left <= start < right for left, right in plans) or
                _OPTIONS_LEAD.match(sentence)) and not _PAST_IN_PLAN.search(sentence):
            continue  # "Plan: - 1L docetaxel + trastuzumab + pertuzumab": to come
        # A sentence is cut into segments where one regimen gives way to the next.
        cuts = [0] + [m.start() for m in _REGIMEN_BREAK.finditer(sentence)] + [len(sentence)]
        for left, right in zip(cuts, cuts[1:], strict=False):
            segment_mentions = [m for m in mentions if left <= m.start < right]
            given = _given_in_list(sentence, segment_mentions)
            if not given:
                continue
            # "recurrence 5 months after completing platinum": a class restating the class of
            # a drug already named is that drug, not another regimen.
            given = [m for m in given if not _restates(m, entries)]
            if not given:
                continue
            names = list(dict.fromkeys(m.key for m in given))
            systemic = systemic or any(not _is_local(m) for m in given)
            if entries and _MAINTENANCE.search(sentence[left:right]) and set(names) <= set(
                    entries[-1].split(" (")[0].split(" + ")):
                continue  # "followed by pemetrexed and pembrolizumab maintenance": same line
            entry = " + ".join(names)
            if _SETTING.search(sentence[left:right]):
                entry += " (adjuvant)"
            if entry not in entries:
                entries.append(entry)
                evidence.append(sentence[left:right].strip())
    if systemic:
        return entries, evidence
    if entries:
        return None, []  # surgery or radiation only: the systemic history is not told
    none = _NO_TREATMENT.search(text)
    if none and not _HEDGE_BEFORE.search(text[max(0, none.start() - 40):none.start()]):
        return [], [none.group(0)]
    return None, []


def _restates(mention: DrugMention, entries: list[str]) -> bool:
    """Is a class mention the class of a drug some earlier entry names?"""
    lexicon = get_lexicon()
    if mention.key not in lexicon.class_parents:
        return False
    named = {part.split(" (")[0] for entry in entries for part in entry.split(" + ")}
    return any(mention.key in classes_of(drug) for drug in named)


def _is_local(mention: DrugMention) -> bool:
    """A surgery or radiation class mention (a drug never is)."""
    return bool(get_lexicon().ancestors(mention.key) & _LOCAL_CLASSES)


# Words after a therapy saying it was given ("pembrolizumab was stopped", "platinum-refractory").
_GIVEN_AFTER = re_compile(r"\s*(?:(?:was|were)\s+(?:given|administered|stopped|discontinued|"
                          r"completed)|[\s-]*(?:refractory|resistant|pretreated|experienced|"
                          r"failure)\b)", _I)


_LIST_GAP = re_compile(r"^[\s,/]*(?:(?:or|and|nor|and/or)[\s,/]*)?$", _I)


def _given_in_list(sentence: str, mentions: list[DrugMention]) -> list[DrugMention]:
    """The mentions the sentence says were given; a negation reaches along a list ("No prior
    tucatinib, lapatinib, neratinib or trastuzumab deruxtecan")."""
    given: list[DrugMention] = []
    negated = False
    previous: DrugMention | None = None
    for mention in mentions:
        in_list = previous is not None and bool(
            _LIST_GAP.match(sentence[previous.end:mention.start]))
        if in_list and negated:
            previous = mention
            continue
        negated = _negated(sentence, mention)
        if not negated and _given(sentence, mention):
            given.append(mention)
        previous = mention
    return given


def _negated(sentence: str, mention: DrugMention) -> bool:
    before = sentence[:mention.start]
    return bool(_NEGATED_BEFORE.search(before[-60:]) or _NEGATED_RECEIPT.search(before[-120:])
                or _NAIVE_AFTER.match(sentence[mention.end:mention.end + 40]))


def _given(sentence: str, mention: DrugMention) -> bool:
    """Does the sentence say this therapy was given (a history cue, no plan, no negation)?"""
    before = _SPECIMEN_RECEIVED.sub(" ", sentence[:mention.start])
    after = sentence[mention.end:mention.end + 40]
    if _NEGATED_BEFORE.search(before[-60:]) or _NAIVE_AFTER.match(after) or \
            _NOT_GIVEN_AFTER.match(after):
        return False
    if _CONDITIONAL_LEAD.match(sentence) and "," not in before:
        return False  # "If no progression after 16 weeks of platinum, plan olaparib": a plan
    clause_start = max(before.rfind(","), before.rfind(":"), before.rfind("("))
    if _PLAN_CUE.search(before[-80:]) and not any(
            not _LINE_LABEL_CUE.fullmatch(cue.group(0))
            for cue in _HISTORY_CUE.finditer(before[max(0, clause_start):])):
        return False  # (a line label alone is no history: "Rec 1L gem/cis + toripalimab")
    return bool(_HISTORY_CUE.search(before[-100:]) or _GIVEN_AFTER.match(after))


def _negated_or_hedged(text: str, start: int, end: int) -> bool:
    line_start = max(text.rfind("\n", 0, start), text.rfind(".", 0, start)) + 1
    before = text[max(line_start, start - 60):start]
    return bool(_NEGATION_BEFORE.search(before) or _HEDGE_BEFORE.search(before)
                or _NEGATION_AFTER.match(text[end:end + 40]))


_ANY_DISTANT = re_compile(r"\bdistant\b", _I)


def _sentence_start(text: str, start: int) -> int:
    """Where the sentence holding `start` begins: after a full stop or a line break, unless
    the line before breaks off mid-list ("No lung, liver, or\nosseous mets")."""
    line_start = max(text.rfind("\n", 0, start), text.rfind(".", 0, start)) + 1
    for _ in range(2):
        if line_start == 0 or text[line_start - 1] != "\n" or not _LIST_BREAK.search(
                text, 0, line_start - 1):
            break
        line_start = max(text.rfind("\n", 0, line_start - 1),
                         text.rfind(".", 0, line_start - 1)) + 1
    return line_start


# (... or a phrase a wrapped line breaks off: "MRI brain: no\nintracranial metastases", "no
# evidence of\ndistant disease")
_LIST_BREAK = re_compile(r"(?:,|\b(?:or|and|nor|and/or|no|not|without|w/o|of|for|denies))[ \t]*\Z",
                         _I)


# A multi-part report's part label just before a finding ("C. POSITIVE for metastatic
# carcinoma"), and the specimen line that part names ("C. R axilla LN, FNA").
_PART_BEFORE = re_compile(r"(?:^|\s)(?P<label>[A-H])[.)]\s+(?:[\w-]+\s+){0,3}$")


def _part_is_a_node(text: str, start: int) -> bool:
    """Is the finding at `start` written under a part label whose specimen, listed earlier in
    the report, is a lymph node? (The diagnosis line names the part, not the node.)"""
    label = _PART_BEFORE.search(text, max(0, start - 40), start)
    if label is None:
        return False
    letter = label.group("label")
    specimen = re.search(rf"(?:^|\s){letter}[.)]\s+(?P<what>[^\n]{{0,80}}?)"
                         rf"(?=\s+[A-H][.)]\s|\n|$)", text[:label.start()])
    return bool(specimen and _REGIONAL.search(specimen.group("what")))


def _stated(text: str, pattern: re.Pattern[str], *, regional_guard: bool,
            negation_words: re.Pattern[str] | None = None) -> tuple[bool | None, str | None]:
    """True with its words if some mention is affirmed; False if every mention is negated
    ("no evidence of distant metastases"); None if the note has none (or only hedged ones)."""
    negated: str | None = None
    for match in pattern.finditer(text):
        start, end = match.start(), match.end()
        line_start = _sentence_start(text, start)
        line_end_match = _SENTENCE_END.search(text, end)
        line_end = line_end_match.start() if line_end_match else len(text)
        words = match.group(0)
        if _FIELD_LABEL_AFTER.match(text[end:end + 12]) and re.search(r"metasta\w*$", words,
                                                                      _I):
            continue  # a synoptic label ("Distant metastasis (pM):"), not "lesions (spine)"
        near = text[max(0, start - 150):max(line_end, end + 80)]  # OCR breaks sentences
        if regional_guard and _REGIONAL.search(near) and not re.search(
                _DISTANT_SITE + r"|stage|M1|recurrence|relapse|progression", words, _I):
            continue  # "metastatic carcinoma in 2 of 14 lymph nodes": regional, not distant
        if regional_guard and _part_is_a_node(text, start):
            continue  # "C. POSITIVE for metastatic carcinoma" where part C is "R axilla LN, FNA"
        before = text[max(line_start, start - 60):start]
        if _UNASSESSED_AFTER.match(text[end:end + 40]):
            continue
        if _NEGATION_BEFORE.search(before) or _NEGATION_AFTER.match(text[end:end + 40]):
            if negation_words is None or negation_words.search(words):
                negated = negated or words
            continue
        # Hedges reach across OCR's stray full stops ("represents. metastatic disease").
        if _HEDGE_BEFORE.search(text[max(0, start - 80):start]) or _HEDGE_AFTER.match(
                text[end:end + 40]):
            continue
        return True, words
    return (False, negated) if negated else (None, None)
