"""The shared terminology: synonyms, hierarchy, site+histology resolution, biomarker aliases,
alteration normalisation, OCR tolerance and data-file validation."""

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest

from trialmatch.errors import DataFileError
from trialmatch.nlp.vocab import get_vocabulary, load_vocabulary

OFFICIAL_ONCOTREE = Path("/work/shared/vocab/oncotree_2025_10_03.json")


@pytest.fixture(scope="module")
def vocab():
    return get_vocabulary()


def _keys(matches):
    return [m.key for m in matches]


# --------------------------------------------------------------------------- cancer types


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("lung adenocarcinoma", "LUAD"),
        ("Adenocarcinoma of the lung", "LUAD"),
        ("non-small cell lung cancer", "NSCLC"),
        ("non small cell lung carcinoma", "NSCLC"),
        ("NSCLC", "NSCLC"),
        ("invasive ductal carcinoma", "IDC"),
        ("INFILTRATING DUCTAL CARCINOMA", "IDC"),
        ("invasive carcinoma of no special type", "IDC"),
        ("IDC", "IDC"),
        ("clear cell renal cell carcinoma", "CCRCC"),
        ("clear cell RCC", "CCRCC"),
        ("ccRCC", "CCRCC"),
        ("glioblastoma multiforme", "GB"),
        ("GBM", "GB"),
        ("glioblastoma", "GB"),
        ("high-grade serous ovarian carcinoma", "HGSOC"),
        ("serous carcinoma of the ovary", "SOC"),
        ("urothelial carcinoma", "BLCA"),
        ("acute myeloid leukemia", "AML"),
        ("acute myeloid leukaemia", "AML"),
        ("chronic lymphocytic leukemia", "CLLSLL"),
        # T-lineage lymphoblastic leukaemia is never a B-lymphoblastic code.
        ("T-cell lymphoblastic leukemia", "TLL"),
        ("precursor T-cell lymphoblastic leukemia", "TLL"),
        ("T-cell ALL", "TLL"),
        ("acute lymphoblastic leukemia, T-cell type", "TLL"),
        ("T-lymphoblastic leukaemia/lymphoma", "TLL"),
        ("multiple myeloma", "PCM"),
        ("diffuse large B-cell lymphoma", "DLBCLNOS"),
        ("Hodgkin's lymphoma", "HL"),
        ("colorectal cancer", "COADREAD"),
        ("oesophageal squamous cell carcinoma", "ESCC"),
        ("hepatocellular carcinoma", "HCC"),
        ("pancreatic ductal adenocarcinoma", "PAAD"),
        ("metastatic castration-resistant prostate cancer", "PRAD"),
        ("Wilms' tumor", "WT"),
        ("triple-negative breast cancer", "BRCA"),
        ("gastrointestinal stromal tumours", "GIST"),
        # site x histology phrases built from sites.json and histologies.json
        ("Squamous Carcinoma of the Oesophagus", "ESCC"),
        ("Cancer of Endometrium", "UCEC"),
        ("pancreatic neuroendocrine neoplasm", "PANET"),
        ("adenocarcinoma of the sigmoid colon", "COAD"),
        # MeSH headings as ClinicalTrials.gov lists conditions
        ("Carcinoma, Non-Small-Cell Lung", "NSCLC"),
        ("Leukemia, Myeloid, Acute", "AML"),
        ("Breast Neoplasms", "BREAST"),
        ("Colorectal Neoplasms", "COADREAD"),
        # plurals fold onto the phrase, also when the plural is a vocabulary word itself
        ("non-small cell lung carcinomas", "NSCLC"),
        ("non-small cell lung cancers", "NSCLC"),
        ("melanomas", "MEL"),
        ("thymomas", "THYM"),
        ("Non-Hodgkins Lymphoma", "NHL"),
    ],
)
def test_find_cancer_types_synonyms(vocab, text, code):
    assert _keys(vocab.find_cancer_types(text)) == [code]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # longest match wins and matches do not overlap
        ("non-small cell lung cancer", ["NSCLC"]),
        ("small cell lung cancer", ["SCLC"]),
        ("metastatic breast carcinoma and lung adenocarcinoma", ["BRCA", "LUAD"]),
        # acronyms that are also words keep their case
        ("all patients must have measurable disease", []),
        ("ALL in second remission", []),  # bare "ALL" is the word in all-caps reports
        ("Ph+ ALL and B-ALL", ["BLLBCRABL1", "BLL"]),
        # no match inside a longer word
        ("pseudoglioma and hyperlymphoma", []),
        ("sarcomatoid features", []),
    ],
)
def test_find_cancer_types_boundaries(vocab, text, expected):
    assert _keys(vocab.find_cancer_types(text)) == expected


