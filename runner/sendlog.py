"""The send log: `log/YYYY/MM.jsonl`, one JSON object per line, append-only.

Entry format (one line each; unknown fields are kept and ignored):

    {"id": "<unique entry id>", "delivery": "<id shared by a delivery's pending and outcome>",
     "status": "pending|sent|failed|unknown|cancelled|superseded|missed|note|resolved|optout|optin",
     "at": "2026-11-23T07:13:02Z", "date": "2026-11-23", "keys": ["INV-1/tier-1/2026-11-23/email"],
     "customer": "acme", "invoices": ["INV-1"], "step": "tier-1", "channel": "email",
     "to": [...], "cc": [...], "template": "gentle-tier-1/en.email.j2", "locale": "en",
     "commit": "<config commit>", "run": "<run id>", "provider_id": "...", "reason": "...",
     "attempts": 1, "permanent": true, "phone": "+45...", "text": "..."}

A key is `invoice[#installment]/step/occurrence-date/channel`. The status of a key is decided
by its deliveries: `sent` wins; a `pending` with no outcome is `unknown` and blocks a re-send
until a person resolves it (`resolved`, with `sent: true|false`). Reading is tolerant: union
merges reorder lines and may repeat them, so entries are deduplicated by id; a truncated last
line (a crash mid-write) is reported and skipped. What came back (runner.feedback) is logged as
`bounced`, `delayed`, `autoreply`, `reply`, `delivered` and `undelivered`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any


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
    feedback: list[Entry] = field(default_factory=list)  # what came back (runner.feedback)
    _notes_index: dict[str, list[Entry]] | None = field(default=None, repr=False)
    _by_invoice: dict[str, list[str]] | None = field(default=None, repr=False)
    _feedback_view: Any = field(default=None, repr=False)  # runner.feedback.rules.view()

    def state(self, key: str) -> KeyState | None:
        return self.keys.get(key)

    def of_invoice(self, invoice: str) -> list[tuple[Key, KeyState]]:
        """Every key of an invoice (all installments) with its state (grouped on first use, each
        invoice's keys parsed when it is asked for)."""
        if self._by_invoice is None:
            grouped: dict[str, list[str]] = {}
            for text in self.keys:
                grouped.setdefault(invoice_of(text), []).append(text)
            self._by_invoice = grouped
        found = []
        for text in self._by_invoice.get(invoice, ()):
            try:
                found.append((Key.parse(text), self.keys[text]))
            except ValueError:
                continue  # a hand-edited line with a malformed key names no invoice
        return found

    def first_sent(self, invoice: str, installment: int | None, step: str) -> date | None:
        """The day a step was first sent for an invoice (or one installment of it), if it was."""
        days = [
            state.day
            for key, state in self.of_invoice(invoice)
            if key.step == step
            and key.installment == installment
            and state.status == "sent"
            and state.day is not None
        ]
        return min(days, default=None)

    def notes_for(self, invoice: str) -> list[Entry]:
        """Contacts recorded by hand for an invoice (indexed: a plan asks for every decision)."""
        if self._notes_index is None:
            self._notes_index = {}
            for note in self.notes:
                for invoice_id in note.get("invoices", ()):
                    self._notes_index.setdefault(invoice_id, []).append(note)
        return self._notes_index.get(invoice, [])

    def extended(self, extra: list[Entry]) -> LogIndex:
        """This log with more entries (what a forecast assumes was sent: deliveries of their own,
        for keys with no state here). The extra entries are folded on their own and laid over
        this index, so a forecast of N days does not fold the whole log N times."""
        more = index(extra)
        keys = dict(self.keys)
        for text, state in more.keys.items():
            current = keys.get(text)
            if current is None or RANK[state.status] >= RANK[current.status]:
                keys[text] = state
        merged = LogIndex(
            keys=keys,
            notes=self.notes + more.notes if more.notes else self.notes,
            opted_out=self.opted_out | more.opted_out,
            unknown=sorted(self.unknown + more.unknown, key=time_order)
            if more.unknown
            else self.unknown,
            feedback=sorted(self.feedback + more.feedback, key=time_order)
            if more.feedback
            else self.feedback,
        )
        if not more.notes:
            merged._notes_index = self._notes_index
        if not more.feedback:
            merged._feedback_view = self._feedback_view
        if self._by_invoice is not None:
            grouped = dict(self._by_invoice)
            for text in more.keys:
                if text not in self.keys:
                    invoice = invoice_of(text)
                    grouped[invoice] = [*grouped.get(invoice, ()), text]
            merged._by_invoice = grouped
        return merged


def invoice_of(key: str) -> str:
    """The invoice a key is about (`INV-1#2/step/2026-11-23/email` -> `INV-1`)."""
    return key.rsplit("/", 3)[0].partition("#")[0]


_DELIVERY_STATUSES = frozenset({"pending", "sent", "failed", "unknown", "resolved", "cancelled"})
# What the entries of one delivery (from its claim to its outcome) say; superseded and missed
# are deliveries of their own.
DELIVERY_STATUSES = _DELIVERY_STATUSES | {"superseded", "missed"}
# What stands for a delivery only until its outcome is logged (the outcome then stands alone).
CLAIM_STATUSES = frozenset({"pending"})
FEEDBACK_STATUSES = frozenset(
    {"bounced", "delayed", "autoreply", "reply", "delivered", "undelivered"}
)


def time_order(entry: Entry) -> tuple[str, str]:
    raw = entry.raw
    return str(raw.get("at", "")), str(raw.get("id", ""))


def index(entries: Iterable[Entry]) -> LogIndex:
    """Fold the log into what the schedule needs; order-independent (entries sort by time)."""
    ordered = sorted(entries, key=time_order)
    latest: dict[str, Entry] = {}  # delivery -> its latest pending/outcome/resolution
    result = LogIndex()
    for entry in ordered:
        raw = entry.raw  # the fields read directly: this loop runs once per log line
        status = str(raw.get("status", ""))
        if status in _DELIVERY_STATUSES:
            delivery = str(raw.get("delivery", raw.get("id", "")))
            if status == "pending" and delivery in latest:
                continue  # an outcome or resolution already stands for this delivery
            latest[delivery] = entry
        elif status in ("superseded", "missed"):
            _mark(result, entry, status)
        elif status == "note":
            result.notes.append(entry)
        elif status == "optout":
            result.opted_out.add(str(entry.get("phone")))
        elif status == "optin":
            result.opted_out.discard(str(entry.get("phone")))
        elif status in FEEDBACK_STATUSES:
            result.feedback.append(entry)
    for entry in latest.values():
        status = entry.status
        if status == "resolved":
            if entry.get("sent"):
                _mark(result, entry, "sent")
        elif status in ("pending", "unknown"):
            result.unknown.append(entry)
            _mark(result, entry, "unknown")
        elif status == "cancelled":
            continue  # another run had claimed these keys first: its entries stand for them
        elif status == "sent" or entry.get("permanent", True):
            _mark(result, entry, status)
        # a failure that certainly did not reach anyone (permanent: false) may be tried again
    result.unknown.sort(key=lambda e: (str(e.get("at", "")), e.id))
    return result


RANK = {"sent": 4, "unknown": 3, "failed": 2, "superseded": 1, "missed": 1}


def _mark(result: LogIndex, entry: Entry, status: str) -> None:
    day = entry.day
    for key in entry.raw.get("keys", ()):
        current = result.keys.get(key)
        if current is None or RANK[status] >= RANK[current.status]:
            result.keys[key] = KeyState(status, day, entry)


# -- reading files ----------------------------------------------------------------------------


@dataclass
class ReadReport:
    entries: list[Entry]
    damaged: list[tuple[str, int, str]]  # (file, line, why)


def log_files(root: Path) -> list[Path]:
    base = root / "log"
    return sorted(base.glob("*/*.jsonl")) if base.is_dir() else []


def month_of(path: Path) -> str:
    """The month a log file holds, as `YYYY/MM` (its path under log/)."""
    return f"{path.parent.name}/{path.stem}"


def read(root: Path, files: Iterable[Path] | None = None) -> ReadReport:
    """Every entry of the log's files (or of `files`), deduplicated by id, in file order."""
    seen: set[str] = set()
    entries: list[Entry] = []
    damaged: list[tuple[str, int, str]] = []
    for path in log_files(root) if files is None else files:
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        for raw in decoded(text, rel, damaged):
            ident = str(raw.get("id", ""))
            if ident:
                if ident in seen:
                    continue
                seen.add(ident)
            entries.append(Entry(raw))
    return ReadReport(entries, damaged)


_loads = json.JSONDecoder().decode  # json.loads without its per-call argument handling
_SIDE_BY_SIDE = re.compile(r"\}\s*,\s*\{")


def decoded(text: str, rel: str, damaged: list[tuple[str, int, str]]) -> list[dict[str, Any]]:
    """The objects of a log file's lines; damaged lines are reported (file, line, why), skipped.

    A file is decoded as one JSON array when it can be: one call instead of one per line, and
    the decoder then shares the strings of the field names between all lines (a third of what
    a year of log holds in memory). That is exact only when every line is one object: as many
    objects as lines, and no two objects side by side on a line (`}, {`), else line by line."""
    numbered = [
        (number, line)
        for number, line in enumerate(text.split("\n"), start=1)
        if line and not line.isspace()
    ]
    if not _SIDE_BY_SIDE.search(text):
        try:
            values = _loads("[" + ",".join(line for _, line in numbered) + "]")
        except (json.JSONDecodeError, RecursionError):
            values = None
        if len(values or ()) == len(numbered) and all(type(raw) is dict for raw in values):
            return values
    found = []
    for number, line in numbered:
        try:
            raw = _loads(line)
        except json.JSONDecodeError as exc:
            damaged.append((rel, number, f"not a complete JSON line ({exc.msg}): skipped"))
            continue
        if type(raw) is not dict:
            damaged.append((rel, number, "not a JSON object: skipped"))
            continue
        found.append(raw)
    return found


def path_for(root: Path, day: date) -> Path:
    return root / "log" / f"{day.year:04d}" / f"{day.month:02d}.jsonl"


# -- writing ------------------------------------------------------------------------------------


def new_id() -> str:
    import uuid

    return uuid.uuid4().hex


def hashed(address: str) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(address.strip().lower().encode()).hexdigest()[:32]


class Writer:
    """Appends entries, each flushed to disk before the call returns (a crash loses nothing)."""

    def __init__(self, root: Path, day: date) -> None:
        self.path = path_for(root, day)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.written: list[dict[str, Any]] = []

    def _repair_torn_tail(self) -> None:
        # A crash mid-write can leave a last line without its newline; start ours on a fresh line.
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open("rb") as handle:
                handle.seek(-1, 2)
                if handle.read(1) != b"\n":
                    with self.path.open("a", encoding="utf-8") as tail:
                        tail.write("\n")

    def append(self, raw: dict[str, Any]) -> Entry:
        """Append one line and fsync it."""
        self.append_many([raw])
        return Entry(raw)

    def append_many(self, raws: list[dict[str, Any]]) -> None:
        """Append lines with one write and one fsync (a group commit: all are on disk when this
        returns). The file is opened per call: git may replace it between two calls (a rebase
        during --push), and a held handle would write to the old one."""
        import os

        for raw in raws:
            raw.setdefault("id", new_id())
        text = "".join(json.dumps(raw, ensure_ascii=False, sort_keys=True) + "\n" for raw in raws)
        self._repair_torn_tail()
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        self.written.extend(raws)

    def close(self) -> None:
        return None
