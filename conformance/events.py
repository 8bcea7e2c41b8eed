"""What the engine tells its listeners while it runs. Reporters consume these; the engine imports none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conformance.model import CaseInstance, CaseResult, MarketFacts, RunResult


@dataclass(frozen=True)
class RunStarted:
    target: str
    profile: str
    clock_offset_ms: float
    round_trip_ms: float
    facts: tuple[MarketFacts, ...]
    planned: int  # case instances that will be reported


@dataclass(frozen=True)
class CaseStarted:
    instance: CaseInstance


@dataclass(frozen=True)
class CaseFinished:
    result: CaseResult


@dataclass(frozen=True)
class Notice:
    """A run-level remark worth showing at once: restoration, interruption, an unreachable target."""

    text: str


@dataclass(frozen=True)
class RunFinished:
    result: RunResult


Event = RunStarted | CaseStarted | CaseFinished | Notice | RunFinished
Listener = Callable[[Event], None]


def ignore(event: Event) -> None:
    """A listener that listens to nothing."""
