"""Which tool renders a source: the spec's explicit settings, else the files in its directory.

This mirrors Argo CD's repo-server: an explicit `helm`, `kustomize` or `directory` block decides
(setting more than one is ambiguous and refused); otherwise a kustomization file means Kustomize,
a `Chart.yaml` means Helm (a kustomization wins when both exist, as in Argo CD), and anything
else is a plain directory of manifests.
"""

from __future__ import annotations

from pathlib import Path

from tether.model.app import DirectorySource, Source, SourceType
from tether.render.errors import InvalidSource

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CHART_FILE = "Chart.yaml"


def detect(app_dir: Path, source: Source) -> SourceType:
    explicit = explicit_type(source)
    if explicit is not None:
        return explicit
    if kustomization_file(app_dir) is not None:
        return SourceType.KUSTOMIZE
    if (app_dir / CHART_FILE).is_file():
        return SourceType.HELM
    return SourceType.DIRECTORY


def explicit_type(source: Source) -> SourceType | None:
    chosen = [
        kind
        for kind, setting in (
            (SourceType.HELM, source.helm is not None),
            (SourceType.KUSTOMIZE, source.kustomize is not None),
            (SourceType.DIRECTORY, _directory_set(source.directory)),
        )
        if setting
    ]
    if len(chosen) > 1:
        names = " and ".join(str(c).lower() for c in chosen)
        raise InvalidSource(f"source {source.path!r} sets both {names}; choose one")
    return chosen[0] if chosen else None


def kustomization_file(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _directory_set(directory: DirectorySource | None) -> bool:
    # An empty `directory: {}` block changes nothing, so it does not count as a choice.
    return directory is not None and directory != DirectorySource()
