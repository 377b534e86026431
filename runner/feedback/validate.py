"""`nudge validate` warns about contacts that did not receive our last message (from the log)."""

from __future__ import annotations

from collections.abc import Iterator

from runner.errors import Problem
from runner.feedback import rules
from runner.repository import Loaded
from runner.sendlog import LogIndex


def unreachable_contacts(loaded: Loaded, log: LogIndex) -> Iterator[Problem]:
    """A warning at each address or number in a customer file that bounced or never received."""
    for customer in loaded.repo.customers.values():
        source = loaded.sources.get(("customer", customer.id))
        if source is None:
            continue
        for index, contact in enumerate(customer.contacts):
            for field, value in (("email", contact.email), ("phone", contact.phone)):
                bad = rules.unreachable(log, value)
                if bad is None:
                    continue
                what = "bounced" if bad.channel == "email" else "did not receive our text"
                why = bad.entry.get("reason") or "no reason given"
                yield source.problem(
                    ("contacts", index, field),
                    f"{value} {what} on {bad.day} ({why}): reminders leave it out until it is "
                    "replaced, or a message from it arrives",
                    severity="warning",
                )
