"""Compiled patterns kept between runs (trialmatch.regex_cache): the same patterns as
re.compile's, read back instead of compiled, and never a failure of their own."""

import pickle
import re

import pytest

from trialmatch import regex_cache
from trialmatch.cache import entry_path

PATTERNS = [
    (r"(?P<marker>HER2|ERBB2)[\s-]*(?P<status>positive|negative|\+|-)", re.IGNORECASE),
    (r"(?<![A-Za-z0-9])stage\s+(I{1,3}V?|IV)[A-C]?(?![A-Za-z0-9])", 0),
    (r"(?i:\bany\s+M\b)|M0", 0),
    (r"^\s*-\s+(.*)$", re.MULTILINE),
    (rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL),
]
TEXTS = ["HER2-positive, ERBB2 negative", "Stage IIIB or stage IV NSCLC, any M", " - item\n - two",
         "Her2 + and her2-"]


@pytest.fixture()
def fresh(monkeypatch):
    """A process that has read no table yet."""
    monkeypatch.setattr(regex_cache, "_table", None)
    monkeypatch.setattr(regex_cache, "_added", 0)
    monkeypatch.setattr(regex_cache, "_used", set())


def table_path():
    return entry_path("regexes", regex_cache._sources())


def same(compiled, expected, texts):
    assert (compiled.pattern, compiled.flags, compiled.groups, compiled.groupindex) == (
        expected.pattern, expected.flags, expected.groups, expected.groupindex)
    for text in texts:
        assert [(m.span(), m.groups()) for m in compiled.finditer(text)] == [
            (m.span(), m.groups()) for m in expected.finditer(text)]


@pytest.mark.parametrize(("pattern", "flags"), PATTERNS)
def test_a_pattern_read_back_is_the_pattern_re_compiles(fresh, pattern, flags):
    texts = [t.encode() for t in TEXTS] if isinstance(pattern, bytes) else TEXTS
    first = regex_cache.re_compile(pattern, flags)
    same(first, re.compile(pattern, flags), texts)
    regex_cache.save()
    assert table_path().exists()

    regex_cache._table, regex_cache._added = None, 0  # the next run
    again = regex_cache.re_compile(pattern, flags)
    assert regex_cache._added == 0  # read back, not compiled
    same(again, re.compile(pattern, flags), texts)


def test_nothing_is_written_when_every_pattern_was_in_the_table(fresh):
    regex_cache.re_compile(r"\bECOG\s+[0-2]\b")
    regex_cache.save()
    written = table_path().stat().st_mtime_ns
    regex_cache._table, regex_cache._added = None, 0
    regex_cache.re_compile(r"\bECOG\s+[0-2]\b")
    regex_cache.save()
    assert table_path().stat().st_mtime_ns == written


def test_a_damaged_table_or_entry_falls_back_to_re(fresh):
    path = table_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a pickle")
    assert regex_cache.re_compile(r"KRAS\s+G12C").search("a KRAS G12C mutation")

    # An entry whose program the regex engine refuses: compiled again, as re does.
    regex_cache._table = {(r"BRAF\s+V600E", 0): (0, [999999], 0, {}, (None,))}
    assert regex_cache.re_compile(r"BRAF\s+V600E").search("BRAF V600E") is not None


def test_a_pattern_error_is_re_compiles_error(fresh):
    with pytest.raises(re.error):
        regex_cache.re_compile(r"(unclosed")


def test_an_unwritable_cache_dir_is_done_without(fresh, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("TRIALMATCH_CACHE_DIR", str(blocker / "cache"))
    assert regex_cache.re_compile(r"PD-?L1").search("PD-L1 TPS 50%")
    regex_cache.save()  # no error


def test_the_table_is_bounded(fresh, monkeypatch):
    monkeypatch.setattr(regex_cache, "_MOST", 3)
    for number in range(5):
        regex_cache.re_compile(f"old{number}")
    regex_cache.save()
    regex_cache._table, regex_cache._added, regex_cache._used = None, 0, set()
    regex_cache.re_compile("new")
    regex_cache.save()
    with table_path().open("rb") as handle:
        assert set(pickle.load(handle)) == {("new", 0)}
