"""Which of the reference venue's named faults the generated cases catch, and which only they catch.

For each profile and each fault that applies to it, the reference venue with that fault is run in-process
twice: with only the generated cases (``-k generated``) and with only the hand-written ones
(``-k "not generated"``). A fault is *caught* when the run is non-conformant (a MUST failed); *warned* when
only a SHOULD failed (the fault's clause is a SHOULD, such as AUTH-SIG-CASE).

    python bench/generated_faults.py                      # both profiles, --max-examples 10, --seed 1
    python bench/generated_faults.py --profile ztdx --max-examples 5 --seed 3
    python bench/generated_faults.py --fault band-top-exclusive

Prints one line per fault (the clauses each selection failed on), then per profile: how many faults the
generated cases catch, how many the hand-written cases catch, and the faults only generated cases catch.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from conformance import engine, generated
from conformance.builtin import default_markets_file
from conformance.credentials import Credentials
from conformance.model import RunResult, Verdict
from conformance.venue import DEMO_ACCOUNTS, create_app
from conformance.venue.faults import FAULTS

PROFILES = ("binance-usdm", "ztdx")
GENERATED = "generated"
HAND_WRITTEN = "not generated"


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    failed: tuple[str, ...]  # clauses of MUST failures
    warned: tuple[str, ...]  # clauses of SHOULD failures
    seconds: float

    @property
    def caught(self) -> bool:
        return self.verdict is Verdict.NONCONFORMANT

    def shown(self) -> str:
        if self.caught:
            return "CAUGHT " + ",".join(self.failed)
        if self.warned:
            return "warned " + ",".join(self.warned)
        return "missed" if self.verdict is Verdict.CONFORMANT else f"({self.verdict.value})"


async def run_once(
    profile: str, fault: str | None, select: str, *, max_examples: int, seed: int
) -> tuple[RunResult, float]:
    app = create_app(profile, fault=fault)
    primary, secondary = DEMO_ACCOUNTS[0], DEMO_ACCOUNTS[1]
    config = engine.RunConfig(
        target="http://venue.test",
        accounts={
            "primary": Credentials(primary.api_key, primary.api_secret),
            "secondary": Credentials(secondary.api_key, secondary.api_secret),
        },
        profile=profile,
        markets_file=default_markets_file(),
        allow_trading=True,
        select=select,
        sources=(generated.source(max_examples=max_examples, seed=seed),) if max_examples else (),
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
    )
    started = time.perf_counter()
    try:
        result = await engine.run(config)
    finally:
        app.state.venue.store.close()
    return result, time.perf_counter() - started


def finding(result: RunResult, seconds: float) -> Finding:
    def clauses(level: str) -> tuple[str, ...]:
        return tuple(sorted({f.clause for case in result.cases for f in case.failures if f.level == level}))

    return Finding(result.verdict, clauses("MUST"), clauses("SHOULD"), seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", choices=PROFILES, action="append", help="default: both")
    parser.add_argument("--fault", action="append", help="only these faults (default: all)")
    parser.add_argument("--max-examples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-hand-written", action="store_true", help="do not run -k 'not generated'")
    options = parser.parse_args(argv)

    for profile in options.profile or PROFILES:
        print(f"== {profile}  (-k generated --max-examples {options.max_examples} --seed {options.seed})")
        baseline, seconds = asyncio.run(
            run_once(profile, None, GENERATED, max_examples=options.max_examples, seed=options.seed)
        )
        print(f"   correct venue: {baseline.verdict.value} in {seconds:.1f} s ({len(baseline.cases)} cases)")
        faults = [
            f
            for f in FAULTS.values()
            if profile in f.profiles and (not options.fault or f.name in options.fault)
        ]
        generated_caught: list[str] = []
        hand_caught: list[str] = []
        total_seconds = 0.0
        for fault in faults:
            result, seconds = asyncio.run(
                run_once(profile, fault.name, GENERATED, max_examples=options.max_examples, seed=options.seed)
            )
            total_seconds += seconds
            generated = finding(result, seconds)
            line = f"   {fault.name:<32} {fault.clause:<21} generated: {generated.shown():<48}"
            if generated.caught:
                generated_caught.append(fault.name)
            if not options.skip_hand_written:
                result, seconds = asyncio.run(
                    run_once(profile, fault.name, HAND_WRITTEN, max_examples=0, seed=1)
                )
                hand = finding(result, seconds)
                line += f" hand-written: {hand.shown()}"
                if hand.caught:
                    hand_caught.append(fault.name)
            print(line + f"  [{generated.seconds:.1f} s]", flush=True)
        print(
            f"   generated cases catch {len(generated_caught)} of {len(faults)} faults "
            f"(mean {total_seconds / max(len(faults), 1):.1f} s per run)"
        )
        if not options.skip_hand_written:
            only = sorted(set(generated_caught) - set(hand_caught))
            print(f"   hand-written cases catch {len(hand_caught)} of {len(faults)}")
            print(f"   only generated cases catch {len(only)}: {', '.join(only) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
