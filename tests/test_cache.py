"""The per-user cache of built structures (trialmatch.cache) and the vocabulary kept in it."""

import pickle
import stat

import pytest

import trialmatch.cache as cache
from trialmatch.cache import load_or_build
from trialmatch.nlp import vocab as vocab_module


class Built:
    """What a test caches: a value and how many times it was built."""

    builds = 0

    def __init__(self, value: str) -> None:
        Built.builds += 1
        self.value = value


@pytest.fixture(autouse=True)
def count_builds():
    Built.builds = 0
    yield


def entries(folder, name="thing"):
    return sorted(folder.glob(f"{name}-*.pickle"))


def test_second_load_reads_the_entry_instead_of_building(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALMATCH_CACHE_DIR", str(tmp_path))
    first = load_or_build("thing", [b"data v1"], lambda: Built("one"), Built)
    second = load_or_build("thing", [b"data v1"], lambda: Built("two"), Built)
    assert (first.value, second.value, Built.builds) == ("one", "one", 1)
    [entry] = entries(tmp_path)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".*.tmp"))


def test_changed_sources_or_version_are_a_new_entry_and_the_stale_one_goes(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("TRIALMATCH_CACHE_DIR", str(tmp_path))
    load_or_build("thing", [b"data v1"], lambda: Built("old"), Built)
    [stale] = entries(tmp_path)
    fresh = load_or_build("thing", [b"data v2"], lambda: Built("new"), Built)
    assert fresh.value == "new" and Built.builds == 2
    [entry] = entries(tmp_path)
    assert entry != stale
    monkeypatch.setattr(cache, "__version__", "99.0")
    assert load_or_build("thing", [b"data v2"], lambda: Built("release"), Built).value == \
        "release"
    assert Built.builds == 3 and entries(tmp_path) != [entry]


def test_sources_are_not_confused_by_where_one_ends():
    assert cache.cache_key([b"ab", b"c"]) != cache.cache_key([b"a", b"bc"])


@pytest.mark.parametrize("damage", [
    b"",  # empty
    b"not a pickle at all",
    pickle.dumps(Built("x"))[:20],  # truncated
    pickle.dumps({"a": "dict"}),  # a valid pickle of something else
])
def test_a_corrupt_or_foreign_entry_is_rebuilt_and_rewritten(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("TRIALMATCH_CACHE_DIR", str(tmp_path))
    load_or_build("thing", [b"data"], lambda: Built("good"), Built)
    [entry] = entries(tmp_path)
    entry.write_bytes(damage)
    Built.builds = 0
    assert load_or_build("thing", [b"data"], lambda: Built("rebuilt"), Built).value == \
        "rebuilt"
    assert Built.builds == 1
    with entry.open("rb") as handle:
        assert pickle.load(handle).value == "rebuilt"


def test_an_unwritable_cache_dir_is_done_without(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TRIALMATCH_CACHE_DIR", str(blocker / "cache"))
    assert load_or_build("thing", [b"data"], lambda: Built("one"), Built).value == "one"
    assert load_or_build("thing", [b"data"], lambda: Built("two"), Built).value == "two"


def test_something_that_cannot_be_pickled_is_returned_uncached(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALMATCH_CACHE_DIR", str(tmp_path))

    class Unpicklable(Built):
        def __reduce__(self):
            raise TypeError("cannot pickle this")

    assert load_or_build("thing", [b"data"], lambda: Unpicklable("one"), Built).value == "one"
    assert entries(tmp_path) == [] and not list(tmp_path.glob(".*.tmp"))


def test_build_errors_propagate(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALMATCH_CACHE_DIR", str(tmp_path))

    def broken() -> Built:
        raise ValueError("bad data file")

    with pytest.raises(ValueError, match="bad data file"):
        load_or_build("thing", [b"data"], broken, Built)
    assert entries(tmp_path) == []


@pytest.fixture
def fresh_vocabulary():
    """get_vocabulary() as in a new process, before and after the test."""
    vocab_module.get_vocabulary.cache_clear()
    yield
    vocab_module.get_vocabulary.cache_clear()


def test_vocabulary_is_cached_and_a_corrupt_cache_is_rebuilt(tmp_path, monkeypatch,
                                                              fresh_vocabulary):
    monkeypatch.setenv("TRIALMATCH_CACHE_DIR", str(tmp_path))
    built = vocab_module.get_vocabulary()
    [entry] = entries(tmp_path, "vocabulary")
    vocab_module.get_vocabulary.cache_clear()
    loaded = vocab_module.get_vocabulary()
    assert loaded is not built
    assert [m.key for m in loaded.find_cancer_types("invasive ductal carcinoma")] == \
        [m.key for m in built.find_cancer_types("invasive ductal carcinoma")] == ["IDC"]

    entry.write_bytes(b"\x80\x05garbage")
    vocab_module.get_vocabulary.cache_clear()
    rebuilt = vocab_module.get_vocabulary()
    assert [m.key for m in rebuilt.find_sites("right upper lobe")] == ["lung"]
    with entry.open("rb") as handle:
        assert isinstance(pickle.load(handle), vocab_module.Vocabulary)


def test_vocabulary_cache_follows_the_oncotree_file(tmp_path, monkeypatch, fresh_vocabulary):
    """$TRIALMATCH_ONCOTREE is part of the key: another tree is another entry."""
    monkeypatch.setenv("TRIALMATCH_CACHE_DIR", str(tmp_path))
    vocab_module.get_vocabulary()
    [plain] = entries(tmp_path, "vocabulary")
    tree = tmp_path / "oncotree.json"
    tree.write_text('{"TISSUE": {"code": "TISSUE", "name": "Tissue", "children": {}}}',
                    encoding="utf-8")
    monkeypatch.setenv("TRIALMATCH_ONCOTREE", str(tree))
    vocab_module.get_vocabulary.cache_clear()
    vocab_module.get_vocabulary()
    [with_tree] = entries(tmp_path, "vocabulary")
    assert with_tree != plain


def test_a_cached_pattern_comes_back_through_the_compiled_pattern_cache(tmp_path,
                                                                       monkeypatch):
    """Patterns in an entry are written as calls of regex_cache.re_compile, so that reading
    the entry does not compile them again; they match as before."""
    import re

    from trialmatch import regex_cache

    monkeypatch.setenv("TRIALMATCH_CACHE_DIR", str(tmp_path))
    pattern = re.compile(r"(?P<gene>EGFR|ALK)\s+(?:exon\s+\d+\s+)?(?:deletion|fusion)", re.I)
    load_or_build("thing", [b"a"], lambda: {"pattern": pattern}, dict)
    [entry] = entries(tmp_path)
    assert b"re_compile" in entry.read_bytes()
    read = load_or_build("thing", [b"a"], lambda: pytest.fail("rebuilt"), dict)["pattern"]
    assert (read.pattern, read.flags) == (pattern.pattern, pattern.flags)
    assert read.search("an egfr exon 19 deletion").group("gene") == "egfr"
    assert (pattern.pattern, pattern.flags) in regex_cache._programs()


def test_the_drug_lexicon_is_cached(tmp_path, monkeypatch):
    from trialmatch.nlp import drugs

    monkeypatch.setenv("TRIALMATCH_CACHE_DIR", str(tmp_path))
    drugs.get_lexicon.cache_clear()
    try:
        built = drugs.get_lexicon()
        assert len(entries(tmp_path, "drugs")) == 1
        drugs.get_lexicon.cache_clear()
        loaded = drugs.get_lexicon()
        assert loaded is not built and loaded.drug_by_name == built.drug_by_name
        text = "Prior FOLFOX and pembrolizumab (Keytruda); no anti-PD-1 antibody since"
        assert loaded.drug_pattern.find(text) == built.drug_pattern.find(text)
        assert loaded.class_pattern.find(text) == built.class_pattern.find(text)
        assert loaded.drug_pattern.find(text)  # (it finds something)
    finally:
        drugs.get_lexicon.cache_clear()
