"""The whole loop, with the real CLI on a temporary copy: invoices imported from the accounting
export, reminders planned, the bank statement imported; the next plan no longer reminds the
paid invoices, and the partly paid one is reminded for the rest, in the message itself."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

from runner.payref import creditor_reference

from conftest import git, git_repo, nudge

DAY = "2026-12-03"  # 14 days after the new invoices' due date: gentle's tier-1

EXPORT = """\
id,customer,issued,due,amount,currency,description
INV-1101,thames-analytics,2026-10-20,2026-11-19,2400.00,EUR,"Data quality audit, October 2026"
INV-1102,thames-analytics,2026-10-20,2026-11-19,1850.00,EUR,"Pipeline monitoring, October 2026"
INV-1103,thames-analytics,2026-10-20,2026-11-19,3000.00,EUR,"Analyst training, October 2026"
"""


def statement() -> str:
    """camt.053 of the day: INV-1101 by its RF reference, INV-1102 by its number in the text,
    INV-1103 part paid."""

    def entry(ref: str, amount: str, remittance: str) -> str:
        return f"""
      <Ntry>
        <Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>{DAY}</Dt></BookgDt><ValDt><Dt>{DAY}</Dt></ValDt>
        <AcctSvcrRef>{ref}</AcctSvcrRef>
        <NtryDtls><TxDtls>
          <AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>
          <RltdPties><Dbtr><Nm>THAMES ANALYTICS LTD</Nm></Dbtr></RltdPties>
          <RmtInf>{remittance}</RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>"""

    structured = (
        "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
        f"<Ref>{creditor_reference('INV-1101')}</Ref></CdtrRefInf></Strd>"
    )
    entries = (
        entry("E2E-0001", "2400.00", structured)
        + entry("E2E-0002", "1850.00", "<Ustrd>Invoice INV-1102</Ustrd>")
        + entry("E2E-0003", "1200.00", "<Ustrd>INV-1103 first part</Ustrd>")
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>E2E-{DAY}</MsgId><CreDtTm>{DAY}T21:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>E2E-STMT</Id><CreDtTm>{DAY}T21:00:00</CreDtTm>
      <Acct><Id><IBAN>DK5000400440116243</IBAN></Id><Ccy>EUR</Ccy></Acct>{entries}
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""


def tier_1(root: Path) -> list[dict[str, object]]:
    """Thames Analytics' first reminders planned for the day."""
    done = nudge("plan", "--root", str(root), "--today", DAY, "--format", "json")
    assert done.code == 0, done.err
    return [
        d
        for d in json.loads(done.out)["deliveries"]
        if d["customer"] == "thames-analytics" and d["step"] == "tier-1"
    ]


def test_invoices_in_reminders_planned_statement_in_paid_ones_left_alone(tmp_path: Path) -> None:
    office = git_repo(tmp_path / "office")
    exports = office / "imports" / "invoices" / "generic"
    exports.mkdir(parents=True)
    (exports / "2026-10.csv").write_text(EXPORT)
    git(office, "add", "-A")
    git(office, "commit", "-qm", "October invoices from the accounting system")

    done = nudge("import", "pending", "--root", str(office), "--today", DAY, "--commit")
    assert done.code == 0, done.err
    assert "3 invoices, 3 new, 0 changed" in done.out
    planned = tier_1(office)
    assert [d["invoices"] for d in planned] == [["INV-1101", "INV-1102", "INV-1103"]]

    statements = office / "imports" / "statements"
    statements.mkdir(parents=True)
    (statements / f"camt053-{DAY}.xml").write_text(statement())
    git(office, "add", "-A")
    git(office, "commit", "-qm", "bank statement")
    done = nudge("import", "pending", "--root", str(office), "--today", DAY, "--commit")
    assert done.code == 0, done.err
    assert "3 credits, 3 payments recorded, 0 to review" in done.out
    assert git(office, "status", "--porcelain") == ""

    planned_after = tier_1(office)
    assert [d["invoices"] for d in planned_after] == [["INV-1103"]]
    before_total = float(str(planned[0]["total_due"]))
    assert float(str(planned_after[0]["total_due"])) == before_total - 2400 - 1850 - 1200

    # the reminder itself asks for the rest of INV-1103 and lists nothing paid as open
    outbox = tmp_path / "outbox"
    run = nudge(
        "run", "--root", str(office), "--today", DAY, "--transport", "outbox",
        "--outbox", str(outbox), "--only", "thames-analytics",
    )  # fmt: skip
    assert run.code == 0, run.err
    bodies = [
        message_from_bytes(mail.read_bytes(), policy=policy.default)
        .get_body(preferencelist=("plain",))
        .get_content()  # type: ignore[union-attr]
        for mail in outbox.rglob("*.eml")
    ]
    (body,) = [b for b in bodies if "payment for invoice INV-1103" in b]
    assert "INV-1103 (Analyst training, October 2026) for €1,800.00" in body
    assert not any("INV-1101" in b or "INV-1102" in b for b in bodies)
