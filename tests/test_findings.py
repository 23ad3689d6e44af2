"""Second-opinion finders: protocols (and whether the first opinion missed them), testing gaps
and discrepancies, over hand-built profiles and a small OncoTree-shaped hierarchy."""

import pytest

from trialmatch.match import findings
from trialmatch.models import Biomarker, CancerType, Profile, Stage

# A slice of OncoTree (code -> parent), enough for every family the knowledge base covers.
PARENTS = {
    "LUAD": "NSCLC", "LUSC": "NSCLC", "NSCLC": "LUNG", "SCLC": "LNET", "LNET": "LUNG",
    "IDC": "BRCA", "ILC": "BRCA", "BRCA": "BREAST",
    "COAD": "COADREAD", "READ": "COADREAD", "COADREAD": "BOWEL",
    "SKCM": "MEL", "MEL": "SKIN", "UM": "OM", "OM": "EYE",
    "HGSOC": "SOC", "SOC": "OVT", "OVT": "OVARY", "OGCT": "OVARY", "PSEC": "PERITONEUM",
    "PRAD": "PROSTATE", "PAAD": "PANCREAS", "PANET": "PANCREAS",
    "STAD": "EGC", "GEJ": "EGC", "ESCA": "EGC", "EGC": "STOMACH",
    "BLCA": "BLADDER", "UTUC": "BLADDER",
    "THPA": "WDTC", "WDTC": "THYROID", "THAP": "THYROID", "THME": "THYROID",
    "IHCH": "CHOL", "CHOL": "IPN", "IPN": "BILIARY_TRACT", "GBC": "ICPN", "ICPN": "BILIARY_TRACT",
    "GIST": "SOFT_TISSUE",
    "AML": "MNM", "MNM": "MYELOID", "APLPMLRARA": "AMLRGA", "AMLRGA": "AML",
    "PMFOFS": "PMF", "PMF": "MPN", "IBC": "BREAST",
    "CMLBCRABL1": "CML", "CML": "MPN", "MPN": "MNM", "SM": "MCD", "MCD": "MNM",
    "BLLBCRABL1": "BLLRGA", "BLLRGA": "BLL", "BLL": "LNM", "LNM": "LYMPH", "ESCC": "STOMACH",
    "ASTR": "ADIFG", "ODG": "ADIFG", "ADIFG": "DIFG", "DIFG": "BRAIN",
    "UEC": "UCEC", "USC": "UCEC", "UCEC": "UTERUS",
    "CESC": "CERVIX",
    "OPHSC": "HNSC", "OCSC": "HNSC", "HNSC": "HEAD_NECK",
    "CUP": "OTHER", "HCC": "LIVER", "DLBCLNOS": "LYMPH",
    "CCRCC": "RCC", "RCC": "KIDNEY", "PHC": "ADRENAL_GLAND",
}


def is_a(code, ancestor):
    while code:
        if code == ancestor:
            return True
        code = PARENTS.get(code)
    return False


def is_solid(code):
    return not (is_a(code, "MYELOID") or is_a(code, "LYMPH"))


def bm(marker, alteration=None, status="positive", value=None, unit=None, evidence=""):
    return Biomarker(marker=marker, alteration=alteration, status=status, value=value, unit=unit,
                     evidence=evidence or f"{marker} {alteration or ''} {status}".strip())


def profile(code, group=None, biomarkers=(), m=None, prefix=None, grade=None):
    stage = Stage(prefix=prefix, m=m, group=group, evidence=f"stage {group or m}") \
        if group or m else None
    return Profile(
        cancer_type=CancerType(code=code, name=f"name of {code}", evidence=f"words for {code}",
                               start=0, end=10) if code else None,
        stage=stage,
        biomarkers=list(biomarkers),
        grade=grade,
    )


def therapies(found):
    return {f.therapy for f in found}


def protocols(p, plan=None):
    return findings.find_protocols(p, is_a=is_a, is_solid=is_solid, plan_text=plan)


# --------------------------------------------------------------------------- protocols


