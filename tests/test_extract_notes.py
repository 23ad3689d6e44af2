"""The extractor against hand-written notes with gold profiles (fixtures/notes/*.gold.json).

A gold file holds the fields it asserts, in the `extract --json` shape:
- `cancer_type`: null (nothing asserted) or {"code": ...};
- `grade`, `grade_detail`, `histology`, `primary_site`: compared as written;
- `stage`: null, or the stage fields to compare (absent keys are not checked);
- `biomarkers`: each listed result must be present with the listed keys; an empty list
  means the note must give no biomarker at all.
"""

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialmatch.errors import InputError
from trialmatch.nlp.extract import NOTE_SEPARATOR, extract
from trialmatch.nlp.notes import MAX_NOTE_BYTES, read_note, repair_ocr

NOTES = Path(__file__).resolve().parent.parent / "fixtures" / "notes"
NOTE_FILES = sorted(NOTES.glob("*.txt"))


def _gold(note: Path) -> dict:
    return json.loads(note.with_name(note.stem + ".gold.json").read_text(encoding="utf-8"))


def test_there_are_enough_fixture_notes():
    assert len(NOTE_FILES) >= 40
    assert all(note.with_name(note.stem + ".gold.json").exists() for note in NOTE_FILES)


@pytest.mark.parametrize("note", NOTE_FILES, ids=[note.stem for note in NOTE_FILES])
def test_note_matches_gold(note):
    gold = _gold(note)
    text = read_note(note)
    profile = extract([text]).to_dict()
    for field, expected in gold.items():
        got = profile[field]
        if field == "cancer_type":
            if expected is None:
                assert got is None, f"{note.stem}: no cancer expected, got {got}"
            else:
                assert got is not None, f"{note.stem}: cancer type missing"
                assert got["code"] == expected["code"], note.stem
                # Evidence is the note's own words at the stated offsets.
                assert text[got["start"] : got["end"]] == got["evidence"]
        elif field == "stage":
            if expected is None:
                assert got is None, f"{note.stem}: no stage expected, got {got}"
                continue
            assert got is not None, f"{note.stem}: stage missing"
            for key, value in expected.items():
                assert got[key] == value, f"{note.stem}: stage.{key}"
        elif field == "biomarkers":
            if expected == []:
                assert got == [], f"{note.stem}: unexpected biomarkers {got}"
            for wanted in expected:
                matches = [b for b in got if all(b.get(k) == v for k, v in wanted.items())]
                assert matches, f"{note.stem}: missing {wanted} in {got}"
                for biomarker in matches:
                    assert text[biomarker["start"] : biomarker["end"]].strip() == \
                        biomarker["evidence"]
        else:
            assert got == expected, f"{note.stem}: {field}"


def test_several_notes_merge_with_offsets_in_the_joined_text():
    first = "FINAL DIAGNOSIS: Lung, right upper lobe, biopsy: adenocarcinoma."
    second = "Addendum: EGFR exon 19 deletion detected by NGS."
    profile = extract([first, second])
    assert profile.cancer_type is not None and profile.cancer_type.code == "LUAD"
    [egfr] = [b for b in profile.biomarkers if b.marker == "EGFR"]
    joined = NOTE_SEPARATOR.join([first, second])
    assert joined[egfr.start : egfr.end].strip() == egfr.evidence
    assert egfr.start > len(first)


def test_clinical_history_does_not_override_the_diagnosis():
    text = ("CLINICAL HISTORY: History of breast cancer. Rule out recurrence.\n"
            "FINAL DIAGNOSIS: Lung, left lower lobe, biopsy: squamous cell carcinoma.")
    profile = extract([text])
    assert profile.cancer_type is not None and profile.cancer_type.code == "LUSC"


@pytest.mark.parametrize(
    "text",
    [
        "FINAL DIAGNOSIS: Colon, biopsy: tubular adenoma. No malignancy identified.",
        "Diagnosis: Lymph node, excision: negative for carcinoma (0/3).",
        "DIAGNOSIS: Skin, shave: benign seborrheic keratosis.",
        "Clinical history: rule out lung cancer.\nDiagnosis: Lung, biopsy: organizing pneumonia.",
        # a relative's cancer is not the patient's
        "CLINICAL: Surveillance colonoscopy. Father with colon cancer at age 62.\n"
        "DIAGNOSIS: A. Cecum, polypectomy: tubular adenoma.",
        "Breast cancer in her mother. Diagnosis: Breast, core biopsy: fibroadenoma.",
        "FAMILY HISTORY: ovarian cancer (maternal aunt).\nDIAGNOSIS: benign ovarian cyst.",
    ],
)
def test_benign_reports_assert_no_cancer(text):
    assert extract([text]).cancer_type is None


def test_metastasis_names_its_primary_not_the_organ_biopsied():
    text = ("FINAL DIAGNOSIS: Liver, biopsy: metastatic adenocarcinoma consistent with "
            "colorectal primary.")
    profile = extract([text])
    assert profile.cancer_type is not None
    assert profile.cancer_type.code in ("COADREAD", "COAD", "READ")
    assert profile.stage is not None and profile.stage.group == "IV"
    assert "group" in profile.stage.derived


def test_a_metastasis_the_pathologist_traces_to_an_earlier_primary():
    # A lung biopsy whose diagnosis line names no site, and whose comment favours a
    # metastasis of the earlier head and neck cancer over a new lung primary.
    text = ("SURGICAL PATHOLOGY\nSite: Lung, right lower lobe, CT-guided core needle biopsy\n"
            "DIAGNOSIS: SQUAMOUS CELL CARCINOMA, keratinizing.\n"
            "Comment: In this clinical context findings favor metastatic head and neck SCC "
            "over a new lung primary; p40 positive, TTF-1 negative.\n")
    profile = extract([text])
    assert profile.cancer_type is not None and profile.cancer_type.code != "LUSC"
    assert profile.cancer_type.code in ("HNSC", "OCSC", "HEAD_NECK")


