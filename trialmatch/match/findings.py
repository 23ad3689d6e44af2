"""Second-opinion findings: protocols the first opinion may have missed, biomarker tests not
documented, and where the notes disagree with the first opinion.

Pure functions over `Profile`s and the knowledge base. Cancer-type relations come in as the
`is_a(code, ancestor)` and `is_solid(code)` callables, so this module needs no vocabulary.
Every finding is decision support for clinicians, not a recommendation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from trialmatch.match.knowledge import (
    BiomarkerSpec,
    Protocol,
    ProtocolBase,
    TestingRule,
    get_protocols,
    get_testing_rules,
    parse_stage_group,
    stage_in,
)
from trialmatch.models import Biomarker, Profile
from trialmatch.nlp import drugs
from trialmatch.nlp.notes import repair_ocr_zeros
from trialmatch.regex_cache import re_compile

IsA = Callable[[str, str], bool]

# Markers that are not genes: a negative result reads "HER2 negative", not "wild-type".
_NON_GENE_MARKERS = {"ER", "PR", "HER2", "PD-L1", "KI-67", "MSI", "MMR", "TMB", "P16", "HPV",
                     "HRD", "CLDN18", "FOLR1", "MGMT", "1P/19Q"}
# Alterations that are not sequence mutations: a spec asking for "mutation" does not take them.
_NOT_MUTATIONS = {"fusion", "amplification", "overexpression", "expression", "deficient",
                  "proficient", "loss", "methylation", "wild-type", "wildtype"}
# Markers whose results may be reported as a per-cent of cells without the unit's name:
# "PD-L1 60%" is a tumour proportion score.
_PERCENT_UNITS = {"TPS", "%"}


# --------------------------------------------------------------------------- result types


@dataclass
class ProtocolFinding:
    """A biomarker-directed therapy the patient's biomarkers qualify for."""

    biomarker: str  # the patient's result, e.g. "EGFR exon 19 deletion"
    marker: str  # its marker name, e.g. "EGFR"
    therapy: str  # e.g. "dabrafenib + trametinib"
    source: str  # "FDA label <drug> <year>"
    missed: bool  # the first opinion's plan does not mention the drug or its class
    drug: str
    drug_class: str
    protocol_id: str
    cancer_types: list[str]
    tumor_agnostic: bool
    line: str | None = None
    note: str | None = None
    conditions: list[str] = field(default_factory=list)  # other results the label requires
    evidence: str = ""
    # From the protocol: drugs after which it is not given; classes it is given after.
    not_after: tuple[str, ...] = ()
    after_classes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "biomarker": self.biomarker,
            "therapy": self.therapy,
            "source": self.source,
            "missed": self.missed,
            "marker": self.marker,
            "drug": self.drug,
            "drug_class": self.drug_class,
            "line": self.line,
            "cancer_types": list(self.cancer_types),
            "tumor_agnostic": self.tumor_agnostic,
            "conditions": list(self.conditions),
            "note": self.note,
            "protocol_id": self.protocol_id,
            "evidence": self.evidence,
        }


@dataclass
class TestingGap:
    """A biomarker that guidelines recommend testing and the notes do not document."""

    marker: str
    reason: str
    strength: str  # "recommended" or "consider"
    source: str
    rule_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "marker": self.marker,
            "reason": self.reason,
            "strength": self.strength,
            "source": self.source,
            "rule_id": self.rule_id,
        }


@dataclass
class Discrepancy:
    """A fact on which the notes disagree with the first opinion."""

    field: str  # "diagnosis", "stage", "grade" or "biomarker:<marker>"
    first_opinion: str
    found: str
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "first_opinion": self.first_opinion,
            "found": self.found,
            "evidence": self.evidence,
        }


# --------------------------------------------------------------------------- shared helpers


def profile_stage_group(profile: Profile) -> str | None:
    """The stage group the notes support: the group, else the FIGO stage; IV for any M1."""
    stage = profile.stage
    if stage is None:
        return None
    # AJCC 8th edition: any M1 is stage IV in every site the knowledge base covers, and it
    # outranks a group written earlier (a melanoma "stage IIIC at that time", later M1c).
    distant = bool(stage.m and stage.m.upper().startswith("M1"))
    for group in (stage.group, stage.figo):
        parsed = parse_stage_group(group)
        if parsed and (not distant or parsed[0] == "IV"):
            return group
    return "IV" if distant else None


