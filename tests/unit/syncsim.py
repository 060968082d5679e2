"""A pure stand-in for the executor around the sync step machine, for data-driven tests.

It keeps a *world* (the live objects, by key), builds the comparison and the plan from it the way
the reconcile layer does (real diff, real plan), carries out actions on the world with every
write succeeding unless the case says otherwise, and calls `machine.advance` exactly as the
executor does: the plan is rebuilt at every step (after a Wait, or a crash), kept within one.

Case files (`testdata/sync/<case>/`):
- `app.yaml`: `spec` (the Application's), `operation` (the request), optional `inventory`
  (keys the app owned before, "Kind[.group]/namespace/name"), optional `other-owners`
  (key → app name: live objects another app tracks).
- `desired.yaml`: the rendered objects, hooks included.
- `live.yaml`: the live objects at the start (may be empty).
- `steps.yaml`: one entry per `advance` call: `expect` (the actions, as they print), and
  optionally `observe` (world changes before the call: key → object patch, or null to delete),
  `fail` (action prefix → error message: those actions fail), `crash: true` (the executor dies
  here: state goes back to the last persisted one and outcomes are lost), `after` (seconds the
  clock moves first; after a Wait it moves to the Wait's end by default), `terminate` (a name:
  that person asks to terminate the operation before the call), `state` (fields of the
  operation state to check after the call: phase, group, status, message_contains,
  retry_count) and `results` (key@stage → status of a per-object result).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from tether.engine import diff, health, hooks, tracking
from tether.engine.comparisons import Comparison, ResourceState
from tether.engine.operation import OperationPhase, OperationRequest, OperationState
from tether.engine.sync import actions, machine, plans
from tether.engine.tracking import AppRef
from tether.model.app import AppSpec, Source, parse_spec
from tether.model.changes import Action as ChangeAction
from tether.model.changes import Change
from tether.model.resources import Body, ResourceKey
from tether.model.revisions import CommitInfo, ResolvedRevision
from tether.model.targets import Targets

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
APP = AppRef("tether", "demo")
SHA = "a" * 40


def key_of(text: str) -> ResourceKey:
    """'Kind[.group]/namespace/name' or 'Kind[.group]/name' (cluster-scoped)."""
    parts = text.split("/")
    group_kind, name = parts[0], parts[-1]
    namespace = parts[1] if len(parts) == 3 else ""
    kind, _, group = group_kind.partition(".")
    return ResourceKey(group, kind, namespace, name)


def text_of(key: ResourceKey) -> str:
    group_kind = f"{key.kind}.{key.group}" if key.group else key.kind
    return "/".join(p for p in (group_kind, key.namespace, key.name) if p)


def _merge(base: Any, patch: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(base)
    for k, v in patch.items():
        merged[k] = _merge(base.get(k), v)
    return merged


def _docs(path: Path) -> list[Body]:
    if not path.exists():
        return []
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@dataclass
class World:
    """The live cluster as the tests see it."""

    objects: dict[ResourceKey, Body] = field(default_factory=dict)

    def put(self, obj: Body) -> None:
        self.objects[ResourceKey.of(obj)] = copy.deepcopy(obj)

    def patch(self, changes: Mapping[str, Any]) -> None:
        for text, change in changes.items():
            key = key_of(text)
            if change is None:
                self.objects.pop(key, None)
            else:
                self.objects[key] = _merge(self.objects.get(key, {}), change)


@dataclass
class Case:
    name: str
    spec: AppSpec
    request: OperationRequest
    desired: list[Body]
    live: list[Body]
    inventory: list[ResourceKey]
    other_owners: dict[ResourceKey, str]
    steps: list[dict[str, Any]]
    rules: health.HealthRules | None = None

    @classmethod
    def load(cls, directory: Path) -> Case:
        app = yaml.safe_load((directory / "app.yaml").read_text())
        return cls(
            name=directory.name,
            spec=parse_spec(app["spec"]),
            request=OperationRequest.from_dict(app.get("operation") or {"sync": {}}),
            desired=_docs(directory / "desired.yaml"),
            live=_docs(directory / "live.yaml"),
            inventory=[key_of(k) for k in app.get("inventory") or ()],
            other_owners={key_of(k): v for k, v in (app.get("other-owners") or {}).items()},
            steps=yaml.safe_load((directory / "steps.yaml").read_text()) or [],
        )


def _tracked(obj: Body, owner: AppRef) -> Body:
    return tracking.with_tracking(obj, owner)


def _targets(case: Case) -> Targets:
    objects = tuple(_tracked(o, APP) for o in case.desired if not hooks.is_hook(o))
    hook_objects = tuple(o for o in case.desired if hooks.is_hook(o))
    source = Source("git://example.invalid/repo.git", "app")
    commit = CommitInfo(SHA, "Ann <ann@example.invalid>", "change", "2026-01-01T00:00:00Z")
    return Targets((source,), (ResolvedRevision("HEAD", SHA),), commit, objects, hook_objects)


def compare(case: Case, world: World) -> Comparison:
    """The comparison the reconcile layer would make (the dry run predicts the target as is)."""
    targets = _targets(case)
    resources = []
    for target in targets.objects:
        key = ResourceKey.of(target)
        live = world.objects.get(key)
        owner = tracking.owner(live) if live is not None else None
        resources.append(
            ResourceState(
                key,
                str(target["apiVersion"]).rpartition("/")[2],
                target,
                live,
                diff.compare(key, live, target),
                health.assess(live) if live is not None else None,
                shared_with=owner if owner is not None and owner != APP else None,
            )
        )
    wanted = targets.keys()
    for key in case.inventory:
        live = world.objects.get(key)
        if key in wanted or live is None or not tracking.is_owned_by(live, APP):
            continue
        resources.append(
            ResourceState(
                key, str(live["apiVersion"]), None, live, diff.compare(key, live, None), None, True
            )
        )
    return Comparison(targets, tuple(resources))


def initial_world(case: Case) -> World:
    world = World()
    desired = {ResourceKey.of(o) for o in case.desired}
    for obj in case.live:
        key = ResourceKey.of(obj)
        owner = case.other_owners.get(key)
        if owner is not None:
            obj = _tracked(obj, AppRef(APP.namespace, owner))
        elif key in desired or key in case.inventory:
            obj = _tracked(obj, APP)  # the app's own objects carry its tracking id
        world.put(obj)
    return world


def _outcome(action: actions.ClusterAction, world: World, error: str | None) -> actions.Outcome:
    key = action.key
    if error is not None:
        return actions.Outcome(action, Change(key, ChangeAction.FAILED, error))
    if isinstance(action, actions.Apply | actions.CreateHook):
        body = action.target if isinstance(action, actions.Apply) else action.manifest
        created = key not in world.objects
        world.objects[key] = copy.deepcopy(body)
        change = ChangeAction.CREATED if created else ChangeAction.CONFIGURED
        return actions.Outcome(action, Change(key, change, str(change)), copy.deepcopy(body))
    if isinstance(action, actions.CreateNamespace):
        world.objects[key] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": key.name},
        }
        return actions.Outcome(action, Change(key, ChangeAction.CREATED, "created"))
    world.objects.pop(key, None)  # Prune, DeleteHook
    return actions.Outcome(action, Change(key, ChangeAction.DELETED, "deleted"))


def _injected(action: actions.ClusterAction, fail: Mapping[str, str]) -> str | None:
    """The error a case makes this action fail with (keys are prefixes of how it prints)."""
    return next(
        (message for prefix, message in fail.items() if str(action).startswith(prefix)), None
    )


@dataclass
class Run:
    """One operation driven through the machine, step by step."""

    case: Case
    world: World
    state: OperationState
    persisted: OperationState
    now: dt.datetime = START
    outcomes: tuple[actions.Outcome, ...] = ()
    plan: plans.Plan | plans.Unplanned | None = None  # None: rebuild before the next call
    creations: dict[ResourceKey, int] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    persists: int = 0
    crash_at: int = 0  # die right after this many persisted states (0: never)
    crashed: str = ""  # where it died

    @classmethod
    def start(cls, case: Case, state: OperationState | None = None) -> Run:
        state = state or OperationState(
            id="op1", phase=OperationPhase.RUNNING, request=case.request, started_at="t0"
        )
        return cls(case, initial_world(case), state, state)

    def crash(self) -> None:
        """The executor dies: what it had not persisted is lost."""
        self.state, self.outcomes, self.plan = self.persisted, (), None

    def current_plan(self) -> plans.Plan | plans.Unplanned:
        return self._plan()

    def _plan(self) -> plans.Plan | plans.Unplanned:
        if self.plan is None:
            try:
                self.plan = plans.build(self.case.spec, self.state, compare(self.case, self.world))
            except plans.PlanError as exc:
                self.plan = plans.Unplanned(str(exc), self.case.spec.sync_policy.retry)
        return self.plan

    def observations(self) -> actions.Observations:
        plan = self._plan()
        live: dict[ResourceKey, Body | None] = {
            w.key: copy.deepcopy(self.world.objects.get(w.key))
            for w in machine.watched(self.state, plan)
        }
        for outcome in self.outcomes:  # what a write returns is the live object now (as the
            if outcome.written is not None:  # executor does)
                live[outcome.action.key] = outcome.written
        return actions.Observations(self.now, live, self.outcomes)

    def advance(self, fail: Mapping[str, str] | None = None) -> actions.Decision:
        decision = machine.advance(self.state, self._plan(), self.observations())
        self.state = decision.state
        outcomes = []
        for action in decision.actions:
            self.log.append(str(action))
            if isinstance(action, actions.Persist):
                self.persisted = action.state
                self.persists += 1
                if self.persists == self.crash_at:
                    self.crashed = f"after decision {len(self.log)}: {action}"
                    self.crash()
                    return decision
            elif isinstance(action, actions.Wait):
                self.now, self.plan = max(self.now, action.until), None
            elif isinstance(action, actions.Finish):
                self.persisted = decision.state
            else:
                error = next(
                    (m for p, m in (fail or {}).items() if str(action).startswith(p)), None
                )
                if isinstance(action, actions.CreateHook) and error is None:
                    self.creations[action.key] = self.creations.get(action.key, 0) + 1
                outcomes.append(_outcome(action, self.world, error))
        self.outcomes = tuple(outcomes)
        return decision

    def to_end(self, outcomes: Outcomes, limit: int = 200) -> OperationState:
        """Advance until the operation completes, objects becoming ready or broken as soon as
        they exist."""
        for _ in range(limit):
            if self.state.phase.completed:
                return self.state
            outcomes.settle(self.world)
            self.advance()
        raise AssertionError(f"not completed after {limit} decisions: {self.log[-5:]}")


@dataclass(frozen=True)
class Outcomes:
    """How awaited objects end when a case is driven to its end."""

    ready: tuple[str, ...] = ()  # healthy (Deployments) or finished (hooks) once they exist
    broken: tuple[str, ...] = ()  # failed hooks

    def settle(self, world: World) -> None:
        for text in self.ready:
            if key_of(text) in world.objects:
                world.patch({text: healthy_status(key_of(text))})
        for text in self.broken:
            if key_of(text) in world.objects:
                world.patch({text: FAILED_JOB})


FAILED_JOB = {"status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True"}]}}


def drive(case: Case, outcomes: Outcomes, crash_at: int = 0) -> Run:
    """The case's operation from start to end, dying once after `crash_at` persisted states."""
    run = Run.start(case)
    run.crash_at = crash_at
    run.to_end(outcomes)
    return run


