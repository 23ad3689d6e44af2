"""Prior therapy requirements: drugs and classes received or not received, and the number
of prior lines of therapy. Drug and class names come from trialmatch.nlp.drugs."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from trialmatch.models import Requirement
from trialmatch.nlp.drugs import (
    DrugMention,
    class_mentions,
    classes_of,
    drug_mentions,
    find_drug_classes,
    find_drugs,
    get_lexicon,
)
from trialmatch.nlp.requirements_common import (
    NOT_NEGATION,
    NUMBER,
    SENTENCE_END,
    Folded,
    clause_bounds,
    folded_cues,
    is_allowance,
    is_negated,
    may_hold,
    requirement,
    to_number,
    words_of,
)
from trialmatch.regex_cache import re_compile

_I = re.IGNORECASE
# Words saying the patient has had the therapy before ("prior", "progressed on").
_PRIOR_CUE = re_compile(
    r"\b(?:prior|previous(?:ly)?|received|receipt|treated|treatment\s+with|therapy\s+with|"
    r"exposure|exposed|pre-?treated|refractory|resistant|progress(?:ed|ion|ing)?|failed|"
    r"failure|relapsed?|recurrence|intoleran(?:t|ce)|history\s+of|had|underwent|undergone|"
    r"(?:did|has|have)\s+not\s+(?:receive|undergo|have)|"
    r"completed|after|following|na[iï]ve|experienced|administered|use\s+of|given|"
    r"response\s+to|responded|responding|sensitive|(?:first|second|third)[\s-]+line)\b",
    _I)
# Mentions about the future, the study itself, allergies or washout periods, which say
# nothing about what the patient has received.
_NOT_HISTORY = re_compile(
    r"\b(?:concurrent(?:ly)?\s+(?:use|treatment|administration|participation|enrol\w*|"
    r"medications?)|concurrent(?:ly)?\s+with\s+(?:the\s+)?(?:study|trial|protocol)|"
    r"concomitant(?:ly)?|during\s+(?:the\s+)?(?:study|trial|treatment)|willing|unwilling|"
    r"able\s+to\s+(?:undergo|receive|tolerate)|preclude\w*|pneumonitis|needed|"
    r"current(?:ly)?\s+(?:use|using|receiving|taking|treated|on)|not\s+exclusionary|"
    r"child[\s-]?bearing|wocbp|wcbp|fcbp|contracept\w*|sterile|sterili[sz]\w*|hysterectomy|"
    r"oophorectomy|tubal\s+ligation|vasectomy|"
    r"while\s+on\s+(?:study|treatment)|on\s+study|planned|plan\s+to|candidates?\s+for|"
    r"eligible\s+(?:for|to)|scheduled|will\s+(?:be\s+)?receiv\w*|to\s+receive|able\s+to\s+receive|"
    r"suitable\s+for|contra-?indicat\w*|hypersensitivity|allerg\w*|anaphyla\w*|"
    r"toxicit\w*|toxic\s+effects?|adverse\s+(?:events?|reactions?|effects?)|side\s+effects?|"
    r"recover\w*|"
    r"resolution|\boff\s+(?:\w+\s+)?(?:corticosteroids?|steroids?)|"
    r"resolved|wash-?out|last\s+dose|since\s+(?:the\s+)?(?:last|prior)|study\s+(?:drug|treatment)|"
    r"investigational\s+(?:product|agent|drug)|appropriate\s+for|amenable\s+to|"
    # "gemcitabine-based treatment is considered a clinically appropriate option": a
    # candidate for the drug, not one who received it
    r"considered\s+(?:an?\s+)?(?:clinically\s+)?(?:appropriate|suitable|reasonable)|"
    r"in\s+combination\s+with\s+the\s+study|randomi[sz]ed\s+to|"
    # definitions of what counts as a line ("... adjuvant chemotherapy is counted as one line")
    r"(?:is|are|will\s+be)\s+(?:counted|considered)\s+as|count(?:s|ed)?\s+as\s+(?:a|one)\s+"
    r"(?:line|regimen)|does\s+not\s+count|(?:is|are|will\s+be)\s+not\s+(?:counted|considered)\s+as|"
    # absorption ("significant bowel resection affecting absorption") and live vaccines ("live
    # vaccine within 30 days ..., e.g. BCG") are no cancer-treatment history
    r"(?:mal)?absor\w+|live\s+(?:attenuated\s+)?vaccin\w*)\b",
    _I)
_WASHOUT = re_compile(
    rf"\bwithin\s+(?:the\s+)?(?:last\s+|past\s+|previous\s+|prior\s+)?(?:{NUMBER}|\d+)\s*"
    rf"(?:\(\d+\)\s*)?(?:days?|weeks?|wks?|months?|years?|half-lives)|"
    rf"\b(?:{NUMBER}|\d+)\s*(?:\(\d+\)\s*)?(?:days?|weeks?|wks?|months?|half-lives)\s+"
    rf"(?:prior\s+to|before|of\s+(?:the\s+)?(?:first|start|initiation|study|enrol|randomi|"
    rf"registration|day|dosing|treatment\s+start))\b|(?:\bat\s+least\s+|(?:≥|>=|>)\s*)"
    rf"(?:{NUMBER}|\d+)\s*(?:days?|weeks?|months?)\s+"
    rf"(?:since|from|after|must\s+have\s+elapsed)|"
    rf"\b(?:less|fewer|shorter)\s+than\s+(?:{NUMBER}|\d+)\s*(?:days?|weeks?|wks?|months?|"
    rf"half-lives)|\b(?:stated|specified)\s+time[\s-]?frames?\b|"
    # "Relapse > 12 months from completion of (neo)adjuvant endocrine therapy": an interval
    # since a therapy, which times it without demanding it
    rf"\b(?:{NUMBER}|\d+)\s*(?:days?|weeks?|months?|years?)(?:\s+or\s+more)?\s+(?:from|after|"
    rf"since)\s+(?:the\s+|their\s+|his\s+|her\s+)?(?:completion|end|last\s+(?:dose|injection|"
    rf"infusion|administration)|discontinuation|cessation)\s+of\b|"
    # "prior adjuvant chemotherapy in the one year before inclusion", "antiandrogens during
    # the year before study entry"
    rf"\b(?:in|during)\s+the\s+(?:last\s+|past\s+|previous\s+)?(?:(?:{NUMBER}|\d+)\s*)?"
    rf"(?:days?|weeks?|months?|years?)\s+(?:before|prior)\b|"
    # "should not receive the first dose until 28 days after major surgery"
    rf"\buntil\s+(?:at\s+least\s+)?(?:{NUMBER}|\d+)\s*(?:days?|weeks?|months?)\s+"
    rf"(?:after|following)\b",
    _I)
# "Progression within 6 months of platinum" dates the progression, not a washout.
_PROGRESSION_WINDOW = re_compile(r"\b(?:progress\w*|relaps\w*|recurr\w*|refractory|resistan\w*)"
                                 r"\W+(?:\w+\W+){0,3}?(?:within|during|on|after)\b", _I)


# Radiation limited by its extent ("radiotherapy to > 25% of the bone marrow", "extensive
# radiotherapy", "wide-field radiation"): a rule about how much marrow was irradiated, not
# about any radiation at all. Neck or breast radiation does not meet it, and the notes rarely
# give the share of marrow, so such a criterion stays unread rather than excluding everyone
# ever irradiated.
_RADIATION_EXTENT = re_compile(
    r"\b\d+\s*%\s*(?:or\s+more\s+)?(?:of\s+(?:the\s+|their\s+)?)?(?:bone\s+)?marrow|"
    r"\b(?:extensive|wide|large|extended)[\s-]+(?:field\s+)?(?:radiation|radiotherapy|"
    r"irradiation|field)|\bmarrow[\s-]+(?:bearing|containing)\b", _I)


# A list of what a count of lines covers: examples, or (under a cap) any "including".
_EXAMPLES = re_compile(r"\b(?:including\s+but\s+not\s+limited\s+to|such\s+as|e\.\s?g\.|"
                       r"for\s+example|for\s+instance)", _I)
_EXAMPLES_OF_A_CONDITION = re_compile(r"\bexamples?\s+(?:include|are)\b", _I)
_ANY_INCLUSION = re_compile(rf"{_EXAMPLES.pattern}|\binclud(?:ing|es?)\b|\bi\.\s?e\.", _I)


# The case-insensitive patterns that run on most criteria, folded (see `Folded`: same
# matches, scanned case-sensitively over the lower-cased text, which is much faster).
_NOT_HISTORY_F = Folded(_NOT_HISTORY)
# Under an exclusion, an event on a drug (intolerance, an immune-related or other adverse
# event, a dose reduction) is what excludes, not its receipt; in an inclusion ("resistant or
# intolerant to imatinib", "ribociclib dose reduction for safety") it says the drug was given.
_INTOLERANCE = re_compile(r"\bintoleran(?:ce|t|cy)\b|(?-i:\b(?:ir)?AEs?\b)|immune[\s-]related|"
                          r"\bdose\s+reductions?\b|\badverse\s+\w+\s+(?:events?|reactions?)",
                          _I)
_WASHOUT_F = Folded(_WASHOUT, ("day", "week", "wk", "month", "year", "half-li", "time"))
_PROGRESSION_WINDOW_F = Folded(_PROGRESSION_WINDOW)
_PRIOR_CUE_F = Folded(_PRIOR_CUE)
_RADIATION_EXTENT_F = Folded(_RADIATION_EXTENT)
_EXAMPLES_F = Folded(_EXAMPLES)
_ANY_INCLUSION_F = Folded(_ANY_INCLUSION)


def _is_washout(sentence: str) -> bool:
    return bool(_WASHOUT_F.search(sentence)) and not _PROGRESSION_WINDOW_F.search(sentence)


# An aside that excepts ("(unless tamoxifen was initiated within 4 weeks prior to
# registration)"): its time window is the exception's, not a washout of the sentence.
_EXCEPTION_ASIDE = re_compile(r"\(\s*(?:unless|except|other\s+than|excluding|apart\s+from|"
                              r"with\s+the\s+exception\s+of)\b[^()]*\)?", _I)


# An operation an inclusion says was done, with its timing ("total mastectomy carried out 12
# months prior to recruitment", "underwent radical cystectomy within 90 days"): the timing
# dates a demanded operation; it is no washout.
_DONE_AFTER = re_compile(r"\s*(?:(?:was|were|has\s+been|have\s+been)\s+)?(?:carried\s+out|"
                         r"performed|done|completed|undergone)\b", _I)
_DONE_BEFORE = re_compile(r"\b(?:underwent|undergone|status\s+post|s/p)\s+(?:an?\s+|the\s+)?"
                          r"(?:[\w-]+\s+){0,2}$", _I)


def _operation_done(text: str, mention: DrugMention, criterion_kind: str) -> bool:
    """Does an inclusion say the operation at `mention` was done (see `_DONE_AFTER`)?"""
    if criterion_kind != "inclusion" or not (
            mention.key == "surgery" or "surgery" in get_lexicon().ancestors(mention.key)):
        return False
    return bool(_DONE_AFTER.match(text, mention.end) or _DONE_BEFORE.search(
        text[max(0, mention.start - 40):mention.start]))


def _sentence_washout(sentence: str) -> bool:
    """Is the sentence a washout (a time window since a therapy), its excepting asides
    aside?"""
    if "(" in sentence:
        sentence = _EXCEPTION_ASIDE.sub(" ", sentence)
    return _is_washout(sentence)


_DISEASE_AFTER = re_compile(r"[\s-]*(?:pneumonitis|induced|related|associated|dermatitis|necrosis|"
                            r"recall|colitis|fibrosis|toxicit\w*|injury|affecting|that\s+"
                            r"(?:could|would|may|might))\b", _I)
# "not achieved a CR after 2 regimens": the negation belongs to another verb.
_OTHER_VERB = re_compile(r"\b(?:achiev\w*|respon\w*|progress\w*|recover\w*|toleran\w*|"
                         r"resistan\w*|refractory|sensitiv\w*|evidence|residual|"
                         r"resolv\w*|obtain\w*|reach\w*)\b", _I)
_CONCURRENT_BEFORE = re_compile(r"\b(?:concurrent|concomitant|current|ongoing)\s+(?:\w+\s+)?$", _I)
_EXCEPTION_BEFORE = re_compile(r"\b(?:except|excluding|other\s+than|unless|with\s+the\s+exception"
                               r"\s+of|apart\s+from)\b[^.;]*$", _I)
_AVAILABILITY = re_compile(r"^[^.;]{0,25}?\b(?:available|exists?|anticipated|options?|indicated|"
                           r"appropriate|curative|known\s+to|likely\s+to)\b", _I)
_NEED_BEFORE = re_compile(r"\b(?:requir\w*|need\w*|dependen\w*\s+on)\s+(?:\w+\s+)?$", _I)
# "patients who need to use anticoagulants, which may affect ... the use of LHRH agonists":
# what they need now, not what they had.
_NEED_TO_USE_BEFORE = re_compile(r"\b(?:need|needs|require|requires)\s+to\s+(?:use|take|"
                                 r"receive|continue)\b[^.;]*$", _I)
# A treatment the patient is fit for, to get, or that is (not) indicated: a plan, not history
# ("Must be fit for anthracycline/taxane chemotherapy", "ineligible for endocrine therapy",
# "cytotoxic chemotherapy is not indicated", "not considered curable by surgery").
_PLAN_BEFORE = re_compile(
    r"\b(?:(?:in|un)?eligible|(?:un)?fit|(?:un)?suitable|candidates?|curable|"
    r"recommended\s+to\s+be\s+treated|planned|scheduled|"
    # "NSCLC that cannot be operated on or treated with radiotherapy": not a candidate
    r"(?:cannot|can\s*not|could\s+not|unable\s+to)\s+(?:be\s+)?(?:[\w-]+\s+){0,3}?"
    r"(?:treated|managed|cured))\s+(?:for|by|with|to\s+receive|to\s+"
    r"undergo)\s+(?:(?:treatment|therapy)\s+with\s+)?(?:an?\s+|the\s+)?(?:[\w/+-]+\s+){0,3}"
    r"(?:[\w-]+\s*/\s*)?$", _I)
# "A decision has been made to administer ... chemotherapy that includes one of the following
# agents: anthracycline, taxane ...", "intends to receive", "about to start": the treatment
# to come, named anywhere after in the sentence.
# A therapy a lesion had ("A bone lesion that has been treated by radiation is excluded from
# the lesions counted", "Target lesions previously treated with radiotherapy"): it says which
# lesions count, not what the patient must (not) have had.
_LESION_TREATED_BEFORE = re_compile(
    r"\b(?:lesions?|metastas[ie]s|sites?|tumou?rs?)\s+(?:(?:that|which)\s+)?(?:(?:has|have)\s+)?"
    r"(?:been\s+)?(?:previously\s+|already\s+)?(?:treated|irradiated)\s+(?:by|with)\s+"
    r"(?:\w+\s+){0,2}$", _I)
_DECIDED_BEFORE = re_compile(
    r"\b(?:decision\s+(?:has\s+been|was|is)\s+made|decided|intends?|intending|intention|"
    r"about|due|going|expected)\s+to\s+(?:administer|give|start|begin|initiate|receive|"
    r"undergo|be\s+(?:treated|given|started)|treat)\b[^.;]*$", _I)
_PLAN_AFTER = re_compile(r"\s*(?:is|are)\s+(?:not\s+)?(?:indicated|recommended|planned|"
                         r"contraindicated|appropriate)\b", _I)
_UNTREATED_WITH = re_compile(
    r"\b(?:untreated|not\s+(?:been\s+)?(?:previously\s+)?treated)\s+with\s+(?:\w+\s+){0,2}$", _I)
# "are not eligible", "is not allowed": in an exclusion criterion these restate the exclusion
# ("Patients are not eligible who have received prior X" states that X was received).
_EXCLUSION_WORDING = re_compile(r"\b(?:not\s+(?:be\s+)?eligible|ineligible|not\s+(?:be\s+)?allowed|"
                                r"not\s+(?:be\s+)?permitted|excluded|"
                                # "Patients must not require chronic treatment with steroids"
                                r"(?:must|should|may)\s+not(?=\s+(?:have|require|need|be\s+"
                                r"receiving|receive|be\s+on|take)\b))\b", _I)
# "TKI-naive", "Tyrosine Kinase Inhibitor (TKI) treatment naive": never had that therapy.
_LIST_JOIN = re_compile(r"\s*,?\s*(?:(?:or|and|and/or|nor)\s+)?(?:(?:any|other|prior)\s+)?|"
                        # "No prior immunotherapy, including but not limited to anti-PD-1"
                        r"\s*[,:(]?\s*(?:including(?:\s+but\s+not\s+limited\s+to)?|such\s+as|"
                        r"e\.\s?g\.,?)\s*:?\s*", _I)
_TARGET_BEFORE = re_compile(r"\b[A-Za-z][A-Za-z0-9/]*\d[A-Za-z0-9/]*-$|\b[A-Z][A-Z0-9/]+-$")
_NAIVE_AFTER = re_compile(r"^(?:\s*\([^()]{1,15}\))?[\s-]*(?:(?:(?:treatment|therapy)[\s-]+)?"
                          r"na[iï]ve|free(?![\s-]+interval))\b", _I)
_EXPERIENCED_AFTER = re_compile(r"^[\s-]*(?:refractory|resistant|pre-?treated|experienced|"
                                r"exposed|intolerant|failure|containing|based)\b", _I)
_CNS_CLAUSE = re_compile(r"brain|cns|central\s+nervous|leptomening", _I)
# An event that happened on a therapy ("LVEF drop to < 40% on prior HER2-directed therapy",
# "grade >= 2 toxicity from prior chemotherapy"): the therapy dates the event, and the
# criterion is about the event, not about the treatment history.
_EVENT_ON = re_compile(
    r"\b(?:drop|decline|decrease|reduction|fall|events?|reactions?|toxicit(?:y|ies)|"
    r"dysfunction|cardiomyopathy|cardiotoxicity|myocarditis|pneumonitis|colitis|hepatitis|"
    r"nephritis|neuropathy|ILD)\b[^.;()]{0,40}?\b(?:on|during|while\s+(?:on|receiving)|with|"
    r"after|following|from|due\s+to|related\s+to|caused\s+by|secondary\s+to|attributed\s+to|"
    r"associated\s+with|induced\s+by)\s+(?:[\w-]+\s+){0,3}$", _I)
# Words that make a class narrower than the lexicon can check ("any investigational
# fourth-generation ALK inhibitor", "a next-generation TRK inhibitor"): a patient who had the
# class may not have had this kind of it.
_NARROWING_BEFORE = re_compile(
    r"\b(?:investigational|experimental|novel|next[\s-]generation|"
    r"(?:second|third|fourth|fifth|2nd|3rd|4th|5th)[\s-]generation|[\w-]*selective|"
    # "KRAS G12D targeted therapy": therapy aimed at one variant
    r"[a-z]\d{1,4}[a-z])"
    r"[\s(-]+(?:[\w-]+[\s(-]+)?$", _I)
def _narrowed(text: str, mention: DrugMention, sentence_start: int) -> bool:
    """Do words before a class mention (or before the name its acronym stands for) make it
    narrower than the lexicon can check (see `_NARROWING_BEFORE`)?"""
    start = _spelled_out_start(text, mention)
    return bool(_NARROWING_BEFORE.search(text[max(sentence_start, start - 60):start]))


def _spelled_out_start(text: str, mention: DrugMention) -> int:
    """Where the words a class mention stands for begin: its own start, or for an acronym in
    brackets after the spelled-out name ("tyrosine kinase inhibitor (TKI)") the start of that
    name, so that what narrows the name narrows the acronym too."""
    if not text[max(0, mention.start - 3):mention.start].rstrip().endswith("("):
        return mention.start
    left = max(0, mention.start - 60)
    named = [m for m in find_drug_classes(text[left:mention.start]) if m.key == mention.key
             and not text[left + m.end:mention.start].strip(" (")]
    return left + named[-1].start if named else mention.start


# Cues that speak of the course of the disease on a therapy, not just of having had it.
_COURSE_CUE = re_compile(r"^(?:progress\w*|relaps\w*|refractory|resistant|failed|failure|"
                         r"recurrence|intoleran\w*|sensitive|response\s+to|respond\w*)$", _I)
_OPTIONAL_BEFORE = re_compile(r"\bwith\s+or\s+without\s+(?:[\w-]+\s+){0,2}$", _I)
_EXAMPLE_CONNECTOR = re_compile(r"\b(?:e\.g\.?|i\.e\.?|such\s+as|including|like|namely)\W*$",
                                _I)
_ONE_OF = re_compile(r"\b(?:(?:at\s+least\s+)?one\s+of|any\s+of|either)\b", _I)
_OR_CONNECTOR = re_compile(r"\bor\b|/|\beither\b", _I)
_AND_CONNECTOR = re_compile(r"\band\b|\bplus\b|\bas\s+well\s+as\b|\bfollowed\s+by\b|"
                            r"\bthen\b|\bboth\b", _I)

_GENERIC_THERAPY = re_compile(
    r"\b(?:(?:prior\s+|previous\s+)?(?:systemic|anti-?cancer|anti-?neoplastic|anti-?tumou?r|"
    r"cancer[- ]directed|disease[- ]directed|cytotoxic|standard)\s+(?:drug\s+)?(?:therapy|"
    r"therapies|treatments?|agents?|regimens?)|lines?\s+of\s+(?:systemic\s+)?(?:therapy|treatment))"
    r"\b",
    _I)
_NAIVE_STATE = re_compile(
    r"\b(?:treatment|therapy|systemic(?:\s+therapy)?)[\s-]+na[iï]ve\b|"
    r"\bpreviously\s+untreated\b(?!\s+with)|"
    r"\buntreated\s+(?!with\b)(?:\w+\s+){0,3}?(?:cancer|carcinoma|disease|nsclc|\w+oma)\b|"
    r"\bno\s+(?:prior|previous)\s+(?:systemic\s+|anti-?cancer\s+|anti-?neoplastic\s+|"
    r"palliative\s+)?(?:therapy|treatment|(?:systemic\s+)?chemotherapy\s+or\s+immunotherapy)\b"
    # not "No prior treatment with an investigational PI3K inhibitor" (one class)
    r"(?!\s+(?:with|by|using)\b)|"
    r"\b(?:have|has)\s+not\s+(?:been\s+)?(?:previously\s+)?(?:received|treated)\s+(?:any\s+)?"
    r"(?:prior\s+)?(?:systemic|anti-?cancer)\b|\bnot\s+(?:been\s+)?previously\s+treated\b",
    _I)
_NOT_A_LINE = r"(?!(?:cycles?|courses?|doses?|weeks?|months?|days?|years?|fractions?|gy)\b)"
# ... and for an upper bound, not a count of one class's treatments ("no more than 1 prior CPI
# treatment", "up to 2 prior TKI therapies"): the lines of all therapy may be more. (A lower
# bound on one class's regimens is one on lines too: each was a line.)
_NOT_A_LINE_MAX = (r"(?!(?:cycles?|courses?|doses?|weeks?|months?|days?|years?|fractions?|gy|"
                   r"cpis?|icis?|checkpoint|immunotherap\w*|immune|anti-?pd-?l?1|pd-?l?1|"
                   r"anti-?ctla-?4|tkis?|targeted|hormonal|endocrine|anti-?hormonal|cdk\s?4/6|"
                   r"parp|egfr|alk|her2|anti-?her2|bispecific\w*|car-?t|antibod\w*|adcs?)\b)")
_LINE_NOUN = (r"(?:prior\s+|previous\s+|systemic\s+|standard\s+|lines?\s+of\s+|"
              r"(?:anti-?cancer|chemotherapy|cytotoxic|platinum[- ]based|treatment)\s+)*"
              # (not "pre-therapy", "post-treatment": a time, "score of < 17 pre-therapy")
              r"(?<!pre-)(?<!post-)(?:lines?|regimens?|therap(?:y|ies)|treatments?|"
              r"chemotherap(?:y|ies)|systemic\s+(?:therapy|therapies|treatments?))")
_LINES_BETWEEN = re_compile(
    rf"(?:\b(?:between\s+)?|(?:≥|>=|\bat\s+least)\s*)(?P<a>{NUMBER})\s*(?:-|–|to|and|or|"
    # "≥ 1, but no more than 3 regimens", "at least 2 and up to 4 lines"
    rf",?\s*(?:but|and)\s+(?:no\s+more\s+than|not\s+more\s+than|up\s+to|at\s+most|≤|<=))"
    rf"\s*(?P<b>{NUMBER})\s+(?:{_NOT_A_LINE}\w+\s+){{0,2}}?"
    rf"{_LINE_NOUN}", _I)
_LINES_MIN = re_compile(
    rf"(?:\bat\s+least|≥|>=|\bminimum\s+of|(?P<gt>>|(?<!no\s)(?<!not\s)\bmore\s+than|"
    rf"(?<!no\s)(?<!not\s)\bgreater\s+than|\bover))\s*"
    rf"(?P<n>{NUMBER})\s+(?:{_NOT_A_LINE}\w+[\s-]+){{0,3}}?{_LINE_NOUN}|"
    rf"\b(?P<n2>{NUMBER})\s+or\s+more\s+(?:{_NOT_A_LINE}\w+[\s-]+){{0,3}}?{_LINE_NOUN}", _I)
_LINES_MAX = re_compile(
    rf"(?:\bno\s+more\s+than|\bnot\s+more\s+than|\bup\s+to|\bmaximum\s+of|\bat\s+most|≤|<=|"
    rf"(?P<lt><|\bfewer\s+than|\bless\s+than))\s*(?P<n>{NUMBER})\s+(?:{_NOT_A_LINE_MAX}\w+[\s-]+)"
    rf"{{0,3}}?{_LINE_NOUN}|\b(?P<n2>{NUMBER})\s+or\s+(?:fewer|less)\s+(?:{_NOT_A_LINE_MAX}\w+[\s-]+)"
    rf"{{0,3}}?{_LINE_NOUN}",
    _I)
_LINES_MAX_AFTER = re_compile(
    rf"\b{_LINE_NOUN}\s+(?:\w+\s+){{0,4}}?(?:(?:does|should|must|shall|may)\s+not\s+exceed|"
    rf"not\s+(?:to\s+)?exceed(?:ing)?|(?P<lt><)|≤|<=)\s*(?P<n>{NUMBER})\b", _I)
_LINES_EXACT = re_compile(
    rf"\b(?P<only>only|exactly)\s+(?P<n>{NUMBER})\s+(?:{_NOT_A_LINE}\w+[\s-]+){{0,3}}?{_LINE_NOUN}|"
    rf"\b(?:received|had|after|following|progressed\s+(?:on|after))\s+(?P<n2>one|two|three|1|2|3)"
    rf"\s+(?:prior\s+|previous\s+)(?:\w+[\s-]+){{0,2}}?(?:lines?|regimens?)\b",
    _I)


# "grade >= 2 toxicity from prior chemotherapy" counts a toxicity grade, not lines.
_GRADE_BEFORE = re_compile(r"\b(?:grade|ctcae|g)\s*\(?$", _I)


def _number(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = to_number(value)
    except ValueError:
        return None
    return int(number) if number.is_integer() and 0 <= number <= 20 else None


_LINES_GATE = re_compile(
    r"(?:\d|\b(?:one|two|three|four|five|single|first|second|third))\W+(?:\w+\W+){0,4}?"
    r"(?:lines?|regimens?|therap|treatment|chemotherap)|"
    r"(?:lines?|regimens?)\W+(?:\w+\W+){0,6}?(?:\d|one|two|three|four|five)\b", _I)
_NAIVE_GATE = re_compile(r"na[iï]ve|untreated|\bno\s+(?:prior|previous)|\bnot\s+(?:been\s+)?"
                         r"(?:previously\s+)?(?:received|treated)", _I)


# Folded (see `Folded`): the groups read below are numbers and markers, the same in lower case.
_LINES_GATE_F = Folded(_LINES_GATE, ("line", "regimen", "therap", "treatment"))
_NAIVE_GATE_F = Folded(_NAIVE_GATE, ("naive", "naïve", "prior", "previous", "received",
                                     "treated"))
_NAIVE_STATE_F = Folded(_NAIVE_STATE)
_CNS_CLAUSE_F = Folded(_CNS_CLAUSE)
_LINES_BETWEEN_F = Folded(_LINES_BETWEEN)
_LINES_MIN_F = Folded(_LINES_MIN, ("least", "≥", ">", "minimum", "more", "greater", "over"))
_LINES_MAX_F = Folded(_LINES_MAX, ("more", "up", "maximum", "most", "≤", "<", "fewer", "less"))
_LINES_MAX_AFTER_F = Folded(_LINES_MAX_AFTER, ("exceed", "<", "≤"))
_LINES_EXACT_F = Folded(_LINES_EXACT)
_GRADE_BEFORE_F = Folded(_GRADE_BEFORE)
_LINE_WORDS = ("line", "regimen", "therap", "treat", "naive", "naïve", "prior", "previous")


def _naive_to_a_therapy(text: str, start: int) -> bool:
    """Is the "treatment naive" at `start` naive to a therapy named just before it ("TKI
    treatment naive", "immunotherapy treatment-naive")? That is no bound on lines."""
    before = text[max(0, start - 40):start]
    named = _find_drug_classes(before) + _find_drugs(before)
    return any(_NAIVE_AFTER.match(before[m.end:] + text[start:start + 20]) for m in named)


# An amount of a therapy: "greater than 6 cycles of prior treatment with cisplatin".
_COUNT_OF_BEFORE = re_compile(
    r"(?:\b(?:greater|more)\s+than|[>≥]|\bat\s+least|\bexceeding)\s*\d+\s+(?:cycles?|doses?|"
    r"courses?|infusions?)\s+of\s+(?:[\w/-]+,?\s+){0,6}$", _I)
# "There is no limit to the number of prior lines", "any number of prior therapies".
_NO_LIMIT = re_compile(r"\bno\s+(?:upper\s+)?(?:limit|restriction|maximum|cap)\b|\bunlimited\b|"
                       r"\bany\s+number\s+of\b|\bregardless\s+of\s+(?:the\s+)?number\b", _I)
_NO_LIMIT_F = Folded(_NO_LIMIT, ("limit", "restriction", "maximum", "cap", "number"))


def _blank_no_limit(text: str) -> str:
    """The text with each sentence or aside that says the number of lines is free blanked
    out (same length, so spans still index the text): "There is no limit to the number of
    prior cytotoxic regimens" bounds nothing, and "(no limit on prior hormonal therapies)"
    leaves the bound on chemotherapy regimens before it."""
    if not _NO_LIMIT_F.search(text):
        return text
    def blank(match: re.Match[str]) -> str:
        return " " * len(match.group(0)) if _NO_LIMIT.search(match.group(0)) else match.group(0)
    text = re.sub(r"\([^()]*\)?", blank, text)
    return re.sub(r"[^.;]+[.;]?", blank, text)


# A line the disease has already been through, named by its number: "progression after
# standard second-line therapy", "refractory to second-line and above standard treatment",
# "failed first-line chemotherapy" (at least that many lines; "beyond the second line" one
# more). Lines counted for advanced disease (ESMO/ASCO).
_ORDINAL_HISTORY = re.compile(
    r"\b(?P<cue>after|following|post|beyond|(?:refractory|resistant|intolerant)\s+to|"
    r"fail(?:ed|ure\s+(?:of|on))|progress\w*\s+(?:on|after|following|during|with)|"
    r"relapsed\s+(?:after|on|following))\s+(?:(?:at\s+least|the|a|an|standard|prior|"
    r"previous|any|their|its)\s+){0,3}(?P<n>first|1st|second|2nd|third|3rd|fourth|4th)"
    r"[\s-]+line\b", _I)
_ORDINAL = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
            "4th": 4}


