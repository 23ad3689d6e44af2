"""Biomarker results: marker, alteration, status and value, with negation and uncertainty."""

import pytest

from trialmatch.nlp.biomarkers import find_biomarkers
from trialmatch.nlp.extract import extract


def _one(text, marker):
    found = [b for b in find_biomarkers(text) if b.marker == marker]
    assert found, f"{marker} not found"
    return found


@pytest.mark.parametrize(
    ("text", "marker", "alteration", "status"),
    [
        ("EGFR exon 19 deletion detected by NGS.", "EGFR", "exon 19 deletion", "positive"),
        ("EGFR: p.L858R mutation detected", "EGFR", "L858R", "positive"),
        ("No EGFR mutation detected.", "EGFR", "mutation", "negative"),
        ("Negative for EGFR mutations.", "EGFR", "mutation", "negative"),
        ("KRAS G12C mutation identified", "KRAS", "G12C", "positive"),
        ("KRAS: wild-type", "KRAS", None, "negative"),
        ("BRAF p.V600E detected", "BRAF", "V600E", "positive"),
        ("ALK rearrangement (FISH): not detected", "ALK", "fusion", "negative"),
        ("EML4-ALK fusion detected", "ALK", "fusion", "positive"),
        ("MET exon 14 skipping: detected", "MET", "exon 14 skipping", "positive"),
        ("EGFR testing is pending.", "EGFR", None, "unknown"),
        ("Insufficient tissue for EGFR testing.", "EGFR", None, "unknown"),
        ("ALK IHC: equivocal", "ALK", None, "equivocal"),
        ("HER2-negative", "HER2", None, "negative"),
        ("ER+", "ER", None, "positive"),
        ("MSI-H", "MSI", None, "positive"),
        ("Microsatellite stable (MSS)", "MSI", None, "negative"),
        ("MSI-low", "MSI", None, "negative"),
        ("dMMR", "MMR", None, "positive"),
        # a denial at the start of a result line, or right before a presence word
        ("| MET    | no ex14 skipping, no amp   | -    |", "MET", "exon 14 skipping", "negative"),
        ("MET: no amp", "MET", "amplification", "negative"),
        # a sign right after the alteration's name
        ("NPM1 mutated; FLT3-ITD-; NRAS wt", "FLT3", "ITD", "negative"),
        ("FLT3 ITD+ (AR 0.6)", "FLT3", "ITD", "positive"),
        # a hyphen joining a word is no minus sign
        ("Oligodendroglioma, IDH-mutant and 1p/19q-codeleted", "IDH", None, "positive"),
        # a cue right after a name the vocabulary does not hold is that name's result
        ("EGFR amp (~40 copies) EGFRvIII not detected  CDKN2A/B homozygous deletion  PTEN wt",
         "CDKN2A", "homozygous deletion", "positive"),
        # ... and one right after another marker, before a ' -- ' break, that marker's
        ("PD-L1 not performed -- Therapy associations: CDK4 amp (CDK4/6 inhibitors)", "CDK4",
         "amplification", "positive"),
        # a germline variant in HGVS; the "matched normal" is the sample, not a result
        ("SMAD4 p.R361C VAF 26% | BRCA2 c.5946del VAF 52% (germline, matched normal) with LOH",
         "BRCA2", "germline", "positive"),
        # a denial two words before a presence word
        ("Genes analyzed incl ATM: no other pathogenic variants", "ATM", "mutation", "negative"),
    ],
)
def test_status_and_alteration(text, marker, alteration, status):
    [found] = _one(text, marker)
    assert found.status == status
    assert found.alteration == alteration


@pytest.mark.parametrize(
    ("text", "marker", "status", "value", "unit"),
    [
        ("ER: positive (95%)", "ER", "positive", 95, "%"),
        ("Estrogen receptor 95% strong", "ER", "positive", 95, "%"),
        ("Progesterone receptor: <1%", "PR", "negative", 1, "%"),
        ("ER Allred score 8", "ER", "positive", 8, "Allred"),
        ("PD-L1 TPS 60%", "PD-L1", "positive", 60, "TPS"),
        ("PD-L1 (22C3) tumor proportion score: 0%", "PD-L1", "negative", 0, "TPS"),
        ("PD-L1 CPS 10", "PD-L1", "positive", 10, "CPS"),
        ("Ki-67: 30%", "Ki-67", "positive", 30, "%"),
        ("TMB 12 mut/Mb", "TMB", "positive", 12, "mut/Mb"),
        ("Tumor mutational burden: 4 mutations per megabase", "TMB", "negative", 4, "mut/Mb"),
        ("HER2 IHC 3+", "HER2", "positive", 3, "IHC"),
        ("HER2: 2+", "HER2", "equivocal", 2, "IHC"),
        ("HER2/neu: 0", "HER2", "negative", 0, "IHC"),
        ("HER2 (IHC): 1+", "HER2", "negative", 1, "IHC"),
        # A score at the end of a sentence or before the method: IHC 0 is HER2-negative.
        ("HER2 IHC 0.", "HER2", "negative", 0, "IHC"),
        ("IDC, grade 3. HER2 0 by IHC.", "HER2", "negative", 0, "IHC"),
        # a bracket dating the test or naming the clone before the score
        ("HER2 IHC (05/2026): 0.", "HER2", "negative", 0, "IHC"),
        ("HER2 IHC (4B5): 2+", "HER2", "equivocal", 2, "IHC"),
        ("ER 0, PR 0, HER2 0, Ki67 70%.", "HER2", "negative", 0, "IHC"),
        ("ER 0, PR 0, HER2 0, Ki67 70%.", "ER", "negative", 0, "%"),
    ],
)
def test_values(text, marker, status, value, unit):
    [found] = _one(text, marker)
    assert (found.status, found.value, found.unit) == (status, value, unit)


def test_her2_ihc_and_fish_are_two_results():
    found = _one("HER2 IHC 2+ (equivocal); FISH ratio 2.3, amplified.", "HER2")
    by_unit = {b.unit: b for b in found}
    assert by_unit["IHC"].status == "equivocal"
    assert by_unit["ratio"].status == "positive"
    assert by_unit["ratio"].alteration == "amplification"
    assert by_unit["ratio"].value == 2.3


@pytest.mark.parametrize(
    ("text", "status", "ratio"),
    [
        # ASCO/CAP 2018 dual-probe ISH groups when only the numbers are written.
        ("HER2 FISH: HER2/CEP17 ratio 2.6, average HER2 copy number 7.1 signals/cell.",
         "positive", 2.6),  # group 1
        ("HER2 FISH: HER2/CEP17 ratio 2.3, average HER2 copy number 3.5 signals/cell.",
         "negative", 2.3),  # group 2
        ("HER2 FISH ratio 1.5, average HER2 copy number 6.5 signals per cell.",
         "equivocal", 1.5),  # group 3: the IHC result decides
        ("HER2 FISH ratio 1.2, mean HER2 copy number 4.5.", "negative", 1.2),  # group 4
        ("HER2 FISH ratio 2.4", "positive", 2.4),  # no count: the ratio alone
        # The centromere probe by its locus name.
        ("HER2 FISH: ratio of HER2 to D17Z1 is 8.0 (average count: HER2: 14.9, D17Z1: 1.9)",
         "positive", 8.0),
    ],
)
def test_her2_ish_groups(text, status, ratio):
    found = [b for b in _one(text, "HER2") if b.unit == "ratio"]
    assert [(b.status, b.value) for b in found] == [(status, ratio)]


