"""Replaying the schedule over days, as if Nudge had run each morning: `backtest`, `nudge test`
and `plan --days` all go through `replay`, and each day through `schedule.plan`, the function
`run` uses: what a replay shows is what daily runs would send.

Everything is assumed sent the day it was due (no failures); payments, promises and notes are
known from their date on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from runner import ledger, schedule, sendlog
from runner.model import Invoice, Repository
from runner.sendlog import Entry

ONE_DAY = timedelta(days=1)


@dataclass
class Replay:
    plans: list[schedule.Plan] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    twins: list[schedule.Plan] = field(default_factory=list)  # `twin`'s plans

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
    pool: Repository | None = None,
    twin: Repository | None = None,
) -> Replay:
    """Plan at each moment in turn, each assuming what the ones before planned was sent.
    `only`: these customers (or invoices) only, None: everyone, []: no one. `pool`:
    `open_on(repo, first day)` when the caller has it already. `twin`: a tree that decides as
    `repo` does (schedule.plan_alike), whose plans are in `twins`."""
    result = Replay()
    base = log if log is not None else sendlog.index([])
    moments = list(moments)
    if len(moments) > 1:  # one day (`run`, `plan`) asks for each invoice's keys once or so
        base.remember_keys()
    index = base
    last: date | None = None
    whole = of_customers(repo, only) if only is not None else repo
    first = of_customers(pool, only) if pool is not None and only is not None else pool
    steady: dict[str, date] | None = None  # steady_of(whole), from the second day on
    for moment in moments:
        day = schedule.local_today(moment, repo.settings.defaults.timezone)
        if last is None:
            pool = first if first is not None else open_on(whole, day)
        elif day >= last and pool is not None:
            steady = steady if steady is not None else steady_of(whole)
            pool = narrowed(whole, pool, day, last, steady)
        else:
            pool = open_on(whole, day)
        last = day
        today = deciding(repo, pool, index, day)
        if twin is None:
            plan = schedule.plan(today, index, moment, only=only)
        else:
            plan, other = schedule.plan_alike(today, alike(twin, today), index, moment, only)
            result.twins.append(other)
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


def forecast(
    repo: Repository,
    log: sendlog.LogIndex,
    start: datetime,
    days: int,
    only: list[str] | None = None,
    pool: Repository | None = None,
) -> list[schedule.Plan]:
    """Plans for `days` days from `start`, each assuming the ones before it were sent (and no
    new payments): what `plan --days` shows, and `plan --against` compares (`pool`:
    open_on(repo, the first day), when the caller has it)."""
    moments = [start + timedelta(days=n) for n in range(days)]
    return replay(repo, moments, log, only, pool).plans


def forecast_alike(
    repo: Repository,
    twin: Repository,
    log: sendlog.LogIndex,
    start: datetime,
    days: int,
    only: list[str] | None = None,
    pool: Repository | None = None,
) -> tuple[list[schedule.Plan], list[schedule.Plan]]:
    """`forecast` of `repo`, and of `twin`, a tree that decides alike (the same invoices and
    customers; policies that differ only in what goes into a message): the forecast's
    decisions are made once, and each day's are grouped into each tree's deliveries."""
    moments = [start + timedelta(days=n) for n in range(days)]
    done = replay(repo, moments, log, only, pool, twin)
    return done.plans, done.twins


def alike(twin: Repository, today: Repository) -> Repository:
    """`twin` with the invoices `today` decides on (a tree that decides alike has the same)."""
    return replace(twin, invoices=today.invoices)


def of_customers(repo: Repository, only: Iterable[str]) -> Repository:
    """Only the invoices of these customers (ids of customers or of their invoices): a plan of
    some customers decides nothing else, and each of theirs is planned with all of its
    customer's invoices (a statement lists them), so narrowing the pool first changes nothing
    but the time every day of a replay takes."""
    wanted = set(only)
    customers = wanted | {repo.invoices[i].customer for i in wanted if i in repo.invoices}
    kept = {i.id: i for i in repo.invoices.values() if i.customer in customers}
    return replace(repo, invoices=kept)


def open_on(repo: Repository, day: date) -> Repository:
    """Only the invoices that may get a reminder, or be in a statement, on `day` or after: the
    others (void, written off, settled by the ledger's own rule) get no reminders and are in no
    statement, so leaving them out changes nothing but the time a plan takes. A replay narrows
    the pool of the day before (`narrowed`); one not issued yet stays."""
    wanted = {i.id: i for i in repo.invoices.values() if may_matter(repo, i, day)}
    return replace(repo, invoices=wanted) if len(wanted) != len(repo.invoices) else repo


def narrowed(
    whole: Repository, pool: Repository, day: date, since: date, steady: dict[str, date]
) -> Repository:
    """`open_on(whole, day)` made from `pool`, `open_on(whole, since)` of an earlier day. Of the
    invoices `steady` (`steady_of(whole)`), a settled one stays settled, so only the pool's are
    looked at; and one still open on `since` stays open if no payment of it is dated from then
    on: it is kept without its balance worked out again. The others are worked out every day."""
    if day < since:
        return open_on(whole, day)
    candidates = pool.invoices
    back = {k for k in whole.invoices if k not in steady and k not in candidates}
    if back:
        candidates = {k: v for k, v in whole.invoices.items() if k in candidates or k in back}
    latest = since + ONE_DAY
    wanted = {
        k: i
        for k, i in candidates.items()
        if (k in steady and steady[k] < since and i.issued <= latest) or may_matter(whole, i, day)
    }
    return replace(pool, invoices=wanted) if wanted.keys() != pool.invoices.keys() else pool


def steady_of(repo: Repository) -> dict[str, date]:
    """The invoices whose balance only payments lower, and only the days passing raise (no
    payment reversed, no fee that can be negative: `ledger.fees_never_negative`, and fees none
    of which is negative only add up as days pass), each with the day of its last payment
    (`date.min`: none): such an invoice once settled stays settled, and once open stays open
    until a payment comes. Void and written-off ones are left out."""
    found = {}
    for invoice in repo.invoices.values():
        if invoice.void or invoice.written_off or any(p.amount < 0 for p in invoice.payments):
            continue
        if not ledger.fees_never_negative(invoice, repo.policy_for(invoice), repo.settings):
            continue
        found[invoice.id] = max((p.date for p in invoice.payments), default=date.min)
    return found


def deciding(repo: Repository, pool: Repository, log: sendlog.LogIndex, day: date) -> Repository:
    """What the schedule decides on `day`: the pool's invoices issued by then, and every invoice
    named by what came back that may still open a task (a reply about a settled invoice still
    opens one for its owner; it is filed under the first of them)."""
    from runner.feedback.tasks import owes_task

    wanted = {i.id: i for i in pool.invoices.values() if i.issued <= day + ONE_DAY}
    for entry in log.feedback:
        if owes_task(entry, log):
            for name in entry.get("invoices", ()):
                invoice = repo.invoices.get(name)
                if invoice is not None and name not in wanted:
                    wanted[name] = invoice
    return replace(repo, invoices=wanted) if len(wanted) != len(repo.invoices) else repo


def may_matter(repo: Repository, invoice: Invoice, day: date) -> bool:
    """Whether the invoice can get a reminder, or be in a statement, on `day` or any day after.
    `day` is the company's date; a customer's own can be a day either side (time zones), so
    only what is certain on both sides is left out (a settled invoice stays settled)."""
    if invoice.void or invoice.written_off:
        return False
    if invoice.issued > day + ONE_DAY:
        return True  # not issued yet: it will be
    return not ledger.settled(invoice, repo.policy_for(invoice), repo.settings, day - ONE_DAY)


def paid_on(invoice: Invoice) -> date | None:
    """The day the principal was paid in full, if it was."""
    total = ledger.ZERO
    for payment in sorted(invoice.payments, key=lambda p: p.date):
        total += payment.amount
        if total >= invoice.amount:
            return payment.date
    return None
