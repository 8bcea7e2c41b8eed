"""What a generator knows of the run, and what it hands the engine: instances and the work behind them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.cases import contract_clauses
from conformance.generated.driver import Driver, Exploration
from conformance.model import Case, CaseInstance, Level, MarketFacts, Profile, SourceLocation, Touch

ORIGIN_TAG = "generated"


@dataclass(frozen=True)
class Context:
    """The run as generators see it."""

    profile: Profile
    markets: Mapping[str, MarketFacts]  # the run's symbols, in order
    accounts: tuple[str, ...]  # "primary", and "secondary" when a second account is configured
    allow_trading: bool
    max_examples: int
    seed: int  # the run's seed; each instance derives its own from it and its id

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.markets)

    def level(self, clause: str) -> Level | None:
        """The clause's level for the profile (its ``clause_levels`` first); None where it does not apply."""
        override = self.profile.clause_levels.get(clause)
        if override is not None:
            return override
        known = contract_clauses().get(clause)
        return known.level_for(self.profile.dialect) if known is not None else None

    def instance_seed(self, instance_id: str) -> int:
        """A seed for one instance: the same for the same run seed and id, whatever else is selected."""
        digest = hashlib.sha256(f"{self.seed}:{instance_id}".encode()).digest()
        return int.from_bytes(digest[:4], "big")

    def touches(self, *, accounts: tuple[str, ...] | None = None) -> frozenset[Touch]:
        return frozenset(Touch(a, s) for a in (accounts or ("primary",)) for s in self.symbols)


Work = Callable[[Driver], Exploration]


@dataclass(frozen=True)
class Generator:
    """One generated instance and the work that judges it (run in a worker thread)."""

    instance: CaseInstance
    work: Work
    hypothesis: bool = True  # it runs a hypothesis property (one at a time per run)


def generated_case(
    *,
    id: str,
    description: str,
    clause: str,
    tags: tuple[str, ...],
    source: str,
    line: int = 1,
    requires: tuple[Any, ...] = (),
) -> Case:
    """A case of origin ``generated``: no steps of its own, its generator runs it."""
    return Case(
        id=id,
        description=description,
        clause=clause,
        location=SourceLocation(source, line, 1),
        tags=(ORIGIN_TAG, *tags),
        requires=requires,
        origin="generated",
    )


def module_source(name: str) -> str:
    """Where a generator lives, as a case's source: ``conformance/generated/boundaries.py``."""
    return (Path("conformance") / "generated" / f"{name}.py").as_posix()
