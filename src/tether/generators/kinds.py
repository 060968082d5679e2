"""Which generator a spec entry is, and the two that combine others: matrix and merge.

An entry names exactly one generator (`list`, `clusters`, `git`, `pullRequest`, `matrix`,
`merge`) and may add a post-`selector`. Argo CD's `scmProvider`, `clusterDecisionResource` and
`plugin` are refused by name.

matrix: exactly two children; every set of the first combined with every set of the second
(the first's parameters win where both have one). The second child may use the first's
parameters: when any string in it holds `{{`, it is evaluated once per set of the first (its
`selector` excepted, as in Argo CD) and generated for each; otherwise it is generated once.

merge: two or more children; the first's sets, each updated by the set of every later child
that agrees with it on all `mergeKeys` (top-level parameter names); sets of later children that
match none are dropped, and two sets of one child with the same keys are an error. Sets come
out in the first child's order (Argo CD's order is random).

Combinations nest once (a matrix or merge may hold one, which may not), and a child's own
`template` is refused: Argo CD ignores it silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.generators import clusters, git, lists, pullrequests, templating
from tether.generators.elements import Context, Element, numbered, post_select
from tether.generators.errors import InvalidSpec, TooMany
from tether.generators.params import Params, canonical, override

GENERATORS = {
    "list": lists.generate,
    "clusters": clusters.generate,
    "git": git.generate,
    "pullRequest": pullrequests.generate,
}
COMBINATIONS = ("matrix", "merge")
_UNSUPPORTED = ("scmProvider", "clusterDecisionResource", "plugin")


def kind_of(entry: Any, where: str) -> str:
    if not isinstance(entry, Mapping):
        raise InvalidSpec(f"{where}: a generator must be a mapping")
    if unsupported := [k for k in _UNSUPPORTED if k in entry]:
        raise InvalidSpec(f"{where}.{unsupported[0]}: this generator is not supported by tether")
    kinds = [k for k in (*GENERATORS, *COMBINATIONS) if entry.get(k) is not None]
    if len(kinds) != 1:
        found = f"found {', '.join(kinds)}" if kinds else "found none"
        raise InvalidSpec(f"{where}: name exactly one generator ({found})")
    return kinds[0]


def body_of(entry: Mapping[str, Any], kind: str, where: str) -> Mapping[str, Any]:
    body = entry[kind]
    if not isinstance(body, Mapping):
        raise InvalidSpec(f"{where}.{kind}: must be a mapping")
    return body


def elements(entry: Any, where: str, ctx: Context, *, depth: int = 0) -> list[Element]:
    """The parameter sets of one generator entry, post-selector applied."""
    kind = kind_of(entry, where)
    body = body_of(entry, kind, where)
    here = f"{where}.{kind}"
    if kind == "matrix":
        found = _matrix(body, here, ctx, depth)
    elif kind == "merge":
        found = _merge(body, here, ctx, depth)
    else:
        found = GENERATORS[kind](body, here, ctx)
    return post_select(found, entry.get("selector"), where)


def _children(body: Mapping[str, Any], where: str, depth: int) -> list[Any]:
    children = body.get("generators")
    if not isinstance(children, list):
        raise InvalidSpec(f"{where}.generators: must be a list of generators")
    for i, child in enumerate(children):
        place = f"{where}.generators[{i}]"
        kind = kind_of(child, place)
        if kind in COMBINATIONS and depth >= 1:
            raise InvalidSpec(f"{place}: matrix and merge generators nest only once")
        if body_of(child, kind, place).get("template"):
            raise InvalidSpec(f"{place}.{kind}.template: a child generator's template is not used")
    return children


def _matrix(body: Mapping[str, Any], where: str, ctx: Context, depth: int) -> list[Element]:
    children = _children(body, where, depth)
    if len(children) != 2:
        raise InvalidSpec(f"{where}.generators: a matrix combines exactly two generators")
    first = elements(children[0], f"{where}.generators[0]", ctx, depth=depth + 1)
    seconds = _second_sets(children[1], first, f"{where}.generators[1]", ctx, depth + 1)
    total = sum(len(s) for s in seconds)
    if total > ctx.limits.max_elements:
        raise TooMany(f"{where}: {total} parameter sets, more than {ctx.limits.max_elements}")
    combined: list[Params] = []
    labels: list[str] = []
    for i, (a, bs) in enumerate(zip(first, seconds, strict=True)):
        for j, b in enumerate(bs):
            combined.append(override(override({}, b.params), a.params))
            labels.append(f"({i} x {j})")
    return [
        Element(e.params, f"{e.where} {label}")
        for e, label in zip(numbered(where, combined, ctx), labels, strict=True)
    ]


def _second_sets(
    child: Mapping[str, Any], first: list[Element], where: str, ctx: Context, depth: int
) -> list[list[Element]]:
    """For each set of the first child, the sets of the second, evaluated on it if need be."""
    templated = {k: v for k, v in child.items() if k != "selector"}
    compiled = templating.Compiled.of(templated, where)
    if not compiled.slots:
        once = elements(child, where, ctx, depth=depth)
        return [once for _ in first]
    needing = [(a.params, a.where) for a in first if a.params]
    filled = iter(templating.render_trees([compiled], needing, ctx.options, ctx.templater))
    seconds = []
    for a in first:
        spec = {**next(filled)[0], **_selector(child)} if a.params else child
        seconds.append(elements(spec, where, ctx, depth=depth))
    return seconds


def _selector(child: Mapping[str, Any]) -> dict[str, Any]:
    return {"selector": child["selector"]} if "selector" in child else {}


def _merge(body: Mapping[str, Any], where: str, ctx: Context, depth: int) -> list[Element]:
    children = _children(body, where, depth)
    if len(children) < 2:
        raise InvalidSpec(f"{where}.generators: a merge needs two or more generators")
    keys = body.get("mergeKeys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise InvalidSpec(f"{where}.mergeKeys: a list of one or more parameter names")
    sets = [
        elements(c, f"{where}.generators[{i}]", ctx, depth=depth + 1)
        for i, c in enumerate(children)
    ]
    names = sorted(set(keys))
    base = {k: e.params for k, e in _keyed(sets[0], names).items()}
    for later in sets[1:]:
        for key, element in _keyed(later, names).items():
            if key in base:
                base[key] = override(base[key], element.params)
    return numbered(where, list(base.values()), ctx)


def _keyed(found: list[Element], keys: list[str]) -> dict[str, Element]:
    """The sets by their mergeKeys values (their own copies); InvalidSpec on a repeat."""
    keyed: dict[str, Element] = {}
    for i, element in enumerate(found):
        key = canonical({k: element.params.get(k) for k in keys})
        if key in keyed:
            raise InvalidSpec(
                f"{keyed[key].where} and element {i} have the same mergeKeys values;"
                " each set of a merged generator must be unique by them"
            )
        keyed[key] = Element(override({}, element.params), element.where)
    return keyed
