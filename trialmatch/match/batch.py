"""Tumor-board batch mode: match every case in a folder and write what SPEC.md names.

For each case `DIR/<case id>.json` (the `match --json` document, byte for byte what
`trialmatch match CASE --json` prints), `DIR/<case id>.md` and `DIR/<case id>.html`; for the
batch `DIR/summary.csv` and `DIR/index.html`.

Which files are cases (`discover_cases`):
  * every `.yaml`, `.yml` and `.json` file under CASE_DIR, recursively;
  * every `.txt` file that no YAML/JSON case under CASE_DIR names in its `notes: - path:`
    (a note that belongs to a case is read with that case, not matched on its own);
  * never anything under a folder named `gold` (answer keys), nor hidden files or folders,
    nor anything inside the output folder.
Cases run, and are listed in summary.csv and index.html, in the sorted order of their paths
relative to CASE_DIR, whatever the number of jobs.

Planning (which cases, which to skip on --resume) is apart from execution (`run_batch`), and
matching itself is a callable built once per worker by a picklable factory, so the
orchestration is tested with a fake matcher and the real one is `store_matcher`.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from trialmatch.errors import InputError, TrialmatchError
from trialmatch.regex_cache import re_compile

CASE_SUFFIXES = (".yaml", ".yml", ".json")
NOTE_SUFFIX = ".txt"
SKIPPED_FOLDERS = frozenset({"gold"})
OUTPUT_SUFFIXES = (".json", ".md", ".html")
SUMMARY_FIELDS = (
    "case_id", "cancer_type", "stage", "top_trials", "missed_trials", "protocols",
    "testing_gaps", "error", "case_file", "cancer_type_name", "top_trial_details",
    "missed_protocols", "testing_gaps_named", "trialmatch_version", "generated_at",
    "data_timestamp", "data_timestamp_source",
)
PROVENANCE_FIELDS = ("trialmatch_version", "generated_at", "data_timestamp",
                     "data_timestamp_source", "store_fingerprint")
TOP_TRIALS_IN_SUMMARY = 5
TOP_TRIALS_KEPT = 5  # per case, for index.html

# A case id becomes a file name: keep it to a portable, traversal-free alphabet.
_SAFE_CASE_ID = re_compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Names the batch itself writes; a case may not take them (index.html, summary.csv).
_RESERVED_CASE_IDS = frozenset({"index", "summary"})
_TEMP_PREFIX = ".trialmatch-"
_TEMP_SUFFIX = ".part"

CaseStatus = Literal["matched", "skipped", "failed"]


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class CaseFile:
    """One case file found under CASE_DIR, with the note files it names (for --resume)."""

    path: Path  # as found under CASE_DIR as given, so messages name it the way the user did
    relpath: str  # relative to CASE_DIR, POSIX separators: the stable sort key
    notes: tuple[Path, ...] = ()  # note files it names, absolute
    declared_id: str | None = None  # the `id` it declares, where the file is readable

    @property
    def inputs(self) -> tuple[Path, ...]:
        """Every file whose change makes this case's outputs stale."""
        return (self.path, *self.notes)


def _read_declared(path: Path) -> tuple[str | None, tuple[Path, ...]]:
    """The id and note paths a YAML/JSON case declares; nothing when it cannot be read.

    This is a light look, used to tell notes from cases and for --resume; `load_case` does the
    real validation and reports the errors.
    """
    from trialmatch.inputs import load_json, load_yaml, read_limited
    from trialmatch.match.case import MAX_CASE_BYTES

    # Bounded and safe like `load_case`: a .yaml symlink to /dev/zero, a FIFO or an alias
    # bomb in the folder must not stop discovery; `load_case` then reports the case failed.
    try:
        raw = read_limited(path, MAX_CASE_BYTES, str(path))
        text = raw.decode("utf-8-sig")
        data = (load_json(text, str(path)) if path.suffix.lower() == ".json"
                else load_yaml(text, str(path), as_text=frozenset({"id"})))
    except (InputError, UnicodeDecodeError):
        return None, ()
    if not isinstance(data, dict):
        return None, ()
    raw_id = data.get("id")
    case_id = str(raw_id).strip() if isinstance(raw_id, str | int) else None
    notes = []
    raw_notes = data.get("notes")
    for note in raw_notes if isinstance(raw_notes, list) else ():
        if isinstance(note, str):  # the loader's shorthand: a bare string is a path
            note = {"path": note}
        if isinstance(note, dict) and isinstance(note.get("path"), str):
            with contextlib.suppress(OSError, RuntimeError, ValueError):  # loops, NULs
                notes.append((path.parent / note["path"]).resolve())
    return case_id or None, tuple(notes)


