"""Section 8: where the time goes. cProfile of validate and of plan, each in its own fresh
process (neither gets caches the other warmed up): bench/out/profile-SIZE.txt (top 15 by
cumulative and by self time), the raw .prof files for pstats or snakeviz, and the top 10 here.
The profiler roughly doubles the time of Python-heavy code: read the shares, not the seconds."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path
from typing import Any

from common import OUT, ROOT, fmt_s, label, worker
from loadplan import plan, validate


def _top(stats: Any, key: int, count: int) -> list[dict[str, Any]]:
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _) in stats.stats.items():
        short = file
        if str(ROOT) in file:
            short = os.path.relpath(file, ROOT)
        elif "site-packages" in file:
            short = file.split("site-packages/", 1)[1]
        elif "/lib/python" in file:
            short = "stdlib/" + file.split("/lib/python", 1)[1].split("/", 1)[-1]
        func_name = f"{short}:{line}({func})" if line else func
        rows.append({"func": func_name, "ncalls": nc, "tottime": tt, "cumtime": ct})
    rows = [r for r in rows if not r["func"].startswith("bench/")]  # the benchmark's wrappers
    field = "cumtime" if key == 0 else "tottime"
    return sorted(rows, key=lambda r: -r[field])[:count]


def do_profile(today: date, root: str, what: str, out_file: str) -> dict[str, Any]:
    import cProfile
    import io
    import pstats

    path = Path(root)
    call = (lambda: validate(path)) if what == "validate" else (lambda: plan(path, today))
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    call()
    profile.disable()
    seconds = time.perf_counter() - start
    prof_path = Path(out_file).with_name(Path(out_file).stem + f"-{what}.prof")
    profile.dump_stats(str(prof_path))
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    for title, order in (("cumulative", "cumulative"), ("total (self) time", "tottime")):
        text.write(
            f"\n{'=' * 100}\n{what}: {seconds:.2f} s under the profiler; "
            f"top 15 by {title}\n{'=' * 100}\n"
        )
        stats.sort_stats(order).print_stats(15)
    return {
        "seconds": seconds,
        "text": text.getvalue(),
        "cumulative": _top(stats, 0, 15),
        "tottime": _top(stats, 1, 15),
    }


WORKERS = {"profile": do_profile}


def section(size: int, root: Path, today: date, timeout: float) -> None:
    out_file = OUT / f"profile-{label(size)}.txt"
    print(f"== cProfile at {label(size)} -> {os.path.relpath(out_file, ROOT)}", flush=True)
    parts = [f"cProfile of validate and of plan (each in a fresh process) on {root}, {today}\n"]
    for name in ("validate", "plan"):
        args = {"root": str(root), "what": name, "out_file": str(out_file)}
        p = worker("profile", args, today, timeout * 3)
        if not p or "timeout" in p:
            continue
        parts.append(p["text"])
        print(f"  {name} ({fmt_s(p['seconds'])} under the profiler), top 10 by cumulative | self:")
        for cum, tot in zip(p["cumulative"][:10], p["tottime"][:10], strict=True):
            print(
                f"    {cum['cumtime']:7.2f} s {cum['func'][:58]:<58} | "
                f"{tot['tottime']:6.2f} s {tot['func'][:58]}"
            )
    out_file.write_text("".join(parts), encoding="utf-8")
    print(flush=True)
