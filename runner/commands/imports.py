"""`nudge import invoices|payments|pending`: invoices from an accounting export, payments from a
bank statement, and (for CI) every file under imports/ not applied yet. Each import is all or
nothing, recorded in imports/applied.jsonl, and with --commit one commit of exactly the files it
changed, its summary in the message."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from runner import bookkeeping, git, workspace, yamledit
from runner.errors import NudgeError
from runner.imports import invoices as export
from runner.imports import mapping as mappings
from runner.imports import matching, record, statements, tables
from runner.model import Repository
from runner.yamledit import Edits

INVOICES_FOLDER = "imports/invoices"
STATEMENTS_FOLDER = "imports/statements"
STATEMENT_SUFFIXES = (".xml", ".053", ".054", ".sta", ".mt940", ".940", ".txt", ".csv")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    one = sub.add_parser("invoices", help="an accounting system's export (CSV, XLSX, JSON lines)")
    one.add_argument("file", type=Path)
    one.add_argument(
        "--mapping",
        required=True,
        help=f"a preset ({', '.join(mappings.presets())}), a name in imports/mappings/, or a file",
    )
    one.add_argument(
        "--customers",
        choices=("create", "report"),
        default="create",
        help="customers the repository does not know: create them (default) or only report",
    )
    two = sub.add_parser("payments", help="a bank statement: camt.053/054, MT940, or CSV")
    two.add_argument("file", type=Path)
    two.add_argument("--mapping", help="for a bank's CSV: which column is what")
    three = sub.add_parser(
        "pending", help="every file under imports/invoices/ and imports/statements/ not applied"
    )
    three.add_argument("--customers", choices=("create", "report"), default="create")
    for each in (one, two, three):
        each.add_argument("--root", type=Path, default=argparse.SUPPRESS, help="the repository")
        workspace.add_today(each)
        workspace.add_write_options(each)


@dataclass
class Outcome:
    """One applied file: what it changed, as lines for people and a record for history."""

    source: str
    headline: str
    lines: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        return "\n".join([self.headline, *(f"  {line}" for line in self.lines)])


def run(args: argparse.Namespace) -> int:
    root: Path = args.root
    if args.what == "pending":
        files = pending(root)
        if not files:
            text = "nothing to import: every file under imports/ is applied"
            print(text)
            _summarize([text])
            return 0
        texts = []
        for kind, rel, mapping in files:
            texts.append(_one(args, root / rel, rel, kind, mapping))
        _summarize(texts)
        return 0
    path: Path = args.file
    if not path.is_file():
        raise NudgeError(f"{path}: no such file")
    name = _shown_name(root, path)
    kind = "invoices" if args.what == "invoices" else "payments"
    _summarize([_one(args, path, name, kind, getattr(args, "mapping", None))])
    return 0


def _shown_name(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _one(
    args: argparse.Namespace, path: Path, name: str, kind: str, mapping_name: str | None
) -> str:
    root: Path = args.root
    data = path.read_bytes()
    sha256 = record.digest(data)
    done = record.applied(root, sha256)
    if done is not None:
        text = f"{name}: already imported ({done.get('file')}, {done.get('at')}): nothing changed"
        print(text)
        return text
    loaded = workspace.load_valid(root)
    repo = loaded.repo
    today = args.today or workspace.now(args, repo.settings.defaults.timezone).date()
    edits = Edits(root)
    if kind == "invoices":
        if mapping_name is None:
            raise NudgeError(f"{name}: an export needs --mapping")
        mapping = mappings.find(root, mapping_name)
        if mapping.kind != "invoices":
            raise NudgeError(f"mapping {mapping.source} is for {mapping.kind}, not invoices")
        outcome = _invoices(path, name, mapping, repo, today, edits, args.customers == "create")
    else:
        bank = mappings.find(root, mapping_name) if mapping_name else None
        outcome = _payments(path, name, bank, repo, today, edits)
    entry = {
        "file": name,
        "sha256": sha256,
        "kind": kind,
        "at": today.isoformat(),
        "changes": outcome.changes,
        **outcome.extra,
    }
    edits.raw[record.RECORD] = record.appended(root, entry)
    text = outcome.text()
    print(text)
    if args.dry_run:
        changed = sorted(edits.texts())
        print(f"(dry run: nothing written; would change {len(changed)} files)")
        return text
    written = edits.write()
    if args.commit:
        settings = repo.settings
        message = f"nudge import: {outcome.headline}\n\n" + "\n".join(outcome.lines)
        sha = git.commit_paths(
            root, written, message, (settings.git_author_name, settings.git_author_email)
        )
        print(f"committed {sha[:8]}")
    return text


def _summarize(texts: list[str]) -> None:
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write("### Nudge imports\n\n")
            for text in texts:
                head, *rest = text.splitlines()
                out.write(f"**{head}**\n\n" + "".join(f"- {r.strip()}\n" for r in rest) + "\n")


def pending(root: Path) -> list[tuple[str, str, str | None]]:
    """(kind, path, mapping) of files under imports/ whose hash is not recorded: exports first
    (in imports/invoices/<mapping>/), then statements (a bank CSV in a folder named after its
    mapping), each in name order."""
    known = {e.get("sha256") for e in record.entries(root)}
    found: list[tuple[str, str, str | None]] = []
    for folder, kind in ((INVOICES_FOLDER, "invoices"), (STATEMENTS_FOLDER, "payments")):
        base = root / folder
        for path in sorted(base.rglob("*")) if base.is_dir() else ():
            if not path.is_file() or path.name.startswith("."):
                continue
            rel = path.relative_to(root).as_posix()
            inner = path.relative_to(base).parts
            mapping = inner[0] if len(inner) > 1 else None
            if kind == "invoices" and mapping is None:
                raise NudgeError(
                    f"{rel}: put an export in a folder named after its mapping, e.g. "
                    f"{INVOICES_FOLDER}/xero/{path.name}"
                )
            if kind == "payments" and path.suffix.lower() != ".csv":
                mapping = None  # camt and MT940 say what they are
            if record.digest(path.read_bytes()) not in known:
                found.append((kind, rel, mapping))
    return found


# -- invoices ------------------------------------------------------------------------------------


def _invoices(
    path: Path,
    name: str,
    mapping: mappings.Mapping,
    repo: Repository,
    today: date,
    edits: Edits,
    create_customers: bool,
) -> Outcome:
    table = tables.read(path, name, mapping)
    records, problems = export.read_records(table, mapping, repo)
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:30])
        more = f"\n  ... and {len(problems) - 30} more" if len(problems) > 30 else ""
        raise NudgeError(f"{name}: {len(problems)} problems; nothing was imported:\n{shown}{more}")
    source = f"{mapping.name} export {path.name}"
    plan = export.plan(
        records,
        repo,
        today,
        source,
        create_customers=create_customers,
        balance_counts_credits="balance" in mapping.columns,
        new_customer=mapping.new_customers,
    )
    by_id = {r.id: r for r in records}
    outcome = Outcome(name, f"invoices from {name} (mapping {mapping.name})")
    for customer in plan.customers:
        _create_customer(edits, customer, repo, name, mapping.new_customers)
        outcome.changes.append({"customer": customer.id, "action": "created", "row": customer.row})
    for item in plan.created:
        _create_invoice(edits, item, repo, name)
        outcome.changes.append({"invoice": item.id, "action": "created", "row": item.row})
    for item, changes in plan.updated:
        _update_invoice(edits, repo.invoices[item.id], changes)
        outcome.changes.append(
            {
                "invoice": item.id,
                "action": "updated",
                "row": item.row,
                "fields": {k: [_plain(a), _plain(b)] for k, (a, b) in changes.items()},
            }
        )
    for invoice_id, payment in plan.settled:
        invoice = repo.invoices.get(invoice_id)
        if invoice is not None:
            bookkeeping.add_payment(edits, invoice, payment)
        else:  # created by this import: the new file holds it
            _settle_new(edits, by_id[invoice_id], payment)
        currency = invoice.currency if invoice else by_id[invoice_id].currency
        outcome.changes.append(_paid(invoice_id, payment, currency, source))
    n = sum(1 for r in records if not r.credit_note)
    outcome.headline += (
        f": {n} invoices, {len(plan.created)} new, {len(plan.updated)} changed, "
        f"{len(plan.settled)} settled, {len(plan.customers)} new customers"
    )
    outcome.lines += [f"new customer {c.id} ({c.name}, {c.email})" for c in plan.customers]
    outcome.lines += [
        f"new {r.id}: {bookkeeping.shown(r.amount, r.currency)} due {r.due}" for r in plan.created
    ]
    outcome.lines += [
        f"changed {r.id}: "
        + "; ".join(f"{k} {_plain(a)} -> {_plain(b)}" for k, (a, b) in c.items())
        for r, c in plan.updated
    ]
    outcome.lines += [
        f"settled {i}: {bookkeeping.shown(p.amount, by_id[i].currency if i in by_id else '')}"
        f" ({p.ref})"
        for i, p in plan.settled
    ]
    if plan.missing:
        listed = ", ".join(plan.missing[:10]) + (" ..." if len(plan.missing) > 10 else "")
        outcome.lines.append(
            f"{len(plan.missing)} open invoices are not in this export (kept): {listed}"
        )
    outcome.lines += plan.notes
    outcome.lines.append(f"{plan.unchanged} unchanged")
    return outcome


def _plain(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _paid(
    invoice_id: str, payment: bookkeeping.NewPayment, currency: str, how: str
) -> dict[str, Any]:
    return {
        "invoice": invoice_id,
        "action": "paid",
        "date": payment.date.isoformat(),
        "amount": str(payment.amount),
        "currency": currency,
        "ref": payment.ref,
        "how": how,
    }


def _create_customer(
    edits: Edits,
    customer: export.NewCustomer,
    repo: Repository,
    source: str,
    defaults: dict[str, Any],
) -> None:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    fields = CommentedMap()
    fields["id"] = customer.id
    fields["name"] = yamledit.text(customer.name)
    for key in ("locale", "timezone", "policy"):
        if key in defaults:
            fields[key] = defaults[key]
    if customer.currency != repo.settings.defaults.currency:
        fields["currency"] = customer.currency
    if "owner" in defaults:
        fields["owner"] = yamledit.flow(**defaults["owner"])
    fields["contacts"] = CommentedSeq(
        [yamledit.flow(name="Accounts payable", role="billing", email=customer.email)]
    )
    header = (
        "# yaml-language-server: $schema=../runner/schemas/customer.schema.json\n"
        f"# created by `nudge import invoices` from {source} row {customer.row}: check the "
        "contacts, locale, time zone and policy\n"
    )
    edits.create(f"customers/{customer.id}.yaml", "customer", fields, header)


def _create_invoice(edits: Edits, item: export.Record, repo: Repository, source: str) -> None:
    from ruamel.yaml.comments import CommentedMap

    fields = CommentedMap()
    fields["id"] = item.id
    fields["customer"] = item.customer
    if item.description:
        fields["description"] = yamledit.text(item.description)
    fields["issued"] = item.issued
    fields["due"] = item.due
    fields["amount"] = yamledit.money(item.amount)
    known = repo.customers.get(item.customer)
    inherited = (known.currency if known else None) or repo.settings.defaults.currency
    if item.currency != inherited:
        fields["currency"] = item.currency
    if item.void:
        fields["void"] = True
    number = f" (number {item.number})" if item.number != item.id else ""
    header = (
        "# yaml-language-server: $schema=../../runner/schemas/invoice.schema.json\n"
        f"# imported from {source} row {item.row}{number}\n"
    )
    edits.create(f"invoices/{item.issued.year}/{item.id}.yaml", "invoice", fields, header)


def _settle_new(edits: Edits, item: export.Record, payment: bookkeeping.NewPayment) -> None:
    from ruamel.yaml.comments import CommentedSeq

    node = edits.files[f"invoices/{item.issued.year}/{item.id}.yaml"].data
    node["payments"] = CommentedSeq(
        [
            yamledit.flow(
                date=payment.date,
                amount=yamledit.money(payment.amount),
                ref=yamledit.text(payment.ref),
            )
        ]
    )


def _update_invoice(edits: Edits, invoice: Any, changes: dict[str, tuple[Any, Any]]) -> None:
    node = bookkeeping.invoice_node(edits, invoice)
    for key, (_, new) in changes.items():
        if key == "amount":
            value: Any = yamledit.money(new)
        elif key == "description":
            value = yamledit.text(new)
        else:
            value = new
        yamledit.insert_before(node, key, value, ("payments", "attachment", "policy"))


# -- payments ------------------------------------------------------------------------------------


def _payments(
    path: Path,
    name: str,
    mapping: mappings.Mapping | None,
    repo: Repository,
    today: date,
    edits: Edits,
) -> Outcome:
    statement = statements.read(path, name, mapping)
    result = matching.match(statement.credits, repo)
    when = statement.date or today
    outcome = Outcome(name, f"payments from {name} ({statement.format}, {when})")
    for allocation in result.allocations:
        credit = allocation.credit
        invoice = repo.invoices[allocation.invoice]
        payment = bookkeeping.NewPayment(credit.booked, allocation.amount, credit.transaction)
        bookkeeping.add_payment(edits, invoice, payment)
        change = _paid(invoice.id, payment, invoice.currency, allocation.how)
        change["outcome"] = allocation.outcome
        outcome.changes.append(change)
        outcome.lines.append(
            f"{invoice.id}: {'reversed' if credit.reversal else 'paid'} "
            f"{bookkeeping.shown(abs(allocation.amount), invoice.currency)} on {credit.booked}, "
            f"transaction {credit.transaction} ({allocation.how}): {allocation.outcome}"
        )
    review = f"{record.UNMATCHED}/{Path(name).stem}.yaml"
    if result.unmatched:
        edits.raw[review] = _review_file(name, result.unmatched)
        outcome.lines.append(f"{len(result.unmatched)} credits to review in {review}:")
        outcome.lines += [
            f"  {u.credit.where}: {bookkeeping.shown(u.credit.amount, u.credit.currency or '')} "
            f"from {u.credit.payer_name or 'an unknown payer'}: {u.reason}"
            for u in result.unmatched
        ]
    if result.already:
        outcome.lines.append(
            f"{len(result.already)} credits were recorded before (same transaction id): skipped"
        )
    if statement.skipped:
        outcome.lines.append(f"{len(statement.skipped)} entries are not credits: skipped")
    outcome.headline += (
        f": {len(statement.credits)} credits, {len(result.allocations)} payments recorded, "
        f"{len(result.unmatched)} to review"
    )
    outcome.extra = {
        "format": statement.format,
        "statement_date": when.isoformat(),
        "unmatched": len(result.unmatched),
        **({"review": review} if result.unmatched else {}),
    }
    return outcome


def _review_file(name: str, unmatched: list[matching.Unmatched]) -> str:
    items = []
    for u in unmatched:
        c = u.credit
        item: dict[str, Any] = {
            "transaction": c.transaction,
            "where": c.where,
            "booked": c.booked.isoformat(),
            "amount": str(c.amount),
            "currency": c.currency,
            "payer": c.payer_name,
            "iban": c.payer_iban,
            "text": c.text,
            "references": list(c.references),
            "reason": u.reason,
        }
        if u.candidates:
            item["candidates"] = list(u.candidates)
        items.append({k: v for k, v in item.items() if v not in ("", [])})
    head = (
        f"# Credits from {name} that Nudge could not match to one invoice. For each, record it\n"
        "# by hand (`nudge pay INVOICE AMOUNT --date BOOKED --ref TRANSACTION`), or teach the\n"
        "# customer's file the payer (`payers: [{iban: ...}]`); then delete it from this file.\n"
    )
    return head + yaml.safe_dump(
        {"statement": name, "credits": items}, sort_keys=False, allow_unicode=True, width=100
    )
