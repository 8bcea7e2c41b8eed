"""How long the whole hand-written suite takes: in-process vs. `conformance serve` over loopback.

    python bench/suite_timing.py [--runs 5] [--profile binance-usdm --profile ztdx]

For each profile, the suite runs ``--runs`` times through ``engine.run`` against a fresh reference venue:
in-process (``httpx.ASGITransport``), then over a real socket to a ``conformance serve`` subprocess (one
fresh server per run; starting it is not timed). It also times the command a user types,
``conformance run --target URL`` (process start included). It prints the median of each and the ratio
loopback / in-process, which says more than the seconds on a shared, noisy machine. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from conformance import engine
from conformance.builtin import default_markets_file
from conformance.credentials import Credentials
from conformance.model import Case, Outcome
from conformance.venue import DEMO_ACCOUNTS, create_app

ACCOUNTS = {
    "primary": Credentials(DEMO_ACCOUNTS[0].api_key, DEMO_ACCOUNTS[0].api_secret),
    "secondary": Credentials(DEMO_ACCOUNTS[1].api_key, DEMO_ACCOUNTS[1].api_secret),
}
CONFORMANCE = Path(sys.executable).with_name("conformance")


def config(profile: str, target: str, transport: httpx.AsyncBaseTransport | None) -> engine.RunConfig:
    return engine.RunConfig(
        target=target,
        accounts=ACCOUNTS,
        profile=profile,
        markets_file=default_markets_file(),
        allow_trading=True,
        transport=transport,
    )


def timed_run(run_config: engine.RunConfig, suite: list[Case]) -> tuple[float, int]:
    """Seconds for one whole run, and how many instances it ran; a run that is not all-pass is an error."""
    started = time.perf_counter()
    result = asyncio.run(engine.run(run_config, suite=suite))
    elapsed = time.perf_counter() - started
    bad = [c.id for c in result.cases if c.outcome is not Outcome.PASS]
    if bad:
        raise SystemExit(f"the correct venue did not pass: {bad[:5]}")
    return elapsed, len(result.cases)


@contextmanager
def served(profile: str) -> Iterator[str]:
    """``conformance serve`` on a free loopback port, stopped on leaving the block."""
    process = subprocess.Popen(
        [str(CONFORMANCE), "serve", "--profile", profile, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            raise SystemExit(f"conformance serve did not start: {url!r}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()


def in_process(profile: str, suite: list[Case]) -> tuple[float, int]:
    app = create_app(profile)
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        return timed_run(config(profile, "http://venue.test", transport), suite)
    finally:
        app.state.venue.store.close()


def over_loopback(profile: str, suite: list[Case]) -> tuple[float, int]:
    with served(profile) as url:
        return timed_run(config(profile, url, None), suite)


def cli_over_loopback(profile: str, suite: list[Case]) -> tuple[float, int]:
    first, second = DEMO_ACCOUNTS
    env = {
        **os.environ,
        "CONFORMANCE_API_KEY": first.api_key,
        "CONFORMANCE_API_SECRET": first.api_secret,
        "CONFORMANCE_API_KEY_2": second.api_key,
        "CONFORMANCE_API_SECRET_2": second.api_secret,
    }
    with served(profile) as url, tempfile.TemporaryDirectory() as reports:
        command = [
            *(str(CONFORMANCE), "run", "--target", url, "--profile", profile, "--allow-trading"),
            *("--markets", str(default_markets_file()), "--report-dir", reports),
        ]
        started = time.perf_counter()
        completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"conformance run exited {completed.returncode}:\n{completed.stdout[-2000:]}")
    return elapsed, 0


def median_of(runs: int, measure: Callable[[], tuple[float, int]]) -> tuple[float, list[float], int]:
    samples = [measure() for _ in range(runs)]
    seconds = [s for s, _ in samples]
    return statistics.median(seconds), seconds, samples[0][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="append", choices=["binance-usdm", "ztdx"])
    options = parser.parse_args()
    suite = engine.load_suite(engine.RunConfig(target="", accounts=ACCOUNTS))
    print(f"{len(suite)} cases; median of {options.runs} runs each\n")
    print("| profile | instances | in-process | loopback (engine) | ratio | `conformance run --target` |")
    print("|---|---|---|---|---|---|")
    samples: list[str] = []
    for profile in options.profile or ["binance-usdm", "ztdx"]:
        local, local_all, count = median_of(options.runs, functools.partial(in_process, profile, suite))
        remote, remote_all, _ = median_of(options.runs, functools.partial(over_loopback, profile, suite))
        cli, cli_all, _ = median_of(options.runs, functools.partial(cli_over_loopback, profile, suite))
        print(
            f"| {profile} | {count} | {local:.2f} s | {remote:.2f} s | {remote / local:.1f}x | {cli:.2f} s |",
            flush=True,
        )
        for name, seconds in (("in-process", local_all), ("loopback", remote_all), ("cli", cli_all)):
            samples.append(f"{profile} {name}: {', '.join(f'{s:.2f}' for s in seconds)}")
    print("\nsamples (s):\n" + "\n".join(samples))


if __name__ == "__main__":
    main()
