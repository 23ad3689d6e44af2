"""Read a case file (SPEC "Case file"): the patient's facts, notes and the first opinion.

A case is YAML or JSON; a plain text file is a case with one note and nothing else known.
Every error is an `InputError` of one line that names the case file, the note number and the
field at fault, and never a value from the case or a note: not the id, not a note's path or
text, not an unknown key, tag or alias (issue 17). Files are read through
`trialmatch.inputs` (regular files only, bounded reads, no YAML aliases or custom tags, capped
nesting), and a note's path must resolve inside the case file's folder, or inside
`notes_root` when one is given.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trialmatch.errors import InputError, TrialmatchError
from trialmatch.inputs import load_json, load_yaml, read_limited
from trialmatch.match.stated import (
    BRAIN_STATES,
    STATED,
    STATED_FIELDS,
    CaseStatements,
    read_statements,
    unknown_fields_message,
)
from trialmatch.nlp.notes import MAX_NOTE_BYTES

CASE_FIELDS = frozenset(
    {"id", "age", "sex", "ecog", "location", "notes", "prior_therapies", "first_opinion"}
) | STATED_FIELDS
FIRST_OPINION_FIELDS = frozenset(
    {"diagnosis", "stage", "biomarkers", "plan", "trials_considered"}
)
LOCATION_FIELDS = frozenset({"country", "state", "city", "postal_code", "lat", "lon"})
STRUCTURED_SUFFIXES = frozenset({".yaml", ".yml", ".json"})


@dataclass
class CaseNote:
    """One note of a case: its text and where it came from (a path, or `text #n`)."""

    source: str
    text: str


@dataclass
class FirstOpinion:
    """What the first evaluation concluded, as written in the case file."""

    diagnosis: str | None = None
    stage: str | None = None
    biomarkers: list[str] = field(default_factory=list)
    plan: str | None = None
    trials_considered: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "diagnosis": self.diagnosis,
            "stage": self.stage,
            "biomarkers": list(self.biomarkers),
            "plan": self.plan,
            "trials_considered": list(self.trials_considered),
        }


@dataclass
class Case:
    """A patient case ready for matching; note texts are already read.

    `prior_therapies` is None when the case does not say (unknown), and `[]` when the case
    says there were none (treatment-naive); the two mean different things to eligibility.
    """

    id: str
    notes: list[CaseNote]
    age: float | None = None
    sex: str | None = None
    ecog: int | None = None
    karnofsky: int | None = None  # as the notes state it (the case file gives ECOG)
    location: dict[str, str] | None = None
    prior_therapies: list[str] | None = None
    first_opinion: FirstOpinion | None = None
    path: Path | None = None
    # Where a fact came from a note rather than the case file: {"age": "52-year-old"}.
    from_notes: dict[str, str] = field(default_factory=dict)
    # What the notes say of distant spread and brain metastases (the case file has no such
    # fields): True, False (stated absent) or None (not stated).
    metastatic: bool | None = None
    brain_metastases: bool | None = None
    # Results the notes state: labs {"platelets": (85.0, "10^9/L", "platelets 85,000/uL")},
    # infections {"HIV": (True, "HIV positive")}, pregnancy.
    labs: dict[str, tuple[float, str, str]] = field(default_factory=dict)
    infections: dict[str, tuple[bool, str]] = field(default_factory=dict)
    pregnant: bool | None = None
    # Past cancers the notes name (code, year or None, words), and words saying there was
    # no other cancer.
    past_cancers: list[tuple[str, int | None, str]] = field(default_factory=list)
    no_other_cancer: str | None = None
    # What reading the notes changed (control or invisible characters removed), each naming
    # the case file and note number, never the text.
    warnings: list[str] = field(default_factory=list)
    # The disease facts the case file states (diagnosis, stage, biomarkers...): they win over
    # the notes (trialmatch.match.stated).
    stated: CaseStatements = field(default_factory=CaseStatements)
    # Where a fact came from the case file's statements: {"metastatic": "stated in the case
    # file: disease_status metastatic"}.
    stated_evidence: dict[str, str] = field(default_factory=dict)

    @property
    def note_texts(self) -> list[str]:
        """The notes' texts, in case order."""
        return [note.text for note in self.notes]


