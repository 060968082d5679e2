"""Cluster and repository Secrets as the API shows and writes them: write-only credentials.

What is shown is what a person needs to recognise an entry (a cluster's name and server, a
repository's URL and user name) plus *whether* each credential is set; never a value. Writes
create or replace the whole Secret (Kubernetes answers a create or replace with the stored
object; that answer is dropped here and never reaches a client).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from tether.cluster import errors as api_errors
from tether.cluster import registry
from tether.cluster.client import KubeClient
from tether.model.resources import Body
from tether.source import kubecredentials as repos

LABEL = registry.SECRET_TYPE_LABEL


def _decoded(data: Mapping[str, Any], key: str) -> str:
    try:
        return base64.b64decode(str(data.get(key) or "")).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


async def _secrets(kube: KubeClient, namespace: str, selector: str) -> list[Body]:
    return (await kube.list("v1", "Secret", namespace, label_selector=selector)).items


async def _write(kube: KubeClient, secret: Body, existing: Body | None) -> None:
    if existing is None:
        await kube.create(secret)
        return
    secret["metadata"]["name"] = existing["metadata"]["name"]
    await kube.replace(secret)  # no resourceVersion: the caller's values win, whole


# ---- clusters ----------------------------------------------------------------------------


def cluster_info(secret: Body) -> dict[str, Any]:
    data = secret.get("data") or {}
    try:
        config = json.loads(_decoded(data, "config") or "{}")
    except ValueError:
        config = {}
    tls = config.get("tlsClientConfig") or {} if isinstance(config, dict) else {}
    return {
        "name": _decoded(data, "name"),
        "server": _decoded(data, "server"),
        "credentials": {
            "bearerToken": bool(isinstance(config, dict) and config.get("bearerToken")),
            "clientCertificate": bool(tls.get("certData")),
            "caData": bool(tls.get("caData")),
        },
    }


async def cluster_secrets(kube: KubeClient, namespace: str) -> dict[str, Body]:
    """Cluster Secrets by the cluster name they register."""
    selector = f"{LABEL}={registry.CLUSTER_SECRET_TYPE}"
    found = {cluster_info(s)["name"]: s for s in await _secrets(kube, namespace, selector)}
    return {name: s for name, s in found.items() if name}


def in_cluster(kube: KubeClient) -> dict[str, Any]:
    return {"name": registry.IN_CLUSTER, "server": kube.config.server, "credentials": {}}


async def write_cluster(
    kube: KubeClient,
    namespace: str,
    name: str,
    kubeconfig: Mapping[str, Any],
    existing: Body | None,
) -> None:
    await _write(kube, registry.secret_for(name, kubeconfig, namespace), existing)


# ---- repositories ------------------------------------------------------------------------


def repository_info(secret: Body) -> dict[str, Any]:
    data = secret.get("data") or {}
    labels = (secret.get("metadata") or {}).get("labels") or {}
    return {
        "url": _decoded(data, "url"),
        "type": repos.TEMPLATE if labels.get(LABEL) == repos.TEMPLATE else repos.REPOSITORY,
        "username": _decoded(data, "username"),
        "hasPassword": bool(data.get("password")),
        "hasSshPrivateKey": bool(data.get("sshPrivateKey")),
    }


async def repository_secrets(kube: KubeClient, namespace: str) -> dict[tuple[str, str], Body]:
    """Repository and credential-template Secrets by (type, url)."""
    selector = f"{LABEL} in ({repos.REPOSITORY},{repos.TEMPLATE})"
    found: dict[tuple[str, str], Body] = {}
    for secret in sorted(await _secrets(kube, namespace, selector), key=_name):
        info = repository_info(secret)
        if info["url"]:
            found.setdefault((info["type"], info["url"]), secret)
    return found


def _name(secret: Body) -> str:
    return str((secret.get("metadata") or {}).get("name", ""))


def repository_secret(namespace: str, fields: Mapping[str, str]) -> Body:
    kind = fields["type"]
    digest = hashlib.sha256(f"{kind} {fields['url']}".encode()).hexdigest()[:16]
    values = {k: v for k, v in fields.items() if k != "type" and v}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"{'creds' if kind == repos.TEMPLATE else 'repo'}-{digest}",
            "namespace": namespace,
            "labels": {LABEL: kind},
        },
        "type": "Opaque",
        "stringData": values,
    }


async def write_repository(
    kube: KubeClient, namespace: str, fields: Mapping[str, str], existing: Body | None
) -> None:
    await _write(kube, repository_secret(namespace, fields), existing)


async def delete(kube: KubeClient, secret: Body) -> bool:
    try:
        return (
            await kube.delete("v1", "Secret", _name(secret), secret["metadata"]["namespace"])
            is not None
        )
    except api_errors.NotFound:
        return False