def _walk(case_dir: Path, exclude: Path | None) -> Iterator[Path]:
    for root, folders, files in os.walk(case_dir):
        root_path = Path(root)
        # Pruning in place stops os.walk descending; sorting is done once at the end.
        folders[:] = [
            name for name in folders
            if not name.startswith(".") and name not in SKIPPED_FOLDERS
            and (exclude is None or (root_path / name).resolve() != exclude)
        ]
        for name in files:
            if not name.startswith("."):
                yield root_path / name


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: a case of its own, which then fails
        return path


def discover_cases(case_dir: Path, *, exclude: Path | None = None) -> list[CaseFile]:
    """The case files under `case_dir`, in stable sorted order (see the module docstring)."""
    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        raise InputError(f"{case_dir} is not a folder", hint="give the folder holding the cases")
    exclude = exclude.resolve() if exclude is not None else None
    structured: list[CaseFile] = []
    notes: list[Path] = []
    for path in _walk(case_dir, exclude):
        suffix = path.suffix.lower()
        if suffix in CASE_SUFFIXES:
            declared_id, named_notes = _read_declared(path)
            structured.append(CaseFile(path, path.relative_to(case_dir).as_posix(),
                                       named_notes, declared_id))
        elif suffix == NOTE_SUFFIX:
            notes.append(path)
    referenced = {note for case in structured for note in case.notes}
    standalone = [
        CaseFile(path, path.relative_to(case_dir).as_posix(), declared_id=path.stem)
        for path in notes if _resolved(path) not in referenced
    ]
    return sorted(structured + standalone, key=lambda case: case.relpath)


# --------------------------------------------------------------------------- outcomes


@dataclass
class CaseReport:
    """What matching one case produces, ready to write: the three per-case documents."""

    document: dict[str, Any]  # the `match --json` document
    markdown: str
    html: str


MatchOne = Callable[[Any], CaseReport]
# Called once in each worker (so it must be picklable: a module-level function or a
# functools.partial of one); builds the matcher that worker uses for all its cases.
MatcherFactory = Callable[[], MatchOne]


def key_findings(document: dict[str, Any]) -> dict[str, Any]:
    """The part of a `match --json` document that summary.csv and index.html show.

    A batch keeps only this per case: whole documents (every excluded trial with its
    criteria) run to megabytes each, and 500 of them held at once exhausted memory.
    Same field names as the document, plus `trial_count` and `missed_trials`.
    """
    profile = document.get("profile") or {}
    cancer = profile.get("cancer_type") or None
    trials = document.get("trials") or []

    def pick(item: Any, *names: str) -> dict[str, Any]:
        return {name: item.get(name) for name in names} if isinstance(item, dict) else {}

    place = profile.get("place") if isinstance(profile.get("place"), dict) else {}
    unit = place.get("unit")
    return {
        "case_id": document.get("case_id"),
        **{name: document.get(name) for name in PROVENANCE_FIELDS},
        "profile": {"cancer_type": pick(cancer, "code", "name") if cancer else None,
                    "stage": profile.get("stage")},
        "trials": [{**pick(t, "nct_id", "title", "verdict", "score", "missed", "nearest_site"),
                    "distance_unit": unit}
                   for t in trials[:TOP_TRIALS_KEPT]],
        "trial_count": len(trials),
        "missed_trials": sum(1 for t in trials if isinstance(t, dict) and t.get("missed")),
        "protocols": [pick(p, "biomarker", "therapy", "missed")
                      for p in document.get("protocols") or []],
        "testing_gaps": [pick(g, "marker", "reason") for g in document.get("testing_gaps") or []],
        "discrepancies": [pick(d, "field", "first_opinion", "found")
                          for d in document.get("discrepancies") or []],
    }


