"""API tokens at the API server: every bad token of tests/auth's table (alg=none, bad
signature, wrong aud/iss, expired, revoked, ...) is a 401 problem on a real API route, read or
write, and changes nothing; a good one works until it is revoked. (tests/auth checks the
verification itself; this checks that the server's routes use it.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, initial_admin_password
from tests.auth.test_tokens import BAD_TOKENS, Forge

pytestmark = pytest.mark.cluster


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("forge", "claims", "header"), BAD_TOKENS)
async def test_bad_tokens_get_401_on_reads_and_writes(
    api: Api, forge: Forge, claims: dict[str, Any], header: dict[str, Any]
) -> None:
    token = await forge(api.services.authn, claims, header)
    async with api.client(_bearer(token)) as http:
        read = await http.get("/api/v1/applications")
        write = await http.post("/api/v1/projects", json={"metadata": {"name": "sneaky"}})
    for reply in (read, write):
        assert reply.status_code == 401, reply.text
        assert reply.headers["content-type"].startswith("application/problem+json")
        assert reply.headers["www-authenticate"].startswith("Bearer")
    assert await api.services.runtime.projects.get("sneaky") is None


async def test_a_token_works_until_revoked(api: Api) -> None:
    authn = api.services.authn
    issued = await authn.tokens.issue("team-a", "ci")
    async with api.client(_bearer(issued.token)) as http:
        before = await http.get("/api/v1/applications")
        await authn.tokens.revoke(issued.jti)
        after = await http.get("/api/v1/applications")
    assert before.status_code == 200, before.text
    assert after.status_code == 401, after.text


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer   ", "Basic YWRtaW46YWRtaW4=", "nonsense"]
)
async def test_an_authorization_header_that_does_not_verify_never_falls_back_to_the_cookie(
    api: Api, header: str
) -> None:
    """A client that sends a credential means it: a bad one is refused even next to a good
    session cookie, so a broken token is never silently replaced by someone's browser session."""
    password = await initial_admin_password(api.services.runtime.kube, api.namespace)
    http = await api.login("admin", password)
    try:
        reply = await http.get("/api/v1/projects", headers={"Authorization": header})
        assert reply.status_code == 401, reply.text
        assert (await http.get("/api/v1/projects")).status_code == 200
    finally:
        await http.aclose()
