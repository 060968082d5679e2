"""Git polling shared per repository: one `ls-remote` per repository per interval, however many
apps use it, and the answers reused to resolve every app's revision without asking again.

The poller is also how a webhook push takes effect at once (`refresh_now`), and it is the
SourceBackend the controller's orchestrator uses (`PolledSource`), so resolving a branch for
1000 apps costs a dictionary lookup.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping

import structlog

from tether.controller.metrics import Metrics
from tether.model.revisions import ResolvedRevision, Snapshot
from tether.source import errors as source_errors
from tether.source.repositories import Repositories

log = structlog.get_logger(__name__)


class GitPoller:
    def __init__(
        self,
        repos: Repositories,
        interval: float,
        on_change: Callable[[str], None],
        metrics: Metrics,
    ) -> None:
        self.repos = repos
        self.interval = interval
        self.on_change = on_change
        self.metrics = metrics
        self.refs: dict[str, dict[str, str]] = {}
        self.failures: dict[str, source_errors.SourceError] = {}  # the last poll of each failed
        self.generation: dict[str, int] = {}  # per repository: how many times its refs moved
        self._locks: dict[str, asyncio.Lock] = {}

    def watch(self, repo_url: str) -> None:
        """Start polling a repository (apps register the repositories they use)."""
        self.refs.setdefault(repo_url, {})

    async def advertised(self, repo_url: str) -> Mapping[str, str]:
        """The refs last seen for a repository (asking it now if never asked). While its last
        poll failed, that failure is raised: apps must say their source is unreachable, not
        quietly keep comparing against what was seen before."""
        if repo_url in self.failures:
            raise self.failures[repo_url]
        if not self.refs.get(repo_url):
            await self.refresh_now(repo_url, notify=False)
        return self.refs.get(repo_url, {})

    async def refresh_now(self, repo_url: str, notify: bool = True) -> bool:
        """Ask the remote now; True (and apps notified) if any ref moved."""
        lock = self._locks.setdefault(repo_url, asyncio.Lock())
        async with lock:
            started = time.perf_counter()
            try:
                refs = await self.repos.ls_remote(repo_url)
            except source_errors.SourceError as exc:
                self.metrics.git_requests.labels("ls-remote", "error").inc()
                first_failure = repo_url not in self.failures
                self.failures[repo_url] = exc
                if first_failure:
                    self.generation[repo_url] = self.generation.get(repo_url, 0) + 1
                if first_failure and notify:
                    self.on_change(repo_url)  # so the apps show the outage now
                raise
            finally:
                self.metrics.git_duration.labels("ls-remote").observe(time.perf_counter() - started)
            self.metrics.git_requests.labels("ls-remote", "ok").inc()
            recovered = self.failures.pop(repo_url, None) is not None
            changed = recovered or (
                bool(self.refs.get(repo_url)) and self.refs.get(repo_url) != refs
            )
            self.refs[repo_url] = refs
            if changed:
                self.generation[repo_url] = self.generation.get(repo_url, 0) + 1
        if changed and notify:
            self.on_change(repo_url)
        return changed

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval * (0.9 + random.random() / 5))
            for repo_url in list(self.refs):
                try:
                    await self.refresh_now(repo_url)
                except source_errors.SourceError as exc:
                    log.warning("poll failed", repo=repo_url, error=str(exc))


class PolledSource:
    """A SourceBackend that resolves revisions from the poller's refs (no remote round trip)."""

    def __init__(self, repos: Repositories, poller: GitPoller, metrics: Metrics) -> None:
        self.repos = repos
        self.poller = poller
        self.metrics = metrics

    async def resolve(self, repo_url: str, target_revision: str) -> ResolvedRevision:
        self.poller.watch(repo_url)
        advertised = await self.poller.advertised(repo_url)
        started = time.perf_counter()
        try:
            return await self.repos.resolve(repo_url, target_revision, advertised=advertised)
        finally:
            self.metrics.git_duration.labels("resolve").observe(time.perf_counter() - started)

    async def snapshot(self, repo_url: str, revision: ResolvedRevision) -> Snapshot:
        return await self.repos.snapshot(repo_url, revision)