# Treatment to come, not a count of past lines.
_FUTURE_TREATMENT = re_compile(
    r"\bwill\s+(?:be\s+)?(?:receiv|given|treated|start)\w*|\b(?:since|after|following)\s+"
    r"(?:the\s+)?(?:trial\s+|study\s+)?(?:enrol+ment|registration|randomi[sz]ation)|"
    r"\brequires?\s+no\s+further\b|\b(?:planned|scheduled|due)\s+to\s+(?:receive|start)\b", _I)


def _find_lines(text: str) -> list[Requirement]:
    """Bounds on the number of prior lines ("at least one prior regimen", "≤ 2 prior lines",
    "treatment-naive", "progression after second-line therapy"); none where the text says
    there is no limit."""
    text = _blank_no_limit(text)
    lower = text.lower()
    if not any(map(lower.__contains__, _LINE_WORDS)):
        return []
    ordinal = _ORDINAL_HISTORY.search(text) if "line" in lower else None
    if ordinal is not None:
        n = _ORDINAL[ordinal.group("n").lower()]
        n += ordinal.group("cue").lower() == "beyond"
        return [requirement("prior_lines", {"min": n, "max": None}, text, ordinal.start(),
                            ordinal.end())]
    if not _LINES_GATE_F.search(text):
        naive = _NAIVE_STATE_F.search(text) if _NAIVE_GATE_F.search(text) else None
        if naive and not _CNS_CLAUSE_F.search(text[slice(*clause_bounds(text, naive.start(),
                                                                        naive.end()))]) \
                and not _naive_to_a_therapy(text, naive.start()):
            return [requirement("prior_lines", {"min": None, "max": 0}, text, naive.start(),
                                naive.end())]
        return _treated_for_advanced(text)
    for match in _LINES_BETWEEN_F.finditer(text):
        low, high = _number(match.group("a")), _number(match.group("b"))
        if low is not None and high is not None and low < high:
            return [requirement("prior_lines", {"min": low, "max": high}, text, match.start(),
                                match.end())]
    low_match = next((m for m in _LINES_MIN_F.finditer(text)
                      if _number(m.group("n") or m.group("n2")) is not None
                      and not _GRADE_BEFORE_F.search(text[max(0, m.start() - 12):m.start()])),
                     None)
    high_match = next((m for m in _LINES_MAX_F.finditer(text)
                       if _number(m.group("n") or m.group("n2")) is not None), None) or next(
        (m for m in _LINES_MAX_AFTER_F.finditer(text) if _number(m.group("n")) is not None), None)
    low = high = None
    spans = []
    if low_match:
        low = _number(low_match.group("n") or low_match.group("n2"))
        low = low + 1 if low_match.group("gt") else low
        spans.append((low_match.start(), low_match.end()))
    if high_match:
        high = _number(high_match.group("n") or high_match.groupdict().get("n2"))
        high = high - 1 if high_match.group("lt") else high
        spans.append((high_match.start(), high_match.end()))
    if not spans:
        exact = _LINES_EXACT_F.search(text)
        if exact:
            n = _number(exact.group("n") or exact.group("n2"))
            if n is not None:
                bound = {"min": n, "max": n if exact.group("only") else None}
                return [requirement("prior_lines", bound, text, exact.start(), exact.end())]
        naive = _NAIVE_STATE_F.search(text)
        if naive and not _CNS_CLAUSE_F.search(text[slice(*clause_bounds(text, naive.start(),
                                                                        naive.end()))]) \
                and not _naive_to_a_therapy(text, naive.start()):
            return [requirement("prior_lines", {"min": None, "max": 0}, text, naive.start(),
                                naive.end())]
        return _treated_for_advanced(text)
    if low is not None and high is not None and low > high:
        return []
    return [requirement("prior_lines", {"min": low, "max": high}, text,
                        min(s for s, _ in spans), max(e for _, e in spans))]


