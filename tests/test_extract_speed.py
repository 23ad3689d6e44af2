"""The shortcuts that keep `extract` fast (issue 16) find exactly what the long way finds.

Each shortcut skips work that cannot change a result: a whole-note tokenization nobody reads,
a regex pass over a note without the pattern's word, phrases that cannot start at a token.
These tests hold each one to the plain computation it replaces.
"""

import re

import pytest

from trialmatch.nlp import pipeline
from trialmatch.nlp.context import (
    load_cues,
    lowered_for_search,
    matches_at,
    may_match,
    phrase_pattern,
)
from trialmatch.nlp.notes import cut_long_runs, repair_ocr, repair_ocr_zeros
from trialmatch.nlp.sections import _merged_line_starts, load_section_rules
from trialmatch.nlp.vocab import _PhraseIndex, _tokenize, get_vocabulary

NOTES = [
    "FINAL DIAGNOSIS: Lung, right upper lobe, lobectomy: invasive adenocarcinomas, acinar "
    "predominant. Non-small cell lung carcinoma (NSCLC). TUMOUR'S SIZE 3 cm. pT2a pN0.",
    "received fresh. DIAGNOSIS. Colon, sigmoid: MODERATELY DIFFERENTIATED ADENOCARCINOMA; "
    "Histologic type: mucinous. Gross Description: ... Clinical History: breast cancer.",
    "Kidney: clear cell renal cell carcinoma, ISUP grade 3; ALL margins negative. "
    "Squamous cell carcinoma in situ (SCCIS) of the skin. Tumors' cells: carcinomas.",
    "ovarian high-grade serous carcinoma; HGSC; malignant melanoma; small cell lung cancer.",
]


def _bucket_scan(index: _PhraseIndex, text: str) -> list[tuple[str, int, int]]:
    """The phrase scan as first written: at each token, every phrase of its bucket, longest
    first, the first that matches wins."""
    tokens = _tokenize(text)
    norms = [index.plurals.get(n, n) for n in tokens.norms]
    found, i = [], 0
    while i < len(norms):
        for size, whole, tail, key, case_sensitive in index.by_first.get(norms[i], ()):
            if i + size > len(norms):
                continue
            if (tokens.raws[i:i + size] == whole) if case_sensitive else (
                    size == 1 or norms[i + 1:i + size] == tail):
                found.append((key, tokens.starts[i], tokens.ends[i + size - 1]))
                i += size
                break
        else:
            i += 1
    return found


@pytest.mark.parametrize("index_name", ["_cancer_index", "_site_index", "_histology_index",
                                        "_marker_index"])
@pytest.mark.parametrize("text", NOTES)
def test_trie_scan_finds_what_the_bucket_scan_finds(index_name, text):
    index = getattr(get_vocabulary(), index_name)
    assert [(m.key, m.start, m.end) for m in index.find(text)] == _bucket_scan(index, text)


def test_trie_scan_prefers_longest_then_first_in_bucket_and_follows_changes():
    index = _PhraseIndex()
    for phrase, key in [("small cell", "A"), ("small cell lung carcinoma", "B"),
                        ("SCC", "C"), ("small", "D")]:
        index.add(phrase, key, case_sensitive=phrase.isupper())
    index.freeze()
    text = "small cell lung carcinomas and small cell; SCC, scc, small"
    assert [m.key for m in index.find(text)] == ["B", "A", "C", "D"]
    assert [m.key for m in index.find(text)] == [k for k, _, _ in _bucket_scan(index, text)]
    index.remove_phrase("small cell lung carcinoma")
    assert [m.key for m in index.find(text)][:2] == ["A", "A"]


@pytest.mark.parametrize("text", [
    "FİGO stage IB", "fıgo stage IB", "Up-ſtaged from IIB", "\u212aRAS wild-type", "FIGO",
])
def test_lowered_for_search_keeps_every_letter_ignorecase_matches(text):
    """re's IGNORECASE matches i to ı and İ, s to ſ, k to the Kelvin sign: a word such a
    pattern finds is in the lowered text, so a skipped pass would have found nothing."""
    for word in ("figo", "staged", "kras"):
        if re.search(f"(?i){word}", text):
            assert word in lowered_for_search(text)


def test_may_match_only_rules_out_phrase_patterns_that_cannot_match():
    cues = load_cues()
    assert not may_match(cues.negation_pre, lowered_for_search("ER positive"))
    assert may_match(cues.negation_pre, lowered_for_search("NO evidence of"))
    assert may_match(re.compile("anything"), "")  # not a phrase pattern: never ruled out
    pattern = phrase_pattern(["consistent with", "-ve"])
    assert not may_match(pattern, "tumor") and may_match(pattern, "er -ve")
    for text in ("Consistent  with", "consistent-with", "er -VE", "positive"):
        assert bool(pattern.search(text)) <= may_match(pattern, lowered_for_search(text))


