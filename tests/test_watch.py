"""The watch list against the local stand-in API: refresh, change the registry, refresh again,
and `watch run` reports exactly what changed for each followed case, once.

The registry changes of a night: a trial closes, a criterion is rewritten, a site starts
recruiting, a new trial opens, a study is withdrawn; the case file changes too. Matching is
the real pipeline on trials parsed by the real criteria parser.
"""

import json
import os
import re
import stat

import pytest
from ctgov_fake import FakeCtgov, make_study
from typer.testing import CliRunner

from trialmatch.cli import app
from trialmatch.ingest.client import CtgovClient, RetryPolicy
from trialmatch.ingest.refresh import refresh
from trialmatch.ingest.store import TrialStore
from trialmatch.match.watch import CaseChanges, compare
from trialmatch.nlp.criteria import annotate_trial

runner = CliRunner()
FAST = RetryPolicy(timeout=5, max_retries=1, backoff=0.01, max_backoff=0.02, min_interval=0)
STAMP = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z "
MARKER = "ZEBRAQUAIL"  # a word in the note that must never reach stdout, stderr or a log
ECOG_0_1 = ("Inclusion Criteria:\n\n* Age 18 or older\n* ECOG performance status 0-1\n\n"
            "Exclusion Criteria:\n\n* Pregnancy")
ECOG_0 = ("Inclusion Criteria:\n\n* Age 18 or older\n* ECOG performance status 0\n\n"
          "Exclusion Criteria:\n\n* Pregnancy")
BOSTON = {"facility": "Test Cancer Center", "city": "Boston", "state": "Massachusetts",
          "country": "United States", "status": "RECRUITING"}
DENVER = {"facility": "Rocky Mountain Oncology", "city": "Denver", "state": "Colorado",
          "country": "United States", "status": "RECRUITING"}


def write_case(path, *, ecog=1):
    path.write_text(f"""id: watch-1
age: 60
sex: female
ecog: {ecog}
notes:
  - text: "Lung adenocarcinoma, stage IV. EGFR exon 19 deletion detected by NGS. {MARKER}."
""")
    return path


def registry():
    return [
        make_study("NCT90000001", title="Trial that will close"),
        make_study("NCT90000002", title="Trial whose criterion changes", criteria=ECOG_0_1),
        make_study("NCT90000003", title="Trial that opens a site", locations=[BOSTON]),
        make_study("NCT90000004", title="Breast trial", conditions=["Breast Cancer"]),
    ]


def refresh_store(db, api, **options):
    with TrialStore.open(db) as store:
        return refresh(store, CtgovClient(api.url, policy=FAST), annotate=annotate_trial,
                       **options)


def watch_run(db, out):
    result = runner.invoke(app, ["watch", "run", "--db", str(db), "--out", str(out)])
    assert MARKER not in result.output
    return result


def digest(out, result):
    """The JSON digest the run's summary names (and check its Markdown and HTML siblings)."""
    match = re.search(r"digest (\S+)\.md ", result.stdout)
    assert match, result.stdout
    stem = match.group(1)
    for suffix in (".md", ".html", ".json"):
        assert stat.S_IMODE(os.stat(stem + suffix).st_mode) == 0o600
    return json.loads(open(stem + ".json").read()), open(stem + ".md").read(), \
        open(stem + ".html").read()


def night_of_changes(api):
    """A trial closes, a criterion is rewritten, a site opens, a trial is new."""
    api.studies[0] = make_study("NCT90000001", title="Trial that will close",
                                status="ACTIVE_NOT_RECRUITING", last_update="2026-11-21")
    api.studies[1] = make_study("NCT90000002", title="Trial whose criterion changes",
                                criteria=ECOG_0, last_update="2026-11-21")
    api.studies[2] = make_study("NCT90000003", title="Trial that opens a site",
                                locations=[BOSTON, DENVER], last_update="2026-11-21")
    api.studies.append(make_study("NCT90000005", title="A new trial", last_update="2026-11-21"))
    api.data_timestamp = "2026-11-21T08:00:00"