def test_huge_note_is_read_in_parts_with_offsets_kept():
    filler = "Benign fibroadipose tissue without atypia.\n" * 6000  # ~260k characters
    text = filler + "FINAL DIAGNOSIS: Breast, left, excision: invasive lobular carcinoma.\n"
    profile = extract([text])
    assert profile.cancer_type is not None and profile.cancer_type.code == "ILC"
    assert text[profile.cancer_type.start : profile.cancer_type.end] == \
        profile.cancer_type.evidence


def test_missing_model_is_a_clear_input_error():
    with pytest.raises(InputError, match="not installed"):
        extract(["adenocarcinoma"], model="no_such_scispacy_model_xyz")


def test_installed_model_adds_entities():
    pytest.importorskip("en_core_sci_sm")
    profile = extract(["FINAL DIAGNOSIS: Lung, biopsy: adenocarcinoma."], model="en_core_sci_sm")
    assert profile.cancer_type is not None and profile.cancer_type.code == "LUAD"


# ----------------------------------------------------------------------------- read_note


def test_read_note_reads_utf8(tmp_path):
    note = tmp_path / "n.txt"
    note.write_text("Diagnóstico: carcinoma", encoding="utf-8")
    assert read_note(note) == "Diagnóstico: carcinoma"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"   \n\t  \n", "empty"),
        (b"%PDF-1.4\x00\x01\x02", "binary"),
        ("caf\u00e9 carcinoma".encode("latin-1"), "UTF-8"),
    ],
)
def test_read_note_refuses_bad_files(tmp_path, content, message):
    note = tmp_path / "bad.txt"
    note.write_bytes(content)
    with pytest.raises(InputError, match=message) as error:
        read_note(note)
    assert "bad.txt" in str(error.value)
    assert "carcinoma" not in str(error.value)  # never quote the note


def test_read_note_refuses_missing_and_huge_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_note(tmp_path / "absent.txt")
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as handle:
        handle.truncate(MAX_NOTE_BYTES + 1)
    with pytest.raises(InputError, match="larger than"):
        read_note(huge)


def test_repair_ocr_keeps_length_and_fixes_capitals():
    damaged = "INVASlVE DUCTAL CARClNOMA. ESTR0GEN RECEPT0R. lnvasive. pT1 pN0"
    repaired = repair_ocr(damaged)
    assert len(repaired) == len(damaged)
    assert repaired == "INVASIVE DUCTAL CARCINOMA. ESTROGEN RECEPTOR. Invasive. pT1 pN0"


# ----------------------------------------------------------------------------- cancer rules


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # site + histology, the most specific code the words support
        ("FINAL DIAGNOSIS: Lung, right upper lobe, lobectomy: adenocarcinoma.", "LUAD"),
        ("DIAGNOSIS: Breast, left: invasive ductal carcinoma.", "IDC"),
        # subtype words after the name, and a type field elsewhere in the note
        ("DIAGNOSIS: Kidney, left: Renal cell carcinoma, clear cell type.", "CCRCC"),
        ("DIAGNOSIS: Kidney, nephrectomy: Renal cell carcinoma.\n"
         "Histologic type: chromophobe", "CHRCC"),
        ("Histologic type: Invasive lobular (E-cadherin negative)\nSite: breast", "ILC"),
        # a margin or an invaded organ is not where the tumour arose
        ("DIAGNOSIS: Cervix, radical hysterectomy: squamous cell carcinoma. Vaginal margin: "
         "involved by squamous cell carcinoma.", "CESC"),
        ("Tumor site: left upper lobe\nHistologic type: adenocarcinoma\n"
         "Carcinoma invades the visceral pleura.", "LUAD"),
        # a consult letter's opinion, not the meeting or the specialty named after it
        ("Department of Histopathology - Regional Sarcoma Service\nDear Colleague,\n"
         "No lipogenic component, so dedifferentiated liposarcoma is not favoured.\n\n"
         "OPINION:\nRetroperitoneum, resection: LEIOMYOSARCOMA, FNCLCC grade 2.\n"
         "I would be happy to discuss the case at the sarcoma MDT.\n\nYours sincerely,\n\n"
         "Consultant Histopathologist (Sarcoma)", "LMS"),
        # the hepatic ducts are bile ducts, not liver
        ("Tumor Site: Confluence of right and left hepatic ducts; right hepatic duct\n"
         "Histologic Type: Adenocarcinoma (biliary type)", "PHCH"),
        # terms split by OCR line merging
        ("DIAGNOSIS: Liver, lobectomy - HEPATOCELLULAR. CARCINOMA, moderately "
         "differentiated.", "HCC"),
        # a named type made specific by the organ it was found in
        ("DIAGNOSIS: Skin, back, excision: malignant melanoma, Breslow 1.2 mm.", "SKCM"),
        ("DIAGNOSIS: Right eye, enucleation: malignant choroidal melanoma.", "UM"),
        # the rejected alternative of a comparison is no diagnosis
        ("DIAGNOSIS: Ovary, left: endometrioid carcinoma. COMMENT: The endometrium is "
         "benign, so this is a primary ovarian endometrioid carcinoma rather than spread "
         "from a uterine endometrioid carcinoma.", "EOV"),
        # a metastasis whose primary the report cannot name
        ("DIAGNOSIS: Bone, T10 vertebral body, core biopsy: METASTATIC ADENOCARCINOMA.\n"
         "Primary site not determined - see comment. Plasma cell myeloma and lymphoma are "
         "excluded.", "ADNOS"),
        # the primary a metastasis comes from, however long known
        ("Clinical notes: Hx right choroidal melanoma, plaque 2021.\nCONCLUSION:\nLiver, core "
         "biopsy: METASTATIC MELANOMA.\nBAP1 loss and the GNAQ mutation are in keeping with "
         "metastasis from the known right choroidal (uveal) melanoma.", "UM"),
        # items of a list negated together, and a post cue without its verb
        ("Opinion: Right femur, core biopsy: EWING SARCOMA. CD45 negative (lymphoma and "
         "lymphoblastic lymphoma excluded); desmin negative (rhabdomyosarcoma excluded); "
         "BCOR-rearranged sarcomas unlikely.", "ES"),
    ],
)
def test_cancer_type_rules(text, code):
    profile = extract([text])
    assert profile.cancer_type is not None, text
    assert profile.cancer_type.code == code


