"""Business days: weekends, public holidays of a country (and subdivision), and listed closures
(a date once, or a month and day every year)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

from runner.model import Calendar

ONE_DAY = timedelta(days=1)


@cache
def public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())


def is_business_day(day: date, calendar: Calendar) -> bool:
    if day.weekday() in calendar.weekends or day in calendar.closed:
        return False
    if (day.month, day.day) in calendar.closed_yearly:
        return False
    return calendar.country is None or day not in public_holidays(
        calendar.country, calendar.subdivision, day.year
    )


def next_business_day(day: date, calendar: Calendar) -> date:
    """`day` itself when it is a business day, else the first business day after it."""
    for _ in range(366):
        if is_business_day(day, calendar):
            return day
        day += ONE_DAY
    raise ValueError(f"no business day within a year after {day}: check the policy's calendar")


def pay_by(sent: date, days: int | None, calendar: Calendar) -> date | None:
    """The deadline a message sent on `sent` gives (`days` later): always a business day."""
    if not days:
        return None
    return next_business_day(sent + timedelta(days=days), calendar)


def add_business_days(day: date, count: int, calendar: Calendar) -> date:
    """The `count`-th business day after `day` (`day` itself, moved to a business day, for 0)."""
    if count == 0:
        return next_business_day(day, calendar)
    for _ in range(count):
        day = next_business_day(day + ONE_DAY, calendar)
    return day
