"""Rendering: (template, context) -> message, in Jinja's sandbox. Pure apart from reading templates.

Subject, text, SMS and tasks are rendered without HTML escaping; HTML parts and letters with it.
Two environments over the same loader do that, so no template has to remember to escape.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, TemplateError, TemplateSyntaxError, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "yi"})


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
    return "rtl" if locale.split("_")[0] in RTL_LANGUAGES else "ltr"


def _locale(ctx: Context) -> str:
    locale = ctx.get("locale")
    if not isinstance(locale, str):
        raise ValueError(
            "the locale is unknown here: import macros 'with context' "
            '({% import "_layout/macros.j2" as m with context %})'
        )
    return locale


@pass_context
def _money(ctx: Context, amount: Decimal | int | str, currency: str) -> str:
    from babel.numbers import format_currency

    return str(format_currency(Decimal(amount), currency, locale=_locale(ctx)))


@pass_context
def _date(ctx: Context, day: date, form: str = "long") -> str:
    from babel.dates import format_date

    return str(format_date(day, format=form, locale=_locale(ctx)))


@pass_context
def _percent(ctx: Context, value: Decimal | int) -> str:
    from babel.numbers import format_percent

    return str(
        format_percent(Decimal(value) / 100, locale=_locale(ctx), decimal_quantization=False)
    )


@pass_context
def _number(ctx: Context, value: Decimal | int) -> str:
    from babel.numbers import format_decimal

    return str(format_decimal(value, locale=_locale(ctx)))


def _environment(loader: BaseLoader, autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    env.filters.update(money=_money, date=_date, percent=_percent, number=_number)
    return env


class Renderer:
    """Renders templates by name (relative to templates/) for a channel."""

    def __init__(self, loader: BaseLoader) -> None:
        self.plain = _environment(loader, autoescape=False)
        self.html = _environment(loader, autoescape=True)

    def render(self, name: str, channel: str, context: dict[str, Any]) -> Rendered:
        try:
            if channel == "email":
                text_blocks = self._blocks(self.plain, name, context)
                html_blocks = self._blocks(self.html, name, context)
                subject = " ".join(text_blocks.get("subject", "").split())
                return Rendered(
                    subject, text_blocks.get("text", "").strip() + "\n", html_blocks.get("html")
                )
            if channel == "letter":
                page = self.html.get_template(name).render(context)
                return Rendered(_first_heading(page), page, page)
            body = self.plain.get_template(name).render(context).strip()
            subject = body.splitlines()[0] if body else ""
            return Rendered(subject, body + "\n")
        except TemplateSyntaxError as exc:
            raise RenderError(
                exc.filename or name, exc.lineno or 1, exc.message or str(exc)
            ) from exc
        except TemplateError as exc:
            raise _located(exc, name, str(exc)) from exc
        except (ArithmeticError, TypeError, ValueError, AttributeError, LookupError) as exc:
            raise _located(exc, name, f"{type(exc).__name__}: {exc}") from exc

    def check_syntax(self, name: str) -> None:
        try:
            self.plain.get_template(name)
        except TemplateSyntaxError as exc:
            raise RenderError(
                exc.filename or name, exc.lineno or 1, exc.message or str(exc)
            ) from exc

    @staticmethod
    def _blocks(
        env: ImmutableSandboxedEnvironment, name: str, context: dict[str, Any]
    ) -> dict[str, str]:
        template = env.get_template(name)
        ctx = template.new_context(context)
        for _ in template.root_render_func(ctx):  # runs the layout so inherited blocks register
            pass
        return {block: "".join(funcs[0](ctx)) for block, funcs in ctx.blocks.items()}


def _first_heading(page: str) -> str:
    import re

    match = re.search(r"<title>(.*?)</title>", page, re.S)
    return " ".join(match.group(1).split()) if match else ""


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