@pytest.mark.parametrize(
    ("case", "present", "absent"),
    [
        # NSCLC
        (profile("LUAD", "IVA", [bm("EGFR", "exon 19 deletion")]),
         {"osimertinib", "erlotinib", "amivantamab + lazertinib"}, {"pembrolizumab"}),
        (profile("LUAD", "IV", [bm("EGFR", "p.L858R")]), {"osimertinib"}, set()),
        (profile("LUAD", "IV", [bm("EGFR", "E746_A750del")]), {"osimertinib"}, set()),
        (profile("LUAD", "IB", [bm("EGFR", "L858R")]), {"osimertinib"}, {"erlotinib"}),
        (profile("LUAD", "IV", [bm("EGFR", "exon 20 insertion")]),
         {"amivantamab + carboplatin + pemetrexed"}, {"osimertinib"}),
        (profile("LUAD", "IV", [bm("EGFR", "T790M")]), {"osimertinib"}, {"erlotinib"}),
        # EGFR-mutant NSCLC after osimertinib: amivantamab + chemotherapy (MARIPOSA-2), not the
        # first-line amivantamab + lazertinib (see test_protocols_fit_the_treatment_history).
        # FDA biomarker-directed approvals of 2024-2025: HER2-mutant NSCLC (sevabertinib),
        # c-Met-overexpressing NSCLC (telisotuzumab vedotin), NRG1 fusions (zenocutuzumab),
        # ESR1-mutant ER+/HER2- breast cancer (imlunestrant)
        (profile("LUAD", "IV", [bm("HER2", "mutation")]), {"sevabertinib", "zongertinib"},
         set()),
        (profile("LUAD", "IV", [bm("MET", "overexpression")]), {"telisotuzumab vedotin"},
         set()),
        (profile("LUAD", "IV", [bm("NRG1", "fusion")]), {"zenocutuzumab"}, set()),
        (profile("PAAD", "IV", [bm("NRG1", "fusion")]), {"zenocutuzumab"}, set()),
        (profile("IDC", "IV", [bm("ESR1", "Y537S"), bm("ER"), bm("HER2", None, "negative")]),
         {"imlunestrant", "elacestrant"}, set()),
        (profile("IDC", "IV", [bm("ESR1", "Y537S"), bm("ER"), bm("HER2", "amplification")]),
         set(), {"imlunestrant"}),
        # HER2-negative gastric cancer, PD-L1 CPS >= 1: first-line anti-PD-1 with chemotherapy
        # (2025 labels); not for HER2-positive disease, which has its own.
        (profile("STAD", "IV", [bm("PD-L1", value=8, unit="CPS"), bm("HER2", None, "negative")]),
         {"nivolumab + fluorouracil + oxaliplatin",
          "pembrolizumab + fluorouracil + oxaliplatin"}, {"pembrolizumab + trastuzumab"}),
        (profile("STAD", "IV", [bm("PD-L1", value=8, unit="CPS"), bm("HER2", "amplification")]),
         {"pembrolizumab + trastuzumab"}, {"nivolumab + fluorouracil + oxaliplatin"}),
        # PSMA-positive metastatic prostate cancer (PSMA PET); SSTR-positive GEP-NET (SSTR PET)
        (profile("PRAD", "IVB", [bm("PSMA")]), {"lutetium Lu 177 vipivotide tetraxetan"}, set()),
        (profile("PRAD", "IVB", [bm("PSMA", None, "negative")]), set(),
         {"lutetium Lu 177 vipivotide tetraxetan"}),
        (profile("PANET", "IV", [bm("SSTR")]), {"lutetium Lu 177 dotatate"}, set()),
        (profile("LUAD", "IV", [bm("ALK", "rearrangement")]),
         {"alectinib", "lorlatinib", "brigatinib", "crizotinib"}, set()),
        (profile("LUAD", "IV", [bm("ALK")]), {"alectinib"}, set()),
        (profile("LUAD", "IV", [bm("ROS1", "fusion")]),
         {"crizotinib", "entrectinib", "repotrectinib"}, {"alectinib"}),
        (profile("LUAD", "IV", [bm("KRAS", "G12C")]), {"sotorasib", "adagrasib"}, set()),
        (profile("LUAD", "IV", [bm("KRAS", "G12D")]), set(), {"sotorasib", "adagrasib"}),
        (profile("LUAD", "IV", [bm("MET", "exon 14 skipping")]), {"capmatinib", "tepotinib"},
         set()),
        (profile("LUAD", "IV", [bm("RET", "fusion")]), {"selpercatinib", "pralsetinib"}, set()),
        (profile("LUAD", "IV", [bm("BRAF", "V600E")]),
         {"dabrafenib + trametinib", "encorafenib + binimetinib"}, set()),
        (profile("LUAD", "IV", [bm("HER2", "mutation")]), {"trastuzumab deruxtecan"}, set()),
        (profile("LUAD", "IV", [bm("HER2", None, "positive", 2, "IHC")]),
         set(), {"trastuzumab deruxtecan"}),  # the lung HER2 approval is for mutations
        # PD-L1 thresholds
        (profile("LUAD", "IV", [bm("PD-L1", None, "positive", 50, "TPS")]),
         {"pembrolizumab", "cemiplimab", "atezolizumab"}, set()),
        (profile("LUAD", "IV", [bm("PD-L1", None, "positive", 49, "TPS")]),
         set(), {"pembrolizumab", "cemiplimab"}),
        (profile("LUAD", "IV", [bm("PD-L1", None, "positive", 80, "%")]), {"pembrolizumab"},
         set()),
        (profile("LUAD", "IV", [bm("PD-L1", None, "positive", 60, "CPS")]), set(),
         {"pembrolizumab"}),
        (profile("LUAD", "IV", [bm("PD-L1", None, "positive")]), set(), {"pembrolizumab"}),
        (profile("LUAD", "IV", [bm("PD-L1", None, "positive", 90, "TPS"), bm("ALK", "fusion")]),
         {"alectinib"}, {"pembrolizumab"}),
        (profile("LUSC", "IIIA", [bm("PD-L1", None, "positive", 5, "TPS")]), {"atezolizumab"},
         {"pembrolizumab"}),
        # breast
        (profile("IDC", "IIA", [bm("HER2", None, "positive", 3, "IHC")]),
         {"trastuzumab", "pertuzumab + trastuzumab + docetaxel"}, {"tucatinib"}),
        (profile("IDC", "IV", [bm("HER2", "amplification", "positive", 2.6, "ratio")]),
         {"trastuzumab deruxtecan", "tucatinib + trastuzumab + capecitabine"}, set()),
        (profile("IDC", "IV", [bm("HER2", None, "negative", 1, "IHC")]),
         {"trastuzumab deruxtecan"}, {"trastuzumab"}),
        (profile("IDC", "IV", [bm("HER2", None, "equivocal", 2, "IHC"),
                               bm("HER2", "amplification", "positive")]),
         {"trastuzumab"}, set()),
        (profile("IDC", "IV", [bm("HER2", None, "negative", 0, "IHC")]), set(),
         {"trastuzumab deruxtecan"}),
        (profile("IDC", "IV", [bm("ER", None, "positive", 95, "%"), bm("HER2", None, "negative"),
                               bm("PIK3CA", "H1047R")]),
         {"palbociclib", "ribociclib", "abemaciclib", "alpelisib + fulvestrant",
          "capivasertib + fulvestrant", "inavolisib + palbociclib + fulvestrant"}, set()),
        (profile("IDC", "IV", [bm("PIK3CA", "H1047R")]), set(), {"alpelisib + fulvestrant"}),
        (profile("IDC", "IV", [bm("PR"), bm("HER2", None, "negative"), bm("PTEN", "loss")]),
         {"capivasertib + fulvestrant"}, {"alpelisib + fulvestrant"}),
        (profile("ILC", "IV", [bm("ER"), bm("HER2", None, "negative"), bm("ESR1", "Y537S")]),
         {"elacestrant"}, set()),
        (profile("IDC", "IV", [bm("BRCA2", "mutation"), bm("HER2", None, "negative")]),
         {"olaparib", "talazoparib"}, set()),
        (profile("IDC", "IV", [bm("ER", None, "negative"), bm("PR", None, "negative"),
                               bm("HER2", None, "negative"),
                               bm("PD-L1", None, "positive", 10, "CPS")]),
         {"pembrolizumab"}, {"palbociclib"}),
        # colorectal
        (profile("COAD", "IV", [bm("MSI")]), {"pembrolizumab", "nivolumab + ipilimumab"}, set()),
        (profile("COAD", "IV", [bm("MMR", "deficient")]), {"pembrolizumab"}, set()),
        (profile("COAD", "IV", [bm("MMR", "proficient", "negative")]), set(), {"pembrolizumab"}),
        (profile("COAD", "IV", [bm("MMR", "loss", "equivocal")]), {"pembrolizumab"}, set()),
        (profile("COAD", "IV", [bm("MMR", None, "unknown")]), set(), {"pembrolizumab"}),
        (profile("READ", "IVA", [bm("KRAS", None, "negative"), bm("NRAS", None, "negative")]),
         {"cetuximab", "panitumumab"}, set()),
        (profile("READ", "IVA", [bm("KRAS", None, "negative")]), {"cetuximab"}, {"panitumumab"}),
        (profile("COAD", "IV", [bm("BRAF", "V600E")]), {"encorafenib + cetuximab"},
         {"dabrafenib + trametinib"}),
        (profile("COAD", "IV", [bm("KRAS", "G12C")]),
         {"adagrasib + cetuximab", "sotorasib + panitumumab"}, {"cetuximab"}),
        (profile("COAD", "IV", [bm("HER2", "amplification"), bm("KRAS", None, "negative")]),
         {"tucatinib + trastuzumab"}, set()),
        (profile("COAD", "II", [bm("KRAS", None, "negative")]), set(), {"cetuximab"}),
        # melanoma
        (profile("SKCM", "IIIC", [bm("BRAF", "V600K")]),
         {"dabrafenib + trametinib", "vemurafenib + cobimetinib", "encorafenib + binimetinib"},
         set()),
        (profile("SKCM", "IV", [bm("BRAF", "V600")]), {"dabrafenib + trametinib"}, set()),
        # ovarian, prostate, pancreas
        (profile("HGSOC", "IIIC", [bm("BRCA1", "c.68_69delAG")]),
         {"olaparib", "niraparib"}, set()),
        (profile("HGSOC", None, [bm("FOLR1", None, "positive", 80, "%")]),
         {"mirvetuximab soravtansine"}, set()),
        (profile("OGCT", None, [bm("BRCA1", "mutation")]), set(), {"olaparib"}),
        (profile("PRAD", None, [bm("ATM", "mutation")]), {"olaparib", "talazoparib + enzalutamide"},
         {"rucaparib"}),
        (profile("PRAD", None, [bm("BRCA2", "mutation")]),
         {"olaparib", "olaparib + abiraterone", "rucaparib", "niraparib + abiraterone"}, set()),
        (profile("PAAD", "IV", [bm("BRCA2")]), {"olaparib"}, set()),
        # gastric, bladder, thyroid, biliary, GIST, AML, glioma, gynae, head and neck
        (profile("STAD", "IV", [bm("HER2", None, "positive", 3, "IHC"),
                                bm("PD-L1", None, "positive", 5, "CPS")]),
         {"trastuzumab", "pembrolizumab + trastuzumab", "trastuzumab deruxtecan"}, set()),
        (profile("GEJ", "IV", [bm("CLDN18", None, "positive", 80, "%"),
                               bm("HER2", None, "negative")]), {"zolbetuximab"}, set()),
        (profile("BLCA", "IV", [bm("FGFR3", "S249C")]), {"erdafitinib"}, set()),
        (profile("UTUC", "IV", [bm("FGFR3", "alteration")]), {"erdafitinib"}, set()),
        (profile("IHCH", "IV", [bm("FGFR2", "alteration")]), set(), {"pemigatinib"}),
        (profile("THME", None, [bm("RET", "M918T")]), {"selpercatinib"}, set()),
        (profile("THPA", None, [bm("RET", "fusion")]), {"selpercatinib"}, set()),
        (profile("THAP", "IVC", [bm("BRAF", "V600E")]), {"dabrafenib + trametinib"}, set()),
        (profile("IHCH", "IV", [bm("FGFR2", "fusion"), bm("IDH1", "R132C")]),
         {"pemigatinib", "futibatinib", "ivosidenib"}, set()),
        (profile("GIST", None, [bm("KIT", "exon 11 deletion")]), {"imatinib"}, set()),
        (profile("GIST", None, [bm("PDGFRA", "D842V")]), {"avapritinib"}, {"imatinib"}),
        (profile("AML", None, [bm("FLT3", "ITD")]),
         {"midostaurin", "quizartinib", "gilteritinib"}, set()),
        (profile("AML", None, [bm("FLT3", "D835Y")]), {"midostaurin"}, {"quizartinib"}),
        (profile("AML", None, [bm("IDH2", "R140Q")]), {"enasidenib"}, {"ivosidenib"}),
        (profile("ASTR", None, [bm("IDH1", "R132H")]), {"vorasidenib"}, set()),
        (profile("UEC", None, [bm("MMR", "deficient")]),
         {"dostarlimab + carboplatin + paclitaxel"}, set()),
        (profile("CESC", None, [bm("PD-L1", None, "positive", 1, "CPS")]), {"pembrolizumab"},
         set()),
        (profile("OPHSC", None, [bm("PD-L1", None, "positive", 20, "CPS")]), {"pembrolizumab"},
         set()),
        (profile("ESCC", "IVA", [bm("PD-L1", None, "positive", 10, "CPS")]), {"pembrolizumab"},
         set()),
        (profile("LUSC", "IV", [bm("PD-L1", None, "positive", 5, "TPS")]),
         {"nivolumab + ipilimumab"}, {"pembrolizumab"}),
        # haematological
        (profile("CMLBCRABL1", None, [bm("BCR-ABL1", "fusion")]),
         {"imatinib", "dasatinib", "nilotinib", "bosutinib", "asciminib"}, {"ponatinib"}),
        (profile("CML", None, [bm("BCR-ABL1", "T315I")]), {"ponatinib"}, set()),
        (profile("BLLBCRABL1", None, [bm("BCR-ABL1")]), {"imatinib", "dasatinib"}, set()),
        (profile("APLPMLRARA", None, [bm("PML-RARA", "fusion")]),
         {"arsenic trioxide + tretinoin"}, set()),
        (profile("SM", None, [bm("KIT", "D816V")]), {"avapritinib"}, set()),
        (profile("AML", None, [bm("BCR-ABL1", "fusion")]), set(), {"imatinib"}),
        # menin inhibitors (2024-2025 labels), EZH2, IDH1 in MDS
        (profile("AML", None, [bm("NPM1", "mutation")]), {"revumenib", "ziftomenib"}, set()),
        (profile("BLL", None, [bm("KMT2A", "fusion")]), {"revumenib"}, set()),
        (profile("FL", None, [bm("EZH2", "mutation")]), {"tazemetostat"}, set()),
        (profile("MDS", None, [bm("IDH1", "R132H")]), {"ivosidenib"}, set()),
        # NSCLC labels of 2024-2025
        (profile("LUAD", "IV", [bm("ROS1", "fusion")]), {"taletrectinib"}, set()),
        (profile("LUAD", "IV", [bm("HER2", "exon 20 insertion")]), {"zongertinib"}, set()),
        (profile("LUAD", "IV", [bm("EGFR", "exon 20 insertion")]), {"sunvozertinib"},
         {"osimertinib"}),
        (profile("LUAD", "IV", [bm("ALK", "fusion")]), {"ensartinib"}, set()),
        # tumor-agnostic
        (profile("CUP", None, [bm("NTRK", "fusion")]), {"larotrectinib"}, set()),
        (profile("THPA", "II", [bm("NTRK3", "fusion")]), {"larotrectinib"}, set()),
        # stage IV: the metastatic labels (T-DM1, neratinib with capecitabine), not the
        # extended-adjuvant neratinib alone
        (profile("IDC", "IV", [bm("HER2", None, "positive", 3, "IHC")]),
         {"trastuzumab", "ado-trastuzumab emtansine", "neratinib + capecitabine"},
         {"neratinib"}),
        (profile("IDC", "II", [bm("HER2", None, "positive", 3, "IHC")]),
         {"ado-trastuzumab emtansine", "neratinib"}, {"tucatinib + trastuzumab + capecitabine"}),
        (profile("CUP", None, [bm("NTRK1", "fusion")]),
         {"larotrectinib", "entrectinib", "repotrectinib"}, set()),
        (profile("CUP", None, [bm("TMB", None, "positive", 12, "mut/Mb")]), {"pembrolizumab"},
         set()),
        (profile("CUP", None, [bm("TMB", None, "positive")]), {"pembrolizumab"}, set()),
        (profile("CUP", None, [bm("TMB", None, "negative", 9, "mut/Mb")]), set(),
         {"pembrolizumab"}),
        (profile("CUP", None, [bm("HER2", None, "positive", 3, "IHC")]),
         {"trastuzumab deruxtecan"}, set()),
        (profile("CUP", None, [bm("HER2", None, "equivocal", 2, "IHC")]), set(),
         {"trastuzumab deruxtecan"}),
        (profile("HCC", None, [bm("BRAF", "V600E")]), {"dabrafenib + trametinib"}, set()),
        (profile("HCC", None, [bm("RET", "fusion")]), {"selpercatinib"}, set()),
        (profile("HCC", None, [bm("MSI")]), {"pembrolizumab"}, {"dostarlimab"}),  # dMMR only
        (profile("HCC", None, [bm("MMR", "deficient")]), {"pembrolizumab", "dostarlimab"}, set()),
        (profile("DLBCLNOS", None, [bm("MSI")]), set(), {"pembrolizumab"}),  # solid tumors only
        # results that do not qualify
        (profile("LUAD", "IV", [bm("EGFR", "exon 19 deletion", "unknown")]), set(),
         {"osimertinib"}),
        (profile("LUAD", "IV", [bm("EGFR", None, "negative")]), set(), {"osimertinib"}),
        (profile("SCLC", "IV", [bm("EGFR", "L858R")]), set(), {"osimertinib"}),
    ],
)
def test_find_protocols(case, present, absent):
    found = therapies(protocols(case))
    assert present <= found
    assert not (absent & found)


