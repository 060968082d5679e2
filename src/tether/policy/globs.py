"""The glob patterns Project fields use, with a leading `!` for denial.

`*` matches any text (`/` included, as Argo CD's project globs do), `?` one character and
`[a-z]` / `[!a-z]` a character class. Argo CD's `{a,b}` alternatives are not supported: list the
alternatives as separate entries instead.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

DENY_PREFIX = "!"


def matches(pattern: str, value: str) -> bool:
    return fnmatchcase(value, pattern)


def is_deny(pattern: str) -> bool:
    return pattern.startswith(DENY_PREFIX)


def positive(pattern: str) -> str:
    """The pattern without its `!`: what a deny entry matches."""
    return pattern.removeprefix(DENY_PREFIX)
