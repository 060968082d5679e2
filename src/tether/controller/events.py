"""Kubernetes Events on Applications: sync started/succeeded/failed, drift detected/corrected.

Events go out in the background: recording one never slows or fails a reconcile.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from enum import StrEnum

import structlog

from tether import crds
from tether.cluster import errors
from tether.cluster.client import KubeClient
from tether.engine.tracking import AppRef

log = structlog.get_logger(__name__)
CONTROLLER = "tether.dev/controller"


class Reason(StrEnum):
    SYNC_STARTED = "SyncStarted"
    SYNC_SUCCEEDED = "SyncSucceeded"
    SYNC_FAILED = "SyncFailed"
    DRIFT_DETECTED = "DriftDetected"
    DRIFT_CORRECTED = "DriftCorrected"


_WARNINGS = {Reason.SYNC_FAILED, Reason.DRIFT_DETECTED}


class EventRecorder:
    def __init__(self, client: KubeClient, instance: str) -> None:
        self.client = client
        self.instance = instance
        self._pending: set[asyncio.Task[None]] = set()

    def record(
        self, app: AppRef, uid: str, reason: Reason, note: str, action: str = "Reconcile"
    ) -> None:
        task = asyncio.create_task(self._send(app, uid, reason, note[:1024], action))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, app: AppRef, uid: str, reason: Reason, note: str, action: str) -> None:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": f"{app.name}.{uuid.uuid4().hex[:12]}", "namespace": app.namespace},
            "eventTime": now,
            "reportingController": CONTROLLER,
            "reportingInstance": self.instance,
            "action": action,
            "reason": str(reason),
            "note": note,
            "type": "Warning" if reason in _WARNINGS else "Normal",
            "regarding": {
                "apiVersion": crds.API_VERSION,
                "kind": "Application",
                "namespace": app.namespace,
                "name": app.name,
                "uid": uid,
            },
        }
        try:
            await self.client.create(event)
        except (errors.ApiError, errors.UnknownResource) as exc:
            log.warning("event not recorded", app=str(app), reason=str(reason), error=str(exc))

    async def flush(self) -> None:
        await asyncio.gather(*self._pending, return_exceptions=True)
