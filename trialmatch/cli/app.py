"""The typer application and what every command shares: options, console, error handling.

Commands live in one module per group (trials, notes, matching); each opens what it needs,
makes one call into the library and renders the result.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import sqlite3
import sys
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from trialmatch.config import default_db_path
from trialmatch.errors import TrialmatchError

app = typer.Typer(
    name="trialmatch",
    help="Oncology clinical-trial matching for second opinions. "
    "Decision support for clinicians, not a treatment recommendation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

console = Console()
err_console = Console(stderr=True)

DB_HELP = "SQLite trial store (default: $TRIALMATCH_DB, else trials.db in the user data dir)."


def resolve_db(db: Path | None) -> Path:
    """The database path from --db, else the default location."""
    return db if db is not None else default_db_path()


def utc_stamp() -> str:
    """Now, as the ISO-8601 UTC time that starts every line of a cron log."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def log_line(text: str, *, stdout: bool = False) -> None:
    """One line of a cron log (refresh, watch): the time first, never wrapped."""
    (console if stdout else err_console).print(
        f"{utc_stamp()} {text}", markup=False, highlight=False, soft_wrap=True)


class _StampedFormatter(logging.Formatter):
    """`2026-12-07T02:30:05Z trialmatch: warning: ...`: UTC, so lines from a night's
    refresh and watch sort and compare whatever the machine's time zone."""

    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__("%(asctime)s trialmatch: %(levelname)s: %(message)s",
                         datefmt="%Y-%m-%dT%H:%M:%SZ")

    def format(self, record: logging.LogRecord) -> str:
        record.levelname = record.levelname.lower()
        return super().format(record)


class _StderrHandler(logging.StreamHandler):
    """A handler writing to whatever `sys.stderr` is at the time of each record."""

    _trialmatch = True

    @property
    def stream(self):  # noqa: ANN201 - logging's own attribute
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def setup_logging() -> None:
    """Warnings from the library go to stderr as one time-stamped line each."""
    logger = logging.getLogger("trialmatch")
    for handler in [h for h in logger.handlers if getattr(h, "_trialmatch", False)]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(_StampedFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False


@contextlib.contextmanager
def cli_errors(*, stamped: bool = False) -> Iterator[None]:
    """Turn an expected failure into one line on stderr and its exit code (1, or 2 for an
    option value that cannot work).

    Interrupts exit 130 without a traceback. Anything else is a bug; its message and traceback
    may quote note text (protected health information), so only the exception's type is
    printed unless $TRIALMATCH_DEBUG is set. `stamped` starts the line with the time, as in
    the cron-log commands.
    """
    try:
        yield
    except TrialmatchError as error:
        prefix = f"{utc_stamp()} " if stamped else ""
        err_console.print(f"{prefix}trialmatch: error: {error}", markup=False,
                          highlight=False, soft_wrap=True)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        prefix = f"{utc_stamp()} " if stamped else ""
        err_console.print(f"{prefix}trialmatch: interrupted", markup=False, highlight=False)
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except (OSError, sqlite3.Error) as error:
        explained = explain_failure(error)
        if explained is None:
            _internal_error(error, stamped)
        prefix = f"{utc_stamp()} " if stamped else ""
        err_console.print(f"{prefix}trialmatch: error: {explained}", markup=False,
                          highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except Exception as error:  # noqa: BLE001 - last line of defence for patient data
        _internal_error(error, stamped)


def _internal_error(error: BaseException, stamped: bool = False) -> None:
    if os.environ.get("TRIALMATCH_DEBUG"):
        traceback.print_exc()
    prefix = f"{utc_stamp()} " if stamped else ""
    err_console.print(
        f"{prefix}trialmatch: internal error ({type(error).__name__}); "
        "set TRIALMATCH_DEBUG=1 for the traceback",
        markup=False, highlight=False, soft_wrap=True,
    )
    raise typer.Exit(1) from None


def explain_failure(error: BaseException) -> TrialmatchError | None:
    """One clear line for an operating-system or SQLite failure the user can act on (a full
    disk, a read-only filesystem, no permission), or None for anything else (a bug)."""
    if isinstance(error, sqlite3.Error):
        from trialmatch.ingest.store import explain_sqlite_error

        return explain_sqlite_error(error)
    if isinstance(error, OSError) and error.errno in _EXPLAINED_ERRNOS:
        where = f" {error.filename}" if error.filename else ""
        return TrialmatchError(f"cannot use{where}: {error.strerror}",
                               hint=_EXPLAINED_ERRNOS[error.errno])
    return None


_EXPLAINED_ERRNOS = {
    errno.ENOSPC: "free some space and run the command again",
    errno.EDQUOT: "free some space and run the command again",
    errno.EROFS: "the filesystem is read-only; choose another place",
    errno.EACCES: "choose a place this user may write",
    errno.EPERM: "choose a place this user may write",
}


def print_json(document: Any) -> None:
    """Write one JSON document to stdout, alone, as `--json` promises."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, default=str))
    sys.stdout.write("\n")
    sys.stdout.flush()


@app.command()
def version() -> None:
    """Print trialmatch's version."""
    from trialmatch import __version__

    console.print(f"trialmatch {__version__}")
