"""Batch orchestration: discovery, outputs, errors, ordering across jobs, resume, atomicity.

The orchestration is tested with a fake matcher (deterministic documents built from the case)
and the real case loader; `test_batch_real_*` run the real matcher on fixtures/cases.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
import stat
import time
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trialmatch.errors import InputError
from trialmatch.match import batch as batch_module
from trialmatch.match.batch import (
    SUMMARY_FIELDS,
    CaseReport,
    discover_cases,
    match_json,
    run_batch,
    store_changed_at,
    store_matcher,
    sweep_temporary_files,
    write_atomic,
)

LUAD_NOTE = "Lung, left upper lobe, biopsy: invasive adenocarcinoma. EGFR exon 19 deletion.\n"

# ------------------------------------------------------------------------ the fake matcher


def fake_match(case) -> CaseReport:
    """A deterministic stand-in for the real matcher: the document depends on the case only.

    It sleeps a little, differently per case, so that with two workers cases finish out of
    input order. Ids starting with "boom" raise a bug-like error carrying the note text, ids
    starting with "refuse" an expected error.
    """
    digest = zlib.crc32(case.id.encode())
    time.sleep((digest % 4) * 0.01)
    if case.id.startswith("boom"):
        raise ValueError(case.note_texts[0])
    if case.id.startswith("refuse"):
        raise InputError(f"case {case.id}: the store refuses it")
    missed = digest % 3
    trials = [
        {"nct_id": f"NCT{(digest + i) % 10**8:08d}", "title": f"Trial {i} <for> {case.id}",
         "status": "RECRUITING", "phases": ["PHASE2"], "score": round(0.9 - i / 10, 2),
         "verdict": "eligible" if i else "possibly_eligible", "missed": i < missed,
         "criteria": []}
        for i in range(3)
    ]
    document = {
        "case_id": case.id,
        "profile": {"age": case.age, "sex": case.sex,
                    "cancer_type": {"code": "LUAD", "name": "Lung Adenocarcinoma"},
                    "stage": {"prefix": "p", "t": "T2a", "n": "N1", "m": "M0", "group": None},
                    "biomarkers": []},
        "trials": trials,
        "excluded": [],
        "protocols": ([{"biomarker": "EGFR exon 19 deletion", "therapy": "osimertinib",
                        "source": "FDA label", "missed": True}] if digest % 2 else []),
        "testing_gaps": [{"marker": "ALK", "reason": "not documented"}] * (digest % 3),
        "discrepancies": [],
    }
    return CaseReport(document, f"# Case {case.id}\n", f"<html><body>{case.id}</body></html>\n")


def fake_matcher() -> batch_module.MatchOne:
    """Matcher factory for run_batch (module level so worker processes can unpickle it)."""
    return fake_match


def fake_store_matcher(db_path, any_status=False, top=None,
                       filters=None) -> batch_module.MatchOne:
    """Stands in for `store_matcher` in CLI tests."""
    return fake_match


def interrupting_match(case) -> CaseReport:
    if case.id == "case-c":
        raise KeyboardInterrupt
    return fake_match(case)


def interrupting_matcher() -> batch_module.MatchOne:
    return interrupting_match


# ------------------------------------------------------------------------ case folders


def write_case(folder: Path, name: str, case_id: str, *, note: str = LUAD_NOTE,
               extra: str = "") -> Path:
    """A YAML case with one note file under notes/."""
    (folder / "notes").mkdir(parents=True, exist_ok=True)
    note_path = folder / "notes" / f"{name}.txt"
    note_path.write_text(note)
    case_path = folder / f"{name}.yaml"
    case_path.write_text(f"id: {case_id}\nage: 61\nsex: female\n{extra}"
                         f"notes:\n  - path: notes/{name}.txt\n")
    return case_path


@pytest.fixture
def case_dir(tmp_path) -> Path:
    folder = tmp_path / "cases"
    for name in ("case-a", "case-b", "case-c", "case-d"):
        write_case(folder, name, name)
    return folder


def read_summary(out: Path) -> list[dict[str, str]]:
    with open(out / "summary.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def folder_bytes(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(out.iterdir())}


# ------------------------------------------------------------------------ discovery


def test_discovery_rules(tmp_path):
    root = tmp_path / "cases"
    write_case(root / "week1", "b-case", "b")
    write_case(root, "a-case", "a")
    (root / "standalone.txt").write_text(LUAD_NOTE)
    (root / "c.json").write_text(json.dumps({"id": "c", "notes": ["notes/a-case.txt"]}))
    (root / "d.yml").write_text("id: d\nnotes: [{text: 'adenocarcinoma'}]\n")
    (root / "gold").mkdir()
    (root / "gold" / "a-case.yaml").write_text("eligible: [NCT00000001]\n")
    (root / ".hidden.yaml").write_text("id: hidden\n")
    (root / "README.md").write_text("not a case\n")
    out = root / "out"
    out.mkdir()
    (out / "a.json").write_text("{}")

    found = [case.relpath for case in discover_cases(root, exclude=out)]

    # Notes named by a case are read with it; a .txt nobody names is a case of its own.
    assert found == ["a-case.yaml", "c.json", "d.yml", "standalone.txt", "week1/b-case.yaml"]
    first = discover_cases(root, exclude=out)[0]
    assert first.declared_id == "a"
    assert first.notes == ((root / "notes" / "a-case.txt").resolve(),)


def test_discovery_rejects_a_file(tmp_path):
    note = tmp_path / "x.txt"
    note.write_text(LUAD_NOTE)
    with pytest.raises(InputError):
        discover_cases(note)


@pytest.mark.parametrize("out_name, message", [
    ("cases", "must not be the case folder"),
    ("a-file", "is a file"),
])
def test_unusable_output_folder_is_an_error(case_dir, tmp_path, out_name, message):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(InputError, match=message):
        run_batch(case_dir, tmp_path / out_name, matcher_factory=fake_matcher)


def test_empty_folder_is_an_error(tmp_path):
    (tmp_path / "cases").mkdir()
    with pytest.raises(InputError, match="no case files"):
        run_batch(tmp_path / "cases", tmp_path / "out", matcher_factory=fake_matcher)


# ------------------------------------------------------------------------ outputs


def test_batch_writes_every_output(case_dir, tmp_path):
    out = tmp_path / "out"
    result = run_batch(case_dir, out, matcher_factory=fake_matcher, jobs=1)

    assert [o.status for o in result.outcomes] == ["matched"] * 4
    names = sorted(path.name for path in out.iterdir())
    assert names == sorted([f"case-{x}{s}" for x in "abcd" for s in (".json", ".md", ".html")]
                           + ["summary.csv", "index.html"])
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    document = json.loads((out / "case-a.json").read_text())
    assert document["case_id"] == "case-a"
    assert (out / "case-a.json").read_text() == (
        json.dumps(fake_match_case(case_dir / "case-a.yaml"), ensure_ascii=False) + "\n")
    rows = read_summary(out)
    assert list(rows[0]) == list(SUMMARY_FIELDS)
    assert [row["case_id"] for row in rows] == ["case-a", "case-b", "case-c", "case-d"]
    assert rows[0]["cancer_type"] == "LUAD"
    assert rows[0]["stage"] == "pT2a N1 M0"
    assert rows[0]["top_trials"] == ";".join(t["nct_id"] for t in document["trials"])
    assert rows[0]["missed_trials"] == str(sum(t["missed"] for t in document["trials"]))
    assert rows[0]["error"] == ""
    index = (out / "index.html").read_text()
    assert 'href="case-a.html"' in index and "Trial 1 &lt;for&gt; case-a" in index
    assert "@media print" in index and "http" not in index.replace("http-equiv", "")


def fake_match_case(path: Path) -> dict:
    from trialmatch.match.case import load_case

    return fake_match(load_case(path)).document


@pytest.mark.parametrize("jobs", [2, 3])
def test_results_identical_whatever_the_jobs(case_dir, tmp_path, jobs):
    for name in ("case-e", "case-f", "case-g"):
        write_case(case_dir / "more", name, name)
    serial = run_batch(case_dir, tmp_path / "serial", matcher_factory=fake_matcher, jobs=1)
    parallel = run_batch(case_dir, tmp_path / "parallel", matcher_factory=fake_matcher,
                         jobs=jobs)

    assert folder_bytes(tmp_path / "serial") == folder_bytes(tmp_path / "parallel")
    assert [o.case_id for o in parallel.outcomes] == [o.case_id for o in serial.outcomes]
    # One entry per worker that ran a case (a fast pool may leave one idle).
    assert 1 <= len(parallel.worker_peak_rss_kb) <= jobs
    assert all(peak > 0 for peak in parallel.worker_peak_rss_kb.values())


# ------------------------------------------------------------------------ bad cases


SECRET = "Patient-specific secret finding XYZZY"


def test_bad_cases_are_reported_and_others_continue(case_dir, tmp_path):
    (case_dir / "bad-yaml.yaml").write_text("id: bad-yaml\nnotes: [unclosed\n")
    write_case(case_dir, "empty-note", "empty-note", note="  \n")
    write_case(case_dir, "unknown-field", "unknown-field", extra="smoker: yes\n")
    (case_dir / "unreadable.yaml").symlink_to(case_dir / "no-such-file.yaml")
    write_case(case_dir, "boom", "boom", note=SECRET + "\n")
    write_case(case_dir, "refuse", "refuse")
    (case_dir / "blank-note.txt").write_text("\n")  # a .txt case of its own, but empty
    out = tmp_path / "out"
    (out).mkdir()
    (out / "boom.json").write_text("{}")  # last run's output for a case that now fails

    result = run_batch(case_dir, out, matcher_factory=fake_matcher, jobs=2)

    rows = {row["case_file"]: row for row in read_summary(out)}
    errors = {name: rows[name]["error"] for name in rows if rows[name]["error"]}
    assert set(errors) == {"bad-yaml.yaml", "empty-note.yaml", "unknown-field.yaml",
                           "unreadable.yaml", "boom.yaml", "refuse.yaml", "blank-note.txt"}
    assert "invalid YAML" in errors["bad-yaml.yaml"]
    assert "empty" in errors["empty-note.yaml"]
    # A key that looks like a field name is named (issue 13).
    assert "1 unknown field in the case: 'smoker'" in errors["unknown-field.yaml"]
    assert "not found" in errors["unreadable.yaml"]
    assert errors["boom.yaml"].startswith("internal error (ValueError)")
    assert "refuses it" in errors["refuse.yaml"]
    assert all("\n" not in error for error in errors.values())
    assert SECRET not in (out / "summary.csv").read_text()
    assert SECRET not in (out / "index.html").read_text()
    assert rows["bad-yaml.yaml"]["case_id"] == ""  # unknown: the file could not be parsed
    assert rows["unknown-field.yaml"]["case_id"] == "unknown-field"
    assert rows["blank-note.txt"]["case_id"] == "blank-note"  # a note's id is its file name
    assert "empty" in errors["blank-note.txt"]
    assert not (out / "boom.json").exists()  # a failed case leaves no stale report behind
    assert len(result.failed) == 7
    assert result.counts()["matched"] == 4
    assert (out / "case-a.json").exists()


@pytest.mark.parametrize("case_id, message", [
    ("../escape", "case id must be"),
    ("index", "reserved"),
    ("SUMMARY", "reserved"),
    ("with space", "case id must be"),
])
def test_case_ids_that_cannot_name_files(tmp_path, case_id, message):
    folder = tmp_path / "cases"
    write_case(folder, "one", json.dumps(case_id))
    result = run_batch(folder, tmp_path / "out", matcher_factory=fake_matcher, jobs=1)
    assert result.outcomes[0].status == "failed"
    assert message in result.outcomes[0].error
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["index.html", "summary.csv"]


def test_duplicate_id_fails_the_later_case(case_dir, tmp_path):
    write_case(case_dir / "zz", "again", "case-b")
    result = run_batch(case_dir, tmp_path / "out", matcher_factory=fake_matcher, jobs=1)
    later = result.outcomes[-1]
    assert later.case_file == "zz/again.yaml"
    assert later.status == "failed" and "duplicate case id, already used by" in later.error
    assert "case-b.yaml" in later.error
    assert result.outcomes[1].status == "matched"
    assert json.loads((tmp_path / "out" / "case-b.json").read_text())["case_id"] == "case-b"


def test_plan_decides_without_writing(case_dir, tmp_path):
    from trialmatch.match.case import load_case

    write_case(case_dir / "zz", "again", "case-a")
    (case_dir / "broken.yaml").write_text("id: [\n")
    out = tmp_path / "out"

    plan = batch_module.plan_batch(case_dir, out, load_case=load_case)

    assert not out.exists()
    assert [(o.case_file, o.status) for o in plan.decided] == [
        ("broken.yaml", "failed"), ("zz/again.yaml", "failed")]
    assert [case_id for _, case_id, _ in plan.pending] == ["case-a", "case-b", "case-c",
                                                           "case-d"]


# ------------------------------------------------------------------------ resume


def test_resume_skips_up_to_date_cases(case_dir, tmp_path):
    out = tmp_path / "out"
    first = run_batch(case_dir, out, matcher_factory=fake_matcher, jobs=1)
    summary_before = (out / "summary.csv").read_text()

    again = run_batch(case_dir, out, matcher_factory=fake_matcher, jobs=1, resume=True)
    assert [o.status for o in again.outcomes] == ["skipped"] * 4
    assert (out / "summary.csv").read_text() == summary_before  # rows come from the JSON
    assert again.counts()["with missed trials"] == first.counts()["with missed trials"]

    # A changed note makes its case stale; a later store change makes every case stale.
    later = time.time() + 5
    os.utime(case_dir / "notes" / "case-b.txt", (later, later))
    partly = run_batch(case_dir, out, matcher_factory=fake_matcher, jobs=1, resume=True)
    assert [o.status for o in partly.outcomes] == ["skipped", "matched", "skipped", "skipped"]

    all_stale = run_batch(case_dir, out, matcher_factory=fake_matcher, jobs=1, resume=True,
                          store_changed_at=time.time() + 60)
    assert [o.status for o in all_stale.outcomes] == ["matched"] * 4


def test_resume_reruns_a_case_with_a_missing_output(case_dir, tmp_path):
    out = tmp_path / "out"
    run_batch(case_dir, out, matcher_factory=fake_matcher, jobs=1)
    (out / "case-c.md").unlink()
    again = run_batch(case_dir, out, matcher_factory=fake_matcher, jobs=1, resume=True)
    assert [o.status for o in again.outcomes] == ["skipped", "skipped", "matched", "skipped"]
    assert (out / "case-c.md").exists()


def test_store_changed_at_reads_last_refresh(tmp_path):
    class FakeStore:
        def last_refresh(self):
            return {"finished": "2030-01-02T03:04:05+00:00", "outcome": "success"}

    db = tmp_path / "t.db"
    db.write_text("")
    assert store_changed_at(FakeStore(), db) == pytest.approx(1893553445.0)


# ------------------------------------------------------------------------ atomicity


def test_interrupt_leaves_only_whole_files(case_dir, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_batch(case_dir, out, matcher_factory=interrupting_matcher, jobs=1)
    names = sorted(path.name for path in out.iterdir())
    # Cases before the interrupt are complete; nothing half-written, no temporary files;
    # summary.csv and index.html list the finished cases and say how to finish.
    assert names == sorted([f"case-{x}{s}" for x in "ab" for s in (".json", ".md", ".html")]
                           + ["summary.csv", "index.html"])
    for name in names:
        if name.endswith(".json"):
            json.loads((out / name).read_text())
    assert [row["case_id"] for row in read_summary(out)] == ["case-a", "case-b"]
    index = (out / "index.html").read_text()
    assert "interrupted before 2 more: rerun the batch with --resume" in index
    resumed = run_batch(case_dir, out, matcher_factory=fake_matcher, jobs=1, resume=True)
    assert [o.status for o in resumed.outcomes] == ["skipped", "skipped", "matched", "matched"]


def test_cli_interrupt_says_to_resume(case_dir, tmp_path, empty_store, monkeypatch):
    monkeypatch.setattr("trialmatch.cli.batch.store_matcher", fake_store_matcher)
    from trialmatch.cli import app
    from trialmatch.cli.batch import _Reporter

    reported = _Reporter.case

    def ctrl_c_after_two(self, outcome):
        # Ctrl-C reaches the batch process (workers ignore SIGINT) once two cases are done.
        reported(self, outcome)
        if self.done == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(_Reporter, "case", ctrl_c_after_two)

    out = tmp_path / "out"
    result = runner.invoke(app, ["batch", str(case_dir), "--out", str(out),
                                 "--db", str(empty_store), "--jobs", "1"])
    assert result.exit_code == 130
    assert "interrupted after 2 of 4 cases" in result.stderr
    assert "Rerun with --resume" in result.stderr
    assert (out / "summary.csv").exists() and (out / "index.html").exists()


def test_resume_reruns_only_when_the_store_content_changed(case_dir, tmp_path):
    out = tmp_path / "out"

    def stamped(case):
        report = fake_match(case)
        report.document["store_fingerprint"] = "content-1"
        return CaseReport(report.document, report.markdown, report.html)

    run_batch(case_dir, out, matcher_factory=lambda: stamped, jobs=1)
    # A later write to the store (a refresh that changed nothing) does not make cases stale.
    same = run_batch(case_dir, out, matcher_factory=lambda: stamped, jobs=1, resume=True,
                     store_changed_at=time.time() + 60, store_fingerprint="content-1")
    assert {o.status for o in same.outcomes} == {"skipped"}
    changed = run_batch(case_dir, out, matcher_factory=lambda: stamped, jobs=1, resume=True,
                        store_fingerprint="content-2")
    assert {o.status for o in changed.outcomes} == {"matched"}


def test_write_atomic_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "case.json"
    target.write_text("old\n")

    def interrupted_replace(source, destination):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_module.os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert [path.name for path in tmp_path.iterdir()] == ["case.json"]


def test_leftover_temporary_files_are_swept(tmp_path):
    (tmp_path / ".trialmatch-abc123.part").write_text("half")
    (tmp_path / "case-a.json").write_text("{}")
    assert sweep_temporary_files(tmp_path) == 1
    assert [path.name for path in tmp_path.iterdir()] == ["case-a.json"]


# ------------------------------------------------------------------------ the command


runner = CliRunner()


@pytest.fixture
def empty_store(tmp_path) -> Path:
    from trialmatch.ingest.store import TrialStore

    db = tmp_path / "trials.db"
    TrialStore.open(db).close()
    return db


def test_cli_logs_one_line_per_case_and_exits_1_on_failures(case_dir, tmp_path, empty_store,
                                                            monkeypatch):
    monkeypatch.setattr("trialmatch.cli.batch.store_matcher", fake_store_matcher)
    write_case(case_dir, "boom", "boom", note=SECRET + "\n")
    from trialmatch.cli import app

    result = runner.invoke(app, ["batch", str(case_dir), "--out", str(tmp_path / "out"),
                                 "--db", str(empty_store), "--jobs", "1"])

    assert result.exit_code == 1
    log = result.stderr.splitlines()
    assert sum(line.startswith("[") for line in log) == 4  # one line per matched case
    assert any("case boom.yaml failed: internal error (ValueError)" in line for line in log)
    assert log[-1].startswith("trialmatch: error: 1 of 5 cases failed")
    assert SECRET not in result.output and SECRET not in result.stderr
    assert "with missed trials" in result.stdout and "failed" in result.stdout


def test_cli_exits_0_when_all_succeed(case_dir, tmp_path, empty_store, monkeypatch):
    monkeypatch.setattr("trialmatch.cli.batch.store_matcher", fake_store_matcher)
    from trialmatch.cli import app

    out = tmp_path / "out"
    result = runner.invoke(app, ["batch", str(case_dir), "--out", str(out),
                                 "--db", str(empty_store)])
    assert result.exit_code == 0, result.output
    assert len(read_summary(out)) == 4

    resumed = runner.invoke(app, ["batch", str(case_dir), "--out", str(out),
                                  "--db", str(empty_store), "--resume"])
    assert resumed.exit_code == 0
    assert resumed.stderr.count("up to date, skipped") == 4


def test_cli_missing_database_is_one_line_error(case_dir, tmp_path):
    from trialmatch.cli import app

    result = runner.invoke(app, ["batch", str(case_dir), "--out", str(tmp_path / "out"),
                                 "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert result.stderr.startswith("trialmatch: error: no trial database")
    assert not (tmp_path / "out").exists()


def test_real_matcher_factory_is_picklable(tmp_path):
    import pickle

    factory = functools.partial(batch_module.store_matcher, tmp_path / "t.db", False, None)
    assert pickle.loads(pickle.dumps(factory)).args == factory.args


# ------------------------------------------------------------------------ the real matcher


FIXTURE_CASES = Path(__file__).resolve().parent.parent / "fixtures" / "cases"
FIXTURE_TRIALS = FIXTURE_CASES.parent / "trials"


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory) -> Path:
    """The fixture trials, ingested and parsed into a temporary store."""
    from trialmatch.ingest.store import TrialStore
    from trialmatch.nlp.criteria import annotate_trial

    db = tmp_path_factory.mktemp("store") / "trials.db"
    studies = [json.loads(path.read_text()) for path in sorted(FIXTURE_TRIALS.glob("*.json"))]
    with TrialStore.open(db) as store:
        store.upsert_studies(studies, annotate_trial)
    return db


@pytest.fixture
def fixture_cases(tmp_path) -> Path:
    """A copy of fixtures/cases, so that the batch and the check read the same files."""
    return Path(shutil.copytree(FIXTURE_CASES, tmp_path / "fixture-cases"))


def test_batch_real_is_match_one_case_at_a_time(fixture_store, fixture_cases, tmp_path):
    from trialmatch.ingest.store import TrialStore
    from trialmatch.match.case import load_case
    from trialmatch.match.engine import match_case
    from trialmatch.match.report import render_html, render_markdown

    out = tmp_path / "out"
    result = run_batch(fixture_cases, out, jobs=2,
                       matcher_factory=functools.partial(store_matcher, fixture_store))

    assert len(result.outcomes) == len(discover_cases(fixture_cases))
    assert not result.failed, [(o.case_file, o.error) for o in result.failed]
    with TrialStore.open(fixture_store, readonly=True) as store:
        for outcome in result.outcomes:
            expected = match_case(load_case(fixture_cases / outcome.case_file), store)
            assert (out / f"{outcome.case_id}.json").read_text() == match_json(
                expected.to_dict()), outcome.case_id
            assert (out / f"{outcome.case_id}.md").read_text() == render_markdown(expected)
            assert (out / f"{outcome.case_id}.html").read_text() == render_html(expected)
    rows = read_summary(out)
    assert [row["case_id"] for row in rows] == [o.case_id for o in result.outcomes]
    assert any(row["top_trials"] for row in rows)


def test_cli_batch_json_is_what_match_prints(fixture_store, fixture_cases, tmp_path):
    from trialmatch.cli import app

    out = tmp_path / "out"
    batch_run = runner.invoke(app, ["batch", str(fixture_cases), "--out", str(out),
                                    "--db", str(fixture_store), "--jobs", "1"])
    assert batch_run.exit_code == 0, batch_run.stderr
    for case in discover_cases(fixture_cases)[:3]:
        single = runner.invoke(app, ["match", str(case.path), "--db", str(fixture_store),
                                     "--json"])
        assert single.exit_code == 0, single.stderr
        document = json.loads(single.stdout)
        assert (out / f"{document['case_id']}.json").read_text() == single.stdout
