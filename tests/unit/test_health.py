"""Health assessment, driven by fixtures in testdata/health/<kind>/<case>.yaml.

Each fixture is `{expect: {status, message_contains?}, object}`: a live object as the API server
returns it and the health tether must report for it. `status: null` means "this object has no
health" (assess returns None). Custom CEL rules are tested below the fixtures.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tether.engine import health
from tether.engine.health import CustomHealthRule, HealthRules, registry
from tether.model.health import HealthResult, HealthStatus

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "health"
FIXTURES = sorted(TESTDATA.glob("*/*.yaml"))

# Kinds whose status cannot express a state, so they have no fixture for it (checked below).
NO_DEGRADED_SIGNAL = {
    # Their controllers set no conditions and record no failure in status; failures show on Pods.
    "statefulset": "the StatefulSet controller reports no failures in status",
    "daemonset": "the DaemonSet controller reports no failures in status",
}
HAS_SUSPENDED = ("deployment", "job", "cronjob", "horizontalpodautoscaler", "application")


class _JsonLikeLoader(yaml.SafeLoader):
    """YAML as the API server's JSON would decode: timestamps stay strings."""


_JsonLikeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(path: Path) -> dict[str, Any]:
    doc = yaml.load(path.read_text(), Loader=_JsonLikeLoader)
    assert isinstance(doc, dict), f"{path}: expected a mapping"
    return doc


def case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def expected_statuses(kind_dir: str) -> set[str | None]:
    return {load(path)["expect"]["status"] for path in TESTDATA.glob(f"{kind_dir}/*.yaml")}


def deployment(name: str = "degraded-progress-deadline") -> dict[str, Any]:
    return load(TESTDATA / "deployment" / f"{name}.yaml")["object"]


def widget(**status: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "shop", "generation": 1},
        "spec": {"size": 3},
    }
    if status:
        obj["status"] = status
    return obj


def widget_rule(**expressions: str) -> HealthRules:
    return HealthRules((CustomHealthRule("example.com", "Widget", **expressions),))


# --- fixtures -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=case_id)
def test_fixture(path: Path) -> None:
    doc = load(path)
    expect = doc["expect"]
    result = health.assess(doc["object"])
    if expect["status"] is None:
        assert result is None
        return
    assert result is not None
    assert result.status == HealthStatus(expect["status"]), f"{result.status}: {result.message}"
    assert expect.get("message_contains", "") in result.message


@pytest.mark.parametrize("path", FIXTURES, ids=case_id)
def test_fixture_is_filed_under_its_kind(path: Path) -> None:
    doc = load(path)
    assert set(doc) == {"expect", "object"}
    assert set(doc["expect"]) <= {"status", "message_contains"}
    assert doc["object"]["kind"].lower() == path.parent.name


@pytest.mark.parametrize(
    ("group", "kind"), registry.kinds_with_health(), ids=lambda v: str(v) or "core"
)
def test_every_builtin_kind_has_healthy_progressing_and_degraded_fixtures(
    group: str, kind: str
) -> None:
    kind_dir = kind.lower()
    wanted = {"Healthy", "Progressing", "Degraded"}
    if kind_dir in NO_DEGRADED_SIGNAL:
        wanted.discard("Degraded")
    if kind_dir in HAS_SUSPENDED:
        wanted.add("Suspended")
    assert wanted <= expected_statuses(kind_dir)


def test_degraded_exceptions_really_have_no_degraded_fixtures() -> None:
    for kind_dir in NO_DEGRADED_SIGNAL:
        assert "Degraded" not in expected_statuses(kind_dir)


def test_the_generic_fallback_and_no_health_kinds_have_fixtures() -> None:
    statuses = set().union(*(expected_statuses(k) for k in ("kustomization", "certificate")))
    assert {"Healthy", "Progressing", "Degraded"} <= statuses | expected_statuses("helmrelease")
    assert expected_statuses("configmap") == {None}


