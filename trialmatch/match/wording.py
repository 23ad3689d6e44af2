"""The words a reader sees for a `match --json` document, shared by the terminal, the
Markdown and HTML reports and the batch's index.html and summary.csv.

Everything here reads the document (plain dicts) and returns text: OncoTree codes with their
names, score parts in words, the basket markers (`_ANY`, `_SOLID`, `_HEME`) as words, one line
per finding, the nearest site with its distance. No HTML or Markdown: each renderer escapes.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from trialmatch.match.stated import STATED
from trialmatch.regex_cache import re_compile

VERDICT_WORDS = {"eligible": "eligible", "possibly_eligible": "possibly eligible",
                 "excluded": "excluded"}
STATUS_WORDS = {"RECRUITING": "recruiting", "NOT_YET_RECRUITING": "not yet recruiting",
                "ENROLLING_BY_INVITATION": "enrolling by invitation",
                "ACTIVE_NOT_RECRUITING": "active, not recruiting", "COMPLETED": "completed",
                "SUSPENDED": "suspended", "TERMINATED": "terminated", "WITHDRAWN": "withdrawn"}
PHASE_WORDS = {"EARLY_PHASE1": "early phase 1", "PHASE1": "phase 1", "PHASE2": "phase 2",
               "PHASE3": "phase 3", "PHASE4": "phase 4", "NA": "no phase"}
SCORE_PART_WORDS = {"specificity": "fit to the patient", "certainty": "criteria settled",
                    "status": "recruitment", "location": "site location"}
BASKET_WORDS = {"_ANY": "any cancer", "_ANY_SOLID": "any solid tumour",
                "_SOLID": "any solid tumour", "_HEME": "any blood cancer"}
PURPOSE_WORDS = {"SUPPORTIVE_CARE": "supportive care", "HEALTH_SERVICES_RESEARCH":
                 "health services research", "BASIC_SCIENCE": "basic science",
                 "DEVICE_FEASIBILITY": "device feasibility", "ECT": "expanded access"}

_CODE = r"_?[A-Z][A-Z0-9_]{1,15}"
# Lists of OncoTree codes in the matcher's reasons: "matches LUNG, NSCLC", "is not BRAIN",
# "requires LUAD)", "type (LUNG, NSCLC)", "trial (GB)". Only there: a bare capitalised word
# elsewhere may be a gene (ATM, BRCA, RAS are codes too).
_LEADS = re_compile(rf"(?P<lead>\b(?:matches|is not|requires) |\b(?:sub)?type \(|\btrial \()"
                    rf"(?P<codes>{_CODE}(?:(?:, | or ){_CODE})*)"
                    rf"(?P<end>\)|(?=$|[;.]|, [a-z]))")
_BASKET = re_compile(r"(?<![A-Za-z0-9_])_(?:ANY_SOLID|ANY|SOLID|HEME)(?![A-Za-z0-9_])")


@functools.cache
def _code_names() -> dict[str, str]:
    from trialmatch.nlp.vocab import get_vocabulary

    vocabulary = get_vocabulary()
    return {code: vocabulary.name(code) for code in vocabulary.all_codes()}


def code_name(code: str) -> str:
    """'NSCLC' -> 'Non-Small Cell Lung Cancer (NSCLC)'; baskets in words; unknown as is."""
    if code in BASKET_WORDS:
        return BASKET_WORDS[code]
    name = _code_names().get(code)
    return f"{name} ({code})" if name and name != code else code


def name_codes(text: str | None) -> str:
    """A matcher's reason with its OncoTree code lists named and basket markers in words:
    'Lung Adenocarcinoma (LUAD) matches NSCLC' -> '... matches Non-Small Cell Lung Cancer
    (NSCLC)'."""
    if not text:
        return ""
    names = _code_names()

    def named(match: re.Match) -> str:
        codes = re.split(r"(, | or )", match.group("codes"))
        if not all(part in (", ", " or ") or part in names or part in BASKET_WORDS
                   for part in codes):
            return match.group(0)
        words = "".join(part if part in (", ", " or ") else code_name(part) for part in codes)
        lead, end = match.group("lead"), match.group("end")
        if lead.endswith("(") and end == ")":  # "type (LUNG)" -> "type: Lung (LUNG)"
            return lead[:-1].rstrip() + ": " + words
        return lead + words + end

    return _BASKET.sub(lambda m: BASKET_WORDS[m.group(0)], _LEADS.sub(named, text))


