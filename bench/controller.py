"""The controller benchmark: the public Flux benchmark scenario on a real local control plane.

N apps (one namespace each) render {Namespace, Deployment scaled to 0, ServiceAccount, Service,
Ingress} from one monorepo, as plain YAML directories or as kustomize overlays of one shared
base. In one run, on one fresh control plane, it prints:

- the raw baseline: the same objects applied by a minimal parallel server-side-apply client with
  no GitOps logic (HTTP/2, concurrency 16) — wall time, client CPU, API-server CPU;
- tether: controller start → every app Synced (its last write) and → every app Synced and
  Healthy (a Deployment is Healthy once the controller-manager has observed and rolled it out,
  the same rule as the raw client's "rolled out") — wall times, controller CPU seconds, peak RSS,
  API-server CPU — and the ratios tether/raw for both;
- drift correction latency p50/p99 over manual edits (selfHeal on);
- webhook push → changed object applied, p50;
- steady state: controller CPU% and RSS with nothing changing.

Everything talks to 127.0.0.1 only and stops by itself.

    uv run python bench/controller.py [--apps 100,500,1000] [--shapes plain,kustomize]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tether.cluster import config as cluster_config
from tether.cluster.client import KubeClient
from tether.devcluster import instance
from tether.devcluster.layout import InstanceLayout
from tether.service import apps as use

NAMESPACE = "tether"
SECRET = "bench-webhook-secret"
_TICKS = os.sysconf("SC_CLK_TCK")


# ---- measuring processes -----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def memory_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def self_cpu() -> float:
    return sum(os.times()[:2])


# ---- the scenario's repository -------------------------------------------------------------------


def objects(name: str, namespace: str) -> list[dict[str, Any]]:
    labels = {"app": name}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": "registry.invalid/podinfo:6.0.0",
                                "ports": [{"containerPort": 9898}],
                            }
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 9898}]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "rules": [
                    {
                        "host": f"{namespace}.bench.invalid",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": name, "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        },
    ]


def write_repo(root: Path, n: int, shape: str) -> None:
    if shape == "plain":
        for i in range(n):
            folder = root / "apps" / f"app-{i}"
            folder.mkdir(parents=True)
            (folder / "all.yaml").write_text(yaml.safe_dump_all(objects("podinfo", f"app-{i}")))
        return
    base = root / "base"
    base.mkdir(parents=True)
    docs = objects("podinfo", "placeholder")[1:]
    for doc in docs:
        doc["metadata"].pop("namespace")
    (base / "all.yaml").write_text(yaml.safe_dump_all(docs))
    (base / "kustomization.yaml").write_text("resources: [all.yaml]\n")
    for i in range(n):
        folder = root / "apps" / f"app-{i}"
        folder.mkdir(parents=True)
        (folder / "namespace.yaml").write_text(yaml.safe_dump(objects("podinfo", f"app-{i}")[0]))
        (folder / "kustomization.yaml").write_text(
            f"namespace: app-{i}\nresources: [../../base, namespace.yaml]\n"
        )


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "b@b",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class Repo:
    work: Path
    bare: Path
    url: str
    daemon: subprocess.Popen[bytes]

    def commit(self, message: str) -> str:
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", "main")
        return git(self.work, "rev-parse", "HEAD")


def serve_repo(tmp: Path, n: int, shape: str) -> Repo:
    base = tmp / "served"
    bare = base / "bench.git"
    bare.mkdir(parents=True)
    git(base, "init", "-q", "--bare", "-b", "main", str(bare))
    work = tmp / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    git(work, "remote", "add", "origin", str(bare))
    write_repo(work, n, shape)
    port = free_port()
    daemon = subprocess.Popen(
        [
            "git",
            "daemon",
            "--export-all",
            "--reuseaddr",
            "--listen=127.0.0.1",
            f"--port={port}",
            f"--base-path={base}",
            str(base),
        ],
        stderr=subprocess.DEVNULL,
    )
    repo = Repo(work, bare, f"git://127.0.0.1:{port}/bench.git", daemon)
    repo.commit("initial")
    time.sleep(0.3)
    return repo


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- the raw baseline ------------------------------------------------------------------


async def settle(apiserver: int, quiet_percent: float = 10.0, limit: float = 120.0) -> None:
    """Wait until the API server is quiet: the controller-manager and kwok react to new objects
    (ReplicaSets, tokens, EndpointSlices) for a while after the writes, and that aftermath must
    count for the phase that caused it, not for the next one."""
    deadline = time.perf_counter() + limit
    quiet = 0
    while quiet < 2 and time.perf_counter() < deadline:
        before = cpu_seconds(apiserver)
        await asyncio.sleep(1.0)
        quiet = quiet + 1 if (cpu_seconds(apiserver) - before) * 100 < quiet_percent else 0


class ReadyDeployments:
    """Counts Deployments in `raw-*` namespaces the controller-manager has rolled out, by watch:
    the raw client's "done" is its last write, but tether's is "Synced and Healthy", which
    waits for the same rollout; this gives the raw side the same finish line."""

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube
        self.ready: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        listed = await self.kube.list("apps/v1", "Deployment")
        self._task = asyncio.create_task(self._follow(listed.resource_version))

    async def _follow(self, version: str) -> None:
        while True:
            async for event in self.kube.watch("apps/v1", "Deployment", resource_version=version):
                obj = event.object
                version = obj["metadata"].get("resourceVersion", version)
                ns = obj["metadata"].get("namespace", "")
                status = obj.get("status") or {}
                done = status.get("observedGeneration", 0) >= obj["metadata"].get("generation", 1)
                if ns.startswith("raw-") and done:
                    self.ready.add(ns)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def raw_apply(kube: KubeClient, n: int, apiserver: int) -> dict[str, float]:
    ready = ReadyDeployments(kube)
    await ready.start()
    started, cpu0, api0 = time.perf_counter(), self_cpu(), cpu_seconds(apiserver)
    slots = asyncio.Semaphore(16)

    async def one(i: int) -> None:
        async with slots:
            docs = objects("podinfo", f"raw-{i}")
            await kube.apply(docs[0], field_manager="raw", force=True)
            await asyncio.gather(
                *(kube.apply(d, field_manager="raw", force=True) for d in docs[1:])
            )

    await asyncio.gather(*(one(i) for i in range(n)))
    wall, client = time.perf_counter() - started, self_cpu() - cpu0
    while len(ready.ready) < n and time.perf_counter() - started < 600:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    ready_wall = time.perf_counter() - started
    await ready.stop()
    await settle(apiserver)
    return {
        "wall": wall,
        "ready_wall": ready_wall,
        "client_cpu": client,
        "apiserver_cpu": cpu_seconds(apiserver) - api0,
    }


# ---- tether --------------------------------------------------------------------------------------


async def create_apps(kube: KubeClient, repo: Repo, n: int) -> None:
    slots = asyncio.Semaphore(16)

    async def one(i: int) -> None:
        body = use.application_manifest(
            NAMESPACE,
            use.CreateOptions(
                name=f"app-{i}",
                repo_url=repo.url,
                path=f"apps/app-{i}",
                revision="main",
                automated=True,
                self_heal=True,
                auto_prune=True,
            ),
        )
        # A monorepo at scale: each app refreshes only for pushes under its own path (the
        # annotation Argo CD documents for the same purpose).
        body["metadata"]["annotations"] = {"tether.dev/manifest-generate-paths": "."}
        async with slots:
            await kube.apply(body, field_manager="bench", force=True)

    await asyncio.gather(*(one(i) for i in range(n)))


class AppWatch:
    """Application statuses kept current by one watch (listing 1000 apps 4x/s would cost the API
    server more than tether does)."""

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube
        self.status: dict[str, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        listed = await self.kube.list("tether.dev/v1alpha1", "Application", NAMESPACE)
        for app in listed.items:
            self.status[app["metadata"]["name"]] = app.get("status") or {}
        self._task = asyncio.create_task(self._follow(listed.resource_version))

    async def _follow(self, version: str) -> None:
        while True:
            async for event in self.kube.watch(
                "tether.dev/v1alpha1", "Application", NAMESPACE, resource_version=version
            ):
                version = event.object["metadata"].get("resourceVersion", version)
                if event.type in ("ADDED", "MODIFIED"):
                    self.status[event.object["metadata"]["name"]] = event.object.get("status") or {}

    def synced(self, revision: str = "", healthy: bool = True) -> int:
        """How many apps are Synced (and Healthy, unless told not to care), at `revision` if
        given. Synced alone is tether's "last write": every object is written and matches."""
        return sum(
            1
            for s in self.status.values()
            if s.get("sync", {}).get("status") == "Synced"
            and (not healthy or s.get("health", {}).get("status") == "Healthy")
            and (not revision or s["sync"].get("revision", "").endswith(revision))
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


LOGS: Path | None = None  # --keep-logs: copy each run's controller log here
PROFILE: Path | None = None  # --profile: record the controller with py-spy until all apps sync


def start_controller(kubeconfig: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    # No ingress controller runs here, so no Ingress ever gets an address: like an Argo CD user
    # on such a cluster, the benchmark declares Ingresses healthy once they exist.
    rules = log.with_name("health-rules.yaml")
    rules.write_text("- {group: networking.k8s.io, kind: Ingress, healthy: 'true'}\n")
    argv = [
        sys.executable,
        "-m",
        "tether",
        "controller",
        "--kubeconfig",
        str(kubeconfig),
        "-N",
        NAMESPACE,
        "--listen",
        f"127.0.0.1:{port}",
        "--poll-seconds",
        "600",
        "--workers",
        "16",
        "--log-json",
        "--log-level",
        os.environ.get("BENCH_LOG_LEVEL", "warning"),
        "--health-rules",
        str(rules),
    ]
    if PROFILE is not None:
        argv = [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "-r",
            "100",
            "-f",
            "raw",
            "-o",
            str(PROFILE),
            "--",
            *argv,
        ]
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


async def wait_ready(port: int) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            try:
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("controller never became ready")


async def drift_latencies(kube: KubeClient, n: int, edits: int) -> list[float]:
    latencies = []
    for i in random.sample(range(n), min(edits, n)):
        ns = f"app-{i}"
        edit = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "podinfo", "namespace": ns},
            "spec": {"replicas": 1},
        }
        started = time.perf_counter()
        await kube.apply(edit, field_manager="bench-edit", force=True)
        while (await kube.get("apps/v1", "Deployment", "podinfo", ns))["spec"]["replicas"] != 0:
            if time.perf_counter() - started > 30:
                break
            await asyncio.sleep(0.01)
        latencies.append(time.perf_counter() - started)
    return latencies


