"""Reports: Markdown and self-contained HTML with each trial's criteria table, escaped."""

import html
import re
from dataclasses import dataclass

import pytest

from tests.test_evaluate import ONTOLOGY, criterion, make_trial, marker, req
from trialmatch.match.case import Case, CaseNote, FirstOpinion
from trialmatch.match.engine import DISCLAIMER, MatchResult, plan_match
from trialmatch.match.report import render_html, render_markdown
from trialmatch.models import Biomarker, CancerType, Profile, Stage


@dataclass
class Finding:
    """A finding as the knowledge module returns them: something with to_dict()."""

    fields: dict

    def to_dict(self):
        return dict(self.fields)


@pytest.fixture
def result():
    profile = Profile(
        cancer_type=CancerType("LUAD", "Lung Adenocarcinoma", "adenocarcinoma <RUL>", 0, 20),
        histology="adenocarcinoma", primary_site="lung",
        stage=Stage(prefix="c", t="T2a", n="N2", m="M1a", group="IVA", evidence="cT2a N2 M1a"),
        biomarkers=[Biomarker("EGFR", "exon 19 deletion", "positive", evidence="EGFR ex19del")],
    )
    case = Case(id="case-r1", notes=[CaseNote("text #1", "note")], age=64, sex="female",
                ecog=1, prior_therapies=[], first_opinion=FirstOpinion(
                    stage="IIIA", trials_considered=["NCT99000002"]))
    trials = [
        make_trial([criterion("inclusion", marker(marker="EGFR", alterations=["exon 19 deletion"]),
                              text="EGFR exon 19 deletion | L858R <required>"),
                    criterion("inclusion", req("organ_function", measure="ANC"),
                              text="ANC >= 1500/uL")],
                   nct_id="NCT99000001", title="Osimertinib <combo> & friends"),
        make_trial([criterion("inclusion", marker(marker="KRAS", alterations=["G12C"]),
                              text="KRAS G12C")], nct_id="NCT99000002", title="KRAS trial"),
        make_trial([criterion("inclusion", req("stage", groups=["I", "II"]), text="Stage I-II")],
                   nct_id="NCT99000003", title="Early-stage trial"),
    ]
    matches, excluded = plan_match(case, profile, trials, ontology=ONTOLOGY)
    return MatchResult(
        case=case, profile=profile, trials=matches, excluded=excluded,
        protocols=[Finding({"biomarker": "EGFR exon 19 deletion", "therapy": "osimertinib",
                            "source": "FDA label 2018", "missed": True})],
        testing_gaps=[Finding({"marker": "ALK", "reason": "metastatic NSCLC: ALK not documented"})],
        discrepancies=[Finding({"field": "stage", "first_opinion": "IIIA", "found": "IVA",
                                "evidence": "M1a"})],
        candidates=3,
    )


def test_markdown_report_has_every_section_in_the_board_order(result):
    text = render_markdown(result)
    headings = ("## The patient now", "## What the first evaluation missed",
                "## Top trials (2 of 2)", "## Criteria, trial by trial", "### NCT99000001",
                "## Excluded trials (1)", "## Biomarker-directed protocols",
                "## Testing gaps", "## Discrepancies with the first opinion",
                "## Patient profile")
    positions = [text.index(heading) for heading in headings]
    assert positions == sorted(positions)
    assert DISCLAIMER in text
    assert "**Cancer type:** Lung Adenocarcinoma (LUAD)" in text
    assert "**Stage:** stage IVA (cT2a N2 M1a)" in text
    assert "**Key biomarkers:** EGFR exon 19 deletion" in text
    assert "https://clinicaltrials.gov/study/NCT99000001" in text
    assert "osimertinib" in text and "(not in the first opinion)" in text
    assert "Stage I-II" in text and "first opinion IIIA, notes show IVA" in text


def test_markdown_escapes_table_cells(result):
    text = render_markdown(result)
    assert "EGFR exon 19 deletion \\| L858R &lt;required>" in text
    table_rows = [line for line in text.splitlines() if line.startswith("| include")]
    assert all(line.count(" | ") >= 4 for line in table_rows)


def test_html_report_is_self_contained_and_escaped(result):
    page = render_html(result)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "@media print" in page
    assert not re.search(r"""src=["']?(https?:)?//""", page)
    # The only links out are the trials' pages on ClinicalTrials.gov, for the reader to follow.
    links = re.findall(r"""href=["']?((?:https?:)?//[^"' >]+)""", page)
    assert links and all(link.startswith("https://clinicaltrials.gov/study/NCT")
                         for link in links)
    assert "<script" not in page
    assert "Osimertinib &lt;combo&gt; &amp; friends" in page
    assert "adenocarcinoma &lt;RUL&gt;" in page
    assert page.count('<details class="trial"') == 2
    excluded = page.split("Excluded trials (1)")[1]
    assert "NCT99000003" in excluded
    # The reason comes first, then the criterion as written.
    assert excluded.index("stage IVA is not among I, II") < excluded.index("Stage I-II")
    assert html.escape(DISCLAIMER) in page


def test_html_first_page_is_what_the_board_reads(result):
    page = render_html(result)
    first, rest = page.split("</section>", 1)
    order = ["The patient now", "Lung Adenocarcinoma (LUAD)", "stage IVA (cT2a N2 M1a)",
             "EGFR exon 19 deletion", "What the first evaluation missed",
             "Protocol</span> EGFR exon 19 deletion: osimertinib, not in the first opinion",
             "Test</span> ALK: metastatic NSCLC: ALK not documented",
             "Discrepancy</span> stage: the first opinion says IIIA, the notes show IVA (M1a)",
             "Top trials (2 of 2)", "Osimertinib &lt;combo&gt; &amp; friends",
             "Eligible: requires the patient&#x27;s biomarker",
             "https://clinicaltrials.gov/study/NCT99000001"]
    at = 0
    for text in order:  # each after the one before
        at = first.index(text, at)
    assert "Contact: no contact in the record" in first
    assert "<details" not in first and "<details" in rest
    assert "break-after:page" in page  # the first page prints alone


def test_reports_render_a_plain_document(result):
    document = result.to_dict()
    assert render_markdown(document) == render_markdown(result)
    assert render_html(document) == render_html(result)


def test_report_without_trials_or_findings():
    case = Case(id="benign", notes=[CaseNote("text #1", "note")])
    empty = MatchResult(case=case, profile=Profile(), trials=[], excluded=[])
    assert "No open trial fits" in render_markdown(empty)
    assert "None found." in render_html(empty)
