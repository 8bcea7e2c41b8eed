"""Deliberately broken twins of the venue: each fault is one realistic defect and the clause it breaks.

A fault is a subclass of `Rules` (or of `Exchange`) that overrides one method, so the defect is exactly the
difference shown here. ``create_app(..., fault="name")`` and ``conformance serve --fault NAME`` select one;
the harness's own tests run it and expect the cases of that clause to fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.venue.rules import Rules
from conformance.venue.trading import Exchange

BOTH = frozenset({"binance-usdm", "ztdx"})


@dataclass(frozen=True)
class Fault:
    name: str
    clause: str  # the contract clause the defect breaks
    description: str
    profiles: frozenset[str] = field(default=BOTH)
    rules: type[Rules] = Rules
    exchange: type[Exchange] = Exchange


FAULTS: dict[str, Fault] = {}


def fault_named(name: str, profile: str) -> Fault:
    fault = FAULTS.get(name)
    if fault is None:
        raise ValueError(f"unknown fault {name!r} (see `conformance serve --list-faults`)")
    if profile not in fault.profiles:
        raise ValueError(f"fault {name!r} applies to {', '.join(sorted(fault.profiles))}, not {profile}")
    return fault
