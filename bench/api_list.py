"""How long the API takes to list, filter and page 1000 Applications, for the admin and for a
team that sees a tenth of them: the real app in process (httpx ASGI transport), the real
control plane, 1000 Application objects in a scratch namespace (deleted afterwards).

    uv run python bench/api_list.py [--apps 1000] [--cluster pytest]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from tether import crds
from tether.api.app import create_app
from tether.api.settings import ServerSettings
from tether.auth.settings import AuthSettings
from tether.cluster import config
from tether.cluster.client import KubeClient
from tether.devcluster.layout import InstanceLayout
from tether.service import apps as use
from tether.service.runtime import Settings

POLICY = "p, role:dev, applications, get, team-3/*, allow\ng, team-3, role:dev\n"


def _app(name: str, namespace: str, i: int) -> dict[str, object]:
    return {
        "apiVersion": crds.API_VERSION,
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace, "labels": {"shard": str(i % 10)}},
        "spec": {
            "project": f"team-{i % 10}",
            "source": {"repoURL": "git://git.example/apps.git", "path": f"apps/{i}"},
            "destination": {"cluster": "in-cluster", "namespace": f"ns-{i % 50}"},
        },
    }


async def _seed(kube: KubeClient, namespace: str, count: int) -> None:
    await use.install(kube, namespace)
    await kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "tether-rbac", "namespace": namespace},
            "data": {"policy.csv": POLICY},
        },
        field_manager="bench",
    )
    gate = asyncio.Semaphore(16)

    async def one(i: int) -> None:
        async with gate:
            await kube.apply(_app(f"app-{i:04d}", namespace, i), field_manager="bench")

    await asyncio.gather(*(one(i) for i in range(count)))


async def _timed(http: httpx.AsyncClient, params: dict[str, str], rounds: int = 10) -> str:
    took = []
    for _ in range(rounds):
        start = time.perf_counter()
        reply = await http.get("/api/v1/applications", params=params)
        took.append(time.perf_counter() - start)
        assert reply.status_code == 200, reply.text
    shown = len(reply.json()["items"])
    return f"{statistics.median(took) * 1000:6.1f} ms median ({shown} shown)"


async def _login(app: object, name: str, password: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    http = httpx.AsyncClient(transport=transport, base_url="https://bench.test")
    reply = await http.post("/api/v1/session", json={"username": name, "password": password})
    assert reply.status_code == 200, reply.text
    return http


async def main(count: int, cluster: str) -> None:
    kubeconfig = InstanceLayout.for_name(cluster).kubeconfig
    namespace = f"bench-api-{uuid.uuid4().hex[:5]}"
    async with KubeClient(config.from_kubeconfig(kubeconfig)) as kube:
        try:
            start = time.perf_counter()
            await _seed(kube, namespace, count)
            print(f"{count} apps created in {time.perf_counter() - start:.1f} s")
            await _measure(kube, kubeconfig, namespace)
        finally:
            await kube.delete("v1", "Namespace", namespace)


async def _measure(kube: KubeClient, kubeconfig: Path, namespace: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = ServerSettings(
            runtime=Settings(kubeconfig=kubeconfig, namespace=namespace),
            auth=AuthSettings(namespace=namespace, state_db=Path(tmp) / "state.db"),
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            secret = await kube.get("v1", "Secret", "tether-initial-admin", namespace)
            admin = await _login(
                app, "admin", base64.b64decode(secret["data"]["password"]).decode()
            )
            await app.state.services.authn.users.create("dev", "bench-password-1", ("team-3",))
            dev = await _login(app, "dev", "bench-password-1")
            for who, http in (("admin", admin), ("team-3 dev", dev)):
                print(f"{who:10} page of 500:        {await _timed(http, {'limit': '500'})}")
                print(f"{who:10} search + selector:  ", end="")
                print(await _timed(http, {"search": "apps/1", "selector": "shard in (1,3)"}))
                await http.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--cluster", default="pytest")
    args = parser.parse_args()
    asyncio.run(main(args.apps, args.cluster))
