"""A real `tether controller` process per test, against the shared control plane."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Cluster
from tests.support.gitserver import free_port


@dataclass
class ControllerProcess:
    proc: subprocess.Popen[bytes]
    log: Path
    port: int
    history: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> list[dict[str, Any]]:
        lines = []
        for path in [*self.history, self.log]:
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    lines.append(json.loads(line))
        return lines

    def metric(self, name: str, labels: str = "") -> float:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        wanted = f"{name}{{{labels}}}" if labels else name
        total = 0.0
        for line in text.splitlines():
            if line.startswith(wanted + " ") or (not labels and line.startswith(name + "{")):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


StartController = Callable[..., ControllerProcess]


def _wait_ready(ctl: ControllerProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ctl.proc.poll() is not None:
            raise AssertionError(
                f"controller exited ({ctl.proc.returncode}):\n{ctl.log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(f"{ctl.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"controller not ready after {timeout}s:\n{ctl.log.read_text()[-3000:]}")


@pytest.fixture
def start_controller(
    cluster: Cluster, namespace: str, tmp_path: Path, tether_installed: None
) -> Iterator[StartController]:
    started: list[ControllerProcess] = []

    def start(
        *extra: str,
        env: dict[str, str] | None = None,
        ready: bool = True,
        name: str = "ctl",
        kubeconfig: Path | None = None,
        crash_after_persists: int = 0,
    ) -> ControllerProcess:
        """`crash_after_persists`: the process SIGKILLs itself right after that many
        operation-state writes (tests.support.crashing_controller)."""
        port = free_port()
        log = tmp_path / f"{name}-{len(started)}.log"
        entry = ["tether"]
        if crash_after_persists:
            entry = ["tests.support.crashing_controller", str(crash_after_persists)]
        argv = [
            sys.executable,
            "-m",
            *entry,
            "controller",
            "--kubeconfig",
            str(kubeconfig or cluster.kubeconfig),
            "-N",
            namespace,
            "--listen",
            f"127.0.0.1:{port}",
            "--poll-seconds",
            "1",
            "--resync-seconds",
            "30",
            "--self-heal-backoff",
            "0.3",
            "--log-json",
            *extra,
        ]
        full_env = {
            **os.environ,
            "XDG_CACHE_HOME": str(tmp_path / f"cache-{name}"),
            "XDG_STATE_HOME": str(tmp_path / f"state-{name}"),  # audit and state dbs per test
            **(env or {}),
        }
        with log.open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=full_env)
        ctl = ControllerProcess(proc, log, port)
        started.append(ctl)
        if ready:
            _wait_ready(ctl)
        return ctl

    yield start
    for ctl in started:
        ctl.stop()
