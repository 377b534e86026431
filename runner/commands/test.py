"""`nudge test`: policy test cases, kept in policies/tests/*.yaml, run like unit tests.

A case (checked against runner/schemas/case.schema.json, documented in docs/formats/case.md)
names a policy, an invoice (and optionally a customer), the days to run on, and the messages
expected, in order:

    policy: gentle
    invoice: {id: T-1, issued: 2026-01-01, due: 2026-01-31, amount: "1000.00",
              payments: [{date: 2026-02-20, amount: "1000.00"}]}
    run: {from: 2026-01-20, to: 2026-03-31}       # every day; or `days: [2026-02-03, ...]`
    expect:
      - {date: 2026-01-28, step: heads-up, channel: email}
      - {date: 2026-02-03, step: just-checking, channel: email}
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from runner import paths, simulate, workspace, yamlload
from runner.errors import NudgeError, Problem
from runner.loaded import Source
from runner.model import Contact, Customer, Repository


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "cases", nargs="*", type=Path, help="case files (default: every policies/tests/*.yaml)"
    )


def run(args: argparse.Namespace) -> int:
    root: Path = args.root
    loaded = workspace.load_valid(root, invoices=False)  # a case brings its own invoice
    files = [Path(c) for c in args.cases] or sorted((root / "policies" / "tests").glob("*.yaml"))
    if not files:
        raise NudgeError("no policy test cases: add some to policies/tests/ (see README)")
    failures = 0
    for path in files:
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        problems = check_file(loaded.repo, root, path, rel)
        if problems:
            failures += 1
            print(f"FAIL {rel}")
            for problem in problems:
                print(f"  {problem}")
        else:
            print(f"ok   {rel}")
    print(f"{len(files) - failures} passed, {failures} failed")
    return 1 if failures else 0


MAX_DAYS = 3660  # a run of ten years is a typo (9999-12-31), not a test


def check_file(repo: Repository, root: Path, path: Path, rel: str) -> list[Problem]:
    """A case file's problems: unreadable, not a case, or what it expected and did not get."""
    if path.is_relative_to(root) and not paths.is_inside(root, path):
        return [Problem(rel, 1, 1, paths.OUTSIDE)]
    if path.is_dir():
        return [Problem(rel, 1, 1, "is a folder, not a test case file: rename or remove it")]
    try:
        return check_case(repo, path, rel)
    except yamlload.YamlProblem as exc:
        return [Problem(rel, exc.line, exc.col, exc.message)]
    except OSError as exc:
        return [Problem(rel, 1, 1, f"cannot read file: {exc.strerror or exc}")]


SYNTHETIC = Customer(
    id="test-customer",
    name="Test Customer",
    locale="en",
    timezone="Europe/Copenhagen",
    policy="",
    contacts=tuple(
        Contact(f"{r.title()} Contact", r, f"{r}@customer.example", "+4520123456")
        for r in ("billing", "finance", "management")
    ),
    owner=Contact("Our Owner", "owner", "owner@example.com"),
)


def check_case(repo: Repository, path: Path, rel: str) -> list[Problem]:
    from runner import schema

    doc = yamlload.load(path, rel)
    data = doc.data
    source = Source(doc)
    if not isinstance(data, dict):
        return [Problem(rel, 1, 1, "a test case needs 'policy', 'invoice', 'run' and 'expect'")]
    found = [source.problem(w, m, key=k) for w, k, m in schema.check("case", data)]
    if found:
        return found
    if data["policy"] not in repo.policies:
        return [source.problem(("policy",), f"policy '{data['policy']}' does not exist")]
    problems, got = sent_in_case(repo, doc)
    if problems:
        return problems
    want = [
        (str(e["date"]), str(e["step"]), str(e.get("channel", "email")))
        for e in data["expect"] or []
    ]
    if got == want:
        return []
    return [source.problem(("expect",), _difference(want, got))]


Sent = list[tuple[str, str, str]]  # (date, step, channel) of each message


def sent_in_case(repo: Repository, doc: yamlload.Document) -> tuple[list[Problem], Sent]:
    """What the case's policy sends its invoice on its days, or the problems of its invoice
    (at the case file's own lines)."""
    from runner import repository

    data = doc.data
    source = Source(doc)
    days = _days(data["run"])
    if len(days) > MAX_DAYS:
        return [
            source.problem(
                ("run",), f"run: {len(days)} days; a case runs at most {MAX_DAYS} (ten years)"
            )
        ], []
    customer = repo.customers.get(str(data.get("customer", ""))) or replace(
        SYNTHETIC, policy=data["policy"], timezone=repo.settings.defaults.timezone
    )
    invoice_data = {
        "customer": customer.id,
        "currency": repo.settings.defaults.currency,
        "policy": data["policy"],
        **data["invoice"],
    }
    reader = repository._Reader(Path(doc.path).parent, {})
    checked = list(reader.checked(Source(doc, ("invoice",)), invoice_data, "invoice"))
    if not checked:
        return reader.problems, []
    invoice = reader.guarded(
        lambda: reader.invoice(checked[0][0], invoice_data, repo.settings, {customer.id: customer})
    )
    if invoice is None:
        return reader.problems, []
    trial = replace(
        repo, customers={**repo.customers, customer.id: customer}, invoices={invoice.id: invoice}
    )
    replayed = simulate.replay(trial, simulate.mornings(trial, days))
    return [], [(d.date.isoformat(), d.step, d.channel) for d in replayed.deliveries]


def _days(spec: dict[str, Any]) -> list[date]:
    if "days" in spec:
        return [date.fromisoformat(str(d)) for d in spec["days"]]
    start, end = date.fromisoformat(spec["from"]), date.fromisoformat(spec["to"])
    if (end - start).days > MAX_DAYS:
        return [start + timedelta(days=n) for n in range(MAX_DAYS + 1)]  # enough to refuse it
    return simulate.days_between(start, end)


def _difference(want: list[tuple[str, str, str]], got: list[tuple[str, str, str]]) -> str:
    missing = [w for w in want if w not in got]
    extra = [g for g in got if g not in want]
    parts = []
    if missing:
        parts.append("expected but not sent: " + "; ".join(" ".join(m) for m in missing))
    if extra:
        parts.append("sent but not expected: " + "; ".join(" ".join(e) for e in extra))
    if not parts:
        parts.append("the same messages, in another order: " + "; ".join(" ".join(g) for g in got))
    return " | ".join(parts)
