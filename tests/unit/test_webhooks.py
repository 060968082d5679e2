"""Git push webhooks: verification per provider, parsing of payloads shaped like real deliveries
(testdata/webhooks/<provider>-<case>.json), and which Applications a push refreshes."""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.controller import webhooks
from tether.controller.webhooks import (
    MANIFEST_GENERATE_PATHS,
    Provider,
    PushEvent,
    WebhookRejected,
    WebhookSecrets,
)
from tether.model.app import AppSpec, Source

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "webhooks"
SECRETS = WebhookSecrets(
    github="gh-5f1e0c9a-hook", gitlab="gl-0a9c41d7-token", gitea="gt-77d2b3e0-hook"
)
ZERO = "0" * 40
GITHUB_REPO = "github.com/acme/platform-config"
GITLAB_REPO = "gitlab.example.com/platform/shop/deploy"
GITEA_REPO = "git.example.org/ops/cluster-config"


def body_of(name: str) -> bytes:
    return (TESTDATA / f"{name}.json").read_bytes()


def payload_of(name: str) -> dict[str, Any]:
    doc = json.loads(body_of(name))
    assert isinstance(doc, dict)
    return doc


def hex_hmac(secret: str, body: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(secret.encode(), body, algorithm).hexdigest()


def headers_for(
    provider: Provider, event: str, body: bytes, secrets: WebhookSecrets = SECRETS
) -> dict[str, str]:
    """The headers each provider sends (Gitea really does send GitHub's and Gogs' as well)."""
    delivery = "5c3f5a2e-8b0d-4c1e-9f3a-2d7e6b1c0a94"
    if provider is Provider.GITHUB:
        return {
            "Content-Type": "application/json",
            "X-GitHub-Delivery": delivery,
            "X-GitHub-Event": event,
            "X-GitHub-Hook-ID": "481551002",
            "X-Hub-Signature-256": "sha256=" + hex_hmac(secrets.github, body),
        }
    if provider is Provider.GITLAB:
        return {
            "Content-Type": "application/json",
            "X-Gitlab-Event": event,
            "X-Gitlab-Instance": "https://gitlab.example.com",
            "X-Gitlab-Token": secrets.gitlab,
            "X-Gitlab-Event-UUID": delivery,
        }
    signature = hex_hmac(secrets.gitea, body)
    return {
        "Content-Type": "application/json",
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": event,
        "X-Gitea-Delivery": delivery,
        "X-Gitea-Event": event,
        "X-Gitea-Signature": signature,
        "X-Gogs-Delivery": delivery,
        "X-Gogs-Event": event,
        "X-Gogs-Signature": signature,
        "X-Hub-Signature": "sha1=" + hex_hmac(secrets.gitea, body, "sha1"),
        "X-Hub-Signature-256": "sha256=" + signature,
    }


PROVIDER_EVENTS = {
    "github": (Provider.GITHUB, "push"),
    "gitlab": (Provider.GITLAB, "Push Hook"),
    "gitea": (Provider.GITEA, "push"),
}


def deliver(name: str, event: str | None = None) -> PushEvent | None:
    provider, default_event = PROVIDER_EVENTS[name.split("-")[0]]
    body = body_of(name)
    return webhooks.receive(headers_for(provider, event or default_event, body), body, SECRETS)


def rejected(
    headers: Mapping[str, str], body: bytes, secrets: WebhookSecrets = SECRETS
) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as caught:
        webhooks.receive(headers, body, secrets)
    return caught.value


def assert_no_leak(error: WebhookRejected, *values: str) -> None:
    for value in values:
        assert value
        for text in (str(error), error.reason, repr(error), repr(error.args)):
            assert value not in text


# --- parsing the fixtures -------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    repo: str
    ref: str
    changed: frozenset[str] | None
    deleted: bool = False
    default_branch: str | None = None
    event: str | None = None


PUSHES = {
    "github-push": Expect(
        GITHUB_REPO,
        "refs/heads/main",
        frozenset(
            {
                "apps/web/deployment.yaml",
                "apps/web/pdb.yaml",
                "apps/web/kustomization.yaml",
                "docs/rollout.md",
                "docs/old-rollout.md",
            }
        ),
        default_branch="main",
    ),
    "github-tag": Expect(GITHUB_REPO, "refs/tags/v1.4.0", None, default_branch="main"),
    "github-delete": Expect(
        GITHUB_REPO, "refs/heads/feature/old-ingress", None, deleted=True, default_branch="main"
    ),
    "github-push-many": Expect(GITHUB_REPO, "refs/heads/main", None, default_branch="main"),
    "gitlab-push": Expect(
        GITLAB_REPO,
        "refs/heads/production",
        frozenset(
            {
                "envs/prod/checkout/values.yaml",
                "envs/prod/cart/hpa.yaml",
                "envs/prod/cart/kustomization.yaml",
            }
        ),
        default_branch="production",
    ),
    "gitlab-tag": Expect(
        GITLAB_REPO, "refs/tags/v2.3.1", None, default_branch="production", event="Tag Push Hook"
    ),
    "gitlab-delete": Expect(
        GITLAB_REPO, "refs/heads/spike/canary", None, deleted=True, default_branch="production"
    ),
    "gitlab-push-many": Expect(
        GITLAB_REPO, "refs/heads/production", None, default_branch="production"
    ),
    "gitea-push": Expect(
        GITEA_REPO,
        "refs/heads/main",
        frozenset(
            {
                "clusters/edge/monitoring/servicemonitors.yaml",
                "clusters/edge/cert-manager/release.yaml",
                "clusters/edge/infra/cert-manager.yaml",
            }
        ),
        default_branch="main",
    ),
    "gitea-tag": Expect(GITEA_REPO, "refs/tags/v0.9.0", None, default_branch="main"),
    "gitea-delete": Expect(
        GITEA_REPO,
        "refs/heads/renovate/cert-manager-1.x",
        None,
        deleted=True,
        default_branch="main",
    ),
    "gitea-push-many": Expect(GITEA_REPO, "refs/heads/main", None, default_branch="main"),
}


def test_every_fixture_is_covered() -> None:
    names = {p.stem for p in TESTDATA.glob("*.json")}
    assert names == set(PUSHES) | {"github-ping", "gitlab-merge-request", "gitea-create"}


@pytest.mark.parametrize("name", sorted(PUSHES))
def test_push_fixture_parses(name: str) -> None:
    expect = PUSHES[name]
    push = deliver(name, expect.event)
    payload = payload_of(name)

    assert push is not None
    assert push.provider == PROVIDER_EVENTS[name.split("-")[0]][0]
    assert expect.repo in push.repo_urls
    assert push.ref == expect.ref
    assert (push.before, push.after) == (payload["before"], payload["after"])
    assert push.changed_paths == expect.changed
    assert push.deleted is expect.deleted
    assert push.default_branch == expect.default_branch


def test_every_url_in_the_payload_names_the_same_repository() -> None:
    for name, expect in PUSHES.items():
        push = deliver(name, expect.event)
        assert push is not None
        assert push.repo_urls == {expect.repo}, name


@pytest.mark.parametrize(
    ("name", "branch", "tag"),
    [
        ("github-push", "main", None),
        ("github-tag", None, "v1.4.0"),
        ("gitlab-delete", "spike/canary", None),
        ("gitea-tag", None, "v0.9.0"),
    ],
)
def test_branch_and_tag_come_from_the_ref(name: str, branch: str | None, tag: str | None) -> None:
    push = deliver(name, PUSHES[name].event)
    assert push is not None
    assert (push.branch, push.tag) == (branch, tag)


def test_deletions_have_a_zero_after() -> None:
    for name in ("github-delete", "gitlab-delete", "gitea-delete"):
        push = deliver(name)
        assert push is not None
        assert push.after == ZERO


def test_github_ping_is_accepted_and_refreshes_nothing() -> None:
    assert deliver("github-ping", "ping") is None


@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("gitlab-merge-request", "Merge Request Hook"),
        ("gitlab-push", "System Hook"),
        ("gitea-create", "create"),
        ("github-push", "issues"),
    ],
)
def test_unsupported_events_are_400(name: str, event: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        deliver(name, event)
    assert caught.value.status == 400
    assert "unsupported" in caught.value.reason


def test_gitlab_tag_push_hook_is_a_push() -> None:
    push = deliver("gitlab-tag", "Tag Push Hook")
    assert push is not None
    assert push.tag == "v2.3.1"


def test_a_github_force_push_has_unknown_changed_paths() -> None:
    doc = payload_of("github-push")
    doc["forced"] = True
    body = json.dumps(doc).encode()
    push = webhooks.receive(headers_for(Provider.GITHUB, "push", body), body, SECRETS)
    assert push is not None
    assert push.changed_paths is None


def test_gitea_without_a_commit_count_has_unknown_changed_paths() -> None:
    doc = payload_of("gitea-push")
    del doc["total_commits"]  # Gitea before 1.18 did not send it, and cut the list at 5
    body = json.dumps(doc).encode()
    push = webhooks.receive(headers_for(Provider.GITEA, "push", body), body, SECRETS)
    assert push is not None
    assert push.changed_paths is None


# --- verification ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["github-push", "gitlab-push", "gitea-push"])
def test_wrong_secret_is_401_and_leaks_neither_secret(name: str) -> None:
    provider, event = PROVIDER_EVENTS[name.split("-")[0]]
    body = body_of(name)
    sender = WebhookSecrets(github="not-it-1", gitlab="not-it-2", gitea="not-it-3")
    headers = headers_for(provider, event, body, sender)

    error = rejected(headers, body)

    assert error.status == 401
    assert_no_leak(error, SECRETS.for_provider(provider), sender.for_provider(provider))
    for name_, value in headers.items():
        if "signature" in name_.lower() or "token" in name_.lower():
            assert_no_leak(error, value.removeprefix("sha256=").removeprefix("sha1="))


@pytest.mark.parametrize("name", ["github-push", "gitea-push"])
def test_tampered_body_is_401(name: str) -> None:
    provider, event = PROVIDER_EVENTS[name.split("-")[0]]
    body = body_of(name)
    headers = headers_for(provider, event, body)
    tampered = body.replace(b"refs/heads/main", b"refs/heads/prod")

    error = rejected(headers, tampered)

    assert error.status == 401
    assert_no_leak(error, SECRETS.for_provider(provider))


@pytest.mark.parametrize(
    ("provider", "header"),
    [
        (Provider.GITHUB, "X-Hub-Signature-256"),
        (Provider.GITLAB, "X-Gitlab-Token"),
        (Provider.GITEA, "X-Gitea-Signature"),
    ],
)
def test_missing_signature_header_is_401(provider: Provider, header: str) -> None:
    body = body_of(f"{provider}-push")
    event = PROVIDER_EVENTS[provider][1]
    headers = headers_for(provider, event, body)
    del headers[header]

    error = rejected(headers, body)

    assert error.status == 401
    assert header in error.reason


@pytest.mark.parametrize(
    ("provider", "value"),
    [
        (Provider.GITHUB, "{digest}"),  # no prefix
        (Provider.GITHUB, "sha1={digest}"),
        (Provider.GITHUB, "SHA256={digest}"),
        (Provider.GITHUB, "sha256= {digest}"),
        (Provider.GITHUB, "sha256={digest}00"),
        (Provider.GITEA, "sha256={digest}"),  # Gitea's header is bare hex
        (Provider.GITEA, "{digest}\n"),
    ],
)
def test_malformed_signature_is_401(provider: Provider, value: str) -> None:
    body = body_of(f"{provider}-push")
    headers = headers_for(provider, "push", body)
    digest = hex_hmac(SECRETS.for_provider(provider), body)
    name = "X-Hub-Signature-256" if provider is Provider.GITHUB else "X-Gitea-Signature"
    headers[name] = value.format(digest=digest)

    error = rejected(headers, body)

    assert error.status == 401
    assert_no_leak(error, digest, SECRETS.for_provider(provider))


def test_upper_case_hex_digest_is_accepted() -> None:
    body = body_of("github-push")
    headers = headers_for(Provider.GITHUB, "push", body)
    headers["X-Hub-Signature-256"] = "sha256=" + hex_hmac(SECRETS.github, body).upper()
    assert webhooks.receive(headers, body, SECRETS) is not None


@pytest.mark.parametrize("provider", list(Provider))
def test_no_secret_configured_is_401(provider: Provider) -> None:
    body = body_of(f"{provider}-push")
    headers = headers_for(provider, PROVIDER_EVENTS[provider][1], body)
    others = {p.value: SECRETS.for_provider(p) for p in Provider if p is not provider}

    error = rejected(headers, body, WebhookSecrets(**others))

    assert error.status == 401
    assert "no webhook secret" in error.reason


def test_a_ping_needs_a_valid_signature_too() -> None:
    body = body_of("github-ping")
    headers = headers_for(Provider.GITHUB, "ping", body, WebhookSecrets(github="someone-else"))
    assert rejected(headers, body).status == 401


def test_no_provider_header_is_400() -> None:
    body = body_of("github-push")
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"}
    assert rejected(headers, body).status == 400


def test_header_names_are_case_insensitive() -> None:
    body = body_of("github-push")
    headers = {k.lower(): v for k, v in headers_for(Provider.GITHUB, "push", body).items()}
    assert webhooks.receive(headers, body, SECRETS) is not None


def test_gitea_is_told_from_github_by_its_own_headers() -> None:
    """Gitea also sends X-GitHub-Event and X-Hub-Signature-256, signed with its own secret."""
    body = body_of("gitea-push")
    headers = headers_for(Provider.GITEA, "push", body)
    push = webhooks.receive(headers, body, WebhookSecrets(gitea=SECRETS.gitea))
    assert push is not None
    assert push.provider is Provider.GITEA


def test_gitea_signature_is_not_rescued_by_a_github_style_one() -> None:
    body = body_of("gitea-push")
    headers = headers_for(Provider.GITEA, "push", body)
    headers["X-Gitea-Signature"] = hex_hmac("wrong", body)
    assert rejected(headers, body).status == 401


def test_forgejo_headers_are_accepted() -> None:
    body = body_of("gitea-push")
    signature = hex_hmac(SECRETS.gitea, body)
    headers = {"X-Forgejo-Event": "push", "X-Forgejo-Signature": signature}
    push = webhooks.receive(headers, body, SECRETS)
    assert push is not None
    assert push.provider is Provider.GITEA


def test_a_bad_forgejo_signature_is_not_rescued_by_a_good_gitea_one() -> None:
    body = body_of("gitea-push")
    headers = headers_for(Provider.GITEA, "push", body)
    headers |= {"X-Forgejo-Event": "push", "X-Forgejo-Signature": hex_hmac("wrong", body)}
    assert rejected(headers, body).status == 401


SIGNED_PROVIDERS = [Provider.GITHUB, Provider.GITEA]


@pytest.mark.parametrize("provider", SIGNED_PROVIDERS)
@given(data=st.data())
def test_any_single_byte_change_invalidates_the_signature(
    provider: Provider, data: st.DataObject
) -> None:
    body = body_of(f"{provider}-push")
    headers = headers_for(provider, "push", body)
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    edit = data.draw(st.sampled_from(["replace", "insert", "delete"]), label="edit")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != body[index]), label="byte")
    if edit == "replace":
        changed = body[:index] + bytes([byte]) + body[index + 1 :]
    elif edit == "insert":
        changed = body[:index] + bytes([byte]) + body[index:]
    else:
        changed = body[:index] + body[index + 1 :]

    assert rejected(headers, changed).status == 401


