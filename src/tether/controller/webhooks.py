"""Git push webhooks: whether a delivery is genuine, what it pushed, and which Applications it
should refresh.

Polling every repository every few minutes is the fallback; a push webhook lets tether refresh the
Applications a push touched within seconds. The endpoint answers without a session, so the shared
secret is its only credential, and it is checked before a byte of the body is parsed:

- GitHub: `X-GitHub-Event` (`push`, `ping`), `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`.
- GitLab: `X-Gitlab-Event` (`Push Hook`, `Tag Push Hook`), `X-Gitlab-Token: <the secret itself>`.
- Gitea and Forgejo: `X-Gitea-Event` / `X-Forgejo-Event` (`push`), `X-Gitea-Signature` /
  `X-Forgejo-Signature: <hex HMAC-SHA256>`.

Which Applications a push affects follows Argo CD's webhook handler: a source whose repository is
the pushed one, whose targetRevision names the pushed ref, and, when the Application sets
`tether.dev/manifest-generate-paths`, whose paths the push changed. When the payload cannot tell
(a truncated commit list, a force push, a new ref) the answer is "refresh": a needless refresh
costs one `git ls-remote`, a missed one leaves a cluster stale until the next poll.

Pure: no I/O. The HTTP layer enforces MAX_BODY_BYTES while reading and answers a WebhookRejected
with its status and reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import urlsplit

from tether.model.app import AppSpec, Source
from tether.model.revisions import SHA_RE
from tether.source import semvers, urls

MAX_BODY_BYTES = 1024 * 1024
MANIFEST_GENERATE_PATHS = "tether.dev/manifest-generate-paths"
HEAD = "HEAD"

_HEADS = "refs/heads/"
_TAGS = "refs/tags/"
_HEX_DIGEST_RE = re.compile(r"[0-9a-fA-F]{64}")
# GitHub lists at most 2048 commits per push and 3000 files per commit without saying whether it
# cut anything, so reaching a cap means "unknown".
_GITHUB_MAX_COMMITS = 2048
_GITHUB_MAX_FILES = 3000
_NETWORK = frozenset({urls.Transport.HTTP, urls.Transport.SSH, urls.Transport.GIT})
# GitHub and GitLab also serve SSH on port 443 as `ssh.github.com` and `altssh.gitlab.com`.
_SSH_ALIAS_RE = re.compile(r"^(?:alt)?ssh\.")

K = TypeVar("K")


class Provider(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"  # and Forgejo, which keeps Gitea's headers and payloads


class WebhookRejected(Exception):
    """A refused delivery. `reason` is safe to return and log: it never holds a secret or the
    signature that was received."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{int(status)} {reason}")
        self.status = int(status)
        self.reason = reason


def _decoded(value: str) -> str:
    try:
        text = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""  # unset, so that provider's deliveries are refused rather than half-checked
    # `echo secret | base64` keeps the newline, and no provider's secret field can hold one.
    return text.strip()


@dataclass(frozen=True)
class WebhookSecrets:
    # repr=False: a logged WebhookSecrets would otherwise print every secret.
    github: str = field(default="", repr=False)
    gitlab: str = field(default="", repr=False)
    gitea: str = field(default="", repr=False)

    @classmethod
    def from_secret_data(cls, data: Mapping[str, str]) -> WebhookSecrets:
        """From a Kubernetes Secret's `data` (base64 values), keys `github`, `gitlab`, `gitea`."""
        return cls(
            github=_decoded(data.get("github", "")),
            gitlab=_decoded(data.get("gitlab", "")),
            gitea=_decoded(data.get("gitea", "")),
        )

    def for_provider(self, provider: Provider) -> str:
        by_provider = {
            Provider.GITHUB: self.github,
            Provider.GITLAB: self.gitlab,
            Provider.GITEA: self.gitea,
        }
        return by_provider[provider]


@dataclass(frozen=True)
class PushEvent:
    """One ref update, whichever provider reported it."""

    provider: Provider
    repo_urls: frozenset[str]  # repo_key() of every URL the payload gives for the repository
    ref: str  # "refs/heads/main", "refs/tags/v1.2.0"
    before: str  # all zeros when the push created the ref
    after: str  # all zeros when it deleted it
    changed_paths: frozenset[str] | None  # repo-relative; None when the payload cannot tell
    deleted: bool = False
    default_branch: str | None = None  # the repository's, when the payload names it

    @property
    def branch(self) -> str | None:
        return self.ref.removeprefix(_HEADS) if self.ref.startswith(_HEADS) else None

    @property
    def tag(self) -> str | None:
        return self.ref.removeprefix(_TAGS) if self.ref.startswith(_TAGS) else None