# A case file holds at most one inline note of MAX_NOTE_BYTES plus its fields; the notes of one
# case together are bounded so that 1,000 notes cannot take gigabytes (issue 7, "Limits").
MAX_CASE_BYTES = 6 * 1024 * 1024
MAX_CASE_NOTE_BYTES = 20 * 1024 * 1024



def load_case(path: str | Path, *, notes_root: str | Path | None = None) -> Case:
    """Read and validate the case file at `path` (YAML, JSON, or a plain-text note).

    Note paths must resolve (symlinks followed) inside the case file's folder, or inside
    `notes_root` when one is given.
    """
    path = Path(path)
    if not path.exists():  # a dangling symlink too
        raise InputError(f"case file not found: {path}")
    if path.suffix.lower() not in STRUCTURED_SUFFIXES:
        # A bare note: the id is the file's stem, nothing else is known.
        note = _read_note_file(path, str(path))
        case = case_from_note(note.text, path.stem, source=str(path))
        case.path = path
        case.warnings = list(note.warnings)
        return case
    try:
        raw = read_limited(path, MAX_CASE_BYTES, f"case file {path}", what="case file")
    except InputError as error:
        hint = "put long notes in separate files" if "larger than" in error.message else None
        raise InputError(error.message, hint=hint) from None
    try:
        raw_text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"case file is not UTF-8 text: {path}") from None
    document = _parse_document(raw_text, path)
    return case_from_dict(document, path, notes_root=notes_root)


def case_from_note(text: str, case_id: str, *, source: str = "text #1") -> Case:
    """A case of one note and nothing else known, as a plain-text file given as the case
    is read: age, sex, performance status, prior therapies and the other clinical facts
    come from what the note states. `text` must already be clean (`read_note_text` or
    `clean_note_text`)."""
    case = Case(id=case_id, notes=[CaseNote(source, text)])
    return _fill_clinical(_fill_demographics(case))


def self_contained_document(path: str | Path) -> dict[str, Any]:
    """The case at `path` as one document that needs no other file, validated as `load_case`
    validates it: its fields as written, every note's text inline (a plain-text note becomes
    a case with that one note). `case_from_dict(document, path)` reads it back as the same
    case; the watch list keeps cases this way."""
    case = load_case(path)
    path = Path(path)
    notes = [{"text": note.text} for note in case.notes]
    if path.suffix.lower() not in STRUCTURED_SUFFIXES:
        return {"id": case.id, "notes": notes}
    try:
        document = _parse_document(path.read_text(encoding="utf-8"), path)
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read case file {path}: {type(error).__name__}") from None
    return {**document, "notes": notes}


def case_from_dict(document: Any, path: Path, *,
                   notes_root: str | Path | None = None) -> Case:
    """Validate a parsed case document; note paths are read relative to `path`'s folder and
    must resolve inside it (or inside `notes_root`)."""
    if not isinstance(document, dict):
        raise InputError(f"{path}: a case must be a mapping of fields, not {_kind(document)}")
    if any(key not in CASE_FIELDS for key in document):
        raise InputError(unknown_fields_message(path, "the case", list(document),
                                                CASE_FIELDS),
                         hint=f"allowed fields: {', '.join(sorted(CASE_FIELDS))}")
    case_id = document.get("id")
    if case_id is None or (isinstance(case_id, str) and not case_id.strip()):
        raise InputError(f"{path}: field 'id' is required")
    if not isinstance(case_id, (str, int)) or isinstance(case_id, bool):
        raise InputError(f"{path}: field 'id' must be a string")
    case_id = str(case_id).strip()
    warnings: list[str] = []
    stated = read_statements(document, path)
    prior_therapies = _string_list(document, "prior_therapies", path)
    if stated.treatments is not None:
        # Stated treatments are prior therapies too, their setting written in the entry.
        prior_therapies = (prior_therapies or []) + [t.entry for t in stated.treatments]
    case = Case(
        id=case_id,
        age=_age(document.get("age"), path),
        sex=_sex(document.get("sex"), path),
        ecog=_ecog(document.get("ecog"), path),
        location=_location(document.get("location"), path),
        notes=_notes(document.get("notes"), path, notes_root, warnings),
        prior_therapies=prior_therapies,
        first_opinion=_first_opinion(document.get("first_opinion"), path),
        path=path,
        warnings=warnings,
        stated=stated,
    )
    return _apply_statements(_fill_clinical(_fill_demographics(case)))


