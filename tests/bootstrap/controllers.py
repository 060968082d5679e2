"""A real `tether controller` process against any cluster and namespace (the controller suite's
fixture is tied to the shared cluster and the test's namespace; bootstrap tests need others)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.controller.conftest import ControllerProcess
from tests.support.gitserver import free_port


def spawn(kubeconfig: Path, namespace: str, workdir: Path, *extra: str) -> ControllerProcess:
    """Start a controller and wait until it is ready; the caller stops it."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"controller-{port}.log"
    argv = [
        sys.executable,
        "-m",
        "tether",
        "controller",
        "--kubeconfig",
        str(kubeconfig),
        "-N",
        namespace,
        "--listen",
        f"127.0.0.1:{port}",
        "--poll-seconds",
        "1",
        "--self-heal-backoff",
        "0.3",
        "--log-json",
        *extra,
    ]
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(workdir / f"cache-{port}"),
        "XDG_STATE_HOME": str(workdir / f"state-{port}"),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    ctl = ControllerProcess(proc, log, port)
    try:
        _wait_ready(ctl)
    except BaseException:
        ctl.kill()
        raise
    return ctl


def _wait_ready(ctl: ControllerProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ctl.proc.poll() is not None:
            raise AssertionError(f"controller exited:\n{ctl.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{ctl.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"controller not ready after {timeout}s:\n{ctl.log.read_text()[-3000:]}")
