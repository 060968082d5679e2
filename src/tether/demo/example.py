"""The example monorepo: `examples/gitops-monorepo/` turned into a served Git repository, once.

The sources in the checkout are what a user reads; the repository is made from them on the first
`tether up` and then belongs to the user: later runs never rewrite it, so pushed commits and their
history stay. Two things are filled in while it is made:

- the repository's URL, in every Application (the sources say `git://127.0.0.1:9418/gitops.git`;
  another port is substituted when 9418 was taken);
- the SOPS-encrypted Secret: each file under `unencrypted/` is encrypted with the demo's age key
  to the same path in the repository, and `.sops.yaml` names the key's public half. The plain
  text never enters the repository; `unencrypted/` itself is left out.

The bare repository appears under its final name only once complete (made beside it, then
renamed), so an interrupted first run is simply made again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import yaml

from tether.demo import encryption
from tether.demo.state import UpLayout
from tether.devcluster import tools
from tether.devcluster.errors import DevClusterError

SOURCE_URL = "git://127.0.0.1:9418/gitops.git"  # as the example's sources spell it
PLAIN_DIR = "unencrypted"
_TEXT_SUFFIXES = (".yaml", ".yml", ".md", ".json", ".tpl", ".txt")
_AUTHOR = {
    "GIT_AUTHOR_NAME": "tether up",
    "GIT_AUTHOR_EMAIL": "tether-up@localhost",
    "GIT_COMMITTER_NAME": "tether up",
    "GIT_COMMITTER_EMAIL": "tether-up@localhost",
}


def source_dir() -> Path:
    return tools.repo_root() / "examples" / "gitops-monorepo"


def application_names(source: Path | None = None) -> list[str]:
    """Every Application the example's `clusters/<env>/` entry points define, by name."""
    names = []
    for path in sorted((source or source_dir()).glob("clusters/*/**/*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Application":
                names.append(str(doc["metadata"]["name"]))
    return names


def ensure(layout: UpLayout, repo_url: str, public_key: str) -> bool:
    """Create the served repository unless it exists; True if this call created it."""
    if layout.bare_repo.is_dir():
        return False
    layout.git_base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".making-", dir=layout.git_base) as tmp:
        work, bare = Path(tmp) / "work", Path(tmp) / "bare.git"
        _copy_sources(source_dir(), work, repo_url)
        _add_encrypted(source_dir() / PLAIN_DIR, work, public_key)
        _commit_and_push(work, bare)
        bare.rename(layout.bare_repo)
    return True


def _copy_sources(source: Path, work: Path, repo_url: str) -> None:
    shutil.copytree(source, work, ignore=shutil.ignore_patterns(PLAIN_DIR))
    for path in work.rglob("*"):
        if path.is_file() and path.suffix in _TEXT_SUFFIXES:
            text = path.read_text()
            if SOURCE_URL in text:
                path.write_text(text.replace(SOURCE_URL, repo_url))


def _add_encrypted(plain_dir: Path, work: Path, public_key: str) -> None:
    (work / ".sops.yaml").write_text(encryption.sops_config(public_key))
    for plain in sorted(plain_dir.rglob("*.yaml")):
        manifest = yaml.safe_load(plain.read_text())
        target = work / plain.relative_to(plain_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(encryption.encrypt(manifest, public_key))


def _commit_and_push(work: Path, bare: Path) -> None:
    env = {**os.environ, **_AUTHOR}
    _git(env, work, "init", "-q", "-b", "main")
    _git(env, work, "add", "-A")
    _git(env, work, "commit", "-q", "-m", "Example GitOps monorepo: apps, infrastructure, clusters")
    _git(env, work.parent, "init", "-q", "--bare", "-b", "main", str(bare))
    _git(env, work, "push", "-q", str(bare), "main")


def _git(env: Mapping[str, str], cwd: Path, *args: str) -> None:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise DevClusterError(
            f"git {args[0]} failed while making the example repository: {result.stderr.strip()}",
            "check that git works (`git --version`); then run `tether up` again",
        )
