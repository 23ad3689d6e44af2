"""`trialmatch match CASE`: one case against the trial store, for a second opinion.

Opens the store read-only, makes one call (`trialmatch.match.engine.match_case`) and renders
the result: rich in the terminal, the SPEC document with --json, a report file with --report.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from trialmatch.cli.app import DB_HELP, app, cli_errors, console, print_json, resolve_db
from trialmatch.errors import InputError

REPORT_SUFFIXES = (".md", ".markdown", ".html", ".htm")
VERDICT_STYLE = {"eligible": "green", "possibly_eligible": "yellow"}
RESULT_STYLE = {"met": "green", "not_met": "red", "unknown": "yellow"}
WITHIN_HELP = ("Keep trials with a recruiting site this close to the case's location: "
               "100mi or 150km (distances are city-level).")
PHASE_HELP = "Keep trials of this phase: 1, 2, 3, 4, early1, NA, or 1/2 (repeatable)."
PURPOSE_HELP = ("Keep trials of this primary purpose: treatment, supportive_care, diagnostic, "
                "prevention, screening, ... (repeatable).")


@app.command()
def match(
    case: Path = typer.Argument(..., help="Case file (YAML or JSON), or a plain-text note."),
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the match document as JSON."),
    top: int | None = typer.Option(None, "--top", min=1, help="Show at most N trials."),
    any_status: bool = typer.Option(
        False, "--any-status", help="Consider trials of every status, not only open ones."),
    report: Path | None = typer.Option(
        None, "--report", help="Also write a tumor-board report: FILE.md or FILE.html."),
    model: str | None = typer.Option(
        None, "--model", help="An installed scispaCy model to add to note extraction."),
    report_mode: str = typer.Option(
        "600", "--report-mode",
        help="File mode of the report, in octal (default 600: the owner only)."),
    notes_root: Path | None = typer.Option(
        None, "--notes-root", help="Let the case also read notes anywhere under this folder "
        "(default: only under the case file's own folder)."),
    within: str | None = typer.Option(None, "--within", help=WITHIN_HELP),
    phase: list[str] = typer.Option([], "--phase", help=PHASE_HELP),
    purpose: list[str] = typer.Option([], "--purpose", help=PURPOSE_HELP),
) -> None:
    """Match a case to open trials: verdicts, ranking, missed protocols, testing gaps and
    discrepancies. Decision support for clinicians, not a treatment recommendation."""
    if report is not None and report.suffix.lower() not in REPORT_SUFFIXES:
        raise typer.BadParameter("the report must end in .md or .html", param_hint="--report")
    mode = parse_report_mode(report_mode)
    from trialmatch.inputs import disable_core_dumps

    disable_core_dumps()  # this process will hold note text
    filters = parse_filters(within, phase, purpose)
    with cli_errors():
        from trialmatch.ingest.store import TrialStore
        from trialmatch.match.case import load_case
        from trialmatch.match.engine import match_case

        loaded = load_case(case, notes_root=notes_root)
        with TrialStore.open(resolve_db(db), readonly=True) as store:
            result = match_case(loaded, store, any_status=any_status, top=top, model=model,
                                filters=filters)
        if report is not None:
            write_report(result, report, mode)
        if as_json:
            print_json(result.to_dict())
        else:
            render(result.to_dict(), report)


def parse_filters(within: str | None, phases: list[str], purposes: list[str]):
    """The --within, --phase and --purpose options as TrialFilters; a usage error (exit 2)
    naming the option when one cannot be read."""
    from trialmatch.match.filters import TrialFilters, parse_phases, parse_purposes
    from trialmatch.match.geo import parse_within

    try:
        within_km = parse_within(within) if within is not None else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--within") from None
    try:
        wanted_phases = parse_phases(phases)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--phase") from None
    try:
        wanted_purposes = parse_purposes(purposes)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--purpose") from None
    return TrialFilters(wanted_phases, wanted_purposes, within_km)


def parse_report_mode(value: str) -> int:
    """'640' -> 0o640. A usage error unless it is an octal mode up to 777 that lets the owner
    read the file (a report the owner cannot open is a mistake, not a choice)."""
    try:
        mode = int(value, 8)
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not an octal file mode such as 600 or 640",
                                 param_hint="--report-mode") from None
    if not 0 <= mode <= 0o777 or not mode & 0o400:
        raise typer.BadParameter("the mode must be between 400 and 777 and let the owner read "
                                 "the file (e.g. 600 or 640)", param_hint="--report-mode")
    return mode


def write_report(result: Any, path: Path, mode: int = 0o600) -> None:
    """Write the report as Markdown or HTML by suffix, readable by the owner only (0600)
    unless `mode` widens it: it holds patient findings."""
    from trialmatch.match.report import render_html, render_markdown

    text = render_html(result) if path.suffix.lower() in (".html", ".htm") else \
        render_markdown(result)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.fchmod(descriptor, mode)  # the umask and an existing file's mode do not count
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise InputError(f"cannot write the report {path}: {error.strerror}") from None


# --------------------------------------------------------------------------- terminal


def render(doc: dict[str, Any], report: Path | None = None) -> None:
    """The match as a readable terminal summary."""
    from trialmatch.match.report import now_rows, profile_rows

    console.print(Panel(escape(doc["disclaimer"]), style="yellow", title="trialmatch",
                        title_align="left"))
    profile = Table(title=f"Case {escape(doc['case_id'])}: profile", show_lines=False,
                    title_justify="left")
    profile.add_column("Fact", style="bold", no_wrap=True)
    profile.add_column("Value, then the words that show it")
    for fact, value, evidence in profile_rows(doc["profile"]):
        shown = escape(value) + (f"\n[dim]{escape(_clip(evidence, 70))}[/]" if evidence else "")
        profile.add_row(escape(fact), shown)
    console.print(profile)
    now = [f"[bold]{escape(fact)}:[/] {escape(value)}"
           + (f" [dim]— {escape(_clip(evidence, 60))}[/]" if evidence else "")
           for fact, value, evidence in now_rows(doc["profile"])]
    if now:
        console.print(Panel("\n".join(now), title="Patient now", title_align="left"))
    for warning in doc.get("warnings") or []:
        console.print(f"[yellow]warning:[/] {escape(warning)}")

    from trialmatch.match import wording
    from trialmatch.provenance import data_line

    console.print(f"[dim]{escape(data_line(doc))}[/]")
    console.print(f"[bold]Now:[/] {escape(wording.cancer_text(doc['profile']))}; "
                  f"{escape(wording.stage_text(doc['profile']))}; "
                  f"{escape(wording.key_biomarkers(doc['profile']))}")
    trials = doc["trials"]
    unit = wording.distance_unit(doc)
    console.print(f"[bold]Trials: {len(trials)} of {doc.get('candidates', 0)} candidates[/]"
                  + (f" [dim](only {escape('; '.join(doc['filters']))})[/]"
                     if doc.get("filters") else ""))
    if doc["profile"].get("place"):
        place = doc["profile"]["place"]
        console.print(f"[dim]Distances from {escape(place['label'])}; {escape(place['note'])}[/]")
    for rank, trial in enumerate(trials, start=1):
        style = VERDICT_STYLE.get(trial["verdict"], "")
        missed = " · [red]not in the first opinion[/]" if trial.get("missed") else ""
        console.print(f"\n[bold]{rank}. {escape(trial['nct_id'])}[/] "
                      f"[{style}]{wording.VERDICT_WORDS.get(trial['verdict'], '')}[/] · "
                      f"score {trial['score']:.2f}{missed}")
        lines = [trial["title"],
                 f"{wording.phases_text(trial.get('phases'))} · "
                 f"{wording.status_text(trial.get('status'))} · "
                 f"{wording.purpose_text(trial.get('purpose'))}",
                 wording.verdict_line(trial),
                 f"Score parts: {wording.score_words(trial)}"]
        site = wording.site_line(trial, unit)
        if site:
            lines.append(f"Nearest recruiting site: {site}")
        lines += [f"Contact: {wording.contact_line(trial.get('contact'))}",
                  trial.get("url") or ""]
        for line in lines:
            console.print(Padding(Text(line), (0, 0, 0, 3)), highlight=False)
    if not trials:
        console.print("[bold]No open trial fits this profile.[/]")
    excluded = doc.get("excluded") or []
    if excluded:
        console.print(f"[bold]Excluded:[/] {len(excluded)} trial(s)")
        for item in excluded[:10]:
            criteria = item.get("criteria") or []
            reason = (f"{criteria[0].get('reason')}: \u201c{criteria[0].get('text')}\u201d"
                      if criteria else (item["reasons"][0] if item.get("reasons") else ""))
            console.print(f"  {escape(item['nct_id'])}: "
                          f"{escape(_clip(wording.name_codes(reason), 150))}")
        if len(excluded) > 10:
            console.print(f"  [dim]... {len(excluded) - 10} more (see --json or --report)[/]")
    _render_findings(doc)
    if report is not None:
        console.print(f"[dim]Report written to {escape(str(report))}[/]")


def _render_findings(doc: dict[str, Any]) -> None:
    from trialmatch.match import wording

    console.print("[bold]Biomarker-directed protocols:[/]" + ("" if doc["protocols"] else
                                                              " none"))
    for p in doc["protocols"]:
        missed = " [red](not in the first opinion)[/]" if p.get("missed") else ""
        console.print(f"  {escape(str(p.get('biomarker')))}: [bold]"
                      f"{escape(str(p.get('therapy')))}[/]{missed} [dim]"
                      f"{escape(str(p.get('source') or ''))}[/]")
    console.print("[bold]Testing gaps:[/]" + ("" if doc["testing_gaps"] else " none"))
    for g in doc["testing_gaps"]:
        console.print(f"  [bold]{escape(str(g.get('marker')))}[/]: "
                      f"{escape(str(g.get('reason')))}")
    console.print("[bold]Discrepancies with the first opinion:[/]"
                  + ("" if doc["discrepancies"] else " none"))
    for d in doc["discrepancies"]:
        console.print(f"  {escape(str(d.get('field')))}: first opinion "
                      f"[bold]{escape(str(d.get('first_opinion')))}[/], "
                      f"{wording.found_in(d)} [bold]"
                      f"{escape(str(d.get('found')))}[/] [dim]"
                      f"{escape(_clip(str(d.get('evidence') or ''), 100))}[/]")


def _clip(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
