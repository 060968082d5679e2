"""Keeping secrets out of the audit trail: parameters are redacted before they are stored.

An append-only record cannot be cleaned afterwards, so whatever reaches it stays forever. Keys
that name a secret (password, token, secret, key, credentials, ...) are dropped wherever they
are nested; `name=value` strings whose name does (a Helm `--set db.password=...`) keep the name
and lose the value. Key names are split into words, so `sshPrivateKey` and `api_key` go, while
`monkey` and `keyboardLayout` stay.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "token",
        "secret",
        "key",
        "credential",
        "authorization",
        "cookie",
        "bearer",
        "privatekey",
        "apikey",
    }
)
REDACTED = "<redacted>"
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_ASSIGNMENT = re.compile(r"^([A-Za-z0-9_.\-\[\]/]+)=(.*)$", re.DOTALL)


def _words(name: str) -> set[str]:
    words = {w.lower() for w in _WORD.findall(name)}
    return words | {w[:-1] for w in words if w.endswith("s")}  # tokens, secrets, keys


def is_secret(name: str) -> bool:
    return bool(_words(name) & SECRET_WORDS)


def _value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_value(v) for v in value]
    if isinstance(value, str):
        assignment = _ASSIGNMENT.match(value)
        if assignment and is_secret(assignment.group(1)):
            return f"{assignment.group(1)}={REDACTED}"
    return value


def redact(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without secret-named keys (at any depth) or secret values of name=value strings."""
    return {str(k): _value(v) for k, v in parameters.items() if not is_secret(str(k))}
