"""Applications over the API beyond who may do what: server-side filters and paging, the project
fence at create and update, hidden and missing objects answering alike, a delete that keeps what
the app deployed, and a project still in use."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.api.conftest import CLIENT_ADDRESS, World, app_body
from tests.support.apps_fixtures import Repo
from tests.support.waiting import wait_for
from tether.audit import queries
from tether.audit.entries import Result

pytestmark = pytest.mark.cluster


async def _names(world: World, **params: str | int) -> tuple[list[str], str]:
    reply = await world.admin.get("/api/v1/applications", params=params)
    assert reply.status_code == 200, reply.text
    page = reply.json()
    return [a["name"] for a in page["items"]], page["continue"]


async def test_filters_and_paging_happen_on_the_server(world: World) -> None:
    extra = app_body("api-a", "team-a", world.repo, world.api.namespace)
    extra["metadata"]["labels"] = {"team": "team-a", "tier": "backend"}
    assert (await world.admin.post("/api/v1/applications", json=extra)).status_code == 201

    assert (await _names(world, project="team-a"))[0] == ["api-a", "web-a"]
    assert (await _names(world, selector="tier=backend"))[0] == ["api-a"]
    assert (await _names(world, selector="team in (team-b),!tier"))[0] == ["web-b"]
    assert (await _names(world, search="WEB"))[0] == ["web-a", "web-b"]
    assert (await _names(world, sync="Synced"))[0] == []
    assert (await _names(world, namespace="elsewhere"))[0] == []

    first, token = await _names(world, limit=2)
    rest, end = await _names(world, limit=2, **{"continue": token})
    assert (first, rest, end) == (["api-a", "web-a"], ["web-b"], "")
    bad = await world.admin.get("/api/v1/applications", params={"continue": "%%%"})
    assert bad.status_code == 400 and bad.json()["title"] == "Bad Request"


async def test_the_project_fence_holds_at_create_and_at_update(
    world: World, make_repo: Callable[[], Repo]
) -> None:
    api, alice = world.api, world.users["team-a"]
    outside = make_repo()  # not in team-a's sourceRepos
    body = app_body("stray", "team-a", outside, api.namespace)
    refused = await alice.post("/api/v1/applications", json=body)
    assert refused.status_code == 422, refused.text
    assert "ProjectDenied" in refused.json()["detail"]

    moved = {"spec": {"destination": {"namespace": "kube-system"}}}
    refused = await alice.patch(api.app_path("web-a"), json=moved)
    assert refused.status_code == 422, refused.text
    app = (await alice.get(api.app_path("web-a"))).json()
    assert app["spec"]["destination"]["namespace"] == api.namespace

    # Moving an app to a project one cannot update there is refused like any other update.
    to_b = await alice.patch(api.app_path("web-a"), json={"spec": {"project": "team-b"}})
    assert to_b.status_code == 403, to_b.text


async def test_hidden_and_missing_apps_get_the_very_same_answer(world: World) -> None:
    api, alice = world.api, world.users["team-a"]
    hidden = await alice.post(api.app_path("web-b", "/sync"), json={})
    missing = await alice.post(api.app_path("web-z", "/sync"), json={})
    assert hidden.status_code == missing.status_code == 404
    strip = lambda d: {k: v for k, v in d.items() if k not in ("detail", "instance")}  # noqa: E731
    assert strip(hidden.json()) == strip(missing.json())
    assert hidden.json()["detail"].replace("web-b", "X") == missing.json()["detail"].replace(
        "web-z", "X"
    )
    assert hidden.headers.keys() == missing.headers.keys()


async def test_delete_without_cascade_and_a_project_in_use(world: World) -> None:
    api = world.api
    in_use = await world.admin.delete("/api/v1/projects/team-b")
    assert in_use.status_code == 409, in_use.text

    gone = await world.admin.delete(api.app_path("web-b"), params={"cascade": "false"})
    assert gone.status_code == 204, gone.text
    assert (await world.admin.get(api.app_path("web-b"))).status_code == 404
    assert (await world.admin.delete("/api/v1/projects/team-b")).status_code == 204
    assert (await world.admin.get("/api/v1/projects/team-b")).status_code == 404


async def test_fields_the_crd_does_not_declare_are_the_clients_error(world: World) -> None:
    """Kubernetes answers a server-side apply with an undeclared field with a 500 of its own;
    the API says 422 (found by schemathesis)."""
    project = {"metadata": {"name": "odd"}, "spec": {"description": "x", "colour": "red"}}
    refused = await world.admin.post("/api/v1/projects", json=project)
    assert refused.status_code == 422, refused.text
    assert "colour" in refused.json()["detail"]
    app = app_body("odd", "team-a", world.repo, world.api.namespace)
    app["spec"]["colour"] = "red"
    refused = await world.admin.post("/api/v1/applications", json=app)
    assert refused.status_code == 422, refused.text


async def test_logins_and_logouts_are_audited_with_the_address(world: World) -> None:
    wrong = await world.api.client().post(
        "/api/v1/session", json={"username": "alice", "password": "not it"}
    )
    assert wrong.status_code == 401
    assert (await world.users["team-b"].delete("/api/v1/session")).status_code == 204
    audit = world.api.services.audit
    assert audit is not None
    address = CLIENT_ADDRESS[0]

    async def seen() -> set[tuple[str, str, Result, str]]:
        entries = audit.query(queries.Filter(action="log*"), 100, None).entries
        return {(e.action, e.actor.name, e.result, e.source_ip) for e in entries}

    # A logout is written in the background (auth's logout is not async).
    found = await wait_for(
        seen, lambda s: ("logout", "bob", Result.SUCCEEDED, address) in s, what="logout"
    )
    assert ("login.failed", "alice", Result.FAILED, address) in found
    assert ("login", "bob", Result.SUCCEEDED, address) in found