def phases_text(phases: list[str] | None) -> str:
    """['PHASE1', 'PHASE2'] -> 'phase 1/2'; ['EARLY_PHASE1'] -> 'early phase 1';
    [] -> 'phase not stated'."""
    if not phases:
        return "phase not stated"
    if all(re.fullmatch(r"PHASE\d", phase) for phase in phases):
        return "phase " + "/".join(phase[5:] for phase in phases)
    return ", ".join(PHASE_WORDS.get(phase, phase.lower()) for phase in phases)


def status_text(status: str | None) -> str:
    return STATUS_WORDS.get((status or "").upper(), (status or "status not stated").lower())


def purpose_text(purpose: str | None) -> str:
    if not purpose:
        return "treatment"
    return PURPOSE_WORDS.get(purpose, purpose.lower().replace("_", " "))


def score_words(trial: dict[str, Any]) -> str:
    """'fit to the patient 1.00 (requires the patient's biomarker ...), criteria settled
    0.93, recruitment 1.00, site location 1.00'."""
    parts = trial.get("score_parts") or {}
    words = []
    for name, value in parts.items():
        if value is None:
            continue
        label = SCORE_PART_WORDS.get(name, name.replace("_", " "))
        words.append(f"{label} {value:.2f}")
    return ", ".join(words)


def verdict_line(trial: dict[str, Any]) -> str:
    """The one-line reason for the verdict: why it fits, and for a possibly eligible trial
    the first fact to check and how many more there are."""
    basis = name_codes(trial.get("score_basis") or "")
    if trial.get("verdict") == "eligible":
        return f"Eligible: {basis or 'every criterion met'}."
    # The basis may repeat the unknowns ("; needs what the notes do not report: ..."): the
    # facts to check say it once.
    fit = basis.split("; needs what the notes do not report")[0]
    unknown = [name_codes(fact) for fact in trial.get("unknown_facts") or []]
    check = unknown[0] if unknown else _first_unknown(trial)
    more = f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""
    lead = f"{fit}; " if fit else ""
    return f"Possibly eligible: {lead}to check: {check or 'criteria left unknown'}{more}."


def discrepancy_field(field: str | None) -> str:
    """'biomarker:EGFR' -> 'EGFR result'; 'stage' -> 'stage'."""
    text = str(field or "")
    if text.startswith("biomarker:"):
        return f"{text.split(':', 1)[1]} result"
    return text.replace("_", " ")


def found_in(item: dict[str, Any]) -> str:
    """Who shows a discrepancy's finding: 'the case file states' for a stated value, else
    'notes show'."""
    stated = str(item.get("evidence") or "").startswith(STATED)
    return "the case file states" if stated else "notes show"


def _first_unknown(trial: dict[str, Any]) -> str:
    for criterion in trial.get("criteria") or []:
        if criterion.get("result") == "unknown":
            return name_codes(criterion.get("reason"))
    return ""


def site_line(trial: dict[str, Any], unit: str | None) -> str:
    """'Scioto Cancer Center, Columbus, Ohio, United States: 118 mi' or why there is none."""
    site = trial.get("nearest_site")
    if unit is None:
        return ""
    if not site:
        return "no recruiting site with a known place in the record"
    place = ", ".join(part for part in (site.get("facility"), site.get("city"),
                                        site.get("state"), site.get("country")) if part)
    value = site["distance_mi"] if unit == "mi" else site["distance_km"]
    return f"{place}: {value:,.0f} {unit}"


def contact_line(contact: dict[str, Any] | None) -> str:
    if not contact:
        return "no contact in the record"
    return ", ".join(str(contact[key]) for key in ("name", "phone", "email") if contact.get(key))


def distance_unit(document: dict[str, Any]) -> str | None:
    place = (document.get("profile") or {}).get("place")
    return place.get("unit") if isinstance(place, dict) else None


# How reports mark a value the case file states (it wins over the notes; issue 13).
STATED_MARK = f"({STATED})"


def cancer_text(profile: dict[str, Any]) -> str:
    cancer = profile.get("cancer_type")
    if not cancer:
        return "cancer type not found in the notes"
    name, code = cancer.get("name"), cancer.get("code")
    text = f"{name} ({code})" if name and code and name != code else str(name or code)
    return _stated(text, profile, "diagnosis")


def _stated(text: str, profile: dict[str, Any], name: str) -> str:
    return f"{text} {STATED_MARK}" if name in (profile.get("from_case") or {}) else text