def repo_key(url: str) -> str:
    """The repository a URL names, as `host/path`, without scheme, user, port, `.git` or case.

    A provider gives one repository several URLs (web page, HTTPS and SSH clone) and an
    Application may use any of them; like Argo CD, tether compares them case-insensitively, as
    GitHub, GitLab and Gitea resolve owner and repository names."""
    normalized = urls.normalize(url)
    if urls.transport(normalized) not in _NETWORK:
        return normalized.removesuffix(".git").lower()
    try:
        parts = urlsplit(normalized)
    except ValueError:  # e.g. an unbalanced IPv6 bracket: it can only equal itself
        return normalized.lower()
    host = _SSH_ALIAS_RE.sub("", parts.hostname or "")
    return f"{host}/{parts.path.strip('/').removesuffix('.git')}".lower()


# --- receiving ----------------------------------------------------------------------------------

# Gitea and Forgejo also send X-GitHub-Event (and Gogs' headers) for compatibility, so their own
# headers are looked at first.
_EVENT_HEADERS = (
    (Provider.GITEA, "x-forgejo-event"),
    (Provider.GITEA, "x-gitea-event"),
    (Provider.GITLAB, "x-gitlab-event"),
    (Provider.GITHUB, "x-github-event"),
)
_PUSH, _PING = "push", "ping"
# Lower-cased: event names are compared case-insensitively, as Flux's Receiver does.
_EVENTS = {
    Provider.GITHUB: {"push": _PUSH, "ping": _PING},
    Provider.GITLAB: {"push hook": _PUSH, "tag push hook": _PUSH},
    Provider.GITEA: {"push": _PUSH},
}


def receive(headers: Mapping[str, str], body: bytes, secrets: WebhookSecrets) -> PushEvent | None:
    """Verify and parse one delivery: the push it reports, or None for a ping.

    Raises WebhookRejected: 413 for a body over MAX_BODY_BYTES; 401 when it cannot be verified
    (no secret configured for the provider, missing or wrong signature or token); 400 for no
    provider header, an unsupported event or a malformed payload."""
    if len(body) > MAX_BODY_BYTES:
        raise WebhookRejected(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"payload larger than {MAX_BODY_BYTES} bytes"
        )
    lowered = {name.lower(): value for name, value in headers.items()}
    provider, event = _sender(lowered)
    _verify(provider, lowered, body, secrets.for_provider(provider))
    kind = _EVENTS[provider].get(event.lower())
    if kind is None:
        raise WebhookRejected(
            HTTPStatus.BAD_REQUEST, f"unsupported {provider} event {event[:64]!r}"
        )
    if kind == _PING:
        return None
    return _push(provider, _json_object(body))


def _sender(headers: Mapping[str, str]) -> tuple[Provider, str]:
    for provider, name in _EVENT_HEADERS:
        if event := headers.get(name, "").strip():
            return provider, event
    raise WebhookRejected(
        HTTPStatus.BAD_REQUEST, "no X-GitHub-Event, X-Gitlab-Event or X-Gitea-Event header"
    )


def _verify(provider: Provider, headers: Mapping[str, str], body: bytes, secret: str) -> None:
    if not secret:
        # Argo CD accepts unsigned deliveries when no secret is set; tether refuses them, or anyone
        # who can reach the endpoint could make it fetch and reconcile at will.
        raise WebhookRejected(
            HTTPStatus.UNAUTHORIZED, f"no webhook secret configured for {provider}"
        )
    _VERIFIERS[provider](headers, body, secret)


