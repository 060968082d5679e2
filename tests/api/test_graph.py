"""The dependency graph through the API: an app's dependencies and dependents, each with whether
it is Ready; what the caller may not see is left out, never named."""

from __future__ import annotations

from tests.api.conftest import World, app_body


async def test_the_graph_shows_what_the_caller_may_see(world: World) -> None:
    api, admin, alice = world.api, world.admin, world.users["team-a"]
    # team-a's web-a depends on team-b's web-b; infra-a (team-a) depends on web-a.
    dependent = app_body("infra-a", "team-a", world.repo, api.namespace)
    dependent["spec"]["dependsOn"] = [{"name": "web-a"}]
    assert (await admin.post("/api/v1/applications", json=dependent)).status_code == 201
    patched = await admin.patch(
        api.app_path("web-a"), json={"spec": {"dependsOn": [{"name": "web-b"}]}}
    )
    assert patched.status_code == 200, patched.text

    graph = (await admin.get(api.app_path("web-a", "/graph"))).json()
    names = {n["name"] for n in graph["nodes"]}
    assert names == {"web-a", "web-b", "infra-a"}
    ns = api.namespace
    assert sorted((e["source"], e["target"]) for e in graph["edges"]) == [
        (f"{ns}/infra-a", f"{ns}/web-a"),
        (f"{ns}/web-a", f"{ns}/web-b"),
    ]
    assert all(n["ready"] is False for n in graph["nodes"])  # none synced yet

    seen_by_alice = (await alice.get(api.app_path("web-a", "/graph"))).json()
    assert {n["name"] for n in seen_by_alice["nodes"]} == {"web-a", "infra-a"}  # not team-b's
    assert all("web-b" not in str(e) for e in seen_by_alice["edges"])
    assert (await alice.get(api.app_path("web-b", "/graph"))).status_code == 404