def test_cancer_type_phrases(vocab):
    phrases = dict(vocab.cancer_type_phrases())
    assert phrases["non small cell lung cancer"] == "NSCLC"
    assert phrases["esophageal squamous cell carcinoma"] == "ESCC"  # "oesophageal" normalised


def test_match_offsets_point_at_the_text(vocab):
    text = "DIAGNOSIS: Invasive ductal carcinoma, grade 2."
    [match] = vocab.find_cancer_types(text)
    assert text[match.start:match.end] == match.text == "Invasive ductal carcinoma"
    assert match.exact


@pytest.mark.parametrize(
    ("text", "code", "exact"),
    [
        ("adenocarcinorna of the lung", "LUAD", False),  # OCR read "rn" for "m"
        ("glioblastorna multiforme", "GB", False),
        ("hepatocelluar carcinoma", "HCC", False),  # a dropped letter
        ("lung adenocarcinoma", "LUAD", True),
    ],
)
def test_fuzzy_repairs_ocr_damage(vocab, text, code, exact):
    assert _keys(vocab.find_cancer_types(text)) == ([code] if exact else [])
    [match] = vocab.find_cancer_types(text, fuzzy=True)
    assert (match.key, match.exact) == (code, exact)


@pytest.mark.parametrize(
    "text",
    ["Squamous celll carcinoma", "squamous ce11 carcinoma", "Squarnous cell carcinoma",
     "squamous cell carcinorna", "sqaumous cell carcinoma"],
)
def test_fuzzy_histology_ocr_damage(vocab, text):
    [match] = vocab.find_histologies(text, fuzzy=True)
    assert (match.key, match.exact) == ("squamous cell carcinoma", False)


def test_fuzzy_joins_a_split_word(vocab):
    [match] = vocab.find_histologies("adenocarcin oma", fuzzy=True)
    assert (match.key, match.exact, match.text) == ("adenocarcinoma", False, "adenocarcin oma")


@pytest.mark.parametrize(
    "text",
    ["the tumor was small", "no malignancy", "colonoscopy", "serious adverse events",
     "the leukemic infiltrate", "T1 N0 M0", "ER 95%", "mets to bone", "subcapsular hematoma",
     "tubular adenoma", "test is negative", "lingual surface"],
)
def test_fuzzy_never_invents_terms(vocab, text):
    assert vocab.find_cancer_types(text, fuzzy=True) == []
    assert vocab.find_histologies(text, fuzzy=True) == []


# --------------------------------------------------------------------------- hierarchy


@pytest.mark.parametrize(
    ("code", "ancestor", "expected"),
    [
        ("LUAD", "NSCLC", True),
        ("LUAD", "LUNG", True),
        ("LUAD", "LUAD", True),
        ("NSCLC", "LUAD", False),
        ("IDC", "BRCA", True),
        ("IDC", "BREAST", True),
        ("GB", "DIFG", True),
        ("READ", "COADREAD", True),
        ("READ", "BOWEL", True),
        ("HGSOC", "OVARY", True),
        ("CLLSLL", "LYMPH", True),
        ("AML", "MYELOID", True),
        ("AML", "LYMPH", False),
    ],
)
def test_is_a(vocab, code, ancestor, expected):
    assert vocab.is_a(code, ancestor) is expected


def test_ancestors_stop_below_the_root(vocab):
    assert vocab.ancestors("LUAD") == ["NSCLC", "LUNG"]
    assert vocab.ancestors("LUNG") == []
    assert vocab.tissue_code("LUAD") == "LUNG"