@pytest.mark.parametrize("text", [
    "DIAGNOSIS: x", ". DIAGNOSIS: x", "a.  DIAGNOSIS. b", "x.;  DIAGNOSIS: y",
    ";\tFinal Diagnosis: a. Gross Description: b; Clinical History: c",
    "no header here. just prose: diagnosis", "Diagnosis: x. Pre-Op Diagnosis : y",
    "x; FİNAL DIAGNOSIS: y. ſpecimen: z;  Gross  Description: w. Comment. v", *NOTES,
])
def test_merged_line_headers_are_found_as_by_a_full_scan(text):
    rules = load_section_rules()
    starts = _merged_line_starts(text, rules)
    for pattern in (rules.inline_pattern, rules.title_pattern):
        assert [m.span() for m in matches_at(pattern, text, starts)] == \
            [m.span() for m in pattern.finditer(text)]


@pytest.mark.parametrize("text, repaired", [
    ("CARClNOMA", "CARCINOMA"), ("ESTR0GEN", "ESTROGEN"), ("lnvasive", "Invasive"),
    ("T1N0M0 ABC1", "T1N0M0 ABC1"), ("F0R N0T C1D1", "FOR NOT C1D1"), ("carçinoma", "carcinoma"),
    ("Cl", "Cl"),
    ("small l", "small l"), ("AlBCD_x", "AlBCD_x"),
])
def test_repair_ocr_table(text, repaired):
    assert repair_ocr(text) == repaired


@pytest.mark.parametrize("text, repaired", [
    ("plt 2O5, Hgb 11.O, Cr O.9", "plt 205, Hgb 11.0, Cr 0.9"),
    ("1,2O4 and 12.,O5", "1,204 and 12.,O5"), ("O2 sat, pT2N0M0", "O2 sat, pT2N0M0"),
    ("ser0us carcin0ma, n0 rearrangement", "serous carcinoma, n0 rearrangement"),
    ("0ncology 0k", "oncology 0k"),
])
def test_repair_ocr_zeros_table(text, repaired):
    assert repair_ocr_zeros(text) == repaired


def test_cut_long_runs_still_cuts_after_its_quick_test():
    assert cut_long_runs("a" + "-" * 30 + "b") != "a" + "-" * 30 + "b"
    assert cut_long_runs("a" + "_" * 30) != "a" + "_" * 30
    assert cut_long_runs("a" + " \t" * 150 + "b") != "a" + " \t" * 150 + "b"
    assert cut_long_runs("a" + " " * 201 + "b") != "a" + " " * 201 + "b"  # no tab: str search
    assert cut_long_runs("a" + " " * 200 + "b") == "a" + " " * 200 + "b"
    assert cut_long_runs("a" + "-" * 24 + "b" + " " * 200) == "a" + "-" * 24 + "b" + " " * 200


def test_the_note_is_not_tokenized_when_no_component_reads_tokens(monkeypatch):
    nlp = pipeline.build_pipeline(None)
    seen: list[str] = []
    make_doc = nlp.make_doc

    def counting(text: str):
        seen.append(text)
        return make_doc(text)

    monkeypatch.setattr(nlp, "make_doc", counting)
    text = "Lung, biopsy: invasive ductal carcinoma (IDC), ER positive. " * 3
    doc = pipeline.run_pipeline(text)
    assert doc._.tm_abbreviations == {"IDC": "invasive ductal carcinoma"}
    assert text not in seen  # only the windows around "(IDC)" were tokenized
    assert not pipeline._reads_tokens(nlp)


def test_parentheses_that_cannot_be_abbreviations_are_not_tokenized(monkeypatch):
    nlp = pipeline.build_pipeline(None)
    seen: list[str] = []
    make_doc = nlp.make_doc
    monkeypatch.setattr(nlp, "make_doc", lambda text: seen.append(text) or make_doc(text))
    # "(A1)": no "a" word before it; "(x)": one letter; "(2.5 cm)" starts with a digit.
    doc = pipeline.run_pipeline("Block list (A1) and margin (x) measured (2.5 cm).")
    assert doc._.tm_abbreviations == {}
    assert seen == []
    assert pipeline._may_define("IDC", "invasive ductal carcinoma ")
    assert not pipeline._may_define("IDC", "ductal carcinoma ")  # no "i" before the "d"
    assert not pipeline._may_define("x", "x-ray ")
    assert not pipeline._may_define("T12", "thoracic ")  # fewer letters than digits


