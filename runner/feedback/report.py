"""What came back, for `nudge report`: unreachable contacts and replies waiting for an answer."""

from __future__ import annotations

from datetime import date

from runner import context
from runner.feedback import rules
from runner.feedback.tasks import contact_with
from runner.model import Repository
from runner.sendlog import Entry, LogIndex


def unreachable(repo: Repository, log: LogIndex) -> list[dict[str, object]]:
    """Addresses that bounced and numbers that never received, still in a customer file."""
    rows = []
    for bad in rules.view(log).unreachable.values():
        customer = repo.customers.get(str(bad.entry.get("customer")))
        contact = contact_with(customer, bad.address) if customer else None
        if customer is None or contact is None:
            continue  # replaced in the customer file since
        rows.append(
            {
                "customer": customer.id,
                "contact": contact.name,
                "role": contact.role,
                "channel": bad.channel,
                "address": contact.email if bad.channel == "email" else contact.phone,
                "since": bad.day,
                "reason": bad.entry.get("reason") or "",
            }
        )
    return sorted(rows, key=lambda r: (str(r["customer"]), str(r["address"])))


def replies(repo: Repository, log: LogIndex, today: date) -> list[dict[str, object]]:
    """Replies from people about invoices still open that no one has recorded an answer to
    (`nudge note`)."""
    rows = []
    for invoice, wait in sorted(rules.view(log).waits.items()):
        known = repo.invoices.get(invoice)
        if known is None or not context.is_open(repo, known, today):
            continue
        if any(n.day is not None and n.day >= wait.replied for n in log.notes_for(invoice)):
            continue
        rows.append(
            {
                "date": wait.replied,
                "customer": wait.entry.get("customer"),
                "invoice": invoice,
                "from": wait.entry.get("name") or wait.entry.get("from"),
                "subject": wait.entry.get("subject") or "",
                "waits_until": wait.until,
            }
        )
    return rows


def describe(entry: Entry) -> str:
    """One line of `nudge history` for what came back."""
    status, step = entry.status, entry.get("step") or ""
    if status == "bounced":
        return f"{step} e-mail to {entry.get('address')} bounced: {entry.get('reason')}"
    if status == "delayed":
        return (
            f"{step} e-mail to {entry.get('address')} delayed, the server retries: "
            f"{entry.get('reason')}"
        )
    if status == "autoreply":
        return f"auto-reply from {entry.get('name')} to the {step} e-mail: {entry.get('subject')}"
    if status == "reply":
        first = str(entry.get("excerpt") or "").split("\n")[0]
        return (
            f"reply from {entry.get('name')} to the {step} e-mail: {entry.get('subject')!r}, "
            f"{first!r}; reminders wait until {entry.get('wait_until')}"
        )
    if status == "delivered":
        return f"{step} text to {entry.get('phone')} delivered"
    return f"{step} text to {entry.get('phone')} not delivered: {entry.get('reason')}"
