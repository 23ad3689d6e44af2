"""Cancer type, histology and primary-site requirements, and the OncoTree codes of a trial's
conditions (with the basket markers "_SOLID", "_HEME", "_ANY").

Codes come from the shared vocabulary, so a trial's "non-small cell lung cancer" and a note's
"NSCLC" are the same OncoTree code.
"""

from __future__ import annotations

import re
from typing import Any

from trialmatch.models import Requirement
from trialmatch.nlp import vocab as vocab_module
from trialmatch.nlp.conditions import CANCER_WORD
from trialmatch.nlp.requirements_common import Folded, blank, requirement
from trialmatch.nlp.vocab import TermMatch, get_vocabulary
from trialmatch.regex_cache import re_compile

_I = re.IGNORECASE
_SOLID = re_compile(r"\bsolid\s+(?:\w+\s+){0,2}?(?:tumou?rs?|malignanc(?:y|ies)|cancers?|"
                    r"neoplasms?|carcinomas?)\b|\bmalignant\s+solid\s+neoplasms?\b", _I)
_HEME = re_compile(r"\bh(?:a)?ematologic(?:al)?\s+(?:\w+\s+)?(?:malignanc(?:y|ies)|cancers?|"
                   r"neoplasms?|disorders?)\b|\bblood\s+cancers?\b|\bh(?:a)?ematological\s+"
                   r"tumou?rs?\b|\blymphoid\s+(?:malignanc|neoplasm)\w*|\bmyeloid\s+"
                   r"(?:malignanc|neoplasm)\w*", _I)
_ANY = re_compile(r"\bany\s+(?:type\s+of\s+|kind\s+of\s+|histologically\s+confirmed\s+)?"
                  r"(?:cancer|malignancy|malignant\s+(?:disease|tumou?r|neoplasm)|tumou?r\s+type)\b|"
                  r"\ball\s+(?:cancer|tumou?r)\s+types\b", _I)
_GENERIC_CONDITION = re_compile(
    r"^\s*(?:malignant\s+)?(?:neoplasms?|cancers?|tumou?rs?|malignanc(?:y|ies)|carcinomas?|"
    r"neoplasms?,?\s+malignant|malignant\s+neoplasms?(?:\s+of\s+unknown\s+primary)?|"
    r"advanced\s+cancers?|metastatic\s+cancers?|oncology|solid\s+tumou?r)\s*$",
    _I)
_EXCEPT = re_compile(r"\b(?:except|excluding|other\s+than|with\s+the\s+exception\s+of|"
                     r"apart\s+from|but\s+not)\b", _I)
_HISTORY_BEFORE = re_compile(
    r"\b(?:history\s+of|prior|previous|other|another|second|family|familial|concurrent|"
    r"secondary|treated|cured|past)\s+(?:\w+\s+){0,2}$", _I)
# In an exclusion, "Synchronous bilateral invasive breast cancer", "multicentric breast
# cancer": how many tumours and where, not which disease (the trial's own disease, excluded
# when bilateral, is no exclusion of every patient with it).
_LATERALITY_BEFORE = re_compile(r"\b(?:bilateral|synchronous|metachronous|contralateral|"
                                r"multicentric|multifocal)\s+(?:\w+\s+){0,2}$", _I)
# "RANO for primary CNS tumors", "Lugano criteria for lymphoma": the disease says which
# assessment rule applies to whom, it is not a requirement of the trial.
_RULE_FOR_BEFORE = re_compile(
    r"\b(?:recist|irecist|mrecist|rano|lugano|cheson|iwcll|imwg|pcwg\d?|gcig|inrc|criteria|"
    r"guidelines?)\b(?:[^.;]|\.(?=\d)){0,40}?\bfor\s+(?:\w+\s+){0,3}$|"
    # "receiving any other treatment for their hematologic malignancy": the disease is the
    # treatment's object, not a population
    r"\b(?:treatments?|therap(?:y|ies)|agents?)\s+for\s+(?:their|his|her|its|the\s+patient'?s)\s+"
    r"(?:\w+\s+){0,2}$|"
    # "Response Evaluation Criteria in Solid Tumors": the name of a rule, not a population
    r"\bevaluation\s+criteria\s+(?:in|for)\s+$", _I)
