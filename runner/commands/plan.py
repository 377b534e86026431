"""`nudge plan`: what would be sent today or over the next days, and why."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

from runner import plandiff, render_plan, simulate, workspace
from runner.errors import NudgeError
from runner.model import Repository
from runner.schedule import Plan
from runner.sendlog import LogIndex


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


MAX_DAYS = 366  # a plan of a year ahead; more is a typo, and would take minutes


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.days <= MAX_DAYS:
        raise NudgeError(f"--days must be from 1 to {MAX_DAYS}")
    loaded = workspace.load_valid(args.root)
    repo = loaded.repo
    log, _ = workspace.read_log(args.root)
    start = workspace.now(args, repo.settings.defaults.timezone)
    if args.explain:
        return _explain(repo, log, start, args.explain, args.format)
    plans = simulate.forecast(repo, log, start, args.days, args.only)
    if args.against:
        base = plandiff.plans_at(args.root, args.against, log, start, args.days, args.only)
        print(plandiff.render(plandiff.compare(base, plans), args.format, args.against))
        return 0
    print(render_plan.render(plans, args.format, sms_sizes(loaded.repo, args.root, plans, log)))
    return 0


def sms_sizes(repo: Repository, root: Path, plans: list[Plan], log: LogIndex) -> render_plan.Sizes:
    """Each planned text message rendered and measured: its encoding and segment count."""
    texts = [d for p in plans for d in p.deliveries if d.channel == "sms" and d.to]
    if not texts:
        return {}
    from jinja2 import FileSystemLoader

    from runner import sms
    from runner.compose import compose
    from runner.templates import Renderer, RenderError

    renderer = Renderer(FileSystemLoader(str(root / "templates")))
    sizes: render_plan.Sizes = {}
    for delivery in texts:
        try:
            text = compose(repo, delivery, renderer, root, log).text
            sizes[delivery.id] = sms.measure(text.strip())
        except RenderError:
            continue  # validation reports it; the plan still shows the message
    return sizes


def _explain(repo: Repository, log: LogIndex, start: datetime, target: str, form: str) -> int:
    from runner.explain import explain

    _, invoice_ids = workspace.invoices_of(repo, target)
    result = explain(repo, log, start, invoice_ids)
    if form == "json":
        print(json.dumps(render_plan.explain_json(repo, result), indent=2, ensure_ascii=False))
    else:
        print(render_plan.explain_text(repo, result))
    return 0
