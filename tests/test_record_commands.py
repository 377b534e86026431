"""`nudge pay`, `promise`, `dispute`, `pause`: round-trip edits of the right file that keep
what people wrote by hand, that `validate` accepts and the schedule obeys, with --commit."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, git_repo, nudge

TODAY = "2026-12-03"


def plan(root: Path, today: str = TODAY) -> list[dict[str, object]]:
    done = nudge("plan", "--root", str(root), "--today", today, "--format", "json")
    assert done.code == 0, done.err
    return json.loads(done.out)["deliveries"]  # type: ignore[no-any-return]


def reminded(root: Path, today: str = TODAY) -> set[str]:
    return {i for d in plan(root, today) for i in d["invoices"]}  # type: ignore[attr-defined]


def test_pay_appends_to_the_payments_and_keeps_everything_else(sample: Path) -> None:
    path = sample / "invoices" / "2026" / "INV-1015.yaml"
    before = path.read_text()
    done = nudge(
        "pay", "INV-1015", "3000", "--date", "2026-11-09", "--ref", "SWIFT 261109PAR0002",
        "--root", str(sample),
    )  # fmt: skip
    assert done.code == 0, done.err
    assert "INV-1015: paid 3,000.00 EUR on 2026-11-09, ref SWIFT 261109PAR0002" in done.out
    assert "3,000.00 EUR still open" in done.out
    after = path.read_text()
    # the payment plan's comment, the flow style and the quoting are as they were
    assert (
        after == before + '  - {date: 2026-11-09, amount: "3000.00", ref: "SWIFT 261109PAR0002"}\n'
    )
    assert nudge("validate", "--root", str(sample)).code == 0
    again = nudge(
        "pay", "INV-1015", "3000", "--date", "2026-11-09", "--ref", "SWIFT 261109PAR0002",
        "--root", str(sample),
    )  # fmt: skip
    assert again.code == 1 and "already has a payment with ref" in again.err
    assert path.read_text() == after


def test_a_paid_invoice_is_no_longer_reminded(sample: Path) -> None:
    assert "INV-1021" in reminded(sample)
    assert nudge("pay", "INV-1021", "7350.00", "--root", str(sample), "--date", TODAY).code == 0
    assert "INV-1021" not in reminded(sample)


def test_pay_refuses_what_is_not_money(sample: Path) -> None:
    path = sample / "invoices" / "2026" / "INV-1021.yaml"
    before = path.read_text()
    for amount, words in (
        ("12,50", "is not an amount"),
        ("-5", "is not positive"),
        ("10.001", "more decimals than EUR allows"),
    ):
        done = nudge("pay", "INV-1021", amount, "--root", str(sample), "--date", TODAY)
        assert done.code == 1 and words in done.err and "Traceback" not in done.err
    unknown = nudge("pay", "INV-1212", "1", "--root", str(sample))
    assert unknown.code == 1 and "no invoice 'INV-1212'" in unknown.err
    assert path.read_text() == before


def test_promise_dispute_and_pause_each_hold_the_reminders(sample: Path) -> None:
    assert {"INV-1021", "INV-1031", "INV-1053"} <= reminded(sample)
    steps = [
        ("promise", "INV-1021", "2026-12-20", "--note", "Jennifer, by phone", "--today", TODAY),
        ("dispute", "INV-1031", "--reason", "hours on the second workshop day"),
        ("pause", "huaxin-trading", "--until", "2026-12-31"),
    ]
    for step in steps:
        done = nudge(*step, "--root", str(sample))
        assert done.code == 0, done.err
    assert nudge("validate", "--root", str(sample)).code == 0
    left = reminded(sample)
    assert not {"INV-1021", "INV-1031", "INV-1053"} & left
    text = (sample / "invoices" / "2026" / "INV-1021.yaml").read_text()
    assert 'promise: {date: 2026-12-20, made: 2026-12-03, note: "Jennifer, by phone"}' in text
    disputed = (sample / "invoices" / "2026" / "INV-1031.yaml").read_text()
    assert 'disputed: true\ndispute_reason: "hours on the second workshop day"\n' in disputed
    customer = (sample / "customers" / "huaxin-trading.yaml").read_text()
    assert customer.endswith("paused_until: 2026-12-31\n")
    # and undone again
    for step in (("dispute", "INV-1031", "--clear"), ("pause", "huaxin-trading", "--clear")):
        assert nudge(*step, "--root", str(sample)).code == 0
    assert {"INV-1031", "INV-1053"} <= reminded(sample)


def test_an_invoice_inside_an_export_file_is_edited_in_place(sample: Path) -> None:
    export = sample / "invoices" / "2026" / "export-2026-09.yaml"
    before = export.read_text()
    assert nudge("pause", "INV-1027", "--until", "2026-12-15", "--root", str(sample)).code == 0
    after = export.read_text()
    assert after != before and after.count("paused_until: 2026-12-15") == 1
    assert "INV-1027" not in reminded(sample)
    assert nudge("validate", "--root", str(sample)).code == 0


def test_dry_run_shows_the_diff_and_writes_nothing(sample: Path) -> None:
    path = sample / "invoices" / "2026" / "INV-1021.yaml"
    before = path.read_text()
    done = nudge(
        "dispute", "INV-1021", "--reason", "PO missing", "--dry-run", "--root", str(sample)
    )
    assert done.code == 0
    assert '+disputed: true\n+dispute_reason: "PO missing"' in done.out
    assert path.read_text() == before


def test_commit_records_just_the_file_with_what_happened(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "office")
    (repo / "notes.txt").write_text("work in progress, not to be committed\n")
    git(repo, "add", "notes.txt")
    done = nudge(
        "pay", "INV-1021", "7350", "--date", TODAY, "--ref", "DB2612030000101", "--commit",
        "--root", str(repo),
    )  # fmt: skip
    assert done.code == 0, done.err
    subject = git(repo, "log", "-1", "--format=%s%n%an")
    assert subject == (
        "nudge pay: INV-1021: paid 7,350.00 EUR on 2026-12-03, ref DB2612030000101 (paid in full)"
        "\nAda Finance"
    )
    assert git(repo, "show", "--name-only", "--format=", "HEAD") == "invoices/2026/INV-1021.yaml"
    assert git(repo, "diff", "--cached", "--name-only") == "notes.txt"  # left staged, untouched
    history = nudge("history", "INV-1021", "--root", str(repo))
    assert "payment of 7350.00 on 2026-12-03 recorded (DB2612030000101)" in history.out
