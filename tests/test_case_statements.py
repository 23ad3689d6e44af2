"""What a case file states about the disease (issue 13, "The case file can state and
correct"): each field read, each validation error, and a stated value winning over the notes
in matching, protocols, testing gaps, discrepancies and the output."""

import json
from pathlib import Path

import pytest
from fixture_store import build_fixture_store
from typer.testing import CliRunner

from trialmatch.cli import app
from trialmatch.errors import InputError
from trialmatch.ingest.store import TrialStore
from trialmatch.match.case import load_case
from trialmatch.match.engine import case_patient, match_case
from trialmatch.match.report import render_html, render_markdown
from trialmatch.models import Biomarker, CancerType, Profile, Stage
from trialmatch.nlp.criteria import annotate_trial
from trialmatch.nlp.vocab import get_vocabulary

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
STATED = "(stated in the case file)"
runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("stated") / "trials.db"
    build_fixture_store(path)
    with TrialStore.open(path, readonly=True) as readonly:
        yield readonly


def case_from(tmp_path, fields: str, note: str = "Clinic note.", name: str = "case.yaml"):
    path = tmp_path / name
    path.write_text(f"id: s1\nnotes:\n  - text: {json.dumps(note)}\n{fields}")
    return load_case(path)


# --------------------------------------------------------------------------- each field read


@pytest.mark.parametrize(("fields", "code", "name"), [
    ("diagnosis: LUAD\n", "LUAD", "Lung Adenocarcinoma"),
    ("diagnosis: luad\n", "LUAD", "Lung Adenocarcinoma"),
    ("diagnosis: lung adenocarcinoma\n", "LUAD", "Lung Adenocarcinoma"),
    ("diagnosis: invasive ductal carcinoma of the breast\n", "IDC",
     "Breast Invasive Ductal Carcinoma"),
])
def test_diagnosis_is_a_code_or_a_name(tmp_path, fields, code, name):
    diagnosis = case_from(tmp_path, fields).stated.diagnosis
    assert (diagnosis.code, diagnosis.name) == (code, name)
    assert diagnosis.evidence.startswith("stated in the case file")


@pytest.mark.parametrize(("written", "expected"), [
    ("IIIB", {"group": "IIIB"}),
    ("IV", {"group": "IV"}),
    ("stage IIB", {"group": "IIB"}),
    ("FIGO IIIC1", {"figo": "IIIC1", "group": "IIIC1"}),
    ("pT2 N1 M0", {"prefix": "p", "t": "T2", "n": "N1", "m": "M0"}),
    ("cT3 N2 M1b", {"prefix": "c", "t": "T3", "n": "N2", "m": "M1b", "group": "IV"}),
    ("IIB pT2 N1", {"prefix": "p", "t": "T2", "n": "N1", "group": "IIB"}),
    ("4", {"group": "IV"}),
])
def test_stage_is_a_group_or_tnm(tmp_path, written, expected):
    stage = case_from(tmp_path, f"stage: {written}\n").stated.stage
    assert {k: v for k, v in expected.items()} == {k: getattr(stage, k) for k in expected}
    assert stage.evidence == f"stated in the case file: stage {written}"


@pytest.mark.parametrize(("written", "expected"), [
    ("metastatic", ("metastatic",)),
    ("[relapsed, refractory]", ("recurrent", "refractory")),
    ("[Newly diagnosed]", ("newly_diagnosed",)),
    ("[locally-advanced]", ("locally_advanced",)),
    ("[NED, in remission]", ("resected", "in_remission")),
])
def test_disease_status_words(tmp_path, written, expected):
    assert case_from(tmp_path, f"disease_status: {written}\n").stated.disease_status == \
        expected


@pytest.mark.parametrize(("written", "state", "truth"), [
    ('"yes"', "yes", True), ('"no"', "no", False), ("no", "no", False),
    ("treated", "treated", True), ("untreated", "untreated", True),
    ("leptomeningeal", "leptomeningeal", True),
])
def test_brain_metastases_states(tmp_path, written, state, truth):
    case = case_from(tmp_path, f"brain_metastases: {written}\n")
    assert case.stated.brain_metastases == state and case.brain_metastases is truth


