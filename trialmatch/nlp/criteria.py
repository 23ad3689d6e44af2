"""Eligibility criteria text -> inclusion/exclusion criteria with structured requirements.

`split_criteria` cuts the free text into criteria as written (headers, lists, nested
sub-bullets, cohort blocks); `parse_criterion` (in `requirements.py`) reads the
requirements each states; `annotate_trial` does both for a trial record and adds the
structured age/sex fields, so the store can keep the result with `PARSER_VERSION`.

Pure functions over strings and dataclasses: no spaCy object leaves this module.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from trialmatch.models import EligibilityCriterion, Requirement, TrialAnnotation, TrialText
from trialmatch.nlp.acronyms import defined_acronyms, uses_of
from trialmatch.nlp.conditions import (
    distant_metastasis_sites,
    load_conditions,
    trial_conditions,
)
from trialmatch.nlp.parser_version import parser_version
from trialmatch.nlp.requirements import (
    merge_alternatives,
    parse_criterion,
    parse_in_context,
)
from trialmatch.nlp.requirements_cancer import (
    drop_own_disease,
    find_cancer_requirements,
    prefer_other_disease,
    trial_oncotree_codes,
)
from trialmatch.nlp.requirements_common import may_hold
from trialmatch.nlp.requirements_rules import get_rules
from trialmatch.nlp.vocab import get_vocabulary
from trialmatch.regex_cache import re_compile

# Bump whenever splitting or parsing rules change: the store re-parses older annotations.
PARSER_VERSION = parser_version()

__all__ = ["PARSER_VERSION", "annotate_trial", "normalise_criteria_text", "parse_criterion",
           "split_criteria"]

# ClinicalTrials.gov stores criteria as markdown, escaping ">", "<", "*", "&" with a backslash
# ("Age \>18"). Replacing the backslash by a space keeps every offset valid.
_MARKDOWN_ESCAPE = re_compile(r"\\(?=[^\w\s])")
_BULLET = re_compile(
    r"""^(?:
        [*\-–—•·◦▪►▸○■□●‣⁃](?=\s|\S)(?!\d)          # bullet characters ("-1" stays a number)
      | \d{1,2}(?:\s?\.\d{1,2})*\s?[.)](?=\s|[A-Za-z(])   # 1.  1)  1.2.  10 .
      | \(\d{1,2}\)                                  # (1)
      | \(?[a-zA-Z]\)(?=\s)                          # a)  (b)
      | [a-zA-Z]\.(?=\s)                             # a.
      | \(?(?:i|ii|iii|iv|v|vi|vii|viii|ix|x)[.)](?=\s)   # ii.  (iv)
      | o(?=\s)                                      # "o" used as a sub-bullet in Word exports
    )\s*""",
    re.X,
)
_LABEL_DECORATION = re_compile(r"^[\s#*_>\-]+|[\s#*_:.\-]+$")
_WORD = re_compile(r"\S+")


# Whitespace other than the newline and the plain space (replacing a space by itself only
# made a new string of every criteria text, space by space).
_ODD_WHITESPACE = re_compile(r"[^\S\n ]")


def normalise_criteria_text(text: str) -> str:
    """Undo markdown backslash escapes and turn every whitespace character but the newline
    (tab, CR, NBSP, em space, NEL...) into a plain space, one for one: the length does not
    change, so offsets stay valid, and indentation is measured the same way everywhere."""
    return _MARKDOWN_ESCAPE.sub(" ", _ODD_WHITESPACE.sub(" ", text))


@dataclass
class _Node:
    """One non-empty line of the criteria text, placed in the list tree."""

    start: int
    end: int
    text: str
    key: float  # indentation; labels sit half a step left of the items they introduce
    kind: str
    cohort: str | None
    bulleted: bool
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)
    negative: bool | None = None  # a negative lead-in (see _negative_lead_in), once known

    @property
    def is_lead_in(self) -> bool:
        return bool(self.children) and self.text.rstrip().endswith(":")


@dataclass
class CriterionPiece:
    """A criterion with what its parser needs beyond its own words.

    `context` is the text of its lead-in lines ("Patients must have one of the following:"),
    `alternatives` the (start, end, context) of the sub-bullets of a merged one-of-the-following
    group, relative to the criterion's text.
    """

    criterion: EligibilityCriterion
    context: str = ""
    alternatives: list[tuple[int, int, str]] = field(default_factory=list)
    lead_in: bool = False


def _header_kind(label: str, bulleted: bool = False) -> str | None:
    rules = get_rules()
    lower = label.lower()
    if len(label) > 120 or not any(map(lower.__contains__, rules.header_words)):
        return None  # every header names one of these words: skip the patterns
    label = _LABEL_DECORATION.sub("", label)
    if not label or len(label) > 90:
        return None
    for header in rules.section_headers:
        if (header.bulleted or not bulleted) and header.pattern.match(label):
            return header.kind
    return None


def _cohort_label(text: str) -> tuple[str | None, int]:
    """The cohort named at the start of `text` ("Cohort A", "Part 1") and where it ends."""
    rules = get_rules()
    match = rules.cohort_label.match(text)
    if not match:
        return None, 0
    label = " ".join(match.group("label").split())
    if len(label) < 3:
        return None, 0
    return label[0].upper() + label[1:], match.end()


# A criterion scoped to one cohort in its own words: "... is not allowed for patients
# enrolled to Cohort B", "(Phase Ib patients only)", "(for phase II part)".
_COHORT_NAME = r"(?:[A-Z]{1,2}\d{0,2}|\d{1,2}[A-Za-z]?|I{1,3}V?[ab]?)"
_COHORT_WITHIN = re_compile(
    rf"\((?:for\s+(?:the\s+)?)?(?P<a>cohort|arm|part|group|phase)\s+(?P<an>{_COHORT_NAME})"
    r"(?:\s+(?:patients|participants|subjects|part|portion))?(?:\s+only)?\)|"
    r"\bfor\s+(?:patients|participants|subjects)\s+(?:enrolled|randomi[sz]ed|assigned|treated)"
    rf"\s+(?:to|in|into|on)\s+(?:the\s+)?(?P<b>cohort|arm|part|group)\s+(?P<bn>{_COHORT_NAME})"
    r"\b|"
    # "subjects enrolled in the Dose Confirmation Phase must meet the following criteria:"
    r"\b(?:patients|participants|subjects)\s+(?:enrolled|treated|included)\s+(?:in|into|to)\s+"
    r"(?:the\s+)?(?P<c>(?:dose[\s-]+)?(?:confirmation|expansion|escalation|extension)\s+"
    r"(?:phase|part|cohort))\b", re.IGNORECASE)


# Every match of _COHORT_WITHIN holds one of these words (in some case).
_COHORT_WORDS = ("cohort", "arm", "part", "group", "phase")


def _cohort_named_within(text: str) -> str | None:
    """The one cohort a criterion names as its scope (see `_COHORT_WITHIN`), or None."""
    if not may_hold(text, _COHORT_WORDS):
        return None  # most criteria: no scan
    labels = set()
    for match in _COHORT_WITHIN.finditer(text):
        if match.group("c"):
            labels.add(" ".join(word.capitalize() for word in match.group("c").split()))
            continue
        kind, name = (match.group("a"), match.group("an")) if match.group("a") else \
            (match.group("b"), match.group("bn"))
        roman = re.fullmatch(r"([iv]+)([ab]?)", name, re.IGNORECASE)
        name = roman.group(1).upper() + roman.group(2).lower() if roman else name.upper()
        labels.add(f"{kind.capitalize()} {name}")
    return labels.pop() if len(labels) == 1 else None


_LABEL_WORDS = frozenset({"part", "parts", "cohort", "cohorts", "arm", "arms", "group", "groups",
                          "and", "or", "to", "phase"})
_LABEL_TOKEN = re_compile(r"[\w.]+|[^\s\w]")
_LABEL_NAME = re_compile(r"(?i)^(?:[a-z]?\d{0,2}[a-z]?|i{1,3}v?[ab]?|iv[ab]?)$")


def _labels_only(text: str) -> bool:
    """A line of cohort names and nothing else ("Part 1 and Part 2 (Cohorts A to C)")."""
    tokens = _LABEL_TOKEN.findall(text.strip().rstrip(":"))
    words = [t.lower() for t in tokens if t[0].isalnum() or t[0] == "_"]
    return bool(words) and words[0] in _LABEL_WORDS - {"and", "or", "to"} and all(
        t in _LABEL_WORDS or _LABEL_NAME.match(t) for t in words) and all(
        t in ",()&-–/" for t in tokens if not (t[0].isalnum() or t[0] == "_"))


def _is_label_only(text: str) -> bool:
    """A short line that only introduces what follows ("Hematopoietic:", "Cohort A:")."""
    stripped = text.strip()
    return stripped.endswith(":") and len(_WORD.findall(stripped)) <= 8


# "... informed consent. Exclusion Criteria Prior receipt of ..." — a header run into a
# paragraph (some records lost their line breaks). Split there, keeping offsets.
_INLINE_HEADER = re_compile(
    r"(?:(?<=^)|(?<=[.;:!?]\s)|(?<=[.;:!?]))\s*(?P<header>(?:key\s+|main\s+)?"
    r"(?:inclusion|exclusion)\s+criteria)\b\s*:?\s*", re.IGNORECASE)


def _lines(text: str):
    pos = 0
    for raw in text.split("\n"):
        start, end = pos, pos + len(raw)
        pos = end + 1
        if not raw.strip():
            continue
        cut = start
        if _header_kind(raw.strip()) is not None:
            yield start, end, raw  # the whole line is a header ("Inclusion Criteria (all):")
            continue
        if raw.isascii() and "criteria" not in raw.lower():
            # Every inline header says "criteria" (non-ASCII lines take the pattern itself:
            # it matches "İ" as "i" under IGNORECASE, which lower() does not give).
            matches = ()
        else:
            matches = _INLINE_HEADER.finditer(raw)
        for match in matches:
            header_start = start + match.start("header")
            if raw[match.end():].strip() == "" and match.start("header") == len(raw) - len(
                    raw.lstrip()):
                continue  # an ordinary header line
            if header_start > cut and text[cut:header_start].strip():
                yield cut, header_start, text[cut:header_start]
            yield header_start, start + match.end("header"), match.group("header")
            cut = start + match.end()
        if cut == start:
            yield start, end, raw
        elif text[cut:end].strip():
            yield cut, end, text[cut:end]


def _build_tree(text: str) -> list[_Node]:
    """All criterion lines in order, linked to the lead-in or bullet they sit under."""
    rules = get_rules()
    kind = "inclusion"  # texts without headers are inclusion criteria
    cohort: str | None = None
    cohort_key: float | None = None  # cohort blocks end at a line at or left of their header
    stack: list[_Node] = []
    nodes: list[_Node] = []
    # A lead-in item ending in ":" ("10. Patients must have one of the following:") whose
    # items below wear another kind of bullet at the same indentation ("* Creatinine >= 2
    # mg/dL"): those items are its sub-bullets, until an item of its own kind ("11.").
    open_lead: tuple[int, str] | None = None
    for line_start, _line_end, raw in _lines(text):
        indent = len(raw) - len(raw.lstrip(" "))
        body = raw.strip()
        bullet = _BULLET.match(body)
        bulleted = bool(bullet and bullet.end() < len(body))
        content = body[bullet.end():] if bulleted else body
        content_start = line_start + indent + (bullet.end() if bulleted else 0)
        content = content.rstrip()
        if not content.strip("*_#:-. "):
            continue
        key = float(indent)
        marker = _marker_type(bullet.group()) if bulleted and bullet else ""
        if open_lead is not None:
            if bulleted and indent == open_lead[0] and marker != open_lead[1]:
                key += 0.5
            elif not bulleted or indent < open_lead[0] or marker == open_lead[1]:
                open_lead = None
        if bulleted and content.endswith(":") and len(content) < 160 and open_lead is None:
            open_lead = (indent, marker)
        # A header may carry its first criterion on the same line ("Inclusion criteria: age...").
        header = _header_kind(content, bulleted)
        rest_offset = 0
        if header is None and ":" in content[:60]:
            head, _, rest = content.partition(":")
            header = _header_kind(head, bulleted)
            if header is not None and rest.strip():
                rest_offset = len(head) + 1 + (len(rest) - len(rest.lstrip()))
        if header is not None:
            kind = header
            stack.clear()
            label, _ = _cohort_label(_cohort_tail(content))
            cohort, cohort_key = (label, -1.0) if label else (None, None)
            if not rest_offset:
                continue
            content = content[rest_offset:]
            content_start += rest_offset
        if cohort_key is not None and key <= cohort_key and cohort is not None:
            cohort, cohort_key = None, None
        if rules.cohort_all.match(content) and _is_label_only(content):
            cohort, cohort_key = None, None
            continue
        label, label_end = _cohort_label(content)
        if label and not bulleted and _labels_only(content):
            # "Part 1 and Part 2 (Cohorts A to C)", "Part 2 (Cohorts D to G)": a heading of
            # cohort names only; the lines below are that group of cohorts'.
            label, label_end = " ".join(content.rstrip(" :").split()), len(content)
        elif label and not bulleted and ":" in content[label_end:label_end + 40] and \
                _labels_only(content[:content.index(":", label_end)]) and \
                content[content.index(":", label_end) + 1:].strip(" :.-") and \
                not _PART_HEADING.match(content[content.index(":", label_end) + 1:].lstrip()):
            # "Part 2 (Cohort H): confirmed diagnosis of WM; ...": the heading and its
            # first criterion on one line.
            head = content[:content.index(":", label_end)]
            cohort, cohort_key = " ".join(head.split()), key - 0.5
            while stack and stack[-1].key >= cohort_key:
                stack.pop()
            rest = content[len(head) + 1:]
            content_start += len(head) + 1 + (len(rest) - len(rest.lstrip()))
            content = rest.strip()
            label, label_end = cohort, 0
        if label and (_is_label_only(content) or not content[label_end:].strip(" :.-")
                      or _PART_HEADING.match(content[label_end:].lstrip(" :.-"))):
            # "Cohort A:", and a part's own heading over the list that follows ("Part A1:
            # Monotherapy Dose Escalation Inclusion Criteria"): the lines below are its.
            heading_kind = _header_kind(content[label_end:].strip(" :.-"), bulleted)
            if heading_kind is not None and heading_kind != kind:
                kind = heading_kind
                stack.clear()
            cohort = label
            cohort_key = key if bulleted else key - 0.5
            while stack and stack[-1].key >= cohort_key:
                stack.pop()
            continue
        if not bulleted and _is_label_only(content):
            key -= 0.5  # "Hepatic:" introduces the unbulleted lines that follow it
        while stack and stack[-1].key >= key:
            stack.pop()
        parent = stack[-1] if stack else None
        node_kind = parent.kind if parent else kind
        if parent is not None and _negative_lead_in(parent, rules):
            node_kind = "exclusion"
        # (A label line nested in an item, "3. ... for each of the parts:" + "Part 1:", heads
        # the lines below it though their parent is the item.)
        node_cohort = label if label else (parent.cohort if parent and parent.cohort else cohort)
        node = _Node(content_start, content_start + len(content), content, key, node_kind,
                     node_cohort, bulleted, parent)
        if parent is not None:
            parent.children.append(node)
        stack.append(node)
        nodes.append(node)
    return nodes


# The rest of a cohort's heading line: "... Inclusion Criteria", "... Exclusion criteria:",
# "... Eligibility Criteria".
_PART_HEADING = re_compile(r"(?i)^[^.;:]{0,100}\b(?:inclusion|exclusion|eligibility)\s+criteria"
                           r"\s*:?\s*$")


def _marker_type(bullet: str) -> str:
    """The kind of a list marker: numbered ("10.", "(1)") or a bullet character ("*", "-")."""
    return "number" if any(ch.isdigit() for ch in bullet) else "symbol"


def _negative_lead_in(node: _Node, rules) -> bool:
    """Does the line introduce criteria the patient must not meet ("Patients must not have:")?
    Asked once per line, however many sub-bullets it has."""
    if node.negative is None:
        node.negative = any(p.search(node.text) for p in rules.negative_lead_ins)
    return node.negative


def _cohort_tail(header: str) -> str:
    """The part of a section header after 'for'/'-' that may name a cohort."""
    match = re.search(r"(?:\b(?:for|in)\b|[-–(])\s*(?:the\s+)?(.+)$", header, re.IGNORECASE)
    return match.group(1) if match else ""


def _descendants(node: _Node) -> list[_Node]:
    out: list[_Node] = []
    for child in node.children:
        out.append(child)
        out.extend(_descendants(child))
    return out


def _context(node: _Node) -> str:
    """The lead-in texts above a sub-bullet, nearest last (at most two levels)."""
    chain: list[str] = []
    parent = node.parent
    while parent is not None and len(chain) < 2:
        chain.append(parent.text)
        parent = parent.parent
    return "\n".join(reversed(chain))


def split_pieces(text: str) -> list[CriterionPiece]:
    """Split criteria text into criteria with their lead-in context (see `split_criteria`)."""
    rules = get_rules()
    clean = normalise_criteria_text(text or "")
    nodes = _build_tree(clean)
    pieces: list[CriterionPiece] = []
    consumed: set[int] = set()
    for node in nodes:
        if id(node) in consumed:
            continue
        descendants = _descendants(node)
        is_alternative_group = (
            node.kind == "inclusion" and descendants
            and any(p.search(node.text) for p in rules.alternative_lead_ins)
            and not _negative_lead_in(node, rules))
        if is_alternative_group:
            # "Must have one of the following:" + sub-bullets is ONE criterion met by any
            # sub-bullet; split apart, the matcher would demand all of them.
            end = max(d.end for d in descendants)
            criterion = EligibilityCriterion(
                kind=node.kind, text=clean[node.start:end], position=0, start=node.start,
                end=end, cohort=node.cohort)
            alternatives = [(d.start - node.start, d.end - node.start, _context(d))
                            for d in node.children]
            consumed.update(id(d) for d in descendants)
            pieces.append(CriterionPiece(criterion, _context(node), alternatives))
            continue
        named = None if node.cohort else _cohort_named_within(node.text)
        if named and node.is_lead_in:
            # A lead-in naming its cohort ("subjects enrolled in the Dose Confirmation Phase
            # must meet the following criteria:") scopes its sub-bullets too.
            for below in descendants:
                below.cohort = below.cohort or named
        criterion = EligibilityCriterion(
            kind=node.kind, text=node.text, position=0, start=node.start, end=node.end,
            cohort=node.cohort or named)
        pieces.append(CriterionPiece(criterion, _context(node), lead_in=node.is_lead_in))
    for position, piece in enumerate(pieces):
        piece.criterion.position = position
    return pieces


def split_criteria(text: str) -> list[EligibilityCriterion]:
    """Split eligibility text into inclusion/exclusion criteria as written, in order.

    Recognises headers in their many forms (modern, "Key inclusion criteria", old NCI PDQ
    "DISEASE CHARACTERISTICS:"), numbered/bulleted/nested lists and cohort blocks ("Cohort A:"
    sets `cohort`). Text without headers is inclusion. A sub-bullet under a negative lead-in
    ("Patients must not have:") is an exclusion criterion; an inclusion lead-in asking for
    "one of the following" is kept together with its sub-bullets as one criterion. Offsets
    index the text after `normalise_criteria_text` (same length as the input). Requirements
    are left empty: see `parse_criterion` and `annotate_trial`.
    """
    return [piece.criterion for piece in split_pieces(text)]


_LIST_OF_CONDITIONS = re_compile(r"\b(?:the\s+following|if\b[^:]*\bfollowing)\b[^:]*:\s*$",
                                 re.IGNORECASE)


def cancer_acronyms(trial: TrialText) -> dict[str, str]:
    """{short form: long form} of the cancer-type acronyms the record defines for itself
    ("follicular lymphoma (FL)" in the summary) that the vocabulary does not know as such:
    the trial's "Participants with FL" then names follicular lymphoma."""
    vocabulary = get_vocabulary()
    found = {}
    for short, long_form in defined_acronyms(
            (trial.title, trial.official_title, trial.brief_summary,
             trial.criteria_text)).items():
        if vocabulary.find_cancer_types(short):
            continue
        named = vocabulary.find_cancer_types(long_form)
        if named and named[-1].end == len(long_form) and named[0].start == 0:
            found[short] = long_form
    return found


