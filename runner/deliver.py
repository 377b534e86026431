"""Sending a batch: claims first, then each message handed over and sent with bounded retries,
then its outcome.

The log gets, per delivery: `pending` (the claim: written for every message before any is
sent), `handover` (on disk just before the message goes to the provider), then the outcome. A
run that dies leaves claims it never handed over, which the next run sends (runner.claims), and,
for the messages in flight, hand-overs without an outcome: `unknown`, never re-sent by
themselves, so a customer never gets the same reminder twice.

Two things stop a batch early, each leaving what was not handed over due for the next run (a
`cancelled` entry after its claim): the run's deadline, after which nothing more is handed over
(messages already handed over get their channel's own timeout to finish); and an open circuit:
after CIRCUIT_AFTER attempts in a row that could not reach a channel's provider at all, that
channel is not tried again this run.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from runner import claims
from runner.channels import Channel, Outcome
from runner.compose import Outgoing, message_id
from runner.schedule import Delivery
from runner.sendlog import Writer, hashed, new_id

# A log write (one append and fsync) quicker than this is done on the event loop itself: handed
# to a thread, it waits for the interpreter lock as long as the loop is busy (up to 5 ms at a
# time), and every message waits for its hand-over to be on disk (1,000 e-mails over 8
# connections: a median 9 ms per hand-over in a thread). A slower disk keeps the thread, so
# the connections go on while it syncs, and is tried on the loop again after a while.
INLINE_WRITE_SECONDS = 0.002
THREAD_WRITES = 50  # writes in a thread after a slow one, before the loop tries again
# A message's outcome is not what keeps it from going twice (its hand-over is, on disk before
# it went), and no connection waits for it: it goes down with the next write (the next
# message's hand-over, a few ms later), or alone after this long. A crash in between leaves the
# message `unknown`, as one between the provider's answer and the outcome's write always did.
# Half the log's writes, each of which holds up every connection while it syncs (1,000 e-mails
# over 8 connections: 1,540 -> about 1,000 fsyncs).
OUTCOME_WAIT_SECONDS = 0.05
CIRCUIT_AFTER = 3  # attempts in a row that cannot reach a provider before its channel is left
DEADLINE_MINUTES = 20.0  # the default; settings.yaml run.deadline_minutes


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_seconds: float = 1.0
    max_seconds: float = 60.0

    def delay(self, attempt: int, asked: float | None) -> float:
        if asked is not None:
            return min(asked, self.max_seconds)
        backoff = self.base_seconds * 2 ** (attempt - 1)
        return min(backoff * random.uniform(0.5, 1.5), self.max_seconds)


@dataclass
class Job:
    """One delivery through the batch: its message (or why there is none) and what happened."""

    delivery: Delivery
    message: Outgoing | None
    error: str = ""
    delivery_id: str = ""
    outcome: Outcome | None = None
    attempts: int = 0
    pending: bool = False  # its claim (`pending`) is written
    handing: bool = False  # its hand-over is being written: from here on it is never cancelled
    handed: bool = False  # its hand-over is on disk: the provider may have the message
    finishing: bool = False  # its outcome is decided and being written: never cancelled


class Deadline:
    """When a run stops handing messages over: `minutes` after it was made."""

    def __init__(self, minutes: float = DEADLINE_MINUTES, started: float | None = None) -> None:
        self.minutes = minutes
        begun = time.monotonic() if started is None else started  # time.monotonic() then
        self._end = begun + minutes * 60
        # what claims say (wall clock: other machines read it)
        self.until = datetime.now(UTC) + timedelta(seconds=self._end - time.monotonic())

    def left(self) -> float:
        return self._end - time.monotonic()

    def passed(self) -> bool:
        return self.left() <= 0

    def reason(self) -> str:
        return (
            f"the run's deadline ({self.minutes:g} minutes, settings.yaml run.deadline_minutes) "
            "passed"
        )


def now_stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Batch:
    def __init__(
        self,
        writer: Writer,
        channels: dict[str, Channel],
        run_id: str,
        commit: str | None,
        hash_recipients: bool,
        retry: RetryPolicy,
        progress: Callable[[int, int], None] | None = None,
        deadline: Deadline | None = None,
        mail_domain: str = "invalid",
        dirty: bool = False,
    ) -> None:
        self.writer = writer
        self.channels = channels
        self.run_id = run_id
        self.commit = commit
        self.dirty = dirty  # the run read files with uncommitted changes: `commit` is not all
        self.hash_recipients = hash_recipients
        self.retry = retry
        self.progress = progress
        self.deadline = deadline or Deadline()
        self.mail_domain = mail_domain  # of the deterministic Message-ID
        self.finished = 0
        self.stopped = ""  # why nothing more is handed over (the deadline passed)
        self.circuits: dict[int, str] = {}  # id(channel) -> why it is not tried any more
        self._failures: dict[int, int] = {}  # id(channel) -> unreachable attempts in a row
        self._running: list[tuple[Job, asyncio.Task[None]]] = []
        self._waiting: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._later: asyncio.TimerHandle | None = None  # the write of outcomes left waiting
        self._in_thread = 0  # writes still to be done in a thread (INLINE_WRITE_SECONDS)

    def base(self, job: Job) -> dict[str, Any]:
        d = job.delivery
        who: Callable[[str], str] = hashed if self.hash_recipients else (lambda a: a)
        return {
            "delivery": job.delivery_id,
            "date": d.date.isoformat(),
            "keys": list(d.keys),
            "customer": d.customer,
            "invoices": list(d.invoices),
            "step": d.step,
            "policy": d.policy,
            "channel": d.channel,
            "to": [who(a) for a in d.to],
            "cc": [who(a) for a in d.cc],
            "template": d.template,
            "locale": d.locale,
            "commit": self.commit,
            **({"dirty": True} if self.dirty else {}),
            "run": self.run_id,
        }

    def identity(self, job: Job) -> dict[str, str]:
        """What lets a provider's own records be matched to this message later (runner.reconcile):
        the text's hash for an SMS, the Message-ID for an e-mail."""
        if job.message is None:
            return {}
        if job.delivery.channel == "sms":
            text = job.message.text.strip().encode("utf-8")
            return {"body_sha256": hashlib.sha256(text).hexdigest()}
        if job.delivery.channel in ("email", "task"):
            return {"message_id": message_id(job.delivery, self.mail_domain)}
        return {}

    def record_pending(self, jobs: list[Job]) -> None:
        """Write the claims of all jobs now (one fsync): what `--push` publishes first."""
        claimed = [raw for job in jobs if (raw := self._pending(job)) is not None]
        if claimed:
            self.writer.append_many(claimed)

    def _pending(self, job: Job) -> dict[str, Any] | None:
        """The claim a job still needs, marked as written (the caller writes it)."""
        if not job.delivery_id:
            job.delivery_id = new_id()
        if job.message is None or job.pending:
            return None
        job.pending = True
        return {
            **self.base(job),
            "status": "pending",
            "at": now_stamp(),
            "subject": job.message.subject,
            **claims.stamp(self.deadline.until),
        }

    async def _commit(self, entries: list[dict[str, Any]], outcome: bool = False) -> None:
        """Write entries to the log; returns once they are on disk. Entries that arrive while a
        write is under way go down together in the next one (a group commit: one fsync for
        many messages, so the log keeps up with many connections). An `outcome` waits for the
        next write, at most OUTCOME_WAIT_SECONDS."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((entries, done))
        if not outcome:
            self._write_now()
        elif self._later is None:
            self._later = loop.call_later(OUTCOME_WAIT_SECONDS, self._write_now)
        await done

    def _write_now(self) -> None:
        if self._later is not None:
            self._later.cancel()
            self._later = None
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            entries = [e for es, _ in batch for e in es]
            try:
                if self._in_thread:
                    self._in_thread -= 1
                    await asyncio.to_thread(self.writer.append_many, entries)
                else:
                    start = time.perf_counter()
                    self.writer.append_many(entries)
                    if time.perf_counter() - start > INLINE_WRITE_SECONDS:
                        self._in_thread = THREAD_WRITES
            except asyncio.CancelledError:
                for _, done in batch:
                    done.cancel()
                raise
            except Exception as exc:  # each waiting message fails as its own write would
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in batch:
                if not done.done():  # a waiter cancelled meanwhile: its lines are written
                    done.set_result(None)

    # -- sending ----------------------------------------------------------------------------------

    async def send_all(self, jobs: list[Job]) -> None:
        for channel in {self.channels[j.delivery.channel] for j in jobs if j.message}:
            await channel.open()
        self._running = [(job, asyncio.create_task(self._one(job, len(jobs)))) for job in jobs]
        watch = asyncio.create_task(self._watch_deadline())
        try:
            await asyncio.gather(*(task for _, task in self._running))
        finally:
            watch.cancel()
            for channel in self.channels.values():
                await channel.close()

    async def _watch_deadline(self) -> None:
        await asyncio.sleep(max(self.deadline.left(), 0))
        self._stop(None, self.deadline.reason())

    def _stop(self, channel: Channel | None, reason: str) -> None:
        """Hand nothing more over (on `channel`, or at all): jobs not yet handing over theirs are
        cancelled where they wait (a connection, a retry's pause) and recorded not handed over."""
        if channel is None:
            self.stopped = self.stopped or reason
        else:
            self.circuits.setdefault(id(channel), reason)
        me = asyncio.current_task()
        for job, task in self._running:
            if task.done() or task is me or job.handing or job.finishing:
                continue
            if channel is None or self.channels[job.delivery.channel] is channel:
                task.cancel()

    def why_stopped(self, channel: Channel) -> str:
        return self.stopped or self.circuits.get(id(channel), "")

    async def _handover(self, job: Job, channel: Channel) -> bool:
        """Log that the message goes to the provider now (on disk before it does); False when
        nothing more may be handed over."""
        if job.handed:
            return True
        if self.why_stopped(channel):
            return False
        if self.deadline.passed():
            self.stopped = self.stopped or self.deadline.reason()
            return False
        job.handing = True
        entry = {**self.base(job), "status": "handover", "at": now_stamp(), **self.identity(job)}
        await self._commit([entry])
        job.handed = True
        return True

    async def _one(self, job: Job, total: int) -> None:
        channel = self.channels[job.delivery.channel]
        try:
            claim = self._pending(job)
            if claim is not None:
                await self._commit([claim])  # on disk before the hand-over
            if job.message is None:
                outcome = Outcome("failed", reason=job.error)
            else:
                outcome = await self._attempts(job, job.message, channel)
        except asyncio.CancelledError:
            if job.handing:
                raise  # never cancelled from here on (see _stop): a bug, not a deadline
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            outcome = Outcome("deferred")
        if outcome.status == "deferred":
            why = self.why_stopped(channel) or outcome.reason or "the run stopped"
            outcome = replace(outcome, reason=why)
        if outcome.status in ("retry", "deferred") and outcome.provider_id:
            # some recipients have it (an SMS to two numbers): sent, or a rerun would repeat it
            outcome = Outcome(
                "sent",
                provider_id=outcome.provider_id,
                refused=(outcome.reason,),
                reason=f"not to every recipient: {outcome.reason}",
                opted_out=outcome.opted_out,
            )
        job.outcome = outcome
        job.finishing = True
        await self._commit(self._outcome_entries(job, outcome), outcome=True)
        self._tick(total)

    async def _attempts(self, job: Job, message: Outgoing, channel: Channel) -> Outcome:
        outcome = Outcome("retry")
        while outcome.status == "retry" and job.attempts < self.retry.attempts:
            if job.attempts:
                if getattr(channel, "broken", None):
                    break  # the channel cannot send at all this run (credentials, no TLS)
                await asyncio.sleep(self.retry.delay(job.attempts, outcome.retry_after))
            if self.why_stopped(channel):
                return Outcome("deferred")
            job.attempts += 1
            try:
                outcome = await channel.send(message, lambda: self._handover(job, channel))
            except Exception as exc:  # a bug or an unforeseen library error
                outcome = _unexpected(exc, job.handed)
            self._count(channel, outcome)
        return outcome

    def _count(self, channel: Channel, outcome: Outcome) -> None:
        """The circuit: enough attempts in a row that cannot reach the provider, and the channel
        is left alone for the rest of the run (each would wait for its timeout)."""
        key = id(channel)
        if outcome.unreachable:
            self._failures[key] = self._failures.get(key, 0) + 1
            if self._failures[key] >= CIRCUIT_AFTER and key not in self.circuits:
                self._stop(
                    channel,
                    f"{channel.name}: {self._failures[key]} attempts in a row could not reach "
                    f"the provider ({outcome.reason}); not tried again this run",
                )
        elif outcome.status in ("sent", "failed", "unknown"):
            self._failures[key] = 0

    def _outcome_entries(self, job: Job, outcome: Outcome) -> list[dict[str, Any]]:
        entry = {**self.base(job), "at": now_stamp(), "attempts": job.attempts}
        reason = self._private(job, outcome.reason)
        if outcome.status == "sent":
            entry.update(status="sent", provider_id=outcome.provider_id, **self.identity(job))
            if outcome.refused:
                entry["refused"] = [self._private(job, r) for r in outcome.refused]
        elif outcome.status == "retry":  # gave up: certainly not sent, may be tried next run
            entry.update(status="failed", reason=reason, permanent=False)
        elif outcome.status == "deferred":  # never handed over: due again
            entry.update(status="cancelled", reason=f"not handed over: {reason}; due again")
        elif outcome.status == "unknown":
            entry.update(status="unknown", reason=reason, permanent=False, **self.identity(job))
        else:
            entry.update(status="failed", reason=reason, permanent=outcome.permanent)
        return [entry] + [
            {
                "status": "optout",
                "at": now_stamp(),
                "run": self.run_id,
                "phone": hashed(number) if self.hash_recipients else number,
                "customer": job.delivery.customer,
                "reason": "the recipient replied STOP (Twilio 21610)",
            }
            for number in outcome.opted_out
        ]

    def _private(self, job: Job, text: str) -> str:
        """Providers name the refused address or number in their reasons: hash it there too."""
        if not self.hash_recipients:
            return text
        for address in sorted({*job.delivery.to, *job.delivery.cc}, key=len, reverse=True):
            text = re.sub(re.escape(address), hashed(address), text, flags=re.IGNORECASE)
        return text

    def _tick(self, total: int) -> None:
        self.finished += 1
        if self.progress is not None:
            self.progress(self.finished, total)


def _unexpected(exc: Exception, handed: bool) -> Outcome:
    """An error no channel foresaw: after the hand-over the message may have gone (unknown);
    before it, it certainly did not (failed, and tried again next run)."""
    what = f"{type(exc).__name__}: {str(exc)[:200]}"
    if handed:
        return Outcome("unknown", reason=f"unexpected error after the hand-over: {what}")
    return Outcome("failed", reason=f"not sent: {what}", permanent=False)
