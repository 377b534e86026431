"""The daily commands read the log's summary and the months after it, not every month ever
written (runner/logsummary.py). On generated histories of five years (tests/histories.py: an
invoice open for three years, a number that said STOP four years ago, bounced addresses,
replies, contacts by hand, messages of unknown outcome, invoices archived since) they decide
exactly what reading every month decides: the plan of the next days with every decision and its
reason, and what `run` sends, writes to the outbox and logs. When a settled invoice is open again
or an old month changed, they read every month instead, and say so.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from histories import add_old_invoices, draw_history, write_log
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner import context, logsummary, repository, schedule, sendlog
from runner.main import main
from runner.simulate import forecast, open_on

from conftest import copy_sample
from generated import START, Company, companies, write

EXAMPLES = int(os.environ.get("NUDGE_PROPERTY_EXAMPLES", "25"))
VOLATILE = ("id", "at", "delivery", "run", "commit", "provider_id", "until", "pid", "host")
BOUNDARY = re.compile(rb"={15}[0-9]+==")


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    assert code in (0, 1), (
        f"nudge {' '.join(args)} exited {code}:\n{out.getvalue()}{err.getvalue()}"
    )
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_job_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def without_summary(root: Path, target: Path) -> Path:
    shutil.copytree(root, target)
    (target / logsummary.PATH).unlink(missing_ok=True)
    return target


def decisions(root: Path, today: date, bounded: bool) -> list[Any]:
    """Every decision of four days' plans, with the log read bounded or whole."""
    repo = repository.load(root).repo
    pool = open_on(repo, today)
    if bounded:
        log = logsummary.read(root, [pool], today).index
    else:
        log = sendlog.index(sendlog.read(root).entries)
    start = schedule.noon(today, repo.settings.defaults.timezone)
    return [
        (
            [d.as_json() for d in p.deliveries],
            [(d.key, d.status, d.reason) for d in p.decisions],
            sorted(p.stopped.items()),
        )
        for p in forecast(repo, log, start, 4, pool=pool)
    ]


def ran(root: Path, today: date) -> tuple[str, list[str], dict[str, bytes]]:
    """What `run` printed, logged (without ids and times) and wrote to the outbox."""
    before = {p: p.read_text() for p in sendlog.log_files(root)}
    _, out, _ = cli(
        "run", "--root", str(root), "--today", today.isoformat(), "--transport", "outbox"
    )
    lines = []
    for path in sendlog.log_files(root):
        new = path.read_text()[len(before.get(path, "")) :]
        for line in new.splitlines():
            raw = json.loads(line)
            lines.append(
                json.dumps({k: v for k, v in raw.items() if k not in VOLATILE}, sort_keys=True)
            )
    outbox = {  # MIME boundaries are random
        p.relative_to(root).as_posix(): BOUNDARY.sub(b"=boundary=", p.read_bytes())
        for p in sorted((root / "outbox").rglob("*"))
        if p.is_file()
    }
    return out, sorted(lines), outbox


def reopen(root: Path, company: Company, invoice: str) -> None:
    """A settled invoice open again: its payment taken back (entered by mistake)."""
    for item in company.invoices:
        if item["id"] == invoice:
            item.pop("payments", None)
    path = root / "invoices" / "all.yaml"
    path.write_text(yaml.safe_dump({"invoices": company.invoices}, sort_keys=False))