def healthy_status(key: ResourceKey) -> dict[str, Any]:
    """A status that makes an object of `key`'s kind healthy (or a hook finished)."""
    if key.kind == "Job":
        return {"status": {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1}}
    if key.kind == "Deployment":
        counts = {"replicas": 1, "updatedReplicas": 1, "availableReplicas": 1, "readyReplicas": 1}
        return {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, **counts}}
    if key.kind == "Pod":
        return {"status": {"phase": "Succeeded"}}
    return {}


def check_state(state: OperationState, wanted: Mapping[str, Any], where: str) -> None:
    simple = {"phase": state.phase, "group": state.group, "status": state.group_status}
    for name, value in wanted.items():
        if name == "message_contains":
            assert value in state.message, f"{where}: message {state.message!r}"
        elif name == "retry_count":
            assert state.retry_count == value, f"{where}: retry_count {state.retry_count}"
        else:
            assert str(simple[name]) == str(value), f"{where}: {name} is {simple[name]!r}"


def check_results(state: OperationState, wanted: Mapping[str, str], where: str) -> None:
    for text, status in wanted.items():
        key_text, _, stage = text.partition("@")
        key = key_of(key_text)
        found = [r for r in state.resources if r.key == key and (not stage or r.stage == stage)]
        assert found, f"{where}: no result for {text}: {[str(r.key) for r in state.resources]}"
        assert str(found[0].status) == status, f"{where}: {text} is {found[0].status}"


def without_clock(state: OperationState) -> OperationState:
    return replace(state, finished_at="", message=state.message)
