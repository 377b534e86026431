"""E-mail delivery against a real SMTP server (aiosmtpd, STARTTLS, AUTH) on 127.0.0.1.

Each scenario runs `nudge run --transport live` as a subprocess on a copy of the sample, with
settings.yaml pointed at its own server, and the tests judge what arrived on the wire and what
the log says. The scenarios run side by side (see peers.Scenarios); each test waits for its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from conftest import FIXTURE, Result, copy_sample, nudge
from peers import (
    SMTP_PASSWORD,
    SMTP_USER,
    TWILIO_SID,
    TWILIO_TOKEN,
    Certs,
    Ran,
    Scenarios,
    SmtpPeer,
    TwilioPeer,
    assert_no_secrets,
    by_delivery,
    configure,
    email_settings,
    live_env,
    log_entries,
    make_certs,
    outcome,
    secret_forms,
    sms_settings,
)

TODAY = "2026-11-23"
COMPANY = "ar@nordlys.example"
MAILS = 8  # the e-mails of 2026-11-23 (7 to customers, one per customer, and 1 task to our owner)
MESSAGE_ID = re.compile(r"^<nudge\.[0-9a-f]{32}@nordlys\.example>$")
MAILED = ("email", "task")  # tasks go to our own people over the same SMTP connection
WRONG_PASSWORD, WRONG_TOKEN = "wr0ng-Smtp-PW-b81d2e", "wr0ng-tw-token-44f1ac"

scenario = Scenarios()


def run_live(root: Path, env: dict[str, str], today: str = TODAY) -> Result:
    return nudge(
        "run", "--today", today, "--root", str(root), "--transport", "live", env=env, timeout=90
    )


def mailed(entries: list[dict]) -> dict[str, list[dict]]:
    return {d: es for d, es in by_delivery(entries).items() if es[0]["channel"] in MAILED}


def pending_by_keys(entries: list[dict]) -> dict[tuple[str, ...], dict]:
    return {
        tuple(e["keys"]): e for e in entries if e["status"] == "pending" and e["channel"] in MAILED
    }


# -- the scenarios ------------------------------------------------------------------------------


@scenario
def live(folder: Path, certs: Certs) -> Ran:
    """The sample day against a well-behaved server (and Twilio), judged by several tests."""
    root = copy_sample(folder)
    with SmtpPeer(certs) as smtp, TwilioPeer() as twilio:
        configure(root, email=email_settings(smtp, max_connections=3), sms=sms_settings(twilio))
        return Ran(root, [run_live(root, live_env(certs))], smtp, twilio)


@scenario
def busy(folder: Path, certs: Certs) -> Ran:
    """421 to the first MAIL, the first RCPT and the first DATA; then all is well."""
    root = copy_sample(folder)
    with SmtpPeer(certs) as smtp:
        smtp.fail_first = {"MAIL", "RCPT", "DATA"}
        configure(root, email=email_settings(smtp), sms=None)
        return Ran(root, [run_live(root, live_env(certs))], smtp)


@scenario
def refusing(folder: Path, certs: Certs) -> Ran:
    """550 for one of acme's three recipients, and for hyggehus's only one; the log keeps
    recipients as hashes (log.hash_recipients), and the server's reasons name the addresses."""
    root = copy_sample(folder)
    with SmtpPeer(certs) as smtp:
        smtp.refuse = {
            "ceo@acme-industrial.example": "550 5.1.1 <ceo@acme-industrial.example>: no such user",
            "faktura@hyggehus.example": "550 5.1.1 <faktura@hyggehus.example>: no such user",
        }
        configure(root, email=email_settings(smtp), sms=None)
        with (root / "settings.yaml").open("a", encoding="utf-8") as settings:
            settings.write("\nlog:\n  hash_recipients: true\n")
        return Ran(root, [run_live(root, live_env(certs))], smtp)


@scenario
def dropping(folder: Path, certs: Certs) -> Ran:
    """The connection dies after the 5th message's data, before the reply; then a rerun."""
    root = copy_sample(folder)
    with SmtpPeer(certs) as smtp:
        smtp.drop_at = 5
        configure(root, email=email_settings(smtp), sms=None)
        first = run_live(root, live_env(certs))
        received_by_first = len(smtp.received)
        smtp.drop_at = None
        second = run_live(root, live_env(certs))
    return Ran(root, [first, second], smtp, extra={"received_by_first": received_by_first})


