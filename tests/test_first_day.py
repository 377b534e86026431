"""Starting on an existing book: the start date, and the rule for invoices that come in late.

A lawyer's letter is never the first contact unless the policy says so; an invoice nobody has
contacted yet starts at the policy's `first_contact` step and the later steps follow from there;
nothing before `settings.yaml start` is "missed".
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from runner import schedule, simulate
from runner.model import Calendar
from runner.sendlog import Entry, index

from builders import SETTINGS, invoice, policy, repo, step

START = date(2026, 11, 23)  # a Monday: the first run
WEEKDAYS = Calendar(country=None, weekends=(5, 6))
LETTERS = policy(
    step("letter-30", at=30, channels=("letter", "email")),
    step("letter-60", at=60, channels=("letter", "email")),
    step("letter-90", at=90, channels=("letter",), deadline_days=10),
    first_contact="letter-30",
    calendar=WEEKDAYS,
)


def overdue(days: int, id: str = "INV-1") -> object:
    due = START - timedelta(days=days)
    return invoice(id, due=due, issued=due - timedelta(days=30))


def morning_by_morning(r, until: date) -> list[tuple[date, str, str]]:  # type: ignore[no-untyped-def]
    days = simulate.days_between(START, until)
    sent = simulate.replay(r, simulate.mornings(r, days)).deliveries
    return [(d.date, d.step, d.channel) for d in sent]


def letters_from(first: date) -> list[tuple[date, str, str]]:
    """The LETTERS policy's messages for an invoice whose first letter goes on `first`."""
    return [
        (first, "letter-30", "email"),
        (first, "letter-30", "letter"),
        (first + timedelta(days=30), "letter-60", "email"),
        (first + timedelta(days=30), "letter-60", "letter"),
        (first + timedelta(days=60), "letter-90", "letter"),
    ]


def test_a_95_day_old_invoice_gets_the_first_letter_then_the_others_at_their_intervals() -> None:
    r = repo([LETTERS], [overdue(95)])
    got = morning_by_morning(r, START + timedelta(days=70))
    assert got == letters_from(START)
    first = schedule.plan(r, index([]), schedule.noon(START, "Europe/Copenhagen"))
    assert "first contact for an invoice 95 days past its due date" in first.deliveries[0].reason
    # the later letters say where they count from, not "first contact" again
    days = simulate.days_between(START, START + timedelta(days=70))
    later = [d for d in simulate.replay(r, simulate.mornings(r, days)).deliveries if d.date > START]
    due = (START - timedelta(days=95)).isoformat()
    assert {(d.step, d.reason) for d in later} == {
        (
            "letter-60",
            f"INV-1: letter-60: 30 days after 'letter-30' on {START}, where the policy started "
            f"this invoice 95 days past its due date {due}",
        ),
        (
            "letter-90",
            f"INV-1: letter-90: 60 days after 'letter-30' on {START}, where the policy started "
            f"this invoice 95 days past its due date {due}",
        ),
    }


def test_a_70_day_old_invoice_hears_from_us_on_the_first_day_not_weeks_later() -> None:
    r = repo([LETTERS], [overdue(70)])
    assert morning_by_morning(r, START)[0] == (START, "letter-30", "email")


def test_without_first_contact_the_lawyers_letter_is_never_the_first_contact() -> None:
    r = repo([replace(LETTERS, first_contact=None)], [overdue(95)])
    assert [s for _, s, _ in morning_by_morning(r, START)] == ["letter-30", "letter-30"]


def test_an_invoice_already_contacted_goes_on_with_the_stage_it_reached() -> None:
    due = START - timedelta(days=61)
    sent = Entry(
        {
            "id": "e1",
            "delivery": "d1",
            "status": "sent",
            "keys": [f"INV-1/letter-30/{(due + timedelta(days=30)).isoformat()}/letter"],
            "date": (due + timedelta(days=30)).isoformat(),
            "at": "2026-10-23T08:00:00Z",
        }
    )
    r = repo([LETTERS], [invoice(due=due, issued=due - timedelta(days=30))])
    plan = schedule.plan(r, index([sent]), schedule.noon(START, "Europe/Copenhagen"))
    assert [(d.step, d.channel) for d in plan.deliveries] == [
        ("letter-60", "email"),
        ("letter-60", "letter"),
    ]


def test_a_call_recorded_by_hand_is_a_contact_too() -> None:
    note = Entry(
        {
            "id": "n1",
            "status": "note",
            "invoices": ["INV-1"],
            "date": (START - timedelta(days=10)).isoformat(),
            "at": "2026-11-13T10:00:00Z",
        }
    )
    r = repo([LETTERS], [overdue(95)])
    plan = schedule.plan(r, index([note]), schedule.noon(START, "Europe/Copenhagen"))
    assert [d.step for d in plan.deliveries] == ["letter-90"]


def test_nothing_before_the_start_date_is_missed_and_the_reached_stage_goes_out() -> None:
    gentle = policy(
        step("heads-up", at=-3),
        step("just-checking", at=3),
        step("tier-1", at=14),
        first_contact="tier-1",
        calendar=WEEKDAYS,
    )
    late = invoice(due=START - timedelta(days=20), issued=START - timedelta(days=50))
    plain = repo([gentle], [late])
    started = repo([gentle], [late], settings=replace(SETTINGS, start=START))
    before = schedule.plan(plain, index([]), schedule.noon(START, "Europe/Copenhagen"))
    after = schedule.plan(started, index([]), schedule.noon(START, "Europe/Copenhagen"))
    # without a start date, the first run records occurrences of weeks ago as missed
    assert {d.status for d in before.with_status("missed", "superseded")} == {"missed"}
    # with it, nothing before the start is recorded, and the stage reached goes out today
    assert after.with_status("missed", "superseded") == []
    assert [d.step for d in after.deliveries] == ["tier-1"]
    reasons = {d.step: d.reason for d in after.decisions if d.status == "before-start"}
    assert "fell before Nudge started reminding on 2026-11-23" in reasons["heads-up"]


def test_the_plan_of_the_first_day_is_what_the_run_sends() -> None:
    r = repo([LETTERS], [overdue(95, "INV-1"), overdue(40, "INV-2"), overdue(10, "INV-3")])
    now = schedule.noon(START, "Europe/Copenhagen")
    planned = schedule.plan(r, index([]), now).deliveries
    replayed = simulate.replay(r, [now]).deliveries
    assert planned == replayed
    assert {k.split("/")[1] for d in planned for k in d.keys} == {"letter-30"}
    assert sorted(i for d in planned for i in d.invoices if d.channel == "letter") == [
        "INV-1",
        "INV-2",
    ]
    assert all(d.total_due == Decimal("3000.00") for d in planned)


def test_explain_lists_each_step_of_a_late_invoice_once_counted_from_its_first_contact() -> None:
    """On a Sunday, today's plan counts the later letters from 30 days before today; the first
    letter goes on Monday, and the forecast counts them from there. The explanation lists each
    letter once, on the day it goes, and calls none of them beyond the forecast."""
    from runner import explain

    sunday, monday = START - timedelta(days=1), START
    due = sunday - timedelta(days=95)
    r = repo([LETTERS], [invoice("INV-1", due=due, issued=due - timedelta(days=30))])
    told = explain.explain(r, index([]), schedule.noon(sunday, "Europe/Copenhagen"), ["INV-1"])
    (story,) = told.stories
    rows = [
        (row.decision.occurrence, row.decision.step, row.decision.channel) for row in story.rows
    ]
    assert rows == letters_from(monday)
    assert told.until >= monday + timedelta(days=60)
    assert {row.decision.status for row in story.rows} == {"due"}
