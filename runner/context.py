"""What a template sees: plain, immutable views of the customer, invoices and money on a day."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from runner import ledger
from runner.model import Contact, Customer, Invoice, Repository, Step
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


@dataclass(frozen=True)
class StepView:
    id: str
    description: str
    day: int


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
        balance=invoice.amount + fees - paid,
        days_overdue=(day - due).days,
        link=repo.settings.payment.link_for(invoice.id, invoice.customer),
        discount=ledger.discount_available(invoice, day),
        installment=installment,
        promise=PromiseView(promise.date, promise.amount, invoice.promise_broken(day))
        if promise
        else None,
        disputed=invoice.disputed,
    )


def is_open(repo: Repository, invoice: Invoice, day: date) -> bool:
    if invoice.void or invoice.written_off or invoice.issued > day:
        return False
    return ledger.open_balance(invoice, repo.policy_for(invoice), repo.settings, day) > 0


def statement(repo: Repository, customer: Customer, day: date) -> list[InvoiceView]:
    views = [
        invoice_view(repo, inv, day)
        for inv in repo.invoices_of(customer.id)
        if is_open(repo, inv, day)
    ]
    return sorted(views, key=lambda v: (v.due, v.id))


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
) -> dict[str, Any]:
    """The template context for one message (`to` first: the person addressed)."""
    settings = repo.settings
    triggering = [invoice_view(repo, inv, day) for inv in invoices]
    open_views = statement(repo, customer, day)
    first = triggering[0] if triggering else None
    payment = settings.payment
    return {
        "company": settings.company,
        "customer": CustomerView(
            customer.id, customer.name, customer.address, customer.hold, customer.contacts
        ),
        "contact": to[0] if to else Contact(customer.name, "billing"),
        "owner": customer.owner,
        "recipients": [*to, *cc],
        "step": StepView(step.id, step.description, step.first_day),
        "invoices": triggering,
        "statement": open_views,
        "totals": totals(open_views),
        "days_overdue": max((v.days_overdue for v in triggering), default=0),
        "fees": [m for m in totals(triggering, "fees") if m.amount],
        "payment": PaymentView(
            link=first.link if first else payment.link_for("", customer.id),
            instructions=payment.instructions_for(locale),
            iban=payment.iban,
            bic=payment.bic,
            account=payment.account,
        ),
        "hold": customer.hold or step.hold,
        "broken_promise": next((v for v in triggering if v.promise and v.promise.broken), None),
        "deadline": day + timedelta(days=step.deadline_days) if step.deadline_days else None,
        "today": day,
        "locale": locale,
        "direction": direction(locale),
    }
