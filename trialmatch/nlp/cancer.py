"""Which cancer a note asserts: OncoTree code from explicit names or from site + histology.

How a note is read (each step a rule a pathologist would recognise):
1. Mentions: cancer-type phrases ("hepatocellular carcinoma", "NSCLC", "IDC"), and histology
   phrases ("adenocarcinoma") combined with a primary site into the most specific OncoTree
   code (`Vocabulary.resolve`).
2. The site for a histology: a stated primary ("consistent with colorectal primary", "of
   pulmonary origin") first; else a site in the same clause ("Lung, right upper lobe,
   lobectomy: adenocarcinoma"); else the specimen site named shortly before in the same
   section; else the site the note names most in its deciding sections. For a *metastatic*
   tumour the specimen's organ is where it spread, not where it started, so only a stated
   primary (or the note-wide primary site) is used: a liver biopsy with metastatic colorectal
   adenocarcinoma is colorectal, not liver.
3. Context: negated ("negative for carcinoma", "no malignancy"), hypothetical ("rule out"),
   historical ("history of breast cancer") mentions and those in clinical-history sections
   do not assert a cancer. A note with no asserted mention has no cancer type (benign).
4. Choice: mentions are weighted by section (final diagnosis and synoptic decide); the
   lineage with the most support wins, and within it the most specific code supported
   (breast carcinoma + invasive ductal carcinoma -> IDC). An in-situ code yields to an
   invasive one.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from trialmatch.models import CancerType
from trialmatch.nlp.context import (
    clause_of,
    clause_spans,
    join_broken_lines,
    lowered_for_search,
    matches_at,
    mention_context,
    word_starts,
)
from trialmatch.nlp.sections import Section, section_at
from trialmatch.regex_cache import re_compile

_PRIMARY_AFTER = re_compile(r"(?i)^[\s,\-]*(?:primary|origin|source|tumou?r\s+primary)\b")
_PRIMARY_BEFORE = re_compile(
    r"(?i)(?:consistent\s+with|compatible\s+with|suggestive\s+of|in\s+keeping\s+with|"
    r"favou?ring|favou?rs?|typical\s+of|supports?|from|of|metastatic|metastasis\s+of|"
    r"primary)\s+(?:an?\s+|the\s+)?(?:primary\s+)?$"
)
_METASTATIC = re_compile(r"(?i)\b(?:metastatic|metastasis|metastases|metastasizing)\b")
_NODE_SITE = re_compile(r"(?i)lymph|node|nodal")
_PROCEDURE = re_compile(r"(?i)(?:ectomy|otomy|ostomy|scopy|plasty)\b")
# A site named as what the tumour reaches is not where it arose ("invades the visceral
# pleura", "extends into the duodenum", "erodes the common bile duct").
_REACHED_SITE = re_compile(
    r"(?i)(?:invad\w*|involv\w*|extend\w*|extension|infiltrat\w*\s+(?:into|the)|into|"
    r"through|erod\w*|abut\w*|reach\w*|spread\w*|penetrat\w*|adjacent|margin|"
    r"peri-?|surrounding)\s*(?:the\s+|to\s+the\s+|into\s+the\s+)?(?:\w+[.,]?\s+){0,2}"
    r"(?:(?:and|or)\s+(?:the\s+)?(?:\w+\s+)?)?$"
)
# Every match of _REACHED_SITE holds one of these (a cheap test before the regex).
_REACHED_WORDS = ("invad", "involv", "exten", "infiltrat", "into", "through", "erod", "abut",
                  "reach", "spread", "penetrat", "adjacent", "margin", "peri", "surrounding")
# "Prostate: extensively involved by carcinoma": a bare "carcinoma" after these words is the
# tumour the report has named, seen where it spread; it names no cancer of its own.
_INVOLVED_BY = re_compile(
    r"(?i)\b(?:involved|invaded|infiltrated|replaced|involvement)\s+(?:by|with)\s+"
    r"(?:the\s+)?(?:(?:invasive|residual|infiltrating)\s+)?$")
# "adenocarcinoma of the colorectal type", "intestinal-type": a site word naming what the
# tumour looks like, not where it arose (WHO: "colorectal-type adenocarcinoma" is a pattern).
_TYPE_AFTER = re_compile(r"(?i)^[\s-]*(?:type|pattern|differentiation|phenotype)\b")
# "vaginal margin", "renal vein margin is involved by carcinoma": a margin, not an origin;
# "Prostate: extensively involved by carcinoma" in a cystectomy: a structure reached.
_MARGIN_AFTER = re_compile(
    r"(?i)^[\s,;:()\w-]{0,25}?\bmargins?\b|^[\s,;:]*(?:\w+\s*[;,]?\s+)?"
    r"(?:(?:is|are|was|were)\s+)?(?:\w+ly\s+)?(?:involved|invaded|infiltrated)\s+by"
)
_TYPE_FIELD = re_compile(
    r"(?i)(?:histolog(?:ic|ical)?\s+(?:tumou?r\s+)?type|tumou?r\s+type|histologic\s+"
    r"diagnosis|type\s+of\s+(?:carcinoma|tumou?r)|histology)\s*(?:\([^)]{0,25}\))?\s*"
    r"(?:[:\-]|\.(?=\s+[A-Z]))\s*(?P<value>[A-Za-z][^.;\n]{2,80})"
)
# Every match of _TYPE_FIELD starts with one of these.
_TYPE_FIELD_STARTS = ("histolog", "tumo", "type")
# Neoplasms OncoTree lists that are not cancers: they do not make a report malignant.
_NOT_MALIGNANT = re_compile(
    r"(?i)\b(?:adenoma|leiomyoma|fibroadenoma|nevus|naevus|papilloma|hemangioma|lipoma|"
    r"schwannoma|neurofibroma|cyst|hyperplasia|borderline|x?anthogranuloma|granuloma|"
    r"ganglioneuroma|oncocytoma|myelolipoma|angiomyolipoma|fibroma|hamartoma|intraductal\s+papillary\s+"
    r"mucinous\s+neoplasm|mucinous\s+cystic\s+neoplasm|benign)\b"
)
# "Tumor site: right upper lobe", "Primary site: ovary": a synoptic statement of the primary.
_PRIMARY_FIELD = re_compile(
    r"(?i)(?:tumou?r\s+site|primary\s+(?:tumou?r\s+)?site|site\s+of\s+(?:primary|tumou?r)|"
    r"tumou?r\s+location|primary\s+tumou?r\s+location|specimen\s+site)\s*[:\-]\s*$|"
    r"\btumou?r\s+(?:is\s+)?(?:located|situated|centered|centred)\s+(?:in|at)\s+(?:the\s+)?$"
)
# The label of the next specimen part ("F: Gallbladder ... G: Pancreaticoduodenectomy",
# "(C) ESOPHAGEAL MARGIN ... (D) TOTAL LARYNGECTOMY"): a site named before it describes
# another specimen. Letters only: numbered items are as often a synoptic's lines.
_PART_LABEL = re_compile(r"(?:^|(?<=[.;:]))\s*(?:\(\s*[A-Za-z]\d{0,2}\s*\)|(?:FS)?[A-Z]\d{0,2}"
                         r"\s*:|[A-Z]\d{0,2}[.)](?=\s))\s*(?=[A-Z\"'(])", re.MULTILINE)
# An acronym in a report written all in capitals may be a word ("ALL margins negative").
_ACRONYM_MAX = 4
_IN_SITU = re_compile(r"(?i)in\s+situ|intraepithelial|\bDCIS\b|\bLCIS\b|\bCIS\b")
_NOTE_SITE_WEIGHT_MIN = 2.0
SYNOPTIC_FIELD_WEIGHT = 2.0
FIELD_REACH = 3000  # a type field refines names written within this many characters
PART_LABEL_REACH = 80  # a site this close after a part label names that part's specimen
INCIDENTAL_FACTOR = 0.2  # a site counts note-wide when named in deciding sections


@dataclass(frozen=True)
class CancerCandidate:
    """One mention that may assert a cancer type, with what decides its weight."""

    code: str
    start: int
    end: int
    evidence: str  # text[evidence_start:evidence_end]
    evidence_start: int
    evidence_end: int
    weight: float  # section weight x how the code was reached
    derived: bool  # combined from a separate site and histology
    histology: str | None  # vocabulary histology key
    site: str | None  # vocabulary site key
    metastatic: bool
    distant: bool  # metastatic, and found in an organ of another tissue (implies M1)
    asserted: bool  # False when negated, hypothetical or historical
    section: str
    exact: bool = True  # False when read from OCR-damaged words
    negated: bool = False  # "not melanoma met", "negative for carcinoma"


def _vocabulary() -> Any:
    from trialmatch.nlp.vocab import get_vocabulary

    return get_vocabulary()


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in spans)


def _stated_primary(text: str, sites: list[Any], clause: tuple[int, int],
                    after: int) -> Any | None:
    """A site the clause names as the primary ("colorectal primary", "of lung origin")."""
    for site in sites:
        if not clause[0] <= site.start < clause[1]:
            continue
        tail = text[site.end : site.end + 25]
        head = text[max(clause[0], site.start - 40) : site.start]
        if _PRIMARY_AFTER.match(tail):
            return site
        if site.start >= after and _PRIMARY_BEFORE.search(head) and "primary" in (
                text[clause[0] : clause[1]].lower()):
            return site
        if site.start >= after and re.search(r"(?i)(?:consistent|compatible)\s+with\s+"
                                             r"(?:an?\s+)?(?:primary\s+)?$", head):
            return site
    return None


def _can_be_origin(text: str, site: Any) -> bool:
    """Whether a site mention can be where a tumour arose: not a lymph node, not a margin,
    not a structure the tumour is said to reach."""
    before = text[max(0, site.start - 40) : site.start]
    lowered = lowered_for_search(before)
    return not (_NODE_SITE.search(site.text)
                or (any(word in lowered for word in _REACHED_WORDS)
                    and _REACHED_SITE.search(before))
                or _NEGATED_SITE.search(text[max(0, site.start - 25) : site.start])
                or _TYPE_AFTER.match(text[site.end : site.end + 20])
                or _MARGIN_AFTER.match(text[site.end : site.end + 40]))


# "no laryngeal involvement", "without invasion of the bladder", "negative for": a site the
# note says the tumour does not reach is no origin.
_NEGATED_SITE = re_compile(r"(?i)\b(?:no|not|without|free\s+of|negative\s+for|spar(?:es|ing))"
                           r"\s+(?:\w+\s+){0,2}$")


def _spread_elsewhere(clause: str) -> bool:
    """Whether a clause calls a tumour metastatic other than to lymph nodes: "14 lymph node
    metastases" is regional spread (AJCC N), so the organ the clause names is still the
    primary's."""
    return any(not _NODE_SITE.search(clause[max(0, m.start() - 30) : m.end() + 30])
               for m in _METASTATIC.finditer(clause))


