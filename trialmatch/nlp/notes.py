"""Reading a note file (or stdin) into text, refusing what cannot be a pathology note.

Decisions, documented here and in the CLI help:
- Encoding: UTF-8 only (a UTF-8 byte-order mark is dropped). A file that is not valid UTF-8
  is rejected with a hint to convert it, rather than guessed at: a wrong guess (latin-1 versus
  cp1252 versus UTF-16) silently changes words such as "négatif" or "µm", and an extractor
  must not read findings out of mojibake.
- Size: at most MAX_NOTE_BYTES (5 MiB). The size is checked before reading (stdin is read at
  most one byte past the limit), so a huge file never enters memory. Real pathology reports
  are a few kilobytes; 5 MiB leaves room for long molecular reports and merged OCR output.
- Binary: any NUL byte means the file is not text (PDF, image, Word file).
- Empty or whitespace-only: rejected.
Error messages name the file and never quote its content.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

from trialmatch.errors import InputError

MAX_NOTE_BYTES = 5 * 1024 * 1024


def _label(path: Path | str) -> str:
    return "stdin" if str(path) == "-" else str(path)


def decode_note(data: bytes, label: str = "note") -> str:
    """Check raw note bytes and decode them as UTF-8; raise InputError naming `label`."""
    if len(data) > MAX_NOTE_BYTES:
        raise InputError(
            f"{label}: note is larger than {MAX_NOTE_BYTES // (1024 * 1024)} MB",
            hint="split it into separate notes; pathology reports are a few KB",
        )
    if b"\x00" in data:
        raise InputError(
            f"{label}: looks like a binary file (NUL bytes), not a text note",
            hint="export the report as plain text",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{label}: not valid UTF-8 (bad byte at offset {error.start})",
            hint="convert it, e.g. iconv -f latin1 -t utf-8",
        ) from None
    if not text.strip():
        raise InputError(f"{label}: note is empty")
    return text


def read_note(path: Path | str) -> str:
    """Read one note as text; "-" reads stdin.

    Raises InputError (one line naming the file, never its content) for a missing or
    unreadable file, an empty or whitespace-only note, a binary file, text that is not UTF-8,
    or a note over MAX_NOTE_BYTES (checked before the file is read).
    """
    label = _label(path)
    if str(path) == "-":
        stream = getattr(sys.stdin, "buffer", None)
        data = stream.read(MAX_NOTE_BYTES + 1) if stream is not None else (
            sys.stdin.read(MAX_NOTE_BYTES + 1).encode("utf-8")
        )
        return decode_note(data, label)
    file = Path(path)
    try:
        if not file.exists():
            raise InputError(f"{label}: no such file")
        if file.is_dir():
            raise InputError(f"{label}: is a directory, not a note file")
        if file.stat().st_size > MAX_NOTE_BYTES:
            raise InputError(
                f"{label}: note is larger than {MAX_NOTE_BYTES // (1024 * 1024)} MB",
                hint="split it into separate notes; pathology reports are a few KB",
            )
        data = file.read_bytes()
    except OSError as error:
        raise InputError(f"{label}: cannot read ({error.strerror or type(error).__name__})") \
            from None
    return decode_note(data, label)


_CAPS_WORD = re.compile(r"\b[A-Z0-9l]*[A-Z][A-Z0-9l]*\b")
_LOWER_L_START = re.compile(r"(?<![A-Za-z0-9])l(?=[bcdfghjkmnpqrstvwxz][a-z]{2,})")


def _repair_caps(match: re.Match[str]) -> str:
    word = match.group(0)
    if sum(ch.isupper() for ch in word) < 3 or not any(ch in "l01" for ch in word):
        return word
    chars = list(word)
    for index, ch in enumerate(chars):
        inside = 0 < index < len(chars) - 1 and chars[index - 1].isalpha() and (
            chars[index + 1].isalpha())
        if ch == "l":
            chars[index] = "I"
        elif ch in "01" and inside:
            chars[index] = "O" if ch == "0" else "I"
    return "".join(chars)


def _plain_letter(ch: str) -> str:
    base = unicodedata.normalize("NFKD", ch)[0]
    return base if base.isascii() and base.isalpha() else ch


_ACCENTED = re.compile(r"[À-ÖØ-öø-ž]")


def repair_ocr(text: str) -> str:
    """Undo the commonest OCR letter confusions without changing the text's length, so that
    offsets still point into the note: a lower-case l inside an all-capitals word
    ("CARClNOMA"), 0 or 1 between capitals ("ESTR0GEN"), l for I at the start of a word
    ("lnvasive"), and accents read into letters ("carçinoma"). Words that are already words
    are left alone."""
    # OCR reads stray accents into English words ("carçinoma"): one letter for one letter.
    text = _ACCENTED.sub(lambda match: _plain_letter(match.group(0)), text)
    text = _CAPS_WORD.sub(_repair_caps, text)
    return _LOWER_L_START.sub("I", text)


# OCR reads the letter o as a zero inside words ("Tum0r Pr0portion Sc0re", "ser0us
# carcin0ma", "n0 rearrangement"). Only a zero between lowercase letters, or starting a
# lowercase word, is repaired; TNM and markers ("N0", "pT1N0M0", "CD20") keep theirs.
_OCR_ZERO_INSIDE = re.compile(r"(?<=[a-z])0(?=[a-z])")
_OCR_ZERO_START = re.compile(r"(?<![\w.,/])0(?=[a-z]{2,})")


# And the other way round, the letter O read inside a number ("plt 2O5", "Hgb 11.O",
# "Cr O.9", "cisplatin 4O mg/m2"): a number-like run that starts with a digit (or "O." and a
# digit) and touches no letter has its O's read as zeros. "O2 sat" (oxygen) starts with the
# letter and is left alone, as are "T2N0M0" and "CD20", which hold no letter O.
_OCR_O_NUMBER = re.compile(r"(?<![A-Za-z0-9.])(?:\d[\dO]*(?:[.,][\dO]+)*|O[.,]\d[\dO]*)"
                           r"(?![A-Za-z0-9])")


def _zeros_for_o(match: re.Match[str]) -> str:
    return match.group(0).replace("O", "0")


def repair_ocr_zeros(text: str) -> str:
    """The text with OCR's zero-for-o repaired inside lowercase words, and its O-for-zero
    inside numbers (same length, so every offset still indexes the note as given)."""
    if "O" in text:
        text = _OCR_O_NUMBER.sub(_zeros_for_o, text)
    if "0" not in text:
        return text
    text = _OCR_ZERO_INSIDE.sub("o", text)
    return _OCR_ZERO_START.sub("o", text)