def _with_acronyms(requirements: list[Requirement], text: str, kind: str, offset: int,
                   acronyms: dict[str, str]) -> list[Requirement]:
    """An inclusion's cancer types with the trial's own acronyms read: the text is read again
    with each acronym spelt out, so the usual rules ("history of FL", "except FL") apply,
    and the codes only the spelt-out reading finds join the criterion's cancer types."""
    if kind != "inclusion" or not acronyms:
        return requirements
    uses = sorted((start, end, short) for short in acronyms if short in text
                  for start, end in uses_of(short, text))
    if not uses:
        return requirements
    spelt, cursor = [], 0
    for start, end, short in uses:
        spelt.append(text[cursor:start] + acronyms[short])
        cursor = end
    spelt_text = "".join(spelt) + text[cursor:]
    known = {code for r in requirements if r.kind == "cancer_type"
             for code in r.params.get("codes") or []}
    added = [code for r in find_cancer_requirements(spelt_text, kind, scans={"cancer"})
             if r.kind == "cancer_type" and r.params.get("scope") == "codes"
             for code in r.params.get("codes") or [] if code not in known]
    if not added:
        return requirements
    added = list(dict.fromkeys(added))
    start, end = uses[0][0] + offset, uses[-1][1] + offset
    for i, req in enumerate(requirements):
        if req.kind == "cancer_type" and req.params.get("scope") == "codes":
            params = {**req.params, "codes": list(req.params["codes"]) + added}
            requirements = list(requirements)
            requirements[i] = replace(req, params=params)
            return requirements
    return requirements + [Requirement("cancer_type", {"codes": added, "scope": "codes",
                                                       "except": []},
                                       text[uses[0][0]:uses[-1][1]], start, end)]