# --- limits and malformed payloads ----------------------------------------------------------


def test_body_over_the_limit_is_413_before_anything_else() -> None:
    body = b" " * (webhooks.MAX_BODY_BYTES + 1)
    error = rejected({}, body)
    assert error.status == 413


def test_body_at_the_limit_is_read() -> None:
    body = body_of("github-push")
    padded = body + b" " * (webhooks.MAX_BODY_BYTES - len(body))
    headers = headers_for(Provider.GITHUB, "push", padded)
    assert webhooks.receive(headers, padded, SECRETS) is not None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'["refs/heads/main"]', "not a JSON object"),
        (b'{"before": "' + ZERO.encode() + b'"}', "no full ref"),
        (b'{"ref": "main", "repository": {"html_url": "https://github.com/a/b"}}', "no full ref"),
        (b'{"ref": "refs/heads/main", "repository": {"html_url": 7}}', "no repository URL"),
    ],
)
def test_malformed_signed_payloads_are_400(body: bytes, reason: str) -> None:
    error = rejected(headers_for(Provider.GITHUB, "push", body), body)
    assert error.status == 400
    assert reason in error.reason


def test_odd_field_types_are_ignored_not_fatal() -> None:
    doc = payload_of("github-push")
    doc["commits"][0]["added"] = [None, 3, "apps/extra.yaml"]
    doc["commits"].append("not a commit")
    doc["repository"]["default_branch"] = None
    body = json.dumps(doc).encode()
    push = webhooks.receive(headers_for(Provider.GITHUB, "push", body), body, SECRETS)
    assert push is not None
    assert push.changed_paths is not None and "apps/extra.yaml" in push.changed_paths
    assert push.default_branch is None


