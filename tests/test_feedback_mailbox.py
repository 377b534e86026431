"""The inbound mailbox against a real IMAP server (Dovecot on 127.0.0.1, TLS): what is read,
what is marked, and what a bad message or a bad setup does (never a crash, never a deletion)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from imap import IMAP_PASSWORD, IMAP_USER, Dovecot
from mail import huge, message

from runner.feedback.mailbox import PROCESSED, Mailbox, MailboxError
from runner.model import InboundSettings

from peers import Certs, make_certs

OURS = "<nudge.0123456789abcdef0123456789abcdef@nordlys.example>"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def dovecot(certs: Certs, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dovecot]:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca_file))  # trust the throwaway CA
    with Dovecot(certs) as server:
        yield server


def mailbox(server: Dovecot, password: str = IMAP_PASSWORD, **extra: object) -> Mailbox:
    values = {**server.settings(), **extra}
    settings = InboundSettings(**values)  # type: ignore[arg-type]
    return Mailbox(settings, IMAP_USER, password)


def test_bad_messages_are_judged_and_skipped_never_a_crash(dovecot: Dovecot) -> None:
    dovecot.deliver(
        message("malformed-dsn.eml", recipient="ap@acme-industrial.example", message_id=OURS),
        message("nonutf8-header.eml", recipient="faktura@hyggehus.example", message_id=OURS),
        huge(20, From="Someone <someone@elsewhere.example>", Subject="Big scan",
             Message_ID="<big-1@elsewhere.example>"),
        huge(20, From="Jennifer Walsh <ap@acme-industrial.example>", Subject="RE: reminder",
             Message_ID="<big-2@acme-industrial.example>", In_Reply_To=OURS),
    )  # fmt: skip
    box = mailbox(dovecot)
    with box.session():
        fetched = box.new_messages()
    kinds = [(f.arrival.kind, f.size > 20_000_000) for f in fetched]
    assert kinds == [("damaged", False), ("reply", False), ("unrelated", True), ("reply", True)]
    assert fetched[1].arrival.subject.startswith("SV: Betalingspåmindelse")
    assert "too large" in fetched[3].arrival.excerpt  # judged by its headers alone
    assert dovecot.flags() == [()] * 4  # read with PEEK: a person still sees them unread


def test_marked_messages_are_not_read_again_and_nothing_is_deleted(dovecot: Dovecot) -> None:
    dovecot.deliver(message("reply.eml", recipient="ap@acme-industrial.example", message_id=OURS))
    box = mailbox(dovecot)
    with box.session():
        [first] = box.new_messages()
    with box.session():
        box.mark_processed([first.uid], box.uidvalidity)
    dovecot.deliver(message("out-of-office.eml", recipient="x@acme.example", message_id=OURS))
    with box.session():
        later = box.new_messages()
    assert [f.arrival.kind for f in later] == ["autoreply"]
    assert dovecot.flags() == [(PROCESSED,), ()]
    assert dovecot.count() == 2


def test_copies_are_found_by_message_id_in_the_folders_named(dovecot: Dovecot) -> None:
    copy = f"Message-ID: {OURS}\r\nSubject: a reminder\r\n\r\ntext\r\n".encode()
    dovecot.deliver(copy, folder="Copies")
    box = mailbox(dovecot)
    other = "<nudge.ffffffffffffffffffffffffffffffff@nordlys.example>"
    with box.session():
        found = box.holding(["Missing", "Copies", "INBOX"], [OURS, other])
    assert found == {OURS: "Copies"}


def test_a_wrong_password_says_which_variables_to_check(dovecot: Dovecot) -> None:
    with pytest.raises(
        MailboxError, match="refused the login: check IMAP_USERNAME and IMAP_PASSWORD"
    ):
        mailbox(dovecot, password="wrong").connect()


def test_an_untrusted_certificate_is_refused(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stranger = make_certs(tmp_path_factory.mktemp("stranger"))
    monkeypatch.setenv("SSL_CERT_FILE", str(stranger.ca_file))
    with pytest.raises(MailboxError, match="TLS certificate not trusted"):
        mailbox(dovecot).connect()


def test_a_missing_folder_is_a_sentence(dovecot: Dovecot) -> None:
    box = mailbox(dovecot, folder="Bounces")
    with pytest.raises(MailboxError, match="cannot read 'Bounces'"), box.session():
        box.new_messages()
