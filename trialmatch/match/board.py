"""index.html for a tumor-board batch: every case with links to its reports and key findings.

It reads each case's `key_findings` (not the whole match document) and shows the top trials.

One self-contained page (inline CSS, no scripts, no fonts, images or links to the network),
readable offline and printable for the meeting (print CSS: one case never split over pages,
links printed as plain text). Rendering is a pure function of the batch's outcomes, so the
page is the same whatever the number of jobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any
from urllib.parse import quote

from trialmatch.match.batch import CaseOutcome, format_stage

DISCLAIMER = ("Decision support for clinicians, not a treatment recommendation. Every finding "
              "must be checked against the source notes and the trial protocol.")
TRIALS_SHOWN = 5

_CSS = """
:root { --ink: #1d2330; --muted: #5b6473; --rule: #d5dae3; --accent: #1f5fa8;
        --warn: #a4461b; --bad: #b3261e; --ok: #2e6b30; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); margin: 0 auto; padding: 1.5rem; max-width: 72rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 0; }
h3 { font-size: .95rem; margin: .8rem 0 .3rem; color: var(--muted);
     text-transform: uppercase; letter-spacing: .04em; }
a { color: var(--accent); }
.disclaimer { border-left: 4px solid var(--warn); background: #fbf3ee; padding: .5rem .8rem;
              margin: 1rem 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--rule);
         vertical-align: top; }
