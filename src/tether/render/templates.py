"""Go templates for ApplicationSets, evaluated by `tether-template-helper` in a sandbox.

ApplicationSet templates are Go `text/template` with Sprig, as in Argo CD; the only faithful
evaluator of that language is Go's own, so tether runs it: the helper built from
`templatehelper/` (see its main.go) links text/template and Sprig at pinned versions and serves
batches over a pipe, one JSON request line in, one reply line out. This module is the
`tether.generators.Templater` that talks to it; the measurements behind the choice are in
docs/design/generators.md.

Templates are tenant-written, so the helper runs as the render tools do: its own session and
process group, the bare environment of `tools.environment` (no credentials, no PATH, proxies at
a closed port) in a scratch directory of its own, a deadline per batch, a cap on each output and
on the whole batch, and a cap on its writable memory (RLIMIT_DATA, set by the helper on
itself). No function a template can call reads a file, the environment or the network (Argo CD's
`env`, `expandenv` and `getHostByName` do not exist). A helper that overruns its deadline, dies
or breaks protocol is killed and replaced by a fresh one on the next batch; the job it was on is
read from a small memory-mapped progress file the helper keeps, so even then the error names the
element and the template field at fault.

Callers block: the generators are synchronous, pure code. A pool of helpers (two by default)
serves concurrent callers, each batch on a helper of its own.
"""

from __future__ import annotations

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether import toolpaths
from tether.generators.templating import Batch, Failure, FailureKind
from tether.render import processes, tools
from tether.render.errors import ToolMissing

EXECUTABLE = toolpaths.TEMPLATE_HELPER.executable
MiB = 1024 * 1024
_CHUNK = 256 * 1024
_STDERR_TAIL = 16 * 1024
_JSON_GROWTH = 6  # JSON string escaping grows a byte to at most six (\u00XX)
_REPLY_OVERHEAD = 64 * 1024
_REAP_SECONDS = 10.0


@dataclass(frozen=True, kw_only=True)
class TemplateLimits:
    timeout: float = 10.0  # seconds one batch may take
    max_output: int = 1 * MiB  # bytes one template may write
    max_total: int = 64 * MiB  # bytes one batch's templates may write together
    memory: int = 512 * MiB  # writable memory of one helper (RLIMIT_DATA)


class _Broken(Exception):
    """No usable reply came; the helper is killed and replaced."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class _Helper:
    """One helper process: its pipes, its scratch directory, stderr file and progress file."""

    def __init__(self, executable: str, limits: TemplateLimits) -> None:
        self.scratch = Path(tempfile.mkdtemp(prefix="tether-template-helper-"))
        self.progress = self.scratch / "progress"
        self.stderr_path = self.scratch / "stderr"
        argv = [executable, "--progress", str(self.progress), "--memory-limit", str(limits.memory)]
        try:
            with self.stderr_path.open("ab") as stderr:
                self.proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    cwd=self.scratch,
                    env=_environment(self.scratch),
                    start_new_session=True,
                )
        except OSError:
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise
        self.served = 0

    def exchange(self, body: bytes, deadline: float, limit: int) -> Any:
        """Send one request (a JSON object without its id) and read the reply; _Broken when no
        usable reply comes."""
        os.truncate(self.stderr_path, 0)
        self.served += 1
        line = b'{"id":%d,' % self.served + body[1:] + b"\n"
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        except OSError:  # BrokenPipeError: it died
            raise self._died() from None
        return self._parse(self._receive(deadline, limit))

    def _receive(self, deadline: float, limit: int) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        data = bytearray()
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Broken(FailureKind.TIMEOUT, "")
            if not poller.poll(remaining * 1000):
                continue
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                raise self._died()
            data += chunk
            if len(data) > limit:
                raise _Broken(FailureKind.TOO_LARGE, f"the reply exceeded {limit} bytes")
        return bytes(data)

    def _parse(self, line: bytes) -> Any:
        try:
            reply = json.loads(line)
        except ValueError:
            raise _Broken(FailureKind.CRASHED, "the template helper broke protocol") from None
        if not isinstance(reply, dict) or reply.get("id") != self.served:
            raise _Broken(FailureKind.CRASHED, "the template helper answered another request")
        return reply

    def _died(self) -> _Broken:
        status = self.exit_status()
        reason = self._fatal_line() or processes.stderr_text(self.stderr_tail(), lines=2)
        if "out of memory" in reason:
            return _Broken(FailureKind.CRASHED, "the template helper ran out of memory")
        return _Broken(FailureKind.CRASHED, f"the template helper died (exit {status}): {reason}")

    def _fatal_line(self) -> str:
        """The Go runtime's `fatal error: ...` or `panic: ...` line, which comes first."""
        with self.stderr_path.open("rb") as f:
            head = f.read(4096).decode(errors="replace")
        return next(
            (ln.strip() for ln in head.splitlines() if ln.startswith(("fatal error:", "panic:"))),
            "",
        )

    def job_in_progress(self) -> int:
        """The job it was evaluating (-1: none), from the progress file it keeps."""
        try:
            raw = self.progress.read_bytes()[:8]
        except OSError:
            return -1
        return int.from_bytes(raw, "little") - 1 if len(raw) == 8 else -1

    def stderr_tail(self) -> bytes:
        with self.stderr_path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - _STDERR_TAIL))
            return f.read()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def exit_status(self) -> int:
        try:
            return self.proc.wait(_REAP_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.wait()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # pgid == pid: start_new_session

    def close(self) -> None:
        """Close its stdin (it exits on EOF), reap it, remove its scratch directory."""
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        try:
            self.proc.wait(2.0)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)


