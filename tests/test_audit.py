"""The audit trail: `history`, `show`, `note` and `resolve` answer what happened, from git alone."""

from __future__ import annotations

import email
import json
from email import policy
from pathlib import Path

from conftest import git, git_repo, nudge


def test_show_renders_the_logged_message_byte_for_byte(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    assert nudge("run", "--root", str(repo), "--today", "2026-11-23", "--commit").code == 0
    # the data moves on after the message went out: show must use the commit the log names
    invoice = repo / "invoices" / "2026" / "INV-1042.yaml"
    invoice.write_text(invoice.read_text().replace('"12500.00"', '"99999.00"', 1))
    git(repo, "commit", "-qam", "amount corrected")
    for part, eml_part in (("text", "plain"), ("html", "html")):
        shown = nudge(
            "show",
            "--root",
            str(repo),
            "--part",
            part,
            "INV-1042/weekly-statement/2026-11-23/email",
        )
        assert shown.code == 0, shown.err
        # INV-1042's reminder went out in the one message to Acme that day (its most
        # advanced stage: the hold notice of INV-1008)
        raw = (repo / "outbox" / "2026-11-23" / "acme.hold.email.eml").read_bytes()
        message = email.message_from_bytes(raw, policy=policy.default)
        body = message.get_body((eml_part,))
        assert body is not None
        assert shown.out.encode() == body.get_content().encode()


def test_history_tells_what_happened_to_an_invoice(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    assert nudge("run", "--root", str(repo), "--today", "2026-11-23", "--commit").code == 0
    invoice = repo / "invoices" / "2026" / "INV-1042.yaml"
    text = invoice.read_text()
    invoice.write_text(text + "paused_until: 2026-12-01\n")
    git(repo, "-c", "user.name=Bo Collector", "commit", "-qam", "ACME asked for a week")
    noted = nudge(
        "note",
        "--root",
        str(repo),
        "INV-1042",
        "called; promised to pay Friday",
        "--today",
        "2026-11-24",
    )
    assert noted.code == 0, noted.err
    result = nudge("history", "--root", str(repo), "INV-1042", "--format", "json")
    assert result.code == 0, result.err
    events = json.loads(result.out)["events"]
    whats = [(e["kind"], e["what"], e["who"]) for e in events]
    assert ("change", "INV-1042 created: 12500.00 due 2026-10-31", "Ada Finance") in whats
    assert ("change", "INV-1042: paused_until (none) -> 2026-12-01", "Bo Collector") in whats
    assert any(
        k == "sent" and w.startswith("weekly-statement email to ap@acme") for k, w, _ in whats
    )
    assert ("note", "call by Ada Finance: called; promised to pay Friday", "") in whats
    table = nudge("history", "--root", str(repo), "INV-1042")
    assert "weekly-statement email to ap@acme-industrial.example" in table.out


def test_a_note_is_respected_by_the_schedule(sample: Path) -> None:
    before = nudge("plan", "--root", str(sample), "--today", "2026-11-23", "--format", "json")
    assert any(
        d["customer"] == "wisla-logistyka" and d["step"] == "tier-2"
        for d in json.loads(before.out)["deliveries"]
    )
    assert (
        nudge(
            "note",
            "--root",
            str(sample),
            "INV-1032",
            "phoned their accountant",
            "--today",
            "2026-11-23",
        ).code
        == 0
    )
    after = nudge("plan", "--root", str(sample), "--today", "2026-11-23", "--explain", "INV-1032")
    assert "handled by hand" in after.out
    plan = json.loads(
        nudge("plan", "--root", str(sample), "--today", "2026-11-23", "--format", "json").out
    )
    assert not any(
        d["customer"] == "wisla-logistyka" and d["step"] == "tier-2" for d in plan["deliveries"]
    )


def test_resolving_an_unknown_outcome(sample: Path) -> None:
    key = "INV-1032/tier-2/2026-11-23/email"
    log = sample / "log" / "2026" / "11.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text(
        json.dumps(
            {
                "id": "p1",
                "delivery": "d1",
                "status": "pending",
                "keys": [key],
                "date": "2026-11-23",
                "customer": "wisla-logistyka",
                "at": "2026-11-23T07:00:00Z",
            }
        )
        + "\n"
    )
    blocked = nudge("plan", "--root", str(sample), "--today", "2026-11-23", "--explain", "INV-1032")
    assert "UNKNOWN" in blocked.out and "a person must check" in blocked.out
    assert (
        nudge(
            "resolve",
            "--root",
            str(sample),
            key,
            "--not-sent",
            "--why",
            "the mail server has no record of it",
        ).code
        == 0
    )
    plan = json.loads(
        nudge("plan", "--root", str(sample), "--today", "2026-11-23", "--format", "json").out
    )
    assert any(key in d["keys"] for d in plan["deliveries"])
    again = nudge("resolve", "--root", str(sample), key, "--sent")
    assert again.code == 1 and "no message with an unknown outcome" in again.err
