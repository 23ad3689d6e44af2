"""The clinical knowledge base behind the second-opinion findings, loaded from data files.

- `data/protocols.json`: FDA-approved biomarker-directed therapies (each cites its FDA label
  and year).
- `data/testing_gaps.json`: the biomarkers guidelines recommend testing, per cancer type and
  stage (each rule cites its guideline).
- `data/standard_options.json`: systemic agents and the cancers whose guidelines list them as
  a standard option in advanced disease (each agent cites its guidelines).

Both files are validated when loaded; a bad entry raises DataFileError naming the file and the
entry. The loaders return frozen dataclasses and are cached.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from trialmatch.datafiles import optional_bool, read_data_file
from trialmatch.errors import DataFileError
from trialmatch.nlp import drugs
from trialmatch.regex_cache import re_compile

PROTOCOLS_FILE = "protocols.json"
TESTING_GAPS_FILE = "testing_gaps.json"
STANDARD_OPTIONS_FILE = "standard_options.json"
STANDARD_LINES_FILE = "standard_lines.json"

STATUSES = ("positive", "negative", "equivocal", "unknown")
# Basket markers: "_ANY_SOLID" (also written "_SOLID") is a tumor-agnostic approval for solid
# tumors, "_ANY" any cancer, "_HEME" any haematological cancer.
BASKETS = ("_ANY", "_ANY_SOLID", "_SOLID", "_HEME")
_CODE = re_compile(r"^[A-Z][A-Z0-9_]*$")
_STAGE = re_compile(r"^(0|IV|III|II|I)([ABC])?([0-9])?$")
# A protocol's source: its FDA label, or (for an off-label use the guideline lists) the NCCN
# guideline, each with its year.
_FDA_SOURCE = re_compile(r"^(?:FDA label|NCCN Guidelines) .+ (19|20)\d\d$")
_YEAR = re_compile(r"\b(19|20)\d\d\b")


@dataclass(frozen=True)
class BiomarkerSpec:
    """A biomarker result a protocol or guideline asks for.

    `alterations` empty means any result with the right status. `accept_unspecified` lets a
    result without an alteration count (ALK "positive" by IHC is an ALK fusion);
    `accept_unquantified` lets a positive result without a number meet a threshold
    ("TMB-high").
    """

    marker: str
    alterations: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ("positive",)
    min_value: float | None = None
    max_value: float | None = None
    unit: str | None = None
    accept_unspecified: bool = False
    accept_unquantified: bool = False
    germline: bool = False

    def describe(self) -> str:
        """Words for the spec, e.g. 'PD-L1 TPS >= 50' or 'EGFR exon 19 deletion or L858R'."""
        parts = [self.marker]
        if self.alterations:
            parts.append(" or ".join(self.alterations))
        if self.min_value is not None or self.max_value is not None:
            unit = self.unit or ""
            if self.min_value is not None and self.max_value is not None:
                parts.append(f"{unit} {self.min_value:g}-{self.max_value:g}".strip())
            elif self.min_value is not None:
                parts.append(f"{unit} >= {self.min_value:g}".strip())
            else:
                parts.append(f"{unit} <= {self.max_value:g}".strip())
        if self.statuses != ("positive",):
            parts.append("/".join(self.statuses))
        return " ".join(parts)


@dataclass(frozen=True)
class Protocol:
    """One FDA-approved biomarker-directed therapy for some cancer types."""

    id: str
    drug: str  # the biomarker-directed agent, whose mention counts as "considered"
    partners: tuple[str, ...]  # drugs given with it
    drug_class: str
    biomarker: tuple[BiomarkerSpec, ...]  # alternatives: any one suffices
    requires: tuple[tuple[BiomarkerSpec, ...], ...]  # every group must hold (any spec in it)
    excludes: tuple[BiomarkerSpec, ...]  # any of these rules the protocol out
    cancer_types: tuple[str, ...]
    except_cancer_types: tuple[str, ...]
    stages: tuple[str, ...]  # stage-group prefixes where the indication applies; () = any
    line: str | None
    note: str | None
    source: str
    # Drugs after which the guideline does not give this one (an earlier-generation TKI after
    # a later one), with the guideline that says so.
    not_after: tuple[str, ...] = ()
    not_after_source: str | None = None
    # Drug classes the label requires the patient to have received ("after EGFR-directed
    # therapy and platinum-based chemotherapy"), each needed.
    after_classes: tuple[str, ...] = ()

    @property
    def therapy(self) -> str:
        """The regimen's name, e.g. 'dabrafenib + trametinib'."""
        return " + ".join((self.drug, *self.partners))

    @property
    def tumor_agnostic(self) -> bool:
        """True for approvals defined by the biomarker rather than the cancer type."""
        return any(code in BASKETS for code in self.cancer_types)


