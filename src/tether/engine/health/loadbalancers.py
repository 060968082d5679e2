"""`status.loadBalancer`, shared by Service (type LoadBalancer) and Ingress.

Both report the addresses traffic should use in `status.loadBalancer.ingress`, each entry with
optional per-port statuses whose `error` field is set when that port could not be provided.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.engine.health import fields, results
from tether.model.health import HealthResult
from tether.model.resources import Body


def assess(obj: Body, waiting: str) -> HealthResult:
    entries = fields.items(obj, "status", "loadBalancer", "ingress")
    errors = [_port_error(port) for entry in entries for port in fields.items(entry, "ports")]
    if any(errors):
        return results.degraded(f"Load balancer port errors: {'; '.join(e for e in errors if e)}")
    if not entries:
        return results.progressing(waiting)
    addresses = [fields.text(e, "hostname") or fields.text(e, "ip") for e in entries]
    published = ", ".join(a for a in addresses if a)
    return results.healthy(f"Serving at {published}" if published else "")


def _port_error(port: Mapping[str, Any]) -> str:
    error = fields.text(port, "error")
    if not error:
        return ""
    return f"{fields.integer(port, 'port')}/{fields.text(port, 'protocol') or 'TCP'}: {error}"
