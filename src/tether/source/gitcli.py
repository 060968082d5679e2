"""Running the git CLI: one subprocess per call, a deadline on each, errors by cause.

The git CLI rather than a library because it is what every Git host is tested against (protocol
v2, partial clone, proxies, SSH) and because it runs out of process: a call that hangs is killed
with its whole process group (git spawns `git-remote-https` and `ssh` below it), so a stalled
server costs one timeout and nothing leaks. Git's stderr is scrubbed of credentials before it is
looked at, and is then sorted into the `errors` family by its (C-locale) wording.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tether.source import errors
from tether.source.credentials import RepoCredentials

# Second line of defence behind urls.transport checks: only these transports may run at all, so
# `ext::` (runs commands) and friends stay off even if a URL slipped through.
_PROTOCOLS = ("http", "https", "ssh", "git")
_MAX_DETAIL = 600

_HOST_KEY = re.compile(
    r"Host key verification failed|HOST IDENTIFICATION HAS CHANGED|No \S+ host key is known"
)
_NO_CREDENTIALS = re.compile(r"could not read (Username|Password)|terminal prompts disabled")
_AUTH = re.compile(
    r"Authentication failed|Permission denied \(|returned error: 40[13]"
    r"|Invalid username or password"
)
_NO_REVISION = re.compile(r"couldn't find remote ref|not our ref|unadvertised object|bad object")
_UNREACHABLE = re.compile(
    r"Could not resolve host|Connection refused|unable to connect|Connection timed out"
    r"|Could not read from remote repository|does not appear to be a git repository"
    r"|[Rr]epository .*not found|no such repository|returned error: 404|unable to access"
    r"|Connection reset|early EOF|the remote end hung up|No route to host|not exported"
    r"|Failed to connect"
)


@dataclass(frozen=True, kw_only=True)
class GitCall:
    """How to run git for one repository: binary, config overrides, environment, deadline."""

    git: str
    repo_url: str
    env: Mapping[str, str]
    creds: RepoCredentials
    timeout: float
    allow_file: bool = False

    def config_args(self) -> list[str]:
        file_allowed = "always" if self.allow_file else "never"
        args = ["-c", "protocol.allow=never", "-c", f"protocol.file.allow={file_allowed}"]
        for proto in _PROTOCOLS:
            args += ["-c", f"protocol.{proto}.allow=always"]
        # Auto-gc must not detach: a detached gc would outlive the deadline and the kill.
        args += ["-c", "gc.autoDetach=false", "-c", "maintenance.autoDetach=false"]
        return [*args, "-c", "credential.helper=", "-c", "core.hooksPath=/dev/null"]


async def run(call: GitCall, git_dir: Path, args: Sequence[str], *, what: str) -> bytes:
    """Run `git --git-dir=git_dir <args>`; stdout on success, a SourceError otherwise."""
    proc = await asyncio.create_subprocess_exec(
        call.git,
        f"--git-dir={git_dir}",
        *call.config_args(),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(call.env),
        cwd=git_dir,
        start_new_session=True,  # its own process group, so a kill reaches git's children
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), call.timeout)
    except TimeoutError:
        await _kill(proc)
        raise errors.GitTimeout(
            call.repo_url, f"{what} timed out after {call.timeout:g}s (git was stopped)"
        ) from None
    except asyncio.CancelledError:
        await _kill(proc)
        raise
    if proc.returncode != 0:
        raise classify(call.repo_url, what, call.creds.scrub(stderr.decode(errors="replace")))
    return stdout


async def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    await proc.wait()


def _detail(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    text = "; ".join(lines) or "no message from git"
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def classify(repo_url: str, what: str, stderr: str) -> errors.SourceError:
    """The error type git's (already scrubbed) stderr describes, quoting git as the detail."""
    detail = _detail(stderr)
    if _HOST_KEY.search(stderr):
        return errors.HostKeyRejected(
            repo_url,
            f"{what}: SSH host key verification failed; the server's key is not among the "
            f"pinned knownHosts ({detail})",
        )
    if _NO_CREDENTIALS.search(stderr):
        return errors.AuthenticationFailed(
            repo_url, f"{what}: the server requires credentials and none are configured ({detail})"
        )
    if _AUTH.search(stderr):
        return errors.AuthenticationFailed(
            repo_url, f"{what}: authentication failed; check the repository credentials ({detail})"
        )
    if _NO_REVISION.search(stderr):
        return errors.RevisionNotFound(repo_url, f"{what}: {detail}")
    if _UNREACHABLE.search(stderr):
        return errors.RepoUnreachable(repo_url, f"{what}: repository unreachable ({detail})")
    return errors.GitFailed(repo_url, f"{what} failed: {detail}")
