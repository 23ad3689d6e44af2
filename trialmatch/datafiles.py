"""The one reader of the JSON knowledge files shipped in the package (`<package>/data/*.json`).

Every knowledge module (cues, sections, criteria rules, drugs, population conditions,
protocols and testing rules, distant-stage rules) reads its file here and validates the
contents itself; a file that is missing or not JSON is one `DataFileError` naming it.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from trialmatch.errors import DataFileError


def read_data_file(package: str, name: str) -> Any:
    """The parsed contents of `data/<name>` in `package` ("trialmatch.nlp")."""
    resource = resources.files(package).joinpath("data", name)
    try:
        return json.loads(resource.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DataFileError(f"{name}: cannot be read ({type(error).__name__}: {error})",
                            hint=f"the packaged knowledge file {package}/data/{name} is "
                            "invalid") from None