def _note_sites(text: str, origins: list[Any], sections: list[Section],
                clauses: list[tuple[int, int]]) -> list[str]:
    """The sites the note names in its deciding sections, most named first (`origins`, the
    sites that `_can_be_origin`; not a site whose clause calls the tumour there metastatic,
    "Right adrenal gland, FNA: metastatic squamous cell carcinoma")."""
    counts: Counter[str] = Counter()
    spread: dict[tuple[int, int], bool] = {}  # clause -> _spread_elsewhere, read once
    for site in origins:
        section = section_at(sections, site.start)
        weight = section.weight if section else 1.0
        if weight > 0:
            clause = clause_of(clauses, site.start)
            if clause not in spread:
                spread[clause] = _spread_elsewhere(text[clause[0] : clause[1]])
            if spread[clause]:
                continue
            counts[site.key] += weight
    return [key for key, weight in counts.most_common()
            if weight >= min(_NOTE_SITE_WEIGHT_MIN, 1.0)]


_SUBTYPE_TAIL = re_compile(
    r"(?i)^[\s,.;:\-]*(?:of\s+(?:the\s+)?)?(?:(?:conventional|classic(?:al)?|usual)\s*)?\(?"
    r"(?P<mod>[a-z][a-z\-]*(?:\s+[a-z][a-z\-]*){0,2}?(?:\s+cell)?)\)?\s+"
    r"(?:type|subtype|variant|histotype)\b"
)


