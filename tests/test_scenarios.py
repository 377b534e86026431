"""Facts about every message of the scenario corpus, in every language the templates have, and
that the committed corpus (tests/messages/) is what the templates render now."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from scenarios import (
    SCENARIOS,
    Scenario,
    as_text,
    company,
    corpus,
    locales,
    render,
    scenario_log,
    scenario_repo,
)
from stdnum import iso11649

from runner import calendar, context
from runner.compose import Outgoing
from runner.schedule import Delivery
from runner.templates import SMS_SPACES

Rendered = list[tuple[Delivery, Outgoing]]
CASES = [(locale, s) for locale in locales() for s in SCENARIOS]
RAW = re.compile(
    r"None|Decimal\(|\{\{|\{%|Undefined|\bnan\b|datetime\.|sha256:|\[\]|\(\)|\bTrue\b|\bFalse\b"
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("scenarios") / "repo"
    return company(root), root


def rendered(base, scenario: Scenario, locale: str) -> Rendered:  # type: ignore[no-untyped-def]
    repo, root = base
    return render(repo, root, scenario, locale)


def test_the_corpus_covers_every_language_and_is_current(tmp_path: Path) -> None:
    assert set(locales()) >= {"en"}
    stale = [
        path.relative_to(path.parents[2]).as_posix()
        for path, text in corpus(tmp_path / "repo")
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"out of date (run: python tests/scenarios.py --write): {stale}"


@pytest.mark.parametrize(("locale", "scenario"), CASES, ids=[f"{loc}-{s.name}" for loc, s in CASES])
def test_every_message_tells_the_truth(base, locale: str, scenario: Scenario) -> None:  # type: ignore[no-untyped-def]
    messages = rendered(base, scenario, locale)
    repo, _ = scenario_repo(base[0], scenario, locale)
    # fee-only is about statutory charges: none are due where no late-payment law applies
    # (a customer outside the EU/EEA whose contract names none, such as zh's in Shanghai)
    no_law = not any(i.law for i in repo.invoices.values())
    assert messages or (scenario.name == "fee-only" and no_law)
    # one message per customer, channel and day
    slots = Counter((d.customer, d.channel, d.date) for d, _ in messages)
    assert not slots or max(slots.values()) == 1, slots
    for delivery, message in messages:
        text = as_text(delivery, message)
        assert not RAW.search(message.text), f"raw value in:\n{text}"
        if message.html:
            assert not RAW.search(re.sub(r"<[^>]+>", " ", message.html)), (
                f"raw value in HTML of {delivery.id}"
            )
        ctx = _context(repo, delivery, scenario)
        # every total is the sum of what is listed
        for money in ctx["listed_totals"]:
            listed = sum(v.due_now for v in ctx["invoices"] if v.currency == money.currency)
            assert money.amount == listed
        for money in ctx["totals"]:
            assert money.amount == sum(
                v.balance for v in ctx["statement"] if v.currency == money.currency
            )
        if delivery.channel != "task":
            shown = message.html or message.text
            for money in ctx["totals"] if delivery.channel != "sms" else ctx["listed_totals"]:
                amount = _money(money, ctx["locale"])
                if delivery.channel == "sms":  # as the SMS is sent: plain spaces keep it GSM-7
                    amount = amount.translate(SMS_SPACES)
                assert amount in shown or amount in message.text, f"{amount} not in {delivery.id}"
        # no claim of earlier reminders without them, and the dates when there were
        markers = _labels(base, locale, "previous_marker")
        told = any(marker in text for marker in markers)
        if ctx["previous"]:
            assert told or delivery.channel in ("sms", "task"), f"history missing:\n{text}"
        else:
            assert not told, f"claims earlier contact that never happened:\n{text}"
        # a deadline is a business day
        if ctx["deadline"]:
            policy = repo.policies[delivery.policy]
            assert calendar.is_business_day(ctx["deadline"], policy.calendar)
        # every structured reference printed is a valid ISO 11649 reference
        for ref in re.findall(r"RF\d\d(?: ?[0-9A-Z]{1,4})+", text):
            assert iso11649.is_valid(ref.replace(" ", "")), ref


def _context(repo, delivery: Delivery, scenario: Scenario):  # type: ignore[no-untyped-def]
    """The template context the message was rendered with (as compose() builds it)."""
    from runner.compose import as_planned
    from runner.schedule import recipients

    customer = repo.customers[delivery.customer]
    step = repo.policies[delivery.policy].steps[delivery.step_index]
    to, cc = as_planned(*recipients(repo, customer, step, delivery.channel), delivery)
    invoices = [repo.invoices[i] for i in delivery.invoices]
    return context.build(
        repo,
        customer,
        step,
        invoices,
        to,
        delivery.locale,
        delivery.date,
        cc,
        scenario_log(scenario),
        delivery.keys,
    )


def _money(money: context.Money, locale: str) -> str:
    from runner import localefmt

    return localefmt.money(money.amount, money.currency, locale)


def _labels(base, locale: str, prefix: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The locale's labels whose name starts with `prefix` (the words that open a sentence)."""
    _, root = base
    source = (root / "templates" / "_locale" / f"{locale}.j2").read_text(encoding="utf-8")
    found = re.findall(rf'"{prefix}\w*":\s*"([^"]+)"', source)
    assert found, f"_locale/{locale}.j2 has no label {prefix}"
    return found
