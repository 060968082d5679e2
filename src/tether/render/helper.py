"""Kustomize builds served by long-lived helper processes instead of one exec per render.

Each `kustomize build` pays for a process start, a Go runtime start and a fresh parse of
kustomize's built-in OpenAPI schema: about 18 ms of CPU, which dominates when a controller
renders hundreds of applications at start-up. `tether-render-helper` (built from renderhelper/
against the pinned kustomize release) keeps all of that warm and serves builds over a pipe: one
JSON request line in, one JSON reply line out. Its output is byte for byte the binary's.

Only the exec is replaced. The sandbox work (graph walk, escape checks, the private copy) still
happens before a build, and each helper runs the way `processes` runs a tool: in its own session,
with the bare environment of `tools.environment` and a scratch directory of its own. A request
has a helper to itself, a deadline and an output cap; a helper that overruns, dies, or whose
caller was cancelled mid-build is killed, and the next request starts a fresh one. Failures read
exactly as the binary's do (the same ToolFailed text, stderr tail included), so nothing
downstream can tell which path rendered.

Requests run on the pool's own threads, not on the event loop: the pool then serves any loop
(each CLI command runs its own), and builds never queue behind the loop's default executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether import toolpaths
from tether.render import processes, tools
from tether.render.errors import (
    OutputTooLarge,
    RenderError,
    RenderTimeout,
    ToolFailed,
    ToolMissing,
)

EXECUTABLE = toolpaths.RENDER_HELPER.executable
# "0" makes renders exec `kustomize build` instead; a path names the helper to use.
SWITCH = toolpaths.RENDER_HELPER.variable
_OFF = frozenset({"0", "false", "no", "off"})

_CHUNK = 256 * 1024
_STDERR_TAIL = 16 * 1024
_JSON_GROWTH = 6  # JSON string escaping grows a byte to at most six (\u00XX)
_REPLY_OVERHEAD = 64 * 1024
_EXIT_GRACE = 2.0  # seconds a helper gets to exit once its stdin closes
_REAP_SECONDS = 10.0


@dataclass(frozen=True)
class Build:
    """One request: what `kustomize build directory` prints, within a deadline and a size."""

    directory: Path
    what: str  # "kustomize build apps/web": the prefix of every error message
    timeout: float
    max_output: int
    scrub: tuple[tuple[str, str], ...] = ()  # (text, replacement) pairs for error messages
    load_restrictor: str = "rootOnly"  # kustomize build's default --load-restrictor


@dataclass(frozen=True)
class _Reply:
    yaml: bytes | None  # None when the build failed
    error: str
    code: str  # failed | panic | tooLarge | badRequest (renderhelper/main.go)
    stderr: bytes  # what the helper wrote to stderr during this build (warnings, log lines)


class _Broken(Exception):
    """The helper could not answer this request; it is killed and replaced."""


class _Expired(_Broken):
    pass


class _Exited(_Broken):
    pass


class _Overflow(_Broken):
    pass


class _Garbled(_Broken):
    pass


def default_size() -> int:
    return min(2, len(os.sched_getaffinity(0)))


class _Helper:
    """One helper process: its pipes, its scratch directory (HOME and cwd) and its stderr file.

    stderr goes to a file opened for appending rather than a pipe, so a chatty helper can never
    block on it; it is emptied before each request, so what it holds afterwards is that build's.
    """

    def __init__(self, executable: str) -> None:
        self.scratch = Path(tempfile.mkdtemp(prefix="tether-render-helper-"))
        self.stderr_path = self.scratch / "stderr"
        try:
            with self.stderr_path.open("ab") as stderr:
                self.proc = subprocess.Popen(
                    [executable],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    cwd=self.scratch,
                    env=tools.environment(self.scratch),
                    start_new_session=True,
                )
        except OSError:
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise
        self._last_id = 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def reused(self) -> bool:
        """Whether it served requests before the current one."""
        return self._last_id > 1

    def exchange(self, build: Build, deadline: float) -> _Reply:
        """Send one request and wait for its reply; _Broken when no usable reply comes."""
        os.truncate(self.stderr_path, 0)
        self._last_id += 1
        request = {
            "id": self._last_id,
            "dir": str(build.directory),
            "loadRestrictor": build.load_restrictor,
            "maxBytes": build.max_output,
        }
        self._send(json.dumps(request).encode() + b"\n")
        limit = build.max_output * _JSON_GROWTH + _REPLY_OVERHEAD
        line = self._receive(deadline, limit)
        return self._parse(line)

    def _send(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        except OSError as e:  # BrokenPipeError: it died
            raise _Exited(str(e)) from None

    def _receive(self, deadline: float, limit: int) -> bytes:
        """One reply line, read with a deadline and a size cap (the helper writes nothing else)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        data = bytearray()
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Expired()
            if not poller.poll(remaining * 1000):
                continue
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                raise _Exited()
            data += chunk
            if len(data) > limit:
                raise _Overflow()
        return bytes(data)

    def _parse(self, line: bytes) -> _Reply:
        try:
            reply: Any = json.loads(line)
        except ValueError as e:
            raise _Garbled(f"unreadable reply: {e}") from None
        if not isinstance(reply, dict) or reply.get("id") != self._last_id:
            raise _Garbled("a reply to another request")
        text = reply.get("yaml")
        return _Reply(
            yaml=text.encode() if isinstance(text, str) else None,
            error=str(reply.get("error", "")),
            code=str(reply.get("code", "")),
            stderr=self.stderr_tail(),
        )

    def stderr_tail(self) -> bytes:
        with self.stderr_path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - _STDERR_TAIL))
            return f.read()

    def exit_status(self) -> int:
        """Its exit status once it has closed stdout (killed if it lingers)."""
        try:
            return self.proc.wait(_REAP_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.wait()

    def kill(self) -> None:
        """SIGKILL its process group; safe from any thread, at any time."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # pgid == pid: start_new_session

    def stop(self, grace: float) -> None:
        """Close its stdin and give it `grace` seconds to exit, else kill it.

        Safe while another thread waits for its reply (that thread sees EOF): stdout stays
        open, because closing a descriptor another thread polls lets the number be reused.
        """
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait()

    def close(self, grace: float) -> None:
        """Stop it, then release its stdout and scratch directory; only for an idle helper."""
        self.stop(grace)
        with contextlib.suppress(OSError):
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


class _Job:
    """The link between a waiting caller and the pool thread serving it, for cancellation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._helper: _Helper | None = None
        self._abandoned = False

    def attach(self, helper: _Helper) -> bool:
        """Record the helper doing this job; False if the caller has already gone."""
        with self._lock:
            self._helper = helper
            return not self._abandoned

    @property
    def abandoned(self) -> bool:
        with self._lock:
            return self._abandoned

    def abandon(self) -> None:
        """The caller stopped waiting: a build it started can only be stopped by a kill."""
        with self._lock:
            self._abandoned = True
            if self._helper is not None:
                self._helper.kill()


class Pool:
    """Up to `size` helpers, started on first use, each serving one request at a time."""

    def __init__(self, executable: str, *, size: int | None = None) -> None:
        self.executable = executable
        self.size = size or default_size()
        # One slot per helper: a running helper, or None for one to start when needed. Every
        # request takes a slot and puts one back, and there are as many threads as slots. Last
        # in, first out: a warm helper is reused before another one is started.
        self._slots: queue.LifoQueue[_Helper | None] = queue.LifoQueue()
        for _ in range(self.size):
            self._slots.put(None)
        self._live: set[_Helper] = set()
        self._lock = threading.Lock()
        self.closed = False
        self._threads = ThreadPoolExecutor(self.size, thread_name_prefix="render-helper")
        # Helpers exit when our end of their stdin closes; this also covers a pool that is
        # dropped, or an interpreter that exits, without aclose(). Either way no request is
        # running then (a running request keeps the pool alive; exit joins the threads first).
        weakref.finalize(self, _close_all, self._live, self._lock)

    def pids(self) -> list[int]:
        """Process ids of the running helpers (for measurements)."""
        with self._lock:
            return [helper.proc.pid for helper in self._live if helper.alive()]

    async def build(self, build: Build) -> bytes:
        """`kustomize build`'s stdout for `build`; the binary's errors, word for word."""
        job = _Job()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._threads, self._serve, build, job
            )
        except RuntimeError:
            if self.closed:  # the executor refuses work after close()
                raise _closed(build) from None
            raise
        except asyncio.CancelledError:
            job.abandon()
            raise

    def _serve(self, build: Build, job: _Job) -> bytes:
        """Run on a pool thread: one request, on one helper (or two, see _attempt)."""
        reply = self._attempt(build, job, time.monotonic() + build.timeout, retry=True)
        return b"" if reply is None else _output(reply, build)

    def _attempt(self, build: Build, job: _Job, deadline: float, *, retry: bool) -> _Reply | None:
        """The helper's reply, or None if the caller has gone.

        A helper that served earlier requests and closes its pipe on this one is tried once
        more on a fresh helper: it may have died while idle (a kill, the OOM killer), and a Go
        process's exit is not visible to poll() until all its threads are gone, so `_checkout`
        cannot always tell. A build that really kills its helper kills the fresh one too.
        """
        helper = self._checkout(build)
        if not job.attach(helper):
            self._release(helper)
            return None
        try:
            reply = helper.exchange(build, deadline)
        except _Broken as broken:
            stale = isinstance(broken, _Exited) and helper.reused and not job.abandoned
            try:
                if not (stale and retry):
                    raise _broken_error(broken, build, helper) from None
            finally:  # after reading its exit status and stderr, which retiring removes
                self._retire(helper)
            return self._attempt(build, job, deadline, retry=False)
        except BaseException:
            self._retire(helper)
            raise
        self._release(helper)
        return reply

    def _checkout(self, build: Build) -> _Helper:
        helper = self._slots.get()
        if helper is not None and helper.alive():
            return helper
        if helper is not None:  # it died between requests: not this request's fault
            self._forget(helper)
            helper.close(0.0)
        try:
            fresh = self._start(build)
        except BaseException:
            self._slots.put(None)
            raise
        return fresh

    def _start(self, build: Build) -> _Helper:
        try:
            helper = _Helper(self.executable)
        except OSError as e:
            raise ToolMissing(f"{build.what}: cannot run {self.executable}: {e.strerror}") from None
        with self._lock:
            if not self.closed:
                self._live.add(helper)
                return helper
        helper.close(0.0)
        raise _closed(build)

    def _release(self, helper: _Helper) -> None:
        """Return a helper that answered to its slot, or close it if the pool has closed."""
        with self._lock:
            if not self.closed:
                self._slots.put(helper)
                return
            self._live.discard(helper)
        helper.close(0.0)

    def _retire(self, helper: _Helper) -> None:
        """Kill a helper that failed a request and free its slot for a fresh one."""
        helper.kill()
        self._forget(helper)
        helper.close(0.0)
        self._slots.put(None)

    def _forget(self, helper: _Helper) -> None:
        with self._lock:
            self._live.discard(helper)

    def close(self, grace: float = _EXIT_GRACE) -> None:
        """Stop every helper (each gets `grace` seconds to exit on EOF); idempotent.

        Idle helpers are closed outright. A busy one is only stopped: the thread waiting for
        its reply gets the reply or EOF, and closes it as it would any helper after close().
        """
        with self._lock:
            self.closed = True
        self._threads.shutdown(wait=False, cancel_futures=True)
        idle = []
        with contextlib.suppress(queue.Empty):
            while True:
                if (helper := self._slots.get_nowait()) is not None:
                    idle.append(helper)
        for _ in range(self.size):  # a request already past the executor must not block on get
            self._slots.put(None)
        with self._lock:
            busy = [helper for helper in self._live if helper not in idle]
            self._live.difference_update(idle)
        for helper in idle:
            helper.close(grace)
        for helper in busy:
            helper.stop(grace)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)


