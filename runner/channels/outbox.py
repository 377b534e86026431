"""The embedded default: every message written to outbox/ instead of sent."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from runner.channels import Handover, Outcome
from runner.compose import MESSAGE_POLICY, Outgoing, email_message
from runner.model import Repository
from runner.pdf import Printer

# Messages made and written at once. A batch starts every message's task together and each
# makes its files before its hand-over, which waits for the log's next group commit: unbounded,
# every message's MIME bytes (and the e-mail objects they came from) were held at once before
# the first hand-over (1,991 at 100k invoices: some 50 MiB of `run`'s peak). SMTP is bounded
# the same way by its connections (max_connections).
IN_FLIGHT = 32


def outbox_name(message: Outgoing, suffix: str) -> str:
    d = message.delivery
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{d.customer}.{d.step}.{d.channel}") + suffix


class Outbox:
    """Writes .eml for e-mail and tasks, .txt for SMS under outbox/DATE/, and letters under
    outbox/letters/DATE/ as .html and, where WeasyPrint can run, .pdf beside it (the outcome
    names the PDF: that is what goes in the envelope)."""

    def __init__(self, name: str, repo: Repository, folder: Path) -> None:
        self.name = name
        self.repo = repo
        self.folder = folder
        self.notes: set[str] = set()  # said once after the run: why letters have no PDF
        self._printer = Printer()  # started at the first letter (runner/pdf.py)
        self._printing = asyncio.Lock()  # one PDF at a time, off the event loop
        self.slots = asyncio.Semaphore(IN_FLIGHT)  # messages being made and written at once

    async def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    async def send(self, message: Outgoing, handover: Handover) -> Outcome:
        """Everything slow (the MIME bytes, a letter's PDF) is made before the hand-over; the
        hand-over is then the writing of finished files, each whole or not at all (written
        beside and renamed), so a run killed at any moment leaves next to nothing unknown."""
        path = self.path_for(message)
        async with self.slots:
            files = await self._files(path, message)
            if not await handover():
                return Outcome("deferred")
            path.parent.mkdir(parents=True, exist_ok=True)
            for target, data in files:
                _write_whole(target, data)
        named = files[-1][0]  # what goes out: the PDF of a letter where there is one
        return Outcome("sent", provider_id=f"outbox:{named.relative_to(self.folder).as_posix()}")

    async def _files(self, path: Path, message: Outgoing) -> list[tuple[Path, bytes]]:
        if message.channel in ("email", "task"):
            return [(path, email_message(self.repo, message).as_bytes(policy=MESSAGE_POLICY))]
        if message.channel == "sms":
            header = f"To: {', '.join(message.delivery.to)}\n\n"
            return [(path, (header + message.text).encode("utf-8"))]
        page = message.html or message.text
        files = [(path, page.encode("utf-8"))]
        async with self._printing:  # one PDF at a time, off the event loop
            missing = await asyncio.to_thread(self._printer.available)
            if missing:
                self.notes.add(f"Letters written as HTML only: {missing}")
                return files
            printed = await asyncio.to_thread(self._printer.render, page)
        return [*files, (path.with_suffix(".pdf"), printed.data)]

    def path_for(self, message: Outgoing) -> Path:
        suffix = {"email": ".eml", "task": ".eml", "sms": ".txt", "letter": ".html"}[
            message.channel
        ]
        day = message.delivery.date.isoformat()
        if message.channel == "letter":
            return self.folder / "letters" / day / outbox_name(message, suffix)
        return self.folder / day / outbox_name(message, suffix)

    async def close(self) -> None:
        await asyncio.to_thread(self._printer.close)


def _write_whole(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
