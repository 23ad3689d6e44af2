"""Reading a note file (or stdin) into text, refusing what cannot be a pathology note.

Decisions, documented here and in the CLI help:
- Encoding: UTF-8 only (a UTF-8 byte-order mark is dropped). A file that is not valid UTF-8
  is rejected with a hint to convert it, rather than guessed at: a wrong guess (latin-1 versus
  cp1252 versus UTF-16) silently changes words such as "négatif" or "µm", and an extractor
  must not read findings out of mojibake.
- Size: at most MAX_NOTE_BYTES (5 MiB), bounded by what is read (at most one byte past the
  limit), never by the file's reported size: a device or FIFO reports 0. Only regular files
  are read (`trialmatch.inputs.read_limited`); devices, FIFOs and sockets are refused by type
  before they are opened. Real pathology reports are a few kilobytes; 5 MiB leaves room for
  long molecular reports and merged OCR output.
- Binary: a PDF, an image, an Office or zip file (by its first bytes), or a file of mostly
  non-text bytes is refused. A stray NUL or control byte in text (OCR output carries them: 5
  of 600 real reports) is removed, with a warning naming the note (issue 18).
- Invisible characters: zero-width characters, the soft hyphen and bidi controls are removed
  before reading, with a warning naming the note: "adeno\u200bcarcinoma" hid the finding,
  and bidi controls reorder what a reader of the report sees (issue 17).
- Empty or whitespace-only, before or after that cleaning: rejected.
Error messages and warnings name the file and never quote its content.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from trialmatch.errors import InputError
from trialmatch.inputs import INVISIBLE
from trialmatch.regex_cache import re_compile

MAX_NOTE_BYTES = 5 * 1024 * 1024

# What a binary file starts with: PDF, PNG, JPEG, GIF, TIFF, zip (docx, xlsx), OLE (doc, xls),
# RTF is text and passes.
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00",
                 b"MM\x00*", b"PK\x03\x04", b"\xd0\xcf\x11\xe0")
# Bytes that are no text: C0 controls but tab, newline, vertical tab, form feed and carriage
# return, and DEL. More than this share of them in the first 64 KB is a binary file.
_CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 11, 12, 13}) + b"\x7f"
_BINARY_SHARE = 0.05
_SAMPLE_BYTES = 64 * 1024
# Stray control characters in decoded text: the control bytes above and the C1 controls.
_STRAY_CONTROLS = re_compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
@dataclass
class NoteText:
    """A note's text as read, ready for extraction, and the warnings its cleaning raised
    (each names the note, never its content)."""

    text: str
    warnings: list[str] = field(default_factory=list)


def _label(path: Path | str) -> str:
    return "stdin" if str(path) == "-" else str(path)


def _looks_binary(data: bytes) -> bool:
    if data.startswith(_BINARY_MAGIC):
        return True
    sample = data[:_SAMPLE_BYTES]
    if not sample:
        return False
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls / len(sample) > _BINARY_SHARE


def clean_note_text(text: str, label: str = "note") -> NoteText:
    """The text with stray control characters and invisible characters removed, and one
    warning naming `label` for each kind removed; InputError when nothing is left."""
    warnings = []
    text, controls = _STRAY_CONTROLS.subn("", text)
    if controls:
        warnings.append(f"{label}: removed {controls} stray control character(s) (NUL or "
                        "other non-printing bytes)")
    text, invisible = INVISIBLE.subn("", text)
    if invisible:
        warnings.append(f"{label}: removed {invisible} invisible character(s) (zero-width or "
                        "bidi controls)")
    if not text.strip():
        removed = " after removing invisible and control characters" if (
            controls or invisible) else ""
        raise InputError(f"{label}: note is empty{removed}")
    return NoteText(text, warnings)


def decode_note_text(data: bytes, label: str = "note") -> NoteText:
    """Check raw note bytes, decode them as UTF-8 and clean them (`clean_note_text`);
    raise InputError naming `label`."""
    if len(data) > MAX_NOTE_BYTES:
        raise InputError(
            f"{label}: note is larger than {MAX_NOTE_BYTES // (1024 * 1024)} MB",
            hint="split it into separate notes; pathology reports are a few KB",
        )
    if _looks_binary(data):
        raise InputError(
            f"{label}: looks like a binary file (PDF, image or mostly non-text bytes), not a "
            "text note",
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
    return clean_note_text(text, label)


def decode_note(data: bytes, label: str = "note") -> str:
    """`decode_note_text` without its warnings: the cleaned text only."""
    return decode_note_text(data, label).text


def read_note_text(path: Path | str, label: str | None = None) -> NoteText:
    """Read one note; "-" reads stdin. `label` names it in messages (default: the path).

    Raises InputError (one line naming the note, never its content) for a missing or
    unreadable file, anything but a regular file (a folder, device, FIFO or socket, refused
    before it is opened), an empty or whitespace-only note, a binary file, text that is not
    UTF-8, or a note over MAX_NOTE_BYTES (at most one byte past the limit is ever read).
    """
    label = _label(path) if label is None else label
    if str(path) == "-":
        stream = getattr(sys.stdin, "buffer", None)
        data = stream.read(MAX_NOTE_BYTES + 1) if stream is not None else (
            sys.stdin.read(MAX_NOTE_BYTES + 1).encode("utf-8")
        )
        return decode_note_text(data, label)
    from trialmatch.inputs import read_limited

    try:
        data = read_limited(path, MAX_NOTE_BYTES, label, what="note file")
    except InputError as error:
        if "larger than" in error.message:
            raise InputError(
                f"{label}: note is larger than {MAX_NOTE_BYTES // (1024 * 1024)} MB",
                hint="split it into separate notes; pathology reports are a few KB",
            ) from None
        raise
    return decode_note_text(data, label)


def read_note(path: Path | str) -> str:
    """Read one note as text (`read_note_text` without its warnings); "-" reads stdin."""
    return read_note_text(path).text


# Longest run of punctuation passed whole to the tokenizer. spaCy's tokenizer strips one
# prefix or suffix character at a time and searches the rest of the chunk again, so a chunk of
# n punctuation characters costs n squared: "(" x 5,000 + text + ")" x 5,000 took 16 s, twice
# that 62 s (issue 17). Long runs of spaces or tabs are quadratic too, in the clause splitter's
# look-ahead for a line end. Past these lengths every further character at that period is
# replaced (a space in punctuation, a full stop in blanks), so no run is longer and no long
# blank run is made: same length, so every offset still points into the note. Real notes have
# shorter rules and gaps (none in the fixtures).
MAX_PUNCTUATION_RUN = 24
MAX_SPACE_RUN = 200
_LONG_RUN = re_compile(rf"(?:[^\w\s]|_){{{MAX_PUNCTUATION_RUN + 1},}}"
                       rf"|[ \t]{{{MAX_SPACE_RUN + 1},}}")


def _cut_run(run: re.Match[str]) -> str:
    text = run.group(0)
    if text[0] in " \t":
        keep, mark = MAX_SPACE_RUN, "."
    else:
        keep, mark = MAX_PUNCTUATION_RUN, " "
    chars = list(text)
    chars[keep::keep + 1] = mark * len(chars[keep::keep + 1])
    return "".join(chars)


# Every run _LONG_RUN cuts holds one of these, each a single character class: the regex
# engine scans for a class far faster than for an alternation, so that a note without a long
# run is passed over cheaply.
_MAYBE_LONG_PUNCTUATION = re_compile(rf"[^\sA-Za-z0-9]{{{MAX_PUNCTUATION_RUN + 1}}}")
_MAYBE_LONG_BLANK = re_compile(rf"[ \t]{{{MAX_SPACE_RUN + 1}}}")
_LONG_SPACE_RUN = " " * (MAX_SPACE_RUN + 1)


def _may_hold_long_blank(text: str) -> bool:
    """Whether `text` may hold a run _LONG_RUN cuts in blanks. Without a tab the run is all
    spaces, and str's substring search finds it a hundred times faster than the regex."""
    if "\t" not in text:
        return _LONG_SPACE_RUN in text
    return _MAYBE_LONG_BLANK.search(text) is not None


