"""E-mail over SMTP with aiosmtplib: a few reused connections, and an honest account of failure.

What decides retry vs unknown is *where* a failure happened. Before the message data was handed
over (connect, MAIL, RCPT, a 4xx reply to DATA) the server certainly does not have it: retry.
After the data went out without a reply (timeout, dropped connection) it may have it: unknown.
"""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime

import aiosmtplib

from runner.channels import Handover, Outcome, Status
from runner.compose import Outgoing, envelope, message_id, return_path_of
from runner.errors import NudgeError
from runner.mime import wire_bytes
from runner.model import EmailSettings, Repository


class SmtpConfigError(NudgeError):
    pass


class Smtp:
    def __init__(
        self,
        name: str,
        repo: Repository,
        settings: EmailSettings,
        username: str | None,
        password: str | None,
    ) -> None:
        self.name = name
        self.repo = repo
        self.settings = settings
        self.username = username
        self.password = password
        self.idle: asyncio.Queue[aiosmtplib.SMTP | None] = asyncio.Queue()
        self.slots = asyncio.Semaphore(settings.max_connections)
        self.open_connections: list[aiosmtplib.SMTP] = []
        # Set when the server cannot be used at all (no STARTTLS, an untrusted certificate,
        # credentials refused): every later message fails the same way without connecting
        # again, so a wrong password is tried once, not once per message (servers lock
        # accounts that hammer them).
        self.broken: str | None = None
        # The first connection is made alone: a setup problem (no STARTTLS, an untrusted
        # certificate, a refused password) is found out once. After it, connections open in
        # parallel up to max_connections (a server that does not answer costs a timeout or two,
        # not one per connection), the password tried by one at a time until it is accepted.
        self.probing = asyncio.Lock()
        self.probed = False
        self.logging_in = asyncio.Lock()
        self.logged_in = False
        # Connections open, in use or idle; and how many the server allows at once, once it
        # refused one more with a 4xx greeting (or hung up at once) while others were open.
        # Past that, a message waits for one of those to come back instead of being retried:
        # max_connections can be higher than a relay allows without anything failing.
        self.live = 0
        self.opening = 0
        self.ceiling: int | None = None
        self.turned_away = ""  # the server's answer to the last connection it turned away
        self.notes: list[str] = []  # printed by `nudge run` after the batch

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    async def open(self) -> None:
        return None

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            timeout=s.timeout,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
        )

    async def _connect(self) -> aiosmtplib.SMTP:
        client = self._client()
        try:
            await client.connect()
        except aiosmtplib.SMTPException as exc:
            if "STARTTLS" in str(exc).upper():
                raise SmtpConfigError(
                    f"{self.where} does not offer STARTTLS: refusing to send e-mail in plain "
                    "text (use security: tls or fix the server)"
                ) from None
            raise
        except BaseException:
            client.close()
            raise
        try:
            await self._login(client)
        except BaseException:
            client.close()
            raise
        self.open_connections.append(client)
        return client

    async def _login(self, client: aiosmtplib.SMTP) -> None:
        if self.username is None or self.password is None:
            return  # auth: none, a relay that takes mail without a login
        if self.logged_in:
            await client.login(self.username, self.password)
            return
        async with self.logging_in:
            if self.broken is not None:
                raise SmtpConfigError(self.broken)
            await client.login(self.username, self.password)
            self.logged_in = True

    async def send(self, message: Outgoing, handover: Handover) -> Outcome:
        async with self.slots:
            client, outcome = await self._acquire()
            if client is None:
                return outcome
            try:
                data = wire_bytes(self.repo, message, datetime.now(UTC))
            except BaseException:  # the message, not the connection: keep it for the next
                self.idle.put_nowait(client)
                raise
            outcome, reusable = await self._transaction(client, message, data, handover)
            if reusable:
                self.idle.put_nowait(client)
            else:
                await _drop(client)
                self._gone(client)
            return outcome

    async def _acquire(self) -> tuple[aiosmtplib.SMTP | None, Outcome]:
        """An idle connection, else a new one; at the server's `ceiling`, the next connection
        that comes back (None in the queue: one closed or failed to open, look again)."""
        while True:
            try:
                client = self.idle.get_nowait()
            except asyncio.QueueEmpty:
                client = None
                if self._full():
                    client = await self.idle.get()
            if client is not None:
                if client.is_connected:
                    return client, Outcome("sent")
                self._gone(client, wake=False)  # the server closed it while it was idle
            if self._full():
                continue
            self.opening += 1
            try:
                client, outcome, busy = await self._first_or_next()
            finally:
                self.opening -= 1
            if client is not None:
                self.live += 1
                if self.ceiling is not None and self.live > self.ceiling:
                    self._limit(self.live)  # it took one more than it seemed to allow
                return client, outcome
            if self.ceiling is not None:
                self.idle.put_nowait(None)  # one waiting for this attempt looks again
            if not (busy and self.live > 0):
                return None, outcome
            self.turned_away = outcome.reason.removeprefix(f"cannot connect to {self.where}: ")
            if self.ceiling is None or self.live < self.ceiling:
                self._limit(self.live)

    def _limit(self, ceiling: int) -> None:
        """No more than `ceiling` connections from now on: the most the server was seen to take
        at once while it turned one more away (one opening meanwhile may still be taken)."""
        self.ceiling = ceiling
        self.notes[:] = [
            f"e-mail: {self.where} allows {ceiling} connections at once ({self.turned_away}); "
            "messages waited for a free one instead (email.max_connections: "
            f"{self.settings.max_connections})"
        ]

    def _full(self) -> bool:
        """Whether the connections open and opening are as many as the server allows."""
        return self.ceiling is not None and self.live + self.opening >= self.ceiling

    def _gone(self, client: aiosmtplib.SMTP, wake: bool = True) -> None:
        """A connection closed: one fewer open, and (`wake`) a message waiting at the ceiling
        may open another."""
        self.live -= 1
        if client in self.open_connections:
            self.open_connections.remove(client)
        if wake:
            self.idle.put_nowait(None)

    async def _first_or_next(self) -> tuple[aiosmtplib.SMTP | None, Outcome, bool]:
        """A new connection, or why there is none and whether the server said it is busy."""
        if not self.probed:
            async with self.probing:
                if not self.probed:
                    try:
                        return await self._connect_or_say_why()
                    finally:
                        self.probed = True
        if self.broken is not None:
            return None, Outcome("retry", reason=self.broken), False
        return await self._connect_or_say_why()

    async def _connect_or_say_why(self) -> tuple[aiosmtplib.SMTP | None, Outcome, bool]:
        try:
            return await self._connect(), Outcome("sent"), False
        except SmtpConfigError as exc:
            self.broken = str(exc)
        except aiosmtplib.SMTPAuthenticationError as exc:
            self.broken = (
                f"SMTP authentication failed ({exc.code}) at {self.where}: check "
                f"{self.settings.username_env} and {self.settings.password_env}"
            )
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            untrusted = _untrusted(exc)
            if untrusted is None:
                return (
                    None,
                    Outcome(
                        "retry",
                        reason=f"cannot connect to {self.where}: {_describe(exc)}",
                        unreachable=True,
                    ),
                    _busy(exc),
                )
            self.broken = (
                f"{self.where}: TLS certificate not trusted ({untrusted.verify_message}): "
                "refusing to send e-mail to it"
            )
        # Not the message's fault and certainly not sent: `failed` is permanent and would block
        # the message for good. A retry is logged `failed, permanent: false` (the batch stops
        # retrying a broken channel), so the next run sends it once the setup is fixed.
        return None, Outcome("retry", reason=self.broken), False

    async def _transaction(
        self, client: aiosmtplib.SMTP, message: Outgoing, data: bytes, handover: Handover
    ) -> tuple[Outcome, bool]:
        sender = return_path_of(self.repo.settings)
        recipients = envelope(message, self.settings.bcc)
        data_sent = False
        try:
            await client.mail(sender)
            accepted, refused = [], []
            for rcpt in recipients:
                try:
                    await client.rcpt(rcpt)
                    accepted.append(rcpt)
                except aiosmtplib.SMTPRecipientRefused as exc:
                    if 400 <= exc.code < 500:
                        await client.rset()
                        return Outcome("retry", reason=f"{rcpt}: {exc.code} {exc.message}"), True
                    refused.append(f"{rcpt}: {exc.code} {exc.message}")
            if not accepted:
                await client.rset()
                return Outcome(
                    "failed", reason="all recipients refused: " + "; ".join(refused)
                ), True
            if not await handover():  # the batch says stop: nothing of it has left
                await client.rset()
                return Outcome("deferred"), True
            data_sent = True
            response = await client.data(data)
            return Outcome(
                "sent",
                provider_id=response.message.strip()[:200]
                or message_id(
                    message.delivery, self.repo.settings.company.email.rsplit("@", 1)[-1]
                ),
                refused=tuple(refused),
                reason="; ".join(f"refused {r}" for r in refused),
            ), True
        except aiosmtplib.SMTPResponseException as exc:
            transient = 400 <= exc.code < 500
            status: Status = "retry" if transient else "failed"
            reusable = exc.code not in (421,)
            return Outcome(status, reason=f"{exc.code} {exc.message}"), reusable
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            if data_sent:
                return Outcome(
                    "unknown",
                    reason=f"connection lost after the message data was sent: {_describe(exc)}",
                ), False
            return Outcome(
                "retry", reason=f"connection lost before sending: {_describe(exc)}"
            ), False

    async def close(self) -> None:
        for client in self.open_connections:
            await _drop(client)
        self.open_connections.clear()
        self.live = 0


async def _drop(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await asyncio.wait_for(client.quit(), timeout=2)
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        client.close()


def _busy(exc: BaseException) -> bool:
    """Whether a failed connect is the server turning one more connection away: a 4xx greeting
    (421 "too many connections"), or hanging up before its greeting."""
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        return 400 <= exc.code < 500
    return isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionResetError)


def _untrusted(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate failure behind an error (aiosmtplib wraps it for implicit TLS)."""
    for error in (exc, exc.__cause__, exc.__context__):
        if isinstance(error, ssl.SSLCertVerificationError):
            return error
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPResponseException):  # not its tuple: "421 4.4.5 Too many"
        return f"{exc.code} {exc.message}".splitlines()[0][:200]
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
