"""Every sample template renders in each of its locales, with money and dates as the locale
writes them, and the sandbox keeps customer data from ever running as template code."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from jinja2 import FileSystemLoader

from runner import checks, repository
from runner.model import Customer, Repository
from runner.templates import Renderer

from conftest import STARTER, copy_sample

Company = tuple[Repository, Renderer]


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Company:
    root = copy_sample(tmp_path_factory.mktemp("render") / "repo")
    return repository.load(root).repo, Renderer(FileSystemLoader(str(root / "templates")))


CUSTOMER_OF = {
    "da": "bryggeriet-fjord",
    "pl": "wisla-logistyka",
    "zh": "huaxin-trading",
    "fa": "parsian-design",
    "en": "liffey-software",
}
MONEY = {
    "da": re.compile(r"\d{1,3}(\.\d{3})*,\d{2}[\xa0 ]kr\."),
    "pl": re.compile(r"\d{1,3}([\s\xa0]\d{3})*,\d{2}[\xa0 ]zł"),
    "zh": re.compile(r"¥\d{1,3}(,\d{3})*\.\d{2}"),
    "fa": re.compile(r"€"),
    "en": re.compile(r"€\d{1,3}(,\d{3})*\.\d{2}"),
}
MONTHS = {
    "da": re.compile(
        r"\d{1,2}\. (januar|februar|marts|april|maj|juni|juli|august|september|"
        r"oktober|november|december) \d{4}"
    ),
    "pl": re.compile(
        r"\d{1,2} (stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|"
        r"września|października|listopada|grudnia) \d{4}"
    ),
    "zh": re.compile(r"\d{4}年\d{1,2}月\d{1,2}日"),
    # CLDR's Persian dates as Babel writes them (its default numbering system is Latin digits)
    "fa": re.compile(
        r"[0-9۰-۹]{1,2} (ژانویه|فوریه|مارس|آوریل|مه|ژوئن|ژوئیه|اوت|سپتامبر|اکتبر|"
        r"نوامبر|دسامبر)ٔ? [0-9۰-۹]{4}"
    ),
    # en_US: November 9, 2026; en_IE and en_GB: 9 November 2026
    "en": re.compile(
        r"(\d{1,2} )?(January|February|March|April|May|June|July|August|September|October|"
        r"November|December) (\d{1,2}, )?\d{4}"
    ),
}


def cases() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted((STARTER / "templates").glob("*/*.j2")):
        if path.parent.name.startswith("_"):
            continue
        locale, channel, _ = path.name.split(".")
        found.append((path.parent.name, locale, channel))
    return found


def render(company: Company, template: str, locale: str, channel: str) -> tuple[str, str | None]:
    repo, renderer = company
    customer: Customer = repo.customers[CUSTOMER_OF[locale]]
    if customer.locale.split("_")[0] != locale:
        customer = replace(customer, locale=locale)
    policy = next(p for p in repo.policies.values() for s in p.steps if s.template == template)
    if policy.id != customer.policy:
        customer = replace(customer, policy=policy.id)
        repo = replace(repo, customers={**repo.customers, customer.id: customer})
    if channel == "task":  # a task is in the company's language: a company writing this one
        defaults = replace(repo.settings.defaults, locale=locale)
        repo = replace(repo, settings=replace(repo.settings, defaults=defaults))
    step = next(s for s in policy.steps if s.template == template and channel in s.channels)
    if channel == "task":  # a task is in the company's language: a company writing in `locale`
        defaults = replace(repo.settings.defaults, locale=locale)
        repo = replace(repo, settings=replace(repo.settings, defaults=defaults))
    own = [i for i in repo.invoices_of(customer.id) if not i.void]
    sample = checks.sample_invoice(repo, customer, policy, step, own)
    ctx = checks.sample_context(repo, customer, step, channel, sample)
    if channel == "task":  # a task is in the company's language: here, the template's
        ctx = {**ctx, "locale": locale}
    message = renderer.render(f"{template}/{locale}.{channel}.j2", channel, ctx)
    return message.text, message.html


@pytest.mark.parametrize(("template", "locale", "channel"), cases(), ids=lambda v: str(v))
def test_template_renders_with_the_locales_money_and_dates(
    company: Company, template: str, locale: str, channel: str
) -> None:
    text, html = render(company, template, locale, channel)
    assert text.strip()
    shown = text if channel != "letter" else (html or "")
    if channel != "sms":  # a text message keeps to the amount, without the statement's dates
        assert MONTHS[locale].search(shown), f"no {locale} date in:\n{shown[:600]}"
    assert MONEY[locale].search(shown.replace("\u202f", " ")), f"no {locale} amount:\n{shown[:600]}"
    if html is not None:
        direction = "rtl" if locale == "fa" else "ltr"
        assert f'dir="{direction}"' in html
        assert f'lang="{locale}"' in html or f'lang="{locale}-' in html  # BCP 47: en-IE


def test_customer_data_is_a_value_never_template_code(company: Company) -> None:
    base, renderer = company
    honest = base.customers["liffey-software"]
    contacts = tuple(
        replace(c, name="{{ 7 * 7 }} <b>Evil</b>") if c.role == "billing" else c
        for c in honest.contacts
    )
    sneaky = replace(honest, contacts=contacts)
    repo = replace(base, customers={**base.customers, sneaky.id: sneaky})
    policy = repo.policies["letters-30-60-90"]
    step = policy.steps[0]
    own = list(repo.invoices_of(sneaky.id))
    sample = checks.sample_invoice(repo, sneaky, policy, step, own)
    ctx = checks.sample_context(repo, sneaky, step, "email", sample)
    message = renderer.render("reminder-letter/en.email.j2", "email", ctx)
    assert "Dear {{ 7 * 7 }} <b>Evil</b>," in message.text  # plain text: as written
    assert "{{ 7 * 7 }} &lt;b&gt;Evil&lt;/b&gt;" in (message.html or "")  # HTML: escaped
    assert "49" not in message.text


def test_the_sandbox_remembers_only_what_jinja_itself_answers(company: Company) -> None:
    """runner.templates.Sandbox keeps the sandbox's verdict on an attribute per type and name:
    asked of many kinds of object and name, twice and of a second object of the same type, it
    answers what Jinja's own immutable sandbox answers; and a template still cannot reach into
    Python or change its data."""
    import collections
    import types
    from datetime import date
    from decimal import Decimal

    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from markupsafe import Markup

    from runner.templates import Sandbox

    repo, _ = company
    customer = next(iter(repo.customers.values()))

    def gen() -> types.GeneratorType[int, None, None]:
        yield 1

    async def coro() -> None:
        return None

    class Lying:  # an object that says it is of another class
        __class__ = dict  # type: ignore[assignment]

    try:
        raise ValueError("x")
    except ValueError as exc:
        tb = exc.__traceback__
    pending = coro()
    objects = [
        {"a": 1}, [1, 2], (1, 2), {1, 2}, frozenset({1}), collections.deque([1]), "text",
        Markup("<b>"), Decimal("1.50"), date(2026, 12, 4), 3, None, customer, customer.contacts,
        repo.settings, gen, gen(), pending, str.upper, "x".upper, Customer, len, tb,
        tb.tb_frame if tb else None, gen.__code__, StrictUndefined(), collections.OrderedDict(),
        Lying(),
    ]  # fmt: skip
    names = [
        "append", "pop", "clear", "update", "items", "keys", "get", "add", "discard",
        "appendleft", "sort", "remove", "setdefault", "popitem", "extend", "insert", "format",
        "format_map", "upper", "mro", "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame",
        "func_globals", "func_code", "im_func", "im_self", "tb_frame", "f_locals", "co_code",
        "__class__", "__globals__", "__subclasses__", "__init__", "_private", "name", "id",
        "contacts", "real", "year", "quantize", "company", "__func__", "__self__", "tb_next",
    ]  # fmt: skip

    def attribute(obj: object, name: str) -> object:
        try:
            return getattr(obj, name, None)
        except Exception:  # an undefined value refuses every attribute
            return None

    theirs, mine = ImmutableSandboxedEnvironment(), Sandbox()
    answered = 0
    for obj in objects:
        for name in names:
            value = attribute(obj, name)
            expected = theirs.is_safe_attribute(obj, name, value)
            for _ in range(2):  # the second answer is the remembered one
                assert mine.is_safe_attribute(obj, name, value) == expected, (type(obj), name)
            answered += 1
    pending.close()
    assert answered == len(objects) * len(names)
    # a second object of each type, after the first was remembered
    for obj in ({"b": 2}, [3], collections.deque(), "other", Decimal(2), replace(customer)):
        for name in names:
            value = attribute(obj, name)
            assert mine.is_safe_attribute(obj, name, value) == theirs.is_safe_attribute(
                obj, name, value
            ), (type(obj), name)
    assert mine._verdicts, "the verdicts were remembered"
    # rendered as Nudge renders (undefined is an error): still refused, the second time too
    strict = Sandbox(undefined=StrictUndefined)
    for source in ("{{ items.append(4) }}", "{{ data.clear() }}", "{{ f.__globals__ }}"):
        for _ in range(2):
            with pytest.raises(SecurityError):
                strict.from_string(source).render(items=[1], data={"a": 1}, f=gen)
    shown = strict.from_string("{{ items | length }} {{ data.a }}")
    assert shown.render(items=[1, 2], data={"a": 7}) == "2 7"