def test_tumor_agnostic_approval_is_not_repeated_for_a_cancer_specific_one():
    found = protocols(profile("COAD", "IV", [bm("MSI"), bm("MMR", "deficient")]))
    pembro = [f for f in found if f.drug == "pembrolizumab"]
    assert [f.protocol_id for f in pembro] == ["crc-msi-pembrolizumab"]
    assert any(f.protocol_id == "agnostic-dmmr-dostarlimab" for f in found)


def test_tumor_agnostic_approval_of_a_drug_already_reported_is_dropped():
    found = protocols(profile("COAD", "IV", [bm("MSI"), bm("TMB", None, "positive", 48,
                                                            "mut/Mb")]))
    assert [f.protocol_id for f in found if f.drug == "pembrolizumab"] == [
        "crc-msi-pembrolizumab"]


def test_her2_ihc3_in_lung_comes_from_the_tumor_agnostic_approval():
    found = protocols(profile("LUAD", "IV", [bm("HER2", None, "positive", 3, "IHC")]))
    assert [(f.protocol_id, f.tumor_agnostic) for f in found] == [("agnostic-her2-tdxd", True)]


def test_unknown_stage_keeps_every_setting():
    found = protocols(profile("LUAD", None, [bm("EGFR", "L858R")]))
    ids = {f.protocol_id for f in found}
    assert {"nsclc-egfr-osimertinib", "nsclc-egfr-osimertinib-adjuvant"} <= ids


