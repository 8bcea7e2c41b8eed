"""Concurrency against a latency-bound venue: the suite at several --workers, as ratios to 1 worker.

A remote venue is tens of milliseconds away, so a run's duration is mostly waiting. The scheduler runs
cases that share no (account, symbol) concurrently; this measures what that buys. The reference venue is
served on loopback with a simulated latency per request (``conformance serve --latency-ms``), and the
baseline (1 worker) is measured in the same process, interleaved with the others, because these machines
are shared and noisy. Nothing here asserts; it prints a table.

    .venv/bin/python bench/workers.py [--latency-ms 20] [--repeat 3] [--profile binance-usdm] [-k EXPR]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from conformance import engine
from conformance.builtin import default_markets_file
from conformance.credentials import Credentials
from conformance.model import Verdict
from conformance.venue import DEMO_ACCOUNTS
from conformance.venue.server import running_venue

ACCOUNTS = {
    "primary": Credentials(DEMO_ACCOUNTS[0].api_key, DEMO_ACCOUNTS[0].api_secret),
    "secondary": Credentials(DEMO_ACCOUNTS[1].api_key, DEMO_ACCOUNTS[1].api_secret),
}


def one_run(url: str, profile: str, workers: int, select: str | None) -> tuple[float, int]:
    config = engine.RunConfig(
        target=url,
        accounts=ACCOUNTS,
        profile=profile,
        markets_file=default_markets_file(),
        allow_trading=True,
        workers=workers,
        select=select,
    )
    started = time.perf_counter()
    result = asyncio.run(engine.run(config))
    elapsed = time.perf_counter() - started
    if result.verdict is not Verdict.CONFORMANT:
        raise SystemExit(f"the reference venue should be conformant, got {result.verdict}")
    return elapsed, len(result.cases)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", default="binance-usdm")
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("-k", dest="select", default=None)
    options = parser.parse_args()
    counts = [int(w) for w in options.workers.split(",")]
    timings: dict[int, list[float]] = {w: [] for w in counts}
    cases = 0
    with running_venue(options.profile, latency_ms=options.latency_ms) as url:
        for _ in range(options.repeat):
            for workers in counts:  # interleaved, so drift in machine load hits every setting alike
                elapsed, cases = one_run(url, options.profile, workers, options.select)
                timings[workers].append(elapsed)
    base = statistics.median(timings[counts[0]])
    print(
        f"{cases} case instances, profile {options.profile}, {options.latency_ms} ms simulated latency, "
        f"median of {options.repeat}"
    )
    print(f"| workers | median s | speedup vs {counts[0]} |")
    print("|---:|---:|---:|")
    for workers in counts:
        median = statistics.median(timings[workers])
        print(f"| {workers} | {median:.2f} | {base / median:.2f}x |")


if __name__ == "__main__":
    main()
