"""The UI's pure parts: which text may become a link, the tree's nesting, plain-word
conditions, revisions, and that templates escape what they show."""

from __future__ import annotations

import pytest

from tether.ui import links, views, web


@pytest.mark.parametrize(
    ("value", "linked"),
    [
        ("https://example.com/x?y=1", True),
        ("http://127.0.0.1:8080/", True),
        ("HTTPS://EXAMPLE.COM/", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("java\nscript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("vbscript:msgbox(1)", False),
        ("//evil.example/x", False),
        ("/relative/path", False),
        ("git://host/repo.git", False),
        ("https:///no-host", False),
        ("https://[bad", False),
        ("", False),
        (None, False),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_only_http_urls_become_links(value: object, linked: bool) -> None:
    assert (links.href(value) != "") is linked


def test_annotation_links_keep_unsafe_ones_as_text() -> None:
    found = links.annotation_links(
        {
            "link.tether.dev/docs": "https://docs.example/",
            "link.tether.dev/evil": "javascript:alert(1)",
            "other": "https://ignored.example/",
        }
    )
    assert found == [
        links.Link("docs", "https://docs.example/"),
        links.Link("evil", ""),
    ]


@pytest.mark.parametrize(
    ("revision", "shown"),
    [
        ("HEAD@sha1:" + "a" * 40, "HEAD@aaaaaaaa"),
        ("b" * 40, "bbbbbbbb"),
        ("c" * 40 + "@sha1:" + "c" * 40, "cccccccc"),
        ("v1.2.3", "v1.2.3"),
        ("", ""),
    ],
)
def test_revisions_are_shortened(revision: str, shown: str) -> None:
    assert links.short_revision(revision) == shown


def test_the_tree_nests_by_owner_uid() -> None:
    nodes = [
        {"kind": "Deployment", "name": "web", "uid": "d"},
        {"kind": "ReplicaSet", "name": "web-1", "uid": "r", "parentRefs": [{"uid": "d"}]},
        {"kind": "Pod", "name": "web-1-a", "uid": "p", "parentRefs": [{"uid": "r"}]},
        {"kind": "Service", "name": "web", "uid": "s"},
        {"kind": "Pod", "name": "orphan", "uid": "o", "parentRefs": [{"uid": "gone"}]},
    ]
    roots = views.nest(nodes)
    assert [r.node["name"] for r in roots] == ["web", "web", "orphan"]
    assert roots[0].children[0].children[0].node["name"] == "web-1-a"


def test_conditions_in_plain_words_worst_first() -> None:
    app = {
        "status": {
            "operationState": {"phase": "Failed", "message": "Deployment web: 403 forbidden"},
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "SourceUnavailable", "message": "x"},
                {"type": "Stalled", "status": "True", "reason": "ProjectDenied", "message": "y"},
            ],
        }
    }
    notes = views.explain(app)
    assert notes[0] == views.Note("error", "The last sync failed: Deployment web: 403 forbidden")
    assert views.Note("warning", "Not ready. Source unavailable: x") in notes
    assert any(n.level == "error" and "Project denied: y" in n.text for n in notes)


def _summary(i: int) -> dict[str, object]:
    return {
        "name": f"app-{i:04d}",
        "project": f"p{i % 3}",
        "repoURL": "",
        "path": "",
        "destination": {"cluster": "", "namespace": f"ns-{i % 7}"},
        "health": "Healthy",
        "sync": "Synced",
        "labels": {},
    }


def test_listing_pages_and_clamps() -> None:
    apps = [_summary(i) for i in range(1000)]
    found = views.listing(apps, views.summaries.Filters(), 99)
    assert (found.page, found.pages, found.total, found.first) == (20, 20, 1000, 951)
    assert found.choices.projects == ["p0", "p1", "p2"]
    narrowed = views.listing(apps, views.summaries.Filters(project=("p1",)), 1)
    assert narrowed.total == 333 and len(narrowed.items) == views.PAGE_SIZE


def test_templates_escape_everything() -> None:
    row = {
        "app": {
            **_summary(1),
            "name": "<b>x</b>",
            "namespace": "n",
            "repoURL": "javascript:alert(1)",
            "path": "<img src=x onerror=alert(1)>",
            "revision": "",
            "operation": "",
        },
        "may_sync": True,
    }
    html = web.templates.get_template("_app_row.html").render(row=row)
    assert "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript' not in html


@pytest.mark.parametrize("oidc", [True, False])
def test_the_login_page_offers_single_sign_on_when_configured(oidc: bool) -> None:
    html = web.templates.get_template("login.html").render(
        viewer=None, request_path="/login", next_path="/x?y=1", error="", login_token="t", oidc=oidc
    )
    assert ('href="/auth/oidc/login?return_to=/x%3Fy%3D1"' in html) is oidc