def _narrower(vocab: Any, key: str, than: str) -> bool:
    """Whether histology `key` lies below `than` in the histology tree."""
    entry = vocab.histology(key)
    while entry is not None and entry.broader:
        if entry.broader == than:
            return True
        entry = vocab.histology(entry.broader)
    return False


def _subtype_words(text: str, end: int, clause_end: int) -> str | None:
    """"Renal cell carcinoma, clear cell type" -> "clear cell": a subtype written after the
    type, in the words a pathologist uses (type, subtype, variant)."""
    match = _SUBTYPE_TAIL.match(text[end : min(clause_end, end + 60)])
    return match.group("mod") if match else None


def _type_fields(text: str) -> list[tuple[int, str]]:
    """Values of "Histologic type:" / "Tumor type:" fields, with their offsets."""
    lowered = lowered_for_search(text)
    if "type" not in lowered and "histolog" not in lowered:
        return []  # every field label holds one of the two
    return [(m.start("value"), m.group("value").strip())
            for m in matches_at(_TYPE_FIELD, text, word_starts(lowered, _TYPE_FIELD_STARTS))]


def _caps_acronym(text: str, match: Any, clauses: list[tuple[int, int]]) -> bool:
    """A short all-capitals match inside an all-capitals clause: likely a word."""
    if len(match.text) > _ACRONYM_MAX or not match.text.isupper():
        return False
    clause = clause_of(clauses, match.start)
    letters = [ch for ch in text[clause[0] : clause[1]] if ch.isalpha()]
    return len(letters) > 12 and sum(ch.isupper() for ch in letters) > 0.8 * len(letters)


# The longest line read as a specimen line listing organs.
_SPECIMEN_LINE_MAX = 160


def _other_part(text: str, site: Any, start: int) -> bool:
    """Whether a site before a mention names another labelled specimen part: the site sits
    in a labelled item ("F: Gallbladder, cholecystectomy") and the next label comes before
    the mention ("G: Whipple procedure: ductal adenocarcinoma"). A heading above a lettered
    list of findings ("Esophagus, esophagectomy: A. invasive adenocarcinoma") is no part."""
    # endpos one past: the label's look-ahead reads the first letter after it.
    return bool(_PART_LABEL.search(text, site.end, start + 1)
                and _PART_LABEL.search(text, max(0, site.start - PART_LABEL_REACH),
                                       site.start + 1))


def _primary_field(text: str, sites: list[Any]) -> Any | None:
    """The site a synoptic field names as the tumour's site, if any."""
    for site in sites:
        before = text[max(0, site.start - 40) : site.start]
        lowered = lowered_for_search(before)
        # Every field label holds one of these words: the regex runs only where one is.
        if any(word in lowered for word in _PRIMARY_FIELD_WORDS) and _PRIMARY_FIELD.search(
                before):
            return site
    return None


_PRIMARY_FIELD_WORDS = ("site", "locat", "situated", "centered", "centred")


def find_cancer_candidates(
    text: str,
    sections: list[Section],
    *,
    abbreviations: dict[str, str] | None = None,
    entities: Any = (),
    vocabulary: Any = None,
    fuzzy: bool | None = None,
    clauses: list[tuple[int, int]] | None = None,
) -> list[CancerCandidate]:
    """Every mention that may assert a cancer type, with its weight and context.

    `fuzzy=None` tries exact matching first and OCR-tolerant matching only when the exact
    pass finds nothing asserted; True or False force one mode. `clauses` are the text's
    clause spans when the caller has them already (`context.clause_spans`).
    """
    vocab = vocabulary if vocabulary is not None else _vocabulary()
    clauses = clauses if clauses is not None else clause_spans(text)
    if fuzzy is None:
        found = _candidates(text, sections, vocab, abbreviations or {}, entities, clauses,
                            fuzzy=False)
        # Exact words suffice unless they only reach an organ ("carcinoma" of the lung while
        # the histology word is OCR-damaged: "adenocarcinorna").
        if any(c.asserted and c.weight > 0 and vocab.tissue_code(c.code) != c.code
               for c in found):
            return found
        fuzzy_found = _candidates(text, sections, vocab, abbreviations or {}, entities,
                                  clauses, fuzzy=True)
        return fuzzy_found if any(c.asserted and c.weight > 0 for c in fuzzy_found) else found
    return _candidates(text, sections, vocab, abbreviations or {}, entities, clauses,
                       fuzzy=fuzzy)


