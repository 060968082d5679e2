"""Errors of the Git boundary: one family, each naming the repository and the cause.

Callers branch on the type: `RepoUnreachable` (network, server, timeout: retry later),
`AuthenticationFailed` (fix the credentials), `RevisionNotFound` (fix the spec). The repository
is always shown through `urls.redact`, and every message built from git's output has already
been scrubbed of credentials (see `credentials.RepoCredentials.scrub`), so an error can be put
into a status condition or a log line as it is.
"""

from __future__ import annotations

from tether.source import urls


class SourceError(Exception):
    """Something about a repository failed; `repo` is safe to show, `cause` says what."""

    def __init__(self, repo_url: str, cause: str) -> None:
        self.repo = urls.redact(repo_url)
        self.cause = cause
        super().__init__(f"{self.repo}: {cause}")


class RepoUnreachable(SourceError):
    """The server could not be reached, did not answer, or has no such repository."""


class GitTimeout(RepoUnreachable):
    """A git network call ran past its deadline; the process was killed."""


class AuthenticationFailed(SourceError):
    """The server refused the credentials, or there were none and it wanted some."""


class HostKeyRejected(AuthenticationFailed):
    """The SSH server's host key is not among the pinned known hosts."""


class RevisionNotFound(SourceError):
    """No branch, tag, ref, commit or semver match for the requested revision."""


class UnsupportedRepo(SourceError):
    """A URL tether refuses to hand to git (a disallowed transport, an option-like string)."""


class GitFailed(SourceError):
    """Git failed for a reason none of the other types describe (the cause quotes git)."""