# --- secrets --------------------------------------------------------------------------------


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_secrets_from_kubernetes_secret_data() -> None:
    data = {"github": b64("gh-secret\n"), "gitlab": b64("gl-token"), "gitea": "%%not base64%%"}
    secrets = WebhookSecrets.from_secret_data(data)
    assert secrets == WebhookSecrets(github="gh-secret", gitlab="gl-token", gitea="")


def test_secrets_do_not_show_in_repr() -> None:
    text = repr(SECRETS) + str(SECRETS)
    for provider in Provider:
        assert SECRETS.for_provider(provider) not in text


# --- repository URLs ------------------------------------------------------------------------

SAME_REPOSITORY = [
    "https://github.com/acme/platform-config",
    "https://github.com/acme/platform-config.git",
    "https://github.com/acme/platform-config/",
    "https://GitHub.com/Acme/Platform-Config.git",
    "https://x-access-token:t0ken@github.com/acme/platform-config.git",
    "http://github.com/acme/platform-config",
    "git@github.com:acme/platform-config.git",
    "git@github.com:acme/platform-config",
    "ssh://git@github.com/acme/platform-config",
    "ssh://git@github.com/acme/platform-config.git",
    "ssh://git@ssh.github.com:443/acme/platform-config.git",
    "git://github.com/acme/platform-config.git",
]
OTHER_REPOSITORIES = [
    "https://github.com/acme/platform-config-2",
    "https://github.com/acme/platform",
    "https://github.com/other/platform-config",
    "https://gitlab.com/acme/platform-config",
    "https://github.com/acme/platform-config/sub",
    "/srv/git/acme/platform-config",
]


