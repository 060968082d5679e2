"""Pure engine values: tracking ids, operation state, conditions, inventory, spec parsing."""

from __future__ import annotations

import re

import pytest

from tether.engine import conditions, history, inventory, tracking
from tether.engine.operation import (
    InitiatedBy,
    OperationPhase,
    OperationRequest,
    OperationState,
    ResourceResult,
    ResultStatus,
    Selector,
    SyncRequest,
)
from tether.model.app import parse_duration, parse_spec
from tether.model.resources import ResourceKey


def test_tracking_id_names_the_app_and_the_object_itself() -> None:
    app = tracking.AppRef("tether", "web")
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "prod"},
    }
    tracked = tracking.with_tracking(obj, app)
    assert tracking.owner(tracked) == app
    assert "annotations" not in obj["metadata"]  # the input is not modified
    copy = {**tracked, "metadata": {**tracked["metadata"], "name": "web-copy"}}
    assert tracking.owner(copy) is None  # a copy of a tracked object is not adopted


def test_operation_state_round_trips_through_status() -> None:
    state = OperationState(
        id="abc",
        phase=OperationPhase.RUNNING,
        started_at="2026-01-01T00:00:00Z",
        request=OperationRequest(
            SyncRequest(
                revision="v1.2.0", prune=True, resources=(Selector("apps", "Deployment", "web"),)
            ),
            InitiatedBy(username="alice"),
        ),
        revision="v1.2.0@sha1:" + "a" * 40,
        group="Sync/0",
        group_status="applied",
        resources=(
            ResourceResult(
                ResourceKey("apps", "Deployment", "n", "web"), "v1", ResultStatus.SYNCED, "created"
            ),
        ),
    )
    assert OperationState.from_dict(state.to_dict()) == state


def test_selector_parsing() -> None:
    assert Selector.parse("apps:Deployment:web") == Selector("apps", "Deployment", "web")
    assert Selector.parse(":ConfigMap:ns/c") == Selector("", "ConfigMap", "c", "ns")


def test_conditions_keep_transition_time_while_status_holds() -> None:
    first = conditions.merge([], conditions.ready("ok"), "t1", 1)
    again = conditions.merge(first, conditions.ready("still ok"), "t2", 2)
    ready = next(c for c in again if c["type"] == "Ready")
    assert (
        ready["lastTransitionTime"] == "t1"
        and ready["message"] == "still ok"
        and ready["observedGeneration"] == 2
    )
    failed = conditions.merge(
        again, conditions.failed(conditions.Reason.RENDER_FAILED, "bad", stalled=True), "t3", 2
    )
    assert [(c["type"], c["status"]) for c in failed] == [
        ("Ready", "False"),
        ("Reconciling", "False"),
        ("Stalled", "True"),
    ]
    assert next(c for c in failed if c["type"] == "Ready")["lastTransitionTime"] == "t3"


def test_inventory_ids_round_trip_and_stale_entries() -> None:
    key = ResourceKey("apps", "Deployment", "prod", "web")
    assert ResourceKey.from_inventory_id(key.inventory_id()) == key
    entries = inventory.parse(
        inventory.to_status(
            [
                inventory.Entry(key, "v1"),
                inventory.Entry(ResourceKey("", "Namespace", "", "prod"), "v1"),
            ]
        )
    )
    assert [e.key for e in inventory.stale(entries, [key])] == [
        ResourceKey("", "Namespace", "", "prod")
    ]


def test_history_is_trimmed_to_the_limit() -> None:
    entries: list = []
    for n in range(5):
        entries = history.append(entries, {"revision": str(n)}, limit=3)
    assert [(e["id"], e["revision"]) for e in entries] == [(2, "2"), (3, "3"), (4, "4")]


def test_spec_parsing_defaults_and_durations() -> None:
    spec = parse_spec(
        {
            "source": {"repoURL": "git://x"},
            "syncPolicy": {
                "automated": {"prune": True},
                "syncOptions": ["CreateNamespace=true", "Validate=false"],
                "retry": {"limit": 2, "backoff": {"duration": "250ms", "maxDuration": "1h30m"}},
            },
        }
    )
    assert spec.sources[0].target_revision == "HEAD" and spec.destination.cluster == "in-cluster"
    assert spec.sync_policy.automated is not None and spec.sync_policy.automated.prune
    assert spec.sync_policy.options.create_namespace and not spec.sync_policy.options.validate
    assert spec.sync_policy.retry.backoff.duration_seconds == 0.25
    assert spec.sync_policy.retry.backoff.max_duration_seconds == 5400
    assert parse_duration("3m") == 180


@pytest.mark.parametrize(
    ("entries", "says"),
    [
        (["Purne=false"], "unknown sync option 'Purne=false'"),
        (["CreateNamespace=ture"], "CreateNamespace must be true or false"),
        (["PruneLast"], "unknown sync option 'PruneLast'"),
    ],
)
def test_an_unreadable_app_level_sync_option_is_an_invalid_spec(
    entries: list[str], says: str
) -> None:
    spec = {"source": {"repoURL": "git://x/y.git"}, "syncPolicy": {"syncOptions": entries}}
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_spec(spec)


def test_app_level_sync_options_read_every_known_name() -> None:
    options = parse_spec(
        {
            "source": {"repoURL": "git://x/y.git"},
            "syncPolicy": {
                "syncOptions": [
                    "CreateNamespace=true",
                    " PruneLast = TRUE ",
                    "ApplyOutOfSyncOnly=false",
                    "Prune=false",
                ]
            },
        }
    ).sync_policy.options
    assert options.create_namespace and options.prune_last
    assert not options.apply_out_of_sync_only and not options.prune
