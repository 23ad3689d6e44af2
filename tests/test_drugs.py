"""Drug and drug-class lexicon: finding names in text, class hierarchy, data-file validation."""

import copy

import pytest

from trialmatch.errors import DataFileError
from trialmatch.nlp import drugs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Started osimertinib 80 mg daily.", ["osimertinib"]),
        ("Started TAGRISSO 80 mg daily.", ["osimertinib"]),
        ("carboplatin-pemetrexed x4 then pemetrexed maintenance",
         ["carboplatin", "pemetrexed", "pemetrexed"]),
        ("Enhertu (T-DXd) after Kadcyla", ["trastuzumab deruxtecan", "trastuzumab deruxtecan",
                                           "ado-trastuzumab emtansine"]),
        ("fam-trastuzumab deruxtecan-nxki", ["trastuzumab deruxtecan"]),
        ("trastuzumab deruxtecan, then trastuzumab", ["trastuzumab deruxtecan", "trastuzumab"]),
        ("FOLFOX: oxaliplatin, 5-FU and leucovorin",
         ["fluorouracil", "leucovorin", "oxaliplatin", "oxaliplatin", "fluorouracil",
          "leucovorin"]),
        ("mFOLFOX6 + bevacizumab", ["fluorouracil", "leucovorin", "oxaliplatin", "bevacizumab"]),
        ("Folfirinox", ["fluorouracil", "leucovorin", "irinotecan", "oxaliplatin"]),
        ("R-CHOP x6", ["rituximab", "cyclophosphamide", "doxorubicin", "vincristine",
                       "prednisone"]),
        ("chop the onions, a bite-sized piece", []),
        ("5FU bolus", ["fluorouracil"]),
        ("Keytruda plus Alimta", ["pembrolizumab", "pemetrexed"]),
        ("nab-paclitaxel and gemcitabine", ["nab-paclitaxel", "gemcitabine"]),
        ("177Lu-PSMA-617 planned", ["lutetium Lu 177 vipivotide tetraxetan"]),
        ("osimertinibs and Tagrissoes are not words", []),
        ("trastuzumab-deruxtecan and trastuzumab  emtansine", ["trastuzumab deruxtecan",
                                                               "ado-trastuzumab emtansine"]),
        ("T-DXd then t-dxd", ["trastuzumab deruxtecan"]),  # acronyms keep their case
        ("no systemic therapy yet", []),
    ],
)
def test_find_drugs(text, expected):
    assert [m.key for m in drugs.find_drugs(text)] == expected


def test_find_drugs_gives_offsets_into_the_text():
    text = "Plan: Tagrisso."
    [mention] = drugs.find_drugs(text)
    assert text[mention.start:mention.end] == mention.text == "Tagrisso"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prior platinum-based chemotherapy", ["platinum"]),
        ("platinum doublet", ["platinum"]),
        ("progressed on anti-PD-1 therapy", ["PD-1 inhibitor"]),
        ("PD-1 inhibitor or PD-L1 inhibitor", ["PD-1 inhibitor", "PD-L1 inhibitor"]),
        ("no prior checkpoint inhibitor", ["immune checkpoint inhibitor"]),
        ("an EGFR-TKI or EGFR tyrosine kinase inhibitor", ["EGFR TKI", "EGFR TKI"]),
        ("concurrent chemoradiation", ["chemoradiotherapy"]),
        ("SBRT to the adrenal", ["radiation"]),
        ("status post lobectomy", ["surgery"]),
        ("on ADT since 2022", ["androgen deprivation therapy"]),
        ("an adt-like word in lower case", []),
        ("prior anti-PD-1/PD-L1 therapy", ["PD-(L)1 inhibitor"]),
        ("a BiTE or a bite", ["bispecific T-cell engager"]),
        ("CDK4/6 inhibitor with letrozole", ["CDK4/6 inhibitor"]),
        ("immunotherapy", ["immunotherapy"]),
        ("prior BCMA-targeted therapy", ["anti-BCMA"]),
        ("a TROP2-directed ADC", ["anti-TROP2"]),
        ("HER2-targeted agents", ["anti-HER2"]),
    ],
)
def test_find_drug_classes(text, expected):
    assert [m.key for m in drugs.find_drug_classes(text)] == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("osimertinib", "osimertinib"),
        ("Tagrisso", "osimertinib"),
        ("  KEYTRUDA ", "pembrolizumab"),
        ("T-DXd", "trastuzumab deruxtecan"),
        ("trastuzumab-deruxtecan", "trastuzumab deruxtecan"),
        ("AMG 510", "sotorasib"),
        ("Lynparza", "olaparib"),
        ("aspirin", None),
        ("", None),
    ],
)
def test_normalise_drug(name, expected):
    assert drugs.normalise_drug(name) == expected