def _code_in(code: str, targets: Iterable[str], is_a: IsA, is_solid: Callable[[str], bool]) -> bool:
    for target in targets:
        if target == "_ANY":
            return True
        if target in ("_ANY_SOLID", "_SOLID"):
            if is_solid(code):
                return True
        elif target == "_HEME":
            if not is_solid(code):
                return True
        elif code == target or is_a(code, target):
            return True
    return False


def _is_mmr_deficient(biomarker: Biomarker, base: ProtocolBase) -> bool:
    """dMMR, by the extractor's convention (trialmatch/nlp/biomarkers.py): MMR `positive` is
    deficient, `negative` proficient. An `equivocal` result counts only when its alteration
    names the deficiency ("loss of MLH1/PMS2"); pending or failed tests never do."""
    alteration = base.normalise_alteration("MMR", biomarker.alteration)
    if alteration == "proficient":
        return False
    if biomarker.status == "positive":
        return True
    return biomarker.status == "equivocal" and alteration in ("deficient", "loss")


def _units_agree(spec_unit: str | None, unit: str | None) -> bool:
    if spec_unit is None or unit is None:
        return True
    if spec_unit.upper() == unit.upper():
        return True
    return spec_unit.upper() in _PERCENT_UNITS and unit.upper() in _PERCENT_UNITS


def spec_matches(spec: BiomarkerSpec, biomarker: Biomarker, base: ProtocolBase) -> bool:
    """True when one biomarker result satisfies a spec (marker, status, alteration, threshold)."""
    if spec.marker.upper() != biomarker.marker.upper():
        return False
    if spec.marker.upper() == "MMR" and spec.statuses == ("positive",):
        if not _is_mmr_deficient(biomarker, base):
            return False
    elif biomarker.status not in spec.statuses:
        return False
    if spec.min_value is not None or spec.max_value is not None:
        if biomarker.value is None:
            # "TMB-high" without a number meets a TMB >= 10 label only where the data says so.
            if not (spec.accept_unquantified and biomarker.status == "positive"):
                return False
        else:
            if not _units_agree(spec.unit, biomarker.unit):
                return False
            if spec.min_value is not None and biomarker.value < spec.min_value:
                return False
            if spec.max_value is not None and biomarker.value > spec.max_value:
                return False
    if spec.alterations and spec.marker.upper() != "MMR":
        alteration = base.normalise_alteration(biomarker.marker, biomarker.alteration)
        if alteration is None:
            return spec.accept_unspecified
        wanted = {a.lower() for a in spec.alterations}
        if alteration in wanted:
            return True
        return "mutation" in wanted and alteration not in _NOT_MUTATIONS
    return True


def _first_match(
    specs: Iterable[BiomarkerSpec], biomarkers: list[Biomarker], base: ProtocolBase
) -> Biomarker | None:
    for spec in specs:
        for biomarker in biomarkers:
            if spec_matches(spec, biomarker, base):
                return biomarker
    return None


def biomarker_label(biomarker: Biomarker) -> str:
    """A result in a clinician's words: 'EGFR exon 19 deletion', 'KRAS wild-type', 'MSI-H'."""
    marker = biomarker.marker.upper()
    if marker == "MSI" and biomarker.status == "positive":
        return "MSI-H"
    if marker == "MSI" and biomarker.status == "negative":
        return "MSS"
    if marker == "MMR" and biomarker.status == "positive":
        return "MMR deficient (dMMR)"
    if marker == "TMB" and biomarker.status == "positive" and biomarker.value is None:
        return "TMB-high"
    if (biomarker.status == "negative" and marker not in _NON_GENE_MARKERS
            and biomarker.value is None and not biomarker.alteration):
        return f"{biomarker.marker} wild-type"
    return biomarker.label()


# --------------------------------------------------------------------------- protocols


