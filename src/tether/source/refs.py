"""Which commit a `targetRevision` names, given the refs a remote advertises (`git ls-remote`).

The order follows Argo CD's repo-server, so specs keep their meaning: `HEAD` (or nothing) is the
remote's default branch; a 40-hex SHA is taken as is; then a branch, a tag and a full ref name
(`refs/pull/7/head`), in that order, so a branch shadows a tag of the same name; and only when no
ref has that name is the revision read as a semver constraint over the tags (`1.2.3` is the tag
`1.2.3` if it exists, otherwise it matches `v1.2.3`). Pure: tested without any repository.
"""

from __future__ import annotations

from collections.abc import Mapping

from tether.model.revisions import SHA_RE
from tether.source import semvers

HEAD = "HEAD"
_PEELED = "^{}"
_TAGS = "refs/tags/"


def parse_ls_remote(output: str) -> dict[str, str]:
    """`git ls-remote` lines to {ref: commit}; an annotated tag maps to the commit it peels to."""
    raw: dict[str, str] = {}
    for line in output.splitlines():
        sha, _, ref = line.partition("\t")
        if SHA_RE.match(sha) and ref:
            raw[ref] = sha
    peeled = {ref.removesuffix(_PEELED): sha for ref, sha in raw.items() if ref.endswith(_PEELED)}
    return {ref: peeled.get(ref, sha) for ref, sha in raw.items() if not ref.endswith(_PEELED)}


def tag_names(refs: Mapping[str, str]) -> list[str]:
    return [ref.removeprefix(_TAGS) for ref in refs if ref.startswith(_TAGS)]


def resolve(revision: str, refs: Mapping[str, str]) -> str | None:
    """The commit `revision` names, or None (see `explain_miss` for why)."""
    rev = revision.strip()
    if rev in ("", HEAD):
        return refs.get(HEAD)
    if SHA_RE.match(rev.lower()):
        return rev.lower()
    for ref in (f"refs/heads/{rev}", f"{_TAGS}{rev}", rev):
        if ref in refs:
            return refs[ref]
    if not semvers.is_constraint(rev):
        return None
    tag = semvers.highest(semvers.parse_constraint(rev), tag_names(refs))
    return None if tag is None else refs[f"{_TAGS}{tag}"]


def explain_miss(revision: str, refs: Mapping[str, str]) -> str:
    rev = revision.strip()
    if rev in ("", HEAD):
        return "the remote advertises no HEAD (empty repository, or HEAD names a missing branch)"
    if semvers.is_constraint(rev):
        versions = [t for t in tag_names(refs) if semvers.parse_version(t) is not None]
        return f"no tag matches semver constraint {rev!r} ({len(versions)} version tags seen)"
    return f"no branch, tag or ref named {rev!r}, and it is not a semver constraint"
