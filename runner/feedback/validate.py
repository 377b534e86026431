"""`nudge validate` warns about contacts that did not receive our last message (from the log)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from runner.errors import Problem
from runner.feedback import rules
from runner.loaded import Loaded
from runner.sendlog import LogIndex, index, read

# What came back, as the log writer spells it (json.dumps, sort_keys): only these lines are
# parsed, so validate does not pay for reading a year of log (seconds at 300k lines).
CAME_BACK = re.compile(r'"status": "(bounced|undelivered|delivered|reply|autoreply)"')


def came_back(root: Path) -> LogIndex:
    """The log index of what came back alone (enough for rules.unreachable); damaged lines and
    unreadable files are `run`'s and `report`'s to report."""
    return index(read(root, CAME_BACK).entries)


def unreachable_contacts(loaded: Loaded, log: LogIndex) -> Iterator[Problem]:
    """A warning at each address or number in a customer file that bounced or never received."""
    for customer in loaded.repo.customers.values():
        source = loaded.sources.get(("customer", customer.id))
        if source is None:
            continue
        for number, contact in enumerate(customer.contacts):
            for field, value in (("email", contact.email), ("phone", contact.phone)):
                bad = rules.unreachable(log, value)
                if bad is None:
                    continue
                what = "bounced" if bad.channel == "email" else "did not receive our text"
                why = bad.entry.get("reason") or "no reason given"
                yield source.problem(
                    ("contacts", number, field),
                    f"{value} {what} on {bad.day} ({why}): reminders leave it out until it is "
                    "replaced, or a message from it arrives",
                    severity="warning",
                )
