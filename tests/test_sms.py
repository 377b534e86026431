"""SMS through the real twilio client, pointed at a Twilio-shaped HTTP server on 127.0.0.1.

Every request the client makes is checked against Twilio's OpenAPI spec (the Create Message
operation: path, method, form fields against its requestBody schema, basic auth with the
account SID); every 201 body the server gives is checked against the spec's message schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Result, copy_sample, nudge
from peers import (
    TWILIO_SID,
    TWILIO_TOKEN,
    Ran,
    Reply,
    TwilioPeer,
    TwilioRequest,
    assert_no_secrets,
    by_delivery,
    configure,
    live_env,
    log_entries,
    outcome,
    sms_settings,
    twilio_error,
)

PARSIAN, THAMES = "+989123456789", "+447911123456"
SERVICE = "MG" + "fedcba9876543210" * 2


def run_live(root: Path, today: str) -> Result:
    return nudge(
        "run",
        "--today",
        today,
        "--root",
        str(root),
        "--transport",
        "live",
        env=live_env(),
        timeout=90,
    )


def add_invoice(root: Path, number: str, customer: str, due: str) -> None:
    (root / "invoices" / "2026" / f"INV-{number}.yaml").write_text(
        f'id: INV-{number}\ncustomer: {customer}\ndescription: "Extra work"\n'
        f'issued: 2026-09-12\ndue: {due}\namount: "500.00"\n',
        encoding="utf-8",
    )


def texts(root: Path) -> dict[str, dict]:
    """The outcome of each SMS delivery, by customer."""
    return {
        es[0]["customer"]: outcome(es)
        for es in by_delivery(log_entries(root)).values()
        if es[0]["channel"] == "sms"
    }


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    """Day 1 (2026-11-23): parsian is rate-limited once, thames has opted out (21610).
    Day 2 (2026-11-26): new overdue invoices for both; parsian's number is now invalid (21211),
    and the account sends through a Messaging Service instead of a From number."""
    root = copy_sample(tmp_path_factory.mktemp("sms"))
    with TwilioPeer() as twilio:
        configure(root, email=None, sms=sms_settings(twilio))  # e-mail goes to the outbox
        twilio.script = {
            # lower-case header name on purpose: header names are case-insensitive
            PARSIAN: [
                Reply(
                    429,
                    {
                        "code": 20429,
                        "message": "Too Many Requests",
                        "status": 429,
                        "more_info": "https://www.twilio.com/docs/errors/20429",
                    },
                    {"retry-after": "1"},
                )
            ],
            THAMES: [twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")],
        }
        first = run_live(root, "2026-11-23")
        day_one = list(twilio.requests)
        first_texts = texts(root)

        add_invoice(root, "9001", "thames-analytics", "2026-10-12")
        add_invoice(root, "9002", "parsian-design", "2026-10-12")
        configure(
            root,
            email=None,
            sms={**sms_settings(twilio), "from": None, "messaging_service_sid": SERVICE},
        )
        twilio.script = {PARSIAN: [twilio_error(400, 21211, "Invalid 'To' Phone Number")]}
        second = run_live(root, "2026-11-26")
    ran = Ran(
        root,
        [first, second],
        twilio=twilio,
        extra={
            "day_one": day_one,
            "day_two": twilio.requests[len(day_one) :],
            "first_texts": first_texts,
        },
    )
    yield ran


def test_every_request_conforms_to_the_spec(days: Ran) -> None:
    assert days.twilio is not None
    requests: list[TwilioRequest] = days.twilio.requests
    assert len(requests) == 4
    for request in requests:
        assert days.twilio.spec.problems(request) == []
        assert request.auth == (TWILIO_SID, TWILIO_TOKEN)
        assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
        assert request.method == "POST"
        assert dict(request.form)["Body"].strip()
    assert {tuple(sorted(dict(r.form))) for r in days.extra["day_one"]} == {("Body", "From", "To")}
    assert {tuple(sorted(dict(r.form))) for r in days.extra["day_two"]} == {
        ("Body", "MessagingServiceSid", "To")
    }
    assert {dict(r.form)["From"] for r in days.extra["day_one"]} == {"+4570123456"}


def test_429_then_success_is_sent_once(days: Ran) -> None:
    assert days.twilio is not None
    to_parsian = [r for r in days.extra["day_one"] if r.to == PARSIAN]
    assert len(to_parsian) == 2 and to_parsian[0].form == to_parsian[1].form
    assert to_parsian[1].at - to_parsian[0].at >= 0.9  # Retry-After: 1 was honoured
    created = [c for c in days.twilio.created if c["to"] == PARSIAN]
    assert len(created) == 1  # one message exists at Twilio
    sent = days.extra["first_texts"]["parsian-design"]
    assert sent["status"] == "sent" and sent["attempts"] == 2
    assert sent["provider_id"] == created[0]["sid"]


def test_opted_out_number_is_remembered(days: Ran) -> None:
    failed = days.extra["first_texts"]["thames-analytics"]
    assert failed["status"] == "failed" and failed["permanent"] is True
    assert failed["attempts"] == 1 and "21610" in failed["reason"]
    assert "opted out" in failed["reason"]
    optouts = [e for e in log_entries(days.root) if e["status"] == "optout"]
    assert [(e["phone"], e["customer"]) for e in optouts] == [(THAMES, "thames-analytics")]
    assert days.results[0].code == 1
    # the next day thames has a new overdue invoice, but no text goes to that number
    assert [r.to for r in days.extra["day_one"]].count(THAMES) == 1
    assert THAMES not in [r.to for r in days.extra["day_two"]]
    e_mail = days.root / "outbox" / "2026-11-26" / "thames-analytics.tier-3.email.eml"
    assert e_mail.is_file()  # the e-mail of the same step still goes


def test_invalid_number_fails_permanently(days: Ran) -> None:
    second = days.results[1]
    assert [r.to for r in days.extra["day_two"]] == [PARSIAN]  # not retried
    entries = log_entries(days.root)
    mine = [
        outcome(es)
        for es in by_delivery(entries).values()
        if es[0]["channel"] == "sms"
        and es[0]["date"] == "2026-11-26"
        and es[0]["customer"] == "parsian-design"
    ]
    assert len(mine) == 1
    failed = mine[0]
    assert failed["status"] == "failed" and failed["permanent"] is True
    assert "21211" in failed["reason"] and "invalid phone number" in failed["reason"]
    assert second.code == 1
    assert "failed" in second.out.splitlines()[0]


def test_no_token_anywhere(days: Ran) -> None:
    for result in days.results:
        assert_no_secrets(days.root, result.out, result.err)
