"""The watch list: re-match followed cases after a refresh and report only what changed.

    watched case (stored) -> re-read its file if it changed -> match -> state
        state vs the state of the last run -> changes -> digest (Markdown, HTML, JSON)

A state is what a run needs to remember of a match to tell the next run what is new: each
listed or excluded trial's verdict, every criterion's result, the record fields that decide
screening, the recruiting sites, and the protocols found. `case_state` builds it from a
`MatchResult`, `compare` is the pure diff of two states, `render_*` write the digest and
`run_watch` does the I/O. States are saved only after the digest is written, so a change is
reported at least once and a second run reports nothing new.

Patient data: states, digests and watched cases hold findings. Digest files are written
owner-only (0600) in a folder created 0700; the one-line summary holds counts only, because
cron mails it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trialmatch.config import OPEN_STATUSES
from trialmatch.errors import InputError, TrialmatchError, one_line
from trialmatch.ingest.store import TrialStore
from trialmatch.ingest.watchlist import WatchedCase, WatchList
from trialmatch.match.engine import DISCLAIMER, MatchResult

STATE_VERSION = 1
LISTED = ("eligible", "possibly_eligible")
VERDICT_WORDS = {"eligible": "eligible", "possibly_eligible": "possibly eligible",
                 "excluded": "excluded", "not_listed": "no longer a candidate"}
RESULT_WORDS = {"met": "met", "not_met": "not met", "unknown": "unknown"}
# Record fields that decide screening; a change in one is named as the cause of a verdict
# change (the parsed criteria are compared one by one).
RECORD_FIELDS = ("overall_status", "minimum_age", "maximum_age", "sex", "conditions")
CHANGE_KINDS = ("newly_listed", "closed", "verdict_changed", "new_sites", "new_protocols")
SECTION_TITLES = {
    "newly_listed": "Newly eligible or possibly eligible",
    "closed": "Closed or stopped recruiting",
    "verdict_changed": "Verdict changed",
    "new_sites": "New recruiting sites",
    "new_protocols": "Newly available protocols",
}

Matcher = Callable[[Any, TrialStore], MatchResult]


# --------------------------------------------------------------------------- states


def case_state(result: MatchResult) -> dict[str, Any]:
    """What the next run compares with: every listed and excluded trial of the match (its
    verdict, criterion results, deciding record fields and recruiting sites) and the
    protocols found."""
    trials: dict[str, Any] = {}
    for match in result.trials:
        trials[match.trial.nct_id] = {
            "title": match.trial.title,
            "verdict": match.verdict.verdict,
            "criteria": _criterion_results(match.verdict.criteria),
            # What keeps it possibly eligible (nothing when eligible).
            "deciding": sorted(_criterion_results(match.verdict.material_unknowns)),
            "record": record_fields(match.trial),
            "sites": sorted(_recruiting_sites(match.trial)),
        }
    for excluded in result.excluded:
        # Ruled out at screening: only the failing criteria were read.
        trials[excluded.trial.nct_id] = {
            "title": excluded.trial.title,
            "verdict": "excluded",
            "criteria": _criterion_results(excluded.verdict.failing),
            "deciding": sorted(_criterion_results(excluded.verdict.failing)),
            "record": record_fields(excluded.trial),
            "sites": [],
        }
    protocols = {}
    for protocol in result.protocols:
        item = protocol.to_dict() if hasattr(protocol, "to_dict") else dict(protocol)
        entry = {key: item.get(key) for key in ("biomarker", "therapy", "source")}
        protocols[_protocol_key(entry)] = entry
    return {"version": STATE_VERSION, "trials": trials,
            "protocols": [protocols[key] for key in sorted(protocols)]}


def record_fields(trial: Any) -> dict[str, Any]:
    """The record fields a verdict change is traced to."""
    return {"overall_status": trial.status, "minimum_age": trial.minimum_age,
            "maximum_age": trial.maximum_age, "sex": trial.sex,
            "conditions": list(trial.conditions)}


def _criterion_results(criteria: list[Any]) -> dict[str, str]:
    return {f"{c.kind}: {' '.join(c.text.split())}": c.result for c in criteria}


def _recruiting_sites(trial: Any) -> set[str]:
    return {site_label(loc) for loc in trial.locations
            if (loc.status or "").upper() == "RECRUITING"}


def site_label(location: Any) -> str:
    """A site as a reader names it: facility, city, state, country."""
    parts = [location.facility, location.city, location.state, location.country]
    return ", ".join(str(part) for part in parts if part)


def _protocol_key(entry: dict[str, Any]) -> str:
    return f"{entry.get('biomarker')} -> {entry.get('therapy')}"


# --------------------------------------------------------------------------- changes


@dataclass
class CaseChanges:
    """What changed for one watched case since its last run."""

    case_id: str
    first_run: bool = False
    case_reread: bool = False
    newly_listed: list[dict[str, Any]] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)
    verdict_changed: list[dict[str, Any]] = field(default_factory=list)
    new_sites: list[dict[str, Any]] = field(default_factory=list)
    new_protocols: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def count(self) -> int:
        """How many changes (a re-read case file counts as one)."""
        return sum(len(getattr(self, kind)) for kind in CHANGE_KINDS) + int(self.case_reread)

    def to_dict(self) -> dict[str, Any]:
        """The case's digest section; empty lists are left out."""
        document: dict[str, Any] = {"case_id": self.case_id}
        if self.first_run:
            document["first_run"] = True
        if self.case_reread:
            document["case_reread"] = True
        if self.error:
            document["error"] = self.error
        for kind in CHANGE_KINDS:
            if getattr(self, kind):
                document[kind] = getattr(self, kind)
        return document