def test_descendants(vocab):
    below = vocab.descendants("NSCLC")
    assert {"LUAD", "LUSC", "LCLC"} <= below
    assert "SCLC" not in below
    assert "NSCLC" not in below


@pytest.mark.parametrize(
    ("code", "heme"),
    [("AML", True), ("DLBCLNOS", True), ("PCM", True), ("LUAD", False), ("GB", False),
     ("TLYM", True), ("MLYM", True), ("LECLC", False)],  # lymphomas filed under organs
)
def test_solid_and_heme(vocab, code, heme):
    assert vocab.is_heme(code) is heme
    assert vocab.is_solid(code) is not heme


def test_unknown_codes(vocab):
    assert vocab.entry("NOPE") is None
    assert vocab.name("NOPE") == "NOPE"
    assert vocab.ancestors("NOPE") == []
    assert not vocab.is_solid("NOPE") and not vocab.is_heme("NOPE")


def test_package_covers_the_common_types(vocab):
    codes = vocab.all_codes()
    assert len(codes) >= 120
    for code in ("LUAD", "IDC", "COAD", "PRAD", "AML", "BLL", "CLLSLL", "CML", "PCM",
                 "DLBCLNOS", "FL", "HL", "MCL", "MDS", "GB", "CCRCC", "HGSOC", "BLCA"):
        assert code in codes
        assert vocab.entry(code).name


# --------------------------------------------------------------------------- resolve


@pytest.mark.parametrize(
    ("site", "histology", "code"),
    [
        ("lung", "adenocarcinoma", "LUAD"),
        ("lung", "squamous cell carcinoma", "LUSC"),
        ("lung", "small cell carcinoma", "SCLC"),
        ("lung", "mucinous adenocarcinoma", "LUAD"),  # falls back to the broader histology
        ("breast", "ductal carcinoma", "IDC"),
        ("breast", "lobular carcinoma", "ILC"),
        ("breast", "adenocarcinoma", "BRCA"),
        ("colon", "adenocarcinoma", "COAD"),
        ("rectum", "adenocarcinoma", "READ"),
        ("colorectum", "adenocarcinoma", "COADREAD"),
        ("colon", "mucinous adenocarcinoma", "MACR"),  # the histology is the more specific
        ("kidney", "clear cell carcinoma", "CCRCC"),
        ("kidney", "renal cell carcinoma", "RCC"),
        ("ovary", "high-grade serous carcinoma", "HGSOC"),
        ("endometrium", "endometrioid carcinoma", "UEC"),
        # a carcinoma of the uterine corpus is endometrial (WHO 5th ed.); its sarcomas not
        ("uterus", "endometrioid carcinoma", "UEC"),
        ("uterus", "serous carcinoma", "USC"),
        ("uterus", "carcinoma", "UCEC"),
        ("uterus", "carcinosarcoma", "UCS"),
        ("uterus", "squamous cell carcinoma", None),  # not an endometrial type: no guess
        ("kidney", "urothelial carcinoma", "UTUC"),  # the renal pelvis lines the kidney
        ("kidney", "carcinoma", "RCC"),  # the organ's own type first
        (None, "neuroendocrine tumor", "NETNOS"),
        (None, "neuroendocrine carcinoma", "NECNOS"),
        ("pancreas", "ductal carcinoma", "PAAD"),
        ("skin", "melanoma", "SKCM"),
        ("uvea", "melanoma", "UM"),
        ("liver", "melanoma", "MEL"),  # a metastasis: the histology decides
        (None, "melanoma", "MEL"),
        (None, "glioblastoma", "GB"),
        (None, "hepatocellular carcinoma", "HCC"),
        ("lung", "carcinoma", "LUNG"),  # generic carcinoma: the site's default
        ("liver", "adenocarcinoma", None),  # no such primary: a metastasis, not LIVER
        ("liver", "cholangiocarcinoma", "CHOL"),
        ("lung", None, None),  # an organ alone is not a cancer
        (None, "adenocarcinoma", None),  # nor is a histology that needs a site
        ("nowhere", "adenocarcinoma", None),
        ("lung", "no such histology", None),
    ],
)
def test_resolve(vocab, site, histology, code):
    assert vocab.resolve(site, histology) == code


