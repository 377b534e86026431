"""`nudge validate` warns about contacts that did not receive our last message (from the log)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from runner.errors import NudgeError, Problem
from runner.feedback import rules
from runner.loaded import Loaded
from runner.sendlog import FEEDBACK_STATUSES, Entry, LogIndex, index, log_files, month_of, read

if TYPE_CHECKING:
    from runner.logsummary import Summary

# What came back, as the log writer spells it (json.dumps, sort_keys): only these lines are
# parsed, so validate does not pay for reading a year of log (seconds at 300k lines).
CAME_BACK = re.compile(r'"status": "(bounced|undelivered|delivered|reply|autoreply)"')


def came_back(root: Path, summary: Summary | None = None) -> LogIndex:
    """The log index of what came back alone (enough for rules.unreachable): from the log's
    `summary` (`usable_summary`) and the months after it, else from every month. Damaged lines
    and unreadable files are `run`'s and `report`'s to report."""
    entries: list[Entry] = []
    paths = log_files(root)
    if summary is not None:
        entries = [e for e in summary.entries if e.status in FEEDBACK_STATUSES]
        paths = [p for p in paths if month_of(p) > summary.through]
    entries += read(root, CAME_BACK, files=paths).entries
    return index(entries)


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


def usable_summary(root: Path) -> tuple[Summary | None, list[Problem]]:
    """The log's summary, read once for validate's checks: None when there is none or it
    cannot be used, with a warning saying why (the daily commands then read every month of the
    log, slower, never wrong, until `nudge log summary` makes it again)."""
    from runner import logsummary

    try:
        summary = logsummary.load(root)
        why = logsummary.stale(root, summary) if summary is not None else ""
    except NudgeError as exc:
        summary, why = None, str(exc).removeprefix(f"{logsummary.PATH}: ")
    if not why:
        return summary, []
    warning = Problem(
        logsummary.PATH,
        1,
        1,
        f"{why}: the daily commands read the whole log until `nudge log summary` makes it again",
        severity="warning",
    )
    return None, [warning]