def test_messages_are_one_line() -> None:
    result = health.assess(
        load(TESTDATA / "helmrelease/degraded-stalled-retries-exhausted.yaml")["object"]
    )
    assert result is not None
    assert "\n" not in result.message
    assert "  " not in result.message


# --- custom CEL rules -----------------------------------------------------------------------


def test_rule_for_a_custom_kind() -> None:
    rules = widget_rule(
        healthy="object.status.phase == 'Ready'",
        degraded="object.status.phase == 'Failed'",
        message="object.status.?message.orValue('')",
    )
    ready = health.assess(widget(phase="Ready"), rules)
    failed = health.assess(widget(phase="Failed", message="size 5 exceeds the quota of 4"), rules)
    assert ready == HealthResult(HealthStatus.HEALTHY, "")
    assert failed == HealthResult(HealthStatus.DEGRADED, "size 5 exceeds the quota of 4")


def test_rule_overrides_a_builtin_kind() -> None:
    obj = deployment()
    obj["metadata"]["annotations"]["example.com/canary"] = "done"
    rules = HealthRules.from_config(
        [
            {
                "group": "apps",
                "kind": "Deployment",
                "healthy": "object.metadata.annotations['example.com/canary'] == 'done'",
                "message": "'canary ' + object.metadata.annotations['example.com/canary']",
            }
        ]
    )
    builtin = health.assess(obj)
    assert builtin is not None
    assert builtin.status == HealthStatus.DEGRADED
    assert health.assess(obj, rules) == HealthResult(HealthStatus.HEALTHY, "canary done")


def test_rule_gives_health_to_a_kind_that_has_none() -> None:
    config_map = load(TESTDATA / "configmap/none.yaml")["object"]
    rules = HealthRules(
        (CustomHealthRule("", "ConfigMap", degraded="!has(object.data.LOG_LEVEL)"),)
    )
    assert health.assess(config_map) is None
    assert health.assess(config_map, rules) == HealthResult(HealthStatus.PROGRESSING, "")


WAITING_FOR_2 = "Waiting for the controller to observe generation 2"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            {"phase": "Ready", "observedGeneration": 1},
            HealthResult(HealthStatus.PROGRESSING, f"{WAITING_FOR_2} (last observed 1)"),
        ),
        (
            {"phase": "Ready", "observedGeneration": 3},
            HealthResult(HealthStatus.PROGRESSING, f"{WAITING_FOR_2} (last observed 3)"),
        ),
        ({"phase": "Ready", "observedGeneration": 2}, HealthResult(HealthStatus.HEALTHY, "")),
        # A Widget's controller may not write observedGeneration at all: kstatus's rule.
        ({"phase": "Ready"}, HealthResult(HealthStatus.HEALTHY, "")),
    ],
    ids=["stale", "ahead", "observed", "not-written"],
)
def test_rule_waits_for_the_controller_to_observe_the_generation(
    status: dict[str, Any], expected: HealthResult
) -> None:
    obj = widget(**status)
    obj["metadata"]["generation"] = 2
    assert health.assess(obj, widget_rule(healthy="object.status.phase == 'Ready'")) == expected


@pytest.mark.parametrize(
    "name",
    ["progressing-never-observed-scaled-to-zero", "progressing-generation-not-observed"],
)
def test_rule_overriding_a_deployment_keeps_its_generation_rule(name: str) -> None:
    """The deployment controller always writes observedGeneration: missing means unobserved."""
    rules = HealthRules((CustomHealthRule("apps", "Deployment", healthy="true"),))
    result = health.assess(deployment(name), rules)
    assert result is not None
    assert result.status == HealthStatus.PROGRESSING
    assert "Waiting for the controller to observe generation" in result.message
    assert health.assess(deployment("healthy"), rules) == HealthResult(HealthStatus.HEALTHY, "")


