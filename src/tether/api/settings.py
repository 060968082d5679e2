"""The API server's settings: one frozen value built by `tether server` (or a test)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tether.auth.settings import AuthSettings
from tether.service.runtime import Settings


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    runtime: Settings = field(default_factory=Settings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    audit_db: Path | None = None  # None: user actions are not recorded
    heartbeat_seconds: float = 15.0  # SSE: a comment line at least this often
    subscriber_queue: int = 256  # SSE: changes buffered per subscriber before it must resync
    watch_ready_seconds: float = 30.0  # how long start-up waits for the first list of apps
    wait_timeout: float = 300.0  # POST .../sync?wait=true waits at most this long
    tree_limit: int = 500  # nodes in a resource tree
    events_limit: int = 200  # Events in one answer
    page_limit: int = 1000  # largest `limit` of a list
