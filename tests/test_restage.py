"""The stage now: distant metastases stated in the notes restage the disease (issue 13)."""

import pytest

from trialmatch.errors import DataFileError
from trialmatch.match.restage import build_distant_stage, distant_stage_rules, restage
from trialmatch.models import Stage
from trialmatch.nlp.vocab import get_vocabulary

VOCAB = get_vocabulary()
IIB = Stage(prefix="p", t="T2", n="N1", m="M0", group="IIB", evidence="pT2 N1 M0, stage IIB")


@pytest.mark.parametrize("code,age,stage,metastatic,group", [
    ("IDC", 61, IIB, True, "IV"),            # bone metastasis ten years after stage IIB
    ("IDC", 61, IIB, None, "IIB"),           # nothing new: the written stage stands
    ("IDC", 61, None, True, "IV"),           # no stage written, metastases stated
    ("LUAD", 70, Stage(group="IVB", m="M1c"), True, "IVB"),  # already as far
    ("NSGCT", 30, IIB, True, "III"),         # testis: M1 is stage III (AJCC 8th ch. 59)
    ("THPA", 40, Stage(group="I"), True, "II"),  # differentiated thyroid < 55: M1 is II
    ("THPA", 60, Stage(group="I"), True, "IV"),
    ("GB", 50, None, True, None),            # primary CNS tumours have no AJCC group
    ("DLBCLNOS", 50, Stage(group="II"), True, "II"),  # lymphoma: never restaged this way
])
def test_restaging(code, age, stage, metastatic, group):
    now, before = restage(stage, code, age, metastatic, "CT: new osseous lesions", VOCAB)
    assert (now.group if now else None) == group
    if now is not stage:
        assert before is stage and now.m.startswith("M1") and "group" in now.derived
        assert "new osseous lesions" in now.evidence
    else:
        assert before is None


def test_every_rule_has_a_source():
    rules = distant_stage_rules()
    assert rules.default.source and all(r.source for r in rules.exceptions)


@pytest.mark.parametrize("data,message", [
    ({"default": {"group": "IV"}, "exceptions": []}, "missing 'source'"),
    ({"default": {"group": "V", "source": "x"}, "exceptions": []}, "'group' must be"),
    ({"default": {"group": "IV", "source": "x"}, "exceptions": [{"group": "III", "source": "y"}]},
     "'codes' must list"),
])
def test_bad_rules_name_the_entry(data, message):
    with pytest.raises(DataFileError, match=message):
        build_distant_stage(data)


def test_a_primary_brain_tumour_is_advanced_when_it_recurs_never_metastatic():
    from trialmatch.match.evaluate import build_patient
    from trialmatch.models import CancerType, Profile
    from trialmatch.nlp.vocab import get_vocabulary

    profile = Profile(cancer_type=CancerType("GB", "Glioblastoma, IDH-Wildtype", "GBM", 0, 3))
    new = build_patient(profile, ontology=get_vocabulary(), prior_therapies=["craniotomy"],
                        note_texts=["Newly diagnosed glioblastoma, gross total resection."])
    assert new.extent["metastatic"] is False and new.extent["locally_advanced"] is False
    assert new.extent["advanced"] is False
    back = build_patient(profile, ontology=get_vocabulary(),
                         note_texts=["MRI: recurrent glioblastoma, new enhancing lesion."])
    assert back.extent["advanced"] is True and back.extent["metastatic"] is False
    # The notes' word wins: a rare extraneural spread stated is metastatic.
    spread = build_patient(profile, ontology=get_vocabulary(), metastatic=True)
    assert spread.extent["metastatic"] is True