class HelperTemplater:
    """A `tether.generators.Templater` backed by up to `size` helper processes."""

    def __init__(
        self, executable: str, *, limits: TemplateLimits | None = None, size: int = 2
    ) -> None:
        self.executable = executable
        self.limits = limits or TemplateLimits()
        self.size = size
        self._slots: queue.LifoQueue[_Helper | None] = queue.LifoQueue()
        for _ in range(size):
            self._slots.put(None)
        self._live: set[_Helper] = set()
        self._lock = threading.Lock()
        self.closed = False
        weakref.finalize(self, _close_all, self._live, self._lock)

    def pids(self) -> list[int]:
        """Process ids of the running helpers (for measurements)."""
        with self._lock:
            return [h.proc.pid for h in self._live if h.alive()]

    def render(self, batch: Batch) -> Sequence[str] | Failure:
        body = _request(batch, self.limits)
        limit = self.limits.max_total * _JSON_GROWTH + _REPLY_OVERHEAD
        deadline = time.monotonic() + self.limits.timeout
        for attempt in (1, 2):
            try:
                helper = self._checkout()
            except OSError as e:
                return Failure(-1, FailureKind.UNAVAILABLE, f"cannot run {EXECUTABLE}: {e}")
            try:
                reply = helper.exchange(body, deadline, limit)
            except _Broken as broken:
                job = helper.job_in_progress()
                self._retire(helper)
                # A reused helper that died before starting this batch died while idle (the
                # OOM killer, a stray kill): not this batch's fault, so it gets a fresh one.
                if attempt == 1 and broken.kind is FailureKind.CRASHED and job < 0:
                    continue
                return _broken_failure(broken, job, self.limits)
            except BaseException:
                self._retire(helper)
                raise
            self._release(helper)
            return _results(reply, len(batch.jobs))
        raise AssertionError("unreachable")

    def _checkout(self) -> _Helper:
        helper = self._slots.get()
        if helper is not None and helper.alive():
            return helper
        if helper is not None:
            self._forget(helper)
            helper.close()
        try:
            fresh = _Helper(self.executable, self.limits)
        except BaseException:
            self._slots.put(None)
            raise
        with self._lock:
            self._live.add(fresh)
        return fresh

    def _release(self, helper: _Helper) -> None:
        with self._lock:
            if not self.closed:
                self._slots.put(helper)
                return
            self._live.discard(helper)
        helper.close()

    def _retire(self, helper: _Helper) -> None:
        helper.kill()
        self._forget(helper)
        helper.close()
        self._slots.put(None)

    def _forget(self, helper: _Helper) -> None:
        with self._lock:
            self._live.discard(helper)

    def close(self) -> None:
        """Stop every idle helper; a busy one is closed when its batch returns. Idempotent."""
        with self._lock:
            self.closed = True
        with contextlib.suppress(queue.Empty):
            while True:
                if (helper := self._slots.get_nowait()) is not None:
                    self._forget(helper)
                    helper.close()


def _environment(scratch: Path) -> dict[str, str]:
    """The render tools' bare environment; a crash prints its reason, not every goroutine."""
    return {**tools.environment(scratch), "GOTRACEBACK": "none"}


def _close_all(live: set[_Helper], lock: threading.Lock) -> None:
    with lock:
        helpers = list(live)
        live.clear()
    for helper in helpers:
        helper.close()


def _request(batch: Batch, limits: TemplateLimits) -> bytes:
    request = {
        "options": list(batch.options),
        "params": list(batch.params),
        "templates": [{"name": t.name, "text": t.text} for t in batch.templates],
        "jobs": [list(job) for job in batch.jobs],
        "maxBytes": limits.max_output,
        "maxTotal": limits.max_total,
    }
    return json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()


def _results(reply: dict[str, Any], jobs: int) -> Sequence[str] | Failure:
    if reply.get("error"):
        message = f"the template helper refused the batch: {reply['error']}"
        return Failure(-1, FailureKind.CRASHED, message)
    results = reply.get("results") or []
    outputs: list[str] = []
    for i, result in enumerate(results):
        if "o" in result:
            outputs.append(result["o"])
            continue
        kind = {"parse": FailureKind.PARSE, "tooLarge": FailureKind.TOO_LARGE}.get(
            result.get("c", ""), FailureKind.EXEC
        )
        return Failure(i, kind, str(result.get("e", "failed")))
    if len(outputs) != jobs:
        return Failure(-1, FailureKind.CRASHED, "the template helper answered too few jobs")
    return outputs


def _broken_failure(broken: _Broken, job: int, limits: TemplateLimits) -> Failure:
    if broken.kind is FailureKind.TIMEOUT:
        return Failure(job, broken.kind, f"took longer than {limits.timeout:g}s and was stopped")
    if broken.message.endswith("out of memory"):
        message = f"{broken.message} (limit {limits.memory // MiB} MiB)"
        return Failure(job, broken.kind, message)
    return Failure(job, broken.kind, broken.message)


def locate() -> str:
    """The helper's path: TETHER_TEMPLATE_HELPER, else the tools directory (never PATH);
    ToolMissing, saying how to build it, when there is none."""
    try:
        return str(toolpaths.find(toolpaths.TEMPLATE_HELPER, toolpaths.locations()))
    except toolpaths.ToolNotFound as missing:
        raise ToolMissing(str(missing)) from None


_shared: HelperTemplater | None = None
_shared_lock = threading.Lock()


def shared() -> HelperTemplater:
    """The process-wide templater (ToolMissing when the helper is not built)."""
    global _shared
    executable = locate()
    with _shared_lock:
        if _shared is None or _shared.closed or _shared.executable != executable:
            if _shared is not None:
                _shared.close()
            _shared = HelperTemplater(executable)
        return _shared
