"""Failed-login throttling: lockout per user name and per address, doubling, and — the point of
persisting it — still in force after the server restarts on the same state db."""

from __future__ import annotations

import pytest

from tests.auth.conftest import Account, AuthenticatorFactory, FakeClock, client_for, login
from tether.auth.lockout import Counter, next_counter
from tether.auth.settings import LockoutPolicy

pytestmark = pytest.mark.cluster
POLICY = LockoutPolicy()


async def _fail(http, name: str, times: int) -> list[int]:
    return [(await login(http, name, "wrong password")).status_code for _ in range(times)]


async def test_five_failures_lock_the_account_and_a_restart_keeps_it_locked(
    make_authenticator: AuthenticatorFactory, alice: Account, clock: FakeClock
) -> None:
    first = make_authenticator()
    async with client_for(first) as http:
        assert await _fail(http, alice.name, 5) == [401] * 5
        locked = await login(http, alice.name, alice.password)
    assert locked.status_code == 429
    assert locked.headers["content-type"] == "application/problem+json"
    assert int(locked.headers["retry-after"]) == 300
    first.close()  # the server goes away...

    clock.advance(60)
    restarted = make_authenticator()  # ...and comes back on the same state db
    async with client_for(restarted) as http:
        still = await login(http, alice.name, alice.password)
        assert still.status_code == 429
        assert int(still.headers["retry-after"]) == 240
        clock.advance(241)
        assert (await login(http, alice.name, alice.password)).status_code == 200


async def test_the_second_lockout_lasts_twice_as_long(
    make_authenticator: AuthenticatorFactory, alice: Account, clock: FakeClock
) -> None:
    async with client_for(make_authenticator()) as http:
        await _fail(http, alice.name, 5)
        clock.advance(301)
        await _fail(http, alice.name, 5)
        reply = await login(http, alice.name, alice.password)
    assert reply.status_code == 429
    assert int(reply.headers["retry-after"]) == 600


async def test_unknown_users_are_locked_exactly_like_real_ones(
    make_authenticator: AuthenticatorFactory, alice: Account
) -> None:
    async with client_for(make_authenticator()) as http:
        real = await _fail(http, alice.name, 6)
        ghost = await _fail(http, "no-such-user", 6)
    assert real == ghost == [401] * 5 + [429]


async def test_one_address_guessing_many_users_is_locked_out(
    make_authenticator: AuthenticatorFactory, alice: Account
) -> None:
    authn = make_authenticator()
    async with client_for(authn, ("198.51.100.9", 4000)) as attacker:
        for i in range(POLICY.ip_max_failures):
            assert (await login(attacker, f"user-{i}", "guess")).status_code == 401
        assert (await login(attacker, alice.name, alice.password)).status_code == 429
    async with client_for(authn, ("198.51.100.10", 4000)) as someone_else:
        assert (await login(someone_else, alice.name, alice.password)).status_code == 200


async def test_a_success_clears_the_user_counter_but_not_the_address_counter(
    make_authenticator: AuthenticatorFactory, alice: Account
) -> None:
    authn = make_authenticator()
    async with client_for(authn) as http:
        await _fail(http, alice.name, 4)
        assert (await login(http, alice.name, alice.password)).status_code == 200
        assert await _fail(http, alice.name, 4) == [401] * 4  # counter started again
    assert authn.throttle.retry_after("anyone", "203.0.113.7") == 0  # 8 < the address limit
    with authn.db.read() as conn:
        failures = conn.exec_driver_sql(
            "SELECT failures FROM login_failures WHERE key = 'ip:203.0.113.7'"
        ).scalar()
    assert failures == 8  # the success in between did not reset the address


@pytest.mark.parametrize(
    ("old", "now", "expected"),
    [
        pytest.param(None, 100.0, Counter(1, 100.0, 100.0, 0.0, 0), id="first-failure"),
        pytest.param(
            Counter(4, 100.0, 150.0, 0.0, 0), 200.0, Counter(0, 100.0, 200.0, 500.0, 1), id="locks"
        ),
        pytest.param(
            Counter(4, 100.0, 150.0, 0.0, 0), 401.0, Counter(1, 401.0, 401.0, 0.0, 0), id="window"
        ),
        pytest.param(
            Counter(4, 1000.0, 1000.0, 900.0, 3),
            1001.0,
            Counter(0, 1000.0, 1001.0, 3401.0, 4),
            id="doubles-3x",
        ),
        pytest.param(
            Counter(4, 0.0, 10.0, 5.0, 12), 60.0, Counter(0, 0.0, 60.0, 86460.0, 13), id="capped"
        ),
        pytest.param(
            Counter(0, 0.0, 0.0, 300.0, 5),
            90000.0,
            Counter(1, 90000.0, 90000.0, 300.0, 0),
            id="forgotten",
        ),
    ],
)
def test_counter_arithmetic(old: Counter | None, now: float, expected: Counter) -> None:
    assert next_counter(old, now, 5, POLICY) == expected
