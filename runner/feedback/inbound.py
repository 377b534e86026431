"""One message from the inbound mailbox, judged: a bounce, an auto-reply, a reply from a person.

Pure: bytes in, an `Arrival` out. Delivery status notifications are read by flufl.bounce
(RFC 3464 and the common non-standard formats: Exim, old Exchange, qmail, Gmail's, ...), and
only for messages that look like one (a report, a mailer daemon's, an empty Return-Path), so a
person's "your reminder failed to reach me" is never taken for a bounce. Auto-replies are told
by RFC 3834 `Auto-Submitted` and the headers and subjects out-of-office responders use. What a
message refers to of ours is found by Message-ID (In-Reply-To, References, the returned
original's headers, anywhere in the text) and by the `X-Nudge-Keys` header we send.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, replace
from email.header import Header, decode_header
from email.message import Message
from email.utils import parseaddr

OUR_ID_BYTES = re.compile(rb"<nudge\.[0-9a-f]{32}@[^>\s]+>", re.IGNORECASE)
OUR_ID = re.compile(r"<nudge\.[0-9a-f]{32}@[^>\s]+>", re.IGNORECASE)
KEYS_HEADER = re.compile(
    rb"^X-Nudge-Keys:[ \t]*(.+(?:\r?\n[ \t]+.+)*)", re.IGNORECASE | re.MULTILINE
)
DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", "mailer_daemon")
AUTOREPLY_SUBJECTS = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response|antwort)|"
    r"autoreply|abwesenheit|fraværende|fravær|absence|vacation|i am away|away from)",
    re.IGNORECASE,
)
QUOTE_START = re.compile(
    r"^\s*(>|on .+wrote:?$|am .+schrieb|-{2,}\s*original message|_{5,}|from:\s|sent from my|"
    r"den .+ skrev)",
    re.IGNORECASE,
)
EXCERPT_LINES = 5
EXCERPT_CHARS = 400


@dataclass(frozen=True)
class Arrival:
    kind: str  # bounce, delayed, autoreply, reply, own-copy, unrelated, damaged
    inbound_id: str  # its own Message-ID (or a digest of its bytes when it has none)
    answers: tuple[str, ...] = ()  # Message-IDs of ours it refers to
    keys: tuple[str, ...] = ()  # X-Nudge-Keys found in it
    failed: tuple[str, ...] = ()  # addresses a bounce reports (lower case)
    sender: str = ""  # its From address (lower case)
    name: str = ""  # its From display name
    subject: str = ""
    excerpt: str = ""  # a reply's first lines, quotes and signatures left out
    reason: str = ""  # a bounce's diagnostic, or why a message was not judged


def judge(raw: bytes, headers_only: bool = False) -> Arrival:
    """What a message is. Damaged input is an Arrival of kind `damaged`, never an exception."""
    inbound_id = _own_id(raw)
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        return _judge(raw, message, inbound_id, headers_only)
    except Exception as exc:  # a malformed message must never stop a run: noted and skipped
        return Arrival(
            "damaged", inbound_id, reason=f"cannot read it: {type(exc).__name__}: {exc}"[:300]
        )


def _judge(raw: bytes, message: Message, inbound_id: str, headers_only: bool) -> Arrival:
    name, sender = parseaddr(text(message.get("From", "")))
    arrival = Arrival(
        "unrelated",
        inbound_id,
        answers=_answers(raw, inbound_id),
        keys=_keys(raw),
        sender=sender.lower(),
        name=name,
        subject=text(message.get("Subject", ""))[:300],
    )
    if OUR_ID.fullmatch(inbound_id):
        return replace(arrival, kind="own-copy")  # a copy of ours (email.bcc), or a loop
    if _looks_like_report(message, sender):
        if headers_only:
            return replace(arrival, kind="damaged", reason="a delivery report too large to read")
        return _bounce(message, arrival)
    if _is_autoreply(message):
        return replace(arrival, kind="autoreply")
    if not arrival.answers and not arrival.keys:
        return arrival
    excerpt = "(too large to read here: open it in the mailbox)" if headers_only else None
    return replace(arrival, kind="reply", excerpt=excerpt or _excerpt(message))


def _bounce(message: Message, arrival: Arrival) -> Arrival:
    from flufl.bounce import all_failures

    temporary, permanent = all_failures(message)
    kind = "bounce" if permanent else "delayed"
    failed = sorted({a.decode("ascii", "replace").lower() for a in permanent or temporary})
    if not failed:
        return replace(
            arrival, kind="damaged", reason="a delivery report that names no failed recipient"
        )
    return replace(arrival, kind=kind, failed=tuple(failed), reason=_diagnostic(message))


def text(value: object) -> str:
    """A header as text: RFC 2047 decoded; raw 8-bit bytes read as UTF-8, else Latin-1."""
    try:
        parts = decode_header(value if isinstance(value, Header) else str(value))
    except (UnicodeError, LookupError, ValueError, TypeError):
        return " ".join(str(value).split())
    decoded = "".join(p if isinstance(p, str) else _decoded(p, charset) for p, charset in parts)
    return " ".join(_surrogates_read(decoded).split())


def _decoded(data: bytes, charset: str | None) -> str:
    if charset and charset != "unknown-8bit":
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _surrogates_read(raw: str) -> str:
    """Bytes the parser could not decode (kept as surrogates): UTF-8, else Latin-1."""
    if not any("\udc80" <= ch <= "\udcff" for ch in raw):
        return raw
    return _decoded(raw.encode("utf-8", "surrogateescape"), None)


def _own_id(raw: bytes) -> str:
    head = raw[: raw.find(b"\r\n\r\n") if b"\r\n\r\n" in raw[:262144] else 262144]
    found = re.search(rb"^Message-ID:[ \t]*(?:\r?\n[ \t]+)?(<[^>\r\n]{1,400}>)", head, re.I | re.M)
    if found:
        return found.group(1).decode("ascii", "replace")
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:32]


def _answers(raw: bytes, own: str) -> tuple[str, ...]:
    """Message-IDs of ours anywhere in it: In-Reply-To, References, a returned original."""
    found = (m.decode("ascii", "replace").lower() for m in OUR_ID_BYTES.findall(raw))
    return tuple(dict.fromkeys(m for m in found if m != own.lower()))


def _keys(raw: bytes) -> tuple[str, ...]:
    keys: list[str] = []
    for match in KEYS_HEADER.finditer(raw):
        keys += match.group(1).decode("utf-8", "replace").split()
    return tuple(dict.fromkeys(k for k in keys if k.count("/") >= 3))


def _looks_like_report(message: Message, sender: str) -> bool:
    content_type = message.get_content_type()
    report = content_type == "multipart/report" and (
        str(message.get_param("report-type", "")).lower() == "delivery-status"
    )
    local = sender.split("@")[0].lower()
    return_path = str(message.get("Return-Path", "")).strip().lower()
    return (
        report
        or local in DAEMONS
        or return_path in ("<>", "<mailer-daemon>")
        or message.get("X-Failed-Recipients") is not None
    )


def _is_autoreply(message: Message) -> bool:
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if any(message.get(h) for h in ("X-Autoreply", "X-Autorespond")):
        return True
    if str(message.get("Precedence", "")).strip().lower() in ("auto_reply", "bulk", "junk"):
        return True
    return bool(AUTOREPLY_SUBJECTS.match(text(message.get("Subject", ""))))


def _diagnostic(message: Message) -> str:
    """The remote server's own words, where the report gives them."""
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in part.get_payload() if part.is_multipart() else []:
            code = block.get("Diagnostic-Code") if isinstance(block, Message) else None
            if code:
                return text(code).split(";", 1)[-1].strip()[:300]
            status = block.get("Status") if isinstance(block, Message) else None
            if status:
                return f"status {text(status)}"
    body = _plain_text(message)
    for line in body.splitlines():
        if re.search(
            r"\b5\d\d[ -]|\b5\.\d+\.\d+|unknown|not found|does not exist|rejected", line, re.I
        ):
            return " ".join(line.split())[:300]
    return "permanent failure"


def _plain_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html") and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                continue
            charset = part.get_content_charset() or "utf-8"
            try:
                content = payload.decode(charset, "replace")
            except LookupError:
                content = payload.decode("utf-8", "replace")
            if part.get_content_type() == "text/html":
                content = _html_text(content)
            return content
    return ""


def _html_text(html: str) -> str:
    import html as entities

    html = re.sub(r"(?is)<(script|style|blockquote).*?</\1>", "", html)
    html = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", html)
    return entities.unescape(re.sub(r"<[^>]+>", "", html))


def _excerpt(message: Message) -> str:
    lines: list[str] = []
    for line in _plain_text(message).splitlines():
        if QUOTE_START.match(line) or line.strip() == "--":
            break
        if line.strip():
            lines.append(" ".join(line.split()))
        if len(lines) == EXCERPT_LINES:
            break
    return "\n".join(lines)[:EXCERPT_CHARS]
