"""Lines of therapy as the notes tell them: line labels, settings and stated counts
(`match.lines.read_course`), and what the patient's line count makes of them."""

from tests.test_evaluate import ONTOLOGY
from trialmatch.match.evaluate import build_patient, evaluate_requirement
from trialmatch.match.lines import read_course
from trialmatch.models import CancerType, Profile, Requirement
from trialmatch.nlp.drugs import classes_of, normalise_drug

HISTORY = [
    "* 05/2016 lumpectomy, adjuvant letrozole 07/2016 -> 07/2021, completed.",
    "* 1L 04/2024 letrozole + ribociclib, PR; PD 10/2026.",
    "* 2L: capecitabine 11/2026 -> 02/2027, PD.",
    "Plan: 3L docetaxel vs trial; consider eribulin next.",
]
BREAST = Profile(cancer_type=CancerType("IDC", "Breast Invasive Ductal Carcinoma", "IDC", 0, 3))


def test_the_notes_number_the_lines_and_name_the_settings():
    course = read_course(HISTORY)
    assert course.lines == {"letrozole": frozenset({1}), "ribociclib": frozenset({1}),
                            "capecitabine": frozenset({2})}
    assert course.settings["letrozole"] == frozenset({"adjuvant", "advanced"})
    # what is planned or considered was not given
    assert "docetaxel" not in course.lines and "eribulin" not in course.settings
    assert course.stated_lines is None


def test_a_stated_count_of_lines_is_read_unless_planned():
    assert read_course(["Progressed after 3 prior lines in the metastatic setting."]
                       ).stated_lines == 3
    assert read_course(["s/p two lines of therapy for metastatic disease"]).stated_lines == 2
    assert read_course(["Plan: would consider 2 prior lines acceptable"]).stated_lines is None


def _patient(entries, notes):
    return build_patient(BREAST, ontology=ONTOLOGY, prior_therapies=entries, note_texts=notes,
                         normalise_drug=normalise_drug, classes_of=classes_of)


def test_numbered_lines_set_the_count_and_a_drug_given_twice_may_be_two_courses():
    entries = ["letrozole", "ribociclib", "capecitabine"]
    # Alone, three single drugs could be one line or three.
    assert _patient(entries, []).prior_lines == (1, 3)
    patient = _patient(entries, HISTORY)
    # "1L ... 2L capecitabine": at least two lines; letrozole was given adjuvant as well.
    assert patient.prior_lines == (2, 4)
    assert [r.line for r in patient.prior_regimens] == [1, 1, 2]
    assert patient.prior_regimens[0].also_adjuvant


def test_a_stated_count_is_a_floor_on_the_lines():
    patient = _patient(["docetaxel"], ["Metastatic disease, s/p 3 prior lines; on docetaxel."])
    assert patient.prior_lines[0] == 3


def test_a_count_of_one_class_counts_only_its_lines():
    patient = _patient(["letrozole", "ribociclib", "capecitabine"], HISTORY)
    one_chemo = Requirement("prior_lines", {"min": None, "max": 1,
                                            "classes": ["chemotherapy"]}, "", 0, 0)
    assert evaluate_requirement(one_chemo, patient).truth is True
    two_chemo = Requirement("prior_lines", {"min": 2, "max": None,
                                            "classes": ["chemotherapy"]}, "", 0, 0)
    assert evaluate_requirement(two_chemo, patient).truth is False
    all_lines = Requirement("prior_lines", {"min": 2, "max": None}, "", 0, 0)
    assert evaluate_requirement(all_lines, patient).truth is True


def test_supportive_care_is_no_line_of_therapy():
    # zoledronic acid beside osimertinib is no second line; dexamethasone alone neither
    patient = _patient(["osimertinib", "zoledronic acid", "dexamethasone"], [])
    assert patient.prior_lines == (1, 1)
    # ... in a regimen the other drugs make the line
    assert _patient(["abiraterone + prednisone"], []).prior_lines == (1, 1)


def test_a_line_the_notes_count_is_for_the_advanced_disease():
    # A single course after a stage I-III diagnosis reads as curative-intent, unless the notes
    # count it as a line ("after 1 line of multikinase TKI").
    from tests.test_evaluate import make_patient
    from trialmatch.match.evaluate import PriorTherapy, _first_course_only

    lenvatinib = PriorTherapy("lenvatinib", frozenset({"lenvatinib"}),
                              frozenset({"tyrosine kinase inhibitor"}), True, None, False)
    facts = dict(cancer_code="THPA", stage_group="II", stage_m="M0", stage_prefix="p",
                 age=60.0, prior_regimens=[lenvatinib], relapse_noted="recurrent PTC")
    assert _first_course_only(make_patient(**facts))[0] is False
    assert _first_course_only(make_patient(**facts, stated_lines=1)) is None