def cut_long_runs(text: str) -> str:
    """`text` with no run of more than MAX_PUNCTUATION_RUN punctuation characters, nor of
    more than MAX_SPACE_RUN spaces and tabs: every (limit + 1)th character of a longer run is
    replaced, by a space in punctuation and a full stop in blanks. Same length, so offsets are
    unchanged; idempotent."""
    if len(text) <= MAX_PUNCTUATION_RUN or not (_MAYBE_LONG_PUNCTUATION.search(text)
                                                or _may_hold_long_blank(text)):
        return text
    return _LONG_RUN.sub(_cut_run, text)


# A word of capitals, digits and l: only one with two capitals or more and an l, 0 or 1 can
# be repaired (_repair_caps), so only those are matched.
_CAPS_WORD = re_compile(r"\b(?=[A-Z0-9l]*[l01])(?:[0-9l]*[A-Z]){2}[A-Z0-9l]*\b")
# An l starting a word before a consonant: the l is matched first and what stands before it
# checked after, so that the regex engine can skip to each l.
_LOWER_L_START = re_compile(r"l(?<![A-Za-z0-9]l)(?=[bcdfghjkmnpqrstvwxz][a-z]{2,})")


# A TNM category run together ("T1N0M0", "T2N1M0"): its digits are no OCR damage.
_TNM_RUN = re_compile(r"(?:[TNM](?:[0-4X]|is)[a-dA-D]?\d?|[cpyr])+")


