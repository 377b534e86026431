"""`nudge init`: a company's repository from a few answers.

It writes settings.yaml (the company, its calendar, language, currency, time zone, the start
date), the three shipped policies (`--policy` chooses the default), the shipped templates of the
chosen languages, policy test cases computed for this company's calendar, a first customer and
invoice as examples to edit, and, where they are missing, the workflows and .gitattributes.
`nudge validate` and `nudge test` pass right after. In a folder that already holds a company
(the sample in a fresh clone), `--force` replaces it: its customers, invoices, policies,
templates, imports, log and outbox are deleted first.
"""

from __future__ import annotations

import argparse
import re
import shutil
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from runner import workspace
from runner.errors import NudgeError

POLICIES = {"gentle": "gentle", "letters": "letters-30-60-90", "five-stage": "five-stage"}
COMPANY_PARTS = ("settings.yaml", "customers", "invoices", "policies", "templates", "imports")
RUN_OUTPUT = ("log", "outbox")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="the company's name, as customers know it")
    parser.add_argument(
        "--country", required=True, type=str.upper, help="ISO code, e.g. DK, PL: holidays, law"
    )
    parser.add_argument(
        "--locale",
        required=True,
        help="the languages of your customers, the first one yours: e.g. pl or da,en",
    )
    parser.add_argument("--currency", required=True, type=str.upper, help="e.g. EUR, DKK, PLN")
    parser.add_argument("--timezone", required=True, help="IANA name, e.g. Europe/Warsaw")
    parser.add_argument(
        "--policy",
        choices=tuple(POLICIES),
        default="gentle",
        help="the default policy (all three are written; default: gentle)",
    )
    parser.add_argument("--email", help="the accounts-receivable address messages come from")
    workspace.add_today(parser)
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the company already in the folder (its data, log and outbox are deleted)",
    )


def run(args: argparse.Namespace) -> int:
    root: Path = args.root
    answers = _answers(args)
    existing = [p for p in (*COMPANY_PARTS, *RUN_OUTPUT) if (root / p).exists()]
    if existing and not args.force:
        raise NudgeError(
            f"{root} already holds a company ({', '.join(existing)}): run `nudge init` in a new "
            "folder, or add --force to replace it (its data, log and outbox are deleted)"
        )
    root.mkdir(parents=True, exist_ok=True)
    for part in existing:
        path = root / part
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    written = _write(root, answers)
    from runner import repository

    loaded = repository.load(root)
    errors = [p for p in loaded.problems if p.severity == "error"]
    if errors:  # a bug in init, not the user's: say what it wrote wrong
        raise RuntimeError(
            "nudge init wrote an invalid repository:\n" + "\n".join(map(str, errors))
        )
    _write_cases(root, loaded.repo, answers)
    print(f"Wrote a Nudge repository for {answers['name']} in {root}:")
    for line in written:
        print(f"  {line}")
    if existing:
        print(f"Removed what was there: {', '.join(existing)}")
    print(
        "Next: edit settings.yaml (your e-mail address, postal address, bank accounts, signatory), "
        "replace the example customer and invoice with yours, then `nudge validate` and "
        "`nudge plan` (README: Run it for your own company)."
    )
    return 0


# -- the answers ------------------------------------------------------------------------------


def _answers(args: argparse.Namespace) -> dict[str, Any]:
    from runner import schema

    locales = [x.strip() for x in str(args.locale).split(",") if x.strip()]
    shipped = _shipped_languages()
    for locale in locales:
        if not schema.is_locale(locale):
            raise NudgeError(
                f"--locale: '{locale}' is not a known locale (e.g. en, da, pl, zh, fa)"
            )
        if locale.split("_")[0] not in shipped:
            raise NudgeError(
                f"--locale: Nudge ships templates in {', '.join(sorted(shipped))}, not "
                f"'{locale}': choose among them (you can add templates of your own later)"
            )
    for value, check, what in (
        (args.country, schema.is_country, "--country: not a country the holiday calendar knows"),
        (args.currency, schema.is_currency, "--currency: not an ISO 4217 currency code"),
        (args.timezone, schema.is_timezone, "--timezone: not an IANA time zone"),
    ):
        if not check(value):
            raise NudgeError(f"{what}: '{value}'")
    if not locales:
        raise NudgeError("--locale: give at least one language, e.g. --locale pl")
    slug = re.sub(r"[^a-z0-9]+", "-", str(args.name).lower()).strip("-") or "company"
    email = args.email or f"ar@{slug}.example"
    if not schema.is_email(email):
        raise NudgeError(f"--email: '{email}' is not a valid e-mail address")
    today = getattr(args, "today", None) or workspace.today_from_environment() or date.today()
    return {
        "name": str(args.name),
        "slug": slug,
        "country": args.country,
        "locales": locales,
        "locale": locales[0],
        "currency": args.currency,
        "timezone": args.timezone,
        "policy": POLICIES[args.policy],
        "email": email,
        "start": today,
    }


