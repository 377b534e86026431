"""`nudge log summary [--check]`: the summary of the send log's closed months (logsummary.py).

Made (or carried on) as of today, it lets the daily commands read the last month or two of the
log instead of every month ever written; `--check` makes it again from the log files and says
whether it is what they give (CI runs it on every pull request).
"""

from __future__ import annotations

import argparse

from runner import logsummary, workspace
from runner.errors import NudgeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=("summary",), help="summary: the log's closed months")
    workspace.add_today(parser)
    parser.add_argument(
        "--check",
        action="store_true",
        help="make it again from the log files and compare; write nothing (exit 1 if it differs)",
    )
    parser.add_argument("--commit", action="store_true", help="commit it (and nothing else)")
    parser.add_argument("--push", action="store_true", help="commit it and push the commit")


def run(args: argparse.Namespace) -> int:
    if args.check:
        return _check(args)
    publisher = _publisher(args) if args.commit or args.push else None
    repo = workspace.load_valid(args.root).repo
    made = workspace.now(args, repo.settings.defaults.timezone).date()
    summary, said = logsummary.update(args.root, repo, made)
    print(said)
    if summary is None:
        return 0
    logsummary.write(args.root, summary)
    if publisher is None:
        return 0
    publisher.author = (repo.settings.git_author_name, repo.settings.git_author_email)
    committed = publisher.commit(f"log summary up to {summary.through}")
    if committed and publisher.push and not publisher.push_with_retry():
        raise NudgeError(
            "the summary was committed but could not be pushed; the next run makes it again"
        )
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        problems = logsummary.check(args.root)
        summary = logsummary.load(args.root)
    except NudgeError as exc:
        print(f"{logsummary.PATH}: {exc}")
        return 1
    if summary is None:
        print(f"no {logsummary.PATH}: the daily commands read the whole log")
        return 0
    if problems:
        print(f"{logsummary.PATH} does not match the log; make it again with `nudge log summary`:")
        print("\n".join(f"  {p}" for p in problems))
        return 1
    print(
        f"{logsummary.PATH} matches the log: {len(summary.months)} month(s) up to "
        f"{summary.through}, {len(summary.entries)} entries kept for {len(summary.kept)} open "
        f"invoices on {summary.made}"
    )
    return 0


def _publisher(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from runner import publish, transports

    publisher = publish.Publisher(
        args.root, args.push, ("nudge-bot", "nudge-bot@invalid"), transports.run_id()
    )
    publisher.preflight()
    if args.push:
        publisher.sync()
    return publisher
