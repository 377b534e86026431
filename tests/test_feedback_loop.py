"""The whole loop through the real CLI: what is sent, what comes back, what is sent next.

Real peers on loopback: aiosmtpd for SMTP, Dovecot for the inbound mailbox (IMAP over TLS),
the Twilio-shaped peer checked against Twilio's OpenAPI spec. One customer of our own in a
temporary copy of the test company, runs on pinned dates:

  11-09 tier-1 to billing          -> it bounces (a Postfix DSN)
  11-10 the bounce is read         -> `bounced`, a task "find a working contact" for the owner
  11-23 tier-2 (finance in copy)   -> to finance only; the mailbox has nothing new
  11-24 finance replied (and an out-of-office came) -> `reply`, `autoreply`, a task; NH-1 waits
  12-10 tier-3 is due              -> not sent: NH-1 waits (reply_wait_days: 15)
  12-16 the wait is over           -> tier-3 goes out (to those in copy: billing bounced)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from imap import IMAP_PASSWORD, Dovecot, imap_env
from mail import RETURN_PATH, message

from conftest import Result, copy_sample, nudge
from peers import (
    Certs,
    SmtpPeer,
    TwilioPeer,
    assert_no_secrets,
    configure,
    email_settings,
    live_env,
    log_entries,
    make_certs,
    sms_settings,
)

OWNER = "signe.kjaer@nordlys.example"
BILLING, FINANCE = "lars@nordhavn.example", "maja@nordhavn.example"

CUSTOMER = """\
# yaml-language-server: $schema=../runner/schemas/customer.schema.json
id: nordhavn
name: Nordhavn Marine ApS
locale: en
timezone: Europe/Copenhagen
policy: gentle
owner: {name: Signe Kjær, email: signe.kjaer@nordlys.example}
contacts:
  - {name: Lars Holm, role: billing, email: lars@nordhavn.example, phone: "+45 31 11 22 33"}
  - {name: Maja Berg, role: finance, email: maja@nordhavn.example}
