"""Section 1: the generated companies. A repository of N customers' N x 10 invoices and the
send log a year of daily runs would have written; and the same repository with five years of log
(the four years before about invoices archived since, and what stays true for years: numbers that
said STOP, addresses that bounced, messages nobody resolved). Generated once and kept under
bench/out/ (git ignores it); see bench/README.md.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from common import OUT, ROOT, label, worker

GENERATOR_VERSION = 4

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


# -- five years -----------------------------------------------------------------------------------


def add_years(source: Path, target: Path, today: date, years: int, seed: int) -> dict[str, Any]:
    """`target`: the repository of `source` with `years` years of log instead of one. The years
    before are `source`'s year again, a year earlier each time, about invoices archived out of
    the repository since (renamed Yk-INV-n); and what stays true for years is added: numbers
    that said STOP, addresses that bounced (some working again since), replies whose task was
    sent, and messages nobody resolved."""
    started = time.perf_counter()
    rng = random.Random(seed)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("settings.yaml",):
        shutil.copy2(source / name, target / name)
    for folder in ("policies", "templates", "customers", "invoices"):
        shutil.copytree(source / folder, target / folder, copy_function=_link)
    shutil.copytree(source / "log", target / "log", ignore=shutil.ignore_patterns("summary.json"))
    handles: dict[tuple[int, int], Any] = {}
    total = 0
    try:
        for path in sorted((source / "log").glob("*/*.jsonl")):
            entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            total += len(entries)
            for back in range(1, years):
                for raw in entries:
                    shifted = _earlier(raw, back)
                    _write(target, handles, shifted)
                    total += 1
        for raw in _lasting(_billing_phones(source), today, years, rng):
            _write(target, handles, raw)
            total += 1
    finally:
        for handle in handles.values():
            handle.close()
    info = json.loads((source / ".bench-generated.json").read_text())
    info.update(
        {"years": years, "log_lines": total, "seconds": round(time.perf_counter() - started, 1)}
    )
    (target / ".bench-generated.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _link(source: str, target: str) -> None:
    import os

    os.link(source, target)  # the same invoice files: hard links, no copies


def _shift_day(text: str, back: int) -> str:
    day = date.fromisoformat(text[:10])
    try:
        moved = day.replace(year=day.year - back)
    except ValueError:  # 29 February
        moved = day.replace(year=day.year - back, day=28)
    return moved.isoformat() + text[10:]


def _earlier(raw: dict[str, Any], back: int) -> dict[str, Any]:
    """An entry of the source year, `back` years earlier, about the archived invoices."""
    shifted = dict(raw)
    shifted["id"] = f"{raw['id']}-y{back}"
    if "delivery" in raw:
        shifted["delivery"] = f"{raw['delivery']}-y{back}"
    for name in ("date", "at"):
        if name in raw:
            shifted[name] = _shift_day(raw[name], back)
    shifted["invoices"] = [f"Y{back}-{i}" for i in raw.get("invoices", ())]
    keys = []
    for key in raw.get("keys", ()):
        invoice, step, day, channel = key.rsplit("/", 3)
        keys.append(f"Y{back}-{invoice}/{step}/{_shift_day(day, back)}/{channel}")
    if keys:
        shifted["keys"] = keys
    return shifted


def _billing_phones(root: Path) -> dict[str, str]:
    """Each customer's billing number, in E.164 as the log writes it."""
    import re

    import phonenumbers

    found = {}
    for path in sorted((root / "customers").glob("*.yaml")):
        match = re.search(r'role: billing,.*phone: "([^"]+)"', path.read_text(encoding="utf-8"))
        if match:
            number = phonenumbers.parse(match.group(1), None)
            found[path.stem] = phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.E164
            )
    return found


