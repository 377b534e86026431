"""From a delivery to the message a person receives. Pure: (repository, delivery, templates) in.

The same function serves `run` (what is sent), `plan` (previews) and `show` (re-rendering a
logged message from the commit it was sent with), so what is shown is what was sent.
"""

from __future__ import annotations

import email.policy
import hashlib
from dataclasses import dataclass
from datetime import datetime, time
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from runner import context, paths
from runner.errors import NudgeError
from runner.model import Contact, Repository, Settings
from runner.schedule import Delivery, address, recipients, zone
from runner.sendlog import LogIndex, hashed
from runner.templates import Renderer

# Python folds a long address header at 78 characters and, with a non-ASCII name in it, can
# put the comma between two addresses inside an encoded word (the header then names one
# address fewer). RFC 5322 allows lines up to 998 characters: fold only there.
MESSAGE_POLICY = email.policy.default.clone(max_line_length=998)
WIRE_POLICY = email.policy.SMTP.clone(max_line_length=998)


class HeaderInjection(NudgeError):
    """A header value with a line break: refused, never sent."""


@dataclass(frozen=True)
class Outgoing:
    delivery: Delivery
    subject: str
    text: str
    html: str | None
    to: tuple[Contact, ...]
    cc: tuple[Contact, ...]
    attachments: tuple[Path, ...] = ()

    @property
    def channel(self) -> str:
        return self.delivery.channel


def message_id(delivery: Delivery, domain: str) -> str:
    """The same delivery always gets the same Message-ID: a resent copy is recognisably the same."""
    return message_id_of(delivery.keys, domain)


def message_id_of(keys: tuple[str, ...] | list[str], domain: str) -> str:
    """The Message-ID of the e-mail that carried these keys (bounces and replies name it)."""
    digest = hashlib.sha256("|".join(keys).encode()).hexdigest()[:32]
    return f"<nudge.{digest}@{domain}>"


def compose(
    repo: Repository,
    delivery: Delivery,
    renderer: Renderer,
    root: Path,
    log: LogIndex | None = None,
) -> Outgoing:
    """The message of a delivery. `log` is the send log it was decided on: what the message says
    of earlier reminders and of a hold comes from it (entries dated before the delivery)."""
    if delivery.template.startswith("nudge:"):
        from runner.feedback import tasks

        return tasks.compose(repo, delivery)  # a task about what came back, written by Nudge
    customer = repo.customers[delivery.customer]
    step = repo.policies[delivery.policy].steps[delivery.step_index]
    to, cc = as_planned(*recipients(repo, customer, step, delivery.channel), delivery)
    invoices = [repo.invoices[i] for i in delivery.invoices]
    ctx = context.build(
        repo, customer, step, invoices, to, delivery.locale, delivery.date, cc, log, delivery.keys
    )
    rendered = renderer.render(delivery.template, delivery.channel, ctx)
    attachments = tuple(
        root / inv.attachment
        for inv in invoices
        if inv.attachment
        and delivery.channel == "email"
        and (root / inv.attachment).is_file()
        and paths.is_inside(root, root / inv.attachment)  # never a file outside the repository
    )
    return Outgoing(
        delivery, rendered.subject, rendered.text, rendered.html, tuple(to), tuple(cc), attachments
    )


def as_planned(
    to: list[Contact], cc: list[Contact], delivery: Delivery
) -> tuple[list[Contact], list[Contact]]:
    """The contacts the plan addressed: numbers that opted out and unreachable addresses were
    left out, and those in copy addressed when nobody else was left."""

    def named(contact: Contact, among: tuple[str, ...]) -> bool:
        value = address(contact, delivery.channel)  # a logged delivery may hold hashes
        return value in among or hashed(value) in among

    everyone = [*to, *cc]
    kept_to = [c for c in everyone if named(c, delivery.to)]
    return kept_to, [c for c in everyone if named(c, delivery.cc) and c not in kept_to]


def header_value(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjection(f"header value contains a line break, refused: {value!r}")
    return value


def _addresses(contacts: tuple[Contact, ...]) -> tuple[Address, ...]:
    # Address objects, not a joined string: a non-ASCII name is then encoded on its own and
    # the comma between two addresses never ends up inside an encoded word.
    return tuple(
        Address(display_name=header_value(c.name), addr_spec=header_value(c.email or ""))
        for c in contacts
    )


def email_message(repo: Repository, out: Outgoing, sent_at: datetime | None = None) -> EmailMessage:
    """The RFC 5322 message for an e-mail (or a task e-mailed to our owner)."""
    settings = repo.settings
    company = settings.company
    domain = company.email.rsplit("@", 1)[-1]
    msg = EmailMessage(policy=MESSAGE_POLICY)
    msg["From"] = header_value(sender_of(settings))
    msg["To"] = _addresses(out.to)
    if out.cc:
        msg["Cc"] = _addresses(out.cc)
    reply_to = reply_to_of(settings)
    if reply_to:
        msg["Reply-To"] = header_value(reply_to)
    msg["Subject"] = header_value(out.subject)
    msg["Date"] = format_datetime(sent_at or preview_time(settings, out))
    msg["Message-ID"] = message_id(out.delivery, domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Nudge-Keys"] = header_value(" ".join(out.delivery.keys))
    msg.set_content(out.text)
    if out.html:
        msg.add_alternative(out.html, subtype="html")
    for path in out.attachments:
        msg.add_attachment(
            path.read_bytes(), maintype="application", subtype="pdf", filename=path.name
        )
    return msg


def sender_of(settings: Settings) -> str:
    configured = settings.email.sender if settings.email else None
    return configured or formataddr((settings.company.name, settings.company.email))


def reply_to_of(settings: Settings) -> str | None:
    """Where replies go: the company's reply_to, else the inbound mailbox (which reads them)."""
    return settings.company.reply_to or (settings.inbound.address if settings.inbound else None)


def return_path_of(settings: Settings) -> str:
    """The envelope sender: bounces go to the inbound mailbox when there is one."""
    return settings.inbound.address if settings.inbound else settings.company.email


def preview_time(settings: Settings, out: Outgoing) -> datetime:
    """When a message not (yet) sent is dated: the morning of its delivery."""
    return datetime.combine(out.delivery.date, time(9), zone(settings.defaults.timezone))


def envelope(out: Outgoing, bcc: str | None) -> list[str]:
    addresses = [c.email for c in (*out.to, *out.cc) if c.email]
    return [*addresses, bcc] if bcc else addresses
