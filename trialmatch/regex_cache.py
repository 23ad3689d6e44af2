"""Compiled regular expressions kept between runs (issue 19: compiling the package's ~700
patterns, most of them when the note reader and the criteria helpers are imported, was
about a third of what `trialmatch match` spends beyond importing spaCy).

`re_compile(pattern, flags)` is `re.compile`, served from a table of the programs that
Python's regex compiler made for the same (pattern, flags) in an earlier run. `re.compile`
parses a pattern, compiles it into a program for the regex engine and hands that to
`_sre.compile`; with the program at hand only the last step runs, and the engine checks the
program before use, as it does for any. The table is one entry of the per-user cache
(`trialmatch.cache`), keyed by the trialmatch and Python versions and the engine's version
(`_sre.MAGIC`): another interpreter never reads it. Anything wrong with the table or an
entry falls back to `re.compile`, so the cache can make a start slower, never different.

`save()` writes the table when this run compiled patterns it did not hold; the CLI calls it
as a command ends. Only the package's own patterns (in its code and data files) go through
here, never one made from a patient's notes or a user's query.
"""

from __future__ import annotations

import _sre
import re
import threading
from array import array
from re import _compiler, _parser  # type: ignore[attr-defined]
from typing import Any, AnyStr

from trialmatch.cache import entry_path, read_entry, write_entry

_NAME = "regexes"
# (pattern, flags) -> what `_sre.compile` takes after the pattern: the flags with those the
# pattern sets inline, the program (kept as an array of the engine's code units, which
# pickles as one block of bytes: ten times quicker to read than a list of ints), the number
# of groups, and the group names both ways.
_Program = tuple[int, array, int, dict[str, int], tuple[str | None, ...]]
_CODE_UNIT = next((unit for unit in "IL" if array(unit).itemsize == _sre.CODESIZE), "")
_table: dict[tuple[Any, int], _Program] | None = None
_added = 0
# Past this many programs the table starts again from this run's (a bound on what patterns
# no longer in the package, or made some other way each run, can make it grow to).
_MOST = 5000
_used: set[tuple[Any, int]] = set()
_lock = threading.Lock()


def _sources() -> list[bytes]:
    return [_NAME.encode(), str(_sre.MAGIC).encode(), str(_sre.CODESIZE).encode()]


def _programs() -> dict[tuple[Any, int], _Program]:
    global _table
    if _table is None:
        with _lock:
            if _table is None:
                _table = read_entry(entry_path(_NAME, _sources()), dict) or {}
    return _table


def re_compile(pattern: AnyStr, flags: int | re.RegexFlag = 0) -> re.Pattern[AnyStr]:
    """`re.compile(pattern, flags)`, without parsing and compiling a pattern compiled in an
    earlier run."""
    global _added
    flags = int(flags)
    if not isinstance(pattern, (str, bytes)) or flags & re.DEBUG:
        return re.compile(pattern, flags)
    table = _programs()
    key = (pattern, flags)
    _used.add(key)
    program = table.get(key)
    if program is not None:
        try:
            flags_set, code, groups, groupindex, indexgroup = program
            return _sre.compile(pattern, flags_set, code.tolist(), groups, groupindex,
                                indexgroup)
        except Exception:  # noqa: BLE001 - a damaged entry: compile as re does
            table.pop(key, None)
    try:
        # What re._compiler.compile does, keeping the program it hands to the engine.
        parsed = _parser.parse(pattern, flags)
        code = _compiler._code(parsed, flags)
        groupindex = dict(parsed.state.groupdict)
        indexgroup: list[str | None] = [None] * parsed.state.groups
        for name, index in groupindex.items():
            indexgroup[index] = name
        flags_set, groups = flags | parsed.state.flags, parsed.state.groups - 1
        compiled = _sre.compile(pattern, flags_set, code, groups, groupindex, tuple(indexgroup))
        program = (flags_set, array(_CODE_UNIT, code), groups, groupindex, tuple(indexgroup))
    except re.error:
        raise
    except Exception:  # noqa: BLE001 - the re internals changed: use re as it is
        return re.compile(pattern, flags)
    table[key] = program
    _added += 1
    return compiled


def save() -> None:
    """Keep the programs compiled in this run for the next (nothing when none was new)."""
    global _added
    if not _added or _table is None:
        return
    with _lock:
        table, _added = dict(_table), 0
    if len(table) > _MOST:
        table = {key: program for key, program in table.items() if key in _used}
    write_entry(entry_path(_NAME, _sources()), _NAME, table)
