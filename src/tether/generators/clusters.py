"""The clusters generator: one set per registered cluster its label selector picks.

Parameters, as Argo CD's goTemplate mode has them: `name`, `nameNormalized`, `server`,
`metadata.labels` and `metadata.annotations` (each present only when the Secret has some), and
`values`. The selector matches the cluster Secret's labels; the local cluster (no Secret, no
labels) is picked only by an empty selector, and its `nameNormalized` is its name unchanged,
both as Argo CD does. Clusters come out local first, then by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.generators import names, selectors
from tether.generators.elements import Context, Element, numbered, with_values
from tether.generators.inputs import Cluster
from tether.generators.params import Params


def generate(body: Mapping[str, Any], where: str, ctx: Context) -> list[Element]:
    selector = selectors.parse(body.get("selector"), f"{where}.selector")
    picked = [
        c
        for c in sorted(ctx.inputs.clusters, key=lambda c: (not c.local, c.name))
        if (selector.empty if c.local else selector.matches(c.labels))
    ]
    elements = numbered(where, [_params(c) for c in picked], ctx)
    return with_values(elements, body.get("values"), where, ctx)


def _params(cluster: Cluster) -> Params:
    if cluster.local:
        return {"name": cluster.name, "nameNormalized": cluster.name, "server": cluster.server}
    metadata: dict[str, Any] = {}
    if cluster.annotations:
        metadata["annotations"] = dict(cluster.annotations)
    if cluster.labels:
        metadata["labels"] = dict(cluster.labels)
    return {
        "name": cluster.name,
        "nameNormalized": names.normalize(cluster.name),
        "server": cluster.server,
        "metadata": metadata,
    }
