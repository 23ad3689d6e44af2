"""Where things live: the database path and the API base URL, from options or environment."""

import os
from pathlib import Path

import platformdirs

DEFAULT_API_URL = "https://clinicaltrials.gov/api/v2"

# Statuses matching considers unless --any-status is given (SPEC "Commands").
OPEN_STATUSES = ("RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION")


def default_db_path() -> Path:
    """`$TRIALMATCH_DB`, else `trials.db` in the user's data directory."""
    env = os.environ.get("TRIALMATCH_DB")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir("trialmatch")) / "trials.db"


def default_api_url() -> str:
    """`$TRIALMATCH_API_URL`, else the public ClinicalTrials.gov API v2."""
    return os.environ.get("TRIALMATCH_API_URL") or DEFAULT_API_URL