def _verify_github(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    _check_hmac(headers, "X-Hub-Signature-256", "sha256=", body, secret)


def _verify_gitea(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    # Forgejo sends one tag under both names: when its own header is there it is the one checked,
    # so a bad one is never rescued by the other.
    forgejo = "x-forgejo-signature" in headers
    _check_hmac(
        headers, "X-Forgejo-Signature" if forgejo else "X-Gitea-Signature", "", body, secret
    )


def _verify_gitlab(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    token = headers.get("x-gitlab-token", "")
    if not token:
        raise WebhookRejected(HTTPStatus.UNAUTHORIZED, "missing X-Gitlab-Token header")
    if not hmac.compare_digest(_bytes(token), _bytes(secret)):
        raise WebhookRejected(HTTPStatus.UNAUTHORIZED, "X-Gitlab-Token does not match")


_VERIFIERS: dict[Provider, Callable[[Mapping[str, str], bytes, str], None]] = {
    Provider.GITHUB: _verify_github,
    Provider.GITLAB: _verify_gitlab,
    Provider.GITEA: _verify_gitea,
}


def _check_hmac(
    headers: Mapping[str, str], header: str, prefix: str, body: bytes, secret: str
) -> None:
    value = headers.get(header.lower(), "")
    if not value:
        raise WebhookRejected(HTTPStatus.UNAUTHORIZED, f"missing {header} header")
    digest = value.removeprefix(prefix)
    if not value.startswith(prefix) or not _HEX_DIGEST_RE.fullmatch(digest):
        raise WebhookRejected(HTTPStatus.UNAUTHORIZED, f"malformed {header} header")
    expected = hmac.new(_bytes(secret), body, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, bytes.fromhex(digest)):
        raise WebhookRejected(HTTPStatus.UNAUTHORIZED, f"{header} does not match the payload")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "replace")  # a header may carry anything; never raise on it


def _json_object(body: bytes) -> Mapping[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, absurd nesting
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, "payload is not valid JSON") from None
    if not isinstance(doc, dict):
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, "payload is not a JSON object")
    return doc


# --- parsing ------------------------------------------------------------------------------------

# Where each provider puts the repository's URLs (GitLab: `project`, plus a legacy `repository`).
_URL_FIELDS = {
    Provider.GITHUB: tuple(
        ("repository", f) for f in ("html_url", "clone_url", "ssh_url", "git_url", "url")
    ),
    Provider.GITLAB: (
        ("project", "web_url"),
        ("project", "git_http_url"),
        ("project", "git_ssh_url"),
        ("repository", "homepage"),
        ("repository", "git_http_url"),
        ("repository", "git_ssh_url"),
    ),
    Provider.GITEA: tuple(("repository", f) for f in ("html_url", "clone_url", "ssh_url")),
}
# How many commits were pushed, where the provider says so.
_TOTAL_COMMITS = {Provider.GITLAB: "total_commits_count", Provider.GITEA: "total_commits"}


def _push(provider: Provider, payload: Mapping[str, Any]) -> PushEvent:
    ref = _text(payload, "ref")
    if not ref.startswith("refs/"):
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, "push payload has no full ref")
    repo_urls = frozenset(
        repo_key(url)
        for obj, key in _URL_FIELDS[provider]
        if (url := _text(_obj(payload, obj), key))
    )
    if not repo_urls:
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, "push payload names no repository URL")
    before, after = _text(payload, "before").lower(), _text(payload, "after").lower()
    container = "project" if provider is Provider.GITLAB else "repository"
    return PushEvent(
        provider=provider,
        repo_urls=repo_urls,
        ref=ref,
        before=before,
        after=after,
        changed_paths=_changed_paths(provider, payload, before, after),
        deleted=payload.get("deleted") is True or _is_zero(after),
        default_branch=_text(_obj(payload, container), "default_branch") or None,
    )


def _changed_paths(
    provider: Provider, payload: Mapping[str, Any], before: str, after: str
) -> frozenset[str] | None:
    """Files touched by the pushed commits, or None when the commit list cannot tell.

    A created or deleted ref has no previous state to compare with, and a force push also drops
    commits whose files the list never mentions."""
    if not before or not after or _is_zero(before) or _is_zero(after):
        return None
    commits = payload.get("commits")
    if not isinstance(commits, list) or not commits or payload.get("forced") is True:
        return None
    if _truncated(provider, payload, commits):
        return None
    files = (_files(commit) for commit in commits)
    return frozenset(p.lstrip("/") for paths in files for p in paths if p.strip("/"))


def _truncated(provider: Provider, payload: Mapping[str, Any], commits: list[Any]) -> bool:
    if provider is Provider.GITHUB:
        return len(commits) >= _GITHUB_MAX_COMMITS or any(
            len(_files(c)) >= _GITHUB_MAX_FILES for c in commits
        )
    # GitLab lists at most 20 commits and Gitea `FeedMaxCommitNum` (5 by default); both send the
    # real count. Without it (Gitea before 1.18) a short list cannot be told from a cut one.
    total = payload.get(_TOTAL_COMMITS[provider])
    return not isinstance(total, int) or total > len(commits)


