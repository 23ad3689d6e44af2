"""The one error hierarchy. The CLI turns these into a one-line message and exit code 1.

Messages never contain note text, case content or extracted findings (they may name a file).
"""


class TrialmatchError(Exception):
    """Base of every expected failure: bad input, API failure, missing database."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(TrialmatchError):
    """A file or value given by the user cannot be used: missing, empty, binary, malformed."""


class DataFileError(TrialmatchError):
    """A terminology or rule file shipped with (or configured for) the package is invalid."""


class ApiError(TrialmatchError):
    """The ClinicalTrials.gov API failed after retries, or answered with something unusable."""


class StoreError(TrialmatchError):
    """The trial database is missing, locked by another refresh, or unusable."""


class NotFoundError(TrialmatchError):
    """A named record (an NCT id) is not in the store."""


class UsageError(TrialmatchError):
    """An option value that cannot work (an unknown status, an API URL without a scheme):
    found before anything is sent or written, exit code 2 like any command-line usage error."""

    exit_code = 2


def one_line(text: str, limit: int = 300) -> str:
    """`text` on one line, at most `limit` characters, cut between words (with an ellipsis)
    rather than mid-word: messages end up in cron logs and mail, read whole."""
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"
