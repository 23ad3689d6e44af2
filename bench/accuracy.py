"""Clinical accuracy on judged cases written apart from the rules (issue 11, ../shared/EVAL.md).

    .venv/bin/python bench/accuracy.py [--cases bench/judged] [--studies ../shared/ctgov/studies]
                                       [--half dev|held-out|all] [--work bench/out/accuracy]
                                       [--by-case] [--to-judge FILE] [--criteria-sample N]

The judged set (`--cases`, one folder) holds case files, `expected.json`, `judgments.jsonl`
and `criteria_judgments.jsonl` in the formats of ../shared/EVAL.md. Cases and judgments were
written by readers of the trial records who never saw trialmatch's rules or output; see
bench/judged/README.md for how they were made and how to extend them.

1. Builds (once, cached in --work, reparsed when the criteria parser changes) a store of the
   real studies in --studies, and matches every case as `match --json --any-status --top 50`.
2. Ranks the same studies for each case with the baseline a user would otherwise use: SQLite
   FTS5 bm25() over title, conditions, keywords and criteria, the case's note text as the
   query (each word quoted, joined by OR).
3. Prints, per half (dev / held-out, by a hash of the case id) and per cancer tissue:
   precision@5 and @10 by the blind judgments (eligible or plausible; `untested_biomarker`
   apart; unjudged trials are counted and left out of the share), recall@10 of `must_match`
   (of all must-match ids, and of at most 10), must-exclude trials listed, must-match trials
   put in `excluded`, criterion accuracy with its confusion matrices (inclusion and exclusion
   apart), and hit rates for cancer type, stage, biomarkers, protocols, testing gaps and
   discrepancies; the BM25 baseline's ranking figures beside trialmatch's.

`--to-judge FILE` writes, as JSON lines, the (case, trial) pairs of both systems' top 10 that
no judgment covers yet, and with `--criteria-sample N` up to N criteria per case drawn from
trialmatch's judged top 10 (a fixed draw: the smallest hashes of case, trial and text) that no
criterion judgment covers. Neither file carries a verdict: they are what the blind judges read.
Prints figures only, never note text.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_CASES = REPO / "bench" / "judged"
DEFAULT_STUDIES = REPO.parent / "shared" / "ctgov" / "studies"
DEFAULT_ONCOTREE = REPO.parent / "shared" / "vocab" / "oncotree_2025_10_03.tsv"
DEFAULT_WORK = REPO / "bench" / "out" / "accuracy"
CASE_SUFFIXES = (".yaml", ".yml")  # expected.json sits beside them
GOOD_LABELS = ("eligible", "plausible")
LABELS = ("eligible", "plausible", "untested_biomarker", "ineligible")
RESULTS = ("met", "not_met", "unknown")
WORD = re.compile(r"[A-Za-z0-9]+")
ROMAN_STAGE = re.compile(r"^(IV|III|II|I|0)(.*)$")


# --------------------------------------------------------------------------- the judged set


def half_of(case_id: str) -> str:
    """EVAL.md: the held-out half is the case ids whose SHA-1 is odd."""
    return "held-out" if int(hashlib.sha1(case_id.encode()).hexdigest(), 16) % 2 else "dev"


@dataclass
class JudgedSet:
    """A judged case folder: case files, expectations and the blind judgments."""

    case_paths: dict[str, Path]
    expected: dict[str, dict[str, Any]]
    judgments: dict[tuple[str, str], dict[str, Any]]
    criteria_judgments: list[dict[str, Any]]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                sys.exit(f"{path}:{number}: not JSON ({error.msg})")
    return rows


def load_judged_set(folder: Path) -> JudgedSet:
    """Read a judged set; a case file must have an expectation and the reverse."""
    import yaml

    expected_path = folder / "expected.json"
    if not expected_path.exists():
        sys.exit(f"bench/accuracy.py: no expected.json in {folder}")
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    paths = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in CASE_SUFFIXES:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
            paths[str(document["id"]) if isinstance(document, dict) else path.stem] = path
    missing = sorted(set(expected) - set(paths))
    if missing:
        sys.exit(f"bench/accuracy.py: expected.json names cases with no case file: {missing}")
    unexpected = sorted(set(paths) - set(expected))
    if unexpected:
        sys.exit(f"bench/accuracy.py: case files with no expectation: {unexpected}")
    judgments: dict[tuple[str, str], dict[str, Any]] = {}
    for row in _jsonl(folder / "judgments.jsonl"):
        if row.get("label") not in LABELS:
            sys.exit(f"judgments.jsonl: {row.get('case_id')} {row.get('nct_id')}: label "
                     f"{row.get('label')!r} is not one of {LABELS}")
        judgments[(row["case_id"], row["nct_id"])] = row  # a later line wins
    criteria = _jsonl(folder / "criteria_judgments.jsonl")
    for row in criteria:
        if row.get("label") not in RESULTS:
            sys.exit(f"criteria_judgments.jsonl: {row.get('case_id')} {row.get('nct_id')}: "
                     f"label {row.get('label')!r} is not one of {RESULTS}")
    return JudgedSet(paths, expected, judgments, criteria)


# --------------------------------------------------------------------------- the studies


def load_studies(studies_dir: Path) -> dict[str, dict[str, Any]]:
    """The real study records by NCT id."""
    studies = {}
    for path in sorted(studies_dir.glob("*.json")):
        study = json.loads(path.read_text(encoding="utf-8"))
        studies[study["protocolSection"]["identificationModule"]["nctId"]] = study
    if not studies:
        sys.exit(f"bench/accuracy.py: no study JSON files in {studies_dir}")
    return studies


def eligibility_text(study: dict[str, Any]) -> str:
    """The record's eligibility criteria text."""
    return study["protocolSection"].get("eligibilityModule", {}).get("eligibilityCriteria", "")