@pytest.mark.parametrize(
    "text",
    [
        "FINAL DIAGNOSIS: Uterus, hysterectomy: leiomyoma. No malignancy.",
        "DIAGNOSIS: Colon, polypectomy: tubular adenoma.",  # OCR repair must not invent one
        "DIAGNOSIS: Lymph node: reactive. Suspicious for lymphoma? No.",
        "DIAGNOSIS: Thyroid: xanthogranuloma.",
        "ALL MARGINS ARE FREE OF TUMOR. BENIGN FIBROADIPOSE TISSUE.",  # ALL is not leukaemia
        # A hedge after the name (ConText post-trigger) leaves it unasserted.
        "DIAGNOSIS: Lung, core biopsy: atypical glandular cells; adenocarcinoma cannot be "
        "excluded.",
        "DIAGNOSIS: Thyroid, FNA: follicular neoplasm; follicular carcinoma is not ruled out.",
        # a cancer named in a programme's or a service's name, a mimic, a normal cell type
        "BOWEL CANCER SCREENING PROGRAMME - HISTOPATHOLOGY\nSigmoid polyp: tubular adenoma "
        "with low-grade dysplasia. No invasive malignancy.",
        "DIAGNOSIS: Warthin tumour. COMMENT: Squamous metaplasia after FNA can mimic "
        "mucoepidermoid or squamous cell carcinoma; no carcinoma is present.",
        "FLOW CYTOMETRY: CD10-positive germinal-centre B cells without light-chain "
        "restriction. DIAGNOSIS: reactive follicular hyperplasia.",
    ],
)
def test_benign_neoplasms_and_words_are_not_cancers(text):
    assert extract([text]).cancer_type is None


def test_stage_and_grade_follow_the_chosen_tumour():
    text = ("FINAL DIAGNOSIS: Urinary bladder, cystoprostatectomy: invasive high grade urothelial "
            "carcinoma. TNM pathologic stage (urothelial carcinoma): pT3b pN1.\n"
            "Prostate: prostatic adenocarcinoma, Gleason score 3+4=7. "
            "TNM pathologic stage (prostatic adenocarcinoma): pT2a pN0.")
    profile = extract([text])
    assert profile.cancer_type is not None and profile.cancer_type.code == "BLCA"
    assert profile.stage is not None and (profile.stage.t, profile.stage.n) == ("T3b", "N1")
    assert profile.grade == "G3"


def test_pathological_stage_group_outranks_the_clinical_one():
    text = ("DIAGNOSIS: Breast, left: invasive ductal carcinoma. Clinical stage IIB.\n"
            "AJCC pathologic stage: IIIC. pT2. pN3a.")
    profile = extract([text])
    assert profile.stage is not None
    assert (profile.stage.group, profile.stage.t, profile.stage.n) == ("IIIC", "T2", "N3a")


def test_a_saved_pipeline_adds_its_entities_as_a_source(tmp_path):
    """--model accepts a saved spaCy pipeline: its entities are vocabulary-checked mentions."""
    import spacy

    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "DISEASE", "pattern": "hepatocellular carcinoma"}])
    nlp.to_disk(tmp_path / "tiny_model")
    profile = extract(["Liver, segment 4, biopsy: hepatocellular carcinoma, grade 2."],
                      model=str(tmp_path / "tiny_model"))
    assert profile.cancer_type is not None and profile.cancer_type.code == "HCC"


# ----------------------------------------------------------------------------- robustness

_FUZZ_EXAMPLES = 500 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 40
_NOTE_WORDS = ["FINAL DIAGNOSIS:", "Clinical history:", "carcinoma", "adenocarcinoma", "lung",
               "breast", "no", "negative for", "ER", "HER2", "2+", "pT2", "N1", "M1", "stage",
               "IV", "Gleason", "3+4=7", "grade", "(", ")", ".", "\n", "metastatic", "EGFR",
               "exon 19 deletion", "pending", "history of", "rule out", "%", "95"]


@pytest.mark.fuzz
@settings(max_examples=_FUZZ_EXAMPLES, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_NOTE_WORDS), st.text(max_size=12)), max_size=40))
def test_any_text_gives_a_profile_with_offsets_inside_it(words):
    text = " ".join(words)
    profile = extract([text])
    if profile.cancer_type is not None:
        assert 0 <= profile.cancer_type.start <= profile.cancer_type.end <= len(text)
    for biomarker in profile.biomarkers:
        assert 0 <= biomarker.start <= biomarker.end <= len(text)
        assert biomarker.status in ("positive", "negative", "equivocal", "unknown")
    if profile.grade is not None:
        assert profile.grade in ("G1", "G2", "G3", "G4")


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("DIAGNOSIS: Lung, biopsy: adenocarcinoma. Comment: the patient has widely metastatic "
         "disease.", "IV"),
        ("DIAGNOSIS: Breast: invasive ductal carcinoma with metastases to the liver.", "IV"),
        ("DIAGNOSIS: Lung, biopsy: adenocarcinoma. No evidence of metastatic disease.", None),
        ("DIAGNOSIS: Lung: adenocarcinoma. Distant metastasis: not applicable.", None),
        ("Clinical history: rule out metastatic disease.\nDIAGNOSIS: Lung: adenocarcinoma.",
         None),
        ("DIAGNOSIS: Colon: adenocarcinoma, metastatic to 3 of 12 lymph nodes.", None),
        ("Clinic note: papillary thyroid carcinoma with progressive lung metastases.", "IV"),
        ("Clinic note: lung adenocarcinoma. MRI brain: no metastases.", None),
        ("Clinic note: lung adenocarcinoma; no brain metastases.", None),
        ("Clinic note: lung adenocarcinoma. Brain metastases: none.", None),
    ],
)
def test_distant_spread_implies_m1_and_stage_iv(text, group):
    stage = extract([text]).stage
    assert (stage.group if stage else None) == group
    if group:
        assert stage.m == "M1"
        assert stage.derived == ["m", "group"]


