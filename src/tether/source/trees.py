"""Writing one commit's tree to disk straight from the object database, with pygit2.

No worktree and no `git checkout`: a snapshot is written once per commit from the mirror's
objects (see `snapshots`), so there is no index, no lock and no checkout state shared between
Applications. Regular files keep their executable bit and are written read-only, since every
Application on that commit shares them. Symlinks are created only when `links` shows that they
resolve inside the tree; the others are reported. Submodules (gitlinks) are skipped: their
content lives in another repository that nothing here has credentials or a revision for.

Blocking work: run it in a thread.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2.enums import FileMode

from tether.source import links

log = logging.getLogger(__name__)

# Names git itself refuses to check out; a crafted tree could still carry them.
_FORBIDDEN_NAMES = frozenset({"", ".", "..", ".git"})


@dataclass(frozen=True)
class Entry:
    path: str  # repo-relative, "/"-separated
    mode: int
    oid: pygit2.Oid


@dataclass(frozen=True)
class Written:
    files: int
    escaping_links: frozenset[str]
    skipped_submodules: tuple[str, ...]


def walk(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = "") -> Iterator[Entry]:
    """Every entry below `tree`, parents before children."""
    for item in tree:
        name = item.name or ""
        if name.lower() in _FORBIDDEN_NAMES or "/" in name:
            log.warning("skipping tree entry with a forbidden name %r", prefix + name)
            continue
        entry = Entry(prefix + name, item.filemode, item.id)
        yield entry
        if item.filemode == FileMode.TREE:
            subtree = repo[item.id]
            assert isinstance(subtree, pygit2.Tree)
            yield from walk(repo, subtree, entry.path + "/")


def _blob(repo: pygit2.Repository, oid: pygit2.Oid) -> bytes:
    blob = repo[oid]
    assert isinstance(blob, pygit2.Blob)
    return blob.data


def _write_file(path: Path, data: bytes, executable: bool) -> None:
    mode = 0o555 if executable else 0o444
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)  # after writing: the umask must not decide, and 0444 blocks the write


def write_tree(mirror: Path, commit_sha: str, dest: Path) -> Written:
    """Write the tree of `commit_sha` into the empty directory `dest`."""
    repo = pygit2.Repository(str(mirror))
    commit = repo[commit_sha]
    assert isinstance(commit, pygit2.Commit)
    entries = list(walk(repo, commit.tree))
    targets = {e.path: os.fsdecode(_blob(repo, e.oid)) for e in entries if e.mode == FileMode.LINK}
    escaping = links.escaping(targets)
    files, submodules = 0, []
    for e in entries:
        path = dest / e.path
        if e.mode == FileMode.TREE:
            path.mkdir()
        elif e.mode == FileMode.LINK:
            if e.path not in escaping:
                os.symlink(targets[e.path], path)
        elif e.mode == FileMode.COMMIT:
            submodules.append(e.path)
        else:
            _write_file(path, _blob(repo, e.oid), e.mode == FileMode.BLOB_EXECUTABLE)
            files += 1
    if submodules:
        log.info("skipped submodules (not fetched): %s", ", ".join(submodules))
    return Written(files, escaping, tuple(submodules))
