"""`nudge report`: figures computed by hand on a small ledger, and independently on the IBM data."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from runner import report
from runner.sendlog import Entry, index

from builders import SETTINGS, invoice, paid, policy, repo, step
from conftest import IBM_CSV, ROOT, copy_sample, nudge

TODAY = date(2026, 11, 23)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def small_ledger() -> report.Figures:
    invoices = [
        invoice("A", issued=ago(100), due=ago(70), amount="1000.00"),
        invoice(
            "B", issued=ago(40), due=ago(10), amount="500.00", payments=(paid(ago(5), "200.00"),)
        ),
        invoice("C", issued=ago(20), due=ago(-10), amount="800.00"),
        invoice(
            "D", issued=ago(60), due=ago(30), amount="400.00", payments=(paid(ago(25), "400.00"),)
        ),
        invoice("E", issued=ago(200), due=ago(170), amount="300.00"),
    ]
    sent = [
        Entry(
            {
                "id": "1",
                "status": "sent",
                "policy": "p",
                "step": "one",
                "channel": "email",
                "invoices": ["D"],
                "date": ago(28).isoformat(),
                "keys": ["D/one/x/email"],
            }
        ),
        Entry(
            {
                "id": "2",
                "status": "sent",
                "policy": "p",
                "step": "one",
                "channel": "email",
                "invoices": ["A"],
                "date": ago(67).isoformat(),
                "keys": ["A/one/x/email"],
            }
        ),
    ]
    r = repo([policy(step("one", at=3))], invoices, settings=SETTINGS)
    return report.compute(r, index(sent), sent, TODAY)


def test_aging_buckets_by_hand() -> None:
    f = small_ledger()
    assert f.aging_totals["EUR"] == {
        "current": Decimal("800.00"),
        "1-30": Decimal("300.00"),
        "31-60": 0,
        "61-90": Decimal("1000.00"),
        "90+": Decimal("300.00"),
    }


def test_dso_cei_and_days_late_by_hand() -> None:
    f = small_ledger()
    # receivables now 2,400 / invoiced in the period 1,700 (B, C, D) x 90 days
    assert f.dso["EUR"] == Decimal("127.1")
    # (1,300 at the start + 1,700 invoiced - 2,400 now) / (1,300 + 1,700 - 800 not yet due)
    assert f.cei["EUR"] == Decimal("27.3")
    assert f.paid_in_period == 1 and f.average_days_late == Decimal("5.0")


def test_which_steps_work_and_what_an_agency_would_net() -> None:
    f = small_ledger()
    assert f.steps == [
        {
            "policy": "p",
            "step": "one",
            "channel": "email",
            "messages": 2,
            "invoices": 2,
            "paid_within_7_days": 1,
            "share_paid": 0.5,
        }
    ]
    assert [
        (a["invoice"], a["balance"], a["agency_nets"], a["settlement_offer"]) for a in f.agency
    ] == [("E", Decimal("300.00"), Decimal("210.00"), Decimal("210.00"))]


@pytest.mark.parametrize("form", ["table", "markdown", "html", "json"])
def test_every_format_on_the_sample(form: str, sample: Path) -> None:
    result = nudge("report", "--root", str(sample), "--today", "2026-11-23", "--format", form)
    assert result.code == 0, result.err
    if form == "json":
        data = json.loads(result.out)
        assert data["broken_promises"] == [
            {"invoice": "INV-1022", "customer": "parsian-design", "promised": "2026-11-13"}
        ]
        assert "thames-analytics" in data["on_hold"]
    elif form == "html":
        assert result.out.startswith("<!doctype html>") and "<svg" in result.out
        assert "<script" not in result.out and "http" not in result.out.split("<body>")[0]
    elif form == "markdown":
        assert len(result.out.encode()) < 1024 * 1024
        assert "| customer | currency | current | 1-30 |" in result.out


def test_ibm_figures_match_an_independent_computation(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import ibm_to_nudge

    root = ibm_to_nudge.convert(IBM_CSV, tmp_path / "ibm", copy_sample(tmp_path / "company"))
    result = nudge("report", "--root", str(root), "--today", "2013-12-31", "--format", "json")
    assert result.code == 0, result.err
    got = json.loads(result.out)
    today, start = date(2013, 12, 31), date(2013, 12, 31) - timedelta(days=90)

    def day(text: str) -> date:
        return datetime.strptime(text, "%m/%d/%Y").date()

    late, receivable, sales = [], Decimal(0), Decimal(0)
    with IBM_CSV.open(newline="") as handle:
        for row in csv.DictReader(handle):
            issued, due, settled = (
                day(row["InvoiceDate"]),
                day(row["DueDate"]),
                day(row["SettledDate"]),
            )
            amount = Decimal(row["InvoiceAmount"])
            if start < settled <= today:
                late.append(max((settled - due).days, 0))
            if issued <= today < settled:
                receivable += amount
            if start < issued <= today:
                sales += amount
    assert got["paid_in_period"] == len(late)
    assert Decimal(got["average_days_late"]) == (Decimal(sum(late)) / len(late)).quantize(
        Decimal("0.1")
    )
    assert Decimal(got["dso_days"]["USD"]) == (receivable / sales * 90).quantize(Decimal("0.1"))
    total = sum(Decimal(v) for v in got["aging_totals"]["USD"].values())
    assert total == receivable
