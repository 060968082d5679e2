"""The deploy copies of tether's CRDs and version are generated; these fail when they drift from
their single sources (src/tether/crds, pyproject.toml).

Fix: `uv run python scripts/gen-deploy.py`."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import yaml

from tests.deploy.renders import BASE, CHART, ROOT
from tether import crds

COPIES = (BASE / "crds", CHART / "files" / "crds")


def test_generated_files_are_up_to_date() -> None:
    checked = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-deploy.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr


def test_each_copy_is_the_source_crd_plus_the_keep_annotations() -> None:
    for directory in COPIES:
        copied = [yaml.safe_load((directory / name).read_text()) for name in crds.FILES]
        for crd in copied:
            annotations = crd["metadata"].pop("annotations")
            assert annotations == {
                "tether.dev/sync-options": "Prune=false",
                "helm.sh/resource-policy": "keep",
            }
        assert copied == crds.load_all()


def test_no_stray_crd_copies() -> None:
    for directory in COPIES:
        manifests = {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml"}
        assert sorted(manifests) == sorted(crds.FILES)


def test_image_tag_and_chart_follow_the_package_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert kustomization["images"] == [{"name": "ghcr.io/tether-dev/tether", "newTag": version}]
    assert chart["version"] == chart["appVersion"] == version
