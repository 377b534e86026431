"""`nudge test` (policy unit tests) and `nudge backtest` (replays), on the sample and IBM data."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import IBM_CSV, ROOT, copy_sample, nudge

sys.path.insert(0, str(ROOT / "tools"))
import ibm_to_nudge


def test_the_test_companys_policy_cases_pass(sample: Path) -> None:
    result = nudge("test", "--root", str(sample))
    assert result.code == 0, result.out + result.err
    cases = len(list((sample / "policies" / "tests").glob("*.yaml")))
    assert cases >= 8 and result.out.strip().endswith(f"{cases} passed, 0 failed")


def test_a_wrong_expectation_fails_and_says_what_differs(sample: Path) -> None:
    case = sample / "policies" / "tests" / "wrong.yaml"
    case.parent.mkdir(parents=True, exist_ok=True)
    case.write_text(
        "policy: gentle\n"
        'invoice: {id: T-1, issued: 2026-03-01, due: 2026-03-31, amount: "1000.00"}\n'
        "run: {from: 2026-03-20, to: 2026-04-10}\n"
        "expect:\n"
        "  - {date: 2026-03-28, step: heads-up, channel: email}\n"
    )
    result = nudge("test", "--root", str(sample), str(case))
    assert result.code == 1
    assert "FAIL policies/tests/wrong.yaml" in result.out
    assert (
        "policies/tests/wrong.yaml:5:3: expected but not sent: 2026-03-28 heads-up email | "
        "sent but not expected: 2026-03-30 heads-up email; 2026-04-07 just-checking email"
        in result.out
    )


INVOICE = 'invoice: {id: T-1, issued: 2026-01-02, due: 2026-02-02, amount: "1000.00"}\n'


@pytest.mark.parametrize(
    ("case", "said"),
    [
        (
            "policy: gentle\n" + INVOICE + "run: {from: 2026-13-01, to: 2026-04-30}\nexpect: []\n",
            [
                "3:13: run.from: '2026-13-01' is not a date: there is no month 13 "
                "(write YYYY-MM-DD, e.g. 2026-10-31)"
            ],
        ),
        (
            "policy: gentle\n" + INVOICE + "run: {from: 2026-01-01, to: 2026-04-30}\n"
            "expext:\n  - {date: 2026-01-30, step: heads-up}\n",
            ["4:1: unknown key 'expext' (did you mean 'expect'?)"],
        ),
        (
            "policy: gentle\n" + INVOICE + "run: {days: [2026-01-30]}\n"
            "expect:\n  - {date: 2026-01-30, channel: emial}\n",
            [
                "5:33: expect[0].channel: 'emial' is not allowed (did you mean 'email'?)",
                "5:5: expect[0]: missing required key 'step'",
            ],
        ),
        (
            "policy: gentle\n" + INVOICE + "run: tomorrow\nexpect: []\n",
            ["3:6: run: 'tomorrow' is not allowed here"],
        ),
        (
            "policy: Gentle Policy\n" + INVOICE + "run: {days: [2026-01-30]}\nexpect:\n",
            [
                "1:9: policy: 'Gentle Policy' is not allowed: use only letters, digits, '.', '_' "
                "and '-', starting with a letter or digit"
            ],
        ),
    ],
)
def test_a_case_is_checked_against_its_schema_first(
    sample: Path, case: str, said: list[str]
) -> None:
    path = sample / "policies" / "tests" / "broken.yaml"
    path.write_text(case)
    result = nudge("test", "--root", str(sample), str(path))
    assert result.code == 1, result.err
    assert "Traceback" not in result.err
    assert result.out.splitlines() == [
        "FAIL policies/tests/broken.yaml",
        *(f"  policies/tests/broken.yaml:{line}" for line in said),
        "0 passed, 1 failed",
    ]


def test_backtest_reports_each_step_on_the_sample(sample: Path) -> None:
    result = nudge(
        "backtest",
        "--root",
        str(sample),
        "--from",
        "2026-10-01",
        "--to",
        "2026-11-23",
        "--format",
        "json",
    )
    assert result.code == 0, result.err
    data = json.loads(result.out)
    steps = {(r["policy"], r["step"], r["channel"]): r for r in data["steps"]}
    assert steps[("five-stage", "status-check", "email")]["messages"] >= 1
    assert all(
        set(d)
        >= {
            "date",
            "customer",
            "step",
            "channel",
            "invoices",
            "to",
            "cc",
            "template",
            "locale",
            "reason",
            "total_due",
            "currency",
        }
        for d in data["deliveries"]
    )
    assert sum(r["messages"] for r in data["steps"]) == len(data["deliveries"])


@pytest.fixture(scope="module")
def ibm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    company = copy_sample(tmp_path_factory.mktemp("company") / "repo")
    return ibm_to_nudge.convert(IBM_CSV, tmp_path_factory.mktemp("ibm"), company)


def test_ibm_data_converts_and_validates(ibm: Path) -> None:
    result = nudge("validate", "--root", str(ibm))
    assert result.code == 0, result.out[-2000:]
    assert result.out.startswith("valid: 100 customers, 2466 invoices")


def test_backtest_on_ibm_counts_heads_ups_independently(ibm: Path) -> None:
    """Every invoice still unpaid on its heads-up day (3 days before due, moved to a business
    day) gets exactly one heads-up. The first week is left out: a replay that starts mid-stream
    catches up on heads-ups of the days before it, which this count does not model."""
    result = nudge(
        "backtest",
        "--root",
        str(ibm),
        "--from",
        "2013-03-01",
        "--to",
        "2013-06-30",
        "--format",
        "json",
    )
    assert result.code == 0, result.err
    data = json.loads(result.out)
    counted_from = datetime(2013, 3, 8).date()
    got = {  # a heads-up may share its message with a customer's other reminders: its key says
        key.split("/")[0]
        for d in data["deliveries"]
        if d["date"] >= counted_from.isoformat()
        for key in d["keys"]
        if "/heads-up/" in key
    }
    assert len(got) > 100
    expected = set()
    with IBM_CSV.open(newline="") as handle:
        for row in csv.DictReader(handle):
            due = datetime.strptime(row["DueDate"], "%m/%d/%Y").date()
            settled = datetime.strptime(row["SettledDate"], "%m/%d/%Y").date()
            heads_up = due - timedelta(days=3)
            # the company calendar moves a weekend/holiday heads-up to the next business day
            while heads_up.weekday() >= 5 or heads_up.isoformat() in DK_HOLIDAYS_2013:
                heads_up += timedelta(days=1)
            sent_on = heads_up
            big_enough = Decimal(row["InvoiceAmount"]) >= Decimal("10.00")  # gentle's minimum
            if (
                counted_from <= sent_on <= datetime(2013, 6, 30).date()
                and settled > sent_on
                and big_enough
            ):
                expected.add(f"IBM-{row['invoiceNumber']}")
    assert got == expected


DK_HOLIDAYS_2013 = {
    "2013-01-01",
    "2013-03-28",
    "2013-03-29",
    "2013-03-31",
    "2013-04-01",
    "2013-04-26",
    "2013-05-09",
    "2013-05-19",
    "2013-05-20",
    "2013-12-25",
    "2013-12-26",
    # the test company's closures (settings.yaml calendar.closed)
    "2013-06-05",
    "2013-12-24",
    "2013-12-31",
}
