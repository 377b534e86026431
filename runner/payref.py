"""Structured creditor references (ISO 11649 "RF"), one per invoice, so a bank statement line can
be matched to the invoice it pays without reading free text.

The reference is "RF" + two check digits + the invoice number's ASCII letters and digits
(`FV/2026/11/201` -> `RF..FV202611201`). A number with none, or with more than the 21 characters
the standard allows, gets a digest of itself instead (still one fixed reference per invoice).
The check digits are ISO 7064 MOD 97-10, computed and verified by python-stdnum.
"""

from __future__ import annotations

import hashlib
from functools import cache

MAX_BODY = 21


@cache
def creditor_reference(invoice_id: str) -> str:
    """The compact RF reference of an invoice, e.g. `RF47INV1042`."""
    from stdnum import iso11649
    from stdnum.iso7064 import mod_97_10

    body = "".join(ch for ch in invoice_id.upper() if ch.isascii() and ch.isalnum())
    if not body or len(body) > MAX_BODY:
        digest = int.from_bytes(hashlib.sha256(invoice_id.encode()).digest()[:13], "big")
        body = _base36(digest)[:MAX_BODY]
    check = mod_97_10.calc_check_digits(body + "RF")
    return iso11649.validate(f"RF{check}{body}")


def printed(reference: str) -> str:
    """As people write it: in groups of four (`RF47 INV1 042`)."""
    from stdnum import iso11649

    return str(iso11649.format(reference))


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"
