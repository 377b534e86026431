"""`nudge pause INVOICE|CUSTOMER --until DATE | --clear`: no reminders until a date."""

from __future__ import annotations

import argparse

from runner import bookkeeping, workspace
from runner.errors import NudgeError
from runner.model import Customer, Invoice
from runner.yamledit import Edits


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="INVOICE|CUSTOMER")
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--until", type=workspace.parse_day, metavar="YYYY-MM-DD", help="the last paused day"
    )
    when.add_argument("--clear", action="store_true", help="end the pause now")
    workspace.add_write_options(parser)


def run(args: argparse.Namespace) -> int:
    repo = workspace.load_valid(args.root).repo
    target: Invoice | Customer
    if args.target in repo.invoices:
        target = repo.invoices[args.target]
    elif args.target in repo.customers:
        target = repo.customers[args.target]
    else:
        raise NudgeError(f"'{args.target}' is neither an invoice nor a customer in this repository")
    edits = Edits(args.root)
    bookkeeping.set_pause(edits, target, None if args.clear else args.until)
    kind = "invoice" if isinstance(target, Invoice) else "customer"
    message = (
        f"{kind} {target.id}: pause ended"
        if args.clear
        else f"{kind} {target.id}: paused until {args.until}"
    )
    print(message)
    return workspace.save(args, edits, f"nudge pause: {message}", repo)
