"""Trial-store commands: refresh, ingest, stats, show, reparse.

Each command opens the store, makes one call into `trialmatch.ingest` and renders the result.
Criteria parsing (`trialmatch.nlp.criteria.annotate_trial`) is imported lazily here, the only
place where ingest and nlp meet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from trialmatch.cli.app import (
    DB_HELP,
    app,
    cli_errors,
    console,
    err_console,
    log_line,
    print_json,
    resolve_db,
    setup_logging,
)
from trialmatch.config import default_api_url
from trialmatch.errors import TrialmatchError
from trialmatch.ingest.files import find_sources, ingest_paths
from trialmatch.ingest.refresh import (
    check_api_url,
    check_statuses,
    lock_is_free,
    settle_abandoned_runs,
)
from trialmatch.ingest.store import Annotate, TrialStore
from trialmatch.models import Trial

# How long a refresh waits for another one on the same database before giving up (seconds).
REFRESH_LOCK_WAIT = 5.0

API_HELP = "API base URL [default: $TRIALMATCH_API_URL, else https://clinicaltrials.gov/api/v2]."


def _annotator() -> tuple[Annotate | None, str | None]:
    """Criteria parsing and its version, or (None, None) while trialmatch.nlp lacks it."""
    try:
        from trialmatch.nlp import criteria
    except ImportError as error:
        if not (error.name or "").startswith("trialmatch.nlp"):
            raise
        # Trials are still stored; `trialmatch reparse` parses them once nlp is installed.
        logging.getLogger("trialmatch").warning(
            "eligibility parsing unavailable (%s); trials are stored unparsed", error
        )
        return None, None
    annotate = getattr(criteria, "annotate_trial", None)
    return annotate, getattr(criteria, "PARSER_VERSION", None)


@contextlib.contextmanager
def _progress(description: str, total: int | None) -> Iterator[Callable[[int, int | None], None]]:
    """A rich progress bar on a terminal; nothing on a pipe or in a log file.

    Yields `advance(n, total)`; a total learnt late (the API's count) updates the bar.
    """
    if not err_console.is_terminal:
        yield lambda n, new_total=None: None
        return
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console, transient=True,
    )
    with bar:
        task = bar.add_task(description, total=total)

        def advance(n: int, new_total: int | None = None) -> None:
            if new_total is not None:
                bar.update(task, total=new_total)
            bar.advance(task, n)

        yield advance


def default_jobs() -> int:
    """Criteria parsing uses every core unless --jobs says otherwise."""
    return max(1, os.cpu_count() or 1)


JOBS_HELP = "Parse eligibility criteria in this many processes [default: every core]."


@app.command()
def refresh(
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    api_url: str | None = typer.Option(None, "--api-url", help=API_HELP),
    full: bool = typer.Option(False, "--full", help="Reload everything in scope, not only "
                              "studies updated since the last successful refresh; a full "
                              "run of the default scope also marks studies the registry no "
                              "longer returns as removed."),
    condition: str | None = typer.Option(None, "--condition",
                                         help="Condition query [default: cancer terms]."),
    status: list[str] | None = typer.Option(None, "--status", help="Only this overall status "
                                            "(repeatable), e.g. RECRUITING."),
    force: bool = typer.Option(False, "--force", help="Page through the registry even when "
                               "its data timestamp has not changed since the last success."),
    watch: bool = typer.Option(False, "--watch", help="Then run the watch list (`trialmatch "
                               "watch run`) when the refresh succeeded."),
    out: Path | None = typer.Option(None, "--out", help="With --watch: the digest folder "
                                    "[default: digests/ beside the database]."),
    jobs: int | None = typer.Option(None, "--jobs", min=1, help=JOBS_HELP),
) -> None:
    """Bring the trial store up to date from ClinicalTrials.gov (incremental after the first).

    Every line it logs starts with the UTC time, for cron logs."""
    setup_logging()
    with cli_errors(stamped=True):
        # Options are checked before anything is opened or sent (exit 2 on a bad value).
        statuses = check_statuses(status)
        url = check_api_url(api_url or default_api_url())
        # Only refresh uses the network: `requests` (and urllib3, which binds a socket to
        # probe IPv6 as it loads) is imported here and by no other command.
        from trialmatch.ingest.client import CtgovClient
        from trialmatch.ingest.refresh import refresh as run_refresh

        db_path = resolve_db(db)
        annotate, _ = _annotator()
        client = CtgovClient(url)
        with TrialStore.open(db_path, check=True) as store, \
                _progress("refresh", None) as advance:
            log_pages = not err_console.is_terminal
            pages = seen = 0

            def on_page(studies: int, total: int | None) -> None:
                nonlocal pages, seen
                pages, seen = pages + 1, seen + studies
                advance(studies, total)
                if log_pages:
                    log_line(f"trialmatch: page {pages} stored, {studies} studies"
                             + (f" ({seen} of {total})" if total is not None else ""))

            result = run_refresh(store, client, full=full, condition=condition,
                                 statuses=statuses or None, annotate=annotate, on_page=on_page,
                                 lock_wait=REFRESH_LOCK_WAIT, force=force,
                                 jobs=jobs or default_jobs())
        log_line(refresh_summary(result), stdout=True)
    if watch:
        from trialmatch.cli.watch import run_watch_list

        run_watch_list(db_path, out)


def refresh_summary(result: Any) -> str:
    """The one line a refresh ends with (stdout, so cron mail and the log both carry it)."""
    if result.outcome == "unchanged":
        return (f"refresh: registry data unchanged since the last successful refresh (data "
                f"timestamp {result.data_timestamp}); nothing asked for (--force pages anyway)")
    counts = result.counts
    since = f" since {result.since}" if result.since else ""
    resumed = ", resumed" if result.resumed else ""
    removed = f", {result.removed} removed from the registry" if result.removed else ""
    return (f"refresh {result.mode}{since}{resumed}: {result.pages} pages, "
            f"{counts.added} added, {counts.updated} updated, {counts.unchanged} unchanged, "
            f"{counts.skipped} skipped{removed} (data timestamp "
            f"{result.data_timestamp or 'unknown'})")


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="Study JSON files, folders of them, saved API "
                                       "pages or a ClinicalTrials.gov bulk export .zip."),
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    jobs: int | None = typer.Option(None, "--jobs", min=1, help=JOBS_HELP),
) -> None:
    """Load studies from files into the trial store (running it twice changes nothing)."""
    setup_logging()
    with cli_errors():
        annotate, _ = _annotator()
        sources = find_sources(paths)
        with TrialStore.open(resolve_db(db)) as store, \
                _progress("ingest", len(sources)) as advance:
            result = ingest_paths(store, paths, annotate, sources=sources,
                                  on_source=lambda: advance(1, None),
                                  jobs=jobs or default_jobs())
        counts = result.counts
        console.print(
            f"ingest: {result.sources} files, {counts.added} added, {counts.updated} updated, "
            f"{counts.unchanged} unchanged, {counts.skipped} skipped",
            markup=False, highlight=False, soft_wrap=True,
        )
        if not result.usable:
            raise TrialmatchError(f"no usable study in {result.sources} file(s); nothing "
                                  "was stored", hint="see the warnings above")


@app.command()
def stats(
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Counts by status and phase, top conditions and the last refresh."""
    with cli_errors():
        path = resolve_db(db)
        with TrialStore.open(path, readonly=True, check=True) as store:
            document = store.stats()
        latest = document["last_refresh"]
        if latest is not None and latest["outcome"] == "running" and lock_is_free(path):
            # The run's process died (nothing holds the lock): say so rather than "running"
            # forever, and record it when the store is writable here.
            with contextlib.suppress(TrialmatchError), TrialStore.open(path) as store:
                settle_abandoned_runs(store)
                document = store.stats()
            latest = document["last_refresh"]
            if latest["outcome"] == "running" and lock_is_free(path):
                # Not writable here: say what happened without recording it.
                latest.update(outcome="interrupted", reason="the refresh process ended "
                              f"after {latest['pages']} pages (not recorded: the store is not "
                              "writable here); the next refresh resumes it")
    if as_json:
        print_json(document)
        return
    console.print(f"[bold]{document['trials']}[/bold] trials, {document['parsed']} with parsed "
                  "eligibility")
    for title, key in (("Status", "by_status"), ("Phase", "by_phase")):
        table = Table(title_justify="left")
        table.add_column(title)
        table.add_column("Trials", justify="right")
        for name, n in document[key].items():
            table.add_row(escape(name), str(n))
        console.print(table)
    table = Table(title_justify="left")
    table.add_column("Top conditions")
    table.add_column("Trials", justify="right")
    for name, n in document["top_conditions"]:
        table.add_row(escape(name), str(n))
    console.print(table)
    if document.get("removed"):
        console.print(f"Removed from the registry: {document['removed']} trials (kept, not "
                      "matched)", markup=False, highlight=False)
    for label, key in (("Last refresh", "last_refresh"),
                       ("Last successful refresh", "last_successful_refresh")):
        run = document[key]
        if run is None:
            console.print(f"{label}: never")
        else:
            removed = f", {run['removed']} removed" if run.get("removed") else ""
            reason = f"; reason: {run['reason']}" if run.get("reason") else ""
            console.print(
                f"{label}: {run['outcome']} ({run['mode']}), started {run['started']}, "
                f"finished {run['finished'] or '-'}, data timestamp "
                f"{run['data_timestamp'] or 'unknown'}; {run['pages']} pages, "
                f"{run['added']} added, {run['updated']} updated, {run['unchanged']} "
                f"unchanged{removed}{reason}",
                markup=False, highlight=False, soft_wrap=True,
            )


@app.command()
def show(
    nct_id: str = typer.Argument(..., help="NCT id, e.g. NCT01234567."),
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """A trial with its parsed eligibility criteria."""
    with cli_errors():
        with TrialStore.open(resolve_db(db), readonly=True) as store:
            trial = store.get_trial(nct_id)
            removal = store.removal(trial.nct_id)
    if as_json:
        print_json({**trial_document(trial), "removed": removal})
        return
    _render_trial(trial, removal)


@app.command()
def search(
    text: str = typer.Argument("", help="Words to find anywhere in a trial's text (title, "
                               "conditions, interventions, summary, criteria), or an NCT id."),
    condition: str = typer.Option("", "--condition", help="Words that must be in the "
                                  "conditions or keywords."),
    intervention: str = typer.Option("", "--intervention", help="Words that must be in the "
                                     "interventions (a drug, a code name)."),
    status: list[str] = typer.Option([], "--status", help="Keep trials with this overall "
                                     "status, e.g. recruiting (repeatable)."),
    phase: list[str] = typer.Option([], "--phase", help="Keep trials of this phase: 1, 2, 3, "
                                    "4, early1, 1/2 (repeatable)."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000, help="Show at most N trials."),
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Look trials up by words in the store's full-text index: a drug, a name, a condition."""
    from trialmatch.match.filters import parse_phases

    if not (text.strip() or condition.strip() or intervention.strip()):
        raise typer.BadParameter("give words to search for, --condition or --intervention",
                                 param_hint="TEXT")
    statuses = [_status(value) for value in status]
    try:
        phases = sorted(parse_phases(phase) - {"NA"})
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--phase") from None
    with cli_errors():
        with TrialStore.open(resolve_db(db), readonly=True) as store:
            hits = store.search(text, condition=condition, intervention=intervention,
                                statuses=statuses, phases=phases, limit=limit)
    if as_json:
        print_json({"query": {"text": text, "condition": condition,
                              "intervention": intervention, "statuses": statuses,
                              "phases": phases}, "trials": hits})
        return
    if not hits:
        console.print("No trial in the store matches.", highlight=False)
        return
    from trialmatch.match import wording

    for hit in hits:
        console.print(f"[bold]{escape(hit['nct_id'])}[/bold] {escape(hit['title'])}",
                      highlight=False)
        facts = " · ".join([wording.phases_text(hit["phases"]),
                            wording.status_text(hit["status"]),
                            "; ".join(hit["conditions"][:3]) or "no condition stated"])
        console.print(Padding(Text(facts, style="dim"), (0, 0, 0, 3)))
        if hit["snippet"]:
            console.print(Padding(Text(hit["snippet"]), (0, 0, 0, 3)))
    console.print(f"[dim]{len(hits)} trial(s); https://clinicaltrials.gov/study/<NCT id> for "
                  "each record[/dim]", highlight=False)


_STATUSES = ("RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION",
             "ACTIVE_NOT_RECRUITING", "COMPLETED", "SUSPENDED", "TERMINATED", "WITHDRAWN",
             "AVAILABLE", "NO_LONGER_AVAILABLE", "TEMPORARILY_NOT_AVAILABLE",
             "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN")


def _status(value: str) -> str:
    key = value.strip().upper().replace(" ", "_").replace("-", "_").replace(",", "")
    if key not in _STATUSES:
        raise typer.BadParameter(f"'{value}' is not a trial status: use one of "
                                 f"{', '.join(s.lower() for s in _STATUSES)}",
                                 param_hint="--status")
    return key


@app.command()
def reparse(
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    redo_all: bool = typer.Option(False, "--all", help="Re-parse every trial, not only those "
                                  "parsed by another parser version."),
    jobs: int = typer.Option(1, "--jobs", min=1, help="Parse in this many processes."),
) -> None:
    """Re-run eligibility parsing over stored trials (no network)."""
    setup_logging()
    with cli_errors():
        annotate, version = _annotator()
        if annotate is None:
            raise TrialmatchError("criteria parsing is not available in this installation "
                                  "(trialmatch.nlp.criteria.annotate_trial is missing)")
        with TrialStore.open(resolve_db(db)) as store:
            stale = None if redo_all or version is None else version
            total = len(store.reparse_ids(only_stale=stale))
            with _progress("reparse", total) as advance:
                done = store.reparse(annotate, only_stale=stale, jobs=jobs,
                                     progress=lambda n: advance(n, None))
        console.print(f"reparse: {done} trials parsed", markup=False, highlight=False,
                      soft_wrap=True)


def trial_document(trial: Trial) -> dict[str, Any]:
    """The `show --json` document: every Trial field (criteria with their requirements)."""
    return dataclasses.asdict(trial)


def _age(years: float | None) -> str:
    if years is None:
        return "none"
    return f"{years:g} y" if years >= 1 else f"{years * 12:.0f} mo"


def _render_trial(trial: Trial, removal: dict[str, Any] | None = None) -> None:
    console.print(f"[bold]{escape(trial.nct_id)}[/bold]  {escape(trial.title)}")
    if removal is not None:
        console.print(f"[bold red]REMOVED[/bold red]: the registry no longer returns this "
                      f"study (found by the full refresh of {escape(removal['removed_at'])}); "
                      "kept here as last seen, never matched.")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    rows = [
        ("Status", trial.status or "unknown"),
        ("Phases", ", ".join(trial.phases) or "none"),
        ("Study type", trial.study_type or "unknown"),
        ("Conditions", "; ".join(trial.conditions) or "none"),
        ("Cancer types", "; ".join(_code_name(code) for code in trial.oncotree_codes)
         or "not parsed"),
        ("Ages", f"{_age(trial.minimum_age)} to {_age(trial.maximum_age)}"),
        ("Sex", trial.sex or "not stated"),
        ("Sponsor", trial.sponsor or "unknown"),
        ("Interventions", "; ".join(f"{i['name']} ({i['type']})" for i in trial.interventions)
         or "none"),
        ("Locations", f"{len(trial.locations)} sites"
         + (": " + "; ".join(_place(loc) for loc in trial.locations[:3])
            if trial.locations else "")),
        ("Last update", trial.last_update or "unknown"),
        ("Parser", trial.parser_version or "not parsed"),
    ]
    for label, value in rows:
        facts.add_row(label, escape(value))
    console.print(facts)
    if not trial.criteria:
        console.print("\n[dim]Eligibility (not parsed):[/dim]")
        console.print(escape(trial.criteria_text or "none given"))
        return
    table = Table(title="Eligibility", title_justify="left", show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("Kind")
    table.add_column("Criterion", ratio=3)
    table.add_column("Parsed requirements", ratio=2)
    for criterion in trial.criteria:
        parsed = "\n".join(
            f"{r.kind}: {_compact(r.params)}".rstrip(": ") for r in criterion.requirements
        ) or "[dim]other (free text)[/dim]"
        cohort = f"[{criterion.cohort}] " if criterion.cohort else ""
        table.add_row(str(criterion.position + 1), criterion.kind,
                      escape(cohort + criterion.text),
                      parsed if not criterion.requirements else escape(parsed))
    console.print(table)


def _code_name(code: str) -> str:
    from trialmatch.match.wording import code_name

    return code_name(code)


def _compact(value: Any) -> str:
    """Requirement params for reading: empty values left out, lists joined."""
    if isinstance(value, dict):
        return ", ".join(f"{key}={_compact(item)}" for key, item in value.items()
                         if item not in (None, [], {}, ""))
    if isinstance(value, list):
        if all(isinstance(item, dict) for item in value):
            return " or ".join(f"({_compact(item)})" for item in value)
        return "/".join(_compact(item) for item in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, ensure_ascii=False) if isinstance(value, bool) else str(value)


def _place(location: Any) -> str:
    parts = [location.facility, location.city, location.country]
    return ", ".join(part for part in parts if part)
