"""What came back, as the schedule decides on it (pure: repository, log, today)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from runner import schedule
from runner.model import Contact
from runner.schedule import noon
from runner.sendlog import Entry, hashed, index

from builders import CUSTOMER, customer, invoice, policy, repo, step

DUE = date(2026, 3, 2)  # a Monday; the test calendar has no weekends
STEPS = (step("first", at=7), step("second", at=14, cc=("finance",)), step("third", at=21))


def bounced(address: str, day: str = "2026-03-09", **kw: Any) -> Entry:
    return Entry({"id": f"b-{address}-{day}", "status": "bounced", "at": day + "T10:00:00Z",
                  "date": day, "customer": "c1", "invoices": ["INV-1"], "step": "first",
                  "channel": "email", "address": address, "permanent": True,
                  "reason": "550 5.1.1 user unknown", **kw})  # fmt: skip


def replied(day: str, until: str, **kw: Any) -> Entry:
    return Entry({"id": f"r-{day}", "status": "reply", "at": day + "T10:00:00Z", "date": day,
                  "customer": "c1", "invoices": ["INV-1"], "step": "first", "channel": "email",
                  "from": "billing@c1.example", "name": "Bea Billing", "subject": "Re: invoice",
                  "excerpt": "We paid.", "wait_until": until, **kw})  # fmt: skip


def sent(step_id: str, day: str) -> Entry:
    return Entry({"id": f"s-{step_id}", "delivery": f"d-{step_id}", "status": "sent",
                  "at": day + "T09:00:00Z", "date": day, "customer": "c1",
                  "invoices": ["INV-1"], "keys": [f"INV-1/{step_id}/{day}/email"],
                  "channel": "email", "to": ["billing@c1.example"]})  # fmt: skip


def today_plan(day: date, *log: Entry, people: Any = None, steps: Any = STEPS) -> schedule.Plan:
    r = repo([policy(*steps)], [invoice(due=DUE)], [people or CUSTOMER])
    return schedule.plan(r, index(log), noon(day, "Europe/Copenhagen"))


def test_a_bounced_address_is_left_out_and_those_in_copy_are_addressed() -> None:
    plan = today_plan(date(2026, 3, 16), sent("first", "2026-03-09"), bounced("billing@c1.example"))
    [reminder, task] = plan.deliveries
    assert (reminder.step, reminder.to, reminder.cc) == ("second", ("finance@c1.example",), ())
    assert task.channel == "task" and task.to == ("olga@example.com",)
    assert task.step.startswith("unreachable-") and task.template == "nudge:unreachable"
    assert "find a working billing address for Customer One" in task.reason


def test_the_other_contacts_of_the_role_get_it_first() -> None:
    two = customer(
        contacts=(*CUSTOMER.contacts, Contact("Ben Billing", "billing", "ben@c1.example"))
    )
    plan = today_plan(date(2026, 3, 16), bounced("billing@c1.example"), people=two)
    reminder = next(d for d in plan.deliveries if d.step == "second")
    assert (reminder.to, reminder.cc) == (("ben@c1.example",), ("finance@c1.example",))


def test_with_nobody_left_the_reminder_becomes_a_task_for_the_owner_under_its_own_keys() -> None:
    plan = today_plan(date(2026, 3, 23), bounced("billing@c1.example"))
    stand_in = next(d for d in plan.deliveries if d.step == "third")
    assert stand_in.channel == "task" and stand_in.to == ("olga@example.com",)
    assert stand_in.keys == ("INV-1/third/2026-03-23/email",)
    assert stand_in.template == "nudge:no-email-recipient"
    assert "reaches nobody: Bea Billing (billing@c1.example)" in stand_in.reason


def test_without_an_owner_it_stays_a_reminder_nobody_can_receive() -> None:
    plan = today_plan(date(2026, 3, 23), bounced("billing@c1.example"),
                      people=customer(owner=None))  # fmt: skip
    [reminder] = plan.deliveries
    assert (reminder.channel, reminder.to) == ("email", ())


def test_the_bounce_task_is_opened_once() -> None:
    first = today_plan(
        date(2026, 3, 10), sent("first", "2026-03-09"), bounced("billing@c1.example")
    )
    [task] = first.deliveries
    done = Entry({"id": "t", "delivery": "t", "status": "sent", "at": "2026-03-10T09:00:00Z",
                  "date": "2026-03-10", "keys": list(task.keys), "channel": "task"})  # fmt: skip
    again = today_plan(
        date(2026, 3, 11), sent("first", "2026-03-09"), bounced("billing@c1.example"), done
    )
    assert again.deliveries == []


@pytest.mark.parametrize(
    "cleared_by",
    [
        replied("2026-03-10", "2026-03-10"),
        Entry(
            {
                "id": "a",
                "status": "autoreply",
                "at": "2026-03-10T10:00:00Z",
                "date": "2026-03-10",
                "from": "billing@c1.example",
            }
        ),
    ],
)
def test_a_message_from_the_address_makes_it_reachable_again(cleared_by: Entry) -> None:
    plan = today_plan(date(2026, 3, 16), bounced("billing@c1.example"), cleared_by)
    reminder = next(d for d in plan.deliveries if d.step == "second")
    assert reminder.to == ("billing@c1.example",)


def test_hashed_recipients_match_hashed_bounces() -> None:
    plan = today_plan(date(2026, 3, 16), bounced(hashed("billing@c1.example")))
    reminder = next(d for d in plan.deliveries if d.step == "second")
    assert reminder.to == ("finance@c1.example",)


def test_an_undelivered_number_is_left_out_of_texts_until_one_is_delivered() -> None:
    texts = (step("t1", at=7, channels=("sms",)), step("t2", at=14, channels=("sms",)))
    bad = Entry({"id": "u", "status": "undelivered", "at": "2026-03-10T10:00:00Z",
                 "date": "2026-03-10", "customer": "c1", "invoices": ["INV-1"],
                 "phone": "+4520123456", "reason": "Twilio undelivered, error 30003"})  # fmt: skip
    plan = today_plan(date(2026, 3, 16), bad, steps=texts)
    stand_in = next(d for d in plan.deliveries if d.step == "t2")
    assert stand_in.channel == "task" and stand_in.template == "nudge:no-sms-recipient"
    good = Entry({"id": "g", "status": "delivered", "at": "2026-03-11T10:00:00Z",
                  "date": "2026-03-11", "phone": "+4520123456"})  # fmt: skip
    plan = today_plan(date(2026, 3, 16), bad, good, steps=texts)
    assert next(d for d in plan.deliveries if d.step == "t2").to == ("+4520123456",)


def test_a_reply_makes_the_invoice_wait_then_the_sequence_resumes() -> None:
    reply = replied("2026-03-12", "2026-03-17")
    waiting = today_plan(date(2026, 3, 16), sent("first", "2026-03-09"), reply)
    assert [d.step for d in waiting.deliveries] == ["reply-" + waiting.deliveries[0].step[6:]]
    assert waiting.stopped["INV-1"].startswith("Bea Billing replied on 2026-03-12: reminders wait")
    # the day after the wait, 'second' (due on 03-16, during the wait) still goes out: its
    # catch-up window counts from the end of the wait
    resumed = today_plan(date(2026, 3, 21), sent("first", "2026-03-09"), reply)
    assert [d.step for d in resumed.deliveries if d.channel == "email"] == ["second"]


def test_a_note_after_the_reply_ends_the_wait() -> None:
    note = Entry({"id": "n", "status": "note", "at": "2026-03-13T10:00:00Z", "date": "2026-03-13",
                  "invoices": ["INV-1"], "channel": "call", "text": "answered"})  # fmt: skip
    plan = today_plan(date(2026, 3, 16), sent("first", "2026-03-09"),
                      replied("2026-03-12", "2026-03-17"), note)  # fmt: skip
    assert "INV-1" not in plan.stopped
    assert "second" in [d.step for d in plan.deliveries]


def test_a_forecast_keeps_what_came_back() -> None:
    log = index([bounced("billing@c1.example")])
    assert log.extended([]).feedback == log.feedback


def test_the_same_bounce_logged_by_two_runs_opens_one_task() -> None:
    once = bounced("billing@c1.example", inbound="<dsn@mx>")
    twice = [once, Entry({**once.raw, "id": "other"})]
    plan = today_plan(date(2026, 3, 10), sent("first", "2026-03-09"), *twice)
    assert [d.template for d in plan.deliveries] == ["nudge:unreachable"]