def test_a_definition_is_a_long_form_before_its_parenthesis_in_one_window():
    # The detector's other reading, "word (long form)", paired "left)" of one window with
    # the text of the next, and cut "Vessel) Invasion" out of a parenthesised aside.
    assert pipeline.run_pipeline(
        "Specimen: breast (left). Large Vessel (LV)")._.tm_abbreviations == {
            "LV": "Large Vessel"}
    assert pipeline.run_pipeline(
        "Venous/Lymphatic (Large/Small Vessel) Invasion (V/L): Present."
    )._.tm_abbreviations == {}


def test_a_model_with_its_own_components_still_gets_the_tokens(tmp_path):
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler")
    assert pipeline._reads_tokens(nlp)


@pytest.mark.parametrize("text", [
    "pT2 pN0 (0/12) pMX", "ypT1c N1mi M0", "yp T3", "pT3N1aM0", "STAT3 ITEM1 T2-weighted",
    "TNM 7 T3 N1 Mx. TNM 8 T3 N3 Mx", "rpT2a; cN0; M1c", "T is, TX NX, T1-4", "MTA RNA Ta pTa",
    *NOTES,
])
def test_tnm_categories_are_read_as_by_a_full_scan(text):
    from trialmatch.nlp.tnm import _TOKEN, _token_matches

    assert [m.span() for m in _token_matches(text)] == [m.span() for m in _TOKEN.finditer(text)]


@pytest.mark.parametrize("text", [
    "One. Two? three! (Four)", "a;b; c;", "line one\nline two\n  \n", "no\nBCR::ABL1",
    "ER positive, HER2\nnegative", "KRAS (codons 12, 13), BRAF,\nMET", "x \t\r\ny", "\nstart",
    "Dx: no\nmore", "without\nthe", "with \n Capital", *NOTES,
])
def test_clauses_are_cut_as_by_a_full_scan(text):
    from trialmatch.nlp.context import _CLAUSE_END, clause_spans, spans_between

    assert clause_spans(text) == spans_between(text, _CLAUSE_END)


def test_the_tokenizer_has_scispacys_affix_patterns_and_leaves_scispacy_as_it_was():
    """The tokenizer's affix patterns go through the compiled-pattern cache: they must be
    the ones scispaCy compiles itself, and scispaCy's module must be left unchanged."""
    from types import SimpleNamespace

    import spacy
    from scispacy import custom_tokenizer

    before = {name: getattr(custom_tokenizer, name) for name in
              ("compile_prefix_regex", "compile_suffix_regex", "compile_infix_regex")}
    nlp = spacy.blank("en")
    ours = pipeline._scispacy_tokenizer(nlp)
    theirs = custom_tokenizer.combined_rule_tokenizer(SimpleNamespace(
        vocab=nlp.vocab, Defaults=nlp.Defaults,
        tokenizer=SimpleNamespace(token_match=nlp.Defaults.token_match)))
    for attribute in ("prefix_search", "suffix_search", "infix_finditer"):
        assert getattr(ours, attribute).__self__.pattern == \
            getattr(theirs, attribute).__self__.pattern
    text = "HER2/neu 3+ (IHC), pT2N1a; Ki-67 ~20%. ER+/PR- [weak] 1.5x10^9/L"
    assert [t.text for t in ours(text)] == [t.text for t in theirs(text)]
    assert {name: getattr(custom_tokenizer, name) for name in before} == before


def _anchored_patterns():
    from trialmatch.nlp import biomarkers, cancer, grade, tnm

    return [
        (tnm._STAGE_GROUP, tnm._STAGE_GROUP_STARTS),
        (cancer._TYPE_FIELD, cancer._TYPE_FIELD_STARTS),
        (cancer._DISTANT_STATEMENT, cancer._DISTANT_STARTS),
        (grade._NOTTINGHAM, grade._NOTTINGHAM_STARTS),
        (grade._GRADE_N, grade._GRADE_N_STARTS),
        (grade._DIFFERENTIATED, grade._DIFFERENTIATED_STARTS),
        (grade._TWO_TIER, grade._TWO_TIER_STARTS),
        (biomarkers._NEGATIVE_HEADING, biomarkers._NEGATIVE_HEADING_STARTS),
    ]


