"""The example monorepo: its layout, that every app renders with the real tools, and that the
served repository is made once, with the Secret encrypted and its plain text nowhere in Git."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tether.demo import encryption, example
from tether.demo.state import ENVIRONMENTS, UpLayout
from tether.devcluster import tools

SOURCE = example.source_dir()
PLAIN_VALUE = "example-only-not-a-real-password"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


def _applications(environment: str) -> list[dict[str, Any]]:
    files = sorted((SOURCE / "clusters" / environment).rglob("*.yaml"))
    return [d for f in files for d in _docs(f) if d["kind"] == "Application"]


def test_every_environment_has_the_same_four_apps() -> None:
    for env in ENVIRONMENTS:
        names = sorted(a["metadata"]["name"] for a in _applications(env))
        assert names == [
            f"{app}-{env}" for app in ("api", "frontend", "guestbook", "infrastructure")
        ]
    assert len(example.application_names()) == 4 * len(ENVIRONMENTS)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_applications_point_at_their_environment_and_the_example_repo(environment: str) -> None:
    for app in _applications(environment):
        spec = app["spec"]
        assert spec["destination"]["cluster"] == environment, app["metadata"]["name"]
        assert spec["source"]["repoURL"] == example.SOURCE_URL
        assert (SOURCE / spec["source"]["path"]).is_dir(), spec["source"]["path"]
        for values in spec["source"].get("helm", {}).get("valueFiles", []):
            assert (SOURCE / spec["source"]["path"] / values).is_file()


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60).stdout


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_kustomize_overlay_and_helm_values_render(environment: str) -> None:
    kustomize, helm = tools.binary("kustomize"), tools.binary("helm")
    if not (kustomize.exists() and helm.exists()):
        pytest.skip("kustomize/helm not built (tether dev build --all)")
    api = yaml.safe_load_all(
        _run(str(kustomize), "build", str(SOURCE / "apps/api/overlays" / environment))
    )
    kinds = {d["kind"] for d in api}
    assert {"Deployment", "Service", "ConfigMap"} <= kinds
    chart = SOURCE / "apps/frontend"
    rendered = _run(
        str(helm),
        "template",
        "frontend",
        str(chart),
        "-f",
        str(chart / f"values-{environment}.yaml"),
    )
    deployment = next(d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == {"dev": 1, "staging": 2, "prod": 3}[environment]


def test_plain_secret_exists_only_outside_the_repository_tree() -> None:
    plain = SOURCE / example.PLAIN_DIR / "apps/guestbook/db-credentials.sops.yaml"
    assert PLAIN_VALUE in plain.read_text()
    assert not (SOURCE / "apps/guestbook/db-credentials.sops.yaml").exists()


def test_served_repository_is_made_once_with_the_secret_encrypted(tmp_path: Path) -> None:
    if not (tools.binary("sops").exists() and tools.binary("age-keygen").exists()):
        pytest.skip("sops/age not built (tether dev build --all)")
    layout = UpLayout(tmp_path / "up")
    key = encryption.ensure_key(layout.age_key)
    assert encryption.ensure_key(layout.age_key) == key  # made once
    assert layout.age_key.stat().st_mode & 0o777 == 0o600
    url = "git://127.0.0.1:19418/gitops.git"
    assert example.ensure(layout, url, encryption.recipient(key))
    assert not example.ensure(layout, url, "age1-ignored")  # kept as it is
    clone = tmp_path / "clone"
    _run("git", "clone", "-q", str(layout.bare_repo), str(clone))
    secret = (clone / "apps/guestbook/db-credentials.sops.yaml").read_text()
    assert "ENC[" in secret and PLAIN_VALUE not in secret
    assert "guestbook-db" in secret  # names stay readable
    assert not (clone / example.PLAIN_DIR).exists()
    assert encryption.recipient(key) in (clone / ".sops.yaml").read_text()
    app = _docs(clone / "clusters/prod/apps/api.yaml")[0]
    assert app["spec"]["source"]["repoURL"] == url
    history = _run("git", "-C", str(layout.bare_repo), "log", "--all", "-p")
    assert PLAIN_VALUE not in history
