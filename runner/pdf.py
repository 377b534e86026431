"""Letters on paper: a letter's HTML rendered to PDF with WeasyPrint.

WeasyPrint draws text with Pango, a system library that a machine with only Python lacks. Then
`available()` says what is missing and how to install it, the letter stays HTML
(runner/channels/outbox.py), and the run says so once. Nothing is fetched while rendering: a
letter has no resources outside its own HTML, and a template cannot make a run reach the network.

`nudge run` prints its letters in a process of their own (`Printer`): a document being laid out
takes some 80-90 MiB for a moment, which on top of a run holding 100k invoices made the run's
peak; the printing process holds WeasyPrint and one letter, the run neither.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import io
import logging
import os
import pickle
import re
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import IO, Any

INSTALL = "apt-get install libpango-1.0-0 libpangoft2-1.0-0"
LOGGERS = ("weasyprint", "fontTools")  # what WeasyPrint reports through logging


class PdfUnavailable(Exception):
    """WeasyPrint cannot run here; the message says what is missing and how to install it."""


@dataclass(frozen=True)
class Pdf:
    data: bytes
    pages: int
    warnings: tuple[str, ...]  # what WeasyPrint skipped: CSS it ignores, a resource refused


def available() -> str | None:
    """None when letters can be rendered to PDF here, else what is missing and how to install
    it (part of a sentence: "Letters written as HTML only: ...")."""
    loaded = _weasyprint()
    return loaded if isinstance(loaded, str) else None


def render(html: str) -> Pdf:
    """The PDF of a letter's HTML. Raises PdfUnavailable when WeasyPrint cannot run here."""
    weasyprint = _weasyprint()
    if isinstance(weasyprint, str):
        raise PdfUnavailable(weasyprint)
    with _collected() as warnings:
        fetcher = weasyprint.urls.URLFetcher(allowed_protocols=("data",))  # an inline logo
        document = weasyprint.HTML(string=html, url_fetcher=fetcher).render()
        data = document.write_pdf()
        pages = len(document.pages)
    del document
    _give_back()
    return Pdf(data, pages, tuple(warnings))


def _give_back() -> None:
    """A rendered document is a web of objects that refer to each other (boxes, fonts,
    styles): freed only by a full collection, which a process holding 100k invoices runs
    rarely, so every letter's stayed (some 220 MiB of a 100k `run`, 51 letters, when the run
    printed its own). Collected now, and the freed memory handed back to the system where the C
    library can (glibc's malloc_trim): 172 -> 72 MiB over those letters."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): its allocator, its way
        return None


@cache
def _weasyprint() -> ModuleType | str:
    """The weasyprint module, or the sentence saying why it cannot be loaded."""
    try:
        # A failed import prints a banner of its own to stdout: the run says one sentence.
        with contextlib.redirect_stdout(io.StringIO()):
            import weasyprint
    except ImportError:
        return "WeasyPrint is not installed; install it with `pip install weasyprint`"
    except OSError as exc:
        library = re.search(r"cannot load library '([^']+)'", str(exc))
        name = library.group(1) if library else "Pango"
        return (
            f"WeasyPrint cannot load {name} (Pango), which PDF letters need; install it with "
            f"`{INSTALL}` (Debian, Ubuntu) or `brew install pango` (macOS)"
        )
    return weasyprint


class Printer:
    """Letters printed by a child process, one at a time: `available()` and `render()` as the
    module's own, answered there. The process starts at the first question (WeasyPrint loads
    there, not in the run) and ends with `close()`, or when the run's end closes its input."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._missing: str | None = None
        self._lock = threading.Lock()  # one question at a time: callers may be threads

    def available(self) -> str | None:
        with self._lock:
            self._start()
            return self._missing

    def render(self, html: str) -> Pdf:
        with self._lock:
            self._start()
            if self._missing is not None:
                raise PdfUnavailable(self._missing)
            assert self._process is not None
            answer = _ask(self._process, html)
            if answer is None:  # the next letter starts a new one
                status, self._process = self._process.wait(), None
                raise PdfError(f"the printing process ended (exit status {status})")
        kind, value = answer
        if kind == "error":
            raise PdfError(value)
        return Pdf(*value)

    def close(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            assert process.stdin is not None
            with contextlib.suppress(OSError):  # already gone
                process.stdin.close()  # the child's cue to end
            process.wait()

    def _start(self) -> None:
        if self._process is not None:
            return
        package = Path(__file__).resolve().parent.parent  # where `runner` is found
        code = (
            f"import sys; sys.path.insert(0, {str(package)!r}); "
            "import runner.pdf; runner.pdf.serve()"
        )
        self._process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        greeting = _receive(self._process.stdout)
        if greeting is None:
            status = self._process.wait()
            self._missing = f"the process printing letters ended as it started (status {status})"
        else:
            self._missing = greeting[1] if greeting[0] == "missing" else None


class PdfError(Exception):
    """WeasyPrint failed on a letter (in the printing process); the message says how."""


def serve() -> None:
    """The printing process: says whether WeasyPrint can run, then prints each HTML it is sent
    until its input ends."""
    source = sys.stdin.buffer
    sink = os.fdopen(os.dup(1), "wb")  # nothing but answers on the pipe: what else writes to
    os.dup2(2, 1)  # stdout (a library's banner) goes to stderr
    missing = available()
    _send(sink, ("missing", missing) if missing else ("ready", None))
    while (html := _receive(source)) is not None:
        try:
            printed = render(html[1])
        except Exception as exc:  # said to the run, which records the letter as failed
            _send(sink, ("error", f"{type(exc).__name__}: {exc}"))
        else:
            _send(sink, ("pdf", (printed.data, printed.pages, printed.warnings)))


_LENGTH = struct.Struct(">Q")


def _ask(process: subprocess.Popen[bytes], html: str) -> tuple[str, Any] | None:
    """The answer to a letter, or None when the process is gone."""
    assert process.stdin is not None
    try:
        _send(process.stdin, ("html", html))
        answer: tuple[str, Any] | None = _receive(process.stdout)
    except OSError:  # the pipe broken
        return None
    return answer


def _send(sink: IO[bytes], message: tuple[str, Any]) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sink.write(_LENGTH.pack(len(data)) + data)
    sink.flush()


def _receive(source: IO[bytes] | None) -> Any:
    """The next message, or None at the end of the pipe. Only ever from the other side of a
    pipe this process made: the pickles are our own."""
    assert source is not None
    head = source.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    size = _LENGTH.unpack(head)[0]
    data = source.read(size)
    return pickle.loads(data) if len(data) == size else None  # else it ended while writing


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _collected() -> Iterator[list[str]]:
    """WeasyPrint's warnings, kept for the caller instead of printed on stderr."""
    handler = _Collect()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    saved = [logger.propagate for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.propagate = False
    try:
        yield handler.messages
    finally:
        for logger, propagate in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.propagate = propagate
