"""The send log read back: what each sequence of entries says about a key, whatever the order.

Rows: the entries a delivery left (a run that finished, one killed at each point, a race lost,
a person's or a provider's settlement) -> what the schedule sees for the key.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner import claims
from runner.sendlog import Entry, index, read

KEY = "INV-1/tier-1/2026-11-23/email"
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def entry(status: str, minute: int, **extra: object) -> Entry:
    return Entry(
        {
            "id": f"{status}-{minute}",
            "delivery": "d1",
            "status": status,
            "at": f"2026-11-23T06:{minute:02d}:00Z",
            "date": "2026-11-23",
            "keys": [KEY],
            "channel": "email",
            **extra,
        }
    )


CLAIM = {"until": "2026-11-23T06:40:00Z", "host": "elsewhere/boot", "pid": 1}


@pytest.mark.parametrize(
    ("story", "entries", "live", "expected", "unknown"),
    [
        ("claimed by a run still going", [entry("pending", 1, **CLAIM)], True, "claimed", 0),
        ("claimed by a run that is over", [entry("pending", 1, **CLAIM)], False, None, 0),
        (
            "handed over, no answer",
            [entry("pending", 1, **CLAIM), entry("handover", 2)],
            False,
            "unknown",
            1,
        ),
        (
            "sent",
            [entry("pending", 1, **CLAIM), entry("handover", 2), entry("sent", 3)],
            False,
            "sent",
            0,
        ),
        ("before hand-overs were logged", [entry("pending", 1)], False, "unknown", 1),
        (
            "not handed over after all",
            [entry("pending", 1, **CLAIM), entry("cancelled", 2)],
            True,
            None,
            0,
        ),
        (
            "certainly not sent, may retry",
            [entry("pending", 1, **CLAIM), entry("failed", 2, permanent=False)],
            False,
            None,
            0,
        ),
        (
            "refused for good",
            [entry("pending", 1, **CLAIM), entry("failed", 2, permanent=True)],
            False,
            "failed",
            0,
        ),
        (
            "unknown, then Twilio's list says sent",
            [entry("handover", 2), entry("unknown", 3), entry("reconciled", 9, sent=True)],
            False,
            "sent",
            0,
        ),
        (
            "unknown, then Twilio's list says not sent",
            [entry("handover", 2), entry("reconciled", 9, sent=False)],
            False,
            None,
            0,
        ),
        (
            "unknown, then a person says sent",
            [entry("handover", 2), entry("resolved", 9, sent=True)],
            False,
            "sent",
            0,
        ),
        (
            "a missed record another run made first",
            [entry("missed", 1), entry("cancelled", 2)],
            False,
            None,
            0,
        ),
        ("missed", [entry("missed", 1)], False, "missed", 0),
        # clocks of two machines: a hand-over stamped before its claim is still after it
        (
            "skewed clocks",
            [entry("handover", 1), entry("pending", 5, **CLAIM)],
            False,
            "unknown",
            1,
        ),
    ],
)
def test_what_a_delivery_says_about_its_key(
    story: str, entries: list[Entry], live: bool, expected: str | None, unknown: int
) -> None:
    for order in range(3):  # union merges reorder lines: the answer does not depend on it
        shuffled = list(entries)
        random.Random(order).shuffle(shuffled)
        log = index(shuffled, lambda claim: live)
        state = log.state(KEY)
        assert (state.status if state else None) == expected, story
        assert len(log.unknown) == unknown, story
        assert len(log.claims) == (expected == "claimed"), story


def claim(until: datetime, host: str, pid: int) -> Entry:
    return Entry({"status": "pending", **claims.stamp(until), "host": host, "pid": pid})


def test_a_claim_holds_until_its_deadline_and_no_longer() -> None:
    here = claims.machine()
    other = "another-runner/boot"
    assert claims.is_live(claim(NOW + timedelta(minutes=5), other, 1), NOW, here)
    assert claims.is_live(claim(NOW - timedelta(minutes=1), other, 1), NOW, here)  # grace
    assert not claims.is_live(claim(NOW - claims.GRACE * 2, other, 1), NOW, here)


def test_a_claim_of_a_process_gone_from_this_machine_is_over_at_once(tmp_path: Path) -> None:
    here = claims.machine()
    if not here:
        pytest.skip("no boot id on this system: only the deadline can tell")
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = int(done.stdout)
    later = NOW + timedelta(minutes=10)
    assert not claims.is_live(claim(later, here, gone), NOW, here)
    assert claims.is_live(claim(later, here, os.getppid()), NOW, here)
    # the same process id on another machine says nothing about it here
    assert claims.is_live(claim(later, "another-runner/boot", gone), NOW, here)


def test_lines_edited_into_the_wrong_shape_are_reported_and_skipped(tmp_path: Path) -> None:
    log = tmp_path / "log" / "2026" / "11.jsonl"
    log.parent.mkdir(parents=True)
    good = {"id": "a", "status": "sent", "keys": [KEY], "delivery": "d", "date": "2026-11-23"}
    lines = [
        json.dumps(good),
        json.dumps({**good, "id": "b", "keys": "INV-1/x"}),
        json.dumps({**good, "id": "c", "status": ["sent"]}),
        json.dumps({**good, "id": "d", "keys": [1, 2]}),
        json.dumps({**good, "id": "e", "date": "2026-02-30"}),  # read; its day is unknown
        "[" * 100000,
    ]
    log.write_text("\n".join(lines) + "\n")
    report = read(tmp_path)
    assert [e.id for e in report.entries] == ["a", "e"]
    assert report.entries[1].day is None
    assert [(line, why.split(":")[0]) for _, line, why in report.damaged] == [
        (2, "'keys' is not a list of text"),
        (3, "'status' is not text"),
        (4, "'keys' is not a list of text"),
        (6, "nested too deeply"),
    ]
    assert index(report.entries).state(KEY) is not None
