"""What the account owner is asked to do about what came back: tasks in the plan, pure.

Three kinds, each e-mailed to the customer's owner like a policy's task, once (its key goes to
the log when sent):
- `unreachable`: an address bounced or a number never received: find a working one;
- `reply`: a person replied about invoices: read it and answer (reminders wait meanwhile);
- a reminder with nobody reachable left becomes a task under the reminder's own keys (it
  stands for the reminder, which is not sent again).
Their text is written here (it is about the customer, for our own people), not by templates.
"""

from __future__ import annotations

import hashlib
import textwrap
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from runner import context
from runner.compose import Outgoing
from runner.feedback import rules
from runner.model import Contact, Customer, Repository
from runner.schedule import Delivery, Plan, local_today, recipients
from runner.sendlog import Entry, Key, LogIndex, time_order

TEMPLATE = "nudge:"  # the template name of a task written here, not by a template file
ROLE_WORDS = {"email": "address", "sms": "mobile number"}


def add(
    repo: Repository, log: LogIndex, result: Plan, now: datetime, wanted: set[str] | None
) -> None:
    """Today's plan with reminders that reach nobody turned into tasks, and the new tasks about
    bounces, undelivered numbers and replies added."""
    result.deliveries = [_stand_in(repo, log, d) for d in result.deliveries]
    view = rules.view(log)
    opened: set[str] = set()
    # in the order of their entries, whatever the order of the log's earlier history
    unreachable = sorted((u.entry for u in view.unreachable.values()), key=time_order)
    for n, entry in enumerate(unreachable + [e for e in log.feedback if e.status == "reply"]):
        customer = repo.customers.get(str(entry.get("customer")))
        if customer is None or customer.owner is None or not customer.owner.email:
            continue
        if wanted is not None and not {customer.id, *entry.get("invoices", ())} & wanted:
            continue
        task = _task_for(repo, log, customer, entry, local_today(now, customer.timezone))
        if task is not None and log.state(task.keys[0]) is None and task.keys[0] not in opened:
            opened.add(task.keys[0])
            result.deliveries.append(task)
            result.order.append((1, n))


def _stand_in(repo: Repository, log: LogIndex, d: Delivery) -> Delivery:
    """A reminder whose every recipient is unreachable: a task for the owner instead."""
    if d.to or d.channel not in ROLE_WORDS:
        return d
    customer = repo.customers[d.customer]
    step = repo.policies[d.policy].steps[d.step_index]
    to, cc = recipients(repo, customer, step, d.channel, log.opted_out)
    gone = [c for c in (*to, *cc) if rules.unreachable(log, _address(c, d.channel))]
    owner = customer.owner
    if not gone or owner is None or not owner.email:
        return d
    names = ", ".join(f"{c.name} ({_address(c, d.channel)})" for c in gone)
    return replace(
        d,
        channel="task",
        to=(owner.email,),
        cc=(),
        template=f"{TEMPLATE}no-{d.channel}-recipient",
        reason=(
            f"the {d.step} {d.channel} for {', '.join(d.invoices)} reaches nobody: {names} "
            f"did not receive our last message; find a working {ROLE_WORDS[d.channel]} for "
            f"{customer.name} and contact them yourself"
        ),
    )


def _address(contact: Contact, channel: str) -> str | None:
    return contact.phone if channel == "sms" else contact.email


def _task_for(
    repo: Repository, log: LogIndex, customer: Customer, entry: Entry, today: date
) -> Delivery | None:
    day = entry.day
    invoices = tuple(i for i in entry.get("invoices", ()) if i in repo.invoices)
    if day is None or not invoices:
        return None
    if entry.status == "reply":
        kind, reason = "reply", _reply_reason(customer, entry)
    else:
        address = str(entry.get("address") or entry.get("phone") or "")
        contact = contact_with(customer, address)
        if contact is None:
            return None  # the customer file no longer has it: someone already fixed it
        kind, reason = "unreachable", _unreachable_reason(customer, contact, entry)
    step = task_step(entry)
    key = str(Key(invoices[0], None, step, day, "task"))
    first = repo.invoices[invoices[0]]
    total = sum(
        (
            v.balance
            for v in context.statement(repo, customer, today)
            if v.currency == first.currency
        ),
        Decimal(0),
    )
    owner = customer.owner
    assert owner is not None and owner.email
    policy = repo.policy_for(first)
    return Delivery(
        date=today,
        customer=customer.id,
        policy=policy.id if policy else customer.policy,
        step=step,
        step_index=-1,
        channel="task",
        invoices=invoices,
        keys=(key,),
        to=(owner.email,),
        cc=(),
        template=TEMPLATE + kind,
        locale=repo.settings.defaults.locale,
        reason=reason,
        total_due=total,
        currency=first.currency,
    )


