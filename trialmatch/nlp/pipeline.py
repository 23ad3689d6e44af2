"""The spaCy pipeline for notes: scispaCy's tokenizer and abbreviation detector, then the
project's components, each a thin wrapper around a pure function of this package.

    tokenizer            scispaCy combined_rule_tokenizer (keeps HER2/neu, pT2, Ki-67 whole)
    abbreviation_detector  scispaCy (Schwartz-Hearst): "invasive ductal carcinoma (IDC)"
    trialmatch_sections  sections.find_sections            -> doc._.tm_sections
    trialmatch_cancer    cancer.find_cancer_candidates     -> doc._.tm_cancer
                         cancer.find_distant_statements    -> doc._.tm_distant
    trialmatch_stage     tnm.find_tnm / find_stage_groups  -> doc._.tm_tnm, doc._.tm_groups
    trialmatch_grade     grade.find_grades                 -> doc._.tm_grades
    trialmatch_biomarkers  biomarkers.find_biomarker_mentions -> doc._.tm_biomarkers

The rules run on the raw text (with section offsets), so results do not depend on token
boundaries; spaCy contributes abbreviations (its tokenizer reads the text around each
parenthesis) and, with `--model`, the entities of an installed scispaCy model as an extra
source of cancer mentions; only then is the whole note tokenized (`_reads_tokens`). No Doc
leaves `trialmatch.nlp`: `trialmatch.nlp.extract` turns the attributes into models.py
dataclasses.
"""

from __future__ import annotations

import bisect
import importlib.util
import itertools
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from trialmatch.errors import InputError
from trialmatch.regex_cache import re_compile

_EXTENSIONS = ("tm_text", "tm_clauses", "tm_sections", "tm_cancer", "tm_distant", "tm_tnm",
               "tm_groups", "tm_grades", "tm_biomarkers", "tm_abbreviations")


def _register_extensions() -> None:
    from spacy.tokens import Doc

    for name in _EXTENSIONS:
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)


def _abbreviation_map(doc: Any) -> dict[str, str]:
    """Short form -> long form from scispaCy's abbreviation detector."""
    found: dict[str, str] = {}
    for short in getattr(doc._, "abbreviations", None) or ():
        long_form = getattr(short._, "long_form", None)
        if long_form is not None:
            found.setdefault(short.text, long_form.text)
    return found