@pytest.mark.parametrize(
    ("notes", "group", "m"),
    [
        # An earlier group the text places in the past yields to the current stage IV.
        (["Skin, back, excision (2025): invasive melanoma, pT3b, pN1a. Stage IIIC at that "
          "time.", "Restaging: Stage IV, M1c(0) per AJCC 8th edition."], "IV", "M1c"),
        # With M1 written, a written stage IV group wins over an older non-IV group.
        (["Breast, excision: invasive ductal carcinoma, pT2 pN1a, stage IIB.",
          "Now with liver metastases, cM1, stage IV."], "IV", "M1"),
        # A written non-IV group with M1 stands where the chapter says so (thyroid < 55 y).
        (["Papillary thyroid carcinoma. AJCC stage (age < 55 years): any T any N M1 = "
          "stage II."], "II", "M1"),
        # Distant spread asserted now outweighs a stage written only for the past.
        (["Lung adenocarcinoma, initially stage IIA (2021), now with bone metastases."],
         "IV", "M1"),
    ],
)
def test_current_stage_and_m1_decide_the_group(notes, group, m):
    stage = extract(notes).stage
    assert stage is not None
    assert (stage.group, stage.m) == (group, m)


def test_metastatic_disease_in_lymph_nodes_is_not_stage_iv():
    text = ("DIAGNOSIS: Thyroid: papillary thyroid carcinoma. Number of lymph nodes with "
            "metastatic disease: 1.")
    stage = extract([text]).stage
    assert stage is None or stage.group is None


def test_ocr_damaged_histology_is_repaired_when_exact_words_only_reach_the_organ():
    text = "DIAGNOSIS: Lung, right upper lobe, lobectomy: invasive adenocarcinorna. Carcinoma " \
           "is present at 2 mm from the margin."
    profile = extract([text])
    assert profile.cancer_type is not None and profile.cancer_type.code == "LUAD"
    assert "OCR" in " ".join(profile.warnings)


@pytest.mark.parametrize(
    ("notes", "markers"),
    [
        # A prior cancer's results do not describe a note with no current cancer.
        (["CLINICAL HISTORY:\nHistory of invasive ductal carcinoma of the breast (ER positive, "
          "HER2 negative).\n\nFINAL DIAGNOSIS:\nColon, polypectomy: hyperplastic polyp."], []),
        (["History of breast cancer (ER positive). Skin, shave: seborrheic keratosis."], []),
        # Another tissue's history gives way to the current cancer's own results.
        (["CLINICAL HISTORY: prior invasive ductal carcinoma of the breast, ER positive.\n\n"
          "FINAL DIAGNOSIS: Lung, right upper lobe, biopsy: adenocarcinoma. PD-L1 TPS 60%."],
         ["PD-L1"]),
        # A recurrence of the same cancer keeps the history's receptor status.
        (["CLINICAL HISTORY: history of invasive ductal carcinoma of the left breast, ER "
          "positive.\n\nFINAL DIAGNOSIS: Breast, left, biopsy: invasive ductal carcinoma, "
          "recurrent."], ["ER"]),
    ],
)
def test_results_of_a_prior_cancer_are_left_out(notes, markers):
    profile = extract(notes)
    assert sorted(b.marker for b in profile.biomarkers) == markers


@pytest.mark.parametrize(
    ("text", "group"),
    [
        # The only group is the one at diagnosis and the disease has relapsed since.
        ("DLBCL, initially stage IIIA (Ann Arbor) in 03/2024; relapse 06/2025.", None),
        # Stage IV at diagnosis stays stage IV through progression.
        ("Lung adenocarcinoma (stage IVB at diagnosis), now progressing on alectinib.", "IVB"),
        # Without a later course of disease the stage at diagnosis is the stage.
        ("Breast carcinoma, stage IIA at diagnosis; on adjuvant letrozole.", "IIA"),
    ],
)
def test_a_past_group_after_relapse_is_no_current_stage(text, group):
    stage = extract([text]).stage
    assert (stage.group if stage else None) == group


