"""Making SOPS-encrypted manifests with the real sops and age binaries, for tests and the demo."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import yaml

from tether.devcluster import tools


def new_age_key() -> tuple[str, str]:
    """(secret key file content, public recipient)."""
    out = subprocess.run(
        [str(tools.binary("age-keygen"))], capture_output=True, text=True, check=True
    ).stdout
    recipient = next(
        ln.split(": ", 1)[1] for ln in out.splitlines() if ln.startswith("# public key:")
    )
    return out, recipient


def encrypt(manifest: dict, recipient: str) -> str:
    """The manifest as SOPS-encrypted YAML (only data/stringData encrypted, like Flux users do)."""
    with tempfile.TemporaryDirectory() as home:
        plain = Path(home) / "secret.yaml"
        plain.write_text(yaml.safe_dump(manifest))
        env = {"HOME": home, "PATH": os.defpath, "SOPS_DISABLE_VERSION_CHECK": "1"}
        return subprocess.run(
            [
                str(tools.binary("sops")),
                "--encrypt",
                "--age",
                recipient,
                "--encrypted-regex",
                "^(data|stringData)$",
                str(plain),
            ],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout
