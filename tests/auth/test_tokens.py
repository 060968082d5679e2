"""API tokens: issued for a project role, signed by a key in the tether-jwt Secret, verified with
every check every time. Each way a token can be bad is one row of the table below."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tests.auth.conftest import AuthenticatorFactory, client_for
from tether.auth import keys as signing_keys
from tether.auth import tokens
from tether.auth.authenticator import Authenticator
from tether.auth.errors import InvalidToken
from tether.auth.projecttokens import PROJECT_API_VERSION, PROJECT_KIND
from tether.auth.settings import TokenAlgorithm
from tether.cluster import errors as api_errors
from tether.cluster.client import KubeClient
from tether.model.principals import PrincipalKind

pytestmark = pytest.mark.cluster


async def _verify(authn: Authenticator, token: str) -> Any:
    return await tokens.verify(token, authn.keys, authn.registry, authn.settings, now=time.time())


async def test_issued_token_verifies_as_the_project_role(
    authn: Authenticator, kube: KubeClient, namespace: str
) -> None:
    issued = await authn.tokens.issue("team-a", "deployer", expires_in=3600)

    principal = await _verify(authn, issued.token)

    assert principal.kind is PrincipalKind.TOKEN
    assert principal.project_role == "proj:team-a:deployer" == principal.name
    assert principal.token_id == issued.jti
    header = jwt.get_unverified_header(issued.token)
    assert header["alg"] == "EdDSA" and header["kid"]
    claims = jwt.decode(issued.token, options={"verify_signature": False})
    assert set(claims) == {"iss", "aud", "sub", "jti", "iat", "exp"}
    assert (claims["iss"], claims["aud"]) == ("tether", "tether")
    assert claims["exp"] - claims["iat"] == 3600
    secret = await kube.get("v1", "Secret", signing_keys.SECRET, namespace)
    assert set(secret["data"]) == {f"{header['kid']}.pem", "active"}


async def test_a_bearer_token_authenticates_requests(authn: Authenticator) -> None:
    issued = await authn.tokens.issue("team-a", "ci")
    async with client_for(authn) as http:
        reply = await http.post(
            "/api/v1/things", headers={"Authorization": f"Bearer {issued.token}"}
        )
        bad = await http.post("/api/v1/things", headers={"Authorization": "Bearer nonsense"})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"by": "proj:team-a:ci", "kind": "token", "method": "token"}
    assert bad.status_code == 401
    assert bad.json()["type"].endswith("/invalid-token")
    assert bad.headers["www-authenticate"].startswith("Bearer")


Forge = Callable[[Authenticator, dict[str, Any], dict[str, Any]], Awaitable[str]]


async def _signed(authn: Authenticator, claims: dict[str, Any], header: dict[str, Any]) -> str:
    key = await authn.keys.active()
    return jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid, **header})


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": "tether",
        "aud": "tether",
        "sub": "proj:team-a:ci",
        "jti": "2f1c1d8e-0000-4000-8000-000000000001",
        "iat": now,
        "exp": now + 600,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


async def _alg_none(authn: Authenticator, claims: dict[str, Any], _: dict[str, Any]) -> str:
    key = await authn.keys.active()
    header = _b64({"alg": "none", "typ": "JWT", "kid": key.kid})
    return f"{header}.{_b64(claims)}."


async def _bad_signature(authn: Authenticator, claims: dict[str, Any], h: dict[str, Any]) -> str:
    token = await _signed(authn, claims, h)
    head, body, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{head}.{body}.{flipped}"


async def _other_key_same_kid(authn: Authenticator, claims: dict[str, Any], _: Any) -> str:
    key = await authn.keys.active()
    return jwt.encode(
        claims,
        ed25519.Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": key.kid},
    )


async def _hs256_with_public_key(authn: Authenticator, claims: dict[str, Any], _: Any) -> str:
    """The classic confusion: HMAC keyed with the (public) verification key."""
    key = await authn.keys.active()
    public = key.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{_b64(header)}.{_b64(claims)}".encode()
    mac = hmac.new(public, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


async def _es256(authn: Authenticator, claims: dict[str, Any], _: Any) -> str:
    key = await authn.keys.active()
    other = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(claims, other, algorithm="ES256", headers={"kid": key.kid})


async def _revoked(authn: Authenticator, _claims: dict[str, Any], _h: dict[str, Any]) -> str:
    issued = await authn.tokens.issue("team-a", "ci")
    await authn.tokens.revoke(issued.jti)
    return issued.token


async def _no_kid(authn: Authenticator, claims: dict[str, Any], _: Any) -> str:
    key = await authn.keys.active()
    return jwt.encode(claims, key.private, algorithm="EdDSA")


NO_HEADER: dict[str, Any] = {}
BAD_TOKENS: list[Any] = [
    pytest.param(_alg_none, _claims(), NO_HEADER, id="alg-none"),
    pytest.param(_bad_signature, _claims(), NO_HEADER, id="bad-signature"),
    pytest.param(_other_key_same_kid, _claims(), NO_HEADER, id="signed-by-another-key"),
    pytest.param(_hs256_with_public_key, _claims(), NO_HEADER, id="hs256-with-public-key"),
    pytest.param(_es256, _claims(), NO_HEADER, id="other-algorithm-es256"),
    pytest.param(_signed, _claims(aud="someone-else"), NO_HEADER, id="wrong-aud"),
    pytest.param(_signed, _claims(iss="evil"), NO_HEADER, id="wrong-iss"),
    pytest.param(_signed, _claims(exp=int(time.time()) - 3600), NO_HEADER, id="expired"),
    pytest.param(_signed, _claims(iat=int(time.time()) + 3600), NO_HEADER, id="iat-in-future"),
    pytest.param(_signed, _claims(jti=None), NO_HEADER, id="no-jti"),
    pytest.param(_signed, _claims(aud=None), NO_HEADER, id="no-aud"),
    pytest.param(_signed, _claims(sub="admin"), NO_HEADER, id="not-a-project-role"),
    pytest.param(_revoked, _claims(), NO_HEADER, id="revoked"),
    pytest.param(_signed, _claims(), {"kid": "0123456789abcdef"}, id="unknown-kid"),
    pytest.param(_no_kid, _claims(), NO_HEADER, id="no-kid"),
]


@pytest.mark.parametrize(("forge", "claims", "header"), BAD_TOKENS)
async def test_bad_tokens_are_rejected(
    authn: Authenticator, forge: Forge, claims: dict[str, Any], header: dict[str, Any]
) -> None:
    token = await forge(authn, claims, header)

    with pytest.raises(InvalidToken) as refused:
        await _verify(authn, token)
    assert refused.value.detail == "the token is invalid, expired or revoked"


async def test_the_well_formed_baseline_of_the_table_is_accepted(authn: Authenticator) -> None:
    """So each row above fails for its own reason, not because the baseline is wrong."""
    principal = await _verify(authn, await _signed(authn, _claims(), {}))
    assert principal.project_role == "proj:team-a:ci"


async def test_revocation_is_kept_in_the_state_db_across_restarts(
    make_authenticator: AuthenticatorFactory,
) -> None:
    first = make_authenticator()
    issued = await first.tokens.issue("team-a", "ci")
    await first.tokens.revoke(issued.jti)
    first.close()

    with pytest.raises(InvalidToken):
        await _verify(make_authenticator(), issued.token)


async def test_rotated_keys_keep_verifying_old_tokens(
    make_authenticator: AuthenticatorFactory,
) -> None:
    first = make_authenticator()
    old = await first.tokens.issue("team-a", "ci")
    new_kid = await first.keys.rotate()
    new = await first.tokens.issue("team-a", "ci")

    other_replica = make_authenticator()
    assert jwt.get_unverified_header(new.token)["kid"] == new_kid
    assert (await _verify(other_replica, old.token)).token_id == old.jti
    assert (await _verify(other_replica, new.token)).token_id == new.jti


async def test_es256_is_available_and_then_the_only_accepted_algorithm(
    make_authenticator: AuthenticatorFactory,
) -> None:
    eddsa = make_authenticator()
    es = make_authenticator(token_algorithm=TokenAlgorithm.ES256)
    old = await eddsa.tokens.issue("team-a", "ci")
    issued = await es.tokens.issue("team-a", "ci")

    assert jwt.get_unverified_header(issued.token)["alg"] == "ES256"
    assert (await _verify(es, issued.token)).token_id == issued.jti
    with pytest.raises(InvalidToken):
        await _verify(es, old.token)  # EdDSA, no longer the configured algorithm


async def test_issue_and_revoke_keep_the_projects_jwt_tokens_in_step(
    authn: Authenticator, kube: KubeClient, namespace: str, tether_installed: None
) -> None:
    try:
        await kube.resource(PROJECT_API_VERSION, PROJECT_KIND)
    except api_errors.UnknownResource:
        pytest.skip("the Project CRD is not installed by `tether install` yet")
    project = {
        "apiVersion": PROJECT_API_VERSION,
        "kind": PROJECT_KIND,
        "metadata": {"name": "team-a", "namespace": namespace},
        "spec": {"roles": [{"name": "ci"}, {"name": "viewer"}]},
    }
    await kube.create(project)

    issued = await authn.tokens.issue("team-a", "ci", expires_in=86400)
    live = await kube.get(PROJECT_API_VERSION, PROJECT_KIND, "team-a", namespace)
    role = live["spec"]["roles"][0]
    assert role["jwtTokens"] == [
        {"id": issued.jti, "iat": issued.issued_at, "exp": issued.expires_at}
    ]

    await authn.tokens.revoke(issued.jti)
    live = await kube.get(PROJECT_API_VERSION, PROJECT_KIND, "team-a", namespace)
    assert live["spec"]["roles"][0].get("jwtTokens", []) == []
    with pytest.raises(Exception, match="has no role"):
        await authn.tokens.issue("team-a", "no-such-role")


async def test_tokens_work_without_a_project_object(authn: Authenticator) -> None:
    issued = await authn.tokens.issue("not-created", "ci")
    assert (await _verify(authn, issued.token)).project_role == "proj:not-created:ci"


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
