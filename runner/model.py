"""The repository as typed, immutable values: what the YAML files say, after validation."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Contact:
    name: str
    role: str
    email: str | None = None
    phone: str | None = None  # E.164
    gender: str | None = None  # female, male: for wording that depends on it
    title: str = ""  # their position (a signatory's)
    local_names: tuple[tuple[str, str], ...] = ()  # (locale, the name in its script)
    local_titles: tuple[tuple[str, str], ...] = ()  # (locale, the position in its language)

    def name_in(self, locale: str) -> str:
        """The name as written in a locale's script, where given (fa: Persian script)."""
        names = dict(self.local_names)
        return names.get(locale) or names.get(locale.split("_")[0]) or self.name

    def title_in(self, locale: str) -> str:
        """The position in a locale's language, where given; else the one title there is."""
        titles = dict(self.local_titles)
        return titles.get(locale) or titles.get(locale.split("_")[0]) or self.title


@dataclass(frozen=True)
class Payer:
    """How a customer's payments show on a bank statement: an account, a name, or both."""

    name: str = ""
    iban: str = ""  # compact, upper case


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    locale: str
    timezone: str
    policy: str
    contacts: tuple[Contact, ...]
    owner: Contact | None = None
    currency: str | None = None
    address: tuple[str, ...] = ()
    paused_until: date | None = None
    hold: bool = False
    payers: tuple[Payer, ...] = ()
    country: str | None = None  # where they are established (ISO)
    law: str | None = None  # the late-payment law of the contract as written; "none": none
    path: str = ""

    def with_role(self, role: str) -> tuple[Contact, ...]:
        """The customer's contacts with a role ('owner': our account manager for them)."""
        if role == "owner":
            return (self.owner,) if self.owner else ()
        return tuple(c for c in self.contacts if c.role == role)

    @property
    def roles(self) -> frozenset[str]:
        roles = {c.role for c in self.contacts}
        return frozenset(roles | {"owner"} if self.owner else roles)


@dataclass(frozen=True)
class Payment:
    date: date
    amount: Decimal
    ref: str = ""


@dataclass(frozen=True)
class Installment:
    due: date
    amount: Decimal


@dataclass(frozen=True)
class Promise:
    date: date
    amount: Decimal | None = None  # None: the whole balance
    note: str = ""
    made: _dt.date | None = None  # when it was given; None: the invoice date


@dataclass(frozen=True)
class Discount:
    percent: Decimal
    until: date


@dataclass(frozen=True)
class Invoice:
    id: str
    customer: str
    issued: date
    due: date
    amount: Decimal
    currency: str
    policy: str | None = None
    description: str = ""
    discount: Discount | None = None
    payments: tuple[Payment, ...] = ()
    promise: Promise | None = None
    disputed: bool = False
    dispute_reason: str = ""
    void: bool = False
    written_off: bool = False
    paused_until: date | None = None
    installments: tuple[Installment, ...] = ()
    attachment: str | None = None
    law: str | None = None  # the late-payment law that applies (resolved when loaded); None: none
    path: str = ""

    def paid_by(self, day: date) -> Decimal:
        """What has been paid, counting only payments dated on or before `day`."""
        return sum((p.amount for p in self.payments if p.date <= day), Decimal(0))

    def promise_broken(self, day: date) -> bool:
        """A promise whose date has passed without the promised payments arriving."""
        promise = self.promise
        if promise is None or day <= promise.date or (promise.made or self.issued) > day:
            return False
        if promise.amount is None:
            return self.paid_by(promise.date) < self.amount
        since = promise.made or self.issued
        return self.paid_by(promise.date) - self.paid_by(since) < promise.amount

    @property
    def obligations(self) -> tuple[Installment, ...]:
        """What is owed and when: the installments of a payment plan, or the one due date."""
        return self.installments or (Installment(self.due, self.amount),)


@dataclass(frozen=True)
class After:
    """A step that follows another step's actual send (not a fixed day): `business_days` after
    the day that step was sent, or after the deadline it gave when it has `deadline_days`."""

    step: str
    business_days: int


