"""Safe YAML loading that refuses aliases, keeps money exact and can say where a value came from.

The fast path builds plain values only; positions are looked up again (a second compose of the
same text) only for the few values that turn out to be wrong, so a valid repository pays nothing
for good error messages.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from runner import quickyaml

try:  # libyaml's C parser when present; the pure-Python one otherwise
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

MAX_FILE_BYTES = 4 * 1024 * 1024
ALIAS_MESSAGE = (
    "YAML aliases (*name) are not allowed: write the value out instead of referring to it"
)
JsonPath = tuple[str | int, ...]


class YamlProblem(Exception):
    """A file that cannot be read as data; carries a 1-based position."""

    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


class _Loader(_BaseLoader):
    """Safe loader: no duplicate keys, floats as Decimal, dates kept as text."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [key_node.value for key_node, _ in node.value]
        if len(keys) != len(set(keys)):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.value in seen:
                    mark = key_node.start_mark
                    raise YamlProblem(
                        f"duplicate key '{key_node.value}': a key may appear only once in a "
                        "mapping",
                        mark.line + 1,
                        mark.column + 1,
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep)


class _GuardedLoader(_Loader):
    """For text that could hold anchors, aliases or merge keys: refuses them (memory bombs)."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise YamlProblem(ALIAS_MESSAGE)  # positioned by parse(), which finds the alias
        return super().construct_object(node, deep)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                mark = key_node.start_mark
                raise YamlProblem(
                    "YAML merge keys (<<) are not allowed: write the keys out",
                    mark.line + 1,
                    mark.column + 1,
                )
        return super().construct_mapping(node, deep)


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> Any:
    text = node.value.replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:  # .inf, .nan, sexagesimal: left as float for the schema to refuse
        return loader.construct_yaml_float(node)


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> str:
    # Kept as written: the schema checks it is a real date, so '2026-02-30' gets a clear message.
    return str(node.value)


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


@dataclass(frozen=True)
class Document:
    """A loaded YAML file: its data and the text it came from (for positions)."""

    path: str
    text: str
    data: Any

    def __getstate__(self) -> tuple[str, str]:
        # Pickled (a snapshot, a second process's share of the files) without the parsed data:
        # the entities built from it travel instead, and positions come from the text.
        return self.path, self.text

    def __setstate__(self, state: tuple[str, str]) -> None:
        self.__dict__.update(path=state[0], text=state[1], data=None)


def read_text(path: str | Path, rel: str) -> str:
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise YamlProblem(
                f"file is {size / 1024 / 1024:.1f} MiB; Nudge reads data files of at most "
                f"{MAX_FILE_BYTES // 1024 // 1024} MiB: split it into several files"
            )
        data = handle.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlProblem(
            f"file is not UTF-8 text (byte {exc.start}): save it as UTF-8", line, col
        ) from exc


def parse(text: str) -> Any:
    """Parse YAML text into plain values; raises YamlProblem with a position."""
    data = quickyaml.load(text)  # the common plain subset, read directly
    return data if data is not None else parse_with_libyaml(text)


def parse_with_libyaml(text: str) -> Any:
    """Any YAML, read by libyaml with the loader's constructors."""
    # An alias needs '*' and a merge key '<<'; text with neither cannot hold one, and is read
    # without the per-node guard (most files: the guard costs a tenth of the load).
    guarded = "*" in text or "<<" in text
    loader = _GuardedLoader(text) if guarded else _Loader(text)
    try:
        return loader.get_single_data()
    except YamlProblem as exc:
        if exc.message == ALIAS_MESSAGE:
            exc.line, exc.col = _first_alias(text)
        raise
    except yaml.MarkedYAMLError as exc:
        message, mark = _explain(exc, text)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlProblem(f"invalid YAML: {message}", line, col) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(f"invalid YAML: {exc}") from exc
    except UNREADABLE as exc:  # a value libyaml parsed but no constructor can build
        line, col = _unreadable_at(text)
        raise YamlProblem(f"invalid YAML: {_unreadable(exc)}", line, col) from exc
    finally:
        loader.dispose()


# What PyYAML's constructors raise on values a person can type: a 5,000-digit number, a list
# as a key, `!!bool maybe`, `!!float x`, nesting thousands deep.
UNREADABLE = (ValueError, TypeError, KeyError, OverflowError, RecursionError)