# Treatment of any kind given for advanced disease: "Received treatment for advanced
# disease", "with no treatment for advanced or metastatic disease", "must not have received
# any systemic therapy in the metastatic setting". One line or more, or none (the setting
# itself makes the count one of advanced disease: see requirements._for_advanced_disease).
_TREATED_FOR_ADVANCED = re_compile(
    r"(?P<no>\bno\s+(?:prior\s+|previous\s+)?|\bnot\s+(?:have\s+|had\s+)?(?:been\s+)?"
    r"(?:received?|had|been\s+treated\s+with)\s+(?:any\s+)?(?:prior\s+)?|\bwithout\s+(?:any\s+)?"
    r"(?:prior\s+)?)?(?:\b(?:received|prior|previous|previously\s+received|had)\s+(?:any\s+)?)?"
    r"(?:systemic\s+|anti-?cancer\s+|anti-?neoplastic\s+|palliative\s+)?(?:treatments?|"
    r"therap(?:y|ies))\s+(?:for|in)\s+(?:the\s+)?(?:(?:locally|loco-?regionally)\s+)?"
    r"(?:advanced|metastatic|recurrent|unresectable|incurable)\b", _I)
# ... not where it only conditions or dates something ("for patients who did not receive prior
# therapy for ...", "recovered from prior systemic therapy for metastatic disease"), nor
# where an alternative follows ("who have not had previous treatment for metastatic disease or
# who received gemcitabine").
_TREATED_NOT_DEMANDED = re_compile(r"\b(?:(?:for|in)\s+(?:patients|participants|subjects|those)\s+"
                                   r"(?:who|with)|if|when|unless|recovered\s+from|toxicit\w*\s+"
                                   r"(?:of|from))\b[^.;]*$", _I)
