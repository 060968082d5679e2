"""Repository credentials read from Kubernetes Secrets, the way Argo CD keeps them.

A Secret labelled `tether.dev/secret-type: repository` serves the one repository in its `url`; one
labelled `tether.dev/secret-type: repo-creds` is a template for every URL starting with its `url`.
Data keys: `url`, `username`, `password`, `sshPrivateKey`, `knownHosts`. The Secrets are listed on
every lookup (one label-selected LIST, cheap next to a git fetch), so a rotated token is used by
the very next fetch without a restart or a watch to keep warm.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tether.cluster import errors as kube_errors
from tether.cluster.client import KubeClient
from tether.source import errors
from tether.source.credentials import CredentialTable, RepoCredentials

SECRET_TYPE_LABEL = "tether.dev/secret-type"
REPOSITORY = "repository"
TEMPLATE = "repo-creds"
_SELECTOR = f"{SECRET_TYPE_LABEL} in ({REPOSITORY},{TEMPLATE})"


def _decoded(data: Mapping[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (data or {}).items():
        try:
            out[key] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            continue  # a malformed key is ignored rather than breaking every other repository
    return out


def _credentials(data: Mapping[str, str]) -> RepoCredentials:
    return RepoCredentials(
        username=data.get("username", ""),
        password=data.get("password", ""),
        ssh_private_key=data.get("sshPrivateKey", ""),
        known_hosts=data.get("knownHosts", ""),
    )


def table_from_secrets(secrets: Iterable[Mapping[str, Any]]) -> CredentialTable:
    """Build the lookup table; Secrets without a `url` are skipped. Sorted by name, so when two
    Secrets claim the same URL the choice does not depend on the order the API returned them."""
    repositories: dict[str, RepoCredentials] = {}
    templates: dict[str, RepoCredentials] = {}
    for secret in sorted(secrets, key=lambda s: str(s.get("metadata", {}).get("name", ""))):
        labels = (secret.get("metadata") or {}).get("labels") or {}
        data = _decoded(secret.get("data"))
        url = data.get("url", "").strip()
        target = repositories if labels.get(SECRET_TYPE_LABEL) == REPOSITORY else templates
        if url and url not in target:
            target[url] = _credentials(data)
    return CredentialTable(repositories, templates)


@dataclass(frozen=True)
class KubeCredentialStore:
    kube: KubeClient
    namespace: str

    async def lookup(self, repo_url: str) -> RepoCredentials | None:
        try:
            listed = await self.kube.list("v1", "Secret", self.namespace, label_selector=_SELECTOR)
        except kube_errors.ApiError as exc:
            raise errors.SourceError(
                repo_url, f"cannot read repository Secrets in namespace {self.namespace}: {exc}"
            ) from exc
        return table_from_secrets(listed.items).match(repo_url)
