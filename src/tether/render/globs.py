"""Argo CD's `directory.include` / `directory.exclude` glob syntax, compiled to regexes.

Argo CD matches these patterns (gobwas/glob, compiled without separators) against each file's
path relative to the application directory, so the syntax and its quirks are part of the spec
users write:

- `*` and `**` match any run of characters, `/` included: `*.yaml` also matches `sub/x.yaml`;
- `?` matches one character; `[abc]`, `[a-z]` and `[!abc]` match character classes;
- `{a,b}` matches any alternative, and alternatives may nest and contain wildcards;
- a backslash makes the next character literal.
"""

from __future__ import annotations

import re
from functools import lru_cache

from tether.render.errors import InvalidSource


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """The regex equivalent of an Argo CD directory glob; InvalidSource if it is malformed."""
    regex, end = _sequence(pattern, 0, in_braces=False)
    if end != len(pattern):  # a stray '}' or ','... cannot happen outside braces; be safe
        raise InvalidSource(f"invalid glob {pattern!r}: unexpected {pattern[end]!r}")
    return re.compile(f"(?s:{regex})\\Z")


def matches(pattern: str, path: str) -> bool:
    return compile_glob(pattern).match(path) is not None


def _sequence(pattern: str, i: int, *, in_braces: bool) -> tuple[str, int]:
    """Translate from i up to the end, or (inside braces) up to an unnested ',' or '}'."""
    out: list[str] = []
    while i < len(pattern):
        ch = pattern[i]
        if in_braces and ch in ",}":
            return "".join(out), i
        if ch == "*":
            while i < len(pattern) and pattern[i] == "*":
                i += 1
            out.append(".*")
            continue
        if ch == "?":
            out.append(".")
        elif ch == "[":
            cls, i = _char_class(pattern, i)
            out.append(cls)
            continue
        elif ch == "{":
            alts, i = _alternatives(pattern, i)
            out.append(alts)
            continue
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    if in_braces:
        raise InvalidSource(f"invalid glob {pattern!r}: unclosed '{{'")
    return "".join(out), i


def _alternatives(pattern: str, i: int) -> tuple[str, int]:
    options: list[str] = []
    i += 1  # past '{'
    while True:
        option, i = _sequence(pattern, i, in_braces=True)
        options.append(option)
        if pattern[i] == "}":
            return "(?:" + "|".join(options) + ")", i + 1
        i += 1  # past ','


def _char_class(pattern: str, i: int) -> tuple[str, int]:
    first = i + 2 if pattern.startswith("!", i + 1) else i + 1
    end = pattern.find("]", first + 1)  # a ']' right after '[' or '[!' is a member
    if end < 0:
        raise InvalidSource(f"invalid glob {pattern!r}: unclosed '['")
    body = pattern[i + 1 : end]
    negate = body.startswith("!")
    members = body[1:] if negate else body
    escaped = "".join("\\" + c if c in "\\]^[" else c for c in members)
    return ("[^" if negate else "[") + escaped + "]", end + 1
