"""Stage groups from T, N and M by cancer site (trialmatch.nlp.stage_groups)."""

import pytest

from trialmatch.errors import DataFileError
from trialmatch.models import Biomarker, Stage
from trialmatch.nlp.stage_groups import build_systems, group_from_tnm, staging_systems
from trialmatch.nlp.vocab import get_vocabulary


def _group(code, t, n, m=None, prefix="c", age=None, markers=()):
    stage = group_from_tnm(Stage(prefix=prefix, t=t, n=n, m=m), code, get_vocabulary(), age,
                           [Biomarker(marker=k, alteration=None, status=v) for k, v in markers])
    return stage.group, stage.derived


@pytest.mark.parametrize("code,t,n,m,expected", [
    ("IDC", "T2", "N0", "M0", "IIA"),     # breast, anatomic
    ("IDC", "T1c", "N1mi", None, "IB"),
    ("IDC", "T4b", "N1", None, "IIIB"),
    ("IDC", "T2", "N3a", None, "IIIC"),
    ("LUAD", "T1b", "N0", None, "IA2"),   # lung
    ("LUAD", "T2a", "N2", None, "IIIA"),
    ("LUAD", "T3", "N0", "M1c", "IVB"),
    ("COAD", "T3", "N0", None, "IIA"),    # colon
    ("COAD", "T4b", "N1a", None, "IIIC"),
    ("BLCA", "T2a", "N0", "M0", "II"),    # bladder
    ("CCRCC", "T3a", "N0", None, "III"),  # kidney
])
def test_the_site_table_gives_the_group(code, t, n, m, expected):
    group, derived = _group(code, t, n, m)
    assert group == expected and derived == ["group"]


def test_hpv_associated_oropharyngeal_cancer_is_staged_apart():
    assert _group("OPHSC", "T3", "N2", markers=[("p16", "positive")])[0] == "II"
    assert _group("OPHSC", "T3", "N2", markers=[("p16", "negative")])[0] == "IVA"
    # p16 never tested: the two tables disagree, so no group
    assert _group("OPHSC", "T3", "N2")[0] is None
    # pathological staging has its own table
    assert _group("OPHSC", "T3", "N2", prefix="p", markers=[("HPV", "positive")])[0] == "III"


def test_differentiated_thyroid_cancer_needs_the_age():
    assert _group("THPA", "T3b", "N1b", prefix="p", age=68)[0] == "II"
    assert _group("THPA", "T3b", "N1b", prefix="p", age=40)[0] == "I"
    assert _group("THPA", "T3b", "N1b", prefix="p")[0] is None


def test_a_written_group_or_missing_categories_give_nothing():
    written = Stage(t="T2", n="N0", group="IIB")
    assert group_from_tnm(written, "IDC", get_vocabulary()) is written
    assert _group("IDC", "T2", None)[0] is None
    assert _group("GB", "T2", "N0")[0] is None  # no table for the type


def test_every_system_has_a_source_and_known_codes():
    vocabulary = get_vocabulary()
    for system in staging_systems():
        assert system.source.startswith("AJCC")
        assert all(vocabulary.entry(code) is not None for code in system.codes)


def test_a_broken_system_is_named():
    with pytest.raises(DataFileError, match="system 'x'.*rule #0"):
        build_systems({"source": "s", "systems": [{"name": "x", "codes": ["IDC"],
                                                     "source": "AJCC", "rules": [["T1"]]}]})