_TUMOUR_WORD = re_compile(r"cancer|carcinoma|tumou?r|malignan|neoplas|\w+oma\b|leuka?emia|"
                          r"primary", _I)
_HEME_FAMILY = re_compile(r"leuka?emi|lymphoma|myeloma|myelodysplas|h(?:a)?ematolog", _I)
_NON_SQUAMOUS = re_compile(r"\bnon-?\s?squamous\b", _I)
_NON_BEFORE = re_compile(r"\bnon-?\s*$", _I)
# Every pattern here is used for its truth and offsets only: fold them (see `Folded`).
# The words after each are ones every match contains: texts without any are not scanned.
_SOLID = Folded(_SOLID, ("solid",))
_HEME = Folded(_HEME, ("ematologic", "blood", "lymphoid", "myeloid"))
_ANY = Folded(_ANY, ("any", "all"))
_EXCEPT = Folded(_EXCEPT, ("except", "excluding", "other", "apart", "but"))
_NON_SQUAMOUS = Folded(_NON_SQUAMOUS, ("squamous",))
_GENERIC_CONDITION, _HISTORY_BEFORE, _TUMOUR_WORD, _HEME_FAMILY = (Folded(p) for p in (
    _GENERIC_CONDITION, _HISTORY_BEFORE, _TUMOUR_WORD, _HEME_FAMILY))
_RULE_FOR_BEFORE = Folded(_RULE_FOR_BEFORE, ("for", "criteria"))


def _qualifier(text: str, start: int) -> bool:
    """Is the disease named at `start` a qualifier rather than a requirement: another, past
    cancer ("history of breast cancer") or whom an assessment rule is for ("RANO for CNS
    tumors")?"""
    return bool(_HISTORY_BEFORE.search(text[max(0, start - 40):start])
                or _RULE_FOR_BEFORE.search(text[max(0, start - 70):start]))
# A gene named after a disease: the disease words are no population ("anaplastic lymphoma
# kinase", "Ewing sarcoma breakpoint region 1", "Wilms tumor gene").
_GENE_NAME_AFTER = re_compile(r"[\s-]*(?:kinases?|genes?|proteins?|breakpoint|oncogenes?|"
                              r"homolog(?:ue)?s?)\b|"
                              # "B-cell lymphoma 2 inhibitor (BCL2i)", "B-cell lymphoma-extra
                              # large": the BCL2 family of proteins
                              r"[\s-]*(?:2|6|extra[\s-]large)\b[\s-]*(?:\(\s*bcl|"
                              r"inhibitors?|proteins?|family|genes?|antagonists?|homolog)",
                              re.IGNORECASE)
# A site word is a requirement only when a tumour word is near ("cancer of the cervix").
_SITE_NEAR = 30
# A site followed by a size is a lesion being measured, not the disease's primary site.
_MEASURED_AFTER = re_compile(r"[^.;:]{0,30}?(?:≥|>=|>|≤|<=|<|\bat\s+least)\s*\d+(?:\.\d+)?\s*"
                             r"(?:mm|cm)\b", re.IGNORECASE)


# "primary central nervous system (CNS) malignancy": an acronym in brackets inside a name
# (blanked to its length, so offsets still index the text).
_ACRONYM_ASIDE = re_compile(r"(?<=\w)\s*\((?:[A-Z][A-Za-z0-9]{1,6})\)(?=\s+\w)")


_NEGATED_DISEASE = re_compile(r"(?:^|\b)(?:no|without|free\s+of|absence\s+of)\s+(?:\w+\s+){0,1}$",
                              re.IGNORECASE)


# The head noun a list of site words shares ("lung or breast cancer", "gastrointestinal or
# gynecological cancer"), and the single words listed before the phrase that ends in it.
_HEAD_NOUN = re_compile(r"\b(?:cancers?|carcinomas?|tumou?rs?|malignanc(?:y|ies)|neoplasms?)$",
                        re.IGNORECASE)
_ELIDED_BEFORE = re_compile(r"(?:\b[A-Za-z][\w-]+(?:\s*,\s*(?:and\s+|or\s+)?|\s+(?:or|and|and/or)"
                            r"\s+))+$", re.IGNORECASE)
