"""`nudge import payments`: camt.053/camt.054 and MT940 statements written to the published
formats (tests/fixtures/imports: several banks' dialects, structured and unstructured
remittance, a batch booking, reversals), a bank CSV through a mapping; matching in its order;
partial and overpayments; unmatched credits left for review; nothing twice; bad files refused."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, git, git_repo, nudge

STATEMENTS = ROOT / "tests" / "fixtures" / "imports"
CAMT053 = STATEMENTS / "camt053-danske-2026-12-03.xml"
CAMT054 = STATEMENTS / "camt054-nordea-2026-12-04.xml"
MT940_DE = STATEMENTS / "mt940-commerzbank-2026-12-04.sta"
MT940_NL = STATEMENTS / "mt940-ing-2026-12-05.sta"
BANK_CSV = STATEMENTS / "bank-2026-12-06.csv"


def run_import(root: Path, path: Path, *extra: str) -> tuple[int, str, str]:
    done = nudge(
        "import", "payments", str(path), "--root", str(root), "--today", "2026-12-06", *extra
    )
    return done.code, done.out, done.err


def payments(root: Path, invoice: str) -> list[str]:
    path = next((root / "invoices").rglob(f"{invoice}.yaml"))
    return [line.strip() for line in path.read_text().splitlines() if "{date:" in line]


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def test_camt053_matches_by_reference_then_numbers_and_leaves_the_rest(sample: Path) -> None:
    code, out, err = run_import(sample, CAMT053)
    assert code == 0, err
    assert "5 credits, 5 payments recorded, 1 to review" in out
    # structured RF reference
    assert payments(sample, "INV-1021")[-1] == (
        '- {date: 2026-12-03, amount: "7350.00", ref: "DB2612030000101"}'
    )
    # one transfer naming two invoices pays both, each its balance
    assert payments(sample, "INV-1034")[-1].startswith('- {date: 2026-12-03, amount: "4900.00"')
    assert payments(sample, "INV-1042")[-1].startswith('- {date: 2026-12-03, amount: "12500.00"')
    # a batch booking: each transaction on its own; a partial payment is recorded as such
    assert "INV-1023: paid 5,000.00 EUR" in out and "partly paid: 6,250.00 EUR still open" in out
    assert 'ref: "DB2612030000103-2"' in payments(sample, "INV-1010")[-1]
    review = (sample / "imports" / "unmatched" / "camt053-danske-2026-12-03.yaml").read_text()
    assert "transaction: DB2612030000104" in review and "Rhein Consulting GmbH" in review
    assert "no creditor reference, no invoice number in the text, and an unknown payer" in review
    assert "1 entries are not credits: skipped" in out  # the bank fee
    assert nudge("validate", "--root", str(sample)).code == 0


def test_the_same_transactions_are_never_recorded_twice(sample: Path, tmp_path: Path) -> None:
    assert run_import(sample, CAMT053)[0] == 0
    before = snapshot(sample)
    code, out, _ = run_import(sample, CAMT053)
    assert code == 0 and "already imported" in out
    # the same transactions in another file (the bank sent the day again): nothing added
    again = tmp_path / "camt053-resent.xml"
    again.write_bytes(CAMT053.read_bytes().replace(b"DB20261203EOD0001", b"DB20261203EOD0002"))
    code, out, _ = run_import(sample, again)
    assert code == 0 and "0 payments recorded" in out
    assert "4 credits were recorded before (same transaction id): skipped" in out
    after = snapshot(sample)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed <= {"imports/applied.jsonl", "imports/unmatched/camt053-resent.yaml"}


def test_camt054_payer_and_amount_and_a_reversal(sample: Path) -> None:
    assert run_import(sample, CAMT053)[0] == 0
    code, out, err = run_import(sample, CAMT054)
    assert code == 0, err
    # no reference, no number: the payer's name is the customer's, the amount one open balance
    assert "INV-1059: paid 3,200.00 EUR" in out and "amount and payer (thames-analytics)" in out
    # the bank returned yesterday's transfer: the invoice is open again
    assert payments(sample, "INV-1021")[-1] == (
        '- {date: 2026-12-04, amount: "-7350.00", ref: "NDEA20261204X000772"}'
    )
    assert "payment reversed: partly paid: 7,350.00 EUR still open" in out
    assert "not booked" not in out and "1 entries are not credits" in out  # the pending one


def test_mt940_german_and_dutch_dialects(sample: Path) -> None:
    code, out, err = run_import(sample, MT940_DE)
    assert code == 0, err
    assert 'ref: "2612041204-0001"' in payments(sample, "INV-1044")[-1]  # ?20 SVWZ+ text
    assert "Unbekannt Handels GmbH" in out  # unmatched, listed
    code, out, err = run_import(sample, MT940_NL)
    assert code == 0, err
    # /REMI/STRD/CUR/RF..: a partial payment of INV-1019, after 4,400.00 paid in October
    assert "INV-1019: paid 6,000.00 EUR" in out and "4,000.00 EUR still open" in out
    # RC: a reversed credit naming INV-1021, of which nothing is known paid: left for a person
    assert "a reversal (invoice number in the text) of more than Nudge knows paid" in out


def test_a_bank_csv_through_a_mapping_with_a_known_iban(sample: Path, tmp_path: Path) -> None:
    customer = sample / "customers" / "hyggehus.yaml"
    customer.write_text(
        customer.read_text() + "payers:\n  - {iban: DK95 2000 0123 4567 89, name: HYGGEHUS A/S}\n"
    )
    assert nudge("validate", "--root", str(sample)).code == 0
    csv = tmp_path / "bank.csv"
    csv.write_text(
        BANK_CSV.read_text() + "BK-99120603;2026-12-06;27500.00;DKK;H.H. A/S;DK9520000123456789;"
        "Betaling;\n"
    )
    code, out, err = run_import(sample, csv, "--mapping", "generic-bank")
    assert code == 0, err
    assert "INV-1023: paid 4,200.00 EUR" in out  # the invoice number in the text
    assert "INV-1031: paid 27,500.00 DKK" in out and "amount and payer (hyggehus)" in out
    assert "1 entries are not credits: skipped" in out  # the rent


def test_an_overpayment_is_recorded_as_such(sample: Path, tmp_path: Path) -> None:
    csv = tmp_path / "bank.csv"
    csv.write_text(
        "transaction;booked;amount;currency;payer;iban;text;reference\n"
        "BK-1;2026-12-06;12000.00;EUR;Thames Analytics Ltd;;RF91 INV1 023;\n"
    )
    code, out, _ = run_import(sample, csv, "--mapping", "generic-bank")
    assert code == 0 and "INV-1023: paid 12,000.00 EUR" in out and "overpaid by 750.00 EUR" in out


def test_history_tells_where_a_payment_came_from(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "office")
    statements = repo / "imports" / "statements"
    statements.mkdir(parents=True)
    shutil.copy2(CAMT053, statements / CAMT053.name)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "statement of 3 December")
    done = nudge("import", "pending", "--root", str(repo), "--today", "2026-12-03", "--commit")
    assert done.code == 0, done.err
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith(
        "nudge import: payments from imports/statements/camt053-danske-2026-12-03.xml "
        "(camt.053, 2026-12-03): 5 credits, 5 payments recorded, 1 to review"
    )
    assert "INV-1021: paid 7,350.00 EUR on 2026-12-03, transaction DB2612030000101" in message
    commit = git(repo, "rev-parse", "--short=8", "HEAD")
    assert git(repo, "status", "--porcelain") == ""  # everything it wrote is committed
    history = nudge("history", "INV-1021", "--root", str(repo))
    assert history.code == 0, history.err
    line = next(x for x in history.out.splitlines() if "bank statement" in x)
    assert (
        "import    INV-1021: paid 7,350.00 EUR, bank statement 2026-12-03, transaction "
        "DB2612030000101 (imports/statements/camt053-danske-2026-12-03.xml): paid in full"
    ) in line
    assert line.endswith(f"(Ada Finance, {commit})")
    assert "payment of 7350.00" not in history.out  # told once, by the import
    again = nudge("import", "pending", "--root", str(repo), "--today", "2026-12-03", "--commit")
    assert again.code == 0 and "nothing to import" in again.out
    assert git(repo, "rev-parse", "--short=8", "HEAD") == commit


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>&lol3;
</BkToCstmrStmt></Document>
"""


