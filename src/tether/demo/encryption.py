"""The demo's SOPS key and the encryption of the example's Secret, with the real sops and age.

The private key is made once per state directory (`age-keygen`, mode 0600) and never leaves it
except into the Secret `tether-sops` on the management cluster, where tether reads it. Only the
public recipient goes into the example repository (in `.sops.yaml`), so anyone with a clone can
encrypt a new Secret, and only tether can decrypt one.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tether.devcluster import tools
from tether.devcluster.errors import DevClusterError

# Only values are encrypted: kind, name and namespace stay readable in Git and in diffs.
ENCRYPTED_REGEX = "^(data|stringData)$"


def ensure_key(path: Path) -> str:
    """The age key file's content, made on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        out = _run([str(tools.binary("age-keygen"))], "age-keygen").stdout
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as key_file:
            key_file.write(out)
    return path.read_text()


def recipient(key_text: str) -> str:
    """The public key (`age1...`) written beside the secret key by age-keygen."""
    for line in key_text.splitlines():
        if line.startswith("# public key:"):
            return line.split(":", 1)[1].strip()
    raise DevClusterError(
        "the demo's age key file has no public key line",
        "delete $TETHER_HOME/up (with `tether up --down --purge`) and run `tether up` again",
    )


def sops_config(public_key: str) -> str:
    """`.sops.yaml` for the example repository: `sops edit` there needs no flags."""
    rules = [
        {"path_regex": r".*\.sops\.yaml$", "encrypted_regex": ENCRYPTED_REGEX, "age": public_key}
    ]
    return yaml.safe_dump({"creation_rules": rules}, sort_keys=False)


def encrypt(manifest: dict[str, Any], public_key: str) -> str:
    """The manifest as SOPS-encrypted YAML (comments dropped: sops would encrypt them too)."""
    with tempfile.TemporaryDirectory(prefix="tether-up-sops-") as home:
        plain = Path(home) / "secret.sops.yaml"
        plain.write_text(yaml.safe_dump(manifest, sort_keys=False))
        argv = [
            str(tools.binary("sops")),
            "--encrypt",
            "--age",
            public_key,
            "--encrypted-regex",
            ENCRYPTED_REGEX,
            str(plain),
        ]
        env = {"HOME": home, "PATH": os.defpath, "SOPS_DISABLE_VERSION_CHECK": "1"}
        return _run(argv, "sops --encrypt", env).stdout


def _run(
    argv: list[str], what: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    if result.returncode != 0:
        raise DevClusterError(
            f"{what} failed: {result.stderr.strip()[-300:]}",
            "rebuild the tools with `tether dev build --all`",
        )
    return result
