"""From an arrival to log entries (pure): which of our e-mails it answers, and what is logged."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from runner.compose import message_id_of
from runner.feedback.inbound import Arrival
from runner.feedback.record import answered, entries_for, sent_index, settle_unknown_emails
from runner.model import Calendar, InboundSettings
from runner.sendlog import Entry, hashed, index

from builders import SETTINGS, invoice, policy, repo, step

KEYS = ["INV-1/first/2026-03-09/email"]
DOMAIN = "example.com"  # builders.SETTINGS: ar@example.com


def sent(to: str = "billing@c1.example", status: str = "sent") -> Entry:
    return Entry({"id": "s1", "delivery": "d1", "status": status, "at": "2026-03-09T09:00:00Z",
                  "date": "2026-03-09", "customer": "c1", "invoices": ["INV-1"], "keys": KEYS,
                  "step": "first", "channel": "email", "to": [to], "cc": []})  # fmt: skip


def bounce(**kw: object) -> Arrival:
    return replace(Arrival("bounce", "<dsn-1@mx.example>", failed=("billing@c1.example",),
                           reason="550 5.1.1 user unknown"), **kw)  # fmt: skip


def test_matched_by_message_id_then_keys_then_the_failed_address() -> None:
    ours = sent_index(index([sent()]), DOMAIN)
    mid = message_id_of(KEYS, DOMAIN)
    ours_sent = ours.by_key[KEYS[0]]
    assert answered(bounce(answers=(mid.lower(),)), ours) is ours_sent
    assert answered(bounce(keys=tuple(KEYS)), ours) is ours_sent
    assert answered(bounce(), ours) is ours_sent
    assert answered(bounce(failed=("someone@else.example",)), ours) is None
    reply = Arrival("reply", "<r@c1.example>", sender="billing@c1.example")
    assert answered(reply, ours) is None  # a reply is never matched by its sender alone


def test_a_hashed_log_is_matched_by_the_hash_of_the_failed_address() -> None:
    ours = sent_index(index([sent(to=hashed("billing@c1.example"))]), DOMAIN)
    assert answered(bounce(), ours) is not None


def test_a_bounce_logs_each_failed_address_hashed_when_the_log_hides_recipients() -> None:
    r = repo([policy(step("first", at=7))], [invoice()])
    [entry] = entries_for(bounce(), sent(), r, date(2026, 3, 10), hide=True)
    assert entry["status"] == "bounced" and entry["address"] == hashed("billing@c1.example")
    assert (entry["keys"], entry["inbound"], entry["sent_on"]) == (KEYS, "<dsn-1@mx.example>",
                                                                   "2026-03-09")  # fmt: skip


def test_a_reply_waits_business_days_in_the_invoice_calendar() -> None:
    settings = replace(SETTINGS, inbound=InboundSettings("b@example.com", "imap.example.com",
                                                         "U", "P", reply_wait_days=2))  # fmt: skip
    weekdays_only = policy(step("first", at=7), calendar=Calendar())  # Saturdays, Sundays off
    r = repo([weekdays_only], [invoice()], settings=settings)
    reply = Arrival("reply", "<r@c1.example>", sender="billing@c1.example", name="Bea",
                    subject="Re: x", excerpt="We paid.")  # fmt: skip
    [entry] = entries_for(reply, sent(), r, date(2026, 3, 13), hide=False)  # a Friday
    assert (entry["name"], entry["wait_until"]) == ("Bea Billing", "2026-03-17")  # Mon, Tue


def test_an_unknown_email_is_settled_only_by_its_own_message_id() -> None:
    unknown = sent(status="pending")
    mid = message_id_of(KEYS, DOMAIN)
    assert settle_unknown_emails([unknown], {"<nudge.other@example.com>": "x"}, DOMAIN,
                                 date(2026, 3, 10)) == []  # fmt: skip
    [settled] = settle_unknown_emails([unknown], {mid: "the mailbox folder 'Copies'"}, DOMAIN,
                                      date(2026, 3, 10))  # fmt: skip
    assert settled["status"] == "reconciled" and settled["sent"] is True
    assert settled["delivery"] == "d1" and mid in settled["evidence"]
    assert (
        index([unknown, Entry({**settled, "id": "z", "at": "2026-03-10T08:00:00Z"})]).unknown == []
    )