def _parse_piece(piece: CriterionPiece, acronyms: dict[str, str]) -> list[Requirement]:
    criterion = piece.criterion
    kind = criterion.kind
    if piece.alternatives:
        first_start = piece.alternatives[0][0]
        requirements_per_alternative = [
            _with_acronyms(parse_in_context(criterion.text[start:end], kind, context, start),
                           criterion.text[start:end], kind, start, acronyms)
            for start, end, context in piece.alternatives]
        lead = parse_in_context(criterion.text[:first_start], kind, piece.context, 0)
        return lead + merge_alternatives(requirements_per_alternative, criterion.text)
    if piece.context:
        found = parse_in_context(criterion.text, kind, piece.context, 0)
    else:
        found = parse_criterion(criterion.text, kind)
    return _with_acronyms(found, criterion.text, kind, 0, acronyms)


def _structured_criterion(trial: TrialText, position: int) -> EligibilityCriterion | None:
    """The record's minimumAge/maximumAge/sex as one synthetic inclusion criterion."""
    requirements: list[Requirement] = []
    parts: list[str] = []
    if trial.minimum_age is not None or trial.maximum_age is not None:
        def years(value: float | None) -> str:
            return "N/A" if value is None else f"{value:g} Years"
        age_text = f"Age: {years(trial.minimum_age)} to {years(trial.maximum_age)}"
        parts.append(age_text)
        requirements.append(Requirement("age", {"min": trial.minimum_age,
                                                "max": trial.maximum_age}, age_text))
    sex = (trial.sex or "").upper()
    if sex in ("FEMALE", "MALE"):
        sex_text = f"Sex: {sex.capitalize()}"
        parts.append(sex_text)
        requirements.append(Requirement("sex", {"sex": sex.lower()}, sex_text))
    if not requirements:
        return None
    text = "From the trial record: " + "; ".join(parts)
    offset = len("From the trial record: ")
    for requirement in requirements:
        requirement.start = text.index(requirement.text, offset)
        requirement.end = requirement.start + len(requirement.text)
    return EligibilityCriterion(kind="inclusion", text=text, position=position, start=-1,
                                end=-1, requirements=requirements)