@scenario
def no_starttls(folder: Path, certs: Certs) -> Ran:
    """security: starttls, and the server does not offer it (but would take AUTH in the clear)."""
    root = copy_sample(folder)
    with SmtpPeer(None) as smtp:
        configure(root, email=email_settings(smtp, max_connections=2), sms=None)
        return Ran(root, [run_live(root, live_env(certs))], smtp)


@scenario
def untrusted(folder: Path, certs: Certs) -> Ran:
    """The server's certificate is signed by a CA the client does not trust."""
    root = copy_sample(folder / "repo")
    stranger = make_certs(folder / "other-ca")
    with SmtpPeer(certs) as smtp:
        configure(root, email=email_settings(smtp), sms=None)
        return Ran(root, [run_live(root, live_env(stranger))], smtp)


@scenario
def bad_credentials(folder: Path, certs: Certs) -> Ran:
    """A wrong SMTP password (535) and a wrong Twilio token (401)."""
    root = copy_sample(folder)
    with SmtpPeer(certs) as smtp, TwilioPeer() as twilio:
        configure(root, email=email_settings(smtp, max_connections=2), sms=sms_settings(twilio))
        result = run_live(root, live_env(certs, password=WRONG_PASSWORD, token=WRONG_TOKEN))
        return Ran(root, [result], smtp, twilio)


@scenario
def relay(folder: Path, certs: Certs) -> Ran:
    """A local relay that takes mail without a login (auth: none, security: none): first with
    --transport auto, then --transport live. No SMTP credentials in the environment."""
    root = copy_sample(folder)
    with SmtpPeer(None, require_auth=False) as smtp:
        configure(
            root,
            email={"host": "127.0.0.1", "port": smtp.port, "security": "none", "auth": "none"},
            sms=None,
        )
        env = {**live_env(), "SMTP_USERNAME": "", "SMTP_PASSWORD": ""}
        auto = nudge("run", "--today", TODAY, "--root", str(root), env=env, timeout=90)
        by_auto = len(smtp.received)
        live = run_live(root, env, "2026-11-24")
    return Ran(root, [auto, live], smtp, extra={"by_auto": by_auto})


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[Ran]]]:
    yield from scenario.started(tmp_path_factory)


# -- a good server --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good(runs: dict[str, Future[Ran]]) -> Ran:
    ran = runs["live"].result()
    assert ran.result.code == 0 and ran.result.err == "", ran.result.out + ran.result.err
    ran.extra["entries"] = log_entries(ran.root)
    return ran


def test_log_has_pending_then_sent_for_every_email(good: Ran) -> None:
    deliveries = mailed(good.extra["entries"])
    assert len(deliveries) == MAILS
    for es in deliveries.values():
        assert [e["status"] for e in es] == ["pending", "handover", "sent"], es
        assert es[2]["attempts"] == 1 and es[2]["provider_id"]
        assert es[1]["message_id"] == es[2]["message_id"]
        assert MESSAGE_ID.match(es[1]["message_id"])
    assert "sent 11 (email 7, letter 1, sms 2, task 1)" in good.result.out.splitlines()[0]


def test_each_delivery_arrives_once_to_its_to_and_cc(good: Ran) -> None:
    assert good.smtp is not None
    pending = pending_by_keys(good.extra["entries"])
    assert len(good.smtp.received) == MAILS and not good.smtp.dropped
    assert Counter(r.keys for r in good.smtp.received) == Counter({k: 1 for k in pending})
    for got in good.smtp.received:
        entry = pending[got.keys]
        assert got.mail_from == COMPANY
        assert sorted(got.rcpt_tos) == sorted(entry["to"] + entry["cc"])


