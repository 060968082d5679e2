"""APIService health: is the aggregated API available through the API server?

Available=True is Healthy (local APIServices, served by the API server itself, always are). While
the backing Service has no ready endpoints or does not exist yet (MissingEndpoints,
ServiceNotFound, EndpointsNotFound) the APIService is Progressing: the extension server is
usually deployed alongside it and still starting. Any other Available=False reason, such as
FailedDiscoveryCheck or ServiceAccessError, means ready endpoints answer wrongly or not at all
(bad certificates, a network policy, the wrong port), which waiting does not fix: Degraded.

No observedGeneration check: APIServices have no `metadata.generation` and their status only the
Available condition, which the aggregator's availability controller re-checks continuously.
"""

from __future__ import annotations

from tether.engine.health import conditions, results
from tether.model.health import HealthResult
from tether.model.resources import Body

WAITING_FOR_BACKEND = frozenset({"MissingEndpoints", "ServiceNotFound", "EndpointsNotFound"})


def assess(api_service: Body) -> HealthResult:
    available = conditions.find(api_service, "Available")
    if available is None:
        return results.progressing("Waiting for the API server to check availability")
    if available.is_true:
        return results.healthy()
    detail = results.joined(available.reason, available.message)
    if available.reason in WAITING_FOR_BACKEND or not available.is_false:
        return results.progressing(detail)
    return results.degraded(detail)