@pytest.fixture
def followed(tmp_path):
    """A store refreshed once from the stand-in API, with one watched case."""
    db, case = tmp_path / "trials.db", write_case(tmp_path / "case.yaml")
    with FakeCtgov(registry()) as api:
        refresh_store(db, api)
        added = runner.invoke(app, ["watch", "add", str(case), "--db", str(db)])
        assert added.exit_code == 0, added.output
        assert added.stdout.strip() == f"watching case watch-1 ({case})"
        yield db, case, api, tmp_path / "digests"


def test_first_run_lists_the_trials_then_a_second_run_reports_nothing(followed):
    db, _, _, out = followed
    first = watch_run(db, out)
    assert first.exit_code == 0, first.output
    assert re.fullmatch(STAMP + r"watch: 1 cases, 1 with changes: 3 newly eligible, .*\n",
                        first.stdout)
    assert "watch-1" not in first.stdout  # cron mails it: counts only
    document, markdown, page = digest(out, first)
    [case] = document["cases"]
    assert case["first_run"] is True
    assert sorted(t["nct_id"] for t in case["newly_listed"]) == [
        "NCT90000001", "NCT90000002", "NCT90000003"]
    assert "## Case watch-1" in markdown and "### Newly eligible or possibly eligible" in markdown
    assert "<h2>Case watch-1</h2>" in page
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600  # the store now holds a case

    files = sorted(os.listdir(out))
    second = watch_run(db, out)
    assert second.exit_code == 0
    assert re.fullmatch(STAMP + r"watch: 1 cases, no changes since the last run\n",
                        second.stdout)
    assert sorted(os.listdir(out)) == files  # nothing new: no digest


def test_a_night_of_registry_changes_is_reported_once(followed):
    db, _, api, out = followed
    assert watch_run(db, out).exit_code == 0
    night_of_changes(api)
    assert refresh_store(db, api).mode == "incremental"

    result = watch_run(db, out)
    assert result.exit_code == 0, result.output
    assert ("1 newly eligible, 1 closed, 1 verdicts changed, 1 with new sites, 0 new "
            "protocols, 0 case files re-read" in result.stdout)
    document, markdown, page = digest(out, result)
    [case] = document["cases"]
    assert "first_run" not in case and "new_protocols" not in case  # empty: left out
    assert case["newly_listed"] == [{"nct_id": "NCT90000005", "title": "A new trial",
                                     "verdict": "eligible", "status": "RECRUITING"}]
    assert case["closed"] == [{"nct_id": "NCT90000001", "title": "Trial that will close",
                               "was": "eligible", "status": "ACTIVE_NOT_RECRUITING"}]
    [changed] = case["verdict_changed"]
    assert (changed["nct_id"], changed["before"], changed["after"]) == (
        "NCT90000002", "eligible", "excluded")
    assert changed["because"] == [
        "criterion inclusion: ECOG performance status 0 (not met; not in the last run's "
        "reading)"]
    assert case["new_sites"] == [{
        "nct_id": "NCT90000003", "title": "Trial that opens a site", "verdict": "eligible",
        "status": "RECRUITING",
        "sites": ["Rocky Mountain Oncology, Denver, Colorado, United States"]}]
    for title in ("Closed or stopped recruiting", "Verdict changed", "New recruiting sites"):
        assert f"### {title}" in markdown and f"<h3>{title}</h3>" in page
    assert "Newly available protocols" not in markdown

    again = watch_run(db, out)
    assert "no changes since the last run" in again.stdout  # idempotent