def build_store(studies: dict[str, dict[str, Any]], db_path: Path) -> float:
    """A store of the studies, parsed by the current criteria parser; seconds spent (0 when a
    cached store was already current)."""
    from trialmatch.ingest.store import TrialStore
    from trialmatch.nlp.criteria import PARSER_VERSION, annotate_trial

    started = time.perf_counter()
    if db_path.exists():
        with TrialStore.open(db_path) as store:
            redone = store.reparse(annotate_trial, only_stale=PARSER_VERSION)
        return time.perf_counter() - started if redone else 0.0
    db_path.parent.mkdir(parents=True, exist_ok=True)
    partial = db_path.with_suffix(".building")
    partial.unlink(missing_ok=True)
    with TrialStore.open(partial) as store:
        store.upsert_studies(iter(studies.values()), annotate_trial)
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    partial.rename(db_path)
    return time.perf_counter() - started


def bm25_rankings(studies: dict[str, dict[str, Any]], queries: dict[str, str],
                  limit: int = 50) -> dict[str, list[str]]:
    """EVAL.md's baseline: FTS5 bm25() over title, conditions, keywords and criteria, each
    query word quoted and joined by OR; best first."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE docs USING fts5(nct_id UNINDEXED, title, conditions, "
                 "keywords, criteria, tokenize='porter unicode61')")
    rows = []
    for nct_id, study in studies.items():
        protocol = study["protocolSection"]
        ident = protocol["identificationModule"]
        conditions = protocol.get("conditionsModule", {})
        rows.append((nct_id,
                     f"{ident.get('briefTitle', '')} {ident.get('officialTitle', '')}",
                     " ; ".join(conditions.get("conditions", [])),
                     " ; ".join(conditions.get("keywords", [])),
                     eligibility_text(study)))
    conn.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?)", rows)
    rankings = {}
    for case_id, text in queries.items():
        words = dict.fromkeys(w.lower() for w in WORD.findall(text))
        if not words:
            rankings[case_id] = []
            continue
        query = " OR ".join(f'"{w}"' for w in words)
        rankings[case_id] = [row[0] for row in conn.execute(
            "SELECT nct_id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs), nct_id LIMIT ?",
            (query, limit))]
    return rankings


# --------------------------------------------------------------------------- measures


def trial_label(case_id: str, nct_id: str, expected: dict[str, Any],
                judgments: dict[tuple[str, str], dict[str, Any]]) -> str | None:
    """The blind label of a trial for a case: the judge's when there is one, else the case
    writer's (a `must_match` trial is plausible, a `must_exclude` one ineligible: both were
    decided from the record alone, before trialmatch ran); None when nobody judged it."""
    judgment = judgments.get((case_id, nct_id))
    if judgment is not None:
        return judgment["label"]
    if nct_id in (expected.get("must_match") or []):
        return "plausible"
    if nct_id in (expected.get("must_exclude") or {}):
        return "ineligible"
    return None


def judged_precision(ranked: list[str], case_id: str, expected: dict[str, Any],
                     judgments: dict[tuple[str, str], dict[str, Any]], k: int) -> Counter:
    """Counts over the first k trials: good (eligible/plausible), untested, ineligible,
    unjudged and shown."""
    counts: Counter = Counter()
    for nct_id in ranked[:k]:
        counts["shown"] += 1
        label = trial_label(case_id, nct_id, expected, judgments)
        if label is None:
            counts["unjudged"] += 1
        elif label in GOOD_LABELS:
            counts["good"] += 1
        elif label == "untested_biomarker":
            counts["untested"] += 1
        else:
            counts["ineligible"] += 1
    return counts


def writer_agreement(judged: JudgedSet) -> Counter:
    """Where a judge and the case writer both decided a trial: (writer, judge) label pairs,
    the writer's being 'match' (must_match) or 'exclude' (must_exclude)."""
    pairs: Counter = Counter()
    for (case_id, nct_id), row in judged.judgments.items():
        expected = judged.expected.get(case_id) or {}
        writer = ("match" if nct_id in (expected.get("must_match") or []) else
                  "exclude" if nct_id in (expected.get("must_exclude") or {}) else None)
        if writer:
            pairs[(writer, row["label"])] += 1
    return pairs


