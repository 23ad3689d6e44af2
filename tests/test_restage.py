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
    ("THPA", 60, Stage(group="I"), True, "IVB"),  # 55 or older: M1 is IVB (IVA is T4b M0)
    # where a stage IV group is M0 (AJCC 8th), distant spread gives the M1 group
    ("THME", 58, Stage(group="IVA", m="M0"), True, "IVC"),
    ("NPC", 45, Stage(group="III"), True, "IVB"),
    ("LXSC", 64, Stage(group="IVA"), True, "IVC"),
    ("LXSC", 64, Stage(group="IVC", m="M1"), True, "IVC"),  # already as far
    ("CCRCC", 60, Stage(group="IV"), True, "IV"),  # T4 M0 or M1: M1 is IV
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


@pytest.mark.parametrize("code,group,expected", [
    ("LXSC", "IVA", "M0"),     # larynx IVA: T4a or N2-3, M0
    ("LXSC", "IVC", None),     # IVC is M1
    ("LXSC", "IV", "either"),  # a bare IV may be IVA, IVB or IVC
    ("NPC", "IVB", None),      # nasopharynx IVB is M1
    ("CESC", "IVA", "M0"),     # bladder or rectal mucosa
    ("CCRCC", "IV", "either"),  # T4 M0 or M1
    ("LUAD", "IVA", None),     # lung IVA is M1a/M1b
    ("PRAD", "IVA", "M0"),     # N1 M0
])
def test_stage_iv_groups_that_are_no_distant_spread(code, group, expected):
    assert distant_stage_rules().stage_iv_m(code, group, get_vocabulary().is_a) == expected
    assert all(r.source for r in distant_stage_rules().stage_iv)


@pytest.mark.parametrize("entry,message", [
    ({"codes": ["HEAD_NECK"], "groups": ["IVA"], "m": "M2", "source": "x"}, "'m' must be"),
    ({"codes": ["HEAD_NECK"], "groups": ["IIIA"], "m": "M0", "source": "x"}, "stage IV"),
    ({"codes": ["HEAD_NECK"], "groups": ["IVA"], "m": "M0"}, "keys must be"),
    ({"codes": ["KIDNEY"], "groups": ["IV"], "m": "either", "source": "x", "m1_group": "IV"},
     "'m1_group' must be"),
])
def test_bad_stage_iv_entries_name_the_entry(entry, message):
    data = {"default": {"group": "IV", "source": "x"}, "exceptions": [],
            "stage_iv_without_m1": [entry]}
    with pytest.raises(DataFileError, match=message):
        build_distant_stage(data)


def test_a_head_and_neck_stage_iva_is_locally_advanced_not_metastatic():
    from trialmatch.match.evaluate import build_patient
    from trialmatch.models import CancerType, Profile

    profile = Profile(cancer_type=CancerType("LXSC", "Laryngeal Squamous Cell Carcinoma",
                                             "supraglottic SCC", 0, 16),
                      stage=Stage(group="IVA"))
    patient = build_patient(profile, ontology=get_vocabulary())
    assert patient.extent["metastatic"] is False
    assert patient.extent["locally_advanced"] is True and patient.extent["advanced"] is True
    # Distant spread stated in the notes still wins.
    spread = build_patient(profile, ontology=get_vocabulary(), metastatic=True)
    assert spread.extent["metastatic"] is True
    # A kidney cancer's bare stage IV leaves distant spread open (T4 M0 or M1).
    kidney = Profile(cancer_type=CancerType("CCRCC", "Renal Clear Cell Carcinoma", "ccRCC", 0,
                                            5), stage=Stage(group="IV"))
    assert build_patient(kidney, ontology=get_vocabulary()).extent["metastatic"] is None
    # M0 stated beside a stage IV group is not distant spread, whatever the cancer.
    stated = Profile(cancer_type=CancerType("LUAD", "Lung Adenocarcinoma", "adenocarcinoma", 0,
                                            14), stage=Stage(group="IV", m="M0"))
    assert build_patient(stated, ontology=get_vocabulary()).extent["metastatic"] is False


def test_a_stage_group_that_means_unresectable_disease():
    from trialmatch.match.evaluate import build_patient
    from trialmatch.models import CancerType, Profile

    def extent(code, group, prefix=None, t=None):
        profile = Profile(cancer_type=CancerType(code, code, code, 0, 3),
                          stage=Stage(group=group, prefix=prefix, t=t, m="M0"))
        return build_patient(profile, ontology=get_vocabulary()).extent

    assert extent("PLEMESO", "IIIB")["unresectable"] is True  # T4: technically unresectable
    assert extent("PAAD", "III")["unresectable"] is True
    assert extent("LUAD", "IIIC")["unresectable"] is True
    assert extent("LUAD", "IIIA")["unresectable"] is None     # some are resected
    assert extent("PAAD", "III", prefix="p", t="T4")["unresectable"] is not True  # resected
