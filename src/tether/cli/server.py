"""`tether server`: the HTTP API (and the web UI, when it is installed) over uvicorn.

The server reads and writes Applications, Projects and credential Secrets in tether's namespace;
it never syncs anything itself (a sync is a request the controller carries out). Cookies are
`Secure` unless the server listens on loopback, where browsers reach it over plain HTTP
(`--cookie-secure` forces them, e.g. behind a TLS-terminating proxy on the same host).
"""

from __future__ import annotations

import importlib
import importlib.util
import ipaddress
from pathlib import Path
from typing import Any

import structlog
import typer
import uvicorn
from fastapi import APIRouter, FastAPI

from tether import logs
from tether.api.app import create_app
from tether.api.settings import ServerSettings
from tether.audit import store as audit_store
from tether.auth.settings import AuthSettings, OIDCSettings, default_state_db
from tether.cli.common import connection_options, fail, settings

UI_MODULE = "tether.ui"
log = structlog.get_logger(__name__)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    try:
        return host.strip("[]") or "127.0.0.1", int(port)
    except ValueError:
        raise fail(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8080") from None


def _oidc(issuer: str, client_id: str, secret: str, redirect: str) -> OIDCSettings | None:
    if not issuer:
        return None
    if not (client_id and redirect):
        raise fail("--oidc-issuer also needs --oidc-client-id and --oidc-redirect-uri")
    return OIDCSettings(
        issuer=issuer, client_id=client_id, client_secret=secret, redirect_uri=redirect
    )


def _ui() -> tuple[list[APIRouter], list[tuple[str, Any]]]:
    """The web UI's routers and static mounts, when `tether.ui` is installed. A UI that fails
    to load is logged and left out: the API (and `tether app --server`) keeps working."""
    if importlib.util.find_spec(UI_MODULE) is None:
        return [], []
    try:
        ui = importlib.import_module(UI_MODULE)
        mounts = ui.static_mounts() if hasattr(ui, "static_mounts") else []
        return list(ui.routers()), list(mounts)
    except Exception as exc:  # any failure of an optional part must not take the API down
        log.error("the web UI could not be loaded; serving the API only", error=repr(exc))
        return [], []


def build_app(server_settings: ServerSettings) -> FastAPI:
    routers, mounts = _ui()
    app = create_app(server_settings, extra_routers=routers)
    for path, asgi in mounts:
        app.mount(path, asgi)
    return app


def server(
    kubeconfig: Path | None = typer.Option(None, "--kubeconfig", envvar="TETHER_KUBECONFIG"),
    context: str | None = typer.Option(None, "--context"),
    namespace: str | None = typer.Option(
        None,
        "--app-namespace",
        "-N",
        envvar="TETHER_NAMESPACE",
        help="tether's namespace (Applications, Projects, Secrets; default tether).",
    ),
    listen: str = typer.Option("127.0.0.1:8080", "--listen", help="HOST:PORT to serve on."),
    audit_db: str | None = typer.Option(
        None,
        "--audit-db",
        envvar="TETHER_AUDIT_DB",
        help="Audit trail (SQLite; default $XDG_STATE_HOME/tether/audit.db); '' for none.",
    ),
    state_db: Path | None = typer.Option(
        None,
        "--state-db",
        envvar="TETHER_STATE_DB",
        help="Sessions, lockouts, revoked tokens (default $XDG_STATE_HOME/tether/state.db).",
    ),
    cookie_secure: bool | None = typer.Option(
        None,
        "--cookie-secure/--no-cookie-secure",
        help="Mark the session cookie Secure (default: yes, unless listening on loopback).",
    ),
    oidc_issuer: str = typer.Option("", "--oidc-issuer", envvar="TETHER_OIDC_ISSUER"),
    oidc_client_id: str = typer.Option("", "--oidc-client-id", envvar="TETHER_OIDC_CLIENT_ID"),
    oidc_client_secret: str = typer.Option(
        "", "--oidc-client-secret", envvar="TETHER_OIDC_CLIENT_SECRET", show_default=False
    ),
    oidc_redirect_uri: str = typer.Option(
        "", "--oidc-redirect-uri", envvar="TETHER_OIDC_REDIRECT_URI"
    ),
    log_json: bool | None = typer.Option(
        None, "--log-json/--log-text", help="Default: JSON unless a TTY."
    ),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Serve the HTTP API under /api/v1 (OpenAPI at /openapi.json) and the web UI."""
    connection_options(kubeconfig, context, namespace)
    logs.configure(log_json, log_level)
    host, port = _split(listen)
    secure = cookie_secure if cookie_secure is not None else not _loopback(host)
    auth = AuthSettings(
        state_db=state_db or default_state_db(),
        cookie_secure=secure,
        oidc=_oidc(oidc_issuer, oidc_client_id, oidc_client_secret, oidc_redirect_uri),
    )
    audit = audit_store.chosen_path(audit_db)
    try:
        runtime = settings()
    except (OSError, ValueError) as exc:
        raise fail(str(exc)) from None
    app = build_app(ServerSettings(runtime=runtime, auth=auth, audit_db=audit))
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # SSE streams never end by themselves: without a bound, SIGTERM waits for every viewer.
        timeout_graceful_shutdown=3,
    )
    uvicorn.Server(config).run()