async def webhook_latencies(
    kube: KubeClient, repo: Repo, port: int, pushes: int, n: int
) -> list[float]:
    latencies = []
    async with httpx.AsyncClient() as http:
        for k in range(pushes):
            i = random.randrange(n)
            path = repo.work / "apps" / f"app-{i}"
            marker = f"push-{k}"
            target = (
                next(path.glob("*.yaml"))
                if (path / "all.yaml").exists()
                else path / "namespace.yaml"
            )
            docs = list(yaml.safe_load_all(target.read_text()))
            docs[0]["metadata"].setdefault("labels", {})["bench"] = marker
            target.write_text(yaml.safe_dump_all(docs))
            before = git(repo.work, "rev-parse", "HEAD")
            after = repo.commit(marker)
            body = json.dumps(
                {
                    "ref": "refs/heads/main",
                    "before": before,
                    "after": after,
                    "repository": {"clone_url": repo.url, "default_branch": "main"},
                    "commits": [{"id": after, "modified": [str(target.relative_to(repo.work))]}],
                }
            ).encode()
            digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            started = time.perf_counter()
            await http.post(
                f"http://127.0.0.1:{port}/api/webhook",
                content=body,
                headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={digest}"},
            )
            while (
                (await kube.get("v1", "Namespace", f"app-{i}"))["metadata"].get("labels") or {}
            ).get("bench") != marker:
                if time.perf_counter() - started > 30:
                    break
                await asyncio.sleep(0.01)
            latencies.append(time.perf_counter() - started)
    return latencies


