"""Authorization: decisions driven by fixtures in testdata/rbac/, then the loader against the real
control plane (the ConfigMap and Project objects it reads, and how fast a change takes effect).

Each decision fixture is a policy (policy.csv, default role, Project objects) and a list of
checks `{subject, groups, resource, action, object, expect}`; errors.yaml lists policies that
must be rejected with the number of the offending line.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from tests.support.waiting import wait_for
from tether.authz import policies, projectroles
from tether.authz.authorizer import Authorizer
from tether.authz.loader import LoaderOptions, PolicyLoader
from tether.authz.policies import Action, PolicyError, Resource
from tether.cluster.client import KubeClient
from tether.model.principals import Principal, PrincipalKind

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "rbac"
CASES = sorted(p for p in TESTDATA.glob("*.yaml") if p.name != "errors.yaml")
ERRORS = yaml.safe_load((TESTDATA / "errors.yaml").read_text())


def _authorizer(case: dict[str, Any]) -> Authorizer:
    lines = [
        line for p in case.get("projects") or [] for line in projectroles.roles_from_project(p)
    ]
    return Authorizer.from_config(case.get("policy") or "", case.get("default") or "", lines)


def _principal(check: dict[str, Any]) -> Principal:
    return Principal(
        check["subject"],
        PrincipalKind(check.get("kind", "user")),
        tuple(check.get("groups") or ()),
        project_role=check.get("role", ""),
    )


def _checks() -> list[Any]:
    params = []
    for path in CASES:
        for index, check in enumerate(yaml.safe_load(path.read_text())["checks"]):
            what = f"{check['subject']}-{check['action']}-{check['object']}"
            params.append(pytest.param(path, check, id=f"{path.stem}[{index}]:{what}"))
    return params


@pytest.mark.parametrize(("path", "check"), _checks())
def test_decision(path: Path, check: dict[str, Any]) -> None:
    authorizer = _authorizer(yaml.safe_load(path.read_text()))
    principal = _principal(check)
    got = authorizer.allowed(
        principal, Resource(check["resource"]), Action(check["action"]), check["object"]
    )
    assert ("allow" if got else "deny") == check["expect"], authorizer.roles(principal)


@pytest.mark.parametrize("case", ERRORS, ids=[c["id"] for c in ERRORS])
def test_unusable_lines_reject_the_policy_naming_each_line(case: dict[str, Any]) -> None:
    with pytest.raises(PolicyError) as raised:
        Authorizer.from_config(case["policy"])
    found = raised.value.problems
    assert [p.number for p in found] == [e["line"] for e in case["problems"]]
    for problem, expected in zip(found, case["problems"], strict=True):
        assert expected["reason"] in problem.reason
        assert f"policy.csv line {expected['line']}:" in str(raised.value)


def test_project_role_lines_are_reported_with_their_source() -> None:
    with pytest.raises(PolicyError, match="project roles line 2"):
        Authorizer.from_config("", project_roles=["g, a, role:x", "p, b, nothing"])


def test_outside_reaches_are_ignored_with_a_warning() -> None:
    project = {
        "metadata": {"name": "team-a"},
        "spec": {
            "roles": [
                {
                    "name": "dev",
                    "groups": ["devs"],
                    "policies": [
                        "# comments and blank lines are fine",
                        "p, proj:team-a:dev, applications, get, team-a/*, allow",
                        "",
                        "p, proj:team-a:dev, applications, get, team-b/*, allow",
                    ],
                },
                {"name": "bad name", "policies": ["p, x, applications, get, *, allow"]},
            ]
        },
    }
    with capture_logs() as logs:
        lines = projectroles.roles_from_project(project)
    assert lines == [
        "p, proj:team-a:dev, applications, get, team-a/*, allow",
        "g, devs, proj:team-a:dev",
    ]
    warned = [e for e in logs if e["log_level"] == "warning"]
    assert [e["event"] for e in warned] == [
        "project role policy ignored",
        "project role ignored: it needs a name",
    ]
    assert warned[0]["policy"] == 4 and "team-a/..." in warned[0]["reason"]


def test_a_project_cannot_break_the_global_policy() -> None:
    """Whatever a project's editor writes, the lines it gives parse: otherwise the whole policy
    would be rejected, and everyone locked out."""
    project = {
        "metadata": {"name": "team-a"},
        "spec": {
            "roles": [
                {
                    "name": "sneaky",
                    "groups": ["team[1]", "line\nbreak", "", 7, " padded "],
                    "policies": ['p, proj:team-a:sneaky, applications, get, "team-a/x\ny", allow'],
                },
                {"name": "odd", "groups": "devs", "policies": "p, proj:team-a:odd, *, *, *, allow"},
            ]
        },
    }
    lines = projectroles.roles_from_project(project)
    authorizer = Authorizer.from_config("g, root, role:admin", project_roles=lines)
    root = Principal("root", PrincipalKind.USER, ("padded",))
    assert authorizer.allowed(root, Resource.APPLICATIONS, Action.DELETE, "team-b/web")
    assert not authorizer.allowed(root, Resource.APPLICATIONS, Action.GET, "team-a/x")
    assert not any("team[1]" in line or "devs" in line for line in lines)


def test_a_project_without_roles_adds_nothing() -> None:
    assert projectroles.roles_from_project({"metadata": {"name": "p"}, "spec": {}}) == []
    assert projectroles.roles_from_project({}) == []


_names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1
).filter(lambda s: s.strip() == s and not any(c in s for c in "*?[#") and s[0] != '"')


@given(member=_names, role=_names)
def test_formatted_lines_read_back_the_same(member: str, role: str) -> None:
    binding = policies.Binding(member, role)
    assert policies.parse_line(policies.format_line(binding)) == binding


def test_visible_keeps_order_and_names_objects_by_key() -> None:
    authorizer = Authorizer.from_config("p, devs, applications, get, team-a/*, allow")
    dev = Principal("u", PrincipalKind.USER, ("devs",))
    apps = [{"id": "team-a/b"}, {"id": "team-b/a"}, {"id": "team-a/a"}]
    assert authorizer.visible(dev, Resource.APPLICATIONS, apps, key=lambda a: a["id"]) == [
        apps[0],
        apps[2],
    ]
    assert authorizer.visible(dev, Resource.CLUSTERS, ["in-cluster"]) == []


def test_a_misspelt_request_fails_loudly() -> None:
    authorizer = Authorizer.from_config("", "role:admin")
    user = Principal("u", PrincipalKind.USER)
    with pytest.raises(ValueError, match="application"):
        authorizer.allowed(user, "application", Action.GET, "a/b")  # type: ignore[arg-type]


def test_deny_all_allows_nothing_and_says_why() -> None:
    authorizer = Authorizer.deny_all("RBAC policy rejected: line 3")
    admin = Principal("root", PrincipalKind.USER, ("role:admin",))
    assert not authorizer.allowed(admin, Resource.APPLICATIONS, Action.GET, "a/b")
    assert authorizer.visible(admin, Resource.APPLICATIONS, ["a/b"]) == []
    assert "line 3" in authorizer.error


def test_a_list_of_a_thousand_apps_is_filtered_quickly() -> None:
    lines = [f"p, proj:team-{i}:dev, applications, *, team-{i}/*, allow" for i in range(200)]
    lines += [f"g, group-{i}, proj:team-{i}:dev" for i in range(200)]
    authorizer = Authorizer.from_config("\n".join(lines), "role:readonly")
    user = Principal("u", PrincipalKind.USER, ("group-1", "group-2"))
    apps = [f"team-{i % 300}/app-{i}" for i in range(1000)]
    started = time.perf_counter()
    synced = [a for a in apps if authorizer.allowed(user, Resource.APPLICATIONS, Action.SYNC, a)]
    assert len(synced) == 8  # team-1/... and team-2/... (i % 300 in {1, 2})
    assert time.perf_counter() - started < 5  # ~0.2 s here; the whole policy would take ~10x


# ---- the loader, against the real control plane ---------------------------------------------

# A stand-in for the Project CRD (being added under src/tether/crds): same shape, own group, so
# this test neither depends on nor disturbs the real one.
TEST_GROUP = "rbac-test.tether.dev"
PROJECT_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"projects.{TEST_GROUP}"},
    "spec": {
        "group": TEST_GROUP,
        "scope": "Namespaced",
        "names": {"plural": "projects", "singular": "project", "kind": "Project"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture(loop_scope="session")
async def project_kind(kube: KubeClient) -> AsyncIterator[str]:
    await kube.apply(PROJECT_CRD, field_manager="tether-tests", force=True)
    await wait_for(
        lambda: kube.list(f"{TEST_GROUP}/v1", "Project", "default"),
        lambda _listed: True,
        what="the stand-in Project CRD served",
    )
    yield f"{TEST_GROUP}/v1"


async def _set_policy(kube: KubeClient, namespace: str, data: dict[str, str]) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "tether-rbac", "namespace": namespace},
        "data": data,
    }
    await kube.apply(body, field_manager="tether-tests", force=True)


ALICE = Principal("alice", PrincipalKind.USER, ("devs",))


def _can_sync(authorizer: Authorizer, obj: str = "team-a/web") -> bool:
    return authorizer.allowed(ALICE, Resource.APPLICATIONS, Action.SYNC, obj)


@pytest.mark.cluster
async def test_loader_reads_the_config_map_and_rereads_after_the_ttl(
    kube: KubeClient, namespace: str
) -> None:
    clock = Clock()
    loader = PolicyLoader(kube, LoaderOptions(namespace=namespace, ttl_seconds=10), clock)
    assert not _can_sync(await loader.authorizer())  # no ConfigMap: nothing granted

    await _set_policy(
        kube, namespace, {"policy.csv": "p, devs, applications, sync, team-a/*, allow"}
    )
    assert not _can_sync(await loader.authorizer())  # still cached
    clock.now += 10
    first = await loader.authorizer()
    assert _can_sync(first)
    assert not first.allowed(ALICE, Resource.CLUSTERS, Action.GET, "in-cluster")

    await _set_policy(
        kube,
        namespace,
        {
            "policy.csv": "p, devs, applications, sync, team-a/*, allow",
            "policy.default": "role:readonly",
        },
    )
    clock.now += 10
    second = await loader.authorizer()
    assert second.allowed(ALICE, Resource.CLUSTERS, Action.GET, "in-cluster")
    clock.now += 10
    assert await loader.authorizer() is second  # unchanged input: the same authorizer


@pytest.mark.cluster
async def test_a_broken_policy_denies_everything_until_fixed(
    kube: KubeClient, namespace: str
) -> None:
    loader = PolicyLoader(kube, LoaderOptions(namespace=namespace, ttl_seconds=0.2))
    await _set_policy(kube, namespace, {"policy.csv": "g, alice, role:admin"})
    assert _can_sync(await loader.authorizer())

    # Someone means to revoke alice's admin and narrow it, and mistypes the new line.
    broken = "p, alice, applications, sync, team-a/*, alow\n"
    await _set_policy(kube, namespace, {"policy.csv": broken})
    denied = await wait_for(
        loader.authorizer, lambda a: not _can_sync(a), what="the broken policy", timeout=10
    )
    assert "policy.csv line 1" in denied.error and "allow or deny" in denied.error

    await _set_policy(kube, namespace, {"policy.csv": broken.replace("alow", "allow")})
    fixed = await wait_for(loader.authorizer, _can_sync, what="the fixed policy", timeout=10)
    assert fixed.error == ""
    assert not _can_sync(fixed, "team-b/web")


@pytest.mark.cluster
async def test_project_roles_come_from_project_objects_within_seconds(
    kube: KubeClient, namespace: str, project_kind: str
) -> None:
    options = LoaderOptions(namespace=namespace, project_api_version=project_kind)
    loader = PolicyLoader(kube, options)
    team = f"team-{uuid.uuid4().hex[:6]}"
    project = {
        "apiVersion": project_kind,
        "kind": "Project",
        "metadata": {"name": team, "namespace": namespace},
        "spec": {
            "roles": [
                {
                    "name": "deployers",
                    "groups": ["devs"],
                    "policies": [
                        f"p, proj:{team}:deployers, applications, sync, {team}/*, allow",
                        f"p, proj:{team}:deployers, applications, sync, other/*, allow",
                    ],
                }
            ]
        },
    }
    assert not _can_sync(await loader.authorizer(), f"{team}/web")
    started = time.monotonic()
    await kube.apply(project, field_manager="tether-tests", force=True)
    granted = await wait_for(
        loader.authorizer,
        lambda a: _can_sync(a, f"{team}/web"),
        what="the project role in effect",
        timeout=15,
    )
    assert time.monotonic() - started < options.ttl_seconds + 3
    assert not _can_sync(granted, "other/web")  # reaching outside the project is ignored

    await kube.delete(project_kind, "Project", team, namespace)
    await wait_for(
        loader.authorizer,
        lambda a: not _can_sync(a, f"{team}/web"),
        what="the project role gone",
        timeout=15,
    )


@pytest.mark.cluster
async def test_without_a_project_resource_there_are_no_project_roles(
    kube: KubeClient, namespace: str
) -> None:
    options = LoaderOptions(namespace=namespace, project_api_version="absent.tether.dev/v1")
    await _set_policy(kube, namespace, {"policy.csv": "g, devs, role:admin"})
    assert _can_sync(await PolicyLoader(kube, options).authorizer())
