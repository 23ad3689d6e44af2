"""The criteria parser's version: a release label and a digest of what the parse reads.

Stored parses carry the version they were made with, and `trialmatch reparse` redoes those
whose version differs (`TrialStore.reparse(only_stale=...)`). Bumping a label by hand after
each rule change was easy to forget, and a knowledge-file change (a drug, a cancer-type
synonym, a cue) changes parses as surely as code does; so the version ends with a digest of
the parser's modules and of the packaged knowledge files, and any change to them marks every
stored parse stale.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

# Raised by hand for a change worth naming in the changelog; the digest does the rest.
PARSER_RELEASE = "criteria-3.31"

_PACKAGE = Path(__file__).resolve().parent.parent
# The modules `import trialmatch.nlp.criteria` loads (tests/test_parser_version.py checks the
# list against a fresh interpreter's), and the knowledge files they read.
PARSER_MODULES = (
    "cache.py", "datafiles.py", "models.py", "nlp/acronyms.py", "nlp/conditions.py",
    "nlp/context.py", "nlp/grade.py",
    "nlp/criteria.py", "nlp/drugs.py", "nlp/requirements.py", "nlp/requirements_basic.py",
    "nlp/requirements_biomarker.py", "nlp/requirements_cancer.py",
    "nlp/requirements_common.py", "nlp/requirements_rules.py", "nlp/requirements_therapy.py",
    "nlp/requirements_tnm.py", "nlp/vocab.py", "regex_cache.py",
)
KNOWLEDGE_DIR = "nlp/data"


def digest_of(paths: list[Path]) -> str:
    """A SHA-256 over the files' names and bytes, in the order given."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.name.encode())
        sha.update(b"\0")
        sha.update(path.read_bytes())
        sha.update(b"\0")
    return sha.hexdigest()


def parser_files(root: Path = _PACKAGE) -> list[Path]:
    """Every file whose content decides a parse: the parser's modules, then the knowledge
    files (sorted)."""
    return [root / name for name in PARSER_MODULES] + sorted((root / KNOWLEDGE_DIR).glob("*.json"))


@lru_cache(maxsize=1)
def parser_version() -> str:
    """"criteria-3.30+<12 hex digits>": the release label and the digest of `parser_files`."""
    return f"{PARSER_RELEASE}+{digest_of(parser_files())[:12]}"
