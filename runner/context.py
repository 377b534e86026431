"""What a template sees: plain, immutable views of the customer, invoices and money on a day."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from runner import calendar, ledger
from runner.model import Contact, Customer, Invoice, Repository, Step
from runner.sendlog import LogIndex
from runner.templates import direction


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
    balance: Decimal


@dataclass(frozen=True)
class PromiseView:
    date: date
    amount: Decimal | None
    broken: bool


@dataclass(frozen=True)
class InvoiceView:
    id: str
    description: str
    issued: date
    due: date
    amount: Decimal
    currency: str
    paid: Decimal
    fees: Decimal
    balance: Decimal
    days_overdue: int
    link: str
    discount: ledger.DiscountOffer | None
    installment: InstallmentView | None
    promise: PromiseView | None
    disputed: bool
    fees_only: bool  # the amount is paid; what is left is late fees and interest
    discount_earned: Decimal


@dataclass(frozen=True)
class StepView:
    id: str
    description: str
    day: int


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


@dataclass(frozen=True)
class PaymentView:
    link: str
    instructions: str
    iban: str
    bic: str
    account: str


def invoice_view(repo: Repository, invoice: Invoice, day: date) -> InvoiceView:
    policy = repo.policy_for(invoice)
    fees = ledger.late_fees(invoice, policy, repo.settings, day)
    paid = invoice.paid_by(day)
    earned = ledger.discount_earned(invoice, day)
    current = ledger.current_obligation(invoice, day)
    due = current.due if current else invoice.due
    installment = (
        InstallmentView(
            current.number, current.count, current.due, current.amount, current.remaining
        )
        if current and invoice.installments
        else None
    )
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
        balance=invoice.amount + fees - paid - earned,
        days_overdue=(day - due).days,
        link=repo.settings.payment.link_for(invoice.id, invoice.customer),
        discount=ledger.discount_available(invoice, day),
        installment=installment,
        promise=PromiseView(promise.date, promise.amount, invoice.promise_broken(day))
        if promise
        else None,
        disputed=invoice.disputed,
        fees_only=invoice.amount - paid - earned <= 0 < invoice.amount + fees - paid - earned,
        discount_earned=earned,
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


def totals(views: Iterable[InvoiceView], field: str = "balance") -> list[Money]:
    sums: dict[str, Decimal] = {}
    for view in views:
        sums[view.currency] = sums.get(view.currency, Decimal(0)) + getattr(view, field)
    return [Money(amount, currency) for currency, amount in sorted(sums.items())]


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
) -> dict[str, Any]:
    """The template context for one message (`to` first: the person addressed). `log` is the
    send log the message is decided on (history, hold); None where there is none (validate)."""
    settings = repo.settings
    triggering = [invoice_view(repo, inv, day) for inv in invoices]
    open_views = statement(repo, customer, day)
    disputed = in_dispute(repo, customer, day)
    policy = repo.policy_for(invoices[0]) if invoices else repo.policies.get(customer.policy)
    hold = hold_since(repo, log, customer, day, step)
    first = triggering[0] if triggering else None
    payment = settings.payment
    return {
        "company": settings.company,
        "customer": CustomerView(
            customer.id, customer.name, customer.address, hold is not None, customer.contacts
        ),
        "contact": to[0] if to else Contact(customer.name, "billing"),
        "owner": customer.owner,
        "recipients": [*to, *cc],
        "step": StepView(step.id, step.description, step.first_day),
        "invoices": triggering,
        "statement": open_views,
        "totals": totals(open_views),
        "disputed": disputed,
        "days_overdue": max((v.days_overdue for v in triggering), default=0),
        "fees": [m for m in totals(triggering, "fees") if m.amount],
        "payment": PaymentView(
            link=first.link if first else payment.link_for("", customer.id),
            instructions=payment.instructions_for(locale),
            iban=payment.iban,
            bic=payment.bic,
            account=payment.account,
        ),
        "hold": hold,
        "broken_promise": next((v for v in triggering if v.promise and v.promise.broken), None),
        "deadline": calendar.pay_by(
            day, step.deadline_days, policy.calendar if policy else settings.calendar
        ),
        "today": day,
        "locale": locale,
        "direction": direction(locale),
    }
