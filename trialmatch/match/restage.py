"""The stage now (issue 13): distant metastases stated in the notes restage the disease.

A woman with a biopsy-proven bone metastasis ten years after a stage IIB breast cancer has
stage IV disease now; the stage at diagnosis is history. Which group distant metastasis gives
depends on the cancer type (AJCC 8th ed.), read from `data/distant_stage.json`; primary CNS
tumours and haematological cancers are never restaged this way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from trialmatch.datafiles import read_data_file
from trialmatch.errors import DataFileError
from trialmatch.models import Stage

DISTANT_STAGE_FILE = "distant_stage.json"
_ROMAN_RANK = {"0": 0, "I": 1, "II": 2, "III": 3, "IV": 4}


@dataclass(frozen=True)
class DistantGroup:
    """The stage group distant metastasis gives for some cancer types."""

    codes: tuple[str, ...]
    group: str
    source: str
    below_age: float | None = None


@dataclass(frozen=True)
class StageIVReading:
    """Stage IV groups that are not distant metastasis for some cancers (head and neck IVA)."""

    codes: tuple[str, ...]
    groups: tuple[str, ...]
    m: str  # "M0": no distant spread; "either": distant spread left open
    source: str
    m1_group: str | None = None  # the group distant metastasis gives ("IVC" in head and neck)


def _bare(group: str) -> str:
    """A stage group as the rules list it: "Stage iiia " -> "IIIA"."""
    return group.strip().upper().removeprefix("STAGE").strip()


@dataclass(frozen=True)
class DistantStageRules:
    """The default group, the exceptions by cancer type, and the tissues never restaged."""

    default: DistantGroup
    exceptions: tuple[DistantGroup, ...]
    skip_tissues: frozenset[str]
    confined_tissues: frozenset[str] = frozenset()  # never metastatic in the TNM sense
    stage_iv: tuple[StageIVReading, ...] = ()
    # (codes, stage group prefixes) that mean unresectable disease (mesothelioma IIIB: T4)
    unresectable: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    # Marrow diseases (leukaemias, MDS, myeloma): no TNM extent, no RECIST measurement.
    marrow_codes: tuple[str, ...] = ()
    marrow_except_codes: tuple[str, ...] = ()
    unstaged_codes: tuple[str, ...] = ()  # no stage group at all (leukaemias, MDS)
    # (codes, stage III groups that are early disease, groups that leave it open): operable
    # stage IIIA breast cancer is "early breast cancer" (ESMO)
    early: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = ()
    # (codes, stage group prefixes) treated with curative intent: not "advanced" disease
    # (stage III colorectal, gastric and kidney cancer)
    curable: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()

    def early_stage(self, code: str, group: str, is_a: Any) -> bool | None | str:
        """For cancer `code`, is stage `group` early disease (True), left open (None), or
        does no rule say ("default")?"""
        group = _bare(group)
        for codes, early, open_ in self.early:
            if any(is_a(code, c) for c in codes):
                if any(group.startswith(g) for g in early):
                    return True
                if any(group.startswith(g) for g in open_):
                    return None
        return "default"

    def means_unresectable(self, code: str, group: str, is_a: Any) -> bool:
        """Does stage `group` mean unresectable disease for cancer `code`?"""
        return _listed(self.unresectable, code, group, is_a)

    def means_curable(self, code: str, group: str, is_a: Any) -> bool:
        """Is stage `group` of cancer `code` treated with curative intent (not "advanced")?"""
        return _listed(self.curable, code, group, is_a)

    def stage_iv_m(self, code: str, group: str, is_a: Any) -> str | None:
        """"M0" or "either" when stage `group` (IV, IVA ...) is no sure sign of distant
        spread for cancer `code`; None when it is (the first entry covering the cancer
        decides). A bare "IV" where only some substages are M0 leaves it open."""
        group = _bare(group)
        rule = self.stage_iv_rule(code, is_a)
        if rule is None:
            return None
        if any(group.startswith(g) for g in rule.groups):
            return rule.m
        return "either" if group == "IV" else None

    def stage_iv_rule(self, code: str, is_a: Any) -> StageIVReading | None:
        """The first stage IV entry covering cancer `code`, if any."""
        return next((rule for rule in self.stage_iv
                     if any(is_a(code, c) for c in rule.codes)), None)

    def group_for(self, code: str, age: float | None, is_a: Any) -> DistantGroup:
        """The group for a patient with cancer `code` (an exception's age bound must hold)."""
        for rule in self.exceptions:
            if any(is_a(code, c) for c in rule.codes) and (
                    rule.below_age is None or (age is not None and age < rule.below_age)):
                return rule
        return self.default


def _listed(table: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...], code: str, group: str,
            is_a: Any) -> bool:
    """Does a (codes, stage group prefixes) table list stage `group` of cancer `code`?"""
    group = _bare(group)
    return any(any(is_a(code, c) for c in codes) and any(group.startswith(g) for g in groups)
               for codes, groups in table)


