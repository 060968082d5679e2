"""Bounded reading of the YAML and JSON a generator turns into parameters.

Git files and `elementsYaml` are tenant-written text, read as Argo CD reads them
(sigs.k8s.io/yaml: YAML 1.1 scalars, the first document only, timestamps as the strings they
were written as) but with the safety the render boundary applies to manifests: the safe loader
builds plain data only, every node reached is counted (an alias once per reference, so a
billion-laughs file stops at the limit instead of exploding when serialized for the template
helper), nesting is bounded, and the data is rebuilt so nothing is shared. Errors name the
origin and the line, never the text: a file may hold secrets.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from tether.generators.errors import InvalidDocument

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[misc,valid-type]
    """The safe loader with timestamps left as strings, as Go's YAML-to-JSON decoding has them."""


_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),
)


@dataclass(frozen=True, kw_only=True)
class DocumentLimits:
    max_bytes: int = 1024 * 1024  # one file or elementsYaml
    max_nodes: int = 100_000  # nodes reached in one document, aliases counted each time
    max_depth: int = 100


def load(text: bytes | str, origin: str, limits: DocumentLimits) -> Any:
    """The first document of `text` as plain, unshared data (None if there is none)."""
    if len(text) > limits.max_bytes:
        raise InvalidDocument(f"{origin}: larger than {limits.max_bytes} bytes")
    try:
        source = text.decode("utf-8") if isinstance(text, bytes) else text
        documents = yaml.load_all(source, Loader=_Loader)
        first = next(iter(documents), None)
    except UnicodeDecodeError:
        raise InvalidDocument(f"{origin}: not UTF-8 text") from None
    except yaml.MarkedYAMLError as e:
        raise InvalidDocument(f"{origin}: {_where(e)}{e.problem or 'invalid YAML'}") from None
    except yaml.YAMLError:
        raise InvalidDocument(f"{origin}: invalid YAML") from None
    budget = [limits.max_nodes]
    return _rebuild(first, origin, budget, limits.max_depth)


def objects(data: Any, origin: str) -> list[dict[str, Any]]:
    """A document holding one object or a list of objects, as a list (an empty file: one {})."""
    if data is None:
        return [{}]
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list) and all(isinstance(o, dict) or o is None for o in data):
        return [o or {} for o in data]
    raise InvalidDocument(f"{origin}: must hold an object or a list of objects")


def _where(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def _rebuild(value: Any, origin: str, budget: list[int], depth: int) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise InvalidDocument(f"{origin}: more nodes than the limit (aliases count each time)")
    if depth < 0:
        raise InvalidDocument(f"{origin}: nested deeper than the limit")
    if isinstance(value, Mapping):
        return {_key(k, origin): _rebuild(v, origin, budget, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_rebuild(v, origin, budget, depth - 1) for v in value]
    if isinstance(value, datetime.date | bytes):
        raise InvalidDocument(f"{origin}: holds a value JSON cannot represent")
    return value


def _key(key: Any, origin: str) -> str:
    """Keys as sigs.k8s.io/yaml turns them into JSON object keys."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float) or key is None:
        return "null" if key is None else str(key)
    raise InvalidDocument(f"{origin}: a mapping key that is not a scalar")
