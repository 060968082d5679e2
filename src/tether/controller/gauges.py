"""The controller's gauges, sampled every few seconds: queue depth, cache sizes, API requests,
and the dry runs the diff memos counted since the last sample."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from tether.cluster.client import KubeClient
from tether.controller.cache import Caches
from tether.controller.metrics import Metrics
from tether.engine.tracking import AppRef
from tether.reconcile.compare import DiffMemo

INTERVAL = 5.0


class Gauges:
    def __init__(
        self,
        metrics: Metrics,
        queue_depth: Callable[[], int],
        caches: Caches,
        kube: KubeClient,
        memos: Mapping[AppRef, DiffMemo],
    ) -> None:
        self.metrics = metrics
        self.queue_depth = queue_depth
        self.caches = caches
        self.kube = kube
        self.memos = memos
        self._dry_runs_counted = 0

    def sample(self) -> None:
        metrics = self.metrics
        metrics.queue_depth.set(self.queue_depth())
        for name, cache in self.caches.all().items():
            tracked = cache.tracked()
            metrics.cache_objects.labels(name, "full").set(tracked)
            metrics.cache_objects.labels(name, "light").set(cache.objects() - tracked)
        for (method, resource), count in self.kube.request_counts.items():
            metrics.api_requests.labels(method, resource).set(count)
        counted = sum(m.dry_runs for m in self.memos.values())
        metrics.dry_runs.inc(max(counted - self._dry_runs_counted, 0))
        self._dry_runs_counted = counted

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(INTERVAL)