def test_metastatic_sites_menopausal_and_labs(tmp_path):
    case = case_from(tmp_path, "metastatic_sites: [Liver, bone]\nmenopausal: postmenopausal\n"
                               "labs: {platelets: \"85 x10^9/L\", creatinine: \"97 umol/L\","
                               " ANC: 1.2 x10^9/L}\n")
    assert case.stated.metastatic_sites == ("liver", "bone")
    assert case.stated.menopausal == "post"
    # Read as a note's labs are: 97 µmol/L of creatinine is 1.1 mg/dL.
    assert {name: value[:2] for name, value in case.labs.items()} == {
        "platelets": (85.0, "10^9/L"), "creatinine": (1.1, "mg/dL"), "ANC": (1.2, "10^9/L")}
    assert case.metastatic is True  # a site of spread is distant spread


def test_biomarkers_short_and_long_forms(tmp_path):
    case = case_from(tmp_path, """\
biomarkers:
  - EGFR exon 19 deletion positive
  - PD-L1 TPS 60%
  - {marker: ERBB2, status: negative, value: 1, unit: IHC, date: 2025-03-01}
  - {marker: kras, alteration: G12C, status: detected}
  - {marker: ALK, status: not detected, date: 2025-03}
  - ER/PR positive
""")
    found = [(s.biomarker.marker, s.biomarker.alteration, s.biomarker.status,
              s.biomarker.value, s.biomarker.unit, s.date) for s in case.stated.biomarkers]
    assert found == [
        ("EGFR", "exon 19 deletion", "positive", None, None, None),
        ("PD-L1", None, "positive", 60.0, "TPS", None),
        ("HER2", None, "negative", 1.0, "IHC", "2025-03-01"),
        ("KRAS", "G12C", "positive", None, None, None),
        ("ALK", None, "negative", None, None, "2025-03"),
        ("ER", None, "positive", None, None, None),
        ("PR", None, "positive", None, None, None),
    ]
    assert all(s.biomarker.evidence.startswith("stated in the case file")
               for s in case.stated.biomarkers)


def test_treatments_feed_prior_therapies_with_their_setting(tmp_path):
    case = case_from(tmp_path, """\
treatments:
  - {drugs: [carboplatin, paclitaxel], setting: adjuvant, start: 2019-01, end: 2019-04}
  - {regimen: FOLFOX, setting: metastatic, response: PD}
  - {drugs: osimertinib, setting: metastatic, start: 2024-02-01, response: partial response}
prior_therapies: [radiotherapy]
""", note="She received pembrolizumab in 2023.")
    assert case.prior_therapies == ["radiotherapy",
                                    "carboplatin + paclitaxel (adjuvant)",
                                    "FOLFOX (metastatic)",
                                    "osimertinib (metastatic)"]
    # The case file's history is the whole history: the note's pembrolizumab is not added.
    assert "prior_therapies" not in case.from_notes
    treatments = case.stated.treatments
    assert [(t.setting, t.start, t.end, t.response) for t in treatments] == [
        ("adjuvant", "2019-01", "2019-04", None), ("metastatic", None, None, "progression"),
        ("metastatic", "2024-02-01", None, "partial_response")]
    patient = case_patient(case, Profile(), ontology=get_vocabulary())
    settings = {r.text: r.setting for r in patient.prior_regimens}
    assert settings["carboplatin + paclitaxel (adjuvant)"] == "adjuvant"
    assert settings["FOLFOX (metastatic)"] == "advanced"
    assert settings["osimertinib (metastatic)"] == "advanced"
    assert patient.prior_complete


def test_induction_and_consolidation_are_left_to_the_evaluator(tmp_path):
    # In leukaemia they are the first line; in a solid tumour a curative-intent course.
    case = case_from(tmp_path, "treatments:\n  - {drugs: [cytarabine, daunorubicin], "
                               "setting: induction}\n  - {drugs: [cytarabine], "
                               "setting: consolidation}\n")
    patient = case_patient(case, Profile(), ontology=get_vocabulary())
    assert [r.setting for r in patient.prior_regimens] == [None, None]


def test_a_stated_setting_wins_over_words_of_the_regimen(tmp_path):
    case = case_from(tmp_path, "treatments:\n  - {regimen: adjuvant-style FOLFOX, "
                               "setting: metastatic}\n")
    patient = case_patient(case, Profile(), ontology=get_vocabulary())
    assert [r.setting for r in patient.prior_regimens] == ["advanced"]