_ELIDED_WORD = re_compile(r"\b[A-Za-z][\w-]+")
# "(Solid Tumor Efficacy Evaluation Criteria)": a response method's name, no population.
_CRITERIA_NAME_AFTER = re_compile(r"\s*(?:efficacy\s+|response\s+)?evaluation\s+criteria\b",
                                  re.IGNORECASE)
_PREPOSITION_BEFORE = re_compile(r"\b(?:to|of|in|into|from|on|at|by)\s+$", re.IGNORECASE)


def _elided(vocabulary: Any, text: str, found: list) -> list:
    """Cancer types whose head noun a list leaves to its last item ("lung or breast cancer":
    lung cancer too): each word listed before a found phrase, with the phrase's head noun,
    when that is a cancer-type phrase of its own."""
    extra = []
    for match in found:
        head = _HEAD_NOUN.search(match.text)
        listed = _ELIDED_BEFORE.search(text, max(0, match.start - 80), match.start) \
            if head else None
        if listed is None or _PREPOSITION_BEFORE.search(text, max(0, listed.start() - 8),
                                                        listed.start()):
            continue  # "metastatic carcinoma to breast, sarcoma, or Phyllodes tumor"
        for word in _ELIDED_WORD.finditer(text, listed.start(), listed.end()):
            if word.group().lower() in ("or", "and"):
                continue
            phrase = f"{word.group()} {head.group()}"
            whole = [m for m in vocabulary.find_cancer_types(phrase)
                     if m.start == 0 and m.end == len(phrase)]
            if whole:
                extra.append(TermMatch(whole[0].key, word.start(), word.end(), phrase))
    return extra


def _cancer_matches(vocabulary: Any, text: str) -> list:
    """Cancer-type phrases, also those an acronym in brackets cuts in two ("primary central
    nervous system (CNS) malignancy"), which join the phrases found as written, and those a
    list leaves its head noun out of ("lung or breast cancer")."""
    found = vocabulary.find_cancer_types(text)
    if " or " in text or " and " in text or "," in text:
        found = _joined(found, _elided(vocabulary, text, found))
    if "(" not in text:
        return found
    blanked = _ACRONYM_ASIDE.sub(blank, text)
    if blanked == text:
        return found
    return _joined(found, vocabulary.find_cancer_types(blanked))


def _joined(found: list, extra: list) -> list:
    """`found` with the matches of `extra` that overlap none of them, in text order."""
    kept = [m for m in extra if not any(m.start < f.end and f.start < m.end for f in found)]
    return sorted(found + kept, key=lambda m: m.start) if kept else found


def _codes_for(text: str) -> list[str]:
    vocabulary = get_vocabulary()
    return [code for m in vocabulary.find_cancer_types(text) for code in
            vocabulary.cancer_codes(m)]


def _names_only_specific_cancers(title: str) -> bool:
    """Does the title name cancer types and no cancer in general ("Pituitary Adenomas",
    "Esophageal Cancer", not "Cancer Patients" or "Solid Tumors")?"""
    matches = get_vocabulary().find_cancer_types(title)
    if not matches or any(_NON_BEFORE.search(title[:m.start]) for m in matches):
        return False  # none, or "Non-Prostate Tumors"
    rest = list(title)
    for match in matches:
        rest[match.start:match.end] = " " * (match.end - match.start)
    rest_text = "".join(rest)
    return not (_TUMOUR_WORD.search(rest_text) or _SOLID.search(title) or _HEME.search(title)
                or _ANY.search(title))


# A cancer named as a risk, or as what is prevented or screened for ("High Risk for Breast
# Cancer", "Cancer Prevention", "CRC Screening", "Promote Colorectal Cancer Screening"): the
# people studied do not have it. ("High-risk Breast Cancer" is a cancer; "screening of
# patients with NSCLC" screens people who have it.)
_NOT_HAD = re_compile(
    r"\b(?:(?:at\s+)?risk\s+(?:for|of)|prevention\s+of|preventing|screening\s+(?:for|of)|"
    r"predisposition\s+to)\s+(?!(?:[\w-]+\s+){0,3}?(?:patients|participants|subjects|people|"
    r"persons|with|in)\b)(?:[\w-]+\s+){0,4}?(?:cancers?|carcinomas?|neoplasms?|"
    r"tumou?rs?|malignan\w*|\w+omas?|leuka?emias?|crc)\b|"
    r"\b(?:[\w-]+\s+){0,3}?(?:cancers?|carcinomas?|neoplasms?|tumou?rs?|crc|colorectal|"
    r"cervical|breast|lung|prostate|colon|bowel)\s+"
    r"(?:prevention|screening|risk(?!\s+(?:group|categor|disease))|predisposition)\b", _I)


