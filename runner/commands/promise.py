"""`nudge promise INVOICE DATE [AMOUNT]`: record a promise to pay (reminders wait until then)."""

from __future__ import annotations

import argparse

from runner import bookkeeping, workspace
from runner.yamledit import Edits


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("invoice", help="the invoice id")
    parser.add_argument("date", type=workspace.parse_day, help="the promised date, YYYY-MM-DD")
    parser.add_argument("amount", nargs="?", help="how much was promised (default: all of it)")
    parser.add_argument("--note", default="", help='who promised and how, e.g. "by phone"')
    workspace.add_today(parser)
    workspace.add_write_options(parser)


def run(args: argparse.Namespace) -> int:
    repo = workspace.load_valid(args.root).repo
    invoice = workspace.invoice(repo, args.invoice)
    amount = (
        bookkeeping.parse_money(args.amount, invoice.currency) if args.amount is not None else None
    )
    made = workspace.now(args, repo.settings.defaults.timezone).date()
    edits = Edits(args.root)
    bookkeeping.set_promise(edits, invoice, args.date, amount, made, args.note)
    what = bookkeeping.shown(amount, invoice.currency) if amount is not None else "the balance"
    message = f"{invoice.id}: promise to pay {what} by {args.date} (made {made})"
    print(message)
    return workspace.save(args, edits, f"nudge promise: {message}", repo)
