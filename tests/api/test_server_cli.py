"""`tether server`'s own choices, without a cluster: cookies, the listen address, the web UI."""

from __future__ import annotations

import subprocess
import sys
import types

import httpx
import pytest
from fastapi import APIRouter
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from tether.api.settings import ServerSettings
from tether.cli import server


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("10.0.0.5", False), ("tether.example", False)],
)  # fmt: skip
def test_cookies_are_secure_unless_served_on_loopback(host: str, loopback: bool) -> None:
    assert server._loopback(host) is loopback


def test_a_bad_listen_address_is_one_error_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tether", "server", "--listen", "127.0.0.1:http"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "expected HOST:PORT" in done.stdout + done.stderr


async def _answers(*paths: str) -> list[int]:
    """What the app built by `tether server` answers (no lifespan: pages and mounts only)."""
    app = server.build_app(ServerSettings())
    assert "/api/v1/applications" in app.openapi()["paths"]
    assert "/ui-test" not in app.openapi()["paths"]  # pages stay out of the API's document
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tether.test") as http:
        return [(await http.get(path)).status_code for path in paths]


async def test_the_web_ui_is_mounted_when_present_and_left_out_when_broken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = APIRouter()

    @page.get("/ui-test")
    async def ui_test() -> str:
        return "page"

    async def static(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("static")(scope, receive, send)

    ui = types.SimpleNamespace(
        routers=lambda: [page], static_mounts=lambda: [("/ui-static", static)]
    )
    monkeypatch.setattr(server.importlib.util, "find_spec", lambda _name: object())
    monkeypatch.setattr(server.importlib, "import_module", lambda _name: ui)
    assert await _answers("/ui-test", "/ui-static/x") == [200, 200]

    def broken(_name: str) -> types.ModuleType:
        raise ImportError("half-written UI")

    monkeypatch.setattr(server.importlib, "import_module", broken)
    assert await _answers("/ui-test", "/ui-static/x") == [404, 404]


async def test_a_wrong_method_is_a_problem_listing_every_allowed_method() -> None:
    app = server.build_app(ServerSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tether.test") as http:
        reply = await http.request("OPTIONS", "/api/v1/repositories")
        nested = await http.put("/api/v1/applications/tether/web/sync")
    assert reply.status_code == nested.status_code == 405
    assert reply.headers["allow"] == "DELETE, GET, POST, PUT"
    assert nested.headers["allow"] == "POST"
    assert reply.headers["content-type"] == "application/problem+json"
