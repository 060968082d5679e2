"""Which apps a Git change concerns: a verified webhook push, or a repository the poller saw move.

A push refreshes the repositories it names (once each), then requeues the apps that read them,
those whose own source paths it touched first (they are the ones a person is waiting for).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable

import structlog

from tether.controller import webhooks
from tether.controller.appindex import AppIndex
from tether.controller.polling import GitPoller
from tether.engine.tracking import AppRef

log = structlog.get_logger(__name__)


class PushRouter:
    def __init__(
        self, index: AppIndex, poller: GitPoller, enqueue: Callable[[AppRef], None]
    ) -> None:
        self.index = index
        self.poller = poller
        self.enqueue = enqueue

    def repo_moved(self, repo_url: str) -> None:
        key = webhooks.repo_key(repo_url)
        for ref, spec in self.index.specs():
            if any(webhooks.repo_key(s.repo_url) == key for s in spec.sources):
                self.enqueue(ref)

    async def on_push(self, push: webhooks.PushEvent) -> int:
        affected = webhooks.affected(push, self.index.annotated())
        direct = set(self._touched(push, affected))
        wanted = set(affected)
        repos = {
            s.repo_url
            for ref, spec in self.index.specs()
            if ref in wanted
            for s in spec.sources
            if webhooks.repo_key(s.repo_url) in push.repo_urls
        }
        for repo_url in repos:
            with contextlib.suppress(Exception):
                await self.poller.refresh_now(repo_url, notify=False)
        for ref in sorted(affected, key=lambda r: r not in direct):
            self.enqueue(ref)  # apps whose own paths the push touched go first
        log.info("webhook push", provider=str(push.provider), ref=push.ref, refreshed=len(affected))
        return len(affected)

    def _touched(self, push: webhooks.PushEvent, refs: Iterable[AppRef]) -> list[AppRef]:
        """Of the affected apps, those whose own source paths the push changed."""
        if push.changed_paths is None:
            return []
        wanted = set(refs)
        return [
            ref
            for ref, spec in self.index.specs()
            if ref in wanted
            and any(
                p == s.path.strip("/") or p.startswith(s.path.strip("/") + "/")
                for s in spec.sources
                for p in push.changed_paths
            )
        ]