@pytest.mark.parametrize("url", SAME_REPOSITORY)
def test_url_forms_name_one_repository(url: str) -> None:
    assert webhooks.repo_key(url) == GITHUB_REPO


@pytest.mark.parametrize("url", OTHER_REPOSITORIES)
def test_other_repositories_differ(url: str) -> None:
    assert webhooks.repo_key(url) != GITHUB_REPO


_NAME = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)


@given(host=_NAME, group=st.lists(_NAME, min_size=1, max_size=3), repo=_NAME)
def test_url_forms_agree_for_any_names(host: str, group: list[str], repo: str) -> None:
    path = "/".join([*group, repo])
    forms = [
        f"https://{host}.example/{path}",
        f"https://{host}.example/{path}.git",
        f"git@{host}.example:{path}.git",
        f"ssh://git@{host}.example/{path}",
        f"ssh://git@{host}.example:2222/{path}.git",
    ]
    assert len({webhooks.repo_key(form) for form in forms}) == 1


# --- which Applications a push refreshes ----------------------------------------------------

REPO = "https://github.com/acme/platform-config.git"


def push_to(
    ref: str = "refs/heads/main",
    changed: frozenset[str] | None = None,
    *,
    deleted: bool = False,
    default_branch: str | None = None,
) -> PushEvent:
    return PushEvent(
        provider=Provider.GITHUB,
        repo_urls=frozenset({GITHUB_REPO}),
        ref=ref,
        before="1" * 40,
        after=ZERO if deleted else "2" * 40,
        changed_paths=changed,
        deleted=deleted,
        default_branch=default_branch,
    )


