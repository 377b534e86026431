"""Small repositories built in code, for tests of the pure core."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from runner.model import (
    Calendar,
    Company,
    Contact,
    Customer,
    Defaults,
    Invoice,
    Payment,
    PaymentInfo,
    Policy,
    Repository,
    Settings,
    Step,
)

SETTINGS = Settings(
    company=Company("Example ApS", "ar@example.com"),
    defaults=Defaults("en", "Europe/Copenhagen", "EUR", "p"),
    payment=PaymentInfo(
        link="https://pay.example.com/{invoice}", instructions=(("", "Pay by bank transfer"),)
    ),
)
CUSTOMER = Customer(
    id="c1",
    name="Customer One",
    locale="en",
    timezone="Europe/Copenhagen",
    policy="p",
    contacts=(
        Contact("Bea Billing", "billing", "billing@c1.example", "+4520123456"),
        Contact("Finn Finance", "finance", "finance@c1.example"),
    ),
    owner=Contact("Olga Owner", "owner", "olga@example.com"),
)


def step(id: str, **kw: Any) -> Step:
    kw.setdefault("channels", ("email",))
    kw.setdefault("template", id)
    return Step(id=id, **kw)


def policy(*steps: Step, **kw: Any) -> Policy:
    kw.setdefault("calendar", Calendar(country=None, weekends=()))
    return Policy(id=kw.pop("id", "p"), steps=steps, **kw)


def invoice(
    id: str = "INV-1", due: date = date(2026, 3, 2), amount: str = "1000.00", **kw: Any
) -> Invoice:
    kw.setdefault("issued", date(2026, 1, 31))
    kw.setdefault("customer", "c1")
    kw.setdefault("currency", "EUR")
    return Invoice(id=id, due=due, amount=Decimal(amount), **kw)


def paid(day: date, amount: str) -> Payment:
    return Payment(day, Decimal(amount))


def repo(
    policies: list[Policy],
    invoices: list[Invoice],
    customers: list[Customer] | None = None,
    settings: Settings = SETTINGS,
) -> Repository:
    customers = customers or [CUSTOMER]
    return Repository(
        settings=settings,
        customers={c.id: c for c in customers},
        invoices={i.id: i for i in invoices},
        policies={p.id: p for p in policies},
        templates=frozenset(),
    )


def customer(**kw: Any) -> Customer:
    return replace(CUSTOMER, **kw)
