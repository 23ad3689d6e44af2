"""Inputs at and past the documented limits: refused with a clear message, or handled.

Documented limits: a note is at most 5 MiB (`trialmatch.nlp.notes.MAX_NOTE_BYTES`), checked
before the file is read. Large but allowed inputs (a case with 1,000 notes, 200 KB of
eligibility text) are handled here on small budgets; bench/limits.py measures time and peak
RSS at full size (a 5 MB note, a 100,000-trial store).
"""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest
import yaml
from ctgov_fake import make_study
from fixture_store import build_fixture_store
from typer.testing import CliRunner

from trialmatch.cli import app
from trialmatch.errors import InputError
from trialmatch.ingest.normalize import normalize_study
from trialmatch.ingest.store import TrialStore
from trialmatch.match.case import load_case
from trialmatch.nlp.criteria import annotate_trial, normalise_criteria_text, split_criteria
from trialmatch.nlp.notes import MAX_NOTE_BYTES, read_note

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NOTE = "Lung, right lower lobe, biopsy: invasive adenocarcinoma. EGFR exon 19 deletion.\n"
runner = CliRunner()


def sparse_file(path: Path, size: int) -> Path:
    """A file of `size` bytes that costs no disk and no time to make."""
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_line_error(result, words: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trialmatch: error:"), result.stderr
    assert words in lines[0]


# ----------------------------------------------------------------------- notes over 5 MB


def test_a_note_over_the_limit_is_refused_before_it_is_read(tmp_path):
    note = sparse_file(tmp_path / "huge.txt", 10 * MAX_NOTE_BYTES)
    before = peak_rss_mb()
    with pytest.raises(InputError, match="larger than 5 MB"):
        read_note(note)
    # 50 MB were not read: the peak did not grow by anything like it.
    assert peak_rss_mb() - before < 20
    one_line_error(runner.invoke(app, ["extract", "--json", str(note)]), "larger than 5 MB")


def test_a_note_one_byte_over_is_refused_and_one_at_the_limit_is_read(tmp_path):
    over = tmp_path / "over.txt"
    over.write_bytes(b"a" * (MAX_NOTE_BYTES + 1))
    with pytest.raises(InputError, match="larger than 5 MB"):
        read_note(over)
    at = tmp_path / "at.txt"
    at.write_bytes(b"a" * MAX_NOTE_BYTES)
    assert len(read_note(at)) == MAX_NOTE_BYTES


def test_stdin_over_the_limit_is_refused():
    result = runner.invoke(app, ["extract", "--json", "-"], input="a" * (MAX_NOTE_BYTES + 10))
    one_line_error(result, "stdin: note is larger than 5 MB")


def test_a_case_naming_a_note_over_the_limit_is_a_one_line_error(tmp_path):
    sparse_file(tmp_path / "huge.txt", MAX_NOTE_BYTES + 1)
    case = tmp_path / "case.yaml"
    case.write_text(yaml.safe_dump({"id": "huge", "notes": [{"path": "huge.txt"}]}))
    with pytest.raises(InputError, match="larger than 5 MB"):
        load_case(case)
    result = runner.invoke(app, ["match", str(case), "--db", str(tmp_path / "none.db")])
    one_line_error(result, "larger than 5 MB")


def test_an_inline_note_over_the_limit_is_refused(tmp_path):
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"id": "inline", "notes": [{"text": "a" * (MAX_NOTE_BYTES + 64)}]}))
    with pytest.raises(InputError, match="larger than 5 MB"):
        load_case(case)


def test_a_case_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    case = sparse_file(tmp_path / "case.yaml", 12 * MAX_NOTE_BYTES)
    with pytest.raises(InputError, match="larger than"):
        load_case(case)


def test_a_case_whose_notes_total_over_the_limit_is_refused(tmp_path):
    entries = []
    for number in range(5):
        (tmp_path / f"n{number}.txt").write_bytes(b"adenocarcinoma " * (MAX_NOTE_BYTES // 16))
        entries.append({"path": f"n{number}.txt"})
    case = tmp_path / "case.yaml"
    case.write_text(yaml.safe_dump({"id": "many-big", "notes": entries}))
    with pytest.raises(InputError, match="total"):
        load_case(case)


# ----------------------------------------------------------------------- 1,000 notes


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory) -> Path:
    """The fixture trials, parsed, in a temporary store."""
    path = tmp_path_factory.mktemp("limits-store") / "trials.db"
    build_fixture_store(path)
    return path


def test_a_case_with_1000_notes_loads_in_order_and_matches(tmp_path, fixture_db):
    folder = tmp_path / "case"
    (folder / "notes").mkdir(parents=True)
    entries = [{"path": "notes/path.txt"}]
    (folder / "notes" / "path.txt").write_text(NOTE)
    for number in range(1, 1000):
        name = f"notes/addendum-{number:04d}.txt"
        (folder / name).write_text(f"Addendum {number}: no change to the diagnosis.\n")
        entries.append({"path": name})
    case_path = folder / "case.yaml"
    case_path.write_text(yaml.safe_dump({"id": "thousand", "age": 60, "sex": "female",
                                         "notes": entries}))
    case = load_case(case_path)
    assert len(case.notes) == 1000
    assert case.note_texts[999] == "Addendum 999: no change to the diagnosis.\n"
    result = runner.invoke(app, ["match", str(case_path), "--db", str(fixture_db), "--json"])
    assert result.exit_code == 0, result.stderr
    profile = json.loads(result.stdout)["profile"]
    assert profile["cancer_type"]["code"] == "LUAD"
    assert [b["marker"] for b in profile["biomarkers"]] == ["EGFR"]


# ----------------------------------------------------------------------- 200 KB of criteria


def long_criteria(size: int) -> str:
    """The hand-written fixture criteria, numbered copies one after another, `size` chars."""
    texts = [p.read_text() for p in sorted((FIXTURES / "criteria").glob("*.txt"))]
    parts, total, copy = [], 0, 0
    while total < size:
        for text in texts:
            part = text.replace("Age", f"Age (copy {copy})", 1) + "\n"
            parts.append(part)
            total += len(part)
        copy += 1
    return "".join(parts)[:size]


def test_criteria_text_of_200kb_is_split_and_parsed_with_offsets(tmp_path):
    text = long_criteria(200_000)
    clean = normalise_criteria_text(text)
    criteria = split_criteria(text)
    assert len(criteria) > 1000
    for criterion in criteria:
        assert clean[criterion.start:criterion.end] == criterion.text
    study = make_study("NCT90000200", criteria=text)
    record = normalize_study(study)
    assert record.criteria_text == text
    annotation = annotate_trial(record.trial_text())
    assert sum(len(c.requirements) for c in annotation.criteria) > 100
    with TrialStore.open(tmp_path / "t.db") as store:
        store.upsert_studies([study], lambda trial_text: annotation)
        trial = store.get_trial("NCT90000200")
    assert trial.criteria_text == text and len(trial.criteria) == len(annotation.criteria)



def test_iter_trials_reads_in_chunks_what_get_trials_reads_at_once(fixture_db):
    with TrialStore.open(fixture_db, readonly=True) as store:
        ids = list(store.iter_ids())[::-1] + ["NCT00000000"]  # order kept, unknown left out
        whole = store.get_trials(ids)
        chunked = list(store.iter_trials(ids, chunk=7))
        assert [t.nct_id for t in chunked] == [t.nct_id for t in whole] == ids[:-1]
        assert chunked == whole
        assert not store.conn.in_transaction  # the snapshot ends with the iteration
