"""Decrypting SOPS-encrypted manifests with the real `sops` binary and age keys.

A manifest is SOPS-encrypted when it carries a top-level `sops` map with a `mac`: that is how
sops marks a file it encrypted in place (values become ENC[...] strings). Decryption runs the
sops binary (`TETHER_SOPS`, else the tools directory, else PATH: see `tether.toolpaths`) over
stdin with the keys in its environment only (SOPS_AGE_KEY), in an empty HOME, with a time limit;
sops' own messages never contain decrypted values, and ours never repeat anything but the
object's name.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from dataclasses import dataclass
from typing import Any

from tether import toolpaths
from tether.model.resources import Body, ResourceKey


class SecretError(Exception):
    pass


def is_encrypted(obj: Any) -> bool:
    marker = obj.get("sops") if isinstance(obj, dict) else None
    return isinstance(marker, dict) and "mac" in marker


@dataclass(frozen=True)
class AgeKeys:
    """One or more AGE-SECRET-KEY lines (the content of an age key file)."""

    text: str

    def __repr__(self) -> str:  # never print key material
        return "AgeKeys(<redacted>)"


def _sops_binary() -> str:
    try:
        return str(toolpaths.find(toolpaths.SOPS, toolpaths.locations()))
    except toolpaths.ToolNotFound as missing:
        raise SecretError(str(missing)) from None


async def decrypt(obj: Body, keys: AgeKeys, timeout: float = 30.0) -> Body:
    """The decrypted manifest (without its `sops` metadata)."""
    key = ResourceKey.of(obj)
    with tempfile.TemporaryDirectory(prefix="tether-sops-") as home:
        env = {
            "SOPS_AGE_KEY": keys.text,
            "SOPS_DISABLE_VERSION_CHECK": "1",
            "HOME": home,
            "PATH": os.defpath,
        }
        proc = await asyncio.create_subprocess_exec(
            _sops_binary(),
            "--decrypt",
            "--input-type",
            "json",
            "--output-type",
            "json",
            "/dev/stdin",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(json.dumps(obj).encode()), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise SecretError(
                f"{key}: sops did not finish decrypting within {timeout:.0f}s"
            ) from None
    if proc.returncode != 0:
        raise SecretError(
            f"{key}: cannot decrypt with sops: {_reason(err.decode(errors='replace'))}"
        )
    decrypted: Body = json.loads(out)
    decrypted.pop("sops", None)
    return decrypted


def _reason(stderr: str) -> str:
    """sops' error, shortened to its first meaningful line (it names keys, never values)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("[")]
    return lines[0][:300] if lines else "unknown error"
