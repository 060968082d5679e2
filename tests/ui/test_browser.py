"""The web UI in a real browser (Debian's Chromium, headless, driven by Playwright) against the
real API server, controller, Git server and control plane.

One scenario, as a person would use it: log in, see the list, open an app, view its resource
tree and diff, sync it and watch the operation finish live, see a new commit turn the list's
row OutOfSync without a reload, sync again, roll back; then an app whose annotations and repo
URL carry script must not run any of it; the audit page shows each action once, by the right
actor; and a read-only user sees no sync or rollback controls. Screenshots go to
test-artifacts/ui/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.apps_fixtures import Repo
from tests.sync import manifests as m
from tests.ui.conftest import NO_CHROMIUM, VIEWER_PASSWORD, UIServer, add_viewer, admin_password
from tether.cluster.client import KubeClient
from tether.service import apps as use
from tether.service.runtime import Runtime

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240), NO_CHROMIUM]
SECRET_VALUE = "hunter2-do-not-show"
XSS_NOTE = '<img src=x onerror="window.__xss=1;alert(1)">'
XSS_URL = "javascript:window.__xss=2;alert(2)"
LIVE = 60_000  # ms: how long a live update may take (controller + rollout on kwok)


def _files(version: str) -> dict[str, Any]:
    return {
        "app/web.yaml": m.dump(
            m.deployment("web", 1, image=f"registry.invalid/web:{version}"),
            m.config_map("settings", {"version": version}),
            m.secret("creds", {"password": SECRET_VALUE}),
        )
    }


async def _setup(rt: Runtime, kube: KubeClient, namespace: str, repo: Repo) -> str:
    first = repo.commit("v1", _files("1"))
    await use.create(
        rt,
        use.CreateOptions(name="web", repo_url=repo.url, path="app", dest_namespace=namespace),
    )
    xss = use.application_manifest(
        namespace,
        use.CreateOptions(name="xss", repo_url=XSS_URL, path=XSS_NOTE, dest_namespace=namespace),
    )
    xss["metadata"]["annotations"] = {
        "note": XSS_NOTE,
        "link.tether.dev/docs": XSS_URL,
        "link.tether.dev/data": "data:text/html,<script>alert(3)</script>",
        "link.tether.dev/home": "https://example.com/",
    }
    await use.create_body(rt, xss)
    await add_viewer(kube, namespace)
    return first


async def _login(page: Any, base: str, user: str, password: str) -> None:
    await page.goto(f"{base}/")
    await page.wait_for_url("**/login?next=*")
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", password)
    await page.click("#login")
    await page.wait_for_selector("#apps")


async def _sync(page: Any, shots: Path, name: str) -> None:
    await page.click("#sync-open")
    await page.wait_for_selector("#sync-dialog[open]")
    await page.screenshot(path=str(shots / f"{name}-dialog.png"))
    await _finished(page, lambda: page.click("#sync-submit"))


async def _finished(page: Any, act: Callable[[], Awaitable[None]]) -> None:
    """Do `act` (which requests an operation) and wait for a new operation to succeed."""
    before = await page.get_attribute("#operation", "data-op")
    await act()
    new = f"#operation:not([data-op='{before}']):not([data-op='requested'])"
    await page.wait_for_selector(f"{new} #op-phase:text-is('Succeeded')", timeout=LIVE)


async def test_a_person_syncs_and_rolls_back_in_the_browser(
    rt: Runtime,
    kube: KubeClient,
    namespace: str,
    make_repo: Callable[[], Repo],
    start_controller: Callable[..., Any],
    ui_server: UIServer,
    browser: Any,
    artifacts: Path,
) -> None:
    repo = make_repo()
    first = await _setup(rt, kube, namespace, repo)
    start_controller()
    dialogs: list[str] = []
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()

    async def on_dialog(dialog: Any) -> None:
        if dialog.type == "confirm":  # hx-confirm before a rollback
            await dialog.accept()
        else:
            dialogs.append(f"{dialog.type}: {dialog.message}")
            await dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        await _scenario(page, ui_server.url, rt, kube, namespace, repo, first, artifacts, dialogs)
    except BaseException:
        await page.screenshot(path=str(artifacts / "failed.png"))
        raise
    finally:
        await context.close()


async def _scenario(
    page: Any,
    base: str,
    rt: Runtime,
    kube: KubeClient,
    namespace: str,
    repo: Repo,
    first: str,
    artifacts: Path,
    dialogs: list[str],
) -> None:
    await _login(page, base, "admin", await admin_password(kube, namespace))

    # The list, live.
    await page.wait_for_selector("#live.on")
    await page.wait_for_selector("#app-web")
    await page.wait_for_selector("#app-xss")
    await page.screenshot(path=str(artifacts / "01-list.png"))
    await page.click("#view-grid")
    await page.wait_for_selector("article#app-web")
    await page.screenshot(path=str(artifacts / "01-grid.png"))
    await page.click("#view-list")
    await page.wait_for_selector("tr#app-web")

    # The app: tree (nothing yet), diff, sync watched live, then the tree.
    await page.click("#app-web a.app-name")
    await page.wait_for_selector("#status")
    await page.wait_for_selector("#live.on")
    await page.click("#tab-diff")
    await page.wait_for_selector("#diff .diff-title", timeout=LIVE)
    diff_text = await page.inner_text("#diff")
    assert "registry.invalid/web:1" in diff_text
    assert SECRET_VALUE not in await page.content()
    await page.screenshot(path=str(artifacts / "02-diff.png"))
    await _sync(page, artifacts, "03-sync")
    await page.click("#tab-events")
    await page.wait_for_selector("#events td:text-is('SyncSucceeded')", timeout=LIVE)
    await page.click("#tab-tree")
    await page.wait_for_selector(".tree .node .node .node .kind:text-is('Pod')", timeout=LIVE)
    await page.screenshot(path=str(artifacts / "04-tree.png"))

    # A resource's live manifest; the Secret's value is masked.
    await page.click(".tree a.res[data-kind='Secret']")
    await page.wait_for_selector("#manifest")
    assert "++++++++" in await page.inner_text("#manifest")
    assert SECRET_VALUE not in await page.content()
    await page.click(".tree a.res[data-kind='ConfigMap']")
    await page.wait_for_selector("#manifest:has-text('settings')")

    # A new commit: the list's row turns OutOfSync with no reload.
    await page.click("a.brand")
    await page.wait_for_selector("#live.on")
    await page.wait_for_selector("#app-web .sync-synced")
    second = repo.commit("v2", _files("2"))
    await page.wait_for_selector("#app-web .sync-outofsync", timeout=LIVE)
    await page.screenshot(path=str(artifacts / "05-list-outofsync.png"))

    # Sync v2, then roll back to v1 from the history.
    await page.click("#app-web a.app-name")
    await _sync(page, artifacts, "06-sync-v2")
    await page.wait_for_selector(f"#sync-status code:has-text('{second[:8]}')", timeout=LIVE)
    await page.click("#tab-history")
    await page.wait_for_selector("#history-0 button.rollback")
    await page.screenshot(path=str(artifacts / "07-history.png"))
    await _finished(page, lambda: page.click("#history-0 button.rollback"))
    await page.wait_for_selector(f"#operation code:has-text('{first[:8]}')", timeout=LIVE)
    settings = await kube.get("v1", "ConfigMap", "settings", namespace)
    assert settings["data"] == {"version": "1"}
    await page.screenshot(path=str(artifacts / "08-rolled-back.png"))

    # Script in annotations and the repo URL stays text.
    await page.goto(f"{base}/applications/{namespace}/xss")
    await page.click("details.annotations summary")
    await page.wait_for_selector("#annotations")
    assert XSS_NOTE in await page.inner_text("#annotations")
    assert await page.locator("a[href^='javascript'], a[href^='data']").count() == 0
    assert await page.locator("a[href='https://example.com/']").count() == 1
    await page.screenshot(path=str(artifacts / "09-xss-app.png"))
    await page.goto(f"{base}/?search=xss")
    await page.wait_for_selector("#app-xss")
    await asyncio.sleep(0.5)
    assert await page.evaluate("window.__xss") is None
    assert dialogs == []
    await page.screenshot(path=str(artifacts / "09-xss-list.png"))

    # The audit trail: each action once, by admin.
    await page.goto(f"{base}/audit?actor=admin")
    rows = await page.locator("#audit tr.entry").evaluate_all(
        "rows => rows.map(r => [r.dataset.action, r.dataset.actor, r.cells[4].innerText])"
    )
    await page.screenshot(path=str(artifacts / "10-audit.png"))
    actions = [a for a, _, _ in rows]
    assert actions.count("login") == 1, rows
    assert actions.count("app.sync") == 2, rows
    assert actions.count("app.rollback") == 1, rows
    assert all(actor == "admin" and result == "succeeded" for _, actor, result in rows), rows

    # A read-only user sees the app but no way to change it.
    await page.click("#logout")
    await page.wait_for_url("**/login")
    await _login(page, base, "viewer", VIEWER_PASSWORD)
    await page.click("#app-web a.app-name")
    await page.wait_for_selector("#status")
    assert await page.locator("#sync-open").count() == 0
    await page.click("#tab-history")
    await page.wait_for_selector("#history")
    assert await page.locator("button.rollback").count() == 0
    await page.screenshot(path=str(artifacts / "11-readonly.png"))


async def test_a_tab_clicked_while_the_panel_loads_is_the_one_shown(
    rt: Runtime,
    kube: KubeClient,
    namespace: str,
    make_repo: Callable[[], Repo],
    ui_server: UIServer,
    browser: Any,
    artifacts: Path,
) -> None:
    """Regression (CI): the resource tree's first load, answered after a quicker click on
    History, replaced the history panel."""
    repo = make_repo()
    repo.commit("v1", _files("1"))
    await use.create(
        rt,
        use.CreateOptions(name="tabs", repo_url=repo.url, path="app", dest_namespace=namespace),
    )
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()

    async def slow_tree(route: Any) -> None:
        await asyncio.sleep(1.5)
        await route.continue_()

    try:
        await _login(page, ui_server.url, "admin", await admin_password(kube, namespace))
        await page.route("**/tree", slow_tree)
        await page.goto(f"{ui_server.url}/applications/{rt.settings.namespace}/tabs")
        await page.wait_for_selector("#status")
        await page.click("#tab-history")
        await page.wait_for_selector("#history")
        await asyncio.sleep(2.5)  # the slow tree answer has come and gone by now
        assert await page.locator("#history").count() == 1
        await page.screenshot(path=str(artifacts / "history-won.png"))
    finally:
        await context.close()
