"""Replaying the schedule over days, as if Nudge had run each morning: for tests and backtests.

Everything is assumed sent the day it was due (no failures), payments are known from their date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from runner import ledger, schedule, sendlog
from runner.model import Invoice, Repository
from runner.sendlog import Entry


@dataclass
class Replay:
    deliveries: list[schedule.Delivery] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def replay(repo: Repository, days: Iterable[date], log: sendlog.LogIndex | None = None) -> Replay:
    result = Replay()
    known = list(log.keys[k].entry for k in log.keys) if log else []
    index = sendlog.index(known)
    for day in days:
        today_repo = _open_on(repo, day)
        plan = schedule.plan(today_repo, index, schedule.noon(day, repo.settings.defaults.timezone))
        new: list[Entry] = []
        for d in plan.deliveries:
            result.deliveries.append(d)
            new.append(
                Entry(
                    {
                        "id": f"replay:{d.id}",
                        "delivery": f"replay:{d.id}",
                        "status": "sent",
                        "keys": list(d.keys),
                        "date": d.date.isoformat(),
                        "at": f"{d.date.isoformat()}T08:00:00",
                    }
                )
            )
        for decision in plan.with_status("superseded", "missed"):
            new.append(
                Entry(
                    {
                        "id": f"replay:{decision.key}:{decision.status}",
                        "status": decision.status,
                        "keys": [decision.key],
                        "date": day.isoformat(),
                        "at": f"{day.isoformat()}T08:00:00",
                    }
                )
            )
        if new:
            result.entries.extend(new)
            index = sendlog.index([*known, *result.entries])
    return result


def _open_on(repo: Repository, day: date) -> Repository:
    """Only the invoices that can matter on `day`: issued, and not settled before it."""
    wanted = {i.id: i for i in repo.invoices.values() if _may_matter(i, day)}
    return replace(repo, invoices=wanted) if len(wanted) != len(repo.invoices) else repo


def _may_matter(invoice: Invoice, day: date) -> bool:
    if invoice.issued > day or invoice.void or invoice.written_off:
        return False
    return invoice.paid_by(day - timedelta(days=1)) < invoice.amount


def paid_on(invoice: Invoice) -> date | None:
    """The day the principal was paid in full, if it was."""
    total = ledger.ZERO
    for payment in sorted(invoice.payments, key=lambda p: p.date):
        total += payment.amount
        if total >= invoice.amount:
            return payment.date
    return None
