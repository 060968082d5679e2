"""Elements: parameter sets with where they came from, and the steps every generator shares.

An element is one parameter set and its provenance (`spec.generators[1].matrix element 4
(0 x 3)`), which every error about it names. Two steps apply to many generators alike:
`values` (clusters, git, pullRequest), each value a template evaluated on the element's own
parameters and stored under `.values`, and the post-selector `selector` on any generator,
matched against the flattened parameters after `values` are in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tether.generators import params as parameters
from tether.generators import selectors, templating
from tether.generators.documents import DocumentLimits
from tether.generators.errors import InvalidSpec, TooMany
from tether.generators.inputs import Inputs
from tether.generators.params import Params
from tether.generators.templating import Compiled, Templater


@dataclass(frozen=True, kw_only=True)
class Limits:
    max_elements: int = 10_000  # parameter sets one generator may make (a matrix multiplies)
    max_applications: int = 10_000  # Applications one set may make
    documents: DocumentLimits = field(default_factory=DocumentLimits)


@dataclass(frozen=True)
class Context:
    """What every generator step reads besides its own spec."""

    inputs: Inputs
    templater: Templater
    options: tuple[str, ...]  # goTemplateOptions
    limits: Limits


@dataclass(frozen=True)
class Element:
    params: Params
    where: str


def numbered(where: str, sets: Sequence[Params], ctx: Context) -> list[Element]:
    """Elements `where element 0`, `1`...; TooMany past the limit."""
    if len(sets) > ctx.limits.max_elements:
        raise TooMany(f"{where}: {len(sets)} parameter sets, more than {ctx.limits.max_elements}")
    return [Element(p, f"{where} element {i}") for i, p in enumerate(sets)]


def with_values(elements: list[Element], raw: Any, where: str, ctx: Context) -> list[Element]:
    """Each element with `.values` set to the generator's `values`, evaluated on its params."""
    if not raw:
        return elements
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        raise InvalidSpec(f"{where}.values: must be a mapping of strings")
    compiled = Compiled.of(dict(raw), "values")
    filled = templating.render_trees(
        [compiled], [(e.params, e.where) for e in elements], ctx.options, ctx.templater
    )
    return [
        Element({**e.params, "values": f[0]}, e.where)
        for e, f in zip(elements, filled, strict=True)
    ]


def post_select(elements: list[Element], raw: Any, where: str) -> list[Element]:
    """The elements whose flattened parameters match the generator's `selector`."""
    if raw is None:
        return elements
    selector = selectors.parse(raw, f"{where}.selector")
    return [e for e in elements if selector.matches(parameters.flatten(e.params))]