th { font-size: .8rem; text-transform: uppercase; color: var(--muted); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.case { border: 1px solid var(--rule); border-radius: 6px; padding: 1rem 1.2rem;
        margin: 1.2rem 0; }
.case header { display: flex; flex-wrap: wrap; gap: .4rem 1rem; align-items: baseline; }
.meta { color: var(--muted); }
.links a { margin-right: .8rem; }
.badge { display: inline-block; font-size: .75rem; padding: 0 .4rem; border-radius: 3px;
         border: 1px solid currentColor; white-space: nowrap; }
.missed { color: var(--warn); font-weight: 600; }
.failed { color: var(--bad); }
.eligible { color: var(--ok); }
.possibly_eligible { color: var(--muted); }
ul { margin: .2rem 0; padding-left: 1.2rem; }
.none { color: var(--muted); font-style: italic; }
@page { size: A4; margin: 14mm; }
@media print {
  body { font-size: 10.5pt; padding: 0; max-width: none; }
  a { color: inherit; text-decoration: none; }
  .links { display: none; }
  .case { break-inside: avoid; page-break-inside: avoid; border-color: #999; }
  .overview { break-after: page; page-break-after: always; }
  .disclaimer { background: none; }
}
"""


def _text(value: Any) -> str:
    return escape("" if value is None else str(value))


def _href(name: str) -> str:
    # Case ids are restricted to a safe alphabet, but quote anyway: this is a URL.
    return escape(quote(name), quote=True)


def _cancer(findings: dict[str, Any]) -> str:
    cancer = (findings.get("profile") or {}).get("cancer_type")
    if not cancer:
        return "no cancer type asserted"
    name, code = cancer.get("name"), cancer.get("code")
    return f"{name} ({code})" if name and code and name != code else str(name or code)


def _trial_item(trial: dict[str, Any]) -> str:
    verdict = str(trial.get("verdict") or "")
    score = trial.get("score")
    parts = [
        f"<strong>{_text(trial.get('nct_id'))}</strong> {_text(trial.get('title'))}",
        f'<span class="badge {escape(verdict, quote=True)}">'
        f"{_text(verdict.replace('_', ' '))}</span>",
    ]
    if isinstance(score, int | float):
        parts.append(f'<span class="meta">score {score:.2f}</span>')
    if trial.get("missed"):
        parts.append('<span class="badge missed">missed</span>')
    site = trial.get("nearest_site")
    if site:
        unit = trial.get("distance_unit") or "km"
        value = site.get("distance_mi") if unit == "mi" else site.get("distance_km")
        place = ", ".join(p for p in (site.get("city"), site.get("country")) if p)
        parts.append(f'<span class="meta">nearest recruiting site {_text(place)}, '
                     f"{value:,.0f} {unit}</span>")
    return "<li>" + " ".join(parts) + "</li>"


def _protocol_item(protocol: dict[str, Any]) -> str:
    missed = ' <span class="badge missed">missed</span>' if protocol.get("missed") else ""
    return (f"<li>{_text(protocol.get('biomarker'))} &rarr; "
            f"<strong>{_text(protocol.get('therapy'))}</strong>{missed}</li>")


def _gap_item(gap: dict[str, Any]) -> str:
    reason = f' <span class="meta">{_text(gap.get("reason"))}</span>' if gap.get("reason") else ""
    return f"<li><strong>{_text(gap.get('marker'))}</strong>{reason}</li>"


def _stated(value: Any) -> str:
    return f"<strong>{_text(value)}</strong>" if value not in (None, "") else "<em>not stated</em>"


def _discrepancy_item(item: dict[str, Any]) -> str:
    from trialmatch.match.wording import discrepancy_field, found_in

    return (f"<li>{_text(discrepancy_field(item.get('field')))}: first opinion "
            f"{_stated(item.get('first_opinion'))}"
            f", {found_in(item)} {_stated(item.get('found'))}</li>")


def _list(title: str, items: list[str], empty: str) -> str:
    body = f"<ul>{''.join(items)}</ul>" if items else f'<p class="none">{_text(empty)}</p>'
    return f"<h3>{_text(title)}</h3>{body}"


def _case_section(outcome: CaseOutcome) -> str:
    case_id = outcome.case_id or ""
    anchor = escape(f"case-{outcome.index}", quote=True)
    title = _text(case_id or outcome.case_file)
    if not outcome.ok or outcome.findings is None:
        return (f'<section class="case" id="{anchor}"><header><h2>{title}</h2>'
                f'<span class="meta">{_text(outcome.case_file)}</span></header>'
                f'<p class="failed"><strong>Not matched:</strong> {_text(outcome.error)}</p>'
                "</section>")
    findings = outcome.findings
    profile = findings.get("profile") or {}
    trials = findings.get("trials") or []
    stage = format_stage(profile.get("stage"))
    stage_text = f"stage {stage}" if stage else "stage not reported"
    links = " ".join(
        f'<a href="{_href(case_id + suffix)}">{label}</a>'
        for suffix, label in ((".html", "Full report"), (".md", "Markdown"), (".json", "JSON"))
    )
    shown = [_trial_item(trial) for trial in trials[:TRIALS_SHOWN]]
    if outcome.trial_count > len(shown):
        shown.append(f'<li class="meta">and {outcome.trial_count - len(shown)} more in the '
                     "full report</li>")
    return "".join([
        f'<section class="case" id="{anchor}"><header>',
        f'<h2><a href="{_href(case_id + ".html")}">{title}</a></h2>',
        f'<span>{_text(_cancer(findings))}, {_text(stage_text)}</span>',
        f'<span class="meta">{_text(outcome.case_file)}</span>',
        f'<span class="links">{links}</span></header>',
        _list(f"Trials ({outcome.trial_count}, {outcome.missed_trials} missed)", shown,
              "No eligible or possibly eligible open trial."),
        _list("Biomarker-directed protocols",
              [_protocol_item(p) for p in findings.get("protocols") or []],
              "None found for the reported biomarkers."),
        _list("Testing gaps", [_gap_item(g) for g in findings.get("testing_gaps") or []],
              "None: the recommended biomarkers are reported."),
        _list("Discrepancies with the first opinion",
              [_discrepancy_item(d) for d in findings.get("discrepancies") or []],
              "None found."),
        "</section>",
    ])


def _overview_row(outcome: CaseOutcome) -> str:
    anchor = escape(f"#case-{outcome.index}", quote=True)
    name = _text(outcome.case_id or outcome.case_file)
    if not outcome.ok or outcome.findings is None:
        return (f'<tr><td><a href="{anchor}">{name}</a></td>'
                f'<td colspan="6" class="failed">failed: {_text(outcome.error)}</td></tr>')
    findings = outcome.findings
    profile = findings.get("profile") or {}
    cells = [
        f'<td><a href="{anchor}">{name}</a></td>',
        f"<td>{_text(_cancer(findings))}</td>",
        f"<td>{_text(format_stage(profile.get('stage')))}</td>",
        f'<td class="num">{outcome.trial_count}</td>',
        f'<td class="num">{outcome.missed_trials}</td>',
        f'<td class="num">{outcome.protocols}</td>',
        f'<td class="num">{outcome.testing_gaps}</td>',
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def render_index(outcomes: Sequence[CaseOutcome], *, title: str = "Tumor board",
                 about: dict[str, Any] | None = None, unfinished: int = 0) -> str:
    """The batch's index.html: an overview table, then each case's key findings, in input
    order, with links to the per-case HTML, Markdown and JSON files beside it. `about` is
    the batch's provenance (`trialmatch.provenance.provenance`), shown under the title;
    `unfinished` counts the cases an interrupted batch did not reach."""
    from trialmatch.provenance import data_line

    failed = sum(1 for outcome in outcomes if not outcome.ok)
    counts = f"{len(outcomes)} cases" + (f", {failed} failed" if failed else "")
    if unfinished:
        counts += (f"; interrupted before {unfinished} more: rerun the batch with --resume "
                   "to finish")
    rows = "".join(_overview_row(outcome) for outcome in outcomes)
    sections = "".join(_case_section(outcome) for outcome in outcomes)
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_text(title)}: {_text(counts)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_text(title)}</h1><p class=\"meta\">{_text(counts)}</p>",
        f'<p class="meta">{_text(data_line(about or {}))}; distances are city-level</p>',
        f'<p class="disclaimer">{_text(DISCLAIMER)}</p>',
        '<section class="overview"><table><thead><tr><th>Case</th><th>Cancer type</th>'
        "<th>Stage</th><th>Trials</th><th>Missed trials</th><th>Protocols</th>"
        f"<th>Testing gaps</th></tr></thead><tbody>{rows}</tbody></table></section>",
        sections,
        "</body></html>\n",
    ])