def app(
    revision: str = "HEAD", path: str = ".", paths: str | None = None, url: str = REPO
) -> tuple[str, AppSpec, dict[str, str]]:
    annotations = {} if paths is None else {MANIFEST_GENERATE_PATHS: paths}
    return (
        "app",
        AppSpec(sources=(Source(url, path=path, target_revision=revision),)),
        annotations,
    )


def hits(push: PushEvent, entry: tuple[str, AppSpec, dict[str, str]], **kw: Any) -> bool:
    return webhooks.affected(push, [entry], **kw) == ["app"]


@pytest.mark.parametrize("url", SAME_REPOSITORY)
def test_any_url_form_of_the_pushed_repository_matches(url: str) -> None:
    assert hits(push_to(), app(url=url))


@pytest.mark.parametrize("url", OTHER_REPOSITORIES)
def test_other_repositories_are_not_affected(url: str) -> None:
    assert not hits(push_to(), app(url=url))


@pytest.mark.parametrize(
    ("revision", "ref", "default_branch", "expected"),
    [
        ("main", "refs/heads/main", None, True),
        ("main", "refs/heads/develop", None, False),
        ("refs/heads/main", "refs/heads/main", None, True),
        ("feature/x", "refs/heads/feature/x", None, True),
        # HEAD is the default branch when the payload says which one it is ...
        ("HEAD", "refs/heads/main", "main", True),
        ("HEAD", "refs/heads/feature/x", "main", False),
        ("", "refs/heads/main", "main", True),
        # ... and any branch when it does not
        ("HEAD", "refs/heads/feature/x", None, True),
        ("HEAD", "refs/tags/v1.0.0", None, False),
        # tags: by name, or a semver range the tag satisfies
        ("v1.4.0", "refs/tags/v1.4.0", None, True),
        ("refs/tags/v1.4.0", "refs/tags/v1.4.0", None, True),
        ("v1.3.0", "refs/tags/v1.4.0", None, False),
        ("1.4.0", "refs/tags/v1.4.0", None, True),
        (">=1.2.0 <2.0.0", "refs/tags/v1.4.0", None, True),
        ("^1.2", "refs/tags/v1.4.0", None, True),
        ("1.x", "refs/tags/v2.0.0", None, False),
        ("~1.4.0", "refs/tags/v1.4.1-rc.1", None, False),
        (">=1.4.1-rc.0 <1.5.0", "refs/tags/v1.4.1-rc.1", None, True),
        (">=1.0.0", "refs/tags/latest", None, False),
        (">=1.0.0", "refs/heads/1.5.0", None, False),
        ("main", "refs/tags/v1.4.0", None, False),
        # a pinned commit never moves
        ("a" * 40, "refs/heads/main", None, False),
        ("A" * 40, "refs/heads/main", None, False),
    ],
)
def test_target_revision_matching(
    revision: str, ref: str, default_branch: str | None, expected: bool
) -> None:
    assert hits(push_to(ref, default_branch=default_branch), app(revision)) is expected


