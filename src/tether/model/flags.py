"""`Name=true|false` lists, read strictly: sync options on an app or on one object.

An unknown name or a value that is not a bool is an error, never skipped: a misspelt
`Prune=false` that was quietly ignored would prune what its author meant to protect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def parse(entries: Iterable[str], names: Mapping[str, str], what: str) -> dict[str, bool]:
    """`{field: value}` for the entries, `names` mapping each written name to its field;
    ValueError naming the entry (`what` says where it was written) otherwise."""
    values: dict[str, bool] = {}
    for entry in (str(e).strip() for e in entries):
        if not entry:
            continue
        name, sep, value = (part.strip() for part in entry.partition("="))
        if not sep or name not in names:
            known = ", ".join(f"{n}=" for n in names)
            raise ValueError(f"unknown {what} {entry!r} (known: {known})")
        if value.lower() not in ("true", "false"):
            raise ValueError(f"{what} {name} must be true or false, got {value!r}")
        values[names[name]] = value.lower() == "true"
    return values
