"""Population conditions: a symptom, complication, co-existing disease or behaviour that
defines who a trial is for, read on both sides from `data/population_conditions.json`.

Trial side (`trial_conditions`): a trial whose brief title names such a condition, or whose
first listed condition is one, is for patients who have it ("Oral Iohexol in the Management of
Chylous Ascites After Lymphadenectomy", "Smoking Cessation Among Persons Living With HIV").
Conditions further down the list are often outcomes ("Erectile Dysfunction" in a
brachytherapy trial), so only the first counts. Not for studies that prevent or preserve
(primary purpose prevention or screening, or a title saying "preventing", "preservation",
"prophylaxis"), nor where the title says "with or without" the condition.

Note side (`conditions_in_notes`): whether the notes say the patient has it now (True), say
they do not ("no chylous ascites", "former smoker": False), or say nothing (absent from the
result). The matcher checks one against the other (requirement kind `condition`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from trialmatch.datafiles import optional_bool, read_data_file
from trialmatch.errors import DataFileError
from trialmatch.nlp.context import MentionContext, clause_of, clause_spans, mention_context
from trialmatch.regex_cache import re_compile

CONDITIONS_FILE = "population_conditions.json"
_ENTRY_KEYS = frozenset({"name", "terms", "note_terms", "absent_cues", "ruled_out_by",
                         "distant_metastasis", "profile_fact", "in_criteria", "cancer_types",
                         "graded", "symptomatic_from_grade", "recorded_if_present",
                         "in_exclusions", "supersedes", "standard_therapy_ahead", "source"})
# Case facts a condition may defer to (trialmatch.match.case.Case attributes).
_PROFILE_FACTS = frozenset({"brain_metastases"})
_LIST_KEYS = ("terms", "note_terms", "absent_cues", "ruled_out_by")
# Studies for people who do not have the condition yet.
_NOT_FOR_THE_AFFECTED = frozenset({"PREVENTION", "SCREENING"})
_PREVENTS = re_compile(r"\b(?:prevent\w*|preserv\w*|prophyla\w*|avoid\w*|reduc\w*\s+the\s+risk)\b",
                       re.IGNORECASE)
_SENTENCE = re_compile(r"[^.\n;]+")
# "Adults With Multiple Sclerosis, Breast Cancer or Lung Cancer": the condition is one of
# several populations, a cancer among them, so it is not required.
# (A word naming a cancer, as a pattern to build others with: `requirements_cancer` reads it too.)
CANCER_WORD = r"(?:cancers?|carcinomas?|tumou?rs?|neoplasms?|malignanc\w*|sarcomas?|lymphomas?|" \
    r"leuk\w+|myelomas?|melanomas?)"
_ALTERNATIVE_AFTER = re_compile(
    rf"^\s*(?:,|\bor\b|\band/or\b)\s*(?:[\w-]+\s+){{0,3}}?{CANCER_WORD}\b", re.IGNORECASE)
_ALTERNATIVE_BEFORE = re_compile(rf"\b{CANCER_WORD}\s*(?:,|\bor\b|\band/or\b)\s*$",
                                 re.IGNORECASE)


@dataclass(frozen=True)
class PopulationCondition:
    """One entry of the data file, with its compiled patterns."""

    name: str
    trial_pattern: re.Pattern[str]
    note_pattern: re.Pattern[str]
    absent_pattern: re.Pattern[str] | None
    source: str
    distant_metastasis: bool = False  # a site of distant spread (AJCC M1)
    ruled_out_pattern: re.Pattern[str] | None = None  # a state that excludes it
    profile_fact: str | None = None  # a case fact that reads the same finding more closely
    # Read in eligibility criteria too ("prostate adenocarcinoma ... castration-sensitive"),
    # not only in titles and conditions.
    in_criteria: bool = False
    # Read in exclusion criteria too ("Patients who have undergone neoadjuvant systemic
    # therapy"): the patient who has it is excluded.
    in_exclusions: bool = False
    # OncoTree codes of the only cancers the condition can describe (castration status:
    # prostate cancer); for a patient with another cancer it does not apply.
    cancer_types: tuple[str, ...] = ()
    graded: bool = False  # a CTCAE-graded adverse event: criteria bound its grade
    # The lowest CTCAE grade with symptoms, where grade 1 is defined as asymptomatic
    # (peripheral sensory neuropathy): "symptomatic neuropathy" is this grade or worse.
    symptomatic_from_grade: int | None = None
    # A complication, site of spread or co-existing disease that changes care, so the
    # oncology record names it where the patient has it: notes silent on it rule it out.
    recorded_if_present: bool = False
    # The trial terms in lower case, for the quick gate `_may_name` (what `trial_pattern`
    # matches, whole words aside).
    terms: tuple[str, ...] = ()
    # Earlier states of the disease this one replaces for good (castration resistance ends
    # castration sensitivity): where the notes state this one, those are past.
    supersedes: tuple[str, ...] = ()
    # Why a patient in this state is not beyond standard therapy (castration-sensitive
    # prostate cancer still responds to androgen deprivation), or None.
    standard_therapy_ahead: str | None = None


def _words(terms: Iterable[str]) -> re.Pattern[str]:
    # Longest first; ties in text order, so that the pattern is the same in every run (the
    # compiled-pattern cache, regex_cache, finds it by its text).
    ordered = sorted(sorted(set(terms)), key=len, reverse=True)
    alternatives = "|".join(re.escape(t) for t in ordered)
    return re_compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


def _grade_field(raw: dict, key: str, where: str) -> int | None:
    """An optional CTCAE grade (1-5) of an entry."""
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
        raise DataFileError(f"{where}: '{key}' must be a CTCAE grade from 1 to 5")
    return value


def _entry(raw: object, index: int) -> PopulationCondition:
    where = f"trialmatch/nlp/data/{CONDITIONS_FILE}: conditions[{index}]"
    if not isinstance(raw, dict):
        raise DataFileError(f"{where}: expected an object")
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise DataFileError(f"{where}: unknown key '{sorted(unknown)[0]}'")
    name, source = raw.get("name"), raw.get("source")
    if not isinstance(name, str) or not name.strip():
        raise DataFileError(f"{where}: 'name' must be a non-empty string")
    if not isinstance(source, str) or not source.strip():
        raise DataFileError(f"{where} ({name}): 'source' must say where the entry comes from")
    lists: dict[str, list[str]] = {}
    for key in _LIST_KEYS:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                  for v in value):
            raise DataFileError(f"{where} ({name}): '{key}' must be a list of strings")
        lists[key] = value
    if not lists["terms"]:
        raise DataFileError(f"{where} ({name}): 'terms' must not be empty")
    fact = raw.get("profile_fact")
    if fact is not None and fact not in _PROFILE_FACTS:
        raise DataFileError(f"{where} ({name}): 'profile_fact' must be one of "
                            f"{', '.join(sorted(_PROFILE_FACTS))}")
    def flag(key: str) -> bool:
        return optional_bool(raw, key, f"{where} ({name})")

    supersedes = raw.get("supersedes", [])
    if not isinstance(supersedes, list) or not all(isinstance(c, str) and c
                                                   for c in supersedes):
        raise DataFileError(f"{where} ({name}): 'supersedes' must be a list of condition names")
    ahead = raw.get("standard_therapy_ahead")
    if ahead is not None and (not isinstance(ahead, str) or not ahead.strip()):
        raise DataFileError(f"{where} ({name}): 'standard_therapy_ahead' must be a sentence")
    cancer_types = raw.get("cancer_types", [])
    if not isinstance(cancer_types, list) or not all(isinstance(c, str) and c
                                                     for c in cancer_types):
        raise DataFileError(f"{where} ({name}): 'cancer_types' must be a list of codes")
    return PopulationCondition(
        name=name,
        trial_pattern=_words(lists["terms"]),
        note_pattern=_words(lists["terms"] + lists["note_terms"]),
        absent_pattern=_words(lists["absent_cues"]) if lists["absent_cues"] else None,
        source=source,
        distant_metastasis=flag("distant_metastasis"),
        ruled_out_pattern=_words(lists["ruled_out_by"]) if lists["ruled_out_by"] else None,
        profile_fact=fact,
        in_criteria=flag("in_criteria"),
        in_exclusions=flag("in_exclusions"),
        cancer_types=tuple(cancer_types),
        graded=flag("graded"),
        symptomatic_from_grade=_grade_field(raw, "symptomatic_from_grade", f"{where} ({name})"),
        recorded_if_present=flag("recorded_if_present"),
        terms=tuple(dict.fromkeys(term.lower() for term in lists["terms"])),
        supersedes=tuple(supersedes),
        standard_therapy_ahead=ahead,
    )


@lru_cache(maxsize=1)
def load_conditions() -> tuple[PopulationCondition, ...]:
    """Load and validate `data/population_conditions.json` (cached)."""
    raw = read_data_file("trialmatch.nlp", CONDITIONS_FILE)
    entries = raw.get("conditions") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise DataFileError(f"trialmatch/nlp/data/{CONDITIONS_FILE}: expected an object with "
                            "a 'conditions' list")
    conditions = tuple(_entry(entry, i) for i, entry in enumerate(entries))
    names = [c.name for c in conditions]
    if len(set(names)) != len(names):
        raise DataFileError(f"trialmatch/nlp/data/{CONDITIONS_FILE}: a condition name is "
                            "listed twice")
    return conditions


# A CTCAE grade written beside a graded condition ("G2 neuropathy", "neuropathy grade 1",
# "CTCAE grade 3 peripheral neuropathy"); "now G1" is the grade now, "resolved" is 0.
_GRADE = re_compile(r"(?<![\w/])(?:CTCAE\s+)?(?:grade|gr\.?|G)\s*(?P<g>[0-4])(?![\w/])",
                    re.IGNORECASE)
_NOW_GRADE = re_compile(r"\b(?:now|currently|residual|persist\w*|ongoing|stable\s+at)\s+"
                        r"(?:at\s+)?(?:CTCAE\s+)?(?:grade|gr\.?|G)\s*(?P<g>[0-4])(?![\w/])",
                        re.IGNORECASE)
_RESOLVED = re_compile(r"\b(?:resolved|resolution|gone|disappeared|no\s+longer)\b",
                       re.IGNORECASE)
_GRADE_REACH = 40


def condition_grades(texts: Iterable[str]) -> dict[str, tuple[int | None, str]]:
    """The grade now of each graded condition the notes mention: the latest mention decides
    (notes in order); its grade is the one said to hold now ("G2 neuropathy (now G1)"), 0
    when it says the condition resolved or is absent, else the grade written beside it, and
    None when none is."""
    found: dict[str, tuple[int | None, str]] = {}
    graded = [c for c in load_conditions() if c.graded]
    if not graded:
        return found
    for text in texts:
        note = _Note(text)
        for condition in graded:
            for match, context in note.mentions(condition.note_pattern):
                if context.hypothetical:
                    continue
                sentence = note.sentence_at(match.start()).strip()
                left = max(0, match.start() - _GRADE_REACH)
                window = text[left:match.end() + _GRADE_REACH]
                after = text[match.end():match.end() + _GRADE_REACH]
                now = _NOW_GRADE.search(window)
                if context.negated:
                    grade: int | None = 0
                elif now:
                    grade = int(now.group("g"))
                elif _RESOLVED.search(after):
                    grade = 0
                else:
                    near = [g for g in _GRADE.finditer(window)]
                    center = match.start() - left
                    grade = int(min(near, key=lambda g: abs(g.start() - center)).group("g")) \
                        if near else None
                found[condition.name] = (grade, sentence)
    return found


def criteria_grade_bounds(text: str, kind: str = "exclusion"
                          ) -> list[tuple[str, dict, int, int]]:
    """Grade bounds a criterion puts on a graded condition: (name, params, start, end), the
    params {"condition": name} with "min_grade" (grade n or more: "neuropathy >= grade 2",
    "grade > 1 neuropathy", "Grade 2 or greater neuropathy") or "max_grade" ("Grade 0 or 1",
    "<= grade 1")."""
    found: list[tuple[str, dict, int, int]] = []
    graded = _graded_conditions()
    for condition in graded:
        if not _may_name(text, condition.terms):
            continue
        match = condition.trial_pattern.search(text)
        if match is None or _EXCEPTED_BEFORE.search(text, max(0, match.start() - 80),
                                                     match.start()):
            continue  # "toxicities not resolved to grade 1, except alopecia or neuropathy"
        spans = clause_spans(text)
        clause = clause_of(spans, match.start())
        # The bound beside the mention, in its clause: "neuropathy >= grade 2", "grade >= 2
        # peripheral neuropathy".
        left = max(clause[0], match.start() - 40)
        window = text[left:min(clause[1], match.end() + 45)]
        params: dict = {"condition": condition.name}
        bound = _MIN_GRADE.search(window)
        key = "min_grade"
        if bound is None and kind == "inclusion":
            # ("Grade 0 or 1" bounds what an inclusion admits; an exclusion names what
            # excludes.)
            bound, key = _MAX_GRADE.search(window), "max_grade"
        context = mention_context(text, match.start(), match.end(), clause)
        if bound is None:
            if not _ANY_GRADE.search(text, clause[0], match.start()) and not (
                    context.negated and match.start() - clause[0] < 40
                    and not text[match.end():clause[1]].strip(" .;,:")) or \
                    _GRADE_WORD.search(window) or context.historical:
                # (a denial qualified after it speaks of some neuropathy only: "no peripheral
                # neuropathy precluding a nerve graft")
                continue
            # "Any sensory or motor peripheral neuropathy", "pre-existing neuropathy": the
            # condition at any grade (a grade 1 numbness is one). "Symptomatic" is from the
            # first grade CTCAE defines with symptoms (neuropathy grade 1 is asymptomatic).
            lowest = condition.symptomatic_from_grade if condition.symptomatic_from_grade and \
                _SYMPTOMATIC.search(text, clause[0], match.start()) else 1
            found.append((condition.name, {"condition": condition.name, "min_grade": lowest,
                                           **({"negated": True} if context.negated else {})},
                          match.start(), match.end()))
            continue
        value, strict = _bound(bound)
        params[key] = value + (1 if key == "min_grade" else -1) * strict
        if context.negated:
            if key == "max_grade":
                continue  # "resolved to grade < 2 and no motor neuropathy": no one bound
            params["negated"] = True  # "No motor or sensory neuropathy >= grade 2"
        found.append((condition.name, params, min(match.start(), left + bound.start()),
                      max(match.end(), left + bound.end())))
    if kind in ("exclusion", "inclusion"):
        named = {name for name, _, _, _ in found}
        unnamed = [condition for condition in graded if condition.name not in named]
        # (Most criteria bound no toxicity: that test first, the conditions' own after.)
        generic = _unresolved_toxicity_bound(text, kind) if unnamed else None
        for condition in unnamed if generic is not None else ():
            if condition.note_pattern.search(text):
                continue  # a condition the criterion names is excepted, above
            key, value = generic
            found.append((condition.name, {"condition": condition.name, key: value,
                                           "unresolved_toxicity": True}, 0, len(text)))
    return found


@lru_cache(maxsize=1)
def _criteria_conditions() -> tuple[PopulationCondition, ...]:
    """The conditions read in eligibility criteria too (`in_criteria`, `in_exclusions`)."""
    return tuple(condition for condition in load_conditions()
                 if condition.in_criteria or condition.in_exclusions)


@lru_cache(maxsize=1)
def _graded_conditions() -> tuple[PopulationCondition, ...]:
    """The conditions whose grade criteria bound (CTCAE-graded adverse events)."""
    return tuple(condition for condition in load_conditions() if condition.graded)


# "Adverse reactions of previous anti-tumor treatment have not recovered to Grade <= 1",
# "Persistent toxicities (CTCAE Grade >= 2) caused by previous anti-cancer therapy": any
# adverse event of earlier treatment still above a grade, which bounds every graded
# condition the criterion does not name (a named one, excepted or bounded, is read above).
_TOXICITY_WORDS = re_compile(r"\b(?:toxicit(?:y|ies)|adverse\s+(?:events?|reactions?|effects?)|"
                             r"AEs?|side[\s-]+effects?)\b", re.IGNORECASE)
# Every match of _TOXICITY_WORDS holds one of these, in some case (see `_may_name`).
_TOXICITY_TERMS = ("toxicit", "adverse", "ae", "side")
_OF_TREATMENT = re_compile(r"\b(?:therap(?:y|ies)|treatments?|agents?|regimens?|chemotherapy|"
                           r"interventions?)\b", re.IGNORECASE)
_UNRESOLVED = re_compile(r"\b(?:not|never)\s+(?:yet\s+)?(?:fully\s+|completely\s+)?(?:resolved|"
                         r"recovered|returned|improved)|\bunresolved\b|\bpersist(?:ent|ing)\b|"
                         r"\binadequate\s+recovery\b|\bnot\s+(?:been\s+)?(?:resolved|recovered)",
                         re.IGNORECASE)
_OTHER_CAUSE = re_compile(r"\bimmune[\s-]+(?:mediated|related)|\bsurgery[\s-]+related|\bsurgery\b|"
                          r"\bradiotherapy\b|\bradiation\b|\bRT\b", re.IGNORECASE)
_ANTICANCER = re_compile(r"chemo|systemic|anti-?\s?cancer|anti-?\s?tumou?r|antineoplastic|"
                         r"anti-?neoplastic|targeted|monoclonal|investigational", re.IGNORECASE)
_TOLERABLE_GRADE_2 = re_compile(r"\btolerab\w*\s+(?:CTCAE\s+)?grade\s*2\b", re.IGNORECASE)
_RESOLVED_TO = re_compile(r"\b(?:resolved|recovered|returned|improved)\s+(?:back\s+)?to\b",
                          re.IGNORECASE)


def _unresolved_toxicity_bound(text: str, kind: str) -> tuple[str, int] | None:
    """("min_grade", n) for an exclusion of adverse events of earlier treatment above a grade,
    ("max_grade", n) for an inclusion demanding them resolved to it; None otherwise (no grade
    written: "recovered to baseline")."""
    if not (_may_name(text, _TOXICITY_TERMS) and _TOXICITY_WORDS.search(text)
            and _OF_TREATMENT.search(text)):
        return None
    if _OTHER_CAUSE.search(text) and not _ANTICANCER.search(text):
        return None  # events of an operation, radiotherapy or immunotherapy only
    if kind == "exclusion" and not _UNRESOLVED.search(text):
        return None
    if kind == "inclusion" and not _RESOLVED_TO.search(text):
        return None
    ceiling = _MAX_GRADE.search(text)
    if ceiling is not None:
        value, strict = _bound(ceiling)
        allowed = value - strict
        if _TOLERABLE_GRADE_2.search(text):
            allowed = max(allowed, 2)  # "not recovered to <= grade 1 or tolerable grade 2"
        # Residual grade 1 toxicity is what every such criterion allows (CTCAE): a bound
        # below it is a garbled sign ("not recovered (i.e., >= Grade 1 at baseline)").
        return ("min_grade", max(allowed + 1, 2)) if kind == "exclusion" else (
            "max_grade", max(allowed, 1))
    floor = _MIN_GRADE.search(text)
    if floor is not None and kind == "exclusion":
        value, strict = _bound(floor)
        return "min_grade", max(value + strict, 2)
    return None


_EXCEPTED_BEFORE = re_compile(r"\b(?:except(?:ion)?|excluding|other\s+than|apart\s+from|"
                              r"besides)\b[^.;]{0,80}$", re.IGNORECASE)
_GE = r"(?:≥|>=|>\s*/\s*=|=>|>\s*or\s*=|greater\s+than\s+or\s+equal\s+to|at\s+least|³)"
_GT = r"(?:>|greater\s+than|more\s+than|above)"
_LE = r"(?:≤|<=|<\s*/\s*=|=\s*<|less\s+than\s+or\s+equal\s+to|at\s+most|no\s+more\s+than)"
_LT = r"(?:<|less\s+than|below)"
_GR = r"(?:NCI\s+)?(?:CTCAE\s+)?(?:grade|gr\.?)"
# Each bound as one pattern whose grade is group "g" and strictness group "strict".
# Words that make an unbounded mention of a graded condition mean "at any grade": "any",
# "symptomatic", "pre-existing", "existing", "current", "ongoing" before it in its clause.
_ANY_GRADE = re_compile(r"(?i)\b(?:any|symptomatic|pre-?existing|existing|current|ongoing|"
                        r"active)\b[^.;:,]{0,30}$")
_GRADE_WORD = re_compile(r"(?i)\bgrade|\bCTCAE\b|\bG[0-4]\b")
_SYMPTOMATIC = re_compile(r"(?i)(?<!a)\bsymptomatic\b[^.;:,]{0,30}$")
_MIN_GRADE = re_compile(
    rf"(?:{_GE}|(?P<strict>{_GT}))\s*(?:\(\s*>?\s*\)\s*)?{_GR}\s*(?P<g>[0-4])(?!\d|\.\d)|"
    rf"{_GR}\s*(?:{_GE}|(?P<strict2>{_GT}))\s*(?:\(\s*>?\s*\)\s*)?(?P<g2>[0-4])(?!\d|\.\d)|"
    rf"{_GR}\s*(?P<g3>[1-4])\s*(?:or|and)\s+(?:greater|higher|more|above|worse)",
    re.IGNORECASE)
_MAX_GRADE = re_compile(
    rf"(?:{_LE}|(?P<strict>{_LT}))\s*{_GR}\s*(?P<g>[0-4])(?!\d|\.\d)|"
    rf"{_GR}\s*(?:{_LE}|(?P<strict2>{_LT}))\s*(?P<g2>[0-4])(?!\d|\.\d)|"
    rf"{_GR}\s*[0-3]\s*(?:or|-|–|to)\s*(?P<g3>[0-3])(?!\d|\.\d)|"
    rf"{_GR}\s*(?P<g4>[0-3])\s+or\s+(?:less|lower|better|below)\b",
    re.IGNORECASE)
_GRADE_GROUPS = ("g", "g2", "g3", "g4")


def _bound(match: re.Match[str]) -> tuple[int, bool]:
    """A grade bound's grade (`_MIN_GRADE`, `_MAX_GRADE`) and whether it is strict ("> grade
    1", "< grade 2")."""
    groups = match.groupdict()
    value = int(next(groups[g] for g in _GRADE_GROUPS if groups.get(g)))
    return value, bool(groups.get("strict") or groups.get("strict2"))