def _repair_caps(match: re.Match[str]) -> str:
    word = match.group(0)
    if len(word) < 3 or sum(ch.isupper() for ch in word) < 2 or \
            not any(ch in "l01" for ch in word) or _TNM_RUN.fullmatch(word):
        return word
    # A short capitals word ("F0R", "N0T") has only its zero read as O: "C1D1" is a date.
    few = sum(ch.isupper() for ch in word) < 3
    chars = list(word)
    for index, ch in enumerate(chars):
        inside = 0 < index < len(chars) - 1 and chars[index - 1].isalpha() and (
            chars[index + 1].isalpha())
        if few and ch != "0":
            continue
        if ch == "l":
            chars[index] = "I"
        elif ch in "01" and inside:
            chars[index] = "O" if ch == "0" else "I"
    return "".join(chars)


def _plain_letter(ch: str) -> str:
    base = unicodedata.normalize("NFKD", ch)[0]
    return base if base.isascii() and base.isalpha() else ch


_ACCENTED = re_compile(r"[À-ÖØ-öø-ž]")


# A result word with OCR's l or 1 for i ("negatlve", "Retalned", "posit1ve"): one letter
# for one letter, only in these words, whose spelling is known.
_OCR_RESULT_WORD = re_compile(r"(?i)\b(?:negat[l1|]ve|pos[l1|]t[l1|]ve|posit[l1|]ve|pos[l1|]tive|"
                              r"reta[l1|]ned|detectab[l1|]e)\b")


def _result_word(match: re.Match[str]) -> str:
    word = match.group(0)
    fixed = re.sub(r"[l1|](?=ve\b|ned\b)|(?<=pos)[l1|]|(?<=posit)[l1|]", "i", word, flags=re.I)
    return fixed if len(fixed) == len(word) else word


def repair_ocr(text: str) -> str:
    """Undo the commonest OCR letter confusions without changing the text's length, so that
    offsets still point into the note: a lower-case l inside an all-capitals word
    ("CARClNOMA"), 0 or 1 between capitals ("ESTR0GEN"), l for I at the start of a word
    ("lnvasive"), and accents read into letters ("carçinoma"). Words that are already words
    are left alone."""
    # OCR reads stray accents into English words ("carçinoma"): one letter for one letter.
    if not text.isascii():
        text = _ACCENTED.sub(lambda match: _plain_letter(match.group(0)), text)
    text = _CAPS_WORD.sub(_repair_caps, text)
    text = _OCR_RESULT_WORD.sub(_result_word, text)
    return _LOWER_L_START.sub("I", text)


