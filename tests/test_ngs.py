"""Comprehensive tumour panels (trialmatch.nlp.ngs) and what their silence means to the
matcher: a solid tumour's gene alteration such a report does not name is not there."""

from __future__ import annotations

import pytest

from tests.test_evaluate import make_patient, marker
from trialmatch.match.evaluate import evaluate_requirement
from trialmatch.nlp.ngs import comprehensive_panel, germline_test
from trialmatch.nlp.vocab import get_vocabulary


@pytest.mark.parametrize("notes,found", [
    (["Tumor NGS (FoundationOne CDx, RLL wedge bx 09/2026): BRAF V600E (VAF 31%); RAS "
      "wild-type; MSS; TMB 2 mut/Mb."], True),
    (["MSK-IMPACT: KRAS G12D, TP53 R273H."], True),
    (["FoundationOne CDx sent 11/2026, results pending."], False),
    (["Ordering tissue NGS (FoundationOne CDx on 03/2025 liver bx block)."], False),
    # a hotspot panel or a plasma assay rules nothing out
    (["50-gene hotspot panel: no mutation detected."], False),
    (["Guardant360 (plasma): no alterations detected."], False),
])
def test_a_comprehensive_panel_with_results(notes, found):
    assert (comprehensive_panel(notes) is not None) is found


@pytest.mark.parametrize("notes,found", [
    (["Germline panel (Invitae, 84 genes): no pathogenic variants."], True),
    (["Family hx: mother breast ca at 45. Genetic testing: negative (Myriad myRisk 2019)."],
     True),
    (["Germline testing sent 11/2026."], False),  # ordered: no result yet
    (["Germline panel sent 05/2025: negative."], True),
    (["Genetic testing: NONE on record - no germline panel and no tumor NGS ever sent."], False),
    (["Germline testing recommended; if negative, tumour testing next."], False),
    (["Germline testing: VUS in ATM."], True),
    # recommended, offered, referred or declined: no test was done
    (["Refer to genetics for germline testing."], False),
    (["Genetic testing recommended; patient will consider."], False),
    (["She declined genetic testing."], False),
    (["ECOG 1. Labs normal. No genetic testing has been done; his mother had ovarian cancer."],
     False),  # the result word of another sentence is not the test's

    (["Tumor NGS (FoundationOne CDx): KRAS G12D."], False),  # a tumour test
])
def test_a_germline_test_reported(notes, found):
    assert (germline_test(notes) is not None) is found


def _patient(**overrides):
    return make_patient(ontology=get_vocabulary(), biomarkers=[], **overrides)


def test_a_gene_the_panel_did_not_report_is_absent_for_a_solid_tumour():
    panel = "Tumor NGS (FoundationOne CDx): PIK3CA E545K; no other alterations."
    requirement = marker(marker="KRAS", alterations=["G12C"], status="positive")
    with_panel = evaluate_requirement(requirement, _patient(ngs_panel=panel))
    assert with_panel.truth is False
    assert "comprehensive tumour panel" in with_panel.reason
    assert evaluate_requirement(requirement, _patient()).truth is None
    # a family's genes too ("RAS or RAF mutations")
    family = marker(marker="RAF", alterations=[], status="positive")
    assert evaluate_requirement(family, _patient(ngs_panel=panel)).truth is False


@pytest.mark.parametrize("item", [
    {"marker": "BRCA1", "alterations": [], "status": "positive", "germline": True},
    {"marker": "PD-L1", "alterations": [], "status": "positive"},  # a protein
    {"marker": "KRAS", "alterations": [], "status": "negative"},  # wild-type asked
])
def test_a_panel_settles_no_germline_variant_protein_or_wild_type_demand(item):
    panel = "FoundationOne CDx: PIK3CA E545K."
    assert evaluate_requirement(marker(**item), _patient(ngs_panel=panel)).truth is None


def test_no_inference_for_a_haematological_cancer():
    panel = "FoundationOne Heme: TP53 mutation."
    requirement = marker(marker="FLT3", alterations=[], status="positive")
    patient = _patient(ngs_panel=panel, cancer_code="AML", cancer_name="AML")
    assert evaluate_requirement(requirement, patient).truth is None


def test_a_plasma_assay_of_a_listed_panel_is_no_tumour_panel():
    assert comprehensive_panel(["FoundationOne Liquid CDx (plasma): no alterations."]) is None