def test_a_changed_case_file_is_re_read_and_says_so(followed):
    db, case, api, out = followed
    assert watch_run(db, out).exit_code == 0
    night_of_changes(api)
    refresh_store(db, api)
    watch_run(db, out)
    listed = runner.invoke(app, ["watch", "list", "--db", str(db), "--json"])
    assert json.loads(listed.stdout)[0]["file"] == "unchanged"

    write_case(case, ecog=0)  # the patient is now ECOG 0: the rewritten criterion is met
    listed = runner.invoke(app, ["watch", "list", "--db", str(db), "--json"])
    assert json.loads(listed.stdout)[0]["file"] == "changed"
    result = watch_run(db, out)
    assert "1 with changes" in result.stdout and "1 case files re-read" in result.stdout
    document, markdown, _ = digest(out, result)
    [section] = document["cases"]
    assert section["case_reread"] is True
    assert "The case file changed since the last run and was re-read." in markdown
    [changed] = section["verdict_changed"]
    assert (changed["nct_id"], changed["before"], changed["after"]) == (
        "NCT90000002", "excluded", "eligible")
    assert changed["because"] == [
        "criterion inclusion: ECOG performance status 0: not met -> met"]
    assert "no changes" in watch_run(db, out).stdout


def test_a_study_withdrawn_from_the_registry_is_reported_closed(followed):
    db, _, api, out = followed
    watch_run(db, out)
    del api.studies[2]
    api.data_timestamp = "2026-11-22T08:00:00"
    assert refresh_store(db, api, full=True).removed == 1
    result = watch_run(db, out)
    document, _, _ = digest(out, result)
    assert document["cases"][0]["closed"] == [{
        "nct_id": "NCT90000003", "title": "Trial that opens a site", "was": "eligible",
        "status": "removed from the registry"}]


def test_a_missing_case_file_uses_the_stored_copy(followed):
    db, case, api, out = followed
    watch_run(db, out)
    case.unlink()
    api.studies.append(make_study("NCT90000005", title="A new trial"))
    api.data_timestamp = "2026-11-21T08:00:00"
    refresh_store(db, api, full=True)
    result = watch_run(db, out)
    assert result.exit_code == 0, result.output
    assert "1 newly eligible" in result.stdout
    assert re.search(STAMP + r"trialmatch: warning: case watch-1: its file .*case.yaml is "
                     "gone; the copy read .* was used", result.stderr)


def test_a_case_that_fails_is_reported_and_the_others_go_on(followed, tmp_path):
    db, case, _, out = followed
    other = write_case(tmp_path / "other.yaml").read_text().replace("watch-1", "watch-2")
    (tmp_path / "other.yaml").write_text(other)
    assert runner.invoke(app, ["watch", "add", str(tmp_path / "other.yaml"), "--db",
                               str(db)]).exit_code == 0
    case.write_text("id: watch-1\nage: sixty\nnotes: [{text: x}]\n")
    result = watch_run(db, out)
    assert result.exit_code == 1
    assert "2 cases, 1 with changes" in result.stdout and "1 failed" in result.stdout
    assert re.search(STAMP + r"trialmatch: error: watched case watch-1: .*case.yaml: field "
                     "'age' must be a number of years", result.stderr)
    document, _, _ = digest(out, result)
    by_id = {section["case_id"]: section for section in document["cases"]}
    assert "must be a number" in by_id["watch-1"]["error"]
    assert len(by_id["watch-2"]["newly_listed"]) == 3
    # The failed case keeps its last state: fixed, it is compared with what it had.
    write_case(case)
    again = watch_run(db, out)
    assert again.exit_code == 0
    document, _, _ = digest(out, again)
    assert [s["case_id"] for s in document["cases"]] == ["watch-1"]
    assert document["cases"][0]["first_run"] is True


def test_refresh_then_watch_from_one_cron_line(tmp_path, monkeypatch):
    db, case, out = tmp_path / "trials.db", write_case(tmp_path / "case.yaml"), tmp_path / "d"
    monkeypatch.setattr("trialmatch.ingest.client.CtgovClient",
                        lambda url, _client=CtgovClient: _client(url, policy=FAST))
    with FakeCtgov(registry()) as api:
        command = ["refresh", "--db", str(db), "--api-url", api.url, "--jobs", "1",
                   "--watch", "--out", str(out)]
        assert runner.invoke(app, ["watch", "add", str(case), "--db", str(db)]).exit_code == 0
        first = runner.invoke(app, command)
        night_of_changes(api)
        second = runner.invoke(app, command)
        third = runner.invoke(app, command)  # registry unchanged: still runs the watch
    assert first.exit_code == 0, first.output
    lines = second.stdout.splitlines()
    assert len(lines) == 2 and all(re.match(STAMP, line) for line in lines)
    assert "refresh incremental since 2026-11-20" in lines[0]
    assert "1 newly eligible, 1 closed, 1 verdicts changed, 1 with new sites" in lines[1]
    assert "registry data unchanged" in third.stdout
    assert "no changes since the last run" in third.stdout
    assert MARKER not in first.output + second.output + third.output


