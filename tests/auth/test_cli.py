"""`tether account` and `tether token` as an operator runs them, against the real cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from tests.auth.conftest import client_for, login
from tests.conftest import Cluster
from tether.auth.authenticator import Authenticator
from tether.cli import accounts

pytestmark = pytest.mark.cluster


def tether(
    cluster: Cluster, namespace: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    group, *rest = args
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tether",
            group,
            "--kubeconfig",
            str(cluster.kubeconfig),
            "-N",
            namespace,
            *rest,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )


async def test_accounts_through_the_cli(
    cluster: Cluster, namespace: str, authn: Authenticator
) -> None:
    created = tether(
        cluster,
        namespace,
        "account",
        "create",
        "carol",
        "-g",
        "ops",
        "--password-stdin",
        stdin="carol's password\n",
    )
    assert created.returncode == 0, created.stderr
    again = tether(
        cluster, namespace, "account", "create", "carol", "--password-stdin", stdin="whatever pw\n"
    )
    assert again.returncode == 1 and "already exists" in again.stderr

    listed = tether(cluster, namespace, "account", "list", "-o", "json")
    assert json.loads(listed.stdout) == [{"name": "carol", "groups": ["ops"], "disabled": False}]
    assert "argon2" not in listed.stdout + listed.stderr

    async with client_for(authn) as http:
        assert (await login(http, "carol", "carol's password")).status_code == 200
        changed = tether(
            cluster,
            namespace,
            "account",
            "set-password",
            "carol",
            "--password-stdin",
            stdin="carol's new password\n",
        )
        assert changed.returncode == 0, changed.stderr
        assert (await login(http, "carol", "carol's password")).status_code == 401
        assert (await login(http, "carol", "carol's new password")).status_code == 200

    deleted = tether(cluster, namespace, "account", "delete", "carol")
    assert deleted.returncode == 0, deleted.stderr


async def test_tokens_through_the_cli(
    cluster: Cluster, namespace: str, authn: Authenticator, tmp_path: Path
) -> None:
    state = str(authn.settings.state_db)
    created = tether(
        cluster,
        namespace,
        "token",
        "create",
        "--project",
        "team-a",
        "--role",
        "ci",
        "--expires-in",
        "24h",
        "--state-db",
        state,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "proj:team-a:ci" and claims["exp"] - claims["iat"] == 86400
    assert claims["jti"] in created.stderr

    async with client_for(authn) as http:
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await http.post("/api/v1/things", headers=bearer)).status_code == 200
        revoked = tether(cluster, namespace, "token", "revoke", claims["jti"], "--state-db", state)
        assert revoked.returncode == 0, revoked.stderr
        assert (await http.post("/api/v1/things", headers=bearer)).status_code == 401


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert accounts.parse_duration(text) == seconds


def test_a_bad_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        accounts.parse_duration("soon")
