"""`plan --against` forecasts the customers in two halves, one per process, and merges each
day's plans (schedule.merged); and a change that only alters what goes into a message is
forecast once for both trees (simulate.forecast_alike). Held to the plain forecast of everyone,
on drawn companies with bounced addresses (reminders turned into tasks) and replies (tasks of
their own): the same messages, in the same order, in both trees."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from runner import plandiff, schedule, sendlog
from runner.model import Policy, Repository
from runner.sendlog import Entry
from runner.simulate import forecast, forecast_alike

from builders import CUSTOMER, invoice, policy, repo, step

START = schedule.noon(date(2026, 3, 10), "Europe/Copenhagen")
DAYS = 12
POLICY = policy(
    step("first", at=3),
    step("second", at=7, cc=("finance",)),
    step("third", at=12, channels=("email", "sms")),
    step("letter", at=15, channels=("email",), separate=True),
)


def company(dues: list[tuple[int, int]]) -> Repository:
    """Customers c0..c5, each (customer, days overdue on the first day) an invoice."""
    customers = [
        replace(
            CUSTOMER,
            id=f"c{n}",
            name=f"Customer {n}",
            contacts=tuple(
                replace(c, email=c.email.replace("@c1.", f"@c{n}.")) for c in CUSTOMER.contacts
            ),
        )
        for n in range(6)
    ]
    invoices = [
        invoice(f"INV-{n}", due=START.date() - timedelta(days=late), customer=f"c{c}")
        for n, (c, late) in enumerate(dues)
    ]
    return repo([POLICY], invoices, customers)


def came_back(tree: Repository, bounced: list[int], replied: list[int]) -> sendlog.LogIndex:
    """A log of billing addresses that bounced and replies that wait, of these customers."""

    def invoices(c: int) -> list[str]:
        return [i.id for i in tree.invoices_of(f"c{c}")]

    entries = [
        Entry(
            {
                "id": f"b-{c}",
                "status": "bounced",
                "at": "2026-03-01T10:00:00Z",
                "date": "2026-03-01",
                "customer": f"c{c}",
                "invoices": invoices(c),
                "step": "first",
                "channel": "email",
                "address": f"billing@c{c}.example",
                "permanent": True,
                "reason": "550 5.1.1 user unknown",
            }
        )
        for c in bounced
    ]
    entries += [
        Entry(
            {
                "id": f"r-{c}",
                "status": "reply",
                "at": "2026-03-09T10:00:00Z",
                "date": "2026-03-09",
                "customer": f"c{c}",
                "invoices": invoices(c),
                "step": "first",
                "channel": "email",
                "from": f"finance@c{c}.example",
                "name": "Finn Finance",
                "subject": "Re: invoice",
                "excerpt": "We paid.",
                "wait_until": "2026-03-12",
            }
        )
        for c in replied
    ]
    return sendlog.index(entries)


dues = st.lists(st.tuples(st.integers(0, 5), st.integers(-5, 20)), min_size=1, max_size=12)
someone = st.lists(st.integers(0, 5), max_size=3, unique=True)


@settings(max_examples=60, deadline=None)
@given(dues=dues, bounced=someone, replied=someone, half=st.sets(st.integers(0, 5)))
def test_two_halves_merged_are_the_plan_of_everyone(
    dues: list[tuple[int, int]], bounced: list[int], replied: list[int], half: set[int]
) -> None:
    tree = company(dues)
    log = came_back(tree, bounced, replied)
    everyone = forecast(tree, log, START, DAYS)
    first = sorted(f"c{n}" for n in half)
    second = sorted(f"c{n}" for n in range(6) if n not in half)
    parts = [forecast(tree, log, START, DAYS, part) for part in (first, second)]
    merged = [schedule.merged(list(day)) for day in zip(*parts, strict=True)]
    assert [p.deliveries for p in merged] == [p.deliveries for p in everyone]
    assert [p.order for p in merged] == [p.order for p in everyone]
    assert [p.decisions for p in merged] == [p.decisions for p in everyone]
    assert [p.stopped for p in merged] == [p.stopped for p in everyone]


def retold(base: Policy, changes: list[tuple[int, str]]) -> Policy:
    """The policy with what some steps put into a message changed."""
    steps = list(base.steps)
    for index, what in changes:
        s = steps[index % len(steps)]
        if what == "cc":
            steps[index % len(steps)] = replace(s, cc=() if s.cc else ("finance", "owner"))
        elif what == "template":
            steps[index % len(steps)] = replace(s, template=f"{s.template}-firmer")
        else:
            steps[index % len(steps)] = replace(s, description="said otherwise")
    return replace(base, steps=tuple(steps))


@settings(max_examples=60, deadline=None)
@given(
    dues=dues,
    bounced=someone,
    replied=someone,
    changes=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(["cc", "template", "description"])),
        min_size=1,
        max_size=3,
    ),
)
def test_a_change_of_what_messages_say_is_forecast_once_for_both_trees(
    dues: list[tuple[int, int]],
    bounced: list[int],
    replied: list[int],
    changes: list[tuple[int, str]],
) -> None:
    head = company(dues)
    base = replace(head, policies={"p": retold(POLICY, changes)})
    customers = plandiff.affected(head, base)
    assert plandiff.decided_alike(head, base, customers)
    log = came_back(head, bounced, replied)
    only = sorted(customers or ())
    mine, theirs = forecast_alike(head, base, log, START, DAYS, only)
    assert [p.deliveries for p in mine] == [
        p.deliveries for p in forecast(head, log, START, DAYS, only)
    ]
    assert [p.deliveries for p in theirs] == [
        p.deliveries for p in forecast(base, log, START, DAYS, only)
    ]


def test_a_change_of_when_or_whether_is_not_forecast_once() -> None:
    head = company([(0, 10), (1, 2)])
    for changed in (
        replace(POLICY.steps[1], at=8),
        replace(POLICY.steps[1], channels=("email", "sms")),
        replace(POLICY.steps[1], recipients=("finance",)),
        replace(POLICY.steps[1], separate=True),
    ):
        steps = (POLICY.steps[0], changed, *POLICY.steps[2:])
        base = replace(head, policies={"p": replace(POLICY, steps=steps)})
        assert not plandiff.decided_alike(head, base, plandiff.affected(head, base))
    other = replace(head, customers={**head.customers, "c0": replace(CUSTOMER, id="c0", hold=True)})
    assert not plandiff.decided_alike(head, other, plandiff.affected(head, other))
    assert not plandiff.decided_alike(head, head, None)  # every customer: not worked out
