"""schemathesis against `tether server` (a real process, a real cluster, the web UI mounted when
present): requests generated from /openapi.json (coverage, fuzzing and stateful phases, every
check), sent as the admin, must never get a 5xx and every answer must match the document (status
codes, content types, bodies, headers, `Allow`), and bad credentials must be refused.

Left out: logging in and out (generated logins would lock the test's address out; a logout would
end the admin's session mid-run); the endless SSE stream (test_flows reads it); and the check that
every schema-valid request is accepted, because an Application's or Project's `spec` is a
free-form object in this document (its real schema is the CRD's, enforced when it is written),
so most schema-valid specs are rightly refused. There is data to look at: a project, an app
reading a real repository, and repository credentials."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.api.conftest import MANIFESTS, app_body, initial_admin_password, project_body
from tests.conftest import Cluster
from tests.support.apps_fixtures import Repo
from tests.support.gitserver import free_port
from tether.cluster.client import KubeClient

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
MAX_EXAMPLES = int(os.environ.get("TETHER_SCHEMATHESIS_EXAMPLES", "15"))


@dataclass
class Server:
    url: str
    headers: dict[str, str]


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


async def _ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            assert proc.poll() is None, f"tether server exited:\n{_tail(log)}"
            try:
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"tether server not ready:\n{_tail(log)}")


async def _seed(url: str, password: str, repo: Repo, namespace: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=url) as http:
        reply = await http.post("/api/v1/session", json={"username": "admin", "password": password})
        assert reply.status_code == 200, reply.text
        headers = {
            "Cookie": f"tether_session={reply.cookies['tether_session']}",
            "X-CSRF-Token": reply.json()["csrfToken"],
        }
        http.headers.update(headers)
        for path, body in [
            ("/api/v1/projects", project_body("team-a", repo, namespace)),
            ("/api/v1/applications", app_body("web-a", "team-a", repo, namespace)),
            ("/api/v1/repositories", {"url": "https://git.example.com/x.git", "password": "pw"}),
        ]:
            reply = await http.post(path, json=body)
            assert reply.status_code == 201, reply.text
    return headers


@pytest_asyncio.fixture(loop_scope="session")
async def server(
    cluster: Cluster,
    kube: KubeClient,
    namespace: str,
    tether_installed: None,
    tmp_path: Path,
    make_repo: Callable[[], Repo],
) -> AsyncIterator[Server]:
    repo = make_repo()
    repo.commit(
        "first", {"app/config.yaml": MANIFESTS["app/config.yaml"].format(name="g", value="hi")}
    )
    port = free_port()
    argv = [
        *(sys.executable, "-m", "tether", "server", "--kubeconfig", str(cluster.kubeconfig)),
        *("-N", namespace, "--listen", f"127.0.0.1:{port}", "--log-json"),
        *("--audit-db", str(tmp_path / "audit.db"), "--state-db", str(tmp_path / "state.db")),
    ]
    log = tmp_path / "server.log"
    proc = _start(argv, log)
    try:
        url = f"http://127.0.0.1:{port}"
        await _ready(url, proc, log)
        password = await initial_admin_password(kube, namespace)
        yield Server(url, await _seed(url, password, repo, namespace))
    finally:
        proc.terminate()
        proc.wait(15)
    errors = [line for line in log.read_text().splitlines() if '"level": "error"' in line]
    assert not errors, "\n".join(errors)


def _schemathesis(server: Server, reports: Path) -> subprocess.CompletedProcess[str]:
    argv = [
        *(str(Path(sys.executable).with_name("schemathesis")), "run", f"{server.url}/openapi.json"),
        *(f"--header=Cookie: {server.headers['Cookie']}",),
        *(f"--header=X-CSRF-Token: {server.headers['X-CSRF-Token']}",),
        *("--exclude-path=/api/v1/session", "--exclude-path=/api/v1/stream/applications"),
        *("--checks=all", "--exclude-checks=positive_data_acceptance"),
        *(f"--max-examples={MAX_EXAMPLES}", "--seed=20261126"),
        *(
            "--generation-deterministic",
            "--generation-with-security-parameters=false",
            "--workers=1",
            "--request-timeout=60",
            "--no-color",
        ),
        *(
            f"--report-dir={reports}",
            "--report=junit",
            "--max-failures=20",
            "--output-sanitize=false",
        ),
    ]
    reports.mkdir(parents=True, exist_ok=True)  # also its working directory: it caches there
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=reports)


async def test_no_5xx_and_every_answer_matches_the_schema(server: Server, tmp_path: Path) -> None:
    done = await asyncio.to_thread(_schemathesis, server, tmp_path / "schemathesis")
    print(done.stdout[-6000:])  # the summary: operations, phases, warnings
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-3000:]
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers) as http:
        me = (await http.get("/api/v1/session/userinfo")).json()
    assert me["loggedIn"], "the admin's session ended during the run: later answers were 401s"