def test_site_of(vocab):
    assert vocab.site_of("LUAD") == "lung"
    assert vocab.site_of("IDC") == "breast"
    assert vocab.site_of("ALUCA") == "lung"
    assert vocab.site_of("AML") is None
    assert vocab.histology_of("LUAD") == "adenocarcinoma"


@pytest.mark.parametrize(
    ("text", "site"),
    [
        ("right upper lobe", "lung"),
        ("RUL wedge resection", "lung"),
        ("bronchus", "lung"),
        ("sigmoid colon", "colon"),
        ("cecum", "colon"),
        ("ascending colon", "colon"),
        ("rectum", "rectum"),
        ("breast, upper outer quadrant", "breast"),
        ("renal mass", "kidney"),
        ("hepatic segment 7", "liver"),
    ],
)
def test_find_sites(vocab, text, site):
    assert _keys(vocab.find_sites(text))[0] == site


@pytest.mark.parametrize(
    ("text", "histology"),
    [
        ("SCC", "squamous cell carcinoma"),
        ("squamous carcinoma", "squamous cell carcinoma"),
        ("adenoca", "adenocarcinoma"),
        ("Adenocarcinoma, NOS", "adenocarcinoma"),
        ("transitional cell carcinoma", "urothelial carcinoma"),
        ("invasive lobular carcinoma", "lobular carcinoma"),
        ("non-small cell carcinoma", "non-small cell carcinoma"),
    ],
)
def test_find_histologies(vocab, text, histology):
    assert _keys(vocab.find_histologies(text)) == [histology]


def test_benign_squamous_mucosa_is_no_histology(vocab):
    assert vocab.find_histologies("benign squamous mucosa; atypical squamous cells") == []


# --------------------------------------------------------------------------- biomarkers


@pytest.mark.parametrize(
    ("alias", "symbol"),
    [
        ("HER2/neu", "HER2"),
        ("HER-2", "HER2"),
        ("ERBB2", "HER2"),
        ("c-erbB-2", "HER2"),
        ("CD274", "PD-L1"),
        ("PDL1", "PD-L1"),
        ("PD L1", "PD-L1"),
        ("B7-H1", "PD-L1"),
        ("MIB-1", "Ki-67"),
        ("Ki67", "Ki-67"),
        ("MKI67", "Ki-67"),
        ("estrogen receptor", "ER"),
        ("oestrogen receptor", "ER"),
        ("PgR", "PR"),
        ("progesterone receptor", "PR"),
        ("tumor mutational burden", "TMB"),
        ("MLH1", "MLH1"),
        ("EGFR", "EGFR"),
        ("c-MET", "MET"),
        ("claudin 18.2", "CLDN18"),
        ("MS4A1", "CD20"),
        ("BCR::ABL1", "BCR-ABL1"),
        ("1p/19q", "1p/19q"),
        ("no such marker", None),
    ],
)
def test_biomarker_symbol(vocab, alias, symbol):
    assert vocab.biomarker_symbol(alias) == symbol


def test_mmr_proteins(vocab):
    assert vocab.mmr_proteins() == {"MLH1", "MSH2", "MSH6", "PMS2"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ER 95%, PR 10%, HER2/neu 1+", ["ER", "PR", "HER2"]),
        ("PD-L1 (22C3) TPS 60%", ["PD-L1"]),
        ("Ki-67: 30%", ["Ki-67"]),
        ("KRAS G12C; MET exon 14", ["KRAS", "MET"]),
        ("met criteria; kit provided; the ret of", []),  # words, not genes
        ("upper pole of the kidney", []),
        ("eGFR >= 45 mL/min/1.73 m2", []),  # estimated glomerular filtration rate
        ("MSI-H", ["MSI"]),
        # phrases that contain an alias without naming the marker
        ("TUMOR SITE: MIDDLE POLE", []),
        ("POLE exonuclease domain mutation", ["POLE"]),
        ("objective response (CR or PR) by RECIST", []),
        ("partial response (PR)", []),
    ],
)
def test_find_biomarkers(vocab, text, expected):
    assert _keys(vocab.find_biomarkers(text)) == expected


