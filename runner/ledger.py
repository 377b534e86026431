"""Money owed on an invoice on a given day: payments, installments, late fees, discounts.

Pure functions of (invoice, policy, settings, day). Payments count from their date on, so the
same function answers "what was owed on 1 March" for a backtest and "what is owed today" for a run.

The rules, in one place (every command uses them: plan, run, backtest, test, report):
- What the customer has paid is credited to the invoice; a payment made within an early-payment
  discount period (`discount.until`) also earns the discount on what it pays: 980.00 paid within
  a 2 % discount settles 1,000.00, and 490.00 settles 500.00 (the discount pro rata, as for a
  partial payment within the period). The discount earned never exceeds the full discount.
- The open balance is amount + late fees - credited; the invoice is settled when it is <= 0.
- A balance made only of fees (the amount itself credited in full) is still open; a policy with
  `chase_fees: false` stops reminding it (`fees_only` tells templates).
- Late fees accrue on the unpaid amount; a step's fixed fee is added once the step is reached
  while the amount is still unpaid (a settled invoice never gains a fee).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from runner import latepay
from runner.model import Installment, Invoice, Policy, Settings

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@cache
def minor_unit(currency: str) -> Decimal:
    from babel.numbers import get_currency_precision

    return Decimal(1).scaleb(-get_currency_precision(currency))


def rounded(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ObligationState:
    """One installment (or the single due date) with what has been paid toward it."""

    number: int  # 1-based
    count: int
    due: date
    amount: Decimal
    paid: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.paid


def discount_earned(invoice: Invoice, day: date) -> Decimal:
    """The early-payment discount the payments known on `day` have earned."""
    offer = invoice.discount
    if offer is None or offer.percent <= 0 or offer.percent >= HUNDRED:
        return ZERO
    early = invoice.paid_by(min(day, offer.until))
    if early <= 0:
        return ZERO
    pro_rata = rounded(early * offer.percent / (HUNDRED - offer.percent), invoice.currency)
    full = rounded(invoice.amount * offer.percent / HUNDRED, invoice.currency)
    return max(ZERO, min(pro_rata, full, invoice.amount - early))


def credited(invoice: Invoice, day: date) -> Decimal:
    """What counts against the amount on `day`: payments known by then and the discount earned."""
    return invoice.paid_by(day) + discount_earned(invoice, day)


def obligations(invoice: Invoice, day: date) -> tuple[ObligationState, ...]:
    """Payments known on `day` (with any discount earned), allocated oldest obligation first."""
    paid = credited(invoice, day)
    plan: tuple[Installment, ...] = tuple(sorted(invoice.obligations, key=lambda i: i.due))
    states = []
    for number, item in enumerate(plan, start=1):
        share = min(paid, item.amount)
        paid -= share
        states.append(ObligationState(number, len(plan), item.due, item.amount, share))
    return tuple(states)


def current_obligation(invoice: Invoice, day: date) -> ObligationState | None:
    """The earliest obligation still unpaid on `day` (the policy runs against it)."""
    return next((o for o in obligations(invoice, day) if o.remaining > 0), None)


def principal_balance(invoice: Invoice, day: date) -> Decimal:
    """The amount not yet credited on `day` (late fees aside)."""
    return invoice.amount - credited(invoice, day)


def late_fees(invoice: Invoice, policy: Policy | None, settings: Settings, day: date) -> Decimal:
    """Late fees accrued on `day`, rounded to the currency's minor unit."""
    if policy is None:
        return ZERO
    fees = ZERO
    days_late = (day - invoice.due).days
    rule = policy.late_fee
    if rule is not None and rule.percent is not None and days_late >= rule.from_day:
        periods = (days_late - rule.from_day) // rule.every_days + 1
        # With no payment reversed what is credited only grows: once nothing of the amount is
        # open at the start of a period, nothing is at any later one either.
        growing = all(p.amount >= 0 for p in invoice.payments)
        for period in range(periods):
            start = invoice.due + timedelta(days=rule.from_day + period * rule.every_days)
            base = max(principal_balance(invoice, start), ZERO)
            if base == 0 and growing:
                break
            fees += rounded(base * rule.percent / HUNDRED, invoice.currency)
    elif rule is not None and rule.statutory and days_late > 0:
        fees += statutory_interest(invoice, settings, day)
        fees += statutory_compensation(invoice, settings)
    fees += sum(
        (
            s.fee
            for s in policy.steps
            if s.fee is not None
            and s.first_day <= days_late
            and principal_balance(invoice, invoice.due + timedelta(days=s.first_day)) > 0
        ),
        ZERO,
    )
    return rounded(fees, invoice.currency)


