"""The keys API tokens are signed with, kept in the Secret `tether-jwt`.

Data keys: `<kid>.pem` (a PKCS#8 private key) per key and `active` (the kid new tokens are
signed with). Rotation adds a key and makes it active; older keys keep verifying the tokens they
signed until an operator removes them from the Secret. The first use generates the first key;
two replicas racing to do so agree, because only one `create` of the Secret can succeed.

A token naming a kid we do not know makes us re-read the Secret (at most every few seconds), so
a key rotated by another replica is picked up without a restart.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tether.auth.settings import TokenAlgorithm
from tether.cluster import errors as api_errors
from tether.cluster.client import Body, KubeClient

SECRET = "tether-jwt"
ACTIVE = "active"
RELOAD_INTERVAL = 5.0

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: PrivateKey = field(repr=False)

    @property
    def public(self) -> PublicKey:
        return self.private.public_key()

    def suits(self, algorithm: TokenAlgorithm) -> bool:
        if algorithm is TokenAlgorithm.EDDSA:
            return isinstance(self.private, ed25519.Ed25519PrivateKey)
        return isinstance(self.private, ec.EllipticCurvePrivateKey) and isinstance(
            self.private.curve, ec.SECP256R1
        )


@dataclass(frozen=True)
class KeyRing:
    active: str
    keys: dict[str, SigningKey]


def generate(algorithm: TokenAlgorithm) -> SigningKey:
    kid = secrets.token_hex(8)
    if algorithm is TokenAlgorithm.EDDSA:
        return SigningKey(kid, ed25519.Ed25519PrivateKey.generate())
    return SigningKey(kid, ec.generate_private_key(ec.SECP256R1()))


def _pem(key: SigningKey) -> str:
    raw = key.private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(raw).decode()


def parse(data: dict[str, str]) -> KeyRing | None:
    keys: dict[str, SigningKey] = {}
    for name, value in data.items():
        if name.endswith(".pem"):
            private = serialization.load_pem_private_key(base64.b64decode(value), None)
            if isinstance(private, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
                keys[name.removesuffix(".pem")] = SigningKey(name.removesuffix(".pem"), private)
    active = base64.b64decode(data.get(ACTIVE, "")).decode()
    return KeyRing(active, keys) if active in keys else None


class SigningKeys:
    def __init__(self, kube: KubeClient, namespace: str, algorithm: TokenAlgorithm) -> None:
        self._kube = kube
        self._namespace = namespace
        self._algorithm = algorithm
        self._ring: KeyRing | None = None
        self._loaded_at = 0.0

    async def active(self) -> SigningKey:
        ring = self._ring or await self._reload()
        if ring is None or not ring.keys[ring.active].suits(self._algorithm):
            ring = await self._add_key(only_if_unsuitable=True)  # none yet, or a new algorithm
        return ring.keys[ring.active]

    async def find(self, kid: str) -> SigningKey | None:
        if self._ring is not None and kid in self._ring.keys:
            return self._ring.keys[kid]
        if time.monotonic() - self._loaded_at < RELOAD_INTERVAL:
            return None  # a burst of tokens with made-up kids must not hammer the API server
        ring = await self._reload()
        return ring.keys.get(kid) if ring else None

    async def rotate(self) -> str:
        """Add a new key and sign new tokens with it; returns its kid."""
        return (await self._add_key()).active

    async def _reload(self) -> KeyRing | None:
        secret = await self._kube.get_or_none("v1", "Secret", SECRET, self._namespace)
        self._loaded_at = time.monotonic()
        self._ring = parse((secret or {}).get("data") or {})
        return self._ring

    async def _add_key(self, *, only_if_unsuitable: bool = False) -> KeyRing:
        for _ in range(5):
            secret = await self._kube.get_or_none("v1", "Secret", SECRET, self._namespace)
            current = parse((secret or {}).get("data") or {})
            if (
                only_if_unsuitable
                and current
                and current.keys[current.active].suits(self._algorithm)
            ):
                self._ring, self._loaded_at = current, time.monotonic()
                return current  # another replica made one meanwhile: use it, don't add another
            key = generate(self._algorithm)
            data = dict((secret or {}).get("data") or {})
            data[f"{key.kid}.pem"] = _pem(key)
            data[ACTIVE] = base64.b64encode(key.kid.encode()).decode()
            try:
                await self._store(secret, data)
            except (api_errors.Conflict, api_errors.AlreadyExists):
                continue  # another replica changed it first: start again from its version
            ring = await self._reload()
            assert ring is not None
            return ring
        raise RuntimeError(f"the Secret {SECRET} keeps changing; cannot add a signing key")

    async def _store(self, secret: Body | None, data: dict[str, str]) -> None:
        body: Body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": SECRET,
                "namespace": self._namespace,
                "labels": {"app.kubernetes.io/part-of": "tether"},
            },
            "data": data,
        }
        if secret is None:
            await self._kube.create(body)
        else:
            body["metadata"]["resourceVersion"] = secret["metadata"]["resourceVersion"]
            await self._kube.replace(body)