_OR_WHO_AFTER = re_compile(r"[\w\s/,-]{0,40}?\bor\s+(?:who|have|has|had|received|if)\b", _I)
_RECEIPT_WORD = re_compile(r"(?:received|prior|previous|had)\b", _I)
_TREATED_GATE = re_compile(r"\b(?:treatments?|therap(?:y|ies))\s+(?:for|in)\s", _I)


def _treated_for_advanced(text: str) -> list[Requirement]:
    """A bound on lines from treatment of any kind named for advanced disease (see
    `_TREATED_FOR_ADVANCED`): received, one or more; denied, none. Only where the words
    before say it was received or denied ("systemic therapy for metastatic disease" alone
    may be the study's own)."""
    if not _TREATED_GATE.search(text):
        return []
    found = _TREATED_FOR_ADVANCED.search(text)
    if found is None or _TREATED_NOT_DEMANDED.search(text[max(0, found.start() - 45):
                                                          found.start()]) or \
            _OR_WHO_AFTER.match(text, found.end()):
        return []
    denied = bool(found.group("no"))
    if not denied and not _RECEIPT_WORD.match(found.group(0)):
        return []
    bound = {"min": None, "max": 0} if denied else {"min": 1, "max": None}
    bound["except"] = {"drugs": [], "classes": [], "adjuvant": True}
    return [requirement("prior_lines", bound, text, found.start(), found.end())]


# A count of one kind of line: "up to 2 lines of chemotherapy", "more than one previous line(s)
# of chemotherapy", "2 prior chemotherapy regimens", "lines of endocrine therapy".
_CLASS_WORD = r"(?:cytotoxic\s+chemotherap\w*|chemotherap\w*|cytotoxic|endocrine|hormonal)"
# ... named after the count's words ("line(s) of chemotherapy") or inside them ("lines of
# cytotoxic chemotherapy", "2 prior chemotherapy regimens").
_LINE_CLASS_AFTER = re_compile(
    r"(?:\(s\))?\s*(?:of\s+)?(?:(?:prior|previous|systemic|palliative|standard|non-hormonal|"
    rf"\w+-based)\s+)*(?P<cls>{_CLASS_WORD})\b", _I)
_LINE_CLASS_INSIDE = re_compile(
    rf"(?:lines?|regimens?)\s+of\s+(?:\w+\s+){{0,2}}?(?P<a>{_CLASS_WORD})\b|"
    rf"(?P<b>{_CLASS_WORD})(?:[\s-]+(?:based|containing|inclusive|therapy|treatment))?\s+"
    r"(?:lines?|regimens?|treatments?|therapies)\b", _I)
_LINE_CLASSES = {"chemo": "chemotherapy", "cytot": "chemotherapy", "endoc": "endocrine therapy",
                 "hormo": "endocrine therapy"}


def _of_one_class(text: str, line: Requirement) -> Requirement:
    """A bound on lines that counts one class of therapy only ("no more than 2 prior lines of
    chemotherapy" leaves endocrine lines uncounted): the class, in `classes`."""
    if line.params.get("beyond_standard") or line.params.get("classes"):
        return line
    after = _LINE_CLASS_AFTER.match(text, line.end)
    inside = _LINE_CLASS_INSIDE.search(text[line.start:line.end + 25])
    word = after.group("cls") if after else \
        (inside.group("a") or inside.group("b")) if inside else None
    if word is None:
        return line
    return replace(line, params={**line.params, "classes": [_LINE_CLASSES[word[:5].lower()]]})


def _negated_therapy(text: str, mention: DrugMention, criterion_kind: str = "inclusion") -> bool:
    """"No prior X", "not received X", "X-naive", "X ... has not been given": the patient
    must not have had X."""
    if _NAIVE_AFTER.match(text[mention.end:mention.end + 40]) or \
            _NOT_GIVEN_AFTER.match(text, mention.end):
        return True
    opening = text.rfind("(", 0, mention.start)
    if opening > text.rfind(")", 0, mention.start):
        # "No prior systemic therapy (including chemotherapy, anti-PD-1 antibodies, ...)":
        # a list in parentheses shares the negation of the words before it.
        mention = DrugMention(mention.key, opening, opening, "")
    if _UNTREATED_WITH.search(text[max(0, mention.start - 40):mention.start]):
        return True
    left, _ = clause_bounds(text, mention.start, mention.end)
    before = text[max(left, mention.start - 80):mention.start]
    before = _NO_MORE_THAN.sub(" ", before)
    if "limited" in before or "required" in before or "applicable" in before:
        # "including but not limited to anti-CTLA-4 antibody": no negation
        before = NOT_NEGATION.sub(lambda m: " " * len(m.group()), before)
    if criterion_kind == "exclusion":
        before = _EXCLUSION_WORDING.sub(" ", before)
    cues = list(folded_cues().negation.finditer(before))
    return bool(cues) and not _OTHER_VERB.search(before[cues[-1].end():])


# "Previous systemic cytotoxic chemotherapy for metastatic disease has not been performed".
_NOT_GIVEN_AFTER = re_compile(r"[^.;()]{0,80}?\b(?:has|have|had)\s+not\s+been\s+(?:performed|given|"
                              r"administered|received|used)\b", _I)
_NO_MORE_THAN = re_compile(r"\b(?:no|not)\s+(?:more|less|greater|fewer|later)\s+than\b", _I)


def _has_prior_cue(text: str, mention: DrugMention) -> bool:
    if _EXPERIENCED_AFTER.match(text[mention.end:mention.end + 16]) or \
            _NAIVE_AFTER.match(text[mention.end:mention.end + 40]):
        return True
    # The cue may sit in a lead-in line above the sub-bullet ("Prior therapy:\n* docetaxel").
    sentence_start = max(text.rfind(". ", 0, mention.start), text.rfind(";", 0, mention.start))
    before = text[max(sentence_start + 1, mention.start - 120):mention.start]
    after = text[mention.end:mention.end + 40]
    return bool(_PRIOR_CUE_F.search(before) or _RECEIVED_AFTER.match(after))


_RECEIVED_AFTER = Folded(re_compile(
    r"^[^.;]{0,30}?\b(?:therapy|treatment|regimen)?\s*(?:was|were|has\s+been|have\s+been)?\s*"
    r"(?:received|given|administered|failed|(?<!not\s)(?:carried\s+out|performed|undergone))\b",
    _I))




