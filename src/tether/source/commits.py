"""Facts about commits in a mirror: who made them and when, and which paths changed between two.

`changed_paths` is what webhook path filters need ("does this push touch apps/billing/?"): a
tree-to-tree diff in the object database, no checkout. A rename counts as both its old and its
new path, so a filter on either side sees it. Blocking work: run it in a thread.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pygit2

from tether.model.revisions import CommitInfo


def _commit(repo: pygit2.Repository, sha: str) -> pygit2.Commit:
    commit = repo[sha]
    assert isinstance(commit, pygit2.Commit)
    return commit


def rfc3339(seconds: int, offset_minutes: int) -> str:
    """A git timestamp in its author's own UTC offset, as RFC 3339."""
    zone = timezone(timedelta(minutes=offset_minutes))
    return datetime.fromtimestamp(seconds, zone).isoformat()


def commit_info(mirror: Path, sha: str) -> CommitInfo:
    commit = _commit(pygit2.Repository(str(mirror)), sha)
    author = commit.author
    return CommitInfo(
        sha=str(commit.id),
        author=f"{author.name} <{author.email}>",
        message=commit.message.rstrip("\n"),
        timestamp=rfc3339(author.time, author.offset),
    )


def changed_paths(mirror: Path, old_sha: str, new_sha: str) -> set[str]:
    repo = pygit2.Repository(str(mirror))
    diff = repo.diff(_commit(repo, old_sha), _commit(repo, new_sha))  # tree to tree
    paths: set[str] = set()
    for delta in diff.deltas:
        paths.update(p for p in (delta.old_file.path, delta.new_file.path) if p)
    return paths


def tree_id(repo: pygit2.Repository, sha: str, path: str) -> str:
    """The id of the tree (or blob) at `path` in commit `sha`; "" when the path does not exist.
    Equal ids mean identical content, which lets a controller skip work for unchanged paths."""
    tree = _commit(repo, sha).tree
    if path in ("", "."):
        return str(tree.id)
    try:
        return str(tree[path.strip("/")].id)
    except KeyError:
        return ""
