"""Every command refuses an invalid repository the same way, with the README's exit codes; a
symbolic link leading out of the repository is refused, never read; ids may hold slashes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import FIXTURE, copy_sample, in_process, nudge

TODAY = "2026-11-23"
# (arguments, exit code): the README's table; run exits 2 because it would send
COMMANDS = [
    (["validate"], 1),
    (["plan", "--today", TODAY], 1),
    (["plan", "--explain", "INV-1042", "--today", TODAY], 1),
    (["test"], 1),
    (["backtest", "--from", "2026-11-01", "--to", TODAY], 1),
    (["history", "acme"], 1),
    (["note", "INV-1042", "called", "--today", TODAY], 1),
    (["report", "--today", TODAY], 1),
    (["run", "--today", TODAY], 2),
    (["run", "--today", TODAY, "--dry-run"], 2),
]


@pytest.fixture(scope="module")
def broken_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Valid files, one template that does not parse: before, `plan` exited 0 on it."""
    root = copy_sample(tmp_path_factory.mktemp("template"))
    path = root / "templates" / "gentle-tier-1" / "en.email.j2"
    path.write_text(path.read_text().replace("{% endblock %}", "{% endblok %}", 1))
    return root


@pytest.mark.parametrize(("args", "code"), COMMANDS, ids=[" ".join(a[:2]) for a, _ in COMMANDS])
def test_every_command_refuses_an_invalid_repository_alike(
    broken_template: Path, args: list[str], code: int
) -> None:
    result = in_process(*args, "--root", str(broken_template))
    assert result.code == code, result.out + result.err
    assert "Traceback" not in result.err
    if args[0] == "validate":
        assert "templates/gentle-tier-1/en.email.j2:" in result.out
        return
    assert result.err.startswith("nudge: the repository is not valid (1 error); nothing was done:")
    assert "templates/gentle-tier-1/en.email.j2:" in result.err
    assert not (broken_template / "log").exists() and not (broken_template / "outbox").exists()


def outside(tmp_path: Path, name: str, text: str) -> Path:
    target = tmp_path / "elsewhere" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def test_links_leading_out_of_the_repository_are_refused_not_read(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "repo")
    secret = "SECRET-FROM-OUTSIDE"
    invoice = (root / "invoices" / "2026" / "INV-1059.yaml").read_text()
    stolen = outside(tmp_path, "inv.yaml", invoice.replace("INV-1059", "INV-9999"))
    (root / "invoices" / "2026" / "INV-9999.yaml").symlink_to(stolen)
    (root / "invoices" / "elsewhere").symlink_to(stolen.parent, target_is_directory=True)
    template = outside(tmp_path, "t.j2", secret)
    (root / "templates" / "gentle-tier-1" / "da_DK.email.j2").symlink_to(template)
    # a link that stays inside is read as the file it points to
    (root / "invoices" / "2026" / "INV-1059-copy.yaml").symlink_to("INV-1059.yaml")
    result = in_process("validate", "--root", str(root))
    assert result.code == 1
    assert result.out.splitlines() == [
        "invoices/2026/INV-1059.yaml:2:5: duplicate invoice id 'INV-1059': already used in "
        "invoices/2026/INV-1059-copy.yaml",
        "invoices/2026/INV-9999.yaml:1:1: a symbolic link to something outside the repository: "
        "Nudge reads only files inside it (copy the file in instead)",
        "invoices/elsewhere:1:1: a symbolic link to something outside the repository: Nudge reads "
        "only files inside it (copy the file in instead)",
        "templates/gentle-tier-1/da_DK.email.j2:1:1: a symbolic link to something outside the "
        "repository: Nudge reads only files inside it (copy the file in instead)",
    ], result.out
    assert secret not in result.out + result.err and "INV-9999" not in result.err