def stage_hit(expected: str, found: str | None) -> bool:
    """Is the found group within the least precise acceptable one? "IV" accepts IVB; "I"
    accepts IA2 but not II (Roman numerals compare whole)."""
    wanted = ROMAN_STAGE.match(expected.strip().upper())
    have = ROMAN_STAGE.match((found or "").strip().upper())
    if not wanted or not have:
        return False
    return wanted.group(1) == have.group(1) and have.group(2).startswith(wanted.group(2))


_MARKER_ALIASES = {"ERBB2": "HER2", "PDL1": "PD-L1", "PD-L1": "PD-L1", "KI67": "Ki-67",
                   "MSI-H": "MSI", "DMMR": "MMR", "MMR": "MMR"}


def marker_key(marker: str) -> str:
    """One spelling per marker for comparison (ERBB2 is HER2, PDL1 is PD-L1)."""
    cleaned = marker.strip()
    return _MARKER_ALIASES.get(cleaned.upper().replace(" ", ""), cleaned.upper())


def biomarker_status(biomarkers: list[dict[str, Any]], marker: str) -> str:
    """The profile's overall status for one marker: positive when any result is, then
    negative, then equivocal; unknown when it is only mentioned or absent."""
    results = [b for b in biomarkers if marker_key(b["marker"]) == marker_key(marker)]
    if marker_key(marker) == "HER2":
        # The judged set's HER2 status is the ASCO/CAP one (IHC 3+ or ISH amplified): an
        # ERBB2 mutation is another finding.
        results = [b for b in results if not b.get("alteration") or b.get("unit") == "IHC" or
                   re.search(r"amplif|express", str(b["alteration"]), re.IGNORECASE)]
    statuses = {b["status"] for b in results}
    for status in ("positive", "negative", "equivocal"):
        if status in statuses:
            return status
    return "unknown"


