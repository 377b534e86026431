"""Settling unknown outcomes from the providers' own records, at the start of the next run.

An outcome is unknown when a message was handed over and no answer came back (a crash, a
timeout, a dropped connection). Where the provider keeps records, they say what happened:

- SMS: Twilio lists the messages an account sent to a number. A message to the same number,
  created from shortly before the hand-over on, with the same text (its SHA-256 is in the log)
  and not already logged for another delivery, is this one: `sent: true`, with its SID. No
  message to that number at all in that time (and the list complete): it never reached Twilio,
  `sent: false`, and it is due again. Anything else (messages with other text, a list cut
  short, a number stored only as a hash that no contact has any more) is left for a person.
- E-mail: the inbound mail reader (runner.feedback.record.settle_unknown_emails) settles as
  sent the unknowns whose deterministic Message-ID it finds where the `email.bcc` copies
  arrive. A mailbox cannot prove that a message did not arrive, so it never settles one as not
  sent.

Each settlement is written as a `reconciled` entry (entries()), with the evidence in words.
Pure: the provider's list comes in as a function.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from runner.errors import NudgeError
from runner.sendlog import Entry, LogIndex

# The window a provider's record of one of our messages can fall in, around the time of the
# log entry that stands for it (the hand-over, or the `unknown` written after it): clocks
# differ, and retries and a run's deadline spread one hand-over over minutes.
BEFORE = timedelta(minutes=15)
AFTER = timedelta(hours=1)
# A request whose sender died may still be being processed for a moment: a hand-over younger
# than this is not judged "not sent" yet (a rerun a minute later can).
SETTLE_AFTER = timedelta(seconds=60)


class LookupFailed(NudgeError):
    """The provider's records could not be read (network, credentials)."""


@dataclass(frozen=True)
class Message:
    """One message in a provider's list."""

    sid: str
    to: str
    body: str
    created: datetime
    status: str


@dataclass(frozen=True)
class Listing:
    messages: tuple[Message, ...]
    complete: bool  # every message to the number is in it (not cut off at a limit)


@dataclass(frozen=True)
class Settlement:
    entry: Entry  # the entry that stood for the unknown delivery
    sent: bool
    evidence: str
    provider_id: str = ""


Lookup = Callable[[str], Listing]  # number -> the provider's messages to it


def settle_sms(
    unknown: Iterable[Entry],
    lookup: Lookup,
    known_sids: set[str],
    phone_of: Callable[[str], str],
    now: datetime,
    settle_after: timedelta = SETTLE_AFTER,
) -> tuple[list[Settlement], list[str]]:
    """Settlements for the unknown SMS deliveries the provider's records decide, and a sentence
    for each lookup that failed. `phone_of` turns a logged recipient (a number, or its hash)
    back into a number ('' when unknown)."""
    settled: list[Settlement] = []
    failures: list[str] = []
    listings: dict[str, Listing] = {}
    for entry in unknown:
        if entry.get("channel") != "sms":
            continue
        try:
            found = _settle_sms(entry, lookup, listings, known_sids, phone_of, now, settle_after)
        except LookupFailed as exc:
            failures.append(str(exc))
            continue
        if found is not None:
            settled.append(found)
            known_sids.update(found.provider_id.split(","))
    return settled, failures


def _settle_sms(
    entry: Entry,
    lookup: Lookup,
    listings: dict[str, Listing],
    known_sids: set[str],
    phone_of: Callable[[str], str],
    now: datetime,
    settle_after: timedelta,
) -> Settlement | None:
    at = _instant(entry.get("at"))
    logged = list(entry.get("to", ()))
    numbers = [phone_of(to) for to in logged]
    if at is None or not numbers or not all(numbers):
        return None
    start, end = at - BEFORE, min(at + AFTER, now)
    text = entry.get("body_sha256")
    found: list[tuple[str, Message]] = []
    absent: list[str] = []
    for shown, number in zip(logged, numbers, strict=True):
        if number not in listings:
            listings[number] = lookup(number)
        listing = listings[number]
        near = [
            m
            for m in listing.messages
            if m.sid not in known_sids and start <= m.created.astimezone(UTC) <= end
        ]
        same = [m for m in near if text and _sha256(m.body) == text]
        if same:
            found.append((shown, same[0]))
        elif not near and listing.complete and now - at >= settle_after:
            absent.append(shown)
        else:
            return None  # another message to the number then, or a list cut short: a person
    window = f"created between {_shown(start)} and {_shown(end)}"
    if not found:
        return Settlement(
            entry, False, f"Twilio lists no message to {', '.join(absent)} {window}: not sent"
        )
    evidence = "; ".join(
        f"Twilio lists {m.sid} to {shown}, created {_shown(m.created)}, status {m.status}, "
        "with this text"
        for shown, m in found
    )
    if absent:
        evidence += f"; none to {', '.join(absent)} {window}"
    return Settlement(entry, True, evidence, ",".join(m.sid for _, m in found))


def entries(settled: list[Settlement]) -> list[dict[str, Any]]:
    """The `reconciled` log entries for settlements (the caller adds `at` and `run`)."""
    return [
        {
            "status": "reconciled",
            "delivery": s.entry.delivery,
            "date": s.entry.get("date"),
            "keys": list(s.entry.keys),
            "customer": s.entry.get("customer"),
            "invoices": list(s.entry.get("invoices", ())),
            "step": s.entry.get("step"),
            "channel": s.entry.get("channel"),
            "sent": s.sent,
            "provider_id": s.provider_id,
            "evidence": s.evidence,
        }
        for s in settled
    ]


def known_provider_ids(log: LogIndex) -> set[str]:
    """Provider ids already logged for sent messages: a record of one of them is not another's."""
    ids: set[str] = set()
    for state in log.keys.values():
        if state.status == "sent":
            ids.update(str(state.entry.get("provider_id") or "").split(","))
    ids.discard("")
    return ids


def _sha256(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


def _instant(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def settle_after() -> timedelta:
    """SETTLE_AFTER, or NUDGE_SETTLE_AFTER_SECONDS (tests that rerun at once)."""
    import os

    value = os.environ.get("NUDGE_SETTLE_AFTER_SECONDS", "")
    try:
        return timedelta(seconds=float(value)) if value else SETTLE_AFTER
    except ValueError:
        return SETTLE_AFTER