def test_a_sha_that_is_also_a_branch_name_still_never_matches() -> None:
    sha = "b" * 40
    assert not hits(push_to(f"refs/heads/{sha}"), app(sha))


def test_default_branch_argument_is_used_when_the_payload_has_none() -> None:
    feature = push_to("refs/heads/feature/x")
    assert not hits(feature, app("HEAD"), default_branch="main")
    assert hits(push_to("refs/heads/main"), app("HEAD"), default_branch="main")


def test_the_payload_default_branch_wins_over_the_argument() -> None:
    push = push_to("refs/heads/trunk", default_branch="trunk")
    assert hits(push, app("HEAD"), default_branch="main")


def test_a_deleted_branch_refreshes_apps_on_it_but_not_head() -> None:
    gone = push_to("refs/heads/feature/x", deleted=True)
    assert hits(gone, app("feature/x", paths="apps/web"))
    assert not hits(gone, app("HEAD"))


def test_a_deleted_tag_refreshes_ranges_it_satisfied() -> None:
    assert hits(push_to("refs/tags/v1.4.0", deleted=True), app("^1.0.0"))


CHANGED = frozenset({"apps/web/deployment.yaml", "docs/rollout.md"})


@pytest.mark.parametrize(
    ("source_path", "paths", "expected"),
    [
        ("apps/web", ".", True),
        ("apps/api", ".", False),
        ("apps", "web", True),
        ("apps", "./web/", True),
        ("apps/api", "../web", True),
        ("apps/api", "../../../../apps/web", True),  # clamped at the repository root
        ("apps/api", "/apps/web", True),
        ("apps/api", "/apps/web/deployment.yaml", True),
        ("apps/api", "/apps/we", False),  # a prefix of a name is not a parent directory
        ("apps/api", "/docs", True),
        ("apps/api", "/charts;/bases", False),
        ("apps/api", "/charts; /docs ;", True),
        ("apps/api", "/apps/*", True),
        ("apps/api", "/apps/*/deployment.yaml", True),
        ("apps/api", "/apps/w?b", True),
        ("apps/api", "/apps/*/values.yaml", False),
        (".", "/", True),
        (".", ".", True),
        (".", "", True),  # an empty annotation filters nothing
        (".", ";", True),
    ],
)
def test_manifest_generate_paths(source_path: str, paths: str, expected: bool) -> None:
    entry = app("main", path=source_path, paths=paths)
    assert hits(push_to(changed=CHANGED), entry) is expected