TrialLookup = Callable[[list[str]], dict[str, dict[str, Any]]]


def compare(
    previous: dict[str, Any] | None,
    current: dict[str, Any],
    changes: CaseChanges,
    *,
    lookup: TrialLookup,
) -> CaseChanges:
    """Fill `changes` with what differs between the last run's state and this one.

    `lookup(nct_ids)` gives, for trials listed last time and absent now, their stored
    `status`, `removed` flag and `record` fields (an id it does not know has left the store).
    Without a previous state (the first run) every listed trial and protocol is new.
    """
    if previous is None or previous.get("version") != STATE_VERSION:
        previous = {"trials": {}, "protocols": []}
        changes.first_run = True
    before_trials: dict[str, Any] = previous["trials"]
    now_trials: dict[str, Any] = current["trials"]
    for nct_id, now in now_trials.items():
        before = before_trials.get(nct_id)
        if now["verdict"] in LISTED:
            if before is None:
                changes.newly_listed.append(_trial_entry(nct_id, now))
                continue
            if before["verdict"] != now["verdict"]:
                changes.verdict_changed.append(_verdict_change(nct_id, before, now, changes))
                continue
            sites = sorted(set(now["sites"]) - set(before["sites"]))
            if sites:
                changes.new_sites.append({**_trial_entry(nct_id, now), "sites": sites})
        elif before is not None and before["verdict"] in LISTED:
            changes.verdict_changed.append(_verdict_change(nct_id, before, now, changes))
    gone = sorted(nct_id for nct_id, before in before_trials.items()
                  if before["verdict"] in LISTED and nct_id not in now_trials)
    found = lookup(gone) if gone else {}
    for nct_id in gone:
        before = before_trials[nct_id]
        stored = found.get(nct_id)
        entry = {"nct_id": nct_id, "title": before["title"], "was": before["verdict"]}
        if stored is None or stored.get("removed"):
            changes.closed.append({**entry, "status": "removed from the registry"})
        elif (stored.get("status") or "").upper() not in OPEN_STATUSES:
            changes.closed.append({**entry, "status": stored.get("status") or "unknown"})
        else:
            now = {"title": before["title"], "verdict": "not_listed", "criteria": {},
                   "record": stored.get("record") or {}, "sites": []}
            changes.verdict_changed.append(_verdict_change(nct_id, before, now, changes))
    known = {_protocol_key(p) for p in previous.get("protocols", [])}
    changes.new_protocols = [p for p in current["protocols"] if _protocol_key(p) not in known]
    return changes


def _trial_entry(nct_id: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"nct_id": nct_id, "title": state["title"], "verdict": state["verdict"],
            "status": state["record"].get("overall_status")}


