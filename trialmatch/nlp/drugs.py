"""Cancer drug names and drug classes: finding them in text and telling which class a drug is in.

The terminology lives in `data/drugs.json` (generic names, brand names, code names, classes
with parent classes and synonyms, and standard regimen names such as FOLFOX, which stand for
their component drugs). Used by criteria parsing ("prior platinum-based
chemotherapy"), by the prior-therapy check, and by the second-opinion finder to decide whether
a first opinion's plan already mentions a biomarker-directed therapy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from trialmatch.datafiles import read_data_file
from trialmatch.errors import DataFileError
from trialmatch.regex_cache import re_compile

DATA_FILE = "drugs.json"



def _is_acronym(term: str) -> bool:
    """Short capitalised spellings ("ADT", "ICI", "CHOP", "BiTE") are matched case-sensitively:
    in lower case they collide with ordinary words ("chop", "bite") in clinical text."""
    if len(term) > 5 or any(c.isspace() for c in term):
        return False
    upper = sum(c.isupper() for c in term)
    return upper >= 1 and upper >= sum(c.islower() for c in term)


@dataclass(frozen=True)
class DrugMention:
    """A drug or drug-class mention in a text: `key` is the canonical drug or class name."""

    key: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class DrugLexicon:
    """The loaded drugs.json: canonical names, their spellings, and the class hierarchy."""

    drug_classes: dict[str, frozenset[str]]  # drug -> its direct classes
    class_parents: dict[str, frozenset[str]]  # class -> its direct parents
    drug_by_name: dict[str, str]  # squashed spelling (see _squash) -> canonical drug
    class_by_name: dict[str, str]  # squashed spelling -> canonical class
    regimen_by_name: dict[str, tuple[str, ...]]  # squashed spelling -> component drugs
    drug_pattern: TermPattern  # drug and regimen spellings
    class_pattern: TermPattern
    # Classes of supportive care (bone-modifying agents, corticosteroids): given alone they
    # are no line of anticancer therapy.
    supportive_classes: frozenset[str] = frozenset()

    def ancestors(self, drug_class: str) -> set[str]:
        """The class itself and every class above it."""
        seen: set[str] = set()
        todo = [drug_class]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(self.class_parents.get(current, ()))
        return seen


def _fail(message: str) -> DataFileError:
    return DataFileError(f"{DATA_FILE}: {message}", hint="the packaged drug list is invalid")


_SEPARATOR = ""  # trie unit for a space or hyphen, which may also be left out


def _units(term: str, fold: bool) -> list[str]:
    """A spelling as trie units: characters, with each run of spaces and hyphens as one unit."""
    units: list[str] = []
    for char in term.lower() if fold else term:
        if char in " -":
            if units and units[-1] != _SEPARATOR:
                units.append(_SEPARATOR)
        else:
            units.append(char)
    return units


def _trie_regex(node: dict[str, Any]) -> str:
    """Regex for a character trie; greedy optional tails keep the longest spelling first."""
    branches = [
        (r"[\s\-]{0,3}" if unit == _SEPARATOR else re.escape(unit)) + _trie_regex(child)
        for unit, child in sorted(node.items(), key=lambda item: item[0] != _SEPARATOR)
        if unit != "$"
    ]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "$" in node:
        return f"(?:{body})?"
    return body


def _compile_trie(terms: list[str], fold: bool) -> re.Pattern[str] | None:
    trie: dict[str, Any] = {}
    for term in terms:
        node = trie
        for unit in _units(term, fold):
            node = node.setdefault(unit, {})
        node["$"] = True
    if not trie:
        return None
    return re_compile(rf"(?<!\w){_trie_regex(trie)}(?!\w)", re.IGNORECASE if fold else 0)


@dataclass(frozen=True)
class TermPattern:
    """Finds spellings in text: one trie regex for ordinary spellings (any case), one for
    acronyms (exact case). A trie is much faster than a long alternation in Python's `re`."""

    folded: re.Pattern[str] | None
    exact: re.Pattern[str] | None

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Non-overlapping (start, end, words) hits, the longest winning where two overlap."""
        hits = [
            (m.start(), m.end(), m.group(0))
            for pattern in (self.folded, self.exact) if pattern is not None
            for m in pattern.finditer(text)
        ]
        hits.sort(key=lambda hit: (hit[0], hit[0] - hit[1]))
        kept: list[tuple[int, int, str]] = []
        for hit in hits:
            if kept and hit[0] < kept[-1][1]:
                continue
            kept.append(hit)
        return kept


def _compile(spellings: list[str]) -> TermPattern:
    unique = sorted(set(spellings))
    return TermPattern(
        folded=_compile_trie([s for s in unique if not _is_acronym(s)], fold=True),
        exact=_compile_trie([s for s in unique if _is_acronym(s)], fold=False),
    )


_COUNT_NOUN = re.compile(r"(?<=[a-z\s-])(?:inhibitor|conjugate|antibody|agent|analogu?e?|blocker|"
                         r"modulator|degrader|antagonist|agonist|vaccine|engager|compound)$")


def _plural(spelling: str) -> str | None:
    """The plural of a class spelling ending in a count noun ("ADC" and "chemotherapy" have
    none here)."""
    found = _COUNT_NOUN.search(spelling)
    if found is None:
        return None
    return spelling[:-1] + "ies" if spelling.endswith("y") else spelling + "s"


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(f"{where} must be a list of non-empty strings")
    return list(value)


def build_lexicon(data: Any) -> DrugLexicon:
    """Validate the contents of drugs.json and index them; raises DataFileError naming the entry."""
    if not isinstance(data, dict):
        raise _fail("top level must be an object")
    classes = data.get("classes")
    drugs = data.get("drugs")
    if not isinstance(classes, dict) or not classes:
        raise _fail("'classes' must be a non-empty object")
    if not isinstance(drugs, dict) or not drugs:
        raise _fail("'drugs' must be a non-empty object")

    class_parents: dict[str, frozenset[str]] = {}
    supportive_names: set[str] = set()
    class_by_name: dict[str, str] = {}
    class_spellings: list[str] = []
    drug_spellings: list[str] = []
    for name, entry in classes.items():
        if not isinstance(entry, dict):
            raise _fail(f"class {name!r} must be an object")
        parents = _strings(entry.get("parents", []), f"class {name!r} parents")
        for parent in parents:
            if parent not in classes:
                raise _fail(f"class {name!r} has unknown parent {parent!r}")
        class_parents[name] = frozenset(parents)
        supportive = entry.get("supportive", False)
        if not isinstance(supportive, bool) or (
                supportive and not str(entry.get("supportive_source") or "").strip()):
            raise _fail(f"class {name!r}: 'supportive' must be true or false, with "
                        "'supportive_source'")
        if supportive:
            supportive_names.add(name)
        for spelling in [name, *_strings(entry.get("synonyms", []), f"class {name!r} synonyms")]:
            key = _squash(spelling)
            if class_by_name.get(key, name) != name:
                raise _fail(f"class synonym {spelling!r} of {name!r} already names "
                            f"{class_by_name[key]!r}")
            class_by_name[key] = name
            class_spellings.append(spelling)
    for name, spelling in [(class_by_name[_squash(s)], s) for s in list(class_spellings)]:
        # "antibody drug conjugates", "bispecific antibodies": a class named by a count noun
        # is written in the plural too.
        plural = _plural(spelling)
        if plural and _squash(plural) not in class_by_name:
            class_by_name[_squash(plural)] = name
            class_spellings.append(plural)

    drug_classes: dict[str, frozenset[str]] = {}
    drug_by_name: dict[str, str] = {}
    for name, entry in drugs.items():
        if not isinstance(entry, dict):
            raise _fail(f"drug {name!r} must be an object")
        own = _strings(entry.get("classes"), f"drug {name!r} classes")
        if not own:
            raise _fail(f"drug {name!r} has no class")
        for drug_class in own:
            if drug_class not in classes:
                raise _fail(f"drug {name!r} has unknown class {drug_class!r}")
        drug_classes[name] = frozenset(own)
        spellings = [
            name,
            *_strings(entry.get("brands", []), f"drug {name!r} brands"),
            *_strings(entry.get("aliases", []), f"drug {name!r} aliases"),
        ]
        for spelling in spellings:
            key = _squash(spelling)
            if drug_by_name.get(key, name) != name:
                raise _fail(f"spelling {spelling!r} of drug {name!r} already names "
                            f"{drug_by_name[key]!r}")
            if key in class_by_name:
                raise _fail(f"spelling {spelling!r} of drug {name!r} is also a class name")
            drug_by_name[key] = name
            drug_spellings.append(spelling)

    regimens = data.get("regimens", {})
    if not isinstance(regimens, dict):
        raise _fail("'regimens' must be an object")
    regimen_by_name: dict[str, tuple[str, ...]] = {}
    for name, entry in regimens.items():
        if not isinstance(entry, dict):
            raise _fail(f"regimen {name!r} must be an object")
        components = _strings(entry.get("drugs"), f"regimen {name!r} drugs")
        if len(components) < 2:
            raise _fail(f"regimen {name!r} must name at least two drugs")
        for component in components:
            if component not in drugs:
                raise _fail(f"regimen {name!r} has unknown drug {component!r}")
        for spelling in [name, *_strings(entry.get("aliases", []), f"regimen {name!r} aliases")]:
            key = _squash(spelling)
            if key in drug_by_name or key in class_by_name or \
                    regimen_by_name.get(key, tuple(components)) != tuple(components):
                raise _fail(f"spelling {spelling!r} of regimen {name!r} already names something")
            regimen_by_name[key] = tuple(components)
            drug_spellings.append(spelling)

    lexicon = DrugLexicon(
        drug_classes=drug_classes,
        class_parents=class_parents,
        drug_by_name=drug_by_name,
        class_by_name=class_by_name,
        regimen_by_name=regimen_by_name,
        drug_pattern=_compile(drug_spellings),
        class_pattern=_compile(class_spellings),
        supportive_classes=frozenset(supportive_names),
    )
    for name in classes:
        # A cycle would make every ancestor walk include the class itself through a parent.
        if any(name in lexicon.ancestors(parent) for parent in class_parents[name]):
            raise _fail(f"class {name!r} is its own ancestor")
    return lexicon


@cache
def get_lexicon() -> DrugLexicon:
    """The packaged drug lexicon, loaded and validated once per process, and kept in the
    user cache (`trialmatch.cache`) keyed by this module and the data file: building its
    tries was a tenth of what reading a case spent (issue 19)."""
    from trialmatch.cache import load_or_build

    try:
        data_text = resources.files("trialmatch.nlp").joinpath("data", DATA_FILE).read_text(
            encoding="utf-8")  # as read_data_file reads it
        sources = [Path(__file__).read_bytes(), data_text.encode("utf-8")]
    except (OSError, UnicodeError):
        return build_lexicon(read_data_file("trialmatch.nlp", DATA_FILE))  # names the fault
    return load_or_build("drugs", sources,
                         lambda: build_lexicon(read_data_file("trialmatch.nlp", DATA_FILE)),
                         DrugLexicon)


_SPACES_AND_HYPHENS = re_compile(r"[\s\-]+")


def _squash(words: str) -> str:
    """The lookup key of a spelling: case, spaces and hyphens do not matter."""
    return _SPACES_AND_HYPHENS.sub("", words.lower())


def find_drugs(text: str) -> list[DrugMention]:
    """Every drug named in `text` (generic, brand or code name), as canonical generic names.

    A regimen name ("FOLFOX") gives one mention per component drug, all over the same words.
    """
    return drug_mentions(get_lexicon().drug_pattern.find(text))


def drug_mentions(hits: Iterable[tuple[int, int, str]]) -> list[DrugMention]:
    """Drug mentions from (start, end, words) hits of the drug pattern; a faster finder of the
    same hits (the criteria parser's) shares this step."""
    lexicon = get_lexicon()
    found = []
    for start, end, words in hits:
        key = _squash(words)
        if key in lexicon.drug_by_name:
            names: tuple[str, ...] = (lexicon.drug_by_name[key],)
        else:
            names = lexicon.regimen_by_name.get(key, ())
        found.extend(DrugMention(key=name, start=start, end=end, text=words) for name in names)
    return found


def find_drug_classes(text: str) -> list[DrugMention]:
    """Every drug-class mention in `text` ("platinum-based chemotherapy", "anti-PD-1")."""
    return class_mentions(get_lexicon().class_pattern.find(text))


def class_mentions(hits: Iterable[tuple[int, int, str]]) -> list[DrugMention]:
    """Drug-class mentions from (start, end, words) hits of the class pattern."""
    names = get_lexicon().class_by_name
    return [DrugMention(key=names[_squash(words)], start=start, end=end, text=words)
            for start, end, words in hits if _squash(words) in names]


def normalise_drug(name: str) -> str | None:
    """The canonical generic name for a drug spelling (brand or code name), or None."""
    return get_lexicon().drug_by_name.get(_squash(name))


def normalise_drug_class(name: str) -> str | None:
    """The canonical class name for a class spelling ("anti-PD-1" -> "PD-1 inhibitor"), or None."""
    return get_lexicon().class_by_name.get(_squash(name))


def regimen_drugs(name: str) -> tuple[str, ...]:
    """The component drugs of a regimen name ("mFOLFOX6" -> fluorouracil, leucovorin,
    oxaliplatin); empty when the name is not a known regimen."""
    return get_lexicon().regimen_by_name.get(_squash(name), ())


def classes_of(drug: str) -> set[str]:
    """The classes of a drug (any spelling), including every ancestor class; empty if unknown.

    For a regimen name, the classes of all its component drugs.
    """
    lexicon = get_lexicon()
    canonical = normalise_drug(drug)
    components = (canonical,) if canonical is not None else regimen_drugs(drug)
    found: set[str] = set()
    for component in components:
        for drug_class in lexicon.drug_classes[component]:
            found |= lexicon.ancestors(drug_class)
    return found


def is_in_class(drug: str, drug_class: str) -> bool:
    """True when the drug belongs to the class or to one of its descendants."""
    canonical_class = normalise_drug_class(drug_class)
    return canonical_class is not None and canonical_class in classes_of(drug)


def mentions_drug_or_class(text: str, drug: str) -> bool:
    """True when `text` names the drug, one of its brand or code names, or one of its classes.

    "EGFR TKI" and "targeted therapy" both mention osimertinib; "erlotinib" does not.
    """
    canonical = normalise_drug(drug)
    if canonical is None or not text:
        return False
    if any(m.key == canonical for m in find_drugs(text)):
        return True
    classes = classes_of(canonical)
    return any(m.key in classes for m in find_drug_classes(text))
