"""Consistent hashing with bounded loads: complete, bounded, deterministic, and stable."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.controller import sharding

APP_KEYS = [f"team-{i % 7}/app-{i}" for i in range(1000)]
key_sets = st.sets(st.text(min_size=1, max_size=20), max_size=200)
member_sets = st.sets(
    st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True), min_size=1, max_size=8
)


def moved(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {key for key in before if before[key] != after[key]}


@settings(max_examples=200, deadline=None)
@given(keys=key_sets, members=member_sets, load_factor=st.floats(1.0, 2.0))
def test_every_key_goes_to_a_member_and_no_member_exceeds_the_bound(
    keys: set[str], members: set[str], load_factor: float
) -> None:
    owners = sharding.assign(keys, members, load_factor=load_factor, vnodes=16)

    assert set(owners) == keys
    assert set(owners.values()) <= members
    bound = math.ceil(load_factor * len(keys) / len(members))
    assert max(Counter(owners.values()).values(), default=0) <= bound


@settings(max_examples=100, deadline=None)
@given(keys=key_sets, members=member_sets, seed=st.integers())
def test_the_result_depends_on_the_sets_not_their_order(
    keys: set[str], members: set[str], seed: int
) -> None:
    shuffled_keys, shuffled_members = sorted(keys), sorted(members)
    random.Random(seed).shuffle(shuffled_keys)
    random.Random(seed).shuffle(shuffled_members)

    assert sharding.assign(shuffled_keys, shuffled_members + shuffled_members[:1]) == (
        sharding.assign(sorted(keys), sorted(members))
    )


def test_adding_a_fifth_member_moves_about_a_fifth_of_the_keys_mostly_to_it() -> None:
    four = [f"tether-controller-{i}" for i in range(4)]
    before = sharding.assign(APP_KEYS, four)
    after = sharding.assign(APP_KEYS, [*four, "tether-controller-4"])

    shifted = moved(before, after)
    assert 0.15 < len(shifted) / len(APP_KEYS) < 0.27  # ideal 0.20; plain modulo moves ~0.80
    to_newcomer = {k for k in shifted if after[k] == "tether-controller-4"}
    assert len(to_newcomer) >= 0.8 * len(shifted)  # the rest overflowed onward along the ring


def test_removing_a_member_moves_its_keys_and_few_others() -> None:
    five = [f"tether-controller-{i}" for i in range(5)]
    before = sharding.assign(APP_KEYS, five)
    after = sharding.assign(APP_KEYS, five[1:])

    orphaned = {k for k, member in before.items() if member == five[0]}
    shifted = moved(before, after)
    assert orphaned <= shifted
    assert len(shifted - orphaned) < 0.05 * len(APP_KEYS)


def test_loads_stay_within_the_factor_of_the_mean_for_many_keys() -> None:
    members = [f"r{i}" for i in range(8)]
    loads = Counter(sharding.assign(APP_KEYS, members, load_factor=1.25).values())

    assert set(loads) == set(members)
    assert max(loads.values()) <= math.ceil(1.25 * len(APP_KEYS) / len(members))


def test_sixteen_buckets_over_three_replicas_are_all_placed_within_the_bound() -> None:
    buckets = [str(b) for b in range(16)]
    loads = Counter(sharding.assign(buckets, ["a", "b", "c"]).values())

    assert sum(loads.values()) == 16
    assert max(loads.values()) <= math.ceil(1.25 * 16 / 3)


def test_no_members_means_no_owners_and_a_factor_below_one_is_refused() -> None:
    assert sharding.assign(APP_KEYS, []) == {}
    with pytest.raises(ValueError, match="load_factor"):
        sharding.assign(APP_KEYS, ["a"], load_factor=0.9)


def test_bucket_of_a_key_is_the_same_in_every_process() -> None:
    # Pinned values: Python's hash() is salted per process, which would split replicas' views.
    assert sharding.stable_hash("default/web") == 0x8A761021F891EEDC
    assert [sharding.bucket_of(f"default/app-{i}", 16) for i in range(5)] == [11, 8, 2, 7, 6]


@pytest.mark.parametrize("identity", ["Upper", "-lead", "trail-", "under_score", ""])
@pytest.mark.parametrize("replicas", [1, 2])
def test_replica_ids_must_be_lowercase_dns_names_as_they_name_leases(
    identity: str, replicas: int
) -> None:
    # Even a single replica names its member Lease after itself (the CLI reads it).
    with pytest.raises(ValueError, match="DNS"):
        sharding.ShardingOptions(namespace="tether", identity=identity, replicas=replicas)
