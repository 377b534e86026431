"""From what came back to send-log entries: pure (arrivals and the log in, entries out).

Each arrival is matched to the e-mail it answers by our deterministic Message-ID (compose.py:
In-Reply-To, References, the returned original's headers), else by the keys of our
`X-Nudge-Keys` header, else (a bounce only) by the failed address: the latest e-mail to it.
An arrival already in the log (by its own Message-ID) is not recorded again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from runner import calendar
from runner.compose import message_id_of
from runner.feedback.inbound import Arrival
from runner.model import Repository
from runner.sendlog import Entry, LogIndex, hashed

RECORDED = {"bounce": "bounced", "delayed": "delayed", "autoreply": "autoreply", "reply": "reply"}


@dataclass
class Sent:
    """Our e-mails in the log, findable by Message-ID, key and recipient."""

    by_id: dict[str, Entry] = field(default_factory=dict)
    by_key: dict[str, Entry] = field(default_factory=dict)
    by_address: dict[str, Entry] = field(default_factory=dict)
    inbound: set[str] = field(default_factory=set)  # arrivals already recorded


def sent_index(log: LogIndex, domain: str) -> Sent:
    sent = Sent()
    entries = {s.entry.id: s.entry for s in log.keys.values()} | {e.id: e for e in log.unknown}
    for entry in sorted(entries.values(), key=lambda e: str(e.get("at", ""))):
        if entry.get("channel") != "email" or entry.status not in ("sent", "pending", "unknown"):
            continue
        sent.by_id[message_id_of(entry.keys, domain).lower()] = entry
        for key in entry.keys:
            sent.by_key[key] = entry
        for address in (*entry.get("to", ()), *entry.get("cc", ())):
            sent.by_address[str(address).lower()] = entry
    sent.inbound = {str(e.get("inbound")) for e in log.feedback if e.get("inbound")}
    return sent


def answered(arrival: Arrival, sent: Sent) -> Entry | None:
    for message_id in arrival.answers:
        if message_id in sent.by_id:
            return sent.by_id[message_id]
    for key in arrival.keys:
        if key in sent.by_key:
            return sent.by_key[key]
    for address in arrival.failed if arrival.kind in ("bounce", "delayed") else ():
        found = sent.by_address.get(address) or sent.by_address.get(hashed(address))
        if found is not None:
            return found
    return None


def entries_for(
    arrival: Arrival, entry: Entry, repo: Repository, today: date, hide: bool
) -> list[dict[str, Any]]:
    """The log entries an arrival makes, answering our `entry` (`hide`: log hashes, not
    addresses)."""
    base: dict[str, Any] = {
        "status": RECORDED[arrival.kind],
        "date": today.isoformat(),
        "keys": list(entry.keys),
        "customer": entry.get("customer"),
        "invoices": list(entry.get("invoices", ())),
        "step": entry.get("step"),
        "channel": "email",
        "inbound": arrival.inbound_id,
        "answers": message_id_of(entry.keys, _domain(repo)),
        "sent_on": entry.get("date"),
    }
    if arrival.kind in ("bounce", "delayed"):
        return [
            {
                **base,
                "address": hashed(a) if hide else a,
                "permanent": arrival.kind == "bounce",
                "reason": arrival.reason,
            }
            for a in arrival.failed
        ]
    base["from"] = hashed(arrival.sender) if hide else arrival.sender
    base["name"] = _name(repo, entry, arrival)
    base["subject"] = arrival.subject
    if arrival.kind == "reply":
        base["excerpt"] = arrival.excerpt
        base["wait_until"] = wait_until(repo, base["invoices"], today).isoformat()
    return [base]


def _domain(repo: Repository) -> str:
    return repo.settings.company.email.rsplit("@", 1)[-1]


def _name(repo: Repository, entry: Entry, arrival: Arrival) -> str:
    customer = repo.customers.get(str(entry.get("customer")))
    for contact in customer.contacts if customer else ():
        if contact.email and contact.email.lower() == arrival.sender:
            return contact.name
    return arrival.name or arrival.sender


def wait_until(repo: Repository, invoices: list[str], replied: date) -> date:
    """The last day reminders wait: `inbound.reply_wait_days` business days after the reply,
    in the calendar of the first invoice's policy."""
    days = repo.settings.inbound.reply_wait_days if repo.settings.inbound else 3
    invoice = next((repo.invoices[i] for i in invoices if i in repo.invoices), None)
    policy = repo.policy_for(invoice) if invoice else None
    day, counted = replied, 0
    while counted < days:
        day += timedelta(days=1)
        if policy is None or calendar.is_business_day(day, policy.calendar):
            counted += 1
    return day


def settle_unknown_emails(
    unknown: list[Entry], arrived: dict[str, str], domain: str, today: date
) -> list[dict[str, Any]]:
    """`reconciled` entries (runner.reconcile) for e-mails whose outcome was unknown and whose
    Message-ID was found where copies arrive ({message id: where}): the message certainly went
    out. A copy not found proves nothing: those stay unknown."""
    from runner import reconcile

    settled = []
    for entry in unknown:
        if entry.get("channel") not in ("email", "task"):
            continue
        message_id = message_id_of(entry.keys, domain)
        where = arrived.get(message_id) or arrived.get(message_id.lower())
        if where is not None:
            evidence = f"its Message-ID {message_id} is in {where}"
            settled.append(reconcile.Settlement(entry, True, evidence, message_id))
    return reconcile.entries(settled)