def _candidates(text: str, sections: list[Section], vocab: Any, abbreviations: dict[str, str],
                entities: Any, clauses: list[tuple[int, int]], *, fuzzy: bool
                ) -> list[CancerCandidate]:
    scan = join_broken_lines(text)
    direct = list(vocab.find_cancer_types(scan, fuzzy=fuzzy))
    # Abbreviations the note defines itself ("... carcinoma (HGSC)") that the vocabulary
    # does not know: each later use of the short form means the long form's cancer type.
    for short, long_form in abbreviations.items():
        codes = vocab.find_cancer_types(long_form)
        if not codes or vocab.find_cancer_types(short):
            continue
        if _NOT_MALIGNANT.search(long_form) or _UNCERTAIN_POTENTIAL.search(long_form) or (
                vocab.tissue_code(codes[0].key) == codes[0].key and
                not _MALIGNANT_WORDS.search(long_form)):
            continue  # "salivary gland neoplasm of uncertain malignant potential (SUMP)"
        for match in re.finditer(rf"(?<![A-Za-z0-9]){re.escape(short)}(?![A-Za-z0-9])", text):
            direct.append(type(codes[0])(codes[0].key, match.start(), match.end(),
                                         match.group(0), True))
    # A scispaCy model's entities (--model): phrases inside them are vocabulary-checked.
    for start, end, _label in entities:
        for match in vocab.find_cancer_types(text[start:end], fuzzy=fuzzy):
            direct.append(type(match)(match.key, start + match.start, start + match.end,
                                      match.text, match.exact))
    direct = [m for m in direct if not _caps_acronym(text, m, clauses)
              and not _NOT_MALIGNANT.search(vocab.name(m.key))
              and not _NOT_MALIGNANT.search(m.text)]
    sites = list(vocab.find_sites(scan, fuzzy=fuzzy))
    fields = _type_fields(text)
    field_starts = [field_start for field_start, _ in fields]
    # A type field without a histology noun ("Histologic type: Invasive lobular") names a
    # carcinoma: read it with the noun added.
    implied = []
    for start, value in fields:
        exact_codes = vocab.find_cancer_types(value)
        if exact_codes:
            if not fuzzy:
                # A type field is the report's statement of the type: an OCR-damaged subtype
                # word in it ("Chromophebe renal cell carcinoma") still refines the type the
                # exact words reach, never replaces it with another lineage.
                refined = [m for m in vocab.find_cancer_types(value, fuzzy=True)
                           if any(m.key != e.key and vocab.is_a(m.key, e.key)
                                  for e in exact_codes)]
                if refined:
                    direct.append(type(refined[0])(refined[0].key, start + refined[0].start,
                                                   start + refined[0].end, refined[0].text,
                                                   False))
            continue
        # "Urothelial (transitional cell) carcinoma", "lobular (E-cadherin negative)": read
        # without the aside, and with the noun added when the field leaves it out.
        as_written = {h.key for h in vocab.find_histologies(value)}
        unwrapped = " ".join(re.sub(r"[()]", " ", value).split())
        named = vocab.find_cancer_types(unwrapped) or vocab.find_cancer_types(
            f"{unwrapped} carcinoma")
        if _NOT_MALIGNANT.search(value):
            continue
        if named and not _NOT_MALIGNANT.search(vocab.name(named[0].key)):
            # "Conventional (clear cell) renal cell" -> clear cell renal cell carcinoma.
            direct.append(type(named[0])(named[0].key, start, start + len(value), value,
                                         named[0].exact))
            continue
        for words in (unwrapped, re.sub(r"\s*\([^)]*\)", "", value).strip()):
            found = vocab.find_histologies(words)
            if not found:
                found = [m for m in vocab.find_histologies(f"{words} carcinoma")
                         if m.end > len(words) and m.start < len(words)]
            found = [m for m in found if m.key not in as_written]
            if found:
                implied.append(type(found[0])(found[0].key, start, start + len(value), value,
                                              found[0].exact))
                break
    implied_spans = [(m.start, m.end) for m in implied]
    direct_spans = [(m.start, m.end) for m in direct]
    # A benign word is never read as a cancer, even when OCR repair would make it one
    # ("adenoma" is not a damaged "adenocarcinoma").
    histologies = implied + [h for h in vocab.find_histologies(scan, fuzzy=fuzzy)
                   if not _overlaps(h.start, h.end, direct_spans + implied_spans)
                   and not _NOT_MALIGNANT.search(h.text)]
    unknown_primary = next((site for site in sites if site.key == _UNKNOWN_PRIMARY), None)
    if unknown_primary is not None:
        # Words saying no primary was found are no site a tumour arose in.
        sites = [site for site in sites if site.key != _UNKNOWN_PRIMARY]
    origins = [site for site in sites if _can_be_origin(text, site)]
    # "findings favor metastatic head and neck SCC over a new lung primary": the origin the
    # pathologist gives a metastasis, for a diagnosis line naming no site of its own.
    favoured = next((site for site in sites if _FAVOURS_METASTASIS.search(
        text, max(0, site.start - 70), site.start)), None)
    note_sites = _note_sites(text, origins, sections, clauses)
    stated_site = _primary_field(text, sites)
    candidates: list[CancerCandidate] = []
    seen: set[tuple[str, int]] = set()

    def add(code: str, start: int, end: int, evidence_span: tuple[int, int], factor: float,
            derived: bool, histology: str | None, site: str | None, exact: bool) -> None:
        if (code, start) in seen or _NOT_MALIGNANT.search(vocab.name(code)):
            return
        seen.add((code, start))
        clause = clause_of(clauses, start)
        context = mention_context(text, start, end, clause)
        if context.other_person:
            return  # "Father with colon cancer at age 62": a relative's cancer
        section = section_at(sections, start)
        weight = (section.weight if section else 1.0) * factor
        if context.incidental:
            weight *= INCIDENTAL_FACTOR  # an incidental second tumour is not the case's cancer
        if any(field_start <= start < field_start + len(value) for field_start, value in
               fields[bisect.bisect_right(field_starts, start - 200) : bisect.bisect_right(
                   field_starts, start)]):
            # A "Histologic type:" field is a synoptic statement wherever the report puts it.
            weight = max(weight, SYNOPTIC_FIELD_WEIGHT * factor)
        metastatic = bool(_METASTATIC.search(text[max(clause[0], start - 40) : start]))
        # "... in keeping with metastasis from the known right choroidal (uveal) melanoma":
        # the primary a metastasis comes from is today's disease, however long known.
        historical = context.historical and not _ORIGIN_BEFORE.search(
            text[max(clause[0], start - 80):start])
        asserted = not (context.negated or context.hypothetical or historical)
        distant = False
        if metastatic:
            entry = vocab.entry(code)
            tissue = entry.tissue if entry else None
            for other in sites:
                near = clause[0] <= other.start < clause[1] or (
                    other.end <= start and start - other.end < 300
                    and section is not None and other.start >= section.start)
                if near and not _NODE_SITE.search(other.text):
                    other_entry = vocab.site(other.key)
                    if other_entry and tissue and other_entry.tissue and (
                            other_entry.tissue != tissue):
                        distant = True
        evidence = text[evidence_span[0] : evidence_span[1]]
        candidates.append(CancerCandidate(
            code=code, start=start, end=end, evidence=evidence,
            evidence_start=evidence_span[0], evidence_end=evidence_span[1],
            weight=weight, derived=derived, histology=histology, site=site,
            metastatic=metastatic, distant=distant, asserted=asserted,
            section=section.name if section else "body", exact=exact,
            negated=context.negated,
        ))

    def depth(code: str) -> int:
        return len(vocab.ancestors(code))

    site_starts = [site.start for site in sites]
    origin_starts = [site.start for site in origins]
    named_codes = frozenset(match.key for match in direct)

    def local_sites(start: int, clause: tuple[int, int]) -> list[tuple[Any, bool]]:
        """Sites that describe where a mention was found: in its clause, or on the
        specimen line just before it in the same section (flag: in the clause)."""
        section = section_at(sections, start)
        # The specimen line just above a section header names what the section describes
        # ("Left upper lobe bronchus, biopsy" / "Diagnosis: squamous cell carcinoma").
        floor = -1 if section is None else section.start
        if (section is not None and section.weight > 0 and section.header
                and text[max(0, section.start - 1) : section.start] == "\n"):
            # One line only, and only where the header starts a line: OCR output that
            # merged the lines has no line above.
            floor = max(text.rfind("\n", 0, max(0, section.start - 1)) + 1,
                        section.start - 160)
            above = section_at(sections, floor)
            if above is not None and above.weight == 0:
                floor = section.start
        found = []
        # Sites are in text order: look only at those from 300 characters before the
        # mention to the end of its clause (keeps long notes linear).
        first = bisect.bisect_left(origin_starts, min(clause[0], start - 320))
        last = bisect.bisect_left(origin_starts, clause[1])
        for site in origins[first:last]:
            if clause[0] <= site.start < clause[1]:
                found.append((site, True))
            elif (site.end <= start and start - site.end < 300 and site.start >= floor
                  and not _other_part(text, site, start)):
                found.append((site, False))
        return found

    def best_local(start: int, end: int, clause: tuple[int, int], histology: str,
                   ) -> tuple[str | None, str | None, tuple[int, int], float]:
        """The local site giving the most specific code (ties: in the clause, nearest)."""
        best: tuple[tuple[bool, bool, int, bool, int, int, int], str, str, tuple[int, int],
                   float] | None = None
        for site, in_clause in local_sites(start, clause):
            code = vocab.resolve(site.key, histology)
            if code is None:
                continue
            # The organ named beats the organ implied by a procedure ("Cervix, radical
            # hysterectomy"; "Kidney (nephrectomy)" after "Gallbladder (cholecystectomy)").
            organ = not _PROCEDURE.search(site.text)
            # Of the organs a specimen line lists ("Uterus, cervix, parametria and upper
            # vagina") that give equally specific codes, the one the report names this type
            # in elsewhere ("Clinical history: cervical squamous cell carcinoma on biopsy").
            # Then, of the organs one specimen line lists, the first: the organ the
            # procedure is for ("Uterus, cervix, bilateral tubes and ovaries" is a
            # hysterectomy specimen; "Bladder, prostate and seminal vesicles" a cystectomy).
            # (Only a real line: OCR output with no line breaks has no specimen lines.)
            line_start = text.rfind("\n", 0, site.start) + 1
            line_end = text.find("\n", site.start)
            short_line = 0 <= line_end - line_start <= _SPECIMEN_LINE_MAX
            lines_away = text.count("\n", min(site.start, start), max(site.start, start))
            rank = (in_clause, organ, depth(code), code in named_codes,
                    -lines_away if short_line else 0,
                    -(site.start - line_start) if short_line and not in_clause else 0,
                    -abs(site.start - start))
            if best is None or rank > best[0]:
                span = (min(start, site.start), max(end, site.end))
                best = (rank, code, site.key, span, 1.0 if in_clause else 0.8)
        if best is None:
            return None, None, (start, end), 1.0
        return best[1], best[2], best[3], best[4]

    for match in direct:
        clause = clause_of(clauses, match.start)
        code, site_key, span, derived = match.key, vocab.site_of(match.key), (
            match.start, match.end), False
        histology = vocab.histology_of(match.key)
        # A named type made more specific by where it was found: "malignant melanoma" on
        # skin -> cutaneous melanoma (only ever a code below the named one).
        if histology and vocab.descendants(match.key):
            local_code, local_site, local_span, _ = best_local(match.start, match.end, clause,
                                                               histology)
            if local_code and local_code != code and (
                    vocab.is_a(local_code, code) or (
                        vocab.histology_of(local_code) == histology
                        and depth(local_code) >= depth(code))):
                code, site_key, span, derived = local_code, local_site, local_span, True
        elif histology and vocab.has_site_twin(code):
            # A type named without its organ that has a twin of the same histology in the
            # organ the clause names ("Kidney, nephroureterectomy: urothelial carcinoma" is
            # upper tract, not bladder), unless the clause also names the type's own organ.
            local = [(site, vocab.resolve(site.key, histology))
                     for site, in_clause in local_sites(match.start, clause) if in_clause]
            twins = [(site, found) for site, found in local if found and found != code
                     and vocab.histology_of(found) == histology]
            if twins and not any(found == code for _, found in local):
                site, code = twins[0]
                site_key, derived = site.key, True
                span = (min(match.start, site.start), max(match.end, site.end))
            elif not local and stated_site is not None:
                # No organ in the clause: the synoptic "Tumor Site:" decides the twin
                # ("Tumor Site: Renal pelvis" ... "Histologic Type: Urothelial carcinoma").
                found = vocab.resolve(stated_site.key, histology)
                if found and found != code and vocab.histology_of(found) == histology:
                    code, site_key, derived = found, stated_site.key, True
        if histology and not derived:
            # A type named with its usual organ but a primary stated elsewhere in the clause:
            # "high-grade serous carcinoma, consistent with recurrence of patient's known
            # uterine primary" is uterine serous carcinoma, not ovarian.
            clause_sites = sites[bisect.bisect_left(site_starts, clause[0]):
                                 bisect.bisect_left(site_starts, clause[1])]
            primary = _stated_primary(text, clause_sites, clause, match.end)
            stated = vocab.resolve(primary.key, histology) if primary is not None else None
            if stated and stated != code and not vocab.is_a(stated, code) and \
                    not vocab.is_a(code, stated):
                code, site_key, derived = stated, primary.key, True
                span = (min(match.start, primary.start), max(match.end, primary.end))
        # Subtype words after the name ("renal cell carcinoma, clear cell type"), else a
        # type field elsewhere in the note ("Histologic type: chromophobe").
        modifiers = [_subtype_words(text, match.end, clause[1])] + [
            " ".join(re.sub(r"[()]", " ", value).split()[:4]) for field_start, value in fields
            if abs(field_start - match.start) <= FIELD_REACH]
        # The name as a phrase: OCR's merged lines leave "renal cell. carcinoma".
        name = " ".join(re.sub(r"(?<=[A-Za-z])\.(?=\s)", " ", match.text).split())
        for modifier in filter(None, modifiers):
            # "papillary cell type" names papillary renal cell carcinoma.
            shorter = re.sub(r"(?i)\s+cells?$", "", modifier)
            refined = [r.key for words in dict.fromkeys((modifier, shorter))
                       for r in vocab.find_cancer_types(f"{words} {name}")
                       if r.key != code and vocab.is_a(r.key, code)]
            if refined:
                code = refined[0]
                break
        if span[1] - span[0] > 240:
            span = (match.start, match.end)
        add(code, match.start, match.end, span, 1.0, derived, histology, site_key, match.exact)
    for hist in histologies:
        if hist.key == "carcinoma" and _INVOLVED_BY.search(text, max(0, hist.start - 40),
                                                           hist.start):
            continue  # "prostate involved by carcinoma": the tumour already named, spreading
        clause = clause_of(clauses, hist.start)
        subtype = _subtype_words(text, hist.end, clause[1])
        if subtype:
            # Only a narrower histology: "adenocarcinoma, tubular type (Lauren intestinal
            # type)" stays tubular (WHO) rather than turning into the other system's name.
            refined = [h for h in vocab.find_histologies(f"{subtype} {hist.text}")
                       if h.key != hist.key and _narrower(vocab, h.key, hist.key)]
            if refined:
                hist = type(hist)(refined[0].key, hist.start, hist.end, hist.text, hist.exact)
        metastatic = bool(_METASTATIC.search(text[max(clause[0], hist.start - 40) : hist.start]))
        in_clause = sites[bisect.bisect_left(site_starts, clause[0]) :
                          bisect.bisect_left(site_starts, clause[1])]
        primary = _stated_primary(text, in_clause, clause, hist.end)
        if primary is None and metastatic:
            # "Metastatic cervical SCC", "metastatic lung SCC": the organ written right before
            # the histology names it (metastatic from there), unlike "metastatic SCC in the
            # lung" (where it was found).
            primary = next((site for site in in_clause if site.end <= hist.start and
                            not text[site.end:hist.start].strip(" -") and
                            _METASTATIC.search(text[max(clause[0], hist.start - 40):site.start])),
                           None)
        code: str | None = None
        site_key: str | None = None
        factor = 1.0
        span = (hist.start, hist.end)
        if primary is not None:
            code = vocab.resolve(primary.key, hist.key)
            site_key = primary.key
            span = (min(hist.start, primary.start), max(hist.end, primary.end))
        elif stated_site is not None and vocab.resolve(stated_site.key, hist.key):
            # The synoptic "Tumor site:" decides for every histology mention of the note.
            code = vocab.resolve(stated_site.key, hist.key)
            site_key = stated_site.key
        elif favoured is not None and not any(site.end <= hist.start for site in in_clause) \
                and vocab.resolve(favoured.key, hist.key):
            code = vocab.resolve(favoured.key, hist.key)
            site_key, metastatic = favoured.key, True
        elif not metastatic:
            code, site_key, span, factor = best_local(hist.start, hist.end, clause, hist.key)
            if code is not None and site_key is None:
                factor = 0.3
        if code is None and note_sites and not metastatic:
            # The most named site that has a type for this histology: "adenocarcinoma" in
            # a lobectomy that names the pleura it reaches more often than the lung.
            for note_site in note_sites:
                code = vocab.resolve(note_site, hist.key)
                if code is not None and hist.key != "carcinoma" and vocab.histology_of(
                        code) in (None, "carcinoma"):
                    # A guess from elsewhere in the note must fit this histology itself,
                    # not only as "a carcinoma": squamous cell carcinoma in a report that
                    # names the ovaries most is not an ovarian carcinoma.
                    code = None
                if code is not None:
                    site_key, factor, span = note_site, 0.6, (hist.start, hist.end)
                    break
        if code is None and metastatic and unknown_primary is not None:
            # "Metastatic adenocarcinoma. Primary site not determined": a cancer of unknown
            # primary of that histology (OncoTree ADNOS, SCCNOS, CUPNOS).
            code = vocab.resolve(unknown_primary.key, hist.key)
            site_key, factor, span = unknown_primary.key, 0.6, (hist.start, hist.end)
        if code is None:
            code = vocab.resolve(None, hist.key)
            site_key, factor, span = None, 0.3, (hist.start, hist.end)
        if code is None:
            continue
        if span[1] - span[0] > 240:
            span = (hist.start, hist.end)
        add(code, hist.start, hist.end, span, factor, site_key is not None, hist.key, site_key,
            hist.exact)
    candidates.sort(key=lambda c: c.start)
    return candidates


