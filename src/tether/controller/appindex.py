"""The controller's view of its Applications: one informer per watched namespace.

Everything in the controller that needs "the app as it is now" reads it here (a dictionary
lookup, no request), and the controller's own writes land here as soon as the API server returns
them (`observe`, handed to its AppStore), so the index is never older than the last write made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator

from tether import crds
from tether.cluster.api import KubeAPI
from tether.controller.reflector import OnEvent, Reflector
from tether.engine.tracking import AppRef
from tether.model.app import AppSpec
from tether.model.resources import Body
from tether.reconcile.apps import Application


class AppIndex:
    def __init__(self, kube: KubeAPI, namespaces: Iterable[str], on_event: OnEvent) -> None:
        self._reflectors = {
            ns: Reflector(kube, crds.API_VERSION, "Application", namespace=ns, on_event=on_event)
            for ns in namespaces
        }

    def watches(self, namespace: str) -> bool:
        return namespace in self._reflectors

    def lookup(self, ref: AppRef) -> Body | None:
        reflector = self._reflectors.get(ref.namespace)
        return reflector.store.get((ref.namespace, ref.name)) if reflector else None

    def observe(self, body: Body) -> None:
        """A body this process just wrote: the index takes it without waiting for the watch."""
        reflector = self._reflectors.get(str((body.get("metadata") or {}).get("namespace", "")))
        if reflector is not None:
            reflector.observe(body)

    def specs(self) -> Iterator[tuple[AppRef, AppSpec]]:
        """Every app whose spec parses (an invalid one reports itself when reconciled)."""
        for reflector in self._reflectors.values():
            for body in list(reflector.store.values()):
                app = Application(body)
                try:
                    yield app.ref, app.spec
                except (ValueError, KeyError, TypeError):
                    continue

    def annotated(self) -> Iterator[tuple[AppRef, AppSpec, dict[str, str]]]:
        """`specs`, with each app's annotations (webhook routing reads them)."""
        for ref, spec in self.specs():
            body = self.lookup(ref) or {}
            yield ref, spec, dict((body.get("metadata") or {}).get("annotations") or {})

    def refs(self) -> list[AppRef]:
        """Every app, valid or not (an invalid spec is reported when it is reconciled)."""
        return [AppRef(*key) for r in self._reflectors.values() for key in list(r.store)]

    def __len__(self) -> int:
        return sum(len(r.store) for r in self._reflectors.values())

    def ready(self) -> bool:
        return all(r.synced.is_set() for r in self._reflectors.values())

    def start(self) -> None:
        for reflector in self._reflectors.values():
            reflector.start()

    async def wait_synced(self, timeout: float) -> None:
        await asyncio.gather(*(r.wait_synced(timeout) for r in self._reflectors.values()))

    async def aclose(self) -> None:
        await asyncio.gather(*(r.aclose() for r in self._reflectors.values()))