def find_protocols(
    profile: Profile,
    *,
    is_a: IsA,
    is_solid: Callable[[str], bool],
    plan_text: str | None,
    base: ProtocolBase | None = None,
) -> list[ProtocolFinding]:
    """The FDA-approved biomarker-directed therapies the profile qualifies for.

    A protocol is reported when the profile has its biomarker (status, alteration and threshold),
    every result it requires and none it excludes, the cancer type is one of its cancer types
    (or the approval is tumor-agnostic) and a documented stage fits its setting. `missed` is
    true when `plan_text` is None (no first opinion) or does not name the drug, a brand name or
    one of its classes. A tumor-agnostic approval is not repeated for a drug already reported
    under a cancer-specific approval (pembrolizumab for MSI-H colorectal cancer makes its
    TMB-high basket approval redundant).
    """
    if profile.cancer_type is None or not profile.cancer_type.code:
        return []
    base = base or get_protocols()
    code = profile.cancer_type.code
    stage = profile_stage_group(profile)
    results = profile.biomarkers
    findings: list[ProtocolFinding] = []
    reported: set[str] = set()
    # Cancer-specific approvals first, so that the basket version of the same drug is dropped.
    ordered = sorted(base.protocols, key=lambda p: p.tumor_agnostic)
    for protocol in ordered:
        if not _code_in(code, protocol.cancer_types, is_a, is_solid):
            continue
        if _code_in(code, protocol.except_cancer_types, is_a, is_solid):
            continue
        if stage and protocol.stages and not stage_in(stage, protocol.stages):
            continue
        matched = _first_match(protocol.biomarker, results, base)
        if matched is None:
            continue
        required = _required_results(protocol, results, base)
        if required is None or _first_match(protocol.excludes, results, base) is not None:
            continue
        if protocol.tumor_agnostic and protocol.drug in reported:
            continue
        reported.add(protocol.drug)
        conditions = [biomarker_label(result) for result in required]
        if _needs_germline_word(protocol, matched, base):
            conditions.append("germline origin not documented (the label requires germline)")
        findings.append(_protocol_finding(protocol, biomarker_label(matched), conditions,
                                          matched, plan_text))
    return findings


def fits_treatment_history(
    protocols: list[ProtocolFinding], prior_drugs: frozenset[str] | None,
    prior_classes: frozenset[str] | None = None,
) -> tuple[list[ProtocolFinding], list[tuple[ProtocolFinding, str]]]:
    """The protocols that fit the treatment given so far, and those set aside with why.

    A protocol whose drug the patient has already received is not a missed option: it was
    given, and re-offering what failed is the error a second opinion exists to catch
    (pembrolizumab after pembrolizumab); its partners may have been given (tucatinib with
    trastuzumab follows trastuzumab). Nor is one the guideline places before a drug the
    patient has had (its `not_after`: erlotinib after osimertinib, crizotinib after
    alectinib), nor one whose label needs a treatment not yet given (its `after_classes`:
    datopotamab deruxtecan after an EGFR TKI and platinum), nor one of a class the
    knowledge base does not give again once one of its agents was given (`no_rechallenge`:
    a PD-1 inhibitor after nivolumab). With no documented history every protocol stands.
    """
    if prior_drugs is None:
        return protocols, []
    given = {d.lower() for d in prior_drugs}
    classes = {c.lower() for c in prior_classes or ()}
    # Classes not given again after one of their agents (protocols.json `no_rechallenge`).
    spent = [c for c in get_protocols().no_rechallenge if c.lower() in classes]
    kept: list[ProtocolFinding] = []
    set_aside: list[tuple[ProtocolFinding, str]] = []
    for protocol in protocols:
        later = sorted(given & {d.lower() for d in protocol.not_after})
        missing = [c for c in protocol.after_classes if c.lower() not in classes]
        again = [c for c in spent if drugs.is_in_class(protocol.drug, c)]
        if protocol.drug.lower() in given:
            set_aside.append((protocol, f"already received {protocol.drug}"))
        elif again:
            set_aside.append((protocol, f"already received a {again[0]}"))
        elif missing:
            set_aside.append((protocol, f"the label is for after {' and '.join(missing)}, "
                                        "not yet given"))
        elif later:
            set_aside.append((protocol, f"not given after {', '.join(later)}, which the "
                                        "patient has had"))
        else:
            kept.append(protocol)
    return kept, set_aside


# A label's line for advanced disease only ("unresectable or metastatic", "after progression
# on ..."), unless it names an adjuvant or perioperative use too.
_ADVANCED_LINE = re_compile(r"(?i)unresectable|metasta|advanced|recurren|relapse|refractory|"
                            r"progress|\bafter\b|maintenance")
