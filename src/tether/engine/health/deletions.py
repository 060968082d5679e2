"""Objects on their way out: anything with a deletionTimestamp is Progressing.

This is Argo CD's rule, applied before any kind-specific check: an object being deleted is not
the object Git describes any more, and it may linger for a long time behind finalizers, so the
message names them. Kinds whose status describes their own termination (Namespace, CRD) opt out
and explain it better themselves.
"""

from __future__ import annotations

from tether.engine.health import fields, results
from tether.model.health import HealthResult
from tether.model.resources import Body


def pending(obj: Body) -> bool:
    return bool(fields.text(obj, "metadata", "deletionTimestamp"))


def assess(obj: Body) -> HealthResult:
    finalizers = fields.strings(obj, "metadata", "finalizers")
    if finalizers:
        waiting = ", ".join(finalizers)
        return results.progressing(f"Pending deletion; waiting for finalizers: {waiting}")
    return results.progressing("Pending deletion")