def _not_had_blanked(text: str) -> str:
    """`text` with the cancers it names only as a risk or as screened for blanked."""
    return _NOT_HAD.sub(lambda m: " " * len(m.group()), text) if text else text


def trial_oncotree_codes(title: str, conditions: list[str], keywords: list[str]) -> list[str]:
    """OncoTree codes of the trial's conditions, keywords and title, plus "_SOLID" (solid
    tumours), "_HEME" (haematological malignancies) and "_ANY" (any cancer, generic
    "Malignant Neoplasm"/"Cancer" conditions). Order: first seen first."""
    codes: list[str] = []
    texts = [_not_had_blanked(text) for text in
             list(conditions or []) + list(keywords or []) + [title or ""]]
    indexing_only = False  # "_ANY" from a bare index term ("Neoplasms") and nothing else
    for text in texts:
        if not text:
            continue
        codes += _codes_for(text)
        if _SOLID.search(text):
            codes.append("_SOLID")
        if _HEME.search(text):
            codes.append("_HEME")
        if _ANY.search(text):
            codes.append("_ANY")
            indexing_only = False
        elif _GENERIC_CONDITION.match(text):
            indexing_only = indexing_only or "_ANY" not in codes
            codes.append("_ANY")
    if indexing_only and title and _names_only_specific_cancers(title):
        # "Intraoperative Imaging of Pituitary Adenomas" listed under "Neoplasms; Pituitary
        # Neoplasms": the bare index term is the registry's filing, the title names the
        # population; a title of its own for any cancer ("... for Cancer Patients") keeps it.
        codes = [c for c in codes if c != "_ANY"]
    if not codes:
        # The vocabulary names no type (e.g. "Leukemia", "Childhood Cancer"): fall back on the
        # broad family so the trial still reaches haematological or any-cancer patients.
        joined = " ".join(texts)
        if _HEME_FAMILY.search(joined):
            codes.append("_HEME")
        elif _TUMOUR_WORD.search(joined):
            codes.append("_ANY")
    return list(dict.fromkeys(codes))


def _index_may_match(vocabulary: object, index_name: str, text: str) -> bool:
    """False only when no token of `text` (nor its singular) starts a phrase of the index,
    so its scan would find nothing: the scan walks every token in Python, this test is two
    set operations on the tokens the vocabulary has already cut (and cached) for `text`.
    Reads the vocabulary's index; if that changes shape, always True."""
    index = getattr(vocabulary, index_name, None)
    by_first = getattr(index, "by_first", None)
    plurals = getattr(index, "plurals", None)
    tokenize = getattr(vocab_module, "_tokenize", None)
    if not isinstance(by_first, dict) or not isinstance(plurals, dict) or tokenize is None:
        return True
    norms = getattr(tokenize(text), "norms", None)
    if norms is None:
        return True
    return not (by_first.keys().isdisjoint(norms) and plurals.keys().isdisjoint(norms))


