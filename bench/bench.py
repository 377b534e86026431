#!/usr/bin/env python3
"""Nudge benchmark: loading, validate and plan at 10k/100k invoices, start-up, e-mail throughput,
memory and profiles. Prints figures; asserts nothing. See bench/README.md.

    python bench/bench.py [--sizes 10000,100000] [--quick]

Every heavy measurement runs in a fresh worker process (this script with --worker), so each
repeat starts as cold as a real `nudge` command does (no warm functools caches), and a
measurement that runs away can be stopped by a timeout without losing the rest of the report.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent  # the sample repository, and the checkout that holds `runner`
OUT = BENCH / "out"
GENERATOR_VERSION = 3
DEFAULT_TODAY = "2026-11-23"
RESULT = "BENCH-RESULT "  # prefix of the one JSON line a worker prints

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# =============================================================================================
# 1. Generating a repository
# =============================================================================================

# locale, time zone, customer currency (None: settings default EUR), sample phone numbers
# (varied in their last digits, each checked with phonenumbers), words for names
LOCALES: list[tuple[str, str, str | None, list[str], list[str], str]] = [
    (
        "en_US",
        "America/New_York",
        "USD",
        ["+1 212 555 0143", "+1 646 555 0178"],
        ["Acme", "Summit", "Liberty", "Harbor", "Granite", "Prairie"],
        "Inc.",
    ),
    (
        "da",
        "Europe/Copenhagen",
        "DKK",
        ["+45 31 23 45 67", "+45 20 12 34 56"],
        ["Fjord", "Hygge", "Nordlys", "Bølge", "Skov", "Havn"],
        "ApS",
    ),
    (
        "da_DK",
        "Europe/Copenhagen",
        "DKK",
        ["+45 20 12 34 56", "+45 31 23 45 67"],
        ["Møller", "Strand", "Lyng", "Ege", "Klit", "Vang"],
        "A/S",
    ),
    (
        "zh",
        "Asia/Shanghai",
        "CNY",
        ["+86 138 0013 8000"],
        ["华鑫", "东方", "长城", "新世纪", "金桥", "远航"],
        "有限公司",
    ),
    (
        "en",
        "Europe/Dublin",
        None,
        ["+353 85 123 4567"],
        ["Liffey", "Shannon", "Emerald", "Claddagh", "Howth", "Wicklow"],
        "Ltd",
    ),
    (
        "en_GB",
        "Europe/London",
        "GBP",
        ["+44 7911 123456"],
        ["Thames", "Pennine", "Cotswold", "Mersey", "Severn", "Avon"],
        "Ltd",
    ),
    (
        "fa",
        "Asia/Tehran",
        None,
        ["+98 912 345 6789"],
        ["پارسیان", "آریا", "البرز", "سپهر", "نگین", "مهر"],
        "شرکت",
    ),
    (
        "pl",
        "Europe/Warsaw",
        "PLN",
        ["+48 512 345 678", "+48 601 234 567"],
        ["Wisła", "Tatry", "Mazury", "Bałtyk", "Odra", "Warta"],
        "sp. z o.o.",
    ),
]
LOCALE_WEIGHTS = [3, 3, 1, 1, 2, 2, 1, 1]
POLICIES = [("gentle", 55), ("five-stage", 30), ("letters-30-60-90", 15)]
TRADES = ["Trading", "Logistics", "Software", "Design", "Analytics", "Foods", "Engineering"]
WORK = {
    "en": "Consulting services",
    "da": "Rådgivning",
    "zh": "咨询服务",
    "fa": "خدمات مشاوره",
    "pl": "Usługi doradcze",
}


def label(size: int) -> str:
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def _valid_phones(base: list[str], rng: random.Random, count: int) -> list[str]:
    import phonenumbers

    out: list[str] = []
    for _ in range(count * 4):
        if len(out) >= count:
            break
        text = rng.choice(base)
        digits = list(text)
        positions = [i for i, c in enumerate(digits) if c.isdigit()][-2:]
        for i in positions:
            digits[i] = str(rng.randrange(10))
        candidate = "".join(digits)
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate, None)):
            out.append(candidate)
    return out or list(base)


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _paid(
    rng: random.Random, issued: date, cents: int, latest: date, today: date
) -> list[tuple[date, int, str]]:
    """Payments settling the invoice in full between its issue and `latest` (before today)."""
    low = issued + timedelta(days=1)
    latest = max(low, min(latest, today - timedelta(days=1)))
    when = low + timedelta(days=rng.randint(0, (latest - low).days))
    if rng.random() < 0.1:
        first = cents // 2
        early = low + timedelta(days=rng.randint(0, (when - low).days))
        return [(early, first, "bank transfer (1/2)"), (when, cents - first, "bank transfer (2/2)")]
    return [(when, cents, f"bank {rng.randint(10000, 99999)}")]


def generate(root: Path, invoices_total: int, today: date, seed: int) -> dict[str, Any]:
    """Write a Nudge repository with invoices_total/10 customers, invoices and a year of log."""
    from decimal import Decimal

    from runner import repository
    from runner.model import (
        Contact,
        Customer,
        Discount,
        Installment,
        Invoice,
        Payment,
        Promise,
        Repository,
    )

    started = time.perf_counter()
    rng = random.Random(seed)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copy2(ROOT / "settings.yaml", root / "settings.yaml")
    shutil.copytree(ROOT / "policies", root / "policies")
    shutil.copytree(ROOT / "templates", root / "templates")
    base = repository.load(root)  # settings and policies, as the runner reads them
    if base.errors:
        raise SystemExit(f"the sample's settings/policies do not load: {base.errors[:3]}")
    settings, policies = base.repo.settings, base.repo.policies
    policy_names = [p for p, _ in POLICIES if p in policies] or sorted(policies)
    policy_weights = [w for p, w in POLICIES if p in policies] or [1] * len(policy_names)

    # -- customers ---------------------------------------------------------------------------
    n_customers = max(1, invoices_total // 10)
    (root / "customers").mkdir()
    customers: dict[str, Customer] = {}
    owners = [
        ("Freja Lindqvist", "freja.lindqvist"),
        ("Mads Rasmussen", "mads.rasmussen"),
        ("Wei Chen", "wei.chen"),
        ("Anna Kowalska", "anna.kowalska"),
    ]
    domain = settings.company.email.rsplit("@", 1)[-1]
    phones = {loc[0]: _valid_phones(loc[3], rng, 40) for loc in LOCALES}
    for n in range(1, n_customers + 1):
        locale, tz, currency, _, words, suffix = rng.choices(LOCALES, LOCALE_WEIGHTS)[0]
        policy = rng.choices(policy_names, policy_weights)[0]
        word, trade = rng.choice(words), rng.choice(TRADES)
        cid = f"c{n:05d}-{trade.lower()}"
        name = f"{word} {trade} {n} {suffix}"
        host = f"{cid}.example"
        owner_name, owner_mail = rng.choice(owners)
        phone = rng.choice(phones[locale])
        paused = today + timedelta(days=rng.randint(-10, 25)) if rng.random() < 0.01 else None
        hold = rng.random() < 0.02
        contacts = (
            Contact("Jordan Billing", "billing", f"ap@{host}", None),
            Contact("Casey Finance", "finance", f"finance@{host}"),
            Contact("Morgan Boss", "management", f"ceo@{host}"),
        )
        lines = [
            "# yaml-language-server: $schema=../runner/schemas/customer.schema.json",
            f"id: {cid}",
            f"name: {_q(name)}",
            f"locale: {locale}",
            f"timezone: {tz}",
            f"policy: {policy}",
        ]
        if currency:
            lines.append(f"currency: {currency}")
        lines += [
            f"owner: {{name: {owner_name}, email: {owner_mail}@{domain}}}",
            "contacts:",
            f'  - {{name: Jordan Billing, role: billing, email: ap@{host}, phone: "{phone}"}}',
            f"  - {{name: Casey Finance, role: finance, email: finance@{host}}}",
            f"  - {{name: Morgan Boss, role: management, email: ceo@{host}}}",
            "address:",
            f"  - {_q(f'{rng.randint(1, 200)} {word} Street')}",
            f"  - {_q(f'{rng.randint(1000, 9999)} {word}ville')}",
        ]
        if paused:
            lines.append(f"paused_until: {paused.isoformat()}")
        if hold:
            lines.append("hold: true")
        (root / "customers" / f"{cid}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        customers[cid] = Customer(
            id=cid,
            name=name,
            locale=locale,
            timezone=tz,
            policy=policy,
            contacts=contacts,
            owner=Contact(owner_name, "owner", f"{owner_mail}@{domain}"),
            currency=currency,
            address=("x",),
            paused_until=paused,
            hold=hold,
            path=f"customers/{cid}.yaml",
        )

    # -- invoices ------------------------------------------------------------------------------
    ids = list(customers)
    weights = [rng.paretovariate(2.5) for _ in ids]  # some customers buy much more than others
    first_issue = today - timedelta(days=365)
    buyers = rng.choices(ids, weights, k=invoices_total)
    specs = sorted((first_issue + timedelta(days=rng.randint(0, 365 + 14)), cid) for cid in buyers)
    invoices: dict[str, Invoice] = {}
    states: dict[str, int] = defaultdict(int)
    years: set[int] = set()
    for number, (issued, cid) in enumerate(specs, start=100001):
        customer = customers[cid]
        inv_id = f"INV-{number}"
        terms = rng.choice([14, 30, 30, 30, 45, 60])
        due = issued + timedelta(days=terms)
        cents = max(10000, int(rng.lognormvariate(8.4, 0.9) * 100))
        currency = customer.currency or settings.defaults.currency
        policy_override = "five-stage" if rng.random() < 0.01 and "five-stage" in policies else None
        policy_id = policy_override or customer.policy
        month = f"{issued:%B %Y}"
        desc = f"{WORK.get(customer.locale.split('_')[0], WORK['en'])}, {month}"
        extra: list[str] = []
        payments: list[tuple[date, int, str]] = []
        installments: list[tuple[date, int]] = []
        promise = None
        paused = None
        flags: dict[str, bool] = {}
        discount = None
        if rng.random() < 0.08:
            discount = (Decimal(2), issued + timedelta(days=10))
        overdue = (today - due).days
        r = rng.random()

        if overdue >= 0:  # due today or earlier
            p_open = (
                0.35
                if overdue <= 15
                else 0.2
                if overdue <= 30
                else 0.12
                if overdue <= 60
                else 0.07
                if overdue <= 120
                else 0.03
            )
            if r < 0.005:
                state, flags["void"] = "void", True
            elif r < 0.01 and overdue > 120:
                state, flags["written_off"] = "written off", True
            elif r < 0.02:
                state, flags["disputed"] = "disputed", True
            elif r < 0.02 + p_open:
                kind = rng.random()
                if kind < 0.55:
                    state = "open"
                elif kind < 0.75:
                    state = "partly paid"
                    part = int(cents * rng.uniform(0.2, 0.7))
                    when = due + timedelta(days=rng.randint(0, max(0, overdue - 1)))
                    payments.append((min(when, today - timedelta(days=1)), part, "part payment"))
                elif kind < 0.87:
                    state = "payment plan"
                    share = cents // 3
                    installments = [
                        (due, share),
                        (due + timedelta(days=30), share),
                        (due + timedelta(days=60), cents - 2 * share),
                    ]
                    passed = sum(1 for d, _ in installments if d < today)
                    for k in range(rng.randint(0, max(0, min(2, passed - 1)))):
                        d, amount = installments[k]
                        payments.append((min(d, today - timedelta(days=1)), amount, "installment"))
                elif kind < 0.95:
                    state = "promise"
                    made = max(issued, today - timedelta(days=rng.randint(1, 20)))
                    promise = (today + timedelta(days=rng.randint(-10, 14)), made)
                else:
                    state = "paused"
                    paused = today + timedelta(days=rng.randint(1, 30))
            else:
                state = "paid"
                latest = due if policy_id == "letters-30-60-90" else due + timedelta(days=45)
                payments += _paid(rng, issued, cents, min(latest, today), today)
        else:
            if r < 0.12 and issued < today - timedelta(days=1):
                state = "paid early"
                payments += _paid(rng, issued, cents, today, today)
            elif r < 0.15 and issued < today - timedelta(days=1):
                state = "partly paid"
                when = issued + timedelta(days=rng.randint(1, (today - issued).days - 1))
                payments.append((when, int(cents * rng.uniform(0.2, 0.7)), "part payment"))
            else:
                state = "not yet due" if issued <= today else "issued in the future"
        states[state] += 1

        lines = [
            "# yaml-language-server: $schema=../../runner/schemas/invoice.schema.json",
            f"id: {inv_id}",
            f"customer: {cid}",
            f"description: {_q(desc)}",
            f"issued: {issued.isoformat()}",
            f"due: {due.isoformat()}",
            f'amount: "{_money(cents)}"',
        ]
        if policy_override:
            lines.append(f"policy: {policy_override}")
        if discount:
            lines.append(f"discount: {{percent: 2, until: {discount[1].isoformat()}}}")
        if payments:
            lines.append("payments:")
            lines += [
                f'  - {{date: {d.isoformat()}, amount: "{_money(a)}", ref: {_q(ref)}}}'
                for d, a, ref in payments
            ]
        if installments:
            lines.append("installments:")
            lines += [
                f'  - {{due: {d.isoformat()}, amount: "{_money(a)}"}}' for d, a in installments
            ]
        if promise:
            lines.append(
                f"promise: {{date: {promise[0].isoformat()}, made: {promise[1].isoformat()}, "
                'note: "phoned: will pay in full"}'
            )
        if paused:
            lines.append(f"paused_until: {paused.isoformat()}")
        lines += [f"{flag}: true" for flag in flags] + extra
        folder = root / "invoices" / f"{issued.year:04d}"
        if issued.year not in years:
            folder.mkdir(parents=True, exist_ok=True)
            years.add(issued.year)
        (folder / f"{inv_id}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        to_dec = lambda c: Decimal(c) / 100  # noqa: E731
        invoices[inv_id] = Invoice(
            id=inv_id,
            customer=cid,
            issued=issued,
            due=due,
            amount=to_dec(cents),
            currency=currency,
            policy=policy_override,
            description=desc,
            discount=Discount(*discount) if discount else None,
            payments=tuple(Payment(d, to_dec(a), ref) for d, a, ref in payments),
            promise=Promise(promise[0], None, "", promise[1]) if promise else None,
            disputed=flags.get("disputed", False),
            void=flags.get("void", False),
            written_off=flags.get("written_off", False),
            paused_until=paused,
            installments=tuple(Installment(d, to_dec(a)) for d, a in installments),
            path=str(folder / f"{inv_id}.yaml"),
        )

    repo = Repository(settings, customers, invoices, policies, base.repo.templates)
    log_lines = _write_log(root, repo, today, rng)
    info = {
        "version": GENERATOR_VERSION,
        "invoices": invoices_total,
        "customers": n_customers,
        "today": today.isoformat(),
        "seed": seed,
        "states": dict(sorted(states.items(), key=lambda kv: -kv[1])),
        "log_lines": log_lines,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (root / ".bench-generated.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _write_log(root: Path, repo: Any, today: date, rng: random.Random) -> int:
    """The send log `nudge run` would have written running every morning for the past year:
    pending + sent pairs, one delivery per customer, step and channel on a day."""
    from runner import ledger, schedule
    from runner.sendlog import Key, new_id

    groups: dict[tuple[date, str, str, int, str], list[tuple[str, str]]] = defaultdict(list)
    notes: list[tuple[date, str, str]] = []
    yesterday = today - timedelta(days=1)
    for invoice in repo.invoices.values():
        customer = repo.customers[invoice.customer]
        policy = repo.policy_for(invoice)
        obligations = invoice.obligations
        for number, obligation in enumerate(sorted(obligations, key=lambda o: o.due), start=1):
            for occ in schedule.occurrences(policy, obligation.due, yesterday):
                day = occ.date
                if day >= today or day < invoice.issued:
                    continue
                if schedule.stop_reason(repo, invoice, policy, customer, day) is not None:
                    continue
                if invoice.installments:
                    current = ledger.current_obligation(invoice, day)
                    if current is None or current.number != number:
                        continue
                inst = number if invoice.installments else None
                for channel in occ.step.channels:
                    key = str(Key(invoice.id, inst, occ.step.id, day, channel))
                    groups[(day, customer.id, policy.id, occ.step_index, channel)].append(
                        (invoice.id, key)
                    )
        if (today - invoice.due).days > 20 and rng.random() < 0.004:
            notes.append((today - timedelta(days=rng.randint(1, 15)), invoice.id, customer.id))

    by_month: dict[tuple[int, int], list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    commit_of: dict[int, str] = {}
    for (day, cid, policy_id, step_index, channel), items in groups.items():
        customer = repo.customers[cid]
        step = repo.policies[policy_id].steps[step_index]
        to, cc = schedule.recipients(repo, customer, step, channel)
        week = day.toordinal() // 7
        commit = commit_of.setdefault(week, f"{rng.getrandbits(160):040x}")
        run = f"gh-{day.toordinal() - 730000}-1"
        delivery = new_id()
        invoices = list(dict.fromkeys(i for i, _ in items))
        base = {
            "delivery": delivery,
            "date": day.isoformat(),
            "keys": [k for _, k in items],
            "customer": cid,
            "invoices": invoices,
            "step": step.id,
            "policy": policy_id,
            "channel": channel,
            "to": [schedule.address(c, channel) for c in to],
            "cc": [schedule.address(c, channel) for c in cc],
            "template": repo.template_for(step.template, customer.locale, channel) or step.template,
            "locale": customer.locale,
            "commit": commit,
            "run": run,
        }
        sec = rng.randint(0, 3599)
        at1 = f"{day.isoformat()}T07:{sec // 60:02d}:{sec % 60:02d}.{rng.randint(0, 999999):06d}Z"
        at2 = f"{day.isoformat()}T07:{sec // 60:02d}:{sec % 60:02d}.{rng.randint(0, 999999):06d}Z"
        at1, at2 = min(at1, at2), max(at1, at2)
        subject = f"{step.id}: invoice {invoices[0]}" + (
            f" and {len(invoices) - 1} more" if len(invoices) > 1 else ""
        )
        pending = {**base, "id": new_id(), "status": "pending", "at": at1, "subject": subject}
        sent = {
            **base,
            "id": new_id(),
            "status": "sent",
            "at": at2,
            "attempts": 1,
            "provider_id": f"2.0.0 Ok: queued as {rng.getrandbits(48):012X}",
        }
        by_month[(day.year, day.month)] += [(at1, pending), (at2, sent)]
    for day, invoice_id, cid in notes:
        at = f"{day.isoformat()}T10:15:00.000000Z"
        entry = {
            "id": new_id(),
            "status": "note",
            "at": at,
            "date": day.isoformat(),
            "customer": cid,
            "invoices": [invoice_id],
            "channel": "call",
            "text": "called; promised to pay Friday",
            "by": "Freja Lindqvist",
        }
        by_month[(day.year, day.month)].append((at, entry))
    total = 0
    for (year, month), entries in sorted(by_month.items()):
        folder = root / "log" / f"{year:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        entries.sort(key=lambda e: e[0])
        text = "".join(
            json.dumps(raw, ensure_ascii=False, sort_keys=True) + "\n" for _, raw in entries
        )
        (folder / f"{month:02d}.jsonl").write_text(text, encoding="utf-8")
        total += len(entries)
    return total


def ensure_repo(size: int, today: date, regenerate: bool) -> tuple[Path, dict[str, Any]]:
    root = OUT / f"repo-{label(size)}"
    marker = root / ".bench-generated.json"
    seed = 1000 + size
    if marker.exists() and not regenerate:
        info = json.loads(marker.read_text())
        if (info.get("version"), info.get("invoices"), info.get("today"), info.get("seed")) == (
            GENERATOR_VERSION,
            size,
            today.isoformat(),
            seed,
        ):
            info["reused"] = True
            return root, info
    # the generator runs in its own process so this one stays free of runner imports
    info = worker(["generate", "--root", str(root), "--size", str(size)], today, timeout=3600)
    if info is None:
        raise SystemExit("generating the repository failed")
    info["reused"] = False
    return root, info


# =============================================================================================
# 2. Workers: one measurement in a fresh process, its result as one JSON line
# =============================================================================================


def _preimport() -> None:
    """Libraries the runner imports lazily, imported before the clock starts: the in-process
    figures measure the work; start-up is measured on its own (section 3)."""
    import babel.numbers  # noqa: F401
    import email_validator  # noqa: F401
    import holidays  # noqa: F401
    import jinja2  # noqa: F401
    import jsonschema  # noqa: F401
    import phonenumbers  # noqa: F401
    import yaml  # noqa: F401
    from babel import Locale  # noqa: F401

    import runner.checks
    import runner.commands.validate
    import runner.schedule
    import runner.workspace  # noqa: F401


def data_paths(root: Path) -> list[Path]:
    """Every data file the loader reads: settings, customers, invoices, policies (not tests/)."""
    from runner.repository import data_files

    files = [root / "settings.yaml"]
    for folder in ("customers", "invoices", "policies"):
        files += [Path(name) for name in data_files(root, folder)]
    return files


def do_floor(root: Path, today: date) -> dict[str, Any]:
    import yaml

    paths = data_paths(root)  # listing the files is the loader's job too, but not libyaml's
    start = time.perf_counter()
    count = 0
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            yaml.load(handle.read(), Loader=yaml.CSafeLoader)
        count += 1
    return {"seconds": time.perf_counter() - start, "files": count}


def _validate(root: Path) -> dict[str, Any]:
    from runner.commands.validate import check

    loaded, found = check(root)
    errors = [p for p in found if p.severity == "error"]
    return {
        "errors": len(errors),
        "warnings": len(found) - len(errors),
        "first_errors": [str(p) for p in errors[:3]],
        "customers": len(loaded.repo.customers),
        "invoices": len(loaded.repo.invoices),
    }


def _plan(root: Path, today: date) -> dict[str, Any]:
    from runner import schedule, workspace

    loaded = workspace.load_valid(root)
    repo = loaded.repo
    log, report = workspace.read_log(root)
    result = schedule.plan(repo, log, schedule.noon(today, repo.settings.defaults.timezone))
    return {
        "deliveries": len(result.deliveries),
        "decisions": len(result.decisions),
        "stopped": len(result.stopped),
        "log_keys": len(log.keys),
        "log_entries": len(report.entries),
    }


def do_validate(root: Path, today: date) -> dict[str, Any]:
    from runner import snapshot

    start = time.perf_counter()
    info = _validate(root)
    snapshot.settle()  # a command waits for its snapshot before it exits: that time counts
    return {"seconds": time.perf_counter() - start, **info}


def do_plan(root: Path, today: date) -> dict[str, Any]:
    from runner import snapshot

    start = time.perf_counter()
    info = _plan(root, today)
    snapshot.settle()
    return {"seconds": time.perf_counter() - start, **info}


def _rss_kb() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def do_tracemalloc(root: Path, today: date, what: str) -> dict[str, Any]:
    """tracemalloc peak of validate, of plan, or of both one after the other."""
    import tracemalloc

    result: dict[str, Any] = {}
    start = time.perf_counter()
    tracemalloc.start()
    if what in ("validate", "both"):
        _validate(root)
        result["peak_validate_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.reset_peak()
    if what in ("plan", "both"):
        _plan(root, today)
        result["peak_plan_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    result["seconds"] = time.perf_counter() - start
    result["peak_mb"] = max(v for k, v in result.items() if k.startswith("peak_"))
    result["maxrss_mb"] = _rss_kb() / 1024
    return result


def _top(stats: Any, key: int, count: int) -> list[dict[str, Any]]:
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _) in stats.stats.items():
        short = file
        if str(ROOT) in file:
            short = os.path.relpath(file, ROOT)
        elif "site-packages" in file:
            short = file.split("site-packages/", 1)[1]
        elif "/lib/python" in file:
            short = "stdlib/" + file.split("/lib/python", 1)[1].split("/", 1)[-1]
        rows.append(
            {
                "func": f"{short}:{line}({func})" if line else func,
                "ncalls": nc,
                "tottime": tt,
                "cumtime": ct,
            }
        )
    rows = [r for r in rows if not r["func"].startswith("bench/")]  # this script's wrappers
    field = "cumtime" if key == 0 else "tottime"
    return sorted(rows, key=lambda r: -r[field])[:count]


def do_profile(root: Path, today: date, what: str, out_file: Path) -> dict[str, Any]:
    """cProfile of validate or of plan, in this fresh process (no caches warmed by the other)."""
    import cProfile
    import io
    import pstats

    call = (lambda: _validate(root)) if what == "validate" else (lambda: _plan(root, today))
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    call()
    profile.disable()
    seconds = time.perf_counter() - start
    prof_path = out_file.with_name(out_file.stem + f"-{what}.prof")
    profile.dump_stats(str(prof_path))
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    for title, order in (("cumulative", "cumulative"), ("total (self) time", "tottime")):
        text.write(
            f"\n{'=' * 100}\n{what}: {seconds:.2f} s under the profiler; "
            f"top 15 by {title}\n{'=' * 100}\n"
        )
        stats.sort_stats(order).print_stats(15)
    return {
        "seconds": seconds,
        "prof": str(prof_path),
        "text": text.getvalue(),
        "cumulative": _top(stats, 0, 15),
        "tottime": _top(stats, 1, 15),
    }


def do_generate(root: Path, today: date, size: int) -> dict[str, Any]:
    return generate(root, size, today, seed=1000 + size)


# -- e-mail ------------------------------------------------------------------------------------


def smtp_server(delay: float) -> None:
    """An aiosmtpd server on 127.0.0.1 (random port) whose DATA handler sleeps `delay` and
    accepts. Prints its port, serves until stdin closes. Runs in its own process so it does not
    share the benchmark's GIL (the machine has 2 cores)."""
    import asyncio
    import logging

    from aiosmtpd.smtp import SMTP

    logging.getLogger("mail.log").setLevel(logging.CRITICAL)

    class Slow:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            await asyncio.sleep(delay)
            return "250 2.0.0 Ok: queued"

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        handler = Slow()
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="bench.local"), "127.0.0.1", 0
        )
        print(server.sockets[0].getsockname()[1], flush=True)
        await loop.run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(serve())


