"""Channels: one tiny interface; runner.transports chooses the implementation per channel.

A channel sends one message once and says what happened; the retry loop (runner.deliver) decides
whether to try again. `retry` means the provider certainly did not take the message; `unknown`
means it may have, so it is never retried automatically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from runner.compose import Outgoing

Status = Literal["sent", "failed", "unknown", "retry"]


@dataclass(frozen=True)
class Outcome:
    status: Status
    reason: str = ""
    provider_id: str = ""
    retry_after: float | None = None  # seconds the provider asked us to wait
    opted_out: tuple[str, ...] = ()  # numbers that said STOP
    refused: tuple[str, ...] = ()  # recipients refused while others got it


class Channel(Protocol):
    name: str

    async def open(self) -> None: ...

    async def send(self, message: Outgoing) -> Outcome: ...

    async def close(self) -> None: ...
