"""Rendering: (template, context) -> message, in Jinja's sandbox. Pure apart from reading templates.

Subject, text, SMS and tasks are rendered without HTML escaping; HTML parts and letters with it.
Two environments over the same loader do that, so no template has to remember to escape.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from jinja2 import (
    BaseLoader,
    StrictUndefined,
    TemplateError,
    TemplateSyntaxError,
    Undefined,
    UndefinedError,
    pass_context,
)
from jinja2.bccache import BytecodeCache
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from runner import localefmt

# Babel puts (narrow) no-break spaces in amounts; GSM-7 has no such character and one of them
# would switch a whole SMS to UCS-2 (70 instead of 160 characters per segment).
SMS_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " "})
BLOCK_TAGS = ("if", "for", "block", "macro", "call", "filter", "with", "autoescape", "raw")


class RenderError(Exception):
    """A template that does not parse or render; carries the template file and line."""

    def __init__(self, template: str, line: int, message: str) -> None:
        super().__init__(f"{template}:{line}: {message}")
        self.template = template
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None = None


def direction(locale: str) -> str:
    return "rtl" if localefmt.right_to_left(locale) else "ltr"


def _written_direction(text: object) -> str:
    """The direction a text is written in, from its first letter of a strong direction (as HTML's
    dir="auto", which WeasyPrint does not know): a Latin address inside a Persian letter keeps
    its order."""
    import unicodedata

    for char in str(text):
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"


def _locale(ctx: Context) -> str:
    locale = ctx.get("locale")
    if not isinstance(locale, str):
        raise ValueError(
            "the locale is unknown here: import macros 'with context' "
            '({% import "_layout/macros.j2" as m with context %})'
        )
    return locale


def _defined(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()  # raises the UndefinedError that names the variable
    return value


@pass_context
def _money(ctx: Context, amount: Decimal | int | str, currency: str) -> str:
    return localefmt.money(Decimal(_defined(amount)), _defined(currency), _locale(ctx))


@pass_context
def _date(ctx: Context, day: date, form: str = "long") -> str:
    return localefmt.day(_defined(day), _locale(ctx), form)


@pass_context
def _percent(ctx: Context, value: Decimal | int) -> str:
    return localefmt.percent(_defined(value), _locale(ctx))


@pass_context
def _number(ctx: Context, value: Decimal | int) -> str:
    return localefmt.number(_defined(value), _locale(ctx))


@pass_context
def _isolate(ctx: Context, value: object) -> str:
    """A token (invoice number, reference, link) kept whole inside right-to-left text."""
    return localefmt.isolate(str(_defined(value)), _locale(ctx))


def _pad(value: object, columns: int) -> str:
    """Left-aligned in `columns` display columns (a CJK character counts two)."""
    return localefmt.left(str(_defined(value)), columns)


def _rpad(value: object, columns: int) -> str:
    return localefmt.right(str(_defined(value)), columns)


def _columns(value: object) -> int:
    return localefmt.width(str(_defined(value)))


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with its verdict on each attribute remembered by the object's
    type and the attribute's name. The sandbox asks for every attribute a template reads
    (hundreds of thousands of times when `validate` renders every template, a quarter of the
    time a render takes), and what it looks at is only those two: the name's underscores, and
    whether the type is a function, method, code object, generator or mutable container
    (jinja2.sandbox.is_internal_attribute and modifies_known_mutable). An object whose
    `__class__` is not its type is asked every time. Held to the sandbox's own answers by
    tests/test_render.py."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._verdicts: dict[tuple[type, str], bool] = {}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        kind = type(obj)
        if obj.__class__ is not kind:
            return super().is_safe_attribute(obj, attr, value)
        verdict = self._verdicts.get((kind, attr))
        if verdict is None:
            verdict = self._verdicts[kind, attr] = super().is_safe_attribute(obj, attr, value)
        return verdict


def _environment(loader: BaseLoader, autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = Sandbox(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
        bytecode_cache=_bytecode_cache("html" if autoescape else "plain"),
    )
    env.filters.update(
        money=_money,
        date=_date,
        percent=_percent,
        number=_number,
        iso=_isolate,
        pad=_pad,
        rpad=_rpad,
        columns=_columns,
        written_direction=_written_direction,
    )
    env.globals["html"] = autoescape  # shared templates write paragraphs as <p> or plain text
    return env


def _bytecode_cache(kind: str) -> BytecodeCache | None:
    """Compiled templates kept in the user's cache directory beside the load snapshots (each
    template is keyed by its name and checksummed by its source, so an edit is recompiled); one
    folder per environment, as the two compile the same source differently. Compiling every
    template costs a command seconds; loading it back, milliseconds."""
    from jinja2 import FileSystemBytecodeCache

    from runner import snapshot

    folder = snapshot.directory()
    if folder is None:
        return None
    target = folder / f"jinja-{kind}"
    try:
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home: compile every time, as before
    return FileSystemBytecodeCache(str(target))


class Renderer:
    """Renders templates by name (relative to templates/) for a channel."""

    def __init__(self, loader: BaseLoader) -> None:
        self.plain = _environment(loader, autoescape=False)
        self.html = _environment(loader, autoescape=True)

    def render(self, name: str, channel: str, context: dict[str, Any]) -> Rendered:
        try:
            return self._render(name, channel, context)
        except TemplateSyntaxError as exc:
            raise _syntax(exc, name, self.plain) from exc
        except UndefinedError as exc:
            raise _located(exc, name, _undefined_message(str(exc), context)) from exc
        except TemplateError as exc:
            raise _located(exc, name, str(exc)) from exc
        except UnicodeDecodeError as exc:
            raise _not_utf8(exc, name) from exc
        except (ArithmeticError, TypeError, ValueError, AttributeError, LookupError) as exc:
            raise _located(exc, name, f"{type(exc).__name__}: {exc}") from exc

    def _render(self, name: str, channel: str, context: dict[str, Any]) -> Rendered:
        if channel == "email":
            text_blocks = _blocks(self.plain, name, context, ("subject", "text"))
            html_blocks = _blocks(self.html, name, context, ("html",))
            subject = " ".join(text_blocks.get("subject", "").split())
            text = _paragraphs(text_blocks.get("text", "")) + "\n"
            return Rendered(subject, text, html_blocks.get("html"))
        if channel == "letter":
            page = _whole(self.html, name, context)
            return Rendered(_title(page), page, page)
        body = _paragraphs(_whole(self.plain, name, context))
        if channel == "sms":
            body = body.translate(SMS_SPACES)
        subject = body.splitlines()[0] if body else ""
        return Rendered(subject, body + "\n")

    def precompile(self, kind: str, names: Iterable[str]) -> None:
        """Compile now, for "plain" text or "html", what rendering will ask for (into the
        bytecode cache too, when there is one). Syntax errors: check_syntax tells them."""
        env = self.html if kind == "html" else self.plain
        for name in names:
            with contextlib.suppress(TemplateError, UnicodeDecodeError, OSError):
                env.get_template(name)

    def caches_bytecode(self) -> bool:
        return self.plain.bytecode_cache is not None and self.html.bytecode_cache is not None

    def check_syntax(self, name: str) -> None:
        try:
            self.plain.get_template(name)
        except TemplateSyntaxError as exc:
            raise _syntax(exc, name, self.plain) from exc
        except UnicodeDecodeError as exc:
            raise _not_utf8(exc, name) from exc


def _not_utf8(exc: UnicodeDecodeError, name: str) -> RenderError:
    line = exc.object[: exc.start].count(b"\n") + 1 if isinstance(exc.object, bytes) else 1
    return RenderError(name, line, "the file is not UTF-8 text: save it as UTF-8")


BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def _paragraphs(text: str) -> str:
    """Plain text with one blank line between paragraphs, however the template's blocks and
    macros ended their lines; no trailing spaces."""
    lines = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return BLANK_LINES.sub("\n\n", lines)


def _whole(env: ImmutableSandboxedEnvironment, name: str, context: dict[str, Any]) -> str:
    return env.get_template(name).render(context)


def _blocks(
    env: ImmutableSandboxedEnvironment, name: str, context: dict[str, Any], wanted: tuple[str, ...]
) -> dict[str, str]:
    template = env.get_template(name)
    try:
        ctx = template.new_context(context)
        # The child's top-level code and its `extends` run before the first piece of output:
        # that registers the layout's blocks. The rest of the page is not needed here.
        page = template.root_render_func(ctx)
        next(page, None)
        page.close()  # type: ignore[attr-defined]
        return {
            block: "".join(ctx.blocks[block][0](ctx)) for block in wanted if block in ctx.blocks
        }
    except Exception:
        env.handle_exception()  # re-raises with the traceback pointing at template lines
        raise


def _title(page: str) -> str:
    match = re.search(r"<title>(.*?)</title>", page, re.S)
    return " ".join(match.group(1).split()) if match else ""


# -- errors a template author can act on ------------------------------------------------------


def _syntax(exc: TemplateSyntaxError, name: str, env: ImmutableSandboxedEnvironment) -> RenderError:
    template = exc.filename or name
    message = exc.message or str(exc)
    line = exc.lineno or 1
    innermost = re.search(r"innermost block that needs to be closed is '(\w+)'", message)
    if innermost and exc.source:
        opened = _unclosed(exc.source, innermost.group(1), line)
        if opened:
            tag = innermost.group(1)
            return RenderError(
                template,
                opened,
                f"'{{% {tag} %}}' is not closed: add '{{% end{tag} %}}' before line {line}",
            )
    return RenderError(template, line, message)


def _unclosed(source: str, tag: str, before: int) -> int | None:
    """Line of the innermost `{% tag %}` still open at line `before`."""
    stack: list[tuple[str, int]] = []
    for match in re.finditer(r"{%-?\s*(end)?(\w+)", source):
        line = source.count("\n", 0, match.start()) + 1
        if line >= before:
            break
        word = match.group(2)
        if match.group(1) and stack and stack[-1][0] == word:
            stack.pop()
        elif not match.group(1) and word in BLOCK_TAGS:
            stack.append((word, line))
    for word, line in reversed(stack):
        if word == tag:
            return line
    return None


VIEW_NAMES = {
    "InvoiceView": "an invoice",
    "CustomerView": "the customer",
    "Contact": "a contact",
    "Company": "the company",
    "StepView": "the step",
    "PaymentView": "payment",
    "Money": "an amount",
    "PromiseView": "a promise",
    "InstallmentView": "an installment",
    "DiscountOffer": "a discount",
}


def _undefined_message(message: str, context: dict[str, Any]) -> str:
    name = re.fullmatch(r"'(\w+)' is undefined", message)
    if name:
        return message + _suggest(name.group(1), context)
    attribute = re.fullmatch(r"'(?:[\w.]+\.)?(\w+) object' has no attribute '(\w+)'", message)
    if attribute:
        cls, attr = attribute.groups()
        fields = [
            f.name
            for v in _values(context)
            if type(v).__name__ == cls and dataclasses.is_dataclass(v)
            for f in dataclasses.fields(v)
        ]
        return f"{VIEW_NAMES.get(cls, cls)} has no '{attr}'" + _suggest(attr, fields)
    return message


def _values(context: dict[str, Any]) -> list[Any]:
    found: list[Any] = []
    for value in context.values():
        found.extend(value if isinstance(value, list) else [value])
    return found


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(dict.fromkeys(choices)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _located(exc: BaseException, name: str, message: str) -> RenderError:
    template, line = _template_frame(exc, name)
    if not template.endswith(name):
        message += f" (while rendering {name})"
    return RenderError(template, line, message)


def _template_frame(exc: BaseException, fallback: str) -> tuple[str, int]:
    """The innermost template file and line of an exception raised while rendering."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2") and frame.lineno:
            return frame.filename, frame.lineno
    return fallback, 1