def _messages(root: Path, today: date, count: int) -> tuple[Any, list[Any]]:
    """`count` Outgoing e-mails composed by runner.compose from the repository's real plan
    (distinct deliveries, cycled when the plan has fewer than `count`)."""
    from jinja2 import FileSystemLoader

    from runner import schedule, workspace
    from runner.compose import compose
    from runner.templates import Renderer

    loaded = workspace.load_valid(root)
    repo = loaded.repo
    log, _ = workspace.read_log(root)
    result = schedule.plan(repo, log, schedule.noon(today, repo.settings.defaults.timezone))
    renderer = Renderer(FileSystemLoader(str(root / "templates")))
    distinct = []
    for delivery in result.deliveries:
        if delivery.channel in ("email", "task") and delivery.to:
            distinct.append(compose(repo, delivery, renderer, root))
        if len(distinct) >= 200:
            break
    if not distinct:
        raise SystemExit("the plan has no e-mail deliveries to send")
    return repo, [distinct[i % len(distinct)] for i in range(count)]


def do_email(
    root: Path, today: date, port: int, count: int, repeat: int, connections: int
) -> dict[str, Any]:
    import asyncio
    import dataclasses
    import tempfile
    from datetime import UTC, datetime

    import aiosmtplib

    from runner.channels.smtp import Smtp
    from runner.compose import envelope
    from runner.deliver import Batch, Job, RetryPolicy
    from runner.mime import wire_bytes
    from runner.sendlog import Writer

    repo, outgoing = _messages(root, today, count)
    settings = dataclasses.replace(
        repo.settings.email,
        host="127.0.0.1",
        port=port,
        security="none",
        username_env=None,
        password_env=None,
        max_connections=connections,
    )
    sender = repo.settings.company.email

    async def baseline() -> int:
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, use_tls=False, start_tls=False, timeout=30
        )
        await client.connect()
        sent = 0
        for out in outgoing:  # the same message building as Nudge, one message at a time
            data = wire_bytes(repo, out, datetime.now(UTC))
            await client.sendmail(sender, envelope(out, None), data)
            sent += 1
        await client.quit()
        return sent

    async def parallel(connections: int, wire: list[tuple[list[str], bytes]]) -> int:
        """Reference, not Nudge: pre-built messages over `connections` plain connections,
        no log. What this server and this machine allow at that many connections."""
        queue: asyncio.Queue[tuple[list[str], bytes]] = asyncio.Queue()
        for item in wire:
            queue.put_nowait(item)

        async def one() -> int:
            client = aiosmtplib.SMTP(
                hostname="127.0.0.1", port=port, use_tls=False, start_tls=False, timeout=30
            )
            await client.connect()
            done = 0
            while not queue.empty():
                rcpts, data = queue.get_nowait()
                await client.sendmail(sender, rcpts, data)
                done += 1
            await client.quit()
            return done

        return sum(await asyncio.gather(*(one() for _ in range(connections))))

    def nudge(log_root: Path) -> tuple[float, float, int]:
        smtp = Smtp("email", repo, settings, None, None)
        writer = Writer(log_root, today)
        batch = Batch(
            writer,
            {"email": smtp, "task": smtp},
            "bench-run",
            None,
            repo.settings.hash_recipients,
            RetryPolicy(),
            None,
        )
        jobs = [Job(out.delivery, out) for out in outgoing]
        start = time.perf_counter()
        batch.record_pending(jobs)  # `nudge run` writes (and fsyncs) every pending first
        mid = time.perf_counter()
        asyncio.run(batch.send_all(jobs))
        end = time.perf_counter()
        sent = sum(1 for j in jobs if j.outcome is not None and j.outcome.status == "sent")
        return end - start, end - mid, sent

    start = time.perf_counter()  # the CPU a message costs before it reaches the wire
    for out in outgoing:
        wire_bytes(repo, out, datetime.now(UTC))
    build = (time.perf_counter() - start) / count
    base_times, nudge_times, send_times = [], [], []
    problems = []
    with tempfile.TemporaryDirectory(dir=OUT, prefix="mail-") as tmp:
        for n in range(repeat):  # interleaved, so noise hits both alike
            start = time.perf_counter()
            sent = asyncio.run(baseline())
            base_times.append(time.perf_counter() - start)
            if sent != count:
                problems.append(f"baseline sent {sent}/{count}")
            total, sending, sent = nudge(Path(tmp) / f"run{n}")
            nudge_times.append(total)
            send_times.append(sending)
            if sent != count:
                problems.append(f"nudge sent {sent}/{count}")
        wire = [(envelope(o, None), wire_bytes(repo, o)) for o in outgoing]
        reference: dict[str, list[float]] = {}
        for _ in range(repeat):
            for conns in sorted({settings.max_connections, 8, 16}):
                start = time.perf_counter()
                sent = asyncio.run(parallel(conns, wire))
                reference.setdefault(str(conns), []).append(time.perf_counter() - start)
                if sent != count:
                    problems.append(f"reference {conns} sent {sent}/{count}")
    return {
        "reference": reference,
        "messages": count,
        "distinct": len({id(o) for o in outgoing}),
        "max_connections": settings.max_connections,
        "baseline": base_times,
        "nudge": nudge_times,
        "nudge_send_only": send_times,
        "problems": problems,
        "build_seconds_per_message": build,
    }


