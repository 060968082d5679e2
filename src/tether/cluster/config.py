"""Connection settings for one cluster, loaded from a kubeconfig or the in-cluster service account.

lightkube parses the kubeconfig and builds the TLS context (CA and client certificate); this
module turns that into what our httpx client needs: a server URL, an SSL context and headers.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

from lightkube.config.client_adapter import verify_cluster
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.core.exceptions import ConfigError as LightkubeConfigError


@dataclass(frozen=True)
class ClusterConfig:
    """Where a cluster is and how to authenticate to it."""

    name: str
    server: str
    ssl_context: ssl.SSLContext = field(repr=False)
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None

    def auth_headers(self) -> dict[str, str]:
        token = self.token
        if token is None and self.token_file is not None:
            token = self.token_file.read_text().strip()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def with_token(self, token: str, name: str | None = None) -> ClusterConfig:
        """Same server and CA, authenticated by a bearer token instead of a client certificate."""
        return ClusterConfig(name or self.name, self.server, _ca_only(self.ssl_context), token)


def _ca_only(ctx: ssl.SSLContext) -> ssl.SSLContext:
    fresh = ssl.create_default_context()
    for der in ctx.get_ca_certs(binary_form=True):
        fresh.load_verify_locations(cadata=der)
    return fresh


def from_single(single: SingleConfig, name: str) -> ClusterConfig:
    user = single.user
    if user is None:
        raise ValueError(f"kubeconfig context {name!r} names no user")
    ssl_context = verify_cluster(single.cluster, user, single.abs_file)
    token_file = Path(single.abs_file(user.token_file)) if user.token_file else None
    return ClusterConfig(
        name=name,
        server=single.cluster.server.rstrip("/"),
        ssl_context=ssl_context,
        token=user.token,
        token_file=token_file,
    )


def from_kubeconfig(path: str | Path, context: str | None = None) -> ClusterConfig:
    try:
        kube = KubeConfig.from_file(str(path))
    except LightkubeConfigError as exc:  # a missing or unreadable file: say which, in one line
        raise ValueError(f"kubeconfig {path}: {exc}") from None
    single = kube.get(context_name=context)
    if single is None:
        raise ValueError(f"kubeconfig {path} has no context {context or '(current)'}")
    return from_single(single, single.context_name)


def in_cluster() -> ClusterConfig:
    try:
        single = KubeConfig.from_service_account().get()
    except LightkubeConfigError as exc:
        raise ValueError(f"no kubeconfig found, and not in a cluster ({exc})") from None
    assert single is not None  # a service-account config always has its one context
    return from_single(single, "in-cluster")
