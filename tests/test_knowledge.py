"""The packaged knowledge base: protocols and testing-gap rules load, cover what they must,
cite their sources, and bad data is rejected with the file and entry named."""

import copy
import csv
import re
from pathlib import Path

import pytest

from trialmatch.errors import DataFileError
from trialmatch.match import knowledge, restage
from trialmatch.nlp import conditions, context, drugs, sections

ONCOTREE_TSV = Path(__file__).resolve().parents[2] / "shared" / "vocab" / "oncotree_2025_10_03.tsv"


def test_packaged_protocols_load_and_cite_fda_labels():
    base = knowledge.get_protocols()
    assert len(base.protocols) >= 110
    for protocol in base.protocols:
        # An FDA label, or for an off-label use the guideline lists, the NCCN guideline (and
        # then the line says "off-label"), each with its year.
        assert re.fullmatch(r"(?:FDA label|NCCN Guidelines) .+ (19|20)\d\d",
                            protocol.source), protocol.id
        if protocol.source.startswith("NCCN"):
            assert "off-label" in (protocol.line or ""), protocol.id
        assert protocol.drug_class in drugs.classes_of(protocol.drug), protocol.id
        assert protocol.biomarker, protocol.id


def test_packaged_testing_rules_load_and_cite_guidelines():
    rules = knowledge.get_testing_rules()
    assert len(rules) >= 30
    for rule in rules:
        assert re.search(r"\b20\d\d\b", rule.source), rule.id
        assert re.search(r"NCCN|ASCO|CAP|ESMO|ELN|WHO", rule.source), rule.id


