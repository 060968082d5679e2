"""A real Dex on loopback for single sign-on tests: static users with groups, one static client.

Dex is built from the Go module proxy by `tether dev build --tool dex` (oidc/dex/); the fixture
builds it if missing. Storage is in memory, so every start is a clean provider. Users log in
through Dex's own HTML password form, posted by an ordinary HTTP client.
"""

from __future__ import annotations

import html
import re
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import bcrypt
import httpx
import yaml

from tether.devcluster import tools

CLIENT_ID = "tether"


@dataclass(frozen=True)
class DexUser:
    email: str
    username: str
    password: str = field(repr=False)
    groups: tuple[str, ...]


@dataclass(frozen=True)
class Dex:
    issuer: str
    client_secret: str = field(repr=False)
    users: dict[str, DexUser]
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config(port: int, redirect_uri: str, client_secret: str, users: list[DexUser]) -> dict:
    issuer = f"http://127.0.0.1:{port}/dex"
    return {
        "issuer": issuer,
        "storage": {"type": "memory"},
        "web": {"http": f"127.0.0.1:{port}"},
        "logger": {"level": "info", "format": "json"},
        "oauth2": {"skipApprovalScreen": True},
        "enablePasswordDB": True,
        "staticPasswords": [
            {
                "email": u.email,
                "username": u.username,
                "userID": secrets.token_hex(8),
                # Dex refuses bcrypt costs below 10
                "hash": bcrypt.hashpw(u.password.encode(), bcrypt.gensalt(10)).decode(),
                "groups": list(u.groups),
            }
            for u in users
        ],
        "staticClients": [
            {
                "id": CLIENT_ID,
                "name": "tether",
                "secret": client_secret,
                "redirectURIs": [redirect_uri],
            }
        ],
    }


def start(workdir: Path, redirect_uri: str, users: list[DexUser]) -> tuple[Dex, subprocess.Popen]:
    tools.ensure((tools.DEX,), lambda *_: None)
    port, secret = free_port(), secrets.token_urlsafe(24)
    path = workdir / "dex.yaml"
    path.write_text(yaml.safe_dump(config(port, redirect_uri, secret, users)))
    log = workdir / "dex.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(tools.binary("dex")), "serve", str(path)], stdout=out, stderr=subprocess.STDOUT
        )
    dex = Dex(f"http://127.0.0.1:{port}/dex", secret, {u.username: u for u in users}, log)
    _wait_ready(dex, proc)
    return dex, proc


def _wait_ready(dex: Dex, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dex exited ({proc.returncode}): {dex.log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{dex.issuer}/.well-known/openid-configuration").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"dex did not become ready: {dex.log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_FORM_ACTION = re.compile(r'<form[^>]*method="post"[^>]*action="([^"]+)"', re.IGNORECASE)


async def sign_in(http: httpx.AsyncClient, authorize_url: str, user: DexUser) -> str:
    """Walk Dex's pages as a browser would; returns the callback URL Dex redirects to."""
    page = await http.get(authorize_url, follow_redirects=True)
    match = _FORM_ACTION.search(page.text)
    assert page.status_code == 200 and match, f"no login form at {page.url}: {page.text[:500]}"
    action = urljoin(str(page.url), html.unescape(match.group(1)))
    reply = await http.post(action, data={"login": user.email, "password": user.password})
    while reply.is_redirect and "/auth/oidc/callback" not in reply.headers["location"]:
        reply = await http.get(urljoin(str(reply.url), reply.headers["location"]))
    assert reply.is_redirect, f"Dex did not redirect back: {reply.status_code} {reply.text[:500]}"
    return urljoin(str(reply.url), reply.headers["location"])