def protocol_hit(expected: str, protocols: list[dict[str, Any]]) -> bool:
    """'a|b': is either therapy among the protocols found? 'a+b' needs both drugs in one."""
    therapies = [str(p.get("therapy", "")).lower() for p in protocols]
    for alternative in expected.lower().split("|"):
        drugs = [d.strip() for d in alternative.split("+") if d.strip()]
        if drugs and any(all(d in therapy for d in drugs) for therapy in therapies):
            return True
    return False


_GAP_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*(?:/\d)*")


def gap_markers(gaps: list[dict[str, Any]]) -> set[str]:
    """The markers named by the testing gaps: 'MSI/MMR' names both, and 'germline HRR genes
    (BRCA1/2, ATM)' names BRCA1, BRCA2 and ATM."""
    markers = set()
    for gap in gaps:
        for word in _GAP_WORD.findall(str(gap.get("marker", ""))):
            stem, *numbers = word.split("/")
            markers.add(marker_key(stem))
            markers |= {marker_key(stem[:-1] + n) for n in numbers if stem[-1:].isdigit()}
    return markers


def discrepancy_fields(discrepancies: list[dict[str, Any]]) -> set[str]:
    """'biomarker:EGFR' counts as the field 'biomarker'."""
    return {str(d.get("field", "")).split(":")[0] for d in discrepancies}


def normalise_text(text: str) -> str:
    """Criterion text compared without case and spacing differences."""
    return " ".join(text.lower().split())


@dataclass
class Tally:
    """Sums over cases for one group (a half, a tissue)."""

    cases: int = 0
    counts: Counter = field(default_factory=Counter)
    confusion: dict[str, Counter] = field(
        default_factory=lambda: {"inclusion": Counter(), "exclusion": Counter()})

    def add(self, **values: float) -> None:
        self.counts.update(values)

    def share(self, part: str, whole: str) -> str:
        whole_value = self.counts[whole]
        if not whole_value:
            return "   n/a"
        part_value = self.counts[part]
        return f"{100 * part_value / whole_value:5.1f}% ({part_value:g}/{whole_value:g})"


def score_case(case_id: str, expected: dict[str, Any], document: dict[str, Any],
               bm25: list[str], judgments: dict[tuple[str, str], dict[str, Any]],
               is_a: Any) -> Counter:
    """Every count one case adds to its group's tally."""
    counts: Counter = Counter()
    ranked = [t["nct_id"] for t in document["trials"]]
    excluded = {e["nct_id"] for e in document["excluded"]}
    must = list(dict.fromkeys(expected.get("must_match") or []))
    must_exclude = set(expected.get("must_exclude") or {})
    for system, ranking in (("tm", ranked), ("bm25", bm25)):
        for k in (5, 10):
            p = judged_precision(ranking, case_id, expected, judgments, k)
            for key, value in p.items():
                counts[f"{system}_p{k}_{key}"] += value
            counts[f"{system}_p{k}_judged"] += p["shown"] - p["unjudged"]
        top10 = set(ranking[:10])
        hits = sum(n in top10 for n in must)
        counts[f"{system}_r10_hit"] += hits
        counts[f"{system}_r10_cap"] += min(len(must), 10)
        counts[f"{system}_r50_hit"] += sum(n in set(ranking) for n in must)
        counts[f"{system}_mx_listed"] += len(must_exclude & set(ranking[:10]))
    counts["must"] += len(must)
    counts["must_exclude"] += len(must_exclude)
    counts["tm_mx_anywhere"] += len(must_exclude & set(ranked))
    counts["tm_wrongly_excluded"] += sum(n in excluded for n in must)
    counts["tm_must_missing"] += sum(n not in excluded and n not in set(ranked) for n in must)
    counts["cases_with_must"] += bool(must)
    counts["tm_returned_any"] += bool(ranked)

    profile = document["profile"]
    codes = expected.get("cancer_type") or []
    found = (profile.get("cancer_type") or {}).get("code")
    if codes:
        counts["type_cases"] += 1
        counts["type_hit"] += bool(found) and (found in codes or is_a(found, codes[0]))
        counts["type_none"] += not found
    if expected.get("stage_group"):
        counts["stage_cases"] += 1
        counts["stage_hit"] += stage_hit(expected["stage_group"],
                                         (profile.get("stage") or {}).get("group"))
    for marker, status in (expected.get("biomarkers") or {}).items():
        counts["bio_total"] += 1
        have = biomarker_status(profile.get("biomarkers") or [], marker)
        counts["bio_hit"] += have == status
        if status == "negative" and have == "positive" or status == "positive" and \
                have == "negative":
            counts["bio_reversed"] += 1
    for wanted in expected.get("protocols") or []:
        counts["proto_total"] += 1
        counts["proto_hit"] += protocol_hit(wanted, document["protocols"])
    counts["proto_found"] += len(document["protocols"])
    found_gaps = gap_markers(document["testing_gaps"])
    wanted_gaps = {marker_key(m) for m in expected.get("testing_gaps") or []}
    counts["gap_total"] += len(wanted_gaps)
    counts["gap_hit"] += len(wanted_gaps & found_gaps)
    counts["gap_found"] += len(found_gaps)
    wanted_fields = set(expected.get("discrepancies") or [])
    found_fields = discrepancy_fields(document["discrepancies"])
    counts["disc_total"] += len(wanted_fields)
    counts["disc_hit"] += len(wanted_fields & found_fields)
    counts["disc_false"] += len(found_fields - wanted_fields)
    return counts