def test_empty_treatments_say_none(tmp_path):
    case = case_from(tmp_path, "treatments: []\n", note="Treated with FOLFOX in 2022.")
    assert case.prior_therapies == [] and case.stated.treatments == []


def test_a_json_case_states_the_same(tmp_path):
    path = tmp_path / "case.json"
    path.write_text(json.dumps({
        "id": "j", "notes": [{"text": "Clinic note."}], "diagnosis": "NSCLC", "stage": "IIIB",
        "disease_status": ["locally_advanced"], "brain_metastases": "no",
        "biomarkers": [{"marker": "EGFR", "status": "negative"}],
        "treatments": [{"drugs": ["cisplatin", "etoposide"], "setting": "definitive"}],
        "menopausal": "pre", "labs": {"hemoglobin": "10.5 g/dL"}}))
    stated = load_case(path).stated.to_dict()
    assert stated["diagnosis"]["code"] == "NSCLC" and stated["stage"] == {"group": "IIIB"}
    assert stated["disease_status"] == ["locally_advanced"]
    assert stated["biomarkers"][0]["status"] == "negative"
    assert stated["treatments"][0]["setting"] == "definitive"
    patient = case_patient(load_case(path), NOTES_IIB, ontology=get_vocabulary())
    assert [r.setting for r in patient.prior_regimens] == ["adjuvant"]  # curative intent
    assert stated["labs"] == {"hemoglobin": {"value": 10.5, "unit": "g/dL"}}
    assert (stated["menopausal"], stated["brain_metastases"]) == ("pre", "no")


# --------------------------------------------------------------------------- validation