@pytest.mark.parametrize(
    ("drug", "includes", "excludes"),
    [
        ("pembrolizumab", {"PD-1 inhibitor", "PD-(L)1 inhibitor", "immune checkpoint inhibitor",
                           "immunotherapy"},
         {"chemotherapy", "PD-L1 inhibitor"}),
        ("durvalumab", {"PD-L1 inhibitor", "PD-(L)1 inhibitor"}, {"PD-1 inhibitor"}),
        ("FOLFOX", {"platinum", "fluoropyrimidine", "chemotherapy"}, {"taxane"}),
        ("TCHP", {"anti-HER2", "platinum", "taxane"}, set()),
        ("ipilimumab", {"CTLA-4 inhibitor", "immune checkpoint inhibitor"}, set()),
        ("carboplatin", {"platinum", "chemotherapy"}, {"taxane"}),
        ("docetaxel", {"taxane", "chemotherapy"}, set()),
        ("doxorubicin", {"anthracycline", "chemotherapy"}, set()),
        ("capecitabine", {"fluoropyrimidine", "chemotherapy"}, set()),
        ("osimertinib", {"EGFR TKI", "EGFR inhibitor", "targeted therapy"}, {"chemotherapy"}),
        ("cetuximab", {"anti-EGFR antibody", "EGFR inhibitor"}, {"EGFR TKI"}),
        ("Enhertu", {"anti-HER2", "antibody-drug conjugate"}, set()),
        ("tucatinib", {"HER2 TKI", "anti-HER2"}, set()),
        ("olaparib", {"PARP inhibitor"}, set()),
        ("ribociclib", {"CDK4/6 inhibitor"}, set()),
        ("enzalutamide", {"androgen receptor inhibitor", "endocrine therapy"}, set()),
        # an ARPI (PCWG3): abiraterone is one, the first-generation bicalutamide is not
        ("abiraterone", {"androgen receptor pathway inhibitor"}, {"androgen receptor inhibitor"}),
        ("bicalutamide", {"androgen receptor inhibitor"}, {"androgen receptor pathway inhibitor"}),
        ("leuprolide", {"GnRH agonist", "androgen deprivation therapy"}, set()),
        ("letrozole", {"aromatase inhibitor", "endocrine therapy"}, set()),
        ("sotorasib", {"KRAS G12C inhibitor"}, set()),
        ("bevacizumab", {"anti-VEGF"}, set()),
        ("dabrafenib", {"BRAF inhibitor"}, {"MEK inhibitor"}),
        ("trametinib", {"MEK inhibitor"}, {"BRAF inhibitor"}),
        ("crizotinib", {"ALK inhibitor", "ROS1 inhibitor", "MET inhibitor"}, set()),
    ],
)
def test_classes_of_includes_ancestors(drug, includes, excludes):
    classes = drugs.classes_of(drug)
    assert includes <= classes
    assert not (excludes & classes)


def test_classes_of_unknown_drug_is_empty():
    assert drugs.classes_of("aspirin") == set()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mFOLFOX6", ("fluorouracil", "leucovorin", "oxaliplatin")),
        ("xelox", ("capecitabine", "oxaliplatin")),
        ("FOLFIRI", ("fluorouracil", "leucovorin", "irinotecan")),
        ("osimertinib", ()),
        ("R-ICE", ("rituximab", "ifosfamide", "carboplatin", "etoposide")),
        ("bendamustine and rituximab", ("bendamustine", "rituximab")),
    ],
)
def test_regimen_drugs(name, expected):
    assert drugs.regimen_drugs(name) == expected


@pytest.mark.parametrize(
    ("drug", "drug_class", "expected"),
    [
        ("nivolumab", "checkpoint inhibitor", True),
        ("nivolumab", "anti-PD-1", True),
        ("atezolizumab", "anti-PD-1", False),
        ("atezolizumab", "anti-PD-1/PD-L1", True),
        ("nivolumab", "PD-1/PD-L1 inhibitor", True),
        ("cisplatin", "platinum-based chemotherapy", True),
        ("pemetrexed", "platinum", False),
        ("tamoxifen", "unknown class", False),
    ],
)
def test_is_in_class(drug, drug_class, expected):
    assert drugs.is_in_class(drug, drug_class) is expected