# What a title can say about the population that the posted criteria often leave out
# (issue 14): the alteration the trial is for ("... in NSCLC Harboring Activating EGFR
# Mutations", "PD-L1 Positive"), the line ("First-line", "Previously Untreated", "Progressed
# on Prior EGFR TKIs"), the course ("Relapsed/Refractory", "Newly Diagnosed"). Disease and
# stage come from the conditions and criteria.
_TITLE_KINDS = frozenset({"biomarker", "prior_lines", "prior_therapy"})
TITLE_PREFIX = "From the title: "
OFFICIAL_TITLE_PREFIX = "From the official title: "
# "Relapsed/Refractory", "Newly Diagnosed": a course; "Recurrent" in a title is mostly a
# setting with others ("Stage IV or Recurrent", "Persistent or Recurrent").
_TITLE_COURSE = re_compile(r"relaps|refractory|r/r\b|newly|recently|new\s+diagnosis",
                           re.IGNORECASE)
_TITLE_NAIVE = re_compile(r"na[iï]ve|\buntreated\b|\b(?:without|no)\s+prior\b|"
                          r"\bnot\s+previously\b", re.IGNORECASE)
_TITLE_HISTORY = re_compile(
    r"\b(?:progress\w*\s+(?:on|after|following|with)|after\s+(?:failure\s+of|progression\s+on|"
    r"prior)|(?:refractory|resistant)\s+to|pre-?treated\s+with|previously\s+treated\s+with|"
    r"failed|relapsed\s+(?:after|on|following)|post[\s-]|(?:who\s+)?ha(?:ve|s)\s+"
    r"(?:previously\s+)?received|exposed\s+to)", re.IGNORECASE)


