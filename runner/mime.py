"""The bytes of an e-mail on the wire, written directly: a tenth of the email package's cost.

Python's `email` package parses every header it is given into a tree and folds it again on the
way out; for the messages Nudge sends that is 2 to 3 ms of CPU each, more than the SMTP
exchange itself, and it caps how many messages one core can hand to a pool of connections.
This writer makes the same message (the same headers, parts and bytes of content; only the MIME
boundaries and the choice of transfer encoding differ) with the library's encoders for display
names (formataddr), quoted-printable (binascii) and base64; a subject's RFC 2047 encoded words
it writes itself (email.header took a fifth of a message's cost for them). Anything unusual (a
non-ASCII address, a sender it cannot parse) goes to compose.email_message, the reference that
tests/test_mime.py holds this writer to.
"""

from __future__ import annotations

import base64
import binascii
import functools
import secrets
from datetime import datetime
from email.utils import format_datetime, formataddr, parseaddr

from runner.compose import (
    WIRE_POLICY,
    Outgoing,
    email_message,
    header_value,
    message_id,
    preview_time,
    reply_to_of,
    sender_of,
)
from runner.model import Contact, Repository

CRLF = "\r\n"
FOLD_AT = 76


class _Unusual(Exception):
    """Something this writer does not write: the email package will."""


def wire_bytes(repo: Repository, out: Outgoing, sent_at: datetime | None = None) -> bytes:
    """The message as SMTP sends it (CRLF line ends, 7-bit clean)."""
    try:
        return _write(repo, out, sent_at)
    except _Unusual:
        return email_message(repo, out, sent_at).as_bytes(policy=WIRE_POLICY)


def _write(repo: Repository, out: Outgoing, sent_at: datetime | None) -> bytes:
    settings = repo.settings
    company = settings.company
    lines = [
        "From: " + _sender(header_value(sender_of(settings))),
        "To: " + _mailboxes(out.to),
    ]
    if out.cc:
        lines.append("Cc: " + _mailboxes(out.cc))
    reply_to = reply_to_of(settings)
    if reply_to:
        lines.append("Reply-To: " + _sender(header_value(reply_to)))
    lines += [
        "Subject: " + _text_header(header_value(out.subject), "Subject"),
        "Date: " + format_datetime(sent_at or preview_time(settings, out)),
        "Message-ID: " + message_id(out.delivery, company.email.rsplit("@", 1)[-1]),
        "Auto-Submitted: auto-generated",
        "X-Nudge-Keys: " + _words(header_value(" ".join(out.delivery.keys)), len("X-Nudge-Keys: ")),
        "MIME-Version: 1.0",
    ]
    body = _text_part(out.text, "plain")
    if out.html:
        body = _multipart("alternative", [body, _text_part(out.html, "html")])
    if out.attachments:
        files = [_attachment(path.name, path.read_bytes()) for path in out.attachments]
        body = _multipart("mixed", [body, *files])
    return (CRLF.join(lines) + CRLF + body).encode("ascii")


@functools.lru_cache(maxsize=8)
def _sender(text: str) -> str:
    """The company's own From or Reply-To, the same on every message of a run: parsed once."""
    return _mailbox(*parseaddr(text))


def _mailbox(name: str, address: str) -> str:
    if not address or not address.isascii() or any(c in name + address for c in "\r\n"):
        raise _Unusual  # an internationalised address needs SMTPUTF8: the package decides
    return formataddr((name, address), charset="utf-8").replace("\n", CRLF)


def _mailboxes(contacts: tuple[Contact, ...]) -> str:
    # One address per line after the first: a comma never ends up inside an encoded word.
    return ("," + CRLF + " ").join(_mailbox(c.name, c.email or "") for c in contacts)


def _text_header(value: str, name: str) -> str:
    if "=?" in value or value != value.strip():
        raise _Unusual  # reads like an encoded word, or edge spaces: the package decides
    if value.isascii():
        return _words(value, len(name) + 2)
    return _encoded_words(value, len(name) + 2)


def _encoded_words(value: str, used: int) -> str:
    """`value` as RFC 2047 encoded words (UTF-8, base64), one per line of at most FOLD_AT
    characters, each holding whole characters: what email.header.Header writes (it also weighs
    quoted-printable per word: a reader decodes both alike), at a twentieth of its cost."""
    words: list[str] = []
    chunk = bytearray()
    room = (FOLD_AT - used - len(_WORD_FRAME)) // 4 * 3  # bytes the first line's word holds
    for char in value:
        data = char.encode("utf-8")
        if chunk and len(chunk) + len(data) > room:
            words.append(_encoded_word(chunk))
            chunk = bytearray()
            room = (FOLD_AT - 1 - len(_WORD_FRAME)) // 4 * 3  # a folded line: " " + the word
        chunk += data
    words.append(_encoded_word(chunk))
    return (CRLF + " ").join(words)


_WORD_FRAME = "=?utf-8?b??="


def _encoded_word(data: bytearray) -> str:
    return "=?utf-8?b?" + base64.b64encode(data).decode("ascii") + "?="


def _words(value: str, used: int) -> str:
    """ASCII text folded at spaces so no line passes FOLD_AT (a longer word stays whole)."""
    if not value.isascii() or "  " in value or value != value.strip(" "):
        raise _Unusual
    out: list[str] = []
    length = used
    for word in value.split(" "):
        if out and length + 1 + len(word) > FOLD_AT:
            out.append(CRLF + " " + word)
            length = 1 + len(word)
        else:
            out.append(" " + word if out else word)
            length += len(word) + (1 if len(out) > 1 else 0)
    return "".join(out)


def _text_part(text: str, subtype: str) -> str:
    data = text.encode("utf-8")
    if data.isascii() and all(len(line) <= 998 for line in data.split(b"\n")):
        encoding, payload = "7bit", text
    else:
        encoding = "quoted-printable"
        payload = binascii.b2a_qp(data, istext=True).decode("ascii")
    payload = payload.replace("\r\n", "\n").replace("\n", CRLF)
    if not payload.endswith(CRLF):
        payload += CRLF
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: {encoding}{CRLF}{CRLF}{payload}"
    )


def _attachment(filename: str, data: bytes) -> str:
    if not filename.isascii() or '"' in filename or "\\" in filename:
        raise _Unusual
    encoded = base64.encodebytes(data).decode("ascii").replace("\n", CRLF)
    return (
        f"Content-Type: application/pdf{CRLF}"
        f'Content-Disposition: attachment; filename="{filename}"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}{encoded}"
    )


def _multipart(subtype: str, parts: list[str]) -> str:
    boundary = "=_nudge_" + secrets.token_hex(12)  # '=' never appears bare in QP or base64
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"{CRLF}{CRLF}'
    inner = "".join(f"--{boundary}{CRLF}{part}{CRLF}" for part in parts)  # CRLF: the delimiter's
    return f"{head}{inner}--{boundary}--{CRLF}"
