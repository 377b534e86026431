"""Mutation fuzzing: random edits to every kind of file a repository holds (settings, customers,
invoices and exports, policies, policy test cases, templates, the send log), and `validate`,
`plan`, `test` and `run --dry-run` on each result: never exit 3, never a traceback, never a hang.

Edits: values of the wrong type, extreme numbers and dates, deleted, duplicated and re-indented
lines, tabs, truncation, aliases, anchors and tags, bytes that are not UTF-8, empty files, files
turned into folders, symbolic links (out of the repository, dangling, looping), Jinja that does
not parse or does not render, log lines of the wrong shape.

Each CI run draws new cases from a fresh seed, printed with every failure:
NUDGE_FUZZ_SEED=<seed> replays them, NUDGE_FUZZ_CASES=<n> sets how many (default 200). The
commands run in this process (a subprocess each would cost a second of start-up), each under a
timer that turns a hang into a failure.
"""

from __future__ import annotations

import gc
import json
import os
import random
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import BASE_CASE, Result, copy_sample, in_process

TODAY = "2026-11-23"
CASES = int(os.environ.get("NUDGE_FUZZ_CASES", "200"))
SEED = int(os.environ.get("NUDGE_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
HANG_SECONDS = 30  # any one command taking longer is a hang
FULL_SHARE = 0.03  # of the cases, on the whole test company (slower: 48 templates compile)
COMMANDS = (
    ("validate",),
    ("plan", "--today", TODAY),
    ("test",),
    ("run", "--dry-run", "--today", TODAY),
)

# -- the repository the edits start from -------------------------------------------------------

EXTRA = {
    # an SMS step and its template, a phone for every billing contact
    "templates/final/en.sms.j2": (
        "{{ company.name }}: invoice {{ invoices[0].id }}, {{ invoices[0].balance | "
        "money(invoices[0].currency) }}, is {{ days_overdue }} days overdue. {{ payment.link }}\n"
    ),
    "policies/tests/standard-paid-late.yaml": (
        "policy: standard\n"
        'invoice: {id: T-1, issued: 2026-03-01, due: 2026-03-31, amount: "1000.00",\n'
        '          payments: [{date: 2026-04-20, amount: "1000.00"}]}\n'
        "run: {from: 2026-03-20, to: 2026-05-31}\n"
        "expect:\n"
        "  - {date: 2026-04-03, step: reminder, channel: email}\n"
        "  - {date: 2026-04-14, step: final, channel: email}\n"
        "  - {date: 2026-04-14, step: final, channel: sms}\n"
    ),
    "invoices/2026/export-2026-10.yaml": (
        "invoices:\n"
        "  - id: FV/2026/10/7\n"
        "    customer: beta\n"
        '    description: "Support: October"\n'
        "    issued: 2026-10-01\n"
        "    due: 2026-10-31\n"
        '    amount: "900.00"\n'
        "    installments:\n"
        '      - {due: 2026-10-31, amount: "450.00"}\n'
        '      - {due: 2026-11-30, amount: "450.00"}\n'
        "  - id: INV-7\n"
        "    customer: acme\n"
        "    issued: 2026-10-05\n"
        "    due: 2026-11-04\n"
        '    amount: "1200.50"\n'
        '    promise: {date: 2026-11-20, amount: "600.00", made: 2026-11-10}\n'
        '    discount: {percent: "2", until: 2026-10-15}\n'
        "    paused_until: 2026-11-12\n"
    ),
}


def log_lines() -> str:
    claim_until = "2099-01-01T00:00:00Z"
    entries = [
        {"status": "sent", "delivery": "d1", "keys": ["INV-1/reminder/2026-10-04/email"]},
        {
            "status": "pending",
            "delivery": "d2",
            "keys": ["INV-2/reminder/2026-10-18/email"],
            "until": claim_until,
            "host": "elsewhere/boot",
            "pid": 1,
        },
        {
            "status": "handover",
            "delivery": "d3",
            "keys": ["INV-3/reminder/2026-10-23/email"],
            "message_id": "<nudge.x@example.com>",
        },
        {"status": "missed", "delivery": "d4", "keys": ["INV-1/final/2026-10-15/email"]},
        {"status": "note", "invoices": ["INV-2"], "text": "called", "channel": "call"},
        {"status": "reconciled", "delivery": "d3", "sent": False, "evidence": "none"},
    ]
    return "".join(
        json.dumps(
            {
                "id": f"e{n}",
                "at": f"2026-11-0{n + 1}T06:00:00Z",
                "date": "2026-11-01",
                "customer": "acme",
                "channel": "email",
                **e,
            }
        )
        + "\n"
        for n, e in enumerate(entries)
    )


def small_base(target: Path) -> Path:
    """tests/corpus/_base, grown to hold every kind of file: an SMS step, an export with
    installments and a promise, a policy test case, a send log."""
    shutil.copytree(BASE_CASE, target)
    for rel, text in EXTRA.items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text(text, encoding="utf-8")
    policy = target / "policies" / "standard.yaml"
    policy.write_text(
        policy.read_text().replace("    send: [email]\n    cc:", "    send: [email, sms]\n    cc:")
    )
    beta = target / "customers" / "beta.yaml"
    beta.write_text(
        beta.read_text().replace(
            "    email: accounts@beta.example",
            '    email: accounts@beta.example\n    phone: "+44 7911 123456"',
        )
    )
    with (target / "settings.yaml").open("a", encoding="utf-8") as settings:
        settings.write(
            'sms:\n  from: "+4570123456"\n  max_segments: 3\nrun:\n  deadline_minutes: 5\n'
        )
    (target / "log" / "2026").mkdir(parents=True)
    (target / "log" / "2026" / "11.jsonl").write_text(log_lines(), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("fuzz-bases")
    full = copy_sample(folder / "full")
    (full / "log" / "2026").mkdir(parents=True)
    (full / "log" / "2026" / "11.jsonl").write_text(log_lines(), encoding="utf-8")
    return {"small": small_base(folder / "small"), "full": full}


# -- the edits -----------------------------------------------------------------------------------

VALUES = [
    "", "~", "null", "yes", "NO", "on", "[]", "{}", "[1, 2]", "{a: 1}", '"x\\ny"', "|\n  2\n  3",
    "0", "-1", "3651", "-3651", "99999999999", "-999999", "99999999999999999999", "1e400", ".inf",
    "-.nan", "0x1F", "0o17", "1_000", "12:30:00", "9" * 400, '"' + "9" * 400 + '"', "7" * 5000,
    '"0.123456789"', '"-0.00"', "9999-12-31", "0001-01-01", "2026-02-30", "2026-13-01",
    "2026-11-23T10:00:00", '"2026-11-23 "', '"\u202e"', '"' + "x" * 5000 + '"', "*alias",
    "&anchor x", "!!binary aGVsbG8=", "!!python/object:os.system x", "!!set {a}", "!!omap [a: 1]",
    "!!float x", "!!bool maybe", '!!int "x"', '"\\u0000"', '"\\t"', "ä", '"🙂"', "-", "?", "!",
    "%", "@", "`", '"unterminated', "'unterminated", "[unclosed", "{unclosed: 1", "a: b: c",
    '"FV/2026/11/201"', '"../../../etc/passwd"', "/etc/passwd", "[" * 200 + "]" * 200,
    '"Jens\\r\\nBcc: x@example.com"', "EUR", "pln", "+999", "da_DK", "Mars/Olympus",
]  # fmt: skip
YAML_SNIPPETS = [
    "&a {x: 1}", "*a", "<<: *a", "---", "...", "%YAML 1.2", "? [a]\n: 1", "!!map {a: 1}", "\t",
    "- stray item", "key without value:", "  deeper: 1", "# only a comment", "\ufeff", "\r",
    "\x00", "\u2028",
]  # fmt: skip
JINJA_SNIPPETS = [
    "{{", "}}", "{% if %}", "{% endif %}", "{% for x in %}", "{{ invoices[0].nope }}",
    "{{ 1/0 }}", "{{ nothing_here }}", "{{ invoices | money }}", "{% block x %}",
    "{% extends 'x' %}", "{% include 'missing.j2' %}", "{{ ''.__class__ }}",
    "{{ range(10**9) | list | length }}", "{{ days_overdue + 'x' }}", "{% set x = %}",
    "{# unclosed", "{{ payment.link | upper(1) }}", "{{ invoices[99] }}",
    "{{ company.name * 999999 }}",
]  # fmt: skip
JSON_VALUES = [
    None, True, 5, -1, 10**30, 1.5, "", "x", [], {}, [1, 2], ["x"], {"a": 1}, "2026-02-30",
    "garbage", "2099-01-01T00:00:00Z", "[" * 10,
]  # fmt: skip
JSON_FIELDS = [
    "status", "keys", "delivery", "id", "at", "date", "until", "pid", "host", "to", "invoices",
    "sent", "permanent", "phone", "customer", "channel", "run", "text",
]  # fmt: skip


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").split("\n")


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines), encoding="utf-8")


def change_value(rng: random.Random, path: Path, _: Path) -> str:
    if path.suffix == ".jsonl":
        return change_log_line(rng, path)
    lines = lines_of(path)
    keyed = [i for i, line in enumerate(lines) if re.search(r"\w: ", line)]
    if not keyed:
        return insert_snippet(rng, path, _)
    at = rng.choice(keyed)
    value = rng.choice(VALUES)
    lines[at] = lines[at][: lines[at].index(": ") + 2] + value
    write_lines(path, lines)
    return f"line {at + 1} value -> {value[:40]!r}"


def change_log_line(rng: random.Random, path: Path) -> str:
    lines = [line for line in lines_of(path) if line]
    at = rng.randrange(len(lines)) if lines else 0
    try:
        raw = json.loads(lines[at]) if lines else {}
    except json.JSONDecodeError:
        raw = {}
    if not isinstance(raw, dict) or rng.random() < 0.2:
        junk = rng.choice(['{"status": "sent"', "[]", "42", '"text"', "{}", "{" * 5000])
        lines[at:at + 1] = [junk]  # fmt: skip
        write_lines(path, lines)
        return f"log line {at + 1} -> {junk[:20]!r}"
    field = rng.choice(JSON_FIELDS)
    raw[field] = rng.choice(JSON_VALUES)
    if lines:
        lines[at] = json.dumps(raw)
    else:
        lines = [json.dumps(raw)]
    write_lines(path, lines)
    return f"log line {at + 1}: {field} -> {raw[field]!r}"


def insert_snippet(rng: random.Random, path: Path, _: Path) -> str:
    snippets = JINJA_SNIPPETS if path.suffix == ".j2" else YAML_SNIPPETS
    snippet = rng.choice(snippets)
    text = path.read_text(encoding="utf-8", errors="replace")
    at = rng.randrange(len(text) + 1)
    path.write_text(text[:at] + snippet + text[at:], encoding="utf-8")
    return f"inserted {snippet[:30]!r} at {at}"


def delete_line(rng: random.Random, path: Path, _: Path) -> str:
    lines = lines_of(path)
    at = rng.randrange(len(lines))
    del lines[at]
    write_lines(path, lines)
    return f"deleted line {at + 1}"


def duplicate_line(rng: random.Random, path: Path, _: Path) -> str:
    lines = lines_of(path)
    at = rng.randrange(len(lines))
    lines.insert(at, lines[at])
    write_lines(path, lines)
    return f"duplicated line {at + 1}"


def reindent(rng: random.Random, path: Path, _: Path) -> str:
    lines = lines_of(path)
    at = rng.randrange(len(lines))
    how = rng.choice(["\t", " ", "   ", "-"])
    lines[at] = (how + lines[at]) if how != "-" else lines[at][2:]
    write_lines(path, lines)
    return f"line {at + 1} indented with {how!r}"


def truncate(rng: random.Random, path: Path, _: Path) -> str:
    data = path.read_bytes()
    at = rng.randrange(len(data) + 1)
    path.write_bytes(data[:at])
    return f"truncated at byte {at}"


def not_utf8(rng: random.Random, path: Path, _: Path) -> str:
    data = path.read_bytes()
    at = rng.randrange(len(data) + 1)
    path.write_bytes(
        data[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"]) + data[at:]
    )
    return f"bytes that are not UTF-8 at {at}"


def empty(rng: random.Random, path: Path, _: Path) -> str:
    path.write_bytes(rng.choice([b"", b"\n", b"---\n", b"# nothing\n", b"~\n", b"[]\n"]))
    return "emptied"


def into_folder(rng: random.Random, path: Path, _: Path) -> str:
    path.unlink()
    path.mkdir()
    return "replaced by a folder"


def into_link(rng: random.Random, path: Path, scratch: Path) -> str:
    text = path.read_bytes()
    path.unlink()
    target = rng.choice(["outside", "dangling", "itself", "folder", "inside"])
    if target == "outside":
        outside = scratch / f"outside-{rng.randrange(10**9)}{path.suffix}"
        outside.write_bytes(text)
        path.symlink_to(outside)
    elif target == "dangling":
        path.symlink_to(scratch / "does-not-exist")
    elif target == "itself":
        path.symlink_to(path.name)
    elif target == "folder":
        path.symlink_to(scratch, target_is_directory=True)
    else:
        copy = path.with_name("real-" + path.name)
        copy.write_bytes(text)
        path.symlink_to(copy.name)
    return f"replaced by a link ({target})"


def add_file(rng: random.Random, path: Path, _: Path) -> str:
    name = rng.choice(["copy.yaml", "ä b.yaml", ".hidden.yaml", "x.yml", "new.j2", "12.jsonl"])
    target = path.parent / name
    if not target.exists():
        shutil.copyfile(path, target)
    return f"copied to {name}"


EDITS: list[Callable[[random.Random, Path, Path], str]] = [
    change_value, change_value, change_value, insert_snippet, insert_snippet, delete_line,
    duplicate_line, reindent, truncate, not_utf8, empty, into_folder, into_link, add_file,
]  # fmt: skip


def edit(rng: random.Random, root: Path, scratch: Path) -> str:
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and p.stat().st_size < 10**6
    )
    if not files:
        return "nothing left to edit"
    path = rng.choice(files)
    how = rng.choice(EDITS)
    return f"{path.relative_to(root)}: {how(rng, path, scratch)}"


# -- running the commands -------------------------------------------------------------------------


class Hang(BaseException):
    """Raised by the timer: a command that took too long (not an Exception: nothing catches it)."""


@contextmanager
def timer(seconds: float) -> Iterator[None]:
    def expired(signum: int, frame: object) -> None:
        raise Hang

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(args: tuple[str, ...], root: Path) -> tuple[Result | None, float]:
    started = time.monotonic()
    try:
        with timer(HANG_SECONDS):
            result = in_process(*args, "--root", str(root))
    except Hang:
        result = None
    finally:
        gc.unfreeze()  # each load freezes what it read; here hundreds of loads share a process
    return result, time.monotonic() - started


def test_random_edits_never_crash_or_hang(
    bases: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUDGE_CACHE_DIR", "off")
    monkeypatch.chdir(tmp_path)
    rng = random.Random(SEED)
    scratch = tmp_path / "outside"
    scratch.mkdir()
    failures: list[str] = []
    started = time.monotonic()
    slowest = 0.0
    for number in range(CASES):
        base = "full" if rng.random() < FULL_SHARE else "small"
        root = tmp_path / f"case-{number}"
        shutil.copytree(bases[base], root, symlinks=True)
        edits = [edit(rng, root, scratch) for _ in range(rng.randint(1, 3))]
        for args in COMMANDS:
            result, took = run(args, root)
            slowest = max(slowest, took)
            if result is None or result.code not in (0, 1, 2) or "Traceback" in result.err:
                what = "hung" if result is None else f"exit {result.code}:\n{result.err[-3000:]}"
                failures.append(
                    f"case {number} ({base}) with NUDGE_FUZZ_SEED={SEED}: {' '.join(args)} {what}\n"
                    + "\n".join(f"  edit: {e}" for e in edits)
                )
        if not failures:
            shutil.rmtree(root, ignore_errors=True)
    elapsed = time.monotonic() - started
    print(
        f"\nfuzz: {CASES} cases, {CASES * len(COMMANDS)} commands in {elapsed:.0f} s "
        f"(slowest command {slowest:.1f} s), seed {SEED}"
    )
    if failures:
        digest = tmp_path.parent / "fuzz-failures.txt"
        digest.write_text("\n\n".join(failures), encoding="utf-8")
        print(f"fuzz: every failure in {digest}")
    assert not failures, "\n\n".join(failures[:5]) + f"\n\n({len(failures)} failures)"
