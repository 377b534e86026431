"""Sending a batch: pending first, then each message with bounded retries, then its outcome.

The log is written before a message is handed to a provider (`pending`) and after (`sent`,
`failed`, `unknown`). A run that dies in between leaves a `pending` that the next run reads as
`unknown`: never re-sent by itself, so a customer never gets the same reminder twice.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from runner.channels import Channel, Outcome
from runner.compose import Outgoing
from runner.schedule import Delivery
from runner.sendlog import Writer, hashed, new_id


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
    pending: bool = False  # its `pending` entry is written


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
        self.finished = 0
        self._waiting: list[tuple[list[dict[str, Any]], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

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

    def record_pending(self, jobs: list[Job]) -> None:
        """Write `pending` for every job now (one fsync): the claims `--push` publishes first."""
        claims = [raw for job in jobs if (raw := self._pending(job)) is not None]
        if claims:
            self.writer.append_many(claims)

    def _pending(self, job: Job) -> dict[str, Any] | None:
        """The `pending` entry a job still needs, marked as written (the caller writes it)."""
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
        }

    async def _commit(self, entries: list[dict[str, Any]]) -> None:
        """Write entries to the log; returns once they are on disk. Entries that arrive while a
        write is under way go down together in the next one (a group commit: one fsync for
        many messages, so the log keeps up with many connections)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((entries, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await asyncio.to_thread(self.writer.append_many, [e for es, _ in batch for e in es])
            except asyncio.CancelledError:
                for _, done in batch:
                    done.cancel()
                raise
            except Exception as exc:  # each waiting message fails as its own write would
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for _, done in batch:
                done.set_result(None)

    async def send_all(self, jobs: list[Job]) -> None:
        for channel in {self.channels[j.delivery.channel] for j in jobs if j.message}:
            await channel.open()
        try:
            await asyncio.gather(*(self._one(job, len(jobs)) for job in jobs))
        finally:
            for channel in self.channels.values():
                await channel.close()

    async def _one(self, job: Job, total: int) -> None:
        # Without claims, `pending` goes down right before the hand-over: a crash leaves only
        # the messages actually in flight unknown; the ones never tried can go out on a rerun.
        claim = self._pending(job)
        if claim is not None:
            await self._commit([claim])  # on disk before the hand-over
        if job.message is None:
            job.outcome = Outcome("failed", reason=job.error)
            failed = {
                **self.base(job),
                "status": "failed",
                "at": now_stamp(),
                "reason": job.error,
                "attempts": 0,
                "permanent": True,
            }
            await self._commit([failed])
            self._tick(total)
            return
        channel = self.channels[job.delivery.channel]
        outcome = Outcome("retry")
        while outcome.status == "retry" and job.attempts < self.retry.attempts:
            if job.attempts:
                if getattr(channel, "broken", None):
                    break  # the channel cannot send at all this run (credentials, no TLS)
                await asyncio.sleep(self.retry.delay(job.attempts, outcome.retry_after))
            job.attempts += 1
            try:
                outcome = await channel.send(job.message)
            except Exception as exc:  # a bug or an unforeseen library error: may have gone out
                outcome = Outcome(
                    "unknown", reason=f"unexpected error: {type(exc).__name__}: {str(exc)[:200]}"
                )
        job.outcome = outcome
        await self._commit(self._outcome_entries(job, outcome))
        self._tick(total)

    def _outcome_entries(self, job: Job, outcome: Outcome) -> list[dict[str, Any]]:
        entry = {**self.base(job), "at": now_stamp(), "attempts": job.attempts}
        reason = self._private(job, outcome.reason)
        if outcome.status == "sent":
            entry.update(status="sent", provider_id=outcome.provider_id)
            if outcome.refused:
                entry["refused"] = [self._private(job, r) for r in outcome.refused]
        elif outcome.status == "retry":  # gave up: certainly not sent, may be tried next run
            entry.update(status="failed", reason=reason, permanent=False)
        else:
            entry.update(status=outcome.status, reason=reason, permanent=outcome.status == "failed")
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