def test_her2_ish_result_is_the_word_after_the_method():
    found = _one("HER2 equivocal (2+), FISH amplified", "HER2")
    assert {(b.unit, b.status) for b in found} == {("IHC", "equivocal"), (None, "positive")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ER/PR: positive/negative", {"ER": "positive", "PR": "negative"}),
        ("ER/PR (+/-)", {"ER": "positive", "PR": "negative"}),
        ("ER/PR: negative", {"ER": "negative", "PR": "negative"}),  # one result for both
    ],
)
def test_slash_joined_markers_take_their_own_results(text, expected):
    found = {b.marker: b.status for b in find_biomarkers(text)}
    assert found == expected


def test_her2_fish_not_amplified():
    [found] = _one("HER2 FISH: not amplified (ratio 1.2)", "HER2")
    assert (found.alteration, found.status, found.value) == ("amplification", "negative", 1.2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("EGFR, KRAS and BRAF: not detected.", {"EGFR": "negative", "KRAS": "negative",
                                                "BRAF": "negative"}),
        ("No mutations were detected in EGFR, KRAS or BRAF.",
         {"EGFR": "negative", "KRAS": "negative", "BRAF": "negative"}),
        ("Negative for ALK rearrangement, positive for EGFR exon 19 deletion.",
         {"ALK": "negative", "EGFR": "positive"}),
        ("ER positive, PR negative, HER2 negative.",
         {"ER": "positive", "PR": "negative", "HER2": "negative"}),
        ("ER+ PR- HER2 3+", {"ER": "positive", "PR": "negative", "HER2": "positive"}),
        ("Immunostains for ER and PR are pending.", {"ER": "unknown", "PR": "unknown"}),
        ("KRAS and NRAS wild-type", {"KRAS": "negative", "NRAS": "negative"}),
        ("Results of special stains (ER, PR, HER2-NEU) will be reported as an addendum.",
         {"ER": "unknown", "PR": "unknown", "HER2": "unknown"}),
        ("Carcinoma negative for ER and PR, and indeterminate for HER2 overexpression.",
         {"ER": "negative", "PR": "negative", "HER2": "unknown"}),
        ("ESTROGEN RECEPTOR - POSITIVE, PROGESTERONE RECEPTOR - NEGATIVE",
         {"ER": "positive", "PR": "negative"}),
        ("No HER2 overexpression.", {"HER2": "negative"}),
        # an item naming its alteration stays in the list
        ("EGFR, ALK, ROS1, BRAF, MET exon 14 and RET negative.",
         {"EGFR": "negative", "ALK": "negative", "ROS1": "negative", "BRAF": "negative",
          "MET": "negative", "RET": "negative"}),
        ("EGFR mutation, ALK rearrangement and ROS1 fusion: not detected.",
         {"EGFR": "negative", "ALK": "negative", "ROS1": "negative"}),
        # a protein change may be the finding itself: not joined
        ("BRAF V600E, KRAS and NRAS wild-type.",
         {"BRAF": "positive", "KRAS": "negative", "NRAS": "negative"}),
    ],
)
def test_lists_share_a_result(text, expected):
    found = {b.marker: b.status for b in find_biomarkers(text)}
    assert found == expected


@pytest.mark.parametrize(
    ("text", "status", "alteration"),
    [
        ("MLH1: loss of nuclear expression. PMS2: loss. MSH2: retained. MSH6: intact.",
         "positive", "loss of MLH1/PMS2"),
        ("Loss of MLH1 and PMS2 expression; MSH2 and MSH6 retained.",
         "positive", "loss of MLH1/PMS2"),
        ("MLH1, PMS2, MSH2 and MSH6: intact nuclear expression.", "negative", None),
        ("Mismatch repair proteins MLH1, MSH2, MSH6 and PMS2 retained.", "negative", None),
        ("MLH1 negative, PMS2 negative, MSH2 positive, MSH6 positive.",
         "positive", "loss of MLH1/PMS2"),
    ],
)
def test_mismatch_repair_proteins_sum_up(text, status, alteration):
    """SPEC/our rule: MMR positive = deficient (any protein lost), negative = proficient."""
    [mmr] = _one(text, "MMR")
    assert (mmr.status, mmr.alteration) == (status, alteration)
    assert not [b for b in find_biomarkers(text) if b.marker in ("MLH1", "PMS2")]


@pytest.mark.parametrize(
    ("text", "marker", "status", "value", "unit"),
    [
        ("PD-L1 TPS 10%", "PD-L1", "positive", 10, "TPS"),
        ("HER2-negative", "HER2", "negative", None, None),
        ("EGFR exon 19 deletion", "EGFR", "positive", None, None),
        ("ER positive", "ER", "positive", None, None),
    ],
)
def test_first_opinion_phrases(text, marker, status, value, unit):
    [found] = _one(text, marker)
    assert (found.status, found.value, found.unit) == (status, value, unit)


def test_one_mmr_result_per_text_and_both_pdl1_scores():
    text = ("MLH1: loss. PMS2: loss. MSH2: intact. MSH6: intact. Interpretation: MMR deficient.\n"
            "PD-L1 (22C3): TPS 5%. PD-L1 CPS 10.")
    found = find_biomarkers(text)
    [mmr] = [b for b in found if b.marker == "MMR"]
    assert (mmr.status, mmr.alteration) == ("positive", "loss of MLH1/PMS2")
    assert {(b.unit, b.value) for b in found if b.marker == "PD-L1"} == {("TPS", 5), ("CPS", 10)}


def test_a_stated_result_replaces_pending():
    text = ("EGFR mutation analysis is pending. ADDENDUM: EGFR p.L858R mutation detected.")
    [egfr] = _one(text, "EGFR")
    assert (egfr.alteration, egfr.status) == ("L858R", "positive")


