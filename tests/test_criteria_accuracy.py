"""Table-driven tests of the parser fixes found with the gold cases: each row is a phrasing
seen in real trials, and the prior-therapy (or other) requirements it must give."""

import pytest

from trialmatch.nlp.requirements import parse_criterion


def _therapies(text, kind):
    return [(r.params["received"], sorted(r.params["drugs"] + r.params["classes"]))
            for r in parse_criterion(text, kind) if r.kind == "prior_therapy"]


@pytest.mark.parametrize("kind,text,expected", [
    # "and" joins requirements that must all hold; "or" keeps alternatives in one
    ("inclusion", "Prior treatment with trastuzumab and a taxane in any setting",
     [(True, ["trastuzumab"]), (True, ["taxane"])]),
    ("inclusion", "At least 2 prior lines, including fluoropyrimidine, oxaliplatin and "
                  "irinotecan", [(True, ["fluoropyrimidine"]), (True, ["oxaliplatin"]),
                                 (True, ["irinotecan"])]),
    ("inclusion", "Prior treatment with at least one androgen receptor pathway inhibitor, at "
                  "least one taxane (unless ineligible), and 2 cycles of radioligand therapy",
     [(True, ["androgen receptor inhibitor"]), (True, ["taxane"])]),
    ("inclusion", "Progression on alectinib, brigatinib, or lorlatinib",
     [(True, ["alectinib", "brigatinib", "lorlatinib"])]),
    ("inclusion", "Progressed after platinum-based chemotherapy and an anti-PD-(L)1 antibody "
                  "(e.g., pembrolizumab, nivolumab, or atezolizumab)",
     [(True, ["platinum"]),
      (True, ["PD-(L)1 inhibitor", "atezolizumab", "nivolumab", "pembrolizumab"])]),
    # "progressed after X" in an inclusion: X was received
    ("inclusion", "Disease progression after osimertinib", [(True, ["osimertinib"])]),
    # exclusions: alternatives whatever the conjunction
    ("exclusion", "Prior PARP inhibitor or platinum-based chemotherapy",
     [(True, ["PARP inhibitor", "platinum"])]),
    # side mentions: a condition, an event on a therapy, an option
    ("inclusion", "If prior (neo)adjuvant endocrine therapy was given, disease recurrence "
                  "more than 12 months after completion", []),
    ("exclusion", "Clinically significant cardiac disease, including LVEF drop to <40% on prior "
                  "HER2-directed therapy", []),
    ("exclusion", "Persistent grade 2 hematologic toxicity from prior chemotherapy", []),
    ("inclusion", "Completed first-line platinum-based chemotherapy with or without interval "
                  "debulking surgery", [(True, ["platinum"])]),
    ("inclusion", "At least 2 prior lines, including oxaliplatin (and an anti-EGFR antibody if "
                  "RAS wild-type)", [(True, ["oxaliplatin"])]),
    # exclusions stating more than receipt cannot exclude on receipt alone
    ("exclusion", "Prior treatment with any investigational fourth-generation ALK inhibitor", []),
    ("exclusion", "Prior treatment with a next-generation TRK inhibitor (selitrectinib, "
                  "repotrectinib)", [(True, ["repotrectinib"])]),
    ("exclusion", "Progression during first-line platinum chemotherapy", []),
    ("exclusion", "Prior treatment with a PD-1 inhibitor", [(True, ["PD-1 inhibitor"])]),
    # permissions
    ("inclusion", "Prior TRK inhibitor (larotrectinib, entrectinib) allowed in the pretreated "
                  "cohort", []),
])
def test_prior_therapy_phrasings(kind, text, expected):
    assert _therapies(text, kind) == expected


def test_toxicity_grade_is_not_a_line_count():
    found = parse_criterion("Persistent grade ≥ 2 hematologic toxicity from prior chemotherapy",
                            "exclusion")
    assert not [r for r in found if r.kind == "prior_lines"]