@pytest.mark.parametrize(
    ("alias", "status"),
    [("MSS", "negative"), ("MSI-H", "positive"), ("dMMR", "positive"), ("pMMR", "negative"),
     ("TMB-high", "positive"), ("HER2", None)],
)
def test_status_of_alias(vocab, alias, status):
    assert vocab.status_of_alias(alias) == status


# --------------------------------------------------------------------------- alterations


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("p.V600E", "V600E"),
        ("V600E", "V600E"),
        ("p.Val600Glu", "V600E"),
        ("p.(Val600Glu)", "V600E"),
        ("L858R", "L858R"),
        ("G12C", "G12C"),
        ("p.G12D", "G12D"),
        ("T790M", "T790M"),
        ("exon 19 deletion", "exon 19 deletion"),
        ("del19", "exon 19 deletion"),
        ("exon 19 del", "exon 19 deletion"),
        ("E746_A750del", "exon 19 deletion"),
        ("deletion in exon 19", "exon 19 deletion"),
        ("exon 20 insertion", "exon 20 insertion"),
        ("ex20ins", "exon 20 insertion"),
        ("A767_V769dup", "exon 20 insertion"),
        ("G719X", "G719X"),
        ("MET exon 14 skipping", "exon 14 skipping"),
        ("METex14", "exon 14 skipping"),
        ("EML4-ALK", "fusion"),
        ("ALK rearranged", "fusion"),
        ("t(9;22)", "fusion"),
        ("amplified", "amplification"),
        ("amplification", "amplification"),
        ("overexpression", "overexpression"),
        ("FLT3-ITD", "ITD"),
        ("internal tandem duplication", "ITD"),
        ("TKD", "TKD"),
        ("mutated", "mutation"),
        ("mutant", "mutation"),
        ("pathogenic variant", "mutation"),
        ("germline mutation", "germline"),
        ("homozygous deletion", "homozygous deletion"),
        ("loss of expression", "loss"),
        ("promoter methylation", "methylation"),
        ("1p/19q codeleted", "codeletion"),
        ("BRAF V600", "V600"),
        ("nothing to see here", None),
        ("pT2 N1a M1a", None),  # TNM codes are not protein changes
        ("EGFR/ALK negative", None),
    ],
)
def test_normalise_alteration(vocab, text, canonical):
    assert vocab.normalise_alteration(text) == canonical


def test_find_alterations_in_a_sentence(vocab):
    text = "EGFR exon 19 deletion (p.E746_A750del) and T790M detected; ALK not rearranged."
    assert _keys(vocab.find_alterations(text)) == [
        "exon 19 deletion", "exon 19 deletion", "T790M", "fusion"]


# --------------------------------------------------------------------------- loading


