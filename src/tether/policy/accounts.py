"""Which service account an app's writes to its destination run as (`destinationServiceAccounts`).

With entries, tether impersonates the service account of the first entry matching the app's
destination for every write (dry runs, applies, prunes, hooks), so the destination's RBAC is the
last line of defence. A project that lists entries but has none for a destination refuses it
rather than fall back to tether's own, broader identity (Argo CD does the same once impersonation
is on).
"""

from __future__ import annotations

from dataclasses import dataclass

from tether.policy import globs
from tether.policy.projectspecs import ProjectSpec


class NoServiceAccount(ValueError):
    """The project impersonates, but cannot name an account for this destination."""


@dataclass(frozen=True)
class Identity:
    """What the API server is told to act as: a service account's user and groups."""

    user: str
    groups: tuple[str, ...]


def service_account_for(project: ProjectSpec, cluster: str, namespace: str) -> str | None:
    """'namespace:name' of the account writes to this destination run as; None when the project
    does not impersonate. NoServiceAccount when it does but no entry fits."""
    entries = project.destination_service_accounts
    if not entries:
        return None
    entry = next(
        (
            e
            for e in entries
            if globs.matches(e.cluster, cluster) and globs.matches(e.namespace, namespace)
        ),
        None,
    )
    if entry is None:
        raise NoServiceAccount(
            f"no destinationServiceAccounts entry of project {project.name} matches cluster "
            f"{cluster}, namespace {namespace or '(none)'}"
        )
    account_namespace, _, name = entry.default_service_account.rpartition(":")
    account_namespace = account_namespace or namespace
    if not account_namespace:
        raise NoServiceAccount(
            f"project {project.name} names service account {name} without a namespace, and the "
            "app has no destination namespace to find it in"
        )
    return f"{account_namespace}:{name}"


def identity(account: str) -> Identity:
    """The impersonation headers' values for 'namespace:name', as the API server expects them."""
    namespace, _, name = account.partition(":")
    return Identity(
        f"system:serviceaccount:{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}"),
    )
