"""Repository credentials from real Secrets on the local control plane."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.source.conftest import HTTP_PASSWORD, HTTP_USER, MakeRepos
from tests.support import gitserver
from tether.cluster.client import KubeClient
from tether.source import errors
from tether.source.kubecredentials import KubeCredentialStore

pytestmark = pytest.mark.cluster


def _secret(namespace: str, name: str, kind: str, data: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"tether.dev/secret-type": kind},
        },
        "stringData": data,
    }


async def test_exact_repository_beats_templates_and_longest_prefix_wins(
    kube: KubeClient, namespace: str
) -> None:
    base = "https://git.example.com/org"
    for secret in [
        _secret(namespace, "org", "repo-creds", {"url": f"{base}/", "password": "org"}),
        _secret(namespace, "team", "repo-creds", {"url": f"{base}/team/", "password": "team"}),
        _secret(namespace, "app", "repository", {"url": f"{base}/team/app.git", "password": "app"}),
        _secret(
            namespace,
            "ssh",
            "repository",
            {
                "url": "ssh://git@git.example.com/org/infra",
                "sshPrivateKey": "KEY",
                "knownHosts": "git.example.com ssh-ed25519 AAAA",
            },
        ),
        _secret(namespace, "unlabelled", "something-else", {"url": f"{base}/x", "password": "x"}),
    ]:
        await kube.create(secret)
    store = KubeCredentialStore(kube, namespace)

    async def password(url: str) -> str | None:
        found = await store.lookup(url)
        return None if found is None else found.password

    assert await password(f"{base}/team/app.git") == "app"
    assert await password(f"{base}/team/app") == "app"  # `.git` is optional
    assert await password(f"{base}/team/other") == "team"
    assert await password(f"{base}/x") == "org"  # the unlabelled Secret is not a credential
    assert await password("https://elsewhere.example.com/org/x") is None
    ssh = await store.lookup("ssh://git@git.example.com/org/infra")
    assert ssh is not None
    assert (ssh.ssh_private_key, ssh.known_hosts) == ("KEY", "git.example.com ssh-ed25519 AAAA")


async def test_fetch_with_credentials_from_a_secret(
    kube: KubeClient,
    namespace: str,
    make_repo: Callable[[], gitserver.WorkRepo],
    http_auth: gitserver.HttpGitServer,
    make_repos: MakeRepos,
) -> None:
    repo = make_repo()
    sha = repo.commit("one", {"a.yaml": "a: 1\n"})
    repo.push()
    prefix = f"http://127.0.0.1:{http_auth.server.port}/"
    data = {"url": prefix, "username": HTTP_USER, "password": HTTP_PASSWORD}
    await kube.create(_secret(namespace, "local-git", "repo-creds", data))
    repos = make_repos(KubeCredentialStore(kube, namespace))
    assert (await repos.resolve(http_auth.url(repo.bare.name), "main")).sha == sha

    rotated = {"password": HTTP_PASSWORD + "-rotated"}  # the next call reads the Secret again
    await kube.patch("v1", "Secret", "local-git", namespace, {"stringData": rotated})
    with pytest.raises(errors.AuthenticationFailed) as caught:
        await repos.resolve(http_auth.url(repo.bare.name), "main")
    assert HTTP_PASSWORD not in str(caught.value)
