"""A fast reader for the plain YAML that data files are written in; libyaml reads the rest.

Most files are block mappings of `key: value` lines, a few block sequences and one-line flow
collections of quoted or plain scalars. This reader accepts exactly that subset and answers None
for anything else, so the caller hands the text to libyaml, which then gives the same value or a
positioned error. Anything it accepts it reads to the same value libyaml and the loader's own
constructors give (plain scalars are typed by PyYAML's own resolver table); tests/test_quickyaml.py
holds the two readers to that on the sample, the broken-file corpus and generated documents.

It is several times faster than libyaml with PyYAML's constructor, which builds a node tree and
walks it again in Python; this one walks the lines once.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import yaml

# Characters that change what a line means to a YAML reader in ways this reader does not follow:
# tabs, carriage returns, control and non-printable characters, YAML 1.1 line breaks (NEL, LS,
# PS) and byte-order marks. Text holding any of them goes to libyaml.
_UNUSUAL = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_KEY = re.compile(r"([A-Za-z_$][A-Za-z0-9_$.\-]*):(?: +(.*))?\Z")
_DOUBLE = re.compile(r'"([^"\\]*)"(?: +#.*)?\Z')
_SINGLE = re.compile(r"'((?:[^']|'')*)'(?: +#.*)?\Z")
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"[-+]?[0-9]+\.[0-9]*\Z")
# In a flow collection: a key, then a quoted or plain value, then ',' or the closing bracket.
_FLOW_KEY = re.compile(r" *([A-Za-z_$][A-Za-z0-9_$.\-]*): +")
_FLOW_ITEM = re.compile(
    r""" *(?:"([^"\\]*)"|'((?:[^']|'')*)'|([^ ,\[\]{}#:"'][^,\[\]{}#:]*?)) *([,\]}])"""
)
_COMMENT = re.compile(r" +#")
# Characters that cannot start a plain scalar (YAML indicators); '-' may start a number.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")

_STR = "tag:yaml.org,2002:str"
_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    first: list(table) for first, table in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
}
_BOOL = yaml.constructor.SafeConstructor.bool_values
_TEXT_KEYS: dict[str, bool] = {}
_PLAINS: dict[str, Any] = {}  # plain scalar -> its value (`_plain`)


class _Unsure(Exception):
    """The text is outside the subset: let libyaml read it."""


def load(text: str) -> dict[str, Any] | None:
    """The mapping `text` holds, or None when libyaml must decide (including every error)."""
    if _UNUSUAL.search(text):
        return None
    lines: list[tuple[int, str]] = []
    for raw in text.split("\n"):
        body = raw.lstrip(" ")
        if body and body[0] != "#":
            lines.append((len(raw) - len(body), body.rstrip(" ")))
    if lines and lines[0] == (0, "---"):
        del lines[0]
    if not lines or lines[0][0] != 0 or lines[0][1].startswith("- "):
        return None
    reader = _Reader(lines)
    try:
        data = reader.mapping(0)
    except _Unsure:
        return None
    return data if reader.at == len(lines) else None