def late_line(root: Path, summary: logsummary.Summary) -> None:
    """A contact recorded by hand with an old date (`nudge note --today`), in a covered month."""
    year, month = summary.months[0].name.split("/")
    day = date(int(year), int(month), 15)
    with sendlog.path_for(root, day).open("a", encoding="utf-8") as handle:
        handle.write(
            json.dumps(
                {
                    "id": "late-note",
                    "status": "note",
                    "at": f"{day.isoformat()}T10:00:00Z",
                    "date": day.isoformat(),
                    "customer": "c0",
                    "invoices": ["OPEN-3Y"],
                    "channel": "call",
                    "text": "called",
                }
            )
            + "\n"
        )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    companies(),
    st.integers(0, 90),
    st.integers(0, 200),
    st.sampled_from(["none", "none", "reopen", "late line"]),
    st.data(),
)
def test_the_bounded_read_decides_exactly_as_the_whole_log(
    tmp_path_factory: pytest.TempPathFactory,
    company: Company,
    offset: int,
    age: int,
    change: str,
    data: st.DataObject,
) -> None:
    today = START + timedelta(days=offset)
    add_old_invoices(company, today)
    folder = tmp_path_factory.mktemp("history")
    root = write(company, folder / "repo")
    write_log(root, draw_history(data.draw, repository.load(root).repo, today))
    made = today - timedelta(days=age)
    cli("log", "summary", "--root", str(root), "--today", made.isoformat())
    summary = logsummary.load(root)
    assert summary is not None, "five years of log and no summary"
    assert cli("log", "summary", "--root", str(root), "--check")[0] == 0
    if change == "reopen":
        reopen(root, company, "PAID-0")
    elif change == "late line":
        late_line(root, summary)
    whole = without_summary(root, folder / "whole")

    read = logsummary.read(root, [open_on(repository.load(root).repo, today)], today)
    if change == "none":
        assert read.summary is not None, read.why  # an unchanged repository keeps it usable
        assert len(read.report.entries) <= len(sendlog.read(root).entries)
    elif change == "late line":
        assert read.summary is None and "no longer matches the log" in read.why

    assert decisions(root, today, bounded=True) == decisions(root, today, bounded=False)
    plan = ("plan", "--today", today.isoformat(), "--days", "4", "--format", "json")
    assert cli(*plan, "--root", str(root))[1] == cli(*plan, "--root", str(whole))[1]
    assert ran(root, today) == ran(whole, today)


def test_a_number_that_said_stop_four_years_ago_gets_no_text(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "repo")
    today = date(2026, 11, 23)
    phone = "+4520123456"  # Hyggehus' billing contact, texted by the gentle policy
    stop = today - timedelta(days=4 * 365)
    write_log(
        root,
        [
            {"id": "stop", "status": "optout", "at": f"{stop}T09:00:00Z", "date": stop.isoformat(),
             "phone": phone},
            *_filler(today - timedelta(days=4 * 365 - 30), 40),
        ],
    )  # fmt: skip
    cli("log", "summary", "--root", str(root), "--today", today.isoformat())
    summary = logsummary.load(root)
    assert summary is not None and [e.id for e in summary.entries] == ["stop"]
    repo = repository.load(root).repo
    read = logsummary.read(root, [open_on(repo, today)], today)
    assert read.summary is not None and phone in read.index.opted_out
    for day in range(30):
        _, out, _ = cli("plan", "--root", str(root), "--today", str(today + timedelta(days=day)),
                        "--format", "json")  # fmt: skip
        assert phone not in out


def test_an_invoice_open_for_three_years_keeps_its_history(tmp_path: Path) -> None:
    """Its reminders, its hold and the final notice counsel follows were all sent three years
    ago, in months the daily commands no longer read: the summary keeps them."""
    root = copy_sample(tmp_path / "repo")
    today = date(2026, 11, 23)
    issued = today - timedelta(days=3 * 365)
    due = issued + timedelta(days=30)
    (root / "invoices" / "old.yaml").write_text(
        f'id: OLD-1\ncustomer: acme\nissued: {issued}\ndue: {due}\namount: "5000.00"\n'
    )
    repo = repository.load(root).repo
    policy = repo.policies["five-stage"]
    entries = []
    for occ in schedule.occurrences(policy, due, due + timedelta(days=125)):
        for channel in occ.step.channels:
            key = f"OLD-1/{occ.step.id}/{occ.date}/{channel}"
            entries.append(
                {"id": key, "delivery": key, "status": "sent", "at": f"{occ.date}T07:00:00Z",
                 "date": occ.date.isoformat(), "keys": [key], "invoices": ["OLD-1"],
                 "customer": "acme", "step": occ.step.id, "channel": channel}
            )  # fmt: skip
    write_log(root, [*entries, *_filler(today - timedelta(days=900), 28)])
    cli("log", "summary", "--root", str(root), "--today", today.isoformat())
    read = logsummary.read(root, [open_on(repo, today)], today)
    whole = sendlog.index(sendlog.read(root).entries)
    assert read.summary is not None and "OLD-1" in read.summary.kept
    assert len(read.report.entries) == len(entries)  # not the filler about archived invoices
    final = read.index.first_sent("OLD-1", None, "final")
    assert final is not None and final == whole.first_sent("OLD-1", None, "final")
    assert (today - final).days > 2 * 365
    acme = repo.customers["acme"]
    held = context.hold_since(repo, read.index, acme, today, None)
    assert held is not None and held == context.hold_since(repo, whole, acme, today, None)
    assert held.since is not None and held.since < today - timedelta(days=2 * 365)
    assert decisions(root, today, bounded=True) == decisions(root, today, bounded=False)


