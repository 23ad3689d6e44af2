"""`trialmatch batch`: match a folder of cases for a tumor board.

Only options, progress and the final table live here; the work is `match.batch.run_batch`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from trialmatch.cli.app import DB_HELP, app, cli_errors, console, err_console, resolve_db
from trialmatch.cli.matching import (
    PHASE_HELP,
    PURPOSE_HELP,
    WITHIN_HELP,
    parse_filters,
    parse_report_mode,
)
from trialmatch.errors import TrialmatchError
from trialmatch.match.batch import (
    BatchInterrupted,
    CaseOutcome,
    run_batch,
    store_changed_at,
    store_matcher,
)

# A 5 MB note takes about 70 s to read on a loaded 2-core machine; ten times that is no case
# a tumor board waits for.
DEFAULT_CASE_TIMEOUT = 600.0


class _CasesPerSecondColumn(ProgressColumn):
    """Rich has a bytes/s column only; cases per second is what a coordinator reads."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} cases/s" if speed else "- cases/s", style="progress.data.speed")


class _Reporter:
    """Progress on stderr: a bar on a terminal, one line per case in a log. Failed cases get
    one line each either way (the error, never note content)."""

    def __init__(self) -> None:
        self.interactive = err_console.is_terminal
        self.total = 0
        self.done = 0
        self.progress: Progress | None = None
        self.task = None

    def start(self, total: int) -> None:
        self.total = total
        if self.interactive and total:
            self.progress = Progress(
                TextColumn("matching"), BarColumn(), MofNCompleteColumn(),
                _CasesPerSecondColumn(), TimeElapsedColumn(), TextColumn("left"),
                TimeRemainingColumn(), console=err_console, transient=False,
            )
            self.task = self.progress.add_task("cases", total=total)
            self.progress.start()

    def case(self, outcome: CaseOutcome) -> None:
        self.done += 1
        name = outcome.case_id or outcome.case_file
        if outcome.status == "failed":
            self._print(f"trialmatch: case {outcome.case_file} failed: {outcome.error}")
        elif not self.interactive:
            detail = ("up to date, skipped" if outcome.status == "skipped" else
                      f"{outcome.trial_count} trials, "
                      f"{outcome.missed_trials} missed, {outcome.protocols} protocols, "
                      f"{outcome.testing_gaps} testing gaps ({outcome.seconds:.2f} s)")
            self._print(f"[{self.done}/{self.total}] {name}: {detail}")
        if self.progress is not None:
            self.progress.advance(self.task)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()

    def _print(self, line: str) -> None:
        target = self.progress.console if self.progress is not None else err_console
        target.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command()
def batch(
    case_dir: Path = typer.Argument(..., help="Folder of case files, searched recursively: "
                                    ".yaml/.yml/.json cases, and .txt notes that no case file "
                                    "names (each is a case of its own); gold/ and hidden "
                                    "folders are skipped."),
    out: Path = typer.Option(..., "--out", help="Folder for the reports, summary.csv and "
                             "index.html (created if needed)."),
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    jobs: int | None = typer.Option(None, "--jobs", min=1,
                                    help="Worker processes (default: the number of cores)."),
    resume: bool = typer.Option(False, "--resume", help="Skip cases whose outputs are newer "
                                "than their case file, notes and the trial store."),
    any_status: bool = typer.Option(False, "--any-status",
                                    help="Consider trials of every status, not only open ones."),
    top: int | None = typer.Option(None, "--top", min=1, help="Keep the N best trials per case."),
    report_mode: str = typer.Option(
        "600", "--report-mode",
        help="File mode of every file written, in octal (default 600: the owner only)."),
    case_timeout: float = typer.Option(
        DEFAULT_CASE_TIMEOUT, "--case-timeout", min=1,
        help="Seconds one case may take; a case over it fails with that reason and the batch "
             "goes on."),
    notes_root: Path | None = typer.Option(
        None, "--notes-root", help="Let cases also read notes anywhere under this folder (default: "
        "only under each case file's own folder)."),
    within: str | None = typer.Option(None, "--within", help=WITHIN_HELP),
    phase: list[str] = typer.Option([], "--phase", help=PHASE_HELP),
    purpose: list[str] = typer.Option([], "--purpose", help=PURPOSE_HELP),
) -> None:
    """Match every case in CASE_DIR; write DIR/<case id>.json/.md/.html, summary.csv and
    index.html. A bad case is reported and skipped; exit 1 when any case failed."""
    mode = parse_report_mode(report_mode)
    from trialmatch.inputs import disable_core_dumps

    disable_core_dumps()  # this process and its workers will hold note text
    filters = parse_filters(within, phase, purpose)
    with cli_errors():
        db_path = resolve_db(db)
        from trialmatch.ingest.store import TrialStore

        # Fail before any worker starts when the store is missing or unusable.
        from trialmatch.provenance import provenance

        with TrialStore.open(db_path, readonly=True) as store:
            changed_at = store_changed_at(store, db_path)
            about = provenance(store)
        reporter = _Reporter()
        try:
            result = run_batch(
                case_dir, out,
                matcher_factory=functools.partial(store_matcher, db_path, any_status, top,
                                                  filters),
                jobs=jobs or os.cpu_count() or 1, resume=resume, store_changed_at=changed_at,
                store_fingerprint=about["store_fingerprint"], about=about,
                on_start=reporter.start, on_case=reporter.case, report_mode=mode,
                case_timeout=case_timeout, notes_root=notes_root,
            )
        except BatchInterrupted as stopped:
            reporter.stop()
            done = len(stopped.result.outcomes)
            err_console.print(
                f"trialmatch: interrupted after {done} of {reporter.total} cases; "
                f"{out / 'summary.csv'} and index.html list them. Rerun with --resume to "
                "finish the rest.", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None
        finally:
            reporter.stop()
        table = Table(title=f"Batch written to {out}", title_justify="left")
        table.add_column("cases")
        table.add_column("count", justify="right")
        for label, count in result.counts().items():
            table.add_row(label, str(count))
        table.add_row("seconds", f"{result.seconds:.1f}")
        console.print(table)
        failed = len(result.failed)
        if failed:
            raise TrialmatchError(f"{failed} of {len(result.outcomes)} cases failed",
                                  hint=f"see {out / 'summary.csv'}")