# "Persistent or Recurrent": persistent disease, which no extent names, is in too.
_PERSISTENT_BEFORE = re_compile(r"\bpersistent\s*(?:or|and/or|/)\s*$", re.IGNORECASE)


def _population_words(title: str, keep: Callable[[Requirement], bool]
                      ) -> tuple[re.Match[str], str, list[Requirement]] | None:
    """The requirements `keep` selects from the words after a title's last "in", "for",
    "with" or "among" that give any, read as a population ("Patients with <words>"), with
    that cue and the segment read; None when no such words give one."""
    for cue in reversed(list(_POPULATION_CUE.finditer(title))):
        segment = _POPULATION_LEAD + title[cue.end():]
        found = [r for r in parse_criterion(segment, "inclusion") if keep(r)]
        if found:
            return cue, segment, found
    return None


def _shifted(found: list[Requirement], cue: re.Match[str], prefix: str) -> list[Requirement]:
    """Requirements read from a title's population segment, their spans moved into the
    synthetic criterion's text (`prefix` + title)."""
    shift = len(prefix) + cue.end() - len(_POPULATION_LEAD)
    return [replace(r, start=r.start + shift, end=r.end + shift) for r in found]


def _title_extents(title: str, prefix: str = TITLE_PREFIX) -> list[Requirement]:
    """The extent of disease a title's population words give ("... Maintenance in Advanced or
    Recurrent Endometrial Cancer", "... for Stage IV or Recurrent NSCLC"): read from the words
    after its last "in", "for", "with" or "among" that name one, as a population (the title's
    treatment words would make them a therapy's setting). A resection the trial is "for" is
    planned, not done; "Persistent or Recurrent" lets persistent disease in too."""
    read = _population_words(title, lambda r: r.kind in ("extent", "stage") and not (
        r.params.get("allowed") or r.params.get("negated")))
    if read is None:
        return []
    cue, segment, found = read
    if any(r.params.get("extent") == "recurrent" and _PERSISTENT_BEFORE.search(
            segment[max(0, r.start - 20):r.start]) for r in found):
        return []
    planned = cue.group(1).lower() == "for"
    return _shifted([r for r in found
                     if not (planned and r.params.get("extent") == "resected")], cue, prefix)


def _title_course(title: str, prefix: str = TITLE_PREFIX) -> list[Requirement]:
    """The course of disease a title's population words name ("... Following Autologous
    Stem Cell Transplant in Participants With Newly Diagnosed Multiple Myeloma", "... in
    Participants With Relapsed or Refractory Myeloma Who Have Received ..."): read from the
    words after its last "in", "for", "with" or "among" that name one, where the whole
    title's parse set them aside as the study treatment's setting."""
    if not _TITLE_COURSE.search(title):
        return []  # every course kept starts with one of its words: no parse can find one
    read = _population_words(title, lambda r: r.kind == "extent" and r.params.get(
        "extent") == "recurrent" and not r.params.get("allowed") and bool(
        _TITLE_COURSE.match(r.text)))
    return _shifted(read[2], read[0], prefix) if read else []


# A study treatment given before the operation ("Neoadjuvant", "Pre-Operative", "Before
# Surgery", "Window of Opportunity"): the patients have disease surgery can still remove, so
# not metastatic ("Perioperative Care" is about any operation, palliative ones too). Not
# where the title names spread ("... for Resectable Liver Metastases", "Oligometastatic",
# "Stage IV") or disease already operated on ("Residual Disease After Neoadjuvant
# Chemotherapy" is non-metastatic too, but read from its own words).
_BEFORE_SURGERY = re_compile(
    r"\b(?:neo-?adjuvant|pre[\s-]?operative|pre-?surgical|before\s+surgery|"
    r"prior\s+to\s+surgery|window[\s-]+of[\s-]+opportunity)\b", re.IGNORECASE)
_SPREAD_NAMED = re_compile(r"metasta|stage\s+iv\b|advanced|recurren|relaps|unresectable|"
                           r"inoperable", re.IGNORECASE)


