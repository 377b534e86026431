"""Section 5: e-mail throughput. 1,000 real messages (the 10k repository's plan, composed by
runner.compose) to a local aiosmtpd server that sits 20 ms on each DATA, in its own process.
The baseline is one aiosmtplib connection sending one message after the other; Nudge is
runner.channels.smtp.Smtp with runner.deliver.Batch as `nudge run --push` uses them, at the
default `email.max_connections` (runner.model.DEFAULT_MAX_CONNECTIONS, 10) and at 16. Target:
Nudge >= 8x the baseline at the default. A reference (not Nudge: pre-built messages, plain
connections, no log) shows what this server and machine allow."""

from __future__ import annotations

import subprocess
import sys
import time
from argparse import Namespace
from datetime import date
from pathlib import Path
from typing import Any

from common import BENCH, OUT, ROOT, Report, fmt_s, fmt_x, worker

from runner.model import DEFAULT_MAX_CONNECTIONS  # settings.yaml email.max_connections unsaid


def smtp_server(delay: float) -> None:
    """An aiosmtpd server on 127.0.0.1 (random port) whose DATA handler sleeps `delay` and
    accepts. Prints its port, serves until stdin closes. Runs in its own process so it does not
    share the benchmark's GIL (the machine has 2 cores)."""
    import asyncio
    import logging

    from aiosmtpd.smtp import SMTP

    logging.getLogger("mail.log").setLevel(logging.CRITICAL)

    class Slow:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            await asyncio.sleep(delay)
            return "250 2.0.0 Ok: queued"

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        handler = Slow()
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="bench.local"), "127.0.0.1", 0
        )
        print(server.sockets[0].getsockname()[1], flush=True)
        await loop.run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(serve())


def _messages(root: Path, today: date, count: int) -> tuple[Any, list[Any]]:
    """`count` Outgoing e-mails composed by runner.compose from the repository's real plan
    (distinct deliveries, cycled when the plan has fewer than `count`)."""
    from jinja2 import FileSystemLoader

    from runner import schedule, workspace
    from runner.compose import compose
    from runner.templates import Renderer

    loaded = workspace.load_valid(root)
    repo = loaded.repo
    log, _ = workspace.read_log(root)
    result = schedule.plan(repo, log, schedule.noon(today, repo.settings.defaults.timezone))
    renderer = Renderer(FileSystemLoader(str(root / "templates")))
    distinct = []
    for delivery in result.deliveries:
        if delivery.channel in ("email", "task") and delivery.to:
            distinct.append(compose(repo, delivery, renderer, root))
        if len(distinct) >= 200:
            break
    if not distinct:
        raise SystemExit("the plan has no e-mail deliveries to send")
    return repo, [distinct[i % len(distinct)] for i in range(count)]


def do_email(
    today: date, root: str, port: int, count: int, repeat: int, connections: list[int]
) -> dict[str, Any]:
    import asyncio
    import dataclasses
    import tempfile
    from datetime import UTC, datetime

    import aiosmtplib

    from runner.channels.smtp import Smtp
    from runner.compose import envelope
    from runner.deliver import Batch, Job, RetryPolicy
    from runner.mime import wire_bytes
    from runner.sendlog import Writer

    repo, outgoing = _messages(Path(root), today, count)
    sender = repo.settings.company.email

    def settings(conns: int) -> Any:
        return dataclasses.replace(
            repo.settings.email,
            host="127.0.0.1",
            port=port,
            security="none",
            username_env=None,
            password_env=None,
            max_connections=conns,
        )

    async def baseline() -> int:
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, use_tls=False, start_tls=False, timeout=30
        )
        await client.connect()
        sent = 0
        for out in outgoing:  # the same message building as Nudge, one message at a time
            data = wire_bytes(repo, out, datetime.now(UTC))
            await client.sendmail(sender, envelope(out, None), data)
            sent += 1
        await client.quit()
        return sent

    async def parallel(conns: int, wire: list[tuple[list[str], bytes]]) -> int:
        """Reference, not Nudge: pre-built messages over `conns` plain connections, no log."""
        queue: asyncio.Queue[tuple[list[str], bytes]] = asyncio.Queue()
        for item in wire:
            queue.put_nowait(item)

        async def one() -> int:
            client = aiosmtplib.SMTP(
                hostname="127.0.0.1", port=port, use_tls=False, start_tls=False, timeout=30
            )
            await client.connect()
            done = 0
            while not queue.empty():
                rcpts, data = queue.get_nowait()
                await client.sendmail(sender, rcpts, data)
                done += 1
            await client.quit()
            return done

        return sum(await asyncio.gather(*(one() for _ in range(conns))))

    def nudge(log_root: Path, conns: int) -> tuple[float, float, int]:
        smtp = Smtp("email", repo, settings(conns), None, None)
        writer = Writer(log_root, today)
        batch = Batch(
            writer,
            {"email": smtp, "task": smtp},
            "bench-run",
            None,
            repo.settings.hash_recipients,
            RetryPolicy(),
            None,
        )
        jobs = [Job(out.delivery, out) for out in outgoing]
        start = time.perf_counter()
        batch.record_pending(jobs)  # `nudge run` writes (and fsyncs) every pending first
        mid = time.perf_counter()
        asyncio.run(batch.send_all(jobs))
        end = time.perf_counter()
        sent = sum(1 for j in jobs if j.outcome is not None and j.outcome.status == "sent")
        return end - start, end - mid, sent

    start = time.perf_counter()  # the CPU a message costs before it reaches the wire
    for out in outgoing:
        wire_bytes(repo, out, datetime.now(UTC))
    build = (time.perf_counter() - start) / count
    base_times: list[float] = []
    nudge_times: dict[str, list[float]] = {str(c): [] for c in connections}
    send_times: dict[str, list[float]] = {str(c): [] for c in connections}
    problems = []
    with tempfile.TemporaryDirectory(dir=OUT, prefix="mail-") as tmp:
        for n in range(repeat):  # interleaved, so noise hits all alike
            start = time.perf_counter()
            sent = asyncio.run(baseline())
            base_times.append(time.perf_counter() - start)
            if sent != count:
                problems.append(f"baseline sent {sent}/{count}")
            for conns in connections:
                total, sending, sent = nudge(Path(tmp) / f"run{n}-{conns}", conns)
                nudge_times[str(conns)].append(total)
                send_times[str(conns)].append(sending)
                if sent != count:
                    problems.append(f"nudge ({conns}) sent {sent}/{count}")
        wire = [(envelope(o, None), wire_bytes(repo, o)) for o in outgoing]
        reference: dict[str, list[float]] = {}
        for _ in range(repeat):
            for conns in connections:
                start = time.perf_counter()
                sent = asyncio.run(parallel(conns, wire))
                reference.setdefault(str(conns), []).append(time.perf_counter() - start)
                if sent != count:
                    problems.append(f"reference {conns} sent {sent}/{count}")
    return {
        "reference": reference,
        "messages": count,
        "baseline": base_times,
        "nudge": nudge_times,
        "nudge_send_only": send_times,
        "problems": problems,
        "build_seconds_per_message": build,
    }


