from typer.testing import CliRunner

from trialmatch.cli import app
from trialmatch.config import default_db_path

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "trialmatch" in result.output.lower() or "Usage" in result.output


def test_unknown_option_is_usage_error():
    result = runner.invoke(app, ["--no-such-option"])
    assert result.exit_code == 2


def test_default_db_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALMATCH_DB", str(tmp_path / "x.db"))
    assert default_db_path() == tmp_path / "x.db"
