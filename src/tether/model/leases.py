"""The Leases tether's controllers hold, and what they tell others about who runs what.

Every controller replica holds a *member* Lease (`tether-member-<identity>`) in tether's
namespace while it runs, renewed every third of its duration, with the namespaces whose
Applications it reconciles in an annotation. Sharded replicas also hold *bucket* Leases (see
`controller.sharding`). Anyone else — the CLI deciding whether to run a sync itself or leave it to
a controller — reads them here: one executor per app.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

LEASE_API = "coordination.k8s.io/v1"
LEASE_LABEL = "tether.dev/lease"  # value: member | bucket
MEMBER_PREFIX = "tether-member-"
BUCKET_PREFIX = "tether-bucket-"
NAMESPACES_ANNOTATION = "tether.dev/app-namespaces"  # comma-separated
MAX_CLOCK_SKEW = 5.0  # seconds between the controller's clock and a reader's


def renewed_at(lease: Mapping[str, Any]) -> dt.datetime | None:
    value = (lease.get("spec") or {}).get("renewTime")
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def fresh(lease: Mapping[str, Any], now: dt.datetime, skew: float = MAX_CLOCK_SKEW) -> bool:
    """Held and renewed within its duration (plus the clock skew allowed between machines)."""
    spec = lease.get("spec") or {}
    renewed = renewed_at(lease)
    if not spec.get("holderIdentity") or renewed is None:
        return False
    duration = float(spec.get("leaseDurationSeconds") or 15)
    return now <= renewed + dt.timedelta(seconds=duration + skew)


def namespaces_of(lease: Mapping[str, Any]) -> frozenset[str]:
    annotations = (lease.get("metadata") or {}).get("annotations") or {}
    raw = str(annotations.get(NAMESPACES_ANNOTATION, ""))
    return frozenset(n for n in raw.split(",") if n)


def controller_for(
    leases: Iterable[Mapping[str, Any]], namespace: str, now: dt.datetime
) -> str | None:
    """The identity of a live controller that reconciles Applications in `namespace`."""
    for lease in leases:
        name = str((lease.get("metadata") or {}).get("name", ""))
        member = name.startswith(MEMBER_PREFIX) and fresh(lease, now)
        if member and namespace in namespaces_of(lease):
            return str((lease.get("spec") or {}).get("holderIdentity"))
    return None
