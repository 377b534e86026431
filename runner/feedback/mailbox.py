"""The inbound mailbox over IMAP (imapclient): new messages in, a keyword on the ones read.

Messages are fetched with BODY.PEEK (a person still sees them unread) and, once what they say
is safely in the send log, marked with the keyword `$NudgeProcessed` so the next run skips them.
Nothing is ever deleted or moved. A message larger than `max_message_bytes` is judged by its
headers alone. Every failure is a MailboxError with one sentence: the run goes on without it.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from runner.errors import NudgeError
from runner.feedback.inbound import Arrival, judge
from runner.model import InboundSettings

PROCESSED = b"$NudgeProcessed"
BATCH = 50  # messages fetched per request
MAX_PER_RUN = 500  # a flood waits for the next runs instead of stretching this one


class MailboxError(NudgeError):
    """The mailbox cannot be read: a warning, never a reason to stop sending."""


@dataclass(frozen=True)
class Fetched:
    uid: int
    size: int
    arrival: Arrival


class Mailbox:
    def __init__(self, settings: InboundSettings, username: str, password: str) -> None:
        self.settings = settings
        self.username = username
        self.password = password
        self.client: Any = None
        self.uidvalidity: int | None = None

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def connect(self) -> None:
        from imapclient import IMAPClient
        from imapclient.exceptions import IMAPClientError, LoginError

        s = self.settings
        context = ssl.create_default_context()
        try:
            client = IMAPClient(
                s.host, port=s.port, ssl=s.security == "tls", ssl_context=context, timeout=s.timeout
            )
            if s.security == "starttls":
                client.starttls(context)
        except ssl.SSLCertVerificationError as exc:
            raise MailboxError(
                f"{self.where}: TLS certificate not trusted ({exc.verify_message})"
            ) from None
        except (TimeoutError, OSError, IMAPClientError) as exc:
            raise MailboxError(f"cannot connect to {self.where}: {_say(exc)}") from None
        try:
            client.login(self.username, self.password)
        except LoginError:
            _close(client)
            raise MailboxError(
                f"{self.where} refused the login: check {s.username_env} and {s.password_env}"
            ) from None
        except (OSError, IMAPClientError) as exc:
            _close(client)
            raise MailboxError(f"{self.where}: login failed: {_say(exc)}") from None
        self.client = client

    def close(self) -> None:
        if self.client is not None:
            _close(self.client)
            self.client = None

    @contextmanager
    def session(self) -> Iterator[Mailbox]:
        self.connect()
        try:
            yield self
        finally:
            self.close()

    def new_messages(self) -> list[Fetched]:
        """Messages in the folder without our keyword, oldest first, judged."""
        with self._errors("read"):
            selected = self.client.select_folder(self.settings.folder)
            self.uidvalidity = int(selected.get(b"UIDVALIDITY", 0) or 0)
            uids = sorted(self.client.search(["NOT", "KEYWORD", PROCESSED.decode()]))
            uids = uids[:MAX_PER_RUN]
            found: list[Fetched] = []
            for start in range(0, len(uids), BATCH):
                found += self._fetch(uids[start : start + BATCH])
            return found

    def _fetch(self, uids: list[int]) -> list[Fetched]:
        sizes = self.client.fetch(uids, ["RFC822.SIZE"])
        limit = self.settings.max_message_bytes
        small = [u for u in uids if int(sizes.get(u, {}).get(b"RFC822.SIZE", 0)) <= limit]
        large = [u for u in uids if u not in small]
        out: list[Fetched] = []
        for wanted, part, headers_only in (
            (small, b"BODY[]", False),
            (large, b"BODY[HEADER]", True),
        ):
            if not wanted:
                continue
            request = "BODY.PEEK[]" if not headers_only else "BODY.PEEK[HEADER]"
            for uid, data in sorted(self.client.fetch(wanted, [request]).items()):
                raw = data.get(part) or b""
                size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", len(raw)))
                out.append(Fetched(uid, size, judge(raw, headers_only=headers_only)))
        return sorted(out, key=lambda f: f.uid)

    def mark_processed(self, uids: list[int], uidvalidity: int | None) -> None:
        """Add our keyword (never \\Seen, never a delete) where the folder is still the same."""
        if not uids:
            return
        with self._errors("mark what was read in"):
            selected = self.client.select_folder(self.settings.folder)
            if uidvalidity is not None and int(selected.get(b"UIDVALIDITY", 0) or 0) != uidvalidity:
                return  # the folder was recreated: the next run reads it again (the log dedups)
            self.client.add_flags(uids, [PROCESSED], silent=True)

    def holding(self, folders: list[str], message_ids: list[str]) -> dict[str, str]:
        """Which of these Message-IDs are in these folders: {message id: folder}."""
        found: dict[str, str] = {}
        with self._errors("search"):
            for folder in folders:
                if not self.client.folder_exists(folder):
                    continue
                self.client.select_folder(folder, readonly=True)
                for message_id in message_ids:
                    if message_id not in found and self.client.search(
                        ["HEADER", "Message-ID", message_id]
                    ):
                        found[message_id] = folder
        return found

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        from imapclient.exceptions import IMAPClientError

        try:
            yield
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(
                f"{self.where}: cannot {doing} '{self.settings.folder}': {_say(exc)}"
            ) from None


def _close(client: Any) -> None:
    try:
        client.logout()
    except Exception:  # already gone: nothing to tidy
        try:
            client.shutdown()
        except Exception:
            return


def _say(exc: BaseException) -> str:
    text = str(exc).strip()
    if text[:2] in ("b'", 'b"') and text.endswith(text[1]):  # imaplib quotes the server's bytes
        text = text[2:-1]
    return (text or type(exc).__name__)[:200]
