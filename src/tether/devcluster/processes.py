"""Start and stop background processes tracked by PID files.

A PID file records the PID and the process start time (from /proc), so a recycled PID is never
mistaken for ours: `down` stops exactly what `up` started and nothing else. Processes run in their
own session so a Ctrl-C in the terminal that ran `up` does not take them down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

# Popen objects of processes this Python process started; kept so they can be reaped (no zombies
# while tests run `up` and `down` in-process) and so their destructors do not warn.
_children: dict[int, subprocess.Popen[bytes]] = {}


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    state, start = fields[0], fields[19]
    return None if state in ("Z", "X") else start


def start(
    argv: Sequence[str], log_file: Path, pid_file: Path, env: Mapping[str, str] | None = None
) -> int:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(env) if env is not None else None,
        )
    _children[proc.pid] = proc
    write_pid_file(pid_file, proc.pid)
    return proc.pid


def write_pid_file(pid_file: Path, pid: int) -> None:
    """Record `pid` with its start time, so a recycled PID is never taken for it."""
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{pid} {_start_time(pid) or ''}\n")


def _reap(pid: int) -> None:
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]


def running_pid(pid_file: Path) -> int | None:
    """The PID recorded in `pid_file` if that very process is still alive."""
    try:
        pid_text, _, started = pid_file.read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    _reap(pid)
    actual = _start_time(pid)
    if actual is None or (started and actual != started):
        return None
    return pid


def stop(pid_file: Path, grace_seconds: float = 10.0) -> bool:
    """SIGTERM the recorded process group, SIGKILL after the grace period; True if it ran."""
    pid = running_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while running_pid(pid_file) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    if running_pid(pid_file) is not None:
        _signal_group(pid, signal.SIGKILL)
        while running_pid(pid_file) is not None:
            time.sleep(0.02)
    pid_file.unlink(missing_ok=True)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the process leads its own session, so its group id is its PID
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def tail(log_file: Path, lines: int = 5) -> str:
    try:
        text = log_file.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
