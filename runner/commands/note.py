"""`nudge note INVOICE TEXT`: record a contact made by hand (a call, a personal e-mail).

The schedule respects it like a sent reminder: with --step, that step's occurrences up to the
note's date count as done; without, any reminder due in the three days up to it does.
"""

from __future__ import annotations

import argparse
from datetime import date

from runner import workspace
from runner.deliver import now_stamp
from runner.errors import NudgeError
from runner.sendlog import Writer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("invoice", help="the invoice id (or a customer id: all their invoices)")
    parser.add_argument("text", help='what happened, e.g. "called; promised to pay Friday"')
    parser.add_argument("--step", help="the policy step this contact stands for")
    parser.add_argument("--channel", default="call", help="how (default: call)")
    workspace.add_today(parser)


def who(root: object) -> str:
    from runner import git

    try:
        return git.out(root, "config", "user.name")  # type: ignore[arg-type]
    except NudgeError:
        return ""


def run(args: argparse.Namespace) -> int:
    repo = workspace.load_valid(args.root).repo
    customer, invoices = workspace.invoices_of(repo, args.invoice)
    day: date = args.today or workspace.now(args, repo.settings.defaults.timezone).date()
    entry = {
        "status": "note",
        "at": now_stamp(),
        "date": day.isoformat(),
        "customer": customer,
        "invoices": invoices,
        "channel": args.channel,
        "text": args.text,
        "by": who(args.root),
    }
    if args.step:
        entry["step"] = args.step
    Writer(args.root, day).append(entry)
    print(f"noted for {', '.join(invoices)} on {day}: {args.text} (commit log/ to share it)")
    return 0