@pytest.mark.parametrize(
    ("drug", "cancer_type", "marker"),
    [
        ("osimertinib", "NSCLC", "EGFR"),
        ("erlotinib", "NSCLC", "EGFR"),
        ("amivantamab", "NSCLC", "EGFR"),
        ("alectinib", "NSCLC", "ALK"),
        ("lorlatinib", "NSCLC", "ALK"),
        ("crizotinib", "NSCLC", "ROS1"),
        ("entrectinib", "NSCLC", "ROS1"),
        ("sotorasib", "NSCLC", "KRAS"),
        ("adagrasib", "NSCLC", "KRAS"),
        ("capmatinib", "NSCLC", "MET"),
        ("tepotinib", "NSCLC", "MET"),
        ("selpercatinib", "NSCLC", "RET"),
        ("pralsetinib", "NSCLC", "RET"),
        ("dabrafenib", "NSCLC", "BRAF"),
        ("pembrolizumab", "NSCLC", "PD-L1"),
        ("trastuzumab deruxtecan", "NSCLC", "HER2"),
        ("trastuzumab", "BREAST", "HER2"),
        ("pertuzumab", "BREAST", "HER2"),
        ("trastuzumab deruxtecan", "BREAST", "HER2"),
        ("alpelisib", "BREAST", "PIK3CA"),
        ("capivasertib", "BREAST", "AKT1"),
        ("elacestrant", "BREAST", "ESR1"),
        ("olaparib", "BREAST", "BRCA1"),
        ("talazoparib", "BREAST", "BRCA2"),
        ("palbociclib", "BREAST", "ER"),
        ("pembrolizumab", "COADREAD", "MSI"),
        ("cetuximab", "COADREAD", "KRAS"),
        ("panitumumab", "COADREAD", "KRAS"),
        ("encorafenib", "COADREAD", "BRAF"),
        ("sotorasib", "COADREAD", "KRAS"),
        ("adagrasib", "COADREAD", "KRAS"),
        ("tucatinib", "COADREAD", "HER2"),
        ("dabrafenib", "MEL", "BRAF"),
        ("vemurafenib", "MEL", "BRAF"),
        ("encorafenib", "MEL", "BRAF"),
        ("olaparib", "OVARY", "BRCA1"),
        ("niraparib", "OVARY", "BRCA2"),
        ("mirvetuximab soravtansine", "OVARY", "FOLR1"),
        ("olaparib", "PROSTATE", "ATM"),
        ("rucaparib", "PROSTATE", "BRCA2"),
        ("talazoparib", "PROSTATE", "BRCA2"),
        ("olaparib", "PANCREAS", "BRCA1"),
        ("trastuzumab", "STAD", "HER2"),
        ("zolbetuximab", "STAD", "CLDN18"),
        ("pembrolizumab", "STAD", "PD-L1"),
        ("erdafitinib", "BLCA", "FGFR3"),
        ("selpercatinib", "THME", "RET"),
        ("dabrafenib", "THAP", "BRAF"),
        ("pemigatinib", "CHOL", "FGFR2"),
        ("futibatinib", "CHOL", "FGFR2"),
        ("ivosidenib", "CHOL", "IDH1"),
        ("imatinib", "GIST", "KIT"),
        ("avapritinib", "GIST", "PDGFRA"),
        ("midostaurin", "AML", "FLT3"),
        ("gilteritinib", "AML", "FLT3"),
        ("ivosidenib", "AML", "IDH1"),
        ("enasidenib", "AML", "IDH2"),
        ("vorasidenib", "DIFG", "IDH1"),
        ("imatinib", "CML", "BCR-ABL1"),
        ("ponatinib", "CML", "ABL1"),
        ("arsenic trioxide", "AML", "PML-RARA"),
        ("avapritinib", "SM", "KIT"),
        ("pembrolizumab", "ESCC", "PD-L1"),
        ("dostarlimab", "UCEC", "MMR"),
        ("pembrolizumab", "CERVIX", "PD-L1"),
        ("pembrolizumab", "HNSC", "PD-L1"),
        ("pembrolizumab", "_ANY_SOLID", "MSI"),
        ("dostarlimab", "_ANY_SOLID", "MMR"),
        ("pembrolizumab", "_ANY_SOLID", "TMB"),
        ("larotrectinib", "_ANY_SOLID", "NTRK1"),
        ("entrectinib", "_ANY_SOLID", "NTRK2"),
        ("repotrectinib", "_ANY_SOLID", "NTRK3"),
        ("dabrafenib", "_ANY_SOLID", "BRAF"),
        ("selpercatinib", "_ANY_SOLID", "RET"),
        ("trastuzumab deruxtecan", "_ANY_SOLID", "HER2"),
    ],
)
def test_required_approvals_are_covered(drug, cancer_type, marker):
    hits = [
        p for p in knowledge.get_protocols().protocols
        if p.drug == drug and cancer_type in p.cancer_types
        and any(spec.marker == marker for spec in p.biomarker)
    ]
    assert hits, f"{drug} for {marker} in {cancer_type}"


@pytest.mark.parametrize(
    ("cancer_type", "markers"),
    [
        ("NSCLC", {"EGFR", "ALK", "ROS1", "BRAF", "KRAS", "MET exon 14", "RET", "NTRK1/2/3",
                   "HER2 (ERBB2)", "PD-L1"}),
        ("LUSC", {"PD-L1"}),
        ("BRCA", {"ER", "PR", "HER2", "PIK3CA", "ESR1", "germline BRCA1/2"}),
        ("COADREAD", {"MSI/MMR", "KRAS", "NRAS", "BRAF", "HER2"}),
        ("MEL", {"BRAF"}),
        ("OVT", {"BRCA1/2 (germline and somatic)", "HRD"}),
        ("PROSTATE", {"MSI/MMR"}),
        ("PANCREAS", {"germline BRCA1/2", "MSI/MMR", "KRAS"}),
        ("EGC", {"HER2", "PD-L1", "MSI/MMR", "CLDN18.2"}),
        ("UCEC", {"MSI/MMR"}),
        ("BILIARY_TRACT", {"FGFR2", "IDH1"}),
        ("GIST", {"KIT", "PDGFRA"}),
        ("DIFG", {"IDH1/2", "1p/19q codeletion", "MGMT promoter methylation"}),
        ("AML", {"FLT3", "NPM1", "IDH1", "IDH2"}),
        ("THYROID", {"RET", "BRAF"}),
        ("BLCA", {"FGFR3"}),
        ("OPHSC", {"p16/HPV"}),
        ("HNSC", {"PD-L1"}),
        ("CERVIX", {"PD-L1"}),
    ],
)
def test_required_testing_rules_are_covered(cancer_type, markers):
    named = {
        marker.name
        for rule in knowledge.get_testing_rules() if cancer_type in rule.cancer_types
        for marker in rule.markers
    }
    assert markers <= named


