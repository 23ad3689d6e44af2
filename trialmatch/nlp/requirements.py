"""Per-criterion requirement parsing: the facts about the patient a criterion states.

`parse_criterion(text, kind)` runs every per-kind parser (requirements_basic, _biomarker,
_therapy, _cancer) over one criterion and returns the requirements in text order, each with
its span. Facts are stated positively; the criterion's kind says whether they must hold
(inclusion) or must not (exclusion). Explicit negation inside a criterion is carried in the
params: `received: false` (prior therapy), biomarker `status: "negative"`, prior_lines
`max: 0`, and for kinds without a polarity field `"negated": true` ("No CNS metastases"
under inclusion). `"allowed": true` marks a permission ("stable brain metastases are
allowed"), which rules nobody out. See docs/requirements.md.
"""

from __future__ import annotations

from trialmatch.models import Requirement
from trialmatch.nlp.requirements_basic import (
    find_age,
    find_cns_metastases,
    find_extent,
    find_infection,
    find_measurable_disease,
    find_organ_function,
    find_other_malignancy,
    find_performance_status,
    find_pregnancy,
    find_sex,
    find_stage,
)
from trialmatch.nlp.requirements_biomarker import find_biomarker_requirements
from trialmatch.nlp.requirements_cancer import find_cancer_requirements, restrict_for_exclusion
from trialmatch.nlp.requirements_therapy import find_prior_therapy

REQUIREMENT_KINDS = (
    "cancer_type", "histology", "primary_site", "stage", "extent", "measurable_disease",
    "biomarker", "age", "sex", "performance_status", "prior_therapy", "prior_lines",
    "cns_metastases", "organ_function", "pregnancy", "infection", "other_malignancy",
)

# Kinds whose alternatives can be pooled when a lead-in asks for "one of the following".
_CONTEXT_SEPARATOR = "\n"


def parse_criterion(text: str, kind: str) -> list[Requirement]:
    """The requirements one criterion states, in text order, spans within `text`.

    `kind` is "inclusion" or "exclusion" (it changes how a few phrasings read, e.g. what an
    exclusion of "brain metastases unless stable" rules out). A criterion stating none of
    the known kinds gives an empty list (shown as "other" by callers).
    """
    if not text or not text.strip():
        return []
    requirements: list[Requirement] = []
    other_malignancy = find_other_malignancy(text)
    requirements += other_malignancy
    requirements += find_cancer_requirements(text, kind, skip_other_malignancy=bool(
        other_malignancy))
    requirements += find_stage(text)
    requirements += find_extent(text)
    requirements += find_measurable_disease(text)
    requirements += find_biomarker_requirements(text, kind)
    requirements += find_age(text)
    requirements += find_sex(text)
    requirements += find_performance_status(text)
    requirements += find_prior_therapy(text, kind)
    requirements += find_cns_metastases(text, kind)
    requirements += find_organ_function(text)
    requirements += find_pregnancy(text)
    requirements += find_infection(text)
    if kind == "exclusion":
        requirements = restrict_for_exclusion(requirements)
    requirements.sort(key=lambda r: (r.start, REQUIREMENT_KINDS.index(r.kind)))
    return requirements


def parse_in_context(text: str, kind: str, context: str, offset: int) -> list[Requirement]:
    """Parse a sub-bullet with its lead-in lines before it ("Patients must have one of the
    following:" + "EGFR exon 19 deletion"), keeping only what touches the sub-bullet itself.
    Spans are shifted to be relative to the sub-bullet, plus `offset`."""
    if not context:
        return [_shift(r, offset) for r in parse_criterion(text, kind)]
    prefix = context + _CONTEXT_SEPARATOR
    combined = prefix + text
    out = []
    for req in parse_criterion(combined, kind):
        if req.end <= len(prefix):
            continue  # stated by the lead-in alone; the lead-in criterion carries it
        start = max(req.start, len(prefix)) - len(prefix)
        end = req.end - len(prefix)
        out.append(Requirement(req.kind, req.params, text[start:end], start + offset,
                               end + offset))
    return out


def _shift(req: Requirement, offset: int) -> Requirement:
    return Requirement(req.kind, req.params, req.text, req.start + offset, req.end + offset)


def merge_alternatives(alternatives: list[list[Requirement]], text: str) -> list[Requirement]:
    """Requirements of a "one of the following" group, whose sub-bullets are alternatives.

    The matcher reads requirements of one kind in an inclusion criterion as alternatives and
    different kinds as all required, so only kinds stated by every sub-bullet are kept
    (biomarker alternatives become one requirement with all of them in `any_of`). A sub-bullet
    with nothing parsed could be the one the patient meets: then nothing is kept.
    """
    if not alternatives or any(not alt for alt in alternatives):
        return []
    common = set.intersection(*({r.kind for r in alt} for alt in alternatives))
    kept = [r for alt in alternatives for r in alt if r.kind in common]
    biomarkers = [r for r in kept if r.kind == "biomarker"]
    if len(biomarkers) > 1:
        any_of = [item for r in biomarkers for item in r.params.get("any_of", [])]
        start = min(r.start for r in biomarkers)
        end = max(r.end for r in biomarkers)
        merged = Requirement("biomarker", {"any_of": any_of}, text[start:end], start, end)
        kept = [r for r in kept if r.kind != "biomarker"] + [merged]
    kept.sort(key=lambda r: r.start)
    return kept
