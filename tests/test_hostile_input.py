"""Hostile and mistaken input (issue 17, and "Notes that are text" of issue 18).

A marker goes through every field of a case and every error path; stderr, logs and
summary.csv never show it. Special files (FIFOs, devices through symlinks), alias bombs, deep
nesting, notes outside the case folder, formula cells, invisible characters and stray control
bytes are each tried; where the behaviour is the process's (FIFOs, symlinks, signals) in a
real subprocess.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixture_store import build_fixture_store
from hypothesis import given, settings
from hypothesis import strategies as st
from test_privacy import MARKER, NOTE, assert_private, debug_logs  # noqa: F401 (fixture)
from typer.testing import CliRunner

from trialmatch.cli import app
from trialmatch.errors import InputError
from trialmatch.inputs import MAX_NESTING, json_depth, load_yaml, read_limited
from trialmatch.match import batch as batch_module
from trialmatch.match.batch import CaseReport, run_batch, summary_csv
from trialmatch.match.case import load_case
from trialmatch.nlp.notes import (
    MAX_PUNCTUATION_RUN,
    MAX_SPACE_RUN,
    cut_long_runs,
    decode_note_text,
    read_note_text,
)

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
runner = CliRunner()
LUAD = "Lung, right upper lobe, biopsy: invasive adenocarcinoma. EGFR exon 19 deletion.\n"
ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:

    path = tmp_path_factory.mktemp("hostile-store") / "trials.db"
    build_fixture_store(path)
    return path


def good_case(folder: Path, case_id: str = "good") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{case_id}.txt").write_text(LUAD)
    path = folder / f"{case_id}.yaml"
    path.write_text(f"id: {case_id}\nnotes:\n  - path: {case_id}.txt\n")
    return path


# Every error path a case can take, each carrying the marker where a careless message would
# echo it: (file name, content).
M = MARKER
BAD_CASES = {
    "bare-string-note.yaml": f'id: c1\nnotes: ["Jane {M} MRN 123: EGFR exon 19 deletion"]\n',
    "bare-absolute.yaml": f"id: c2\nnotes: [/{M}/note.txt]\n",
    "traversal.yaml": f"id: c3\nnotes:\n  - path: ../{M}/note.txt\n",
    "tag.yaml": f"id: c4\nsex: !{M} female\nnotes:\n  - text: x\n",
    "tag-handle.yaml": f"id: c5\nsex: !{M}!x female\nnotes:\n  - text: x\n",
    "alias.yaml": f"id: c6\nsex: &{M} female\nlocation: *{M}\nnotes:\n  - text: x\n",
    "alias-bomb.yaml": "id: c7\nnotes:\n  - text: x\n" + ALIAS_BOMB.replace("a:", "sex:", 1),
    "unknown-key.yaml": f"id: c8\n{M} Smith: 1\nnotes:\n  - text: x\n",
    "unknown-pasted.yaml": f"id: c9\nnotes:\n  - text: x\nFinal diagnosis {M}: adenoca\n",
    "unknown-location.yaml": f"id: c10\nlocation: {{{M}: 1}}\nnotes:\n  - text: x\n",
    "unknown-opinion.yaml": f"id: c11\nfirst_opinion: {{{M}: 1}}\nnotes:\n  - text: x\n",
    "bad-escape.yaml": f'id: c12\nsex: "\\q{M}"\nnotes:\n  - text: x\n',
    "bad-yaml.yaml": f"id: c13\nnotes: [{M}: value: [unclosed\n",
    "bad-json.json": f'{{"id": "c14", "notes": [{{"text": "{M}"}}]',
    "deep.json": '{"id": "c15", "notes": [{"text": "x"}], "age": '
                 + "[" * 5000 + f'"{M}"' + "]" * 5000 + "}",
    "deep.yaml": f"id: c16\nnotes:\n  - text: x\nsex: {'[' * 500}{M}{']' * 500}\n",
    "sex.yaml": f"id: c17\nsex: {M}\nnotes:\n  - text: x\n",
    "age.yaml": f"id: c18\nage: {M}\nnotes:\n  - text: x\n",
    "ecog.yaml": f"id: c19\necog: {M}\nnotes:\n  - text: x\n",
    "unsafe-id.yaml": f"id: Jane {M} MRN 123\nnotes:\n  - text: {json.dumps(LUAD)}\n",
    "both-keys.yaml": f"id: c20\nnotes:\n  - {{path: {M}, text: {M}}}\n",
    "opinion-list.yaml": f"id: c21\nfirst_opinion: {{diagnosis: [{M}]}}\nnotes:\n  - text: x\n",
    "empty-note.yaml": "id: c22\nnotes:\n  - text: \"\\u200b\\u200b \\u202e\"\n",
    "missing-note.yaml": f"id: c23\nnotes:\n  - path: {M}.txt\n",
    "binary-note.yaml": "id: c24\nnotes:\n  - path: binary.pdf\n",
    "latin1-note.yaml": "id: c25\nnotes:\n  - path: latin1.txt\n",
    "fifo-note.yaml": "id: c26\nnotes:\n  - path: fifo.txt\n",
    "device-note.yaml": "id: c27\nnotes:\n  - path: zero.txt\n",
    "list-case.yaml": f"- {M}\n",
}


def hostile_folder(root: Path) -> Path:
    folder = root / "cases"
    folder.mkdir(parents=True)
    for name, text in BAD_CASES.items():
        (folder / name).write_text(text)
    (folder / "binary.pdf").write_bytes(b"%PDF-1.7\n" + MARKER.encode() + b"\x00\x01\x02")
    (folder / "latin1.txt").write_bytes(f"caf\u00e9 {MARKER}".encode("latin-1"))
    os.mkfifo(folder / "fifo.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")
    good_case(folder, "good")
    return folder


def test_every_error_path_names_file_note_and_field_never_a_value(debug_logs, store,  # noqa: F811
                                                                   tmp_path):
    folder = hostile_folder(tmp_path)
    for name in BAD_CASES:
        result = runner.invoke(app, ["match", str(folder / name), "--db", str(store)])
        if name == "unsafe-id.yaml":  # names no file in `match`; stdout may show it
            assert result.exit_code == 0 and MARKER not in result.stderr
            continue
        assert result.exit_code == 1, (name, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("trialmatch: error: "), (name, lines)
        assert str(folder / name) in lines[0], (name, lines)
        assert MARKER not in result.stderr, (name, result.stderr)
        assert "Jane" not in result.stderr and "Smith" not in result.stderr
        assert_private(result)


def test_the_error_paths_in_a_batch_leave_summary_csv_and_stderr_clean(debug_logs, store,  # noqa: F811
                                                                       tmp_path):
    folder = hostile_folder(tmp_path)
    out = tmp_path / "out"
    result = runner.invoke(app, ["batch", str(folder), "--out", str(out), "--db", str(store),
                                 "--jobs", "1"])
    assert result.exit_code == 1
    rows = {row["case_file"]: row for row in csv.DictReader((out / "summary.csv").open())}
    assert rows["good.yaml"]["error"] == "" and rows["good.yaml"]["top_trials"]
    failed = {name for name, row in rows.items() if row["error"]}
    assert failed == set(BAD_CASES)
    for text in ((out / "summary.csv").read_text(), (out / "index.html").read_text(),
                 result.stderr):
        assert MARKER not in text
        assert "Jane" not in text and "Smith" not in text
    assert rows["unsafe-id.yaml"]["case_id"] == ""  # an id that cannot name a file is not shown


def test_specific_messages(tmp_path):
    folder = hostile_folder(tmp_path)

    def error(name: str) -> str:
        with pytest.raises(InputError) as caught:
            load_case(folder / name)
        return str(caught.value)

    assert "note 1 (path): no such file (a bare string in 'notes' is a file name" in error(
        "bare-string-note.yaml")
    assert "outside" in error("traversal.yaml") and "outside" in error("bare-absolute.yaml")
    assert "YAML tags (!name) are not allowed at line 2" in error("tag.yaml")
    assert "YAML anchors (&name) are not allowed" in error("alias.yaml")
    assert "anchors" in error("alias-bomb.yaml")
    assert "1 unknown field in the case: key 2 (not shown" in error("unknown-key.yaml")
    assert "1 unknown field in field 'location': key 1 (not shown" in error(
        "unknown-location.yaml")
    assert "JSON nested deeper than 64 levels" in error("deep.json")
    assert "YAML nested deeper than 64 levels" in error("deep.yaml")
    assert "note 1 (text): note is empty after removing invisible" in error("empty-note.yaml")
    assert "note 1 (path): is a FIFO (named pipe), not a note file" in error("fifo-note.yaml")
    assert "note 1 (path): the note is outside" in error("device-note.yaml")  # /dev/zero
    with pytest.raises(InputError, match="note 1 \\(path\\): is a device, not a note file"):
        load_case(folder / "device-note.yaml", notes_root="/")
    assert "note 1 (path): looks like a binary file" in error("binary-note.yaml")


def test_an_alias_is_refused_before_anything_is_built():
    with pytest.raises(InputError, match="anchors"):
        load_yaml(ALIAS_BOMB, "bomb.yaml")
    # Only plain YAML tags pass; explicit standard ones are fine.
    assert load_yaml("a: !!str 12\nb: [1, {c: d}]\n", "ok.yaml") == {"a": "12",
                                                                     "b": [1, {"c": "d"}]}
    with pytest.raises(InputError, match="tags"):
        load_yaml("a: !!python/object:os.system x\n", "evil.yaml")


def test_json_depth_ignores_brackets_inside_strings():
    assert json_depth('{"a": "[[[[{{{{", "b": [[1]]}') == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth("[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1)) == MAX_NESTING + 1


def _depth_bracket_by_bracket(text: str) -> int:
    """json_depth as first written: strings blanked by the per-character pattern, then the
    brackets counted one by one (the reference the faster version must agree with)."""
    raw = text.encode("utf-8", "surrogatepass")
    depth = deepest = 0
    for match in re.finditer(rb"[\[\]{}]", re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', raw,
                                                   flags=re.DOTALL)):
        if match.group(0) in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


@pytest.mark.parametrize("text", [
    "", "[]", "{}", '"[["', '["\\"]', '["\\\"[[" , [{}]]', '"unterminated [[[',
    '"a" "b [[', "]]][[", '{"a": "}}}", "b": {"c": [1, "\\u005b"]}}', '\\"[[\"]]',
    '[["x\n\t"], {"k": "\\\\"}, "[", ["\u00e9{"]]', "[\ud800]",
])
def test_json_depth_agrees_with_the_bracket_by_bracket_count(text):
    assert json_depth(text) == _depth_bracket_by_bracket(text)
    assert json_depth(text.encode("utf-8", "surrogatepass")) == json_depth(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='[]{}"\\ab,:\n\u00e9', max_size=40))
def test_json_depth_agrees_on_any_mix_of_brackets_quotes_and_escapes(text):
    assert json_depth(text) == _depth_bracket_by_bracket(text)


def test_json_depth_of_every_stored_fixture_study():
    for path in sorted((Path(__file__).parent.parent / "fixtures").rglob("*.json")):
        text = path.read_text(encoding="utf-8")
        assert json_depth(text) == _depth_bracket_by_bracket(text), path.name


@pytest.mark.parametrize("written, expected", [
    ("00123", "00123"), ("12:30:00", "12:30:00"), ("0x1F", "0x1F"), ("1e3", "1e3"),
    ("2026-01-02", "2026-01-02"), ("42", "42"), ("'007'", "007"),
])
def test_ids_are_read_as_written(tmp_path, written, expected):
    path = tmp_path / "case.yaml"
    path.write_text(f"id: {written}\nnotes:\n  - text: {json.dumps(LUAD)}\n")
    assert load_case(path).id == expected


# ----------------------------------------------------------------------- special files


def run_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from trialmatch.cli import main; main()",
                           *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def test_read_limited_refuses_special_files_by_type(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "zero").symlink_to("/dev/zero")
    with pytest.raises(InputError, match="FIFO"):
        read_limited(tmp_path / "fifo", 100)
    with pytest.raises(InputError, match="a device"):
        read_limited(tmp_path / "zero", 100)
    with pytest.raises(InputError, match="a folder"):
        read_limited(tmp_path, 100)
    (tmp_path / "big").write_bytes(b"x" * 101)
    with pytest.raises(InputError, match="larger than 100 bytes"):
        read_limited(tmp_path / "big", 100)
    assert read_limited(tmp_path / "big", 101) == b"x" * 101


def test_extract_of_a_fifo_and_a_device_ends_at_once_in_a_real_process(tmp_path):
    os.mkfifo(tmp_path / "note.txt")
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    (tmp_path / "good.txt").write_text(LUAD)
    # No writer ever opens the FIFO: reading it would wait forever (the timeout would fire).
    result = run_cli("extract", "--json", str(tmp_path / "note.txt"), str(tmp_path / "zero.txt"),
                     str(tmp_path / "good.txt"))
    assert result.returncode == 1
    assert "note.txt: is a FIFO (named pipe), not a note file" in result.stderr
    assert "zero.txt: is a device, not a note file" in result.stderr
    assert json.loads(result.stdout)["cancer_type"]["code"] == "LUAD"


def test_batch_discovery_survives_a_dev_zero_symlink_and_stray_fifos(store, tmp_path):
    folder = tmp_path / "cases"
    good_case(folder, "good")
    (folder / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(folder / "stray.yaml")
    os.mkfifo(folder / "stray.txt")
    os.mkfifo(folder / "stray-no-suffix")
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "bomb.yaml").write_text("id: bomb\nnotes:\n  - text: x\n" + ALIAS_BOMB)
    out = tmp_path / "out"
    result = run_cli("batch", str(folder), "--out", str(out), "--db", str(store), "--jobs", "1")
    assert result.returncode == 1, result.stderr
    rows = {row["case_file"]: row for row in csv.DictReader((out / "summary.csv").open())}
    assert rows["good.yaml"]["error"] == ""
    assert "is a device" in rows["zero.yaml"]["error"]
    assert "FIFO" in rows["stray.yaml"]["error"] and "FIFO" in rows["stray.txt"]["error"]
    assert "anchors" in rows["bomb.yaml"]["error"]
    assert rows["loop.txt"]["error"]
    assert set(rows) == {"good.yaml", "zero.yaml", "stray.yaml", "stray.txt", "bomb.yaml",
                         "loop.txt"}


# ----------------------------------------------------------------------- notes outside


def test_note_paths_resolve_inside_the_case_folder(tmp_path, store):
    other = tmp_path / "other_patient"
    other.mkdir()
    (other / "note.txt").write_text(LUAD)
    folder = tmp_path / "patient"
    folder.mkdir()
    (folder / "link.txt").symlink_to(other / "note.txt")
    (folder / "sub").mkdir()
    (folder / "sub" / "inside.txt").write_text(LUAD)
    (folder / "inside-link.txt").symlink_to(folder / "sub" / "inside.txt")
    cases = {
        "relative": "../other_patient/note.txt",
        "absolute": str(other / "note.txt"),
        "symlink": "link.txt",
    }
    for name, note in cases.items():
        (folder / f"{name}.yaml").write_text(f"id: {name}\nnotes:\n  - path: {note}\n")
        with pytest.raises(InputError, match="note 1 \\(path\\): the note is outside"):
            load_case(folder / f"{name}.yaml")
        assert load_case(folder / f"{name}.yaml", notes_root=tmp_path).notes[0].text == LUAD
    (folder / "fine.yaml").write_text("id: fine\nnotes:\n  - path: sub/inside.txt\n"
                                      "  - path: inside-link.txt\n")
    assert len(load_case(folder / "fine.yaml").notes) == 2
    # --notes-root widens what a case may read; the case's own folder stays allowed.
    assert len(load_case(folder / "fine.yaml", notes_root=other).notes) == 2
    with pytest.raises(InputError, match="outside the case file's folder and --notes-root"):
        load_case(folder / "relative.yaml", notes_root=tmp_path / "elsewhere")
    # The CLI: a one-line error, and --notes-root lets it through.
    refused = runner.invoke(app, ["match", str(folder / "relative.yaml"), "--db", str(store)])
    assert refused.exit_code == 1 and "outside the case file's folder" in refused.stderr
    allowed = runner.invoke(app, ["match", str(folder / "relative.yaml"), "--db", str(store),
                                  "--json", "--notes-root", str(tmp_path)])
    assert allowed.exit_code == 0, allowed.stderr


def test_batch_notes_root(tmp_path, store):
    folder = tmp_path / "cases"
    folder.mkdir()
    (tmp_path / "shared-notes").mkdir()
    (tmp_path / "shared-notes" / "n.txt").write_text(LUAD)
    (folder / "c.yaml").write_text("id: c\nnotes:\n  - path: ../shared-notes/n.txt\n")
    refused = run_batch(folder, tmp_path / "out1", jobs=1, matcher_factory=fake_matcher)
    assert "outside" in refused.outcomes[0].error
    allowed = run_batch(folder, tmp_path / "out2", jobs=1, matcher_factory=fake_matcher,
                        notes_root=tmp_path)
    assert allowed.outcomes[0].status == "matched"


# ----------------------------------------------------------------------- summary.csv


def fake_match(case) -> CaseReport:
    return CaseReport({"case_id": case.id, "trials": []}, "", "")


def fake_matcher():
    return fake_match


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_summary_cells_cannot_start_a_formula(tmp_path, start):
    folder = tmp_path / "cases"
    folder.mkdir()
    name = f"{start}HYPERLINK(x)"
    (folder / f"{name}.yaml").write_text(f"id: ok-case\nnotes:\n  - text: {json.dumps(LUAD)}\n")
    out = tmp_path / "out"
    run_batch(folder, out, jobs=1, matcher_factory=fake_matcher)
    row = next(csv.DictReader((out / "summary.csv").open(newline="")))
    # Tab and CR are also no line breaks in a cell: the row stays one row.
    assert row["case_file"] == f"'{name}.yaml".replace("\r", " ")


def test_summary_csv_neutralises_every_column():
    outcome = batch_module.CaseOutcome(0, "=cmd|' /C calc'!A0.txt", None, "failed",
                                       "@SUM(1+1)")
    text = summary_csv([outcome])
    row = next(csv.DictReader(text.splitlines()))
    assert row["case_file"].startswith("'=") and row["error"].startswith("'@")


# ----------------------------------------------------------------------- note text


def test_invisible_characters_are_removed_with_a_warning_naming_the_note(tmp_path, store):
    hidden = LUAD.replace("adenocarcinoma", "adeno\u200bcarci\u202enoma\u00ad")
    (tmp_path / "note.txt").write_text(hidden)
    read = read_note_text(tmp_path / "note.txt")
    assert read.text == LUAD
    assert read.warnings == [f"{tmp_path / 'note.txt'}: removed 3 invisible character(s) "
                             "(zero-width or bidi controls)"]
    result = runner.invoke(app, ["extract", "--json", str(tmp_path / "note.txt")])
    assert json.loads(result.stdout)["cancer_type"]["code"] == "LUAD"
    assert "removed 3 invisible" in result.stderr
    case = tmp_path / "case.yaml"
    case.write_text(f"id: inv\nnotes:\n  - path: note.txt\n  - text: \"{MARKER}\\u200b\"\n")
    matched = runner.invoke(app, ["match", str(case), "--db", str(store), "--json"])
    warnings = json.loads(matched.stdout)["warnings"]
    assert f"{case}: note 1 (path): removed 3 invisible character(s) (zero-width or bidi " \
           "controls)" in warnings
    assert f"{case}: note 2 (text): removed 1 invisible character(s) (zero-width or bidi " \
           "controls)" in warnings
    assert MARKER not in matched.stderr
    only_invisible = tmp_path / "blank.txt"
    only_invisible.write_text("\u200b\u200b\u2060\n")
    with pytest.raises(InputError, match="blank.txt: note is empty after removing"):
        read_note_text(only_invisible)


@pytest.mark.parametrize("data, warned", [
    (LUAD.encode().replace(b"biopsy", b"bio\x00psy"), True),
    (LUAD.encode().replace(b". EGFR", b".\x0c\x1b EGFR"), True),
    (LUAD.encode() + b"\r\n\t\x0b", False),
])
def test_stray_control_bytes_in_text_are_stripped_with_a_warning(data, warned):
    read = decode_note_text(data, "n.txt")
    assert "\x00" not in read.text and "\x1b" not in read.text
    assert bool(read.warnings) is warned
    assert all(w.startswith("n.txt: removed") for w in read.warnings)


@pytest.mark.parametrize("data", [
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + LUAD.encode(),
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
    b"\xff\xd8\xff\xe0" + LUAD.encode(),
    b"PK\x03\x04" + LUAD.encode(),
    bytes(range(256)) * 20,
    LUAD.encode("utf-16"),
])
def test_real_binaries_are_refused(data):
    with pytest.raises(InputError, match="binary"):
        decode_note_text(data, "n.txt")


# ----------------------------------------------------------------------- punctuation runs


def test_long_runs_are_cut_to_a_bounded_length_in_place():
    text = "(" * 5000 + " lung adenocarcinoma " + ")" * 5000 + "x" + " " * 1000 + "y" + "_" * 30
    cut = cut_long_runs(text)
    assert len(cut) == len(text)
    assert cut_long_runs(cut) == cut
    assert cut.index("lung adenocarcinoma") == text.index("lung adenocarcinoma")
    import re

    assert max(len(run) for run in re.findall(r"(?:[^\w\s]|_)+", cut)) == MAX_PUNCTUATION_RUN
    assert max(len(run) for run in re.findall(r"\s+", cut)) == MAX_SPACE_RUN
    assert cut_long_runs(LUAD) == LUAD
    separator = "=" * 20  # short rules in real notes are left alone
    assert cut_long_runs(separator + "\n" + LUAD) == separator + "\n" + LUAD


def test_the_tokenizer_never_sees_a_long_punctuation_chunk(monkeypatch):
    from trialmatch.nlp.pipeline import build_pipeline, run_pipeline

    # Without a model only the text around parentheses is tokenized (for abbreviations):
    # every doc the tokenizer makes is checked.
    nlp = build_pipeline(None)
    made = []
    make_doc = nlp.make_doc
    monkeypatch.setattr(nlp, "make_doc", lambda text: made.append(make_doc(text)) or made[-1])
    run_pipeline("(" * 3000 + "lungadenocarcinoma (LA)" + ")" * 3000)
    tokens = [token for doc in made for token in doc if not token.is_space]
    assert tokens and max(len(token.text) for token in tokens) <= MAX_PUNCTUATION_RUN


def test_a_hostile_note_gives_the_profile_of_its_words():
    from trialmatch.nlp.extract import extract

    hostile = "(" * 5000 + LUAD + ")" * 5000
    assert extract([hostile]).cancer_type.code == extract([LUAD]).cancer_type.code == "LUAD"


# ----------------------------------------------------------------------- per-case time limit


def slow_match(case) -> CaseReport:
    if case.id.startswith("slow"):
        time.sleep(600)
    return fake_match(case)


def slow_matcher():
    return slow_match


def stuck_match(case) -> CaseReport:
    if case.id == "stuck":
        # Native code that never returns to Python: the worker's own timer cannot end it.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(600)
    return fake_match(case)


def stuck_matcher():
    return stuck_match


def dying_match(case) -> CaseReport:
    if case.id == "dies":
        os._exit(9)  # what the OOM killer looks like from the parent
    return fake_match(case)


def dying_matcher():
    return dying_match


def cases_named(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.yaml").write_text(f"id: {name}\nnotes:\n  - text: {json.dumps(LUAD)}\n")
    return folder


# The limit is generous beside a fake match (microseconds), so a loaded machine cannot make a
# good case miss it; only the bad case's outcome is asserted, never a duration.
@pytest.mark.parametrize("factory, bad, jobs, reason", [
    (slow_matcher, "slow", 1, "took longer than the per-case time limit of 3 s"),
    (slow_matcher, "slow", 2, "took longer than the per-case time limit of 3 s"),
    (stuck_matcher, "stuck", 2, "took longer than the per-case time limit of 3 s"),
    (dying_matcher, "dies", 2, "its worker process died"),
])
def test_a_case_over_its_time_limit_or_killed_fails_and_the_batch_goes_on(
        tmp_path, factory, bad, jobs, reason):
    folder = cases_named(tmp_path / "cases", "a-first", bad, "c-last", "d-after")
    result = run_batch(folder, tmp_path / "out", jobs=jobs, matcher_factory=factory,
                       case_timeout=3)
    outcomes = {o.case_id: o for o in result.outcomes}
    assert outcomes[bad].status == "failed" and reason in outcomes[bad].error
    assert all(outcomes[name].status == "matched" for name in ("a-first", "c-last", "d-after"))
    assert (tmp_path / "out" / "summary.csv").exists()


def test_batch_workers_exit_when_the_parent_is_killed(tmp_path):
    folder = cases_named(tmp_path / "cases", "slow", "slow2")
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from test_hostile_input import slow_matcher;"
        "from trialmatch.match.batch import run_batch;"
        "run_batch(sys.argv[2], sys.argv[3], jobs=2, matcher_factory=slow_matcher,"
        " case_timeout=500)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script, str(REPO / "tests"), str(folder),
                               str(tmp_path / "out")], cwd=REPO)
    try:
        workers: list[int] = []
        for _ in range(600):  # the workers start, then one takes the slow case
            workers = _children(parent.pid)
            if len(workers) >= 2:
                break
            time.sleep(0.1)
        assert len(workers) >= 2, "the batch started no workers"
        parent.kill()
        parent.wait()
        for _ in range(600):
            if not any(_alive(pid) for pid in workers):
                break
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), "a worker outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and "spawn_main" in _cmdline(entry):
                found.append(int(entry.name))
    return found


def _cmdline(entry: Path) -> str:
    try:
        return (entry / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# ----------------------------------------------------------------------- ingest


def test_one_bad_file_is_one_skipped_item_in_ingest_and_all_bad_exits_1(tmp_path):
    good = sorted((FIXTURES / "trials").glob("*.json"))[0]
    folder = tmp_path / "studies"
    folder.mkdir()
    (folder / "good.json").write_text(good.read_text())
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "zero.zip").symlink_to("/dev/zero")
    (folder / "broken.zip").write_bytes(b"PK\x03\x04 broken")
    os.mkfifo(tmp_path / "stray.json")
    db = tmp_path / "t.db"
    result = run_cli("ingest", str(folder), str(tmp_path / "stray.json"), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "1 added" in result.stdout
    assert "deep.json: not valid JSON (nested deeper than 64 levels); skipped" in result.stderr
    assert "stray.json: is a FIFO (named pipe), not a study file; skipped" in result.stderr
    assert "broken.zip: not a readable zip archive; skipped" in result.stderr
    bad_only = run_cli("ingest", str(folder / "deep.json"), str(tmp_path / "stray.json"),
                       "--db", str(tmp_path / "other.db"))
    assert bad_only.returncode == 1
    assert bad_only.stderr.strip().splitlines()[-1].startswith(
        "trialmatch: error: no usable study in 2 file(s); nothing was stored")


def test_a_study_that_breaks_normalisation_in_any_way_is_one_skipped_study(tmp_path,
                                                                          monkeypatch):
    from trialmatch.ingest import files
    from trialmatch.ingest.store import TrialStore

    real = files.normalize_study

    def brittle(study):
        if study["protocolSection"]["identificationModule"]["nctId"].endswith("1"):
            raise RecursionError("maximum recursion depth exceeded")
        return real(study)

    monkeypatch.setattr(files, "normalize_study", brittle)
    paths = sorted((FIXTURES / "trials").glob("*.json"))[:4]
    with TrialStore.open(tmp_path / "t.db") as store:
        result = files.ingest_paths(store, paths)
    broken = [p for p in paths if p.stem.endswith("1")]
    assert result.usable == len(paths) - len(broken)
    assert result.warnings == [f"{p}: unusable study (RecursionError); skipped" for p in broken]
