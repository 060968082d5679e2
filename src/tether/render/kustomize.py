"""Kustomize sources: `kustomize build` on a private copy, with the spec's overrides applied.

Argo CD applies a source's `images`, `namePrefix`, `commonLabels`... by running `kustomize edit`
on the application's kustomization file in its checkout. Snapshots are read-only and shared, so
a render copies the kustomization directories the build reads (found by `kustomizations.walk`,
scanned for escaping symlinks first) into its temporary directory and edits the copy the way
`kustomize edit` would. A wrapping kustomization (`resources: [<app>]` plus the overrides) was
tried first and rejected: it composes instead of replacing, so an app with `namePrefix: dev-`
and an override `x-` yields `x-dev-web` where Argo CD yields `x-web`, and an image the app
already renames is no longer matched by the override's name.

Copying only those directories also narrows what kustomize can see to files the sandbox vetted.
The build itself goes to a warm `helper` process when one is built (same kustomize release, same
bytes, a fraction of the CPU), else to the `kustomize build` binary; TETHER_RENDER_HELPER=0
forces the binary.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tether.model.app import KustomizeSource
from tether.model.revisions import Snapshot
from tether.render import helper, kustomizations, paths, processes, tools, yamls
from tether.render.errors import InvalidSource
from tether.render.options import RenderLimits
from tether.render.results import Rendered

_TAG = re.compile(r"^(.*):([a-zA-Z0-9._-]*|\*)$")  # kustomize edit set image's own pattern
_PRESERVE = "*"  # `kustomize edit set image` keeps the existing value for "*"


async def render(
    snapshot: Snapshot,
    app: paths.Located,
    spec: KustomizeSource,
    workdir: Path,
    limits: RenderLimits,
) -> Rendered:
    target = await asyncio.to_thread(prepare, snapshot, app, spec, workdir, limits)
    what = f"kustomize build {app.rel}"
    output = await build(target, workdir, limits, what)
    bodies = await asyncio.to_thread(yamls.load_output, output, limits, what)
    return Rendered(bodies, len(output))


async def build(target: Path, workdir: Path, limits: RenderLimits, what: str) -> bytes:
    """`kustomize build target`'s stdout, from a render helper if one is built, else the binary."""
    tree = workdir / "tree"
    scrub = ((f"{tree}/", ""), (str(workdir), "<scratch>"))
    if (pool := helper.shared()) is not None:
        request = helper.Build(
            target, what, limits.timeout_seconds, limits.max_output_bytes, scrub=scrub
        )
        return await pool.build(request)
    return await processes.run(
        [tools.executable("kustomize"), "build", str(target)],
        cwd=workdir,
        env=tools.environment(workdir),
        max_output=limits.max_output_bytes,
        what=what,
        scrub=scrub,
    )


def prepare(
    snapshot: Snapshot,
    app: paths.Located,
    spec: KustomizeSource,
    workdir: Path,
    limits: RenderLimits,
) -> Path:
    """Vet, copy and edit; returns the copied application directory to build."""
    graph = kustomizations.walk(snapshot, app, limits, spec.patches)
    copied = outermost(graph.roots)
    for rel in copied:
        paths.scan(snapshot, paths.locate(snapshot, rel), recursive=True, follow_links=True)
    tree = workdir / "tree"
    for rel in copied:
        copy_tree(app.root / rel, tree / rel)
    for written, real in graph.aliases:
        link_alias(tree, written, real)
    target = tree / app.rel
    if spec != KustomizeSource():
        edited = apply_overrides(graph.document, spec)
        # JSON, not YAML: kustomize's YAML 1.1 parser would read an unquoted `n` or `on`
        # (say, namespace "n") as a boolean; JSON quotes every string.
        (target / graph.file_name).write_text(json.dumps(edited, indent=2))
    return target


