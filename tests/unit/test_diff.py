"""Diff cases as data: testdata/diff/<case>/case.yaml holds live, predicted, rules, expectations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tether.engine import diff
from tether.model.app import _ignore
from tether.model.resources import ResourceKey

CASES = sorted((Path(__file__).parents[2] / "testdata" / "diff").glob("*/case.yaml"))


def _changed_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln[:1] in "+-" and ln[:3] not in ("---", "+++")]


@pytest.mark.parametrize("path", CASES, ids=[p.parent.name for p in CASES])
def test_diff_case(path: Path) -> None:
    case: dict[str, Any] = yaml.safe_load(path.read_text())
    rules = [_ignore(r) for r in case.get("rules") or []]
    key = ResourceKey.of(case["predicted"])
    result = diff.compare(key, case["live"], case["predicted"], rules)
    expect = case["expect"]
    assert result.action == expect["action"]
    if "changed_lines" in expect:
        assert _changed_lines(result.text) == expect["changed_lines"]
    for secret in expect.get("never", []):
        assert secret not in result.text
        assert secret not in str(result.live) and secret not in str(result.target)


def test_missing_sides_are_create_and_prune() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}
    key = ResourceKey.of(obj)
    assert diff.compare(key, None, obj).action == "create"
    assert diff.compare(key, obj, None).action == "prune"


def test_inputs_are_not_modified() -> None:
    case = yaml.safe_load((CASES[0].parent.parent / "secret-masked" / "case.yaml").read_text())
    before = yaml.safe_dump(case)
    diff.compare(ResourceKey.of(case["predicted"]), case["live"], case["predicted"])
    assert yaml.safe_dump(case) == before
