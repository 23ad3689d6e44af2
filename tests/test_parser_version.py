"""The parser version follows every change to the parser's code and knowledge files (issue 12),
so stored parses made by other rules are stale and `reparse` redoes them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from trialmatch.ingest.store import TrialStore
from trialmatch.nlp.criteria import PARSER_VERSION, annotate_trial
from trialmatch.nlp.parser_version import (
    KNOWLEDGE_DIR,
    PARSER_MODULES,
    PARSER_RELEASE,
    digest_of,
    parser_files,
)

PACKAGE = Path(__file__).resolve().parent.parent / "trialmatch"
# Loaded by the import but deciding no parse: packages, errors, the version module itself.
NOT_PARSE_INPUTS = {"trialmatch", "trialmatch.nlp", "trialmatch.errors",
                    "trialmatch.nlp.parser_version"}


def test_the_version_names_every_module_the_parser_imports():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, trialmatch.nlp.criteria; print('\\n'.join("
         "m for m in sys.modules if m.startswith('trialmatch')))"],
        capture_output=True, text=True, check=True).stdout.split()
    named = {"trialmatch." + name.removesuffix(".py").replace("/", ".")
             for name in PARSER_MODULES}
    assert set(loaded) - NOT_PARSE_INPUTS <= named


def test_the_version_is_the_release_and_a_digest_of_the_parser_files():
    assert PARSER_VERSION.startswith(PARSER_RELEASE + "+")
    assert PARSER_VERSION.endswith(digest_of(parser_files())[:12])
    assert annotate_trial.__module__ == "trialmatch.nlp.criteria"


def test_a_knowledge_file_change_changes_the_version(tmp_path):
    copy = tmp_path / "trialmatch"
    for path in parser_files(PACKAGE):
        target = copy / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    before = digest_of(parser_files(copy))
    assert before == digest_of(parser_files(PACKAGE))
    drugs = copy / KNOWLEDGE_DIR / "drugs.json"
    drugs.write_text(drugs.read_text(encoding="utf-8").replace("Blincyto", "Blincyto2"),
                     encoding="utf-8")
    assert digest_of(parser_files(copy)) != before
    (copy / "nlp" / "requirements_therapy.py").write_text("# changed\n", encoding="utf-8")
    assert digest_of(parser_files(copy)) != before


def test_parses_of_another_version_are_redone(tmp_path):
    from test_store import annotate_by_condition, make_studies

    with TrialStore.open(tmp_path / "t.db") as store:
        store.upsert_studies(make_studies(2), annotate_by_condition)  # stored as "t1"
        assert store.reparse(annotate_trial, only_stale=PARSER_VERSION) == 2
        assert store.reparse(annotate_trial, only_stale=PARSER_VERSION) == 0
        assert store.get_trial("NCT90000001").parser_version == PARSER_VERSION
