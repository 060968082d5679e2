"""One bare mirror per repository URL, kept up to date by incremental `git fetch`.

Every Application on a repository reads from the same mirror, so a push costs one fetch of the
new objects, not one clone per Application. The directory is named by a hash of the normalized
URL (`urls.cache_key`). Fetches of one repository are coalesced (`coalescing`) and serialized by
a per-mirror lock (git takes ref locks and two writers would fail each other); a global
semaphore bounds how many git processes run at once. Reads (`has_commit`, and `commits`,
`snapshots`) open the mirror with pygit2 and never block a fetch.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pygit2

from tether.source import auth, errors, gitcli, refs, urls
from tether.source.coalescing import Coalescer
from tether.source.credentials import CredentialStore, RepoCredentials
from tether.source.options import SourceOptions

_FETCH_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
_PINNED = "refs/tether/commits/"  # commits fetched by SHA: a ref keeps gc from dropping them
_FETCH_FLAGS = ("--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", "--quiet")


class Mirrors:
    def __init__(
        self, root: Path, credentials: CredentialStore | None, options: SourceOptions
    ) -> None:
        self._dir = root / "mirrors"
        self._home = root / "home"  # git's HOME: empty, so no user config or credentials
        self._scratch = root / "tmp"  # per-call secret files (askpass, keys)
        self._store = credentials
        self._options = options
        self._slots = asyncio.Semaphore(options.max_git_processes)
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches: Coalescer[tuple[str, str], None] = Coalescer()
        self.listings: Coalescer[str, dict[str, str]] = Coalescer()
        self._known_commits: set[tuple[str, str]] = set()

    def path(self, repo_url: str) -> Path:
        return self._dir / f"{urls.cache_key(repo_url)}.git"

    # ---- network ----------------------------------------------------------------------------

    async def ls_remote(self, repo_url: str) -> dict[str, str]:
        """{ref: commit} as the remote advertises them now (annotated tags peeled)."""
        return await self.listings.run(urls.cache_key(repo_url), lambda: self._ls_remote(repo_url))

    async def fetch(self, repo_url: str) -> None:
        """Bring all branches and tags up to date (pruning deleted ones); incremental."""
        key = (urls.cache_key(repo_url), "")
        await self.fetches.run(key, lambda: self._fetch(repo_url, _FETCH_REFSPECS))

    async def fetch_commit(self, repo_url: str, sha: str) -> None:
        """Fetch one commit by SHA (one no branch or tag reaches, such as a pull request's)."""
        key = (urls.cache_key(repo_url), sha)
        await self.fetches.run(key, lambda: self._fetch(repo_url, (f"+{sha}:{_PINNED}{sha}",)))

    async def ensure_commit(self, repo_url: str, sha: str) -> None:
        """Make `sha` available locally: fetch only if it is missing, by SHA as a last resort."""
        if self.has_commit(repo_url, sha):
            return
        await self.fetch(repo_url)
        if not self.has_commit(repo_url, sha):
            try:
                await self.fetch_commit(repo_url, sha)
            except (errors.RevisionNotFound, errors.GitFailed) as exc:
                raise _no_commit(repo_url, sha, exc.cause) from exc
        if not self.has_commit(repo_url, sha):
            raise _no_commit(repo_url, sha, "the fetch did not bring it")

    async def _ls_remote(self, repo_url: str) -> dict[str, str]:
        async with self._git(repo_url) as (call, git_dir, remote):
            out = await gitcli.run(
                call, git_dir, ["ls-remote", "--end-of-options", remote], what="git ls-remote"
            )
        return refs.parse_ls_remote(out.decode(errors="replace"))

    async def _fetch(self, repo_url: str, refspecs: tuple[str, ...]) -> None:
        lock = self._locks.setdefault(urls.cache_key(repo_url), asyncio.Lock())
        async with lock, self._git(repo_url) as (call, git_dir, remote):
            args = ["fetch", "--prune", *_FETCH_FLAGS, "--end-of-options", remote, *refspecs]
            await gitcli.run(call, git_dir, args, what="git fetch")

    @asynccontextmanager
    async def _git(self, repo_url: str) -> AsyncIterator[tuple[gitcli.GitCall, Path, str]]:
        """A ready git call for the repository: its mirror, credentials and a process slot."""
        self._check(repo_url)
        remote, creds = await self._credentials(repo_url)
        git_dir = await self._ensure(repo_url)
        timeout = self._options.network_timeout
        with auth.git_env(self._home, self._scratch, creds, timeout) as env:
            call = gitcli.GitCall(
                git=self._options.git,
                repo_url=repo_url,
                env=env,
                creds=creds,
                timeout=timeout,
                allow_file=self._options.allow_local,
            )
            async with self._slots:
                yield call, git_dir, remote

    async def _credentials(self, repo_url: str) -> tuple[str, RepoCredentials]:
        """The URL git is given (never with userinfo) and the credentials for it: a stored entry
        wins over userinfo written into the URL, which is moved into askpass instead."""
        remote, user, password = urls.split_userinfo(repo_url)
        stored = await self._store.lookup(remote) if self._store is not None else None
        return remote, stored or RepoCredentials(username=user, password=password)

    def _check(self, repo_url: str) -> None:
        kind = urls.transport(repo_url)
        if not repo_url.strip() or repo_url.lstrip().startswith("-"):
            raise errors.UnsupportedRepo(repo_url, "not a repository URL")
        if kind == urls.Transport.OTHER:
            raise errors.UnsupportedRepo(repo_url, "unsupported transport (use https, ssh or git)")
        if kind == urls.Transport.FILE and not self._options.allow_local:
            raise errors.UnsupportedRepo(repo_url, "local repositories are not allowed")

    # ---- local ------------------------------------------------------------------------------

    async def _ensure(self, repo_url: str) -> Path:
        path = self.path(repo_url)
        if not path.exists():
            await asyncio.to_thread(_init_bare, path, urls.redact(repo_url))
        return path

    def has_commit(self, repo_url: str, sha: str) -> bool:
        # A commit never leaves a mirror once fetched: remember it rather than open the
        # repository again for every app that resolves the same revision.
        if (repo_url, sha) in self._known_commits:
            return True
        path = self.path(repo_url)
        if not path.exists():
            return False
        obj = pygit2.Repository(str(path)).get(sha)
        found = obj is not None and obj.type == pygit2.enums.ObjectType.COMMIT
        if found:
            self._known_commits.add((repo_url, sha))
        return found


def _no_commit(repo_url: str, sha: str, why: str) -> errors.RevisionNotFound:
    return errors.RevisionNotFound(
        repo_url, f"commit {sha} is not on any branch or tag, nor fetchable by SHA ({why})"
    )


def _init_bare(path: Path, shown_url: str) -> None:
    """Create the mirror beside its final place and rename it in, so a crash mid-way never
    leaves a half-initialized mirror under the real name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".init-{uuid.uuid4().hex}"
    pygit2.init_repository(str(tmp), bare=True)
    (tmp / "tether-url").write_text(shown_url + "\n")  # for humans browsing the cache
    try:
        os.rename(tmp, path)
    except OSError:  # another process won the race; its mirror is as good as ours
        shutil.rmtree(tmp, ignore_errors=True)
