"""Money, dates and numbers as a reader of each locale writes them (Babel's CLDR data), plus what
CLDR leaves to the writer:

- Persian (fa): Persian digits (۰-۹) with Persian separators, and dates in the Solar Hijri
  calendar with the Gregorian date beside it: `۱۸ آبان ۱۴۰۵ (۹ نوامبر ۲۰۲۶)` (jdatetime).
- Right-to-left text: amounts, dates and Latin tokens (invoice numbers, references, links) are
  wrapped in Unicode bidi isolates (FSI ... PDI), so a plain-text part or an SMS keeps their
  order however a reader's client lays the line out.
- Columns of plain text padded by display width (wcwidth): a Chinese character takes two.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "yi"})
FSI, PDI = "\u2068", "\u2069"  # first-strong isolate, pop directional isolate
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
SOLAR_HIJRI_MONTHS = (
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
)


def language(locale: str) -> str:
    return locale.split("_")[0]


def right_to_left(locale: str) -> bool:
    return language(locale) in RTL_LANGUAGES


@cache
def babel_locale(name: str) -> Any:
    """Babel's Locale for a name, parsed once (format_currency would parse it on every call)."""
    from babel import Locale

    return Locale.parse(name)


def isolate(text: str, locale: str) -> str:
    """`text` as one unit inside right-to-left text (unchanged elsewhere)."""
    if not right_to_left(locale) or not text or (text[0] == FSI and text[-1] == PDI):
        return text
    return f"{FSI}{text}{PDI}"


def _native(text: str, locale: str) -> str:
    return text.translate(PERSIAN_DIGITS) if language(locale) == "fa" else text


def _numbering(locale: str) -> str:
    return "arabext" if language(locale) == "fa" else "latn"


def money(amount: Decimal, currency: str, locale: str) -> str:
    from babel.numbers import format_currency

    text = format_currency(
        amount, currency, locale=babel_locale(locale), numbering_system=_numbering(locale)
    )
    return isolate(_native(str(text), locale), locale)


def number(value: Decimal | int, locale: str) -> str:
    from babel.numbers import format_decimal

    text = format_decimal(value, locale=babel_locale(locale), numbering_system=_numbering(locale))
    return _native(str(text), locale)


def percent(value: Decimal | int, locale: str) -> str:
    from babel.numbers import format_percent

    text = format_percent(
        Decimal(value) / 100,
        locale=babel_locale(locale),
        decimal_quantization=False,
        numbering_system=_numbering(locale),
    )
    return _native(str(text), locale)


def day(value: date, locale: str, form: str = "long") -> str:
    from babel.dates import format_date

    gregorian = str(format_date(value, format=form, locale=babel_locale(locale)))
    if language(locale) != "fa":
        return gregorian
    return _native(f"{solar_hijri(value)} ({gregorian})", locale)


def solar_hijri(value: date) -> str:
    """The date in the Solar Hijri (Persian) calendar, as Iranians write it: `18 آبان 1405`."""
    import jdatetime

    persian = jdatetime.date.fromgregorian(date=value)
    return f"{persian.day} {SOLAR_HIJRI_MONTHS[persian.month - 1]} {persian.year}"


def width(text: str) -> int:
    """How many columns `text` takes in a monospaced font (a CJK character: two)."""
    from wcwidth import wcswidth

    measured = wcswidth(text)
    return measured if measured >= 0 else len(text)


def left(text: str, columns: int) -> str:
    return text + " " * max(columns - width(text), 0)


def right(text: str, columns: int) -> str:
    return " " * max(columns - width(text), 0) + text