@dataclass
class CaseOutcome:
    """One case's fate in a batch, with the key findings the summary and index.html show."""

    index: int  # position in input order
    case_file: str  # relative to CASE_DIR
    case_id: str | None
    status: CaseStatus
    error: str | None = None
    findings: dict[str, Any] | None = None  # `key_findings` of the match document
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    @property
    def trial_count(self) -> int:
        return (self.findings or {}).get("trial_count") or 0

    @property
    def missed_trials(self) -> int:
        return (self.findings or {}).get("missed_trials") or 0

    @property
    def protocols(self) -> int:
        return len((self.findings or {}).get("protocols") or [])

    @property
    def testing_gaps(self) -> int:
        return len((self.findings or {}).get("testing_gaps") or [])

    def summary_row(self) -> dict[str, str | int]:
        """This case's row in summary.csv (counts blank when the case failed)."""
        findings = self.findings or {}
        profile = findings.get("profile") or {}
        cancer = profile.get("cancer_type") or {}
        trials = findings.get("trials") or []
        known = self.findings is not None
        return {
            "case_id": self.case_id if self.case_id and not _case_id_problem(self.case_id)
            else "",
            "cancer_type": cancer.get("code") or "",
            "stage": format_stage(profile.get("stage")),
            "top_trials": ";".join(t.get("nct_id") or "" for t in trials[:TOP_TRIALS_IN_SUMMARY]),
            "missed_trials": self.missed_trials if known else "",
            "protocols": self.protocols if known else "",
            "testing_gaps": self.testing_gaps if known else "",
            "error": self.error or "",
            "case_file": self.case_file,
            "cancer_type_name": cancer.get("name") or "",
            # "NCT..: title (verdict; nearest site city, 12 mi)" per top trial, " | " apart.
            "top_trial_details": " | ".join(_trial_detail(t)
                                            for t in trials[:TOP_TRIALS_IN_SUMMARY]),
            "missed_protocols": "; ".join(
                f"{p.get('biomarker')}: {p.get('therapy')}"
                for p in findings.get("protocols") or [] if p.get("missed")),
            "testing_gaps_named": "; ".join(str(g.get("marker"))
                                            for g in findings.get("testing_gaps") or []),
            **{name: findings.get(name) or "" for name in PROVENANCE_FIELDS[:4]},
        }


def _trial_detail(trial: dict[str, Any]) -> str:
    verdict = str(trial.get("verdict") or "").replace("_", " ")
    site = trial.get("nearest_site")
    where = ""
    if site:
        unit = trial.get("distance_unit") or "km"
        value = site.get("distance_mi") if unit == "mi" else site.get("distance_km")
        where = f"; nearest site {site.get('city') or '?'}, {value:,.0f} {unit}"
    return f"{trial.get('nct_id')}: {trial.get('title')} ({verdict}{where})"


def format_stage(stage: dict[str, Any] | None) -> str:
    """A stage for a table cell: the group where known, else the TNM parts written."""
    if not stage:
        return ""
    if stage.get("group"):
        return f"{stage['group']}"
    parts = [stage.get(part) for part in ("t", "n", "m") if stage.get(part)]
    if not parts:
        return f"FIGO {stage['figo']}" if stage.get("figo") else ""
    return (stage.get("prefix") or "") + " ".join(parts)


