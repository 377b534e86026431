"""Channels: one tiny interface; runner.transports chooses the implementation per channel.

A channel sends one message once and says what happened; the batch (runner.deliver) decides
whether to try again. Just before the point from which the provider may have the message (SMTP
DATA, the Twilio POST), a channel awaits `handover()`: the batch writes the hand-over to the log
and answers False when nothing more may be handed over (the run's deadline, an open circuit):
the channel then stops and says `deferred`.

`retry` means the provider certainly did not take the message; `unknown` means it may have, so
it is never retried automatically; `deferred` means it was not handed over and stays due.
`unreachable` marks a failure to reach the provider at all (connect, TLS, greeting): enough of
them in a row and the batch stops trying that channel for this run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from runner.compose import Outgoing

Status = Literal["sent", "failed", "unknown", "retry", "deferred"]
Handover = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class Outcome:
    status: Status
    reason: str = ""
    provider_id: str = ""
    retry_after: float | None = None  # seconds the provider asked us to wait
    opted_out: tuple[str, ...] = ()  # numbers that said STOP
    refused: tuple[str, ...] = ()  # recipients refused while others got it
    unreachable: bool = False  # the provider could not be reached at all
    permanent: bool = True  # of a failure: False when trying again later may work


class Channel(Protocol):
    name: str

    async def open(self) -> None: ...

    async def send(self, message: Outgoing, handover: Handover) -> Outcome: ...

    async def close(self) -> None: ...
