"""Reading untrusted files: regular files only, a byte cap on what is read, YAML and JSON
with limits on aliases, tags and nesting (issue 17).

A size from `stat` is no bound: it is 0 for a device or a FIFO, so `/dev/zero` named as a
note grew until the OOM killer and a FIFO hung the batch. Here a path is refused by its type
before it is opened (and again on the opened descriptor, which a swapped file cannot fool), is
opened non-blocking, and at most `limit + 1` bytes are ever read.

Every error is an `InputError` naming the file as the caller labels it; none quotes content.
Used by `ingest` (study JSON), `nlp.notes` (note files) and `match.case` (case files); this
module imports nothing else of trialmatch but `errors`.
"""

from __future__ import annotations

import json
import os
import re
import stat
from itertools import accumulate
from pathlib import Path
from typing import Any

import yaml

from trialmatch.errors import InputError
from trialmatch.regex_cache import re_compile

# Invisible characters that change what a word is or how a line reads: soft hyphen, Arabic
# letter mark, Mongolian vowel separator, zero-width space/non-joiner/joiner, left-to-right and
# right-to-left marks, bidi embeddings and overrides, word joiner and invisible operators, bidi
# isolates, and a byte-order mark inside the text. Removed from notes before they are read,
# and from registry text before it reaches a report (a bidi override reorders what the reader
# sees).
INVISIBLE = re_compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                       "\u2066-\u2069\ufeff]")

# YAML and JSON nested deeper than this are refused before they are built: a case is a few
# levels deep, a study record about ten; 2,000 nested brackets ended a run with RecursionError.
MAX_NESTING = 64


def disable_core_dumps() -> None:
    """No core dump of this process or its children: a process that read notes holds their
    text in memory, and a dump of it was found to hold it (issue 17). RLIMIT_CORE 0, soft and
    hard, is inherited by every worker; systemd-coredump honours it too."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_limited(path: str | Path, limit: int, label: str | None = None, *,
                 what: str = "file") -> bytes:
    """The bytes of the regular file at `path` (symlinks followed), at most `limit` of them.

    Raises InputError naming `label` (default: the path) when the file is missing, is not a
    regular file (folder, device, FIFO, socket: refused before it is opened), cannot be read,
    or holds more than `limit` bytes (found by reading one byte past the limit, never by
    trusting its size).
    """
    label = str(path) if label is None else label
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    except OSError as error:
        raise InputError(f"{label}: cannot read ({error.strerror or type(error).__name__})") \
            from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{label}: is {_kind_of(info.st_mode)}, not a {what}")
    if info.st_size > limit:
        raise InputError(f"{label}: {what} is larger than {_size(limit)}")
    try:
        # O_NONBLOCK: were the path swapped for a FIFO since the stat, open does not wait.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise InputError(f"{label}: cannot read ({error.strerror or type(error).__name__})") \
            from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise InputError(f"{label}: is {_kind_of(os.fstat(descriptor).st_mode)}, "
                             f"not a {what}")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(descriptor, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as error:
        raise InputError(f"{label}: cannot read ({error.strerror or type(error).__name__})") \
            from None
    finally:
        os.close(descriptor)
    data = b"".join(chunks)
    if len(data) > limit:
        raise InputError(f"{label}: {what} is larger than {_size(limit)}")
    return data


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit // (1024 * 1024)} MB"
    return f"{limit // 1024} KB" if limit >= 1024 else f"{limit} bytes"


# --------------------------------------------------------------------------- JSON

# A JSON string, so that brackets inside one are not counted as nesting. Written as runs of
# plain characters between escapes ("unrolled"), which `re` scans in one tight loop: the
# alternation `(?:[^"\\]|\\.)*` matches the same strings but tries it per character, and took
# 1.5 ms of a 57 KB study (more than json.loads itself) on every ingested file.
_JSON_STRING = re_compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(data: bytes | str) -> int:
    """How deeply the JSON text nests arrays and objects (linear time, no recursion)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    # The running depth after each bracket; the deepest is its largest value (never below 0,
    # as for text that closes more than it opened).
    return max(0, max(accumulate(_BRACKET_STEP[byte] for byte in brackets)))


