"""The command line: parse arguments, dispatch to runner.commands.<name>, handle errors once."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from runner import __version__

COMMANDS = {
    "init": "write a company's repository from a few answers (name, country, languages, ...)",
    "validate": "check every file: schemas, cross-references, templates",
    "schema": "print the JSON Schema of a kind of file",
    "plan": "show what would be sent today (or over the next days), and why",
    "run": "send what is due (or write it to outbox/), and log it",
    "backtest": "replay a past period day by day: what each step would have sent and achieved",
    "test": "run the policy test cases in policies/tests/",
    "history": "one timeline of an invoice, customer or policy: git history and the send log",
    "show": "render a logged message again, exactly as it was sent",
    "note": "record a contact made by hand (the schedule counts it as sent)",
    "resolve": "decide on a message whose outcome is unknown: --sent or --not-sent",
    "log": "summary: keep the send log's closed months short for the daily commands (--check)",
    "report": "aging, DSO, days late, CEI, holds, promises, tasks, and which steps work",
    "import": "bring in invoices from an accounting export, payments from a bank statement",
    "pay": "record a payment on an invoice",
    "promise": "record a promise to pay by a date",
    "dispute": "mark an invoice disputed (or --clear it)",
    "pause": "no reminders for an invoice or customer until a date",
}
MODULES = {"import": "imports"}  # `import` is a Python keyword


def parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; only the chosen command's module is imported (start-up time)."""
    top = argparse.ArgumentParser(prog="nudge", description="Payment reminders as code.")
    top.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="the Nudge repository (default: the current directory)",
    )
    # Accepted after the subcommand too; SUPPRESS keeps it from resetting a value given before.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root",
        type=Path,
        default=argparse.SUPPRESS,
        help="the Nudge repository (default: the current directory)",
    )
    top.add_argument("--version", action="version", version=f"nudge {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        if name == chosen:
            _module(name).add_arguments(command)
    return top


def _module(name: str):  # type: ignore[no-untyped-def]
    return importlib.import_module(f"runner.commands.{MODULES.get(name, name)}")


def main(argv: Sequence[str] | None = None) -> int:
    from runner.errors import NudgeError

    words = list(sys.argv[1:] if argv is None else argv)
    chosen = next((w for w in words if w in COMMANDS), None)
    args = parser(chosen).parse_args(words)
    try:
        return int(_module(args.command).run(args))
    except NudgeError as exc:
        print(f"nudge: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("nudge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception:
        traceback.print_exc()
        print(
            "nudge: this is a bug in Nudge, not in your files: please report it with the "
            "traceback above",
            file=sys.stderr,
        )
        return 3
