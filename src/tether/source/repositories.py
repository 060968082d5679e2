"""The Git boundary as the reconcile pipeline sees it: resolve a revision, get a snapshot of it.

    repos = Repositories(cache_dir, credentials=KubeCredentialStore(kube, "tether"))
    snap = await repos.snapshot(source.repo_url, source.target_revision)
    # snap.root is a read-only directory of the commit's files; str(snap.revision) is
    # "main@sha1:<40 hex>"; snap.escaping_links lists symlinks that were not materialized.

`resolve` asks the remote (`git ls-remote`, cheap) which commit the revision means and fetches
only when that commit is not already in the mirror; `snapshot` with a `ResolvedRevision`
skips the remote entirely, so a controller that polls with `ls_remote` and re-renders with the
SHA it saw never talks to the server twice. Every call names its repository in its errors
(`errors.SourceError`), never its credentials.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pygit2

from tether.model.revisions import SHA_RE, CommitInfo, ResolvedRevision, Snapshot
from tether.source import commits, errors, refs
from tether.source.credentials import CredentialStore
from tether.source.mirrors import Mirrors
from tether.source.options import SourceOptions
from tether.source.snapshots import Snapshots


class Repositories:
    def __init__(
        self,
        cache_dir: Path,
        credentials: CredentialStore | None = None,
        options: SourceOptions = SourceOptions(),
    ) -> None:
        self.mirrors = Mirrors(cache_dir, credentials, options)
        self.snapshots = Snapshots(cache_dir, self.mirrors)
        self._opened: dict[str, pygit2.Repository] = {}

    async def ls_remote(self, repo_url: str) -> dict[str, str]:
        """{ref: commit} the remote advertises now, annotated tags peeled; for cheap polling."""
        return await self.mirrors.ls_remote(repo_url)

    async def fetch(self, repo_url: str) -> None:
        """Update the mirror's branches and tags (concurrent calls share one git process)."""
        await self.mirrors.fetch(repo_url)

    async def resolve(
        self, repo_url: str, revision: str, *, advertised: Mapping[str, str] | None = None
    ) -> ResolvedRevision:
        """The commit `revision` (branch, tag, HEAD, SHA, semver range) names, now in the mirror.

        `advertised` is an `ls_remote` answer the caller already has (a poller's): it is used
        instead of asking the remote again."""
        rev = revision.strip() or refs.HEAD
        if SHA_RE.match(rev.lower()):
            sha = rev.lower()  # no remote round trip: a SHA means itself
        else:
            if advertised is None:
                advertised = await self.mirrors.ls_remote(repo_url)
            found = refs.resolve(rev, advertised)
            if found is None:
                raise errors.RevisionNotFound(repo_url, refs.explain_miss(rev, advertised))
            sha = found
        await self.mirrors.ensure_commit(repo_url, sha)
        return ResolvedRevision(ref=rev, sha=sha)

    async def snapshot(self, repo_url: str, revision: str | ResolvedRevision) -> Snapshot:
        """The files at `revision`, materialized once per commit and shared afterwards."""
        if isinstance(revision, str):
            revision = await self.resolve(repo_url, revision)
        return await self.snapshots.get(repo_url, revision)

    async def commit_info(self, repo_url: str, sha: str) -> CommitInfo:
        await self.mirrors.ensure_commit(repo_url, sha)
        return await asyncio.to_thread(commits.commit_info, self.mirrors.path(repo_url), sha)

    def path_ids(self, repo_url: str, sha: str, paths: tuple[str, ...]) -> tuple[str, ...] | None:
        """Content ids of `paths` at commit `sha` (blocking but cheap: object lookups in a mirror
        opened once), or None when the commit is not in the mirror yet."""
        repo = self._opened.get(repo_url)
        if repo is None:
            if not self.mirrors.path(repo_url).exists():
                return None
            repo = self._opened[repo_url] = pygit2.Repository(str(self.mirrors.path(repo_url)))
        try:
            return tuple(commits.tree_id(repo, sha, p) for p in paths)
        except (KeyError, ValueError):
            return None

    async def changed_paths(self, repo_url: str, old_sha: str, new_sha: str) -> set[str]:
        """Repo-relative paths that differ between two commits (renames: both paths)."""
        for sha in (old_sha, new_sha):
            await self.mirrors.ensure_commit(repo_url, sha)
        mirror = self.mirrors.path(repo_url)
        return await asyncio.to_thread(commits.changed_paths, mirror, old_sha, new_sha)