class _Reader:
    def __init__(self, lines: list[tuple[int, str]]) -> None:
        self.lines = lines
        self.at = 0

    def _next_indent(self) -> int:
        return self.lines[self.at][0] if self.at < len(self.lines) else -1

    def mapping(self, indent: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        lines = self.lines
        while self.at < len(lines):
            col, body = lines[self.at]
            if col < indent:
                break
            if col > indent:
                raise _Unsure
            match = _KEY.match(body)
            if match is None:
                break  # a sequence item at this indent ends the mapping: the caller decides
            key, rest = match.group(1), match.group(2)
            if key in out or not _text_key(key):
                raise _Unsure
            self.at += 1
            if rest is None or rest[0] == "#":
                out[key] = self._nested(indent)
            else:
                out[key] = _scalar(rest)
                if self._next_indent() > indent:
                    raise _Unsure  # a continued plain scalar, or a nested block after a value
        return out

    def _nested(self, indent: int) -> Any:
        """The value of a key written alone on its line: a deeper block, a sequence at the
        key's own indent, or null."""
        if self.at == len(self.lines):
            return None
        col, body = self.lines[self.at]
        if col > indent:
            return self.sequence(col) if body.startswith("- ") else self.mapping(col)
        if col == indent and body.startswith("- "):
            return self.sequence(col)
        return None

    def sequence(self, indent: int) -> list[Any]:
        out: list[Any] = []
        lines = self.lines
        while self.at < len(lines):
            col, body = lines[self.at]
            if col != indent or not body.startswith("- "):
                if col > indent:
                    raise _Unsure
                break
            rest = body[2:].lstrip(" ")
            if not rest or rest[0] == "#" or rest.startswith("- "):
                raise _Unsure  # an item on the following lines, or a sequence in a sequence
            if _KEY.match(rest):  # "- key: value" starts a mapping at the key's column
                lines[self.at] = (col + len(body) - len(rest), rest)
                out.append(self.mapping(lines[self.at][0]))
            else:
                out.append(_scalar(rest))
                self.at += 1
                if self._next_indent() > indent:
                    raise _Unsure
        return out


def _scalar(text: str) -> Any:
    """One value written on one line after 'key: ' or '- ' (block context)."""
    first = text[0]
    if first == '"' or first == "'":
        match = (_DOUBLE if first == '"' else _SINGLE).match(text)
        if match is None:
            raise _Unsure
        return match.group(1) if first == '"' else match.group(1).replace("''", "'")
    if first == "{" or first == "[":
        return _flow(text)
    if first in _INDICATORS and not (first == "-" and text[1:2].isdigit()):
        raise _Unsure
    cut = text.find(" #")
    value = text if cut < 0 else text[:cut].rstrip(" ")
    if ": " in value or value.endswith(":"):
        raise _Unsure
    return _plain(value)


def _flow(text: str) -> Any:
    """A flow mapping or sequence of scalars, opened and closed on this line."""
    mapping = text[0] == "{"
    close = "}" if mapping else "]"
    out: Any = {} if mapping else []
    at, name = 1, ""
    if text[1:].lstrip(" ").startswith(close):
        at = text.index(close, 1) + 1
    else:
        while True:
            if mapping:
                key = _FLOW_KEY.match(text, at)
                if key is None or key.group(1) in out or not _text_key(key.group(1)):
                    raise _Unsure
                name, at = key.group(1), key.end()
            item = _FLOW_ITEM.match(text, at)
            if item is None:
                raise _Unsure
            double, single, plain, end = item.groups()
            if double is not None:
                value: Any = double
            elif single is not None:
                value = single.replace("''", "'")
            else:
                if plain[0] in _INDICATORS and not (plain[0] == "-" and plain[1:2].isdigit()):
                    raise _Unsure
                value = _plain(plain)
            if mapping:
                out[name] = value
            else:
                out.append(value)
            at = item.end()
            if end != ",":
                if end != close:
                    raise _Unsure
                break
    if at < len(text) and not _COMMENT.match(text, at):
        raise _Unsure
    return out


def _text_key(key: str) -> bool:
    """Whether `key` reads as text (not 'yes', 'null', 12...). Keys repeat: remembered."""
    known = _TEXT_KEYS.get(key)
    if known is None:
        known = _tag(key) == _STR
        if len(_TEXT_KEYS) < 4096:
            _TEXT_KEYS[key] = known
    return known


def _tag(value: str) -> str:
    for tag, pattern in _RESOLVERS.get(value[0], ()):
        if pattern.match(value):
            return tag
    return _STR


def _plain(value: str) -> Any:
    """A plain scalar typed as the loader types it: floats as Decimal, dates kept as text.
    Values repeat (dates above all) and what they give cannot be changed: remembered."""
    known = _PLAINS.get(value, _PLAINS)
    if known is _PLAINS:
        known = _typed(value)  # raises _Unsure for what libyaml must read: never remembered
        if len(_PLAINS) < 16384:
            _PLAINS[value] = known
    return known


def _typed(value: str) -> Any:
    tag = _tag(value)
    if tag == _STR:
        return value
    kind = tag.rsplit(":", 1)[1]
    if kind == "timestamp":
        return value
    if kind == "null":
        return None
    if kind == "bool":
        return _BOOL[value.lower()]
    if kind == "int" and _INT.match(value) and len(value) < 100:
        return int(value)  # a longer one goes to libyaml, which says what is wrong with it
    if kind == "float" and _FLOAT.match(value):
        return Decimal(value)
    raise _Unsure  # other spellings of numbers (0x1f, 1_000, 1:30, .inf), merge keys, '='
