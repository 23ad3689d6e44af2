"""`trialmatch watch`: the cases a coordinator follows, re-matched after each refresh.

    watch add CASE...   watch list   watch remove ID   watch run [--out DIR]

Each command opens the store, makes one call into `trialmatch.match.watch` (or the watch
list's storage) and prints the result. `watch run` prints one line of counts on stdout (cron
mails it) and writes the digest of what changed to the digest folder; nothing of a case's
content is printed or logged.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from trialmatch.cli.app import (
    DB_HELP,
    app,
    cli_errors,
    console,
    log_line,
    print_json,
    resolve_db,
    setup_logging,
)
from trialmatch.errors import StoreError

watch_app = typer.Typer(
    help="Follow cases: re-match them after each refresh and report only what changed.",
    no_args_is_help=True,
)
app.add_typer(watch_app, name="watch")

OUT_HELP = "Digest folder [default: digests/ beside the database]."


def default_digest_dir(db_path: Path) -> Path:
    """Where digests go without --out: `digests/` beside the database."""
    return db_path.parent / "digests"


@watch_app.command("add")
def add(
    cases: list[Path] = typer.Argument(..., help="Case files (YAML or JSON) or plain-text "
                                       "notes, as `trialmatch match` reads them."),
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Watch cases: each is read and checked now, and kept (with its notes' text) in the
    store; adding a watched file again re-reads it."""
    from trialmatch.ingest.store import TrialStore
    from trialmatch.match.watch import add_cases

    with cli_errors():
        with TrialStore.open(resolve_db(db)) as store:
            added = add_cases(store, cases)
    for (case_id, new), path in zip(added, cases, strict=True):
        verb = "watching" if new else "re-read"
        console.print(f"{verb} case {case_id} ({path})", markup=False, highlight=False,
                      soft_wrap=True)


@watch_app.command("list")
def list_cases(
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """The watched cases: id, file, when added and last run, and whether the file changed
    since it was read."""
    from trialmatch.ingest.store import TrialStore
    from trialmatch.ingest.watchlist import WatchList
    from trialmatch.match.watch import file_state

    with cli_errors():
        path = resolve_db(db)
        watched = []
        if path.exists():  # no store yet: nothing watched, and nothing created by looking
            with TrialStore.open(path, readonly=True) as store:
                watched = WatchList(store).cases()
        rows = [{"case_id": w.case_id, "path": w.path, "added_at": w.added_at,
                 "read_at": w.read_at, "last_run_at": w.last_run_at,
                 "file": file_state(w)} for w in watched]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("No cases watched (add one with `trialmatch watch add CASE`).",
                      markup=False)
        return
    table = Table(title=f"Watched cases: {len(rows)}", title_justify="left")
    for column in ("Case", "File", "Added", "Last run", "File state"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(escape(row["case_id"]), escape(row["path"]), row["added_at"],
                      row["last_run_at"] or "never", row["file"])
    console.print(table)


@watch_app.command("remove")
def remove(
    case_id: str = typer.Argument(..., help="The watched case's id (see `watch list`)."),
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Stop watching a case; its stored copy and last result are deleted."""
    from trialmatch.ingest.store import TrialStore
    from trialmatch.ingest.watchlist import WatchList

    with cli_errors():
        path = resolve_db(db)
        if not path.exists():
            raise StoreError(f"no trial database at {path}, so no watched case {case_id!r:.60}")
        with TrialStore.open(path) as store:
            WatchList(store).remove(case_id)
    console.print(f"no longer watching case {case_id}", markup=False, highlight=False,
                  soft_wrap=True)


@watch_app.command("run")
def run(
    db: Path | None = typer.Option(None, "--db", help=DB_HELP),
    out: Path | None = typer.Option(None, "--out", help=OUT_HELP),
) -> None:
    """Re-match every watched case and report what changed since its last run: a digest
    (Markdown, HTML, JSON; one section per case with changes) and one line on stdout.
    Exit 0 when it ran, changes or not; 1 when it or a case failed."""
    run_watch_list(resolve_db(db), out)


def run_watch_list(db_path: Path, out: Path | None) -> None:
    """`watch run` (also after `refresh --watch`): time-stamped lines, exit 1 on failure."""
    from trialmatch.ingest.store import TrialStore
    from trialmatch.match.watch import run_watch

    setup_logging()
    with cli_errors(stamped=True):
        if not db_path.exists():
            raise StoreError(f"no trial database at {db_path}; run `trialmatch refresh` "
                             "first")
        with TrialStore.open(db_path) as store:
            result = run_watch(store, out or default_digest_dir(db_path))
        for warning in result.warnings:
            log_line(f"trialmatch: warning: {warning}")
        for case in result.failed:
            log_line(f"trialmatch: error: watched case {case.case_id}: {case.error}")
        log_line(result.summary(), stdout=True)
    if result.failed:
        raise typer.Exit(1)