@dataclass(frozen=True)
class AlterationPattern:
    """A regex rewrite applied to a result's alteration before comparison."""

    pattern: re.Pattern[str]
    replace: str
    marker: str | None


@dataclass(frozen=True)
class ProtocolBase:
    """The loaded protocols.json."""

    protocols: tuple[Protocol, ...]
    alteration_synonyms: dict[str, str]
    alteration_patterns: tuple[AlterationPattern, ...]
    # Drug classes whose agents are not offered again after one of them ("no_rechallenge"):
    # after progression on one PD-1 inhibitor, another is no new option.
    no_rechallenge: tuple[str, ...] = ()

    def normalise_alteration(self, marker: str, alteration: str | None) -> str | None:
        """The canonical spelling of an alteration ('p.V600E' -> 'V600E', 'rearrangement' ->
        'fusion', 'E746_A750del' on EGFR -> 'exon 19 deletion'), lower-cased for comparison."""
        if alteration is None or not alteration.strip():
            return None
        text = " ".join(alteration.split())
        for rewrite in self.alteration_patterns:
            if rewrite.marker is None or rewrite.marker.upper() == marker.upper():
                text = rewrite.pattern.sub(rewrite.replace, text)
        text = self.alteration_synonyms.get(text.lower(), text)
        return text.lower()


@dataclass(frozen=True)
class TestedMarker:
    """A biomarker a guideline recommends testing; documented when any of `any_of` is."""

    name: str
    any_of: tuple[str, ...]
    strength: str  # "recommended" or "consider"
    requires: tuple[tuple[BiomarkerSpec, ...], ...]
    note: str | None
    germline: bool = False  # an inherited-variant test: a germline test in the notes answers it
    # Documented only by a result for one of these alterations (classes: "fusion",
    # "amplification", "mutation"); () = any result for the marker.
    alterations: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestingRule:
    """The tests recommended for a cancer type at some stages."""

    id: str
    label: str
    cancer_types: tuple[str, ...]
    except_cancer_types: tuple[str, ...]
    stages: tuple[str, ...]  # stage-group prefixes; () = every stage
    markers: tuple[TestedMarker, ...]
    source: str
    max_age: int | None = None  # the rule applies up to this age (inclusive)
    sexes: tuple[str, ...] = ()  # the rule applies to these sexes only; () = any


# --------------------------------------------------------------------------- stage groups


def parse_stage_group(group: str | None) -> tuple[str, str | None, str | None] | None:
    """Split a stage group into (numeral, letter, digit): 'IIIC1' -> ('III', 'C', '1')."""
    if not group:
        return None
    match = _STAGE.match(group.strip().upper())
    if not match:
        return None
    return match.group(1), match.group(2), match.group(3)


def stage_in(group: str, prefixes: tuple[str, ...]) -> bool:
    """True when a stage group falls within one of the prefixes ('IIB' within 'II').

    A group less precise than a prefix counts as within it ('III' may be 'IIIB'), so an
    unspecified substage never hides a finding.
    """
    parsed = parse_stage_group(group)
    if parsed is None:
        return False
    for prefix in prefixes:
        want = parse_stage_group(prefix)
        if want is None or want[0] != parsed[0]:
            continue
        if all(w is None or g is None or w == g for w, g in zip(want[1:], parsed[1:], strict=True)):
            return True
    return False


# --------------------------------------------------------------------------- validation