@pytest.mark.parametrize(
    ("text", "drug", "expected"),
    [
        ("Start osimertinib.", "osimertinib", True),
        ("Start Tagrisso.", "osimertinib", True),
        ("Recommend an EGFR TKI.", "osimertinib", True),
        ("Recommend EGFR-directed therapy.", "osimertinib", True),
        ("Targeted therapy per molecular results.", "osimertinib", True),
        ("Start erlotinib.", "osimertinib", False),
        ("Carboplatin, pemetrexed, pembrolizumab.", "osimertinib", False),
        ("Chemo-immunotherapy.", "pembrolizumab", True),
        ("Chemotherapy then immunotherapy.", "pembrolizumab", True),
        ("Concurrent chemoradiation, then durvalumab.", "pembrolizumab", False),
        ("Checkpoint inhibitor.", "pembrolizumab", True),
        ("Platinum doublet.", "carboplatin", True),
        ("Anti-HER2 therapy with a taxane.", "trastuzumab deruxtecan", True),
        ("BRAF/MEK inhibitors.", "dabrafenib", True),
        ("PARP inhibitor maintenance.", "olaparib", True),
        ("Lynparza maintenance.", "olaparib", True),
        ("Zejula maintenance.", "olaparib", False),
        ("", "osimertinib", False),
        ("aspirin daily", "aspirin", False),
        ("CAPOX and bevacizumab", "oxaliplatin", True),
        ("TCHP x6", "pertuzumab", True),
    ],
)
def test_mentions_drug_or_class(text, drug, expected):
    assert drugs.mentions_drug_or_class(text, drug) is expected


def test_every_packaged_drug_has_a_class_and_is_found_by_its_own_name():
    lexicon = drugs.get_lexicon()
    for name, classes in lexicon.drug_classes.items():
        assert classes, name
        assert [m.key for m in drugs.find_drugs(f"given {name} daily")] == [name], name


# --------------------------------------------------------------------------- validation

VALID = {
    "classes": {
        "chemotherapy": {"parents": [], "synonyms": ["chemo"]},
        "platinum": {"parents": ["chemotherapy"], "synonyms": ["platinum-based"]},
    },
    "drugs": {
        "cisplatin": {"classes": ["platinum"], "brands": ["Platinol"], "aliases": []},
        "carboplatin": {"classes": ["platinum"], "brands": [], "aliases": []},
    },
    "regimens": {"CarboCis": {"drugs": ["carboplatin", "cisplatin"], "aliases": []}},
}


def _broken(change):
    data = copy.deepcopy(VALID)
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.pop("drugs"), "'drugs'"),
        (lambda d: d["classes"]["platinum"].update(parents=["alkylator"]), "'platinum'"),
        (lambda d: d["drugs"]["cisplatin"].update(classes=["taxane"]), "'cisplatin'"),
        (lambda d: d["drugs"]["cisplatin"].update(classes=[]), "'cisplatin'"),
        (lambda d: d["drugs"]["carboplatin"].update(brands=["Platinol"]), "'Platinol'"),
        (lambda d: d["drugs"]["carboplatin"].update(aliases=["chemo"]), "'chemo'"),
        (lambda d: d["drugs"]["carboplatin"].update(brands="Paraplatin"), "'carboplatin'"),
        (lambda d: d["classes"]["chemotherapy"].update(parents=["platinum"]), "own ancestor"),
        (lambda d: d["classes"]["platinum"].update(synonyms=["chemo"]), "'chemo'"),
        (lambda d: d["regimens"]["CarboCis"].update(drugs=["carboplatin"]), "at least two"),
        (lambda d: d["regimens"]["CarboCis"].update(drugs=["carboplatin", "x"]), "unknown drug"),
        (lambda d: d["regimens"]["CarboCis"].update(aliases=["Platinol"]), "'Platinol'"),
        (lambda d: d.update(regimens=[]), "'regimens'"),
    ],
)
def test_build_lexicon_rejects_bad_data_naming_the_entry(change, words):
    with pytest.raises(DataFileError) as error:
        drugs.build_lexicon(_broken(change))
    assert "drugs.json" in str(error.value)
    assert words in str(error.value)


def test_build_lexicon_accepts_valid_data():
    lexicon = drugs.build_lexicon(copy.deepcopy(VALID))
    assert lexicon.ancestors("platinum") == {"platinum", "chemotherapy"}
