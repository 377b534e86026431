"""An accounting export read into invoice records, and compared with the repository: what is
new, what changed, what was settled since, which customers are new, which open invoices the
export no longer lists. Pure: (table, mapping, repository, today) -> plan."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from runner import bookkeeping, schema
from runner.errors import Problem
from runner.imports import tables
from runner.imports.mapping import Mapping
from runner.imports.tables import BadValue, Row, Table
from runner.model import Invoice, Repository

_NOT_ID = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Record:
    """One invoice (or credit note) as the export states it."""

    row: int
    id: str
    number: str  # as the accounting system writes it (ids may not hold '/')
    customer: str  # the customer id it belongs to
    customer_name: str
    customer_email: str
    issued: date
    due: date
    amount: Decimal
    currency: str
    settled: Decimal | None  # paid + credited so far, if the export says
    paid_date: date | None
    description: str
    credit_note: bool = False
    applies_to: str = ""
    void: bool = False


@dataclass(frozen=True)
class NewCustomer:
    id: str
    name: str
    email: str
    currency: str
    row: int


@dataclass
class Plan:
    created: list[Record] = field(default_factory=list)
    updated: list[tuple[Record, dict[str, tuple[Any, Any]]]] = field(default_factory=list)
    settled: list[tuple[str, bookkeeping.NewPayment]] = field(default_factory=list)
    customers: list[NewCustomer] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # open invoices the export does not list
    notes: list[str] = field(default_factory=list)  # reported, not changed
    unchanged: int = 0

    @property
    def changes(self) -> int:
        return len(self.created) + len(self.updated) + len(self.settled) + len(self.customers)


def invoice_id(number: str) -> str:
    """An invoice number as a Nudge id: characters ids cannot hold become '-'
    (`FV/2026/11/201` -> `FV-2026-11-201`)."""
    return _NOT_ID.sub("-", number.strip()).strip("-._")


# Letters Unicode does not decompose into a base letter and an accent.
_SPELLED = str.maketrans(
    {"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Æ": "AE", "æ": "ae", "ß": "ss", "Đ": "D",
     "đ": "d", "Þ": "Th", "þ": "th", "Œ": "OE", "œ": "oe"}
)  # fmt: skip


def slug(name: str) -> str:
    """A customer id from a name: `Łódzka Fabryka Mebli S.A.` -> `lodzka-fabryka-mebli-s-a`."""
    spelled = unicodedata.normalize("NFKD", name.translate(_SPELLED))
    ascii_name = spelled.encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def same_name(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


# -- reading rows ----------------------------------------------------------------------------


class _Rows:
    """Reads the mapped cells of each row, collecting one problem per bad cell."""

    def __init__(self, table: Table, mapping: Mapping, repo: Repository) -> None:
        self.table = table
        self.mapping = mapping
        self.repo = repo
        self.problems: list[Problem] = []
        self.by_name = {" ".join(c.name.casefold().split()): c.id for c in repo.customers.values()}
        self.currencies: set[str] = set()  # codes already found valid

    def text(self, row: Row, key: str) -> str:
        column = self.mapping.column(key)
        return tables.cell_text(row.cells.get(column)) if column else ""

    def bad(self, row: Row, key: str, message: str) -> None:
        column = self.mapping.column(key) or key
        self.problems.append(
            self.table.problem(row, column, f"{key} (column '{column}'): {message}")
        )

    def required(self, row: Row, key: str) -> str:
        value = self.text(row, key)
        if not value:
            self.bad(row, key, "is empty")
        return value

    def parsed(self, row: Row, key: str, read: Any, optional: bool) -> Any:
        """The cell read by `read(value, mapping)`, or None with the problem recorded."""
        column = self.mapping.column(key)
        value = row.cells.get(column) if column else None
        if tables.cell_text(value) == "":
            if not optional:
                self.bad(row, key, "is empty")
            return None
        try:
            return read(value, self.mapping)
        except BadValue as exc:
            self.bad(row, key, str(exc))
            return None

    def day(self, row: Row, key: str, optional: bool = False) -> date | None:
        found: date | None = self.parsed(row, key, tables.day, optional)
        return found

    def money(self, row: Row, key: str, currency: str, optional: bool = False) -> Decimal | None:
        amount: Decimal | None = self.parsed(row, key, tables.amount, optional)
        if amount is None:
            return None
        places = bookkeeping.precision(currency) if currency in self.currencies else 2
        exponent = amount.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            rounded = amount.quantize(Decimal(1).scaleb(-places))
            if rounded != amount:
                self.bad(row, key, f"{amount} has more decimals than {currency} allows ({places})")
                return None
            amount = rounded
        return amount.quantize(Decimal(1).scaleb(-places))

    def currency(self, row: Row, customer: str) -> str:
        code = self.text(row, "currency").upper()
        if not code:
            known = self.repo.customers.get(customer)
            code = (known.currency if known else None) or self.repo.settings.defaults.currency
        if code not in self.currencies:
            if not schema.is_currency(code):
                self.bad(row, "currency", f"'{code}' is not an ISO 4217 currency code (e.g. EUR)")
                return code
            self.currencies.add(code)
        return code

    def customer(self, row: Row) -> tuple[str, str]:
        number = self.text(row, "customer")
        name = self.text(row, "customer_name")
        if number:
            customer_id = invoice_id(number) if not number.isdigit() else f"c{number}"
            for candidate in (number, customer_id):
                known = self.repo.customers.get(candidate)
                if known is not None:
                    return known.id, known.name
            return customer_id, name or number
        if not name:
            self.bad(row, "customer_name", "is empty")
            return "", ""
        found = self.by_name.get(" ".join(name.casefold().split()))
        return (found, name) if found else (slug(name), name)

    def record(self, row: Row) -> Record | None:
        before = len(self.problems)
        number = self.required(row, "id")
        ident = invoice_id(number)
        if number and not ident:
            self.bad(row, "id", f"'{number}' has no letter or digit to make an id of")
        status = self.text(row, "status")
        verdict = self.mapping.statuses.get(status)
        if verdict == "skip":
            return None
        kind = self.text(row, "type")
        credit_note = kind in self.mapping.credit_note_types
        customer, customer_name = self.customer(row)
        currency = self.currency(row, customer)
        issued = self.day(row, "issued")
        due = self.day(row, "due", optional=credit_note)
        amount = self.money(row, "amount", currency)
        if amount is not None and amount < 0 and not credit_note:
            self.bad(
                row,
                "amount",
                f"{amount} is negative: an invoice is money owed to us (a credit note? name "
                "its type in the mapping's credit_note_types)",
            )
        settled = self._settled(row, currency, amount)
        paid_date = self.day(row, "paid_date", optional=True)
        if len(self.problems) > before or issued is None or amount is None:
            return None
        return Record(
            row=row.number,
            id=ident,
            number=number,
            customer=customer,
            customer_name=customer_name,
            customer_email=self.text(row, "customer_email"),
            issued=issued,
            due=due or issued,
            amount=abs(amount),
            currency=currency,
            settled=settled,
            paid_date=paid_date,
            description=self.text(row, "description"),
            credit_note=credit_note,
            applies_to=invoice_id(self.text(row, "applies_to")),
            void=verdict == "void",
        )

    def _settled(self, row: Row, currency: str, amount: Decimal | None) -> Decimal | None:
        if self.mapping.column("balance"):
            balance = self.money(row, "balance", currency, optional=True)
            if balance is None or amount is None:
                return None
            return amount - balance
        if self.mapping.column("paid"):
            paid = self.money(row, "paid", currency, optional=True)
            if paid is not None and paid < 0:
                self.bad(row, "paid", f"{paid} is negative")
            return paid
        return None


def read_records(
    table: Table, mapping: Mapping, repo: Repository
) -> tuple[list[Record], list[Problem]]:
    """Each invoice of the export once (line items folded together), or the problems."""
    rows = _Rows(table, mapping, repo)
    missing = list(tables.columns_missing(table, mapping))
    if missing:
        header = ", ".join(f"'{h}'" for h in table.header)
        return [], [
            Problem(
                table.name,
                1,
                1,
                f"the header has no column for {', '.join(missing)} (mapping {mapping.source}; "
                f"the header: {header})",
            )
        ]
    records: dict[str, Record] = {}
    for row in table.rows:
        record = rows.record(row)
        if record is None:
            continue
        first = records.get(record.id)
        if first is None:
            records[record.id] = record
        elif not mapping.lines_per_invoice:
            rows.bad(row, "id", f"invoice {record.number} is also on row {first.row}")
        elif _invoice_fields(first) != _invoice_fields(record):
            rows.bad(
                row,
                "id",
                f"a line of invoice {record.number} disagrees with row {first.row} on the "
                "invoice's own columns (customer, dates, total, currency)",
            )
    return list(records.values()), rows.problems


def _invoice_fields(record: Record) -> tuple[Any, ...]:
    return (record.customer, record.issued, record.due, record.amount, record.currency)


# -- comparing with the repository -----------------------------------------------------------


def plan(
    records: list[Record],
    repo: Repository,
    today: date,
    source: str,
    create_customers: bool = True,
    balance_counts_credits: bool = False,
    new_customer: dict[str, Any] | None = None,
) -> Plan:
    """What importing these records changes; hand-set fields are never part of it. When the
    export's balance already counts credit notes, their own rows change nothing."""
    result = Plan()
    listed = {r.id for r in records}
    new_customers: dict[str, NewCustomer] = {}
    for record in records:
        if record.credit_note:
            if balance_counts_credits:
                result.unchanged += 1
            else:
                _credit_note(record, repo, listed, result)
            continue
        existing = repo.invoices.get(record.id)
        if existing is None:
            if record.customer not in repo.customers and not _new_customer(
                record, create_customers, new_customers, result, repo, new_customer or {}
            ):
                continue
            result.created.append(record)
            if record.settled:
                result.settled.append(
                    (record.id, _settlement(record, record.settled, today, source))
                )
            continue
        if existing.customer != record.customer and record.customer in repo.customers:
            result.notes.append(
                f"{record.id}: the export says customer {record.customer}, the repository "
                f"{existing.customer}: not changed (edit {existing.path} if it moved)"
            )
        changes = _changed_fields(existing, record)
        if changes:
            result.updated.append((record, changes))
        settled = _newly_settled(existing, record, result)
        if settled:
            result.settled.append((record.id, _settlement(record, settled, today, source)))
        if not changes and not settled:
            result.unchanged += 1
    result.customers = list(new_customers.values())
    result.missing = sorted(
        i.id
        for i in repo.invoices.values()
        if i.id not in listed and not (i.void or i.written_off) and bookkeeping.open_balance(i) > 0
    )
    return result


