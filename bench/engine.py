"""The engine's own figures for one app of 100 objects, on a fresh local control plane.

- sync of a 100-object app, cold (render cache empty, objects new) and warm (same commit again:
  everything unchanged, so only comparisons run);
- render-cache hit cost (the same commit rendered again);
- diff (server-side dry run of every object + comparison) of the 100 objects.

Talks to 127.0.0.1 only (a git daemon and the control plane it starts), and stops by itself.

    uv run python bench/engine.py [--objects 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from tether import render
from tether.devcluster import instance
from tether.engine.operation import OperationPhase
from tether.model.app import parse_source
from tether.service import apps as use
from tether.service import operations as ops
from tether.service.runtime import Settings, open_runtime


def write_app(root: Path, objects: int) -> None:
    folder = root / "app"
    folder.mkdir(parents=True)
    docs = []
    for i in range(objects):
        if i % 4 == 0:
            labels = {"app": f"web-{i}"}
            docs.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": f"web-{i}"},
                    "spec": {
                        "replicas": 0,
                        "selector": {"matchLabels": labels},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {"containers": [{"name": "c", "image": "x:1"}]},
                        },
                    },
                }
            )
        else:
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"cm-{i}"},
                    "data": {"key": f"value-{i}" * 10},
                }
            )
    (folder / "all.yaml").write_text(yaml.safe_dump_all(docs))


def git(cwd: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


async def measure(objects: int, rounds: int) -> None:
    instance.down("bench-engine", purge=True)
    up = await instance.up(
        instance.UpOptions(name="bench-engine", nodes=1, audit=False),
        lambda _m: None,
        lambda *_: None,
    )
    with tempfile.TemporaryDirectory(prefix="tether-bench-engine-") as tmp:
        base, work = Path(tmp) / "served", Path(tmp) / "work"
        base.mkdir()
        git(base, "init", "-q", "--bare", "-b", "main", "r.git")
        work.mkdir()
        git(work, "init", "-q", "-b", "main")
        write_app(work, objects)
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "app")
        git(work, "push", "-q", str(base / "r.git"), "main")
        port = free_port()
        daemon = subprocess.Popen(  # noqa: ASYNC220 - a benchmark script's fixture
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
        await asyncio.sleep(0.3)
        url = f"git://127.0.0.1:{port}/r.git"
        try:
            settings = Settings(
                kubeconfig=up.kubeconfig, namespace="tether", cache_dir=Path(tmp) / "cache"
            )
            async with open_runtime(settings) as rt:
                await use.install(rt.kube, "tether")
                await use.create(
                    rt,
                    use.CreateOptions(
                        name="big", repo_url=url, path="app", dest_namespace="default"
                    ),
                )
                render.clear_cache()
                started = time.perf_counter()
                state = await ops.sync_to_end(rt, "big", ops.SyncArgs(), lambda _e: None)
                cold = time.perf_counter() - started
                assert state.phase is OperationPhase.SUCCEEDED, state.message
                warm = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    await ops.sync_to_end(rt, "big", ops.SyncArgs(), lambda _e: None)
                    warm.append(time.perf_counter() - started)
                app = await use.get(rt, "big")
                rt.orchestrator.memos = None  # a diff from scratch: every object dry-run again
                diffs = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    await use.compare(rt, app)
                    diffs.append(time.perf_counter() - started)
                snapshot = await rt.repos.snapshot(url, await rt.repos.resolve(url, "main"))
                source = parse_source({"repoURL": url, "path": "app"})
                context = render.RenderContext("big", "default", "v1.36.3")
                await render.render(snapshot, source, context)
                hits = []
                for _ in range(1000):
                    started = time.perf_counter()
                    await render.render(snapshot, source, context)
                    hits.append(time.perf_counter() - started)
        finally:
            daemon.terminate()
    instance.down("bench-engine", purge=True)
    print(f"== one app, {objects} objects ==")
    print(f"sync, cold render, all objects new : {cold:6.2f} s")
    print(f"sync, warm render, nothing changed : {statistics.median(warm):6.2f} s (median)")
    print(f"diff (dry run + compare)           : {statistics.median(diffs):6.2f} s (median)")
    print(f"render-cache hit                   : {statistics.median(hits) * 1e6:6.1f} µs (median)")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.objects, args.rounds))


if __name__ == "__main__":
    main()
