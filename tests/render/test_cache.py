"""The render cache: what makes a hit, what forces a miss, and what a hit costs."""

from __future__ import annotations

import contextlib
import time

import pytest

from tests.render.conftest import CONTEXT, Repos, snapshot_of
from tether import render
from tether.model.app import HelmParameter, HelmSource, KustomizeSource, Source, SourceType
from tether.render import caches
from tether.render.results import RenderResult

URL = "https://git.example.com/apps.git"
VALUES_URL = "https://git.example.com/values.git"
APP = "apps/guestbook/overlays/dev"


HIT_CASES = {
    "kustomize": ("kustomize", Source(URL, APP, kustomize=KustomizeSource(images=("a=b:1",)))),
    "helm": (
        "helm",
        Source(
            URL,
            "charts/web",
            helm=HelmSource(
                value_files=("values-dev.yaml", "values-prod.yaml"),
                values_object={"replicaCount": 3, "image": {"tag": "1.2.3"}},
                parameters=(HelmParameter("greeting", "hi"),),
            ),
        ),
    ),
    "directory": ("plain", Source(URL, "apps/web")),
}


@pytest.mark.parametrize("case", HIT_CASES)
async def test_an_unchanged_commit_is_a_cache_hit_costing_microseconds(
    repos: Repos, case: str
) -> None:
    testdata, source = HIT_CASES[case]
    snapshot = repos.snapshot(repos.copy(testdata))
    cold = await render.render(snapshot, source, CONTEXT)
    warm = await render.render(snapshot, source, CONTEXT)
    assert (cold.cache_hit, warm.cache_hit) == (False, True)
    assert warm.manifests is cold.manifests  # the very same immutable tuple
    runs = 2000
    started = time.perf_counter()
    for _ in range(runs):
        await render.render(snapshot, source, CONTEXT)
    per_hit = (time.perf_counter() - started) / runs
    print(f"\ncache hit ({case}): {per_hit * 1e6:.1f} µs")
    assert per_hit < 200e-6  # generous for slow CI; measured ~4-8 µs


async def test_clear_cache_forces_a_new_render(repos: Repos) -> None:
    snapshot = repos.snapshot(repos.copy("kustomize"))
    first = await render.render(snapshot, Source(URL, APP), CONTEXT)
    render.clear_cache()
    again = await render.render(snapshot, Source(URL, APP), CONTEXT)
    assert not again.cache_hit
    assert again.manifests == first.manifests
    assert again.manifests is not first.manifests


async def test_anything_that_changes_the_output_is_a_miss(repos: Repos) -> None:
    root = repos.copy("kustomize")
    snapshot = repos.snapshot(root)
    await render.render(snapshot, Source(URL, APP), CONTEXT)
    variants = [
        (snapshot_of(root, sha="2" * 40), Source(URL, APP), CONTEXT),
        (snapshot, Source(URL, "apps/guestbook/overlays/prod"), CONTEXT),
        (snapshot, Source(URL, APP, kustomize=KustomizeSource(name_prefix="x-")), CONTEXT),
        (snapshot, Source(URL, APP), render.RenderContext("web", "other-namespace")),
    ]
    for variant_snapshot, source, context in variants:
        assert not (await render.render(variant_snapshot, source, context)).cache_hit


async def test_a_new_commit_of_a_ref_is_a_miss(repos: Repos) -> None:
    chart = repos.snapshot(repos.copy("helm"))
    values_root = repos.copy("values-repo")
    values = repos.snapshot(values_root, url=VALUES_URL, sha="3" * 40)
    source = Source(URL, "charts/web", helm=HelmSource(value_files=("$values/envs/dev/web.yaml",)))
    first = await render.render(chart, source, CONTEXT, refs={"values": values})
    assert first.source_type is SourceType.HELM
    assert (await render.render(chart, source, CONTEXT, refs={"values": values})).cache_hit
    moved = snapshot_of(values_root, url=VALUES_URL, sha="4" * 40)
    assert not (await render.render(chart, source, CONTEXT, refs={"values": moved})).cache_hit


async def test_failures_are_not_cached(repos: Repos) -> None:
    snapshot = repos.snapshot(repos.copy("plain"))
    for _ in range(2):
        with contextlib.suppress(render.NotFound):
            await render.render(snapshot, Source(URL, "missing"), CONTEXT)
    assert len(caches.CACHE) == 0


def test_lru_is_bounded_by_entries_and_bytes() -> None:
    cache = caches.RenderCache(max_entries=3, max_bytes=100)
    result = RenderResult((), SourceType.DIRECTORY, cache_hit=True)
    keys = [_key(str(i)) for i in range(5)]
    for key in keys[:3]:
        cache.put(key, result, 10)
    assert cache.get(keys[0]) is result  # now the most recently used
    cache.put(keys[3], result, 10)
    assert cache.get(keys[1]) is None  # the least recently used went
    assert cache.get(keys[0]) is result
    cache.put(keys[4], result, 95)  # too many bytes: evict until it fits
    assert len(cache) == 1
    cache.put(_key("huge"), result, 1000)  # larger than the whole cache: not stored
    assert cache.get(_key("huge")) is None
    assert cache.get(keys[4]) is result


def _key(commit: str) -> caches.Key:
    return caches.Key(URL, commit, ".", "", CONTEXT, render.RenderLimits(), ())
