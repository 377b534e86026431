"""Bank statements read into the credits they book: ISO 20022 camt.053 (statement), camt.054
(notification) and camt.052 (report), parsed with defusedxml (no DTDs, no entity expansion);
SWIFT MT940 with the `mt-940` package; a bank's CSV through a mapping. Debits are counted and
left out; a reversed credit comes back as a negative credit, to undo the payment it reverses."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from runner import schema
from runner.errors import NudgeError
from runner.imports import tables
from runner.imports.mapping import Mapping
from runner.imports.tables import BadValue


@dataclass(frozen=True)
class Credit:
    """Money in, as one line of a statement says it."""

    transaction: str  # the bank's id for it: becomes the payment's `ref`
    booked: date
    amount: Decimal  # negative for a reversal
    currency: str
    where: str  # e.g. "entry 3, transaction 2" or "line 14", for people
    payer_name: str = ""
    payer_iban: str = ""
    text: str = ""  # unstructured remittance information
    references: tuple[str, ...] = ()  # structured creditor references (RF...)

    @property
    def reversal(self) -> bool:
        return self.amount < 0


@dataclass
class Statement:
    name: str  # the file, as messages show it
    format: str  # camt.053, camt.054, mt940, csv
    date: date | None  # the statement's own date
    credits: list[Credit] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # debits, pending entries: counted only


def read(path: Path, name: str, mapping: Mapping | None = None) -> Statement:
    data = path.read_bytes()
    if mapping is not None:
        return _csv(path, name, mapping)
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return camt(data, name)
    if b":20:" in data[:4096] or b":61:" in data[:8192]:
        return mt940(data, name)
    raise NudgeError(
        f"{name}: not a statement Nudge can read (camt.053/054 XML, MT940): for a bank's CSV "
        "give its mapping with --mapping"
    )


# -- ISO 20022 camt ----------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _kids(element: Any, name: str) -> list[Any]:
    return [c for c in element if _local(c.tag) == name]


def _at(element: Any, path: str) -> Any:
    """The first element down a path of local names (namespaces of any camt version)."""
    for name in path.split("/"):
        if element is None:
            return None
        element = next((c for c in element if _local(c.tag) == name), None)
    return element


def _text(element: Any, path: str) -> str:
    found = _at(element, path)
    return (found.text or "").strip() if found is not None else ""


_CAMT_ROOTS = {
    "BkToCstmrStmt": ("Stmt", "camt.053"),
    "BkToCstmrDbtCdtNtfctn": ("Ntfctn", "camt.054"),
    "BkToCstmrAcctRpt": ("Rpt", "camt.052"),
}


def camt(data: bytes, name: str) -> Statement:
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise NudgeError(
            f"{name}:1:1: the XML declares a DTD or entities ({type(exc).__name__}): bank "
            "statements never need them, and they can be used to exhaust memory; refused"
        ) from None
    except ParseError as exc:
        line, col = exc.position
        reason = str(exc).split(":")[0]
        raise NudgeError(f"{name}:{line}:{col + 1}: not well-formed XML: {reason}") from None
    body = next(iter(root), None)
    kind = _CAMT_ROOTS.get(_local(body.tag)) if body is not None else None
    if _local(root.tag) != "Document" or kind is None:
        raise NudgeError(
            f"{name}: not an ISO 20022 bank statement (expected Document/BkToCstmrStmt, "
            "BkToCstmrDbtCdtNtfctn or BkToCstmrAcctRpt)"
        )
    part, form = kind
    statement = Statement(name, form, None)
    for index, report in enumerate(_kids(body, part), 1):
        stamp = _text(report, "FrToDt/ToDtTm") or _text(report, "CreDtTm")
        stamp = stamp or _text(body, "GrpHdr/CreDtTm")
        statement.date = statement.date or _iso_day(stamp[:10], name, f"{part} {index}")
        report_id = _text(report, "Id") or f"{part}{index}"
        account_currency = _text(report, "Acct/Ccy")
        for number, entry in enumerate(_kids(report, "Ntry"), 1):
            _entry(statement, entry, f"{report_id}/{number}", account_currency)
    return statement


def _entry(statement: Statement, entry: Any, fallback_id: str, account_currency: str) -> None:
    name = statement.name
    where = f"entry {fallback_id.rsplit('/', 1)[-1]}"
    status = _text(entry, "Sts/Cd") or _text(entry, "Sts") or "BOOK"
    sign = _text(entry, "CdtDbtInd")
    reversal = _text(entry, "RvslInd").lower() == "true"
    if status != "BOOK":
        statement.skipped.append(f"{where}: not booked ({status})")
        return
    if sign not in ("CRDT", "DBIT"):
        raise NudgeError(f"{name}: {where}: CdtDbtInd is '{sign}', expected CRDT or DBIT")
    if (sign == "DBIT") != reversal:  # a debit, or a reversed debit: not a customer paying
        statement.skipped.append(f"{where}: {'reversed debit' if reversal else 'debit'}")
        return
    amount, currency = _amount(entry, "Amt", name, where, account_currency)
    booked_text = _text(entry, "BookgDt/Dt") or _text(entry, "BookgDt/DtTm")[:10]
    booked = _iso_day(booked_text, name, where)
    entry_ref = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef")
    details = [t for d in _kids(entry, "NtryDtls") for t in _kids(d, "TxDtls")]
    if not details:
        details = [None]
    amounts = [_tx_amount(tx, name, where, account_currency) for tx in details]
    values = [value for value, _ in amounts]
    batch = len(details) > 1
    if batch and (None in values or sum(v for v in values if v is not None) != amount):
        # A batch booking whose transactions do not carry their own amounts cannot be split.
        statement.credits.append(
            Credit(
                transaction=entry_ref or fallback_id,
                booked=booked,
                amount=-amount if reversal else amount,
                currency=currency,
                where=f"{where} (a batch of {len(details)} without amounts per transaction)",
                text=_text(entry, "AddtlNtryInf"),
            )
        )
        return
    for number, (tx, tx_amount) in enumerate(zip(details, amounts, strict=True), 1):
        value, tx_currency = amount, currency
        if tx_amount[0] is not None:
            value, tx_currency = tx_amount[0], tx_amount[1]
        refs: tuple[str, ...] = ()
        if tx is None:
            ident, text = entry_ref or fallback_id, _text(entry, "AddtlNtryInf")
            party, iban = "", ""
        else:
            ident = (
                _text(tx, "Refs/AcctSvcrRef")
                or _text(tx, "Refs/TxId")
                or (f"{entry_ref}/{number}" if batch and entry_ref else entry_ref)
                or _end_to_end(tx)
                or f"{fallback_id}/{number}"
            )
            text = " ".join(
                (u.text or "").strip() for r in _kids(tx, "RmtInf") for u in _kids(r, "Ustrd")
            ) or _text(tx, "AddtlTxInf")
            refs = tuple(
                (ref.text or "").strip()
                for r in _kids(tx, "RmtInf")
                for s in _kids(r, "Strd")
                for ref in [_at(s, "CdtrRefInf/Ref")]
                if ref is not None and ref.text
            )
            party, iban = _payer(tx, reversal)
        statement.credits.append(
            Credit(
                transaction=ident,
                booked=booked,
                amount=-value if reversal else value,
                currency=tx_currency,
                where=f"{where}, transaction {number}" if batch else where,
                payer_name=party,
                payer_iban=iban,
                text=text,
                references=refs,
            )
        )


def _payer(tx: Any, reversal: bool) -> tuple[str, str]:
    # The payer is the debtor of a credit; on a reversed credit the bank may list the parties
    # either way round, so the debtor is tried first, then the creditor.
    roles = ("Dbtr", "Cdtr") if reversal else ("Dbtr",)
    for role in roles:
        name = _text(tx, f"RltdPties/{role}/Nm") or _text(tx, f"RltdPties/{role}/Pty/Nm")
        iban = _text(tx, f"RltdPties/{role}Acct/Id/IBAN")
        if name or iban:
            return name, iban
    return "", ""


def _end_to_end(tx: Any) -> str:
    ident = _text(tx, "Refs/EndToEndId")
    return "" if ident.upper() in ("", "NOTPROVIDED") else ident


def _tx_amount(tx: Any, name: str, where: str, fallback: str) -> tuple[Decimal | None, str]:
    if tx is None:
        return None, fallback
    for path in ("Amt", "AmtDtls/TxAmt/Amt"):
        if _at(tx, path) is not None:
            return _amount(tx, path, name, where, fallback)
    return None, fallback


def _amount(element: Any, path: str, name: str, where: str, fallback: str) -> tuple[Decimal, str]:
    found = _at(element, path)
    text = (found.text or "").strip() if found is not None else ""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise NudgeError(f"{name}: {where}: {path} '{text}' is not an amount") from None
    if not value.is_finite() or value < 0:
        raise NudgeError(
            f"{name}: {where}: {path} {text} is negative: ISO 20022 amounts are never "
            "negative (CdtDbtInd says the direction)"
        )
    currency = found.get("Ccy", "") or fallback
    if not schema.is_currency(currency) or not currency:
        raise NudgeError(
            f"{name}: {where}: currency '{currency}' is not an ISO 4217 code (e.g. EUR)"
        )
    return value, currency


def _iso_day(text: str, name: str, where: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise NudgeError(f"{name}: {where}: '{text}' is not a date (YYYY-MM-DD)") from None


# -- SWIFT MT940 -------------------------------------------------------------------------------

_TAG = re.compile(rb"^:(\d\d[A-Z]?):", re.MULTILINE)


def mt940(data: bytes, name: str) -> Statement:
    import mt940 as library
    from mt940.processors import transaction_details_post_processor

    text = tables.decode(data, name, "latin-1").replace("\r\n", "\n")
    _check_complete(text.encode("utf-8"), name)
    transactions = library.models.Transactions(
        processors={"post_transaction_details": [transaction_details_post_processor]},
        options=library.Options.all(),
    )
    try:
        transactions.parse(text)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise NudgeError(f"{name}: not a readable MT940 statement: {exc}") from None
    closing = transactions.data.get("final_closing_balance")
    statement = Statement(name, "mt940", closing.date if closing is not None else None)
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.startswith(":61:")]
    ref = str(transactions.data.get("transaction_reference", "")) or Path(name).stem
    for index, transaction in enumerate(transactions, 0):
        line = lines[index] if index < len(lines) else 0
        _mt940_line(statement, transaction.data, f"line {line}", f"{ref}/{index + 1}")
    return statement


def _check_complete(data: bytes, name: str) -> None:
    """A statement cut short (a partial download) reads without error in most parsers: each
    opening balance needs its closing balance after the last transaction."""
    tags = [(m.group(1).decode(), data.count(b"\n", 0, m.start()) + 1) for m in _TAG.finditer(data)]
    if not tags:
        raise NudgeError(f"{name}:1: no MT940 fields (:20:, :25:, :60F:, :61:, :62F:)")
    openings = [line for tag, line in tags if tag in ("60F", "60M")]
    closings = [line for tag, line in tags if tag in ("62F", "62M")]
    last_line = data.count(b"\n") + 1
    if len(closings) < len(openings) or tags[-1][0] in ("61", "86", "60F", "60M"):
        raise NudgeError(
            f"{name}:{last_line}: the statement ends before its closing balance (:62F:): the "
            "file is cut short; nothing was imported (download it again)"
        )


def _mt940_line(statement: Statement, data: dict[str, Any], where: str, fallback: str) -> None:
    status = str(data.get("status", ""))
    amount = data["amount"].amount
    currency = data["amount"].currency or ""
    if status in ("D", "RD"):
        statement.skipped.append(f"{where}: {'reversed debit' if status == 'RD' else 'debit'}")
        return
    details = _mt940_details(data)
    bank_ref = str(data.get("bank_reference") or "").strip()
    customer_ref = str(data.get("customer_reference") or "").strip()
    ident = bank_ref or (customer_ref if customer_ref.upper() != "NONREF" else "") or fallback
    booked = data.get("entry_date") or data["date"]
    statement.credits.append(
        Credit(
            transaction=ident,
            booked=date(booked.year, booked.month, booked.day),
            amount=-abs(amount) if status == "RC" else abs(amount),
            currency=currency,
            where=where,
            payer_name=details.get("name", ""),
            payer_iban=details.get("iban", ""),
            text=details.get("text", ""),
            references=tuple(r for r in [details.get("reference", "")] if r),
        )
    )


_SWIFT_KEYS = ("EREF", "REMI", "ORDP", "CNTP", "NAME", "IBAN", "BENM", "PREF", "MARF", "CSID")
_SWIFT_FIELD = re.compile(r"/(" + "|".join(_SWIFT_KEYS) + r")/")


def _mt940_details(data: dict[str, Any]) -> dict[str, str]:
    """Payer and remittance from :86:, in the dialects banks use: German `?20...?32` sub-fields
    (parsed by mt-940), `/KEY/value` fields (Dutch and other banks), or plain text."""
    if data.get("purpose") is not None or data.get("applicant_name") is not None:
        purpose = str(data.get("purpose") or "")
        return {
            "name": str(data.get("applicant_name") or "").strip(),
            "iban": str(data.get("applicant_iban") or data.get("gvc_applicant_iban") or ""),
            "text": " ".join([purpose, str(data.get("end_to_end_reference") or "")]).strip(),
        }
    raw = " ".join(str(data.get("transaction_details") or "").split("\n"))
    if not _SWIFT_FIELD.search(raw):
        return {"text": raw.strip()}
    parts = _SWIFT_FIELD.split(raw)
    fields = {parts[i]: parts[i + 1].strip("/ ") for i in range(1, len(parts) - 1, 2)}
    out: dict[str, str] = {}
    remittance = fields.get("REMI", "")
    structured = re.match(r"STRD/(?:CUR|ISO)/(\S+)", remittance)
    if structured:
        out["reference"] = structured.group(1).strip("/")
    out["text"] = re.sub(r"^(USTD|STRD/\w+)/+", "", remittance).strip("/ ")
    party = fields.get("ORDP") or fields.get("CNTP") or ""
    pieces = [p for p in party.split("/") if p]
    if fields.get("CNTP") and len(pieces) >= 3:  # /CNTP/IBAN/BIC/NAME/CITY/
        out["iban"], out["name"] = pieces[0], pieces[2]
    else:
        out["name"] = fields.get("NAME", "") or " ".join(pieces).removeprefix("NAME ").strip()
        out["iban"] = fields.get("IBAN", "")
    return out


# -- a bank's CSV ------------------------------------------------------------------------------


def _csv(path: Path, name: str, mapping: Mapping) -> Statement:
    if mapping.kind != "payments":
        raise NudgeError(f"mapping {mapping.source} is for {mapping.kind}, not a bank statement")
    table = tables.read(path, name, mapping)
    missing = list(tables.columns_missing(table, mapping))
    if missing:
        raise NudgeError(f"{name}:1: the header has no column for {', '.join(missing)}")
    statement = Statement(name, "csv", None)
    problems = []
    for row in table.rows:
        try:
            credit = _csv_row(table, row, mapping)
        except BadValue as exc:
            problems.append(str(exc))
            continue
        if credit is None:
            statement.skipped.append(f"row {row.number}: debit")
        else:
            statement.credits.append(credit)
            statement.date = max(statement.date or credit.booked, credit.booked)
    if problems:
        raise NudgeError("\n".join(problems[:20]))
    return statement


def _csv_row(table: tables.Table, row: tables.Row, mapping: Mapping) -> Credit | None:
    def cell(key: str) -> Any:
        column = mapping.column(key)
        return row.cells.get(column) if column else None

    def fail(key: str, message: str) -> BadValue:
        column = mapping.column(key) or key
        line, col = table.where(row, column)
        return BadValue(f"{table.name}:{line}:{col}: {key} (column '{column}'): {message}")

    try:
        amount = tables.amount(cell("amount"), mapping)
    except BadValue as exc:
        raise fail("amount", str(exc)) from None
    try:
        booked = tables.day(cell("booked"), mapping)
    except BadValue as exc:
        raise fail("booked", str(exc)) from None
    mark = tables.cell_text(cell("credit_debit"))
    if mapping.column("credit_debit"):
        if amount < 0:
            raise fail("amount", f"{amount} is negative, and the credit_debit column says the way")
        if mark in mapping.debit_marks:
            return None
    elif amount < 0:
        return None
    currency = tables.cell_text(cell("currency")).upper()  # none: the invoice's
    if currency and not schema.is_currency(currency):
        raise fail("currency", f"'{currency}' is not an ISO 4217 currency code (e.g. EUR)")
    ident = tables.cell_text(cell("transaction"))
    if not ident:  # the row itself, so the same row imported again is recognised
        digest = hashlib.sha256("\x1f".join(map(tables.cell_text, row.cells.values())).encode())
        ident = f"csv-{digest.hexdigest()[:16]}"
    reference = tables.cell_text(cell("reference"))
    return Credit(
        transaction=ident,
        booked=booked,
        amount=amount,
        currency=currency,
        where=f"row {row.number}",
        payer_name=tables.cell_text(cell("payer_name")),
        payer_iban=tables.cell_text(cell("payer_iban")),
        text=tables.cell_text(cell("text")),
        references=(reference,) if reference else (),
    )
