"""Where the age keys come from: a Secret in tether's namespace (`tether-sops`, key
`age.agekey`), read on demand so a rotated key is used by the next sync."""

from __future__ import annotations

import base64

from tether.cluster import errors as api_errors
from tether.cluster.api import KubeAPI
from tether.secrets.sops import AgeKeys, SecretError

SECRET_NAME = "tether-sops"
KEY_FIELD = "age.agekey"


async def age_keys(kube: KubeAPI, namespace: str) -> AgeKeys:
    try:
        secret = await kube.get("v1", "Secret", SECRET_NAME, namespace)
    except api_errors.NotFound:
        raise SecretError(
            f"a manifest is SOPS-encrypted but there is no Secret {namespace}/{SECRET_NAME} "
            f"with the age key (data key {KEY_FIELD})"
        ) from None
    raw = (secret.get("data") or {}).get(KEY_FIELD)
    if not raw:
        raise SecretError(f"Secret {namespace}/{SECRET_NAME} has no {KEY_FIELD} key")
    return AgeKeys(base64.b64decode(raw).decode())
