"""Random small Nudge repositories written as real files, for property tests that run the CLI.

A hypothesis strategy draws customers (in several time zones), policies (steps at a day, ranges
every N days or on weekdays, steps `after` another, holds, deadlines, fees, late fees, the
company calendar with holidays and closures) and invoices (payments, promises with the day they
were given, pauses, disputes, payment plans, early-payment discounts). `write()` turns a drawn
company into settings.yaml, customers/, invoices/, policies/ and the test company's templates.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from conftest import FIXTURE

START = date(2026, 3, 2)  # a Monday; Easter (2-6 April 2026) falls inside the generated spans
ZONES = ("Europe/Copenhagen", "Asia/Shanghai", "America/New_York")
# The test company's templates, by the channels a step sends (each has a template for each).
TEMPLATES = {
    ("email",): "gentle-tier-1",
    ("email", "sms"): "gentle-tier-3",
    ("task",): "call",
    ("email", "letter"): "reminder-letter",
    ("letter",): "lawyer-letter",
}


@dataclass
class Company:
    policies: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)


def day(offset: int) -> str:
    return (START + timedelta(days=offset)).isoformat()


@st.composite
def steps(draw: st.DrawFn) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    first = draw(st.integers(-5, 10))
    for n in range(draw(st.integers(1, 5))):
        channels = draw(st.sampled_from(sorted(TEMPLATES)))
        step: dict[str, Any] = {"id": f"s{n}", "send": list(channels)}
        step["template"] = TEMPLATES[channels]
        kind = draw(st.sampled_from(["at", "every", "weekdays", "after"] if found else ["at"]))
        if kind == "after":
            leader = draw(st.sampled_from(found))
            step["after"] = {"step": leader["id"], "business_days": draw(st.integers(0, 6))}
        else:
            first += draw(st.integers(0, 20))
            if kind == "at":
                step["at"] = first
            else:
                step["from"], step["to"] = first, first + draw(st.integers(0, 30))
                if kind == "every":
                    step["every"] = draw(st.integers(1, 10))
                else:
                    step["weekdays"] = draw(
                        st.lists(
                            st.sampled_from(["mon", "tue", "thu", "fri"]),
                            min_size=1,
                            max_size=2,
                            unique=True,
                        )
                    )
        if "email" in channels and draw(st.booleans()):
            step["cc"] = ["finance"]
        if draw(st.integers(0, 5)) == 0:
            step["hold"] = True
        if draw(st.integers(0, 4)) == 0:
            step["deadline_days"] = draw(st.integers(1, 14))
        if "after" not in step and draw(st.integers(0, 6)) == 0:
            step["fee"] = "25.00"
        if draw(st.integers(0, 5)) == 0:
            step["catch_up"] = draw(st.integers(0, 5))
        if draw(st.integers(0, 6)) == 0:
            step["separate"] = True
        found.append(step)
    return found


@st.composite
def policies(draw: st.DrawFn, name: str) -> dict[str, Any]:
    policy: dict[str, Any] = {"id": name, "steps": draw(steps())}
    fee = draw(st.sampled_from([None, "percent", "statutory", "statutory"]))
    if fee == "percent":
        policy["late_fee"] = {
            "percent": "2",
            "every_days": 30,
            "from_day": draw(st.integers(1, 40)),
        }
    elif fee == "statutory":
        policy["late_fee"] = {"statutory": "eu"}
    if draw(st.booleans()):
        policy["min_balance"] = draw(st.sampled_from(["10.00", "50.00"]))
    if draw(st.integers(0, 3)) == 0:
        policy["chase_fees"] = False
    if draw(st.integers(0, 3)) == 0:
        policy["catch_up"] = draw(st.integers(0, 5))
    return policy


@st.composite
def invoices(draw: st.DrawFn, n: int, customer: str, policies: list[str]) -> dict[str, Any]:
    issued = draw(st.integers(-60, 20))
    due = issued + draw(st.integers(0, 40))
    amount = draw(st.sampled_from(["1000.00", "250.00", "12500.00", "60.00"]))
    invoice: dict[str, Any] = {
        "id": f"INV-{n}",
        "customer": customer,
        "issued": day(issued),
        "due": day(due),
        "amount": amount,
    }
    if draw(st.booleans()):
        invoice["policy"] = draw(st.sampled_from(policies))
    payments = []
    for _ in range(draw(st.integers(0, 2))):
        payments.append(
            {
                "date": day(due + draw(st.integers(-10, 70))),
                "amount": draw(st.sampled_from([amount, amount, "500.00", "1052.32", "980.00"])),
            }
        )
    if payments:
        invoice["payments"] = payments
    extra = draw(
        st.sampled_from(["", "", "promise", "pause", "dispute", "plan", "discount", "void"])
    )
    if extra == "promise":
        made = due + draw(st.integers(-5, 40))
        invoice["promise"] = {"date": day(made + draw(st.integers(0, 20))), "made": day(made)}
        if draw(st.booleans()):
            invoice["promise"]["amount"] = "100.00"
    elif extra == "pause":
        invoice["paused_until"] = day(due + draw(st.integers(0, 40)))
    elif extra == "dispute":
        invoice["disputed"] = True
    elif extra == "plan" and amount == "1000.00":
        invoice["installments"] = [
            {"due": day(due), "amount": "400.00"},
            {"due": day(due + draw(st.integers(10, 40))), "amount": "600.00"},
        ]
    elif extra == "discount":
        invoice["discount"] = {"percent": "2", "until": day(issued + draw(st.integers(0, 10)))}
    elif extra == "void":
        invoice["void"] = True
    return invoice


@st.composite
def companies(draw: st.DrawFn) -> Company:
    company = Company()
    names = [f"p{n}" for n in range(draw(st.integers(1, 2)))]
    company.policies = [draw(policies(name)) for name in names]
    for n in range(draw(st.integers(1, 3))):
        customer = {
            "id": f"c{n}",
            "name": f"Customer {n} Ltd",
            "locale": "en",
            "timezone": draw(st.sampled_from(ZONES)),
            "policy": draw(st.sampled_from(names)),
            "owner": {"name": "Olga Owner", "email": "olga@example.com"},
            "contacts": [
                {
                    "name": "Bea Billing",
                    "role": "billing",
                    "email": f"billing@c{n}.example",
                    "phone": "+4520123456",
                },
                {"name": "Finn Finance", "role": "finance", "email": f"finance@c{n}.example"},
            ],
            "address": ["1 Main Street", "1000 Town"],
        }
        if draw(st.integers(0, 6)) == 0:
            customer["paused_until"] = day(draw(st.integers(0, 60)))
        if draw(st.integers(0, 8)) == 0:
            customer["hold"] = True
        company.customers.append(customer)
    count = 0
    for customer in company.customers:
        for _ in range(draw(st.integers(1, 3))):
            company.invoices.append(draw(invoices(count, customer["id"], names)))
            count += 1
    company.closed = draw(
        st.lists(st.sampled_from(["12-24", "12-31", "03-17", day(20)]), unique=True, max_size=2)
    )
    return company


def write(company: Company, root: Path) -> Path:
    """The company as a repository in `root`: the test company's settings and templates, the
    drawn customers, invoices and policies."""
    root.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_load((FIXTURE / "settings.yaml").read_text(encoding="utf-8"))
    settings["defaults"]["policy"] = company.policies[0]["id"]
    settings["calendar"] = {"country": "DK", "closed": company.closed}
    _dump(root / "settings.yaml", settings)
    for name in ("_layout", *TEMPLATES.values()):
        shutil.copytree(FIXTURE / "templates" / name, root / "templates" / name, dirs_exist_ok=True)
    for policy in company.policies:
        _dump(root / "policies" / f"{policy['id']}.yaml", policy)
    for customer in company.customers:
        _dump(root / "customers" / f"{customer['id']}.yaml", customer)
    _dump(root / "invoices" / "all.yaml", {"invoices": company.invoices})
    return root


def _dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