def _unreadable(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply to read: flatten it"
    if isinstance(exc, TypeError) and "unhashable" in str(exc):
        return "a list or mapping used as a key: keys are plain words"
    if isinstance(exc, ValueError) and "digits" in str(exc):
        return "a number with thousands of digits: check for a typo"
    return "this value cannot be read as its tag says: remove the tag (!!...) or fix the value"


def _unreadable_at(text: str) -> tuple[int, int]:
    """Where the value that could not be built is: the deepest node that fails on its own."""
    try:
        root = yaml.compose(text, Loader=_BaseLoader)
    except (yaml.YAMLError, RecursionError):
        return 1, 1
    found = (1, 1)
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        loader = _Loader("")
        try:
            loader.construct_document(node)
        except UNREADABLE:
            found = (node.start_mark.line + 1, node.start_mark.column + 1)
            children = node.value if isinstance(node.value, list) else []
            if isinstance(node, yaml.MappingNode):  # a list or mapping as a key: point at it
                keys = [k for k, _ in children if isinstance(k, yaml.CollectionNode)]
                if keys:
                    return keys[0].start_mark.line + 1, keys[0].start_mark.column + 1
            stack = [c for pair in children for c in (pair if isinstance(pair, tuple) else [pair])]
        except (yaml.YAMLError, YamlProblem):
            continue
        finally:
            loader.dispose()
    return found


def _explain(exc: yaml.MarkedYAMLError, text: str) -> tuple[str, Any]:
    """libyaml's words, turned into what to do, and the place where it can be done."""
    problem = exc.problem or "cannot be read"
    context = exc.context or ""
    line = _line_at(text, exc.problem_mark)
    column = exc.problem_mark.column if exc.problem_mark else 0
    if "flow sequence" in context or "flow mapping" in context:
        bracket, closing = ("[", "]") if "sequence" in context else ("{", "}")
        return (
            f"the '{bracket}' opened here is never closed: add the missing '{closing}'",
            exc.context_mark or exc.problem_mark,
        )
    if "tab" in problem or line[column : column + 1] == "\t":
        return "a tab character: YAML indents with spaces only (replace it with spaces)", (
            exc.problem_mark
        )
    if "mapping values are not allowed" in problem and _KEY_THEN_VALUE.match(line[:column]):
        return _colon_in_value(line), exc.problem_mark
    if (
        "expected '-' indicator" in problem
        or "expected key" in problem
        or "mapping values are not allowed" in problem
    ):
        return (
            "wrong indentation: line this up with the lines above it (a key at the same "
            "level starts in the same column)"
        ), exc.problem_mark
    if "expected alphabetic or numeric character" in problem and "alias" in context:
        return "'*' starts an alias, which Nudge does not allow: put the text in quotes", (
            exc.problem_mark
        )
    words = f"{problem} {context}".strip()
    return words, exc.problem_mark or exc.context_mark


# `key: ` (or `- key: `) followed by a plain value: a second ': ' after it is in the value
_KEY_THEN_VALUE = re.compile(r"\s*(?:-\s+)*[^\s#'\"{\[][^:#]*:\s+[^\s'\"]")


def _line_at(text: str, mark: Any) -> str:
    if mark is None:
        return ""
    lines = text.split("\n")
    return lines[mark.line] if 0 <= mark.line < len(lines) else ""


def _colon_in_value(line: str) -> str:
    key, _, value = line.strip().removeprefix("- ").partition(": ")
    quoted = value.strip().replace("\\", "\\\\").replace('"', '\\"')
    return (
        "a ': ' inside a value ends the key and starts another: put the value in quotes, "
        f'e.g. {key}: "{quoted}"'
    )


def _first_alias(text: str) -> tuple[int, int]:
    for event in yaml.parse(text, Loader=_BaseLoader):
        if isinstance(event, yaml.AliasEvent) and event.start_mark is not None:
            return event.start_mark.line + 1, event.start_mark.column + 1
    return 1, 1


def load(path: str | Path, rel: str) -> Document:
    text = read_text(path, rel)
    return Document(rel, text, parse(text))


def locate(text: str, where: JsonPath, key: bool = False) -> tuple[int, int]:
    """1-based (line, col) of the value at `where` (or of its key), as near as the file allows."""
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=_BaseLoader)
    except yaml.YAMLError:
        return 1, 1
    if node is None:
        return 1, 1
    mark = node.start_mark
    for step in where:
        child, key_node = _child(node, step)
        if child is None:
            break
        mark = (
            key_node.start_mark
            if key and key_node is not None and step == where[-1]
            else (child.start_mark)
        )
        node = child
    return mark.line + 1, mark.column + 1


def _child(node: yaml.Node, step: str | int) -> tuple[yaml.Node | None, yaml.Node | None]:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == str(step):
                return value_node, key_node
    elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        return node.value[step], None
    return None, None