def treatment_words(treatment: dict[str, Any]) -> str:
    """'doxorubicin + cyclophosphamide, adjuvant, 2016-06 to 2016-11, complete response'."""
    dates = " to ".join(str(treatment[k]) for k in ("start", "end") if treatment.get(k))
    parts = [treatment.get("text"), treatment.get("setting"), dates,
             treatment.get("response")]
    return ", ".join(str(part).replace("_", " ") for part in parts if part)


def stage_text(profile: dict[str, Any]) -> str:
    """'stage IVA (cT2b N2 M1b)', 'stage not reported'; notes a restaging."""
    stage = profile.get("stage")
    if not stage:
        return "stage not reported"
    tnm = " ".join(str(stage[k]) for k in ("t", "n", "m") if stage.get(k))
    tnm = ((stage.get("prefix") or "") + tnm) if tnm else ""
    parts = []
    if stage.get("group"):
        parts.append(f"stage {stage['group']}")
    if stage.get("figo"):
        parts.append(f"FIGO {stage['figo']}")
    text = " ".join(parts) + (f" ({tnm})" if parts and tnm else tnm)
    if profile.get("stage_at_diagnosis"):
        text += " now (restaged from the stage at diagnosis)"
    return _stated(text, profile, "stage") if text else "stage not reported"


def biomarker_words(marker: dict[str, Any]) -> str:
    """'EGFR exon 19 deletion', 'PD-L1 TPS 20%', 'HER2 IHC 3+'."""
    parts = [str(marker.get("marker") or "?")]
    if marker.get("alteration"):
        parts.append(str(marker["alteration"]))
    value, unit = marker.get("value"), marker.get("unit")
    if value is not None:
        number = f"{value:g}" if isinstance(value, float) else str(value)
        if unit in ("TPS", "CPS"):
            parts.append(f"{unit} {number}{'%' if unit == 'TPS' else ''}")
        elif unit == "IHC":
            parts.append(f"IHC {number}+")
        elif unit == "%":
            parts.append(f"{number}%")
        else:
            parts.append(" ".join(p for p in (number, unit) if p))
    return " ".join(parts)


def key_biomarkers(profile: dict[str, Any]) -> str:
    """Positive and equivocal results first, then the negatives in one clause."""
    markers = profile.get("biomarkers") or []
    positive = [biomarker_words(m) + ("" if m.get("status") == "positive" else
                                      f" ({m.get('status') or 'unknown'})")
                for m in markers if m.get("status") in ("positive", "equivocal")]
    negative = [biomarker_words(m) for m in markers if m.get("status") == "negative"]
    text = "; ".join(positive)
    if negative:
        text += ("; " if text else "") + "negative: " + ", ".join(negative)
    return text or "no biomarker result in the notes"


def missed_lines(document: dict[str, Any], limit: int = 5) -> list[tuple[str, str]]:
    """What the first evaluation missed, one (kind, line) each: trials, protocols, testing
    gaps, discrepancies, each with its reason. With no first opinion in the case, every
    trial and protocol counts as missed, so they are not repeated here."""
    lines: list[tuple[str, str]] = []
    has_opinion = document.get("first_opinion") is not None
    if has_opinion:
        missed = [t for t in document.get("trials") or [] if t.get("missed")]
        for trial in missed[:limit]:
            lines.append(("Trial", f"{trial['nct_id']} {trial.get('title') or ''}: "
                                   f"{verdict_line(trial)}"))
        if len(missed) > limit:
            lines.append(("Trial", f"and {len(missed) - limit} more trials not named by the "
                                   "first opinion (below)"))
        for protocol in document.get("protocols") or []:
            if protocol.get("missed"):
                lines.append(("Protocol", f"{protocol.get('biomarker')}: "
                                          f"{protocol.get('therapy')}, not in the first "
                                          f"opinion's plan ({protocol.get('source') or ''})"))
    for gap in document.get("testing_gaps") or []:
        lines.append(("Test", f"{gap.get('marker')}: {gap.get('reason') or ''}"))
    for item in document.get("discrepancies") or []:
        evidence = f" ({item['evidence']})" if item.get("evidence") else ""
        lines.append(("Discrepancy", f"{discrepancy_field(item.get('field'))}: the first "
                                     "opinion says "
                                     f"{item.get('first_opinion') or 'nothing'}, "
                                     f"{'the ' if found_in(item) == 'notes show' else ''}"
                                     f"{found_in(item)} {item.get('found') or 'nothing'}"
                                     f"{evidence}"))
    return lines
