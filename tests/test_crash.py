"""A run killed with SIGKILL in the middle of a batch: the rerun sends nothing twice, and leaves
unknown exactly what a provider took in without answering.

E-mail: the SMTP server is slow (0.5 s per message, one connection) so that the kill lands
with some messages answered and logged `sent`, one taken in by the server and not answered, and
the rest claimed but never handed over. The rerun (server now fast) sends the never-handed-over
ones once, leaves the unanswered one unknown (its copy in the inbound mailbox would settle it:
runner.feedback.record), and reads a log whose last line the kill may have torn.

SMS: Twilio has created one message and not answered yet, and has lost the request for the
other; the rerun reads Twilio's list of messages, records the first `sent` with its SID and the
second not sent, and sends the second once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections import Counter

import pytest

from conftest import Result, copy_sample, nudge
from peers import (
    Ran,
    Received,
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
    sms_settings,
    start_nudge,
    statuses,
)

TODAY = "2026-11-23"
MAILED = ("email", "task")
PARSIAN, THAMES = "+989123456789", "+447911123456"  # the day's two text messages


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    certs = make_certs(tmp_path_factory.mktemp("certs"))
    root = copy_sample(tmp_path_factory.mktemp("crash"))
    env = live_env(certs)
    third = threading.Event()
    with SmtpPeer(certs) as smtp:
        smtp.delay = 0.5

        def count(_: Received) -> None:
            if len(smtp.received) >= 3:
                third.set()

        smtp.on_message = count
        # one connection: messages go one by one, so the kill finds some answered and logged
        # `sent`, one taken in by the server but unanswered, and the rest never handed over
        configure(root, email=email_settings(smtp, max_connections=1), sms=None)
        process = start_nudge(root, TODAY, env, "--transport", "live")
        try:
            assert third.wait(timeout=60), "the server never got 3 messages"
            os.kill(process.pid, signal.SIGKILL)
        finally:
            out, err = process.communicate(timeout=30)
        killed = Result(process.returncode, out, err)
        time.sleep(0.6)  # the server's pause on the unanswered message runs out (or is cut)
        first_received, first_answered = list(smtp.received), list(smtp.answered)
        after_kill = log_entries(root)
        # a kill can tear the last line mid-write; make sure the rerun meets one
        log = root / "log" / "2026" / "11.jsonl"
        with log.open("a", encoding="utf-8") as handle:
            handle.write('{"id": "torn-by-the-kill", "status": "pend')
        smtp.delay = 0.0
        rerun = nudge(
            "run", "--today", TODAY, "--root", str(root), "--transport", "live", env=env, timeout=90
        )
    return Ran(
        root,
        [killed, rerun],
        smtp,
        extra={"received": first_received, "answered": first_answered, "after_kill": after_kill},
    )


def mailed(entries: list[dict]) -> list[list[dict]]:
    return [es for es in by_delivery(entries).values() if es[0]["channel"] in MAILED]


def test_the_kill_landed_mid_batch(crashed: Ran) -> None:
    assert crashed.results[0].code == -signal.SIGKILL
    deliveries = mailed(crashed.extra["after_kill"])
    assert len(deliveries) == 8  # every e-mail was claimed before the first went out
    sent = [es for es in deliveries if "sent" in statuses(es)]
    handed = [es for es in deliveries if "handover" in statuses(es)]
    received, answered = crashed.extra["received"], crashed.extra["answered"]
    assert len(received) == 3 and len(answered) == 2
    # each message was handed over in the log before the server had it, and only those
    assert len(handed) == len(received)
    assert len(sent) == len(answered)
    assert 8 - len(handed) == 5  # claimed, never handed over


def test_unknown_is_exactly_what_the_server_took_in_and_did_not_answer(crashed: Ran) -> None:
    rerun = crashed.results[1]
    assert rerun.code == 0, rerun.out + rerun.err
    assert "Traceback" not in rerun.err
    open_ones = [es for es in mailed(log_entries(crashed.root)) if statuses(es)[-1] == "handover"]
    received = {r.keys for r in crashed.extra["received"]}
    answered = {r.keys for r in crashed.extra["answered"]}
    assert {tuple(es[0]["keys"]) for es in open_ones} == received - answered
    assert len(open_ones) == 1
    assert "Needs a person: 1 earlier message with unknown outcome" in rerun.out, rerun.out


def test_the_rerun_sends_what_was_never_handed_over_once_and_nothing_twice(crashed: Ran) -> None:
    assert crashed.smtp is not None
    everything = crashed.smtp.received + crashed.smtp.dropped
    assert Counter(r.message_id for r in everything).most_common(1)[0][1] == 1
    keys = Counter(k for r in everything for k in r.keys)
    assert set(keys.values()) == {1}
    # all 8 e-mails of the day reached the server: 3 before the kill, 5 after
    assert len(everything) == 8
    rerun_lines = crashed.results[1].out.splitlines()
    assert re.match(r"2026-11-23 sent \d+ \(email 5\b", rerun_lines[0]), rerun_lines[0]
    # the day's letter (its PDF printed by a process that may still be starting at the kill)
    # is written by one run or the other, once
    letters = [e for e in log_entries(crashed.root) if e.get("channel") == "letter"]
    assert [e["status"] for e in letters if e["status"] == "sent"] == ["sent"]


def test_every_email_is_accounted_for_in_the_log(crashed: Ran) -> None:
    """Each claim ends sent, or handed over with no answer (for a person), or was cancelled:
    never a claim alone, which would read as due forever or blocked forever."""
    deliveries = mailed(log_entries(crashed.root))
    runs = Counter(es[0]["run"] for es in deliveries)
    assert len(runs) == 2
    for es in deliveries:
        assert statuses(es) in (
            ["pending", "handover", "sent"],
            ["pending", "handover"],  # the unanswered one
            ["pending"],  # the killed run's claims it never handed over; the rerun sent them
        ), statuses(es)
    unclaimed_keys = [tuple(es[0]["keys"]) for es in deliveries if statuses(es) == ["pending"]]
    resent = [tuple(es[0]["keys"]) for es in deliveries if statuses(es)[-1] == "sent"]
    assert len(unclaimed_keys) == 5 and set(unclaimed_keys) <= set(resent)


def test_the_log_survives_a_torn_line(crashed: Ran) -> None:
    rerun = crashed.results[1]
    assert "not a complete JSON line" in rerun.err
    lines = (crashed.root / "log" / "2026" / "11.jsonl").read_text(encoding="utf-8").splitlines()
    torn = [line for line in lines if "torn-by-the-kill" in line]
    assert len(torn) == 1
    for line in lines:
        if line.strip() and line != torn[0]:
            json.loads(line)  # every other line is whole
    assert_no_secrets(
        crashed.root, *(r.out for r in crashed.results), *(r.err for r in crashed.results)
    )


# -- SMS: the rerun asks Twilio ---------------------------------------------------------------


@pytest.fixture(scope="module")
def texted(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    root = copy_sample(tmp_path_factory.mktemp("crash-sms"))
    with TwilioPeer() as twilio:
        configure(root, email=None, sms=sms_settings(twilio))  # e-mail to the outbox
        twilio.hold = {THAMES}  # created, answer held back
        twilio.lose = {PARSIAN}  # read, never created
        process = start_nudge(root, TODAY, live_env(), "--transport", "live")
        try:
            deadline = time.monotonic() + 60
            while len(twilio.posts()) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(twilio.posts()) == 2, "the two text messages never reached Twilio"
            os.kill(process.pid, signal.SIGKILL)
        finally:
            out, err = process.communicate(timeout=30)
        killed = Result(process.returncode, out, err)
        after_kill = log_entries(root)
        twilio.release.set()
        twilio.hold, twilio.lose = set(), set()
        # judged at once: this Twilio never finishes a lost request later
        env = {**live_env(), "NUDGE_SETTLE_AFTER_SECONDS": "0"}
        rerun = nudge(
            "run", "--today", TODAY, "--root", str(root), "--transport", "live", env=env, timeout=90
        )
    return Ran(root, [killed, rerun], twilio=twilio, extra={"after_kill": after_kill})


def texts(entries: list[dict]) -> dict[str, list[dict]]:
    return {es[0]["to"][0]: es for es in by_delivery(entries).values() if es[0]["channel"] == "sms"}


def test_both_text_messages_were_in_flight_at_the_kill(texted: Ran) -> None:
    assert texted.results[0].code == -signal.SIGKILL
    at_kill = texts(texted.extra["after_kill"])
    assert {n: statuses(es) for n, es in at_kill.items()} == {
        PARSIAN: ["pending", "handover"],
        THAMES: ["pending", "handover"],
    }
    assert texted.twilio is not None
    assert [m["to"] for m in texted.twilio.created[:1]] == [THAMES]


def test_the_rerun_settles_both_from_twilios_list_and_sends_each_once(texted: Ran) -> None:
    rerun = texted.results[1]
    assert rerun.code == 0, rerun.out + rerun.err
    assert texted.twilio is not None
    assert Counter(m["to"] for m in texted.twilio.created) == {THAMES: 1, PARSIAN: 1}
    first = {n: es[0]["delivery"] for n, es in texts(texted.extra["after_kill"]).items()}
    entries = log_entries(texted.root)
    after = {n: [e for e in entries if e.get("delivery") == d] for n, d in first.items()}
    thames = [e for e in after[THAMES] if e["status"] == "reconciled"]
    assert len(thames) == 1 and thames[0]["sent"] is True
    assert thames[0]["provider_id"] == texted.twilio.created[0]["sid"]
    assert "with this text" in thames[0]["evidence"] and THAMES in thames[0]["evidence"]
    parsian = [e for e in after[PARSIAN] if e["status"] == "reconciled"]
    assert len(parsian) == 1 and parsian[0]["sent"] is False
    assert "no message to" in parsian[0]["evidence"]
    # not sent, so due again: the rerun sent it, in a delivery of its own
    resent = [
        es
        for es in by_delivery(log_entries(texted.root)).values()
        if es[0]["channel"] == "sms" and es[0]["run"] != after[PARSIAN][0]["run"]
    ]
    assert [statuses(es) for es in resent] == [["pending", "handover", "sent"]]
    assert outcome(resent[0])["provider_id"] == texted.twilio.created[1]["sid"]
    assert "Settled from the provider's records: 1 sent, 1 not sent (due again)" in rerun.out
    assert "Needs a person" not in rerun.out


def test_every_twilio_request_conforms_to_the_spec(texted: Ran) -> None:
    assert texted.twilio is not None
    lists = texted.twilio.lists()
    assert {dict(r.query)["To"] for r in lists} == {THAMES, PARSIAN}
    for request in [*texted.twilio.requests, *lists]:
        assert texted.twilio.spec.problems(request) == [], request