_GATE_NGRAM = 5  # longest drug/class spelling, in words ("stereotactic body radiation therapy")


@lru_cache(maxsize=1)
def _drug_spellings() -> frozenset[str]:
    """Every drug and class spelling with only its letters and digits, to skip the lexicon's
    regular expressions on criteria that name no drug (most of them)."""
    lexicon = get_lexicon()
    return frozenset(re.sub(r"[\W_]+", "", name) for name in
                     list(lexicon.drug_by_name) + list(lexicon.class_by_name))


@lru_cache(maxsize=1)
def _spelling_prefixes() -> frozenset[str]:
    """Every prefix of every spelling: a run of words whose letters are no such prefix cannot
    grow into a spelling, so the search from that word stops at once."""
    return frozenset(s[:k] for s in _drug_spellings() for k in range(1, len(s) + 1))


def _may_name_drug(text: str) -> bool:
    """Do some consecutive words (at most `_GATE_NGRAM`), run together, spell a drug or class?"""
    spellings = _drug_spellings()
    prefixes = _spelling_prefixes()
    words = words_of(text.lower())
    if not spellings.isdisjoint(words):
        return True  # a one-word spelling ("docetaxel"), the usual case
    # Runs of words can only start at a word that begins some spelling (few do).
    for i in [i for i, word in enumerate(words) if word in prefixes]:
        joined = words[i]
        for word in words[i + 1:i + _GATE_NGRAM]:
            joined += word
            if joined in spellings:
                return True
            if joined not in prefixes:
                break
    return False


@lru_cache(maxsize=1)
def _fast_patterns() -> tuple[tuple[Folded | None, re.Pattern[str] | None], ...] | None:
    """The lexicon's drug and class tries, the case-insensitive one folded (see `Folded`);
    None when a trie cannot be folded (then drugs.py's own finders run)."""
    lexicon = get_lexicon()
    try:
        return tuple((Folded(tp.folded) if tp.folded is not None else None, tp.exact)
                     for tp in (lexicon.drug_pattern, lexicon.class_pattern))
    except (AttributeError, ValueError):
        return None


def _term_hits(folded: Folded | None, exact: re.Pattern[str] | None,
               text: str) -> list[tuple[int, int, str]]:
    """`drugs.TermPattern.find` with the folded trie: the same non-overlapping hits, the
    longest winning, their words taken from `text` itself."""
    hits = [(m.start(), m.end(), text[m.start():m.end()])
            for pattern in (folded, exact) if pattern is not None
            for m in pattern.finditer(text)]
    hits.sort(key=lambda hit: (hit[0], hit[0] - hit[1]))
    kept: list[tuple[int, int, str]] = []
    for hit in hits:
        if kept and hit[0] < kept[-1][1]:
            continue
        kept.append(hit)
    return kept


def _find_drugs(text: str) -> list[DrugMention]:
    """`drugs.find_drugs`, faster (same result; tests/test_requirements.py compares them)."""
    patterns = _fast_patterns()
    if patterns is None:
        return find_drugs(text)
    return drug_mentions(_term_hits(*patterns[0], text))


def _find_drug_classes(text: str) -> list[DrugMention]:
    """`drugs.find_drug_classes`, faster (same result)."""
    patterns = _fast_patterns()
    if patterns is None:
        return find_drug_classes(text)
    return class_mentions(_term_hits(*patterns[1], text))


def names_therapy(text: str) -> bool:
    """Does the text name a drug or a drug class of the lexicon?"""
    return _may_name_drug(text) and bool(_find_drug_classes(text) or _find_drugs(text))


# An exclusion about treatment during the study, not before it: "Concurrent receipt of any
# other anti-cancer therapy", "Any concurrent chemotherapy", "Concomitant use of ..." (not
# "Any prior or concurrent ...", which asks about the history too).
_CONCURRENT_ONLY = re_compile(
    r"\W*(?:(?:any|other|the)\s+){0,2}(?:concurrent|concomitant|simultaneous)\b"
    r"(?![^.;]{0,80}\b(?:prior|previous|previously|history)\b)", _I)


# "solid tumors ... that gemcitabine-based treatment is considered a clinically appropriate
# option", "for whom gemcitabine plus cisplatin would be appropriate": a regimen must suit the
# patient's cancer.
_REGIMEN_APPROPRIATE = re_compile(
    r"(?P<what>(?:[\w-]+\s+(?:plus|and|\+|with)\s+)?[\w-]+?)(?:[\s-]+(?:based|containing))?\s+"
    r"(?:treatment|therapy|chemotherapy|regimens?)\s+(?:is|are|would\s+be|may\s+be|is\s+deemed|"
    r"be)\s+(?:considered\s+)?(?:to\s+be\s+)?(?:an?\s+)?(?:clinically\s+|medically\s+)?"
    r"(?:appropriate|reasonable|suitable)\b", _I)


def find_regimen_option(text: str, criterion_kind: str) -> list[Requirement]:
    """A regimen that must suit the patient's cancer ("solid tumors for which gemcitabine plus
    cisplatin treatment is considered a clinically appropriate option"): `regimen_option`
    with the drugs named, all of which the regimen holds. Inclusions only."""
    if criterion_kind != "inclusion":
        return []
    out = []
    for match in _REGIMEN_APPROPRIATE.finditer(text):
        drugs = sorted({m.key for m in find_drugs(match.group("what"))})
        if drugs and not is_negated(text, match.start(), match.end(), window=30,
                                    look_after=False):
            out.append(Requirement("regimen_option", {"drugs": drugs}, match.group(0),
                                   match.start(), match.end()))
    return out


