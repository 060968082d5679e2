"""Reading the dev cluster's API audit log: the authoritative record of who wrote what, when.

The log holds writes only (see the audit policy in tether.devcluster.components); tests use it
to prove an order of creation, or that a failed sync wrote nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tether.devcluster.layout import InstanceLayout


@dataclass(frozen=True)
class Write:
    verb: str
    resource: str
    namespace: str
    name: str
    user: str
    code: int
    at: str  # RFC 3339 with microseconds; sorts lexically
    dry_run: bool


def writes(cluster_name: str, namespace: str | None = None, since: str = "") -> list[Write]:
    log = InstanceLayout.for_name(cluster_name).audit_log
    found = []
    for line in Path(log).read_text().splitlines():
        event = json.loads(line)
        if event.get("stage") != "ResponseComplete":
            continue
        ref = event.get("objectRef") or {}
        if namespace is not None and ref.get("namespace") != namespace:
            continue
        at = event.get("requestReceivedTimestamp", "")
        if at < since:
            continue
        found.append(
            Write(
                event["verb"],
                ref.get("resource", ""),
                ref.get("namespace", ""),
                ref.get("name", ""),
                (event.get("user") or {}).get("username", ""),
                int((event.get("responseStatus") or {}).get("code", 0)),
                at,
                "dryRun=All" in event.get("requestURI", ""),
            )
        )
    return found


def now_marker() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