async def api_requests(port: int) -> dict[str, float]:
    """The controller's requests to the API server so far, by method and resource."""
    await asyncio.sleep(5.5)  # the gauges refresh every 5 s
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    counts = {}
    for line in text.splitlines():
        if line.startswith("tether_api_requests{"):
            labels, value = line.rsplit(" ", 1)
            counts[labels.removeprefix("tether_api_requests")] = float(value)
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def scenario(
    n: int, shape: str, idle_seconds: float, drift_edits: int, pushes: int
) -> dict[str, Any]:
    name = "bench"
    instance.down(name, purge=True)
    up = await instance.up(
        instance.UpOptions(name=name, nodes=1, audit=False), lambda _m: None, lambda *_: None
    )
    layout = InstanceLayout.for_name(name)
    apiserver = int(layout.pid_file("apiserver").read_text().split()[0])
    figures: dict[str, Any] = {"apps": n, "shape": shape}
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        repo = serve_repo(Path(tmp), n, shape)
        kube = KubeClient(cluster_config.from_kubeconfig(up.kubeconfig), concurrency=32)
        try:
            figures["raw"] = await raw_apply(kube, n, apiserver)
            await use.install(kube, NAMESPACE)
            await settle(apiserver)
            await kube.create(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "tether-webhook", "namespace": NAMESPACE},
                    "data": {"github": base64.b64encode(SECRET.encode()).decode()},
                }
            )
            await create_apps(kube, repo, n)
            port = free_port()
            watch = AppWatch(kube)
            await watch.start()
            api0 = cpu_seconds(apiserver)
            started = time.perf_counter()
            ctl = start_controller(up.kubeconfig, port, Path(tmp) / "controller.log")
            try:
                await wait_ready(port)
                written = None  # seconds until every app is Synced: tether's last write
                while watch.synced() < n:
                    if written is None and watch.synced(healthy=False) == n:
                        written = time.perf_counter() - started
                    if time.perf_counter() - started > 900:
                        raise RuntimeError("not all apps synced within 15 minutes")
                    await asyncio.sleep(0.05)
                wall, controller_cpu = time.perf_counter() - started, cpu_seconds(ctl.pid)
                written = written if written is not None else wall
                await settle(apiserver)
                figures["tether"] = {
                    "wall": wall,
                    "written_wall": written,
                    "controller_cpu": controller_cpu,
                    "apiserver_cpu": cpu_seconds(apiserver) - api0,
                    "peak_rss_mib": memory_mib(ctl.pid)[1],
                }
                figures["ratio"] = written / figures["raw"]["wall"]
                figures["ratio_ready"] = wall / figures["raw"]["ready_wall"]
                figures["requests"] = await api_requests(port)
                drift = await drift_latencies(kube, n, drift_edits)
                figures["drift"] = {
                    "p50": pct(drift, 0.5),
                    "p99": pct(drift, 0.99),
                    "edits": len(drift),
                }
                hooks = await webhook_latencies(kube, repo, port, pushes, n)
                figures["webhook"] = {
                    "p50": pct(hooks, 0.5),
                    "max": max(hooks),
                    "pushes": len(hooks),
                }
                cpu0, t0 = cpu_seconds(ctl.pid), time.perf_counter()
                await asyncio.sleep(idle_seconds)
                figures["idle"] = {
                    "cpu_percent": 100 * (cpu_seconds(ctl.pid) - cpu0) / (time.perf_counter() - t0),
                    "rss_mib": memory_mib(ctl.pid)[0],
                    "seconds": idle_seconds,
                }
            finally:
                await watch.stop()
                # py-spy writes its profile on SIGINT
                ctl.send_signal(signal.SIGINT if PROFILE else signal.SIGTERM)
                ctl.wait(60)
        finally:
            await kube.aclose()
            repo.daemon.terminate()
            if LOGS is not None:
                LOGS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a script's teardown
                log = Path(tmp) / "controller.log"
                if log.exists():
                    (LOGS / f"controller-{shape}-{n}.log").write_bytes(log.read_bytes())
    instance.down(name, purge=True)
    return figures


