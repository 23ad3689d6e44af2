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


def optional_bool(entry: dict[str, Any], key: str, where: str) -> bool:
    """An entry's optional true/false field (false when absent); `where` names the file and
    entry in the error."""
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise DataFileError(f"{where}: '{key}' must be true or false")
    return value


def string_list(value: Any, where: str) -> tuple[str, ...]:
    """A field that must be a non-empty list of non-blank strings; `where` names the file and
    entry in the error."""
    if not isinstance(value, list) or not value or not all(
            isinstance(item, str) and item.strip() for item in value):
        raise DataFileError(f"{where}: must be a non-empty list of strings")
    return tuple(value)