def test_messages_parse_with_headers_parts_and_the_pdf(
    good: Ran, runs: dict[str, Future[Ran]]
) -> None:
    assert good.smtp is not None
    pending = pending_by_keys(good.extra["entries"])
    # another run of the same day (another repository copy, another server, retries in
    # between): the same keys must give the same Message-ID
    busy = runs["busy"].result().smtp
    assert busy is not None
    elsewhere = {r.keys: r.message_id for r in busy.received}
    assert len(elsewhere) == MAILS
    pdf = (FIXTURE / "invoices" / "pdf" / "INV-1042.pdf").read_bytes()
    with_pdf = 0
    for got in good.smtp.received:
        msg = got.message
        entry = pending[got.keys]
        assert str(msg["From"]) == f"Nordlys Consulting ApS <{COMPANY}>"
        assert str(msg["Reply-To"]) == COMPANY
        assert str(msg["Auto-Submitted"]) == "auto-generated"
        # a long subject is folded right after "Subject:"; Python's parser keeps that space
        assert str(msg["Subject"]).strip() == entry["subject"]
        assert MESSAGE_ID.match(got.message_id), got.message_id
        assert got.message_id == elsewhere[got.keys]
        if entry["channel"] == "email":
            alternative = [p for p in msg.walk() if p.get_content_type() == "multipart/alternative"]
            assert len(alternative) == 1, msg.get_content_type()
            kinds = [p.get_content_type() for p in alternative[0].iter_parts()]
            assert kinds == ["text/plain", "text/html"]
            plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
            assert plain is not None and html is not None
            assert plain.get_content().strip() and "</" in html.get_content()
        attachments = list(msg.iter_attachments())
        if "INV-1042/weekly-statement/2026-11-23/email" in got.keys:
            with_pdf += 1
            assert [(a.get_content_type(), a.get_filename()) for a in attachments] == [
                ("application/pdf", "INV-1042.pdf")
            ]
            assert attachments[0].get_content() == pdf
        else:
            assert attachments == []
    assert with_pdf == 1
    assert len({r.message_id for r in good.smtp.received}) == MAILS


def test_to_and_cc_headers_name_the_envelope_recipients(good: Ran) -> None:
    assert good.smtp is not None
    for got in good.smtp.received:
        msg = got.message
        addresses = [a.addr_spec for h in ("To", "Cc") if msg[h] for a in msg[h].addresses]
        assert sorted(addresses) == sorted(got.rcpt_tos), msg["Cc"]
        assert not msg["Cc"] or not msg["Cc"].defects, msg["Cc"].defects


def test_one_connection_carries_many_messages_over_tls_with_auth(good: Ran) -> None:
    smtp = good.smtp
    assert smtp is not None
    assert 1 <= smtp.connections <= 3 < len(smtp.received)  # max_connections: 3
    assert smtp.sessions_with_mail() <= smtp.connections
    # every connection went to TLS before authenticating, with the password from the env
    assert len(smtp.auth) == smtp.connections
    assert {(login, password, ok) for _, login, password, ok in smtp.auth} == {
        (SMTP_USER, SMTP_PASSWORD, True)
    }
    plain = smtp.plain_bytes().upper()
    assert b"STARTTLS" in plain
    for word in (b"AUTH", b"MAIL FROM", b"RCPT", b"DATA"):
        assert word not in plain
    assert not any(form in smtp.plain_bytes() for form in secret_forms(SMTP_PASSWORD))


def test_text_messages_of_the_same_run_went_to_twilio(good: Ran) -> None:
    assert good.twilio is not None
    requests = good.twilio.requests
    assert [good.twilio.spec.problems(r) for r in requests] == [[], []]
    assert {r.auth for r in requests} == {(TWILIO_SID, TWILIO_TOKEN)}
    texts = [
        outcome(es)
        for es in by_delivery(good.extra["entries"]).values()
        if es[0]["channel"] == "sms"
    ]
    assert [t["status"] for t in texts] == ["sent", "sent"]
    assert {t["provider_id"] for t in texts} == {c["sid"] for c in good.twilio.created}


def test_no_secret_in_output_or_files(good: Ran) -> None:
    assert_no_secrets(good.root, good.result.out, good.result.err)


# -- servers that misbehave ---------------------------------------------------------------------


def test_421_is_retried_and_each_message_arrives_once(runs: dict[str, Future[Ran]]) -> None:
    ran = runs["busy"].result()
    smtp, result = ran.smtp, ran.result
    assert smtp is not None
    assert result.code == 0 and result.err == "", result.out + result.err
    assert not smtp.fail_first  # each 421 was given
    ids = Counter(r.message_id for r in smtp.received)
    assert len(ids) == MAILS and set(ids.values()) == {1}
    outcomes = [outcome(es) for es in mailed(log_entries(ran.root)).values()]
    assert {o["status"] for o in outcomes} == {"sent"}
    assert sum(o["attempts"] - 1 for o in outcomes) == 3  # one extra attempt per 421
    assert max(o["attempts"] for o in outcomes) > 1
    assert_no_secrets(ran.root, result.out, result.err)


