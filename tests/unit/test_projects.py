"""Project policy as data: testdata/projects/{checks,windows,invalid}/<case>.yaml.

- checks/: a project spec, an Application spec and rendered objects, and the violations expected
  (rule, subject, and words of the message), in order;
- windows/: sync windows and verdicts at given instants (a fake clock), plus when syncing reopens;
- invalid/: project specs parsing must refuse, with words of the error.

Properties the fixtures cannot pin down are checked with hypothesis below.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.model.app import parse_spec
from tether.policy import accounts, violations, windows
from tether.policy import projectspecs as policies
from tether.policy.projectspecs import ProjectSpec

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "projects"
CHECKS = sorted((TESTDATA / "checks").glob("*.yaml"))
WINDOWS = sorted((TESTDATA / "windows").glob("*.yaml"))
INVALID = sorted((TESTDATA / "invalid").glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), f"{path}: expected a mapping"
    return doc


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _scopes(case: dict[str, Any]) -> violations.Scopes:
    """Explicit scopes, else as the engine derives them: a namespace marks a namespaced kind."""
    explicit = {tuple(k.rsplit("/", 1)): v for k, v in (case.get("scopes") or {}).items()}
    derived = {
        (o["apiVersion"].rpartition("/")[0], o["kind"]): bool(o["metadata"].get("namespace"))
        for o in case["objects"]
    }
    return {**derived, **explicit}


# ---- violations ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", CHECKS, ids=[p.stem for p in CHECKS])
def test_check_case(path: Path) -> None:
    case = load(path)
    project = policies.parse("p", case["project"])
    found = violations.check(project, parse_spec(case["app"]), case["objects"], _scopes(case))
    expected = case["expect"]
    assert [(str(v.rule), v.subject) for v in found] == [
        (e["rule"], e["subject"]) for e in expected
    ], [v.message for v in found]
    for violation, want in zip(found, expected, strict=True):
        assert want["says"] in violation.message


def test_check_app_judges_only_the_app() -> None:
    project = policies.parse("p", {"sourceRepos": ["*"], "destinations": []})
    spec = parse_spec({"source": {"repoURL": "git://x/y.git"}, "destination": {"namespace": "a"}})
    assert [v.rule for v in violations.check_app(project, spec)] == [violations.Rule.DESTINATIONS]


def test_summary_names_the_project_and_caps_the_list() -> None:
    project = ProjectSpec("team-a")
    many = [violations.Violation(violations.Rule.SOURCE_REPOS, str(i), f"v{i}") for i in range(13)]
    text = violations.summary(project, many)
    assert text.startswith("project team-a refuses this: v0; v1;")
    assert "v9" in text and "v10" not in text and text.endswith("and 3 more")


def test_the_default_project_permits_what_tether_did_before_projects() -> None:
    project = policies.parse("default", policies.PERMISSIVE_SPEC)
    spec = parse_spec(
        {"source": {"repoURL": "ssh://git@h/x"}, "destination": {"cluster": "c", "namespace": ""}}
    )
    objects = [
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
        },
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "any"}},
    ]
    assert violations.check(project, spec, objects, {}) == []
    assert project.is_default


names = st.text(alphabet="abcdefghij-", min_size=1, max_size=12)


@given(cluster=names, namespace=names, allows=st.lists(st.tuples(names, names), max_size=4))
def test_a_matching_deny_entry_always_wins(
    cluster: str, namespace: str, allows: list[tuple[str, str]]
) -> None:
    entries = [{"cluster": c, "namespace": n} for c, n in allows]
    entries.insert(len(entries) // 2, {"cluster": "*", "namespace": f"!{namespace}"})
    entries.append({"cluster": "*", "namespace": "*"})
    project = policies.parse("p", {"destinations": entries})
    assert "denied" in violations.destination_denial(project, cluster, namespace)


@given(group=names | st.just(""), kind=names)
def test_kinds_without_lists_follow_argo_cd(group: str, kind: str) -> None:
    """No lists at all: every namespaced kind is allowed, every cluster-scoped kind refused."""
    project = policies.parse(
        "p", {"sourceRepos": ["*"], "destinations": [{"cluster": "*", "namespace": "*"}]}
    )
    spec = parse_spec({"source": {"repoURL": "r"}, "destination": {"namespace": "n"}})
    api_version = f"{group}/v1" if group else "v1"
    namespaced = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "x", "namespace": "n"},
    }
    cluster_wide = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}
    assert violations.check(project, spec, [namespaced], {(group, kind): True}) == []
    refused = violations.check(project, spec, [cluster_wide], {(group, kind): False})
    assert [v.rule for v in refused] == [violations.Rule.CLUSTER_RESOURCE_WHITELIST]


# ---- service accounts ----------------------------------------------------------------------


def _impersonating(*entries: dict[str, str]) -> ProjectSpec:
    return policies.parse("p", {"destinationServiceAccounts": list(entries)})


@pytest.mark.parametrize(
    ("entries", "cluster", "namespace", "expected"),
    [
        ([], "in-cluster", "web", None),
        ([{"defaultServiceAccount": "deployer"}], "in-cluster", "web", "web:deployer"),
        ([{"defaultServiceAccount": "ops:deployer"}], "in-cluster", "web", "ops:deployer"),
        (
            [
                {"cluster": "prod", "namespace": "*", "defaultServiceAccount": "prod-sa"},
                {"cluster": "*", "namespace": "web*", "defaultServiceAccount": "first"},
                {"cluster": "*", "namespace": "*", "defaultServiceAccount": "second"},
            ],
            "in-cluster",
            "web-2",
            "web-2:first",
        ),
    ],
    ids=["none", "in-destination-namespace", "own-namespace", "first-match-wins"],
)
def test_service_account_for(
    entries: list[dict[str, str]], cluster: str, namespace: str, expected: str | None
) -> None:
    assert accounts.service_account_for(_impersonating(*entries), cluster, namespace) == expected


def test_an_unresolvable_service_account_is_refused_not_skipped() -> None:
    project = _impersonating({"namespace": "web", "defaultServiceAccount": "deployer"})
    with pytest.raises(accounts.NoServiceAccount, match="no destinationServiceAccounts entry"):
        accounts.service_account_for(project, "in-cluster", "other")
    nameless = _impersonating({"defaultServiceAccount": "deployer"})
    with pytest.raises(accounts.NoServiceAccount, match="without a namespace"):
        accounts.service_account_for(nameless, "in-cluster", "")


def test_identity_is_what_the_api_server_knows_a_service_account_as() -> None:
    who = accounts.identity("web:deployer")
    assert who.user == "system:serviceaccount:web:deployer"
    assert who.groups == ("system:serviceaccounts", "system:serviceaccounts:web")


# ---- sync windows --------------------------------------------------------------------------


@pytest.mark.parametrize("path", WINDOWS, ids=[p.stem for p in WINDOWS])
def test_window_case(path: Path) -> None:
    case = load(path)
    project = policies.parse("p", case["project"])
    app = case["app"]
    where = (project, app["name"], app["namespace"], app["cluster"])
    for check in case["checks"]:
        verdict = windows.window_verdict(*where, at(check["at"]), check["manual"])
        assert verdict.allowed is check["allowed"], (check, verdict)
        assert check.get("says", "") in verdict.reason, (check, verdict)
    for check in case.get("reopens") or []:
        found = windows.reopens_at(*where, at(check["at"]), check["manual"])
        assert found == (at(check["expect"]) if check["expect"] else None), check


def test_the_verdict_unpacks_as_allowed_and_reason() -> None:
    allowed, reason = windows.window_verdict(
        ProjectSpec("p"), "a", "n", "c", at("2026-01-01T00:00:00Z"), False
    )
    assert allowed and reason == "no sync window applies"


def _matches_simply(schedule: str, moment: dt.datetime) -> bool:
    """An independent matcher for the two schedule shapes generated below (UTC, whole minutes)."""
    minute, hour = schedule.split()[:2]
    if minute.startswith("*/"):
        return moment.minute % int(minute[2:]) == 0
    return moment.minute == int(minute) and moment.hour == int(hour)


schedules = st.one_of(
    st.builds(lambda m, h: f"{m} {h} * * *", st.integers(0, 59), st.integers(0, 23)),
    st.builds(lambda k: f"*/{k} * * * *", st.sampled_from([2, 5, 7, 15, 30])),
)
instants = st.datetimes(
    min_value=dt.datetime(2026, 1, 1),
    max_value=dt.datetime(2026, 12, 31),
    timezones=st.just(dt.UTC),
)


@settings(max_examples=60, deadline=None)
@given(schedule=schedules, minutes=st.integers(1, 180), now=instants)
def test_a_window_is_active_exactly_within_duration_of_a_firing(
    schedule: str, minutes: int, now: dt.datetime
) -> None:
    window = policies.SyncWindow(policies.WindowKind.DENY, schedule, minutes * 60.0, f"{minutes}m")
    start = now.replace(second=0, microsecond=0)
    fired = [start - dt.timedelta(minutes=i) for i in range(minutes + 1)]
    expected = any(
        _matches_simply(schedule, f) and f <= now < f + dt.timedelta(minutes=minutes) for f in fired
    )
    assert windows.is_active(window, now) is expected


@settings(max_examples=40, deadline=None)
@given(
    schedule=schedules,
    minutes=st.integers(1, 600),
    now=instants,
    kind=st.sampled_from(["allow", "deny"]),
)
def test_syncing_reopens_at_the_first_allowed_moment(
    schedule: str, minutes: int, now: dt.datetime, kind: str
) -> None:
    spec = {
        "syncWindows": [
            {"kind": kind, "schedule": schedule, "duration": f"{minutes}m", "applications": ["*"]}
        ]
    }
    project = policies.parse("p", spec)
    where = (project, "app", "ns", "c")
    if windows.window_verdict(*where, now, False).allowed:
        return
    reopens = windows.reopens_at(*where, now, False)
    if reopens is None:  # a deny window that fires again before it closes
        assert kind == "deny"
        return
    assert reopens > now and windows.window_verdict(*where, reopens, False).allowed
    step = (reopens - now) / 7
    for i in range(1, 7):
        assert not windows.window_verdict(*where, now + step * i, False).allowed


# ---- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_project(path: Path) -> None:
    case = load(path)
    with pytest.raises(ValueError, match=re.escape(case["error"])):
        policies.parse("p", case["spec"])


def test_parse_keeps_every_field_another_engineer_reads() -> None:
    spec = {
        "description": "team a",
        "roles": [
            {
                "name": "deployer",
                "description": "CI",
                "policies": ["p, proj:a:deployer, applications, sync, a/*, allow"],
                "groups": ["team-a"],
                "jwtTokens": [{"id": "t1", "iat": 1700000000, "exp": 1800000000}],
            }
        ],
        "orphanedResources": {"warn": True},
    }
    project = policies.parse("a", spec)
    role = project.roles[0]
    assert (
        project.description == "team a"
        and project.orphaned_resources == policies.OrphanedResources(True)
    )
    assert role.policies == ("p, proj:a:deployer, applications, sync, a/*, allow",)
    assert role.groups == ("team-a",)
    assert role.jwt_tokens == (policies.JwtToken("t1", 1700000000, 1800000000),)


def test_the_crd_schema_covers_every_field_parse_reads() -> None:
    from tether import crds

    crd = next(c for c in crds.load_all() if c["metadata"]["name"] == "projects.tether.dev")
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert set(schema["properties"]) == {
        "description",
        "sourceRepos",
        "destinations",
        "clusterResourceWhitelist",
        "clusterResourceBlacklist",
        "namespaceResourceWhitelist",
        "namespaceResourceBlacklist",
        "roles",
        "syncWindows",
        "destinationServiceAccounts",
        "orphanedResources",
    }

    def described(node: dict[str, Any], path: str) -> None:
        for name, child in (node.get("properties") or {}).items():
            assert child.get("description"), f"{path}.{name} has no description (kubectl explain)"
            described(child.get("items") or child, f"{path}.{name}")

    described(schema, "spec")
