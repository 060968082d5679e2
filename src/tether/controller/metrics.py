"""Prometheus metrics of one controller, on a registry of its own (so several controllers can
run in one process, as the sharding tests do)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.reconcile_duration = Histogram(
            "tether_reconcile_duration_seconds",
            "Time to reconcile one Application once.",
            ["kind"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.syncs = Counter(
            "tether_syncs_total", "Finished sync operations by result.", ["result"], registry=r
        )
        self.drift_detected = Counter(
            "tether_drift_detected_total",
            "Live objects found changed outside Git.",
            ["cluster"],
            registry=r,
        )
        self.drift_corrected = Counter(
            "tether_drift_corrected_total",
            "Drifted objects restored by self-heal.",
            ["cluster"],
            registry=r,
        )
        self.git_requests = Counter(
            "tether_git_requests_total",
            "Git network calls by kind and result.",
            ["kind", "result"],
            registry=r,
        )
        self.git_duration = Histogram(
            "tether_git_request_duration_seconds",
            "Duration of Git network calls.",
            ["kind"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "tether_queue_depth", "Applications waiting to be reconciled.", registry=r
        )
        self.cache_objects = Gauge(
            "tether_cache_objects",
            "Objects in the live-state cache.",
            ["cluster", "kept"],
            registry=r,
        )
        self.apps = Gauge(
            "tether_applications",
            "Applications by sync and health status.",
            ["sync", "health"],
            registry=r,
        )
        self.api_requests = Gauge(
            "tether_api_requests",
            "Requests sent to the management cluster's API server.",
            ["method", "resource"],
            registry=r,
        )
        self.dry_runs = Counter(
            "tether_dry_runs_total", "Server-side dry-run applies made for diffs.", registry=r
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