def find_cancer_requirements(text: str, criterion_kind: str,
                             skip_other_malignancy: bool = False,
                             scans: set[str] | None = None) -> list[Requirement]:
    """cancer_type (codes or scope solid/heme/any, with "except"), histology and
    primary_site requirements of one criterion.

    `scans` limits the vocabulary searches to "cancer", "histology" and/or "site" (the
    caller knows which phrases cannot occur). Skipped: mentions of past or other cancers
    ("history of breast cancer"), those after
    "except" (they become the `except` list of a scope), and in exclusion criteria the
    diagnosis words that only qualify another statement ("EGFR-mutant NSCLC").
    """
    if skip_other_malignancy:
        return []
    vocabulary = get_vocabulary()
    out: list[Requirement] = []
    except_at = _EXCEPT.search(text)
    scans = {"cancer", "histology", "site"} if scans is None else scans
    cancer_matches = _cancer_matches(vocabulary, text) if "cancer" in scans and \
        _index_may_match(vocabulary, "_cancer_index", text) else []
    kept = []
    excepted = []
    has_non = "non" in text or "Non" in text or "NON" in text
    for match in cancer_matches:
        if except_at and match.start > except_at.start():
            excepted.append(match)
            continue
        if _qualifier(text, match.start) or (criterion_kind == "exclusion" and
                                            _LATERALITY_BEFORE.search(text, max(
                                                0, match.start - 40), match.start)):
            continue
        if _NEGATED_DISEASE.search(text[max(0, match.start - 30):match.start]):
            continue  # "No CNS tumor involvement": a disease denied names no population
        if has_non and _NON_BEFORE.search(text, max(0, match.start - 6), match.start):
            continue  # "non-melanoma skin cancer" names no melanoma
        if _GENE_NAME_AFTER.match(text, match.end):
            continue  # "anaplastic lymphoma kinase", "Ewing sarcoma breakpoint region 1"
        if _in_example(text, match.start):
            continue  # "(e.g., EGFR-targeted therapy for lung cancer)": a therapy's example
        if _METHOD_FOR.search(text, max(0, match.start - 60), match.start):
            continue  # "Response Criteria for Malignant Lymphoma": a method's name
        kept.append(match)
    scope = None
    scope_match = None
    for pattern, name in ((_ANY, "any"), (_SOLID, "solid"), (_HEME, "heme")):
        found = pattern.search(text)
        if found and not (except_at and found.start() > except_at.start()) \
                and not _RULE_FOR_BEFORE.search(text[max(0, found.start() - 70):found.start()]) \
                and not _CRITERIA_NAME_AFTER.match(text, found.end()):
            scope, scope_match = name, found
            break
    if scope_match is not None:
        end = max([scope_match.end()] + [m.end for m in excepted])
        out.append(requirement("cancer_type", {"codes": [], "scope": scope,
                                               "except": [m.key for m in excepted]},
                               text, scope_match.start(), end))
        # "Solid tumor, Hodgkin's lymphoma or non-Hodgkin's lymphoma": cancers outside the
        # scope are further alternatives (inside it, examples of it).
        outside = [m for m in kept if scope != "any" and not _in_parentheses(text, m.start)
                   and not any(
            (vocabulary.is_solid if scope == "solid" else vocabulary.is_heme)(code)
            for code in vocabulary.cancer_codes(m))]
        if outside:
            codes = list(dict.fromkeys(code for m in outside
                                       for code in vocabulary.cancer_codes(m)))
            out.append(requirement("cancer_type", {"codes": codes, "scope": "codes",
                                                   "except": []},
                                   text, outside[0].start, outside[-1].end))
    elif kept:
        codes = list(dict.fromkeys(code for m in kept for code in vocabulary.cancer_codes(m)))
        out.append(requirement("cancer_type", {"codes": codes, "scope": "codes",
                                               "except": [m.key for m in excepted]},
                               text, kept[0].start, kept[-1].end))
    covered = [(m.start, m.end) for m in cancer_matches]
    histologies = []
    for match in (vocabulary.find_histologies(text) if "histology" in scans else []):
        if any(s <= match.start and match.end <= e for s, e in covered):
            continue
        if except_at and match.start > except_at.start():
            continue
        if _qualifier(text, match.start):
            continue
        if _WITHOUT_BEFORE_F.search(text[max(0, match.start - 40):match.start]):
            continue  # "adenocarcinoma without small cell features" asks for no small cell
        histologies.append(match)
    non_squamous = _NON_SQUAMOUS.search(text)
    if non_squamous:
        histologies = [h for h in histologies if not (non_squamous.start() <= h.start
                                                      < non_squamous.end())]
    if histologies or non_squamous:
        names = [m.key for m in histologies]
        spans = [(m.start, m.end) for m in histologies]
        if non_squamous:
            names.insert(0, "non-squamous")
            spans.append((non_squamous.start(), non_squamous.end()))
        out.append(requirement("histology", {"histologies": list(dict.fromkeys(names))}, text,
                               min(s for s, _ in spans), max(e for _, e in spans)))
    if criterion_kind == "inclusion" and not out and "site" in scans:
        sites = []
        for match in vocabulary.find_sites(text):
            near = text[max(0, match.start - _SITE_NEAR):match.end + _SITE_NEAR]
            if except_at and match.start > except_at.start():
                continue
            if _NON_BEFORE.search(text, max(0, match.start - 6), match.start):
                continue  # "no other non-breast cancer"
            if _NEGATED_DISEASE.search(text[max(0, match.start - 30):match.start]):
                continue  # "No CNS tumor involvement"
            if _METHOD_FOR.search(text, max(0, match.start - 60), match.start):
                continue  # "ASCO/CAP guidelines for scoring HER2 for gastric cancer"
            if _MEASURED_AFTER.match(text, match.end):
                continue  # "Lymph nodes must be >= 15 mm in short axis": a lesion's size
            entry = vocabulary.site(match.key)
            if entry is not None and entry.spread_only:
                continue  # "Lymph Node Status: negative", "0-3 axillary lymph nodes"
            if _TUMOUR_WORD.search(near) and not _HISTORY_BEFORE.search(
                    text[max(0, match.start - 40):match.start]) and not _aside(text, match.start):
                sites.append(match)
        if sites:
            out.append(requirement("primary_site",
                                   {"sites": list(dict.fromkeys(m.key for m in sites))},
                                   text, sites[0].start, sites[-1].end))
    return out


