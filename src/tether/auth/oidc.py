"""Single sign-on through an OpenID Connect provider (Dex, or any other): code flow with PKCE.

`begin()` makes a fresh `state`, `nonce` and PKCE verifier, remembers them server-side (state
db, keyed by the state's digest, single use, `flow_ttl` to live) together with the digest of a
random *binding* value that the browser gets as a short-lived cookie, and returns the provider's
authorization URL. `complete()` takes the flow back by its state, checks the binding cookie
(so an attacker cannot make a victim's browser finish the attacker's login), redeems the code
with the verifier, and validates the ID token: signature by the provider's published keys, the
algorithms it announces (never `none`), `iss`, `aud`, `exp`, `iat` and our `nonce`. Groups come
from the configured claim (Dex: `groups`, with the `groups` scope).

authlib builds the authorization URL and redeems the code; joserfc (authlib's JOSE layer)
verifies the ID token, with authlib's OIDC claim rules.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from sqlalchemy import delete, insert, select

from tether.auth.errors import OIDCFailed, OIDCUnavailable
from tether.auth.settings import OIDCSettings
from tether.auth.state import StateDB, digest, oidc_flows
from tether.auth.users import ADMIN as LOCAL_ADMIN
from tether.model.principals import Principal, PrincipalKind

log = structlog.get_logger("tether.auth.oidc")
Clock = Callable[[], float]


@dataclass(frozen=True)
class Flow:
    binding_hash: str
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    return_to: str
    expires: float


@dataclass(frozen=True)
class Started:
    url: str  # where to send the browser
    binding: str = field(repr=False)  # the cookie that ties the callback to this browser


class FlowStore:
    def __init__(self, db: StateDB, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def save(self, state: str, flow: Flow) -> None:
        with self._db.write() as conn:
            conn.execute(delete(oidc_flows).where(oidc_flows.c.expires < self._clock()))
            conn.execute(insert(oidc_flows).values(state_hash=digest(state), **flow.__dict__))

    def take(self, state: str) -> Flow | None:
        """The flow begun with `state`, removed so it can be completed only once."""
        key = digest(state)
        with self._db.write() as conn:
            row = conn.execute(select(oidc_flows).where(oidc_flows.c.state_hash == key)).first()
            conn.execute(delete(oidc_flows).where(oidc_flows.c.state_hash == key))
        if row is None:
            return None
        values = dict(row._mapping)
        values.pop("state_hash")
        flow = Flow(**values)
        return flow if flow.expires > self._clock() else None


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]


class OIDCClient:
    def __init__(self, settings: OIDCSettings, flows: FlowStore, clock: Clock) -> None:
        self.settings = settings
        self._flows = flows
        self._clock = clock
        self._metadata: ProviderMetadata | None = None
        self._jwks: KeySet | None = None

    async def begin(self, return_to: str) -> Started:
        meta = await self.metadata()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier, binding = secrets.token_urlsafe(48), secrets.token_urlsafe(32)
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                meta.authorization_endpoint, state=state, code_verifier=verifier, nonce=nonce
            )
        expires = self._clock() + self.settings.flow_ttl
        self._flows.save(state, Flow(digest(binding), nonce, verifier, return_to, expires))
        return Started(url, binding)

    async def complete(self, state: str, code: str, binding: str) -> tuple[Principal, str]:
        """The user the provider vouches for, and where they wanted to go."""
        flow = self._flows.take(state)
        if flow is None:
            raise _failed("unknown-state", "no login was started with this state, or it expired")
        if not hmac.compare_digest(flow.binding_hash, digest(binding)):
            raise _failed("binding", "the callback came to a browser that did not start the login")
        if not flow.code_verifier:
            raise _failed("no-verifier", "the login has no PKCE verifier")
        tokens = await self._redeem(code, flow.code_verifier)
        claims = await self._validate(tokens, flow.nonce)
        return self._principal(claims), flow.return_to

    async def metadata(self) -> ProviderMetadata:
        if self._metadata is None:
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            doc = await self._get_json(url)
            if doc.get("issuer") != self.settings.issuer:
                raise OIDCUnavailable("the identity provider's issuer does not match the settings")
            algs = tuple(a for a in doc.get("id_token_signing_alg_values_supported", ["RS256"]))
            self._metadata = ProviderMetadata(
                doc["issuer"],
                doc["authorization_endpoint"],
                doc["token_endpoint"],
                doc["jwks_uri"],
                tuple(a for a in algs if a != "none") or ("RS256",),
            )
        return self._metadata

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret,
            scope=" ".join(self.settings.scopes),
            redirect_uri=self.settings.redirect_uri,
            code_challenge_method="S256",
            timeout=self.settings.http_timeout,
        )

    async def _redeem(self, code: str, verifier: str) -> dict[str, Any]:
        meta = await self.metadata()
        try:
            async with self._client() as client:
                token = await client.fetch_token(
                    meta.token_endpoint, code=code, code_verifier=verifier
                )
        except httpx.HTTPError as exc:
            raise OIDCUnavailable("the identity provider cannot be reached") from exc
        except Exception as exc:  # authlib raises OAuthError subclasses for refused grants
            raise _failed("token-endpoint", f"{type(exc).__name__}: {exc}") from None
        return dict(token)

    async def _validate(self, tokens: dict[str, Any], nonce: str) -> dict[str, Any]:
        meta = await self.metadata()
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise _failed("no-id-token", "the provider returned no ID token")
        try:
            decoded = await self._decode(id_token, meta)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": meta.issuer},
                    "aud": {"essential": True, "value": self.settings.client_id},
                },
                {"nonce": nonce, "client_id": self.settings.client_id},
            )
            claims.validate(now=int(self._clock()), leeway=30)
        except (JoseError, ValueError) as exc:
            raise _failed("id-token", f"{type(exc).__name__}: {exc}") from None
        except Exception as exc:  # authlib's claim errors (MissingClaimError, InvalidClaimError)
            raise _failed("id-token-claims", f"{type(exc).__name__}: {exc}") from None
        return dict(claims)

    async def _decode(self, id_token: str, meta: ProviderMetadata) -> Any:
        registry = JWSRegistry(algorithms=list(meta.algorithms))
        cached = self._jwks
        try:
            return jose_jwt.decode(
                id_token, cached or await self._fetch_jwks(meta), registry=registry
            )
        except JoseError:
            if cached is None:
                raise
            # The provider may have rotated its keys since we fetched them: fetch once more.
            return jose_jwt.decode(id_token, await self._fetch_jwks(meta), registry=registry)

    async def _fetch_jwks(self, meta: ProviderMetadata) -> KeySet:
        self._jwks = KeySet.import_key_set(await self._get_json(meta.jwks_uri))  # type: ignore[arg-type]
        return self._jwks

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self.settings.http_timeout) as http:
                response = await http.get(url)
                response.raise_for_status()
                body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("identity provider request failed", url=url, error=str(exc))
            raise OIDCUnavailable("the identity provider cannot be reached") from None
        if not isinstance(body, dict):
            raise OIDCUnavailable("the identity provider answered with something unexpected")
        return body

    def _principal(self, claims: dict[str, Any]) -> Principal:
        name = claims.get(self.settings.username_claim) or claims["sub"]
        if str(name) == LOCAL_ADMIN:
            raise _failed("reserved-name", f"the provider named the user {LOCAL_ADMIN!r}")
        raw = claims.get(self.settings.groups_claim) or []
        # The built-in policy makes the local `admin` account role:admin by its name: an identity
        # provider must not be able to claim that name, as a user or as a group.
        groups = (
            tuple(g for g in raw if isinstance(g, str) and g != LOCAL_ADMIN)
            if isinstance(raw, list)
            else ()
        )
        log.info("oidc login", user=name, groups=list(groups))
        return Principal(str(name), PrincipalKind.USER, groups)


def _failed(reason: str, why: str) -> OIDCFailed:
    log.info("oidc login refused", reason=reason, why=why)
    return OIDCFailed("the single sign-on login could not be completed; start it again")
