"""SOPS decryption with the real sops binary and age keys: right key decrypts, wrong key fails
clearly and without leaking anything."""

from __future__ import annotations

import pytest
import yaml

from tests.secrets.sopsfiles import encrypt, new_age_key
from tether.secrets import sops

CANARY = "sops-canary-4c1d"
SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db", "namespace": "n"},
    "stringData": {"password": CANARY},
}


async def test_encrypted_manifest_is_detected_and_decrypted() -> None:
    key, recipient = new_age_key()
    encrypted = yaml.safe_load(encrypt(SECRET, recipient))
    assert sops.is_encrypted(encrypted) and CANARY not in str(encrypted)
    assert not sops.is_encrypted(SECRET)

    plain = await sops.decrypt(encrypted, sops.AgeKeys(key))

    assert plain["stringData"] == {"password": CANARY}
    assert "sops" not in plain
    assert plain["metadata"]["name"] == "db"


async def test_wrong_key_is_a_clear_error_without_values() -> None:
    _, recipient = new_age_key()
    other_key, _ = new_age_key()
    encrypted = yaml.safe_load(encrypt(SECRET, recipient))
    with pytest.raises(sops.SecretError) as failure:
        await sops.decrypt(encrypted, sops.AgeKeys(other_key))
    assert "Secret/n/db" in str(failure.value)
    assert CANARY not in str(failure.value) and other_key.strip() not in str(failure.value)
    assert "redacted" in repr(sops.AgeKeys(other_key))