_ADJUVANT_LINE = re_compile(r"(?i)adjuvant|perioperative|early|resect(?:ed|ion)|residual")


def fits_adjuvant_setting(
    protocols: list[ProtocolFinding],
) -> tuple[list[ProtocolFinding], list[tuple[ProtocolFinding, str]]]:
    """For a resected cancer with nothing left (the adjuvant setting): the protocols whose
    label covers that setting, and those set aside (labelled for advanced disease only:
    vemurafenib + cobimetinib is for unresectable or metastatic melanoma, dabrafenib +
    trametinib also adjuvant)."""
    kept: list[ProtocolFinding] = []
    set_aside: list[tuple[ProtocolFinding, str]] = []
    for protocol in protocols:
        line = protocol.line or ""
        if _ADVANCED_LINE.search(line) and not _ADJUVANT_LINE.search(line):
            set_aside.append((protocol, f"labelled for {line}; the disease is resected"))
        else:
            kept.append(protocol)
    return kept, set_aside


def _required_results(
    protocol: Protocol, results: list[Biomarker], base: ProtocolBase
) -> list[Biomarker] | None:
    """One result per required group, or None when a group has no qualifying result."""
    found = []
    for group in protocol.requires:
        result = _first_match(group, results, base)
        if result is None:
            return None
        found.append(result)
    return found


def _needs_germline_word(protocol: Protocol, matched: Biomarker, base: ProtocolBase) -> bool:
    """True when the label asks for a germline variant and the result does not say germline."""
    germline_specs = [spec for spec in protocol.biomarker
                      if spec.germline and spec_matches(spec, matched, base)]
    if not germline_specs:
        return False
    words = f"{matched.alteration or ''} {matched.evidence}".lower()
    return "germline" not in words and "gbrca" not in words


def _protocol_finding(
    protocol: Protocol,
    label: str,
    conditions: list[str],
    matched: Biomarker,
    plan_text: str | None,
) -> ProtocolFinding:
    missed = plan_text is None or not drugs.mentions_drug_or_class(plan_text, protocol.drug)
    return ProtocolFinding(
        biomarker=label,
        marker=matched.marker,
        therapy=protocol.therapy,
        source=protocol.source,
        missed=missed,
        drug=protocol.drug,
        drug_class=protocol.drug_class,
        protocol_id=protocol.id,
        cancer_types=list(protocol.cancer_types),
        tumor_agnostic=protocol.tumor_agnostic,
        line=protocol.line,
        note=protocol.note,
        conditions=conditions,
        evidence=matched.evidence,
        not_after=protocol.not_after,
        after_classes=protocol.after_classes,
    )


# --------------------------------------------------------------------------- testing gaps


def _alteration_class_of(alteration: str) -> str:
    """The class of an alteration as testing rules name them: fusion, amplification or
    mutation."""
    text = alteration.lower()
    if any(word in text for word in ("fusion", "rearrang", "translocation", "::")):
        return "fusion"
    if "amplif" in text:
        return "amplification"
    return "mutation"


def _short_evidence(result: Biomarker, limit: int = 60) -> str:
    words = " ".join((result.evidence or result.marker).split())
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"


def _short_source(source: str) -> str:
    return source.split(";")[0].split(" (")[0].strip()


# "Claudin 18.2 IHC: not performed", "MMR IHC: not done": named, but never tested.
# The evidence is the note's own words: OCR's zeros are repaired before reading ("n0t").
_NOT_DONE = re_compile(r"(?i)\bnot\s+(?:yet\s+)?(?:performed|done|tested|sent|assessed|"
                       r"evaluated|available)\b|\bno\s+(?:tissue|material)\b|\binsufficient\b")