# --------------------------------------------------------------------------- running


def match_cases(judged: JudgedSet, db_path: Path) -> tuple[dict[str, dict[str, Any]], dict]:
    """`match --json --any-status --top 50` for every case, and each case's Case and
    Profile (for criterion-level checks)."""
    from trialmatch.ingest.store import TrialStore
    from trialmatch.match.case import load_case
    from trialmatch.match.engine import default_extractor, match_case

    extract = default_extractor()
    profiles: dict[tuple[str, ...], Any] = {}

    def extractor(texts: list[str]) -> Any:  # the notes are read once for both uses
        key = tuple(texts)
        if key not in profiles:
            profiles[key] = extract(texts)
        return profiles[key]

    documents, loaded = {}, {}
    with TrialStore.open(db_path, readonly=True) as store:
        for case_id, path in sorted(judged.case_paths.items()):
            case = load_case(path)
            result = match_case(case, store, any_status=True, top=50, extractor=extractor)
            documents[case_id] = result.to_dict()
            loaded[case_id] = (case, extractor(case.note_texts))
    return documents, loaded


def criterion_results(judged: JudgedSet, loaded: dict, db_path: Path
                      ) -> list[tuple[dict[str, Any], str | None]]:
    """trialmatch's result for each judged criterion, evaluating the whole trial for the
    case (None when trialmatch has no criterion with that text)."""
    from trialmatch.ingest.store import TrialStore
    from trialmatch.match.engine import case_patient, drug_therapy_reader
    from trialmatch.match.evaluate import evaluate_trial
    from trialmatch.nlp.vocab import get_vocabulary

    vocabulary, reader = get_vocabulary(), drug_therapy_reader()
    verdicts: dict[tuple[str, str], dict[str, str]] = {}
    out = []
    with TrialStore.open(db_path, readonly=True) as store:
        for row in judged.criteria_judgments:
            key = (row["case_id"], row["nct_id"])
            if row["case_id"] not in loaded:
                continue
            if key not in verdicts:
                case, profile = loaded[row["case_id"]]
                patient = case_patient(case, profile, ontology=vocabulary,
                                       therapy_reader=reader)
                verdict = evaluate_trial(store.get_trial(row["nct_id"]), patient)
                verdicts[key] = {normalise_text(c.text): c.result for c in verdict.criteria}
            out.append((row, verdicts[key].get(normalise_text(row["criterion"]))))
    return out


