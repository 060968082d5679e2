"""Repository credentials: what they hold, how a URL finds its own, and how they stay secret.

Two kinds of entries, as in Argo CD: a *repository* entry names one repository by its exact URL;
a *template* (`repo-creds`) names a URL prefix such as `https://git.example.com/team/` and serves
every repository below it. An exact entry wins; among templates the longest prefix wins, so a
team-wide token can be overridden for one project without touching the organisation-wide one.

Secrets never leave this boundary in text: `RepoCredentials` hides them from `repr`, and `scrub`
removes them (and any URL userinfo) from git's output before it becomes an error message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

from tether.source import urls

# Usernames that are protocol conventions, not secrets; masking them would garble every message
# ("git-upload-pack" -> "***-upload-pack") without hiding anything.
_PUBLIC_USERNAMES = frozenset({"git", "x-access-token", "oauth2", "x-token-auth"})


@dataclass(frozen=True)
class RepoCredentials:
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)  # a password or an access token
    ssh_private_key: str = field(default="", repr=False)
    known_hosts: str = ""  # pinned host keys in known_hosts format; public, so shown

    @property
    def has_basic_auth(self) -> bool:
        return bool(self.password)

    def secrets(self) -> tuple[str, ...]:
        """Every string that must never appear in output, in the spellings git may print."""
        raw = [self.password, self.ssh_private_key]
        if self.username not in _PUBLIC_USERNAMES:
            raw.append(self.username)
        spelled = {s for r in raw if r for s in (r, quote(r, safe=""))}
        return tuple(sorted(spelled, key=len, reverse=True))  # longest first: no partial leaks

    def scrub(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, "***")
        return urls.scrub_userinfo(text)  # after: a secret may contain what ends the userinfo


NO_CREDENTIALS = RepoCredentials()


class CredentialStore(Protocol):
    """Where credentials for a repository URL come from (Kubernetes Secrets, a static table)."""

    async def lookup(self, repo_url: str) -> RepoCredentials | None: ...


@dataclass(frozen=True)
class CredentialTable:
    """Exact repository entries and prefix templates, keyed by the URL the entry was given for."""

    repositories: Mapping[str, RepoCredentials] = field(default_factory=dict)
    templates: Mapping[str, RepoCredentials] = field(default_factory=dict)

    def match(self, repo_url: str) -> RepoCredentials | None:
        for url, creds in self.repositories.items():
            if urls.same_repository(url, repo_url):
                return creds
        prefixes = [p for p in self.templates if p and repo_url.startswith(p)]
        return self.templates[max(prefixes, key=len)] if prefixes else None


@dataclass(frozen=True)
class StaticCredentialStore:
    """A fixed table, for tests and for the CLI (credentials from flags or a local file)."""

    table: CredentialTable = CredentialTable()

    async def lookup(self, repo_url: str) -> RepoCredentials | None:
        return self.table.match(repo_url)