def test_refused_recipients(runs: dict[str, Future[Ran]]) -> None:
    ran = runs["refusing"].result()
    smtp, result = ran.smtp, ran.result
    assert smtp is not None
    assert result.code == 1, result.out + result.err
    results = {
        (es[0]["customer"], es[0]["step"]): outcome(es)
        for es in mailed(log_entries(ran.root)).values()
    }
    received = {r.message["X-Nudge-Keys"]: r for r in smtp.received}

    # one of three recipients refused: the others got it, the refusal is on record (by the
    # same hash as in the entry's cc)
    hold = results[("acme", "hold")]
    assert hold["status"] == "sent"
    assert len(hold["refused"]) == 1 and "550" in hold["refused"][0]
    assert [h for h in hold["cc"] if h in hold["refused"][0]] == [hold["cc"][1]]
    hold_key = "INV-1008/hold/2026-11-23/email"
    got = next(r for keys, r in received.items() if hold_key in keys.split())
    assert sorted(got.rcpt_tos) == [
        "ap@acme-industrial.example",
        "controller@acme-industrial.example",
    ]

    # every recipient refused: failed, permanently, and nothing else was held up
    heads_up = results[("hyggehus", "heads-up")]
    assert heads_up["status"] == "failed" and heads_up["permanent"] is True
    assert heads_up["to"][0] in heads_up["reason"] and "550" in heads_up["reason"]
    assert heads_up["attempts"] == 1
    assert "INV-1058/heads-up/2026-11-23/email" not in received
    others = {k: o for k, o in results.items() if k != ("hyggehus", "heads-up")}
    assert len(others) == MAILS - 1 and {o["status"] for o in others.values()} == {"sent"}
    assert len(smtp.received) == MAILS - 1 == len({r.message_id for r in smtp.received})
    assert re.search(r"failed\s+email\s+hyggehus heads-up", result.out)
    # hash_recipients: no address anywhere in the log, not even in a provider's reason
    log = (ran.root / "log" / "2026" / "11.jsonl").read_text(encoding="utf-8").lower()
    addresses = {a for r in smtp.received for a in r.rcpt_tos} | set(smtp.refuse)
    assert len(addresses) > 10 and not [a for a in addresses if a.lower() in log]
    assert_no_secrets(ran.root, result.out, result.err)


def test_connection_dropped_after_data_is_unknown_and_never_resent(
    runs: dict[str, Future[Ran]],
) -> None:
    ran = runs["dropping"].result()
    smtp = ran.smtp
    assert smtp is not None
    first, second = ran.results
    assert first.code == 1, first.out + first.err
    assert len(smtp.dropped) == 1
    lost = smtp.dropped[0]
    # nothing lost, nothing twice: all but one answered, the last taken in without an answer
    assert ran.extra["received_by_first"] == MAILS - 1
    ids = Counter(r.message_id for r in smtp.received)
    assert set(ids.values()) == {1} and lost.message_id not in ids
    results = {tuple(es[0]["keys"]): outcome(es) for es in mailed(log_entries(ran.root)).values()}
    assert len(results) == MAILS
    assert [k for k, o in results.items() if o["status"] == "unknown"] == [lost.keys]
    assert results[lost.keys]["attempts"] == 1  # never retried
    assert "after the message data was sent" in results[lost.keys]["reason"]
    assert {o["status"] for k, o in results.items() if k != lost.keys} == {"sent"}
    assert re.search(r"unknown\s+(email|task)", first.out)

    # the second run the same day: nothing goes out, the unknown one is pointed out
    assert len(smtp.received) == MAILS - 1
    assert " sent 0" in second.out.splitlines()[0], second.out
    assert "Needs a person: 1 earlier message with unknown outcome" in second.out
    assert_no_secrets(ran.root, first.out, first.err, second.out, second.err)


def test_starttls_required_but_not_offered_sends_nothing_in_plain_text(
    runs: dict[str, Future[Ran]],
) -> None:
    ran = runs["no_starttls"].result()
    smtp, result = ran.smtp, ran.result
    assert smtp is not None
    assert result.code == 1, result.out + result.err
    assert smtp.received == [] and smtp.mail_commands == 0 and smtp.auth == []
    plain = smtp.plain_bytes().upper()
    assert b"EHLO" in plain  # it did talk to the server...
    for word in (b"AUTH", b"MAIL FROM", b"RCPT", b"DATA"):
        assert word not in plain  # ...but sent nothing that is not safe in the clear
    assert smtp.connections == 1  # found out once, not once per message
    outcomes = [outcome(es) for es in mailed(log_entries(ran.root)).values()]
    assert len(outcomes) == MAILS
    for o in outcomes:
        assert o["status"] == "failed"
        assert "does not offer STARTTLS" in o["reason"] and "plain text" in o["reason"]
        # the messages are fine: once the server is fixed the next run may send them
        assert o["permanent"] is False and o["attempts"] == 1
    assert "does not offer STARTTLS" in result.out
    assert_no_secrets(ran.root, result.out, result.err)


