"""Render test fixtures: copies of testdata/render repositories, materialized as snapshots.

Each test gets its own copy in tmp_path (so it may add symlinks), made read-only like a real
snapshot, so any attempt by a render to write into the repository fails loudly.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tether import render
from tether.model.revisions import CommitInfo, ResolvedRevision, Snapshot

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "render"
CONTEXT = render.RenderContext("web", "prod", kube_version="v1.36.3")


def snapshot_of(
    root: Path,
    *,
    url: str = "https://git.example.com/apps.git",
    sha: str = "1" * 40,
    escaping: frozenset[str] = frozenset(),
) -> Snapshot:
    commit = CommitInfo(sha, "Dev <dev@example.com>", "test fixture", "2026-01-01T00:00:00Z")
    return Snapshot(url, ResolvedRevision("main", sha), root, commit, escaping)


def freeze(root: Path) -> None:
    """Make a copied repository read-only, as snapshots are."""
    for directory, _, files in os.walk(root):
        for name in files:
            path = Path(directory, name)
            if not path.is_symlink():
                path.chmod(0o444)
        Path(directory).chmod(0o555)


def thaw(root: Path) -> None:
    for directory, _, _ in os.walk(root):
        Path(directory).chmod(0o755)


def digest(root: Path) -> str:
    """A fingerprint of every path and file content under root (symlinks by target)."""
    h = hashlib.sha256()
    for directory, dirs, files in sorted(os.walk(root)):
        for name in sorted(dirs + files):
            path = Path(directory, name)
            h.update(str(path.relative_to(root)).encode())
            if path.is_symlink():
                h.update(os.readlink(path).encode())
            elif path.is_file():
                h.update(path.read_bytes())
    return h.hexdigest()


class Repos:
    """Copies testdata cases into one test's tmp_path."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.frozen: list[Path] = []

    def copy(self, case: str, name: str | None = None) -> Path:
        target = self.base / (name or case)
        shutil.copytree(TESTDATA / case, target, symlinks=True)
        return target

    def snapshot(
        self,
        root: Path,
        *,
        url: str = "https://git.example.com/apps.git",
        sha: str = "1" * 40,
        escaping: frozenset[str] = frozenset(),
    ) -> Snapshot:
        freeze(root)
        self.frozen.append(root)
        return snapshot_of(root, url=url, sha=sha, escaping=escaping)


@pytest.fixture
def repos(tmp_path: Path) -> Iterator[Repos]:
    made = Repos(tmp_path)
    yield made
    for root in made.frozen:  # let pytest delete the copies later
        thaw(root)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    render.clear_cache()
    yield
    render.clear_cache()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside every snapshot, holding what an escape would leak."""
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: stolen}\nstringData: {token: hunter2}\n"
    )
    return secret
