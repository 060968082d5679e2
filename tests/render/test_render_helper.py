"""The kustomize render helper: the binary's bytes and errors, and a pool that survives trouble.

Output is compared with the pinned `kustomize build` binary on every kustomize fixture and on
small cases where a long-lived process could differ from a fresh one (sort order, the managed-by
label's version, kustomize's global OpenAPI state). Pool behaviour (deadlines, crashes, kills,
cancellation, concurrency) is driven by a fake helper speaking the same protocol, because the
real one cannot be made to hang or die on demand.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.render.conftest import CONTEXT, TESTDATA, Repos
from tether import render
from tether.devcluster import tools
from tether.model.app import Source
from tether.render import helper, processes
from tether.render import tools as render_tools

URL = "https://git.example.com/apps.git"
OVERLAYS = "apps/guestbook/overlays"
MiB = 1024 * 1024
FIXTURES = sorted(
    str(path.parent.relative_to(TESTDATA))
    for path in (TESTDATA / "kustomize").rglob("kustomization.yaml")
)

DEPLOYMENT = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1}\n"
PATCH = (
    "patches:\n- patch: '{apiVersion: apps/v1, kind: Deployment, metadata: {name: d},"
    " spec: {replicas: 3}}'\n"
)
# Small kustomizations where a reused process or different options could change the bytes.
CASES: dict[str, dict[str, str]] = {
    "legacy-order": {  # the CLI sorts Namespaces first unless told otherwise
        "kustomization.yaml": "resources: [d.yaml, ns.yaml]\n",
        "d.yaml": DEPLOYMENT,
        "ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n",
    },
    "sort-options": {
        "kustomization.yaml": "resources: [d.yaml, ns.yaml]\nsortOptions: {order: fifo}\n",
        "d.yaml": DEPLOYMENT,
        "ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n",
    },
    "managed-by-label": {  # quotes kustomize's own version
        "kustomization.yaml": "resources: [d.yaml]\nbuildMetadata: [managedByLabel]\n",
        "d.yaml": DEPLOYMENT,
    },
    "origin-annotations": {
        "kustomization.yaml": "resources: [d.yaml]\nbuildMetadata: [originAnnotations]\n",
        "d.yaml": DEPLOYMENT,
    },
    "generators-and-patches": {
        "kustomization.yaml": "resources: [d.yaml]\nnamespace: team\nlabels: [{pairs: {a: b}}]\n"
        "configMapGenerator: [{name: c, literals: [k=v, 'html=<b>&amp;</b>']}]\n" + PATCH,
        "d.yaml": DEPLOYMENT,
    },
    "unused-custom-openapi": {  # leaves a custom schema in kustomize's package state
        "kustomization.yaml": "resources: []\nopenapi: {path: schema.json}\n",
        "schema.json": "{not json",
    },
    "needs-the-schema": {  # a strategic merge patch parses whatever schema is current
        "kustomization.yaml": "resources: [d.yaml]\n" + PATCH,
        "d.yaml": DEPLOYMENT,
    },
    "empty": {"kustomization.yaml": "resources: []\n"},
}
FAILING: dict[str, dict[str, str]] = {
    "invalid-field": {"kustomization.yaml": "resources: []\nnamePrefix: [not, a, string]\n"},
    "missing-file-with-warnings": {
        "kustomization.yaml": "resources: [d.yaml]\ncommonLabels: {a: b}\n"
        "configMapGenerator: [{name: c, files: [nothere]}]\n",
        "d.yaml": DEPLOYMENT,
    },
}
PANICS = {  # kyaml panics on a schema it cannot parse; the CLI dies with exit status 2
    "kustomization.yaml": "resources: [d.yaml]\nopenapi: {path: schema.json}\n" + PATCH,
    "schema.json": "{not json",
    "d.yaml": DEPLOYMENT,
}

FAKE_HELPER = """\
#!{python}
# Speaks the render helper's protocol; the requested directory's name says what to do.
import json, os, sys, time
while line := sys.stdin.readline():
    request = json.loads(line)
    name = os.path.basename(request["dir"])
    if name == "hang":
        time.sleep(3600)
    if name == "crash":
        with open(request["dir"] + ".log", "a") as log:
            log.write(f"{{os.getpid()}}\\n")
        sys.stderr.write("fatal: no luck\\n")
        sys.stderr.flush()
        os._exit(3)
    if name == "slow":
        time.sleep(0.3)
    if name == "garble":
        print("nonsense", flush=True)
        continue
    text = f"pid: {{os.getpid()}}\\n"
    if name == "overfull":  # ignores the cap
        text = "x" * (request["maxBytes"] + 1)
    if name == "flood":  # longer than any reply within the cap could be
        text = "x" * (7 * request["maxBytes"] + 65536)
    print(json.dumps({{"id": request["id"], "yaml": text}}), flush=True)
