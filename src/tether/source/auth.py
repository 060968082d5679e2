"""The environment one git call runs in: isolated from the host, and carrying its credentials.

Isolation: git reads no system or global config (`GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_GLOBAL`),
gets a private empty HOME, never prompts (`GIT_TERMINAL_PROMPT=0`), and speaks C-locale English,
which `gitcli` relies on to tell an authentication failure from an unreachable server.

Credentials never travel in the URL or on a command line, where `ps` and git's own messages
would show them. HTTPS passwords and tokens are answered by a `GIT_ASKPASS` script that `cat`s a
0600 file; SSH keys go to a 0600 key file named in `GIT_SSH_COMMAND`. Both live in a 0700 temp
directory removed when the call ends. SSH always checks host keys strictly against the pinned
`known_hosts` of the credentials (or against nothing at all, which fails closed), and reads no
`~/.ssh` of the host: ssh resolves `~` from the password database, not from HOME, so every
default is overridden explicitly.
"""

from __future__ import annotations

import os
import shlex
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tether.source.credentials import RepoCredentials

# Passed through from the host: proxies and CA bundles are deployment settings git needs.
_INHERITED = (
    "PATH",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "GIT_SSL_CAINFO",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
_ASKPASS = """#!/bin/sh
case "$1" in
  Username*) exec cat {user} ;;
  *) exec cat {password} ;;
esac
"""
DEFAULT_TOKEN_USERNAME = "git"  # servers that take a bare token accept any non-empty username


def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k in _INHERITED if (v := os.environ.get(k)) is not None}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",  # with no GIT_ASKPASS either, git fails instead of asking
        LC_ALL="C",
        LANG="C",
    )
    return env


def _private_file(path: Path, content: str, mode: int = 0o600) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as f:
        f.write(content)
    return path


def _askpass(tmp: Path, creds: RepoCredentials) -> Path:
    user = _private_file(tmp / "username", creds.username or DEFAULT_TOKEN_USERNAME)
    password = _private_file(tmp / "password", creds.password)
    script = _ASKPASS.format(user=shlex.quote(str(user)), password=shlex.quote(str(password)))
    return _private_file(tmp / "askpass", script, stat.S_IRWXU)


def ssh_command(tmp: Path, creds: RepoCredentials, connect_timeout: float) -> str:
    known_hosts = _private_file(tmp / "known_hosts", creds.known_hosts)
    key = "none"  # an explicit identity stops ssh from trying the host user's ~/.ssh keys
    if creds.ssh_private_key:
        key = str(_private_file(tmp / "id_key", creds.ssh_private_key.rstrip("\n") + "\n"))
    options = {
        "BatchMode": "yes",
        "StrictHostKeyChecking": "yes",
        "UserKnownHostsFile": str(known_hosts),
        "GlobalKnownHostsFile": os.devnull,
        "IdentitiesOnly": "yes",
        "IdentityFile": key,
        "IdentityAgent": "none",
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "ConnectTimeout": str(max(1, int(connect_timeout))),
        "LogLevel": "ERROR",
    }
    args = ["ssh", "-F", os.devnull, *(f"-o{k}={v}" for k, v in options.items())]
    return " ".join(shlex.quote(a) for a in args)


@contextmanager
def git_env(
    home: Path, scratch: Path, creds: RepoCredentials | None, connect_timeout: float
) -> Iterator[dict[str, str]]:
    """The environment for one git call with `creds`; its secret files vanish on exit.

    `scratch` holds the per-call directory; it is tether's own (not /tmp, which may be mounted
    noexec, and git must execute the askpass script)."""
    creds = creds or RepoCredentials()
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="call-", dir=scratch) as name:  # created 0700
        tmp = Path(name)
        env = base_env(home)
        env["GIT_SSH_COMMAND"] = ssh_command(tmp, creds, connect_timeout)
        env["GIT_SSH_VARIANT"] = "ssh"
        if creds.has_basic_auth:
            env["GIT_ASKPASS"] = str(_askpass(tmp, creds))
        yield env