def apply_overrides(kustomization: Mapping[str, Any], spec: KustomizeSource) -> dict[str, Any]:
    """The kustomization as Argo CD's in-place `kustomize edit set/add ...` would leave it."""
    edited = dict(kustomization)
    scalars = (
        ("namePrefix", spec.name_prefix),
        ("nameSuffix", spec.name_suffix),
        ("namespace", spec.namespace),
    )
    edited.update({field: value for field, value in scalars if value})
    for field, extra in (
        ("commonLabels", spec.common_labels),
        ("commonAnnotations", spec.common_annotations),
    ):
        if extra:
            edited[field] = {**(edited.get(field) or {}), **extra}
    if spec.images:
        edited["images"] = set_images(edited.get("images") or [], spec.images)
    if spec.patches:
        edited["patches"] = [*(edited.get("patches") or []), *(dict(p) for p in spec.patches)]
    return edited


def set_images(existing: list[Any], overrides: Iterable[str]) -> list[dict[str, str]]:
    """`kustomize edit set image` semantics: replace entries by name, keep others, sort by name."""
    wanted = {image["name"]: image for image in map(parse_image, overrides)}
    merged: dict[str, dict[str, str]] = {}
    for entry in existing:
        if not isinstance(entry, dict) or "name" not in entry:
            continue
        name = str(entry["name"])
        override = wanted.pop(name, None)
        merged[name] = _preserving(override, entry) if override else dict(entry)
    merged.update(wanted)
    return [_without_preserve(merged[name]) for name in sorted(merged)]


def parse_image(arg: str) -> dict[str, str]:
    """'name=newName:tag', 'name=newName@digest', 'name=newName', 'name:tag' or 'name@digest'."""
    if arg.count("=") == 1:
        name, replacement = arg.split("=")
        new_name, tag, digest = _split_image(replacement, arg, name_only_ok=True)
        image = {"name": name, "newName": new_name, "newTag": tag, "digest": digest}
    else:
        name, tag, digest = _split_image(arg, arg, name_only_ok=False)
        image = {"name": name, "newTag": tag, "digest": digest}
    return {key: value for key, value in image.items() if value}


def _split_image(text: str, arg: str, *, name_only_ok: bool) -> tuple[str, str, str]:
    if "@" in text:
        name, digest = text.split("@")[:2]
        return name, "", digest
    if match := _TAG.match(text):
        return match.group(1), match.group(2), ""
    if text and name_only_ok:
        return text, "", ""
    raise InvalidSource(
        f"kustomize image override {arg!r} is not one of name=newName:tag, "
        "name=newName@digest, name=newName, name:tag or name@digest"
    )


def _preserving(override: dict[str, str], existing: Mapping[str, Any]) -> dict[str, str]:
    merged = dict(override)
    for field in ("newName", "newTag", "digest"):
        if merged.get(field) == _PRESERVE:
            merged[field] = str(existing.get(field) or "")
    return merged


def _without_preserve(image: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in image.items() if v and v != _PRESERVE}


def outermost(roots: Iterable[str]) -> list[str]:
    """The directories of `roots` that are not inside another one (copying those copies all)."""
    ordered = sorted(set(roots), key=lambda rel: (rel.count("/"), rel))  # ancestors first
    if "." in ordered:
        return ["."]
    kept: list[str] = []
    for rel in ordered:
        if not any(rel.startswith(f"{outer}/") for outer in kept):
            kept.append(rel)
    return kept


def link_alias(tree: Path, written: str, real: str) -> None:
    """Make `written` (a path a kustomization used) lead to the copy of `real` in the tree."""
    alias = tree / written
    if os.path.lexists(alias) or alias.exists():
        return  # the copy already resolves it (the link itself was inside a copied root)
    alias.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(tree / real, alias.parent), alias)


def copy_tree(source: Path, destination: Path) -> None:
    """Copy a vetted directory: files (and in-repository file symlinks) by content, directory
    symlinks as links (kustomize resolves directories itself), `.git` skipped."""
    destination.mkdir(parents=True, exist_ok=True)
    with os.scandir(source) as entries:
        for entry in entries:
            target = destination / entry.name
            if entry.name == ".git":
                continue
            if entry.is_symlink() and entry.is_dir():
                os.symlink(os.readlink(entry.path), target)
            elif entry.is_dir():
                copy_tree(Path(entry.path), target)
            elif entry.is_file():  # follows in-repository file symlinks: scan vetted them
                shutil.copyfile(entry.path, target)
