"""The batch in process, against a real SMTP server: what the log says when a message cannot
even be written, and when the run's deadline comes while messages wait for a connection."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date
from pathlib import Path

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
