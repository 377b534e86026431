"""The embedded default: every message written to outbox/ instead of sent."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from runner.channels import Handover, Outcome
from runner.compose import MESSAGE_POLICY, Outgoing, email_message
from runner.model import Repository
from runner.pdf import available, render


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
        self._printing = asyncio.Lock()  # one PDF at a time, off the event loop

    async def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    async def send(self, message: Outgoing, handover: Handover) -> Outcome:
        if not await handover():
            return Outcome("deferred")
        path = self.path_for(message)
        path.parent.mkdir(parents=True, exist_ok=True)
        if message.channel in ("email", "task"):
            path.write_bytes(email_message(self.repo, message).as_bytes(policy=MESSAGE_POLICY))
        elif message.channel == "sms":
            header = f"To: {', '.join(message.delivery.to)}\n\n"
            path.write_text(header + message.text, encoding="utf-8")
        else:
            path = await self._letter(path, message.html or message.text)
        return Outcome("sent", provider_id=f"outbox:{path.relative_to(self.folder).as_posix()}")

    async def _letter(self, path: Path, page: str) -> Path:
        """The letter's HTML, and its PDF when WeasyPrint can run here: the file to print."""
        path.write_text(page, encoding="utf-8")
        missing = available()  # the first call loads WeasyPrint, here rather than in a thread
        if missing:
            self.notes.add(f"Letters written as HTML only: {missing}")
            return path
        async with self._printing:
            printed = await asyncio.to_thread(render, page)
        pdf = path.with_suffix(".pdf")
        pdf.write_bytes(printed.data)
        return pdf

    def path_for(self, message: Outgoing) -> Path:
        suffix = {"email": ".eml", "task": ".eml", "sms": ".txt", "letter": ".html"}[
            message.channel
        ]
        day = message.delivery.date.isoformat()
        if message.channel == "letter":
            return self.folder / "letters" / day / outbox_name(message, suffix)
        return self.folder / day / outbox_name(message, suffix)

    async def close(self) -> None:
        return None