# A histology the criterion leaves out ("without predominant small cell or neuroendocrine
# features", "other than squamous"): not one it asks for.
_WITHOUT_BEFORE = re_compile(r"\b(?:without|no|not|excluding|other\s+than|rather\s+than)\s+"
                             r"(?:(?:any|predominant|predominantly|significant|a|an)\s+)?$",
                             re.IGNORECASE)
_WITHOUT_BEFORE_F = Folded(_WITHOUT_BEFORE)


# A scoring, response or testing method named for a cancer ("scored using ASCO/CAP guidelines
# for scoring HER2 for gastric cancer", "Revised Response Criteria for Malignant Lymphoma"):
# the method, not the population (staging criteria, which name the trial's cancer, stay).
_METHOD_FOR = re_compile(r"\b(?:guidelines?|response\s+criteria|criteria\s+for\s+response|"
                         r"scoring|algorithms?)\b(?:\s+[\w/-]+){0,4}?\s+for\s+(?:the\s+)?"
                         r"(?:[\w-]+\s+)?$", re.IGNORECASE)


def _in_example(text: str, start: int) -> bool:
    """A mention inside brackets that open with "e.g." or "for example" after words that
    name no cancer: an example given for something else ("targeted therapies (e.g., EGFR-
    targeted therapy for lung cancer)"), not of the tumours before it ("GI tumors (e.g.,
    PDAC, CRC)")."""
    opening = _open_bracket(text, start)
    return opening >= 0 and bool(_EXAMPLE_OPENING.match(text, opening + 1)) and \
        not _CANCER_WORD_BEFORE.search(text, max(0, opening - 40), opening)


_CANCER_WORD_BEFORE = re_compile(rf"{CANCER_WORD}\W*$", re.IGNORECASE)

_EXAMPLE_OPENING = re_compile(r"\s*(?:e\.\s?g\.?|for\s+example|such\s+as)", re.IGNORECASE)


def _open_bracket(text: str, start: int) -> int:
    """Where the parenthesis still open at `start` opens, or -1."""
    opening = text.rfind("(", 0, start)
    return opening if opening >= 0 and text.rfind(")", 0, start) < opening else -1


def _in_parentheses(text: str, start: int) -> bool:
    """A mention inside an open parenthesis: a note to the population named before it
    ("(NOTE: ... Burkitt's lymphoma ... and myeloma are excluded)")."""
    return _open_bracket(text, start) >= 0


def _aside(text: str, start: int) -> bool:
    """A mention inside a parenthesis that applies to some patients ("RANO for primary CNS
    tumors")."""
    opening = text.rfind("(", 0, start)
    if opening < 0 or text.rfind(")", 0, start) > opening:
        return False
    return bool(re.search(r"\b(?:for|if|when|in\s+case\s+of)\b", text[opening:start],
                          re.IGNORECASE))