def _title_before_surgery(title: str, prefix: str = TITLE_PREFIX) -> list[Requirement]:
    """Not metastatic and not yet operated on, for a title whose study treatment comes
    before surgery (see `_BEFORE_SURGERY`), when the title names no spread."""
    match = _BEFORE_SURGERY.search(title)
    if match is None or _SPREAD_NAMED.search(title) or _AFTER_IT.search(
            title, 0, match.start()):
        return []  # ("Adjuvant Therapy After Neoadjuvant Chemotherapy": surgery is done)
    start = len(prefix) + match.start()
    # (planned: the primary is not yet removed, so a resected patient is past it)
    return [Requirement("extent", {"extent": "metastatic", "negated": True, "planned": True},
                        match.group(), start, start + len(match.group()))]


_AFTER_IT = re_compile(r"\b(?:after|following|post|residual|responders?\s+to|response\s+to)"
                       r"[\s-]+(?:\w+\s+){0,2}$", re.IGNORECASE)


_POPULATION_LEAD = "Patients with "
_WITH_OR_WITHOUT = re_compile(r"\bwith\s*(?:or|/)\s*without\b|\+/-|±", re.IGNORECASE)
# Where a title's history of treatment ends and the study's comparison begins ("Who Have
# Received Adjuvant Tamoxifen For 2-3 Years, Comparing Subsequent Adjuvant Exemestane ...").
_COMPARISON = re_compile(r"\b(?:compar\w*|versus|vs)\b", re.IGNORECASE)
_POPULATION_CUE = re_compile(r"\b(in|for|with|among)\s+", re.IGNORECASE)


def _title_criterion(trial: TrialText, position: int, extent_stated: bool = True,
                     official: bool = False, history_stated: bool = False
                     ) -> EligibilityCriterion | None:
    """The brief title's population requirements as one synthetic inclusion criterion; its
    extent of disease ("in Advanced Renal Cell Carcinoma", "for Resected NSCLC") too when
    no inclusion criterion states one (`extent_stated` False). With `official`, the
    official title's instead ("... Who Have Received 1 to 4 Prior Lines of Therapy")."""
    title = ((trial.official_title if official else trial.title) or "").strip()
    if not title:
        return None
    prefix = OFFICIAL_TITLE_PREFIX if official else TITLE_PREFIX
    text = prefix + title
    history = _TITLE_HISTORY.search(title)
    # "With or Without <drug>" names the study's arms; its "without" negates nothing after
    # it ("... With or Without HRZ-4410 in Untreated EGFR-Mutant NSCLC"). Blanked, same length.
    parsed = parse_criterion(_WITH_OR_WITHOUT.sub(lambda m: " " * len(m.group()), text),
                             "inclusion")
    parsed = [replace(r, text=text[r.start:r.end]) for r in parsed]
    extents = [r for r in parsed if r.kind == "extent"]
    # The course a title names ("in Relapsed/Refractory Multiple Myeloma", "Newly Diagnosed
    # AML") when it names no other extent ("Recurrent or Metastatic" is a setting, read from
    # the criteria).
    course = extents if extents and all(
        r.params.get("extent") == "recurrent" and not r.params.get("allowed") and
        _TITLE_COURSE.match(r.text) for r in extents) else []
    if not course:
        course = _title_course(title, prefix)
    if not course and not extent_stated:
        course = _title_extents(title, prefix) or _title_before_surgery(title, prefix)
    elif not official or not _title_before_surgery(trial.title or "", TITLE_PREFIX):
        # Criteria that state an extent still leave the title's timing: a study treatment
        # before surgery is for a primary not yet removed ("... in the Neoadjuvant Setting",
        # in the official title when the brief title does not say it).
        course += _title_before_surgery(title, prefix)
    requirements = [r for r in parsed if (r.kind in _TITLE_KINDS or r in course)
                    # A title names the study's own drugs: a therapy is history only where
                    # the title says the disease progressed on it.
                    and not (r.kind == "prior_therapy" and r.params.get("received") and (
                        history is None or r.start < history.start() + len(prefix) or
                        _COMPARISON.search(text, history.end() + len(prefix), r.end)))
                    # "Chemotherapy-Free Induction" describes the study; "TKI-naive" the
                    # patients.
                    and not (r.kind == "prior_therapy" and not r.params.get("received")
                             and not _TITLE_NAIVE.search(title))]
    # A marker named both ways ("Increase ER Expression in ER-Negative/Low ...", "With Either
    # PIK3CA ... or ... Without") is the study's question, not a requirement.
    # (Alternatives inside one requirement, "HER2-positive or IHC 1+/2+", are no tear.)
    statuses: dict[str, set[str]] = {}
    for r in requirements:
        if r.kind == "biomarker":
            items = r.params.get("any_of") or []
            for marker in {item.get("marker") for item in items}:
                found = {item.get("status") or "positive" for item in items
                         if item.get("marker") == marker}
                if len(found) == 1:
                    statuses.setdefault(marker, set()).update(found)
    torn = {m for m, found in statuses.items() if {"positive", "negative"} <= found}
    # A marker in two requirements ("... CML-CP Without T315I Mutation and in Patients With
    # Ph+ CML-CP With T315I Mutation") names the study's cohorts.
    named = Counter(item.get("marker") for r in requirements if r.kind == "biomarker"
                    for item in {i.get("marker"): i for i in r.params.get("any_of") or []}.values())
    torn |= {m for m, n in named.items() if n > 1}
    if torn:
        requirements = [r for r in requirements if not (r.kind == "biomarker" and any(
            item.get("marker") in torn for item in r.params.get("any_of") or []))]
    # The extents read from the title's population words, where the whole title's parse set
    # them aside as a therapy's setting.
    requirements += [r for r in course if r not in requirements]
    requirements.sort(key=lambda r: r.start)
    setting = None if history_stated else _title_line(text)
    if setting is not None and not any(r.kind == "prior_lines" for r in requirements):
        requirements.append(setting)
        requirements.sort(key=lambda r: r.start)
    if not requirements:
        return None
    return EligibilityCriterion(kind="inclusion", text=text, position=position, start=-1,
                                end=-1, requirements=requirements)


