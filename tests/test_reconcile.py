"""Settling unknown outcomes from a provider's records (runner.reconcile), table by table.

The Twilio half runs end to end in tests/test_crash.py (a killed run, the real twilio client
reading a spec-checked list); here the decision itself, row by row: what counts as proof that a
message went, that it did not, and what is left for a person. (E-mail copies found in the
mailbox: tests/test_feedback_record.py and test_feedback_loop.py.)
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from runner import reconcile
from runner.reconcile import Listing, Message
from runner.sendlog import Entry, hashed

HANDED = datetime(2026, 11, 23, 6, 17, 5, tzinfo=UTC)
NOW = HANDED + timedelta(hours=20)  # the next morning's run
NUMBER = "+447911123456"
TEXT = "Invoice INV-1023 is 41 days overdue: please pay 1,200.00 GBP."


def unknown(to: str = NUMBER, text: str = TEXT, **extra: object) -> Entry:
    return Entry(
        {
            "id": "h1",
            "delivery": "d1",
            "status": "handover",
            "at": HANDED.isoformat().replace("+00:00", "Z"),
            "date": "2026-11-23",
            "keys": ["INV-1023/tier-3/2026-11-23/sms"],
            "customer": "thames-analytics",
            "channel": "sms",
            "to": [to],
            "body_sha256": hashlib.sha256(text.encode()).hexdigest(),
            **extra,
        }
    )


def message(sid: str, body: str = TEXT, after: timedelta = timedelta(seconds=1)) -> Message:
    return Message(sid, NUMBER, body, HANDED + after, "delivered")


def settle(
    entry: Entry,
    messages: list[Message],
    *,
    complete: bool = True,
    known: set[str] | None = None,
    now: datetime = NOW,
) -> reconcile.Settlement | None:
    asked: list[str] = []

    def lookup(number: str) -> Listing:
        asked.append(number)
        return Listing(tuple(messages), complete)

    settled, failures = reconcile.settle_sms(
        [entry],
        lookup,
        known or set(),
        lambda logged: {hashed(NUMBER): NUMBER}.get(logged, logged),
        now,
    )
    assert failures == [] and asked == [NUMBER]
    return settled[0] if settled else None


def test_a_message_with_the_same_text_to_the_number_after_the_hand_over_is_it() -> None:
    found = settle(unknown(), [message("SM2", body="something else"), message("SM1")])
    assert found is not None and found.sent and found.provider_id == "SM1"
    assert "SM1" in found.evidence and "status delivered" in found.evidence


def test_no_message_to_the_number_at_all_means_it_never_reached_twilio() -> None:
    found = settle(unknown(), [message("SM9", after=timedelta(days=-3))])  # an older reminder
    assert found is not None and not found.sent
    assert found.evidence.startswith(f"Twilio lists no message to {NUMBER} created between")


@pytest.mark.parametrize(
    ("why", "messages", "complete", "known", "now"),
    [
        ("a message with other text then", [message("SM3", body="hello")], True, set(), NOW),
        ("the list was cut short", [], False, set(), NOW),
        ("too soon after the hand-over to rule it out", [], True, set(), HANDED),
    ],
)
def test_what_the_records_cannot_decide_is_left_for_a_person(
    why: str, messages: list[Message], complete: bool, known: set[str], now: datetime
) -> None:
    assert settle(unknown(), messages, complete=complete, known=known, now=now) is None, why


def test_a_record_already_logged_for_another_delivery_is_not_this_one() -> None:
    """Two reminders to one number in the same minute, one logged sent as SM1: the other left
    no record of its own, so it never reached Twilio."""
    found = settle(unknown(), [message("SM1")], known={"SM1"})
    assert found is not None and not found.sent


def test_a_recipient_logged_as_a_hash_is_looked_up_by_its_number() -> None:
    found = settle(unknown(to=hashed(NUMBER)), [message("SM1")])
    assert found is not None and found.sent
    assert NUMBER not in found.evidence  # the evidence names it as the log does: hashed


def test_reconciled_entries_make_the_key_sent_or_due_again() -> None:
    from runner.sendlog import index

    entry = unknown()
    for sent, status in ((True, "sent"), (False, None)):
        settled = [reconcile.Settlement(entry, sent, "evidence", "SM1" if sent else "")]
        written = [
            Entry({**raw, "at": "2026-11-24T06:17:00Z"}) for raw in reconcile.entries(settled)
        ]
        log = index([entry, *written])
        state = log.state("INV-1023/tier-3/2026-11-23/sms")
        assert (state.status if state else None) == status
        assert log.unknown == []
