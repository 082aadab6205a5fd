"""Picking one of several servers: least busy first, a failed one skipped for a while, never none."""
from __future__ import annotations

from devserver.backends.pool import InstancePool


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_jobs_spread_over_idle_servers_and_wait_for_the_least_busy():
    clock = Clock()
    pool = InstancePool(["a", "b"], clock=clock)
    first = pool.take()
    clock.now += 1
    second = pool.take()
    assert {first, second} == {"a", "b"}  # two jobs arriving together never share a server
    pool.release("b")
    assert pool.take() == "b"  # the one with fewer running jobs


def test_a_failed_server_is_skipped_until_its_time_is_up_or_it_answers_again():
    clock = Clock()
    pool = InstancePool(["a", "b"], skip_seconds=30, clock=clock)
    pool.failed("a")
    for _ in range(3):
        taken = pool.take()
        assert taken == "b"
        pool.release(taken)
    assert pool.describe("a") == {"busy": 0, "skipped": True, "skipped_for": 30.0}
    pool.succeeded("a")
    assert not pool.describe("a")["skipped"]
    pool.failed("a")
    clock.now += 31
    assert not pool.describe("a")["skipped"]


def test_when_every_server_failed_the_one_that_failed_longest_ago_is_tried():
    clock = Clock()
    pool = InstancePool(["a", "b"], clock=clock)
    pool.failed("b")
    clock.now += 5
    pool.failed("a")
    assert pool.take() == "b"
    assert pool.take(exclude=["b"]) == "a" and pool.take(exclude=["a", "b"]) is None