@pytest.mark.parametrize("text", [
    "Pathologic stage: IIIA. AJCC 8th ed. IIB; UICC stage: IIIA, R0. TNM Overall Stage IV",
    "clinical  prognostic stage group (AJCC) = 2b; final stage 3; anatomic stage I",
    "Histologic type: mucinous. TUMOR TYPE - serous. Type of carcinoma: ductal; histology: x",
    "liver metastases; widely metastatic; metastases to the lung; distant metastasis present",
    "Nottingham grade 2; modified Scarff-Bloom-Richardson score 7/9; SBR 3; Elston-Ellis 8",
    "nuclear grade 2, histologic grade 3/3, tumour grade II-III; overall grade: 1",
    "well to moderately differentiated; poorly-differentiated; undifferentiated; un differ",
    "low-grade; high grade; intermediate  grade; yellow grade; HIGH-GRADE",
    "NEGATIVE FOR: KRAS, NRAS. not detected: x; No pathogenic variants detected in: BRCA1; "
    "none detected : a; wild-type for: b; Wildtype: c; -negative: d; non-negative: e",
    "ſtage İİ and \u212aI: FİGO ſtage, Tumour ſite; hıstologic type: x; İntermediate grade",
    *NOTES,
])
def test_anchored_patterns_match_as_by_a_full_scan(text):
    """Each pattern tried only where one of its start words starts finds what finditer
    finds: the words hold every match's first letters, in the folded text's offsets."""
    from trialmatch.nlp.context import word_starts

    for pattern, starts in _anchored_patterns():
        anchored = matches_at(pattern, text, word_starts(lowered_for_search(text), starts))
        assert [(m.span(), m.groups()) for m in anchored] == \
            [(m.span(), m.groups()) for m in pattern.finditer(text)]


@pytest.mark.parametrize("text", [
    "no evidence of carcinoma, but consistent with; not diagnostic of malignancy",
    "HER2 negative (score 1+), ER: positive, PR weakly positive; MLH1 loss, PMS2 intact",
    "history of ſuspicious; İNCİDENTAL focus; cannot be excluded; -ve; N0 evidence",
    "ruled out? rather than: positive/negative; not detected; equivocal (2+)",
    *NOTES,
])
def test_phrase_patterns_match_as_by_a_full_scan(text):
    """A cue list tried only where one of its phrases' first words starts finds what
    finditer and search find."""
    from trialmatch.nlp.biomarkers import _tables
    from trialmatch.nlp.context import phrase_matches, phrase_search

    cues = load_cues()
    patterns = [getattr(cues, name) for name in (
        "negation_pre", "negation_post", "hypothetical_pre", "hypothetical_post", "name_post",
        "historical_pre", "incidental_pre", "terminators", "benign")]
    patterns += [_tables().post, _tables().pre, re.compile(r"(?i)not|\+")]
    for pattern in patterns:
        assert [m.span() for m in phrase_matches(pattern, text)] == \
            [m.span() for m in pattern.finditer(text)]
        found = phrase_search(pattern, text)
        expected = pattern.search(text)
        assert (found and found.span()) == (expected and expected.span())


@pytest.mark.parametrize("text, rejoined", [
    ("uter ine primary", "uterine  primary"),
    ("adenocarcin oma of the test is", "adenocarcinoma  of the test is"),
    ("the lung and left breast", "the lung and left breast"),
    ("NOT identif ied", "NOT identified "),
    ("Uter ine primary, café", "Uterine  primary, café"),  # not ASCII: the other path
    ("uter ine primary, \u212aelvin", "uterine  primary, \u212aelvin"),
    ("", ""),
])
def test_split_words_are_rejoined_after_the_quick_pass(text, rejoined):
    """The findall pass that rules most notes out lets every rejoinable pair through."""
    assert get_vocabulary().rejoin_split_words(text, load_cues().words) == rejoined


def test_o_for_zero_repair_is_the_full_scan_repair():
    """The quick O-beside-a-digit gate and the CD-first pattern change no repair: random
    strings of digits, O's, stops, CD and letters are repaired as by the plain patterns."""
    import random

    from trialmatch.nlp import notes

    number = re.compile(notes._OCR_O_NUMBER.pattern)
    cd = re.compile(r"(?<![A-Za-z0-9])CD(?=[\dO]*\d)[\dO]{1,3}(?![A-Za-z0-9])")
    rng = random.Random(16)
    pieces = ["O", "0", "1", "2", ".", ",", " ", "CD", "a", "x", "T", "N", "\n", "OO", "12"]
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        expected = cd.sub(notes._zeros_for_o, number.sub(notes._zeros_for_o, text))
        gated = text
        if notes._O_BY_DIGIT.search(text):
            gated = notes._OCR_O_NUMBER.sub(notes._zeros_for_o, gated)
        gated = notes._OCR_O_CD.sub(notes._zeros_for_o, gated)
        assert gated == expected, text


def test_tnm_categories_in_random_strings_are_read_as_by_a_full_scan():
    """Prefixes, axis letters inside words, blanks and OCR letters in every order."""
    import random

    from trialmatch.nlp.tnm import _TOKEN, _token_matches

    rng = random.Random(3)
    pieces = ["p", "y", "c", "r", "a", "T", "N", "M", "1", "2", "0", "X", "is", " ", "S", "A",
              "(", ")", "mi", "b", "P", "Y", "R", "C", "I", "l", "O", "\n"]
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        assert [m.span() for m in _token_matches(text)] == \
            [m.span() for m in _TOKEN.finditer(text)], text
