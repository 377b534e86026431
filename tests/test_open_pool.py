"""A replay narrows its pool of open invoices day by day (simulate.narrowed): a settled invoice
stays settled unless a payment of it was reversed or a fee can shrink, and one still open the day
before is kept without its balance worked out again when nothing can have lowered it since. Held
here to working out every balance of the whole repository again, on drawn invoices with payments
before, between and after the two days (reversals too), growing and shrinking late fees, step
fees and statutory interest."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from runner import simulate
from runner.model import LateFee

from builders import invoice, paid, policy, repo, step

START = date(2026, 3, 2)


def day(n: int) -> date:
    return START + timedelta(days=n)


fees = st.sampled_from([None, Decimal("25.00"), Decimal("-25.00")])
late_fees = st.sampled_from(
    [
        None,
        LateFee(percent=Decimal("2"), every_days=10, from_day=1),
        LateFee(percent=Decimal("-2"), every_days=10, from_day=1),
        LateFee(statutory="eu"),
    ]
)
payments = st.lists(
    st.tuples(st.integers(-10, 70), st.sampled_from(["1000.00", "400.00", "996.00", "-400.00"])),
    max_size=3,
)
invoices = st.lists(
    st.tuples(st.integers(-30, 30), st.integers(0, 30), payments, st.sampled_from(["", "DE"])),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
# 4.00 left open after the due day, a step's fee of -25.00 (a credit) settles it between the days
@example([(0, 10, [(-5, "996.00")], "")], Decimal("-25.00"), None, 12, 10)
# paid before it was issued, after the first day: not checked against its balance that day
@example([(5, 10, [(-20, "1000.00")], "")], None, None, 0, 10)
# paid in full, then 400.00 of it reversed: open again
@example([(0, 0, [(0, "1000.00"), (1, "-400.00")], "")], None, None, 1, 1)
@given(
    drawn=invoices,
    fee=fees,
    late_fee=late_fees,
    first=st.integers(-10, 60),
    gap=st.integers(0, 30),
)
def test_a_pool_narrowed_day_by_day_is_the_pool_worked_out_again(
    drawn: list[tuple[int, int, list[tuple[int, str]], str]],
    fee: Decimal | None,
    late_fee: LateFee | None,
    first: int,
    gap: int,
) -> None:
    steps = (step("s1", at=0), step("s2", at=7, fee=fee), step("s3", at=20))
    company = repo(
        [policy(*steps, late_fee=late_fee)],
        [
            invoice(
                f"INV-{n}",
                issued=day(issued),
                due=day(issued + terms),
                payments=tuple(paid(day(issued + terms + at), amount) for at, amount in pays),
                law=law or None,
            )
            for n, (issued, terms, pays, law) in enumerate(drawn)
        ],
    )
    since, later = day(first), day(first + gap)
    pool = simulate.open_on(company, since)
    narrowed = simulate.narrowed(company, pool, later, since, simulate.steady_of(company))
    assert sorted(narrowed.invoices) == sorted(simulate.open_on(company, later).invoices)