def _group(raw: Any, where: str, codes_required: bool) -> DistantGroup:
    if not isinstance(raw, dict) or set(raw) - {"codes", "group", "source", "below_age"}:
        raise DataFileError(f"{DISTANT_STAGE_FILE}: {where}: keys must be codes, group, "
                            "source, below_age")
    group, source, codes = raw.get("group"), raw.get("source"), raw.get("codes", [])
    if group not in _ROMAN_RANK:
        raise DataFileError(f"{DISTANT_STAGE_FILE}: {where}: 'group' must be 0, I, II, III or IV")
    if not isinstance(source, str) or not source.strip():
        raise DataFileError(f"{DISTANT_STAGE_FILE}: {where}: missing 'source'")
    if codes_required and (not isinstance(codes, list) or not codes or
                           not all(isinstance(c, str) for c in codes)):
        raise DataFileError(f"{DISTANT_STAGE_FILE}: {where}: 'codes' must list OncoTree codes")
    below = raw.get("below_age")
    if below is not None and not isinstance(below, int | float):
        raise DataFileError(f"{DISTANT_STAGE_FILE}: {where}: 'below_age' must be a number")
    return DistantGroup(tuple(codes), group, source, below)


def build_distant_stage(data: Any) -> DistantStageRules:
    """Validate distant_stage.json's contents; DataFileError names the entry at fault."""
    if not isinstance(data, dict) or not isinstance(data.get("exceptions"), list):
        raise DataFileError(f"{DISTANT_STAGE_FILE}: must be an object with 'default' and "
                            "'exceptions'")
    skip = data.get("skip_tissues", [])
    if not isinstance(skip, list) or not all(isinstance(t, str) for t in skip):
        raise DataFileError(f"{DISTANT_STAGE_FILE}: 'skip_tissues' must list tissue codes")
    confined = data.get("confined_tissues", [])
    if not isinstance(confined, list) or not all(isinstance(t, str) for t in confined) or (
            confined and not str(data.get("confined_tissues_source") or "").strip()):
        raise DataFileError(f"{DISTANT_STAGE_FILE}: 'confined_tissues' must list tissue codes, "
                            "with 'confined_tissues_source'")
    marrow = data.get("marrow_codes", [])
    marrow_except = data.get("marrow_except_codes", [])
    unstaged = data.get("unstaged_codes", [])
    if not all(isinstance(v, list) and all(isinstance(c, str) for c in v)
               for v in (marrow, marrow_except, unstaged)) or (
            marrow and not str(data.get("marrow_codes_source") or "").strip()) or (
            unstaged and not str(data.get("unstaged_codes_source") or "").strip()):
        raise DataFileError(f"{DISTANT_STAGE_FILE}: 'marrow_codes', 'marrow_except_codes' and "
                            "'unstaged_codes' must list OncoTree codes, with their '..._source'")
    return DistantStageRules(
        _group(data.get("default"), "default", codes_required=False),
        tuple(_group(raw, f"exceptions[{i}]", codes_required=True)
              for i, raw in enumerate(data["exceptions"])),
        frozenset(skip), frozenset(confined),
        tuple(_stage_iv(raw, i) for i, raw in enumerate(data.get("stage_iv_without_m1", []))),
        _code_groups(data, "unresectable_groups"),
        tuple(marrow), tuple(marrow_except), tuple(unstaged),
        tuple(_early(raw, i) for i, raw in enumerate(data.get("early_stage_groups", []))),
        _code_groups(data, "curable_groups"))


def _early(raw: Any, i: int) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    where = f"{DISTANT_STAGE_FILE}: early_stage_groups[{i}]"
    if not isinstance(raw, dict) or set(raw) != {"codes", "early", "open", "source"}:
        raise DataFileError(f"{where}: keys must be codes, early, open, source")
    codes = _codes(raw, where)
    early = _groups(raw, "early", where, ("III",), "stage III groups", required=False)
    open_ = _groups(raw, "open", where, ("III",), "stage III groups", required=False)
    _source(raw, where)
    return codes, early, open_


def _code_groups(data: dict, key: str) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """A table of {codes, groups, source} entries (unresectable_groups, curable_groups)."""
    table = []
    for i, raw in enumerate(data.get(key, [])):
        where = f"{DISTANT_STAGE_FILE}: {key}[{i}]"
        if not isinstance(raw, dict) or set(raw) != {"codes", "groups", "source"}:
            raise DataFileError(f"{where}: keys must be codes, groups, source")
        codes = _codes(raw, where)
        groups = _groups(raw, "groups", where, ("I", "0"), "stage groups")
        _source(raw, where)
        table.append((codes, groups))
    return tuple(table)