@pytest.mark.skipif(not ONCOTREE_TSV.exists(), reason="shared OncoTree table not available")
def test_every_cancer_code_is_an_oncotree_code():
    with ONCOTREE_TSV.open(encoding="utf-8") as handle:
        codes = {row["code"] for row in csv.DictReader(handle, delimiter="\t")}
    used = set()
    for protocol in knowledge.get_protocols().protocols:
        used |= set(protocol.cancer_types) | set(protocol.except_cancer_types)
    for rule in knowledge.get_testing_rules():
        used |= set(rule.cancer_types) | set(rule.except_cancer_types)
    assert used - codes - set(knowledge.BASKETS) == set()


@pytest.mark.parametrize(
    ("marker", "alteration", "expected"),
    [
        ("BRAF", "p.V600E", "v600e"),
        ("EGFR", "E746_A750del", "exon 19 deletion"),
        ("EGFR", "p.E746_S752delinsV", "exon 19 deletion"),
        ("EGFR", "exon 19 del", "exon 19 deletion"),
        ("EGFR", "Exon 19 Deletion", "exon 19 deletion"),
        ("EGFR", "G719S", "g719x"),
        ("KIT", "G719S", "g719s"),  # the G719X rewrite is EGFR's alone
        ("ALK", "rearrangement", "fusion"),
        ("FLT3", "internal tandem duplication", "itd"),
        ("MET", "METex14", "exon 14 skipping"),
        ("MMR", "dMMR", "deficient"),
        ("MMR", "pMMR", "proficient"),
        ("PTEN", "loss of expression", "loss"),
        ("KRAS", None, None),
        ("KRAS", "  ", None),
    ],
)
def test_normalise_alteration(marker, alteration, expected):
    assert knowledge.get_protocols().normalise_alteration(marker, alteration) == expected


@pytest.mark.parametrize(
    ("group", "prefixes", "expected"),
    [
        ("IV", ("IV",), True),
        ("IVB", ("IV",), True),
        ("IIIB", ("IIIB", "IIIC", "IV"), True),
        ("IIIA", ("IIIB", "IIIC", "IV"), False),
        ("III", ("IIIB",), True),  # an unspecified substage may be IIIB
        ("IIA", ("IB", "II", "IIIA"), True),
        ("IA2", ("IB",), False),
        ("I", ("II", "III"), False),
        ("IIIC1", ("III",), True),
        ("0", ("I",), False),
        ("stage four", ("IV",), False),
    ],
)
def test_stage_in(group, prefixes, expected):
    assert knowledge.stage_in(group, prefixes) is expected


# --------------------------------------------------------------------------- validation

PROTOCOLS = {
    "alteration_synonyms": {"rearrangement": "fusion"},
    "alteration_patterns": [{"pattern": "^p\\.", "replace": ""}],
    "protocols": [
        {
            "id": "nsclc-alk-alectinib",
            "drug": "alectinib",
            "drug_class": "ALK inhibitor",
            "biomarker": {"marker": "ALK", "alterations": ["fusion"], "status": "positive",
                          "accept_unspecified": True},
            "cancer_types": ["NSCLC"],
            "stages": ["IV"],
            "line": "first-line metastatic",
            "source": "FDA label alectinib 2017",
        },
        {
            "id": "nsclc-pdl1-pembrolizumab",
            "drug": "pembrolizumab",
            "drug_class": "PD-1 inhibitor",
            "biomarker": [{"marker": "PD-L1", "min_value": 50, "unit": "TPS"}],
            "excludes": [{"marker": "ALK"}],
            "requires": [[{"marker": "EGFR", "status": "negative"}]],
            "cancer_types": ["NSCLC"],
            "source": "FDA label pembrolizumab 2016",
        },
    ],
}


