"""`nudge backtest`: replay a past period day by day, and see which steps got invoices paid."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from runner import simulate, workspace
from runner.errors import NudgeError
from runner.model import Repository
from runner.schedule import Delivery

PAID_WITHIN_DAYS = 7


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="start",
        type=workspace.parse_day,
        required=True,
        metavar="YYYY-MM-DD",
        help="first day to replay",
    )
    parser.add_argument(
        "--to",
        dest="end",
        type=workspace.parse_day,
        required=True,
        metavar="YYYY-MM-DD",
        help="last day to replay",
    )
    parser.add_argument("--format", choices=("table", "json", "markdown"), default="table")


def effectiveness(repo: Repository, deliveries: list[Delivery]) -> list[dict[str, Any]]:
    """Per policy, step and channel: messages sent, and invoices paid within 7 days after."""
    sent: dict[tuple[str, str, str], int] = defaultdict(int)
    reminded: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    paid: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for d in deliveries:
        slot = (d.policy, d.step, d.channel)
        sent[slot] += 1
        for invoice_id in d.invoices:
            reminded[slot].add(invoice_id)
            settled = simulate.paid_on(repo.invoices[invoice_id])
            if settled is not None and d.date <= settled <= d.date + timedelta(PAID_WITHIN_DAYS):
                paid[slot].add(invoice_id)
    order = {(p.id, s.id): i for p in repo.policies.values() for i, s in enumerate(p.steps)}
    rows = []
    for slot in sorted(sent, key=lambda s: (s[0], order.get((s[0], s[1]), 0), s[2])):
        count = len(reminded[slot])
        rows.append(
            {
                "policy": slot[0],
                "step": slot[1],
                "channel": slot[2],
                "messages": sent[slot],
                "invoices": count,
                "paid_within_7_days": len(paid[slot]),
                "share_paid": round(len(paid[slot]) / count, 4) if count else 0.0,
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    start: date = args.start
    end: date = args.end
    if end < start:
        raise NudgeError("--to is before --from")
    loaded = workspace.load_valid(args.root)
    repo = loaded.repo
    replayed = simulate.replay(repo, simulate.days_between(start, end))
    rows = effectiveness(repo, replayed.deliveries)
    if args.format == "json":
        print(
            json.dumps(
                {
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                    "steps": rows,
                    "deliveries": [d.as_json() for d in replayed.deliveries],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    print(_table(start, end, rows, len(replayed.deliveries), args.format == "markdown"))
    return 0


def _table(start: date, end: date, rows: list[dict[str, Any]], total: int, markdown: bool) -> str:
    head = ["policy", "step", "channel", "messages", "invoices", "paid within 7 days"]
    body = [
        [
            r["policy"],
            r["step"],
            r["channel"],
            str(r["messages"]),
            str(r["invoices"]),
            f"{r['paid_within_7_days']} ({r['share_paid']:.0%})",
        ]
        for r in rows
    ]
    title = f"Backtest {start} to {end}: {total} message(s), as if Nudge ran every morning"
    if markdown:
        lines = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([title, "", fmt.format(*head), *(fmt.format(*r) for r in body)])