def _filler(start: date, months: int) -> list[dict[str, Any]]:
    """A sent reminder a month about an invoice archived long ago."""
    found = []
    for n in range(months):
        day = start + timedelta(days=31 * n)
        for status in ("pending", "sent"):
            found.append(
                {"id": f"f{n}{status}", "delivery": f"f{n}", "status": status,
                 "at": f"{day}T07:00:0{int(status == 'sent')}Z", "date": day.isoformat(),
                 "keys": [f"ARCH-{n}/s0/{day}/email"], "invoices": [f"ARCH-{n}"],
                 "customer": "acme", "channel": "email", "step": "s0"}
            )  # fmt: skip
    return found


def test_the_check_finds_an_entry_left_out_and_a_changed_month(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "repo")
    today = date(2026, 11, 23)
    entries = _filler(date(2025, 1, 5), 14)
    entries += [
        {"id": "u1", "delivery": "u", "status": "pending", "at": "2025-03-05T07:00:00Z",
         "date": "2025-03-05", "keys": ["ARCH-X/s0/2025-03-05/email"], "customer": "acme",
         "invoices": ["ARCH-X"], "channel": "email", "step": "s0"},
    ]  # fmt: skip
    write_log(root, entries)
    cli("log", "summary", "--root", str(root), "--today", today.isoformat())
    code, out, _ = cli("log", "summary", "--root", str(root), "--check")
    assert code == 0 and "matches the log" in out
    summary = logsummary.load(root)
    assert summary is not None
    assert [e.id for e in summary.entries] == ["u1"]  # unknown outcome: a person must decide
    # an entry taken out of the summary by hand: the check says which
    path = root / logsummary.PATH
    path.write_text(logsummary.dumps(logsummary.Summary(**{**summary.__dict__, "entries": ()})))
    code, out, _ = cli("log", "summary", "--root", str(root), "--check")
    assert code == 1 and "it lacks this entry of the log" in out and '"u1"' in out
    # a month changed after it was made: the check and the daily commands notice
    cli("log", "summary", "--root", str(root), "--today", today.isoformat())
    month = root / "log" / "2025" / "03.jsonl"
    month.write_text(month.read_text() + month.read_text().splitlines()[0] + "\n")
    code, out, _ = cli("log", "summary", "--root", str(root), "--check")
    assert code == 1 and "log/2025/03.jsonl changed since the summary was made" in out
    code, _, err = cli("plan", "--root", str(root), "--today", today.isoformat())
    assert "the whole log was read" in err and "log/2025/03.jsonl changed" in err


def test_carried_on_month_by_month_it_is_what_made_at_once_gives(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "repo")
    entries = _filler(date(2025, 1, 5), 22)
    write_log(root, entries)
    for month in range(1, 12):
        day = date(2026, month, 20)
        cli("log", "summary", "--root", str(root), "--today", day.isoformat())
    carried = (root / logsummary.PATH).read_text()
    (root / logsummary.PATH).unlink()
    cli("log", "summary", "--root", str(root), "--today", "2026-11-20")
    assert (root / logsummary.PATH).read_text() == carried