def find_testing_gaps(
    profile: Profile,
    *,
    is_a: IsA,
    stage_group: str | None,
    rules: tuple[TestingRule, ...] | None = None,
    base: ProtocolBase | None = None,
    is_solid: Callable[[str], bool] | None = None,
    age: float | None = None,
    sex: str | None = None,
    metastatic: bool | None = None,
    germline_tested: bool = False,
    panel_covers: Callable[[str], bool] | None = None,
) -> list[TestingGap]:
    """Biomarkers that guidelines recommend for this cancer type and stage, not in the notes.

    A marker counts as documented when the notes hold a result for it (positive, negative or
    equivocal: EVAL.md's gap is a test "the notes never report"); a marker named without a
    result (ordered, pending, "not performed") is still a gap, and its reason says that the
    notes name it. MSI and MMR stand for each other where the rule says so.
    `stage_group` overrides the notes' stage group (e.g. the first opinion's when the notes
    have none), except that an M1 in the notes always means stage IV. A rule limited to some
    stages still applies when no stage is known, with the reason saying so, because an
    undocumented stage is no reason to skip a recommended test. Disease the notes call
    metastatic now (`metastatic`, the patient's current extent) is stage IV for the rules,
    whatever its stage at diagnosis: a relapse with bone metastases needs the metastatic tests.
    A rule up to some age (`max_age`) applies when the age is unknown; a rule for one sex
    needs the patient's sex.
    A marker another rule already reported (any of its markers in common) is reported once.
    A germline marker is documented when the notes report a germline test (`germline_tested`);
    a tumour marker whose every gene a comprehensive panel in the notes covers
    (`panel_covers`) is documented too.
    """
    if profile.cancer_type is None or not profile.cancer_type.code:
        return []
    rules = rules if rules is not None else get_testing_rules()
    base = base or get_protocols()
    code = profile.cancer_type.code
    stage = stage_group if parse_stage_group(stage_group) else profile_stage_group(profile)
    if profile.stage and profile.stage.m and profile.stage.m.upper().startswith("M1"):
        stage = profile_stage_group(profile)  # an M1 in the notes outranks any group given
    if metastatic and not (stage and stage_in(stage, ("IV",))):
        stage = "IV"
    documented = {b.marker.upper() for b in profile.biomarkers if b.status != "unknown"}
    named = {b.marker.upper(): b for b in profile.biomarkers if b.status == "unknown"}
    gaps: list[TestingGap] = []
    reported: set[str] = set()  # the markers of the gaps reported so far (upper case)
    # Tumour-agnostic rules name the "_SOLID" basket (FDA tumour-agnostic approvals).
    solid: Callable[[str], bool] = is_solid or (lambda _code: False)
    for rule in rules:
        if not _code_in(code, rule.cancer_types, is_a, solid):
            continue
        if _code_in(code, rule.except_cancer_types, is_a, solid):
            continue
        if rule.max_age is not None and age is not None and age > rule.max_age:
            continue
        if rule.sexes and (sex or "").lower() not in rule.sexes:
            continue
        stage_note = ""
        if rule.stages:
            if stage is None:
                stage_note = " (stage not documented; applies if the disease is at this stage)"
            elif not stage_in(stage, rule.stages):
                continue
        for marker in rule.markers:
            names = {name.upper() for name in marker.any_of}
            if names & reported:
                continue
            if marker.alterations:
                # "MYC rearrangement": answered by a rearrangement result, not by MYC IHC.
                if any(b.marker.upper() in names and b.status != "unknown" and b.alteration
                       and _alteration_class_of(b.alteration) in marker.alterations
                       for b in profile.biomarkers):
                    continue
            elif names & documented:
                continue
            if germline_tested if marker.germline else (
                    panel_covers is not None and all(map(panel_covers, marker.any_of))):
                continue
            if any(_first_match(group, profile.biomarkers, base) is None
                   for group in marker.requires):
                continue
            reported |= names
            verb = "recommend" if marker.strength == "recommended" else "suggest considering"
            extra = f" ({marker.note})" if marker.note else ""
            mention = next((named[name] for name in sorted(names) if name in named), None)
            status = ("not documented in the notes" if mention is None else
                      "the notes say it was not done" if _NOT_DONE.search(
                          repair_ocr_zeros(mention.evidence or "")) else
                      f"named in the notes without a result (\"{_short_evidence(mention)}\": "
                      "ordered or pending?)")
            reason = (f"{rule.label}{stage_note}: guidelines ({_short_source(rule.source)}) "
                      f"{verb} {marker.name} testing{extra}; {status}")
            gaps.append(TestingGap(marker=marker.name, reason=reason, strength=marker.strength,
                                   source=rule.source, rule_id=rule.id))
    return gaps


