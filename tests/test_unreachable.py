"""Providers that cannot be reached: the run ends by its deadline, or stops trying a channel
after a few failed connections; nothing is marked unknown; the next run sends everything once.

Before: a server that never answered cost messages x attempts x timeout (36 minutes with the
sample's e-mails at the default 30 s), and the workflow's 30-minute limit killed the run
mid-batch.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from conftest import Result, copy_sample, nudge
from peers import (
    Certs,
    Ran,
    Scenarios,
    SilentPeer,
    SmtpPeer,
    TwilioPeer,
    by_delivery,
    closed_port,
    configure,
    email_settings,
    live_env,
    log_entries,
    sms_settings,
    statuses,
)

TODAY = "2026-11-23"
DEADLINE_MINUTES = 0.5  # thirty seconds: loading and deciding come first, and count
MAILED = ("email", "task")

scenario = Scenarios()


def run_live(root: Path, env: dict[str, str]) -> tuple[Result, float]:
    started = time.monotonic()
    result = nudge(
        "run", "--today", TODAY, "--root", str(root), "--transport", "live", env=env, timeout=120
    )
    return result, time.monotonic() - started


def set_deadline(root: Path, minutes: float) -> None:
    with (root / "settings.yaml").open("a", encoding="utf-8") as settings:
        settings.write(f"\nrun:\n  deadline_minutes: {minutes}\n")


@scenario
def silent(folder: Path, certs: Certs) -> Ran:
    """An SMTP server that takes connections and never greets, waited for 60 s a connection;
    the run's deadline is thirty seconds. Then the server is fixed and the run repeated."""
    root = copy_sample(folder)
    set_deadline(root, DEADLINE_MINUTES)
    with SilentPeer() as peer:
        configure(root, email=email_settings(peer, timeout=60), sms=None)
        first, took = run_live(root, live_env(certs))
        at_deadline = log_entries(root)
    with SmtpPeer(certs) as smtp:
        configure(root, email=email_settings(smtp), sms=None)
        second, _ = run_live(root, live_env(certs))
    return Ran(root, [first, second], smtp, extra={"took": took, "at_deadline": at_deadline})


@scenario
def refused(folder: Path, certs: Certs) -> Ran:
    """An SMTP server that hangs up on every connection, and nothing listening where SMS go
    (refused at once): each channel is left after three attempts in a row. Then both providers
    are there and the run repeated."""
    root = copy_sample(folder)
    nowhere = f"http://127.0.0.1:{closed_port()}"
    with SilentPeer(hang_up=True) as going_down:
        configure(
            root,
            email={"host": "127.0.0.1", "port": going_down.port, "security": "starttls"},
            sms={"from": "+4570123456", "api_base": nowhere},
        )
        first, took = run_live(root, live_env(certs))
        connections = len(going_down.accepted)
    at_stop = log_entries(root)
    with SmtpPeer(certs) as smtp, TwilioPeer() as twilio:
        configure(root, email=email_settings(smtp), sms=sms_settings(twilio))
        second, _ = run_live(root, live_env(certs))
    extra = {"took": took, "at_stop": at_stop, "connections": connections}
    return Ran(root, [first, second], smtp, twilio, extra=extra)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[Ran]]]:
    yield from scenario.started(tmp_path_factory)


def mailed(entries: list[dict]) -> list[list[dict]]:
    return [es for es in by_delivery(entries).values() if es[0]["channel"] in MAILED]


def test_a_server_that_never_answers_ends_the_run_at_its_deadline(
    runs: dict[str, Future[Ran]],
) -> None:
    ran = runs["silent"].result()
    first = ran.results[0]
    assert first.code == 1, first.out + first.err
    assert "Traceback" not in first.err
    # the deadline counts from the start of `nudge run`; add starting Python
    assert ran.extra["took"] < DEADLINE_MINUTES * 60 + 5, ran.extra["took"]
    print(f"never-answering server, deadline 30 s: the run took {ran.extra['took']:.1f} s")
    emails = len(mailed(ran.extra["at_deadline"]))
    assert first.err.strip().splitlines()[-1] == (
        "nudge: the run's deadline (0.5 minutes, settings.yaml run.deadline_minutes) passed: "
        f"{emails} messages not handed over, due again"
    )
    assert f"deferred {emails}" in first.out.splitlines()[0]


def test_nothing_is_unknown_after_the_deadline(runs: dict[str, Future[Ran]]) -> None:
    ran = runs["silent"].result()
    deliveries = mailed(ran.extra["at_deadline"])
    assert len(deliveries) == 8  # the e-mails and tasks of the day (one per customer)
    assert {tuple(statuses(es)) for es in deliveries} == {("pending", "cancelled")}
    assert all("not handed over" in es[1]["reason"] for es in deliveries)


def test_the_next_run_sends_everything_once(runs: dict[str, Future[Ran]]) -> None:
    ran = runs["silent"].result()
    second = ran.results[1]
    assert second.code == 0, second.out + second.err
    assert ran.smtp is not None
    assert len(ran.smtp.received) == 8
    assert set(Counter(k for r in ran.smtp.received for k in r.keys).values()) == {1}
    assert "Needs a person" not in second.out


def test_refused_connections_open_the_circuit_for_each_channel(
    runs: dict[str, Future[Ran]],
) -> None:
    ran = runs["refused"].result()
    first = ran.results[0]
    assert first.code == 1, first.out + first.err
    assert "Traceback" not in first.err
    # 8 e-mails x 4 attempts without the circuit; with it, the first connection alone, then
    # at most a pool's worth (8) in flight when the third failure opens it
    connections = ran.extra["connections"]
    assert connections <= 1 + 8, connections
    print(f"a server hanging up: {connections} connections, the run took {ran.extra['took']:.1f} s")
    sentences = [line for line in first.err.splitlines() if line.startswith("nudge: ")]
    assert len(sentences) == 2, first.err
    email, sms = sorted(sentences)
    assert email.startswith("nudge: email: 3 attempts in a row could not reach the provider")
    assert sms.startswith("nudge: sms: 3 attempts in a row could not reach the provider")
    assert email.endswith("not tried again this run: 8 messages not handed over, due again")
    assert sms.endswith("not tried again this run: 2 messages not handed over, due again")


def test_after_the_circuit_nothing_is_unknown_and_the_next_run_sends_all(
    runs: dict[str, Future[Ran]],
) -> None:
    ran = runs["refused"].result()
    claimed = by_delivery(ran.extra["at_stop"])
    live = [es for es in claimed.values() if es[0]["channel"] in ("email", "task", "sms")]
    assert len(live) == 10  # 8 e-mails and tasks (one per customer), 2 text messages
    for es in live:
        assert statuses(es)[-1] in ("cancelled", "failed"), statuses(es)
        assert all(e.get("permanent") is not True for e in es)
    second = ran.results[1]
    assert second.code == 0, second.out + second.err
    assert ran.smtp is not None and ran.twilio is not None
    assert len(ran.smtp.received) == 8 and len(ran.twilio.created) == 2
