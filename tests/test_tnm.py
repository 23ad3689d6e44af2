"""TNM categories and stage groups as pathologists write them (AJCC 8th edition notation)."""

import pytest

from trialmatch.nlp.tnm import (
    find_stage_groups,
    find_tnm,
    normalise_stage_group,
    parse_tnm,
    stage_group_in,
)


@pytest.mark.parametrize(
    ("text", "prefix", "t", "n", "m"),
    [
        ("pT3N1aM0", "p", "T3", "N1a", "M0"),
        ("pT2 pN0 (0/12) pMX", "p", "T2", "N0", "MX"),
        ("Final: ypT1mi ypN0(i+)", "yp", "T1mi", "N0(i+)", None),
        ("pathologic stage T3 N1", "p", "T3", "N1", None),  # prefix from the label
        ("Stage: T2 Nx Mx.", None, "T2", "NX", "MX"),
        ("TNM: T2a N1 M0", None, "T2a", "N1", "M0"),
        ("cT2 cN0 cM1c", "c", "T2", "N0", "M1c"),
        ("rT2 N1mi", "r", "T2", "N1mi", None),
        ("PT3 PN1B MX", "p", "T3", "N1b", "MX"),
        ("pTis (DCIS) pNX", "p", "Tis", "NX", None),
        ("pT1b1 pN0", "p", "T1b1", "N0", None),
        ("pTa", "p", "Ta", None, None),
        ("pTX", "p", "TX", None, None),
        ("pTl pNO", "p", "T1", "N0", None),  # OCR: l for 1, O for 0
        ("T STAGE, PATHOLOGIC: pT2. N STAGE, PATHOLOGIC: pN2a. M STAGE, PATHOLOGIC: pMX.",
         "p", "T2", "N2a", "MX"),
        ("Primary Tumor (pT): pT4b\nRegional Lymph Nodes (pN): pN3c", "p", "T4b", "N3c", None),
        ("pT4aN2bM1c", "p", "T4a", "N2b", "M1c"),
        ("pN0(sn) pT1c", "p", "T1c", "N0", None),
        ("PT2 PN0 PMX", "p", "T2", "N0", "MX"),
        ("PTIS", "p", "Tis", None, None),
        ("AJCC stage (age < 55 years): any T any N M1 = stage II", None, None, None, "M1"),
    ],
)
def test_parse_tnm_categories(text, prefix, t, n, m):
    stage = parse_tnm(text)
    assert stage is not None
    assert (stage.prefix, stage.t, stage.n, stage.m) == (prefix, t, n, m)


@pytest.mark.parametrize(
    "text",
    [
        "T2-weighted MRI images",
        "STAT3 and MT1 expression",
        "T1 vertebral body",
        "Received 3 cassettes labelled M1 through M4",  # bare M without context
        "the patient (pt) is 2 years out",
        "no staging information",
        "RNA fusion panel: CD74::ROS1 fusion detected",  # R + N + "A" is a word, not rNa
        "DNA and RNA sequencing; CTA chest",
        "cell-free DNA (cfDNA) and RNA",
    ],
)
def test_parse_tnm_ignores_what_is_not_tnm(text):
    assert parse_tnm(text) is None


@pytest.mark.parametrize(
    ("text", "group", "derived", "figo"),
    [
        ("stage IIIA", "IIIA", [], None),
        ("Stage 4", "IV", [], None),
        ("Stage IV-B disease", "IVB", [], None),
        ("AJCC Stage Group: IIB", "IIB", [], None),
        ("Pathologic stage: IIIc", "IIIC", [], None),
        ("FIGO stage IB1", "IB1", ["group"], "IB1"),
        ("Stage IIIC1 (FIGO 2018)", "IIIC1", ["group"], "IIIC1"),
        ("pT2 pN1 pM1b", "IV", ["group"], None),
        ("pT2 pN1 pM1b, stage IVA", "IVA", [], None),
        # FIGO 2018 marks radiological (r) or pathological (p) nodes; a year may follow FIGO.
        ("FIGO 2018 stage IIIC1r (T2b N1 M0)", "IIIC1", ["group"], "IIIC1"),
        # The staging system named without the word "stage".
        ("cT3b N0 M0, Grade Group 5 -> NCCN very high risk; AJCC IIIC.", "IIIC", [], None),
        ("AJCC 8th edition IIB", "IIB", [], None),
        # The group a disease moved from is the past.
        ("FIGO stage IIB. Nodes positive on MRI: FIGO 2018 stage IIIC1r. Upstaged from IIB.",
         "IIIC1", ["group"], "IIIC1"),
    ],
)
def test_stage_groups(text, group, derived, figo):
    stage = parse_tnm(text)
    assert stage is not None
    assert stage.group == group
    assert stage.derived == derived
    assert stage.figo == figo


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4", "IV"), ("IIIa", "IIIA"), ("Stage IV-B", "IVB"), ("stage 1a2", "IA2"),
        ("0", "0"), ("II", "II"), ("3C", "IIIC"), ("FIGO IIIC1", "IIIC1"),
        ("stage V", None), ("T2", None), ("", None), ("unknown", None),
    ],
)
def test_normalise_stage_group(text, expected):
    assert normalise_stage_group(text) == expected


@pytest.mark.parametrize(
    ("group", "allowed", "expected"),
    [
        ("IVA", ["IV"], True),
        ("IIIB", ["III"], True),
        ("III", ["IIIB"], False),
        ("I", ["II"], False),
        ("II", ["I"], False),
        ("IA2", ["IA"], True),
        ("IV", ["IIIB", "IIIC", "IV"], True),
        ("IIB", ["IIIB", "IIIC", "IV"], False),
        ("4", ["IV"], True),
        ("nonsense", ["IV"], False),
    ],
)
def test_stage_group_in(group, allowed, expected):
    assert stage_group_in(group, allowed) is expected


