"""Business days: weekends, public holidays of a country (and subdivision), and listed closures."""

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
