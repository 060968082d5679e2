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
- A key written twice in one mapping is an error naming both lines, as kubectl (through
  sigs.k8s.io/yaml) has it; PyYAML would keep the last one silently, so a repository could say
  one thing to a reviewer and another to the cluster. Keys that a `<<` merge brings in may be
  overridden, as YAML 1.1 defines. JSON files get the same rule, and so do keys that only become
  equal as JSON (`1` and `"1"`).
- Error messages give the origin, line and column and the parser's complaint, never the text
  around it: the document may be a Secret. Short key names are quoted; values never are.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable
from typing import Any

import yaml

from tether.model.resources import Body
from tether.render import objects
from tether.render.errors import InvalidManifest, TooComplex
from tether.render.options import RenderLimits

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_Pair = tuple[yaml.Node, yaml.Node]
_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"
_STR = "tag:yaml.org,2002:str"
_SPECIAL = frozenset({_MERGE, _VALUE})  # keys flatten_mapping must look at


class _Loader(_SafeLoader):  # type: ignore[misc,valid-type]
    """The safe loader, except that timestamps stay the strings they were written as, a key
    written twice in one mapping is refused, and `<<` merges follow YAML 1.1.

    The duplicate check costs one length comparison per mapping: only a mapping that comes out
    with fewer keys than it has entries (a duplicate, or a merged key overridden) is looked at
    again, and then only the pairs written in it, not those merged in.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.written: dict[yaml.Node, list[_Pair]] = {}  # a merging mapping's own pairs

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        """Puts the pairs `<<` merges in front of the mapping's own, each key once, so that a
        later pair wins as it does when the dict is built. PyYAML's own version tells keys apart
        by string identity, so a nested or listed merge could keep the wrong value."""
        for key, _ in node.value:
            if key.tag in _SPECIAL:
                break
        else:
            return  # the hot path: no merge here
        written: list[_Pair] = []
        merges: list[yaml.Node] = []
        for key, value in node.value:
            if key.tag == _MERGE:
                merges.append(value)
                continue
            if key.tag == _VALUE:  # a plain `=` key: PyYAML reads it as the string "="
                key.tag = _STR
            written.append((key, value))
        if merges:
            self.written[node] = written
            node.value = self._merged(node, merges) + written

    def _merged(self, node: yaml.MappingNode, merges: list[yaml.Node]) -> list[_Pair]:
        """The pairs merged in, each key once: of the mappings merged, the first written wins
        (YAML 1.1), so it is put last; within one, its own later pair wins, as it does there."""
        pairs: dict[Any, _Pair] = {}
        for source in reversed([s for value in merges for s in _merge_sources(node, value)]):
            self.flatten_mapping(source)
            for pair in source.value:
                key = self._key_of(node, pair[0])
                pairs.pop(key, None)  # re-inserted at the end: a dict keeps insertion order
                pairs[key] = pair
        return list(pairs.values())

    def _key_of(self, node: yaml.MappingNode, key_node: yaml.Node) -> Any:
        key = self.construct_object(key_node)  # cached: built once, whoever asks first
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found unhashable key",
                key_node.start_mark,
            )
        return key

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        if len(mapping) != len(node.value):
            written = self.written.get(node)
            self._refuse_duplicates(node.value if written is None else written)
        return mapping

    def _refuse_duplicates(self, pairs: list[_Pair]) -> None:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in pairs:
            key = self.construct_object(key_node)  # already built: constructed objects are cached
            if key in seen:
                raise _DuplicateKey(key_node, seen[key])
            seen[key] = key_node


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_str)


def _merge_sources(node: yaml.MappingNode, value: yaml.Node) -> list[yaml.MappingNode]:
    """The mappings one `<<` merges: its value, or the items of its sequence."""
    if isinstance(value, yaml.MappingNode):
        return [value]
    if isinstance(value, yaml.SequenceNode):
        for item in value.value:
            if not isinstance(item, yaml.MappingNode):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"expected a mapping for merging, but found {item.id}",
                    item.start_mark,
                )
        return list(value.value)
    raise yaml.constructor.ConstructorError(
        "while constructing a mapping",
        node.start_mark,
        "expected a mapping or list of mappings for merging, but found scalar",
        value.start_mark,
    )


class _DuplicateKey(yaml.MarkedYAMLError):
    """A mapping key written twice; reported like a syntax error, at the second one."""

    def __init__(self, again: yaml.Node, first: yaml.Node) -> None:
        line = first.start_mark.line + 1
        problem = f"mapping key {_shown(again)} already defined at line {line}"
        super().__init__(problem=problem, problem_mark=again.start_mark)


def _shown(node: yaml.Node) -> str:
    return _quoted(node.value) if isinstance(node, yaml.ScalarNode) else "(not shown)"


def _quoted(name: str) -> str:
    """A key as messages name it: short one-line keys are names; anything else is not shown."""
    if len(name) <= _SHOWN_KEY and name.isprintable():
        return json.dumps(name, ensure_ascii=False)
    return "(not shown)"


_SHOWN_KEY = 64  # longer keys are not names a person wrote to be read

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
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except _TwiceInJSON as e:
        raise InvalidManifest(
            f"{origin}: invalid JSON: key {_quoted(e.key)} is defined twice in one object"
        ) from None
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


class _TwiceInJSON(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a key written twice (`json` would keep the last)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _TwiceInJSON(_first_repeat(k for k, _ in pairs))
    return obj


def _first_repeat(keys: Iterable[str]) -> str:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    return ""


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
            copied = {_key(k): self._copy(v, depth + 1, index) for k, v in value.items()}
            if len(copied) != len(value):
                raise self._same_in_json(value, index)
            return copied
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

    def _same_in_json(self, mapping: dict[Any, Any], index: int) -> InvalidManifest:
        key = _first_repeat(_key(k) for k in mapping)
        return InvalidManifest(
            f"{self.origin}: document {index} has two keys of one mapping that both become "
            f"{_quoted(key)} in JSON"
        )

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
