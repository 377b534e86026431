"""Work on a long list in two processes at once: this one and a forked copy of it.

Reading 100,000 invoice files is CPU work in Python, one core's worth; a CI runner or a laptop
has two or more. `halves` gives the second half of the list to a forked copy of the process (it
has everything already loaded, no start-up), does the first half itself meanwhile, and returns
both results in list order. The copy sends its result back pickled through a pipe, so results
should be worth less to pickle than to compute. One process when the list is short, when the
platform cannot fork, when only one core is ours, or with NUDGE_PROCESSES=1.
"""

from __future__ import annotations

import gc
import os
import pickle
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
PARALLEL_FROM = 4000  # items; below this, a fork and the pickling cost more than they save


def halves(
    items: list[T], work: Callable[[list[T]], R], least: int = 0, share: float = 0.5
) -> list[R]:
    """[work(items)], or [work(first half), work(second half)] computed at once in two
    processes, when there are at least `least` items (default PARALLEL_FROM). `share`: the
    copy's share of the items, less than half when its result costs much to pickle (it does
    that on top of its share while this process waits)."""
    if len(items) < (least or PARALLEL_FROM) or not _can_fork():
        return [work(items)]
    cut = int(len(items) * (1 - share))
    read_end, write_end = os.pipe()
    # What exists now is left out of later garbage collections, in both processes: a
    # collection writes to every object it visits, which makes the copy duplicate the pages it
    # shares with this one (hundreds of MiB at 100k invoices, and the time to copy them). Not
    # undone here: unfreezing would write to every object too, and what a command has built by
    # now (the load) lives as long as the command.
    gc.freeze()
    pid = _fork()
    if pid == 0:  # the copy: its half, then its result down the pipe, then gone
        os.close(read_end)
        try:
            try:
                payload = pickle.dumps(("ok", work(items[cut:])), pickle.HIGHEST_PROTOCOL)
            except BaseException:  # reported by the parent, which raises it
                payload = pickle.dumps(("error", traceback.format_exc()))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        mine = work(items[:cut])
    finally:  # the copy is always collected, even when this half failed
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
    status, theirs = _result(data)
    if status != "ok":
        raise RuntimeError(f"the second process failed:\n{theirs}")
    return [mine, theirs]


def meanwhile(work: Callable[[], None]) -> Callable[[], bool] | None:
    """work() in a forked copy while this process goes on, for what it leaves behind (files);
    a function that waits for the copy and says whether it finished. None where `halves` would
    not fork (no fork, one core, NUDGE_PROCESSES=1): nothing was started."""
    if not _can_fork():
        return None
    pid = _fork()
    if pid == 0:  # the copy: the work, then gone, whatever happened (the caller does it anyway)
        code = 1
        try:
            work()
            code = 0
        finally:
            os._exit(code)

    def wait() -> bool:
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status) == 0

    return wait


def _can_fork() -> bool:
    return hasattr(os, "fork") and _cores() >= 2


def _fork() -> int:
    """os.fork, with what this process printed so far written out first (not twice)."""
    sys.stdout.flush()
    sys.stderr.flush()
    return os.fork()


def _result(data: bytes) -> tuple[str, Any]:
    if not data:
        return "error", "it ended without a result (killed, or out of memory?)"
    status, value = pickle.loads(data)
    return str(status), value


def _cores() -> int:
    if os.environ.get("NUDGE_PROCESSES") == "1":
        return 1
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else (os.cpu_count() or 1)
