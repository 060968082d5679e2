"""Rendering tether's install manifests the way users do: the pinned kustomize and helm binaries
over deploy/, parsed into objects keyed by (kind, name, namespace)."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tether.devcluster import tools

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "kustomize" / "base"
SELF_MANAGED = ROOT / "deploy" / "kustomize" / "self-managed"
CHART = ROOT / "deploy" / "helm" / "tether"
NAMESPACE = "tether"
# Labels only Helm adds (chart version, manager); every other byte of the objects is the same.
HELM_ONLY_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")

Key = tuple[str, str, str]  # kind, name, namespace ("" for cluster-scoped)


def _run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stderr}"
    return result.stdout


def kustomize_build(path: Path = BASE) -> list[dict[str, Any]]:
    return _parse(_run([str(tools.binary("kustomize")), "build", str(path)]))


def helm_template(*sets: str, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    argv = [str(tools.binary("helm")), "template", "tether", str(CHART), "--namespace", namespace]
    for value in sets:
        argv += ["--set", value]
    return _parse(_run(argv))


def _parse(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def key(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return str(obj["kind"]), str(meta["name"]), str(meta.get("namespace") or "")


def by_key(objects: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    keyed = {key(o): o for o in objects}
    assert len(keyed) == len(objects), "two rendered objects share a kind, name and namespace"
    return keyed


def without_helm_labels(obj: dict[str, Any]) -> dict[str, Any]:
    trimmed = copy.deepcopy(obj)
    labels = trimmed["metadata"].get("labels") or {}
    for label in HELM_ONLY_LABELS:
        labels.pop(label, None)
    return trimmed
