"""`nudge dispute INVOICE [--reason TEXT] | --clear`: mark an invoice disputed (no reminders)."""

from __future__ import annotations

import argparse

from runner import bookkeeping, workspace
from runner.yamledit import Edits


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("invoice", help="the invoice id")
    parser.add_argument("--reason", default="", help="what the customer disputes")
    parser.add_argument("--clear", action="store_true", help="the dispute is settled")
    workspace.add_write_options(parser)


def run(args: argparse.Namespace) -> int:
    repo = workspace.load_valid(args.root).repo
    invoice = workspace.invoice(repo, args.invoice)
    edits = Edits(args.root)
    if args.clear:
        bookkeeping.clear_dispute(edits, invoice)
        message = f"{invoice.id}: dispute settled, reminders resume"
    else:
        bookkeeping.set_dispute(edits, invoice, args.reason)
        reason = f": {args.reason}" if args.reason else ""
        message = f"{invoice.id}: disputed{reason}"
    print(message)
    return workspace.save(args, edits, f"nudge dispute: {message}", repo)