# OCR reads the letter o as a zero inside words ("Tum0r Pr0portion Sc0re", "ser0us
# carcin0ma", "n0 rearrangement", "L0ss"). Only a zero between lowercase letters, after a
# word's capital first letter other than T, N or M, or starting a lowercase word, is
# repaired; TNM and markers ("N0", "pT1N0M0", "CD20") keep theirs.
# (The zero first, what stands before it checked after: the engine skips from zero to zero.)
_OCR_ZERO_INSIDE = re_compile(r"0(?<=[a-z]0)(?=[a-z])|0(?<=\b[A-LO-SU-Z]0)(?=[a-z]{2,}\b)")
_OCR_ZERO_START = re_compile(r"0(?<![\w.,/]0)(?=[a-z]{2,})")


# And the other way round, the letter O read inside a number ("plt 2O5", "Hgb 11.O",
# "Cr O.9", "cisplatin 4O mg/m2"): a number-like run that starts with a digit (or "O." and a
# digit) and touches no letter has its O's read as zeros. "O2 sat" (oxygen) starts with the
# letter and is left alone, as are "T2N0M0" and "CD20", which hold no letter O.
# The look-ahead passes over numbers without an O (their repair would change nothing): the
# numbers matched are the same, fewer reach _zeros_for_o.
_OCR_O_NUMBER = re_compile(r"(?<![A-Za-z0-9.])(?=[\dO.,]*O)"
                           r"(?:\d[\dO]*(?:[.,][\dO]+)*|O[.,]\d[\dO]*)(?![A-Za-z0-9])")
# A match of _OCR_O_NUMBER that holds an O (the others change nothing) has one right after
# a digit, or after a digit and a stop (its first O), or before a stop and a digit ("O.9"):
# a note without one is passed over (the regex above is tried at every character; this one
# jumps from O to O).
_O_BY_DIGIT = re_compile(r"O(?:(?=[.,]\d)|(?<=\dO)|(?<=\d[.,]O))")


def _zeros_for_o(match: re.Match[str]) -> str:
    return match.group(0).replace("O", "0")


# And inside a cluster-of-differentiation marker ("CD2O p0sitive", "CD1O negative").
# (The CD first, what stands before it checked after: the engine skips from CD to CD.)
_OCR_O_CD = re_compile(r"CD(?<![A-Za-z0-9]CD)(?=[\dO]*\d)[\dO]{1,3}(?![A-Za-z0-9])")


# And inside a protein change ("BRAF V6OOE", "KRAS G12D"): one-letter amino acid, digits
# with O's among them, one-letter amino acid.
_OCR_O_VARIANT = re_compile(r"(?<![A-Za-z0-9])[ACDEFGHIKLMNPQRSTVWY]\d[\dO]*O[\dO]*"
                            r"[ACDEFGHIKLMNPQRSTVWY*](?![A-Za-z0-9])")


# "N0 high-grade lesion or invasive carcinoma identified": the word "No" read with a zero at
# the start of a sentence, before a lower-case word (the nodal category stands beside T or M,
# or before a bracket: "T2 N0 M0", "pN: N0 (0/12)").
_OCR_NO_WORD = re.compile(r"(?:^|(?<=\n)|(?<=[.;:] )|(?<=[.;:]  )|(?<=[.;:]   )|(?<=- ))"
                          r"N0(?= +[a-z]{2,})", re.MULTILINE)


def repair_ocr_zeros(text: str) -> str:
    """The text with OCR's zero-for-o repaired inside lowercase words, and its O-for-zero
    inside numbers and CD marker names (same length, so every offset still indexes the note
    as given)."""
    if "O" in text:
        if _O_BY_DIGIT.search(text):
            text = _OCR_O_NUMBER.sub(_zeros_for_o, text)
        if "CD" in text:
            text = _OCR_O_CD.sub(_zeros_for_o, text)
        text = _OCR_O_VARIANT.sub(_zeros_for_o, text)
    if "0" not in text:
        return text
    text = _OCR_ZERO_INSIDE.sub("o", text)
    if "N0 " in text:
        text = _OCR_NO_WORD.sub("No", text)
    return _OCR_ZERO_START.sub("o", text)
