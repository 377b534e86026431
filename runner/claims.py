"""Claims: the keys a run is about to send, and whether the run that claimed them is still going.

A run writes a `pending` entry (a claim) for everything it will send before it sends anything
(with `--push` the claims reach the remote first). Each claim says until when the run may hand
it over (`until`: the run's deadline; a run never hands anything over after it) and where the run
is (`host`: the machine and its boot; `pid`). Another run reading the log treats a claim that was
never handed over as:

- live, and so not to be sent by anyone else, while its run may still hand it over;
- over, and so certainly not sent and due again, once `until` has passed, or at once when the
  claiming process is gone from this very machine (a run killed mid-batch, then run again).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache

from runner.sendlog import ClaimTest, Entry, LogIndex, index

# Clocks of two machines disagree a little; a claim is honoured this much past its deadline.
GRACE = timedelta(minutes=2)


@cache
def machine() -> str:
    """This machine, as of this boot (a process id means nothing on another machine, or after
    a reboot)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            boot = handle.read().strip()
    except OSError:
        boot = ""
    return f"{socket.gethostname()}/{boot}" if boot else ""


def stamp(until: datetime) -> dict[str, object]:
    """The fields of a claim that say whose it is and until when it holds."""
    return {
        "until": until.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "host": machine(),
        "pid": os.getpid(),
    }


def is_live(claim: Entry, now: datetime, here: str) -> bool:
    """Whether the run that made `claim` may still hand it over."""
    try:
        until = datetime.fromisoformat(str(claim.get("until")).replace("Z", "+00:00"))
    except ValueError:
        return True  # an unreadable deadline: wait for a person rather than risk a second send
    if until.tzinfo is None:
        return True
    if now > until + GRACE:
        return False
    pid = claim.get("pid")
    if here and claim.get("host") == here and isinstance(pid, int) and pid != os.getpid():
        return _running(pid)
    return True


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def live_now() -> ClaimTest:
    """The test of liveness as of this moment, on this machine."""
    now, here = datetime.now(UTC), machine()
    return lambda claim: is_live(claim, now, here)


def indexed(entries: Iterable[Entry]) -> LogIndex:
    """The log's index as of now: claims of runs still going block their keys, the others not."""
    return index(entries, live_now())
