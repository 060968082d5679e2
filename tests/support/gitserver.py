"""Real Git servers on loopback for tests: `git daemon`, smart HTTP with basic auth, and sshd.

Each server runs as its own process on 127.0.0.1 with a free port, serves the bare repositories
of one base directory, and is stopped by its PID (process group). No mocks: the client under
test speaks the real protocols to the real server programs Debian ships.

- `GitDaemon`: `git daemon --export-all --enable=receive-pack` (git://, anonymous).
- `HttpGitServer`: `git http-backend` (the CGI every smart-HTTP host wraps) behind a small
  threaded Python HTTP server, run as `python -m tests.support.gitserver http ...`; it demands
  basic auth when a username is configured and logs one line per request.
- `SshServer`: OpenSSH `sshd` with a throwaway host key, one authorized client key and a private
  config; runs as the current user (root on CI), logging in to run `git-upload-pack`.
- `stalling_server`: accepts TCP connections and never answers (timeouts).
- `WorkRepo`: builds commits (files, executables, symlinks, tags) with the git CLI and pushes
  them into the served base directory.
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
SSHD = "/usr/sbin/sshd"
_REPO_ROOT = Path(__file__).resolve().parents[2]


# ---- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(
    port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as s, contextlib.suppress(OSError):
            s.connect(("127.0.0.1", port))
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} after {timeout}s: {log.read_text()}")


@dataclass
class Server:
    """A server process on 127.0.0.1:port; `stop()` ends exactly its process group."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _spawn(argv: list[str], log: Path, port: int, env: Mapping[str, str] | None = None) -> Server:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() reaches forked children too
            env=dict(env) if env is not None else None,
            cwd=_REPO_ROOT,
        )
    server = Server(proc, port, log)
    try:
        wait_for_port(port, proc, log)
    except BaseException:
        server.stop()
        raise
    return server


def git_env(home: Path) -> dict[str, str]:
    """An environment for test-side git commands that no host config can influence."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Ada Lovelace",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada Lovelace",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
        "LC_ALL": "C",
    }


# ---- git daemon -----------------------------------------------------------------------------


@dataclass
class GitDaemon:
    server: Server
    base: Path

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.server.port}/{name}"

    def stop(self) -> None:
        self.server.stop()


def start_git_daemon(base: Path, logs: Path, port: int | None = None) -> GitDaemon:
    """A git daemon over `base`; pass the port of a stopped one to bring it back at its URL."""
    port = port or free_port()
    argv = [
        "git",
        "daemon",
        "--export-all",
        "--enable=receive-pack",
        "--reuseaddr",
        "--informative-errors",
        "--listen=127.0.0.1",
        f"--port={port}",
        f"--base-path={base}",
        str(base),
    ]
    return GitDaemon(_spawn(argv, logs / f"git-daemon-{port}.log", port), base)


# ---- smart HTTP -----------------------------------------------------------------------------


@dataclass
class HttpGitServer:
    server: Server
    base: Path

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.port}/{name}"

    def requests(self) -> list[str]:
        """One "METHOD path user status" line per request served so far."""
        return [ln for ln in self.server.log.read_text().splitlines() if ln.startswith("REQ ")]

    def stop(self) -> None:
        self.server.stop()


def start_http(base: Path, logs: Path, username: str = "", password: str = "") -> HttpGitServer:
    """Smart HTTP over `base`; with a username, every request needs basic auth."""
    port = free_port()
    env = {**os.environ, "GITSERVER_USER": username, "GITSERVER_PASSWORD": password}
    argv = [sys.executable, "-m", "tests.support.gitserver", "http", str(port), str(base)]
    return HttpGitServer(_spawn(argv, logs / f"http-{port}.log", port, env), base)


class _GitHttpHandler(BaseHTTPRequestHandler):
    """Translates each request into one `git http-backend` CGI run."""

    base: Path
    credentials: tuple[str, str] | None
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        pass  # one REQ line per request instead (see _log)

    def _log(self, status: int, user: str) -> None:
        print(f"REQ {self.command} {self.path} {user or '-'} {status}", flush=True)

    def _user(self) -> str | None:
        """The authenticated user; "" when no auth is configured; None when refused."""
        if self.credentials is None:
            return ""
        scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return None
        return user if (user, password) == self.credentials else None

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _refuse(self) -> None:
        body = self._body()  # drain it so the connection stays usable
        del body
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        self._log(401, "")

    def _cgi_env(self, user: str, body: bytes) -> dict[str, str]:
        path, _, query = self.path.partition("?")
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.base),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_COUNT": "1",  # allow pushes over HTTP (receive-pack)
            "GIT_CONFIG_KEY_0": "http.receivepack",
            "GIT_CONFIG_VALUE_0": "true",
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "REMOTE_USER": user or "anonymous",
            "REMOTE_ADDR": self.client_address[0],
        }

    def _serve(self) -> None:
        user = self._user()
        if user is None:
            self._refuse()
            return
        body = self._body()
        result = subprocess.run(
            [HTTP_BACKEND], input=body, env=self._cgi_env(user, body), capture_output=True
        )
        head, _, payload = result.stdout.replace(b"\r\n", b"\n").partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self._log(status, user)


def _serve_http(port: int, base: Path) -> None:
    user, password = os.environ.get("GITSERVER_USER", ""), os.environ.get("GITSERVER_PASSWORD", "")
    handler = type(
        "Handler",
        (_GitHttpHandler,),
        {"base": base, "credentials": (user, password) if user else None},
    )
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()


# ---- sshd -----------------------------------------------------------------------------------


@dataclass
class SshServer:
    server: Server
    client_key: str  # OpenSSH private key the server accepts
    host_public_key: str  # "ssh-ed25519 AAAA..."
    user: str

    @property
    def known_hosts(self) -> str:
        """The pinned host key line for this server's non-default port."""
        return f"[127.0.0.1]:{self.server.port} {self.host_public_key}\n"

    def url(self, repo: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.server.port}{repo}"

    def stop(self) -> None:
        self.server.stop()


