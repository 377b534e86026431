"""Replaying the schedule over days, as if Nudge had run each morning: for tests and backtests.

Everything is assumed sent the day it was due (no failures), payments are known from their date.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from runner import ledger, schedule, sendlog
from runner.model import Invoice, Repository
from runner.sendlog import Entry


@dataclass
class Replay:
    plans: list[schedule.Plan] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)

    @property
    def deliveries(self) -> list[schedule.Delivery]:
        return [d for plan in self.plans for d in plan.deliveries]


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def mornings(repo: Repository, days: Iterable[date]) -> list[datetime]:
    return [schedule.noon(day, repo.settings.defaults.timezone) for day in days]


def replay(
    repo: Repository,
    moments: Iterable[datetime],
    log: sendlog.LogIndex | None = None,
    only: list[str] | None = None,
) -> Replay:
    """Plan at each moment in turn, each assuming what the ones before planned was sent."""
    result = Replay()
    base = log if log is not None else sendlog.index([])
    index = base
    for moment in moments:
        day = schedule.local_today(moment, repo.settings.defaults.timezone)
        plan = schedule.plan(_open_on(repo, day), index, moment, only=only)
        result.plans.append(plan)
        stamp = moment.isoformat()
        new = [
            Entry(
                {
                    "id": f"replay:{d.id}",
                    "delivery": f"replay:{d.id}",
                    "status": "sent",
                    "keys": list(d.keys),
                    "date": d.date.isoformat(),
                    "at": stamp,
                }
            )
            for d in plan.deliveries
        ]
        new += [
            Entry(
                {
                    "id": f"replay:{x.key}:{x.status}",
                    "status": x.status,
                    "keys": [x.key],
                    "date": day.isoformat(),
                    "at": stamp,
                }
            )
            for x in plan.with_status("superseded", "missed")
        ]
        if new:
            result.entries.extend(new)
            index = base.extended(result.entries)
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