def _verdict_change(nct_id: str, before: dict[str, Any], now: dict[str, Any],
                    changes: CaseChanges) -> dict[str, Any]:
    """A verdict change with what changed it: the record fields and the criteria whose
    result (or text) differs."""
    because: list[str] = []
    for name in RECORD_FIELDS:
        if name not in now["record"]:
            continue
        old, new = before["record"].get(name), now["record"][name]
        if old != new:
            because.append(f"record field {name}: {_value(old)} -> {_value(new)}")
    # The criteria that decide a verdict: an excluded trial's failing ones, a possibly
    # eligible trial's material unknowns. One that decides either verdict and reads
    # differently now is what changed it (an excluded trial's reading holds only its failing
    # criteria, so the others are not compared).
    deciding = set(_deciding(before)) | set(_deciding(now))
    order = {key: index for index, key in enumerate([*now["criteria"], *before["criteria"]])}
    for key in sorted(deciding, key=lambda k: order.get(k, len(order))):
        old, result = before["criteria"].get(key), now["criteria"].get(key)
        if old == result:
            continue
        text = one_line(key, 220)
        if result is None:
            if now["verdict"] in LISTED:  # a full reading without it: it left the record
                because.append(f"criterion no longer in the record: {text}")
        elif old is None:
            because.append(f"criterion {text} ({RESULT_WORDS.get(result, result)}; not in the "
                           "last run's reading)")
        else:
            because.append(f"criterion {text}: {RESULT_WORDS.get(old, old)} -> "
                           f"{RESULT_WORDS.get(result, result)}")
    if not because:
        because.append("the case file changed" if changes.case_reread else
                       "the reading of the notes or criteria changed (a knowledge or parser "
                       "update)")
    return {"nct_id": nct_id, "title": now.get("title") or before["title"],
            "before": before["verdict"], "after": now["verdict"], "because": because}


def _deciding(state: dict[str, Any]) -> list[str]:
    """The criteria that decide a trial's verdict in a state (all of them where a state
    does not say)."""
    if "deciding" in state:
        return list(state["deciding"])
    return list(state["criteria"])


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return "; ".join(str(item) for item in value) or "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --------------------------------------------------------------------------- running


@dataclass
class WatchRun:
    """One `watch run`: the changes of every watched case and the digest files written."""

    generated: str
    data_timestamp: str | None
    cases: list[CaseChanges] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[CaseChanges]:
        return [case for case in self.cases if case.error]

    @property
    def changed(self) -> list[CaseChanges]:
        return [case for case in self.cases if case.count]

    def totals(self) -> dict[str, int]:
        """Changes of each kind over every case."""
        totals = {kind: sum(len(getattr(case, kind)) for case in self.cases)
                  for kind in CHANGE_KINDS}
        totals["cases_reread"] = sum(case.case_reread for case in self.cases)
        return totals

    def to_dict(self) -> dict[str, Any]:
        """The JSON digest: one section per case with changes or an error."""
        return {
            "generated": self.generated,
            "data_timestamp": self.data_timestamp,
            "watched_cases": len(self.cases),
            "totals": self.totals(),
            "cases": [case.to_dict() for case in self.cases if case.count or case.error],
            "disclaimer": DISCLAIMER,
        }

    def summary(self) -> str:
        """The one line for stdout and cron mail: counts only, never a case's content."""
        if not self.cases:
            return "watch: no cases watched (add one with `trialmatch watch add CASE`)"
        totals = self.totals()
        parts = [f"watch: {len(self.cases)} cases"]
        if self.changed:
            parts.append(
                f"{len(self.changed)} with changes: {totals['newly_listed']} newly eligible, "
                f"{totals['closed']} closed, {totals['verdict_changed']} verdicts changed, "
                f"{totals['new_sites']} with new sites, {totals['new_protocols']} new "
                f"protocols, {totals['cases_reread']} case files re-read")
        else:
            parts.append("no changes since the last run")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        line = ", ".join(parts)
        if self.files:
            line += f"; digest {self.files[0]} (also .html, .json)"
        return line


def fingerprint(document: dict[str, Any]) -> str:
    """A watched case's content hash (its fields and its notes' text)."""
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_watched(path: Path) -> tuple[str, dict[str, Any], str]:
    """Read a case for the watch list: (case id, self-contained document, fingerprint)."""
    from trialmatch.match.case import self_contained_document

    document = self_contained_document(path)
    return str(document["id"]).strip(), document, fingerprint(document)


def add_cases(store: TrialStore, paths: list[Path]) -> list[tuple[str, bool]]:
    """Watch each case (validated first, all before any is stored); (case id, new?) each."""
    read = [(path, *read_watched(path)) for path in paths]
    ids = [case_id for _, case_id, _, _ in read]
    for case_id in ids:
        if ids.count(case_id) > 1:
            raise _duplicate(case_id)
    watch_list = WatchList(store)
    return [(case_id, watch_list.add(case_id, path, case_fingerprint, document))
            for path, case_id, document, case_fingerprint in read]


def _duplicate(case_id: str) -> TrialmatchError:
    return InputError(f"two of the cases given have the id {case_id!r:.60}",
                      hint="each watched case needs its own id")