# The line a title says the trial is for: "First-line PD-L1 Positive Advanced NSCLC" (no
# line for advanced disease yet), "Second-Line Treatment of ..." (one), "Third-line or
# Later" (two or more); lines counted for advanced disease (ESMO/ASCO). Not when the title
# says the disease progressed after that line ("After First-line Chemotherapy": history,
# read as a therapy) or the trial is maintenance after it.
_TITLE_LINE = re_compile(
    r"\b(?P<n>first|1st|second|2nd|third|3rd)[- ]line(?P<later>\s+(?:or\s+later|and\s+"
    r"(?:beyond|later))|\s*\+)?", re.IGNORECASE)
_LINE_NUMBER = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3}
_LINE_HISTORY_BEFORE = re_compile(
    r"\b(?:after|following|post|beyond|progress\w*|fail\w*|refractory|resistant|previous|"
    r"prior)\W+(?:\w+\W+){0,2}$", re.IGNORECASE)


_CHEMO_LINE_AFTER = re_compile(r"\s+(?:chemo\w*|cytotoxic)", re.IGNORECASE)


def _title_line(text: str) -> Requirement | None:
    match = _TITLE_LINE.search(text)
    if match is None or re.search(r"\bmaintenance\b", text, re.IGNORECASE) or \
            _LINE_HISTORY_BEFORE.search(text[:match.start()]) or \
            re.match(r"\W+(?:\w+\W+){0,2}?(?:neo)?adjuvant\b", text[match.end():], re.IGNORECASE) \
            or _CHEMO_LINE_AFTER.match(text, match.end()):
        # history, maintenance, a line of adjuvant therapy, or the first line of
        # chemotherapy (endocrine or targeted lines may come before it: "... as First Line
        # Chemotherapy in Metastatic Breast Cancer")
        return None
    before = _LINE_NUMBER[match.group("n").lower()] - 1
    params = {"min": before or None, "max": None if match.group("later") else before}
    return Requirement("prior_lines", params, match.group(0), match.start(), match.end())


# A screening or prevention study of a cancer ("... to Promote Colorectal Cancer Screening",
# "... Prevent Endometrial Cancer in Postmenopausal Women") is for people who do not have it.
_SCREENS_FOR = re_compile(r"\b(?:screening|early\s+detection|prevent(?:s|ing|ion)?)\b",
                          re.IGNORECASE)
_NOT_FOR_THE_DIAGNOSED = frozenset({"SCREENING", "PREVENTION"})


def _for_the_undiagnosed(trial: TrialText, codes: list[str],
                         criteria: list[EligibilityCriterion]) -> Requirement | None:
    """For the title criterion ("From the title: ..."): the patient does not have the cancer
    a screening or prevention study screens for or prevents, when no criterion asks for a
    diagnosis of it (a study preventing recurrence in survivors asks for one)."""
    title = (trial.title or "").strip()
    wanted = [c for c in codes if not c.startswith("_")]
    if (trial.primary_purpose or "").upper() not in _NOT_FOR_THE_DIAGNOSED or not wanted or \
            not _SCREENS_FOR.search(title):
        return None
    if any(c.kind == "inclusion" and r.kind in ("cancer_type", "histology", "primary_site")
           and not r.params.get("negated") for c in criteria for r in c.requirements):
        return None
    text = TITLE_PREFIX + title
    return Requirement("cancer_type", {"codes": wanted, "scope": "codes", "except": [],
                                       "negated": True}, text, 0, len(text))


def _official_title_criterion(trial: TrialText, position: int, extent_stated: bool,
                              from_title: EligibilityCriterion | None,
                              history_stated: bool = False) -> EligibilityCriterion | None:
    """What the official title adds to the brief one: requirements of kinds the brief title
    does not state ("... Who Have Received 1 to 4 Prior Lines of Therapy Including an
    Anti-CD38 Antibody" where the brief title stops at the drugs)."""
    official = (trial.official_title or "").strip()
    if not official or official == (trial.title or "").strip():
        return None
    found = _title_criterion(trial, position, extent_stated, official=True,
                             history_stated=history_stated)
    if found is None:
        return None
    stated = {r.kind for r in from_title.requirements} if from_title is not None else set()
    kept = [r for r in found.requirements if r.kind not in stated]
    if not kept:
        return None
    return replace(found, requirements=kept)


# An inclusion that says the patient has a condition ("Are experiencing at least moderate
# anxiety", "Diagnosis of malignant wound with odor", "Patients diagnosed with postoperative
# chylous ascites"): the trial is for patients with it.
_HAS_CONDITION = re_compile(
    r"^\W*(?:(?:patients?|participants?|subjects?|individuals?|women|men|adults?)\s+)?"
    r"(?:(?:who|must|should)\s+)?(?:(?:are|is|be|have\s+been|has\s+been)\s+)?"
    r"(?:experienc\w*|diagnos\w*(?:\s+(?:with|of))?|suffer\w*\s+from|present\w*\s+with|"
    r"ha(?:ve|s|ving)|with|showing|screen\w*\s+positive\s+for)\b", re.IGNORECASE)


# What keeps a condition named in an inclusion from being had: a negation, a history
# ("with a history of seizures must be well controlled"), an exception or its resolution.
_NOT_HAD = re_compile(r"\b(?:no|not|without|history|except|resolution|resolved|unless|if|"
                      r"free\s+of|absence)\b", re.IGNORECASE)


def _free_text_condition(text: str, named: set) -> list[Requirement]:
    """A population condition (nlp/data/population_conditions.json) an inclusion with no
    other requirement says the patient has, other than a site of spread (read elsewhere)."""
    lead = _HAS_CONDITION.match(text)
    if lead is None:
        return []
    window = text[lead.end():lead.end() + 80]
    sites = distant_metastasis_sites()
    for condition in load_conditions():
        if condition.name in sites or condition.name in named or (
                condition.in_exclusions and not condition.in_criteria):
            continue  # (a condition read in exclusions only: neoadjuvant therapy)
        match = condition.trial_pattern.search(window)
        if match and not _NOT_HAD.search(text[:lead.end() + match.start()]):
            start = lead.end() + match.start()
            return [Requirement("condition", {"condition": condition.name}, match.group(0),
                                start, start + len(match.group(0)))]
    return []


CONDITIONS_PREFIX = "From the title and conditions: "