def _new_customer(
    record: Record,
    create: bool,
    found: dict[str, NewCustomer],
    result: Plan,
    repo: Repository,
    defaults: dict[str, Any],
) -> bool:
    if record.customer in found:
        return True
    if not create:
        result.notes.append(
            f"{record.id} (row {record.row}) not imported: customer '{record.customer_name}' is "
            f"unknown: add customers/{record.customer}.yaml, or import with --customers create"
        )
        return False
    if not record.customer_email or not schema.is_email(record.customer_email):
        result.notes.append(
            f"{record.id} (row {record.row}) not imported: customer '{record.customer_name}' is "
            f"new and the export gives no e-mail address for reminders: add "
            f"customers/{record.customer}.yaml by hand"
        )
        return False
    gaps = _gaps(repo, defaults)
    if gaps:
        result.notes.append(
            f"{record.id} (row {record.row}) not imported: customer '{record.customer_name}' is "
            f"new, and its policy also needs {gaps}, which the export does not give: add "
            f"customers/{record.customer}.yaml by hand, or give `new_customers:` in the mapping"
        )
        return False
    found[record.customer] = NewCustomer(
        record.customer, record.customer_name, record.customer_email, record.currency, record.row
    )
    return True


def _gaps(repo: Repository, defaults: dict[str, Any]) -> str:
    """What the new customer's policy sends to that an export cannot fill in (validate would
    refuse the customer): roles other than billing, our owner unless the mapping names one,
    phone numbers, postal addresses."""
    policy = repo.policies.get(defaults.get("policy") or repo.settings.defaults.policy)
    if policy is None:
        return f"policy '{defaults.get('policy') or repo.settings.defaults.policy}' (unknown)"
    missing: list[str] = []
    for step in policy.steps:
        for channel in step.channels:
            needs = [*step.roles_for(channel), *step.cc]
            needs = [
                r for r in needs if r != "billing" and not (r == "owner" and "owner" in defaults)
            ]
            needs += ["a phone number"] if channel == "sms" else []
            needs += ["a postal address"] if channel == "letter" else []
            missing += [f"'{r}'" if not r.startswith("a ") else r for r in needs]
    return ", ".join(dict.fromkeys(missing))