def _protocol(change):
    data = copy.deepcopy(PROTOCOLS)
    change(data["protocols"][0])
    return data


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda p: p.update(drug="alecensa"), "not a canonical name"),
        (lambda p: p.update(drug="unknownib"), "not a canonical name"),
        (lambda p: p.update(partners=["Mekinist"]), "partner 'Mekinist'"),
        (lambda p: p.update(drug_class="EGFR TKI"), "not in class 'EGFR TKI'"),
        (lambda p: p.update(source="FDA label alectinib"), "'source'"),
        (lambda p: p.update(source="NCCN 2024"), "'source'"),
        (lambda p: p["biomarker"].update(status="present"), "invalid status"),
        (lambda p: p["biomarker"].update(min_value=5, max_value=1, unit="%"), "min_value above"),
        (lambda p: p["biomarker"].update(min_value=5), "without a unit"),
        (lambda p: p["biomarker"].update(min_value="high", unit="%"), "must be a number"),
        (lambda p: p["biomarker"].update(accept_unspecified="yes"), "true or false"),
        (lambda p: p["biomarker"].update(allele="x"), "unknown keys"),
        (lambda p: p.update(biomarker=[]), "'biomarker'"),
        (lambda p: p.update(cancer_types=[]), "at least one cancer type"),
        (lambda p: p.update(cancer_types=["lung cancer"]), "not an OncoTree code"),
        (lambda p: p.update(stages=["4"]), "not a stage group"),
        (lambda p: p.update(requires=[[]]), "'requires'"),
        (lambda p: p.update(excludes={"marker": "ALK"}), "'excludes'"),
        (lambda p: p.update(indication="x"), "unknown keys"),
        (lambda p: p.update(id="nsclc-pdl1-pembrolizumab"), "duplicate id"),
    ],
)
def test_build_protocols_rejects_bad_entries_naming_them(change, words):
    with pytest.raises(DataFileError) as error:
        knowledge.build_protocols(_protocol(change))
    message = str(error.value)
    assert message.startswith("protocols.json: protocol '")
    assert words in message


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([], "top level"),
        ({"protocols": []}, "no protocol"),
        ({**PROTOCOLS, "alteration_patterns": [{"pattern": "(", "replace": ""}]},
         "alteration_patterns[0]"),
        ({**PROTOCOLS, "alteration_synonyms": {"x": 1}}, "alteration_synonyms"),
    ],
)
def test_build_protocols_rejects_bad_documents(data, words):
    with pytest.raises(DataFileError) as error:
        knowledge.build_protocols(data)
    assert words in str(error.value)


def test_build_protocols_reads_alternatives_requires_and_excludes():
    base = knowledge.build_protocols(copy.deepcopy(PROTOCOLS))
    alectinib, pembrolizumab = base.protocols
    assert alectinib.therapy == "alectinib"
    assert alectinib.stages == ("IV",)
    assert pembrolizumab.biomarker[0].min_value == 50.0
    assert pembrolizumab.biomarker[0].describe() == "PD-L1 TPS >= 50"
    assert pembrolizumab.requires[0][0].statuses == ("negative",)
    assert pembrolizumab.excludes[0].marker == "ALK"
    assert base.normalise_alteration("ALK", "Rearrangement") == "fusion"


RULES = {
    "rules": [
        {
            "id": "melanoma-advanced",
            "label": "stage III-IV melanoma",
            "cancer_types": ["MEL"],
            "stages": ["III", "IV"],
            "markers": [{"marker": "BRAF"}, {"marker": "MSI/MMR", "any_of": ["MSI", "MMR"],
                                             "strength": "consider"}],
            "source": "NCCN Guidelines Melanoma: Cutaneous 2025",
        }
    ]
}


