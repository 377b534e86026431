"""The JSON Schemas shipped with the runner, and their errors turned into sentences."""

from __future__ import annotations

import calendar
import difflib
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from importlib import resources
from typing import Any

KINDS = ("settings", "customer", "invoice", "policy", "case", "mapping")
JsonPath = tuple[str | int, ...]


@cache
def schema(kind: str) -> dict[str, Any]:
    text = resources.files("runner.schemas").joinpath(f"{kind}.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def schema_text(kind: str) -> str:
    return resources.files("runner.schemas").joinpath(f"{kind}.schema.json").read_text("utf-8")


@cache
def _validator(kind: str) -> Any:
    from jsonschema import Draft202012Validator

    root = schema(kind)
    target = root["$defs"]["invoice"] if kind == "invoice" else root
    if kind == "invoice":
        target = {**target, "$defs": root["$defs"]}
    return Draft202012Validator(target, format_checker=_format_checker())


def check(kind: str, data: Any) -> Iterator[tuple[JsonPath, bool, str]]:
    """Yield (where, points_at_key, message) for every way `data` breaks the schema."""
    if fast_check(kind)(data):
        return  # valid: no need to ask jsonschema why not
    validator = _validator(kind)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
    findings = [f for error in errors for f in _explain(error)]
    misspelt = {
        (where[:-1], _closest(where[-1], error.schema.get("properties", {})))
        for error in errors
        if error.validator == "additionalProperties"
        for where, _, _ in _explain(error)
    }
    for where, key, message in findings:
        missing = _MISSING.fullmatch(message.split(": ", 1)[-1])
        if missing and (where, missing.group(1)) in misspelt:
            continue  # "unknown key 'dew' (did you mean 'due'?)" already says it
        yield where, key, message


_MISSING = re.compile(r"missing required key '(.+)'")


def _closest(word: object, choices: Any) -> str | None:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return close[0] if close else None


@cache
def fast_check(kind: str) -> Any:
    from runner.fastcheck import compile_schema

    root = schema(kind)
    target = {**root["$defs"]["invoice"], "$defs": root["$defs"]} if kind == "invoice" else root
    return compile_schema(target, _FORMATS, target)


# -- formats -------------------------------------------------------------------------------


def _format_checker() -> Any:
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    for name, func in _FORMATS.items():
        checker.checks(name)(func)
    return checker


# Dates and amounts a person can mean: anything outside is a typo (9999-12-31, 400 digits) that
# would otherwise overflow date arithmetic or the decimal context far from the file.
YEARS = (1900, 2200)
MONEY_DIGITS = 12  # before the point: below a trillion
MONEY_DECIMALS = 8
_DATE_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def is_date(value: object) -> bool:
    return date_problem(value) is None


def date_problem(value: object) -> str | None:
    """Why `value` is not a date Nudge accepts, in words; None when it is one (or not text)."""
    return _date_text_problem(value) if isinstance(value, str) else None


@lru_cache(maxsize=8192)  # 100k invoices name a few thousand days, each many times
def _date_text_problem(value: str) -> str | None:
    if _DATE_SHAPE.fullmatch(value) is None:
        return "is not a date (write YYYY-MM-DD, e.g. 2026-10-31)"
    year, month, day = (int(part) for part in value.split("-"))
    if not 1 <= month <= 12:
        return f"is not a date: there is no month {month} (write YYYY-MM-DD, e.g. 2026-10-31)"
    if not YEARS[0] <= year <= YEARS[1]:
        return f"is outside the years Nudge accepts ({YEARS[0]} to {YEARS[1]}): check the year"
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        return f"does not exist: {calendar.month_name[month]} {year} has {last} days"
    return None


def is_closure(value: object) -> bool:
    """A closed day: YYYY-MM-DD, or MM-DD for every year (Feb 29 allowed)."""
    if not isinstance(value, str):
        return True
    if len(value) == 5:
        return is_date(f"2024-{value}")
    return is_date(value)


def is_money(value: object) -> bool:
    return money_problem(value) is None


# The way nearly every amount is written ("1250.00", "-40"): at most MONEY_DIGITS digits before
# the point and MONEY_DECIMALS after it, nothing around them. Such text is an amount Nudge
# accepts without working it out (tests/test_schema.py holds this to the long way).
_PLAIN_MONEY = re.compile(rf"-?[0-9]{{1,{MONEY_DIGITS}}}(?:\.[0-9]{{1,{MONEY_DECIMALS}}})?")


def money_problem(value: object) -> str | None:
    """Why `value` is not an amount Nudge accepts, in words; None when it is one."""
    if isinstance(value, str) and _PLAIN_MONEY.fullmatch(value):
        return None
    return _money_problem(value)


def _money_problem(value: object) -> str | None:
    if isinstance(value, bool | float):
        return _FORMAT_HELP["money"]
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            return _FORMAT_HELP["money"]
        if not value.strip():
            return _FORMAT_HELP["money"]
    elif isinstance(value, int | Decimal):
        amount = Decimal(value)
    else:
        return None
    if not amount.is_finite():
        return _FORMAT_HELP["money"]
    if amount != 0 and amount.adjusted() >= MONEY_DIGITS:
        return (
            f"is too large: Nudge takes amounts of at most {MONEY_DIGITS} digits before the "
            "point (check for a typo)"
        )
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MONEY_DECIMALS:
        return f"has more than {MONEY_DECIMALS} decimals: round it"
    return None


# What str.splitlines() breaks on: any of them in a header value would start a new line.
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def is_oneline(value: object) -> bool:
    return not isinstance(value, str) or LINE_BREAKS.isdisjoint(value)


def is_currency(value: object) -> bool:
    from babel.numbers import list_currencies

    return not isinstance(value, str) or value in list_currencies()


def is_timezone(value: object) -> bool:
    from zoneinfo import ZoneInfo

    if not isinstance(value, str):
        return True
    try:
        ZoneInfo(value)
    except (ValueError, KeyError, OSError):
        return False
    return True


# Addresses of the plainest shape (ASCII letters and digits, single . _ + - between them, a
# lettered top-level domain) that email_validator always accepts: checked here in a regex, a
# hundredth of its cost. Anything else, and the special-use domains it refuses, go to it.
# tests/test_fastcheck.py holds the shortcut to email_validator's verdict.
_PLAIN_EMAIL = re.compile(
    r"(?=.{1,254}\Z)[A-Za-z0-9]+(?:[._+-][A-Za-z0-9]+)*@"
    r"(?:[A-Za-z0-9]{1,63}(?:-[A-Za-z0-9]+)*\.)+[A-Za-z]{2,63}\Z"
)


def is_email(value: object) -> bool:
    from email_validator import EmailNotValidError, validate_email

    if not isinstance(value, str):
        return True
    if _plain_email(value):
        return True
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _plain_email(value: str) -> bool:
    from email_validator import SPECIAL_USE_DOMAIN_NAMES  # the domains it refuses, its list

    if _PLAIN_EMAIL.match(value) is None:
        return False
    local, domain = value.rsplit("@", 1)
    domain = domain.lower()
    return (
        len(local) <= 64
        and len(domain) <= 253
        and all(len(label) <= 63 for label in domain.split("."))
        and not any(domain == d or domain.endswith("." + d) for d in SPECIAL_USE_DOMAIN_NAMES)
    )


def is_phone(value: object) -> bool:
    return not isinstance(value, str) or e164(value) is not None


@lru_cache(maxsize=1024)  # a file's numbers are checked, then read: parsed once for both
def e164(text: str) -> str | None:
    """The number in E.164 form (+4512345678), None if it is not a valid phone number."""
    import phonenumbers

    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_bic(value: object) -> bool:
    return _schwifty_accepts(value, "BIC")


def is_iban(value: object) -> bool:
    return _schwifty_accepts(value, "IBAN")


def _schwifty_accepts(value: object, kind: str) -> bool:
    """Whether schwifty takes `value` as a BIC or an IBAN (not text: the type check's to say)."""
    import schwifty
    from schwifty.exceptions import SchwiftyException

    if not isinstance(value, str):
        return True
    try:
        getattr(schwifty, kind)(value)
    except SchwiftyException:
        return False
    return True


def is_locale(value: object) -> bool:
    return not isinstance(value, str) or _known_locale(value)


@lru_cache(maxsize=1024)  # a few locales, named by thousands of customers
def _known_locale(value: str) -> bool:
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(value)
    except (ValueError, UnknownLocaleError):
        return False
    return True


def is_country(value: object) -> bool:
    import holidays

    return not isinstance(value, str) or value in holidays.list_supported_countries()


_FORMATS: dict[str, Callable[[Any], bool]] = {
    "date": is_date,
    "closure": is_closure,
    "money": is_money,
    "decimal": is_money,  # a percentage or rate: the same exact number, not an amount of money
    "currency": is_currency,
    "timezone": is_timezone,
    "email": is_email,
    "phone": is_phone,
    "locale": is_locale,
    "country": is_country,
    "oneline": is_oneline,
    "iban": is_iban,
    "bic": is_bic,
}

_FORMAT_HELP = {
    "date": "is not a date (write YYYY-MM-DD, e.g. 2026-10-31)",
    "closure": "is not a day (write YYYY-MM-DD for one day, or MM-DD for every year, e.g. 12-24)",
    "money": 'is not an amount (write it as text with a dot for decimals, e.g. "1250.00")',
    "decimal": 'is not a number (write it with a dot for decimals, e.g. 2 or "2.5")',
    "currency": "is not an ISO 4217 currency code (e.g. EUR, DKK, USD)",
    "timezone": "is not a time zone (use an IANA name, e.g. Europe/Copenhagen)",
    "email": "is not a valid e-mail address",
    "phone": "is not a valid phone number (write it in international form, e.g. +45 20 12 34 56)",
    "locale": "is not a known locale (e.g. en, da, da_DK, pl, zh, fa)",
    "country": "is not a country the holiday calendar knows (use an ISO code, e.g. DK, PL, CN)",
    "oneline": "has a line break: it goes into e-mail headers, so write it on one line",
    "iban": "is not a valid IBAN (check the digits; e.g. DK50 0040 0440 1162 43)",
    "bic": "is not a valid BIC (8 or 11 characters, e.g. DABADKKK)",
}

_FORMAT_NAMES = {
    "date": "a date (write YYYY-MM-DD, e.g. 2026-10-31)",
    "money": 'an amount (e.g. "1250.00")',
    "email": "an e-mail address",
    "phone": "a phone number in international form",
}

_TYPE_NAMES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping of keys to values",
    "null": "empty (null)",
}


