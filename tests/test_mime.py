"""The direct MIME writer makes the message the email package makes: same headers (as a reader
decodes them), same parts, same content, same attachment; 7-bit, CRLF, no line over 998."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, date, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import FileSystemLoader

from runner import mime, schedule, workspace
from runner.compose import (
    WIRE_POLICY,
    HeaderInjection,
    Outgoing,
    compose,
    email_message,
    header_value,
)
from runner.mime import wire_bytes
from runner.model import Contact, Repository
from runner.templates import Renderer

from conftest import copy_sample

SENT = datetime(2026, 11, 23, 7, 0, 5, tzinfo=UTC)
HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "Auto-Submitted")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repository, list[Outgoing]]:
    root = copy_sample(tmp_path_factory.mktemp("mime") / "repo")
    repo = workspace.load_valid(root).repo
    log, _ = workspace.read_log(root)
    plan = schedule.plan(repo, log, schedule.noon(date(2026, 11, 23), "Europe/Copenhagen"))
    renderer = Renderer(FileSystemLoader(str(root / "templates")))
    out = [
        compose(repo, d, renderer, root, log)
        for d in plan.deliveries
        if d.channel in ("email", "task") and d.to
    ]
    assert len(out) >= 6 and any(o.attachments for o in out) and any(not o.html for o in out)
    return repo, out


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def reader_view(message: EmailMessage) -> dict[str, Any]:
    """What a mail client shows: decoded headers, the addresses, the parts and their content."""
    view: dict[str, Any] = {h: str(message[h]) if message[h] else None for h in HEADERS}
    for h in ("To", "Cc"):
        view[h + " addresses"] = [
            (a.display_name, a.addr_spec) for a in (message[h].addresses if message[h] else ())
        ]
    view["X-Nudge-Keys"] = " ".join(str(message["X-Nudge-Keys"]).split())
    view["tree"] = [part.get_content_type() for part in message.walk()]
    for kind in ("plain", "html"):
        body = message.get_body((kind,))
        view[kind] = body.get_content() if body is not None else None
    view["attachments"] = [(a.get_filename(), a.get_content()) for a in message.iter_attachments()]
    return view


def wire_ok(data: bytes) -> None:
    assert all(b < 128 for b in data), "7-bit clean"
    assert b"\n" not in data.replace(b"\r\n", b""), "CRLF line ends only"
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def same_message(repo: Repository, out: Outgoing) -> None:
    ours = wire_bytes(repo, out, SENT)
    reference = email_message(repo, out, SENT).as_bytes(policy=WIRE_POLICY)
    wire_ok(ours)
    if out.html or out.attachments:
        assert b'boundary="=_nudge_' in ours, "written by runner.mime, not the fallback"
    assert reader_view(parsed(ours)) == reader_view(parsed(reference))


def test_every_sample_message_reads_the_same(sample: tuple[Repository, list[Outgoing]]) -> None:
    repo, outgoing = sample
    for out in outgoing:
        same_message(repo, out)


@pytest.mark.parametrize(
    "name",
    [
        "Ciarán O'Brien",
        "نگین رضایی",
        "王 伟",
        'Smith, "Jo" (AP)',
        "Ærø Økonomi <ap@x>",
        "A very long display name " * 6,
        "",
    ],
)
def test_names_subjects_and_many_keys(sample: tuple[Repository, list[Outgoing]], name: str) -> None:
    repo, outgoing = sample
    out = next(o for o in outgoing if o.attachments)
    contacts = (Contact(name, "billing", "ap@acme.example"), Contact("Bo", "finance", "b@x.dk"))
    delivery = replace(
        out.delivery, keys=tuple(f"INV-{n}/tier-1/2026-11-23/email" for n in range(80))
    )
    variant = replace(
        out,
        delivery=delivery,
        to=contacts,
        cc=contacts[:1],
        subject=" ".join((f"{name} — påmindelse om faktura, 提醒 " * 3).split()),
        text=out.text + "\nA line with trailing spaces   \n" + "x" * 1200 + "\n=3D literal\n",
    )
    same_message(repo, variant)


def test_plain_ascii_message_without_html(sample: tuple[Repository, list[Outgoing]]) -> None:
    repo, outgoing = sample
    out = replace(
        outgoing[0], html=None, attachments=(), subject="Reminder: INV-1042", text="Hi.\n"
    )
    same_message(repo, out)
    assert b"Content-Transfer-Encoding: 7bit" in wire_bytes(repo, out, SENT)


def test_a_line_break_in_a_name_is_refused_not_sent(
    sample: tuple[Repository, list[Outgoing]],
) -> None:
    repo, outgoing = sample
    out = replace(outgoing[0], to=(Contact("Eve\r\nBcc: x@evil.example", "billing", "e@x.dk"),))
    with pytest.raises(HeaderInjection):
        wire_bytes(repo, out, SENT)


def test_an_internationalised_address_is_left_to_the_email_package(
    sample: tuple[Repository, list[Outgoing]],
) -> None:
    repo, outgoing = sample
    out = replace(outgoing[0], to=(Contact("Jørn", "billing", "jørn@bolig.dk"),))
    try:
        reference = email_message(repo, out, SENT).as_bytes(policy=WIRE_POLICY)
    except Exception as exc:  # the package refuses it too: so does the writer, the same way
        with pytest.raises(type(exc)):
            wire_bytes(repo, out, SENT)
        return
    assert wire_bytes(repo, out, SENT) == reference


def test_attachment_bytes_survive(
    tmp_path: Path, sample: tuple[Repository, list[Outgoing]]
) -> None:
    repo, outgoing = sample
    pdf = tmp_path / "INV-1.pdf"
    pdf.write_bytes(bytes(range(256)) * 40)
    out = replace(outgoing[0], attachments=(pdf,))
    [(name, content)] = reader_view(parsed(wire_bytes(repo, out, SENT)))["attachments"]
    assert (name, content) == ("INV-1.pdf", pdf.read_bytes())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=160).filter(lambda t: not t.isascii()))
def test_a_subject_in_encoded_words_reads_back_exactly(subject: str) -> None:
    """The subject's own RFC 2047 writer, read by both of the email package's decoders (the
    parser of a received message and email.header's): the very text, and no line longer than
    76 characters. (email.header's writer is no reference here: it turns a form feed into a
    space.)"""
    try:
        value = header_value(subject)
    except HeaderInjection:
        return  # a line break: refused before any writer sees it
    if "=?" in value or value != value.strip():
        return  # left to the package (mime._text_header)
    ours = "Subject: " + mime._encoded_words(value, len("Subject: "))
    assert ours.isascii()
    assert all(len(line) <= 76 for line in ours.split("\r\n"))
    assert read_subject(ours) == value
    unfolded = ours.removeprefix("Subject: ").replace("\r\n", "")
    assert str(make_header(decode_header(unfolded))) == value


def read_subject(header: str) -> str:
    message = email.message_from_bytes(
        (header + "\r\n\r\n").encode("ascii"), policy=email.policy.default
    )
    return str(message["Subject"])