def _model_entities(doc: Any) -> list[tuple[int, int, str]]:
    return [(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents]


class SectionsComponent:
    """Finds report sections (FINAL DIAGNOSIS, CLINICAL HISTORY, ...) and their weights."""

    def __call__(self, doc: Any) -> Any:
        from trialmatch.nlp.context import clause_spans
        from trialmatch.nlp.sections import find_sections

        ext = doc._  # (each `doc._` makes a new accessor: one per component)
        # Doc.text rebuilds the string from the tokens on every access: run_pipeline sets
        # the text it was given; read it once otherwise.
        if ext.tm_text is None:
            ext.tm_text = doc.text
        ext.tm_sections = find_sections(ext.tm_text)
        ext.tm_clauses = clause_spans(ext.tm_text)
        if ext.tm_abbreviations is None:
            ext.tm_abbreviations = _abbreviation_map(doc)
        return doc


class CancerComponent:
    """Cancer-type candidates (direct phrases and site + histology), with their context."""

    def __call__(self, doc: Any) -> Any:
        from trialmatch.nlp.cancer import find_cancer_candidates, find_distant_statements

        ext = doc._
        ext.tm_cancer = find_cancer_candidates(
            ext.tm_text, ext.tm_sections, abbreviations=ext.tm_abbreviations,
            entities=_model_entities(doc) if doc.ents else (), clauses=ext.tm_clauses,
        )
        ext.tm_distant = find_distant_statements(ext.tm_text, ext.tm_sections, ext.tm_clauses)
        return doc


class StageComponent:
    """TNM categories and stage groups as written."""

    def __call__(self, doc: Any) -> Any:
        from trialmatch.nlp.tnm import find_stage_groups, find_tnm

        ext = doc._
        ext.tm_tnm = find_tnm(ext.tm_text)
        ext.tm_groups = find_stage_groups(ext.tm_text)
        return doc


class GradeComponent:
    """Grade statements (G1-G4, Nottingham, Gleason, WHO, differentiation)."""

    def __call__(self, doc: Any) -> Any:
        from trialmatch.nlp.grade import find_grades

        doc._.tm_grades = find_grades(doc._.tm_text)
        return doc


class BiomarkersComponent:
    """Biomarker results (marker, alteration, status, value) per mention."""

    def __call__(self, doc: Any) -> Any:
        from trialmatch.nlp.biomarkers import find_biomarker_mentions

        ext = doc._
        ext.tm_biomarkers = find_biomarker_mentions(ext.tm_text, clauses=ext.tm_clauses)
        return doc


_FACTORIES_REGISTERED = False
_TOKENIZER = "trialmatch.scispacy_tokenizer.v1"


def _scispacy_tokenizer(nlp: Any) -> Any:
    """scispaCy's combined_rule_tokenizer for `nlp`, built while `nlp` is being made (it
    has no tokenizer yet): the one thing scispaCy reads from the default tokenizer, its
    token_match, is the language's default."""
    from types import SimpleNamespace

    from scispacy import custom_tokenizer

    # Its three affix patterns (one of them ~2,000 alternatives) are compiled through the
    # compiled-pattern cache: the same expressions spaCy's compile_*_regex write, ~60 ms
    # less at each start (issue 19). Put back at once; built once per process.
    compilers = {
        "compile_prefix_regex": lambda entries: re_compile(
            "|".join(["^" + piece for piece in entries if piece.strip()])),
        "compile_suffix_regex": lambda entries: re_compile(
            "|".join([piece + "$" for piece in entries if piece.strip()])),
        "compile_infix_regex": lambda entries: re_compile(
            "|".join([piece for piece in entries if piece.strip()])),
    }
    with _TOKENIZER_LOCK:
        spacy_compilers = {name: getattr(custom_tokenizer, name) for name in compilers}
        try:
            for name, compiler in compilers.items():
                setattr(custom_tokenizer, name, compiler)
            return custom_tokenizer.combined_rule_tokenizer(SimpleNamespace(  # type: ignore[arg-type]
                vocab=nlp.vocab, Defaults=nlp.Defaults,
                tokenizer=SimpleNamespace(token_match=nlp.Defaults.token_match)))
        finally:
            for name, compiler in spacy_compilers.items():
                setattr(custom_tokenizer, name, compiler)


_TOKENIZER_LOCK = threading.Lock()


def _register_factories() -> None:
    global _FACTORIES_REGISTERED
    if _FACTORIES_REGISTERED:
        return
    import spacy
    from spacy.language import Language

    spacy.registry.tokenizers(_TOKENIZER)(lambda: _scispacy_tokenizer)

    Language.factory("trialmatch_sections")(lambda nlp, name: SectionsComponent())
    Language.factory("trialmatch_cancer")(lambda nlp, name: CancerComponent())
    Language.factory("trialmatch_stage")(lambda nlp, name: StageComponent())
    Language.factory("trialmatch_grade")(lambda nlp, name: GradeComponent())
    Language.factory("trialmatch_biomarkers")(lambda nlp, name: BiomarkersComponent())
    _FACTORIES_REGISTERED = True


def model_installed(name: str) -> bool:
    """Whether `name` is an importable spaCy/scispaCy model package or a saved pipeline
    directory."""
    if Path(name).is_dir():
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@lru_cache(maxsize=4)
def build_pipeline(model: str | None = None) -> Any:
    """The note pipeline, built once per process and model name.

    Without `model`, a blank English pipeline with scispaCy's tokenizer. With `model`, that
    installed scispaCy model package (or saved pipeline directory), whose entities add
    cancer mentions; InputError when it is not installed.
    """
    import scispacy.abbreviation  # noqa: F401  (registers "abbreviation_detector")
    import spacy

    _register_extensions()
    _register_factories()
    if model is not None:
        if not model_installed(model):
            raise InputError(
                f"spaCy model '{model}' is not installed",
                hint="install the scispaCy model package, or leave out --model to use the "
                     "built-in rules",
            )
        nlp = spacy.load(model, exclude=["parser", "lemmatizer", "tagger", "attribute_ruler"])
    else:
        with warnings.catch_warnings():
            # scispaCy's tokenizer rules trigger a FutureWarning in re: harmless.
            warnings.simplefilter("ignore", FutureWarning)
            # The tokenizer is named in the config, so English's default tokenizer (1,300
            # special cases) is not built only to be replaced.
            nlp = spacy.blank("en", config={"nlp": {"tokenizer": {"@tokenizers": _TOKENIZER}}})
    with warnings.catch_warnings():
        # scispaCy's detector warns that its global matcher has no patterns: expected.
        warnings.simplefilter("ignore")
        nlp.add_pipe("abbreviation_detector")
    for name in ("trialmatch_sections", "trialmatch_cancer", "trialmatch_stage",
                 "trialmatch_grade", "trialmatch_biomarkers"):
        nlp.add_pipe(name)
    # Long notes are cut into parts before they reach spaCy (extract.MAX_PART_CHARS).
    nlp.max_length = 2_000_000
    return nlp


def run_pipeline(text: str, model: str | None = None) -> Any:
    """Run the pipeline on one text; the Doc stays inside trialmatch.nlp."""
    from trialmatch.nlp.notes import cut_long_runs

    nlp = build_pipeline(model)
    # Long punctuation and space runs are quadratic in the tokenizer and the clause splitter:
    # cut, same length (offsets hold).
    text = cut_long_runs(text)
    components = nlp.pipeline  # (a new list at each access: read once)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if _reads_tokens(nlp, components):
            doc = nlp.make_doc(text)
        else:
            # The rules read doc._.tm_text, never the tokens: without a model whose
            # components read them, tokenizing the whole note (as costly as every rule
            # together) would be thrown away. The Doc only carries the components' results.
            from spacy.tokens import Doc

            doc = Doc(nlp.vocab)
        doc._.tm_text = text
        for name, component in components:
            if name == "abbreviation_detector":
                # Definitions are written "long form (SF)": the detector reads only the
                # sentences around parentheses, which keeps a long note fast.
                doc._.tm_abbreviations = _abbreviations_near_parentheses(nlp, component, text)
                continue
            doc = component(doc)
        return doc


_OWN_PIPES = frozenset(("abbreviation_detector", "trialmatch_sections", "trialmatch_cancer",
                        "trialmatch_stage", "trialmatch_grade", "trialmatch_biomarkers"))


def _reads_tokens(nlp: Any, components: Any = None) -> bool:
    """Whether a component of the pipeline reads the note's tokens: those of an installed
    model (`--model`: its entities add cancer mentions). The abbreviation detector reads its
    own windows (`_abbreviations_near_parentheses`); the project's components read the text.
    `components`: `nlp.pipeline`, when read already."""
    return any(name not in _OWN_PIPES
               for name, _ in (nlp.pipeline if components is None else components))


_PARENTHESISED = re_compile(r"\(\s*([A-Za-z][A-Za-z0-9/\-]{0,9})\s*\)")


def _may_define(short: str, before: str) -> bool:
    """Whether `before` can hold a long form of `short` by Schwartz-Hearst's tests, which
    scispaCy's detector applies: 2+ characters, starting with a letter, half or more
    letters, and its letters and digits found in order, right to left, in the text before.
    Only a window that passes can yield a definition; most parentheses ("(A1)", "(see
    comment)", "(x3)") do not, and are not tokenized for nothing."""
    if len(short) < 2 or not short[0].isalpha() or 2 * sum(map(str.isalpha, short)) < len(
            short):
        return False
    lowered = before.lower()
    position = len(lowered)
    for char in reversed(short.lower()):
        if char.isalnum():
            position = lowered.rfind(char, 0, position)
            if position < 0:
                return False
    return True


def _abbreviations_near_parentheses(nlp: Any, detector: Any, text: str) -> dict[str, str]:
    """Short form -> long form, from scispaCy's detector run on the text around each
    parenthesised short form (up to 120 characters before it) that may define one."""
    windows = []
    for match in _PARENTHESISED.finditer(text):
        before = text[max(0, match.start() - 120) : match.start()]
        if _may_define(match.group(1), before):
            windows.append(before + match.group(0))
    if not windows:
        return {}
    joined = " ;\n".join(windows)
    mini = detector(nlp.make_doc(joined))
    from scispacy.abbreviation import span_contains_unbalanced_parentheses

    # A definition is "long form (SF)" inside one window: the detector's other reading,
    # "SF (long form)", pairs a word with whatever a parenthesis holds, and across windows
    # with unrelated text ("continued) ;\n: Y. Specimen").
    ends = list(itertools.accumulate(len(window) + 3 for window in windows))
    found: dict[str, str] = {}
    for short in getattr(mini._, "abbreviations", None) or ():
        long_form = getattr(short._, "long_form", None)
        if long_form is not None and long_form.end_char <= short.start_char and (
                joined[long_form.end_char : short.start_char].strip() == "(") and (
                not span_contains_unbalanced_parentheses(long_form)) and (
                bisect.bisect_right(ends, long_form.start_char)
                == bisect.bisect_right(ends, short.end_char - 1)):
            found.setdefault(short.text, long_form.text)
    return found
