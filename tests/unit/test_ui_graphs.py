"""The dependency graph's layout: dependencies to the left, dependents to the right."""

from __future__ import annotations

from tether.ui import graphs


def _nodes(*keys: str) -> dict[str, dict[str, object]]:
    return {
        k: {"namespace": k.split("/")[0], "name": k.split("/")[1], "ready": k.endswith("ok")}
        for k in keys
    }


def _edge(source: str, target: str) -> dict[str, str]:
    return {"source": source, "target": target}


def test_dependencies_stand_left_and_dependents_right_one_column_per_step() -> None:
    nodes = _nodes("a/root", "a/db-ok", "a/net-ok", "a/web", "b/api")
    edges = [_edge("a/root", "a/db-ok"), _edge("a/db-ok", "a/net-ok"), _edge("a/web", "a/root"),
             _edge("b/api", "a/root")]  # fmt: skip
    drawing = graphs.layout("a/root", nodes, edges)
    x = {b.key: b.x for b in drawing.boxes}
    assert x["a/net-ok"] < x["a/db-ok"] < x["a/root"] < x["a/web"] == x["b/api"]
    root = next(b for b in drawing.boxes if b.root)
    assert root.key == "a/root" and not root.ready
    assert {b.key for b in drawing.boxes if b.ready} == {"a/db-ok", "a/net-ok"}
    assert len(drawing.lines) == 4
    assert drawing.width >= max(b.x for b in drawing.boxes) + graphs.BOX_WIDTH
    assert drawing.height >= max(b.y for b in drawing.boxes) + graphs.BOX_HEIGHT


def test_a_cycle_and_edges_to_unknown_nodes_still_lay_out() -> None:
    nodes = _nodes("a/x", "a/y")
    edges = [_edge("a/x", "a/y"), _edge("a/y", "a/x"), _edge("a/x", "a/gone")]
    drawing = graphs.layout("a/x", nodes, edges)
    assert {b.key for b in drawing.boxes} == {"a/x", "a/y"}
    assert len(drawing.lines) == 2


def test_an_app_alone_is_one_box() -> None:
    drawing = graphs.layout("a/x", _nodes("a/x"), [])
    assert len(drawing.boxes) == 1 and drawing.lines == ()