def _current_case(watched: WatchedCase, warnings: list[str]) -> tuple[WatchedCase, bool]:
    """The watched case as its file says now: re-read when the file changed (True), the
    stored copy when the file is gone (with a warning naming the path only)."""
    path = Path(watched.path)
    if not path.exists():
        warnings.append(f"case {watched.case_id}: its file {path} is gone; the copy read "
                        f"{watched.read_at} was used")
        return watched, False
    case_id, document, case_fingerprint = read_watched(path)
    if case_fingerprint == watched.fingerprint:
        return watched, False
    if case_id != watched.case_id:
        raise InputError(f"{path}: its id changed from {watched.case_id!r:.60}",
                         hint="remove the watched case and add the file again")
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    return dataclasses.replace(watched, document=document, fingerprint=case_fingerprint,
                               read_at=stamp), True


def store_lookup(store: TrialStore) -> TrialLookup:
    """`compare`'s lookup of trials no longer listed, from the store."""

    def lookup(nct_ids: list[str]) -> dict[str, dict[str, Any]]:
        found = {}
        for trial in store.get_trials(nct_ids):
            found[trial.nct_id] = {"status": trial.status,
                                   "removed": store.removal(trial.nct_id) is not None,
                                   "record": record_fields(trial)}
        return found

    return lookup


def default_matcher() -> Matcher:
    """`match_case` with the default extractor, as `trialmatch match` runs it."""
    from trialmatch.match.engine import match_case

    return lambda case, store: match_case(case, store)


def run_watch(store: TrialStore, out_dir: Path, *, matcher: Matcher | None = None,
              now: datetime | None = None) -> WatchRun:
    """Re-match every watched case, write the digest of what changed to `out_dir` (when
    anything did) and remember this run's states. One case that fails is reported in the
    digest and the others go on."""
    from trialmatch.match.case import case_from_dict

    matcher = matcher or default_matcher()
    moment = now or datetime.now(UTC)
    last = store.last_refresh()
    run = WatchRun(generated=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   data_timestamp=last["data_timestamp"] if last else None)
    watch_list = WatchList(store)
    lookup = store_lookup(store)
    outcomes: list[tuple[WatchedCase, dict[str, Any]]] = []
    for watched in watch_list.cases():
        changes = CaseChanges(watched.case_id)
        run.cases.append(changes)
        try:
            watched, changes.case_reread = _current_case(watched, run.warnings)
            case = case_from_dict(watched.document, Path(watched.path))
            state = case_state(matcher(case, store))
            compare(watched.last_state, state, changes, lookup=lookup)
        except TrialmatchError as error:
            changes.error = str(error)
            continue
        except Exception as error:  # noqa: BLE001 - its text may quote a note: type only
            changes.error = f"internal error ({type(error).__name__})"
            continue
        outcomes.append((watched, state))
    if run.changed or run.failed:
        run.files = write_digest(run, out_dir, moment)
    watch_list.save_run(outcomes)
    return run


# --------------------------------------------------------------------------- digest


def write_digest(run: WatchRun, out_dir: Path, moment: datetime) -> list[Path]:
    """`watch-<UTC time>.md`, `.html` and `.json` in `out_dir` (created 0700), each 0600 and
    written atomically. Returns the paths, Markdown first."""
    from trialmatch.match.batch import write_atomic

    try:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise InputError(f"cannot create the digest folder {out_dir}: {error.strerror}") \
            from None
    stem = f"watch-{moment.strftime('%Y%m%dT%H%M%SZ')}"
    number = 1
    while any((out_dir / f"{stem}{suffix}").exists() for suffix in (".md", ".html", ".json")):
        number += 1
        stem = f"watch-{moment.strftime('%Y%m%dT%H%M%SZ')}-{number}"
    document = run.to_dict()
    texts = {".md": render_markdown(document), ".html": render_html(document),
             ".json": json.dumps(document, ensure_ascii=False, indent=2) + "\n"}
    paths = []
    try:
        for suffix, text in texts.items():
            path = out_dir / f"{stem}{suffix}"
            write_atomic(path, text)
            paths.append(path)
    except OSError as error:
        raise InputError(f"cannot write the digest in {out_dir}: {error.strerror}") from None
    return paths


def _md(text: Any) -> str:
    value = " ".join(("" if text is None else str(text)).split())
    return value.replace("\\", "\\\\").replace("<", "&lt;").replace("*", "\\*") \
        .replace("_", "\\_")


