"""Note commands: `trialmatch extract NOTE... [--json] [--model NAME]`.

Each NOTE (a path, or - for stdin) is read and extracted on its own: with --json one JSON
object per line, otherwise one table per note with the words that show each finding. A
note that cannot be read is reported on stderr and the others are still extracted; the
command then exits 1.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from trialmatch.cli.app import app, cli_errors, console, err_console, print_json
from trialmatch.errors import TrialmatchError
from trialmatch.models import Profile


def _evidence(text: str | None, limit: int = 90) -> str:
    flat = " ".join((text or "").split())
    return escape(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def _table(label: str, profile: Profile) -> Table:
    table = Table(title=escape(label), title_justify="left", show_lines=False)
    table.add_column("Field", style="bold")
    table.add_column("Value")
    table.add_column("Evidence", style="dim")
    cancer = profile.cancer_type
    if cancer is not None:
        derived = " (site + histology)" if cancer.derived else ""
        table.add_row("Cancer type", escape(f"{cancer.code} — {cancer.name}{derived}"),
                      _evidence(cancer.evidence))
    else:
        table.add_row("Cancer type", "none asserted", "")
    table.add_row("Histology", escape(profile.histology or "—"), "")
    table.add_row("Primary site", escape(profile.primary_site or "—"), "")
    grade = profile.grade or "—"
    if profile.grade_detail:
        grade += f" ({profile.grade_detail})"
    table.add_row("Grade", escape(grade), "")
    stage = profile.stage
    if stage is not None:
        tnm = " ".join(f"{stage.prefix or ''}{value}" for value in (stage.t, stage.n, stage.m)
                       if value)
        parts = [tnm] if tnm else []
        if stage.group:
            parts.append(f"stage {stage.group}" + (" (derived)" if "group" in stage.derived
                                                   else ""))
        if stage.figo:
            parts.append(f"FIGO {stage.figo}")
        table.add_row("Stage", escape(", ".join(parts)), _evidence(stage.evidence))
    else:
        table.add_row("Stage", "—", "")
    for biomarker in profile.biomarkers:
        table.add_row("Biomarker", escape(f"{biomarker.label()} [{biomarker.status}]"),
                      _evidence(biomarker.evidence))
    for warning in profile.warnings:
        table.add_row("Warning", escape(warning), "")
    return table


@app.command("extract")
def extract_command(
    notes: list[str] = typer.Argument(..., metavar="NOTE...",
                                      help="Note files (plain UTF-8 text, at most 5 MB); "
                                           "- reads stdin."),
    as_json: bool = typer.Option(False, "--json", help="One JSON profile per note, per line."),
    model: str | None = typer.Option(None, "--model",
                                     help="Installed scispaCy model (e.g. en_core_sci_sm) to "
                                          "add as an extra source of entities."),
) -> None:
    """Read pathology notes into cancer type, histology, grade, stage and biomarkers."""
    from trialmatch.inputs import disable_core_dumps
    from trialmatch.nlp.extract import extract
    from trialmatch.nlp.notes import read_note_text

    disable_core_dumps()

    failed = False
    with cli_errors():
        if model is not None:
            # Fail once, before reading notes, when the model is missing.
            from trialmatch.nlp.pipeline import build_pipeline

            build_pipeline(model)
        for note in notes:
            label = "stdin" if note == "-" else note
            try:
                read = read_note_text(note if note == "-" else Path(note))
                for warning in read.warnings:  # names the note, never its text
                    err_console.print(f"trialmatch: warning: {warning}", markup=False,
                                      highlight=False, soft_wrap=True)
                profile = extract([read.text], model=model)
            except TrialmatchError as error:
                failed = True
                err_console.print(f"trialmatch: error: {error}", markup=False, highlight=False,
                                  soft_wrap=True)
                continue
            if as_json:
                print_json(profile.to_dict())
            else:
                console.print(_table(label, profile))
    if failed:
        raise typer.Exit(1)
