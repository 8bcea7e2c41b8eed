import asyncio

import pytest

from conformance.scheduler import Job, dependencies, run_all


def _job(name: str, *keys: str, writes: bool = True) -> Job[str]:
    return Job(item=name, keys=frozenset(keys), writes=writes)


def test_writers_on_the_same_key_depend_on_the_previous_writer() -> None:
    jobs = [_job("a", "x"), _job("b", "y"), _job("c", "x")]
    assert dependencies(jobs) == [frozenset(), frozenset(), frozenset({0})]


def test_readers_wait_for_the_writer_and_the_next_writer_waits_for_all_readers() -> None:
    jobs = [
        _job("w1", "x"),
        _job("r1", "x", writes=False),
        _job("r2", "x", writes=False),
        _job("w2", "x"),
    ]
    assert dependencies(jobs) == [frozenset(), frozenset({0}), frozenset({0}), frozenset({0, 1, 2})]


def test_a_job_with_several_keys_waits_for_each() -> None:
    jobs = [_job("a", "x"), _job("b", "y"), _job("c", "x", "y")]
    assert dependencies(jobs)[2] == frozenset({0, 1})


async def _trace(jobs: list[Job[str]], workers: int) -> tuple[list[str], list[tuple[str, str]]]:
    events: list[tuple[str, str]] = []

    async def run_one(name: str) -> str:
        events.append(("start", name))
        await asyncio.sleep(0.01)
        events.append(("end", name))
        return name.upper()

    results = await run_all(jobs, run_one, workers=workers)
    return results, events


def test_independent_jobs_overlap_and_results_keep_plan_order() -> None:
    jobs = [_job("a", "x"), _job("b", "y"), _job("c", "z")]
    results, events = asyncio.run(_trace(jobs, workers=3))
    assert results == ["A", "B", "C"]
    # All three start before any ends: nothing waited.
    assert [kind for kind, _ in events[:3]] == ["start", "start", "start"]


def test_jobs_sharing_a_key_run_in_plan_order_without_overlap() -> None:
    jobs = [_job("a", "x"), _job("b", "x"), _job("c", "x")]
    _, events = asyncio.run(_trace(jobs, workers=3))
    assert events == [
        ("start", "a"),
        ("end", "a"),
        ("start", "b"),
        ("end", "b"),
        ("start", "c"),
        ("end", "c"),
    ]


def test_the_worker_bound_is_respected() -> None:
    running = 0
    peak = 0

    async def run_one(_: str) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.005)
        running -= 1

    jobs = [_job(str(i), str(i)) for i in range(10)]
    asyncio.run(run_all(jobs, run_one, workers=2))
    assert peak == 2


def test_cancelling_the_run_cancels_every_job() -> None:
    started: list[str] = []
    cancelled: list[str] = []

    async def run_one(name: str) -> None:
        started.append(name)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    async def main() -> None:
        task = asyncio.create_task(run_all([_job("a", "x"), _job("b", "y")], run_one, workers=2))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert sorted(started) == ["a", "b"]
    assert sorted(cancelled) == ["a", "b"]


def test_zero_workers_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        asyncio.run(run_all([], lambda _: asyncio.sleep(0), workers=0))