def _changed_fields(existing: Invoice, record: Record) -> dict[str, tuple[Any, Any]]:
    changes: dict[str, tuple[Any, Any]] = {}
    for key, old, new in (
        ("issued", existing.issued, record.issued),
        ("due", existing.due, record.due),
        ("amount", existing.amount, record.amount),
        ("currency", existing.currency, record.currency),
        ("description", existing.description, record.description or existing.description),
    ):
        if old != new:
            changes[key] = (old, new)
    if record.void and not existing.void:
        changes["void"] = (False, True)
    if existing.installments and "amount" in changes:
        del changes["amount"]  # a payment plan splits the amount; a person changes both
    return changes


def _newly_settled(existing: Invoice, record: Record, result: Plan) -> Decimal:
    """What the export says was settled beyond the payments Nudge already knows."""
    if record.settled is None or record.void:
        return Decimal(0)
    known = sum((p.amount for p in existing.payments), Decimal(0))
    if record.settled < known:
        result.notes.append(
            f"{record.id}: Nudge knows {bookkeeping.shown(known, record.currency)} paid, the "
            f"export only {bookkeeping.shown(record.settled, record.currency)} (a payment "
            "the accounting system has not booked yet?): not changed"
        )
        return Decimal(0)
    return record.settled - known


def _settlement(
    record: Record, amount: Decimal, today: date, source: str
) -> bookkeeping.NewPayment:
    return bookkeeping.NewPayment(record.paid_date or today, amount, f"settled per {source}")


def _credit_note(record: Record, repo: Repository, listed: set[str], result: Plan) -> None:
    target = record.applies_to
    ref = f"credit note {record.number}"
    if not target or (target not in repo.invoices and target not in listed):
        result.notes.append(
            f"credit note {record.number} (row {record.row}) names no invoice of ours: "
            f"allocate it by hand: nudge pay INVOICE {record.amount} --ref '{ref}'"
        )
        return
    invoice = repo.invoices.get(target)
    if invoice is not None and any(p.ref == ref for p in invoice.payments):
        result.unchanged += 1
        return
    result.settled.append((target, bookkeeping.NewPayment(record.issued, record.amount, ref)))