def test_evidence_and_offsets_point_into_the_text():
    text = "Comment: the tumor is ER positive (90%) and PR negative."
    for biomarker in find_biomarkers(text):
        assert text[biomarker.start : biomarker.end].strip() == biomarker.evidence
        assert biomarker.marker in biomarker.evidence or "receptor" in biomarker.evidence


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the result on the next (merged) line
        ("ESTROGEN RECEPTOR. NEGATIVE. PROGESTERONE RECEPTOR. NEGATIVE.",
         {"ER": "negative", "PR": "negative"}),
        # a heading and its result field
        ("KRAS MUTATION ANALYSIS. Specimen: slides. RESULTS: Wild-type gene.",
         {"KRAS": "negative"}),
        # a reference range is not a result
        ("ER Score: 10.1 Positive. Interpretation: ER Negative < 6.5 Positive >= 6.5.",
         {"ER": "positive"}),
        # methods text is not a result
        ("Antibody for immunohistochemical detection of HER2 protein overexpression.",
         {"HER2": "unknown"}),
    ],
)
def test_results_laid_out_as_forms(text, expected):
    assert {b.marker: b.status for b in find_biomarkers(text)} == expected


def test_morphology_suggestive_of_msi_is_not_an_msi_result():
    text = "HISTOLOGIC FEATURES SUGGESTIVE OF MICROSATELLITE INSTABILITY: Not identified."
    assert [b for b in find_biomarkers(text) if b.marker == "MSI"] == []


def test_no_markers_no_results():
    assert find_biomarkers("Benign fibroadipose tissue.") == []


def test_a_wrapped_line_continues_its_sentence():
    text = "History of breast carcinoma (ER positive, HER2\nnegative).\nKi-67: 10%"
    assert {b.marker: b.status for b in find_biomarkers(text)} == {
        "ER": "positive", "HER2": "negative", "Ki-67": "positive"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TMB-high", {"TMB": "positive"}),
        ("BRCA2 mutation", {"BRCA2": "positive"}),
        ("EGFR mutation analysis", {"EGFR": "unknown"}),
        ("triple-negative breast cancer", {"ER": "negative", "PR": "negative",
                                           "HER2": "negative"}),
        ("not triple negative", {}),
        ("ER+/PR+/HER2-", {"ER": "positive", "PR": "positive", "HER2": "negative"}),
    ],
)
def test_first_opinion_shorthand(text, expected):
    assert {b.marker: b.status for b in find_biomarkers(text)} == expected


def _calls(text):
    return {(b.marker, b.alteration, b.status) for b in find_biomarkers(text)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A negative list covers every item; bracketed detail stays with the item before it.
        ("NEGATIVE FOR: KRAS (codons 12, 13, 61, 117, 146), BRAF (including V600E), ERBB2 "
         "(exon 20),\nMET (including exon 14 splice-site region), PIK3CA.",
         {("KRAS", None, "negative"), ("BRAF", "V600E", "negative"), ("HER2", None, "negative"),
          ("MET", None, "negative"), ("PIK3CA", None, "negative")}),
        ("EGFR, KRAS, BRAF, ERBB2 and MET (including exon 14 skipping) negative.",
         {("EGFR", None, "negative"), ("KRAS", None, "negative"), ("BRAF", None, "negative"),
          ("HER2", None, "negative"), ("MET", "exon 14 skipping", "negative")}),
        ("no EGFR, KRAS, BRAF, ERBB2 or MET (exon 14 skipping) alterations",
         {("EGFR", "alteration", "negative"), ("KRAS", "alteration", "negative"),
          ("BRAF", "alteration", "negative"), ("HER2", "alteration", "negative"),
          ("MET", "exon 14 skipping", "negative")}),
        # A class word after the list is shared by every item.
        ("No ALK, ROS1 or RET fusions.",
         {("ALK", "fusion", "negative"), ("ROS1", "fusion", "negative"),
          ("RET", "fusion", "negative")}),
        # A bracket that states a result is not list punctuation: each item has its own.
        ("ER (95%), PR (0%)", {("ER", None, "positive"), ("PR", None, "negative")}),
        # "no" at the end of a line carries over to the next line.
        ("FISH: no PML::RARA, no KMT2A rearrangement, no\nBCR::ABL1.\n",
         {("PML-RARA", "fusion", "negative"), ("KMT2A", "fusion", "negative"),
          ("BCR-ABL1", "fusion", "negative")}),
    ],
)
def test_negative_lists_with_bracketed_detail(text, expected):
    assert _calls(text) == expected


@pytest.mark.parametrize(
    ("text", "status", "value"),
    [
        # The measured score wins over the interpretation's category range.
        ("PD-L1 IMMUNOHISTOCHEMISTRY (22C3):\n- Tumor Proportion Score (TPS): 20%\n"
         "- Interpretation: PD-L1 expression detected (TPS 1-49%).", "positive", 20.0),
        ("PD-L1 expression detected (TPS 1-49%).", "positive", None),
        ("PD-L1 (22C3): TPS 1-49%", "positive", None),
        ("PD-L1: TPS >= 50% (high expression)", "positive", 50.0),
        ("PD-L1 22C3: TPS <1%", "negative", 1.0),
    ],
)
def test_pdl1_range_is_a_category_not_a_value(text, status, value):
    scored = [b for b in find_biomarkers(text) if b.marker == "PD-L1"]
    assert scored
    best = max(scored, key=lambda b: b.value is not None)
    assert (best.status, best.value) == (status, value)
    assert all(b.value in (value, None) for b in scored)


@pytest.mark.parametrize(
    ("text", "marker", "status"),
    [
        ("Germline panel: PATHOGENIC VARIANT DETECTED\n  BRCA1 c.68_69delAG "
         "(p.Glu23Valfs*17), heterozygous.", "BRCA1", "positive"),
        ("Alterations detected:\n  BRCA2 c.5946delT (p.Ser1982Argfs*22), VAF 68% - Tier I.",
         "BRCA2", "positive"),
        ("BRCA2: pathogenic variant detected", "BRCA2", "positive"),
        ("BRCA1: likely pathogenic", "BRCA1", "positive"),
        ("ATM c.1564_1565delGA: deleterious", "ATM", "positive"),
        ("BRCA2 c.1234A>G: variant of uncertain significance (VUS).", "BRCA2", "equivocal"),
        ("BRCA1 c.4837A>G, benign variant", "BRCA1", "negative"),
        ("BRCA1 c.4837A>G: likely benign", "BRCA1", "negative"),
        ("No pathogenic variants in BRCA1 or BRCA2.", "BRCA2", "negative"),
        ("BRCA2: no pathogenic variants identified", "BRCA2", "negative"),
    ],
)
def test_sequence_variants_and_their_classes(text, marker, status):
    found = _one(text, marker)
    assert {b.status for b in found} == {status}


def test_a_germline_heading_carries_into_the_variant_evidence():
    text = ("Germline multigene panel (blood): PATHOGENIC VARIANT DETECTED\n"
            "  BRCA1 c.68_69delAG (p.Glu23Valfs*17), heterozygous.")
    [brca1] = _one(text, "BRCA1")
    assert brca1.alteration == "mutation"
    assert "germline" in brca1.evidence.lower()
    assert text[brca1.start : brca1.end].strip() == brca1.evidence


