"""Small manifest builders for engine tests (YAML text, as it would sit in Git)."""

from __future__ import annotations

from typing import Any

import yaml


def dump(*objs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(objs, sort_keys=False)


def deployment(
    name: str, replicas: int = 1, image: str = "registry.invalid/web:1", **annotations: str
) -> dict[str, Any]:
    labels = {"app": name}
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = {
            k.replace("__", "/").replace("_", "-"): v for k, v in annotations.items()
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def config_map(
    name: str, data: dict[str, str] | None = None, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {"k": "v"}}


def service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def secret(name: str, values: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "Opaque",
        "stringData": values,
    }


def job(
    name: str,
    hook: str,
    fail: bool = False,
    policy: str = "",
    wave: int | None = None,
    suspend: bool = False,
) -> dict[str, Any]:
    """A hook Job; `suspend` makes one that never finishes (assessed Suspended, so awaited)."""
    annotations = {"tether.dev/hook": hook}
    if policy:
        annotations["tether.dev/hook-delete-policy"] = policy
    if wave is not None:
        annotations["tether.dev/sync-wave"] = str(wave)
    pod_meta: dict[str, Any] = {"annotations": {"tether.dev/test-exit-code": "1"}} if fail else {}
    spec: dict[str, Any] = {"suspend": True} if suspend else {}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            **spec,
            "backoffLimit": 0,
            "template": {
                "metadata": pod_meta,
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "hook", "image": "registry.invalid/hook:1"}],
                },
            },
        },
    }


def in_wave(obj: dict[str, Any], wave: int) -> dict[str, Any]:
    """`obj` in sync wave `wave`."""
    obj["metadata"].setdefault("annotations", {})["tether.dev/sync-wave"] = str(wave)
    return obj
