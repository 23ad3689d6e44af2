"""The store and the process under mistaken use (issue 17): readers who cannot write, a full
disk, a read-only filesystem, a newer or damaged store, a failing ROLLBACK, the refresh lock
through a symlink, `requests` only in refresh, no core dumps, search linear in the query, and
Markdown reports that cannot carry a link from a record.

Where the behaviour is the process's (permissions, filesystems), real subprocesses run the
real command: without CAP_DAC_OVERRIDE (setpriv) as the "other user" of a cron-owned store,
and in a private mount namespace (unshare) for a small tmpfs and a read-only bind mount.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fixture_store import build_fixture_store

from trialmatch import __version__
from trialmatch.errors import StoreError
from trialmatch.ingest.refresh import refresh_lock
from trialmatch.ingest.store import MAX_SEARCH_WORDS, TrialStore, search_words

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
TRIALMATCH = Path(sys.executable).parent / "trialmatch"
DEMO = FIXTURES / "cases" / "demo.yaml"


@pytest.fixture(scope="module")
def built_store(tmp_path_factory) -> Path:

    path = tmp_path_factory.mktemp("store-hostile") / "trials.db"
    build_fixture_store(path)
    return path


def run(*args: str, prefix: tuple[str, ...] = (), timeout: float = 300
        ) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)


def one_error_line(result: subprocess.CompletedProcess, words: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    # (refresh, a cron command, starts each line with its ISO-8601 time)
    assert len(lines) == 1 and re.match(r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ )?"
                                        r"trialmatch: error: ", lines[0]), lines
    assert words in lines[0], lines[0]


def _can(prefix: list[str]) -> bool:
    if shutil.which(prefix[0]) is None:
        return False
    try:
        return subprocess.run([*prefix, "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


NO_DAC = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner")
needs_other_user = pytest.mark.skipif(
    os.geteuid() != 0 or not _can(list(NO_DAC)),
    reason="needs root and setpriv to run as a user that cannot write the store")
needs_namespace = pytest.mark.skipif(not _can(["unshare", "-rm"]),
                                     reason="needs unshare -rm (a private mount namespace)")


# ----------------------------------------------------------------------- read-only stores


@needs_other_user
def test_a_user_who_cannot_write_the_store_reads_it(built_store, tmp_path):
    """The README's cron layout: the store and its folder owned by the cron user (here: root
    without its override capability, for whom 0444/0555 bind like for anyone)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.copy(built_store, shared / "trials.db")
    os.chmod(shared / "trials.db", 0o444)
    os.chmod(shared, 0o555)
    db = str(shared / "trials.db")
    try:
        stats = run(str(TRIALMATCH), "stats", "--db", db, "--json", prefix=NO_DAC)
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["trials"] > 0
        matched = run(str(TRIALMATCH), "match", str(DEMO), "--db", db, "--json", prefix=NO_DAC)
        assert matched.returncode == 0, matched.stderr
        assert json.loads(matched.stdout)["trials"]
        out = tmp_path / "out"
        batch = run(str(TRIALMATCH), "batch", str(FIXTURES / "cases"), "--out", str(out),
                    "--db", db, "--jobs", "1", prefix=NO_DAC)
        assert (out / "summary.csv").exists(), batch.stderr
        one_error_line(run(str(TRIALMATCH), "ingest", str(FIXTURES / "trials"), "--db", db,
                           prefix=NO_DAC), "is read-only for this user")
        os.chmod(out, 0o555)
        one_error_line(run(str(TRIALMATCH), "batch", str(FIXTURES / "cases"), "--out",
                           str(out / "sub"), "--db", db, prefix=NO_DAC),
                       f"cannot create --out {out / 'sub'}: Permission denied")
        assert sorted(p.name for p in shared.iterdir()) == ["trials.db"]  # nothing written
    finally:
        os.chmod(shared, 0o755)


