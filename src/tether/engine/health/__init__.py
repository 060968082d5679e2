"""Health assessment: is a live object what its spec asks for, still getting there, or failing?

`assess(obj)` answers for one live object with a HealthResult, or None for kinds that have no
health (ConfigMap, Secret, RBAC objects, ...), which callers treat as healthy by absence. An
application's health is the worst of its objects' (model.health.worst).

The order of decisions, after Argo CD's:
1. An object being deleted is Progressing (deletions), unless its kind explains its own
   termination (Namespace, CustomResourceDefinition).
2. A custom rule for the kind (rules: CEL expressions from configuration) replaces everything else
   but the generation rule: a status not written for the current spec is Progressing, judged as
   the kind's built-in check would (or by kstatus's rule, for other kinds) (generations).
3. A built-in check, one module per kind, dispatched by (group, kind) (registry).
4. Otherwise the kstatus conventions (Ready / Reconciling / Stalled conditions), or None (kstatus).

Everything here is pure: data in, a result out, no I/O.
"""

from __future__ import annotations

from tether.engine.health import deletions, kstatus, registry
from tether.engine.health.generations import Tracking
from tether.engine.health.rules import CustomHealthRule, HealthRules
from tether.model.health import HealthResult
from tether.model.resources import Body, group_of

__all__ = ["CustomHealthRule", "HealthRules", "assess"]


def assess(obj: Body, rules: HealthRules | None = None) -> HealthResult | None:
    group, kind = group_of(str(obj.get("apiVersion", ""))), str(obj.get("kind", ""))
    check = registry.lookup(group, kind)
    if deletions.pending(obj) and not (check is not None and check.handles_deletion):
        return deletions.assess(obj)
    rule = rules.get(group, kind) if rules is not None else None
    if rule is not None:
        return rule.assess(obj, check.tracking if check is not None else Tracking.WHEN_PRESENT)
    if check is not None:
        return check.assess(obj)
    return kstatus.assess(obj)
