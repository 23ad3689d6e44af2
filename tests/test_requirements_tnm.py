"""M categories written as TNM in criteria (trialmatch.nlp.requirements_tnm)."""

import pytest

from trialmatch.nlp.requirements_tnm import find_tnm_categories, find_tnm_extent

NOT_METASTATIC = {"extent": "metastatic", "negated": True}
METASTATIC = {"extent": "metastatic"}


@pytest.mark.parametrize("text, expected", [
    ("T1c-2N0M0 with high-risk factors", [NOT_METASTATIC]),
    ("Stage: T2N0M0, hard to conserve the breast", [NOT_METASTATIC]),
    ("Any TN+M0", [NOT_METASTATIC]),
    ("cT1-3 cN0-1 M0 disease", [NOT_METASTATIC]),
    ("any T, any N, M0", [NOT_METASTATIC]),
    ("T4 N2 M1b", [METASTATIC]),
    ("M1 disease per AJCC 8th edition", [METASTATIC]),
    # M written after a T category or a list of T and N categories
    ("Any T, M0", [NOT_METASTATIC]),
    ("T1 or T2 or T3, N0 or N1, resectable T4, or resectable N2, (all M0)", [NOT_METASTATIC]),
    ("Clinical Stage cT1-4a, cN2-N3 * *, M0- as per UICC 2018", [NOT_METASTATIC]),
    ("nodal stage N0 to N3, and metastasis stage M0 (II-III stage)", [NOT_METASTATIC]),
    ("cN0 M0-1", []),
    ("pT2 N1 M0 or M1", []),  # either: no requirement
    ("any T, any N, any M", []),
    # an M with no TNM around it is a block label, a cell type or a receptor
    ("Slides from block M1", []),
    ("M1 macrophage polarisation", []),
    ("Muscarinic M1 agonists", []),
])
def test_m_categories(text, expected):
    assert [r.params for r in find_tnm_extent(text)] == expected


def test_span_quotes_the_category():
    (found,) = find_tnm_extent("Stage: cT2 cN0 cM0 breast cancer")
    assert found.text == "cM0"


def test_an_exclusion_reads_m1_but_not_an_m0_that_completes_t_and_n():
    assert [r.params for r in find_tnm_extent("T0-3a N1b M0", "exclusion")] == []
    assert [r.params for r in find_tnm_extent("Any T4 or M1 tumour", "exclusion")] == [
        METASTATIC]


def _categories(text):
    return {r.kind: (r.params["values"], bool(r.params.get("or_other")))
            for r in find_tnm_categories(text)}


@pytest.mark.parametrize("text, expected", [
    ("Early T1-T2 N0 oral cavity squamous cell carcinoma",
     {"t_category": ([1, 2], False), "n_category": ([0], False)}),
    ("pT3-4pN2-3 M0 disease", {"t_category": ([3, 4], False), "n_category": ([2, 3], False)}),
    ("c/pT3N0; c/pT2N0 with MammaPrint high-risk",
     {"t_category": ([2, 3], False), "n_category": ([0], False)}),
    ("Prostate cancer with stage T1a, T1b T2a or T2b Nx Mx", {"t_category": ([1, 2], False)}),
    ("Tis or T1 tumors", {"t_category": ([0, 1], False)}),
    ("No T4 tumors", {"t_category": ([0, 1, 2, 3], False)}),
    ("Node-positive disease at presentation", {"n_category": ([1, 2, 3], False)}),
    ("No regional lymph node metastases by imaging or clinical examination (cN0).",
     {"n_category": ([0], False)}),
    ("Fixed axillary lymph node metastases (N2)", {"n_category": ([2], False)}),
    ("Any T4 or N1-3 or M1 breast cancer.",
     {"t_category": ([4], False), "n_category": ([1, 2, 3], False)}),
    # every category allowed, set aside, or restating a stage group: nothing to check
    ("T1-T3, T4a, T4b, N0-N2, N3a and M0 (T1N0M0 patients are excluded)", {}),
    ("stage II (except T2N0) or stage III invasive breast cancer", {}),
    ("Completely resected stage IIA, IIB IIIA or IIIB (T3-4N2) NSCLC", {}),
    ("node-negative or node-positive breast cancer", {}),
    ("T4 tumors as specified in the UICC/AJCC Tumor-Lymph Node Metastasis Classification",
     {"t_category": ([4], False)}),
    # not categories
    ("Free T4 within normal limits", {}),
    ("T1-weighted MRI lesion", {}),
    ("Hematopoietic and Lymphoid Tissue tumors", {}),
    # beside a condition not read, or one line of alternatives: another way in
    ("breast cancer that is more than 1 cm and or lymph node positive",
     {"n_category": ([1, 2, 3], True)}),
    ("Subjects with pT3, pN0 OR", {"t_category": ([3], True), "n_category": ([0], True)}),
])
def test_t_and_n_categories(text, expected):
    assert _categories(text) == expected


def test_one_regions_nodes_are_no_nodal_category():
    assert _categories("Presence of pathologically proven residual supraclavicular nodal "
                       "metastases or residual internal mammary lymphadenopathy") == {}


def test_an_exclusion_of_several_tnm_strings_excludes_no_single_range():
    found = find_tnm_categories("Evidence of pelvic nodal metastases or distant metastases "
                                "(AJCC Stage T1-4 N1 M0-1 or T1-4 N0 M1 disease)", "exclusion")
    assert found == []


def test_an_n_category_written_before_a_t_category_is_read():
    assert _categories("Ipsilateral recurrence, unifocal < 3 cm with negative margins, N0, Tis "
                       "and invasive") == {"n_category": ([0], False)}