# -- messages ------------------------------------------------------------------------------


def _meant(error: Any) -> list[Any]:
    """Of a mapping or list that fits none of several forms, the errors of the form it was
    evidently meant as: the one whose shape it has (its mistakes lie deeper), so a bad date in
    `run: {from, to}` is named as such, not as "not allowed here". Empty when no form stands out."""
    by_option: dict[int, list[Any]] = {}
    for sub in error.context:
        by_option.setdefault(sub.relative_schema_path[0], []).append(sub)

    def misfit(errors: list[Any]) -> tuple[int, int]:
        return sum(1 for e in errors if not e.relative_path), len(errors)

    ranked = sorted(by_option.values(), key=misfit)
    if (
        not ranked
        or misfit(ranked[0])[0]
        or (len(ranked) > 1 and misfit(ranked[1]) == misfit(ranked[0]))
    ):
        return []
    return ranked[0]


def label(where: JsonPath) -> str:
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        text = str(value)
    else:
        text = repr(value)
    if len(text) > SHOWN:  # a 400-digit typo is named, not repeated
        return f"{text[: SHOWN // 2]}... ({len(text)} characters)"
    return text


SHOWN = 60


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _explain(error: Any) -> Iterator[tuple[JsonPath, bool, str]]:
    where: JsonPath = tuple(error.absolute_path)
    kind = error.validator
    value = error.instance
    name = label(where)
    if kind == "additionalProperties":
        allowed = error.schema.get("properties", {})
        for key in value:
            if key not in allowed:
                hint = _suggest(key, allowed) or f" (allowed: {', '.join(sorted(allowed))})"
                yield (*where, key), True, f"unknown key '{key}'{hint}"
    elif kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        yield (
            where,
            False,
            f"{name}: missing required key '{missing}'"
            if where
            else (f"missing required key '{missing}'"),
        )
    elif kind == "type":
        wanted = error.validator_value
        wanted_list = wanted if isinstance(wanted, list) else [wanted]
        expected = " or ".join(_TYPE_NAMES.get(str(w), str(w)) for w in wanted_list)
        form = error.schema.get("format")
        if form in _FORMAT_NAMES:
            expected = _FORMAT_NAMES[form]
        hint = ""
        if "string" in wanted_list and isinstance(value, bool):
            hint = " (YAML reads yes/no/on/off/NO as true or false: put the value in quotes)"
        if "string" in wanted_list and isinstance(value, float):
            hint = " (put the value in quotes)"
        yield where, False, f"{name}: expected {expected}, got {_shown(value)}{hint}"
    elif kind == "format":
        problem = _format_problem(error.validator_value, value)
        yield where, False, f"{name}: {_shown(value)} {problem}"
    elif kind in ("minimum", "maximum", "exclusiveMinimum"):
        yield where, False, f"{name}: {_shown(value)} is {_out_of_range(error.schema)}"
    elif kind == "enum":
        options = error.validator_value
        hint = _suggest(value, options) or f" (choose one of: {', '.join(map(str, options))})"
        yield where, False, f"{name}: {_shown(value)} is not allowed{hint}"
    elif kind == "pattern":
        rule = error.schema.get("patternErrorMessage", f"it must match {error.validator_value}")
        yield where, False, f"{name}: {_shown(value)} is not allowed: {rule}"
    elif kind in ("oneOf", "anyOf"):
        meant = _meant(error) if isinstance(value, dict | list) else None
        best = (
            min(error.context, key=lambda e: len(e.schema_path), default=None)
            if error.context
            else None
        )
        if meant:
            for sub in meant:
                yield from _explain(sub)
        elif best is not None and best.validator == "format":
            yield from _explain(best)
        else:
            yield where, False, f"{name}: {_shown(value)} is not allowed here"
    elif kind == "if":
        return
    else:
        yield where, False, f"{name}: {error.message}"


def _format_problem(form: str, value: Any) -> str:
    if form == "date":
        return date_problem(value) or _FORMAT_HELP[form]
    if form == "money":
        return money_problem(value) or _FORMAT_HELP[form]
    if form == "currency" and isinstance(value, str) and is_currency(value.strip().upper()):
        return f"is not an ISO 4217 currency code (did you mean '{value.strip().upper()}'?)"
    return _FORMAT_HELP[form]


def _out_of_range(rule: dict[str, Any]) -> str:
    low = rule.get("minimum", rule.get("exclusiveMinimum"))
    high = rule.get("maximum")
    above = "above" if "exclusiveMinimum" in rule else "from"
    if low is not None and high is not None:
        return f"out of range: give a number {above} {low} to {high}"
    if high is not None:
        return f"too large: at most {high}"
    return f"too small: at least {low}" if above == "from" else f"too small: above {low}"