_DISEASE_KINDS = frozenset(("cancer_type", "histology", "primary_site", "stage", "extent"))
_NARROWEST_FIRST = (("stage", "extent"), ("histology",), ("cancer_type",), ("primary_site",))
# What lies between two items of a list of diseases ("Ampullary cancer, neuroendocrine
# neoplasms and nonepithelial tumors"): a separator, maybe with words of the next item.
_LIST_BREAK = re_compile(r";|\b(?:or|and|and/or|nor|as\s+well\s+as)\b|/", _I)
# Examples of the item before ("low-grade adenocarcinoma (including grade 1 endometrioid
# adenocarcinoma of the ovary)", "metastatic disease, e.g. choriocarcinoma") qualify it.
_EXAMPLES = re_compile(r"\b(?:e\.\s?g|i\.\s?e|such\s+as|including|like)\b", _I)
_PARENTHETICAL = re_compile(r"\([^()]*\)")
_IDENTITY_KINDS = frozenset(("cancer_type", "histology", "primary_site"))


def _disease_groups(requirements: list[Requirement], text: str) -> list[list[Requirement]]:
    """Disease requirements cut into the items of a list: words next to each other ("Stage
    III NSCLC", "metastatic uveal melanoma") qualify each other and are one item; a list
    break ("or", "and", ";", "/", or a comma before another disease name) starts a new one.
    A comma before a stage or extent ("NSCLC, stage IIIB") qualifies the item before it."""
    ordered = sorted(requirements, key=lambda r: (r.start, r.end))
    groups: list[list[Requirement]] = []
    reach = -1
    for req in ordered:
        if groups and req.start < reach:
            groups[-1].append(req)  # overlapping spans: one phrase
        else:
            gap = _PARENTHETICAL.sub(" ", text[max(reach, 0):req.start]) if groups else ""
            # A parenthesis opened since the item began and still open holds its examples.
            held = text.count("(", groups[-1][0].start, req.start) > text.count(
                ")", groups[-1][0].start, req.start) if groups else False
            new = not groups or (bool(_LIST_BREAK.search(gap)) or (
                "," in gap and req.kind in _IDENTITY_KINDS)) and not (
                _EXAMPLES.search(gap) or held)
            if new:
                groups.append([req])
            else:
                groups[-1].append(req)
        reach = max(reach, req.end)
    return groups


def restrict_for_exclusion(requirements: list[Requirement], text: str = "") -> list[Requirement]:
    """In an exclusion criterion any true statement excludes, so disease words that only
    qualify another statement ("Known EGFR mutation in NSCLC", "Stage III NSCLC that
    progressed during chemoradiation") must not stand alone: keep cancer type, histology,
    site, stage and extent only when the criterion states nothing else, and then only the
    narrowest of each item of a list of diseases (stage, then extent, histology, cancer type,
    site): "Stage IV breast cancer" excludes stage IV, while "Ampullary cancer,
    neuroendocrine neoplasms and nonepithelial tumors" excludes each disease it lists.
    Without `text` the whole criterion is one item."""
    if not requirements:
        return requirements
    others = [r for r in requirements if r.kind not in _DISEASE_KINDS]
    if others:
        # "Primary CNS malignancy, untreated CNS metastases ... or active CNS metastases": a
        # cancer type that is an item of its own in the list still excludes.
        own_items = [r for r in requirements if r.kind == "cancer_type" and text
                     and _own_list_item(r, requirements, text)]
        return [r for r in requirements if r in others or any(r is o for o in own_items)]
    groups = _disease_groups(requirements, text) if text else [requirements]
    kept: list[Requirement] = []
    for group in groups:
        for kinds in _NARROWEST_FIRST:
            chosen = [r for r in group if r.kind in kinds]
            if chosen:
                kept += chosen
                break
    return [r for r in requirements if any(r is k for k in kept)]