@pytest.mark.parametrize(
    ("text", "marker", "status"),
    [
        # Method boilerplate names what a test measures, not a result.
        ("The kit is approved for assessment of HER2 protein overexpression.", "HER2",
         "unknown"),
        # OCR joined two lines with a full stop where no sentence ends: the cue still acts.
        ("THIS ASSAY IS USED FOR ASSESSMENT OF. HER2 PROTEIN OVEREXPRESSION.", "HER2",
         "unknown"),
        ("NEGATIVE FOR. ESTROGEN RECEPTOR.", "ER", "negative"),
        # Class words alone are no finding; a named variant is.
        ("FGFR ALTERATION TESTING", "FGFR", "unknown"),
        ("ERBB2 amplification", "HER2", "positive"),
    ],
)
def test_boilerplate_and_merged_lines(text, marker, status):
    assert {b.status for b in _one(text, marker)} == {status}


@pytest.mark.parametrize(
    "text",
    [
        "No prior irinotecan, anti-EGFR antibody, BRAF or MEK inhibitor, or immunotherapy.",
        "No prior BCMA-directed therapy.",
        "Progressed on an EGFR TKI (osimertinib).",
        "Started HER2-targeted therapy.",
        "PD-L1 inhibitor naive.",
    ],
)
def test_drug_targets_in_treatment_history_are_no_results(text):
    assert find_biomarkers(text) == []


def test_a_test_antibody_clone_is_not_a_drug():
    [pdl1] = find_biomarkers("PD-L1 antibody clone 22C3: TPS 60%")
    assert (pdl1.status, pdl1.value, pdl1.unit) == ("positive", 60.0, "TPS")


@pytest.mark.parametrize("text,markers", [
    # RECIST responses share the abbreviation with the progesterone receptor
    ("mFOLFOX6 + bevacizumab x 12 -> PR (liver lesions -45%).", []),
    ("CT 12/2025 PR (-48%). CT 03/2026 continued PR.", []),
    ("Best response: PR after C4", []),
    ("ER 90%, PR 45%, HER2 1+", ["ER", "PR", "HER2"]),
    ("ER+/PR-/HER2-", ["ER", "PR", "HER2"]),
    ("PR: 20%, weak", ["PR"]),
])
def test_a_partial_response_is_not_the_progesterone_receptor(text, markers):
    assert [b.marker for b in find_biomarkers(text)] == markers


@pytest.mark.parametrize("text,expected", [
    ("MSI-H not detected.", [("MSI", "negative")]),
    ("MGMT promoter methylation (pyrosequencing): UNMETHYLATED (mean 3%).",
     [("MGMT", "negative")]),
    ("MGMT promoter methylated.", [("MGMT", "positive")]),
    ("1p/19q NOT codeleted (FISH).", [("1p/19q", "negative")]),
    ("1p/19q intact", [("1p/19q", "negative")]),
    ("MYC (8q24) break-apart: N0 rearrangement detected.", [("MYC", "negative")]),
    ("FGFR2::BICC1 fusion (in-frame, kinase domain retained) - detected by RNA",
     [("FGFR2", "positive")]),
    ("PIK3CA - no alteration detected   BRCA1/BRCA2 - no pathogenic alteration",
     [("PIK3CA", "negative"), ("BRCA1", "negative"), ("BRCA2", "negative")]),
    # a result the sentence denies
    ("Early-stage TNBC. NOT HER2-positive -> anti-HER2 therapy not indicated.",
     [("HER2", "negative")]),
    ("The tumour is not ER-negative.", [("ER", "positive")]),
])
def test_results_read_with_their_polarity(text, expected):
    assert [(b.marker, b.status) for b in find_biomarkers(text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The words right after a marker, then a break, are its own result.
        ("IDH1 wild-type, IDH2 wt; BRAF wt.", {"IDH1": "negative", "IDH2": "negative",
                                              "BRAF": "negative"}),
        ("NRAS no variant | BRAF no variant | TP53 no variant",
         {"NRAS": "negative", "BRAF": "negative", "TP53": "negative"}),
        ("ERBB2 not ampl ; EGFR not ampl ;", {"HER2": "negative", "EGFR": "negative"}),
        # A cue before a marker still acts on it.
        ("Negative for ER, positive for HER2", {"ER": "negative", "HER2": "positive"}),
    ],
)
def test_each_item_of_a_result_list_keeps_its_own_result(text, expected):
    found = {b.marker: b.status for b in find_biomarkers(text)}
    assert found == expected


def test_a_result_that_names_its_test_outranks_a_passing_mention():
    from trialmatch.nlp.extract import extract

    notes = ["Biopsy: squamous cell carcinoma. p16 IHC strong diffuse positive (>70%).",
             "(Note: the ENT letter used 7th-edition, p16-negative N2c nomenclature.)"]
    [p16] = [b for b in extract(notes).biomarkers if b.marker == "p16"]
    assert p16.status == "positive"


@pytest.mark.parametrize("text, expected", [
    # the result in the marker's name (status_aliases)
    ("Tumor HRD (Myriad MyChoice CDx): GIS 51 -> HRD POSITIVE", {"HRD": "positive"}),
    ("SCC, HPV-associated, non-keratinizing", {"HPV": "positive"}),
    ("HPV-independent adenocarcinoma of the cervix", {"HPV": "negative"}),
    # a fusion's partners share its result; a translocation's ";" ends no clause
    ("ETV6::RUNX1 positive", {"ETV6": "positive", "RUNX1": "positive"}),
    ("MYELOMA FISH: IGH/CCND1 t(11;14) POSITIVE 84%   IGH/FGFR3 t(4;14) NEG",
     {"CCND1": "positive", "FGFR3": "negative"}),
    # a measured value decides over "ordered"
    ("PD-L1 (22C3) ordered: Tumor Proportion Score (TPS) 15%", {"PD-L1": "positive"}),
    # list items the vocabulary does not name keep the list together; result words do not
    ("no ABL-class, CRLF2, JAK/STAT or KMT2A alterations",
     {"CRLF2": "negative", "KMT2A": "negative"}),
    ("MLH1 LOSS, PMS2 LOSS, MSH2 retained, MSH6 retained", {"MMR": "positive"}),
    # a variant in an NGS table row
    ("NGS:\n  NF2         splice c.115-2A>G          22%\n", {"NF2": "positive"}),
])
def test_results_read_as_reports_write_them(text, expected):
    found = {b.marker: b.status for b in find_biomarkers(text)}
    assert {marker: found.get(marker) for marker in expected} == expected


def _statuses(text):
    return {(b.marker, b.alteration if b.marker == "FLT3" else None): b.status
            for b in find_biomarkers(text)}


def test_a_negative_heading_covers_its_whole_list():
    found = _statuses("NGS (bone marrow): DNMT3A R882H VAF 38%. NEGATIVE: FLT3-ITD / "
                      "FLT3-TKD, NPM1, IDH2, TP53, CEBPA (bZIP).")
    assert found[("DNMT3A", None)] == "positive"  # the finding before the heading
    assert found[("FLT3", "ITD")] == found[("FLT3", "TKD")] == "negative"
    assert {found[(m, None)] for m in ("NPM1", "IDH2", "TP53", "CEBPA")} == {"negative"}


