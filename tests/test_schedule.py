"""The schedule, rule by rule: a row per (policy, invoice state, today, log) -> what is due, why.

Each complaint users make of other reminder tools has a row here that shows Nudge gets it right.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from runner import schedule
from runner.model import Calendar, Installment, Promise
from runner.schedule import noon
from runner.sendlog import Entry, LogIndex, index

from builders import CUSTOMER, customer, invoice, paid, policy, repo, step

DUE = date(2026, 3, 2)  # a Monday
EMPTY = index([])


def day(n: int) -> date:
    return DUE + timedelta(days=n)


def run(r, today: date, log: LogIndex = EMPTY) -> schedule.Plan:  # type: ignore[no-untyped-def]
    return schedule.plan(r, log, noon(today, "Europe/Copenhagen"))


def sent(*keys: str, on: date = DUE, status: str = "sent") -> list[Entry]:
    return [
        Entry(
            {
                "id": f"e-{k}-{status}",
                "delivery": f"d-{k}",
                "status": status,
                "keys": [k],
                "date": on.isoformat(),
                "at": f"{on.isoformat()}T08:00:00Z",
            }
        )
        for k in keys
    ]


def due_steps(plan: schedule.Plan) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(d.step, d.channel, d.invoices) for d in plan.deliveries]


TWO_STEPS = policy(step("one", at=3), step("two", at=10))


@pytest.mark.parametrize(
    ("name", "inv", "today", "expected", "stop"),
    [
        ("fires on its day", invoice(), day(3), [("one", "email", ("INV-1",))], None),
        ("not before its day", invoice(), day(2), [], None),
        (
            "paid in full: nothing",
            invoice(payments=(paid(day(1), "1000.00"),)),
            day(3),
            [],
            "paid in full on 2026-03-03",
        ),
        (
            "a payment dated after today is not known yet",
            invoice(payments=(paid(day(5), "1000.00"),)),
            day(3),
            [("one", "email", ("INV-1",))],
            None,
        ),
        ("void", invoice(void=True), day(3), [], "void: no reminders"),
        ("written off", invoice(written_off=True), day(3), [], "written off: no reminders"),
        (
            "disputed",
            invoice(disputed=True),
            day(3),
            [],
            "disputed: reminders stop until the dispute is settled (remove 'disputed')",
        ),
        (
            "invoice paused",
            invoice(paused_until=day(5)),
            day(3),
            [],
            "invoice paused until 2026-03-07",
        ),
        (
            "pause over: resumes with the catch-up",
            invoice(paused_until=day(4)),
            day(5),
            [("one", "email", ("INV-1",))],
            None,
        ),
        (
            "promise not yet due",
            invoice(promise=Promise(day(6))),
            day(3),
            [],
            "customer promised to pay by 2026-03-08: waiting until then",
        ),
        (
            "partial payment lowers the balance but keeps the stage",
            invoice(payments=(paid(day(1), "400.00"),)),
            day(3),
            [("one", "email", ("INV-1",))],
            None,
        ),
    ],
)
def test_rules(name: str, inv, today: date, expected, stop) -> None:  # type: ignore[no-untyped-def]
    plan = run(repo([TWO_STEPS], [inv]), today)
    assert due_steps(plan) == expected, name
    assert plan.stopped.get("INV-1") == stop, name


def test_customer_pause_stops_every_invoice_of_theirs() -> None:
    r = repo([TWO_STEPS], [invoice()], [customer(paused_until=day(3))])
    plan = run(r, day(3))
    assert plan.deliveries == []
    assert plan.stopped["INV-1"] == "customer asked us to pause until 2026-03-05"


def test_balance_below_minimum_stops() -> None:
    r = repo(
        [replace(TWO_STEPS, min_balance=Decimal("50"))],
        [invoice(payments=(paid(day(1), "960.00"),))],
    )
    plan = run(r, day(3))
    assert plan.deliveries == []
    assert plan.stopped["INV-1"] == "balance 40.00 EUR is below the policy minimum 50"


def test_broken_promise_resumes_and_says_so() -> None:
    r = repo([TWO_STEPS], [invoice(promise=Promise(day(2), Decimal("1000.00")))])
    plan = run(r, day(3))
    assert due_steps(plan) == [("one", "email", ("INV-1",))]
    assert "the promise to pay by 2026-03-04 was broken" in plan.deliveries[0].reason


def test_a_kept_promise_that_paid_in_full_stops() -> None:
    r = repo([TWO_STEPS], [invoice(promise=Promise(day(2)), payments=(paid(day(2), "1000.00"),))])
    assert run(r, day(3)).deliveries == []


# -- exactly once, and catch-up -----------------------------------------------------------------


def test_running_twice_the_same_day_sends_once() -> None:
    """Complaint: "the same reminder sent 22 times because the job ran more often than daily"."""
    r = repo([TWO_STEPS], [invoice()])
    first = run(r, day(3))
    assert len(first.deliveries) == 1
    log = index(sent(*first.deliveries[0].keys, on=day(3)))
    for _ in range(22):
        assert run(r, day(3), log).deliveries == []


def test_a_missed_day_is_caught_up_not_lost() -> None:
    """Complaint: "reminders fire only on the exact day and are lost if the scheduler missed it"."""
    r = repo([TWO_STEPS], [invoice()])
    plan = run(r, day(5))  # the runs of day 3 and 4 did not happen
    assert due_steps(plan) == [("one", "email", ("INV-1",))]
    assert "was due 2026-03-05, sent now after missed runs" in plan.deliveries[0].reason


def test_after_long_outage_only_the_most_advanced_is_sent() -> None:
    # a policy that sends a late invoice the stage it reached (test_first_day: the default)
    steps = (step("one", at=3), step("two", at=5), step("three", at=6))
    r = repo([policy(*steps, first_contact="three")], [invoice()])
    plan = run(r, day(7))
    assert due_steps(plan) == [("three", "email", ("INV-1",))]
    statuses = {d.step: d.status for d in plan.decisions}
    assert statuses == {"one": "missed", "two": "superseded", "three": "due"}


def test_too_old_to_send_is_missed() -> None:
    """Once the customer has heard from us (here a heads-up), a stage too old to send after
    missed runs is missed, not sent late (a first contact is re-timed instead: test_first_day)."""
    heads_up = policy(step("zero", at=-3), step("one", at=3), step("two", at=10))
    r = repo([heads_up], [invoice()])
    log = index(sent("INV-1/zero/2026-02-27/email", on=day(-3)))
    plan = run(r, day(9), log)  # 'one' was due 6 business days ago (window 3)
    assert plan.deliveries == []
    assert [d.status for d in plan.decisions if not d.logged] == ["missed"]


def test_pending_without_outcome_blocks_resend() -> None:
    r = repo([TWO_STEPS], [invoice()])
    key = "INV-1/one/2026-03-05/email"
    log = index(sent(key, on=day(3), status="pending"))
    plan = run(r, day(3), log)
    assert plan.deliveries == []
    assert plan.decisions[0].status == "unknown"
    assert "a person must check" in plan.decisions[0].reason
    assert [e.keys for e in log.unknown] == [(key,)]


def test_resolved_as_not_sent_allows_a_resend() -> None:
    r = repo([TWO_STEPS], [invoice()])
    key = "INV-1/one/2026-03-05/email"
    resolved = Entry(
        {
            "id": "r",
            "delivery": f"d-{key}",
            "status": "resolved",
            "sent": False,
            "keys": [key],
            "at": "2026-03-05T09:00:00Z",
        }
    )
    log = index([*sent(key, on=day(3), status="pending"), resolved])
    assert due_steps(run(r, day(3), log)) == [("one", "email", ("INV-1",))]


def test_a_contact_by_hand_counts_as_sent() -> None:
    r = repo([TWO_STEPS], [invoice()])
    note = Entry(
        {
            "id": "n",
            "status": "note",
            "invoices": ["INV-1"],
            "date": day(3).isoformat(),
            "text": "called; promised Friday",
            "at": "2026-03-05T09:00:00Z",
        }
    )
    plan = run(r, day(3), index([note]))
    assert plan.deliveries == []
    assert plan.decisions[0].status == "handled"


def test_never_goes_back_a_stage() -> None:
    r = repo([TWO_STEPS], [invoice()])
    log = index(sent("INV-1/two/2026-03-12/email", on=day(10)))
    # 'one' of day 3 was never sent; with 'two' already out, it is not sent after it
    plan = run(r, day(10), log)
    assert plan.deliveries == []


# -- dates: time zones, business days ------------------------------------------------------------


def test_today_is_the_customers_date_not_the_servers() -> None:
    """Complaint: "due dates off by one because the server runs in UTC"."""
    r = repo(
        [policy(step("on-due", at=0))], [invoice()], [customer(timezone="America/Los_Angeles")]
    )
    # 07:00 UTC on the due date is still the day before in Los Angeles
    early = datetime.combine(DUE, datetime.min.time(), tzinfo=UTC) + timedelta(hours=7)
    assert schedule.plan(r, EMPTY, early).deliveries == []
    later = early + timedelta(hours=9)  # 16:00 UTC = 08:00 in Los Angeles
    assert [d.date for d in schedule.plan(r, EMPTY, later).deliveries] == [DUE]


def test_weekends_and_holidays_move_to_the_next_business_day() -> None:
    """Complaint: "weekends and holidays ignored"."""
    danish = Calendar(country="DK", weekends=(5, 6))
    due = date(2026, 12, 21)  # Monday; day 3 = Thu 24 Dec (a business day), day 4 = 25 Dec
    r = repo([policy(step("x", at=4), calendar=danish)], [invoice(due=due)])
    assert run(r, date(2026, 12, 25)).deliveries == []
    assert run(r, date(2026, 12, 26)).deliveries == []
    plan = run(r, date(2026, 12, 28))  # 25-27 Dec: holidays and a weekend
    assert [d.date for d in plan.deliveries] == [date(2026, 12, 28)]
    assert "moved from 2026-12-25 (not a business day)" in plan.deliveries[0].reason


def test_nothing_is_sent_on_a_non_business_day_even_to_catch_up() -> None:
    weekend = Calendar(country=None, weekends=(5, 6))
    r = repo([policy(step("x", at=3), calendar=weekend)], [invoice()])  # due Mon, day 3 Thu
    plan = run(r, date(2026, 3, 7))  # Saturday
    assert plan.deliveries == []
    assert plan.decisions[0].status == "waiting"
    assert [d.date for d in run(r, date(2026, 3, 9)).deliveries] == [date(2026, 3, 9)]


# -- grouping, plans, policy changes ---------------------------------------------------------


def test_one_statement_per_customer_not_one_email_per_invoice() -> None:
    """Complaint: "one e-mail per invoice instead of one statement per customer"."""
    r = repo([TWO_STEPS], [invoice("INV-1"), invoice("INV-2"), invoice("INV-3", due=day(20))])
    plan = run(r, day(3))
    assert due_steps(plan) == [("one", "email", ("INV-1", "INV-2"))]
    delivery = plan.deliveries[0]
    assert delivery.to == ("billing@c1.example",)
    assert delivery.total_due == Decimal("3000.00")  # the statement covers INV-3 as well


def test_recipients_from_roles_with_cc() -> None:
    r = repo([policy(step("s", at=3, cc=("finance", "owner")))], [invoice()])
    delivery = run(r, day(3)).deliveries[0]
    assert delivery.to == ("billing@c1.example",)
    assert delivery.cc == ("finance@c1.example", "olga@example.com")


def test_tasks_go_to_our_owner() -> None:
    r = repo([policy(step("call", at=3, channels=("task",)))], [invoice()])
    assert run(r, day(3)).deliveries[0].to == ("olga@example.com",)


def test_ranges_every_and_weekdays() -> None:
    r = repo(
        [
            policy(
                step("weekly", start=1, end=15, every=7),
                step("monthu", start=16, end=22, weekdays=(0, 3)),
            )
        ],
        [invoice()],
    )
    found = []
    log: list[Entry] = []
    for n in range(0, 25):
        plan = run(r, day(n), index(log))
        for d in plan.deliveries:
            found.append((d.step, (d.date - DUE).days))
            log += sent(*d.keys, on=d.date)
    # due is a Monday: days 21 (Mon) and 17 (Thu) are the Mondays and Thursdays in 16..22
    assert found == [("weekly", 1), ("weekly", 8), ("weekly", 15), ("monthu", 17), ("monthu", 21)]


def test_payment_plan_runs_against_the_earliest_unpaid_installment() -> None:
    plan_invoice = invoice(
        installments=(Installment(DUE, Decimal("500.00")), Installment(day(30), Decimal("500.00"))),
        payments=(paid(day(1), "500.00"),),
    )
    r = repo([TWO_STEPS], [plan_invoice])
    assert run(r, day(3)).deliveries == []  # installment 1 is paid, 2 is not due yet
    plan = run(r, day(33))
    assert due_steps(plan) == [("one", "email", ("INV-1",))]
    assert plan.deliveries[0].keys == ("INV-1#2/one/2026-04-04/email",)


def test_payments_are_allocated_oldest_installment_first() -> None:
    plan_invoice = invoice(
        installments=(Installment(DUE, Decimal("500.00")), Installment(day(30), Decimal("500.00"))),
        payments=(paid(day(1), "300.00"),),
    )
    plan = run(repo([TWO_STEPS], [plan_invoice]), day(3))
    assert plan.deliveries[0].keys == ("INV-1#1/one/2026-03-05/email",)


def test_policy_change_applies_from_the_next_occurrence() -> None:
    before = repo([TWO_STEPS], [invoice()])
    first = run(before, day(3))
    log = index(sent(*first.deliveries[0].keys, on=day(3)))
    changed = repo([policy(step("one", at=3), step("two", at=7))], [invoice()])
    assert due_steps(run(changed, day(7), log)) == [("two", "email", ("INV-1",))]
    assert (
        run(
            changed,
            day(10),
            index(log_entries(log) + sent("INV-1/two/2026-03-09/email", on=day(7))),
        ).deliveries
        == []
    )


def log_entries(log: LogIndex) -> list[Entry]:
    return [s.entry for s in log.keys.values()]


def test_the_plan_does_not_depend_on_file_order() -> None:
    invoices = [invoice(f"INV-{n}", due=day(-n)) for n in range(1, 8)]
    forward = run(repo([TWO_STEPS], invoices), day(5))
    backward = run(repo([TWO_STEPS], list(reversed(invoices))), day(5))
    assert forward.deliveries == backward.deliveries
    assert CUSTOMER.id == forward.deliveries[0].customer


def test_after_a_pause_the_current_stage_is_sent_at_once() -> None:
    """A customer who asked for a pause hears the current stage the day it ends, not weeks on."""
    r = repo([replace(TWO_STEPS, first_contact="two")], [invoice(promise=Promise(day(9)))])
    assert run(r, day(9)).deliveries == []  # 'one' (day 3) fell during the promise
    plan = run(r, day(10))
    # 'two' is due today anyway; the day after, had there been no 'two', 'one' would go
    assert due_steps(plan) == [("two", "email", ("INV-1",))]
    only_one = repo(
        [policy(step("one", at=3), step("two", at=30))], [invoice(promise=Promise(day(9)))]
    )
    plan = run(only_one, day(10))
    assert due_steps(plan) == [("one", "email", ("INV-1",))]
    assert "the promise to pay by 2026-03-11 was broken" in plan.deliveries[0].reason
