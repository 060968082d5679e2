"""Sync ordering: prerequisites, phases, waves, kinds, names; prune in reverse."""

from __future__ import annotations

from typing import Any

import pytest

from tether.engine import hooks, plan


def obj(
    kind: str, name: str, wave: int | None = None, hook: str = "", api: str = "v1"
) -> dict[str, Any]:
    annotations = {}
    if wave is not None:
        annotations[plan.WAVE_ANNOTATION] = str(wave)
    if hook:
        annotations[hooks.HOOK_ANNOTATION] = hook
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": "n", "annotations": annotations},
    }


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
    stale = [
        obj("ConfigMap", "old", wave=3),
        obj("Deployment", "old", api="apps/v1", wave=3),
        obj("Secret", "s"),
    ]
    tasks = (
        plan.target_tasks(targets)
        + plan.hook_tasks(hook_objs)
        + plan.prune_tasks(stale, prune_last=False)
    )

    groups = plan.order(tasks)

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
    failure = plan.failure_group(tasks)
    assert failure is not None and [t.key.name for t in failure.tasks] == ["alert"]


def test_prune_last_moves_pruning_after_postsync() -> None:
    tasks = plan.prune_tasks([obj("ConfigMap", "old")], prune_last=True) + plan.hook_tasks(
        [obj("Job", "p", hook="PostSync")]
    )
    assert [g.stage for g in plan.order(tasks)] == [plan.Stage.POST_SYNC, plan.Stage.PRUNE_LAST]


def test_invalid_wave_and_hook_are_clear_errors() -> None:
    with pytest.raises(plan.PlanError, match="sync-wave must be an integer"):
        plan.target_tasks(
            [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "x", "annotations": {plan.WAVE_ANNOTATION: "soon"}},
                }
            ]
        )
    with pytest.raises(hooks.HookError, match="PreSync, Sync, PostSync or SyncFail"):
        plan.hook_tasks([obj("Job", "j", hook="BeforeLunch")])


def test_prune_protection_annotation() -> None:
    kept = obj("ConfigMap", "keep")
    kept["metadata"]["annotations"][plan.SYNC_OPTIONS_ANNOTATION] = "Prune=false"
    assert not plan.prune_allowed(kept)
    assert plan.prune_allowed(obj("ConfigMap", "go"))


def test_generate_name_hooks_get_a_stable_name_per_operation() -> None:
    hook = {"metadata": {"generateName": "migrate-"}}
    assert hooks.concrete_name(hook, "op1") == hooks.concrete_name(hook, "op1")
    assert hooks.concrete_name(hook, "op1") != hooks.concrete_name(hook, "op2")
    assert hooks.concrete_name(hook, "op1").startswith("migrate-")