def test_untrusted_certificate_sends_nothing(runs: dict[str, Future[Ran]]) -> None:
    ran = runs["untrusted"].result()
    smtp, result = ran.smtp, ran.result
    assert smtp is not None
    assert result.code == 1, result.out + result.err
    assert smtp.received == [] and smtp.auth == [] and smtp.mail_commands == 0
    assert smtp.connections == 1  # found out once, not once per message and attempt
    assert not any(tls for _, tls, _ in smtp.wire)  # not a byte went inside the TLS session
    outcomes = [outcome(es) for es in mailed(log_entries(ran.root)).values()]
    assert len(outcomes) == MAILS
    for o in outcomes:
        assert o["status"] == "failed" and o["permanent"] is False and o["attempts"] == 1
        assert "certificate not trusted" in o["reason"]
    assert_no_secrets(ran.root, result.out, result.err)


def test_rejected_credentials_leak_no_secret(runs: dict[str, Future[Ran]]) -> None:
    ran = runs["bad_credentials"].result()
    smtp, twilio, result = ran.smtp, ran.twilio, ran.result
    assert smtp is not None and twilio is not None
    assert result.code == 1, result.out + result.err
    # the server did get the (wrong) password, inside TLS, and said 535; one connection tried
    # it (aiosmtplib tries each mechanism: PLAIN, LOGIN), not one per message: servers lock
    # accounts that hammer them with a bad password
    assert {(p, ok) for _, _, p, ok in smtp.auth} == {(WRONG_PASSWORD, False)}
    assert smtp.connections == 1 and len(smtp.auth) <= 2
    assert not any(f in smtp.plain_bytes() for f in secret_forms(WRONG_PASSWORD))
    assert smtp.received == []
    # Twilio said 401; no retries with the same bad token (the two texts may race to be first)
    assert 1 <= len(twilio.requests) <= 2
    assert {r.auth for r in twilio.requests} == {(TWILIO_SID, WRONG_TOKEN)}
    assert [twilio.spec.problems(r) for r in twilio.requests] == [[]] * len(twilio.requests)
    results = [outcome(es) for es in by_delivery(log_entries(ran.root)).values()]
    mails = [o for o in results if o["channel"] in MAILED]
    texts = [o for o in results if o["channel"] == "sms"]
    assert len(mails) == MAILS and len(texts) == 2
    for o in mails + texts:
        # not the messages' fault: failed, but the next run (fixed credentials) sends them
        assert o["status"] == "failed" and o["permanent"] is False and o["attempts"] == 1, o
        assert "authentication failed" in o["reason"].lower()
    assert_no_secrets(
        ran.root,
        result.out,
        result.err,
        secrets=(WRONG_PASSWORD, WRONG_TOKEN, SMTP_PASSWORD, TWILIO_TOKEN),
    )


# -- a relay without login ------------------------------------------------------------------------


def test_auto_writes_to_the_outbox_for_a_relay_without_login_and_says_so(
    runs: dict[str, Future[Ran]],
) -> None:
    ran = runs["relay"].result()
    auto = ran.results[0]
    assert auto.code == 0, auto.out + auto.err
    assert ran.extra["by_auto"] == 0
    assert (
        "note: e-mail: the relay 127.0.0.1:" in auto.err
        and "takes mail without a login (auth: none), so --transport auto writes e-mail to the "
        "outbox; --transport live sends through it"
        in auto.err
    ), auto.err
    assert list((ran.root / "outbox" / TODAY).glob("*.eml"))


def test_live_sends_through_a_relay_without_login(runs: dict[str, Future[Ran]]) -> None:
    ran = runs["relay"].result()
    live = ran.results[1]
    assert live.code == 0, live.out + live.err
    assert ran.smtp is not None
    assert ran.smtp.received and ran.smtp.auth == []  # never asked to log in, never did
    assert b"AUTH" not in ran.smtp.plain_bytes()
    mailed_now = [
        es for es in mailed(log_entries(ran.root)).values() if es[0]["date"] == "2026-11-24"
    ]
    assert mailed_now and all(outcome(es)["status"] == "sent" for es in mailed_now)