# Statements of spread beyond the regional nodes (AJCC 8th ed.: M1 -> stage IV). A field
# label such as "Distant metastasis: not applicable" is not one.
_DISTANT_STATEMENT = re_compile(
    r"(?i)\b(?:metastatic\s+disease|widely\s+metastatic|disseminated\s+disease|"
    r"metastas[ie]s\s+to\s+(?:the\s+)?(?:liver|lungs?|bones?|brain|adrenals?|peritoneum|"
    r"omentum|pleura|ovar(?:y|ies)|contralateral\s+lung)|"
    r"(?:liver|hepatic|lung|pulmonary|bone|osseous|skeletal|brain|adrenal|peritoneal)\s+"
    r"metastas[ie]s|"
    r"distant\s+metastas[ie]s\s+(?:is\s+|are\s+)?(?:present|identified|confirmed))"
)
# Every match of _DISTANT_STATEMENT starts with one of these.
_DISTANT_STARTS = ("metasta", "widely", "disseminated", "liver", "hepatic", "lung", "pulmonary",
                   "bone", "osseous", "skeletal", "brain", "adrenal", "peritoneal", "distant")


def find_distant_statements(text: str, sections: list[Section],
                            clauses: list[tuple[int, int]] | None = None
                            ) -> list[tuple[int, int, str]]:
    """Asserted statements that the cancer has spread to distant sites, as (start, end,
    words); negated, hypothetical and clinical-history statements are left out."""
    clauses = clauses if clauses is not None else clause_spans(text)
    found = []
    lowered = text.lower()
    if "metasta" not in lowered and "disseminated" not in lowered:
        return found  # every statement names metastasis or dissemination
    # Tried only where a statement's first word starts (the regex engine would try every
    # character of the note).
    starts = word_starts(lowered_for_search(text), _DISTANT_STARTS)
    for match in matches_at(_DISTANT_STATEMENT, text, starts):
        section = section_at(sections, match.start())
        if section is not None and section.weight == 0:
            continue
        clause = clause_of(clauses, match.start())
        # "metastatic disease in 1 of 47 lymph nodes" is regional (N), not distant (M).
        if _NODE_SITE.search(text[clause[0] : clause[1]]) or re.search(
                r"\d+\s*/\s*\d+", text[clause[0] : clause[1]]):
            continue
        context = mention_context(text, match.start(), match.end(), clause)
        if context.negated or context.hypothetical or context.historical or \
                context.other_person:
            continue
        found.append((match.start(), match.end(), match.group(0)))
    return found