# Between two items of a list: a separator, then at most two words of the next item
# ("..., untreated CNS metastases", "... or symptomatic brain metastases").
_LIST_GAP = re_compile(r"^\s*(?:[,;]\s*(?:and\s+|or\s+|and/or\s+)?|or\s+|and/or\s+)"
                       r"(?:[\w-]+\s+){0,2}$", re.I)
_QUALIFIED_AFTER = re_compile(r"^\s*(?:\(|that\b|which\b|who\b|with\b|in\b|of\b|treated\b|"
                              r"requiring\b|harbou?ring\b|having\b|for\b)", re.I)


def _own_list_item(disease: Requirement, requirements: list[Requirement], text: str) -> bool:
    """Is a cancer type written as an item of its own in a list of exclusions (a list
    separator between it and its neighbours, nothing qualifying it), not a word that
    qualifies another statement ("EGFR mutation in NSCLC")?"""
    after = [r.start for r in requirements if r.start >= disease.end]
    before = [r.end for r in requirements if r.end <= disease.start]
    gap_after = text[disease.end:min(after)] if after else text[disease.end:]
    gap_before = text[max(before):disease.start] if before else text[:disease.start]
    if _QUALIFIED_AFTER.match(text[disease.end:disease.end + 12]) and not after:
        return False
    starts_item = not before and not re.search(r"\b(?:in|of|with|from|for)\s+$", gap_before,
                                               re.I)
    # Only in a list of alternatives ("A, B or C"): "NSCLC, EGFR mutation" may be one item.
    alternatives = re.search(r"\bor\b", text[disease.end:], re.I) is not None
    return alternatives and _LIST_GAP.match(gap_after) is not None and (
        starts_item or _LIST_GAP.match(gap_before) is not None)


def drop_own_disease(requirements: list[Requirement], trial_codes: list[str]) -> list[Requirement]:
    """An exclusion never rules out the trial's own disease: drop exclusion cancer-type codes
    equal to, or broader than, a code of the trial's conditions ("Richter's transformation of
    CLL" maps to DLBCL and CLL; in a DLBCL trial only CLL is excluded). Narrower codes stay:
    a NSCLC trial may exclude squamous NSCLC."""
    own = [c for c in trial_codes if not c.startswith("_")]
    if not own:
        return requirements
    vocabulary = get_vocabulary()
    out = []
    for req in requirements:
        codes = req.params.get("codes") if req.kind == "cancer_type" else None
        if not codes:
            out.append(req)
            continue
        kept = [c for c in codes if not any(c == o or vocabulary.is_a(o, c) for o in own)]
        if kept:
            req.params["codes"] = kept
            out.append(req)
    return out


def prefer_other_disease(requirements: list[Requirement], text: str,
                         trial_codes: list[str]) -> list[Requirement]:
    """An exclusion made only of stage/extent words that qualify a cancer type ("Metastatic
    uveal melanoma") excludes that cancer when it is not the trial's own: in a melanoma trial
    for metastatic disease it rules out uveal melanoma, not every metastatic patient. When
    the cancer type is the trial's own ("Stage IV breast cancer" in a breast cancer trial) the
    stage is what is excluded, as `restrict_for_exclusion` chose. Called by `annotate_trial`
    (which knows the trial's codes) for exclusion criteria only."""
    if not requirements or any(r.kind not in ("stage", "extent") for r in requirements) \
            or not any(not c.startswith("_") for c in trial_codes):
        return requirements
    cancers = [r for r in find_cancer_requirements(text, "exclusion", scans={"cancer"})
               if r.kind == "cancer_type" and r.params.get("codes")]
    vocabulary = get_vocabulary()
    own = [c for c in trial_codes if not c.startswith("_")]
    for cancer in cancers:
        # Related codes (the trial's own, broader or narrower: "invasive breast carcinoma" in
        # a breast cancer trial) leave the stage as the exclusion.
        cancer.params["codes"] = [c for c in cancer.params["codes"] if not any(
            c == o or vocabulary.is_a(o, c) or vocabulary.is_a(c, o) for o in own)]
    cancers = [c for c in cancers if c.params["codes"]]
    if not cancers:
        return requirements
    out: list[Requirement] = []
    for group in _disease_groups(requirements + cancers, text):
        found = [r for r in group if r.kind == "cancer_type"]
        out += found or group
    return sorted(out, key=lambda r: r.start)

