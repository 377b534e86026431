"""Real peers on loopback for delivery tests: an SMTP server (aiosmtpd), a Twilio-shaped API.

Both run in a thread of the test process, bind 127.0.0.1 on a free port, and record what they
received, so tests assert on what actually went over the wire (no mocks of aiosmtplib or twilio).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email
import email.policy
import json
import logging
import re
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's chatter about itself

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
TWILIO_SPEC = TESTS / "vendor" / "twilio" / "twilio_api_v2010_messages.json"  # see SOURCE.md

SMTP_USER = "nudge-bot@nordlys.example"
SMTP_PASSWORD = "s3cret-Smtp-PW-7f2c91"  # distinctive: searched for in every output
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "tw-token-5b9e0d17c4a8"


# -- a throwaway certificate authority and a server certificate for 127.0.0.1 -----------------


@dataclass(frozen=True)
class Certs:
    ca_file: Path  # what the client trusts (SSL_CERT_FILE)
    cert_file: Path
    key_file: Path

    def server_context(self):  # type: ignore[no-untyped-def]
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certs(folder: Path) -> Certs:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Nudge test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    certs = Certs(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    certs.ca_file.write_bytes(ca.public_bytes(pem))
    certs.cert_file.write_bytes(cert.public_bytes(pem))
    certs.key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certs


# -- SMTP ---------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    connection: int
    at: float

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(str(self.message["X-Nudge-Keys"]).split())


class _Recording(SMTP):
    """aiosmtpd's server, counting TCP connections and keeping every byte the client sent."""

    peer: SmtpPeer

    turned_away = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if getattr(self, "number", None) is None:  # a second call is the STARTTLS upgrade
            with self.peer.lock:
                self.peer.connections += 1
                self.number = self.peer.connections
                limit = self.peer.max_sessions
                self.turned_away = limit is not None and self.peer.open_sessions >= limit
                if self.turned_away:
                    self.peer.turned_away += 1
                else:
                    self.peer.open_sessions += 1
                    self.peer.most_open = max(self.peer.most_open, self.peer.open_sessions)
            if self.turned_away:  # as a relay with a per-host limit answers one too many
                cast(asyncio.Transport, transport).write(
                    b"421 4.4.5 Too many connections from your host\r\n"
                )
                transport.close()
                return
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self.turned_away:
            return
        with self.peer.lock:
            self.peer.open_sessions -= 1
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        if self.turned_away:
            return
        with self.peer.lock:
            self.peer.wire.append((self.number, bool(self._tls_protocol), data))
        super().data_received(data)


