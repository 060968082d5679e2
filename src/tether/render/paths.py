"""The sandbox: every path a render touches is resolved inside its snapshot, or refused.

Application specs and repository files are written by tenants. A `..`, an absolute path or a
symlink pointing at `/etc` would let a render read the server's own disk; Argo CD shipped exactly
this bug for Helm value files (CVE-2022-24348) and for symlinks (CVE-2022-24730). So:

- `locate` resolves every path from a spec or a kustomization (source path, value files,
  kustomize references) and refuses absolute paths, `..` that climbs out of the repository,
  paths through a symlink the snapshot recorded as escaping (and did not materialize), and
  paths whose real location on disk is outside the root (direct, chained or directory
  symlinks).
- `scan` walks a directory a tool is about to read and refuses it if it holds an escaping
  symlink, recorded or real, because tools follow symlinks on their own (Helm's chart loader
  does; kustomize does for files).
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tether.model.revisions import Snapshot
from tether.render.errors import InvalidSource, NotFound, PathEscape

_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")


@dataclass(frozen=True)
class Located:
    """A path inside a snapshot: its real location on disk and its repository-relative name."""

    root: Path  # the snapshot root, symlinks resolved
    rel: str  # POSIX path of the real location relative to the root; "." is the root
    path: Path  # absolute and free of symlinks

    def is_dir(self) -> bool:
        return self.path.is_dir()

    def is_file(self) -> bool:
        return self.path.is_file()


def root_of(snapshot: Snapshot) -> Located:
    root = Path(os.path.realpath(snapshot.root))
    return Located(root, ".", root)


def locate(snapshot: Snapshot, path: str, *, base: str = ".", what: str = "path") -> Located:
    """Resolve `path` (relative to the repository directory `base`) inside the snapshot."""
    root = root_of(snapshot).path
    if "\0" in path:
        raise InvalidSource(f"{what} {path!r} contains a NUL byte")
    if path.startswith(("/", "\\")) or _WINDOWS_ABSOLUTE.match(path):
        raise PathEscape(path, f"{what} {path!r} is absolute; paths are relative to the repo")
    _check_lexically(snapshot, base, path, what)
    real = Path(os.path.realpath(root / base / path))
    if not _inside(real, root):
        link = _escaping_prefix(root, base, path)
        raise PathEscape(path, f"{what} {path!r} leaves the repository through the symlink {link}")
    return Located(root, _rel(real, root), real)


def require_dir(loc: Located, snapshot: Snapshot, what: str, path: str) -> Located:
    if not loc.is_dir():
        raise NotFound(f"{what} {path!r} is not a directory in {_where(snapshot)}")
    return loc


def require_file(loc: Located, snapshot: Snapshot, what: str, path: str) -> Located:
    if not loc.is_file():
        raise NotFound(f"{what} {path!r} does not exist in {_where(snapshot)}")
    return loc


def scan(snapshot: Snapshot, top: Located, *, recursive: bool, follow_links: bool) -> None:
    """Refuse `top` if it (or, when recursive, anything below it) holds an escaping symlink.

    With `follow_links`, in-repository directory symlinks are scanned too, because the tool
    about to run will follow them.
    """
    recorded = _recorded_by_parent(snapshot.escaping_links)
    pending, seen = [top.path], set[str]()
    while pending:
        directory = pending.pop()
        rel = _rel(directory, top.root)
        if rel in seen:  # symlink cycles inside the repository end here
            continue
        seen.add(rel)
        if rel in recorded:
            link = recorded[rel][0]
            raise PathEscape(link, f"{link} is a symlink that leaves the repository")
        pending.extend(_children(directory, top.root, recursive, follow_links))


def _children(directory: Path, root: Path, recursive: bool, follow_links: bool) -> list[Path]:
    found: list[Path] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_symlink():
                target = Path(os.path.realpath(entry.path))
                if not _inside(target, root):
                    link = posixpath.join(_rel(directory, root), entry.name)
                    raise PathEscape(link, f"{link} is a symlink that leaves the repository")
                if recursive and follow_links and target.is_dir():
                    found.append(target)
            elif recursive and entry.is_dir(follow_symlinks=False):
                found.append(Path(entry.path))
    return found


def _check_lexically(snapshot: Snapshot, base: str, path: str, what: str) -> None:
    """Refuse `..` above the root and paths through recorded escaping links, before any I/O."""
    escaping = _normalized(snapshot.escaping_links)
    parts: list[str] = []
    for part in f"{base}/{path}".split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise PathEscape(path, f"{what} {path!r} leaves the repository")
            parts.pop()
            continue
        parts.append(part)
        prefix = "/".join(parts)
        if prefix in escaping:
            raise PathEscape(
                path, f"{what} {path!r} goes through {prefix}, a symlink that leaves the repo"
            )


def _escaping_prefix(root: Path, base: str, path: str) -> str:
    """Name the first symlink on the way to `path` whose target is outside the root."""
    current = root / base
    for part in path.split("/"):
        current = current / part
        if current.is_symlink() and not _inside(Path(os.path.realpath(current)), root):
            return posixpath.normpath(posixpath.join(base, os.path.relpath(current, root / base)))
    return path


@lru_cache(maxsize=64)
def _normalized(links: frozenset[str]) -> frozenset[str]:
    return frozenset(posixpath.normpath(link) for link in links)


@lru_cache(maxsize=64)
def _recorded_by_parent(links: frozenset[str]) -> dict[str, list[str]]:
    by_parent: dict[str, list[str]] = {}
    for link in sorted(_normalized(links)):
        by_parent.setdefault(posixpath.dirname(link) or ".", []).append(link)
    return by_parent


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() or "."


def _where(snapshot: Snapshot) -> str:
    return f"{snapshot.repo_url} at {snapshot.revision.sha[:12]}"
