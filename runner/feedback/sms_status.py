"""Did the SMS arrive? Twilio's status of the messages sent in the last days (message fetch).

Each SMS logged `sent` in the last `sms.status_days` days whose message has no final status in
the log yet is fetched once per run: `delivered` (or WhatsApp's `read`) is logged `delivered`;
`undelivered` and `failed` are logged `undelivered` with Twilio's status and error code, and the
number is then unreachable (rules.py). Anything else (queued, sending, sent) is asked again
next run. Twilio documents its error codes as informative only: they are recorded for people,
never acted on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from runner.model import SmsSettings
from runner.sendlog import Entry, LogIndex

FINAL = {"delivered": "delivered", "read": "delivered", "undelivered": "undelivered"}
FINAL["failed"] = "undelivered"
KNOWN_CODES = {
    30003: "unreachable handset (off, out of coverage)",
    30004: "message blocked by the recipient or carrier",
    30005: "unknown number",
    30006: "landline or unreachable carrier",
    30007: "filtered by the carrier",
    30008: "unknown error",
}


@dataclass(frozen=True)
class Asked:
    entry: Entry  # the `sent` entry of the delivery
    sid: str


def to_ask(log: LogIndex, today: date, days: int) -> list[Asked]:
    """The SMS sent in the last `days` days with no final status logged yet."""
    if days <= 0:
        return []
    since = today - timedelta(days=days)
    known = {str(e.get("sid")) for e in log.feedback if e.status in ("delivered", "undelivered")}
    seen: set[str] = set()
    asked: list[Asked] = []
    for entry in _sent_sms(log.keys.values()):
        day = entry.day
        if day is None or day < since or entry.id in seen:
            continue
        seen.add(entry.id)
        for sid in str(entry.get("provider_id") or "").split(","):
            if sid[:2] in ("SM", "MM") and sid not in known:
                asked.append(Asked(entry, sid))
    return asked


def _sent_sms(states: Iterable[Any]) -> Iterable[Entry]:
    for state in states:
        if state.status == "sent" and state.entry.get("channel") == "sms":
            yield state.entry


def entry_for(asked: Asked, message: Any, today: date, hash_recipients: bool) -> dict[str, Any]:
    """The log entry for a final status (the caller checked it is one)."""
    from runner.sendlog import hashed

    status = str(message.status)
    number = str(message.to or "")
    sent = asked.entry
    raw: dict[str, Any] = {
        "status": FINAL[status],
        "date": today.isoformat(),
        "keys": list(sent.keys),
        "customer": sent.get("customer"),
        "invoices": sent.get("invoices", []),
        "step": sent.get("step"),
        "channel": "sms",
        "phone": hashed(number) if hash_recipients else number,
        "sid": asked.sid,
        "provider_status": status,
        "sent_on": sent.get("date"),
    }
    if FINAL[status] == "undelivered":
        code = message.error_code
        words = KNOWN_CODES.get(int(code), str(message.error_message or "")) if code else ""
        raw["error_code"] = code
        raw["reason"] = (
            f"Twilio {status}"
            + (f", error {code}" if code else "")
            + (f": {words}" if words else "")
        )
    return raw


def fetch(
    settings: SmsSettings, sid: str, token: str, asked: list[Asked]
) -> list[tuple[Asked, Any]]:
    """Each message's current resource from Twilio; stops at the first failure to ask."""
    from runner.channels.twilio_sms import client

    twilio = client(settings, sid, token, timeout=15.0)
    return [(a, twilio.messages(a.sid).fetch()) for a in asked]