@pytest.mark.parametrize(
    ("notes", "code"),
    [
        # A site in a 'metastatic' clause is where the tumour spread, not where it began;
        # the specimen line above "Diagnosis:" names the primary.
        (["PATHOLOGY: Left upper lobe bronchus, endobronchial biopsy\nDiagnosis: SQUAMOUS CELL "
          "CARCINOMA, moderately differentiated.\n\nRight adrenal gland, EUS-guided FNA: "
          "metastatic squamous cell carcinoma."], "LUSC"),
        # WHO small-biopsy terminology.
        (["Lung, right upper lobe, core biopsy: non-small cell carcinoma, favor squamous cell "
          "carcinoma (p40 positive, TTF-1 negative)."], "LUSC"),
        (["Lung, core biopsy: non-small cell carcinoma, favor adenocarcinoma."], "LUAD"),
        # A subtype after a name split by OCR's merged lines.
        (["DIAGNOSIS: Left kidney, partial nephrectomy: renal cell. carcinoma, papillary cell "
          "type, 2.0 cm."], "PRCC"),
        # 'Tumor is located in the rectum' states the primary of a rectosigmoid resection.
        (["DIAGNOSIS: Rectum and sigmoid colon, resection: adenocarcinoma, moderately "
          "differentiated. Tumor is located in rectum."], "READ"),
        # Latin and other European names of squamous cell carcinoma.
        (["Material: part of the tongue. Histopathological diagnosis: carcinoma "
          "planoepitheliale keratodes, G2."], "OCSC"),
        (["Tongue, resection: carcinoma spinocellulare, moderately differentiated."], "OCSC"),
        # An OCR-damaged subtype word in a type field refines the type the exact words reach.
        (["DIAGNOSIS: Right kidney: Renal cell carcinoma, see synoptic report. Histologic "
          "Type: Chromophebe renal cell carcinoma. Histologic Grade: G2."], "CHRCC"),
        (["FINAL DIAGNOSIS: Uterus, total hysterectomy: endometrioid adenocarcinoma, FIGO "
          "grade 2, invading less than half of the myometrium."], "UEC"),
        # A named type with a twin in the organ the clause names, unless its own organ is
        # named too.
        (["DIAGNOSIS: Left kidney and ureter, nephroureterectomy: high grade urothelial "
          "carcinoma, 3.1 cm."], "UTUC"),
        (["DIAGNOSIS: Bladder and distal ureters, cystectomy: urothelial carcinoma."], "BLCA"),
        # A hedge on another finding leaves the diagnosis asserted.
        (["DIAGNOSIS: Lung, lobectomy: adenocarcinoma, acinar predominant. Lymphovascular "
          "invasion cannot be excluded."], "LUAD"),
        # Latin organ names after the histology.
        (["Histopathological diagnosis: Adenocarcinoma tubulopapillare coli (G2). Small "
          "intestine wall infiltrated."], "COAD"),
        (["Diagnosis: carcinoma ductale invasivum mammae, G2."], "BRCA"),
        # Resections named after the site they are done for.
        (["DIAGNOSIS: (D) LEFT HEMIMANDIBULECTOMY: INVASIVE WELL DIFFERENTIATED SQUAMOUS "
          "CARCINOMA INVADING BONE. Skin of cheek, no tumor present."], "OCSC"),
        (["DIAGNOSIS: Total laryngopharyngectomy: invasive moderately differentiated squamous "
          "carcinoma, 3.2 cm."], "HPHSC"),
        # A neuroendocrine tumour or carcinoma with no primary named is a NOS code.
        (["Liver, core biopsy: metastatic neuroendocrine carcinoma, small cell type."],
         "NECNOS"),
        (["Soft tissue mass, biopsy: well differentiated neuroendocrine tumor, grade 1."],
         "NETNOS"),
        (["Pancreas, tail, distal pancreatectomy: well differentiated neuroendocrine tumor."],
         "PANET"),
        # A site named in the previous lettered specimen part is not this part's site.
        (["Diagnosis: E: Gallbladder, cholecystectomy. - Chronic cholecystitis. F: Whipple "
          "resection. Histologic type: invasive ductal adenocarcinoma of the pancreatic head."],
         "PAAD"),
        (["DIAGNOSIS: (C) ESOPHAGEAL MARGIN: portion of esophagus, no tumor present. (D) "
          "LARYNX, TOTAL LARYNGECTOMY: INVASIVE SQUAMOUS CARCINOMA."], "LXSC"),
        # ... but a heading above a lettered list of findings is the site of those findings.
        (["PART 3: DISTAL ESOPHAGUS, ESOPHAGECTOMY -. A. INVASIVE ADENOCARCINOMA, 5 CM. B. "
          "MARGINS FREE."], "ESCA"),
        # Sites the tumour reaches, also in a list ("the visceral pleura and parietal pleura").
        (["Lung, lobectomy. Histological type: carcinoma. Tumour invades the visceral pleura "
          "and parietal pleura. Carcinoma is 3 cm."], "LUNG"),
        # Organs a cystectomy finds invaded are no origin, with or without "is".
        (["DIAGNOSIS: Bladder, cystoprostatectomy: invasive urothelial carcinoma. "
          "Prostate: Other ; extensively involved by carcinoma. Seminal vesicle involved by "
          "carcinoma."], "BLCA"),
        (["DIAGNOSIS: Kidney, radical nephrectomy: renal cell carcinoma, clear cell type. "
          "Adrenal gland: Other; focally involved by carcinoma. Renal vein: involved by "
          "carcinoma."], "CCRCC"),
        # "Of the colorectal type" names a pattern; the cecum is the site. Nodal metastases
        # are regional spread and leave the organ the primary's.
        (["Resected ileocolic sample with an adenocarcinoma of. the colorectal type, covering "
          "the cecum, and 3 local lymph node metastases."], "COAD"),
    ],
)
def test_primary_site_choices(notes, code):
    profile = extract(notes)
    assert profile.cancer_type is not None and profile.cancer_type.code == code


def test_a_site_the_tumour_does_not_reach_is_no_origin():
    from trialmatch.nlp.extract import extract

    profile = extract(["Exam: tumour R base of tongue, vallecula free, no laryngeal "
                       "involvement.\nBiopsy BOT: invasive squamous cell carcinoma."])
    assert profile.cancer_type.code == "OPHSC"


