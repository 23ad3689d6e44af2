"""Acronyms a trial defines for itself are read as what it defines them to be."""

from trialmatch.models import TrialText
from trialmatch.nlp.acronyms import defined_acronyms, uses_of
from trialmatch.nlp.criteria import annotate_trial


def test_schwartz_hearst_pairs():
    found = defined_acronyms([
        "marginal zone lymphoma (MZL), mantle cell lymphoma (MCL), follicular lymphoma (FL), "
        "and Waldenstrom macroglobulinemia",
        "Acute Lymphoblastic Leukemia (ALL); relapsed or refractory (R/R) disease",
        "Metastatic breast cancer (M1)",  # "1" is not in the long form: no definition
    ])
    assert found == {"MZL": "marginal zone lymphoma", "MCL": "mantle cell lymphoma",
                     "FL": "follicular lymphoma", "ALL": "Acute Lymphoblastic Leukemia"}


def test_uses_skip_capitals_hyphens_and_the_definition():
    text = "PATIENTS WITH ALL PRIOR THERAPY; patients with AML, MDS, and ALL. B-ALL (ALL)"
    assert [text[s:e] + "@" + str(s) for s, e in uses_of("ALL", text)] == ["ALL@61"]


def _trial(summary: str, criteria: str) -> TrialText:
    return TrialText("NCT90000077", "Drug X in Hematologic Malignancies", ["Lymphoma"], [],
                     criteria, brief_summary=summary)


def _codes(annotation, fragment: str) -> list[str]:
    criterion = next(c for c in annotation.criteria if fragment in c.text)
    return [code for r in criterion.requirements if r.kind == "cancer_type"
            for code in r.params["codes"]]


def test_defined_acronym_names_the_population_of_a_cohort_list():
    criteria = ("Inclusion Criteria:\n\n* Has a confirmed diagnosis of one of the following:\n"
                "  * Participants with MCL who are relapsed (Cohort E)\n"
                "  * Participants with FL who are relapsed or refractory (Cohort G)\n")
    defined = _trial("This study enrolls mantle cell lymphoma (MCL) and follicular lymphoma "
                     "(FL).", criteria)
    assert sorted(_codes(annotate_trial(defined), "one of the following")) == ["FL", "MCL"]
    # Without the definition "FL" names nothing, and one unread alternative leaves the
    # group unread (the patient could be in it).
    undefined = _trial("This study enrolls lymphomas.", criteria)
    assert _codes(annotate_trial(undefined), "one of the following") == []


def test_an_undefined_or_exclusion_use_adds_nothing():
    trial = _trial("For follicular lymphoma (FL).",
                   "Inclusion Criteria:\n\n* Relapsed FL after 2 lines\n* Site in Tampa, FL\n\n"
                   "Exclusion Criteria:\n\n* Transformed FL\n")
    annotation = annotate_trial(trial)
    assert _codes(annotation, "Relapsed FL") == ["FL"]
    transformed = next(c for c in annotation.criteria if "Transformed FL" in c.text)
    assert transformed.kind == "exclusion"
    assert not any(r.kind == "cancer_type" and "FL" in r.params["codes"]
                   for r in transformed.requirements)
