"""`nudge report`: aging, DSO, days late, CEI, holds, promises, tasks, and which steps work."""

from __future__ import annotations

import argparse
import html
import json
from datetime import date
from decimal import Decimal
from typing import Any

from runner import workspace
from runner.report import BUCKETS, Figures, compute


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
                "steps": f.steps,
                "agency": f.agency,
                "activity": [{"week": w, "reminders": r, "payments": p} for w, r, p in f.activity],
            }
        ),
        indent=2,
        ensure_ascii=False,
    )


def _sections(f: Figures) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for every table: one source for text, markdown and HTML."""
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
            f"{s['paid_within_7_days']} of {s['invoices']} ({float(str(s['share_paid'])):.0%})",
        ]
        for s in f.steps
    ]
    agency = [
        [
            str(a["invoice"]),
            str(a["customer"]),
            str(a["days_overdue"]),
            f"{_money(a['balance'])} {a['currency']}",
            f"{_money(a['agency_nets'])}",
            f"{_money(a['settlement_offer'])}",
        ]
        for a in f.agency
    ]
    return [
        (
            "Aging by customer (open balance by days past due)",
            ["customer", "currency", *BUCKETS, "total"],
            aging,
        ),
        ("Key figures (last 90 days)", ["currency", "DSO (days)", "CEI"], key),
        (
            "Reminders sent and what followed",
            ["policy", "step", "channel", "sent", "paid within 7 days"],
            steps,
        ),
        (
            "90+ days overdue: an agency (keeps 30 %) or a settlement at the same discount",
            ["invoice", "customer", "days", "balance", "agency nets", "settlement offer"],
            agency,
        ),
        ("Customers on hold", ["customer"], [[c] for c in f.on_hold]),
        (
            "Broken promises",
            ["invoice", "customer", "promised by"],
            [[i, c, d.isoformat()] for i, c, d in f.broken_promises],
        ),
        (
            "Open tasks (last 7 days)",
            ["date", "customer", "step", "invoices"],
            [
                [str(t["date"]), str(t["customer"]), str(t["step"]), _joined(t["invoices"])]
                for t in f.open_tasks
            ],
        ),
        (
            "Outcome unknown: a person must check (nudge resolve KEY --sent|--not-sent)",
            ["date", "customer", "keys"],
            [[str(u["date"]), str(u["customer"]), _joined(u["keys"])] for u in f.unknown],
        ),
        (
            "Bounced addresses and undelivered numbers (left out of reminders: fix the customer "
            "file)",
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
        (
            "Replies waiting for an answer (their reminders wait; `nudge note` when answered)",
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
    ]


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
    for title, head, rows in _sections(f):
        out += ["", title]
        if not rows:
            out.append("  (none)")
            continue
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        for r in [head, *rows]:
            out.append(
                ("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))).rstrip()
            )
    return "\n".join(out)


def markdown(f: Figures) -> str:
    out = [f"## Nudge report, {f.today}", "", _late(f)]
    for title, head, rows in _sections(f):
        out += ["", f"### {title}", ""]
        if not rows:
            out.append("_none_")
            continue
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows[:100]]
        if len(rows) > 100:
            out.append(f"\n… and {len(rows) - 100} more rows (see the HTML report)")
    return "\n".join(out)


BAR_COLOURS = {"current": "4c8", "90+": "c64"}


def _bars(f: Figures) -> str:
    """Inline SVG: aging per bucket, one group of bars per currency (scaled per currency)."""
    charts = []
    for currency, row in sorted(f.aging_totals.items()):
        top = max(row.values()) or Decimal(1)
        bars = []
        for n, name in enumerate(BUCKETS):
            height = float(row[name] / top) * 120
            x = 20 + n * 70
            bars.append(
                f'<rect x="{x}" y="{140 - height:.1f}" width="50" height="{height:.1f}" '
                f'fill="#{BAR_COLOURS.get(name, "e94")}"/>'
                f'<text x="{x + 25}" y="158" text-anchor="middle">{name}</text>'
                f'<text x="{x + 25}" y="{135 - height:.1f}" text-anchor="middle" '
                f'font-size="9">{_money(row[name])}</text>'
            )
        charts.append(
            f"<figure><figcaption>Aging, {html.escape(currency)}</figcaption>"
            f'<svg viewBox="0 0 380 165" width="380" height="165" role="img" '
            f'aria-label="aging {html.escape(currency)}">{"".join(bars)}</svg></figure>'
        )
    return "".join(charts)


def _timeline(f: Figures) -> str:
    if not f.activity:
        return ""
    top = max(max(r, p) for _, r, p in f.activity) or 1
    width = 40 + 30 * len(f.activity)
    parts = []
    for n, (week, reminders, payments) in enumerate(f.activity):
        x = 30 + n * 30
        for offset, value, color in ((0, reminders, "#48c"), (12, payments, "#4c8")):
            h = value / top * 120
            parts.append(
                f'<rect x="{x + offset}" y="{140 - h:.1f}" width="11" height="{h:.1f}" '
                f'fill="{color}"><title>{week}: {value}</title></rect>'
            )
        if n % 2 == 0:
            parts.append(
                f'<text x="{x + 11}" y="158" text-anchor="middle" font-size="9">{week:%d %b}</text>'
            )
    return (
        f"<figure><figcaption>Per week: reminders sent (blue) and payments received (green)"
        f'</figcaption><svg viewBox="0 0 {width} 165" width="{width}" height="165" role="img" '
        f'aria-label="reminders and payments per week">{"".join(parts)}</svg></figure>'
    )


def page(f: Figures) -> str:
    body = [
        f"<h1>Nudge report, {f.today}</h1>",
        f"<p>{html.escape(_late(f))}</p>",
        f'<div class="charts">{_bars(f)}{_timeline(f)}</div>',
    ]
    for title, head, rows in _sections(f):
        body.append(f"<h2>{html.escape(title)}</h2>")
        if not rows:
            body.append("<p><em>none</em></p>")
            continue
        cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        lines = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
        )
        body.append(f"<table><thead><tr>{cells}</tr></thead><tbody>{lines}</tbody></table>")
    style = (
        "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}"
        "td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:start}"
        "td:nth-child(n+3){font-variant-numeric:tabular-nums}"
        "figure{display:inline-block;margin:0 2em 1em 0}svg text{font-size:10px}"
        "@media print{body{margin:0}h2{break-after:avoid}table{break-inside:auto}}"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Nudge report {f.today}</title><style>{style}</style></head><body>"
        + "".join(body)
        + "</body></html>"
    )