@needs_other_user
def test_an_older_store_that_this_user_cannot_upgrade_is_one_line(tmp_path):
    from trialmatch.ingest.migrations import migrate

    shared = tmp_path / "old"
    shared.mkdir()
    conn = sqlite3.connect(shared / "trials.db", isolation_level=None)
    migrate(conn, upto="m007_primary_purpose")
    conn.close()
    os.chmod(shared / "trials.db", 0o444)
    os.chmod(shared, 0o555)
    try:
        one_error_line(run(str(TRIALMATCH), "stats", "--db", str(shared / "trials.db"),
                           prefix=NO_DAC),
                       "has an older schema and this user cannot upgrade it")
    finally:
        os.chmod(shared, 0o755)


@needs_namespace
def test_a_store_on_a_read_only_filesystem_is_read_and_never_written(built_store, tmp_path):
    shared = tmp_path / "ro"
    shared.mkdir()
    shutil.copy(built_store, shared / "trials.db")
    script = (
        f'mount --bind "{shared}" "{shared}" && mount -o remount,bind,ro "{shared}" && '
        f'"{TRIALMATCH}" stats --db "{shared}/trials.db" --json && '
        f'"{TRIALMATCH}" match "{DEMO}" --db "{shared}/trials.db" --json > /dev/null && '
        f'"{TRIALMATCH}" ingest "{FIXTURES / "trials"}" --db "{shared}/trials.db"'
    )
    result = run("unshare", "-rm", "sh", "-c", script)
    assert json.loads(result.stdout.splitlines()[0])["trials"] > 0, result.stderr
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"trialmatch: error: the trial database at {shared}/trials.db is read-only for this "
        "user (or on a read-only filesystem) (run refresh, ingest and reparse as the store's "
        "owner; stats, show, match and batch only read it)"]