def _apply_statements(case: Case) -> Case:
    """The case file's statements of spread, brain metastases and labs win over the notes'.

    A stated stage below IV without M1 is the stage now, so a note's statement of distant
    spread no longer counts (it would restage the disease) unless the case file states a
    metastatic status too.
    """
    stated = case.stated
    metastatic = stated.metastatic
    if metastatic is None and stated.brain_metastases:
        metastatic = True if BRAIN_STATES[stated.brain_metastases] else None
    if metastatic is not None:
        case.metastatic = metastatic
        case.from_notes.pop("metastatic", None)
        words = (", ".join(stated.disease_status) if stated.disease_status else
                 ", ".join(stated.metastatic_sites) if stated.metastatic_sites else
                 f"brain metastases {stated.brain_metastases}")
        case.stated_evidence["metastatic"] = f"{STATED}: {words}"
    elif stated.stage is not None and case.metastatic and not _stage_metastatic(stated):
        case.metastatic = None
        case.from_notes.pop("metastatic", None)
        case.stated_evidence["metastatic"] = f"{STATED}: stage {stated.stage.group or ''}".strip()
    if stated.brain_metastases:
        case.brain_metastases = BRAIN_STATES[stated.brain_metastases]
        case.from_notes.pop("brain_metastases", None)
        case.stated_evidence["brain_metastases"] = f"{STATED}: {stated.brain_metastases}"
    if stated.labs:
        case.labs.update(stated.labs)
    if stated.treatments is not None:
        case.stated_evidence["prior_therapies"] = STATED
    return case


def _stage_metastatic(stated: CaseStatements) -> bool:
    stage = stated.stage
    return bool(stage and ((stage.m or "").upper().startswith("M1") or
                           (stage.group or "").upper().startswith("IV")))


def _fill_demographics(case: Case) -> Case:
    """Take age and sex from the notes where the case file leaves them out; its own win."""
    if case.age is not None and case.sex is not None:
        return case
    from trialmatch.nlp.demographics import find_demographics

    for note in case.notes:
        stated = find_demographics(note.text)
        if case.age is None and stated.age is not None:
            case.age = float(stated.age)
            case.from_notes["age"] = stated.age_evidence or ""
        if case.sex is None and stated.sex is not None:
            case.sex = stated.sex
            case.from_notes["sex"] = stated.sex_evidence or ""
    return case


# Therapy classes that are procedures rather than drugs (drugs.json), which a case file's
# list of drugs may leave out.
_PROCEDURE_CLASSES = ("stem cell transplant",)


def _procedures_missing(listed: list[str], noted: list[str]) -> list[str]:
    """The procedures (stem cell transplants) the notes' therapy entries name that the case's
    own list does not, one entry each, by their lexicon name."""
    from trialmatch.nlp import drugs

    lexicon = drugs.get_lexicon()

    def procedures(entries: list[str]) -> set[str]:
        found = set()
        for entry in entries:
            for mention in drugs.find_drug_classes(entry):
                if any(ancestor in _PROCEDURE_CLASSES
                       for ancestor in lexicon.ancestors(mention.key)):
                    found.add(mention.key)
        return found

    have = procedures(listed)
    return sorted(procedures(noted) - have)


