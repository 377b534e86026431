"""`nudge report`: aging, DSO, days late, CEI, holds, promises, tasks, and which steps work."""

from __future__ import annotations

import argparse
import html
import json
import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from runner import workspace
from runner.report import BUCKETS, Figures, compute, paid_within
from runner.tabular import Table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    workspace.add_today(parser)
    parser.add_argument("--format", choices=("table", "json", "markdown", "html"), default="table")


def run(args: argparse.Namespace) -> int:
    repo = workspace.load_valid(args.root).repo
    log, report = workspace.read_log(args.root)
    from runner.schedule import local_today

    company_zone = repo.settings.defaults.timezone
    today = local_today(workspace.now(args, company_zone), company_zone)
    figures = compute(repo, log, report.entries, today)
    render = {"json": as_json, "markdown": markdown, "html": page, "table": text}[args.format]
    print(render(figures))
    return 0


def _money(value: object) -> str:
    return "-" if value is None else f"{Decimal(str(value)):,.2f}"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def as_json(f: Figures) -> str:
    return json.dumps(
        _plain(
            {
                "today": f.today,
                "aging": [
                    {"customer": c, "currency": cur, **row}
                    for (c, cur), row in sorted(f.aging.items())
                ],
                "aging_totals": f.aging_totals,
                "dso_days": f.dso,
                "average_days_late": f.average_days_late,
                "paid_in_period": f.paid_in_period,
                "cei_percent": f.cei,
                "on_hold": f.on_hold,
                "broken_promises": [
                    {"invoice": i, "customer": c, "promised": d} for i, c, d in f.broken_promises
                ],
                "open_tasks": f.open_tasks,
                "unknown": f.unknown,
                "unreachable": f.unreachable,
                "replies": f.replies,
                "disputes": f.disputes,
                "promises": f.promises,
                "steps": f.steps,
                "agency": f.agency,
                "activity": [{"week": w, "reminders": r, "payments": p} for w, r, p in f.activity],
            }
        ),
        indent=2,
        ensure_ascii=False,
    )


@dataclass(frozen=True)
class Section:
    title: str
    table: Table
    note: str = ""  # how to read it, a sentence under the title


def _table(head: list[str], rows: list[list[str]], right: tuple[int, ...] = ()) -> Table:
    return Table(tuple(head), rows, frozenset(right))


def _sections(f: Figures) -> list[Section]:
    """Every table: one source for text, markdown and HTML."""
    aging = [
        [c, cur, *(_money(row[b]) for b in BUCKETS), _money(sum(row.values(), Decimal(0)))]
        for (c, cur), row in sorted(f.aging.items())
    ]
    aging += [
        ["TOTAL", cur, *(_money(row[b]) for b in BUCKETS), _money(sum(row.values(), Decimal(0)))]
        for cur, row in sorted(f.aging_totals.items())
    ]
    key = [
        [
            cur,
            "-" if f.dso[cur] is None else str(f.dso[cur]),
            "-" if f.cei.get(cur) is None else f"{f.cei[cur]} %",
        ]
        for cur in sorted(f.dso)
    ]
    steps = [
        [
            str(s["policy"]),
            str(s["step"]),
            str(s["channel"]),
            str(s["messages"]),
            paid_within(s),
        ]
        for s in f.steps
    ]
    agency = [
        [
            str(a["invoice"]),
            str(a["customer"]),
            str(a["days_overdue"]),
            f"{_money(a['balance'])} {a['currency']}",
            f"{_money(a['agency_nets'])} {a['currency']}",
            f"{_money(a['settlement_offer'])} {a['currency']}",
        ]
        for a in f.agency
    ]
    disputes = [
        [
            str(d["invoice"]),
            str(d["customer"]),
            _day(d["due"]),
            str(d["days_overdue"]),
            f"{_money(d['balance'])} {d['currency']}",
            str(d["reason"]) or "-",
        ]
        for d in f.disputes
    ]
    promises = [
        [
            str(p["invoice"]),
            str(p["customer"]),
            _day(p["made"]),
            _day(p["by"]),
            f"{_money(p['promised'])} {p['currency']}",
            f"{_money(p['balance'])} {p['currency']}",
        ]
        for p in f.promises
    ]
    return [
        Section(
            "Aging by customer (open balance by days past due)",
            _table(["customer", "currency", *BUCKETS, "total"], aging, (2, 3, 4, 5, 6, 7)),
        ),
        Section(
            "Key figures (last 90 days)",
            _table(["currency", "DSO (days)", "CEI"], key, (1, 2)),
        ),
        Section(
            "In dispute (no reminders until settled with the customer)",
            _table(
                ["invoice", "customer", "due", "days overdue", "balance", "reason"],
                disputes,
                (3, 4),
            ),
        ),
        Section(
            "Promises to pay, date not reached yet (reminders wait until then)",
            _table(
                ["invoice", "customer", "given", "pay by", "promised", "balance"],
                promises,
                (4, 5),
            ),
        ),
        Section(
            "Broken promises",
            _table(
                ["invoice", "customer", "promised by"],
                [[i, c, d.isoformat()] for i, c, d in f.broken_promises],
            ),
        ),
        Section(
            "Reminders sent and what followed",
            _table(["policy", "step", "channel", "sent", "paid within 7 days"], steps, (3, 4)),
            "Of the invoices a step reminded, those paid in full within 7 days of the message; "
            "a message sent in the last 7 days has not had its week yet and is not counted.",
        ),
        Section(
            "90+ days overdue: an agency (keeps 30 %) or a settlement at the same discount",
            _table(
                ["invoice", "customer", "days", "balance", "agency nets", "settlement offer"],
                agency,
                (2, 3, 4, 5),
            ),
        ),
        Section("Customers on hold", _table(["customer"], [[c] for c in f.on_hold])),
        Section(
            "Open tasks (last 7 days)",
            _table(
                ["date", "customer", "step", "invoices"],
                [
                    [str(t["date"]), str(t["customer"]), str(t["step"]), _joined(t["invoices"])]
                    for t in f.open_tasks
                ],
            ),
        ),
        Section(
            "Outcome unknown: a person must check (nudge resolve KEY --sent|--not-sent)",
            _table(
                ["date", "customer", "keys"],
                [[str(u["date"]), str(u["customer"]), _joined(u["keys"])] for u in f.unknown],
            ),
        ),
        Section(
            "Bounced addresses and undelivered numbers (left out of reminders: fix the customer "
            "file)",
            _table(
                ["since", "customer", "contact", "address", "why"],
                [
                    [
                        str(u["since"]),
                        str(u["customer"]),
                        f"{u['contact']} ({u['role']})",
                        str(u["address"]),
                        str(u["reason"]),
                    ]
                    for u in f.unreachable
                ],
            ),
        ),
        Section(
            "Replies waiting for an answer (their reminders wait; `nudge note` when answered)",
            _table(
                ["date", "customer", "invoice", "from", "subject", "waits until"],
                [
                    [
                        str(r["date"]),
                        str(r["customer"]),
                        str(r["invoice"]),
                        str(r["from"]),
                        str(r["subject"]),
                        str(r["waits_until"]),
                    ]
                    for r in f.replies
                ],
            ),
        ),
    ]