def test_a_failed_refresh_does_not_run_the_watch(tmp_path, monkeypatch):
    db, case, out = tmp_path / "trials.db", write_case(tmp_path / "case.yaml"), tmp_path / "d"
    monkeypatch.setattr("trialmatch.ingest.client.CtgovClient",
                        lambda url, _client=CtgovClient: _client(url, policy=FAST))
    with FakeCtgov(registry()) as api:
        assert runner.invoke(app, ["watch", "add", str(case), "--db", str(db)]).exit_code == 0
        api.faults = [("status", 500)] * 2
        result = runner.invoke(app, ["refresh", "--db", str(db), "--api-url", api.url,
                                     "--jobs", "1", "--watch", "--out", str(out)])
    assert result.exit_code == 1 and "server error (HTTP 500)" in result.stderr
    assert "watch:" not in result.stdout and not out.exists()


def test_watch_list_add_and_remove(tmp_path):
    db = tmp_path / "trials.db"
    case = write_case(tmp_path / "case.yaml")
    assert "No cases watched" in runner.invoke(app, ["watch", "list", "--db", str(db)]).stdout
    assert runner.invoke(app, ["watch", "remove", "watch-1", "--db", str(db)]).exit_code == 1
    assert not db.exists()  # looking created nothing
    assert runner.invoke(app, ["watch", "add", str(case), "--db", str(db)]).exit_code == 0
    again = runner.invoke(app, ["watch", "add", str(case), "--db", str(db)])
    assert again.stdout.strip() == f"re-read case watch-1 ({case})"
    copy = tmp_path / "copy.yaml"
    copy.write_text(case.read_text())
    clash = runner.invoke(app, ["watch", "add", str(copy), "--db", str(db)])
    assert clash.exit_code == 1 and "case id 'watch-1' is already watched from" in clash.stderr
    listed = runner.invoke(app, ["watch", "list", "--db", str(db)], terminal_width=200)
    assert "watch-1" in listed.stdout and "never" in listed.stdout
    assert MARKER not in listed.output
    missing = runner.invoke(app, ["watch", "remove", "nobody", "--db", str(db)])
    assert missing.exit_code == 1 and "no watched case 'nobody'" in missing.stderr
    removed = runner.invoke(app, ["watch", "remove", "watch-1", "--db", str(db)])
    assert removed.exit_code == 0 and "no longer watching case watch-1" in removed.stdout
    assert json.loads(runner.invoke(app, ["watch", "list", "--db", str(db),
                                          "--json"]).stdout) == []


def test_watch_add_checks_every_case_before_storing_any(tmp_path):
    db = tmp_path / "trials.db"
    good = write_case(tmp_path / "good.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nnotes: []\n")
    result = runner.invoke(app, ["watch", "add", str(good), str(bad), "--db", str(db)])
    assert result.exit_code == 1 and "field 'notes' must be a list" in result.stderr
    assert json.loads(runner.invoke(app, ["watch", "list", "--db", str(db),
                                          "--json"]).stdout) == []


def test_watch_run_without_cases_or_store(tmp_path):
    db = tmp_path / "trials.db"
    missing = runner.invoke(app, ["watch", "run", "--db", str(db)])
    assert missing.exit_code == 1 and "no trial database" in missing.stderr
    TrialStore.open(db).close()
    empty = runner.invoke(app, ["watch", "run", "--db", str(db)])
    assert empty.exit_code == 0 and "watch: no cases watched" in empty.stdout
    assert not (tmp_path / "digests").exists()


def _state(trials, protocols=()):
    return {"version": 1, "trials": trials, "protocols": list(protocols)}


