"""Ranking: specificity, certainty, status and location parts, and their order."""

import pytest

from tests.test_evaluate import criterion, make_patient, make_trial, marker, req
from trialmatch.match.evaluate import evaluate_trial
from trialmatch.match.score import SPECIFICITY, location_part, score_trial
from trialmatch.models import Location


def scored(trial, patient=None, location=None):
    patient = patient or make_patient()
    return score_trial(trial, evaluate_trial(trial, patient), patient, location)


SPECIFICITY_TABLE = [
    ([criterion("inclusion", marker(marker="EGFR", alterations=["exon 19 deletion"]))],
     ("NSCLC",), "biomarker"),
    ([], ("LUAD",), "subtype"),
    ([], ("NSCLC",), "cancer_type"),
    ([], ("_SOLID",), "basket"),
    ([criterion("inclusion", marker(marker="ALK", status="negative"))], ("LUNG",),
     "cancer_type"),
]


@pytest.mark.parametrize("criteria,codes,level", SPECIFICITY_TABLE)
def test_specificity_levels(criteria, codes, level):
    score = scored(make_trial(criteria, codes=codes))
    assert score.parts["specificity"] == SPECIFICITY[level]


def test_biomarker_trial_outranks_cancer_type_trial_outranks_basket():
    biomarker = scored(make_trial(
        [criterion("inclusion", marker(marker="EGFR", alterations=["exon 19 deletion"]))]))
    cancer_type = scored(make_trial([]))
    basket = scored(make_trial([], codes=("_SOLID",)))
    assert biomarker.total > cancer_type.total > basket.total


def test_fewer_unknowns_rank_higher():
    clear = scored(make_trial([criterion("inclusion", req("age", min=18))]))
    murky = scored(make_trial([criterion("inclusion", req("age", min=18)),
                               criterion("inclusion", req("organ_function", measure="ANC"))]))
    assert clear.parts["certainty"] > murky.parts["certainty"]
    assert clear.total > murky.total


@pytest.mark.parametrize("status,expected", [
    ("RECRUITING", 1.0), ("NOT_YET_RECRUITING", 0.7), ("ENROLLING_BY_INVITATION", 0.4),
    ("COMPLETED", 0.1),
])
def test_status_part(status, expected):
    assert scored(make_trial([], status=status)).parts["status"] == expected


LOCATIONS = [Location("Cleveland Clinic", "Cleveland", "Ohio", "United States"),
             Location("Charite", "Berlin", None, "Germany")]


@pytest.mark.parametrize("case_location,locations,expected", [
    ({"country": "United States", "state": "Ohio"}, LOCATIONS, 1.0),
    ({"country": "USA", "state": "Texas"}, LOCATIONS, 0.6),
    ({"country": "France"}, LOCATIONS, 0.0),
    ({"country": "France"}, [], 0.3),
    (None, LOCATIONS, None),
])
def test_location_part(case_location, locations, expected):
    assert location_part(make_trial([], locations=locations), case_location) == expected


def test_location_counts_only_when_case_has_one():
    near = make_trial([], locations=LOCATIONS[:1])
    far = make_trial([], locations=LOCATIONS[1:])
    ohio = {"country": "United States", "state": "Ohio"}
    assert scored(near, location=ohio).total > scored(far, location=ohio).total
    assert scored(near).total == scored(far).total
    assert scored(near).parts["location"] is None


def test_any_pd_l1_level_is_not_a_biomarker_selection():
    any_level = scored(make_trial([criterion("inclusion", marker(marker="PD-L1", min_value=0,
                                                                 unit="TPS"))]))
    high = scored(make_trial([criterion("inclusion", marker(marker="PD-L1", min_value=50,
                                                            unit="TPS"))]))
    assert any_level.parts["specificity"] == SPECIFICITY["cancer_type"]
    assert high.parts["specificity"] == SPECIFICITY["biomarker"]


def test_a_trial_needing_an_untested_alteration_ranks_below_one_the_patient_fits():
    # KRAS G12D never tested: the basket is for someone else unless a test says otherwise.
    untested = make_trial([criterion("inclusion", marker(marker="KRAS", alterations=["G12D"]))],
                          codes=("_SOLID",))
    fits = make_trial([], codes=("_SOLID",), status="COMPLETED")
    needs = scored(untested)
    assert needs.parts["specificity"] < SPECIFICITY["basket"]
    assert "needs what the notes do not report" in needs.basis
    assert scored(fits).total > needs.total


def test_a_required_infection_the_notes_never_mention_demotes_the_trial():
    hiv = scored(make_trial([criterion("inclusion", req("infection", agents=["HIV"]))]))
    assert hiv.parts["specificity"] < SPECIFICITY["cancer_type"]
    # An excluded infection is screening, not a population.
    no_hiv = scored(make_trial([criterion("exclusion", req("infection", agents=["HIV"]))]))
    assert no_hiv.parts["specificity"] == SPECIFICITY["cancer_type"]


def test_a_required_absence_is_not_a_population_to_find():
    wild_type = scored(make_trial([criterion("inclusion", marker(marker="KRAS",
                                                                 status="negative"))]))
    assert "needs what" not in wild_type.basis


def test_treatment_trials_rank_before_other_purposes_whatever_the_score():
    from trialmatch.match.score import rank_key

    support = make_trial([], primary_purpose="SUPPORTIVE_CARE")
    phase1 = make_trial([], codes=("_SOLID",), primary_purpose="TREATMENT", status="COMPLETED")
    unknown = make_trial([], primary_purpose=None)
    ranked = sorted([support, phase1, unknown],
                    key=lambda t: rank_key(t, scored(t), "eligible"))
    assert ranked[-1] is support
    assert scored(support).total > scored(phase1).total  # its score alone would win


def test_an_eligible_trial_ranks_before_a_possibly_eligible_one_whatever_the_score():
    from trialmatch.match.score import rank_key

    basket = make_trial([], codes=("_SOLID",), primary_purpose="TREATMENT", status="COMPLETED")
    targeted = make_trial([], primary_purpose="TREATMENT")
    assert scored(targeted).total > scored(basket).total
    ranked = sorted([(targeted, "possibly_eligible"), (basket, "eligible")],
                    key=lambda pair: rank_key(pair[0], scored(pair[0]), pair[1]))
    assert [verdict for _, verdict in ranked] == ["eligible", "possibly_eligible"]
    # Non-treatment studies still come last, eligible or not.
    support = make_trial([], primary_purpose="SUPPORTIVE_CARE")
    assert rank_key(support, scored(support), "eligible") > \
        rank_key(basket, scored(basket), "possibly_eligible")


def test_a_trial_needing_an_unreported_finding_ranks_after_every_other():
    from trialmatch.match.score import rank_key

    # A treatment trial for HIV-positive patients (the notes never mention HIV) and one for a
    # KRAS G12D tumour never tested come after a supportive-care study the patient fits.
    hiv = make_trial([criterion("inclusion", req("infection", agents=["HIV"]))],
                     primary_purpose="TREATMENT")
    kras = make_trial([criterion("inclusion", marker(marker="KRAS", alterations=["G12D"]))],
                      primary_purpose="TREATMENT")
    support = make_trial([], primary_purpose="SUPPORTIVE_CARE", status="COMPLETED")
    assert scored(hiv).needs and scored(kras).needs and not scored(support).needs
    ranked = sorted([hiv, kras, support], key=lambda t: rank_key(t, scored(t), "eligible"))
    assert ranked[0] is support