@lru_cache(maxsize=1)
def _by_name() -> dict[str, PopulationCondition]:
    return {condition.name: condition for condition in load_conditions()}


def condition_named(name: str) -> PopulationCondition | None:
    """The data file's entry for a condition name, if there is one."""
    return _by_name().get(name)


def is_grade_bound(params: dict) -> bool:
    """Does a `condition` requirement bound a graded condition's grade ("neuropathy >= grade
    2", "grade 0 or 1") rather than ask whether the patient has it?"""
    return "min_grade" in params or "max_grade" in params


def condition_cancer_types(name: str) -> tuple[str, ...]:
    """The cancer types a condition can describe (empty: any)."""
    entry = condition_named(name)
    return entry.cancer_types if entry is not None else ()


def profile_facts() -> dict[str, str]:
    """Condition name -> the case fact that decides it where the notes state that fact."""
    return {c.name: c.profile_fact for c in load_conditions() if c.profile_fact}


def distant_metastasis_sites() -> frozenset[str]:
    """Names of the conditions that are sites of distant spread (liver, bone, brain...)."""
    return frozenset(c.name for c in load_conditions() if c.distant_metastasis)


def trial_conditions(title: str, conditions: list[str], primary_purpose: str | None = None
                     ) -> list[tuple[str, str]]:
    """The population conditions a trial is for: (name, the words that say so)."""
    if (primary_purpose or "").upper() in _NOT_FOR_THE_AFFECTED or _PREVENTS.search(title or ""):
        return []
    first = conditions[0] if conditions else ""
    if not _may_name_a_condition(title or "") and not _may_name_a_condition(first):
        return []  # most trials: no condition's pattern could match either text
    found: list[tuple[str, str]] = []
    for condition in load_conditions():
        if condition.in_exclusions and not condition.in_criteria:
            continue  # read in exclusions only (neoadjuvant therapy: a trial gives it)
        match = condition.trial_pattern.search(title or "")
        if match and (re.search(r"\b(?:with\s+or\s+without|including|incl\.|even\s+with|"
                                r"and\s+(?:those|patients)\s+with)\s+$", title[:match.start()],
                                re.IGNORECASE) or
                      _ALTERNATIVE_AFTER.match(title[match.end():]) or
                      _ALTERNATIVE_BEFORE.search(title[:match.start()])):
            # "Kaposi Sarcoma in People With or Without HIV", "... Breast Cancer, Including
            # Brain Metastases", "Adults With Multiple Sclerosis, Breast Cancer or Lung
            # Cancer": not required.
            continue
        match = match or condition.trial_pattern.search(first)
        if match:
            found.append((condition.name, match.group(0)))
    return found