def trials_to_judge(judged: JudgedSet, documents: dict[str, dict[str, Any]],
                    bm25: dict[str, list[str]], agreement: int) -> list[dict[str, Any]]:
    """The pairs of both systems' top 10 that nobody judged, and per case up to `agreement`
    pairs the case writer decided but no judge has (a fixed draw by hash), to measure how
    far the writer and the judges agree. Which system ranked a trial is kept for the record,
    never shown to a judge."""
    rows = []
    for cid in sorted(documents):
        expected = judged.expected[cid]
        ranked: dict[str, list[str]] = {}
        for system, ranking in (("trialmatch", [t["nct_id"] for t in documents[cid]["trials"]]),
                                ("bm25", bm25[cid])):
            for nct_id in ranking[:10]:
                ranked.setdefault(nct_id, []).append(system)
        open_pairs = [n for n in ranked if (cid, n) not in judged.judgments]
        unjudged = [n for n in open_pairs if trial_label(cid, n, expected, {}) is None]
        writer_only = sorted((n for n in open_pairs if n not in unjudged),
                             key=lambda n: hashlib.sha1(f"{cid}|{n}".encode()).hexdigest())
        for nct_id in unjudged + writer_only[:agreement]:
            rows.append({"case_id": cid, "nct_id": nct_id, "systems": ranked[nct_id]})
    return rows


def criteria_to_judge(judged: JudgedSet, documents: dict[str, dict[str, Any]],
                      studies: dict[str, dict[str, Any]], per_case: int) -> list[dict]:
    """A fixed draw of criteria from trialmatch's top 10 not judged yet: criteria quoted from
    the record (not the synthesised age/sex/condition lines), the smallest hashes first."""
    done = {(r["case_id"], r["nct_id"], normalise_text(r["criterion"]))
            for r in judged.criteria_judgments}
    have = Counter(r["case_id"] for r in judged.criteria_judgments)
    rows = []
    for case_id, document in sorted(documents.items()):
        pool = []
        for trial in document["trials"][:10]:
            record = normalise_text(eligibility_text(studies[trial["nct_id"]]))
            for criterion in trial["criteria"]:
                text = normalise_text(criterion["text"])
                if criterion["kind"] not in ("inclusion", "exclusion") or len(text) < 12 or \
                        text not in record or (case_id, trial["nct_id"], text) in done:
                    continue
                digest = hashlib.sha1(f"{case_id}|{trial['nct_id']}|{text}".encode()).hexdigest()
                pool.append((digest, trial["nct_id"], criterion["kind"], criterion["text"]))
        for _digest, nct_id, kind, text in sorted(pool)[:max(0, per_case - have[case_id])]:
            rows.append({"case_id": case_id, "nct_id": nct_id, "kind": kind, "criterion": text})
    return rows


def oncotree_tissues(path: Path) -> dict[str, str]:
    """OncoTree code -> tissue name, for grouping the cases."""
    tissues = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            parts = line.split("\t")
            if len(parts) > 3:
                tissues[parts[0]] = parts[3] or parts[1]
    return tissues


# --------------------------------------------------------------------------- printing


