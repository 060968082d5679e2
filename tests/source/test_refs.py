"""Revision resolution against an advertised ref map (no repository needed)."""

from __future__ import annotations

import pytest

from tether.source import refs

A, B, C, D, T = ("a" * 40, "b" * 40, "c" * 40, "d" * 40, "e" * 40)
LS_REMOTE = f"""{A}\tHEAD
{A}\trefs/heads/main
{B}\trefs/heads/v1.0.0
{C}\trefs/heads/release
{D}\trefs/pull/7/head
{C}\trefs/tags/v1.0.0
{T}\trefs/tags/v1.1.0
{D}\trefs/tags/v1.1.0^{{}}
{A}\trefs/tags/v2.0.0-rc.1
"""


def test_ls_remote_peels_annotated_tags() -> None:
    advertised = refs.parse_ls_remote(LS_REMOTE)
    assert advertised["refs/tags/v1.1.0"] == D
    assert not any(r.endswith("^{}") for r in advertised)
    assert len(advertised) == 8


@pytest.mark.parametrize(
    ("revision", "expected"),
    [
        ("HEAD", A),
        ("", A),
        ("main", A),
        ("release", C),
        ("v1.0.0", B),  # a branch shadows a tag of the same name, as in Argo CD
        ("refs/tags/v1.0.0", C),
        ("refs/pull/7/head", D),
        ("v1.1.0", D),
        ("1.1.0", D),  # no tag `1.1.0`: read as the exact semver version, which matches v1.1.0
        ("1.x", D),
        (">=2.0.0-0", A),
        ("F" * 40, "f" * 40),
        ("nope", None),
        ("3.x", None),
    ],
)
def test_resolve(revision: str, expected: str | None) -> None:
    assert refs.resolve(revision, refs.parse_ls_remote(LS_REMOTE)) == expected


def test_misses_are_explained() -> None:
    advertised = refs.parse_ls_remote(LS_REMOTE)
    assert "not a semver constraint" in refs.explain_miss("nope", advertised)
    assert "no tag matches semver constraint '3.x' (3 version tags" in refs.explain_miss(
        "3.x", advertised
    )
    assert "no HEAD" in refs.explain_miss("HEAD", {})