def choose_cancer_type(candidates: list[CancerCandidate], vocabulary: Any = None
                       ) -> CancerCandidate | None:
    """The candidate that decides the note's cancer type, or None when nothing is asserted.

    Support for a code is the weight of every asserted mention of it or of a code below it;
    the best-supported code wins, then the most specific supported code beneath it.
    """
    vocab = vocabulary if vocabulary is not None else _vocabulary()
    asserted = [c for c in candidates if c.asserted and c.weight > 0]
    if not asserted or all(_neutral(vocab, c) for c in asserted):
        # "Oncocytic renal neoplasm", "renal tumours": an organ's tumour, said in words that
        # make no malignancy, is no cancer type (a renal oncocytoma is one).
        return None
    invasive = [c for c in asserted if not _is_in_situ(vocab, c.code)]
    if invasive:
        asserted = invasive
    own: Counter[str] = Counter()
    for candidate in asserted:
        own[candidate.code] += candidate.weight
    lineage = {code: [code, *vocab.ancestors(code)] for code in own}
    support: Counter[str] = Counter()
    for code, weight in own.items():
        for node in lineage[code]:
            support[node] += weight
    # The best-supported code among those mentioned; ties go to the more specific.
    top = max(own, key=lambda code: (support[code], len(lineage[code]), own[code]))
    # Descend, step by step, to the best-supported mentioned code below: kidney -> renal
    # cell carcinoma -> clear cell renal cell carcinoma.
    while True:
        below = [code for code in own if code != top and top in lineage[code]]
        if not below:
            break
        top = max(below, key=lambda code: (support[code], len(lineage[code]), own[code]))
    if _NOS.search(vocab.name(top)):
        # "Sarcoma, NOS" from a meeting's or a specialty's name ("the sarcoma MDT") outvotes
        # nothing: a specific type of the same tissue stated in a diagnosis is the answer.
        tissue = vocab.tissue_code(top)
        specific = [code for code in own if code != top and not _NOS.search(vocab.name(code))
                    and vocab.tissue_code(code) == tissue and
                    max(c.weight for c in asserted if c.code == code) >= _DIAGNOSIS_WEIGHT]
        if specific:
            top = max(specific, key=lambda code: (own[code], len(lineage[code])))
    mentions = [c for c in asserted if c.code == top]
    return max(mentions, key=lambda c: (c.weight, not c.metastatic, -c.start))


