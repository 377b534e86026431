"""`nudge import invoices`: exports in the presets' real column layouts (Xero CSV, Zoho Books
XLSX), a company's own mapping for a cp1250 Polish CSV with decimal commas, JSON lines; an
idempotent upsert that keeps hand-set fields; bad rows named file:row:column, nothing written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from conftest import nudge

TODAY = "2026-12-02"
XERO_HEADER = (
    "ContactName,EmailAddress,POAddressLine1,POAddressLine2,POAddressLine3,POAddressLine4,"
    "POCity,PORegion,POPostalCode,POCountry,SAAddressLine1,SAAddressLine2,SAAddressLine3,"
    "SAAddressLine4,SACity,SARegion,SAPostalCode,SACountry,InvoiceNumber,Reference,InvoiceDate,"
    "DueDate,PlannedDate,Total,TaxTotal,InvoiceAmountPaid,InvoiceAmountDue,InventoryItemCode,"
    "Description,Quantity,UnitAmount,Discount,LineAmount,AccountCode,TaxType,TaxAmount,"
    "TrackingName1,TrackingOption1,TrackingName2,TrackingOption2,Currency,Type,Sent,Status"
)


def xero_row(
    contact: str,
    email: str,
    number: str,
    reference: str,
    issued: str,
    due: str,
    total: str,
    paid: str,
    due_amount: str,
    line: str,
    line_amount: str,
    kind: str = "Sales invoice",
    status: str = "Awaiting Payment",
    currency: str = "EUR",
) -> str:
    address = ",".join([""] * 16)
    return (
        f'"{contact}",{email},{address},{number},"{reference}",{issued},{due},,{total},0.00,'
        f'{paid},{due_amount},,"{line}",1,{line_amount},,{line_amount},200,No VAT,0.00,,,,,'
        f"{currency},{kind},Sent,{status}"
    )


def xero_export() -> str:
    rows = [
        XERO_HEADER,
        # known invoice, unchanged apart from a due date moved in Xero
        xero_row("Acme Industrial Supply Inc.", "ap@acme-industrial.example", "INV-1021",
                 "Warehouse process workshop (2 days), September 2026", "02/09/2026",
                 "16/10/2026", "7350.00", "0.00", "7350.00", "Workshop", "7350.00"),
        # known invoice that Xero says is part paid
        xero_row("Acme Industrial Supply Inc.", "ap@acme-industrial.example", "INV-1042",
                 "Implementation support, October 2026", "01/10/2026", "31/10/2026",
                 "12500.00", "2500.00", "10000.00", "Platform", "12500.00"),
        # a new invoice of two lines for a known customer
        xero_row("Thames Analytics Ltd", "accounts.payable@thames-analytics.example",
                 "INV-1071", "Dashboards, November 2026", "20/11/2026", "20/12/2026",
                 "4800.00", "0.00", "4800.00", "Dashboard design", "3000.00"),
        xero_row("Thames Analytics Ltd", "accounts.payable@thames-analytics.example",
                 "INV-1071", "Dashboards, November 2026", "20/11/2026", "20/12/2026",
                 "4800.00", "0.00", "4800.00", "Data model", "1800.00"),
        # a credit note (counted in Xero's AmountDue), a draft and a voided invoice
        xero_row("Thames Analytics Ltd", "accounts.payable@thames-analytics.example",
                 "CN-0007", "Credit for INV-1023", "25/11/2026", "25/11/2026", "250.00",
                 "0.00", "250.00", "Discount agreed", "250.00", kind="Sales credit note"),
        xero_row("Thames Analytics Ltd", "accounts.payable@thames-analytics.example",
                 "INV-1072", "Draft", "01/12/2026", "31/12/2026", "999.00", "0.00", "999.00",
                 "Not sent yet", "999.00", status="Draft"),
        xero_row("Acme Industrial Supply Inc.", "ap@acme-industrial.example", "INV-1044",
                 "Travel expenses, October 2026", "09/10/2026", "08/11/2026", "2150.00",
                 "0.00", "0.00", "Voided in Xero", "2150.00", status="Voided"),
    ]  # fmt: skip
    return "\r\n".join(rows) + "\r\n"


def run_import(root: Path, path: Path, *extra: str) -> tuple[int, str, str]:
    done = nudge(
        "import", "invoices", str(path), "--root", str(root), "--today", TODAY, *extra
    )  # fmt: skip
    return done.code, done.out, done.err


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_xero_export_is_an_upsert_that_keeps_what_people_wrote(
    sample: Path, tmp_path: Path
) -> None:
    invoice = sample / "invoices" / "2026" / "INV-1021.yaml"
    invoice.write_text(
        invoice.read_text()
        + "# Jennifer says the PO number was missing; resent 2026-10-20\n"
        + 'promise: {date: 2026-12-20, note: "by phone"}\n'
    )
    export = tmp_path / "xero-2026-12.csv"
    export.write_bytes(xero_export().encode("utf-8-sig"))  # Excel's UTF-8 has a BOM
    code, out, err = run_import(sample, export, "--mapping", "xero")
    assert code == 0, err
    assert "4 invoices, 1 new, 2 changed, 1 settled, 0 new customers" in out
    text = invoice.read_text()
    assert "due: 2026-10-16\n" in text  # the date moved in Xero
    assert "# Jennifer says the PO number" in text and "promise: {date: 2026-12-20" in text
    new = (sample / "invoices" / "2026" / "INV-1071.yaml").read_text()
    assert 'amount: "4800.00"' in new and "customer: thames-analytics" in new
    assert "INV-1072" not in out  # a draft is not an invoice yet
    assert "void: true" in (sample / "invoices" / "2026" / "INV-1044.yaml").read_text()
    part = (sample / "invoices" / "2026" / "INV-1042.yaml").read_text()
    assert (
        '{date: 2026-12-02, amount: "2500.00", ref: "settled per xero export xero-2026-12.csv"}'
        in part
    )
    assert "open invoices are not in this export (kept)" in out
    assert nudge("validate", "--root", str(sample)).code == 0
    # the same export again changes nothing; a new export with the same content neither
    before = snapshot(sample)
    code, out, _ = run_import(sample, export, "--mapping", "xero")
    assert code == 0 and "already imported" in out
    export.write_bytes(xero_export().encode("utf-8-sig") + b"\r\n")
    code, out, _ = run_import(sample, export, "--mapping", "xero")
    assert code == 0 and "0 new, 0 changed, 0 settled" in out
    after = snapshot(sample)
    assert {k: v for k, v in after.items() if k != "imports/applied.jsonl"} == {
        k: v for k, v in before.items() if k != "imports/applied.jsonl"
    }


def test_zoho_books_xlsx(sample: Path, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(
        ["Invoice Date", "Invoice ID", "Invoice Number", "Invoice Status", "Customer ID",
         "Customer Name", "Due Date", "Currency Code", "Exchange Rate", "Item Name",
         "Item Desc", "Quantity", "Item Price", "Total", "Balance"]
    )  # fmt: skip
    from datetime import datetime

    sheet.append(
        [datetime(2026, 11, 3), "460000000012345", "INV-1080", "Sent", "acme",
         "Acme Industrial Supply Inc.", datetime(2026, 12, 3), "EUR", 1, "Audit",
         "Inventory audit", 1, 2345.5, 2345.5, 1000.25]
    )  # fmt: skip
    sheet.append(
        [datetime(2026, 11, 4), "460000000012346", "INV-1081", "Draft", "acme",
         "Acme Industrial Supply Inc.", datetime(2026, 12, 4), "EUR", 1, "X", "", 1, 10, 10, 10]
    )  # fmt: skip
    path = tmp_path / "Invoice.xlsx"
    book.save(path)
    code, _out, err = run_import(sample, path, "--mapping", "zoho-books")
    assert code == 0, err
    text = (sample / "invoices" / "2026" / "INV-1080.yaml").read_text()
    assert 'amount: "2345.50"' in text and "due: 2026-12-03" in text
    assert 'amount: "1345.25", ref: "settled per zoho-books export Invoice.xlsx"' in text
    assert not (sample / "invoices" / "2026" / "INV-1081.yaml").exists()


POLISH_MAPPING = """\
# Our Polish office's invoicing program: semicolons, decimal commas, Windows-1250.
name: biuro-pl
kind: invoices
encoding: cp1250
delimiter: ";"
decimal: ","
thousands: " "
date_format: "%d.%m.%Y"
new_customers:
  policy: email-only
  locale: pl
  timezone: Europe/Warsaw
  owner: {name: Anna Nowak, email: anna.nowak@nordlys.example}