def _rule(change):
    data = copy.deepcopy(RULES)
    change(data["rules"][0])
    return data


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda r: r.update(source="NCCN Melanoma"), "its year"),
        (lambda r: r.update(markers=[]), "'markers'"),
        (lambda r: r["markers"][0].update(strength="must"), "strength 'must'"),
        (lambda r: r["markers"][0].update(any_of="BRAF"), "'any_of'"),
        (lambda r: r.update(cancer_types=["melanoma"]), "not an OncoTree code"),
        (lambda r: r.update(stages=["late"]), "not a stage group"),
        (lambda r: r.pop("label"), "'label'"),
        (lambda r: r.update(stage=["IV"]), "unknown key(s) 'stage'"),
        (lambda r: r["markers"][0].update(germ_line=True), "unknown key(s) 'germ_line'"),
        (lambda r: r["markers"][0].update(germline="yes"), "'germline' must be true or false"),
        (lambda r: r.update(max_age="65"), "'max_age'"),
        (lambda r: r.update(sexes=["women"]), "'sexes'"),
    ],
)
def test_build_testing_rules_rejects_bad_entries_naming_them(change, words):
    with pytest.raises(DataFileError) as error:
        knowledge.build_testing_rules(_rule(change))
    message = str(error.value)
    assert message.startswith("testing_gaps.json: rule 'melanoma-advanced'")
    assert words in message


def test_build_testing_rules_reads_markers():
    [rule] = knowledge.build_testing_rules(copy.deepcopy(RULES))
    braf, msi = rule.markers
    assert braf.any_of == ("BRAF",) and braf.strength == "recommended"
    assert msi.any_of == ("MSI", "MMR") and msi.strength == "consider"
    assert rule.max_age is None and rule.sexes == () and not braf.germline
    data = copy.deepcopy(RULES)
    data["rules"][0].update(max_age=65, sexes=["male"])
    data["rules"][0]["markers"][0]["germline"] = True
    [limited] = knowledge.build_testing_rules(data)
    assert limited.max_age == 65 and limited.sexes == ("male",) and limited.markers[0].germline


def test_every_testing_rule_has_a_dated_source_and_germline_markers_say_so():
    for rule in knowledge.get_testing_rules():
        assert knowledge._YEAR.search(rule.source), rule.id
        for marker in rule.markers:
            assert marker.germline == marker.name.lower().startswith("germline"), marker.name


class _BrokenResource:
    """Stands in for importlib.resources.files() of a package whose data file is broken."""

    def __init__(self, text):
        self.text = text

    def joinpath(self, *parts):
        return self

    def read_text(self, encoding="utf-8"):
        if self.text is None:
            raise FileNotFoundError("gone")
        return self.text


@pytest.mark.parametrize(
    ("loader", "text", "words"),
    [
        (knowledge.get_protocols, "{not json", "protocols.json: cannot be read"),
        (knowledge.get_protocols, None, "protocols.json: cannot be read"),
        (knowledge.get_testing_rules, "[]", "testing_gaps.json: top level"),
        (drugs.get_lexicon, "{", "drugs.json: cannot be read"),
        # Every knowledge file is read by trialmatch.datafiles, with the same one line.
        (conditions.load_conditions, "{", "population_conditions.json: cannot be read"),
        (context.load_cues, None, "cues.json: cannot be read"),
        (sections.load_section_rules, "[", "sections.json: cannot be read"),
        (restage.distant_stage_rules, None, "distant_stage.json: cannot be read"),
    ],
)
def test_unreadable_packaged_files_raise_data_file_errors(monkeypatch, loader, text, words):
    loader.cache_clear()
    monkeypatch.setattr("importlib.resources.files", lambda package: _BrokenResource(text))
    try:
        with pytest.raises(DataFileError) as error:
            loader()
        assert words in str(error.value)
    finally:
        monkeypatch.undo()
        loader.cache_clear()
