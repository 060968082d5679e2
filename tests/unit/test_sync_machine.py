"""The sync step machine, driven by cases in testdata/sync/<case>/ (see tests/unit/syncsim.py).

Each case lists, call by call, the actions the machine must ask for. Below the cases: a crash at
every step boundary of the hook-heavy cases still completes the operation exactly once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit import syncsim
from tether.engine.operation import OperationPhase
from tether.engine.sync import actions, plans

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "sync"
CASES = sorted(p for p in TESTDATA.iterdir() if (p / "steps.yaml").exists())


@pytest.mark.parametrize("directory", CASES, ids=lambda p: p.name)
def test_case(directory: Path) -> None:
    case = syncsim.Case.load(directory)
    run = syncsim.Run.start(case)
    decision = None
    for number, step in enumerate(case.steps, 1):
        where = f"{case.name}, step {number}"
        if step.get("crash"):
            run.crash()
        if step.get("terminate"):  # what `tether app terminate-op` writes
            message = f"terminate requested by {step['terminate']}"
            run.state = replace(run.state, phase=OperationPhase.TERMINATING, message=message)
        if "after" in step:
            run.now += dt.timedelta(seconds=step["after"])
            run.plan = None
        run.world.patch(step.get("observe") or {})
        decision = run.advance(step.get("fail"))
        assert [str(a) for a in decision.actions] == step["expect"], where
        syncsim.check_state(run.state, step.get("state") or {}, where)
        syncsim.check_results(run.state, step.get("results") or {}, where)
    assert decision is not None and decision.settled, f"{case.name}: the last step must settle"


# Cases whose operations cross step boundaries, with the objects that become healthy (or fail)
# as soon as they exist when the operation is driven to its end.
CRASH_CASES = {
    "hooks-every-phase": (
        ("Job.batch/ns/migrate", "Job.batch/ns/during", "Job.batch/ns/smoke"),
        ("Deployment.apps/ns/web",),
        (),
    ),
    "presync-fails-runs-syncfail": (("Job.batch/ns/alert-a7147",), (), ("Job.batch/ns/migrate",)),
    "hook-left-by-earlier-run": (("Job.batch/ns/migrate",), (), ()),
    "prune-order-prune-last-prune-false": (("Pod/ns/check",), (), ()),
    "terminate-mid-wave": (("Job.batch/ns/during",), ("Deployment.apps/ns/web",), ()),
}


@pytest.mark.parametrize("name", sorted(CRASH_CASES))
def test_a_crash_at_every_step_boundary_completes_exactly_once(name: str) -> None:
    case = syncsim.Case.load(TESTDATA / name)
    hooks_done, healthy, broken = CRASH_CASES[name]
    world = syncsim.Outcomes(ready=(*hooks_done, *healthy), broken=broken)
    reference = syncsim.drive(case, world)
    assert reference.persists >= 2, f"{name}: too few step boundaries to test"
    for boundary in range(1, reference.persists + 1):
        run = syncsim.drive(case, world, crash_at=boundary)
        where = f"{name}, crash {run.crashed}"
        assert run.crashed, f"{name}: never reached boundary {boundary}"
        assert run.state.phase is reference.state.phase, where
        assert run.creations == reference.creations, where
        assert all(n == 1 for n in run.creations.values()), f"{where}: {run.creations}"
        assert run.world.objects.keys() == reference.world.objects.keys(), where
        final = {(r.key, r.stage): r.status for r in run.state.resources}
        expected = {(r.key, r.stage): r.status for r in reference.state.resources}
        assert final == expected, where
    assert reference.state.phase in (OperationPhase.SUCCEEDED, OperationPhase.FAILED)


_STATUSES = {
    "healthy": lambda key: syncsim.healthy_status(key),
    "failed": lambda _key: syncsim.FAILED_JOB,
    "gone": lambda _key: None,
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from([p.name for p in CASES]),
    events=st.lists(
        st.tuples(
            st.sampled_from(sorted(_STATUSES)),  # what happens to one live object
            st.integers(min_value=0, max_value=50),  # which one
            st.booleans(),  # the decision's writes fail
            st.integers(min_value=0, max_value=9),  # 0: the executor crashes first
        ),
        max_size=40,
    ),
)
def test_whatever_is_observed_only_planned_objects_are_touched(
    name: str, events: list[tuple[str, int, bool, int]]
) -> None:
    case = syncsim.Case.load(TESTDATA / name)
    run = syncsim.Run.start(case)
    for change, pick, failing, crash in events:
        if run.state.phase.completed:
            break
        if crash == 0:
            run.crash()
        keys = sorted(run.world.objects)
        if keys:
            key = keys[pick % len(keys)]
            run.world.patch({syncsim.text_of(key): _STATUSES[change](key)})
        plan = run.current_plan()
        decision = run.advance({"": "injected failure"} if failing else None)
        allowed = {t.key for t in plan.tasks()} if isinstance(plan, plans.Plan) else set()
        if isinstance(plan, plans.Plan) and plan.namespace:
            allowed.add(syncsim.key_of(f"Namespace/{plan.namespace}"))
        for action in decision.actions:
            if isinstance(action, actions.ClusterAction):
                assert action.key in allowed, f"{name}: {action} is not in the plan"