def load_json(data: bytes | str, label: str, max_nesting: int = MAX_NESTING) -> Any:
    """Parse JSON text; InputError naming `label` (line and column, never content) when it
    is not JSON or nests deeper than `max_nesting`."""
    if json_depth(data) > max_nesting:
        raise InputError(f"{label}: JSON nested deeper than {max_nesting} levels")
    try:
        return json.loads(data)
    except json.JSONDecodeError as error:
        raise InputError(f"{label}: invalid JSON at line {error.lineno} column {error.colno}: "
                         f"{error.msg}") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{label}: not UTF-8 text (bad byte at offset {error.start})") \
            from None
    except (ValueError, RecursionError):
        raise InputError(f"{label}: invalid JSON") from None


# --------------------------------------------------------------------------- YAML

# Tags YAML itself gives plain values; anything else (`!JaneDoe`, `!!python/object`) is
# refused without naming it, since a tag is text of the document.
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in (
    "str", "int", "float", "bool", "null", "seq", "map"))


class _RefusedYaml(Exception):
    """A YAML feature a case may not use; the message names no content."""

    def __init__(self, message: str, mark: Any):
        super().__init__(message)
        self.message = message
        self.mark = mark


class _CaseYamlLoader(yaml.SafeLoader):
    """SafeLoader without aliases, anchors or custom tags, and with a nesting cap.

    An alias bomb (379 bytes, a billion strings) is refused at its first alias, before any
    value is built. Scalars named in `as_text` at the top level are kept as written
    (`id: 00123` stays "00123", not 83; `12:30:00` is not 45000).
    """

    max_nesting = MAX_NESTING
    as_text: frozenset[str] = frozenset()

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _RefusedYaml("YAML aliases (*name) are not allowed", event.start_mark)
        if getattr(event, "anchor", None) is not None:
            raise _RefusedYaml("YAML anchors (&name) are not allowed", event.start_mark)
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in _PLAIN_TAGS:
            raise _RefusedYaml("YAML tags (!name) are not allowed", event.start_mark)
        self._depth += 1
        if self._depth > self.max_nesting:
            raise _RefusedYaml(f"YAML nested deeper than {self.max_nesting} levels",
                               event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_document(self, node: Any) -> Any:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if (isinstance(key, yaml.ScalarNode) and key.value in self.as_text
                        and isinstance(value, yaml.ScalarNode) and value.style is None
                        and value.tag != "tag:yaml.org,2002:null"):
                    value.tag = "tag:yaml.org,2002:str"
        return super().construct_document(node)


# A problem message of PyYAML's may quote the document ("found undefined tag handle '!x'",
# "found unknown escape character 'q'"): whatever it quotes is left out.
_QUOTED = re_compile(r"'[^']*'|\"[^\"]*\"")


def load_yaml(text: str, label: str, *, as_text: frozenset[str] = frozenset()) -> Any:
    """Parse one YAML document safely (see `_CaseYamlLoader`); InputError naming `label`,
    the line and column, never a value, tag or alias name from the document."""
    loader_class = type("_Loader", (_CaseYamlLoader,), {"as_text": as_text})
    loader = None
    try:
        loader = loader_class(text)  # its reader refuses some characters at once
        return loader.get_single_data()
    except _RefusedYaml as error:
        raise InputError(f"{label}: {error.message}{_where(error.mark)}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = _QUOTED.sub("(not shown)", getattr(error, "problem", None) or "")
        raise InputError(f"{label}: invalid YAML{_where(mark)}: "
                         f"{problem or 'malformed document'}") from None
    except RecursionError:
        raise InputError(f"{label}: YAML nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()


def _where(mark: Any) -> str:
    return f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
