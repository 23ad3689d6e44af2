"""Command-line interface: `trialmatch COMMAND`. See README.md for every command."""

import gc

from trialmatch import regex_cache
from trialmatch.cli.app import app

# Each module registers its commands on `app` when imported.
for _module in ("trials", "notes", "matching", "batch", "watch"):
    try:
        __import__(f"trialmatch.cli.{_module}")
    except ModuleNotFoundError as error:  # a command group not written yet
        if error.name != f"trialmatch.cli.{_module}":
            raise


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    finally:
        # The patterns this command compiled, kept for the next start (see regex_cache).
        regex_cache.save()
        # The process ends here: without this, the collector's last passes at shutdown walk
        # every object still alive (spaCy's, the vocabulary's) to find cycles that exiting
        # frees anyway, ~0.25 s of CPU after a `match` (issue 19). Nothing is written after
        # this point; open files and the database were closed by the command.
        gc.freeze()
