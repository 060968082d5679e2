"""CEL expressions over a live object, through the `cel-expr-python` binding (CEL's C++ runtime).

This is the only module that touches the binding: it ships type stubs but no py.typed marker, so
it is untyped to mypy, and everything it returns is checked here and handed on as plain Python.
Expressions are compiled and type-checked once against one shared environment declaring a single
variable, `object`: a map from string to dyn, as a decoded JSON body is. The strings and optional
extensions are enabled so rules can write `object.status.phase.lowerAscii()` and
`object.?status.?phase.orValue('')`.

Failures are raised as ExpressionError with a one-line message; callers turn them into results.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cel_expr_python import cel  # type: ignore[import-untyped, unused-ignore]
from cel_expr_python.ext import (  # type: ignore[import-untyped, unused-ignore]
    ext_optional,
    ext_strings,
)

from tether.model.resources import Body

VARIABLE = "object"
_MISSING_KEY = re.compile(r'Key not found in map\s*:\s*"?([^"]*)"?')


class ExpressionError(Exception):
    """An expression that does not compile, or fails or returns the wrong type when evaluated."""


class Returns(StrEnum):
    BOOL = "bool"
    STRING = "string"


@dataclass(frozen=True)
class Expression:
    source: str
    returns: Returns
    program: Any = field(repr=False, compare=False)


@dataclass(frozen=True)
class Bindings:
    """The object bound once as CEL's `object`, shared by every expression of one rule."""

    activation: Any


@functools.cache
def _env() -> Any:
    return cel.NewEnv(
        variables={VARIABLE: cel.Type.Map(cel.Type.STRING, cel.Type.DYN)},
        extensions=[ext_strings.ExtStrings(), ext_optional.ExtOptional()],
    )


def _cel_type(returns: Returns) -> Any:
    return cel.Type.BOOL if returns is Returns.BOOL else cel.Type.STRING


def compile_expression(source: str, returns: Returns) -> Expression:
    try:
        program = _env().compile(source)
    except RuntimeError as err:
        raise ExpressionError(f"does not compile: {_first_line(str(err))}") from None
    found = program.return_type()
    if found != cel.Type.DYN and found != _cel_type(returns):
        raise ExpressionError(f"must return {returns}, but returns {str(found.name()).lower()}")
    return Expression(source, returns, program)


def bind(obj: Body) -> Bindings:
    try:
        return Bindings(_env().Activation({VARIABLE: obj}))
    except Exception as err:  # the native binding rejects values it cannot convert
        raise ExpressionError(f"cannot bind the object: {_first_line(str(err))}") from None


def evaluate(expression: Expression, bindings: Bindings) -> bool | str:
    try:
        value = expression.program.eval(bindings.activation)
    except Exception as err:  # native code: never let its failure escape as anything else
        raise ExpressionError(f"failed: {_first_line(str(err))}") from None
    if value.type() == cel.Type.ERROR:
        raise ExpressionError(f"failed: {_explain(_first_line(str(value.value())))}")
    result = value.value()
    if expression.returns is Returns.BOOL and isinstance(result, bool):
        return result
    if expression.returns is Returns.STRING and isinstance(result, str):
        return result
    kind = str(value.type().name()).lower()
    raise ExpressionError(f"returned {kind}, expected {expression.returns}")


def _explain(error: str) -> str:
    """Add the fix to the error everyone meets first: reading a field the object does not have."""
    missing = _MISSING_KEY.search(error)
    if missing is None:
        return error
    return (
        f"no field {missing.group(1)!r} in the object "
        "(guard optional fields with has(...) or ?. and orValue(...))"
    )


def _first_line(message: str) -> str:
    """The useful line of a CEL error: no status-code prefixes, no source-excerpt lines."""
    line = message.strip().splitlines()[0] if message.strip() else "unknown error"
    for prefix in ("INVALID_ARGUMENT: ", "NOT_FOUND: ", "ERROR: ", "<input>:"):
        line = line.removeprefix(prefix)
    return line.strip()