def _fill_clinical(case: Case) -> Case:
    """Take performance status and prior therapies from the notes where the case file leaves
    them out (its own win), and the spread of disease the notes state."""
    from trialmatch.nlp.clinical import find_clinical_facts, merge_clinical_facts

    if not case.notes:
        return case
    facts = merge_clinical_facts([find_clinical_facts(note.text) for note in case.notes])
    if case.ecog is None and facts.ecog is not None:
        case.ecog = facts.ecog
        case.from_notes["ecog"] = facts.ecog_evidence or ""
    case.karnofsky = facts.kps
    if case.prior_therapies is None and facts.prior_therapies is not None:
        case.prior_therapies = list(facts.prior_therapies)
        case.from_notes["prior_therapies"] = "; ".join(facts.prior_evidence)
    elif case.prior_therapies and facts.prior_therapies:
        # A drug list the case file gives leaves out what is no drug: the notes' transplant
        # ("VRd x4 -> Mel200 ASCT") is part of the history a trial asks about.
        added = _procedures_missing(case.prior_therapies, facts.prior_therapies)
        if added:
            case.prior_therapies = list(case.prior_therapies) + added
            case.from_notes["procedures"] = "; ".join(added)
    case.metastatic = facts.metastatic
    case.brain_metastases = facts.brain_metastases
    if facts.metastatic is not None:
        case.from_notes["metastatic"] = facts.metastatic_evidence or ""
    if facts.brain_metastases is not None:
        case.from_notes["brain_metastases"] = facts.brain_evidence or ""
    case.labs = dict(facts.labs)
    case.infections = dict(facts.infections)
    case.pregnant = facts.pregnant
    case.past_cancers = list(facts.past_cancers)
    case.no_other_cancer = facts.no_other_cancer
    if facts.pregnant is not None:
        case.from_notes["pregnancy"] = facts.pregnancy_evidence or ""
    return case


# --------------------------------------------------------------------------- parsing


def _parse_document(raw_text: str, path: Path) -> Any:
    if path.suffix.lower() == ".json":
        return load_json(raw_text, str(path))
    # `id: 00123` is the id "00123", not the octal 83.
    return _dates_as_text(load_yaml(raw_text, str(path), as_text=frozenset({"id"})))


def _dates_as_text(value: Any) -> Any:
    """YAML reads `date: 2025-11-03` as a date; the case keeps it as the text a JSON case
    would hold, so that a case document is always JSON (the watch list stores it so)."""
    if isinstance(value, dict):
        return {key: _dates_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(item) for item in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"


def _age(value: Any, path: Path) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{path}: field 'age' must be a number of years")
    if not 0 <= value <= 130:
        raise InputError(f"{path}: field 'age' must be between 0 and 130 years")
    return float(value)


def _sex(value: Any, path: Path) -> str | None:
    if value is None:
        return None
    sex = str(value).strip().lower()
    if sex not in ("female", "male"):
        raise InputError(f"{path}: field 'sex' must be female or male")
    return sex


def _ecog(value: Any, path: Path) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 5:
        raise InputError(f"{path}: field 'ecog' must be a whole number from 0 to 5")
    return value


def _location(value: Any, path: Path) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, str):  # "United States" alone is a country
        return {"country": value.strip()}
    if not isinstance(value, dict):
        raise InputError(f"{path}: field 'location' must be a mapping: {{postal_code, "
                         "country}, {city, state, country} or {lat, lon}")
    if any(key not in LOCATION_FIELDS for key in value):
        raise InputError(unknown_fields_message(path, "field 'location'", list(value),
                                                LOCATION_FIELDS))
    postal = value.get("postal_code")
    if isinstance(postal, int) and not isinstance(postal, bool) and len(str(postal)) < 5:
        # YAML reads 02115 as a number (octal, even): the leading zero is gone.
        raise InputError(f"{path}: field 'location.postal_code' lost its leading zero",
                         hint="write it in quotes, e.g. postal_code: \"02115\"")
    return {str(key): str(item).strip() for key, item in value.items() if item is not None}


def _string_list(document: dict, name: str, path: Path) -> list[str] | None:
    value = document.get(name)
    if value is None:
        return None  # not said: unknown, unlike [] which says "none"
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, (str, int)) for item in value):
        raise InputError(f"{path}: field '{name}' must be a list of strings")
    return [str(item).strip() for item in value if str(item).strip()]


def _first_opinion(value: Any, path: Path) -> FirstOpinion | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError(f"{path}: field 'first_opinion' must be a mapping")
    if any(key not in FIRST_OPINION_FIELDS for key in value):
        raise InputError(unknown_fields_message(path, "field 'first_opinion'", list(value),
                                                FIRST_OPINION_FIELDS),
                         hint=f"allowed fields: {', '.join(sorted(FIRST_OPINION_FIELDS))}")
    for name in ("diagnosis", "stage", "plan"):
        if value.get(name) is not None and not isinstance(value[name], (str, int, float)):
            raise InputError(f"{path}: field 'first_opinion.{name}' must be text")
    biomarkers = _string_list(value, "biomarkers", path) or []
    trials = [item.upper() for item in (_string_list(value, "trials_considered", path) or [])]
    return FirstOpinion(
        diagnosis=_text_or_none(value.get("diagnosis")),
        stage=_text_or_none(value.get("stage")),
        biomarkers=biomarkers,
        plan=_text_or_none(value.get("plan")),
        trials_considered=trials,
    )


