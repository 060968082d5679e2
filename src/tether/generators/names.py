"""The name-making functions parameters use: `normalize` and the pull-request branch slug.

`normalize` is Argo CD's SanitizeName, the same function templates call as `normalize` (the
template helper has its own copy; tests compare the two): lower case, every character outside
`[-a-z0-9.]` replaced by `-`, cut at 253 bytes, `-` and `.` trimmed from both ends.

`slug` is what Argo CD's pullRequest generator does with a branch name through
gosimple/slug (at most 50 characters, `_` as `-`): `&` and `@` spelled out, accents dropped,
lower case, runs of anything but `[a-z0-9_-]` as one `-`, trimmed, and cut at the last `-` that
keeps it within 50. Non-Latin scripts, which gosimple transliterates, are dropped here; branch
names are nearly always ASCII.
"""

from __future__ import annotations

import re
import unicodedata

_INVALID_DNS = re.compile(r"[^-a-z0-9.]")
_NOT_SLUG = re.compile(r"[^a-z0-9_-]+")
_DASHES = re.compile(r"-+")
SLUG_MAX = 50


def normalize(name: str) -> str:
    return _INVALID_DNS.sub("-", name.lower())[:253].strip("-.")


def slug(text: str, max_length: int = SLUG_MAX) -> str:
    text = text.strip().replace("_", "-").replace("&", "and").replace("@", "at")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    made = _DASHES.sub("-", _NOT_SLUG.sub("-", ascii_text.lower())).strip("-_")
    return _truncate(made, max_length)


def _truncate(text: str, max_length: int) -> str:
    if len(text) <= max_length:
        return text
    cut = text.rfind("-", 0, max_length + 1)
    return text[:cut] if cut > 0 else text[:max_length]
