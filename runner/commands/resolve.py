"""`nudge resolve KEY --sent|--not-sent`: a person's decision on a message whose outcome is unknown.

`--sent`: it reached the customer (it is never sent again). `--not-sent`: it did not; the
schedule may send it again if it is still within its catch-up window.
"""

from __future__ import annotations

import argparse

from runner import workspace
from runner.deliver import now_stamp
from runner.errors import NudgeError
from runner.sendlog import Writer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", help="a key of the message (see `nudge report` or the log)")
    decision = parser.add_mutually_exclusive_group(required=True)
    decision.add_argument("--sent", action="store_true", help="it did go out")
    decision.add_argument("--not-sent", action="store_true", help="it did not go out")
    parser.add_argument("--why", default="", help="how you know")


def run(args: argparse.Namespace) -> int:
    log, _ = workspace.read_log(args.root)
    entry = next((e for e in log.unknown if args.key in e.keys), None)
    if entry is None:
        raise NudgeError(f"no message with an unknown outcome has key '{args.key}'")
    day = entry.day
    if day is None:
        raise NudgeError("the log entry has no date")
    from runner.commands.note import who

    Writer(args.root, day).append(
        {
            "status": "resolved",
            "at": now_stamp(),
            "delivery": entry.delivery,
            "date": day.isoformat(),
            "keys": list(entry.keys),
            "customer": entry.get("customer"),
            "sent": bool(args.sent),
            "reason": args.why,
            "by": who(args.root),
        }
    )
    print(f"resolved {', '.join(entry.keys)} as {'sent' if args.sent else 'not sent'}")
    return 0