def test_one_result_after_a_gene_list_is_every_gene_s():
    found = {b.marker: b.status for b in find_biomarkers(
        "Germline (2021): BRCA1/2, RAD51C/D, BRIP1, PALB2, MLH1/MSH2/MSH6/PMS2 - negative.")}
    assert found["BRIP1"] == found["PALB2"] == "negative"
    # a germline panel says nothing of the tumour's mismatch-repair staining
    assert "MMR" not in found


def test_an_ihc_mmr_panel_still_reads_lost_staining():
    found = {b.marker: b.status for b in find_biomarkers(
        "MMR IHC: MLH1 - negative, PMS2 - negative, MSH2 and MSH6 retained.")}
    assert found["MMR"] == "positive"


@pytest.mark.parametrize("text,status", [
    ("TMB: 5.8 mut/Mb (not high).", "negative"),
    ("BRAF V600E detected, TMB 18 mut/Mb, MS-stable.", "positive"),
])
def test_a_measured_tmb_decides_over_level_words(text, status):
    assert {b.marker: b.status for b in find_biomarkers(text)}["TMB"] == status


@pytest.mark.parametrize("text", [
    "HER2 2 copies per cell",  # a copy number, not a score
    "HER2 1.8",  # a ratio
    "HER2: 14.9, D17Z1: 1.9)nuc sh(D17Z1x1. 3,HER2x5",  # OCR'd FISH counts
])
def test_numbers_that_are_not_an_ihc_score(text):
    assert all(b.unit != "IHC" for b in find_biomarkers(text))


def test_a_germline_result_line_is_no_heading_for_the_tumour_line_after_it():
    # The germline line names its genes and its result; the tumour panel's TP53 R175H on the
    # next line is somatic and must not carry "Germline" in its evidence (a germline TP53
    # exclusion would otherwise exclude the patient). A real heading still carries over.
    text = ("Germline (2021): BRCA1/2, RAD51C/D, BRIP1, PALB2 - negative.\n"
            "FoundationOne CDx on 2021 omentum: TP53 R175H; CCNE1 amplification.")
    [tp53] = [b for b in find_biomarkers(text) if b.marker == "TP53"]
    assert tp53.status == "positive" and "germline" not in tp53.evidence.lower()
    heading = "Germline multigene panel (blood): PATHOGENIC VARIANT DETECTED\nBRCA1 c.68_69delAG"
    [brca1] = [b for b in find_biomarkers(heading) if b.marker == "BRCA1"]
    assert "Germline" in brca1.evidence


@pytest.mark.parametrize(("text", "marker", "status"), [
    # A test never done is no result (not a negative one) ...
    ("Biomarkers: NO FGFR3 testing and NO HER2 IHC ever done.", "FGFR3", None),
    ("No NGS/HER2 testing sent at that time.", "HER2", None),
    ("No ROS1/RET/BRAF/MET/KRAS/HER2/NTRK results available.", "NTRK", None),
    # ... while a test that found nothing is negative.
    ("No EGFR mutation detected by NGS.", "EGFR", "negative"),
    ("No ALK rearrangement by FISH.", "ALK", "negative"),
    # A result inside a condition is what the plan waits for.
    ("Asked path to add HER2 IHC; if HER2+ would consider trastuzumab.", "HER2", "unknown"),
    ("Start FOLFOX; switch if CLDN18.2 comes back positive.", "CLDN18", "unknown"),
    # A dash before the result is no minus sign; p53 "aberrant" is the mutant pattern.
    ("Mismatch repair IHC: MLH1, PMS2, MSH2, MSH6 - all INTACT (proficient MMR).", "MMR",
     "negative"),
    ("MLH1, PMS2, MSH2, MSH6 - intact", "MMR", "negative"),
    ("Omentum: same IHC profile (p53 aberrant, WT1 neg).", "TP53", "positive"),
    ("p53 IHC: abnormal (null pattern)", "TP53", "positive"),
    # Run-together NGS lines: each gene's own result, whatever stands between it and the word.
    ("NTRK fusion: none detected  TMB 3 mut/Mb", "NTRK", "negative"),
    ("Microsatellite status: MSI-High NOT DETECTED   Tumor Mutational Burden: 4.8 mut/Mb",
     "MSI", "negative"),
    ("NGS: TP53 no variant detected | ATM p.R2832C (VAF 38%) + ATM frameshift", "ATM",
     "positive"),
    ("Tumor BRCA1 mutation detected (c.5266dupC), BRCA2 none.", "BRCA2", "negative"),
    ("BRCA2 no alteration detected  PALB2 nd  RAD51C nd", "PALB2", "negative"),
    # ... but not another line's "none".
    ("DLL3 IHC not performed.\nirAEs on atezo: none.", "DLL3", "unknown"),
    # A PET tracer's target seen on imaging is expressed: "PSMA-avid" is PSMA-positive.
    ("PSMA PET/CT: multiple PSMA-avid osseous lesions, SUVmax 24.", "PSMA", "positive"),
    ("PSMA PET: no PSMA-avid disease.", "PSMA", "negative"),
    # A signed percentage is a change: "PR by 07/2025 (-45%)" is a partial response.
    ("C1 enfortumab vedotin + pembrolizumab. PR by 07/2025 (-45%).", "PR", "unknown"),
    ("ER 90%, PR 45%", "PR", "positive"),
])
def test_untested_conditional_and_dashed_results(text, marker, status):
    found = {b.status for b in find_biomarkers(text) if b.marker == marker}
    assert found == ({status} if status else set())


def test_a_result_quoted_from_another_document_is_not_asserted():
    # The consult quotes the referral letter's error and corrects it.
    text = ('NOTE: referral letter lists "EGFR exon 20 insertion" - NGS report shows the '
            "insertion is in ERBB2 (HER2) exon 20.")
    assert [b.status for b in find_biomarkers(text) if b.marker == "EGFR"] == ["unknown"]
    # Quotes far away on a long OCR line say nothing of a result between them.
    far = '"Received fresh" ' + "x " * 60 + "HER2: Negative (1+). " + "y " * 60 + '"end"'
    assert [b.status for b in find_biomarkers(far) if b.marker == "HER2"] == ["negative"]


def test_an_abbreviated_negative_heading_covers_its_list():
    note = ("Myeloid NGS (54-gene panel, marrow): TP53 p.R248Q VAF 63% | neg: FLT3-ITD, "
            "FLT3-TKD, NPM1, IDH1, IDH2, CEBPA.")
    found = {(b.marker, b.status) for b in extract([note]).biomarkers}
    assert ("TP53", "positive") in found
    assert {("FLT3", "negative"), ("NPM1", "negative"), ("IDH1", "negative"),
            ("CEBPA", "negative")} <= found
    assert ("FLT3", "positive") not in found