class _Checker:
    """Builds DataFileErrors that name the file and the entry at fault."""

    def __init__(self, filename: str):
        self.filename = filename

    def fail(self, where: str, message: str) -> DataFileError:
        return DataFileError(f"{self.filename}: {where}: {message}",
                             hint="the packaged knowledge base is invalid")

    def identified(
        self, items: list[Any], section: str, kind: str
    ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(where, id, entry) for each entry of `section`: an object with a unique 'id'; `where`
        names it for later errors ("protocol 'osimertinib-egfr'")."""
        seen: set[str] = set()
        for index, raw in enumerate(items):
            where = f"{section}[{index}]"
            if not isinstance(raw, dict):
                raise self.fail(where, "must be an object")
            ident = self.text(raw, "id", where)
            where = f"{kind} {ident!r}"
            if ident in seen:
                raise self.fail(where, "duplicate id")
            seen.add(ident)
            yield where, ident, raw

    def keys(self, entry: dict[str, Any], allowed: frozenset[str], where: str) -> None:
        """Refuse keys the schema does not know: a misspelt 'stage' would silently widen a
        rule to every stage."""
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(map(repr, unknown))}; "
                                   f"allowed: {', '.join(sorted(allowed))}")

    def text(
        self, entry: dict[str, Any], key: str, where: str, required: bool = True
    ) -> str | None:
        value = entry.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"'{key}' must be a non-empty string")
        return value

    def strings(self, entry: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(where, f"'{key}' must be a list of non-empty strings")
        return tuple(value)

    def codes(self, entry: dict[str, Any], key: str, where: str, required: bool) -> tuple[str, ...]:
        codes = self.strings(entry, key, where)
        if required and not codes:
            raise self.fail(where, f"'{key}' must name at least one cancer type")
        for code in codes:
            if code not in BASKETS and not _CODE.match(code):
                raise self.fail(where, f"{code!r} in '{key}' is not an OncoTree code")
        return codes

    def stages(self, entry: dict[str, Any], where: str) -> tuple[str, ...]:
        stages = self.strings(entry, "stages", where)
        for stage in stages:
            if parse_stage_group(stage) is None:
                raise self.fail(where, f"{stage!r} in 'stages' is not a stage group")
        return stages

    def spec(self, raw: Any, where: str) -> BiomarkerSpec:
        if not isinstance(raw, dict):
            raise self.fail(where, "a biomarker must be an object")
        marker = self.text(raw, "marker", where)
        assert marker is not None
        status = raw.get("status", "positive")
        statuses = tuple(status) if isinstance(status, list) else (status,)
        if not statuses or any(s not in STATUSES for s in statuses):
            raise self.fail(where, f"biomarker {marker} has an invalid status {status!r}")
        numbers = {}
        for key in ("min_value", "max_value"):
            value = raw.get(key)
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            if value is not None and not is_number:
                raise self.fail(where, f"biomarker {marker} '{key}' must be a number")
            numbers[key] = None if value is None else float(value)
        low, high = numbers["min_value"], numbers["max_value"]
        if low is not None and high is not None and low > high:
            raise self.fail(where, f"biomarker {marker} has min_value above max_value")
        unit = raw.get("unit")
        if (low is not None or high is not None) and not unit:
            raise self.fail(where, f"biomarker {marker} has a threshold without a unit")
        flags = {}
        for key in ("accept_unspecified", "accept_unquantified", "germline"):
            value = raw.get(key, False)
            if not isinstance(value, bool):
                raise self.fail(where, f"biomarker {marker} '{key}' must be true or false")
            flags[key] = value
        known = {"marker", "alterations", "status", "min_value", "max_value", "unit",
                 "accept_unspecified", "accept_unquantified", "germline"}
        unknown = set(raw) - known
        if unknown:
            raise self.fail(where, f"biomarker {marker} has unknown keys {sorted(unknown)}")
        return BiomarkerSpec(
            marker=marker,
            alterations=self.strings(raw, "alterations", where),
            statuses=statuses,
            min_value=low,
            max_value=high,
            unit=unit,
            **flags,
        )

    def groups(self, raw: Any, where: str) -> tuple[tuple[BiomarkerSpec, ...], ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list) or not all(isinstance(g, list) and g for g in raw):
            raise self.fail(where, "'requires' must be a list of non-empty lists of biomarkers")
        return tuple(tuple(self.spec(s, where) for s in group) for group in raw)


def build_protocols(data: Any, filename: str = PROTOCOLS_FILE) -> ProtocolBase:
    """Validate the contents of protocols.json; raises DataFileError naming the entry."""
    check = _Checker(filename)
    if not isinstance(data, dict) or not isinstance(data.get("protocols"), list):
        raise check.fail("top level", "must be an object with a 'protocols' list")
    synonyms = data.get("alteration_synonyms", {})
    if not isinstance(synonyms, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in synonyms.items()
    ):
        raise check.fail("alteration_synonyms", "must map strings to strings")
    patterns = []
    for index, raw in enumerate(data.get("alteration_patterns", [])):
        where = f"alteration_patterns[{index}]"
        if not isinstance(raw, dict):
            raise check.fail(where, "must be an object")
        try:
            compiled = re_compile(check.text(raw, "pattern", where) or "", re.IGNORECASE)
        except re.error as exc:
            raise check.fail(where, f"invalid regex ({exc})") from exc
        replace = raw.get("replace")
        if not isinstance(replace, str):
            raise check.fail(where, "'replace' must be a string")
        marker = check.text(raw, "marker", where, required=False)
        patterns.append(AlterationPattern(compiled, replace, marker))

    protocols = []
    for where, ident, raw in check.identified(data["protocols"], "protocols", "protocol"):
        drug = check.text(raw, "drug", where)
        assert drug is not None
        canonical = drugs.normalise_drug(drug)
        if canonical != drug:
            raise check.fail(where, f"drug {drug!r} is not a canonical name in drugs.json")
        partners = check.strings(raw, "partners", where)
        for partner in partners:
            if drugs.normalise_drug(partner) != partner:
                raise check.fail(where, f"partner {partner!r} is not canonical in drugs.json")
        drug_class = check.text(raw, "drug_class", where)
        assert drug_class is not None
        if drug_class not in drugs.classes_of(drug):
            raise check.fail(where, f"{drug} is not in class {drug_class!r} in drugs.json")
        biomarker = raw.get("biomarker")
        alternatives = biomarker if isinstance(biomarker, list) else [biomarker]
        if not alternatives:
            raise check.fail(where, "'biomarker' must not be empty")
        source = check.text(raw, "source", where)
        assert source is not None
        if not _FDA_SOURCE.match(source):
            raise check.fail(where, "'source' must read 'FDA label <drug> <year>' or "
                                    "'NCCN Guidelines <guideline> <year>'")
        excludes = raw.get("excludes", [])
        if not isinstance(excludes, list):
            raise check.fail(where, "'excludes' must be a list of biomarkers")
        known = {"id", "drug", "partners", "drug_class", "biomarker", "requires", "excludes",
                 "cancer_types", "except_cancer_types", "stages", "line", "note", "source",
                 "not_after", "not_after_source", "after_classes"}
        unknown = set(raw) - known
        if unknown:
            raise check.fail(where, f"unknown keys {sorted(unknown)}")
        not_after = raw.get("not_after", [])
        if not isinstance(not_after, list) or not all(
                isinstance(d, str) and drugs.normalise_drug(d) == d for d in not_after):
            raise check.fail(where, "'not_after' must list drug names known to drugs.json")
        not_after_source = check.text(raw, "not_after_source", where, required=bool(not_after))
        after_classes = raw.get("after_classes", [])
        if not isinstance(after_classes, list) or not all(
                isinstance(c, str) and drugs.normalise_drug_class(c) == c for c in after_classes):
            raise check.fail(where, "'after_classes' must list drug classes of drugs.json")
        protocols.append(Protocol(
            id=ident,
            drug=drug,
            partners=partners,
            drug_class=drug_class,
            biomarker=tuple(check.spec(s, where) for s in alternatives),
            requires=check.groups(raw.get("requires"), where),
            excludes=tuple(check.spec(s, where) for s in excludes),
            cancer_types=check.codes(raw, "cancer_types", where, required=True),
            except_cancer_types=check.codes(raw, "except_cancer_types", where, required=False),
            stages=check.stages(raw, where),
            line=check.text(raw, "line", where, required=False),
            note=check.text(raw, "note", where, required=False),
            source=source,
            not_after=tuple(not_after),
            not_after_source=not_after_source,
            after_classes=tuple(after_classes),
        ))
    if not protocols:
        raise check.fail("protocols", "no protocol defined")
    return ProtocolBase(
        protocols=tuple(protocols),
        alteration_synonyms={k.lower(): v for k, v in synonyms.items()},
        alteration_patterns=tuple(patterns),
        no_rechallenge=_no_rechallenge(check, data.get("no_rechallenge", [])),
    )


def _no_rechallenge(check: _Checker, raw: Any) -> tuple[str, ...]:
    """protocols.json's `no_rechallenge`: [{"class", "source"}], each class known to drugs.json."""
    if not isinstance(raw, list):
        raise check.fail("no_rechallenge", "must be a list")
    classes = []
    for index, entry in enumerate(raw):
        where = f"no_rechallenge[{index}]"
        if not isinstance(entry, dict):
            raise check.fail(where, "must be an object")
        check.keys(entry, frozenset({"class", "source"}), where)
        name = check.text(entry, "class", where)
        source = check.text(entry, "source", where)
        assert name is not None and source is not None
        if not _YEAR.search(source):
            raise check.fail(where, "'source' must name the guideline and its year")
        if drugs.normalise_drug_class(name) != name:
            raise check.fail(where, f"{name!r} is not a drug class in drugs.json")
        classes.append(name)
    return tuple(classes)


_RULE_KEYS = frozenset({"id", "label", "cancer_types", "except_cancer_types", "stages",
                        "max_age", "sexes", "markers", "source"})
_MARKER_KEYS = frozenset({"marker", "any_of", "strength", "requires", "note", "germline",
                          "alterations"})
_SEXES = ("female", "male")


def build_testing_rules(data: Any, filename: str = TESTING_GAPS_FILE) -> tuple[TestingRule, ...]:
    """Validate the contents of testing_gaps.json; raises DataFileError naming the entry."""
    check = _Checker(filename)
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise check.fail("top level", "must be an object with a 'rules' list")
    rules = []
    for where, ident, raw in check.identified(data["rules"], "rules", "rule"):
        check.keys(raw, _RULE_KEYS, where)
        max_age = raw.get("max_age")
        if max_age is not None and (not isinstance(max_age, int) or isinstance(max_age, bool)
                                    or not 0 < max_age < 120):
            raise check.fail(where, "'max_age' must be a whole number of years")
        sexes = check.strings(raw, "sexes", where)
        if any(sex not in _SEXES for sex in sexes):
            raise check.fail(where, f"'sexes' may hold only {', '.join(_SEXES)}")
        source = check.text(raw, "source", where)
        assert source is not None
        if not _YEAR.search(source):
            raise check.fail(where, "'source' must name the guideline and its year")
        raw_markers = raw.get("markers")
        if not isinstance(raw_markers, list) or not raw_markers:
            raise check.fail(where, "'markers' must be a non-empty list")
        markers = []
        for marker_raw in raw_markers:
            if not isinstance(marker_raw, dict):
                raise check.fail(where, "each marker must be an object")
            name = check.text(marker_raw, "marker", where)
            assert name is not None
            check.keys(marker_raw, _MARKER_KEYS, f"{where} marker {name}")
            any_of = check.strings(marker_raw, "any_of", where) or (name,)
            strength = marker_raw.get("strength", "recommended")
            if strength not in ("recommended", "consider"):
                raise check.fail(where, f"marker {name} has strength {strength!r}")
            markers.append(TestedMarker(
                name=name,
                any_of=any_of,
                strength=strength,
                requires=check.groups(marker_raw.get("requires"), f"{where} marker {name}"),
                note=check.text(marker_raw, "note", where, required=False),
                germline=optional_bool(marker_raw, "germline", f"{filename}: {where}"),
                alterations=check.strings(marker_raw, "alterations", where),
            ))
        label = check.text(raw, "label", where)
        assert label is not None
        rules.append(TestingRule(
            id=ident,
            label=label,
            cancer_types=check.codes(raw, "cancer_types", where, required=True),
            except_cancer_types=check.codes(raw, "except_cancer_types", where, required=False),
            stages=check.stages(raw, where),
            markers=tuple(markers),
            source=source,
            max_age=max_age,
            sexes=sexes,
        ))
    if not rules:
        raise check.fail("rules", "no rule defined")
    return tuple(rules)


@cache
def get_protocols() -> ProtocolBase:
    """The packaged protocol knowledge base, loaded and validated once."""
    return build_protocols(read_data_file("trialmatch.match", PROTOCOLS_FILE))


@cache
def get_testing_rules() -> tuple[TestingRule, ...]:
    """The packaged testing-gap rules, loaded and validated once."""
    return build_testing_rules(read_data_file("trialmatch.match", TESTING_GAPS_FILE))


def build_standard_options(data: Any, filename: str = STANDARD_OPTIONS_FILE
                           ) -> dict[str, tuple[str, ...]]:
    """Agent (canonical drug name) -> the OncoTree codes whose guidelines list it."""
    where = f"trialmatch/match/data/{filename}"
    options = data.get("options") if isinstance(data, dict) else None
    if not isinstance(options, dict) or not options:
        raise DataFileError(f"{where}: expected an object with an 'options' map")
    out: dict[str, tuple[str, ...]] = {}
    for name, entry in options.items():
        here = f"{where}: options[{name!r}]"
        if drugs.normalise_drug(name) != name:
            raise DataFileError(f"{here}: not a canonical drug name of drugs.json")
        if not isinstance(entry, dict) or set(entry) != {"cancer_types", "source"}:
            raise DataFileError(f"{here}: needs exactly 'cancer_types' and 'source'")
        codes = entry["cancer_types"]
        if not isinstance(codes, list) or not codes or not all(
                isinstance(c, str) and _CODE.match(c) for c in codes):
            raise DataFileError(f"{here}: 'cancer_types' must be a list of OncoTree codes")
        if not isinstance(entry["source"], str) or not entry["source"].strip():
            raise DataFileError(f"{here}: 'source' must cite the guidelines")
        out[name] = tuple(codes)
    return out


@cache
def get_standard_options() -> dict[str, tuple[str, ...]]:
    """The packaged standard-option table, loaded and validated once."""
    return build_standard_options(read_data_file("trialmatch.match", STANDARD_OPTIONS_FILE))


def build_standard_lines(data: Any, filename: str = STANDARD_LINES_FILE
                         ) -> dict[str, tuple[int, str]]:
    """OncoTree code -> (the number of standard lines for advanced disease, their source)."""
    where = f"trialmatch/match/data/{filename}"
    cancers = data.get("cancers") if isinstance(data, dict) else None
    if not isinstance(cancers, dict) or not cancers:
        raise DataFileError(f"{where}: expected an object with a 'cancers' map")
    out: dict[str, tuple[int, str]] = {}
    for code, entry in cancers.items():
        here = f"{where}: cancers[{code!r}]"
        if not _CODE.match(code):
            raise DataFileError(f"{here}: not an OncoTree code")
        if not isinstance(entry, dict) or set(entry) != {"lines", "source"}:
            raise DataFileError(f"{here}: needs exactly 'lines' and 'source'")
        lines = entry["lines"]
        if not isinstance(lines, int) or isinstance(lines, bool) or lines < 1:
            raise DataFileError(f"{here}: 'lines' must be a whole number of at least 1")
        if not isinstance(entry["source"], str) or not entry["source"].strip():
            raise DataFileError(f"{here}: 'source' must cite the guidelines")
        out[code] = (lines, entry["source"])
    return out


@cache
def get_standard_lines() -> dict[str, tuple[int, str]]:
    """The packaged standard-lines table, loaded and validated once."""
    return build_standard_lines(read_data_file("trialmatch.match", STANDARD_LINES_FILE))


def standard_lines_for(code: str, is_a: Any) -> tuple[int, str, str] | None:
    """(lines, the table's code, its source) for the most specific entry covering cancer
    `code`, or None when the table leaves the cancer out."""
    found = [(listed, lines, source) for listed, (lines, source) in get_standard_lines().items()
             if is_a(code, listed)]
    if not found:
        return None
    # The most specific: the entry the others' codes are ancestors of.
    best = next((f for f in found if all(is_a(f[0], g[0]) for g in found)), found[0])
    return best[1], best[0], best[2]


def standard_option_for(drug: str, code: str, is_a: Any) -> bool | None:
    """Whether guidelines list `drug` for cancer `code` in advanced disease; None when the
    table does not cover the drug."""
    codes = get_standard_options().get(drug)
    if codes is None:
        return None
    return any(is_a(code, listed) for listed in codes)
