"""Channels: one tiny interface, one literal registry.

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

    @property
    def permanent(self) -> bool:
        return self.status == "failed"


class Channel(Protocol):
    name: str

    async def open(self) -> None: ...

    async def send(self, message: Outgoing) -> Outcome: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Limits:
    """What a channel can carry, as data (apprise-style)."""

    body_chars: int | None = None
    parallel: int = 1


LIMITS = {
    "email": Limits(parallel=4),
    "sms": Limits(body_chars=1600, parallel=4),
    "letter": Limits(),
    "task": Limits(parallel=4),
}