def _stage_iv(raw: Any, i: int) -> StageIVReading:
    where = f"{DISTANT_STAGE_FILE}: stage_iv_without_m1[{i}]"
    if not isinstance(raw, dict) or not {"codes", "groups", "m", "source"} <= set(raw) or \
            set(raw) - {"codes", "groups", "m", "source", "m1_group"}:
        raise DataFileError(f"{where}: keys must be codes, groups, m, source (and m1_group)")
    m1_group = raw.get("m1_group")
    if m1_group is not None and (not isinstance(m1_group, str) or
                                 not m1_group.startswith("IV") or raw["m"] != "M0"):
        raise DataFileError(f"{where}: 'm1_group' must be a stage IV group, for 'M0' entries")
    codes = _codes(raw, where)
    groups = _groups(raw, "groups", where, ("IV",), "stage IV groups")
    if raw["m"] not in ("M0", "either"):
        raise DataFileError(f"{where}: 'm' must be M0 or either")
    return StageIVReading(codes, groups, raw["m"], _source(raw, where), m1_group)


def _codes(raw: dict, where: str) -> tuple[str, ...]:
    """An entry's 'codes': a non-empty list of OncoTree codes."""
    codes = raw["codes"]
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
        raise DataFileError(f"{where}: 'codes' must list OncoTree codes")
    return tuple(codes)


def _groups(raw: dict, key: str, where: str, prefixes: tuple[str, ...], what: str,
            required: bool = True) -> tuple[str, ...]:
    """An entry's list of stage groups under `key`, each starting with one of `prefixes`."""
    groups = raw[key]
    if not isinstance(groups, list) or (required and not groups) or not all(
            isinstance(g, str) and g.startswith(prefixes) for g in groups):
        raise DataFileError(f"{where}: '{key}' must list {what}")
    return tuple(groups)


def _source(raw: dict, where: str) -> str:
    """An entry's 'source', which every entry must give."""
    source = raw["source"]
    if not isinstance(source, str) or not source.strip():
        raise DataFileError(f"{where}: missing 'source'")
    return source


def confined_to_its_organ(code: str | None, ontology: Any) -> bool:
    """Is `code` a cancer that is never metastatic in the TNM sense (a primary CNS tumour)?"""
    tissue_code = getattr(ontology, "tissue_code", None)
    return bool(code and tissue_code and
                tissue_code(code) in distant_stage_rules().confined_tissues)


def _under_any(code: str | None, ontology: Any, codes: tuple[str, ...]) -> bool:
    """Is `code` one of `codes` or below one of them in OncoTree?"""
    is_a = getattr(ontology, "is_a", None)
    return bool(code and is_a is not None and any(is_a(code, c) for c in codes))


def marrow_disease(code: str | None, ontology: Any) -> bool:
    """Is `code` a marrow disease (a leukaemia, MDS, MPN or myeloma: `marrow_codes`), which no
    TNM extent describes and RECIST does not measure?"""
    rules = distant_stage_rules()
    return _under_any(code, ontology, rules.marrow_codes) and not _under_any(
        code, ontology, rules.marrow_except_codes)


def unstaged_disease(code: str | None, ontology: Any) -> bool:
    """Is `code` a cancer that no stage group describes (a leukaemia or myeloid neoplasm:
    `unstaged_codes`)?"""
    return _under_any(code, ontology, distant_stage_rules().unstaged_codes)


@lru_cache(maxsize=1)
def distant_stage_rules() -> DistantStageRules:
    """The packaged rules, read once."""
    return build_distant_stage(read_data_file("trialmatch.match", DISTANT_STAGE_FILE))


def _rank(group: str | None) -> int:
    for roman in ("IV", "III", "II", "I", "0"):
        if group and group.upper().startswith(roman):
            return _ROMAN_RANK[roman]
    return -1


def restage(stage: Stage | None, code: str | None, age: float | None, metastatic: bool | None,
            evidence: str, ontology: Any,
            rules: DistantStageRules | None = None) -> tuple[Stage | None, Stage | None]:
    """(stage now, stage at diagnosis): when the notes state distant metastases and the
    written stage is below the group they give, the stage now is that group with M1 and the
    metastasis as evidence; otherwise the stage is unchanged and there is no history."""
    if not metastatic or not code or ontology.is_heme(code):
        return stage, None
    rules = rules or distant_stage_rules()
    if ontology.tissue_code(code) in rules.skip_tissues:
        return stage, None
    target = rules.group_for(code, age, ontology.is_a)
    group, source = target.group, target.source
    iv_rule = rules.stage_iv_rule(code, ontology.is_a)
    if group == "IV" and iv_rule is not None and iv_rule.m1_group:
        # Head and neck IVA is M0: distant metastasis makes it IVC.
        group, source = iv_rule.m1_group, iv_rule.source
    locoregional_iv = stage is not None and bool(stage.group) and not (
        stage.m or "").upper().startswith("M1") and rules.stage_iv_m(
        code, str(stage.group), ontology.is_a) in ("M0", "either")
    if stage is not None and _rank(stage.group) >= _rank(group) and not locoregional_iv:
        return stage, None
    words = f"{evidence} (restaged: {source})" if evidence else source
    base = stage or Stage()
    m = base.m if base.m and base.m.upper().startswith("M1") else "M1"
    now = replace(base, prefix=None, m=m, group=group, figo=None, evidence=words,
                  derived=sorted({"group", "m"} | set(base.derived or [])))
    return now, stage