"""


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def _request(directory: Path, *, timeout: float = 60.0, max_output: int = 64 * MiB) -> helper.Build:
    return helper.Build(directory, "kustomize build app", timeout, max_output)


def _binary(directory: Path) -> subprocess.CompletedProcess[bytes]:
    kustomize = str(tools.binary("kustomize"))
    return subprocess.run([kustomize, "build", str(directory)], capture_output=True, check=False)


async def _binary_error(directory: Path, workdir: Path) -> str:
    """The error message the binary path gives for a failing build."""
    with pytest.raises(render.ToolFailed) as caught:
        await processes.run(
            [str(tools.binary("kustomize")), "build", str(directory)],
            cwd=workdir,
            env=render_tools.environment(workdir),
            max_output=64 * MiB,
            what="kustomize build app",
        )
    return str(caught.value)


def _gone(pid: int, *, within: float = 10.0) -> bool:
    """Whether `pid` has exited (a zombie counts: only its parent can reap it) within time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        time.sleep(0.02)
    return False


def _environment_of(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_text().split("\0")
    return dict(entry.split("=", 1) for entry in entries if entry)


async def _eventually(condition: Callable[[], bool], within: float = 10.0) -> bool:
    for _ in range(int(within / 0.02)):
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


@pytest.fixture(scope="module")
async def shared_pool() -> AsyncIterator[helper.Pool]:
    """One pool for many builds in a row, as a controller would use it."""
    pool = helper.Pool(str(tools.binary(helper.EXECUTABLE)), size=2)
    yield pool
    await pool.aclose()


@pytest.fixture
async def pool() -> AsyncIterator[helper.Pool]:
    fresh = helper.Pool(str(tools.binary(helper.EXECUTABLE)), size=1)
    yield fresh
    await fresh.aclose()


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[helper.Pool]:
    script = tmp_path / "fake-helper"
    script.write_text(FAKE_HELPER.format(python=sys.executable))
    script.chmod(0o755)
    fresh = helper.Pool(str(script), size=2)
    yield fresh
    await fresh.aclose()


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("helper-cases")
    for name, files in {**CASES, **FAILING, "panics": PANICS}.items():
        _write(root / name, files)
    return root


@pytest.fixture
def helper_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(helper.SWITCH, raising=False)
    assert helper.shared() is not None, "build it: tether dev build --tool render-helper"


# --- the binary's bytes -------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", FIXTURES)
async def test_fixture_output_is_the_binarys(shared_pool: helper.Pool, fixture: str) -> None:
    directory = TESTDATA / fixture
    expected = _binary(directory)
    assert expected.returncode == 0, expected.stderr
    assert await shared_pool.build(_request(directory)) == expected.stdout


@pytest.mark.parametrize("case", CASES)
async def test_case_output_is_the_binarys(shared_pool: helper.Pool, cases: Path, case: str) -> None:
    expected = _binary(cases / case)
    assert expected.returncode == 0, expected.stderr
    assert await shared_pool.build(_request(cases / case)) == expected.stdout


async def test_one_builds_openapi_schema_does_not_leak_into_the_next(
    pool: helper.Pool, cases: Path
) -> None:
    # kustomize keeps a custom schema in package state across krusty runs; on one helper the
    # second build would parse the first one's broken schema and panic.
    assert await pool.build(_request(cases / "unused-custom-openapi")) == b""
    second = await pool.build(_request(cases / "needs-the-schema"))
    assert second == _binary(cases / "needs-the-schema").stdout
    assert b"replicas: 3" in second


async def test_renders_through_the_helper_equal_the_binary_path(
    repos: Repos, monkeypatch: pytest.MonkeyPatch, helper_on: None
) -> None:
    snapshot = repos.snapshot(repos.copy("kustomize"))
    sources = [Source(URL, f"{OVERLAYS}/{env}") for env in ("dev", "staging", "prod")]
    with_helper = [await render.render(snapshot, s, CONTEXT) for s in sources]
    render.clear_cache()
    monkeypatch.setenv(helper.SWITCH, "0")
    assert helper.shared() is None
    with_binary = [await render.render(snapshot, s, CONTEXT) for s in sources]
    assert [r.manifests for r in with_helper] == [r.manifests for r in with_binary]


# --- the binary's errors ------------------------------------------------------------------------


@pytest.mark.parametrize("case", FAILING)
async def test_failures_read_word_for_word_as_the_binarys(
    shared_pool: helper.Pool, cases: Path, tmp_path: Path, case: str
) -> None:
    expected = await _binary_error(cases / case, tmp_path)
    with pytest.raises(render.ToolFailed) as caught:
        await shared_pool.build(_request(cases / case))
    assert str(caught.value) == expected
    assert caught.value.stderr == expected.split("): ", 1)[1]


async def test_missing_file_error_keeps_the_builds_warnings(
    shared_pool: helper.Pool, cases: Path
) -> None:
    with pytest.raises(render.ToolFailed) as caught:
        await shared_pool.build(_request(cases / "missing-file-with-warnings"))
    message = str(caught.value)
    assert message.startswith("kustomize build app failed (exit 1): # Warning: 'commonLabels'")
    assert "| Error: loading KV pairs: file sources: [nothere]" in message


async def test_invalid_kustomization_is_a_clear_render_error(
    repos: Repos, monkeypatch: pytest.MonkeyPatch, helper_on: None
) -> None:
    root = _write(repos.base / "repo" / "app", FAILING["invalid-field"]).parent
    snapshot = repos.snapshot(root)
    with pytest.raises(render.RenderError) as through_helper:
        await render.render(snapshot, Source(URL, "app"), CONTEXT)
    message = str(through_helper.value)
    assert message == (
        "kustomize build app failed (exit 1): Error: invalid Kustomization: json: cannot "
        "unmarshal array into Go struct field Kustomization.namePrefix of type string"
    )
    monkeypatch.setenv(helper.SWITCH, "0")
    with pytest.raises(render.RenderError) as through_binary:
        await render.render(snapshot, Source(URL, "app"), CONTEXT)
    assert str(through_binary.value) == message


async def test_a_panic_is_an_error_and_the_helper_lives_on(pool: helper.Pool, cases: Path) -> None:
    assert _binary(cases / "panics").returncode == 2
    await pool.build(_request(cases / "empty"))
    (pid,) = pool.pids()
    with pytest.raises(render.ToolFailed, match=r"failed \(exit 2\): panic: invalid schema file"):
        await pool.build(_request(cases / "panics"))
    assert await pool.build(_request(cases / "needs-the-schema")) == (
        _binary(cases / "needs-the-schema").stdout
    )
    assert pool.pids() == [pid]


async def test_output_over_the_cap_is_refused_and_the_helper_lives_on(
    pool: helper.Pool, cases: Path
) -> None:
    await pool.build(_request(cases / "empty"))
    (pid,) = pool.pids()
    with pytest.raises(render.OutputTooLarge, match="wrote more than 10 bytes"):
        await pool.build(_request(cases / "legacy-order", max_output=10))
    assert pool.pids() == [pid]


# --- a pool that survives trouble ---------------------------------------------------------------


async def test_a_killed_helper_is_restarted(pool: helper.Pool, cases: Path) -> None:
    expected = _binary(cases / "legacy-order").stdout
    assert await pool.build(_request(cases / "legacy-order")) == expected
    (pid,) = pool.pids()
    os.kill(pid, signal.SIGKILL)
    assert await pool.build(_request(cases / "legacy-order")) == expected  # at once, or later
    assert _gone(pid)
    assert await pool.build(_request(cases / "legacy-order")) == expected
    assert pid not in pool.pids()


async def test_a_helper_killed_mid_build_fails_that_build_only(
    fake: helper.Pool, tmp_path: Path
) -> None:
    # A fresh helper: one that had served before gets a second chance on another (see below).
    hanging = asyncio.ensure_future(fake.build(_request(tmp_path / "hang")))
    assert await _eventually(lambda: bool(fake.pids()))
    (pid,) = fake.pids()
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(render.ToolFailed, match=r"^kustomize build app failed \(exit -9\): "):
        await hanging
    assert await fake.build(_request(tmp_path / "ok")) != f"pid: {pid}\n".encode()


async def test_a_build_that_kills_a_used_helper_fails_after_one_retry(
    fake: helper.Pool, tmp_path: Path
) -> None:
    await fake.build(_request(tmp_path / "ok"))
    with pytest.raises(render.ToolFailed, match=r"failed \(exit 3\): fatal: no luck"):
        await fake.build(_request(tmp_path / "crash"))
    crashed = (tmp_path / "crash.log").read_text().split()
    assert len(crashed) == len(set(crashed)) == 2  # the used helper, then a fresh one
    with pytest.raises(render.ToolFailed, match=r"failed \(exit 3\): fatal: no luck"):
        await fake.build(_request(tmp_path / "crash"))
    assert len((tmp_path / "crash.log").read_text().split()) == 3  # a fresh one: no retry


async def test_a_helper_that_dies_reports_its_status_and_stderr(
    fake: helper.Pool, tmp_path: Path
) -> None:
    with pytest.raises(render.ToolFailed) as caught:
        await fake.build(_request(tmp_path / "crash"))
    assert str(caught.value) == "kustomize build app failed (exit 3): fatal: no luck"
    assert (await fake.build(_request(tmp_path / "ok"))).startswith(b"pid: ")


async def test_timeout_kills_the_helper_and_reports(fake: helper.Pool, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(render.RenderTimeout, match=r"took longer than 0.5s and was stopped"):
        await fake.build(_request(tmp_path / "hang", timeout=0.5))
    assert time.monotonic() - started < 5
    assert fake.pids() == []  # killed and reaped, not left behind
    assert (await fake.build(_request(tmp_path / "ok"))).startswith(b"pid: ")


async def test_a_cancelled_caller_kills_its_build(fake: helper.Pool, tmp_path: Path) -> None:
    hanging = asyncio.ensure_future(fake.build(_request(tmp_path / "hang")))
    assert await _eventually(lambda: bool(fake.pids()))
    (pid,) = fake.pids()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(hanging, 0.2)
    assert _gone(pid)


async def test_a_render_deadline_reaches_the_helper(
    repos: Repos, monkeypatch: pytest.MonkeyPatch, fake: helper.Pool
) -> None:
    monkeypatch.setattr(helper, "shared", lambda: fake)
    root = _write(repos.base / "repo" / "hang", {"kustomization.yaml": "resources: []\n"}).parent
    limits = render.RenderLimits(timeout_seconds=0.5)
    with pytest.raises(render.RenderTimeout, match=r"took longer than 0\.5s"):
        await render.render(repos.snapshot(root), Source(URL, "hang"), CONTEXT, limits=limits)
    assert await _eventually(lambda: not fake.pids())


async def test_garbled_and_flooding_helpers_are_replaced(fake: helper.Pool, tmp_path: Path) -> None:
    with pytest.raises(render.ToolFailed, match="the render helper broke protocol"):
        await fake.build(_request(tmp_path / "garble"))
    for name in ("overfull", "flood"):
        with pytest.raises(render.OutputTooLarge, match="wrote more than 1000 bytes"):
            await fake.build(_request(tmp_path / name, max_output=1000))
    assert (await fake.build(_request(tmp_path / "ok"))).startswith(b"pid: ")


async def test_concurrent_builds_share_out_the_pool(fake: helper.Pool, tmp_path: Path) -> None:
    replies = await asyncio.gather(*(fake.build(_request(tmp_path / "slow")) for _ in range(6)))
    assert len(set(replies)) == 2  # two helpers, each answering several requests
    assert len(fake.pids()) == 2


async def test_concurrent_renders_through_the_shared_pool(repos: Repos, helper_on: None) -> None:
    snapshot = repos.snapshot(repos.copy("kustomize"))
    envs = ["dev", "staging", "prod"] * 4
    results = await asyncio.gather(
        *(render.render(snapshot, Source(URL, f"{OVERLAYS}/{env}"), CONTEXT) for env in envs)
    )
    names = {r.manifests[-1]["metadata"]["name"] for r in results}
    assert names == {"dev-guestbook", "staging-guestbook", "prod-guestbook"}
    pool = helper.shared()
    assert pool is not None
    assert 1 <= len(pool.pids()) <= pool.size


async def test_the_switch_forces_the_binary(repos: Repos, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(helper.SWITCH, "0")
    assert helper.shared() is None

    # With the switch off nothing reaches a helper.
    async def refuse(self: helper.Pool, build: helper.Build) -> bytes:
        raise AssertionError("a helper was used")

    monkeypatch.setattr(helper.Pool, "build", refuse)
    snapshot = repos.snapshot(repos.copy("kustomize"))
    result = await render.render(snapshot, Source(URL, f"{OVERLAYS}/prod"), CONTEXT)
    assert result.manifests[-1]["spec"]["replicas"] == 5


async def test_without_a_built_helper_renders_use_the_binary(
    repos: Repos, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kustomize").symlink_to(tools.binary("kustomize"))
    monkeypatch.delenv(helper.SWITCH, raising=False)
    monkeypatch.setenv("TETHER_TOOLS_BIN", str(bin_dir))
    assert helper.shared() is None
    snapshot = repos.snapshot(repos.copy("kustomize"))
    result = await render.render(snapshot, Source(URL, f"{OVERLAYS}/dev"), CONTEXT)
    assert result.manifests[-1]["metadata"]["name"] == "dev-guestbook"


async def test_aclose_stops_every_helper(fake: helper.Pool, tmp_path: Path) -> None:
    await asyncio.gather(*(fake.build(_request(tmp_path / "slow")) for _ in range(2)))
    pids = fake.pids()
    await fake.aclose()
    assert all(_gone(pid) for pid in pids)
    with pytest.raises(render.ToolFailed, match="pool is closed"):
        await fake.build(_request(tmp_path / "ok"))


def test_the_helper_is_a_pinned_tool() -> None:
    assert tools.RENDER_HELPER in tools.ALL_TOOLS
    assert tools.RENDER_HELPER.version == tools.KUSTOMIZE.version
    assert tools.is_current(tools.RENDER_HELPER), "rebuild: tether dev build --tool render-helper"


async def test_aclose_lets_a_build_in_flight_finish_and_leaves_nothing(
    fake: helper.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where helpers make their HOME
    in_flight = asyncio.ensure_future(fake.build(_request(tmp_path / "slow")))
    assert await _eventually(lambda: bool(fake.pids()))
    (pid,) = fake.pids()
    assert list(scratch.iterdir())
    await fake.aclose()
    assert (await in_flight) == f"pid: {pid}\n".encode()
    assert _gone(pid)
    assert await _eventually(lambda: not list(scratch.iterdir()))


async def test_helpers_run_in_a_bare_environment_and_session(
    pool: helper.Pool, cases: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TETHER_TEST_CANARY", "credential")
    await pool.build(_request(cases / "empty"))
    (pid,) = pool.pids()
    environ = _environment_of(pid)
    assert "TETHER_TEST_CANARY" not in environ
    assert environ["HTTPS_PROXY"] == "http://127.0.0.1:9"
    assert Path(environ["HOME"]).is_relative_to(Path(os.readlink(f"/proc/{pid}/cwd")))
    assert os.getpgid(pid) == pid  # its own process group: a kill takes everything it started