_NOS = re_compile(r",\s*NOS\b|\bNOS$")
# The weight of a final diagnosis or synoptic statement (sections.json).
_DIAGNOSIS_WEIGHT = 3.0


# A metastasis's origin, named before the primary's type: "metastasis from the known",
# "metastatic from her previous", "spread from the patient's".
_ORIGIN_BEFORE = re_compile(
    r"(?i)\b(?:metasta\w*|spread|deposits?|secondar\w*|recurren\w*)\s+(?:\w+\s+){0,2}?(?:from|of)"
    r"\s+(?:the\s+|a\s+|an\s+|her\s+|his\s+|their\s+|(?:the\s+)?patient'?s\s+)?"
    r"(?:[\w()-]+\s+){0,5}$")
_FAVOURS_METASTASIS = re_compile(
    r"(?i)\b(?:favou?rs?|favou?ring|favou?red|consistent\s+with|compatible\s+with|in\s+keeping"
    r"\s+with|suggestive\s+of|represents?|most\s+likely)\s+(?:an?\s+)?(?:metastatic|metastasis\s+"
    r"(?:of|from)|recurrent|recurrence\s+of)\s+(?:(?:the|her|his)\s+)?(?:patient'?s\s+)?"
    r"(?:(?:prior|known|previous|original)\s+)?$")
