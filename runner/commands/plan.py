"""`nudge plan`: what would be sent today or over the next days, and why."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

from runner import parallel, plandiff, render_plan, schedule, simulate, workspace
from runner.errors import NudgeError
from runner.model import Repository
from runner.schedule import Plan, local_today
from runner.sendlog import LogIndex
from runner.simulate import open_on


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
    parser.add_argument(
        "--write-json",
        metavar="DIR",
        type=Path,
        help="also write DIR/plan.json (as --format json prints this plan) and, with --against, "
        "DIR/plan-diff.json (the comparison): one plan made, every form kept",
    )


MAX_DAYS = 366  # a plan of a year ahead; more is a typo, and would take minutes


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.days <= MAX_DAYS:
        raise NudgeError(f"--days must be from 1 to {MAX_DAYS}")
    if args.against and not args.explain:
        return _against(args)
    # Only the repository is kept: what the load says of each file (a third of its memory at
    # 100k invoices) is freed before the log is read.
    repo = workspace.load_valid(args.root).repo
    start = workspace.now(args, repo.settings.defaults.timezone)
    if args.explain:
        log, _ = workspace.read_log(args.root)  # an invoice's whole story
        return _explain(repo, log, start, args.explain, args.format)
    day = local_today(start, repo.settings.defaults.timezone)
    pool = open_on(repo, day)
    log, _ = workspace.read_log(args.root, [pool], day)
    plans = simulate.forecast(repo, log, start, args.days, args.only, pool)
    sizes = sms_sizes(repo, args.root, plans, log)
    if args.write_json:
        _write_json(args.write_json, plans, sizes)
    print(render_plan.render(plans, args.format, sizes))
    return 0


def _against(args: argparse.Namespace) -> int:
    """`plan --against REF`: what this working tree changes in the plan of revision REF."""
    loaded = workspace.load_valid(args.root)  # all of it: the revision is read from what differs
    repo = loaded.repo
    start = workspace.now(args, repo.settings.defaults.timezone)
    day = local_today(start, repo.settings.defaults.timezone)
    with plandiff.revision(args.root, args.against, loaded) as (base_repo, differ):
        # Only the customers whose plan can differ are planned, in both trees: every other
        # customer's plan is the same in both (plandiff.affected), so it is no part of the change;
        # nor are their invoices part of the pools, or their log months read.
        only = args.only or (sorted(differ) if differ is not None else None)
        pool, base_pool = (
            open_on(simulate.of_customers(tree, only) if only is not None else tree, day)
            for tree in (repo, base_repo)
        )
        log, _ = workspace.read_log(args.root, [pool, base_pool], day)
        # A change that only alters what goes into messages (a template, who is in copy)
        # decides alike in both trees: one forecast gives both trees' messages.
        alike = not args.only and plandiff.decided_alike(repo, base_repo, differ)

        def forecasts(customers: list[str]) -> tuple[list[Plan], list[Plan]]:
            if alike:
                mine, theirs = simulate.forecast_alike(
                    repo, base_repo, log, start, args.days, customers, pool
                )
            else:
                mine = simulate.forecast(repo, log, start, args.days, customers, pool)
                theirs = simulate.forecast(base_repo, log, start, args.days, customers, base_pool)
            return _messages(mine), _messages(theirs)

        # The customers in two halves, each forecast in both trees by a process of its own
        # (parallel.py): a policy change at 100k invoices replays thousands of customers for
        # two weeks. Only the messages come back (all that is compared and written), not the
        # decisions behind them, ten times as many to pickle.
        customers = only if only is not None else sorted({*repo.customers, *base_repo.customers})
        if args.only:  # as given (customers or invoices): not split
            halves = [forecasts(customers)]
        else:
            halves = parallel.halves(customers, forecasts, least=2)
        plans = [schedule.merged(list(day)) for day in zip(*(h[0] for h in halves), strict=True)]
        base = [schedule.merged(list(day)) for day in zip(*(h[1] for h in halves), strict=True)]
    changes = plandiff.compare(base, plans, differ)
    if args.write_json:
        sizes = sms_sizes(repo, args.root, plans, log)
        _write_json(args.write_json, plans, sizes, changes, args.against)
    print(plandiff.render(changes, args.format, args.against))
    return 0


def _messages(plans: list[Plan]) -> list[Plan]:
    """The plans with their deliveries only."""
    return [Plan(p.today, deliveries=p.deliveries, order=p.order) for p in plans]


def _write_json(
    folder: Path,
    plans: list[Plan],
    sizes: render_plan.Sizes,
    changes: list[plandiff.Change] | None = None,
    ref: str | None = None,
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plan.json").write_text(render_plan.render(plans, "json", sizes) + "\n")
    if changes is not None and ref is not None:
        (folder / "plan-diff.json").write_text(plandiff.render(changes, "json", ref) + "\n")


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