def criteria_conditions(text: str, kind: str = "inclusion") -> list[tuple[str, int, int]]:
    """The conditions marked `in_criteria` (in an exclusion: `in_exclusions`) that a
    criterion states, asserted (not negated, hedged or, in an inclusion, past; not a
    permission, nor one of "neoadjuvant or adjuvant" therapy): (name, start, end)."""
    found: list[tuple[str, int, int]] = []
    exclusion = kind == "exclusion"
    for condition in _criteria_conditions():
        if not (condition.in_exclusions if exclusion else condition.in_criteria):
            continue
        if not _may_name(text, condition.terms):
            continue
        spans = None
        for match in condition.trial_pattern.finditer(text):
            spans = spans or clause_spans(text)
            context = mention_context(text, match.start(), match.end(),
                                      clause_of(spans, match.start()))
            if context.negated or context.hypothetical or (
                    context.historical and not exclusion):
                continue
            if condition.in_exclusions and (
                    _OTHER_SETTING_NEAR.search(text, max(0, match.start() - 25),
                                               match.start()) or
                    _IF_BEFORE.search(text, max(0, match.start() - 50), match.start()) or
                    _OBJECT_OF_BEFORE.search(text, max(0, match.start() - 40),
                                             match.start()) or
                    _OTHER_SETTING_AFTER.match(text, match.end()) or
                    _PERMITTED.search(text, match.end(), match.end() + 120)):
                # "prior adjuvant or neoadjuvant chemotherapy", "neoadjuvant chemotherapy is
                # allowed", "node positive if they have received neoadjuvant chemotherapy":
                # curative-intent therapy in general, a permission, or a subgroup's rule
                continue
            found.append((condition.name, match.start(), match.end()))
            break
    return found


