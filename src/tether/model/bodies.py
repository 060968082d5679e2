"""Typed shapes of the JSON bodies tether reads and writes on its hot paths.

Kubernetes objects travel as decoded JSON (`model.resources.Body`). Where tether builds or reads
the same shape again and again (object metadata, an Application's status, the persisted state of
an operation) the shape is spelled out here as TypedDicts, so mypy checks every key, and a typo
in `"startedAt"` is a type error instead of a field that silently never appears.

`total=False` marks bodies whose keys may each be absent (a status written piece by piece);
readers use `.get`.
"""

from __future__ import annotations

from typing import Any, TypedDict


class OwnerReferenceBody(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool


class ObjectMeta(TypedDict, total=False):
    name: str
    generateName: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    labels: dict[str, str]
    annotations: dict[str, str]
    finalizers: list[str]
    ownerReferences: list[OwnerReferenceBody]
    deletionTimestamp: str
    creationTimestamp: str
    managedFields: list[dict[str, Any]]


class InitiatedByBody(TypedDict, total=False):
    username: str
    automated: bool


class SelectorBody(TypedDict):
    group: str
    kind: str
    name: str
    namespace: str


class SyncRequestBody(TypedDict, total=False):
    revision: str
    prune: bool
    dryRun: bool
    resources: list[SelectorBody]
    syncOptions: list[str]
    source: dict[str, Any]
    sources: list[dict[str, Any]]
    ignoreDependencies: bool


class OperationBody(TypedDict, total=False):
    sync: SyncRequestBody
    initiatedBy: InitiatedByBody


class ObjectRefBody(TypedDict, total=False):
    """Which object an entry is about (group, version, kind, namespace, name)."""

    group: str
    version: str
    kind: str
    namespace: str
    name: str


class ResultBody(ObjectRefBody, total=False):
    status: str
    message: str
    syncPhase: str
    wave: int
    action: str
    hookType: str


class StepsBody(TypedDict, total=False):
    group: str
    status: str
    failing: bool
    nextAttemptAt: str | None


class OperationStateBody(TypedDict, total=False):
    id: str
    phase: str
    message: str
    startedAt: str
    finishedAt: str | None
    revision: str
    revisions: list[str]
    operation: OperationBody
    steps: StepsBody
    resources: list[ResultBody]
    retryCount: int


class SyncStatusBody(TypedDict, total=False):
    status: str
    revision: str
    revisions: list[str]
    comparedAt: str


class HealthBody(TypedDict, total=False):
    status: str
    message: str


class ConditionBody(TypedDict, total=False):
    type: str
    status: str
    reason: str
    message: str
    lastTransitionTime: str
    observedGeneration: int


class ResourceStatusBody(ObjectRefBody, total=False):
    status: str
    health: HealthBody
    requiresPruning: bool


class InventoryEntryBody(TypedDict):
    id: str
    v: str


class InventoryBody(TypedDict):
    entries: list[InventoryEntryBody]


class ApplicationStatus(TypedDict, total=False):
    sync: SyncStatusBody
    health: HealthBody
    resources: list[ResourceStatusBody]
    conditions: list[ConditionBody]
    operationState: OperationStateBody
    inventory: InventoryBody
    history: list[dict[str, Any]]
    observedGeneration: int
    reconciledAt: str
    orphanedResources: list[ObjectRefBody]
    dependencies: list[dict[str, Any]]
