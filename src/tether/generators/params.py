"""Parameter sets: the plain data a generator makes and a template reads.

A parameter set is a JSON-like mapping, nested as Argo CD's goTemplate mode sees it: a cluster's
labels under `metadata.labels`, a directory's parts under `path`. Combining sets follows the Go
library Argo CD combines them with (mergo), quirks included, because users write sets that rely
on them:

- `override` (matrix, merge): the later set's scalars, lists and nulls replace; nested maps
  merge key by key; but a map never replaces a non-empty scalar or list.
- `fill` (a generator's `template` over the spec's): only what is empty in the generator's
  template (absent, null, "", 0, false, {}, []) is taken from the spec's; maps fill key by key.

`flatten` turns a set into the string labels a post-selector matches (`a.b.0: "x"`), with values
printed as Go's `%v` prints decoded JSON (numbers are float64 there: 1000000 is "1e+06").
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

Params = dict[str, Any]
"""One parameter set: what a template sees as `.`."""

_ABSENT = object()


def is_empty(value: Any) -> bool:
    """Go's zero value test as mergo applies it to decoded JSON."""
    if value is None or value is False:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, str | Mapping | list | tuple):
        return len(value) == 0
    return False


def override(dst: Params, src: Mapping[str, Any]) -> Params:
    """Merge `src` into `dst` in place, `src` winning as mergo.WithOverride has it; returns dst."""
    for key, value in src.items():
        if not isinstance(value, Mapping):
            dst[key] = clone(value)
            continue
        current = dst.get(key, _ABSENT)
        if current is _ABSENT or is_empty(current):
            dst[key] = clone(value)
        elif isinstance(current, dict):
            override(current, value)
        # else: a non-empty scalar or list stays; mergo does not put a map over it
    return dst


def clone(value: Any) -> Any:
    """A copy of JSON-like data sharing nothing mutable (much cheaper than copy.deepcopy)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {k: clone(v) for k, v in value.items()}
    if kind is list or isinstance(value, tuple):
        return [clone(v) for v in value]
    return value


def fill(dst: Params, src: Mapping[str, Any]) -> Params:
    """Fill what is empty in `dst` from `src`, in place, as mergo.Merge without override does."""
    for key, value in src.items():
        current = dst.get(key, _ABSENT)
        if current is _ABSENT or is_empty(current):
            dst[key] = clone(value)
        elif isinstance(current, dict) and isinstance(value, Mapping):
            fill(current, value)
    return dst


def flatten(params: Mapping[str, Any]) -> dict[str, str]:
    """Dotted keys to Go-formatted strings: {"a": {"b": [1]}} -> {"a.b.0": "1"}."""
    flat: dict[str, str] = {}
    _flatten_into(flat, "", params)
    return flat


def _flatten_into(flat: dict[str, str], prefix: str, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten_into(flat, f"{prefix}.{key}" if prefix else str(key), item)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _flatten_into(flat, f"{prefix}.{index}" if prefix else str(index), item)
    else:
        flat[prefix] = go_format(value)


def go_format(value: Any) -> str:
    """How Go's `%v` prints a JSON-decoded scalar (numbers are float64 after decoding)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _go_float(float(value))
    return str(value)


def _go_float(number: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64), as `%v` prints: the shortest digits that read back
    the same, in exponent form when the exponent is below -4 or at least 6."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number == 0:
        return "-0" if math.copysign(1.0, number) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(number)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # digits[:point] is the integer part
    scientific = point - 1 < -4 or point - 1 >= 6
    text = _go_exponent(digits, point - 1) if scientific else _go_fixed(digits, point)
    return ("-" if sign else "") + text


def _go_exponent(digits: str, exponent: int) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _go_fixed(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def canonical(value: Any) -> str:
    """A key under which equal JSON values (3 and 3.0 included) compare equal."""
    return json.dumps(_numbers_as_floats(value), sort_keys=True, separators=(",", ":"))


def _numbers_as_floats(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _numbers_as_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_numbers_as_floats(v) for v in value]
    return str(value)
