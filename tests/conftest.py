"""Shared fixtures: every test gets its own data directory and never touches the user's files."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path, monkeypatch):
    """Point the default database and the user data dir at a temporary folder."""
    monkeypatch.setenv("TRIALMATCH_DB", str(tmp_path / "default-trials.db"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("TRIALMATCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TRIALMATCH_API_URL", raising=False)
    # Reports say when they were made; a fixed time makes two runs byte-identical (the
    # reproducible-builds convention). tests/test_provenance.py checks the real clock.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1796428800")  # 2026-12-05T00:00:00Z
    yield


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
