"""A Git revision as resolved for one sync: the ref the user asked for and the commit it meant."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SHA_RE = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class ResolvedRevision:
    ref: str  # what the spec asked for: branch, tag, semver range, HEAD or a SHA
    sha: str  # the 40-hex commit it resolved to

    def __str__(self) -> str:
        return f"{self.ref}@sha1:{self.sha}"

    @classmethod
    def parse(cls, text: str) -> ResolvedRevision:
        ref, sep, sha = text.rpartition("@sha1:")
        if not sep or not SHA_RE.match(sha):
            raise ValueError(f"not a resolved revision: {text!r}")
        return cls(ref, sha)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str  # "Name <email>"
    message: str
    timestamp: str  # RFC 3339


@dataclass(frozen=True)
class Snapshot:
    """The files of one repository at one commit, materialized read-only on local disk.

    `escaping_links` lists symlinks (paths relative to the root) whose target lies outside the
    repository; they are not materialized, and any render that touches them is refused.
    """

    repo_url: str
    revision: ResolvedRevision
    root: Path
    commit: CommitInfo
    escaping_links: frozenset[str] = frozenset()
