"""Dependencies between Applications, judged on data (testdata/dependencies/cases.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tether.engine import dependencies
from tether.engine.tracking import AppRef
from tether.model.app import parse_spec

CASES = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "testdata" / "dependencies" / "cases.yaml").read_text()
)
APP = AppRef("tether", "demo")


def _ref(text: str) -> AppRef:
    namespace, _, name = text.rpartition("/")
    return AppRef(namespace or "tether", name)


def _body(ref: AppRef, depends_on: list[Any], ready: bool, message: str, **extra: Any) -> dict:
    status = "True" if ready else "False"
    condition = {"type": "Ready", "status": status, "message": message, "observedGeneration": 1}
    return {
        "metadata": {"name": ref.name, "namespace": ref.namespace, "generation": 1},
        "spec": {"source": {"repoURL": "git://x/y.git"}, "dependsOn": depends_on},
        "status": {"conditions": [condition], **extra.get("status", {})},
        **({"operation": extra["operation"]} if "operation" in extra else {}),
    }


def _bodies(case: dict[str, Any]) -> dict[AppRef, dict | None]:
    specs = {_ref(k): v for k, v in (case.get("apps") or {}).items()}
    found: dict[AppRef, dict | None] = {}
    for text in case.get("ready") or ():
        found[_ref(text)] = _body(_ref(text), specs.get(_ref(text), []), True, "")
    for text, why in (case.get("notready") or {}).items():
        found[_ref(text)] = _body(_ref(text), specs.get(_ref(text), []), False, why)
    for text in case.get("running") or ():
        running = {"operationState": {"phase": "Running"}}
        found[_ref(text)] = _body(_ref(text), [], True, "", status=running)
    for text in case.get("stale") or ():
        body = _body(_ref(text), [], True, "")
        body["metadata"]["generation"] = 2
        found[_ref(text)] = body
    return found


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    spec = parse_spec({"source": {"repoURL": "git://x/y.git"}, **case["app"]})
    wanted = dependencies.of(APP, spec)
    bodies = _bodies(case)
    for dep in wanted:  # a dependency never listed does not exist
        bodies.setdefault(dep.ref, None)
    verdict = dependencies.judge(APP, wanted, bodies, bool(case.get("first_sync_done")))
    assert str(verdict.gate) == case["expect"]["gate"], verdict
    assert case["expect"].get("says", "") in verdict.message, verdict.message
    assert verdict.stalled is (verdict.gate in (dependencies.Gate.MISSING, dependencies.Gate.CYCLE))


def test_status_entries_say_which_dependency_and_why() -> None:
    spec = parse_spec(
        {"source": {"repoURL": "git://x/y.git"}, "dependsOn": [{"name": "a"}, {"name": "b"}]}
    )
    bodies = {
        AppRef("tether", "a"): _body(AppRef("tether", "a"), [], True, ""),
        AppRef("tether", "b"): _body(AppRef("tether", "b"), [], False, "Degraded: boom"),
    }
    verdict = dependencies.judge(APP, dependencies.of(APP, spec), bodies, False)
    assert [s.to_dict() for s in verdict.states] == [
        {"name": "a", "namespace": "tether", "ready": True},
        {"name": "b", "namespace": "tether", "ready": False, "message": "Degraded: boom"},
    ]


def test_depends_on_is_validated_when_parsed() -> None:
    with pytest.raises(ValueError, match="needs a name"):
        parse_spec({"source": {"repoURL": "git://x/y.git"}, "dependsOn": [{"namespace": "x"}]})
    with pytest.raises(ValueError, match="readyOnly must be true or false"):
        parse_spec(
            {"source": {"repoURL": "git://x/y.git"}, "dependsOn": [{"name": "a", "readyOnly": 1}]}
        )