def test_settings_attachments_and_log_files_leading_out_are_refused(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "repo")
    invoice = root / "invoices" / "2026" / "INV-1042.yaml"
    pdf = outside(tmp_path, "other.pdf", "%PDF-1.4 not ours")
    (root / "invoices" / "pdf" / "link.pdf").symlink_to(pdf)
    invoice.write_text(
        invoice.read_text().replace("invoices/pdf/INV-1042.pdf", "invoices/pdf/link.pdf")
    )
    result = in_process("validate", "--root", str(root))
    assert result.code == 1
    assert (
        "invoices/2026/INV-1042.yaml:8:13: attachment: 'invoices/pdf/link.pdf' is outside the "
        "repository (or a link leading out of it): Nudge attaches only files inside the repository"
    ) in result.out.splitlines(), result.out
    invoice.write_text(invoice.read_text().replace("invoices/pdf/link.pdf", "../../etc/hostname"))
    assert (
        "'../../etc/hostname' is outside the repository"
        in in_process("validate", "--root", str(root)).out
    )
    invoice.write_text(
        invoice.read_text().replace("../../etc/hostname", "invoices/pdf/INV-1042.pdf")
    )
    # the log: a month file that is a link out is neither read nor written through
    log = root / "log" / "2026"
    log.mkdir(parents=True)
    (log / "11.jsonl").symlink_to(outside(tmp_path, "11.jsonl", ""))
    ran = in_process("run", "--root", str(root), "--today", TODAY)
    assert ran.code == 1 and "Traceback" not in ran.err
    assert "log/2026/11.jsonl: a symbolic link to something outside the repository" in ran.err
    assert (tmp_path / "elsewhere" / "11.jsonl").read_text() == ""
    # settings.yaml itself
    os.replace(root / "settings.yaml", tmp_path / "elsewhere" / "settings.yaml")
    (root / "settings.yaml").symlink_to(tmp_path / "elsewhere" / "settings.yaml")
    result = in_process("validate", "--root", str(root))
    assert result.code == 1
    assert result.out.splitlines()[0].startswith(
        "settings.yaml:1:1: a symbolic link to something outside"
    )


def test_policy_test_cases_that_cannot_be_run_are_failures_with_a_reason(tmp_path: Path) -> None:
    root = copy_sample(tmp_path / "repo")
    cases = root / "policies" / "tests"
    (cases / "a-folder.yaml").mkdir()
    (cases / "huge.yaml").write_text(
        "policy: gentle\n"
        f'invoice: {{id: T-1, issued: 2026-03-01, due: 2026-03-31, amount: "{"9" * 400}"}}\n'
        "run: {from: 2026-03-20, to: 2026-06-30}\n"
        "expect: []\n"
    )
    (cases / "forever.yaml").write_text(
        "policy: gentle\n"
        'invoice: {id: T-1, issued: 2026-03-01, due: 2026-03-31, amount: "10.00"}\n'
        "run: {from: 1900-01-01, to: 2200-12-31}\n"
        "expect: []\n"
    )
    (cases / "wrong-keys.yaml").write_text("policy: gentle\ninvoice: 3\nrun: {}\nexpect: [1]\n")
    result = in_process("test", "--root", str(root))
    assert result.code == 1 and "Traceback" not in result.err
    lines = result.out.splitlines()
    assert (
        "  policies/tests/a-folder.yaml:1:1: is a folder, not a test case file: rename or remove it"
        in lines
    )
    assert any(
        line.startswith("  policies/tests/huge.yaml:2:") and "is too large" in line
        for line in lines
    ), result.out
    assert (
        "  policies/tests/forever.yaml:3:6: run: 3661 days; a case runs at most 3660 (ten years)"
    ) in lines, result.out
    assert any(
        line.startswith("  policies/tests/wrong-keys.yaml:2:10: invoice: expected")
        for line in lines
    )
    sample_cases = len(list((FIXTURE / "policies" / "tests").glob("*.yaml")))
    assert lines[-1] == f"{sample_cases} passed, 4 failed"


def test_invoice_ids_with_slashes_go_all_the_way(tmp_path: Path) -> None:
    """FV/2026/11/201, the Polish way: validated, planned, sent, logged, told, noted; the file
    name is free (nothing ties it to the id)."""
    root = copy_sample(tmp_path / "repo")
    source = (root / "invoices" / "2026" / "INV-1059.yaml").read_text()
    (root / "invoices" / "2026" / "INV-1059.yaml").unlink()
    (root / "invoices" / "2026" / "faktura-201.yaml").write_text(
        source.replace("id: INV-1059", "id: FV/2026/11/201")
    )
    assert in_process("validate", "--root", str(root)).code == 0
    plan = in_process("plan", "--root", str(root), "--today", TODAY, "--format", "json")
    keys = [k for d in __import__("json").loads(plan.out)["deliveries"] for k in d["keys"]]
    assert "FV/2026/11/201/heads-up/2026-11-23/email" in keys
    ran = nudge("run", "--root", str(root), "--today", TODAY)
    assert ran.code == 0, ran.err
    # one e-mail to the customer that day: the heads-up shares the message of its tier-3
    (mail,) = [p.read_text() for p in (root / "outbox" / TODAY).glob("thames-analytics.*.eml")]
    assert "FV/2026/11/201" in mail
    assert "https://pay.nordlys.example/FV%2F2026%2F11%2F201" in mail  # one path segment
    history = in_process("history", "FV/2026/11/201", "--root", str(root))
    assert history.code == 0 and "heads-up email to" in history.out, history.out
    noted = in_process(
        "note", "FV/2026/11/201", "called, paying Friday", "--root", str(root), "--today", TODAY
    )
    assert noted.code == 0 and "noted for FV/2026/11/201" in noted.out
