"""`trialmatch extract NOTE... [--json] [--model NAME]`."""

import json
from pathlib import Path

from typer.testing import CliRunner

from trialmatch.cli import app

runner = CliRunner()
NOTES = Path(__file__).resolve().parent.parent / "fixtures" / "notes"


def test_json_gives_one_object_per_note():
    result = runner.invoke(app, ["extract", "--json", str(NOTES / "breast_idc_synoptic.txt"),
                                 str(NOTES / "benign_breast_fibroadenoma.txt")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["cancer_type"]["code"] == "IDC"
    assert set(first) >= {"cancer_type", "histology", "primary_site", "grade", "stage",
                          "biomarkers", "warnings"}
    assert second["cancer_type"] is None


def test_stdin_note():
    result = runner.invoke(app, ["extract", "--json", "-"],
                           input="FINAL DIAGNOSIS: Prostate, biopsy: adenocarcinoma, "
                                 "Gleason score 3+4=7.")
    assert result.exit_code == 0, result.output
    profile = json.loads(result.stdout)
    assert profile["cancer_type"]["code"] == "PRAD"
    assert profile["grade_detail"].startswith("Gleason 3+4=7")


def test_human_output_shows_a_table_with_evidence():
    result = runner.invoke(app, ["extract", str(NOTES / "lung_adenocarcinoma_synoptic.txt")])
    assert result.exit_code == 0, result.output
    assert "LUAD" in result.stdout
    assert "EGFR exon 19 deletion" in result.stdout


def test_one_bad_note_does_not_stop_the_others(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    binary = tmp_path / "scan.pdf"
    binary.write_bytes(b"%PDF\x00\x00")
    good = NOTES / "kidney_clear_cell.txt"
    result = runner.invoke(app, ["extract", "--json", str(empty), str(good), str(binary),
                                 str(tmp_path / "missing.txt")])
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["cancer_type"]["code"] == "CCRCC"
    assert "empty.txt" in result.stderr and "scan.pdf" in result.stderr
    assert "missing.txt" in result.stderr
    assert all(line.startswith("trialmatch: error:") for line in result.stderr.splitlines())


def test_missing_model_exits_1_with_one_line():
    result = runner.invoke(app, ["extract", "--model", "no_such_model_xyz",
                                 str(NOTES / "kidney_clear_cell.txt")])
    assert result.exit_code == 1
    assert "not installed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_note_is_a_usage_error():
    result = runner.invoke(app, ["extract"])
    assert result.exit_code == 2