def report(f: dict[str, Any]) -> str:
    raw, t, drift, hook, idle = f["raw"], f["tether"], f["drift"], f["webhook"], f["idle"]
    requests = ", ".join(f"{k} {v:.0f}" for k, v in list(f["requests"].items())[:12])
    return "\n".join([
        f"== {f['apps']} apps, {f['shape']} ==",
        f"raw SSA client : {raw['wall']:6.1f} s wall ({raw['ready_wall']:.1f} s to rolled out), "
        f"{raw['client_cpu']:5.1f} s client CPU, {raw['apiserver_cpu']:5.1f} s API-server CPU",
        f"tether         : {t['written_wall']:6.1f} s to all Synced, {t['wall']:.1f} s to all "
        f"Synced and Healthy, {t['controller_cpu']:5.1f} s controller CPU, "
        f"{t['apiserver_cpu']:5.1f} s API-server CPU, peak RSS {t['peak_rss_mib']:.0f} MiB",
        f"ratio tether/raw: {f['ratio']:.2f} to the last write (all Synced), "
        f"{f['ratio_ready']:.2f} to rolled out (all Healthy)",
        f"drift correction: p50 {drift['p50'] * 1000:.0f} ms, p99 {drift['p99'] * 1000:.0f} ms "
        f"({drift['edits']} edits)",
        f"webhook -> applied: p50 {hook['p50'] * 1000:.0f} ms (max {hook['max'] * 1000:.0f} ms, "
        f"{hook['pushes']} pushes)",
        f"steady state    : {idle['cpu_percent']:.1f} % of a core, RSS {idle['rss_mib']:.0f} MiB "
        f"over {idle['seconds']:.0f} s",
        f"requests until synced: {requests}",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--apps", default="100", help="comma-separated app counts, e.g. 100,500,1000"
    )
    parser.add_argument("--shapes", default="plain", help="plain, kustomize or both")
    parser.add_argument(
        "--idle", type=float, default=60.0, help="seconds of steady state to measure"
    )
    parser.add_argument("--drift-edits", type=int, default=100)
    parser.add_argument("--pushes", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep-logs", type=Path, help="copy each run's controller log here")
    parser.add_argument(
        "--profile", type=Path, help="py-spy raw profile of the controller (costs CPU)"
    )
    args = parser.parse_args()
    global PROFILE, LOGS
    PROFILE, LOGS = args.profile, args.keep_logs
    results = []
    for shape in args.shapes.split(","):
        for n in (int(x) for x in args.apps.split(",")):
            figures = asyncio.run(scenario(n, shape, args.idle, args.drift_edits, args.pushes))
            print(report(figures), flush=True)
            results.append(figures)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
