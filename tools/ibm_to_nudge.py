"""Convert the IBM Watson accounts-receivable sample (CSV) into a Nudge repository.

    python tools/ibm_to_nudge.py CSV OUT
    (CSV: tests/vendor/ibm-accounts-receivable/WA_Fn-UseC_-Accounts-Receivable.csv)

Each customerID becomes a customer (English, on the `gentle` policy), each row an invoice paid
in full on its SettledDate. Invoices go into one export file per invoice month. Country codes
are IBM's own (391, 406, ...), not ISO: every customer is given the sample company's calendar.
"""

from __future__ import annotations

import csv
import shutil
import sys
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_day(text: str) -> date:
    return datetime.strptime(text.strip(), "%m/%d/%Y").date()


def rows(csv_path: Path) -> list[dict[str, str]]:
    with csv_path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def convert(csv_path: Path, out: Path, company: Path = ROOT) -> Path:
    """The IBM invoices as a repository in `out`, with the settings, policies and templates of
    the company repository `company` (this clone by default)."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(company / "settings.yaml", out / "settings.yaml")
    for folder in ("policies", "templates"):
        if (out / folder).exists():
            shutil.rmtree(out / folder)
        shutil.copytree(company / folder, out / folder, ignore=shutil.ignore_patterns("tests"))
    (out / "customers").mkdir(exist_ok=True)
    by_month: dict[str, list[str]] = defaultdict(list)
    customers: set[str] = set()
    for row in rows(csv_path):
        customer = "ibm-" + row["customerID"].strip().lower()
        customers.add(customer)
        issued, due, settled = (
            parse_day(row[k]) for k in ("InvoiceDate", "DueDate", "SettledDate")
        )
        amount = f"{Decimal(row['InvoiceAmount']):.2f}"
        by_month[f"{issued:%Y-%m}"].append(
            f"  - {{id: IBM-{row['invoiceNumber'].strip()}, customer: {customer}, "
            f'issued: {issued}, due: {due}, amount: "{amount}", currency: USD,\n'
            f'     payments: [{{date: {settled}, amount: "{amount}", ref: settled}}]}}'
        )
    for customer in sorted(customers):
        (out / "customers" / f"{customer}.yaml").write_text(
            f"id: {customer}\nname: Customer {customer[4:].upper()}\nlocale: en\n"
            f"timezone: America/New_York\npolicy: gentle\ncurrency: USD\n"
            f"owner: {{name: Ann Owner, email: ann@nordlys.example}}\n"
            f"contacts:\n"
            f"  - {{name: Accounts Payable, role: billing, email: ap@{customer}.example, "
            f'phone: "+12025550143"}}\n'
            f"  - {{name: Finance Lead, role: finance, email: finance@{customer}.example}}\n",
            encoding="utf-8",
        )
    invoices = out / "invoices"
    invoices.mkdir(exist_ok=True)
    for month, items in sorted(by_month.items()):
        (invoices / f"ibm-{month}.yaml").write_text(
            "invoices:\n" + "\n".join(items) + "\n", encoding="utf-8"
        )
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(convert(Path(sys.argv[1]), Path(sys.argv[2])))
