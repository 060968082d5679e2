"""CustomResourceDefinition health: can clients use the new API yet?

The API server's own controllers report this through conditions. Terminating (or a deletion in
progress) is Progressing: the CRD waits for its custom resources to be deleted. NamesAccepted=False
(the plural or a short name collides with another CRD) and NonStructuralSchema=True are Degraded:
neither clears without changing the CRD. Established=True is Healthy. Before that, a CRD with no
conditions yet or Established=False for reason Installing is Progressing; Established=False for
any other reason is Degraded.

No observedGeneration check: CRD status has no such field. Kubernetes 1.35 added one to CRD
conditions, but it is not filled in everywhere (the test control plane's 1.36 API server leaves it
empty), and Established stays True from the first time the API is served until deletion, by
design, so it could not say whether a later spec change has been taken in anyway.
"""

from __future__ import annotations

from tether.engine.health import conditions, deletions, results
from tether.model.health import HealthResult
from tether.model.resources import Body


def assess(crd: Body) -> HealthResult:
    return _terminating(crd) or _rejected(crd) or _establishment(crd)


def _terminating(crd: Body) -> HealthResult | None:
    terminating = conditions.true(crd, "Terminating")
    if terminating is None and not deletions.pending(crd):
        return None
    detail = terminating.explanation if terminating else "waiting for its custom resources"
    return results.progressing(results.joined("Terminating", detail))


def _rejected(crd: Body) -> HealthResult | None:
    names = conditions.find(crd, "NamesAccepted")
    if names is not None and names.is_false:
        return results.degraded(results.joined("Names not accepted", names.explanation))
    schema = conditions.true(crd, "NonStructuralSchema")
    if schema is not None:
        return results.degraded(results.joined("Schema is not structural", schema.explanation))
    return None


def _establishment(crd: Body) -> HealthResult:
    established = conditions.find(crd, "Established")
    if established is None:
        return results.progressing("Waiting for the API server to establish the CRD")
    if established.is_true:
        return results.healthy()
    if established.reason == "Installing":
        return results.progressing(results.joined("Installing", established.message))
    return results.degraded(results.joined("Not established", established.explanation))