def _shipped_languages() -> set[str]:
    locale_files = resources.files("runner.starter").joinpath("templates", "_locale")
    return {entry.name.removesuffix(".j2") for entry in locale_files.iterdir()}


# -- writing ------------------------------------------------------------------------------------


def _write(root: Path, answers: dict[str, Any]) -> list[str]:
    starter = resources.files("runner.starter")
    written = []
    (root / "settings.yaml").write_text(_settings(answers), encoding="utf-8")
    written.append("settings.yaml")
    policies = root / "policies"
    policies.mkdir()
    for name in sorted(POLICIES.values()):
        text = starter.joinpath("policies", f"{name}.yaml").read_text("utf-8")
        (policies / f"{name}.yaml").write_text(text, encoding="utf-8")
    written.append(f"policies/ (gentle, five-stage, letters-30-60-90; default {answers['policy']})")
    languages = {locale.split("_")[0] for locale in answers["locales"]}
    count = _copy_templates(starter.joinpath("templates"), root / "templates", languages)
    written.append(f"templates/ ({count} files: {', '.join(sorted(languages))})")
    _example(root, answers)
    written.append("customers/example.yaml, invoices/ (an example to replace with yours)")
    workflows = root / ".github" / "workflows"
    if not workflows.exists():
        workflows.mkdir(parents=True)
        for entry in starter.joinpath("workflows").iterdir():
            (workflows / entry.name).write_text(entry.read_text("utf-8"), encoding="utf-8")
        written.append(".github/workflows/ (remind, check, report, import)")
    attributes = root / ".gitattributes"
    if not attributes.exists():
        attributes.write_text(
            "# The send log is append-only: both sides' lines are kept when branches merge.\n"
            "log/**/*.jsonl merge=union\nimports/applied.jsonl merge=union\n",
            encoding="utf-8",
        )
        written.append(".gitattributes")
    return written


def _copy_templates(source: Any, target: Path, languages: set[str]) -> int:
    count = 0
    for folder in source.iterdir():
        for entry in folder.iterdir():
            language = entry.name.split(".")[0]
            shared = folder.name == "_layout" and entry.name != "legacy.j2"
            if not shared and language not in languages:
                continue
            (target / folder.name).mkdir(parents=True, exist_ok=True)
            (target / folder.name / entry.name).write_text(entry.read_text("utf-8"), "utf-8")
            count += 1
    return count


def _settings(a: dict[str, Any]) -> str:
    from runner import latepay

    law = latepay.laws().get(a["country"])
    interest = (
        f"# Statutory late-payment interest (the letters policy): {law.statute_en}, "
        f"{law.reference} plus {law.points} points.\n"
        "# Set the current reference rate (percent) before you use that policy:\n"
        '# interest:\n#   reference_rate: "0.00"\n'
        if law
        else "# No late-payment law of your country is known to Nudge: the letters policy's\n"
        "# statutory interest is not charged (runner/data/late_payment.yaml lists the laws).\n"
    )
    return f"""# yaml-language-server: $schema=runner/schemas/settings.schema.json
# Written by `nudge init`. Secrets (SMTP password, Twilio token) never go here: only the names
# of the environment variables that hold them. docs/formats/settings.md describes every field.

company:
  name: {_quoted(a["name"])}
  email: {a["email"]}            # replace: the address reminders come from and replies go to
  country: {a["country"]}
  address: [Your street 1, 1000 Your town]   # replace: printed on letters
  # signatory: {{name: Your Name, title: Credit Controller}}   # signs letters

payment:
  link: "https://pay.{a["slug"]}.example/{{invoice}}"   # replace, or remove if you have none
  instructions:
{_instructions(a["locales"])}
  # accounts:                 # one per currency: messages show the one of their invoices
  #   - currencies: [{a["currency"]}]
  #     beneficiary: {_quoted(a["name"])}
  #     bank: Your Bank
  #     iban: ...
  #     bic: ...

# The day Nudge took over reminding: nothing before it counts as missed.
start: {a["start"].isoformat()}

defaults:
  locale: {a["locale"]}
  timezone: {a["timezone"]}
  currency: {a["currency"]}
  policy: {a["policy"]}

# Business days: weekends, {a["country"]}'s public holidays, and days the office is closed.
calendar:
  country: {a["country"]}
  closed: []                 # e.g. ["12-24", "12-31"]

email:
  host: smtp.{a["slug"]}.example    # replace with your provider's SMTP host
  port: 587
  security: starttls
  username_env: SMTP_USERNAME
  password_env: SMTP_PASSWORD

{interest}"""