def _lasting(
    phones: dict[str, str], today: date, years: int, rng: random.Random
) -> list[dict[str, Any]]:
    """What stays true for years: one customer in a thousand's billing number said STOP (the
    generated customers share numbers: a few per cent of the numbers), 1 % of their billing
    addresses bounced (half of them work again since,
    an auto-reply came from them), replies with their task sent, and twenty messages of unknown
    outcome nobody resolved."""
    from runner.sendlog import new_id

    def day_back(low: int, high: int) -> date:
        return today - timedelta(days=rng.randint(low, high))

    def stamp(day: date) -> str:
        return f"{day.isoformat()}T06:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.000000Z"

    found: list[dict[str, Any]] = []
    span = 365 * years - 30
    customers = sorted(phones)
    for cid in rng.sample(customers, max(1, len(customers) // 1000)):
        day = day_back(400, span)
        found.append({"id": new_id(), "status": "optout", "at": stamp(day), "date": day.isoformat(),
                      "phone": phones[cid], "customer": cid, "reason": "Twilio 21610"})  # fmt: skip
    for cid in rng.sample(customers, max(1, len(customers) // 100)):
        day = day_back(400, span)
        address = f"ap@{cid}.example"
        invoice = f"Y{1 + (today - day).days // 365}-INV-{rng.randint(100001, 199999)}"
        bounce = {"id": new_id(), "status": "bounced", "at": stamp(day), "date": day.isoformat(),
                  "customer": cid, "invoices": [invoice], "address": address, "permanent": True,
                  "reason": "550 5.1.1 user unknown", "channel": "email", "step": "tier-1",
                  "inbound": f"<{new_id()}@mx.example>"}  # fmt: skip
        found.append(bounce)
        if rng.random() < 0.5:
            later = day + timedelta(days=rng.randint(5, 200))
            found.append({"id": new_id(), "status": "autoreply", "at": stamp(later),
                          "date": later.isoformat(), "customer": cid, "invoices": [invoice],
                          "from": address, "channel": "email", "subject": "Out of office",
                          "inbound": f"<{new_id()}@mx.example>"})  # fmt: skip
    for _ in range(20):
        day = day_back(400, span)
        cid = rng.choice(customers)
        invoice = f"Y{1 + (today - day).days // 365}-INV-{rng.randint(100001, 199999)}"
        key = f"{invoice}/tier-2/{day.isoformat()}/email"
        found.append({"id": new_id(), "delivery": new_id(), "status": "pending",
                      "at": stamp(day), "date": day.isoformat(), "keys": [key], "customer": cid,
                      "invoices": [invoice], "step": "tier-2", "channel": "email",
                      "to": [f"ap@{cid}.example"], "cc": []})  # fmt: skip
    return found


def _write(root: Path, handles: dict[tuple[int, int], Any], raw: dict[str, Any]) -> None:
    day = date.fromisoformat(raw["date"])
    handle = handles.get((day.year, day.month))
    if handle is None:
        folder = root / "log" / f"{day.year:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / f"{day.month:02d}.jsonl").open("a", encoding="utf-8")
        handles[(day.year, day.month)] = handle
    handle.write(json.dumps(raw, ensure_ascii=False, sort_keys=True) + "\n")


# -- kept under bench/out -------------------------------------------------------------------------


def ensure_repo(
    size: int, today: date, regenerate: bool, years: int = 1
) -> tuple[Path, dict[str, Any]]:
    """bench/out/repo-SIZE (or repo-SIZE-5y): generated unless there with the same size, day,
    years and generator version."""
    suffix = f"-{years}y" if years > 1 else ""
    root = OUT / f"repo-{label(size)}{suffix}"
    seed = 1000 + size
    wanted = (GENERATOR_VERSION, size, today.isoformat(), seed, years)
    marker = root / ".bench-generated.json"
    if marker.exists() and not regenerate:
        info = json.loads(marker.read_text())
        have = (info.get("version"), info.get("invoices"), info.get("today"), info.get("seed"))
        if (*have, info.get("years", 1)) == wanted:
            info["reused"] = True
            return root, info
    if years > 1:
        source, _ = ensure_repo(size, today, regenerate)
        args = {"source": str(source), "root": str(root), "years": years, "seed": seed}
        info = worker("add-years", args, today, timeout=7200)
    else:  # in its own process, so this one stays free of runner imports
        info = worker("generate", {"root": str(root), "size": size}, today, timeout=3600)
    if info is None or "timeout" in info:
        raise SystemExit(f"generating {root} failed")
    info["reused"] = False
    return root, info


def do_generate(today: date, root: str, size: int) -> dict[str, Any]:
    return generate(Path(root), size, today, seed=1000 + size)


def do_add_years(today: date, source: str, root: str, years: int, seed: int) -> dict[str, Any]:
    return add_years(Path(source), Path(root), today, years, seed)


WORKERS = {"generate": do_generate, "add-years": do_add_years}


def describe(root: Path, info: dict[str, Any]) -> None:
    how = "reused" if info.get("reused") else f"generated in {info.get('seconds')} s"
    years = info.get("years", 1)
    print(
        f"  repository {root.relative_to(ROOT)} ({how}): {info['customers']} customers, "
        f"{info['invoices']} invoices, {years} year{'s' if years > 1 else ''} of log, "
        f"{info['log_lines']} log lines",
        flush=True,
    )
