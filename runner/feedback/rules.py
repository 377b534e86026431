"""What the schedule learns from what came back: pure functions of the send log.

- An address with a permanent bounce, or a number whose SMS Twilio reports undelivered or
  failed, is *unreachable* until a message from it arrives (a reply, an auto-reply) or, for a
  number, a later SMS is delivered. Reminders leave it out: the other contacts of the role get
  the message, else those in copy; with nobody left it becomes a task for the account owner.
- A reply from a person makes the reminders of the invoices it answers wait until the day its
  log entry names (`wait_until`, set when it was recorded from `inbound.reply_wait_days`), or
  until a person records a contact for the invoice (`nudge note`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from runner.model import Contact
from runner.sendlog import Entry, LogIndex, hashed

EMAIL_NOT_REACHED = "bounced"
SMS_NOT_REACHED = "undelivered"


@dataclass(frozen=True)
class Unreachable:
    """An address or number that did not receive our last message to it."""

    address: str  # as logged: lower-case e-mail address, E.164 number, or their hash
    channel: str  # email or sms
    entry: Entry  # the bounce or status that says so

    @property
    def day(self) -> date | None:
        return self.entry.day


@dataclass(frozen=True)
class Wait:
    """Reminders for an invoice wait because a person replied."""

    replied: date
    until: date
    entry: Entry


@dataclass
class View:
    unreachable: dict[str, Unreachable] = field(default_factory=dict)
    waits: dict[str, Wait] = field(default_factory=dict)  # invoice -> the latest reply's wait


EMPTY = View()


def view(log: LogIndex) -> View:
    """The log's feedback entries folded (in time order; computed once per log index)."""
    if not log.feedback:
        return EMPTY
    if isinstance(log._feedback_view, View):
        return log._feedback_view
    result = View()
    for entry in log.feedback:
        _fold(result, entry)
    log._feedback_view = result
    return result


def _fold(result: View, entry: Entry) -> None:
    status = entry.status
    if status == EMAIL_NOT_REACHED and entry.get("permanent", True) and entry.get("address"):
        address = str(entry.get("address")).lower()
        result.unreachable[address] = Unreachable(address, "email", entry)
    elif status == SMS_NOT_REACHED and entry.get("phone"):
        number = str(entry.get("phone"))
        result.unreachable[number] = Unreachable(number, "sms", entry)
    elif status in ("reply", "autoreply") and entry.get("from"):
        result.unreachable.pop(str(entry.get("from")).lower(), None)  # it can write: it works
    elif status == "delivered" and entry.get("phone"):
        result.unreachable.pop(str(entry.get("phone")), None)
    if status == "reply" and entry.day is not None:
        until = _day(entry.get("wait_until")) or entry.day
        for invoice in entry.get("invoices", ()):
            result.waits[str(invoice)] = Wait(entry.day, until, entry)


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def unreachable(log: LogIndex, value: str | None) -> Unreachable | None:
    """The bad news about an address or number, if any (matched plainly or hashed)."""
    if not value:
        return None
    found = view(log).unreachable
    if not found:
        return None
    plain = value.lower() if "@" in value else value
    return found.get(plain) or found.get(hashed(value))


def _address(contact: Contact, channel: str) -> str | None:
    return contact.phone if channel == "sms" else contact.email


def reachable(
    to: list[Contact], cc: list[Contact], channel: str, log: LogIndex
) -> tuple[list[Contact], list[Contact]]:
    """Recipients without the unreachable ones; when every addressee is unreachable, those in
    copy are addressed instead (the message still reaches the customer)."""
    if channel not in ("email", "sms") or not view(log).unreachable:
        return to, cc
    kept_to = [c for c in to if unreachable(log, _address(c, channel)) is None]
    kept_cc = [c for c in cc if unreachable(log, _address(c, channel)) is None]
    if to and not kept_to:
        return kept_cc, []
    return kept_to, kept_cc


def waiting(log: LogIndex, invoice: str, today: date) -> str | None:
    """Why an invoice's reminders wait today because a person replied, or None."""
    wait = _open_wait(log, invoice, today)
    if wait is None:
        return None
    who = wait.entry.get("name") or "the customer"
    return (
        f"{who} replied on {wait.replied}: reminders wait until {wait.until} for a person to "
        f"read and answer (or `nudge note {invoice} ...` to resume them now)"
    )


def resumed(pause_end: date | None, log: LogIndex, invoice: str, today: date) -> date | None:
    """The day reminders resumed after a pause or a reply's wait, whichever ended last."""
    wait = view(log).waits.get(invoice)
    if wait is None or wait.until >= today or _answered(log, invoice, wait):
        return pause_end
    after = wait.until + timedelta(days=1)
    return after if pause_end is None else max(pause_end, after)


def _open_wait(log: LogIndex, invoice: str, today: date) -> Wait | None:
    wait = view(log).waits.get(invoice)
    if wait is None or today > wait.until or _answered(log, invoice, wait):
        return None
    return wait


def _answered(log: LogIndex, invoice: str, wait: Wait) -> bool:
    """A person recorded a contact for the invoice on or after the reply: the wait is over."""
    return any(n.day is not None and n.day >= wait.replied for n in log.notes_for(invoice))