WORKERS = {"email": do_email}


def measure(root: Path, today: date, count: int, args: Namespace) -> dict[str, Any] | None:
    server = subprocess.Popen(
        [sys.executable, str(BENCH / "bench.py"), "--smtp-server", "--delay", str(args.smtp_delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        connections = sorted({DEFAULT_MAX_CONNECTIONS, args.connections})
        job = {"root": str(root), "port": port, "count": count, "repeat": args.repeat,
               "connections": connections}  # fmt: skip
        return worker("email", job, today, args.timeout)
    finally:
        if server.stdin:
            server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def section(root: Path, today: date, count: int, args: Namespace, report: Report) -> None:
    print(
        f"== e-mail: {count} messages to a local aiosmtpd that sits {args.smtp_delay * 1000:.0f} "
        f"ms on each DATA (best of {args.repeat})",
        flush=True,
    )
    mail = measure(root, today, count, args)
    if not mail or "timeout" in mail:
        report.add(
            f"e-mail Nudge / baseline, default {DEFAULT_MAX_CONNECTIONS} connections",
            "failed",
            ">= 8",
            "n/a",
        )
        return

    def spread(xs: list[float]) -> str:
        return f"spread {100 * (max(xs) - min(xs)) / min(xs):.0f}%"

    base_rate = count / min(mail["baseline"])
    print(
        f"  baseline, one aiosmtplib connection, sequential: {base_rate:6.1f} msg/s "
        f"({fmt_s(min(mail['baseline']))}; {spread(mail['baseline'])})"
    )
    report.add("e-mail baseline, msg/s", f"{base_rate:.1f}")
    for conns, times in mail["nudge"].items():
        rate = count / min(times)
        send_rate = count / min(mail["nudge_send_only"][conns])
        pending = min(t - u for t, u in zip(times, mail["nudge_send_only"][conns], strict=True))
        ceiling = int(conns) / args.smtp_delay
        value = rate / base_rate
        print(
            f"  Nudge (Smtp + Batch), {conns} connections: {rate:6.1f} msg/s = {fmt_x(value)} the "
            f"baseline ({spread(times)}); sending alone {send_rate:.1f} msg/s, the {count} pending "
            f"entries first {fmt_s(pending)}; {conns} x {args.smtp_delay * 1000:.0f} ms allow at "
            f"most {ceiling:.0f} msg/s = {ceiling / base_rate:.1f}x"
        )
        figure = f"e-mail Nudge / baseline, {conns} connections"
        if int(conns) == DEFAULT_MAX_CONNECTIONS:
            report.target(figure + " (the default)", value, fmt_x(value), 8, below=False)
        else:
            report.target(figure, value, fmt_x(value), 8, below=False)
    print(
        f"  building one message (runner.mime.wire_bytes): "
        f"{1000 * mail['build_seconds_per_message']:.2f} ms CPU"
    )
    print("  reference, not Nudge (pre-built messages, plain connections, no log):")
    for conns, times in mail["reference"].items():
        rate = count / min(times)
        print(
            f"    {conns:>2} connections: {rate:6.1f} msg/s = {rate / base_rate:.1f}x "
            f"({spread(times)})"
        )
    if mail["problems"]:
        print(f"  ! {mail['problems']}")
    print(flush=True)