@dataclass
class BatchResult:
    """Every case's outcome in input order, and what the final table counts."""

    out_dir: Path
    outcomes: list[CaseOutcome]
    seconds: float = 0.0
    worker_peak_rss_kb: dict[int, int] = field(default_factory=dict)  # pid -> peak RSS
    worker_cpu_seconds: dict[int, float] = field(default_factory=dict)  # pid -> user+system
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM before every case ran

    @property
    def failed(self) -> list[CaseOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    def counts(self) -> dict[str, int]:
        """The final table: cases processed, failed, skipped, and with each finding."""
        ok = [outcome for outcome in self.outcomes if outcome.ok]
        return {
            "processed": len(self.outcomes),
            "matched": sum(1 for o in self.outcomes if o.status == "matched"),
            "skipped (up to date)": sum(1 for o in self.outcomes if o.status == "skipped"),
            "failed": len(self.failed),
            "with missed trials": sum(1 for o in ok if o.missed_trials),
            "with protocols": sum(1 for o in ok if o.protocols),
            "with testing gaps": sum(1 for o in ok if o.testing_gaps),
        }


# --------------------------------------------------------------------------- atomic files


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename.

    A reader (or an interrupted run) sees the old file or the new one, never half of one.
    Mode 0600 unless `mode` widens it: reports hold patient findings.
    """
    try:
        fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX,
                                         dir=path.parent)
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)  # mkstemp makes 0600; a wider mode is the user's choice
        os.replace(temp_name, path)
    except BaseException as error:
        # Ctrl-C (KeyboardInterrupt) lands here too: never leave the partial file behind.
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(error, OSError):  # a full disk: one clear line, the old file stays
            raise InputError(f"cannot write {path}: {error.strerror}",
                             hint="free some space and run the batch again") from None
        raise


def sweep_temporary_files(out_dir: Path) -> int:
    """Remove temporary files a killed run (SIGKILL, power loss) left; returns how many."""
    removed = 0
    for path in out_dir.glob(f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


def output_paths(out_dir: Path, case_id: str) -> dict[str, Path]:
    """The per-case files: {".json": ..., ".md": ..., ".html": ...}."""
    return {suffix: out_dir / f"{case_id}{suffix}" for suffix in OUTPUT_SUFFIXES}


def match_json(document: dict[str, Any]) -> str:
    """The document as `trialmatch match --json` prints it (same serialisation, one line)."""
    return json.dumps(document, ensure_ascii=False, default=str) + "\n"


# A spreadsheet reads a cell that starts with one of these as a formula (`=HYPERLINK(...)`,
# `@SUM(...)`, `+cmd|...`); OWASP's advice for CSV injection is a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str | int) -> str | int:
    """A summary.csv cell that a spreadsheet shows as text, never runs as a formula; a CR or
    line feed in it (a file name may hold one) becomes a space, so a row stays one line."""
    if not isinstance(value, str):
        return value
    if value.startswith(_FORMULA_STARTS):
        value = "'" + value
    return value.replace("\r", " ").replace("\n", " ")


def summary_csv(outcomes: Sequence[CaseOutcome]) -> str:
    """summary.csv: one row per case, in input order; no cell can start a formula."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
    writer.writeheader()
    for outcome in outcomes:
        writer.writerow({name: csv_cell(value)
                         for name, value in outcome.summary_row().items()})
    return buffer.getvalue()


# --------------------------------------------------------------------------- planning


def _case_id_problem(case_id: Any) -> str | None:
    if not isinstance(case_id, str) or not _SAFE_CASE_ID.fullmatch(case_id):
        return ("case id must be 1-128 letters, digits, '.', '_' or '-', starting with a letter "
                "or digit (it names the output files)")
    if case_id.lower() in _RESERVED_CASE_IDS:
        return f"the case id is reserved for the batch's own {case_id.lower()} file"
    return None


def _safe_error(error: BaseException) -> str:
    """One line for summary.csv and stderr. Our errors never hold note text (errors.py);
    anything else might, so only its type is shown."""
    if isinstance(error, TrialmatchError):
        return " ".join(str(error).split())
    return (f"internal error ({type(error).__name__}); run `trialmatch match` on this case "
            "for the details")


def _is_up_to_date(case: CaseFile, outputs: dict[str, Path], changed_at: float | None) -> bool:
    try:
        oldest_output = min(path.stat().st_mtime for path in outputs.values())
        newest_input = max(path.stat().st_mtime for path in case.inputs)
    except (OSError, ValueError):  # an output (or a note) is missing: run it
        return False
    if changed_at is not None and oldest_output <= changed_at:
        return False
    return oldest_output > newest_input


def _load_document(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _remove_stale_outputs(out_dir: Path, case_id: str) -> None:
    # A case that fails now must not leave last run's report looking current.
    for path in output_paths(out_dir, case_id).values():
        with contextlib.suppress(OSError):
            path.unlink()


# --------------------------------------------------------------------------- execution


@dataclass
class _Rendered:
    """A case's outputs as text, and its key findings: what a worker sends back."""

    json_text: str
    markdown: str
    html: str
    findings: dict[str, Any]


class _CaseTimedOut(BaseException):
    """Raised in a case by its SIGALRM timer; a BaseException so that no `except Exception`
    inside matching can swallow it."""


def _on_case_alarm(signum, frame) -> None:
    raise _CaseTimedOut()


def _timeout_message(case_timeout: float) -> str:
    return (f"took longer than the per-case time limit of {case_timeout:g} s; the batch went "
            "on (raise it with --case-timeout)")


@contextlib.contextmanager
def _case_alarm(case_timeout: float | None) -> Iterator[None]:
    """Raise _CaseTimedOut in this (main) thread once `case_timeout` seconds have passed. The
    check runs between Python steps; the worker pool adds a hard limit (`_WorkerPool`)."""
    if case_timeout is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _on_case_alarm)
    signal.setitimer(signal.ITIMER_REAL, case_timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _match_safely(match_one: MatchOne, case: Any, case_timeout: float | None = None,
                  ) -> tuple[_Rendered | None, str | None, float]:
    started = time.perf_counter()
    try:
        with _case_alarm(case_timeout):
            report = match_one(case)
            # Serialised here, in the worker: text crosses the process boundary far faster
            # than a nested document, and the parent then only writes it.
            rendered = _Rendered(match_json(report.document), report.markdown, report.html,
                                 key_findings(report.document))
    except _CaseTimedOut:
        return None, _timeout_message(case_timeout or 0), time.perf_counter() - started
    except Exception as error:  # one bad case never stops the batch
        return None, _safe_error(error), time.perf_counter() - started
    return rendered, None, time.perf_counter() - started


def _die_with_parent(parent_pid: int) -> None:
    """End this worker when the batch's process dies (SIGKILL, OOM killer): Linux delivers
    SIGKILL through PR_SET_PDEATHSIG; elsewhere a thread watches the parent's pid."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent_pid:  # it died before the call
                os._exit(1)
            return
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="trialmatch-parent-watch").start()


def _worker_main(connection: Any, factory: MatcherFactory, case_timeout: float | None,
                 parent_pid: int) -> None:
    """A batch worker: build the matcher once, then match one case at a time on request."""
    _die_with_parent(parent_pid)
    from trialmatch.inputs import disable_core_dumps

    disable_core_dumps()  # it reads notes; the parent's limit is inherited, this is the rest
    # Ctrl-C reaches the whole process group; only the parent decides what to do about it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        match_one = factory()
    except BaseException as error:  # noqa: BLE001 - reported to the parent, by type only
        connection.send(("setup-failed", _safe_error(error)))
        return
    connection.send(("ready",))
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message is None:
            return
        index, case = message
        report, error, seconds = _match_safely(match_one, case, case_timeout)
        try:
            connection.send(("done", index, report, error, seconds, os.getpid(),
                             *_own_usage()))
        except (BrokenPipeError, OSError):
            return


def _own_usage() -> tuple[int, float]:
    """This process's peak RSS (KiB on Linux) and CPU seconds so far, for the bench."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_maxrss, usage.ru_utime + usage.ru_stime


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a batch; `result` holds the cases finished before it (their
    files, summary.csv and index.html are written)."""

    def __init__(self, result: BatchResult):
        super().__init__()
        self.result = result


class _TerminateRequested(BaseException):
    """SIGTERM, turned into an exception so the batch unwinds like it does on Ctrl-C."""


def _raise_on_sigterm(signum, frame) -> None:
    raise _TerminateRequested()


@dataclass
class BatchPlan:
    """What a batch will do, decided before any matching: which cases fail at once (bad file,
    unusable or duplicate id), which are up to date (--resume), which are to be matched."""

    cases: list[CaseFile]
    decided: list[CaseOutcome]  # failed or skipped already, in input order
    pending: list[tuple[int, str, Any]]  # (index, case id, loaded case), in input order
    stale_ids: list[str]  # ids of failed cases whose outputs from an earlier run must go


def plan_batch(
    case_dir: Path,
    out_dir: Path,
    *,
    load_case: Callable[[Path], Any],
    resume: bool = False,
    store_changed_at: float | None = None,
    store_fingerprint: str | None = None,
) -> BatchPlan:
    """Discover and load the cases and decide each one's fate short of matching.

    Loading happens here, in input order, so duplicate ids are decided the same way whatever
    the number of jobs: the first case file to use an id keeps it. Writes nothing.
    """
    out_dir = Path(out_dir)
    if out_dir.resolve() == Path(case_dir).resolve():
        # The next run would read last run's .json reports as case files.
        raise InputError("--out must not be the case folder itself",
                         hint="use a separate folder, e.g. CASE_DIR/out or a sibling")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} is a file, not a folder")
    cases = discover_cases(Path(case_dir), exclude=out_dir)
    if not cases:
        raise InputError(f"no case files under {case_dir}",
                         hint="cases are .yaml, .yml, .json, or .txt notes")
    plan = BatchPlan(cases, [], [], [])
    claimed: dict[str, str] = {}  # case id -> the case file that claimed it first
    for index, case_file in enumerate(cases):
        started = time.perf_counter()
        try:
            case = load_case(case_file.path)
        except Exception as error:
            case_id = case_file.declared_id
            if case_id and not _case_id_problem(case_id) and case_id not in claimed:
                plan.stale_ids.append(case_id)
            plan.decided.append(CaseOutcome(index, case_file.relpath, case_id, "failed",
                                            _safe_error(error),
                                            seconds=time.perf_counter() - started))
            continue
        case_id = getattr(case, "id", None)
        problem = _case_id_problem(case_id)
        if problem is None and case_id in claimed:
            problem = f"duplicate case id, already used by {claimed[case_id]}"
        if problem is not None:
            plan.decided.append(CaseOutcome(index, case_file.relpath, case_id
                                            if not _case_id_problem(case_id) else None,
                                            "failed", problem))
            continue
        claimed[case_id] = case_file.relpath
        outputs = output_paths(out_dir, case_id)
        # With the store's content fingerprint, a refresh that changed nothing (or any write
        # that left the trials as they were) does not make a case stale; its time does not.
        # Outputs without a fingerprint (an older trialmatch) are judged by time.
        document = _load_document(outputs[".json"]) if resume else None
        stored = document.get("store_fingerprint") if document is not None else None
        by_content = store_fingerprint is not None and stored is not None
        changed_at = None if by_content else store_changed_at
        if document is not None and _is_up_to_date(case_file, outputs, changed_at):
            if not by_content or stored == store_fingerprint:
                plan.decided.append(CaseOutcome(index, case_file.relpath, case_id, "skipped",
                                                findings=key_findings(document)))
                continue
        plan.pending.append((index, case_id, case))
    return plan


def run_batch(
    case_dir: Path,
    out_dir: Path,
    *,
    matcher_factory: MatcherFactory,
    load_case: Callable[[Path], Any] | None = None,
    jobs: int | None = None,
    resume: bool = False,
    store_changed_at: float | None = None,
    store_fingerprint: str | None = None,
    about: dict[str, Any] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_case: Callable[[CaseOutcome], None] | None = None,
    mp_start_method: str = "spawn",
    report_mode: int = 0o600,
    case_timeout: float | None = None,
    notes_root: Path | None = None,
) -> BatchResult:
    """Match every case under `case_dir` and write the per-case files, summary.csv, index.html.

    `matcher_factory` is called once per worker (once in this process when one job suffices)
    and returns the callable that turns a loaded case into a `CaseReport`. `load_case` reads a
    case file (default: `trialmatch.match.case.load_case`). With `resume`, a case is skipped
    when all its outputs are newer than its inputs and than `store_changed_at` (a POSIX time:
    when the trial store last changed). `on_start(total)` and `on_case(outcome)` report
    progress; `on_case` sees cases as they finish, the result lists them in input order.
    Every file is written with `report_mode` (0600 by default: they hold patient findings).
    With `case_timeout` (seconds), a case that runs longer is a failed case and the batch goes
    on: the cases run in worker processes (even for one job), each case's timer ends it
    between Python steps, and a worker stuck past the limit plus a grace is killed and
    replaced. `notes_root` lets cases read notes under that folder (default: beside each
    case file).

    Raises InputError when `case_dir` holds no case or `out_dir` is unusable; a bad case is
    an outcome, not an error.
    """
    started = time.perf_counter()
    if load_case is None:
        from trialmatch.match.case import load_case as load_one

        load_case = functools.partial(load_one, notes_root=notes_root)
    out_dir = Path(out_dir)
    plan = plan_batch(case_dir, out_dir, load_case=load_case, resume=resume,
                      store_changed_at=store_changed_at, store_fingerprint=store_fingerprint)
    try:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise InputError(f"cannot create --out {out_dir}: {error.strerror}") from None
    sweep_temporary_files(out_dir)
    outcomes: list[CaseOutcome | None] = [None] * len(plan.cases)

    def finish(outcome: CaseOutcome) -> None:
        outcomes[outcome.index] = outcome
        if on_case is not None:
            on_case(outcome)

    if on_start is not None:
        on_start(len(plan.cases))
    for case_id in plan.stale_ids:
        _remove_stale_outputs(out_dir, case_id)
    for outcome in plan.decided:
        finish(outcome)
    case_ids = {index: case_id for index, case_id, _ in plan.pending}

    def record(index: int, report: _Rendered | None, error: str | None,
               seconds: float) -> None:
        relpath, case_id = plan.cases[index].relpath, case_ids[index]
        if report is None:
            _remove_stale_outputs(out_dir, case_id)
            finish(CaseOutcome(index, relpath, case_id, "failed", error, seconds=seconds))
            return
        paths = output_paths(out_dir, case_id)
        write_atomic(paths[".json"], report.json_text, report_mode)
        write_atomic(paths[".md"], report.markdown, report_mode)
        write_atomic(paths[".html"], report.html, report_mode)
        finish(CaseOutcome(index, relpath, case_id, "matched", findings=report.findings,
                           seconds=seconds))

    pending = [(index, case) for index, _, case in plan.pending]
    result = BatchResult(out_dir=out_dir, outcomes=[])
    previous_sigterm = _install_sigterm_handler()
    interrupted = False
    try:
        workers = min(jobs or os.cpu_count() or 1, len(pending))
        if workers <= 1 and (case_timeout is None or not pending):
            _run_here(pending, matcher_factory, record, result)
        else:
            _run_in_pool(pending, matcher_factory, max(workers, 1), mp_start_method, record,
                         result, case_timeout)
    except (KeyboardInterrupt, _TerminateRequested):
        # The finished cases are still listed: summary.csv and index.html are written for
        # them, and the caller says to rerun with --resume for the rest.
        interrupted = True
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
    result.outcomes = [outcome for outcome in outcomes if outcome is not None]
    result.interrupted = interrupted
    from trialmatch.match.board import render_index
    from trialmatch.provenance import provenance

    about = about or provenance()  # without a store: the version and the time, data unknown
    write_atomic(out_dir / "summary.csv", summary_csv(result.outcomes), report_mode)
    write_atomic(out_dir / "index.html", render_index(result.outcomes, about=about,
                                                      unfinished=len(plan.cases) - len(
                                                          result.outcomes)), report_mode)
    if interrupted:
        raise BatchInterrupted(result)
    result.seconds = time.perf_counter() - started
    return result


def _install_sigterm_handler():
    # Only the main thread may set handlers; elsewhere (a test runner thread) keep the default.
    try:
        return signal.signal(signal.SIGTERM, _raise_on_sigterm)
    except ValueError:
        return None


def _run_here(pending, matcher_factory, record, result: BatchResult,
              case_timeout: float | None = None) -> None:
    if not pending:
        return

    match_one = matcher_factory()
    for index, case in pending:
        report, error, seconds = _match_safely(match_one, case, case_timeout)
        record(index, report, error, seconds)
    result.worker_peak_rss_kb[os.getpid()], result.worker_cpu_seconds[os.getpid()] = _own_usage()


# How long past its time limit a case may run before its worker is killed: the worker's own
# timer ends a case between Python steps; this ends one stuck in native code.
def _grace(case_timeout: float) -> float:
    return 2.0 + case_timeout / 10


@dataclass
class _Worker:
    process: Any
    connection: Any
    ready: bool = False
    case: int | None = None  # index of the case it matches
    since: float = 0.0  # when it was sent that case (time.monotonic)


class _WorkerPool:
    """Worker processes matching one case at a time each, so the parent knows which case each
    one runs and since when: a case over its hard limit, or whose worker died (out of memory),
    is one failed case; the worker is replaced and the batch goes on. A worker ends when the
    parent dies (`_die_with_parent`) or closes its pipe."""

    def __init__(self, factory: MatcherFactory, size: int, start_method: str,
                 case_timeout: float | None):
        import multiprocessing

        self.context = multiprocessing.get_context(start_method)
        self.factory = factory
        self.case_timeout = case_timeout
        self.workers: list[_Worker] = []
        for _ in range(size):
            self.workers.append(self._start())

    def _start(self) -> _Worker:
        parent_end, child_end = self.context.Pipe(duplex=True)
        process = self.context.Process(
            target=_worker_main, name="trialmatch-batch-worker", daemon=True,
            args=(child_end, self.factory, self.case_timeout, os.getpid()))
        process.start()
        child_end.close()
        return _Worker(process, parent_end)

    def _stop(self, worker: _Worker) -> None:
        with contextlib.suppress(OSError, ValueError):
            worker.process.kill()
        worker.process.join(5)
        with contextlib.suppress(OSError):
            worker.connection.close()

    def _replace(self, worker: _Worker) -> None:
        self._stop(worker)
        self.workers[self.workers.index(worker)] = self._start()

    def run(self, pending: list[tuple[int, Any]], record, result: BatchResult) -> None:
        """Match every (index, case) of `pending`, calling `record` as each one ends."""
        from multiprocessing.connection import wait as wait_for

        queue = list(reversed(pending))
        while queue or any(worker.case is not None for worker in self.workers):
            for worker in self.workers:
                if worker.ready and worker.case is None and queue:
                    index, case = queue.pop()
                    worker.connection.send((index, case))
                    worker.case, worker.since = index, time.monotonic()
            waits = [self._deadline(worker) - time.monotonic() for worker in self.workers
                     if worker.case is not None and self.case_timeout is not None]
            timeout = max(0.0, min(waits)) if waits else None
            handles = {}
            for worker in self.workers:
                handles[worker.connection] = worker
                handles[worker.process.sentinel] = worker
            for handle in wait_for(list(handles), timeout):
                worker = handles[handle]
                if worker not in self.workers:
                    continue  # replaced already in this round
                if handle is worker.connection:
                    self._receive(worker, record, result)
                elif not worker.connection.poll():
                    self._died(worker, record)
            now = time.monotonic()
            for worker in list(self.workers):
                if worker.case is not None and self.case_timeout is not None \
                        and now >= self._deadline(worker):
                    index, seconds = worker.case, now - worker.since
                    self._replace(worker)
                    record(index, None, _timeout_message(self.case_timeout), seconds)

    def _deadline(self, worker: _Worker) -> float:
        assert self.case_timeout is not None
        return worker.since + self.case_timeout + _grace(self.case_timeout)

    def _receive(self, worker: _Worker, record, result: BatchResult) -> None:
        try:
            message = worker.connection.recv()
        except (EOFError, OSError):
            self._died(worker, record)
            return
        if message[0] == "ready":
            worker.ready = True
        elif message[0] == "setup-failed":
            raise TrialmatchError(f"a batch worker could not start: {message[1]}",
                                  hint="run with --jobs 1 to see the error")
        else:
            _, index, report, error, seconds, pid, peak, cpu = message
            worker.case = None
            result.worker_peak_rss_kb[pid] = max(peak, result.worker_peak_rss_kb.get(pid, 0))
            result.worker_cpu_seconds[pid] = max(cpu, result.worker_cpu_seconds.get(pid, 0.0))
            record(index, report, error, seconds)

    def _died(self, worker: _Worker, record) -> None:
        if not worker.ready:
            raise TrialmatchError("a batch worker died while starting (out of memory?)",
                                  hint="run with --jobs 1 to see the error")
        index = worker.case
        seconds = time.monotonic() - worker.since
        self._replace(worker)
        if index is not None:
            record(index, None, "its worker process died (out of memory, or killed); the "
                   "batch went on", seconds)

    def close(self) -> None:
        """Stop every worker: idle ones are asked to end, busy ones are killed (a case
        running when the batch is interrupted writes nothing: only the parent writes)."""
        for worker in self.workers:
            if worker.case is None:
                with contextlib.suppress(OSError, ValueError):
                    worker.connection.send(None)
        for worker in self.workers:
            if worker.case is None:
                worker.process.join(5)
            self._stop(worker)


def _run_in_pool(pending, matcher_factory, workers, start_method, record,
                 result: BatchResult, case_timeout: float | None = None) -> None:
    pool = _WorkerPool(matcher_factory, workers, start_method, case_timeout)
    try:
        pool.run(pending, record, result)
    finally:
        pool.close()


# --------------------------------------------------------------------------- the real matcher


def store_matcher(db_path: Path, any_status: bool = False, top: int | None = None,
                  filters: Any = None) -> MatchOne:
    """Build the real matcher in this process: the store opened read-only, the pipeline loaded.

    Pass `functools.partial(store_matcher, db_path, any_status, top)` to `run_batch`. The
    store keeps parsed trials between cases (its own bounded caches), so each worker reads a
    trial from disk about once per batch.
    """
    from trialmatch.ingest.store import TrialStore
    from trialmatch.match.engine import match_case
    from trialmatch.match.report import render_html, render_markdown

    store = TrialStore.open(db_path, readonly=True)
    _warm_pipeline()

    def match_one(case: Any) -> CaseReport:
        result = match_case(case, store, any_status=any_status, top=top, filters=filters)
        # The renderers take the document too; building it once saves two of three
        # `to_dict()` walks over every excluded trial's criteria (~0.07 s a case).
        document = result.to_dict()
        return CaseReport(document, render_markdown(document), render_html(document))

    return match_one


def _warm_pipeline() -> None:
    # The extractor caches its spaCy pipeline per process, and the vocabulary is cached too:
    # load both now, in the worker's initializer, so that no case pays for them and a broken
    # pipeline fails before any case is matched. The note read here is a fixed sentence.
    from trialmatch.match.engine import default_extractor
    from trialmatch.nlp.vocab import get_vocabulary

    get_vocabulary()
    default_extractor()(["Warm-up: no specimen received."])


def store_changed_at(store: Any, db_path: Path) -> float | None:
    """When the trial store last changed, as a POSIX time, for --resume.

    The later of the last refresh's `finished` time and the database file's modification
    time: an `ingest` changes the trials without a refresh, and a read-only open never touches
    the file, so the file's time is a safe upper bound.
    """
    times: list[float] = []
    refresh = store.last_refresh() if hasattr(store, "last_refresh") else None
    finished = (refresh.get("finished") if isinstance(refresh, dict)
                else getattr(refresh, "finished", None))
    if isinstance(finished, str):
        try:
            moment = datetime.fromisoformat(finished)
        except ValueError:
            moment = None
        if moment is not None:
            if moment.tzinfo is None:  # stored as UTC without an offset
                moment = moment.replace(tzinfo=UTC)
            times.append(moment.timestamp())
    elif isinstance(finished, datetime):
        times.append(finished.timestamp())
    for suffix in ("", "-wal"):
        path = Path(f"{db_path}{suffix}")
        if path.exists():
            times.append(path.stat().st_mtime)
    return max(times) if times else None
