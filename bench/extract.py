"""Score `trialmatch extract` against labelled real pathology reports, and time it.

    python bench/extract.py [--data PATH] [--limit N] [--errors FIELD]

Default data: ../shared/pathology/tcga_dev.jsonl next to the repository (TCGA reports with
registry labels; see its README). Labels are patient-level registry values, not annotations
of the text, so each field is scored two ways:
- accuracy over the reports whose label is *stated* in the text (a simple check per field:
  the label's token appears, e.g. "T3a" as a token for t, "stage IIIA" for the group, the
  marker with a result word for biomarkers);
- coverage over all reports that carry the label (how often the extractor gives a value).
Cancer type is scored over all reports: TCGA project -> OncoTree family (MAPPING below);
"strict" counts a code in the family, "lineage" also accepts a broader code above it (not a
bare tissue). "Benign" runs the extractor on benign statements cut from the same reports
("negative for carcinoma", "benign fibroadipose tissue") and on the benign fixture notes,
and counts how often a cancer type is asserted (target: never).

Every figure is printed for two halves of the reports, dev and held-out (see `half_of`):
rules are tuned on the dev half only, and the held-out half is run before an issue is
resolved. (Sessions before this split tuned on all 525 reports, so the held-out half is not
yet clean; the blind reports the project is scored on are the real test.)

Prints figures only: no report text, no identifiers (use --errors FIELD to list the row
numbers and values of the dev half's misses for one field, for development).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import resource
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from trialmatch.nlp.context import clause_spans  # noqa: E402
from trialmatch.nlp.extract import extract  # noqa: E402
from trialmatch.nlp.pipeline import build_pipeline  # noqa: E402
from trialmatch.nlp.tnm import normalise_stage_group  # noqa: E402
from trialmatch.nlp.vocab import get_vocabulary  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "pathology" / "tcga_dev.jsonl"
WARM_UP = "FINAL DIAGNOSIS: Invasive ductal carcinoma (IDC), grade 2, pT1c pN0. ER positive."

# TCGA project -> the OncoTree codes whose families it covers. TCGA COAD/READ include
# mucinous adenocarcinomas (OncoTree MACR, filed under COADREAD); TCGA ESCA and STAD include
# gastro-oesophageal junction adenocarcinomas (OncoTree GEJ).
MAPPING: dict[str, list[str]] = {
    "BRCA": ["BRCA", "BREAST"], "COAD": ["COAD", "MACR"], "READ": ["READ", "MACR"],
    "KIRC": ["CCRCC"],
    "KIRP": ["PRCC"], "KICH": ["CHRCC"], "LUAD": ["LUAD"], "LUSC": ["LUSC"], "LIHC": ["HCC"],
    "THCA": ["THPA", "WDTC"], "HNSC": ["HNSC"], "STAD": ["STAD", "GEJ"], "CESC": ["CERVIX"],
    "PRAD": ["PRAD"], "PAAD": ["PAAD"], "ACC": ["ACC"], "MESO": ["PLMESO", "MESO", "PEMESO"],
    "SKCM": ["SKCM", "MEL"], "ESCA": ["ESCA", "ESCC", "GEJ"], "TGCT": ["NSGCT", "SEM", "TESTIS"],
    "CHOL": ["CHOL"], "UVM": ["UM"], "BLCA": ["BLCA"],
}
# Codes too broad to count even in the lenient "lineage" score.
TOO_BROAD = {"BREAST", "TESTIS"}

_BENIGN_CLAUSE = re.compile(
    r"(?i)\b(?:benign\s+\w+|negative\s+for\s+(?:malignancy|carcinoma|tumou?r|neoplasm)|"
    r"no\s+(?:carcinoma|malignancy|tumou?r|neoplasm)\s+(?:is\s+)?(?:identified|seen|present))"
)
_CANCER_WORDS = re.compile(r"(?i)carcinoma|cancer|malignan|tumou?r|neoplasm|sarcoma|melanoma|"
                           r"lymphoma|metasta|seminoma|mesothelioma|leukemia|blastoma")


def _token(text: str, label: str) -> bool:
    # "Blocks T1-4" is a range of block labels, not a category.
    return bool(re.search(rf"(?i)(?<![A-Za-z0-9])(?:y?[pcr])?{re.escape(label)}"
                          rf"(?![A-Za-z0-9]|\s*-\s*\d)", text))


def _stage_stated(text: str, group: str) -> bool:
    roman, suffix = re.match(r"(IV|III|II|I|0)(.*)", group).groups()  # type: ignore[union-attr]
    arabic = {"I": "1", "II": "2", "III": "3", "IV": "4", "0": "0"}[roman]
    pattern = rf"(?i)stage\s*(?:group(?:ing)?)?\s*[:\-]?\s*(?:{roman}|{arabic})\s*-?\s*{suffix}" \
              r"(?![A-Za-z0-9])"
    return bool(re.search(pattern, text))


_GRADE_WORDS = {1: "well", 2: "moderately", 3: "poorly", 4: "undifferentiated"}
_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


def _grade_stated(text: str, label: str) -> bool:
    if label.lower() in ("high grade", "low grade"):
        return bool(re.search(rf"(?i){label.split()[0]}[\s-]+grade", text))
    number = int(label[1])
    return bool(re.search(rf"(?i)(?<![A-Za-z0-9])G{number}(?![A-Za-z0-9])|grade\s*[:\-]?\s*"
                          rf"(?:{number}|{_ROMAN[number]})(?![A-Za-z0-9])|"
                          rf"{_GRADE_WORDS[number]}[\s-]+differentiated", text))


_MARKER_WORDS = {
    "ER": r"\bER\b|estrogen|oestrogen", "PR": r"\bPR\b|\bPgR\b|progesterone",
    "HER2": r"HER-?2|ERBB2|c-erbB", "EGFR": r"\bEGFR\b", "KRAS": r"\bK-?RAS\b",
    "MSI": r"microsatellite|\bMSI\b|\bMSS\b",
}
_RESULT_WORDS = (r"positive|negative|equivocal|detected|identified|wild[\s-]*type|mutated|mutant|"
                 r"amplified|stable|unstable|high|low|[0-3]\s*\+|\d+\s*%|\(\s*[+-]\s*\)")


def _marker_stated(text: str, marker: str) -> bool:
    return bool(re.search(rf"(?i)(?:{_MARKER_WORDS[marker]})[^.;]{{0,60}}?(?:{_RESULT_WORDS})",
                          text))


def _prediction_for(profile: dict, marker: str) -> str | None:
    found = [b for b in profile["biomarkers"] if b["marker"] == marker]
    if marker == "HER2":
        # The label is the IHC result: an IHC score first, then the overall statement.
        scored = [b for b in found if b["unit"] == "IHC"]
        ihc = [b for b in found if b["alteration"] != "amplification"]
        found = scored or ihc or found
    stated = [b for b in found if b["status"] != "unknown"]
    return (stated or found or [{"status": None}])[0]["status"]


_BIOMARKER_LABELS = {
    "ER": ("er_ihc", {"positive": "positive", "negative": "negative"}),
    "PR": ("pr_ihc", {"positive": "positive", "negative": "negative"}),
    "HER2": ("her2_ihc", {"positive": "positive", "negative": "negative",
                          "equivocal": "equivocal"}),
    "EGFR": ("egfr_mutation", {"yes": "positive", "no": "negative"}),
    "KRAS": ("kras_mutation", {"yes": "positive", "no": "negative"}),
    "MSI": ("msi", {"yes": "positive", "no": "negative", "msi-h": "positive",
                    "mss": "negative"}),
}


class Score:
    """Accuracy where stated, coverage over all, and the misses (row numbers only)."""

    def __init__(self) -> None:
        self.stated = 0
        self.correct = 0
        self.labelled = 0
        self.covered = 0
        self.misses: list[tuple[int, str, str | None]] = []

    def add(self, row: int, label: str, predicted: str | None, stated: bool,
            correct: bool) -> None:
        self.labelled += 1
        self.covered += predicted is not None
        if stated:
            self.stated += 1
            self.correct += correct
            if not correct:
                self.misses.append((row, label, predicted))

    def line(self, name: str) -> str:
        accuracy = f"{100 * self.correct / self.stated:5.1f}%" if self.stated else "   n/a"
        coverage = f"{100 * self.covered / self.labelled:5.1f}%" if self.labelled else "   n/a"
        return (f"{name:<22} accuracy {accuracy} ({self.correct}/{self.stated} stated)   "
                f"coverage {coverage} ({self.covered}/{self.labelled})")


def score_reports(reports: list[tuple[int, dict, dict]], vocab) -> tuple[dict[str, Score],
                                                                         Counter]:
    """Scores and cancer-type confusions over (row number, report, extracted profile)."""
    scores = {name: Score() for name in ("cancer type (strict)", "cancer type (lineage)", "T",
                                         "N", "M", "stage group", "grade", "ER", "PR",
                                         "HER2", "EGFR", "KRAS", "MSI")}
    confusions: Counter[tuple[str, str]] = Counter()
    for index, row, profile in reports:
        labels, text = row["labels"], row["text"]
        project = labels["cancer_type"]
        code = profile["cancer_type"]["code"] if profile["cancer_type"] else None
        family = MAPPING.get(project, [project])
        strict = code is not None and any(vocab.is_a(code, root) for root in family)
        lineage = strict or (code is not None and code not in TOO_BROAD and any(
            vocab.is_a(root, code) for root in family) and vocab.tissue_code(code) != code)
        scores["cancer type (strict)"].add(index, project, code, True, strict)
        scores["cancer type (lineage)"].add(index, project, code, True, lineage)
        if not strict:
            confusions[(project, code or "none")] += 1
        stage = profile["stage"] or {}
        for axis in ("t", "n", "m"):
            label = labels.get(axis)
            if not label:
                continue
            predicted = stage.get(axis)
            scores[axis.upper()].add(index, label, predicted, _token(text, label),
                                     (predicted or "").lower() == label.lower())
        if labels.get("stage"):
            group = normalise_stage_group(labels["stage"])
            if group:
                predicted = stage.get("group")
                scores["stage group"].add(index, group, predicted, _stage_stated(text, group),
                                          predicted == group)
        if labels.get("grade") and labels["grade"] not in ("GX",):
            label = labels["grade"]
            predicted = profile["grade"]
            if label.lower() == "high grade":
                correct = predicted in ("G3", "G4")
            elif label.lower() == "low grade":
                correct = predicted in ("G1", "G2")
            else:
                correct = predicted == label
            scores["grade"].add(index, label, predicted, _grade_stated(text, label), correct)
        for marker, (key, values) in _BIOMARKER_LABELS.items():
            raw = labels.get("biomarkers", {}).get(key)
            expected = values.get(str(raw).lower()) if raw else None
            if expected is None:
                continue
            predicted = _prediction_for(profile, marker)
            scores[marker].add(index, expected, predicted, _marker_stated(text, marker),
                               predicted == expected)

    return scores, confusions


def half_of(report_id: str) -> str:
    """Which half of the development reports a report is in. Every report in
    tcga_dev.jsonl has an even SHA-1 of its id (the file is itself the even half of a larger
    set, the odd half being kept blind), so the split uses the next bit of the same hash:
    set means held out. Rules are tuned on the dev half only; the held-out half is run
    before resolving an issue."""
    return "held-out" if int(hashlib.sha1(report_id.encode()).hexdigest(), 16) >> 1 & 1 \
        else "dev"


def _benign_texts(rows: list[dict]) -> list[str]:
    texts: list[str] = []
    for row in rows:
        text = row["text"]
        for start, end in clause_spans(text):
            clause = text[start:end]
            if _BENIGN_CLAUSE.search(clause) and not _CANCER_WORDS.search(
                    _BENIGN_CLAUSE.sub("", clause)):
                texts.append(clause)
    for gold in sorted((REPO / "fixtures" / "notes").glob("*.gold.json")):
        if json.loads(gold.read_text(encoding="utf-8")).get("cancer_type", "x") is None:
            texts.append(gold.with_name(gold.name.replace(".gold.json", ".txt")).read_text(
                encoding="utf-8"))
    return texts


def bare_tokenizer_cpu(texts: list[str]) -> float:
    """CPU seconds of one pass of the tokenizer the note pipeline uses (scispaCy's
    combined_rule_tokenizer on a blank English pipeline, built fresh and apart from the
    pipeline's own) over `texts`, and nothing else."""
    import warnings

    import spacy
    from scispacy.custom_tokenizer import combined_rule_tokenizer

    nlp = spacy.blank("en")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        tokenizer = combined_rule_tokenizer(nlp)
    tokenizer(WARM_UP)
    started = time.process_time()
    for text in texts:
        tokenizer(text)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--errors", default="", help="list misses for this field")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"bench/extract.py: no data at {args.data} (use --data)")
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    if args.limit:
        rows = rows[: args.limit]
    vocab = get_vocabulary()
    started = time.perf_counter()
    build_pipeline(None)
    # One short note first: the rules' tables load and their patterns compile on first use,
    # a one-time cost like building the pipeline, counted with it.
    extract([WARM_UP])
    build_seconds = time.perf_counter() - started

    tokenizer_cpu = bare_tokenizer_cpu([row["text"] for row in rows])

    profiles = []
    started = time.perf_counter()
    cpu_started = time.process_time()
    for row in rows:
        profiles.append(extract([row["text"]]).to_dict())
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started

    halves = {"dev": [], "held-out": []}
    for index, (row, profile) in enumerate(zip(rows, profiles, strict=True)):
        halves[half_of(row["id"])].append((index, row, profile))
    benign = _benign_texts(rows)
    asserted = sum(extract([text]).cancer_type is not None for text in benign)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"reports: {len(rows)}  ({args.data.name}; halves by bit 1 of the SHA-1 of the "
          f"report id: dev {len(halves['dev'])}, held-out {len(halves['held-out'])})")
    dev_scores: dict[str, Score] = {}
    for half in ("dev", "held-out"):
        scores, confusions = score_reports(halves[half], vocab)
        dev_scores = dev_scores or scores
        print(f"\n== {half} half: {len(halves[half])} reports")
        print_scores(scores, confusions)
    print()
    print(f"{'benign text':<22} cancer type asserted on {asserted}/{len(benign)} benign texts")
    # One process, one thread: CPU time is the one-core cost even when other work shares
    # the machine; wall-clock time is printed too.
    print(f"speed: {len(rows) / cpu:.1f} reports/s per core (CPU time {cpu:.2f} s), "
          f"{len(rows) / elapsed:.1f} reports/s wall clock; pipeline built in "
          f"{build_seconds:.2f} s")
    # Issue 16's bound: the whole extract within 3x scispaCy's tokenizer alone on the same
    # reports, each one pass after one short warm-up note (the tokenizer caches the words it
    # has seen, so a second pass over the same reports would be faster; each side gets one).
    print(f"extract / bare scispaCy tokenizer: {cpu / tokenizer_cpu:.2f}x (CPU time "
          f"{cpu:.2f} s vs {tokenizer_cpu:.2f} s for the tokenizer alone; target < 3x)")
    print(f"peak RSS: {peak_mb:.0f} MB")
    if args.errors:
        # Misses are listed for the dev half only: the held-out half is not for tuning.
        for row, label, predicted in dev_scores[args.errors].misses:
            print(f"  row {row}: label {label!r} extracted {predicted!r}")


def print_scores(scores: dict[str, Score], confusions: Counter) -> None:
    """One half's figures."""
    for name, score in scores.items():
        print(score.line(name))
    pooled = [scores[name] for name in ("ER", "PR", "HER2", "EGFR", "KRAS", "MSI")]
    pooled_correct = sum(score.correct for score in pooled)
    pooled_stated = sum(score.stated for score in pooled)
    if pooled_stated:
        print(f"{'biomarkers (pooled)':<22} accuracy {100 * pooled_correct / pooled_stated:5.1f}% "
              f"({pooled_correct}/{pooled_stated} stated)")
    print("most frequent cancer-type misses (TCGA project -> extracted):")
    for (project, code), count in confusions.most_common(10):
        print(f"  {project:>5} -> {code:<10} {count}")


if __name__ == "__main__":
    main()