def test_mentions_keep_offsets_and_evidence():
    text = "Synoptic: pT2 pN1a (2/14) pM0. Stage IIB."
    [mention] = find_tnm(text)
    assert text[mention.start : mention.end] == mention.evidence
    assert mention.evidence.startswith("pT2")
    [group] = find_stage_groups(text)
    assert text[group.start : group.end] == group.evidence
    assert group.group == "IIB"


def test_prefix_read_from_a_label_is_marked_derived():
    stage = parse_tnm("TNM pathologic stage (urothelial carcinoma): T3b, N1, MX.")
    assert stage is not None
    assert (stage.prefix, stage.t, stage.n, stage.m) == ("p", "T3b", "N1", "MX")
    assert stage.derived == ["prefix"]
    written = parse_tnm("pT3b pN1")
    assert written is not None and written.derived == []


def test_a_finer_statement_of_the_same_category_wins():
    stage = parse_tnm("Pathologic stage: pT4, N2c. T stage, pathologic: supraglottis, pT4a.")
    assert stage is not None and stage.t == "T4a"


def test_pathologic_mention_anchors_over_clinical():
    stage = parse_tnm("Clinical: cT3 cN1. Pathology: ypT1a ypN0.")
    assert stage is not None
    assert (stage.prefix, stage.t, stage.n) == ("yp", "T1a", "N0")


def test_a_list_of_categories_is_template_wording():
    stage = parse_tnm("Tumor thickness (pT1 and pT2 tumors): 4 mm. Primary tumor (pT): pT2.")
    assert stage is not None and stage.t == "T2"


@pytest.mark.parametrize(
    ("text", "historical"),
    [
        ("Stage IIIC at that time.", True),
        ("initially staged as stage IIA", True),
        ("History of stage I breast cancer", True),
        ("Stage IIA in 2019.", True),
        ("newly diagnosed with stage IV disease", False),
        ("Stage IV, M1c(0) per AJCC 8th edition", False),
    ],
)
def test_stage_groups_placed_in_the_past(text, historical):
    [mention] = find_stage_groups(text)
    assert mention.historical is historical


@pytest.mark.parametrize(
    ("text", "group"),
    [
        # A current group outranks an earlier one; with M1 a stage IV group comes first.
        ("Stage IIIC at that time. Now stage IV.", "IV"),
        ("pT3 pN1 cM1, stage IIIB (at diagnosis); restaged stage IVA", "IVA"),
        ("stage II; any T any N M1", "II"),  # no IV group written: the written group stands
    ],
)
def test_current_and_metastatic_groups_win(text, group):
    stage = parse_tnm(text)
    assert stage is not None and stage.group == group


@pytest.mark.parametrize(
    ("text", "editions"),
    [
        ("Pathological staging: TNM 6 T3 N1 Mx. TNM 7 T3 N3 Mx.", [6, 7]),
        ("AJCC 7th edition: pT2 pN1a", [7]),
        ("(UICC 8th ed.) pT1c pN0", [8]),
        ("pT2 pN0 (0/12)", [None]),
    ],
)
def test_tnm_edition_written_before(text, editions):
    assert [mention.edition for mention in find_tnm(text)] == editions


def test_latest_tnm_edition_decides():
    from trialmatch.nlp.extract import extract

    text = ("DIAGNOSIS: Stomach, gastrectomy: adenocarcinoma. 4 of 9 lymph nodes involved.\n"
            "Pathological staging: TNM 6 T3 N1 Mx. TNM 7 T3 N2 Mx.")
    stage = extract([text]).stage
    assert stage is not None and (stage.t, stage.n) == ("T3", "N2")


def test_a_group_superseded_in_a_later_note_is_the_past():
    from trialmatch.nlp.extract import extract

    profile = extract(["Impression: Ca cervix FIGO stage IIB. Plan: chemoradiation.",
                       "MRI pelvis: nodes positive -> FIGO 2018 stage IIIC1r (T2b N1 M0). "
                       "Upstaged from IIB."])
    assert profile.stage.group == "IIIC1"


@pytest.mark.parametrize("text,expected", [
    ("pT (TNM 8): pT 2", [("T2", None)]),
    ("pT 1c, pN 0 (0/15)", [("T1c", "N0")]),
    ("ypT 3 ypN 1a", [("T3", "N1a")]),
    # without a prefix a blank after the letter is no category
    ("T 2 weighted images", []),
    ("Stage T 2 N 0", []),
])
def test_ocr_blank_after_the_axis_letter(text, expected):
    assert [(m.t, m.n) for m in find_tnm(text)] == expected


def test_a_stage_label_with_a_long_aside():
    groups = [g.group for g in find_stage_groups(
        "Stage (AJCC 7th, patient 45 years or older): III")]
    assert groups == ["III"]


def test_the_settled_stage_outranks_an_earlier_one():
    from trialmatch.nlp.extract import extract

    profile = extract(["Referring gyn note staged this as FIGO IIB.",
                       "TUMOR BOARD 11/19/2026\nFinal stage FIGO 2018 IIIC1r (T2b N1 M0)."])
    assert profile.stage.group == "IIIC1"


def test_pni_is_perineural_invasion_not_pn1():
    from trialmatch.nlp.extract import extract
    stage = extract(["Gleason 4+3=7. PNI present. cT2b N0 M0; stage IIC"]).stage
    assert stage is not None and stage.n == "N0"
    assert extract(["LVI absent, PNI present."]).stage is None
