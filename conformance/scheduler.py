"""Concurrency: which case instances may run at the same time.

A run is latency-bound against a remote venue, so instances that share no piece of venue state run
concurrently, bounded by a number of workers. Instances that share one run in plan order: a writer waits
for the previous writer and for every reader since; a reader waits only for the previous writer. The
dependencies form a DAG fixed before anything starts, so the order is deterministic and nothing waits for
an instance it shares nothing with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Job(Generic[T]):
    """One unit of work with the state it touches."""

    item: T
    keys: frozenset[Hashable]
    writes: bool


def dependencies(jobs: Sequence[Job[T]]) -> list[frozenset[int]]:
    """For each job, the indexes of the earlier jobs it must wait for."""
    last_writer: dict[Hashable, int] = {}
    readers_since: dict[Hashable, list[int]] = {}
    result: list[frozenset[int]] = []
    for index, job in enumerate(jobs):
        deps: set[int] = set()
        for key in job.keys:
            if key in last_writer:
                deps.add(last_writer[key])
            if job.writes:
                deps.update(readers_since.get(key, ()))
        for key in job.keys:
            if job.writes:
                last_writer[key] = index
                readers_since[key] = []
            else:
                readers_since.setdefault(key, []).append(index)
        result.append(frozenset(deps))
    return result


async def run_all(
    jobs: Sequence[Job[T]],
    run_one: Callable[[T], Awaitable[R]],
    *,
    workers: int,
) -> list[R]:
    """Run every job, at most ``workers`` at once, respecting :func:`dependencies`.

    Results come back in job order. If the caller is cancelled, every job still waiting or running is
    cancelled too, and the cancellation propagates.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    deps = dependencies(jobs)
    done = [asyncio.Event() for _ in jobs]
    slots = asyncio.Semaphore(workers)

    async def start(index: int) -> R:
        try:
            for dep in deps[index]:
                await done[dep].wait()
            async with slots:
                return await run_one(jobs[index].item)
        finally:
            done[index].set()

    tasks = [asyncio.create_task(start(i), name=f"job-{i}") for i in range(len(jobs))]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