@needs_namespace
def test_a_full_disk_is_one_line_and_loses_nothing(built_store, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    script = (
        f'mount -t tmpfs -o size=400k tmpfs "{small}" && '
        f'"{TRIALMATCH}" ingest "{FIXTURES / "trials"}" --db "{small}/trials.db"; '
        f'echo "ingest exit $?"; '
        f'"{TRIALMATCH}" stats --db "{small}/trials.db" --json; '
        f'cp "{built_store}" "{small}/fill" 2>/dev/null; '
        f'"{TRIALMATCH}" match "{DEMO}" --db "{built_store}" --report "{small}/r.md" '
        "> /dev/null; "
        f'"{TRIALMATCH}" batch "{FIXTURES / "cases"}" --out "{small}/out" --db "{built_store}" '
        "--jobs 1 > /dev/null"
    )
    result = run("unshare", "-rm", "sh", "-c", script)
    lines = result.stderr.strip().splitlines()
    assert lines[0] == ("trialmatch: error: the disk holding the trial database is full; the "
                        "transaction in progress was rolled back, nothing is half-written "
                        "(free some space and run the command again)"), lines
    assert "ingest exit 1" in result.stdout
    # What was committed before the disk filled is whole: the store opens and checks out.
    stats = json.loads(result.stdout.splitlines()[1])
    assert stats["trials"] == stats["parsed"]
    assert lines[1] == (f"trialmatch: error: cannot write the report {small}/r.md: No space "
                        "left on device"), lines
    assert lines[2].startswith(f"trialmatch: error: cannot write {small}/out/"), lines
    assert lines[2].endswith(": No space left on device (free some space and run the batch "
                             "again)"), lines
    assert len(lines) == 3


class _RollbackFails:
    """A connection whose ROLLBACK fails, as it can on a full disk."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def execute(self, sql: str, *args):
        if sql == "ROLLBACK":
            raise sqlite3.OperationalError("cannot rollback - no transaction is active")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_a_failing_rollback_never_masks_the_first_error(built_store, tmp_path):
    path = tmp_path / "t.db"
    shutil.copy(built_store, path)
    store = TrialStore.open(path)
    real = store.conn
    store.conn = _RollbackFails(real)
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"), \
            store.snapshot():
        raise sqlite3.OperationalError("database or disk is full")
    real.close()


def test_a_store_from_a_newer_trialmatch_is_refused_naming_the_version(built_store, tmp_path):
    path = tmp_path / "newer.db"
    shutil.copy(built_store, path)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m042_future', 'x')")
    conn.execute("UPDATE store_info SET value = '9.1.0' WHERE key = 'requires_trialmatch'")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    for readonly in (True, False):
        with pytest.raises(StoreError) as caught:
            TrialStore.open(path, readonly=readonly)
        assert "written by a newer trialmatch (schema m042_future); it needs trialmatch " \
               f"9.1.0 or newer, this is {__version__}" in str(caught.value)
    assert path.read_bytes() == before  # not migrated, not written
    assert not Path(f"{path}-wal").exists()


def test_the_store_records_the_version_it_requires(tmp_path):
    from trialmatch import __version__

    with TrialStore.open(tmp_path / "t.db") as store:
        assert store.conn.execute("SELECT value FROM store_info WHERE key = "
                                  "'requires_trialmatch'").fetchone() == (__version__,)


def test_refresh_and_stats_stop_on_a_damaged_store(built_store, tmp_path):
    bad = tmp_path / "bad.db"
    shutil.copy(built_store, bad)
    conn = sqlite3.connect(bad)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = "
                        "'idx_trials_overall_status'").fetchone()[0]
    conn.close()
    data = bytearray(bad.read_bytes())
    start = (root - 1) * page_size
    data[start + 8:start + page_size] = b"Z" * (page_size - 8)
    bad.write_bytes(bytes(data))
    for command in (["stats"], ["refresh", "--api-url", "http://127.0.0.1:9/api/v2"]):
        one_error_line(run(str(TRIALMATCH), *command, "--db", str(bad)),
                       "is damaged (SQLite quick_check failed)")
    assert bad.read_bytes() == bytes(data)


def test_the_refresh_lock_follows_the_resolved_path(tmp_path):
    (tmp_path / "real").mkdir()
    db = tmp_path / "real" / "trials.db"
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with refresh_lock(db, wait=0), pytest.raises(StoreError, match="another refresh"), \
            refresh_lock(tmp_path / "link" / "trials.db", wait=0):
        pass
    assert sorted(p.name for p in (tmp_path / "link").iterdir()) == ["trials.db.refresh.lock"]


# ----------------------------------------------------------------------- the process


PROBE = (
    "import sys, resource\n"
    "from trialmatch.cli import main\n"
    "sys.argv = ['trialmatch'] + sys.argv[1:]\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "print('requests.sessions' in sys.modules, 'urllib3' in sys.modules,"
    " resource.getrlimit(resource.RLIMIT_CORE), file=sys.stderr)\n"
)


@pytest.mark.parametrize("args, core", [
    (["extract", "--json", str(FIXTURES / "cases" / "notes" / "demo-nsclc.txt")], "(0, 0)"),
    (["match", str(DEMO), "--json"], "(0, 0)"),
    (["stats"], None),
])
def test_requests_is_imported_by_refresh_only_and_note_readers_dump_no_core(
        built_store, args, core, tmp_path):
    if not Path(args[-1]).exists() and args[0] == "extract":
        args[-1] = str(next((FIXTURES / "cases" / "notes").glob("*.txt")))
    result = run(sys.executable, "-c", PROBE, *args, "--db", str(built_store)
                 ) if args[0] != "extract" else run(sys.executable, "-c", PROBE, *args)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("False False"), result.stderr
    if core is not None:
        assert last.endswith(core), last


def test_search_is_linear_in_the_query(built_store):
    words = search_words(" ".join(["cancer", "Cancer", "CANCER"] * 5000 + ["lymphoma"]))
    assert words == ["cancer", "lymphoma"]
    many = search_words(" ".join(f"w{i}" for i in range(10_000)))
    assert len(many) == MAX_SEARCH_WORDS
    with TrialStore.open(built_store, readonly=True) as store:
        assert store.search_text("lymphoma " * 4000) == store.search_text("lymphoma")


def test_markdown_reports_escape_links_images_and_bidi_from_records():
    from trialmatch.match.report import _h, _md

    title = "Study [click](http://evil.example) ![x](http://evil.example/p.png) \u202egnp.exe"
    cell = _md(title)
    assert "](" not in cell.replace("\\](", "") and "\\[click\\]" in cell
    assert "\u202e" not in cell and "\u202e" not in _h(title)
