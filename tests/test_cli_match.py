"""`trialmatch match` through the CLI: JSON alone on stdout, reports, exit codes 0/1/2."""

import json
import stat
from pathlib import Path

import pytest
from fixture_store import build_fixture_store
from typer.testing import CliRunner

from trialmatch.cli import app

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NOTE = """\
FINAL DIAGNOSIS:
Lung, right upper lobe, core biopsy: invasive adenocarcinoma, moderately differentiated.
Clinical stage cT2a cN2 cM1b, stage IVA.

MOLECULAR RESULTS:
EGFR exon 19 deletion detected by NGS. ALK rearrangement not detected. PD-L1 TPS 30%.
"""
CASE = """\
id: cli-egfr
age: 64
sex: female
ecog: 1
notes:
  - path: note.txt
prior_therapies: []
first_opinion:
  diagnosis: lung adenocarcinoma
  stage: IIIA
  plan: concurrent chemoradiation, then durvalumab
  trials_considered: [NCT99000001]
"""

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-match") / "trials.db"
    build_fixture_store(path)
    return path


@pytest.fixture
def case_file(tmp_path):
    (tmp_path / "note.txt").write_text(NOTE)
    path = tmp_path / "case.yaml"
    path.write_text(CASE)
    return path


def test_json_goes_to_stdout_alone(db, case_file):
    result = runner.invoke(app, ["match", str(case_file), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["case_id"] == "cli-egfr"
    assert document["profile"]["cancer_type"]["code"] == "LUAD"
    assert "NCT99000001" in [t["nct_id"] for t in document["trials"]]
    assert "decision support" in document["disclaimer"].lower()


def test_terminal_summary(db, case_file):
    result = runner.invoke(app, ["match", str(case_file), "--db", str(db), "--top", "3"])
    assert result.exit_code == 0, result.stderr
    for words in ("Decision support", "NCT99000001", "Testing gaps", "Discrepancies"):
        assert words in result.stdout


@pytest.mark.parametrize("name,start", [("report.md", "# Tumor board: case"),
                                        ("report.html", "<!DOCTYPE html>")])
def test_report_file_is_private(db, case_file, tmp_path, name, start):
    report = tmp_path / name
    result = runner.invoke(app, ["match", str(case_file), "--db", str(db), "--report",
                                 str(report), "--json"])
    assert result.exit_code == 0, result.stderr
    json.loads(result.stdout)
    assert report.read_text().startswith(start)
    assert stat.S_IMODE(report.stat().st_mode) == 0o600


def test_plain_text_note_is_a_case(db, tmp_path):
    note = tmp_path / "walk-in.txt"
    note.write_text(NOTE)
    result = runner.invoke(app, ["match", str(note), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["case_id"] == "walk-in"


def test_missing_database_is_a_one_line_error(case_file, tmp_path):
    result = runner.invoke(app, ["match", str(case_file), "--db", str(tmp_path / "no.db")])
    assert result.exit_code == 1
    assert result.stderr.startswith("trialmatch: error: no trial database")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "no.db").exists()


def test_bad_case_is_exit_1_naming_the_field(db, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("id: x\nnotes:\n  - text: adenocarcinoma\nshoe_size: 9\n"
                    "Seen in clinic for adenocarcinoma: 1\n")
    result = runner.invoke(app, ["match", str(path), "--db", str(db)])
    assert result.exit_code == 1 and result.stdout == ""
    assert "2 unknown fields in the case: 'shoe_size' (no field is close), key 4 (not shown" \
        in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "clinic" not in result.stderr  # a key that may be note text is never echoed


@pytest.mark.parametrize("options", [["--report", "out.pdf"], ["--top", "0"], ["--bogus"]])
def test_usage_errors_exit_2(db, case_file, options):
    result = runner.invoke(app, ["match", str(case_file), "--db", str(db), *options])
    assert result.exit_code == 2


@pytest.mark.parametrize("value,expected", [
    ("600", 0o600), ("640", 0o640), ("0644", 0o644), ("400", 0o400), ("777", 0o777),
])
def test_report_mode_parses_octal(value, expected):
    from trialmatch.cli.matching import parse_report_mode

    assert parse_report_mode(value) == expected


@pytest.mark.parametrize("value", ["abc", "8", "1000", "-1", "044", "200", ""])
def test_report_mode_rejects_modes_the_owner_cannot_read(value):
    import typer

    from trialmatch.cli.matching import parse_report_mode

    with pytest.raises(typer.BadParameter):
        parse_report_mode(value)


def test_report_mode_reaches_the_report_and_a_bad_one_is_a_usage_error(db, case_file,
                                                                       tmp_path):
    report = tmp_path / "shared.md"
    report.write_text("old")
    report.chmod(0o600)
    result = runner.invoke(app, ["match", str(case_file), "--db", str(db), "--report",
                                 str(report), "--report-mode", "640", "--json"])
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(report.stat().st_mode) == 0o640
    bad = runner.invoke(app, ["match", str(case_file), "--db", str(db), "--report",
                              str(tmp_path / "x.md"), "--report-mode", "0044"])
    assert bad.exit_code == 2 and "--report-mode" in bad.stderr
    assert not (tmp_path / "x.md").exists()


def test_terminal_at_80_columns_is_readable(db, case_file, monkeypatch):
    """No one-word-per-line tables, no line past 80 columns, codes named, parts in words."""
    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(app, ["match", str(case_file), "--db", str(db)],
                           env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    trial_lines = [line for line in lines if line.startswith("   ") and line.strip()]
    one_word = [line for line in trial_lines
                if len(line.split()) == 1 and not line.strip().startswith("https://")]
    assert trial_lines and len(one_word) <= len(trial_lines) // 4, one_word
    assert "Score parts: fit to the patient" in result.stdout
    assert "_ANY" not in result.stdout and "_SOLID" not in result.stdout
    assert "https://clinicaltrials.gov/study/NCT" in result.stdout