def keygen(path: Path, comment: str) -> tuple[str, str]:
    """A fresh ed25519 key pair: (private key text, public key "type base64")."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
    )
    public = " ".join(path.with_suffix(".pub").read_text().split()[:2])
    return path.read_text(), public


def start_sshd(workdir: Path, logs: Path) -> SshServer:
    workdir.mkdir(parents=True, exist_ok=True)
    # sshd refuses to start without its privilege-separation directory (normally made by the
    # service unit, which never runs here).
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    _, host_public = keygen(workdir / "host_key", "tether-test-host")
    client_private, client_public = keygen(workdir / "client_key", "tether-test-client")
    (workdir / "authorized_keys").write_text(client_public + "\n")
    port = free_port()
    config = workdir / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {workdir / 'host_key'}\n"
        f"PidFile {workdir / 'sshd.pid'}\nAuthorizedKeysFile {workdir / 'authorized_keys'}\n"
        "UsePAM no\nPermitRootLogin prohibit-password\nStrictModes no\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        "AcceptEnv GIT_PROTOCOL\nLogLevel VERBOSE\n"
    )
    argv = [SSHD, "-D", "-e", "-f", str(config)]
    server = _spawn(argv, logs / f"sshd-{port}.log", port)
    return SshServer(server, client_private, host_public, getpass.getuser())


def sshd_available() -> bool:
    return Path(SSHD).exists() and shutil.which("ssh-keygen") is not None


# ---- a server that never answers ------------------------------------------------------------

_STALL = """
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
held = []
while True:
    held.append(s.accept()[0])  # accept, read nothing, answer nothing
"""


@contextlib.contextmanager
def stalling_server(logs: Path) -> Iterator[int]:
    """A port that accepts connections and then stays silent forever."""
    port = free_port()
    server = _spawn([sys.executable, "-c", _STALL, str(port)], logs / f"stall-{port}.log", port)
    try:
        yield port
    finally:
        server.stop()


# ---- building repositories ------------------------------------------------------------------


@dataclass(frozen=True)
class Symlink:
    target: str


@dataclass(frozen=True)
class Executable:
    content: str


FileSpec = str | bytes | Symlink | Executable


class WorkRepo:
    """A working repository whose pushes land in `<base>/<name>.git`, the served bare repo."""

    def __init__(self, base: Path, name: str, workdir: Path) -> None:
        self.bare = base / f"{name}.git"
        self.path = workdir / name
        self.env = git_env(workdir)
        self.bare.mkdir(parents=True)
        self.git("init", "-q", "--bare", "-b", "main", str(self.bare), cwd=base)
        self.path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        self.git("remote", "add", "origin", str(self.bare))

    def git(self, *args: str, cwd: Path | None = None) -> str:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd or self.path,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr}")
        return result.stdout.strip()

    def write(self, files: Mapping[str, FileSpec]) -> None:
        for rel, spec in files.items():
            path = self.path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink() or path.exists():
                path.unlink()
            if isinstance(spec, Symlink):
                os.symlink(spec.target, path)
            elif isinstance(spec, Executable):
                path.write_text(spec.content)
                path.chmod(0o755)
            elif isinstance(spec, bytes):
                path.write_bytes(spec)
            else:
                path.write_text(spec)

    def commit(self, message: str, files: Mapping[str, FileSpec] | None = None) -> str:
        self.write(files or {})
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, message: str = "") -> None:
        """A lightweight tag, or an annotated one when there is a message."""
        self.git("tag", *(["-a", "-m", message] if message else []), name)

    def push(self, *refs: str) -> None:
        """Push the given refs, or every branch and tag (deleting what is gone locally)."""
        if refs:
            self.git("push", "-q", "--force", "origin", *refs)
        else:
            self.git("push", "-q", "--force", "--mirror", "origin")


if __name__ == "__main__" and sys.argv[1:2] == ["http"]:
    _serve_http(int(sys.argv[2]), Path(sys.argv[3]))