def _cut_mt940() -> bytes:
    data = MT940_DE.read_bytes()
    return data[: data.index(b":61:2612041204CR980,00")]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "broken.xml",
            CAMT053.read_bytes().replace(b"</Ntry>", b"</Ntr>", 1),
            "broken.xml:{line}:",
        ),
        ("bomb.xml", BOMB, "bomb.xml:1:1: the XML declares a DTD or entities"),
        ("cut.sta", _cut_mt940(), "the statement ends before its closing balance (:62F:)"),
        (
            "negative.xml",
            CAMT053.read_bytes().replace(
                b'<Amt Ccy="EUR">7350.00</Amt>', b'<Amt Ccy="EUR">-7350.00</Amt>', 1
            ),
            "negative.xml: entry 1: Amt -7350.00 is negative",
        ),
        (
            "currency.xml",
            CAMT053.read_bytes().replace(b'Ccy="EUR">7350.00', b'Ccy="EUX">7350.00', 1),
            "negative.xml: entry 1: currency 'EUX' is not an ISO 4217 code",
        ),
    ],
    ids=["malformed-xml", "xml-bomb", "truncated-mt940", "negative-amount", "unknown-currency"],
)
def test_a_bad_statement_is_one_sentence_and_nothing_is_written(
    sample: Path, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    before = snapshot(sample)
    code, _out, err = run_import(sample, path)
    assert code == 1 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    if "{line}" in message:
        line = content[: content.index(b"</Ntr>")].count(b"\n") + 1
        message = message.format(line=line)
    assert message.replace("negative.xml", name) in lines[0].replace(str(tmp_path) + "/", "")
    assert snapshot(sample) == before
