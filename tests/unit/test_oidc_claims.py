"""An identity provider cannot claim the local `admin` account (the built-in policy makes that
name role:admin): a user so named is refused, a group so named is dropped."""

from __future__ import annotations

import pytest

from tether.auth.errors import OIDCFailed
from tether.auth.oidc import OIDCClient
from tether.auth.settings import OIDCSettings

SETTINGS = OIDCSettings(
    issuer="http://127.0.0.1:1/dex",
    client_id="tether",
    client_secret="s",
    redirect_uri="http://127.0.0.1:2/auth/oidc/callback",
)


def _client() -> OIDCClient:
    return OIDCClient(SETTINGS, flows=None, clock=lambda: 0.0)  # type: ignore[arg-type]


def test_a_provider_user_named_admin_is_refused() -> None:
    with pytest.raises(OIDCFailed):
        _client()._principal({"sub": "x", "email": "admin", "groups": []})


def test_a_provider_group_named_admin_is_dropped() -> None:
    principal = _client()._principal(
        {"sub": "x", "email": "ada@example.com", "groups": ["admin", "ops"]}
    )
    assert principal.name == "ada@example.com" and principal.groups == ("ops",)