def task_step(entry: Entry) -> str:
    """The step of the task about what came back (`entry`): named by what it is about, not the
    entry's id, so two runs that logged the same bounce open one task."""
    kind = "reply" if entry.status == "reply" else "unreachable"
    about = entry.get("inbound") or entry.get("sid") or entry.id
    who = entry.get("address") or entry.get("phone") or ""
    return f"{kind}-{hashlib.sha256(f'{about}|{who}'.encode()).hexdigest()[:8]}"


def task_keys(entry: Entry) -> list[str]:
    """Every key the task about `entry` can have (it is filed under the first of its invoices
    still in the repository)."""
    day, step = entry.day, task_step(entry)
    if day is None:
        return []
    return [str(Key(str(i), None, step, day, "task")) for i in entry.get("invoices", ())]


def owes_task(entry: Entry, log: LogIndex) -> bool:
    """Whether what came back may still open a task: a reply, bounce or undelivered text none
    of whose task keys has an outcome in the log yet."""
    if entry.status not in ("reply", rules.EMAIL_NOT_REACHED, rules.SMS_NOT_REACHED):
        return False
    for key in task_keys(entry):
        state = log.state(key)
        if state is not None and state.status != "unknown":
            return False
    return True


def contact_with(customer: Customer, address: str) -> Contact | None:
    from runner.sendlog import hashed

    for contact in customer.contacts:
        for value in (contact.email, contact.phone):
            if value and address in (value.lower(), value, hashed(value)):
                return contact
    return None


def _unreachable_reason(customer: Customer, contact: Contact, entry: Entry) -> str:
    channel = "sms" if entry.status == rules.SMS_NOT_REACHED else "email"
    what = ROLE_WORDS[channel]
    value = contact.phone if channel == "sms" else contact.email
    why = entry.get("reason") or entry.get("error") or "no reason given"
    return (
        f"find a working {contact.role} {what} for {customer.name}: {contact.name} ({value}) "
        f"did not receive the {entry.get('step', '')} {channel} of {entry.get('sent_on') or '?'} "
        f"({why}); until the customer file has a working one, reminders go to the other "
        f"contacts, or come to you as tasks"
    )


def _reply_reason(customer: Customer, entry: Entry) -> str:
    who = entry.get("name") or entry.get("from") or "someone"
    subject = entry.get("subject") or "(no subject)"
    excerpt = " / ".join(str(entry.get("excerpt") or "").splitlines()) or "(no text)"
    return (
        f"{who} at {customer.name} replied on {entry.day} about "
        f"{', '.join(entry.get('invoices', ()))}: subject {subject!r}; it begins: {excerpt}; "
        f"reminders for these invoices wait until {entry.get('wait_until') or entry.day}"
    )


# -- the message -------------------------------------------------------------------------------


SUBJECTS = {
    "reply": "{customer} replied about {invoices}: please read and answer",
    "unreachable": "Find a working contact for {customer} ({invoices})",
    "no-email-recipient": "{customer}: no working e-mail address left, contact them yourself",
    "no-sms-recipient": "{customer}: no working mobile number left, contact them yourself",
}


def compose(repo: Repository, delivery: Delivery) -> Outgoing:
    """The e-mail to the owner: what came back, what Nudge does meanwhile, what to do."""
    customer = repo.customers[delivery.customer]
    owner = customer.owner or Contact(customer.name, "owner", delivery.to[0])
    kind = delivery.template.removeprefix(TEMPLATE)
    subject = SUBJECTS.get(kind, SUBJECTS["unreachable"]).format(
        customer=customer.name, invoices=", ".join(delivery.invoices)
    )
    statement = context.statement(repo, customer, delivery.date)
    lines = [
        f"Hi {owner.name},",
        "",
        textwrap.fill(_sentence(delivery.reason), width=76),
        "",
        "Nudge never reads replies for meaning: please read it in the mailbox and answer."
        if kind == "reply"
        else f"Fix the contact in customers/{customer.id}.yaml when you have a working one.",
        "",
        f"Open invoices of {customer.name} on {delivery.date}:",
        *(
            f"- {v.id}: {v.balance} {v.currency} open, due {v.due}, {v.days_overdue} days overdue"
            for v in statement
        ),
        "",
        f"Contacts at {customer.name}:",
        *(
            f"- {c.name} ({c.role})"
            + "".join(f", {value}" for value in (c.email, c.phone) if value)
            for c in customer.contacts
        ),
        "",
        f"History: nudge history {customer.id}",
    ]
    return Outgoing(delivery, subject, "\n".join(lines) + "\n", None, (owner,), ())


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
