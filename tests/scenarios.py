"""The scenario corpus: situations a credit controller meets, rendered in every language the
shipped templates have, as readable text under tests/messages/<locale>/ (a reviewer reads the
messages in the diff; tests/test_scenarios.py asserts facts on them and that they are current).

    python tests/scenarios.py            # check: exit 1 and a diff when a file is out of date
    python tests/scenarios.py --write    # render them again

Each scenario is a day in the life of one customer of the test company, in its language: the
invoices, what the log says was sent before, and the day. The customer of each language is one
of the test company's (their own name, contacts, currency and time zone).
"""

from __future__ import annotations

import difflib
import html
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

from runner import repository, schedule  # noqa: E402
from runner.compose import Outgoing, compose  # noqa: E402
from runner.model import Discount, Installment, Invoice, Payment, Promise, Repository  # noqa: E402
from runner.sendlog import Entry, LogIndex, index  # noqa: E402
from runner.templates import Renderer  # noqa: E402

from conftest import STARTER, copy_sample  # noqa: E402

MESSAGES = TESTS / "messages"
PERSONA = {  # the test company's customer writing in each language
    "en": "liffey-software",
    "da": "bryggeriet-fjord",
    "pl": "wisla-logistyka",
    "zh": "huaxin-trading",
    "fa": "parsian-design",
}
TODAY = date(2026, 11, 23)  # a Monday


@dataclass
class Scenario:
    name: str
    title: str
    policy: str
    invoices: Callable[[str, str], list[Invoice]]  # (customer, currency) -> invoices
    sent: list[tuple[str, str, int, str]] = field(
        default_factory=list
    )  # (invoice, step, days before today, channel)
    today: date = TODAY
    customer: dict[str, Any] = field(default_factory=dict)  # changes to the persona
    counsel: bool = True
    first_contact: str | None = None  # the policy's, for this scenario
    persona: str | None = None  # another customer of the test company than the language's


def invoice(
    n: int, customer: str, currency: str, days_overdue: int, amount: str, **kw: Any
) -> Invoice:
    due = TODAY - timedelta(days=days_overdue)
    return Invoice(
        id=f"INV-{n}",
        customer=customer,
        issued=due - timedelta(days=30),
        due=due,
        amount=Decimal(amount),
        currency=currency,
        description=kw.pop("description", f"Consulting, invoice {n}"),
        **kw,
    )


