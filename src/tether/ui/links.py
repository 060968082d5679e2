"""Which text may become a link: only absolute http(s) URLs; everything else stays text.

Repository URLs, cluster servers and annotations come from whoever can write an Application or
a Git repository. A `javascript:`, `data:` or `vbscript:` URL in an `href` runs script when
clicked, and browsers forgive a lot (`JaVaScRiPt:`, leading spaces, tabs or newlines inside the
scheme), so this is an allow-list on the parsed, cleaned URL rather than a deny-list of schemes.
Autoescaping (the templates') then keeps the allowed URL inside its attribute.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

LINK_PREFIX = "link.tether.dev/"  # annotation `link.tether.dev/<title>: https://...`
_SCHEMES = frozenset({"http", "https"})
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def href(value: object) -> str:
    """`value` if it is an absolute http(s) URL with a host, else "" (render it as text)."""
    if not isinstance(value, str) or _CONTROL.search(value):
        return ""
    try:
        parts = urlsplit(value)
    except ValueError:
        return ""
    if parts.scheme.lower() not in _SCHEMES or not parts.netloc:
        return ""
    return value


@dataclass(frozen=True)
class Link:
    title: str
    url: str  # "" when it may not be a link


def annotation_links(annotations: Mapping[str, str]) -> list[Link]:
    """The app's external links, from `link.tether.dev/<title>` annotations."""
    return [
        Link(key.removeprefix(LINK_PREFIX), href(value))
        for key, value in sorted(annotations.items())
        if key.startswith(LINK_PREFIX)
    ]


_REVISION = re.compile(r"^(?:(?P<ref>.*)@)?(?:sha1:)?(?P<sha>[0-9a-f]{40})$")


def short_revision(revision: object) -> str:
    """`HEAD@sha1:<40 hex>` as `HEAD@<8 hex>`, a bare SHA as 8 hex; anything else trimmed."""
    text = str(revision or "")
    found = _REVISION.match(text)
    if found is None:
        return text[:40]
    sha, ref = found["sha"], found["ref"]
    return f"{ref}@{sha[:8]}" if ref and ref != sha else sha[:8]