_UNKNOWN_PRIMARY = "unknown primary"  # sites.json: the site of a cancer of unknown primary
_UNCERTAIN_POTENTIAL = re_compile(r"(?i)uncertain\s+(?:malignant|biologic\w*)\s+potential")
_NEUTRAL_WORDS = re_compile(r"(?i)\b(?:neoplasms?|tumou?rs?|mass(?:es)?|lesions?|growths?|"
                            r"nodules?)\b")
_MALIGNANT_WORDS = re_compile(r"(?i)cancer|carcinom|malignan|sarcom|lymphom|leuk|myelom|"
                              r"melanom|blastom|metasta|neuroendocrine|invasive")


def _neutral(vocab: Any, candidate: CancerCandidate) -> bool:
    """An organ named with a tumour word that makes no malignancy ("renal neoplasm")."""
    return vocab.tissue_code(candidate.code) == candidate.code and bool(
        _NEUTRAL_WORDS.search(candidate.evidence)) and not _MALIGNANT_WORDS.search(
        candidate.evidence)


def _is_in_situ(vocab: Any, code: str) -> bool:
    return bool(_IN_SITU.search(vocab.name(code)))


def cancer_type_of(candidate: CancerCandidate, vocabulary: Any = None) -> CancerType:
    """The models.CancerType for a chosen candidate."""
    vocab = vocabulary if vocabulary is not None else _vocabulary()
    return CancerType(code=candidate.code, name=vocab.name(candidate.code),
                      evidence=candidate.evidence, start=candidate.evidence_start,
                      end=candidate.evidence_end,
                      derived=candidate.derived)