SECRET = "XYZZY"
BAD_FIELDS = [
    (f"diagnosis: {SECRET} carcinoma\n", "field 'diagnosis' is not an OncoTree code"),
    ("diagnosis: [LUAD]\n", "field 'diagnosis' must be text"),
    ("diagnosis: acute leukemia\n", "field 'diagnosis' names 4 cancer types (write the "
                                     "OncoTree code"),
    (f"stage: {SECRET}\n", "field 'stage' is not a stage group or TNM stage"),
    ("stage: V\n", "field 'stage' is not a stage group or TNM stage"),
    (f"disease_status: [metastatic, {SECRET}]\n", "field 'disease_status' must be one or a "
                                                  "list of metastatic, locally_advanced"),
    ("disease_status: []\n", "field 'disease_status' must be one"),
    (f"metastatic_sites: [liver, {{a: {SECRET}}}]\n", "field 'metastatic_sites' must be a "
                                                       "list of words"),
    (f"brain_metastases: {SECRET}\n", "field 'brain_metastases' must be one of yes, no, "
                                      "treated, untreated, leptomeningeal"),
    (f"menopausal: {SECRET}\n", "field 'menopausal' must be one of pre"),
    (f"biomarkers: {SECRET}\n", "field 'biomarkers' must be a list"),
    (f"biomarkers: [EGFR positive, {SECRET} done]\n",
     "biomarkers entry 2 states no biomarker result"),
    ("biomarkers: [{marker: EGFR}]\n", "biomarkers entry 1 needs 'marker' and 'status'"),
    (f"biomarkers: [{{marker: {SECRET}, status: positive}}]\n",
     "biomarkers entry 1.marker is not a biomarker trialmatch knows"),
    (f"biomarkers: [{{marker: EGFR, status: {SECRET}}}]\n",
     "biomarkers entry 1.status must be one of positive"),
    ("biomarkers: [{marker: PD-L1, status: positive, value: high}]\n",
     "biomarkers entry 1.value must be a number"),
    ("biomarkers: [{marker: PD-L1, status: positive, value: 5, unit: mg}]\n",
     "biomarkers entry 1.unit must be one of TPS, CPS"),
    (f"biomarkers: [{{marker: EGFR, status: negative, date: {SECRET}}}]\n",
     "field 'biomarkers entry 1.date' must be a date"),
    ("biomarkers: [{markr: EGFR, status: negative, result: x}]\n",
     "2 unknown fields in biomarkers entry 1: 'markr' (did you mean 'marker'?), 'result' "
     "(no field is close)"),
    ("treatments: {drugs: [x]}\n", "field 'treatments' must be a list"),
    (f"treatments: [{SECRET}]\n", "treatments entry 1 must be a mapping"),
    ("treatments: [{setting: adjuvant}]\n", "treatments entry 1 needs 'drugs' or 'regimen'"),
    ("treatments: [{drugs: []}]\n", "treatments entry 1.drugs must be a list of drug names"),
    (f"treatments: [{{drugs: [x], setting: {SECRET}}}]\n",
     "field 'treatments entry 1.setting' must be one of adjuvant, neoadjuvant"),
    (f"treatments: [{{drugs: [x], response: {SECRET}}}]\n",
     "field 'treatments entry 1.response' must be one of"),
    (f"treatments: [{{drugs: [x], start: {SECRET}}}]\n",
     "field 'treatments entry 1.start' must be a date"),
    ("treatments: [{drug: [x], setting: adjuvant}]\n",
     "1 unknown field in treatments entry 1: 'drug' (did you mean 'drugs'?)"),
    (f"labs: [{SECRET}]\n", "field 'labs' must be a mapping"),
    (f"labs: {{platelets: {SECRET}}}\n", "field 'labs.platelets' is not a lab value"),
    (f"labs: {{{SECRET}: 5 mg/dL}}\n", "field 'labs entry 1' is not a lab value"),
    ("labs: {platelets: [85]}\n", "field 'labs.platelets' must be a value with its unit"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_FIELDS)
def test_each_bad_field_is_one_line_naming_it_and_not_its_value(tmp_path, fields, message):
    with pytest.raises(InputError) as caught:
        case_from(tmp_path, fields)
    text = str(caught.value)
    assert message in text
    assert text.startswith(str(tmp_path / "case.yaml"))
    assert "\n" not in text and SECRET not in text


def test_every_unknown_field_is_named_in_one_line(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text("id: u\ndiagnoses: LUAD\nnotes:\n  - text: x\nbiomarker: [EGFR negative]\n"
                    f"shoe_size: 9\nFinal diagnosis {SECRET} adenocarcinoma: 1\n"
                    "Stage: IV\ntreatment: []\n")
    result = runner.invoke(app, ["match", str(path), "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert (f"{path}: 6 unknown fields in the case: 'diagnoses' (did you mean 'diagnosis'?), "
            "'biomarker' (did you mean 'biomarkers'?), 'shoe_size' (no field is close), "
            "key 7 (not shown: it may be note text; did you mean 'stage'?), 'treatment' "
            "(did you mean 'treatments'?), key 6 (not shown: it may be note text; no field is "
            "close)") in lines[0]
    assert SECRET not in result.stderr


def test_pasted_note_lines_are_named_together_by_position(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text("id: p\nnotes:\n  - text: x\n" + "".join(
        f"Line {n} of the note {SECRET}: {n}\n" for n in range(3)))
    with pytest.raises(InputError) as caught:
        load_case(path)
    assert "3 unknown fields in the case: keys 3, 4, 5 (not shown: they may be note text; " \
           "no field is close)" in str(caught.value)
    assert SECRET not in str(caught.value)


# --------------------------------------------------------------------------- precedence

NOTES_IIB = Profile(
    cancer_type=CancerType("LUAD", "Lung Adenocarcinoma", "adenocarcinoma of the lung", 0, 26),
    histology="adenocarcinoma", primary_site="lung",
    stage=Stage(prefix="p", t="T3", n="N0", m=None, group="IIB", evidence="pT3 N0, stage IIB"),
    biomarkers=[Biomarker("EGFR", "exon 19 deletion", "positive",
                          evidence="EGFR exon 19 deletion detected"),
                Biomarker("ALK", "fusion", "negative", evidence="ALK not detected")])


def notes_profile(notes):
    return NOTES_IIB


def test_a_stated_stage_iv_beats_the_notes_stage_iib(store, tmp_path):
    case = case_from(tmp_path, "stage: IV\ndisease_status: metastatic\n")
    document = match_case(case, store, extractor=notes_profile).to_dict()
    profile = document["profile"]
    assert profile["stage"]["group"] == "IV"
    assert profile["stage"]["evidence"] == "stated in the case file: stage IV"
    assert profile["from_case"]["stage"] == {"group": "IV"}
    # Matching reads it: the stage II-III adjuvant trial is not offered, the stage IV one is.
    listed = {t["nct_id"] for t in document["trials"]}
    assert "NCT99000001" in listed  # EGFR first line, advanced disease
    unstated = match_case(case_from(tmp_path, "", name="plain.yaml"), store,
                          extractor=notes_profile).to_dict()
    assert unstated["profile"]["stage"]["group"] == "IIB"
    assert "NCT99000001" not in {t["nct_id"] for t in unstated["trials"]}


def test_a_stated_metastatic_status_restages_the_notes_stage(store, tmp_path):
    case = case_from(tmp_path, "disease_status: [metastatic, recurrent]\n"
                               "metastatic_sites: [bone]\n")
    result = match_case(case, store, extractor=notes_profile)
    assert result.profile.stage.group == "IV"
    assert result.profile.stage_at_diagnosis.group == "IIB"  # kept as history
    assert "stated in the case file" in result.profile.stage.evidence
    patient = case_patient(case, result.profile, ontology=get_vocabulary())
    assert patient.extent["metastatic"] and patient.extent["recurrent"]
    assert patient.conditions["bone metastases"][0] is True


def test_a_stated_stage_below_iv_sets_aside_the_notes_spread(store, tmp_path):
    case = case_from(tmp_path, "stage: IIB\n", note="CT: multiple liver metastases.")
    assert case.metastatic is None and "metastatic" not in case.from_notes
    result = match_case(case, store, extractor=notes_profile)
    assert result.profile.stage.group == "IIB" and result.profile.stage_at_diagnosis is None
    assert not case_patient(case, result.profile, ontology=get_vocabulary()).extent[
        "metastatic"]


def test_a_stated_egfr_negative_beats_a_notes_positive(store, tmp_path):
    case = case_from(tmp_path, "stage: IV\nbiomarkers: [EGFR negative]\n")
    result = match_case(case, store, extractor=notes_profile)
    document = result.to_dict()
    egfr = [b for b in document["profile"]["biomarkers"] if b["marker"] == "EGFR"]
    assert [(b["status"], b["evidence"]) for b in egfr] == [
        ("negative", "stated in the case file: EGFR negative")]
    assert any(b["marker"] == "ALK" for b in document["profile"]["biomarkers"])  # kept
    assert document["profile"]["from_case"]["biomarkers"] == [
        {"marker": "EGFR", "alteration": None, "status": "negative", "value": None,
         "unit": None, "date": None}]
    # Matching, protocols and the report read the stated result.
    assert "NCT99000001" not in {t["nct_id"] for t in document["trials"]}
    assert "NCT99000001" in {e["nct_id"] for e in document["excluded"]}
    assert "osimertinib" not in {p["therapy"] for p in document["protocols"]}
    markdown = render_markdown(result)
    assert f"EGFR negative {STATED}" in markdown
    assert f"stage IV {STATED}" in markdown
    assert f"EGFR negative {STATED}" in render_html(result)


def test_stated_biomarkers_close_testing_gaps_and_show_in_discrepancies(store, tmp_path):
    case = case_from(tmp_path, "stage: IV\nbiomarkers: [ROS1 negative, KRAS G12C positive]\n"
                               "first_opinion: {stage: IV, biomarkers: [EGFR exon 19 "
                               "deletion]}\n")
    document = match_case(case, store, extractor=notes_profile).to_dict()
    assert "ROS1" not in {g["marker"] for g in document["testing_gaps"]}
    kras = [d for d in document["discrepancies"] if d["field"] == "biomarker:KRAS"]
    assert kras and kras[0]["evidence"].startswith("stated in the case file")


def test_a_stated_diagnosis_replaces_the_extracted_cancer_type(store, tmp_path):
    case = case_from(tmp_path, "diagnosis: colorectal adenocarcinoma\nstage: IV\n")
    result = match_case(case, store, extractor=notes_profile)
    assert result.profile.cancer_type.code == "COADREAD"
    assert result.profile.histology is None  # the notes' lung histology is not carried over
    assert all("LUAD" not in t.trial.oncotree_codes for t in result.trials)
    assert {t.trial.nct_id for t in result.trials} & {"NCT99000019", "NCT99000023"}


def test_stated_relapse_and_newly_diagnosed_win_over_the_notes_words(tmp_path):
    ontology = get_vocabulary()
    relapsed = case_from(tmp_path, "disease_status: refractory\n", note="Newly diagnosed AML.")
    patient = case_patient(relapsed, NOTES_IIB, ontology=ontology)
    assert patient.relapse_noted.startswith("stated in the case file")
    assert not patient.newly_diagnosed and patient.extent["recurrent"] is True
    new = case_from(tmp_path, "disease_status: newly_diagnosed\n",
                    note="First relapse of AML.", name="new.yaml")
    patient = case_patient(new, NOTES_IIB, ontology=ontology)
    assert patient.relapse_noted is None and patient.newly_diagnosed
    assert patient.extent["recurrent"] is False


def test_stated_brain_metastases_and_labs_win_over_the_notes(tmp_path):
    case = case_from(tmp_path, "brain_metastases: \"no\"\nlabs: {platelets: \"150 x10^9/L\"}\n",
                     note="MRI brain: two supratentorial brain metastases. Platelets 85 x10^9/L.")
    assert case.brain_metastases is False and "brain_metastases" not in case.from_notes
    assert case.labs["platelets"][:2] == (150.0, "10^9/L")
    patient = case_patient(case, NOTES_IIB, ontology=get_vocabulary())
    assert patient.brain_metastases is False
    assert patient.conditions["brain metastases"][0] is False


def test_the_example_case_shows_what_the_case_file_stated(store):
    path = FIXTURES / "cases" / "case-breast-stated-recurrence.yaml"
    document = match_case(load_case(path), store).to_dict()
    stated = document["profile"]["from_case"]
    assert set(stated) == {"diagnosis", "stage", "disease_status", "metastatic_sites",
                           "brain_metastases", "biomarkers", "treatments", "menopausal",
                           "labs"}
    assert document["profile"]["stage"]["group"] == "IV"
    assert any(d["field"] == "stage" and d["found"] == "IV" for d in document["discrepancies"])


def test_the_terminal_says_which_values_the_case_file_stated(tmp_path):
    db = tmp_path / "trials.db"
    studies = [json.loads(p.read_text()) for p in sorted((FIXTURES / "trials").glob("*.json"))
               if p.stem in ("NCT99000014", "NCT99000054")]
    with TrialStore.open(db) as writable:
        writable.upsert_studies(studies, annotate_trial)
    path = FIXTURES / "cases" / "case-breast-stated-recurrence.yaml"
    result = runner.invoke(app, ["match", str(path), "--db", str(db)], terminal_width=200)
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert f"stage IV {STATED}" in out
    assert f"ESR1 Y537S positive {STATED}" in out
    assert f"metastatic, recurrent {STATED}" in out
    assert "the case file states" in out  # the stage discrepancy


def test_a_stated_locally_advanced_status_rules_out_the_notes_spread(tmp_path):
    case = case_from(tmp_path, "disease_status: locally_advanced\n",
                     note="CT: two liver metastases.")
    assert case.metastatic is False and "metastatic" not in case.from_notes
    patient = case_patient(case, NOTES_IIB, ontology=get_vocabulary())
    assert patient.extent["metastatic"] is False
    assert patient.conditions["liver metastases"] == (
        False, "stated in the case file: locally_advanced")


def test_a_case_with_yaml_dates_can_be_watched(tmp_path):
    # YAML reads 2025-11-03 as a date; the watch list keeps the case as JSON.
    db = tmp_path / "trials.db"
    path = tmp_path / "case.yaml"
    path.write_text("id: dated\nnotes:\n  - text: Clinic note.\nbiomarkers:\n"
                    "  - {marker: EGFR, status: negative, date: 2025-11-03}\n"
                    "treatments:\n  - {drugs: [osimertinib], setting: metastatic, "
                    "start: 2024-02-01}\n")
    result = runner.invoke(app, ["watch", "add", str(path), "--db", str(db)])
    assert result.exit_code == 0, result.stderr
    case = load_case(path)
    assert case.stated.biomarkers[0].date == "2025-11-03"
    assert case.stated.treatments[0].start == "2024-02-01"