def find_prior_therapy(text: str, criterion_kind: str) -> list[Requirement]:
    """Prior therapy (drugs and classes received, or not) and prior lines of therapy.

    Washout rules ("no chemotherapy within 4 weeks"), allergies, concurrent use and study
    treatment are skipped: they are not facts about the patient's treatment history.
    """
    if criterion_kind == "exclusion" and _CONCURRENT_ONLY.match(text):
        return []  # "Concurrent receipt of any other anti-cancer therapy": during the study
    mentions = []
    class_spans: set[tuple[int, int]] = set()
    if _may_name_drug(text):
        classes = _find_drug_classes(text)
        class_spans = {(m.start, m.end) for m in classes}
        mentions = sorted(classes + _find_drugs(text), key=lambda m: (m.start, -m.end))
    kept: list[DrugMention] = []
    excepted: list[DrugMention] = []
    for mention in mentions:
        if kept and mention.start < kept[-1].end:
            continue
        kept.append(mention)
    if len(kept) > 1 and class_spans:
        kept = _drop_narrowed_classes(text, kept, class_spans)
    groups: dict[bool, list[tuple[DrugMention, bool]]] = {True: [], False: []}
    previous: tuple[DrugMention, bool] | None = None  # the last mention read, and received
    for index, mention in enumerate(kept):
        target = _TARGET_BEFORE.search(text[max(0, mention.start - 12):mention.start]) \
            if mention.key == "targeted therapy" else None
        if target:
            # "HER2-targeted agent" is the anti-HER2 class, "BCMA-targeted therapy" one kind the
            # lexicon lacks: neither is every targeted therapy.
            named = _find_drug_classes("anti-" + target.group().rstrip("-"))
            if not named:
                continue
            mention = DrugMention(named[0].key, mention.start - len(target.group()),
                                  mention.end, text[mention.start - len(target.group()):
                                                    mention.end])
            kept[index] = mention
            class_spans.add((mention.start, mention.end))
        if mention.key == "surgery" and _NOT_CANCER_SURGERY.search(
                text[max(0, mention.start - 40):mention.start]):
            continue  # "sentinel lymph node surgery", "minor surgery": not cancer surgery
        if mention.key == "surgery" and _TIME_ANCHOR_BEFORE.search(
                text[max(0, mention.start - 30):mention.start]):
            continue  # "chemotherapy prior to surgery": when, not what was given
        if mention.key in _TRANSPLANTS and (
                _AFTER_IT_BEFORE.search(text, max(0, mention.start - 30), mention.start) or
                _ALLOWED_ASIDE.match(text, mention.end) or _LABEL_ONLY.match(text) or
                (not text[:mention.start].strip() and _COLON_AFTER.match(text, mention.end))):
            # "immunosuppression post allogenic HSCT within one month" (the transplant dates
            # another treatment), "(prior autologous transplant allowed)", a heading
            # ("HEMATOPOIETIC STEM CELL TRANSPLANTATION:")
            continue
        left, right = clause_bounds(text, mention.start, mention.end)
        sentence_end = SENTENCE_END.search(text, mention.end)
        sentence = text[max(0, left):sentence_end.start() if sentence_end else len(text)]
        sentence_start = max(text.rfind(". ", 0, mention.start), text.rfind(";", 0, mention.start),
                             text.rfind("\n", 0, mention.start)) + 1
        if _NOT_HISTORY_F.search(text[sentence_start:right]) or (
                _sentence_washout(sentence) and not _operation_done(
                    text, mention, criterion_kind)):
            continue
        if criterion_kind == "exclusion" and _INTOLERANCE.search(text[sentence_start:right]):
            continue  # "history of dasatinib intolerance": an event on it, not its receipt
        exception = _EXCEPTION_BEFORE.search(text[sentence_start:mention.start])
        if exception and _exception_before(text, sentence_start, mention.start):
            # "other than EGFR-TKI", "except durvalumab": what the requirement leaves out.
            # (Mentions after an exception's closing parenthesis are skipped as before, but
            # are no exception: "(except for adjuvant chemotherapy), fulvestrant".)
            excepted.append(mention)
        if _PLAN_BEFORE.search(text[max(0, mention.start - 60):mention.start]) or \
                _PLAN_AFTER.match(text, mention.end) or _DECIDED_BEFORE.search(
                    text[max(0, mention.start - 200):mention.start]):
            continue  # "fit for taxane chemotherapy", "chemotherapy is not indicated": a plan
        if _DISEASE_AFTER.match(text[mention.end:mention.end + 20]) or _NEED_BEFORE.search(
                text[max(0, mention.start - 25):mention.start]) or _NEED_TO_USE_BEFORE.search(
                text[max(0, mention.start - 120):mention.start]) or _CONCURRENT_BEFORE.search(
                text[max(0, mention.start - 30):mention.start]) or exception:
            continue  # "radiation pneumonitis", "requiring steroids": not a treatment history
        if not _has_prior_cue(text, mention):
            continue
        if _LESION_TREATED_BEFORE.search(text[max(0, mention.start - 60):mention.start]):
            continue  # "a bone lesion that has been treated by radiation": which lesion counts
        if mention.key == "radiation" and _RADIATION_EXTENT_F.search(
                text[max(sentence_start, mention.start - 30):min(right, mention.end + 70)]):
            continue  # "radiotherapy to > 25% of bone marrow": how much, which notes rarely say
        if is_allowance(text, mention.start, mention.end, own_asides=True):
            continue
        if _side_mention(text, mention, sentence_start):
            continue
        if criterion_kind == "exclusion" and _COUNT_OF_BEFORE.search(
                text[max(sentence_start, mention.start - 70):mention.start]):
            continue  # "> 6 cycles of platinum": how much was given, which the notes rarely say
        is_class = (mention.start, mention.end) in class_spans
        if _EXAMPLES_OF_A_CONDITION.search(text, sentence_start, mention.start):
            # "No known GI disease or GI procedures ...; examples include, but are not
            # limited to partial gastrectomy": an example of a condition, no history demanded.
            continue
        received = not _negated_therapy(text, mention, criterion_kind)
        if not received and _REFRACTORY_AFTER.match(text, mention.end):
            # "must not have bortezomib refractory disease": the disease's response to the
            # drug is denied, not its receipt (a patient may have had it and responded).
            continue
        if received and previous is not None and not previous[1] and _LIST_JOIN.fullmatch(
                text[previous[0].end:mention.start]):
            # "No prior therapy, including chemotherapy, endocrine therapy, or targeted
            # therapy": an item of a list shares the negation of the items before it.
            received = False
        previous = (mention, received)
        if criterion_kind == "exclusion" and received and (
                _course_of_disease(text, mention, sentence_start) or (
                    is_class and _narrowed(text, mention, sentence_start))):
            # "Progression during platinum", "any investigational ALK inhibitor": having had
            # the therapy is necessary for the statement but does not make it true, so it
            # cannot exclude anyone (an inclusion keeps it: there it is a fair requirement).
            continue
        groups[received].append((mention, is_class))
    lines = []
    for line in (_of_one_class(text, found) for found in _find_lines(text)):
        if _FUTURE_TREATMENT.search(text[slice(*clause_bounds(text, line.start, line.end))]):
            continue  # "receive at least one systemic treatment within 12 weeks since
            # enrollment", "requires no further antineoplastic treatment": what is to come
        if not is_allowance(text, line.start, line.end):
            lines.append(line)
        elif criterion_kind == "inclusion" and line.params.get("min") is None \
                and line.params.get("max"):
            # "Up to 1 prior line of systemic treatment is permitted": a permission up to a
            # cap is the cap. (Under an exclusion header it is usually a note on another
            # statement: "Previous therapy ... Note: up to one line of endocrine therapy is
            # allowed".)
            lines.append(line)
    counted = _counted_span(text, lines[0]) if lines else None
    out: list[Requirement] = []
    for received, items in groups.items():
        if counted and received:
            items = [(m, c) for m, c in items if not counted[0] <= m.start < counted[1]]
        if not items:
            continue
        # An inclusion asking for "trastuzumab and a taxane" or "fluoropyrimidine, oxaliplatin
        # and irinotecan" needs each of them; "alectinib, brigatinib or lorlatinib" any one.
        conjuncts = _conjuncts(text, items) if received and criterion_kind == "inclusion" \
            else [items]
        for part in conjuncts:
            drugs = list(dict.fromkeys(m.key for m, is_class in part if not is_class))
            classes = list(dict.fromkeys(m.key for m, is_class in part if is_class))
            start = min(m.start for m, _ in part)
            end = max(m.end for m, _ in part)
            out.append(requirement("prior_therapy", {"received": received, "drugs": drugs,
                                                     "classes": classes}, text, start, end))
    if lines and not lines[0].params.get("min"):
        # "No more than 2 prior chemotherapy regimens", "a maximum of one line of
        # chemotherapy" count regimens; they do not demand (or forbid) chemotherapy.
        out = [r for r in out if not (lines[0].start <= r.start and r.end <= lines[0].end)
               and not (lines[0].end <= r.start and re.fullmatch(
                   r"\s*(?:of\s+)?(?:prior\s+|previous\s+|systemic\s+)*",
                   text[lines[0].end:r.start], _I))]
    if lines:
        left, right = clause_bounds(text, lines[0].start, lines[0].end)
        sentence = text[left:right]
        # "No prior therapy within 4 weeks" is a washout; "Relapse > 12 months from completion
        # of adjuvant therapy, with no treatment for advanced disease" is not: a window
        # before the count dates something else.
        if not (_is_washout(text[lines[0].start:right]) and lines[0].params.get("max") == 0):
            if criterion_kind == "exclusion" and lines[0].params == {"min": None, "max": 0} \
                    and _PRIOR.search(sentence):
                # "Prior systemic therapy for advanced RCC is not allowed", "must have had
                # no prior systemic therapy" under an exclusion header: what excludes is
                # having had it.
                lines = [replace(lines[0], params={"min": 1, "max": None})] + lines[1:]
            out += lines
    elif out and criterion_kind == "exclusion":
        # "Previous anti-cancer therapy or radiotherapy for any malignancy": the generic
        # therapy is one alternative of the list, excluding any treated patient too.
        first = min(r.start for r in out)
        for generic in _generic_prior(text, criterion_kind):
            if generic.end <= first and _LISTED_BEFORE.fullmatch(text, generic.end, first):
                # any therapy given, in any setting (not a count of lines for advanced
                # disease: neoadjuvant TCHP is previous anti-cancer therapy)
                out.append(replace(generic, kind="prior_therapy", params={
                    "received": True, "drugs": [], "classes": []}))
    elif not out:
        # "refractory to standard therapy or for which no standard regimen exists" names a
        # therapy too ("standard therapy"), but asks for disease beyond it: read that first,
        # or it counts as one line of anything, met by a first line just begun.
        if criterion_kind == "inclusion":
            out += _beyond_standard_therapy(text)
        if not out:
            out += _generic_prior(text, criterion_kind)
    if criterion_kind == "inclusion" and lines and lines[0].params.get("min") and \
            not any(r.params.get("beyond_standard") for r in out):
        # "... must have exhausted all effective therapies available locally. At a minimum,
        # ... at least 2 prior lines": the count is a floor, and the standard options must
        # be used up as well.
        left, right = clause_bounds(text, lines[0].start, lines[0].end)
        masked = text[:left] + " " * (right - left) + text[right:]  # the count's own words
        out += [r for r in _beyond_standard_therapy(masked) if r.params.get("exhausted")]
    out = _with_exceptions(out, text, excepted, class_spans)
    broad = _ANY_THERAPY_THEN_EXAMPLES.search(text) if any(
        r.kind == "prior_therapy" for r in out) else None
    if broad and all(r.start >= broad.end() for r in out if r.kind == "prior_therapy") and \
            not any(r.kind == "prior_lines" for r in out) and not any(
            set(r.params.get("classes") or ()) & _BROAD_CLASSES for r in out):
        # "any anticancer therapy including cytokine therapy such as interferon-alpha": the
        # drugs after "including" are examples of any therapy, which is what is asked (where
        # the examples are the broad classes themselves, "including chemotherapy,
        # radiotherapy, targeted or endocrine therapy", they already say it).
        out = [r for r in out if r.kind != "prior_therapy"] + [
            requirement("prior_lines", {"min": 1, "max": None}, text, broad.start(),
                        broad.end())]
    return sorted(out, key=lambda r: r.start)


_BROAD_CLASSES = frozenset({"chemotherapy", "targeted therapy", "immunotherapy",
                            "endocrine therapy", "radiation"})
_ANY_THERAPY_THEN_EXAMPLES = re_compile(
    r"\bany\s+(?:prior\s+|previous\s+|other\s+)?(?:systemic\s+)?(?:anti-?cancer|"
    r"anti-?neoplastic|anti-?tumou?r|cancer)\s+(?:therapy|therapies|treatments?|agents?|drugs?)"
    r"\s*,?\s*\(?\s*(?:including|such\s+as|e\.g\.|for\s+example)\b", _I)


_EXCEPT_CUE = Folded(re_compile(  # folded (see `Folded`): only its offsets are read
    r"\b(?:except(?:\s+for)?|excluding|other\s+than|with\s+the\s+exception\s+of|apart\s+from|"
    r"besides)\b", _I))


def _exception_before(text: str, start: int, position: int) -> re.Match[str] | None:
    """The exception cue ("except", "other than") whose reach covers `position`: to the end
    of the sentence, or of its parenthesis when the cue stands inside one ("chemotherapy
    (except for adjuvant chemotherapy), fulvestrant": fulvestrant is no exception)."""
    cue = _EXCEPTION_BEFORE.search(text[start:position])
    if cue is None or cue.group().lower().startswith("unless"):
        return None
    cue_at = start + cue.start()
    opened = text.rfind("(", start, cue_at)
    if opened != -1 and text.find(")", opened, cue_at) == -1 and \
            text.find(")", cue_at, position) != -1:
        return None
    return cue


def _with_exceptions(found: list[Requirement], text: str, excepted: list[DrugMention],
                     class_spans: set[tuple[int, int]]) -> list[Requirement]:
    """Therapy received, less what the criterion excepts: "systemic therapy other than
    EGFR-TKI", "checkpoint inhibitors other than durvalumab or pembrolizumab", "chemotherapy
    (except for neoadjuvant/adjuvant chemotherapy)". The exception goes into the
    requirement's `except` ({"drugs", "classes", "adjuvant"}); the patient's regimens it
    covers do not count for it."""
    if not found:
        return found  # nothing to except from (most criteria)
    cue = _EXCEPT_CUE.search(text)
    if cue is None:
        return found
    end = SENTENCE_END.search(text, cue.end())
    stop = end.start() if end else len(text)
    opened = text.rfind("(", 0, cue.start())
    if opened != -1 and text.find(")", opened, cue.start()) == -1:
        # an exception inside a parenthesis reaches to its close
        depth = 1
        for index in range(cue.end(), stop):
            depth += {"(": 1, ")": -1}.get(text[index], 0)
            if depth == 0:
                stop = index
                break
    span = text[cue.start():stop]
    drugs = sorted({m.key for m in excepted if (m.start, m.end) not in class_spans})
    classes = sorted({m.key for m in excepted if (m.start, m.end) in class_spans})
    adjuvant = bool(_PERIOPERATIVE.search(span))
    if not (drugs or classes or adjuvant):
        return found
    out = []
    for r in found:
        if r.start < cue.start() and ((r.kind == "prior_therapy" and r.params.get("received"))
                                      or (r.kind == "prior_lines" and r.params.get("min"))):
            # "chemotherapy (except adjuvant chemotherapy)": the setting is the exception,
            # the class named again with it is not.
            own = set(r.params.get("classes") or []) if adjuvant else set()
            kept = [c for c in classes if c not in own]
            if drugs or kept or adjuvant:
                r = replace(r, params={**r.params, "except": {
                    "drugs": drugs, "classes": kept, "adjuvant": adjuvant}})
        out.append(r)
    return out