def _close_all(live: set[_Helper], lock: threading.Lock) -> None:
    with lock:
        helpers = list(live)
        live.clear()
    for helper in helpers:
        helper.close(0.0)


def _output(reply: _Reply, build: Build) -> bytes:
    """The build's stdout, or the error `kustomize build` would have exited with."""
    if reply.yaml is not None and len(reply.yaml) <= build.max_output:
        return reply.yaml
    if reply.yaml is not None or reply.code == "tooLarge":
        raise _too_large(build)
    if reply.code == "badRequest":
        raise ToolFailed(f"{build.what}: the render helper refused the request: {reply.error}")
    # The CLI prints the build's warnings, then cobra's "Error: ..." and exits 1; a panic it
    # did not recover would print "panic: ..." and exit 2.
    if reply.code == "panic":
        raise _tool_failed(build, 2, reply.stderr + f"{reply.error}\n".encode())
    raise _tool_failed(build, 1, reply.stderr + f"Error: {reply.error}\n".encode())


def _broken_error(broken: _Broken, build: Build, helper: _Helper) -> RenderError:
    if isinstance(broken, _Expired):
        return RenderTimeout(f"{build.what} took longer than {build.timeout:g}s and was stopped")
    if isinstance(broken, _Overflow):
        return _too_large(build)
    if isinstance(broken, _Garbled):
        return ToolFailed(f"{build.what}: the render helper broke protocol: {broken}")
    # It died during the build: a log.Fatal inside kustomize, a kill, the OOM killer.
    return _tool_failed(build, helper.exit_status(), helper.stderr_tail())


