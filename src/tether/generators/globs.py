"""The two path pattern dialects of Argo CD's Git generator, compiled to regular expressions.

- Directories match with Go's `path.Match`: `*` and `?` stop at `/`, `[a-z]` and `[^a-z]` are
  classes, a backslash quotes the next character. `apps/*` is each directory directly in
  `apps`, never deeper.
- Files match as `git ls-files -- PATTERN` matches (Argo CD's default, without its opt-in
  "new globbing"): a pattern without wildcards names a file or every file under a directory;
  with wildcards it is matched against the whole path with `*` and `?` crossing `/`, so
  `cluster-config/*/config.json` also finds `cluster-config/a/b/config.json`. Classes take `!`
  or `^` for negation.

A malformed pattern is an InvalidSpec (Argo CD logs it and matches nothing, which reads to the
user as an empty generator).
"""

from __future__ import annotations

import re
from functools import lru_cache

from tether.generators.errors import InvalidSpec

_WILDCARDS = frozenset("*?[\\")


def directory_matches(pattern: str, path: str) -> bool:
    return _compiled(pattern, crossing=False).match(path) is not None


def file_matches(pattern: str, path: str) -> bool:
    pattern = pattern.removeprefix("./")
    if pattern in ("", "."):
        return True
    if not _WILDCARDS & set(pattern):
        return path == pattern or path.startswith(pattern.rstrip("/") + "/")
    return _compiled(pattern, crossing=True).match(path) is not None


@lru_cache(maxsize=512)
def _compiled(pattern: str, *, crossing: bool) -> re.Pattern[str]:
    """`crossing`: whether `*` and `?` match `/` (git pathspecs) or not (path.Match)."""
    star, one = (".*", ".") if crossing else ("[^/]*", "[^/]")
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(one)
        elif ch == "[":
            cls, i = _char_class(pattern, i, crossing=crossing)
            out.append(cls)
            continue
        elif ch == "\\":
            if i + 1 == len(pattern):
                raise InvalidSpec(f"invalid path pattern {pattern!r}: a trailing backslash")
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("(?s:" + "".join(out) + r")\Z")


def _char_class(pattern: str, start: int, *, crossing: bool) -> tuple[str, int]:
    """The regex of the class opening at `start`, and the index just past its `]`. Git lets a
    `]` right after the opening be a member; Go calls that an empty class, a bad pattern."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] in ("!^" if crossing else "^")
    i += negate
    members: list[str] = []
    while i < len(pattern) and (pattern[i] != "]" or (crossing and not members)):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            i += 1
            members.append(re.escape(pattern[i]))
        else:
            members.append("-" if ch == "-" and members else re.escape(ch))
        i += 1
    if i >= len(pattern) or not members:
        raise InvalidSpec(f"invalid path pattern {pattern!r}: an unclosed or empty '['")
    if members[-1] == "-":
        members[-1] = "\\-"  # a trailing '-' is a member, not a range
    return ("[^" if negate else "[") + "".join(members) + "]", i + 1
