"""What a message that came back is: bounces, delays, auto-replies, replies, junk (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mail import message

from runner.feedback.inbound import judge

VENDOR = Path(__file__).resolve().parent / "vendor" / "flufl-bounce"
OURS = "<nudge.0123456789abcdef0123456789abcdef@nordlys.example>"
KEYS = ("INV-1044/status-check/2026-11-23/email",)


@pytest.mark.parametrize(
    ("name", "kind", "failed"),
    [
        ("postfix_01.txt", "bounce", ("xxxxx@local.ie",)),
        ("exim_01.txt", "bounce", ("userx@its.example.nl",)),
        ("microsoft_01.txt", "bounce", ("userx@example.com",)),
        ("simple_17.txt", "bounce", ("userx@example.com",)),
        ("dsn_01.txt", "bounce", ("userx@example.com",)),
        ("dsn_05.txt", "delayed", ("userx@example.cz",)),
    ],
)
def test_real_bounces_from_the_flufl_corpus(name: str, kind: str, failed: tuple[str, ...]) -> None:
    arrival = judge((VENDOR / name).read_bytes())
    assert (arrival.kind, arrival.failed) == (kind, failed)
    assert arrival.answers == ()  # none of them answers a message of ours


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("postfix.eml", "550 5.1.1"),
        ("exim.eml", "550 5.1.1"),
        ("gmail.eml", "does not exist"),
        ("exchange.eml", "RecipientNotFound"),
    ],
)
def test_a_bounce_names_the_address_and_the_reminder_it_returns(name: str, reason: str) -> None:
    raw = message(name, recipient="ap@acme-industrial.example", message_id=OURS, keys=KEYS)
    arrival = judge(raw)
    assert arrival.kind == "bounce"
    assert arrival.failed == ("ap@acme-industrial.example",)
    assert arrival.answers == (OURS,)
    assert reason in arrival.reason


def test_a_delay_warning_is_temporary_not_a_bounce() -> None:
    raw = message("delayed.eml", recipient="faktura@hyggehus.example", message_id=OURS, keys=KEYS)
    arrival = judge(raw)
    assert (arrival.kind, arrival.failed, arrival.answers) == (
        "delayed",
        ("faktura@hyggehus.example",),
        (OURS,),
    )


def test_an_out_of_office_is_an_autoreply_never_a_bounce() -> None:
    raw = message("out-of-office.eml", recipient="ap@acme-industrial.example", message_id=OURS)
    arrival = judge(raw)
    assert (arrival.kind, arrival.failed, arrival.answers) == ("autoreply", (), (OURS,))


def test_a_reply_keeps_its_first_lines_and_drops_the_quoted_reminder() -> None:
    raw = message("reply.eml", recipient="ap@acme-industrial.example", message_id=OURS)
    arrival = judge(raw)
    assert arrival.kind == "reply"
    assert arrival.answers == (OURS,)
    assert (arrival.sender, arrival.name) == ("ap@acme-industrial.example", "Jennifer Walsh")
    assert arrival.subject == "RE: Payment reminder"
    assert arrival.excerpt.splitlines() == [
        "Hello,",
        "We paid this invoice on 20 November by bank transfer, reference INV-1044.",
        "Could you please check again? The remittance advice is attached to our previous e-mail.",
        "Best regards,",
        "Jennifer Walsh",
    ]
    assert "still open" not in arrival.excerpt


def test_a_header_in_raw_latin_1_is_read_not_a_crash() -> None:
    raw = message(
        "nonutf8-header.eml",
        recipient="bogholderi@bryggeriet-fjord.example",
        message_id=OURS,
        invoice="INV-1031",
    )
    arrival = judge(raw)
    assert arrival.kind == "reply"
    assert arrival.subject == "SV: Betalingspåmindelse INV-1031 - vi har betalt"
    assert arrival.name == "Anders Bøgh"
    assert "Vi har betalt fakturaen i går." in arrival.excerpt


def test_a_malformed_report_is_damaged_and_says_why() -> None:
    arrival = judge(message("malformed-dsn.eml", recipient="x@example.com", message_id=OURS))
    assert arrival.kind == "damaged"
    assert arrival.reason
    assert judge(b"\x00\xff garbage without headers").kind in ("unrelated", "damaged")


def test_our_own_copy_is_recognised() -> None:
    raw = f"Message-ID: {OURS}\r\nX-Nudge-Keys: {KEYS[0]}\r\nSubject: x\r\n\r\nhello\r\n".encode()
    assert judge(raw).kind == "own-copy"


def test_a_large_message_judged_by_its_headers() -> None:
    head = message("reply.eml", recipient="ap@acme-industrial.example", message_id=OURS)
    headers = head.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    arrival = judge(headers, headers_only=True)
    assert arrival.kind == "reply"
    assert "too large" in arrival.excerpt
