"""`trialmatch ingest`: load studies from files instead of the API.

Accepts single study JSON files, folders of them (searched recursively), saved API pages
(`{"studies": [...]}`), JSON lists of studies, and the ClinicalTrials.gov bulk export zip of
per-study JSON files. Everything goes through the same normalisation as `refresh`, and the
store's upserts make a second load of the same files change nothing.

One bad file is one skipped item with a warning naming it, never the end of the run (issue
17): a FIFO, device or socket (refused by type before it is opened), a file or zip member over
MAX_STUDY_FILE_BYTES (bounded by what is read), JSON nested deeper than
`trialmatch.inputs.MAX_NESTING`, an unreadable zip, and a study that fails normalisation in
any way.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trialmatch.errors import InputError
from trialmatch.ingest.normalize import InvalidStudyError, StudyRecord, normalize_study
from trialmatch.ingest.store import Annotate, TrialStore, UpsertCounts
from trialmatch.inputs import MAX_NESTING, json_depth, read_limited

log = logging.getLogger(__name__)

# A saved API page of 1,000 studies is ~40 MB; a bulk export member is one study. Past this a
# file (or a zip member, whatever its declared size) is refused, read no further.
MAX_STUDY_FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class StudySource:
    """One readable unit: a JSON file, or a JSON member of a zip archive."""

    path: Path
    member: str | None = None
    problem: str | None = None  # why it cannot be read, found while listing (a broken zip)

    @property
    def label(self) -> str:
        """How the source is named in warnings."""
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    def read(self, archives: dict[Path, zipfile.ZipFile] | None = None) -> bytes:
        """The raw bytes of the source. `archives` keeps zips open between members (a bulk
        export holds hundreds of thousands; reopening it for each would be quadratic)."""
        if self.problem is not None:
            raise InputError(f"{self.label}: {self.problem}")
        if self.member is None:
            return read_limited(self.path, MAX_STUDY_FILE_BYTES, self.label, what="study file")
        if archives is None:
            with zipfile.ZipFile(self.path) as archive:
                return self._read_member(archive)
        if self.path not in archives:
            for archive in archives.values():
                archive.close()
            archives.clear()
            archives[self.path] = zipfile.ZipFile(self.path)
        return self._read_member(archives[self.path])

    def _read_member(self, archive: zipfile.ZipFile) -> bytes:
        # A member's declared size can lie (a zip bomb): read one byte past the cap at most.
        with archive.open(self.member or "") as member:
            data = member.read(MAX_STUDY_FILE_BYTES + 1)
        if len(data) > MAX_STUDY_FILE_BYTES:
            raise InputError(f"{self.label}: study file is larger than "
                             f"{MAX_STUDY_FILE_BYTES // (1024 * 1024)} MB")
        return data


@dataclass
class IngestResult:
    """What `ingest_paths` did: store counts, sources read, and the warnings it logged."""

    counts: UpsertCounts
    sources: int
    warnings: list[str] = field(default_factory=list)
    usable: int = 0  # studies read and normalised, stored or not


def find_sources(paths: Sequence[str | Path]) -> list[StudySource]:
    """Expand files, folders (recursively: *.json and *.zip) and zips into readable sources.

    A path that does not exist is an InputError; nothing is read yet.
    """
    sources: list[StudySource] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path} does not exist", hint="give study JSON files, folders "
                             "of them, saved API pages or a bulk export .zip")
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                if found.is_file() and found.suffix.lower() in (".json", ".zip"):
                    sources.extend(_expand_file(found))
        else:
            sources.extend(_expand_file(path))
    return sources


def _expand_file(path: Path) -> list[StudySource]:
    if path.suffix.lower() != ".zip":
        return [StudySource(path)]
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # zipfile would block on a FIFO
            return [StudySource(path, problem="not a regular file")]
        with zipfile.ZipFile(path) as archive:
            members = sorted(
                info.filename for info in archive.infolist()
                if not info.is_dir() and info.filename.lower().endswith(".json")
            )
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return [StudySource(path, problem="not a readable zip archive")]
    return [StudySource(path, member) for member in members]


def iter_records(
    sources: Iterable[StudySource],
    result: IngestResult,
    on_source: Callable[[], None] | None = None,
) -> Iterator[StudyRecord]:
    """Normalised studies from every source; unreadable files and invalid studies are
    skipped, each counted in `result.counts.skipped` with a warning in `result.warnings`."""

    def warn(message: str) -> None:
        result.warnings.append(message)
        result.counts.skipped += 1
        log.warning("%s", message)

    archives: dict[Path, zipfile.ZipFile] = {}
    try:
        for source in sources:
            try:
                document = _load(source, archives)
            except InputError as error:
                warn(str(error))
                if on_source:
                    on_source()
                continue
            studies, problem = _studies_in(document)
            if problem:
                warn(f"{source.label}: {problem}; skipped")
            for index, study in enumerate(studies):
                where = (source.label if len(studies) == 1
                         else f"{source.label} study {index + 1}")
                try:
                    record = normalize_study(study)
                except InvalidStudyError as error:
                    warn(f"{where}: {error}; skipped")
                    continue
                except (RecursionError, MemoryError, ValueError, TypeError, KeyError,
                        AttributeError) as error:
                    # A record shaped in a way nobody foresaw is one skipped study.
                    warn(f"{where}: unusable study ({type(error).__name__}); skipped")
                    continue
                result.usable += 1
                yield record
            if on_source:
                on_source()
    finally:
        for archive in archives.values():
            archive.close()


def ingest_paths(
    store: TrialStore,
    paths: Sequence[str | Path],
    annotate: Annotate | None = None,
    *,
    on_source: Callable[[], None] | None = None,
    sources: Sequence[StudySource] | None = None,
    jobs: int = 1,
) -> IngestResult:
    """Load every study found under `paths` into `store` (idempotent).

    `sources` skips the search when the caller already has them; `jobs` parses eligibility
    in that many processes.
    """
    if sources is None:
        sources = find_sources(paths)
    if not sources:
        raise InputError(
            f"no study JSON files or .zip archives found in {', '.join(map(str, paths))}"
        )
    result = IngestResult(counts=UpsertCounts(), sources=len(sources))
    result.counts += store.upsert_studies(iter_records(sources, result, on_source), annotate,
                                          jobs=jobs)
    return result


def _load(source: StudySource, archives: dict[Path, zipfile.ZipFile]) -> Any:
    try:
        data = source.read(archives)
    except InputError as error:
        raise InputError(f"{error.message}; skipped") from None
    except (OSError, zipfile.BadZipFile, KeyError, EOFError, ValueError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise InputError(f"{source.label}: cannot read ({reason}); skipped") from None
    if json_depth(data) > MAX_NESTING:
        raise InputError(f"{source.label}: not valid JSON (nested deeper than {MAX_NESTING} "
                         "levels); skipped")
    try:
        return json.loads(data)
    except json.JSONDecodeError as error:
        raise InputError(f"{source.label}: not valid JSON ({error.msg} at line "
                         f"{error.lineno} column {error.colno}); skipped") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise InputError(f"{source.label}: not valid JSON ({type(error).__name__}); "
                         "skipped") from None


def _studies_in(document: Any) -> tuple[list[Any], str | None]:
    """The study objects a document holds, and what is wrong with it if it holds none."""
    if isinstance(document, dict):
        if "studies" in document:
            if isinstance(document["studies"], list):
                return document["studies"], None
            return [], "its 'studies' is not a list"
        if "protocolSection" in document:
            return [document], None
        return [], "neither a study (protocolSection) nor an API page (studies)"
    if isinstance(document, list):
        return document, None
    return [], f"a JSON {type(document).__name__}, not a study"