def test_none_detected_including_a_list_ends_at_the_next_field():
    note = ("GENOMIC VARIANTS: MDM2 amplification (CN 38) -- CDK4 amplification (CN 24) -- "
            "FUSIONS: none detected (RNA) incl. NTRK1/2/3, RET -- TMB 1.6 m/MB -- Therapy "
            "associations: CDK4 amp (investigational CDK4/6 inhibitors)")
    found = {(b.marker, b.status) for b in extract([note]).biomarkers}
    assert {("NTRK", "negative"), ("RET", "negative"), ("CDK4", "positive"),
            ("MDM2", "positive")} <= found
    assert ("CDK4", "negative") not in found


@pytest.mark.parametrize("note,negatives", [
    ("Germline testing (Ambry CancerNext 05/2026): negative, incl BRCA1/BRCA2/PALB2.",
     {"BRCA1", "BRCA2", "PALB2"}),
    ("Germline panel (9/2019): no pathogenic variants (PALB2, CHEK2, ATM).",
     {"PALB2", "CHEK2", "ATM"}),
    ("Pertinent negatives: BRAF, NRAS, HRAS, MAP2K1, NF1, PIK3CA.",
     {"BRAF", "NRAS", "HRAS", "MAP2K1", "NF1", "PIK3CA"}),
])
def test_more_ways_to_write_one_negative_result_for_a_list(note, negatives):
    found = {(b.marker, b.status) for b in extract([note]).biomarkers}
    assert {(m, "negative") for m in negatives} <= found


def test_an_abbreviations_stop_does_not_end_a_negative_list():
    note = "NOT DETECTED: BTK (incl. C481), PLCG2, NOTCH1, SMARCA4. TMB not reported."
    found = {(b.marker, b.status) for b in extract([note]).biomarkers}
    assert {("BTK", "negative"), ("PLCG2", "negative"), ("NOTCH1", "negative"),
            ("SMARCA4", "negative")} <= found


def test_a_list_with_protein_changes_shares_its_dashed_result():
    """"EGFR (ex18-21), BRAF V600E, ERBB2, MET ex14 skipping - not detected": every item is
    negative, the one written with its variant too; a detected item with its VAF is not in
    the list."""
    text = ("50-gene DNA hotspot NGS: KRAS p.G12D (VAF 28%), TP53 p.C176F. EGFR (ex18-21),\n"
            "  BRAF V600E, ERBB2, MET ex14 skipping - not detected.")
    found = {b.marker: b.status for b in find_biomarkers(text)}
    assert found == {"KRAS": "positive", "TP53": "positive", "EGFR": "negative",
                     "BRAF": "negative", "HER2": "negative", "MET": "negative"}
    found = {b.marker: b.status for b in find_biomarkers(
        "KRAS G12D (VAF 30%), NRAS, BRAF: not detected")}
    assert found == {"KRAS": "positive", "NRAS": "negative", "BRAF": "negative"}
    # without a dash or colon the variant may be the finding itself
    found = {b.marker: b.status for b in find_biomarkers("BRAF V600E, KRAS and NRAS wild-type")}
    assert found == {"BRAF": "positive", "KRAS": "negative", "NRAS": "negative"}


def test_a_negative_gene_family_stands_for_each_gene():
    """"no fusions detected (NTRK/RET/ALK neg)" and "RAS wild-type": NTRK1-3 and KRAS, NRAS,
    HRAS are each negative, unless the notes report the gene itself."""
    found = {(b.marker, b.status) for b in extract(
        ["NGS: no fusions detected (NTRK/RET/ALK neg). RAS wild-type."]).biomarkers}
    assert {("NTRK1", "negative"), ("NTRK2", "negative"), ("NTRK3", "negative"),
            ("KRAS", "negative"), ("NRAS", "negative"), ("HRAS", "negative")} <= found
    mixed = {(b.marker, b.status) for b in extract(
        ["RAS wild-type on 2019 panel. 2026 NGS: KRAS G12D detected."]).biomarkers}
    assert ("KRAS", "positive") in mixed and ("KRAS", "negative") not in mixed
    # a positive family result names no gene
    assert not {b.marker for b in extract(["NTRK fusion detected (pan-TRK IHC)."]).biomarkers} \
        & {"NTRK1", "NTRK2", "NTRK3"}


def test_a_negative_list_heading_with_include_and_a_wrapped_bracket():
    text = ("Genes with NO reportable alterations include: FGFR1, FGFR2, FGFR3 (incl.\n"
            "FGFR3 S249C/Y373C and FGFR3-TACC3 fusions not detected), PIK3CA, BRCA1, BRCA2,\n"
            "KRAS, NRAS, HRAS, BRAF, MET, NTRK1/2/3.")
    found = find_biomarkers(text)
    assert found and all(b.status == "negative" for b in found)
    assert {"FGFR3", "PIK3CA", "BRAF", "MET"} <= {b.marker for b in found}


@pytest.mark.parametrize("text,expected", [
    # frameshifts and splice variants in one-letter code are findings
    ("NGS: VHL W88*, PBRM1 Q1298fs, SETD2 splice; TMB 2.1; MSS",
     {"VHL": "positive", "PBRM1": "positive", "SETD2": "positive", "TMB": "negative",
      "MSI": "negative"}),
    # a bare TMB number is in mut/Mb (FDA TMB-high >= 10)
    ("TMB 8. PD-L1 22C3 TPS 40%.", {"TMB": "negative", "PD-L1": "positive"}),
    ("TMB: 14", {"TMB": "positive"}),
    ("TMB 35th percentile", {"TMB": "unknown"}),
])
def test_frameshifts_splice_variants_and_bare_tmb(text, expected):
    assert {b.marker: b.status for b in find_biomarkers(text)} == expected


@pytest.mark.parametrize("text,expected", [
    # a germline panel's negative list, "or likely pathogenic", no colon, across lines
    ("No pathogenic or likely pathogenic variants were identified in\nBRCA1, TP53, PTEN,\n"
     "CDH1, ATM, CHEK2.", {"BRCA1": "negative", "TP53": "negative", "PTEN": "negative",
                           "CDH1": "negative", "ATM": "negative", "CHEK2": "negative"}),
    ("No pathogenic or likely pathogenic variants detected in:\nASXL1, CALR, CEBPA,\n"
     "FLT3, IDH1, NPM1", {"ASXL1": "negative", "CALR": "negative", "CEBPA": "negative",
                          "FLT3": "negative", "IDH1": "negative", "NPM1": "negative"}),
    # leader dots before the shared result
    ("RAD51C, RAD51D, BRIP1, PALB2 ... no clinically significant variants",
     {"RAD51C": "negative", "RAD51D": "negative", "BRIP1": "negative", "PALB2": "negative"}),
    # a list after "negative for", one item per line
    ("Also negative for BRAF V600E,\n    KRAS,\n    NRAS",
     {"BRAF": "negative", "KRAS": "negative", "NRAS": "negative"}),
    # exon lists inside a shared result
    ("Extended RAS: KRAS exons 2, 3, 4 and NRAS exons 2, 3, 4 - wild-type.",
     {"KRAS": "negative", "NRAS": "negative"}),
])
def test_negative_lists_from_germline_and_molecular_reports(text, expected):
    found = {b.marker: b.status for b in find_biomarkers(text)}
    assert {m: found.get(m) for m in expected} == expected