@dataclass(frozen=True)
class Step:
    id: str
    channels: tuple[str, ...]
    template: str
    at: int | None = None
    start: int | None = None  # `from`
    end: int | None = None  # `to`
    every: int | None = None
    weekdays: tuple[int, ...] = ()  # 0 = Monday
    recipients: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    hold: bool = False
    deadline_days: int | None = None
    catch_up: int | None = None
    fee: Decimal | None = None
    description: str = ""
    after: After | None = None
    separate: bool = False  # its own message, not merged with the customer's other reminders
    task_to: tuple[str, ...] = ()  # our own people a task goes to (default: owner)

    @property
    def first_day(self) -> int:
        """The first day of a step with days (`at`, `from`); 0 for a step `after` another."""
        return self.at if self.at is not None else int(self.start or 0)

    def roles_for(self, channel: str) -> tuple[str, ...]:
        """Who a channel's message goes to. A customer's message: `recipients` (default billing).
        A task goes to our own people only: `task_to`, or a task-only step's `recipients`,
        or the customer's owner (our account manager); never the customer's contacts."""
        if channel != "task":
            return self.recipients or ("billing",)
        if self.task_to:
            return self.task_to
        if self.channels == ("task",) and self.recipients:
            return self.recipients
        return ("owner",)

    def cc_for(self, channel: str) -> tuple[str, ...]:
        return () if channel == "task" else self.cc


@dataclass(frozen=True)
class Calendar:
    country: str | None = None
    subdivision: str | None = None
    weekends: tuple[int, ...] = (5, 6)
    closed: frozenset[date] = frozenset()
    closed_yearly: frozenset[tuple[int, int]] = frozenset()  # (month, day), every year


@dataclass(frozen=True)
class LateFee:
    percent: Decimal | None = None
    every_days: int = 30
    from_day: int = 1
    statutory: str | None = None


@dataclass(frozen=True)
class Policy:
    id: str
    steps: tuple[Step, ...]
    description: str = ""
    calendar: Calendar = field(default_factory=Calendar)
    min_balance: Decimal = Decimal(0)
    catch_up: int = 3
    late_fee: LateFee | None = None
    chase_fees: bool = True  # a balance made only of late fees and interest is still reminded
    first_contact: str | None = None  # the step a late invoice's first message is (None: default)
    path: str = ""

    @property
    def entry_step(self) -> int | None:
        """Where an invoice nobody has contacted yet starts when it is already late: the step
        `first_contact` names, else the first step after the due date that writes to the
        customer (a lawyer's letter is never a first contact unless the policy says so)."""
        for index, step in enumerate(self.steps):
            if self.first_contact is not None:
                if step.id == self.first_contact:
                    return index
            elif step.after is None and step.first_day >= 1 and set(step.channels) - {"task"}:
                return index
        return None


@dataclass(frozen=True)
class Company:
    name: str
    email: str
    reply_to: str | None = None
    phone: str = ""
    address: tuple[str, ...] = ()
    vat: str = ""
    website: str = ""
    country: str | None = None
    signatory: Contact | None = None  # who signs letters


@dataclass(frozen=True)
class Counsel:
    name: str
    firm: str
    address: tuple[str, ...]
    email: str = ""
    phone: str = ""
    reference: str = ""


@dataclass(frozen=True)
class BankAccount:
    beneficiary: str
    currencies: tuple[str, ...] = ()  # () = every currency no other account names
    bank: str = ""
    iban: str = ""
    bic: str = ""
    reg: str = ""  # Danish reg.nr.
    account: str = ""
    sort_code: str = ""
    routing: str = ""


@dataclass(frozen=True)
class PaymentInfo:
    link: str = ""
    iban: str = ""
    bic: str = ""
    account: str = ""
    instructions: tuple[tuple[str, str], ...] = ()  # (locale, text); locale "" = any
    accounts: tuple[BankAccount, ...] = ()

    def account_for(self, currency: str, beneficiary: str) -> BankAccount | None:
        """The account an invoice in `currency` is paid to: the one naming the currency, else
        the one naming none, else the single iban/bic/account of older settings."""
        named = [a for a in self.accounts if currency in a.currencies]
        if named:
            return named[0]
        catch_all = [a for a in self.accounts if not a.currencies]
        if catch_all:
            return catch_all[0]
        if self.accounts or not (self.iban or self.account):
            return None
        return BankAccount(beneficiary, iban=self.iban, bic=self.bic, account=self.account)

    def instructions_for(self, locale: str) -> str:
        by_locale = dict(self.instructions)
        for candidate in (locale, locale.split("_")[0], ""):
            if candidate in by_locale:
                return by_locale[candidate]
        return next(iter(by_locale.values()), "")

    def link_for(self, invoice: str, customer: str) -> str:
        """The payment link, with the ids percent-encoded (FV/2026/11/201 stays one segment)."""
        from urllib.parse import quote

        return self.link.replace("{invoice}", quote(invoice, safe="")).replace(
            "{customer}", quote(customer, safe="")
        )


@dataclass(frozen=True)
class Defaults:
    locale: str
    timezone: str
    currency: str
    policy: str