# --------------------------------------------------------------------------- discrepancies


def _stage_words(profile: Profile, group: str) -> str:
    """'IV (pM1a)' when an M1 decides it, else 'IIIA (pT2a pN2 cM0)' where TNM is known."""
    stage = profile.stage
    if stage is None:
        return group
    prefix = stage.prefix or ""
    if stage.m and stage.m.upper().startswith("M1"):
        return f"{group} ({prefix}{stage.m})"
    if group.upper().startswith("IV"):
        # A stage IV written beside an M0 comes from words (e.g. "pleural metastases, stage
        # IVA"); the TNM would only contradict it.
        return group
    tnm = " ".join(f"{prefix}{part}" for part in (stage.t, stage.n, stage.m) if part)
    return f"{group} ({tnm})" if tnm else group


_STAGE_LEAD = re_compile(r"(?i)^\s*(?:ajcc\s+)?(?:clinical\s+|pathologic(?:al)?\s+)?stage\s+")


def _raw_stage_group(raw: Any) -> str | None:
    """The stage group written plainly in the first opinion ("IIIA", "stage IV (M1a)")."""
    if not isinstance(raw, str):
        return None
    words = _STAGE_LEAD.sub("", raw).split()
    if not words:
        return None
    group = words[0].rstrip(".,;:")
    return group.upper() if parse_stage_group(group) else None


def _overall_status(results: list[Biomarker], base: ProtocolBase) -> str | None:
    """One status per marker: positive beats equivocal beats negative; unknown is no result."""
    statuses = set()
    for result in results:
        if result.marker.upper() == "MMR":
            statuses.add("positive" if _is_mmr_deficient(result, base) else result.status)
        else:
            statuses.add(result.status)
    for status in ("positive", "equivocal", "negative"):
        if status in statuses:
            return status
    return None


def _pdl1_band(result: Biomarker) -> str | None:
    """PD-L1 bands that change treatment: TPS <1, 1-49, >=50; CPS <1, 1-9, >=10."""
    if result.value is None:
        return None
    unit = (result.unit or "TPS").upper()
    high = 10 if unit == "CPS" else 50
    if unit not in ("TPS", "CPS", "%"):
        return None
    if result.value < 1:
        return f"{unit} <1"
    if result.value < high:
        return f"{unit} 1-{high - 1}"
    return f"{unit} >={high}"


def _by_marker(profile: Profile) -> dict[str, list[Biomarker]]:
    grouped: dict[str, list[Biomarker]] = {}
    for result in profile.biomarkers:
        grouped.setdefault(result.marker.upper(), []).append(result)
    return grouped


def _words(results: list[Biomarker]) -> str:
    return "; ".join(dict.fromkeys(biomarker_label(r) for r in results))


def _evidence(results: list[Biomarker]) -> str:
    return " | ".join(dict.fromkeys(r.evidence for r in results if r.evidence))


def _actionable_markers(
    notes: Profile, is_a: IsA, is_solid: Callable[[str], bool], base: ProtocolBase
) -> set[str]:
    """Markers whose results in the notes qualify the patient for an approved therapy."""
    qualifying = find_protocols(notes, is_a=is_a, is_solid=is_solid, plan_text=None, base=base)
    return {finding.marker.upper() for finding in qualifying}


