"""Destination clusters: `in-cluster` plus clusters registered as labelled Secrets.

A cluster Secret (label `tether.dev/secret-type: cluster`) holds `name`, `server` and `config`
(JSON: `bearerToken` and/or `tlsClientConfig` with base64 `caData`, `certData`, `keyData`), the
shape Argo CD users know. Clients are created once per cluster and shared.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from typing import Any

from lightkube.config.kubeconfig import KubeConfig
from lightkube.core.exceptions import ConfigError as LightkubeConfigError

from tether.cluster import config as cluster_config
from tether.cluster.client import KubeClient

SECRET_TYPE_LABEL = "tether.dev/secret-type"
CLUSTER_SECRET_TYPE = "cluster"
IN_CLUSTER = "in-cluster"


class UnknownCluster(LookupError):
    def __init__(self, name: str, why: str = "is not registered") -> None:
        super().__init__(f"destination cluster {name!r} {why}")
        self.name = name


def _decode(data: Mapping[str, str], key: str) -> str:
    return base64.b64decode(data.get(key, "")).decode() if data.get(key) else ""


def config_from_secret(secret: Mapping[str, Any]) -> cluster_config.ClusterConfig:
    data = secret.get("data") or {}
    name, server = _decode(data, "name"), _decode(data, "server")
    settings = json.loads(_decode(data, "config") or "{}")
    tls = settings.get("tlsClientConfig") or {}
    user: dict[str, Any] = {}
    if settings.get("bearerToken"):
        user["token"] = settings["bearerToken"]
    if tls.get("certData"):
        user["client-certificate-data"] = tls["certData"]
        user["client-key-data"] = tls.get("keyData", "")
    cluster: dict[str, Any] = {
        "server": server,
        "insecure-skip-tls-verify": bool(tls.get("insecure")),
    }
    if tls.get("caData"):
        cluster["certificate-authority-data"] = tls["caData"]
    kubeconfig = {
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    single = KubeConfig.from_dict(kubeconfig).get()
    assert single is not None
    return cluster_config.from_single(single, name)


def secret_for(name: str, config_dict: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """A cluster Secret registering `name` with the server and credentials of a kubeconfig."""
    cluster = config_dict["clusters"][0]["cluster"]
    user = config_dict["users"][0]["user"]
    settings: dict[str, Any] = {"tlsClientConfig": {}}
    tls = settings["tlsClientConfig"]
    if cluster.get("certificate-authority-data"):
        tls["caData"] = cluster["certificate-authority-data"]
    if user.get("client-certificate-data"):
        tls["certData"], tls["keyData"] = user["client-certificate-data"], user["client-key-data"]
    if user.get("token"):
        settings["bearerToken"] = user["token"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"cluster-{name}",
            "namespace": namespace,
            "labels": {SECRET_TYPE_LABEL: CLUSTER_SECRET_TYPE},
        },
        "type": "Opaque",
        "stringData": {"name": name, "server": cluster["server"], "config": json.dumps(settings)},
    }


def _readable(name: str, secret: Mapping[str, Any]) -> cluster_config.ClusterConfig:
    """The Secret's connection settings; one that cannot be read is as good as absent (the
    message says what is wrong with it, never what it holds)."""
    try:
        return config_from_secret(secret)
    except (ValueError, KeyError, TypeError, OSError, LightkubeConfigError) as exc:
        where = f"{secret.get('metadata', {}).get('name', '?')}"
        raise UnknownCluster(
            name, f"has an unreadable cluster Secret {where} ({type(exc).__name__})"
        ) from None


class ClusterRegistry:
    """Clients for destination clusters by name, from the management cluster's Secrets."""

    def __init__(self, home: KubeClient, namespace: str) -> None:
        self.home = home
        self.namespace = namespace
        self._clients: dict[str, KubeClient] = {}
        self._lock = asyncio.Lock()

    async def _secrets(self) -> list[dict[str, Any]]:
        selector = f"{SECRET_TYPE_LABEL}={CLUSTER_SECRET_TYPE}"
        return (await self.home.list("v1", "Secret", self.namespace, label_selector=selector)).items

    async def names(self) -> list[str]:
        found = [_decode(s.get("data") or {}, "name") for s in await self._secrets()]
        return [IN_CLUSTER, *sorted(n for n in found if n)]

    async def client(self, name: str) -> KubeClient:
        if name in ("", IN_CLUSTER):
            return self.home
        async with self._lock:
            if name not in self._clients:
                secret = next(
                    (
                        s
                        for s in await self._secrets()
                        if _decode(s.get("data") or {}, "name") == name
                    ),
                    None,
                )
                if secret is None:
                    raise UnknownCluster(name)
                self._clients[name] = KubeClient(_readable(name, secret))
            return self._clients[name]

    async def forget(self, name: str) -> None:
        """Drop a cached client (its Secret changed or the cluster was re-created)."""
        async with self._lock:
            client = self._clients.pop(name, None)
        if client is not None:
            await client.aclose()

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
