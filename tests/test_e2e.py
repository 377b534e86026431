"""End to end, as a company would live with it: a pull request's plan diff, a scheduled run that
sends to real local SMTP and Twilio peers and pushes its log to a bare remote, a second run that
sends nothing, and `history` and `show` telling what happened."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT, copy_sample, git, nudge
from peers import (
    SmtpPeer,
    TwilioPeer,
    configure,
    email_settings,
    live_env,
    make_certs,
    sms_settings,
)


def test_a_day_in_the_life(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "certs")
    with SmtpPeer(certs=certs) as smtp, TwilioPeer() as twilio:
        bare = tmp_path / "remote.git"
        git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
        office = copy_sample(tmp_path / "office")
        for name in (".gitattributes", ".gitignore"):
            (office / name).write_text((ROOT / name).read_text())
        configure(office, email=email_settings(smtp), sms=sms_settings(twilio))
        git(office, "init", "-q", "-b", "main")
        git(office, "config", "user.name", "Ada Finance")
        git(office, "config", "user.email", "ada@example.com")
        git(office, "add", "-A")
        git(office, "commit", "-qm", "our receivables")
        git(office, "remote", "add", "origin", str(bare))
        git(office, "push", "-q", "-u", "origin", "main")

        # a pull request: Huaxin asked for a pause; the check shows what that changes
        git(office, "checkout", "-q", "-b", "pause-huaxin")
        customer = office / "customers" / "huaxin-trading.yaml"
        customer.write_text(customer.read_text() + "paused_until: 2026-12-31\n")
        git(office, "commit", "-qam", "Huaxin asked us to wait until the new year")
        diff = nudge(
            "plan",
            "--root",
            str(office),
            "--today",
            "2026-11-23",
            "--against",
            "main",
            "--format",
            "json",
        )
        assert diff.code == 0, diff.err
        changes = json.loads(diff.out)["changes"]
        assert {(c["change"], c["customer"]) for c in changes} == {("removed", "huaxin-trading")}
        git(office, "checkout", "-q", "main")
        git(office, "merge", "-q", "--ff-only", "pause-huaxin")
        git(office, "push", "-q")

        # the scheduled run, in a fresh checkout as CI has it
        ci = tmp_path / "ci"
        git(tmp_path, "clone", "-q", str(bare), str(ci))
        env = live_env(certs)
        first = nudge(
            "run",
            "--root",
            str(ci),
            "--today",
            "2026-11-23",
            "--push",
            "--transport",
            "live",
            env=env,
        )
        assert first.code == 0, first.out + first.err
        assert first.out.startswith("2026-11-23 sent 10 (email 6, letter 1, sms 2, task 1)")
        mailed = len(smtp.received)
        assert mailed == 7  # 6 e-mails to customers (one per customer) and 1 task for our people
        assert len(twilio.requests) == 2
        assert not any("huaxin" in r.rcpt_tos[0] for r in smtp.received)
        check = tmp_path / "check"
        git(tmp_path, "clone", "-q", str(bare), str(check))
        assert git(check, "log", "-1", "--format=%s").startswith("nudge: 2026-11-23 sent 10")

        # a second run the same day, from another checkout: nothing is sent twice
        again = nudge(
            "run",
            "--root",
            str(check),
            "--today",
            "2026-11-23",
            "--push",
            "--transport",
            "live",
            env=env,
        )
        assert again.code == 0, again.err
        assert again.out.startswith("2026-11-23 sent 0")
        assert len(smtp.received) == mailed and len(twilio.requests) == 2

        # what happened, from git alone
        received = next(
            r for r in smtp.received if "INV-1042/weekly-statement/2026-11-23/email" in r.keys
        )
        key = "INV-1042/weekly-statement/2026-11-23/email"
        shown = nudge("show", "--root", str(check), key)
        assert shown.code == 0, shown.err
        body = received.message.get_body(("plain",))
        assert body is not None
        assert shown.out == body.get_content().replace("\r\n", "\n")  # SMTP's line ends
        history = nudge("history", "--root", str(check), "INV-1042")
        assert "weekly-statement email to ap@acme-industrial.example" in history.out
        huaxin = nudge("history", "--root", str(check), "huaxin-trading")
        assert "customer huaxin-trading: paused_until (none) -> 2026-12-31" in huaxin.out
