"""Settings of the Git boundary, with defaults that suit a controller; tests shorten the clock."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class SourceOptions:
    network_timeout: float = 60.0  # seconds for any one git call that talks to a server
    max_git_processes: int = 16  # git processes at once, across all repositories
    allow_local: bool = False  # local paths and file:// (tests, air-gapped mirrors); off in prod
    git: str = "git"  # the git binary (tests point it at a wrapper that counts calls)