def _tool_failed(build: Build, status: int, stderr: bytes) -> ToolFailed:
    """processes.run's error for a tool that exited `status` having written `stderr`."""
    message = _scrubbed(processes.stderr_text(stderr[-_STDERR_TAIL:]), build.scrub)
    return ToolFailed(f"{build.what} failed (exit {status}): {message}", stderr=message)


def _too_large(build: Build) -> OutputTooLarge:
    return OutputTooLarge(f"{build.what} wrote more than {build.max_output} bytes; stopped reading")


def _closed(build: Build) -> ToolFailed:
    return ToolFailed(f"{build.what}: the render helper pool is closed")


def _scrubbed(message: str, scrub: Iterable[tuple[str, str]]) -> str:
    for text, replacement in scrub:
        message = message.replace(text, replacement)
    return message


_shared: Pool | None = None
_shared_lock = threading.Lock()


def shared() -> Pool | None:
    """The process-wide pool; None when renders should exec `kustomize build` instead (the
    helper is not built, or TETHER_RENDER_HELPER=0). ToolMissing when TETHER_RENDER_HELPER
    names a file that is not a program."""
    global _shared
    if os.environ.get(SWITCH, "").strip().lower() in _OFF:
        return None
    executable = _executable()
    if executable is None:
        return None
    with _shared_lock:
        if _shared is None or _shared.closed or _shared.executable != executable:
            if _shared is not None:
                _shared.close(0.0)  # another tools directory: its helpers are of no use
            _shared = Pool(executable)
        return _shared


async def aclose_shared() -> None:
    """Stop the process-wide pool's helpers; a later render starts new ones."""
    pool = _shared
    if pool is not None:
        await pool.aclose()


def _executable() -> str | None:
    """The configured helper (TETHER_RENDER_HELPER), else the one in the tools directory (never
    one from PATH: see tether.toolpaths); ToolMissing if the configured path is no program."""
    try:
        found = toolpaths.locate(toolpaths.RENDER_HELPER, toolpaths.locations())
    except toolpaths.ToolNotFound as wrong:
        raise ToolMissing(str(wrong)) from None
    return None if found is None else str(found)
