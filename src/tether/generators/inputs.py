"""What generators read, passed in by the caller as data: clusters, file trees, pull requests.

The package never lists a Secret, clones a repository or calls a forge. The controller does,
and hands the results over: cluster records as the registry knows them, a file tree per
(repository, revision) a Git generator names, the open pull requests per forge repository a
pullRequest generator names. `needs(spec)` lists what a set asks for before generation; a
generator whose repository URL or revision is itself templated (a matrix child) can only be
known during generation, and then MissingInput names it, so the caller fetches and calls again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class Cluster:
    """A destination cluster as its registration describes it.

    `local` marks the cluster tether runs in when no Secret registers it: it has no labels or
    annotations, so (as in Argo CD) a clusters generator with a non-empty selector never picks
    it. A local cluster that is registered by a Secret is an ordinary record.
    """

    name: str
    server: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    local: bool = False


class FileTree(Protocol):
    """The files of one repository at one revision."""

    def files(self) -> Sequence[str]:
        """Every regular file, as a repository-relative POSIX path (`apps/web/app.yaml`)."""
        ...

    def read(self, path: str) -> bytes:
        """The bytes of one of `files()`."""
        ...


@dataclass(frozen=True)
class MemoryTree:
    """A FileTree held in memory (tests, benchmarks, small trees the caller already read)."""

    contents: Mapping[str, bytes]

    def files(self) -> Sequence[str]:
        return tuple(self.contents)

    def read(self, path: str) -> bytes:
        return self.contents[path]


@dataclass(frozen=True, order=True)
class GitRef:
    """A repository at a revision, exactly as a Git generator spells them."""

    repo_url: str
    revision: str

    def __str__(self) -> str:
        return f"{self.repo_url}@{self.revision or 'HEAD'}"


@dataclass(frozen=True, order=True)
class ForgeRepo:
    """A repository on a forge, as a pullRequest generator names it."""

    provider: str  # "gitea" or "github"
    api: str  # the forge's base URL as written ("" for github.com)
    owner: str
    repo: str

    def __str__(self) -> str:
        return f"{self.provider} {self.owner}/{self.repo}" + (f" at {self.api}" if self.api else "")


@dataclass(frozen=True, kw_only=True)
class PullRequest:
    """An open pull request as the forge reports it."""

    number: int
    branch: str  # the head branch
    target_branch: str
    head_sha: str
    title: str = ""
    author: str = ""
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Inputs:
    """Everything the generators of one set may read."""

    clusters: tuple[Cluster, ...] = ()
    repositories: Mapping[GitRef, FileTree] = field(default_factory=dict)
    pull_requests: Mapping[ForgeRepo, tuple[PullRequest, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Needs:
    """The inputs a set's generators name without templating."""

    repositories: frozenset[GitRef] = frozenset()
    forges: frozenset[ForgeRepo] = frozenset()
    clusters: bool = False  # whether any clusters generator runs