def run_worker(args: argparse.Namespace) -> None:
    today = date.fromisoformat(args.today)
    root = Path(args.root) if args.root else ROOT
    if args.worker != "generate":
        _preimport()
    kind = args.worker
    if kind == "floor":
        result = do_floor(root, today)
    elif kind == "validate":
        result = do_validate(root, today)
    elif kind == "plan":
        result = do_plan(root, today)
    elif kind == "tracemalloc":
        result = do_tracemalloc(root, today, args.what)
    elif kind == "profile":
        result = do_profile(root, today, args.what, Path(args.profile_out))
    elif kind == "email":
        result = do_email(root, today, args.port, args.messages, args.repeat, args.connections)
    elif kind == "generate":
        result = do_generate(root, today, args.size)
    else:
        raise SystemExit(f"unknown worker {kind}")
    result.setdefault("maxrss_mb", _rss_kb() / 1024)
    print(RESULT + json.dumps(result, default=str), flush=True)


def worker(
    extra: list[str], today: date, timeout: float, env: dict[str, str] | None = None
) -> dict[str, Any] | None:
    """Run one worker; its result, or None (with the reason printed) on failure or timeout."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        *extra,
        "--today",
        today.isoformat(),
    ]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
    except subprocess.TimeoutExpired:
        print(f"    ! {extra[0]}: stopped after the {timeout:.0f} s timeout", flush=True)
        return {"timeout": timeout}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-8:]
    print(f"    ! {extra[0]} failed (exit {proc.returncode}):", *tail, sep="\n      ", flush=True)
    return None


# =============================================================================================
# 3. The orchestration and the report
# =============================================================================================


class Series:
    """Repeated timings of one thing: best, median, spread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.times: list[float] = []
        self.timeout: float | None = None
        self.failed = False
        self.info: dict[str, Any] = {}

    @property
    def best(self) -> float | None:
        return min(self.times) if self.times else None

    def spread(self) -> str:
        if self.timeout is not None and not self.times:
            return f"> {self.timeout:.0f} s (timeout)"
        if not self.times:
            return "failed" if self.failed else "not run"
        best, worst = min(self.times), max(self.times)
        med = statistics.median(self.times)
        if len(self.times) == 1:
            return f"{fmt_s(best)} (1 run)"
        return (
            f"best {fmt_s(best)}  median {fmt_s(med)}  worst {fmt_s(worst)}  "
            f"spread {100 * (worst - best) / best:.0f}%  (n={len(self.times)})"
        )


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