def _copy_package_data(tmp_path: Path) -> Path:
    data = resources.files("trialmatch.nlp") / "data"
    for name in ("cancer_types.json", "sites.json", "histologies.json", "biomarkers.json",
                 "alterations.json"):
        with resources.as_file(data / name) as source:
            shutil.copy(source, tmp_path / name)
    return tmp_path


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_package_data_loads_from_a_folder(tmp_path):
    vocab = load_vocabulary(_copy_package_data(tmp_path))
    assert vocab.resolve("lung", "adenocarcinoma") == "LUAD"


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        ("cancer_types.json",
         lambda d: d["cancer_types"].append(dict(d["cancer_types"][5])), "duplicate code"),
        ("cancer_types.json",
         lambda d: d["cancer_types"].append({"code": "ZZZ", "name": "Z", "parent": "NOPE"}),
         "unknown parent 'NOPE'"),
        ("cancer_types.json", lambda d: d.pop("source"), "missing the 'source' field"),
        ("alterations.json",
         lambda d: d["alterations"].append({"name": "broken", "kind": "x", "patterns": ["(oops"]}),
         "entry 'broken': bad pattern"),
        ("sites.json", lambda d: d["sites"][0].update(parent="atlantis"), "unknown parent site"),
        ("sites.json", lambda d: d["sites"][0].update(spread_only="yes"),
         "'spread_only' must be true or false"),
        ("histologies.json", lambda d: d["histologies"][1].update(broader="nothing"),
         "unknown broader histology"),
        ("biomarkers.json", lambda d: d["status_aliases"].update({"XYZ": "positive"}),
         "status alias 'XYZ'"),
        ("cancer_types.json", lambda d: d["cancer_types"][3]["synonyms"].append("9)"),
         "phrase '9)' has no letter"),
        ("cancer_types.json", lambda d: d["lineage_neutral"][0].pop("source"),
         "lineage_neutral #0: missing 'source'"),
        ("biomarkers.json", lambda d: d["ambiguous_aliases"][0].update(alias="XQZ"),
         "'XQZ' is not a marker alias"),
        ("biomarkers.json", lambda d: d["ambiguous_aliases"][0].update(before="(oops"),
         "ambiguous_aliases #0: bad pattern"),
        ("cancer_types.json", lambda d: d["lineage_neutral"][0]["phrases"].append("melanoma"),
         "'melanoma' is no synonym"),
        ("cancer_types.json", lambda d: d["not_members"][0]["of"].append("NOPE"),
         "not_members #0: 'of' must list known codes"),
    ],
)
def test_bad_data_file_names_file_and_entry(tmp_path, file, change, message):
    folder = _copy_package_data(tmp_path)
    _edit(folder / file, change)
    with pytest.raises(DataFileError) as error:
        load_vocabulary(folder)
    assert file in str(error.value)
    assert message in str(error.value)


def test_synonym_claimed_by_two_codes_is_an_error(tmp_path):
    folder = _copy_package_data(tmp_path)

    def clash(data):
        for entry in data["cancer_types"]:
            if entry["code"] == "LUSC":
                entry["synonyms"].append("lung adenocarcinoma")

    _edit(folder / "cancer_types.json", clash)
    with pytest.raises(DataFileError, match="'lung adenocarcinoma' also names"):
        load_vocabulary(folder)


def test_not_json_is_a_data_file_error(tmp_path):
    folder = _copy_package_data(tmp_path)
    (folder / "sites.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataFileError, match="sites.json: not valid JSON"):
        load_vocabulary(folder)


def test_missing_oncotree_file_is_a_data_file_error(tmp_path):
    with pytest.raises(DataFileError, match="OncoTree file not found"):
        load_vocabulary(oncotree_json=tmp_path / "missing.json")


def test_official_oncotree_merge_from_a_small_tree(tmp_path):
    tree = {"TISSUE": {"code": "TISSUE", "name": "Tissue", "children": {
        "LUNG": {"code": "LUNG", "name": "Lung", "mainType": "Lung Cancer", "tissue": "Lung",
                 "parent": "TISSUE", "children": {
                     "NSCLC": {"code": "NSCLC", "name": "Non-Small Cell Lung Cancer",
                               "mainType": "Non-Small Cell Lung Cancer", "tissue": "Lung",
                               "parent": "LUNG", "children": {
                                   "LUAD": {"code": "LUAD", "name": "Lung Adenocarcinoma",
                                            "mainType": "Non-Small Cell Lung Cancer",
                                            "tissue": "Lung", "parent": "NSCLC",
                                            "children": {}},
                                   "XNEW": {"code": "XNEW", "name": "Brand New Lung Tumor",
                                            "mainType": "Non-Small Cell Lung Cancer",
                                            "tissue": "Lung", "parent": "NSCLC",
                                            "children": {}}}}}}}}}
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(tree), encoding="utf-8")
    vocab = load_vocabulary(oncotree_json=path)
    assert vocab.is_a("XNEW", "NSCLC")
    assert _keys(vocab.find_cancer_types("brand new lung tumor")) == ["XNEW"]
    # package synonyms are kept on merged codes
    assert _keys(vocab.find_cancer_types("adenocarcinoma of the lung")) == ["LUAD"]