def _trial(verdict, criteria=None, sites=(), **record):
    return {"title": "T", "verdict": verdict, "criteria": criteria or {},
            "record": {"overall_status": "RECRUITING", "minimum_age": 18.0, **record},
            "sites": list(sites)}


@pytest.mark.parametrize(
    ("before", "now", "stored", "expected"),
    [
        # possibly eligible -> eligible: the criterion that became known
        (_trial("possibly_eligible", {"inclusion: HER2 positive": "unknown"}),
         _trial("eligible", {"inclusion: HER2 positive": "met"}), {},
         {"verdict_changed": ["criterion inclusion: HER2 positive: unknown -> met"]}),
        # a record field: the minimum age rose past the patient's
        (_trial("eligible"), _trial("excluded", minimum_age=65.0), {},
         {"verdict_changed": ["record field minimum_age: 18 -> 65"]}),
        # listed before, gone now, still open: no longer a candidate, with the field
        (_trial("eligible"), None,
         {"status": "RECRUITING", "removed": False,
          "record": {"overall_status": "RECRUITING", "conditions": ["Melanoma"]}},
         {"verdict_changed": ["record field conditions: none -> Melanoma"]}),
        (_trial("eligible"), None, {"status": "SUSPENDED", "removed": False}, {"closed": []}),
        (_trial("eligible", sites=["A"]), _trial("eligible", sites=["A", "B"]), {},
         {"new_sites": []}),
        (_trial("excluded"), _trial("excluded", minimum_age=70.0), {}, {}),
        # eligible -> possibly eligible: only the material unknown is named, not an
        # immaterial one
        ({**_trial("eligible", {"inclusion: HER2 positive": "met",
                                "exclusion: Pregnancy": "unknown"}), "deciding": []},
         {**_trial("possibly_eligible", {"inclusion: HER2 positive": "unknown",
                                         "exclusion: Pregnancy": "unknown"}),
          "deciding": ["inclusion: HER2 positive"]}, {},
         {"verdict_changed": ["criterion inclusion: HER2 positive: met -> unknown"]}),
    ],
)
def test_compare_names_what_changed(before, now, stored, expected):
    previous = _state({"NCT1": before})
    current = _state({"NCT1": now} if now else {})
    changes = compare(previous, current, CaseChanges("c"),
                      lookup=lambda ids: {"NCT1": stored} if stored else {})
    found = {kind: getattr(changes, kind) for kind in
             ("newly_listed", "closed", "verdict_changed", "new_sites", "new_protocols")
             if getattr(changes, kind)}
    assert set(found) == set(expected)
    for kind, reasons in expected.items():
        if kind == "verdict_changed":
            assert found[kind][0]["because"] == reasons


def test_compare_reports_a_newly_available_protocol_once():
    osimertinib = {"biomarker": "EGFR exon 19 deletion", "therapy": "osimertinib",
                   "source": "FDA label osimertinib 2018"}
    amivantamab = {"biomarker": "EGFR exon 19 deletion", "therapy": "amivantamab",
                   "source": "FDA label amivantamab 2024"}
    previous = _state({}, [osimertinib])
    current = _state({}, [osimertinib, amivantamab])
    changes = compare(previous, current, CaseChanges("c"), lookup=lambda ids: {})
    assert changes.new_protocols == [amivantamab] and changes.count == 1
    assert compare(current, current, CaseChanges("c"), lookup=lambda ids: {}).count == 0


def test_a_plain_text_note_can_be_watched(followed, tmp_path):
    db, _, _, out = followed
    note = tmp_path / "note-case.txt"
    note.write_text(f"62-year-old woman. Lung adenocarcinoma, stage IV. EGFR exon 19 deletion "
                    f"detected by NGS. ECOG 1. {MARKER}.\n")
    added = runner.invoke(app, ["watch", "add", str(note), "--db", str(db)])
    assert added.stdout.strip() == f"watching case note-case ({note})"
    result = watch_run(db, out)
    assert result.exit_code == 0, result.output
    document, _, _ = digest(out, result)
    assert {section["case_id"] for section in document["cases"]} == {"watch-1", "note-case"}
