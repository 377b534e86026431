"""`nudge pay INVOICE AMOUNT [--date D] [--ref TEXT]`: record a payment in the invoice's file."""

from __future__ import annotations

import argparse

from runner import bookkeeping, workspace
from runner.bookkeeping import NewPayment
from runner.errors import NudgeError
from runner.yamledit import Edits


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("invoice", help="the invoice id")
    parser.add_argument("amount", help="how much was paid, e.g. 1200.00")
    parser.add_argument(
        "--date",
        type=workspace.parse_day,
        metavar="YYYY-MM-DD",
        help="when it was paid (default: today)",
    )
    parser.add_argument("--ref", default="", help="the bank's transaction id or a note")
    workspace.add_write_options(parser)


def run(args: argparse.Namespace) -> int:
    repo = workspace.load_valid(args.root).repo
    invoice = workspace.invoice(repo, args.invoice)
    amount = bookkeeping.parse_money(args.amount, invoice.currency)
    if amount <= 0:
        raise NudgeError(
            f"amount {args.amount} is not positive: a payment adds money; to undo one, "
            "revert the commit that recorded it"
        )
    day = args.date or workspace.now(args, repo.settings.defaults.timezone).date()
    edits = Edits(args.root)
    if not bookkeeping.add_payment(edits, invoice, NewPayment(day, amount, args.ref)):
        raise NudgeError(f"{invoice.id} already has a payment with ref '{args.ref}': not added")
    left = bookkeeping.open_balance(invoice) - amount
    paid = bookkeeping.shown(amount, invoice.currency)
    state = (
        "paid in full"
        if left == 0
        else f"overpaid by {bookkeeping.shown(-left, invoice.currency)}"
        if left < 0
        else f"{bookkeeping.shown(left, invoice.currency)} still open"
    )
    ref = f", ref {args.ref}" if args.ref else ""
    message = f"{invoice.id}: paid {paid} on {day}{ref} ({state})"
    print(message)
    return workspace.save(args, edits, f"nudge pay: {message}", repo)