def test_ocr_damage_in_variants_and_result_words():
    """"BRAF V6OOE (VE1): negatlve" is a negative V600E result; "MSH2 ........ L0ss" beside
    "MLH1 ........ Retalned" is MSH2 lost."""
    found = {b.marker: b.status for b in extract(["BRAF V6OOE (VE1): negatlve"]).biomarkers}
    assert found == {"BRAF": "negative"}
    found = {b.marker: b.status for b in extract(
        ["MLH1 ........ Retalned\nPMS2 ........ Retained\nMSH2 ........ L0ss 0f nuclear "
         "expression"]).biomarkers}
    assert found["MMR"] == "positive"


def test_a_transcript_list_and_not_deleted():
    text = "MET exon 14 skipping transcript - not detected"
    assert {b.marker: b.status for b in find_biomarkers(text)} == {"MET": "negative"}


def test_the_latest_receptor_status_decides_and_controls_are_no_result():
    text = ("2019 core bx: ER 5% weak (ER-low positive), PR 0%, HER2 IHC 2+ -> FISH amplified.\n"
            "2024 liver bx: ER 0% (internal control positive), PR 0%, HER2 IHC 1+.")
    found = {}
    for b in extract([text]).biomarkers:
        found.setdefault(b.marker, set()).add(b.status)
    assert found["ER"] == {"negative"} and found["PR"] == {"negative"}
    assert found["HER2"] == {"negative"}
    # an equivocal IHC does not overrule the ISH that settles it
    assert "positive" in {b.status for b in extract(
        ["HER2 FISH amplified (ratio 2.6). HER2 IHC 2+."]).biomarkers if b.marker == "HER2"}


def test_genes_of_haematology_and_thyroid_panels():
    found = {b.marker: b.status for b in find_biomarkers(
        "No pathogenic variants detected in: CBL, PAX5, DDX41, EIF1AX, DICER1, TNFRSF14.")}
    assert found == {g: "negative" for g in
                     ("CBL", "PAX5", "DDX41", "EIF1AX", "DICER1", "TNFRSF14")}
    # a variant allele frequency written as MAF is no marker
    assert {b.marker for b in find_biomarkers("KRAS G12D (MAF 23%)")} == {"KRAS"}


def test_cd117_on_flow_or_ihc_is_a_protein_not_a_kit_mutation():
    found = {b.marker: b.status for b in find_biomarkers("Flow: blasts CD34+, CD117+, CD33+")}
    assert found.get("CD117") == "positive" and "KIT" not in found


def test_a_reports_scoring_key_is_no_result():
    text = ("This carcinoma is negative for HER2/neu oncoprotein over-expression. Carcinomas "
            "with staining intensity scores of 3 are considered positive for over-expression "
            "of HER2/neu oncoprotein.")
    assert {b.status for b in find_biomarkers(text) if b.marker == "HER2"} == {"negative"}


@pytest.mark.parametrize("text,expected", [
    # a denial before a marker whose name carries its result
    ("mismatch repair proficient and not MSI-high, with a KRAS mutation (G12D)",
     {"MSI": "negative", "MMR": "negative", "KRAS": "positive"}),
    ("The tumour is not dMMR.", {"MMR": "negative"}),
    # an expressed protein that is lost is negative; a tumour suppressor's loss is the finding
    ("particularly given the loss of PD-L1 expression.", {"PD-L1": "negative"}),
    ("loss of PTEN expression", {"PTEN": "positive"}),
    # a hedge is no result
    ("low-level MET amplification (estimated copy number 4.8) cannot be excluded",
     {"MET": "unknown"}),
])
def test_denials_losses_and_hedges(text, expected):
    found = {b.marker: b.status for b in find_biomarkers(text)}
    assert {m: found.get(m) for m in expected} == expected


def test_a_not_detected_section_runs_over_its_lines_and_semicolons():
    text = ("Alterations or biomarkers not detected:\n"
            "ALK, ROS1, RET, NTRK1 fusions; KRAS; BRAF; MET exon 14 skipping; MET amplification;\n"
            "ERBB2 amplification; ERBB2 exon 20 insertions\n\nA/P: switch to osimertinib")
    assert {b.status for b in find_biomarkers(text)} == {"negative"}
    # a finding on the next line is its own result
    found = {b.marker: b.status for b in find_biomarkers("NOT DETECTED: KRAS;\nEGFR L858R 34%")}
    assert found == {"KRAS": "negative", "EGFR": "positive"}


def test_genes_analysed_by_a_panel_that_found_nothing_are_negative():
    text = ("RESULT SUMMARY: NO PATHOGENIC OR LIKELY PATHOGENIC VARIANTS IDENTIFIED\n"
            "Genes / regions analysed (DNA): EGFR (exons 18-21), KRAS (exons 2, 3, 4), "
            "MET (exon 14 and flanking splice sites).\n"
            "No clinically relevant sequence variants were detected.")
    assert {b.marker: b.status for b in find_biomarkers(text)} == \
        {"EGFR": "negative", "KRAS": "negative", "MET": "negative"}
    # in a report that found something, the list of genes covered says nothing
    found = {b.marker: b.status for b in find_biomarkers(
        "VARIANTS DETECTED:\nKRAS G12D 30%\nGenes analysed: EGFR, KRAS, BRAF")}
    assert found.get("EGFR", "unknown") == "unknown" and found["KRAS"] == "positive"


def test_the_latest_pd_l1_score_decides_score_by_score():
    found = {b.marker: b.status for b in find_biomarkers(
        "2022: PD-L1 (22C3) TPS 30%. 2025 liver core: PD-L1 TPS 0% (<1%).")}
    assert found == {"PD-L1": "negative"}
    found = {b.marker: b.status for b in find_biomarkers("PD-L1 CPS 8; TPS <1%")}
    assert found == {"PD-L1": "positive"}


@pytest.mark.parametrize("text,expected", [
    ("Her sister is a BRCA2 carrier; patient germline testing pending.", {}),
    ("Family history: BRCA1 mutation in her maternal aunt. Tumor: BRCA2 c.5946del pathogenic.",
     {"BRCA2": "positive"}),
    ("Discussed results with the patient and her husband: EGFR L858R detected.",
     {"EGFR": "positive"}),
])
def test_a_relatives_result_is_not_the_patients(text, expected):
    assert {b.marker: b.status for b in find_biomarkers(text)} == expected


