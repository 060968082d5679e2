"""Local accounts, kept in the Secret `tether-users` in tether's namespace.

Data keys, per user: `<name>.password` (argon2id PHC string), `<name>.groups` (comma list,
optional), `<name>.disabled` ("true", optional) and `<name>.passwordMtime` (epoch seconds: a
session opened before it is no longer valid, as Argo CD does with its own `passwordMtime`).
Keeping accounts in a Secret means RBAC on Secrets is their access control, and every replica
of the API server sees the same accounts with no database of its own.

On a fresh install no account exists; `ensure_admin()` creates `admin` with a random password
and also writes that password to the Secret `tether-initial-admin` for the operator to read once
(and delete), like Argo CD's `argocd-initial-admin-secret`.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from tether.auth import passwords
from tether.auth.errors import BadRequest, Conflict, NotFound
from tether.cluster import errors as api_errors
from tether.cluster.client import Body, KubeClient

SECRET = "tether-users"
INITIAL_ADMIN_SECRET = "tether-initial-admin"
ADMIN = "admin"
_FIELDS = ("password", "groups", "disabled", "passwordMtime")
# Secret data keys allow [-._a-zA-Z0-9]; the field is split off at the last dot.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class LocalUser:
    name: str
    password_hash: str = field(repr=False)
    groups: tuple[str, ...] = ()
    disabled: bool = False
    password_mtime: float = 0.0


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise BadRequest(
            "a user name has 1-63 letters, digits, '.', '_' or '-'"
            " and starts with a letter or digit"
        )


def parse(data: Mapping[str, str]) -> dict[str, LocalUser]:
    """Users from a Secret's base64 `data`; keys that are not `<name>.<field>` are ignored."""
    fields: dict[str, dict[str, str]] = {}
    for key, value in data.items():
        name, _, attr = key.rpartition(".")
        if name and attr in _FIELDS:
            fields.setdefault(name, {})[attr] = base64.b64decode(value).decode()
    return {name: _user(name, f) for name, f in fields.items() if f.get("password")}


def _user(name: str, f: Mapping[str, str]) -> LocalUser:
    groups = tuple(g.strip() for g in f.get("groups", "").split(",") if g.strip())
    mtime = float(f.get("passwordMtime") or 0.0)
    return LocalUser(name, f["password"], groups, f.get("disabled") == "true", mtime)


def encode(user: LocalUser) -> dict[str, str]:
    values = {
        "password": user.password_hash,
        "groups": ",".join(user.groups),
        "disabled": "true" if user.disabled else "",
        "passwordMtime": repr(user.password_mtime),  # exact: sessions compare against it
    }
    return {f"{user.name}.{k}": _b64(v) for k, v in values.items() if v}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


Mutation = Callable[[dict[str, LocalUser]], None]


class UserStore:
    """Read and change local accounts; every change is a compare-and-swap on the Secret."""

    def __init__(
        self, kube: KubeClient, namespace: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._kube = kube
        self._namespace = namespace
        self._clock = clock

    async def get(self, name: str) -> LocalUser | None:
        return (await self._load())[0].get(name)

    async def list(self) -> list[LocalUser]:
        return sorted((await self._load())[0].values(), key=lambda u: u.name)

    async def create(self, name: str, password: str, groups: tuple[str, ...] = ()) -> LocalUser:
        check_name(name)
        phc = await _hash(password)
        user = LocalUser(name, phc, groups, False, self._clock())

        def add(users: dict[str, LocalUser]) -> None:
            if name in users:
                raise Conflict(f"user {name!r} already exists")
            users[name] = user

        await self._update(add)
        return user

    async def set_password(self, name: str, password: str) -> None:
        phc = await _hash(password)
        await self._change(
            name, lambda u: replace(u, password_hash=phc, password_mtime=self._clock())
        )

    async def set_hash(self, name: str, phc: str) -> None:
        """Store an upgraded hash of the same password (sessions stay valid)."""
        await self._change(name, lambda u: replace(u, password_hash=phc))

    async def set_groups(self, name: str, groups: tuple[str, ...]) -> None:
        await self._change(name, lambda u: replace(u, groups=groups))

    async def set_disabled(self, name: str, disabled: bool) -> None:
        await self._change(name, lambda u: replace(u, disabled=disabled))

    async def delete(self, name: str) -> None:
        def remove(users: dict[str, LocalUser]) -> None:
            if users.pop(name, None) is None:
                raise NotFound(f"no user {name!r}")

        await self._update(remove)

    async def ensure_admin(self) -> str | None:
        """Create `admin` with a random password if there are no users; return it, else None."""
        if (await self._load())[0]:
            return None
        password = passwords.generate_password()
        phc = await _hash(password)

        def bootstrap(users: dict[str, LocalUser]) -> None:
            if users:
                raise _AlreadyBootstrapped
            users[ADMIN] = LocalUser(ADMIN, phc, (), False, 0.0)

        try:
            await self._update(bootstrap)
        except _AlreadyBootstrapped:
            return None  # another replica won the race
        await self._write_initial_admin(password)
        return password

    async def _change(self, name: str, change: Callable[[LocalUser], LocalUser]) -> None:
        def apply(users: dict[str, LocalUser]) -> None:
            if name not in users:
                raise NotFound(f"no user {name!r}")
            users[name] = change(users[name])

        await self._update(apply)

    async def _load(self) -> tuple[dict[str, LocalUser], Body | None]:
        secret = await self._kube.get_or_none("v1", "Secret", SECRET, self._namespace)
        return (parse((secret or {}).get("data") or {}), secret)

    async def _update(self, mutate: Mutation) -> None:
        for _ in range(_CONFLICT_RETRIES):
            users, secret = await self._load()
            mutate(users)
            data = {k: v for user in users.values() for k, v in encode(user).items()}
            try:
                await self._store(secret, data)
                return
            except api_errors.Conflict:
                continue  # someone changed the Secret since we read it: read and apply again
        raise Conflict(f"the Secret {SECRET} keeps changing; try again")

    async def _store(self, secret: Body | None, data: dict[str, str]) -> None:
        if secret is None:
            await self._kube.create(self._secret(SECRET, data))
            return
        kept = {k: v for k, v in (secret.get("data") or {}).items() if not _is_user_key(k)}
        body = self._secret(SECRET, {**kept, **data})
        body["metadata"]["resourceVersion"] = secret["metadata"]["resourceVersion"]
        await self._kube.replace(body)

    async def _write_initial_admin(self, password: str) -> None:
        body = self._secret(INITIAL_ADMIN_SECRET, {"password": _b64(password)})
        try:
            await self._kube.create(body)
        except api_errors.AlreadyExists:
            current = await self._kube.get("v1", "Secret", INITIAL_ADMIN_SECRET, self._namespace)
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            await self._kube.replace(body)

    def _secret(self, name: str, data: dict[str, str]) -> Body:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": name,
                "namespace": self._namespace,
                "labels": {"app.kubernetes.io/part-of": "tether"},
            },
            "data": data,
        }


class _AlreadyBootstrapped(Exception):
    pass


async def _hash(password: str) -> str:
    """argon2 costs tens of milliseconds of CPU: keep it off the event loop."""
    return await asyncio.to_thread(passwords.hash_password, password)


def _is_user_key(key: str) -> bool:
    return key.rpartition(".")[2] in _FIELDS
