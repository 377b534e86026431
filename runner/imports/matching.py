"""Which invoice each credit pays, decided in a fixed order and never guessed:

1. a structured creditor reference (ISO 11649 "RF", the one every message prints for the
   invoice), in the statement's reference field or anywhere in its text;
2. invoice numbers in the remittance text (several: one transfer paying several invoices, each
   up to its balance, oldest due first; what is left over stays on the last);
3. the amount, paid from an account (IBAN) or under a name the customer's file lists, equal to
   exactly one of that customer's open balances.

A credit that matches nothing, or matches more than one way, is left for a person with the
reason. A credit whose transaction id a payment already carries is not recorded again.
Pure: (credits, repository) -> matching.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from runner import bookkeeping
from runner.imports.invoices import same_name
from runner.imports.statements import Credit
from runner.model import Customer, Invoice, Repository
from runner.payref import creditor_reference
from runner.repository import compact_iban


@dataclass(frozen=True)
class Allocation:
    credit: Credit
    invoice: str
    amount: Decimal  # negative for a reversal
    how: str  # which rule matched, for the summary
    outcome: str  # "paid in full", "partly paid: X still open", "overpaid by X", ...


@dataclass(frozen=True)
class Unmatched:
    credit: Credit
    reason: str
    candidates: tuple[str, ...] = ()


@dataclass
class Matching:
    allocations: list[Allocation] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    already: list[Credit] = field(default_factory=list)


_RF = re.compile(r"RF\d\d(?:[ ]?[0-9A-Z]){1,21}", re.IGNORECASE)
_SPLIT = re.compile(r"[\s,;:()+&]+")


def _alnum(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isascii() and ch.isalnum())


class _Index:
    """The repository seen from a bank statement: references, numbers, payers, balances."""

    def __init__(self, repo: Repository) -> None:
        live = [i for i in repo.invoices.values() if not i.void]
        self.invoices = {i.id: i for i in live}
        self.by_reference: dict[str, list[str]] = {}
        self.by_number: dict[str, list[str]] = {}
        for invoice in live:
            self.by_reference.setdefault(creditor_reference(invoice.id), []).append(invoice.id)
            self.by_number.setdefault(_alnum(invoice.id), []).append(invoice.id)
        self.balance = {i.id: bookkeeping.open_balance(i) for i in live}
        self.paid = {i.id: sum((p.amount for p in i.payments), Decimal(0)) for i in live}
        self.recorded = {p.ref for i in repo.invoices.values() for p in i.payments if p.ref}
        self.customers = list(repo.customers.values())
        self.repo = repo

    def references(self, credit: Credit) -> set[str]:
        found = set()
        for text in (*credit.references, credit.text):
            for match in _RF.finditer(text):
                compact = _alnum(match.group(0))
                # the longest valid reference at this place (text may run on after it)
                for end in range(len(compact), 4, -1):
                    if compact[:end] in self.by_reference:
                        found.update(self.by_reference[compact[:end]])
                        break
        return found

    def numbers(self, text: str) -> set[str]:
        words = [w for w in _SPLIT.split(text) if w]
        tokens = set(words)
        tokens.update(part for w in words for part in w.split("/"))
        tokens.update(a + b for a, b in itertools.pairwise(words))  # "INV 1042"
        found: set[str] = set()
        for token in tokens:
            key = _alnum(token)
            if len(key) < 4 or (key.isdigit() and len(key) < 5):
                continue  # short numbers are amounts and dates as often as invoices
            found.update(self.by_number.get(key, ()))
        return found

    def payers(self, credit: Credit) -> list[Customer]:
        iban = compact_iban(credit.payer_iban)
        name = credit.payer_name
        found = []
        for customer in self.customers:
            by_iban = bool(iban) and any(p.iban == iban for p in customer.payers)
            by_name = bool(name.strip()) and (
                any(p.name and same_name(p.name, name) for p in customer.payers)
                or same_name(customer.name, name)
            )
            if by_iban or by_name:
                found.append(customer)
        return found

    def open_of(self, customer: str) -> list[Invoice]:
        return [
            i
            for i in self.repo.invoices_of(customer)
            if i.id in self.invoices and not i.written_off and self.balance[i.id] > 0
        ]


def match(credits: Iterable[Credit], repo: Repository) -> Matching:
    index = _Index(repo)
    result = Matching()
    for credit in credits:
        if credit.transaction in index.recorded:
            result.already.append(credit)
            continue
        decided = _decide(credit, index)
        if isinstance(decided, Unmatched):
            result.unmatched.append(decided)
            continue
        for allocation in decided:
            index.balance[allocation.invoice] -= allocation.amount
            index.paid[allocation.invoice] += allocation.amount
            result.allocations.append(allocation)
        index.recorded.add(credit.transaction)
    return result


def _decide(credit: Credit, index: _Index) -> list[Allocation] | Unmatched:
    by_reference = index.references(credit)
    if by_reference:
        return _allocate(credit, sorted(by_reference), "creditor reference", index)
    by_number = index.numbers(credit.text)
    if by_number:
        return _allocate(credit, sorted(by_number), "invoice number in the text", index)
    payers = index.payers(credit)
    if len(payers) > 1:
        return Unmatched(
            credit,
            "the payer fits several customers: add the account (IBAN) to one customer's payers",
            tuple(c.id for c in payers),
        )
    if not payers:
        return Unmatched(
            credit, "no creditor reference, no invoice number in the text, and an unknown payer"
        )
    customer = payers[0]
    fits = [i for i in index.open_of(customer.id) if index.balance[i.id] == abs(credit.amount)]
    if credit.reversal:
        fits = [
            i
            for i in index.repo.invoices_of(customer.id)
            if i.id in index.invoices and index.paid[i.id] >= abs(credit.amount)
        ]
    if len(fits) == 1:
        return _allocate(credit, [fits[0].id], f"amount and payer ({customer.id})", index)
    if fits:
        return Unmatched(
            credit,
            f"from {customer.id}, and {len(fits)} open invoices have exactly this balance",
            tuple(i.id for i in fits),
        )
    open_ids = tuple(i.id for i in index.open_of(customer.id))
    return Unmatched(
        credit,
        f"from {customer.id}, but no open invoice of exactly "
        f"{bookkeeping.shown(abs(credit.amount), credit.currency or 'EUR')}",
        open_ids,
    )


def _allocate(
    credit: Credit, invoice_ids: list[str], how: str, index: _Index
) -> list[Allocation] | Unmatched:
    invoices = sorted((index.invoices[i] for i in invoice_ids), key=lambda i: (i.due, i.id))
    wrong = [i.id for i in invoices if credit.currency and i.currency != credit.currency]
    if wrong:
        return Unmatched(
            credit,
            f"{how}: the credit is in {credit.currency}, invoice {', '.join(wrong)} in "
            f"{index.invoices[wrong[0]].currency}",
            tuple(i.id for i in invoices),
        )
    if credit.reversal:
        return _reverse(credit, invoices, how, index)
    owed = [i for i in invoices if index.balance[i.id] > 0]
    if not owed:
        if len(invoices) > 1:
            return Unmatched(
                credit, f"{how}: every invoice it names is paid already", tuple(invoice_ids)
            )
        owed = invoices  # the same invoice paid twice: recorded, as an overpayment
    left = credit.amount
    allocations = []
    for number, invoice in enumerate(owed, 1):
        share = left if number == len(owed) else min(left, index.balance[invoice.id])
        if share <= 0:
            break
        left -= share
        remaining = index.balance[invoice.id] - share
        allocations.append(
            Allocation(credit, invoice.id, share, how, _outcome(remaining, invoice.currency))
        )
    return allocations


def _reverse(
    credit: Credit, invoices: list[Invoice], how: str, index: _Index
) -> list[Allocation] | Unmatched:
    if len(invoices) > 1:
        return Unmatched(
            credit,
            f"a reversal ({how}) naming several invoices: undo the payments by hand",
            tuple(i.id for i in invoices),
        )
    invoice = invoices[0]
    if index.paid[invoice.id] < -credit.amount:
        return Unmatched(
            credit,
            f"a reversal ({how}) of more than Nudge knows paid on {invoice.id}",
            (invoice.id,),
        )
    remaining = index.balance[invoice.id] - credit.amount
    outcome = "payment reversed: " + _outcome(remaining, invoice.currency)
    return [Allocation(credit, invoice.id, credit.amount, how, outcome)]


def _outcome(remaining: Decimal, currency: str) -> str:
    if remaining == 0:
        return "paid in full"
    if remaining < 0:
        return f"overpaid by {bookkeeping.shown(-remaining, currency)}"
    return f"partly paid: {bookkeeping.shown(remaining, currency)} still open"
