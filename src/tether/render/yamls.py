"""Safe, bounded loading of YAML and JSON from repositories and tool output.

Repositories and tool output are untrusted text, and every layer that reads manifests (render,
the CLI's `--local`, promotion) must read them the same careful way, hence this module:

- PyYAML's libyaml-backed safe loader (`CSafeLoader`; the hot path) builds plain data only, so
  `!!python/*` tags are refused. Timestamps stay strings, as Kubernetes' own YAML→JSON decoding
  keeps them, so bodies stay JSON-serializable.
- The loader resolves an alias to the *same* object as its anchor, so a billion-laughs document
  loads instantly and explodes later, when serialized or diffed. Each document is therefore
  walked once, counting every node reached (a shared node once per reference) and stopping at
  `max_nodes` nodes in one document. The walk also rebuilds the data: returned bodies share
  nothing and hold no cycles.
- libyaml refuses nesting beyond 1000 levels; the walk enforces `max_depth`, and RecursionError
  (possible with a large `max_depth` or the pure-Python loader) is reported the same way.
- Error messages give the origin, line and column and the parser's complaint, never the text
  around it: the document may be a Secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import yaml

from tether.model.resources import Body
from tether.render import objects
from tether.render.errors import InvalidManifest, TooComplex
from tether.render.options import RenderLimits

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[misc,valid-type]
    """The safe loader, except that timestamps stay the strings they were written as."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_str)

_NESTING = "maximum nesting depth"  # libyaml's own depth guard, reported as TooComplex


def load_all(text: str, limits: RenderLimits, origin: str) -> list[Body]:
    """The Kubernetes objects in a YAML stream; empty documents skipped, Lists unwrapped."""
    return _objects(_parse_stream(text, origin), limits, origin)


def load_output(output: bytes, limits: RenderLimits, origin: str) -> list[Body]:
    """The Kubernetes objects a tool wrote to stdout (a YAML stream)."""
    try:
        text = output.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidManifest(f"{origin}: output is not UTF-8 (byte {e.start})") from None
    return load_all(text, limits, origin)


def load_json(text: str, limits: RenderLimits, origin: str) -> list[Body]:
    """The Kubernetes objects in a JSON file: one object, a List, or an array of objects."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidManifest(
            f"{origin}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from None
    except RecursionError:
        raise TooComplex(f"{origin}: JSON nests too deeply to parse") from None
    return _objects(data if isinstance(data, list) else [data], limits, origin)


def load_data(text: str, limits: RenderLimits, origin: str) -> Any:
    """One YAML document as bounded plain data (kustomization files, Helm values)."""
    try:
        document = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        raise _parse_error(e, origin) from None
    except RecursionError:
        raise TooComplex(f"{origin}: YAML nests too deeply to parse") from None
    return _Bounded(limits, origin).copy(document, 1)


def _parse_stream(text: str, origin: str) -> list[Any]:
    try:
        return list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as e:
        raise _parse_error(e, origin) from None
    except RecursionError:
        raise TooComplex(f"{origin}: YAML nests too deeply to parse") from None


def _objects(documents: Iterable[Any], limits: RenderLimits, origin: str) -> list[Body]:
    bounded = _Bounded(limits, origin)
    bodies: list[Body] = []
    for index, document in enumerate(documents, 1):
        if document is None:  # an empty document, or one holding only comments
            continue
        bodies.extend(objects.expand(bounded.copy(document, index), origin, index))
        if len(bodies) > limits.max_documents:
            raise TooComplex(f"{origin}: more than {limits.max_documents} documents")
    return bodies


def _parse_error(error: yaml.YAMLError, origin: str) -> InvalidManifest:
    if not isinstance(error, yaml.MarkedYAMLError):
        return InvalidManifest(f"{origin}: invalid YAML: {error}")
    problem = error.problem or error.context or "syntax error"
    mark = error.problem_mark or error.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    if isinstance(error, yaml.constructor.ConstructorError):  # e.g. !!python/object tags
        return InvalidManifest(f"{origin}: unsupported YAML{where}: {problem}")
    cls = TooComplex if _NESTING in problem else InvalidManifest
    return cls(f"{origin}: invalid YAML{where}: {problem}")


class _Bounded:
    """Copies parsed documents while counting nodes and depth.

    Nodes are counted per document: aliases cannot cross documents, and the bytes a stream may
    hold are already capped, so a large but honest stream (a chart full of CRDs) is not refused.
    """

    def __init__(self, limits: RenderLimits, origin: str) -> None:
        self.limits = limits
        self.origin = origin
        self.nodes = 0

    def copy(self, document: Any, index: int) -> Any:
        self.nodes = 0
        try:
            return self._copy(document, 1, index)
        except RecursionError:
            raise self._too_deep(index) from None

    def _copy(self, value: Any, depth: int, index: int) -> Any:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise TooComplex(
                f"{self.origin}: document {index} has more than {self.limits.max_nodes} nodes "
                "once YAML aliases are expanded"
            )
        if isinstance(value, dict):
            self._enter(depth, index)
            return {_key(k): self._copy(v, depth + 1, index) for k, v in value.items()}
        if isinstance(value, list):
            self._enter(depth, index)
            return [self._copy(v, depth + 1, index) for v in value]
        if value is None or isinstance(value, str | int | float):  # bool is an int
            return value
        raise InvalidManifest(
            f"{self.origin}: document {index} holds a {type(value).__name__} value, "
            "which has no JSON form (a !!binary, !!set or !!omap tag?)"
        )

    def _enter(self, depth: int, index: int) -> None:
        if depth > self.limits.max_depth:
            raise self._too_deep(index)

    def _too_deep(self, index: int) -> TooComplex:
        return TooComplex(
            f"{self.origin}: document {index} nests deeper than {self.limits.max_depth} levels"
        )


def _key(key: Any) -> str:
    """Mapping keys as JSON has them; YAML allows `true:` or `1:` as keys, JSON does not."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    return str(key)
