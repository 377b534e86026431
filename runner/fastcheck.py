"""A JSON Schema compiled into one Python predicate, for the files that are valid.

Validating 100,000 invoices with jsonschema costs several times more than reading them. Nearly
every file is valid, so the loader asks this predicate first and calls jsonschema only for a
file it rejects, to explain why. It covers exactly the keywords Nudge's schemas use (anything
else is refused when compiling, so a new keyword cannot be silently ignored), and a property
test holds it to jsonschema's verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

Check = Callable[[Any], bool]
# Annotations: for people and editors (descriptions, defaults, examples, the sentence an editor
# shows when a pattern does not match), never a condition on the value.
IGNORED = frozenset(
    {"$schema", "$id", "$defs", "title", "description", "default", "examples"}
    | {"patternErrorMessage"}
)


PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
    "integer": (int,),
    "number": (int, float, Decimal),
}


def _is_type(names: list[str]) -> Check:
    kinds = tuple(t for n in names for t in PYTHON_TYPES[n])
    if "boolean" in names or not ({"integer", "number"} & set(names)):
        return lambda v: isinstance(v, kinds)
    # JSON Schema: true is not a number, though Python's bool is an int
    return lambda v: isinstance(v, kinds) and not isinstance(v, bool)


def compile_schema(
    schema: dict[str, Any], formats: dict[str, Check], root: dict[str, Any] | None = None
) -> Check:
    root = root if root is not None else schema
    checks: list[Check] = []
    unknown = (
        set(schema)
        - IGNORED
        - {
            "type",
            "properties",
            "additionalProperties",
            "required",
            "items",
            "minItems",
            "uniqueItems",
            "enum",
            "pattern",
            "format",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "minLength",
            "oneOf",
            "anyOf",
            "const",
            "propertyNames",
            "$ref",
            "if",
            "then",
            "else",
        }
    )
    if unknown:
        raise ValueError(f"fastcheck does not know {sorted(unknown)}")
    if "$ref" in schema:
        ref = schema["$ref"]
        target = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        checks.append(_lazy(lambda: compile_schema(target, formats, root)))
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        checks.append(_is_type(names))
    if "const" in schema:
        constant = schema["const"]
        checks.append(lambda v: v == constant and type(v) is type(constant))
    if "enum" in schema:
        options = schema["enum"]
        checks.append(lambda v: any(v == o and type(v) is type(o) for o in options))
    if "pattern" in schema:
        pattern = re.compile(schema["pattern"])
        checks.append(lambda v: not isinstance(v, str) or pattern.search(v) is not None)
    if "format" in schema:
        checker = formats[schema["format"]]
        checks.append(checker)
    if "minLength" in schema:
        least = schema["minLength"]
        checks.append(lambda v: not isinstance(v, str) or len(v) >= least)
    for word, test in (
        ("minimum", lambda v, b: v >= b),
        ("maximum", lambda v, b: v <= b),
        ("exclusiveMinimum", lambda v, b: v > b),
    ):
        if word in schema:
            bound = schema[word]
            checks.append(_bounded(test, bound))
    checks += _object_checks(schema, formats, root)
    checks += _array_checks(schema, formats, root)
    if "oneOf" in schema:
        options = [compile_schema(s, formats, root) for s in schema["oneOf"]]
        checks.append(lambda v: sum(1 for o in options if o(v)) == 1)
    if "anyOf" in schema:
        choices = [compile_schema(s, formats, root) for s in schema["anyOf"]]
        checks.append(lambda v: any(c(v) for c in choices))
    if "propertyNames" in schema:
        name = compile_schema(schema["propertyNames"], formats, root)
        checks.append(lambda v: not isinstance(v, dict) or all(name(k) for k in v))
    if "if" in schema:
        condition = compile_schema(schema["if"], formats, root)
        then = compile_schema(schema.get("then", {}), formats, root)
        other = compile_schema(schema.get("else", {}), formats, root)
        checks.append(lambda v: then(v) if condition(v) else other(v))
    return _all(checks)


def _all(checks: list[Check]) -> Check:
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)

    def every(value: Any) -> bool:
        for check in checks:  # noqa: SIM110 - a plain loop: no generator per call on the hot path
            if not check(value):
                return False
        return True

    return every


def _bounded(test: Callable[[Any, Any], bool], bound: Any) -> Check:
    return lambda v: not _number(v) or test(v, bound)


def _number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _object_checks(
    schema: dict[str, Any], formats: dict[str, Check], root: dict[str, Any]
) -> list[Check]:
    checks: list[Check] = []
    properties = {
        k: compile_schema(s, formats, root) for k, s in schema.get("properties", {}).items()
    }
    required = tuple(schema.get("required", ()))
    extra = schema.get("additionalProperties", True)
    extra_check = compile_schema(extra, formats, root) if isinstance(extra, dict) else None

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for key in required:
            if key not in value:
                return False
        for key, item in value.items():
            known = properties.get(key)
            if known is not None:
                if not known(item):
                    return False
            elif extra is False or (extra_check is not None and not extra_check(item)):
                return False
        return True

    if properties or required or extra is not True:
        checks.append(check)
    return checks


def _array_checks(
    schema: dict[str, Any], formats: dict[str, Check], root: dict[str, Any]
) -> list[Check]:
    checks: list[Check] = []
    if "items" in schema:
        item = compile_schema(schema["items"], formats, root)
        checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
    if "minItems" in schema:
        least = schema["minItems"]
        checks.append(lambda v: not isinstance(v, list) or len(v) >= least)
    if schema.get("uniqueItems"):
        checks.append(lambda v: not isinstance(v, list) or _unique(v))
    return checks


def _unique(values: list[Any]) -> bool:
    seen: list[Any] = []
    for value in values:
        if any(value == s and type(value) is type(s) for s in seen):
            return False
        seen.append(value)
    return True


def _lazy(build: Callable[[], Check]) -> Check:
    compiled: list[Check] = []

    def check(value: Any) -> bool:
        if not compiled:
            compiled.append(build())
        return compiled[0](value)

    return check
