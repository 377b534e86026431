"""One truth: on generated repositories, what `plan --today D` shows is what `run --today D`
sends, day after day with the log carried over; and `backtest --from A --to B` is what running
`run` every morning from A to B sends. Both through the real CLI (in this process, for speed).

The repositories come from tests/generated.py: payments, fees, promises with the day they were
given, pauses, disputes, payment plans, discounts, holidays and closures, overlapping repeating
steps, steps that follow another's send, customers in three time zones.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.main import main

from generated import START, Company, companies, write

EXAMPLES = int(os.environ.get("NUDGE_PROPERTY_EXAMPLES", "40"))


def cli(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    assert code in (0, 1), (
        f"nudge {' '.join(args)} exited {code}:\n{out.getvalue()}{err.getvalue()}"
    )
    return code, out.getvalue()


def log_entries(root: Path) -> list[dict[str, Any]]:
    folder = root / "log"
    if not folder.is_dir():
        return []
    return [
        json.loads(line)
        for path in sorted(folder.glob("*/*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def planned(root: Path, today: date) -> list[tuple[Any, ...]]:
    _, out = cli("plan", "--root", str(root), "--today", today.isoformat(), "--format", "json")
    return sorted(_shape(d) for d in json.loads(out)["deliveries"])


def _shape(d: dict[str, Any]) -> tuple[Any, ...]:
    return (
        d["date"],
        d["customer"],
        d["step"],
        d["channel"],
        tuple(d["keys"]),
        tuple(d["to"]),
        tuple(d["cc"]),
        d["template"],
    )


@pytest.fixture(autouse=True)
def _no_job_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(companies(), st.integers(-10, 60), st.integers(10, 45))
def test_plan_shows_what_run_sends_and_backtest_is_every_run(
    tmp_path_factory: pytest.TempPathFactory, company: Company, first: int, span: int
) -> None:
    root = write(company, tmp_path_factory.mktemp("gen") / "repo")
    start = START + timedelta(days=first)
    days = [start + timedelta(days=n) for n in range(span)]
    daily = tmp_path_factory.mktemp("daily") / "repo"
    shutil.copytree(root, daily)
    sent: list[tuple[str, tuple[str, ...]]] = []
    for today in days:
        promised = planned(daily, today)
        before = len(log_entries(daily))
        cli("run", "--root", str(daily), "--today", today.isoformat(), "--transport", "outbox")
        new = log_entries(daily)[before:]
        claims = sorted(_shape(e) for e in new if e["status"] == "pending")
        assert claims == promised, f"{today}: the run did not send what the plan showed"
        ok = ("pending", "handover", "sent", "superseded", "missed")
        failed = [e for e in new if e["status"] not in ok]
        assert not failed, f"{today}: {failed}"
        sent += [(e["date"], tuple(e["keys"])) for e in new if e["status"] == "sent"]
    # a backtest of the same days, on a repository with no log, is what those runs sent
    _, out = cli(
        "backtest",
        "--root",
        str(root),
        "--from",
        days[0].isoformat(),
        "--to",
        days[-1].isoformat(),
        "--format",
        "json",
    )
    replayed = sorted((d["date"], tuple(d["keys"])) for d in json.loads(out)["deliveries"])
    assert replayed == sorted(sent)
    # and every key was sent at most once
    keys = [k for _, ks in sent for k in ks]
    assert len(keys) == len(set(keys))


def test_a_separate_step_and_the_days_message_with_the_same_step_id_are_both_remembered(
    tmp_path: Path,
) -> None:
    """Found by the property test: a customer's invoices under two policies, each with a step
    `s0` due the same day, one of them `separate`. The forecast recorded both messages under one
    id, so it forgot one of them and sent it again the next day (plan --days, backtest)."""
    contact = {"name": "Bea Billing", "role": "billing", "email": "billing@c0.example"}
    company = Company(
        policies=[
            {"id": "p0", "steps": [{"id": "s0", "send": ["email"], "template": "gentle-tier-1",
                                    "at": 8, "separate": True}]},
            {"id": "p1", "steps": [{"id": "s0", "send": ["email"], "template": "gentle-tier-1",
                                    "at": 5}]},
        ],
        customers=[{"id": "c0", "name": "Customer 0 Ltd", "locale": "en",
                    "timezone": "Europe/Copenhagen", "policy": "p1",
                    "owner": {"name": "Olga Owner", "email": "olga@example.com"},
                    "contacts": [contact], "address": ["1 Main Street", "1000 Town"]}],
        invoices=[
            {"id": "INV-0", "customer": "c0", "issued": "2026-03-01", "due": "2026-04-01",
             "amount": "100.00", "policy": "p0"},
            {"id": "INV-1", "customer": "c0", "issued": "2026-03-01", "due": "2026-04-04",
             "amount": "100.00"},
        ],
    )  # fmt: skip
    root = write(company, tmp_path / "repo")
    _, out = cli("backtest", "--root", str(root), "--from", "2026-04-08", "--to", "2026-04-13",
                 "--format", "json")  # fmt: skip
    sent = [(d["date"], k) for d in json.loads(out)["deliveries"] for k in d["keys"]]
    assert sorted(sent) == [
        ("2026-04-09", "INV-0/s0/2026-04-09/email"),
        ("2026-04-09", "INV-1/s0/2026-04-09/email"),
    ]
