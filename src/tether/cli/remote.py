"""`tether app --server URL ...`: the same commands through tether's HTTP API instead of
straight to the cluster.

A thin client: each function is one request to `/api/v1`, and answers come back in the shapes
the direct path prints (summaries, Application bodies, operation states), so `tether.cli.apps`
prints both the same way. The token comes from `--auth-token` or `TETHER_AUTH_TOKEN`; problem
documents become one error line. The server runs no sync itself: `sync` and `rollback` ask it to
wait for the controller to finish (`?wait=true`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx

from tether.cli.common import fail
from tether.engine.operation import OperationState, Selector
from tether.reconcile.apps import Application


@dataclass
class Remote:
    server: str = ""
    token: str = ""
    namespace: str = "tether"  # the server's namespace (-N, as for the direct path)


remote = Remote()


def configure(server: str | None, token: str | None, namespace: str | None) -> None:
    remote.server, remote.token = (server or "").rstrip("/"), token or ""
    remote.namespace = namespace or os.environ.get("TETHER_NAMESPACE") or "tether"


def enabled() -> bool:
    return bool(remote.server)


def unsupported(command: str) -> None:
    """Refuse, rather than quietly go to the cluster, a command `--server` does not cover."""
    if enabled():
        raise fail(f"`tether app {command}` needs a direct connection (--kubeconfig), not --server")


def _client(timeout: float) -> httpx.Client:
    headers = {"Accept": "application/json"}
    if remote.token:
        headers["Authorization"] = f"Bearer {remote.token}"
    return httpx.Client(base_url=remote.server, headers=headers, timeout=timeout)


def _request(method: str, path: str, timeout: float = 60.0, **kwargs: Any) -> httpx.Response:
    try:
        with _client(timeout) as http:
            reply = http.request(method, f"/api/v1{path}", **kwargs)
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach {remote.server}: {exc}") from None
    if reply.status_code >= 400:
        raise fail(_problem(reply))
    return reply


def _problem(reply: httpx.Response) -> str:
    try:
        doc = reply.json()
        return f"{doc.get('title', reply.status_code)}: {doc.get('detail', '')}".rstrip(": ")
    except ValueError:
        return f"the server answered {reply.status_code} {reply.reason_phrase}"


def _app_path(name: str, suffix: str = "") -> str:
    return f"/applications/{remote.namespace}/{name}{suffix}"


def list_apps() -> list[dict[str, Any]]:
    """Every visible app's summary (all pages)."""
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        params = {"limit": 500, **({"continue": token} if token else {})}
        page = _request("GET", "/applications", params=params).json()
        items.extend(page["items"])
        token = page.get("continue") or ""
        if not token:
            return items


def get(name: str) -> Application:
    return Application(_request("GET", _app_path(name)).json())


def diff(name: str) -> dict[str, Any]:
    return dict(_request("GET", _app_path(name, "/diff"), timeout=300).json())


def manifests(name: str) -> list[dict[str, Any]]:
    return list(_request("GET", _app_path(name, "/manifests"), timeout=300).json()["items"])


def delete(name: str, cascade: bool) -> None:
    _request("DELETE", _app_path(name), params={"cascade": str(cascade).lower()})


def history(name: str) -> list[dict[str, Any]]:
    return list(_request("GET", _app_path(name, "/history")).json()["items"])


def _selector(text: str) -> dict[str, str]:
    try:
        s = Selector.parse(text)
    except ValueError as exc:
        raise fail(str(exc)) from None
    return {"group": s.group, "kind": s.kind, "name": s.name, "namespace": s.namespace}


def _operation(path: str, body: dict[str, Any], timeout: float) -> OperationState:
    params = {"wait": "true", "timeout": timeout}
    answer = _request("POST", path, timeout=timeout + 30, json=body, params=params).json()
    if not answer.get("finished") or not answer.get("state"):
        raise fail(f"the operation is still pending or running after {timeout:g}s")
    return OperationState.from_dict(answer["state"])


def sync(
    name: str, prune: bool, dry_run: bool, resources: list[str], revision: str, timeout: float
) -> OperationState:
    body = {
        "prune": prune,
        "dryRun": dry_run,
        "revision": revision,
        "resources": [_selector(r) for r in resources],
    }
    return _operation(_app_path(name, "/sync"), body, timeout)


def rollback(name: str, entry_id: int, prune: bool, timeout: float) -> OperationState:
    return _operation(_app_path(name, "/rollback"), {"id": entry_id, "prune": prune}, timeout)


def terminate(name: str) -> str:
    return str(_request("POST", _app_path(name, "/terminate")).json()["detail"])
