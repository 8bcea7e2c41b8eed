"""Boundary values from the market facts: the leverages around every symbol's band and brackets.

For each symbol of the run, the values are derived from its facts, never written by hand:

- around the band: ``min-1``, ``min``, ``min+1``, ``max-1``, ``max``, ``max+1``, and ``0`` and ``-1`` (the
  values near the minimum only when a markets file or the venue gave it);
- around every bracket (the ``brackets`` notional rule): each bracket's ``initialLeverage`` and the value
  above it, where ``maxNotionalValue`` moves to the next bracket's ``notionalCap``;
- just off an integer inside the band: ``mid + 0.5`` (a venue that truncates would accept it);
- an in-band value spelled as no decimal integer text: ``mid + 2^64`` (a 64-bit integer that wraps around
  reads ``mid``), ``{mid}e0`` and ``mid`` in hex (a parser of numbers in general reads ``mid``).

Each value is one example (:func:`conformance.generated.leverage.run_leverage_example`), judged by the
contract (:mod:`conformance.generated.oracle`); the encodings of the profile take turns, so every value
goes out once and every encoding is used. There is nothing to shrink: a failing value is its own minimal
example, and its steps are the reproduction.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from conformance.generated.context import Context, Generator, generated_case, module_source
from conformance.generated.driver import Driver, ExampleRecord, Exploration, by_severity
from conformance.generated.examples import RequestPlan
from conformance.generated.leverage import run_leverage_example
from conformance.generated.oracle import judged_band, leverage_verdict
from conformance.model import CaseInstance, MarketFacts, Profile, Touch


def boundary_values(facts: MarketFacts, profile: Profile) -> list[tuple[str, int | Decimal | str]]:
    """(label, value) around the symbol's band and brackets, in increasing order, each value once; then
    the spellings of an in-band value that are not decimal integer text."""
    low, high = facts.min_leverage, facts.max_leverage
    known_low = judged_band(facts)[0] == low
    found: dict[int | Decimal, str] = {}

    def add(label: str, value: int | Decimal) -> None:
        found.setdefault(value, label)

    if known_low:  # a minimum nobody gave is not a boundary (see oracle.judged_band)
        add("min-1", low - 1)
        add("min", low)
        add("min+1", low + 1)
        add("max-1", high - 1)
    add("max", high)
    add("max+1", high + 1)
    add("zero", 0)
    add("negative", -1)
    if profile.notional_rule == "brackets":
        for bracket in facts.brackets:
            edge = bracket.initial_leverage
            if low <= edge <= high:
                add(f"bracket{bracket.bracket}", edge)
            if low <= edge + 1 <= high:
                add(f"bracket{bracket.bracket}+1", edge + 1)
    mid = (judged_band(facts)[0] + high) // 2
    add("mid+0.5", Decimal(mid) + Decimal("0.5"))
    values: list[tuple[str, int | Decimal | str]] = sorted(
        ((label, value) for value, label in found.items()), key=lambda item: item[1]
    )
    return [*values, ("mid+2^64", str(2**64 + mid)), ("mid-exponent", f"{mid}e0"), ("mid-hex", hex(mid))]


def _sent(value: int | Decimal | str, encoding: str) -> Any:
    """The value as the encoding carries it: text for the query and forms, a JSON number for JSON (a
    spelling stays text: a JSON string)."""
    if isinstance(value, str):
        return value
    if encoding == "json":
        return value if isinstance(value, int) else float(value)
    return str(value)


def explore(driver: Driver, context: Context, symbol: str) -> Exploration:
    profile, facts = context.profile, context.markets[symbol]
    path = profile.paths["leverage"]
    failing: list[ExampleRecord] = []
    for index, (label, value) in enumerate(boundary_values(facts, profile)):
        encoding = profile.encodings[index % len(profile.encodings)]
        sent = _sent(value, encoding)
        params = {"symbol": symbol, "leverage": sent}
        verdict = leverage_verdict(profile, context.markets, symbol=symbol, leverage=sent, encoding=encoding)
        example = driver.example(f"{label}: {verdict.summary}")
        request = RequestPlan("POST", path, params=params, encoding=encoding)
        run_leverage_example(example, request, verdict, context.markets, name=f"set the {label} leverage")
        if example.record.worst is not None:
            failing.append(example.record)
    return Exploration(driver.examples, by_severity(failing))


def generators(context: Context) -> list[Generator]:
    """One instance per symbol of the run."""
    found: list[Generator] = []
    for symbol in context.symbols:
        level = context.level("LEV-BOUNDS")
        if level is None:
            continue
        case = generated_case(
            id="generated-boundaries",
            description="answers the leverages around each symbol's band and brackets as the contract says",
            clause="LEV-BOUNDS",
            tags=("boundaries", "leverage"),
            source=module_source("boundaries"),
        )
        instance = CaseInstance(
            case=case,
            id=f"generated-boundaries[{symbol}]",
            params={"symbol": symbol, "seed": context.seed},
            level=level,
            touches=frozenset({Touch("primary", symbol)}),
            writes=True,
        )

        def work(driver: Driver, symbol: str = symbol) -> Exploration:
            return explore(driver, context, symbol)

        found.append(Generator(instance, work, hypothesis=False))
    return found
