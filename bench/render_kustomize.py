"""How much a warm render helper saves over one `kustomize build` process per render.

A controller renders every application at start-up. This renders N distinct kustomize overlays
of one shared base (the objects of Flux's benchmarks: a Deployment scaled to 0, a ServiceAccount,
a Service and an Ingress), generated in a temporary directory, through tether's real render path
twice: with `kustomize build` per render (TETHER_RENDER_HELPER=0), then with the helper pool. Both
runs are cold: render cache cleared, the helper pool started inside the measured run. It prints
wall time, CPU seconds (this process, plus its exited children, plus the live helpers read from
/proc) and the per-render means. Local files only; bounded by --budget.

    uv run python bench/render_kustomize.py [--n 200] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tether import render
from tether.model.app import Source
from tether.model.revisions import CommitInfo, ResolvedRevision, Snapshot
from tether.render import helper

URL = "https://git.example.com/bench.git"
CONTEXT = render.RenderContext("bench", "bench", kube_version="v1.36.3")
_TICKS = os.sysconf("SC_CLK_TCK")

BASE = {
    "kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [deployment.yaml, serviceaccount.yaml, service.yaml, ingress.yaml]
""",
    "deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo, labels: {app: podinfo}}
spec:
  replicas: 0
  selector: {matchLabels: {app: podinfo}}
  template:
    metadata: {labels: {app: podinfo}}
    spec:
      serviceAccountName: podinfo
      containers:
      - name: podinfo
        image: ghcr.io/stefanprodan/podinfo:6.7.0
        ports: [{name: http, containerPort: 9898}]
        resources: {requests: {cpu: 10m, memory: 16Mi}}
""",
    "serviceaccount.yaml": """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: podinfo}
""",
    "service.yaml": """\
apiVersion: v1
kind: Service
metadata: {name: podinfo}
spec:
  selector: {app: podinfo}
  ports: [{name: http, port: 80, targetPort: http}]
""",
    "ingress.yaml": """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: podinfo}
spec:
  rules:
  - host: podinfo.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: podinfo, port: {name: http}}}
""",
}

OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
namespace: app-{i}
namePrefix: app-{i}-
labels: [{{pairs: {{tenant: app-{i}}}, includeSelectors: false}}]
images: [{{name: ghcr.io/stefanprodan/podinfo, newTag: 6.7.{i}}}]
"""


@dataclass(frozen=True)
class Sample:
    mode: str
    renders: int
    wall: float
    self_cpu: float  # this Python process
    tool_cpu: float  # exited children (kustomize binaries) + live helpers
    helper_rss_kib: tuple[int, ...]  # peak RSS (VmHWM) of each helper at the end


def generate(root: Path, n: int) -> Snapshot:
    """A repository with one base and N overlays of it, as a snapshot."""
    write(root / "base", BASE)
    for i in range(n):
        write(root / "apps" / f"app-{i}", {"kustomization.yaml": OVERLAY.format(i=i)})
    commit = CommitInfo("b" * 40, "Bench <bench@example.com>", "bench", "2026-01-01T00:00:00Z")
    return Snapshot(URL, ResolvedRevision("main", "b" * 40), root, commit, frozenset())


def write(directory: Path, files: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc/<pid>/stat (fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def render_all(snapshot: Snapshot, n: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            result = await render.render(snapshot, Source(URL, f"apps/app-{i}"), CONTEXT)
            assert len(result.manifests) == 4, result.manifests

    await asyncio.gather(*(one(i) for i in range(n)))


async def measure(mode: str, snapshot: Snapshot, n: int, concurrency: int) -> Sample:
    if mode == "binary":
        os.environ[helper.SWITCH] = "0"
    else:
        os.environ.pop(helper.SWITCH, None)
        if helper.shared() is None:
            sys.exit("no render helper: build it with `tether dev build --tool render-helper`")
    await helper.aclose_shared()  # cold: the pool starts inside the measured run
    render.clear_cache()
    wall = time.monotonic()
    self_cpu = cpu_seconds(resource.RUSAGE_SELF)
    children = cpu_seconds(resource.RUSAGE_CHILDREN)
    await render_all(snapshot, n, concurrency)
    pool = helper.shared() if mode == "helper" else None
    pids = pool.pids() if pool is not None else []
    sample = Sample(
        mode,
        n,
        time.monotonic() - wall,
        cpu_seconds(resource.RUSAGE_SELF) - self_cpu,
        cpu_seconds(resource.RUSAGE_CHILDREN) - children + sum(map(proc_cpu_seconds, pids)),
        tuple(peak_rss_kib(pid) for pid in pids),
    )
    await helper.aclose_shared()  # their CPU joins RUSAGE_CHILDREN only now, after the sample
    return sample


def report(samples: list[Sample], concurrency: int) -> None:
    print(
        f"{samples[0].renders} kustomize overlays, concurrency {concurrency}, {os.cpu_count()} CPUs"
    )
    head = f"{'mode':<8}{'wall s':>9}{'CPU s':>9}{'self':>8}{'tools':>8}"
    print(head + f"{'ms wall/render':>16}{'ms CPU/render':>15}{'ms tool CPU/render':>20}")
    for s in samples:
        total = s.self_cpu + s.tool_cpu
        per = 1000 / s.renders
        print(
            f"{s.mode:<8}{s.wall:>9.2f}{total:>9.2f}{s.self_cpu:>8.2f}{s.tool_cpu:>8.2f}"
            f"{s.wall * per:>16.2f}{total * per:>15.2f}{s.tool_cpu * per:>20.2f}"
        )
    by_mode = {s.mode: s for s in samples}
    if {"binary", "helper"} <= by_mode.keys():
        b, h = by_mode["binary"], by_mode["helper"]
        print(
            f"helper/binary: wall {h.wall / b.wall:.2f}, "
            f"CPU {(h.self_cpu + h.tool_cpu) / (b.self_cpu + b.tool_cpu):.2f}, "
            f"tool CPU {h.tool_cpu / b.tool_cpu:.2f}"
        )
        rss = ", ".join(f"{kib / 1024:.1f} MiB" for kib in h.helper_rss_kib)
        print(f"helper peak RSS: {rss}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="overlays to render (default 200)")
    parser.add_argument("--concurrency", type=int, default=1, help="renders in flight")
    parser.add_argument("--modes", default="binary,helper", help="binary, helper or both")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds before giving up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as tmp:
        snapshot = generate(Path(tmp) / "repo", args.n)
        async with asyncio.timeout(args.budget):
            samples = [
                await measure(mode, snapshot, args.n, args.concurrency)
                for mode in args.modes.split(",")
            ]
    report(samples, args.concurrency)


if __name__ == "__main__":
    asyncio.run(main())