def test_an_m1_without_a_group_counts_as_stage_four():
    found = protocols(profile("LUAD", None, [bm("EGFR", "L858R")], m="M1b"))
    assert "nsclc-egfr-osimertinib-adjuvant" not in {f.protocol_id for f in found}


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (Stage(group="IIIC", m="M1c"), "IV"),
        (Stage(group="IVB", m="M1b"), "IVB"),
        (Stage(group="IIB"), "IIB"),
        (Stage(figo="IIIC1"), "IIIC1"),
        (Stage(m="M1"), "IV"),
        (Stage(m="M0"), None),
        (None, None),
    ],
)
def test_profile_stage_group(stage, expected):
    assert findings.profile_stage_group(Profile(stage=stage)) == expected


def test_no_cancer_type_means_no_protocols():
    assert protocols(profile(None, "IV", [bm("EGFR", "L858R")])) == []


@pytest.mark.parametrize(
    ("plan", "drug", "missed"),
    [
        (None, "osimertinib", True),
        ("Start osimertinib 80 mg daily.", "osimertinib", False),
        ("Start Tagrisso.", "osimertinib", False),
        ("Recommend a third-generation EGFR TKI.", "osimertinib", False),
        ("Start erlotinib.", "osimertinib", True),
        ("Start erlotinib.", "erlotinib", False),
        ("Carboplatin and pemetrexed.", "osimertinib", True),
        ("Concurrent chemoradiation, then durvalumab.", "osimertinib", True),
        ("", "osimertinib", True),
    ],
)
def test_missed_follows_the_plan(plan, drug, missed):
    found = protocols(profile("LUAD", "IV", [bm("EGFR", "exon 19 deletion")]), plan)
    [finding] = [f for f in found if f.drug == drug]
    assert finding.missed is missed


def test_missed_by_class_words_for_immunotherapy():
    case = profile("LUAD", "IV", [bm("PD-L1", None, "positive", 70, "TPS")])
    assert not any(f.missed for f in protocols(case, "Single-agent checkpoint inhibitor."))
    assert all(f.missed for f in protocols(case, "Carboplatin and paclitaxel."))
    keytruda = {f.drug: f.missed for f in protocols(case, "Keytruda every 3 weeks.")}
    assert keytruda["pembrolizumab"] is False and keytruda["cemiplimab"] is True


def test_protocol_finding_to_dict_has_the_spec_fields():
    [finding, *_] = protocols(
        profile("LUAD", "IV", [bm("EGFR", "exon 19 deletion", evidence="EGFR exon 19 del")]))
    data = finding.to_dict()
    assert data["biomarker"] == "EGFR exon 19 deletion"
    assert data["therapy"] == "osimertinib"
    assert data["source"] == "FDA label osimertinib 2018"
    assert data["missed"] is True
    assert data["line"] == "first-line metastatic"
    assert data["cancer_types"] == ["NSCLC"]
    assert data["evidence"] == "EGFR exon 19 del"
    assert data["marker"] == "EGFR"


@pytest.mark.parametrize(
    ("result", "flagged"),
    [
        (bm("BRCA2", "mutation", evidence="BRCA2 c.5946delT detected in tumor"), True),
        (bm("BRCA2", "germline", evidence="germline BRCA2 pathogenic variant"), False),
        (bm("BRCA2", "mutation", evidence="gBRCA2m"), False),
    ],
)
def test_germline_labels_say_when_germline_origin_is_not_documented(result, flagged):
    found = protocols(profile("PAAD", "IV", [result]))
    [olaparib] = [f for f in found if f.drug == "olaparib"]
    assert any("germline origin not documented" in c for c in olaparib.conditions) is flagged


def test_protocol_conditions_name_the_required_results():
    found = protocols(profile("READ", "IV", [bm("KRAS", None, "negative"),
                                             bm("NRAS", None, "negative")]))
    [panitumumab] = [f for f in found if f.drug == "panitumumab"]
    assert panitumumab.biomarker == "KRAS wild-type"
    assert panitumumab.conditions == ["NRAS wild-type"]


@pytest.mark.parametrize(
    ("result", "label"),
    [
        (bm("MSI"), "MSI-H"),
        (bm("MSI", None, "negative"), "MSS"),
        (bm("MMR", "deficient"), "MMR deficient (dMMR)"),
        (bm("TMB"), "TMB-high"),
        (bm("KRAS", None, "negative"), "KRAS wild-type"),
        (bm("HER2", None, "negative"), "HER2 negative"),
        (bm("PD-L1", None, "positive", 60, "TPS"), "PD-L1 TPS 60%"),
        (bm("EGFR", "L858R"), "EGFR L858R"),
    ],
)
def test_biomarker_label(result, label):
    assert findings.biomarker_label(result) == label


# --------------------------------------------------------------------------- testing gaps


def gaps(p, stage_group=None, **facts):
    return findings.find_testing_gaps(p, is_a=is_a, stage_group=stage_group, **facts)


