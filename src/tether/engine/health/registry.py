"""Which check judges which kind: built-in checks dispatched by (group, kind).

The version is deliberately not part of the key: every check reads fields that are the same in
all served versions of its kind. Kinds listed with `_no_health` are plain configuration or access
control objects; they exist or they do not, and have no health to report (None).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from tether.engine.health import (
    apiservices,
    applications,
    cronjobs,
    customresourcedefinitions,
    daemonsets,
    deployments,
    horizontalpodautoscalers,
    ingresses,
    jobs,
    namespaces,
    persistentvolumeclaims,
    pods,
    replicasets,
    services,
    statefulsets,
)
from tether.engine.health.generations import Tracking
from tether.model.health import HealthResult
from tether.model.resources import Body

RBAC = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class Check:
    assess: Callable[[Body], HealthResult | None]
    handles_deletion: bool = False
    """True when the kind's status describes its own termination better than 'pending deletion'."""
    tracking: Tracking = Tracking.WHEN_PRESENT
    """How the kind's controller records observedGeneration; a custom rule replacing the check
    is held to the same generation rule (the check itself applies it where it reads status)."""


def _no_health(_obj: Body) -> HealthResult | None:
    return None


_NO_HEALTH = Check(_no_health)

BUILTIN: Mapping[tuple[str, str], Check] = MappingProxyType(
    {
        ("apps", "Deployment"): Check(deployments.assess, tracking=deployments.TRACKING),
        ("apps", "StatefulSet"): Check(statefulsets.assess, tracking=statefulsets.TRACKING),
        ("apps", "DaemonSet"): Check(daemonsets.assess, tracking=daemonsets.TRACKING),
        ("apps", "ReplicaSet"): Check(replicasets.assess, tracking=replicasets.TRACKING),
        ("", "Pod"): Check(pods.assess),
        ("batch", "Job"): Check(jobs.assess),
        ("batch", "CronJob"): Check(cronjobs.assess),
        ("", "Service"): Check(services.assess),
        ("networking.k8s.io", "Ingress"): Check(ingresses.assess),
        ("", "PersistentVolumeClaim"): Check(persistentvolumeclaims.assess),
        ("apiextensions.k8s.io", "CustomResourceDefinition"): Check(
            customresourcedefinitions.assess, handles_deletion=True
        ),
        ("apiregistration.k8s.io", "APIService"): Check(apiservices.assess),
        ("autoscaling", "HorizontalPodAutoscaler"): Check(horizontalpodautoscalers.assess),
        ("", "Namespace"): Check(namespaces.assess, handles_deletion=True),
        ("tether.dev", "Application"): Check(applications.assess, tracking=applications.TRACKING),
        ("", "ConfigMap"): _NO_HEALTH,
        ("", "Secret"): _NO_HEALTH,
        ("", "ServiceAccount"): _NO_HEALTH,
        ("", "Endpoints"): _NO_HEALTH,
        ("", "LimitRange"): _NO_HEALTH,
        ("", "ResourceQuota"): _NO_HEALTH,
        ("discovery.k8s.io", "EndpointSlice"): _NO_HEALTH,
        ("networking.k8s.io", "NetworkPolicy"): _NO_HEALTH,
        ("networking.k8s.io", "IngressClass"): _NO_HEALTH,
        (RBAC, "Role"): _NO_HEALTH,
        (RBAC, "RoleBinding"): _NO_HEALTH,
        (RBAC, "ClusterRole"): _NO_HEALTH,
        (RBAC, "ClusterRoleBinding"): _NO_HEALTH,
        ("scheduling.k8s.io", "PriorityClass"): _NO_HEALTH,
        ("storage.k8s.io", "StorageClass"): _NO_HEALTH,
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): _NO_HEALTH,
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): _NO_HEALTH,
    }
)


def lookup(group: str, kind: str) -> Check | None:
    return BUILTIN.get((group, kind))


def kinds_with_health() -> tuple[tuple[str, str], ...]:
    """The (group, kind) pairs that have a built-in check (not the no-health ones)."""
    return tuple(key for key, check in BUILTIN.items() if check is not _NO_HEALTH)
