"""A real IMAP server for the tests: Dovecot (Debian's dovecot-imapd), on 127.0.0.1, over TLS.

Each server gets a throwaway configuration in a temporary folder: implicit TLS on a free port
with the tests' throwaway certificate, one user from a passwd-file, Maildir storage. It runs in
the foreground as a child of the test process and is stopped with it. `.ci/run` installs the
package; without it the tests that need it fail with a sentence saying so (never a skip).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

from peers import Certs

IMAP_USER = "bounces@nordlys.example"
IMAP_PASSWORD = "imap-Pw-93e1c7d0"  # distinctive: searched for in every output
DOVECOT = "/usr/sbin/dovecot"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accounts() -> tuple[str, str, str]:
    """(user for the server's own processes, user for logins, user owning the mail)."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        return me, me, me
    return "dovecot", "dovenull", "dovenull"  # Dovecot refuses to keep mail as root


class Dovecot:
    def __init__(self, certs: Certs) -> None:
        if not Path(DOVECOT).exists():
            raise RuntimeError(
                "Dovecot is not installed: `apt-get install dovecot-imapd` (.ci/run does it)"
            )
        # Its own folder, not pytest's: Dovecot's processes run as other users and must reach
        # their files (pytest's temporary folders are private to the user running the tests).
        import tempfile

        self.folder = Path(tempfile.mkdtemp(prefix="nudge-dovecot-"))
        os.chmod(self.folder, 0o755)
        self.certs = certs
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def _config(self) -> Path:
        internal, login, owner = _accounts()
        entry = pwd.getpwnam(owner)
        mail = self.folder / "mail"
        mail.mkdir(parents=True, exist_ok=True)
        for path in (self.folder, mail):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        run = self.folder / "run"
        run.mkdir(exist_ok=True)
        users = self.folder / "users"
        users.write_text(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}\n", encoding="utf-8")
        os.chmod(users, 0o644)
        config = self.folder / "dovecot.conf"
        config.write_text(
            f"""
protocols = imap
listen = 127.0.0.1
base_dir = {run}
state_dir = {run}
log_path = {self.folder}/dovecot.log
instance_name = nudge-test-{self.port}
default_internal_user = {internal}
default_internal_group = {_group(internal)}
default_login_user = {login}
first_valid_uid = 1
ssl = required
ssl_cert = <{self.certs.cert_file}
ssl_key = <{self.certs.key_file}
auth_mechanisms = plain login
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = static
  args = uid={entry.pw_uid} gid={entry.pw_gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
""",
            encoding="utf-8",
        )
        return config

    def start(self) -> Dovecot:
        config = self._config()
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Dovecot stopped: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Dovecot did not listen on {self.port} in 20 s: {self.log()}")

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        stderr = b""
        if self.process is not None and self.process.poll() is not None and self.process.stderr:
            stderr = self.process.stderr.read()
        text = path.read_text(errors="replace") if path.exists() else ""
        return (text + stderr.decode(errors="replace"))[-2000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- what a test does with the mailbox, through a real IMAP client -------------------------

    def client(self) -> Any:
        from imapclient import IMAPClient

        context = ssl.create_default_context(cafile=str(self.certs.ca_file))
        client = IMAPClient("127.0.0.1", port=self.port, ssl=True, ssl_context=context, timeout=10)
        client.login(IMAP_USER, IMAP_PASSWORD)
        return client

    def deliver(self, *messages: bytes, folder: str = "INBOX") -> None:
        """Put messages in a folder, as the mail server would on arrival (IMAP APPEND)."""
        with self.client() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in messages:
                client.append(folder, raw)

    def flags(self, folder: str = "INBOX") -> list[tuple[bytes, ...]]:
        with self.client() as client:
            client.select_folder(folder, readonly=True)
            found = client.get_flags(client.search("ALL"))
            return [tuple(found[uid]) for uid in sorted(found)]

    def count(self, folder: str = "INBOX") -> int:
        with self.client() as client:
            return int(client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])

    def settings(self, **extra: Any) -> dict[str, Any]:
        """The `inbound` block of settings.yaml for this server."""
        return {
            "address": IMAP_USER,
            "host": "127.0.0.1",
            "port": self.port,
            "username_env": "IMAP_USERNAME",
            "password_env": "IMAP_PASSWORD",
            "timeout": 10,
            **extra,
        }


def _group(user: str) -> str:
    import grp

    return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name


def imap_env() -> dict[str, str]:
    return {"IMAP_USERNAME": IMAP_USER, "IMAP_PASSWORD": IMAP_PASSWORD}