@pytest.mark.parametrize(
    ("case", "present", "absent"),
    [
        (profile("LUAD", "IVA"),
         {"EGFR", "ALK", "ROS1", "BRAF", "KRAS", "MET exon 14", "RET", "NTRK1/2/3",
          "HER2 (ERBB2)", "PD-L1"}, set()),
        # ALK named without a result (pending) is still a gap (EVAL.md: a test "the notes
        # never report"); see test_a_test_named_without_a_result_is_a_gap_that_says_so.
        (profile("LUAD", "IV", [bm("EGFR", None, "negative"), bm("ALK", None, "unknown"),
                                bm("NTRK2", "fusion", "negative")]),
         {"ROS1", "PD-L1", "ALK"}, {"EGFR", "NTRK1/2/3"}),
        (profile("LUAD", "IB"), {"EGFR", "ALK", "PD-L1"}, {"ROS1", "KRAS"}),
        (profile("LUAD", "IA1"), set(), {"EGFR", "ALK", "PD-L1"}),
        (profile("LUSC", "IV"), {"PD-L1", "EGFR"}, set()),
        (profile("IDC", "IIA"), {"ER", "PR", "HER2"}, {"PIK3CA", "ESR1"}),
        (profile("IDC", "IV", [bm("ER"), bm("PR"), bm("HER2", None, "negative")]),
         {"PIK3CA", "ESR1", "germline BRCA1/2"}, {"ER", "PD-L1"}),
        (profile("IDC", "IV", [bm("ER", None, "negative"), bm("PR", None, "negative"),
                               bm("HER2", None, "negative", 0, "IHC")]),
         {"PD-L1", "germline BRCA1/2"}, {"PIK3CA", "ESR1"}),
        # (germline BRCA1/2 here depends on age: see test_germline_brca_in_breast_cancer)
        (profile("IDC", "IV", [bm("ER"), bm("PR"), bm("HER2", None, "positive", 3, "IHC")]),
         set(), {"PIK3CA"}),
        (profile("COAD", "IIA"), {"MSI/MMR"}, {"KRAS", "NRAS"}),
        (profile("COAD", "IIA", [bm("MMR", "proficient", "negative")]), set(), {"MSI/MMR"}),
        (profile("COAD", "IVB", [bm("MSI", None, "negative")]),
         {"KRAS", "NRAS", "BRAF", "HER2"}, {"MSI/MMR"}),
        (profile("SKCM", "IIIB"), {"BRAF"}, set()),
        (profile("SKCM", "IB"), set(), {"BRAF"}),
        (profile("HGSOC", "IIIC"), {"BRCA1/2 (germline and somatic)", "HRD"}, set()),
        (profile("HGSOC", "IA", [bm("BRCA2", None, "negative")]), set(),
         {"BRCA1/2 (germline and somatic)", "HRD"}),
        (profile("PRAD", None, m="M1b"),
         {"germline HRR genes (BRCA1/2, ATM, PALB2, CHEK2)", "MSI/MMR"}, set()),
        (profile("PRAD", "IIB"), set(), {"MSI/MMR"}),
        # High-risk localized disease (AJCC III): germline testing, not yet tumour MSI/TMB.
        (profile("PRAD", "IIIC"), {"germline HRR genes (BRCA1/2, ATM, PALB2, CHEK2)"},
         {"MSI/MMR", "TMB"}),
        (profile("PRAD", "IIB"), set(), {"germline HRR genes (BRCA1/2, ATM, PALB2, CHEK2)"}),
        (profile("PAAD", "IIB"), {"germline BRCA1/2"}, {"KRAS"}),
        (profile("PAAD", "IV"), {"germline BRCA1/2", "KRAS", "MSI/MMR"}, set()),
        (profile("PANET", "IV"), set(), {"germline BRCA1/2", "KRAS"}),
        (profile("STAD", "IV"), {"HER2", "PD-L1", "MSI/MMR", "CLDN18.2"}, set()),
        (profile("GEJ", "IB"), {"MSI/MMR"}, {"HER2"}),
        (profile("UEC", "IA"), {"MSI/MMR", "p53"}, {"HER2"}),
        (profile("USC", "IIIA"), {"MSI/MMR", "HER2"}, set()),
        (profile("IHCH", "IV"), {"FGFR2", "IDH1", "MSI/MMR", "HER2", "BRAF"}, set()),
        (profile("GIST"), {"KIT", "PDGFRA"}, set()),
        (profile("ASTR"), {"IDH1/2", "1p/19q codeletion", "MGMT promoter methylation"}, set()),
        (profile("ASTR", None, [bm("IDH1", "R132H")]), {"MGMT promoter methylation"},
         {"IDH1/2"}),
        (profile("AML"), {"FLT3", "NPM1", "IDH1", "IDH2", "KMT2A rearrangement"}, set()),
        (profile("BLL"), {"BCR-ABL1 (Philadelphia chromosome)"}, set()),
        (profile("HGSOC", "IIIC"), {"HRD", "FRα (FOLR1) IHC"}, set()),
        (profile("MDS"), {"SF3B1", "TP53"}, set()),
        (profile("DLBCLNOS", "IIA"), {"MYC rearrangement (with BCL2)"}, set()),
        (profile("DLBCLNOS", "IIA", [bm("MYC", "fusion", "negative")]), set(),
         {"MYC rearrangement (with BCL2)"}),
        (profile("THAP"), {"BRAF"}, set()),
        (profile("THME"), {"RET"}, set()),
        (profile("BLCA", "IV"), {"FGFR3"}, set()),
        (profile("BLCA", "II"), set(), {"FGFR3"}),
        (profile("OPHSC", "I"), {"p16/HPV"}, {"PD-L1"}),
        (profile("OPHSC", "I", [bm("HPV")]), set(), {"p16/HPV"}),
        (profile("OCSC", "IVC"), {"PD-L1"}, {"p16/HPV"}),
        (profile("CESC", "IVB"), {"PD-L1"}, set()),
        (profile("DLBCLNOS", "IV"), set(), {"PD-L1"}),
        (profile("ESCC", "IV"), {"PD-L1", "MSI/MMR"}, {"HER2"}),
        (profile("CUP"), {"MSI/MMR", "TMB", "NTRK1/2/3"}, set()),
        (profile("CMLBCRABL1"), {"BCR-ABL1"}, set()),
        (profile(None, "IV"), set(), {"EGFR"}),
    ],
)
def test_find_testing_gaps(case, present, absent):
    found = {g.marker for g in gaps(case)}
    assert present <= found
    assert not (absent & found)


def test_gap_reason_names_the_setting_the_guideline_and_the_marker():
    [alk] = [g for g in gaps(profile("LUAD", "IV")) if g.marker == "ALK"]
    assert alk.to_dict() == {
        "marker": "ALK",
        "reason": "advanced or metastatic non-squamous NSCLC: guidelines (NCCN Guidelines "
                  "Non-Small Cell Lung Cancer 2025) recommend ALK testing; not documented in "
                  "the notes",
        "strength": "recommended",
        "source": alk.source,
        "rule_id": "nsclc-nonsquamous-advanced",
    }


def test_gap_with_unknown_stage_says_so():
    found = {g.marker: g for g in gaps(profile("LUAD"))}
    assert "stage not documented" in found["ROS1"].reason
    assert found["ROS1"].rule_id == "nsclc-nonsquamous-advanced"


def test_stage_group_argument_overrides_the_notes():
    assert "KRAS" not in {g.marker for g in gaps(profile("COAD", "II"))}
    assert "KRAS" in {g.marker for g in gaps(profile("COAD", "II"), stage_group="IVA")}


def test_an_m1_in_the_notes_outranks_the_stage_group_argument():
    case = profile("SKCM", "IIIC", m="M1c")
    assert "BRAF" in {g.marker for g in gaps(case, stage_group="IIIC")}
    assert "KRAS" in {g.marker for g in gaps(profile("COAD", "II", m="M1a"), stage_group="II")}


