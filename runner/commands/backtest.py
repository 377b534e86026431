"""`nudge backtest`: replay a past period day by day, and see which steps got invoices paid."""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any

from runner import simulate, workspace
from runner.errors import NudgeError
from runner.output import counted

MAX_DAYS = 3660


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


def run(args: argparse.Namespace) -> int:
    start: date = args.start
    end: date = args.end
    if end < start:
        raise NudgeError("--to is before --from")
    if (end - start).days > MAX_DAYS:
        raise NudgeError(
            f"--from and --to are more than {MAX_DAYS} days apart: replay ten years at most"
        )
    loaded = workspace.load_valid(args.root)
    repo = loaded.repo
    replayed = simulate.replay(repo, simulate.mornings(repo, simulate.days_between(start, end)))
    from runner.report import step_effectiveness

    sends = [(d.policy, d.step, d.channel, d.date, d.invoices) for d in replayed.deliveries]
    rows = step_effectiveness(repo, sends, end)
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
    from runner.report import paid_within
    from runner.tabular import Table

    table = Table(
        ("policy", "step", "channel", "messages", "invoices", "paid within 7 days"),
        [
            [
                r["policy"],
                r["step"],
                r["channel"],
                str(r["messages"]),
                str(r["invoices"]),
                paid_within(r),
            ]
            for r in rows
        ],
        frozenset({3, 4, 5}),
    )
    title = f"Backtest {start} to {end}: {counted(total, 'message')}, as if Nudge ran every morning"
    note = (
        "paid within 7 days: of the invoices reminded by messages sent at least 7 days before "
        f"{end}, those paid in full within 7 days of the message"
    )
    if markdown:
        return "\n".join([f"**{title}**", "", f"_{note}_", "", *table.markdown()])
    return "\n".join([title, note, "", *table.text(indent="")])
