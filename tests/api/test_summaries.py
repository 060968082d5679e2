"""Paging and filtering of application summaries (pure: no cluster)."""

from __future__ import annotations

import pytest

from tether.api import summaries
from tether.api.problems import Problem


def _summary(i: int) -> summaries.Summary:
    return summaries.summary(
        {
            "metadata": {"name": f"app-{i:04d}", "labels": {"shard": str(i % 3)}},
            "spec": {"project": f"p{i % 4}", "source": {"repoURL": "git://x", "path": f"a/{i}"}},
        }
    )


def test_pages_walk_every_visible_app_once_in_order_asking_rbac_only_what_they_need() -> None:
    apps = [_summary(i) for i in reversed(range(1200))]
    asked: list[int] = []

    def visible(chunk: list[summaries.Summary]) -> list[summaries.Summary]:
        asked.append(len(chunk))
        return [s for s in chunk if s["project"] != "p1"]  # three quarters are visible

    seen: list[str] = []
    token = ""
    while True:
        after = summaries.decode_continue(token) if token else ""
        items, token = summaries.page(apps, 100, after, visible)
        seen.extend(s["name"] for s in items)
        assert len(items) == 100 or not token
        if not token:
            break
    expected = sorted(s["name"] for s in apps if s["project"] != "p1")
    assert seen == expected
    assert max(asked) <= 101
    assert sum(asked) < 1200 * 1.6  # each page asks about little more than it shows


@pytest.mark.parametrize(
    ("selector", "count"),
    [("shard=1", 400), ("shard!=1", 800), ("shard in (0,2)", 800), ("!shard", 0), ("shard", 1200)],
)
def test_label_selectors(selector: str, count: int) -> None:
    wanted = summaries.Filters(selector=summaries.parse_selector(selector))
    assert sum(wanted.matches(_summary(i)) for i in range(1200)) == count


@pytest.mark.parametrize("bad", ["a in b", "=x", "!a=b", "a in (x", "a b"])
def test_bad_selectors_are_400s(bad: str) -> None:
    with pytest.raises(Problem) as refused:
        summaries.parse_selector(bad)
    assert refused.value.status == 400
