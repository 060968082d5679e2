"""Snapshots: the files of one repository at one commit, written once and shared by every reader.

Layout: `<cache>/snapshots/<repo key>/<sha>/` holding `tree/` (the files, `Snapshot.root`) and
`commit.json` (commit facts and escaping links, so a restart reuses the directory without
re-reading the tree). A snapshot is built in a hidden temp directory beside its final place and
renamed in with one atomic `rename`, so a directory under its real name is always complete, a
crash leaves only a `.tmp-*` to sweep, and two processes racing on one commit both end up with a
valid copy. Builds of one commit are coalesced; later calls are served from memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import uuid
from pathlib import Path

import pygit2

from tether.model.revisions import CommitInfo, ResolvedRevision, Snapshot
from tether.source import commits, errors, trees, urls
from tether.source.coalescing import Coalescer
from tether.source.mirrors import Mirrors

_FORMAT = 1  # bump when the layout or commit.json changes: old directories are then rebuilt
_TREE = "tree"
_META = "commit.json"


class Snapshots:
    def __init__(self, root: Path, mirrors: Mirrors) -> None:
        self._dir = root / "snapshots"
        self._mirrors = mirrors
        self._memo: dict[tuple[str, str], Snapshot] = {}
        self.builds: Coalescer[tuple[str, str], Snapshot] = Coalescer()
        self.written = 0  # trees really written (not loaded or shared): for tests and metrics

    def path(self, repo_url: str, sha: str) -> Path:
        return self._dir / urls.cache_key(repo_url) / sha

    async def get(self, repo_url: str, revision: ResolvedRevision) -> Snapshot:
        key = (urls.cache_key(repo_url), revision.sha)
        found = self._memo.get(key)
        if found is None:
            found = await self.builds.run(key, lambda: self._load_or_build(repo_url, revision))
            self._memo[key] = found
        # One directory per commit, but each caller keeps the ref it asked for.
        return dataclasses.replace(found, repo_url=urls.redact(repo_url), revision=revision)

    async def _load_or_build(self, repo_url: str, revision: ResolvedRevision) -> Snapshot:
        final = self.path(repo_url, revision.sha)
        loaded = await asyncio.to_thread(_load, final, repo_url, revision)
        if loaded is not None:
            return loaded
        await self._mirrors.ensure_commit(repo_url, revision.sha)
        mirror = self._mirrors.path(repo_url)
        try:
            built = await asyncio.to_thread(_build, mirror, final, repo_url, revision)
        except (OSError, KeyError, pygit2.GitError) as exc:  # disk full, a damaged mirror
            cause = f"cannot write the snapshot of {revision.sha}: {type(exc).__name__}: {exc}"
            raise errors.SourceError(repo_url, cause) from exc
        self.written += 1
        return built


def _snapshot(
    final: Path, repo_url: str, revision: ResolvedRevision, meta: dict[str, object]
) -> Snapshot:
    commit = meta["commit"]
    links = meta["escaping_links"]
    assert isinstance(commit, dict)
    assert isinstance(links, list)
    return Snapshot(
        repo_url=urls.redact(repo_url),
        revision=revision,
        root=final / _TREE,
        commit=CommitInfo(**commit),
        escaping_links=frozenset(links),
    )


def _load(final: Path, repo_url: str, revision: ResolvedRevision) -> Snapshot | None:
    try:
        meta = json.loads((final / _META).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        return None
    return _snapshot(final, repo_url, revision, meta)


def _build(mirror: Path, final: Path, repo_url: str, revision: ResolvedRevision) -> Snapshot:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{revision.sha}-{uuid.uuid4().hex[:8]}"
    try:
        (tmp / _TREE).mkdir(parents=True)
        written = trees.write_tree(mirror, revision.sha, tmp / _TREE)
        meta: dict[str, object] = {
            "format": _FORMAT,
            "commit": dataclasses.asdict(commits.commit_info(mirror, revision.sha)),
            "escaping_links": sorted(written.escaping_links),
            "skipped_submodules": list(written.skipped_submodules),
        }
        (tmp / _META).write_text(json.dumps(meta, indent=1))
        _replace_stale(final)
        os.rename(tmp, final)
    except OSError:
        if not (final / _META).is_file():
            raise
        # Otherwise another process renamed its identical copy in first: use that one.
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    loaded = _load(final, repo_url, revision)
    assert loaded is not None, f"snapshot at {final} vanished after it was written"
    return loaded


def _replace_stale(final: Path) -> None:
    """A directory of an older format is moved aside (then deleted) so the rename can land."""
    if final.exists():
        aside = final.parent / f".stale-{uuid.uuid4().hex[:8]}"
        os.rename(final, aside)
        shutil.rmtree(aside, ignore_errors=True)
