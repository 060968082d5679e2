"""Running one tool as a bounded step: its own process group, a deadline, an output cap.

A chart or kustomization can make its tool loop or write without end. The tool therefore runs
in a new session (so it and anything it spawns form one process group), its stdout is read in
chunks and abandoned past the byte limit, only the tail of stderr is kept, and if the caller's
deadline expires (the render wraps the whole step in `asyncio.timeout`) or anything else goes
wrong, the whole group is killed before the error propagates. Nothing is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from pathlib import Path

from tether.render.errors import OutputTooLarge, ToolFailed, ToolMissing

_CHUNK = 256 * 1024
_STDERR_TAIL = 16 * 1024
_REAP_SECONDS = 10.0  # only a grandchild that left the process group can hold the pipes open


async def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    max_output: int,
    what: str,
    scrub: Sequence[tuple[str, str]] = (),
) -> bytes:
    """stdout of `argv`; ToolFailed (with stderr's tail) if it exits non-zero.

    `scrub` lists (text, replacement) pairs applied to stderr, so that messages show
    repository paths rather than the render's scratch directory.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as e:
        raise ToolMissing(f"{what}: cannot run {argv[0]}: {e.strerror}") from None
    try:
        return await _collect(proc, max_output, what, scrub)
    finally:
        await _reap(proc)


async def _collect(
    proc: asyncio.subprocess.Process, max_output: int, what: str, scrub: Sequence[tuple[str, str]]
) -> bytes:
    assert proc.stdout is not None
    assert proc.stderr is not None
    # Both pipes are drained concurrently: a tool blocked on a full stderr pipe never exits.
    out = asyncio.ensure_future(_read_bounded(proc.stdout, max_output, what))
    err = asyncio.ensure_future(_read_tail(proc.stderr))
    try:
        data, tail = await out, await err
    finally:
        out.cancel()
        err.cancel()
        # Let both readers unwind before _reap reads what is left in the pipes.
        await asyncio.gather(out, err, return_exceptions=True)
    code = await proc.wait()
    if code != 0:
        message = stderr_text(tail)
        for text, replacement in scrub:
            message = message.replace(text, replacement)
        raise ToolFailed(f"{what} failed (exit {code}): {message}", stderr=message)
    return data


async def _read_bounded(stream: asyncio.StreamReader, limit: int, what: str) -> bytes:
    data = bytearray()
    while chunk := await stream.read(_CHUNK):
        data += chunk
        if len(data) > limit:
            raise OutputTooLarge(f"{what} wrote more than {limit} bytes; stopped reading")
    return bytes(data)


async def _read_tail(stream: asyncio.StreamReader) -> bytes:
    tail = b""
    while chunk := await stream.read(_CHUNK):
        tail = (tail + chunk)[-_STDERR_TAIL:]
    return tail


async def _reap(proc: asyncio.subprocess.Process) -> None:
    """Kill the tool's whole process group unless it already exited, then wait for it."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # pgid == pid: start_new_session
    # Shielded so that a cancelled render still reaps the tool (no zombie, no open pipes).
    with contextlib.suppress(TimeoutError):
        await asyncio.shield(asyncio.wait_for(_drain_and_wait(proc), _REAP_SECONDS))


async def _drain_and_wait(proc: asyncio.subprocess.Process) -> None:
    # asyncio's wait() returns only once both pipes reach EOF, and a reader that stopped early
    # (output cap, deadline) may have left the stdout pipe paused: read both to the end first.
    for stream in (proc.stdout, proc.stderr):
        while stream is not None and await stream.read(_CHUNK):
            pass
    await proc.wait()


def stderr_text(raw: bytes, *, lines: int = 8) -> str:
    """The last few non-empty lines of a tool's stderr, on one line."""
    text = raw.decode("utf-8", errors="replace")
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "no error output"
