"""`nudge plan`: what would be sent today or over the next days, and why."""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, timedelta

from runner import render_plan, workspace
from runner.errors import NudgeError
from runner.model import Repository
from runner.schedule import Delivery, Plan, plan
from runner.sendlog import Entry, LogIndex, index


def add_arguments(parser: argparse.ArgumentParser) -> None:
    workspace.add_today(parser)
    parser.add_argument(
        "--days",
        type=int,
        default=1,
        metavar="N",
        help="plan N days ahead, assuming no new payments (default 1: today)",
    )
    parser.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    parser.add_argument(
        "--explain",
        metavar="INVOICE|CUSTOMER",
        help="show, step by step, why each reminder is or is not due",
    )
    parser.add_argument(
        "--against",
        metavar="REF",
        help="compare with the plan of another git revision (e.g. origin/main)",
    )
    parser.add_argument(
        "--only", metavar="CUSTOMER", action="append", help="only this customer (repeatable)"
    )


def forecast(
    repo: Repository, log: LogIndex, start: datetime, days: int, only: list[str] | None = None
) -> list[Plan]:
    """Plans for `days` days from `start`, each assuming the ones before it were sent."""
    plans: list[Plan] = []
    entries: list[Entry] = []
    for offset in range(days):
        moment = start + timedelta(days=offset)
        day_log = index_with(log, entries) if entries else log
        today_plan = plan(repo, day_log, moment, only=only)
        plans.append(today_plan)
        for delivery in today_plan.deliveries:
            entries.append(_assumed(delivery, "sent"))
        for decision in today_plan.with_status("superseded", "missed"):
            entries.append(
                Entry(
                    {
                        "id": f"assumed:{decision.key}",
                        "status": decision.status,
                        "keys": [decision.key],
                        "date": today_plan.today.isoformat(),
                        "at": moment.isoformat(),
                    }
                )
            )
    return plans


def _assumed(delivery: Delivery, status: str) -> Entry:
    return Entry(
        {
            "id": f"assumed:{delivery.id}",
            "status": status,
            "keys": list(delivery.keys),
            "date": delivery.date.isoformat(),
            "at": f"{delivery.date.isoformat()}T12:00:00",
        }
    )


def index_with(log: LogIndex, extra: list[Entry]) -> LogIndex:
    merged = index([state.entry for state in log.keys.values()] + log.notes + extra)
    merged.opted_out |= log.opted_out
    return merged


def run(args: argparse.Namespace) -> int:
    if args.days < 1:
        raise NudgeError("--days must be at least 1")
    loaded = workspace.load_valid(args.root)
    repo = loaded.repo
    log, _ = workspace.read_log(args.root)
    start = workspace.now(args, repo.settings.defaults.timezone)
    if args.explain:
        return _explain(repo, log, start, args.explain, args.format)
    plans = forecast(repo, log, start, args.days, args.only)
    if args.against:
        from runner import plandiff

        base = plandiff.plans_at(args.root, args.against, log, start, args.days, args.only)
        print(plandiff.render(plandiff.compare(base, plans), args.format, args.against))
        return 0
    print(render_plan.render(plans, args.format))
    return 0


def _explain(repo: Repository, log: LogIndex, start: datetime, target: str, form: str) -> int:
    if target in repo.invoices:
        invoice_ids = [target]
    elif target in repo.customers:
        invoice_ids = sorted(i.id for i in repo.invoices.values() if i.customer == target)
    else:
        raise NudgeError(f"'{target}' is neither an invoice nor a customer in this repository")
    result = plan(repo, log, start, explain=True, only=invoice_ids)
    if form == "json":
        print(
            json.dumps(
                render_plan.explain_json(repo, result, invoice_ids), indent=2, ensure_ascii=False
            )
        )
    else:
        print(render_plan.explain_text(repo, result, invoice_ids))
    return 0


def today_of(plans: list[Plan]) -> date:
    return plans[0].today
