"""The Git generator: one set per matching directory, or per object in each matching file.

Directories: every directory of the tree except those under a name starting with `.`, in the
order a walk visits them (parents before children, siblings by name), kept when some
`directories[].path` matches it (Go `path.Match`) and no `exclude: true` entry does; exclusion
wins whatever the order. Parameters: `path.path`, `path.basename`, `path.basenameNormalized`,
`path.segments` (Argo CD's goTemplate names; fasttemplate's `path[N]` is
`{{ index .path.segments N }}` here).

Files: every file some `files[].path` matches (as `git ls-files` matches a pathspec) and no
`exclude: true` entry does, by path. Each file holds an object or a list of objects (JSON or
YAML); each object's keys are parameters as written, plus `path` describing the file's
directory (`path`, `basename`, `basenameNormalized`, `filename`, `filenameNormalized`,
`segments`), which replaces a `path` key of the file's own. With `pathParamPrefix: p` the path
parameters go under `p.path` instead.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tether.generators import documents, globs, names
from tether.generators.elements import Context, Element, numbered, with_values
from tether.generators.errors import InvalidSpec, MissingInput
from tether.generators.inputs import FileTree, GitRef
from tether.generators.params import Params


@dataclass(frozen=True)
class PathRule:
    pattern: str
    exclude: bool


def ref_of(body: Mapping[str, Any], where: str) -> GitRef:
    url, revision = body.get("repoURL"), body.get("revision", "")
    if not isinstance(url, str) or not url:
        raise InvalidSpec(f"{where}.repoURL: required")
    if not isinstance(revision, str):
        raise InvalidSpec(f"{where}.revision: must be a string")
    return GitRef(url, revision)


def generate(body: Mapping[str, Any], where: str, ctx: Context) -> list[Element]:
    ref = ref_of(body, where)
    prefix = body.get("pathParamPrefix") or ""
    if not isinstance(prefix, str):
        raise InvalidSpec(f"{where}.pathParamPrefix: must be a string")
    directories, files = body.get("directories"), body.get("files")
    if bool(directories) == bool(files):
        raise InvalidSpec(f"{where}: set exactly one of directories and files")
    field = "directories" if directories else "files"
    rules = _rules(directories or files, f"{where}.{field}")
    tree = ctx.inputs.repositories.get(ref)
    if tree is None:
        raise MissingInput(f"{where}: no snapshot of {ref} was provided", needed=ref)
    if directories:
        sets = _directory_sets(tree, rules, prefix)
    else:
        sets = _file_sets(tree, rules, prefix, where, ctx)
    return with_values(numbered(where, sets, ctx), body.get("values"), where, ctx)


def _rules(raw: Any, where: str) -> tuple[PathRule, ...]:
    if not isinstance(raw, list):
        raise InvalidSpec(f"{where}: must be a list of {{path, exclude}}")
    rules = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or not isinstance(item.get("path"), str):
            raise InvalidSpec(f"{where}[{i}].path: required")
        rules.append(PathRule(item["path"], bool(item.get("exclude", False))))
    return tuple(rules)


def _selected(
    paths: Sequence[str], rules: Sequence[PathRule], matches: Callable[[str, str], bool]
) -> list[str]:
    includes = [r.pattern for r in rules if not r.exclude]
    excludes = [r.pattern for r in rules if r.exclude]
    return [
        p
        for p in paths
        if any(matches(i, p) for i in includes) and not any(matches(x, p) for x in excludes)
    ]


def directories(tree: FileTree) -> list[str]:
    """The directories a walk of the checkout visits, hidden ones and their contents skipped."""
    found: set[str] = set()
    for path in tree.files():
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            if parts[depth - 1].startswith("."):
                break
            found.add("/".join(parts[:depth]))
    return sorted(found, key=lambda d: d.split("/"))


def _directory_sets(tree: FileTree, rules: Sequence[PathRule], prefix: str) -> list[Params]:
    chosen = _selected(directories(tree), rules, globs.directory_matches)
    return [_with_path({}, _path_params(d, None), prefix) for d in chosen]


def _file_sets(
    tree: FileTree, rules: Sequence[PathRule], prefix: str, where: str, ctx: Context
) -> list[Params]:
    sets: list[Params] = []
    for path in _selected(sorted(tree.files()), rules, globs.file_matches):
        origin = f"{where}: file {path}"
        data = documents.load(tree.read(path), origin, ctx.limits.documents)
        for obj in documents.objects(data, origin):
            directory = posixpath.dirname(path) or "."
            sets.append(_with_path(obj, _path_params(directory, posixpath.basename(path)), prefix))
    return sets


def _path_params(directory: str, filename: str | None) -> dict[str, Any]:
    base = posixpath.basename(directory) or directory
    described: dict[str, Any] = {
        "path": directory,
        "basename": base,
        "basenameNormalized": names.normalize(base),
        "segments": directory.split("/"),
    }
    if filename is not None:
        described["filename"] = filename
        described["filenameNormalized"] = names.normalize(filename)
    return described


def _with_path(params: Params, described: dict[str, Any], prefix: str) -> Params:
    return {**params, prefix: {"path": described}} if prefix else {**params, "path": described}