def _counted_span(text: str, line: Requirement) -> tuple[int, int] | None:
    """Where a count of lines says what it includes: under a cap ("No more than three prior
    therapies ... including: 1) Immunotherapy 2) Chemotherapy", "No previous systemic
    treatment, including ... chemoradiotherapy") the therapies that count, never a demand to
    have had them; under a minimum only examples ("at least 1 prior line (including but not
    limited to targeted therapy)"), to the end of their parenthesis or clause, while "at
    least 2 prior lines, including fluoropyrimidine, oxaliplatin and irinotecan" demands
    each."""
    after_end = SENTENCE_END.search(text, line.end)
    stop = after_end.start() if after_end else len(text)
    capped = not line.params.get("min") and not re.search(
        r"\bat\s+least\b", text[max(0, line.start - 40):line.end], _I)
    examples = (_ANY_INCLUSION_F if capped else _EXAMPLES_F).search(text[line.end:stop])
    if not examples:
        return None
    cut = line.end + examples.start()
    if not capped:
        close = re.search(r"[);]", text[cut:stop])
        stop = cut + close.start() if close else stop
    return cut, stop


# The population of most early-phase trials: disease that outran standard care ("refractory
# to or relapsed after standard therapy", "for which no standard therapy exists", "has
# exhausted standard options"). The alternatives come together: a disease with no standard
# therapy is rare, and the notes would say so; a patient whose cancer has a standard first
# treatment not yet given is not in this population (oncologists reading these records
# agree), and one treated line or more meets it. "No curative therapy" is not among them:
# it describes incurable, not pretreated, disease.
_REFRACTORY_SOLID = (r"\brefractory\s+(?:(?:advanced|metastatic|unresectable|locally|recurrent|and|"
                     r"or|,|/)\s*){0,4}solid\s+(?:tumou?rs?|malignanc\w+|cancers?|neoplasms?)\b")
_BEYOND_STANDARD = re_compile(
    r"\b(?:refractory|resistant|relapsed|progress\w*|failed|failure|intoleran\w*|exhausted|"
    r"beyond)\b[^.;:]{0,60}?\b(?:standard|conventional)\b"
    r"(?![\s-]+(?:dos\w*|of\s+care\s+(?:imaging|assess\w*)))|"
    r"\b(?:standard|conventional)\b[^.;:]{0,50}?\b(?:failed|exhausted|(?:is|are|was|were)\s+"
    r"not\s+(?:available|appropriate|indicated|suitable|effective)|unavailable|ineffective|"
    r"do(?:es)?\s+not\s+exist)\b|"
    r"\bno\s+(?:\w+\s+){0,3}?(?:standard|conventional|effective|approved|satisfactory)[\s,]+"
    r"(?:[\w-]+[\s,]+){0,3}?(?:therap(?:y|ies)|treatments?|options?|regimens?|care)\b|"
    # "Refractory advanced solid tumor": refractory to the therapy such tumours are given
    + _REFRACTORY_SOLID, _I)
# Every match of _BEYOND_STANDARD holds one of these words (in some case).
_BEYOND_STANDARD_WORDS = ("standard", "conventional", "effective", "approved", "satisfactory",
                          "solid")


_PRIOR = re_compile(r"\b(?:prior|previous|previously)\b", _I)
_REFRACTORY_AFTER = re_compile(r"[\s-]*(?:refractory|resistant)\b", _I)
# ("after surgery" may say it was done: "Patient is after surgical resection")
_TIME_ANCHOR_BEFORE = re_compile(r"\b(?:prior\s+to|before|until|preceding|at\s+the\s+time\s+of)"
                                 r"\s+(?:the\s+)?(?:planned\s+)?$", _I)
_NOT_BEFORE = re_compile(r"\bnot\s+(?:have\s+|be(?:en)?\s+)?$", _I)
_REFRACTORY_TO_STANDARD = re_compile(
    r"\b(?:refractory|resistant|relapsed|progress\w*|failed|failure|intoleran\w*|beyond)\b"
    r"[^.;:]{0,60}?\b(?:standard|conventional|prior|previous)\b|"
    r"\b(?:standard|conventional)\b[^.;:]{0,80}?\b(?:failed|(?:is|are)\s+no\s+longer\s+"
    r"effective|ineffective)\b|" + _REFRACTORY_SOLID, _I)
# "refractory to standard treatment(s) and for whom no standard therapy exists": both at
# once, so one line given does not show it either.
_AND_NO_STANDARD = re_compile(
    r"\band\s+(?:(?:for\s+)?(?:whom|which)\s+|where\s+|there\s+(?:is|are)\s+)?no\s+"
    r"(?:\w+\s+){0,3}?(?:standard|conventional|effective|approved)\b", _I)
_SENTENCE_END = re_compile(r"[.;](?:\s|$)")
_TRANSPLANTS = frozenset({"stem cell transplant", "autologous stem cell transplant",
                          "allogeneic stem cell transplant"})
_AFTER_IT_BEFORE = re_compile(r"\b(?:post|after|following)[\s-]+$", _I)
_ALLOWED_ASIDE = re_compile(r"[^()]{0,30}\b(?:allowed|permitted|eligible|acceptable)\s*\)", _I)
_LABEL_ONLY = re_compile(r"^[^:]{0,60}:\s*$")
_COLON_AFTER = re_compile(r"\s*(?:\([^()]{0,12}\)\s*)?:")
_PERIOPERATIVE = re_compile(r"\b(?:neo-?)?adjuvant\b", _I)
_NO_LONGER_EFFECTIVE = re_compile(r"\b(?:standard|conventional)\b[^.;:]{0,80}?\bdo(?:es)?\s+"
                                  r"not\s+exist\s+or\s+(?:(?:is|are)\s+)?no\s+longer\s+"
                                  r"effective\b", _I)
# "... tumor that is potentially responsive to erlotinib or for which no effective therapy
# is available": the door of a drug that may work for this cancer.
_RESPONSIVE_DOOR = re_compile(r"\b(?:potentially\s+)?(?:responsive|sensitive)\s+to\s+"
                              r"(?P<what>[\w-]+(?:\s+(?:and|or|plus|\+)\s+[\w-]+)?)\s*,?\s+or\b",
                              _I)
# Another door than standard therapy's failure: a regimen that may suit the patient.
_REGIMEN_DOOR = re_compile(
    r"\bor\s+(?:for\s+)?(?:whom|which)\s+(?:(?:treatment|therapy|therapies|regimens?|"
    r"chemotherapy)\s+)?(?:(?:containing|with|based\s+on|including)\s+)?(?P<what>[^.;]{3,120}?)"
    r"\s+(?:might|may|could|would|can)\s+be\s+(?:considered|appropriate|indicated|an?\s+"
    r"option)", _I)
_LOCAL_ALTERNATIVE = re_compile(r"\bor\b[^.;]{0,60}?\b(?:surg\w*|resect\w*|amenable)\b", _I)


_AFTER_ANY_PRIOR = re_compile(r"\b(?:progress\w*|recurr\w*|relaps\w*)\s+(?:following|after|on|"
                             r"despite)\s+(?:\w+\s+){0,2}?(?:prior|previous)\s+(?:\w+\s+)?"
                             r"(?:treatments?|therap(?:y|ies)|regimens?)\b", _I)
_STANDARD_WORD = re_compile(r"\b(?:standard|conventional)\b", _I)


def _beyond_standard_therapy(text: str) -> list[Requirement]:
    """At least one prior line, for an inclusion that asks for disease beyond standard
    therapy (see `_BEYOND_STANDARD`)."""
    if not may_hold(text, _BEYOND_STANDARD_WORDS):
        return []  # most inclusions: no scan
    match = _BEYOND_STANDARD.search(text)
    if match is None or is_allowance(text, match.start(), match.end()) or \
            _NOT_BEFORE.search(text[max(0, match.start() - 25):match.start()]) or \
            _PERIOPERATIVE.search(text) or _LOCAL_ALTERNATIVE.search(text):
        # "must not have failed standard chemotherapy" asks the opposite; "relapsed on
        # standard adjuvant endocrine therapy" is about a curative-intent course, which the
        # lines of therapy for advanced disease do not count; "or disease not amenable to
        # surgery" lets an untreated patient in by another door.
        return []
    params: dict = {"min": 1, "max": None, "beyond_standard": True}
    door = _REGIMEN_DOOR.search(text, match.end()) or _RESPONSIVE_DOOR.search(text)
    if door:
        # "... or for whom regimens containing gemcitabine, cisplatin, etoposide, and/or
        # irinotecan might be considered": patients such a regimen suits come in too.
        params["or_regimen"] = " ".join(door.group("what").split())
    if _AFTER_ANY_PRIOR.search(text) and not _STANDARD_WORD.search(text):
        # "Progressed following prior treatment or ... no satisfactory alternative": any
        # earlier treatment counts, a curative-intent course the disease came back after too.
        params["any_prior"] = True
    if not _REFRACTORY_TO_STANDARD.search(text) or _AND_NO_STANDARD.search(text) or \
            _NO_LONGER_EFFECTIVE.search(text):
        # Only "no standard therapy exists", "exhausted all effective therapies": one line
        # given does not show that the standard ones are used up. Nor does it show that
        # "standard curative or palliative measures do not exist or are no longer effective"
        # (first-in-human wording: every standard measure has stopped working).
        params["exhausted"] = True
    return [requirement("prior_lines", params, text, match.start(), match.end())]


# "<class> with <member>" and "<member>-based <class>" name the member only: "chemotherapy with
# gemcitabine" is gemcitabine, "platinum-based chemotherapy" platinum (any chemotherapy would
# let every chemotherapy count, and in an exclusion rule out patients who had another one).
_NARROWED_BY_AFTER = re_compile(r"\s*(?:with|using|containing|consisting\s+of|based\s+on|"
                                r"comprising)\s+(?:an?\s+|the\s+|single[\s-]agent\s+)?", _I)
_NARROWED_BY_BEFORE = re_compile(r"(?:[\s-]*(?:based|containing|doublet|combination|"
                                 r"including))*[\s-]*", _I)


# Procedures that are no resection of the cancer: staging of the nodes, minor and other
# surgery (the lexicon's "surgery" would count any operation).
_NOT_CANCER_SURGERY = re_compile(
    r"\b(?:sentinel|(?:lymph\s+)?nodes?|nodal|axillary|minor|dental|cosmetic|reconstructive|"
    r"diagnostic|plastic|elective|cardiac|orthopa?edic|cataract|eye|ophthalmic)\s+$", _I)


# Classes whose members carry a drug of another class (an antibody-drug conjugate's payload).
_CARRIER_CLASSES = frozenset({"antibody-drug conjugate"})
_PAYLOAD_AFTER = re_compile(
    r"\s*(?:\(\w+\)\s*)?(?:containing|consisting\s+of|with|carrying|bearing|conjugated\s+"
    r"(?:to|with))\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+){0,3}?(?:topoisomerase|payload|"
    r"chemotherapeutic|cytotoxic|exatecan|deruxtecan|camptothecin|auristatin|maytansin\w*|"
    r"calicheamicin|pyrrolobenzodiazepine|PBD\b|MMAE\b)", _I)


