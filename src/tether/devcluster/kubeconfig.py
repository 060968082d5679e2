"""Kubeconfig files for the admin and for each component, with certificates embedded.

Embedding the data (rather than paths) makes the admin kubeconfig self-contained: it can be copied
or exported as KUBECONFIG and still work.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def render(cluster_name: str, server: str, pki_dir: Path, client_stem: str) -> dict[str, Any]:
    user = f"{cluster_name}-{client_stem}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": _b64(pki_dir / "ca.crt"),
                },
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(pki_dir / f"{client_stem}.crt"),
                    "client-key-data": _b64(pki_dir / f"{client_stem}.key"),
                },
            }
        ],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": cluster_name,
    }


def write(path: Path, config: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)
