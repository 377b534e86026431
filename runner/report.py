"""The finance team's weekly figures, computed from the repository and the send log. Pure.

Definitions (also in the README):
- aging: open balances (principal + fees) by days past due of each unpaid obligation.
- DSO: open receivables today / invoiced in the last 90 days x 90, per currency.
- average days late: of invoices paid in full in the last 90 days, days from due to payment.
- CEI: (receivables 90 days ago + invoiced since - receivables now) / (receivables 90 days ago
  + invoiced since - receivables now that are not yet due) x 100, per currency.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from runner import ledger, sendlog, simulate
from runner.feedback import report as came_back
from runner.model import Invoice, Repository
from runner.sendlog import Entry, LogIndex

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
PERIOD_DAYS = 90
PAID_WITHIN_DAYS = 7
AGENCY_SHARE = Decimal("0.30")
ZERO = Decimal(0)


def bucket(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


@dataclass
class Figures:
    today: date
    aging: dict[tuple[str, str], dict[str, Decimal]] = field(default_factory=dict)
    aging_totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    dso: dict[str, Decimal | None] = field(default_factory=dict)
    average_days_late: Decimal | None = None
    paid_in_period: int = 0
    cei: dict[str, Decimal | None] = field(default_factory=dict)
    on_hold: list[str] = field(default_factory=list)
    broken_promises: list[tuple[str, str, date]] = field(default_factory=list)
    open_tasks: list[dict[str, object]] = field(default_factory=list)
    unknown: list[dict[str, object]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    agency: list[dict[str, object]] = field(default_factory=list)
    activity: list[tuple[date, int, int]] = field(default_factory=list)  # week, reminders, paid
    unreachable: list[dict[str, object]] = field(default_factory=list)  # bounced, undelivered
    replies: list[dict[str, object]] = field(default_factory=list)  # waiting for an answer
    disputes: list[dict[str, object]] = field(default_factory=list)  # open, disputed
    promises: list[dict[str, object]] = field(default_factory=list)  # given, date not passed


def open_by_obligation(repo: Repository, invoice: Invoice, day: date) -> list[tuple[date, Decimal]]:
    """(due, amount still owed) per unpaid obligation; fees go with the earliest."""
    if invoice.void or invoice.written_off or invoice.issued > day:
        return []
    owed = [(o.due, o.remaining) for o in ledger.obligations(invoice, day) if o.remaining > 0]
    fees = ledger.late_fees(invoice, repo.policy_for(invoice), repo.settings, day)
    if owed and fees:
        owed[0] = (owed[0][0], owed[0][1] + fees)
    return owed


def principal_open(invoice: Invoice, day: date) -> Decimal:
    if invoice.void or invoice.written_off or invoice.issued > day:
        return ZERO
    return max(invoice.amount - invoice.paid_by(day), ZERO)


def known_on(entries: list[Entry], today: date) -> list[Entry]:
    """The log as it stood on `today`: an entry dated later is not known yet."""
    return [e for e in entries if e.day is None or e.day <= today]


def compute(repo: Repository, log: LogIndex, entries: list[Entry], today: date) -> Figures:
    """The figures as of `today`: payments, promises and log entries dated later are unknown."""
    known = known_on(entries, today)
    if len(known) != len(entries):
        entries, log = known, sendlog.index(known)
    figures = Figures(today)
    start = today - timedelta(days=PERIOD_DAYS)
    invoices = sorted(repo.invoices.values(), key=lambda i: i.id)
    _aging(repo, invoices, today, figures)
    _dso_and_cei(invoices, start, today, figures)
    late = []
    for invoice in invoices:
        settled = simulate.paid_on(invoice)
        if settled is not None and start < settled <= today:
            late.append(max((settled - invoice.due).days, 0))
    figures.paid_in_period = len(late)
    figures.average_days_late = (
        (Decimal(sum(late)) / len(late)).quantize(Decimal("0.1")) if (late) else None
    )
    _people(repo, invoices, entries, log, today, figures)
    _disputes_and_promises(repo, invoices, today, figures)
    _steps(repo, entries, today, figures)
    _agency(repo, invoices, today, figures)
    _activity(invoices, entries, start, today, figures)
    figures.unreachable = came_back.unreachable(repo, log)
    figures.replies = came_back.replies(repo, log, today)
    return figures


def _aging(repo: Repository, invoices: list[Invoice], today: date, figures: Figures) -> None:
    for invoice in invoices:
        for due, amount in open_by_obligation(repo, invoice, today):
            key = (invoice.customer, invoice.currency)
            row = figures.aging.setdefault(key, {b: ZERO for b in BUCKETS})
            row[bucket((today - due).days)] += amount
            total = figures.aging_totals.setdefault(invoice.currency, {b: ZERO for b in BUCKETS})
            total[bucket((today - due).days)] += amount


def _dso_and_cei(invoices: list[Invoice], start: date, today: date, figures: Figures) -> None:
    begin: dict[str, Decimal] = defaultdict(Decimal)
    sales: dict[str, Decimal] = defaultdict(Decimal)
    end: dict[str, Decimal] = defaultdict(Decimal)
    end_current: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in invoices:
        currency = invoice.currency
        begin[currency] += principal_open(invoice, start)
        if start < invoice.issued <= today and not invoice.void:
            sales[currency] += invoice.amount
        end[currency] += principal_open(invoice, today)
        if invoice.due >= today:
            end_current[currency] += principal_open(invoice, today)
    for currency in sorted(set(begin) | set(sales) | set(end)):
        figures.dso[currency] = (
            (end[currency] / sales[currency] * PERIOD_DAYS).quantize(Decimal("0.1"))
            if sales[currency]
            else None
        )
        collectible = begin[currency] + sales[currency] - end_current[currency]
        collected = begin[currency] + sales[currency] - end[currency]
        figures.cei[currency] = (
            (collected / collectible * 100).quantize(Decimal("0.1")) if (collectible) else None
        )


def _people(
    repo: Repository,
    invoices: list[Invoice],
    entries: list[Entry],
    log: LogIndex,
    today: date,
    figures: Figures,
) -> None:
    from runner.context import hold_since

    open_ids = {i.id for i in invoices if principal_open(i, today) > 0}
    figures.on_hold = sorted(
        c.id
        for c in repo.customers.values()
        if hold_since(repo, log, c, today, None, include_today=True) is not None
    )
    figures.broken_promises = [
        (i.id, i.customer, i.promise.date)
        for i in invoices
        if i.id in open_ids and i.promise is not None and i.promise_broken(today)
    ]
    week_ago = (today - timedelta(days=7)).isoformat()
    figures.open_tasks = [
        {
            "date": e.get("date"),
            "customer": e.get("customer"),
            "step": e.get("step"),
            "invoices": e.get("invoices"),
            "to": e.get("to"),
        }
        for e in entries
        if e.status == "sent"
        and e.get("channel") == "task"
        and str(e.get("date", "")) >= week_ago
        and set(e.get("invoices", ())) & open_ids
    ]
    figures.unknown = [
        {
            "date": e.get("date"),
            "keys": list(e.keys),
            "customer": e.get("customer"),
            "reason": e.get("reason", "the run stopped before the outcome"),
        }
        for e in log.unknown
    ]


def _disputes_and_promises(
    repo: Repository, invoices: list[Invoice], today: date, figures: Figures
) -> None:
    """Open invoices in dispute, and promises to pay given by today whose date has not passed
    (a passed one is kept or broken: broken ones are listed apart)."""
    for invoice in invoices:
        balance = sum((a for _, a in open_by_obligation(repo, invoice, today)), ZERO)
        if balance <= 0:
            continue
        if invoice.disputed:
            figures.disputes.append(
                {
                    "invoice": invoice.id,
                    "customer": invoice.customer,
                    "due": invoice.due,
                    "days_overdue": max((today - invoice.due).days, 0),
                    "balance": balance,
                    "currency": invoice.currency,
                    "reason": invoice.dispute_reason,
                }
            )
        promise = invoice.promise
        if promise is not None and (promise.made or invoice.issued) <= today <= promise.date:
            figures.promises.append(
                {
                    "invoice": invoice.id,
                    "customer": invoice.customer,
                    "made": promise.made or invoice.issued,
                    "by": promise.date,
                    "promised": promise.amount if promise.amount is not None else balance,
                    "balance": balance,
                    "currency": invoice.currency,
                }
            )
    figures.promises.sort(key=lambda p: (str(p["by"]), str(p["invoice"])))


Send = tuple[str, str, str, date, tuple[str, ...]]  # policy, step, channel, day, invoices


def step_effectiveness(
    repo: Repository, sends: Iterable[Send], known_until: date
) -> list[dict[str, Any]]:
    """Per policy, step and channel: messages sent, and of the invoices reminded by messages at
    least 7 days old on `known_until`, those paid in full within 7 days after (the same figure
    for the send log and for a backtest). A younger message has not had its 7 days yet."""
    Slot = tuple[str, str, str]
    sent: dict[Slot, int] = defaultdict(int)
    reminded: dict[Slot, set[str]] = defaultdict(set)
    measured: dict[Slot, set[str]] = defaultdict(set)
    paid: dict[Slot, set[str]] = defaultdict(set)
    for policy, step, channel, day, invoices in sends:
        slot = (policy, step, channel)
        sent[slot] += 1
        known = [i for i in invoices if i in repo.invoices]
        reminded[slot].update(known)
        if day + timedelta(days=PAID_WITHIN_DAYS) > known_until:
            continue
        for invoice_id in known:
            measured[slot].add(invoice_id)
            settled = simulate.paid_on(repo.invoices[invoice_id])
            if settled is not None and day <= settled <= day + timedelta(days=PAID_WITHIN_DAYS):
                paid[slot].add(invoice_id)
    order = {(p.id, s.id): i for p in repo.policies.values() for i, s in enumerate(p.steps)}
    rows = []
    for slot in sorted(sent, key=lambda s: (s[0], order.get((s[0], s[1]), 0), s[2])):
        count = len(measured[slot])
        rows.append(
            {
                "policy": slot[0],
                "step": slot[1],
                "channel": slot[2],
                "messages": sent[slot],
                "invoices": len(reminded[slot]),
                "measured": count,  # reminded by a message at least 7 days old
                "paid_within_7_days": len(paid[slot]),
                "share_paid": round(len(paid[slot]) / count, 4) if count else None,
            }
        )
    return rows


def paid_within(row: dict[str, Any]) -> str:
    """'2 of 5 (40%)': of the invoices reminded by messages at least 7 days old, those paid."""
    if not row["measured"]:
        return "too recent to tell"
    return f"{row['paid_within_7_days']} of {row['measured']} ({row['share_paid']:.0%})"


def _steps(repo: Repository, entries: list[Entry], today: date, figures: Figures) -> None:
    sends = [
        (
            str(e.get("policy", "")),
            str(e.get("step")),
            str(e.get("channel")),
            e.day,
            tuple(e.get("invoices", ())),
        )
        for e in entries
        if e.status == "sent" and e.get("step") and e.day is not None
    ]
    figures.steps = step_effectiveness(repo, sends, today)


def _agency(repo: Repository, invoices: list[Invoice], today: date, figures: Figures) -> None:
    for invoice in invoices:
        if invoice.disputed:
            continue  # a claim in dispute is settled with the customer, not sold to an agency
        owed = open_by_obligation(repo, invoice, today)
        overdue = [(due, amount) for due, amount in owed if (today - due).days > 90]
        if not overdue:
            continue
        balance = sum((a for _, a in owed), ZERO)
        net = ledger.rounded(balance * (1 - AGENCY_SHARE), invoice.currency)
        figures.agency.append(
            {
                "invoice": invoice.id,
                "customer": invoice.customer,
                "currency": invoice.currency,
                "days_overdue": max((today - due).days for due, _ in overdue),
                "balance": balance,
                "agency_nets": net,
                "agency_keeps": balance - net,
                "settlement_offer": net,
                "settlement_discount_percent": AGENCY_SHARE * 100,
            }
        )


def _activity(
    invoices: list[Invoice], entries: list[Entry], start: date, today: date, figures: Figures
) -> None:
    weeks = [start + timedelta(days=7 * n) for n in range((today - start).days // 7 + 1)]
    reminders = [0] * len(weeks)
    payments = [0] * len(weeks)
    for entry in entries:
        day = entry.day
        if entry.status == "sent" and day is not None and start <= day <= today:
            reminders[min((day - start).days // 7, len(weeks) - 1)] += 1
    for invoice in invoices:
        for payment in invoice.payments:
            if start <= payment.date <= today:
                payments[min((payment.date - start).days // 7, len(weeks) - 1)] += 1
    figures.activity = list(zip(weeks, reminders, payments, strict=True))
