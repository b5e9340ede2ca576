"""The accountability report as one self-contained HTML page (plots as base64 PNGs, styles inline, nothing
fetched from anywhere) or as a PDF (matplotlib's PdfPages: the figures as tables and the same plots).

Every value from the store reaches the page escaped (``html.escape``): names, reasons and details are
data, never markup.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from vigil.services.report import AuditLine, Report, ThresholdLine

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:62rem;color:#1f2933;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d2d6dc}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{text-align:left;padding:.25rem .5rem;
border-bottom:1px solid #e4e7eb;vertical-align:top}td.num,th.num{text-align:right}
.muted{color:#616e7c}.ok{color:#0b7a3b;font-weight:600}.bad{color:#b42318;font-weight:600}
.figures{display:flex;gap:1rem;flex-wrap:wrap}
.figure{border:1px solid #e4e7eb;padding:.5rem 1rem;border-radius:6px}
.figure b{display:block;font-size:1.4rem}img{max-width:100%}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _t(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    """'—', '45 s', '3 min 05 s', '2 h 04 min'."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _table(
    head: Sequence[str], rows: Iterable[Sequence[object]], testid: str, num: Sequence[int] = ()
) -> str:
    th = "".join(
        f'<th class="num">{_e(h)}</th>' if i in num else f"<th>{_e(h)}</th>" for i, h in enumerate(head)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_e(v)}</td>' if i in num else f"<td>{_e(v)}</td>" for i, v in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    if not body:
        return f'<p class="muted" data-testid="{testid}">None in this period.</p>'
    return f'<table data-testid="{testid}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


# --- plots --------------------------------------------------------------------------------------------


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plots(report: Report) -> dict[str, Figure]:
    """The report's figures by name (only those with data): alerts per day and list, reviews per reviewer,
    time to first review."""
    out: dict[str, Figure] = {}
    if report.alerts_per_day:
        fig = Figure(figsize=(7, 3))
        ax = fig.add_subplot()
        days = list(report.alerts_per_day)
        lists = sorted({name for v in report.alerts_per_day.values() for name in v})
        bottom = [0] * len(days)
        for name in lists:
            counts = [report.alerts_per_day[d].get(name, 0) for d in days]
            ax.bar([d.isoformat() for d in days], counts, bottom=bottom, label=name)
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        ax.set_ylabel("alerts")
        ax.set_title("Alerts per day (UTC), by list")
        ax.legend(fontsize="small")
        ax.tick_params(axis="x", labelrotation=45, labelsize="small")
        out["alerts_per_day"] = fig
    if report.reviewers:
        fig = Figure(figsize=(7, 3))
        ax = fig.add_subplot()
        names = [r.username for r in report.reviewers]
        width = 0.27
        xs = range(len(names))
        for k, (label, values) in enumerate(
            (
                ("confirmed", [r.confirmed for r in report.reviewers]),
                ("rejected", [r.rejected for r in report.reviewers]),
                ("acknowledged", [r.acknowledged for r in report.reviewers]),
            )
        ):
            ax.bar([x + (k - 1) * width for x in xs], values, width, label=label)
        ax.set_xticks(list(xs), names)
        ax.set_ylabel("reviews")
        ax.set_title("Reviews per reviewer")
        ax.legend(fontsize="small")
        out["reviews"] = fig
    if report.review_times.delays_s:
        fig = Figure(figsize=(7, 3))
        ax = fig.add_subplot()
        ax.hist(
            [d / 60 for d in report.review_times.delays_s], bins=min(20, len(report.review_times.delays_s))
        )
        ax.set_xlabel("minutes from the alert to its first review")
        ax.set_ylabel("alerts")
        ax.set_title("Time to review")
        out["review_times"] = fig
    return out


# --- HTML ---------------------------------------------------------------------------------------------


def _changes(lines: list[AuditLine], testid: str) -> str:
    rows = [
        (
            _t(c.at), c.actor, c.action, c.watchlist or "—", str(c.details.get("name", "")) or c.subject,
            c.reason or "(none given)", str(c.details.get("approved_by") or ""),
        )
        for c in lines
    ]  # fmt: skip
    return _table(
        ("When", "By", "Change", "List", "Who / what", "Legal basis / reason", "Approved by"), rows, testid
    )


