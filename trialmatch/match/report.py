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
from trialmatch.match import wording

RESULT_MARK = {"met": "met", "not_met": "NOT MET", "unknown": "unknown"}
TOP_TRIALS_FIRST_PAGE = 5  # the top trials on a report's first page
VERDICT_WORDS = {"eligible": "eligible", "possibly_eligible": "possibly eligible",
                 "excluded": "excluded"}


def _document(result: Any) -> dict[str, Any]:
    return result if isinstance(result, dict) else result.to_dict()


def profile_rows(profile: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(fact, value, evidence) rows for the profile, in the order a clinician reads them."""
    rows: list[tuple[str, str, str]] = []
    noted = profile.get("from_notes") or {}
    stated = profile.get("from_case") or {}

    def source(name: str) -> str:
        return f"notes: {noted[name]}" if name in noted else "case file"

    def said(value: str, name: str) -> str:
        # What the case file states wins over the notes, and the report says so.
        return f"{value} {wording.STATED_MARK}" if name in stated else value

    for name in ("age", "sex", "ecog"):
        if profile.get(name) is not None:
            rows.append((name.upper() if name == "ecog" else name.capitalize(),
                         str(profile[name]), source(name)))
    cancer = profile.get("cancer_type")
    rows.append(("Cancer type",
                 said(f"{cancer['name']} ({cancer['code']})", "diagnosis") if cancer
                 else "not found", cancer.get("evidence", "") if cancer else ""))
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
        rows.append(("Stage", said(value, "stage") if value else "not found",
                     stage.get("evidence", "")))
    else:
        rows.append(("Stage", "not found", ""))
    for marker in profile.get("biomarkers") or []:
        label = biomarker_label(marker)
        if str(marker.get("evidence") or "").startswith(wording.STATED):
            label = f"{label} {wording.STATED_MARK}"
        rows.append(("Biomarker", label, marker.get("evidence", "")))
    if profile.get("prior_therapies") is not None:
        rows.append(("Prior therapies",
                     said(", ".join(profile["prior_therapies"]) or "none", "treatments"),
                     "case file" if "treatments" in stated else source("prior_therapies")))
    for treatment in stated.get("treatments") or []:
        rows.append(("Treatment", f"{wording.treatment_words(treatment)} "
                                  f"{wording.STATED_MARK}", "case file"))
    for name, label in (("disease_status", "Disease status"),
                        ("metastatic_sites", "Metastatic sites"),
                        ("brain_metastases", "Brain metastases"),
                        ("menopausal", "Menopausal status")):
        if stated.get(name):
            value = stated[name]
            shown = ", ".join(value) if isinstance(value, list) else str(value)
            rows.append((label, f"{shown.replace('_', ' ')} {wording.STATED_MARK}",
                         "case file"))
    for name, lab in (stated.get("labs") or {}).items():
        rows.append((f"Lab: {name}", f"{lab['value']:g} {lab['unit']} {wording.STATED_MARK}",
                     "case file"))
    for name, label in (("metastatic", "Distant spread"), ("brain_metastases", "Brain metastases"),
                        ("pregnancy", "Pregnancy")):
        if name in noted:
            rows.append((label, "stated in the notes", f"notes: {noted[name]}"))
    location = profile.get("location")
    if location:
        rows.append(("Location", ", ".join(v for v in location.values() if v), "case file"))
    return rows


# The `now` facts shown even when unknown (the others only when known).
_NOW_ALWAYS = ("extent_now", "recurrence", "metastatic_sites", "brain_metastases",
               "advanced_lines", "treatment_naive", "ecog")
_NOW_LABELS = (("extent_now", "Extent now"), ("recurrence", "Recurrence"),
               ("metastatic_sites", "Metastatic sites"),
               ("brain_metastases", "Brain metastases"), ("heme_status", "Blood cancer status"),
               ("advanced_lines", "Lines for advanced disease"),
               ("treatment_naive", "Treatment-naive"), ("platinum_status", "Platinum status"),
               ("castration_status", "Castration status"), ("menopausal", "Menopausal status"),
               ("pregnant", "Pregnant"), ("ecog", "ECOG"), ("karnofsky", "Karnofsky"))


def now_rows(profile: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(fact, value, evidence) rows for the profile's `now` section: what the matcher
    concludes about the patient now. Facts that do not apply are left out, and so are
    unknown ones beyond the main few."""
    now = profile.get("now") or {}
    rows: list[tuple[str, str, str]] = []
    for name, label in _NOW_LABELS:
        fact = now.get(name) or {}
        value = fact.get("value", "unknown")
        if value == "not applicable" or (value == "unknown" and name not in _NOW_ALWAYS):
            continue
        if name == "metastatic_sites" and isinstance(value, list):
            shown = ", ".join(value) or "none"
            if fact.get("absent"):
                shown += f" (not {', '.join(fact['absent'])})"
        else:
            shown = str(value)
        rows.append((label, shown, str(fact.get("evidence") or "")))
        if name == "brain_metastases":
            rows += _treatment_rows(now)
    labs = now.get("labs") or {}
    if labs:
        rows.append(("Labs", "; ".join(f"{name} {lab['value']:g} {lab.get('unit') or ''}"
                                       .strip() for name, lab in labs.items()),
                     "; ".join(str(lab.get("evidence") or "") for lab in labs.values())))
    return rows


def _treatment_rows(now: dict[str, Any]) -> list[tuple[str, str, str]]:
    treatments = (now.get("treatments") or {}).get("value")
    if not isinstance(treatments, list):
        return [("Treatments", "unknown", "")]
    if not treatments:
        return [("Treatments", "none", str((now.get("treatments") or {}).get("evidence")
                                           or ""))]
    rows = []
    for item in treatments:
        parts = [f"setting {item.get('setting')}"]
        if item.get("line"):
            parts.append(f"line {item['line']}")
        if item.get("progressed") == "yes":
            parts.append("progressed on it")
        rows.append(("Treatment", f"{item.get('text')} ({', '.join(parts)})",
                     str(item.get("evidence") or "")))
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
    """The report as Markdown (GitHub-flavoured tables), in the order of the HTML page: the
    patient now, what the first evaluation missed, the top trials, then the detail."""
    from trialmatch.provenance import data_line

    doc = _document(result)
    profile = doc.get("profile") or {}
    unit = wording.distance_unit(doc)
    out = [f"# Tumor board: case {_md(doc['case_id'])}", "", f"*{_md(data_line(doc))}*", "",
           f"> {_md(doc.get('disclaimer', ''))}", "", "## The patient now", "",
           f"- **Cancer type:** {_md(wording.cancer_text(profile))}",
           f"- **Stage:** {_md(wording.stage_text(profile))}",
           f"- **Key biomarkers:** {_md(wording.key_biomarkers(profile))}"]
    out += [f"- **{_md(fact)}:** {_md(value)}" for fact, value, _ in now_rows(profile)]
    if profile.get("place"):
        out.append(f"- **Distances from:** {_md(profile['place'].get('label'))}; "
                   f"{_md(profile['place'].get('note'))}")
    for warning in doc.get("warnings") or []:
        out.append(f"\n*Warning:* {_md(warning)}")
    out += ["", "## What the first evaluation missed", ""]
    if doc.get("first_opinion") is None:
        out += ["No first opinion in the case: every trial and protocol below is new to it.", ""]
    out += [f"- **{kind}:** {_md(line)}" for kind, line in wording.missed_lines(doc)] or \
        ["None found."]
    trials = doc.get("trials") or []
    shown = trials[:TOP_TRIALS_FIRST_PAGE]
    out += ["", f"## Top trials ({len(shown)} of {len(trials)})", ""]
    if doc.get("filters"):
        out += [f"Only trials with {_md('; '.join(doc['filters']))}.", ""]
    for rank, t in enumerate(shown, start=1):
        site = wording.site_line(t, unit)
        out += [f"{rank}. **{_md(t['title'])}** ({_md(t['nct_id'])})",
                f"   {VERDICT_WORDS.get(t['verdict'], t['verdict'])}"
                f"{', not in the first opinion' if t.get('missed') else ''} · "
                f"{_md(wording.phases_text(t.get('phases')))} · "
                f"{_md(wording.status_text(t.get('status')))} · score {t['score']:.2f}",
                f"   {_md(wording.verdict_line(t))}"]
        if site:
            out.append(f"   Nearest recruiting site: {_md(site)}")
        out += [f"   Contact: {_md(wording.contact_line(t.get('contact')))}",
                f"   {_md(t.get('url') or '')}"]
    if not trials:
        out.append("No open trial fits this profile in the store.")
    out += ["", "## Criteria, trial by trial"]
    for trial in trials:
        out += ["", f"### {_md(trial['nct_id'])}: {_md(trial['title'])}", "",
                f"{_md(wording.status_text(trial.get('status')))}, "
                f"{_md(wording.phases_text(trial.get('phases')))}; score {trial['score']:.2f} "
                f"({_md(wording.score_words(trial))})"
                + (f"; cohort {_md(trial['cohort'])}" if trial.get("cohort") else ""),
                "", "| Result | Why | Criterion | Kind | Evidence |", "|---|---|---|---|---|"]
        for c in trial.get("criteria") or []:
            out.append(f"| {RESULT_MARK.get(c['result'], c['result'])} | "
                       f"{_md(wording.name_codes(c['reason']))} | \u201c{_md(c['text'])}\u201d | "
                       f"{c['kind']} | {_md(c.get('evidence'))} |")
    excluded = doc.get("excluded") or []
    if excluded:
        out += ["", f"## Excluded trials ({len(excluded)})", ""]
        for item in excluded:
            why = [f"{wording.name_codes(c.get('reason'))}: \u201c{c.get('text')}\u201d"
                   for c in item.get("criteria") or []] or item.get("reasons") or []
            out.append(f"- **{_md(item['nct_id'])}** {_md(item['title'])}: "
                       f"{_md('; '.join(why))}")
    out += ["", "## Biomarker-directed protocols", ""]
    out += [f"- {_md(p.get('biomarker'))}: **{_md(p.get('therapy'))}**"
            f"{' (not in the first opinion)' if p.get('missed') else ''} — {_md(p.get('source'))}"
            for p in doc.get("protocols") or []] or ["None found."]
    out += ["", "## Testing gaps", ""]
    out += [f"- **{_md(g.get('marker'))}**: {_md(g.get('reason'))}"
            for g in doc.get("testing_gaps") or []] or ["None found."]
    out += ["", "## Discrepancies with the first opinion", ""]
    out += [f"- {_md(wording.discrepancy_field(d.get('field')))}: first opinion "
            f"{_md(d.get('first_opinion'))}, {wording.found_in(d)} "
            f"{_md(d.get('found'))} ({_md(d.get('evidence'))})"
            for d in doc.get("discrepancies") or []] or ["None found."]
    out += ["", "## Patient profile", "", "| Fact | Value | Evidence |", "|---|---|---|"]
    out += [f"| {_md(a)} | {_md(b)} | {_md(c)} |" for a, b, c in profile_rows(profile)]
    out += [f"| Now: {_md(a)} | {_md(b)} | {_md(c)} |" for a, b, c in now_rows(profile)]
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


BOARD_CSS = """
.about{color:#57606a;font-size:.85em;margin:.2rem 0 .6rem}
.now{font-size:1.05em;margin:.3rem 0}.now dt{font-weight:600;float:left;clear:left;width:9rem}
.now dd{margin:0 0 .2rem 9.5rem}
ol.top>li{margin:.5rem 0 .7rem}.oneline{margin:.1rem 0}.kind{font-weight:600;color:#7d4e00}
details{margin:.4rem 0;border:1px solid #d0d7de;border-radius:4px;padding:.3rem .6rem}
summary{cursor:pointer;font-weight:600}blockquote{margin:.2rem 0 .2rem 1rem;color:#444;
border-left:3px solid #d0d7de;padding-left:.5rem}
@media print{.first-page{break-after:page;page-break-after:always}details{border:none}}
"""


def render_html(result: Any) -> str:
    """The report as one self-contained HTML page (inline CSS, no scripts, nothing fetched).

    First page, for the tumor board: the patient now, what the first evaluation missed, then
    the top trials (title, phase, status, the reason for the verdict, the nearest recruiting
    site, a contact, the ClinicalTrials.gov link). Then, folded: every trial's criteria and
    the excluded trials (the reason before the quoted criterion), and the full profile.
    """
    from trialmatch.provenance import data_line

    doc = _document(result)
    case_id = _h(doc["case_id"])
    profile = doc.get("profile") or {}
    unit = wording.distance_unit(doc)
    trials = doc.get("trials") or []
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>trialmatch report: case {case_id}</title>"
        f"<style>{CSS}{BOARD_CSS}</style></head><body>",
        '<section class="first-page">',
        f"<h1>Tumor board: case {case_id}</h1>",
        f'<p class="about">{_h(data_line(doc))}</p>',
        f'<p class="disclaimer">{_h(doc.get("disclaimer", ""))}</p>',
        "<h2>The patient now</h2><dl class=\"now\">",
        f"<dt>Cancer type</dt><dd>{_h(wording.cancer_text(profile))}</dd>",
        f"<dt>Stage</dt><dd>{_h(wording.stage_text(profile))}</dd>",
        f"<dt>Key biomarkers</dt><dd>{_h(wording.key_biomarkers(profile))}</dd>",
    ]
    parts += [f"<dt>{_h(fact)}</dt><dd>{_h(value)}</dd>" for fact, value, _ in
              now_rows(profile)]
    place = profile.get("place")
    if place:
        parts.append(f"<dt>Distances from</dt><dd>{_h(place.get('label'))}; "
                     f"{_h(place.get('note'))}</dd>")
    parts.append("</dl>")
    parts += [f'<p class="muted">Warning: {_h(w)}</p>' for w in doc.get("warnings") or []]
    parts.append("<h2>What the first evaluation missed</h2>")
    missed = wording.missed_lines(doc)
    if doc.get("first_opinion") is None:
        parts.append('<p class="muted">No first opinion in the case: every trial and '
                     "protocol below is new to it.</p>")
    parts.append(_html_list([f'<span class="kind">{_h(kind)}</span> {_h(line)}'
                             for kind, line in missed]))
    filters = doc.get("filters") or []
    shown = trials[:TOP_TRIALS_FIRST_PAGE]
    parts.append(f"<h2>Top trials ({len(shown)} of {len(trials)})</h2>")
    if filters:
        parts.append(f'<p class="muted">Only trials with {_h("; ".join(filters))}.</p>')
    if shown:
        parts.append('<ol class="top">' + "".join(_html_top_trial(t, unit) for t in shown)
                     + "</ol>")
    else:
        parts.append("<p>No open trial fits this profile in the store.</p>")
    parts.append("</section>")
    # Detail, folded.
    parts.append("<h2>Criteria, trial by trial</h2>")
    parts += [_html_trial(t) for t in trials] or ["<p>None.</p>"]
    excluded = doc.get("excluded") or []
    parts.append(f"<h2>Excluded trials ({len(excluded)})</h2>")
    parts += [_html_excluded(e) for e in excluded] or ["<p>None.</p>"]
    parts.append("<h2>Biomarker-directed protocols</h2>")
    parts.append(_html_list(
        [f"{_h(p.get('biomarker'))}: <strong>{_h(p.get('therapy'))}</strong>"
         + (' <span class="badge missed">not in the first opinion</span>' if p.get("missed")
            else "") + f' <span class="muted">{_h(p.get("source"))}</span>'
         for p in doc.get("protocols") or []]))
    parts.append("<details><summary>Patient profile with the evidence for each fact</summary>"
                 "<table><thead><tr><th>Fact</th><th>Value</th><th>Evidence</th></tr></thead>"
                 "<tbody>")
    parts += [f"<tr><td>{_h(a)}</td><td>{_h(b)}</td><td>{_h(c)}</td></tr>"
              for a, b, c in profile_rows(profile)]
    parts += [f"<tr><td>Now: {_h(a)}</td><td>{_h(b)}</td><td>{_h(c)}</td></tr>"
              for a, b, c in now_rows(profile)]
    parts.append("</tbody></table></details>")
    parts.append(f'<hr><p class="disclaimer">{_h(doc.get("disclaimer", ""))}</p>')
    parts.append(f'<p class="about">{_h(data_line(doc))}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_top_trial(t: dict[str, Any], unit: str | None) -> str:
    verdict = t.get("verdict") or ""
    missed = ' <span class="badge missed">not in the first opinion</span>' \
        if t.get("missed") else ""
    site = wording.site_line(t, unit)
    site_html = (f'<p class="oneline">Nearest recruiting site: {_h(site)}</p>' if site else "")
    url = t.get("url") or f"https://clinicaltrials.gov/study/{t['nct_id']}"
    return (
        f'<li><strong>{_h(t["title"])}</strong><p class="oneline">'
        f'<span class="badge {_h(verdict)}">{_h(VERDICT_WORDS.get(verdict, verdict))}</span>'
        f"{missed} {_h(wording.phases_text(t.get('phases')))} · "
        f"{_h(wording.status_text(t.get('status')))} · {_h(wording.purpose_text(t.get('purpose')))}"
        f' · score {t["score"]:.2f}</p>'
        f'<p class="oneline">{_h(wording.verdict_line(t))}</p>{site_html}'
        f'<p class="oneline">Contact: {_h(wording.contact_line(t.get("contact")))}</p>'
        f'<p class="oneline"><a href="{_h(url)}">{_h(url)}</a></p></li>')


def _html_excluded(e: dict[str, Any]) -> str:
    rows = "".join(
        f"<li>{_h(wording.name_codes(c.get('reason')))}<blockquote>{_h(c.get('text'))}"
        "</blockquote></li>" for c in e.get("criteria") or [])
    if not rows:
        rows = "".join(f"<li>{_h(wording.name_codes(r))}</li>" for r in e.get("reasons") or [])
    return (f"<details><summary>{_h(e['nct_id'])} {_h(e.get('title'))}</summary>"
            f"<ul>{rows}</ul></details>")


def _html_list(items: list[str]) -> str:
    if not items:
        return "<p>None found.</p>"
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _html_trial(t: dict[str, Any]) -> str:
    rows = "".join(
        f'<tr><td class="{_h(c["result"])}">{_h(RESULT_MARK.get(c["result"], c["result"]))}'
        f'</td><td>{_h(wording.name_codes(c["reason"]))}<blockquote>{_h(c["text"])}'
        f'</blockquote></td><td>{_h(c["kind"])}</td><td>{_h(c.get("evidence"))}</td></tr>'
        for c in t.get("criteria") or [])
    cohort = f"; cohort {_h(t['cohort'])}" if t.get("cohort") else ""
    return (
        f'<details class="trial" id="{_h(t["nct_id"])}"><summary>{_h(t["nct_id"])}: '
        f'{_h(t["title"])}</summary><p class="muted">'
        f'{_h(wording.status_text(t.get("status")))}, '
        f'{_h(wording.phases_text(t.get("phases")))}; score {t["score"]:.2f} '
        f'({_h(wording.score_words(t))}){cohort}</p>'
        "<table><thead><tr><th>Result</th><th>Why, then the criterion as written</th>"
        f"<th>Kind</th><th>Evidence</th></tr></thead><tbody>{rows}</tbody></table></details>"
    )