def test_consider_strength_is_worded_as_a_suggestion():
    [ntrk] = [g for g in gaps(profile("COAD", "IV")) if g.marker == "NTRK1/2/3"]
    assert ntrk.strength == "consider"
    assert "suggest considering NTRK1/2/3 testing" in ntrk.reason


def test_each_marker_is_reported_once():
    found = [g.marker for g in gaps(profile("LUSC"))]
    assert len(found) == len(set(found))


# --------------------------------------------------------------------------- discrepancies


def discrepancies(notes, first, raw=None):
    return findings.find_discrepancies(notes, first, raw or {}, is_a=is_a)


def test_stage_discrepancy_shows_the_m1_that_decides_it():
    notes = profile("LUAD", None, m="M1a", prefix="p")
    first = profile("LUAD", "IIIA")
    [found] = discrepancies(notes, first, {"stage": "IIIA"})
    assert found.to_dict() == {"field": "stage", "first_opinion": "IIIA", "found": "IV (pM1a)",
                               "evidence": "stage M1a"}


@pytest.mark.parametrize(
    ("notes", "first", "fields"),
    [
        (profile("LUAD", "IIIB"), profile("LUAD", "IIIA"), []),  # same main group
        (profile("LUAD", "IIB"), profile("LUAD", "IIIA"), ["stage"]),
        (profile("LUAD", "IVA"), profile("LUAD", "IV"), []),
        (profile("LUAD"), profile("LUAD", "IIIA"), []),  # notes silent on stage
        (profile("LUSC"), profile("LUAD"), ["diagnosis"]),
        (profile("LUAD"), profile("NSCLC"), []),  # more specific, not different
        (profile("NSCLC"), profile("LUAD"), []),
        (profile("LUAD"), profile(None), []),
        (profile(None), profile("LUAD"), ["diagnosis"]),  # benign biopsy vs cancer
        (profile(None), profile(None), []),
        (profile("LUAD", grade="G3"), profile("LUAD", grade="G2"), ["grade"]),
        (profile("LUAD", grade="G2"), profile("LUAD", grade="g2"), []),
        (profile("IDC", biomarkers=[bm("HER2", None, "positive", 3, "IHC")]),
         profile("IDC", biomarkers=[bm("HER2", None, "negative")]), ["biomarker:HER2"]),
        (profile("IDC", biomarkers=[bm("HER2", None, "equivocal", 2, "IHC"),
                                    bm("HER2", "amplification", "positive")]),
         profile("IDC", biomarkers=[bm("HER2", None, "positive")]), []),
        (profile("IDC", biomarkers=[bm("HER2", None, "negative", 1, "IHC")]),
         profile("IDC", biomarkers=[bm("HER2", None, "negative", 0, "IHC")]), ["biomarker:HER2"]),
        (profile("LUAD", biomarkers=[bm("EGFR", "L858R")]),
         profile("LUAD", biomarkers=[bm("EGFR", "exon 19 deletion")]), ["biomarker:EGFR"]),
        (profile("LUAD", biomarkers=[bm("EGFR", "E746_A750del")]),
         profile("LUAD", biomarkers=[bm("EGFR", "exon 19 deletion")]), []),
        (profile("LUAD", biomarkers=[bm("PD-L1", None, "positive", 60, "TPS")]),
         profile("LUAD", biomarkers=[bm("PD-L1", None, "positive", 10, "TPS")]),
         ["biomarker:PD-L1"]),
        (profile("LUAD", biomarkers=[bm("PD-L1", None, "positive", 60, "TPS")]),
         profile("LUAD", biomarkers=[bm("PD-L1", None, "positive", 55, "TPS")]), []),
        (profile("COAD", biomarkers=[bm("MMR", "deficient")]),
         profile("COAD", biomarkers=[bm("MSI", None, "negative")]), []),  # different markers
        (profile("COAD", biomarkers=[bm("KRAS", None, "unknown")]),
         profile("COAD", biomarkers=[bm("KRAS", None, "negative")]), []),  # pending in notes
    ],
)
def test_find_discrepancies(notes, first, fields):
    assert [d.field for d in discrepancies(notes, first)] == fields


@pytest.mark.parametrize(
    ("raw_stage", "expected"),
    [
        ("IIIA", ["stage"]),
        ("Stage IIIA", ["stage"]),
        ("clinical stage IIB.", ["stage"]),
        ("IV (M1a)", []),
        ("stage IVA", []),
        ("cT2 N2 M0", []),  # not a plain group: the extracted profile (IV here) decides
    ],
)
def test_plain_stage_in_the_case_file_is_read_directly(raw_stage, expected):
    notes = profile("LUAD", "IV", m="M1a")
    first = profile("LUAD", "IV")  # e.g. an extractor that saw nothing new
    assert [d.field for d in discrepancies(notes, first, {"stage": raw_stage})] == expected


def test_diagnosis_discrepancy_quotes_the_first_opinion_and_the_notes():
    [found] = discrepancies(profile("LUSC"), profile("LUAD"),
                            {"diagnosis": "lung adenocarcinoma"})
    assert found.first_opinion == "lung adenocarcinoma"
    assert found.found == "name of LUSC (LUSC)"
    assert found.evidence == "words for LUSC"


def test_her2_discrepancy_carries_both_readings_and_the_evidence():
    notes = profile("IDC", biomarkers=[bm("HER2", None, "positive", 3, "IHC",
                                          evidence="HER2 (4B5): 3+")])
    first = profile("IDC", biomarkers=[bm("HER2", None, "negative")])
    [found] = discrepancies(notes, first, {"biomarkers": ["HER2-negative"]})
    assert found.to_dict() == {"field": "biomarker:HER2", "first_opinion": "HER2 negative",
                               "found": "HER2 IHC 3+", "evidence": "HER2 (4B5): 3+"}


def test_stage_four_from_words_is_not_shown_with_a_contradicting_m0():
    notes = profile("LUAD", "IVA", m="M0", prefix="c")
    [found] = discrepancies(notes, profile("LUAD", "IIIA"))
    assert found.found == "IVA"


def test_positive_result_left_out_of_the_first_opinion_list():
    notes = profile("LUAD", biomarkers=[bm("EGFR", "exon 19 deletion"),
                                        bm("EGFR", "T790M", "negative"),
                                        bm("KRAS", None, "negative"),
                                        bm("Ki-67", None, "positive", 40, "%"),
                                        bm("STK11", "Q170*")])
    first = profile("LUAD", biomarkers=[bm("PD-L1", None, "positive", 10, "TPS")])
    listed = discrepancies(notes, first, {"biomarkers": ["PD-L1 TPS 10%"]})
    assert [(d.field, d.first_opinion, d.found) for d in listed] == [
        ("biomarker:EGFR", "not mentioned", "EGFR exon 19 deletion")]
    assert discrepancies(notes, first, {"plan": "chemoradiation"}) == []


def test_a_left_out_result_that_qualifies_for_nothing_is_no_discrepancy():
    notes = profile("LUAD", "IV", [bm("PD-L1", None, "positive", 5, "TPS"), bm("ALK", "fusion")])
    first = profile("LUAD", "IV", [bm("ALK", "fusion")])
    assert discrepancies(notes, first, {"biomarkers": ["ALK positive"]}) == []