def _biomarker_discrepancies(
    notes: Profile, first: Profile, actionable: set[str], base: ProtocolBase
) -> list[Discrepancy]:
    found: list[Discrepancy] = []
    first_by = _by_marker(first)
    for marker, note_results in _by_marker(notes).items():
        note_status = _overall_status(note_results, base)
        if note_status is None:
            continue
        name = note_results[0].marker
        first_results = first_by.get(marker)
        if not first_results:
            # An actionable positive result that the first opinion's biomarker list leaves out
            # (Ki-67 or CD33 left out of a list is no disagreement).
            if note_status == "positive" and marker in actionable:
                positives = [r for r in note_results if r.status == "positive"]
                found.append(Discrepancy(f"biomarker:{name}", "not mentioned",
                                         _words(positives), _evidence(positives)))
            continue
        first_status = _overall_status(first_results, base)
        if first_status is None:
            continue
        differs = first_status != note_status
        if not differs and note_status == "positive":
            note_alts = {base.normalise_alteration(name, r.alteration)
                         for r in note_results if r.status == "positive" and r.alteration}
            first_alts = {base.normalise_alteration(name, r.alteration)
                          for r in first_results if r.status == "positive" and r.alteration}
            differs = bool(note_alts and first_alts and not note_alts & first_alts)
        if not differs and marker == "PD-L1":
            note_bands = {_pdl1_band(r) for r in note_results} - {None}
            first_bands = {_pdl1_band(r) for r in first_results} - {None}
            differs = bool(note_bands and first_bands and not note_bands & first_bands)
        if not differs and marker == "HER2":
            note_ihc = {r.value for r in note_results if r.unit == "IHC" and r.value is not None}
            first_ihc = {r.value for r in first_results if r.unit == "IHC" and r.value is not None}
            differs = bool(note_ihc and first_ihc and not note_ihc & first_ihc)
        if differs:
            found.append(Discrepancy(f"biomarker:{name}", _words(first_results),
                                     _words(note_results), _evidence(note_results)))
    return found


def find_discrepancies(
    notes: Profile,
    first_opinion: Profile,
    first_opinion_raw: dict[str, Any],
    *,
    is_a: IsA,
    is_solid: Callable[[str], bool] | None = None,
    base: ProtocolBase | None = None,
) -> list[Discrepancy]:
    """Where the notes disagree with the first opinion: diagnosis, stage, grade, biomarkers.

    `first_opinion` is the extractor's reading of the first opinion's diagnosis, stage and
    biomarker strings; `first_opinion_raw` is the case file's `first_opinion` mapping, whose
    words are shown. Diagnoses differ when neither code is a kind of the other, or when the
    notes assert no cancer at all; stages when the
    main stage numeral differs (an M1 in the notes makes them stage IV); biomarkers when the
    results for a marker disagree in status, alteration, PD-L1 band or HER2 IHC score, and when
    the first opinion lists biomarkers but leaves out a positive result that qualifies the
    patient for an approved biomarker-directed therapy (see `find_protocols`).
    """
    base = base or get_protocols()
    found: list[Discrepancy] = []

    note_type, first_type = notes.cancer_type, first_opinion.cancer_type
    if first_type and first_type.code and not (note_type and note_type.code):
        # A benign biopsy ("negative for malignancy") read against a cancer diagnosis; the
        # clinician checks whether the notes hold the diagnosing report at all.
        said = str(first_opinion_raw.get("diagnosis") or f"{first_type.name} ({first_type.code})")
        found.append(Discrepancy("diagnosis", said, "no cancer diagnosis found in the notes", ""))
    elif note_type and first_type and note_type.code and first_type.code:
        a, b = note_type.code, first_type.code
        if a != b and not is_a(a, b) and not is_a(b, a):
            said = str(first_opinion_raw.get("diagnosis") or f"{first_type.name} ({b})")
            found.append(Discrepancy("diagnosis", said, f"{note_type.name} ({a})",
                                     note_type.evidence))

    # A plainly written group in the case file is the first opinion's own words; the extracted
    # profile is the fallback for longer phrasings ("cT2 N2 M0, stage IIIA").
    note_group = profile_stage_group(notes)
    first_group = _raw_stage_group(first_opinion_raw.get("stage")) or \
        profile_stage_group(first_opinion)
    note_parsed, first_parsed = parse_stage_group(note_group), parse_stage_group(first_group)
    if note_group and first_group and note_parsed and first_parsed:
        if note_parsed[0] != first_parsed[0]:
            said = str(first_opinion_raw.get("stage") or first_group)
            evidence = notes.stage.evidence if notes.stage else ""
            found.append(Discrepancy("stage", said, _stage_words(notes, note_group), evidence))

    if notes.grade and first_opinion.grade and notes.grade.upper() != first_opinion.grade.upper():
        found.append(Discrepancy("grade", first_opinion.grade, notes.grade,
                                 notes.grade_detail or ""))

    actionable: set[str] = set()
    if first_opinion_raw.get("biomarkers"):
        # Without a solid/haematological test, basket approvals count for every cancer.
        actionable = _actionable_markers(notes, is_a, is_solid or (lambda _code: True), base)
    found.extend(_biomarker_discrepancies(notes, first_opinion, actionable, base))
    return found
