"""Tool runs as bounded steps, exercised with fake tools (TETHER_TOOLS_BIN is the seam):
deadline with the whole process group killed, output cap, bare environment, scratch cleanup."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from tests.render.conftest import CONTEXT, Repos
from tether import render
from tether.model.app import Source
from tether.render import processes

URL = "https://git.example.com/apps.git"
APP = "apps/guestbook/overlays/dev"


def _fake_tool(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(exist_ok=True)
    script = directory / name
    script.write_text(f"#!{sys.executable}\nimport json, os, subprocess, sys, time\n{body}\n")
    script.chmod(0o755)
    return script


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie is dead, just not yet reaped by its new parent


def _dies_soon(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def _exists(path: Path) -> bool:
    return path.exists()


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "fake-bin"
    monkeypatch.setenv("TETHER_TOOLS_BIN", str(directory))
    return directory


async def test_timeout_kills_the_whole_process_group(repos: Repos, fake_bin: Path) -> None:
    _fake_tool(
        fake_bin,
        "kustomize",
        "child = subprocess.Popen(['/bin/sleep', '60'])\n"
        "open(os.path.join(os.path.dirname(__file__), 'child.pid'), 'w').write(str(child.pid))\n"
        "time.sleep(60)",
    )
    snapshot = repos.snapshot(repos.copy("kustomize"))
    started = time.perf_counter()
    with pytest.raises(render.RenderTimeout) as caught:
        await render.render(
            snapshot, Source(URL, APP), CONTEXT, limits=render.RenderLimits(timeout_seconds=1)
        )
    assert time.perf_counter() - started < 5
    assert str(caught.value) == f"rendering {APP!r} took longer than 1s and was stopped"
    child = int((fake_bin / "child.pid").read_text())
    assert _dies_soon(child)


async def test_output_is_capped(repos: Repos, fake_bin: Path) -> None:
    _fake_tool(fake_bin, "kustomize", "while True:\n    sys.stdout.write('x' * 65536)")
    snapshot = repos.snapshot(repos.copy("kustomize"))
    limits = render.RenderLimits(max_output_bytes=1024 * 1024)
    with pytest.raises(render.OutputTooLarge) as caught:
        await render.render(snapshot, Source(URL, APP), CONTEXT, limits=limits)
    assert (
        str(caught.value) == f"kustomize build {APP} wrote more than 1048576 bytes; stopped reading"
    )


async def test_tools_get_a_bare_environment_and_private_scratch(
    repos: Repos, fake_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    _fake_tool(
        fake_bin,
        "kustomize",
        "data = {'env': json.dumps(dict(os.environ)), 'cwd': os.getcwd()}\n"
        "print(json.dumps({'apiVersion': 'v1', 'kind': 'ConfigMap',"
        " 'metadata': {'name': 'env'}, 'data': data}))",
    )
    snapshot = repos.snapshot(repos.copy("kustomize"))
    result = await render.render(snapshot, Source(URL, APP), CONTEXT)
    data = result.manifests[0]["data"]
    env = json.loads(data["env"])
    assert "AWS_SECRET_ACCESS_KEY" not in env
    scratch = Path(data["cwd"])
    assert scratch.name.startswith("tether-render-")
    for name in ("HOME", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        assert Path(env[name]).is_relative_to(scratch)
    assert env["HTTPS_PROXY"] == "http://127.0.0.1:9"
    assert not _exists(scratch)  # removed after the render


async def test_a_missing_tool_is_reported(
    repos: Repos, fake_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(fake_bin))
    snapshot = repos.snapshot(repos.copy("kustomize"))
    with pytest.raises(render.ToolMissing) as caught:
        await render.render(snapshot, Source(URL, APP), CONTEXT)
    assert str(caught.value) == (
        f"kustomize not found in TETHER_TOOLS_BIN ({fake_bin}) or on PATH; set TETHER_KUSTOMIZE"
        " to its path, or build it with `tether dev build --tool kustomize`"
    )


async def test_failures_carry_the_scrubbed_tail_of_stderr(tmp_path: Path) -> None:
    script = _fake_tool(
        tmp_path,
        "tool",
        "for i in range(20):\n    print(f'line {i} at /scratch/x', file=sys.stderr)\nsys.exit(3)",
    )
    with pytest.raises(render.ToolFailed) as caught:
        await processes.run(
            [str(script)], cwd=tmp_path, env={}, max_output=1024, what="tool x",
            scrub=(("/scratch/", ""),),
        )  # fmt: skip
    assert str(caught.value) == "tool x failed (exit 3): " + " | ".join(
        f"line {i} at x" for i in range(12, 20)
    )
