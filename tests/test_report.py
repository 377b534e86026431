"""`nudge report`: figures computed by hand on a small ledger, and independently on the IBM data."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from runner import report
from runner.commands.report import text, ticks
from runner.model import Promise
from runner.sendlog import Entry, index

from builders import SETTINGS, invoice, paid, policy, repo, step
from conftest import IBM_CSV, ROOT, copy_sample, nudge

TODAY = date(2026, 11, 23)


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def sent(
    n: str, invoices: list[str], day: date, step: str = "one", channel: str = "email"
) -> Entry:
    return Entry(
        {
            "id": n,
            "delivery": n,
            "status": "sent",
            "policy": "p",
            "step": step,
            "channel": channel,
            "invoices": invoices,
            "date": day.isoformat(),
            "keys": [f"{i}/{step}/{day}/{channel}" for i in invoices],
        }
    )


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
            "measured": 2,
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


def test_paid_within_7_days_counts_only_messages_a_week_old() -> None:
    invoices = [
        invoice("OLD", issued=ago(60), due=ago(30), payments=(paid(ago(8), "1000.00"),)),
        invoice("NEW", issued=ago(60), due=ago(30), payments=(paid(ago(1), "1000.00"),)),
    ]
    log = [sent("1", ["OLD"], ago(10)), sent("2", ["NEW"], ago(3))]
    r = repo([policy(step("one", at=3))], invoices, settings=SETTINGS)
    [row] = report.compute(r, index(log), log, TODAY).steps
    # NEW was paid 2 days after its message, but that message is 3 days old: not judged yet
    assert (row["messages"], row["invoices"], row["measured"]) == (2, 2, 1)
    assert (row["paid_within_7_days"], row["share_paid"]) == (1, 1.0)
    assert report.paid_within(row) == "1 of 1 (100%)"
    [young] = report.compute(r, index(log[1:]), log[1:], TODAY).steps
    assert young["share_paid"] is None and report.paid_within(young) == "too recent to tell"


def test_today_leaves_out_what_was_logged_later() -> None:
    invoices = [invoice("A", issued=ago(60), due=ago(30))]
    task = sent("t", ["A"], ago(2), step="call", channel="task")
    later = [sent("3", ["A"], ago(-1)), sent("4", ["A"], ago(-5), step="call", channel="task")]
    unknown = Entry({**sent("5", ["A"], ago(-2)).raw, "status": "pending"})
    log = [sent("1", ["A"], ago(20)), task, *later, unknown]
    r = repo([policy(step("one", at=3), step("call", at=25))], invoices, settings=SETTINGS)
    f = report.compute(r, index(log), log, TODAY)
    assert [(s["step"], s["messages"]) for s in f.steps] == [("one", 1), ("call", 1)]
    assert [t["date"] for t in f.open_tasks] == [ago(2).isoformat()]
    assert f.unknown == []
    assert sum(reminders for _, reminders, _ in f.activity) == 2


def test_disputes_and_promises_have_their_own_sections() -> None:
    invoices = [
        invoice("D", issued=ago(200), due=ago(120), disputed=True, dispute_reason="short delivery"),
        invoice("P", issued=ago(40), due=ago(10), promise=Promise(ago(-5), made=ago(2))),
        invoice("LATER", issued=ago(40), due=ago(10), promise=Promise(ago(-5), made=ago(-1))),
        invoice("PAST", issued=ago(40), due=ago(10), promise=Promise(ago(1), made=ago(5))),
    ]
    r = repo([policy(step("one", at=3))], invoices, settings=SETTINGS)
    f = report.compute(r, index([]), [], TODAY)
    assert f.disputes == [
        {
            "invoice": "D",
            "customer": "c1",
            "due": ago(120),
            "days_overdue": 120,
            "balance": Decimal("1000.00"),
            "currency": "EUR",
            "reason": "short delivery",
        }
    ]
    assert [(p["invoice"], p["made"], p["by"], p["promised"]) for p in f.promises] == [
        ("P", ago(2), ago(-5), Decimal("1000.00"))
    ]  # a promise not given yet (LATER) or whose date passed (PAST: broken) is not pending
    assert [i for i, _, _ in f.broken_promises] == ["PAST"]
    assert [a["invoice"] for a in f.agency] == []  # a disputed claim is not sold to an agency
    out = text(f)
    assert "In dispute (no reminders until settled with the customer)\n  invoice" in out
    assert "  D        c1        2026-07-26           120  1,000.00 EUR  short delivery\n" in out


def test_amounts_are_right_aligned(sample: Path) -> None:
    out = nudge("report", "--root", str(sample), "--today", "2026-11-23").out
    lines = out.split("Aging by customer")[1].split("\n\n")[0].splitlines()[1:]
    head = lines[0]
    for row in lines[1:]:
        assert len(row) == len(head)  # every amount ends where its heading does
        assert row.endswith(("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"))
    md = nudge("report", "--root", str(sample), "--today", "2026-11-23", "--format", "markdown").out
    assert "| customer | currency | current | 1-30 | 31-60 | 61-90 | 90+ | total |\n" in md
    assert "|---|---|---:|---:|---:|---:|---:|---:|" in md


def test_the_charts_say_what_their_axes_are(sample: Path) -> None:
    nudge("run", "--root", str(sample), "--today", "2026-11-16")
    page = nudge("report", "--root", str(sample), "--today", "2026-11-23", "--format", "html").out
    for label in ("days past due", "open balance, EUR", "week starting", "count per week"):
        assert f">{label}</text>" in page
    assert ">150,000</text>" in page  # the CNY chart's scale: 143,800 open in 1-30
    assert "reminders sent" in page and "payments received" in page  # the legend
    assert 'class="num">19,550.00</td>' in page


def test_axis_scales_are_round_numbers() -> None:
    assert ticks(143800) == [0, 50000, 100000, 150000]
    assert ticks(61250) == [0, 20000, 40000, 60000, 80000]
    assert ticks(23, whole=True) == [0, 10, 20, 30]
    assert ticks(3, whole=True) == [0, 1, 2, 3]
    assert ticks(0) == [0, 1]


def test_report_today_in_the_past_ignores_later_runs(sample: Path) -> None:
    assert nudge("run", "--root", str(sample), "--today", "2026-11-23").code == 0
    earlier = nudge("report", "--root", str(sample), "--today", "2026-11-20", "--format", "json")
    data = json.loads(earlier.out)
    assert data["steps"] == [] and data["open_tasks"] == []
    now = json.loads(
        nudge("report", "--root", str(sample), "--today", "2026-11-23", "--format", "json").out
    )
    assert now["steps"] and now["open_tasks"]
    assert [d["invoice"] for d in now["disputes"]] == ["INV-1048"]
    assert [p["invoice"] for p in now["promises"]] == ["INV-1033"]