SNAPSHOTS = OUT / "snapshots"  # the load snapshots of the runs (NUDGE_CACHE_DIR)


def measure_size(size: int, root: Path, today: date, args: argparse.Namespace) -> dict[str, Series]:
    """floor; validate with no snapshot; plan after it (the snapshot validate left, as in the
    check job); plan with snapshots off (a cold plan on its own)."""
    series = {k: Series(k) for k in ("floor", "validate", "plan", "plan-cold")}
    for round_no in range(args.repeat):
        for kind, s in series.items():
            if s.timeout is not None or s.failed:
                continue
            if round_no and s.times and s.times[0] > args.max_repeat_seconds:
                continue  # one run that long is figure enough; note says so
            if kind == "validate":
                shutil.rmtree(SNAPSHOTS, ignore_errors=True)
            env = {"NUDGE_CACHE_DIR": "off" if kind == "plan-cold" else str(SNAPSHOTS)}
            work = "plan" if kind == "plan-cold" else kind
            result = worker([work, "--root", str(root)], today, args.timeout, env)
            if result is None:
                s.failed = True
            elif "timeout" in result:
                s.timeout = result["timeout"]
            else:
                s.times.append(result["seconds"])
                rss = max(result.get("maxrss_mb", 0), s.info.get("maxrss_mb", 0))
                s.info = {**result, "maxrss_mb": rss}
        print(
            f"    round {round_no + 1}: "
            + ", ".join(f"{k} {fmt_s(s.times[-1]) if s.times else '-'}" for k, s in series.items()),
            flush=True,
        )
    return series


