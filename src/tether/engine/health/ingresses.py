"""Ingress health, with Argo CD's semantics: Healthy once the ingress controller publishes an
address in `status.loadBalancer.ingress`, Progressing until then.

An ingress controller that never writes status (some do not, unless told to publish it) leaves
its Ingresses Progressing; that is the honest answer, since nothing confirms they are served. A
per-port `error` reported by the controller makes the Ingress Degraded.

No observedGeneration check: IngressStatus has only `loadBalancer`, and ingress controllers record
no generation; the published address is all there is to read.
"""

from __future__ import annotations

from tether.engine.health import loadbalancers
from tether.model.health import HealthResult
from tether.model.resources import Body


def assess(ingress: Body) -> HealthResult:
    return loadbalancers.assess(ingress, "Waiting for the ingress controller to publish an address")