def _files(commit: Any) -> list[str]:
    if not isinstance(commit, dict):
        return []
    return [p for key in ("added", "modified", "removed") for p in _strings(commit, key)]


def _is_zero(sha: str) -> bool:
    return bool(sha) and not sha.strip("0")


def _obj(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def _text(doc: Mapping[str, Any], key: str) -> str:
    value = doc.get(key)
    return value if isinstance(value, str) else ""


def _strings(doc: Mapping[str, Any], key: str) -> list[str]:
    value = doc.get(key)
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


# --- matching -----------------------------------------------------------------------------------


def affected(
    push: PushEvent,
    apps: Iterable[tuple[K, AppSpec, Mapping[str, str]]],
    default_branch: str | None = None,
) -> list[K]:
    """The keys of the Applications `(key, spec, annotations)` the push should refresh, in order.

    `default_branch` is the repository's default branch as tether last saw it, for payloads that
    do not name it; the payload's own value is newer and wins."""
    head = push.default_branch or default_branch
    return [
        key
        for key, spec, annotations in apps
        if any(_source_affected(push, s, refresh_paths(annotations), head) for s in spec.sources)
    ]


def _source_affected(
    push: PushEvent, source: Source, entries: tuple[str, ...], head: str | None
) -> bool:
    return (
        repo_key(source.repo_url) in push.repo_urls
        and revision_matches(source.target_revision, push, head)
        and _paths_changed(push.changed_paths, entries, source.path)
    )


def revision_matches(target: str, push: PushEvent, default_branch: str | None = None) -> bool:
    """Whether a targetRevision may now resolve to something else because of this push.

    Like refs.resolve: HEAD is the default branch (any branch, when the default is unknown), a
    40-hex SHA never moves, a name matches the pushed branch or tag (Argo CD does not tell a
    branch from a tag of the same name either), and a tag push also matches a semver range the
    tag satisfies."""
    rev = target.strip()
    if SHA_RE.match(rev.lower()):
        return False
    if rev in ("", HEAD):
        return _moves_head(push, default_branch)
    if rev == push.ref or rev == push.branch:
        return True
    tag = push.tag
    return tag is not None and (rev == tag or _satisfies(tag, rev))


def _moves_head(push: PushEvent, default_branch: str | None) -> bool:
    # A default branch cannot be deleted, so a deleted branch is never what HEAD names.
    if push.branch is None or push.deleted:
        return False
    return default_branch is None or push.branch == default_branch


def _satisfies(tag: str, constraint: str) -> bool:
    version = semvers.parse_version(tag)
    if version is None:
        return False
    try:
        return semvers.parse_constraint(constraint).admits(version)
    except ValueError:  # a plain tag or branch name, not a range
        return False


def refresh_paths(annotations: Mapping[str, str]) -> tuple[str, ...]:
    """The entries of `tether.dev/manifest-generate-paths`, as written; () when unset."""
    raw = annotations.get(MANIFEST_GENERATE_PATHS, "")
    return tuple(entry.strip() for entry in raw.split(";") if entry.strip())


def generate_paths(annotations: Mapping[str, str], source_path: str) -> tuple[str, ...]:
    """The app's manifest-generate-paths as repo-relative paths (globs kept as written)."""
    return tuple(_resolve(entry, source_path) for entry in refresh_paths(annotations))


def _paths_changed(
    changed: frozenset[str] | None, entries: tuple[str, ...], source_path: str
) -> bool:
    if changed is None or not entries:
        return True
    patterns = [_resolve(entry, source_path) for entry in entries]
    return any(_under(path, pattern) for path in changed for pattern in patterns)


def _resolve(entry: str, source_path: str) -> str:
    """An entry as a repo-relative path: absolute ones from the root, others from the source's
    path. Rooted at `/` while normalizing, so `..` never climbs out of the repository."""
    return posixpath.normpath(posixpath.join("/", source_path, entry)).lstrip("/")


def _under(path: str, pattern: str) -> bool:
    """Whether `path` is `pattern` or lies below it; a pattern segment may be a glob (`*`, `?`,
    `[...]`) that matches within that one segment, as in Argo CD."""
    if not pattern:
        return True  # the repository root
    want, have = pattern.split("/"), path.split("/")
    if len(have) < len(want):
        return False
    return all(h == w or fnmatchcase(h, w) for h, w in zip(have[: len(want)], want, strict=True))