def _drop_narrowed_classes(text: str, kept: list[DrugMention],
                           class_spans: set[tuple[int, int]]) -> list[DrugMention]:
    """Leave out a class that a neighbouring member of it narrows ("chemotherapy with
    gemcitabine", "anthracycline-containing chemotherapy")."""
    lexicon = get_lexicon()

    def narrower(member: DrugMention, broad: DrugMention) -> bool:
        if (member.start, member.end) in class_spans:
            return member.key != broad.key and broad.key in lexicon.ancestors(member.key)
        return broad.key in classes_of(member.key)

    dropped: set[int] = set()
    for i, mention in enumerate(kept):
        if (mention.start, mention.end) not in class_spans:
            continue
        after = kept[i + 1] if i + 1 < len(kept) else None
        before = kept[i - 1] if i else None
        if mention.key in _CARRIER_CLASSES:
            payload = _PAYLOAD_AFTER.match(text, mention.end)
            if payload:
                # "ADC containing a topoisomerase I inhibitor": ADCs with that payload, which
                # the lexicon cannot tell apart; neither every ADC nor every topoisomerase
                # inhibitor (the drugs named beside it are kept).
                dropped.add(i)
                dropped.update(j for j in range(i + 1, len(kept))
                               if kept[j].start < payload.end() + 5
                               and (kept[j].start, kept[j].end) in class_spans)
                continue
        if after is not None and _NARROWED_BY_AFTER.fullmatch(
                text[mention.end:after.start]) and narrower(after, mention):
            dropped.add(i)
        elif before is not None and _NARROWED_BY_BEFORE.fullmatch(
                text[before.end:mention.start]) and narrower(before, mention):
            listed = re.search(r"(?:\bor|and/or|,|/)\s*$", text[max(0, before.start - 12):
                                                                   before.start], _I)
            if listed and not (i >= 2 and re.fullmatch(
                    r"[\s-]*(?:,|/|or|and/or)\s*", text[kept[i - 2].end:before.start], _I)):
                continue  # "nitrosourea or temozolomide chemotherapy": an unknown alternative
            dropped.add(i)
    return [m for i, m in enumerate(kept) if i not in dropped] if dropped else kept


def _in_conditional_parenthesis(text: str, mention: DrugMention) -> bool:
    """"(and an anti-EGFR antibody if RAS wild-type)": a therapy named in a parenthesis that
    states a condition applies to some patients only."""
    opening = text.rfind("(", 0, mention.start)
    if opening < 0 or text.rfind(")", 0, mention.start) > opening:
        return False
    closing = text.find(")", mention.end)
    inside = text[opening + 1:closing if closing >= 0 else len(text)]
    return bool(re.search(r"\b(?:if|when|where|unless|for\s+(?:patients|participants|those))\b",
                          inside, _I))


def _side_mention(text: str, mention: DrugMention, sentence_start: int) -> bool:
    """A therapy named on the side of another statement: a condition ("If prior adjuvant
    endocrine therapy was given, ..."), an event on it ("LVEF drop on prior HER2 therapy"), or
    an option ("with or without interval debulking surgery")."""
    before = text[sentence_start:mention.start]
    if _OPTIONAL_BEFORE.search(before) or _EVENT_ON.search(before[-90:]):
        return True
    if _in_conditional_parenthesis(text, mention):
        return True
    # Inside an "if" clause: the condition runs from "if" to the next comma.
    return bool(re.match(r"\W*(?:if|when|in\s+case)\b", before, _I) or re.search(
        r"\bif\b[^,;:()]*$", before, _I))


def _course_of_disease(text: str, mention: DrugMention, sentence_start: int) -> bool:
    """Is the nearest history cue before the mention about the disease's course on the therapy
    ("progression during", "refractory to", "intolerant of") rather than its receipt?"""
    if _EXPERIENCED_AFTER.match(text[mention.end:mention.end + 16]) and re.match(
            r"[\s-]*(?:refractory|resistant|intolerant|failure)", text[mention.end:], _I):
        return True
    before = text[max(sentence_start, mention.start - 120):mention.start]
    cues = list(_PRIOR_CUE.finditer(before))
    receipt = [c for c in cues if not _COURSE_CUE.match(c.group(0))
               and not re.match(r"after|following|first|second|third", c.group(0), _I)]
    course = [c for c in cues if _COURSE_CUE.match(c.group(0))]
    return bool(course) and (not receipt or receipt[-1].start() < course[-1].start())


def _in_examples(text: str, mention: DrugMention) -> bool:
    """Is the mention the first of a parenthesised list of examples ("(e.g., surgery, ...")?"""
    opening = text.rfind("(", 0, mention.start)
    if opening < 0 or text.rfind(")", 0, mention.start) > opening:
        return False
    return bool(_EXAMPLE_CONNECTOR.search(text[opening:mention.start]))


def _conjuncts(text: str, items: list[tuple[DrugMention, bool]]
               ) -> list[list[tuple[DrugMention, bool]]]:
    """Split mentions that an inclusion joins with "and" into separately required groups.

    Examples ("(e.g., pembrolizumab)", "such as ...") join the mention before them; in a list
    the connectors are read as a whole ("A, B and C": all; "A, B, or C": any one); a list
    with no "and" stays one set of alternatives, as before.
    """
    if _ONE_OF.search(text):
        return [items]  # "one of the following treatments: A or A plus B or C"
    groups: list[list[tuple[DrugMention, bool]]] = [[items[0]]]
    if _in_examples(text, items[0][0]):
        # "(e.g., surgery, chemotherapy, radiation therapy, and HER2-targeted therapy)" after
        # words the lexicon does not know: examples of one requirement, not each required.
        opening = text.rfind("(", 0, items[0][0].start)
        closing = text.find(")", items[0][0].end)
        inside = [item for item in items[1:] if opening < item[0].start
                  and (closing < 0 or item[0].end <= closing)]
        groups[0] += inside
        items = [items[0]] + [item for item in items[1:] if item not in inside]
    kinds: list[str] = []  # connector before each group after the first: "or", "and", ","
    last_top = items[0][0]
    for mention, is_class in items[1:]:
        between = text[last_top.end:mention.start]
        opening = text.rfind("(", last_top.end, mention.start)
        in_parenthesis = opening >= 0 and text.find(")", opening, mention.start) < 0
        previous = groups[-1][-1][0]
        if in_parenthesis or _EXAMPLE_CONNECTOR.search(text[previous.end:mention.start]) or \
                SENTENCE_END.search(between) is None and _EXAMPLE_CONNECTOR.search(between):
            groups[-1].append((mention, is_class))
            continue
        boundary = SENTENCE_END.search(between)
        if boundary:
            # "...; or at least two cycles of ...": the next sentence is an alternative.
            kinds.append("or" if re.match(r"\W*or\b", between[boundary.end():], _I)
                         else "and")
        elif _OR_CONNECTOR.search(between):
            kinds.append("or")
        elif _AND_CONNECTOR.search(between):
            kinds.append("and")
        else:
            kinds.append(",")
        groups.append([(mention, is_class)])
        last_top = mention
    # A comma takes the meaning of the next connector in its list ("A, B and C"); after the
    # last mention, the rest of the sentence may hold it ("A, B (unless ...), and 2 cycles
    # of an unlisted therapy").
    rest = text[last_top.end:]
    end = SENTENCE_END.search(rest)
    rest = rest[:end.start() if end else len(rest)]
    tail = "and" if _AND_CONNECTOR.search(rest) and not _OR_CONNECTOR.search(rest) else "or"
    for i in range(len(kinds) - 1, -1, -1):
        if kinds[i] == ",":
            kinds[i] = kinds[i + 1] if i + 1 < len(kinds) else tail
    merged = [groups[0]]
    for kind, group in zip(kinds, groups[1:], strict=True):
        if kind == "or":
            merged[-1] = merged[-1] + group
        else:
            merged.append(group)
    return merged


_NO_THERAPY_ALTERNATIVE = re_compile(
    r"\bor\b[^.;]{0,40}?\b(?:no|not)\b[^.;]{0,30}?\b(?:therap(?:y|ies)|treatments?|options?)\b"
    r"[^.;]{0,25}?\b(?:exists?|available|appropriate|indicated|suitable|effective|benefit)|"
    r"\bor\b[^.;]{0,30}?\b(?:intoleran\w*|ineligible|unsuitable|not\s+(?:a\s+)?candidates?|"
    r"refused|declined|unable\s+to\s+(?:receive|tolerate))\b", _I)


_GENERIC_THERAPY_F = Folded(_GENERIC_THERAPY, ("therap", "treatment", "agent", "regimen"))


# What may stand between a generic therapy and the specific one listed after it: "or",
# "and/or", a comma or slash.
_LISTED_BEFORE = re_compile(r"\s*(?:,|/|\bor\b|\band/or\b)\s*(?:prior\s+|previous\s+|any\s+)?",
                            _I)


def _generic_prior(text: str, criterion_kind: str = "inclusion") -> list[Requirement]:
    """"Prior systemic therapy for advanced disease" with no drug named: at least one line
    (or none, when negated); nothing where the text says there is no limit."""
    text = _blank_no_limit(text)
    for match in _GENERIC_THERAPY_F.finditer(text):
        left, right = clause_bounds(text, match.start(), match.end())
        sentence = text[left:right]
        # The washout may follow a bracket that ends the clause ("... anti-cancer therapy
        # including chemotherapy (but excluding nitrosourea) = < 4 weeks prior to starting
        # study drug"): read it to the sentence's end.
        stop = _SENTENCE_END.search(text, right)
        if _NOT_HISTORY_F.search(sentence) or _is_washout(sentence) or _is_washout(
                text[left:stop.start() if stop else len(text)]) or \
                _FUTURE_TREATMENT.search(sentence):
            continue
        if _NEED_BEFORE.search(text[max(0, match.start() - 25):match.start()]) or \
                _AVAILABILITY.search(text[match.end():match.end() + 40]):
            continue  # "infection requiring systemic treatment", "no standard therapy exists"
        if _NO_THERAPY_ALTERNATIVE.search(text):
            # "refractory to standard therapy, or for which no standard therapy exists": a
            # patient with no prior therapy may qualify through the other alternative.
            return []
        words = text[match.start():match.end()]  # the folded match holds lower-case text
        mention = DrugMention("therapy", match.start(), match.end(), words)
        if not _has_prior_cue(text, mention) and not re.match(r"prior|previous",
                                                              words, _I):
            continue
        sentence_start = max(text.rfind(". ", 0, match.start()),
                             text.rfind(";", 0, match.start()),
                             text.rfind("\n", 0, match.start())) + 1
        if _side_mention(text, mention, sentence_start):
            continue  # "... if they have received any systemic therapy"
        if is_allowance(text, match.start(), match.end()):
            continue
        if _negated_therapy(text, mention, criterion_kind):
            return [requirement("prior_lines", {"min": None, "max": 0}, text, match.start(),
                                match.end())]
        return [requirement("prior_lines", {"min": 1, "max": None}, text, match.start(),
                            match.end())]
    return []