"""
INVOICE = """\
# yaml-language-server: $schema=../../runner/schemas/invoice.schema.json
id: NH-1
customer: nordhavn
description: "Harbour survey, September 2026"
issued: 2026-09-26
due: 2026-10-26
amount: "5000.00"
"""


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def dovecot(certs: Certs) -> Iterator[Dovecot]:
    with Dovecot(certs) as server:
        yield server


def company(folder: Path) -> Path:
    root = copy_sample(folder)
    (root / "customers" / "nordhavn.yaml").write_text(CUSTOMER, encoding="utf-8")
    (root / "invoices" / "2026" / "NH-1.yaml").write_text(INVOICE, encoding="utf-8")
    return root


def env(certs: Certs) -> dict[str, str]:
    # no Twilio credentials: text messages go to the outbox (--transport auto)
    return {**live_env(certs), **imap_env(), "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": ""}


def run(root: Path, today: str, environment: dict[str, str], *extra: str) -> Result:
    result = nudge(
        "run", "--today", today, "--root", str(root), "--only", "nordhavn", *extra,
        env=environment, timeout=120,
    )  # fmt: skip
    assert result.code == 0, result.out + result.err
    return result


def entries(root: Path, status: str) -> list[dict]:
    found = []
    for month in ("2026/11", "2026/12"):
        if (root / "log" / f"{month}.jsonl").exists():
            found += [e for e in log_entries(root, month) if e["status"] == status]
    return found


def test_bounce_reply_and_wait_through_the_cli(
    tmp_path: Path, certs: Certs, dovecot: Dovecot
) -> None:
    root = company(tmp_path / "repo")
    with SmtpPeer(certs) as smtp:
        configure(
            root,
            email=email_settings(smtp),
            sms={"from": "+4570123456"},
            inbound=dovecot.settings(reply_wait_days=15),
        )
        environment = env(certs)

        # 11-09: tier-1 goes to billing alone, with the inbound mailbox as Return-Path
        first = run(root, "2026-11-09", environment)
        assert "What came back to bounces@nordlys.example: 0 new message(s)" in first.out
        [tier1] = smtp.received
        assert tier1.rcpt_tos == [BILLING] and tier1.mail_from == RETURN_PATH
        assert tier1.keys == ("NH-1/tier-1/2026-11-09/email",)

        # it bounces; junk arrives too
        dovecot.deliver(
            message("postfix.eml", recipient=BILLING, message_id=tier1.message_id, keys=tier1.keys),
            b"From: offers@spam.example\r\nSubject: Cheap pens\r\nMessage-ID: <p1@spam.example>"
            b"\r\n\r\nBuy now\r\n",
        )

        # 11-10: the bounce is recorded and the owner asked to find a working address
        second = run(root, "2026-11-10", environment)
        assert "2 new message(s): 1 bounce(s), 1 not about a reminder" in second.out
        [bounced] = entries(root, "bounced")
        assert (bounced["address"], bounced["keys"], bounced["permanent"]) == (
            BILLING,
            ["NH-1/tier-1/2026-11-09/email"],
            True,
        )
        assert "550 5.1.1" in bounced["reason"]
        [task] = smtp.received[1:]
        assert task.rcpt_tos == [OWNER]
        assert task.message["Subject"] == "Find a working contact for Nordhavn Marine ApS (NH-1)"
        body = " ".join(task.message.get_body(("plain",)).get_content().split())
        assert "Find a working billing address for Nordhavn Marine ApS" in body
        assert "Lars Holm (lars@nordhavn.example)" in body
        assert dovecot.flags() == [(b"$NudgeProcessed",)] * 2  # marked, not \Seen, not deleted

        # validate points at the address in the customer file
        checked = nudge("validate", "--root", str(root), env=environment)
        assert checked.code == 0, checked.out + checked.err
        assert "customers/nordhavn.yaml:9:" in checked.out
        assert "lars@nordhavn.example bounced" in checked.out

        # 11-23: tier-2 (finance in copy) goes to finance instead; nothing new in the mailbox
        third = run(root, "2026-11-23", environment)
        assert "0 new message(s)" in third.out
        [tier2] = smtp.received[2:]
        assert tier2.rcpt_tos == [FINANCE]
        assert tier2.message["To"].addresses[0].addr_spec == FINANCE
        assert tier2.message["Cc"] is None
        assert len(entries(root, "bounced")) == 1  # processed once across three runs

        # finance replies, and an out-of-office answers too
        dovecot.deliver(
            message("out-of-office.eml", recipient=FINANCE, message_id=tier2.message_id,
                    person="Maja Berg"),
            message("reply.eml", recipient=FINANCE, message_id=tier2.message_id,
                    person="Maja Berg", invoice="NH-1"),
        )  # fmt: skip

        # 11-24: the reply becomes a task; NH-1's reminders wait 15 business days
        fourth = run(root, "2026-11-24", environment)
        assert "2 new message(s): 1 auto-reply(ies), 1 reply(ies) from a person" in fourth.out
        [auto] = entries(root, "autoreply")
        assert auto["from"] == FINANCE and not entries(root, "bounced")[1:]
        [reply] = entries(root, "reply")
        assert (reply["invoices"], reply["name"], reply["wait_until"]) == (
            ["NH-1"],
            "Maja Berg",
            "2026-12-15",
        )
        [told] = smtp.received[3:]
        assert told.rcpt_tos == [OWNER]
        assert told.message["Subject"] == (
            "Nordhavn Marine ApS replied about NH-1: please read and answer"
        )
        text = " ".join(told.message.get_body(("plain",)).get_content().split())
        assert "subject 'RE: Payment reminder'" in text
        assert "We paid this invoice on 20 November by bank transfer, reference NH-1." in text
        assert "wait until 2026-12-15" in text

        # the report lists what needs a person; the history shows it in the timeline
        shown = nudge("report", "--today", "2026-11-24", "--root", str(root), "--format", "json")
        figures = json.loads(shown.out)
        assert [(u["customer"], u["address"]) for u in figures["unreachable"]] == [
            ("nordhavn", BILLING)
        ]
        assert [(r["invoice"], r["from"], r["waits_until"]) for r in figures["replies"]] == [
            ("NH-1", "Maja Berg", "2026-12-15")
        ]
        table = nudge("report", "--today", "2026-11-24", "--root", str(root)).out
        assert "Replies waiting for an answer" in table and "RE: Payment reminder" in table
        timeline = nudge("history", "NH-1", "--root", str(root)).out
        assert "tier-1 e-mail to lars@nordhavn.example bounced: 550 5.1.1" in timeline
        assert "auto-reply from Maja Berg to the tier-2 e-mail" in timeline
        assert "reply from Maja Berg to the tier-2 e-mail: 'RE: Payment reminder'" in timeline

        # 12-10: tier-3 is due, but NH-1 waits for a person
        fifth = run(root, "2026-12-10", environment)
        assert len(smtp.received) == 4
        explained = nudge(
            "plan", "--today", "2026-12-10", "--root", str(root), "--explain", "NH-1",
            env=environment,
        )  # fmt: skip
        assert "Maja Berg replied on 2026-11-24" in explained.out, explained.out
        assert "0 new message(s)" in fifth.out

        # 12-16: the wait is over: tier-3 goes out, to those in copy (billing bounced)
        run(root, "2026-12-16", environment)
        [tier3] = smtp.received[4:]
        assert tier3.keys == ("NH-1/tier-3/2026-12-10/email",)
        assert BILLING not in tier3.rcpt_tos and FINANCE in tier3.rcpt_tos

        # nothing was processed twice, even when a run died before marking what it read
        with dovecot.client() as client:
            client.select_folder("INBOX")
            client.remove_flags(client.search("ALL"), [b"$NudgeProcessed"])
        again = run(root, "2026-12-17", environment)
        assert "4 new message(s)" in again.out
        assert [len(entries(root, s)) for s in ("bounced", "reply", "autoreply")] == [1, 1, 1]
        assert len(smtp.received) == 5
        assert dovecot.count() == 4  # nothing deleted
    assert_no_secrets(root, *(r.out + r.err for r in (first, second, third, fourth)),
                      secrets=(IMAP_PASSWORD,))  # fmt: skip


def test_an_unreachable_mailbox_is_a_warning_and_sending_goes_on(
    tmp_path: Path, certs: Certs
) -> None:
    root = company(tmp_path / "repo")
    with SmtpPeer(certs) as smtp:
        closed = Dovecot(certs)  # never started: nothing listens on its port
        configure(root, email=email_settings(smtp), sms={"from": "+4570123456"},
                  inbound=closed.settings())  # fmt: skip
        result = run(root, "2026-11-09", env(certs))
    assert "warning: the inbound mailbox was not read (cannot connect to 127.0.0.1:" in result.out
    assert "sending goes on" in result.out
    assert [r.rcpt_tos for r in smtp.received] == [[BILLING]]
    summary = result.out.splitlines()
    assert any(line.startswith("2026-11-09 sent 1") for line in summary)


def test_an_unknown_email_is_settled_by_its_copy_in_the_mailbox(
    tmp_path: Path, certs: Certs, dovecot: Dovecot
) -> None:
    """Issue 16.2, e-mail half: the bcc copy's Message-ID in the mailbox settles `unknown`."""
    root = company(tmp_path / "repo")
    with SmtpPeer(certs) as smtp:
        smtp.drop_at = 1  # the data goes in, the answer never comes: unknown
        configure(
            root,
            email=email_settings(smtp, bcc="copies@nordlys.example"),
            sms={"from": "+4570123456"},
            inbound=dovecot.settings(copies_folder="Copies"),
        )
        environment = env(certs)
        first = nudge("run", "--today", "2026-11-09", "--root", str(root), "--only", "nordhavn",
                      env=environment, timeout=120)  # fmt: skip
        assert first.code == 1 and "unknown" in first.out
        [dropped] = smtp.dropped
        assert "copies@nordlys.example" in dropped.rcpt_tos
        dovecot.deliver(dropped.data, folder="Copies")  # the copy reached the bcc mailbox
        second = run(root, "2026-11-10", environment)
    assert "settled   1 e-mail(s) of unknown outcome" in second.out
    [settled] = entries(root, "reconciled")
    assert settled["sent"] is True and settled["keys"] == ["NH-1/tier-1/2026-11-09/email"]
    assert "in the mailbox folder 'Copies'" in settled["evidence"]
    report = nudge("report", "--today", "2026-11-10", "--root", str(root), "--format", "json")
    assert json.loads(report.out)["unknown"] == []


