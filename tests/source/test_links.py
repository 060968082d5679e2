"""Symlink escape analysis: every way a link can leave the tree, and the ways it may not."""

from __future__ import annotations

import pytest

from tether.source import links

TREE = {
    "ok-file": "a.yaml",
    "ok-dir": "sub",
    "ok-chain": "ok-dir/x.yaml",
    "ok-dot": ".",
    "ok-up-and-down": "sub/../a.yaml",
    "ok-dangling": "missing/file",
    "sub/ok-parent": "../a.yaml",
    "sub/deeper/ok-root": "../../a.yaml",
    "esc-parent": "../outside",
    "esc-deep": "sub/../../x",
    "esc-abs": "/etc/passwd",
    "esc-empty": "",
    "esc-dirlink": "..",
    "esc-via-dirlink": "esc-dirlink/etc/passwd",
    "esc-chain": "sub/esc-hop",
    "sub/esc-hop": "../../etc",
    "esc-through-dir": "ok-dir/../../x",  # ok-dir is `sub`, so `..` lands at the root, then out
    "esc-loop-a": "esc-loop-b",
    "esc-loop-b": "esc-loop-a",
}


def test_escaping_links() -> None:
    assert links.escaping(TREE) == {p for p in TREE if p.rsplit("/", 1)[-1].startswith("esc-")}


@pytest.mark.parametrize("depth", [links.MAX_HOPS - 1, links.MAX_HOPS + 1])
def test_long_chains_count_as_escaping_only_past_the_kernel_limit(depth: int) -> None:
    chain = {f"l{i}": f"l{i + 1}" for i in range(depth)}
    chain[f"l{depth}"] = "file"
    assert ("l0" in links.escaping(chain)) == (depth + 1 > links.MAX_HOPS)


def test_dot_dot_after_a_directory_link_follows_the_link_target() -> None:
    # `d -> a/b`, so `d/..` is `a` (where the kernel goes), not the root.
    tree = {"d": "a/b", "x": "d/../../.."}
    assert links.escaping(tree) == {"x"}
    assert links.escaping({"d": "a/b", "x": "d/../.."}) == frozenset()