@pytest.mark.skipif(not OFFICIAL_ONCOTREE.exists(), reason="shared OncoTree file not present")
def test_official_oncotree_merge():
    vocab = load_vocabulary(oncotree_json=OFFICIAL_ONCOTREE)
    assert len(vocab.all_codes()) >= 890
    # official names, parents and hierarchy
    assert vocab.name("LUAD") == "Lung Adenocarcinoma"
    assert vocab.is_a("ASTR2", "ADIFG")
    assert vocab.is_a("SKCM", "MEL")
    # curated synonyms survive the merge; ambiguous official names are not matched
    assert _keys(vocab.find_cancer_types("GBM")) == ["GB"]
    assert _keys(vocab.find_cancer_types("Breast Invasive Ductal Carcinoma")) == ["IDC"]
    assert vocab.find_cancer_types("yolk sac tumor") == []
    assert vocab.find_cancer_types("IgG") == []


@pytest.mark.parametrize("text,codes", [
    ("relapsed acute lymphoblastic leukemia", ["BLL", "TLL"]),  # no lineage named: both
    ("B-cell acute lymphoblastic leukemia", ["BLL"]),
    ("T-lymphoblastic leukemia", ["TLL"]),
    ("acute myeloid leukemia", ["AML"]),
])
def test_a_lineage_neutral_name_names_every_lineage(vocab, text, codes):
    assert [c for m in vocab.find_cancer_types(text) for c in vocab.cancer_codes(m)] == codes


def test_myeloma_is_no_lymphoma_to_a_trial(vocab):
    # OncoTree files plasma cell myeloma under NHL > mature B-cell neoplasms; the data file
    # says those populations leave it out, while a real lymphoma stays in
    assert not vocab.is_a("PCM", "NHL")
    assert not vocab.is_a("PCM", "LNM")
    assert vocab.is_a("PCM", "LYMPH")
    assert vocab.is_a("DLBCLNOS", "NHL") and vocab.is_a("WM", "NHL")


def test_inflammatory_breast_cancer_is_an_invasive_breast_carcinoma_to_a_trial(vocab):
    # OncoTree files IBC beside Invasive Breast Carcinoma; the data file says its population
    # takes it in (AJCC T4d, a presentation of invasive carcinoma), not a histology below it
    assert vocab.is_a("IBC", "BRCA") and vocab.is_a("IBC", "BREAST")
    assert not vocab.is_a("IBC", "IDC") and not vocab.is_a("BRCA", "IBC")
    from trialmatch.match.engine import cancer_family
    assert {"BRCA", "IDC"} <= cancer_family("IBC", vocab)


def test_a_uterine_leiomyosarcoma_is_a_soft_tissue_sarcoma_to_a_trial(vocab):
    assert vocab.is_a("ULMS", "LMS") and vocab.is_a("ULMS", "SOFT_TISSUE")
    assert vocab.is_a("ESS", "SOFT_TISSUE") and not vocab.is_a("UCEC", "SOFT_TISSUE")
    from trialmatch.match.engine import cancer_family
    assert {"LMS", "SOFT_TISSUE", "SARCNOS"} <= cancer_family("ULMS", vocab)


def test_wm_is_waldenstrom_in_capitals_only(vocab):
    assert [m.key for m in vocab.find_cancer_types("Part 2 (Cohort H): confirmed diagnosis of "
                                                   "WM; relapsed")] == ["WM"]
    assert vocab.find_cancer_types("periventricular wm changes") == []


def test_esophageal_cancer_names_the_esophageal_types_in_trials():
    """OncoTree files esophageal cancers with the stomach's under one tissue; a trial for
    "esophageal cancer" names the esophageal and junction types, not gastric cancer, while a
    note's "esophageal cancer" stays the broader tissue code."""
    vocab = get_vocabulary()
    match = vocab.find_cancer_types("esophageal carcinoma")[0]
    assert match.key == "STOMACH"
    assert set(vocab.cancer_codes(match)) == {"ESCC", "ESCA", "EPDCA", "HGNEE", "GEJ"}