@pytest.mark.parametrize("text,expected", [
    ("Tum0r Pr0portion Sc0re (TPS) 15%", "Tumor Proportion Score (TPS) 15%"),
    ("pT1N0M0, ypN0, CD20, 10 mg", "pT1N0M0, ypN0, CD20, 10 mg"),  # codes keep their zeros
    ("CD2O p0sitive; CD1O negative", "CD20 positive; CD10 negative"),  # CD markers: O is 0
    ("hx uterine ser0us ca; 0ral tongue", "hx uterine serous ca; oral tongue"),
    # and the letter O read inside numbers
    ("Hgb 11.O, plt 2O5, Cr O.9, cisplatin 4O mg/m2",
     "Hgb 11.0, plt 205, Cr 0.9, cisplatin 40 mg/m2"),
    ("Ki-67 3O%. Seen 1O/2O26.", "Ki-67 30%. Seen 10/2026."),
    ("O2 sat 95% on RA; T2 NO MO; CD45RO", "O2 sat 95% on RA; T2 NO MO; CD45RO"),  # letters
    # the word "No" read with a zero at a sentence's start; the nodal category keeps its own
    ("COMMENT: N0 high-grade lesion. N0 evidence of tumor.",
     "COMMENT: No high-grade lesion. No evidence of tumor."),
    ("Stage pT2 N0 M0; pN: N0 (0/12)", "Stage pT2 N0 M0; pN: N0 (0/12)"),
])
def test_ocr_zeros_inside_words_are_repaired(text, expected):
    from trialmatch.nlp.notes import repair_ocr_zeros

    assert repair_ocr_zeros(text) == expected
    assert len(repair_ocr_zeros(text)) == len(text)


@pytest.mark.parametrize("text,code", [
    # a stated primary outranks the organ a type name usually implies
    ("FINAL DIAGNOSIS: Omentum, biopsy: METASTATIC HIGH-GRADE SEROUS CARCINOMA, consistent "
     "with recurrence of patient's known uterine primary.", "USC"),
    ("FINAL DIAGNOSIS: Omentum: high-grade serous carcinoma, consistent with tubo-ovarian "
     "primary.", "HGSOC"),
    ("FINAL DIAGNOSIS: Ovary: high-grade serous carcinoma.", "HGSOC"),
])
def test_a_stated_primary_decides_the_organ(text, code):
    assert extract([text]).cancer_type.code == code


# Reports written apart from the rules (bench/extract_written.py, issue 16): kinds of
# reading a pathologist expects, each in its general form.
@pytest.mark.parametrize("text, code, group", [
    # a stage the report denies is not its stage
    ("Cervix, radical hysterectomy: invasive squamous cell carcinoma, depth 6 mm.\n"
     "FIGO 2018 Stage: IB1\nCOMMENT: Depth exceeds 5 mm, so this is not stage IA.",
     "CESC", "IB1"),
    # a parenthetical aside does not end a negation's reach
    ("Lymph node, excision: reactive follicular hyperplasia.\nCOMMENT: There is no support "
     "for follicular lymphoma (BCL2-negative germinal centres, polytypic CD10+ B cells) or "
     "for Hodgkin lymphoma.", None, None),
    # an amended report's revised diagnosis replaces the original one
    ("ORIGINAL DIAGNOSIS (2025-10-14):\nLymph node: DIFFUSE LARGE B-CELL LYMPHOMA, germinal "
     "center B-cell type.\n\nADDENDUM #1 (2025-10-20) - FISH RESULTS:\nREVISED DIAGNOSIS:\n"
     "- HIGH-GRADE B-CELL LYMPHOMA WITH MYC AND BCL2 REARRANGEMENTS (WHO 5th ed. "
     "DLBCL/HGBL-MYC/BCL2).\n- The original diagnosis of diffuse large B-cell lymphoma, NOS "
     "is superseded.", "HGBCLMYCBCL2", None),
    # the WHO type stays when another system's name follows in brackets
    ("Stomach, distal gastrectomy: adenocarcinoma, tubular type (Lauren intestinal type), "
     "moderately differentiated.", "TSTAD", None),
    ("Colon, sigmoid, resection: adenocarcinoma, tubular type.", "COAD", None),
    # OCR's zero for O in a short capitals word; a TNM run keeps its digits
    ("Lymph node, excision: reactive hyperplasia.\n - NEGATIVE F0R LYMPHOMA.", None, None),
    ("Right upper lobe lobectomy: adenocarcinoma, T2N1M0, stage IIB.", "LUAD", "IIB"),
    # a query is no diagnosis
    ("Clinical: 6 weeks of cervical lymphadenopathy. ?lymphoma.\nDIAGNOSIS: reactive "
     "lymphadenopathy.", None, None),
    # IASLC small-biopsy terms: non-small cell carcinoma is lung's
    ("Lymph node station 4R, EBUS-FNA: POSITIVE FOR MALIGNANT CELLS. Non-small cell "
     "carcinoma, favour adenocarcinoma.", "NSCLC", None),
    # a word OCR split in two is rejoined ("uter ine"): the stated primary decides
    ("FINAL DIAGNOSIS:\nMETASTATIC HIGH-GRADE SEROUS CARCINOMA, consistent with recurrence "
     "of patient's known uter ine primary.", "USC", None),
    # a CNS5 integrated diagnosis in an amended report; the original kept "for the record"
    ("AMENDED INTEGRATED DIAGNOSIS:\n  Astrocytoma, IDH-mutant, CNS WHO grade 4\n\n"
     "ORIGINAL DIAGNOSIS (2025-09-26), retained for the record:\n  High-grade astrocytic "
     "glioma, consistent with glioblastoma.", "ASTR4", None),
    # a lesion that falls short of a cancer, or only resembles one, is not that cancer
    ("Breast, core biopsy: ATYPICAL DUCTAL HYPERPLASIA.\nCOMMENT: The findings fall short "
     "of ductal carcinoma in situ. The cytology resembles low-grade DCIS.", None, None),
    # what a stain argues against, and types the report has excluded, are not its type
    ("Cerebellopontine angle, resection: SCHWANNOMA, CNS WHO grade 1.\nCOMMENT: EMA "
     "negativity argues against meningioma.", None, None),
    # a post cue after the words that finish the name ("carcinoma ex pleomorphic adenoma")
    ("Parotid gland, superficial parotidectomy:\n - Pleomorphic adenoma, 2.4 cm.\n - "
     "Carcinoma ex pleomorphic adenoma NOT identified.", None, None),
    # cue words OCR split in two are rejoined ("NOT identif ied"), and "N0" for "No"
    ("Cervix, biopsy: LOW-GRADE SQUAMOUS INTRAEPITHELIAL LESION (CIN 1).\nCOMMENT: N0 "
     "high-grade lesion or invasive carcinoma identified.", None, None),
    ("Parotid gland, parotidectomy:\n - Pleomorphic adenoma.\n - Carcinoma ex pleomorphic "
     "adenoma NOT identif ied.", None, None),
    # of the organs a specimen line lists, the one the report names this type in elsewhere
    ("Clinical history: Cervical squamous cell carcinoma on biopsy. Radical hysterectomy.\n\n"
     "FINAL DIAGNOSIS:\nC. Uterus, cervix, parametria and upper vagina, radical "
     "hysterectomy:\n   - Squamous cell carcinoma, non-keratinising.", "CESC", None),
    # ... else the first it lists: the organ the procedure is for
    ("FINAL DIAGNOSIS:\nA. Uterus, cervix, bilateral tubes and ovaries:\n   - Endometrioid "
     "adenocarcinoma, FIGO grade 2\n   - Myometrial invasion: 14 of 22 mm", "UEC", None),
])
def test_report_reading_rules(text, code, group):
    profile = extract([text]).to_dict()
    assert (profile["cancer_type"] or {}).get("code") == code
    assert (profile["stage"] or {}).get("group") == group