def _set_by(t: ThresholdLine) -> str:
    if not t.fixed:
        return "calibration"
    return "hand (below calibrated)" if t.below_calibrated else "hand"


def render_html(report: Report) -> str:
    """The report as one HTML document (UTF-8, self-contained)."""
    r = report
    rt = r.review_times
    verdict = (
        f"Intact: all {r.chain.rows:,} audit rows follow the hash chain."
        if r.chain.ok
        else f"Broken at row {r.chain.broken_at}: {r.chain.reason}; the {r.chain.rows - 1:,} rows before it "
        "follow the chain."
    )
    chain = f'<p class="{"ok" if r.chain.ok else "bad"}" data-testid="chain-verdict">{_e(verdict)}</p>'
    figures = "".join(
        f'<div class="figure" data-testid="figure-{key}"><b>{_e(value)}</b>{_e(label)}</div>'
        for key, value, label in (
            ("searches", len(r.searches), "searches and recognitions"),
            ("alerts", r.alerts_total, "alerts"),
            ("reviews", sum(x.confirmed + x.rejected + x.acknowledged for x in r.reviewers), "reviews"),
            ("median-review", duration(rt.median_s), "median time to review"),
            ("list-changes", len(r.list_changes) + len(r.rule_changes), "watchlist changes"),
            ("purges", len(r.purges), "purges"),
        )
    )
    images = "".join(
        f'<p><img alt="{_e(name.replace("_", " "))}" data-testid="plot-{name}" '
        f'src="data:image/png;base64,{_png(fig)}"></p>'
        for name, fig in plots(r).items()
    )
    empty = (
        '<p class="muted" data-testid="report-empty">Nothing was searched, alerted, reviewed, changed or '
        "purged in this period.</p>"
        if r.empty
        else ""
    )
    searches = _table(
        ("When", "By", "What", "Reason", "Found"),
        ((_t(s.at), s.actor, s.action, s.reason, s.found) for s in r.searches),
        "report-searches", num=(4,),
    )  # fmt: skip
    per_actor = ", ".join(f"{_e(a)}: {n}" for a, n in r.searches_per_actor.items())
    alerts = _table(
        ("List", "Alerts", "Confirmed", "Rejected", "Acknowledged", "Not reviewed"),
        ((a.watchlist, a.alerts, a.confirmed, a.rejected, a.acknowledged, a.open) for a in r.alerts_per_list),
        "report-alerts", num=(1, 2, 3, 4, 5),
    )  # fmt: skip
    reviewers = _table(
        ("Reviewer", "Confirmed", "Rejected", "Acknowledged", "Median time to review"),
        ((v.username, v.confirmed, v.rejected, v.acknowledged, duration(v.median_s)) for v in r.reviewers),
        "report-reviewers", num=(1, 2, 3, 4),
    )  # fmt: skip
    thresholds = _table(
        ("List", "Threshold", "Set by", "FPIR", "Calibrated", "People", "Alerts passed"),
        (
            (
                t.watchlist, _num(t.threshold), _set_by(t), "—" if t.fpir is None else f"{t.fpir:g}",
                _num(t.calibrated), t.size,
                "—" if t.passed_min is None else f"{_num(t.passed_min)}–{_num(t.passed_max)}",
            )
            for t in r.thresholds
        ),
        "report-thresholds", num=(1, 5),
    )  # fmt: skip
    rules = _table(
        ("When", "By", "List", "Threshold", "FPIR", "Reason"),
        (
            (_t(c.at), c.actor, c.watchlist, c.details.get("threshold") or "calibrated",
             c.details.get("fpir") or "—", c.reason or "(none given)")
            for c in r.rule_changes
        ),
        "report-rules",
    )  # fmt: skip
    purges = _table(
        ("When", "Events", "Files", "Search photos", "Negatives"),
        ((_t(p.at), p.events, p.files, p.probes, p.negatives) for p in r.purges),
        "report-purges", num=(1, 2, 3, 4),
    )  # fmt: skip
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Vigil accountability report {_e(r.since.date())} to {_e(r.until.date())}</title>
<style>{_STYLE}</style></head><body>
<h1>Accountability report</h1>
<p class="muted" data-testid="report-period">{_e(_t(r.since))} to {_e(_t(r.until))} (until excluded);
generated {_e(_t(r.generated_at))}.</p>
{empty}
<div class="figures">{figures}</div>
<h2>Audit chain</h2>{chain}
{images}
<h2>Searches and their reasons</h2><p class="muted">Per user: {per_actor or "none"}.</p>{searches}
<h2>Alerts per list</h2>{alerts}
<h2>Reviews per reviewer</h2>
<p data-testid="review-times">First reviews: {rt.reviewed} of {rt.reviewed + rt.unreviewed} alerts;
median {duration(rt.median_s)}, 90th percentile {duration(rt.p90_s)}, longest {duration(rt.max_s)}.</p>
{reviewers}
<h2>Thresholds and their calibration</h2>{thresholds}<h3>Rule changes</h3>{rules}
<h2>Watchlist changes and their legal basis</h2>{_changes(r.list_changes, "report-list-changes")}
<h2>Purges</h2>{purges}
</body></html>
"""


# --- PDF ----------------------------------------------------------------------------------------------


def _text_page(lines: list[str]) -> Figure:
    fig = Figure(figsize=(8.27, 11.69))  # A4
    y = 0.96
    for line in lines:
        fig.text(0.06, y, line, fontsize=9, family="monospace", va="top")
        y -= 0.018
    return fig


def summary_lines(report: Report) -> list[str]:
    """The report's figures as plain text lines (the PDF's pages)."""
    r, rt = report, report.review_times
    lines = [
        "Vigil accountability report",
        f"{_t(r.since)} to {_t(r.until)} (until excluded); generated {_t(r.generated_at)}",
        "",
        f"Audit chain: intact ({r.chain.rows} rows)" if r.chain.ok
        else f"Audit chain: BROKEN at row {r.chain.broken_at}: {r.chain.reason}",
        f"Searches and recognitions: {len(r.searches)}",
        *(f"  {_t(s.at)}  {s.actor:<12} {s.action:<16} found {s.found:<3} reason: {s.reason}"
          for s in r.searches),
        f"Alerts: {r.alerts_total}",
        *(f"  {a.watchlist:<16} {a.alerts:>4} alerts, {a.confirmed} confirmed, {a.rejected} rejected, "
          f"{a.acknowledged} acknowledged, {a.open} not reviewed" for a in r.alerts_per_list),
        f"First reviews: {rt.reviewed} of {rt.reviewed + rt.unreviewed}; median {duration(rt.median_s)}, "
        f"p90 {duration(rt.p90_s)}, longest {duration(rt.max_s)}",
        *(f"  {v.username:<12} {v.confirmed} confirmed, {v.rejected} rejected, {v.acknowledged} "
          f"acknowledged, median {duration(v.median_s)}" for v in r.reviewers),
        "Thresholds:",
        *(f"  {t.watchlist:<16} {t.threshold:.3f} ({'hand' if t.fixed else 'calibrated'}), FPIR "
          f"{'—' if t.fpir is None else f'{t.fpir:g}'}, {t.size} people" for t in r.thresholds),
        f"Watchlist changes: {len(r.list_changes) + len(r.rule_changes)}",
        *(f"  {_t(c.at)}  {c.actor:<12} {c.action:<18} {c.watchlist:<12} basis: {c.reason or '(none given)'}"
          for c in [*r.rule_changes, *r.list_changes]),
        f"Purges: {len(r.purges)}",
        *(f"  {_t(p.at)}  {p.events} events, {p.files} files, {p.probes} search photos" for p in r.purges),
    ]  # fmt: skip
    return lines


def render_pdf(report: Report, path: Path) -> None:
    """The report as a PDF at ``path``: the figures as text pages, then the plots."""
    lines = summary_lines(report)
    per_page = 50
    with PdfPages(path) as pdf:
        for lo in range(0, max(len(lines), 1), per_page):
            pdf.savefig(_text_page(lines[lo : lo + per_page]))
        for fig in plots(report).values():
            pdf.savefig(fig)