SCENARIOS = [
    Scenario(
        "first-contact-late",
        "An overdue book on its first day: 45 days overdue, no message sent before (the "
        "policy starts late invoices at its first reminder)",
        "gentle",
        lambda c, cur: [invoice(2101, c, cur, 45, "4200.00")],
        first_contact="tier-1",
    ),
    Scenario(
        "several-stages",
        "Three invoices at different stages in one message, two earlier reminders logged",
        "gentle",
        lambda c, cur: [
            invoice(2201, c, cur, 45, "1800.00"),
            invoice(2202, c, cur, 28, "950.00"),
            invoice(2203, c, cur, 14, "2600.00"),
        ],
        sent=[
            ("INV-2201", "tier-1", 31, "email"),
            ("INV-2201", "tier-2", 17, "email"),
            ("INV-2202", "tier-1", 14, "email"),
        ],
    ),
    Scenario(
        "payment-plan",
        "A payment plan: the first instalment paid, the second due and unpaid",
        "gentle",
        lambda c, cur: [
            invoice(
                2301,
                c,
                cur,
                44,
                "6000.00",
                installments=(
                    Installment(TODAY - timedelta(days=44), Decimal("2000.00")),
                    Installment(TODAY - timedelta(days=14), Decimal("2000.00")),
                    Installment(TODAY + timedelta(days=16), Decimal("2000.00")),
                ),
                payments=(Payment(TODAY - timedelta(days=40), Decimal("2000.00")),),
            )
        ],
    ),
    Scenario(
        "partial-payment",
        "A partly paid invoice: what it was, what was paid, what is open",
        "gentle",
        lambda c, cur: [
            invoice(
                2401,
                c,
                cur,
                28,
                "14400.00",
                payments=(Payment(TODAY - timedelta(days=10), Decimal("4400.00")),),
            )
        ],
        sent=[("INV-2401", "tier-1", 14, "email")],
    ),
    Scenario(
        "dispute-present",
        "One invoice overdue, another in dispute: the disputed one apart, never in a total",
        "gentle",
        lambda c, cur: [
            invoice(2501, c, cur, 14, "3100.00"),
            invoice(2502, c, cur, 20, "780.00", disputed=True, dispute_reason="hours billed twice"),
        ],
    ),
    Scenario(
        "broken-promise",
        "A promise to pay made on the phone and broken",
        "gentle",
        lambda c, cur: [
            invoice(
                2601,
                c,
                cur,
                28,
                "5250.00",
                promise=Promise(
                    TODAY - timedelta(days=5), Decimal("5250.00"), made=TODAY - timedelta(days=12)
                ),
            )
        ],
        sent=[("INV-2601", "tier-1", 14, "email")],
    ),
    Scenario(
        "multi-currency",
        "A customer with invoices in two currencies: two totals, two accounts",
        "gentle",
        lambda c, cur: [
            invoice(2701, c, cur, 14, "2500.00"),
            invoice(2702, c, "EUR" if cur != "EUR" else "DKK", 14, "1200.00"),
        ],
    ),
    Scenario(
        "hold-in-force",
        "Five-stage: the account on hold for weeks, the final notice with its deadline",
        "five-stage",
        lambda c, cur: [invoice(2801, c, cur, 121, "8800.00")],
        sent=[
            ("INV-2801", "status-check", 106, "email"),
            ("INV-2801", "past-due", 60, "email"),
            ("INV-2801", "hold", 30, "email"),
            ("INV-2801", "hold", 23, "email"),
        ],
    ),
    Scenario(
        "fee-only",
        "Letters: the invoice paid late, statutory interest and compensation left",
        "letters-30-60-90",
        lambda c, cur: [
            invoice(
                2901,
                c,
                cur,
                60,
                "3000.00",
                payments=(Payment(TODAY - timedelta(days=20), Decimal("3000.00")),),
            )
        ],
        sent=[("INV-2901", "letter-30", 30, "letter"), ("INV-2901", "letter-30", 30, "email")],
    ),
    Scenario(
        "lawyer-letter",
        "Letters: day 90, the letter from our lawyer",
        "letters-30-60-90",
        lambda c, cur: [invoice(3001, c, cur, 90, "12500.00")],
        sent=[("INV-3001", "letter-30", 60, "letter"), ("INV-3001", "letter-60", 30, "letter")],
    ),
    Scenario(
        "own-final-letter",
        "Letters: day 90 without counsel configured: our own final notice, signed by a person",
        "letters-30-60-90",
        lambda c, cur: [invoice(3101, c, cur, 90, "2500.00")],
        counsel=False,
    ),
    Scenario(
        "reminder-with-heads-up",
        "An urgent reminder and, the same day, the heads-up of an invoice not yet due: one "
        "message, whose subject counts only the overdue invoice, with a link for each",
        "gentle",
        lambda c, cur: [
            invoice(3301, c, cur, 45, "11250.00"),
            invoice(3302, c, cur, -3, "3200.00"),
        ],
        sent=[
            ("INV-3301", "tier-1", 31, "email"),
            ("INV-3301", "tier-2", 17, "email"),
        ],
    ),
    Scenario(
        "heads-up-discount",
        "Before the due date, with an early-payment discount still open",
        "gentle",
        lambda c, cur: [
            invoice(
                3201,
                c,
                cur,
                -3,
                "10000.00",
                discount=Discount(Decimal(2), TODAY + timedelta(days=1)),
            )
        ],
    ),
]


def company(root: Path) -> Repository:
    copy_sample(root)
    return repository.load(root).repo


def scenario_repo(base: Repository, scenario: Scenario, locale: str) -> tuple[Repository, str]:
    persona = base.customers[scenario.persona or PERSONA[locale]]
    currency = persona.currency or base.settings.defaults.currency
    # A pause in the persona's file (Bryggeriet Fjord asked for one) is not part of a scenario.
    customer = replace(persona, policy=scenario.policy, paused_until=None, **scenario.customer)
    invoices = {
        i.id: replace(i, law=_law(base, customer)) for i in scenario.invoices(customer.id, currency)
    }
    settings = base.settings if scenario.counsel else replace(base.settings, counsel=None)
    policies = dict(base.policies)
    if scenario.first_contact is not None:
        policy = policies[scenario.policy]
        policies[policy.id] = replace(policy, first_contact=scenario.first_contact)
    changed = replace(
        base,
        settings=settings,
        customers={customer.id: customer},
        invoices=invoices,
        policies=policies,
    )
    return changed, customer.id


