"""Service health: only a LoadBalancer Service has anything to wait for.

Argo CD's rule: a LoadBalancer Service is Progressing until the cloud controller publishes an
address in `status.loadBalancer.ingress`; every other type is Healthy as soon as it exists. The
cloud controller reports what it could not set up through the LoadBalancerPortsError condition
(for instance mixed TCP/UDP ports on a provider that cannot do that) or a per-port `error`; both
make the Service Degraded.

No observedGeneration check: Services have no `metadata.generation` and their status none; the
load balancer's address is the only progress the cloud controller reports.
"""

from __future__ import annotations

from tether.engine.health import conditions, fields, loadbalancers, results
from tether.model.health import HealthResult
from tether.model.resources import Body


def assess(service: Body) -> HealthResult:
    if fields.text(service, "spec", "type") != "LoadBalancer":
        return results.healthy()
    ports_error = conditions.true(service, "LoadBalancerPortsError")
    if ports_error is not None:
        return results.degraded(results.joined("Load balancer error", ports_error.explanation))
    return loadbalancers.assess(service, "Waiting for the load balancer to get an address")
