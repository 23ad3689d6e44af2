"""Tumor-board reports for one match: Markdown and a self-contained HTML page.

Both render the `match --json` document (so the report and the JSON never disagree): the
profile with its evidence, the ranked trials with each one's criteria table, the excluded
trials and why, protocols, testing gaps, discrepancies, and the disclaimer. The HTML page has
no external assets (inline CSS, print rules for the meeting) and escapes every text.
"""

from __future__ import annotations

import html
from typing import Any

from trialmatch.inputs import INVISIBLE

RESULT_MARK = {"met": "met", "not_met": "NOT MET", "unknown": "unknown"}
VERDICT_WORDS = {"eligible": "eligible", "possibly_eligible": "possibly eligible",
                 "excluded": "excluded"}


def _document(result: Any) -> dict[str, Any]:
    return result if isinstance(result, dict) else result.to_dict()


def profile_rows(profile: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(fact, value, evidence) rows for the profile, in the order a clinician reads them."""
    rows: list[tuple[str, str, str]] = []
    noted = profile.get("from_notes") or {}

    def source(name: str) -> str:
        return f"notes: {noted[name]}" if name in noted else "case file"

    for name in ("age", "sex", "ecog"):
        if profile.get(name) is not None:
            rows.append((name.upper() if name == "ecog" else name.capitalize(),
                         str(profile[name]), source(name)))
    cancer = profile.get("cancer_type")
    rows.append(("Cancer type",
                 f"{cancer['name']} ({cancer['code']})" if cancer else "not found",
                 cancer.get("evidence", "") if cancer else ""))
    for name in ("histology", "primary_site", "grade", "grade_detail"):
        if profile.get(name):
            rows.append((name.replace("_", " ").capitalize(), str(profile[name]), ""))
    stage = profile.get("stage")
    if stage:
        tnm = " ".join(str(stage.get(k)) for k in ("t", "n", "m") if stage.get(k))
        value = " ".join(part for part in (
            (stage.get("prefix") or "") + tnm if tnm else "",
            f"stage {stage['group']}" if stage.get("group") else "",
            f"FIGO {stage['figo']}" if stage.get("figo") else "") if part)
        rows.append(("Stage", value or "not found", stage.get("evidence", "")))
    else:
        rows.append(("Stage", "not found", ""))
    for marker in profile.get("biomarkers") or []:
        rows.append(("Biomarker", biomarker_label(marker), marker.get("evidence", "")))
    if profile.get("prior_therapies") is not None:
        rows.append(("Prior therapies", ", ".join(profile["prior_therapies"]) or "none",
                     source("prior_therapies")))
    for name, label in (("metastatic", "Distant spread"), ("brain_metastases", "Brain metastases"),
                        ("pregnancy", "Pregnancy")):
        if name in noted:
            rows.append((label, "stated in the notes", f"notes: {noted[name]}"))
    location = profile.get("location")
    if location:
        rows.append(("Location", ", ".join(v for v in location.values() if v), "case file"))
    return rows


def biomarker_label(marker: dict[str, Any]) -> str:
    """'EGFR exon 19 deletion positive', 'PD-L1 60 TPS positive'."""
    parts = [marker.get("marker") or "?"]
    if marker.get("alteration"):
        parts.append(str(marker["alteration"]))
    if marker.get("value") is not None:
        value = marker["value"]
        parts.append(f"{value:g}" if isinstance(value, float) else str(value))
        if marker.get("unit"):
            parts.append(str(marker["unit"]))
    parts.append(str(marker.get("status") or "unknown"))
    return " ".join(parts)


def key_reasons(trial: dict[str, Any], limit: int = 3) -> list[str]:
    """The reasons worth reading first: unknowns that matter, then met disease criteria."""
    criteria = trial.get("criteria") or []
    material = [c["reason"] for c in criteria if c.get("result") == "unknown"
                and c.get("material")]
    def met_with(kinds: tuple[str, ...]) -> list[str]:
        return [c["reason"] for c in criteria if c.get("result") == "met"
                and c.get("kind") == "inclusion"
                and any(r.get("kind") in kinds and r.get("truth")
                        for r in c.get("requirements") or [])]

    # The patient's own biomarker first: it is why a targeted trial ranks first.
    found = material + met_with(("biomarker",)) + met_with(("cancer_type", "stage", "extent"))
    return list(dict.fromkeys(found))[:limit]


# --------------------------------------------------------------------------- Markdown


def _md(text: Any) -> str:
    """One table-safe Markdown cell: no newlines, no pipes, no raw HTML, no link or image
    (a record's title may hold `[text](url)` or `![](url)`), no bidi or zero-width
    characters."""
    value = "" if text is None else INVISIBLE.sub("", str(text))
    value = " ".join(value.split())
    return (value.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace("[", "\\[").replace("]", "\\]"))


def render_markdown(result: Any) -> str:
    """The report as Markdown (GitHub-flavoured tables)."""
    doc = _document(result)
    out = [f"# trialmatch report: case {_md(doc['case_id'])}", "",
           f"> {_md(doc.get('disclaimer', ''))}", ""]
    out += ["## Patient profile", "", "| Fact | Value | Evidence |", "|---|---|---|"]
    out += [f"| {_md(a)} | {_md(b)} | {_md(c)} |" for a, b, c in profile_rows(doc["profile"])]
    for warning in doc.get("warnings") or []:
        out.append(f"\n*Warning:* {_md(warning)}")
    trials = doc.get("trials") or []
    out += ["", f"## Trials ({len(trials)})", ""]
    if trials:
        out += ["| # | Trial | Verdict | Score | Missed | Key reasons |",
                "|---|---|---|---|---|---|"]
        for rank, trial in enumerate(trials, start=1):
            out.append(
                f"| {rank} | {_md(trial['nct_id'])}: {_md(trial['title'])} | "
                f"{VERDICT_WORDS.get(trial['verdict'], trial['verdict'])} | "
                f"{trial['score']:.2f} | {'yes' if trial.get('missed') else 'no'} | "
                f"{_md('; '.join(key_reasons(trial)))} |")
        for trial in trials:
            out += ["", f"### {_md(trial['nct_id'])}: {_md(trial['title'])}", ""]
            parts = trial.get("score_parts") or {}
            shown = ", ".join(f"{k} {v:.2f}" for k, v in parts.items() if v is not None)
            out.append(f"{_md(trial.get('status'))}, {_md(', '.join(trial.get('phases') or []))}"
                       f"; score {trial['score']:.2f} ({_md(shown)})"
                       + (f"; cohort {_md(trial['cohort'])}" if trial.get("cohort") else ""))
            out += ["", "| Kind | Criterion | Result | Reason | Evidence |",
                    "|---|---|---|---|---|"]
            for c in trial.get("criteria") or []:
                out.append(f"| {c['kind']} | {_md(c['text'])} | "
                           f"{RESULT_MARK.get(c['result'], c['result'])} | "
                           f"{_md(c['reason'])} | {_md(c.get('evidence'))} |")
    else:
        out.append("No open trial fits this profile in the store.")
    excluded = doc.get("excluded") or []
    if excluded:
        out += ["", f"## Excluded trials ({len(excluded)})", ""]
        for item in excluded:
            out.append(f"- **{_md(item['nct_id'])}** {_md(item['title'])}: "
                       f"{_md('; '.join(item.get('reasons') or []))}")
    out += ["", "## Biomarker-directed protocols", ""]
    out += [f"- {_md(p.get('biomarker'))}: **{_md(p.get('therapy'))}**"
            f"{' (not in the first opinion)' if p.get('missed') else ''} — {_md(p.get('source'))}"
            for p in doc.get("protocols") or []] or ["None found."]
    out += ["", "## Testing gaps", ""]
    out += [f"- **{_md(g.get('marker'))}**: {_md(g.get('reason'))}"
            for g in doc.get("testing_gaps") or []] or ["None found."]
    out += ["", "## Discrepancies with the first opinion", ""]
    out += [f"- {_md(d.get('field'))}: first opinion {_md(d.get('first_opinion'))}, notes show "
            f"{_md(d.get('found'))} ({_md(d.get('evidence'))})"
            for d in doc.get("discrepancies") or []] or ["None found."]
    out += ["", "---", "", f"*{_md(doc.get('disclaimer', ''))}*", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- HTML

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;
margin:2rem auto;max-width:1100px;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:2px solid #d0d7de;padding-bottom:.2rem;
margin-top:2rem}h3{margin:1.4rem 0 .3rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f5f7}.disclaimer{background:#fff8c5;border:1px solid #d4a72c;padding:.6rem;
border-radius:4px}.met{color:#116329}.not_met{color:#a40e26;font-weight:600}
.unknown{color:#7d4e00}.badge{display:inline-block;padding:0 .4rem;border-radius:3px;
font-size:.85em;background:#eaeef2}.eligible{background:#dafbe1}.possibly_eligible{background:#fff8c5}
.missed{background:#ffebe9}.muted{color:#57606a;font-size:.9em}section.trial{break-inside:avoid}
@media print{body{margin:0;max-width:none;font-size:11px}a{color:inherit;text-decoration:none}
section.trial{page-break-inside:avoid}h2{page-break-after:avoid}.noprint{display:none}}
"""


def _h(text: Any) -> str:
    return html.escape("" if text is None else INVISIBLE.sub("", str(text)), quote=True)


def render_html(result: Any) -> str:
    """The report as one self-contained HTML page (inline CSS, no scripts, no links out)."""
    doc = _document(result)
    case_id = _h(doc["case_id"])
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>trialmatch report: case {case_id}</title><style>{CSS}</style></head><body>",
        f"<h1>trialmatch report: case {case_id}</h1>",
        f'<p class="disclaimer">{_h(doc.get("disclaimer", ""))}</p>',
        "<h2>Patient profile</h2><table><thead><tr><th>Fact</th><th>Value</th>"
        "<th>Evidence</th></tr></thead><tbody>",
    ]
    parts += [f"<tr><td>{_h(a)}</td><td>{_h(b)}</td><td>{_h(c)}</td></tr>"
              for a, b, c in profile_rows(doc["profile"])]
    parts.append("</tbody></table>")
    parts += [f'<p class="muted">Warning: {_h(w)}</p>' for w in doc.get("warnings") or []]
    trials = doc.get("trials") or []
    parts.append(f"<h2>Trials ({len(trials)})</h2>")
    if trials:
        parts.append("<table><thead><tr><th>#</th><th>Trial</th><th>Verdict</th><th>Score</th>"
                     "<th>Missed</th><th>Key reasons</th></tr></thead><tbody>")
        for rank, t in enumerate(trials, start=1):
            missed = '<span class="badge missed">missed</span>' if t.get("missed") else "no"
            parts.append(
                f'<tr><td>{rank}</td><td><a href="#{_h(t["nct_id"])}">{_h(t["nct_id"])}</a> '
                f'{_h(t["title"])}</td><td><span class="badge {_h(t["verdict"])}">'
                f'{_h(VERDICT_WORDS.get(t["verdict"], t["verdict"]))}</span></td>'
                f'<td>{t["score"]:.2f}</td><td>{missed}</td>'
                f'<td>{_h("; ".join(key_reasons(t)))}</td></tr>')
        parts.append("</tbody></table>")
        for t in trials:
            parts.append(_html_trial(t))
    else:
        parts.append("<p>No open trial fits this profile in the store.</p>")
    excluded = doc.get("excluded") or []
    if excluded:
        parts.append(f"<h2>Excluded trials ({len(excluded)})</h2><table><thead><tr><th>Trial"
                     "</th><th>Ruled out by</th></tr></thead><tbody>")
        parts += [f"<tr><td>{_h(e['nct_id'])} {_h(e['title'])}</td><td>"
                  + "<br>".join(_h(r) for r in e.get("reasons") or []) + "</td></tr>"
                  for e in excluded]
        parts.append("</tbody></table>")
    parts.append("<h2>Biomarker-directed protocols</h2>")
    parts.append(_html_list(
        [f"{_h(p.get('biomarker'))}: <strong>{_h(p.get('therapy'))}</strong>"
         + (' <span class="badge missed">not in the first opinion</span>' if p.get("missed")
            else "") + f' <span class="muted">{_h(p.get("source"))}</span>'
         for p in doc.get("protocols") or []]))
    parts.append("<h2>Testing gaps</h2>")
    parts.append(_html_list([f"<strong>{_h(g.get('marker'))}</strong>: {_h(g.get('reason'))}"
                             for g in doc.get("testing_gaps") or []]))
    parts.append("<h2>Discrepancies with the first opinion</h2>")
    parts.append(_html_list(
        [f"{_h(d.get('field'))}: first opinion <strong>{_h(d.get('first_opinion'))}</strong>, "
         f"notes show <strong>{_h(d.get('found'))}</strong> "
         f'<span class="muted">{_h(d.get("evidence"))}</span>'
         for d in doc.get("discrepancies") or []]))
    parts.append(f'<hr><p class="disclaimer">{_h(doc.get("disclaimer", ""))}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_list(items: list[str]) -> str:
    if not items:
        return "<p>None found.</p>"
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _html_trial(t: dict[str, Any]) -> str:
    score_parts = t.get("score_parts") or {}
    shown = ", ".join(f"{k} {v:.2f}" for k, v in score_parts.items() if v is not None)
    rows = "".join(
        f'<tr><td>{_h(c["kind"])}</td><td>{_h(c["text"])}</td>'
        f'<td class="{_h(c["result"])}">{_h(RESULT_MARK.get(c["result"], c["result"]))}</td>'
        f'<td>{_h(c["reason"])}</td><td>{_h(c.get("evidence"))}</td></tr>'
        for c in t.get("criteria") or [])
    cohort = f"; cohort {_h(t['cohort'])}" if t.get("cohort") else ""
    return (
        f'<section class="trial" id="{_h(t["nct_id"])}"><h3>{_h(t["nct_id"])}: '
        f'{_h(t["title"])}</h3><p class="muted">{_h(t.get("status"))}, '
        f'{_h(", ".join(t.get("phases") or []))}; score {t["score"]:.2f} ({_h(shown)}){cohort}'
        "</p><table><thead><tr><th>Kind</th><th>Criterion</th><th>Result</th><th>Reason</th>"
        f"<th>Evidence</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )
