"""`nudge plan` as a finance person uses it: the next days, and why an invoice got nothing."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import nudge


def test_days_ahead_assume_each_day_was_sent_and_no_payment_came(sample: Path) -> None:
    result = nudge(
        "plan", "--root", str(sample), "--today", "2026-11-23", "--days", "5", "--format", "json"
    )
    assert result.code == 0, result.err
    deliveries = json.loads(result.out)["deliveries"]
    keys = [k for d in deliveries for k in d["keys"]]
    assert len(keys) == len(set(keys))  # a reminder of Monday is not planned again on Tuesday
    days = {d["date"] for d in deliveries}
    assert days <= {"2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"}
    assert ("2026-11-25", "acme", "weekly-statement") in {
        (d["date"], d["customer"], d["step"]) for d in deliveries
    }


def test_explain_says_why_an_invoice_gets_nothing_today(sample: Path) -> None:
    result = nudge("plan", "--root", str(sample), "--today", "2026-11-23", "--explain", "INV-1033")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    head = lines.index("INV-1033 - 上海华鑫贸易有限公司 - policy gentle")
    assert "today 2026-11-23 (Asia/Shanghai); due 2026-10-26" in lines[head + 1]
    assert lines[head + 2] == (
        "  => no reminders today: customer promised to pay by 2026-11-30: waiting until then"
    )
    # what happens after the promise date is the forecast's own decision, with its day
    rows = {(line.split()[3], line.split()[4]): line for line in lines[head + 3 :]}
    assert "sent 2026-12-01" in rows[("tier-2", "email")]
    assert "was broken" in rows[("tier-2", "email")]
    assert "sent 2026-12-10" in rows[("tier-3", "sms")]
    assert "superseded 2026-12-01" in rows[("tier-1", "email")]


def test_explain_a_customer_covers_each_of_their_invoices(sample: Path) -> None:
    result = nudge(
        "plan",
        "--root",
        str(sample),
        "--today",
        "2026-11-23",
        "--explain",
        "thames-analytics",
        "--format",
        "json",
    )
    data = json.loads(result.out)
    invoices = {i["invoice"]: i for i in data["invoices"]}
    assert invoices["INV-1049"]["stopped"] == "void: no reminders"
    due = [d for d in invoices["INV-1023"]["decisions"] if d["status"] == "due"]
    assert {(d["step"], d["channel"]) for d in due} == {("tier-3", "email"), ("tier-3", "sms")}


def test_markdown_fits_a_job_summary(sample: Path) -> None:
    result = nudge("plan", "--root", str(sample), "--today", "2026-11-23", "--format", "markdown")
    assert result.out.startswith("**11 messages** (2026-11-23)")
    assert "<details><summary>Why each message is due</summary>" in result.out


def test_text_messages_show_their_encoding_and_segments(sample: Path) -> None:
    result = nudge("plan", "--root", str(sample), "--today", "2026-11-23", "--format", "json")
    texts = {
        d["customer"]: d["sms"]
        for d in json.loads(result.out)["deliveries"]
        if d["channel"] == "sms"
    }
    assert texts["thames-analytics"]["encoding"] == "GSM-7"
    assert texts["parsian-design"]["encoding"] == "UCS-2"  # Persian script
    assert all(1 <= t["segments"] <= 3 for t in texts.values())
    table = nudge("plan", "--root", str(sample), "--today", "2026-11-23").out
    assert "sms (3 x UCS-2)" in table