@pytest.mark.parametrize("text", [
    # the favoured diagnosis is benign; the other is named only to be set aside
    "FINAL DIAGNOSIS: Kidney, partial nephrectomy: RENAL ONCOCYTOMA, 3.1 cm. No evidence of "
    "malignancy. Features support oncocytoma over chromophobe renal cell carcinoma. CD117 "
    "immunoreactivity is expected in oncocytic renal tumours.",
    # an abbreviation whose long form is of uncertain malignant potential
    "Clinical: FNA: salivary gland neoplasm of uncertain malignant potential (SUMP).\n"
    "FINAL DIAGNOSIS: Parotid gland: pleomorphic adenoma. SUMP resolved as benign.",
    # each item of a coordinated list is negated by the cue after the last
    "COMMENT: Plasma cell myeloma and lymphoma are excluded. Reactive marrow.",
    # "not diagnostic of": the terminator inside a negation cue ends nothing
    "Prostate, left mid: ATYPICAL SMALL ACINAR PROLIFERATION (ASAP), suspicious for but not "
    "diagnostic of adenocarcinoma. Findings insufficient for a definitive diagnosis of "
    "carcinoma.",
])
def test_no_cancer_type_where_none_is_asserted(text):
    assert extract([text]).cancer_type is None


def test_a_stains_result_after_a_list_says_nothing_of_the_diagnosis_before_it():
    profile = extract(["DIAGNOSIS: Lung, RUL, biopsy: adenocarcinoma, TTF-1 and napsin are "
                       "negative."])
    assert profile.cancer_type is not None and profile.cancer_type.code == "LUAD"


# Reports written apart from the rules, each the kind of error it stands for (issue 16).
_NO_RESIDUAL = ("Clinical history: 63M, rectal adenocarcinoma, cT3N1. Total neoadjuvant "
                "therapy completed 10/2025.\n\nFINAL DIAGNOSIS:\nRECTUM, LOW ANTERIOR "
                "RESECTION:\n- NO RESIDUAL CARCINOMA IDENTIFIED.\n- Sixteen lymph nodes "
                "negative (0/16).\n")


@pytest.mark.parametrize(("report", "code"), [
    # ypT0 ypN0, "no residual carcinoma": the rectal adenocarcinoma its history names ...
    (_NO_RESIDUAL + "pT Category: ypT0\npN Category: ypN0\n", "READ"),
    # ... and without post-treatment staging, no type from the history.
    (_NO_RESIDUAL, None),
    # A doubt after a bracket of alternatives doubts each of them.
    ("DIAGNOSIS: ATYPICAL. Negative for definitive malignant cells.\nCOMMENT: the atypia is "
     "most likely reactive; a well-differentiated adenocarcinoma (cholangiocarcinoma or "
     "pancreatic ductal adenocarcinoma) cannot be entirely excluded.", None),
    # "N0 ev idence 0f": OCR's zero for the o of "No", before a word OCR split in two.
    ("ES0PHAGUS, BI0PSY: BARRETT'S ES0PHAGUS WITH L0W-GRADE DYSPLASIA.\nC0MMENT: "
     "f0llow-up in 12 m0nths.   N0 ev idence 0f invasive aden0carcin0ma in any specimen.",
     None),
    # The synoptic "Tumor Site:" decides a type named without its organ (upper tract, though
    # the specimen has a bladder cuff).
    ("SYNOPTIC - CARCINOMA OF THE RENAL PELVIS AND URETER\nProcedure: Nephroureterectomy "
     "with bladder cuff\nTumor Site: Renal pelvis\nHistologic Type: Urothelial carcinoma "
     "with squamous differentiation\n", "UTUC"),
])
def test_cancer_type_of_reports_written_apart(report, code):
    found = extract([report]).cancer_type
    assert (found.code if found else None) == code


