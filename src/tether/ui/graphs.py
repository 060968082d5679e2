"""Laying out an app's dependency graph for the page: columns by distance from the app.

What the app depends on stands to its left, one column per step (its dependencies' own
dependencies further left), what depends on it to its right; within a column, by name. Pure:
nodes and edges in, boxes and lines out, drawn as inline SVG by `_dependencies.html` (SVG
presentation attributes, no style attributes: the page's CSP stays strict).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

BOX_WIDTH, BOX_HEIGHT, COLUMN_GAP, ROW_GAP, MARGIN = 200, 40, 56, 14, 8


@dataclass(frozen=True)
class Box:
    key: str  # namespace/name
    x: int
    y: int
    name: str
    namespace: str
    ready: bool
    root: bool


@dataclass(frozen=True)
class Line:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True)
class Drawing:
    boxes: tuple[Box, ...]
    lines: tuple[Line, ...]
    width: int
    height: int


def _depths(root: str, edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Column of each node: -n for what the root needs n steps away, +n for what needs it."""
    depth = {root: 0}
    for sign, pairs in ((-1, edges), (1, [(b, a) for a, b in edges])):
        frontier = [root]
        while frontier:
            step = []
            for node in frontier:
                for a, b in pairs:
                    if a == node and b not in depth:
                        depth[b] = depth[node] + sign
                        step.append(b)
            frontier = step
    return depth


def layout(
    root: str, nodes: Mapping[str, Mapping[str, Any]], edges: Sequence[Mapping[str, str]]
) -> Drawing:
    pairs = [
        (e["source"], e["target"]) for e in edges if e["source"] in nodes and e["target"] in nodes
    ]
    depth = _depths(root, pairs)
    columns = sorted(set(depth.values()))
    place: dict[str, tuple[int, int]] = {}
    for index, column in enumerate(columns):
        members = sorted(k for k, d in depth.items() if d == column)
        for row, key in enumerate(members):
            x = MARGIN + index * (BOX_WIDTH + COLUMN_GAP)
            place[key] = (x, MARGIN + row * (BOX_HEIGHT + ROW_GAP))
    boxes = tuple(
        Box(key, x, y, str(nodes[key]["name"]), str(nodes[key]["namespace"]),
            bool(nodes[key].get("ready")), key == root)
        for key, (x, y) in sorted(place.items())
    )  # fmt: skip
    lines = tuple(_line(place[a], place[b]) for a, b in pairs if a in place and b in place)
    rows = max((sum(1 for d in depth.values() if d == c) for c in columns), default=1)
    width = MARGIN * 2 + len(columns) * BOX_WIDTH + (len(columns) - 1) * COLUMN_GAP
    height = MARGIN * 2 + rows * BOX_HEIGHT + (rows - 1) * ROW_GAP
    return Drawing(boxes, lines, width, height)


def _line(dependent: tuple[int, int], dependency: tuple[int, int]) -> Line:
    """From the dependent's left edge to the dependency's right edge (or the other way round
    when a cycle puts the dependency to the right)."""
    (ax, ay), (bx, by) = dependent, dependency
    mid = BOX_HEIGHT // 2
    if bx < ax:
        return Line(ax, ay + mid, bx + BOX_WIDTH, by + mid)
    return Line(ax + BOX_WIDTH, ay + mid, bx, by + mid)