def statutory_compensation(invoice: Invoice, settings: Settings) -> Decimal:
    """The fixed compensation the invoice's law sets, once the invoice is paid late."""
    if invoice.law is None or principal_balance(invoice, invoice.due + timedelta(days=1)) <= 0:
        return ZERO
    amount = latepay.compensation(invoice.law, invoice.amount, invoice.currency, settings)
    return rounded(amount, invoice.currency) if amount is not None else ZERO


def statutory_interest(invoice: Invoice, settings: Settings, day: date) -> Decimal:
    """Simple interest at the law's rate (reference rate + its points) a year on the unpaid
    amount, day by day as it is paid down; none where no law applies."""
    rate = latepay.yearly_rate(invoice.law, settings) if invoice.law else None
    if rate is None:
        return ZERO
    yearly = rate / HUNDRED
    events = sorted({p.date for p in invoice.payments if invoice.due < p.date <= day})
    interest = ZERO
    start = invoice.due
    for end in [*events, day]:
        base = max(principal_balance(invoice, start), ZERO)
        interest += base * yearly * Decimal((end - start).days) / Decimal(365)
        start = end
    return rounded(interest, invoice.currency)


def open_balance(invoice: Invoice, policy: Policy | None, settings: Settings, day: date) -> Decimal:
    """Amount + fees − credited, as known on `day`. Settled when this is <= 0."""
    return principal_balance(invoice, day) + late_fees(invoice, policy, settings, day)


def settled(invoice: Invoice, policy: Policy | None, settings: Settings, day: date) -> bool:
    """Whether `open_balance` is <= 0; its late fees worked out only when they can decide it."""
    principal = principal_balance(invoice, day)
    if principal > 0 and fees_never_negative(invoice, policy, settings):
        return False  # fees only add to what is still open
    return principal + late_fees(invoice, policy, settings, day) <= 0


def fees_never_negative(invoice: Invoice, policy: Policy | None, settings: Settings) -> bool:
    """Whether every late fee `late_fees` can add for this invoice is >= 0, on any day: no
    negative percentage or step fee, no statutory rate or compensation below zero."""
    if policy is None:
        return True
    if any(step.fee is not None and step.fee < 0 for step in policy.steps):
        return False
    rule = policy.late_fee
    if rule is None:
        return True
    if rule.percent is not None and rule.percent < 0:
        return False
    if not rule.statutory or invoice.law is None:
        return True
    rate = latepay.yearly_rate(invoice.law, settings)
    fixed = latepay.compensation(invoice.law, invoice.amount, invoice.currency, settings)
    return (rate is None or rate >= 0) and (fixed is None or fixed >= 0)


def fees_only(invoice: Invoice, policy: Policy | None, settings: Settings, day: date) -> bool:
    """The amount is credited in full; what is still open is late fees and interest."""
    return principal_balance(invoice, day) <= 0 < open_balance(invoice, policy, settings, day)


@dataclass(frozen=True)
class DiscountOffer:
    percent: Decimal
    until: date
    amount: Decimal  # what the customer saves by paying in full by `until`


def discount_available(invoice: Invoice, day: date) -> DiscountOffer | None:
    """The discount still to be had by paying the rest by `until` (none once it has passed)."""
    offer = invoice.discount
    if offer is None or day > offer.until:
        return None
    rest = principal_balance(invoice, day)
    if rest <= 0:
        return None
    saving = rounded(rest * offer.percent / HUNDRED, invoice.currency)
    return DiscountOffer(offer.percent, offer.until, saving)
