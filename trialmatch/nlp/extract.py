"""Notes in, one Profile out: the `trialmatch extract` library call.

Several notes make one merged profile. Offsets (`start`/`end` of the cancer type and of
each biomarker) are positions in the notes joined with NOTE_SEPARATOR ("\\n\\n"), i.e. in
`NOTE_SEPARATOR.join(notes)`; with a single note they are positions in that note.

Merging, across notes and across the sections of one note: the deciding sections (final
diagnosis, synoptic summary, molecular results, addendum) outweigh the body, which outweighs
gross description and clinical history; clinical history alone never asserts a cancer. For
biomarkers a stated result beats "pending", and among equals the later statement (an
addendum) wins.

A note longer than MAX_PART_CHARS is read in parts cut at line breaks, so memory stays
bounded whatever the note's size (read_note refuses files over 5 MB).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from typing import Any

from trialmatch.models import Profile, Stage
from trialmatch.nlp.biomarkers import merge_biomarkers, with_family_members
from trialmatch.nlp.cancer import CancerCandidate, cancer_type_of, choose_cancer_type
from trialmatch.nlp.context import load_cues, lowered_for_search, quoted_on_line
from trialmatch.nlp.grade import GradeMention
from trialmatch.nlp.notes import repair_ocr, repair_ocr_zeros
from trialmatch.nlp.sections import Section, section_at
from trialmatch.nlp.stage_groups import group_from_tnm
from trialmatch.nlp.tnm import (
    StageGroupMention,
    TnmMention,
    build_stage,
    mark_superseded,
    superseded_groups,
)
from trialmatch.regex_cache import re_compile

NOTE_SEPARATOR = "\n\n"
MAX_PART_CHARS = 200_000
DECIDING_WEIGHT = 2.0
FOREIGN_REACH = 1000
MAX_OTHER_TYPES = 5
_DISEASE_COURSE = re_compile(r"(?i)\b(?:relaps\w*|recurr\w*|progress(?:ion|ive|ed|ing)|"
                             r"refractory|restag\w*)\b")
# Every match of _DISEASE_COURSE holds one of these (a cheap test before the regex pass).
_DISEASE_COURSE_WORDS = ("relaps", "recurr", "progress", "refractory", "restag")
PRIOR_REACH = 200  # a result this close after a cancer's name is about that cancer
QUOTED_FACTOR = 0.5  # a stage quoted from another document, against the note's own
_PREFIX_RANK = {"yp": 4, "p": 4, "rp": 3, "r": 3, "c": 2, "yc": 2, "a": 1, None: 0}


@dataclass
class _Reading:
    """What the pipeline found in one part of one note, offsets already shifted."""

    cancer: list[CancerCandidate] = field(default_factory=list)
    distant: list[tuple[int, int, str]] = field(default_factory=list)
    tnm: list[tuple[float, TnmMention]] = field(default_factory=list)
    groups: list[tuple[float, StageGroupMention]] = field(default_factory=list)
    grades: list[tuple[float, GradeMention]] = field(default_factory=list)
    biomarkers: list[tuple[float, Any]] = field(default_factory=list)
    restaged: bool = False  # the notes tell of relapse, recurrence or progression
    note_starts: list[int] = field(default_factory=list)  # where each note begins

    _asserted: tuple[list[CancerCandidate], list[int]] | None = None
    _by_start: tuple[list[CancerCandidate], list[int]] | None = None

    def cancer_by_start(self) -> tuple[list[CancerCandidate], list[int]]:
        """Every cancer mention (asserted or not) in text order, with their starts (computed
        once: a long note has thousands of biomarker results that each look one up)."""
        if self._by_start is None:
            mentions = sorted(self.cancer, key=lambda c: c.start)
            self._by_start = (mentions, [c.start for c in mentions])
        return self._by_start

    def asserted_cancer(self) -> tuple[list[CancerCandidate], list[int]]:
        """Asserted cancer mentions in text order, with their starts (computed once)."""
        if self._asserted is None:
            mentions = sorted((c for c in self.cancer if c.asserted), key=lambda c: c.start)
            self._asserted = (mentions, [c.start for c in mentions])
        return self._asserted


def _parts(text: str, limit: int = MAX_PART_CHARS) -> list[tuple[int, str]]:
    """Cut a long text at line breaks into (offset, part) pieces of at most `limit` chars."""
    if len(text) <= limit:
        return [(0, text)]
    parts: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + limit)
        if end < len(text):
            cut = text.rfind("\n", start + limit // 2, end)
            end = cut + 1 if cut > 0 else end
        parts.append((start, text[start:end]))
        start = end
    return parts


def _weight(sections: list[Section], offset: int) -> float:
    section = section_at(sections, offset)
    return section.weight if section else 1.0


def _read(text: str, offset: int, model: str | None) -> _Reading:
    from trialmatch.nlp.pipeline import run_pipeline

    # Rules read the OCR-repaired text (same length, same offsets); evidence is re-cut
    # from the note as written.
    from trialmatch.nlp.vocab import get_vocabulary

    # ... and with words OCR split in two rejoined ("uter ine primary"), same length too.
    doc = run_pipeline(get_vocabulary().rejoin_split_words(repair_ocr(text), load_cues().words),
                       model)
    ext = doc._  # (each `doc._` makes a new accessor: read once)
    sections: list[Section] = ext.tm_sections
    reading = _Reading()
    reading.cancer = [
        replace(c, start=c.start + offset, end=c.end + offset,
                evidence=text[c.evidence_start : c.evidence_end],
                evidence_start=c.evidence_start + offset, evidence_end=c.evidence_end + offset)
        for c in ext.tm_cancer
    ]
    lowered = lowered_for_search(text)
    reading.restaged = any(word in lowered for word in _DISEASE_COURSE_WORDS) and bool(
        _DISEASE_COURSE.search(text))
    reading.distant = [(start + offset, end + offset, words)
                       for start, end, words in ext.tm_distant]
    reading.tnm = [(_weight(sections, m.start),
                    replace(m, start=m.start + offset, end=m.end + offset))
                   for m in ext.tm_tnm]
    # A stage quoted from another document ('outside consult: "cT2 cN0, stage IIA"') is
    # reported, not asserted: it counts below the note's own statements.
    reading.groups = [(_weight(sections, g.start) * (QUOTED_FACTOR if quoted_on_line(
                           text, g.start, g.end) else 1.0),
                       replace(g, start=g.start + offset, end=g.end + offset))
                      for g in ext.tm_groups]
    reading.grades = [(_weight(sections, g.start),
                       replace(g, start=g.start + offset, end=g.end + offset))
                      for g in ext.tm_grades]
    reading.biomarkers = [(_weight(sections, b.start),
                           replace(b, start=b.start + offset, end=b.end + offset,
                                   evidence=text[b.start : b.end].strip()))
                          for b in ext.tm_biomarkers]
    return reading


def _usable(weighted: list[tuple[float, Any]]) -> list[tuple[float, Any]]:
    """Drop mentions from zero-weight sections (clinical history) unless nothing else."""
    kept = [item for item in weighted if item[0] > 0]
    return kept or weighted


def _foreign(offset: int, reading: _Reading, chosen: CancerCandidate | None, vocab: Any) -> bool:
    """Whether a stage or grade statement at `offset` is about another tumour than the one
    chosen: the nearest cancer named before it (within FOREIGN_REACH characters) is of
    another tissue ("TNM stage (prostatic adenocarcinoma): T2a" in a cystectomy for bladder
    cancer)."""
    if chosen is None:
        return False
    asserted, starts = reading.asserted_cancer()
    index = bisect.bisect_right(starts, offset) - 1
    if index < 0 or offset - asserted[index].start > FOREIGN_REACH:
        return False
    return vocab.tissue_code(asserted[index].code) != vocab.tissue_code(chosen.code)


def _stage(reading: _Reading, chosen: CancerCandidate | None, vocab: Any
           ) -> tuple[Stage | None, Stage | None]:
    """The stage now and, when the notes' only groups are history a later spread or
    relapse has moved on from, the stage at diagnosis they give ("history of FIGO 2018
    stage IIIC1r ..., now biopsy-proven lung metastases": IV now, IIIC1 at diagnosis)."""
    tnm = _usable(reading.tnm)
    # A report giving the categories in several TNM editions: the latest edition is the
    # one in force (each AJCC/UICC edition supersedes the previous one).
    latest = max((m.edition for _, m in tnm if m.edition is not None), default=None)
    tnm.sort(key=lambda item: (_foreign(item[1].start, reading, chosen, vocab),
                               item[1].edition is not None and item[1].edition != latest,
                               -min(item[0], DECIDING_WEIGHT),
                               -_PREFIX_RANK.get(item[1].prefix, 0),
                               -sum(v is not None for v in (item[1].t, item[1].n, item[1].m)),
                               item[1].start))
    ordered = [mention for _, mention in tnm]
    if ordered:
        # Fill missing categories only from mentions of the same kind (p with p, c with c).
        anchor = ordered[0].prefix
        # M is the exception: pathological staging takes the clinical M (AJCC 8th ed.,
        # ch. 1: "pT pN cM"), so an M of any kind fills a missing M.
        ordered = [m for m in ordered if m.prefix in (anchor, None) or anchor is None] + [
            replace(m, t=None, n=None) for m in ordered
            if m.m is not None and anchor is not None and m.prefix not in (anchor, None)]
    groups = _usable(reading.groups)
    # Of the notes, the latest decides (a consult's "stage IIIB" after an outside surgeon's
    # "stage IIA"); within a note, the first written (the final diagnosis comes first).
    starts = reading.note_starts or [0]
    groups.sort(key=lambda item: (not item[1].final, -min(item[0], DECIDING_WEIGHT),
                                  -bisect.bisect_right(starts, item[1].start),
                                  item[1].start))
    if len(groups) > 1:
        # "stage II" in a remark and "anatomic stage IIB" in the assessment: the precise group
        # of the same stage says more (the first one written keeps its place otherwise).
        top_weight, first = groups[0]
        finer = next((item for item in groups[1:] if item[0] >= min(top_weight,
                                                                     DECIDING_WEIGHT)
                      and item[1].group != first.group
                      and item[1].group.startswith(first.group)
                      and item[1].historical == first.historical), None)
        if finer is not None and not first.final:
            groups.remove(finer)
            groups.insert(0, finer)
    written = [group for _, group in groups]
    at_diagnosis = None
    if reading.restaged and written and all(group.historical for group in written):
        # "Initially stage IIIA ... relapse": the disease has moved on since the only group
        # written, so it no longer says where the disease is (AJCC restages a recurrence).
        # A stage IV (distant spread) stays stage IV whatever follows.
        history = written
        written = [group for group in written if group.group.startswith("IV")]
        if not written:
            at_diagnosis = build_stage([], history)
    stage = build_stage(ordered, written)
    if chosen is None:
        return stage, None
    # A tumour found in a distant organ it did not arise in, or a statement of distant
    # spread, is M1 and stage IV (AJCC 8th ed.: any M1 is stage IV) unless a current group
    # is written; a group the text places in the past ("stage IIIC at that time") does not
    # count against the spread asserted now.
    words = chosen.evidence if chosen.distant else (
        reading.distant[0][2] if reading.distant else None)
    if words is None:
        return stage, at_diagnosis
    stage = stage or Stage()
    if stage.m is None:
        stage.m = "M1"
        stage.derived.append("m")
    current = [group for group in written if not group.historical]
    stage_iv = [group for group in current if group.group.startswith("IV")]
    if stage_iv and not (stage.group or "").startswith("IV"):
        stage.group = stage_iv[0].group
    elif stage.group is None or (not current and not stage.group.startswith("IV")):
        stage.group = "IV"
        if "group" not in stage.derived:
            stage.derived.append("group")
    stage.evidence = "; ".join(filter(None, [stage.evidence, words]))
    return stage, at_diagnosis


def _grade(reading: _Reading, chosen: CancerCandidate | None, vocab: Any
           ) -> GradeMention | None:
    grades = [item for item in _usable(reading.grades)]
    graded = [item for item in grades if item[1].grade is not None] or grades
    if not graded:
        return None
    prostate = chosen is not None and vocab.tissue_code(chosen.code) == "PROSTATE"

    def foreign(mention: GradeMention) -> bool:
        # Gleason grades prostate cancer only; other statements go by the nearest tumour.
        gleason = (mention.detail or "").startswith(("Gleason", "Grade Group"))
        return (gleason and chosen is not None and not prostate) or _foreign(
            mention.start, reading, chosen, vocab)

    return min(graded, key=lambda item: (
        foreign(item[1]), -min(item[0], DECIDING_WEIGHT), item[1].rank,
        -(int(item[1].grade[1]) if item[1].grade else 0), item[1].start))[1]


def _profile(reading: _Reading) -> Profile:
    from trialmatch.nlp.vocab import get_vocabulary

    vocab = get_vocabulary()
    profile = Profile()
    chosen = choose_cancer_type(reading.cancer, vocab)
    if chosen is None and any("y" in (m.prefix or "").lower() for _, m in reading.tnm):
        # A resection after neoadjuvant treatment with no residual tumour ("NO RESIDUAL
        # CARCINOMA", ypT0 ypN0): the report is about the cancer that was treated, which only
        # its clinical history names ("rectal adenocarcinoma ... total neoadjuvant therapy").
        chosen = choose_cancer_type(
            [replace(c, weight=1.0) for c in reading.cancer if c.asserted and c.weight <= 0],
            vocab)
    if chosen is not None:
        profile.cancer_type = cancer_type_of(chosen, vocab)
        histology = chosen.histology or vocab.histology_of(chosen.code)
        entry = vocab.histology(histology) if histology else None
        profile.histology = entry.name if entry else histology
        site = chosen.site or vocab.site_of(chosen.code)
        site_entry = vocab.site(site) if site else None
        profile.primary_site = site_entry.name if site_entry else site
        if not chosen.exact:
            profile.warnings.append("cancer type read from OCR-damaged words; check the note")
        others = _other_lineages(reading.cancer, chosen, vocab)
        if others:
            shown = ", ".join(others[:MAX_OTHER_TYPES])
            more = f" and {len(others) - MAX_OTHER_TYPES} more" if len(others) > MAX_OTHER_TYPES \
                else ""
            profile.warnings.append(f"other cancer types also asserted: {shown}{more}")
    profile.stage, profile.stage_at_diagnosis = _stage(reading, chosen, vocab)
    grade = _grade(reading, chosen, vocab)
    if grade is not None:
        profile.grade = grade.grade
        profile.grade_detail = grade.detail
    current = [(weight, biomarker) for weight, biomarker in reading.biomarkers
               if not _prior_cancer_result(weight, biomarker.start, reading, chosen, vocab)]
    weights = [weight for weight, _ in current]
    profile.biomarkers = with_family_members(merge_biomarkers([b for _, b in current], weights),
                                             vocab)
    if profile.cancer_type is not None:
        # "cT2 cN0 M0" without a group: the group of the site's AJCC table (not for tables
        # that need the age, which the notes reader does not know; `read_patient` does).
        profile.stage = group_from_tnm(profile.stage, profile.cancer_type.code, vocab,
                                       biomarkers=profile.biomarkers)
        stage = profile.stage
        if stage is not None and not stage.group and stage.n is None:
            # "pT2" from a TURBT or a biopsy (no nodes examined) beside a complete clinical
            # staging "cT2 N0 M0": the clinical categories give the group.
            clinical = next((m for _, m in _usable(reading.tnm)
                             if (m.prefix or "").startswith("c") and m.t and m.n), None)
            if clinical is not None:
                grouped = group_from_tnm(
                    Stage(prefix=clinical.prefix, t=clinical.t, n=clinical.n,
                          m=clinical.m or stage.m, evidence=clinical.evidence),
                    profile.cancer_type.code, vocab, biomarkers=profile.biomarkers)
                if grouped is not None and grouped.group:
                    profile.stage = replace(stage, group=grouped.group,
                                            derived=sorted(set(stage.derived) | {"group"}),
                                            evidence=f"{stage.evidence} (clinical stage "
                                            f"group from {clinical.evidence})")
    return profile


def _prior_cancer_result(weight: float, offset: int, reading: _Reading,
                         chosen: CancerCandidate | None, vocab: Any) -> bool:
    """Whether a biomarker result at `offset` belongs to a cancer the note does not assert
    now: "History of invasive ductal carcinoma (ER positive, HER2 negative)" above a benign
    colon polyp. A result in the clinical history, or right after a cancer named only as
    history (or negated), counts for the case only when that cancer is of the chosen
    cancer's tissue (a recurrence keeps its receptor status)."""
    mentions, starts = reading.cancer_by_start()
    index = bisect.bisect_right(starts, offset) - 1
    while index >= 0 and mentions[index].negated and offset - starts[index] <= PRIOR_REACH:
        # "... new lung primary, not melanoma met. NGS: KRAS G12C": a cancer denied owns
        # no result; the one named before it does.
        index -= 1
    nearest = mentions[index] if index >= 0 and offset - starts[index] <= PRIOR_REACH else None
    if nearest is not None and nearest.asserted and weight > 0:
        return False
    if weight > 0 and nearest is None:
        return False
    if chosen is None:
        return True
    if nearest is None:
        return False  # a history section's result with no cancer named: keep, weighed low
    return vocab.tissue_code(nearest.code) != vocab.tissue_code(chosen.code)


def _other_lineages(candidates: list[CancerCandidate], chosen: CancerCandidate,
                    vocab: Any) -> list[str]:
    """Codes asserted in deciding sections that are not in the chosen code's lineage."""
    chosen_tissue = vocab.tissue_code(chosen.code)
    others: list[str] = []
    for candidate in candidates:
        if not candidate.asserted or candidate.weight < DECIDING_WEIGHT or candidate.derived:
            continue
        if vocab.tissue_code(candidate.code) == chosen_tissue:
            continue
        if candidate.code not in others:
            others.append(candidate.code)
    return others


def extract(notes: list[str], *, model: str | None = None) -> Profile:
    """One merged Profile from one or more note texts.

    Offsets refer to `NOTE_SEPARATOR.join(notes)`. `model` names an installed scispaCy model
    whose entities add cancer mentions (InputError when it is not installed). The pipeline
    is built once per process and model.
    """
    combined = _Reading()
    offset = 0
    combined.note_starts = []
    for note in notes:
        combined.note_starts.append(offset)
        note = repair_ocr_zeros(note)
        for part_offset, part in _parts(note):
            reading = _read(part, offset + part_offset, model)
            combined.cancer.extend(reading.cancer)
            combined.distant.extend(reading.distant)
            combined.restaged = combined.restaged or reading.restaged
            combined.tnm.extend(reading.tnm)
            combined.groups.extend(reading.groups)
            combined.grades.extend(reading.grades)
            combined.biomarkers.extend(reading.biomarkers)
        offset += len(note) + len(NOTE_SEPARATOR)
    # "Upstaged from IIB" in a later note: the earlier note's IIB is the past.
    superseded = set().union(*(superseded_groups(note) for note in notes))
    if superseded:
        combined.groups = [(weight, marked) for (weight, _), marked in zip(
            combined.groups, mark_superseded([g for _, g in combined.groups], superseded),
            strict=True)]
    return _profile(combined)
