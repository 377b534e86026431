"""The batch in process, against a real SMTP server: what the log says when a message cannot
even be written, and when the run's deadline comes while messages wait for a connection."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date
from pathlib import Path

import pytest
from jinja2 import FileSystemLoader

from runner import repository
from runner.channels.smtp import Smtp
from runner.compose import compose
from runner.deliver import Batch, Deadline, Job, RetryPolicy
from runner.model import Contact, EmailSettings
from runner.schedule import noon, plan
from runner.sendlog import Writer, index, read
from runner.templates import Renderer

from conftest import copy_sample
from peers import SilentPeer, SmtpPeer

TODAY = date(2026, 11, 23)


def jobs_of(root: Path) -> tuple[repository.Loaded, list[Job]]:
    loaded = repository.load(root)
    repo = loaded.repo
    today = plan(repo, index([]), noon(TODAY, repo.settings.defaults.timezone))
    renderer = Renderer(FileSystemLoader(str(root / "templates")))
    mailed = [d for d in today.deliveries if d.channel == "email" and d.to]
    return loaded, [Job(d, compose(repo, d, renderer, root)) for d in mailed]


def batch(root: Path, smtp: Smtp, minutes: float = 5) -> Batch:
    return Batch(
        Writer(root, TODAY),
        {"email": smtp, "task": smtp},
        "test-run",
        None,
        False,
        RetryPolicy(base_seconds=0.01),
        deadline=Deadline(minutes),
        mail_domain="nordlys.example",
    )


def test_a_message_refused_before_any_byte_left_is_failed_not_unknown(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "repo")
    loaded, jobs = jobs_of(root)
    first = jobs[0]
    assert first.message is not None
    # a contact name with a line break in it (validation refuses one; here it got past)
    injected = Contact("Eve\r\nBcc: everyone@example.com", "billing", "eve@example.com")
    first.message = dataclasses.replace(first.message, to=(injected,))
    with SmtpPeer(None, require_auth=False) as peer:
        settings = EmailSettings("127.0.0.1", peer.port, security="none", auth="none")
        sending = batch(root, Smtp("email", loaded.repo, settings, None, None))
        sending.record_pending([first])
        asyncio.run(sending.send_all([first]))
    assert peer.received == [] and b"everyone@example.com" not in b"".join(
        d for _, _, d in peer.wire
    )
    entries = [e.raw for e in read(root).entries]
    assert [e["status"] for e in entries] == ["pending", "failed"]
    assert entries[1]["permanent"] is False and "HeaderInjection" in entries[1]["reason"]
    assert index(read(root).entries).unknown == []


def test_at_the_deadline_messages_waiting_for_a_connection_are_not_handed_over(
    tmp_path: Path,
) -> None:
    root = copy_sample(tmp_path / "repo")
    loaded, jobs = jobs_of(root)
    with SilentPeer() as peer:
        settings = EmailSettings(
            "127.0.0.1", peer.port, security="none", auth="none", timeout=30, max_connections=2
        )
        sending = batch(root, Smtp("email", loaded.repo, settings, None, None), minutes=0.02)
        sending.record_pending(jobs)
        asyncio.run(sending.send_all(jobs))
    assert sending.stopped.startswith("the run's deadline (0.02 minutes")
    log = index(read(root).entries)
    assert log.unknown == [] and log.claims == [] and log.keys == {}
    assert {j.outcome.status for j in jobs if j.outcome} == {"deferred"}


def test_a_relay_that_allows_fewer_connections_gets_each_message_once_none_failed(
    tmp_path: Path,
) -> None:
    """max_connections above what the relay allows: the connections it turns away ("421 Too
    many connections") leave their messages waiting for one of those open, not failed or
    retried; no more than the relay allows are opened again, and the run says what it found."""
    root = copy_sample(tmp_path / "repo")
    loaded, jobs = jobs_of(root)
    assert len(jobs) >= 3
    with SmtpPeer(None, require_auth=False) as peer:
        peer.max_sessions = 2
        peer.delay = 0.05  # every connection busy at once
        settings = EmailSettings(
            "127.0.0.1", peer.port, security="none", auth="none", max_connections=len(jobs)
        )
        smtp = Smtp("email", loaded.repo, settings, None, None)
        sending = batch(root, smtp)
        sending.record_pending(jobs)
        asyncio.run(sending.send_all(jobs))
    assert [j.outcome.status if j.outcome else None for j in jobs] == ["sent"] * len(jobs)
    assert sorted(r.keys for r in peer.received) == sorted(  # each message once
        tuple(j.delivery.keys) for j in jobs
    )
    assert peer.most_open == 2 and 1 <= peer.turned_away <= len(jobs) - 2  # not per message
    assert sending.circuits == {} and sending.stopped == ""
    entries = [e.raw for e in read(root).entries]
    assert not [e for e in entries if e["status"] == "failed"]
    assert smtp.notes == [
        f"e-mail: 127.0.0.1:{peer.port} allows 2 connections at once (421 4.4.5 Too many "
        "connections from your host); messages waited for a free one instead "
        f"(email.max_connections: {len(jobs)})"
    ]


@pytest.mark.parametrize("disk", ["quick", "slow"])
def test_every_message_is_sent_once_after_its_hand_over_is_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, disk: str
) -> None:
    """The log's writes are done on the event loop while the disk is quick, and in a thread
    once one write took longer than deliver.INLINE_WRITE_SECONDS: either way each message goes
    once, and its hand-over is in the log before the server has its data."""
    import threading

    from runner import deliver

    monkeypatch.setattr(deliver, "INLINE_WRITE_SECONDS", 60.0 if disk == "quick" else -1.0)
    root = copy_sample(tmp_path / "repo")
    loaded, jobs = jobs_of(root)
    assert len(jobs) >= 3
    writers: set[str] = set()
    received_then: list[int] = []  # messages the server had as each hand-over was written
    with SmtpPeer(None, require_auth=False) as peer:
        settings = EmailSettings("127.0.0.1", peer.port, security="none", auth="none")
        sending = batch(root, Smtp("email", loaded.repo, settings, None, None))
        append = sending.writer.append_many

        def watched(raws: list[dict[str, object]]) -> None:
            writers.add(
                "loop" if threading.current_thread() is threading.main_thread() else "thread"
            )
            for raw in raws:
                if raw["status"] == "handover":
                    received_then.append(len(peer.received))
            append(raws)

        monkeypatch.setattr(sending.writer, "append_many", watched)
        sending.record_pending(jobs)
        asyncio.run(sending.send_all(jobs))
        received = len(peer.received)
    assert {j.outcome.status for j in jobs if j.outcome} == {"sent"}
    assert received == len(jobs)
    assert writers == ({"loop"} if disk == "quick" else {"loop", "thread"})
    # the k-th hand-over was on disk before the server had a k-th message
    assert len(received_then) == len(jobs)
    assert all(had < k for k, had in enumerate(received_then, start=1))
    entries = read(root).entries
    assert index(entries).unknown == []
    sent = [e.raw["delivery"] for e in entries if e.raw["status"] == "sent"]
    assert len(sent) == len(set(sent)) == len(jobs)


def test_an_outcome_goes_down_with_the_next_hand_over_and_before_that_message_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One connection, so messages go one after the other: each message's `sent` is written
    with the next one's hand-over (one fsync for both, ahead of it in the file), so the log is
    written once per message, not twice, and says a message was sent before the next leaves;
    the last outcome is written alone, after deliver.OUTCOME_WAIT_SECONDS at most."""
    root = copy_sample(tmp_path / "repo")
    loaded, jobs = jobs_of(root)
    assert len(jobs) >= 3
    writes: list[list[str]] = []
    received_then: list[int] = []  # messages the server had as each write was made
    with SmtpPeer(None, require_auth=False) as peer:
        settings = EmailSettings(
            "127.0.0.1", peer.port, security="none", auth="none", max_connections=1
        )
        sending = batch(root, Smtp("email", loaded.repo, settings, None, None))
        append = sending.writer.append_many

        def watched(raws: list[dict[str, object]]) -> None:
            writes.append([str(raw["status"]) for raw in raws])
            received_then.append(len(peer.received))
            append(raws)

        monkeypatch.setattr(sending.writer, "append_many", watched)
        sending.record_pending(jobs)
        asyncio.run(sending.send_all(jobs))
    n = len(jobs)
    assert writes == [
        ["pending"] * n,
        ["handover"],
        *[["sent", "handover"]] * (n - 1),
        ["sent"],
    ]
    assert received_then == [0, *range(n), n]  # each hand-over before the server has its message
    entries = [e.raw for e in read(root).entries]
    order = [(e["status"], e["delivery"]) for e in entries if e["status"] != "pending"]
    assert order == [(status, job.delivery_id) for job in jobs for status in ("handover", "sent")]