@pytest.mark.parametrize(("report", "group"), [
    # The surgical FIGO stage outranks the clinical estimate in the history.
    ("Clinical: 38F, cervical squamous cell carcinoma on LEEP; clinical stage IB2.\n"
     "SYNOPTIC - UTERINE CERVIX (FIGO 2018)\nHistologic Type: Squamous cell carcinoma\n"
     "pT: pT1b2\npN: pN1\nFIGO Stage (2018): IIIC1p\n", "IIIC1"),
    # A revised stage group in an addendum wins.
    ("Papillary thyroid carcinoma, classic type.\npT: pT1b   pN: pNX\n"
     "Stage (age >=55, AJCC 8th): I (provisional, nodes not assessed)\n\n"
     "ADDENDUM #1 - REVISED STAGE\nLevel VI lymph nodes: metastatic papillary carcinoma in 3 "
     "of 7 lymph nodes.\nREVISED PATHOLOGIC STAGE (AJCC 8th): pT1b pN1a\n"
     "REVISED STAGE GROUP (patient age 61 years): II\n", "II"),
    # A TURBT's pT2 takes its group from the complete clinical staging.
    ("TURBT: invasive high-grade urothelial carcinoma of the bladder, muscularis propria "
     "invaded (pT2). CT chest/abdomen/pelvis: cT2 N0 M0.", "II"),
])
def test_stage_group_of_reports_written_apart(report, group):
    assert extract([report]).stage.group == group


def test_of_two_notes_the_later_stage_decides():
    # An outside surgeon's impression, then the treating team's staging after MRI.
    first = "Surgical consult 11/02: cT3 N0 M0 rectal adenocarcinoma, stage IIA."
    later = "MRI pelvis: mrT3c N1b, EMVI+. A/P: rectal adenocarcinoma, stage IIIB; TNT."
    assert extract([first, later]).stage.group == "IIIB"
    # within one note the first written stands (the final diagnosis comes first)
    assert extract([first + " Prior outside note said stage IIIB."]).stage.group == "IIA"


def test_a_relative_the_patient_is_with_is_no_cue():
    profile = extract(["Discussed with the patient and her daughter: metastatic pancreatic "
                       "adenocarcinoma."])
    assert profile.cancer_type is not None and profile.cancer_type.code == "PAAD"


@pytest.mark.parametrize("text,code", [
    # the organ written right before the histology names where a metastatic tumour arose
    ("Recurrent/metastatic cervical SCC, distant (lungs, PA node).", "CESC"),
    ("Metastatic anal SCC.", "ANSC"),
    ("SPECIMEN: Lung, right lower lobe nodule, core biopsy\nDIAGNOSIS: METASTATIC SQUAMOUS CELL "
     "CARCINOMA, CONSISTENT WITH METASTASIS FROM PATIENT'S KNOWN CERVICAL PRIMARY.", "CESC"),
])
def test_a_metastasis_named_with_its_organ(text, code):
    profile = extract([text])
    assert profile.cancer_type is not None and profile.cancer_type.code == code


def test_cervical_names_the_cervix_only_before_a_tumour_word():
    # a neck node is no cervical primary
    profile = extract(["Lymph node, left cervical level II, excision: metastatic squamous cell "
                       "carcinoma."])
    assert profile.cancer_type is None or profile.cancer_type.code != "CESC"


def test_the_stage_at_diagnosis_is_kept_when_a_spread_restages_the_disease():
    profile = extract(["History of FIGO 2018 stage IIIC1r squamous cell carcinoma of the cervix "
                       "treated with definitive chemoradiation in 2022, now with biopsy-proven "
                       "distant recurrence (lungs).\n"
                       "CT-guided bx RLL nodule: metastatic SCC consistent w/ cervical primary."])
    assert profile.stage is not None and profile.stage.group == "IV"
    assert profile.stage_at_diagnosis is not None
    assert profile.stage_at_diagnosis.group == "IIIC1"


def test_a_past_medical_history_line_is_history():
    # a breast cancer of 2015 on the PMH line is not the lung cancer biopsied now
    profile = extract([
        "THORACIC ONCOLOGY - NEW PATIENT\n"
        "PMH: L breast IDC 2015, pT1c N0, ER(+) 95%, PR(+) 40%; lumpectomy + RT, NED.\n"
        "HPI: incidental 3.4 cm LLL mass on CT for cough.\n"
        "Bx LLL: adenocarcinoma, acinar predominant. TTF-1(+), GATA3(-), ER(-) -> c/w primary "
        "lung adenocarcinoma, not metastatic breast."])
    assert profile.cancer_type is not None and profile.cancer_type.code == "LUAD"
    assert {b.marker: b.status for b in profile.biomarkers}.get("ER") == "negative"


def test_a_cancer_denied_owns_no_result():
    profile = extract([
        "PMH: melanoma 2016 (BRAF V600E-mutant), NED.\n"
        "EBUS-TBNA 10R: NSCLC, adenocarcinoma. TTF-1+, SOX10- -> new lung primary, not melanoma "
        "met.\nNGS (lung): KRAS G12C (VAF 22%). BRAF V600E NOT detected."])
    found = {b.marker: b.status for b in profile.biomarkers}
    assert found.get("KRAS") == "positive" and found.get("BRAF") == "negative"


def test_a_quoted_outside_stage_and_a_coarser_remark_yield_to_the_notes_own_stage():
    profile = extract([
        "- 11/19/26 outside surgical consult: \"cT2 cN0, stage IIA\" -> plan BCS/SLNB\n"
        "- 12/01/26 US-guided FNA of R axillary node -> METASTATIC CARCINOMA c/w breast.\n"
        "A/P: R breast IDC G3, HER2-positive, clinical stage cT2 cN1 (FNA-proven) M0 = AJCC 8 "
        "anatomic stage IIB. Outside staging of cN0/IIA is incorrect."])
    assert profile.stage is not None and profile.stage.group == "IIB"
    profile = extract([
        "No systemic staging imaging (stage II, asymptomatic - not indicated per NCCN).\n"
        "A/P: L breast IDC G2, pT2 pN1a(sn) cM0 = AJCC 8th anatomic stage IIB."])
    assert profile.stage is not None and profile.stage.group == "IIB"