def test_unknown_changed_paths_refresh_filtered_apps() -> None:
    assert hits(push_to(changed=None), app("main", path="apps/api", paths="."))


def test_a_push_that_changed_no_files_skips_filtered_apps_only() -> None:
    empty = push_to(changed=frozenset())
    assert not hits(empty, app("main", path="apps/api", paths="."))
    assert hits(empty, app("main", path="apps/api"))


def test_relative_paths_resolve_against_the_source_that_matched() -> None:
    spec = AppSpec(
        sources=(
            Source("https://github.com/acme/charts", path="charts/web", target_revision="main"),
            Source(REPO, path="apps/web", target_revision="main"),
        )
    )
    entry = ("app", spec, {MANIFEST_GENERATE_PATHS: "."})
    assert webhooks.affected(push_to(changed=CHANGED), [entry]) == ["app"]
    docs_only = push_to(changed=frozenset({"charts/web/values.yaml"}))
    assert webhooks.affected(docs_only, [entry]) == []


def test_affected_keeps_order_and_lists_each_app_once() -> None:
    both = AppSpec(sources=(Source(REPO, path="a"), Source(REPO, path="b")))
    apps = [
        (("tether", "web"), both, {}),
        (("tether", "pinned"), AppSpec(sources=(Source(REPO, target_revision="c" * 40),)), {}),
        (("team-a", "api"), AppSpec(sources=(Source(REPO, target_revision="main"),)), {}),
    ]
    assert webhooks.affected(push_to(), apps) == [("tether", "web"), ("team-a", "api")]


def test_fixture_to_refresh_end_to_end() -> None:
    push = deliver("gitlab-push")
    assert push is not None
    url = "git@gitlab.example.com:platform/shop/deploy.git"
    apps = [
        (
            "cart",
            AppSpec(sources=(Source(url, path="envs/prod/cart"),)),
            {MANIFEST_GENERATE_PATHS: "."},
        ),
        (
            "search",
            AppSpec(sources=(Source(url, path="envs/prod/search"),)),
            {MANIFEST_GENERATE_PATHS: "."},
        ),
        ("staging", AppSpec(sources=(Source(url, target_revision="staging"),)), {}),
        ("all", AppSpec(sources=(Source(url),)), {}),
    ]
    assert webhooks.affected(push, apps) == ["cart", "all"]