def _day(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _joined(values: object) -> str:
    return ", ".join(map(str, values)) if isinstance(values, list | tuple) else ""


def _late(f: Figures) -> str:
    if f.average_days_late is None:
        return "No invoice was paid in full in the last 90 days."
    return (
        f"Invoices paid in the last 90 days: {f.paid_in_period}, on average "
        f"{f.average_days_late} days after their due date."
    )


def text(f: Figures) -> str:
    out = [f"Nudge report, {f.today}", "", _late(f)]
    for section in _sections(f):
        out += ["", section.title] + ([f"  {section.note}"] if section.note else [])
        out += section.table.text() if section.table.rows else ["  (none)"]
    return "\n".join(out)


MARKDOWN_ROWS = 100


def markdown(f: Figures) -> str:
    out = [f"## Nudge report, {f.today}", "", _late(f)]
    for section in _sections(f):
        out += ["", f"### {section.title}", ""] + ([section.note, ""] if section.note else [])
        rows = section.table.rows
        if not rows:
            out.append("_none_")
            continue
        out += section.table.markdown(MARKDOWN_ROWS)
        if len(rows) > MARKDOWN_ROWS:
            out.append(f"\n… and {len(rows) - MARKDOWN_ROWS} more rows (see the HTML report)")
    return "\n".join(out)


# -- charts (inline SVG: the page stands alone, no script, nothing fetched) ---------------------

BAR_COLOURS = {"current": "#4c8", "1-30": "#eb5", "31-60": "#e94", "61-90": "#d74", "90+": "#c54"}
REMINDERS, PAYMENTS = "#48c", "#4a6"
PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT = 24, 150, 70  # the plot area of every chart, in SVG units


def ticks(top: float, whole: bool = False) -> list[float]:
    """Round values for an axis from 0 to at least `top`: 0, 50,000, 100,000, 150,000."""
    if top <= 0:
        return [0, 1]
    rough = top / 4
    scale = 10 ** math.floor(math.log10(rough))
    step = next(m * scale for m in (1, 2, 2.5, 5, 10) if m * scale >= rough)
    if whole:
        step = max(1, math.ceil(step))
    return [n * step for n in range(math.ceil(top / step) + 1)]


def _number(value: float) -> str:
    """A chart label: whole units, thousands separated (the tables give the exact amounts)."""
    return f"{value:,.0f}"


def _y_axis(scale: list[float], right: float, title: str) -> str:
    """Grid lines with their values on the left, and the axis title written upwards."""
    parts = []
    for value in scale:
        y = _y(value, scale)
        parts.append(
            f'<line x1="{PLOT_LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{PLOT_LEFT - 6}" y="{y + 3:.1f}" text-anchor="end">{_number(value)}</text>'
        )
    middle = (PLOT_TOP + PLOT_BOTTOM) / 2
    parts.append(
        f'<text x="12" y="{middle}" text-anchor="middle" transform="rotate(-90 12 {middle})">'
        f"{html.escape(title)}</text>"
    )
    return "".join(parts)


def _y(value: float, scale: list[float]) -> float:
    return PLOT_BOTTOM - value / scale[-1] * (PLOT_BOTTOM - PLOT_TOP)


def _x_title(width: float, title: str) -> str:
    middle = (PLOT_LEFT + width) / 2
    y = PLOT_BOTTOM + 34
    return f'<text x="{middle}" y="{y}" text-anchor="middle">{html.escape(title)}</text>'


def _svg(width: float, label: str, parts: list[str]) -> str:
    height = PLOT_BOTTOM + 42
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(label)}">{"".join(parts)}</svg>'
    )


