"""Which symlinks of a repository tree stay inside it.

A symlink is content the repository's author controls. Materialized naively, `values.yaml ->
/etc/passwd` or `creds -> ../../other-app/secrets` lets a manifest render read files from the
host or from another tenant's snapshot; this is the path-traversal class Argo CD fixed after
CVE-2022-24730 by refusing out-of-bounds symlinks. Here each link's target is resolved inside the
tree, following chains of other links the way the kernel would, and a link is kept only if every
step stays within the root.

Conservative on purpose: absolute targets, empty targets and chains longer than the kernel's
limit (a loop) count as escaping, since none can be shown to stay inside. Pure: the tree is given
as a mapping of link path to raw target.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

MAX_HOPS = 40  # Linux's MAXSYMLINKS: deeper chains fail with ELOOP on a real filesystem


def escaping(links: Mapping[str, str]) -> frozenset[str]:
    """The repo-relative paths of links whose target leaves the root (directly or via a chain)."""
    return frozenset(path for path in links if not stays_inside(path, links))


def stays_inside(path: str, links: Mapping[str, str]) -> bool:
    """Resolve link `path` against the tree's other links; False if any step leaves the root."""
    resolved = path.split("/")[:-1]  # a link's target is relative to the directory holding it
    pending: deque[str] = deque()
    hops = 0
    current: str | None = path
    while current is not None:
        hops += 1
        target = links[current]
        if hops > MAX_HOPS or not target or target.startswith("/"):
            return False
        pending.extendleft(reversed(target.split("/")))
        current = _walk(resolved, pending, links)
        if current == "":
            return False
    return True


def _walk(resolved: list[str], pending: deque[str], links: Mapping[str, str]) -> str | None:
    """Consume `pending` into `resolved` until a link is met (its path is returned, and it is
    popped so its target can be spliced in), the walk climbs above the root (""), or it ends
    (None). Mutates both arguments: they are the walker's state."""
    while pending:
        part = pending.popleft()
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return ""
            resolved.pop()
            continue
        resolved.append(part)
        here = "/".join(resolved)
        if here in links:
            resolved.pop()
            return here
    return None
