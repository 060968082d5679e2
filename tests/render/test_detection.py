"""Which renderer a source gets: explicit settings first, then the files (as Argo CD does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.render.conftest import Repos
from tether import render
from tether.model.app import DirectorySource, HelmSource, KustomizeSource, Source, SourceType

URL = "https://git.example.com/apps.git"


def _repo(repos: Repos, files: dict[str, str]) -> Path:
    root = repos.base / "repo"
    (root / "app").mkdir(parents=True)
    for name, text in files.items():
        (root / "app" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "app" / name).write_text(text)
    return root


CHART = {"Chart.yaml": "apiVersion: v2\nname: x\nversion: 0.1.0\n"}
KUSTOMIZATION = {"kustomization.yml": "resources: []\n"}


@pytest.mark.parametrize(
    ("files", "source", "expected"),
    [
        ({}, Source(URL, "app"), SourceType.DIRECTORY),
        (CHART, Source(URL, "app"), SourceType.HELM),
        (KUSTOMIZATION, Source(URL, "app"), SourceType.KUSTOMIZE),
        ({"Kustomization": "resources: []\n"}, Source(URL, "app"), SourceType.KUSTOMIZE),
        ({**CHART, **KUSTOMIZATION}, Source(URL, "app"), SourceType.KUSTOMIZE),
        (CHART, Source(URL, "app", kustomize=KustomizeSource()), SourceType.KUSTOMIZE),
        (KUSTOMIZATION, Source(URL, "app", helm=HelmSource()), SourceType.HELM),
        (CHART, Source(URL, "app", directory=DirectorySource(recurse=True)), SourceType.DIRECTORY),
        (CHART, Source(URL, "app", directory=DirectorySource()), SourceType.HELM),
    ],
    ids=[
        "plain", "chart", "kustomization", "Kustomization", "kustomization-wins",
        "explicit-kustomize", "explicit-helm", "explicit-directory", "empty-directory-block",
    ],
)  # fmt: skip
def test_detection(
    repos: Repos, files: dict[str, str], source: Source, expected: SourceType
) -> None:
    snapshot = repos.snapshot(_repo(repos, files))
    assert render.detect(snapshot, source) is expected


def test_two_explicit_types_are_ambiguous(repos: Repos) -> None:
    snapshot = repos.snapshot(_repo(repos, {}))
    source = Source(URL, "app", helm=HelmSource(), kustomize=KustomizeSource())
    with pytest.raises(render.InvalidSource, match="source 'app' sets both helm and kustomize"):
        render.detect(snapshot, source)
