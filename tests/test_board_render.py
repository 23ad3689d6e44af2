"""index.html and a case report rendered by a real browser (headless Chromium), offline.

Runs the real batch (fixture trials ingested into a temporary store, fixture cases matched)
and checks that what Chromium renders shows the trials, and that the board prints to PDF.
Skipped, with the reason, when Chromium is not installed (Debian: apt-get install chromium).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from trialmatch.match.batch import run_batch, store_matcher

REPO = Path(__file__).resolve().parent.parent


def _find_chromium() -> str | None:
    # $CHROMIUM, when set, is the only candidate (a path, or empty to skip these tests).
    if "CHROMIUM" in os.environ:
        candidates = [os.environ["CHROMIUM"]]
    else:
        candidates = [shutil.which(name) for name in ("chromium", "chromium-browser")]
        candidates.append("/usr/bin/chromium")
    return next((path for path in candidates if path and Path(path).is_file()), None)


CHROMIUM = _find_chromium()

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not installed (Debian: apt-get install -y chromium; or set $CHROMIUM)")

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    # The pages must be readable offline: any network fetch fails instead of hanging.
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def chromium(page: Path, profile: Path, *mode: str) -> subprocess.CompletedProcess:
    """Run headless Chromium on a local file with a throwaway profile."""
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *mode, page.as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )


class _VisibleText(HTMLParser):
    """The text a reader sees: everything outside <style>, <script>, <head>."""

    hidden = {"style", "script", "head", "title"}

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.hidden:
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in self.hidden and self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


def rendered_text(page: Path, profile: Path) -> str:
    """The page's visible text after Chromium has parsed and laid it out (--dump-dom)."""
    run = chromium(page, profile, "--dump-dom")
    assert run.returncode == 0, run.stderr[-1000:]
    parser = _VisibleText()
    parser.feed(run.stdout)
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Path:
    """A real batch over fixtures/cases on a store of fixtures/trials."""
    from trialmatch.ingest.store import TrialStore
    from trialmatch.nlp.criteria import annotate_trial

    work = tmp_path_factory.mktemp("board")
    db = work / "trials.db"
    studies = [json.loads(p.read_text()) for p in sorted((REPO / "fixtures/trials").glob("*.json"))]
    with TrialStore.open(db) as store:
        store.upsert_studies(studies, annotate_trial)
    out = work / "out"
    run_batch(REPO / "fixtures" / "cases", out, jobs=1,
              matcher_factory=functools.partial(store_matcher, db, False, None))
    return out


def test_index_shows_every_case_and_its_top_trials(board, tmp_path):
    text = rendered_text(board / "index.html", tmp_path / "profile")
    documents = [json.loads(path.read_text()) for path in sorted(board.glob("*.json"))]
    assert documents, "the fixture batch matched no case"
    assert "Decision support for clinicians" in text
    for document in documents:
        assert document["case_id"] in text
        for trial in document["trials"][:5]:
            assert trial["nct_id"] in text, (document["case_id"], trial["nct_id"])
    assert any(document["trials"] for document in documents)


def test_case_report_shows_its_trials(board, tmp_path):
    documents = [json.loads(path.read_text()) for path in sorted(board.glob("*.json"))]
    with_trials = max(documents, key=lambda document: len(document["trials"]))
    assert with_trials["trials"], "no fixture case has an eligible trial"
    text = rendered_text(board / f"{with_trials['case_id']}.html", tmp_path / "profile")
    for trial in with_trials["trials"]:
        assert trial["nct_id"] in text


def test_index_prints_to_pdf(board, tmp_path):
    pdf = tmp_path / "board.pdf"
    run = chromium(board / "index.html", tmp_path / "profile", "--no-pdf-header-footer",
                   f"--print-to-pdf={pdf}")
    assert run.returncode == 0, run.stderr[-1000:]
    pages = re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes())
    assert len(pages) >= 2  # the overview, then the cases (print CSS breaks after it)


@pytest.mark.parametrize("name", ["index.html", "case report"])
def test_pages_load_no_external_assets(board, name):
    pages = [board / "index.html"] if name == "index.html" else [
        page for page in sorted(board.glob("*.html")) if page.name != "index.html"][:1]
    assert pages
    html = pages[0].read_text()
    # Links to ClinicalTrials.gov are fine; anything fetched to draw the page is not.
    assert not re.search(r"""\bsrc\s*=\s*["']?(https?:)?//""", html, re.IGNORECASE)
    assert not re.search(r"<link\b|@import|url\(\s*['\"]?(https?:)?//", html, re.IGNORECASE)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.parametrize("name", ["index.html", "demo-nsclc-egfr.html"])
def test_screenshot_of_the_first_page(board, tmp_path, name):
    shot = tmp_path / "shot.png"
    run = chromium(board / name, tmp_path / "profile", "--window-size=1280,1600",
                   "--hide-scrollbars", f"--screenshot={shot}")
    assert run.returncode == 0, run.stderr[-1000:]
    assert png_size(shot) == (1280, 1600)
    assert shot.stat().st_size > 20_000  # drawn text, not a blank page


def test_case_report_first_page_prints_alone(board, tmp_path):
    text = rendered_text(board / "demo-nsclc-egfr.html", tmp_path / "profile")
    order = ["The patient now", "What the first evaluation missed", "Top trials",
             "Nearest recruiting site", "https://clinicaltrials.gov/study/NCT99000001",
             "Criteria, trial by trial"]
    at = 0
    for words in order:
        at = text.index(words, at)
    pdf = tmp_path / "case.pdf"
    run = chromium(board / "demo-nsclc-egfr.html", tmp_path / "profile",
                   "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    assert run.returncode == 0, run.stderr[-1000:]
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes())) >= 2
