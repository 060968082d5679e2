"""Semver constraints over tags: the Masterminds rules Argo CD and Flux use, case by case and as
properties over generated versions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.source import semvers

TAGS = [
    "v0.0.3",
    "v0.0.4",
    "v0.2.3",
    "v0.2.9",
    "v0.3.0",
    "v1.0.0",
    "v1.2.0",
    "1.2.5",
    "v1.2.7-rc.1",
    "v1.3.0",
    "v2.0.0",
    "v2.1.0-beta.2",
    "latest",
    "v3",
    "release-4.0.0",
]

CASES = [
    ("1.2.x", "1.2.5"),
    ("1.2.*", "1.2.5"),
    ("1.2", "1.2.5"),
    ("v1.x", "v1.3.0"),
    (">=1.0.0 <2.0.0", "v1.3.0"),
    (">=1.0.0, <1.2.5", "v1.2.0"),
    (">= 1.0.0 , <= 1.2.5", "1.2.5"),
    ("^1.2.0", "v1.3.0"),
    ("^0.2.3", "v0.2.9"),
    ("^0.0.3", "v0.0.3"),
    ("^0.0", "v0.0.4"),
    ("~1.2.0", "1.2.5"),
    ("~1", "v1.3.0"),
    ("~>1.2", "1.2.5"),
    ("*", "v2.0.0"),
    ("1.0.0 - 1.2.5", "1.2.5"),
    ("1.0 - 1.2", "1.2.5"),
    (">1.2", "v2.0.0"),
    (">1.2 <2", "v1.3.0"),
    ("<=1.2", "1.2.5"),
    ("<1.2.5", "v1.2.0"),
    ("=1.0.0", "v1.0.0"),
    ("1.0.0", "v1.0.0"),
    ("!=2.0.0", "v1.3.0"),
    ("0.2.x || 0.0.x", "v0.2.9"),
    (">=1.2.7-0 <1.3.0", "v1.2.7-rc.1"),
    (">=2.0.0-0", "v2.1.0-beta.2"),
    ("^1.2.7-rc.0", "v1.3.0"),
    ("4.x", None),
    ("<0.0.1", None),
]


@pytest.mark.parametrize(("constraint", "expected"), CASES, ids=[c for c, _ in CASES])
def test_highest_matching_tag(constraint: str, expected: str | None) -> None:
    assert semvers.highest(semvers.parse_constraint(constraint), TAGS) == expected


@pytest.mark.parametrize(
    "text", ["", "main", "feature/x", ">=", "1.x.3", "!=1.x", "1.2.3.4", ">*", "1.2-rc.1", "a||b"]
)
def test_not_a_constraint(text: str) -> None:
    assert not semvers.is_constraint(text)
    with pytest.raises(ValueError, match=r"."):
        semvers.parse_constraint(text)


def test_tags_must_be_full_versions() -> None:
    assert semvers.parse_version("v1.2") is None
    assert semvers.parse_version("01.2.3") is None
    assert semvers.parse_version("V1.2.3+build.7") == semvers.Version(1, 2, 3, (), "build.7")


def test_ties_between_spellings_go_to_the_first_name() -> None:
    assert semvers.highest(semvers.parse_constraint("*"), ["v1.0.0", "1.0.0"]) == "1.0.0"


def test_precedence_follows_the_spec() -> None:
    order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2"]
    order += ["1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"]
    versions = [semvers.parse_version(v) for v in order]
    keys = [v.key() for v in versions if v is not None]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(order)


# ---- properties -----------------------------------------------------------------------------

small = st.integers(min_value=0, max_value=12)
identifiers = st.lists(
    st.one_of(st.integers(0, 20).map(str), st.sampled_from(["alpha", "beta", "rc", "x-1"])),
    min_size=1,
    max_size=3,
)
releases = st.builds(semvers.Version, small, small, small)
versions = st.builds(
    semvers.Version, small, small, small, st.one_of(st.just(()), identifiers.map(tuple))
)


def _admits(constraint: str, version: semvers.Version) -> bool:
    return semvers.parse_constraint(constraint).admits(version)


@given(versions)
def test_version_text_round_trips(v: semvers.Version) -> None:
    assert semvers.parse_version(str(v)) == v
    assert semvers.parse_version(f"v{v}") == v


@given(versions)
def test_prereleases_only_when_the_constraint_names_one(v: semvers.Version) -> None:
    assert _admits("*", v) == (not v.prerelease)
    assert _admits(">=0.0.0", v) == (not v.prerelease)
    assert _admits(">=0.0.0-0", v)


@given(releases, releases)
def test_caret_is_the_documented_range(base: semvers.Version, v: semvers.Version) -> None:
    if base.major:
        upper = semvers.Version(base.major + 1, 0, 0)
    elif base.minor:
        upper = semvers.Version(0, base.minor + 1, 0)
    else:
        upper = semvers.Version(0, 0, base.patch + 1)
    expected = base.key() <= v.key() < upper.key()
    assert _admits(f"^{base}", v) == expected


@given(releases, releases)
def test_tilde_allows_patch_updates(base: semvers.Version, v: semvers.Version) -> None:
    expected = base.key() <= v.key() and (v.major, v.minor) == (base.major, base.minor)
    assert _admits(f"~{base}", v) == expected


@given(small, small, releases)
def test_wildcards_fix_the_leading_parts(major: int, minor: int, v: semvers.Version) -> None:
    assert _admits(f"{major}.{minor}.x", v) == ((v.major, v.minor) == (major, minor))
    assert _admits(f"{major}.{minor}.*", v) == ((v.major, v.minor) == (major, minor))
    assert _admits(f"{major}.x", v) == (v.major == major)


@given(releases, releases, releases)
def test_and_or_compose(lo: semvers.Version, hi: semvers.Version, v: semvers.Version) -> None:
    both = _admits(f">={lo}", v) and _admits(f"<{hi}", v)
    assert _admits(f">={lo} <{hi}", v) == both
    assert _admits(f">={lo}, <{hi}", v) == both
    assert _admits(f"<{lo} || >={hi}", v) == (_admits(f"<{lo}", v) or _admits(f">={hi}", v))


@given(st.lists(versions, max_size=12), st.sampled_from(["*", "^1.0.0", "~0.3.1", ">=2.1.0-0"]))
def test_highest_is_the_maximum_admitted(vs: list[semvers.Version], constraint: str) -> None:
    parsed = semvers.parse_constraint(constraint)
    tags = [f"v{v}" for v in vs]
    admitted = [v for v in vs if parsed.admits(v)]
    chosen = semvers.highest(parsed, tags)
    if not admitted:
        assert chosen is None
    else:
        assert chosen is not None
        picked = semvers.parse_version(chosen)
        assert picked is not None
        assert picked.key() == max(v.key() for v in admitted)
