"""The per-user rate limit (bot/telegram/ratelimit.py) with a clock the test moves: the
limit itself, 0 as "off", and pruning idle users so memory stays bounded."""

from __future__ import annotations

from bot.telegram.ratelimit import RateLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_zero_turns_the_limit_off():
    limiter = RateLimiter(0, window=60, clock=Clock())
    assert [limiter.check(7) for _ in range(50)] == [0] * 50


def test_a_limit_of_one_allows_one_question_a_window():
    clock = Clock()
    limiter = RateLimiter(1, clock=clock)  # the default window: a minute (ARTICLEBOT_QUESTIONS_PER_MINUTE)
    assert limiter.check(7) == 0
    assert limiter.check(7) == 60  # seconds to wait, rounded up
    clock.now += 30
    assert limiter.check(7) == 30
    assert limiter.check(8) == 0  # another user is not affected
    clock.now += 30
    assert limiter.check(7) == 0


def test_idle_users_are_forgotten_once_there_are_many():
    clock = Clock()
    limiter = RateLimiter(2, window=60, clock=clock)
    limiter.PRUNE_AT = 3
    for user in (1, 2, 3):
        assert limiter.check(user) == 0
    clock.now += 61  # all three idle now
    assert limiter.check(4) == 0  # a fourth user: more than PRUNE_AT, the idle ones go
    assert set(limiter._seen) == {4}
    assert limiter.check(1) == 0  # a forgotten user starts afresh
    assert limiter.check(1) == 0
    assert limiter.check(1) > 0


def test_active_users_are_kept_when_pruning():
    clock = Clock()
    limiter = RateLimiter(2, window=60, clock=clock)
    limiter.PRUNE_AT = 2
    limiter.check(1)
    clock.now += 59
    limiter.check(2)
    limiter.check(2)
    clock.now += 2  # user 1 idle (61 s), user 2 active (2 s)
    limiter.check(3)  # prunes
    assert set(limiter._seen) == {2, 3}
    assert limiter.check(2) > 0  # user 2's two questions still count