def _text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _notes(value: Any, path: Path, notes_root: str | Path | None,
           warnings: list[str]) -> list[CaseNote]:
    if value is None:
        raise InputError(f"{path}: field 'notes' is required (at least one note)")
    if not isinstance(value, list) or not value:
        raise InputError(f"{path}: field 'notes' must be a list of at least one note")
    notes = []
    total_bytes = 0
    for number, entry in enumerate(value, start=1):
        bare = isinstance(entry, str)
        if bare:  # a bare string is taken as a path, the common shorthand
            entry = {"path": entry}
        if not isinstance(entry, dict) or len(entry) != 1 or not ({"path", "text"} & set(entry)):
            raise InputError(f"{path}: note {number} must be {{path: FILE}} or {{text: TEXT}}")
        if "text" in entry:
            label = f"{path}: note {number} (text)"
            text = entry["text"]
            if not isinstance(text, str) or not text.strip():
                raise InputError(f"{label} is empty")
            size = len(text.encode("utf-8", "surrogatepass"))
            if size > MAX_NOTE_BYTES:
                raise InputError(f"{label} is larger than "
                                 f"{MAX_NOTE_BYTES // (1024 * 1024)} MB",
                                 hint="split it into separate notes")
            total_bytes = _add_note_bytes(total_bytes, size, path)
            from trialmatch.nlp.notes import clean_note_text

            cleaned = clean_note_text(text, label)
            warnings.extend(cleaned.warnings)
            notes.append(CaseNote(f"text #{number}", cleaned.text))
            continue
        label = f"{path}: note {number} (path)"
        if not isinstance(entry["path"], str) or not entry["path"].strip():
            raise InputError(f"{label} must be a file name")
        note_path = confined_note_path(entry["path"], path, notes_root, label)
        if bare and not note_path.exists():
            raise InputError(f"{label}: no such file", hint="a bare string in 'notes' is a "
                             "file name; write '- text: ...' for the text of a note")
        note = _read_note_file(note_path, label)
        warnings.extend(note.warnings)
        total_bytes = _add_note_bytes(total_bytes, len(note.text.encode("utf-8")), path)
        notes.append(CaseNote(str(note_path), note.text))
    return notes


def confined_note_path(raw: str, case_path: Path, notes_root: str | Path | None,
                       label: str) -> Path:
    """The note file `raw` names, relative to the case file's folder, once it is known to
    resolve (symlinks followed) inside that folder or inside `notes_root` (when given).

    A case must not read another patient's notes: `../../other/note.txt`, an absolute path
    and a symlink out of the folder are refused (issue 17). The message names neither path.
    """
    note_path = Path(raw)
    if not note_path.is_absolute():
        note_path = case_path.parent / note_path
    roots = [case_path.parent] + ([Path(notes_root)] if notes_root is not None else [])
    try:
        resolved = note_path.resolve()
        inside = any(resolved.is_relative_to(root.resolve()) for root in roots)
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL in the name
        raise InputError(f"{label}: cannot be resolved") from None
    if not inside:
        where = ("the case file's folder" if notes_root is None
                 else "the case file's folder and --notes-root")
        raise InputError(f"{label}: the note is outside {where}",
                         hint="keep notes beside the case, or pass --notes-root DIR")
    return resolved


def _add_note_bytes(total: int, size: int, path: Path) -> int:
    total += size
    if total > MAX_CASE_NOTE_BYTES:
        raise InputError(f"{path}: its notes total more than "
                         f"{MAX_CASE_NOTE_BYTES // (1024 * 1024)} MB",
                         hint="match the case with fewer notes")
    return total


def _read_note_file(note_path: Path, label: str) -> Any:
    """Read one note with the extractor's reader (it refuses what is not a regular file, and
    empty, binary and huge notes); errors name `label`, never the text."""
    from trialmatch.nlp.notes import read_note_text

    try:
        return read_note_text(note_path, label)
    except TrialmatchError as error:
        raise InputError(error.message, hint=error.hint) from None