# (see `criteria_conditions`)
_OTHER_SETTING_NEAR = re_compile(r"(?i)\badjuvant\s*(?:,|or|and/or|and|/)\s*(?:\w+\s+)?$|"
                                 r"\(neo\)\s*$|\bneo\)?-?\s*$")
# The therapy only dates or qualifies something else: "dissection prior to initiation of
# neoadjuvant therapy", "pCR after neoadjuvant treatment", "response to preoperative
# chemotherapy", "concurrent neoadjuvant therapy with other agents", "fulvestrant ... as
# part of neoadjuvant therapy".
_OBJECT_OF_BEFORE = re_compile(r"(?i)\b(?:prior\s+to|before|after|following|during|response\s+"
                               r"to|concurrent|as\s+part\s+of|exception\s+of|except)\b"
                               r"(?:\s+[\w-]+){0,3}\s*$")
_IF_BEFORE = re_compile(r"(?i)\b(?:if|when|whether|unless|in\s+cases?|where)\b[^.;]{0,40}$")
_OTHER_SETTING_AFTER = re_compile(r"(?i)\s*(?:,|or|and/or|and|/)\s*(?:\w+\s+)?adjuvant\b")
_PERMITTED = re_compile(r"(?i)\b(?:is|are|will\s+be)\s+(?:also\s+)?(?:allowed|permitted|"
                        r"acceptable|eligible)\b|\bmay\s+(?:have|be)\b")


