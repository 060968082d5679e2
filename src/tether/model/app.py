"""The Application spec as typed, immutable values, parsed from the CRD's `spec` dict.

Field names follow Argo CD's where the concept is the same. Parsing is lenient about absent
fields (defaults) and strict about types the CRD schema already guarantees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tether.model import flags

DEFAULT_PROJECT = "default"
IN_CLUSTER = "in-cluster"


class SourceType(StrEnum):
    DIRECTORY = "Directory"
    KUSTOMIZE = "Kustomize"
    HELM = "Helm"


@dataclass(frozen=True)
class DirectorySource:
    recurse: bool = False
    include: str = ""  # glob, or "{a,b}" alternatives as in Argo CD
    exclude: str = ""


@dataclass(frozen=True)
class KustomizeSource:
    images: tuple[str, ...] = ()  # "name=newname:tag", "name:tag", "name@digest"
    name_prefix: str = ""
    name_suffix: str = ""
    common_labels: Mapping[str, str] = field(default_factory=dict)
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    patches: tuple[Mapping[str, Any], ...] = ()  # kustomize `patches` entries (patch/path + target)
    namespace: str = ""


@dataclass(frozen=True)
class HelmParameter:
    name: str
    value: str
    force_string: bool = False


@dataclass(frozen=True)
class HelmSource:
    release_name: str = ""
    value_files: tuple[str, ...] = ()  # relative to the chart; "$ref/path" reads another source
    values: str = ""  # inline YAML
    values_object: Mapping[str, Any] | None = None
    parameters: tuple[HelmParameter, ...] = ()
    skip_crds: bool = False
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    repo_url: str
    path: str = "."
    target_revision: str = "HEAD"
    ref: str = ""  # a name other sources use as "$ref" (hybrid repo strategy)
    directory: DirectorySource | None = None
    kustomize: KustomizeSource | None = None
    helm: HelmSource | None = None

    @property
    def type(self) -> SourceType:
        """Explicit settings win; otherwise the files decide (see render.detect)."""
        if self.helm is not None:
            return SourceType.HELM
        if self.kustomize is not None:
            return SourceType.KUSTOMIZE
        return SourceType.DIRECTORY


@dataclass(frozen=True)
class Destination:
    cluster: str = IN_CLUSTER
    namespace: str = ""


@dataclass(frozen=True)
class Backoff:
    duration_seconds: float = 5.0
    factor: float = 2.0
    max_duration_seconds: float = 180.0


@dataclass(frozen=True)
class Retry:
    limit: int = 0  # 0 = no retry; negative = unlimited
    backoff: Backoff = Backoff()


@dataclass(frozen=True)
class Automated:
    prune: bool = False
    self_heal: bool = False
    allow_empty: bool = False


@dataclass(frozen=True)
class SyncOptions:
    create_namespace: bool = False
    prune_last: bool = False
    # tether writes only what differs unless told otherwise (Argo CD's default is the opposite)
    apply_out_of_sync_only: bool = True
    replace: bool = False
    fail_on_shared_resource: bool = False
    respect_ignore_differences: bool = False
    validate: bool = True
    prune: bool = True  # per-object "Prune=false" annotations override this per object

    @classmethod
    def parse(cls, entries: tuple[str, ...] | list[str]) -> SyncOptions:
        """`Name=true|false` entries; ValueError for an unknown name or a value that is not a
        bool (a typo like `Purne=false` must not leave pruning on: the spec is refused)."""
        return cls(**flags.parse(entries, _SYNC_OPTIONS, "sync option"))


_SYNC_OPTIONS = {
    "CreateNamespace": "create_namespace",
    "PruneLast": "prune_last",
    "ApplyOutOfSyncOnly": "apply_out_of_sync_only",
    "Replace": "replace",
    "FailOnSharedResource": "fail_on_shared_resource",
    "RespectIgnoreDifferences": "respect_ignore_differences",
    "Validate": "validate",
    "Prune": "prune",
}


@dataclass(frozen=True)
class SyncPolicy:
    automated: Automated | None = None
    options: SyncOptions = SyncOptions()
    retry: Retry = Retry()


@dataclass(frozen=True)
class IgnoreDifference:
    group: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    json_pointers: tuple[str, ...] = ()
    jq_path_expressions: tuple[str, ...] = ()
    managed_fields_managers: tuple[str, ...] = ()

    def matches(self, group: str, kind: str, namespace: str, name: str) -> bool:
        return (
            self.group == group
            and (not self.kind or self.kind == kind)
            and (not self.name or self.name == name)
            and (not self.namespace or self.namespace == namespace)
        )


@dataclass(frozen=True)
class DependsOn:
    """Another Application this one is deployed after (`namespace` "": the app's own)."""

    name: str
    namespace: str = ""
    ready_only: bool = True  # False: only the first sync waits for it


@dataclass(frozen=True)
class AppSpec:
    sources: tuple[Source, ...]
    destination: Destination = Destination()
    project: str = DEFAULT_PROJECT
    sync_policy: SyncPolicy = SyncPolicy()
    ignore_differences: tuple[IgnoreDifference, ...] = ()
    revision_history_limit: int = 10
    depends_on: tuple[DependsOn, ...] = ()

    @property
    def rendered_sources(self) -> tuple[Source, ...]:
        """Sources that produce manifests; one that only lends files by `ref` renders nothing."""
        return tuple(
            s for s in self.sources if not (s.ref and s.helm is None and s.path in ("", "."))
        )


def _str_map(raw: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (raw or {}).items()}


def _directory(raw: Mapping[str, Any] | None) -> DirectorySource | None:
    if raw is None:
        return None
    return DirectorySource(
        bool(raw.get("recurse", False)), raw.get("include", ""), raw.get("exclude", "")
    )


def _kustomize(raw: Mapping[str, Any] | None) -> KustomizeSource | None:
    if raw is None:
        return None
    return KustomizeSource(
        images=tuple(raw.get("images") or ()),
        name_prefix=raw.get("namePrefix", ""),
        name_suffix=raw.get("nameSuffix", ""),
        common_labels=_str_map(raw.get("commonLabels")),
        common_annotations=_str_map(raw.get("commonAnnotations")),
        patches=tuple(raw.get("patches") or ()),
        namespace=raw.get("namespace", ""),
    )


def _helm(raw: Mapping[str, Any] | None) -> HelmSource | None:
    if raw is None:
        return None
    params = tuple(
        HelmParameter(p["name"], str(p.get("value", "")), bool(p.get("forceString", False)))
        for p in raw.get("parameters") or ()
    )
    return HelmSource(
        release_name=raw.get("releaseName", ""),
        value_files=tuple(raw.get("valueFiles") or ()),
        values=raw.get("values", ""),
        values_object=raw.get("valuesObject"),
        parameters=params,
        skip_crds=bool(raw.get("skipCrds", False)),
        kube_version=raw.get("kubeVersion", ""),
        api_versions=tuple(raw.get("apiVersions") or ()),
    )


def parse_source(raw: Mapping[str, Any]) -> Source:
    return Source(
        repo_url=raw["repoURL"],
        path=raw.get("path") or ".",
        target_revision=raw.get("targetRevision") or "HEAD",
        ref=raw.get("ref", ""),
        directory=_directory(raw.get("directory")),
        kustomize=_kustomize(raw.get("kustomize")),
        helm=_helm(raw.get("helm")),
    )


def _sync_policy(raw: Mapping[str, Any] | None) -> SyncPolicy:
    raw = raw or {}
    auto = raw.get("automated")
    automated = (
        Automated(bool(auto.get("prune")), bool(auto.get("selfHeal")), bool(auto.get("allowEmpty")))
        if auto is not None
        else None
    )
    retry_raw = raw.get("retry") or {}
    backoff_raw = retry_raw.get("backoff") or {}
    backoff = Backoff(
        duration_seconds=parse_duration(backoff_raw.get("duration", "5s")),
        factor=float(backoff_raw.get("factor", 2)),
        max_duration_seconds=parse_duration(backoff_raw.get("maxDuration", "3m")),
    )
    return SyncPolicy(
        automated=automated,
        options=SyncOptions.parse(raw.get("syncOptions") or []),
        retry=Retry(int(retry_raw.get("limit", 0)), backoff),
    )


def _ignore(raw: Mapping[str, Any]) -> IgnoreDifference:
    return IgnoreDifference(
        group=raw.get("group", ""),
        kind=raw.get("kind", ""),
        name=raw.get("name", ""),
        namespace=raw.get("namespace", ""),
        json_pointers=tuple(raw.get("jsonPointers") or ()),
        jq_path_expressions=tuple(raw.get("jqPathExpressions") or ()),
        managed_fields_managers=tuple(raw.get("managedFieldsManagers") or ()),
    )


def parse_spec(spec: Mapping[str, Any]) -> AppSpec:
    sources = [parse_source(s) for s in spec.get("sources") or ()]
    if spec.get("source"):
        sources.insert(0, parse_source(spec["source"]))
    if not sources:
        raise ValueError("spec.source or spec.sources is required")
    dest = spec.get("destination") or {}
    return AppSpec(
        sources=tuple(sources),
        destination=Destination(
            dest.get("name") or dest.get("cluster") or IN_CLUSTER, dest.get("namespace", "")
        ),
        project=spec.get("project") or DEFAULT_PROJECT,
        sync_policy=_sync_policy(spec.get("syncPolicy")),
        ignore_differences=tuple(_ignore(i) for i in spec.get("ignoreDifferences") or ()),
        revision_history_limit=int(spec.get("revisionHistoryLimit", 10)),
        depends_on=tuple(_depends_on(d) for d in spec.get("dependsOn") or ()),
    )


def _depends_on(raw: Mapping[str, Any]) -> DependsOn:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("every dependsOn entry needs a name")
    ready_only = raw.get("readyOnly", True)
    if not isinstance(ready_only, bool):
        raise ValueError(f"dependsOn {name}: readyOnly must be true or false")
    return DependsOn(name, str(raw.get("namespace") or ""), ready_only)


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | int | float) -> float:
    """'5s', '3m', '1h30m', '250ms' or a number of seconds -> seconds."""
    if isinstance(text, int | float):
        return float(text)
    total, number = 0.0, ""
    rest = text.strip()
    i = 0
    while i < len(rest):
        ch = rest[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if rest.startswith("ms", i) else ch
        if unit not in _UNITS or not number:
            raise ValueError(f"invalid duration {text!r}")
        total += float(number) * _UNITS[unit]
        number, i = "", i + len(unit)
    if number:
        total += float(number)
    return total