def _law(base: Repository, customer: Any) -> str | None:
    from runner import latepay

    return latepay.law_of(customer, base.settings)


def scenario_log(scenario: Scenario) -> LogIndex:
    """What the log says was sent before the scenario's day."""
    entries = []
    for n, (invoice, step, ago, channel) in enumerate(scenario.sent):
        day = (scenario.today - timedelta(days=ago)).isoformat()
        entries.append(
            Entry(
                {
                    "id": f"s-{n}",
                    "delivery": f"d-{n}",
                    "status": "sent",
                    "keys": [f"{invoice}/{step}/{day}/{channel}"],
                    "date": day,
                    "at": f"{day}T08:00:00Z",
                }
            )
        )
    return index(entries)


def render(
    base: Repository, root: Path, scenario: Scenario, locale: str
) -> list[tuple[schedule.Delivery, Outgoing]]:
    repo, _ = scenario_repo(base, scenario, locale)
    log = scenario_log(scenario)
    plan = schedule.plan(repo, log, schedule.noon(scenario.today, repo.settings.defaults.timezone))
    from jinja2 import FileSystemLoader

    renderer = Renderer(FileSystemLoader(str(root / "templates")))
    return [(d, compose(repo, d, renderer, root, log)) for d in plan.deliveries]


def as_text(delivery: schedule.Delivery, message: Outgoing) -> str:
    head = (
        f"--- {delivery.channel} ({delivery.step}, {delivery.template}) to {', '.join(delivery.to)}"
    )
    if delivery.cc:
        head += f"; cc {', '.join(delivery.cc)}"
    if delivery.channel == "letter":
        return f"{head}\n\n{letter_text(message.html or '')}\n"
    if delivery.channel == "sms":
        return f"{head}\n\n{message.text.strip()}\n"
    return f"{head}\nSubject: {message.subject}\n\n{message.text.strip()}\n"


def letter_text(page: str) -> str:
    """What a printed letter says, as text: each block element on a line, table cells apart."""
    body = re.sub(r"(?s)<(head|style)>.*?</\1>", "", page)
    body = " ".join(body.split())
    body = re.sub(
        r"(?i)<br\s*/?>|</(p|h1|li|tr|div|header|footer|section|aside|table)>", "\n", body
    )
    body = re.sub(r"(?i)</t[dh]>", "  ", body)
    body = html.unescape(re.sub(r"<[^>]+>", "", body))
    lines = [line.strip() for line in body.splitlines()]
    return "\n".join(line for line in lines if line)


def corpus(root: Path) -> Iterator[tuple[Path, str]]:
    base = company(root)
    for locale in locales():
        for scenario in SCENARIOS:
            rendered = render(base, root, scenario, locale)
            text = f"# {scenario.title}\n# {locale}, {scenario.today}, policy {scenario.policy}\n\n"
            text += (
                "\n".join(as_text(d, m) for d, m in rendered) if rendered else "(nothing is sent)\n"
            )
            yield MESSAGES / locale / f"{scenario.name}.txt", text


def locales() -> list[str]:
    """The languages the shipped templates are written in (each has templates/_locale/L.j2)."""
    found = {p.stem for p in (STARTER / "templates" / "_locale").glob("*.j2")}
    return [locale for locale in PERSONA if locale in found]


def main(argv: list[str]) -> int:
    write = "--write" in argv
    stale = 0
    with tempfile.TemporaryDirectory() as folder:
        for path, text in corpus(Path(folder) / "repo"):
            old = path.read_text(encoding="utf-8") if path.exists() else ""
            if old == text:
                continue
            if write:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(TESTS.parent)}")
            else:
                stale += 1
                sys.stdout.writelines(
                    difflib.unified_diff(
                        old.splitlines(True), text.splitlines(True), str(path), "rendered now"
                    )
                )
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