def test_basket_results_left_out_count_only_for_solid_tumours_when_told():
    notes = profile("DLBCLNOS", "IV", [bm("MSI")])
    first = profile("DLBCLNOS", "IV", [bm("BCL2")])
    raw = {"biomarkers": ["BCL2 positive"]}
    assert [d.field for d in discrepancies(notes, first, raw)] == ["biomarker:MSI"]
    assert findings.find_discrepancies(notes, first, raw, is_a=is_a, is_solid=is_solid) == []


def test_a_marker_named_but_never_tested_is_a_testing_gap():
    from trialmatch.match.findings import find_testing_gaps
    from trialmatch.nlp.vocab import get_vocabulary

    profile = Profile(cancer_type=CancerType("GEJ", "GEJ adenocarcinoma", "GEJ", 0, 3),
                      stage=Stage(group="IV", m="M1"),
                      biomarkers=[Biomarker("CLDN18", None, "unknown",
                                            evidence="Claudin 18.2 IHC: not performed"),
                                  Biomarker("HER2", None, "positive", evidence="HER2 3+"),
                                  Biomarker("PD-L1", None, "positive", 10, "CPS",
                                            evidence="CPS 10")])
    vocab = get_vocabulary()
    gaps = find_testing_gaps(profile, is_a=vocab.is_a, stage_group="IV")
    assert "CLDN18.2" in [g.marker for g in gaps]


def test_tumour_agnostic_tests_are_suggested_for_metastatic_solid_tumours():
    # FDA tumour-agnostic approvals (MSI-H/dMMR, TMB-high, NTRK fusions): a metastatic
    # uterine leiomyosarcoma with none of them documented; a lymphoma is not a solid tumour.
    lms = profile("ULMS", "IV")
    found = [g.marker for g in findings.find_testing_gaps(lms, is_a=is_a, stage_group=None,
                                                          is_solid=is_solid)]
    assert {"MSI/MMR", "TMB", "NTRK1/2/3"} <= set(found)
    early = [g.marker for g in findings.find_testing_gaps(profile("ULMS", "IB"), is_a=is_a,
                                                          stage_group=None, is_solid=is_solid)]
    assert "TMB" not in early
    lymphoma = [g.marker for g in findings.find_testing_gaps(
        profile("DLBCLNOS", "IV"), is_a=is_a, stage_group=None, is_solid=is_solid)]
    assert "TMB" not in lymphoma


@pytest.mark.parametrize("case, present", [
    # first-line anti-PD-1 with chemotherapy for PD-L1-positive ESCC (2025 labels: >= 1)
    (profile("ESCC", "IVB", [bm("PD-L1", value=15, unit="TPS"), bm("PD-L1", value=20, unit="CPS")]),
     {"pembrolizumab + cisplatin + fluorouracil", "nivolumab + fluorouracil + cisplatin"}),
    (profile("BLL", None, [bm("CD19")]), {"blinatumomab"}),
    (profile("DLBCLNOS", "III", [bm("CD20")]),
     {"rituximab + cyclophosphamide + doxorubicin + vincristine + prednisone"}),
    (profile("MDS", None, [bm("SF3B1", "mutation")]), {"luspatercept"}),
])
def test_biomarker_directed_protocols_of_blood_cancers_and_escc(case, present):
    assert present <= therapies(protocols(case))


def test_protocols_fit_the_treatment_given_so_far():
    from trialmatch.match.findings import ProtocolFinding, fits_treatment_history

    def finding(drug, therapy=None, not_after=(), after_classes=()):
        return ProtocolFinding(biomarker="EGFR L858R", marker="EGFR", therapy=therapy or drug,
                               source="FDA label x 2020", missed=True, drug=drug,
                               drug_class="EGFR TKI", protocol_id=drug,
                               cancer_types=["NSCLC"], tumor_agnostic=False,
                               not_after=not_after, after_classes=after_classes)

    osimertinib = finding("osimertinib")
    erlotinib = finding("erlotinib", not_after=("osimertinib", "lazertinib"))
    tucatinib = finding("tucatinib", "tucatinib + trastuzumab + capecitabine")
    datopotamab = finding("datopotamab deruxtecan", after_classes=("EGFR TKI", "platinum"))
    kept, aside = fits_treatment_history(
        [osimertinib, erlotinib, tucatinib, datopotamab],
        frozenset({"osimertinib", "trastuzumab"}), frozenset({"EGFR TKI", "anti-HER2"}))
    # what was given is not re-offered, nor what the guideline places before it, nor a
    # label for after a treatment not yet given; a regimen whose partner was given stands
    assert kept == [tucatinib]
    assert [why for _, why in aside] == [
        "already received osimertinib",
        "not given after osimertinib, which the patient has had",
        "the label is for after platinum, not yet given"]
    # no documented history: every protocol stands
    assert fits_treatment_history([osimertinib], None)[0] == [osimertinib]


HR_POS_HER2_POS = [bm("ER"), bm("PR"), bm("HER2", None, "positive", 3, "IHC")]
TRIPLE_NEGATIVE = [bm("ER", None, "negative"), bm("PR", None, "negative"),
                   bm("HER2", None, "negative", 0, "IHC")]


@pytest.mark.parametrize(("case", "facts", "strength"), [
    # ASCO-SSO 2024: every patient with breast cancer at 65 or younger (or of unknown age) ...
    (profile("IDC", "IA", HR_POS_HER2_POS), {"age": 50}, "recommended"),
    (profile("IDC", "IA", HR_POS_HER2_POS), {}, "recommended"),
    # ... triple-negative disease and men at any age ...
    (profile("IDC", "IA", TRIPLE_NEGATIVE), {"age": 72}, "recommended"),
    (profile("IDC", "IA", HR_POS_HER2_POS), {"age": 72, "sex": "male"}, "recommended"),
    # ... and PARP inhibitor candidates: HER2-negative stage II-III disease (OlympiA).
    (profile("IDC", "IIB", [bm("ER"), bm("HER2", None, "negative", 1, "IHC")]), {"age": 70},
     "consider"),
    # Not an older woman with HER2-positive early disease.
    (profile("IDC", "IIB", HR_POS_HER2_POS), {"age": 70, "sex": "female"}, None),
    # Inflammatory breast cancer, beside invasive breast carcinoma in OncoTree, is one.
    (profile("IBC", "IIIB", HR_POS_HER2_POS), {"age": 47}, "recommended"),
])
def test_germline_brca_in_breast_cancer(case, facts, strength):
    found = {g.marker: g.strength for g in gaps(case, **facts)}
    assert found.get("germline BRCA1/2") == strength


def test_a_reported_germline_test_answers_the_germline_gaps_only():
    # "Germline panel (Invitae): no pathogenic variants" answers germline BRCA1/2; it does not
    # answer tumour tests such as PIK3CA or ESR1.
    metastatic = profile("IDC", "IV", [bm("ER"), bm("HER2", None, "negative", 1, "IHC")])
    assert {"germline BRCA1/2", "PIK3CA", "ESR1"} <= {g.marker for g in gaps(metastatic, age=50)}
    tested = {g.marker for g in gaps(metastatic, age=50, germline_tested=True)}
    assert "germline BRCA1/2" not in tested and {"PIK3CA", "ESR1"} <= tested


