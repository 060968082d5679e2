"""Sync ordering: prerequisites, phases, waves, kinds, names; prune in reverse; per-object
options."""

from __future__ import annotations

from typing import Any

import pytest

from tether.engine import diff, hooks
from tether.engine.comparisons import ResourceState
from tether.engine.sync import options, plans
from tether.engine.sync.stages import Stage
from tether.model.app import SyncOptions
from tether.model.resources import ResourceKey


def obj(
    kind: str, name: str, wave: int | None = None, hook: str = "", api: str = "v1"
) -> dict[str, Any]:
    annotations = {}
    if wave is not None:
        annotations[plans.WAVE_ANNOTATION] = str(wave)
    if hook:
        annotations[hooks.HOOK_ANNOTATION] = hook
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": "n", "annotations": annotations},
    }


def target(body: dict[str, Any], app: SyncOptions = SyncOptions()) -> plans.Task:
    key = ResourceKey.of(body)
    state = ResourceState(key, "v1", body, None, diff.compare(key, None, body), None)
    return plans.apply_task(state, app)


def stale(body: dict[str, Any], app: SyncOptions = SyncOptions()) -> plans.Task:
    key = ResourceKey.of(body)
    state = ResourceState(key, "v1", None, body, diff.compare(key, body, None), None, True)
    return plans.prune_task(state, app)


def test_groups_follow_stage_wave_kind_and_name() -> None:
    targets = [
        obj("Deployment", "web", api="apps/v1"),
        obj("ConfigMap", "b"),
        obj("ConfigMap", "a"),
        obj("Service", "late", wave=2),
        obj("Namespace", "n"),
        obj("CustomResourceDefinition", "widgets.x", api="apiextensions.k8s.io/v1", wave=5),
        obj("ConfigMap", "early", wave=-1),
    ]
    hook_objs = [
        obj("Job", "migrate", hook="PreSync", api="batch/v1"),
        obj("Job", "smoke", hook="PostSync", api="batch/v1"),
        obj("Job", "alert", hook="SyncFail", api="batch/v1"),
    ]
    gone = [
        obj("ConfigMap", "old", wave=3),
        obj("Deployment", "old", api="apps/v1", wave=3),
        obj("Secret", "s"),
    ]
    tasks = (
        [target(t) for t in targets]
        + list(plans.hook_tasks(hook_objs, "op", 0))
        + [stale(g) for g in gone]
    )

    groups = plans.order(tasks)

    assert [(g.id, [t.key.name for t in g.tasks]) for g in groups] == [
        ("Prerequisites/0", ["n"]),
        ("Prerequisites/5", ["widgets.x"]),
        ("PreSync/0", ["migrate"]),
        ("Sync/-1", ["early"]),
        ("Sync/0", ["a", "b", "web"]),
        ("Sync/2", ["late"]),
        ("Prune/3", ["old", "old"]),
        ("Prune/0", ["s"]),
        ("PostSync/0", ["smoke"]),
    ]
    assert [t.key.kind for t in groups[6].tasks] == ["Deployment", "ConfigMap"]  # dependants first
    failure = plans.failure_group(tasks)
    assert failure is not None and [t.key.name for t in failure.tasks] == ["alert"]


def test_prune_last_moves_pruning_after_postsync_for_the_app_or_one_object() -> None:
    hook = list(plans.hook_tasks([obj("Job", "p", hook="PostSync", api="batch/v1")], "op", 0))
    everything = [stale(obj("ConfigMap", "old"), SyncOptions(prune_last=True)), *hook]
    assert [g.stage for g in plans.order(everything)] == [Stage.POST_SYNC, Stage.PRUNE_LAST]
    late = obj("ConfigMap", "late")
    late["metadata"]["annotations"][options.ANNOTATION] = "PruneLast=true"
    one = [stale(late), stale(obj("ConfigMap", "early")), *hook]
    assert [(g.stage, [t.key.name for t in g.tasks]) for g in plans.order(one)] == [
        (Stage.PRUNE, ["early"]),
        (Stage.POST_SYNC, ["p"]),
        (Stage.PRUNE_LAST, ["late"]),
    ]


def test_invalid_wave_and_hook_are_clear_errors() -> None:
    with pytest.raises(plans.PlanError, match="sync-wave must be an integer"):
        target(
            obj("ConfigMap", "x")
            | {"metadata": {"name": "x", "annotations": {plans.WAVE_ANNOTATION: "soon"}}}
        )
    with pytest.raises(plans.PlanError, match="PreSync, Sync, PostSync or SyncFail"):
        plans.hook_tasks([obj("Job", "j", hook="BeforeLunch")], "op", 0)


@pytest.mark.parametrize(
    ("written", "field", "value"),
    [
        ("Prune=false", "prune", False),
        ("Delete=false", "delete", False),
        ("PruneLast=true", "prune_last", True),
        ("Replace=true", "replace", True),
        ("Validate=false", "validate", False),
        ("SkipDryRunOnMissingResource=true", "skip_dry_run_on_missing_resource", True),
        (" Replace = true , Prune=false", "replace", True),
    ],
)
def test_per_object_sync_options(written: str, field: str, value: bool) -> None:
    body = obj("ConfigMap", "c")
    body["metadata"]["annotations"][options.ANNOTATION] = written
    assert getattr(options.parse(body), field) is value


@pytest.mark.parametrize(
    ("written", "says"),
    [("Prune=flase", "must be true or false"), ("Purne=false", "unknown"), ("Prune", "unknown")],
)
def test_an_unreadable_sync_option_is_an_error_and_protects_the_object(
    written: str, says: str
) -> None:
    body = obj("ConfigMap", "c")
    body["metadata"]["annotations"][options.ANNOTATION] = written
    with pytest.raises(options.OptionError, match=says):
        options.parse(body)
    assert not options.prune_allowed(body) and not options.delete_allowed(body)


def test_per_object_replace_and_validate_join_the_apps() -> None:
    body = obj("ConfigMap", "c")
    body["metadata"]["annotations"][options.ANNOTATION] = "Replace=true,Validate=false"
    task = target(body)
    assert isinstance(task, plans.ApplyTask) and task.replace and not task.validate
    plain = target(obj("ConfigMap", "d"), SyncOptions(replace=True))
    assert isinstance(plain, plans.ApplyTask) and plain.replace and plain.validate


def test_prune_protection_from_the_object_or_the_app() -> None:
    kept = obj("ConfigMap", "keep")
    kept["metadata"]["annotations"][options.ANNOTATION] = "Prune=false"
    assert stale(kept).protected  # type: ignore[union-attr]
    assert not stale(obj("ConfigMap", "go")).protected  # type: ignore[union-attr]
    assert stale(obj("ConfigMap", "go"), SyncOptions(prune=False)).protected  # type: ignore[union-attr]


def test_generate_name_hooks_get_a_stable_name_per_run() -> None:
    hook = {"metadata": {"generateName": "migrate-"}}
    run = hooks.run_id(hooks.HookType.PRE_SYNC, 0)
    assert hooks.concrete_name(hook, "op1", run) == hooks.concrete_name(hook, "op1", run)
    assert hooks.concrete_name(hook, "op1", run) != hooks.concrete_name(hook, "op2", run)
    retry = hooks.run_id(hooks.HookType.PRE_SYNC, 1)
    assert hooks.concrete_name(hook, "op1", run) != hooks.concrete_name(hook, "op1", retry)
    assert hooks.concrete_name(hook, "op1", run).startswith("migrate-")
