"""URLs, credential matching and scrubbing: the pure rules behind keeping secrets out of output."""

from __future__ import annotations

import pytest

from tether.source import errors, gitcli, urls
from tether.source.credentials import CredentialTable, RepoCredentials

SECRET = "canary-s3cr3t/with+chars"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://github.com/org/repo.git", urls.Transport.HTTP),
        ("HTTP://host/repo", urls.Transport.HTTP),
        ("ssh://git@host:2222/repo", urls.Transport.SSH),
        ("git@github.com:org/repo.git", urls.Transport.SSH),
        ("git://host/repo", urls.Transport.GIT),
        ("/srv/git/repo.git", urls.Transport.FILE),
        ("file:///srv/git/repo.git", urls.Transport.FILE),
        ("ext::sh -c touch% /tmp/pwned", urls.Transport.OTHER),
        ("fd::17", urls.Transport.OTHER),
    ],
)
def test_transport(url: str, kind: urls.Transport) -> None:
    assert urls.transport(url) == kind


def test_normalize_gives_one_spelling_per_repository() -> None:
    assert urls.normalize("HTTPS://User:pw@GitHub.COM/Org/Repo/") == "https://github.com/Org/Repo"
    assert urls.normalize("git@GitHub.com:org/repo.git") == "ssh://git@github.com/org/repo.git"
    assert urls.cache_key("https://github.com/org/repo") == urls.cache_key(
        "https://tok@github.com/org/repo/"
    )
    assert urls.same_repository("https://h/org/repo.git", "https://h/org/repo")
    assert not urls.same_repository("https://h/org/repo", "https://h/org/repo2")


def test_redact_drops_http_userinfo_and_ssh_passwords() -> None:
    assert urls.redact(f"https://alice:{SECRET}@h/r.git") == "https://h/r.git"
    assert urls.redact("https://alice@h/r.git") == "https://h/r.git"
    assert urls.redact("ssh://git:pw@h/r") == "ssh://***@h/r"
    assert urls.redact("git@h:org/r.git") == "git@h:org/r.git"


def test_split_userinfo_decodes() -> None:
    assert urls.split_userinfo("https://a%40b:p%2Fw@h/r") == ("https://h/r", "a@b", "p/w")


def test_exact_entries_win_then_the_longest_prefix() -> None:
    exact, team, org = (RepoCredentials(password=p) for p in ("exact", "team", "org"))
    table = CredentialTable(
        repositories={"https://git.example.com/org/team/app.git": exact},
        templates={"https://git.example.com/org/": org, "https://git.example.com/org/team/": team},
    )
    assert table.match("https://git.example.com/org/team/app") is exact
    assert table.match("https://git.example.com/org/team/other") is team
    assert table.match("https://git.example.com/org/misc") is org
    assert table.match("https://elsewhere.example.com/org/team/app") is None


def test_credentials_hide_from_repr() -> None:
    creds = RepoCredentials(username="alice-the-user", password=SECRET, ssh_private_key="KEY")
    assert SECRET not in repr(creds)
    assert "alice-the-user" not in repr(creds)
    assert "KEY" not in repr(creds)


def test_scrub_removes_passwords_usernames_and_userinfo() -> None:
    creds = RepoCredentials(username="alice-the-user", password=SECRET)
    text = (
        f"fatal: unable to access 'https://alice-the-user:{SECRET}@h/r/': {SECRET} "
        f"https://other:thing@h2/x quoted=canary-s3cr3t%2Fwith%2Bchars user alice-the-user"
    )
    scrubbed = creds.scrub(text)
    for leaked in (SECRET, "canary-s3cr3t", "alice-the-user", "other:thing"):
        assert leaked not in scrubbed
    assert "https://***@h/r/" in scrubbed


def test_classified_errors_carry_no_secret() -> None:
    creds = RepoCredentials(username="alice-the-user", password=SECRET)
    stderr = f"fatal: Authentication failed for 'https://alice-the-user:{SECRET}@h/r/'\n"
    error = gitcli.classify(
        f"https://alice-the-user:{SECRET}@h/r", "git fetch", creds.scrub(stderr)
    )
    assert isinstance(error, errors.AuthenticationFailed)
    assert error.repo == "https://h/r"
    for text in (str(error), repr(error), error.cause):
        assert SECRET not in text
        assert "alice-the-user" not in text


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        ("Host key verification failed.", errors.HostKeyRejected),
        ("git@h: Permission denied (publickey).", errors.AuthenticationFailed),
        (
            "fatal: could not read Username for 'https://h': terminal prompts disabled",
            errors.AuthenticationFailed,
        ),
        ("fatal: unable to access 'https://h/': Could not resolve host: h", errors.RepoUnreachable),
        (
            "fatal: remote error: access denied or repository not exported: /x",
            errors.RepoUnreachable,
        ),
        ("fatal: couldn't find remote ref refs/heads/x", errors.RevisionNotFound),
        ("error: something odd", errors.GitFailed),
    ],
)
def test_classify(stderr: str, kind: type[errors.SourceError]) -> None:
    assert type(gitcli.classify("https://h/r", "git fetch", stderr)) is kind