def test_an_undelivered_number_is_unreachable_and_the_next_text_becomes_a_task(
    tmp_path: Path, certs: Certs
) -> None:
    root = company(tmp_path / "repo")
    (root / "policies" / "texting.yaml").write_text(
        "id: texting\n"
        "calendar: {country: DK, weekends: [sat, sun]}\n"
        "steps:\n"
        "  - {id: text-1, at: 14, send: [sms], template: gentle-tier-3}\n"
        "  - {id: text-2, at: 21, send: [sms], template: gentle-tier-3}\n",
        encoding="utf-8",
    )
    customer = root / "customers" / "nordhavn.yaml"
    customer.write_text(customer.read_text().replace("policy: gentle", "policy: texting"))
    with SmtpPeer(certs) as smtp, TwilioPeer() as twilio:
        twilio.status["+4531112233"] = ("undelivered", 30003)
        configure(root, email=email_settings(smtp), sms=sms_settings(twilio))
        environment = {**live_env(certs), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
        run(root, "2026-11-09", environment)  # text-1 goes out
        assert [c["to"] for c in twilio.created] == ["+4531112233"]
        second = run(root, "2026-11-10", environment)  # its status is asked for
        assert "SMS status: 0 delivered, 1 undelivered" in second.out
        [undelivered] = entries(root, "undelivered")
        assert (
            undelivered["phone"],
            undelivered["error_code"],
            undelivered["provider_status"],
        ) == (
            "+4531112233",
            30003,
            "undelivered",
        )
        [fetch] = twilio.fetches
        assert fetch.method == "GET" and not twilio.spec.fetch_problems(fetch)
        [task] = smtp.received
        assert task.rcpt_tos == [OWNER]
        assert "Find a working billing mobile number" in " ".join(
            task.message.get_body(("plain",)).get_content().split()
        )
        third = run(root, "2026-11-16", environment)  # text-2: no number left, a task instead
        assert len(twilio.created) == 1 and len(twilio.fetches) == 1
        [stand_in] = smtp.received[1:]
        assert stand_in.keys == ("NH-1/text-2/2026-11-16/sms",)
        assert stand_in.message["Subject"] == (
            "Nordhavn Marine ApS: no working mobile number left, contact them yourself"
        )
        assert "sent 1 (task 1)" in third.out
    summary = (tmp_path / "summary.md").read_text()
    assert "### What came back" in summary and "1 undelivered" in summary