@pytest.mark.parametrize("text,expected", [
    ("BRCA2 c.5946delT - PATHOGENIC. No other P/LP variants (BRCA1, PALB2, CHEK2 neg).",
     {"BRCA2": "positive", "BRCA1": "negative", "PALB2": "negative", "CHEK2": "negative"}),
    ("Summary: positive for HER2 amplification and negative for MMR deficiency.",
     {"HER2": "positive", "MMR": "negative"}),
    ("Lynch negative; MSS", {"MSI": "negative"}),
])
def test_other_pathogenic_lists_and_a_denied_deficiency(text, expected):
    found = {b.marker: b.status for b in find_biomarkers(text)}
    assert {m: found.get(m) for m in expected} == expected


def test_a_variant_that_would_predict_something_is_supposed_not_found():
    found = {b.marker: b.status for b in find_biomarkers(
        "KIT and PDGFRA mutation analysis sent - results to follow (PDGFRA D842V would predict "
        "imatinib resistance).")}
    assert found.get("PDGFRA") == "unknown"
    assert {b.marker: b.status for b in find_biomarkers(
        "KRAS G12C detected; this could be targeted with sotorasib")} == {"KRAS": "positive"}


@pytest.mark.parametrize("text,expected", [
    ("GERMLINE: no pathogenic/likely pathogenic variants in 36 genes incl.\n  BRCA1, BRCA2, "
     "PALB2, CHEK2.", {"BRCA1": "negative", "BRCA2": "negative", "PALB2": "negative",
                       "CHEK2": "negative"}),
    ("no harmful changes were found in the other inherited cancer genes checked, including "
     "ATM, CHEK2 and PALB2.", {"ATM": "negative", "CHEK2": "negative", "PALB2": "negative"}),
    ("a KRAS-mutant tumor is unlikely to carry an NRG1 fusion", {"NRG1": "unknown"}),
])
def test_panel_gene_lists_in_prose_and_supposed_findings(text, expected):
    found = {b.marker: b.status for b in find_biomarkers(text)}
    assert {m: found.get(m) for m in expected} == expected


def test_a_named_variant_keeps_its_finding_past_another_clauses_result_word():
    found = {b.marker: b.status for b in find_biomarkers(
        "- PIK3CA H1047R on NGS -- no approved PI3K/AKT agent in HR-neg disease.")}
    assert found["PIK3CA"] == "positive"
    assert {b.marker: b.status for b in find_biomarkers("EGFR L858R -- negative")} == \
        {"EGFR": "negative"}


def _status_of(text):
    return {b.marker: b.status for b in extract([text]).biomarkers}


def test_a_finding_per_line_is_no_list_sharing_the_last_lines_result():
    found = _status_of("GENOMIC FINDINGS\n TP53   R175H\n PIK3CA E545K\n"
                      " ERBB2 amplification - not detected\n")
    assert found["TP53"] == "positive" and found["PIK3CA"] == "positive"
    assert found["HER2"] == "negative"
    # a list wrapped after a comma is still one list
    wrapped = _status_of("EGFR, KRAS,\n BRAF and ALK - not detected\n")
    assert set(wrapped.values()) == {"negative"}


def test_a_dash_before_a_word_of_no_result_is_no_minus_sign():
    found = _status_of("FoundationOne CDx ordered for PIK3CA/AKT1/PTEN and\nESR1 - pending.\n")
    assert set(found.values()) == {"unknown"}


def test_receptor_loss_low_and_zero_by_name():
    found = _status_of("Discordant profile at recurrence (ER-low, PR loss, HER2-zero).")
    assert found == {"ER": "positive", "PR": "negative", "HER2": "negative"}
    # a suppressor's loss is the finding
    assert _status_of("PTEN loss by IHC.")["PTEN"] == "positive"


def test_genes_a_test_could_not_exclude_have_no_result():
    text = ("Plasma ctDNA: NO TUMOUR-DERIVED ALTERATIONS DETECTED. A 'not detected' result is "
            "NON-INFORMATIVE and does not exclude alterations in EGFR, ALK or KRAS.")
    assert set(_status_of(text).values()) == {"unknown"}


def test_a_categorys_definition_gives_no_result():
    text = ("MYC (8q24) ..... REARRANGED\nBCL2 (18q21) ... no rearrangement detected\n"
            "Interpretation: does not meet criteria for HGBL with MYC and BCL2 rearrangements.")
    found = _status_of(text)
    assert found["MYC"] == "positive" and found["BCL2"] == "negative"


def test_a_tables_heading_row_over_its_gene_row():
    text = ("| BRCA2 | c.5946del (p.Ser1982Argfs*22) | Heterozygous | Pathogenic |\n\n"
            "| Genes analyzed with NO clinically significant variants detected |\n"
            "| ATM, BRCA1, CHEK2, PALB2 |\n")
    found = _status_of(text)
    assert found["BRCA2"] == "positive"
    assert {found[g] for g in ("ATM", "BRCA1", "CHEK2", "PALB2")} == {"negative"}
    # a cell's own result ends at the pipe: the next row is no list under it
    row = _status_of("| POLE sequencing: no pathogenic variant detected |\n| ER: positive, 80% |\n")
    assert row["ER"] == "positive"


def test_a_table_cells_result_is_its_own():
    found = _status_of("NPM1 c.860_863dupTCTG VAF 41% | FLT3-ITD detected, AR 0.71 | FLT3-TKD "
                       "(D835/I836) not detected | DNMT3A R882H VAF 44% | IDH1 neg\n")
    assert found["DNMT3A"] == "positive" and found["IDH1"] == "negative"
    cells = _status_of("BRAF V600E NOT DETECTED  KRAS NOT DETECTED\n")
    assert cells == {"BRAF": "negative", "KRAS": "negative"}


def test_a_denial_opening_the_result_words():
    found = _status_of("MET       no exon 14 splice-site variant detected by DNA; no amp\n")
    assert found["MET"] == "negative"


def test_a_plus_between_test_names_is_no_sign():
    found = _status_of("Test: tumor genomic profiling (DNA, 324 genes) + MSI + TMB\n")
    assert found.get("MSI") == "unknown"
    assert _status_of("ER + PR -\n") == {"ER": "positive", "PR": "negative"}


def test_a_bracketed_negative_list_and_genes_an_assay_does_not_assess():
    found = _status_of("Germline panel: NEGATIVE (BRCA1, BRCA2, PALB2,\n  CHEK2 - no PV).\n")
    assert set(found.values()) == {"negative"} and "CHEK2" in found
    untested = _status_of("This assay covers BTK and PLCG2 only. It does not assess TP53, "
                          "SF3B1 or NOTCH1.\n")
    assert untested["TP53"] == "unknown" and untested["NOTCH1"] == "unknown"
