"""An ApplicationSet spec and its inputs become the Applications it makes: data in, data out.

    apps = generation.generate(spec, inputs, templater)

Generators run in spec order and each one's sets in its own order, so the result is a pure
function of the spec and the inputs: the controller can diff it against the Applications that
exist without anything else. Templates are Go templates (`goTemplate: true`, Argo CD's
recommended mode; absent means true here); `goTemplate: false`, fasttemplate's `{{name}}`, is
refused. Two Applications of one name are an error naming both elements, as is any failure:
nothing is generated from a set that does not generate completely.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tether.generators import applications, kinds, pullrequests, templating
from tether.generators import git as git_generator
from tether.generators.applications import GeneratedApplication
from tether.generators.elements import Context, Limits
from tether.generators.errors import DuplicateName, InvalidSpec, TooMany
from tether.generators.inputs import ForgeRepo, GitRef, Inputs, Needs
from tether.generators.params import clone, fill
from tether.generators.templating import Templater


@dataclass(frozen=True)
class SetSpec:
    """The parts of an ApplicationSet spec generation reads."""

    generators: tuple[Mapping[str, Any], ...]
    template: Mapping[str, Any]
    template_patch: str | None
    options: tuple[str, ...]  # goTemplateOptions


def parse(spec: Mapping[str, Any]) -> SetSpec:
    """The spec's generation fields, checked; InvalidSpec naming the field otherwise."""
    if spec.get("goTemplate", True) is not True:
        raise InvalidSpec(
            "spec.goTemplate: tether evaluates Go templates only; set goTemplate: true and write"
            " {{ .name }} rather than fasttemplate's {{name}}"
        )
    options = spec.get("goTemplateOptions") or []
    if not isinstance(options, list) or not all(o in templating.OPTIONS for o in options):
        allowed = ", ".join(sorted(templating.OPTIONS))
        raise InvalidSpec(f"spec.goTemplateOptions: each entry must be one of {allowed}")
    generators = spec.get("generators")
    if not isinstance(generators, list) or not generators:
        raise InvalidSpec("spec.generators: at least one generator is required")
    template = spec.get("template") or {}
    if not isinstance(template, Mapping):
        raise InvalidSpec("spec.template: must be a mapping")
    patch = spec.get("templatePatch")
    if patch is not None and not isinstance(patch, str):
        raise InvalidSpec("spec.templatePatch: must be a string (YAML or JSON, templated)")
    return SetSpec(tuple(generators), template, patch, tuple(options))


def generate(
    spec: Mapping[str, Any],
    inputs: Inputs,
    templater: Templater,
    *,
    limits: Limits | None = None,
) -> list[GeneratedApplication]:
    """The Applications `spec` makes from `inputs`, in generator order; GeneratorError if any
    part fails (MissingInput when an input must be fetched first)."""
    parsed = parse(spec)
    ctx = Context(inputs, templater, parsed.options, limits or Limits())
    made: list[GeneratedApplication] = []
    for i, entry in enumerate(parsed.generators):
        where = f"spec.generators[{i}]"
        found = kinds.elements(entry, where, ctx)
        template = _template_for(entry, where, parsed.template)
        made.extend(applications.render(found, template, parsed.template_patch, ctx))
        if len(made) > ctx.limits.max_applications:
            raise TooMany(f"more than {ctx.limits.max_applications} Applications")
    _refuse_duplicates(made)
    return made


def _template_for(
    entry: Mapping[str, Any], where: str, base: Mapping[str, Any]
) -> Mapping[str, Any]:
    """The generator's own `template`, its empty fields filled from the spec's."""
    kind = kinds.kind_of(entry, where)
    own = kinds.body_of(entry, kind, where).get("template") or {}
    if not isinstance(own, Mapping):
        raise InvalidSpec(f"{where}.{kind}.template: must be a mapping")
    return fill(clone(own), base) if own else base


def _refuse_duplicates(made: list[GeneratedApplication]) -> None:
    first: dict[str, GeneratedApplication] = {}
    for app in made:
        if (earlier := first.setdefault(app.name, app)) is not app:
            raise DuplicateName(
                f"two Applications named {app.name!r}: {earlier.origin} and {app.origin}"
            )


def needs(spec: Mapping[str, Any]) -> Needs:
    """The repositories and forges `spec` reads, as far as they are written without templates
    (a matrix child may compute them; generation then raises MissingInput for those)."""
    refs: set[GitRef] = set()
    forges: set[ForgeRepo] = set()
    uses_clusters = False
    for i, entry in enumerate(parse(spec).generators):
        for kind, body, where in _walk(entry, f"spec.generators[{i}]"):
            if kind == "clusters":
                uses_clusters = True
            elif kind == "git" and not _templated(body, ("repoURL", "revision")):
                refs.add(git_generator.ref_of(body, where))
            elif kind == "pullRequest" and not _templated_forge(body):
                forges.add(pullrequests.forge_of(body, where)[0])
    return Needs(frozenset(refs), frozenset(forges), uses_clusters)


def _walk(entry: Any, where: str) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    kind = kinds.kind_of(entry, where)
    body = kinds.body_of(entry, kind, where)
    yield kind, body, f"{where}.{kind}"
    if kind in kinds.COMBINATIONS:
        for j, child in enumerate(body.get("generators") or []):
            yield from _walk(child, f"{where}.{kind}.generators[{j}]")


def _templated(body: Mapping[str, Any], fields: tuple[str, ...]) -> bool:
    return any(isinstance(body.get(f), str) and templating.is_templated(body[f]) for f in fields)


def _templated_forge(body: Mapping[str, Any]) -> bool:
    return any(
        isinstance(block := body.get(p), Mapping) and _templated(block, ("owner", "repo", "api"))
        for p in pullrequests.PROVIDERS
    )