def test_broken_rule_is_unknown_even_while_the_object_lags() -> None:
    obj = widget(phase="Ready", observedGeneration=0)
    result = health.assess(obj, widget_rule(healthy="object.status.phase =="))
    assert result is not None
    assert result.status == HealthStatus.UNKNOWN


def test_rules_for_other_kinds_change_nothing() -> None:
    rules = widget_rule(healthy="true")
    assert health.assess(deployment(), rules) == health.assess(deployment())


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Failed", HealthStatus.DEGRADED),
        ("Paused", HealthStatus.SUSPENDED),
        ("Provisioning", HealthStatus.PROGRESSING),
        ("Ready", HealthStatus.HEALTHY),
        ("Mystery", HealthStatus.PROGRESSING),  # nothing true: not yet shown to be healthy
    ],
)
def test_rule_outcomes(phase: str, expected: HealthStatus) -> None:
    rules = widget_rule(
        healthy="object.status.phase in ['Ready', 'Failed', 'Paused']",  # overlaps on purpose
        progressing="object.status.phase == 'Provisioning'",
        degraded="object.status.phase == 'Failed'",
        suspended="object.status.phase == 'Paused'",
    )
    result = health.assess(widget(phase=phase), rules)
    assert result is not None
    assert result.status == expected


def test_compile_error_is_unknown_and_names_the_rule() -> None:
    rules = widget_rule(healthy="object.status.phase ==")
    result = health.assess(widget(phase="Ready"), rules)
    assert result is not None
    assert result.status == HealthStatus.UNKNOWN
    assert result.message.startswith(
        "health rule for Widget.example.com: `healthy` expression does not compile: "
    )
    assert "Syntax error" in result.message
    assert rules.errors == (result.message,)


def test_type_error_is_caught_at_compile_time() -> None:
    rule = CustomHealthRule("example.com", "Widget", healthy="size(object.spec)", message="1 + 1")
    assert rule.error == (
        "health rule for Widget.example.com: `healthy` expression must return bool, but returns int"
    )


def test_missing_field_is_unknown_with_a_hint() -> None:
    result = health.assess(widget(), widget_rule(healthy="object.status.phase == 'Ready'"))
    assert result is not None
    assert result.status == HealthStatus.UNKNOWN
    assert "`healthy` expression failed: no field 'status'" in result.message
    assert "has(" in result.message


def test_guarded_expression_handles_a_missing_status() -> None:
    rules = widget_rule(healthy="has(object.status) && object.status.phase == 'Ready'")
    assert health.assess(widget(), rules) == HealthResult(HealthStatus.PROGRESSING, "")


def test_expression_of_the_wrong_type_at_runtime_is_unknown() -> None:
    result = health.assess(widget(phase="Ready"), widget_rule(healthy="object.status.phase"))
    assert result == HealthResult(
        HealthStatus.UNKNOWN,
        "health rule for Widget.example.com: `healthy` expression returned string, expected bool",
    )


def test_message_expression() -> None:
    rules = widget_rule(
        healthy="object.status.readyReplicas == object.spec.size",
        message="'%d of %d ready'.format([object.status.readyReplicas, object.spec.size])",
    )
    assert health.assess(widget(readyReplicas=2), rules) == HealthResult(
        HealthStatus.PROGRESSING, "2 of 3 ready"
    )


def test_failing_message_expression_is_unknown() -> None:
    rules = widget_rule(healthy="true", message="object.status.message")
    result = health.assess(widget(phase="Ready"), rules)
    assert result is not None
    assert result.status == HealthStatus.UNKNOWN
    assert "`message` expression failed" in result.message


def test_deletion_comes_before_rules() -> None:
    obj = widget(phase="Ready")
    obj["metadata"]["deletionTimestamp"] = "2025-03-07T08:00:00Z"
    result = health.assess(obj, widget_rule(healthy="true"))
    assert result == HealthResult(HealthStatus.PROGRESSING, "Pending deletion")