def _verdict(value: str) -> str:
    return VERDICT_WORDS.get(value, value)


def _lines(kind: str, item: dict[str, Any]) -> tuple[str, list[str]]:
    """One change as a heading line and its detail lines (plain text, unescaped)."""
    trial = f"{item.get('nct_id')}: {item.get('title')}" if "nct_id" in item else ""
    if kind == "newly_listed":
        status = item.get("status") or "status unknown"
        return f"{trial} — {_verdict(item['verdict'])} ({status})", []
    if kind == "closed":
        return f"{trial} — now {item['status']} (was {_verdict(item['was'])})", []
    if kind == "verdict_changed":
        return (f"{trial} — {_verdict(item['before'])} -> {_verdict(item['after'])}",
                list(item["because"]))
    if kind == "new_sites":
        return trial, list(item["sites"])
    return (f"{item.get('biomarker')}: {item.get('therapy')}"
            + (f" ({item['source']})" if item.get("source") else ""), [])


def render_markdown(document: dict[str, Any]) -> str:
    """The digest as Markdown: a header, then one section per case with changes."""
    out = [f"# trialmatch watch digest, {document['generated']}", "",
           f"Registry data timestamp: {_md(document.get('data_timestamp') or 'unknown')}. "
           f"Watched cases: {document['watched_cases']}; with changes or errors: "
           f"{len(document['cases'])}.", "", f"> {_md(document['disclaimer'])}"]
    for case in document["cases"]:
        out += ["", f"## Case {_md(case['case_id'])}"]
        notes = []
        if case.get("first_run"):
            notes.append("First run for this case: everything listed is new to the watch.")
        if case.get("case_reread"):
            notes.append("The case file changed since the last run and was re-read.")
        if case.get("error"):
            notes.append(f"**Failed:** {_md(case['error'])}")
        if notes:
            out += [""] + notes
        for kind in CHANGE_KINDS:
            if not case.get(kind):
                continue
            out += ["", f"### {SECTION_TITLES[kind]}", ""]
            for item in case[kind]:
                head, details = _lines(kind, item)
                out.append(f"- {_md(head)}")
                out += [f"  - {_md(detail)}" for detail in details]
    return "\n".join(out) + "\n"


_CSS = ("body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:960px;"
        "padding:0 1rem;color:#1b1f24}h2{border-bottom:2px solid #d0d7de}"
        ".disclaimer{background:#fff8c5;border:1px solid #d4a72c;padding:.6rem}"
        ".error{color:#a40e26}")


def render_html(document: dict[str, Any]) -> str:
    """The digest as one self-contained HTML page (inline CSS, no scripts, no links out)."""
    h = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>trialmatch watch digest {h(document['generated'])}</title>",
             f"<style>{_CSS}</style></head><body>",
             f"<h1>trialmatch watch digest, {h(document['generated'])}</h1>",
             f"<p>Registry data timestamp: {h(str(document.get('data_timestamp') or 'unknown'))}"
             f". Watched cases: {document['watched_cases']}; with changes or errors: "
             f"{len(document['cases'])}.</p>",
             f'<p class="disclaimer">{h(document["disclaimer"])}</p>']
    for case in document["cases"]:
        parts.append(f"<section><h2>Case {h(case['case_id'])}</h2>")
        if case.get("first_run"):
            parts.append("<p>First run for this case: everything listed is new to the "
                         "watch.</p>")
        if case.get("case_reread"):
            parts.append("<p>The case file changed since the last run and was re-read.</p>")
        if case.get("error"):
            parts.append(f'<p class="error">Failed: {h(case["error"])}</p>')
        for kind in CHANGE_KINDS:
            if not case.get(kind):
                continue
            parts.append(f"<h3>{SECTION_TITLES[kind]}</h3><ul>")
            for item in case[kind]:
                head, details = _lines(kind, item)
                inner = "".join(f"<li>{h(detail)}</li>" for detail in details)
                parts.append(f"<li>{h(head)}" + (f"<ul>{inner}</ul>" if inner else "")
                             + "</li>")
            parts.append("</ul>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def file_state(watched: WatchedCase) -> str:
    """Whether a watched case's file still says what was read: "unchanged", "changed" (the
    next run re-reads it), "missing" (the stored copy is used) or "unreadable"."""
    path = Path(watched.path)
    if not path.exists():
        return "missing"
    try:
        _, _, case_fingerprint = read_watched(path)
    except TrialmatchError:
        return "unreadable"
    return "unchanged" if case_fingerprint == watched.fingerprint else "changed"