def print_tally(name: str, tally: Tally) -> None:
    c = tally.counts
    print(f"\n== {name}: {tally.cases} cases ({c['cases_with_must']:g} with must-match trials)")
    for label, system in (("trialmatch", "tm"), ("BM25", "bm25")):
        print(f"  {label}:")
        for k in (5, 10):
            judged = c[f"{system}_p{k}_judged"]
            share = f"{100 * c[f'{system}_p{k}_good'] / judged:5.1f}%" if judged else "   n/a"
            print(f"    precision@{k:<2} {share} ({c[f'{system}_p{k}_good']:g}/{judged:g} judged; "
                  f"untested biomarker {c[f'{system}_p{k}_untested']:g}, ineligible "
                  f"{c[f'{system}_p{k}_ineligible']:g}, unjudged {c[f'{system}_p{k}_unjudged']:g}"
                  f", shown {c[f'{system}_p{k}_shown']:g})")
        print(f"    recall@10     {tally.share(f'{system}_r10_hit', 'must')}   "
              f"of at most 10: {tally.share(f'{system}_r10_hit', f'{system}_r10_cap')}   "
              f"within 50: {tally.share(f'{system}_r50_hit', 'must')}")
        print(f"    must-exclude in top 10: {c[f'{system}_mx_listed']:g} of "
              f"{c['must_exclude']:g}")
    print(f"  trialmatch: must-exclude listed anywhere {c['tm_mx_anywhere']:g} of "
          f"{c['must_exclude']:g}; must-match put in excluded "
          f"{tally.share('tm_wrongly_excluded', 'must')}; must-match not returned at all "
          f"{tally.share('tm_must_missing', 'must')}")
    print(f"  cancer type {tally.share('type_hit', 'type_cases')} (none found "
          f"{c['type_none']:g})   stage {tally.share('stage_hit', 'stage_cases')}")
    print(f"  biomarkers  {tally.share('bio_hit', 'bio_total')} (polarity reversed "
          f"{c['bio_reversed']:g})")
    print(f"  protocols   {tally.share('proto_hit', 'proto_total')} ({c['proto_found']:g} "
          f"offered)   testing gaps {tally.share('gap_hit', 'gap_total')} "
          f"({c['gap_found']:g} offered)")
    print(f"  discrepancies {tally.share('disc_hit', 'disc_total')} (fields reported but not "
          f"expected: {c['disc_false']:g})")
    for kind in ("inclusion", "exclusion"):
        matrix = tally.confusion[kind]
        total = sum(matrix.values())
        if not total:
            print(f"  criteria ({kind}): none judged")
            continue
        right = sum(matrix[(label, label)] for label in RESULTS)
        missing = sum(v for (label, got), v in matrix.items() if got is None)
        print(f"  criteria ({kind}): {100 * right / total:5.1f}% right ({right}/{total}"
              f"{f'; {missing} no longer found' if missing else ''})")
        print("      judged \\ trialmatch    met  not_met  unknown  absent")
        for label in RESULTS:
            cells = [matrix[(label, got)] for got in (*RESULTS, None)]
            print(f"      {label:<22}" + "".join(f"{v:>8}" for v in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    parser.add_argument("--studies", type=Path, default=DEFAULT_STUDIES)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--half", choices=("dev", "held-out", "all"), default="all")
    parser.add_argument("--by-case", action="store_true", help="one line per case too")
    parser.add_argument("--to-judge", type=Path, help="write the unjudged top-10 pairs here")
    parser.add_argument("--criteria-sample", type=int, default=0,
                        help="with --to-judge: criteria per case to draw for judging")
    parser.add_argument("--agreement-sample", type=int, default=2,
                        help="with --to-judge: trials per case that the case writer decided, "
                             "judged again to measure agreement")
    args = parser.parse_args()
    if not args.studies.is_dir():
        sys.exit(f"bench/accuracy.py: no studies at {args.studies} (use --studies)")
    judged = load_judged_set(args.cases)
    selected = {cid for cid in judged.case_paths
                if args.half == "all" or half_of(cid) == args.half}
    judged.case_paths = {cid: p for cid, p in judged.case_paths.items() if cid in selected}
    studies = load_studies(args.studies)
    unknown = sorted({n for e in judged.expected.values() for n in
                      [*(e.get("must_match") or []), *(e.get("must_exclude") or {})]
                      if n not in studies})
    if unknown:
        print(f"warning: expected.json names trials not in --studies: {unknown}")

    db_path = args.work / "trials.db"
    built = build_store(studies, db_path)
    started = time.perf_counter()
    documents, loaded = match_cases(judged, db_path)
    match_seconds = time.perf_counter() - started
    queries = {cid: " ".join(loaded[cid][0].note_texts) for cid in documents}
    bm25 = bm25_rankings(studies, queries)

    if args.to_judge:
        pairs = trials_to_judge(judged, documents, bm25, args.agreement_sample)
        sample = criteria_to_judge(judged, documents, studies, args.criteria_sample)
        with args.to_judge.open("w", encoding="utf-8") as handle:
            for row in pairs:
                handle.write(json.dumps({"task": "trial", **row}) + "\n")
            for row in sample:
                handle.write(json.dumps({"task": "criterion", **row}) + "\n")
        print(f"wrote {len(pairs)} trial pairs and {len(sample)} criteria to judge to "
              f"{args.to_judge}")

    from trialmatch.nlp.vocab import get_vocabulary

    vocabulary = get_vocabulary()

    def is_a(code: str, ancestor: str) -> bool:
        return code == ancestor or (code in vocabulary.all_codes() and
                                    vocabulary.is_a(code, ancestor))

    tissues = oncotree_tissues(DEFAULT_ONCOTREE)
    by_group: dict[str, Tally] = defaultdict(Tally)
    for cid, document in sorted(documents.items()):
        expected = judged.expected[cid]
        counts = score_case(cid, expected, document, bm25[cid], judged.judgments, is_a)
        codes = expected.get("cancer_type") or ["?"]
        tissue = tissues.get(codes[0], codes[0])
        for group in (half_of(cid), "all", f"{half_of(cid)} | {tissue}"):
            by_group[group].cases += 1
            by_group[group].add(**counts)
        if args.by_case:
            found = (document["profile"].get("cancer_type") or {}).get("code")
            print(f"{cid:<28} {half_of(cid):<8} type {found or '-':<8} "
                  f"tm P@10 {counts['tm_p10_good']:g}/{counts['tm_p10_judged']:g} "
                  f"R@10 {counts['tm_r10_hit']:g}/{counts['must']:g} "
                  f"excl {counts['tm_wrongly_excluded']:g}   "
                  f"bm25 R@10 {counts['bm25_r10_hit']:g}/{counts['must']:g}")
    for row, result in criterion_results(judged, loaded, db_path):
        kind = row.get("kind") or "inclusion"
        for group in (half_of(row["case_id"]), "all"):
            by_group[group].confusion[kind][(row["label"], result)] += 1

    print(f"judged set: {len(judged.expected)} cases in {args.cases} "
          f"({len(selected)} selected: {args.half}); {len(judged.judgments)} trial judgments, "
          f"{len(judged.criteria_judgments)} criterion judgments; {len(studies)} studies")
    print(f"store built in {built:.1f} s; matched {len(documents)} cases in "
          f"{match_seconds:.1f} s")
    for name in ("dev", "held-out", "all"):
        if name in by_group:
            print_tally(name, by_group[name])
    agreement = writer_agreement(judged)
    if agreement:
        agreed = agreement[("match", "eligible")] + agreement[("match", "plausible")] + \
            agreement[("exclude", "ineligible")]
        print(f"\n== case writer vs judge, where both decided a trial: {agreed} of "
              f"{sum(agreement.values())} agree; "
              + ", ".join(f"writer {w} / judge {j}: {n}" for (w, j), n in
                          sorted(agreement.items())))
    print("\n== per half and cancer tissue (trialmatch P@10 judged, recall@10, wrongly "
          "excluded; BM25 recall@10)")
    for name in sorted(g for g in by_group if "|" in g):
        tally = by_group[name]
        c = tally.counts
        judged10 = c["tm_p10_judged"]
        p10 = f"{100 * c['tm_p10_good'] / judged10:5.1f}%" if judged10 else "   n/a"
        must = c["must"]
        recall = f"{100 * c['tm_r10_hit'] / must:5.1f}%" if must else "   n/a"
        bm = f"{100 * c['bm25_r10_hit'] / must:5.1f}%" if must else "   n/a"
        print(f"  {name:<40} n={tally.cases:<3} P@10 {p10}  R@10 {recall}  "
              f"excluded {c['tm_wrongly_excluded']:g}/{must:g}  BM25 R@10 {bm}")


if __name__ == "__main__":
    main()