def _instructions(locales: list[str]) -> str:
    import yaml

    text = resources.files("runner.starter").joinpath("instructions.yaml").read_text("utf-8")
    known = yaml.safe_load(text)
    languages = dict.fromkeys(locale.split("_")[0] for locale in locales)
    return "\n".join(f"    {lang}: {_quoted(' '.join(known[lang].split()))}" for lang in languages)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _example(root: Path, a: dict[str, Any]) -> None:
    customers = root / "customers"
    customers.mkdir()
    (customers / "example.yaml").write_text(
        f"""# yaml-language-server: $schema=../runner/schemas/customer.schema.json
# An example: replace it with your customers (one file each), then delete it.
id: example
name: Example Customer
locale: {a["locale"]}
timezone: {a["timezone"]}
country: {a["country"]}
owner: {{name: Your Name, email: {a["email"]}}}   # our account manager for them
contacts:                # who each policy writes to, by role (docs/formats/customer.md)
  - {{name: Alex Example, role: billing, email: billing@customer.example, phone: "{_phone(a)}"}}
  - {{name: Sam Example, role: finance, email: finance@customer.example}}
  - {{name: Kim Example, role: management, email: management@customer.example}}
address: [Customer street 1, 1000 Customer town]
""",
        encoding="utf-8",
    )
    issued = a["start"]
    due = issued + timedelta(days=30)
    folder = root / "invoices" / str(issued.year)
    folder.mkdir(parents=True)
    (folder / "EXAMPLE-1.yaml").write_text(
        f"""# yaml-language-server: $schema=../../runner/schemas/invoice.schema.json
# An example: replace it with your invoices (`nudge import invoices` reads an export).
id: EXAMPLE-1
customer: example
issued: {issued.isoformat()}
due: {due.isoformat()}
amount: "1000.00"
description: Example invoice
""",
        encoding="utf-8",
    )


def _phone(a: dict[str, Any]) -> str:
    """An example mobile number of the company's country (libphonenumber's own example)."""
    import phonenumbers

    number = phonenumbers.example_number_for_type(
        a["country"], phonenumbers.PhoneNumberType.MOBILE
    ) or phonenumbers.example_number("GB")
    assert number is not None  # libphonenumber has an example for GB
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _write_cases(root: Path, repo: Any, a: dict[str, Any]) -> None:
    """Policy test cases for this company's calendar: what each policy sends to an invoice never
    paid, and to one paid after its first reminder, computed the way `nudge test` replays them.
    They pass now and fail when a policy change alters what is sent: the check a pull request
    shows."""
    folder = root / "policies" / "tests"
    folder.mkdir(parents=True)
    issued = date(a["start"].year, 1, 5)
    due = issued + timedelta(days=30)
    for policy in sorted(repo.policies.values(), key=lambda p: p.id):
        last = max((s.first_day for s in policy.steps), default=0) + 30
        span = (due - timedelta(days=7), due + timedelta(days=last))
        _case(repo, folder / f"{policy.id}-never-paid.yaml", policy.id, issued, due, span, None)
        first = next((s for s in policy.steps if s.first_day > 0), None)
        if first is not None:
            paid = due + timedelta(days=first.first_day + 5)
            path = folder / f"{policy.id}-paid-after-{first.id}.yaml"
            _case(repo, path, policy.id, issued, due, span, paid)


def _case(
    repo: Any,
    path: Path,
    policy: str,
    issued: date,
    due: date,
    span: tuple[date, date],
    paid: date | None,
) -> None:
    from runner import yamlload
    from runner.commands.test import sent_in_case

    payments = f', payments: [{{date: {paid.isoformat()}, amount: "1000.00"}}]' if paid else ""
    what = f"paid in full on {paid}" if paid else "never paid"
    head = [
        f"# {policy}: an invoice {what}, every morning from {span[0]} to {span[1]}.",
        "# Written by `nudge init` from what the policy sends on this company's calendar.",
        f"policy: {policy}",
        f"invoice: {{id: T-1, issued: {issued.isoformat()}, due: {due.isoformat()}, "
        f'amount: "1000.00"{payments}}}',
        f"run: {{from: {span[0].isoformat()}, to: {span[1].isoformat()}}}",
    ]
    path.write_text("\n".join([*head, "expect: []"]) + "\n", encoding="utf-8")
    problems, sent = sent_in_case(repo, yamlload.load(path, path.name))
    if problems:
        raise RuntimeError(f"nudge init wrote a policy test it cannot run: {problems}")
    expect = [f"  - {{date: {d}, step: {step}, channel: {channel}}}" for d, step, channel in sent]
    lines = [*head, "expect:", *expect] if expect else [*head, "expect: []"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
