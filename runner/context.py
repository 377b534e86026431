"""What a template sees: plain, immutable views of the customer, invoices and money on a day.

Every figure a message states is computed here (or in the ledger), never in a template: what is
open, what is due now, what a payment plan still holds, late fees split into interest,
compensation and other fees, the totals of exactly what a message lists. docs/templates.md
describes each variable.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from runner import calendar, latepay, ledger, payref
from runner.model import (
    BankAccount,
    Contact,
    Customer,
    Invoice,
    Policy,
    Repository,
    Step,
)
from runner.sendlog import Key, LogIndex
from runner.templates import direction

ZERO = Decimal(0)
CUSTOMER_CHANNELS = ("email", "sms", "letter")  # what the customer received (tasks are ours)


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class InstallmentView:
    number: int
    count: int
    due: date
    amount: Decimal
    paid: Decimal
    balance: Decimal  # of this installment, still to pay
    overdue: bool


@dataclass(frozen=True)
class PromiseView:
    date: _dt.date
    amount: Decimal | None
    broken: bool
    made: _dt.date | None


@dataclass(frozen=True)
class StepView:
    id: str
    description: str
    day: int  # the day after the due date it is meant for


@dataclass(frozen=True)
class ContactView:
    """A message the customer received (or a call we made) about some of the listed invoices."""

    date: date
    channel: str  # email, sms, letter, call
    step: str
    invoices: tuple[str, ...]


@dataclass(frozen=True)
class InvoiceView:
    id: str
    description: str
    issued: date
    due: date  # of what is owed now: the invoice, or the current installment of a plan
    amount: Decimal
    currency: str
    paid: Decimal  # payments known today
    fees: Decimal  # late fees of every kind: interest + compensation + the policy's fees
    interest: Decimal  # statutory interest
    compensation: Decimal  # statutory fixed compensation for recovery costs
    balance: Decimal  # everything still open: amount + fees - paid - discount earned
    due_now: Decimal  # of the balance, what is due today (a plan's later installments are not)
    days_overdue: int
    link: str
    reference: str  # the ISO 11649 creditor reference, printed in groups of four
    discount: ledger.DiscountOffer | None
    installment: InstallmentView | None  # the current one of a payment plan
    installments: tuple[InstallmentView, ...]  # the whole plan (empty: no plan)
    promise: PromiseView | None
    disputed: bool
    dispute_reason: str
    fees_only: bool  # the amount is paid; what is left is late fees and interest
    discount_earned: Decimal
    stage: StepView | None  # the stage this message is about, for a listed invoice
    previous: tuple[ContactView, ...]  # what the customer received about it before today

    @property
    def partly_paid(self) -> bool:
        return ZERO < self.paid < self.amount

    @property
    def not_yet_due(self) -> Decimal:
        return self.balance - self.due_now


@dataclass(frozen=True)
class HoldView:
    """The account is on hold: set by hand in the customer file (`since` unknown), or since a
    policy step with `hold: true` was first sent for an invoice still open."""

    since: date | None
    by_hand: bool
    step: str = ""


@dataclass(frozen=True)
class CustomerView:
    id: str
    name: str
    address: tuple[str, ...]
    hold: bool
    contacts: tuple[Contact, ...]
    country: str | None


@dataclass(frozen=True)
class AccountView:
    currencies: tuple[str, ...]  # the currencies asked for that are paid to this account
    account: BankAccount

    @property
    def currency(self) -> str:
        return ", ".join(self.currencies)


@dataclass(frozen=True)
class PaymentView:
    link: str  # one link for the whole message ('' when each listed invoice has its own)
    instructions: str
    accounts: tuple[AccountView, ...]  # one per currency the message asks for
    iban: str  # the first account's, for templates written before accounts
    bic: str
    account: str
    # (invoice, link) of each listed invoice, where the link names the invoice and the message
    # lists several: one link would pay one of them
    links: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LawView:
    country: str
    statute: str  # in the country's language
    statute_en: str
    reference: str
    rate: Decimal | None  # percent a year: the reference rate + the law's points
    points: Decimal


# -- invoices ----------------------------------------------------------------------------------


def invoice_view(
    repo: Repository,
    invoice: Invoice,
    day: date,
    stage: StepView | None = None,
    previous: tuple[ContactView, ...] = (),
) -> InvoiceView:
    policy = repo.policy_for(invoice)
    settings = repo.settings
    fees, paid, earned, balance = _balance(repo, invoice, day)
    statutory = policy is not None and policy.late_fee is not None and policy.late_fee.statutory
    late = statutory and day > invoice.due
    interest = ledger.statutory_interest(invoice, settings, day) if late else ZERO
    compensation = ledger.statutory_compensation(invoice, settings) if late else ZERO
    states = ledger.obligations(invoice, day)
    current = next((o for o in states if o.remaining > 0), None)
    due = current.due if current else invoice.due
    plan = tuple(
        InstallmentView(o.number, o.count, o.due, o.amount, o.paid, o.remaining, o.due < day)
        for o in states
    )
    owed_now = sum((o.remaining for o in states if o.due <= day), ZERO)
    promise = invoice.promise
    return InvoiceView(
        id=invoice.id,
        description=invoice.description,
        issued=invoice.issued,
        due=due,
        amount=invoice.amount,
        currency=invoice.currency,
        paid=paid,
        fees=fees,
        interest=interest,
        compensation=compensation,
        balance=balance,
        due_now=max(min(owed_now + fees, balance), ZERO),
        days_overdue=(day - due).days,
        link=settings.payment.link_for(invoice.id, invoice.customer),
        reference=payref.printed(payref.creditor_reference(invoice.id)),
        discount=ledger.discount_available(invoice, day),
        installment=plan[current.number - 1] if current and invoice.installments else None,
        installments=plan if invoice.installments else (),
        promise=PromiseView(promise.date, promise.amount, invoice.promise_broken(day), promise.made)
        if promise
        else None,
        disputed=invoice.disputed,
        dispute_reason=invoice.dispute_reason,
        fees_only=invoice.amount - paid - earned <= 0 < balance,
        discount_earned=earned,
        stage=stage,
        previous=previous,
    )


def _balance(
    repo: Repository, invoice: Invoice, day: date
) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """Fees, paid, discount earned and the balance (what is asked) of an invoice on `day`."""
    fees = ledger.late_fees(invoice, repo.policy_for(invoice), repo.settings, day)
    paid = invoice.paid_by(day)
    earned = ledger.discount_earned(invoice, day)
    return fees, paid, earned, invoice.amount + fees - paid - earned


def statement_total(repo: Repository, customer: Customer, day: date, currency: str) -> Decimal:
    """The total of `statement` in one currency (its views' balances) without making the views:
    a plan states it for every message of every day it replays."""
    return sum(
        (
            _balance(repo, inv, day)[3]
            for inv in repo.invoices_of(customer.id)
            if inv.currency == currency and not inv.disputed and is_open(repo, inv, day)
        ),
        ZERO,
    )


def is_open(repo: Repository, invoice: Invoice, day: date) -> bool:
    if invoice.void or invoice.written_off or invoice.issued > day:
        return False
    return not ledger.settled(invoice, repo.policy_for(invoice), repo.settings, day)


def open_invoices(repo: Repository, customer: Customer, day: date) -> list[InvoiceView]:
    """Every open invoice of the customer on `day`, disputed ones included, by due date."""
    views = [
        invoice_view(repo, inv, day)
        for inv in repo.invoices_of(customer.id)
        if is_open(repo, inv, day)
    ]
    return sorted(views, key=lambda v: (v.due, v.id))


def statement(repo: Repository, customer: Customer, day: date) -> list[InvoiceView]:
    """What we ask the customer to pay: the open invoices not in dispute. A disputed invoice is
    listed apart ("in dispute") and never counted in a total."""
    return [v for v in open_invoices(repo, customer, day) if not v.disputed]


def in_dispute(repo: Repository, customer: Customer, day: date) -> list[InvoiceView]:
    return [v for v in open_invoices(repo, customer, day) if v.disputed]


def totals(views: Iterable[InvoiceView], field: str = "balance") -> list[Money]:
    """Sums per currency of one figure over exactly the views given (every total a message
    states is one of these, so it always equals the sum of what the message lists)."""
    sums: dict[str, Decimal] = {}
    for view in views:
        sums[view.currency] = sums.get(view.currency, ZERO) + getattr(view, field)
    return [Money(amount, currency) for currency, amount in sorted(sums.items())]


# -- the account ---------------------------------------------------------------------------------


def hold_since(
    repo: Repository,
    log: LogIndex | None,
    customer: Customer,
    day: date,
    reaching: Step | None,
    include_today: bool = False,
) -> HoldView | None:
    """Whether the account is on hold on `day`, and since when. From the log, only messages sent
    before `day` count (so a message rendered again later reads as it did; `include_today` for a
    report of the day); `reaching` is the step being sent today, which puts the account on hold
    from today if it has `hold: true`."""
    last = day + timedelta(days=1) if include_today else day
    first: tuple[date, str] | None = (day, reaching.id) if reaching and reaching.hold else None
    for invoice in repo.invoices_of(customer.id) if log is not None else ():
        policy = repo.policy_for(invoice)
        if policy is None or not is_open(repo, invoice, day):
            continue
        holding = {s.id for s in policy.steps if s.hold}
        assert log is not None
        for key, state in log.of_invoice(invoice.id) if holding else ():
            if (
                key.step in holding
                and state.status == "sent"
                and state.day is not None
                and state.day < last
                and (first is None or (state.day, key.step) < first)
            ):
                first = (state.day, key.step)
    if first is not None:
        return HoldView(first[0], False, first[1])
    return HoldView(None, True) if customer.hold else None


def previous_contacts(
    log: LogIndex | None, invoice_ids: Iterable[str], before: date
) -> tuple[ContactView, ...]:
    """What the customer received about these invoices before `before`: e-mails, texts and
    letters sent, and calls recorded by hand; one entry per day, channel and stage."""
    if log is None:
        return ()
    found: dict[tuple[date, str, str], set[str]] = {}
    for invoice in invoice_ids:
        for key, state in log.of_invoice(invoice):
            if (
                state.status == "sent"
                and key.channel in CUSTOMER_CHANNELS
                and state.day is not None
                and state.day < before
            ):
                found.setdefault((state.day, key.channel, key.step), set()).add(invoice)
        for note in log.notes_for(invoice):
            if note.day is not None and note.day < before:
                step = str(note.get("step") or "")
                channel = str(note.get("channel") or "call")
                found.setdefault((note.day, channel, step), set()).add(invoice)
    return tuple(
        ContactView(day, channel, step, tuple(sorted(invoices)))
        for (day, channel, step), invoices in sorted(found.items())
    )


def accounts_for(repo: Repository, currencies: Iterable[str]) -> tuple[AccountView, ...]:
    """The accounts the currencies asked for are paid to, each once with its currencies."""
    beneficiary = repo.settings.company.name
    found: dict[BankAccount, list[str]] = {}
    for currency in dict.fromkeys(currencies):
        account = repo.settings.payment.account_for(currency, beneficiary)
        if account is not None:
            found.setdefault(account, []).append(currency)
    return tuple(AccountView(tuple(names), account) for account, names in found.items())


def law_view(repo: Repository, invoices: Sequence[Invoice]) -> LawView | None:
    """The late-payment law of the invoices listed (a customer's invoices share one)."""
    country = next((i.law for i in invoices if i.law), None)
    law = latepay.laws().get(country) if country else None
    if law is None:
        return None
    rate = latepay.yearly_rate(law.country, repo.settings)
    return LawView(law.country, law.statute, law.statute_en, law.reference, rate, law.points)


# -- the message ---------------------------------------------------------------------------------


def stages(repo: Repository, keys: Iterable[str]) -> dict[str, Step]:
    """Each listed invoice's own stage, from the delivery's keys (the most advanced if several)."""
    found: dict[str, tuple[int, Step]] = {}
    for text in keys:
        key = Key.parse(text)
        invoice = repo.invoices.get(key.invoice)
        policy: Policy | None = repo.policy_for(invoice) if invoice else None
        if policy is None:
            continue
        for index, step in enumerate(policy.steps):
            if step.id == key.step and (key.invoice not in found or index > found[key.invoice][0]):
                found[key.invoice] = (index, step)
    return {invoice: step for invoice, (_, step) in found.items()}


def build(
    repo: Repository,
    customer: Customer,
    step: Step,
    invoices: Sequence[Invoice],
    to: Sequence[Contact],
    locale: str,
    day: date,
    cc: Sequence[Contact] = (),
    log: LogIndex | None = None,
    keys: Sequence[str] = (),
) -> dict[str, Any]:
    """The template context for one message (`to` first: the person addressed). `step` is the
    most advanced stage of the message; `keys` name each listed invoice's own stage. `log` is
    the send log the message is decided on (earlier contacts, hold); None where there is none
    (validate)."""
    settings = repo.settings
    own_stage = stages(repo, keys)
    listed = [
        invoice_view(
            repo,
            invoice,
            day,
            _step_view(own_stage.get(invoice.id, step)),
            previous_contacts(log, (invoice.id,), day),
        )
        for invoice in invoices
    ]
    open_views = statement(repo, customer, day)
    policy = repo.policy_for(invoices[0]) if invoices else repo.policies.get(customer.policy)
    hold = hold_since(repo, log, customer, day, step)
    listed.sort(key=lambda v: (-v.days_overdue, v.id))  # the longest overdue first
    first = listed[0] if listed else None
    links = (
        tuple((v.id, v.link) for v in listed)
        if len(listed) > 1 and "{invoice}" in settings.payment.link
        else ()
    )
    payment = settings.payment
    currencies = [v.currency for v in (*listed, *open_views)] or [settings.defaults.currency]
    accounts = accounts_for(repo, currencies)
    main = accounts[0].account if accounts else None
    return {
        "company": settings.company,
        "signatory": _signatory(settings.company.signatory, locale),
        "counsel": settings.counsel,
        "customer": CustomerView(
            customer.id,
            customer.name,
            customer.address,
            hold is not None,
            customer.contacts,
            customer.country,
        ),
        "contact": to[0] if to else Contact(customer.name, "billing"),
        "owner": customer.owner,
        "recipients": [*to, *cc],
        "step": _step_view(step),
        "invoices": listed,
        # the listed invoices past due (all of them where none is: a template rendered for
        # validate): what an overdue stage's subject counts, when a reminder of an invoice not
        # yet due shares its message
        "overdue": [v for v in listed if v.days_overdue > 0] or listed,
        # the listed invoices the customer heard about before (`previous`): a sentence about
        # earlier messages names them when not every listed invoice is one of them
        "reminded": [v.id for v in listed if v.previous],
        "listed_totals": totals(listed, "due_now"),
        "statement": open_views,
        "totals": totals(open_views),
        "overdue_totals": [m for m in totals(open_views, "due_now") if m.amount],
        "disputed": in_dispute(repo, customer, day),
        "days_overdue": max((v.days_overdue for v in listed), default=0),
        "fees": [m for m in totals(listed, "fees") if m.amount],
        "previous": previous_contacts(log, (i.id for i in invoices), day),
        "payment": PaymentView(
            link="" if links else first.link if first else payment.link_for("", customer.id),
            instructions=payment.instructions_for(locale),
            accounts=accounts,
            iban=main.iban if main else "",
            bic=main.bic if main else "",
            account=main.account if main else "",
            links=links,
        ),
        "law": law_view(repo, invoices) if _statutory(policy) else None,
        "hold": hold,
        "broken_promise": next((v for v in listed if v.promise and v.promise.broken), None),
        "deadline": calendar.pay_by(
            day, step.deadline_days, policy.calendar if policy else settings.calendar
        ),
        "today": day,
        "locale": locale,
        "direction": direction(locale),
    }


def _signatory(signatory: Contact | None, locale: str) -> Contact | None:
    """Who signs, with the position in the message's language (and name in its script)."""
    if signatory is None:
        return None
    return replace(signatory, name=signatory.name_in(locale), title=signatory.title_in(locale))


def _statutory(policy: Policy | None) -> bool:
    """Whether the policy charges statutory late-payment interest (so messages may cite the law)."""
    return bool(policy and policy.late_fee and policy.late_fee.statutory)


def _step_view(step: Step) -> StepView:
    return StepView(step.id, step.description, step.first_day)
