"""What a forecast asks of every open invoice every day, answered without the long way round:
`ledger.settled` skips the late fees when the principal alone is open and no fee can be
negative, `late_fees` stops at the first period nothing is open at (payments only growing), the
schedule's reasons work the balance out only when it can matter, and each policy's step dates
are worked out once per due date. Each held here to the long way, on drawn invoices with
payments (reversals too), discounts, growing and shrinking fees and statutory interest."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from runner import ledger, schedule
from runner.model import Discount, Invoice, LateFee, Policy

from builders import CUSTOMER, invoice, paid, policy, repo, step

DUE = date(2026, 3, 2)

late_fees = st.sampled_from(
    [
        None,
        LateFee(percent=Decimal("2"), every_days=10, from_day=1),
        LateFee(percent=Decimal("1.5"), every_days=7, from_day=15),
        LateFee(percent=Decimal("-2"), every_days=10, from_day=1),
        LateFee(statutory="eu"),
    ]
)
payments = st.lists(
    st.tuples(
        st.integers(-10, 90), st.sampled_from(["1000.00", "400.00", "600.00", "996.00", "-400.00"])
    ),
    max_size=3,
)
discounts = st.sampled_from([None, Discount(Decimal("2"), DUE - timedelta(days=14))])


Case = tuple[list[tuple[int, str]], Decimal | None, LateFee | None, Discount | None, str, str]
cases = st.tuples(
    payments,
    st.sampled_from([None, Decimal("25.00"), Decimal("-25.00")]),
    late_fees,
    discounts,
    st.sampled_from(["", "DE"]),
    st.sampled_from(["0", "50", "700"]),
)


def drawn_case(case: Case) -> tuple[Policy, Invoice]:
    """(payments by day after the due date, step fee, late-fee rule, discount, law, minimum)."""
    pays, fee, late_fee, discount, law, minimum = case
    steps = (step("s1", at=0), step("s2", at=7, fee=fee), step("s3", at=20))
    rules = policy(*steps, late_fee=late_fee, min_balance=Decimal(minimum))
    bill = invoice(
        due=DUE,
        payments=tuple(paid(DUE + timedelta(days=at), amount) for at, amount in pays),
        discount=discount,
        law=law or None,
    )
    return rules, bill


def long_late_fees(bill: Invoice, rules: Policy, day: date) -> Decimal:
    """`late_fees` of a percentage rule as it reads, every period summed: a percentage of what
    is open at the start of each period from `from_day` on, plus each step fee whose day came
    with the amount still open."""
    rule = rules.late_fee
    assert rule is None or rule.percent is not None
    days_late = (day - bill.due).days
    fees = Decimal(0)
    if rule is not None and rule.percent is not None and days_late >= rule.from_day:
        for period in range((days_late - rule.from_day) // rule.every_days + 1):
            start = bill.due + timedelta(days=rule.from_day + period * rule.every_days)
            base = max(ledger.principal_balance(bill, start), Decimal(0))
            fees += ledger.rounded(base * rule.percent / 100, bill.currency)
    for s in rules.steps:
        reached = bill.due + timedelta(days=s.first_day)
        if (
            s.fee is not None
            and s.first_day <= days_late
            and ledger.principal_balance(bill, reached) > 0
        ):
            fees += s.fee
    return ledger.rounded(fees, bill.currency)


@settings(max_examples=400, deadline=None)
# paid in full on day 5, 400.00 of it reversed on day 30: a percentage is owed again from then
@example(([(5, "1000.00"), (30, "-400.00")], None, LateFee(Decimal("2"), 10, 1), None, "", "0"), 60)
# 4.00 left open, a step fee of -25.00 (a credit) settles it: the fees decide, not the principal
@example(([(-1, "996.00")], Decimal("-25.00"), None, None, "", "0"), 12)
# open 4.00 with a minimum of 50.00: below the minimum, though the principal alone is open
@example(([(-1, "996.00")], None, None, None, "", "50"), 3)
@given(case=cases, offset=st.integers(-20, 120))
def test_the_shortcuts_answer_as_the_long_way(case: Case, offset: int) -> None:
    rules, bill = drawn_case(case)
    late_fee, minimum = rules.late_fee, case[5]
    company = repo([rules], [bill])
    day = DUE + timedelta(days=offset)
    balance = ledger.open_balance(bill, rules, company.settings, day)
    principal = ledger.principal_balance(bill, day)

    assert ledger.settled(bill, rules, company.settings, day) == (balance <= 0)
    if late_fee is None or late_fee.percent is not None:
        assert ledger.late_fees(bill, rules, company.settings, day) == long_late_fees(
            bill, rules, day
        )

    reason = schedule.stop_reason(company, bill, rules, CUSTOMER, day)
    if balance <= 0:
        assert reason is not None and reason.startswith("paid in full")
    elif principal > 0 and balance < Decimal(minimum):
        assert reason == f"balance {balance} EUR is below the policy minimum {Decimal(minimum)}"
    elif principal > 0:
        assert reason is None


def test_step_dates_follow_the_policy_object_not_its_name() -> None:
    """Two revisions of a policy in one process (a plan --against without a second process): the
    step dates worked out once for one are not the other's, however many policies come by."""
    first = policy(step("s1", at=3))
    assert [o.day for o in schedule.occurrences(first, DUE)] == [3]
    others = [policy(step("s1", at=n % 40)) for n in range(schedule.FIXED_POLICIES + 5)]
    for n, other in enumerate(others):
        assert [o.day for o in schedule.occurrences(other, DUE)] == [n % 40]
    moved = replace(first, steps=(step("s1", at=5),))
    assert [o.day for o in schedule.occurrences(moved, DUE)] == [5]
    assert [o.date for o in schedule.occurrences(first, DUE, DUE + timedelta(days=2))] == []
    assert [o.date for o in schedule.occurrences(first, DUE)] == [DUE + timedelta(days=3)]
