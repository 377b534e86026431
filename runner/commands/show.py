"""`nudge show KEY`: a logged message rendered again, from the commit the log entry names."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

from runner import workspace
from runner.errors import NudgeError
from runner.sendlog import Entry


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "key", help="a delivery key, e.g. INV-1042/weekly-statement/2026-11-23/email"
    )
    parser.add_argument(
        "--part",
        choices=("text", "html", "subject", "eml", "pdf"),
        default="text",
        help="which part to print (default: the text; pdf: a letter as printed, to redirect "
        "to a file)",
    )


def find(root: Path, key: str) -> Entry:
    from runner.sendlog import read

    matches = [e for e in read(root).entries if key in e.keys and e.status in ("pending", "sent")]
    if not matches:
        raise NudgeError(f"no message with key '{key}' in the log")
    sent = [e for e in matches if e.status == "sent"]
    return (sent or matches)[-1]


def run(args: argparse.Namespace) -> int:
    from jinja2 import FileSystemLoader

    from runner import git
    from runner.compose import compose, email_message
    from runner.schedule import Delivery
    from runner.templates import Renderer

    entry = find(args.root, args.key)
    if str(entry.get("template", "")).startswith("nudge:"):
        raise NudgeError(
            "that is a task Nudge wrote about what came back (a bounce or a reply), not a "
            f"template: its text is in `nudge history {entry.get('customer')}`"
        )
    log, _ = workspace.read_log(args.root)
    commit = entry.get("commit")
    if not commit:
        raise NudgeError(
            "the log entry names no commit (the run was outside git): it cannot be "
            "rendered again exactly"
        )
    with git.temporary_export(args.root, str(commit)) as folder:
        root = Path(folder)
        repo = workspace.load_valid(root, templates=False).repo
        policy = repo.policies[str(entry.get("policy"))]
        index = next(i for i, s in enumerate(policy.steps) if s.id == entry.get("step"))
        day = date.fromisoformat(str(entry.get("date")))
        delivery = Delivery(
            date=day,
            customer=str(entry.get("customer")),
            policy=policy.id,
            step=policy.steps[index].id,
            step_index=index,
            channel=str(entry.get("channel")),
            invoices=tuple(entry.get("invoices", ())),
            keys=entry.keys,
            to=tuple(entry.get("to", ())),
            cc=tuple(entry.get("cc", ())),
            template=str(entry.get("template")),
            locale=str(entry.get("locale")),
            reason="",
            total_due=Decimal(0),
            currency="",
        )
        renderer = Renderer(FileSystemLoader(str(root / "templates")))
        message = compose(repo, delivery, renderer, root, log)
        if args.part == "subject":
            print(message.subject)
        elif args.part == "html":
            print(message.html or "", end="")
        elif args.part == "eml":
            print(email_message(repo, message).as_string(), end="")
        elif args.part == "pdf":
            _write_pdf(message.html or message.text, delivery.channel)
        else:
            print(message.text, end="")
    return 0


def _write_pdf(page: str, channel: str) -> None:
    """A letter's PDF on stdout, the same bytes the run wrote to the outbox."""
    from runner import pdf

    if channel != "letter":
        raise NudgeError(f"only a letter has a PDF; this is {channel}: try --part html")
    if sys.stdout.isatty():
        raise NudgeError("--part pdf writes a PDF: redirect it to a file (> letter.pdf)")
    missing = pdf.available()
    if missing:
        raise NudgeError(f"no PDF here: {missing}")
    sys.stdout.flush()
    sys.stdout.buffer.write(pdf.render(page).data)