def test_a_comprehensive_tumour_panel_answers_its_genes_not_proteins_or_signatures():
    genes = {"KRAS", "NRAS", "BRAF"}
    covered = findings.find_testing_gaps(profile("COAD", "IVB"), is_a=is_a, stage_group=None,
                                         panel_covers=lambda marker: marker in genes)
    found = {g.marker for g in covered}
    assert not (genes & found) and {"MSI/MMR", "HER2"} <= found


def test_disease_metastatic_now_gets_the_metastatic_tests():
    # A stage IIB prostate cancer at diagnosis with bone metastases now: the notes say
    # metastatic, so MSI/MMR (metastatic prostate) is due whatever the stage at diagnosis.
    assert "MSI/MMR" not in {g.marker for g in gaps(profile("PRAD", "IIB"))}
    assert "MSI/MMR" in {g.marker for g in gaps(profile("PRAD", "IIB"), metastatic=True)}


def test_a_marker_named_by_two_rules_is_one_gap():
    # A cancer-specific rule's "BRAF" and a tumour-agnostic rule's "BRAF V600E" are one test:
    # the first rule that names it reports it.
    from trialmatch.match.knowledge import TestedMarker, TestingRule

    def rule(ident, codes, name):
        return TestingRule(id=ident, label=ident, cancer_types=codes, except_cancer_types=(),
                           stages=(), markers=(TestedMarker(name, ("BRAF",), "recommended", (),
                                                            None),), source="test 2025")
    rules = (rule("colorectal", ("COADREAD",), "BRAF"), rule("any", ("_SOLID",), "BRAF V600E"))
    found = [g.marker for g in findings.find_testing_gaps(
        profile("COAD", "IVB"), is_a=is_a, stage_group=None, is_solid=is_solid, rules=rules)]
    assert found == ["BRAF"]


@pytest.mark.parametrize(("case", "facts", "marker", "expected"), [
    (profile("COAD", "IIA"), {"age": 44}, "germline multigene panel", True),
    (profile("COAD", "IIA"), {"age": 61}, "germline multigene panel", False),
    (profile("CCRCC", "I"), {"age": 40}, "germline RCC genes", True),
    (profile("CCRCC", "I"), {"age": 60}, "germline RCC genes", False),
    (profile("PHC", None), {"age": 60}, "germline SDHx", True),
])
def test_age_limited_germline_rules(case, facts, marker, expected):
    found = [g.marker for g in gaps(case, **facts)]
    assert any(name.startswith(marker) for name in found) is expected


def test_a_test_named_without_a_result_is_a_gap_that_says_so():
    pending = profile("LUAD", "IV", [bm("ALK", None, "unknown", evidence="ALK FISH pending")])
    [alk] = [g for g in gaps(pending) if g.marker == "ALK"]
    assert "without a result" in alk.reason and "ALK FISH pending" in alk.reason
    never = profile("LUAD", "IV", [bm("ALK", None, "unknown", evidence="ALK IHC: not performed")])
    [alk] = [g for g in gaps(never) if g.marker == "ALK"]
    assert "not done" in alk.reason


def test_no_second_pd1_inhibitor_after_progression_on_one():
    from trialmatch.match.findings import ProtocolFinding, fits_treatment_history

    pembrolizumab = ProtocolFinding(biomarker="TMB-high", marker="TMB", therapy="pembrolizumab",
                                    source="FDA label pembrolizumab 2020", missed=True,
                                    drug="pembrolizumab", drug_class="PD-1 inhibitor",
                                    protocol_id="agnostic-tmb-pembrolizumab", cancer_types=[],
                                    tumor_agnostic=True)
    kept, aside = fits_treatment_history([pembrolizumab], frozenset({"nivolumab"}),
                                         frozenset({"PD-1 inhibitor", "PD-(L)1 inhibitor"}))
    assert kept == [] and "PD-(L)1 inhibitor" in aside[0][1]
    assert fits_treatment_history([pembrolizumab], frozenset({"carboplatin"}),
                                  frozenset({"platinum"}))[0] == [pembrolizumab]


def test_a_rearrangement_gap_is_not_answered_by_the_protein():
    # Large B-cell lymphoma: MYC protein on IHC ("C-MYC +") is no MYC FISH.
    ihc = profile("DLBCLNOS", "IV", [bm("MYC", None, "positive", evidence="C-MYC +")])
    fish = profile("DLBCLNOS", "IV", [bm("MYC", "rearrangement", "negative",
                                         evidence="MYC FISH: no rearrangement")])
    assert "MYC rearrangement (with BCL2)" in {g.marker for g in gaps(ihc)}
    assert "MYC rearrangement (with BCL2)" not in {g.marker for g in gaps(fish)}


def test_amivantamab_after_osimertinib_is_with_chemotherapy():
    from trialmatch.match.findings import find_protocols, fits_treatment_history

    found = find_protocols(profile("LUAD", "IV", [bm("EGFR", "exon 19 deletion")]), is_a=is_a,
                           is_solid=is_solid, plan_text=None)
    kept, _ = fits_treatment_history(found, frozenset({"osimertinib"}), frozenset({"EGFR TKI"}))
    therapies = {p.therapy for p in kept}
    assert "amivantamab + carboplatin + pemetrexed" in therapies
    assert "amivantamab + lazertinib" not in therapies
    first, _ = fits_treatment_history(found, frozenset(), frozenset())
    assert "amivantamab + lazertinib" in {p.therapy for p in first}
    assert "amivantamab + carboplatin + pemetrexed" not in {p.therapy for p in first}


def test_a_resected_cancer_gets_the_adjuvant_labels_only():
    from trialmatch.match.findings import find_protocols, fits_adjuvant_setting

    found = find_protocols(profile("SKCM", "IIIC", [bm("BRAF", "V600K")]), is_a=is_a,
                           is_solid=is_solid, plan_text=None)
    kept, aside = fits_adjuvant_setting(found)
    assert {p.therapy for p in kept} == {"dabrafenib + trametinib"}
    assert "vemurafenib + cobimetinib" in {p.therapy for p, _ in aside}


def test_venetoclax_for_relapsed_t1114_myeloma():
    from trialmatch.match.findings import find_protocols, fits_treatment_history

    found = find_protocols(profile("PCM", None, [bm("CCND1", "fusion")]), is_a=is_a,
                           is_solid=is_solid, plan_text=None)
    kept, _ = fits_treatment_history(found, frozenset({"bortezomib", "lenalidomide"}),
                                     frozenset({"proteasome inhibitor",
                                                "immunomodulatory drug"}))
    [venetoclax] = [p for p in kept if p.drug == "venetoclax"]
    assert venetoclax.source.startswith("NCCN Guidelines")
    # Not at diagnosis, before a proteasome inhibitor and an immunomodulatory drug.
    untreated, _ = fits_treatment_history(found, frozenset(), frozenset())
    assert "venetoclax" not in {p.drug for p in untreated}


def test_myelofibrosis_takes_the_high_molecular_risk_genes():
    # NCCN MPN: a myeloid NGS panel (MIPSS70+ v2.0) where only JAK2 was tested.
    found = {g.marker for g in gaps(profile("PMFOFS", None, [bm("JAK2", "V617F")]))}
    assert {"ASXL1", "SRSF2", "EZH2", "IDH1", "IDH2", "U2AF1"} <= found
    assert "JAK2/CALR/MPL" not in found