columns:
  id: Numer
  customer_name: Kontrahent
  customer_email: E-mail
  issued: Data wystawienia
  due: Termin płatności
  amount: Brutto
  currency: Waluta
  paid: Zapłacono
  description: Uwagi
"""

EMAIL_ONLY = """\
id: email-only
steps:
  - {id: reminder, at: 7, send: [email], template: gentle-tier-1}
"""


def test_a_polish_cp1250_export_with_decimal_commas(sample: Path, tmp_path: Path) -> None:
    (sample / "imports" / "mappings").mkdir(parents=True)
    (sample / "imports" / "mappings" / "biuro-pl.yaml").write_text(POLISH_MAPPING, "utf-8")
    (sample / "policies" / "email-only.yaml").write_text(EMAIL_ONLY)
    lines = [
        "Numer;Kontrahent;E-mail;Data wystawienia;Termin płatności;Brutto;Waluta;Zapłacono;Uwagi",
        "FV/2026/11/201;Wisła Logistyka Sp. z o.o.;faktury@wisla-logistyka.example;"
        "14.11.2026;28.11.2026;12 300,00;PLN;0,00;Usługi doradcze, listopad",
        "FV/2026/11/202;Łódzka Fabryka Mebli S.A.;ksiegowosc@lfm.example;"
        "18.11.2026;02.12.2026;4 920,50;PLN;1 000,00;Szkolenie zespołu",
    ]
    path = tmp_path / "faktury-listopad.csv"
    path.write_bytes("\r\n".join(lines).encode("cp1250"))
    code, _out, err = run_import(sample, path, "--mapping", "biuro-pl")
    assert code == 0, err
    known = (sample / "invoices" / "2026" / "FV-2026-11-201.yaml").read_text()
    assert "customer: wisla-logistyka" in known  # found by name, Polish letters and all
    assert 'amount: "12300.00"' in known and "(number FV/2026/11/201)" in known
    customer = (sample / "customers" / "lodzka-fabryka-mebli-s-a.yaml").read_text()
    assert 'name: "Łódzka Fabryka Mebli S.A."' in customer and "currency: PLN" in customer
    assert "policy: email-only" in customer and "owner: {name: Anna Nowak" in customer
    new = (sample / "invoices" / "2026" / "FV-2026-11-202.yaml").read_text()
    assert '{date: 2026-12-02, amount: "1000.00"' in new
    assert nudge("validate", "--root", str(sample)).code == 0


def test_json_lines_with_the_generic_preset(sample: Path, tmp_path: Path) -> None:
    rows = [
        {"id": "INV-2001", "customer": "hyggehus", "issued": "2026-11-20", "due": "2026-12-20",
         "amount": 15000.0, "currency": "DKK", "description": "Workshop"},
        {"id": "INV-2002", "customer": "hyggehus", "issued": "2026-11-21", "due": "2026-12-21",
         "amount": "2500.00", "paid": "2500.00"},
    ]  # fmt: skip
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, _out, err = run_import(sample, path, "--mapping", "generic")
    assert code == 0, err
    first = (sample / "invoices" / "2026" / "INV-2001.yaml").read_text()
    assert 'amount: "15000.00"' in first and "currency" not in first  # DKK is the customer's
    assert (
        'ref: "settled per generic export export.jsonl"'
        in (sample / "invoices" / "2026" / "INV-2002.yaml").read_text()
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "id,customer,issued,amount\nINV-3001,acme,2026-11-01,100.00\n",
            "export.csv:1:1: the header has no column for due (column 'due')",
        ),
        (
            "id,customer,issued,due,amount\nINV-3001,acme,2026-11-01,2026-12-01,100.00\n"
            "INV-3002,acme,2026-11-01,2026-12-01,-40.00\n",
            "export.csv:3:5: amount (column 'amount'): -40.00 is negative",
        ),
        (
            "id,customer,issued,due,amount,currency\nINV-3001,acme,2026-11-01,2026-12-01,5,EUX\n",
            "export.csv:2:6: currency (column 'currency'): 'EUX' is not an ISO 4217 currency",
        ),
        (
            "id,customer,issued,due,amount\nINV-3001,acme,2026-11-01,2026-13-01,5\n",
            "export.csv:2:4: due (column 'due'): '2026-13-01' is not a date",
        ),
        (
            "id;customer;issued;due;amount\nINV-3001;acme;2026-11-01;2026-12-01;12,50\n",
            "export.csv:2:5: amount (column 'amount'): '12,50' has a ','",
        ),
    ],
    ids=["missing-column", "negative-amount", "unknown-currency", "bad-date", "decimal-comma"],
)
def test_a_bad_row_is_one_sentence_and_nothing_is_written(
    sample: Path, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(content)
    before = snapshot(sample)
    code, _out, err = run_import(sample, path, "--mapping", "generic")
    assert code == 1 and "Traceback" not in err
    assert message in err.replace(str(path), "export.csv"), err
    assert "nothing was imported" in err
    assert snapshot(sample) == before


def test_a_file_that_is_not_utf8_names_the_row(sample: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(
        "id,customer,issued,due,amount,description\n"
        "INV-3001,acme,2026-11-01,2026-12-01,5,ok\n"
        "INV-3002,acme,2026-11-01,2026-12-01,5,Kraków\n".encode("cp1250")
    )
    code, _, err = run_import(sample, path, "--mapping", "generic")
    assert code == 1
    assert f"{path}:3: byte 0xf3 is not UTF-8" in err and "encoding: cp1250" in err
