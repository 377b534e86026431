"""A run killed with SIGKILL in the middle of a batch: the rerun sends nothing twice.

The SMTP server is slow (0.5 s per message) so that the kill lands while messages are in
flight: some answered and logged `sent`, some taken in by the server but never confirmed, some
never tried. The rerun (server now fast) must not send any of them a second time, must say which
ones need a person, and must read a log whose last line may have been torn by the kill.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections import Counter

import pytest

from conftest import Result, copy_sample, nudge
from peers import (
    Ran,
    Received,
    SmtpPeer,
    assert_no_secrets,
    by_delivery,
    configure,
    email_settings,
    live_env,
    log_entries,
    make_certs,
    start_nudge,
)

TODAY = "2026-11-23"


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
        # `sent`, one taken in by the server but unanswered, and the rest never tried
        configure(root, email=email_settings(smtp, max_connections=1), sms=None)
        process = start_nudge(root, TODAY, env, "--transport", "live")
        try:
            assert third.wait(timeout=60), "the server never got 3 messages"
            os.kill(process.pid, signal.SIGKILL)
        finally:
            out, err = process.communicate(timeout=30)
        killed = Result(process.returncode, out, err)
        first_run = list(smtp.received)
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
        root, [killed, rerun], smtp, extra={"first_run": first_run, "after_kill": after_kill}
    )


def test_the_kill_landed_mid_batch(crashed: Ran) -> None:
    killed = crashed.results[0]
    assert killed.code == -signal.SIGKILL
    pending = [
        e
        for e in crashed.extra["after_kill"]
        if e["status"] == "pending" and e["channel"] in ("email", "task")
    ]
    assert len(pending) == 8  # every e-mail was logged before the first went out
    sent = [
        e
        for e in crashed.extra["after_kill"]
        if e["status"] == "sent" and e["channel"] in ("email", "task")
    ]
    assert 1 <= len(sent) < 8 and len(crashed.extra["first_run"]) >= 3
    # the one the server took in when the kill came has no outcome in the log
    sent_keys = {tuple(e["keys"]) for e in sent}
    assert any(r.keys not in sent_keys for r in crashed.extra["first_run"])


def test_the_rerun_sends_nothing_twice(crashed: Ran) -> None:
    assert crashed.smtp is not None
    everything = crashed.smtp.received + crashed.smtp.dropped
    assert Counter(r.message_id for r in everything).most_common(1)[0][1] == 1
    keys = Counter(k for r in everything for k in r.keys)
    assert keys and set(keys.values()) == {1}
    # what the server had from the killed run, whatever the log says, was not sent again
    first = {r.message_id for r in crashed.extra["first_run"]}
    assert not first & {r.message_id for r in everything[len(crashed.extra["first_run"]) :]}


def test_the_rerun_reports_the_unknown_ones(crashed: Ran) -> None:
    rerun = crashed.results[1]
    assert rerun.code in (0, 1), rerun.out + rerun.err
    assert "Traceback" not in rerun.err
    deliveries = by_delivery(log_entries(crashed.root))
    open_ones = [es for es in deliveries.values() if [e["status"] for e in es] == ["pending"]]
    assert open_ones  # the kill left messages without an outcome
    assert (
        f"Needs a person: {len(open_ones)} earlier message(s) with unknown outcome" in rerun.out
    ), rerun.out
    # every message the server took in during the killed run is either logged sent or open
    assert crashed.smtp is not None
    sent_keys = {
        tuple(e["keys"]) for es in deliveries.values() for e in es if e["status"] == "sent"
    }
    open_keys = {tuple(es[0]["keys"]) for es in open_ones}
    for got in crashed.extra["first_run"]:
        assert got.keys in sent_keys | open_keys


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


def test_nothing_was_lost(crashed: Ran) -> None:
    """Every e-mail of the day is accounted for in the log: sent, or open for a person."""
    deliveries = [
        es
        for es in by_delivery(log_entries(crashed.root)).values()
        if es[0]["channel"] in ("email", "task")
    ]
    assert len(deliveries) == 8
    for es in deliveries:
        statuses = [e["status"] for e in es]
        assert statuses[0] == "pending"
        assert statuses in (["pending"], ["pending", "sent"]), statuses