class _AnyPort(Controller):
    """aiosmtpd's threaded controller, bound to a port the OS picks (no race for a free one)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpPeer:
    """An SMTP server on 127.0.0.1 with STARTTLS and AUTH, whose misbehaviour a test scripts.

    fail_first: commands ("MAIL", "RCPT", "DATA") answered 421 the first time each is seen.
    refuse: recipient -> reply (e.g. "550 5.1.1 no such user").
    drop_at: the Nth message (1-based) is taken in and the connection closed without a reply.
    delay: seconds to sit on each message before answering 250 (`answered` lists those that
    got it).
    max_sessions: connections open at once beyond which one more is greeted "421 Too many
    connections" and closed (`turned_away` counts them, `most_open` is the most open at once).
    """

    def __init__(
        self, certs: Certs | None, *, password: str = SMTP_PASSWORD, require_auth: bool = True
    ) -> None:
        self.certs = certs
        self.password = password
        self.require_auth = require_auth
        self.lock = threading.Lock()
        self.connections = 0
        self.wire: list[tuple[int, bool, bytes]] = []  # (connection, inside TLS, bytes)
        self.received: list[Received] = []
        self.answered: list[Received] = []  # of those received, the ones given their 250
        self.dropped: list[Received] = []
        self.auth: list[tuple[str, str, str, bool]] = []  # (mechanism, login, password, ok)
        self.mail_commands = 0
        self.fail_first: set[str] = set()
        self.refuse: dict[str, str] = {}
        self.drop_at: int | None = None
        self.delay = 0.0
        self.max_sessions: int | None = None
        self.open_sessions = 0
        self.most_open = 0
        self.turned_away = 0
        self.on_message: Callable[[Received], None] | None = None
        self._data_seen = 0
        kwargs: dict[str, Any] = {}
        if certs is not None:
            kwargs.update(tls_context=certs.server_context(), require_starttls=True)
        self.controller = _AnyPort(
            self,
            hostname="127.0.0.1",
            port=0,
            authenticator=self._authenticate,
            auth_required=require_auth,
            auth_require_tls=certs is not None,
            **kwargs,
        )
        self.controller.factory = self._factory  # type: ignore[method-assign]

    def _factory(self) -> SMTP:
        with warnings.catch_warnings():  # AUTH without TLS is on purpose (the no-STARTTLS test)
            warnings.simplefilter("ignore")
            server = _Recording(self, **self.controller.SMTP_kwargs)
        server.peer = self
        return server

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def start(self) -> SmtpPeer:
        self.controller.start()
        deadline = time.monotonic() + 5
        while self.open_sessions and time.monotonic() < deadline:
            time.sleep(0.005)  # the controller's readiness probe, closing
        with self.lock:  # forget the controller's own readiness probe
            self.connections = self.most_open = 0
            self.wire.clear()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # aiosmtpd hooks

    def _authenticate(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        ok = login == SMTP_USER and password == self.password
        with self.lock:
            self.auth.append((mechanism, login, password, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def _first(self, command: str) -> bool:
        with self.lock:
            if command in self.fail_first:
                self.fail_first.discard(command)
                return True
        return False

    async def handle_MAIL(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            self.mail_commands += 1
        if self._first("MAIL"):
            return "421 4.7.0 try again later (scripted)"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self._first("RCPT"):
            return "421 4.7.0 try again later (scripted)"
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        got = Received(
            envelope.mail_from,
            list(envelope.rcpt_tos),
            bytes(envelope.content),
            getattr(server, "number", 0),
            time.monotonic(),
        )
        if self._first("DATA"):
            return "421 4.7.0 try again later (scripted)"
        with self.lock:
            self._data_seen += 1
            drop = self._data_seen == self.drop_at
            (self.dropped if drop else self.received).append(got)
        if drop:  # the data is in, the reply never comes: the client cannot know
            transport = cast(asyncio.Transport, server._original_transport or server.transport)
            transport.abort()
            await asyncio.sleep(3600)  # cancelled by connection_lost
        if self.on_message is not None:
            self.on_message(got)
        if self.delay:
            await asyncio.sleep(self.delay)  # cancelled when the client goes away meanwhile
        with self.lock:
            self.answered.append(got)
        return "250 2.0.0 OK queued as " + uuid.uuid4().hex[:12]

    # questions tests ask

    def sessions_with_mail(self) -> int:
        return len({r.connection for r in self.received + self.dropped})

    def plain_bytes(self) -> bytes:
        """Everything the client sent outside TLS."""
        return b"".join(data for _, tls, data in self.wire if not tls)


class SilentPeer:
    """A TCP server on 127.0.0.1 that takes every connection and never says a word (an SMTP
    server that hangs before its greeting, an API behind a stuck proxy); with `hang_up`, it
    closes each connection at once instead (a server that is going down). `accepted` counts
    the connections."""

    def __init__(self, hang_up: bool = False) -> None:
        import socket

        self.hang_up = hang_up
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = int(self.listener.getsockname()[1])
        self.accepted: list[Any] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(connection)
            if self.hang_up:
                connection.close()

    def __enter__(self) -> SilentPeer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()
        for connection in self.accepted:
            connection.close()


def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused at once."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- Twilio -------------------------------------------------------------------------------------


def load_spec() -> dict[str, Any]:
    return json.loads(TWILIO_SPEC.read_text(encoding="utf-8"))


def _nullable_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` is not JSON Schema: make it `type: [T, "null"]`."""
    if isinstance(node, dict):
        out = {k: _nullable_to_jsonschema(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") and isinstance(node.get("type"), str):
            out["type"] = [node["type"], "null"]
        if node.get("nullable") and "$ref" in node:
            return {"anyOf": [{"$ref": node["$ref"]}, {"type": "null"}]}
        return out
    if isinstance(node, list):
        return [_nullable_to_jsonschema(v) for v in node]
    return node


MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
MESSAGE_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json"


class TwilioSpec:
    """The Create Message and List Message operations of Twilio's OpenAPI spec, to check
    requests and responses."""

    def __init__(self) -> None:
        import jsonschema

        spec = load_spec()
        self.operation = spec["paths"][MESSAGES_PATH]["post"]
        self.list_operation = spec["paths"][MESSAGES_PATH]["get"]
        self.list_params = {
            p["name"]: _nullable_to_jsonschema(p["schema"])
            for p in self.list_operation["parameters"]
            if p["in"] == "query"
        }
        listed = self.list_operation["responses"]["200"]["content"]["application/json"]["schema"]
        components = _nullable_to_jsonschema(spec["components"])
        form = self.operation["requestBody"]["content"]["application/x-www-form-urlencoded"]
        self.form_schema = {**_nullable_to_jsonschema(form["schema"]), "components": components}
        created = self.operation["responses"]["201"]["content"]["application/json"]
        self.message_schema = {
            **_nullable_to_jsonschema(created["schema"]),
            "components": components,
        }
        self.example = created["examples"]["createWoService"]["value"]
        sid = next(p for p in self.operation["parameters"] if p["name"] == "AccountSid")
        self.sid_pattern = sid["schema"]["pattern"]
        self.security = {
            name for req in self.operation.get("security", spec.get("security", [])) for name in req
        }
        self.schemes = spec["components"]["securitySchemes"]
        self.path_regex = re.compile(
            "^"
            + re.escape(MESSAGES_PATH).replace(re.escape("{AccountSid}"), "(?P<sid>[^/]+)")
            + "$"
        )
        self.form_validator = jsonschema.Draft7Validator(self.form_schema)
        self.message_validator = jsonschema.Draft7Validator(self.message_schema)
        self.list_validator = jsonschema.Draft7Validator(
            {**_nullable_to_jsonschema(listed), "components": components}
        )
        fetch = spec["paths"][MESSAGE_PATH]["get"]  # Fetch Message: a message's status
        self.fetch_params = {p["name"]: p["schema"]["pattern"] for p in fetch["parameters"]}
        fetched = fetch["responses"]["200"]["content"]["application/json"]["schema"]
        self.fetched_validator = jsonschema.Draft7Validator(
            {**_nullable_to_jsonschema(fetched), "components": components}
        )
        self.fetch_regex = re.compile(
            "^"
            + re.escape(MESSAGE_PATH)
            .replace(re.escape("{AccountSid}"), "(?P<AccountSid>[^/]+)")
            .replace(re.escape("{Sid}"), "(?P<Sid>[^/]+)")
            + "$"
        )

    def fetch_problems(self, request: TwilioRequest) -> list[str]:
        """Everything wrong with a Fetch Message request, judged by the spec."""
        match = self.fetch_regex.match(request.path)
        if request.method.lower() != "get" or match is None:
            return [f"{request.method} {request.path} is not GET {MESSAGE_PATH}"]
        out = [
            f"{name} {match[name]!r} does not match {pattern}"
            for name, pattern in self.fetch_params.items()
            if not re.match(pattern, match[name])
        ]
        if request.auth is None or request.auth[0] != match["AccountSid"]:
            out.append("no HTTP basic auth with the account SID of the path")
        if request.raw:
            out.append("a GET with a body")
        return out

    def fetched(self, created: dict[str, Any], status: str, code: int | None) -> dict[str, Any]:
        """A 200 body for a message fetched later, with its delivery status, checked."""
        body = {
            **created,
            "status": status,
            "error_code": code,
            "error_message": f"error {code}" if code else None,
        }
        errors = [e.message for e in self.fetched_validator.iter_errors(body)]
        assert not errors, errors
        return body

    def problems(self, request: TwilioRequest) -> list[str]:
        """Everything wrong with a request, judged by the spec (empty when it conforms)."""
        out: list[str] = []
        if request.method.lower() not in ("post", "get"):
            out.append(f"method {request.method}, the spec has post and get for {MESSAGES_PATH}")
        match = self.path_regex.match(request.path)
        if match is None:
            return [*out, f"path {request.path} is not {MESSAGES_PATH}"]
        if not re.match(self.sid_pattern, match["sid"]):
            out.append(f"AccountSid {match['sid']!r} does not match {self.sid_pattern}")
        for name in self.security:
            scheme = self.schemes[name]
            if scheme["type"] == "http" and scheme["scheme"] == "basic":
                if request.auth is None:
                    out.append("no HTTP basic auth")
                elif request.auth[0] != match["sid"]:
                    out.append("basic auth user is not the account SID of the path")
        if request.method.lower() == "get":
            return out + self._list_problems(request)
        if request.query:
            out.append(f"query parameters on a create: {request.query}")
        if not request.content_type.startswith("application/x-www-form-urlencoded"):
            out.append(f"content type {request.content_type!r}, the spec has form-encoded")
        fields = dict(request.form)
        if len(fields) != len(request.form):
            out.append(f"repeated form fields: {request.form}")
        unknown = set(fields) - set(self.form_schema["properties"])
        if unknown:
            out.append(f"form fields not in the spec: {sorted(unknown)}")
        out += [f"form: {e.message}" for e in self.form_validator.iter_errors(fields)]
        if "Body" not in fields:
            out.append("no Body")
        if "From" not in fields and "MessagingServiceSid" not in fields:
            out.append("neither From nor MessagingServiceSid")
        return out

    def _list_problems(self, request: TwilioRequest) -> list[str]:
        """A List Message request: only the spec's query parameters, each of its type."""
        import jsonschema

        out = []
        if request.raw:
            out.append("a body on a list request")
        params = dict(request.query)
        if len(params) != len(request.query):
            out.append(f"repeated query parameters: {request.query}")
        for name, value in params.items():
            schema = self.list_params.get(name)
            if schema is None:
                out.append(f"query parameter {name!r} is not in the spec")
                continue
            typed: Any = value
            if schema.get("type") == "integer":
                if not re.fullmatch(r"-?[0-9]+", value):
                    out.append(f"{name}={value!r} is not an integer")
                    continue
                typed = int(value)
            if schema.get("format") == "phone-number" and not re.fullmatch(r"\+[0-9]{6,15}", value):
                out.append(f"{name}={value!r} is not a phone number in E.164")
            out += [
                f"{name}: {e.message}"
                for e in jsonschema.Draft7Validator(schema).iter_errors(typed)
            ]
        return out

    def listed(self, request: TwilioRequest, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The 200 body of a List Message request over `messages` (newest first), filtered by
        To, From and DateSent and cut into pages as Twilio does; checked against the spec."""
        params = dict(request.query)
        chosen = [
            m
            for m in messages
            if m["to"] == params.get("To", m["to"])
            and m["from"] == params.get("From", m["from"])
            and _date_sent_matches(m, params)
        ]
        size, page = int(params.get("PageSize", 50)), int(params.get("Page", 0))
        items = chosen[page * size : (page + 1) * size]
        query = {k: v for k, v in params.items() if k not in ("Page", "PageToken")}

        def uri(number: int) -> str:
            from urllib.parse import urlencode

            return request.path + "?" + urlencode({**query, "PageSize": size, "Page": number})

        more = (page + 1) * size < len(chosen)
        body = {
            "end": page * size + max(len(items) - 1, 0),
            "first_page_uri": uri(0),
            "messages": items,
            "next_page_uri": uri(page + 1) + f"&PageToken=PA{page + 1}" if more else None,
            "page": page,
            "page_size": size,
            "previous_page_uri": uri(page - 1) if page else None,
            "start": page * size,
            "uri": uri(page),
        }
        errors = [e.message for e in self.list_validator.iter_errors(body)]
        assert not errors, errors
        return body

    def created(self, sid: str, form: dict[str, str]) -> dict[str, Any]:
        """A 201 body shaped like the spec's example for this request, checked against the spec."""
        now = dt.datetime.now(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        message_sid = "SM" + uuid.uuid4().hex
        body = {
            **self.example,
            "account_sid": sid,
            "body": form.get("Body"),
            "from": form.get("From"),
            "to": form.get("To"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "sid": message_sid,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}.json",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media.json"
            },
        }
        errors = [e.message for e in self.message_validator.iter_errors(body)]
        assert not errors, errors
        return body


def _date_sent_matches(message: dict[str, Any], params: dict[str, str]) -> bool:
    """Twilio's DateSent filters (a day, or on/before, on/after it); unsent messages have none."""
    sent = message.get("date_sent")
    if not any(k in params for k in ("DateSent", "DateSent<", "DateSent>")):
        return True
    if sent is None:
        return False
    day = dt.datetime.strptime(sent, "%a, %d %b %Y %H:%M:%S %z").date().isoformat()
    return (
        day == params.get("DateSent", day)
        and day <= params.get("DateSent<", day)
        and day >= params.get("DateSent>", day)
    )


@dataclass
class TwilioRequest:
    method: str
    path: str
    content_type: str
    auth: tuple[str, str] | None
    form: list[tuple[str, str]]
    raw: bytes
    at: float
    query: list[tuple[str, str]] = field(default_factory=list)

    @property
    def to(self) -> str:
        return dict(self.form).get("To", "")


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def twilio_error(status: int, code: int, message: str) -> Reply:
    return Reply(
        status,
        {
            "code": code,
            "message": message,
            "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
        },
    )


class TwilioPeer:
    """Answers the Create Message and List Message operations like Twilio would; replies are
    scripted per number.

    lose: numbers whose create requests are read and then neither done nor answered (lost on
    the way in), until `release` is set.
    hold: numbers whose messages are created and then not answered until `release` is set.
    """

    def __init__(self, token: str = TWILIO_TOKEN) -> None:
        self.spec = TwilioSpec()
        self.token = token
        self.requests: list[TwilioRequest] = []  # messages sent (POST)
        self.fetches: list[TwilioRequest] = []  # statuses asked for (GET)
        self.created: list[dict[str, Any]] = []
        self.script: dict[str, list[Reply]] = {}  # number -> replies to give first, in order
        self.lose: set[str] = set()
        self.hold: set[str] = set()
        self.release = threading.Event()
        self.status: dict[str, tuple[str, int | None]] = {}  # number -> (status, error code)
        self.lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                reply = peer.answer(self.command, self.path, dict(self.headers.items()), raw)
                if reply is None:  # lost: the connection closes without an answer
                    self.close_connection = True
                    return
                data = json.dumps(reply.body).encode() if reply.body is not None else b""
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = do_PUT = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TwilioPeer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> TwilioPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply | None:
        lower = {k.lower(): v for k, v in headers.items()}
        auth = None
        value = lower.get("authorization", "")
        if value.startswith("Basic "):
            user, _, password = base64.b64decode(value[6:]).decode().partition(":")
            auth = (user, password)
        path, _, query = target.partition("?")
        form = parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw))
        request = TwilioRequest(
            method,
            path,
            lower.get("content-type", ""),
            auth,
            form,
            raw,
            time.monotonic(),
            parse_qsl(query, keep_blank_values=True),
        )
        with self.lock:
            (self.fetches if method == "GET" else self.requests).append(request)
        if method == "GET" and not self.spec.path_regex.match(path):
            return self._fetch(request)  # Fetch Message: /Messages/{Sid}.json
        if self.spec.problems(request):
            return twilio_error(400, 21000, "request does not conform to the spec")
        if auth != (TWILIO_SID, self.token):
            return twilio_error(401, 20003, "Authenticate")
        if method == "GET":  # List Message
            with self.lock:
                return Reply(200, self.spec.listed(request, self.messages()))
        if request.to in self.lose:
            self.release.wait(timeout=120)
            return None
        with self.lock:
            scripted = self.script.get(request.to)
            if scripted:
                return scripted.pop(0)
            body = self.spec.created(auth[0], dict(form))
            self.created.append(body)
        if request.to in self.hold:
            self.release.wait(timeout=120)
        return Reply(201, body)

    def messages(self) -> list[dict[str, Any]]:
        """What Twilio's list shows of the messages created: sent by now, newest first."""
        return [
            {**m, "status": "sent", "date_sent": m["date_created"]} for m in reversed(self.created)
        ]

    def posts(self) -> list[TwilioRequest]:
        with self.lock:
            return list(self.requests)

    def lists(self) -> list[TwilioRequest]:
        """The List Message requests (status fetches are the other GETs)."""
        with self.lock:
            return [r for r in self.fetches if self.spec.path_regex.match(r.path)]

    def _fetch(self, request: TwilioRequest) -> Reply:
        """Fetch Message: what became of a message this peer created (`status` per number;
        delivered unless told otherwise)."""
        if self.spec.fetch_problems(request):
            return twilio_error(400, 21000, "request does not conform to the spec")
        if request.auth != (TWILIO_SID, self.token):
            return twilio_error(401, 20003, "Authenticate")
        sid = request.path.rsplit("/", 1)[-1].removesuffix(".json")
        with self.lock:
            created = next((c for c in self.created if c["sid"] == sid), None)
        if created is None:
            return twilio_error(404, 20404, "The requested resource was not found")
        status, code = self.status.get(created["to"], ("delivered", None))
        return Reply(200, self.spec.fetched(created, status, code))


# -- the repository under test ------------------------------------------------------------------


def _block(name: str, values: dict[str, Any] | None) -> str:
    if values is None:
        return ""
    lines = [f"{name}:"] + [f"  {k}: {json.dumps(v)}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


def configure(
    root: Path,
    *,
    email: dict[str, Any] | None = None,
    sms: dict[str, Any] | None = None,
    inbound: dict[str, Any] | None = None,
) -> None:
    """Point settings.yaml's email/sms/inbound at local peers (None removes that section)."""
    path = root / "settings.yaml"
    text = path.read_text(encoding="utf-8")
    for name, values in (("email", email), ("sms", sms), ("inbound", inbound)):
        text, count = re.subn(
            rf"(?m)^{name}:\n(?:[ \t]+.*\n|\n)*", _block(name, values) + "\n", text
        )
        if count == 0:
            text = text.rstrip("\n") + "\n\n" + _block(name, values)
    path.write_text(text, encoding="utf-8")


def email_settings(peer: SmtpPeer, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": peer.port,
        "security": "starttls",
        "username_env": "SMTP_USERNAME",
        "password_env": "SMTP_PASSWORD",
        "timeout": 10,
        **extra,
    }


def sms_settings(peer: TwilioPeer) -> dict[str, Any]:
    return {
        "from": "+4570123456",
        "account_sid_env": "TWILIO_ACCOUNT_SID",
        "auth_token_env": "TWILIO_AUTH_TOKEN",
        "max_segments": 3,
        "api_base": peer.base,
    }


def live_env(
    certs: Certs | None = None, *, password: str = SMTP_PASSWORD, token: str = TWILIO_TOKEN
) -> dict[str, str]:
    env = {
        "SMTP_USERNAME": SMTP_USER,
        "SMTP_PASSWORD": password,
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": token,
        "NUDGE_RETRY_BASE_SECONDS": "0.01",
        "GITHUB_STEP_SUMMARY": "",
        "GITHUB_RUN_ID": "",
    }
    if certs is not None:
        env["SSL_CERT_FILE"] = str(certs.ca_file)
    return env


def start_nudge(root: Path, today: str, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    import os

    return subprocess.Popen(
        [sys.executable, "-m", "runner", "run", "--today", today, "--root", str(root), *extra],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# -- reading what a run left behind ------------------------------------------------------------


def log_entries(root: Path, month: str = "2026/11") -> list[dict[str, Any]]:
    path = root / "log" / f"{month}.jsonl"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn last line after a kill
    return out


def by_delivery(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The entries of each delivery a run claimed (its claim first), by delivery id."""
    out: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        if "delivery" in e:
            out.setdefault(e["delivery"], []).append(e)
    return {d: es for d, es in out.items() if any(e["status"] == "pending" for e in es)}


def outcome(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The one outcome entry of a delivery (its others are its claim and its hand-over)."""
    done = [e for e in entries if e["status"] not in ("pending", "handover")]
    assert len(done) == 1, entries
    return done[0]


def statuses(entries: list[dict[str, Any]]) -> list[str]:
    return [e["status"] for e in entries]


def secret_forms(*secrets: str) -> list[bytes]:
    """A secret, and the ways it could leak in disguise (SMTP AUTH PLAIN/LOGIN carry base64)."""
    forms: list[bytes] = []
    for secret in secrets:
        raw = secret.encode()
        forms += [
            raw,
            base64.b64encode(raw),
            base64.b64encode(b"\0" + SMTP_USER.encode() + b"\0" + raw),
        ]
    return forms


def assert_no_secrets(
    root: Path, *texts: str, secrets: tuple[str, ...] = (SMTP_PASSWORD, TWILIO_TOKEN)
) -> None:
    """No secret in the given outputs, nor in any file the run wrote (log, outbox, anything)."""
    forms = secret_forms(*secrets)
    for text in texts:
        for form in forms:
            assert form.decode() not in text, "a secret appears in the output"
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for form in forms:
                assert form not in data, f"a secret appears in {path.relative_to(root)}"


# -- running scenarios side by side -----------------------------------------------------------


@dataclass
class Ran:
    """What one scenario left: its repository copy, its peers, and each nudge run's result."""

    root: Path
    results: list[Any]
    smtp: SmtpPeer | None = None
    twilio: TwilioPeer | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> Any:
        return self.results[0]


class Scenarios:
    """Scenarios of a test module, started together (each in a thread driving its own peers and
    nudge subprocesses) so that the CPU-bound runs overlap; a test waits for the one it judges."""

    def __init__(self) -> None:
        self.functions: dict[str, Callable[..., Ran]] = {}

    def __call__(self, function: Callable[..., Ran]) -> Callable[..., Ran]:
        self.functions[function.__name__] = function
        return function

    def started(self, factory: Any) -> Iterator[dict[str, Any]]:
        """Every scenario started, each with its own folder and a throwaway CA: what a module's
        fixture yields (`yield from scenario.started(tmp_path_factory)`)."""
        certs = make_certs(factory.mktemp("certs"))
        pool, futures = self.start(factory.mktemp, certs)
        yield futures
        pool.shutdown(wait=True)

    def start(self, folder: Callable[[str], Path], *args: Any):  # type: ignore[no-untyped-def]
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=len(self.functions))
        futures = {
            name: pool.submit(function, folder(name), *args)
            for name, function in self.functions.items()
        }
        return pool, futures