# E-mail connections at once when settings.yaml names no number. A relay that allows fewer turns
# the rest away and the messages wait for those it took (channels/smtp.py): 8 connections could
# not send 8 times what one does (each waits on its own round trips), 10 do on a 20 ms server.
DEFAULT_MAX_CONNECTIONS = 10


@dataclass(frozen=True)
class EmailSettings:
    host: str
    port: int = 587
    security: str = "starttls"
    username_env: str = "SMTP_USERNAME"
    password_env: str = "SMTP_PASSWORD"
    sender: str | None = None
    timeout: float = 30.0
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    bcc: str | None = None
    auth: str = "login"  # or "none": a relay that takes mail without a login


@dataclass(frozen=True)
class SmsSettings:
    sender: str | None = None
    messaging_service_sid: str | None = None
    account_sid_env: str = "TWILIO_ACCOUNT_SID"
    auth_token_env: str = "TWILIO_AUTH_TOKEN"
    max_segments: int = 3
    api_base: str | None = None
    status_days: int = 7  # how far back each run asks Twilio whether SMS arrived


@dataclass(frozen=True)
class InboundSettings:
    """The mailbox bounces and replies come back to (IMAP over TLS)."""

    address: str
    host: str
    username_env: str
    password_env: str
    port: int = 993
    security: str = "tls"
    folder: str = "INBOX"
    copies_folder: str | None = None  # where the email.bcc copies arrive, if in this mailbox
    reply_wait_days: int = 3
    timeout: float = 30.0
    max_message_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    company: Company
    defaults: Defaults
    payment: PaymentInfo = field(default_factory=PaymentInfo)
    email: EmailSettings | None = None
    sms: SmsSettings | None = None
    inbound: InboundSettings | None = None
    hash_recipients: bool = False
    git_author_name: str = "nudge-bot"
    git_author_email: str = "nudge-bot@users.noreply.invalid"
    reference_rate: Decimal | None = None  # of the company's own late-payment law
    compensation: Decimal = Decimal(40)
    reference_rates: tuple[tuple[str, Decimal], ...] = ()  # other laws': (country, rate)
    exchange_rates: tuple[tuple[str, Decimal], ...] = ()  # (currency, units per euro)
    counsel: Counsel | None = None
    calendar: Calendar = field(default_factory=Calendar)  # the company's; a policy may override
    start: date | None = None  # the day Nudge took over reminding: nothing before it is missed
    staff: tuple[Contact, ...] = ()  # our own people by role, to whom tasks may go
    deadline_minutes: float = 20.0  # run.deadline_minutes


@dataclass(frozen=True)
class Repository:
    """Everything the core needs, keyed by id. Built by runner.repository.load()."""

    settings: Settings
    customers: dict[str, Customer]
    invoices: dict[str, Invoice]
    policies: dict[str, Policy]
    templates: frozenset[str]  # names relative to templates/, e.g. "gentle-heads-up/en.email.j2"

    @cached_property
    def by_customer(self) -> dict[str, tuple[Invoice, ...]]:
        """Each customer's invoices, ordered by id (computed once per repository)."""
        grouped: dict[str, list[Invoice]] = {}
        for invoice in sorted(self.invoices.values(), key=lambda i: i.id):
            grouped.setdefault(invoice.customer, []).append(invoice)
        return {customer: tuple(items) for customer, items in grouped.items()}

    def people(self, customer: Customer, role: str, channel: str) -> tuple[Contact, ...]:
        """Who a role names: for a task, our own people (the owner, or `staff` in settings);
        for anything else, the customer's contacts (and 'owner', our account manager)."""
        if channel == "task" and role != "owner":
            return tuple(c for c in self.settings.staff if c.role == role)
        return customer.with_role(role)

    def invoices_of(self, customer: str) -> tuple[Invoice, ...]:
        return self.by_customer.get(customer, ())

    def policy_for(self, invoice: Invoice) -> Policy | None:
        customer = self.customers.get(invoice.customer)
        policy_id = invoice.policy or (
            customer.policy if customer else self.settings.defaults.policy
        )
        return self.policies.get(policy_id)

    def template_for(self, template: str, locale: str, channel: str) -> str | None:
        """The template file for a locale, falling back da_DK -> da -> the default locale."""
        for candidate in locale_chain(locale, self.settings.defaults.locale):
            name = f"{template}/{candidate}.{channel}.j2"
            if name in self.templates:
                return name
        return None


def locale_chain(locale: str, default: str) -> tuple[str, ...]:
    chain = [locale]
    if "_" in locale:
        chain.append(locale.split("_")[0])
    for extra in (default, default.split("_")[0]):
        if extra not in chain:
            chain.append(extra)
    return tuple(chain)
