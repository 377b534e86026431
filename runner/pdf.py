"""Letters on paper: a letter's HTML rendered to PDF with WeasyPrint.

WeasyPrint draws text with Pango, a system library that a machine with only Python lacks. Then
`available()` says what is missing and how to install it, the letter stays HTML
(runner/channels/outbox.py), and the run says so once. Nothing is fetched while rendering: a
letter has no resources outside its own HTML, and a template cannot make a run reach the network.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import io
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from types import ModuleType

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
    rarely, so every letter's stayed (some 220 MiB of a 100k `run`, 51 letters). Collected now
    (cheap: the load is frozen out of collections), and the freed memory handed back to the
    system where the C library can (glibc's malloc_trim): 172 -> 72 MiB over those letters."""
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