def _conditions_criterion(trial: TrialText, position: int) -> EligibilityCriterion | None:
    """The population condition the trial is for (chylous ascites, HIV infection, tobacco
    smoking: trialmatch.nlp.conditions) as one synthetic inclusion criterion."""
    found = trial_conditions(trial.title, trial.conditions, trial.primary_purpose)
    if not found:
        return None
    text = CONDITIONS_PREFIX + "; ".join(words for _, words in found)
    distant_sites = distant_metastasis_sites()
    requirements = []
    offset = len(CONDITIONS_PREFIX)
    for name, words in found:
        start = text.index(words, offset)
        params: dict = {"condition": name}
        if name in distant_sites:
            params["distant_metastasis"] = True
        requirements.append(Requirement("condition", params, words, start,
                                        start + len(words)))
        offset = start + len(words)
    return EligibilityCriterion(kind="inclusion", text=text, position=position, start=-1,
                                end=-1, requirements=requirements)


# A phase 1 trial (dose finding, first in human) is for disease beyond curative treatment:
# its "locally advanced" is disease that surgery or chemoradiation cannot cure, not a newly
# diagnosed stage III cancer on its way to curative treatment (FDA guidance on first-in-human
# oncology trials: patients for whom no curative or standard therapy is suitable).
_FIRST_IN_HUMAN_PHASES = frozenset({"PHASE1", "EARLY_PHASE1"})


def _beyond_cure_in_phase_one(criteria: list[EligibilityCriterion]) -> None:
    """Mark a phase 1 trial's advanced, locally advanced and unresectable inclusions as
    beyond cure ("advanced solid tumor that is metastatic or unresectable": a locally
    advanced cancer headed for curative chemoradiation is not one)."""
    for criterion in criteria:
        if criterion.kind != "inclusion":
            continue
        for requirement in criterion.requirements:
            params = requirement.params
            if requirement.kind == "extent" and params.get("extent") in (
                    "locally_advanced", "advanced", "unresectable") and \
                    not params.get("negated") and \
                    not params.get("allowed"):
                params["beyond_cure"] = True


def annotate_trial(trial: TrialText) -> TrialAnnotation:
    """Parse a trial's eligibility: OncoTree codes of its conditions, criteria with requirements.

    The structured minimumAge/maximumAge/sex of the record are appended as a last inclusion
    criterion "From the trial record: Age: 18 Years to N/A; Sex: Female" (start/end -1, since
    it is not in the criteria text). Lead-in lines ("Adequate organ function:") that only
    introduce sub-bullets and state nothing themselves are dropped.
    """
    criteria: list[EligibilityCriterion] = []
    acronyms = cancer_acronyms(trial)
    for piece in split_pieces(trial.criteria_text or ""):
        requirements = _parse_piece(piece, acronyms)
        if piece.lead_in and piece.criterion.kind == "exclusion" and \
                _LIST_OF_CONDITIONS.search(piece.criterion.text):
            # "Have received the following prior systemic antitumor therapy:", "Patients who
            # have received anti-tumor therapy should be excluded if any of the following
            # conditions are met:": the items under it say which therapy excludes; the
            # lead-in's own therapy excludes nobody.
            requirements = [r for r in requirements
                            if r.kind not in ("prior_lines", "prior_therapy")]
        if piece.lead_in and not requirements:
            continue
        piece.criterion.requirements = requirements
        piece.criterion.position = len(criteria)
        criteria.append(piece.criterion)
    if trial.phases and set(trial.phases) <= _FIRST_IN_HUMAN_PHASES:
        _beyond_cure_in_phase_one(criteria)
    structured = _structured_criterion(trial, len(criteria))
    if structured is not None:
        criteria.append(structured)
    # Whether the criteria say which extent of disease the trial is for; when they do not,
    # the title's "Advanced", "Metastatic", "Resected" does.
    extent_stated = any(c.kind == "inclusion" and any(r.kind in ("extent", "stage")
                                                      for r in c.requirements)
                        for c in criteria)
    # Whether the criteria bound the lines already given ("No prior chemotherapy for
    # metastatic breast cancer", "at most one prior regimen"): then a title's "First Line
    # Therapy" is that bound, not "no prior line of any kind" (endocrine therapy before
    # first-line chemotherapy). A bar on one class ("no prior anti-PD-1") is no such bound.
    history_stated = any(
        r.kind == "prior_lines" or (
            r.kind == "prior_therapy" and bool(r.params.get("received")) == (
                c.kind == "exclusion") and not r.params.get("drugs")
            and "chemotherapy" in (r.params.get("classes") or []))
        for c in criteria for r in c.requirements)
    from_title = _title_criterion(trial, len(criteria), extent_stated,
                                  history_stated=history_stated)
    if from_title is not None:
        criteria.append(from_title)
    from_official = _official_title_criterion(trial, len(criteria), extent_stated, from_title,
                                              history_stated)
    if from_official is not None:
        criteria.append(from_official)
    codes = trial_oncotree_codes(trial.title, trial.conditions, trial.keywords)
    undiagnosed = _for_the_undiagnosed(trial, codes, criteria)
    if undiagnosed is not None and from_title is not None:
        from_title.requirements.append(undiagnosed)
    elif undiagnosed is not None:
        criteria.append(EligibilityCriterion(kind="inclusion", text=undiagnosed.text,
                                             position=len(criteria), start=-1, end=-1,
                                             requirements=[undiagnosed]))
    from_conditions = _conditions_criterion(trial, len(criteria))
    if from_conditions is not None:
        criteria.append(from_conditions)
    named = {r.params.get("condition") for r in (from_conditions.requirements
                                                  if from_conditions else [])}
    for criterion in criteria:
        if criterion.kind == "inclusion" and not criterion.requirements and \
                criterion.start >= 0:
            criterion.requirements = _free_text_condition(criterion.text, named)
    for criterion in criteria:
        if criterion.kind == "exclusion":
            criterion.requirements = drop_own_disease(
                prefer_other_disease(criterion.requirements, criterion.text, codes), codes)
    return TrialAnnotation(oncotree_codes=codes, criteria=criteria, parser_version=PARSER_VERSION)
