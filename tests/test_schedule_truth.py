"""Rules a collections professional would check, one table per rule (issue: plan = run).

Each test names the practice it follows; where the five-stage practice gives an example
(days 1-15 / 16-30 / 31-90 / 91-120 / 120+), the test uses it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner import calendar, context, explain, ledger, schedule, simulate
from runner.model import After, Calendar, Contact, Discount, Promise
from runner.sendlog import Entry, index

from builders import CUSTOMER, SETTINGS, customer, invoice, paid, policy, repo, step

DUE = date(2026, 3, 2)  # a Monday
EMPTY = index([])
STATUTORY = replace(SETTINGS, reference_rate=Decimal("4.15"))


def day(n: int) -> date:
    return DUE + timedelta(days=n)


def every_morning(r, start: date, end: date) -> list[schedule.Delivery]:  # type: ignore[no-untyped-def]
    days = simulate.days_between(start, end)
    return simulate.replay(r, simulate.mornings(r, days)).deliveries


def sent_steps(deliveries: list[schedule.Delivery]) -> list[tuple[int, str, str]]:
    return [((d.date - DUE).days, d.step, d.channel) for d in deliveries]


def plan_on(r, today: date, log=EMPTY) -> schedule.Plan:  # type: ignore[no-untyped-def]
    return schedule.plan(r, log, schedule.noon(today, "Europe/Copenhagen"))


# -- 1. one rule for "paid", in every command --------------------------------------------------


LETTERS = policy(
    step("letter-30", at=30, channels=("email",)),
    step("letter-60", at=60, channels=("email",)),
    late_fee=None,
    min_balance=Decimal("50"),
)


@pytest.mark.parametrize(
    ("name", "rule", "payment", "chase", "expected"),
    [
        (
            "principal paid, statutory interest owed: still reminded",
            "eu",
            "1000.00",
            True,
            [30, 60],
        ),
        ("principal and interest paid: nothing more", "eu", "1052.32", True, [30]),
        ("principal paid, fees not chased by the policy", "eu", "1000.00", False, [30]),
        ("no late fee at all: paid means settled", None, "1000.00", True, [30]),
    ],
)
def test_paid_is_the_ledgers_rule_in_replay_and_run(
    name: str, rule: str | None, payment: str, chase: bool, expected: list[int]
) -> None:
    from runner.model import LateFee

    fee = LateFee(statutory=rule) if rule else None
    p = replace(LETTERS, late_fee=fee, chase_fees=chase)
    inv = invoice(payments=(paid(day(37), payment),))
    r = repo([p], [inv], settings=STATUTORY)
    got = every_morning(r, day(20), day(70))
    assert [n for n, _, _ in sent_steps(got)] == expected, name
    # the day-60 run decides exactly as the replay did
    today_plan = plan_on(r, day(60))
    assert (60 in expected) == bool(today_plan.deliveries), name


def test_a_fee_only_balance_is_said_so_to_the_template() -> None:
    p = replace(LETTERS, late_fee=__import__("runner.model").model.LateFee(statutory="eu"))
    inv = invoice(payments=(paid(day(37), "1000.00"),))
    r = repo([p], [inv], settings=STATUTORY)
    view = context.invoice_view(r, inv, day(60))
    assert view.fees_only and view.balance == Decimal("52.32")
    assert ledger.fees_only(inv, p, STATUTORY, day(60))


# -- 2. a promise counts from the day it was given ------------------------------------------------


def test_a_promise_is_known_from_the_day_it_was_made() -> None:
    """Practice: a promise-to-pay pauses the sequence from when it is given, not before."""
    steps = policy(step("d15", at=15), step("d28", at=28), step("d45", at=45))
    promise = Promise(day(50), made=day(40))
    r = repo([steps], [invoice(promise=promise)])
    got = sent_steps(every_morning(r, day(0), day(60)))
    # day 15 and 28 go out (no promise yet); day 45 falls inside the promise; after it broke
    # (day 50), the stage reached is sent the next day
    assert got == [(15, "d15", "email"), (28, "d28", "email"), (51, "d45", "email")]
    assert plan_on(r, day(20)).stopped.get("INV-1") is None
    assert "promised on 2026-04-11 to pay by 2026-04-21" in plan_on(r, day(45)).stopped["INV-1"]


# -- 3. stages ranked by their day, not their place in the list ----------------------------------


def test_stage_four_weekly_call_continues_after_the_day_100_call() -> None:
    """Practice, stage 4 (hold, days 91-120): a weekly call, and a call to the service manager
    on day 100. The weekly call of day 105 comes after the day-100 call: it is not dropped."""
    stage4 = policy(
        step("weekly-call", start=91, end=119, every=7, channels=("task",)),
        step("service-manager", at=100, channels=("task",)),
    )
    got = sent_steps(every_morning(repo([stage4], [invoice()]), day(90), day(121)))
    assert got == [
        (91, "weekly-call", "task"),
        (98, "weekly-call", "task"),
        (100, "service-manager", "task"),
        (105, "weekly-call", "task"),
        (112, "weekly-call", "task"),
        (119, "weekly-call", "task"),
    ]


def test_a_later_day_is_more_advanced_after_missed_runs() -> None:
    stage4 = policy(
        step("weekly-call", start=91, end=119, every=7, channels=("task",)),
        step("service-manager", at=100, channels=("task",)),
        catch_up=10,
    )
    plan = plan_on(repo([stage4], [invoice()]), day(105))
    assert [(d.step, (d.date - DUE).days) for d in plan.deliveries] == [("weekly-call", 105)]
    superseded = [d.reason for d in plan.decisions if d.status == "superseded"]
    assert "superseded by the more advanced 'weekly-call' of 2026-06-15 (day 105)" in superseded


# -- 4. a disputed invoice is never in what we ask them to pay -----------------------------------


def test_a_disputed_invoice_is_listed_apart_and_never_in_a_total() -> None:
    r = repo(
        [policy(step("one", at=3))],
        [invoice("INV-1"), invoice("INV-2", amount="400.00", disputed=True)],
    )
    plan = plan_on(r, day(3))
    assert [d.invoices for d in plan.deliveries] == [("INV-1",)]
    assert plan.deliveries[0].total_due == Decimal("1000.00")
    ctx = context.build(
        r, CUSTOMER, r.policies["p"].steps[0], [r.invoices["INV-1"]], [], "en", day(3)
    )
    assert [v.id for v in ctx["statement"]] == ["INV-1"]
    assert [v.id for v in ctx["disputed"]] == ["INV-2"]
    assert [(t.amount, t.currency) for t in ctx["totals"]] == [(Decimal("1000.00"), "EUR")]


# -- 5. the hold reaches the messages ------------------------------------------------------------


def test_the_final_notice_knows_the_account_is_on_hold_and_since_when() -> None:
    five = policy(
        step("hold", start=91, end=120, every=7, hold=True),
        step("final", at=121, deadline_days=10),
    )
    r = repo([five], [invoice()])
    replayed = simulate.replay(r, simulate.mornings(r, simulate.days_between(day(90), day(121))))
    log = index(replayed.entries)
    final_step = five.steps[1]
    hold = context.hold_since(r, log, CUSTOMER, day(121), final_step)
    assert hold is not None and hold.since == day(91) and hold.step == "hold"
    first_hold = context.hold_since(r, index([]), CUSTOMER, day(91), five.steps[0])
    assert first_hold is not None and first_hold.since == day(91)  # "now on hold"
    assert context.hold_since(r, index([]), CUSTOMER, day(60), None) is None
    by_hand = repo([five], [invoice()], [customer(hold=True)])
    manual = context.hold_since(by_hand, EMPTY, by_hand.customers["c1"], day(10), None)
    assert manual is not None and manual.by_hand and manual.since is None


def test_a_paid_invoice_no_longer_holds_the_account() -> None:
    five = policy(step("hold", at=91, hold=True))
    inv = invoice(payments=(paid(day(95), "1000.00"),))
    r = repo([five], [inv])
    log = index([_sent("INV-1/hold/2026-06-01/email", day(91))])
    assert context.hold_since(r, log, CUSTOMER, day(100), None) is None


# -- 6. a deadline is a business day --------------------------------------------------------------

DANISH_OFFICE = Calendar(country="DK", closed_yearly=frozenset({(12, 24), (12, 31), (6, 5)}))


@pytest.mark.parametrize(
    ("sent", "days", "deadline"),
    [
        (date(2026, 12, 10), 10, date(2026, 12, 21)),  # Sunday 20 Dec -> Monday
        (date(2026, 12, 14), 10, date(2026, 12, 28)),  # Thu 24 closed, 25-27 holidays/weekend
        (date(2026, 12, 21), 10, date(2027, 1, 4)),  # Thu 31 Dec closed, 1 Jan, weekend
        (date(2027, 1, 21), 10, date(2027, 2, 1)),  # Sunday 31 Jan -> Monday
        (date(2026, 3, 26), 10, date(2026, 4, 7)),  # Easter: 2-6 April 2026
        (date(2026, 5, 26), 10, date(2026, 6, 8)),  # Friday 5 June (Constitution Day) closed
    ],
)
def test_a_deadline_moves_to_the_next_business_day(sent: date, days: int, deadline: date) -> None:
    assert calendar.pay_by(sent, days, DANISH_OFFICE) == deadline
    p = policy(step("final", at=0, deadline_days=days), calendar=DANISH_OFFICE)
    r = repo([p], [invoice(due=sent)])
    ctx = context.build(r, CUSTOMER, p.steps[0], [r.invoices["INV-1"]], [], "en", sent)
    assert ctx["deadline"] == deadline


# -- 7. a step after another's actual send ---------------------------------------------------------


def test_counsel_follows_the_deadline_of_the_final_notice_whatever_the_calendar() -> None:
    """Practice, stage 5: a final warning with a 10-day deadline, then hand over to counsel.
    Easter moves the final notice; counsel still comes only after its deadline has passed."""
    due = date(2025, 12, 2)  # day 121 = Thursday 2 April 2026 (Maundy Thursday)
    stage5 = policy(
        step("final", at=121, deadline_days=10),
        step("counsel", after=After("final", 1), channels=("task",)),
        calendar=DANISH_OFFICE,
    )
    r = repo([stage5], [invoice(due=due, issued=date(2025, 11, 1))])
    got = [(d.date, d.step) for d in every_morning(r, date(2026, 3, 30), date(2026, 4, 30))]
    # the notice moves to Tuesday 7 April; its deadline, 17 April, is a Friday; counsel Monday
    assert got == [(date(2026, 4, 7), "final"), (date(2026, 4, 20), "counsel")]
    fixed = policy(
        step("final", at=121, deadline_days=10),
        step("counsel", at=131, channels=("task",)),
        calendar=DANISH_OFFICE,
    )
    early = every_morning(
        repo([fixed], [r.invoices["INV-1"]]), date(2026, 3, 30), date(2026, 4, 30)
    )
    assert (date(2026, 4, 13), "counsel") in [(d.date, d.step) for d in early]  # the old way


def test_a_step_after_another_waits_while_that_one_was_never_sent() -> None:
    p = policy(step("final", at=10), step("counsel", after=After("final", 2), channels=("task",)))
    r = repo([p], [invoice(promise=Promise(day(30), made=day(5)))])
    got = sent_steps(every_morning(r, day(0), day(40)))
    assert got == [(31, "final", "email"), (33, "counsel", "task")]


# -- 8. --explain is the plan's own reasoning ----------------------------------------------------


STOPS = [
    ("void", invoice(void=True), "void: no reminders"),
    ("written off", invoice(written_off=True), "written off: no reminders"),
    ("disputed", invoice(disputed=True), "disputed: reminders stop"),
    ("paid", invoice(payments=(paid(day(1), "1000.00"),)), "paid in full on 2026-03-03"),
    ("paused", invoice(paused_until=day(20)), "invoice paused until 2026-03-22"),
    ("promise", invoice(promise=Promise(day(20), made=day(1))), "promised on 2026-03-03"),
    ("not issued", invoice(issued=day(30), due=day(60)), "not issued until 2026-04-01"),
    (
        "below minimum",
        invoice(payments=(paid(day(1), "990.00"),)),
        "is below the policy minimum 50",
    ),
]


@pytest.mark.parametrize(("name", "inv", "why"), STOPS, ids=[s[0] for s in STOPS])
def test_explain_agrees_with_the_plan_for_each_stop_reason(name: str, inv, why: str) -> None:  # type: ignore[no-untyped-def]
    p = policy(
        step("one", at=3), step("two", at=14), step("three", at=28), min_balance=Decimal("50")
    )
    r = repo([p], [inv])
    start = schedule.noon(day(5), "Europe/Copenhagen")
    told = explain.explain(r, EMPTY, start, ["INV-1"])
    story = told.stories[0]
    assert story.stopped is not None and why in story.stopped, name
    # every occurrence the explanation says goes out is in the forecast, on that day, and
    # nothing else is: the explanation is the forecast
    days = [start + timedelta(days=n) for n in range((told.until - told.today).days + 1)]
    forecast = simulate.replay(r, days, EMPTY, ["INV-1"]).deliveries
    said = sorted((row.on, row.decision.key) for row in story.rows if row.decision.status == "due")
    done = sorted((d.date, k) for d in forecast for k in d.keys)
    assert said == done, name
    for row in story.rows:
        assert row.decision.status in ("due", "stopped", "superseded", "missed"), (name, row)


def test_explain_of_a_paid_invoice_promises_nothing() -> None:
    r = repo(
        [policy(step("one", at=3), step("two", at=30))],
        [invoice(payments=(paid(day(10), "1000.00"),))],
    )
    story = explain.explain(
        r, EMPTY, schedule.noon(day(21), "Europe/Copenhagen"), ["INV-1"]
    ).stories[0]
    assert story.stopped == "paid in full on 2026-03-12"
    assert {row.decision.status for row in story.rows} == {"stopped"}


# -- 9. an early-payment discount taken is honoured ----------------------------------------------


def test_the_discounted_payment_settles_the_invoice() -> None:
    """2/10 net 30: 980.00 paid within the discount period settles 1,000.00."""
    p = policy(step("overdue", at=3), step("hold", at=20, hold=True))
    p = replace(
        p,
        late_fee=__import__("runner.model").model.LateFee(
            percent=Decimal(2), every_days=30, from_day=1
        ),
    )
    inv = invoice(
        issued=date(2026, 1, 1),
        due=date(2026, 1, 31),
        discount=Discount(Decimal(2), date(2026, 1, 11)),
        payments=(paid(date(2026, 1, 8), "980.00"),),
    )
    r = repo([p], [inv])
    assert ledger.open_balance(inv, p, SETTINGS, date(2026, 2, 5)) == 0
    assert ledger.late_fees(inv, p, SETTINGS, date(2026, 3, 5)) == 0
    assert every_morning(r, date(2026, 1, 20), date(2026, 3, 1)) == []
    assert (
        "with the early-payment discount of 20.00 EUR"
        in plan_on(r, date(2026, 2, 5)).stopped["INV-1"]
    )


@pytest.mark.parametrize(
    ("payments", "balance"),
    [
        ((("01-08", "490.00"),), "500.00"),  # half paid early: the discount on that half
        ((("01-08", "490.00"), ("01-20", "490.00")), "10.00"),  # the second half after `until`
        ((("01-20", "980.00"),), "20.00"),  # too late for the discount
        ((("01-08", "1000.00"),), "0.00"),  # paid in full anyway: no credit beyond the amount
        ((("01-08", "985.00"),), "0.00"),  # a little more than the discounted price
    ],
)
def test_a_partial_payment_in_the_discount_period_earns_the_discount_on_what_it_pays(
    payments: tuple[tuple[str, str], ...], balance: str
) -> None:
    inv = invoice(
        issued=date(2026, 1, 1),
        due=date(2026, 1, 31),
        discount=Discount(Decimal(2), date(2026, 1, 11)),
        payments=tuple(paid(date.fromisoformat(f"2026-{d}"), a) for d, a in payments),
    )
    assert max(ledger.open_balance(inv, None, SETTINGS, date(2026, 2, 5)), Decimal(0)) == Decimal(
        balance
    )


# -- 10. a task never reaches a customer ----------------------------------------------------------


def test_a_task_of_a_customer_facing_step_goes_to_our_owner_only() -> None:
    mixed = policy(
        step(
            "hold",
            at=91,
            channels=("email", "task"),
            recipients=("billing",),
            cc=("finance",),
            template="stop-deliveries",
        )
    )
    plan = plan_on(repo([mixed], [invoice()]), day(91))
    by_channel = {d.channel: d for d in plan.deliveries}
    assert by_channel["email"].to == ("billing@c1.example",)
    assert by_channel["email"].cc == ("finance@c1.example",)
    assert by_channel["task"].to == ("olga@example.com",) and by_channel["task"].cc == ()


def test_a_task_can_go_to_named_staff_from_settings() -> None:
    staff = replace(SETTINGS, staff=(Contact("Sam Service", "service-manager", "sam@example.com"),))
    p = policy(step("call", at=100, channels=("task",), task_to=("service-manager", "owner")))
    plan = plan_on(repo([p], [invoice()], settings=staff), day(100))
    assert plan.deliveries[0].to == ("sam@example.com", "olga@example.com")


def _sent(key: str, on: date) -> Entry:
    return Entry(
        {
            "id": f"e-{key}",
            "delivery": f"d-{key}",
            "status": "sent",
            "keys": [key],
            "date": on.isoformat(),
            "at": f"{on}T08:00:00Z",
        }
    )


ROLES = ("billing", "finance", "management", "owner", "service-manager")


@given(
    st.lists(st.sampled_from(ROLES), max_size=3),
    st.lists(st.sampled_from(ROLES), max_size=3),
    st.lists(st.sampled_from(ROLES), max_size=3),
    st.sampled_from([("task",), ("email", "task"), ("email", "sms", "task"), ("letter", "task")]),
)
def test_no_step_can_send_a_task_to_a_customer_address(
    recipients: list[str], cc: list[str], task_to: list[str], channels: tuple[str, ...]
) -> None:
    staff = replace(SETTINGS, staff=(Contact("Sam Service", "service-manager", "sam@example.com"),))
    someone = customer(
        contacts=(
            *CUSTOMER.contacts,
            Contact("Mona Management", "management", "ceo@c1.example"),
            Contact("Sly Namesake", "service-manager", "their-service@c1.example"),
        )
    )
    s = step(
        "s",
        at=1,
        channels=channels,
        recipients=tuple(recipients),
        cc=tuple(cc),
        task_to=tuple(task_to),
    )
    r = repo([policy(s)], [invoice()], [someone], settings=staff)
    to, copied = schedule.recipients(r, someone, s, "task")
    ours = {"olga@example.com", "sam@example.com"}
    assert {c.email for c in (*to, *copied)} <= ours
