"""M categories written as TNM in criteria (trialmatch.nlp.requirements_tnm)."""

import pytest

from trialmatch.nlp.requirements_tnm import find_tnm_extent

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
