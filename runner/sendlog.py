"""The send log: `log/YYYY/MM.jsonl`, one JSON object per line, append-only.

Entry format (one line each; unknown fields are kept and ignored):

    {"id": "<unique entry id>", "delivery": "<id shared by a delivery's pending and outcome>",
     "status": "pending|sent|failed|superseded|missed|note|resolved|optout|optin",
     "at": "2026-11-23T07:13:02Z", "date": "2026-11-23", "keys": ["INV-1/tier-1/2026-11-23/email"],
     "customer": "acme", "invoices": ["INV-1"], "step": "tier-1", "channel": "email",
     "to": [...], "cc": [...], "template": "gentle-tier-1/en.email.j2", "locale": "en",
     "commit": "<config commit>", "run": "<run id>", "provider_id": "...", "reason": "...",
     "attempts": 1, "permanent": true, "phone": "+45...", "text": "..."}

A key is `invoice[#installment]/step/occurrence-date/channel`. The status of a key is decided
by its deliveries: `sent` wins; a `pending` with no outcome is `unknown` and blocks a re-send
until a person resolves it (`resolved`, with `sent: true|false`). Reading is tolerant: union
merges reorder lines and may repeat them, so entries are deduplicated by id; a truncated last
line (a crash mid-write) is reported and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

BLOCKING = frozenset({"sent", "unknown", "superseded", "missed", "failed"})


@dataclass(frozen=True)
class Entry:
    raw: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.raw.get("id", ""))

    @property
    def status(self) -> str:
        return str(self.raw.get("status", ""))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.raw.get("keys", ()))

    @property
    def delivery(self) -> str:
        return str(self.raw.get("delivery", self.id))

    @property
    def day(self) -> date | None:
        value = self.raw.get("date")
        return date.fromisoformat(value) if isinstance(value, str) else None

    def get(self, name: str, default: Any = None) -> Any:
        return self.raw.get(name, default)


@dataclass(frozen=True)
class Key:
    invoice: str
    installment: int | None
    step: str
    day: date
    channel: str

    def __str__(self) -> str:
        inst = f"#{self.installment}" if self.installment is not None else ""
        return f"{self.invoice}{inst}/{self.step}/{self.day.isoformat()}/{self.channel}"

    @staticmethod
    def parse(text: str) -> Key:
        head, step, day, channel = text.rsplit("/", 3)
        invoice, _, inst = head.partition("#")
        return Key(invoice, int(inst) if inst else None, step, date.fromisoformat(day), channel)


@dataclass(frozen=True)
class KeyState:
    status: str  # sent, unknown, failed, superseded, missed
    day: date | None
    entry: Entry


@dataclass
class LogIndex:
    """What the schedule needs from the log, in one pass over it."""

    keys: dict[str, KeyState] = field(default_factory=dict)
    notes: list[Entry] = field(default_factory=list)
    opted_out: set[str] = field(default_factory=set)
    unknown: list[Entry] = field(default_factory=list)
    by_invoice: dict[str, list[str]] = field(default_factory=dict)

    def state(self, key: str) -> KeyState | None:
        return self.keys.get(key)


def index(entries: Iterable[Entry]) -> LogIndex:
    ordered = sorted(entries, key=lambda e: (str(e.get("at", "")), e.id))
    outcomes: dict[str, Entry] = {}
    pendings: dict[str, Entry] = {}
    result = LogIndex()
    for entry in ordered:
        status = entry.status
        if status == "pending":
            pendings[entry.delivery] = entry
        elif status in ("sent", "failed"):
            if status == "failed" and not entry.get("permanent", True):
                outcomes[entry.delivery] = entry  # certainly not sent: may be tried again
                continue
            outcomes[entry.delivery] = entry
            _mark(result, entry, status)
        elif status in ("superseded", "missed"):
            _mark(result, entry, status)
        elif status == "resolved":
            outcomes[entry.delivery] = entry
            if entry.get("sent"):
                _mark(result, entry, "sent")
            else:
                for key in entry.keys:
                    result.keys.pop(key, None)
        elif status == "note":
            result.notes.append(entry)
        elif status == "optout":
            result.opted_out.add(str(entry.get("phone")))
        elif status == "optin":
            result.opted_out.discard(str(entry.get("phone")))
    for delivery, entry in pendings.items():
        if delivery not in outcomes:
            result.unknown.append(entry)
            for key in entry.keys:
                if key not in result.keys or result.keys[key].status != "sent":
                    result.keys[key] = KeyState("unknown", entry.day, entry)
    return result


def _mark(result: LogIndex, entry: Entry, status: str) -> None:
    for key in entry.keys:
        current = result.keys.get(key)
        if current is None or current.status != "sent":
            result.keys[key] = KeyState(status, entry.day, entry)
        result.by_invoice.setdefault(key.split("/", 1)[0].split("#")[0], []).append(key)


# -- reading files ----------------------------------------------------------------------------


@dataclass
class ReadReport:
    entries: list[Entry]
    damaged: list[tuple[str, int, str]]  # (file, line, why)


def log_files(root: Path) -> list[Path]:
    base = root / "log"
    return sorted(base.glob("*/*.jsonl")) if base.is_dir() else []


def read(root: Path) -> ReadReport:
    seen: set[str] = set()
    entries: list[Entry] = []
    damaged: list[tuple[str, int, str]] = []
    for path in log_files(root):
        rel = path.relative_to(root).as_posix()
        for number, line in _lines(path):
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                damaged.append((rel, number, f"not a complete JSON line ({exc.msg}): skipped"))
                continue
            if not isinstance(raw, dict):
                damaged.append((rel, number, "not a JSON object: skipped"))
                continue
            entry = Entry(raw)
            if entry.id and entry.id in seen:
                continue
            seen.add(entry.id)
            entries.append(entry)
    return ReadReport(entries, damaged)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def path_for(root: Path, day: date) -> Path:
    return root / "log" / f"{day.year:04d}" / f"{day.month:02d}.jsonl"
