"""The send log: `log/YYYY/MM.jsonl`, one JSON object per line, append-only.

Entry format (one line each; unknown fields are kept and ignored):

    {"id": "<unique entry id>", "delivery": "<id shared by all entries of one delivery>",
     "status": "pending|handover|sent|failed|unknown|cancelled|superseded|missed|note|resolved|
                reconciled|optout|optin",
     "at": "2026-11-23T07:13:02Z", "date": "2026-11-23", "keys": ["INV-1/tier-1/2026-11-23/email"],
     "customer": "acme", "invoices": ["INV-1"], "step": "tier-1", "channel": "email",
     "to": [...], "cc": [...], "template": "gentle-tier-1/en.email.j2", "locale": "en",
     "commit": "<config commit>", "run": "<run id>", "provider_id": "...", "reason": "...",
     "attempts": 1, "permanent": true, "phone": "+45...", "text": "...",
     "until": "<a claim's deadline>", "host": "...", "pid": 123, "body_sha256": "...",
     "message_id": "<...>", "sent": true, "evidence": "..."}

A key is `invoice[#installment]/step/occurrence-date/channel`. A delivery goes through:

- `pending`: claimed. The run will send it, and says until when (`until`: its deadline, after
  which it hands nothing over) and from where (`host`, `pid`). A claim whose run is over and
  that was never handed over was certainly not sent: the key is due again. A claim of a run
  still going blocks the key (another run must not send it too).
- `handover`: written (and on disk) just before the message goes to the provider. From here on
  the provider may have it.
- `sent`, `failed` (`permanent: false` when it certainly did not go and may be tried again),
  `unknown`; or `cancelled`: not handed over after all (another run claimed it first, the
  run's deadline passed, the provider could not be reached): due again.
- A handover with no outcome, or `unknown`, blocks a re-send until it is settled: by the
  provider's own records (`reconciled`, with `sent` and `evidence`) or by a person (`resolved`).

A `pending` without `until` comes from Nudge before hand-overs were logged: it may have gone,
so it reads as unknown. `superseded` and `missed` record occurrences not sent after missed runs;
a run that loses a race for its claims cancels those too. Reading is tolerant: union merges
reorder lines and may repeat them, so entries are deduplicated by id; a truncated last line (a
crash mid-write) is reported and skipped. What came back (runner.feedback) is logged as `bounced`,
`delayed`, `autoreply`, `reply`, `delivered` and `undelivered`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
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
        try:
            return date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None

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
        day = self.day.isoformat()
        return key_text(self.invoice, self.installment, self.step, day, self.channel)

    @staticmethod
    def parse(text: str) -> Key:
        head, step, day, channel = text.rsplit("/", 3)
        invoice, _, inst = head.partition("#")
        return Key(invoice, int(inst) if inst else None, step, date.fromisoformat(day), channel)


def key_text(invoice: str, installment: int | None, step: str, day: str, channel: str) -> str:
    """A key as the log writes it (`str(Key(...))`), `day` in ISO form."""
    inst = f"#{installment}" if installment is not None else ""
    return f"{invoice}{inst}/{step}/{day}/{channel}"


@dataclass(frozen=True)
class KeyState:
    status: str  # sent, unknown, claimed, failed, superseded, missed
    day: date | None
    entry: Entry


ClaimTest = Callable[[Entry], bool]


@dataclass
class LogIndex:
    """What the schedule needs from the log, in one pass over it."""

    keys: dict[str, KeyState] = field(default_factory=dict)
    notes: list[Entry] = field(default_factory=list)
    opted_out: set[str] = field(default_factory=set)
    unknown: list[Entry] = field(default_factory=list)
    claims: list[Entry] = field(default_factory=list)  # claims of runs that are still going
    feedback: list[Entry] = field(default_factory=list)  # what came back (runner.feedback)
    _notes_index: dict[str, list[Entry]] | None = field(default=None, repr=False)
    _by_invoice: dict[str, list[str]] | None = field(default=None, repr=False)
    # parsed keys by invoice, when `remember_keys` asked for them to be kept
    _keys_of: dict[str, list[tuple[Key, str]]] | None = field(default=None, repr=False)
    _feedback_view: Any = field(default=None, repr=False)  # runner.feedback.rules.view()

    def state(self, key: str) -> KeyState | None:
        return self.keys.get(key)

    def of_invoice(self, invoice: str) -> list[tuple[Key, KeyState]]:
        """Every key of an invoice (all installments) with its state (grouped on first use, each
        invoice's keys parsed when it is first asked for)."""
        return [(key, self.keys[text]) for key, text in self._parsed(invoice)]

    def remember_keys(self) -> None:
        """Keep each invoice's keys once parsed (and `extended` indexes too): a replay of many
        days asks for them for every invoice every day. Not kept otherwise: `run` holds its
        index while it sends, and at 100k invoices they made its peak some 30 MiB higher."""
        if self._keys_of is None:
            self._keys_of = {}

    def _parsed(self, invoice: str) -> list[tuple[Key, str]]:
        """The invoice's keys, parsed and as logged."""
        if self._keys_of is not None:
            kept = self._keys_of.get(invoice)
            if kept is not None:
                return kept
        if self._by_invoice is None:
            grouped: dict[str, list[str]] = {}
            for text in self.keys:
                grouped.setdefault(invoice_of(text), []).append(text)
            self._by_invoice = grouped
        found = []
        for text in self._by_invoice.get(invoice, ()):
            try:
                key = Key.parse(text)
            except ValueError:
                continue  # a hand-edited line with a malformed key names no invoice
            found.append((key, text))
        if self._keys_of is not None:
            self._keys_of[invoice] = found
        return found

    def first_contact(self, invoice: str, installment: int | None) -> tuple[Key, KeyState] | None:
        """The first message the customer received about an invoice (or one installment):
        an e-mail, text or letter sent (tasks are ours), by the day it went out."""
        first: tuple[date, Key, KeyState] | None = None
        for key, text in self._parsed(invoice):
            if key.installment != installment or key.channel not in ("email", "sms", "letter"):
                continue
            state = self.keys[text]
            if state.status != "sent" or state.day is None:
                continue
            # by day; on the same day by key (written form made only for such a tie)
            if (
                first is None
                or state.day < first[0]
                or (state.day == first[0] and str(key) < str(first[1]))
            ):
                first = (state.day, key, state)
        return None if first is None else (first[1], first[2])

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
            parsed = None if self._keys_of is None else dict(self._keys_of)
            for text in more.keys:
                if text not in self.keys:
                    invoice = invoice_of(text)
                    grouped[invoice] = [*grouped.get(invoice, ()), text]
                    if parsed is not None:
                        parsed.pop(invoice, None)
            merged._by_invoice = grouped
            merged._keys_of = parsed
        elif self._keys_of is not None:
            merged._keys_of = {}
        return merged


# Where an entry stands in its delivery's life: a later stage stands for the delivery whatever
# the clocks of the machines that wrote them say.
_STAGE = {
    "pending": 0,
    "handover": 1,
    "sent": 2,
    "failed": 2,
    "unknown": 2,
    "cancelled": 2,
    "superseded": 2,
    "missed": 2,
    "resolved": 3,
    "reconciled": 3,
}


def invoice_of(key: str) -> str:
    """The invoice a key is about (`INV-1#2/step/2026-11-23/email` -> `INV-1`)."""
    return key.rsplit("/", 3)[0].partition("#")[0]


# What the entries of one delivery (from its claim to its outcome) say; superseded and missed
# are deliveries of their own.
DELIVERY_STATUSES = frozenset(_STAGE)
# What stands for a delivery only until its outcome is logged (the outcome then stands alone).
CLAIM_STATUSES = frozenset({"pending", "handover"})
FEEDBACK_STATUSES = frozenset(
    {"bounced", "delayed", "autoreply", "reply", "delivered", "undelivered"}
)


def time_order(entry: Entry) -> tuple[str, str]:
    raw = entry.raw
    return str(raw.get("at", "")), str(raw.get("id", ""))


def is_claim(entry: Entry) -> bool:
    """A `pending` that says until when its run may hand it over (older ones do not)."""
    return entry.status == "pending" and "until" in entry.raw


def index(entries: Iterable[Entry], claim_live: ClaimTest | None = None) -> LogIndex:
    """Fold the log into what the schedule needs; order-independent (entries sort by time).

    `claim_live` tells a claim of a run still going from one whose run is over (runner.claims);
    without it every claim counts as live, which never sends anything twice."""
    ordered = sorted(entries, key=time_order)
    latest: dict[str, Entry] = {}  # delivery -> the entry that stands for it
    result = LogIndex()
    for entry in ordered:
        raw = entry.raw  # the fields read directly: this loop runs once per log line
        status = str(raw.get("status", ""))
        stage = _STAGE.get(status)
        if stage is not None:
            delivery = str(raw.get("delivery", raw.get("id", "")))
            current = latest.get(delivery)
            if current is None or stage >= _STAGE[str(current.raw.get("status"))]:
                latest[delivery] = entry
        elif status == "note":
            result.notes.append(entry)
        elif status == "optout":
            result.opted_out.add(str(entry.get("phone")))
        elif status == "optin":
            result.opted_out.discard(str(entry.get("phone")))
        elif status in FEEDBACK_STATUSES:
            result.feedback.append(entry)
    for entry in latest.values():
        _settle(result, entry, claim_live)
    result.unknown.sort(key=lambda e: (str(e.get("at", "")), e.id))
    return result


def _settle(result: LogIndex, entry: Entry, claim_live: ClaimTest | None) -> None:
    """What the entry standing for a delivery says about its keys."""
    status = entry.status
    if status in ("resolved", "reconciled"):
        if entry.get("sent"):
            _mark(result, entry, "sent")
    elif status == "pending" and is_claim(entry):
        if claim_live is None or claim_live(entry):
            result.claims.append(entry)
            _mark(result, entry, "claimed")
        # else: its run is over and never handed it over: certainly not sent, due again
    elif status in ("pending", "handover", "unknown"):
        result.unknown.append(entry)
        _mark(result, entry, "unknown")
    elif status == "cancelled":
        return  # not handed over after all: due again (or another run's entries stand)
    elif status in ("sent", "superseded", "missed") or entry.get("permanent", True):
        _mark(result, entry, status)
    # a failure that certainly did not reach anyone (permanent: false) may be tried again


RANK = {"sent": 5, "unknown": 4, "claimed": 3, "failed": 2, "superseded": 1, "missed": 1}


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


def read(
    root: Path, wanted: re.Pattern[str] | None = None, files: Iterable[Path] | None = None
) -> ReadReport:
    """Every entry of the log's files (or of `files`), deduplicated by id, in file order (only
    the lines `wanted` matches, when given: a cheap filter on the text before it is parsed),
    with the lines that could not be read."""
    from runner import paths

    seen: set[str] = set()
    entries: list[Entry] = []
    damaged: list[tuple[str, int, str]] = []
    strings: dict[str, str] = {}
    for path in log_files(root) if files is None else files:
        rel = path.relative_to(root).as_posix()
        if not paths.is_inside(root, path):
            damaged.append((rel, 1, f"{paths.OUTSIDE}: not read"))
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            damaged.append((rel, 1, f"cannot read it ({exc.strerror or exc}): skipped"))
            continue
        reported = len(damaged)
        for number, raw in decoded(text, rel, damaged, wanted):
            wrong = _misshapen(raw)
            if wrong is not None:
                damaged.append((rel, number, f"{wrong}: skipped"))
                continue
            ident = raw.get("id", "")
            if ident:
                if ident in seen:
                    continue
                seen.add(ident)
            entries.append(Entry(share(raw, strings)))
        damaged[reported:] = sorted(damaged[reported:], key=lambda d: d[1])  # by line
    return ReadReport(entries, damaged)


# Fields whose values recur from line to line (a run's, a day's, a customer's, a step's): kept
# as one string each, not one per line (a year of log at 100k invoices: 183 -> 132 MiB).
SHARED_FIELDS = (
    "status", "date", "channel", "run", "commit", "customer", "step", "template", "locale",
    "policy",
)  # fmt: skip


def share(raw: dict[str, Any], strings: dict[str, str]) -> dict[str, Any]:
    """`raw` with its recurring values replaced by the equal strings already in `strings`."""
    for name in SHARED_FIELDS:
        value = raw.get(name)
        if type(value) is str:
            raw[name] = strings.setdefault(value, value)
    return raw


_TEXT_FIELDS = ("id", "delivery", "status", "at", "date", "customer", "run", "phone")
_LIST_FIELDS = ("keys", "invoices", "to", "cc")


def _misshapen(raw: dict[str, Any]) -> str | None:
    """Why a line (edited by hand, or by a merge gone wrong) cannot be an entry; None if fine."""
    for name in _TEXT_FIELDS:
        value = raw.get(name)
        if value is not None and type(value) is not str:
            return f"'{name}' is not text"
    for name in _LIST_FIELDS:
        value = raw.get(name)
        if value is not None and (
            type(value) is not list or any(type(v) is not str for v in value)
        ):
            return f"'{name}' is not a list of text"
    return None


_loads = json.JSONDecoder().decode  # json.loads without its per-call argument handling
_SIDE_BY_SIDE = re.compile(r"\}\s*,\s*\{")


def decoded(
    text: str,
    rel: str,
    damaged: list[tuple[str, int, str]],
    wanted: re.Pattern[str] | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """The objects of a log file's lines (those `wanted` matches, when given), each with its line
    number; damaged lines are reported (file, line, why), skipped.

    A file is decoded as one JSON array when it can be: one call instead of one per line, and
    the decoder then shares the strings of the field names between all lines (a third of what
    a year of log holds in memory). That is exact only when every line is one object: as many
    objects as lines, and no two objects side by side on a line (`}, {`), else line by line."""
    numbered = [
        (number, line)
        for number, line in enumerate(text.split("\n"), start=1)
        if line and not line.isspace() and (wanted is None or wanted.search(line))
    ]
    if not _SIDE_BY_SIDE.search(text):
        try:
            values = _loads("[" + ",".join(line for _, line in numbered) + "]")
        except (json.JSONDecodeError, RecursionError):
            values = None
        if len(values or ()) == len(numbered) and all(type(raw) is dict for raw in values):
            return [(number, raw) for (number, _), raw in zip(numbered, values, strict=True)]
    found = []
    for number, line in numbered:
        try:
            raw = _loads(line)
        except json.JSONDecodeError as exc:
            damaged.append((rel, number, f"not a complete JSON line ({exc.msg}): skipped"))
            continue
        except RecursionError:
            damaged.append((rel, number, "nested too deeply: skipped"))
            continue
        if type(raw) is not dict:
            damaged.append((rel, number, "not a JSON object: skipped"))
            continue
        found.append((number, raw))
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
        from runner import paths
        from runner.errors import NudgeError

        self.path = path_for(root, day)
        rel = self.path.relative_to(root).as_posix()
        if not paths.is_inside(root, self.path):
            raise NudgeError(f"{rel}: {paths.OUTSIDE}; the log is not written through it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and not self.path.is_file():
            raise NudgeError(f"{rel} is not a file: move it away so the log can be written")
        self.written: list[dict[str, Any]] = []

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
        data = text.encode("utf-8")
        with open(self.path, "ab+") as handle:  # appends, whatever was read
            if handle.seek(0, os.SEEK_END):
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # a crash mid-write left a line without its end:
                    data = b"\n" + data  # ours start on a fresh line
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        self.written.extend(raws)

    def close(self) -> None:
        return None
