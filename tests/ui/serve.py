"""Serve the API with the web UI mounted, as `tether server` will: for the UI tests.

    python -m tests.ui.serve --kubeconfig K --namespace N --port P --state DIR

Cookies are not `Secure` (plain HTTP on loopback); the audit trail and the auth state live in
DIR. Builds the app with `create_app(..., extra_routers=tether.ui.routers())` plus the UI's
static mounts, exactly the contract the server command follows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from fastapi import FastAPI

import tether.ui
from tether.api.app import create_app
from tether.api.settings import ServerSettings
from tether.auth.settings import AuthSettings
from tether.service.runtime import Settings


def build(kubeconfig: Path, namespace: str, state: Path) -> FastAPI:
    settings = ServerSettings(
        runtime=Settings(kubeconfig=kubeconfig, namespace=namespace, cache_dir=state / "cache"),
        auth=AuthSettings(namespace=namespace, state_db=state / "state.db", cookie_secure=False),
        audit_db=state / "audit.db",
        heartbeat_seconds=5.0,
    )
    app = create_app(settings, extra_routers=tether.ui.routers())
    for path, asgi in tether.ui.static_mounts():
        app.mount(path, asgi)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args()
    app = build(args.kubeconfig, args.namespace, args.state)
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_level="warning", timeout_graceful_shutdown=3
    )


if __name__ == "__main__":
    main()