def cli_plan(root: Path, today: date, timeout: float) -> tuple[float | None, str]:
    cmd = [
        sys.executable,
        "-m",
        "runner",
        "plan",
        "--root",
        str(root),
        "--today",
        today.isoformat(),
    ]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
            env={**os.environ, "NUDGE_CACHE_DIR": "off"},  # cold: start-up and every file read
        )
    except subprocess.TimeoutExpired:
        return None, f"timeout after {timeout:.0f} s"
    seconds = time.perf_counter() - start
    if proc.returncode:
        return None, f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"
    return seconds, ""


def startup(today: date) -> dict[str, Any]:
    def timed(cmd: list[str], n: int) -> tuple[list[float], str]:
        times, error = [], ""
        for _ in range(n):
            start = time.perf_counter()
            proc = subprocess.run(
                cmd,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                timeout=300,
            )
            times.append(time.perf_counter() - start)
            if proc.returncode:
                error = f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"
        return times, error

    py = sys.executable
    bare, _ = timed([py, "-c", "pass"], 5)
    help_times, help_error = timed([py, "-m", "runner", "--help"], 5)
    plan_times, plan_error = timed(
        [py, "-m", "runner", "plan", "--root", str(ROOT), "--today", today.isoformat()], 5
    )
    proc = subprocess.run(
        [py, "-X", "importtime", "-m", "runner", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    imports = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative, raw = line[12:].split("|")
        depth = len(raw) - len(raw.lstrip())
        imports.append((int(cumulative), int(self_us), raw.strip(), depth))
    top = min((d for *_, d in imports), default=0)
    total = sum(c for c, _, _, d in imports if d == top)
    imports = [(c, s, n) for c, s, n, _ in imports]
    return {
        "python": bare,
        "help": help_times,
        "help_error": help_error,
        "plan_sample": plan_times,
        "plan_error": plan_error,
        "imports": imports,
        "import_total_us": total,
    }


def email_bench(root: Path, today: date, count: int, args: argparse.Namespace) -> Any:
    server = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--smtp-server",
            "--delay",
            str(args.smtp_delay),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        return worker(
            [
                "email",
                "--root",
                str(root),
                "--port",
                str(port),
                "--messages",
                str(count),
                "--repeat",
                str(args.repeat),
                "--connections",
                str(args.connections),
            ],
            today,
            args.timeout,
        )
    finally:
        if server.stdin:
            server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def code_version() -> str:
    """The commit the runner comes from, and a fingerprint of uncommitted changes to it."""
    import hashlib

    def git(*argv: str) -> str:
        proc = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    diff = git("diff", "HEAD", "--", "runner") + git(
        "ls-files", "--others", "--exclude-standard", "runner"
    )
    if not diff:
        return head
    return f"{head} + uncommitted runner/ changes {hashlib.sha256(diff.encode()).hexdigest()[:8]}"


def check_mark(value: float | None, target: float, below: bool) -> str:
    if value is None:
        return "n/a"
    ok = value <= target if below else value >= target
    return "yes" if ok else "NO"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="invoice counts, comma-separated (customers = invoices / 10)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke check: 10k invoices only, 200 e-mails"
    )
    parser.add_argument("--today", default=DEFAULT_TODAY, help="the day plans are made for")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best of)")
    parser.add_argument("--messages", type=int, default=1000, help="e-mails per send run")
    parser.add_argument(
        "--smtp-delay",
        type=float,
        default=0.02,
        help="seconds the test SMTP server sits on each message",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=16,
        help="settings email.max_connections for the send run (the sample's default is 8)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1200, help="seconds before one measurement is stopped"
    )
    parser.add_argument(
        "--max-repeat-seconds",
        type=float,
        default=300,
        help="a measurement whose first run takes longer is not repeated",
    )
    parser.add_argument(
        "--regenerate",
        action="store_true",
        help="generate the repositories again even if bench/out has them",
    )
    parser.add_argument(
        "--skip", default="", help="comma-separated sections to skip: startup,email,memory,profile"
    )
    parser.add_argument(
        "--profile-size", type=int, default=10000, help="the size profiled (one of --sizes)"
    )
    # internal
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    parser.add_argument("--what", default="both", help=argparse.SUPPRESS)
    parser.add_argument("--smtp-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--delay", type=float, default=0.02, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("NUDGE_CACHE_DIR", str(SNAPSHOTS))  # never the user's own cache

    if args.smtp_server:
        smtp_server(args.delay)
        return 0
    if args.worker:
        run_worker(args)
        return 0

    OUT.mkdir(parents=True, exist_ok=True)
    today = date.fromisoformat(args.today)
    sizes = [10000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    messages = 200 if args.quick else args.messages
    skip = set(filter(None, args.skip.split(",")))
    began = time.perf_counter()
    print(
        f"Nudge benchmark — {time.strftime('%Y-%m-%d %H:%M')}, Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; today = {today}; "
        f"best of {args.repeat}, each run in a fresh process\n",
        flush=True,
    )

    version = code_version()
    print(f"runner code: {version}\n", flush=True)
    rows: list[tuple[str, str, str, str]] = []  # figure, value, target, met
    per_size: dict[int, dict[str, Any]] = {}

    # -- 1 + 2: repositories, floor, validate, plan, CLI ----------------------------------------
    for size in sizes:
        print(f"== {label(size)} invoices ({size // 10} customers)", flush=True)
        root, info = ensure_repo(size, today, args.regenerate)
        how = "reused" if info.get("reused") else f"generated in {info.get('seconds')} s"
        print(
            f"  repository {os.path.relpath(root, ROOT)} ({how}): {info['customers']} "
            f"customers, {info['invoices']} invoices, {info['log_lines']} log lines",
            flush=True,
        )
        print("  invoice states: " + ", ".join(f"{k} {v}" for k, v in info["states"].items()))
        series = measure_size(size, root, today, args)
        floor, val, pl = series["floor"].best, series["validate"].best, series["plan"].best
        cold = series["plan-cold"].best
        for name, s in series.items():
            print(f"  {name:<9} {s.spread()}")
        v_info, p_info = series["validate"].info, series["plan"].info
        if v_info:
            print(
                f"  validate found {v_info['errors']} errors, {v_info['warnings']} warnings"
                + (f": {v_info['first_errors']}" if v_info["errors"] else "")
            )
        if p_info:
            print(
                f"  plan: {p_info['deliveries']} deliveries, {p_info['decisions']} decisions, "
                f"{p_info['stopped']} invoices stopped, {p_info['log_entries']} log entries "
                f"read"
            )
        both = val + pl if val is not None and pl is not None else None
        ratio = both / floor if both is not None and floor else None
        both_cold = val + cold if val is not None and cold is not None else None
        ratio_cold = both_cold / floor if both_cold is not None and floor else None
        print(
            f"  validate + plan = {fmt_s(both)}; / floor = "
            f"{f'{ratio:.1f}x' if ratio is not None else 'n/a'} (plan using the snapshot "
            f"validate left); with a cold plan {fmt_s(both_cold)} = "
            f"{f'{ratio_cold:.1f}x' if ratio_cold is not None else 'n/a'}",
            flush=True,
        )
        cli, why = cli_plan(root, today, args.timeout)
        print(
            f"  CLI `nudge plan --root {os.path.relpath(root, ROOT)} --today {today}`, cold: "
            f"{fmt_s(cli)} {why}",
            flush=True,
        )
        per_size[size] = {"series": series, "both": both, "ratio": ratio, "cli": cli, "root": root}
        tag = label(size)
        rows.append((f"{tag}: libyaml floor (a)", fmt_s(floor), "", ""))
        rows.append(
            (
                f"{tag}: validate (b)",
                fmt_s(val) if val is not None else series["validate"].spread(),
                "",
                "",
            )
        )
        rows.append(
            (f"{tag}: plan (c)", fmt_s(pl) if pl is not None else series["plan"].spread(), "", "")
        )
        rows.append((f"{tag}: plan, snapshots off (d)", fmt_s(cold), "", ""))
        big = size == max(sizes) and size >= 100000
        rows.append(
            (
                f"{tag}: (b)+(c) / (a)",
                f"{ratio:.1f}x" if ratio is not None else "n/a",
                "<= 2.0" if big else "",
                check_mark(ratio, 2.0, True) if big else "",
            )
        )
        rows.append(
            (
                f"{tag}: (b)+(d) / (a)",
                f"{ratio_cold:.1f}x" if ratio_cold is not None else "n/a",
                "",
                "",
            )
        )
        cli_text = fmt_s(cli) if cli else why
        rows.append((f"{tag}: CLI nudge plan, cold, end to end", cli_text, "", ""))
        print()

    small, large = per_size.get(10000), per_size.get(100000)
    growth = None
    if small and large and small["both"] and large["both"]:
        growth = large["both"] / small["both"]
    if large is not None or not args.quick:
        rows.append(
            (
                "100k/10k time of (b)+(c)",
                f"{growth:.1f}x" if growth is not None else "n/a",
                "<= 11",
                check_mark(growth, 11, True),
            )
        )
        print(
            f"100k/10k time ratio of validate+plan: "
            f"{f'{growth:.1f}x' if growth is not None else 'n/a'}\n"
        )
    else:
        rows.append(("100k/10k time of (b)+(c)", "n/a (--quick)", "<= 11", "n/a"))
        rows.append(("100k: (b)+(c) / (a)", "n/a (--quick)", "<= 2.0", "n/a"))

    # -- 3: start-up ------------------------------------------------------------------------------
    if "startup" not in skip:
        print("== start-up (best of 5, fresh processes)", flush=True)
        st = startup(today)
        help_best = min(st["help"])
        plan_best = min(st["plan_sample"])
        print(f"  python -c pass                 {fmt_s(min(st['python']))}")
        print(
            f"  nudge --help                   {fmt_s(help_best)} "
            f"(worst {fmt_s(max(st['help']))}) {st['help_error']}"
        )
        print(
            f"  nudge plan --today {today} (sample repo)  {fmt_s(plan_best)} "
            f"(worst {fmt_s(max(st['plan_sample']))}) {st['plan_error']}"
        )
        total = st["import_total_us"]
        print(
            f"  -X importtime, `nudge --help`: all imports {total / 1000:.0f} ms; the 10 slowest "
            "by cumulative time (self time beside it; nested imports count in their parents):"
        )
        for cumulative, self_us, name in sorted(st["imports"], reverse=True)[:10]:
            print(f"    {cumulative / 1000:7.1f} ms  (self {self_us / 1000:6.1f} ms)  {name}")
        print("  10 slowest by self time:")
        for self_us, _cumulative, name in sorted(
            ((s, c, n) for c, s, n in st["imports"]), reverse=True
        )[:10]:
            print(f"    {self_us / 1000:7.1f} ms  {name.strip()}")
        rows.append(
            (
                "nudge --help (best of 5)",
                fmt_s(help_best),
                "< 250 ms",
                "n/a" if st["help_error"] else check_mark(help_best, 0.25, True),
            )
        )
        rows.append(
            (
                f"nudge plan --today {today}, sample repo",
                fmt_s(plan_best) if not st["plan_error"] else st["plan_error"],
                "",
                "",
            )
        )
        print(flush=True)

    # -- 4: e-mail --------------------------------------------------------------------------------
    if "email" not in skip:
        mail_root = (
            per_size[min(per_size)]["root"] if per_size else ensure_repo(10000, today, False)[0]
        )
        print(
            f"== e-mail: {messages} messages to a local aiosmtpd that sits "
            f"{args.smtp_delay * 1000:.0f} ms on each DATA (best of {args.repeat})",
            flush=True,
        )
        mail = email_bench(mail_root, today, messages, args)
        if mail and "timeout" not in mail:
            base_best = min(mail["baseline"])
            nudge_best = min(mail["nudge"])
            send_best = min(mail["nudge_send_only"])
            base_rate, nudge_rate = messages / base_best, messages / nudge_best
            send_rate = messages / send_best
            ratio = nudge_rate / base_rate

            def sp(xs: list[float]) -> str:
                return f"spread {100 * (max(xs) - min(xs)) / min(xs):.0f}%"

            print(
                f"  baseline, one aiosmtplib connection, sequential: {base_rate:6.1f} msg/s "
                f"({fmt_s(base_best)}; {sp(mail['baseline'])})"
            )
            print(
                f"  Nudge, Smtp + Batch (max_connections {mail['max_connections']}), "
                f"pending log + send: {nudge_rate:6.1f} msg/s ({fmt_s(nudge_best)}; "
                f"{sp(mail['nudge'])})"
            )
            pending = min(
                t - u for t, u in zip(mail["nudge"], mail["nudge_send_only"], strict=True)
            )
            line_ms = 1000 * pending / messages
            build_ms = 1000 * mail["build_seconds_per_message"]
            print(
                f"    of which sending only (send_all): {send_rate:6.1f} msg/s "
                f"({fmt_s(send_best)}); writing the {messages} pending entries first: "
                f"{fmt_s(pending)} = {line_ms:.2f} ms per log line (one fsync for all)"
            )
            conns = mail["max_connections"]
            ceiling = conns / args.smtp_delay  # every connection busy all the time
            print(
                f"  building one message (runner.mime.wire_bytes): {build_ms:.2f} ms CPU; log "
                f"lines group-committed (one fsync for the lines waiting); {conns} connections x "
                f"{args.smtp_delay * 1000:.0f} ms allow at most {ceiling:.0f} msg/s "
                f"= {ceiling / base_rate:.1f}x the baseline"
            )
            print(
                f"  ratio Nudge / baseline: {ratio:.1f}x (send_all only: "
                f"{send_rate / base_rate:.1f}x)"
            )
            print(
                "  reference, not Nudge (pre-built messages, N plain aiosmtplib connections, no "
                "log): what this server and machine allow:"
            )
            for conns, times in mail["reference"].items():
                rate = messages / min(times)
                print(
                    f"    {conns:>2} connections: {rate:6.1f} msg/s = {rate / base_rate:.1f}x "
                    f"the baseline ({sp(times)})"
                )
            if mail["problems"]:
                print(f"  ! {mail['problems']}")
            rows.append(("e-mail baseline, msg/s", f"{base_rate:.1f}", "", ""))
            rows.append(("e-mail Nudge (Smtp+Batch), msg/s", f"{nudge_rate:.1f}", "", ""))
            rows.append(
                ("e-mail Nudge / baseline", f"{ratio:.1f}x", ">= 8", check_mark(ratio, 8, False))
            )
        else:
            rows.append(("e-mail Nudge / baseline", "failed", ">= 8", "n/a"))
        print(flush=True)

    # -- 5: memory --------------------------------------------------------------------------------
    if "memory" not in skip and per_size:
        size = max(per_size)
        series = per_size[size]["series"]
        root = per_size[size]["root"]
        what = "both" if series["validate"].times else "plan"
        doing = "validate + plan" if what == "both" else "plan only (validate did not finish)"
        print(
            f"== memory at {label(size)}: tracemalloc of {doing} in one fresh process; "
            "ru_maxrss of the timing processes",
            flush=True,
        )
        rss = {k: series[k].info.get("maxrss_mb") for k in ("floor", "validate", "plan")}
        print(
            "  ru_maxrss: "
            + ", ".join(f"{k} {v:.0f} MiB" if v else f"{k} n/a" for k, v in rss.items())
        )
        traced = worker(
            ["tracemalloc", "--root", str(root), "--what", what], today, args.timeout * 3
        )
        if traced and "timeout" not in traced:
            parts = ", ".join(
                f"{k[5:-3]} {v:.0f} MiB"
                for k, v in traced.items()
                if k.startswith("peak_") and k != "peak_mb"
            )
            print(
                f"  tracemalloc peak {traced['peak_mb']:.0f} MiB ({parts}); ru_maxrss of that "
                f"process {traced['maxrss_mb']:.0f} MiB; {fmt_s(traced['seconds'])} under "
                "tracemalloc"
            )
            rows.append(
                (
                    f"{label(size)}: tracemalloc peak, {doing.split(' (')[0]}",
                    f"{traced['peak_mb']:.0f} MiB",
                    "",
                    "",
                )
            )
        rows.append(
            (
                f"{label(size)}: ru_maxrss, validate / plan process",
                " / ".join(f"{rss[k]:.0f}" if rss[k] else "n/a" for k in ("validate", "plan"))
                + " MiB",
                "",
                "",
            )
        )
        print(flush=True)

    # -- 6: profile -------------------------------------------------------------------------------
    if "profile" not in skip and per_size:
        size = args.profile_size if args.profile_size in per_size else min(per_size)
        out_file = OUT / f"profile-{label(size)}.txt"
        print(f"== cProfile at {label(size)} -> {os.path.relpath(out_file, ROOT)}", flush=True)
        root = per_size[size]["root"]
        parts = [
            f"cProfile of validate and of plan (each in a fresh process) on {root}, today {today}\n"
        ]
        for name in ("validate", "plan"):
            p = worker(
                ["profile", "--root", str(root), "--what", name, "--profile-out", str(out_file)],
                today,
                args.timeout * 3,
            )
            if not p or "timeout" in p:
                continue
            parts.append(p["text"])
            print(
                f"  {name} ({fmt_s(p['seconds'])} under the profiler), top 10 by "
                f"cumulative | by self time:"
            )
            for cum, tot in zip(p["cumulative"][:10], p["tottime"][:10], strict=True):
                print(
                    f"    {cum['cumtime']:7.2f} s {cum['func'][:58]:<58} | "
                    f"{tot['tottime']:6.2f} s {tot['func'][:58]}"
                )
        out_file.write_text("".join(parts), encoding="utf-8")
        print(flush=True)

    # -- the table --------------------------------------------------------------------------------
    width = max(len(r[0]) for r in rows) + 2
    vwidth = max(len(r[1]) for r in rows) + 2
    print("== summary")
    print(f"  {'figure':<{width}}{'value':<{vwidth}}{'target':<10}met")
    for figure, value, target, met in rows:
        print(f"  {figure:<{width}}{value:<{vwidth}}{target:<10}{met}")
    print(f"\n(total benchmark time {fmt_s(time.perf_counter() - began)}; runner code {version})")
    if code_version() != version:
        print(
            f"WARNING: runner/ changed during the run (now {code_version()}): the figures "
            "above mix versions of the code; run again for a consistent set"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
