"""Patient data stays on the machine: `extract`, `match` and `batch` open no connection at all.

Two layers of proof:
- in-process (CliRunner) with `socket.socket.connect`, `connect_ex`, `socket.create_connection`
  and `getaddrinfo` replaced by functions that record the attempt and raise;
- real processes (the installed `trialmatch` entry point) with the same blocker installed by a
  `sitecustomize.py` on PYTHONPATH, so it also covers `batch`'s spawned worker processes. Each
  process that loads the blocker leaves a `loaded-<pid>` file, and any attempt leaves an
  `attempt-<pid>` file, so a connection that the code caught and ignored still fails the test.

Only `refresh` talks to the network; it takes no case or note, and the test checks that what
it sends is the registry query alone.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from ctgov_fake import FakeCtgov, make_studies
from fixture_store import build_fixture_store
from typer.testing import CliRunner

import trialmatch.cli.trials as trials_cli
from trialmatch.cli import app
from trialmatch.ingest.client import CtgovClient, RetryPolicy
from trialmatch.ingest.refresh import build_query

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
TRIALMATCH = Path(sys.executable).parent / "trialmatch"
runner = CliRunner()

# The sitecustomize that blocks every way out of a real process. Written to a temporary
# folder that goes first on PYTHONPATH, so it wins over a distribution's own sitecustomize.
BLOCKER = '''
import os
import socket

_LOG = os.environ.get("TRIALMATCH_NET_LOG")


def _note(kind, detail=""):
    if _LOG:
        with open(os.path.join(_LOG, f"{kind}-{os.getpid()}"), "a") as handle:
            handle.write(detail + "\\n")


def _refuse(name):
    def refuse(*args, **kwargs):
        _note("attempt", f"{name} {args[1:2]!r}")
        raise OSError(f"network blocked by the test: {name}")
    return refuse


socket.socket.connect = _refuse("connect")
socket.socket.connect_ex = _refuse("connect_ex")
socket.create_connection = _refuse("create_connection")
socket.getaddrinfo = _refuse("getaddrinfo")
_note("loaded")
'''


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory) -> Path:
    """The fixture trials, parsed, in a temporary store."""

    path = tmp_path_factory.mktemp("net-store") / "trials.db"
    build_fixture_store(path)
    return path


@pytest.fixture
def case_dir(tmp_path) -> Path:
    """Three fixture cases (with their notes) in a folder of their own, for batch."""
    folder = tmp_path / "cases"
    (folder / "notes").mkdir(parents=True)
    for name in ("demo.yaml", "case-crc-braf.json", "case-nsclc-ros1.txt"):
        shutil.copy(FIXTURES / "cases" / name, folder / name)
    for case in ("demo.yaml", "case-crc-braf.json"):
        text = (FIXTURES / "cases" / case).read_text()
        for note in (FIXTURES / "cases" / "notes").glob("*.txt"):
            if f"notes/{note.name}" in text:
                shutil.copy(note, folder / "notes" / note.name)
    return folder


@pytest.fixture
def no_network(monkeypatch) -> list[tuple[str, tuple]]:
    """Every way to open a connection raises; the returned list records each attempt."""
    attempts: list[tuple[str, tuple]] = []

    def refuse(name):
        def refused(*args, **kwargs):
            attempts.append((name, args[1:2]))
            raise OSError(f"network blocked by the test: {name}")
        return refused

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    return attempts


def test_the_blocker_really_blocks(no_network):
    # Guard against a fixture that silently blocks nothing.
    with pytest.raises(OSError, match="blocked"):
        socket.create_connection(("127.0.0.1", 9))
    with socket.socket() as sock, pytest.raises(OSError, match="blocked"):
        sock.connect(("127.0.0.1", 9))
    assert [name for name, _ in no_network] == ["create_connection", "connect"]


def test_extract_match_and_batch_in_process_without_network(no_network, fixture_db, case_dir,
                                                            tmp_path):
    extracted = runner.invoke(app, ["extract", "--json",
                                    str(FIXTURES / "notes" / "lung_adenocarcinoma_synoptic.txt")])
    assert extracted.exit_code == 0, extracted.output
    assert json.loads(extracted.stdout)["cancer_type"]["code"] == "LUAD"

    report = tmp_path / "report.md"
    matched = runner.invoke(app, ["match", str(case_dir / "demo.yaml"), "--db", str(fixture_db),
                                  "--json", "--report", str(report)])
    assert matched.exit_code == 0, matched.output
    document = json.loads(matched.stdout)
    assert document["case_id"] == "demo-nsclc-egfr" and document["trials"]
    assert report.stat().st_size > 0

    out = tmp_path / "out"
    batched = runner.invoke(app, ["batch", str(case_dir), "--out", str(out), "--db",
                                  str(fixture_db), "--jobs", "1"])
    assert batched.exit_code == 0, batched.output
    assert (out / "demo-nsclc-egfr.json").exists() and (out / "summary.csv").exists()
    assert no_network == []


def test_watch_add_and_run_in_process_without_network(no_network, fixture_db, case_dir,
                                                     tmp_path):
    db = tmp_path / "trials.db"
    shutil.copy(fixture_db, db)  # the watch list is written to the store
    added = runner.invoke(app, ["watch", "add", str(case_dir / "demo.yaml"), "--db", str(db)])
    assert added.exit_code == 0, added.output
    ran = runner.invoke(app, ["watch", "run", "--db", str(db), "--out", str(tmp_path / "d")])
    assert ran.exit_code == 0, ran.output
    assert "1 with changes" in ran.stdout and list((tmp_path / "d").glob("watch-*.json"))
    assert no_network == []


def _blocked_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    log = tmp_path / "netlog"
    log.mkdir()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env["TRIALMATCH_NET_LOG"] = str(log)
    # A proxy setting must not matter either: nothing should try to reach it.
    env["HTTPS_PROXY"] = env["HTTP_PROXY"] = "http://192.0.2.1:3128"
    return env, log


def test_real_processes_match_and_batch_with_sockets_blocked(fixture_db, case_dir, tmp_path):
    env, log = _blocked_env(tmp_path)
    out = tmp_path / "out"
    # Two processes at once: `match` and a two-worker `batch` (spawned workers load the
    # blocker too, which the loaded-<pid> files show).
    matching = subprocess.Popen(
        [str(TRIALMATCH), "match", str(case_dir / "demo.yaml"), "--db", str(fixture_db),
         "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    batching = subprocess.Popen(
        [str(TRIALMATCH), "batch", str(case_dir), "--out", str(out), "--db", str(fixture_db),
         "--jobs", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    match_out, match_err = matching.communicate(timeout=120)
    batch_out, batch_err = batching.communicate(timeout=120)
    assert matching.returncode == 0, match_err
    assert json.loads(match_out)["case_id"] == "demo-nsclc-egfr"
    assert batching.returncode == 0, batch_err
    assert {p.name for p in out.glob("*.json")} >= {"demo-nsclc-egfr.json",
                                                     "case-crc-braf.json"}
    loaded = list(log.glob("loaded-*"))
    assert len(loaded) >= 4, "the blocker must load in match, batch and both workers"
    attempts = {p.name: p.read_text() for p in log.glob("attempt-*")}
    assert attempts == {}


def test_real_process_extract_from_stdin_with_sockets_blocked(tmp_path):
    env, log = _blocked_env(tmp_path)
    note = (FIXTURES / "notes" / "lung_adenocarcinoma_synoptic.txt").read_text()
    done = subprocess.run([str(TRIALMATCH), "extract", "--json", "-"], input=note, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["cancer_type"]["code"] == "LUAD"
    assert list(log.glob("loaded-*")) and not list(log.glob("attempt-*"))


# ----------------------------------------------------------------------- refresh sends no data

FAST = RetryPolicy(timeout=5, max_retries=0, backoff=0.01, max_backoff=0.02, min_interval=0)
QUERY_KEYS = {"format", "pageSize", "query.cond", "filter.overallStatus", "filter.advanced"}
PAGING_KEYS = {"pageToken", "countTotal"}


def test_refresh_sends_only_the_registry_query(tmp_path, monkeypatch):
    monkeypatch.setattr("trialmatch.ingest.client.CtgovClient",
                        lambda url: CtgovClient(url, policy=FAST))
    monkeypatch.setattr(trials_cli, "_annotator", lambda: (None, None))
    db = tmp_path / "trials.db"
    with FakeCtgov(make_studies(20), page_size=8) as api:
        result = runner.invoke(app, ["refresh", "--api-url", api.url, "--db", str(db),
                                     "--condition", "lung cancer", "--status", "RECRUITING"])
        assert result.exit_code == 0, result.output
        paths = {path for path, _ in api.requests}
        studies_requests = api.studies_requests()
    assert paths == {"/api/v2/version", "/api/v2/studies"}
    expected = {key: str(value) for key, value in
                build_query(condition="lung cancer", statuses=["RECRUITING"], since=None).items()}
    assert len(studies_requests) == 3
    for params in studies_requests:
        assert set(params) <= QUERY_KEYS | PAGING_KEYS
        assert {k: v for k, v in params.items() if k in QUERY_KEYS} == expected
    # Paging only: the first page asks for the count, later pages carry the server's token.
    assert studies_requests[0].get("countTotal") == "true"
    assert all(p["pageToken"].startswith("tok-") for p in studies_requests[1:])


def test_refresh_takes_no_patient_input():
    # The command's only inputs are the store, the API URL, the registry query and how to
    # run: `--watch` and its `--out` run the local watch list once the registry is done.
    import inspect

    assert set(inspect.signature(trials_cli.refresh).parameters) == {
        "db", "api_url", "full", "condition", "status", "force", "jobs", "watch", "out"}
    client = CtgovClient("http://127.0.0.1:9/api/v2")
    assert set(client.session.headers) <= {"User-Agent", "Accept", "Accept-Encoding",
                                           "Connection"}
    assert not client.session.cookies
