"""The API's request and response bodies, as pydantic models: they validate what clients send
and are the OpenAPI schema clients (and schemathesis) check answers against.

Kubernetes objects (an Application, a Project, a manifest) travel as free-form objects: their
schema is the CRD's, enforced by the Kubernetes API server when they are written.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"  # a DNS-1123 label: Application, Project, cluster
Object = dict[str, Any]
# Request bodies take JSON's types as they are: `"upsert": 0` is not a boolean.
STRICT = ConfigDict(strict=True)


class Problem(BaseModel):
    """RFC 7807; `errors` lists the fields of an invalid request (never their values)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str = ""
    errors: list[dict[str, Any]] | None = None


# ---- applications ------------------------------------------------------------------------


class Destination(BaseModel):
    cluster: str = ""
    namespace: str = ""


class ApplicationSummary(BaseModel):
    name: str
    namespace: str
    project: str
    repoURL: str = ""
    path: str = ""
    targetRevision: str = ""
    destination: Destination
    sync: str
    health: str
    healthMessage: str = ""
    revision: str = ""
    operation: str = ""
    operationMessage: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    resourceVersion: str = ""


class ApplicationList(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    items: list[ApplicationSummary]
    continue_: str = Field(default="", alias="continue", description="Pass as `continue` for more.")


class Metadata(BaseModel):
    model_config = STRICT

    name: str = Field(pattern=NAME, max_length=63)
    labels: dict[str, str] = Field(default_factory=dict)


class ApplicationCreate(BaseModel):
    model_config = STRICT

    metadata: Metadata
    spec: Object = Field(description="Application spec (Argo CD's field names).")


class ApplicationPatch(BaseModel):
    model_config = STRICT

    spec: Object = Field(description="A JSON merge patch (RFC 7386) of the spec.")


class ResourceSelector(BaseModel):
    model_config = STRICT

    group: str = ""
    kind: str = Field(min_length=1)
    name: str = Field(min_length=1)
    namespace: str = ""


class SyncBody(BaseModel):
    model_config = STRICT

    prune: bool = False
    dryRun: bool = False
    revision: str = Field(default="", max_length=256)
    resources: list[ResourceSelector] = Field(default_factory=list, max_length=500)
    ignoreDependencies: bool = Field(
        default=False, description="Sync although a dependency (spec.dependsOn) is not Ready."
    )


class RollbackBody(BaseModel):
    model_config = STRICT

    id: int = Field(ge=0, description="The history entry to deploy again.")
    prune: bool = False


class OperationAccepted(BaseModel):
    application: str
    operation: Object = Field(description="The request written to the app's `.operation`.")
    state: Object | None = Field(
        default=None, description="With wait=true: the finished operation."
    )
    finished: bool = False


class GraphNode(BaseModel):
    name: str
    namespace: str
    sync: str = ""
    health: str = ""
    ready: bool = False
    message: str = Field(default="", description="Why it is not Ready.")


class GraphEdge(BaseModel):
    source: str = Field(description="namespace/name of the app that depends...")
    target: str = Field(description="...on this one.")


class Graph(BaseModel):
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class Terminated(BaseModel):
    application: str
    detail: str = Field(description="What became of the operation.")


class History(BaseModel):
    items: list[Object]


class ResourceDiff(BaseModel):
    group: str
    version: str
    kind: str
    namespace: str
    name: str
    action: str
    diff: str = Field(description="Unified YAML diff, Secret values masked.")


class DiffResult(BaseModel):
    revision: str
    summary: dict[str, list[str]]
    resources: list[ResourceDiff]


class Manifests(BaseModel):
    items: list[Object]


class Health(BaseModel):
    status: str
    message: str = ""


class NodeRef(BaseModel):
    group: str
    kind: str
    namespace: str
    name: str
    uid: str = ""


class TreeNode(BaseModel):
    group: str
    version: str
    kind: str
    namespace: str
    name: str
    uid: str = ""
    parentRefs: list[NodeRef] = Field(default_factory=list)
    health: Health | None = None
    createdAt: str = ""


class Tree(BaseModel):
    nodes: list[TreeNode]
    truncated: bool = False


class Event(BaseModel):
    type: str = ""
    reason: str = ""
    message: str = ""
    count: int = 1
    firstTimestamp: str = ""
    lastTimestamp: str = ""
    source: str = ""
    involvedObject: NodeRef


class Events(BaseModel):
    items: list[Event]


class LiveResource(BaseModel):
    manifest: Object | None = Field(
        default=None, description="The live object, Secret values masked."
    )
    diff: ResourceDiff | None = None


# ---- projects, clusters, repositories, audit ------------------------------------------------


class ProjectCreate(BaseModel):
    model_config = STRICT

    metadata: Metadata
    spec: Object = Field(default_factory=dict)


class ProjectUpdate(BaseModel):
    model_config = STRICT

    spec: Object


class Projects(BaseModel):
    items: list[Object]


class ClusterCredentials(BaseModel):
    """Which credentials a cluster has; their values are never shown."""

    bearerToken: bool = False
    clientCertificate: bool = False
    caData: bool = False


class ClusterInfo(BaseModel):
    name: str
    server: str
    credentials: ClusterCredentials = Field(default_factory=ClusterCredentials)


class Clusters(BaseModel):
    items: list[ClusterInfo]


class KubeconfigCluster(BaseModel):
    model_config = ConfigDict(populate_by_name=True, strict=True)

    server: str = Field(pattern=r"^https?://[^\s]+$")
    certificate_authority_data: str = Field(default="", alias="certificate-authority-data")
    insecure_skip_tls_verify: bool = Field(default=False, alias="insecure-skip-tls-verify")


class KubeconfigUser(BaseModel):
    model_config = ConfigDict(populate_by_name=True, strict=True)

    token: str = Field(default="", repr=False)
    client_certificate_data: str = Field(default="", alias="client-certificate-data", repr=False)
    client_key_data: str = Field(default="", alias="client-key-data", repr=False)


class NamedCluster(BaseModel):
    model_config = STRICT

    name: str = ""
    cluster: KubeconfigCluster


class NamedUser(BaseModel):
    model_config = STRICT

    name: str = ""
    user: KubeconfigUser


class Kubeconfig(BaseModel):
    model_config = STRICT

    clusters: list[NamedCluster] = Field(min_length=1, max_length=1)
    users: list[NamedUser] = Field(min_length=1, max_length=1)


class ClusterCreate(BaseModel):
    model_config = STRICT

    name: str = Field(pattern=NAME, max_length=63)
    kubeconfig: Kubeconfig = Field(description="One cluster and one user, as in a kubeconfig.")
    upsert: bool = False


class RepositoryInfo(BaseModel):
    url: str
    type: Literal["repository", "repo-creds"]
    username: str = ""
    hasPassword: bool = False
    hasSshPrivateKey: bool = False


class Repositories(BaseModel):
    items: list[RepositoryInfo]


class RepositoryWrite(BaseModel):
    model_config = STRICT

    url: str = Field(min_length=1, max_length=2048, pattern=r"^\S+$")
    type: Literal["repository", "repo-creds"] = "repository"
    username: str = Field(default="", max_length=256)
    password: str = Field(default="", repr=False, max_length=8192)
    sshPrivateKey: str = Field(default="", repr=False, max_length=65536)
    knownHosts: str = Field(default="", max_length=65536)


class AuditPage(BaseModel):
    items: list[Object]
    nextBefore: int | None = None