@lru_cache(maxsize=1)
def _all_terms() -> tuple[str, ...]:
    """Every condition's trial terms in lower case."""
    return tuple(dict.fromkeys(term for c in load_conditions() for term in c.terms))


def _may_name_a_condition(text: str) -> bool:
    """Could some condition's trial pattern match `text`? (see `_may_name`)"""
    return _may_name(text, _all_terms())


def _may_name(text: str, terms: tuple[str, ...]) -> bool:
    """Could a pattern of these lower-cased terms match `text`? Not unless the lower-cased
    text holds one of them: an IGNORECASE match of an ASCII term is the term in lower case
    once the text is lower-cased, unless lower-casing changes the text's length ("İ") or the
    text holds "ſ" or "ı" (which IGNORECASE reads as "s" and "i"), or a term is not ASCII;
    then yes."""
    lower = _lowered(text)
    if lower is None or not all(map(str.isascii, terms)):
        return True
    return any(map(lower.__contains__, terms))


_last_lowered: tuple[str, str | None] = ("", "")


def _lowered(text: str) -> str | None:
    """`text` lower-cased for `_may_name`, or None where lower-casing may lose a match. A
    criterion is asked about several conditions in a row: the last answer is kept."""
    global _last_lowered
    last_text, last_lower = _last_lowered  # one tuple: consistent even across threads
    if text is last_text:
        return last_lower
    lower: str | None = text.lower()
    if len(lower) != len(text) or "ſ" in text or "ı" in text:
        lower = None
    _last_lowered = (text, lower)
    return lower