def _bars(f: Figures) -> str:
    """Aging per currency: the open balance in each days-past-due bucket."""
    charts = []
    for currency, row in sorted(f.aging_totals.items()):
        scale = ticks(float(max(row.values())))
        width = PLOT_LEFT + 70 * len(BUCKETS) + 10
        parts = [_y_axis(scale, width - 10, f"open balance, {currency}")]
        for n, name in enumerate(BUCKETS):
            x = PLOT_LEFT + 10 + n * 70
            y = _y(float(row[name]), scale)
            parts.append(
                f'<rect x="{x}" y="{y:.1f}" width="50" height="{PLOT_BOTTOM - y:.1f}" '
                f'fill="{BAR_COLOURS[name]}"><title>{name} days: {_money(row[name])} '
                f"{html.escape(currency)}</title></rect>"
                f'<text x="{x + 25}" y="{PLOT_BOTTOM + 14}" text-anchor="middle">{name}</text>'
            )
            if row[name]:
                parts.append(
                    f'<text x="{x + 25}" y="{y - 4:.1f}" text-anchor="middle" '
                    f'class="value">{_number(float(row[name]))}</text>'
                )
        parts.append(_x_title(width, "days past due"))
        charts.append(
            f"<figure><figcaption>Open balance by days past due, {html.escape(currency)}"
            f"</figcaption>{_svg(width, f'aging {currency}', parts)}</figure>"
        )
    return "".join(charts)


def _timeline(f: Figures) -> str:
    """Per week of the last 90 days: reminders sent and payments received, side by side."""
    if not f.activity:
        return ""
    scale = ticks(max(max(r, p) for _, r, p in f.activity), whole=True)
    width = PLOT_LEFT + 30 * len(f.activity) + 10
    parts = [_y_axis(scale, width - 10, "count per week")]
    for n, (week, reminders, payments) in enumerate(f.activity):
        x = PLOT_LEFT + 4 + n * 30
        for offset, value, colour, what in (
            (0, reminders, REMINDERS, "reminders sent"),
            (12, payments, PAYMENTS, "payments received"),
        ):
            y = _y(value, scale)
            parts.append(
                f'<rect x="{x + offset}" y="{y:.1f}" width="11" height="{PLOT_BOTTOM - y:.1f}" '
                f'fill="{colour}"><title>week of {week:%d %b}: {value} {what}</title></rect>'
            )
        if n % 2 == 0:
            below = PLOT_BOTTOM + 14
            parts.append(f'<text x="{x + 11}" y="{below}" text-anchor="middle">{week:%d %b}</text>')
    parts.append(_x_title(width, "week starting"))
    legend = (
        f'<span class="key" style="background:{REMINDERS}"></span> reminders sent '
        f'<span class="key" style="background:{PAYMENTS}"></span> payments received'
    )
    return (
        f"<figure><figcaption>Per week: {legend}</figcaption>"
        f"{_svg(width, 'reminders sent and payments received per week', parts)}</figure>"
    )


def page(f: Figures) -> str:
    body = [
        f"<h1>Nudge report, {f.today}</h1>",
        f"<p>{html.escape(_late(f))}</p>",
        f'<div class="charts">{_bars(f)}{_timeline(f)}</div>',
    ]
    for section in _sections(f):
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.note:
            body.append(f'<p class="note">{html.escape(section.note)}</p>')
        body.append(section.table.html() if section.table.rows else "<p><em>none</em></p>")
    style = (
        "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}"
        "td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:start}"
        "td.num,th.num{text-align:end;font-variant-numeric:tabular-nums}"
        "figure{display:inline-block;margin:0 2em 1em 0;vertical-align:top}"
        "svg text{font-size:10px;fill:#333}svg text.value{font-size:9px}"
        ".note{color:#555;margin:-.3em 0 .3em}"
        ".key{display:inline-block;width:10px;height:10px;margin:0 2px 0 8px}"
        "@media print{body{margin:0}h2{break-after:avoid}table{break-inside:auto}}"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Nudge report {f.today}</title><style>{style}</style></head><body>"
        + "".join(body)
        + "</body></html>"
    )