def test_rules_are_immutable_values() -> None:
    rule = CustomHealthRule("example.com", "Widget", healthy="true")
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.healthy = "false"  # type: ignore[misc]
    assert rule == CustomHealthRule("example.com", "Widget", healthy="true")
    assert hash(rule) == hash(CustomHealthRule("example.com", "Widget", healthy="true"))


def test_rules_survive_deepcopy_of_the_configuration_holding_them() -> None:
    rules = widget_rule(healthy="true")
    config = copy.deepcopy({"health": rules})
    assert config["health"] is rules
    assert health.assess(widget(), config["health"]) == HealthResult(HealthStatus.HEALTHY, "")


def test_from_config() -> None:
    rules = HealthRules.from_config(
        [
            {"group": "example.com", "kind": "Widget", "healthy": "true"},
            {"kind": "ConfigMap", "degraded": "false"},
        ]
    )
    assert len(rules) == 2
    assert rules.get("", "ConfigMap") == CustomHealthRule("", "ConfigMap", degraded="false")
    assert rules.get("example.com", "Gadget") is None
    assert rules.errors == ()


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ("Widget", "expected a mapping"),
        ({"group": "example.com", "healthy": "true"}, "`kind` is required"),
        ({"kind": "Widget", "healthy": "true", "ready": "true"}, "unknown keys ready"),
        ({"kind": "Widget", "healthy": True}, "every value must be a string"),
        ({"kind": "Widget", "message": "'hi'"}, "needs at least one of"),
    ],
)
def test_from_config_rejects_malformed_entries(entry: Any, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        HealthRules.from_config([{"kind": "Gadget", "healthy": "true"}, entry])


def test_duplicate_rules_are_rejected() -> None:
    entry = {"group": "example.com", "kind": "Widget", "healthy": "true"}
    with pytest.raises(ValueError, match=r"two health rules for Widget\.example\.com"):
        HealthRules.from_config([entry, dict(entry)])


# --- robustness -----------------------------------------------------------------------------

FIELD_NAMES = (
    "status", "spec", "metadata", "conditions", "type", "reason", "message", "phase", "replicas",
    "readyReplicas", "availableReplicas", "updatedReplicas", "observedGeneration", "generation",
    "containerStatuses", "initContainerStatuses", "state", "waiting", "terminated", "lastState",
    "loadBalancer", "ingress", "ports", "error", "active", "lastScheduleTime", "suspend", "paused",
    "health", "operation", "operationState", "deletionTimestamp", "finalizers", "annotations",
    "updateStrategy", "rollingUpdate", "partition", "allocatedResourceStatuses", "restartPolicy",
    "desiredNumberScheduled", "numberAvailable", "updatedNumberScheduled", "exitCode", "name",
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 5),
    st.integers(-(2**70), 2**70),  # beyond int64: CEL cannot represent these
    st.floats(),
    st.sampled_from(["True", "False", "Running", "Failed", "Bound", "2025-03-05T02:00:00Z", ""]),
    st.text(max_size=8),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    key=st.sampled_from(registry.kinds_with_health()),
    metadata=JSON,
    spec=JSON,
    status=JSON,
)
def test_assess_never_raises_on_odd_objects(
    key: tuple[str, str], metadata: Any, spec: Any, status: Any
) -> None:
    group, kind = key
    api_version = f"{group}/v1" if group else "v1"
    obj = {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}
    obj["status"] = status
    before = copy.deepcopy(obj)
    result = health.assess(obj)
    assert result is None or isinstance(result.status, HealthStatus)
    assert obj == before  # assessment never mutates its input


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(status=JSON)
def test_rules_never_raise_on_odd_objects(status: Any) -> None:
    rules = widget_rule(
        healthy="has(object.status) && object.status.phase == 'Ready'",
        degraded="object.?status.?conditions.orValue([]).exists(c, c.type == 'Failed')",
        message="object.?status.?message.orValue('no message')",
    )
    obj = widget()
    obj["status"] = status
    result = health.assess(obj, rules)
    assert isinstance(result, HealthResult)