def conditions_in_notes(texts: Iterable[str]) -> dict[str, tuple[bool, str]]:
    """What the notes say of each population condition: (has it now, the words).

    A mention that is negated ("no chylous ascites"), hedged, historical ("history of
    depression") or next to an absent cue ("former smoker", "quit in 2010") does not make the
    condition present; a negated one or one with an absent cue makes it absent, and so does a
    current mention of a state that rules it out ("mCRPC" rules out castration-sensitive
    disease). A present mention in any note wins over an absent one (a later note may find
    what an earlier did not).
    """
    found: dict[str, tuple[bool, str]] = {}
    conditions = load_conditions()
    notes = [_Note(text) for text in texts]
    for note in notes:
        for condition in conditions:
            for match, context in note.mentions(condition.note_pattern):
                if found.get(condition.name, (False, ""))[0]:
                    break
                sentence = note.sentence_at(match.start())
                absent_cue = condition.absent_pattern is not None and \
                    condition.absent_pattern.search(sentence) is not None
                if context.negated or absent_cue:
                    found.setdefault(condition.name, (False, sentence.strip()))
                elif not (context.hypothetical or (context.historical and
                                                   not condition.in_exclusions)):
                    # (a treatment read in exclusions is history by nature: "s/p
                    # neoadjuvant chemo-immunotherapy")
                    found[condition.name] = (True, sentence.strip())
    for condition in conditions:
        if condition.ruled_out_pattern is None or found.get(condition.name, (False, ""))[0]:
            continue
        ruling_out = ((note, match) for note in notes
                      for match, context in note.mentions(condition.ruled_out_pattern)
                      if not (context.negated or context.hypothetical or context.historical))
        first = next(ruling_out, None)
        if first is not None:
            # "mCRPC on enzalutamide": not castration-sensitive.
            note, match = first
            found[condition.name] = (False, note.sentence_at(match.start()).strip())
    for condition in conditions:
        if found.get(condition.name, (False, ""))[0]:
            # "De novo mHSPC (2023) ... now mCRPC": the earlier state is past.
            for earlier in condition.supersedes:
                found[earlier] = (False, found[condition.name][1])
    return found


class _Note:
    """One note's text, with its clauses cut once however many patterns are looked up."""

    def __init__(self, text: str):
        self.text = text
        self._clauses: list[tuple[int, int]] | None = None

    def mentions(self, pattern: re.Pattern[str]) -> Iterator[tuple[re.Match[str],
                                                                   MentionContext]]:
        """Each match of `pattern`, with what the words around it say of it."""
        for match in pattern.finditer(self.text):
            if self._clauses is None:
                self._clauses = clause_spans(self.text)
            yield match, mention_context(self.text, match.start(), match.end(),
                                         clause_of(self._clauses, match.start()))

    def sentence_at(self, offset: int) -> str:
        for match in _SENTENCE.finditer(self.text):
            if match.start() <= offset < match.end():
                return match.group(0)
        return ""
