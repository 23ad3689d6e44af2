"""A per-user cache of structures built from the packaged data files, so that a command does
not rebuild them on every start (issue 19: `match` on one case spent most of its own time
building the vocabulary's indexes).

An entry is a pickle under the user cache directory (`$TRIALMATCH_CACHE_DIR`, else
platformdirs' `user_cache_dir("trialmatch")`), named by a SHA-256 of what it was built from:
the trialmatch version, the Python version, the source of the module that builds it and the
bytes of every input file. A changed data file or a new release is a new name, so a stale
entry is never read (and is removed when the new one is written). An entry that cannot be
read, or holds something else than expected, is rebuilt and rewritten; a cache directory
that cannot be written is done without. Entries hold packaged reference data only, never
patient data, and are written owner-only (0600) by an atomic rename.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import platformdirs

from trialmatch import __version__

CACHE_DIR_ENV = "TRIALMATCH_CACHE_DIR"
Built = TypeVar("Built")


def cache_dir() -> Path:
    """`$TRIALMATCH_CACHE_DIR`, else the user cache directory for trialmatch."""
    return Path(os.environ.get(CACHE_DIR_ENV) or platformdirs.user_cache_dir("trialmatch"))


def cache_key(sources: Iterable[bytes]) -> str:
    """SHA-256 (hex) of the trialmatch and Python versions and `sources`, each length-prefixed
    so that two different lists never join into the same bytes."""
    digest = hashlib.sha256()
    for part in (__version__.encode(), sys.version.encode(), *sources):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def entry_path(name: str, sources: Iterable[bytes]) -> Path:
    """Where the entry `name` built from `sources` is kept."""
    return cache_dir() / f"{name}-{cache_key(sources)[:32]}.pickle"


def read_entry(path: Path, expected: type) -> Any:
    """The object kept at `path` when it is an `expected`, else None (missing, unreadable,
    truncated, foreign: never an error)."""
    try:
        with path.open("rb") as handle:
            cached: Any = pickle.load(handle)
        if isinstance(cached, expected):
            return cached
    except Exception:  # noqa: BLE001 - missing, unreadable, truncated, foreign: rebuild
        pass
    return None


def write_entry(path: Path, name: str, built: Any) -> None:
    """Keep `built` at `path` (made by `entry_path` for `name`), removing this name's older
    entries; done without, silently, when the folder cannot be written."""
    _write(path.parent, path, name, built)


def load_or_build(name: str, sources: Iterable[bytes], build: Callable[[], Built],
                  expected: type) -> Built:
    """The object cached as `name` for these `sources`, else `build()` (then cached).

    `expected` is the type the entry must hold; anything else (a corrupt or foreign file) is
    rebuilt. Errors of `build` propagate; errors of the cache never do.
    """
    path = entry_path(name, sources)
    cached = read_entry(path, expected)
    if cached is not None:
        return cached
    built = build()
    write_entry(path, name, built)
    return built


class _Pickler(pickle.Pickler):
    """Writes compiled patterns as calls of `regex_cache.re_compile` (a plain pickle calls
    `re.compile`): an entry read back then takes its patterns from the compiled-pattern
    cache instead of compiling them again (the vocabulary holds a few dozen)."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, re.Pattern):
            from trialmatch.regex_cache import re_compile

            return re_compile, (obj.pattern, obj.flags)
        return NotImplemented


def _write(folder: Path, path: Path, name: str, built: Any) -> None:
    """Write `built` to `path` atomically, then remove this name's older entries; give up
    silently when the folder cannot be written."""
    temporary = None
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}-", suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            _Pickler(stream, protocol=pickle.HIGHEST_PROTOCOL).dump(built)
        os.replace(temporary, path)
        temporary = None
        for older in folder.glob(f"{name}-*.pickle"):
            if older != path:
                with contextlib.suppress(OSError):
                    older.unlink()
    except Exception:  # noqa: BLE001 - unwritable folder, full disk, unpicklable: no cache
        pass
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
