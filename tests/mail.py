"""Messages that come back to the inbound mailbox (tests/fixtures/inbound), filled in for a
reminder Nudge sent."""

from __future__ import annotations

from pathlib import Path

INBOUND = Path(__file__).resolve().parent / "fixtures" / "inbound"
RETURN_PATH = "bounces@nordlys.example"


def message(
    name: str,
    *,
    recipient: str,
    message_id: str,
    keys: tuple[str, ...] | list[str] = (),
    subject: str = "Payment reminder",
    person: str = "Jennifer Walsh",
    invoice: str = "INV-1044",
) -> bytes:
    raw = (INBOUND / name).read_bytes()
    values = {
        "RECIPIENT": recipient,
        "MESSAGE_ID": message_id,
        "KEYS": " ".join(keys),
        "SUBJECT": subject,
        "NAME": person,
        "INVOICE": invoice,
        "RETURN_PATH": RETURN_PATH,
    }
    for placeholder, value in values.items():
        raw = raw.replace(b"{{" + placeholder.encode() + b"}}", value.encode())
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def huge(megabytes: int, **headers: str) -> bytes:
    """A message of about `megabytes` MiB: a short text and a large base64 attachment."""
    import base64
    import os

    lines = [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    payload = base64.encodebytes(os.urandom(megabytes * 1024 * 1024 * 3 // 4)).decode()
    body = [
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b"',
        "",
        "--b",
        "Content-Type: text/plain",
        "",
        "See the attached scan.",
        "--b",
        "Content-Type: application/pdf",
        "Content-Transfer-Encoding: base64",
        "",
        payload,
        "--b--",
        "",
    ]
    return "\r\n".join([*lines, *body]).replace("\n", "\r\n").replace("\r\r\n", "\r\n").encode()
