"""The sample policies over whole lifetimes, and the invariants no run calendar may break."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner import calendar, repository, schedule, sendlog
from runner.model import Invoice, Payment, Repository
from runner.simulate import mornings, replay

from conftest import FIXTURE

SAMPLE = repository.load(FIXTURE).repo


def only(invoices: list[Invoice]) -> Repository:
    return replace(SAMPLE, invoices={i.id: i for i in invoices})


def unpaid(
    id: str = "INV-9",
    due: date = date(2026, 1, 5),
    policy: str = "five-stage",
    customer: str = "acme",
    **kw: object,
) -> Invoice:
    return Invoice(
        id=id,
        customer=customer,
        issued=due - timedelta(days=30),
        due=due,
        amount=Decimal("5000.00"),
        currency="EUR",
        policy=policy,
        **kw,
    )  # type: ignore[arg-type]


def simulate(repo: Repository, days: list[date]) -> list[schedule.Delivery]:
    """Run on each of `days` (a day may repeat: several runs a day), logging what was sent."""
    return replay(repo, mornings(repo, days)).deliveries


def every_day(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def test_five_stage_never_paid_from_day_minus_5_to_140() -> None:
    due = date(2026, 1, 5)  # a Monday; Easter 2026 (2-6 April) and Ascension fall inside
    sent = simulate(
        only([unpaid(due=due)]), every_day(due - timedelta(days=5), due + timedelta(days=140))
    )
    got = [(d.date.isoformat(), d.step, d.channel) for d in sent]
    assert got == [
        # 1. past due: a polite status e-mail on day 15
        ("2026-01-20", "status-check", "email"),
        # 2. late: a weekly statement (days 16, 23, 30) and a call on day 28
        ("2026-01-21", "weekly-statement", "email"),
        ("2026-01-28", "weekly-statement", "email"),
        ("2026-02-02", "call-day-28", "task"),
        ("2026-02-04", "weekly-statement", "email"),
        # 3. delinquent: PAST DUE statements Mondays and Thursdays, a weekly call (days 31-90)
        ("2026-02-05", "delinquent", "email"),
        ("2026-02-05", "delinquent-call", "task"),
        ("2026-02-09", "delinquent", "email"),
        ("2026-02-12", "delinquent", "email"),
        ("2026-02-12", "delinquent-call", "task"),
        ("2026-02-16", "delinquent", "email"),
        ("2026-02-19", "delinquent", "email"),
        ("2026-02-19", "delinquent-call", "task"),
        ("2026-02-23", "delinquent", "email"),
        ("2026-02-26", "delinquent", "email"),
        ("2026-02-26", "delinquent-call", "task"),
        ("2026-03-02", "delinquent", "email"),
        ("2026-03-05", "delinquent", "email"),
        ("2026-03-05", "delinquent-call", "task"),
        ("2026-03-09", "delinquent", "email"),
        ("2026-03-12", "delinquent", "email"),
        ("2026-03-12", "delinquent-call", "task"),
        ("2026-03-16", "delinquent", "email"),
        ("2026-03-19", "delinquent", "email"),
        ("2026-03-19", "delinquent-call", "task"),
        ("2026-03-23", "delinquent", "email"),
        ("2026-03-26", "delinquent", "email"),
        ("2026-03-26", "delinquent-call", "task"),
        ("2026-03-30", "delinquent", "email"),
        # Thursday 2 April (day 87) to Easter Monday 6 April are Danish holidays: day 87's call
        # moves to Tuesday 7 April, where the hold e-mail (day 91) supersedes day 87's statement
        ("2026-04-07", "delinquent-call", "task"),
        # 4. hold: weekly e-mail (days 91-120), a call to the service manager on day 100
        ("2026-04-07", "hold", "email"),
        ("2026-04-13", "hold", "email"),
        ("2026-04-15", "call-service-manager", "task"),
        ("2026-04-20", "hold", "email"),
        ("2026-04-27", "hold", "email"),
        ("2026-05-04", "hold", "email"),
        # 5. litigation: final warning on day 121 with a 10-day deadline (Saturday 16 May, so
        # Monday 18 May); counsel takes over on the first business day after it
        ("2026-05-06", "final", "email"),
        ("2026-05-06", "final", "letter"),
        ("2026-05-19", "counsel", "task"),
    ]
    hold = next(d for d in sent if d.step == "hold")
    assert hold.cc == ("finance@acme-industrial.example", "ops@acme-industrial.example") or hold.cc


def test_running_every_hour_sends_the_same_as_once_a_day() -> None:
    due = date(2026, 1, 5)
    days = every_day(due, due + timedelta(days=40))
    once = simulate(only([unpaid(due=due)]), days)
    hourly = simulate(only([unpaid(due=due)]), [d for d in days for _ in range(3)])
    assert [d.keys for d in hourly] == [d.keys for d in once]


# -- invariants over random invoices, payments and run calendars ----------------------------------

DAY0 = date(2026, 1, 5)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Invoice], list[date]]:
    count = draw(st.integers(1, 4))
    invoices = []
    for n in range(count):
        due = DAY0 + timedelta(days=draw(st.integers(-20, 30)))
        policy = draw(st.sampled_from(["five-stage", "gentle"]))
        customer = "acme" if policy == "five-stage" else "thames-analytics"
        payments: tuple[Payment, ...] = ()
        if draw(st.booleans()):
            when = due + timedelta(days=draw(st.integers(-5, 60)))
            amount = draw(st.sampled_from(["5000.00", "1000.00", "4999.99"]))
            payments = (Payment(when, Decimal(amount)),)
        invoices.append(
            unpaid(id=f"INV-{n}", due=due, policy=policy, customer=customer, payments=payments)
        )
    horizon = every_day(DAY0, DAY0 + timedelta(days=100))
    keep = draw(st.lists(st.booleans(), min_size=len(horizon), max_size=len(horizon)))
    repeat = draw(st.lists(st.integers(1, 2), min_size=len(horizon), max_size=len(horizon)))
    days = [d for d, k, r in zip(horizon, keep, repeat, strict=True) if k for _ in range(r)]
    return invoices, days


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_invariants_hold_for_any_run_calendar(case: tuple[list[Invoice], list[date]]) -> None:
    invoices, days = case
    repo = only(invoices)
    sent = simulate(repo, days)
    keys = [k for d in sent for k in d.keys]
    assert len(keys) == len(set(keys)), "a reminder was delivered twice"
    for d in sent:
        policy = repo.policies[d.policy]
        assert calendar.is_business_day(d.date, policy.calendar), f"{d.id} on a non-business day"
        for invoice_id in d.invoices:
            invoice = repo.invoices[invoice_id]
            assert invoice.paid_by(d.date) < invoice.amount, f"{d.id} after {invoice_id} was paid"
    per_run: dict[tuple[date, str, str, str], int] = {}
    for d in sent:
        slot = (d.date, d.customer, d.step, d.channel)
        per_run[slot] = per_run.get(slot, 0) + 1
    assert max(per_run.values(), default=1) == 1, "one customer got two messages for one step"
    per_invoice_channel: dict[tuple[date, str, str], int] = {}
    for d in sent:
        for key in d.keys:
            k = sendlog.Key.parse(key)
            slot2 = (d.date, k.invoice, k.channel)
            per_invoice_channel[slot2] = per_invoice_channel.get(slot2, 0) + 1
    assert max(per_invoice_channel.values(), default=1) == 1, "catch-up sent a burst"


@settings(max_examples=25, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_the_plan_is_the_same_whatever_order_files_are_read_in(
    case: tuple[list[Invoice], list[date]], rng: random.Random
) -> None:
    invoices, days = case
    shuffled = list(invoices)
    rng.shuffle(shuffled)
    moment = schedule.noon(days[-1] if days else DAY0, "Europe/Copenhagen")
    log = sendlog.index([])
    assert (
        schedule.plan(only(invoices), log, moment).deliveries
        == schedule.plan(only(shuffled), log, moment).deliveries
    )
