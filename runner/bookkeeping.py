"""What a bookkeeper records on an invoice or a customer, as round-trip edits of its file:
payments, promises to pay, disputes, pauses. Used by the small commands (`nudge pay`, ...) and
by the imports, so a payment looks the same however it arrived."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from runner import yamledit
from runner.errors import NudgeError
from runner.model import Customer, Invoice
from runner.yamledit import Edits

# Where new keys go in a hand-written invoice: before what usually comes last.
_INVOICE_TAIL = ("attachment", "policy")


@dataclass(frozen=True)
class NewPayment:
    date: date
    amount: Decimal
    ref: str = ""


def precision(currency: str) -> int:
    from runner.repository import _precision

    return _precision(currency)


def parse_money(text: str, currency: str, what: str = "amount") -> Decimal:
    """An amount typed by a person: `1200`, `1200.50`; never more decimals than the currency."""
    try:
        amount = Decimal(text.strip().replace("_", ""))
    except InvalidOperation:
        raise NudgeError(f"{what} '{text}' is not an amount: write it like 1200.00") from None
    if not amount.is_finite():
        raise NudgeError(f"{what} '{text}' is not an amount: write it like 1200.00")
    places = precision(currency)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise NudgeError(f"{what} {text} has more decimals than {currency} allows ({places})")
    return amount.quantize(Decimal(1).scaleb(-places))


def shown(amount: Decimal, currency: str) -> str:
    """Money as people read it in a summary: `1,200.00 EUR`."""
    places = precision(currency)
    return f"{amount.quantize(Decimal(1).scaleb(-places)):,} {currency}"


def open_balance(invoice: Invoice) -> Decimal:
    """What is still owed, counting every recorded payment whatever its date."""
    return invoice.amount - sum((p.amount for p in invoice.payments), Decimal(0))


def invoice_node(edits: Edits, invoice: Invoice) -> Any:
    return yamledit.invoice_node(edits.open(invoice.path, "invoice"), invoice.id)


def has_payment_ref(node: Any, ref: str) -> bool:
    return bool(ref) and any(
        isinstance(p, dict) and str(p.get("ref", "")) == ref for p in node.get("payments") or ()
    )


def add_payment(edits: Edits, invoice: Invoice, payment: NewPayment) -> bool:
    """Append a payment; False (and nothing changed) when one with the same ref is there."""
    from ruamel.yaml.comments import CommentedSeq

    node = invoice_node(edits, invoice)
    if has_payment_ref(node, payment.ref):
        return False
    fields: dict[str, Any] = {
        "date": payment.date,
        "amount": yamledit.money(payment.amount),
    }
    if payment.ref:
        fields["ref"] = yamledit.text(payment.ref)
    payments = node.get("payments")
    if payments is None:
        yamledit.insert_before(
            node, "payments", CommentedSeq([yamledit.flow(**fields)]), _INVOICE_TAIL
        )
    else:
        payments.append(yamledit.sequence_like(payments, yamledit.flow(**fields)))
    return True


def set_promise(
    edits: Edits, invoice: Invoice, when: date, amount: Decimal | None, made: date, note: str
) -> None:
    fields: dict[str, Any] = {"date": when}
    if amount is not None:
        fields["amount"] = yamledit.money(amount)
    fields["made"] = made
    if note:
        fields["note"] = yamledit.text(note)
    node = invoice_node(edits, invoice)
    yamledit.insert_before(node, "promise", yamledit.flow(**fields), _INVOICE_TAIL)


def set_dispute(edits: Edits, invoice: Invoice, reason: str) -> None:
    node = invoice_node(edits, invoice)
    yamledit.insert_before(node, "disputed", True, _INVOICE_TAIL)
    if reason:
        yamledit.insert_before(node, "dispute_reason", yamledit.text(reason), _INVOICE_TAIL)
    elif "dispute_reason" in node:
        del node["dispute_reason"]


def clear_dispute(edits: Edits, invoice: Invoice) -> None:
    node = invoice_node(edits, invoice)
    for key in ("disputed", "dispute_reason"):
        if key in node:
            del node[key]


def set_pause(edits: Edits, target: Invoice | Customer, until: date | None) -> None:
    """`paused_until` on an invoice or a customer; None removes it."""
    tail: tuple[str, ...] = ()
    if isinstance(target, Invoice):
        node, tail = invoice_node(edits, target), _INVOICE_TAIL
    else:
        node = edits.open(target.path, "customer").data
    if until is None:
        if "paused_until" in node:
            del node["paused_until"]
    else:
        yamledit.insert_before(node, "paused_until", until, tail)
